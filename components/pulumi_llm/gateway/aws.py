"""AwsGateway: the gateway's front (and LiteLLM on loopback) on ECS Fargate behind API Gateway (REST,
streaming), provider keys in Secrets Manager.

Request path::

    client ──HTTPS──▶ API Gateway REST stage (REGIONAL; WAF; the inference routes only; REQUEST authorizer:
           the consumer's name and usage plan from its key, the edge key for the front)
           ──VPC link (PrivateLink)──▶ internal NLB (TCP) ──▶ the front (Fargate, private subnets; identity
           mode edge: the consumer's grant) ──▶ LiteLLM on 127.0.0.1 ──HTTPS──▶ OpenAI / Anthropic / … (keys
           from Secrets Manager) and Bedrock (task role)
           ──HTTP(S), the URL's port──▶ self-hosted models' load balancers, straight from the front
             (`self_hosted_endpoints`: the tasks' group may reach each one's group on that port, and that
             group admits the tasks' group)

Why REST and not HTTP APIs or an ALB: HTTP APIs cap integrations at 30 s and buffer; an ALB in front of
Lambda buffers too. A REST integration with `response_transfer_mode="STREAM"` streams server-sent events
end to end and may run up to 900,000 ms; the private integration reaches an NLB only (VPC link v1), which
is a plain TCP pass-through, so nothing in the path buffers.

Children (Pulumi names ``<name>-<role>``):

* secrets: one Secrets Manager secret per provider (``pulumi-llm/<stack>/<provider>``) and one for the
  edge key (``pulumi-llm/<stack>/litellm-master``), each encrypted with the stack key, with a recovery
  window, a resource policy that lets only the task execution role (and, for the edge key, the authorizer's
  and the task's roles) read it, and NO value: the values are written out of band by ``pulumi-llm secrets
  put`` and never pass through Pulumi;
* identity: the task execution role (pull, logs, read exactly those secrets, decrypt through Secrets
  Manager only) and the task role (the edge key's previous value at boot, ``bedrock:InvokeModel*`` on
  exactly ``bedrock_model_arns``);
* compute: an ECS cluster (Container Insights), a Fargate task definition (the pinned LiteLLM image by
  digest running the front, ``PREVIOUS_EDGE_KEY`` + ``engine.BOOT``; non-root, read-only root filesystem with
  a scratch volume on /tmp, capabilities dropped, both configs in environment variables, the keys injected
  by ECS as ``secrets``), and the service (private subnets, no public IP, spread across zones, circuit
  breaker with rollback, draining that lets streams finish), scaled by Application Auto Scaling on CPU and
  on NLB flows (≈ open streams) per task;
* traffic: an internal NLB reachable only through the VPC link (its security group has no inbound rule and
  does not filter PrivateLink traffic), tasks reachable only from the NLB, the REST API with one method per
  inference route (``aws_edge.decide_edge_routes``: nothing else exists, so LiteLLM's admin and pass-through
  routes are API Gateway's own 403) each with the streaming HTTP_PROXY integration to the front's path, a
  deployment and stage with JSON access logs (no bodies, no key values) to an encrypted group, method
  settings (metrics, throttling, no data trace), a usage plan + AWS-generated API key per consumer, a WAFv2
  web ACL, an optional custom domain;
* authorizer: a Lambda (``aws_authorizer.py``, shipped verbatim) behind a REQUEST authorizer: the consumer's
  ``Authorization: Bearer <API key>`` becomes the usage-plan key (``api_key_source = AUTHORIZER``) and, read
  against the stack's own keys, the consumer's name (``context.authorizer.consumer`` → the consumer header);
  the edge key, read from its secret, reaches the front through ``context.authorizer.bearer`` mapped onto
  the integration's ``Authorization`` header — no client ever holds it, and it never enters the state;
* rotation: an EventBridge rule on the CloudTrail events that change these secrets and a small Lambda that
  forces a new ECS deployment, so a rotated key reaches the tasks without a `pulumi up` (the edge key with no
  401 window: ``aws_edge.EDGE_KEY_SWITCH_SECONDS``);
* alarms: API Gateway 5XX / 4XX (429) rates and p99 latency, ECS CPU and tasks below desired
  (`monitoring.cloudwatch`), and per hybrid route the fallback-share and self-hosted-silent metric-math
  alarms on the front's EMF metrics (``aws_edge.fallback_alarm_definitions``), notifying the alarm topic,
  and a dashboard of them.

Why the configs travel in environment variables: they hold no secret (every key is an ``os.environ/<ENV>``
reference or a variable name, checked here), they version with the task definition (a config change is a
new revision and a rolling deployment, nothing to fetch at start), and they need no extra IAM or service
(an SSM parameter or S3 object would need both, and a fetch that can fail at start). The container's
command writes them to /tmp and runs the front, which starts LiteLLM.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..deprecated import module_aliases, moved_field
from ..errors import UserError
from ..labels import CommonLabels, aws_tags
from ..monitoring import cloudwatch
from ..naming import child, dns_label
from ..network.aws import LOG_RETENTION_DAYS, allow_https_out, allow_tcp_between
from ..validation import ACM_CERTIFICATE_ARN as _ACM_ARN
from ..validation import HOSTNAME, SHORT_NAME
from . import config as engine_config
from . import front_contract as contract
from .aws_edge import AUTHORIZER_CACHE_SECONDS as AUTHORIZER_CACHE_SECONDS
from .aws_edge import EDGE_KEY_CACHE_SECONDS as EDGE_KEY_CACHE_SECONDS
from .aws_edge import EDGE_KEY_MAX_AGE_SECONDS as EDGE_KEY_MAX_AGE_SECONDS
from .aws_edge import EDGE_KEY_SWITCH_SECONDS as EDGE_KEY_SWITCH_SECONDS
from .aws_edge import MIN_ROTATION_SPACING_SECONDS as MIN_ROTATION_SPACING_SECONDS
from .aws_edge import (
    EdgeRoute,
    decide_edge_refusals,
    decide_edge_routes,
    fallback_alarm_definitions,
    resource_key,
    resource_paths,
)
from .aws_edge import integration_request_parameters as integration_request_parameters
from .engine import (
    BOOT,
    CONFIG_ENV,
    CONTAINER,
    EDGE_KEY_ENV,
    EDGE_KEY_PREVIOUS_ENV,
    ENGINE_PORT,
    FRONT_CONFIG_ENV,
    LIVENESS_PATH,
    MASTER_KEY_ENV,
    MASTER_KEY_SECRET,
    check_plain_env,
    check_secret_env,
    decide_drain_seconds,
    encode_front_config,
    front_config,
)
from .engine import (
    MAX_CONFIG_BYTES as MAX_CONFIG_BYTES,
)
from .engine import RESERVED_ENV as ENGINE_RESERVED_ENV
from .engine import secret_name as secret_name
from .fallback_alarms import alarm_resource_name, decide_fallback_alarms

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""
StrListInput = Sequence[StrInput] | pulumi.Output[list[str]]
"""A list of strings or an Output of one (pulumi.Input[list[str]])."""

SELF_HOSTED_KEY_ENV = "SELF_HOSTED_API_KEY"
"""The engine's variable that carries it; every self-hosted route sends it (api_key: os.environ/…)."""

TMP_INIT_CONTAINER = "tmp-permissions"
ENGINE_USER = "65532:65532"
"""Non-root uid/gid (the 'nonroot' user of the Wolfi base the LiteLLM image builds on)."""
MAX_STREAM_TIMEOUT_MS = 900_000
"""API Gateway's integration timeout ceiling for response_transfer_mode STREAM."""
FARGATE_STOP_TIMEOUT = 120
"""Seconds Fargate allows between SIGTERM and SIGKILL (its maximum)."""
DOMAIN_SECURITY_POLICY = "TLS_1_2"

FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
"""Fargate's valid task sizes: CPU units → memory MiB."""

ROTATION_EVENTS = ("PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage", "RestoreSecret")
"""Secrets Manager API calls that change which value a secret serves."""

EDGE_KEY_SECRET_ENV = "PULUMI_LLM_EDGE_KEY_SECRET_ARN"
"""The ``litellm-master`` secret's ARN in the engine's environment (a name, not a value): its boot reads the
secret's previous value from it."""

RESERVED_ENV = ENGINE_RESERVED_ENV | {"AWS_REGION", "AWS_DEFAULT_REGION", "LITELLM_MODE", EDGE_KEY_SECRET_ENV}
"""Environment variables the component sets itself."""

_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
BEDROCK_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:(\d{12})?:"
    r"(foundation-model|inference-profile|application-inference-profile|provisioned-model|custom-model|imported-model)/[^*?\s]+$"
)
"""A Bedrock model ARN the role may be scoped to; settings.checks_deploy applies it to gateway.bedrock_models too."""
_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/([^@:]+)")

HEALTH_CHECK = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{ENGINE_PORT}{LIVENESS_PATH}', timeout=4)"
"""Container health check with the image's own Python (no curl in the image)."""

PREVIOUS_EDGE_KEY = f"""\
import os
try:
    import boto3
    os.environ[{EDGE_KEY_PREVIOUS_ENV!r}] = boto3.client('secretsmanager').get_secret_value(
        SecretId=os.environ[{EDGE_KEY_SECRET_ENV!r}], VersionStage='AWSPREVIOUS')['SecretString']
except Exception as err:
    if (getattr(err, 'response', None) or {{}}).get('Error', {{}}).get('Code') != 'ResourceNotFoundException':
        raise
"""
"""What the engine's command runs before the front's boot (engine.BOOT): the edge key's previous value
(``AWSPREVIOUS``) into ``EDGE_KEY_PREVIOUS_ENV``, with the task role, so a task started after a rotation
accepts the old value the authorizer still sends (ECS's own secret injection cannot do it: a ``valueFrom``
naming ``AWSPREVIOUS`` fails the task while the secret has no previous version). No previous version yet:
nothing to accept. boto3 is in the image (BerriAI/litellm requirements.txt: "aws bedrock/sagemaker calls")."""

