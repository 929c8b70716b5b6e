"""LlmPlatform's targets (components/pulumi_llm/platform/): which targets each stack builds and in what order,
that every target module implements the same contract (context.Target), and that no function there runs over
120 lines. Read with ast where possible, so this test loads no cloud SDK."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import cast

import pytest
import yaml
from pulumi_llm.platform import TARGETS, enabled_targets
from pulumi_llm.settings import load

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "components" / "pulumi_llm" / "platform"
CONTRACT = {"foundation": ["ctx", "built"], "self_hosted": ["ctx", "foundation"], "gateway": ["ctx", "foundation", "self_hosted"]}
MAX_LINES = 120


def _settings(stack: str):
    path = ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    return load(yaml.safe_load(path.read_text())["config"], str(path))


@pytest.mark.parametrize(
    ("stack", "targets"),
    [
        ("dev", ("aws",)),
        ("prod", ("aws",)),
        ("edge", ("aws", "edge")),
        ("gcp-prod", ("gcp",)),
        ("azure-prod", ("azure",)),
        ("onprem", ("onprem",)),
    ],
)
def test_each_stack_builds_its_targets_in_registry_order(stack: str, targets: tuple[str, ...]) -> None:
    assert enabled_targets(_settings(stack)) == targets


def test_the_edge_target_comes_after_the_aws_target_whose_registry_it_uses() -> None:
    names = [entry.name for entry in TARGETS]
    assert names.index("aws") < names.index("edge")


@pytest.mark.parametrize("target", [entry.name for entry in TARGETS])
def test_every_target_module_implements_the_contract(target: str) -> None:
    tree = ast.parse((PLATFORM / f"{target}.py").read_text())
    functions = {node.name: [a.arg for a in node.args.args] for node in tree.body if isinstance(node, ast.FunctionDef)}
    for name, params in CONTRACT.items():
        assert functions.get(name) == params, f"{target}.py: {name}({', '.join(params)})"


@pytest.mark.parametrize("path", sorted(PLATFORM.glob("*.py")), ids=lambda p: p.name)
def test_no_function_over_120_lines(path: Path) -> None:
    tree = ast.parse(path.read_text())
    long = [
        f"{path.name}:{node.lineno} {node.name}() is {cast(int, node.end_lineno) - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and cast(int, node.end_lineno) - node.lineno + 1 > MAX_LINES
    ]
    assert not long, "\n".join(long)
