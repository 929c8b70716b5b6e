"""dev's router lister (AWS), run: the shell script taken from dev's recorded user data (base64 of gzip), with a
stand-in for the pinned AWS CLI container that records each `docker` argv and answers the describe-* calls from
canned JSON, applying the call's ``--query`` (JMESPath, the library the AWS CLI evaluates it with) and printing it
as ``--output text`` does (a list of scalars: one line, tab-separated).

What it shows that reading the script cannot (review L5): the nested quoting survives two shells — the query reaches
the CLI as one argument, exactly as written — the group is found by the Auto Scaling group's own tags, only
InService + Healthy instances count, the addresses are limited to the group's security group, the instance ids
reach ``--instance-ids`` as separate arguments, and the reconciler gets one address a line.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.gpu_vm import aws_boot, router_vm

ROOT = Path(__file__).resolve().parents[2]
DOCKER = "/usr/bin/docker"

STAND_IN = f"""#!{sys.executable}
# docker stand-in: records argv, answers `run ... <aws-cli image> <service> <operation> ...` from canned JSON.
import json, os, sys
import jmespath
argv = sys.argv[1:]
with open(os.environ["DOCKER_CALLS"], "a") as calls:
    calls.write(json.dumps(argv) + "\\n")
if os.environ.get("DOCKER_FAIL"):
    sys.stderr.write("An error occurred (AccessDenied)\\n")
    sys.exit(255)
image = argv.index({pins.AWS_CLI.ref!r})
service, operation = argv[image + 1], argv[image + 2]
with open(os.path.join(os.environ["CANNED"], service + "-" + operation + ".json")) as handle:
    answer = json.load(handle)
result = jmespath.search(argv[argv.index("--query") + 1], answer)
assert argv[argv.index("--output") + 1] == "text"
if result:
    print("\\t".join(str(value) for value in result))
"""

GROUPS = {
    "AutoScalingGroups": [
        {
            "AutoScalingGroupName": "llm-vm-llama-3-1-8b-instruct-asg-1",
            "Instances": [
                {"InstanceId": "i-0aaa", "LifecycleState": "InService", "HealthStatus": "Healthy"},
                {"InstanceId": "i-0bbb", "LifecycleState": "Pending", "HealthStatus": "Healthy"},
                {"InstanceId": "i-0ccc", "LifecycleState": "InService", "HealthStatus": "Unhealthy"},
                {"InstanceId": "i-0ddd", "LifecycleState": "Terminating:Wait", "HealthStatus": "Healthy"},
                {"InstanceId": "i-0eee", "LifecycleState": "InService", "HealthStatus": "Healthy"},
            ],
        }
    ]
}
INSTANCES = {
    "Reservations": [
        {"Instances": [{"InstanceId": "i-0aaa", "PrivateIpAddress": "10.0.64.11"}]},
        {"Instances": [{"InstanceId": "i-0eee", "PrivateIpAddress": "10.0.65.7"}]},
    ]
}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("dev-plan")
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "plan", "dev", "--quiet", "--no-verify", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((out / "resources.json").read_text())


def _inputs(resources: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    (found,) = [r["inputs"] for r in resources if r["type"] == type_]
    return found


def _run(
    dev: list[dict[str, Any]], tmp_path: Path, groups: dict[str, Any], *, fail: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    template = _inputs(dev, "aws:ec2/launchTemplate:LaunchTemplate")
    document = yaml.safe_load(gzip.decompress(base64.b64decode(template["userData"])).decode())
    lister = next(f["content"] for f in document["write_files"] if f["path"] == router_vm.LISTER)
    # The script calls docker by its absolute path (twice); the stand-in takes that path's place, nothing else changes.
    assert lister.count(DOCKER + " ") == 2
    stand_in = tmp_path / "docker"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    script = tmp_path / "list-instances"
    script.write_text(lister.replace(DOCKER + " ", f"{stand_in} "))
    canned = tmp_path / "canned"
    canned.mkdir()
    (canned / "autoscaling-describe-auto-scaling-groups.json").write_text(json.dumps(groups))
    (canned / "ec2-describe-instances.json").write_text(json.dumps(INSTANCES))
    calls = tmp_path / "calls.jsonl"
    env = {**os.environ, "DOCKER_CALLS": str(calls), "CANNED": str(canned), **({"DOCKER_FAIL": "1"} if fail else {})}
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
    recorded = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return result, recorded


def test_the_lister_prints_the_groups_in_service_healthy_addresses_one_a_line(dev: list[dict[str, Any]], tmp_path: Path) -> None:
    result, calls = _run(dev, tmp_path, GROUPS)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "10.0.64.11\n10.0.65.7\n"
    # Expected filters from the plan's own resources: the Auto Scaling group's tags, the instances' security group.
    tags = {t["key"]: t["value"] for t in _inputs(dev, "aws:autoscaling/group:Group")["tags"]}
    (security_group,) = _inputs(dev, "aws:ec2/launchTemplate:LaunchTemplate")["networkInterfaces"][0]["securityGroups"]
    cli = ["run", "--rm", "--network", "host", "--env", "AWS_REGION=us-east-1", pins.AWS_CLI.ref]
    assert calls == [
        [
            *cli,
            "autoscaling",
            "describe-auto-scaling-groups",
            "--filters",
            f"Name=tag:pulumi-llm:stack,Values={tags['pulumi-llm:stack']}",
            f"Name=tag:pulumi-llm:method,Values={tags['pulumi-llm:method']}",
            f"Name=tag:pulumi-llm:model,Values={tags['pulumi-llm:model']}",
            "--query",
            "AutoScalingGroups[].Instances[?LifecycleState=='InService' && HealthStatus=='Healthy'].InstanceId[]",
            "--output",
            "text",
        ],
        [
            *cli,
            "ec2",
            "describe-instances",
            "--filters",
            f"Name=instance.group-id,Values={security_group}",
            "Name=instance-state-name,Values=running",
            "--query",
            "Reservations[].Instances[].PrivateIpAddress",
            "--output",
            "text",
            "--instance-ids",
            "i-0aaa",
            "i-0eee",
        ],
    ]
    assert set(aws_boot.GROUP_TAGS) <= set(tags)  # the group carries every tag the lister filters on


def test_no_instance_in_service_prints_nothing_and_succeeds(dev: list[dict[str, Any]], tmp_path: Path) -> None:
    pending = {"AutoScalingGroups": [{"Instances": [{"InstanceId": "i-0bbb", "LifecycleState": "Pending", "HealthStatus": "Healthy"}]}]}
    result, calls = _run(dev, tmp_path, pending)
    assert (result.returncode, result.stdout) == (0, "")
    assert len(calls) == 1  # describe-instances is not called with no id


def test_a_failed_call_fails_the_lister_so_the_router_is_left_as_is(dev: list[dict[str, Any]], tmp_path: Path) -> None:
    result, calls = _run(dev, tmp_path, GROUPS, fail=True)
    assert result.returncode != 0 and result.stdout == ""
    assert len(calls) == 1
