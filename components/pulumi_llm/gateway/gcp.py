"""GcpGateway: the gateway's front and LiteLLM on Cloud Run behind a global external HTTPS load balancer,
keys in Secret Manager.

Request path::

    client ──HTTPS (TLS 1.2+), Authorization: Bearer <consumer key>──▶ global external Application Load
           Balancer (Cloud Armor; URL map: only front_contract.INFERENCE_ROUTES' paths, else 404 there)
           ──serverless NEG──▶ Cloud Run service (ingress: internal load balancer only): the front checks the
           consumer's key and grant, streams self-hosted routes itself (Direct VPC egress), hands provider
           routes to LiteLLM on 127.0.0.1 ──HTTPS──▶ OpenAI / Anthropic / … and Vertex AI

Identity (front_contract.IDENTITY_KEYS): the load balancer authenticates nobody, so the front checks each
consumer's own key, read from the file its secret is mounted at, and enforces the consumer's grant (models,
max_tokens cap, requests and tokens per minute and day) before anything behind it is called. No client holds
LiteLLM's master key: the front makes it at boot and only LiteLLM's process gets it.

Why not API Gateway: its deadline defaults to 15 s, streaming is still in preview and pulumi_gcp 10.2
has no setting for it, so responses would be buffered. The load balancer streams server-sent events
through, and a Cloud Run request may run up to 3,600 s.

Children (Pulumi names ``<name>-<role>``):

* key: the customer-managed key everything below is encrypted with — ``kms_key`` (the stack's, e.g. the
  model store's) or, when none is given, the gateway's own key ring and key (security/gcp.py);
* image: an Artifact Registry REMOTE repository proxying ghcr.io (Cloud Run cannot pull from ghcr.io),
  encrypted with the stack's key; the service runs the pinned LiteLLM image from it by digest;
* secrets: one Secret Manager secret per provider (``pulumi-llm-<stack>-<provider>``) and one per consumer's
  key (``pulumi-llm-<stack>-consumer-<name>``), user-managed replication in the region, encrypted with the
  stack's key, with delayed version destruction, and NO version: values are written out of band by
  ``pulumi-llm secrets put`` and never pass through Pulumi;
* identity: the runtime service account, ``roles/secretmanager.secretAccessor`` on exactly those secrets
  (secret-level members, never project-wide) and, with Vertex AI, ``roles/aiplatform.user`` on the
  project (Vertex AI offers that role at project level only: there is no per-model resource to scope it to);
  the key's IAM lets the Artifact Registry, Secret Manager and Cloud Run service agents use it;
* engine: the Cloud Run v2 service (internal-load-balancer ingress, gen2, the request timeout of the
  budget, at least ``PROD_MIN_INSTANCES`` warm instances in prod with CPU always allocated, concurrency,
  secrets mounted as files at version ``latest``, both configs in environment variables) and, with
  ``vpc_egress``, Direct VPC egress into the stack's VPC for private ranges only (``PRIVATE_RANGES_ONLY``):
  self-hosted models behind internal load balancers are reached through the VPC, providers straight from
  Cloud Run;
* traffic: a global address, a serverless NEG, a backend service (logs without bodies) with a Cloud Armor
  policy (preconfigured WAF rules, body-inspecting ones in preview, a per-IP throttle), a managed
  certificate (or yours), an SSL policy (TLS 1.2+), a URL map that routes only the inference paths, HTTPS
  proxy, forwarding rule, and an HTTP→HTTPS redirect;
* monitoring: alert policies (5xx ratio, p99 request latency, instance count near the maximum), the
  who-served log-based counters and, per hybrid group, its two fallback alert policies
  (``gcp_alarms``), and a dashboard.

The request timeout budget: client > Cloud Run request timeout (= the load balancer's: a backend service
with a serverless NEG takes no ``timeout_sec`` of its own; GCP rejects one, so Cloud Run's timeout is the
load balancer's too) > engine timeout ≥ the config's ``litellm_settings.request_timeout``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import pulumi
import pulumi_gcp as gcp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..errors import UserError
from ..labels import CommonLabels, gcp_labels
from ..naming import child, dns_label
from ..security.gcp import ENCRYPTER_DECRYPTER, crypto_key
from ..validation import GCP_PROJECT as _PROJECT
from ..validation import GCP_REGION as _REGION
from ..validation import HOSTNAME, SHA256_DIGEST, SHORT_NAME
from . import config as engine_config
from . import consumer_key_secret
from . import gcp_alarms as alarms
from .engine import BOOT_WITH_SECRET_FILES as BOOT
from .engine import (
    CONFIG_ENV,
    CONTAINER,
    ENGINE_PORT,
    FRONT_CONFIG_ENV,
    LIVENESS_PATH,
    MASTER_KEY_ENV,
    MASTER_KEY_SECRET,
    READINESS_PATH,
    SECRET_FILES_ENV,
    SECRET_PREFIX,
    check_plain_env,
    check_secret_env,
    encode_front_config,
)
from .engine import (
    MAX_CONFIG_BYTES as MAX_CONFIG_BYTES,
)
from .engine import RESERVED_ENV as ENGINE_RESERVED_ENV
from .engine import secret_id as secret_id
from .fallback_alarms import FallbackAlarm, alarm_resource_name
from .front_contract import ALARM_FALLBACK_SHARE, ALARM_KINDS, IDENTITY_KEYS, INFERENCE_ROUTES

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""

SECRETS_DIR = "/secrets"
SECRET_FILE = "value"
MAX_REQUEST_TIMEOUT = 3600
"""Cloud Run's longest request timeout (60 minutes)."""
UPSTREAM_REGISTRY = "https://ghcr.io"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
VERTEX_ROLE = "roles/aiplatform.user"
KMS_ROLE = ENCRYPTER_DECRYPTER
CPU_MEMORY_MIN_GIB = {"1": 0.5, "2": 1, "4": 2, "6": 4, "8": 4}
"""Cloud Run CPU limits and the least memory each needs (GiB)."""
PROD_MIN_INSTANCES = 2
"""Warm instances in prod: losing one must not cut every open stream, and the front keeps its rate windows and
re-reads consumer keys per instance, which only an instance that stays up (and keeps its CPU) can do."""

INFERENCE_PATHS: tuple[str, ...] = tuple(sorted({path for _method, path in INFERENCE_ROUTES}))
"""The only paths the load balancer sends to Cloud Run (front_contract.INFERENCE_ROUTES; the front refuses a
wrong method on them). Path rules without a `*` match the whole path exactly; the query string is not part
of it (pulumi_gcp 10.2 URLMapPathMatcherPathRule.paths)."""

NOT_FOUND_STATUS = 404
"""What every other path gets, from the load balancer itself, without calling the backend (`decide_lb_route`)."""

PATH_MATCHER = "inference"

DRAIN_SECONDS = 8.0
"""The front's `drain_seconds` on Cloud Run: an instance is killed 10 s after SIGTERM (Cloud Run container
runtime contract, "Instance shutdown"), so open requests get 8 of them and the front 2 to stop LiteLLM."""

