"""Which key a conflict between two settings names: the one the user wrote, never a default they never saw.

Two settings can clash (a subnet overlapping another, a stop time equal to the start, two equal node selectors)
when only one of them is in the stack file; the other is its default. Naming the default's key would send the
user to a line that isn't in their file, so the message names the key they wrote, with its value (settings/
loading.problem_line adds `= value` for a written key), and says it clashes with the other's default. When both
are written, the message names both, each with its value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Side:
    """One of the two settings: its stack-file key path, its value, and whether the stack file writes it."""

    key: str
    value: str
    written: bool


def decide_conflict(first: Side, second: Side, relation: str, why: str) -> tuple[str, str]:
    """(key to name, message) for two settings that clash; `relation` is 'overlaps', 'is the same as', …

    The key named is the written one when only one is; the later one (`second`) when both are (or neither is),
    with the other's key and value in the message."""
    if first.written and not second.written:
        named, other = first, second
    else:
        named, other = second, first
    shown = f"the default of {other.key} ({other.value})" if not other.written else f"{other.key} = {other.value}"
    return named.key, f"{relation} {shown}; {why}"
