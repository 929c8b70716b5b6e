"""The edge target of LlmPlatform: llama.cpp (or, with edge.runtime onnx, ONNX Runtime GenAI cpu) images in
the stack's ECR (the main target, and a jetson image for a Jetson fleet), rolled out by digest to the
labelled nodes of each fleet (the contract: context.py).

The registry is the AWS target's: its foundation, which an edge stack builds without self-hosting (the
provider alone), must have run first (the dispatcher's order).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import pulumi
import pulumi_docker_build as docker_build
import pulumi_kubernetes as k8s

from .. import serving
from .context import NO_OUTPUTS, Foundation, Outputs, PlatformContext, SelfHosted

if TYPE_CHECKING:
    from ..settings.edge import EdgeSettings


def foundation(ctx: PlatformContext, built: Mapping[str, Foundation]) -> Foundation:
    """The AWS target's providers (for ECR) and a docker-build provider."""
    if "aws" not in built:
        raise ValueError("edge images go to the stack's ECR: an edge stack needs cloud aws")
    builder = docker_build.Provider(ctx.child("docker-build"), opts=ctx.opts())
    return Foundation(providers=(*built["aws"].providers, builder))


def self_hosted(ctx: PlatformContext, foundation: Foundation) -> SelfHosted:
    """One image per fleet, and their rollout to the fleets' nodes."""
    from ..edge.image import EdgeImage, EdgeImageArgs, default_build_context
    from ..edge.rollout import EdgeRollout, EdgeRolloutArgs, EdgeServer

    settings = ctx.settings
    edge = settings.edge
    assert edge is not None
    edge_labels = ctx.labels.with_method("edge")
    gpu_taint = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
    servers: list[EdgeServer] = []
    images: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = {}
    # Every fleet's image goes to the first one's repository (tags tell them apart).
    first: EdgeImage | None = None
    for fleet in _fleets(edge):
        image = EdgeImage(
            ctx.child(fleet.image_name),
            EdgeImageArgs(
                labels=edge_labels,
                runtime=edge.runtime,
                context=default_build_context(edge.runtime),
                repository=edge.repository,
                llama_cpp_sha256=edge.llama_cpp_sha256,
                jetson_build_image=edge.jetson_build_image,
                jetson_runtime_image=edge.jetson_runtime_image,
                registry="ecr",
                repository_url=first.repository_url if first is not None else None,
                cache_repository_url=first.cache_repository_url if first is not None else None,
                tag=fleet.tag,
                target=fleet.target,
                platforms=fleet.platforms,
                builders=fleet.builders,
            ),
            opts=ctx.opts(foundation.providers),
        )
        first = first or image
        images[fleet.fleet] = (image.ref, image.digest)
        for served in sorted(settings.models):
            servers.append(
                EdgeServer(
                    name=served if fleet.device is None else f"{served}-{fleet.fleet}",
                    fleet=fleet.fleet,
                    container=serving.container(settings, served, serving.size(settings, served, edge_device=fleet.device)),
                    image=image.ref,
                    node_selector=fleet.node_selector,
                    tolerations=gpu_taint if fleet.target != "cpu" else (),
                )
            )
    fleet_cluster = k8s.Provider(
        ctx.child("edge-k8s"),
        context=edge.kube_context,
        kubeconfig=edge.kubeconfig,
        enable_server_side_apply=True,
        opts=ctx.opts(),
    )
    EdgeRollout(
        ctx.child("edge-rollout"),
        EdgeRolloutArgs(servers=tuple(servers), namespace=edge.namespace, labels=edge_labels, host_model_dir=edge.host_model_dir),
        opts=ctx.opts([fleet_cluster]),
    )
    return SelfHosted(edge_images=images, outputs={f"edge_image_{fleet}": ref for fleet, (ref, _) in images.items()})


@dataclasses.dataclass(frozen=True)
class _Fleet:
    """One fleet's image and nodes."""

    fleet: str
    image_name: str
    """The EdgeImage's child name."""
    tag: str
    target: Literal["cpu", "cuda", "jetson"]
    platforms: tuple[str, ...]
    builders: dict[str, str]
    node_selector: Mapping[str, str]
    device: str | None
    """The sizing device (None: the stack's edge.device)."""


def _fleets(edge: EdgeSettings) -> list[_Fleet]:
    """Each fleet: the main target's, and a Jetson fleet's when edge.jetson is set."""
    fleets = [
        _Fleet(
            edge.target,
            "edge-image",
            edge.image_tag,
            edge.target,
            tuple(edge.platforms),
            {str(k): v for k, v in edge.builders.items()},
            edge.node_selector,
            None,
        )
    ]
    if edge.jetson is not None:
        jet = edge.jetson
        fleets.append(
            _Fleet(
                "jetson",
                "edge-image-jetson",
                f"{edge.image_tag}-jetson",
                "jetson",
                ("linux/arm64",),
                {"linux/arm64": jet.builder} if jet.builder else {},
                jet.node_selector,
                jet.device,
            )
        )
    return fleets


def gateway(ctx: PlatformContext, foundation: Foundation, self_hosted: SelfHosted) -> Outputs:
    """No gateway of its own: an edge stack's gateway, if any, is the AWS target's."""
    return NO_OUTPUTS
