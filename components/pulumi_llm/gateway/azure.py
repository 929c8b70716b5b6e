"""AzureGateway: Azure API Management (v2 tier) in front of Azure OpenAI and a LiteLLM engine on Container Apps.

Request path::

    client ──HTTPS (APIM subscription key, header only)──▶ API Management (BasicV2 / StandardV2 / PremiumV2)
        /openai/deployments/{id}/{chat/completions,completions,embeddings}
                   ──managed identity──▶ backend pool of Azure OpenAI endpoints (circuit breaker each)
        /v1/{chat/completions,completions,embeddings,models}  (front_contract.INFERENCE_ROUTES, nothing else)
                   ──edge key (Key Vault named value) + x-pulumi-llm-consumer──▶ the engine on Container Apps
                     (internal ingress): the front checks the consumer's grant, streams self-hosted routes,
                     hands provider routes to LiteLLM on loopback ──▶ OpenAI / Anthropic / … (keys from Key Vault)

Identity (issue 15): APIM authenticates the consumer by its subscription key in the
`Ocp-Apim-Subscription-Key` header; a key in the query string is refused (401) by the API policy before
anything else runs (the API contract cannot turn the query form off; `apim_policy`). APIM then sends the
consumer's name (the subscription's id) in `x-pulumi-llm-consumer` and `Authorization: Bearer <edge key>`
(the `litellm-master` secret) — identity mode `edge` of the front, which accepts that key and
`litellm-master-previous` (rotation without a 401 window; see the README). Requests per second/day and
tokens per minute stay at APIM per subscription; the front enforces models, max_tokens and tokens. The
`/openai` API goes to Azure OpenAI without the front, so each consumer's product policy refuses (403, before
the limits and the pool) a deployment not in its `openai_deployments` and caps max_tokens itself.

Children (Pulumi names ``<name>-<role>``):

* observability: a Log Analytics workspace (unless one is given), workspace-based Application Insights
  with local (key) auth disabled, the APIM logger (managed identity, `Monitoring Metrics Publisher`
  on the component), one diagnostic per API that logs NO bodies (`bytes: 0` on frontend and backend,
  request and response) with fixed sampling and custom metrics on (what `llm-emit-token-metric` needs),
  diagnostic settings of APIM and the engine environment to the workspace, and metric alerts on 5xx,
  429 throttling and latency to an action group;
* the APIM service: a v2 tier (the only ones that stream with `buffer-response="false"` and run
  `llm-token-limit` in this design), system-assigned identity, outbound VNet integration (StandardV2,
  PremiumV2) or VNet injection (PremiumV2 only: StandardV2 can't join an internal VNet);
* secrets: ONE Key Vault-backed named value (`keyVault.secretIdentifier`, versionless, read with the APIM
  identity; APIM refreshes it within 4 h) for the edge key — never a literal value — and `Key Vault
  Secrets User` for the APIM identity on that one secret only (it never reads a provider key);
* Azure OpenAI: one backend per endpoint with a circuit breaker (trips on 429/5xx, honours Retry-After)
  unless it is the fallback, a POOL over them by priority and weight, `Cognitive Services OpenAI User`
  for the APIM identity on each account; the policy authenticates with
  `authentication-managed-identity resource="https://cognitiveservices.azure.com"`: no key exists;
* the engine: a Container Apps environment (internal, in your subnet, zone redundant), a private DNS zone
  for its domain, a user-assigned identity that reads exactly its secrets (Key Vault references:
  `keyVaultUrl` + identity, never values), and the LiteLLM app (pinned image by digest, internal ingress,
  probes, min/max replicas, scaled on concurrent requests) with the rendered config;
* APIs `/openai` and `/v1` with one operation per inference route (no wildcard: any other path is APIM's
  404) and the policy from `apim_policy`, one product per consumer with its request rate/quota and
  `llm-token-limit`, and one subscription (APIM-generated keys) each;
* per hybrid route (`fallback_alarms`), two log alerts (scheduled query rules over the front's request
  log lines in the workspace, `azure_alarms`) to the action group.

Whole-pool 503 guard (Azure-Samples/AI-Gateway#163): when every member of a pool has its circuit open, APIM
answers 503 at once for everything. Here the pool always keeps one member without a breaker — the lowest
priority `fallback` backend — so the pool never empties; its 429s (with Retry-After) reach the client
instead of a blanket 503, and the API policy retries 429/5xx on another member before any byte is sent.

Timeout budget: client > APIM forward-request (time to response headers, ≤ 240 s) > engine. The streamed
body after the headers is not bound by the forward timeout.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi
import pulumi_azure_native.apimanagement as apimanagement
import pulumi_azure_native.app as app
import pulumi_azure_native.applicationinsights as applicationinsights
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights
import pulumi_azure_native.privatedns as privatedns
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..errors import UserError
from ..labels import CommonLabels, azure_tags
from ..naming import child, dns_label
from ..validation import AZURE_LOCATION as _LOCATION
from ..validation import EMAIL as _EMAIL
from ..validation import HEADER_NAME, SHORT_NAME
from . import apim_policy, azure_alarms
from . import config as engine_rules
from .engine import (
    BOOT,
    CONFIG_ENV,
    EDGE_KEY_ENV,
    EDGE_KEY_PREVIOUS_ENV,
    ENGINE_PORT,
    FRONT_CONFIG_ENV,
    LIVENESS_PATH,
    MASTER_KEY_ENV,
    MASTER_KEY_SECRET,
    READINESS_PATH,
    check_plain_env,
    check_secret_env,
)
from .engine import CONTAINER as ENGINE_CONTAINER
from .engine import RESERVED_ENV as ENGINE_RESERVED_ENV
from .fallback_alarms import FallbackAlarm, alarm_resource_name
from .front_contract import INFERENCE_ROUTES

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""

MASTER_KEY_NAMED_VALUE = "litellm-master-key"
"""The APIM named value holding the edge key (Key Vault secret `litellm-master`)."""
EDGE_KEY_PREVIOUS_SECRET = f"{MASTER_KEY_SECRET}-previous"
"""Key Vault secret of the second edge key the front accepts (only the engine reads it): rotation stages the
new key here first, so no request APIM sends is refused while its named value refreshes."""
ENGINE_API_PREFIX = "/v1"
"""The engine API's path: its operations are INFERENCE_ROUTES with this prefix taken off."""
OPENAI_OPERATIONS = (
    ("POST", "/deployments/{deployment-id}/chat/completions"),
    ("POST", "/deployments/{deployment-id}/completions"),
    ("POST", "/deployments/{deployment-id}/embeddings"),
)
"""Azure OpenAI's inference operations (data plane, learn.microsoft.com/azure/ai-services/openai/reference):
the only paths the /openai API forwards with the gateway's identity (no files, fine-tuning or assistants)."""
CONSUMER_HEADER = engine_rules.DEFAULT_CONSUMER_HEADER
"""Header the engine reads the consumer from (the config's default consumer_header)."""
ENGINE_BACKEND_ID = "litellm"
POOL_BACKEND_ID = "azure-openai-pool"
OPENAI_API = "openai"
ENGINE_API = "v1"
V2_TIERS = ("BasicV2", "StandardV2", "PremiumV2")
CONSUMPTION_PROBLEM = (
    'can\'t stream (no long-lived connections, so no buffer-response="false" server-sent events) and has no llm-token-limit'
)
"""Why Consumption can't carry LLM traffic (learn.microsoft.com: how-to-server-sent-events, llm-token-limit-policy)."""
CLASSIC_TIERS = ("Developer", "Basic", "Standard", "Premium", "Isolated")
VNET_TIERS = ("StandardV2", "PremiumV2")
KEY_VAULT_SUFFIXES = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net")
RESERVED_ENV = ENGINE_RESERVED_ENV | {"AZURE_CLIENT_ID", "LITELLM_MODE"}

_SERVICE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,48}[a-zA-Z0-9]$")
_OPENAI_ENDPOINT = re.compile(
    r"^https://[a-z0-9][a-z0-9-]{1,62}\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)/$"
)


