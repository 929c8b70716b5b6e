"""Violations and how they are shown: one line each, then a summary table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Violation:
    stack: str
    resource: str
    """The resource or Kubernetes object at fault, by the name the plan gives it."""
    rule: str
    why: str
    severity: str = "error"
    """"error" fails the plan (exit 2); "warning" is shown and passes (e.g. a deprecation date ahead)."""

    def line(self) -> str:
        mark = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.stack}: {self.resource}: {mark}{self.rule}: {self.why}"


def errors(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.severity == "error"]


def format_report(stacks: Iterable[str], violations: Iterable[Violation]) -> str:
    """The violation lines, then per stack and rule a count; "clean" where a stack has none."""
    found = sorted(set(violations))
    lines = [v.line() for v in found]
    per_stack: dict[str, Counter[str]] = {stack: Counter() for stack in stacks}
    for v in errors(found):
        per_stack.setdefault(v.stack, Counter())[v.rule] += 1
    width = max([len(s) for s in per_stack] + [5])
    lines.append(f"{'stack':<{width}}  violations")
    for stack, rules in per_stack.items():
        shown = ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items())) or "clean"
        lines.append(f"{stack:<{width}}  {sum(rules.values()):>3}  {shown}")
    return "\n".join(lines)
