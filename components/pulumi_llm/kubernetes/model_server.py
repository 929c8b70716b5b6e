"""ModelServer: one model served on Kubernetes, from a ContainerSpec.

Children: a ServiceAccount (the hook for cloud pod identity), the workload (a Deployment, or a
LeaderWorkerSet group when one server needs more GPUs than a node has), a Service, a
PodDisruptionBudget and a NetworkPolicy that admits only the callers and the metrics scraper.
Kubernetes object names are the served model name; Pulumi names derive from the component's name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..labels import CommonLabels, kubernetes_labels
from ..naming import child
from ..runtimes.spec import ContainerSpec
from . import adapter_sync, credential_endpoints, render
from .credential_endpoints import CredentialEndpoint
from .resilience import REPLACE, Drain, Rollout, drain_args

LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
"""The LeaderWorkerSet API of the pinned controller (pins.LWS_CHART: kubernetes-sigs/lws tag v0.10.0,
api/leaderworkerset/v1/leaderworkerset_types.go). Every spec field render.leader_worker_set_spec writes is there:
`replicas`, `startupPolicy` (LeaderCreated|LeaderReady), `rolloutStrategy.type` (RollingUpdate) with
`rollingUpdateConfiguration.maxSurge`/`maxUnavailable`, `leaderWorkerTemplate.size`, `.restartPolicy`
(Default|RecreateGroupOnPodRestart|RecreateGroupAfterStart|None), `.leaderTemplate`, `.workerTemplate`."""


class ModelServerArgs(BaseModel):
    """What to serve, where, and who may call it."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    container: ContainerSpec = Field(description="The server container, from runtimes/ (vllm, triton, llamacpp).")
    namespace: str = Field(description="Namespace of every object.")
    labels: CommonLabels = Field(description="The stack's common labels.")
    replicas: int = Field(default=1, ge=0, description="Replicas at creation; an autoscaler owns the count afterwards. Default 1.")
    autoscaled: bool = Field(default=False, description="An autoscaler manages replicas: Pulumi leaves the count alone. Default false.")
    placement: render.Placement = Field(default_factory=render.Placement, description="GPU node selection and tolerations.")
    model_claim: str | None = Field(default=None, description="PersistentVolumeClaim holding the weights (mounted read-only at /models).")
    revision: str | None = Field(default=None, description="Revision of the weights, recorded on the pods. Default none.")
    clients: Sequence[Mapping[str, Any]] = Field(
        default=(), description="NetworkPolicy peers allowed to call the API (ingress controller, gateway). Default: nobody."
    )
    scrapers: Sequence[Mapping[str, Any]] = Field(default=(), description="NetworkPolicy peers allowed to scrape metrics.")
    object_store_egress: bool = Field(default=False, description="Allow HTTPS egress to stream weights from object storage.")
    credential_endpoints: Sequence[CredentialEndpoint] = Field(
        default=(),
        description="Node-local credential endpoints the pods' cloud identity needs (Pod Identity agent, GKE metadata server). Default none.",
    )
    service_account_annotations: Mapping[str, Any] = Field(
        default_factory=dict, description="Annotations binding the pods to a cloud identity (IRSA role, GCP service account)."
    )
    pod_labels: Mapping[str, str] = Field(
        default_factory=dict, description="Extra pod labels (e.g. azure.workload.identity/use). Default none."
    )
    env: Mapping[str, Any] = Field(
        default_factory=dict, description="Extra env vars valued from other resources (Inputs), e.g. the model bucket."
    )
    rollout: Rollout = Field(
        default=REPLACE,
        description="Rolling update (maxSurge/maxUnavailable, resilience.decide_rollout). Default: replace one replica at a time.",
    )
    drain: Drain = Field(
        default=render.DEFAULT_DRAIN,
        description="preStop sleep and termination grace (resilience.decide_drain). Default: streams of up to 3600 s (the ingress's timeout).",
    )


