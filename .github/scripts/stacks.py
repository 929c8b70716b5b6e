#!/usr/bin/env python3
"""Discover the Pulumi stacks of this repository for CI.

Stacks are not listed anywhere in the workflows: every ``stacks/Pulumi.<stack>.yaml`` is a stack, and its
cloud is the ``pulumi-llm:cloud`` value in that file. The workflows use this script to build the preview
matrix and to decide which cloud to log in to.

    python3 .github/scripts/stacks.py matrix            -> {"include": [{"stack": "dev", "cloud": "aws"}, ...]}
    python3 .github/scripts/stacks.py cloud STACK       -> aws

When ``GITHUB_OUTPUT`` is set, the same values are also written there (``matrix=`` and ``count=``, or
``cloud=``). Standard library only, no YAML parser: it runs on the bare runner before any dependency is
installed, and the key it reads is a plain scalar in a plain mapping.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

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


def discover(stacks_dir: Path) -> list[dict[str, str]]:
    files = sorted(stacks_dir.glob("Pulumi.*.yaml"))
    return [{"stack": stack_name(f), "cloud": read_cloud(f)} for f in files]


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
    sub.add_parser("matrix", help="print the JSON matrix of every stack and its cloud")
    one = sub.add_parser("cloud", help="print the cloud of one stack")
    one.add_argument("stack")
    args = parser.parse_args(argv)

    try:
        if args.command == "matrix":
            entries = discover(args.dir)
            matrix = json.dumps({"include": entries}, separators=(",", ":"))
            print(matrix)
            write_outputs({"matrix": matrix, "count": str(len(entries))})
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
