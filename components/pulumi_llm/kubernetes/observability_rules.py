"""Prometheus alert rules and a Grafana dashboard for the model servers, rendered as plain data.

Pure functions, no Pulumi: the Observability component wraps the results in a `PrometheusRule`
(`monitoring.coreos.com/v1`) and a ConfigMap that kube-prometheus-stack's Grafana sidecar loads.

    alert_rules(servers, slo)         → the `spec` of a PrometheusRule: {"groups": [...]}
    dashboard(servers, title)         → a Grafana dashboard (JSON model, schemaVersion 39)
    dashboard_configmap_data(...)     → {"<uid>.json": "<dashboard JSON>"} for a ConfigMap labelled
                                        GRAFANA_DASHBOARD_LABELS
    metrics_referenced(spec)          → every metric name the expressions of a rule spec or dashboard use

The runtime's own series come from `MetricNames`; the rest come from other exporters
(`EXTERNAL_METRICS`): Prometheus' `up`, kube-state-metrics and NVIDIA dcgm-exporter. The rules cover
what an LLM server needs watched: queue depth, KV-cache pressure, TTFT/e2e p99 over the SLO, restarts
and crash loops, GPU faults (XIDs), a GPU idle while requests wait, absent scrape targets; the metric
and label names each relies on are those of the pinned exporters (verify/facts/exporters.py cites them).

Label assumptions (documented where they are used):
- model-server series carry `namespace`, `job` and `pod` target labels and the runtime's own model label
  (`MetricNames.model_label`). A server is selected by `job`, not `service`: a ServiceMonitor's `job` is
  the Service's name, a GKE Managed Prometheus PodMonitoring's is its own name (the same, in
  model_serving), and PodMonitoring targets have no `service` label at all;
- kube-state-metrics is scraped with honorLabels (kube-prometheus-stack's default), so its `namespace`
  and `pod` labels are the workload's;
- a server's pods are named `<workload>-…` (Deployment, StatefulSet and LeaderWorkerSet pods all are);
- dcgm-exporter attributes GPUs to pods through its own `pod`/`namespace` labels, which every scrape the
  stacks set up stores as `exported_pod`/`exported_namespace` (`DcgmLabels`, the default).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

from pulumi_llm.runtimes import registry
from pulumi_llm.runtimes.spec import ContainerSpec, MetricNames, Runtime

from ..as_given import as_given

__all__ = [
    "DCGM_FB_FREE",
    "DCGM_FB_USED",
    "DCGM_GPU_UTIL",
    "DCGM_POWER_USAGE",
    "DCGM_XID_CODE_LABEL",
    "DCGM_XID_ERRORS",
    "EXTERNAL_METRICS",
    "GRAFANA_DASHBOARD_LABEL",
    "GRAFANA_DASHBOARD_LABELS",
    "GRAFANA_DASHBOARD_LABEL_VALUE",
    "GPU_FAULT_XIDS",
    "GPU_GROUP",
    "KSM_RESTARTS",
    "KSM_WAITING_REASON",
    "PROMETHEUS_RULE_API_VERSION",
    "PROMETHEUS_RULE_KIND",
    "RUNTIMES",
    "UP",
    "AlertThresholds",
    "DcgmLabels",
    "ServerMetrics",
    "alert_rules",
    "dashboard",
    "dashboard_configmap_data",
    "dashboard_uid",
    "group_name",
    "metrics_referenced",
    "promql_metric_names",
]

RUNTIMES: tuple[Runtime, ...] = registry.monitored()
"""The runtimes whose servers export Prometheus metrics, in registry order (groups and panels sort by it):
each declares its `MetricNames` in its module (runtimes/registry.py)."""

PROMETHEUS_RULE_API_VERSION = "monitoring.coreos.com/v1"
PROMETHEUS_RULE_KIND = "PrometheusRule"

GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"
"""ConfigMap label kube-prometheus-stack's Grafana sidecar watches (`sidecar.dashboards.label`)."""
GRAFANA_DASHBOARD_LABEL_VALUE = "1"
"""Its value (`sidecar.dashboards.labelValue`; the sidecar's default matches any value)."""
GRAFANA_DASHBOARD_LABELS: Mapping[str, str] = MappingProxyType({GRAFANA_DASHBOARD_LABEL: GRAFANA_DASHBOARD_LABEL_VALUE})

# Metrics from other exporters.
UP = "up"
"""Prometheus: 1 when the last scrape of a target succeeded."""
KSM_RESTARTS = "kube_pod_container_status_restarts_total"
KSM_WAITING_REASON = "kube_pod_container_status_waiting_reason"
DCGM_XID_ERRORS = "DCGM_FI_DEV_XID_ERRORS"
"""dcgm-exporter: a gauge holding the code of the GPU's last XID (0 = none yet), also carried in the
series' `err_code` label — so each new XID code is a new series."""
DCGM_XID_CODE_LABEL = "err_code"
GPU_FAULT_XIDS: tuple[int, ...] = (48, 63, 64, 74, 79, 94, 95, 119, 120, 140)
"""XIDs that mean a fault of the GPU itself, which a GPU reset (or more) clears: 48 double-bit ECC, 63/64
row-remap/page-retirement event and failure, 74 NVLink error, 79 fallen off the bus, 94/95 contained and
uncontained ECC, 119/120 GSP RPC timeout and GSP error (reset the GPU, power-cycle the node if it
persists), 140 unrecovered ECC (the driver could not offline the pages or remap the rows: reset the GPU).
The others (13, 31, 43, 45, …) are raised by an application's own errors and clear with it.
Source: NVIDIA, "Xid Errors", https://docs.nvidia.com/deploy/xid-errors/index.html (R555 edition,
sections "Xid 119, 120: GSP RPC Timeout / GSP Error" and "Xid 140: ECC unrecovered error"; the Ampere-and-
newer catalog at https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html lists each code's
resolution)."""
DCGM_GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
"""dcgm-exporter: GPU utilisation, percent 0..100."""
DCGM_FB_USED = "DCGM_FI_DEV_FB_USED"
"""dcgm-exporter: framebuffer memory used, MiB."""
DCGM_FB_FREE = "DCGM_FI_DEV_FB_FREE"
"""dcgm-exporter: framebuffer memory free, MiB."""
DCGM_POWER_USAGE = "DCGM_FI_DEV_POWER_USAGE"
"""dcgm-exporter: power draw, W."""

