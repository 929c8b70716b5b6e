"""The prod stacks' gateways as planned: each cloud autoscales on concurrent streams with the numbers
gateway/sizing.py computes from the measured engine cost, and summary.json carries the gateway block."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_llm.cli import main
from pulumi_llm.gateway.sizing import GATEWAY_PRICES, GatewaySizing, stack_gateway_sizing
from pulumi_llm.offline.plan import Project, load_settings

ROOT = Path(__file__).resolve().parents[2]


def planned(stack: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict[str, Any]], dict[str, Any], GatewaySizing]:
    monkeypatch.chdir(ROOT)
    assert main(["plan", stack, "--quiet", "--out", str(out)]) == 0
    sizing = stack_gateway_sizing(load_settings(Project.find(ROOT / "stacks"), stack))
    assert sizing is not None
    resources = json.loads((out / "resources.json").read_text())
    return resources, json.loads((out / "summary.json").read_text()), sizing


def one(resources: list[dict[str, Any]], type_: str, name_end: str = "") -> dict[str, Any]:
    found = [r["inputs"] for r in resources if r["type"] == type_ and r["name"].endswith(name_end)]
    assert len(found) == 1, (type_, name_end, len(found))
    return found[0]


def check_summary(summary: dict[str, Any], sizing: GatewaySizing, cloud: str) -> None:
    block = summary["gateway"]
    assert block["instances"]["min"] == sizing.instances_min and block["instances"]["max"] == sizing.instances_max
    assert block["vcpu"] == {"min": sizing.instances_min * sizing.shape.vcpu, "max": sizing.instances_max * sizing.shape.vcpu}
    assert block["autoscaling"]["target"] == sizing.scale_target
    assert block["cost"]["monthly_min"] == round(sizing.monthly_min, 2) > 0
    assert block["cost"]["monthly_max"] == round(sizing.monthly_max, 2) >= block["cost"]["monthly_min"]
    assert block["cost"]["source"] == GATEWAY_PRICES[cloud].source
    assert block["measured"]["cpu_seconds_per_chunk"] == round(sizing.cost.cpu_seconds_per_chunk, 9)
    assert block["load"]["concurrent_streams"] == 300


def test_prod_ecs_tracks_streams_per_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resources, summary, sizing = planned("prod", tmp_path, monkeypatch)
    target = one(resources, "aws:appautoscaling/target:Target")
    assert (target["minCapacity"], target["maxCapacity"]) == (sizing.instances_min, sizing.instances_max) == (2, 6)
    flows = one(resources, "aws:appautoscaling/policy:Policy", "scale-flows")["targetTrackingScalingPolicyConfiguration"]
    assert flows["targetValue"] == sizing.capacity.streams_per_instance == 50
    assert flows["customizedMetricSpecification"]["metrics"][-1]["expression"] == "flows / tasks"
    check_summary(summary, sizing, "aws")


def test_gcp_prod_cloud_run_concurrency_is_the_measured_ceiling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resources, summary, sizing = planned("gcp-prod", tmp_path, monkeypatch)
    template = one(resources, "gcp:cloudrunv2/service:Service")["template"]
    assert template["maxInstanceRequestConcurrency"] == sizing.capacity.streams_per_instance_limit == 169
    assert template["scaling"] == {"minInstanceCount": 2, "maxInstanceCount": sizing.instances_max}
    assert template["containers"][0]["resources"]["cpuIdle"] is False  # priced at the always-allocated rate
    check_summary(summary, sizing, "gcp")


def test_azure_prod_http_rule_scales_on_concurrent_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resources, summary, sizing = planned("azure-prod", tmp_path, monkeypatch)
    apps = [r["inputs"] for r in resources if r["type"] == "azure-native:app:ContainerApp" and "template" in r["inputs"]]
    assert len(apps) == 1
    scale = apps[0]["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (sizing.instances_min, sizing.instances_max) == (2, 6)
    assert scale["rules"] == [
        {"name": "concurrency", "http": {"metadata": {"concurrentRequests": str(sizing.capacity.streams_per_instance)}}}
    ]
    check_summary(summary, sizing, "azure")
