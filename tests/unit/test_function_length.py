"""No function anywhere in components/pulumi_llm runs over 120 lines: a component constructor is a list of
named steps (identity, network, compute, load balancer, scaling, alarms, add-ons), a renderer a list of
helpers per part (one per rule group, per section of a dict), each fitting on a screen or two
(docs/ARCHITECTURE.md: small modules, pure functions). Counted with ast from `def` to the end of the body;
nothing is excluded, data literals included: a long list of rules splits into named groups."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import cast

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "components" / "pulumi_llm"
MAX_LINES = 120


def _files() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix() if path.is_relative_to(PACKAGE) else f"{path.parent.name}/{path.name}"


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{_name(path)}:{node.lineno} {node.name}() is {cast(int, node.end_lineno) - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and cast(int, node.end_lineno) - node.lineno + 1 > MAX_LINES
    ]


@pytest.mark.parametrize("path", _files(), ids=_name)
def test_no_function_over_120_lines(path: Path) -> None:
    assert not _long_functions(path), "split into named steps:\n" + "\n".join(_long_functions(path))


def test_the_whole_package_is_found() -> None:
    names = {_name(p) for p in _files()}
    assert {f"gpu_vm/{cloud}.py" for cloud in ("aws", "gcp", "azure")} <= names
    assert {f"cluster/{kind}.py" for kind in ("eks", "gke", "aks")} <= names
    assert {f"gateway/{part}.py" for part in ("aws", "gcp", "azure", "config")} <= names
    assert {f"network/{cloud}.py" for cloud in ("aws", "gcp", "azure")} <= names
    assert {"kubernetes/model_serving.py", "runtimes/triton.py", "sizing/report.py", "verify/rules/network_gcp.py"} <= names
    assert any(name.startswith("platform/") for name in names)
    assert any(name.startswith("settings/") for name in names)


def test_the_measure_counts_from_def_to_the_end_of_the_body(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text("def f():\n" + "    x = 1\n" * MAX_LINES)
    short = tmp_path / "short.py"
    short.write_text("def f():\n" + "    x = 1\n" * (MAX_LINES - 1))
    assert _long_functions(long) == [f"{tmp_path.name}/long.py:1 f() is {MAX_LINES + 1} lines"]
    assert _long_functions(short) == []


def test_nested_functions_and_methods_are_measured_too(tmp_path: Path) -> None:
    nested = tmp_path / "nested.py"
    nested.write_text("class C:\n    def m(self):\n        def inner():\n" + "            x = 1\n" * MAX_LINES + "        return inner\n")
    assert [line.split()[1] for line in _long_functions(nested)] == ["m()", "inner()"]
