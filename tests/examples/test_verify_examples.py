"""Every example's plan passes verify's rules, as a user who copies it would deploy it.

`pulumi-llm verify` checks pulumi-llm stacks only (an example is a program of its own, whose stack file has no
`pulumi-llm:*` settings), so this test plans each example with the CLI, as tests/examples/test_plan_examples.py
does, and runs the rules on that plan with the settings the rules read, stated per example from its stack file
and program: the cloud, the methods, the region and, on-prem, the claim the weights are read from (the user's, a
named precondition). Before: cluster-eks' model ALB admitted 0.0.0.0/0 (network.aws-closed) and its server
could not reach the EKS Pod Identity agent for credentials (network.k8s-egress).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import cli
from pulumi_llm.verify import PlanView, run_rules
from pulumi_llm.verify.rules import load_families
from pulumi_llm.verify.rules.registry import RULES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

NOT_FOR_EXAMPLES = {"ci.reachability"}
"""Reads the stack's CI runner settings (ci_runner.decide_ci_runner), which only pulumi-llm stacks have."""


def _config(example: str, stack: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / example / f"Pulumi.{stack}.yaml").read_text())["config"]


def _onprem(example: str, stack: str) -> dict[str, Any]:
    claim = _config(example, stack)["llm-onprem:weights-claim"]
    return {"cloud": "onprem", "methods": ["onprem"], "region": "", "models": {"llama-8b": {"source": f"pvc://{claim}/"}}}


def _aws(project: str, methods: list[str]) -> Any:
    def settings(example: str, stack: str) -> dict[str, Any]:
        return {"cloud": "aws", "methods": methods, "region": _config(example, stack)[f"{project}:region"]}

    return settings


EXAMPLES_SETTINGS = {
    ("onprem", "lab"): _onprem,
    ("gateway-aws", "dev"): _aws("llm-gateway", ["gateway"]),
    ("gpu-vm-aws", "dev"): _aws("llm-gpu-vm", ["gpu-vm"]),
    ("cluster-eks", "staging"): _aws("llm-eks", ["cluster"]),
    ("edge", "fleet"): _aws("llm-edge", ["edge"]),
}


def test_every_python_example_is_verified() -> None:
    python_examples = {d.name for d in EXAMPLES.iterdir() if (d / "__main__.py").is_file()}
    assert python_examples == {example for example, _ in EXAMPLES_SETTINGS}


@pytest.mark.parametrize(("example", "stack"), sorted(EXAMPLES_SETTINGS), ids=[e for e, _ in sorted(EXAMPLES_SETTINGS)])
def test_every_example_plan_passes_the_rules(example: str, stack: str, tmp_path: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(["--project-dir", str(EXAMPLES / example), "plan", stack, "--quiet", "--out", str(tmp_path)])
    assert code == 0
    view = PlanView.from_dir(tmp_path, EXAMPLES_SETTINGS[(example, stack)](example, stack))
    load_families()
    rules = set(RULES) - NOT_FOR_EXAMPLES
    errors = [f"{v.rule} {v.resource}: {v.why}" for v in run_rules(view, rules) if v.severity == "error"]
    assert not errors, "\n".join(errors)