ENGINE_COMMAND = PREVIOUS_EDGE_KEY + BOOT
"""The engine container's ``python3 -c`` program."""

REDEPLOY_HANDLER = '''\
"""Force a new deployment of the gateway's ECS service when one of its secrets changes.

ECS injects secrets only when a task starts: new tasks read the new AWSCURRENT value, old ones drain.
"""
import json
import os

import boto3

ecs = boto3.client("ecs")


def handler(event, context):
    detail = event.get("detail") or {}
    secret = (detail.get("requestParameters") or {}).get("secretId", "?")
    ecs.update_service(cluster=os.environ["CLUSTER"], service=os.environ["SERVICE"], forceNewDeployment=True)
    print(json.dumps({"redeployed": os.environ["SERVICE"], "secret": secret, "event": detail.get("eventName")}))
    return {"redeployed": os.environ["SERVICE"]}
'''
"""Source of the redeploy Lambda (python3.13 runtime; boto3 comes with it). Names, never values."""

AUTHORIZER_SOURCE = (Path(__file__).parent / "aws_authorizer.py").read_text()
"""Source of the authorizer Lambda: the module the tests import and run."""
MAX_CONSUMER_KEY_IDS_BYTES = 3072
"""Room for the authorizer's ``CONSUMER_KEY_IDS`` ({API key id: consumer}, JSON) in its environment:
Lambda allows 4 KB of variables in all, and the secret ARN and cache period take the rest."""
API_KEY_ID_LENGTH = 10
"""Length of an AWS-generated API key id (the JSON size of CONSUMER_KEY_IDS is checked before any id exists)."""


# ---------------------------------------------------------------------------------------------
# Args
# ---------------------------------------------------------------------------------------------


class Consumer(BaseModel):
    """One client of the gateway: an API key (generated by AWS) in its own usage plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Stable key, [a-z][a-z0-9-]: names the API key and the usage plan.")
    quota_per_day: int | None = Field(default=None, description="Requests per day. Default none (at most one of day/month).")
    quota_per_month: int | None = Field(default=None, description="Requests per month. Default none.")
    rate_limit_rps: float = Field(default=10.0, description="Steady requests per second (token bucket rate). Default 10.")
    burst: int = Field(default=20, description="Burst (token bucket size). Default 20.")


class CustomDomain(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    domain_name: str = Field(description="e.g. llm.example.com. Point a DNS alias at the output `domain_target`.")
    certificate_arn: StrInput = Field(description="ACM certificate for the name, in the API's region (REGIONAL endpoint).")


class SelfHostedEndpoint(BaseModel):
    """The load balancer of a model this stack serves, as the engine reaches it: the gateway opens exactly
    this path (its tasks' egress to the group, the group's ingress from the tasks) and nothing wider."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(description="The served model (or models sharing the group), [a-z0-9-]: names the two rules.")
    security_group_id: StrInput = Field(description="Security group of the model's load balancer.")
    port: int = Field(ge=1, le=65535, description="The listener port the engine's URL names (80 for http, 443 for https).")


class GatewayAlertThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_p99_ms: float | None = Field(
        default=None, description="p99 API latency alarm (a stream's whole duration). Default: 90% of the integration timeout."
    )
    error_rate_5xx: float = Field(default=0.05, description="Share of 5XX responses. Default 0.05.")
    error_rate_4xx: float = Field(default=0.25, description="Share of 4XX responses (429 throttles, 403 bad keys). Default 0.25.")
    cpu_percent: float = Field(default=80.0, description="Service CPU. Default 80.")


class AwsGatewayArgs(BaseModel):
    """Everything AwsGateway needs. Validation is pure and fails with one UserError line naming
    `config_path` and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack (its stack name names the secrets).")
    region: str = Field(description="Region the provider deploys to.")
    vpc_id: StrInput = Field(description="VPC of the NLB and the tasks.")
    private_subnet_ids: StrListInput = Field(
        description="Private subnets of the NLB and the tasks, one per zone (a list of Inputs lets the zone count be checked)."
    )
    kms_key_arn: StrInput = Field(description="The stack's customer key: secrets and log groups (AwsStackKey.arn).")
    engine_config_yaml: str = Field(
        description="Rendered LiteLLM config (gateway.config): provider keys only as os.environ/<ENV> references."
    )
    spec: engine_config.GatewaySpec = Field(
        description="The gateway's groups, routes, fallbacks and consumers (gateway.config), the one engine_config_yaml "
        "renders from: the front's grants and routing, and the fallback alarms of its hybrid routes."
    )
    provider_secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Env var → provider secret short name, e.g. {'OPENAI_API_KEY': 'openai'}. Default none (Bedrock only).",
    )
    environment: dict[str, StrInput] = Field(
        default_factory=dict,
        description="Non-secret environment of the engine (e.g. AZURE_API_BASE, a self-hosted model's URL; values may be "
        "Outputs). Default none.",
    )
    external_secrets: dict[str, StrInput] = Field(
        default_factory=dict,
        description="Env var → ARN of a secret the stack creates outside the gateway (the self-hosted models' API key, "
        "which their servers read too), encrypted with kms_key_arn; injected like the provider keys. Default none.",
    )
    self_hosted_endpoints: list[SelfHostedEndpoint] = Field(
        default_factory=list[SelfHostedEndpoint],
        description="Load balancers of self-hosted models the engine calls (their URLs are in `environment`). Default none.",
    )
    bedrock_model_arns: list[str] = Field(
        default_factory=list, description="Bedrock model / inference-profile ARNs the task role may invoke (no wildcards). Default none."
    )
    consumers: list[Consumer] = Field(min_length=1, description="Clients: one API key and usage plan each. At least one.")
    image: str = Field(default=pins.LITELLM.ref, description="LiteLLM image, pinned by digest. Default pins.LITELLM.")
    cpu_architecture: Literal["X86_64", "ARM64"] = Field(default="X86_64", description="Fargate CPU architecture. Default X86_64.")
    cpu: int = Field(default=1024, description="Task CPU units (Fargate sizes). Default 1024 (1 vCPU).")
    memory: int = Field(default=2048, description="Task memory MiB (valid for the CPU). Default 2048.")
    high_availability: bool = Field(
        default=True, description="Require ≥ 2 tasks and ≥ 2 subnets (zones). Default true; false only for a dev gateway."
    )
    min_tasks: int = Field(default=2, ge=1, description="Fewest tasks. Default 2.")
    max_tasks: int = Field(default=6, ge=1, description="Most tasks. Default 6.")
    desired_tasks: int | None = Field(default=None, description="Tasks at creation; autoscaling owns the count after. Default min_tasks.")
    cpu_target_percent: float = Field(default=60.0, gt=0, le=100, description="Target of the CPU tracking policy. Default 60.")
    flows_per_task: int = Field(
        default=100, ge=1, description="Target of open NLB flows (≈ concurrent requests and streams) per task. Default 100."
    )
    integration_timeout_ms: int = Field(
        default=300_000, description=f"API Gateway integration timeout, 50 to {MAX_STREAM_TIMEOUT_MS} (STREAM). Default 300000."
    )
    engine_timeout_seconds: int = Field(
        default=270, ge=1, description="The engine's request timeout (litellm request_timeout); below the integration timeout. Default 270."
    )
    stage_name: str = Field(
        default="v1", description="Stage name, also the base path: clients use <invoke_url> as OpenAI base_url. Default v1."
    )
    stage_rate_limit_rps: float = Field(default=500.0, gt=0, description="Stage-wide throttle rate (all consumers). Default 500.")
    stage_burst: int = Field(default=1000, ge=1, description="Stage-wide burst. Default 1000.")
    custom_domain: CustomDomain | None = Field(
        default=None, description="Custom domain (REGIONAL, TLS 1.2+); then the execute-api endpoint is disabled. Default none."
    )
    waf: bool = Field(default=True, description="WAFv2 web ACL on the stage. Default true.")
    waf_rate_limit_per_5min: int = Field(default=3000, description="Requests per client IP per 5 minutes before WAF blocks. Default 3000.")
    waf_sampled_requests: bool = Field(
        default=False, description="Keep WAF request samples (they show headers, API keys included). Default false."
    )
    redeploy_on_secret_change: bool = Field(
        default=True,
        description="EventBridge + Lambda force a new deployment when a secret changes (needs a CloudTrail trail). Default true.",
    )
    set_account_logging_role: bool = Field(
        default=False,
        description=(
            "Create the region's API Gateway account CloudWatch role (an account-wide singleton, needed for access "
            "logs). Default false: the account already has one."
        ),
    )
    alarm_topic_arn: StrInput | None = Field(default=None, description="SNS topic the alarms notify. Default none: alarms without actions.")
    alert_thresholds: GatewayAlertThresholds = Field(
        default_factory=GatewayAlertThresholds, description="Alert thresholds (of its CloudWatch alarms)."
    )
    log_retention_days: int = Field(default=30, description="Retention of engine, access and redeploy logs. Default 30.")
    secret_recovery_window_days: int = Field(default=30, description="Days a deleted secret can be restored, 7 to 30. Default 30.")
    consumer_header: str = Field(
        default=contract.CONSUMER_HEADER,
        description="Header the integration sets to the consumer's name as the authorizer resolved it (a client-sent "
        "copy is overwritten); the front reads this one only. Default x-pulumi-llm-consumer.",
    )
    config_path: str = Field(default="gateway", description="Key path named in error messages. Default 'gateway'.")

    @model_validator(mode="before")
    @classmethod
    def _renamed_fields(cls, data: Any) -> Any:
        return moved_field(data, "AwsGatewayArgs", "alarm_thresholds", "alert_thresholds")

    @model_validator(mode="after")
    def _check(self) -> AwsGatewayArgs:
        where = self.config_path
        _check_providers(self, where)
        _check_consumers(self.consumers, where)
        granted = sorted(c.name for c in self.spec.consumers)
        if granted != sorted(c.name for c in self.consumers):
            raise UserError(
                f"{where}.consumers = {', '.join(sorted(c.name for c in self.consumers))}: the spec grants "
                f"{', '.join(granted) or 'no consumer'}; every consumer needs both a usage plan (its key) and a grant (its models)"
            )
        if self.consumer_header != contract.CONSUMER_HEADER:
            raise UserError(
                f"{where}.consumer_header = {self.consumer_header!r}: the front reads the consumer from {contract.CONSUMER_HEADER} only"
            )
        _check_sizes(self, where)
        if not 50 <= self.integration_timeout_ms <= MAX_STREAM_TIMEOUT_MS:
            raise UserError(
                f"{where}.integration_timeout_ms = {self.integration_timeout_ms}: allowed 50 to {MAX_STREAM_TIMEOUT_MS} "
                "(API Gateway's streaming maximum, 15 minutes)"
            )
        if self.integration_timeout_ms <= self.engine_timeout_seconds * 1000:
            raise UserError(
                f"{where}.integration_timeout_ms = {self.integration_timeout_ms}: must be above "
                f"{where}.engine_timeout_seconds = {self.engine_timeout_seconds} ({self.engine_timeout_seconds * 1000} ms), "
                "or API Gateway cuts requests the engine is still serving"
            )
        for arn in self.bedrock_model_arns:
            if not BEDROCK_ARN.match(arn):
                raise UserError(
                    f"{where}.bedrock_model_arns = {arn}: not a Bedrock model ARN without wildcards, e.g. "
                    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"
                )
        if len(set(self.bedrock_model_arns)) != len(self.bedrock_model_arns):
            raise UserError(f"{where}.bedrock_model_arns: an ARN is listed twice")
        if "@sha256:" not in self.image:
            raise UserError(f"{where}.image = {self.image}: pin the image by digest (repository:tag@sha256:…)")
        if not _STAGE.match(self.stage_name):
            raise UserError(f"{where}.stage_name = {self.stage_name!r}: allowed 1-128 of A-Z a-z 0-9 _ -")
        if self.custom_domain is not None:
            domain = self.custom_domain
            if not HOSTNAME.match(domain.domain_name):
                raise UserError(
                    f"{where}.custom_domain.domain_name = {domain.domain_name!r}: not a lower-case DNS name such as llm.example.com"
                )
            if isinstance(domain.certificate_arn, str):
                found = _ACM_ARN.match(domain.certificate_arn)
                if not found:
                    raise UserError(f"{where}.custom_domain.certificate_arn = {domain.certificate_arn}: not an ACM certificate ARN")
                if found.group(1) != self.region:
                    raise UserError(
                        f"{where}.custom_domain.certificate_arn = {domain.certificate_arn}: a REGIONAL endpoint needs a "
                        f"certificate in {self.region}, not {found.group(1)}"
                    )
        if self.waf and self.waf_rate_limit_per_5min < 100:
            raise UserError(f"{where}.waf_rate_limit_per_5min = {self.waf_rate_limit_per_5min}: at least 100")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise UserError(
                f"{where}.log_retention_days = {self.log_retention_days}: not a CloudWatch Logs retention; allowed: "
                f"{', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        if not 7 <= self.secret_recovery_window_days <= 30:
            raise UserError(
                f"{where}.secret_recovery_window_days = {self.secret_recovery_window_days}: allowed 7 to 30 "
                "(a deleted provider key must stay recoverable)"
            )
        thresholds = self.alert_thresholds
        for key in ("error_rate_5xx", "error_rate_4xx"):
            value = getattr(thresholds, key)
            if not 0 < value < 1:
                raise UserError(f"{where}.alert_thresholds.{key} = {value}: a fraction between 0 and 1, e.g. 0.05")
        check_engine_config(
            self.engine_config_yaml,
            available_env=set(self.provider_secrets)
            | set(self.external_secrets)
            | set(self.environment)
            | {MASTER_KEY_ENV, "AWS_REGION", "AWS_DEFAULT_REGION"},
            engine_timeout_seconds=self.engine_timeout_seconds,
            where=f"{where}.engine_config_yaml",
        )
        self.front_config_b64()  # a bad spec or a config too large for the task: one line, before any resource
        decide_fallback_alarms(self.spec, where=where)
        return self

    def front_config_b64(self) -> str:
        """The front's config (engine.front_config, identity edge, this stack's metrics dimension) as the
        engine's FRONT_CONFIG_ENV carries it."""
        where = self.config_path
        # Open streams drain for what Fargate's stopTimeout (its 120 s maximum) leaves after stopping LiteLLM.
        drain = decide_drain_seconds(FARGATE_STOP_TIMEOUT)
        return encode_front_config(
            front_config(self.spec, identity=contract.IDENTITY_EDGE, stack=self.labels.stack, drain_seconds=drain, where=where),
            where=where,
        )

    @property
    def desired(self) -> int:
        return self.min_tasks if self.desired_tasks is None else self.desired_tasks

    @property
    def latency_alarm_ms(self) -> float:
        chosen = self.alert_thresholds.latency_p99_ms
        return chosen if chosen is not None else round(self.integration_timeout_ms * 0.9)

    @property
    def providers(self) -> list[str]:
        """Provider secret short names, sorted."""
        return sorted(self.provider_secrets.values())