RESERVED_ENV = ENGINE_RESERVED_ENV | {SECRET_FILES_ENV, "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}

# Cloud Armor preconfigured WAF rules (ModSecurity CRS 3.3). The ones that read request bodies flag
# ordinary prompts (code, SQL, shell lines, file paths), so they run in preview (logged, not enforced:
# Cloud Armor's "count" mode) until tuned on real traffic; header and protocol rules block.
WAF_RULES: tuple[str, ...] = (
    "sqli",
    "xss",
    "lfi",
    "rfi",
    "rce",
    "methodenforcement",
    "scannerdetection",
    "protocolattack",
    "sessionfixation",
)
WAF_ENFORCED_DEFAULT: tuple[str, ...] = ("methodenforcement", "scannerdetection", "protocolattack")
WAF_VERSION = "v33-stable"
RATE_RULE_PRIORITY = 900
WAF_RULE_PRIORITY = 1000
DEFAULT_RULE_PRIORITY = 2147483647

_MEMORY = re.compile(r"^(\d+)(Mi|Gi)$")


# ---------------------------------------------------------------------------------------------
# Args
# ---------------------------------------------------------------------------------------------


class GatewayAlertThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate_5xx: float = Field(default=0.05, description="Share of 5xx responses over 5 minutes. Default 0.05.")
    latency_p99_seconds: float | None = Field(
        default=None, description="p99 request latency (a stream's whole duration). Default: 90% of request_timeout_seconds."
    )
    instances_share: float = Field(default=0.8, description="Alert when instances exceed this share of max_instances. Default 0.8.")


class VpcEgress(BaseModel):
    """Direct VPC egress of the Cloud Run service: the subnet its instances take addresses from."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    network: StrInput = Field(description="VPC network id or self link (Input). Required.")
    subnetwork: StrInput = Field(description="Subnet id or self link in the service's region, /26 or larger (Input). Required.")
    network_tags: tuple[str, ...] = Field(default=(), description="Network tags the instances carry (for firewall rules). Default none.")


class GcpGatewayArgs(BaseModel):
    """Everything GcpGateway needs. Validation is pure and fails with one UserError line naming
    `config_path` and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack (its stack name names the secrets). Required.")
    project: str = Field(description="Google Cloud project id (the provider's). Required.")
    region: str = Field(description="Region of Cloud Run, the repository and the secrets' replica. Required.")
    kms_key: StrInput | None = Field(
        default=None,
        description=(
            "Cloud KMS crypto key id in `region` (Input): repository, secrets, Cloud Run. "
            "Default: the gateway's own key ring and key (`<name>-keyring`, `<name>-key`, rotated every 90 days)."
        ),
    )
    engine_config_yaml: str = Field(description="Rendered LiteLLM config (gateway.config): keys only as os.environ/<ENV>. Required.")
    provider_secrets: dict[str, str] = Field(
        default_factory=dict, description="Env var → provider secret short name, e.g. {'OPENAI_API_KEY': 'openai'}. Default none."
    )
    environment: dict[str, StrInput] = Field(
        default_factory=dict,
        description="Non-secret environment (e.g. VERTEXAI_PROJECT, or a self-hosted model's URL as an Input). Default none.",
    )
    front_config: dict[str, Any] = Field(
        description=(
            "The front's config, identity keys: engine.front_config(spec, identity='keys', stack=<stack>, "
            "consumer_key_files=gcp.consumer_key_files(<consumer names>)). Each of its consumers gets the Secret Manager "
            "secret `pulumi-llm-<stack>-consumer-<name>` (no value: `pulumi-llm secrets put consumer-<name>`), mounted "
            "where the front reads the key. Required."
        ),
    )
    fallback_alarms: tuple[FallbackAlarm, ...] = Field(
        default=(),
        description="Hybrid groups' alarms (fallback_alarms.decide_fallback_alarms): two alert policies each. Default none.",
    )
    vpc_egress: VpcEgress | None = Field(
        default=None, description="Direct VPC egress (private ranges only) to reach self-hosted models in the VPC. Default none."
    )
    vertex_ai: bool = Field(
        default=False, description="Let the runtime account call Vertex AI (roles/aiplatform.user on the project). Default false."
    )
    domains: tuple[str, ...] = Field(
        default=(), description="Domains of the Google-managed certificate (point their DNS at `ip_address`). Default none."
    )
    ssl_certificates: tuple[StrInput, ...] = Field(
        default=(), description="Your own compute SslCertificate ids instead of (or besides) the managed one. Default none."
    )
    ssl_profile: Literal["MODERN", "RESTRICTED"] = Field(
        default="MODERN", description="SSL policy profile (TLS 1.2 minimum either way). Default MODERN."
    )
    http_redirect: bool = Field(default=True, description="Answer port 80 with a redirect to HTTPS. Default true.")
    image: pins.ImagePin = Field(default=pins.LITELLM, description="LiteLLM image on ghcr.io, pinned by digest. Default pins.LITELLM.")
    cpu: Literal["1", "2", "4", "6", "8"] = Field(default="2", description="vCPUs per instance. Default 2.")
    memory: str = Field(default="2Gi", description="Memory per instance (Mi or Gi). Default 2Gi.")
    min_instances: int | None = Field(
        default=None,
        ge=0,
        description=f"Warm instances; prod needs at least {PROD_MIN_INSTANCES}. Default: {PROD_MIN_INSTANCES} in prod, 0 elsewhere.",
    )
    max_instances: int = Field(default=10, ge=1, le=1000, description="Most instances. Default 10.")
    concurrency: int = Field(default=80, ge=1, le=1000, description="Concurrent requests (open streams) per instance. Default 80.")
    client_timeout_seconds: int = Field(
        default=900, ge=1, description="How long clients wait (documented for them; must exceed the request timeout). Default 900."
    )
    request_timeout_seconds: int = Field(
        default=600, ge=1, description=f"Cloud Run request timeout, also the load balancer's, at most {MAX_REQUEST_TIMEOUT}. Default 600."
    )
    engine_timeout_seconds: int = Field(
        default=570, ge=1, description="The engine's request timeout (litellm request_timeout); below the request timeout. Default 570."
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per client IP per minute before Cloud Armor answers 429. Default 600."
    )
    waf_enforced: tuple[str, ...] = Field(
        default=WAF_ENFORCED_DEFAULT,
        description=f"WAF rules that block (others run in preview): of {', '.join(WAF_RULES)}. Default {', '.join(WAF_ENFORCED_DEFAULT)}.",
    )
    notification_channels: tuple[StrInput, ...] = Field(
        default=(), description="Cloud Monitoring notification channel ids for the alerts. Default none."
    )
    dashboard_widgets: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="More charts at the end of the stack's dashboard (Cloud Monitoring dashboard widgets, e.g. "
        "gpu_vm.gcp_boot.router_widgets). Default none.",
    )
    alert_thresholds: GatewayAlertThresholds = Field(default_factory=GatewayAlertThresholds, description="Alert thresholds.")
    secret_destroy_delay_days: int = Field(
        default=30, ge=1, le=1000, description="Days a destroyed secret version stays recoverable (delayed destruction). Default 30."
    )
    grant_key_access: bool = Field(
        default=True, description="Let the Artifact Registry, Secret Manager and Cloud Run service agents use the key. Default true."
    )
    key_grants: dict[str, pulumi.Resource] = Field(
        default_factory=dict[str, pulumi.Resource],
        description=(
            "Grants on `kms_key` its owner already made, per service agent (artifactregistry, secretmanager, run): the "
            "gateway makes none of its own for these (two resources managing one IAM member: destroying either removes "
            "it for both) and its children wait for the given one. Default none."
        ),
    )
    deletion_protection: bool = Field(default=True, description="Protect the service and the secrets from deletion. Default true.")
    config_path: str = Field(default="gateway", description="Key path named in error messages. Default 'gateway'.")

    @model_validator(mode="after")
    def _check(self) -> GcpGatewayArgs:
        where = self.config_path
        if not _PROJECT.match(self.project):
            raise UserError(
                f"{where}.project = {self.project!r}: not a Google Cloud project id (6-30 of [a-z0-9-], starting with a letter)"
            )
        if not _REGION.match(self.region):
            raise UserError(f"{where}.region = {self.region!r}: not a Google Cloud region such as us-central1")
        _check_env(self, where)
        check_timeouts(
            client=self.client_timeout_seconds,
            request=self.request_timeout_seconds,
            engine=self.engine_timeout_seconds,
            where=where,
        )
        if not self.image.repository.startswith("ghcr.io/"):
            raise UserError(f"{where}.image = {self.image.ref}: the remote repository proxies ghcr.io; pick a ghcr.io image")
        if not SHA256_DIGEST.match(self.image.digest):
            raise UserError(f"{where}.image = {self.image.ref}: pin the image by digest (sha256:…)")
        memory = _MEMORY.match(self.memory)
        if not memory:
            raise UserError(f"{where}.memory = {self.memory!r}: a size such as 512Mi or 2Gi")
        gib = int(memory.group(1)) / (1024 if memory.group(2) == "Mi" else 1)
        if gib < CPU_MEMORY_MIN_GIB[self.cpu] or gib > 32:
            raise UserError(
                f"{where}.memory = {self.memory}: with cpu {self.cpu}, Cloud Run needs {CPU_MEMORY_MIN_GIB[self.cpu]:g} to 32 GiB"
            )
        if self.labels.environment == "prod" and self.min_instances is not None and self.min_instances < PROD_MIN_INSTANCES:
            raise UserError(
                f"{where}.min_instances = {self.min_instances}: prod keeps at least {PROD_MIN_INSTANCES} warm instances "
                "(one lost instance must not cut every stream, and cold starts cut the first ones)"
            )
        if self.min_count > self.max_instances:
            raise UserError(f"{where}.min_instances = {self.min_count}: above max_instances = {self.max_instances}")
        _check_front(self.front_config, where)
        if not self.domains and not self.ssl_certificates:
            raise UserError(f"{where}.domains: give the gateway's domain(s) for a managed certificate, or ssl_certificates")
        for domain in self.domains:
            if not HOSTNAME.match(domain):
                raise UserError(f"{where}.domains = {domain!r}: not a lower-case DNS name such as llm.example.com")
        for rule in self.waf_enforced:
            if rule not in WAF_RULES:
                raise UserError(f"{where}.waf_enforced = {rule!r}: not a WAF rule here; allowed: {', '.join(WAF_RULES)}")
        thresholds = self.alert_thresholds
        if not 0 < thresholds.error_rate_5xx < 1:
            raise UserError(f"{where}.alert_thresholds.error_rate_5xx = {thresholds.error_rate_5xx}: a fraction between 0 and 1, e.g. 0.05")
        if not 0 < thresholds.instances_share <= 1:
            raise UserError(f"{where}.alert_thresholds.instances_share = {thresholds.instances_share}: a fraction above 0, at most 1")
        check_engine_config(
            self.engine_config_yaml,
            available_env=set(self.provider_secrets) | set(self.environment) | {MASTER_KEY_ENV},
            engine_timeout_seconds=self.engine_timeout_seconds,
            where=f"{where}.engine_config_yaml",
        )
        return self

    @property
    def min_count(self) -> int:
        if self.min_instances is not None:
            return self.min_instances
        return PROD_MIN_INSTANCES if self.labels.environment == "prod" else 0

    @property
    def secrets(self) -> dict[str, str]:
        """Env var → provider secret short name. No master key: the boot makes LiteLLM's per boot and only the
        front, in the same container, holds it (gateway.config.secret_envs lists the master key's pair; dropped)."""
        return {env: short for env, short in self.provider_secrets.items() if (env, short) != (MASTER_KEY_ENV, MASTER_KEY_SECRET)}

    @property
    def consumers(self) -> tuple[str, ...]:
        """The consumers of the front's config, sorted: one key secret each."""
        return tuple(sorted(cast(dict[str, str], self.front_config["consumer_key_files"])))

    @property
    def consumer_secrets(self) -> dict[str, str]:
        """Consumer → the short name of the secret holding its key (`consumer-<name>`)."""
        return {consumer: consumer_key_secret(consumer) for consumer in sorted(self.consumers)}

    @property
    def latency_alert_seconds(self) -> float:
        chosen = self.alert_thresholds.latency_p99_seconds
        return chosen if chosen is not None else round(self.request_timeout_seconds * 0.9, 1)


