"""One offline plan of every stack per test session, shared by the stack tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output directory of `pulumi-llm plan --all`, one sub-directory per stack."""
    out = tmp_path_factory.mktemp("plans")
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "plan", "--all", "--quiet", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def resources(plans: Path) -> dict[str, list[dict]]:
    return {stack.name: json.loads((stack / "resources.json").read_text()) for stack in sorted(plans.iterdir())}


@pytest.fixture(scope="session")
def stack_configs() -> dict[str, dict]:
    return {
        p.name[len("Pulumi.") : -len(".yaml")]: yaml.safe_load(p.read_text())["config"]
        for p in sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
    }
