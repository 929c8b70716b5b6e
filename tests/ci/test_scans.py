"""Security and lint scans of the repository itself, all offline: checkov (images/, .github/), yamllint
(stacks/, .github/, the scan configs), bandit (components/), and hadolint's coverage of images/.

Each gate is zero findings; what is accepted is in one place with a reason per line: `.checkov.yaml`
(checkov's skip list; single findings inline as `# checkov:skip=ID: reason`), `.yamllint.yaml` (a comment
above each relaxed rule), `bandit.yaml` (a comment above each skipped test). A skip that no longer matches
anything is stale and fails too. The rendered Kubernetes manifests are scanned in tests/stacks/test_scans.py.

hadolint runs per Dockerfile in tests/ci/test_dockerfiles.py; this module only checks that every
Dockerfile under images/ is one it lints. checkov comes from its own venv (support/checkov_env.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_dockerfiles import dockerfiles

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
GITHUB = ROOT / ".github"
CHECKOV_CONFIG = ROOT / ".checkov.yaml"
YAMLLINT_CONFIG = ROOT / ".yamllint.yaml"
BANDIT_CONFIG = ROOT / "bandit.yaml"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from support.checkov_env import checkov_command, ensure_checkov, scan  # noqa: E402

FRAMEWORKS = ("kubernetes", "dockerfile", "github_actions")
CHECK_ID = re.compile(r"CKV2?_[A-Z0-9]+_\d+")
# `  - CKV_K8S_11  # why` — the id, then a one-line reason of some substance.
SKIP_LINE = re.compile(r"^\s+-\s+(CKV2?_[A-Z0-9]+_\d+)\s+#\s+(\S.{29,})$")
MAX_CHECKOV_SKIPS = 5


def tool(name: str) -> str:
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    assert found, f"{name} is not installed in {VENV_BIN}; run `uv sync --frozen`"
    return found


def findings(reports: list[dict[str, Any]]) -> list[str]:
    return [
        f"{f['check_id']} {f.get('repo_file_path') or f['file_path']} {f['resource']} ({f['check_name']})"
        for r in reports
        for f in r["results"]["failed_checks"]
    ]


def checked_files(report: dict[str, Any]) -> set[Path]:
    results = report["results"]
    return {Path(c["file_abs_path"]).resolve() for kind in ("passed_checks", "failed_checks", "skipped_checks") for c in results[kind]}


def checkov_config() -> dict[str, Any]:
    return yaml.safe_load(CHECKOV_CONFIG.read_text())


def inline_checkov_skips() -> dict[tuple[Path, str], str]:
    """{(file, check id): reason} of every `checkov:skip=` under images/ and .github/."""
    out: dict[tuple[Path, str], str] = {}
    for base in (IMAGES, GITHUB):
        for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            for line in path.read_text(errors="replace").splitlines():
                if "checkov:skip=" in line:
                    check, _, reason = line.partition("checkov:skip=")[2].partition(":")
                    out[(path, check.strip())] = reason.strip()
    return out


# ---------------------------------------------------------------- checkov: images/ and .github/


@pytest.fixture(scope="module")
def checkov() -> Path:
    return ensure_checkov()


@pytest.fixture(scope="module")
def repo_scan(checkov: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path_factory.mktemp("checkov-repo")
    proc, reports = scan(
        checkov,
        "--config-file",
        str(CHECKOV_CONFIG),
        "-d",
        "images",
        "-d",
        ".github",
        "--framework",
        "dockerfile",
        "github_actions",
        out_dir=out,
        cwd=ROOT,
        keep_passed=True,
    )
    return proc, {r["check_type"]: r for r in reports}


def test_checkov_finds_nothing_in_images_and_workflows(repo_scan) -> None:
    proc, reports = repo_scan
    assert set(reports) == {"dockerfile", "github_actions"}, proc.stderr[-2000:]
    assert not findings(list(reports.values())), "checkov findings:\n" + "\n".join(findings(list(reports.values())))
    assert proc.returncode == 0, proc.stderr[-2000:]
    for report in reports.values():
        assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")


def test_checkov_checked_every_dockerfile_and_workflow(repo_scan) -> None:
    _, reports = repo_scan
    docker = {p.resolve() for p in IMAGES.rglob("*") if p.is_file() and "dockerfile" in p.name.lower()}
    workflows = {p.resolve() for p in (GITHUB / "workflows").glob("*.y*ml")}
    assert docker and workflows
    assert docker <= checked_files(reports["dockerfile"])
    assert workflows <= checked_files(reports["github_actions"])
    assert reports["dockerfile"]["summary"]["passed"] >= 50 and reports["github_actions"]["summary"]["passed"] >= 50


def test_checkov_skips_only_what_is_justified_inline(repo_scan) -> None:
    _, reports = repo_scan
    inline = inline_checkov_skips()
    for report in reports.values():
        for skipped in report["results"]["skipped_checks"]:
            key = (Path(skipped["file_abs_path"]).resolve(), skipped["check_id"])
            assert key in inline, f"{skipped['check_id']} skipped in {skipped['file_path']} without an inline reason"


def test_checkov_is_not_vacuous(checkov: Path, tmp_path: Path) -> None:
    (tmp_path / "images" / "bad").mkdir(parents=True)
    (tmp_path / "images" / "bad" / "Dockerfile").write_text(
        'FROM ubuntu\nRUN apt-get update && apt-get install -y curl\nEXPOSE 22\nCMD ["curl"]\n'
    )
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on:\n  workflow_dispatch:\n    inputs:\n      x:\n        type: string\n"
        "permissions: write-all\n"
        "jobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.issue.title }}\n"
    )
    out = tmp_path / "out"
    proc, reports = scan(
        checkov,
        "--config-file",
        str(CHECKOV_CONFIG),
        "-d",
        "images",
        "-d",
        ".github",
        "--framework",
        "dockerfile",
        "github_actions",
        out_dir=out,
        cwd=tmp_path,
    )
    failed = {line.split()[0] for line in findings(reports)}
    assert proc.returncode != 0
    assert {"CKV_DOCKER_1", "CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7"} <= failed, failed
    assert {"CKV2_GHA_1", "CKV_GHA_7"} <= failed, failed


# ---------------------------------------------------------------- checkov: the skip list


def test_checkov_config_is_the_offline_scan_of_three_frameworks() -> None:
    config = checkov_config()
    assert set(config) == {"framework", "skip-download", "skip-check"}
    assert tuple(config["framework"]) == FRAMEWORKS and config["skip-download"] is True


def test_every_checkov_skip_has_a_one_line_reason_and_the_list_is_short() -> None:
    skips = checkov_config()["skip-check"]
    assert 0 < len(skips) <= MAX_CHECKOV_SKIPS and len(set(skips)) == len(skips), skips
    lines = [line for line in CHECKOV_CONFIG.read_text().splitlines() if re.match(r"^\s+-\s+CKV", line)]
    justified = {m[1]: m[2] for m in map(SKIP_LINE.match, lines) if m}
    assert list(justified) == skips, f"each skip needs `  - ID  # reason` on one line: {lines}"


def test_every_skipped_check_is_a_documented_checkov_check(checkov: Path) -> None:
    """The ids are real checks of the scanned frameworks (`checkov --list`), not typos that skip nothing."""
    argv, env = checkov_command(checkov, "--list", "--framework", *FRAMEWORKS)
    listed = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert listed.returncode == 0, listed.stderr[-2000:]
    rows = {
        cells[2]: cells[5]
        for line in listed.stdout.splitlines()
        if len(cells := [c.strip() for c in line.split("|")]) > 6 and CHECK_ID.fullmatch(cells[2])
    }
    assert len(rows) > 100, listed.stdout[:2000]
    for check in checkov_config()["skip-check"]:
        assert check in rows, f"{check} is not a checkov {'/'.join(FRAMEWORKS)} check"
    for (path, check), reason in inline_checkov_skips().items():
        assert check in rows, f"{path}: checkov:skip={check} is not a checkov check"
        assert len(reason) > 20, f"{path}: checkov:skip={check} needs a reason"


# ---------------------------------------------------------------- hadolint


def test_hadolint_lints_every_dockerfile_under_images() -> None:
    """tests/ci/test_dockerfiles.py runs hadolint (zero findings) on each file its dockerfiles() lists."""
    found = sorted(p for p in IMAGES.rglob("*") if p.is_file() and "dockerfile" in p.name.lower())
    assert found, "no Dockerfile under images/"
    assert sorted(dockerfiles()) == found, "extend dockerfiles() in tests/ci/test_dockerfiles.py to cover them all"


# ---------------------------------------------------------------- yamllint


def repo_yaml() -> list[Path]:
    files = [
        *sorted((ROOT / "stacks").glob("*.yaml")),
        *sorted(p for p in GITHUB.rglob("*") if p.suffix in {".yml", ".yaml"}),
        ROOT / "Pulumi.yaml",
        YAMLLINT_CONFIG,
        CHECKOV_CONFIG,
        BANDIT_CONFIG,
    ]
    return files


def yamllint(*paths: Path | str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("yamllint"), "--strict", "-f", "parsable", "-c", str(YAMLLINT_CONFIG), *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_yamllint_finds_nothing_in_the_repo_yaml() -> None:
    files = repo_yaml()
    assert len([f for f in files if f.parent.name == "stacks"]) >= 5 and (GITHUB / "workflows" / "preview.yml") in files
    result = yamllint(*files)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_yamllint_is_not_vacuous(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("")
    bad = tmp_path / "bad.yaml"
    long_value = "word " * 30
    bad.write_text(f"on: push\nenabled: yes\nkey:  1\nlist: [1,2 ]\nlong: {long_value.strip()}\nkey: 2\n")
    result = yamllint(bad, cwd=tmp_path)
    assert result.returncode == 1
    rules = set(re.findall(r"\((\S+)\)$", result.stdout, re.M))
    assert {"truthy", "colons", "commas", "brackets", "line-length", "key-duplicates"} <= rules, result.stdout
    # The `on` key itself is allowed (GitHub's trigger), its boolean-looking values are not.
    assert not re.search(r"bad\.yaml:1:\d+: .*truthy", result.stdout), result.stdout


def test_every_yamllint_relaxation_says_why() -> None:
    lines = YAMLLINT_CONFIG.read_text().splitlines()
    config = yaml.safe_load(YAMLLINT_CONFIG.read_text())
    assert config["extends"] == "default"
    relaxed = [n for n, line in enumerate(lines) if re.match(r"^  [a-z-]+:", line)]
    assert {lines[n].split(":")[0].strip() for n in relaxed} == set(config["rules"])
    for n in relaxed:
        assert lines[n - 1].strip().startswith("#"), f".yamllint.yaml:{n + 1}: `{lines[n].strip()}` needs a comment saying why"


# ---------------------------------------------------------------- bandit


def bandit(target: Path, *extra: str, config: Path | None = BANDIT_CONFIG) -> dict[str, Any]:
    argv = [tool("bandit"), "-r", str(target), "--severity-level", "medium", "-f", "json", "-q", *extra]
    if config is not None:
        argv[1:1] = ["-c", str(config)]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=600)
    report = json.loads(result.stdout)
    report["returncode"] = result.returncode
    return report


def bandit_skips() -> list[str]:
    return yaml.safe_load(BANDIT_CONFIG.read_text())["skips"]


def test_bandit_finds_nothing_medium_or_worse_in_components() -> None:
    report = bandit(ROOT / "components")
    issues = [
        f"{r['test_id']} {r['issue_severity']} {Path(r['filename']).relative_to(ROOT)}:{r['line_number']} {r['issue_text']}"
        for r in report["results"]
    ]
    assert not issues, "bandit findings:\n" + "\n".join(issues)
    assert report["errors"] == [] and report["returncode"] == 0
    assert report["metrics"]["_totals"]["loc"] > 5000


def test_bandit_is_not_vacuous(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "bad.py").write_text(
        "import subprocess\nimport yaml\n\n\ndef f(cmd, text):\n    subprocess.call(cmd, shell=True)\n    return yaml.load(text)\n"
    )
    report = bandit(pkg)
    assert report["returncode"] == 1
    assert {r["test_id"] for r in report["results"]} >= {"B602", "B506"}, report["results"]


# bandit's plugin loader passes an argument stevedore has deprecated.
@pytest.mark.filterwarnings("ignore:The verify_requirements argument:DeprecationWarning")
def test_every_bandit_skip_is_a_real_test_with_a_reason() -> None:
    from bandit.core import extension_loader

    lines = BANDIT_CONFIG.read_text().splitlines()
    skips = bandit_skips()
    assert 0 < len(skips) <= 5 and len(set(skips)) == len(skips)
    for test_id in skips:
        assert extension_loader.MANAGER.check_id(test_id), f"{test_id} is not a bandit test"
        n = lines.index(f"  - {test_id}")
        block: list[str] = []
        while lines[n - 1].strip().startswith("#"):
            n -= 1
            block.insert(0, lines[n].strip())
        assert block and block[0].startswith(f"# {test_id} (") and len(" ".join(block)) > 80, (
            f"bandit.yaml: {test_id} needs a `# {test_id} (name): reason` comment right above"
        )


def test_every_bandit_skip_still_matches_something() -> None:
    """A skip whose test no longer fires in components/ is stale: remove it."""
    report = bandit(ROOT / "components", "-t", ",".join(bandit_skips()), config=None)
    fired = {r["test_id"] for r in report["results"]}
    assert fired == set(bandit_skips()), f"stale bandit skips: {sorted(set(bandit_skips()) - fired)}"
