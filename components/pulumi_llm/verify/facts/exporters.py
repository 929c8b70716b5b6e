"""What each pinned exporter emits (metric names, types, labels) and what each scrape adds or renames.

The `observability.*` rules check every PromQL expression of a plan against these: a metric name no
exporter of the stack emits, or a label the series does not carry *as scraped*, gives an alert that
never fires and a panel that stays empty — nothing reports the mistake at run time.

"As scraped": Prometheus attaches target labels to every series of a target. When the exporter already
emits a label of that name and the scrape does not honour the exporter's labels (`honor_labels: false`,
the default everywhere below), the exporter's value moves to `exported_<name>` and the target's value
takes the name (prometheus/prometheus docs/configuration/configuration.md, `honor_labels`). So on
dcgm-exporter series behind a ServiceMonitor, `pod` is the exporter's own pod and the GPU's workload is
`exported_pod`.

Each fact carries the upstream repository, file and tag it was read at. The model servers' facts are
declared by their runtime modules (`RuntimeInfo.exporters`, next to the image they describe) so that a new
runtime brings its own; this module holds the other exporters and reads those through the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ...exporter_facts import COUNTER, GAUGE, HISTOGRAM, HISTOGRAM_SERIES, INFO, Exporter
from ...runtimes import registry

__all__ = ["COUNTER", "GAUGE", "HISTOGRAM", "HISTOGRAM_SERIES", "INFO", "Exporter"]

# ---- dcgm-exporter ---------------------------------------------------------------------------------------
# github.com/NVIDIA/dcgm-exporter, tag 4.5.3-4.8.2 (chart 4.8.2, pins.DCGM_EXPORTER_CHART; the same image
# the GPU Operator v26.3.3 runs):
# - etc/default-counters.csv: the families and their types. The chart's default `arguments` read this
#   file (deployment/values.yaml). DCGM_FI_DEV_XID_ERRORS is a gauge holding the *value of the last XID*.
# - internal/pkg/rendermetrics/render_metrics.go: every GPU series carries gpu, UUID, pci_bus_id, device,
#   modelName and Hostname (renamed `hostname` only after this tag), plus DCGM_FI_DRIVER_VERSION (a
#   `label` field of the CSV).
# - internal/pkg/transformation/const.go: the pod attribution labels `pod`, `namespace`, `container`
#   (what the exporter adds for a GPU a pod holds; the workload's, not the exporter's).
# - internal/pkg/collector/gpu_collector.go: XID series also carry err_code and err_msg.
WORKLOAD_LABELS = frozenset({"pod", "namespace", "container"})
"""Labels by which dcgm-exporter and kube-state-metrics name the pod a series is about — the same names
as the target labels of the exporter's own pod."""
DCGM_ATTRIBUTION = WORKLOAD_LABELS
DCGM_EXPORTER = Exporter(
    name="dcgm-exporter",
    version="4.5.3-4.8.2",
    source="NVIDIA/dcgm-exporter etc/default-counters.csv, internal/pkg/rendermetrics/render_metrics.go @ 4.5.3-4.8.2",
    metrics=MappingProxyType(
        {
            "DCGM_FI_DEV_SM_CLOCK": GAUGE,
            "DCGM_FI_DEV_MEM_CLOCK": GAUGE,
            "DCGM_FI_DEV_MEMORY_TEMP": GAUGE,
            "DCGM_FI_DEV_GPU_TEMP": GAUGE,
            "DCGM_FI_DEV_POWER_USAGE": GAUGE,
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": COUNTER,
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": COUNTER,
            "DCGM_FI_DEV_GPU_UTIL": GAUGE,
            "DCGM_FI_DEV_MEM_COPY_UTIL": GAUGE,
            "DCGM_FI_DEV_ENC_UTIL": GAUGE,
            "DCGM_FI_DEV_DEC_UTIL": GAUGE,
            "DCGM_FI_DEV_XID_ERRORS": GAUGE,
            "DCGM_FI_DEV_FB_FREE": GAUGE,
            "DCGM_FI_DEV_FB_USED": GAUGE,
            "DCGM_FI_DEV_FB_RESERVED": GAUGE,
            "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": COUNTER,
            "DCGM_FI_DEV_VGPU_LICENSE_STATUS": GAUGE,
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": COUNTER,
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": COUNTER,
            "DCGM_FI_DEV_ROW_REMAP_FAILURE": GAUGE,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": GAUGE,
            "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": GAUGE,
            "DCGM_FI_PROF_DRAM_ACTIVE": GAUGE,
            "DCGM_FI_PROF_PCIE_TX_BYTES": GAUGE,
            "DCGM_FI_PROF_PCIE_RX_BYTES": GAUGE,
        }
    ),
    labels=frozenset({"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}) | DCGM_ATTRIBUTION,
    metric_labels=MappingProxyType({"DCGM_FI_DEV_XID_ERRORS": frozenset({"err_code", "err_msg"})}),
    image_markers=("dcgm-exporter", "gpu-operator"),
)

LAST_VALUE_GAUGES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "DCGM_FI_DEV_XID_ERRORS": (
            "err_code",
            "holds the code of the last XID the GPU reported, not a count, and stays there: compared with 0 it "
            "fires on benign (application) XIDs and never clears; and since err_code carries the same code, each "
            "new XID is a new series, so changes() over one series never sees it",
        ),
    }
)
"""Gauges whose value is an identifier, not a level → (the label carrying the same code, why). From
default-counters.csv ("value of the last XID") and gpu_collector.go (err_code = the value)."""

