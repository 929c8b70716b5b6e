"""Helpers for tests that run components under the same recording mock runtime as the plan."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pulumi_llm.offline.plan import execute
from pulumi_llm.offline.recorder import Record

NO_DEFAULT_PROVIDERS = {"pulumi:disable-default-providers": json.dumps(["*"])}
ROOT = Path(__file__).resolve().parents[1]


def shipped_stack(stack: str) -> dict[str, Any]:
    """A shipped stack file, parsed: start an edited copy from it."""
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())


def scratch_project(base: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    """`base` as a copy of the project's program and Pulumi.yaml with the given stack files (name → parsed
    stack file), for planning an edited stack with `pulumi-llm --project-dir base plan NAME`."""
    shutil.copy(ROOT / "Pulumi.yaml", base / "Pulumi.yaml")
    (base / "stacks").mkdir(exist_ok=True)
    shutil.copy(ROOT / "stacks" / "__main__.py", base / "stacks" / "__main__.py")
    for name, config in stacks.items():
        (base / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return base


def plan_stacks(project: Path, out: Path, stacks: Iterable[str]) -> Path:
    """Plans each named stack of `project` (a `scratch_project`) offline into ``out/NAME`` through the
    `pulumi-llm` entry point, without the verification pass; every plan must succeed. Returns `out`."""
    from pulumi_llm import cli  # the whole command: imported by the tests that plan, not by every helper user

    for name in stacks:
        code = cli.main(["--project-dir", str(project), "plan", name, "--quiet", "--no-verify", "--out", str(out / name)])
        assert code == 0, name
    return out


def run(program: Callable[[], object], region: str = "us-east-1", stack: str = "test") -> list[Record]:
    """Run `program` with default providers disabled, as every stack runs; return the registrations."""
    return execute(program, project="pulumi-llm", stack=stack, config=dict(NO_DEFAULT_PROVIDERS), region=region)


def by_name(records: list[Record]) -> dict[str, Record]:
    return {r.name: r for r in records}


def of_type(records: list[Record], type_: str) -> list[Record]:
    return [r for r in records if r.type == type_]


def children(records: list[Record], parent: Record) -> list[tuple[str, str]]:
    """(type, name) of the direct children of `parent`, sorted."""
    return sorted((r.type, r.name) for r in records if r.parent == parent.urn)


def only(records: list[Record], type_: str) -> Record:
    found = of_type(records, type_)
    assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
    return found[0]


def inputs(record: Record) -> dict[str, Any]:
    return record.inputs


def onprem_lab_settings(serving: dict[str, Any] | None = None, methods: str = '["onprem"]') -> Any:
    """Settings of a one-model on-prem stack ("lab": Llama 3.1 8B on L4s from a PVC), with `serving` when given."""
    from pulumi_llm.settings import load

    config = {
        "pulumi-llm:environment": "lab",
        "pulumi-llm:cloud": "onprem",
        "pulumi-llm:methods": methods,
        "pulumi-llm:onprem": json.dumps({"kube_context": "lab", "namespace": "models", "gpus": {"accelerator": "L4", "per_node": 4}}),
        "pulumi-llm:models": json.dumps(
            {
                "chat": {
                    "catalog": "llama-3.1-8b-instruct",
                    "source": "pvc://weights/llama/0e9e39f249a16976918f6564b8830bc894c89659",
                    "context": 8192,
                    "revision": "0e9e39f249a16976918f6564b8830bc894c89659",
                }
            }
        ),
    }
    if serving is not None:
        config["pulumi-llm:serving"] = json.dumps(serving)
    return load(config, "stacks/Pulumi.lab.yaml")
