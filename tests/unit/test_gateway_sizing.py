"""The gateway sized from a stack's expected load (gateway/sizing.py): each cloud's autoscaling target and bounds
from the measured engine cost, the precedence of explicit counts, the refusals (one line naming the key), the
list price of the instances, and the numbers each shell is given."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm.errors import FieldProblem, UserError
from pulumi_llm.gateway.capacity import decide_engine_cost, decide_gateway_capacity
from pulumi_llm.gateway.sizing import (
    CLOUD_RUN_MAX_CONCURRENCY,
    GATEWAY_PRICES,
    HOURS_PER_MONTH,
    INSTANCE_SHAPES,
    Counts,
    GatewayLoad,
    decide_gateway_sizing,
    decide_monthly_cost,
    decide_provider_share,
    gateway_summary,
    stack_gateway_sizing,
)
from pulumi_llm.settings import load

ROOT = Path(__file__).resolve().parents[2]
PROD = GatewayLoad(concurrent_streams=300, tokens_per_second=50, stream_seconds=20, provider_share=0.5)


def stack(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"]


def changed(name: str, **changes: Any) -> dict[str, Any]:
    """A shipped stack's config with `top__key__key` values replaced (None deletes the key)."""
    cfg = copy.deepcopy(stack(name))
    for path, value in changes.items():
        top, *rest = path.split("__")
        node = cfg.setdefault(f"pulumi-llm:{top}", {})
        for key in rest[:-1]:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(rest[-1], None)
        else:
            node[rest[-1]] = value
    return cfg


def message(name: str, **changes: Any) -> str:
    with pytest.raises(UserError) as caught:
        load(changed(name, **changes), f"stacks/Pulumi.{name}.yaml")
    assert "\n" not in str(caught.value)
    return str(caught.value)


# --- pure sizing -----------------------------------------------------------------------------------------------


def test_each_cloud_scales_on_streams_with_the_measured_capacity() -> None:
    cost = decide_engine_cost(0.5)
    for cloud in ("aws", "gcp", "azure"):
        shape = INSTANCE_SHAPES[cloud]
        expected = decide_gateway_capacity(
            300, 50, cost.cpu_seconds_per_chunk, cost.cpu_seconds_per_request, 300 / 20, shape.vcpu, engine_cores_per_instance=2
        )
        sizing = decide_gateway_sizing(cloud, PROD, high_availability=True)
        assert (sizing.instances_min, sizing.instances_max) == (2, expected.instances_max)
        # ECS flows per task and Container Apps concurrentRequests hold the 60 % target; Cloud Run's maximum
        # concurrency is the 100 % ceiling, since its autoscaler already keeps instances at 60 % of it.
        target = min(CLOUD_RUN_MAX_CONCURRENCY, expected.streams_per_instance_limit) if cloud == "gcp" else expected.streams_per_instance
        assert sizing.scale_target == target
        assert sizing.instances_max * sizing.capacity.streams_per_instance >= 300
    # The numbers behind prod's defaults: a one-vCPU task at a 50 % provider share carries 50 streams (2-6 tasks),
    # a two-vCPU Cloud Run instance 101 at 60 % and 169 flat out (2-3 instances).
    assert decide_gateway_sizing("aws", PROD, high_availability=True).scale_target == 50
    assert decide_gateway_sizing("aws", PROD, high_availability=True).instances_max == 6
    gcp = decide_gateway_sizing("gcp", PROD, high_availability=True)
    assert (gcp.scale_target, gcp.instances_max, gcp.capacity.streams_per_instance) == (169, 3, 101)


def test_the_front_alone_uses_one_core_and_providers_a_second() -> None:
    front_only = decide_gateway_sizing("gcp", GatewayLoad(300, 50, 20, 0.0), high_availability=True)
    assert front_only.engine_cores == 1.0
    assert front_only.capacity.streams_per_instance == 372  # 0.6 / (50 × 32 µs + 0.05 × 0.19 ms)
    hybrid = decide_gateway_sizing("gcp", GatewayLoad(300, 50, 20, 0.5), high_availability=True)
    assert hybrid.engine_cores == 2.0
    # A one-vCPU Fargate task can't give LiteLLM a second core.
    assert decide_gateway_sizing("aws", GatewayLoad(300, 50, 20, 0.5), high_availability=True).engine_cores == 1.0


def test_cloud_run_concurrency_stops_at_its_maximum() -> None:
    tiny = decide_gateway_sizing("gcp", GatewayLoad(5000, 1, 20, 0.0), high_availability=True)
    assert tiny.capacity.streams_per_instance_limit > CLOUD_RUN_MAX_CONCURRENCY
    assert tiny.scale_target == CLOUD_RUN_MAX_CONCURRENCY


def test_the_floor_is_two_in_prod_one_elsewhere_and_zero_for_cloud_run_outside_prod() -> None:
    load_ = GatewayLoad(50, 50, 20, 0.5)
    assert decide_gateway_sizing("aws", load_, high_availability=True).instances_min == 2
    assert decide_gateway_sizing("aws", load_, high_availability=False).instances_min == 1
    assert decide_gateway_sizing("gcp", load_, high_availability=False, scale_to_zero=True).instances_min == 0
    assert decide_gateway_sizing("gcp", load_, high_availability=True, scale_to_zero=True).instances_min == 2


