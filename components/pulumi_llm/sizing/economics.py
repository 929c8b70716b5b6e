"""Money: self-hosted $/1M tokens, API list prices, break-even volumes, monthly cost of a stack.

Token counting: "tokens" are input + output tokens together. API bills price them separately, so a
volume is turned into a bill with a stated input:output mix (default 3:1, the same mix as the default
throughput workload of 1,536 prompt + 512 output tokens).

API prices are list prices per 1M tokens for standard (pay-as-you-go, non-batch, non-cached) requests,
transcribed by hand from each provider's public pricing page in the month in `as_of`, not fetched.
Long-context surcharges (e.g. prompts above 200k tokens), batch and cache discounts are left out. Check
the page before budgeting; providers change prices and retire models often.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from pulumi_llm.errors import UserError
from pulumi_llm.sizing._common import HOURS_PER_MONTH, lookup
from pulumi_llm.sizing.catalogs import CATALOGS
from pulumi_llm.sizing.hardware import InstanceType
from pulumi_llm.sizing.models import ModelSpec

Tier = Literal["small", "medium", "large"]
TIERS: tuple[Tier, ...] = ("small", "medium", "large")

DEFAULT_UTILIZATION = 0.6
"""Average load of a self-hosted server as a share of its estimated peak (assumed: traffic has peaks)."""


@dataclass(frozen=True)
class TokenMix:
    """Input:output token ratio, e.g. 3:1."""

    input: float = 3.0
    output: float = 1.0

    def __post_init__(self) -> None:
        if self.input < 0 or self.output < 0 or self.input + self.output <= 0:
            raise UserError(f"token mix must be two non-negative numbers, not {self.input:g}:{self.output:g}")

    @property
    def input_share(self) -> float:
        return self.input / (self.input + self.output)

    @property
    def label(self) -> str:
        return f"{self.input:g}:{self.output:g}"

    @classmethod
    def parse(cls, text: str) -> TokenMix:
        """'3:1' → TokenMix(3, 1)."""
        parts = text.split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            return cls(float(parts[0]), float(parts[1]))
        except ValueError:
            raise UserError(f"--mix must look like INPUT:OUTPUT (e.g. 3:1), not '{text}'") from None


_DEFAULT_MIX = TokenMix()


@dataclass(frozen=True)
class ApiPrice:
    """One model of an API provider, at list price."""

    provider: str
    model: str
    tier: Tier
    input_per_m: float
    """USD per 1M input tokens."""
    output_per_m: float
    """USD per 1M output tokens."""
    as_of: str
    source: str
    same_model: str | None = None
    """Catalog key when the provider serves the very model this tool sizes (e.g. Llama on Bedrock)."""
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"

    def blended_per_m(self, mix: TokenMix = _DEFAULT_MIX) -> float:
        """USD per 1M tokens of the given mix."""
        return self.input_per_m * mix.input_share + self.output_per_m * (1 - mix.input_share)

    def monthly_cost(self, tokens_per_month: float, mix: TokenMix = _DEFAULT_MIX) -> float:
        return tokens_per_month / 1e6 * self.blended_per_m(mix)


_OPENAI = "https://openai.com/api/pricing/ (standard tier)"
_ANTHROPIC = "https://www.anthropic.com/pricing#api"
_GEMINI = "https://ai.google.dev/gemini-api/docs/pricing (paid tier, prompts up to 200k tokens)"
_COHERE = "https://cohere.com/pricing"
_BEDROCK = "https://aws.amazon.com/bedrock/pricing/ (on-demand, us-east-1)"
_AZURE_OAI = "https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/ (Global deployment)"
_API_AS_OF = "2025-08"

API_PRICES: tuple[ApiPrice, ...] = (
    ApiPrice("openai", "gpt-5-nano", "small", 0.05, 0.40, _API_AS_OF, _OPENAI),
    ApiPrice("openai", "gpt-4o-mini", "small", 0.15, 0.60, _API_AS_OF, _OPENAI),
    ApiPrice("openai", "gpt-5-mini", "medium", 0.25, 2.00, _API_AS_OF, _OPENAI),
    ApiPrice("openai", "gpt-4.1-mini", "medium", 0.40, 1.60, _API_AS_OF, _OPENAI),
    ApiPrice("openai", "gpt-5", "large", 1.25, 10.00, _API_AS_OF, _OPENAI),
    ApiPrice("openai", "gpt-4.1", "large", 2.00, 8.00, _API_AS_OF, _OPENAI),
    ApiPrice("anthropic", "claude-3.5-haiku", "small", 0.80, 4.00, _API_AS_OF, _ANTHROPIC),
    ApiPrice("anthropic", "claude-sonnet-4", "medium", 3.00, 15.00, _API_AS_OF, _ANTHROPIC, note="prompts up to 200k tokens"),
    ApiPrice("anthropic", "claude-opus-4.1", "large", 15.00, 75.00, _API_AS_OF, _ANTHROPIC),
    ApiPrice("google", "gemini-2.5-flash-lite", "small", 0.10, 0.40, _API_AS_OF, _GEMINI),
    ApiPrice("google", "gemini-2.5-flash", "medium", 0.30, 2.50, _API_AS_OF, _GEMINI),
    ApiPrice("google", "gemini-2.5-pro", "large", 1.25, 10.00, _API_AS_OF, _GEMINI),
    ApiPrice("cohere", "command-r7b", "small", 0.0375, 0.15, _API_AS_OF, _COHERE),
    ApiPrice("cohere", "command-r", "medium", 0.15, 0.60, _API_AS_OF, _COHERE),
    ApiPrice("cohere", "command-a", "large", 2.50, 10.00, _API_AS_OF, _COHERE),
    ApiPrice("bedrock", "llama-3.1-8b-instruct", "small", 0.22, 0.22, _API_AS_OF, _BEDROCK, same_model="llama-3.1-8b-instruct"),
    ApiPrice("bedrock", "nova-micro", "small", 0.035, 0.14, _API_AS_OF, _BEDROCK),
    ApiPrice("bedrock", "llama-3.1-70b-instruct", "medium", 0.72, 0.72, _API_AS_OF, _BEDROCK, same_model="llama-3.1-70b-instruct"),
    ApiPrice("bedrock", "llama-3.3-70b-instruct", "medium", 0.72, 0.72, _API_AS_OF, _BEDROCK, same_model="llama-3.3-70b-instruct"),
    ApiPrice("bedrock", "nova-lite", "medium", 0.06, 0.24, _API_AS_OF, _BEDROCK),
    ApiPrice("bedrock", "llama-3.1-405b-instruct", "large", 2.40, 2.40, _API_AS_OF, _BEDROCK, same_model="llama-3.1-405b-instruct"),
    ApiPrice("bedrock", "nova-pro", "large", 0.80, 3.20, _API_AS_OF, _BEDROCK),
    ApiPrice("azure-openai", "gpt-4o-mini", "small", 0.15, 0.60, _API_AS_OF, _AZURE_OAI),
    ApiPrice("azure-openai", "gpt-4.1-mini", "medium", 0.40, 1.60, _API_AS_OF, _AZURE_OAI),
    ApiPrice("azure-openai", "gpt-4.1", "large", 2.00, 8.00, _API_AS_OF, _AZURE_OAI),
)
"""API list prices. Tiers are this tool's grouping (small ≈ 8B-class, medium ≈ 30–70B-class, large ≈
frontier), a judgement call for comparing like with like, not the providers' own labels."""

