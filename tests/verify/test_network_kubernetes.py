"""In-cluster flows: NetworkPolicy semantics, and seeds on recorded plans for the network.k8s-* rules."""

from __future__ import annotations

from typing import cast

import pytest
from pulumi_llm.verify import run_rules
from pulumi_llm.verify.netpol import IpPeer, PodPeer, admits
from pulumi_llm.verify.rules import network_kubernetes  # noqa: F401  (registers the rules)

from .conftest import fired, manifest

K8S_RULES = ["network.k8s-scrape", "network.k8s-callers", "network.k8s-closed", "network.k8s-egress"]


def k8s_fired(view) -> set[str]:
    return {v.rule for v in run_rules(view, K8S_RULES)}


def policy(spec: dict, namespace: str = "llm") -> dict:
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


MODEL = {"app": "model"}


class TestSemantics:
    def test_no_policy_admits_everything(self):
        assert admits([], "Ingress", "llm", MODEL, IpPeer("203.0.113.1"), 8000)

    def test_a_selecting_policy_isolates_and_rules_add(self):
        deny = policy({"podSelector": {}, "policyTypes": ["Ingress"]})
        allow = policy(
            {
                "podSelector": {"matchLabels": MODEL},
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                        "ports": [{"port": "http"}],
                    }
                ],
            }
        )
        scraper = PodPeer("monitoring", {"app.kubernetes.io/name": "prometheus"})
        assert not admits([deny], "Ingress", "llm", MODEL, scraper, 8000)
        assert admits([deny, allow], "Ingress", "llm", MODEL, scraper, 8000, port_names={"http": 8000})
        assert not admits([deny, allow], "Ingress", "llm", MODEL, scraper, 8001, port_names={"http": 8000})
        assert not admits([deny, allow], "Ingress", "llm", MODEL, PodPeer("default", {}), 8000, port_names={"http": 8000})

    def test_pod_selector_alone_means_the_policys_namespace(self):
        allow = policy({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "gw"}}}]}]})
        assert admits([allow], "Ingress", "llm", MODEL, PodPeer("llm", {"role": "gw"}), 80)
        assert not admits([allow], "Ingress", "llm", MODEL, PodPeer("other", {"role": "gw"}), 80)

    def test_ip_block_except_and_pod_addresses(self):
        allow = policy({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24"]}}]}]})
        assert admits([allow], "Ingress", "llm", MODEL, IpPeer("10.0.1.1"), 80)
        assert not admits([allow], "Ingress", "llm", MODEL, IpPeer("10.0.5.1"), 80)
        # A pod with an address in the block counts (closed-ness), one without doesn't (open-ness).
        assert admits([allow], "Ingress", "llm", MODEL, PodPeer("x", {}, ip="10.0.1.9"), 80)
        assert not admits([allow], "Ingress", "llm", MODEL, PodPeer("x", {}), 80)

    def test_egress_is_isolated_only_when_listed(self):
        ingress_only = policy({"podSelector": {}, "ingress": []})
        assert admits([ingress_only], "Egress", "llm", MODEL, IpPeer("1.1.1.1"), 443)
        with_egress = policy({"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})
        assert not admits([with_egress], "Egress", "llm", MODEL, IpPeer("1.1.1.1"), 443)
        assert admits([with_egress], "Egress", "llm", MODEL, IpPeer("1.1.1.1"), 53, "UDP")

    def test_match_expressions_and_port_ranges(self):
        allow = policy(
            {
                "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["model"]}]},
                "ingress": [{"ports": [{"port": 8000, "endPort": 8002}]}],
            }
        )
        assert admits([allow], "Ingress", "llm", MODEL, IpPeer("1.2.3.4"), 8002)
        assert not admits([allow], "Ingress", "llm", MODEL, IpPeer("1.2.3.4"), 8003)
        assert admits([allow], "Ingress", "llm", {"app": "other"}, IpPeer("1.2.3.4"), 9999)  # not selected


@pytest.mark.parametrize("stack", ["onprem", "onprem-triton", "gcp-prod", "azure-prod"])
def test_recorded_plans_are_open_where_they_must_be_and_closed_elsewhere(recorded, stack):
    assert k8s_fired(recorded(stack)) == set()


def test_seed_scraper_namespace_renamed(recorded):
    view = recorded("onprem")
    rule_ = manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct", "llm")["spec"]["ingress"][1]
    rule_["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] = "prometheus"
    assert k8s_fired(view) == {"network.k8s-scrape"}


def test_seed_triton_metrics_port_not_admitted(recorded):
    view = recorded("onprem-triton")
    manifest(view, "NetworkPolicy", "llama-3-3-70b-instruct", "llm-triton")["spec"]["ingress"][1]["ports"][0]["port"] = 8000
    assert k8s_fired(view) == {"network.k8s-scrape"}


def test_seed_ingress_controller_namespace_wrong(recorded):
    view = recorded("azure-prod")
    # The ingress controller calls the model's router, whose policy admits it (the model pods admit only the router).
    rule_ = manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct-router", "llm")["spec"]["ingress"][0]
    rule_["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] = "nginx"
    assert k8s_fired(view) == {"network.k8s-callers"}


def test_seed_passthrough_lb_source_not_admitted(recorded):
    view = recorded("gcp-prod")
    # The passthrough load balancer's sources reach the model's router (the model pods admit only the router).
    router = manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct-router", "llm")
    router["spec"]["ingress"][0]["from"][0]["ipBlock"]["cidr"] = "10.40.19.0/26"
    assert k8s_fired(view) == {"network.k8s-callers"}


def test_seed_model_open_to_every_pod(recorded):
    view = recorded("onprem")
    manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct", "llm")["spec"]["ingress"].append(
        {"ports": [{"port": 8000, "protocol": "TCP"}]}
    )
    assert k8s_fired(view) == {"network.k8s-closed"}


def test_seed_copy_job_cannot_reach_the_store(recorded):
    view = recorded("onprem")
    egress = manifest(view, "NetworkPolicy", "copy-llama-3-1-8b-instruct-68cd046b", "llm")["spec"]["egress"]
    egress[:] = [e for e in egress if e["ports"][0]["port"] != 443]
    assert k8s_fired(view) == {"network.k8s-egress"}


def test_seed_dns_blocked(recorded):
    view = recorded("gcp-prod")
    egress = manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct", "llm")["spec"]["egress"]
    egress[0]["to"][0]["podSelector"]["matchLabels"]["k8s-app"] = "coredns"
    assert k8s_fired(view) == {"network.k8s-egress"}


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_eks_models_admit_the_alb_subnets_not_the_vpc(recorded, stack):
    """Finding 3 (EKS): with the VPC CNI every pod has a VPC address; a model that admits the VPC range
    admits every pod, which then skips the ALB's security group and the gateway."""
    view = recorded(stack)
    assert k8s_fired(view) == set()
    lb = sorted(
        r["inputs"]["cidrBlock"]
        for r in view.of_type("aws:ec2/subnet:Subnet")
        if (r["inputs"].get("tags") or {}).get("kubernetes.io/role/internal-elb")
    )
    assert lb and all(
        r["name"].startswith("llm-network-internal-lb-")
        for r in view.of_type("aws:ec2/subnet:Subnet")
        if (r["inputs"].get("tags") or {}).get("kubernetes.io/role/internal-elb")
    )
    for policy in view.objects("NetworkPolicy"):
        blocks = [p["ipBlock"]["cidr"] for rule_ in policy["spec"].get("ingress") or [] for p in rule_.get("from") or [] if "ipBlock" in p]
        assert blocks in ([], lb), policy["metadata"]["name"]


def test_seed_eks_model_admits_the_whole_vpc(recorded):
    view = recorded("prod")
    rule_ = manifest(view, "NetworkPolicy", "llama-3-3-70b-instruct", "llm")["spec"]["ingress"][0]
    rule_["from"] = [{"ipBlock": {"cidr": "10.40.0.0/16"}}]
    assert k8s_fired(view) == {"network.k8s-closed"}


def _without_credential_egress(policy: dict, address: str) -> None:
    egress = policy["spec"]["egress"]
    kept = [e for e in egress if not any(p.get("ipBlock", {}).get("cidr", "").startswith(address) for p in e.get("to") or [])]
    assert len(kept) < len(egress), f"{policy['metadata']['name']} has no egress to {address}"
    egress[:] = kept


@pytest.mark.parametrize(
    ("stack", "policies", "endpoint"),
    [
        ("prod", ["llama-3-1-8b-instruct", "llama-3-3-70b-instruct"], {"cidr": "169.254.170.23/32", "port": 80}),
        ("staging", ["llama-3-1-8b-instruct", "copy-llama-3-1-8b-instruct-68cd046b"], {"cidr": "169.254.170.23/32", "port": 80}),
        ("gcp-prod", ["llama-3-1-8b-instruct"], {"cidr": "169.254.169.254/32", "port": 80}),
    ],
)
def test_pods_with_a_cloud_identity_reach_its_credential_endpoint(recorded, stack, policies, endpoint):
    """Deploy-breaker: EKS (vpc-cni network policy) and GKE (Dataplane V2) enforce the servers' and copy
    Jobs' policies, which let out only DNS and 443; Pod Identity's agent (169.254.170.23:80) and GKE's
    metadata server (169.254.169.254:80 on Dataplane V2) were unreachable: no credentials, no weights."""
    view = recorded(stack)
    for name in policies:
        egress = manifest(view, "NetworkPolicy", name, "llm")["spec"]["egress"]
        assert {"to": [{"ipBlock": {"cidr": endpoint["cidr"]}}], "ports": [{"port": endpoint["port"], "protocol": "TCP"}]} in egress


def test_seed_eks_server_without_pod_identity_agent(recorded):
    view = recorded("prod")
    _without_credential_egress(manifest(view, "NetworkPolicy", "llama-3-3-70b-instruct", "llm"), "169.254.170.23")
    assert fired(view) == {"network.k8s-egress"}


def test_seed_eks_copy_job_without_pod_identity_agent(recorded):
    view = recorded("staging")
    _without_credential_egress(manifest(view, "NetworkPolicy", "copy-llama-3-1-8b-instruct-68cd046b", "llm"), "169.254.170.23")
    assert fired(view) == {"network.k8s-egress"}


def test_seed_gke_server_without_metadata_server(recorded):
    view = recorded("gcp-prod")
    _without_credential_egress(manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct", "llm"), "169.254.169.254")
    assert fired(view) == {"network.k8s-egress"}


def test_gke_legacy_dataplane_needs_the_metadata_server_on_988(recorded):
    """Off Dataplane V2 the metadata server is reached at 169.254.169.252:988: the rule asks for that one."""
    view = recorded("gcp-prod")
    next(iter(view.of_type("gcp:container/cluster:Cluster")))["inputs"]["datapathProvider"] = "LEGACY_DATAPATH"
    _without_credential_egress(manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct", "llm"), "169.254.169.254")
    assert "network.k8s-egress" not in k8s_fired(view)
    _without_credential_egress(manifest(view, "NetworkPolicy", "llama-3-1-8b-instruct", "llm"), "169.254.169.252")
    assert k8s_fired(view) == {"network.k8s-egress"}


def test_seed_triton_grpc_open_to_every_pod(recorded):
    """A model server's serving ports are probed whether or not an entry point exposes them: Triton's
    gRPC port sits behind no Ingress, and the closed check used to look only behind entry points."""
    view = recorded("onprem-triton")
    manifest(view, "NetworkPolicy", "llama-3-3-70b-instruct", "llm-triton")["spec"]["ingress"].append(
        {"ports": [{"port": 8001, "protocol": "TCP"}]}
    )
    assert fired(view) == {"network.k8s-closed"}


def test_seed_internal_lb_with_cluster_traffic_policy(recorded):
    """externalTrafficPolicy Cluster source-NATs to a node address: the gateway's subnet, which the
    policy admits, is no longer what the pods see, so the callers (the nodes) are refused."""
    view = recorded("gcp-prod")
    manifest(view, "Service", "llama-3-1-8b-instruct-internal", "llm")["spec"]["externalTrafficPolicy"] = "Cluster"
    assert fired(view) == {"network.k8s-callers"}


def test_nodeport_callers_are_the_nodes(recorded):
    view = recorded("gcp-prod")
    service = manifest(view, "Service", "llama-3-1-8b-instruct-internal", "llm")
    service["spec"] = {**service["spec"], "type": "NodePort", "externalTrafficPolicy": "Cluster"}
    entries = [
        (what, [cast(IpPeer, c).address for c in callers])
        for what, s, _p, callers in network_kubernetes._entry_points(view)
        if s is service
    ]
    assert entries == [("Service llm/llama-3-1-8b-instruct-internal (NodePort)", ["10.40.0.7"])]  # llm-network-subnet, the nodes' range


def test_internal_elb_tag_counts_by_presence(recorded):
    """The controller discovers a subnet by the role tag's presence (value "1" or ""); the callers of an
    internal ALB used to be found only where the value was truthy."""
    view = recorded("prod")
    for subnet in view.of_type("aws:ec2/subnet:Subnet"):
        tags = subnet["inputs"].get("tags") or {}
        if "kubernetes.io/role/internal-elb" in tags:
            tags["kubernetes.io/role/internal-elb"] = ""
    assert fired(view) == set()
    assert all(
        callers and all(cast(IpPeer, c).address.startswith("10.40.") for c in callers)
        for what, _s, _p, callers in network_kubernetes._entry_points(view)
        if what.startswith("Ingress")
    )