def _check_front(front: Mapping[str, Any], where: str) -> None:
    """Identity keys, at least one consumer, each consumer's key file where this component mounts its secret, and
    a config that fits the service's environment."""
    at = f"{where}.front_config"
    if front.get("identity") != IDENTITY_KEYS:
        raise UserError(
            f"{at}.identity = {front.get('identity')!r}: GCP's load balancer authenticates nobody, so the front checks "
            f"consumer keys itself; render it with identity={IDENTITY_KEYS!r}"
        )
    files: object = front.get("consumer_key_files")
    if not isinstance(files, dict) or not files:
        raise UserError(f"{at}.consumer_key_files: give every consumer's key file (gcp.consumer_key_files); at least one consumer")
    for consumer, path in sorted(cast(dict[object, object], files).items(), key=str):
        if not isinstance(consumer, str) or not SHORT_NAME.match(consumer):
            raise UserError(f"{at}.consumer_key_files.{consumer}: a consumer is lower-case letters, digits and '-' (at most 40)")
        if path != secret_path(consumer_key_secret(consumer)):
            raise UserError(
                f"{at}.consumer_key_files.{consumer} = {path!r}: the key secret is mounted at "
                f"{secret_path(consumer_key_secret(consumer))} (gcp.consumer_key_files)"
            )
    encode_front_config(front, where=at)


