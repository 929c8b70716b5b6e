#!/usr/bin/env python3
"""Discover the Pulumi stacks of this repository for CI.

Stacks are not listed anywhere in the workflows: every ``stacks/Pulumi.<stack>.yaml`` is a stack, its
cloud is the ``pulumi-llm:cloud`` value in that file, and the runner its jobs run on is the one
``pulumi_llm.ci_runner.decide_ci_runner`` chooses from its settings (``pulumi-llm:ci.runner_labels``, a
self-hosted runner inside the network of a stack whose Kubernetes API no GitHub-hosted runner reaches).

    uv run --no-sync python .github/scripts/stacks.py matrix
        -> {"include": [{"stack": "dev", "cloud": "aws", "runner": ["ubuntu-latest"]}, ...]}
    python3 .github/scripts/stacks.py cloud STACK
        -> aws

When ``GITHUB_OUTPUT`` is set, the same values are also written there (``matrix=``, ``count=`` and
``runners=``, a JSON object of each stack's runner labels; or ``cloud=``). ``cloud`` is standard library
only (no dependency needed; the key it reads is a plain scalar in a plain mapping); ``matrix`` validates
every stack file with pulumi_llm, so it runs in the project environment, and refuses a stack that talks
to a Kubernetes API no runner it names can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

CLOUDS = ("aws", "gcp", "azure", "onprem", "none")
# Pulumi stack names: letters, digits, '-', '_', '.'. Refusing anything else also keeps odd file names
# out of the matrix values the workflows pass on to later steps.
STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# `pulumi-llm:cloud: aws`, optionally quoted, optionally followed by a comment, indented under `config:`.
CLOUD_KEY = re.compile(r"""^\s+["']?pulumi-llm:cloud["']?\s*:\s*["']?([A-Za-z0-9_-]+)["']?\s*(?:#.*)?$""")


class StackError(Exception):
    """A stack file this script cannot use; the message names the file."""


def stack_name(path: Path) -> str:
    name = path.name[len("Pulumi.") : -len(".yaml")]
    if not STACK_NAME.match(name):
        raise StackError(f"{path}: {name!r} is not a valid stack name (letters, digits, '-', '_', '.')")
    return name


def read_cloud(path: Path) -> str:
    clouds = [m.group(1) for line in path.read_text(encoding="utf-8").splitlines() if (m := CLOUD_KEY.match(line))]
    if len(clouds) != 1:
        found = "no" if not clouds else f"{len(clouds)}"
        raise StackError(f"{path}: config.pulumi-llm:cloud: found {found} values, expected exactly one")
    cloud = clouds[0]
    if cloud not in CLOUDS:
        raise StackError(f"{path}: config.pulumi-llm:cloud: {cloud!r} is not one of {', '.join(CLOUDS)}")
    return cloud


def read_runner(path: Path) -> list[str]:
    """runs-on of the stack's jobs: what decide_ci_runner chooses from the validated stack file."""
    from pulumi_llm.ci_runner import decide_ci_runner
    from pulumi_llm.errors import UserError
    from pulumi_llm.offline.plan import engine_config
    from pulumi_llm.settings import load

    try:
        settings = load(engine_config(path, str(path))[0], str(path))
    except UserError as err:
        raise StackError(str(err)) from None
    runner = decide_ci_runner(settings.model_dump(mode="json"))
    if runner.runs_on is None:
        raise StackError(f"{path}: pulumi-llm:ci.runner_labels: {runner.problem}")
    return list(runner.runs_on)


def discover(stacks_dir: Path) -> list[dict[str, Any]]:
    files = sorted(stacks_dir.glob("Pulumi.*.yaml"))
    return [{"stack": stack_name(f), "cloud": read_cloud(f), "runner": read_runner(f)} for f in files]


def write_outputs(values: dict[str, str]) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        for key, value in values.items():
            out.write(f"{key}={value}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("stacks"), help="stack config directory (default: stacks)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("matrix", help="print the JSON matrix of every stack, its cloud and its runner")
    one = sub.add_parser("cloud", help="print the cloud of one stack")
    one.add_argument("stack")
    args = parser.parse_args(argv)

    try:
        if args.command == "matrix":
            entries = discover(args.dir)
            matrix = json.dumps({"include": entries}, separators=(",", ":"))
            # The deploy jobs name their stack, so they look their runner up by name.
            runners = json.dumps({e["stack"]: e["runner"] for e in entries}, separators=(",", ":"))
            print(matrix)
            write_outputs({"matrix": matrix, "count": str(len(entries)), "runners": runners})
        else:
            if not STACK_NAME.match(args.stack):
                raise StackError(f"{args.stack!r} is not a valid stack name")
            path = args.dir / f"Pulumi.{args.stack}.yaml"
            if not path.is_file():
                raise StackError(f"{path}: no such stack file")
            cloud = read_cloud(path)
            print(cloud)
            write_outputs({"cloud": cloud})
    except StackError as err:
        # One line, as a GitHub annotation when running in Actions.
        prefix = "::error::" if os.environ.get("GITHUB_ACTIONS") == "true" else "error: "
        print(f"{prefix}{err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