# ---------------------------------------------------------------------------------------------
# Args
# ---------------------------------------------------------------------------------------------


class AzureOpenAIBackend(BaseModel):
    """One Azure OpenAI (or AI Foundry) endpoint in the pool."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(description="Stable key [a-z][a-z0-9-] (≤ 40): names the APIM backend aoai-<name>. Required.")
    endpoint: str = Field(description="https://<resource>.openai.azure.com/ (trailing slash). Required.")
    resource_id: StrInput = Field(
        description="ARM id of the account: scope of the gateway's Cognitive Services OpenAI User role. Required."
    )
    priority: int = Field(
        default=1, ge=1, le=100, description="Pool priority, 1 first; lower groups take over when higher ones are tripped. Default 1."
    )
    weight: int = Field(default=1, ge=1, le=100, description="Share of traffic within its priority group. Default 1.")
    fallback: bool = Field(
        default=False,
        description="The pool's last resort: no circuit breaker, so the pool never has every member tripped (AI-Gateway#163). Default false; see AzureGatewayArgs.",
    )


class ApimConsumer(BaseModel):
    """One client of the gateway: a product with its token limit and one subscription (APIM-generated keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Stable key [a-z][a-z0-9-] (≤ 40): names the product and the subscription. Required.")
    tokens_per_minute: int = Field(ge=1, description="llm-token-limit rate per subscription (prompt + completion tokens). Required.")
    token_quota: int | None = Field(default=None, ge=1, description="Tokens per quota period. Default none.")
    token_quota_period: Literal["Hourly", "Daily", "Weekly", "Monthly", "Yearly"] | None = Field(
        default=None, description="Period of token_quota. Default none (set both or neither)."
    )
    requests_per_day: int | None = Field(default=None, ge=1, description="quota-by-key: requests per day. Default none.")
    rate_limit_rps: float | None = Field(default=None, gt=0, description="rate-limit-by-key: steady requests per second. Default none.")
    burst: int | None = Field(default=None, ge=1, description="Burst of requests with rate_limit_rps (set both or neither). Default none.")
    openai_deployments: list[str] = Field(
        default_factory=list[str],
        description=(
            "Azure OpenAI deployment ids (the /openai path's {deployment-id}) this consumer may call; any other is 403 at "
            "APIM before the limits and the pool. Default none: every /openai request of this consumer is 403."
        ),
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Cap on an /openai request's max_tokens / max_completion_tokens, as the front caps /v1 (lowered, or set when absent). Default none.",
    )


class CircuitBreaker(BaseModel):
    """The rule each (non-fallback) Azure OpenAI backend trips by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(default=1, ge=1, description="429/5xx answers within interval_seconds that open the circuit. Default 1.")
    interval_seconds: int = Field(default=10, ge=1, le=3600, description="Window the failures are counted in. Default 10.")
    trip_seconds: int = Field(
        default=10,
        ge=1,
        le=3600,
        description="How long the circuit stays open when the backend sent no Retry-After (it is honoured). Default 10.",
    )


class GatewayAlertThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    server_errors: int = Field(default=10, ge=1, description="5xx responses in 5 minutes. Default 10.")
    throttled: int = Field(default=50, ge=1, description="429 responses in 5 minutes. Default 50.")
    latency_ms: int = Field(
        default=60_000, ge=1, description="Average request duration in ms over 5 minutes (streams count whole). Default 60000."
    )


class AzureGatewayArgs(BaseModel):
    """Everything AzureGateway needs. Validation is pure and fails with one UserError line naming
    `config_path` and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack. Required.")
    location: str = Field(description="Azure region, e.g. eastus. Required.")
    resource_group_name: StrInput = Field(description="Resource group of every child (Input). Required.")
    publisher_email: str = Field(description="APIM publisher e-mail (service notifications). Required.")
    publisher_name: str = Field(default="pulumi-llm", description="APIM publisher name. Default pulumi-llm.")
    service_name: str | None = Field(default=None, description="APIM service name (globally unique, 2-50). Default llm-<stack>-gateway.")
    tier: str = Field(default="StandardV2", description=f"APIM tier, one of {', '.join(V2_TIERS)}. Default StandardV2.")
    capacity: int = Field(default=1, ge=1, le=30, description="APIM scale units. Default 1.")
    network: Literal["public", "vnet-outbound", "internal"] = Field(
        default="vnet-outbound",
        description=(
            "public: no VNet (Azure OpenAI only); vnet-outbound: public gateway, outbound VNet integration (StandardV2, "
            "PremiumV2) to reach the engine; internal: VNet injection, private gateway (PremiumV2 only). Default vnet-outbound."
        ),
    )
    apim_subnet_id: StrInput | None = Field(
        default=None,
        description=(
            "Subnet for VNet integration/injection: AzureNetwork(gateway_subnets=True).subnet_ids['apim'] (delegated to "
            "Microsoft.Web/serverFarms, /27 or larger). Required unless public."
        ),
    )
    key_vault_id: StrInput = Field(description="ARM id of the stack's Key Vault (RBAC mode): scopes the per-secret roles. Required.")
    key_vault_uri: str = Field(description="https://<vault>.vault.azure.net/ of that vault. Required.")
    azure_openai: list[AzureOpenAIBackend] = Field(
        default_factory=list[AzureOpenAIBackend],
        description="Azure OpenAI endpoints of the /openai pool. Default none (then no /openai API).",
    )
    engine_config_yaml: str | None = Field(
        default=None,
        description="Rendered LiteLLM config (gateway.config); provider keys only as os.environ/<ENV>. Default none: no engine, no /v1 API.",
    )
    front_config_b64: str | None = Field(
        default=None,
        description=(
            "The front's config, engine.encode_front_config(engine.front_config(spec, identity='edge', stack=…)): the "
            "consumers' grants and the routes' chains. Required with an engine."
        ),
    )
    provider_secrets: dict[str, str] = Field(
        default_factory=dict, description="Engine env var → Key Vault secret name, e.g. {'OPENAI_API_KEY': 'openai'}. Default none."
    )
    environment: dict[str, StrInput] = Field(
        default_factory=dict,
        description="Non-secret environment of the engine; values may be Outputs (e.g. self-hosted model URLs the config names as os.environ/<VAR>). Default none.",
    )
    consumer_header: str = Field(
        default=CONSUMER_HEADER,
        description="Header APIM sets to the consumer's name for the engine (the config's consumer_header). Default x-pulumi-llm-consumer.",
    )
    engine_image: str = Field(default=pins.LITELLM.ref, description="LiteLLM image pinned by digest. Default pins.LITELLM.")
    engine_subnet_id: StrInput | None = Field(
        default=None,
        description=(
            "Infrastructure subnet of the Container Apps environment: AzureNetwork(gateway_subnets=True).subnet_ids['engine'] "
            "(/27 or larger, delegated to Microsoft.App/environments). Required with an engine."
        ),
    )
    vnet_id: StrInput | None = Field(
        default=None, description="VNet of both subnets: the engine's private DNS zone is linked to it. Required with an engine."
    )
    engine_min_replicas: int = Field(default=2, ge=0, le=300, description="Fewest engine replicas (0 allows cold starts). Default 2.")
    engine_max_replicas: int = Field(default=6, ge=1, le=300, description="Most engine replicas. Default 6.")
    engine_cpu: float = Field(default=1.0, description="vCPU per replica (Consumption: 0.25-4 in 0.25 steps). Default 1.0.")
    engine_memory_gib: float = Field(default=2.0, description="Memory per replica, 2 GiB per vCPU. Default 2.0.")
    engine_concurrency: int = Field(default=50, ge=1, description="Concurrent requests per replica before scaling out. Default 50.")
    consumers: list[ApimConsumer] = Field(min_length=1, description="Clients: one product + subscription each. At least one.")
    client_timeout_seconds: int = Field(default=300, ge=1, description="How long clients wait for response headers. Default 300.")
    forward_timeout_seconds: int = Field(
        default=240, ge=1, description=f"APIM forward-request timeout (headers), ≤ {apim_policy.MAX_FORWARD_TIMEOUT_SECONDS}. Default 240."
    )
    engine_timeout_seconds: int = Field(
        default=210, ge=1, description="The engine's request timeout (litellm_settings.request_timeout, set when absent). Default 210."
    )
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker, description="Circuit breaker of the Azure OpenAI backends.")
    sampling_percentage: float = Field(default=10.0, gt=0, le=100, description="Share of requests Application Insights traces. Default 10.")
    log_analytics_workspace_id: StrInput | None = Field(
        default=None, description="Existing Log Analytics workspace. Default: one is created."
    )
    log_retention_days: int = Field(default=30, ge=30, le=730, description="Retention of a created workspace. Default 30.")
    alert_emails: list[str] = Field(default_factory=list, description="Action group e-mail receivers. Default none.")
    action_group_id: StrInput | None = Field(
        default=None, description="Existing action group for the alerts (instead of alert_emails). Default none."
    )
    alert_thresholds: GatewayAlertThresholds = Field(default_factory=GatewayAlertThresholds, description="Alert thresholds.")
    fallback_alarms: list[FallbackAlarm] = Field(
        default_factory=list[FallbackAlarm],
        description="Hybrid routes' alarms (fallback_alarms.decide_fallback_alarms): two log alerts each. Needs an engine. Default none.",
    )
    config_path: str = Field(default="gateway", description="Key path named in error messages. Default 'gateway'.")

    @model_validator(mode="after")
    def _check(self) -> AzureGatewayArgs:
        where = self.config_path
        _check_tier(self, where)
        _check_budget(self, where)
        if not _LOCATION.match(self.location):
            raise UserError(f"{where}.location = {self.location!r}: not an Azure region name such as eastus")
        if not _SERVICE_NAME.match(self.apim_name):
            raise UserError(f"{where}.service_name = {self.apim_name!r}: 2-50 letters, digits and '-', starting with a letter")
        if not _EMAIL.match(self.publisher_email):
            raise UserError(f"{where}.publisher_email = {self.publisher_email!r}: not an e-mail address")
        if (
            not self.key_vault_uri.startswith("https://")
            or not self.key_vault_uri.endswith("/")
            or not any(self.key_vault_uri.rstrip("/").endswith(suffix) for suffix in KEY_VAULT_SUFFIXES)
        ):
            raise UserError(
                f"{where}.key_vault_uri = {self.key_vault_uri!r}: expected https://<vault>.vault.azure.net/ (with the trailing slash)"
            )
        if not self.azure_openai and self.engine_config_yaml is None:
            raise UserError(f"{where}: neither azure_openai nor engine_config_yaml is set; the gateway needs at least one backend")
        _check_openai(self.azure_openai, where)
        _check_consumers(self.consumers, where)
        if not self.azure_openai:
            for consumer in self.consumers:
                if consumer.openai_deployments or consumer.max_tokens is not None:
                    key = "openai_deployments" if consumer.openai_deployments else "max_tokens"
                    raise UserError(
                        f"{where}.consumers.{consumer.name}.{key}: applies to the /openai API, which this gateway has not "
                        "(no azure_openai); the front enforces /v1 from its config"
                    )
        if self.engine_config_yaml is not None:
            _check_engine(self, where)
        elif self.provider_secrets or self.environment:
            raise UserError(f"{where}.provider_secrets: only used by the engine; set engine_config_yaml or remove them")
        elif self.fallback_alarms:
            raise UserError(f"{where}.fallback_alarms: the alarms read the engine's request log; set engine_config_yaml or remove them")
        for email in self.alert_emails:
            if not _EMAIL.match(email):
                raise UserError(f"{where}.alert_emails = {email!r}: not an e-mail address")
        if self.alert_emails and self.action_group_id is not None:
            raise UserError(f"{where}.alert_emails: set alert_emails or action_group_id, not both")
        return self

    @property
    def apim_name(self) -> str:
        return self.service_name or f"llm-{self.labels.stack}-gateway"

    @property
    def engine(self) -> bool:
        return self.engine_config_yaml is not None

    @property
    def secrets(self) -> list[str]:
        """Key Vault secret names the engine reads: both edge keys and every provider key (none without an engine)."""
        names = sorted(set(self.provider_secrets.values()) - {MASTER_KEY_SECRET, EDGE_KEY_PREVIOUS_SECRET})
        return [MASTER_KEY_SECRET, EDGE_KEY_PREVIOUS_SECRET, *names] if self.engine else []

    @property
    def apim_secrets(self) -> list[str]:
        """Key Vault secret names APIM reads: the edge key only (with an engine)."""
        return [MASTER_KEY_SECRET] if self.engine else []

    @property
    def engine_app_name(self) -> str:
        """The engine's Container App (its console lines carry this ContainerAppName)."""
        return dns_label(f"llm-{self.labels.stack}-engine", 32)

    def secret_uri(self, secret: str) -> str:
        """Versionless secret identifier: readers follow the newest version (rotation without redeploy)."""
        return f"{self.key_vault_uri}secrets/{secret}"