def _check_env(args: GcpGatewayArgs, where: str) -> None:
    check_secret_env(args.provider_secrets, reserved=RESERVED_ENV, where=where, master_pair_allowed=True)
    check_plain_env(args.environment, key="environment", taken=RESERVED_ENV | set(args.provider_secrets), where=where)


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def check_timeouts(*, client: int, request: int, engine: int, where: str) -> None:
    """client > Cloud Run request timeout (= the load balancer's) > engine, and Cloud Run ≤ 3600 s."""
    if request > MAX_REQUEST_TIMEOUT:
        raise UserError(f"{where}.request_timeout_seconds = {request}: Cloud Run allows at most {MAX_REQUEST_TIMEOUT} s (60 minutes)")
    if request <= engine:
        raise UserError(
            f"{where}.request_timeout_seconds = {request}: must be above {where}.engine_timeout_seconds = {engine}, "
            "or Cloud Run and the load balancer cut requests the engine is still serving"
        )
    if client <= request:
        raise UserError(
            f"{where}.client_timeout_seconds = {client}: must be above {where}.request_timeout_seconds = {request}, "
            "or clients give up before the gateway answers"
        )


def vpc_access(egress: VpcEgress) -> gcp.cloudrunv2.ServiceTemplateVpcAccessArgsDict:
    """Cloud Run v2 `template.vpc_access` (pulumi_gcp input shape): Direct VPC egress, no connector, and
    only private ranges through the VPC (providers' public APIs stay on Cloud Run's own egress)."""
    interface: gcp.cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgsDict = {
        "network": egress.network,
        "subnetwork": egress.subnetwork,
    }
    if egress.network_tags:
        interface["tags"] = list(egress.network_tags)
    return {"network_interfaces": [interface], "egress": "PRIVATE_RANGES_ONLY"}


def secret_mount(provider: str) -> str:
    """The directory a secret is mounted at; its value is the file `value` inside."""
    return f"{SECRETS_DIR}/{provider}"


def secret_path(short: str) -> str:
    """The file a secret's value is read from (its mount directory's `value`)."""
    return f"{secret_mount(short)}/{SECRET_FILE}"


def consumer_key_files(consumers: Sequence[str]) -> dict[str, str]:
    """Consumer → the file its key secret is mounted at: what `engine.front_config(consumer_key_files=…)` takes."""
    return {consumer: secret_path(consumer_key_secret(consumer)) for consumer in sorted(consumers)}


def secret_files(secrets: dict[str, str]) -> dict[str, str]:
    """Env var → file the boot script reads it from."""
    return {env: secret_path(provider) for env, provider in sorted(secrets.items())}


def not_found_action() -> gcp.compute.URLMapPathMatcherDefaultRouteActionArgsDict:
    """The route action that answers 404 at the load balancer. A URL map has no fixed-response action; aborting
    100 % of requests (routeAction.faultInjectionPolicy: Compute API urlMaps, HttpRouteAction — supported by the
    global external Application Load Balancer, not the classic one) is the one answer that calls no backend."""
    return {"fault_injection_policy": {"abort": {"http_status": NOT_FOUND_STATUS, "percentage": 100.0}}}


def path_matcher(service: StrInput) -> gcp.compute.URLMapPathMatcherArgsDict:
    """The URL map's one path matcher (pulumi_gcp input shape): `INFERENCE_PATHS` to `service`, anything else
    404 at the load balancer. `default_service` stays set because a matcher needs a default; the abort
    action answers before it would be called."""
    return {
        "name": PATH_MATCHER,
        "default_service": service,
        "default_route_action": not_found_action(),
        "path_rules": [{"paths": list(INFERENCE_PATHS), "service": service}],
    }


def decide_lb_route(matcher: Mapping[str, Any], path: str) -> str | int:
    """What the load balancer does with a request path under `matcher` (`path_matcher`'s shape, or the same
    matcher as a plan records it, in camelCase): the service it is sent to, or the status it answers itself.
    The query string is not matched; a rule path without `*` matches exactly, one ending in `/*` matches that
    prefix (the longest match wins). The tests' edge stand-in routes by it."""

    def get(node: object, snake: str) -> object:
        if not isinstance(node, Mapping):
            return None
        fields = cast(Mapping[str, object], node)
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), snake)
        return fields.get(snake, fields.get(camel))

    bare = path.split("?", 1)[0].split("#", 1)[0]
    best: tuple[int, str] | None = None
    for rule in cast(list[Mapping[str, object]], get(matcher, "path_rules") or []):
        for pattern in cast(list[str], rule["paths"]):
            hit = bare.startswith(pattern[:-1]) if pattern.endswith("/*") else bare == pattern
            if hit and (best is None or len(pattern) > best[0]):
                best = (len(pattern), str(rule["service"]))
    if best is not None:
        return best[1]
    abort = get(get(get(matcher, "default_route_action"), "fault_injection_policy"), "abort")
    status = get(abort, "http_status")
    if get(abort, "percentage") == 100 and isinstance(status, int):
        return status
    return str(get(matcher, "default_service"))


def remote_image(region: str, project: str, repository_id: str, pin: pins.ImagePin) -> str:
    """The pinned image through the remote repository: the ghcr.io path below the repository, by digest."""
    path = pin.repository.split("/", 1)[1]
    return f"{region}-docker.pkg.dev/{project}/{repository_id}/{path}@{pin.digest}"


def check_engine_config(text: str, *, available_env: set[str], engine_timeout_seconds: int, where: str) -> dict[str, Any]:
    """`config.check_engine_config` for a config carried in the Cloud Run service's environment."""
    return engine_config.check_engine_config(
        text,
        available_env=available_env,
        engine_timeout_seconds=engine_timeout_seconds,
        where=where,
        carrier="the environment",
        holder="service",
        store="Secret Manager",
    )


def armor_rules(*, rate_limit_per_minute: int, enforced: Sequence[str]) -> list[gcp.compute.SecurityPolicyRuleArgsDict]:
    """Cloud Armor rules (pulumi_gcp input shape): a per-IP throttle, the WAF rules, allow the rest."""
    everyone: gcp.compute.SecurityPolicyRuleMatchArgsDict = {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}}
    rules: list[gcp.compute.SecurityPolicyRuleArgsDict] = [
        {
            "priority": RATE_RULE_PRIORITY,
            "action": "throttle",
            "description": f"At most {rate_limit_per_minute} requests per client IP per minute, then 429",
            "match": everyone,
            "rate_limit_options": {
                "conform_action": "allow",
                "exceed_action": "deny(429)",
                "enforce_on_key": "IP",
                "rate_limit_threshold": {"count": rate_limit_per_minute, "interval_sec": 60},
            },
        }
    ]
    for index, rule in enumerate(WAF_RULES):
        preview = rule not in enforced
        rules.append(
            {
                "priority": WAF_RULE_PRIORITY + index,
                "action": "deny(403)",
                "preview": preview,
                "description": f"WAF {rule}-{WAF_VERSION}" + (" (preview: logged, not enforced)" if preview else ""),
                "match": {"expr": {"expression": f"evaluatePreconfiguredWaf('{rule}-{WAF_VERSION}', {{'sensitivity': 1}})"}},
            }
        )
    rules.append({"priority": DEFAULT_RULE_PRIORITY, "action": "allow", "description": "Everything else", "match": everyone})
    return rules


