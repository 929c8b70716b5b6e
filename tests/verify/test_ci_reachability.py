"""Seeds for ci.reachability: CI must run where the stack's Kubernetes API server answers.

Finding 9 (CI can't reach private control planes): staging, prod, gcp-prod and azure-prod deployed from
GitHub-hosted runners while their API servers are private. Each stack file now names a self-hosted runner
(`pulumi-llm:ci.runner_labels`); dropping it again is the regression each seed below replays.
"""

from __future__ import annotations

import pytest
from pulumi_llm.verify import run_rules

from .conftest import fired, resource

RULE = "ci.reachability"


def without_runner(view):
    view.settings["ci"]["runner_labels"] = []
    return view


def flagged(view) -> set[str]:
    return {v.resource for v in run_rules(view, [RULE])}


@pytest.mark.parametrize(
    ("stack", "cluster_type", "cluster"),
    [
        ("staging", "aws:eks/cluster:Cluster", "llm-eks-cluster"),
        ("prod", "aws:eks/cluster:Cluster", "llm-eks-cluster"),
        ("gcp-prod", "gcp:container/cluster:Cluster", "llm-gke-cluster"),
        ("azure-prod", "azure-native:containerservice:ManagedCluster", "llm-aks-cluster"),
    ],
)
def test_a_private_cluster_without_an_in_network_runner_fires(recorded, stack, cluster_type, cluster):
    # The stack file as it was before the fix: no runner setting, so CI runs on ubuntu-latest.
    view = without_runner(recorded(stack))
    assert fired(view) == {RULE}
    assert flagged(view) == {resource(view, cluster_type, cluster)["name"]}
    assert "is private" in run_rules(view, [RULE])[0].why


@pytest.mark.parametrize(("stack", "provider"), [("onprem", "llm-onprem-k8s"), ("edge", "llm-edge-k8s")])
def test_a_kube_context_without_an_in_network_runner_fires(recorded, stack, provider):
    view = without_runner(recorded(stack))
    assert fired(view) == {RULE}
    assert flagged(view) == {provider}


def test_github_hosted_labels_for_a_private_cluster_fire(recorded):
    # A hand-edited runner list that lands the job on a GitHub-hosted machine (validation refuses it in
    # the stack file; the rule does not rely on that).
    view = recorded("prod")
    view.settings["ci"]["runner_labels"] = ["ubuntu-latest"]
    assert fired(view) == {RULE}
    assert "on ubuntu-latest" in run_rules(view, [RULE])[0].why


def test_a_gke_endpoint_opened_to_a_short_allow_list_still_fires(recorded):
    # Public endpoint, but only for one office range: GitHub-hosted runners are not in it.
    view = without_runner(recorded("gcp-prod"))
    gke = resource(view, "gcp:container/cluster:Cluster", "llm-gke-cluster")
    gke["inputs"]["privateClusterConfig"]["enablePrivateEndpoint"] = False
    gke["inputs"]["masterAuthorizedNetworksConfig"]["cidrBlocks"] = [{"displayName": "office", "cidrBlock": "203.0.113.0/24"}]
    assert fired(view) == {RULE}
    assert "public only to 203.0.113.0/24" in run_rules(view, [RULE])[0].why


def test_the_rule_reads_the_endpoint_the_plan_creates(recorded):
    # The plan, not the settings, says whether the API server is private: an EKS endpoint open to every
    # address (publicAccessCidrs unset means 0.0.0.0/0) is reachable from a GitHub-hosted runner.
    view = without_runner(recorded("staging"))
    eks = resource(view, "aws:eks/cluster:Cluster", "llm-eks-cluster")
    eks["inputs"]["vpcConfig"]["endpointPublicAccess"] = True
    eks["inputs"]["vpcConfig"].pop("publicAccessCidrs", None)
    assert RULE not in fired(view)


def test_an_aks_api_server_made_public_to_everyone_is_reachable(recorded):
    view = without_runner(recorded("azure-prod"))
    aks = resource(view, "azure-native:containerservice:ManagedCluster", "llm-aks-cluster")
    aks["inputs"]["apiServerAccessProfile"] = {"enablePrivateCluster": False}
    assert RULE not in fired(view)


@pytest.mark.parametrize("stack", ["dev", "gcp-dev", "azure-dev"])
def test_stacks_without_a_kubernetes_api_run_on_github_hosted_runners(recorded, stack):
    view = recorded(stack)
    assert view.settings["ci"]["runner_labels"] == []
    assert not flagged(view)
