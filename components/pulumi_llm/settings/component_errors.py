"""The safety net: a component's own refusal, should one ever surface while the program runs, as the one
line a settings problem gets — the stack file, the key the user wrote, the value, what is allowed.

`settings.load` decides every value it can before the first resource registers (checks_deploy.py), so this
only runs when a component refuses something the settings let through: a bug to fix there, but the user
still sees one line and exit 2, never a pydantic traceback. Each args field fed straight from one settings
key is mapped to that key (`ARGS_FIELD_KEYS`); a component's UserError that names its own argument path
(`pulumi-llm:models.m.allowed_cidrs`) is rewritten to the key it came from (`COMPONENT_PATH_KEYS`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..errors import FieldProblem, UserError
from .core import NAMESPACE

ARGS_FIELD_KEYS: dict[tuple[str, str], str] = {
    ("AwsNetworkArgs", "cidr"): "aws.network.cidr",
    ("AwsNetworkArgs", "az_count"): "aws.network.az_count",
    ("AwsNetworkArgs", "flow_logs_retention_days"): "aws.network.flow_logs_retention_days",
    ("AwsNetworkArgs", "region"): "region",
    ("AwsMonitoringArgs", "alert_emails"): "aws.alert_emails",
    ("AwsMonitoringArgs", "region"): "region",
    ("EksClusterArgs", "kubernetes_version"): "aws.cluster.kubernetes_version",
    ("EksClusterArgs", "endpoint_public_access"): "aws.cluster.endpoint_public",
    ("EksClusterArgs", "public_access_cidrs"): "aws.cluster.public_access_cidrs",
    ("EksClusterArgs", "admin_principal_arns"): "aws.cluster.admin_principals",
    ("EksClusterArgs", "max_gpus"): "aws.cluster.max_gpus",
    ("EksClusterArgs", "capacity_types"): "aws.cluster.capacity_types",
    ("EksClusterArgs", "region"): "region",
    ("AwsGpuVmArgs", "allowed_cidrs"): "aws.gpu_vm.allowed_cidrs",
    ("AwsGpuVmArgs", "certificate_arn"): "aws.gpu_vm.certificate_arn",
    ("AwsGpuVmArgs", "idle_timeout_seconds"): "aws.gpu_vm.idle_timeout_seconds",
    ("AwsGpuVmArgs", "schedule"): "aws.gpu_vm.schedule",
    ("AwsGatewayArgs", "bedrock_model_arns"): "gateway.bedrock_models",
    ("AwsGatewayArgs", "consumers"): "gateway.consumers",
    ("AwsGatewayArgs", "integration_timeout_ms"): "gateway.timeouts.edge_seconds",
    ("AwsGatewayArgs", "engine_timeout_seconds"): "gateway.timeouts.engine_seconds",
}
"""(args model, field) → the stack-file key (below `pulumi-llm:`) whose value the platform passes as it."""

COMPONENT_PATH_KEYS: tuple[tuple[re.Pattern[str], str], ...] = (
    # The GPU VM components are given `pulumi-llm:models.<name>` as their config path, but these values
    # come from the cloud's gpu_vm block, shared by every model.
    (re.compile(r"^models\.[^.]+\.allowed_cidrs"), "aws.gpu_vm.allowed_cidrs"),
    (re.compile(r"^models\.[^.]+\.schedule\.stop_cron"), "aws.gpu_vm.schedule.stop"),
    (re.compile(r"^models\.[^.]+\.schedule\.start_cron"), "aws.gpu_vm.schedule.start"),
    (re.compile(r"^models\.[^.]+\.schedule\.time_zone"), "aws.gpu_vm.schedule.time_zone"),
    (re.compile(r"^models\.[^.]+\.certificate_arn"), "aws.gpu_vm.certificate_arn"),
    (re.compile(r"^models\.([^.]+)\.model_path"), r"models.\1.source"),
    (re.compile(r"^gateway\.bedrock_model_arns"), "gateway.bedrock_models"),
    (re.compile(r"^gateway\.models\.[^.]+\.routes\[\d+\]\.secret_env"), "gateway.secrets"),
)
"""A component's argument path (what its message names after `pulumi-llm:`) → the stack-file key it came from."""

