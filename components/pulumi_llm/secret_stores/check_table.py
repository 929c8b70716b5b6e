"""The table `pulumi-llm secrets check` prints, the same for every cloud's store: one row per expected secret —
its short name, its state ('set (…)' or 'missing (…)', from metadata only), where it lives — then a summary
line. Each store says how to find a secret's state and place; this module prints and counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def print_states(known: Sequence[str], row: Callable[[str], tuple[str, str]], store: str) -> int:
    """Prints a row per short name in `known` from `row(name)` → (state, place), then "N of M set in `store`";
    returns 0 when every state is 'set…', else 1 (the exit status of `secrets check`)."""
    missing = 0
    width = max(len(name) for name in known)
    for name in known:
        state, place = row(name)
        if not state.startswith("set"):
            missing += 1
        print(f"{name:<{width}}  {state:<48}  {place}")
    print(f"{len(known) - missing} of {len(known)} set in {store}")
    return 1 if missing else 0
