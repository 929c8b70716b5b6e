"""LlmPlatform: the component that composes the targets a stack enables.

One module per target (aws.py, gcp.py, azure.py, onprem.py, edge.py), each the same typed contract
(context.py): `foundation` → `self_hosted` → `gateway`, run in the registry's order below. The results travel
in frozen values (`Foundation`, `SelfHosted`), not attributes of the component.

Per-target modules are imported only when the stack enables them, so an on-prem stack never imports a
cloud SDK and an AWS stack never imports pulumi_gcp or pulumi_azure_native (docs/ARCHITECTURE.md, convention 5).
Every provider is created explicitly by a target and handed down through `opts`; stacks set
`pulumi:disable-default-providers: ["*"]`, so a child that misses its provider fails the plan. Every child is
created with `parent=` this component, whichever module creates it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..labels import CommonLabels
from ..settings import Settings
from .context import Foundation, PlatformContext, SelfHosted, Target


class LlmPlatformArgs(BaseModel):
    """What the platform needs: the validated settings and the stack it runs in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: Settings = Field(description="The validated stack settings.")
    stack: str = Field(description="The Pulumi stack name, for labels and globally unique names.")


def _aws() -> Target:
    from . import aws

    return aws


def _gcp() -> Target:
    from . import gcp

    return gcp


def _azure() -> Target:
    from . import azure

    return azure


def _edge() -> Target:
    from . import edge

    return edge


def _onprem() -> Target:
    from . import onprem

    return onprem


@dataclasses.dataclass(frozen=True)
class TargetEntry:
    """A target of the registry: its name, whether a stack enables it, and its module (imported on use)."""

    name: str
    enabled: Callable[[Settings], bool]
    load: Callable[[], Target]


TARGETS: tuple[TargetEntry, ...] = (
    TargetEntry("aws", lambda s: s.cloud == "aws", _aws),
    TargetEntry("gcp", lambda s: s.cloud == "gcp", _gcp),
    TargetEntry("azure", lambda s: s.cloud == "azure", _azure),
    # After aws: the edge images go to the AWS target's registry.
    TargetEntry("edge", lambda s: "edge" in s.methods, _edge),
    TargetEntry("onprem", lambda s: "onprem" in s.methods and s.onprem is not None, _onprem),
)
"""Every target, in the order they build (which is the order of the stack's resources and outputs)."""


def enabled_targets(settings: Settings) -> tuple[str, ...]:
    """The names of the targets a stack builds, in order."""
    return tuple(entry.name for entry in TARGETS if entry.enabled(settings))


class LlmPlatform(pulumi.ComponentResource):
    """Everything one stack deploys."""

    model_bucket: pulumi.Input[str] | None
    namespace: pulumi.Output[str] | None
    edge_images: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]]
    """Edge stacks: fleet (cpu/cuda/jetson) → (image index ref by digest, its sha256 digest)."""

    def __init__(self, name: str, args: LlmPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:LlmPlatform", name, None, opts)
        settings = args.settings
        labels = CommonLabels(stack=args.stack, environment=settings.environment, extra=dict(settings.tags))
        ctx = PlatformContext(name=name, settings=settings, labels=labels, parent=self)
        self.model_bucket = None
        self.namespace = None
        self.edge_images = {}
        outputs: dict[str, pulumi.Input[str]] = {}
        built: dict[str, Foundation] = {}
        for entry in TARGETS:
            if not entry.enabled(settings):
                continue
            target = entry.load()
            foundation = built[entry.name] = target.foundation(ctx, built)
            self_hosted = target.self_hosted(ctx, foundation)
            outputs.update(foundation.outputs)
            outputs.update(self_hosted.outputs)
            outputs.update(target.gateway(ctx, foundation, self_hosted))
            self._publish(foundation, self_hosted)
        self.register_outputs(outputs)

    def _publish(self, foundation: Foundation, self_hosted: SelfHosted) -> None:
        """The component's attributes, from a target's results."""
        if foundation.model_bucket is not None:
            self.model_bucket = foundation.model_bucket
        if self_hosted.namespace is not None:
            self.namespace = self_hosted.namespace
        if self_hosted.edge_images:
            self.edge_images = dict(self_hosted.edge_images)


__all__ = ["LlmPlatform", "LlmPlatformArgs"]
