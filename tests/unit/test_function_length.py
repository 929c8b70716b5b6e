"""No function in the GPU VM and cluster packages runs over 120 lines: a component constructor is a list of
named steps (identity, network, compute, load balancer, scaling, alarms, add-ons), each fitting on a screen
or two (docs/ARCHITECTURE.md: small modules, pure functions). Counted from `def` to the end of the body;
nothing is excluded, data literals included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "components" / "pulumi_llm"
CHECKED = ("gpu_vm", "cluster")
MAX_LINES = 120


def _files() -> list[Path]:
    return sorted(path for package in CHECKED for path in (PACKAGE / package).glob("*.py"))


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.parent.name}/{path.name}:{node.lineno} {node.name}() is {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_LINES
    ]


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_function_over_120_lines(path: Path) -> None:
    assert not _long_functions(path), "split into named steps:\n" + "\n".join(_long_functions(path))


def test_the_packages_are_found() -> None:
    names = {f"{p.parent.name}/{p.name}" for p in _files()}
    assert {f"gpu_vm/{cloud}.py" for cloud in ("aws", "gcp", "azure")} <= names
    assert {f"cluster/{kind}.py" for kind in ("eks", "gke", "aks")} <= names


def test_the_measure_counts_from_def_to_the_end_of_the_body(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text("def f():\n" + "    x = 1\n" * MAX_LINES)
    short = tmp_path / "short.py"
    short.write_text("def f():\n" + "    x = 1\n" * (MAX_LINES - 1))
    assert _long_functions(long) == [f"{tmp_path.name}/long.py:1 f() is {MAX_LINES + 1} lines"]
    assert _long_functions(short) == []
