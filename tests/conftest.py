"""Shared fixtures: the project root, and a throw-away copy of the project for stack-file tests."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import helpers
import hypothesis  # noqa: F401  (see below)
import pytest

# Import hypothesis (pytest rewrites its modules) before any test runs a Pulumi program: CPython
# 3.11.7's AST validator can report "AST constructor recursion depth mismatch" when its first parse
# happens after the Pulumi runtime has run (cpython gh-106905, fixed in later 3.11 releases), and
# hypothesis' pytest plugin imports it lazily at the end of the session.

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """The first run installs ~6 GB of environments inside fixtures, where pytest captures every line: hand
    the installers (tests/integration/support/cached_env.py) a writer that reaches the terminal anyway, one
    line per step with the elapsed time, so a first run does not look hung."""
    if str(ROOT / "tests" / "integration") not in sys.path:
        sys.path.append(str(ROOT / "tests" / "integration"))  # the tests that use the installers import it from there
    from _pytest.capture import CaptureManager  # pytest exports no name for it; its methods below are public API
    from support import cached_env

    def to_terminal(line: str) -> None:
        # Looked up when a line comes: the terminal reporter registers in its own pytest_configure.
        capman = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if (
            not isinstance(capman, CaptureManager)
            or not isinstance(reporter, pytest.TerminalReporter)
            or not capman.is_globally_capturing()
        ):
            return  # nothing captured (-s, or run as a script): the line already reached stderr
        with capman.global_and_fixture_disabled():
            reporter.write_line(line)

    cached_env.set_terminal(to_terminal)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def scratch_project(tmp_path: Path) -> Path:
    """A copy of the project's program and Pulumi.yaml with no stack files: tests write their own."""
    return helpers.scratch_project(tmp_path, {})


@pytest.fixture(autouse=True)
def _main_thread_keeps_an_event_loop() -> Iterator[None]:
    """asyncio.run() (the gateway front's tests) ends with set_event_loop(None), and the Pulumi SDK's set_mocks
    then calls asyncio.get_event_loop() directly (pulumi/runtime/resource.py, resource_output), which raises
    "There is no current event loop" in every later test that runs a program. Give the main thread a loop back."""
    yield
    policy = asyncio.get_event_loop_policy()
    try:
        policy.get_event_loop()
    except RuntimeError:
        policy.set_event_loop(policy.new_event_loop())