# ---- kube-state-metrics ----------------------------------------------------------------------------------
# github.com/kubernetes/kube-state-metrics, docs/metrics/workload/pod-metrics.md (stable families; the
# object's namespace and pod, and the container, as labels), the version kube-prometheus-stack 88.5.4
# (pins.KUBE_PROMETHEUS_STACK_CHART) brings as its subchart.
KUBE_STATE_METRICS = Exporter(
    name="kube-state-metrics",
    version="kube-prometheus-stack 88.5.4 subchart",
    source="kubernetes/kube-state-metrics docs/metrics/workload/pod-metrics.md",
    metrics=MappingProxyType(
        {
            "kube_pod_container_status_restarts_total": COUNTER,
            "kube_pod_container_status_waiting_reason": GAUGE,
            "kube_pod_container_status_waiting": GAUGE,
            "kube_pod_container_status_ready": GAUGE,
            "kube_pod_container_status_running": GAUGE,
            "kube_pod_container_status_terminated_reason": GAUGE,
            "kube_pod_status_phase": GAUGE,
            "kube_pod_status_ready": GAUGE,
        }
    ),
    labels=frozenset({"namespace", "pod", "uid"}),
    metric_labels=MappingProxyType(
        {
            "kube_pod_container_status_restarts_total": frozenset({"container"}),
            "kube_pod_container_status_waiting_reason": frozenset({"container", "reason"}),
            "kube_pod_container_status_waiting": frozenset({"container"}),
            "kube_pod_container_status_ready": frozenset({"container"}),
            "kube_pod_container_status_running": frozenset({"container"}),
            "kube_pod_container_status_terminated_reason": frozenset({"container", "reason"}),
            "kube_pod_status_phase": frozenset({"phase"}),
            "kube_pod_status_ready": frozenset({"condition"}),
        }
    ),
    image_markers=("kube-prometheus-stack",),
)

# ---- Prometheus' own per-target series -------------------------------------------------------------------
# github.com/prometheus/prometheus, docs/concepts/jobs_instances.md: `up` and the scrape_* series are
# written per target by Prometheus itself (and by GMP's collectors and the Ops Agent's receiver), with the
# target labels only.
SCRAPE_SERIES = Exporter(
    name="prometheus (per target)",
    version="-",
    source="prometheus/prometheus docs/concepts/jobs_instances.md",
    metrics=MappingProxyType(
        {
            "up": GAUGE,
            "scrape_duration_seconds": GAUGE,
            "scrape_samples_scraped": GAUGE,
            "scrape_samples_post_metric_relabeling": GAUGE,
            "scrape_series_added": GAUGE,
        }
    ),
    labels=frozenset(),
)