def _check_providers(args: AwsGatewayArgs, where: str) -> None:
    check_secret_env(args.provider_secrets, reserved=RESERVED_ENV, where=where)
    provided = RESERVED_ENV | set(args.provider_secrets)
    check_plain_env(args.external_secrets, key="external_secrets", taken=provided, where=where)
    check_plain_env(args.environment, key="environment", taken=provided | set(args.external_secrets), where=where)


def _check_consumers(consumers: Sequence[Consumer], where: str) -> None:
    seen: set[str] = set()
    for consumer in consumers:
        at = f"{where}.consumers.{consumer.name}"
        if not SHORT_NAME.match(consumer.name):
            raise UserError(
                f"{where}.consumers: name {consumer.name!r}: lower-case letters, digits and '-', starting with a letter (at most 40)"
            )
        if consumer.name in seen:
            raise UserError(f"{where}.consumers: {consumer.name!r} is listed twice; consumer names key the API keys and usage plans")
        seen.add(consumer.name)
        if consumer.quota_per_day is not None and consumer.quota_per_month is not None:
            raise UserError(f"{at}: set quota_per_day or quota_per_month, not both (a usage plan has one quota period)")
        for key in ("quota_per_day", "quota_per_month"):
            value = getattr(consumer, key)
            if value is not None and value < 1:
                raise UserError(f"{at}.{key} = {value}: allowed a positive number of requests, or leave it unset for no quota")
        if not 0 < consumer.rate_limit_rps <= 10_000:
            raise UserError(f"{at}.rate_limit_rps = {consumer.rate_limit_rps:g}: allowed above 0 up to 10000 (the account limit)")
        if not 1 <= consumer.burst <= 5_000:
            raise UserError(f"{at}.burst = {consumer.burst}: allowed 1 to 5000 (the account burst limit)")
    # The authorizer tells consumers apart by their key ids, carried in its environment (4 KB in all).
    size = len(consumer_key_ids({f"{i:0{API_KEY_ID_LENGTH}d}": c.name for i, c in enumerate(consumers)}))
    if size > MAX_CONSUMER_KEY_IDS_BYTES:
        raise UserError(
            f"{where}.consumers: {len(consumers)} consumers need {size} bytes of the authorizer's environment; "
            f"allowed at most {MAX_CONSUMER_KEY_IDS_BYTES} (fewer consumers, or shorter names)"
        )


def _check_sizes(args: AwsGatewayArgs, where: str) -> None:
    if args.cpu not in FARGATE_MEMORY:
        raise UserError(f"{where}.cpu = {args.cpu}: Fargate CPU units are {', '.join(map(str, FARGATE_MEMORY))}")
    allowed = FARGATE_MEMORY[args.cpu]
    if args.memory not in allowed:
        if len(allowed) == 3:
            choices = f"{allowed[0]}, {allowed[1]} or {allowed[2]} MiB"
        else:
            choices = f"{allowed[0]} to {allowed[-1]} MiB in steps of {allowed[1] - allowed[0]}"
        raise UserError(f"{where}.memory = {args.memory}: with cpu {args.cpu}, Fargate allows {choices}")
    desired = args.desired
    if not args.min_tasks <= desired <= args.max_tasks:
        raise UserError(
            f"{where}: min_tasks {args.min_tasks}, desired_tasks {desired}, max_tasks {args.max_tasks}; "
            "allowed: min_tasks ≤ desired_tasks ≤ max_tasks"
        )
    if args.high_availability:
        if args.min_tasks < 2:
            raise UserError(
                f"{where}.min_tasks = {args.min_tasks}: high availability needs at least 2 tasks across zones; "
                "set high_availability: false for a single-task dev gateway"
            )
        subnets = args.private_subnet_ids
        if not isinstance(subnets, pulumi.Output) and len(subnets) < 2:
            raise UserError(f"{where}.private_subnet_ids: {len(subnets)} subnet; high availability needs subnets in at least 2 zones")


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def check_engine_config(text: str, *, available_env: set[str], engine_timeout_seconds: int, where: str) -> dict[str, Any]:
    """`config.check_engine_config` for a config carried in the ECS task definition."""
    return engine_config.check_engine_config(
        text,
        available_env=available_env,
        engine_timeout_seconds=engine_timeout_seconds,
        where=where,
        carrier="the task definition",
        holder="task",
        store="the secret store",
    )


