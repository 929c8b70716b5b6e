"""Issue 16, family 9 — stale output: a plan that fails leaves no earlier plan in --out to be mistaken for
it, and a directory that holds anything but a plan is refused, never emptied.
"""

from __future__ import annotations

from pathlib import Path

import bad_input
from bad_input import assert_one_line_refusal
from pulumi_llm.offline import out_dir

ROOT = Path(__file__).resolve().parents[2]
ONPREM = (ROOT / "stacks" / "Pulumi.onprem.yaml").read_text()
BROKEN = ONPREM.replace("pulumi-llm:cloud: onprem", "pulumi-llm:cloud: mars", 1)


def test_a_failed_plan_leaves_no_previous_plan(scratch_project: Path) -> None:
    out = scratch_project / "plans" / "lab"
    bad_input.write_stack(scratch_project, "lab", ONPREM)
    first = bad_input.plan(scratch_project, "lab", out)
    assert first.code == 0 and first.written == bad_input.PLAN_FILES
    assert list((out / "manifests").glob("*.yaml"))

    bad_input.write_stack(scratch_project, "lab", BROKEN)
    second = bad_input.plan(scratch_project, "lab", out)
    assert_one_line_refusal(second, "lab", "pulumi-llm:cloud = mars")
    assert out.is_dir() and list(out.iterdir()) == []  # the directory the user named stays; the plan does not


def test_a_failed_plan_all_clears_only_its_own_directory(scratch_project: Path) -> None:
    out = scratch_project / "plans"
    bad_input.write_stack(scratch_project, "good", ONPREM)
    bad_input.write_stack(scratch_project, "lab", ONPREM)
    argv = ["--project-dir", str(scratch_project), "plan", "--all", "--quiet", "--no-verify", "--out", str(out)]
    assert bad_input.main(argv).code == 0
    (out / "README.txt").write_text("the user's, beside the plans")
    bad_input.write_stack(scratch_project, "lab", BROKEN)
    outcome = bad_input.main(argv)
    assert outcome.code == 2 and len(outcome.stderr) == 1 and "stacks/Pulumi.lab.yaml" in outcome.stderr[0]
    assert (out / "good" / "summary.json").is_file()
    assert list((out / "lab").iterdir()) == []
    assert (out / "README.txt").read_text() == "the user's, beside the plans"


def test_an_out_directory_holding_other_files_is_refused_and_left_alone(scratch_project: Path) -> None:
    out = scratch_project / "mine"
    (out / "manifests").mkdir(parents=True)
    (out / "summary.json").write_text("{}")
    (out / "notes.md").write_text("keep")
    bad_input.write_stack(scratch_project, "lab", ONPREM)
    outcome = bad_input.plan(scratch_project, "lab", out)
    assert (outcome.code, outcome.registered) == (2, 0)
    assert outcome.stderr == [
        f"plan --out {out}: holds 'notes.md', which is not a plan file; give an empty or new directory "
        "(only a previous plan's manifests, resources.json, summary.json are replaced)"
    ]
    assert sorted(p.name for p in out.iterdir()) == ["manifests", "notes.md", "summary.json"]


def test_a_manifests_directory_with_foreign_files_or_a_symlinked_plan_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "a"
    (foreign / "manifests").mkdir(parents=True)
    (foreign / "manifests" / "keep.txt").write_text("x")
    linked = tmp_path / "b"
    linked.mkdir()
    (linked / "resources.json").symlink_to(tmp_path / "a" / "manifests" / "keep.txt")
    for out in (foreign, linked):
        assert out_dir.previous_plan_files(out) is None
    assert (foreign / "manifests" / "keep.txt").read_text() == "x"


def test_a_previous_plan_is_recognised_and_fully_removed(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "deployment-llm-x.yaml").write_text("kind: Deployment\n")
    (tmp_path / "resources.json").write_text("[]")
    (tmp_path / "summary.json").write_text("{}")
    out_dir.prepare(tmp_path, "plan --out t")
    assert list(tmp_path.iterdir()) == []
