"""The rules. A rule is `def rule(view: PlanView) -> Iterable[Violation]`, pure, registered with
`@rule("family.name")` (registry.py); each family lives in its own module, loaded below.

Rules read facts about upstream components from `..facts` (cited data), never from memory.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

from ..report import Violation
from ..view import PlanView
from .registry import RULES, RUN, RUN_NUMBERS, Rule, rule, violation

__all__ = ["RULES", "Rule", "load_families", "rule", "run_rules", "violation"]


def load_families(names: Iterable[str] | None = None) -> tuple[ModuleType, ...]:
    """The rule family modules named (default: every one, registered.FAMILIES), imported: each registers its
    rules on import."""
    from . import registered

    return tuple(importlib.import_module(f"{__name__}.{name}") for name in (registered.FAMILIES if names is None else names))


def run_rules(view: PlanView, only: Iterable[str] | None = None) -> list[Violation]:
    """Every violation the registered rules find in `view` (or only the rules named in `only`)."""
    if only is None:
        from .registered import decide_families

        # Not the families that find nothing in a plan of this cloud (registered.BY_CLOUD); one loaded
        # before (another plan, a test) runs too and finds nothing here.
        load_families(decide_families(view.cloud, (r["type"] for r in view.resources)))
    else:
        load_families()
    wanted = set(only) if only is not None else None
    found: list[Violation] = []
    run = RUN.set(next(RUN_NUMBERS))
    try:
        for name, fn in RULES.items():
            if wanted is not None and name not in wanted:
                continue
            found.extend(fn(view))
    finally:
        RUN.reset(run)
    return sorted(set(found))
