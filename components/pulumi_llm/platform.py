"""LlmPlatform: the component that composes the methods a stack enables.

Per-cloud code is imported inside the branch that needs it, so an on-prem stack never imports a
cloud SDK and an AWS stack never imports pulumi_gcp or pulumi_azure_native (DESIGN.md convention 5).
Every provider is created here, explicitly, and handed down through `opts`; stacks set
`pulumi:disable-default-providers: ["*"]`, so a child that misses its provider fails the plan.
"""

from __future__ import annotations

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from .labels import CommonLabels
from .naming import child
from .settings import Settings


class LlmPlatformArgs(BaseModel):
    """What the platform needs: the validated settings and the stack it runs in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: Settings = Field(description="The validated stack settings.")
    stack: str = Field(description="The Pulumi stack name, for labels and globally unique names.")


class LlmPlatform(pulumi.ComponentResource):
    """Everything one stack deploys."""

    model_bucket: pulumi.Output[str] | None
    namespace: pulumi.Output[str] | None

    def __init__(self, name: str, args: LlmPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:LlmPlatform", name, None, opts)
        settings = args.settings
        labels = CommonLabels(stack=args.stack, environment=settings.environment, extra=dict(settings.tags))
        self.model_bucket = None
        self.namespace = None
        outputs: dict[str, pulumi.Input[str]] = {}

        if settings.cloud == "aws" and settings.models:
            import pulumi_aws as aws

            from .storage.aws import ModelStore, ModelStoreArgs

            provider = aws.Provider(child(name, "aws"), region=settings.region, opts=pulumi.ResourceOptions(parent=self))
            store = ModelStore(
                child(name, "models"),
                ModelStoreArgs(labels=labels, alias=f"alias/pulumi-llm/{args.stack}/models"),
                opts=pulumi.ResourceOptions(parent=self, providers=[provider]),
            )
            self.model_bucket = store.bucket_name
            outputs["model_bucket"] = store.bucket_name

        if "onprem" in settings.methods and settings.onprem is not None:
            import pulumi_kubernetes as k8s

            from . import serving
            from .kubernetes import addons, render
            from .kubernetes.model_serving import IngressOptions, ModelServingArgs
            from .onprem import OnPremCluster, OnPremClusterArgs

            onprem = settings.onprem
            provider = k8s.Provider(
                child(name, "onprem-k8s"),
                context=onprem.kube_context,
                kubeconfig=onprem.kubeconfig,
                # Server-side apply: field ownership is tracked by the API server, as kubectl does.
                enable_server_side_apply=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            onprem_labels = labels.with_method("onprem")
            ingress = onprem.ingress
            cluster = OnPremCluster(
                child(name, "onprem"),
                OnPremClusterArgs(
                    labels=onprem_labels,
                    gpu_operator=onprem.gpu_operator.install,
                    gpu_driver=onprem.gpu_operator.driver,
                    ingress_nginx=ingress.install,
                    keda=onprem.keda.install,
                    prometheus=onprem.prometheus.install,
                    serving=ModelServingArgs(
                        namespace=onprem.namespace,
                        labels=onprem_labels,
                        models=serving.served_models(settings),
                        # GPU Feature Discovery (with the Operator) labels GPU nodes; the taint keeps
                        # other pods off them, so model servers tolerate it.
                        placement=render.Placement(
                            node_selector={"nvidia.com/gpu.present": "true"}, gpus_per_node=onprem.gpus.per_node
                        ),
                        autoscaling_engine=settings.serving.autoscaling.engine,
                        scaling=serving.scaling_policy(settings),
                        prometheus_url=onprem.prometheus.url or addons.prometheus_url(),
                        alerts=serving.alert_thresholds(settings),
                        ingress=IngressOptions(class_name=ingress.class_name, host=ingress.host, tls_secret=ingress.tls_secret),
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[provider]),
            )
            self.namespace = cluster.namespace
            outputs["namespace"] = cluster.namespace

        self.register_outputs(outputs)