API_PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google", "cohere", "bedrock", "azure-openai")


def get_api_price(key: str) -> ApiPrice:
    """'openai/gpt-4o-mini' → its price (case-insensitive, with did-you-mean)."""
    return lookup("API model", key, {p.key.lower(): p for p in API_PRICES}, normalize=lambda s: s.strip().lower())


def comparable_tier(model: ModelSpec) -> Tier:
    """API tier to compare a self-hosted model with, by total parameters: ≤ 35 B small, ≤ 150 B medium."""
    if model.total_params_b <= 35:
        return "small"
    if model.total_params_b <= 150:
        return "medium"
    return "large"


def comparable_api_prices(model: ModelSpec, tier: Tier | None = None) -> tuple[ApiPrice, ...]:
    """API models of the comparable tier, plus any provider serving this very model, cheapest first."""
    t = tier or comparable_tier(model)
    picked = [p for p in API_PRICES if p.tier == t or p.same_model == model.key]
    return tuple(sorted(picked, key=lambda p: (p.blended_per_m(), p.key)))


# ---------------------------------------------------------------------------------------------
# Self-hosted
# ---------------------------------------------------------------------------------------------


def _check_utilization(utilization: float) -> None:
    if not (0 < utilization <= 1):
        raise UserError(f"utilization must be above 0 and at most 1, not {utilization:g}")


