"""Shared helpers of the sizing package: units, case-insensitive look-ups, number formatting."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from pulumi_llm.choices import listing
from pulumi_llm.errors import UserError

T = TypeVar("T")

GB = 1_000_000_000
"""Decimal gigabyte: what this package prints as "GB" (model sizes, memory needs)."""
GIB = 1 << 30
"""Binary gibibyte: what GPU memory, RAM and llama.cpp file sizes are really counted in."""

HOURS_PER_MONTH = 730
"""Hours in an average month (8,760 h / 12), the convention of the clouds' price calculators."""


def normalize_key(text: str) -> str:
    """Lower-case, trimmed, with runs of spaces/underscores folded to one '-': the form keys are compared in."""
    return re.sub(r"[\s_]+", "-", text.strip().lower())


def lookup(
    kind: str,
    query: str,
    table: Mapping[str, T],
    *,
    aliases: Mapping[str, str] | None = None,
    display: Callable[[str], str] | None = None,
    normalize: Callable[[str], str] = normalize_key,
) -> T:
    """Find `query` in `table` (keys already normalized), case-insensitively, or raise a one-line UserError.

    On a miss the message suggests the closest keys (difflib) or, when nothing is close, lists the
    known keys (cut by choices.listing, so the line stays near 300 characters).
    """
    aliases = aliases or {}
    show: Callable[[str], str] = display or (lambda k: k)
    key = normalize(query)
    if key in table:
        return table[key]
    if key in aliases:
        return table[aliases[key]]
    close = difflib.get_close_matches(key, [*table, *aliases], n=6, cutoff=0.6)
    suggestions = _unique(show(aliases.get(c, c)) for c in close)[:3]
    if suggestions:
        hint = "did you mean " + " or ".join(suggestions) + "?"
    else:
        hint = "known: " + listing(show(k) for k in sorted(table))
    raise UserError(f"unknown {kind} '{query}'; {hint}")


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def gb(n_bytes: float) -> float:
    """Bytes → decimal GB."""
    return n_bytes / GB


def fmt_gb(n_bytes: float) -> str:
    """'141.1 GB' — one decimal, decimal gigabytes."""
    return f"{n_bytes / GB:.1f} GB"


def fmt_int(n: float) -> str:
    """'131,072'."""
    return f"{int(round(n)):,}"


def fmt_tokens(n: float) -> str:
    """Short token counts: 950, 12.5k, 3.2M, 4.1B, 2.0T."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{n:.0f}"


def fmt_usd(x: float) -> str:
    """'$1,234.56' under $100k, '$1.23M' above."""
    if abs(x) >= 1e6:
        return f"${x / 1e6:,.2f}M"
    if abs(x) >= 100:
        return f"${x:,.0f}"
    return f"${x:,.2f}"


def round_sig(x: float, digits: int = 6) -> float:
    """Round to `digits` significant digits: stable JSON across platforms and float noise."""
    if x == 0 or x != x:  # zero or NaN
        return x
    return float(f"{x:.{digits}g}")