def _check_tier(args: AzureGatewayArgs, where: str) -> None:
    tier = args.tier
    allowed = ", ".join(V2_TIERS)
    if tier == "Consumption":
        raise UserError(f"{where}.tier = Consumption: {CONSUMPTION_PROBLEM}; allowed: {allowed}")
    if tier in CLASSIC_TIERS:
        raise UserError(
            f'{where}.tier = {tier}: a classic tier; allowed: {allowed} (v2 tiers stream with buffer-response="false" '
            "and integrate with a VNet without a dedicated subnet per instance)"
        )
    if tier not in V2_TIERS:
        raise UserError(f"{where}.tier = {tier!r}: not an API Management tier; allowed: {allowed}")
    if args.network == "internal" and tier != "PremiumV2":
        raise UserError(f"{where}.network = internal: {tier} can't join an internal VNet; use tier PremiumV2")
    if args.network == "vnet-outbound" and tier not in VNET_TIERS:
        raise UserError(f"{where}.network = vnet-outbound: {tier} has no VNet integration; use tier StandardV2 or PremiumV2")
    if args.network == "public" and args.apim_subnet_id is not None:
        raise UserError(f"{where}.apim_subnet_id: only used when network is vnet-outbound or internal")
    if args.network != "public" and args.apim_subnet_id is None:
        raise UserError(f"{where}.apim_subnet_id: required when network is {args.network}")
    if args.engine and args.network == "public":
        raise UserError(
            f"{where}.network = public: the engine's ingress is internal to the VNet; use network vnet-outbound "
            "(StandardV2, PremiumV2) or internal (PremiumV2)"
        )


def _check_budget(args: AzureGatewayArgs, where: str) -> None:
    client, forward, engine = args.client_timeout_seconds, args.forward_timeout_seconds, args.engine_timeout_seconds
    cap = apim_policy.MAX_FORWARD_TIMEOUT_SECONDS
    if forward > cap:
        raise UserError(
            f"{where}.forward_timeout_seconds = {forward}: APIM may not honour a forward-request timeout above {cap} s "
            f"(idle connections are dropped); allowed 1 to {cap}"
        )
    if client <= forward:
        raise UserError(
            f"{where}.client_timeout_seconds = {client}: must be above {where}.forward_timeout_seconds = {forward}, "
            "or clients give up while APIM still waits for the backend"
        )
    if args.engine and forward <= engine:
        raise UserError(
            f"{where}.forward_timeout_seconds = {forward}: must be above {where}.engine_timeout_seconds = {engine}, "
            "or APIM cuts requests the engine is still serving"
        )


