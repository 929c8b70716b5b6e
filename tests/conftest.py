"""Shared fixtures: the project root, and a throw-away copy of the project for stack-file tests."""

from __future__ import annotations

from pathlib import Path

import helpers
import hypothesis  # noqa: F401  (see below)
import pytest

# Import hypothesis (pytest rewrites its modules) before any test runs a Pulumi program: CPython
# 3.11.7's AST validator can report "AST constructor recursion depth mismatch" when its first parse
# happens after the Pulumi runtime has run (cpython gh-106905, fixed in later 3.11 releases), and
# hypothesis' pytest plugin imports it lazily at the end of the session.

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def scratch_project(tmp_path: Path) -> Path:
    """A copy of the project's program and Pulumi.yaml with no stack files: tests write their own."""
    return helpers.scratch_project(tmp_path, {})
