"""observability.*: seeds from real recorded plans (a misspelt metric, a label the exporter lacks, the
workload's pod read from a label the scrape gave to the exporter, an unparsable panel, a KEDA query
typo, rate() of a gauge, the last-XID gauge as a level, a metric the VM's scrape drops), the regression
for finding 8 (GPU alerts and panels that could never match) and the pure helpers."""

from __future__ import annotations

import json

import promql_parser
import pytest
from pulumi_llm.kubernetes import observability_rules
from pulumi_llm.runtimes import triton, vllm
from pulumi_llm.verify import run_rules
from pulumi_llm.verify.facts import exporters as ex
from pulumi_llm.verify.rules import observability as obs

from .conftest import fired, manifest, resource

RELEASE = "kubernetes:helm.sh/v3:Release"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"


def alert(view, name: str, namespace: str = "llm", model: str | None = None) -> dict:
    """The rule `name` of the plan's PrometheusRule (of `model`'s group when given)."""
    rules = manifest(view, "PrometheusRule", "llm-alerts", namespace)
    found = [
        r for g in rules["spec"]["groups"] for r in g["rules"] if r["alert"] == name and (model is None or g["name"].endswith("." + model))
    ]
    assert found, f"no alert {name} in {view.stack}"
    return found[0]


def edit_dashboard(view, namespace: str, edit) -> None:
    """Apply `edit(board)` to the dashboard JSON the plan's llm-dashboards ConfigMap carries."""
    config_map = manifest(view, "ConfigMap", "llm-dashboards", namespace)
    [(key, text)] = config_map["data"].items()
    board = json.loads(text)
    edit(board)
    config_map["data"][key] = json.dumps(board)


def panel(board: dict, title: str) -> dict:
    [found] = [p for p in board["panels"] if p.get("title") == title]
    return found


_BASELINE: dict[str, set[str]] = {}


def caught(recorded, view) -> set[str]:
    """The rules that fire on `view` and not on its stack's shipped plan: with every stack clean this is
    `fired(view)`; it keeps a seed exact while another family's rule is still being brought up."""
    if view.stack not in _BASELINE:
        _BASELINE[view.stack] = fired(recorded(view.stack))
    return fired(view) - _BASELINE[view.stack]


def whys(view, rule_name: str) -> list[str]:
    return [v.why for v in run_rules(view, only=[rule_name]) if v.severity == "error"]


# --- seeds: AWS (EKS) --------------------------------------------------------------------------------------


def test_seed_misspelt_metric_in_an_alert_on_prod(recorded):
    view = recorded("prod")
    rule = alert(view, "LlmQueueDepthHigh", model="llama-3-1-8b-instruct")
    rule["expr"] = rule["expr"].replace("vllm:num_requests_waiting", "vllm:num_request_waiting")
    assert caught(recorded, view) == {"observability.metric-exists"}
    assert any("vllm:num_request_waiting" in why for why in whys(view, "observability.metric-exists"))


def test_finding_8_gpu_idle_alert_on_the_exporters_own_pod_label_on_prod(recorded):
    """Finding 8: the old alert matched `pod`/`namespace` on a DCGM series behind an honorLabels-false
    ServiceMonitor — the exporter's own pod, never the model server's."""
    view = recorded("prod")
    rule = alert(view, "LlmGpuIdleWithQueuedRequests", model="llama-3-3-70b-instruct")
    old = observability_rules.alert_rules(
        [observability_rules.ServerMetrics("llama-3-3-70b-instruct", "llm", "vllm", _vllm_metrics(), "llama-3-3-70b-instruct")],
        dcgm=observability_rules.DcgmLabels(namespace="namespace", pod="pod"),
    )
    [old_rule] = [r for g in old["groups"] for r in g["rules"] if r["alert"] == "LlmGpuIdleWithQueuedRequests"]
    rule["expr"] = old_rule["expr"]
    assert caught(recorded, view) == {"observability.workload-label"}
    assert any("exported_pod" in why for why in whys(view, "observability.workload-label"))


def test_seed_xid_gauge_compared_with_zero_on_staging(recorded):
    view = recorded("staging")
    alert(view, "LlmGpuXidError")["expr"] = "DCGM_FI_DEV_XID_ERRORS != 0"  # the old rule
    assert caught(recorded, view) == {"observability.last-value-gauge"}


# --- seeds: GCP --------------------------------------------------------------------------------------------