def _check_openai(backends: Sequence[AzureOpenAIBackend], where: str) -> None:
    if not backends:
        return
    seen: set[str] = set()
    for backend in backends:
        at = f"{where}.azure_openai.{backend.name}"
        if not SHORT_NAME.match(backend.name):
            raise UserError(
                f"{where}.azure_openai: name {backend.name!r}: lower-case letters, digits and '-', starting with a letter (at most 40)"
            )
        if backend.name in seen:
            raise UserError(f"{where}.azure_openai: {backend.name!r} is listed twice")
        seen.add(backend.name)
        if not _OPENAI_ENDPOINT.match(backend.endpoint):
            raise UserError(
                f"{at}.endpoint = {backend.endpoint!r}: expected https://<resource>.openai.azure.com/ (or .cognitiveservices.azure.com/), "
                "with the trailing slash"
            )
    fallbacks = [b for b in backends if b.fallback]
    lowest = max(b.priority for b in backends)
    if len(backends) > 1 and not fallbacks:
        raise UserError(
            f"{where}.azure_openai: mark one backend fallback: true (lowest priority, no circuit breaker); a pool whose "
            "every member is tripped answers 503 to everything (Azure-Samples/AI-Gateway#163)"
        )
    for backend in fallbacks:
        if backend.priority != lowest:
            raise UserError(
                f"{where}.azure_openai.{backend.name}.priority = {backend.priority}: a fallback must be in the lowest "
                f"priority group ({lowest}), or it takes traffic before the backends it backs up"
            )


def _check_consumers(consumers: Sequence[ApimConsumer], where: str) -> None:
    seen: set[str] = set()
    for consumer in consumers:
        if not SHORT_NAME.match(consumer.name):
            raise UserError(
                f"{where}.consumers: name {consumer.name!r}: lower-case letters, digits and '-', starting with a letter (at most 40)"
            )
        if consumer.name in seen:
            raise UserError(f"{where}.consumers: {consumer.name!r} is listed twice; consumer names key the products and subscriptions")
        seen.add(consumer.name)
        if (consumer.token_quota is None) != (consumer.token_quota_period is None):
            raise UserError(f"{where}.consumers.{consumer.name}: set token_quota and token_quota_period together, or neither")
        if (consumer.rate_limit_rps is None) != (consumer.burst is None):
            raise UserError(f"{where}.consumers.{consumer.name}: set rate_limit_rps and burst together, or neither")
        for i, deployment in enumerate(consumer.openai_deployments):
            if not apim_policy.DEPLOYMENT_ID.match(deployment):
                raise UserError(
                    f"{where}.consumers.{consumer.name}.openai_deployments[{i}] = {deployment!r}: an Azure OpenAI deployment name "
                    "(letters, digits, '.', '_' and '-', at most 64)"
                )


def _check_engine(args: AzureGatewayArgs, where: str) -> None:
    if not args.front_config_b64:
        raise UserError(f"{where}.front_config_b64: required with an engine (engine.encode_front_config of the front's config)")
    if args.engine_subnet_id is None:
        raise UserError(f"{where}.engine_subnet_id: required with an engine (the Container Apps environment's subnet)")
    if args.vnet_id is None:
        raise UserError(f"{where}.vnet_id: required with an engine (its private DNS zone is linked to the VNet)")
    if "@sha256:" not in args.engine_image:
        raise UserError(f"{where}.engine_image = {args.engine_image}: pin the image by digest (repository:tag@sha256:…)")
    if args.engine_min_replicas > args.engine_max_replicas:
        raise UserError(f"{where}.engine_min_replicas = {args.engine_min_replicas}: above engine_max_replicas = {args.engine_max_replicas}")
    cpu, memory = args.engine_cpu, args.engine_memory_gib
    if not (0.25 <= cpu <= 4 and (cpu * 4).is_integer()):
        raise UserError(f"{where}.engine_cpu = {cpu:g}: Consumption replicas take 0.25 to 4 vCPU in steps of 0.25")
    if memory != cpu * 2:
        raise UserError(f"{where}.engine_memory_gib = {memory:g}: with engine_cpu {cpu:g}, Consumption replicas take {cpu * 2:g} GiB")
    if not HEADER_NAME.match(args.consumer_header):
        raise UserError(f"{where}.consumer_header = {args.consumer_header!r}: a lower-case header name")
    check_secret_env(
        args.provider_secrets,
        reserved=RESERVED_ENV,
        where=where,
        store="a Key Vault secret name here is",
        master_pair_allowed=True,
    )
    for env, secret in sorted(args.provider_secrets.items()):
        if secret == EDGE_KEY_PREVIOUS_SECRET:
            raise UserError(f"{where}.provider_secrets.{env} = {secret!r}: reserved for the previous edge key")
    check_plain_env(args.environment, key="environment", taken=RESERVED_ENV | set(args.provider_secrets), where=where)
    engine_config(
        args.engine_config_yaml or "",
        available_env=set(args.provider_secrets) | set(args.environment) | {MASTER_KEY_ENV, "AZURE_CLIENT_ID"},
        engine_timeout_seconds=args.engine_timeout_seconds,
        where=f"{where}.engine_config_yaml",
    )


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def engine_config(text: str, *, available_env: set[str], engine_timeout_seconds: int, where: str) -> str:
    """The config the engine runs: checked by `gateway.config.check_engine_config` (the rule every cloud shell
    uses: size, no literal secret, only variables the container gets, a request timeout within the budget),
    with `litellm_settings.request_timeout` set to the engine timeout when the config leaves it out."""
    config = engine_rules.check_engine_config(
        text,
        available_env=available_env,
        engine_timeout_seconds=engine_timeout_seconds,
        where=where,
        carrier="the Container App's environment",
        holder="engine",
        store="Key Vault",
    )
    settings = config.get("litellm_settings")
    if settings is None:
        settings = config["litellm_settings"] = {}
    if not isinstance(settings, dict):
        raise UserError(f"{where}: litellm_settings must be a mapping")
    settings = cast(dict[str, Any], settings)  # YAML: check_engine_config has read the config's keys
    timeout = settings.get("request_timeout")
    if timeout is None:
        settings["request_timeout"] = engine_timeout_seconds
        return yaml.safe_dump(config, sort_keys=False)
    if not isinstance(timeout, (int, float)):
        raise UserError(f"{where}: litellm_settings.request_timeout = {timeout!r}: a number of seconds")
    return text


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


ROLE_KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ROLE_COGNITIVE_SERVICES_OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
ROLE_MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


def circuit_breaker_rule(breaker: CircuitBreaker) -> dict[str, Any]:
    """One rule (APIM allows one per backend): 429 and 5xx open the circuit; Retry-After sets how long."""
    return {
        "rules": [
            {
                "name": "trip-on-429-5xx",
                "failure_condition": {
                    "count": breaker.failures,
                    "interval": f"PT{breaker.interval_seconds}S",
                    "status_code_ranges": [{"min": 429, "max": 429}, {"min": 500, "max": 599}],
                },
                "trip_duration": f"PT{breaker.trip_seconds}S",
                "accept_retry_after": True,
            }
        ]
    }


MAX_TERMINATION_GRACE_SECONDS = 600
"""Container Apps' largest ``terminationGracePeriodSeconds`` (azure-native app.ContainerApp template)."""


def termination_grace_seconds(engine_timeout_seconds: int) -> int:
    """The engine replica's grace between SIGTERM and SIGKILL: its longest request (the engine timeout), at
    most Container Apps' 600 s. The front drains for ``engine.decide_drain_seconds`` of it."""
    return min(engine_timeout_seconds, MAX_TERMINATION_GRACE_SECONDS)


def engine_api_policy(*, consumer_header: str, forward_timeout_seconds: int) -> str:
    """The /v1 API's policy: the query-key refusal, the edge key from its named value as the bearer, the
    consumer's name in `consumer_header`, the engine backend (what tests/integration's APIM stand-in runs)."""
    return apim_policy.api_policy(
        backend_id=ENGINE_BACKEND_ID,
        backend_label="litellm",
        auth="named-value",
        master_key_named_value=MASTER_KEY_NAMED_VALUE,
        consumer_header=consumer_header,
        forward_timeout_seconds=forward_timeout_seconds,
    )


def openai_api_policy(*, forward_timeout_seconds: int, backends: int) -> str:
    """The /openai API's policy: the query-key refusal, the gateway's managed identity to Azure OpenAI, the pool
    with a retry per other member (what tests/integration's APIM stand-in runs)."""
    return apim_policy.api_policy(
        backend_id=POOL_BACKEND_ID,
        backend_label="azure-openai",
        auth="managed-identity",
        forward_timeout_seconds=forward_timeout_seconds,
        retries=backends - 1,
    )


