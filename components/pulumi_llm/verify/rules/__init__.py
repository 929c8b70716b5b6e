"""The rules. A rule is `def rule(view: PlanView) -> Iterable[Violation]`, pure, registered with
`@rule("family.name")` (registry.py); each family lives in its own module, loaded below.

Rules read facts about upstream components from `..facts` (cited data), never from memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from ..report import Violation
from ..view import PlanView
from .registry import RULES, Rule, rule, violation

__all__ = ["RULES", "Rule", "load_families", "rule", "run_rules", "violation"]


def load_families() -> tuple[ModuleType, ...]:
    """Every rule family module, imported: each registers its rules on import (registered.py lists them)."""
    from . import registered

    return registered.FAMILIES


def run_rules(view: PlanView, only: Iterable[str] | None = None) -> list[Violation]:
    """Every violation the registered rules find in `view` (or only the rules named in `only`)."""
    load_families()
    wanted = set(only) if only is not None else None
    found: list[Violation] = []
    for name, fn in RULES.items():
        if wanted is not None and name not in wanted:
            continue
        found.extend(fn(view))
    return sorted(set(found))
