"""The plan's cost block (offline/cost_block.py) on recorded plans' summaries, and counted nouns.

The summaries are summary.json of `pulumi-llm plan prod` and `plan dev` (resources.byType emptied: the block
doesn't read it); the golden text is the block rendered from them. After a change to the sizing or the
pricing, record the summaries again, then the golden text, and review the diff:

    for s in prod dev; do uv run pulumi-llm plan $s --quiet --no-verify --out /tmp/plan-$s; done
    uv run python -c "import json; [json.dump({**(d := json.load(open(f'/tmp/plan-{s}/summary.json'))), \\
      'resources': {'total': d['resources']['total'], 'byType': {}}}, open(f'tests/unit/golden/plan_summary_{s}.json', 'w'), \\
      indent=2, sort_keys=True) for s in ('prod', 'dev')]"
    UPDATE_GOLDEN=1 uv run pytest tests/unit/test_cost_block.py -q
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from pulumi_llm.offline.cost_block import WIDTH, render_cost_block
from pulumi_llm.offline.plan import Plan, tree
from pulumi_llm.offline.recorder import Record
from pulumi_llm.offline.words import plural

GOLDEN = Path(__file__).parent / "golden"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def recorded(stack: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"plan_summary_{stack}.json").read_text())


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_cost_block_matches_the_golden_text(stack: str) -> None:
    text = render_cost_block(recorded(stack)) + "\n"
    path = GOLDEN / f"cost_block_{stack}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing; create it with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs from the renderer's output; review, then UPDATE_GOLDEN=1"


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_every_line_fits_in_100_characters_and_has_no_colour_unless_asked(stack: str) -> None:
    plain = render_cost_block(recorded(stack))
    assert plain and max(len(line) for line in plain.splitlines()) <= WIDTH
    assert "\x1b" not in plain
    coloured = render_cost_block(recorded(stack), color=True)
    assert "\x1b[1m" in coloured
    assert ANSI.sub("", coloured) == plain


def test_the_block_carries_the_figures_a_person_decides_on() -> None:
    summary = recorded("dev")
    [model] = summary["sizing"]
    cost = model["cost"]
    text = " ".join(render_cost_block(summary).split())  # wrapped lines read as one
    # instance, GPUs, TP, context, concurrency, throughput
    assert f"on g6.xlarge (1× L4), TP {model['tensor_parallel_size']}, context 8,192" in text
    assert f"{model['throughput']['concurrency']} concurrent" in text
    assert f"~{model['throughput']['total_tokens_per_s']:,.0f} tok/s" in text
    # the schedule and spot figures, with the on-demand list beside them
    assert f"${cost['monthly_min']:,.2f} (on-demand list ${cost['list_monthly_min']:,.0f} at 730 h" in text
    assert f"{cost['hours_per_month']:,.0f} h/month, aws.gpu_vm.schedule" in text
    assert "priced 60 % off list (assumed 2026-12-07)" in text
    assert f"${cost['per_million_tokens']:.2f}" in text
    assert "break-even none: bedrock/llama-3.1-8b-instruct (same model, $0.22/1M) is cheaper at every volume" in text


def test_a_break_even_volume_is_printed_in_tokens_a_month() -> None:
    summary = recorded("prod")
    small = next(m for m in summary["sizing"] if m["served_name"] == "llama-3-1-8b-instruct")
    assert small["cost"]["break_even"]["tokens_per_month"] is not None
    billions = small["cost"]["break_even"]["tokens_per_month"] / 1e9
    flat = " ".join(render_cost_block(summary).split())
    assert f"break-even above {billions:.1f}B tokens/month against bedrock/llama-3.1-8b-instruct" in flat


def test_a_region_without_a_price_is_flagged_in_the_block() -> None:
    summary = copy.deepcopy(recorded("dev"))
    flag = "pulumi-llm:region = eu-south-2: no list price of g6.xlarge there in the sizing catalog (prices for: us-east-1)"
    summary["sizing"][0]["cost"]["region_price_flag"] = flag
    text = render_cost_block(summary)
    assert "    ! region     pulumi-llm:region = eu-south-2: no list price of g6.xlarge there" in text
    assert "\x1b[33m    ! region" in render_cost_block(summary, color=True)


def test_a_model_on_its_own_hardware_has_no_price_line() -> None:
    summary = copy.deepcopy(recorded("dev"))
    summary["cost"] = None
    summary["sizing"][0]["cost"] = None
    text = render_cost_block(summary)
    assert "cost         no list price: on-prem or edge hardware" in text
    assert "monthly" not in text and "stack  " not in text


def test_a_stack_serving_no_model_prints_no_block() -> None:
    assert render_cost_block({**recorded("dev"), "sizing": []}) == ""


def test_counted_nouns_agree_with_their_count() -> None:
    assert [plural(n, "resource") for n in (0, 1, 2, 1000)] == ["0 resources", "1 resource", "2 resources", "1,000 resources"]
    assert plural(1, "replica") == "1 replica" and plural(3, "child", "children") == "3 children"


def test_the_resource_tree_says_1_resource() -> None:
    def record(urn: str, parent: str | None, custom: bool) -> Record:
        return Record(urn=urn, type=urn.split("::")[-2], name=urn.split("::")[-1], parent=parent, custom=custom, provider=None, inputs={})

    stack = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
    component = "urn:pulumi:s::p::pulumi-llm:index:Thing::thing"
    records = [
        record(stack, None, False),
        record(component, stack, False),
        record("urn:pulumi:s::p::aws:s3/bucket:Bucket::b", component, True),
    ]
    lines = tree(Plan(stack="s", project="p", config={}, records=records)).splitlines()
    assert lines[0].endswith("(2 resources)") and lines[1].endswith("(1 resource)")