def test_explicit_counts_win_and_name_their_key() -> None:
    counts = Counts(instances_min=3, instances_max=9)
    sizing = decide_gateway_sizing("aws", PROD, high_availability=True, counts=counts)
    assert (sizing.instances_min, sizing.instances_max) == (3, 9)
    assert (sizing.min_source, sizing.max_source) == ("gateway.capacity.instances_min", "gateway.capacity.instances_max")
    assert sizing.scale_target == 50  # the target stays measured


@pytest.mark.parametrize(
    ("counts", "key", "words"),
    [
        # 2 tasks × 84 streams flat out = 168 < 300 expected: a contradiction, not a headroom choice.
        (Counts(instances_max=2), "gateway.capacity.instances_max", "carries at most 168 streams"),
        (Counts(instances_min=1), "gateway.capacity.instances_min", "prod keeps at least 2"),
        (Counts(instances_min=8, instances_max=7), "gateway.capacity.instances_min", "above the most instances (7)"),
        (Counts(instances_max=1001), "gateway.capacity.instances_max", "at most 1000"),
    ],
)
def test_contradicting_counts_are_refused_at_their_key(counts: Counts, key: str, words: str) -> None:
    with pytest.raises(FieldProblem) as caught:
        decide_gateway_sizing("aws", PROD, high_availability=True, counts=counts)
    assert caught.value.field == tuple(key.split("."))
    assert words in caught.value.message


def test_provider_share_from_first_routes() -> None:
    assert decide_provider_share(["self-hosted", "self-hosted", "bedrock", "openai"]) == 0.5
    assert decide_provider_share(["gemini"]) == 1.0
    assert decide_provider_share(["self-hosted"]) == 0.0
    assert decide_provider_share([]) == 0.0


def test_monthly_cost_is_the_list_price_of_the_instances_all_month() -> None:
    fargate = decide_monthly_cost("aws", INSTANCE_SHAPES["aws"], 2)
    assert fargate == pytest.approx(2 * 730 * (1 * 0.04048 + 2 * 0.004445))
    cloud_run = decide_monthly_cost("gcp", INSTANCE_SHAPES["gcp"], 1)
    assert cloud_run == pytest.approx(730 * 3600 * (2 * 0.000018 + 2 * 0.000002))
    assert decide_monthly_cost("azure", INSTANCE_SHAPES["azure"], 0) == 0
    for price in GATEWAY_PRICES.values():
        assert price.source.startswith("https://") and price.as_of[:4] == "2026"


def test_instance_shapes_are_the_shells_defaults() -> None:
    from pulumi_llm.gateway.aws import AwsGatewayArgs
    from pulumi_llm.gateway.azure import AzureGatewayArgs
    from pulumi_llm.gateway.gcp import GcpGatewayArgs

    aws, gcp, azure = AwsGatewayArgs.model_fields, GcpGatewayArgs.model_fields, AzureGatewayArgs.model_fields
    assert (INSTANCE_SHAPES["aws"].vcpu, INSTANCE_SHAPES["aws"].memory_gib) == (aws["cpu"].default / 1024, aws["memory"].default / 1024)
    assert INSTANCE_SHAPES["gcp"].vcpu == float(gcp["cpu"].default)
    assert f"{INSTANCE_SHAPES['gcp'].memory_gib:g}Gi" == gcp["memory"].default
    assert (INSTANCE_SHAPES["azure"].vcpu, INSTANCE_SHAPES["azure"].memory_gib) == (
        azure["engine_cpu"].default,
        azure["engine_memory_gib"].default,
    )
    assert GcpGatewayArgs.model_fields["concurrency"].metadata[-1].le == CLOUD_RUN_MAX_CONCURRENCY


def test_summary_block_carries_bounds_cost_and_the_measured_constants() -> None:
    block = gateway_summary(decide_gateway_sizing("azure", PROD, high_availability=True))
    assert block["instances"] == {"min": 2, "max": 6, "min_from": "measured", "max_from": "measured"}
    assert block["vcpu"] == {"min": 2.0, "max": 6.0}
    assert block["autoscaling"]["target"] == 50
    cost = block["cost"]
    per_replica = HOURS_PER_MONTH * (0.000024 * 3600 + 2 * 0.000003 * 3600)
    assert (cost["monthly_min"], cost["monthly_max"]) == (round(2 * per_replica, 2), round(6 * per_replica, 2))
    measured = block["measured"]
    assert measured["front"] == {"per_chunk": 0.000032, "per_request": 0.00019}
    assert math.isclose(measured["cpu_seconds_per_chunk"], 0.000032 + 0.5 * 0.000398)


# --- settings --------------------------------------------------------------------------------------------------