EXTERNAL_METRICS: frozenset[str] = frozenset(
    {UP, KSM_RESTARTS, KSM_WAITING_REASON, DCGM_XID_ERRORS, DCGM_GPU_UTIL, DCGM_FB_USED, DCGM_FB_FREE, DCGM_POWER_USAGE}
)
"""Metric names the rules and the dashboard use that no model server exposes."""

GPU_GROUP = "pulumi-llm.gpu"
"""Name of the cluster-wide rule group (GPU XID errors): a faulty GPU is a node fault, not a model's."""

_DURATION = re.compile(r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$")
"""Prometheus durations, as the PrometheusRule CRD validates them."""
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

WARNING = "warning"
CRITICAL = "critical"


# --------------------------------------------------------------------------------------------------
# Inputs


@as_given
@dataclass(frozen=True)
class AlertThresholds:
    """When the alerts fire. A threshold of None turns its alert off. Durations are Prometheus durations."""

    queue_depth: float = 10
    """LlmQueueDepthHigh: requests waiting in one replica (`MetricNames.requests_waiting`) above this …"""
    queue_for: str = "5m"
    """… for this long (also the `for` of LlmQueueTimeHigh). Twice KEDA's usual target of 5: sustained, it
    means autoscaling is not keeping up (at max replicas, or no GPU capacity for new ones)."""
    queue_compute_ratio: float = 2.0
    """LlmQueueTimeHigh (servers with queue/compute duration counters, i.e. Triton): queue time over compute
    time above this. Twice the autoscaling target of 1 from the Triton autoscaling tutorial."""
    kv_cache_usage: float | None = 0.90
    """LlmKvCacheNearlyFull: fraction 0..1 of one replica's KV cache in use above this …"""
    kv_cache_for: str = "10m"
    """… for this long: the engine is about to preempt requests."""
    ttft_p99_seconds: float | None = 2.0
    """LlmTtftP99AboveSlo (critical): p99 time to first token over this SLO, in seconds."""
    inter_token_latency_p99_seconds: float | None = None
    """LlmInterTokenLatencyP99AboveSlo: p99 inter-token latency over this SLO, in seconds. Off by default."""
    e2e_p99_seconds: float | None = 60.0
    """LlmE2eLatencyP99AboveSlo: p99 end-to-end request latency over this SLO, in seconds. It grows with
    the output length, so set it from the workload's max_tokens."""
    latency_for: str = "10m"
    """`for` of the latency SLO alerts."""
    latency_quantile: float = 0.99
    """Quantile the latency SLO alerts compare."""
    rate_window: str = "5m"
    """Window of every rate() and histogram rate in the alerts."""
    restarts: int | None = 3
    """LlmContainerRestarting: more than this many container restarts …"""
    restarts_window: str = "15m"
    """… within this window."""
    restarts_for: str = "0s"
    crashloop: bool = True
    """LlmCrashLooping (critical): a container in CrashLoopBackOff at some point in every `crashloop_window`
    for `crashloop_for` (kube-prometheus' KubePodCrashLooping)."""
    crashloop_window: str = "5m"
    crashloop_for: str = "15m"
    gpu_xid: bool = True
    """LlmGpuXidError (critical, cluster-wide): a GPU whose last XID is a GPU fault (GPU_FAULT_XIDS)."""
    gpu_xid_for: str = "0s"
    gpu_idle_while_waiting: bool = True
    """LlmGpuIdleWithQueuedRequests (critical): a replica has requests waiting while all its GPUs are at
    0 % utilisation: a hung engine. Needs dcgm-exporter's pod attribution (`DcgmLabels.pod`)."""
    gpu_idle_for: str = "10m"
    gpu_memory_used_fraction: float | None = None
    """LlmGpuMemoryNearlyFull: fraction of a replica's GPU memory used above this. Off by default: vLLM
    preallocates `--gpu-memory-utilization` (0.90–0.95) of every GPU, so a full GPU is normal there."""
    gpu_memory_for: str = "15m"
    target_down_for: str = "5m"
    """`for` of LlmScrapeTargetDown (one replica's /metrics fails) and LlmScrapeTargetAbsent (no replica
    scraped successfully). Raise it above the startup-probe budget when models load slowly."""
    runbook_base_url: str | None = None
    """When set, every alert gets `runbook_url: <base>/<AlertName>`."""

    def __post_init__(self) -> None:
        for name in (
            "queue_for",
            "kv_cache_for",
            "latency_for",
            "rate_window",
            "restarts_window",
            "restarts_for",
            "crashloop_window",
            "crashloop_for",
            "gpu_xid_for",
            "gpu_idle_for",
            "gpu_memory_for",
            "target_down_for",
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or not _DURATION.match(value):
                raise ValueError(f"AlertThresholds.{name}: {value!r} is not a Prometheus duration like '5m' or '1h30m'")
        for name in ("rate_window", "restarts_window", "crashloop_window"):
            if getattr(self, name) == "0":
                raise ValueError(f"AlertThresholds.{name}: a range window must be longer than 0")
        _check_positive("queue_depth", self.queue_depth)
        _check_positive("queue_compute_ratio", self.queue_compute_ratio)
        for name in ("ttft_p99_seconds", "inter_token_latency_p99_seconds", "e2e_p99_seconds"):
            if getattr(self, name) is not None:
                _check_positive(name, getattr(self, name))
        for name in ("kv_cache_usage", "gpu_memory_used_fraction"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and 0 < value < 1):
                raise ValueError(f"AlertThresholds.{name}: {value!r} must be a fraction between 0 and 1 (exclusive)")
        if not (isinstance(self.latency_quantile, float) and 0 < self.latency_quantile < 1):
            raise ValueError(f"AlertThresholds.latency_quantile: {self.latency_quantile!r} must be between 0 and 1")
        # As given: a caller's YAML may hold any type.
        if self.restarts is not None and (not isinstance(cast(object, self.restarts), int) or self.restarts < 0):
            raise ValueError(f"AlertThresholds.restarts: {self.restarts!r} must be a whole number >= 0")


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"AlertThresholds.{name}: {value!r} must be a number > 0")


@dataclass(frozen=True)
class DcgmLabels:
    """The labels dcgm-exporter's pod attribution arrives with in Prometheus.

    dcgm-exporter labels a GPU with the `namespace` and `pod` of the container using it. Both clash with
    the target labels every scrape adds (the exporter pod's own namespace and name), and the scrapes the
    stacks set up keep the target's: the dcgm-exporter chart's and the GPU Operator's ServiceMonitors
    with `honorLabels: false` (their default, which the stacks also set explicitly), and GKE Managed
    Prometheus' PodMonitoring, which has no honorLabels at all. So the workload's labels are stored as
    `exported_namespace` and `exported_pod` — the default here. Querying them, rather than turning on
    honorLabels, works the same under both scrapes and keeps an unattributed GPU from taking the exporter
    pod's name. None: no attribution (GPU panels show every GPU, the per-replica GPU alerts are left out).
    """

    namespace: str | None = "exported_namespace"
    pod: str | None = "exported_pod"

    def __post_init__(self) -> None:
        for name in ("namespace", "pod"):
            value = getattr(self, name)
            if value is not None and not _LABEL_NAME.match(value):
                raise ValueError(f"DcgmLabels.{name}: {value!r} is not a Prometheus label name")


@dataclass(frozen=True)
class ServerMetrics:
    """One model server as monitoring sees it: what it serves, where, and the metrics its runtime exposes."""

    served_name: str
    """The served model name, as the series' model label carries it."""
    namespace: str
    runtime: Runtime
    metrics: MetricNames
    service: str
    """The Kubernetes Service the ServiceMonitor scrapes, named like the PodMonitoring under GMP: the `job`
    label of the targets either way."""
    workload: str | None = None
    """Deployment / StatefulSet / LeaderWorkerSet whose pods (`<workload>-…`) run the server; default
    `service`."""
    uses_gpu: bool = True
    """False for CPU servers: no GPU alerts or panels on their account."""
    scales_to_zero: bool = False
    """True when autoscaling may remove every replica: no LlmScrapeTargetAbsent alert then."""
    slo: AlertThresholds | None = None
    """Thresholds for this server, overriding the ones given to alert_rules()."""

    def __post_init__(self) -> None:
        if not self.served_name or any(ch in self.served_name for ch in "\n\r\t") or "{{" in self.served_name:
            raise ValueError(f"ServerMetrics.served_name: {self.served_name!r} must be a non-empty single-line name")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"ServerMetrics.runtime: {self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        if not _DNS_LABEL.match(self.namespace):
            raise ValueError(f"ServerMetrics.namespace: {self.namespace!r} is not a Kubernetes namespace name")
        if not _DNS_LABEL.match(self.service):
            raise ValueError(f"ServerMetrics.service: {self.service!r} is not a Kubernetes Service name")
        if self.workload is not None and not _DNS_SUBDOMAIN.match(self.workload):
            raise ValueError(f"ServerMetrics.workload: {self.workload!r} is not a Kubernetes object name")
        if self.metrics.model_label and not _LABEL_NAME.match(self.metrics.model_label):
            raise ValueError(f"MetricNames.model_label: {self.metrics.model_label!r} is not a Prometheus label name")

    @classmethod
    def from_container(
        cls,
        spec: ContainerSpec,
        *,
        namespace: str,
        service: str,
        workload: str | None = None,
        scales_to_zero: bool = False,
        slo: AlertThresholds | None = None,
    ) -> ServerMetrics:
        """The monitoring view of a rendered container: runtime, served name, metric names and GPU use."""
        return cls(
            served_name=spec.served_name,
            namespace=namespace,
            runtime=spec.runtime,
            metrics=spec.metrics,
            service=service,
            workload=workload,
            uses_gpu=spec.resources.gpus > 0,
            scales_to_zero=scales_to_zero,
            slo=slo,
        )

    @property
    def pod_regex(self) -> str:
        """RE2 pattern of the server's pod names."""
        return (self.workload or self.service).replace(".", "\\.") + "-.*"

    @property
    def has_model_label(self) -> bool:
        """False for runtimes whose series carry no model label (llama.cpp): they are selected by job."""
        return bool(self.metrics.model_label)


# --------------------------------------------------------------------------------------------------
# PromQL rendering helpers


def _string(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selector(*matchers: tuple[str, str, str]) -> str:
    """`{a="x", b=~"y"}` from (label, op, value) triples, sorted by label name."""
    return "{" + ", ".join(f"{label}{op}{_string(value)}" for label, op, value in sorted(matchers)) + "}"


def _num(value: float) -> str:
    """A threshold as PromQL and people write it: 10, 0.9, 2.5."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _server_matchers(server: ServerMetrics) -> tuple[tuple[str, str, str], ...]:
    """The matchers that select a server's own series: its model label (or its Service) and namespace."""
    if server.has_model_label:
        return ((server.metrics.model_label, "=", server.served_name), ("namespace", "=", server.namespace))
    return (("job", "=", server.service), ("namespace", "=", server.namespace))


def _pod_matchers(server: ServerMetrics) -> tuple[tuple[str, str, str], ...]:
    return (("namespace", "=", server.namespace), ("pod", "=~", server.pod_regex))


def _dcgm_by_pod(server: ServerMetrics, dcgm: DcgmLabels, inner: str) -> str:
    """`max by (pod) (<inner>)` over the server's GPUs, `{sel}` in inner replaced by the DCGM selector.

    The DCGM pod label is renamed to `pod` (label_replace) when it arrives under another name, so the
    result joins with the server's own per-pod series.
    """
    assert dcgm.pod is not None
    matchers = [(dcgm.pod, "=~", server.pod_regex)]
    if dcgm.namespace:
        matchers.append((dcgm.namespace, "=", server.namespace))
    body = inner.replace("{sel}", _selector(*matchers))
    if dcgm.pod != "pod":
        body = f'label_replace({body}, "pod", "$1", {_string(dcgm.pod)}, "(.*)")'
    return f"max by (pod) ({body})"


def _quantile(q: float, histogram: str, selector: str, window: str, by: Sequence[str] = ()) -> str:
    labels = ", ".join(("le", *by))
    return f"histogram_quantile({_num(q)}, sum by ({labels}) (rate({histogram}_bucket{selector}[{window}])))"


def group_name(server: ServerMetrics) -> str:
    """Name of a server's rule group: unique per Service."""
    return f"pulumi-llm.{server.namespace}.{server.service}"


# --------------------------------------------------------------------------------------------------
# Alert rules


def _rule(
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    slo: AlertThresholds,
    server: ServerMetrics | None,
) -> dict[str, Any]:
    labels = {"severity": severity}
    if server is not None:
        labels.update({"namespace": server.namespace, "model": server.served_name, "runtime": server.runtime})
    annotations = {"summary": summary, "description": description}
    if slo.runbook_base_url:
        annotations["runbook_url"] = f"{slo.runbook_base_url.rstrip('/')}/{name}"
    return {"alert": name, "expr": expr, "for": for_, "labels": labels, "annotations": annotations}


def _where(server: ServerMetrics) -> str:
    """How an alert's description names the server."""
    return f"model {server.served_name} in namespace {server.namespace}"


def _adder(rules: list[dict[str, Any]], slo: AlertThresholds, server: ServerMetrics) -> Callable[[str, str, str, str, str, str], None]:
    """`add(name, expr, for_, severity, summary, description)`: appends that server's rule to `rules`."""

    def add(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> None:
        rules.append(_rule(name, expr, for_, severity, summary, description, slo, server))

    return add


def _saturation_rules(server: ServerMetrics, slo: AlertThresholds) -> list[dict[str, Any]]:
    """Requests queueing (by queue:compute time where the runtime counts both) and the KV cache nearly full."""
    m = server.metrics
    sel = _selector(*_server_matchers(server))
    win = slo.rate_window
    where = _where(server)
    rules: list[dict[str, Any]] = []
    add = _adder(rules, slo, server)

    # Queue: queue:compute time ratio where the runtime counts both (Triton), else the waiting requests.
    if m.queue_duration and m.compute_duration:
        add(
            "LlmQueueTimeHigh",
            f"sum by (pod) (rate({m.queue_duration}{sel}[{win}])) / "
            f"sum by (pod) (rate({m.compute_duration}{sel}[{win}]))"
            f" > {_num(slo.queue_compute_ratio)}",
            slo.queue_for,
            WARNING,
            f"Requests to {server.served_name} queue longer than they compute",
            f"{{{{ $labels.pod }}}} ({where}) spends {{{{ $value | humanize }}}}× as long queueing requests as "
            f"computing them (threshold {_num(slo.queue_compute_ratio)}) for {slo.queue_for}: the replicas are "
            "saturated and autoscaling is not keeping up.",
        )
    else:
        add(
            "LlmQueueDepthHigh",
            f"sum by (pod) ({m.requests_waiting}{sel}) > {_num(slo.queue_depth)}",
            slo.queue_for,
            WARNING,
            f"Requests to {server.served_name} are queueing",
            f"{{{{ $labels.pod }}}} ({where}) has {{{{ $value }}}} requests waiting, more than "
            f"{_num(slo.queue_depth)} for {slo.queue_for}: the replicas are saturated and autoscaling is not "
            "keeping up (at max replicas, or no GPU capacity for new ones).",
        )

    if m.kv_cache_usage and slo.kv_cache_usage is not None:
        add(
            "LlmKvCacheNearlyFull",
            f"max by (pod) ({m.kv_cache_usage}{sel}) > {_num(slo.kv_cache_usage)}",
            slo.kv_cache_for,
            WARNING,
            f"KV cache of {server.served_name} nearly full",
            f"{{{{ $labels.pod }}}} ({where}) uses {{{{ $value | humanizePercentage }}}} of its KV cache "
            f"(threshold {_num(slo.kv_cache_usage)}) for {slo.kv_cache_for}: requests will be preempted and "
            "recomputed. Add replicas, lower max-num-seqs or max-model-len, or give the cache more GPU memory.",
        )
    return rules


def _latency_rules(server: ServerMetrics, slo: AlertThresholds) -> list[dict[str, Any]]:
    """The latency quantiles (time to first token, inter-token, end-to-end) over their SLOs."""
    m = server.metrics
    sel = _selector(*_server_matchers(server))
    win = slo.rate_window
    where = _where(server)
    rules: list[dict[str, Any]] = []
    add = _adder(rules, slo, server)

    q = slo.latency_quantile
    pct = f"p{_num(q * 100)}"
    for metric, threshold, name, what, severity in (
        (m.time_to_first_token, slo.ttft_p99_seconds, "LlmTtftP99AboveSlo", "time to first token", CRITICAL),
        (
            m.inter_token_latency,
            slo.inter_token_latency_p99_seconds,
            "LlmInterTokenLatencyP99AboveSlo",
            "inter-token latency",
            WARNING,
        ),
        (m.e2e_latency, slo.e2e_p99_seconds, "LlmE2eLatencyP99AboveSlo", "end-to-end latency", WARNING),
    ):
        if metric and threshold is not None:
            add(
                name,
                f"{_quantile(q, metric, sel, win)} > {_num(threshold)}",
                slo.latency_for,
                severity,
                f"{pct} {what} of {server.served_name} over its {_num(threshold)}s SLO",
                f"{pct} {what} of {where} is {{{{ $value | humanizeDuration }}}}, over the {_num(threshold)}s SLO for {slo.latency_for}.",
            )
    return rules


def _container_rules(server: ServerMetrics, slo: AlertThresholds) -> list[dict[str, Any]]:
    """Containers restarting or crash looping."""
    where = _where(server)
    rules: list[dict[str, Any]] = []
    add = _adder(rules, slo, server)

    pods = _selector(*_pod_matchers(server))
    if slo.restarts is not None:
        add(
            "LlmContainerRestarting",
            f"sum by (pod, container) (increase({KSM_RESTARTS}{pods}[{slo.restarts_window}])) > {slo.restarts}",
            slo.restarts_for,
            WARNING,
            f"A container serving {server.served_name} keeps restarting",
            f"Container {{{{ $labels.container }}}} of {{{{ $labels.pod }}}} ({where}) restarted "
            f"{{{{ $value | humanize }}}} times in {slo.restarts_window}. Slow model loads failing the startup "
            "probe and GPU out-of-memory are the usual causes: check the previous container's log.",
        )
    if slo.crashloop:
        crash = _selector(*_pod_matchers(server), ("reason", "=", "CrashLoopBackOff"))
        add(
            "LlmCrashLooping",
            f"max by (pod, container) (max_over_time({KSM_WAITING_REASON}{crash}[{slo.crashloop_window}])) >= 1",
            slo.crashloop_for,
            CRITICAL,
            f"A container serving {server.served_name} is crash looping",
            f"Container {{{{ $labels.container }}}} of {{{{ $labels.pod }}}} ({where}) has been in "
            f"CrashLoopBackOff for {slo.crashloop_for}.",
        )
    return rules


def _gpu_server_rules(server: ServerMetrics, slo: AlertThresholds, dcgm: DcgmLabels) -> list[dict[str, Any]]:
    """The server's GPUs idle while requests wait, or their memory nearly full (DCGM, by pod)."""
    m = server.metrics
    sel = _selector(*_server_matchers(server))
    where = _where(server)
    rules: list[dict[str, Any]] = []
    add = _adder(rules, slo, server)

    if server.uses_gpu and dcgm.pod:
        if slo.gpu_idle_while_waiting:
            add(
                "LlmGpuIdleWithQueuedRequests",
                f"(sum by (pod) ({m.requests_waiting}{sel}) > 0) and on (pod) ({_dcgm_by_pod(server, dcgm, DCGM_GPU_UTIL + '{sel}')} == 0)",
                slo.gpu_idle_for,
                CRITICAL,
                f"GPUs of {server.served_name} idle while requests wait",
                f"{{{{ $labels.pod }}}} ({where}) has requests waiting but its GPUs have been at 0 % "
                f"utilisation for {slo.gpu_idle_for}: the engine is hung. Restart the pod and check the GPU.",
            )
        if slo.gpu_memory_used_fraction is not None:
            fraction = f"{DCGM_FB_USED}{{sel}} / ({DCGM_FB_USED}{{sel}} + {DCGM_FB_FREE}{{sel}})"
            add(
                "LlmGpuMemoryNearlyFull",
                f"{_dcgm_by_pod(server, dcgm, fraction)} > {_num(slo.gpu_memory_used_fraction)}",
                slo.gpu_memory_for,
                WARNING,
                f"GPU memory of {server.served_name} nearly full",
                f"A GPU of {{{{ $labels.pod }}}} ({where}) has {{{{ $value | humanizePercentage }}}} of its "
                f"memory in use (threshold {_num(slo.gpu_memory_used_fraction)}) for {slo.gpu_memory_for}.",
            )
    return rules


def _scrape_rules(server: ServerMetrics, slo: AlertThresholds) -> list[dict[str, Any]]:
    """Replicas Prometheus cannot scrape, and (unless it scales to zero) no replica at all."""
    where = _where(server)
    rules: list[dict[str, Any]] = []
    add = _adder(rules, slo, server)

    up = _selector(("job", "=", server.service), ("namespace", "=", server.namespace))
    add(
        "LlmScrapeTargetDown",
        f"{UP}{up} == 0",
        slo.target_down_for,
        WARNING,
        f"A replica of {server.served_name} can't be scraped",
        f"Prometheus has failed to scrape {{{{ $labels.pod }}}} ({where}, Service {server.service}) for "
        f"{slo.target_down_for}: the server is down, still loading the model, or its metrics port is wrong.",
    )
    if not server.scales_to_zero:
        add(
            "LlmScrapeTargetAbsent",
            f"absent({UP}{up} == 1)",
            slo.target_down_for,
            CRITICAL,
            f"No replica of {server.served_name} is up",
            f"No target of Service {server.service} ({where}) has been scraped successfully for "
            f"{slo.target_down_for}: no replica is serving, or the ServiceMonitor does not select it.",
        )
    return rules


def _server_rules(server: ServerMetrics, slo: AlertThresholds, dcgm: DcgmLabels) -> list[dict[str, Any]]:
    return [
        *_saturation_rules(server, slo),
        *_latency_rules(server, slo),
        *_container_rules(server, slo),
        *_gpu_server_rules(server, slo, dcgm),
        *_scrape_rules(server, slo),
    ]


def _gpu_rules(slo: AlertThresholds) -> list[dict[str, Any]]:
    if not slo.gpu_xid:
        return []
    # The gauge keeps the last XID's code until the GPU is reset, and `err_code` repeats it, so a new XID
    # is a new series: `!= 0` would fire on benign application XIDs and never clear, and changes() over a
    # series never sees one. Alert while the last XID is a GPU fault; the reset that fault needs clears it.
    faults = "|".join(str(code) for code in GPU_FAULT_XIDS)
    return [
        _rule(
            "LlmGpuXidError",
            f"{DCGM_XID_ERRORS}{_selector((DCGM_XID_CODE_LABEL, '=~', faults))}",
            slo.gpu_xid_for,
            CRITICAL,
            "A GPU reported a fault XID",
            "GPU {{ $labels.gpu }} ({{ $labels.UUID }}) on {{ $labels.Hostname }} last reported XID {{ $value }} "
            f"(one of {', '.join(str(code) for code in GPU_FAULT_XIDS)}: a memory, NVLink, bus or GSP fault). "
            "Drain the node and reset the GPU; the reset clears this alert.",
            slo,
            None,
        )
    ]


def _check_servers(servers: Sequence[ServerMetrics]) -> None:
    if not servers:
        raise ValueError("no servers to monitor")
    seen_service: set[tuple[str, str]] = set()
    seen_model: set[tuple[str, str, str]] = set()
    for server in servers:
        # As given: callers in other languages may pass anything.
        if not isinstance(cast(object, server), ServerMetrics):
            raise TypeError(f"expected ServerMetrics, got {type(server).__name__}")
        key = (server.namespace, server.service)
        if key in seen_service:
            raise ValueError(f"two servers use Service {server.service} in namespace {server.namespace}")
        seen_service.add(key)
        if server.has_model_label:
            model_key = (server.namespace, server.metrics.model_label, server.served_name)
            if model_key in seen_model:
                raise ValueError(
                    f"two servers serve {server.served_name} in namespace {server.namespace}: their series could not be told apart"
                )
            seen_model.add(model_key)


def alert_rules(
    servers: Sequence[ServerMetrics],
    slo: AlertThresholds | None = None,
    *,
    dcgm: DcgmLabels | None = None,
) -> dict[str, Any]:
    """The `spec` of a PrometheusRule: one group per server (sorted by name), plus the GPU group.

    Alerts whose metric the runtime does not expose are left out (e.g. no KV-cache alert for Triton).
    Every alert has `labels.severity` (warning | critical); a server's alerts also carry its `namespace`,
    `model` (served name) and `runtime` for routing.
    """
    _check_servers(servers)
    slo = slo or AlertThresholds()
    dcgm = dcgm or DcgmLabels()
    groups = [{"name": group_name(s), "rules": _server_rules(s, s.slo or slo, dcgm)} for s in servers]
    if any(s.uses_gpu for s in servers):
        gpu = _gpu_rules(slo)
        if gpu:
            groups.append({"name": GPU_GROUP, "rules": gpu})
    return {"groups": sorted(groups, key=lambda g: g["name"])}


# --------------------------------------------------------------------------------------------------
# Metric names used by expressions

_PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_PROMQL_BRACES = re.compile(r"\{[^{}]*\}")
_PROMQL_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_PROMQL_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_PROMQL_IDENT = re.compile(r"(?<![\w:.$])[A-Za-z_:][\w:]*")
_PROMQL_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "atan2",
        "inf",
        "nan",
    }
)
_HISTOGRAM_SUFFIXES = ("_sum", "_count")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names in one PromQL expression, as written (`x_bucket` stays `x_bucket`).

    Good enough for the expressions this module writes: strings, label matchers, ranges and grouping
    clauses are dropped, then every identifier that is not a keyword or a function call is a metric.
    """
    text = _PROMQL_STRING.sub('""', expr)
    text = _PROMQL_BRACES.sub("{}", text)
    text = _PROMQL_BRACKETS.sub("[]", text)
    text = _PROMQL_GROUPING.sub(" ", text)
    names: set[str] = set()
    for match in _PROMQL_IDENT.finditer(text):
        name = match.group(0)
        if name.lower() in _PROMQL_KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function call
        names.add(name)
    return names


def _exprs(obj: Any) -> Iterator[str]:
    """Every string under an `expr` key, anywhere in a rule spec or dashboard."""
    if isinstance(obj, Mapping):
        for key, value in cast(Mapping[Any, Any], obj).items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from _exprs(value)
    elif isinstance(obj, list | tuple):
        for item in cast(Sequence[Any], obj):
            yield from _exprs(item)


def metrics_referenced(spec: Mapping[str, Any]) -> set[str]:
    """Every metric name the `expr` strings of a rule spec (or a dashboard) use.

    Histogram series map back to their base name: `x_bucket` → `x`, and `x_sum` / `x_count` → `x` when
    `x_bucket` is used too (a plain counter may end in `_count`, e.g. Triton's `nv_inference_count`).
    """
    raw: set[str] = set()
    for expr in _exprs(spec):
        raw |= promql_metric_names(expr)
    out: set[str] = set()
    for name in raw:
        if name.endswith("_bucket"):
            name = name.removesuffix("_bucket")
        else:
            for suffix in _HISTOGRAM_SUFFIXES:
                if name.endswith(suffix) and name.removesuffix(suffix) + "_bucket" in raw:
                    name = name.removesuffix(suffix)
        out.add(name)
    return out


# --------------------------------------------------------------------------------------------------
# Grafana dashboard

SCHEMA_VERSION = 39
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_PANEL_HEIGHT = 8
_PANEL_WIDTH = 12
_GRID_WIDTH = 24
_RANGE = "$__rate_interval"


def dashboard_uid(title: str) -> str:
    """A stable Grafana uid (≤ 40 characters) from the title: its slug and a short hash of it."""
    if not title.strip():
        raise ValueError("dashboard title must not be empty")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:31].strip("-") or "dashboard"
    return f"{slug}-{hashlib.sha256(title.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class _Group:
    """Servers sharing one set of metric names: one target per panel for all of them."""

    runtime: Runtime
    metrics: MetricNames
    services: tuple[str, ...]

    @property
    def selector(self) -> str:
        if self.metrics.model_label:
            return _selector(("namespace", "=~", "$namespace"), (self.metrics.model_label, "=~", "$model"))
        return _selector(("job", "=~", "|".join(self.services)), ("namespace", "=~", "$namespace"))

    @property
    def by(self) -> tuple[str, ...]:
        return ("namespace", self.metrics.model_label or "job")

    @property
    def legend(self) -> str:
        return "{{namespace}}/{{" + (self.metrics.model_label or "job") + "}}"


def _groups(servers: Sequence[ServerMetrics]) -> list[_Group]:
    services: dict[tuple[str, MetricNames], list[str]] = {}
    for server in servers:
        services.setdefault((server.runtime, server.metrics), []).append(server.service)
    groups = [_Group(runtime, metrics, tuple(sorted(set(names)))) for (runtime, metrics), names in services.items()]
    return sorted(groups, key=lambda g: (RUNTIMES.index(g.runtime), repr(g.metrics)))


@dataclass(frozen=True)
class _PanelDef:
    title: str
    unit: str
    description: str
    targets: Callable[[_Group], list[tuple[str, str]]]
    """(expr, legend) per group of servers; empty when the group's runtime lacks the metric."""
    max: float | None = None


def _sum_rate(g: _Group, name: str) -> str:
    return f"sum by ({', '.join(g.by)}) (rate({name}{g.selector}[{_RANGE}]))"


def _latency_targets(attr: str) -> Callable[[_Group], list[tuple[str, str]]]:
    def targets(g: _Group) -> list[tuple[str, str]]:
        name = getattr(g.metrics, attr)
        if not name:
            return []
        return [(_quantile(q, name, g.selector, _RANGE, g.by), f"{g.legend} p{round(q * 100)}") for q in (0.5, 0.99)]

    return targets


_COUNTERS_WITHOUT_TOTAL = frozenset({"nv_inference_exec_count"})
"""Counters not named by the `_total` convention that MetricNames puts in a gauge's place (Triton has
no in-flight gauge, so its `requests_running` is this execution counter). Not every `_count` is one:
`nv_inference_pending_request_count` is a gauge."""


def _is_counter(name: str) -> bool:
    return name.endswith("_total") or name in _COUNTERS_WITHOUT_TOTAL


def _load_targets(g: _Group) -> list[tuple[str, str]]:
    """Running and waiting requests; a runtime with no in-flight gauge (Triton) shows its execution rate."""
    out: list[tuple[str, str]] = []
    for name, what in ((g.metrics.requests_running, "running"), (g.metrics.requests_waiting, "waiting")):
        if _is_counter(name):
            out.append((_sum_rate(g, name), f"{g.legend} {'executions' if what == 'running' else what}/s"))
        else:
            out.append((f"sum by ({', '.join(g.by)}) ({name}{g.selector})", f"{g.legend} {what}"))
    return out


def _queue_ratio_targets(g: _Group) -> list[tuple[str, str]]:
    m = g.metrics
    if not (m.queue_duration and m.compute_duration):
        return []
    return [(f"{_sum_rate(g, m.queue_duration)} / {_sum_rate(g, m.compute_duration)}", g.legend)]


def _kv_targets(g: _Group) -> list[tuple[str, str]]:
    m = g.metrics
    if not m.kv_cache_usage:
        return []
    return [(f"max by (namespace, pod) ({m.kv_cache_usage}{g.selector})", "{{namespace}}/{{pod}}")]


def _preemption_targets(g: _Group) -> list[tuple[str, str]]:
    m = g.metrics
    return [(_sum_rate(g, m.preemptions), g.legend)] if m.preemptions else []


def _token_targets(g: _Group) -> list[tuple[str, str]]:
    m = g.metrics
    out: list[tuple[str, str]] = []
    if m.prompt_tokens:
        out.append((_sum_rate(g, m.prompt_tokens), f"{g.legend} prompt"))
    if m.generation_tokens:
        out.append((_sum_rate(g, m.generation_tokens), f"{g.legend} generation"))
    return out


def _prefix_targets(g: _Group) -> list[tuple[str, str]]:
    m = g.metrics
    if not (m.prefix_cache_hits and m.prefix_cache_queries):
        return []
    return [(f"{_sum_rate(g, m.prefix_cache_hits)} / {_sum_rate(g, m.prefix_cache_queries)}", g.legend)]


_SECTIONS: tuple[tuple[str, tuple[_PanelDef, ...]], ...] = (
    (
        "Latency",
        (
            _PanelDef(
                "Time to first token",
                "s",
                "p50 and p99 time from a request's arrival to its first output token (queueing + prefill).",
                _latency_targets("time_to_first_token"),
            ),
            _PanelDef(
                "Inter-token latency",
                "s",
                "p50 and p99 time between output tokens of a request (decode speed, TPOT).",
                _latency_targets("inter_token_latency"),
            ),
            _PanelDef(
                "End-to-end request latency",
                "s",
                "p50 and p99 time from a request's arrival to its last token.",
                _latency_targets("e2e_latency"),
            ),
        ),
    ),
    (
        "Load",
        (
            _PanelDef(
                "Requests running and waiting",
                "short",
                "Requests in the running batch and in the queue. A queue that stays up means the replicas are "
                "saturated. Runtimes with no in-flight gauge (Triton) show executions per second instead.",
                _load_targets,
            ),
            _PanelDef(
                "Queue time / compute time",
                "short",
                "Time requests spent queued over time spent computing. Above 1, requests wait longer than they run.",
                _queue_ratio_targets,
            ),
            _PanelDef(
                "KV cache usage",
                "percentunit",
                "Fraction of each replica's KV cache in use. Near 100 %, requests get preempted.",
                _kv_targets,
                max=1,
            ),
            _PanelDef(
                "Preemptions",
                "ops",
                "Requests preempted per second because the KV cache ran out; they are recomputed later.",
                _preemption_targets,
            ),
        ),
    ),
    (
        "Tokens and cache",
        (
            _PanelDef(
                "Tokens per second",
                "suffix:tok/s",
                "Prompt (prefill) and generated (decode) tokens processed per second.",
                _token_targets,
            ),
            _PanelDef(
                "Prefix cache hit rate",
                "percentunit",
                "Share of prompt tokens served from the prefix cache (hits / queries).",
                _prefix_targets,
                max=1,
            ),
        ),
    ),
)

_GPU_PANELS: tuple[tuple[str, str, str, str], ...] = (
    ("GPU utilisation", DCGM_GPU_UTIL, "percent", "GPU utilisation from dcgm-exporter."),
    ("GPU memory used", DCGM_FB_USED, "mbytes", "GPU framebuffer memory in use from dcgm-exporter (MiB)."),
    ("GPU power", DCGM_POWER_USAGE, "watt", "GPU power draw from dcgm-exporter."),
)


def _gpu_panels(servers: Sequence[ServerMetrics], dcgm: DcgmLabels) -> list[tuple[_PanelDef, list[tuple[str, str]]]]:
    """The DCGM panels (one target each, not per runtime), filtered to the servers' pods when attributed."""
    gpu_servers = [s for s in servers if s.uses_gpu]
    if not gpu_servers:
        return []
    matchers: list[tuple[str, str, str]] = []
    if dcgm.namespace:
        matchers.append((dcgm.namespace, "=~", "$namespace"))
    if dcgm.pod:
        pods = sorted({s.pod_regex for s in gpu_servers})
        matchers.append((dcgm.pod, "=~", pods[0] if len(pods) == 1 else "(" + ")|(".join(pods) + ")"))
    selector = _selector(*matchers) if matchers else ""
    legend = ("{{" + dcgm.pod + "}}" if dcgm.pod else "{{Hostname}}") + " GPU {{gpu}}"
    return [
        (_PanelDef(title, unit, description, lambda g: []), [(f"{metric}{selector}", legend)])
        for title, metric, unit, description in _GPU_PANELS
    ]


def _custom_variable(name: str, label: str, values: Sequence[str]) -> dict[str, Any]:
    all_option = {"selected": True, "text": "All", "value": "$__all"}
    return {
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [all_option] + [{"selected": False, "text": v, "value": v} for v in values],
        "query": ",".join(v.replace(",", "\\,") for v in values),
        "skipUrlSync": False,
        "type": "custom",
    }


def _timeseries(panel_id: int, definition: _PanelDef, targets: list[dict[str, Any]], x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "custom": {"drawStyle": "line", "fillOpacity": 10, "lineWidth": 1, "showPoints": "never", "spanNulls": False},
        "min": 0,
        "unit": definition.unit,
    }
    if definition.max is not None:
        defaults["max"] = definition.max
    return {
        "datasource": dict(_DATASOURCE),
        "description": definition.description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": {"h": _PANEL_HEIGHT, "w": _PANEL_WIDTH, "x": x, "y": y},
        "id": panel_id,
        "options": {
            "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
        "title": definition.title,
        "type": "timeseries",
    }


def _ref_id(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _unique(targets: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Targets in order, without repeats (two metric-name sets may share a series, e.g. two Triton kinds)."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for expr, legend in targets:
        if expr not in seen:
            seen.add(expr)
            out.append((expr, legend))
    return out


def dashboard(
    servers: Sequence[ServerMetrics],
    title: str = "LLM serving",
    *,
    dcgm: DcgmLabels | None = None,
) -> dict[str, Any]:
    """A Grafana dashboard for the servers: a row per section, two time-series panels a line.

    Variables: `datasource` (Prometheus), `namespace` and `model` (the servers' namespaces and served
    names). A panel appears only when some server's runtime exposes its metric; GPU panels (DCGM) only
    when some server uses GPUs. Panel ids and target refIds are stable for the same input.
    """
    _check_servers(servers)
    dcgm = dcgm or DcgmLabels()
    uid = dashboard_uid(title)
    groups = _groups(servers)
    sections: list[tuple[str, list[tuple[_PanelDef, list[tuple[str, str]]]]]] = [
        (name, [(d, _unique(t for g in groups for t in d.targets(g))) for d in definitions]) for name, definitions in _SECTIONS
    ]
    sections.append(("GPU", _gpu_panels(servers, dcgm)))

    panels: list[dict[str, Any]] = []
    next_id = 1
    y = 0
    for section_title, candidates in sections:
        section_panels = [(d, t) for d, t in candidates if t]
        if not section_panels:
            continue
        panels.append(
            {
                "collapsed": False,
                "gridPos": {"h": 1, "w": _GRID_WIDTH, "x": 0, "y": y},
                "id": next_id,
                "panels": [],
                "title": section_title,
                "type": "row",
            }
        )
        next_id += 1
        y += 1
        for index, (definition, exprs) in enumerate(section_panels):
            if index and index % 2 == 0:
                y += _PANEL_HEIGHT
            targets = [
                {
                    "datasource": dict(_DATASOURCE),
                    "editorMode": "code",
                    "expr": expr,
                    "legendFormat": legend,
                    "range": True,
                    "refId": _ref_id(i),
                }
                for i, (expr, legend) in enumerate(exprs)
            ]
            panels.append(_timeseries(next_id, definition, targets, (index % 2) * _PANEL_WIDTH, y))
            next_id += 1
        y += _PANEL_HEIGHT

    namespaces = sorted({s.namespace for s in servers})
    models = sorted({s.served_name for s in servers})
    return {
        "annotations": {"list": []},
        "description": "Model-server latency, load, tokens and GPUs (pulumi-llm).",
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["llm", "pulumi-llm"],
        "templating": {
            "list": [
                {
                    "current": {},
                    "hide": 0,
                    "includeAll": False,
                    "label": "Data source",
                    "multi": False,
                    "name": "datasource",
                    "options": [],
                    "query": "prometheus",
                    "refresh": 1,
                    "regex": "",
                    "skipUrlSync": False,
                    "type": "datasource",
                },
                _custom_variable("namespace", "Namespace", namespaces),
                _custom_variable("model", "Model", models),
            ]
        },
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }


def dashboard_configmap_data(
    servers: Sequence[ServerMetrics],
    title: str = "LLM serving",
    *,
    dcgm: DcgmLabels | None = None,
) -> dict[str, str]:
    """`data` of a ConfigMap labelled GRAFANA_DASHBOARD_LABELS: {"<uid>.json": the dashboard as JSON}."""
    board = dashboard(servers, title, dcgm=dcgm)
    return {f"{board['uid']}.json": json.dumps(board, sort_keys=True, indent=2)}
