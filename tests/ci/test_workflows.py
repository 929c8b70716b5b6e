"""The GitHub Actions workflows: linted (actionlint), audited (zizmor), and held to the CI contract.

Contract (docs/ARCHITECTURE.md, "CI and delivery"; the pulumi/actions and pulumi/auth-actions docs):
every PR gets tests, the offline plan of every stack (and of its base branch), a `pulumi preview --json`
per stack, and one comment (updated in place, from the only job that may write to the PR) with each
stack's changes; superseded previews are cancelled, deploys never are; prod deploys only from `v*`
tags behind the `prod` environment; clouds and Pulumi Cloud are reached by OIDC only; every action is
pinned by commit SHA; every PR runs `pulumi-llm verify --all`; each stack's jobs run on the runner its
stack file chooses (a self-hosted one inside the network of a stack whose Kubernetes API server no
GitHub-hosted runner reaches).

zizmor gate: zero findings under the *pedantic* persona, every severity and confidence. Pedantic is the
regular persona (minimal false positives) plus code-smell audits (unnamed jobs, missing concurrency
limits, undocumented permissions), all of which are cheap to satisfy in two workflows. The *auditor*
persona (which accepts false positives) is also clean today but is not gated, so a false positive there
cannot block unrelated work. No audit is ignored (there is no .github/zizmor.yml); online audits
(impostor-commit, known-vulnerable-actions, ref-version-mismatch, stale-action-refs) cannot run here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
PREVIEW = WORKFLOWS / "preview.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
STACKS_SCRIPT = GITHUB / "scripts" / "stacks.py"
DISCOVER = "uv run --no-sync python .github/scripts/stacks.py matrix"
"""The step that builds the stacks' matrix and runners, in the project environment (it validates them)."""
VENV_BIN = Path(sys.executable).parent

SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
PINNED_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s+(\S+)\s+#\s+v\d+\.\d+\.\d+\s*$")


# ---------------------------------------------------------------- helpers


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def tool(name: str) -> str:
    """The tool installed in the project venv (not whatever is first on PATH)."""
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    assert found, f"{name} is not installed in {VENV_BIN}; run `uv sync --frozen`"
    return found


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).split("@")[0] == action]


def the_step(job: dict[str, Any], action: str) -> dict[str, Any]:
    found = steps_using(job, action)
    assert len(found) == 1, f"expected exactly one {action} step, found {len(found)}"
    return found[0]


def pulumi_jobs(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: job for name, job in wf["jobs"].items() if steps_using(job, "pulumi/actions")}


def pulumi_command_step(job: dict[str, Any]) -> dict[str, Any]:
    """The step that runs the job's Pulumi command: pulumi/actions with a `command`, or (previews, for their
    JSON output) the `run:` step calling the CLI that an install-only pulumi/actions step put on PATH."""
    action = the_step(job, "pulumi/actions")
    if "command" in action.get("with", {}):
        return action
    found = [s for s in job["steps"] if re.search(r"^\s*pulumi (preview|up) ", s.get("run", ""), re.M)]
    assert len(found) == 1, f"expected exactly one step running the Pulumi CLI, found {len(found)}"
    return found[0]


def run_scripts(wf: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f"{job_name}/{step.get('name', step.get('id', '?'))}", step["run"])
        for job_name, job in wf["jobs"].items()
        for step in job.get("steps", [])
        if "run" in step
    ]


@pytest.fixture(scope="module")
def preview() -> dict[str, Any]:
    return load(PREVIEW)


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return load(DEPLOY)


# ---------------------------------------------------------------- linters


def test_the_workflows_exist():
    assert PREVIEW.is_file() and DEPLOY.is_file()
    assert {p.name for p in workflow_files()} >= {"preview.yml", "deploy.yml"}


