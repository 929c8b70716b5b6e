"""ModelServing: the models of a stack on one Kubernetes cluster, with autoscaling and monitoring.

Shared by every method that self-hosts on Kubernetes (on-prem, EKS, GKE, AKS): a namespace that
enforces the `restricted` Pod Security Standard and denies all traffic by default, then per model a
ModelServer, an Ingress (streaming-friendly), an autoscaler on the queue, and a ServiceMonitor; once
for all models a PrometheusRule with the LLM alerts and the Grafana dashboards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..as_given import as_given
from ..labels import CommonLabels, kubernetes_labels
from ..naming import child
from ..runtimes.spec import ContainerSpec
from . import autoscaling, observability_rules, render
from .credential_endpoints import CredentialEndpoint
from .model_copy import ModelCopy, ModelCopyArgs
from .model_server import LWS_API_VERSION, ModelServer, ModelServerArgs
from .resilience import REPLACE, Drain, Rollout
from .router import ModelRouter, ModelRouterArgs, decide_router, router_dashboard_data, router_http_port, router_service, router_workers
from .router_render import RouterOptions, decide_max_tree_size

SERVICE_MONITOR_API_VERSION = "monitoring.coreos.com/v1"
GMP_API_VERSION = "monitoring.googleapis.com/v1"
"""Managed Service for Prometheus (GKE): PodMonitoring and Rules instead of the Prometheus Operator's kinds."""


@as_given
@dataclass(frozen=True)
class ServedModel:
    """One model as the cluster runs it."""

    container: ContainerSpec
    replicas_min: int
    replicas_max: int
    model_claim: str | None = None
    revision: str | None = None
    object_store: bool = False
    service_account_annotations: Mapping[str, Any] = field(default_factory=dict[str, Any])
    pod_labels: Mapping[str, str] = field(default_factory=dict[str, str])
    copy: Any = None
    """A `model_copy.CopySpec`: copy the weights from the hub once, before the server starts."""
    copy_depends_on: Sequence[Any] = ()
    """Resources the copy Job waits for (its pod identity)."""
    copy_service_account_annotations: Mapping[str, Any] = field(default_factory=dict[str, Any])
    """Annotations of the copy Job's service account (GKE: the Google service account it acts as)."""
    env: Mapping[str, Any] = field(default_factory=dict[str, Any])
    """Extra environment variables whose values come from other resources (pulumi Inputs), e.g. the
    model bucket that the server's positional model argument `s3://$(MODEL_BUCKET)/…` expands
    (`vllm serve MODEL`; Kubernetes expands $(VAR) in args)."""
    rollout: Rollout = REPLACE
    """Its rolling update (serving.rollout: surge where the cluster's GPU cap has room)."""
    drain: Drain = render.DEFAULT_DRAIN
    """Its preStop sleep and termination grace (serving.drain: the longest stream the stack allows)."""
    kv_tokens: int | None = None
    """Tokens one replica's KV cache holds (sizing); its router's prefix tree is sized from it
    (router_render.decide_max_tree_size). None: the router's `max_tree_size` as set."""


INGRESS_NGINX_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/use-regex": "true",
    "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
    # Tokens reach the client as they are generated; long generations are not cut off.
    "nginx.ingress.kubernetes.io/proxy-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
}


@as_given
@dataclass(frozen=True)
class IngressOptions:
    """How the models are exposed. ingress-nginx routes `/<model>/v1/…` on one host (rewriting the
    prefix); an ALB can't rewrite paths, so it routes by host: `<model>.<host>`."""

    class_name: str
    host: str | None = None
    tls_secret: str | None = None
    style: Literal["nginx", "alb"] = "nginx"
    annotations: Mapping[str, str | pulumi.Output[str]] = field(default_factory=lambda: dict(INGRESS_NGINX_ANNOTATIONS))
    peers: Sequence[Mapping[str, Any]] = ({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},)
    """NetworkPolicy peers the ingress traffic arrives from (the controller's pods, or the VPC for an ALB)."""


class ModelServingArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    namespace: str = Field(description="Namespace of the model servers: created, or labelled when `namespace_exists`.")
    namespace_exists: bool = Field(
        default=False,
        description="The namespace is the user's (made before `pulumi up` with claims and Secrets the servers read): "
        "set its labels by server-side apply, never create or delete it. Default false: create it.",
    )
    labels: CommonLabels = Field(description="The stack's common labels.")
    models: Sequence[ServedModel] = Field(description="The models to serve.")
    placement: render.Placement = Field(default_factory=render.Placement, description="GPU node selection.")
    autoscaling_engine: Literal["keda", "hpa", "none"] = Field(default="keda", description="Autoscaler kind. Default keda.")
    scaling: autoscaling.ScalingPolicy | None = Field(default=None, description="Timings and thresholds (bounds come per model).")
    prometheus_url: str = Field(description="Prometheus that KEDA queries.")
    monitoring_namespace: str = Field(default="monitoring", description="Namespace of the Prometheus that scrapes the servers.")
    metrics_api: Literal["prometheus-operator", "gmp"] = Field(
        default="prometheus-operator",
        description="ServiceMonitor + PrometheusRule, or (GKE Managed Service for Prometheus) PodMonitoring + Rules. Default prometheus-operator.",
    )
    trigger_authentication: Mapping[str, str] | None = Field(
        default=None, description="{kind, name} of the KEDA (Cluster)TriggerAuthentication for Prometheus queries. Default none."
    )
    alerts: observability_rules.AlertThresholds = Field(
        default_factory=observability_rules.AlertThresholds, description="Alert thresholds."
    )
    ingress: IngressOptions | None = Field(default=None, description="Expose each model through this ingress class. Default: not exposed.")
    extra_clients: Sequence[Mapping[str, Any]] = Field(
        default=(), description="More NetworkPolicy peers allowed to call the models (e.g. the gateway)."
    )
    credential_endpoints: Sequence[CredentialEndpoint] = Field(
        default=(),
        description="Node-local endpoints the servers' and copy Jobs' cloud identity is served from (EKS Pod Identity "
        "agent, GKE metadata server), let out by their NetworkPolicies. Default none (AKS: tokens go to Entra on 443).",
    )
    router: RouterOptions | None = Field(
        default=None,
        description="Put the vLLM router (kubernetes/router.py) in front of each vLLM model's replicas: the Ingress and `urls` "
        "lead to it and only it may call the servers. Default none (the model's Service).",
    )
    server_depends_on: Sequence[pulumi.Resource] = Field(
        default=(), description="Resources the servers wait for (e.g. pod identity associations: credentials need them first)."
    )


def ingress_spec(served_name: str, port: int, options: IngressOptions, service: str | None = None) -> dict[str, Any]:
    """`service`: a router's Service in front of the model's; then only `/v1/…` is forwarded (the router's
    worker-management routes share its port)."""
    backend = {"service": {"name": service or served_name, "port": {"number": port}}}
    host = options.host
    if options.style == "nginx":
        # `/<model>/v1/...` on the shared host, rewritten to the server's `/v1/...` (the 2nd group).
        prefix = f"/{served_name}(/)(v1/.*)" if service else f"/{served_name}(/|$)(.*)"
        path = {"path": prefix, "pathType": "ImplementationSpecific", "backend": backend}
    else:
        path = {"path": "/v1/" if service else "/", "pathType": "Prefix", "backend": backend}
        host = f"{served_name}.{host}" if host else None
    rule: dict[str, Any] = {"http": {"paths": [path]}}
    if host:
        rule["host"] = host
    spec: dict[str, Any] = {"ingressClassName": options.class_name, "rules": [rule]}
    if options.tls_secret and host:
        spec["tls"] = [{"hosts": [host], "secretName": options.tls_secret}]
    return spec


def _ingress_address(status: Any) -> str:
    """Hostname or IP of an Ingress's load balancer, once the controller has set it ('' before)."""
    entries = render.load_balancer_ingress(status)
    if not entries:
        return ""
    return str(entries[0].get("hostname") or entries[0].get("ip") or "")


def pod_monitoring_spec(spec: ContainerSpec) -> dict[str, Any]:
    """GMP PodMonitoring: scrape the server pods' metrics port (a container port name) directly."""
    return {
        "selector": {"matchLabels": render.selector_labels(spec.served_name)},
        "endpoints": [{"port": spec.metrics_port, "path": spec.metrics_path, "interval": "15s"}],
    }


def service_monitor_spec(spec: ContainerSpec) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": render.selector_labels(spec.served_name)},
        "endpoints": [{"port": spec.metrics_port, "path": spec.metrics_path, "interval": "15s"}],
    }


@dataclass(frozen=True)
class _Namespace:
    """What every model's resources build on: the component's name and args, the namespace resource, options
    that wait for it, the common labels, and the peers the servers admit (clients) and are scraped by."""

    name: str
    args: ModelServingArgs
    namespace: pulumi.Resource
    in_ns: pulumi.ResourceOptions
    common: dict[str, str]
    clients: list[Mapping[str, Any]]
    scrapers: list[Mapping[str, Any]]


