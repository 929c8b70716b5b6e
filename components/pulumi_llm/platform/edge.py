"""The edge target of LlmPlatform: llama.cpp (or, with edge.runtime onnx, ONNX Runtime GenAI cpu) images in
the stack's ECR (the main target, and a jetson image for a Jetson fleet), rolled out by digest to the
labelled nodes of each fleet (the contract: context.py).

The registry is the AWS target's: its foundation, which an edge stack builds without self-hosting (the
provider alone), must have run first (the dispatcher's order).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker_build as docker_build
import pulumi_kubernetes as k8s

from .. import serving
from .context import NO_OUTPUTS, Foundation, Outputs, PlatformContext, SelfHosted


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
    common = dict(
        labels=edge_labels,
        runtime=edge.runtime,
        context=default_build_context(edge.runtime),
        repository=edge.repository,
        llama_cpp_sha256=edge.llama_cpp_sha256,
        jetson_build_image=edge.jetson_build_image,
        jetson_runtime_image=edge.jetson_runtime_image,
        registry="ecr",
    )
    gpu_taint = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
    servers = []
    images: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = {}
    registry: dict = {}
    for fleet, image_name, tag, target, platforms, builders, selector, device in _fleets(edge):
        image = EdgeImage(
            ctx.child(image_name),
            EdgeImageArgs(**common, **registry, tag=tag, target=target, platforms=platforms, builders=builders),
            opts=ctx.opts(foundation.providers),
        )
        # Every fleet's image goes to the first one's repository (tags tell them apart).
        registry = registry or {"repository_url": image.repository_url, "cache_repository_url": image.cache_repository_url}
        images[fleet] = (image.ref, image.digest)
        for served in sorted(settings.models):
            servers.append(
                EdgeServer(
                    name=served if device is None else f"{served}-{fleet}",
                    fleet=fleet,
                    container=serving.container(settings, served, serving.size(settings, served, edge_device=device)),
                    image=image.ref,
                    node_selector=selector,
                    tolerations=gpu_taint if target != "cpu" else (),
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


def _fleets(edge) -> list[tuple]:
    """(fleet, image child, tag, target, platforms, builders, node selector, sizing device) of each fleet: the
    main target's, and a Jetson fleet's when edge.jetson is set."""
    fleets = [
        (edge.target, "edge-image", edge.image_tag, edge.target, tuple(edge.platforms), dict(edge.builders), edge.node_selector, None)
    ]
    if edge.jetson is not None:
        jet = edge.jetson
        fleets.append(
            (
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
