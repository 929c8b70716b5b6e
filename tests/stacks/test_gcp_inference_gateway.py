"""gcp-prod with the Gateway API Inference Extension instead of the vLLM router (`gcp.cluster.router:
gateway-inference-extension`), planned from a scratch copy: the InferencePool CRD, Gateway, HTTPRoute, pool and
endpoint picker per model, their schemas, NetworkPolicies, the gateway's URL, and verify — clean, and the
references.crd-schema rule firing alone on a field the pinned CRD lacks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helpers import scratch_project, shipped_stack
from pulumi_llm import pins
from pulumi_llm.kubernetes import inference_gateway_render as r
from pulumi_llm.offline.plan import Project, load_settings
from pulumi_llm.verify import PlanView, clock, run_rules
from pulumi_llm.verify.facts import inference_extension as gie

ROOT = Path(__file__).resolve().parents[2]
MODEL = "llama-3-1-8b-instruct"
PROXY_ONLY_CIDR = "10.40.16.0/23"  # GcpNetwork's default proxy-only subnet
STACK = "gie"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stack = shipped_stack("gcp-prod")
    stack["config"]["pulumi-llm:gcp"]["cluster"]["router"] = "gateway-inference-extension"
    base = scratch_project(tmp_path_factory.mktemp("project"), {STACK: stack})
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "--project-dir", str(base), "plan", STACK, "--quiet", "--out", str(base / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clean" in result.stdout, result.stdout
    return base


@pytest.fixture(scope="module")
def manifests(project: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((project / "out" / "manifests").glob("*.yaml"))]


@pytest.fixture(scope="module")
def resources(project: Path) -> list[dict[str, Any]]:
    return json.loads((project / "out" / "resources.json").read_text())


def kinds(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def test_pool_picker_route_and_gateway_replace_the_router(manifests: list[dict[str, Any]]) -> None:
    names = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert {
        ("CustomResourceDefinition", gie.INFERENCE_POOL_CRD_NAME),
        ("Gateway", r.GATEWAY_NAME),
        ("InferencePool", f"{MODEL}-pool"),
        ("HTTPRoute", f"{MODEL}-route"),
        ("HealthCheckPolicy", f"{MODEL}-pool"),
        ("GCPBackendPolicy", f"{MODEL}-pool"),
        ("Deployment", f"{MODEL}-epp"),
        ("Service", f"{MODEL}-epp"),
        ("ServiceAccount", f"{MODEL}-epp"),
        ("Role", f"{MODEL}-epp"),
        ("RoleBinding", f"{MODEL}-epp"),
        ("ConfigMap", f"{MODEL}-epp"),
        ("NetworkPolicy", f"{MODEL}-epp"),
    } <= names
    assert not [n for n in names if n[1].endswith("-router") or n[1].endswith("-internal")]  # no vLLM router, no passthrough LB
    [pool] = kinds(manifests, "InferencePool")
    [server] = [d for d in kinds(manifests, "Deployment") if d["metadata"]["name"] == MODEL]
    assert pool["spec"]["selector"]["matchLabels"] == server["spec"]["selector"]["matchLabels"]
    vllm_port = server["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert pool["spec"]["targetPorts"] == [{"number": vllm_port}]
    [epp] = [d for d in kinds(manifests, "Deployment") if d["metadata"]["name"] == f"{MODEL}-epp"]
    assert epp["spec"]["template"]["spec"]["containers"][0]["image"] == pins.GIE_EPP.ref


def test_custom_objects_validate_against_the_pinned_crds_and_builtins_strictly(manifests: list[dict[str, Any]]) -> None:
    checked = 0
    for obj in manifests:
        key = (obj["apiVersion"], obj["kind"])
        if key in gie.SPEC_SCHEMAS:
            assert r.validate(*key, obj["spec"]) == [], obj["metadata"]["name"]
            checked += 1
        elif obj["metadata"]["name"].endswith("-epp") or obj["kind"] == "CustomResourceDefinition":
            kubernetes_validate.validate(obj, "1.30.0", strict=True)
    assert checked == 3  # InferencePool, HTTPRoute, Gateway


def test_only_the_gateways_proxies_health_checkers_and_pickers_reach_the_model(manifests: list[dict[str, Any]]) -> None:
    [policy] = [p for p in kinds(manifests, "NetworkPolicy") if p["metadata"]["name"] == MODEL]
    # vLLM serves its API and /metrics on one port: one rule for the callers, one for the scrapers (monitoring namespace).
    callers, scrapers = policy["spec"]["ingress"]
    assert callers == {"from": r.model_clients(PROXY_ONLY_CIDR), "ports": [{"port": 8000, "protocol": "TCP"}]}
    assert [peer["namespaceSelector"] for peer in scrapers["from"]] == [{"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}]
    [epp_policy] = [p for p in kinds(manifests, "NetworkPolicy") if p["metadata"]["name"] == f"{MODEL}-epp"]
    ingress = epp_policy["spec"]["ingress"]
    assert ingress == [
        {
            "from": [{"ipBlock": {"cidr": c}} for c in (PROXY_ONLY_CIDR, "35.191.0.0/16", "130.211.0.0/22")],
            "ports": [{"port": 9002, "protocol": "TCP"}, {"port": 9003, "protocol": "TCP"}],
        }
    ]


def test_gateway_url_is_the_reserved_address_and_gke_serves_the_gateway_api(resources: list[dict[str, Any]]) -> None:
    [address] = [x for x in resources if x["type"] == "gcp:compute/address:Address"]
    assert address["inputs"]["addressType"] == "INTERNAL" and address["inputs"]["name"] == "gie-llm-inference"
    [gateway] = [x for x in resources if x["type"] == "kubernetes:gateway.networking.k8s.io/v1:Gateway"]
    assert gateway["inputs"]["spec"]["addresses"] == [{"type": "NamedAddress", "value": address["inputs"]["name"]}]
    [cluster] = [x for x in resources if x["type"] == "gcp:container/cluster:Cluster"]
    assert cluster["inputs"]["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    [run] = [x for x in resources if x["type"] == "gcp:cloudrunv2/service:Service"]
    env = {e["name"]: e.get("value") for c in run["inputs"]["template"]["containers"] for e in c.get("envs", [])}
    # The mock has no IP for the address: 'pending' stands where GKE's address goes.
    assert env["SELF_HOSTED_LLAMA_3_1_8B_INSTRUCT_URL"] == f"http://pending/{MODEL}/v1"


def test_vpc_firewall_admits_only_the_proxies_and_health_checkers_to_the_backends(resources: list[dict[str, Any]]) -> None:
    [rule] = [
        x["inputs"] for x in resources if x["type"] == "gcp:compute/firewall:Firewall" and x["name"] == "llm-inference-gateway-backends"
    ]
    assert rule["sourceRanges"] == [PROXY_ONLY_CIDR, "35.191.0.0/16", "130.211.0.0/22"]
    assert rule["targetTags"] == ["pulumi-llm-gke-gpu", "pulumi-llm-gke-system"]
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["8000", "9002", "9003"]}]


def _view(project: Path) -> PlanView:
    settings = load_settings(Project.find(project), STACK).model_dump(mode="json")
    return PlanView.from_dir(project / "out", settings)


def _fired(view: PlanView) -> set[str]:
    return {v.rule for v in run_rules(view) if v.severity == "error"}


def test_verify_refuses_a_field_the_pinned_crd_lacks(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 7))
    view = _view(project)
    assert _fired(view) == set()
    broken = copy.deepcopy(view)
    [pool] = [m for m in broken.manifests if m["kind"] == "InferencePool"]
    pool["spec"]["modelServerType"] = "vllm"  # the chart's value, no field of the v1 CRD
    violations = [v for v in run_rules(broken) if v.severity == "error"]
    assert {v.rule for v in violations} == {"references.crd-schema"}
    assert "spec.modelServerType: unknown field" in violations[0].why and gie.GIE_VERSION in violations[0].why


def test_verify_refuses_a_route_to_a_gateway_class_without_inference_pools(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 7))
    broken = _view(project)
    [gateway] = [m for m in broken.manifests if m["kind"] == "Gateway"]
    gateway["spec"]["gatewayClassName"] = "gke-l7-global-external-managed"
    assert _fired(broken) == {"network.gcp-self-hosted"}
