"""The plan's output directory: made ready before a plan runs, so no one reads a stale plan.

A plan writes `resources.json`, `manifests/*.yaml` and `summary.json` (last). `prepare` runs before the
stack is read: it removes a previous plan's files, so a plan that then fails leaves no plan behind to be
mistaken for this one. It deletes only those files: a directory holding anything else is refused, never
emptied, and a path that is a file or cannot be created or written is refused, each in one line naming
the flag and the path. Nothing is created until the plan is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError

MANIFEST_DIR = "manifests"
PLAN_FILES = frozenset({"resources.json", "summary.json", MANIFEST_DIR})


def previous_plan_files(out: Path) -> list[Path] | None:
    """The plan files in `out`, a directory's contents before the directory (empty when there are none),
    or None when `out` holds anything else."""
    entries = sorted(out.iterdir())
    if not all(_plan_file(entry) for entry in entries):
        return None
    found: list[Path] = []
    for entry in entries:
        if entry.name == MANIFEST_DIR:
            found.extend(sorted(entry.iterdir()))
        found.append(entry)
    return found


def writable_directory(path: Path, shown: str) -> None:
    """Check that `path` is, or can be created as, a directory this user can write; leaves nothing created,
    so a plan that fails leaves no directory behind. `shown` names it in messages (the flag and the path)."""
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{shown}: a file, not a directory; give a directory for the plan")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"{shown}: not writable")
        return
    # Created and removed again: the only check that holds for root, read-only mounts and /proc alike.
    missing = [p for p in [path, *path.parents] if not p.exists()]
    try:
        path.mkdir(parents=True)
    except OSError as err:
        raise UserError(f"{shown}: cannot create the directory ({err.strerror or err})") from None
    for created in missing:
        created.rmdir()


def prepare(out: Path, shown: str) -> None:
    """Check `out` for this plan and remove a previous plan's files from it."""
    writable_directory(out, shown)
    if not out.exists():
        return
    try:
        files = previous_plan_files(out)
        if files is None:
            other = next(e.name for e in sorted(out.iterdir()) if not _plan_file(e))
            raise UserError(
                f"{shown}: holds {other!r}, which is not a plan file; give an empty or new directory "
                f"(only a previous plan's {', '.join(sorted(PLAN_FILES))} are replaced)"
            )
        for path in files:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
    except OSError as err:
        raise UserError(f"{shown}: cannot clear the previous plan ({err.filename}: {err.strerror or err})") from None


def _plan_file(entry: Path) -> bool:
    """A file a plan writes: resources.json or summary.json, or manifests/ holding only *.yaml files."""
    if entry.name not in PLAN_FILES or entry.is_symlink():
        return False
    if entry.name == MANIFEST_DIR:
        return entry.is_dir() and all(m.suffix == ".yaml" and m.is_file() and not m.is_symlink() for m in entry.iterdir())
    return entry.is_file()
