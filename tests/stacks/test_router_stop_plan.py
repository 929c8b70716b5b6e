"""The vLLM routers of the shipped stacks stop without cutting streams (tests/unit/test_router_stop.py has why).

Kubernetes: every router pod sleeps the model pods' preStop, then has the stack's longest stream (the gateway's
engine timeout when a gateway is in front, else 3600 s) to drain in, as the model pods do. GPU VMs: the router's
unit is ordered after the model server's (so it stops first at shutdown) without requiring it, and its container
gets the longest stream to drain in.
"""

from __future__ import annotations

import base64
import gzip
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import serving
from pulumi_llm.gpu_vm import cloud_init, router_vm
from pulumi_llm.kubernetes import resilience
from pulumi_llm.offline.plan import Project, load_settings

ROOT = Path(__file__).resolve().parents[2]
ROUTED_CLUSTERS = ("prod", "staging", "gcp-prod", "azure-prod", "onprem")
ROUTED_VMS = ("dev", "gcp-dev", "azure-dev")


def _longest(stack: str) -> int:
    return serving.longest_stream_seconds(load_settings(Project(ROOT, "pulumi-llm", ROOT / "stacks", ROOT / "stacks"), stack))


def _pods(plan: list[dict[str, Any]], component: str) -> list[dict[str, Any]]:
    return [
        r["inputs"]["spec"]["template"]["spec"]
        for r in plan
        if r["type"] == "kubernetes:apps/v1:Deployment"
        and r["inputs"]["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]


@pytest.mark.parametrize("stack", ROUTED_CLUSTERS)
def test_router_pods_sleep_as_the_model_pods_and_drain_the_longest_stream(resources: dict[str, list[dict[str, Any]]], stack: str) -> None:
    longest = _longest(stack)
    routers = _pods(resources[stack], "router")
    assert routers, f"{stack}: no router pod"
    models = [p for p in _pods(resources[stack], "model-server") if p["containers"][0]["lifecycle"].get("preStop")]
    assert models, f"{stack}: no model-server pod with a preStop"
    model_prestops = {p["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] for p in models}
    for pod in routers:
        (router,) = pod["containers"]
        prestop = router["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert {prestop} == model_prestops == {resilience.PRESTOP_SLEEP_SECONDS}
        assert pod["terminationGracePeriodSeconds"] >= prestop + longest  # the router drains until SIGKILL
        assert pod["terminationGracePeriodSeconds"] in {p["terminationGracePeriodSeconds"] for p in models}


def _boot_document(stack: str, plan: list[dict[str, Any]]) -> str:
    inputs = {r["type"]: r["inputs"] for r in plan}
    if stack == "dev":
        return gzip.decompress(base64.b64decode(inputs["aws:ec2/launchTemplate:LaunchTemplate"]["userData"])).decode()
    if stack == "gcp-dev":
        return inputs["gcp:compute/instanceTemplate:InstanceTemplate"]["metadata"]["user-data"]
    vmss = inputs["azure-native:compute:VirtualMachineScaleSet"]
    return base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]).decode()


def _unit(document: str, name: str) -> str:
    (text,) = [f["content"] for f in yaml.safe_load(document)["write_files"] if f["path"] == f"/etc/systemd/system/{name}"]
    return text


def _values(unit: str, key: str) -> set[str]:
    return {name for line in unit.splitlines() if line.startswith(f"{key}=") for name in line.split("=", 1)[1].split()}


@pytest.mark.parametrize("stack", ROUTED_VMS)
def test_vm_routers_stop_before_their_server_and_start_without_it(resources: dict[str, list[dict[str, Any]]], stack: str) -> None:
    document = _boot_document(stack, resources[stack])
    router, server = _unit(document, router_vm.UNIT), _unit(document, cloud_init.UNIT)
    assert cloud_init.UNIT in _values(router, "After")  # reverse order at shutdown: the router stops first
    assert not {cloud_init.UNIT} & (_values(router, "Requires") | _values(router, "BindsTo") | _values(router, "PartOf"))
    assert router_vm.UNIT not in _values(server, "After") | _values(server, "Before")
    found = re.search(r"ExecStop=/usr/bin/docker stop --time (\d+) ", router)
    assert found is not None and int(found.group(1)) >= _longest(stack) + resilience.SHUTDOWN_MARGIN_SECONDS
