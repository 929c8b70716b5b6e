"""Llama 3.1 8B Instruct on vLLM on a Kubernetes cluster you already run.

OnPremCluster installs the GPU Operator, ingress-nginx, KEDA and kube-prometheus-stack (pinned Helm
releases) and serves the model in a restricted, default-deny namespace, scaled on its request queue.
"""

import pulumi
import pulumi_kubernetes as k8s
from pulumi_llm import (
    CommonLabels,
    Hardware,
    IngressOptions,
    ModelServingArgs,
    OnPremCluster,
    OnPremClusterArgs,
    Placement,
    ScalingPolicy,
    ServedModel,
    VllmOptions,
    Weights,
    fit,
    get_accelerator,
    pins,
    vllm_container,
)

config = pulumi.Config()
labels = CommonLabels(stack=pulumi.get_stack(), environment="lab", method="onprem")
served = "llama-8b"

# Sizing picks tensor parallelism, context and concurrency for the GPU; the container follows from it.
sized = fit("llama-3.1-8b-instruct", Hardware(get_accelerator(config.require("gpu")), count=1), context=8192)
container = vllm_container(
    served,
    sized,
    Weights("volume", f"/models/{config.require('weights-path')}"),
    VllmOptions(image=pins.VLLM_OPENAI.ref),  # vLLM pinned by version and digest
)
max_replicas = config.require_int("max-replicas")

# The one provider every child uses; nothing falls back to the ambient kubeconfig's current context.
cluster_provider = k8s.Provider("gpu-lab", context=config.require("kube-context"), enable_server_side_apply=True)

cluster = OnPremCluster(
    "lab",
    OnPremClusterArgs(
        labels=labels,
        serving=ModelServingArgs(
            namespace=config.require("namespace"),
            labels=labels,
            models=[
                ServedModel(
                    container=container,
                    replicas_min=1,
                    replicas_max=max_replicas,
                    model_claim=config.require("weights-claim"),
                    revision=config.require("revision"),
                )
            ],
            placement=Placement(node_selector={"nvidia.com/gpu.present": "true"}, gpus_per_node=config.require_int("gpus-per-node")),
            scaling=ScalingPolicy(min_replicas=1, max_replicas=max_replicas),
            prometheus_url="http://kps-prometheus.monitoring.svc.cluster.local:9090",
            ingress=IngressOptions(class_name="nginx", host=config.require("host")),
        ),
    ),
    opts=pulumi.ResourceOptions(providers=[cluster_provider]),
)

pulumi.export("namespace", cluster.namespace)
