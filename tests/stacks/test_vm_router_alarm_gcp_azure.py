"""gcp-dev and azure-dev (GPU VMs with the router): an alert to the stack's channels when the group's routers see no
healthy worker, and (gcp-dev) the stack dashboard's router charts. Read from the recorded plans: every metric name,
kind and label the alert or a chart reads is one the boot script's agent ships (Ops Agent scrape jobs on GCP, the
custom-metrics helper's config on Azure), and the alerts wait as long as AWS's (router_vm.decide_no_worker_window)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import yaml
from pulumi_llm.gpu_vm import aws_boot, azure_boot, gcp_boot, router_vm

VM = "llm-vm-llama-3-1-8b-instruct"
GCP_DEPLOYMENT = f"gcp-dev-{VM}"


def named(resources: dict[str, list[dict]], stack: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources[stack]}


def boot_files(document: str) -> dict[str, str]:
    return {f["path"]: f["content"] for f in yaml.safe_load(document)["write_files"]}


def _gcp_jobs(plan: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Ops Agent's scrape jobs as the gcp-dev template's boot script writes them."""
    files = boot_files(plan[f"{VM}-template"]["inputs"]["metadata"]["user-data"])
    config = yaml.safe_load(files[gcp_boot.OPS_AGENT_CONFIG_SOURCE])
    return {job["job_name"]: job for job in config["metrics"]["receivers"][gcp_boot.SCRAPE_RECEIVER]["config"]["scrape_configs"]}


def _ships(job: dict[str, Any], name: str, labels: dict[str, str]) -> bool:
    """Whether the scrape `job` keeps series `name` and writes every label of `labels` with that value."""
    [keep] = [rule for rule in job["metric_relabel_configs"] if rule["action"] == "keep"]
    written = {k: v for target in job["static_configs"] for k, v in target["labels"].items()}
    return re.fullmatch(keep["regex"], name) is not None and all(written.get(k) == v for k, v in labels.items())