# ---- the vLLM router (kubernetes/router.py) ---------------------------------------------------------------
# github.com/vllm-project/router, src/metrics.rs at v0.1.17 (the wheel kubernetes/router_render.py pins):
# families, types and per-family labels; no label on every series.
VLLM_ROUTER = Exporter(
    name="vllm-router",
    version="0.1.17",
    source="vllm-project/router src/metrics.rs @ v0.1.17",
    metrics=MappingProxyType(
        {
            "vllm_router_requests_total": COUNTER,
            "vllm_router_request_duration_seconds": HISTOGRAM,
            "vllm_router_generate_duration_seconds": HISTOGRAM,
            "vllm_router_request_errors_total": COUNTER,
            "vllm_router_retries_total": COUNTER,
            "vllm_router_active_workers": GAUGE,
            "vllm_router_worker_health": GAUGE,
            "vllm_router_worker_load": GAUGE,
            "vllm_router_processed_requests_total": COUNTER,
            "vllm_router_policy_decisions_total": COUNTER,
            "vllm_router_cache_hits_total": COUNTER,
            "vllm_router_cache_misses_total": COUNTER,
            "vllm_router_tree_size": GAUGE,
            "vllm_router_running_requests": GAUGE,
        }
    ),
    labels=frozenset(),
    metric_labels=MappingProxyType(
        {
            "vllm_router_requests_total": frozenset({"route"}),
            "vllm_router_request_duration_seconds": frozenset({"route"}),
            "vllm_router_request_errors_total": frozenset({"route", "error_type"}),
            "vllm_router_retries_total": frozenset({"route"}),
            "vllm_router_worker_health": frozenset({"worker"}),
            "vllm_router_worker_load": frozenset({"worker"}),
            "vllm_router_processed_requests_total": frozenset({"worker"}),
            "vllm_router_policy_decisions_total": frozenset({"policy", "worker"}),
            "vllm_router_tree_size": frozenset({"worker"}),
            "vllm_router_running_requests": frozenset({"worker"}),
        }
    ),
    # The router pods install the pinned wheel from this requirement (its ConfigMap), the GPU VMs don't run it.
    image_markers=("vllm-router==",),
)

MODEL_SERVERS: tuple[Exporter, ...] = (*(exporter for info in registry.runtimes() for exporter in info.exporters), VLLM_ROUTER)
"""What the model servers emit: each runtime module declares its own (`RuntimeInfo.exporters`), in registry order;
then the router in front of them, detected the same way (its requirement in the plan)."""
EXPORTERS: tuple[Exporter, ...] = (*MODEL_SERVERS, DCGM_EXPORTER, KUBE_STATE_METRICS, SCRAPE_SERIES)


# ---- what a scrape adds ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scrape:
    """How one kind of scrape labels a target's series."""

    name: str
    source: str
    target_labels: frozenset[str]
    honor_labels: bool = False
    """True: the exporter's label wins a clash; False: it is renamed `exported_<name>`."""

    def stored(self, emitted: frozenset[str]) -> dict[str, str]:
        """Each label the exporter writes → the name it is stored under."""
        if self.honor_labels:
            return {label: label for label in emitted}
        return {label: f"exported_{label}" if label in self.target_labels else label for label in emitted}

    def labels(self, emitted: frozenset[str]) -> frozenset[str]:
        """Every label a stored series of this scrape carries."""
        return frozenset(self.stored(emitted).values()) | self.target_labels


# github.com/prometheus-operator/prometheus-operator, pkg/prometheus/promcfg.go (v0.93.1, the operator
# kube-prometheus-stack 88.5.4 runs): a ServiceMonitor endpoint's targets get namespace, service, pod,
# container and endpoint from the Endpoints/Pod metadata, job (the Service name unless jobLabel) and
# instance; `honorLabels` is the endpoint's field, false when unset.
SERVICE_MONITOR_LABELS = frozenset({"namespace", "service", "pod", "container", "endpoint", "job", "instance"})


def service_monitor(honor_labels: bool = False) -> Scrape:
    return Scrape(
        name="ServiceMonitor" + (" (honorLabels)" if honor_labels else ""),
        source="prometheus-operator/prometheus-operator pkg/prometheus/promcfg.go @ v0.93.1",
        target_labels=SERVICE_MONITOR_LABELS,
        honor_labels=honor_labels,
    )


