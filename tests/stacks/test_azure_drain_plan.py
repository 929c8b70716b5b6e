"""Azure GPU-VM groups drain before a delete (issue 18, fix 4), as azure-dev's plan shows.

azure-dev runs spot VMs, which cannot have a terminate notification (Azure, "Terminate notification for Azure Virtual
Machine Scale Set instances"): its plan has none, and its boot script still runs the drain handler for the 30 s
Preempt event. The same stack with regular VMs (its stack file with ``spot: false``, planned from a copy) gets the
notification, its timeout the server's stop time rounded up to minutes (within Azure's 5-15).
"""

from __future__ import annotations

import base64
import json
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm.gpu_vm import azure_boot, cloud_init, router_vm

ROOT = Path(__file__).resolve().parents[2]

PLAN_COPY = """
import dataclasses, json, sys
from pathlib import Path
from pulumi_llm.offline.plan import Project, resources_json, run
project = dataclasses.replace(Project.find(Path.cwd()), stacks_dir=Path(sys.argv[1]))
print(json.dumps(resources_json(run(project, "azure-dev"))))
"""


def _vmss(plan: list[dict[str, Any]]) -> dict[str, Any]:
    (vmss,) = [r["inputs"] for r in plan if r["type"] == "azure-native:compute:VirtualMachineScaleSet"]
    return vmss


def _files(vmss: dict[str, Any]) -> dict[str, str]:
    document = yaml.safe_load(base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]))
    return {f["path"]: f["content"] for f in document["write_files"]}


def _stop_seconds(files: dict[str, str]) -> int:
    unit = files[f"/etc/systemd/system/{cloud_init.UNIT}"]
    (seconds,) = re.findall(r"^ExecStop=/usr/bin/docker stop --time (\d+) ", unit, flags=re.MULTILINE)
    return int(seconds)


@pytest.fixture(scope="module")
def regular(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    stacks = tmp_path_factory.mktemp("stacks")
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.azure-dev.yaml").read_text())
    assert config["config"]["pulumi-llm:azure"]["gpu_vm"]["spot"] is True
    config["config"]["pulumi-llm:azure"]["gpu_vm"]["spot"] = False
    (stacks / "Pulumi.azure-dev.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-c", PLAN_COPY, str(stacks)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_spot_azure_dev_has_no_terminate_notification_and_still_runs_the_handler(resources: dict[str, list[dict[str, Any]]]) -> None:
    vmss = _vmss(resources["azure-dev"])
    assert vmss["virtualMachineProfile"]["priority"] == "Spot"
    assert "scheduledEventsProfile" not in vmss["virtualMachineProfile"]  # Azure refuses it on spot
    files = _files(vmss)
    assert files[azure_boot.DRAIN_HANDLER] == azure_boot.drain_source()
    unit = files[f"/etc/systemd/system/{azure_boot.DRAIN_UNIT}"]
    (exec_start,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert [argv[i + 1] for i, token in enumerate(argv) if token == "--unit"] == [router_vm.UNIT, cloud_init.UNIT]
    assert f"systemctl enable --now --no-block {azure_boot.DRAIN_UNIT}" in files[f"{cloud_init.SCRIPT_DIR}/metrics-agent"]


def test_regular_vms_hold_a_delete_for_the_servers_stop_time(regular: list[dict[str, Any]]) -> None:
    vmss = _vmss(regular)
    assert vmss["virtualMachineProfile"]["priority"] == "Regular"
    stop = _stop_seconds(_files(vmss))
    assert stop == 225  # azure-dev: the gateway's engine timeout (210 s) + 15 s of teardown
    minutes = min(15, max(5, math.ceil(stop / 60)))
    assert vmss["virtualMachineProfile"]["scheduledEventsProfile"] == {
        "terminateNotificationProfile": {"enable": True, "notBeforeTimeout": f"PT{minutes}M"}
    }
    assert minutes == 5  # 225 s is under Azure's floor of 5 minutes
