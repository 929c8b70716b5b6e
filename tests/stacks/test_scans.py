"""The rendered Kubernetes manifests of every stack, scanned offline: checkov (one run over all stacks'
manifests, with the repo's skip list `.checkov.yaml`) and yamllint (`.yamllint.yaml`). Zero findings.

The two skipped checkov checks are narrowed here: CPU limits (CKV_K8S_11) may be missing on model
servers only, and both skips must still match something, or they are stale. Repo-level scans and the
skip list's own format are in tests/ci/test_scans.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKOV_CONFIG = ROOT / ".checkov.yaml"
YAMLLINT_CONFIG = ROOT / ".yamllint.yaml"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from support.checkov_env import ensure_checkov, scan  # noqa: E402

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}
MODEL_SERVER = "model-server"


def manifest_files(plans: Path) -> list[Path]:
    return sorted(plans.glob("*/manifests/*.yaml"))


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def containers(obj: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod template metadata, container) for every container anywhere in a manifest (CRDs included)."""
    if isinstance(obj, dict):
        spec = obj.get("spec")
        if isinstance(spec, dict) and ("containers" in spec or "initContainers" in spec):
            for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
                yield obj.get("metadata", {}), container
        for value in obj.values():
            yield from containers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from containers(value)


def skipped_checks() -> list[str]:
    return yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]


@pytest.fixture(scope="module")
def checkov() -> Path:
    return ensure_checkov()


@pytest.fixture(scope="module")
def k8s_scan(checkov: Path, plans: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    """One checkov run over every stack's manifests (the plans directory), as the repo config says."""
    proc, reports = scan(
        checkov,
        "--config-file",
        str(CHECKOV_CONFIG),
        "-d",
        str(plans),
        "--framework",
        "kubernetes",
        out_dir=tmp_path_factory.mktemp("checkov-k8s"),
        cwd=ROOT,
        keep_passed=True,
    )
    [report] = [r for r in reports if r["check_type"] == "kubernetes"] or [None]
    assert report is not None, proc.stderr[-2000:]
    return proc, report


def test_checkov_finds_nothing_in_any_stacks_manifests(k8s_scan) -> None:
    proc, report = k8s_scan
    failed = [
        f"{f['check_id']} {f['file_path'].lstrip('/')} {f['resource']} ({f['check_name']})" for f in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert report["summary"]["parsing_errors"] == 0, report["results"]["parsing_errors"]
    # Nothing is skipped inline in rendered manifests: the skip list is the only one.
    assert report["results"]["skipped_checks"] == []


def test_checkov_checked_every_workload_of_every_stack(k8s_scan, plans: Path) -> None:
    _, report = k8s_scan
    checked = {Path(c["file_abs_path"]).resolve() for c in report["results"]["passed_checks"]}
    workloads = [p.resolve() for p in manifest_files(plans) if load(p)["kind"] in WORKLOAD_KINDS]
    stacks = {p.parent.parent.name for p in workloads}
    assert {"staging", "prod", "gcp-prod", "onprem", "onprem-triton"} <= stacks
    missing = [str(p.relative_to(plans.resolve())) for p in workloads if p not in checked]
    assert not missing, f"checkov did not check: {missing}"
    assert report["summary"]["passed"] >= 20 * len(workloads)


def test_only_model_servers_go_without_a_cpu_limit(plans: Path) -> None:
    """CKV_K8S_11 is skipped repo-wide for the model servers' sake; every other container has a CPU limit,
    and every container has CPU and memory requests and a memory limit (CKV_K8S_10/12/13 are not skipped)."""
    assert "CKV_K8S_11" in skipped_checks()
    seen = 0
    for path in manifest_files(plans):
        for meta, container in containers(load(path)):
            seen += 1
            where = f"{path.parent.parent.name}/{path.name} container {container['name']}"
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), where
            assert "memory" in resources.get("limits", {}), where
            if meta.get("labels", {}).get("app.kubernetes.io/component") != MODEL_SERVER:
                assert "cpu" in resources.get("limits", {}), f"{where}: only model servers may go without a CPU limit"
    assert seen >= 10


def test_every_skipped_check_still_fires_on_the_manifests(checkov: Path, plans: Path, tmp_path: Path) -> None:
    """Run only the skipped checks, without the skip list: each must still find something, else it is stale."""
    skips = [c for c in skipped_checks() if c.startswith(("CKV_K8S_", "CKV2_K8S_"))]
    assert skips
    _, reports = scan(
        checkov,
        "-d",
        str(plans),
        "--framework",
        "kubernetes",
        "--check",
        ",".join(skips),
        out_dir=tmp_path,
        cwd=tmp_path,
    )
    fired = {f["check_id"] for r in reports for f in r["results"]["failed_checks"]}
    assert fired == set(skips), f"stale checkov skips (nothing to skip any more): {sorted(set(skips) - fired)}"


def test_checkov_is_not_vacuous_on_manifests(checkov: Path, tmp_path: Path) -> None:
    bad = tmp_path / "stack" / "manifests" / "deployment-x-x.yaml"
    bad.parent.mkdir(parents=True)
    pod = {"containers": [{"name": "x", "image": "nginx:latest", "securityContext": {"privileged": True}}], "hostNetwork": True}
    bad.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "x", "namespace": "x"},
                "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod}},
            }
        )
    )
    proc, reports = scan(
        checkov,
        "--config-file",
        str(CHECKOV_CONFIG),
        "-d",
        str(tmp_path),
        "--framework",
        "kubernetes",
        out_dir=tmp_path / "out",
        cwd=ROOT,
    )
    failed = {f["check_id"] for r in reports for f in r["results"]["failed_checks"]}
    assert proc.returncode != 0
    # privileged, latest tag, no digest, host network, no probes, no limits, no non-root
    assert {"CKV_K8S_16", "CKV_K8S_14", "CKV_K8S_43", "CKV_K8S_19", "CKV_K8S_8", "CKV_K8S_13", "CKV_K8S_23"} <= failed
    assert not failed & set(skipped_checks())


def test_yamllint_finds_nothing_in_any_stacks_manifests(plans: Path) -> None:
    files = manifest_files(plans)
    assert len(files) >= 50
    yamllint = shutil.which("yamllint", path=str(VENV_BIN)) or shutil.which("yamllint")
    assert yamllint, "yamllint is not installed; run `uv sync --frozen`"
    result = subprocess.run(
        [yamllint, "--strict", "-f", "parsable", "-c", str(YAMLLINT_CONFIG), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout[-5000:] + result.stderr
