"""Self-hosted cost per token, API bills, break-even, monthly stack cost, the comparison, summary.json."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from typing import Any, cast

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.sizing import (
    EXCLUDED_COSTS,
    ApiPrice,
    InstanceType,
    TokenMix,
    break_even_tokens_per_month,
    comparable_api_prices,
    comparable_tier,
    compare_costs,
    get_api_price,
    get_instance_type,
    get_model,
    monthly_capacity_tokens,
    monthly_stack_cost,
    self_hosted_cost_per_million,
    self_hosted_monthly_cost,
    sizing_summary,
)


def test_token_mix_blends_input_and_output_prices():
    price = get_api_price("openai/gpt-4o-mini")  # 0.15 in, 0.60 out
    assert price.blended_per_m(TokenMix(3, 1)) == pytest.approx(0.2625)
    assert price.blended_per_m(TokenMix(1, 1)) == pytest.approx(0.375)
    assert price.monthly_cost(1e9, TokenMix(3, 1)) == pytest.approx(262.5)
    assert TokenMix.parse("10:1").input_share == pytest.approx(10 / 11)
    with pytest.raises(UserError, match=r"^--mix must look like INPUT:OUTPUT \(e.g. 3:1\), not '3-1'$"):
        TokenMix.parse("3-1")
    with pytest.raises(UserError, match=r"^token mix must be two non-negative numbers, not 0:0$"):
        TokenMix(0, 0)


def test_self_hosted_cost_per_million_tokens():
    # $3.60/h at 1,000 tokens/s fully used = 3.6M tokens/h → $1 per 1M; at 50 % load → $2.
    assert self_hosted_cost_per_million(3.6, 1000, utilization=1.0) == pytest.approx(1.0)
    assert self_hosted_cost_per_million(3.6, 1000, utilization=0.5) == pytest.approx(2.0)
    assert monthly_capacity_tokens(1000, 0.5, 730) == pytest.approx(1000 * 3600 * 730 * 0.5)
    with pytest.raises(UserError, match=r"^utilization must be above 0 and at most 1, not 1.5$"):
        self_hosted_cost_per_million(1, 1, 1.5)


def test_self_hosted_bill_is_a_staircase_bounded_by_replicas():
    cap = 1e9
    assert self_hosted_monthly_cost(1.0, cap, 0).replicas == 1
    assert self_hosted_monthly_cost(1.0, cap, 0, min_replicas=0).monthly_cost == 0
    assert self_hosted_monthly_cost(1.0, cap, 2.5e9).replicas == 3
    bill = self_hosted_monthly_cost(1.0, cap, 2.5e9, max_replicas=2)
    assert (bill.replicas, bill.over_capacity, bill.monthly_cost) == (2, True, 1460.0)
    with pytest.raises(UserError, match=r"^replicas need 0 <= min <= max and max >= 1, not min 3, max 2$"):
        self_hosted_monthly_cost(1.0, cap, 1, min_replicas=3, max_replicas=2)


def test_break_even_volume():
    # One replica: $1,000/month, carries 2B tokens. API at $1/1M: equal at 1B tokens.
    hourly = 1000 / 730
    assert break_even_tokens_per_month(hourly, 2e9, 1.0) == pytest.approx(1e9)
    # Two always-on replicas double the floor.
    assert break_even_tokens_per_month(hourly, 2e9, 1.0, min_replicas=2) == pytest.approx(2e9)
    # API cheaper than a full replica's tokens: never.
    assert break_even_tokens_per_month(hourly, 2e9, 0.4) is None
    be = cast(float, break_even_tokens_per_month(hourly, 2e9, 1.0))  # a replica cheaper than the API breaks even
    assert self_hosted_monthly_cost(hourly, 2e9, be).monthly_cost == pytest.approx(be / 1e6 * 1.0)


def test_monthly_stack_cost_with_extras_storage_and_exclusions():
    g5 = get_instance_type("g5.xlarge")
    cost = monthly_stack_cost(g5, min_replicas=1, max_replicas=3, extras={"gateway": 50.0}, storage_gb=16)
    assert cost.monthly_min == pytest.approx(1.006 * 730 + 50 + 16 * 0.023)
    assert cost.monthly_max == pytest.approx(3 * 1.006 * 730 + 50 + 16 * 0.023)
    assert [i.name for i in cost.items] == ["g5.xlarge servers", "weights in object storage (16 GB)", "gateway"]
    assert "data egress and cross-zone traffic" in cost.excluded
    assert "engineering and on-call time to build and run the stack" in EXCLUDED_COSTS
    assert monthly_stack_cost(2.0, min_replicas=0, max_replicas=2, hours_per_month=100).monthly_max == 400
    with pytest.raises(UserError, match=r"^storage cost needs the cloud \(aws, gcp or azure\)$"):
        monthly_stack_cost(2.0, storage_gb=10)
    with pytest.raises(UserError, match=r"^extra cost 'x' must not be negative, not -1$"):
        monthly_stack_cost(g5, extras={"x": -1})


def test_comparable_tier_and_same_model_offers():
    assert comparable_tier(get_model("llama-3.1-8b-instruct")) == "small"
    assert comparable_tier(get_model("llama-3.3-70b-instruct")) == "medium"
    assert comparable_tier(get_model("llama-3.1-405b-instruct")) == "large"
    prices = comparable_api_prices(get_model("llama-3.1-405b-instruct"))
    assert "bedrock/llama-3.1-405b-instruct" in {p.key for p in prices}
    blended = [p.blended_per_m() for p in prices]
    assert blended == sorted(blended)


def test_compare_lists_cheapest_type_and_cheapest_at_volume_per_cloud():
    c = compare_costs("llama-3.1-8b-instruct", 2e9)
    whys = {(cast(InstanceType, o.fit.hardware.instance).cloud, o.why) for o in c.self_hosted}
    assert ("aws", "lowest $/h") in whys and ("aws", "lowest bill") in whys
    assert c.reference is c.self_hosted[0]
    assert c.reference.bill.monthly_cost == min(o.bill.monthly_cost for o in c.self_hosted)
    api = {a.price.key: a for a in c.api}
    assert api["openai/gpt-4o-mini"].monthly_cost == pytest.approx(525)
    be = api["openai/gpt-4o-mini"].break_even_tokens_per_month
    assert be is not None
    assert c.reference.monthly_cost_at(be) == pytest.approx(api["openai/gpt-4o-mini"].price.monthly_cost(be))
    assert api["bedrock/nova-micro"].break_even_tokens_per_month is None


def test_compare_raises_when_no_cloud_fits():
    with pytest.raises(UserError) as err:
        compare_costs("llama-3.1-405b-instruct", 1e9, clouds=("azure",))
    assert str(err.value).startswith("no azure type in eastus fits: the largest is Standard_ND96amsr_A100_v4; ")


def test_sizing_summary_is_plain_json_and_deterministic():
    kwargs: dict[str, Any] = dict(
        model="llama-3.1-70b-instruct",
        quantization=None,
        context=32768,
        instance_type=None,
        cloud="aws",
        region="us-east-1",
        min_replicas=1,
        max_replicas=2,
    )
    first = sizing_summary(**kwargs)
    text = json.dumps(first, sort_keys=True)
    assert json.dumps(sizing_summary(**kwargs), sort_keys=True) == text
    assert first["vllm"]["tensor_parallel_size"] == first["tensor_parallel_size"]
    assert first["vllm"]["max_model_len"] == 32768
    assert first["cost"]["monthly_max"] == pytest.approx(2 * first["cost"]["monthly_min"])
    assert first["cost"]["price_as_of"] == "2025-06" and first["cost"]["excluded"]
    assert first["startup_probe"]["period_seconds"] == 10
    code = f"import json; from pulumi_llm.sizing import sizing_summary; print(json.dumps(sizing_summary(**{kwargs!r}), sort_keys=True))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert other.stdout.strip() == text


def test_sizing_summary_for_onprem_hardware_has_no_price():
    out = sizing_summary("llama-3.2-3b-instruct", "q4_k_m", accelerator="AGX-Orin-64GB", runtime="llamacpp", cloud="onprem")
    assert out["cost"] is None and out["vllm"] is None
    assert out["llamacpp"]["n_gpu_layers"] == 29
    assert out["hardware"] == {
        "instance_type": None,
        "cloud": "onprem",
        "region": None,
        "accelerator": "AGX-Orin-64GB",
        "gpu_count": 1,
        "gpu_memory_gib": 61.3,
    }


def test_sizing_summary_checks_instance_cloud_and_region():
    out = sizing_summary("llama-3.1-8b-instruct", instance_type="g6e.xlarge", cloud="aws", region="us-west-2")
    assert out["hardware"]["instance_type"] == "g6e.xlarge"
    assert "price read for us-east-1; us-west-2 may differ" in out["notes"]
    with pytest.raises(UserError, match=r"^instance type g6e.xlarge belongs to aws, not gcp$"):
        sizing_summary("llama-3.1-8b-instruct", instance_type="g6e.xlarge", cloud="gcp")
    with pytest.raises(UserError, match=r"^instance type g6e.xlarge is not offered in ca-central-1 in the catalog"):
        sizing_summary("llama-3.1-8b-instruct", instance_type="g6e.xlarge", cloud="aws", region="ca-central-1")
    with pytest.raises(UserError, match=r"^sizing needs an instance type, an accelerator, or a cloud to choose a type in$"):
        sizing_summary("llama-3.1-8b-instruct")


def test_api_price_of_a_custom_entry():
    price = ApiPrice("acme", "m", "small", 1.0, 3.0, "2025-01", "https://example.com")
    assert price.key == "acme/m" and math.isclose(price.blended_per_m(TokenMix(1, 1)), 2.0)
