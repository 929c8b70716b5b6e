"""The Pulumi program of every stack: read the settings once, build the platform."""

import pulumi
from pulumi_llm import settings
from pulumi_llm.errors import UserError
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs
from pulumi_llm.settings.component_errors import component_problem_in_program
from pydantic import ValidationError

try:
    stack_settings = settings.from_pulumi()
except UserError as err:
    # RunError is reported by the language host as its message alone: one line, no traceback.
    raise pulumi.RunError(str(err)) from None
try:
    platform = LlmPlatform("llm", LlmPlatformArgs(settings=stack_settings, stack=pulumi.get_stack()))
except (UserError, ValidationError) as err:
    # The safety net: a component's own refusal, as the one line naming the stack file and key the settings give.
    raise pulumi.RunError(component_problem_in_program(err)) from None

if platform.namespace is not None:
    pulumi.export("namespace", platform.namespace)
if platform.model_bucket is not None:
    pulumi.export("model_bucket", platform.model_bucket)
for i, (fleet, (ref, digest)) in enumerate(platform.edge_images.items()):
    # The main fleet's image (first) is edge_image_ref, the one CI signs by digest; another fleet's carries its name.
    prefix = "edge_image" if i == 0 else f"edge_image_{fleet}"
    pulumi.export(f"{prefix}_ref", ref)
    pulumi.export(f"{prefix}_digest", digest)