class ModelServing(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:ModelServing", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        ns_labels = kubernetes_labels(args.labels)
        ns_labels.update({f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")})
        # A user's namespace is patched, not created: pulumi-kubernetes refuses to create one that exists, and
        # the claims and Secrets the servers read must be in it before the first run.
        make = k8s.core.v1.NamespacePatch if args.namespace_exists else k8s.core.v1.Namespace
        namespace = make(child(name, "ns"), metadata={"name": args.namespace, "labels": ns_labels}, opts=here)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        common = kubernetes_labels(args.labels)
        # Specs are rendered as Kubernetes JSON (camelCase keys, plain dicts the tests read) and cast to the
        # SDK's snake_case *ArgsDict types: the provider sends a dict's keys as written.
        k8s.networking.v1.NetworkPolicy(
            child(name, "default-deny"),
            metadata={"name": "default-deny", "namespace": args.namespace, "labels": common},
            spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, render.default_deny_spec()),
            opts=in_ns,
        )

        clients: list[Mapping[str, Any]] = list(args.extra_clients)
        if args.ingress is not None:
            clients.extend(args.ingress.peers)
        scrapers: list[Mapping[str, Any]] = [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.monitoring_namespace}}}
        ]
        d = _Namespace(name=name, args=args, namespace=namespace, in_ns=in_ns, common=common, clients=clients, scrapers=scrapers)
        self.urls = {}
        self.ingress_addresses: dict[str, pulumi.Output[str]] = {}
        servers = [self._serve(d, model) for model in args.models]
        if servers:
            self._alerts_and_dashboards(d, servers)
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace, **{f"url_{k}": v for k, v in self.urls.items()}})

    def _serve(self, d: _Namespace, model: ServedModel) -> observability_rules.ServerMetrics:
        """One model: its copy job (if any), server, Ingress, autoscaling and monitor; returns what its alerts need."""
        name, args = d.name, d.args
        spec = model.container
        served = spec.served_name
        model_labels = kubernetes_labels(args.labels.with_model(served), component="model-server")
        autoscaled = args.autoscaling_engine != "none" and model.replicas_max > model.replicas_min
        waits: list[pulumi.Resource] = [d.namespace, *args.server_depends_on]
        if model.copy is not None:
            copy = ModelCopy(
                child(name, f"{served}-copy"),
                ModelCopyArgs(
                    spec=model.copy,
                    namespace=args.namespace,
                    labels={**model_labels, "app.kubernetes.io/component": "model-copy"},
                    env=dict(model.env),
                    service_account=f"copy-{served}",
                    service_account_annotations=dict(model.copy_service_account_annotations),
                    credential_endpoints=tuple(args.credential_endpoints),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[d.namespace, *model.copy_depends_on]),
            )
            waits.append(copy.job)
        server = ModelServer(
            child(name, served),
            ModelServerArgs(
                container=spec,
                namespace=args.namespace,
                labels=args.labels,
                replicas=max(model.replicas_min, 1),
                autoscaled=autoscaled,
                placement=args.placement,
                model_claim=model.model_claim,
                revision=model.revision,
                clients=[rr_peer] if (rr_peer := decide_router(args.router, spec)) else d.clients,
                scrapers=d.scrapers,
                object_store_egress=model.object_store,
                credential_endpoints=args.credential_endpoints,
                service_account_annotations=model.service_account_annotations,
                pod_labels=model.pod_labels,
                env=model.env,
                rollout=model.rollout,
                drain=model.drain,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )
        self.urls[served] = server.url
        router = self._router(d, model, server, model_labels) if rr_peer else None
        if router is not None:
            self.urls[served] = router.url
        port = spec.port(spec.http_port).container_port
        if args.ingress is not None:
            self._ingress(d, served, port, model_labels, args.ingress, routed=router is not None)
        scales_to_zero = False
        if autoscaled or (args.scaling is not None and args.scaling.scale_to_zero):
            scales_to_zero = self._autoscaling(d, model, server, model_labels)
        gmp = args.metrics_api == "gmp"
        k8s.apiextensions.CustomResource(
            child(name, f"{served}-monitor"),
            api_version=GMP_API_VERSION if gmp else SERVICE_MONITOR_API_VERSION,
            kind="PodMonitoring" if gmp else "ServiceMonitor",
            metadata={"name": served, "namespace": args.namespace, "labels": model_labels},
            spec=pod_monitoring_spec(spec) if gmp else service_monitor_spec(spec),
            opts=d.in_ns,
        )
        return observability_rules.ServerMetrics.from_container(
            spec, namespace=args.namespace, service=served, scales_to_zero=scales_to_zero
        )

    def _router(self, d: _Namespace, model: ServedModel, server: ModelServer, model_labels: dict[str, str]) -> ModelRouter:
        """The model's router (kubernetes/router.py): the clients call it, it calls the model's pods."""
        args = d.args
        assert args.router is not None
        spec = model.container
        return ModelRouter(
            child(d.name, f"{spec.served_name}-router"),
            ModelRouterArgs(
                served_name=spec.served_name,
                namespace=args.namespace,
                labels={**model_labels, "app.kubernetes.io/component": "router"},
                options=dataclasses.replace(args.router, max_tree_size=decide_max_tree_size(model.kv_tokens, args.router.max_tree_size)),
                workers=router_workers(spec, args.namespace, server.workload_kind),
                clients=d.clients,
                scrapers=d.scrapers,
                metrics_api=args.metrics_api,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[d.namespace]),
        )

    def _ingress(
        self, d: _Namespace, served: str, port: int, model_labels: dict[str, str], options: IngressOptions, *, routed: bool = False
    ) -> None:
        """The model's Ingress to its server's HTTP port."""
        ingress = k8s.networking.v1.Ingress(
            child(d.name, f"{served}-ingress"),
            metadata={
                "name": served,
                "namespace": d.args.namespace,
                "labels": model_labels,
                "annotations": dict(options.annotations),
            },
            spec=cast(
                k8s.networking.v1.IngressSpecArgsDict,
                ingress_spec(served, router_http_port(), options, router_service(served))
                if routed
                else ingress_spec(served, port, options),
            ),
            opts=d.in_ns,
        )
        # The address the controller gives the Ingress (an ALB's DNS name, an internal IP):
        # what a gateway outside the cluster calls.
        self.ingress_addresses[served] = ingress.status.apply(_ingress_address)

    def _autoscaling(self, d: _Namespace, model: ServedModel, server: ModelServer, model_labels: dict[str, str]) -> bool:
        """The model's autoscaler (KEDA unless another engine is asked for); returns whether it scales to zero."""
        args = d.args
        spec = model.container
        served = spec.served_name
        policy = args.scaling or autoscaling.ScalingPolicy(model.replicas_min, model.replicas_max)
        policy = dataclasses.replace(policy, min_replicas=model.replicas_min, max_replicas=model.replicas_max)
        lws = server.workload_kind == "LeaderWorkerSet"
        autoscaling.Autoscaling(
            child(d.name, f"{served}-scaling"),
            autoscaling.AutoscalingArgs(
                engine="keda" if args.autoscaling_engine == "none" else args.autoscaling_engine,
                target=autoscaling.Target(
                    api_version=LWS_API_VERSION if lws else "apps/v1",
                    kind=server.workload_kind,
                    name=served,
                    namespace=args.namespace,
                    served_name=served,
                    metrics=spec.metrics,
                    runtime=spec.runtime,
                    ingress=served if args.ingress is not None else None,
                ),
                policy=policy,
                prometheus_url=args.prometheus_url,
                labels=model_labels,
                authentication=args.trigger_authentication,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[server]),
        )
        return policy.scale_to_zero

    def _alerts_and_dashboards(self, d: _Namespace, servers: list[observability_rules.ServerMetrics]) -> None:
        """The servers' alert rules (PrometheusRule, or GMP Rules) and their Grafana dashboards' ConfigMap."""
        args, common = d.args, d.common
        gmp = args.metrics_api == "gmp"
        # GMP's Rules take the same groups; its rule evaluator runs them against the project's metrics.
        k8s.apiextensions.CustomResource(
            child(d.name, "alerts"),
            api_version=GMP_API_VERSION if gmp else observability_rules.PROMETHEUS_RULE_API_VERSION,
            kind="Rules" if gmp else observability_rules.PROMETHEUS_RULE_KIND,
            metadata={"name": "llm-alerts", "namespace": args.namespace, "labels": common},
            spec=observability_rules.alert_rules(servers, args.alerts),
            opts=d.in_ns,
        )
        k8s.core.v1.ConfigMap(
            child(d.name, "dashboards"),
            metadata={
                "name": "llm-dashboards",
                "namespace": args.namespace,
                "labels": {**common, observability_rules.GRAFANA_DASHBOARD_LABEL: observability_rules.GRAFANA_DASHBOARD_LABEL_VALUE},
            },
            data=observability_rules.dashboard_configmap_data(servers, f"LLM serving — {args.labels.stack}"),
            opts=d.in_ns,
        )
        routed = [m.container.served_name for m in args.models if decide_router(args.router, m.container)]
        if routed:
            k8s.core.v1.ConfigMap(
                child(d.name, "router-dashboards"),
                metadata={
                    "name": "llm-router-dashboards",
                    "namespace": args.namespace,
                    "labels": {**common, observability_rules.GRAFANA_DASHBOARD_LABEL: observability_rules.GRAFANA_DASHBOARD_LABEL_VALUE},
                },
                data=router_dashboard_data(args.namespace, routed, f"LLM routers — {args.labels.stack}"),
                opts=d.in_ns,
            )