def access_log_format() -> str:
    """Stage access log line (JSON): who, what, how long, which key id — never bodies or key values."""
    fields = {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "requestTime": "$context.requestTime",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "apiKeyId": "$context.identity.apiKeyId",
        "consumer": "$context.authorizer.principalId",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "path": "$context.path",
        "protocol": "$context.protocol",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "integrationError": "$context.integration.error",
        "errorType": "$context.error.responseType",
        "errorMessage": "$context.error.message",
        "wafResponseCode": "$context.wafResponseCode",
    }
    return json.dumps(fields, separators=(",", ":"))


def waf_rules(*, rate_limit_per_5min: int, metric_prefix: str, sampled: bool) -> list[aws.wafv2.WebAclRuleArgsDict]:
    """WAFv2 rules (pulumi_aws input shape). Managed groups count or block by their own actions, except
    SizeRestrictions_BODY: LLM prompts routinely exceed its 8 KB body limit, so it only counts."""

    def visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
        return {"cloudwatch_metrics_enabled": True, "metric_name": f"{metric_prefix}-{metric}", "sampled_requests_enabled": sampled}

    def managed(priority: int, group: str, overrides: Sequence[str] = ()) -> aws.wafv2.WebAclRuleArgsDict:
        statement: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {"vendor_name": "AWS", "name": group}
        if overrides:
            statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}} for rule in overrides]
        return {
            "name": f"AWS-{group}",
            "priority": priority,
            "override_action": {"none": {}},
            "statement": {"managed_rule_group_statement": statement},
            "visibility_config": visibility(group),
        }

    return [
        managed(0, "AWSManagedRulesAmazonIpReputationList"),
        managed(1, "AWSManagedRulesCommonRuleSet", overrides=("SizeRestrictions_BODY",)),
        managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
        {
            "name": "rate-per-ip",
            "priority": 3,
            "action": {"block": {}},
            "statement": {"rate_based_statement": {"limit": rate_limit_per_5min, "aggregate_key_type": "IP", "evaluation_window_sec": 300}},
            "visibility_config": visibility("rate-per-ip"),
        },
    ]


def _policy(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def ecs_tasks_trust_policy(account_id: str | None = None) -> str:
    """Trust policy for ECS tasks; with an account, only tasks of that account (confused-deputy guard)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return _policy([statement])


def ecr_repository_arn(image: str, partition: str = "aws") -> str | None:
    """The ECR repository ARN of an ECR image reference, else None (public registries need no IAM)."""
    found = _ECR_IMAGE.match(image)
    if not found:
        return None
    account, region, _, repository = found.groups()
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def execution_policy(
    *,
    secret_arns: Sequence[str],
    kms_key_arn: str,
    log_group_arn: str,
    region: str,
    dns_suffix: str = "amazonaws.com",
    ecr_repository: str | None = None,
) -> str:
    """What ECS needs to start a task: read exactly these secrets, decrypt them through Secrets Manager
    only, write the engine's log group (and pull from one ECR repository if the image lives there)."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadGatewaySecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": sorted(secret_arns)},
        {
            "Sid": "DecryptThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.{dns_suffix}"}},
        },
        {
            "Sid": "WriteEngineLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
    ]
    if ecr_repository is not None:
        statements += [
            # GetAuthorizationToken has no resource type: '*' is the only possible scope.
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullEngineImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": ecr_repository,
            },
        ]
    return _policy(statements)


def task_policy(
    model_arns: Sequence[str], *, edge_key_secret_arn: str, kms_key_arn: str, region: str, dns_suffix: str = "amazonaws.com"
) -> str:
    """The engine's own rights: read the edge key's secret (its boot takes the previous value, see
    PREVIOUS_EDGE_KEY) and decrypt it through Secrets Manager only, and invoke (and stream from) exactly
    these Bedrock models (Converse and ConverseStream are authorized by the same two actions)."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadEdgeKey", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": edge_key_secret_arn},
        {
            "Sid": "DecryptThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.{dns_suffix}"}},
        },
    ]
    if model_arns:
        statements.append(
            {
                "Sid": "InvokeBedrockModels",
                "Effect": "Allow",
                "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                "Resource": sorted(model_arns),
            }
        )
    return _policy(statements)


def secret_resource_policy(*reader_role_arns: str) -> str:
    """Resource policy of a secret: only these roles may read it — the execution role for every secret,
    and the authorizer's and the task's roles for the edge key (no other identity policy names these ARNs)."""
    return _policy(
        [
            {
                "Sid": "GatewayRead",
                "Effect": "Allow",
                "Principal": {"AWS": reader_role_arns[0] if len(reader_role_arns) == 1 else sorted(reader_role_arns)},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ]
    )


def consumer_key_ids(consumer_by_key_id: Mapping[str, str]) -> str:
    """The authorizer's ``CONSUMER_KEY_IDS``: {API key id: consumer name} as compact JSON."""
    return json.dumps(dict(sorted(consumer_by_key_id.items())), separators=(",", ":"))


def api_key_arn(key_id: str, *, region: str, partition: str = "aws") -> str:
    """An API Gateway API key's ARN (API Gateway resources carry no account)."""
    return f"arn:{partition}:apigateway:{region}::/apikeys/{key_id}"


def authorizer_policy(
    *,
    secret_arn: str,
    kms_key_arn: str,
    log_group_arn: str,
    region: str,
    api_key_arns: Sequence[str],
    dns_suffix: str = "amazonaws.com",
) -> str:
    """The authorizer reads the edge key only, decrypts through Secrets Manager only, reads exactly the
    stack's consumer keys (to tell which consumer a key is), and writes its logs."""
    return _policy(
        [
            {"Sid": "ReadMasterKey", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn},
            {
                "Sid": "DecryptThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.{dns_suffix}"}},
            },
            # GetApiKey is apigateway:GET on the key's ARN; no other key, no listing.
            {"Sid": "ReadConsumerKeys", "Effect": "Allow", "Action": "apigateway:GET", "Resource": sorted(api_key_arns)},
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
            },
        ]
    )


def redeploy_policy(*, service_arn: str, log_group_arn: str) -> str:
    return _policy(
        [
            {"Sid": "RedeployGatewayService", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": service_arn},
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
            },
        ]
    )


def rotation_event_pattern(secret_names: Sequence[str], secret_arns: Sequence[str]) -> str:
    """EventBridge pattern: CloudTrail's record of a call that changes one of these secrets, whether the
    caller named the secret by name (the CLI) or by ARN (the console, rotation)."""
    return json.dumps(
        {
            "source": ["aws.secretsmanager"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["secretsmanager.amazonaws.com"],
                "eventName": list(ROTATION_EVENTS),
                "requestParameters": {"secretId": sorted(secret_names) + sorted(secret_arns)},
            },
        },
        sort_keys=True,
    )


def container_definitions(
    *,
    image: str,
    config_yaml: str,
    front_config_b64: str,
    edge_key_secret_arn: str,
    secrets: Mapping[str, str],
    environment: Mapping[str, str],
    region: str,
    log_group: str,
    stream_prefix: str,
) -> str:
    """The task's containers (ECS JSON): a root init container that opens /tmp to the non-root engine
    (Fargate mounts scratch volumes root-owned 0755), then the engine: the front on the engine port, which
    starts LiteLLM on loopback (engine.BOOT), its request log on stdout into the awslogs group."""
    env = {
        **environment,
        CONFIG_ENV: base64.b64encode(config_yaml.encode()).decode(),
        FRONT_CONFIG_ENV: front_config_b64,
        EDGE_KEY_SECRET_ENV: edge_key_secret_arn,
        "HOME": "/tmp",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LITELLM_MODE": "PRODUCTION",  # no .env loading
    }
    tmp = [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    logs = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": log_group,
            "awslogs-region": region,
            "awslogs-stream-prefix": stream_prefix,
            "mode": "non-blocking",
            "max-buffer-size": "25m",
        },
    }
    init = {
        "name": TMP_INIT_CONTAINER,
        "image": image,
        "essential": False,
        "user": "0",
        "readonlyRootFilesystem": True,
        "entryPoint": ["python3", "-c", "import os; os.chmod('/tmp', 0o1777)"],
        "mountPoints": tmp,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}},
        "logConfiguration": logs,
    }
    engine = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        "user": ENGINE_USER,
        "readonlyRootFilesystem": True,
        "entryPoint": ["python3", "-c", ENGINE_COMMAND],
        "portMappings": [{"containerPort": ENGINE_PORT, "hostPort": ENGINE_PORT, "protocol": "tcp", "name": "http"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())],
        "mountPoints": tmp,
        "dependsOn": [{"containerName": TMP_INIT_CONTAINER, "condition": "SUCCESS"}],
        "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
        "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
        "healthCheck": {
            "command": ["CMD", "python3", "-c", HEALTH_CHECK],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 60,
        },
        "stopTimeout": FARGATE_STOP_TIMEOUT,
        "logConfiguration": logs,
    }
    return json.dumps([init, engine], sort_keys=True)


# One metric of a target-tracking policy's metric math, in pulumi_aws's input shape.
_TargetTrackingMetric = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgsDict


def flows_per_task_metrics(load_balancer: str, target_group: str) -> list[_TargetTrackingMetric]:
    """Target-tracking metric math: open NLB flows per healthy task (≈ concurrent requests and streams
    per task: each streamed completion holds one flow for its whole duration)."""

    def stat(metric_id: str, metric: str, dims: dict[str, str]) -> _TargetTrackingMetric:
        return {
            "id": metric_id,
            "metric_stat": {
                "metric": {
                    "namespace": "AWS/NetworkELB",
                    "metric_name": metric,
                    "dimensions": [{"name": k, "value": v} for k, v in sorted(dims.items())],
                },
                "stat": "Average",
            },
            "return_data": False,
        }

    return [
        stat("flows", "ActiveFlowCount", {"LoadBalancer": load_balancer}),
        stat("tasks", "HealthyHostCount", {"LoadBalancer": load_balancer, "TargetGroup": target_group}),
        {"id": "per_task", "expression": "flows / tasks", "label": "open flows per healthy task", "return_data": True},
    ]


def elb_arn_suffix(arn: str) -> str:
    """CloudWatch dimension of a load balancer / target group ARN (`net/<name>/<id>`, `targetgroup/…`)."""
    return arn.split(":", 5)[-1].removeprefix("loadbalancer/")


