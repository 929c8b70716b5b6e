"""dev (AWS GPU VMs with the router): an alarm to the stack's alarm topic when the group's routers report no
healthy worker — or report nothing at all (a router that never started) — while the group has instances in service.
Read from the recorded plan: the alarm's metrics are the ones the boot script's CloudWatch agent ships."""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
from typing import Any

import yaml
from pulumi_llm.gpu_vm import aws_boot
from pulumi_llm.monitoring import cloudwatch

VM = "llm-vm-llama-3-1-8b-instruct"
ALARM = f"{VM}-alarm-router-no-workers"


def named(resources: dict[str, list[dict]], stack: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources[stack]}


def _query(alarm: dict[str, Any], id_: str) -> dict[str, Any]:
    [query] = [q for q in alarm["metricQueries"] if q["id"] == id_]
    return query


def _evaluate(expression: str, **series: float | None) -> float:
    """The alarm's expression for one period: FILL(x, 0) gives a missing datapoint 0, IF(c, a, b) as CloudWatch."""
    text = re.sub(r"FILL\((\w+), 0\)", lambda m: f"(0 if {m.group(1)} is None else {m.group(1)})", expression)
    text = re.sub(r"IF\((.*), 1, 0\)$", r"(1 if (\1) else 0)", text).replace(" AND ", " and ")
    return float(eval(text, {}, dict(series)))  # noqa: S307 — the plan's own expression, two names, test-only


def test_dev_alarms_when_its_routers_have_no_worker(resources) -> None:
    plan = named(resources, "dev")
    alarm = plan[ALARM]["inputs"]
    topic = next(r for r in resources["dev"] if r["type"] == "aws:sns/topic:Topic")
    # The stack's alarm topic, as the group's other alarms.
    assert alarm["alarmActions"] == alarm["okActions"] == plan[f"{VM}-alarm-gpu-idle"]["inputs"]["alarmActions"]
    assert alarm["alarmActions"] and topic["name"] == "llm-alarms-topic"
    workers = _query(alarm, "workers")["metric"]
    # The metric and dimension the boot script's agent publishes (its EMF declaration for the router job).
    script = gzip.decompress(base64.b64decode(plan[f"{VM}-launch-template"]["inputs"]["userData"])).decode()
    files = {f["path"]: f["content"] for f in yaml.safe_load(script)["write_files"]}
    agent = json.loads(files[aws_boot.AGENT_CONFIG])["logs"]["metrics_collected"]["prometheus"]["emf_processor"]
    assert workers["namespace"] == agent["metric_namespace"] == aws_boot.SERVER_METRICS_NAMESPACE
    router_job = next(d for d in agent["metric_declaration"] if d["label_matcher"] == f"^{aws_boot.ROUTER_SCRAPE_JOB}$")
    assert f"^{workers['metricName']}$" in router_job["metric_selectors"] and router_job["dimensions"] == [["Deployment"]]
    assert workers["dimensions"] == {"Deployment": f"dev/{VM}"} and workers["stat"] == "Minimum"
    # The group's in-service count, the same series its GPU-idle alarm reads.
    idle_instances = _query(plan[f"{VM}-alarm-gpu-idle"]["inputs"], "instances")["metric"]
    assert _query(alarm, "instances")["metric"] == {**idle_instances, "period": workers["period"]}
    # Longer than a VM takes to serve (the group's health-check grace): a booting single VM doesn't page.
    grace = int(plan[f"{VM}-asg"]["inputs"]["healthCheckGracePeriod"])
    period = workers["period"]
    assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == math.ceil(grace / period) + 1
    assert alarm["evaluationPeriods"] * period <= 86400


def test_the_expression_breaches_on_no_worker_or_no_router_with_instances_only(resources) -> None:
    alarm = named(resources, "dev")[ALARM]["inputs"]
    [expression] = [q["expression"] for q in alarm["metricQueries"] if q.get("returnData")]
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["threshold"] == 1
    assert _evaluate(expression, instances=1, workers=0) == 1  # routers up, no healthy server
    assert _evaluate(expression, instances=2, workers=None) == 1  # no router reports at all (never started)
    assert _evaluate(expression, instances=2, workers=1) == 0
    assert _evaluate(expression, instances=0, workers=None) == 0  # scaled to zero: nothing to route to
    # No instances reported either (no data at all): not breaching.
    assert alarm["treatMissingData"] == "notBreaching"


def test_the_definition_is_a_valid_alarm_and_waits_out_the_boot() -> None:
    [alarm] = cloudwatch.router_worker_alarms("m", asg_name="g", deployment="s/m", namespace="N", grace_seconds=1281)
    cloudwatch.check_alarms([alarm])
    assert alarm["key"] == "m-router-no-workers" and alarm["evaluation_periods"] == 6  # ceil(1281 / 300) + 1
    [long] = cloudwatch.router_worker_alarms("m", asg_name="g", deployment="s/m", namespace="N", grace_seconds=10**6)
    assert long["evaluation_periods"] * 300 <= 86400  # CloudWatch's bound on periods × period
