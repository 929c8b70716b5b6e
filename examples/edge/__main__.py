"""Llama 3.2 3B Instruct (Q4_K_M GGUF) on llama.cpp servers on an edge fleet of CPU boxes.

EdgeImage builds the llama.cpp server for linux/amd64 and linux/arm64 (one build per platform, each
with its own registry cache) and pushes one multi-arch index to an immutable, scanned ECR repository;
EdgeRollout runs it on every labelled node as a DaemonSet, by digest.
"""

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build
import pulumi_kubernetes as k8s
from pulumi_llm import (
    CommonLabels,
    EdgeImage,
    EdgeImageArgs,
    EdgeRollout,
    EdgeRolloutArgs,
    Hardware,
    cpu_host,
    fit,
    llamacpp_container,
    pins,
)
from pulumi_llm.edge.rollout import EdgeServer

config = pulumi.Config()
labels = CommonLabels(stack=pulumi.get_stack(), environment="edge", method="edge")

registry = aws.Provider("aws", region=config.require("region"))
builder = docker_build.Provider("docker-build")
fleet = k8s.Provider("edge-fleet", context=config.require("kube-context"), enable_server_side_apply=True)

image = EdgeImage(
    "llama-server",
    EdgeImageArgs(
        labels=labels,
        context=config.require("image-context"),
        repository="edge/llama-server",
        tag=config.require("image-tag"),
        llama_cpp_sha256=config.require("llama-cpp-sha256"),
        target="cpu",
        platforms=("linux/amd64", "linux/arm64"),
        builders={"linux/arm64": config.require("arm64-builder")},
    ),
    opts=pulumi.ResourceOptions(providers=[registry, builder]),
)

# Sized for the smallest box of the fleet: 16 GiB RAM, no GPU.
sized = fit("llama-3.2-3b-instruct", Hardware(cpu_host(16), count=1), quantization="q4_k_m", context=8192, runtime="llamacpp")
server = llamacpp_container(
    "llama-3b",
    sized,
    image=pins.LLAMA_CPP_SERVER.ref,  # replaced by the built image's digest below
    model_path="/models/llama-3-2-3b-q4_k_m.gguf",
)

EdgeRollout(
    "edge",
    EdgeRolloutArgs(
        labels=labels,
        servers=(
            EdgeServer(name="llama-3b", fleet="cpu", container=server, image=image.ref, node_selector={"pulumi-llm.dev/edge": "cpu"}),
        ),
    ),
    opts=pulumi.ResourceOptions(providers=[fleet]),
)

pulumi.export("image", image.ref)
