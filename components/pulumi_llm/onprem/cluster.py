"""OnPremCluster: pulumi-llm on a Kubernetes cluster you already run.

The cluster is yours; the component owns only what it installs, through the Kubernetes provider you
pass in `opts` (the platform builds it from a kubeconfig context): the NVIDIA GPU Operator (with
drivers: on-prem is the one place it installs them), ingress-nginx, KEDA, kube-prometheus-stack,
LeaderWorkerSet when a model spans nodes, prometheus-adapter for HPA scaling — each a pinned Helm
release that can be switched off where the cluster has its own — and then the models (ModelServing).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from .. import pins
from ..kubernetes import addons, autoscaling, render
from ..kubernetes.model_serving import ModelServing, ModelServingArgs
from ..labels import CommonLabels, kubernetes_labels
from ..naming import child

INGRESS_NGINX_NAMESPACE = "ingress-nginx"


class OnPremClusterArgs(BaseModel):
    """What to install on the cluster and what to serve."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    serving: ModelServingArgs = Field(description="The models and how they are served.")
    gpu_operator: bool = Field(default=True, description="Install the NVIDIA GPU Operator. Default true.")
    gpu_driver: bool = Field(default=True, description="Let the Operator install the NVIDIA driver. Default true.")
    ingress_nginx: bool = Field(default=True, description="Install ingress-nginx. Default true.")
    keda: bool = Field(default=True, description="Install KEDA. Default true.")
    prometheus: bool = Field(
        default=True, description="Install kube-prometheus-stack (Prometheus, Grafana, kube-state-metrics). Default true."
    )


class OnPremCluster(pulumi.ComponentResource):
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: OnPremClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:OnPremCluster", name, None, opts)
        labels = kubernetes_labels(args.labels)
        serving = args.serving
        monitor = args.prometheus  # ServiceMonitors need the Prometheus Operator's CRDs
        installs: list[tuple[str, pins.ChartPin, str, dict[str, Any], str]] = []
        if args.gpu_operator:
            installs.append(
                (
                    "gpu-operator",
                    pins.GPU_OPERATOR_CHART,
                    "gpu-operator",
                    addons.gpu_operator_values(driver=args.gpu_driver, service_monitor=monitor),
                    "privileged",
                )
            )
        if args.prometheus:
            installs.append(
                (
                    "prometheus",
                    pins.KUBE_PROMETHEUS_STACK_CHART,
                    addons.MONITORING_NAMESPACE,
                    addons.kube_prometheus_stack_values(),
                    "privileged",
                )
            )
        if args.ingress_nginx and serving.ingress is not None:
            installs.append(
                (
                    "ingress-nginx",
                    pins.INGRESS_NGINX_CHART,
                    INGRESS_NGINX_NAMESPACE,
                    addons.ingress_nginx_values(class_name=serving.ingress.class_name, service_monitor=monitor),
                    "baseline",
                )
            )
        if args.keda and serving.autoscaling_engine == "keda":
            installs.append(("keda", pins.KEDA_CHART, "keda", addons.keda_values(service_monitor=monitor), "restricted"))
        if serving.autoscaling_engine == "hpa":
            kv_cache = serving.scaling is not None and serving.scaling.kv_cache_target is not None
            rules = autoscaling.adapter_rules([m.container.metrics for m in serving.models], kv_cache=kv_cache)
            installs.append(
                (
                    "prometheus-adapter",
                    pins.PROMETHEUS_ADAPTER_CHART,
                    addons.MONITORING_NAMESPACE,
                    addons.prometheus_adapter_values(rules, serving.prometheus_url),
                    "privileged",
                )
            )
        gpus_per_node = serving.placement.gpus_per_node
        if any(render.group_size(m.container.resources.gpus, gpus_per_node) > 1 for m in serving.models):
            installs.append(("lws", pins.LWS_CHART, "lws-system", addons.lws_values(), "restricted"))

        namespaces: dict[str, k8s.core.v1.Namespace] = {}
        releases: list[pulumi.Resource] = []
        # kube-prometheus-stack first and every other release after it: with monitor on, the GPU Operator,
        # ingress-nginx and KEDA render ServiceMonitors, whose install fails with "no matches for kind
        # ServiceMonitor" whenever it comes before the Prometheus Operator's CRDs.
        installs.sort(key=lambda install: install[1] is not pins.KUBE_PROMETHEUS_STACK_CHART)
        crds: list[pulumi.Resource] = []
        for role, pin, namespace, values, pod_security in installs:
            if namespace not in namespaces:
                namespaces[namespace] = k8s.core.v1.Namespace(
                    child(name, f"{namespace}-ns"),
                    metadata={
                        "name": namespace,
                        "labels": {**labels, "pod-security.kubernetes.io/enforce": pod_security},
                    },
                    opts=pulumi.ResourceOptions(parent=self),
                )
            after = [namespaces[namespace], *crds]
            installed = addons.release(child(name, role), pin, namespace, values, pulumi.ResourceOptions(parent=self, depends_on=after))
            if pin is pins.KUBE_PROMETHEUS_STACK_CHART:
                crds.append(installed)
            releases.append(installed)

        models = ModelServing(
            child(name, "serving"),
            serving,
            # CRDs (ServiceMonitor, ScaledObject, LeaderWorkerSet) come with the releases.
            opts=pulumi.ResourceOptions(parent=self, depends_on=releases),
        )
        self.namespace = models.namespace
        self.register_outputs({"namespace": self.namespace})
