"""Issue 16, family 2 — files the CLI reads or writes: an undecodable stack file, an --out or --plot that
cannot be written, a read-only schema.json, a broken Pulumi.yaml or kubeconfig end in one line and exit 2,
never a traceback. Every sub-command of `pulumi-llm --help` that reads a stack file is driven here.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import bad_input
import pytest
from bad_input import assert_one_line_refusal
from pulumi_llm import cli
from pulumi_llm.cli_secrets import read_value
from pulumi_llm.errors import UserError
from pulumi_llm.preflight.kube import KubeClient

ROOT = Path(__file__).resolve().parents[2]
ONPREM = (ROOT / "stacks" / "Pulumi.onprem.yaml").read_text()
LATIN1 = b"# caf\xe9 in Latin-1\n" + ONPREM.encode()
LATIN1_LINE = "stacks/Pulumi.bad.yaml: line 1: byte 0xe9 is not UTF-8 text; save the file as UTF-8"

# Each sub-command that reads a stack file, with the arguments that make it read stack `bad`.
READS_A_STACK = {
    "plan": ["plan", "bad", "--quiet", "--no-verify"],
    "verify": ["verify", "bad"],
    "preflight": ["preflight", "bad"],
    "compare": ["compare", "--stack", "bad", "--tokens-per-month", "1e9"],
    "secrets": ["secrets", "check", "--stack", "bad"],
}
READS_NO_STACK = {"schema", "size"}


def test_every_sub_command_is_covered() -> None:
    # argparse keeps the sub-commands on the parser's one sub-parsers action, keyed by name.
    [action] = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(action.choices) == set(READS_A_STACK) | READS_NO_STACK


@pytest.mark.parametrize("command", sorted(READS_A_STACK))
def test_a_stack_file_that_is_not_utf8_is_one_line_for_every_command(scratch_project: Path, command: str) -> None:
    bad_input.write_stack(scratch_project, "bad", LATIN1)
    outcome = bad_input.main(["--project-dir", str(scratch_project), *READS_A_STACK[command]])
    assert (outcome.code, outcome.stdout, outcome.registered) == (2, [], 0)
    assert len(outcome.stderr) == 1 and outcome.stderr[0].endswith(LATIN1_LINE), outcome.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (ONPREM.replace("onprem", "on\x00prem", 1).encode(), "character U+0000 is not allowed in a YAML file"),
        (ONPREM.replace("onprem", "on\x07prem", 1).encode(), "character U+0007 is not allowed in a YAML file"),
        (b"\xff\xfe" + "config: [\n".encode("utf-16-le"), "not valid YAML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not UTF-8 text"),
    ],
)
def test_bytes_yaml_refuses_are_one_line(scratch_project: Path, content: bytes, expected: str) -> None:
    bad_input.write_stack(scratch_project, "bad", content)
    assert_one_line_refusal(bad_input.plan(scratch_project, "bad"), "bad", expected)


def test_a_utf16_stack_file_with_its_byte_order_mark_plans(scratch_project: Path) -> None:
    # go-yaml reads UTF-16 with a BOM, so the Pulumi CLI does: the offline plan must too.
    bad_input.write_stack(scratch_project, "u16", ONPREM.encode("utf-16"))
    outcome = bad_input.plan(scratch_project, "u16")
    assert outcome.code == 0, outcome.stderr
    assert outcome.written == bad_input.PLAN_FILES


def test_a_stack_file_that_is_a_directory_or_unreadable(scratch_project: Path) -> None:
    (scratch_project / "stacks" / "Pulumi.dir.yaml").mkdir()
    outcome = bad_input.plan(scratch_project, "dir")
    assert (outcome.code, len(outcome.stderr)) == (2, 1)
    assert outcome.stderr[0].startswith("stacks/Pulumi.dir.yaml: no such stack file")


@pytest.mark.parametrize("name", ["../etc/passwd", "a b", "", "x" * 101, "dev\x00"])
def test_a_stack_name_pulumi_would_refuse_is_one_line(scratch_project: Path, name: str) -> None:
    outcome = bad_input.plan(scratch_project, name)
    assert (outcome.code, outcome.registered, len(outcome.stderr)) == (2, 0, 1)
    assert "not a stack name; letters, digits, '-', '_' and '.'" in outcome.stderr[0]
    assert "\x00" not in outcome.stderr[0]


def test_plan_out_at_a_file_or_an_uncreatable_path(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "onprem", ONPREM)
    (scratch_project / "a-file").write_text("mine")
    for argv, expected in [
        (["plan", "onprem", "--out", str(scratch_project / "a-file")], "a file, not a directory"),
        (["plan", "--all", "--out", str(scratch_project / "a-file")], "a file, not a directory"),
        (["plan", "onprem", "--out", str(scratch_project / "a-file" / "sub")], "cannot create the directory (Not a directory)"),
        (["plan", "onprem", "--out", "/proc/pulumi-llm-nowhere/out"], "cannot create the directory"),
    ]:
        outcome = bad_input.main(["--project-dir", str(scratch_project), *argv, "--quiet", "--no-verify"])
        assert (outcome.code, outcome.registered, len(outcome.stderr)) == (2, 0, 1), (argv, outcome)
        assert outcome.stderr[0].startswith(f"plan --out {argv[-1]}: {expected}"), outcome.stderr
    assert (scratch_project / "a-file").read_text() == "mine"


def test_plan_out_failing_while_writing_is_one_line(scratch_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_llm.offline import plan as offline

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device", "resources.json")

    monkeypatch.setattr(offline, "write", full_disk)
    bad_input.write_stack(scratch_project, "onprem", ONPREM)
    outcome = bad_input.plan(scratch_project, "onprem", scratch_project / "o")
    assert (outcome.code, outcome.stderr) == (2, [f"plan --out {scratch_project / 'o'}: cannot write the plan (No space left on device)"])


COMPARE = ["compare", "--model", "llama-3.1-8b-instruct", "--tokens-per-month", "1e9"]


@pytest.mark.parametrize(
    ("plot", "expected"),
    [
        ("/proc/self/x.png", "--plot /proc/self/x.png: not writable"),
        ("{tmp}/dir.png", "--plot {tmp}/dir.png: a directory; name a .png file"),
    ],
)
def test_compare_plot_that_cannot_be_written_fails_before_the_tables(tmp_path: Path, plot: str, expected: str) -> None:
    (tmp_path / "dir.png").mkdir()
    plot = plot.format(tmp=tmp_path)
    outcome = bad_input.main([*COMPARE, "--plot", plot])
    assert (outcome.code, outcome.stdout) == (2, [])
    assert outcome.stderr == [f"pulumi-llm: {expected.format(tmp=tmp_path)}"]


def test_compare_plot_failing_while_saving_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    def refused(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Figure, "savefig", refused)
    outcome = bad_input.main([*COMPARE, "--plot", str(tmp_path / "cost.png")])
    assert outcome.code == 2
    assert outcome.stderr == [f"pulumi-llm: --plot {tmp_path / 'cost.png'}: cannot write (Permission denied)"]


def test_schema_write_that_cannot_write_is_one_line(scratch_project: Path) -> None:
    (scratch_project / "stacks" / "schema.json").mkdir()  # as a read-only checkout does, whoever runs it
    outcome = bad_input.main(["--project-dir", str(scratch_project), "schema", "--write"])
    assert (outcome.code, outcome.stdout) == (2, [])
    assert outcome.stderr == ["schema --write: cannot write stacks/schema.json (Is a directory)"]


@pytest.mark.parametrize("content", [b"name: [x\n", b"name: \xff\n", b"- a\n", b"name: pulumi-llm\nmain: [a]\n"])
def test_a_broken_pulumi_yaml_is_one_line(scratch_project: Path, content: bytes) -> None:
    (scratch_project / "Pulumi.yaml").write_bytes(content)
    outcome = bad_input.plan(scratch_project, "dev")
    assert (outcome.code, len(outcome.stderr)) == (2, 1)
    assert outcome.stderr[0].startswith(f"{scratch_project / 'Pulumi.yaml'}: ")


@pytest.mark.parametrize("content", [b"\xff\xfe\x00", b"clusters: [\n", b"- a\n"])
def test_a_broken_kubeconfig_is_one_line_without_its_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(content)
    with pytest.raises(UserError) as caught:
        KubeClient.from_kubeconfig(path, "lab")
    assert str(caught.value).startswith(f"{path}: not a")
    assert "clusters: [" not in str(caught.value)


def test_secrets_put_with_non_utf8_input_is_one_line_that_echoes_nothing() -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"sk-\xff\xfesecret"), encoding="utf-8")
    with pytest.raises(UserError) as caught:
        read_value(stream, prompt="")
    assert str(caught.value) == "secrets put: standard input is not UTF-8 text; pipe the key as UTF-8"