def test_seed_label_the_exporter_does_not_have_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    rule = alert(view, "LlmKvCacheNearlyFull")
    rule["expr"] = rule["expr"].replace("model_name=", "model=")  # Triton's label, not vLLM's
    assert caught(recorded, view) == {"observability.label-exists"}


def test_seed_alert_policy_on_a_metric_the_vm_scrape_drops_on_gcp_dev(recorded):
    view = recorded("gcp-dev")
    policy = resource(view, ALERT_POLICY, "llm-vm-llama-3-1-8b-instruct-alert-queue")
    condition = policy["inputs"]["conditions"][0]["conditionPrometheusQueryLanguage"]
    # vLLM exports it, but the Ops Agent's metric_relabel keep list does not send it to Cloud Monitoring.
    condition["query"] = condition["query"].replace("vllm:num_requests_waiting", "vllm:request_queue_time_seconds_count")
    assert caught(recorded, view) == {"observability.metric-exists"}
    assert any("dropped by the scrape" in why for why in whys(view, "observability.metric-exists"))


def test_seed_alert_policy_on_a_label_the_vm_scrape_does_not_add_on_gcp_dev(recorded):
    view = recorded("gcp-dev")
    policy = resource(view, ALERT_POLICY, "llm-vm-llama-3-1-8b-instruct-alert-latency-p99")
    condition = policy["inputs"]["conditions"][0]["conditionPrometheusQueryLanguage"]
    condition["query"] = condition["query"].replace("deployment=", "instance_group=")
    assert caught(recorded, view) == {"observability.label-exists"}


def test_seed_fallback_alert_on_a_log_metric_the_plan_does_not_define_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    assert fired(view) == set()  # the gateway's fallback alerts read the plan's log-based counters
    metric = resource(view, "gcp:logging/metric:Metric", "llm-gateway-metric-fallbacks")
    metric["inputs"]["name"] = "pulumi-llm-gcp-prod-gateway-fallback"  # renamed: the alert reads nothing
    assert caught(recorded, view) == {"observability.metric-exists"}
    assert any(
        "logging_googleapis_com:user_pulumi_llm_gcp_prod_gateway_fallbacks" in why for why in whys(view, "observability.metric-exists")
    )


def test_seed_fallback_alert_on_a_label_the_log_metric_does_not_extract_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    metric = resource(view, "gcp:logging/metric:Metric", "llm-gateway-metric-requests")
    del metric["inputs"]["labelExtractors"]["route"]
    assert caught(recorded, view) == {"observability.label-exists"}


# --- seeds: Azure (AKS) ------------------------------------------------------------------------------------


def test_seed_unparsable_dashboard_panel_on_azure_prod(recorded):
    view = recorded("azure-prod")

    def break_panel(board):
        target = panel(board, "Tokens per second")["targets"][0]
        target["expr"] = target["expr"].rstrip(")")  # an unbalanced parenthesis

    edit_dashboard(view, "llm", break_panel)
    assert caught(recorded, view) == {"observability.promql-parses"}


def test_seed_dcgm_release_honouring_labels_while_queries_expect_exported_on_azure_prod(recorded):
    """The values decide the scrape: with honorLabels true there is no exported_pod to select."""
    view = recorded("azure-prod")
    values = resource(view, RELEASE, "llm-aks-dcgm-exporter")["inputs"]["values"]
    values["serviceMonitor"]["honorLabels"] = True
    assert caught(recorded, view) == {"observability.label-exists"}
    assert any("exported_pod" in why for why in whys(view, "observability.label-exists"))


# --- seeds: on-prem ----------------------------------------------------------------------------------------


def test_seed_keda_trigger_query_with_a_typo_on_onprem(recorded):
    view = recorded("onprem")
    scaled = manifest(view, "ScaledObject", "llama-3-1-8b-instruct", "llm")
    trigger = scaled["spec"]["triggers"][0]["metadata"]
    trigger["query"] = trigger["query"].replace("vllm:num_requests_waiting", "vllm:num_requests_waitng")
    assert caught(recorded, view) == {"observability.metric-exists"}


def test_seed_grouping_by_a_label_no_series_has_on_onprem(recorded):
    view = recorded("onprem")
    rule = alert(view, "LlmContainerRestarting")
    rule["expr"] = rule["expr"].replace("sum by (pod, container)", "sum by (pod, containers)")
    assert caught(recorded, view) == {"observability.label-exists"}


