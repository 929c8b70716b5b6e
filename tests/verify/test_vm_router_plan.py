"""dev's recorded plan (AWS, gpu-vm behind the gateway): both sides of every seam the VM router adds meet.

The gateway's URL → the listener that forwards /v1/* → the target group on the router's port → the port the boot
script publishes the router on; the target group's health check → the model server's port and path; the agent's
Deployment label → the dashboard's router graphs; the lister's security-group filter → the instances' group.
"""

from __future__ import annotations

import base64
import gzip
import json
import shlex

import yaml
from pulumi_llm.gpu_vm import aws_boot, router_vm
from pulumi_llm.verify.rules import aws_paths as paths

from .conftest import resource

MODEL = "llama-3-1-8b-instruct"
VM = f"llm-vm-{MODEL}"


def _boot(view) -> dict[str, str]:
    template = resource(view, "aws:ec2/launchTemplate:LaunchTemplate", f"{VM}-launch-template")["inputs"]
    document = yaml.safe_load(gzip.decompress(base64.b64decode(template["userData"])).decode())
    return {f["path"]: f["content"] for f in document["write_files"]}


def test_the_load_balancer_forwards_the_api_to_the_router_the_vm_publishes(recorded) -> None:
    view = recorded("dev")
    boot = _boot(view)
    run = shlex.split(boot[f"{router_vm.ROUTER_DIR}/run"].split("\nexec ", 1)[1])
    published = run[run.index("--publish") + 1]
    group = resource(view, paths.TARGET_GROUP, f"{VM}-tg")["inputs"]
    assert published == f"{group['port']}:{group['port']}" == f"{router_vm.ROUTER_PORT}:{router_vm.ROUTER_PORT}"
    rule = resource(view, paths.LISTENER_RULE, f"{VM}-api")["inputs"]
    forwarded = paths.by_arn(view, rule["actions"][0]["targetGroupArn"], paths.TARGET_GROUP)
    assert forwarded is not None and forwarded["name"] == f"{VM}-tg"
    listener = paths.by_arn(view, rule["listenerArn"], paths.LISTENER)
    assert listener is not None and listener["inputs"]["defaultActions"][0]["type"] == "fixed-response"
    # The health check is the model server's: the port vLLM listens on and its /health.
    server = boot["/usr/local/lib/llm-server/run"]
    assert f"--publish {group['healthCheck']['port']}:{group['healthCheck']['port']}" in server
    assert group["healthCheck"]["path"] == "/health"


def test_the_dashboard_graphs_the_deployment_the_agent_labels(recorded) -> None:
    view = recorded("dev")
    prometheus = yaml.safe_load(_boot(view)[aws_boot.PROMETHEUS_CONFIG])
    router_job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == aws_boot.ROUTER_SCRAPE_JOB)
    deployment = router_job["static_configs"][0]["labels"]["Deployment"]
    body = json.loads(resource(view, "aws:cloudwatch/dashboard:Dashboard", "llm-alarms-dashboard")["inputs"]["dashboardBody"])
    rows = [
        row
        for w in body["widgets"]
        if str(w["properties"].get("title", "")).startswith("vLLM routers")
        for row in w["properties"]["metrics"]
    ]
    assert len(rows) == len(aws_boot.ROUTER_PANELS) and {row[3] for row in rows} == {deployment}
    assert {row[1] for row in rows} <= set(router_vm.METRIC_NAMES)


def test_the_lister_lists_the_instances_of_this_groups_security_group(recorded) -> None:
    view = recorded("dev")
    lister = _boot(view)[router_vm.LISTER]
    group = resource(view, paths.SG, f"{VM}-instance-sg")
    assert f"Name=instance.group-id,Values={group['id']}" in lister
    template = resource(view, "aws:ec2/launchTemplate:LaunchTemplate", f"{VM}-launch-template")["inputs"]
    assert template["networkInterfaces"][0]["securityGroups"] == [group["id"]]
