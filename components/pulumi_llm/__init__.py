"""pulumi-llm: Pulumi components that deploy Large Language Models four ways.

The public API is flat — ``from pulumi_llm import AwsGateway, AwsGatewayArgs`` — and lazy: a name's
module is imported the first time the name is used, so ``import pulumi_llm`` loads no cloud SDK and a
program that uses only AWS components never imports pulumi_gcp or pulumi_azure_native
(docs/ARCHITECTURE.md, "Lazy per-cloud imports"). The submodules (``pulumi_llm.gateway.aws`` …) stay
importable directly.

The version lives here (hatch reads it for the distribution) so that importing the package costs
no metadata scan.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name → the module that defines it. Changing or removing an entry is a breaking change
# (CHANGELOG.md, "Upgrade notes").
_EXPORTS: dict[str, str] = {
    # The whole platform, as this repository's stacks use it.
    "LlmPlatform": "pulumi_llm.platform",
    "LlmPlatformArgs": "pulumi_llm.platform",
    # gateway: one OpenAI-compatible endpoint in front of providers and self-hosted models.
    "AwsGateway": "pulumi_llm.gateway.aws",
    "AwsGatewayArgs": "pulumi_llm.gateway.aws",
    "GcpGateway": "pulumi_llm.gateway.gcp",
    "GcpGatewayArgs": "pulumi_llm.gateway.gcp",
    "AzureGateway": "pulumi_llm.gateway.azure",
    "AzureGatewayArgs": "pulumi_llm.gateway.azure",
    "GatewaySpec": "pulumi_llm.gateway.config",
    "ModelGroup": "pulumi_llm.gateway.config",
    "ProviderRoute": "pulumi_llm.gateway.config",
    "TimeoutBudget": "pulumi_llm.gateway.config",
    "render_litellm_config": "pulumi_llm.gateway.config",
    "secret_envs": "pulumi_llm.gateway.config",
    "to_yaml": "pulumi_llm.gateway.config",
    # gpu-vm: a model server on GPU instances behind a load balancer.
    "AwsGpuVm": "pulumi_llm.gpu_vm.aws",
    "AwsGpuVmArgs": "pulumi_llm.gpu_vm.aws",
    "GcpGpuVm": "pulumi_llm.gpu_vm.gcp",
    "GcpGpuVmArgs": "pulumi_llm.gpu_vm.gcp",
    "AzureGpuVm": "pulumi_llm.gpu_vm.azure",
    "AzureGpuVmArgs": "pulumi_llm.gpu_vm.azure",
    # cluster: managed Kubernetes with GPU capacity.
    "EksCluster": "pulumi_llm.cluster.eks",
    "EksClusterArgs": "pulumi_llm.cluster.eks",
    "GkeCluster": "pulumi_llm.cluster.gke",
    "GkeClusterArgs": "pulumi_llm.cluster.gke",
    "AksCluster": "pulumi_llm.cluster.aks",
    "AksClusterArgs": "pulumi_llm.cluster.aks",
    # onprem: model servers on a cluster you already run.
    "OnPremCluster": "pulumi_llm.onprem.cluster",
    "OnPremClusterArgs": "pulumi_llm.onprem.cluster",
    # Kubernetes serving, shared by onprem and the managed clusters.
    "ModelServing": "pulumi_llm.kubernetes.model_serving",
    "ModelServingArgs": "pulumi_llm.kubernetes.model_serving",
    "ServedModel": "pulumi_llm.kubernetes.model_serving",
    "IngressOptions": "pulumi_llm.kubernetes.model_serving",
    "ModelServer": "pulumi_llm.kubernetes.model_server",
    "ModelServerArgs": "pulumi_llm.kubernetes.model_server",
    "ModelCopy": "pulumi_llm.kubernetes.model_copy",
    "ModelCopyArgs": "pulumi_llm.kubernetes.model_copy",
    "CopySpec": "pulumi_llm.kubernetes.model_copy",
    "ModelRouter": "pulumi_llm.kubernetes.router",
    "ModelRouterArgs": "pulumi_llm.kubernetes.router",
    "InferenceGateway": "pulumi_llm.kubernetes.inference_gateway",
    "InferenceGatewayArgs": "pulumi_llm.kubernetes.inference_gateway",
    "Autoscaling": "pulumi_llm.kubernetes.autoscaling",
    "AutoscalingArgs": "pulumi_llm.kubernetes.autoscaling",
    "ScalingPolicy": "pulumi_llm.kubernetes.autoscaling",
    "Placement": "pulumi_llm.kubernetes.render",
    # edge: multi-arch llama.cpp images and their rollout to edge nodes.
    "EdgeImage": "pulumi_llm.edge.image",
    "EdgeImageArgs": "pulumi_llm.edge.image",
    "EdgeRollout": "pulumi_llm.edge.rollout",
    "EdgeRolloutArgs": "pulumi_llm.edge.rollout",
    # Building blocks: networks, model stores, keys and secrets, alarms.
    "AwsNetwork": "pulumi_llm.network.aws",
    "AwsNetworkArgs": "pulumi_llm.network.aws",
    "GcpNetwork": "pulumi_llm.network.gcp",
    "GcpNetworkArgs": "pulumi_llm.network.gcp",
    "AzureNetwork": "pulumi_llm.network.azure",
    "AzureNetworkArgs": "pulumi_llm.network.azure",
    "AwsModelStore": "pulumi_llm.storage.aws",
    "AwsModelStoreArgs": "pulumi_llm.storage.aws",
    "GcpModelStore": "pulumi_llm.storage.gcp",
    "GcpModelStoreArgs": "pulumi_llm.storage.gcp",
    "AzureModelStore": "pulumi_llm.storage.azure",
    "AzureModelStoreArgs": "pulumi_llm.storage.azure",
    "AwsStackKey": "pulumi_llm.security.aws",
    "AwsStackKeyArgs": "pulumi_llm.security.aws",
    "AwsHubTokenSecret": "pulumi_llm.security.aws",
    "AwsHubTokenSecretArgs": "pulumi_llm.security.aws",
    "GcpHubTokenSecret": "pulumi_llm.security.gcp",
    "AzureKeyVault": "pulumi_llm.security.azure",
    "AzureKeyVaultArgs": "pulumi_llm.security.azure",
    "AwsMonitoring": "pulumi_llm.monitoring.aws",
    "AwsMonitoringArgs": "pulumi_llm.monitoring.aws",
    # Runtimes: the container every platform runs (pure).
    "ContainerSpec": "pulumi_llm.runtimes.spec",
    "VllmOptions": "pulumi_llm.runtimes.vllm",
    "Weights": "pulumi_llm.runtimes.vllm",
    "vllm_container": "pulumi_llm.runtimes.vllm",
    "triton_container": "pulumi_llm.runtimes.triton",
    "llamacpp_container": "pulumi_llm.runtimes.llamacpp",
    # Sizing: will it fit, with which settings, how fast, at what cost (pure).
    "Hardware": "pulumi_llm.sizing",
    "ModelSpec": "pulumi_llm.sizing",
    "FitResult": "pulumi_llm.sizing",
    "fit": "pulumi_llm.sizing",
    "choose_instance": "pulumi_llm.sizing",
    "fitting_instances": "pulumi_llm.sizing",
    "startup_probe_budget": "pulumi_llm.sizing",
    "estimate_throughput": "pulumi_llm.sizing",
    "compare_costs": "pulumi_llm.sizing",
    "get_model": "pulumi_llm.sizing",
    "get_accelerator": "pulumi_llm.sizing",
    "get_instance_type": "pulumi_llm.sizing",
    "cpu_host": "pulumi_llm.sizing",
    # Shared contracts.
    "CommonLabels": "pulumi_llm.labels",
    "UserError": "pulumi_llm.errors",
}

# Old public name → its name since 0.2.0 (docs/ARCHITECTURE.md, "Names"): still served, with a
# DeprecationWarning, until 0.3.0 (CHANGELOG.md, "Deprecated"). Not in __all__, so `import *` doesn't warn.
_RENAMED: dict[str, str] = {
    "ModelStore": "AwsModelStore",
    "ModelStoreArgs": "AwsModelStoreArgs",
    "StackKey": "AwsStackKey",
    "StackKeyArgs": "AwsStackKeyArgs",
    "HubTokenSecret": "AwsHubTokenSecret",
    "HubTokenSecretArgs": "AwsHubTokenSecretArgs",
}

# Spelled out, not derived from _EXPORTS, so that type checkers see the re-exports (a computed __all__ is
# opaque to them); tests/unit/test_packaging.py keeps it equal to ["__version__", *_EXPORTS].
__all__ = [
    "__version__",
    # The whole platform, as this repository's stacks use it.
    "LlmPlatform",
    "LlmPlatformArgs",
    # gateway: one OpenAI-compatible endpoint in front of providers and self-hosted models.
    "AwsGateway",
    "AwsGatewayArgs",
    "GcpGateway",
    "GcpGatewayArgs",
    "AzureGateway",
    "AzureGatewayArgs",
    "GatewaySpec",
    "ModelGroup",
    "ProviderRoute",
    "TimeoutBudget",
    "render_litellm_config",
    "secret_envs",
    "to_yaml",
    # gpu-vm: a model server on GPU instances behind a load balancer.
    "AwsGpuVm",
    "AwsGpuVmArgs",
    "GcpGpuVm",
    "GcpGpuVmArgs",
    "AzureGpuVm",
    "AzureGpuVmArgs",
    # cluster: managed Kubernetes with GPU capacity.
    "EksCluster",
    "EksClusterArgs",
    "GkeCluster",
    "GkeClusterArgs",
    "AksCluster",
    "AksClusterArgs",
    # onprem: model servers on a cluster you already run.
    "OnPremCluster",
    "OnPremClusterArgs",
    # Kubernetes serving, shared by onprem and the managed clusters.
    "ModelServing",
    "ModelServingArgs",
    "ServedModel",
    "IngressOptions",
    "ModelServer",
    "ModelServerArgs",
    "ModelCopy",
    "ModelCopyArgs",
    "CopySpec",
    "ModelRouter",
    "ModelRouterArgs",
    "InferenceGateway",
    "InferenceGatewayArgs",
    "Autoscaling",
    "AutoscalingArgs",
    "ScalingPolicy",
    "Placement",
    # edge: multi-arch llama.cpp images and their rollout to edge nodes.
    "EdgeImage",
    "EdgeImageArgs",
    "EdgeRollout",
    "EdgeRolloutArgs",
    # Building blocks: networks, model stores, keys and secrets, alarms.
    "AwsNetwork",
    "AwsNetworkArgs",
    "GcpNetwork",
    "GcpNetworkArgs",
    "AzureNetwork",
    "AzureNetworkArgs",
    "AwsModelStore",
    "AwsModelStoreArgs",
    "GcpModelStore",
    "GcpModelStoreArgs",
    "AzureModelStore",
    "AzureModelStoreArgs",
    "AwsStackKey",
    "AwsStackKeyArgs",
    "AwsHubTokenSecret",
    "AwsHubTokenSecretArgs",
    "GcpHubTokenSecret",
    "AzureKeyVault",
    "AzureKeyVaultArgs",
    "AwsMonitoring",
    "AwsMonitoringArgs",
    # Runtimes: the container every platform runs (pure).
    "ContainerSpec",
    "VllmOptions",
    "Weights",
    "vllm_container",
    "triton_container",
    "llamacpp_container",
    # Sizing: will it fit, with which settings, how fast, at what cost (pure).
    "Hardware",
    "ModelSpec",
    "FitResult",
    "fit",
    "choose_instance",
    "fitting_instances",
    "startup_probe_budget",
    "estimate_throughput",
    "compare_costs",
    "get_model",
    "get_accelerator",
    "get_instance_type",
    "cpu_host",
    # Shared contracts.
    "CommonLabels",
    "UserError",
]


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        from .deprecated import warn_renamed

        warn_renamed(f"pulumi_llm.{name}", f"pulumi_llm.{_RENAMED[name]}")
        return __getattr__(_RENAMED[name])
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pulumi_llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from .cluster.aks import AksCluster, AksClusterArgs
    from .cluster.eks import EksCluster, EksClusterArgs
    from .cluster.gke import GkeCluster, GkeClusterArgs
    from .edge.image import EdgeImage, EdgeImageArgs
    from .edge.rollout import EdgeRollout, EdgeRolloutArgs
    from .errors import UserError
    from .gateway.aws import AwsGateway, AwsGatewayArgs
    from .gateway.azure import AzureGateway, AzureGatewayArgs
    from .gateway.config import (
        GatewaySpec,
        ModelGroup,
        ProviderRoute,
        TimeoutBudget,
        render_litellm_config,
        secret_envs,
        to_yaml,
    )
    from .gateway.gcp import GcpGateway, GcpGatewayArgs
    from .gpu_vm.aws import AwsGpuVm, AwsGpuVmArgs
    from .gpu_vm.azure import AzureGpuVm, AzureGpuVmArgs
    from .gpu_vm.gcp import GcpGpuVm, GcpGpuVmArgs
    from .kubernetes.autoscaling import Autoscaling, AutoscalingArgs, ScalingPolicy
    from .kubernetes.inference_gateway import InferenceGateway, InferenceGatewayArgs
    from .kubernetes.model_copy import CopySpec, ModelCopy, ModelCopyArgs
    from .kubernetes.model_server import ModelServer, ModelServerArgs
    from .kubernetes.model_serving import IngressOptions, ModelServing, ModelServingArgs, ServedModel
    from .kubernetes.render import Placement
    from .kubernetes.router import ModelRouter, ModelRouterArgs
    from .labels import CommonLabels
    from .monitoring.aws import AwsMonitoring, AwsMonitoringArgs
    from .network.aws import AwsNetwork, AwsNetworkArgs
    from .network.azure import AzureNetwork, AzureNetworkArgs
    from .network.gcp import GcpNetwork, GcpNetworkArgs
    from .onprem.cluster import OnPremCluster, OnPremClusterArgs
    from .platform import LlmPlatform, LlmPlatformArgs
    from .runtimes.llamacpp import llamacpp_container
    from .runtimes.spec import ContainerSpec
    from .runtimes.triton import triton_container
    from .runtimes.vllm import VllmOptions, Weights, vllm_container
    from .security.aws import AwsHubTokenSecret, AwsHubTokenSecretArgs, AwsStackKey, AwsStackKeyArgs
    from .security.azure import AzureKeyVault, AzureKeyVaultArgs
    from .security.gcp import GcpHubTokenSecret
    from .sizing import (
        FitResult,
        Hardware,
        ModelSpec,
        choose_instance,
        compare_costs,
        cpu_host,
        estimate_throughput,
        fit,
        fitting_instances,
        get_accelerator,
        get_instance_type,
        get_model,
        startup_probe_budget,
    )
    from .storage.aws import AwsModelStore, AwsModelStoreArgs
    from .storage.azure import AzureModelStore, AzureModelStoreArgs
    from .storage.gcp import GcpModelStore, GcpModelStoreArgs