def _run_filter(service: str, metric: str, extra: str = "") -> str:
    base = f'resource.type = "cloud_run_revision" AND resource.labels.service_name = "{service}" AND metric.type = "{metric}"'
    return f"{base} AND {extra}" if extra else base


def alert_conditions(
    service: str, *, error_rate: float, latency_ms: float, instances: float
) -> dict[str, gcp.monitoring.AlertPolicyConditionArgsDict]:
    """The three alert conditions (pulumi_gcp input shape) by key."""

    def aggregate(aligner: str, reducer: str) -> list[gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgsDict]:
        return [{"alignment_period": "300s", "per_series_aligner": aligner, "cross_series_reducer": reducer}]

    requests = "run.googleapis.com/request_count"
    return {
        "5xx-ratio": {
            "display_name": f"{service}: 5xx share above {error_rate:g}",
            "condition_threshold": {
                "filter": _run_filter(service, requests, 'metric.labels.response_code_class = "5xx"'),
                "denominator_filter": _run_filter(service, requests),
                "aggregations": aggregate("ALIGN_RATE", "REDUCE_SUM"),
                "denominator_aggregations": aggregate("ALIGN_RATE", "REDUCE_SUM"),
                "comparison": "COMPARISON_GT",
                "threshold_value": error_rate,
                "duration": "300s",
                "trigger": {"count": 1},
            },
        },
        "latency-p99": {
            "display_name": f"{service}: p99 request latency above {latency_ms:g} ms",
            "condition_threshold": {
                "filter": _run_filter(service, "run.googleapis.com/request_latencies"),
                "aggregations": aggregate("ALIGN_PERCENTILE_99", "REDUCE_MAX"),
                "comparison": "COMPARISON_GT",
                "threshold_value": latency_ms,
                "duration": "300s",
                "trigger": {"count": 1},
            },
        },
        "instances": {
            "display_name": f"{service}: instances above {instances:g}",
            "condition_threshold": {
                "filter": _run_filter(service, "run.googleapis.com/container/instance_count"),
                "aggregations": aggregate("ALIGN_MAX", "REDUCE_SUM"),
                "comparison": "COMPARISON_GT",
                "threshold_value": instances,
                "duration": "600s",
                "trigger": {"count": 1},
            },
        },
    }


def fallback_runbook(kind: str, alarm: FallbackAlarm, stack: str) -> str:
    """What the on-call reads on a fallback alert: what it means and where to look."""
    what = (
        f"More than {alarm.share_percent:g}% of `{alarm.group}` requests were answered by a fallback or a provider"
        if kind == ALARM_FALLBACK_SHARE
        else f"`{alarm.group}` received requests but no self-hosted deployment answered one with a 2xx"
    )
    return (
        f"{what} over the last {alarm.window_minutes} minutes (stack {stack}). Clients still get answers, from the "
        "provider: prompts leave the stack and the provider is paid. Check the self-hosted model servers (up, ready, "
        "reachable through the gateway's VPC egress) and the gateway's request lines (`jsonPayload.route`, "
        "`jsonPayload.served_by`, `jsonPayload.deployment`)."
    )


