"""Streams drain on the serving paths besides vLLM on Kubernetes (issue 18, fix 4), as the shipped stacks' plans show.

Before: Triton's pods got the long grace but tritonserver waited only its default 30 s (`--exit-timeout-secs`) for
in-flight inferences after SIGTERM; the GPU-VM groups stopped their containers with `docker stop --time 60` (vLLM
without `--shutdown-timeout` aborts on SIGTERM) and their load balancers drained a leaving instance for 60 s, while
streams run up to the gateway's engine timeout (or the load balancer's 3600 s).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import serving
from pulumi_llm.kubernetes import resilience
from pulumi_llm.offline.plan import Project, load_settings
from pulumi_llm.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def settings_of(stack: str) -> Settings:
    return load_settings(Project(ROOT, "pulumi-llm", ROOT / "stacks", ROOT / "stacks"), stack)


def of(resources: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r["inputs"] for r in resources if r["type"] == type_]


def test_triton_drains_the_longest_stream_after_the_prestop(resources: dict[str, list[dict[str, Any]]]) -> None:
    settings = settings_of("onprem-triton")
    longest = serving.longest_stream_seconds(settings)
    (deployment,) = of(resources["onprem-triton"], "kubernetes:apps/v1:Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    assert server["command"] == ["tritonserver"]
    assert f"--exit-timeout-secs={longest}" in server["args"]  # default 30 s: longer streams were cut at SIGTERM
    prestop = server["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= prestop + longest
    # The rollout is the same decision as vLLM's (serving.rollout: on-prem `auto` replaces, capacity unknown).
    (name,) = settings.models
    rollout = serving.rollout(settings, name)
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": rollout.max_surge, "maxUnavailable": rollout.max_unavailable}


def _boot_document(stack: str, plan: list[dict[str, Any]]) -> str:
    if stack == "dev":
        (template,) = of(plan, "aws:ec2/launchTemplate:LaunchTemplate")
        return gzip.decompress(base64.b64decode(template["userData"])).decode()  # user data is gzipped (16 KiB cap)
    if stack == "gcp-dev":
        (template,) = of(plan, "gcp:compute/instanceTemplate:InstanceTemplate")
        return template["metadata"]["user-data"]
    (vmss,) = of(plan, "azure-native:compute:VirtualMachineScaleSet")
    return base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]).decode()


def _units(document: str) -> dict[str, str]:
    return {f["path"].rsplit("/", 1)[1]: f["content"] for f in yaml.safe_load(document)["write_files"] if f["path"].endswith(".service")}


def _seconds(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found is not None, pattern
    return int(found.group(1))


@pytest.mark.parametrize("stack", ["dev", "gcp-dev", "azure-dev"])
def test_gpu_vm_servers_and_routers_stop_only_after_the_longest_stream(resources: dict[str, list[dict[str, Any]]], stack: str) -> None:
    longest = serving.longest_stream_seconds(settings_of(stack))
    document = _boot_document(stack, resources[stack])
    assert f"--shutdown-timeout={longest}" in document  # vLLM drains on SIGTERM instead of aborting
    units = _units(document)
    stopped = {name: text for name, text in units.items() if "docker stop" in text}
    assert {"llm-server.service", "llm-router.service"} <= set(stopped)
    for name, text in stopped.items():
        docker_stop, systemd_stop = _seconds(r"docker stop --time (\d+) ", text), _seconds(r"TimeoutStopSec=(\d+)", text)
        assert docker_stop >= longest + resilience.SHUTDOWN_MARGIN_SECONDS, name
        assert systemd_stop > docker_stop, name  # systemd never kills `docker stop` before the drain ends


@pytest.mark.parametrize(
    ("stack", "type_", "field"),
    [
        ("dev", "aws:lb/targetGroup:TargetGroup", "deregistrationDelay"),
        ("gcp-dev", "gcp:compute/regionBackendService:RegionBackendService", "connectionDrainingTimeoutSec"),
    ],
)
def test_the_load_balancer_drains_a_leaving_vm_for_the_longest_stream(
    resources: dict[str, list[dict[str, Any]]], stack: str, type_: str, field: str
) -> None:
    longest = serving.longest_stream_seconds(settings_of(stack))
    # The GPU-VM group's own (dev's gateway has a target group too, drained for the engine timeout already).
    backends = [r["inputs"] for r in resources[stack] if r["type"] == type_ and "-vm-" in r["name"]]
    assert backends
    assert {json.dumps(b[field]) for b in backends} == {str(min(longest, 3600))}
