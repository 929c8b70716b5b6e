"""A stand-in for the main CLI: an argparse parser with the sizing sub-commands, and the error contract
(UserError → `pulumi-llm: <message>` on stderr, exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest
from pulumi_llm.cli_sizing import add_parsers
from pulumi_llm.errors import UserError


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="pulumi-llm")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except UserError as err:
        print(f"pulumi-llm: {err}", file=__import__("sys").stderr)
        code = err.exit_code
    out, err_text = capsys.readouterr()
    return code, out, err_text


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    return lambda *argv: run_cli(list(argv), capsys)
