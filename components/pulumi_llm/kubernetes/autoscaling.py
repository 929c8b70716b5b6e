"""Autoscaling on LLM signals: KEDA ScaledObjects or HPA v2 (through prometheus-adapter).

CPU and memory say nothing about an LLM server's load (the GKE guide says so explicitly); the queue
does. vLLM scales on waiting requests per replica; Triton on its queue:compute time ratio (Triton
tutorials, TensorRT-LLM autoscaling). Scale-to-zero needs a trigger that exists while no server runs:
the ingress controller's request rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..as_given import as_given
from ..naming import child
from ..runtimes import registry
from ..runtimes.spec import MetricNames

KEDA_API_VERSION = "keda.sh/v1alpha1"
SCALE_DOWN_PODS_PER_MINUTE = 1
SCALE_UP_PODS_PER_MINUTE = 2
FALLBACK_FAILURES = 3


@as_given
@dataclass(frozen=True)
class ScalingPolicy:
    """The numbers of one model's autoscaler (from settings: serving.autoscaling and replicas)."""

    min_replicas: int
    max_replicas: int
    queue_threshold: int = 5
    polling_seconds: int = 15
    cooldown_seconds: int = 360
    scale_down_stabilization_seconds: int = 300
    fallback_replicas: int = 2
    scale_to_zero: bool = False
    ttft_target_seconds: float = 1.0
    """Triton with the vLLM backend: the p90 time to first token the scaler holds (half the SLO)."""
    kv_cache_target: float | None = None
    """Also scale on KV-cache usage: the mean fraction per replica the scaler holds (e.g. 0.8), beside the queue.
    A full KV cache preempts requests before the queue grows (long prompts, shared prefixes). None: queue only."""


@as_given
@dataclass(frozen=True)
class Target:
    """The workload a scaler resizes."""

    api_version: str
    kind: str
    name: str
    namespace: str
    served_name: str
    metrics: MetricNames
    runtime: str = "vllm"
    ingress: str | None = None
    """Name of the model's Ingress (ingress-nginx), for the scale-from-zero trigger."""


def _hidden_queue(runtime: str) -> bool:
    """Whether the runtime's queue is invisible to its metrics (runtimes/registry.py; unknown names: no)."""
    return runtime in registry.NAMES and registry.get(runtime).hidden_queue


def _matchers(target: Target) -> str:
    return f'namespace="{target.namespace}",{target.metrics.model_label}="{target.served_name}"'


def queue_trigger(target: Target, policy: ScalingPolicy, prometheus_url: str) -> dict[str, Any]:
    """The load signal: waiting requests per replica (vLLM); for Triton's vLLM backend, whose queue
    lives inside vLLM where Triton can't see it (and whose duration counters are unreliable,
    triton-inference-server/server#8463), time to first token; for other Triton models, queue time
    over compute time."""
    m = target.metrics
    if _hidden_queue(target.runtime) and m.time_to_first_token:
        query = f"histogram_quantile(0.9, sum by (le) (rate({m.time_to_first_token}_bucket{{{_matchers(target)}}}[2m])))"
        return {
            "type": "prometheus",
            "name": "time-to-first-token",
            "metricType": "Value",
            "metadata": {"serverAddress": prometheus_url, "query": query, "threshold": f"{policy.ttft_target_seconds:g}"},
        }
    if m.queue_duration and m.compute_duration:
        sel = _matchers(target)
        query = f"sum(rate({m.queue_duration}{{{sel}}}[1m])) / clamp_min(sum(rate({m.compute_duration}{{{sel}}}[1m])), 1)"
        # A ratio, not a per-replica amount: Value keeps the HPA's current × (ratio / target) rule.
        return {
            "type": "prometheus",
            "name": "queue-compute-ratio",
            "metricType": "Value",
            "metadata": {"serverAddress": prometheus_url, "query": query, "threshold": "1"},
        }
    return {
        "type": "prometheus",
        "name": "requests-waiting",
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": prometheus_url,
            "query": f"sum({m.requests_waiting}{{{_matchers(target)}}})",
            "threshold": str(policy.queue_threshold),
        },
    }


def kv_cache_trigger(target: Target, policy: ScalingPolicy, prometheus_url: str) -> dict[str, Any] | None:
    """KV-cache usage summed over the replicas against the per-replica target (AverageValue: KEDA divides by the
    replica count), or None when the policy or the runtime has no KV-cache signal. The gauge is vLLM's
    `vllm:kv_cache_usage_perc`, a fraction 0-1 (vllm-project/vllm v0.32.0 vllm/v1/metrics/loggers.py)."""
    name = target.metrics.kv_cache_usage
    if policy.kv_cache_target is None or not name or _hidden_queue(target.runtime):
        return None
    return {
        "type": "prometheus",
        "name": "kv-cache-usage",
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": prometheus_url,
            "query": f"sum({name}{{{_matchers(target)}}})",
            "threshold": f"{policy.kv_cache_target:g}",
        },
    }


def keepalive_trigger(target: Target, prometheus_url: str) -> dict[str, Any]:
    """1 while requests reach the model's Ingress, else 0: wakes a scaled-to-zero model and keeps one
    replica while traffic flows (the server's own metrics vanish with its last pod)."""
    if not target.ingress:
        raise ValueError(f"{target.served_name}: scale to zero needs the model's Ingress for its wake-up signal")
    query = f'sum(rate(nginx_ingress_controller_requests{{namespace="{target.namespace}",ingress="{target.ingress}"}}[1m])) > bool 0'
    return {
        "type": "prometheus",
        "name": "keepalive",
        "metricType": "AverageValue",
        "metadata": {"serverAddress": prometheus_url, "query": query, "threshold": "1", "activationThreshold": "0"},
    }