def _join_reason(expr: str, copied: str) -> str:
    """`expr` (per pod and container) with each series given its pod's waiting reason, copied by group_left from
    kube-state-metrics' series that has it."""
    return f"({expr.split(' > ')[0]}) * on (pod) group_left({copied}) max by (pod, reason) (kube_pod_container_status_waiting_reason) > 1"


def test_group_left_labels_read_from_the_one_side_on_onprem(recorded):
    """group_left(reason) copies `reason` from the right-hand side, which has it: no finding."""
    view = recorded("onprem")
    rule = alert(view, "LlmContainerRestarting")
    rule["expr"] = _join_reason(rule["expr"], "reason")
    assert caught(recorded, view) == set()


def test_seed_group_left_label_the_one_side_lacks_on_onprem(recorded):
    view = recorded("onprem")
    rule = alert(view, "LlmContainerRestarting")
    rule["expr"] = _join_reason(rule["expr"], "reasons")
    assert caught(recorded, view) == {"observability.label-exists"}
    assert any("reasons" in why for why in whys(view, "observability.label-exists"))


def test_seed_rate_of_a_gauge_on_onprem_triton(recorded):
    view = recorded("onprem-triton")
    rule = alert(view, "LlmGpuIdleWithQueuedRequests", "llm-triton")
    rule["expr"] = rule["expr"].replace(
        'sum by (pod) (nv_inference_pending_request_count{model="llama-3-3-70b-instruct", namespace="llm-triton"})',
        'sum by (pod) (rate(nv_inference_pending_request_count{model="llama-3-3-70b-instruct", namespace="llm-triton"}[5m]))',
    )
    assert caught(recorded, view) == {"observability.counter-function"}


def test_seed_vllm_label_on_tritons_vllm_series_on_onprem_triton(recorded):
    """Triton's vLLM backend labels its vllm: series model/version, not vLLM's own model_name."""
    view = recorded("onprem-triton")
    rule = alert(view, "LlmTtftP99AboveSlo", "llm-triton")
    rule["expr"] = rule["expr"].replace('model="', 'model_name="')
    assert caught(recorded, view) == {"observability.label-exists"}


# --- finding 8: the recorded plans -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stack, release, path",
    [
        ("prod", "llm-eks-dcgm-exporter", ("serviceMonitor",)),
        ("azure-prod", "llm-aks-dcgm-exporter", ("serviceMonitor",)),
        ("gcp-prod", "llm-gke-dcgm-exporter", ("serviceMonitor",)),
        ("onprem", "llm-onprem-gpu-operator", ("dcgmExporter", "serviceMonitor")),
    ],
)
def test_finding_8_dcgm_scrapes_keep_honor_labels_false_and_gpu_queries_use_exported_labels(recorded, stack, release, path):
    view = recorded(stack)
    values = resource(view, RELEASE, release)["inputs"]["values"]
    for key in path:
        values = values[key]
    assert values["honorLabels"] is False
    idle = alert(view, "LlmGpuIdleWithQueuedRequests")["expr"]
    assert "exported_pod=~" in idle and "exported_namespace=" in idle
    config_map = manifest(view, "ConfigMap", "llm-dashboards", "llm")
    [text] = config_map["data"].values()
    gpu = panel(json.loads(text), "GPU utilisation")["targets"][0]["expr"]
    assert gpu.startswith('DCGM_FI_DEV_GPU_UTIL{exported_namespace=~"$namespace", exported_pod=~')
    assert whys(view, "observability.workload-label") == []


def test_xid_alert_selects_fault_codes_on_every_gpu_stack(recorded):
    for stack, namespace in (("prod", "llm"), ("onprem-triton", "llm-triton")):
        expr = alert(recorded(stack), "LlmGpuXidError", namespace)["expr"]
        assert expr == 'DCGM_FI_DEV_XID_ERRORS{err_code=~"48|63|64|74|79|94|95|119|120|140"}'


# --- pure helpers ------------------------------------------------------------------------------------------


def _vllm_metrics():
    from pulumi_llm.runtimes import vllm

    return vllm.METRICS


def test_grafana_variables_are_substituted_before_parsing():
    expr = 'sum(rate(vllm:prompt_tokens_total{namespace=~"$namespace", model_name=~"${model}"}[$__rate_interval]))'
    substituted = obs.substitute_grafana(expr)
    assert "$" not in substituted and "[5m]" in substituted
    promql_parser.parse(substituted)
    with pytest.raises(ValueError):
        obs.parse(expr)  # unsubstituted, the range does not parse


