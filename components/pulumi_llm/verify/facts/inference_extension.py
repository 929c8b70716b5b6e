"""The Gateway API Inference Extension (InferencePool + endpoint picker) and the Gateway API kinds that route to
it, as data: the CRD schemas the rendered objects are validated against, the endpoint picker's ports, flags and
RBAC, and GKE's Gateway classes that accept an InferencePool backend.

Pinned release: kubernetes-sigs/gateway-api-inference-extension v1.5.0 (commit
df9f8909fe06fe2dfd4a6fc0bd0c01a0acabf849, 2026-04-18). It is the newest release that ships the InferencePool CRD
together with the endpoint picker (EPP) and its chart: v1.6.0 (2026-08-10) keeps only the InferencePool API and a
lightweight conformance EPP here — its README says the EPP moved to llm-d/llm-d-router. The schemas below are the
`openAPIV3Schema.properties.spec` of the files named, with `description` fields removed; InferencePool's is whole,
HTTPRoute's and Gateway's keep the fields the renderer writes (a new field is read at the tag and added here).
CEL rules (`x-kubernetes-validations`) stay as data; `verify/openapi.py` does not evaluate them.
"""

from __future__ import annotations

from typing import Any

GIE_REPOSITORY = "github.com/kubernetes-sigs/gateway-api-inference-extension"
GIE_VERSION = "v1.5.0"
GIE_COMMIT = "df9f8909fe06fe2dfd4a6fc0bd0c01a0acabf849"
INFERENCE_POOL_CRD_SOURCE = f"{GIE_REPOSITORY}/blob/{GIE_VERSION}/config/crd/bases/inference.networking.k8s.io_inferencepools.yaml"
EPP_CHART_SOURCE = f"{GIE_REPOSITORY}/tree/{GIE_VERSION}/config/charts (inferencepool/templates, epplib/templates)"

GATEWAY_API_REPOSITORY = "github.com/kubernetes-sigs/gateway-api"
GATEWAY_API_VERSION = "v1.3.0"
"""Gateway API standard channel, commit 40be951cebe5cb3f0365fe6951403de4ff8b9f33: every field used below is GA
(v1) since v1.0, so any Gateway API version GKE serves on its standard channel has it."""
HTTPROUTE_CRD_SOURCE = f"{GATEWAY_API_REPOSITORY}/blob/{GATEWAY_API_VERSION}/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"
GATEWAY_CRD_SOURCE = f"{GATEWAY_API_REPOSITORY}/blob/{GATEWAY_API_VERSION}/config/crd/standard/gateway.networking.k8s.io_gateways.yaml"

INFERENCE_GROUP = "inference.networking.k8s.io"
INFERENCE_POOL_API_VERSION = f"{INFERENCE_GROUP}/v1"
"""inferencepools.inference.networking.k8s.io, version v1 (served, storage) at v1.5.0."""
INFERENCE_POOL_CRD_NAME = f"inferencepools.{INFERENCE_GROUP}"
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_V1 = f"{GATEWAY_GROUP}/v1"
GKE_POLICY_API_VERSION = "networking.gke.io/v1"
"""HealthCheckPolicy and GCPBackendPolicy, which the chart's GKE provider attaches to the pool
(config/charts/inferencepool/templates/gke.yaml at v1.5.0)."""

# ---- The endpoint picker, as the chart at v1.5.0 runs it ------------------------------------------------
EPP_EXT_PROC_PORT = 9002
"""gRPC ext-proc port the Gateway calls (values.yaml `inferenceExtension.extProcPort`; epplib/_deployment.yaml `grpc`)."""
EPP_HEALTH_PORT = 9003
"""gRPC health port; the probes ask service `inference-extension` with one replica (epplib/_deployment.yaml)."""
EPP_METRICS_PORT = 9090
EPP_HEALTH_SERVICE = "inference-extension"
EPP_FAILURE_MODES = ("FailOpen", "FailClose")
"""endpointPickerRef.failureMode (CRD enum); the chart's default is FailOpen (values.yaml)."""
EPP_ROLE_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]},
    {"apiGroups": [INFERENCE_GROUP], "resources": ["inferencepools"], "verbs": ["get", "watch", "list"]},
    {
        "apiGroups": ["inference.networking.x-k8s.io"],
        "resources": ["inferenceobjectives", "inferencemodelrewrites"],
        "verbs": ["get", "watch", "list"],
    },
)
"""The namespaced Role the chart binds to the EPP's ServiceAccount (epplib/_rbac.yaml `-sa`, inferencepool/rbac.yaml
`-non-sa`). The chart's ClusterRole (tokenreviews, subjectaccessreviews) is only for its authenticated metrics
endpoint when a ServiceMonitor is on; leader-election leases only with more than one replica — neither is used here."""
EPP_PLUGINS_FILE = "default-plugins.yaml"
EPP_DEFAULT_PLUGINS = """apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: metrics-data-source
  parameters:
    scheme: "http"
    path: "/metrics"
    insecureSkipVerify: true
- type: core-metrics-extractor
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
    weight: 2
  - pluginRef: kv-cache-utilization-scorer
    weight: 2
  - pluginRef: prefix-cache-scorer
    weight: 3
"""
"""The chart's default-plugins.yaml for a vLLM pool over HTTP (epplib/templates/_config.yaml with the defaults of
inferencepool/values.yaml): queue, KV-cache and prefix-cache scorers; metrics scraped from the pods' /metrics."""
EPP_TERMINATION_GRACE_SECONDS = 130
"""epplib/_deployment.yaml: "should mirror the longest grace period of the pods within the pool"."""

