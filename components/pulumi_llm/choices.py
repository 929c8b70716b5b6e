"""Messages built from a list of allowed values: a did-you-mean first, then the list cut to fit one line.

Every "allowed:" / "known:" / "one of" message goes through `listing`, so a catalog of 65 instance types or
a long rule list never turns a one-line refusal into a wall (messages stay near 300 characters).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

LISTING_CHARS = 150
"""Characters of allowed values a message lists: with the file, key, value and rule the line stays near 300."""


def listing(values: Iterable[object], budget: int = LISTING_CHARS) -> str:
    """'a, b, c, … 12 more': the values in the order given, as many as fit in `budget` characters (at least one)."""
    items = [str(v) for v in values]
    shown: list[str] = []
    for item in items:
        if shown and len(", ".join([*shown, item])) > budget:
            break
        shown.append(item)
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f", … {rest} more" if rest else "")


def close_to(query: str, values: Iterable[str], n: int = 3) -> list[str]:
    """The values most like `query` (difflib, ratio >= 0.6), best first, at most `n`."""
    return difflib.get_close_matches(query, list(values), n=n, cutoff=0.6)


def did_you_mean(query: str, values: Iterable[str], n: int = 3) -> str:
    """'did you mean a or b? ' for the values close to `query`; '' when none is."""
    close = close_to(query, values, n)
    return f"did you mean {' or '.join(close)}? " if close else ""


def allowed(query: str, values: Iterable[str], label: str = "allowed") -> str:
    """'did you mean b? allowed: a, b, … 3 more': what a refusal of `query` says about the values it could be."""
    items = list(values)
    return f"{did_you_mean(query, items)}{label}: {listing(items)}"
