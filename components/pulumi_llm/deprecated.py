"""Public names renamed by the naming rule of 0.2.0 (docs/ARCHITECTURE.md, "Names"), kept working until
0.3.0 as aliases that warn (CHANGELOG.md, "Deprecated").

One helper per kind of old name, so each rename is one table entry where the name lived: a module-level
name (`module_aliases`, the module's `__getattr__`), an args field (`moved_field`, in a
`model_validator(mode="before")`, so the args stay frozen and typed) and an attribute (`warn_renamed`,
from a property).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, cast

RENAMED_IN = "0.2.0"
REMOVED_IN = "0.3.0"


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that `old` is the deprecated name of `new` (DeprecationWarning, shown to the caller's line)."""
    warnings.warn(
        f"{old} is deprecated: use {new} (renamed in {RENAMED_IN}; the old name is removed in {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def module_aliases(module: str, namespace: Mapping[str, Any], renamed: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that serves each old name in `renamed` (old → new) as the new one, warning.

    Not cached in the module, so every use of an old name warns (Python's filters still show it once per line).
    """

    def __getattr__(name: str) -> Any:
        new = renamed.get(name)
        if new is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warn_renamed(f"{module}.{name}", f"{module}.{new}")
        return namespace[new]

    return __getattr__


def moved_field(data: Any, owner: str, old: str, new: str) -> Any:
    """The raw input of an args model with the deprecated field `old` moved to `new`, warning; `data` as is
    when it doesn't set `old`. Setting both is an error: which one was meant is unknowable."""
    if not isinstance(data, Mapping):
        return data
    data = cast(Mapping[str, Any], data)  # an args model's raw input: field name → value
    if old not in data:
        return data
    warn_renamed(f"{owner}.{old}", f"{owner}.{new}", stacklevel=4)
    if new in data:
        raise ValueError(f"{owner}: give {new} only ({old} is its deprecated name)")
    moved = {key: value for key, value in data.items() if key != old}
    moved[new] = data[old]
    return moved
