"""`pulumi-llm plan` on a Pulumi project of its own (issue 19, item 5): `cd examples/onprem && pulumi-llm plan lab`
runs that project's program with its stack file's config under the mock runtime, as the examples' README shows,
instead of reading the file as pulumi-llm stack settings ("pulumi-llm:environment: required")."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from pulumi_llm import cli
from pulumi_llm.offline.plan import decide_plan_mode

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_STACKS = [("onprem", "lab"), ("gateway-aws", "dev"), ("gpu-vm-aws", "dev"), ("cluster-eks", "staging"), ("edge", "fleet")]


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_decide_plan_mode() -> None:
    assert decide_plan_mode("pulumi-llm", []) == "settings"  # this repository: a missing key is the user's mistake
    assert decide_plan_mode("llm-onprem", ["llm-onprem:gpu", "pulumi:disable-default-providers"]) == "program"
    assert decide_plan_mode("my-infra", ["my-infra:x", "pulumi-llm:environment"]) == "settings"


def test_plan_from_inside_the_onprem_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES / "onprem")
    code, out, err = _main(["plan", "lab", "--out", str(tmp_path / "lab")])
    assert (code, err) == (0, "")
    assert Path.cwd() == EXAMPLES / "onprem"  # the program ran from its directory; the caller's is back
    assert "Plan of stack lab (project llm-onprem, a program of its own; cloud kubernetes)" in out
    assert "lab: sizing, cost and verify read pulumi-llm stack settings" in out
    assert "violations" not in out  # not verified, so no table claims it is clean
    summary = json.loads((tmp_path / "lab" / "summary.json").read_text())
    assert (summary["project"], summary["stack"], summary["program"]) == ("llm-onprem", "lab", True)
    resources = json.loads((tmp_path / "lab" / "resources.json").read_text())
    [deployment] = [r for r in resources if r["type"] == "kubernetes:apps/v1:Deployment"]
    # The stack file's config reached the program: its namespace, and vLLM sized for its GPU (L40S).
    assert deployment["inputs"]["metadata"]["namespace"] == "llm"
    assert f"{summary['resources']['total']} resources" in out.splitlines()[-1]
    assert summary["resources"]["byType"]["kubernetes:helm.sh/v3:Release"] == 4


@pytest.mark.parametrize(("example", "stack"), EXAMPLE_STACKS, ids=[e for e, _ in EXAMPLE_STACKS])
def test_every_example_plans_with_the_cli(example: str, stack: str, tmp_path: Path) -> None:
    code, out, err = _main(["--project-dir", str(EXAMPLES / example), "plan", stack, "--quiet", "--out", str(tmp_path)])
    assert (code, err) == (0, "")
    assert json.loads((tmp_path / "summary.json").read_text())["resources"]["total"] > 10


def _project(tmp_path: Path, runtime: str, program: str, config: str) -> Path:
    tmp_path.mkdir()
    (tmp_path / "Pulumi.yaml").write_text(f"name: mine\nruntime: {runtime}\n")
    (tmp_path / "__main__.py").write_text(program)
    (tmp_path / "Pulumi.s.yaml").write_text(config)
    return tmp_path


def test_a_missing_key_of_the_program_is_one_line_naming_the_stack_file(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "python", "import pulumi\npulumi.Config().require('gpu')\n", "config:\n  mine:other: 1\n")
    code, out, err = _main(["--project-dir", str(project), "plan", "s", "--out", str(tmp_path / "out")])
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err == "Pulumi.s.yaml: the program __main__.py stopped: Missing required configuration variable 'mine:gpu'\n"


def test_a_project_in_another_language_is_refused_in_one_line(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "yaml", "", "config:\n  mine:x: 1\n")
    code, _, err = _main(["--project-dir", str(project), "plan", "s", "--out", str(tmp_path / "out")])
    assert code == 2
    assert err == (
        "Pulumi.yaml: runtime yaml: pulumi-llm plan runs Python programs only; a yaml program is previewed by the Pulumi CLI (pulumi preview)\n"
    )


def test_verify_and_compare_stack_say_in_one_line_that_a_program_of_its_own_has_no_stack_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES / "onprem")
    code, out, err = _main(["verify", "lab"])
    assert (code, out) == (2, "")
    assert err == (
        "Pulumi.lab.yaml: project llm-onprem configures a program of its own: verify checks pulumi-llm stacks only (plan still records it)\n"
    )
    code, out, err = _main(["compare", "--stack", "lab", "--tokens-per-month", "1B"])
    assert (code, out) == (2, "")
    assert err == (
        "pulumi-llm: Pulumi.lab.yaml: project llm-onprem configures a program of its own, not pulumi-llm stack settings (pulumi-llm:* keys)\n"
    )
