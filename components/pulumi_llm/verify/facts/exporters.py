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

Each fact carries the upstream repository, file and tag it was read at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

COUNTER = "counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"
INFO = "info"
"""A gauge held at 1 whose labels carry the data (vLLM's `*_info`, DCGM's label fields)."""

HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
"""The series a histogram named `x` is stored as: `x_bucket` (with `le`), `x_sum`, `x_count`."""


@dataclass(frozen=True)
class Exporter:
    """One exporter at its pinned version, as it writes /metrics (before any scrape)."""

    name: str
    version: str
    source: str
    """Upstream repository, file and tag the names and labels were read at."""
    metrics: Mapping[str, str]
    """Metric (family) name → type. Counters are named as exposed (`_total` where the exporter adds it);
    histograms by their family name (the series add HISTOGRAM_SERIES)."""
    labels: frozenset[str]
    """Labels on every series the exporter writes."""
    metric_labels: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    """Extra labels on particular families."""
    unshared: frozenset[str] = frozenset()
    """Families that do not carry `labels` (only their `metric_labels`), e.g. Triton's per-GPU families."""
    image_markers: tuple[str, ...] = ()
    """Substrings of the exporter's image or chart name: how a plan shows it runs the exporter."""

    def family(self, series: str) -> str | None:
        """The family a stored series belongs to (`x_bucket` → `x` for a histogram), or None."""
        if series in self.metrics:
            return series
        for suffix in HISTOGRAM_SERIES:
            base = series.removesuffix(suffix)
            if base != series and self.metrics.get(base) == HISTOGRAM:
                return base
        return None

    def series_type(self, series: str) -> str | None:
        """The type of one stored series: a histogram's `_bucket`/`_sum`/`_count` are counters."""
        family = self.family(series)
        if family is None:
            return None
        kind = self.metrics[family]
        return COUNTER if kind == HISTOGRAM and family != series else kind

    def series_labels(self, series: str) -> frozenset[str]:
        family = self.family(series)
        extra = self.metric_labels.get(family or "", frozenset())
        le = frozenset({"le"}) if family and series == family + "_bucket" else frozenset()
        shared = frozenset() if family in self.unshared else self.labels
        return shared | extra | le


# ---- vLLM ------------------------------------------------------------------------------------------------
# github.com/vllm-project/vllm, vllm/v1/metrics/loggers.py (PrometheusStatLogger; labelnames
# ["model_name", "engine"] on every family). The pin is v0.31.0 (pins.VLLM_OPENAI); the reference index
# holds this file at commit 005a810bc40f (V1 engine) only, so the families below are the V1 set that
# both carry; `inter_token_latency_seconds` replaced `time_per_output_token_seconds` after that commit and
# is the one the pinned release exposes — the repository's vLLM integration test reads every
# MetricNames entry from a real server's /metrics. prometheus_client adds `_total` to counters.
VLLM = Exporter(
    name="vllm",
    version="v0.31.0",
    source="vllm-project/vllm vllm/v1/metrics/loggers.py (V1 PrometheusStatLogger, commit 005a810bc40f)",
    metrics=MappingProxyType(
        {
            "vllm:num_requests_running": GAUGE,
            "vllm:num_requests_waiting": GAUGE,
            "vllm:kv_cache_usage_perc": GAUGE,
            "vllm:cache_config_info": INFO,
            "vllm:prefix_cache_queries_total": COUNTER,
            "vllm:prefix_cache_hits_total": COUNTER,
            "vllm:num_preemptions_total": COUNTER,
            "vllm:prompt_tokens_total": COUNTER,
            "vllm:generation_tokens_total": COUNTER,
            "vllm:request_success_total": COUNTER,
            "vllm:request_prompt_tokens": HISTOGRAM,
            "vllm:request_generation_tokens": HISTOGRAM,
            "vllm:iteration_tokens_total": HISTOGRAM,
            "vllm:request_max_num_generation_tokens": HISTOGRAM,
            "vllm:request_params_n": HISTOGRAM,
            "vllm:request_params_max_tokens": HISTOGRAM,
            "vllm:time_to_first_token_seconds": HISTOGRAM,
            "vllm:inter_token_latency_seconds": HISTOGRAM,
            "vllm:time_per_prefill_token_request_seconds": HISTOGRAM,
            "vllm:e2e_request_latency_seconds": HISTOGRAM,
            "vllm:request_queue_time_seconds": HISTOGRAM,
            "vllm:request_inference_time_seconds": HISTOGRAM,
            "vllm:request_prefill_time_seconds": HISTOGRAM,
            "vllm:request_decode_time_seconds": HISTOGRAM,
        }
    ),
    labels=frozenset({"model_name", "engine"}),
    metric_labels=MappingProxyType({"vllm:request_success_total": frozenset({"finished_reason"})}),
    image_markers=("vllm/vllm-openai",),
)

