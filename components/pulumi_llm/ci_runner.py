"""Which GitHub Actions runner can preview and deploy a stack.

A stack whose program talks to a Kubernetes API server (the cluster method's EKS, GKE or AKS, an on-prem
cluster, an edge fleet) can only be previewed and deployed from a machine that reaches that API server.
pulumi-llm's clusters never open it to every address (private endpoints by default; allow-lists that
refuse 0.0.0.0/0 otherwise), and GitHub-hosted runners come from no small fixed set of addresses, so such
a stack runs on a self-hosted runner inside its network, named by `pulumi-llm:ci.runner_labels`. Every
other stack (gateway and GPU VMs only reach cloud APIs) runs on a GitHub-hosted runner.

Pure: settings in (validated settings dumped to JSON, as PlanView.settings holds them), decision out.
`.github/scripts/stacks.py` builds the workflows' matrix from it; the verify rule `ci.reachability`
checks it against the API servers the recorded plan really creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import cluster_endpoints
from .settings import SELF_HOSTED_LABEL
from .verify.facts import control_plane_access as access

GITHUB_HOSTED = ("ubuntu-latest",)
"""runs-on of the stacks a GitHub-hosted runner can deploy."""


@dataclass(frozen=True)
class ApiEndpoint:
    """Where a Kubernetes API server answers, and whom it admits."""

    what: str
    """How a message names it: "the EKS API server", "kube context gpu-cluster"."""
    public: bool
    """It answers on a public address at all."""
    allowed: tuple[str, ...] | None
    """Source CIDRs its public address admits; None: every address."""

    @property
    def reachable_from_github_hosted(self) -> bool:
        return access.admits_any_address(self.public, self.allowed)

    def exposure(self) -> str:
        """Why a GitHub-hosted runner does or does not reach it, in words."""
        if not self.public:
            return "is private (reachable only from its network)"
        if self.reachable_from_github_hosted:
            return "is public to every address"
        return f"is public only to {', '.join(self.allowed or ())}, and {access.GITHUB_HOSTED_ADDRESSES}"


@dataclass(frozen=True)
class CiRunner:
    """The runner CI uses for one stack."""

    endpoint: ApiEndpoint | None
    """The Kubernetes API server the stack's program talks to; None when it talks to none."""
    runs_on: tuple[str, ...] | None
    """The jobs' runs-on labels; None when no runner that reaches the endpoint is configured."""

    @property
    def reachable_from_github_hosted(self) -> bool:
        return self.endpoint is None or self.endpoint.reachable_from_github_hosted

    @property
    def self_hosted(self) -> bool:
        return self.runs_on is not None and SELF_HOSTED_LABEL in self.runs_on

    @property
    def problem(self) -> str | None:
        """Why no runner can be chosen, or None."""
        if self.runs_on is not None or self.endpoint is None:
            return None
        return (
            f"{self.endpoint.what} {self.endpoint.exposure()}; no GitHub-hosted runner reaches it: set "
            "pulumi-llm:ci.runner_labels to the labels of a self-hosted runner inside its network"
        )


def kubernetes_endpoint(settings: Mapping[str, Any]) -> ApiEndpoint | None:
    """The Kubernetes API server a stack's settings make its program talk to, or None."""
    methods: set[str] = set(settings.get("methods") or ())
    cloud = settings.get("cloud")
    api = cluster_endpoints.BY_CLOUD.get(str(cloud)) if "cluster" in methods else None
    if api is not None:
        cloud_settings: Mapping[str, Any] = settings.get(str(cloud)) or {}
        public, allowed = api.exposure(cloud_settings.get("cluster") or {})
        return ApiEndpoint(api.api_server, public, allowed)
    for method in ("onprem", "edge"):
        if method in methods:
            # A kubeconfig context names a cluster the plan knows nothing about beyond its name; it is taken
            # to be on the operator's network, where the kubeconfig that defines the context also lives.
            return ApiEndpoint(f"kube context {settings[method]['kube_context']}", public=False, allowed=())
    return None


def decide_ci_runner(settings: Mapping[str, Any]) -> CiRunner:
    """The runner that previews and deploys the stack: its `ci.runner_labels` when it sets them; else a
    GitHub-hosted runner when that reaches everything the stack talks to; else none (`problem` says why)."""
    endpoint = kubernetes_endpoint(settings)
    ci: Mapping[str, Any] = settings.get("ci") or {}
    labels: tuple[str, ...] = tuple(ci.get("runner_labels") or ())
    if labels:
        return CiRunner(endpoint, labels)
    if endpoint is None or endpoint.reachable_from_github_hosted:
        return CiRunner(endpoint, GITHUB_HOSTED)
    return CiRunner(endpoint, None)