def self_hosted_cost_per_million(price_per_hour: float, tokens_per_s: float, utilization: float = DEFAULT_UTILIZATION) -> float:
    """USD per 1M tokens of a server costing `price_per_hour` that peaks at `tokens_per_s`, run at `utilization`."""
    _check_utilization(utilization)
    if tokens_per_s <= 0:
        raise UserError(f"throughput must be positive, not {tokens_per_s:g} tokens/s")
    return price_per_hour / (tokens_per_s * 3600 * utilization) * 1e6


def monthly_capacity_tokens(
    tokens_per_s: float, utilization: float = DEFAULT_UTILIZATION, hours_per_month: float = HOURS_PER_MONTH
) -> float:
    """Tokens one server handles in a month at `utilization` of its peak."""
    _check_utilization(utilization)
    return tokens_per_s * 3600 * hours_per_month * utilization


@dataclass(frozen=True)
class SelfHostedBill:
    """The monthly bill of a self-hosted deployment at one volume."""

    tokens_per_month: float
    replicas: int
    monthly_cost: float
    over_capacity: bool
    """True when even max_replicas cannot carry the volume (the cost shown is at max_replicas)."""


def self_hosted_monthly_cost(
    price_per_hour: float,
    capacity_tokens_per_month: float,
    tokens_per_month: float,
    *,
    min_replicas: int = 1,
    max_replicas: int | None = None,
    hours_per_month: float = HOURS_PER_MONTH,
) -> SelfHostedBill:
    """Replicas needed for a volume (at least min, at most max) and what they cost per month.

    Replicas run all month (no scale-down within the month is modelled); with min_replicas 0 a month
    with no traffic costs nothing and any traffic costs at least one replica-month.
    """
    if min_replicas < 0 or (max_replicas is not None and max_replicas < max(1, min_replicas)):
        raise UserError(f"replicas need 0 <= min <= max and max >= 1, not min {min_replicas}, max {max_replicas}")
    if tokens_per_month < 0:
        raise UserError(f"monthly tokens must not be negative, not {tokens_per_month:g}")
    needed = math.ceil(tokens_per_month / capacity_tokens_per_month) if tokens_per_month > 0 else 0
    replicas = max(min_replicas, needed)
    over = max_replicas is not None and replicas > max_replicas
    if over:
        replicas = cast(int, max_replicas)  # `over` holds only when max_replicas is not None
    return SelfHostedBill(
        tokens_per_month=tokens_per_month,
        replicas=replicas,
        monthly_cost=replicas * price_per_hour * hours_per_month,
        over_capacity=over,
    )


def break_even_tokens_per_month(
    price_per_hour: float,
    capacity_tokens_per_month: float,
    api_blended_per_m: float,
    *,
    min_replicas: int = 1,
    hours_per_month: float = HOURS_PER_MONTH,
) -> float | None:
    """Monthly volume at which self-hosting costs the same as the API; None if the API always wins.

    The self-hosted bill is a staircase (one replica-month per `capacity` tokens) with a floor of
    max(1, min_replicas) replicas; the API bill is a line. If a full replica's tokens cost more at the API
    than the replica does, the lines cross at floor × replica-month / API price; otherwise the API is
    cheaper at every volume. Beyond the crossing, self-hosting stays cheaper except just past each step
    of the staircase where a new replica is still mostly idle.
    """
    if api_blended_per_m <= 0:
        return None
    replica_month = price_per_hour * hours_per_month
    api_per_token = api_blended_per_m / 1e6
    if capacity_tokens_per_month * api_per_token < replica_month:
        return None
    return max(1, min_replicas) * replica_month / api_per_token


