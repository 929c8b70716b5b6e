"""No function in the gateway package runs over 120 lines: a constructor is a list of named steps, and
each step fits on a screen or two (docs/ARCHITECTURE.md: small modules, pure functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "components" / "pulumi_llm" / "gateway"
MAX_LINES = 120


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.name}:{node.lineno} {node.name}() is {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_LINES
    ]


@pytest.mark.parametrize("path", sorted(GATEWAY.glob("*.py")), ids=lambda p: p.name)
def test_no_gateway_function_over_120_lines(path: Path) -> None:
    assert not _long_functions(path), "split into named steps:\n" + "\n".join(_long_functions(path))


def test_the_package_is_found() -> None:
    assert {"aws.py", "gcp.py", "azure.py", "config.py"} <= {p.name for p in GATEWAY.glob("*.py")}
