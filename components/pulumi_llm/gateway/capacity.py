"""How many gateway instances a load needs, from the engine's measured CPU cost (issue 15).

A streaming gateway is bound by CPU per streamed chunk, not by requests: a stream of 50 tokens/s costs
the engine 50 chunk-forwards a second for as long as it lasts, plus a fixed cost when it starts (auth,
grant, routing, connecting upstream). So the unit to scale on is the number of **concurrent streams**
an instance carries, and the number that sizes it is the engine's CPU per chunk — measured, not
guessed: ``bench/gateway_engine.py`` pins each engine to one core behind a fake 50 tokens/s backend and
solves ``cpu = a * requests + b * chunks`` from its process group's utime+stime.

Pure (no Pulumi, no cloud SDK). Each cloud shell turns the result into its own concurrency-based
autoscaling and ``instances_min`` / ``instances_max`` into its bounds: ECS target tracking on streams per
task (the NLB's active flows per healthy task) = ``streams_per_instance``; Container Apps' ``http`` scale
rule ``concurrentRequests`` = ``streams_per_instance``; Cloud Run's maximum concurrency per instance =
``streams_per_instance_limit`` (at most 1000), since its autoscaler already holds instances at 60 % of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class EngineCost:
    """One engine's CPU cost on one core, as measured.

    cpu_seconds_per_request: fixed work per request (parse, auth, grant, route, connect, log).
    cpu_seconds_per_chunk: work per streamed chunk forwarded to the client.
    measured: how, where and when (the benchmark run the figures come from).
    """

    engine: str
    cpu_seconds_per_request: float
    cpu_seconds_per_chunk: float
    measured: str


_RUN = (
    "bench/gateway_engine.py, 2026-12-07, 2-vCPU Intel Xeon VM (x86_64) shared with other work (load average 4-15): "
    "fake backend at 50 tokens/s (64 chunks 20 ms apart), the engine pinned to one core, the front on uvloop "
    "with the LiteLLM 1.103.1 venv's aiohttp 3.14.5, LiteLLM 1.103.1 with the hosted_vllm deployment; median "
    "of three full runs of 3 interleaved repetitions each (per run: front 0.19/0.19/0.18 ms and 42/32/32 us, "
    "LiteLLM 10.45/10.59/10.94 ms and 405/398/338 us)"
)

MEASURED: Final[dict[str, EngineCost]] = {
    "front": EngineCost("front", cpu_seconds_per_request=0.00019, cpu_seconds_per_chunk=0.000032, measured=_RUN),
    "litellm": EngineCost("litellm", cpu_seconds_per_request=0.01059, cpu_seconds_per_chunk=0.000398, measured=_RUN),
}
"""The engines' measured costs at 16-64 concurrent streams, where an instance near its peak runs (at one
stream a chunk costs more: nothing batches in the event loop, but a lone stream never sizes anything).
Re-run the benchmark and update these when an engine, its pin or the front's streaming path changes."""

DEFAULT_ENGINE: Final = "front"
"""The engine that owns the gateway port: self-hosted streams never touch LiteLLM's per-chunk path."""

DEFAULT_TARGET_UTILISATION: Final = 0.6
"""Share of an instance's engine cores the sizing fills at the peak: headroom for bursts, the start
of a new instance (tens of seconds) and the noise the benchmark saw."""


def decide_engine_cost(provider_share: float) -> EngineCost:
    """The cost per request and per chunk of a traffic mix through the engine container.

    Every request passes the front; a provider route (or a fallback to one) also passes LiteLLM on loopback,
    and its chunks cross both processes (LiteLLM makes them, the front relays them). So a share
    ``provider_share`` (0 … 1) of the streams costs ``front + litellm``, the rest ``front``. LiteLLM is a
    second process: with providers in the mix the container can use a second core (pass
    ``engine_cores_per_instance=2`` to ``decide_gateway_capacity``), yet LiteLLM's own share stays on one.
    """
    _check(0 <= provider_share <= 1, "provider_share", provider_share, "0 to 1")
    front, litellm = MEASURED["front"], MEASURED["litellm"]
    return EngineCost(
        engine="front" if provider_share == 0 else f"front + {provider_share:.0%} through litellm",
        cpu_seconds_per_request=front.cpu_seconds_per_request + provider_share * litellm.cpu_seconds_per_request,
        cpu_seconds_per_chunk=front.cpu_seconds_per_chunk + provider_share * litellm.cpu_seconds_per_chunk,
        measured=front.measured,
    )


