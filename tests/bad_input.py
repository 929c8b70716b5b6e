"""Driving the real `pulumi-llm` entry point in-process on an edited stack file, for the bad-input tests.

`plan(project, stack)` runs `pulumi-llm --project-dir PROJECT plan STACK --quiet --no-verify --out DIR`
through `cli.main` (the console script's function) and reports what a user would see: the exit code, the
lines on stdout and stderr, how many resources the program registered (the Stack itself aside) and which
plan files exist afterwards. In-process, so a property test can afford hundreds of cases.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pulumi_llm import cli
from pulumi_llm.offline import out_dir, recorder

PLAN_FILES = tuple(sorted(out_dir.PLAN_FILES))


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: list[str]
    stderr: list[str]
    registered: int  # resources registered by the program, the Stack aside
    written: tuple[str, ...]  # plan files present in the output directory afterwards


@contextlib.contextmanager
def _counting_registrations() -> Iterator[list[int]]:
    """Counts every resource registered through the recording monitor while the block runs."""
    count = [0]
    original = recorder.RecordingMonitor.RegisterResource

    def register(self: recorder.RecordingMonitor, request: object) -> object:
        if getattr(request, "type", "") != "pulumi:pulumi:Stack":
            count[0] += 1
        return original(self, request)

    recorder.RecordingMonitor.RegisterResource = register  # type: ignore[method-assign]
    try:
        yield count
    finally:
        recorder.RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]


def main(argv: Sequence[str], out: Path | None = None) -> Outcome:
    """`pulumi-llm ARGV` in-process; `out` is the plan directory whose files are reported."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with _counting_registrations() as count, contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse's own errors exit through SystemExit
            code = exit_.code if isinstance(exit_.code, int) else 1
    written = tuple(name for name in PLAN_FILES if out is not None and (out / name).exists())
    return Outcome(code, stdout.getvalue().splitlines(), stderr.getvalue().splitlines(), count[0], written)


def plan(project: Path, stack: str, out: Path | None = None, *extra: str) -> Outcome:
    """`pulumi-llm plan STACK --quiet --no-verify --out OUT` on the scratch project `project`."""
    out = out or project / "out" / stack
    return main(["--project-dir", str(project), "plan", stack, "--quiet", "--no-verify", "--out", str(out), *extra], out)


def write_stack(project: Path, stack: str, content: str | bytes) -> Path:
    """Write `stacks/Pulumi.STACK.yaml` of the scratch project as given (text or raw bytes)."""
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def assert_one_line_refusal(outcome: Outcome, stack: str, *parts: str) -> str:
    """Exit 2, exactly one line on stderr naming the stack file and every part, nothing registered or
    written; returns the line."""
    assert outcome.code == 2, outcome
    assert len(outcome.stderr) == 1, outcome.stderr
    line = outcome.stderr[0]
    assert f"stacks/Pulumi.{stack}.yaml" in line, line
    for part in parts:
        assert part in line, (part, line)
    assert len(line) <= 300 + len(str(stack)), line
    assert outcome.registered == 0, outcome
    assert outcome.written == (), outcome
    return line
