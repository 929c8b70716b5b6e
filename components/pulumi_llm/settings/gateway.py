"""The gateway method (`gateway`): the models clients call, their routes to providers, consumers and timeouts."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, model_validator

from ..choices import allowed
from ..gateway.boundary import Boundary, decide_boundary_breach
from ..gateway.fallback_alarms import MAX_WINDOW_MINUTES, decide_hybrid
from ..gateway.front_contract import DEFAULT_FALLBACK_SHARE_PERCENT, DEFAULT_FALLBACK_WINDOW_MINUTES
from ..verify.facts import litellm_models
from .core import FieldProblem, Label, StrictModel

Provider = Literal["openai", "anthropic", "gemini", "cohere", "bedrock", "azure-openai", "self-hosted"]
"""LLM API providers the gateway routes to; self-hosted is a model this stack serves."""


class RouteSettings(StrictModel):
    """One backend of a gateway model, in priority order."""

    provider: Provider = Field(description="openai, anthropic, gemini, cohere, bedrock, azure-openai or self-hosted. Required.")
    model: str = Field(min_length=1, description="The provider's model id, or the served name of a self-hosted model. Required.")
    rpm: int | None = Field(default=None, ge=1, le=100_000_000, description="Requests per minute this backend takes. Default: unlimited.")
    tpm: int | None = Field(default=None, ge=1, le=100_000_000_000, description="Tokens per minute this backend takes. Default: unlimited.")


def decide_unknown_model(provider: str, model: str) -> str | None:
    """Why the pinned engine cannot serve `model` from `provider`, with the closest ID it knows; None when it can,
    or when its model map cannot judge (an Azure OpenAI deployment name, a self-hosted served name).

    The verify rule models.provider-id reads the same fact after the plan (and adds deprecation dates, which
    depend on the day); checks_deploy refuses a typo with this before anything registers, so `pulumi up` never
    deploys it."""
    if litellm_models.known(provider, model) is not False:
        return None
    ids = sorted(litellm_models.known_ids(provider))
    hint = difflib.get_close_matches(model, ids, n=1, cutoff=0.6)
    did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
    return (
        f"unknown {provider} model ID for the pinned engine (LiteLLM {litellm_models.LITELLM_TAG}'s model map)"
        f"{did_you_mean}: calls would fail or go uncosted"
    )


class FallbackAlertSettings(StrictModel):
    """When a hybrid model's fallbacks serve too much of its traffic (the fallback-share alarm; the
    self-hosted-silent alarm uses the same window)."""

    share_percent: float = Field(
        default=DEFAULT_FALLBACK_SHARE_PERCENT,
        gt=0,
        lt=100,  # a share can't be above 100 %: the alarm would never fire
        description="Alarm when more than this percentage of the model's requests were served by a fallback, above 0 and below 100. "
        "Default 5.",
    )
    window_minutes: int = Field(
        default=DEFAULT_FALLBACK_WINDOW_MINUTES,
        ge=1,
        le=MAX_WINDOW_MINUTES,
        description="Window the share is measured over (the silent alarm's too), 1 to 1440 minutes. Default 10.",
    )


class ModelGroupSettings(StrictModel):
    """A model name clients ask for, served by its routes in order, then by its fallbacks."""

    routes: list[RouteSettings] = Field(min_length=1, description="Backends in priority order. At least one.")
    fallbacks: list[str] = Field(
        default_factory=list, description="Other gateway models to try when every route fails (before the first byte). Default none."
    )
    boundary: Boundary = Field(
        default="public",
        description=(
            "public, or private: served and fallen back to only by self-hosted deployments, never an external provider; "
            "when none can serve, clients get 503 with Retry-After. Default public."
        ),
    )
    fallback_alert: FallbackAlertSettings = Field(
        default_factory=FallbackAlertSettings,
        description="Thresholds of the fallback alarms of a hybrid model (self-hosted routes with a provider fallback). "
        "Default: above 5 % over 10 minutes.",
    )


MAX_TOKENS_CAP = 10_000_000
"""The largest max_tokens cap accepted: above any model's context window (10M tokens, Llama 4 Scout's)."""


class ConsumerSettings(StrictModel):
    """A client team or application: its own API key, model allow-list, quotas and token limits.

    Where each limit is enforced (the edge in front, exactly across instances, or the gateway's front
    per instance) is in the gateway README ("Consumer limits: who enforces what")."""

    models: list[str] = Field(min_length=1, description="Gateway models this consumer may call. Required.")
    requests_per_day: int = Field(ge=1, le=1_000_000_000, description="Daily request quota. Required.")
    rate_limit_rps: float = Field(
        default=10.0,
        gt=0,
        le=10_000,
        description="Steady requests per second (the edge's rate; the front allows rate_limit_rps × 60 per sliding minute). Default 10.",
    )
    burst: int = Field(default=20, ge=1, le=5000, description="Burst of requests above the steady rate, at the edge. Default 20.")
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TOKENS_CAP,
        description="Cap per request on max_tokens / max_completion_tokens: a higher value is lowered to it, a request without one "
        "gets it. Default: no cap.",
    )
    tokens_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="Prompt + completion tokens per minute. Default: no limit of its own."
    )
    tokens_per_day: int | None = Field(
        default=None, ge=1, le=1_000_000_000_000, description="Prompt + completion tokens per day. Default: no limit of its own."
    )

    @model_validator(mode="after")
    def _token_limits(self) -> ConsumerSettings:
        # A request capped at max_tokens must fit in the windows, and a minute's tokens in a day's.
        if self.max_tokens is not None:
            for key in ("tokens_per_minute", "tokens_per_day"):
                limit = getattr(self, key)
                if limit is not None and self.max_tokens > limit:
                    raise FieldProblem("max_tokens", f"must be <= {key} ({limit}): one capped request must fit in the window")
        if self.tokens_per_minute is not None and self.tokens_per_day is not None and self.tokens_per_minute > self.tokens_per_day:
            raise FieldProblem("tokens_per_minute", f"must be <= tokens_per_day ({self.tokens_per_day})")
        return self


class GatewayTimeouts(StrictModel):
    """The timeout budget, outermost first: each hop must outlast the one inside it."""

    client_seconds: int = Field(default=900, ge=1, le=3600, description="What clients are told to wait. Default 900.")
    edge_seconds: int = Field(
        default=600, ge=1, le=900, description="Managed gateway integration timeout (API Gateway STREAM allows 900). Default 600."
    )
    engine_seconds: int = Field(default=540, ge=1, le=3600, description="Gateway engine request timeout. Default 540.")
    provider_seconds: int = Field(default=480, ge=1, le=3600, description="One provider call. Default 480.")

    @model_validator(mode="after")
    def _nested(self) -> GatewayTimeouts:
        hops = [
            ("client_seconds", self.client_seconds),
            ("edge_seconds", self.edge_seconds),
            ("engine_seconds", self.engine_seconds),
            ("provider_seconds", self.provider_seconds),
        ]
        for (outer, outer_value), (inner, inner_value) in zip(hops, hops[1:], strict=False):
            if inner_value >= outer_value:
                raise FieldProblem(inner, f"must be below {outer} ({outer_value}): an inner hop may not outlast an outer one")
        return self


class GatewayCapacitySettings(StrictModel):
    """The peak load the gateway is sized for (gateway/sizing.py): its instances and the concurrent streams its
    autoscaler targets follow from the engine's measured CPU per chunk (gateway/capacity.py, MEASURED).

    Bounds, first wins: the cloud's own key (azure.gateway.engine_min_replicas / engine_max_replicas), then
    instances_min / instances_max here, then the measured bounds; the autoscaling target is always measured."""

    concurrent_streams: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Streams open at once at the peak, 1 to 1000000. Default 300 in prod (at a 50 % provider share: 2-6 "
        "one-vCPU instances, the bounds the AWS and Azure gateways had before they were measured), 50 elsewhere.",
    )
    tokens_per_second: float = Field(
        default=50.0, gt=0, le=10_000, description="Tokens per second of one stream (one chunk each), above 0 up to 10000. Default 50."
    )
    stream_seconds: float = Field(
        default=20.0,
        ge=1,
        le=3600,
        description="How long a stream lasts on average, 1 to 3600 s (new requests per second = concurrent_streams / this). "
        "Default 20 (1000 tokens at 50/s).",
    )
    provider_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of the streams that go to an API provider through LiteLLM, 0 to 1. Default: the share of gateway "
        "models whose first route is a provider.",
    )
    instances_min: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Fewest gateway instances (tasks, Cloud Run instances, replicas), 0 to 1000; prod needs 2. "
        "Default: 2 in prod, else 1 (0 on GCP: Cloud Run scales to zero).",
    )
    instances_max: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Most gateway instances, 1 to 1000 (300 on Azure); refused when, with every engine core busy, they "
        "could not carry concurrent_streams. Default: what the peak needs at 60 % of the engine cores.",
    )


class GatewaySettings(StrictModel):
    """One OpenAI-compatible endpoint in front of API providers and the stack's own models."""

    models: dict[Label, ModelGroupSettings] = Field(description="Models clients call, by name. Required.")
    consumers: dict[Label, ConsumerSettings] = Field(description="Clients with their own keys and quotas. At least one.")
    timeouts: GatewayTimeouts = Field(
        default_factory=GatewayTimeouts,
        description="Timeout budget, client to provider. On Azure without this key: 300/240/210/180 s (API Management forwards for 240 s at most).",
    )
    retries: int = Field(default=2, ge=0, le=5, description="Retries per request (Retry-After honoured). Default 2.")
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Secret name per provider, when not the provider's own name. Default: the provider name."
    )
    bedrock_models: list[str] = Field(
        default_factory=list, description="Bedrock foundation-model ids the gateway may invoke (its role is scoped to them)."
    )
    capacity: GatewayCapacitySettings = Field(
        default_factory=GatewayCapacitySettings,
        description="The peak load the gateway's instances and autoscaling are sized for. Default: 300 concurrent streams "
        "in prod (50 elsewhere) of 50 tokens/s, 20 s each.",
    )

    @model_validator(mode="after")
    def _references(self) -> GatewaySettings:
        if not self.consumers:
            raise FieldProblem("consumers", "at least one consumer is required (clients authenticate with its key)")
        for name, group in self.models.items():
            for _i, fallback in enumerate(group.fallbacks):
                if fallback not in self.models:
                    raise FieldProblem(
                        f"models.{name}.fallbacks", f"{fallback} is not a gateway model; {allowed(fallback, self.models, 'defined')}"
                    )
                if fallback == name:
                    raise FieldProblem(f"models.{name}.fallbacks", "a model can't fall back to itself")
        private = [name for name, group in self.models.items() if group.boundary == "private"]
        breach = decide_boundary_breach(
            private,
            {name: [r.provider for r in group.routes] for name, group in self.models.items()},
            {name: group.fallbacks for name, group in self.models.items()},
        )
        if breach is not None:
            raise FieldProblem(f"models.{breach.group}.{breach.key}", breach.reason())
        hybrid = decide_hybrid(
            {name: [r.provider for r in group.routes] for name, group in self.models.items()},
            {name: group.fallbacks for name, group in self.models.items()},
        )
        for name, group in self.models.items():
            if "fallback_alert" in group.model_fields_set and name not in hybrid:
                raise FieldProblem(
                    f"models.{name}.fallback_alert",
                    "has no effect: only a hybrid model (a self-hosted and a provider route among its routes and fallbacks) "
                    "has fallback alarms; remove it",
                )
        for name, consumer in self.consumers.items():
            for model in consumer.models:
                if model not in self.models:
                    raise FieldProblem(
                        f"consumers.{name}.models", f"{model} is not a gateway model; {allowed(model, self.models, 'defined')}"
                    )
        owners: dict[str, str] = {}
        for provider in sorted(self.providers()):
            secret = self.secrets.get(provider, provider)
            if secret in owners:
                raise FieldProblem("secrets", f"secret name {secret} is used by both {owners[secret]} and {provider}")
            owners[secret] = provider
        unknown = sorted(set(self.secrets) - self.providers())
        if unknown:
            raise FieldProblem("secrets", f"{unknown[0]} is not a provider of any route")
        if self.capacity.stream_seconds > self.timeouts.engine_seconds:
            raise FieldProblem(
                "capacity.stream_seconds",
                f"above timeouts.engine_seconds ({self.timeouts.engine_seconds}), which ends every stream sooner; allowed at most that",
            )
        return self

    def first_routes(self) -> list[str]:
        """The provider of each gateway model's first route, by model name (the default provider share's input)."""
        return [group.routes[0].provider for _name, group in sorted(self.models.items())]

    def providers(self) -> set[str]:
        """Providers whose keys live in the secret store (not Bedrock: IAM; not self-hosted)."""
        return {r.provider for g in self.models.values() for r in g.routes} - {"bedrock", "self-hosted"}

    def secret_names(self) -> dict[str, str]:
        """{provider: secret short name}, sorted."""
        return {p: self.secrets.get(p, p) for p in sorted(self.providers())}
