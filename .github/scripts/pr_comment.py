#!/usr/bin/env python3
"""The pull request comment of preview.yml: collect, render, post (one comment per PR, updated in place).

    uv run --no-sync python .github/scripts/pr_comment.py offline \\
        --base-project base --base-plans out-base --pr-plans out --out pr-comment/offline.json
        the PR's and the base branch's offline plans (`pulumi-llm plan --all --out DIR` of each checkout)
        and the checks of the PR's plans: `pulumi-llm verify` rules and the CrossGuard pack (policy/) on
        the recorded resources. Runs in the project environment, in the `plan` job (no token, no cloud).
    python3 .github/scripts/pr_comment.py reduce --preview "$RUNNER_TEMP/preview.json" --out previews/STACK.json
        keeps of a `pulumi preview --json` document only what the comment reads (ci_preview.reduce_preview):
        the artifact the preview job uploads carries no resource state or config.
    python3 .github/scripts/pr_comment.py render --offline pr-comment/offline.json --previews previews
        the markdown (pulumi_llm.ci_comment.render_pr_comment) on stdout; `previews/` holds each previewed
        stack's `pulumi preview --json` document (<stack>.json) and exit status (<stack>.exit).
    python3 .github/scripts/pr_comment.py post --body comment.md
        creates the comment, or updates the one this workflow posted before: the comment by
        github-actions[bot] that starts with pulumi_llm.ci_comment.MARKER. Reads GITHUB_TOKEN,
        GITHUB_REPOSITORY, PR_NUMBER and GITHUB_API_URL from the environment.

`render` and `post` use the standard library and the two pure modules only (pulumi_llm.ci_comment and
ci_preview, imported from components/ without installing the project): the job that holds
`pull-requests: write` installs no package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "components"))

from pulumi_llm.ci_comment import MARKER, StackChecks, render_pr_comment  # noqa: E402
from pulumi_llm.ci_preview import PreviewResult, parse_preview, reduce_preview  # noqa: E402

BOT_LOGIN = "github-actions[bot]"
"""Who the workflow's GITHUB_TOKEN posts as; only its comments are ever edited."""


class CommentError(Exception):
    """Something this script cannot do; the message says what."""


# ---------------------------------------------------------------- offline (project environment)


def _summaries(plans: Path, stacks: Sequence[str]) -> dict[str, Any]:
    """stack → its summary.json, or None when its plan wrote none (it failed)."""
    found: dict[str, Any] = {}
    for stack in stacks:
        path = plans / stack / "summary.json"
        found[stack] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    return found


def _checks(project: Any, plans: Path, stack: str) -> dict[str, Any]:
    """`pulumi-llm verify` and the policy pack on the stack's recorded plan (as `pulumi preview` would run it)."""
    from pulumi_llm.offline.plan import load_settings
    from pulumi_llm.verify import PlanView, run_rules

    sys.path.insert(0, str(ROOT / "policy"))  # the pack of this checkout, as `--policy-pack policy` runs it
    from pulumi_llm_policy import budget, pack, rules

    out = plans / stack
    view = PlanView.from_dir(out, load_settings(project, stack).model_dump(mode="json"))
    violations = run_rules(view)
    resources = json.loads((out / "resources.json").read_text(encoding="utf-8"))
    policy = [f"{rule}: {why}" for rule, whys in sorted(rules.check_stack(resources).items()) for why in whys]
    policy += [f"{pack.BUDGET_POLICY}: {why}" for why in budget.monthly_budget(resources, pack.initial_config()[pack.BUDGET_POLICY])]
    return {
        "verify": [f"{v.resource}: {v.rule}: {v.why}" for v in violations if v.severity == "error"],
        "verify_warnings": [f"{v.resource}: {v.rule}: {v.why}" for v in violations if v.severity != "error"],
        "policy": policy,
        "ran": True,
    }


def collect(base_project: Path, base_plans: Path, pr_plans: Path) -> dict[str, Any]:
    """Everything the comment needs from the offline plans, as one JSON document."""
    from pulumi_llm.offline.plan import Project

    pr = Project.find(Path.cwd())
    base_stacks = Project.find(base_project.resolve()).stacks() if (base_project / "Pulumi.yaml").is_file() else []
    pr_summaries = _summaries(pr_plans, pr.stacks())
    checks: dict[str, Any] = {}
    for stack, summary in pr_summaries.items():
        try:
            checks[stack] = _checks(pr, pr_plans, stack) if summary is not None else {"ran": False}
        except Exception as err:  # noqa: BLE001  (one stack's checks failing must not lose every stack's comment)
            print(f"::warning::{stack}: the checks did not run ({type(err).__name__}: {err})", file=sys.stderr)
            checks[stack] = {"ran": False}
    return {"base": _summaries(base_plans, base_stacks), "pr": pr_summaries, "checks": checks}


# ---------------------------------------------------------------- render (standard library)


