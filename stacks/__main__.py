"""The Pulumi program of every stack: read the settings once, build the platform."""

import pulumi

from pulumi_llm import settings
from pulumi_llm.errors import UserError
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs

try:
    stack_settings = settings.from_pulumi()
    platform = LlmPlatform("llm", LlmPlatformArgs(settings=stack_settings, stack=pulumi.get_stack()))
except UserError as err:
    # RunError is reported by the language host as its message alone: one line, no traceback.
    raise pulumi.RunError(str(err)) from None

if platform.namespace is not None:
    pulumi.export("namespace", platform.namespace)
if platform.model_bucket is not None:
    pulumi.export("model_bucket", platform.model_bucket)
