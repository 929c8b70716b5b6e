"""No container on Docker's bridge network of a GPU VM reaches the cloud's metadata service (the VM's credentials),
on any of the three clouds, as the recorded plans of dev (AWS), gcp-dev and azure-dev boot their VMs.

GCP and Azure have no metadata hop limit: there the boot script's `llm-metadata-guard.service` inserts the
DOCKER-USER rules, and every unit that starts a bridged container — the model server, and the router's pip-install
container and the router itself — requires it and is ordered after it, so nothing bridged runs before the rules are
in, and a Docker restart (which restarts the units that require it) re-runs the guard before the containers come
back. AWS needs no guard: IMDSv2 with a hop limit of 1 (the launch template) already keeps bridged containers out,
and the host-side AWS CLI containers that need the credentials run on the host network.

Before: Azure's rules were ExecStartPre lines of the server's unit only (after its weights sync), and GCP's guard
was required by the server's unit only, so the router's containers ran unguarded (review H1, M1).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm.gpu_vm import cloud_init, router_vm

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "gcp-dev", "azure-dev")
GUARD = "llm-metadata-guard.service"
SYSTEMD = "/etc/systemd/system/"
IMDS = "169.254.169.254"


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """The recorded resources of the three GPU-VM stacks (`pulumi-llm plan <stack>`, no verify pass)."""
    out = tmp_path_factory.mktemp("guard-plans")
    found: dict[str, list[dict[str, Any]]] = {}
    for stack in STACKS:
        result = subprocess.run(
            [sys.executable, "-m", "pulumi_llm.cli", "plan", stack, "--quiet", "--no-verify", "--out", str(out / stack)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        found[stack] = json.loads((out / stack / "resources.json").read_text())
    return found


def _only(resources: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    (found,) = [r["inputs"] for r in resources if r["type"] == type_]
    return found


def boot_document(stack: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The VM's `#cloud-config`, decoded as the cloud hands it to cloud-init."""
    if stack == "dev":  # gzip, then base64 (user data is capped at 16 KiB)
        text = gzip.decompress(base64.b64decode(_only(resources, "aws:ec2/launchTemplate:LaunchTemplate")["userData"])).decode()
    elif stack == "gcp-dev":
        text = _only(resources, "gcp:compute/instanceTemplate:InstanceTemplate")["metadata"]["user-data"]
    else:
        vmss = _only(resources, "azure-native:compute:VirtualMachineScaleSet")
        text = base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    return yaml.safe_load(text)


def units(files: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """systemd unit → directive → its values, the unit file and its drop-ins (`<unit>.d/*.conf`, in name order)
    merged as systemd merges them (list directives accumulate)."""
    merged: dict[str, dict[str, list[str]]] = {}
    paths = sorted(p for p in files if p.startswith(SYSTEMD))
    for path in sorted(paths, key=lambda p: (p.count("/"), p)):  # unit files before their drop-ins
        relative = path[len(SYSTEMD) :]
        name = relative.split(".d/", 1)[0] if ".d/" in relative else relative
        directives = merged.setdefault(name, {})
        for line in files[path].splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";", "[")) or "=" not in line:
                continue
            key, value = line.split("=", 1)
            directives.setdefault(key, []).append(value)
    return merged


def listed(directives: dict[str, list[str]], key: str) -> set[str]:
    return {name for value in directives.get(key, []) for name in value.split()}


def _logical_lines(script: str) -> list[str]:
    return script.replace("\\\n", " ").splitlines()


def bridged_docker_runs(directives: dict[str, list[str]], files: dict[str, str]) -> list[str]:
    """Every `docker run` the unit's commands start (inline, or in a script of the boot document they name, e.g. the
    reconciler's lister) that is not on the host network."""
    sources: list[str] = []
    for key in ("ExecStartPre", "ExecStart", "ExecStartPost"):
        for command in directives.get(key, []):
            command = command.lstrip("-+@!:")
            sources.append(command)
            sources += [files[token] for token in shlex.split(command) if token in files]
    runs = [line for source in sources for line in _logical_lines(source) if re.search(r"docker'?\s+'?run\b", line)]
    return [run for run in runs if not re.search(r"--network[ =]'?host\b", run)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_bridged_container_starts_after_the_metadata_guard(plans: dict[str, list[dict[str, Any]]], stack: str) -> None:
    document = boot_document(stack, plans[stack])
    files = {f["path"]: f["content"] for f in document["write_files"]}
    found = units(files)
    bridged = {name for name, directives in found.items() if bridged_docker_runs(directives, files)}
    # Not vacuous: the model server and the router (its pip install and itself) run bridged on every cloud.
    assert bridged == {cloud_init.UNIT, router_vm.UNIT}, bridged

    if stack == "dev":
        # AWS: IMDSv2 only, one hop — a bridged container's token request never comes back (no guard needed).
        options = _only(plans[stack], "aws:ec2/launchTemplate:LaunchTemplate")["metadataOptions"]
        assert options["httpTokens"] == "required" and options["httpPutResponseHopLimit"] == 1
        assert GUARD not in found
        return

    guard = found[GUARD]
    assert guard["Type"] == ["oneshot"] and guard["RemainAfterExit"] == ["yes"]
    # In place only while Docker runs, re-applied after Docker (re)starts: it goes down and up with docker.service.
    assert "docker.service" in listed(guard, "After") and "docker.service" in listed(guard, "BindsTo")
    inserted = [c for c in guard["ExecStart"] if "iptables -I DOCKER-USER" in c and f"-d {IMDS}/32" in c]
    assert inserted and all(re.search(r"-j (DROP|REJECT)\b", c) for c in inserted)
    for name in bridged:
        directives = found[name]
        assert GUARD in listed(directives, "Requires") and GUARD in listed(directives, "After"), name
        # A Docker restart restarts the unit too (Requires propagates restarts), in the same job as the guard's.
        assert "docker.service" in listed(directives, "Requires"), name
    if stack == "azure-dev":  # the WireServer's HTTP ports too (its DNS stays open)
        for port in (80, 32526):
            assert any(f"-d 168.63.129.16/32 -p tcp --dport {port} -j DROP" in c for c in guard["ExecStart"]), port
    # The guard is started by the units that need it; boot enables those.
    started = next(step for step in document["runcmd"] if step[:2] == ["systemctl", "enable"])
    assert {cloud_init.UNIT, router_vm.UNIT} <= set(started)