# ---- GKE ----------------------------------------------------------------------------------------------------
GKE_INFERENCE_GATEWAY_CLASSES = ("gke-l7-rilb", "gke-l7-regional-external-managed")
"""GKE Gateway classes whose HTTPRoutes may name an InferencePool backend (regional internal and regional external
Application Load Balancers), docs.cloud.google.com/kubernetes-engine/docs/concepts/about-gke-inference-gateway;
conformance/reports/v0.5.0/gateway/gke-gateway at the pinned tag records GKE's conformance run."""
GKE_GATEWAY_API_CHANNEL = "CHANNEL_STANDARD"
"""container.Cluster `gateway_api_config.channel` that makes GKE install and serve the Gateway API's standard kinds
(pulumi-gcp 10.2.0 `container/_inputs.py` ClusterGatewayApiConfigArgs)."""
GKE_GATEWAY_KINDS = frozenset({"Gateway", "HTTPRoute", "GatewayClass", "HealthCheckPolicy", "GCPBackendPolicy", "GCPGatewayPolicy"})
"""Kinds a GKE cluster serves once its Gateway API channel is set (docs.cloud.google.com/kubernetes-engine/docs/
how-to/deploying-gateways, "Enable the Gateway API"; the policies: how-to/configure-gateway-resources)."""
# ---- Schemas (openAPIV3Schema.properties.spec, descriptions removed) -----------------------------------------
INFERENCE_POOL_SPEC: dict[str, Any] = {
    "properties": {
        "appProtocol": {"default": "http", "enum": ["http", "kubernetes.io/h2c"], "type": "string"},
        "endpointPickerRef": {
            "properties": {
                "failureMode": {"default": "FailClose", "enum": ["FailOpen", "FailClose"], "type": "string"},
                "group": {
                    "default": "",
                    "maxLength": 253,
                    "minLength": 0,
                    "pattern": "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                    "type": "string",
                },
                "kind": {
                    "default": "Service",
                    "maxLength": 63,
                    "minLength": 1,
                    "pattern": "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
                    "type": "string",
                },
                "name": {"maxLength": 253, "minLength": 1, "type": "string"},
                "port": {
                    "properties": {"number": {"format": "int32", "maximum": 65535, "minimum": 1, "type": "integer"}},
                    "required": ["number"],
                    "type": "object",
                },
            },
            "required": ["name"],
            "type": "object",
            "x-kubernetes-validations": [
                {
                    "message": "port is required when kind is 'Service' or unspecified (defaults to 'Service')",
                    "rule": "self.kind != 'Service' || has(self.port)",
                }
            ],
        },
        "selector": {
            "properties": {
                "matchLabels": {
                    "additionalProperties": {
                        "maxLength": 63,
                        "minLength": 0,
                        "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$",
                        "type": "string",
                    },
                    "maxProperties": 64,
                    "minProperties": 1,
                    "type": "object",
                }
            },
            "required": ["matchLabels"],
            "type": "object",
        },
        "targetPorts": {
            "items": {
                "properties": {"number": {"format": "int32", "maximum": 65535, "minimum": 1, "type": "integer"}},
                "required": ["number"],
                "type": "object",
            },
            "maxItems": 8,
            "minItems": 1,
            "type": "array",
            "x-kubernetes-list-type": "atomic",
            "x-kubernetes-validations": [
                {"message": "port number must be unique", "rule": "self.all(p1, self.exists_one(p2, p1.number==p2.number))"}
            ],
        },
    },
    "required": ["endpointPickerRef", "selector", "targetPorts"],
    "type": "object",
}