def consumer_product_policy(consumer: ApimConsumer, *, openai: bool) -> str:
    """A consumer's product policy: its request rate and quota and token limit; with the /openai API (`openai`),
    its deployments and max_tokens cap there, as /openai does not pass the front (what the stand-in runs)."""
    return apim_policy.product_policy(
        tokens_per_minute=consumer.tokens_per_minute,
        token_quota=consumer.token_quota,
        token_quota_period=consumer.token_quota_period,
        requests_per_day=consumer.requests_per_day,
        rate_limit_rps=consumer.rate_limit_rps,
        burst=consumer.burst,
        openai_deployments=consumer.openai_deployments if openai else None,
        max_tokens=consumer.max_tokens if openai else None,
    )


def api_operations(api_id: str) -> tuple[tuple[str, str], ...]:
    """(method, URL template) of every operation of an API: the engine's are front_contract.INFERENCE_ROUTES
    under the API's /v1 path, Azure OpenAI's its inference operations. APIM answers 404 to anything else."""
    if api_id == ENGINE_API:
        return tuple((method, path.removeprefix(ENGINE_API_PREFIX)) for method, path in INFERENCE_ROUTES)
    if api_id == OPENAI_API:
        return OPENAI_OPERATIONS
    raise ValueError(f"api {api_id!r}: allowed {ENGINE_API}, {OPENAI_API}")


def operation_name(method: str, template: str) -> str:
    """An operation id from its method and template: `post-chat-completions`, `get-models`."""
    words = re.findall(r"[a-z0-9]+", template.replace("{deployment-id}", "").lower())
    return "-".join([method.lower(), *words])


def is_fallback(backend: AzureOpenAIBackend, backends: Sequence[AzureOpenAIBackend]) -> bool:
    """The pool's breaker-free member: the one marked fallback, or the only backend there is."""
    return backend.fallback or len(backends) == 1


def pool_services(backends: Sequence[AzureOpenAIBackend], ids: dict[str, Any]) -> list[apimanagement.BackendPoolItemArgsDict]:
    return [{"id": ids[b.name], "priority": b.priority, "weight": b.weight} for b in sorted(backends, key=lambda b: (b.priority, b.name))]


def no_body_logging() -> apimanagement.PipelineDiagnosticSettingsArgsDict:
    """Frontend/backend settings of an APIM diagnostic that log no body and no header."""
    message: apimanagement.HttpMessageDiagnosticArgsDict = {"body": {"bytes": 0}, "headers": []}
    return {"request": message.copy(), "response": message.copy()}


def engine_container(
    *,
    image: str,
    config_yaml: str,
    front_config_b64: str,
    secrets: dict[str, str],
    environment: dict[str, Any],
    client_id: Any,
    cpu: float,
    memory_gib: float,
) -> app.ContainerArgsDict:
    """The engine's container: the front on ENGINE_PORT with LiteLLM behind it on loopback (env names → secret
    refs, never values). The edge keys reach the front as EDGE_KEY_ENV / EDGE_KEY_PREVIOUS_ENV; LiteLLM's own
    master key is made by the front at each boot, so LITELLM_MASTER_KEY is never set here."""
    env: list[app.EnvironmentVarArgsDict] = [
        {"name": CONFIG_ENV, "value": base64.b64encode(config_yaml.encode()).decode()},
        {"name": FRONT_CONFIG_ENV, "value": front_config_b64},
        {"name": "HOME", "value": "/tmp"},
        {"name": "LITELLM_MODE", "value": "PRODUCTION"},
        # The engine's own identity, for providers it reaches with Entra ID (Azure OpenAI through LiteLLM).
        {"name": "AZURE_CLIENT_ID", "value": client_id},
        *({"name": k, "value": v} for k, v in sorted(environment.items())),
        *({"name": k, "secret_ref": secret_ref(v)} for k, v in sorted(secrets.items())),
    ]
    probe: app.ContainerAppProbeHttpGetArgsDict = {"port": ENGINE_PORT, "scheme": "HTTP"}
    return {
        "name": ENGINE_CONTAINER,
        "image": image,
        "command": ["python3", "-c", BOOT],
        "env": env,
        "resources": {"cpu": cpu, "memory": f"{memory_gib:g}Gi"},
        "probes": [
            {
                "type": "Startup",
                "http_get": {**probe, "path": LIVENESS_PATH},
                "period_seconds": 5,
                "failure_threshold": 24,
                "timeout_seconds": 3,
            },
            {
                "type": "Liveness",
                "http_get": {**probe, "path": LIVENESS_PATH},
                "period_seconds": 15,
                "failure_threshold": 3,
                "timeout_seconds": 5,
            },
            {
                "type": "Readiness",
                "http_get": {**probe, "path": READINESS_PATH},
                "period_seconds": 10,
                "failure_threshold": 3,
                "timeout_seconds": 5,
            },
        ],
    }


def secret_ref(secret: str) -> str:
    """The Container App secret name of a Key Vault secret (lower-case letters, digits, '-')."""
    return secret


