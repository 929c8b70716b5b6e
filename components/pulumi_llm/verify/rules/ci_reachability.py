"""ci.reachability: every Kubernetes API server the plan talks to is reachable from the runner CI previews
and deploys the stack on.

A private EKS/GKE/AKS endpoint (or one that admits a short allow-list) refuses a GitHub-hosted runner, so
`pulumi preview` and `pulumi up` from CI could not read or apply a single Kubernetes or Helm resource of
the stack. The runner is the one `ci_runner.decide_ci_runner` chooses from the settings (what
.github/scripts/stacks.py hands the workflows); the API servers are the ones the recorded plan really
creates: the cluster resources' endpoint inputs, and the kubeconfig contexts of the Kubernetes providers
(on-prem and edge clusters, taken to be on the operator's network).

Facts: `facts/control_plane_access` (EKS vpcConfig, GKE private cluster and authorized networks, AKS API
server access profile, GitHub-hosted runner addresses).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...ci_runner import ApiEndpoint, decide_ci_runner
from ..facts import control_plane_access as access
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "ci.reachability"


def api_endpoints(view: PlanView) -> Iterator[tuple[dict[str, Any], ApiEndpoint]]:
    """(resource, endpoint) for every Kubernetes API server the plan creates or connects to."""
    for cluster in view.of_type("aws:eks/cluster:Cluster"):
        public, allowed = access.eks_endpoint(cluster["inputs"].get("vpcConfig"))
        yield cluster, ApiEndpoint("the EKS API server", public, allowed)
    for cluster in view.of_type("gcp:container/cluster:Cluster"):
        public, allowed = access.gke_endpoint(cluster["inputs"])
        yield cluster, ApiEndpoint("the GKE API server", public, allowed)
    for cluster in view.of_type("azure-native:containerservice:ManagedCluster"):
        public, allowed = access.aks_endpoint(cluster["inputs"].get("apiServerAccessProfile"))
        yield cluster, ApiEndpoint("the AKS API server", public, allowed)
    for provider in view.of_type("pulumi:providers:kubernetes"):
        context = provider["inputs"].get("context")
        if context:
            # A provider built from a cluster's kubeconfig is that cluster's endpoint, already counted.
            yield provider, ApiEndpoint(f"kube context {context}", public=False, allowed=())


@rule(NAME)
def reachability(view: PlanView) -> Iterator[Violation]:
    """Every Kubernetes API server the plan creates or talks to is reachable from the runner CI previews and deploys the stack on."""
    runner = decide_ci_runner(view.settings)
    for resource, endpoint in api_endpoints(view):
        if endpoint.reachable_from_github_hosted or runner.self_hosted:
            continue
        runs_on = ", ".join(runner.runs_on) if runner.runs_on else "no runner"
        yield violation(
            view,
            resource["name"],
            NAME,
            f"{endpoint.what} {endpoint.exposure()}, but CI previews and deploys this stack on {runs_on}, "
            "which cannot reach it: set pulumi-llm:ci.runner_labels to a self-hosted runner inside its network",
        )