HTTPROUTE_SPEC: dict[str, Any] = {
    "properties": {
        "parentRefs": {
            "items": {
                "properties": {
                    "group": {
                        "default": "gateway.networking.k8s.io",
                        "maxLength": 253,
                        "pattern": "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                        "type": "string",
                    },
                    "kind": {
                        "default": "Gateway",
                        "maxLength": 63,
                        "minLength": 1,
                        "pattern": "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
                        "type": "string",
                    },
                    "name": {"maxLength": 253, "minLength": 1, "type": "string"},
                    "namespace": {"maxLength": 63, "minLength": 1, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "type": "string"},
                    "sectionName": {
                        "maxLength": 253,
                        "minLength": 1,
                        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                        "type": "string",
                    },
                },
                "required": ["name"],
                "type": "object",
            },
            "maxItems": 32,
            "type": "array",
        },
        "rules": {
            "default": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}],
            "items": {
                "properties": {
                    "backendRefs": {
                        "items": {
                            "properties": {
                                "group": {
                                    "default": "",
                                    "maxLength": 253,
                                    "pattern": "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                                    "type": "string",
                                },
                                "kind": {
                                    "default": "Service",
                                    "maxLength": 63,
                                    "minLength": 1,
                                    "pattern": "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
                                    "type": "string",
                                },
                                "name": {"maxLength": 253, "minLength": 1, "type": "string"},
                                "namespace": {
                                    "maxLength": 63,
                                    "minLength": 1,
                                    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                    "type": "string",
                                },
                                "port": {"format": "int32", "maximum": 65535, "minimum": 1, "type": "integer"},
                                "weight": {"default": 1, "format": "int32", "maximum": 1000000, "minimum": 0, "type": "integer"},
                            },
                            "required": ["name"],
                            "type": "object",
                        },
                        "maxItems": 16,
                        "type": "array",
                    },
                    "filters": {
                        "items": {
                            "properties": {
                                "type": {
                                    "enum": [
                                        "RequestHeaderModifier",
                                        "ResponseHeaderModifier",
                                        "RequestMirror",
                                        "RequestRedirect",
                                        "URLRewrite",
                                        "ExtensionRef",
                                    ],
                                    "type": "string",
                                },
                                "urlRewrite": {
                                    "properties": {
                                        "path": {
                                            "properties": {
                                                "replaceFullPath": {"maxLength": 1024, "type": "string"},
                                                "replacePrefixMatch": {"maxLength": 1024, "type": "string"},
                                                "type": {"enum": ["ReplaceFullPath", "ReplacePrefixMatch"], "type": "string"},
                                            },
                                            "required": ["type"],
                                            "type": "object",
                                        }
                                    },
                                    "type": "object",
                                },
                            },
                            "required": ["type"],
                            "type": "object",
                        },
                        "maxItems": 16,
                        "type": "array",
                    },
                    "matches": {
                        "default": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "items": {
                            "properties": {
                                "path": {
                                    "default": {"type": "PathPrefix", "value": "/"},
                                    "properties": {
                                        "type": {
                                            "default": "PathPrefix",
                                            "enum": ["Exact", "PathPrefix", "RegularExpression"],
                                            "type": "string",
                                        },
                                        "value": {"default": "/", "maxLength": 1024, "type": "string"},
                                    },
                                    "type": "object",
                                }
                            },
                            "type": "object",
                        },
                        "maxItems": 64,
                        "type": "array",
                    },
                },
                "type": "object",
            },
            "maxItems": 16,
            "type": "array",
        },
    },
    "type": "object",
}

GATEWAY_SPEC: dict[str, Any] = {
    "properties": {
        "addresses": {
            "items": {
                "properties": {
                    "type": {
                        "default": "IPAddress",
                        "maxLength": 253,
                        "minLength": 1,
                        "pattern": "^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$",
                        "type": "string",
                    },
                    "value": {"maxLength": 253, "type": "string"},
                },
                "type": "object",
            },
            "maxItems": 16,
            "type": "array",
        },
        "gatewayClassName": {"maxLength": 253, "minLength": 1, "type": "string"},
        "listeners": {
            "items": {
                "properties": {
                    "allowedRoutes": {
                        "default": {"namespaces": {"from": "Same"}},
                        "properties": {
                            "namespaces": {
                                "default": {"from": "Same"},
                                "properties": {"from": {"default": "Same", "enum": ["All", "Selector", "Same"], "type": "string"}},
                                "type": "object",
                            }
                        },
                        "type": "object",
                    },
                    "name": {
                        "maxLength": 253,
                        "minLength": 1,
                        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                        "type": "string",
                    },
                    "port": {"format": "int32", "maximum": 65535, "minimum": 1, "type": "integer"},
                    "protocol": {
                        "maxLength": 255,
                        "minLength": 1,
                        "pattern": "^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9]+$",
                        "type": "string",
                    },
                },
                "required": ["name", "port", "protocol"],
                "type": "object",
            },
            "maxItems": 64,
            "minItems": 1,
            "type": "array",
            "x-kubernetes-list-map-keys": ["name"],
            "x-kubernetes-list-type": "map",
        },
    },
    "required": ["gatewayClassName", "listeners"],
    "type": "object",
}

SPEC_SCHEMAS: dict[tuple[str, str], tuple[dict[str, Any], str]] = {
    (INFERENCE_POOL_API_VERSION, "InferencePool"): (INFERENCE_POOL_SPEC, f"{INFERENCE_POOL_CRD_SOURCE} (v1, bundle-version {GIE_VERSION})"),
    (GATEWAY_API_V1, "HTTPRoute"): (HTTPROUTE_SPEC, f"{HTTPROUTE_CRD_SOURCE} (v1, fields used)"),
    (GATEWAY_API_V1, "Gateway"): (GATEWAY_SPEC, f"{GATEWAY_CRD_SOURCE} (v1, fields used)"),
}
"""(apiVersion, kind) -> (spec schema, where it was read): what `verify` and the tests validate rendered objects against."""
