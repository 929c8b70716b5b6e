"""gcp-prod on Managed Service for Prometheus (gcp.cluster.prometheus: managed), planned from a scratch copy:
PodMonitoring and Rules instead of the Prometheus Operator's kinds, and KEDA querying the GMP frontend
as its Google service account (ClusterTriggerAuthentication with podIdentity gcp, roles/monitoring.viewer)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from helpers import scratch_project, shipped_stack

ROOT = Path(__file__).resolve().parents[2]
MODEL = "llama-3-1-8b-instruct"
PROJECT = "acme-llm-prod"
GMP = f"https://monitoring.googleapis.com/v1/projects/{PROJECT}/location/global/prometheus"
CRDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "ClusterTriggerAuthentication"),
    ("cloud.google.com/v1", "ComputeClass"),
    ("monitoring.googleapis.com/v1", "PodMonitoring"),
    ("monitoring.googleapis.com/v1", "Rules"),
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stack = shipped_stack("gcp-prod")
    stack["config"]["pulumi-llm:gcp"].setdefault("cluster", {})["prometheus"] = "managed"
    project = scratch_project(tmp_path_factory.mktemp("project"), {"gmp": stack})
    out = project / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "--project-dir", str(project), "plan", "gmp", "--quiet", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def manifests(plan: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((plan / "manifests").glob("*.yaml"))]


def kinds(manifests: list[dict], kind: str) -> list[dict]:
    return [m for m in manifests if m["kind"] == kind]


def test_no_prometheus_operator_kinds_and_no_in_cluster_prometheus(manifests: list[dict], plan: Path) -> None:
    assert not [m for m in manifests if m["apiVersion"] == "monitoring.coreos.com/v1"]
    names = {r["name"] for r in json.loads((plan / "resources.json").read_text())}
    assert "llm-gke-prometheus" not in names and "llm-gke-keda" in names


def test_model_servers_and_dcgm_are_scraped_by_pod_monitoring(manifests: list[dict]) -> None:
    monitors = {(m["metadata"]["namespace"], m["metadata"]["name"]): m for m in kinds(manifests, "PodMonitoring")}
    assert set(monitors) == {("llm", MODEL), ("llm", f"{MODEL}-router"), ("nvidia", "dcgm-exporter")}
    server = monitors[("llm", MODEL)]
    assert server["apiVersion"] == "monitoring.googleapis.com/v1"
    assert server["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": MODEL, "app.kubernetes.io/component": "model-server"}}
    [deployment] = [d for d in kinds(manifests, "Deployment") if d["metadata"]["name"] == MODEL]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    port_names = {p["name"] for p in container["ports"]}
    [endpoint] = server["spec"]["endpoints"]
    assert endpoint["port"] in port_names and endpoint["path"] == "/metrics" and endpoint["interval"] == "15s"


def test_alerts_are_gmp_rules(manifests: list[dict]) -> None:
    [rules] = kinds(manifests, "Rules")
    assert rules["apiVersion"] == "monitoring.googleapis.com/v1" and rules["metadata"]["namespace"] == "llm"
    alerts = {r["alert"] for g in rules["spec"]["groups"] for r in g["rules"]}
    assert {"LlmScrapeTargetDown", "LlmCrashLooping"} <= alerts


def test_gmp_collectors_may_scrape_the_servers(manifests: list[dict]) -> None:
    [policy] = [p for p in kinds(manifests, "NetworkPolicy") if p["metadata"]["name"] == MODEL]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}}} in peers
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} not in peers


def test_keda_queries_the_gmp_frontend_with_workload_identity(manifests: list[dict], plan: Path) -> None:
    [auth] = kinds(manifests, "ClusterTriggerAuthentication")
    assert auth["spec"] == {"podIdentity": {"provider": "gcp"}}
    [scaled] = kinds(manifests, "ScaledObject")
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["metadata"]["serverAddress"] == GMP
        assert trigger["authenticationRef"] == {"kind": "ClusterTriggerAuthentication", "name": auth["metadata"]["name"]}
    resources = {r["name"]: r for r in json.loads((plan / "resources.json").read_text())}
    viewer = resources["llm-gke-keda-keda-operator-monitoring-viewer"]["inputs"]
    assert viewer["role"] == "roles/monitoring.viewer" and viewer["project"] == PROJECT
    binding = resources["llm-gke-keda-keda-operator-wi"]["inputs"]
    assert binding["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[keda/keda-operator]"
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    keda = resources["llm-gke-keda"]["inputs"]["values"]
    email = f"llm-gmp-keda-keda-operator@{PROJECT}.iam.gserviceaccount.com"  # cluster llm-<stack>, stack gmp
    assert keda["podIdentity"] == {"gcp": {"enabled": True, "gcpIAMServiceAccount": email}}
    assert binding["serviceAccountId"] == f"projects/{PROJECT}/serviceAccounts/{email}"


def test_every_builtin_object_validates_and_only_known_crds_are_skipped(manifests: list[dict]) -> None:
    checked = 0
    for obj in manifests:
        if (obj["apiVersion"], obj["kind"]) in CRDS:
            continue
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
        checked += 1
    assert checked >= 8


def test_gmp_kinds_are_served_by_gke_only_with_managed_collection_on(plan: Path) -> None:
    """PodMonitoring and Rules have no CRD in the plan: GKE serves them when managed collection is on, so a
    cluster with it off leaves every such object "no matches for kind" (references.crd)."""
    from pulumi_llm.offline.plan import Project, load_settings
    from pulumi_llm.verify import PlanView, run_rules

    settings = load_settings(Project.find(plan.parent), "gmp").model_dump(mode="json")
    view = PlanView.from_dir(plan, settings)
    assert run_rules(view, ["references.crd"]) == []
    [cluster] = view.of_type("gcp:container/cluster:Cluster")
    cluster["inputs"]["monitoringConfig"]["managedPrometheus"]["enabled"] = False
    kinds = sorted({v.why.split()[0] for v in run_rules(view, ["references.crd"])})
    assert kinds == ["PodMonitoring", "Rules"]