def test_shipped_stacks_size_as_documented() -> None:
    sized = {
        name: stack_gateway_sizing(load(stack(name), f"stacks/Pulumi.{name}.yaml"))
        for name in ("prod", "gcp-prod", "azure-prod", "dev", "gcp-dev", "azure-dev")
    }
    got = {name: (s.instances_min, s.instances_max, s.scale_target, s.load.concurrent_streams) for name, s in sized.items() if s}
    assert got == {
        "prod": (2, 6, 50, 300),
        "gcp-prod": (2, 3, 169, 300),
        "azure-prod": (2, 6, 50, 300),
        "dev": (1, 1, 50, 50),
        "gcp-dev": (0, 1, 90, 50),  # every gcp-dev model is a provider's: 54 streams per instance, scale to zero
        "azure-dev": (1, 2, 50, 50),  # its own azure.gateway.engine_min/max_replicas
    }
    assert sized["azure-dev"] is not None and sized["azure-dev"].max_source == "azure.gateway.engine_max_replicas"


def test_the_stack_file_load_and_overrides_reach_the_sizing() -> None:
    cfg = changed("prod", gateway__capacity={"concurrent_streams": 1200, "provider_share": 0, "instances_max": 10})
    sizing = stack_gateway_sizing(load(cfg, "stacks/Pulumi.prod.yaml"))
    assert sizing is not None
    assert (sizing.load.concurrent_streams, sizing.load.provider_share) == (1200, 0)
    assert (sizing.instances_min, sizing.instances_max, sizing.scale_target) == (2, 10, 372)


@pytest.mark.parametrize(
    ("name", "changes", "line"),
    [
        (
            "prod",
            {"gateway__capacity": {"instances_max": 2}},
            "stacks/Pulumi.prod.yaml: pulumi-llm:gateway.capacity.instances_max = 2: carries at most 168 streams with every "
            "engine core busy (84 per Fargate task, measured), below gateway.capacity.concurrent_streams = 300; raise it to at "
            "least 6 or lower the expected streams",
        ),
        (
            "prod",
            {"gateway__capacity": {"instances_min": 1}},
            "stacks/Pulumi.prod.yaml: pulumi-llm:gateway.capacity.instances_min = 1: prod keeps at least 2 instances (in two "
            "zones); allowed 2 or more",
        ),
        (
            "prod",
            {"gateway__capacity": {"provider_share": 1.5}},
            "stacks/Pulumi.prod.yaml: pulumi-llm:gateway.capacity.provider_share = 1.5: ",
        ),
        (
            "prod",
            {"gateway__capacity": {"concurrent_streams": 0}},
            "stacks/Pulumi.prod.yaml: pulumi-llm:gateway.capacity.concurrent_streams = 0: ",
        ),
        (
            "prod",
            {"gateway__capacity": {"stream_seconds": 900}},
            "stacks/Pulumi.prod.yaml: pulumi-llm:gateway.capacity.stream_seconds = 900: above timeouts.engine_seconds (540)",
        ),
        (
            "prod",
            {"gateway__capacity": {"streams": 10}},
            "stacks/Pulumi.prod.yaml: pulumi-llm:gateway.capacity.streams",
        ),
        (
            "azure-dev",
            {"gateway__capacity": {"instances_max": 3}},
            "stacks/Pulumi.azure-dev.yaml: pulumi-llm:azure.gateway.engine_max_replicas = 2: and gateway.capacity.instances_max "
            "both set the bound; keep one (the Azure key wins)",
        ),
        (
            "azure-prod",
            {"gateway__capacity": {"concurrent_streams": 500_000}},
            "stacks/Pulumi.azure-prod.yaml: pulumi-llm:gateway.capacity.concurrent_streams = 500000: needs 10000 instances, "
            "above azure's 300: lower it, or split the traffic",
        ),
    ],
)
def test_bad_capacity_input_is_one_line(name: str, changes: dict[str, Any], line: str) -> None:
    assert message(name, **changes).startswith(line)


# --- the printed cost block ------------------------------------------------------------------------------------


def test_cost_block_has_a_gateway_line_and_a_gateway_only_stack_gets_one_too() -> None:
    from pulumi_llm.offline.cost_block import WIDTH, render_cost_block

    block = gateway_summary(decide_gateway_sizing("aws", PROD, high_availability=True))
    summary = json.loads((ROOT / "tests" / "unit" / "golden" / "plan_summary_prod.json").read_text())
    without = render_cost_block(summary)
    text = render_cost_block({**summary, "gateway": block})
    assert text.startswith(without + "\n")  # one line added at the end, nothing else moved
    added = text[len(without) + 1 :]
    assert added.startswith("  gateway      $72.08 – $216 a month for 2–6 × Fargate task (1 vCPU, 2 GiB) autoscaled on")
    assert "(target 50) for 300 expected; list price, us-east-1, as of 2026-06" in " ".join(added.split())
    assert all(len(line) <= WIDTH for line in text.splitlines())
    gateway_only = render_cost_block({"stack": "shared", "cloud": "aws", "region": "us-east-1", "sizing": [], "gateway": block})
    assert gateway_only.splitlines()[0].startswith("Sizing and cost of shared (aws us-east-1")
    assert gateway_only.splitlines()[1].startswith("  gateway ")
    assert render_cost_block({"stack": "shared", "cloud": "aws", "region": "us-east-1", "sizing": []}) == ""