_LEADING_PATH = re.compile(r"^(?:pulumi-llm:)?(?P<path>[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*)(?: = (?P<value>.*?))?: (?P<message>.*)$")


def component_problem(err: ValidationError | UserError, raw: Mapping[str, Any], source: str) -> str:
    """One line for a component's refusal: `<source>: pulumi-llm:<key> = <value>: <message>`."""
    from .loading import problem_line

    if isinstance(err, ValidationError):
        key, message = _validation_key(err)
    else:
        key, message = _user_error_key(str(err))
    if key is None:
        return _one_line(f"{source}: {NAMESPACE}: {message}")
    loc = list(FieldProblem(key, message).field)
    return _one_line(problem_line(source, dict(raw), loc, message))


def _validation_key(err: ValidationError) -> tuple[str | None, str]:
    # The first problem whose field a stack-file key feeds; else the first, named by the component's field.
    found: list[tuple[str | None, str, str]] = []
    for problem in err.errors(include_url=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        loc = [str(p) for p in problem["loc"]]
        field = loc[0] if loc else ""
        if not field:
            # a model-level check names its field first: "admin_principal_arns.admin-0: 'x' is not an IAM ARN"
            head, sep, rest = message.partition(": ")
            if sep:
                field, message = head.split(".", 1)[0], rest
        found.append((ARGS_FIELD_KEYS.get((err.title, field)), field, message))
    key, field, message = next((f for f in found if f[0] is not None), found[0])
    if key is None:
        return None, f"{err.title}.{field}: {message} (a value the settings should have refused; please report it)"
    return key, message


def _user_error_key(text: str) -> tuple[str | None, str]:
    match = _LEADING_PATH.match(text)
    if match is None:
        return None, text
    path, message = match.group("path"), match.group("message")
    for pattern, key in COMPONENT_PATH_KEYS:
        found = pattern.match(path)
        if found is not None:
            return found.expand(key), message
    return path, message


MESSAGE_KEYS: tuple[tuple[re.Pattern[str], str], ...] = (
    # network.aws: "az_count=6 but us-east-1 has 3 available zones (…); lower az_count", raised in an apply
    (re.compile(r"^az_count=(?P<value>\d+) but (?P<message>.*)$"), "aws.network.az_count"),
)
"""A component message that names its argument `name=value` at the start → the stack-file key it came from."""


def program_problem(err: BaseException, raw: Mapping[str, Any], source: str) -> str:
    """`component_problem` for whatever a component raised while the program ran: a pydantic error, a UserError,
    or a ValueError that Pulumi wrapped in "While processing input …" layers (the innermost one is the reason)."""
    if isinstance(err, (ValidationError, UserError)):
        return component_problem(err, raw, source)
    root: BaseException = err
    while (inner := root.__cause__ or root.__context__) is not None and isinstance(inner, ValueError):
        root = inner
    text = " ".join(str(root).split())
    for pattern, key in MESSAGE_KEYS:
        found = pattern.match(text)
        if found is not None:
            return component_problem(UserError(f"{key} = {found.group('value')}: {found.group('message')}"), raw, source)
    return component_problem(UserError(text[:1000]), raw, source)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."


def component_problem_in_program(err: ValidationError | UserError) -> str:
    """`component_problem` for the running Pulumi program: its stack file and config from the engine."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    from .loading import raw_settings

    config = dict(runtime_config.get_config_env())
    config.update(runtime_config.CONFIG.get())
    return component_problem(err, raw_settings(config), f"stacks/Pulumi.{pulumi.get_stack()}.yaml")
