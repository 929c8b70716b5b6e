"""The vLLM router on the GPU-VM groups of gcp-dev and azure-dev (serving.router on by default, cache_aware): as the
recorded plans show it — the load balancer calls the routers, instance health follows the model server, the model
port is reachable from the group's own VMs only, the VMs may list their group and nothing more, and the vLLM
servers run with --enable-scale-out (what cache_aware needs)."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from gcp_iam_conditions import Resource, allowed, grants_of
from pulumi_llm import serving
from pulumi_llm.gpu_vm import router_vm
from pulumi_llm.kubernetes import router_render as rr
from pulumi_llm.offline.plan import Project, load_settings

ROOT = Path(__file__).resolve().parents[2]

GCP_VM = "llm-vm-llama-3-1-8b-instruct"
AZURE_VM = "llm-vm-llama-3-1-8b-instruct"
HEALTH_CHECKERS = {"35.191.0.0/16", "130.211.0.0/22"}
ROUTER_PORT = str(router_vm.ROUTER_PORT)


def named(resources: dict[str, list[dict]], stack: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources[stack]}


def of(resources: list[dict], type_: str) -> list[dict]:
    return [r for r in resources if r["type"] == type_]


def boot_files(document: str) -> dict[str, str]:
    return {f["path"]: f["content"] for f in yaml.safe_load(document)["write_files"]}


def _ports(firewall: dict[str, Any]) -> set[str]:
    return {p for allow in firewall.get("allows") or [] for p in allow.get("ports") or ["*"]}


# --- gcp-dev ---------------------------------------------------------------------------------------


def test_gcp_load_balancer_calls_and_checks_the_routers_autohealing_the_server(resources) -> None:
    plan = named(resources, "gcp-dev")
    assert plan[f"{GCP_VM}-mig"]["inputs"]["namedPorts"] == [{"name": "http", "port": router_vm.ROUTER_PORT}]
    assert plan[f"{GCP_VM}-hc"]["inputs"]["httpHealthCheck"] == {"port": router_vm.ROUTER_PORT, "requestPath": "/readiness"}
    assert plan[f"{GCP_VM}-autoheal-hc"]["inputs"]["httpHealthCheck"] == {"port": 8000, "requestPath": "/health"}
    paths = plan[f"{GCP_VM}-url-map"]["inputs"]["pathMatchers"][0]["pathRules"][0]["paths"]
    assert paths == ["/v1/*", "/readiness"]  # never /add_worker, /remove_worker, /workers


def test_gcp_model_port_admits_only_the_groups_vms_and_the_autohealing_checkers(resources) -> None:
    firewalls = of(resources["gcp-dev"], "gcp:compute/firewall:Firewall")
    account = named(resources, "gcp-dev")[f"{GCP_VM}-template"]["inputs"]["serviceAccount"]["email"]
    to_server = [f["inputs"] for f in firewalls if "8000" in _ports(f["inputs"])]
    assert {tuple(f.get("sourceServiceAccounts") or ()) for f in to_server} == {(account,), ()}
    for rule in to_server:
        assert rule["targetServiceAccounts"] == [account] and "targetTags" not in rule
        assert set(rule.get("sourceRanges") or []) <= HEALTH_CHECKERS
    # The router port: the load balancer's proxy-only subnet and the health checkers, nothing else.
    to_router = [f["inputs"] for f in firewalls if ROUTER_PORT in _ports(f["inputs"])]
    sources = {s for f in to_router for s in f["sourceRanges"]}
    proxy_subnet = next(
        s["inputs"]["ipCidrRange"]
        for s in of(resources["gcp-dev"], "gcp:compute/subnetwork:Subnetwork")
        if s["inputs"].get("purpose") == "REGIONAL_MANAGED_PROXY"
    )
    assert sources == HEALTH_CHECKERS | {proxy_subnet}


def test_gcp_vms_may_read_their_group_and_its_instances_only(resources) -> None:
    """The recorded grants, evaluated: the group call is allowed without any condition (a group carries no resource
    attributes in IAM Conditions), instances.get only on this group's VMs (`<base>-xxxx`), not a sibling's."""
    plan = named(resources, "gcp-dev")
    template = plan[f"{GCP_VM}-template"]["inputs"]
    member = f"serviceAccount:{template['serviceAccount']['email']}"
    grants = grants_of({n: r["inputs"] for n, r in plan.items()}, member)
    mig = plan[f"{GCP_VM}-mig"]["inputs"]
    project = plan[f"{GCP_VM}-lister-role"]["inputs"]["project"]
    group = Resource(
        "compute.googleapis.com/RegionInstanceGroupManager",
        f"projects/{project}/regions/{mig['region']}/instanceGroupManagers/{mig['name']}",
        has_attributes=False,
    )
    assert allowed(grants, "compute.instanceGroupManagers.get", group)
    base = mig["baseInstanceName"]

    def instance(name: str) -> Resource:
        return Resource("compute.googleapis.com/Instance", f"projects/{project}/zones/{mig['region']}-b/instances/{name}")

    assert allowed(grants, "compute.instances.get", instance(f"{base}-q3x9"))
    for other in (f"{base}-v2-q3x9", f"{base}-q3x9z", "gcp-dev-other-q3x9"):
        assert not allowed(grants, "compute.instances.get", instance(other)), other


def test_gcp_boot_script_runs_the_router_listing_its_group_and_vllm_with_scale_out(resources) -> None:
    plan = named(resources, "gcp-dev")
    files = boot_files(plan[f"{GCP_VM}-template"]["inputs"]["metadata"]["user-data"])
    mig = plan[f"{GCP_VM}-mig"]["inputs"]["name"]
    assert f"--group {mig}" in files[router_vm.LISTER]
    assert "--policy cache_aware" in files[f"{router_vm.ROUTER_DIR}/run"]
    assert "--enable-scale-out" in files["/usr/local/lib/llm-server/run"]
    assert "llm-router" in files["/etc/pulumi-llm/ops-agent.yaml"]


# --- azure-dev -------------------------------------------------------------------------------------


def test_azure_load_balancer_calls_and_probes_the_routers(resources) -> None:
    lb = named(resources, "azure-dev")[f"{AZURE_VM}-lb"]["inputs"]
    [probe] = lb["probes"]
    assert (probe["port"], probe["requestPath"]) == (router_vm.ROUTER_PORT, "/readiness")
    assert lb["loadBalancingRules"][0]["backendPort"] == router_vm.ROUTER_PORT


def test_azure_instance_health_follows_the_model_server(resources) -> None:
    profile = named(resources, "azure-dev")[f"{AZURE_VM}-vmss"]["inputs"]["virtualMachineProfile"]
    assert "healthProbe" not in profile["networkProfile"]
    [health] = [e for e in profile["extensionProfile"]["extensions"] if e["type"] == "ApplicationHealthLinux"]
    assert health["settings"] == {"protocol": "http", "port": 8000, "requestPath": "/health"}


def test_azure_nsg_router_port_from_the_gateway_model_port_within_the_subnet(resources) -> None:
    plan = named(resources, "azure-dev")
    rules = {r["name"]: r for r in plan["llm-network-compute-nsg"]["inputs"]["securityRules"]}
    compute = plan["llm-network-compute"]["inputs"]["addressPrefix"]
    engine = plan["llm-network-engine"]["inputs"]["addressPrefix"]
    assert rules["allow-clients"]["destinationPortRanges"] == [ROUTER_PORT]
    assert rules["allow-clients"]["sourceAddressPrefixes"] == [engine]
    inbound_8000 = [
        r
        for r in rules.values()
        if r["direction"] == "Inbound" and r["access"] == "Allow" and "8000" in (r.get("destinationPortRanges") or [])
    ]
    assert [(r["sourceAddressPrefix"], r["destinationAddressPrefix"]) for r in inbound_8000] == [(compute, compute)]
    assert ipaddress.ip_network(engine).overlaps(ipaddress.ip_network(compute)) is False


def test_azure_vms_read_their_scale_set_only_and_run_the_router(resources) -> None:
    plan = named(resources, "azure-dev")
    reader = plan[f"{AZURE_VM}-workers-reader"]["inputs"]
    assert reader["roleDefinitionId"].endswith("/acdd72a7-3385-48ef-bd42-f606fba81ae7")  # Reader
    assert reader["scope"].startswith(f"{AZURE_VM}-vmss")
    data = plan[f"{AZURE_VM}-vmss"]["inputs"]["virtualMachineProfile"]["osProfile"]["customData"]
    files = boot_files(base64.b64decode(data).decode())
    assert " workers --client-id " in files[router_vm.LISTER]
    assert "--enable-scale-out" in files["/usr/local/lib/llm-server/run"]


@pytest.mark.parametrize("stack", ["gcp-dev", "azure-dev"])
def test_the_router_metrics_port_is_published_on_loopback_only(resources, stack: str) -> None:
    plan = named(resources, stack)
    if stack == "gcp-dev":
        files = boot_files(plan[f"{GCP_VM}-template"]["inputs"]["metadata"]["user-data"])
    else:
        files = boot_files(
            base64.b64decode(plan[f"{AZURE_VM}-vmss"]["inputs"]["virtualMachineProfile"]["osProfile"]["customData"]).decode()
        )
    run = files[f"{router_vm.ROUTER_DIR}/run"]
    assert f"--publish {router_vm.METRICS_TARGET}:{router_vm.METRICS_PORT}" in run
    assert f"--publish {router_vm.ROUTER_PORT}:{router_vm.ROUTER_PORT}" in run


@pytest.mark.parametrize("stack", ["gcp-dev", "azure-dev"])
def test_the_routers_prefix_tree_is_sized_from_one_servers_kv_cache(resources, stack: str) -> None:
    settings = load_settings(Project(ROOT, "pulumi-llm", ROOT / "stacks", ROOT / "stacks"), stack)
    sized = serving.size(settings, "llama-3-1-8b-instruct")
    expected = rr.decide_max_tree_size(sized.kv_tokens, rr.RouterOptions().max_tree_size)
    plan = named(resources, stack)
    if stack == "gcp-dev":
        files = boot_files(plan[f"{GCP_VM}-template"]["inputs"]["metadata"]["user-data"])
    else:
        files = boot_files(
            base64.b64decode(plan[f"{AZURE_VM}-vmss"]["inputs"]["virtualMachineProfile"]["osProfile"]["customData"]).decode()
        )
    assert f"--max-tree-size {expected} " in files[f"{router_vm.ROUTER_DIR}/run"] + " "
    assert expected < rr.RouterOptions().max_tree_size  # the KV cache, not the bound, decides on these GPUs
