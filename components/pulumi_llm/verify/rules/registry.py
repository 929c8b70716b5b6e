"""The registry every rule family registers into: `@rule("family.name")` and the `violation` it reports.

Its own module, apart from the package `__init__` that loads the families and runs them: the families
import this, the package imports the families, and nothing imports back (tests/unit/test_import_graph.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from ..report import Violation
from ..view import PlanView

Rule = Callable[[PlanView], Iterable[Violation]]
RULES: dict[str, Rule] = {}

RUN: ContextVar[int | None] = ContextVar("pulumi_llm_verify_run", default=None)
"""The number of the pass of `run_rules` under way (one plan, every rule), None outside one: the view does not
change while its rules run, so a rule may key what several rules share on (RUN, the view's id) instead of the
plan's content (rules/observability.py)."""
RUN_NUMBERS = itertools.count(1)


def rule(name: str) -> Callable[[Rule], Rule]:
    """Register a rule under `name` ("family.what"), the name each of its violations carries."""

    def register(fn: Rule) -> Rule:
        if name in RULES:
            raise ValueError(f"rule {name} registered twice")
        RULES[name] = fn
        fn.rule_name = name  # type: ignore[attr-defined]
        return fn

    return register


def violation(view: PlanView, resource: str, name: str, why: str, severity: str = "error") -> Violation:
    return Violation(stack=view.stack, resource=resource, rule=name, why=why, severity=severity)