def test_actionlint_reports_nothing():
    result = subprocess.run(
        [tool("actionlint"), "-no-color", "-oneline", *map(str, workflow_files())],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_actionlint_is_not_vacuous(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
    result = subprocess.run([tool("actionlint"), "-no-color", str(bad)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0 and "nope" in result.stdout


def zizmor(target: Path, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--format=json", *extra, str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    findings = json.loads(result.stdout or "[]")
    return result.returncode, findings, result.stderr


def test_zizmor_reports_nothing_even_pedantic():
    code, findings, stderr = zizmor(GITHUB, "--persona=pedantic")
    summary = [f"{f['ident']}: {f['desc']} @ {[loc['symbolic']['key'] for loc in f['locations']]}" for f in findings]
    assert findings == [] and code == 0, "\n".join(summary) or stderr
    # Every workflow was audited (not skipped as unparsable).
    for wf in workflow_files():
        assert f"completed {wf.relative_to(ROOT)}" in stderr or f"completed {wf}" in stderr, stderr


def test_no_zizmor_audit_is_ignored():
    # Any ignore must be a committed .github/zizmor.yml that says why; today there is none.
    assert not (GITHUB / "zizmor.yml").exists()
    for wf in workflow_files():
        assert "zizmor: ignore" not in wf.read_text(encoding="utf-8")


def test_zizmor_is_not_vacuous(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\npermissions: write-all\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - uses: actions/checkout@v4\n      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    _, findings, _ = zizmor(tmp_path / ".github")
    idents = {f["ident"] for f in findings}
    assert {"unpinned-uses", "template-injection", "artipacked", "dangerous-triggers"} <= idents, idents


# ---------------------------------------------------------------- supply chain and credentials


def test_every_action_is_pinned_by_sha_with_a_version_comment():
    pins: dict[str, set[str]] = {}
    for path in [*workflow_files(), *GITHUB.glob("actions/**/action.y*ml")]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not re.match(r"^\s*(?:-\s+)?uses:", line):
                continue
            ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
            if ref.startswith("./"):
                continue  # local action, versioned with this repository
            where = f"{path.relative_to(ROOT)}:{n}"
            assert SHA_PIN.match(ref), f"{where}: {ref} is not pinned to a full commit SHA"
            assert PINNED_LINE.match(line), f"{where}: pin needs a `# vX.Y.Z` comment: {line.strip()}"
            action, sha = ref.split("@")
            pins.setdefault(action, set()).add(f"{sha} {line.split('#', 1)[1].strip()}")
    inconsistent = {a: p for a, p in pins.items() if len(p) > 1}
    assert not inconsistent, f"one action, several pins: {inconsistent}"
    assert {"actions/checkout", "pulumi/actions", "pulumi/auth-actions"} <= set(pins)


def test_checkout_never_persists_credentials(preview, deploy):
    for wf in (preview, deploy):
        for job in wf["jobs"].values():
            for step in steps_using(job, "actions/checkout"):
                assert step.get("with", {}).get("persist-credentials") is False


STORED_KEY_INPUTS = {
    "aws-access-key-id",
    "aws-secret-access-key",
    "aws-session-token",
    "credentials_json",
    "creds",
    "client-secret",
    "access-token",  # a Pulumi token passed in rather than minted by OIDC
}


def test_no_stored_cloud_keys(preview, deploy):
    for path in workflow_files():
        text = path.read_text(encoding="utf-8")
        secrets = set(re.findall(r"secrets\.([A-Za-z0-9_]+)", text))
        assert secrets <= {"GITHUB_TOKEN"}, f"{path.name} reads stored secrets {secrets}; use OIDC"
        assert not re.search(r"AWS_SECRET_ACCESS_KEY|AZURE_CLIENT_SECRET|ARM_CLIENT_SECRET|GOOGLE_CREDENTIALS", text)
    for wf in (preview, deploy):
        for job in wf["jobs"].values():
            for step in job.get("steps", []):
                assert not STORED_KEY_INPUTS & set(step.get("with", {})), step


def test_no_expressions_inside_run_scripts(preview, deploy):
    # Values reach scripts through `env:`; an expression in `run:` is pasted into the shell source.
    for wf in (preview, deploy):
        for where, script in run_scripts(wf):
            assert "${{" not in script, f"{where}: move the expression into env:"


def test_permissions_are_minimal(preview, deploy):
    allowed = {
        ("preview", "preview"): {"contents": "read", "id-token": "write"},
        # The only job that may write to the PR: its one comment. It installs no package (below).
        ("preview", "comment"): {"contents": "read", "pull-requests": "write"},
    }
    for wf_name, wf in (("preview", preview), ("deploy", deploy)):
        assert wf["permissions"] == {"contents": "read"}, wf_name
        for job_name, job in wf["jobs"].items():
            perms = job.get("permissions")
            if perms is None:
                continue  # inherits contents: read
            expected = allowed.get((wf_name, job_name))
            if expected is None:
                # deploy jobs: OIDC only, nothing else elevated
                expected = {"contents": "read", "id-token": "write"}
                assert wf_name == "deploy" and steps_using(job, "pulumi/actions"), f"{wf_name}/{job_name}: {perms}"
            assert perms == expected, f"{wf_name}/{job_name}: {perms}"
        for job_name, job in wf["jobs"].items():
            needs_oidc = bool(steps_using(job, "pulumi/actions"))
            assert (job.get("permissions", {}).get("id-token") == "write") == needs_oidc, f"{wf_name}/{job_name}"


CLOUD_LOGINS = {
    "aws": (
        "aws-actions/configure-aws-credentials",
        {"role-to-assume": "vars.AWS_ROLE_ARN", "aws-region": "vars.AWS_REGION"},
    ),
    "gcp": (
        "google-github-actions/auth",
        {
            "workload_identity_provider": "vars.GCP_WORKLOAD_IDENTITY_PROVIDER",
            "service_account": "vars.GCP_SERVICE_ACCOUNT",
        },
    ),
    "azure": (
        "azure/login",
        {
            "client-id": "vars.AZURE_CLIENT_ID",
            "tenant-id": "vars.AZURE_TENANT_ID",
            "subscription-id": "vars.AZURE_SUBSCRIPTION_ID",
        },
    ),
}


def cloud_expression(job: dict[str, Any]) -> str:
    """What a job's cloud-login conditions compare: the matrix in previews, the stack file in deploys."""
    return "matrix.cloud" if "matrix" in job.get("strategy", {}) else "steps.stack.outputs.cloud"


@pytest.mark.parametrize("which", ["preview", "deploy"])
def test_every_pulumi_job_logs_in_by_oidc_only_for_its_cloud(which, preview, deploy):
    wf = preview if which == "preview" else deploy
    jobs = pulumi_jobs(wf)
    assert jobs
    for job_name, job in jobs.items():
        steps = job["steps"]
        index = {id(s): i for i, s in enumerate(steps)}
        pulumi_at = index[id(pulumi_command_step(job))]

        auth = the_step(job, "pulumi/auth-actions")
        assert auth["with"]["organization"] == "${{ vars.PULUMI_ORG }}"
        assert auth["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:organization"
        assert "if" not in auth and index[id(auth)] < pulumi_at

        expr = cloud_expression(job)
        for cloud, (action, inputs) in CLOUD_LOGINS.items():
            step = the_step(job, action)
            assert step["if"] == f"{expr} == '{cloud}'", f"{job_name}: {action} runs for the wrong stacks"
            assert step["with"] == {k: f"${{{{ {v} }}}}" for k, v in inputs.items()}, f"{job_name}: {action}"
            assert index[id(step)] < pulumi_at

        arm = pulumi_command_step(job).get("env", {})
        assert arm["ARM_USE_OIDC"] == f"${{{{ {expr} == 'azure' && 'true' || 'false' }}}}"

        if expr == "steps.stack.outputs.cloud":
            # The cloud is read from the very stack this job deploys.
            read = next(s for s in steps if s.get("id") == "stack")
            assert read["run"].strip() == 'python3 .github/scripts/stacks.py cloud "${STACK}"'
            assert index[id(read)] < pulumi_at


def test_pulumi_plugins_are_cached_in_previews_only(preview, deploy):
    cache = the_step(preview["jobs"]["preview"], "actions/cache")
    assert cache["with"]["path"] == "~/.pulumi/plugins"
    assert "hashFiles('uv.lock')" in cache["with"]["key"]
    # Deploys run plugins with production credentials; they never restore a cache.
    for job in deploy["jobs"].values():
        assert not steps_using(job, "actions/cache")


# ---------------------------------------------------------------- preview.yml


def test_preview_runs_on_pull_requests_and_cancels_superseded_runs(preview):
    assert set(preview["on"]) == {"pull_request"}
    assert preview["concurrency"]["cancel-in-progress"] is True
    assert "github.event.pull_request.number" in preview["concurrency"]["group"]


def test_preview_test_job_runs_the_test_command(preview):
    runs = [s["run"] for s in preview["jobs"]["test"]["steps"] if "run" in s]
    assert any(r.startswith("pip install") and "uv" in r for r in runs)
    assert "uv sync --frozen" in runs and "uv run pytest" in runs
    the_step(preview["jobs"]["test"], "actions/setup-python")


def test_preview_job_previews_every_stack_as_json(preview):
    job = preview["jobs"]["preview"]
    # `plan` runs verify: a stack that fails it is not previewed against its cloud.
    assert set(job["needs"]) == {"test", "stacks", "plan"}
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"
    # Fork PRs cannot get an OIDC token; they are served by the test and plan jobs.
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]

    # pulumi/actions only installs the locked CLI; the step runs it for its JSON preview digest.
    install = the_step(job, "pulumi/actions")
    assert install["with"] == {"pulumi-version": "${{ steps.pulumi-version.outputs.version }}"}
    step = pulumi_command_step(job)
    assert step is not install
    command = " ".join(step["run"].replace("\\\n", " ").split())
    assert 'pulumi preview --stack "${STACK}" --refresh --policy-pack policy --non-interactive --json' in command
    assert step["env"]["STACK"] == "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"
    # Its exit status is the step's, and is recorded beside the reduced digest for the comment.
    assert "|| status=$?" in command and command.rstrip().endswith('exit "${status}"')
    assert 'pr_comment.py reduce --preview "${RUNNER_TEMP}/preview.json" --out "previews/${STACK_NAME}.json"' in command
    assert 'echo "${status}" > "previews/${STACK_NAME}.exit"' in command
    upload = the_step(job, "actions/upload-artifact")
    assert upload["with"]["path"] == "previews/" and upload["with"]["name"] == "preview-${{ matrix.stack }}"
    assert upload["if"] == "${{ !cancelled() }}"
    # No per-stack comment of pulumi/actions: the comment job writes the one comment.
    assert "pull-requests" not in job["permissions"]


def test_one_comment_per_pr_from_the_comment_job(preview):
    job = preview["jobs"]["comment"]
    assert set(job["needs"]) == {"plan", "preview"}
    # After the previews whatever their result (and when none ran); never for forks (read-only token).
    assert "!cancelled()" in job["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    others = [n for n, j in preview["jobs"].items() if n != "comment" and "pull-requests" in (j.get("permissions") or {})]
    assert others == []
    runs = [" ".join(s["run"].replace("\\\n", " ").split()) for s in job["steps"] if "run" in s]
    # The job holding the write token installs nothing: standard-library Python from the checkout.
    assert not any("pip install" in r or "uv " in r for r in runs)
    assert runs == [
        "python3 .github/scripts/pr_comment.py render --offline pr-comment/offline.json --previews previews > comment.md",
        "python3 .github/scripts/pr_comment.py post --body comment.md",
    ]
    post = next(s for s in job["steps"] if "post --body" in s.get("run", ""))
    assert post["env"] == {"GITHUB_TOKEN": "${{ github.token }}", "PR_NUMBER": "${{ github.event.pull_request.number }}"}
    downloads = steps_using(job, "actions/download-artifact")
    assert [d["with"].get("name") or d["with"].get("pattern") for d in downloads] == ["pr-comment", "preview-*"]


def test_plan_job_plans_the_base_branch_for_the_comment(preview):
    job = preview["jobs"]["plan"]
    base = next(s for s in steps_using(job, "actions/checkout") if s.get("with", {}).get("path") == "base")
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    plan = next(s for s in job["steps"] if s.get("working-directory") == "base")
    assert "uv sync --frozen" in plan["run"] and "uv run pulumi-llm plan --all --no-verify --quiet --out ../out-base" in plan["run"]
    collect = next(s for s in job["steps"] if "pr_comment.py offline" in s.get("run", ""))
    assert "--base-project base --base-plans out-base --pr-plans out --out pr-comment/offline.json" in " ".join(
        collect["run"].replace("\\\n", " ").split()
    )
    # Even when verify failed: the comment then says which stack and rule.
    assert plan["if"] == collect["if"] == "${{ !cancelled() }}"
    uploads = {s["with"]["name"]: s for s in steps_using(job, "actions/upload-artifact")}
    assert uploads["pr-comment"]["with"]["path"] == "pr-comment/" and uploads["pr-comment"]["if"] == "${{ !cancelled() }}"


def test_plan_job_runs_the_offline_plan_of_every_stack(preview):
    job = preview["jobs"]["plan"]
    assert "permissions" not in job and "needs" not in job  # no cloud, no wait for anything
    assert any("uv run pulumi-llm plan --all --no-verify --out out" in s.get("run", "") for s in job["steps"])
    uploads = {s["with"]["name"]: s for s in steps_using(job, "actions/upload-artifact")}
    assert uploads["offline-plan"]["with"]["path"] == "out/"


def test_every_pull_request_runs_verify(preview):
    # Every PR, forks included: the plan job has no condition and needs no cloud.
    job = preview["jobs"]["plan"]
    assert "if" not in job and set(preview["on"]) == {"pull_request"}
    verify = [s for s in job["steps"] if "pulumi-llm verify --all" in s.get("run", "")]
    assert len(verify) == 1 and "if" not in verify[0]
    # Its exit status (2 on any violation) is the step's: captured, shown, then returned.
    assert 'exit "${status}"' in verify[0]["run"] and "|| status=$?" in verify[0]["run"]
    # The plan is recorded once, without verifying twice; the artifact is kept even when verify fails.
    plan = next(s for s in job["steps"] if "pulumi-llm plan --all" in s.get("run", ""))
    assert "--no-verify" in plan["run"]
    steps = job["steps"]
    assert steps.index(plan) < steps.index(verify[0])
    assert all(s["if"] == "${{ !cancelled() }}" for s in steps_using(job, "actions/upload-artifact"))


def test_stacks_job_exposes_the_discovered_matrix(preview):
    job = preview["jobs"]["stacks"]
    assert job["outputs"]["matrix"] == "${{ steps.discover.outputs.matrix }}"
    step = next(s for s in job["steps"] if s.get("id") == "discover")
    assert step["run"].strip() == DISCOVER
    # The matrix validates the stack files with pulumi_llm: the locked environment is installed first.
    runs = [s.get("run", "") for s in job["steps"]]
    assert runs.index("uv sync --frozen") < runs.index(step["run"])


# ---------------------------------------------------------------- deploy.yml


def test_deploy_triggers(deploy):
    assert deploy["on"] == {"push": {"branches": ["main"], "tags": ["v*"]}}


def test_deploys_are_never_cancelled(deploy):
    assert deploy["concurrency"]["cancel-in-progress"] is False
    groups = set()
    for job_name, job in pulumi_jobs(deploy).items():
        assert job["concurrency"]["cancel-in-progress"] is False, job_name
        groups.add(job["concurrency"]["group"])
    assert len(groups) == len(pulumi_jobs(deploy)), "each stack needs its own concurrency group"
    assert "cancel-in-progress: true" not in DEPLOY.read_text(encoding="utf-8")


def deployed_stack(job: dict[str, Any]) -> str:
    step = the_step(job, "pulumi/actions")
    assert step["with"]["command"] == "up"
    return step["with"]["stack-name"].rsplit("/", 1)[-1]


def test_each_deploy_job_targets_its_own_stack_and_environment(deploy):
    jobs = pulumi_jobs(deploy)
    assert set(jobs) == {"dev", "staging", "prod"}
    for name, job in jobs.items():
        assert deployed_stack(job) == name
        assert job["environment"] == name
        assert job["env"]["STACK"] == name
        assert job["concurrency"]["group"] == f"deploy-{name}"
        w = the_step(job, "pulumi/actions")["with"]
        assert w["work-dir"] == "." and w["diff"] is True and w["refresh"] is True
        assert "comment-on-pr" not in w
        assert w["policyPacks"] == "policy"  # and every update


def test_main_deploys_dev_then_staging(deploy):
    dev, staging = deploy["jobs"]["dev"], deploy["jobs"]["staging"]
    assert dev["if"] == staging["if"] == "github.ref == 'refs/heads/main'"
    assert set(staging["needs"]) == {"dev", "stacks"}
    assert set(dev["needs"]) == {"test", "stacks"}


def test_prod_only_from_v_tags_behind_the_prod_environment(deploy):
    prod = deploy["jobs"]["prod"]
    assert prod["environment"] == "prod"
    assert prod["if"] == "startsWith(github.ref, 'refs/tags/v')"
    # ... and the tag must point at a commit that is on main.
    checkout = the_step(prod, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0
    assert any('merge-base --is-ancestor "${GITHUB_SHA}" origin/main' in s.get("run", "") for s in prod["steps"])
    # No other job can reach the prod stack.
    others = [n for n, j in pulumi_jobs(deploy).items() if n != "prod" and deployed_stack(j) == "prod"]
    assert others == []


# ---------------------------------------------------------------- stack discovery


def fake_repo(tmp_path: Path, stacks: dict[str, str]) -> Path:
    (tmp_path / ".github" / "scripts").mkdir(parents=True)
    shutil.copy(STACKS_SCRIPT, tmp_path / ".github" / "scripts" / "stacks.py")
    (tmp_path / "stacks").mkdir()
    for name, body in stacks.items():
        (tmp_path / "stacks" / name).write_text(body, encoding="utf-8")
    return tmp_path


def run_step(script: str, cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run a workflow `run:` script the way the runner does (bash -eo pipefail) and read GITHUB_OUTPUT."""
    output = cwd / "github_output"
    output.write_text("")
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), **env},
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return result, outputs


FAKE_STACKS = {
    "Pulumi.dev.yaml": "config:\n  pulumi-llm:cloud: aws\n  aws:region: us-east-1\n",
    "Pulumi.gcp-prod.yaml": 'config:\n  pulumi-llm:environment: prod\n  "pulumi-llm:cloud": "gcp"  # managed\n',
    "Pulumi.onprem-triton.yaml": "config:\n  pulumi-llm:cloud: 'onprem'\n  pulumi-llm:methods:\n    - onprem\n",
    "Pulumi.edge.yaml": "encryptionsalt: abc\nconfig:\n  pulumi-llm:cloud: none\n",
    "README.md": "not a stack",
    "Pulumi.dev.yaml.bak": "config:\n  pulumi-llm:cloud: azure\n",
}


def real_stack(name: str, drop_ci: bool = False) -> str:
    """A committed stack file's text; with drop_ci, without its `pulumi-llm:ci` block (as before finding 9)."""
    text = (ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text(encoding="utf-8")
    if not drop_ci:
        return text
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("  pulumi-llm:ci:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    return "".join(lines[:start] + lines[end:])


def matrix_in(repo: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The discover step (DISCOVER) in `repo`, with this venv's python standing in for `uv run --no-sync python`."""
    return run_step(f"{shlex.quote(sys.executable)} .github/scripts/stacks.py matrix", repo, **env)


def self_hosted(stack: str) -> list[str]:
    return ["self-hosted", "linux", "x64", f"pulumi-llm-{stack}"]


def test_the_stacks_job_step_discovers_the_stack_files(tmp_path, preview):
    repo = fake_repo(
        tmp_path,
        {
            **{f"Pulumi.{name}.yaml": real_stack(name) for name in ("dev", "gcp-prod", "onprem-triton", "edge")},
            "README.md": "not a stack",
            "Pulumi.dev.yaml.bak": "config:\n  pulumi-llm:cloud: azure\n",
        },
    )
    step = next(s for s in preview["jobs"]["stacks"]["steps"] if s.get("id") == "discover")
    assert step["run"].strip() == DISCOVER
    result, outputs = matrix_in(repo)
    assert result.returncode == 0, result.stderr
    expected = {
        "include": [
            {"stack": "dev", "cloud": "aws", "runner": ["ubuntu-latest"]},
            {"stack": "edge", "cloud": "aws", "runner": self_hosted("edge")},
            {"stack": "gcp-prod", "cloud": "gcp", "runner": self_hosted("gcp-prod")},
            {"stack": "onprem-triton", "cloud": "onprem", "runner": self_hosted("onprem-triton")},
        ]
    }
    assert json.loads(outputs["matrix"]) == expected
    assert outputs["count"] == "4"
    assert json.loads(outputs["runners"]) == {e["stack"]: e["runner"] for e in expected["include"]}
    assert json.loads(result.stdout) == expected


@pytest.mark.parametrize(
    ("stack", "what"),
    [
        ("prod", "the EKS API server"),
        ("staging", "the EKS API server"),
        ("gcp-prod", "the GKE API server"),
        ("azure-prod", "the AKS API server"),
        ("onprem", "kube context gpu-cluster"),
    ],
)
def test_discovery_refuses_a_private_stack_without_an_in_network_runner(tmp_path, stack, what):
    # Finding 9: these stacks had no runner setting and were previewed and deployed from ubuntu-latest.
    repo = fake_repo(tmp_path, {f"Pulumi.{stack}.yaml": real_stack(stack, drop_ci=True)})
    result, outputs = matrix_in(repo, GITHUB_ACTIONS="true")
    assert result.returncode == 1 and outputs == {}
    assert result.stderr.startswith(f"::error::stacks/Pulumi.{stack}.yaml: pulumi-llm:ci.runner_labels: {what} is private"), result.stderr
    assert "self-hosted runner inside its network" in result.stderr


def test_discovery_refuses_a_stack_file_that_does_not_validate(tmp_path):
    body = real_stack("dev").replace("pulumi-llm:environment: dev", "pulumi-llm:environment: Dev!")
    result, outputs = matrix_in(fake_repo(tmp_path, {"Pulumi.dev.yaml": body}))
    assert result.returncode == 1 and outputs == {}
    assert result.stderr.startswith("error: stacks/Pulumi.dev.yaml: pulumi-llm:environment = Dev!:"), result.stderr


def test_the_deploy_step_reads_the_cloud_of_its_stack(tmp_path, deploy):
    repo = fake_repo(tmp_path, FAKE_STACKS)
    step = next(s for s in deploy["jobs"]["dev"]["steps"] if s.get("id") == "stack")
    result, outputs = run_step(step["run"], repo, STACK="gcp-prod")
    assert result.returncode == 0, result.stderr
    assert outputs == {"cloud": "gcp"}

    result, _ = run_step(step["run"], repo, STACK="staging")
    assert result.returncode == 1 and "Pulumi.staging.yaml: no such stack file" in result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("config:\n  aws:region: us-east-1\n", "found no values, expected exactly one"),
        ("config:\n  pulumi-llm:cloud: digitalocean\n", "'digitalocean' is not one of aws, gcp, azure, onprem, none"),
        ("config:\n  pulumi-llm:cloud: aws\n  pulumi-llm:cloud: gcp\n", "found 2 values, expected exactly one"),
    ],
)
def test_discovery_refuses_a_stack_without_a_valid_cloud(tmp_path, body, message):
    repo = fake_repo(tmp_path, {"Pulumi.dev.yaml": real_stack("dev"), "Pulumi.broken.yaml": body})
    result, outputs = matrix_in(repo, GITHUB_ACTIONS="true")
    assert result.returncode == 1 and outputs == {}
    assert result.stderr.strip() == f"::error::stacks/Pulumi.broken.yaml: config.pulumi-llm:cloud: {message}"


def test_discovery_refuses_a_stack_name_that_is_not_a_pulumi_name(tmp_path):
    repo = fake_repo(tmp_path, {"Pulumi.$(id).yaml": real_stack("dev")})
    result, outputs = matrix_in(repo)
    assert result.returncode == 1 and outputs == {} and "not a valid stack name" in result.stderr


def test_no_stacks_gives_an_empty_matrix_and_no_preview(tmp_path, preview):
    result, outputs = matrix_in(fake_repo(tmp_path, {}))
    assert result.returncode == 0
    assert outputs == {"matrix": '{"include":[]}', "count": "0", "runners": "{}"}
    # An empty matrix is an error in Actions; the preview job is skipped instead.
    assert "needs.stacks.outputs.count != '0'" in preview["jobs"]["preview"]["if"]


def test_the_repository_stacks_are_discoverable():
    files = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
    if not files:
        pytest.skip("no stacks/Pulumi.<stack>.yaml committed yet")
    result = subprocess.run([sys.executable, str(STACKS_SCRIPT), "matrix"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    stacks = {e["stack"] for e in json.loads(result.stdout)["include"]}
    assert len(stacks) == len(files)


def test_the_stacks_deploy_yml_names_exist():
    # deploy.yml deploys these three by name; a missing file fails that deploy job at its first step.
    missing = [s for s in ("dev", "staging", "prod") if not (ROOT / "stacks" / f"Pulumi.{s}.yaml").is_file()]
    if missing:
        pytest.skip(f"deploy.yml targets stacks not committed yet: {', '.join(missing)}")


def test_the_policy_pack_the_workflows_name_exists():
    pack = ROOT / "policy"
    assert (pack / "PulumiPolicy.yaml").is_file() and (pack / "__main__.py").is_file()


# ---------------------------------------------------------------- runners (finding 9)

RUNNER_OF_STACK = re.compile(r"^\$\{\{ fromJSON\(needs\.stacks\.outputs\.runners\)\['(?P<stack>[A-Za-z0-9_.-]+)'\] \}\}$")
PRIVATE_CLUSTER_STACKS = {"staging", "prod", "gcp-prod", "azure-prod"}
"""The stacks finding 9 named: EKS, GKE and AKS API servers on private endpoints only."""


@pytest.fixture(scope="module")
def discovered(tmp_path_factory) -> dict[str, Any]:
    """The repository's stacks job outputs (matrix, count, runners), as the discover step writes them."""
    output = tmp_path_factory.mktemp("discover") / "github_output"
    output.write_text("")
    result = subprocess.run(
        [sys.executable, str(STACKS_SCRIPT), "matrix"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
    )
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return {"matrix": json.loads(values["matrix"]), "runners": json.loads(values["runners"])}


def decided(stack: str) -> list[str]:
    """The runs-on decide_ci_runner gives the committed stack file."""
    from pulumi_llm.ci_runner import decide_ci_runner
    from pulumi_llm.offline.plan import Project, load_settings

    runner = decide_ci_runner(load_settings(Project.find(ROOT), stack).model_dump(mode="json"))
    assert runner.runs_on is not None, runner.problem
    return list(runner.runs_on)


def test_each_preview_runs_on_the_runner_its_stack_file_chooses(preview, discovered):
    job = preview["jobs"]["preview"]
    assert job["runs-on"] == "${{ matrix.runner }}"
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"
    entries = {e["stack"]: e for e in discovered["matrix"]["include"]}
    assert entries and all(e["runner"] == decided(stack) for stack, e in entries.items())
    on_self_hosted = {stack for stack, e in entries.items() if "self-hosted" in e["runner"]}
    assert PRIVATE_CLUSTER_STACKS <= on_self_hosted
    assert {stack for stack, e in entries.items() if e["runner"] == ["ubuntu-latest"]} == set(entries) - on_self_hosted
    # Self-hosted runners never run a fork's code: the job is skipped for fork PRs.
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]


def test_each_deploy_runs_on_the_runner_its_stack_file_chooses(deploy, discovered):
    stacks = deploy["jobs"]["stacks"]
    assert stacks["outputs"]["runners"] == "${{ steps.discover.outputs.runners }}"
    assert next(s for s in stacks["steps"] if s.get("id") == "discover")["run"].strip() == DISCOVER
    for name, job in pulumi_jobs(deploy).items():
        match = RUNNER_OF_STACK.match(job["runs-on"])
        assert match, f"{name}: runs-on {job['runs-on']!r} does not come from the stacks job"
        assert match["stack"] == deployed_stack(job) == name
        assert "stacks" in job["needs"]
        assert discovered["runners"][name] == decided(name)
    assert "self-hosted" in discovered["runners"]["staging"] and "self-hosted" in discovered["runners"]["prod"]
    assert discovered["runners"]["dev"] == ["ubuntu-latest"]


def test_the_deploy_jobs_read_their_cloud_with_the_python_they_set_up(deploy):
    # A self-hosted runner need not bring python3: the stack's cloud is read after setup-python.
    for name, job in pulumi_jobs(deploy).items():
        steps = job["steps"]
        read = next(i for i, s in enumerate(steps) if s.get("id") == "stack")
        setup = steps.index(the_step(job, "actions/setup-python"))
        assert setup < read, name


def test_both_workflows_discover_stacks_the_same_way(preview, deploy):
    def steps(job: dict[str, Any]) -> list[Any]:
        return [{k: v for k, v in s.items() if k != "name"} for s in job["steps"]]

    assert steps(preview["jobs"]["stacks"]) == steps(deploy["jobs"]["stacks"])
