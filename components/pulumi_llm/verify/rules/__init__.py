"""The rule registry. A rule is `def rule(view: PlanView) -> Iterable[Violation]`, pure, registered
with `@rule("family.name")`; each family lives in its own module, imported below.

Rules read facts about upstream components from `..facts` (cited data), never from memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..report import Violation
from ..view import PlanView

Rule = Callable[[PlanView], Iterable[Violation]]
RULES: dict[str, Rule] = {}


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


def _load() -> None:
    # One import line per rule family; each module registers its rules on import.
    from . import registered  # noqa: F401


def run_rules(view: PlanView, only: Iterable[str] | None = None) -> list[Violation]:
    """Every violation the registered rules find in `view` (or only the rules named in `only`)."""
    _load()
    wanted = set(only) if only is not None else None
    found: list[Violation] = []
    for name, fn in RULES.items():
        if wanted is not None and name not in wanted:
            continue
        found.extend(fn(view))
    return sorted(set(found))