def deployment_fingerprint(*parts: Any) -> str:
    """A stable hash of what the stage serves: a change creates a new API Gateway deployment."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """What every step of AwsGateway builds with: the component's name and args, where children go, and the
    account facts read once."""

    name: str
    args: AwsGatewayArgs
    stack: str
    tags: dict[str, str]
    here: pulumi.ResourceOptions
    parent: pulumi.Resource
    identity: pulumi.Output[aws.GetCallerIdentityResult]
    partition: pulumi.Output[aws.GetPartitionResult]
    base: str
    """Prefix of AWS-side names: DNS-safe, unique per stack and component."""
    log_prefix: str

    def log_group(self, role: str) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            child(self.name, f"{role}-logs"),
            name=f"{self.log_prefix}/{role}",
            retention_in_days=self.args.log_retention_days,
            kms_key_id=self.args.kms_key_arn,
            tags=self.tags,
            opts=self.here,
        )

    def after(self, *resources: pulumi.Resource, **more: Any) -> pulumi.ResourceOptions:
        """Options for a child that must wait for `resources`."""
        return pulumi.ResourceOptions(parent=self.parent, depends_on=list(resources), **more)


@dataclass(frozen=True)
class _Traffic:
    """The private path to the tasks: their security group and the internal NLB in front of them."""

    tasks_sg: aws.ec2.SecurityGroup
    nlb: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    listener: aws.lb.Listener


@dataclass(frozen=True)
class _Engine:
    cluster: aws.ecs.Cluster
    service: aws.ecs.Service
    cluster_name: str
    service_name: str


class AwsGateway(pulumi.ComponentResource):
    invoke_url: pulumi.Output[str]
    api_id: pulumi.Output[str]
    stage_name: pulumi.Output[str]
    secret_arns: dict[str, pulumi.Output[str]]
    execution_role_arn: pulumi.Output[str]
    """The role ECS reads the secrets as (an external secret's resource policy names it)."""
    service_name: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    api_key_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AwsGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AwsGateway", name, None, opts)
        stack = args.labels.stack
        invoke = pulumi.InvokeOptions(parent=self)
        scope = _Scope(
            name=name,
            args=args,
            stack=stack,
            tags=aws_tags(args.labels.with_method("gateway")),
            here=pulumi.ResourceOptions(parent=self),
            parent=self,
            identity=aws.get_caller_identity_output(opts=invoke),
            partition=aws.get_partition_output(opts=invoke),
            base=dns_label(f"pulumi-llm-{stack}-{name}", 48),
            log_prefix=f"/pulumi-llm/{stack}/{name}",
        )
        # The order of the steps is the order children are registered in: keep it.
        secret_env, secrets = self._secrets(scope)
        engine_logs = scope.log_group("engine")
        access_logs = scope.log_group("access")
        execution_role = self._execution_role(scope, secrets, engine_logs)
        api_keys = self._api_keys(scope)
        authorizer_function, authorizer_role = self._authorizer(scope, secrets[MASTER_KEY_SECRET], api_keys)
        task_role = self._task_role(scope, secrets[MASTER_KEY_SECRET])
        self._secret_policies(scope, secrets, execution_role, authorizer_role, task_role)
        traffic = self._traffic(scope)
        engine = self._engine(scope, secret_env, secrets, execution_role, task_role, traffic)
        self._autoscaling(scope, engine, traffic)
        api, deployment = self._rest_api(scope, traffic.nlb, authorizer_function)
        stage = self._stage(scope, api, deployment, access_logs)
        self._consumers(scope, api, stage, api_keys)
        self.api_key_ids = {consumer: key.id for consumer, key in api_keys.items()}
        if args.waf:
            self._waf(scope, stage)
        self.invoke_url, domain_target = self._invoke_url(scope, api, stage)
        if args.redeploy_on_secret_change:
            self._rotation(scope, secrets, engine)
        dashboard = self._alarms(scope, api, stage, engine)

        self.api_id = api.id
        self.stage_name = stage.stage_name
        self.secret_arns = {provider: secret.arn for provider, secret in secrets.items()}
        self.execution_role_arn = execution_role.arn
        self.service_name = engine.service.name
        self.cluster_name = engine.cluster.name
        self.nlb_arn = traffic.nlb.arn
        self.domain_target = domain_target
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs(
            {
                "invoke_url": self.invoke_url,
                "api_id": self.api_id,
                "stage_name": self.stage_name,
                "secret_arns": self.secret_arns,
                "service_name": self.service_name,
                "cluster_name": self.cluster_name,
                "api_key_ids": self.api_key_ids,
                "nlb_arn": self.nlb_arn,
                "domain_target": self.domain_target,
                "dashboard_name": self.dashboard_name,
            }
        )

    @staticmethod
    def _secrets(s: _Scope) -> tuple[dict[str, str], dict[str, aws.secretsmanager.Secret]]:
        """One secret per provider and one for the master key: containers only; values arrive through
        `pulumi-llm secrets put`. Returns {env var: secret short name} and the secrets by short name."""
        secret_env = {env: provider for env, provider in s.args.provider_secrets.items()}
        # The secret keeps its short name; its value is the edge key the front accepts (engine.EDGE_KEY_ENV).
        secret_env[EDGE_KEY_ENV] = MASTER_KEY_SECRET
        secrets: dict[str, aws.secretsmanager.Secret] = {}
        for provider in sorted(secret_env.values()):
            what = "edge key (API Gateway → the front)" if provider == MASTER_KEY_SECRET else f"{provider} API key"
            secrets[provider] = aws.secretsmanager.Secret(
                child(s.name, f"secret-{provider}"),
                name=secret_name(s.stack, provider),
                description=f"pulumi-llm {s.stack} gateway: {what}. Value set with `pulumi-llm secrets put {provider} --stack {s.stack}`.",
                kms_key_id=s.args.kms_key_arn,
                recovery_window_in_days=s.args.secret_recovery_window_days,
                tags=s.tags,
                opts=s.here,
            )
        return secret_env, secrets

    @staticmethod
    def _execution_role(s: _Scope, secrets: dict[str, aws.secretsmanager.Secret], engine_logs: aws.cloudwatch.LogGroup) -> aws.iam.Role:
        """The role ECS starts the tasks as: pull, write logs, read exactly these secrets (and the external ones)."""
        args = s.args
        execution_role = aws.iam.Role(
            child(s.name, "execution-role"),
            description=f"pulumi-llm {s.stack}/{s.name}: ECS starts the gateway tasks (secrets, logs)",
            assume_role_policy=ecs_tasks_trust_policy(),
            tags=s.tags,
            opts=s.here,
        )
        ecr_repository = ecr_repository_arn(args.image)
        aws.iam.RolePolicy(
            child(s.name, "execution-policy"),
            role=execution_role.id,
            policy=pulumi.Output.all(
                args.kms_key_arn,
                engine_logs.arn,
                s.partition.dns_suffix,
                *(secrets[p].arn for p in sorted(secrets)),
                *(args.external_secrets[e] for e in sorted(args.external_secrets)),
            ).apply(
                lambda v: execution_policy(
                    secret_arns=v[3:],
                    kms_key_arn=v[0],
                    log_group_arn=v[1],
                    region=args.region,
                    dns_suffix=v[2],
                    ecr_repository=ecr_repository,
                )
            ),
            opts=s.here,
        )
        return execution_role

    @staticmethod
    def _api_keys(s: _Scope) -> dict[str, aws.apigateway.ApiKey]:
        """An AWS-generated API key per consumer (their usage plans follow the stage). Created before the
        authorizer, which gets their ids to tell which consumer a key is."""
        keys: dict[str, aws.apigateway.ApiKey] = {}
        for consumer in s.args.consumers:
            # No `value`: AWS generates the key; read it with `aws apigateway get-api-key --include-value`.
            keys[consumer.name] = aws.apigateway.ApiKey(
                child(s.name, f"api-key-{consumer.name}"),
                name=f"{s.base}-{consumer.name}",
                description=f"pulumi-llm {s.stack}/{s.name}: consumer {consumer.name}",
                enabled=True,
                tags=s.tags,
                opts=s.here,
            )
        return keys

    @staticmethod
    def _authorizer(
        s: _Scope, master_secret: aws.secretsmanager.Secret, api_keys: dict[str, aws.apigateway.ApiKey]
    ) -> tuple[aws.lambda_.Function, aws.iam.Role]:
        """The authorizer Lambda: tells the consumer from its key, and the only reader of the edge key
        besides ECS (see gateway.aws_authorizer)."""
        args = s.args
        authorizer_logs = s.log_group("authorizer")
        lambda_trust = _policy([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
        authorizer_role = aws.iam.Role(
            child(s.name, "authorizer-role"),
            description=f"pulumi-llm {s.stack}/{s.name}: the API authorizer reads the consumer keys and the edge key",
            assume_role_policy=lambda_trust,
            tags=s.tags,
            opts=s.here,
        )
        consumers = sorted(api_keys)
        key_ids = pulumi.Output.all(*(api_keys[c].id for c in consumers))
        authorizer_policy_doc = aws.iam.RolePolicy(
            child(s.name, "authorizer-policy"),
            role=authorizer_role.id,
            policy=pulumi.Output.all(
                master_secret.arn, args.kms_key_arn, authorizer_logs.arn, s.partition.dns_suffix, s.partition.partition, key_ids
            ).apply(
                lambda v: authorizer_policy(
                    secret_arn=v[0],
                    kms_key_arn=v[1],
                    log_group_arn=v[2],
                    region=args.region,
                    dns_suffix=v[3],
                    api_key_arns=[api_key_arn(i, region=args.region, partition=v[4]) for i in v[5]],
                )
            ),
            opts=s.here,
        )
        authorizer_function = aws.lambda_.Function(
            child(s.name, "authorizer"),
            description=f"pulumi-llm {s.stack}/{s.name}: consumer key → usage plan and consumer name; edge key → the front",
            runtime="python3.13",
            handler="index.handler",
            code=pulumi.AssetArchive({"index.py": pulumi.StringAsset(AUTHORIZER_SOURCE)}),
            role=authorizer_role.arn,
            timeout=10,
            memory_size=128,
            environment={
                "variables": {
                    "MASTER_KEY_SECRET_ARN": master_secret.arn,
                    "EDGE_KEY_CACHE_SECONDS": str(EDGE_KEY_CACHE_SECONDS),
                    "EDGE_KEY_SWITCH_SECONDS": str(EDGE_KEY_SWITCH_SECONDS),
                    # Ids, not values: the function reads the values itself (authorizer_policy).
                    "CONSUMER_KEY_IDS": key_ids.apply(lambda ids: consumer_key_ids(dict(zip(ids, consumers, strict=True)))),
                }
            },
            logging_config={"log_format": "JSON", "log_group": authorizer_logs.name},
            tags=s.tags,
            opts=s.after(authorizer_policy_doc),
        )
        return authorizer_function, authorizer_role

    @staticmethod
    def _secret_policies(
        s: _Scope,
        secrets: dict[str, aws.secretsmanager.Secret],
        execution_role: aws.iam.Role,
        authorizer_role: aws.iam.Role,
        task_role: aws.iam.Role,
    ) -> None:
        """Each secret's resource policy: the execution role reads it, and the authorizer and the task the edge key."""
        for provider, secret in secrets.items():
            readers = [execution_role.arn] + ([authorizer_role.arn, task_role.arn] if provider == MASTER_KEY_SECRET else [])
            aws.secretsmanager.SecretPolicy(
                child(s.name, f"secret-policy-{provider}"),
                secret_arn=secret.arn,
                policy=pulumi.Output.all(*readers).apply(lambda arns: secret_resource_policy(*arns)),
                block_public_policy=True,
                opts=s.here,
            )

    @staticmethod
    def _task_role(s: _Scope, edge_secret: aws.secretsmanager.Secret) -> aws.iam.Role:
        """The engine's own role: the edge key's previous value at boot, and Bedrock models (none without
        `bedrock_model_arns`)."""
        args = s.args
        task_role = aws.iam.Role(
            child(s.name, "task-role"),
            description=f"pulumi-llm {s.stack}/{s.name}: the gateway engine (its edge key, Bedrock models)",
            assume_role_policy=s.identity.account_id.apply(ecs_tasks_trust_policy),
            tags=s.tags,
            opts=s.here,
        )
        aws.iam.RolePolicy(
            child(s.name, "task-policy"),
            role=task_role.id,
            policy=pulumi.Output.all(edge_secret.arn, args.kms_key_arn, s.partition.dns_suffix).apply(
                lambda v: task_policy(
                    args.bedrock_model_arns, edge_key_secret_arn=v[0], kms_key_arn=v[1], region=args.region, dns_suffix=v[2]
                )
            ),
            opts=s.here,
        )
        return task_role

    @staticmethod
    def _traffic(s: _Scope) -> _Traffic:
        """Security groups (NLB → tasks → self-hosted models and HTTPS out) and the internal NLB."""
        name, stack, tags, here, args = s.name, s.stack, s.tags, s.here, s.args
        nlb_sg = aws.ec2.SecurityGroup(
            child(name, "nlb-sg"),
            description=f"pulumi-llm {stack}/{name}: gateway NLB, reached only through the API Gateway VPC link",
            vpc_id=args.vpc_id,
            tags={**tags, "Name": f"{name}-nlb"},
            opts=here,
        )
        tasks_sg = aws.ec2.SecurityGroup(
            child(name, "tasks-sg"),
            description=f"pulumi-llm {stack}/{name}: gateway tasks, reached only from the NLB",
            vpc_id=args.vpc_id,
            tags={**tags, "Name": f"{name}-tasks"},
            opts=here,
        )
        allow_tcp_between(
            egress_name=child(name, f"nlb-out-{ENGINE_PORT}"),
            ingress_name=child(name, f"tasks-in-{ENGINE_PORT}"),
            source=nlb_sg.id,
            target=tasks_sg.id,
            port=ENGINE_PORT,
            egress_description="to the gateway tasks (traffic and health checks)",
            ingress_description="from the NLB only",
            opts=here,
        )
        # The self-hosted models: each one's load balancer on the port of its URL, from these tasks only.
        for endpoint in args.self_hosted_endpoints:
            allow_tcp_between(
                egress_name=child(name, f"tasks-out-{endpoint.name}-{endpoint.port}"),
                ingress_name=child(name, f"{endpoint.name}-in-{endpoint.port}"),
                source=tasks_sg.id,
                target=endpoint.security_group_id,
                port=endpoint.port,
                egress_description=f"to the self-hosted model load balancer {endpoint.name}",
                ingress_description=f"from the gateway tasks of {stack}/{name}",
                opts=here,
            )
        # LLM providers, Bedrock, Secrets Manager, CloudWatch Logs, the image registry.
        allow_https_out(
            child(name, "tasks-out-https"), security_group=tasks_sg.id, description="HTTPS to LLM providers and AWS APIs", opts=here
        )

        nlb = aws.lb.LoadBalancer(
            child(name, "nlb"),
            load_balancer_type="network",
            internal=True,
            subnets=args.private_subnet_ids,
            security_groups=[nlb_sg.id],
            # The VPC link arrives over PrivateLink: with inbound rules not enforced on it and no inbound
            # rule at all, nothing inside the VPC can reach the engine past API Gateway's keys and WAF.
            enforce_security_group_inbound_rules_on_private_link_traffic="off",
            enable_cross_zone_load_balancing=True,
            tags=tags,
            opts=here,
        )
        target_group = aws.lb.TargetGroup(
            child(name, "tg"),
            port=ENGINE_PORT,
            protocol="TCP",
            target_type="ip",
            vpc_id=args.vpc_id,
            # ECS waits this long before stopping a replaced task: in-flight streams finish.
            deregistration_delay=min(3600, args.engine_timeout_seconds),
            connection_termination=False,
            health_check={
                "enabled": True,
                "protocol": "HTTP",
                "path": LIVENESS_PATH,
                "port": "traffic-port",
                "matcher": "200",
                "interval": 10,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
            },
            tags=tags,
            opts=here,
        )
        listener = aws.lb.Listener(
            child(name, "listener"),
            load_balancer_arn=nlb.arn,
            port=80,
            protocol="TCP",
            # Idle streams (a slow provider before its first token) outlast NLB's 350 s default.
            tcp_idle_timeout_seconds=min(6000, max(350, args.integration_timeout_ms // 1000 + 60)),
            default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=tags,
            opts=here,
        )
        return _Traffic(tasks_sg=tasks_sg, nlb=nlb, target_group=target_group, listener=listener)

    @staticmethod
    def _engine(
        s: _Scope,
        secret_env: dict[str, str],
        secrets: dict[str, aws.secretsmanager.Secret],
        execution_role: aws.iam.Role,
        task_role: aws.iam.Role,
        traffic: _Traffic,
    ) -> _Engine:
        """The ECS cluster, the Fargate task definition (config in the environment, keys as ECS secrets) and
        the service behind the NLB's target group."""
        name, tags, here, args = s.name, s.tags, s.here, s.args
        cluster_name = dns_label(f"{s.base}-gw", 255)
        service_name = "litellm"
        cluster = aws.ecs.Cluster(
            child(name, "cluster"),
            name=cluster_name,
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=tags,
            opts=here,
        )
        secret_arn_by_env = {**{env: secrets[provider].arn for env, provider in secret_env.items()}, **args.external_secrets}
        envs = sorted(secret_arn_by_env)
        plain = sorted(args.environment)
        front = args.front_config_b64()

        def render(values: list[Any]) -> str:
            secret_arns = dict(zip(envs, values[: len(envs)], strict=True))
            return container_definitions(
                image=args.image,
                config_yaml=args.engine_config_yaml,
                front_config_b64=front,
                edge_key_secret_arn=secret_arns[EDGE_KEY_ENV],
                secrets=secret_arns,
                environment=dict(zip(plain, values[len(envs) :], strict=True)),
                region=args.region,
                log_group=f"{s.log_prefix}/engine",
                stream_prefix="gateway",
            )

        definitions = pulumi.Output.all(*(secret_arn_by_env[e] for e in envs), *(args.environment[e] for e in plain)).apply(render)
        task = aws.ecs.TaskDefinition(
            child(name, "task"),
            family=f"{s.base}-gateway",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(args.cpu),
            memory=str(args.memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": args.cpu_architecture},
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=definitions,
            volumes=[{"name": "tmp"}],
            tags=tags,
            opts=here,
        )
        service = aws.ecs.Service(
            child(name, "service"),
            name=service_name,
            cluster=cluster.arn,
            task_definition=task.arn,
            desired_count=args.desired,
            launch_type="FARGATE",
            platform_version="1.4.0",
            network_configuration={"subnets": args.private_subnet_ids, "security_groups": [traffic.tasks_sg.id], "assign_public_ip": False},
            load_balancers=[{"target_group_arn": traffic.target_group.arn, "container_name": CONTAINER, "container_port": ENGINE_PORT}],
            health_check_grace_period_seconds=60,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            availability_zone_rebalancing="ENABLED",
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            wait_for_steady_state=False,
            tags=tags,
            # Autoscaling owns the count; the target group must be on a listener before ECS registers tasks.
            opts=s.after(traffic.listener, ignore_changes=["desiredCount"]),
        )
        return _Engine(cluster=cluster, service=service, cluster_name=cluster_name, service_name=service_name)

    @staticmethod
    def _autoscaling(s: _Scope, engine: _Engine, traffic: _Traffic) -> None:
        """Application Auto Scaling of the service on CPU and on NLB flows (≈ open streams) per task."""
        name, here, args = s.name, s.here, s.args
        scaling = aws.appautoscaling.Target(
            child(name, "scaling-target"),
            service_namespace="ecs",
            resource_id=f"service/{engine.cluster_name}/{engine.service_name}",
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=args.min_tasks,
            max_capacity=args.max_tasks,
            tags=s.tags,
            opts=s.after(engine.service),
        )
        aws.appautoscaling.Policy(
            child(name, "scale-cpu"),
            policy_type="TargetTrackingScaling",
            service_namespace=scaling.service_namespace,
            resource_id=scaling.resource_id,
            scalable_dimension=scaling.scalable_dimension,
            target_tracking_scaling_policy_configuration={
                "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
                "target_value": args.cpu_target_percent,
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=here,
        )
        nlb_suffix = traffic.nlb.arn.apply(elb_arn_suffix)
        tg_suffix = traffic.target_group.arn.apply(elb_arn_suffix)
        aws.appautoscaling.Policy(
            child(name, "scale-flows"),
            policy_type="TargetTrackingScaling",
            service_namespace=scaling.service_namespace,
            resource_id=scaling.resource_id,
            scalable_dimension=scaling.scalable_dimension,
            target_tracking_scaling_policy_configuration={
                "customized_metric_specification": {
                    "metrics": pulumi.Output.all(nlb_suffix, tg_suffix).apply(lambda v: flows_per_task_metrics(v[0], v[1]))
                },
                "target_value": args.flows_per_task,
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=here,
        )

    @staticmethod
    def _rest_api(
        s: _Scope, nlb: aws.lb.LoadBalancer, authorizer_function: aws.lambda_.Function
    ) -> tuple[aws.apigateway.RestApi, aws.apigateway.Deployment]:
        """The REST API: VPC link to the NLB, one method per inference route (nothing else exists: any other
        path or verb is API Gateway's own 403) behind the REQUEST authorizer, each with the streaming
        HTTP_PROXY integration to the front's path, and a deployment that follows them."""
        name, stack, here, args = s.name, s.stack, s.here, s.args
        vpc_link = aws.apigateway.VpcLink(
            child(name, "vpc-link"),
            name=f"{s.base}-gateway",
            description=f"pulumi-llm {stack}/{name}: API Gateway → gateway NLB",
            target_arn=nlb.arn,
            tags=s.tags,
            opts=here,
        )
        api = aws.apigateway.RestApi(
            child(name, "api"),
            name=f"{s.base}-gateway",
            description=f"pulumi-llm {stack}: OpenAI-compatible LLM gateway (inference routes only)",
            endpoint_configuration={"types": "REGIONAL"},
            # The authorizer lifts the consumer's key out of `Authorization: Bearer …` (what OpenAI
            # clients send); API Gateway still checks it against the usage plans.
            api_key_source="AUTHORIZER",
            # With a custom domain, clients must use it (its TLS policy, its certificate).
            disable_execute_api_endpoint=args.custom_domain is not None,
            tags=s.tags,
            opts=here,
        )
        authorizer = aws.apigateway.Authorizer(
            child(name, "consumer-key"),
            name=f"{s.base}-consumer-key",
            rest_api=api.id,
            type="REQUEST",
            authorizer_uri=authorizer_function.invoke_arn,
            # Required: a request without it gets 401 from API Gateway, the function never runs.
            identity_source="method.request.header.Authorization",
            authorizer_result_ttl_in_seconds=AUTHORIZER_CACHE_SECONDS,
            opts=here,
        )
        aws.lambda_.Permission(
            child(name, "authorizer-permission"),
            action="lambda:InvokeFunction",
            function=authorizer_function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.all(api.execution_arn, authorizer.id).apply(lambda v: f"{v[0]}/authorizers/{v[1]}"),
            opts=here,
        )
        routes = decide_edge_routes()
        parts = AwsGateway._routes(s, api, authorizer, vpc_link, nlb, routes)
        # The edge's own refusals say who served them (none) and its 429s when to retry (decide_edge_refusals).
        refusals = decide_edge_refusals([c.rate_limit_rps for c in args.consumers])
        responses = [
            aws.apigateway.Response(
                child(name, f"refusal-{r.key}"),
                rest_api_id=api.id,
                response_type=r.response_type,
                status_code=str(r.status) if r.status else None,
                response_parameters=r.response_parameters(),
                response_templates={"application/json": '{"message":$context.error.messageString}'},
                opts=here,
            )
            for r in refusals
        ]
        deployment = aws.apigateway.Deployment(
            child(name, "deployment"),
            rest_api=api.id,
            description=f"pulumi-llm {stack}/{name}",
            triggers={
                "redeployment": pulumi.Output.all(vpc_link.id, authorizer.id, *(p.id for p in parts)).apply(
                    lambda ids: deployment_fingerprint(
                        ids,
                        [(r.method, r.resource_path, r.front_path) for r in routes],
                        "STREAM",
                        args.integration_timeout_ms,
                        "HTTP_PROXY",
                        True,
                        integration_request_parameters(args.consumer_header),
                        [(r.response_type, r.status, r.headers) for r in refusals],
                    )
                )
            },
            opts=s.after(*parts, *responses),
        )
        return api, deployment

    @staticmethod
    def _routes(
        s: _Scope,
        api: aws.apigateway.RestApi,
        authorizer: aws.apigateway.Authorizer,
        vpc_link: aws.apigateway.VpcLink,
        nlb: aws.lb.LoadBalancer,
        routes: Sequence[EdgeRoute],
    ) -> list[pulumi.CustomResource]:
        """The resources, methods and integrations of `routes`; returns all of them (the deployment follows)."""
        name, here, args = s.name, s.here, s.args
        resources: dict[str, aws.apigateway.Resource] = {}
        for path in resource_paths(routes):
            parent, _, part = path.rpartition("/")
            resources[path] = aws.apigateway.Resource(
                child(name, resource_key(path)),
                rest_api=api.id,
                parent_id=resources[parent].id if parent else api.root_resource_id,
                path_part=part,
                opts=here,
            )
        parts: list[pulumi.CustomResource] = list(resources.values())
        for route in routes:
            method = aws.apigateway.Method(
                child(name, route.key),
                rest_api=api.id,
                resource_id=resources[route.resource_path].id,
                http_method=route.method,
                authorization="CUSTOM",
                authorizer_id=authorizer.id,
                api_key_required=True,
                opts=here,
            )
            integration = aws.apigateway.Integration(
                child(name, f"{route.key}-integration"),
                rest_api=api.id,
                resource_id=resources[route.resource_path].id,
                http_method=method.http_method,
                type="HTTP_PROXY",
                integration_http_method=route.method,
                connection_type="VPC_LINK",
                connection_id=vpc_link.id,
                uri=nlb.dns_name.apply(lambda dns, path=route.front_path: f"http://{dns}{path}"),
                request_parameters=integration_request_parameters(args.consumer_header),
                response_transfer_mode="STREAM",
                timeout_milliseconds=args.integration_timeout_ms,
                opts=here,
            )
            parts += [method, integration]
        return parts

    @staticmethod
    def _stage(
        s: _Scope, api: aws.apigateway.RestApi, deployment: aws.apigateway.Deployment, access_logs: aws.cloudwatch.LogGroup
    ) -> aws.apigateway.Stage:
        """The stage with its JSON access log and method settings (and, if asked, the account's logging role)."""
        name, stack, tags, here, args = s.name, s.stack, s.tags, s.here, s.args
        stage_depends: list[pulumi.Resource] = []
        if args.set_account_logging_role:
            logging_role = aws.iam.Role(
                child(name, "account-logging-role"),
                description="API Gateway (this region of the account) writes CloudWatch logs",
                assume_role_policy=_policy(
                    [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]
                ),
                tags=tags,
                opts=here,
            )
            attachment = aws.iam.RolePolicyAttachment(
                child(name, "account-logging-policy"),
                role=logging_role.name,
                policy_arn=s.partition.partition.apply(
                    lambda p: f"arn:{p}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                ),
                opts=here,
            )
            stage_depends.append(
                aws.apigateway.Account(child(name, "account"), cloudwatch_role_arn=logging_role.arn, opts=s.after(attachment))
            )
        stage = aws.apigateway.Stage(
            child(name, "stage"),
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=args.stage_name,
            description=f"pulumi-llm {stack}/{name}",
            access_log_settings={"destination_arn": access_logs.arn, "format": access_log_format()},
            cache_cluster_enabled=False,  # streaming disables caching anyway; responses are per-caller
            xray_tracing_enabled=False,
            tags=tags,
            opts=s.after(*stage_depends),
        )
        aws.apigateway.MethodSettings(
            child(name, "method-settings"),
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "metrics_enabled": True,
                # Execution logs land in an unencrypted group API Gateway creates and data trace would log
                # prompts: both off; the access log above carries what operations need.
                "logging_level": "OFF",
                "data_trace_enabled": False,
                "caching_enabled": False,
                "throttling_rate_limit": args.stage_rate_limit_rps,
                "throttling_burst_limit": args.stage_burst,
            },
            opts=here,
        )
        return stage

    @staticmethod
    def _consumers(s: _Scope, api: aws.apigateway.RestApi, stage: aws.apigateway.Stage, api_keys: dict[str, aws.apigateway.ApiKey]) -> None:
        """A usage plan per consumer (its request quota and throttle, exact at the edge) holding its key."""
        name, stack, tags, here = s.name, s.stack, s.tags, s.here
        for consumer in s.args.consumers:
            plan: dict[str, Any] = {
                "throttle_settings": {"rate_limit": consumer.rate_limit_rps, "burst_limit": consumer.burst},
            }
            if consumer.quota_per_day is not None:
                plan["quota_settings"] = {"limit": consumer.quota_per_day, "period": "DAY"}
            elif consumer.quota_per_month is not None:
                plan["quota_settings"] = {"limit": consumer.quota_per_month, "period": "MONTH"}
            usage_plan = aws.apigateway.UsagePlan(
                child(name, f"usage-plan-{consumer.name}"),
                name=f"{s.base}-{consumer.name}",
                description=f"pulumi-llm {stack}/{name}: consumer {consumer.name}",
                api_stages=[{"api_id": api.id, "stage": stage.stage_name}],
                tags=tags,
                opts=here,
                **plan,
            )
            aws.apigateway.UsagePlanKey(
                child(name, f"usage-plan-key-{consumer.name}"),
                key_id=api_keys[consumer.name].id,
                key_type="API_KEY",
                usage_plan_id=usage_plan.id,
                opts=here,
            )

    @staticmethod
    def _waf(s: _Scope, stage: aws.apigateway.Stage) -> None:
        """A regional WAFv2 web ACL on the stage (large bodies allowed: prompts are large)."""
        args = s.args
        acl = aws.wafv2.WebAcl(
            child(s.name, "waf"),
            description=f"pulumi-llm {s.stack}/{s.name}: LLM gateway (large bodies allowed)",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=waf_rules(rate_limit_per_5min=args.waf_rate_limit_per_5min, metric_prefix=s.base, sampled=args.waf_sampled_requests),
            visibility_config={
                "cloudwatch_metrics_enabled": True,
                "metric_name": f"{s.base}-waf",
                "sampled_requests_enabled": args.waf_sampled_requests,
            },
            tags=s.tags,
            opts=s.here,
        )
        aws.wafv2.WebAclAssociation(child(s.name, "waf-association"), resource_arn=stage.arn, web_acl_arn=acl.arn, opts=s.here)

    @staticmethod
    def _invoke_url(
        s: _Scope, api: aws.apigateway.RestApi, stage: aws.apigateway.Stage
    ) -> tuple[pulumi.Output[str], pulumi.Output[str] | None]:
        """The URL clients call: the custom domain's (built here, with its base path) or execute-api's.
        Returns it and the domain's regional target for DNS (None without a custom domain)."""
        args = s.args
        if args.custom_domain is None:
            url = pulumi.Output.all(api.id, s.partition.dns_suffix).apply(
                lambda v: f"https://{v[0]}.execute-api.{args.region}.{v[1]}/{args.stage_name}"
            )
            return url, None
        domain = aws.apigateway.DomainName(
            child(s.name, "domain"),
            domain_name=args.custom_domain.domain_name,
            regional_certificate_arn=args.custom_domain.certificate_arn,
            endpoint_configuration={"types": "REGIONAL"},
            security_policy=DOMAIN_SECURITY_POLICY,
            tags=s.tags,
            opts=s.here,
        )
        aws.apigateway.BasePathMapping(
            child(s.name, "base-path"),
            rest_api=api.id,
            stage_name=stage.stage_name,
            domain_name=domain.domain_name,
            base_path=args.stage_name,
            opts=s.here,
        )
        return pulumi.Output.from_input(f"https://{args.custom_domain.domain_name}/{args.stage_name}"), domain.regional_domain_name

    @staticmethod
    def _rotation(s: _Scope, secrets: dict[str, aws.secretsmanager.Secret], engine: _Engine) -> None:
        """A changed secret redeploys the service: an EventBridge rule on the CloudTrail events that change
        these secrets, and a Lambda that forces a new ECS deployment."""
        name, stack, tags, here, args = s.name, s.stack, s.tags, s.here, s.args
        cluster_name, service_name = engine.cluster_name, engine.service_name
        redeploy_logs = s.log_group("redeploy")
        service_arn = pulumi.Output.all(s.partition.partition, s.identity.account_id).apply(
            lambda v: f"arn:{v[0]}:ecs:{args.region}:{v[1]}:service/{cluster_name}/{service_name}"
        )
        redeploy_role = aws.iam.Role(
            child(name, "redeploy-role"),
            description=f"pulumi-llm {stack}/{name}: redeploy the gateway when a secret changes",
            assume_role_policy=_policy([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
            tags=tags,
            opts=here,
        )
        aws.iam.RolePolicy(
            child(name, "redeploy-policy"),
            role=redeploy_role.id,
            policy=pulumi.Output.all(service_arn, redeploy_logs.arn).apply(lambda v: redeploy_policy(service_arn=v[0], log_group_arn=v[1])),
            opts=here,
        )
        function = aws.lambda_.Function(
            child(name, "redeploy"),
            description=f"pulumi-llm {stack}/{name}: force a new gateway deployment after a secret change",
            runtime="python3.13",
            handler="index.handler",
            code=pulumi.AssetArchive({"index.py": pulumi.StringAsset(REDEPLOY_HANDLER)}),
            role=redeploy_role.arn,
            timeout=30,
            memory_size=128,
            environment={"variables": {"CLUSTER": cluster_name, "SERVICE": service_name}},
            logging_config={"log_format": "JSON", "log_group": redeploy_logs.name},
            tags=tags,
            opts=here,
        )
        rule = aws.cloudwatch.EventRule(
            child(name, "secret-changed"),
            name=f"{s.base}-secret-changed"[:64],
            description=f"pulumi-llm {stack}/{name}: a gateway secret got a new value",
            event_pattern=pulumi.Output.all(*(secrets[p].arn for p in sorted(secrets))).apply(
                lambda arns: rotation_event_pattern([secret_name(stack, p) for p in sorted(secrets)], arns)
            ),
            tags=tags,
            opts=here,
        )
        permission = aws.lambda_.Permission(
            child(name, "redeploy-permission"),
            action="lambda:InvokeFunction",
            function=function.arn,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=here,
        )
        aws.cloudwatch.EventTarget(
            child(name, "secret-changed-target"),
            rule=rule.name,
            arn=function.arn,
            retry_policy={"maximum_retry_attempts": 4, "maximum_event_age_in_seconds": 3600},
            opts=s.after(permission),
        )

    @staticmethod
    def _alarms(s: _Scope, api: aws.apigateway.RestApi, stage: aws.apigateway.Stage, engine: _Engine) -> aws.cloudwatch.Dashboard:
        """API Gateway 5XX/4XX rates and p99 latency, ECS CPU and tasks below desired, the two fallback
        alarms of each hybrid route (from the front's EMF metrics), and one dashboard of them."""
        name, stack, args = s.name, s.stack, s.args
        thresholds = args.alert_thresholds
        key = dns_label(name)
        alarm_definitions = cloudwatch.api_gateway_alarms(
            key,
            api_name=api.name,
            stage=stage.stage_name,
            latency_slo_ms=args.latency_alarm_ms,
            error_rate_5xx=thresholds.error_rate_5xx,
            error_rate_4xx=thresholds.error_rate_4xx,
        ) + cloudwatch.ecs_service_alarms(
            key, cluster_name=engine.cluster_name, service_name=engine.service_name, cpu_percent=thresholds.cpu_percent
        )
        resource_names = [child(name, "alarm-" + d["key"].removeprefix(key + "-")) for d in alarm_definitions]
        for alarm in decide_fallback_alarms(args.spec, where=args.config_path):
            by_kind = fallback_alarm_definitions(
                stack=stack, group=alarm.group, share_percent=alarm.share_percent, window_minutes=alarm.window_minutes
            )
            for kind in contract.ALARM_KINDS:
                alarm_definitions.append(by_kind[kind])
                resource_names.append(alarm_resource_name(name, kind, alarm.group))
        cloudwatch.check_alarms(alarm_definitions)
        actions = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
        alarm_arns: list[pulumi.Output[str]] = []
        for resource_name, definition in zip(resource_names, alarm_definitions, strict=True):
            settings = {k: v for k, v in definition.items() if k not in ("key", "title")}
            alarm = aws.cloudwatch.MetricAlarm(
                resource_name,
                alarm_actions=actions,
                ok_actions=actions,
                tags=s.tags,
                opts=s.here,
                **settings,
            )
            alarm_arns.append(alarm.arn)
        # One page per gateway: alarm states, then each alarm's metric with its threshold drawn.
        return aws.cloudwatch.Dashboard(
            child(name, "dashboard"),
            dashboard_name=f"{s.base}-gateway"[:255],
            dashboard_body=pulumi.Output.all(pulumi.Output.from_input(alarm_definitions), *alarm_arns).apply(
                lambda v: cloudwatch.dashboard_body(v[0], region=args.region, title=f"pulumi-llm {stack}: {name} gateway", alarm_arns=v[1:])
            ),
            opts=s.here,
        )


# Names before 0.2.0 (docs/ARCHITECTURE.md, "Names"): served with a DeprecationWarning until 0.3.0.
__getattr__ = module_aliases(
    __name__,
    globals(),
    {
        "GatewayAlarmThresholds": "GatewayAlertThresholds",
    },
)