# ---------------------------------------------------------------------------------------------
# Monthly cost of a stack
# ---------------------------------------------------------------------------------------------

OBJECT_STORAGE_PER_GB_MONTH: dict[str, float] = {catalog.cloud: catalog.object_storage_per_gb_month for catalog in CATALOGS}
"""Standard-class object storage list prices per cloud (sizing/catalogs/<cloud>.py), USD per GB-month, for
the model weights kept in a bucket."""

EXCLUDED_COSTS: tuple[str, ...] = (
    "data egress and cross-zone traffic",
    "load balancers, NAT gateways and public IPs (unless passed as extras)",
    "Kubernetes control-plane fees (unless passed as extras)",
    "logs, metrics and traces ingestion and retention",
    "cloud support plans",
    "engineering and on-call time to build and run the stack",
    "software licences (e.g. NVIDIA AI Enterprise for NIM)",
    "idle capacity during scale-up lag and cold starts",
    "taxes",
    "discounts: savings plans, committed use, reservations, spot (list on-demand prices are used)",
)
"""What the monthly figures leave out."""


@dataclass(frozen=True)
class CostItem:
    name: str
    monthly_min: float
    monthly_max: float


@dataclass(frozen=True)
class MonthlyCost:
    """Monthly cost range of a deployment: min replicas running all month … max replicas all month."""

    items: tuple[CostItem, ...]
    hours_per_month: float
    excluded: tuple[str, ...] = field(default=EXCLUDED_COSTS)

    @property
    def monthly_min(self) -> float:
        return sum(i.monthly_min for i in self.items)

    @property
    def monthly_max(self) -> float:
        return sum(i.monthly_max for i in self.items)


def monthly_stack_cost(
    instance: InstanceType | float,
    *,
    min_replicas: int = 1,
    max_replicas: int = 1,
    hours_per_month: float = HOURS_PER_MONTH,
    extras: Mapping[str, float] | None = None,
    storage_gb: float = 0.0,
    cloud: str | None = None,
) -> MonthlyCost:
    """Monthly cost of `min_replicas`…`max_replicas` servers on `instance` (or at a given $/hour).

    `extras` are named fixed monthly amounts (a gateway, a control plane, …). `storage_gb` prices that
    much object storage for the weights at the cloud's list price.
    """
    if min_replicas < 0 or max_replicas < 1 or max_replicas < min_replicas:
        raise UserError(f"replicas need 0 <= min <= max and max >= 1, not min {min_replicas}, max {max_replicas}")
    if hours_per_month <= 0 or hours_per_month > 744:
        raise UserError(f"hours per month must be between 0 and 744, not {hours_per_month:g}")
    if isinstance(instance, InstanceType):
        hourly, name, cl = instance.price_per_hour, f"{instance.name} servers", cloud or instance.cloud
    else:
        if instance < 0:
            raise UserError(f"hourly price must not be negative, not {instance:g}")
        hourly, name, cl = float(instance), "servers", cloud
    items = [CostItem(name, min_replicas * hourly * hours_per_month, max_replicas * hourly * hours_per_month)]
    if storage_gb:
        if storage_gb < 0:
            raise UserError(f"storage must not be negative, not {storage_gb:g} GB")
        if cl not in OBJECT_STORAGE_PER_GB_MONTH:
            raise UserError("storage cost needs the cloud (aws, gcp or azure)")
        cost = storage_gb * OBJECT_STORAGE_PER_GB_MONTH[cl]
        items.append(CostItem(f"weights in object storage ({storage_gb:,.0f} GB)", cost, cost))
    for label, amount in (extras or {}).items():
        if amount < 0:
            raise UserError(f"extra cost '{label}' must not be negative, not {amount:g}")
        items.append(CostItem(label, float(amount), float(amount)))
    return MonthlyCost(items=tuple(items), hours_per_month=hours_per_month)
