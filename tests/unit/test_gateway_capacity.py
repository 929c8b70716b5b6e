"""Gateway sizing from the engine's measured CPU cost: streams per instance, instance bounds, the floor,
the one-process cap, and refusal of impossible inputs."""

from __future__ import annotations

import math

import pytest
from pulumi_llm.gateway.capacity import DEFAULT_ENGINE, MEASURED, decide_engine_cost, decide_gateway_capacity


def test_streams_per_instance_is_what_the_target_utilisation_leaves_for_chunks_and_request_starts() -> None:
    # 50 tokens/s at 100 µs/chunk = 5 ms/s of CPU per stream; 10 req/s over 100 streams = 0.1 start/s
    # per stream at 10 ms = 1 ms/s: 6 ms/s per stream. One core at 60 % carries 600 / 6 = 100 streams.
    cap = decide_gateway_capacity(100, 50, 0.0001, 0.010, 10, 1.0, 0.6)
    assert cap.cpu_per_stream == pytest.approx(0.006)
    assert cap.streams_per_instance == 100
    assert cap.streams_per_instance_limit == 166  # the whole core: 1000 / 6
    assert cap.peak_vcpu == pytest.approx(0.6)
    assert (cap.instances_min, cap.instances_max, cap.vcpu) == (2, 2, 1.0)


def test_instances_max_covers_the_peak_streams() -> None:
    cap = decide_gateway_capacity(1000, 50, 0.0001, 0.010, 100, 1.0, 0.6)
    assert cap.streams_per_instance == 100
    assert cap.instances_max == 10
    assert cap.vcpu_max == 10.0
    # one more stream than ten instances take needs an eleventh
    assert decide_gateway_capacity(1001, 50, 0.0001, 0.010, 100.1, 1.0, 0.6).instances_max == 11


def test_a_costlier_engine_needs_proportionally_more_instances() -> None:
    front = MEASURED["front"]
    litellm = MEASURED["litellm"]
    load = {"concurrent_streams": 500, "tokens_per_second": 50, "requests_per_second": 20, "vcpu_per_instance": 1.0}
    cheap = decide_gateway_capacity(
        cpu_seconds_per_chunk=front.cpu_seconds_per_chunk, cpu_seconds_per_request=front.cpu_seconds_per_request, **load
    )
    dear = decide_gateway_capacity(
        cpu_seconds_per_chunk=litellm.cpu_seconds_per_chunk, cpu_seconds_per_request=litellm.cpu_seconds_per_request, **load
    )
    assert dear.instances_max > cheap.instances_max
    assert dear.streams_per_instance < cheap.streams_per_instance
    assert DEFAULT_ENGINE in MEASURED


def test_a_single_process_engine_uses_one_core_whatever_the_instance_has() -> None:
    four = decide_gateway_capacity(400, 50, 0.0001, 0.0, 0, 4.0, 0.6)
    one_process = decide_gateway_capacity(400, 50, 0.0001, 0.0, 0, 4.0, 0.6, engine_cores_per_instance=1.0)
    assert four.streams_per_instance == 4 * one_process.streams_per_instance == 480
    assert one_process.instances_max == math.ceil(400 / 120) == 4
    assert four.instances_max == 2  # the HA floor


def test_the_floor_is_two_instances_with_high_availability_and_one_without() -> None:
    assert decide_gateway_capacity(1, 50, 0.0001, 0.001, 0.1, 1.0).instances_min == 2
    dev = decide_gateway_capacity(1, 50, 0.0001, 0.001, 0.1, 1.0, high_availability=False)
    assert (dev.instances_min, dev.instances_max) == (1, 1)


def test_a_stream_heavier_than_an_instance_still_gets_one_instance_each() -> None:
    cap = decide_gateway_capacity(10, 50, 0.1, 0.0, 0, 1.0, 0.6)  # 5 cores per stream
    assert cap.streams_per_instance == cap.streams_per_instance_limit == 1
    assert cap.instances_max == 10


def test_a_cost_of_zero_puts_every_stream_on_the_floor() -> None:
    cap = decide_gateway_capacity(64, 50, 0.0, 0.0, 0, 1.0)
    assert cap.streams_per_instance == 64
    assert cap.instances_max == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("concurrent_streams", 0),
        ("tokens_per_second", 0),
        ("cpu_seconds_per_chunk", -1e-6),
        ("cpu_seconds_per_request", -1),
        ("requests_per_second", -1),
        ("vcpu_per_instance", 0),
        ("target_utilisation", 0),
        ("target_utilisation", 1.5),
        ("engine_cores_per_instance", 0),
    ],
)
def test_impossible_inputs_are_refused_naming_the_input(field: str, value: float) -> None:
    args: dict[str, float] = {
        "concurrent_streams": 10,
        "tokens_per_second": 50,
        "cpu_seconds_per_chunk": 0.0001,
        "cpu_seconds_per_request": 0.001,
        "requests_per_second": 1,
        "vcpu_per_instance": 1.0,
    }
    args[field] = value
    with pytest.raises(ValueError, match=f"{field} = {value!r}: allowed "):
        decide_gateway_capacity(**args)  # type: ignore[arg-type]


def test_every_measured_cost_cites_the_benchmark_run() -> None:
    for name, cost in MEASURED.items():
        assert cost.engine == name
        assert "bench/gateway_engine.py" in cost.measured
        assert cost.cpu_seconds_per_chunk > 0
        assert cost.cpu_seconds_per_request > 0


def test_a_mix_costs_the_front_for_every_stream_and_litellm_for_the_provider_share() -> None:
    front, litellm = MEASURED["front"], MEASURED["litellm"]
    assert decide_engine_cost(0.0).cpu_seconds_per_chunk == front.cpu_seconds_per_chunk
    quarter = decide_engine_cost(0.25)
    assert quarter.cpu_seconds_per_chunk == pytest.approx(front.cpu_seconds_per_chunk + 0.25 * litellm.cpu_seconds_per_chunk)
    assert quarter.cpu_seconds_per_request == pytest.approx(front.cpu_seconds_per_request + 0.25 * litellm.cpu_seconds_per_request)
    everything = decide_engine_cost(1.0)
    assert everything.cpu_seconds_per_chunk == pytest.approx(front.cpu_seconds_per_chunk + litellm.cpu_seconds_per_chunk)
    # more provider traffic, fewer streams per instance
    per_instance = [
        decide_gateway_capacity(500, 50, c.cpu_seconds_per_chunk, c.cpu_seconds_per_request, 25, 1.0).streams_per_instance
        for c in (decide_engine_cost(0.0), quarter, everything)
    ]
    assert per_instance == sorted(per_instance, reverse=True)
    assert per_instance[0] > per_instance[2]


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_provider_share_outside_0_to_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match=f"provider_share = {share!r}: allowed 0 to 1"):
        decide_engine_cost(share)
