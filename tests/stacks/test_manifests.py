"""Every Kubernetes manifest of every stack: strict schema validation, and the structure of CRD objects."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = "1.30.0"  # the oldest minor we support; newer schemas only add fields
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
    ("karpenter.sh/v1", "NodePool"),
    ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    ("cloud.google.com/v1", "ComputeClass"),
    ("monitoring.googleapis.com/v1", "PodMonitoring"),
}


@pytest.fixture(scope="module")
def manifests(plans: Path) -> dict[str, list[dict]]:
    out = plans
    return {
        stack.name: [yaml.safe_load(p.read_text()) for p in sorted((stack / "manifests").glob("*.yaml"))] for stack in sorted(out.iterdir())
    }


def test_self_hosting_stacks_render_manifests(manifests: dict[str, list[dict]]) -> None:
    for stack in ("onprem", "onprem-triton", "staging", "prod", "gcp-prod"):
        assert len(manifests[stack]) >= 10, stack
    assert manifests["dev"] == [] and manifests["gcp-dev"] == []  # GPU VMs: no Kubernetes


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_karpenter_gpu_pool_is_tainted_encrypted_and_bounded(manifests: dict[str, list[dict]], stack: str) -> None:
    # The burst pool and, first (weighted), an on-demand pool holding the models' fewest replicas (issue 18).
    pools = {p["metadata"]["name"]: p for p in by_kind(manifests[stack], "NodePool")}
    assert sorted(pools) == ["gpu", "gpu-on-demand"]
    assert pools["gpu-on-demand"]["spec"]["weight"] == 100 and "weight" not in pools["gpu"]["spec"]
    for pool in pools.values():
        template = pool["spec"]["template"]["spec"]
        assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"} in template["taints"] or any(
            t["key"] == "nvidia.com/gpu" and t["effect"] == "NoSchedule" for t in template["taints"]
        )
        assert template["expireAfter"] == "720h"
        assert pool["spec"]["disruption"]["budgets"] == [{"nodes": "10%"}]
        assert int(pool["spec"]["limits"]["nvidia.com/gpu"]) > 0
    [node_class] = by_kind(manifests[stack], "EC2NodeClass")
    assert node_class["spec"]["metadataOptions"]["httpTokens"] == "required"
    assert all(m["ebs"]["encrypted"] is True and m["ebs"]["kmsKeyID"] for m in node_class["spec"]["blockDeviceMappings"])
    # Every model server tolerates the taint the pool puts on its nodes.
    for deployment in by_kind(manifests[stack], "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        if deployment["metadata"]["labels"].get("app.kubernetes.io/component") == "model-server":
            assert any(t["key"] == "nvidia.com/gpu" and t.get("effect") == "NoSchedule" for t in pod["tolerations"])


def test_every_builtin_object_passes_strict_schema_validation(manifests: dict[str, list[dict]]) -> None:
    checked = 0
    for stack, objects in manifests.items():
        for obj in objects:
            if (obj["apiVersion"], obj["kind"]) in CRD_KINDS:
                continue
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{stack}: {obj['kind']}/{obj['metadata']['name']}: {err.message} at {list(err.path)}")
            checked += 1
    assert checked >= 20


def test_only_known_crd_kinds_skip_schema_validation(manifests: dict[str, list[dict]]) -> None:
    unknown = set()
    for objects in manifests.values():
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                unknown.add((obj["apiVersion"], obj["kind"]))
    assert unknown <= CRD_KINDS


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize("stack", ["onprem", "onprem-triton"])
def test_scaled_objects_target_the_workloads_and_query_prometheus(manifests: dict[str, list[dict]], stack: str) -> None:
    objects = manifests[stack]
    workloads = {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in ("Deployment", "LeaderWorkerSet")}
    scaled = by_kind(objects, "ScaledObject")
    assert scaled
    for so in scaled:
        spec = so["spec"]
        ref = spec["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) in workloads
        assert set(spec) >= {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount", "triggers"}
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        stabilization = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"]
        assert stabilization >= 300
        for trigger in spec["triggers"]:
            assert trigger["type"] == "prometheus"
            assert trigger["metadata"]["serverAddress"].startswith("http")
            assert float(trigger["metadata"]["threshold"]) > 0
            assert trigger["metricType"] in ("AverageValue", "Value")


@pytest.mark.parametrize("stack", ["onprem", "onprem-triton"])
def test_service_monitors_select_a_service_port_that_exists(manifests: dict[str, list[dict]], stack: str) -> None:
    services = {o["metadata"]["name"]: o for o in by_kind(manifests[stack], "Service")}
    monitors = by_kind(manifests[stack], "ServiceMonitor")
    assert monitors
    for monitor in monitors:
        service = services[monitor["metadata"]["name"]]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


@pytest.mark.parametrize("stack", ["onprem", "onprem-triton"])
def test_prometheus_rules_are_well_formed(manifests: dict[str, list[dict]], stack: str) -> None:
    rules = by_kind(manifests[stack], "PrometheusRule")
    assert len(rules) == 1
    groups = rules[0]["spec"]["groups"]
    alerts = [r for g in groups for r in g["rules"]]
    assert {"LlmScrapeTargetDown", "LlmGpuXidError", "LlmCrashLooping"} <= {a["alert"] for a in alerts}
    for alert in alerts:
        assert set(alert) >= {"alert", "expr", "labels", "annotations"}
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["expr"].count("(") == alert["expr"].count(")")


def test_dashboards_config_map_holds_valid_grafana_json(manifests: dict[str, list[dict]]) -> None:
    [dashboards] = [o for o in manifests["onprem"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "llm-dashboards"]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    [text] = dashboards["data"].values()
    board = json.loads(text)
    titles = {p["title"] for p in board["panels"]}
    assert any("first token" in t.lower() for t in titles) and any("kv cache" in t.lower() for t in titles)