@dataclass(frozen=True)
class GatewayCapacity:
    """What to deploy for a load.

    instances_min: the floor (2 for high availability, else 1).
    instances_max: enough instances for the peak's concurrent streams at the target utilisation.
    vcpu: vCPU per instance (as asked).
    streams_per_instance: concurrent streams one instance carries at the target utilisation — the
        target of an autoscaler that scales to it (ECS target tracking on streams per task, Container
        Apps' http rule ``concurrentRequests``).
    streams_per_instance_limit: concurrent streams that fill the engine cores — a ceiling, for a
        platform that takes a per-instance maximum and keeps its own headroom (Cloud Run's maximum
        concurrency, which its autoscaler holds at 60 %).
    cpu_per_stream: engine cores one stream keeps busy (chunks plus its share of request starts).
    peak_vcpu: engine cores the peak keeps busy (before headroom).
    """

    instances_min: int
    instances_max: int
    vcpu: float
    streams_per_instance: int
    streams_per_instance_limit: int
    cpu_per_stream: float
    peak_vcpu: float

    @property
    def vcpu_max(self) -> float:
        """vCPU deployed at instances_max."""
        return self.instances_max * self.vcpu


def decide_gateway_capacity(
    concurrent_streams: int,
    tokens_per_second: float,
    cpu_seconds_per_chunk: float,
    cpu_seconds_per_request: float,
    requests_per_second: float,
    vcpu_per_instance: float,
    target_utilisation: float = DEFAULT_TARGET_UTILISATION,
    *,
    engine_cores_per_instance: float | None = None,
    high_availability: bool = True,
) -> GatewayCapacity:
    """Instances and the per-instance streams target for a peak load.

    concurrent_streams: streams open at once at the peak (>= 1).
    tokens_per_second: chunks each stream carries per second (one chunk per token; > 0).
    cpu_seconds_per_chunk / cpu_seconds_per_request: the engine's cost (``MEASURED``; >= 0).
    requests_per_second: new requests per second at the peak (>= 0); with concurrent_streams it gives
        how long a stream lasts (Little's law), so each stream carries its share of request starts.
    vcpu_per_instance: vCPU of one instance (Fargate task, Cloud Run instance, Container App replica; > 0).
    target_utilisation: share of the engine cores filled at the peak (0 < x <= 1).
    engine_cores_per_instance: cores the engine can use per instance; an asyncio front is one process,
        so it uses at most 1 whatever the instance has. None: all of vcpu_per_instance.
    high_availability: the floor is 2 instances (in two zones), else 1.
    """
    _check(concurrent_streams >= 1, "concurrent_streams", concurrent_streams, "at least 1")
    _check(tokens_per_second > 0, "tokens_per_second", tokens_per_second, "above 0")
    _check(cpu_seconds_per_chunk >= 0, "cpu_seconds_per_chunk", cpu_seconds_per_chunk, "0 or more")
    _check(cpu_seconds_per_request >= 0, "cpu_seconds_per_request", cpu_seconds_per_request, "0 or more")
    _check(requests_per_second >= 0, "requests_per_second", requests_per_second, "0 or more")
    _check(vcpu_per_instance > 0, "vcpu_per_instance", vcpu_per_instance, "above 0")
    _check(0 < target_utilisation <= 1, "target_utilisation", target_utilisation, "above 0 and at most 1")
    cores = vcpu_per_instance if engine_cores_per_instance is None else min(vcpu_per_instance, engine_cores_per_instance)
    _check(cores > 0, "engine_cores_per_instance", engine_cores_per_instance, "above 0")

    per_stream = tokens_per_second * cpu_seconds_per_chunk + requests_per_second / concurrent_streams * cpu_seconds_per_request
    usable = cores * target_utilisation
    # A stream that costs nothing measurable is still a connection: cap at what one instance is sized for.
    streams_per_instance = max(1, math.floor(usable / per_stream)) if per_stream > 0 else concurrent_streams
    streams_limit = max(streams_per_instance, math.floor(cores / per_stream)) if per_stream > 0 else concurrent_streams
    floor = 2 if high_availability else 1
    needed = math.ceil(concurrent_streams / streams_per_instance)
    return GatewayCapacity(
        instances_min=floor,
        instances_max=max(floor, needed),
        vcpu=vcpu_per_instance,
        streams_per_instance=streams_per_instance,
        streams_per_instance_limit=streams_limit,
        cpu_per_stream=per_stream,
        peak_vcpu=per_stream * concurrent_streams,
    )


def _check(ok: bool, name: str, value: object, allowed: str) -> None:
    if not ok:
        raise ValueError(f"gateway capacity: {name} = {value!r}: allowed {allowed}")
