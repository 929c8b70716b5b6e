"""Counted nouns in the plan's output: "1 resource", "2 resources" (issue 19: "(1 resources)")."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and the noun in its number: plural(1, "resource") == "1 resource"; the plural is noun + "s"
    unless given."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"