def behavior(policy: ScalingPolicy) -> dict[str, Any]:
    return {
        "scaleDown": {
            "stabilizationWindowSeconds": policy.scale_down_stabilization_seconds,
            "policies": [{"type": "Pods", "value": SCALE_DOWN_PODS_PER_MINUTE, "periodSeconds": 60}],
        },
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Pods", "value": SCALE_UP_PODS_PER_MINUTE, "periodSeconds": 60}],
        },
    }


def scaled_object_spec(
    target: Target, policy: ScalingPolicy, prometheus_url: str, authentication: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`authentication` ({kind, name} of a (Cluster)TriggerAuthentication) is how KEDA signs its queries,
    e.g. as a Google service account against Managed Service for Prometheus."""
    triggers = [queue_trigger(target, policy, prometheus_url)]
    kv_cache = kv_cache_trigger(target, policy, prometheus_url)
    if kv_cache is not None:
        triggers.append(kv_cache)  # the HPA takes the larger of the triggers' replica counts
    if policy.scale_to_zero:
        triggers.append(keepalive_trigger(target, prometheus_url))
    if authentication is not None:
        triggers = [{**t, "authenticationRef": {"kind": authentication["kind"], "name": authentication["name"]}} for t in triggers]
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": target.api_version, "kind": target.kind, "name": target.name},
        "pollingInterval": policy.polling_seconds,
        "cooldownPeriod": policy.cooldown_seconds,
        "minReplicaCount": 0 if policy.scale_to_zero else policy.min_replicas,
        "maxReplicaCount": policy.max_replicas,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior(policy)}},
        "triggers": triggers,
    }
    if all(t["metricType"] == "AverageValue" for t in triggers):
        # KEDA supports a fallback only for AverageValue metrics: hold this many replicas while
        # Prometheus can't be read, rather than freezing at whatever the count was.
        spec["fallback"] = {
            "failureThreshold": FALLBACK_FAILURES,
            "replicas": min(policy.fallback_replicas, policy.max_replicas),
        }
    return spec


def adapter_metric_name(metric: str) -> str:
    """prometheus-adapter's name for a Prometheus metric (Kubernetes metric names can't hold ':')."""
    return metric.replace(":", "_")


def hpa_spec(target: Target, policy: ScalingPolicy) -> dict[str, Any]:
    if target.metrics.queue_duration:
        raise ValueError(f"{target.served_name}: Triton scales on a ratio of two series; use engine keda")
    metrics: list[dict[str, Any]] = [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": adapter_metric_name(target.metrics.requests_waiting)},
                "target": {"type": "AverageValue", "averageValue": str(policy.queue_threshold)},
            },
        }
    ]
    if policy.kv_cache_target is not None and target.metrics.kv_cache_usage:
        # Quantities: 0.8 is written 800m (the HPA's averageValue is a Kubernetes quantity).
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": adapter_metric_name(target.metrics.kv_cache_usage)},
                    "target": {"type": "AverageValue", "averageValue": f"{round(policy.kv_cache_target * 1000)}m"},
                },
            }
        )
    return {
        "scaleTargetRef": {"apiVersion": target.api_version, "kind": target.kind, "name": target.name},
        "minReplicas": policy.min_replicas,
        "maxReplicas": policy.max_replicas,
        "metrics": metrics,
        "behavior": behavior(policy),
    }


def adapter_rules(metrics: list[MetricNames], *, kv_cache: bool = False) -> list[dict[str, Any]]:
    """prometheus-adapter custom-metric rules exposing each server's queue gauge per pod (and, with `kv_cache`,
    its KV-cache usage gauge: serving.autoscaling.kv_cache_target under engine hpa)."""
    names = sorted({m.requests_waiting for m in metrics if not m.queue_duration})
    if kv_cache:
        names += sorted({m.kv_cache_usage for m in metrics if m.kv_cache_usage and not m.queue_duration})
    return [
        {
            "seriesQuery": f'{{__name__="{name}",namespace!="",pod!=""}}',
            "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
            "name": {"matches": f"^{name}$", "as": adapter_metric_name(name)},
            "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
        }
        for name in names
    ]


class AutoscalingArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    engine: Literal["keda", "hpa"] = Field(description="keda or hpa.")
    target: Target = Field(description="The workload to scale and its metrics.")
    policy: ScalingPolicy = Field(description="Bounds, thresholds and timings.")
    prometheus_url: str = Field(description="Prometheus that KEDA queries (unused for hpa).")
    labels: Mapping[str, str] = Field(default_factory=dict, description="Labels of the scaler object.")
    authentication: Mapping[str, str] | None = Field(
        default=None, description="KEDA: {kind, name} of the (Cluster)TriggerAuthentication its Prometheus queries use. Default none."
    )


class Autoscaling(pulumi.ComponentResource):
    def __init__(self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:Autoscaling", name, None, opts)
        target = args.target
        meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": target.name, "namespace": target.namespace, "labels": dict(args.labels)}
        here = pulumi.ResourceOptions(parent=self)
        if args.engine == "keda":
            k8s.apiextensions.CustomResource(
                child(name, "scaledobject"),
                api_version=KEDA_API_VERSION,
                kind="ScaledObject",
                metadata=meta,
                spec=scaled_object_spec(target, args.policy, args.prometheus_url, args.authentication),
                opts=here,
            )
        else:
            # Specs are rendered as Kubernetes JSON (camelCase keys, plain dicts the tests read) and cast to the
            # SDK's snake_case *ArgsDict types: the provider sends a dict's keys as written.
            spec = cast(k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgsDict, hpa_spec(target, args.policy))
            k8s.autoscaling.v2.HorizontalPodAutoscaler(child(name, "hpa"), metadata=meta, spec=spec, opts=here)
        self.register_outputs({})