# ---------------------------------------------------------------------------------------------
# Component
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """What every step of AzureGateway builds with: the component's name and args, where children go, and the
    subscription the role definitions live in."""

    name: str
    args: AzureGatewayArgs
    tags: dict[str, str]
    here: pulumi.ResourceOptions
    parent: pulumi.Resource
    subscription: pulumi.Output[str]

    def role(self, role_name: str, scope: pulumi.Input[str], role_guid: str, principal: pulumi.Input[str]) -> authorization.RoleAssignment:
        return authorization.RoleAssignment(
            child(self.name, role_name),
            scope=scope,
            role_definition_id=self.subscription.apply(lambda s: role_definition_id(s, role_guid)),
            principal_id=principal,
            principal_type="ServicePrincipal",
            opts=self.here,
        )

    def secret_scope(self, secret: str) -> pulumi.Output[str]:
        return pulumi.Output.from_input(self.args.key_vault_id).apply(lambda vault: f"{vault}/secrets/{secret}")

    def after(self, *resources: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for a child that must wait for `resources`."""
        return pulumi.ResourceOptions(parent=self.parent, depends_on=list(resources))


@dataclass(frozen=True)
class _Apim:
    """The API Management service as its children need it: the service, its identity, and the
    resource group / service name every APIM child takes (`common`)."""

    service: apimanagement.ApiManagementService
    principal: pulumi.Output[str]
    common: dict[str, Any]


Api = tuple[str, str, str, list[pulumi.Resource]]
"""An API to publish: display name, path, policy XML, the resources the policy names."""


class AzureGateway(pulumi.ComponentResource):
    """API Management in front of Azure OpenAI (managed identity) and LiteLLM on Container Apps."""

    gateway_url: pulumi.Output[str]
    apim_name: str
    apim_principal_id: pulumi.Output[str]
    engine_fqdn: pulumi.Output[str] | None
    engine_principal_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: AzureGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AzureGateway", name, None, opts)
        self._name = name
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        s = _Scope(
            name=name,
            args=args,
            tags=azure_tags(args.labels),
            here=pulumi.ResourceOptions(parent=self),
            parent=self,
            subscription=client.subscription_id,
        )
        # The order of the steps is the order children are registered in: keep it.
        workspace_id, insights = self._observability(s)
        service = self._apim_service(s)
        self.apim_name = args.apim_name
        self.gateway_url = service.gateway_url
        self.apim_principal_id = service.identity.apply(lambda i: _field(i, "principal_id"))
        apim = _Apim(
            service=service,
            principal=self.apim_principal_id,
            common={"resource_group_name": args.resource_group_name, "service_name": service.name.apply(lambda _: args.apim_name)},
        )
        logger = self._apim_logging(s, apim, workspace_id, insights)
        named_values = self._named_values(s, apim)
        apis: dict[str, Api] = {}
        if args.azure_openai:
            apis[OPENAI_API] = self._openai_pool(s, apim)
        self.engine_fqdn = None
        self.engine_principal_id = None
        if args.engine:
            self.engine_fqdn, self.engine_principal_id, apis[ENGINE_API] = self._engine(s, apim, workspace_id)
        api_resources = self._apis(s, apim, apis, named_values, logger)
        self._products(s, apim, api_resources)
        self._alerts(s, service, workspace_id)

        self.register_outputs(
            {
                "gateway_url": self.gateway_url,
                "apim_name": self.apim_name,
                "apim_principal_id": self.apim_principal_id,
                **({"engine_fqdn": self.engine_fqdn, "engine_principal_id": self.engine_principal_id} if args.engine else {}),
            }
        )

    def _observability(self, s: _Scope) -> tuple[pulumi.Input[str], applicationinsights.Component]:
        """The Log Analytics workspace (unless given) and workspace-based Application Insights."""
        name, args, tags, here, rg, location = s.name, s.args, s.tags, s.here, s.args.resource_group_name, s.args.location
        if args.log_analytics_workspace_id is None:
            workspace = operationalinsights.Workspace(
                child(name, "logs"),
                resource_group_name=rg,
                location=location,
                workspace_name=f"{args.apim_name}-logs",
                sku={"name": "PerGB2018"},
                retention_in_days=args.log_retention_days,
                tags=tags,
                opts=here,
            )
            workspace_id: pulumi.Input[str] = workspace.id
        else:
            workspace_id = args.log_analytics_workspace_id
        insights = applicationinsights.Component(
            child(name, "insights"),
            resource_group_name=rg,
            location=location,
            resource_name_=f"{args.apim_name}-insights",
            kind="web",
            application_type="web",
            workspace_resource_id=workspace_id,
            ingestion_mode="LogAnalytics",
            # Only Entra ID (the APIM identity below) may send telemetry: the connection string alone is no key.
            disable_local_auth=True,
            tags=tags,
            opts=here,
        )
        return workspace_id, insights

    def _apim_service(self, s: _Scope) -> apimanagement.ApiManagementService:
        """The APIM service: a v2 tier, system-assigned identity, VNet integration/injection unless public."""
        name, args, tags, here, rg, location = s.name, s.args, s.tags, s.here, s.args.resource_group_name, s.args.location
        service_args: dict[str, Any] = {}
        if args.network != "public":
            service_args["virtual_network_type"] = "Internal" if args.network == "internal" else "External"
            service_args["virtual_network_configuration"] = {"subnet_resource_id": args.apim_subnet_id}
        service = apimanagement.ApiManagementService(
            child(name, "apim"),
            service_name=args.apim_name,
            resource_group_name=rg,
            location=location,
            sku={"name": args.tier, "capacity": args.capacity},
            identity={"type": "SystemAssigned"},
            publisher_email=args.publisher_email,
            publisher_name=args.publisher_name,
            # No portals: consumers get their keys from the operators (one subscription per product), and
            # the SDK would otherwise turn both portals on.
            developer_portal_status="Disabled",
            legacy_portal_status="Disabled",
            tags=tags,
            opts=here,
            **service_args,
        )
        return service

    def _apim_logging(
        self, s: _Scope, apim: _Apim, workspace_id: pulumi.Input[str], insights: applicationinsights.Component
    ) -> apimanagement.Logger:
        """APIM's diagnostic settings to the workspace and its Application Insights logger (Entra ID auth)."""
        name, service, principal, common = s.name, apim.service, apim.principal, apim.common
        role, in_apim, here = s.role, s.after, s.here
        monitor.DiagnosticSetting(
            child(name, "apim-logs"),
            name="to-log-analytics",
            resource_uri=service.id,
            workspace_id=workspace_id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=here,
        )
        publisher = role("apim-insights-publisher", insights.id, ROLE_MONITORING_METRICS_PUBLISHER, principal)
        logger = apimanagement.Logger(
            child(name, "logger"),
            logger_id="appinsights",
            logger_type="applicationInsights",
            resource_id=insights.id,
            description="Application Insights of the gateway (Entra ID auth with the APIM identity)",
            credentials={
                "connectionString": pulumi.Output.secret(insights.connection_string),
                "identityClientId": "SystemAssigned",
            },
            opts=in_apim(publisher),
            **common,
        )
        return logger

    def _named_values(self, s: _Scope, apim: _Apim) -> list[pulumi.Resource]:
        """The edge key's Key Vault-backed named value (versionless, read with the APIM identity)."""
        name, args, principal, common = s.name, s.args, apim.principal, apim.common
        role, secret_scope, in_apim = s.role, s.secret_scope, s.after
        named_values: list[pulumi.Resource] = []
        # Least privilege: APIM's identity reads the edge key and nothing else (the providers' keys are the
        # engine's); the role is scoped to that one secret, not the vault.
        for secret in args.apim_secrets:
            reader = role(f"apim-kv-{secret}", secret_scope(secret), ROLE_KEY_VAULT_SECRETS_USER, principal)
            named_value_id = MASTER_KEY_NAMED_VALUE
            named_values.append(
                apimanagement.NamedValue(
                    child(name, f"nv-{secret}"),
                    named_value_id=named_value_id,
                    display_name=named_value_id,
                    secret=True,
                    # No identity_client_id: APIM reads the secret with its system-assigned identity.
                    key_vault={"secret_identifier": args.secret_uri(secret)},
                    tags=["pulumi-llm", "key-vault"],
                    opts=in_apim(reader),
                    **common,
                )
            )
        return named_values

    def _openai_pool(self, s: _Scope, apim: _Apim) -> Api:
        """One backend per Azure OpenAI endpoint (circuit breaker unless the fallback) and the pool over them."""
        name, args, principal, common = s.name, s.args, apim.principal, apim.common
        role, in_apim = s.role, s.after
        backend_ids: dict[str, Any] = {}
        members: list[pulumi.Resource] = []
        for backend in args.azure_openai:
            grant = role(f"apim-openai-{backend.name}", backend.resource_id, ROLE_COGNITIVE_SERVICES_OPENAI_USER, principal)
            fallback = is_fallback(backend, args.azure_openai)
            extra: dict[str, Any] = {} if fallback else {"circuit_breaker": circuit_breaker_rule(args.circuit_breaker)}
            member = apimanagement.Backend(
                child(name, f"backend-aoai-{backend.name}"),
                backend_id=f"aoai-{backend.name}",
                title=f"Azure OpenAI {backend.name}",
                description="fallback: no circuit breaker" if fallback else "circuit breaker on 429/5xx",
                url=f"{backend.endpoint}openai",
                protocol="http",
                type="Single",
                tls={"validate_certificate_chain": True, "validate_certificate_name": True},
                opts=in_apim(grant),
                **common,
                **extra,
            )
            backend_ids[backend.name] = member.id
            members.append(member)
        pool = apimanagement.Backend(
            child(name, "backend-azure-openai-pool"),
            backend_id=POOL_BACKEND_ID,
            title="Azure OpenAI pool",
            description="Priority groups with weights; the fallback member has no circuit breaker",
            type="Pool",
            pool={"services": pool_services(args.azure_openai, backend_ids)},
            opts=in_apim(*members),
            **common,
        )
        policy = openai_api_policy(forward_timeout_seconds=args.forward_timeout_seconds, backends=len(args.azure_openai))
        return ("Azure OpenAI", "openai", policy, [pool])

    def _engine(self, s: _Scope, apim: _Apim, workspace_id: pulumi.Input[str]) -> tuple[pulumi.Output[str], pulumi.Output[str], Api]:
        """LiteLLM on Container Apps: its identity (reads exactly its secrets), environment, app, and the APIM
        backend in front of it. Returns the app's FQDN, the identity's principal and the /v1 API."""
        name, args, tags, here, rg, location = s.name, s.args, s.tags, s.here, s.args.resource_group_name, s.args.location
        role, secret_scope, common = s.role, s.secret_scope, apim.common
        identity = managedidentity.UserAssignedIdentity(
            child(name, "engine-identity"),
            resource_name_=f"{args.apim_name}-engine",
            resource_group_name=rg,
            location=location,
            tags=tags,
            opts=here,
        )
        engine_secrets = args.secrets
        readers = [
            role(f"engine-kv-{secret}", secret_scope(secret), ROLE_KEY_VAULT_SECRETS_USER, identity.principal_id)
            for secret in engine_secrets
        ]
        environment, record = self._engine_environment(s, workspace_id)
        engine = self._engine_app(s, identity, readers, environment, record)
        fqdn = engine.configuration.apply(lambda c: _field(_field(c, "ingress"), "fqdn"))
        engine_backend = apimanagement.Backend(
            child(name, "backend-litellm"),
            backend_id=ENGINE_BACKEND_ID,
            title="LiteLLM engine",
            description="LiteLLM on Container Apps (internal ingress); serves the non-Azure providers",
            url=fqdn.apply(lambda fqdn: f"https://{fqdn}/v1"),
            protocol="http",
            type="Single",
            tls={"validate_certificate_chain": True, "validate_certificate_name": True},
            opts=here,
            **common,
        )
        policy = engine_api_policy(consumer_header=args.consumer_header, forward_timeout_seconds=args.forward_timeout_seconds)
        return fqdn, identity.principal_id, ("OpenAI-compatible (LiteLLM)", "v1", policy, [engine_backend])

    def _engine_environment(self, s: _Scope, workspace_id: pulumi.Input[str]) -> tuple[app.ManagedEnvironment, privatedns.PrivateRecordSet]:
        """The internal Container Apps environment in the engine subnet, its logs, and the private DNS zone
        of its domain linked to the VNet. Returns it and the wildcard record the app waits for."""
        name, args, tags, here, rg, location = s.name, s.args, s.tags, s.here, s.args.resource_group_name, s.args.location
        environment = app.ManagedEnvironment(
            child(name, "engine-env"),
            environment_name=f"{args.apim_name}-engine",
            resource_group_name=rg,
            location=location,
            vnet_configuration={"infrastructure_subnet_id": args.engine_subnet_id, "internal": True},
            workload_profiles=[{"name": "Consumption", "workload_profile_type": "Consumption"}],
            zone_redundant=True,
            # Logs through Azure Monitor diagnostic settings: no workspace shared key in the config.
            app_logs_configuration={"destination": "azure-monitor"},
            public_network_access="Disabled",
            tags=tags,
            opts=here,
        )
        monitor.DiagnosticSetting(
            child(name, "engine-env-logs"),
            name="to-log-analytics",
            resource_uri=environment.id,
            workspace_id=workspace_id,
            # Resource-specific tables: console lines land in ContainerAppConsoleLogs (Log, ContainerAppName),
            # the table the fallback alarms query (azure_alarms).
            log_analytics_destination_type="Dedicated",
            logs=[{"category_group": "allLogs", "enabled": True}],
            opts=here,
        )
        zone = privatedns.PrivateZone(
            child(name, "engine-dns"),
            private_zone_name=environment.default_domain,
            resource_group_name=rg,
            location="global",
            tags=tags,
            opts=here,
        )
        privatedns.VirtualNetworkLink(
            child(name, "engine-dns-link"),
            private_zone_name=environment.default_domain,
            virtual_network_link_name=f"{args.apim_name}-engine",
            resource_group_name=rg,
            location="global",
            virtual_network={"id": args.vnet_id},
            registration_enabled=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[zone]),
        )
        record = privatedns.PrivateRecordSet(
            child(name, "engine-dns-wildcard"),
            private_zone_name=environment.default_domain,
            relative_record_set_name="*",
            record_type="A",
            resource_group_name=rg,
            ttl=300,
            a_records=[{"ipv4_address": environment.static_ip}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[zone]),
        )
        return environment, record

    def _engine_app(
        self,
        s: _Scope,
        identity: managedidentity.UserAssignedIdentity,
        readers: list[authorization.RoleAssignment],
        environment: app.ManagedEnvironment,
        record: privatedns.PrivateRecordSet,
    ) -> app.ContainerApp:
        """The LiteLLM app: pinned image, internal ingress, Key Vault references read with its identity, the
        rendered config, scaled on concurrent requests; it starts once its roles and DNS record exist."""
        name, args, tags = s.name, s.args, s.tags
        rg, location = args.resource_group_name, args.location
        engine_secrets = args.secrets
        config_yaml = engine_config(
            args.engine_config_yaml or "",
            available_env=set(args.provider_secrets) | set(args.environment) | {MASTER_KEY_ENV, "AZURE_CLIENT_ID"},
            engine_timeout_seconds=args.engine_timeout_seconds,
            where=f"{args.config_path}.engine_config_yaml",
        )
        container = engine_container(
            image=args.engine_image,
            config_yaml=config_yaml,
            front_config_b64=args.front_config_b64 or "",
            secrets={
                EDGE_KEY_ENV: MASTER_KEY_SECRET,
                EDGE_KEY_PREVIOUS_ENV: EDGE_KEY_PREVIOUS_SECRET,
                **{env: secret for env, secret in args.provider_secrets.items() if env != MASTER_KEY_ENV},
            },
            environment=args.environment,
            client_id=identity.client_id,
            cpu=args.engine_cpu,
            memory_gib=args.engine_memory_gib,
        )
        engine = app.ContainerApp(
            child(name, "engine"),
            container_app_name=args.engine_app_name,
            resource_group_name=rg,
            location=location,
            environment_id=environment.id,
            workload_profile_name="Consumption",
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            configuration={
                "active_revisions_mode": "Single",
                "ingress": {
                    "external": False,
                    "target_port": ENGINE_PORT,
                    "transport": "http",
                    "allow_insecure": False,
                },
                # Key Vault references read with the engine's identity: Container Apps fetches the newest
                # version (versionless URL) and picks rotations up without a redeploy.
                "secrets": [
                    {"name": secret_ref(secret), "key_vault_url": args.secret_uri(secret), "identity": identity.id}
                    for secret in engine_secrets
                ],
            },
            template={
                "containers": [container],
                "scale": {
                    "min_replicas": args.engine_min_replicas,
                    "max_replicas": args.engine_max_replicas,
                    "rules": [{"name": "concurrency", "http": {"metadata": {"concurrentRequests": str(args.engine_concurrency)}}}],
                },
                # Let streams finish on scale-in and on a new revision.
                "termination_grace_period_seconds": termination_grace_seconds(args.engine_timeout_seconds),
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*readers, record]),
        )
        return engine

    def _apis(
        self, s: _Scope, apim: _Apim, apis: dict[str, Api], named_values: list[pulumi.Resource], logger: apimanagement.Logger
    ) -> dict[str, apimanagement.Api]:
        """Each API with one operation per inference route, its policy and a diagnostic that logs no bodies."""
        name, args, here, common, in_apim = s.name, s.args, s.here, apim.common, s.after
        api_resources: dict[str, apimanagement.Api] = {}
        for api_id, (display, path, policy, backends) in apis.items():
            api = apimanagement.Api(
                child(name, f"api-{api_id}"),
                api_id=api_id,
                display_name=display,
                path=path,
                protocols=["https"],
                api_type="http",
                subscription_required=True,
                # Both names are set: the contract has no "off" for the query form (an absent name takes
                # APIM's default), so the API policy refuses exactly this query parameter.
                subscription_key_parameter_names={
                    "header": apim_policy.SUBSCRIPTION_KEY_HEADER,
                    "query": apim_policy.QUERY_KEY_PARAMETER,
                },
                opts=here,
                **common,
            )
            api_resources[api_id] = api
            api_ref = api.name.apply(lambda _, api_id=api_id: api_id)
            for method, template in api_operations(api_id):
                operation_id = operation_name(method, template)
                parameters: list[apimanagement.ParameterContractArgsDict] = [
                    {"name": p, "type": "string", "required": True} for p in re.findall(r"\{([^}]+)\}", template)
                ]
                apimanagement.ApiOperation(
                    child(name, f"api-{api_id}-{operation_id}"),
                    api_id=api_ref,
                    operation_id=operation_id,
                    display_name=f"{method} /{path}{template}",
                    method=method,
                    url_template=template,
                    template_parameters=parameters,
                    opts=here,
                    **common,
                )
            apimanagement.ApiPolicy(
                child(name, f"api-{api_id}-policy"),
                api_id=api_ref,
                policy_id="policy",
                format="xml",
                value=policy,
                opts=in_apim(*backends, *named_values),
                **common,
            )
            apimanagement.ApiDiagnostic(
                child(name, f"api-{api_id}-diagnostic"),
                api_id=api_ref,
                diagnostic_id="applicationinsights",
                logger_id=logger.id,
                always_log="allErrors",
                sampling={"sampling_type": "fixed", "percentage": args.sampling_percentage},
                # Prompts and completions are never logged: no body bytes, no headers (keys live there).
                frontend=no_body_logging(),
                backend=no_body_logging(),
                verbosity="information",
                log_client_ip=False,
                http_correlation_protocol="W3C",
                # Custom metrics with dimensions: what llm-emit-token-metric writes to.
                metrics=True,
                opts=here,
                **common,
            )
        return api_resources

    def _products(self, s: _Scope, apim: _Apim, api_resources: dict[str, apimanagement.Api]) -> None:
        """One product (with its token limit) and one APIM-generated subscription per consumer."""
        name, args, here, common = s.name, s.args, s.here, apim.common
        for consumer in args.consumers:
            product = apimanagement.Product(
                child(name, f"product-{consumer.name}"),
                product_id=consumer.name,
                display_name=consumer.name,
                description=f"LLM access for {consumer.name}: {consumer.tokens_per_minute} tokens per minute",
                subscription_required=True,
                approval_required=False,
                subscriptions_limit=1,
                state=apimanagement.ProductState.PUBLISHED,
                opts=here,
                **common,
            )
            product_ref = product.name.apply(lambda _, c=consumer.name: c)
            for api_id, api in api_resources.items():
                apimanagement.ProductApi(
                    child(name, f"product-{consumer.name}-{api_id}"),
                    product_id=product_ref,
                    api_id=api.name.apply(lambda _, api_id=api_id: api_id),
                    opts=here,
                    **common,
                )
            apimanagement.ProductPolicy(
                child(name, f"product-{consumer.name}-policy"),
                product_id=product_ref,
                policy_id="policy",
                format="xml",
                # /openai is not behind the front: the consumer's deployments and cap are enforced here.
                value=consumer_product_policy(consumer, openai=OPENAI_API in api_resources),
                opts=here,
                **common,
            )
            # Keys are generated by APIM and never set here, so they are not in the Pulumi state.
            apimanagement.Subscription(
                child(name, f"subscription-{consumer.name}"),
                sid=consumer.name,
                display_name=consumer.name,
                scope=product.name.apply(lambda _, c=consumer.name: f"/products/{c}"),
                state=apimanagement.SubscriptionState.ACTIVE,
                allow_tracing=False,
                opts=here,
                **common,
            )

    def _alerts(self, s: _Scope, service: apimanagement.ApiManagementService, workspace_id: pulumi.Input[str]) -> None:
        """An action group (from alert_emails), metric alerts on 5xx, 429 and latency, and the hybrid routes'
        fallback alarms."""
        name, args, tags, here, rg = s.name, s.args, s.tags, s.here, s.args.resource_group_name
        action_group_id = args.action_group_id
        if args.alert_emails:
            group = monitor.ActionGroup(
                child(name, "alerts"),
                action_group_name=f"{args.apim_name}-alerts",
                resource_group_name=rg,
                location="global",
                group_short_name="llm-gateway"[:12],
                enabled=True,
                email_receivers=[
                    {"name": f"email-{index}", "email_address": email, "use_common_alert_schema": True}
                    for index, email in enumerate(args.alert_emails)
                ],
                tags=tags,
                opts=here,
            )
            action_group_id = group.id
        actions: list[monitor.MetricAlertActionArgsDict] = [{"action_group_id": action_group_id}] if action_group_id is not None else []
        thresholds = args.alert_thresholds
        for key, description, criterion, severity in (
            (
                "5xx",
                "Gateway answered 5xx (backend failures, open circuits, timeouts)",
                _criterion("Requests", "Total", thresholds.server_errors, {"GatewayResponseCodeCategory": "5xx"}),
                1,
            ),
            (
                "429",
                "Gateway answered 429 (token limits or throttled backends)",
                _criterion("Requests", "Total", thresholds.throttled, {"GatewayResponseCode": "429"}),
                2,
            ),
            ("latency", "Average request duration high", _criterion("Duration", "Average", thresholds.latency_ms, {}), 2),
        ):
            monitor.MetricAlert(
                child(name, f"alert-{key}"),
                rule_name=f"{args.apim_name}-{key}",
                resource_group_name=rg,
                location="global",
                description=description,
                severity=severity,
                enabled=True,
                scopes=[service.id],
                target_resource_type="Microsoft.ApiManagement/service",
                evaluation_frequency="PT1M",
                window_size="PT5M",
                auto_mitigate=True,
                # Typed args: `criteria` is a union, and only the typed form is sent in the provider's camelCase.
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=[monitor.MetricCriteriaArgs(**criterion)],
                ),
                actions=actions,
                tags=tags,
                opts=here,
            )
        self._fallback_alarms(s, workspace_id, action_group_id)

    def _fallback_alarms(self, s: _Scope, workspace_id: pulumi.Input[str], action_group_id: pulumi.Input[str] | None) -> None:
        """Two log alerts per hybrid route (azure_alarms): the fallback share and a silent self-hosted
        route, over the front's request lines in the workspace, to the same action group."""
        name, args, tags, here, rg = s.name, s.args, s.tags, s.here, s.args.resource_group_name
        actions: monitor.ActionsArgsDict = {"action_groups": [action_group_id]} if action_group_id is not None else {}
        for alarm in args.fallback_alarms:
            for alert in azure_alarms.decide_log_alerts(alarm, args.engine_app_name):
                monitor.ScheduledQueryRule(
                    alarm_resource_name(name, alert.kind, alert.group),
                    rule_name=alarm_resource_name(args.apim_name, alert.kind, alert.group),
                    resource_group_name=rg,
                    location=args.location,
                    kind="LogAlert",
                    description=alert.description,
                    severity=alert.severity,
                    enabled=True,
                    scopes=[workspace_id],
                    evaluation_frequency=alert.frequency,
                    window_size=alert.window,
                    criteria={
                        "all_of": [
                            {
                                "query": alert.query,
                                "time_aggregation": "Count",
                                "operator": alert.operator,
                                "threshold": alert.threshold,
                                "failing_periods": {"number_of_evaluation_periods": 1, "min_failing_periods_to_alert": 1},
                            }
                        ]
                    },
                    # A new workspace has no ContainerAppConsoleLogs table until the first line arrives;
                    # validating the query at creation would fail on the missing table.
                    skip_query_validation=True,
                    auto_mitigate=True,
                    actions=actions,
                    tags=tags,
                    opts=here,
                )


def _criterion(metric: str, aggregation: str, threshold: float, dimensions: dict[str, str]) -> dict[str, Any]:
    return {
        "criterion_type": "StaticThresholdCriterion",
        "name": metric.lower(),
        "metric_name": metric,
        "metric_namespace": "Microsoft.ApiManagement/service",
        "operator": "GreaterThan",
        "threshold": threshold,
        "time_aggregation": aggregation,
        "dimensions": [monitor.MetricDimensionArgs(name=k, operator="Include", values=[v]) for k, v in dimensions.items()],
    }


def _field(value: object, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        fields = cast(dict[str, Any], value)  # an args dict (snake_case keys, or camelCase as the provider spells them)
        if key in fields:
            return fields[key]
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        return fields.get(camel)
    return getattr(value, key, None)


__all__ = [
    "ApimConsumer",
    "AzureGateway",
    "AzureGatewayArgs",
    "AzureOpenAIBackend",
    "CircuitBreaker",
    "GatewayAlertThresholds",
    "engine_config",
]
