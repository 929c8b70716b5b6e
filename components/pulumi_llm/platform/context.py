"""The typed contract every target of LlmPlatform implements, and the values its phases hand each other.

A target (aws.py, gcp.py, azure.py, onprem.py, edge.py) is a module with three functions, run in this order
by the dispatcher (platform/__init__.py):

* `foundation(ctx, built) -> Foundation`: the providers and what every method shares (network, key, model
  store, monitoring). `built` holds the foundations of the targets that ran before it (an edge stack's
  registry is the AWS target's foundation, without self-hosting);
* `self_hosted(ctx, foundation) -> SelfHosted`: the model servers (GPU VMs, clusters, edge fleets) and the
  URLs the gateway reaches them at;
* `gateway(ctx, foundation, self_hosted) -> Outputs`: the gateway in front of them.

Every resource is created with `parent=ctx.parent` (the LlmPlatform component), so URNs don't depend on which
module creates it. The values are frozen: what one phase needs from another travels in them, not in
attributes set on the component.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pulumi

from ..labels import CommonLabels
from ..naming import child
from ..settings import Settings

Outputs = Mapping[str, pulumi.Input[str]]
"""Stack outputs a phase adds, in the order they are registered."""

NO_OUTPUTS: Outputs = {}


@dataclasses.dataclass(frozen=True)
class PlatformContext:
    """What every phase of every target reads: the component's name, settings and labels, and the component."""

    name: str
    settings: Settings
    labels: CommonLabels
    parent: pulumi.ComponentResource

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self.settings.methods)

    def child(self, suffix: str) -> str:
        """A child resource's name, from the component's (naming.child)."""
        return child(self.name, suffix)

    def opts(self, providers: Sequence[pulumi.ProviderResource] = (), **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of a child of the component: parented to it, with these explicit providers."""
        if providers:
            kwargs["providers"] = list(providers)
        return pulumi.ResourceOptions(parent=self.parent, **kwargs)


@dataclasses.dataclass(frozen=True)
class Foundation:
    """What a target's methods share. Component types differ per cloud, hence `Any`; None when not built."""

    providers: tuple[pulumi.ProviderResource, ...]
    network: Any = None
    key: Any = None
    store: Any = None
    monitoring: Any = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict[str, Any])
    """Per-target pieces the other phases read (GCP: the bucket's plan-time name; Azure: the resource group, vault)."""
    model_bucket: pulumi.Input[str] | None = None
    """LlmPlatform.model_bucket: the model store's bucket (or container URL)."""
    outputs: Outputs = dataclasses.field(default_factory=dict[str, pulumi.Input[str]])


@dataclasses.dataclass(frozen=True)
class SelfHosted:
    """The served models as the gateway reaches them."""

    urls: Mapping[str, pulumi.Output[str]] = dataclasses.field(default_factory=dict[str, pulumi.Output[str]])
    """Served name → base URL the gateway calls (ending in /v1)."""
    endpoints: Mapping[str, tuple[pulumi.Output[str], int]] = dataclasses.field(default_factory=dict[str, tuple[pulumi.Output[str], int]])
    """AWS: a name → (the load balancers' security group, the port of the URLs), one entry per group."""
    key: Any = None
    """AWS: the Secrets Manager secret of the API key the servers require and the gateway sends."""
    key_readers: tuple[pulumi.Output[str], ...] = ()
    """AWS: the servers' role ARNs that read that key."""
    namespace: pulumi.Output[str] | None = None
    """LlmPlatform.namespace: the Kubernetes namespace the models are served in."""
    edge_images: Mapping[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = dataclasses.field(
        default_factory=dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]]
    )
    """LlmPlatform.edge_images: fleet → (image index ref by digest, its sha256 digest)."""
    outputs: Outputs = dataclasses.field(default_factory=dict[str, pulumi.Input[str]])


NOTHING_SELF_HOSTED = SelfHosted()


class Target(Protocol):
    """One deployment target: a module of platform/ with these three functions."""

    def foundation(self, ctx: PlatformContext, built: Mapping[str, Foundation]) -> Foundation: ...

    def self_hosted(self, ctx: PlatformContext, foundation: Foundation) -> SelfHosted: ...

    def gateway(self, ctx: PlatformContext, foundation: Foundation, self_hosted: SelfHosted) -> Outputs: ...
