"""Recorded plans of every shipped stack, once per session, for the verify rules and their seeds.

Seeds start from a real recorded plan and change one thing, the way a wiring mistake would; the test
then asserts that exactly the rule meant to catch it fires.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pulumi_llm.offline.plan import Project, load_settings
from pulumi_llm.verify import PlanView, clock, run_rules

ROOT = Path(__file__).resolve().parents[2]
PLAN_DAY = date(2026, 12, 7)
"""The day every in-process rule runs on here: seeds test rules, so a date-bearing fact (an end of
support, a deprecation) must not turn them red on some later day. Whether the shipped stacks are still
supported *today* is what `pulumi-llm verify --all` in CI checks, with the real date."""


@pytest.fixture(autouse=True)
def plan_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: PLAN_DAY)


@pytest.fixture(scope="session")
def recorded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recorded")
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "plan", "--all", "--quiet", "--no-verify", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def recorded(recorded_dir: Path) -> Callable[[str], PlanView]:
    """`recorded("prod")`: a fresh copy of prod's recorded plan, safe to mutate."""
    project = Project.find(ROOT)
    cache: dict[str, PlanView] = {}

    def get(stack: str) -> PlanView:
        if stack not in cache:
            settings = load_settings(project, stack).model_dump(mode="json")
            cache[stack] = PlanView.from_dir(recorded_dir / stack, settings)
        return copy.deepcopy(cache[stack])

    return get


def fired(view: PlanView) -> set[str]:
    """The names of the rules that find an error in `view` (warnings don't count)."""
    return {v.rule for v in run_rules(view) if v.severity == "error"}


def resource(view: PlanView, type_: str, name: str) -> dict:
    """The resource of `type_` named `name`; fails the test if the plan has none."""
    found = [r for r in view.resources if r["type"] == type_ and r["name"] == name]
    assert len(found) == 1, f"{type_} {name}: {len(found)} in the plan of {view.stack}"
    return found[0]


def manifest(view: PlanView, kind: str, name: str, namespace: str | None = None) -> dict:
    found = [
        o
        for o in view.manifests
        if o["kind"] == kind and o["metadata"]["name"] == name and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} in the plan of {view.stack}"
    return found[0]
