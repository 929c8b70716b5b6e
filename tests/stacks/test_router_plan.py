"""The vLLM router in every self-hosted Kubernetes stack's plan: its objects, and that the way in leads to it.

EKS (prod, staging), GKE (gcp-prod), AKS (azure-prod) and on-prem (onprem) serve vLLM models behind a router;
onprem-triton's Triton servers have none (the router speaks vLLM's API). GPU-VM stacks have no router (their
load balancer spreads requests; gpu_vm/README.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

ROUTED = ("prod", "staging", "gcp-prod", "azure-prod", "onprem")
UNROUTED = ("onprem-triton", "dev", "gcp-dev", "azure-dev")


def _objects(resources: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r["inputs"] for r in resources if r["type"] == type_]


def _named(resources: list[dict[str, Any]], type_: str, suffix: str) -> list[dict[str, Any]]:
    return [o for o in _objects(resources, type_) if o["metadata"]["name"].endswith(suffix)]


def _models(resources: list[dict[str, Any]]) -> list[str]:
    """The served names of the stack's vLLM model servers (their Deployments' pods say runtime vllm)."""
    return sorted(
        d["metadata"]["name"]
        for d in _objects(resources, "kubernetes:apps/v1:Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("pulumi-llm.dev/runtime") == "vllm"
    )


@pytest.mark.parametrize("stack", ROUTED)
def test_each_vllm_model_has_a_router_with_its_own_pdb_probes_and_monitor(resources: dict[str, list[dict]], stack: str) -> None:
    plan = resources[stack]
    models = _models(plan)
    assert models, f"{stack}: no vLLM model server in the plan"
    for model in models:
        name = f"{model}-router"
        selector = {"app.kubernetes.io/name": model, "app.kubernetes.io/component": "router"}
        (deployment,) = [d for d in _objects(plan, "kubernetes:apps/v1:Deployment") if d["metadata"]["name"] == name]
        assert deployment["spec"]["replicas"] >= 2
        pod = deployment["spec"]["template"]["spec"]
        router = pod["containers"][0]
        assert router["readinessProbe"]["httpGet"]["path"] == "/readiness" and router["livenessProbe"]["httpGet"]["path"] == "/liveness"
        assert all(c["securityContext"]["readOnlyRootFilesystem"] is True for c in pod["containers"] + pod["initContainers"])
        assert "--service-discovery" in router["args"] and f"app.kubernetes.io/name={model}" in router["args"]
        (pdb,) = _named(plan, "kubernetes:policy/v1:PodDisruptionBudget", name)
        assert pdb["spec"]["selector"] == {"matchLabels": selector}
        monitors = _named(plan, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", name) + _named(
            plan, "kubernetes:monitoring.googleapis.com/v1:PodMonitoring", name
        )
        assert [m["spec"]["endpoints"][0]["port"] for m in monitors] == ["metrics"]


@pytest.mark.parametrize("stack", ROUTED)
def test_only_the_router_calls_the_model_pods_and_only_clients_call_the_router(resources: dict[str, list[dict]], stack: str) -> None:
    plan = resources[stack]
    policies = {p["metadata"]["name"]: p["spec"] for p in _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    for model in _models(plan):
        router_peer = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": model, "app.kubernetes.io/component": "router"}}}
        server = policies[model]
        api_rules = [rule for rule in server["ingress"] if rule["from"] != server["ingress"][-1]["from"]]
        assert api_rules and all(rule["from"] == [router_peer] for rule in api_rules), server["ingress"]
        router = policies[f"{model}-router"]
        assert router["ingress"] and all(rule["from"] for rule in router["ingress"])  # never an empty `from`
        assert router_peer not in [peer for rule in router["ingress"] for peer in rule["from"]]


@pytest.mark.parametrize("stack", ROUTED)
def test_the_way_in_leads_to_the_router(resources: dict[str, list[dict]], stack: str) -> None:
    """Ingresses (EKS ALB, AKS and on-prem ingress-nginx) and GKE's internal load balancers select the router."""
    plan = resources[stack]
    models = _models(plan)
    backends = [
        path["backend"]["service"]
        for ingress in _objects(plan, "kubernetes:networking.k8s.io/v1:Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    balancers = [s["spec"] for s in _objects(plan, "kubernetes:core/v1:Service") if s["spec"].get("type") == "LoadBalancer"]
    assert backends or balancers, f"{stack}: no way in"
    for backend in backends:
        assert backend["name"] in {f"{m}-router" for m in models} and backend["port"]["number"] == 8000
    for balancer in balancers:
        assert balancer["selector"]["app.kubernetes.io/component"] == "router"


@pytest.mark.parametrize("stack", UNROUTED)
def test_no_router_where_none_fits(resources: dict[str, list[dict]], stack: str) -> None:
    names = [d["metadata"]["name"] for d in _objects(resources[stack], "kubernetes:apps/v1:Deployment")]
    assert not [n for n in names if n.endswith("-router")]


@pytest.mark.parametrize("stack", ROUTED)
def test_router_dashboard_beside_the_serving_board(resources: dict[str, list[dict]], stack: str) -> None:
    maps = {c["metadata"]["name"]: c for c in _objects(resources[stack], "kubernetes:core/v1:ConfigMap")}
    board = maps["llm-router-dashboards"]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = board["data"].values()
    assert "vllm_router_requests_total" in text and "vllm_router_active_workers" in text


@pytest.mark.parametrize("stack", ROUTED)
def test_vllm_behind_the_default_cache_aware_router_runs_with_scale_out_once(resources: dict[str, list[dict]], stack: str) -> None:
    """The default policy is cache_aware, and each vLLM server gets --enable-scale-out once (runtimes/vllm.py decide_scale_out)."""
    plan = resources[stack]
    deployments = {d["metadata"]["name"]: d for d in _objects(plan, "kubernetes:apps/v1:Deployment")}
    for model in _models(plan):
        router_args = deployments[f"{model}-router"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert router_args[router_args.index("--policy") + 1] == "cache_aware"
        server = deployments[model]["spec"]["template"]["spec"]["containers"][0]
        assert server["command"] == ["vllm", "serve"] and server["args"].count("--enable-scale-out") == 1


@pytest.mark.parametrize("stack", ROUTED)
def test_each_routers_tree_is_sized_from_its_models_kv_cache(plans, resources: dict[str, list[dict]], stack: str) -> None:
    """--max-tree-size is what one replica's KV cache holds, 8 tree units per token (router_render.decide_max_tree_size),
    as summary.json says; every shipped model's cache is under the 4,194,304 ceiling."""
    summary = {m["served_name"]: m for m in json.loads((plans / stack / "summary.json").read_text())["sizing"]}
    deployments = {d["metadata"]["name"]: d for d in _objects(resources[stack], "kubernetes:apps/v1:Deployment")}
    for model in _models(resources[stack]):
        args = deployments[f"{model}-router"]["spec"]["template"]["spec"]["containers"][0]["args"]
        size = int(args[args.index("--max-tree-size") + 1])
        assert size == summary[model]["router"]["max_tree_size"] == summary[model]["kv_tokens"] * 8 < 4_194_304