# ---- Triton ----------------------------------------------------------------------------------------------
# github.com/triton-inference-server/server, docs/user_guide/metrics.md (per-model families labelled
# model and version; the latency families are counters by default, `counter_latencies`; GPU families per
# gpu_uuid), for the 26.05 / 26.06 containers pinned (pins.TRITON_VLLM, TRITON_ONNX). The pending request
# count, newer than that page, is a per-model gauge: triton-inference-server/tensorrtllm_backend README.md
# (its /metrics example: `# TYPE nv_inference_pending_request_count gauge`, labels model and version).
_TRITON_GPU_FAMILIES = frozenset(
    {
        "nv_gpu_utilization",
        "nv_gpu_memory_total_bytes",
        "nv_gpu_memory_used_bytes",
        "nv_gpu_power_usage",
        "nv_gpu_power_limit",
        "nv_energy_consumption",
    }
)
TRITON = Exporter(
    name="triton",
    version="26.05",
    source="triton-inference-server/server docs/user_guide/metrics.md",
    metrics=MappingProxyType(
        {
            "nv_inference_request_success": COUNTER,
            "nv_inference_request_failure": COUNTER,
            "nv_inference_count": COUNTER,
            "nv_inference_exec_count": COUNTER,
            "nv_inference_request_duration_us": COUNTER,
            "nv_inference_queue_duration_us": COUNTER,
            "nv_inference_compute_input_duration_us": COUNTER,
            "nv_inference_compute_infer_duration_us": COUNTER,
            "nv_inference_compute_output_duration_us": COUNTER,
            "nv_inference_pending_request_count": GAUGE,
            "nv_gpu_utilization": GAUGE,
            "nv_gpu_memory_total_bytes": GAUGE,
            "nv_gpu_memory_used_bytes": GAUGE,
            "nv_gpu_power_usage": GAUGE,
            "nv_gpu_power_limit": GAUGE,
            "nv_energy_consumption": COUNTER,
        }
    ),
    labels=frozenset({"model", "version"}),
    metric_labels=MappingProxyType({name: frozenset({"gpu_uuid"}) for name in _TRITON_GPU_FAMILIES}),
    unshared=_TRITON_GPU_FAMILIES,
    image_markers=("nvidia/tritonserver",),
)

# github.com/triton-inference-server/vllm_backend, src/utils/metrics.py (TritonMetrics; the backend's
# model.py passes the labels {model, version}). Shipped in the `-vllm-python-py3` Triton containers.
TRITON_VLLM_BACKEND = Exporter(
    name="triton-vllm-backend",
    version="26.05",
    source="triton-inference-server/vllm_backend src/utils/metrics.py",
    metrics=MappingProxyType(
        {
            "vllm:prompt_tokens_total": COUNTER,
            "vllm:generation_tokens_total": COUNTER,
            "vllm:num_preemptions_total": COUNTER,
            "vllm:iteration_tokens_total": HISTOGRAM,
            "vllm:time_to_first_token_seconds": HISTOGRAM,
            "vllm:time_per_output_token_seconds": HISTOGRAM,
            "vllm:e2e_request_latency_seconds": HISTOGRAM,
            "vllm:request_queue_time_seconds": HISTOGRAM,
            "vllm:request_inference_time_seconds": HISTOGRAM,
            "vllm:request_prefill_time_seconds": HISTOGRAM,
            "vllm:request_decode_time_seconds": HISTOGRAM,
            "vllm:request_prompt_tokens": HISTOGRAM,
            "vllm:request_generation_tokens": HISTOGRAM,
            "vllm:request_params_n": HISTOGRAM,
            "vllm:num_requests_running": GAUGE,
            "vllm:num_requests_waiting": GAUGE,
            "vllm:gpu_cache_usage_perc": GAUGE,
        }
    ),
    labels=frozenset({"model", "version"}),
    image_markers=("-vllm-python-py3",),
)

# ---- llama.cpp -------------------------------------------------------------------------------------------
# github.com/ggml-org/llama.cpp, tools/server/server-task.cpp, server_task_result_metrics::to_metrics (the
# /metrics body): unlabelled counters and gauges with the `llamacpp:` prefix (only the speculative
# per-position counter carries `position`). Read in a recent build of the file; the pin is b11176
# (pins.LLAMA_CPP_SERVER), whose names the llama.cpp integration test checks against a real server.
LLAMACPP = Exporter(
    name="llamacpp",
    version="b11176",
    source="ggml-org/llama.cpp tools/server/server-task.cpp (server_task_result_metrics::to_metrics)",
    metrics=MappingProxyType(
        {
            "llamacpp:prompt_tokens_total": COUNTER,
            "llamacpp:prompt_tokens_cached_total": COUNTER,
            "llamacpp:prompt_seconds_total": COUNTER,
            "llamacpp:tokens_predicted_total": COUNTER,
            "llamacpp:tokens_predicted_seconds_total": COUNTER,
            "llamacpp:n_decode_total": COUNTER,
            "llamacpp:n_tokens_max": COUNTER,
            "llamacpp:spec_decode_num_draft_tokens_total": COUNTER,
            "llamacpp:spec_decode_num_accepted_tokens_total": COUNTER,
            "llamacpp:spec_decode_num_drafts_total": COUNTER,
            "llamacpp:spec_decode_num_accepted_tokens_per_pos_total": COUNTER,
            "llamacpp:n_busy_slots_per_decode": GAUGE,
            "llamacpp:prompt_tokens_seconds": GAUGE,
            "llamacpp:predicted_tokens_seconds": GAUGE,
            "llamacpp:requests_processing": GAUGE,
            "llamacpp:requests_deferred": GAUGE,
        }
    ),
    labels=frozenset(),
    metric_labels=MappingProxyType({"llamacpp:spec_decode_num_accepted_tokens_per_pos_total": frozenset({"position"})}),
    image_markers=("llama.cpp",),
)

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

MODEL_SERVERS: tuple[Exporter, ...] = (VLLM, TRITON, TRITON_VLLM_BACKEND, LLAMACPP)
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
