"""The pull request comment of preview.yml (issue 19, item 6): parsing `pulumi preview --json`, the renderer
on recorded plans, and the script that collects, renders and posts it (one comment, updated in place).

The recorded plans are real: prod and dev planned offline as committed (the base branch), and again with
prod's `serving.replicas.max` raised from 8 to 12 (the PR; `aws.cluster.max_gpus` raised with it, as the
plan itself demands). The recorded previews (tests/ci/data/) are Pulumi preview digests in the shape
pulumi/pulumi writes them (`sdk/go/common/display/json.go`, PreviewDigest).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pulumi_llm.ci_comment import (
    MARKER,
    MAX_CHARS,
    Cost,
    StackChecks,
    cost_delta,
    list_cost,
    models,
    render_pr_comment,
    stack_cost,
)
from pulumi_llm.ci_preview import parse_preview, reduce_preview

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".github" / "scripts" / "pr_comment.py"
DATA = Path(__file__).resolve().parent / "data"
PROD_PREVIEW = DATA / "preview-prod-replicas-max.json"
DEV_PREVIEW = DATA / "preview-dev-unchanged.json"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pr_comment_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


def project(root: Path, stacks: dict[str, str]) -> Path:
    """A Pulumi project running this repository's program with the given stack files."""
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(
        f"name: pulumi-llm\nruntime: python\nmain: {ROOT / 'stacks'}/\nstackConfigDir: stacks\n", encoding="utf-8"
    )
    for name, text in stacks.items():
        (root / "stacks" / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
    return root


def raised_replicas(prod: str) -> str:
    """prod with serving.replicas.max 8 → 12, and a GPU cap (aws.cluster.max_gpus) doubled to make room."""
    raised, n = re.subn(r"(?m)^(    replicas: \{min: \d+, max: )8\}$", r"\g<1>12}", prod)
    assert n == 1
    raised, n = re.subn(r"(?m)^(      max_gpus: )(\d+)$", lambda m: f"{m[1]}{int(m[2]) * 2}", raised)
    assert n == 1
    return raised


def plan_all(project_dir: Path, out: Path) -> Path:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pulumi_llm.cli",
            "--project-dir",
            str(project_dir),
            "plan",
            "--all",
            "--no-verify",
            "--quiet",
            "--out",
            str(out),
        ],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, script: ModuleType) -> dict[str, Any]:
    """The base and PR plans of prod and dev, and the `offline` document the plan job collects from them."""
    tmp = tmp_path_factory.mktemp("pr-comment")
    committed = {name: (ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text(encoding="utf-8") for name in ("prod", "dev")}
    base = project(tmp / "base", committed)
    pr = project(tmp / "pr", {**committed, "prod": raised_replicas(committed["prod"])})
    base_plans, pr_plans = plan_all(base, tmp / "out-base"), plan_all(pr, tmp / "out")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(pr)
        offline = script.collect(base, base_plans, pr_plans)
    return {"offline": offline, "tmp": tmp}


# ---------------------------------------------------------------- pulumi preview --json


def test_the_preview_digest_gives_counts_changes_and_errors():
    result = parse_preview(json.loads(PROD_PREVIEW.read_text()), exit_code=0)
    # changeSummary, the engine's own totals, as recorded.
    assert dict(result.counts) == {"same": 258, "update": 4, "replace": 1}
    assert result.changed == 5 and not result.failed
    # One line per changed resource: the replacement once (not its create-replacement/delete-replaced
    # halves), no unchanged step, not the stack resource; the properties that cause each change.
    assert [(c.op, c.type, c.name, c.reasons) for c in result.changes] == [
        ("update", "kubernetes:keda.sh/v1alpha1:ScaledObject", "llm-serving-llama-3-1-8b-instruct-scaling-scaledobject", ("spec",)),
        ("update", "kubernetes:keda.sh/v1alpha1:ScaledObject", "llm-serving-llama-3-3-70b-instruct-scaling-scaledobject", ("spec",)),
        ("replace", "aws:ecs/taskDefinition:TaskDefinition", "llm-gateway-task", ("containerDefinitions",)),
        ("update", "kubernetes:karpenter.sh/v1:NodePool", "llm-eks-gpu-node-pool", ("spec",)),
        ("update", "kubernetes:apps/v1:Deployment", "llm-serving-llama-3-3-70b-instruct-deployment", ("spec",)),
    ]


def test_a_preview_without_its_summary_is_counted_from_its_steps():
    document = json.loads(PROD_PREVIEW.read_text())
    del document["changeSummary"]
    result = parse_preview(document)
    assert dict(result.counts) == {"same": 2, "update": 4, "create-replacement": 1, "replace": 1, "delete-replaced": 1}
    assert result.changed == 5 and result.notes == ("no changeSummary; counted from the steps",)


def test_only_operations_that_change_resources_count_as_changes():
    urn = "urn:pulumi:prod::pulumi-llm::aws:s3/bucket:Bucket::b"
    ops = ["same", "read", "read-replacement", "refresh", "diff", "extend-parameterize", "import", "some-future-op"]
    result = parse_preview({"steps": [{"op": op, "urn": urn} for op in ops]})
    # An import changes the stack's state; an op Pulumi adds later is shown rather than hidden.
    assert result.changed == 2 and [c.op for c in result.changes] == ["import", "some-future-op"]


def test_a_failed_or_missing_preview_is_shown_not_raised():
    failed = parse_preview({"diagnostics": [{"severity": "error", "message": "error: preview failed\n  policy violations"}]}, exit_code=255)
    assert failed.failed and failed.errors == ("error: preview failed policy violations",) and failed.exit_code == 255
    assert parse_preview(None, exit_code=1).notes == ("no preview output",)
    odd = parse_preview({"steps": "nope", "changeSummary": {"update": "2", "create": 1, "same": True}})
    assert dict(odd.counts) == {"create": 1} and odd.notes == ("steps is not a list",)


def test_the_uploaded_preview_keeps_only_what_the_comment_reads():
    document = json.loads(PROD_PREVIEW.read_text())
    reduced = reduce_preview(document)
    text = json.dumps(reduced)
    # No resource state (outputs such as ARNs), no config, no info diagnostics.
    assert "oldState" not in text and "newState" not in text and "arn:aws" not in text and "config" not in reduced
    assert "detailedDiff" not in text and "refreshed from the cluster" not in text
    assert reduced["diagnostics"] == [
        {"severity": "warning", "message": document["diagnostics"][1]["message"]},
    ]
    assert parse_preview(reduced) == parse_preview(document)


# ---------------------------------------------------------------- the renderer on recorded plans


def previews_for(script: ModuleType, tmp: Path, **documents: tuple[Path, int]) -> dict[str, Any]:
    """The previews directory the comment job downloads, written the way the preview step writes it."""
    directory = tmp / "previews"
    directory.mkdir(exist_ok=True)
    for stack, (path, status) in documents.items():
        assert script.main(["reduce", "--preview", str(path), "--out", str(directory / f"{stack}.json")]) == 0
        (directory / f"{stack}.exit").write_text(f"{status}\n")
    return script.read_previews(directory)


def test_the_comment_shows_the_cost_delta_and_the_changed_sizing(recorded, script):
    offline = recorded["offline"]
    base, pr = offline["base"], offline["pr"]
    previews = previews_for(script, recorded["tmp"], prod=(PROD_PREVIEW, 0), dev=(DEV_PREVIEW, 0))
    comment = script.render(offline, previews)

    assert comment.startswith(MARKER + "\n")
    assert "**1 of 2 stacks change.**" in comment
    # The cost: max replicas 8 → 12 raises the maximum by half, leaves the minimum (2 replicas) alone.
    base_cost, pr_cost = stack_cost(base["prod"]), stack_cost(pr["prod"])
    assert base_cost and pr_cost
    assert pr_cost.low == pytest.approx(base_cost.low)
    assert pr_cost.high - base_cost.high == pytest.approx(base_cost.high / 2, rel=1e-3)
    delta = cost_delta(base_cost, pr_cost)
    assert delta == f"±$0 / +${pr_cost.high - base_cost.high:,.0f}"
    prod_row = next(line for line in comment.splitlines() if line.startswith("| **prod**"))
    assert f"| {pr_cost.shown()} | {delta} |" in prod_row
    assert "| 2 (2 changed) | +0 ~4 ±1 -0 |" in prod_row
    # Every model's sizing, with what changed marked (replicas, and so its cost) and the rest as is.
    for name, model in models(pr["prod"]).items():
        row = next(line for line in comment.splitlines() if line.startswith(f"| {name} |"))
        assert "| 2–8 → **2–12** |" in row
        assert f"| {model['hardware']['instance_type']} |" in row and f"| {model['max_model_len']:,} |" in row
        assert row.count("→") == 2  # replicas and monthly cost, nothing else
    # The preview's changes and the policy pack's verdict on the PR's plan, in the details.
    assert "- replace `aws:ecs/taskDefinition:TaskDefinition` `llm-gateway-task` (containerDefinitions)" in comment
    assert "`pulumi preview` changes 5 resources:" in comment
    assert (
        "- preview warning: warning: aws:ecs/taskDefinition:TaskDefinition is replaced: the gateway's tasks restart one at a time"
        in comment
    )
    # 12 max replicas cost more than prod's budget in policy/budgets.json: the pack says so, as in preview.
    assert any(line.startswith("- monthly-gpu-budget: stack 'prod': GPU capacity at maximum scale costs") for line in comment.splitlines())


def test_unchanged_stacks_collapse_to_one_line(recorded, script):
    previews = previews_for(script, recorded["tmp"], prod=(PROD_PREVIEW, 0), dev=(DEV_PREVIEW, 0))
    comment = script.render(recorded["offline"], previews)
    assert recorded["offline"]["checks"]["dev"] == {"ran": True, "verify": [], "verify_warnings": [], "policy": []}
    lines = [line for line in comment.splitlines() if "dev" in line]
    assert lines == ["Unchanged (1): dev — same plan, cost and sizing; no preview changes; checks clean."]


def test_a_failed_preview_or_check_never_collapses(recorded, script):
    offline = recorded["offline"]
    previews = previews_for(script, recorded["tmp"], prod=(PROD_PREVIEW, 0), dev=(DEV_PREVIEW, 255))
    comment = script.render(offline, previews)
    assert "| **dev** | aws us-east-1 |" in comment and "❌ failed (exit 255)" in comment
    assert "**2 of 2 stacks change.**" in comment and "Unchanged" not in comment


def test_the_comment_without_previews_still_shows_the_offline_part(recorded, script):
    comment = script.render(recorded["offline"], {})
    prod_row = next(line for line in comment.splitlines() if line.startswith("| **prod**"))
    assert "| not run |" in prod_row and "Unchanged (1): dev" in comment


def test_new_removed_and_failed_stacks_are_named():
    summary = {"cloud": "aws", "region": "us-east-1", "resources": {"total": 3, "byType": {"aws:s3/bucket:Bucket": 3}}}
    comment = render_pr_comment(
        {"old": summary, "broken": summary, "same": summary},
        {"new": summary, "broken": None, "same": summary},
        {},
        {"new": StackChecks(), "broken": StackChecks(ran=False), "same": StackChecks()},
    )
    rows = {line.split("|")[1].strip() for line in comment.splitlines() if line.startswith("| **")}
    assert rows == {"**broken** (plan failed)", "**new** (new stack)", "**old** (stack removed)"}
    assert "Unchanged (1): same" in comment


def test_cost_as_deployed_beside_the_list_price_and_region_flags():
    # The base branch's summary predates the stack's `cost` block: its models' costs are summed.
    model = {"served_name": "m", "replicas": {"min": 1, "max": 4}, "cost": {"currency": "USD", "monthly_min": 100.0, "monthly_max": 400.0}}
    base = {"cloud": "azure", "region": "westeurope", "sizing": [model]}
    flag = "pulumi-llm:region = westeurope: no list price of Standard_NC24ads_A100_v4 there; priced at the eastus list price"
    pr = {
        "cloud": "azure",
        "region": "westeurope",
        "sizing": [{**model, "cost": {"currency": "USD", "monthly_min": 100.0, "monthly_max": 320.0}}],
        "cost": {
            "currency": "USD",
            "monthly_min": 100.0,
            "monthly_max": 320.0,
            "list_monthly_min": 100.0,
            "list_monthly_max": 400.0,
            "region_price_flags": [flag],
        },
    }
    assert stack_cost(base) == Cost(100.0, 400.0, "USD") and list_cost(base) is None
    assert stack_cost(pr) == Cost(100.0, 320.0, "USD") and list_cost(pr) == Cost(100.0, 400.0, "USD")
    comment = render_pr_comment({"azure-prod": base}, {"azure-prod": pr}, {}, {"azure-prod": StackChecks()})
    assert (
        "Monthly cost (min–max): $100–$400 → **$100–$320** (±$0 / -$80 min / max). On-demand list for every hour: – → $100–$400." in comment
    )
    assert f"- ⚠️ {flag}" in comment
    assert "| m | – | – | – | – | – | 1–4 | – | – | $100–$400 → **$100–$320** |" in comment


def test_a_huge_comment_drops_its_details_to_fit():
    summary = {"cloud": "aws", "resources": {"total": 1, "byType": {}}}
    checks = StackChecks(verify=tuple(f"resource {i}: rule: {'why ' * 60}" for i in range(30)))
    stacks = {f"s{i:03d}": summary for i in range(60)}
    comment = render_pr_comment(stacks, stacks, {}, dict.fromkeys(stacks, checks))
    assert len(comment) < MAX_CHARS and "Details left out" in comment and "<details>" not in comment


# ---------------------------------------------------------------- posting: one comment, updated in place


class FakeGitHub:
    """The REST calls GitHub.call makes, against an in-memory list of comments."""

    def __init__(self, comments: list[dict[str, Any]]) -> None:
        self.comments = comments
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self.calls.append((method, path))
        if method == "GET":
            page = int(path.rsplit("page=", 1)[1])
            return self.comments[(page - 1) * 100 : page * 100]
        if method == "POST":
            created = {"id": 9000 + len(self.comments), "user": {"login": "github-actions[bot]"}, **(body or {})}
            self.comments.append(created)
            return created
        comment_id = int(path.rsplit("/", 1)[1])
        next(c for c in self.comments if c["id"] == comment_id).update(body or {})
        return {}


def test_the_comment_is_created_once_then_updated_in_place(script, monkeypatch):
    # 150 comments (two pages); a human quoting the marker and another bot's comment are never edited.
    comments = [{"id": i, "user": {"login": "someone"}, "body": "lgtm"} for i in range(148)]
    comments.append({"id": 500, "user": {"login": "someone"}, "body": f"{MARKER}\nquoted by a human"})
    comments.append({"id": 501, "user": {"login": "other-bot[bot]"}, "body": f"{MARKER}\nnot ours"})
    fake = FakeGitHub(comments)
    monkeypatch.setattr(script.GitHub, "call", lambda self, *a: fake(*a))
    env = {"GITHUB_TOKEN": "test-token", "GITHUB_REPOSITORY": "acme/pulumi-llm", "PR_NUMBER": "7"}

    assert script.post(f"{MARKER}\nfirst", env) == "created comment 9150"
    assert fake.calls[-1] == ("POST", "/repos/acme/pulumi-llm/issues/7/comments")
    assert script.post(f"{MARKER}\nsecond", env) == "updated comment 9150"
    assert fake.calls[-1] == ("PATCH", "/repos/acme/pulumi-llm/issues/comments/9150")
    ours = [c for c in fake.comments if c["user"]["login"] == "github-actions[bot]"]
    assert [c["body"] for c in ours] == [f"{MARKER}\nsecond"]
    assert comments[148]["body"].endswith("quoted by a human") and comments[149]["body"].endswith("not ours")
    assert ("GET", "/repos/acme/pulumi-llm/issues/7/comments?per_page=100&page=2") in fake.calls


def test_posting_refuses_what_it_cannot_do_in_one_line(tmp_path):
    body = tmp_path / "comment.md"
    body.write_text("no marker\n")

    def run(*env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "post", "--body", str(body)],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "GITHUB_ACTIONS": "true", **dict(e.split("=", 1) for e in env)},
        )

    result = run()
    assert result.returncode == 1 and result.stderr == "::error::GITHUB_TOKEN, GITHUB_REPOSITORY, PR_NUMBER: not set\n"
    result = run("GITHUB_TOKEN=t", "GITHUB_REPOSITORY=a/b", "PR_NUMBER=1")
    assert result.stderr == "::error::the body does not start with the comment marker; render it with `render`\n"
    body.write_text(f"{MARKER}\n")
    result = run("GITHUB_TOKEN=t", "GITHUB_REPOSITORY=a/b", "PR_NUMBER=1", "GITHUB_API_URL=http://api.example")
    assert result.stderr == "::error::GITHUB_API_URL='http://api.example': must be an https:// URL\n"


def test_render_and_post_need_no_installed_package(recorded, tmp_path):
    # The comment job runs the script with a bare python3: only the standard library and components/.
    offline = tmp_path / "offline.json"
    offline.write_text(json.dumps(recorded["offline"]))
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), "render", "--offline", str(offline), "--previews", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(MARKER) and "| **prod** |" in result.stdout