class ModelServer(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]
    workload_kind: str

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:ModelServer", name, None, opts)
        # SIGTERM drains the streams the grace period waits for, instead of aborting them (resilience.py).
        spec = dataclasses.replace(args.container, args=(*args.container.args, *drain_args(args.container.runtime, args.drain)))
        served = spec.served_name
        labels = {
            **kubernetes_labels(args.labels.with_model(served), component="model-server"),
            **render.selector_labels(served),
        }
        pod_labels = {**labels, **args.pod_labels, "pulumi-llm.dev/runtime": spec.runtime}
        annotations = {"pulumi-llm.dev/revision": args.revision} if args.revision else {}
        here = pulumi.ResourceOptions(parent=self)

        # The objects below are rendered as Kubernetes JSON (camelCase keys, plain dicts the tests read) and
        # cast to the SDK's snake_case *ArgsDict types: the provider sends a dict's keys as written.
        def meta(**extra: Any) -> k8s.meta.v1.ObjectMetaArgsDict:
            return cast(k8s.meta.v1.ObjectMetaArgsDict, {"name": served, "namespace": args.namespace, "labels": labels, **extra})

        account = k8s.core.v1.ServiceAccount(
            child(name, "sa"),
            metadata=meta(annotations=dict(args.service_account_annotations)) if args.service_account_annotations else meta(),
            automount_service_account_token=False,
            opts=here,
        )
        configs = [
            k8s.core.v1.ConfigMap(
                child(name, cm_name.removeprefix(served + "-")),
                metadata={**meta(), "name": cm_name},
                data=data,
                opts=here,
            )
            for cm_name, data in render.config_maps(spec).items()
        ]
        size = render.group_size(spec.resources.gpus, args.placement.gpus_per_node)
        # The autoscaler owns the replica count once it exists; re-applying ours would fight it.
        workload_opts = pulumi.ResourceOptions(
            parent=self, depends_on=[account, *configs], ignore_changes=["spec.replicas"] if args.autoscaled else None
        )
        if size == 1:
            self.workload_kind = "Deployment"
            deployment = render.deployment_spec(
                spec,
                replicas=args.replicas,
                labels=pod_labels,
                annotations=annotations,
                placement=args.placement,
                service_account=served,
                model_claim=args.model_claim,
                rollout=args.rollout,
                drain=args.drain,
            )
            # Values from other resources join the rendered env (Kubernetes expands $(VAR) in args).
            for container in deployment["template"]["spec"]["containers"]:
                container["env"] = [*({"name": k, "value": v} for k, v in sorted(args.env.items())), *container["env"]]
            # Adapters of streamed weights are copied into the pod before the server starts (adapter_sync.py).
            adapter_sync.attach(deployment["template"]["spec"], spec, args.env)
            deployment_args = cast(k8s.apps.v1.DeploymentSpecArgsDict, deployment)
            k8s.apps.v1.Deployment(child(name, "deployment"), metadata=meta(), spec=deployment_args, opts=workload_opts)
        else:
            assert args.placement.gpus_per_node is not None
            self.workload_kind = "LeaderWorkerSet"
            group = render.leader_worker_set_spec(
                spec,
                replicas=args.replicas,
                size=size,
                gpus_per_node=args.placement.gpus_per_node,
                labels=pod_labels,
                annotations=annotations,
                placement=args.placement,
                service_account=served,
                model_claim=args.model_claim,
                rollout=args.rollout,
                drain=args.drain,
            )
            template = group["leaderWorkerTemplate"]
            for role in ("leaderTemplate", "workerTemplate"):
                for container in template[role]["spec"]["containers"]:
                    container["env"] = [*({"name": k, "value": v} for k, v in sorted(args.env.items())), *container["env"]]
                adapter_sync.attach(template[role]["spec"], spec, args.env)  # every node loads the adapters
            k8s.apiextensions.CustomResource(
                child(name, "lws"), api_version=LWS_API_VERSION, kind="LeaderWorkerSet", metadata=meta(), spec=group, opts=workload_opts
            )
        service_spec = render.service_spec(spec)
        if size > 1:
            # Only group leaders (worker index 0, labelled by the LWS controller) serve the API.
            service_spec["selector"] = {**service_spec["selector"], "leaderworkerset.sigs.k8s.io/worker-index": "0"}
        service = k8s.core.v1.Service(
            child(name, "service"), metadata=meta(), spec=cast(k8s.core.v1.ServiceSpecArgsDict, service_spec), opts=here
        )
        pdb = cast(k8s.policy.v1.PodDisruptionBudgetSpecArgsDict, render.pdb_spec(served))
        k8s.policy.v1.PodDisruptionBudget(child(name, "pdb"), metadata=meta(), spec=pdb, opts=here)
        k8s.networking.v1.NetworkPolicy(
            child(name, "netpol"),
            metadata=meta(),
            spec=cast(
                k8s.networking.v1.NetworkPolicySpecArgsDict,
                render.network_policy_spec(
                    spec,
                    clients=args.clients,
                    scrapers=args.scrapers,
                    object_store_egress=args.object_store_egress,
                    multinode=size > 1,
                    credential_egress=credential_endpoints.egress_rules(args.credential_endpoints),
                ),
            ),
            opts=here,
        )
        port = spec.port(spec.http_port).container_port
        self.service_name = service.metadata.name
        self.url = pulumi.Output.concat("http://", service.metadata.name, ".", args.namespace, ".svc.cluster.local:", str(port))
        self.register_outputs({"service_name": self.service_name, "url": self.url})
