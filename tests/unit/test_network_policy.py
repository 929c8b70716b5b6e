"""The model server's NetworkPolicy: an empty peer list must never turn into "from everyone"."""

from __future__ import annotations

from pulumi_llm import pins
from pulumi_llm.kubernetes.render import network_policy_spec
from pulumi_llm.runtimes import vllm
from pulumi_llm.sizing import Hardware, fit, get_accelerator

INGRESS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
PROMETHEUS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}


def spec():
    sized = fit("llama-3.1-8b-instruct", Hardware(get_accelerator("L40S"), 1), context=8192)
    return vllm.vllm_container("llama", sized, vllm.Weights("volume", "/models/llama"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))


def test_without_clients_no_rule_admits_the_api_port() -> None:
    policy = network_policy_spec(spec(), clients=(), scrapers=(PROMETHEUS,), object_store_egress=False, multinode=False)
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert all(rule.get("from") for rule in policy["ingress"])  # never an empty or missing `from`
    assert [rule["from"] for rule in policy["ingress"]] == [[PROMETHEUS]]


def test_with_nobody_at_all_ingress_is_denied() -> None:
    policy = network_policy_spec(spec(), clients=(), scrapers=(), object_store_egress=False, multinode=False)
    assert policy["ingress"] == []


def test_clients_reach_only_the_api_port_and_scrapers_only_metrics() -> None:
    s = spec()
    policy = network_policy_spec(s, clients=(INGRESS,), scrapers=(PROMETHEUS,), object_store_egress=True, multinode=False)
    api, metrics = policy["ingress"]
    assert api == {"from": [INGRESS], "ports": [{"port": s.port(s.http_port).container_port, "protocol": "TCP"}]}
    assert metrics == {"from": [PROMETHEUS], "ports": [{"port": s.port(s.metrics_port).container_port, "protocol": "TCP"}]}
    assert {"ports": [{"port": 443, "protocol": "TCP"}]} in policy["egress"]


def test_credential_endpoints_are_let_out_exactly() -> None:
    """A pod bound to a cloud identity reaches its node's credential endpoint, that address and port only;
    without endpoints nothing link-local is let out."""
    from pulumi_llm.kubernetes import credential_endpoints as cred
    from pulumi_llm.kubernetes.model_copy import CopySpec
    from pulumi_llm.kubernetes.model_copy import network_policy_spec as copy_policy

    s = spec()
    rules = cred.egress_rules(cred.EKS_POD_IDENTITY_AGENT)
    assert rules[0] == {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"port": 80, "protocol": "TCP"}]}
    server = network_policy_spec(s, clients=(), scrapers=(), object_store_egress=True, multinode=False, credential_egress=rules)
    assert server["egress"][-2:] == rules
    assert not any(
        "ipBlock" in p
        for r in network_policy_spec(s, clients=(), scrapers=(), object_store_egress=True, multinode=False)["egress"]
        for p in r.get("to") or []
    )
    copy = CopySpec("llama", "meta-llama/x", "abc", "object-store", "meta-llama/x/abc", "img")
    assert copy_policy(copy, cred.GKE_METADATA_SERVER)["egress"][2:] == cred.egress_rules(cred.GKE_METADATA_SERVER)
    assert [r["to"][0]["ipBlock"]["cidr"] for r in cred.egress_rules(cred.GKE_METADATA_SERVER)] == [
        "169.254.169.254/32",
        "169.254.169.252/32",
    ]
