"""ModelRouter: the vLLM project's router in front of one model's replicas (router_render.py renders it).

Children: a ServiceAccount with a Role to watch the model's pods (the router's discovery), a ConfigMap with
the pinned wheel's requirements, the Deployment (its own replicas, probes, restricted Pod Security,
read-only root), a Service, a PodDisruptionBudget, a NetworkPolicy (only the clients reach it; it reaches
only the model's pods, DNS and HTTPS), and the ServiceMonitor (or GMP PodMonitoring) of its metrics.
ModelServing points the Ingress and the gateway's URL at the Service and lets only these pods call the
model's servers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from .. import pins
from ..naming import child
from ..runtimes.spec import ContainerSpec
from . import render
from . import router_render as rr
from .observability_rules import SCHEMA_VERSION, dashboard_uid

SERVICE_MONITOR_API_VERSION = "monitoring.coreos.com/v1"
GMP_API_VERSION = "monitoring.googleapis.com/v1"


ROUTED_RUNTIMES = frozenset({"vllm"})
"""Runtimes the router fronts: it health-checks `/health` and speaks the OpenAI API on the server's port, which
vLLM serves (Triton's KServe API and health paths differ; llama.cpp and ONNX run on edge nodes)."""


def decide_router(options: rr.RouterOptions | None, spec: ContainerSpec) -> dict[str, Any] | None:
    """Whether the model gets a router: the NetworkPolicy peer its pods then admit (the router's pods), else None."""
    if options is None or spec.runtime not in ROUTED_RUNTIMES:
        return None
    return rr.peer(spec.served_name)


def router_workers(spec: ContainerSpec, namespace: str, workload_kind: str) -> rr.KubernetesWorkers:
    """The pods the router discovers: the model server's selector (group leaders only for a LeaderWorkerSet,
    whose workers serve nothing) and its API port."""
    selector = render.selector_labels(spec.served_name)
    if workload_kind == "LeaderWorkerSet":
        selector["leaderworkerset.sigs.k8s.io/worker-index"] = "0"
    return rr.KubernetesWorkers(selector=selector, namespace=namespace, port=spec.port(spec.http_port).container_port)


def router_service(served: str) -> str:
    """The router's Service name (what the Ingress and the gateway call)."""
    return rr.name(served)


def router_http_port() -> int:
    return rr.HTTP_PORT


def router_dashboard_data(namespace: str, served_names: Sequence[str], title: str) -> dict[str, str]:
    """The routers' Grafana board as ConfigMap data ({"<uid>.json": JSON})."""
    return dashboard_configmap_data([namespace], [rr.name(s) for s in served_names], title)


class ModelRouterArgs(BaseModel):
    """One model's router: how it runs, which pods it routes to, who may call it."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    served_name: str = Field(description="The served model name; objects are named `<served_name>-router`.")
    namespace: str = Field(description="Namespace of the router and the model's pods.")
    labels: Mapping[str, str] = Field(description="Labels of every object (the model's common labels).")
    options: rr.RouterOptions = Field(default_factory=rr.RouterOptions, description="Policy, replicas, resources. Default cache_aware, 2.")
    workers: rr.KubernetesWorkers = Field(description="The model's pods: their labels and API port.")
    clients: Sequence[Mapping[str, Any]] = Field(default=(), description="NetworkPolicy peers allowed to call the router. Default: nobody.")
    scrapers: Sequence[Mapping[str, Any]] = Field(default=(), description="NetworkPolicy peers allowed to scrape its metrics.")
    metrics_api: Literal["prometheus-operator", "gmp"] = Field(
        default="prometheus-operator", description="ServiceMonitor, or (GKE managed Prometheus) PodMonitoring. Default prometheus-operator."
    )
    image: str = Field(default=pins.PYTHON_SLIM.ref, description="Python image the pinned wheel runs in. Default pins.PYTHON_SLIM.")


class ModelRouter(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: ModelRouterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:ModelRouter", name, None, opts)
        served = args.served_name
        here = pulumi.ResourceOptions(parent=self)
        labels = {**args.labels, **rr.selector_labels(served)}

        # Rendered as Kubernetes JSON and cast to the SDK's *ArgsDict types (the provider sends keys as written).
        def meta() -> k8s.meta.v1.ObjectMetaArgsDict:
            return cast(k8s.meta.v1.ObjectMetaArgsDict, {"name": rr.name(served), "namespace": args.namespace, "labels": labels})

        account = k8s.core.v1.ServiceAccount(child(name, "sa"), metadata=meta(), opts=here)
        role = k8s.rbac.v1.Role(child(name, "role"), metadata=meta(), rules=cast(Any, rr.role_rules()), opts=here)
        binding = k8s.rbac.v1.RoleBinding(
            child(name, "rolebinding"),
            metadata=meta(),
            role_ref=cast(k8s.rbac.v1.RoleRefArgsDict, {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": rr.name(served)}),
            subjects=[{"kind": "ServiceAccount", "name": rr.name(served), "namespace": args.namespace}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, role]),
        )
        requirements = k8s.core.v1.ConfigMap(
            child(name, "requirements"), metadata=meta(), data={rr.REQUIREMENTS_FILE: rr.requirements_text()}, opts=here
        )
        k8s.apps.v1.Deployment(
            child(name, "deployment"),
            metadata=meta(),
            spec=cast(k8s.apps.v1.DeploymentSpecArgsDict, rr.deployment_spec(served, args.options, args.workers, args.image, labels)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[binding, requirements]),
        )
        service = k8s.core.v1.Service(
            child(name, "service"), metadata=meta(), spec=cast(k8s.core.v1.ServiceSpecArgsDict, rr.service_spec(served)), opts=here
        )
        k8s.policy.v1.PodDisruptionBudget(
            child(name, "pdb"), metadata=meta(), spec=cast(k8s.policy.v1.PodDisruptionBudgetSpecArgsDict, rr.pdb_spec(served)), opts=here
        )
        policy = rr.network_policy_spec(
            served, clients=args.clients, scrapers=args.scrapers, model_port=args.workers.port, model_selector=args.workers.selector
        )
        k8s.networking.v1.NetworkPolicy(
            child(name, "netpol"), metadata=meta(), spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, policy), opts=here
        )
        gmp = args.metrics_api == "gmp"
        k8s.apiextensions.CustomResource(
            child(name, "monitor"),
            api_version=GMP_API_VERSION if gmp else SERVICE_MONITOR_API_VERSION,
            kind="PodMonitoring" if gmp else "ServiceMonitor",
            metadata=meta(),
            spec=rr.monitor_spec(served),
            opts=here,
        )
        self.service_name = service.metadata.name
        self.url = pulumi.Output.concat("http://", service.metadata.name, ".", args.namespace, ".svc.cluster.local:", str(rr.HTTP_PORT))
        self.register_outputs({"service_name": self.service_name, "url": self.url})


# --------------------------------------------------------------------------------------------------
# Dashboard: one Grafana board for the stack's routers, beside the model servers' board.


@dataclass(frozen=True)
class RouterPanel:
    title: str
    unit: str
    description: str
    exprs: tuple[tuple[str, str], ...]
    """(PromQL, legend); `$job` is the routers' Services, `$namespace` the variable."""


_SEL = '{namespace=~"$namespace", job=~"$job"}'
_RATE = "$__rate_interval"

ROUTER_PANELS: tuple[RouterPanel, ...] = (
    RouterPanel(
        "Router requests",
        "reqps",
        "Requests per second the routers received, and the failed ones (vllm_router_requests_total, _request_errors_total).",
        (
            (f"sum by (job) (rate(vllm_router_requests_total{_SEL}[{_RATE}]))", "{{job}} requests"),
            (f"sum by (job) (rate(vllm_router_request_errors_total{_SEL}[{_RATE}]))", "{{job}} errors"),
        ),
    ),
    RouterPanel(
        "Router time to response",
        "s",
        "p50 and p99 time from the router receiving a request to the chosen replica's response starting — for a stream, "
        "its headers, about the first token (vllm_router_generate_duration_seconds, recorded per successful request).",
        tuple(
            (
                f"histogram_quantile({q}, sum by (job, le) (rate(vllm_router_generate_duration_seconds_bucket{_SEL}[{_RATE}])))",
                f"{{{{job}}}} p{round(q * 100)}",
            )
            for q in (0.5, 0.99)
        ),
    ),
    RouterPanel(
        "Healthy replicas behind the router",
        "short",
        "Replicas each router pod routes to (vllm_router_active_workers). 0: the model is down or scaled to zero.",
        (("min by (job) (vllm_router_active_workers" + _SEL + ")", "{{job}}"),),
    ),
    RouterPanel(
        "Requests per replica",
        "reqps",
        "Requests each router sent to each replica (vllm_router_processed_requests_total by worker): how evenly the "
        "policy spreads them (cache_aware is meant to keep conversations on the replica holding their prefix). The servers' prefix-cache "
        "hit rate is on the serving board.",
        ((f"sum by (job, worker) (rate(vllm_router_processed_requests_total{_SEL}[{_RATE}]))", "{{job}} → {{worker}}"),),
    ),
)


def _panel(index: int, panel: RouterPanel) -> dict[str, Any]:
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    return {
        "datasource": dict(datasource),
        "description": panel.description,
        "fieldConfig": {"defaults": {"min": 0, "unit": panel.unit}, "overrides": []},
        "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
        "id": index + 1,
        "targets": [
            {"datasource": dict(datasource), "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
            for i, (expr, legend) in enumerate(panel.exprs)
        ],
        "title": panel.title,
        "type": "timeseries",
    }


def dashboard(namespaces: Sequence[str], services: Sequence[str], title: str) -> dict[str, Any]:
    """The routers' board: requests and errors, time to response, healthy replicas, requests per replica."""

    def variable(var: str, values: Sequence[str]) -> dict[str, Any]:
        return {
            "name": var,
            "type": "custom",
            "includeAll": True,
            "multi": True,
            "query": ",".join(sorted(values)),
            "current": {"text": ["All"], "value": ["$__all"]},
        }

    return {
        "title": title,
        "uid": dashboard_uid(title),
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["llm", "pulumi-llm", "router"],
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "panels": [_panel(i, p) for i, p in enumerate(ROUTER_PANELS)],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                variable("namespace", namespaces),
                variable("job", services),
            ]
        },
    }


def dashboard_configmap_data(namespaces: Sequence[str], services: Sequence[str], title: str) -> dict[str, str]:
    board = dashboard(namespaces, services, title)
    return {f"{board['uid']}.json": json.dumps(board, sort_keys=True, indent=2)}