def test_scrape_renames_clashing_labels_unless_honoured():
    emitted = ex.DCGM_EXPORTER.series_labels("DCGM_FI_DEV_GPU_UTIL")
    stored = ex.service_monitor().stored(emitted)
    assert stored["pod"] == "exported_pod" and stored["namespace"] == "exported_namespace" and stored["gpu"] == "gpu"
    assert ex.service_monitor(honor_labels=True).stored(emitted)["pod"] == "pod"
    # GMP has no honorLabels: always renamed; and no `service` target label.
    assert ex.GMP_POD_MONITORING.stored(emitted)["pod"] == "exported_pod"
    assert "service" not in ex.GMP_POD_MONITORING.labels(emitted)


def test_histogram_series_map_to_their_family_and_type():
    assert vllm.EXPORTER.family("vllm:time_to_first_token_seconds_bucket") == "vllm:time_to_first_token_seconds"
    assert vllm.EXPORTER.series_type("vllm:time_to_first_token_seconds_count") == ex.COUNTER
    assert "le" in vllm.EXPORTER.series_labels("vllm:time_to_first_token_seconds_bucket")
    assert "le" not in vllm.EXPORTER.series_labels("vllm:time_to_first_token_seconds_sum")
    assert vllm.EXPORTER.family("vllm:num_requests_waiting_bucket") is None  # a gauge has no buckets


def _source(*exporters: ex.Exporter, scrape: ex.Scrape | None = None) -> obs.Source:
    scrape = scrape or ex.service_monitor()
    return obs.Source({e.name: scrape for e in exporters}, exporters)


@pytest.mark.parametrize(
    "expr, rules",
    [
        ('max by (pod) (label_replace(DCGM_FI_DEV_GPU_UTIL{exported_pod=~"a-.*"}, "pod", "$1", "exported_pod", "(.*)"))', set()),
        ('DCGM_FI_DEV_GPU_UTIL{pod=~"a-.*"}', {obs.WORKLOAD}),
        ("sum by (Hostname) (DCGM_FI_DEV_FB_USED)", set()),
        ("sum by (hostname) (DCGM_FI_DEV_FB_USED)", {obs.LABEL}),  # renamed only after the pinned tag
        ("rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[5m])", set()),
        ("rate(DCGM_FI_DEV_POWER_USAGE[5m])", {obs.COUNTER_FN}),
        ("changes(DCGM_FI_DEV_XID_ERRORS[5m]) > 0", {obs.LAST_VALUE}),
        ('DCGM_FI_DEV_XID_ERRORS{err_code="79"}', set()),
        ("DCGM_FI_DEV_GPU_UTILS", {obs.METRIC}),
        ("sum(DCGM_FI_DEV_GPU_UTIL", {obs.PARSES}),
    ],
)
def test_check_on_dcgm_expressions(expr, rules):
    source = _source(ex.DCGM_EXPORTER)
    assert {f.rule for f in obs.check(obs.Expression("r", "w", expr, source))} == rules


def test_gmp_rules_see_exported_labels_and_no_service_label():
    gmp = obs.Source({e.name: ex.GMP_POD_MONITORING for e in (vllm.EXPORTER, ex.SCRAPE_SERIES)}, (vllm.EXPORTER, ex.SCRAPE_SERIES))
    findings = obs.check(obs.Expression("r", "w", 'up{namespace="llm", service="m"} == 0', gmp))
    assert [f.rule for f in findings] == [obs.LABEL]
    assert obs.check(obs.Expression("r", "w", 'up{namespace="llm", job="m"} == 0', gmp)) == []


def test_a_metric_of_a_runtime_the_stack_does_not_run_is_named():
    [finding] = obs.check(obs.Expression("r", "w", "nv_inference_pending_request_count", _source(vllm.EXPORTER)))
    assert finding.rule == obs.METRIC and "triton" in finding.why


def test_adapter_queries_are_filled_in_as_the_adapter_sends_them():
    from pulumi_llm.kubernetes import autoscaling

    [adapter_rule] = autoscaling.adapter_rules([_vllm_metrics()])
    query = obs.adapter_query(adapter_rule)
    assert query == 'sum(vllm:num_requests_waiting{namespace="adapter_value",pod="adapter_value"}) by (namespace, pod)'
    source = _source(vllm.EXPORTER)
    assert obs.check(obs.Expression("r", "w", query, source)) == []
    assert obs.check(obs.Expression("r", "w", adapter_rule["seriesQuery"], source)) == []
    typo = {**adapter_rule, "seriesQuery": adapter_rule["seriesQuery"].replace("waiting", "waitng")}
    assert {f.rule for f in obs.check(obs.Expression("r", "w", obs.adapter_query(typo), source))} == {obs.METRIC}


