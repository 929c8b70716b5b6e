"""versions.kubernetes-support: seeds from real recorded plans (a cluster's pinned minor moved back to one
out of standard support), the warning window, and the regression for the stale EKS 1.33 pin."""

from __future__ import annotations

from datetime import date
from typing import cast

import pytest
from pulumi_llm import pins
from pulumi_llm.verify import clock, run_rules
from pulumi_llm.verify.facts import kubernetes_versions
from pulumi_llm.verify.rules import versions

from .conftest import PLAN_DAY, fired, resource


def mine(view, severity: str) -> list:
    return [v for v in run_rules(view, only=[versions.NAME]) if v.severity == severity]


# --- seeds ---------------------------------------------------------------------------------------


def test_seed_eks_back_on_133_on_prod(recorded):
    view = recorded("prod")
    resource(view, "aws:eks/cluster:Cluster", "llm-eks-cluster")["inputs"]["version"] = "1.33"
    assert fired(view) == {"versions.kubernetes-support"}
    assert "left standard support on 2026-07-29" in mine(view, "error")[0].why


def test_seed_aks_on_134_on_azure_prod(recorded):
    view = recorded("azure-prod")
    resource(view, "azure-native:containerservice:ManagedCluster", "llm-aks-cluster")["inputs"]["kubernetesVersion"] = "1.34"
    assert fired(view) == {"versions.kubernetes-support"}


def test_seed_gke_pinned_to_an_old_minor_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    resource(view, "gcp:container/cluster:Cluster", "llm-gke-cluster")["inputs"]["minMasterVersion"] = "1.33.5-gke.1201000"
    assert fired(view) == {"versions.kubernetes-support"}


def test_seed_within_90_days_is_a_warning_not_an_error(recorded, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2027, 1, 15))  # 71 days before EKS 1.35 leaves
    view = recorded("staging")
    assert fired(view) == set()
    [warning] = mine(view, "warning")
    assert warning.resource == "llm-eks-cluster" and "71 days from now" in warning.why


def test_a_gke_release_channel_is_not_judged(recorded):
    view = recorded("gcp-prod")
    assert resource(view, "gcp:container/cluster:Cluster", "llm-gke-cluster")["inputs"].get("minMasterVersion") is None
    assert mine(view, "error") == [] and mine(view, "warning") == []


# --- regression: EKS 1.33 had left standard support (finding 12) ----------------------------------


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_shipped_eks_clusters_run_a_minor_in_standard_support(recorded, stack):
    version = resource(recorded(stack), "aws:eks/cluster:Cluster", "llm-eks-cluster")["inputs"]["version"]
    assert version == pins.EKS_KUBERNETES_VERSION != "1.33"
    assert cast(date, kubernetes_versions.end_of_standard_support("eks", version)) > PLAN_DAY


def test_every_eks_addon_is_pinned_for_the_cluster_minor():
    assert {pin.kubernetes_version for pin in pins.EKS_ADDONS.values()} == {pins.EKS_KUBERNETES_VERSION}
    assert pins.EKS_ADDONS["kube-proxy"].version.startswith(f"v{pins.EKS_KUBERNETES_VERSION}.")


# --- helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "expected"), [("1.35", "1.35"), ("1.35.3", "1.35"), ("1.33.5-gke.1201000", "1.33")])
def test_minor(version, expected):
    assert kubernetes_versions.minor(version) == expected


def test_an_unknown_minor_is_a_warning(recorded):
    view = recorded("prod")
    resource(view, "aws:eks/cluster:Cluster", "llm-eks-cluster")["inputs"]["version"] = "1.37"
    assert fired(view) == set()
    assert "no end-of-standard-support date" in mine(view, "warning")[0].why
