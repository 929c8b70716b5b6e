"""The on-prem target of LlmPlatform: a Kubernetes provider for the user's cluster and the models served on it
(`OnPremCluster`); no cloud, no gateway (the contract: context.py)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi_kubernetes as k8s

from ..component_args import onprem_cluster_args
from .context import NO_OUTPUTS, Foundation, Outputs, PlatformContext, SelfHosted


def foundation(ctx: PlatformContext, built: Mapping[str, Foundation]) -> Foundation:
    """The Kubernetes provider of the kube context the settings name."""
    onprem = ctx.settings.onprem
    assert onprem is not None
    provider = k8s.Provider(
        ctx.child("onprem-k8s"),
        context=onprem.kube_context,
        kubeconfig=onprem.kubeconfig,
        # Server-side apply: field ownership is tracked by the API server, as kubectl does.
        enable_server_side_apply=True,
        opts=ctx.opts(),
    )
    return Foundation(providers=(provider,))


def self_hosted(ctx: PlatformContext, foundation: Foundation) -> SelfHosted:
    """The models served in the cluster."""
    from ..onprem import OnPremCluster

    cluster = OnPremCluster(
        ctx.child("onprem"),
        onprem_cluster_args(ctx.settings, ctx.labels),
        opts=ctx.opts(foundation.providers),
    )
    return SelfHosted(namespace=cluster.namespace, outputs={"namespace": cluster.namespace})


def gateway(ctx: PlatformContext, foundation: Foundation, self_hosted: SelfHosted) -> Outputs:
    """No gateway on-prem."""
    return NO_OUTPUTS