# --- GKE on Managed Service for Prometheus (not a shipped stack: planned from a scratch copy) -------------


@pytest.fixture(scope="module")
def gmp_view(tmp_path_factory):
    """gcp-prod with gcp.cluster.prometheus: managed — PodMonitoring, GMP Rules, KEDA on the GMP frontend."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import yaml
    from pulumi_llm.verify import PlanView

    root = Path(__file__).resolve().parents[2]
    project = tmp_path_factory.mktemp("gmp")
    shutil.copy(root / "Pulumi.yaml", project / "Pulumi.yaml")
    (project / "stacks").mkdir()
    shutil.copy(root / "stacks" / "__main__.py", project / "stacks" / "__main__.py")
    stack = yaml.safe_load((root / "stacks" / "Pulumi.gcp-prod.yaml").read_text())
    stack["config"]["pulumi-llm:gcp"].setdefault("cluster", {})["prometheus"] = "managed"
    (project / "stacks" / "Pulumi.gmp.yaml").write_text(yaml.safe_dump(stack))
    out = project / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "--project-dir", str(project), "plan", "gmp", "--quiet", "--no-verify", "--out", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return PlanView.from_dir(out, {})


def test_gmp_plan_alerts_panels_and_triggers_select_what_gmp_stores(gmp_view):
    found = [(e.where, f.rule, f.why) for e in obs.expressions(gmp_view) for f in obs.check(e)]
    assert found == []
    rules = [o for o in gmp_view.objects("Rules")]
    assert rules and all(o["apiVersion"].startswith("monitoring.googleapis.com") for o in rules)
    # The alerts select servers by job: PodMonitoring targets have no `service` label, so the old
    # `up{namespace=…, service=…}` never matched there.
    [down] = [r for g in rules[0]["spec"]["groups"] for r in g["rules"] if r["alert"] == "LlmScrapeTargetDown"]
    assert 'job="llama-3-1-8b-instruct"' in down["expr"]
    old = obs.Expression("Rules", "w", down["expr"].replace("job=", "service="), obs.gmp_source(gmp_view))
    assert {f.rule for f in obs.check(old)} == {obs.LABEL}


def test_tritons_gpu_families_are_per_gpu_not_per_model():
    assert triton.EXPORTER.series_labels("nv_gpu_utilization") == frozenset({"gpu_uuid"})
    assert triton.EXPORTER.series_labels("nv_inference_pending_request_count") == frozenset({"model", "version"})


# ---- the six rules share one pass over the plan's expressions ------------------------------------------------------
def test_findings_computed_once_per_plan_content(recorded, monkeypatch):
    view = recorded("prod")
    calls = []
    real = obs.expressions
    monkeypatch.setattr(obs, "expressions", lambda v: calls.append(v) or real(v))
    obs._FINDINGS.clear()
    fired(view)
    assert len(calls) == 1
    view.manifests.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "changed", "namespace": "llm"}})
    fired(view)  # the same object, changed: computed again
    assert len(calls) == 2


def test_a_pass_of_run_rules_keys_the_findings_without_serializing_the_plan(recorded, monkeypatch):
    """Inside run_rules the six rules share the findings by (pass, view) and never fingerprint the plan; a rule
    called on its own keys on the content, so a changed view outside a pass is computed again."""
    view = recorded("onprem")
    fingerprints = []
    real = obs._fingerprint
    monkeypatch.setattr(obs, "_fingerprint", lambda v: fingerprints.append(v) or real(v))
    calls = []
    real_expressions = obs.expressions
    monkeypatch.setattr(obs, "expressions", lambda v: calls.append(v) or real_expressions(v))
    obs._FINDINGS.clear()
    found = fired(view)
    assert (fingerprints, len(calls)) == ([], 1)
    assert fired(view) == found and len(calls) == 2  # a new pass: computed again, the same findings
    list(obs.promql_parses(view))
    list(obs.metric_exists(view))
    assert len(fingerprints) == 2 and len(calls) == 3  # on their own: keyed by content, computed once