def dashboard(service: str, backend: str, extra: Sequence[dict[str, Any]] = ()) -> str:
    """Cloud Monitoring dashboard JSON: requests by class, latency p50/p99, instances, LB requests, then
    `extra` widgets (who served the requests, the hybrid groups' fallback shares)."""

    def chart(title: str, metric: str, aligner: str, reducer: str, group_by: Sequence[str] = (), *, lb: bool = False) -> dict[str, Any]:
        if lb:
            flt = (
                'resource.type = "https_lb_rule" AND metric.type = "loadbalancing.googleapis.com/https/request_count" '
                f'AND resource.labels.backend_target_name = "{backend}"'
            )
        else:
            flt = _run_filter(service, metric)
        aggregation: dict[str, Any] = {"alignmentPeriod": "60s", "perSeriesAligner": aligner, "crossSeriesReducer": reducer}
        if group_by:
            aggregation["groupByFields"] = list(group_by)
        return {
            "title": title,
            "xyChart": {
                "dataSets": [{"timeSeriesQuery": {"timeSeriesFilter": {"filter": flt, "aggregation": aggregation}}, "plotType": "LINE"}]
            },
        }

    widgets = [
        chart(
            "Requests by response class",
            "run.googleapis.com/request_count",
            "ALIGN_RATE",
            "REDUCE_SUM",
            ["metric.label.response_code_class"],
        ),
        chart("Request latency p99 (whole stream)", "run.googleapis.com/request_latencies", "ALIGN_PERCENTILE_99", "REDUCE_MAX"),
        chart("Request latency p50", "run.googleapis.com/request_latencies", "ALIGN_PERCENTILE_50", "REDUCE_MEAN"),
        chart("Instances", "run.googleapis.com/container/instance_count", "ALIGN_MAX", "REDUCE_SUM", ["metric.label.state"]),
        chart("Load balancer requests by code class", "", "ALIGN_RATE", "REDUCE_SUM", ["metric.label.response_code_class"], lb=True),
        chart("CPU utilization p99", "run.googleapis.com/container/cpu/utilizations", "ALIGN_PERCENTILE_99", "REDUCE_MAX"),
        *extra,
    ]
    tiles = [{"xPos": (i % 2) * 6, "yPos": (i // 2) * 4, "width": 6, "height": 4, "widget": w} for i, w in enumerate(widgets)]
    return json.dumps({"displayName": f"LLM gateway {service}", "mosaicLayout": {"columns": 12, "tiles": tiles}}, sort_keys=True)


def service_agents(project_number: str) -> dict[str, str]:
    """Service agents that encrypt with the stack key on the gateway's behalf."""
    return {
        "artifactregistry": f"serviceAccount:service-{project_number}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
        "secretmanager": f"serviceAccount:service-{project_number}@gcp-sa-secretmanager.iam.gserviceaccount.com",
        "run": f"serviceAccount:service-{project_number}@serverless-robot-prod.iam.gserviceaccount.com",
    }


# ---------------------------------------------------------------------------------------------
# Component
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """What every step of GcpGateway builds with: the component's name and args, where children go, the
    prefix of GCP-side names, and the service agents' grants on the stack key."""

    name: str
    args: GcpGatewayArgs
    labels: dict[str, str]
    here: pulumi.ResourceOptions
    parent: pulumi.Resource
    base: str
    kms_key: StrInput
    """The key the repository, the secrets and the service are encrypted with (given, or the gateway's own)."""
    key_grants: dict[str, pulumi.Resource] = field(default_factory=dict[str, pulumi.Resource])
    """Per service agent (artifactregistry, secretmanager, run): its grant on the key, when this component makes it."""

    @property
    def service_name(self) -> str:
        """The Cloud Run service's name (the alerts and dashboard filter on it)."""
        return dns_label(f"{self.base}-gateway", 49)

    def after_key(self, service: str) -> pulumi.ResourceOptions:
        """Options for a child that encrypts with the key through `service`'s agent: it waits for that grant."""
        grant = self.key_grants.get(service)
        return pulumi.ResourceOptions(parent=self.parent, depends_on=[grant] if grant else [])


class GcpGateway(pulumi.ComponentResource):
    """LiteLLM on Cloud Run behind a global HTTPS load balancer with Cloud Armor."""

    url: str
    ip_address: pulumi.Output[str]
    service_name: pulumi.Output[str]
    secret_ids: dict[str, pulumi.Output[str]]
    runtime_service_account_email: pulumi.Output[str]
    image: str

    def __init__(self, name: str, args: GcpGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:GcpGateway", name, None, opts)
        s = _Scope(
            name=name,
            args=args,
            labels=gcp_labels(args.labels),
            here=pulumi.ResourceOptions(parent=self),
            parent=self,
            base=dns_label(f"{SECRET_PREFIX}-{args.labels.stack}", 40),
            kms_key=args.kms_key if args.kms_key is not None else self._own_key(name, args),
        )
        # The order of the steps is the order children are registered in: keep it.
        if args.grant_key_access:
            s = replace(s, key_grants=self._key_grants(s))
        repository, self.image = self._image(s)
        email, member, vertex = self._runtime_identity(s)
        self.runtime_service_account_email = email
        secrets, accessors = self._secrets(s, member)
        self.secret_ids = {provider: secret.secret_id for provider, secret in secrets.items()}
        service = self._service(s, self.image, repository, email, [*vertex, *accessors], secrets)
        self.service_name = service.name
        address = gcp.compute.GlobalAddress(
            child(name, "ip"),
            project=args.project,
            name=f"{s.base}-gateway",
            ip_version="IPV4",
            address_type="EXTERNAL",
            labels=s.labels,
            opts=s.here,
        )
        self.ip_address = address.address
        backend, backend_name = self._backend(s, service)
        self._frontends(s, address, backend)
        self.url = f"https://{args.domains[0]}" if args.domains else ""
        self._monitoring(s, service, backend_name)

        self.register_outputs(
            {
                "url": self.url,
                "ip_address": self.ip_address,
                "service_name": self.service_name,
                "secret_ids": self.secret_ids,
                "runtime_service_account_email": self.runtime_service_account_email,
                "image": self.image,
            }
        )

    def _own_key(self, name: str, args: GcpGatewayArgs) -> pulumi.Output[str]:
        """A key of the gateway's own when it is given none (a gateway-only stack has no model store, whose key
        the gateway shares otherwise): the secrets, repository and service stay customer-key encrypted."""
        _, key = crypto_key(name, region=args.region, labels=gcp_labels(args.labels), parent=self)
        return key.id

    def _key_grants(self, s: _Scope) -> dict[str, pulumi.Resource]:
        """The service agents that encrypt for us (Artifact Registry, Secret Manager, Cloud Run) may use the key."""
        name, project, here = s.name, s.args.project, s.here
        key_grants: dict[str, pulumi.Resource] = {}
        number = gcp.organizations.get_project_output(project_id=project, opts=pulumi.InvokeOutputOptions(parent=self)).number
        identities = {
            service: gcp.projects.ServiceIdentity(
                child(name, f"{service}-agent"), project=project, service=f"{service}.googleapis.com", opts=here
            )
            for service in ("artifactregistry", "secretmanager")
            if service not in s.args.key_grants
        }
        for service in ("artifactregistry", "secretmanager", "run"):
            if service in s.args.key_grants:
                key_grants[service] = s.args.key_grants[service]
                continue
            after = [identities[service]] if service in identities else []
            key_grants[service] = gcp.kms.CryptoKeyIAMMember(
                child(name, f"key-{service}"),
                crypto_key_id=s.kms_key,
                role=KMS_ROLE,
                member=number.apply(lambda n, s=service: service_agents(str(n))[s]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )
        return key_grants

    def _image(self, s: _Scope) -> tuple[gcp.artifactregistry.Repository, str]:
        """ghcr.io through an Artifact Registry remote repository; returns it and the pinned image through it."""
        name, args, project, region, labels, base = s.name, s.args, s.args.project, s.args.region, s.labels, s.base
        after_key = s.after_key
        repository_id = f"{base}-ghcr"
        repository = gcp.artifactregistry.Repository(
            child(name, "ghcr"),
            project=project,
            location=region,
            repository_id=repository_id,
            format="DOCKER",
            mode="REMOTE_REPOSITORY",
            description="pulumi-llm: pull-through cache of ghcr.io (Cloud Run cannot pull from ghcr.io)",
            remote_repository_config={
                "description": "ghcr.io",
                "docker_repository": {"custom_repository": {"uri": UPSTREAM_REGISTRY}},
            },
            kms_key_name=s.kms_key,
            labels=labels,
            opts=after_key("artifactregistry"),
        )
        return repository, remote_image(region, project, repository_id, args.image)

    def _runtime_identity(self, s: _Scope) -> tuple[pulumi.Output[str], pulumi.Output[str], list[pulumi.Resource]]:
        """The runtime service account and, with Vertex AI, its project-level role. Returns its e-mail, its IAM
        member and the grants the service must wait for."""
        name, args, project, stack, here = s.name, s.args, s.args.project, s.args.labels.stack, s.here
        account = gcp.serviceaccount.Account(
            child(name, "runtime-sa"),
            project=project,
            account_id=dns_label(f"llm-gw-{stack}", 30).ljust(6, "0"),
            display_name=f"LLM gateway of {stack}",
            description="pulumi-llm: the gateway's Cloud Run identity",
            opts=here,
        )
        email = account.account_id.apply(lambda a: f"{a}@{project}.iam.gserviceaccount.com")
        member = email.apply(lambda e: f"serviceAccount:{e}")
        access: list[pulumi.Resource] = []
        if args.vertex_ai:
            access.append(gcp.projects.IAMMember(child(name, "vertex-ai"), project=project, role=VERTEX_ROLE, member=member, opts=here))
        return email, member, access

    def _secrets(self, s: _Scope, member: pulumi.Output[str]) -> tuple[dict[str, gcp.secretmanager.Secret], list[pulumi.Resource]]:
        """One secret per provider and one per consumer's key: containers only, values come from `pulumi-llm
        secrets put`; each readable by the runtime account alone. Returns the secrets by short name and their
        accessor grants."""
        name, args, project, region, stack, labels, here = (
            s.name,
            s.args,
            s.args.project,
            s.args.region,
            s.args.labels.stack,
            s.labels,
            s.here,
        )
        after_key = s.after_key
        secrets: dict[str, gcp.secretmanager.Secret] = {}
        accessors: list[pulumi.Resource] = []
        owners = {short: ("provider", short) for short in args.secrets.values()}
        owners.update({short: ("consumer", consumer) for consumer, short in args.consumer_secrets.items()})
        for provider, (role, owner) in sorted(owners.items()):
            secret = gcp.secretmanager.Secret(
                child(name, f"secret-{provider}"),
                project=project,
                secret_id=secret_id(stack, provider),
                replication={
                    "user_managed": {"replicas": [{"location": region, "customer_managed_encryption": {"kms_key_name": s.kms_key}}]}
                },
                version_destroy_ttl=f"{args.secret_destroy_delay_days * 86400}s",
                deletion_protection=args.deletion_protection,
                labels={**labels, f"pulumi-llm_{role}": owner},
                opts=after_key("secretmanager"),
            )
            secrets[provider] = secret
            accessors.append(
                gcp.secretmanager.SecretIamMember(
                    child(name, f"secret-{provider}-accessor"),
                    project=project,
                    secret_id=secret.id,
                    role=SECRET_ACCESSOR,
                    member=member,
                    opts=here,
                )
            )
        return secrets, accessors

    def _service(
        self,
        s: _Scope,
        image: str,
        repository: gcp.artifactregistry.Repository,
        email: pulumi.Output[str],
        access: list[pulumi.Resource],
        secrets: dict[str, gcp.secretmanager.Secret],
    ) -> gcp.cloudrunv2.Service:
        """The engine on Cloud Run: secrets mounted as files, the config in the environment, internal-LB ingress."""
        name, args, project, region, labels = s.name, s.args, s.args.project, s.args.region, s.labels
        service_name = s.service_name
        files = secret_files(args.secrets)
        envs: list[gcp.cloudrunv2.ServiceTemplateContainerEnvArgsDict] = [
            {"name": CONFIG_ENV, "value": base64.b64encode(args.engine_config_yaml.encode()).decode()},
            {"name": FRONT_CONFIG_ENV, "value": encode_front_config(args.front_config, where=f"{args.config_path}.front_config")},
            {"name": SECRET_FILES_ENV, "value": json.dumps(files, sort_keys=True)},
            *[{"name": key, "value": value} for key, value in sorted(args.environment.items())],
        ]
        volumes: list[gcp.cloudrunv2.ServiceTemplateVolumeArgsDict] = [
            {
                "name": f"secret-{provider}",
                # Version "latest": Cloud Run fetches the secret from Secret Manager when the file is read, so a new
                # version shows without a new revision (the front re-reads consumer keys; provider keys are read at boot).
                "secret": {"secret": secrets[provider].secret_id, "items": [{"path": SECRET_FILE, "version": "latest"}]},
            }
            for provider in sorted(secrets)
        ]
        mounts: list[gcp.cloudrunv2.ServiceTemplateContainerVolumeMountArgsDict] = [
            {"name": f"secret-{provider}", "mount_path": secret_mount(provider)} for provider in sorted(secrets)
        ]
        template: gcp.cloudrunv2.ServiceTemplateArgsDict = {
            "service_account": email,
            "timeout": f"{args.request_timeout_seconds}s",
            "max_instance_request_concurrency": args.concurrency,
            "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
            "encryption_key": s.kms_key,
            "scaling": {"min_instance_count": args.min_count, "max_instance_count": args.max_instances},
            "labels": labels,
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "commands": ["python3", "-c", BOOT],
                    "ports": {"name": "http1", "container_port": ENGINE_PORT},
                    "envs": envs,
                    "resources": {
                        "limits": {"cpu": args.cpu, "memory": args.memory},
                        # CPU stays allocated between requests: the front refreshes consumer keys and ages its
                        # per-instance rate windows in the background, which a throttled CPU would stall.
                        "cpu_idle": False,
                        "startup_cpu_boost": True,
                    },
                    # Ready = the front serves and LiteLLM behind it answers; Cloud Run sends traffic after it.
                    "startup_probe": {
                        "http_get": {"path": READINESS_PATH, "port": ENGINE_PORT},
                        "period_seconds": 5,
                        "timeout_seconds": 3,
                        "failure_threshold": 24,
                    },
                    "liveness_probe": {
                        "http_get": {"path": LIVENESS_PATH, "port": ENGINE_PORT},
                        "period_seconds": 30,
                        "timeout_seconds": 5,
                        "failure_threshold": 3,
                    },
                    "volume_mounts": mounts,
                }
            ],
            "volumes": volumes,
        }
        if args.vpc_egress is not None:
            template["vpc_access"] = vpc_access(args.vpc_egress)
        service = gcp.cloudrunv2.Service(
            child(name, "service"),
            project=project,
            location=region,
            name=service_name,
            description="pulumi-llm LLM gateway (LiteLLM)",
            # Only the load balancer reaches it; the run.app URL refuses outside traffic.
            ingress="INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
            # Clients authenticate to LiteLLM (master key); the load balancer carries no Google identity.
            invoker_iam_disabled=True,
            deletion_protection=args.deletion_protection,
            labels=labels,
            template=template,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[repository, *access, *([s.key_grants["run"]] if "run" in s.key_grants else [])]
            ),
        )
        return service

    def _backend(self, s: _Scope, service: gcp.cloudrunv2.Service) -> tuple[gcp.compute.BackendService, str]:
        """The serverless NEG, the Cloud Armor policy and the backend service (logs without bodies)."""
        name, args, project, region, here, base = s.name, s.args, s.args.project, s.args.region, s.here, s.base
        neg = gcp.compute.RegionNetworkEndpointGroup(
            child(name, "neg"),
            project=project,
            region=region,
            name=f"{base}-gateway",
            network_endpoint_type="SERVERLESS",
            cloud_run={"service": service.name},
            opts=here,
        )
        armor = gcp.compute.SecurityPolicy(
            child(name, "armor"),
            project=project,
            name=f"{base}-gateway",
            description="pulumi-llm gateway: per-IP throttle and WAF (body rules in preview)",
            type="CLOUD_ARMOR",
            rules=armor_rules(rate_limit_per_minute=args.rate_limit_per_minute, enforced=args.waf_enforced),
            # Parse JSON bodies (prompts) so WAF rules see values, not JSON syntax; inspect up to 64 KB.
            advanced_options_config={"json_parsing": "STANDARD", "log_level": "NORMAL", "request_body_inspection_size": "64KB"},
            opts=here,
        )
        backend_name = f"{base}-gateway"
        backend = gcp.compute.BackendService(
            child(name, "backend"),
            project=project,
            name=backend_name,
            load_balancing_scheme="EXTERNAL_MANAGED",
            protocol="HTTPS",
            backends=[{"group": neg.id}],
            security_policy=armor.id,
            # No timeout_sec: GCP refuses it on a serverless NEG backend; Cloud Run's request timeout applies.
            # Request logs carry method, URL, status, sizes and latency, never bodies or headers.
            log_config={"enable": True, "sample_rate": 1.0, "optional_mode": "EXCLUDE_ALL_OPTIONAL"},
            opts=here,
        )
        return backend, backend_name

    def _frontends(self, s: _Scope, address: gcp.compute.GlobalAddress, backend: gcp.compute.BackendService) -> None:
        """Certificates, the TLS 1.2+ policy, URL map, HTTPS proxy and forwarding rule, and the HTTP→HTTPS redirect."""
        name, args, project, labels, here, base = s.name, s.args, s.args.project, s.labels, s.here, s.base
        certificates: list[StrInput] = list(args.ssl_certificates)
        if args.domains:
            certificate = gcp.compute.ManagedSslCertificate(
                child(name, "cert"),
                project=project,
                name=f"{base}-gateway",
                managed={"domains": list(args.domains)},
                opts=here,
            )
            certificates.insert(0, certificate.id)
        ssl_policy = gcp.compute.SSLPolicy(
            child(name, "ssl-policy"),
            project=project,
            name=f"{base}-gateway",
            min_tls_version="TLS_1_2",
            profile=args.ssl_profile,
            opts=here,
        )
        # Only the inference paths reach Cloud Run; everything else (LiteLLM's admin, key, pass-through and health
        # routes, the front's /metrics) is 404 at the load balancer, for every host.
        url_map = gcp.compute.URLMap(
            child(name, "url-map"),
            project=project,
            name=f"{base}-gateway",
            default_service=backend.id,
            default_route_action={"fault_injection_policy": {"abort": {"http_status": NOT_FOUND_STATUS, "percentage": 100.0}}},
            host_rules=[{"hosts": ["*"], "path_matcher": PATH_MATCHER}],
            path_matchers=[path_matcher(backend.id)],
            opts=here,
        )
        proxy = gcp.compute.TargetHttpsProxy(
            child(name, "https-proxy"),
            project=project,
            name=f"{base}-gateway",
            url_map=url_map.id,
            ssl_certificates=certificates,
            ssl_policy=ssl_policy.id,
            opts=here,
        )
        gcp.compute.GlobalForwardingRule(
            child(name, "https"),
            project=project,
            name=f"{base}-gateway-https",
            target=proxy.id,
            ip_address=address.id,
            ip_protocol="TCP",
            port_range="443",
            load_balancing_scheme="EXTERNAL_MANAGED",
            labels=labels,
            opts=here,
        )
        if args.http_redirect:
            redirect = gcp.compute.URLMap(
                child(name, "http-redirect"),
                project=project,
                name=f"{base}-gateway-redirect",
                default_url_redirect={"https_redirect": True, "strip_query": False, "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT"},
                opts=here,
            )
            http_proxy = gcp.compute.TargetHttpProxy(
                child(name, "http-proxy"), project=project, name=f"{base}-gateway-redirect", url_map=redirect.id, opts=here
            )
            gcp.compute.GlobalForwardingRule(
                child(name, "http"),
                project=project,
                name=f"{base}-gateway-http",
                target=http_proxy.id,
                ip_address=address.id,
                ip_protocol="TCP",
                port_range="80",
                load_balancing_scheme="EXTERNAL_MANAGED",
                labels=labels,
                opts=here,
            )

    def _monitoring(self, s: _Scope, service: gcp.cloudrunv2.Service, backend_name: str) -> None:
        """Alert policies (5xx ratio, p99 latency, instances near the maximum), the who-served counters, the
        hybrid groups' fallback alerts and a dashboard."""
        name, args, project, stack, labels, here = s.name, s.args, s.args.project, s.args.labels.stack, s.labels, s.here
        service_name = s.service_name
        conditions = alert_conditions(
            service_name,
            error_rate=args.alert_thresholds.error_rate_5xx,
            latency_ms=args.latency_alert_seconds * 1000,
            instances=round(args.max_instances * args.alert_thresholds.instances_share, 1),
        )
        for key, condition in conditions.items():
            gcp.monitoring.AlertPolicy(
                child(name, f"alert-{key}"),
                project=project,
                display_name=condition["display_name"],
                combiner="OR",
                conditions=[condition],
                notification_channels=list(args.notification_channels),
                alert_strategy={"auto_close": "1800s"},
                severity="ERROR" if key == "5xx-ratio" else "WARNING",
                documentation={
                    "mime_type": "text/markdown",
                    "content": f"LLM gateway `{service_name}` ({stack}). Check Cloud Run logs of the service and the providers' status.",
                },
                user_labels=labels,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
            )
        metrics = alarms.decide_log_metrics(stack, service_name)
        counters = self._who_served(s, metrics)
        self._fallback_alarms(s, metrics, counters)
        gcp.monitoring.Dashboard(
            child(name, "dashboard"),
            project=project,
            dashboard_json=dashboard(
                service_name, backend_name, [*alarms.dashboard_widgets(metrics, args.fallback_alarms), *args.dashboard_widgets]
            ),
            opts=here,
        )

    def _who_served(self, s: _Scope, metrics: dict[str, alarms.LogMetric]) -> list[pulumi.Resource]:
        """The three log-based counters of the front's request lines (requests, fallbacks, self-hosted 2xx),
        labelled route / served_by / fallback / status."""
        name, project, here = s.name, s.args.project, s.here
        return [
            gcp.logging.Metric(
                child(name, f"metric-{key}"),
                project=project,
                name=metric.name,
                description=f"pulumi-llm gateway: {metric.description}",
                filter=metric.filter,
                metric_descriptor=alarms.metric_descriptor(f"LLM gateway {s.args.labels.stack}: {key}"),
                label_extractors=alarms.label_extractors(),
                opts=here,
            )
            for key, metric in metrics.items()
        ]

    def _fallback_alarms(self, s: _Scope, metrics: dict[str, alarms.LogMetric], counters: list[pulumi.Resource]) -> None:
        """Per hybrid group, its two alert policies (fallback share above the threshold; no self-hosted 2xx while
        requests arrive), named alarm_resource_name(<component>, kind, group), to the stack's channels."""
        name, args, project, labels, stack = s.name, s.args, s.args.project, s.labels, s.args.labels.stack
        for alarm in args.fallback_alarms:
            queries = alarms.decide_alarm_queries(alarm, metrics)
            for kind in ALARM_KINDS:
                condition = alarms.alarm_condition(kind, alarm, queries[kind])
                gcp.monitoring.AlertPolicy(
                    alarm_resource_name(name, kind, alarm.group),
                    project=project,
                    display_name=f"LLM gateway {stack}: {alarms.alarm_title(kind, alarm)}",
                    combiner="OR",
                    conditions=[condition],
                    notification_channels=list(args.notification_channels),
                    alert_strategy={"auto_close": "1800s"},
                    severity="WARNING",
                    documentation={"mime_type": "text/markdown", "content": fallback_runbook(kind, alarm, stack)},
                    user_labels=labels,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=counters),
                )


__all__ = ["GcpGateway", "GcpGatewayArgs", "GatewayAlertThresholds", "VpcEgress", "check_timeouts", "secret_id", "vpc_access"]
