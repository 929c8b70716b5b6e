"""The gateway's instances, autoscaling targets and monthly cost for a stack's expected load (issue 15).

`capacity.py` turns measured CPU per chunk and per request into streams per instance; this module adds what a
stack decides with it: the load it expects (`gateway.capacity` in the stack file), the instance shape each
cloud shell deploys, the explicit counts a stack may set (and when they contradict the measurement), the
number each cloud's autoscaler scales on, and the list price of the instances. Pure: plain data in, plain
data out; `platform/<cloud>.py` passes the result to the shell and the plan writes `gateway_summary` into
summary.json.

Precedence of the instance bounds, first wins: the cloud's own key (Azure: `azure.gateway.engine_min_replicas` /
`engine_max_replicas`), then `gateway.capacity.instances_min` / `instances_max`, then the measured bounds
(`decide_gateway_capacity`). An explicit maximum that could not carry the expected streams even with every
engine core busy (`streams_per_instance_limit`) is refused in one line: that is a contradiction, not a
headroom choice. The autoscaling target always comes from the measurement.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from ..errors import FieldProblem
from .capacity import MEASURED, EngineCost, GatewayCapacity, decide_engine_cost, decide_gateway_capacity

if TYPE_CHECKING:  # the settings are only read, by stack_gateway_sizing
    from ..settings import Settings

Cloud = Literal["aws", "gcp", "azure"]

HOURS_PER_MONTH: Final = 730
"""The month the plan prices (as the model servers' cost: sizing._common.HOURS_PER_MONTH)."""

CLOUD_RUN_MAX_CONCURRENCY: Final = 1000
"""Cloud Run's largest maximum concurrency per instance (GcpGatewayArgs.concurrency, le=1000)."""

MAX_INSTANCES: Final[dict[str, int]] = {"aws": 1000, "gcp": 1000, "azure": 300}
"""The most instances each shell takes: Cloud Run max_instance_count ≤ 1000 (GcpGatewayArgs.max_instances),
Container Apps max_replicas ≤ 300 (AzureGatewayArgs.engine_max_replicas); ECS has no shell limit, 1000 keeps
a typo from planning a fleet."""


DEFAULT_CONCURRENT_STREAMS: Final = 300
"""A prod gateway's peak when the stack gives none: at a 50 % provider share it sizes 2-6 one-vCPU instances at 50
streams each, the bounds (and Azure's concurrentRequests) the gateways had before they were sized from measurement."""

DEFAULT_CONCURRENT_STREAMS_ELSEWHERE: Final = 50
"""A dev or staging gateway's peak when the stack gives none: a team's tests, one instance."""


@dataclass(frozen=True)
class InstanceShape:
    """What one gateway instance is on a cloud (the shell's default size, which the platform keeps).

    vcpu: vCPU per instance. memory_gib: memory per instance (GiB). what: the platform's name for it.
    """

    vcpu: float
    memory_gib: float
    what: str


INSTANCE_SHAPES: Final[dict[str, InstanceShape]] = {
    "aws": InstanceShape(1.0, 2.0, "Fargate task"),  # AwsGatewayArgs cpu=1024, memory=2048
    "gcp": InstanceShape(2.0, 2.0, "Cloud Run instance"),  # GcpGatewayArgs cpu="2", memory="2Gi"
    "azure": InstanceShape(1.0, 2.0, "Container Apps replica"),  # AzureGatewayArgs engine_cpu=1.0, engine_memory_gib=2.0
}
"""tests/unit/test_gateway_sizing.py checks these against the shells' Args defaults."""


@dataclass(frozen=True)
class InstancePrice:
    """A cloud's list price of the gateway's compute, per vCPU-hour and per GiB-hour (USD, on demand).

    region: where the price applies. as_of: when it was read. source: where. note: what it is and leaves out.
    """

    vcpu_hour: float
    gib_hour: float
    region: str
    as_of: str
    source: str
    note: str


GATEWAY_PRICES: Final[dict[str, InstancePrice]] = {
    "aws": InstancePrice(
        vcpu_hour=0.04048,
        gib_hour=0.004445,
        region="us-east-1",
        as_of="2026-06",
        source="https://www.vantage.sh/blog/fargate-pricing and https://www.factualminds.com/blog/amazon-fargate-ecs-task-pricing-2026/",
        note="Fargate Linux/x86 on demand, per vCPU-hour and GB-hour; third-party copies of "
        "https://aws.amazon.com/fargate/pricing/ (the vendor page was not readable offline), both giving the same figures",
    ),
    "gcp": InstancePrice(
        vcpu_hour=0.000018 * 3600,
        gib_hour=0.000002 * 3600,
        region="Tier 1 regions",
        as_of="2026-12-07",
        source="https://cloud.google.com/run/pricing",
        note="Cloud Run services with CPU always allocated (instance-based billing: the shell sets cpu_idle=false), "
        "$0.000018 per vCPU-second and $0.000002 per GiB-second beyond the free tier; the stored copy of the page "
        "showed the vCPU rate, the GiB rate is the same table's",
    ),
    "azure": InstancePrice(
        vcpu_hour=0.000024 * 3600,
        gib_hour=0.000003 * 3600,
        region="East US",
        as_of="2026-12-07",
        source="https://c3x.dev/resources/azure/azurerm_container_app/ (meters: https://learn.microsoft.com/azure/container-apps/billing)",
        note="Container Apps Consumption plan at the active rate, $0.000024 per vCPU-second and $0.000003 per "
        "GiB-second; third-party figures (the vendor's price page was not readable offline); a replica idle below "
        "0.01 vCPU is billed at the lower idle rate",
    ),
}
"""Free grants (per account or subscription, shared with everything else there) are left out."""


@dataclass(frozen=True)
class GatewayLoad:
    """The peak a stack expects its gateway to carry (`gateway.capacity`).

    concurrent_streams: streams open at once at the peak. tokens_per_second: tokens (chunks) per stream per
    second. stream_seconds: how long a stream lasts on average (requests per second = streams / this).
    provider_share: share of the streams that go through LiteLLM to a provider (0 … 1).
    """

    concurrent_streams: int
    tokens_per_second: float
    stream_seconds: float
    provider_share: float


@dataclass(frozen=True)
class Counts:
    """Instance counts a stack sets itself, each with the stack-file key it was read from (None: not set)."""

    instances_min: int | None = None
    min_key: str = "gateway.capacity.instances_min"
    instances_max: int | None = None
    max_key: str = "gateway.capacity.instances_max"


@dataclass(frozen=True)
class GatewaySizing:
    """What a cloud shell deploys for a stack's load, and what it costs.

    instances_min / instances_max: the autoscaler's bounds (explicit counts win over the measured ones).
    scale_target: the number the cloud's autoscaler scales on — ECS flows per task and Container Apps
        concurrentRequests: capacity.streams_per_instance; Cloud Run: the maximum concurrency,
        min(1000, streams_per_instance_limit).
    min_source / max_source: the key each bound came from, or "measured".
    """

    cloud: str
    load: GatewayLoad
    cost: EngineCost
    capacity: GatewayCapacity
    shape: InstanceShape
    engine_cores: float
    instances_min: int
    instances_max: int
    scale_target: int
    min_source: str
    max_source: str

    @property
    def monthly_min(self) -> float:
        return decide_monthly_cost(self.cloud, self.shape, self.instances_min)

    @property
    def monthly_max(self) -> float:
        return decide_monthly_cost(self.cloud, self.shape, self.instances_max)


def decide_provider_share(first_routes: list[str]) -> float:
    """The share of streams through LiteLLM when the stack gives none: of the gateway models, those whose first
    route is a provider (not self-hosted), each model assumed to carry the same traffic. A self-hosted model's
    fallbacks are left out: they serve when its servers fail, which sizing for every peak would overstate."""
    if not first_routes:
        return 0.0
    return sum(1 for provider in first_routes if provider != "self-hosted") / len(first_routes)


def decide_monthly_cost(cloud: str, shape: InstanceShape, instances: int) -> float:
    """List price of `instances` instances of `shape` running all month (USD)."""
    price = GATEWAY_PRICES[cloud]
    return instances * HOURS_PER_MONTH * (shape.vcpu * price.vcpu_hour + shape.memory_gib * price.gib_hour)


def decide_gateway_sizing(
    cloud: Cloud,
    load: GatewayLoad,
    *,
    high_availability: bool,
    scale_to_zero: bool = False,
    counts: Counts | None = None,
    shape: InstanceShape | None = None,
) -> GatewaySizing:
    """Instances, autoscaling target and bounds of a cloud's gateway for `load`.

    high_availability: prod — the floor is 2 instances, and an explicit minimum below 2 is refused.
    scale_to_zero: the measured floor is 0 (GCP outside prod: Cloud Run scales to zero, today's behaviour).
    counts: explicit bounds from the stack file (they win; FieldProblem at their key when they contradict).
    shape: the instance (default INSTANCE_SHAPES[cloud]).
    """
    counts = counts or Counts()
    shape = shape or INSTANCE_SHAPES[cloud]
    cost = decide_engine_cost(load.provider_share)
    # The front is one process (one core); LiteLLM is a second one, so a provider share can use a second core.
    engine_cores = 2.0 if load.provider_share > 0 else 1.0
    capacity = decide_gateway_capacity(
        load.concurrent_streams,
        load.tokens_per_second,
        cost.cpu_seconds_per_chunk,
        cost.cpu_seconds_per_request,
        load.concurrent_streams / load.stream_seconds,
        shape.vcpu,
        engine_cores_per_instance=engine_cores,
        high_availability=high_availability,
    )
    measured_min = 0 if scale_to_zero and not high_availability else capacity.instances_min
    low = measured_min if counts.instances_min is None else counts.instances_min
    high = capacity.instances_max if counts.instances_max is None else counts.instances_max
    limit = MAX_INSTANCES[cloud]
    if counts.instances_max is not None and counts.instances_max > limit:
        raise FieldProblem(counts.max_key, f"allowed at most {limit} on {cloud}")
    if counts.instances_max is None and high > limit:
        raise FieldProblem(
            "gateway.capacity.concurrent_streams",
            f"needs {high} instances, above {cloud}'s {limit}: lower it, or split the traffic",
        )
    if high_availability and counts.instances_min is not None and counts.instances_min < 2:
        raise FieldProblem(counts.min_key, "prod keeps at least 2 instances (in two zones); allowed 2 or more")
    if low > high:
        if counts.instances_min is not None:
            raise FieldProblem(counts.min_key, f"above the most instances ({high}); allowed at most that")
        raise FieldProblem(
            counts.max_key, f"below the fewest instances ({low}{', prod' if high_availability else ''}); allowed at least that"
        )
    if counts.instances_max is not None and counts.instances_max * capacity.streams_per_instance_limit < load.concurrent_streams:
        raise FieldProblem(
            counts.max_key,
            f"carries at most {counts.instances_max * capacity.streams_per_instance_limit} streams "
            f"with every engine core busy ({capacity.streams_per_instance_limit} per {shape.what}, measured), below "
            f"gateway.capacity.concurrent_streams = {load.concurrent_streams}; raise it to at least "
            f"{capacity.instances_max} or lower the expected streams",
        )
    target = min(CLOUD_RUN_MAX_CONCURRENCY, capacity.streams_per_instance_limit) if cloud == "gcp" else capacity.streams_per_instance
    return GatewaySizing(
        cloud=cloud,
        load=load,
        cost=cost,
        capacity=capacity,
        shape=shape,
        engine_cores=min(engine_cores, shape.vcpu),
        instances_min=low,
        instances_max=high,
        scale_target=target,
        min_source="measured" if counts.instances_min is None else counts.min_key,
        max_source="measured" if counts.instances_max is None else counts.max_key,
    )


SCALES_ON: Final[dict[str, str]] = {
    "aws": "ECS target tracking on NLB active flows per healthy task",
    "gcp": "Cloud Run maximum concurrency per instance (its autoscaler holds 60 % of it)",
    "azure": "Container Apps http scale rule concurrentRequests",
}


def gateway_summary(sizing: GatewaySizing) -> dict[str, Any]:
    """summary.json's `gateway` block: instances, vCPU, monthly cost min–max and the measured constants used."""
    price = GATEWAY_PRICES[sizing.cloud]
    capacity = sizing.capacity
    return {
        "engine": sizing.cost.engine,
        "load": {
            "concurrent_streams": sizing.load.concurrent_streams,
            "tokens_per_second": sizing.load.tokens_per_second,
            "stream_seconds": sizing.load.stream_seconds,
            "provider_share": round(sizing.load.provider_share, 4),
        },
        "instances": {
            "min": sizing.instances_min,
            "max": sizing.instances_max,
            "min_from": sizing.min_source,
            "max_from": sizing.max_source,
        },
        "instance": {
            "what": sizing.shape.what,
            "vcpu": sizing.shape.vcpu,
            "memory_gib": sizing.shape.memory_gib,
            "engine_cores": sizing.engine_cores,
        },
        "vcpu": {"min": sizing.instances_min * sizing.shape.vcpu, "max": sizing.instances_max * sizing.shape.vcpu},
        "autoscaling": {
            "scales_on": SCALES_ON[sizing.cloud],
            "target": sizing.scale_target,
            "streams_per_instance": capacity.streams_per_instance,
            "streams_per_instance_limit": capacity.streams_per_instance_limit,
        },
        "measured": {
            "cpu_seconds_per_chunk": round(sizing.cost.cpu_seconds_per_chunk, 9),
            "cpu_seconds_per_request": round(sizing.cost.cpu_seconds_per_request, 9),
            "front": {"per_chunk": MEASURED["front"].cpu_seconds_per_chunk, "per_request": MEASURED["front"].cpu_seconds_per_request},
            "litellm": {"per_chunk": MEASURED["litellm"].cpu_seconds_per_chunk, "per_request": MEASURED["litellm"].cpu_seconds_per_request},
            "cpu_per_stream": round(capacity.cpu_per_stream, 6),
            "peak_vcpu": round(capacity.peak_vcpu, 3),
            "source": sizing.cost.measured,
        },
        "cost": {
            "monthly_min": round(sizing.monthly_min, 2),
            "monthly_max": round(sizing.monthly_max, 2),
            "hours_per_month": HOURS_PER_MONTH,
            "vcpu_hour": round(price.vcpu_hour, 6),
            "gib_hour": round(price.gib_hour, 6),
            "region_priced": price.region,
            "price_as_of": price.as_of,
            "source": price.source,
            "note": price.note,
        },
    }


def stack_gateway_sizing(settings: Settings, *, high_availability: bool | None = None) -> GatewaySizing | None:
    """The gateway sizing of a stack's settings; None without a gateway on aws, gcp or azure.
    high_availability: as the shell is told (default: the stack is prod).

    FieldProblem (at the stack-file key) for bounds that contradict each other or the measurement."""
    gateway = settings.gateway
    if "gateway" not in settings.methods or gateway is None or settings.cloud not in INSTANCE_SHAPES:
        return None
    capacity = gateway.capacity
    share = capacity.provider_share if capacity.provider_share is not None else decide_provider_share(gateway.first_routes())
    counts = Counts(instances_min=capacity.instances_min, instances_max=capacity.instances_max)
    if settings.cloud == "azure":
        azure = settings.azure.gateway
        for cloud_key, ours, theirs in (
            ("engine_min_replicas", "instances_min", azure.engine_min_replicas),
            ("engine_max_replicas", "instances_max", azure.engine_max_replicas),
        ):
            if theirs is None:
                continue
            if getattr(capacity, ours) is not None:
                raise FieldProblem(
                    f"azure.gateway.{cloud_key}", f"and gateway.capacity.{ours} both set the bound; keep one (the Azure key wins)"
                )
            counts = dataclasses.replace(counts, **{ours: theirs, f"{ours.removeprefix('instances_')}_key": f"azure.gateway.{cloud_key}"})
    cloud = cast("Cloud", settings.cloud)
    streams = capacity.concurrent_streams
    if streams is None:
        streams = DEFAULT_CONCURRENT_STREAMS if settings.environment == "prod" else DEFAULT_CONCURRENT_STREAMS_ELSEWHERE
    return decide_gateway_sizing(
        cloud,
        GatewayLoad(streams, capacity.tokens_per_second, capacity.stream_seconds, share),
        high_availability=settings.environment == "prod" if high_availability is None else high_availability,
        scale_to_zero=cloud == "gcp",
        counts=counts,
    )
