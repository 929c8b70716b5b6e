"""Pure renderers for the Gateway API Inference Extension on GKE (camelCase dicts): per model an InferencePool
over its vLLM pods and an endpoint picker (EPP), one Gateway for the namespace, an HTTPRoute per model.

The alternative to the vLLM router (router_render.py) on GKE (`gcp.cluster.router: gateway-inference-extension`):
GKE's regional Application Load Balancer (Gateway class `gke-l7-rilb`) asks the model's EPP over ext-proc which
pod should serve each request — the EPP scores the pods on their queue, KV-cache use and prefix-cache affinity,
read from their /metrics — and its proxies (addresses of the VPC's proxy-only subnet) call that pod directly.
Every upstream fact used here (ports, flags, RBAC, plugin config, schemas) is data in
`verify/facts/inference_extension.py`, read from gateway-api-inference-extension v1.5.0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..naming import dns_label
from ..verify import openapi
from ..verify.facts import inference_extension as gie
from ..verify.facts.gcp import GOOGLE_HEALTH_CHECK_RANGES

RouterKind = Literal["vllm", "gateway-inference-extension"]
POOLED_RUNTIMES = frozenset({"vllm"})
"""Runtimes an InferencePool fronts: the EPP's default metrics (`--model-server-type vllm`) are vLLM's."""
COMPONENT = "endpoint-picker"
GATEWAY_NAME = "llm-inference"
GATEWAY_PORT = 80
DEFAULT_GATEWAY_CLASS = "gke-l7-rilb"
"""Regional internal Application Load Balancer: reachable from the VPC (the gateway's Cloud Run egress), not the internet."""
EPP_PORTS = (gie.EPP_EXT_PROC_PORT, gie.EPP_HEALTH_PORT)
"""What the load balancer calls on an endpoint picker: ext-proc and its health."""
API_SERVER_PORT = 443
"""GKE's API server (the EPP watches the pool and its pods)."""
RUN_AS = 65532
"""The `nonroot` user of the EPP's base image, gcr.io/distroless/static:nonroot (Dockerfile at v1.5.0)."""


def decide_inference_gateway(kind: RouterKind, runtime: str) -> bool:
    """Whether a model is served through an InferencePool: the stack chose the extension and the runtime is vLLM."""
    return kind == "gateway-inference-extension" and runtime in POOLED_RUNTIMES


def pool_name(served: str) -> str:
    return dns_label(f"{served}-pool")


def epp_name(served: str) -> str:
    return dns_label(f"{served}-epp")


def route_name(served: str) -> str:
    return dns_label(f"{served}-route")


def epp_selector(served: str) -> dict[str, str]:
    """The labels of one model's EPP pods (never the model's own: component says endpoint-picker)."""
    return {"app.kubernetes.io/name": served, "app.kubernetes.io/component": COMPONENT}


def route_prefix(served: str) -> str:
    """The model's path on the Gateway: `/<served>`, rewritten to `/` before the pod sees it."""
    return f"/{served}"


def route_url(address: str, served: str) -> str:
    """The OpenAI base URL of a model behind the Gateway (what the gateway's self-hosted route calls)."""
    return f"http://{address}{route_prefix(served)}/v1"


def inference_pool_spec(served: str, selector: Mapping[str, str], port: int, failure_mode: str = "FailOpen") -> dict[str, Any]:
    """The pool: the model's pods (selector) on vLLM's port, and the EPP Service that picks among them.
    FailOpen (the chart's default): while the EPP is down the load balancer still sends to a pod of the pool."""
    return {
        "targetPorts": [{"number": port}],
        "appProtocol": "http",
        "selector": {"matchLabels": dict(selector)},
        "endpointPickerRef": {
            "name": epp_name(served),
            "kind": "Service",
            "port": {"number": gie.EPP_EXT_PROC_PORT},
            "failureMode": failure_mode,
        },
    }


def epp_args(served: str, namespace: str) -> list[str]:
    """The chart's flags for one pool (epplib/_deployment.yaml, one replica, tracing off). The metrics endpoint
    skips its TokenReview (no ClusterRole needed): only the scrapers' pods reach it (the NetworkPolicy)."""
    return [
        "--pool-name",
        pool_name(served),
        "--pool-namespace",
        namespace,
        "--pool-group",
        gie.INFERENCE_GROUP,
        "--zap-encoder",
        "json",
        "--config-file",
        f"/config/{gie.EPP_PLUGINS_FILE}",
        "--v",
        "1",
        "--tracing=false",
        "--metrics-endpoint-auth=false",
    ]


def _grpc_probe(period: int, failures: int) -> dict[str, Any]:
    return {
        "grpc": {"port": gie.EPP_HEALTH_PORT, "service": gie.EPP_HEALTH_SERVICE},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def epp_container(served: str, namespace: str, image: str) -> dict[str, Any]:
    return {
        "name": "epp",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": epp_args(served, namespace),
        "env": [
            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "ports": [
            {"name": "grpc", "containerPort": gie.EPP_EXT_PROC_PORT, "protocol": "TCP"},
            {"name": "grpc-health", "containerPort": gie.EPP_HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": gie.EPP_METRICS_PORT, "protocol": "TCP"},
        ],
        "startupProbe": _grpc_probe(2, 30),
        "livenessProbe": _grpc_probe(10, 3),
        "readinessProbe": _grpc_probe(2, 2),
        # The chart asks 4 CPUs / 8 GiB for high QPS; one model's pool of a few replicas needs far less. CPU unlimited
        # (scheduling bursts), memory capped as the chart does.
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [{"name": "plugins", "mountPath": "/config", "readOnly": True}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def epp_deployment_spec(served: str, namespace: str, image: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """One EPP pod (the chart's recommendation: its prefix-cache index is in memory), Recreate as the chart does,
    restricted Pod Security, its ServiceAccount's token mounted (it watches the pool and the pods)."""
    selector = epp_selector(served)
    pod = {
        "serviceAccountName": epp_name(served),
        "automountServiceAccountToken": True,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": gie.EPP_TERMINATION_GRACE_SECONDS,
        "containers": [epp_container(served, namespace, image)],
        "volumes": [{"name": "plugins", "configMap": {"name": epp_name(served)}}],
    }
    return {
        "replicas": 1,
        "selector": {"matchLabels": selector},
        "strategy": {"type": "Recreate"},
        "revisionHistoryLimit": 3,
        "template": {"metadata": {"labels": {**labels, **selector}}, "spec": pod},
    }


def epp_service_spec(served: str) -> dict[str, Any]:
    """The Service the pool's endpointPickerRef names (epplib/_service.yaml)."""
    return {
        "type": "ClusterIP",
        "selector": epp_selector(served),
        "ports": [
            {
                "name": "grpc-ext-proc",
                "port": gie.EPP_EXT_PROC_PORT,
                "targetPort": "grpc",
                "protocol": "TCP",
                "appProtocol": "kubernetes.io/h2c",
            },
            {"name": "http-metrics", "port": gie.EPP_METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
        ],
    }


def epp_config_data() -> dict[str, str]:
    return {gie.EPP_PLUGINS_FILE: gie.EPP_DEFAULT_PLUGINS}


def epp_role_rules() -> list[dict[str, Any]]:
    """Read-only, this namespace: pods, the pool, and the objectives/rewrites the EPP watches (the chart's Roles)."""
    return [dict(rule) for rule in gie.EPP_ROLE_RULES]


def gateway_spec(address_name: str, gateway_class: str = DEFAULT_GATEWAY_CLASS) -> dict[str, Any]:
    """One HTTP listener on the reserved internal address `address_name` (so the gateway's URL is known before the
    load balancer exists and survives its replacement); routes only from this namespace."""
    if gateway_class not in gie.GKE_INFERENCE_GATEWAY_CLASSES:
        raise ValueError(
            f"gateway class {gateway_class!r}: InferencePool backends need one of {', '.join(gie.GKE_INFERENCE_GATEWAY_CLASSES)}"
        )
    return {
        "gatewayClassName": gateway_class,
        "addresses": [{"type": "NamedAddress", "value": address_name}],
        "listeners": [{"name": "http", "port": GATEWAY_PORT, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}],
    }


def http_route_spec(served: str, gateway: str = GATEWAY_NAME) -> dict[str, Any]:
    """`/<served>/...` on the Gateway to the model's InferencePool, the prefix removed (`/<served>/v1/x` → `/v1/x`)."""
    return {
        "parentRefs": [{"group": gie.GATEWAY_GROUP, "kind": "Gateway", "name": gateway, "sectionName": "http"}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": route_prefix(served)}}],
                "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                "backendRefs": [{"group": gie.INFERENCE_GROUP, "kind": "InferencePool", "name": pool_name(served)}],
            }
        ],
    }


def _pool_ref(served: str) -> dict[str, str]:
    return {"group": gie.INFERENCE_GROUP, "kind": "InferencePool", "name": pool_name(served)}


def health_check_policy_spec(served: str, port: int, path: str = "/health") -> dict[str, Any]:
    """The load balancer's health check of the pool's pods: vLLM's /health (the chart's GKE provider, gke.yaml)."""
    return {
        "targetRef": _pool_ref(served),
        "default": {
            "timeoutSec": 2,
            "checkIntervalSec": 2,
            "config": {"type": "HTTP", "httpHealthCheck": {"requestPath": path, "port": port}},
        },
    }


def backend_policy_spec(served: str, timeout_seconds: int) -> dict[str, Any]:
    """The backend service's timeout: the longest stream the stack allows (the chart's 300 s would cut longer ones)."""
    return {"targetRef": _pool_ref(served), "default": {"timeoutSec": timeout_seconds, "logging": {"enabled": True}}}


def _ip_blocks(cidrs: Sequence[str]) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]


def model_clients(proxy_only_cidr: str) -> list[dict[str, Any]]:
    """Who reaches a pooled model's API port: the load balancer's proxies (the proxy-only subnet), Google's health
    checkers (the HealthCheckPolicy), and the namespace's EPPs (they scrape /metrics on the same port; one list
    serves every model of the namespace, so a model's pods also admit another model's EPP — read-only metrics)."""
    return [
        *_ip_blocks([proxy_only_cidr, *GOOGLE_HEALTH_CHECK_RANGES]),
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": COMPONENT}}},
    ]


def epp_network_policy_spec(
    served: str,
    *,
    proxy_only_cidr: str,
    scrapers: Sequence[Mapping[str, Any]],
    model_selector: Mapping[str, str],
    model_port: int,
) -> dict[str, Any]:
    """Only the load balancer's proxies (and health checkers) call the EPP's ext-proc and health ports, only the
    scrapers its metrics; it calls the model's pods (metrics), DNS and the API server."""
    ingress: list[dict[str, Any]] = [
        {
            "from": _ip_blocks([proxy_only_cidr, *GOOGLE_HEALTH_CHECK_RANGES]),
            "ports": [{"port": p, "protocol": "TCP"} for p in EPP_PORTS],
        }
    ]
    if scrapers:
        ingress.append({"from": [dict(p) for p in scrapers], "ports": [{"port": gie.EPP_METRICS_PORT, "protocol": "TCP"}]})
    egress: list[dict[str, Any]] = [
        {
            "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        },
        {"to": [{"podSelector": {"matchLabels": dict(model_selector)}}], "ports": [{"port": model_port, "protocol": "TCP"}]},
        {"ports": [{"port": API_SERVER_PORT, "protocol": "TCP"}]},
    ]
    return {
        "podSelector": {"matchLabels": epp_selector(served)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ingress,
        "egress": egress,
    }


def inference_pool_crd() -> dict[str, Any]:
    """The InferencePool CRD at the pinned version: its spec schema as upstream ships it (descriptions removed),
    status kept by the controllers that write it. Applied server-side, so a cluster that already has it is patched."""
    return {
        "group": gie.INFERENCE_GROUP,
        "names": {"kind": "InferencePool", "listKind": "InferencePoolList", "plural": "inferencepools", "singular": "inferencepool"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "required": ["spec"],
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": gie.INFERENCE_POOL_SPEC,
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    }


def validate(api_version: str, kind: str, spec: Mapping[str, Any]) -> list[str]:
    """Problems of a rendered spec against the pinned CRD's schema (facts.SPEC_SCHEMAS), strictly: an unknown field
    is one. Raises KeyError for a kind without a stored schema."""
    schema, _source = gie.SPEC_SCHEMAS[(api_version, kind)]
    return list(openapi.problems(dict(spec), schema))
