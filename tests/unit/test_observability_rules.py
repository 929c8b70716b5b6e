"""Alert rules and the Grafana dashboard for the model servers: exact PromQL, per-runtime coverage,
metric names that exist, well-formed expressions and a deterministic, loadable dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pulumi_llm.kubernetes.observability_rules import (
    EXTERNAL_METRICS,
    GPU_GROUP,
    GRAFANA_DASHBOARD_LABELS,
    AlertThresholds,
    DcgmLabels,
    ServerMetrics,
    alert_rules,
    dashboard,
    dashboard_configmap_data,
    dashboard_uid,
    metrics_referenced,
    promql_metric_names,
)
from pulumi_llm.runtimes.spec import MetricNames

VLLM = MetricNames(
    requests_waiting="vllm:num_requests_waiting",
    requests_running="vllm:num_requests_running",
    kv_cache_usage="vllm:kv_cache_usage_perc",
    time_to_first_token="vllm:time_to_first_token_seconds",
    inter_token_latency="vllm:inter_token_latency_seconds",
    e2e_latency="vllm:e2e_request_latency_seconds",
    prompt_tokens="vllm:prompt_tokens_total",
    generation_tokens="vllm:generation_tokens_total",
    prefix_cache_queries="vllm:prefix_cache_queries_total",
    prefix_cache_hits="vllm:prefix_cache_hits_total",
    preemptions="vllm:num_preemptions_total",
    model_label="model_name",
)
TRITON = MetricNames(
    requests_waiting="nv_inference_pending_request_count",
    requests_running="nv_inference_exec_count",
    kv_cache_usage=None,
    time_to_first_token=None,
    inter_token_latency=None,
    e2e_latency=None,
    prompt_tokens=None,
    generation_tokens=None,
    queue_duration="nv_inference_queue_duration_us",
    compute_duration="nv_inference_compute_infer_duration_us",
    model_label="model",
)
LLAMACPP = MetricNames(
    requests_waiting="llamacpp:requests_deferred",
    requests_running="llamacpp:requests_processing",
    kv_cache_usage=None,
    time_to_first_token=None,
    inter_token_latency=None,
    e2e_latency=None,
    prompt_tokens="llamacpp:prompt_tokens_total",
    generation_tokens="llamacpp:tokens_predicted_total",
    model_label="",
)

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
VLLM_SERVER = ServerMetrics(served_name=MODEL, namespace="llm", runtime="vllm", metrics=VLLM, service="llama-8b")
TRITON_SERVER = ServerMetrics(served_name="ensemble", namespace="llm", runtime="triton", metrics=TRITON, service="trtllm")
LLAMACPP_SERVER = ServerMetrics(
    served_name="qwen2.5-0.5b", namespace="edge", runtime="llamacpp", metrics=LLAMACPP, service="qwen", uses_gpu=False
)
SERVERS = (VLLM_SERVER, TRITON_SERVER, LLAMACPP_SERVER)

VLLM_SEL = '{model_name="meta-llama/Llama-3.1-8B-Instruct", namespace="llm"}'
TRITON_SEL = '{model="ensemble", namespace="llm"}'


def rules_by_alert(spec: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    (found,) = [g for g in spec["groups"] if g["name"] == group]
    names = [r["alert"] for r in found["rules"]]
    assert len(names) == len(set(names)), names
    return {r["alert"]: r for r in found["rules"]}


def all_rules(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in spec["groups"] for r in g["rules"]]


# --------------------------------------------------------------------------------------------------
# Exact expressions


def test_vllm_alert_expressions_are_exact() -> None:
    spec = alert_rules([VLLM_SERVER], AlertThresholds(ttft_p99_seconds=1.5))
    rules = rules_by_alert(spec, "pulumi-llm.llm.llama-8b")
    assert list(rules) == [
        "LlmQueueDepthHigh",
        "LlmKvCacheNearlyFull",
        "LlmTtftP99AboveSlo",
        "LlmE2eLatencyP99AboveSlo",
        "LlmContainerRestarting",
        "LlmCrashLooping",
        "LlmGpuIdleWithQueuedRequests",
        "LlmScrapeTargetDown",
        "LlmScrapeTargetAbsent",
    ]
    assert rules["LlmQueueDepthHigh"]["expr"] == f"sum by (pod) (vllm:num_requests_waiting{VLLM_SEL}) > 10"
    assert rules["LlmKvCacheNearlyFull"]["expr"] == f"max by (pod) (vllm:kv_cache_usage_perc{VLLM_SEL}) > 0.9"
    assert rules["LlmTtftP99AboveSlo"]["expr"] == (
        f"histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{VLLM_SEL}[5m]))) > 1.5"
    )
    assert rules["LlmE2eLatencyP99AboveSlo"]["expr"] == (
        f"histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{VLLM_SEL}[5m]))) > 60"
    )
    assert rules["LlmContainerRestarting"]["expr"] == (
        'sum by (pod, container) (increase(kube_pod_container_status_restarts_total{namespace="llm", pod=~"llama-8b-.*"}[15m])) > 3'
    )
    assert rules["LlmCrashLooping"]["expr"] == (
        "max by (pod, container) (max_over_time(kube_pod_container_status_waiting_reason"
        '{namespace="llm", pod=~"llama-8b-.*", reason="CrashLoopBackOff"}[5m])) >= 1'
    )
    # dcgm-exporter's pod attribution, as the honorLabels-false ServiceMonitor stores it (finding 8).
    assert rules["LlmGpuIdleWithQueuedRequests"]["expr"] == (
        f"(sum by (pod) (vllm:num_requests_waiting{VLLM_SEL}) > 0) and on (pod) "
        '(max by (pod) (label_replace(DCGM_FI_DEV_GPU_UTIL{exported_namespace="llm", exported_pod=~"llama-8b-.*"}, '
        '"pod", "$1", "exported_pod", "(.*)")) == 0)'
    )
    # By job (the Service's name under a ServiceMonitor, the PodMonitoring's under GMP, which has no `service`).
    assert rules["LlmScrapeTargetDown"]["expr"] == 'up{job="llama-8b", namespace="llm"} == 0'
    assert rules["LlmScrapeTargetAbsent"]["expr"] == 'absent(up{job="llama-8b", namespace="llm"} == 1)'

    gpu = rules_by_alert(spec, GPU_GROUP)
    assert list(gpu) == ["LlmGpuXidError"]
    # The last XID's code, selected by the fault codes (not `!= 0`, which fires on application XIDs
    # and never clears).
    assert gpu["LlmGpuXidError"]["expr"] == 'DCGM_FI_DEV_XID_ERRORS{err_code=~"48|63|64|74|79|94|95|119|120|140"}'
    assert gpu["LlmGpuXidError"]["labels"] == {"severity": "critical"}


def test_triton_queues_on_the_queue_to_compute_ratio_and_has_no_kv_or_latency_alerts() -> None:
    rules = rules_by_alert(alert_rules([TRITON_SERVER]), "pulumi-llm.llm.trtllm")
    assert rules["LlmQueueTimeHigh"]["expr"] == (
        f"sum by (pod) (rate(nv_inference_queue_duration_us{TRITON_SEL}[5m])) / "
        f"sum by (pod) (rate(nv_inference_compute_infer_duration_us{TRITON_SEL}[5m])) > 2"
    )
    assert rules["LlmQueueTimeHigh"]["for"] == "5m"
    for absent in ("LlmQueueDepthHigh", "LlmKvCacheNearlyFull", "LlmTtftP99AboveSlo", "LlmE2eLatencyP99AboveSlo"):
        assert absent not in rules
    # The GPU-idle alert still uses the pending-request gauge.
    assert rules["LlmGpuIdleWithQueuedRequests"]["expr"].startswith(
        f"(sum by (pod) (nv_inference_pending_request_count{TRITON_SEL}) > 0) and on (pod) "
    )


def test_without_queue_and_compute_counters_triton_falls_back_to_pending_requests() -> None:
    metrics = MetricNames(**{**TRITON.__dict__, "queue_duration": None, "compute_duration": None})
    server = ServerMetrics("ensemble", "llm", "triton", metrics, "trtllm")
    rules = rules_by_alert(alert_rules([server], AlertThresholds(queue_depth=4)), "pulumi-llm.llm.trtllm")
    assert "LlmQueueTimeHigh" not in rules
    assert rules["LlmQueueDepthHigh"]["expr"] == f"sum by (pod) (nv_inference_pending_request_count{TRITON_SEL}) > 4"


def test_runtimes_without_a_model_label_are_selected_by_job() -> None:
    rules = rules_by_alert(alert_rules([LLAMACPP_SERVER]), "pulumi-llm.edge.qwen")
    assert rules["LlmQueueDepthHigh"]["expr"] == ('sum by (pod) (llamacpp:requests_deferred{job="qwen", namespace="edge"}) > 10')
    # A CPU server: no GPU alerts, no cluster-wide GPU group.
    assert "LlmGpuIdleWithQueuedRequests" not in rules
    assert GPU_GROUP not in {g["name"] for g in alert_rules([LLAMACPP_SERVER])["groups"]}


def test_severities_and_for_durations() -> None:
    spec = alert_rules(SERVERS, AlertThresholds(inter_token_latency_p99_seconds=0.1, gpu_memory_used_fraction=0.98))
    expected = {
        "LlmQueueDepthHigh": ("warning", "5m"),
        "LlmQueueTimeHigh": ("warning", "5m"),
        "LlmKvCacheNearlyFull": ("warning", "10m"),
        "LlmTtftP99AboveSlo": ("critical", "10m"),
        "LlmInterTokenLatencyP99AboveSlo": ("warning", "10m"),
        "LlmE2eLatencyP99AboveSlo": ("warning", "10m"),
        "LlmContainerRestarting": ("warning", "0s"),
        "LlmCrashLooping": ("critical", "15m"),
        "LlmGpuXidError": ("critical", "0s"),
        "LlmGpuIdleWithQueuedRequests": ("critical", "10m"),
        "LlmGpuMemoryNearlyFull": ("warning", "15m"),
        "LlmScrapeTargetDown": ("warning", "5m"),
        "LlmScrapeTargetAbsent": ("critical", "5m"),
    }
    seen = {}
    for rule in all_rules(spec):
        seen[rule["alert"]] = (rule["labels"]["severity"], rule["for"])
    assert seen == expected


def test_server_alerts_carry_routing_labels_and_descriptions_name_the_model() -> None:
    rules = rules_by_alert(alert_rules([VLLM_SERVER]), "pulumi-llm.llm.llama-8b")
    for rule in rules.values():
        assert rule["labels"] == {
            "severity": rule["labels"]["severity"],
            "namespace": "llm",
            "model": MODEL,
            "runtime": "vllm",
        }
        assert MODEL in rule["annotations"]["summary"]
        assert MODEL in rule["annotations"]["description"]
        assert "runbook_url" not in rule["annotations"]
    queue = rules["LlmQueueDepthHigh"]["annotations"]["description"]
    assert "{{ $value }} requests waiting, more than 10 for 5m" in queue
    assert "over its 2s SLO" in rules["LlmTtftP99AboveSlo"]["annotations"]["summary"]


def test_runbook_urls_when_a_base_is_given() -> None:
    spec = alert_rules([VLLM_SERVER], AlertThresholds(runbook_base_url="https://runbooks.example.com/llm/"))
    for rule in all_rules(spec):
        assert rule["annotations"]["runbook_url"] == f"https://runbooks.example.com/llm/{rule['alert']}"


def test_thresholds_of_none_turn_alerts_off() -> None:
    slo = AlertThresholds(
        kv_cache_usage=None,
        ttft_p99_seconds=None,
        e2e_p99_seconds=None,
        restarts=None,
        crashloop=False,
        gpu_xid=False,
        gpu_idle_while_waiting=False,
    )
    spec = alert_rules([VLLM_SERVER], slo)
    assert [g["name"] for g in spec["groups"]] == ["pulumi-llm.llm.llama-8b"]
    alerts = [r["alert"] for r in all_rules(spec)]
    assert alerts == ["LlmQueueDepthHigh", "LlmScrapeTargetDown", "LlmScrapeTargetAbsent"]


def test_opt_in_alerts_have_exact_expressions() -> None:
    slo = AlertThresholds(inter_token_latency_p99_seconds=0.25, gpu_memory_used_fraction=0.98, latency_for="15m")
    rules = rules_by_alert(alert_rules([VLLM_SERVER], slo), "pulumi-llm.llm.llama-8b")
    assert rules["LlmInterTokenLatencyP99AboveSlo"]["expr"] == (
        f"histogram_quantile(0.99, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{VLLM_SEL}[5m]))) > 0.25"
    )
    assert rules["LlmInterTokenLatencyP99AboveSlo"]["for"] == "15m"
    sel = '{exported_namespace="llm", exported_pod=~"llama-8b-.*"}'
    assert rules["LlmGpuMemoryNearlyFull"]["expr"] == (
        "max by (pod) (label_replace("
        f"DCGM_FI_DEV_FB_USED{sel} / (DCGM_FI_DEV_FB_USED{sel} + DCGM_FI_DEV_FB_FREE{sel}), "
        '"pod", "$1", "exported_pod", "(.*)")) > 0.98'
    )


def test_per_server_slo_overrides_the_default() -> None:
    strict = ServerMetrics("small", "llm", "vllm", VLLM, "small", slo=AlertThresholds(ttft_p99_seconds=0.5, queue_depth=2))
    spec = alert_rules([VLLM_SERVER, strict], AlertThresholds())
    small = rules_by_alert(spec, "pulumi-llm.llm.small")
    big = rules_by_alert(spec, "pulumi-llm.llm.llama-8b")
    assert small["LlmTtftP99AboveSlo"]["expr"].endswith(" > 0.5")
    assert small["LlmQueueDepthHigh"]["expr"].endswith(" > 2")
    assert big["LlmTtftP99AboveSlo"]["expr"].endswith(" > 2")


def test_scale_to_zero_servers_have_no_absent_target_alert() -> None:
    server = ServerMetrics(MODEL, "llm", "vllm", VLLM, "llama-8b", scales_to_zero=True)
    rules = rules_by_alert(alert_rules([server]), "pulumi-llm.llm.llama-8b")
    assert "LlmScrapeTargetAbsent" not in rules
    assert "LlmScrapeTargetDown" in rules


def test_dcgm_labels_as_the_exporter_writes_them_need_no_label_replace() -> None:
    spec = alert_rules([VLLM_SERVER], dcgm=DcgmLabels(namespace="namespace", pod="pod"))
    rules = rules_by_alert(spec, "pulumi-llm.llm.llama-8b")
    assert rules["LlmGpuIdleWithQueuedRequests"]["expr"] == (
        f"(sum by (pod) (vllm:num_requests_waiting{VLLM_SEL}) > 0) and on (pod) "
        '(max by (pod) (DCGM_FI_DEV_GPU_UTIL{namespace="llm", pod=~"llama-8b-.*"}) == 0)'
    )
    no_attribution = alert_rules([VLLM_SERVER], dcgm=DcgmLabels(namespace=None, pod=None))
    assert "LlmGpuIdleWithQueuedRequests" not in rules_by_alert(no_attribution, "pulumi-llm.llm.llama-8b")
    assert GPU_GROUP in {g["name"] for g in no_attribution["groups"]}


def test_workload_names_the_pods_and_dots_are_escaped() -> None:
    server = ServerMetrics(MODEL, "llm", "vllm", VLLM, "llama-8b", workload="llama.v2")
    rules = rules_by_alert(alert_rules([server]), "pulumi-llm.llm.llama-8b")
    assert 'pod=~"llama\\\\.v2-.*"' in rules["LlmContainerRestarting"]["expr"]


def test_model_names_are_escaped_in_promql_strings() -> None:
    server = ServerMetrics('odd"name\\x', "llm", "vllm", VLLM, "odd")
    rules = rules_by_alert(alert_rules([server]), "pulumi-llm.llm.odd")
    assert '{model_name="odd\\"name\\\\x", namespace="llm"}' in rules["LlmQueueDepthHigh"]["expr"]
    assert metrics_referenced({"expr": rules["LlmQueueDepthHigh"]["expr"]}) == {"vllm:num_requests_waiting"}


# --------------------------------------------------------------------------------------------------
# Metric names


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.runtime)
def test_every_runtime_metric_referenced_exists(server: ServerMetrics) -> None:
    slo = AlertThresholds(inter_token_latency_p99_seconds=0.1, gpu_memory_used_fraction=0.98)
    for spec in (alert_rules([server], slo), dashboard([server])):
        used = metrics_referenced(spec)
        assert used - EXTERNAL_METRICS <= set(server.metrics.all()), used - EXTERNAL_METRICS
        assert used - EXTERNAL_METRICS, "no runtime metric used at all"


def test_vllm_alerts_reference_exactly_these_metrics() -> None:
    assert metrics_referenced(alert_rules([VLLM_SERVER])) == {
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds",
        "vllm:e2e_request_latency_seconds",
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_waiting_reason",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_XID_ERRORS",
        "up",
    }


def test_the_dashboard_uses_every_vllm_metric() -> None:
    assert metrics_referenced(dashboard([VLLM_SERVER])) - EXTERNAL_METRICS == set(VLLM.all())


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (le) (rate(x_bucket{a="b{c}"}[5m]))', {"x_bucket"}),
        ('label_replace(m{pod=~"p-.*"}, "pod", "$1", "exported_pod", "(.*)")', {"m"}),
        ("a / on (pod) group_left (node) b * 1e3 offset 5m", {"a", "b"}),
        ("rate(m[5m:1m]) > bool 0 unless absent(n)", {"m", "n"}),
        ("sum(rate(c[$__rate_interval])) by (job)", {"c"}),
        ("avg_over_time(m:recorded:rate5m[1h]) and Inf > NaN", {"m:recorded:rate5m"}),
    ],
)
def test_promql_tokenizer(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_histogram_series_map_back_to_their_base_name_but_counters_ending_in_count_do_not() -> None:
    spec = {
        "groups": [
            {
                "rules": [
                    {"expr": "rate(h_sum[5m]) / rate(h_count[5m])"},
                    {"expr": "histogram_quantile(0.5, rate(h_bucket[5m]))"},
                    {"expr": "rate(nv_inference_count[1m])"},
                ]
            }
        ]
    }
    assert metrics_referenced(spec) == {"h", "nv_inference_count"}


def test_external_metrics_are_the_other_exporters() -> None:
    assert EXTERNAL_METRICS == {
        "up",
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_waiting_reason",
        "DCGM_FI_DEV_XID_ERRORS",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_POWER_USAGE",
    }


# --------------------------------------------------------------------------------------------------
# Well-formed output (no promtool here)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHER_SET = re.compile(r"\{([^{}]*)\}")
_MATCHER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(=|!=|=~|!~)"(?:[^"\\]|\\.)*"$')
_DURATION_CRD = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
_TEMPLATE = re.compile(r"\{\{ \$(value|labels\.[A-Za-z_][A-Za-z0-9_]*)( \| [A-Za-z]+)? \}\}")


def check_promql_shape(expr: str) -> None:
    """Balanced (), [] and {} outside strings; every label matcher `name op "value"`."""
    bare = _STRING.sub('""', expr)
    assert '"' not in _STRING.sub("", expr), f"unterminated string in {expr}"
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for ch in bare:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            assert stack and stack.pop() == pairs[ch], f"unbalanced {ch} in {expr}"
    assert not stack, f"unclosed {stack} in {expr}"
    # Restore the strings inside each {...} to check the matchers.
    for match in re.finditer(r"\{(?:[^{}\"]|\"(?:[^\"\\]|\\.)*\")*\}", expr):
        body = match.group(0)[1:-1]
        if not body:
            continue
        parts = [p.strip() for p in re.findall(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+', body)]
        for part in parts:
            assert _MATCHER.match(part), f"bad label matcher {part!r} in {expr}"


def test_every_alert_is_well_formed() -> None:
    spec = alert_rules(
        [*SERVERS, ServerMetrics('odd"name', "llm", "vllm", VLLM, "odd", workload="odd.v2")],
        AlertThresholds(inter_token_latency_p99_seconds=0.1, gpu_memory_used_fraction=0.98),
        dcgm=DcgmLabels("exported_namespace", "exported_pod"),
    )
    names = [g["name"] for g in spec["groups"]]
    assert names == sorted(names) and len(names) == len(set(names))
    for group in spec["groups"]:
        assert set(group) == {"name", "rules"}
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
            assert re.fullmatch(r"Llm[A-Z][A-Za-z0-9]*", rule["alert"])
            assert _DURATION_CRD.match(rule["for"])
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert all(isinstance(v, str) for v in rule["labels"].values())
            check_promql_shape(rule["expr"])
            assert set(rule["annotations"]) == {"summary", "description"}
            for text in rule["annotations"].values():
                assert "\n" not in text
                # Every Go template action is one we mean, and no braces are left dangling.
                assert "{{" not in _TEMPLATE.sub("", text) and "}}" not in _TEMPLATE.sub("", text), text


def test_the_shape_checker_catches_mistakes() -> None:
    for bad in ('sum(up{a="b"}', 'up{a="b"]', "up{a=b}", 'up{a="b", 1c="d"}', 'up{a="b}'):
        with pytest.raises(AssertionError):
            check_promql_shape(bad)


# --------------------------------------------------------------------------------------------------
# Validation


def test_duplicate_servers_are_rejected() -> None:
    with pytest.raises(ValueError, match="Service llama-8b in namespace llm"):
        alert_rules([VLLM_SERVER, ServerMetrics("other", "llm", "vllm", VLLM, "llama-8b")])
    with pytest.raises(ValueError, match="two servers serve"):
        alert_rules([VLLM_SERVER, ServerMetrics(MODEL, "llm", "vllm", VLLM, "llama-8b-copy")])
    with pytest.raises(ValueError, match="no servers"):
        alert_rules([])
    with pytest.raises(ValueError, match="no servers"):
        dashboard([])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queue_for": "5 minutes"}, "queue_for"),
        ({"rate_window": "0"}, "rate_window"),
        ({"kv_cache_usage": 90}, "kv_cache_usage"),
        ({"ttft_p99_seconds": 0}, "ttft_p99_seconds"),
        ({"queue_depth": -1}, "queue_depth"),
        ({"restarts": -1}, "restarts"),
        ({"latency_quantile": 99.0}, "latency_quantile"),
    ],
)
def test_bad_thresholds_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlertThresholds(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"namespace": "LLM"}, "namespace"),
        ({"service": "llama_8b"}, "service"),
        ({"runtime": "tgi"}, "runtime"),
        ({"served_name": ""}, "served_name"),
        ({"served_name": "a{{b}}"}, "served_name"),
        ({"workload": "Bad"}, "workload"),
    ],
)
def test_bad_servers_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    base = {"served_name": MODEL, "namespace": "llm", "runtime": "vllm", "metrics": VLLM, "service": "llama-8b"}
    with pytest.raises(ValueError, match=message):
        ServerMetrics(**{**base, **kwargs})


# --------------------------------------------------------------------------------------------------
# Dashboard

COMMON = ["Requests running and waiting"]
GPU = ["GPU utilisation", "GPU memory used", "GPU power"]


def panel_titles(board: dict[str, Any]) -> list[str]:
    return [p["title"] for p in board["panels"] if p["type"] == "timeseries"]


def test_vllm_dashboard_panels() -> None:
    assert panel_titles(dashboard([VLLM_SERVER])) == [
        "Time to first token",
        "Inter-token latency",
        "End-to-end request latency",
        "Requests running and waiting",
        "KV cache usage",
        "Preemptions",
        "Tokens per second",
        "Prefix cache hit rate",
        *GPU,
    ]
    rows = [p["title"] for p in dashboard([VLLM_SERVER])["panels"] if p["type"] == "row"]
    assert rows == ["Latency", "Load", "Tokens and cache", "GPU"]


def test_triton_dashboard_panels() -> None:
    assert panel_titles(dashboard([TRITON_SERVER])) == [*COMMON, "Queue time / compute time", *GPU]


def test_triton_load_panel_rates_its_execution_counter_and_shows_the_pending_gauge() -> None:
    onnx = ServerMetrics("resnet", "llm", "triton", MetricNames(**{**TRITON.__dict__, "queue_duration": None}), "onnx")
    board = dashboard([TRITON_SERVER, onnx])  # two metric-name sets sharing the same series
    (load,) = [p for p in board["panels"] if p["title"] == "Requests running and waiting"]
    sel = '{model=~"$model", namespace=~"$namespace"}'
    assert [(t["expr"], t["legendFormat"]) for t in load["targets"]] == [
        (
            f"sum by (namespace, model) (rate(nv_inference_exec_count{sel}[$__rate_interval]))",
            "{{namespace}}/{{model}} executions/s",
        ),
        (f"sum by (namespace, model) (nv_inference_pending_request_count{sel})", "{{namespace}}/{{model}} waiting"),
    ]


def test_cpu_llamacpp_dashboard_panels() -> None:
    board = dashboard([LLAMACPP_SERVER])
    assert panel_titles(board) == [*COMMON, "Tokens per second"]
    (load,) = [p for p in board["panels"] if p["title"] == "Requests running and waiting"]
    assert load["targets"][0]["expr"] == ('sum by (namespace, job) (llamacpp:requests_processing{job=~"qwen", namespace=~"$namespace"})')


def test_dashboard_queries_follow_the_variables() -> None:
    board = dashboard([VLLM_SERVER])
    (ttft,) = [p for p in board["panels"] if p["title"] == "Time to first token"]
    assert [(t["refId"], t["expr"], t["legendFormat"]) for t in ttft["targets"]] == [
        (
            ref,
            f"histogram_quantile({q}, sum by (le, namespace, model_name) (rate(vllm:time_to_first_token_seconds_bucket"
            '{model_name=~"$model", namespace=~"$namespace"}[$__rate_interval])))',
            f"{{{{namespace}}}}/{{{{model_name}}}} p{p}",
        )
        for ref, q, p in (("A", "0.5", 50), ("B", "0.99", 99))
    ]
    (gpu,) = [p for p in board["panels"] if p["title"] == "GPU utilisation"]
    assert gpu["targets"][0]["expr"] == 'DCGM_FI_DEV_GPU_UTIL{exported_namespace=~"$namespace", exported_pod=~"llama-8b-.*"}'
    assert gpu["targets"][0]["legendFormat"] == "{{exported_pod}} GPU {{gpu}}"
    (hits,) = [p for p in board["panels"] if p["title"] == "Prefix cache hit rate"]
    assert hits["fieldConfig"]["defaults"]["unit"] == "percentunit"
    unattributed = dashboard([VLLM_SERVER], dcgm=DcgmLabels(namespace=None, pod=None))
    (gpu,) = [p for p in unattributed["panels"] if p["title"] == "GPU utilisation"]
    assert gpu["targets"][0]["expr"] == "DCGM_FI_DEV_GPU_UTIL"
    assert gpu["targets"][0]["legendFormat"] == "{{Hostname}} GPU {{gpu}}"


def test_mixed_runtimes_share_panels_with_one_target_set_per_runtime() -> None:
    board = dashboard(SERVERS)
    (load,) = [p for p in board["panels"] if p["title"] == "Requests running and waiting"]
    assert [t["refId"] for t in load["targets"]] == ["A", "B", "C", "D", "E", "F"]
    assert [promql_metric_names(t["expr"]) for t in load["targets"]] == [
        {"vllm:num_requests_running"},
        {"vllm:num_requests_waiting"},
        {"nv_inference_exec_count"},
        {"nv_inference_pending_request_count"},
        {"llamacpp:requests_processing"},
        {"llamacpp:requests_deferred"},
    ]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert list(variables) == ["datasource", "namespace", "model"]
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["namespace"]["query"] == "edge,llm"
    assert variables["model"]["query"] == f"ensemble,{MODEL},qwen2.5-0.5b"
    assert variables["model"]["includeAll"] and variables["model"]["multi"]


def test_dashboard_layout_is_valid() -> None:
    for servers in ([VLLM_SERVER], [TRITON_SERVER], [LLAMACPP_SERVER], list(SERVERS)):
        board = dashboard(servers)
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert set(pos) == {"h", "w", "x", "y"}
            assert pos["h"] > 0 and 0 < pos["w"] <= 24 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["y"] >= 0
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                    cells.add((x, y))
            if panel["type"] == "timeseries":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                ref_ids = [t["refId"] for t in panel["targets"]]
                assert ref_ids and len(ref_ids) == len(set(ref_ids))
                for target in panel["targets"]:
                    check_promql_shape(target["expr"])
        assert board["schemaVersion"] == 39
        assert board["id"] is None


def test_dashboard_uid_is_stable_short_and_derived_from_the_title() -> None:
    assert dashboard([VLLM_SERVER], "LLM serving")["uid"] == dashboard_uid("LLM serving")
    assert dashboard_uid("LLM serving").startswith("llm-serving-")
    assert dashboard_uid("LLM serving") != dashboard_uid("LLM Serving")
    long = dashboard_uid("A very long dashboard title for the production inference fleet")
    assert len(long) <= 40 and re.fullmatch(r"[a-z0-9-]+", long)
    with pytest.raises(ValueError):
        dashboard_uid("  ")


def test_configmap_data_round_trips_through_json() -> None:
    data = dashboard_configmap_data(SERVERS, "LLM serving")
    board = dashboard(SERVERS, "LLM serving")
    assert list(data) == [f"{board['uid']}.json"]
    assert json.loads(data[f"{board['uid']}.json"]) == board
    assert dict(GRAFANA_DASHBOARD_LABELS) == {"grafana_dashboard": "1"}


def test_output_is_deterministic() -> None:
    slo = AlertThresholds(inter_token_latency_p99_seconds=0.1)
    assert alert_rules(SERVERS, slo) == alert_rules(SERVERS, slo)
    assert json.dumps(alert_rules(SERVERS, slo)) == json.dumps(alert_rules(list(reversed(SERVERS)), slo))
    assert dashboard_configmap_data(SERVERS) == dashboard_configmap_data(SERVERS)
    assert dashboard_configmap_data(SERVERS) == dashboard_configmap_data(tuple(reversed(SERVERS)))