def _promql_selectors(query: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, {label: value}) of every selector `name{label="value",...}` in a PromQL query."""
    return [
        (name, dict(re.findall(r'(\w+)="([^"]*)"', matchers)))
        for name, matchers in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}", query)
    ]


def test_gcp_alerts_when_its_routers_have_no_worker_on_what_the_agent_ships(resources) -> None:
    plan = named(resources, "gcp-dev")
    policy = plan[f"{VM}-alert-router-no-workers"]["inputs"]
    # The stack's notification channels, as the group's other policies.
    assert (
        policy["notificationChannels"]
        and policy["notificationChannels"] == plan[f"{VM}-alert-server-down"]["inputs"]["notificationChannels"]
    )
    [condition] = policy["conditions"]
    promql = condition["conditionPrometheusQueryLanguage"]
    jobs = _gcp_jobs(plan)
    selectors = _promql_selectors(promql["query"])
    # Both sides: the router's worker gauge from the router's job, the server's gauge from the server's, same label.
    assert {name for name, _ in selectors} == {router_vm.ACTIVE_WORKERS, "vllm:num_requests_waiting"}
    for name, labels in selectors:
        job = jobs[gcp_boot.ROUTER_SCRAPE_JOB if name.startswith("vllm_router_") else gcp_boot.SCRAPE_JOB]
        assert labels == {gcp_boot.DEPLOYMENT_LABEL: GCP_DEPLOYMENT} and _ships(job, name, labels), (name, labels)
    # No router reporting counts as 0 workers; only while some server reports.
    assert f"min({router_vm.ACTIVE_WORKERS}{{" in promql["query"] and "or on() vector(0)) < 1" in promql["query"]
    assert "and on() (count(vllm:num_requests_waiting{" in promql["query"]
    # Longer than the group's autohealing grace: a booting VM doesn't page; the same window AWS's alarm waits.
    grace = plan[f"{VM}-mig"]["inputs"]["autoHealingPolicies"]["initialDelaySec"]
    duration = int(promql["duration"].removesuffix("s"))
    assert duration == router_vm.decide_no_worker_window(grace) and grace < duration <= 86400


def test_gcp_dashboard_charts_the_routers_as_the_agent_writes_them(resources) -> None:
    [dashboard] = [r for r in resources["gcp-dev"] if r["type"] == "gcp:monitoring/dashboard:Dashboard"]
    tiles = json.loads(dashboard["inputs"]["dashboardJson"])["mosaicLayout"]["tiles"]
    charts = [t["widget"] for t in tiles if t["widget"]["title"].startswith("vLLM routers: ")]
    router_job = _gcp_jobs(named(resources, "gcp-dev"))[gcp_boot.ROUTER_SCRAPE_JOB]
    read: list[str] = []
    for chart in charts:
        [data_set] = chart["xyChart"]["dataSets"]  # one routed model in gcp-dev
        flt = data_set["timeSeriesQuery"]["timeSeriesFilter"]["filter"]
        fields = dict(re.findall(r'([\w.]+) = "([^"]*)"', flt))
        name, kind = re.fullmatch(r"prometheus\.googleapis\.com/(.+)/(\w+)", fields["metric.type"]).groups()  # type: ignore[union-attr]
        assert fields["resource.type"] == "prometheus_target" and kind == router_vm.METRIC_KINDS[name]
        assert _ships(router_job, name, {gcp_boot.DEPLOYMENT_LABEL: fields[f"metric.labels.{gcp_boot.DEPLOYMENT_LABEL}"]})
        assert fields[f"metric.labels.{gcp_boot.DEPLOYMENT_LABEL}"] == GCP_DEPLOYMENT
        read.append(name)
    # The AWS dashboard's four router graphs, the same metrics.
    assert read == [metric for _, metric, _ in aws_boot.ROUTER_PANELS]


def test_azure_alerts_when_its_routers_have_no_worker_on_what_the_helper_posts(resources) -> None:
    plan = named(resources, "azure-dev")
    alert = plan[f"{VM}-alert-router-no-workers"]["inputs"]
    assert alert["actions"] and alert["actions"] == plan[f"{VM}-alert-vm-availability"]["inputs"]["actions"]
    assert alert["scopes"] == plan[f"{VM}-alert-vm-availability"]["inputs"]["scopes"]  # the scale set
    files = boot_files(base64.b64decode(plan[f"{VM}-vmss"]["inputs"]["virtualMachineProfile"]["osProfile"]["customData"]).decode())
    config = json.loads(files[azure_boot.METRICS_CONFIG])
    workers, servers = alert["criteria"]["allOf"]
    # Both sides: each criterion's metric is one the helper posts, in its namespace, from the gauge it names.
    for criterion in (workers, servers):
        assert criterion["metricNamespace"] == config["namespace"] and criterion["skipMetricValidation"] is True
        assert criterion["metricName"] in config["gauges"]
    assert config["gauges"][workers["metricName"]] == router_vm.ACTIVE_WORKERS
    assert config["router_scrape_url"] == f"http://{router_vm.METRICS_TARGET}/metrics"
    assert config["gauges"][servers["metricName"]] == "vllm:num_requests_waiting"
    # No worker throughout the window (its Maximum under 1) while some server posted (ANDed).
    assert (workers["timeAggregation"], workers["operator"], workers["threshold"]) == ("Maximum", "LessThan", 1)
    assert (servers["timeAggregation"], servers["operator"], servers["threshold"]) == ("Count", "GreaterThan", 0)
    # At least AWS's and GCP's window past the scale set's repair grace, as a window Azure accepts.
    grace = int(re.fullmatch(r"PT(\d+)M", plan[f"{VM}-vmss"]["inputs"]["automaticRepairsPolicy"]["gracePeriod"]).group(1))  # type: ignore[union-attr]
    hours, minutes = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?", alert["windowSize"]).groups()  # type: ignore[union-attr]
    window = int(hours or 0) * 60 + int(minutes or 0)
    assert window * 60 >= router_vm.decide_no_worker_window(grace * 60) > grace * 60
