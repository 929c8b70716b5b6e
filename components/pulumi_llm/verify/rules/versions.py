"""versions.kubernetes-support: the Kubernetes minor a managed cluster pins is in standard support on the
day of the plan.

Past the end of standard support EKS bills the cluster for extended support (and auto-upgrades it at the
end of that), AKS gives platform-only support, GKE upgrades it: an error. Within ``WARN_DAYS`` of the date
it is a warning, time to plan the upgrade (EKS moves one minor at a time, with its add-ons).

Facts: ``facts/kubernetes_versions`` (the EKS, AKS and GKE release calendars).
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import clock
from ..facts import kubernetes_versions
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "versions.kubernetes-support"
WARN_DAYS = 90

# Where each managed cluster's pinned version sits in its resource's inputs.
PINNED_VERSION = {
    "aws:eks/cluster:Cluster": ("eks", "version"),
    "azure-native:containerservice:ManagedCluster": ("aks", "kubernetesVersion"),
    "gcp:container/cluster:Cluster": ("gke", "minMasterVersion"),
}


@rule(NAME)
def kubernetes_support(view: PlanView) -> Iterator[Violation]:
    """The Kubernetes minor a managed cluster pins is in standard support on the day of the plan (a warning within 90 days of its end)."""
    day = clock.today()
    for cluster in view.of_type(*PINNED_VERSION):
        service, field = PINNED_VERSION[cluster["type"]]
        version = cluster["inputs"].get(field)
        if not isinstance(version, str) or not version:
            continue  # not pinned: a GKE release channel picks and upgrades the version
        ends = kubernetes_versions.end_of_standard_support(service, version)
        if ends is None:
            yield violation(
                view,
                cluster["name"],
                NAME,
                (
                    f"{service.upper()} {version}: no end-of-standard-support date in facts/kubernetes_versions; "
                    "add the release calendar's row"
                ),
                severity="warning",
            )
        elif ends <= day:
            yield violation(
                view,
                cluster["name"],
                NAME,
                (f"{service.upper()} {version} left standard support on {ends}: move to a minor in standard support"),
            )
        elif (ends - day).days <= WARN_DAYS:
            yield violation(
                view,
                cluster["name"],
                NAME,
                (f"{service.upper()} {version} leaves standard support on {ends}, {(ends - day).days} days from now"),
                severity="warning",
            )