# github.com/GoogleCloudPlatform/prometheus-engine, pkg/operator/apis/monitoring/v1/pod_types.go and
# pod_config.go (tag v0.18.1-rc.1): PodMonitoring targets always carry project_id, location, cluster,
# namespace, job (the PodMonitoring's name) and instance, plus `targetLabels.metadata`, default
# [container, pod, top_level_controller_name, top_level_controller_type]. No `service`, no `endpoint`.
# The endpoint spec has no honorLabels field: a clashing exporter label always becomes exported_<name>.
GMP_POD_MONITORING = Scrape(
    name="GMP PodMonitoring",
    source="GoogleCloudPlatform/prometheus-engine pkg/operator/apis/monitoring/v1/pod_types.go @ v0.18.1-rc.1",
    target_labels=frozenset(
        {
            "project_id",
            "location",
            "cluster",
            "namespace",
            "job",
            "instance",
            "container",
            "pod",
            "top_level_controller_name",
            "top_level_controller_type",
        }
    ),
)

GKE_MANAGED_STATE_METRICS = Scrape(
    name="GKE managed kube-state-metrics",
    source="not read upstream: GKE's packaged kube-state-metrics (monitoring_config MANAGED_STATE_METRICS)",
    target_labels=GMP_POD_MONITORING.target_labels,
    honor_labels=True,
)
"""Under GMP, kube-state-metrics is GKE's managed package, not a PodMonitoring of ours. How it stores the
object's namespace/pod was not read from a source, so the rules take the labels as kube-state-metrics
writes them (no workload-label finding is claimed for it)."""

# The Ops Agent's `prometheus` receiver (GoogleCloudPlatform/ops-agent, docs on the prometheus receiver):
# series land on the `prometheus_target` monitored resource, whose labels project_id, location, cluster,
# namespace, job and instance PromQL in Cloud Monitoring reads like metric labels; static_configs labels
# of the scrape config are added to the series. honor_labels unset: false.
OPS_AGENT_PROMETHEUS = Scrape(
    name="Ops Agent prometheus receiver",
    source="GoogleCloudPlatform/ops-agent prometheus receiver (prometheus_target resource)",
    target_labels=frozenset({"project_id", "location", "cluster", "namespace", "job", "instance"}),
)

# Log-based metrics (Cloud Logging → Cloud Monitoring): a counter's series carry the labels its
# labelExtractors write and the labels of the log entries' monitored resource; PromQL reads both like metric
# labels and adds `monitored_resource` (cloud.google.com/monitoring/promql/promql-mapping). Nothing is
# scraped, so nothing is renamed. The resource labels per type: cloud.google.com/monitoring/api/resources.
LOG_BASED_METRIC = Scrape(
    name="Cloud Logging log-based metric",
    source="cloud.google.com/logging/docs/logs-based-metrics (labelExtractors) and monitoring/promql/promql-mapping",
    target_labels=frozenset({"monitored_resource"}),
    honor_labels=True,
)
LOG_RESOURCE_LABELS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"cloud_run_revision": frozenset({"project_id", "service_name", "revision_name", "location", "configuration_name"})}
)
"""Labels of a log entry's monitored resource, by resource type (the types the plans' log metrics filter on)."""

# ---- chart defaults that decide a scrape ------------------------------------------------------------------
HONOR_LABELS_DEFAULTS: Mapping[str, tuple[tuple[str, ...], bool]] = MappingProxyType(
    {
        # NVIDIA/dcgm-exporter deployment/values.yaml @ 4.5.3-4.8.2: serviceMonitor.honorLabels: false,
        # copied into the ServiceMonitor endpoint by deployment/templates/service-monitor.yaml.
        "dcgm-exporter": (("serviceMonitor", "honorLabels"), False),
        # NVIDIA/gpu-operator deployments/gpu-operator/values.yaml @ v26.3.3:
        # dcgmExporter.serviceMonitor.honorLabels: false (controllers/object_controls.go sets the endpoint's).
        "gpu-operator": (("dcgmExporter", "serviceMonitor", "honorLabels"), False),
        # prometheus-community/helm-charts charts/kube-prometheus-stack/values.yaml:
        # kube-state-metrics.prometheus.monitor.honorLabels: true — its namespace/pod are the object's.
        "kube-prometheus-stack": (("kube-state-metrics", "prometheus", "monitor", "honorLabels"), True),
    }
)
"""Chart name → (values path of the exporter's ServiceMonitor honorLabels, the chart's default)."""

CHART_EXPORTER: Mapping[str, Exporter] = MappingProxyType(
    {
        "dcgm-exporter": DCGM_EXPORTER,
        "gpu-operator": DCGM_EXPORTER,
        "kube-prometheus-stack": KUBE_STATE_METRICS,
    }
)
"""The exporter whose scrape each chart's honorLabels value decides."""