def read_previews(directory: Path | None) -> dict[str, PreviewResult]:
    """<stack>.json (the preview digest) and <stack>.exit (its exit status) of every previewed stack."""
    if directory is None or not directory.is_dir():
        return {}
    found: dict[str, PreviewResult] = {}
    for status in sorted(directory.glob("*.exit")):
        stack = status.name[: -len(".exit")]
        text = status.read_text(encoding="utf-8").strip()
        exit_code = int(text) if text.lstrip("-").isdigit() else None
        document_path = directory / f"{stack}.json"
        try:
            document = json.loads(document_path.read_text(encoding="utf-8")) if document_path.is_file() else None
        except json.JSONDecodeError:
            document = None
        found[stack] = parse_preview(document if isinstance(document, Mapping) else None, exit_code)
    return found


def stack_checks(raw: Mapping[str, Any]) -> dict[str, StackChecks]:
    return {
        stack: StackChecks(
            verify=tuple(c.get("verify", ())),
            verify_warnings=tuple(c.get("verify_warnings", ())),
            policy=tuple(c.get("policy", ())),
            ran=bool(c.get("ran", False)),
        )
        for stack, c in raw.items()
    }


def render(offline: Mapping[str, Any], previews: Mapping[str, PreviewResult]) -> str:
    return render_pr_comment(offline.get("base", {}), offline.get("pr", {}), previews, stack_checks(offline.get("checks", {})))


# ---------------------------------------------------------------- post (standard library)


def find_previous(comments: Sequence[Mapping[str, Any]], marker: str = MARKER, author: str = BOT_LOGIN) -> int | None:
    """The id of the comment to update: the oldest one by `author` whose body starts with `marker`."""
    for comment in comments:
        user = comment.get("user") or {}
        if user.get("login") == author and str(comment.get("body", "")).startswith(marker):
            return int(comment["id"])
    return None


class GitHub:
    """The three REST calls the comment needs, with the workflow's token."""

    def __init__(self, api: str, repository: str, token: str) -> None:
        if urllib.parse.urlsplit(api).scheme != "https":
            raise CommentError(f"GITHUB_API_URL={api!r}: must be an https:// URL")
        self.api, self.repository, self.token = api.rstrip("/"), repository, token

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310  (https only, checked in __init__)
            f"{self.api}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  (https only)
            return json.loads(response.read() or b"null")

    def comments(self, number: int) -> list[Mapping[str, Any]]:
        """Every comment of the PR, oldest first (GitHub pages them 100 at a time)."""
        found: list[Mapping[str, Any]] = []
        page = 1
        while True:
            batch = self.call("GET", f"/repos/{self.repository}/issues/{number}/comments?per_page=100&page={page}")
            found.extend(batch)
            if len(batch) < 100:
                return found
            page += 1

    def upsert(self, number: int, body: str) -> tuple[str, int]:
        """Update this workflow's comment, or create it; ("updated" | "created", comment id)."""
        previous = find_previous(self.comments(number))
        if previous is not None:
            self.call("PATCH", f"/repos/{self.repository}/issues/comments/{previous}", {"body": body})
            return "updated", previous
        created = self.call("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body})
        return "created", int(created["id"])


def post(body: str, env: Mapping[str, str]) -> str:
    missing = [k for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "PR_NUMBER") if not env.get(k)]
    if missing:
        raise CommentError(f"{', '.join(missing)}: not set")
    if not body.startswith(MARKER):
        raise CommentError("the body does not start with the comment marker; render it with `render`")
    github = GitHub(env.get("GITHUB_API_URL") or "https://api.github.com", env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"])
    action, comment_id = github.upsert(int(env["PR_NUMBER"]), body)
    return f"{action} comment {comment_id}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    offline = sub.add_parser("offline", help="collect the offline plans and checks into one JSON file")
    offline.add_argument("--base-project", type=Path, required=True, help="the base branch's checkout")
    offline.add_argument("--base-plans", type=Path, required=True)
    offline.add_argument("--pr-plans", type=Path, required=True)
    offline.add_argument("--out", type=Path, required=True)
    reduced = sub.add_parser("reduce", help="keep of a `pulumi preview --json` document what the comment reads")
    reduced.add_argument("--preview", type=Path, required=True)
    reduced.add_argument("--out", type=Path, required=True)
    rendered = sub.add_parser("render", help="print the comment's markdown")
    rendered.add_argument("--offline", type=Path, required=True)
    rendered.add_argument("--previews", type=Path, default=None)
    posted = sub.add_parser("post", help="create or update the PR's comment")
    posted.add_argument("--body", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "offline":
            document = collect(args.base_project, args.base_plans, args.pr_plans)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"{args.out}: {len(document['pr'])} stacks of the PR, {len(document['base'])} of the base")
        elif args.command == "reduce":
            args.out.parent.mkdir(parents=True, exist_ok=True)
            try:
                document = json.loads(args.preview.read_text(encoding="utf-8") or "null")
            except json.JSONDecodeError:
                document = None  # a preview that failed before printing its digest
            reduced = reduce_preview(document) if isinstance(document, Mapping) else {}
            args.out.write_text(json.dumps(reduced, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        elif args.command == "render":
            sys.stdout.write(render(json.loads(args.offline.read_text(encoding="utf-8")), read_previews(args.previews)))
        else:
            print(post(args.body.read_text(encoding="utf-8"), os.environ))
    except (CommentError, OSError, ValueError) as err:
        prefix = "::error::" if os.environ.get("GITHUB_ACTIONS") == "true" else "error: "
        print(f"{prefix}{err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
