"""A dedicated virtual environment holding checkov, for the lint tests (Dockerfiles, and more later).

checkov pins dozens of libraries (boto3, packaging, pydantic-era tooling…) that would fight the project's
lock, so it lives in its own venv, installed once per machine and reused:

    python tests/integration/support/checkov_env.py      # installs if needed, prints the checkov path

The install is idempotent: a marker file records what was installed; a changed version or a half-finished
install triggers a fresh one. Concurrent callers are serialised with a file lock beside the venv.
checkov runs offline with ``--skip-download`` and ``BC_SKIP_MAPPING=TRUE`` (see ``checkov_command``):
no Prisma Cloud API, no guideline download, no version check.

Only the standard library is used here, so the project's venv can import this module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

try:  # as a package (tests) or as a script run from this directory
    from .cached_env import CACHE_ROOT, CachedEnv
except ImportError:
    from cached_env import CACHE_ROOT, CachedEnv  # type: ignore[no-redef]

CHECKOV_VERSION = "3.3.30"
ENV_VENV = "PULUMI_LLM_CHECKOV_VENV"
DEFAULT_VENV = CACHE_ROOT / f"checkov-{CHECKOV_VERSION}"

# Offline: no platform calls, no mapping download, no "new version" check, no colour codes in output.
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    "SKIP_CHECKOV_VERSION_CHECK": "1",
    "CHECKOV_NO_UPDATE_CHECK": "1",
    "ANSI_COLORS_DISABLED": "1",
    "LOG_LEVEL": "WARNING",
}


class CheckovEnvError(RuntimeError):
    """checkov could not be installed or does not run."""


def _spec() -> dict[str, str]:
    return {"checkov": CHECKOV_VERSION, "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}


def _checkov(venv: Path) -> Path:
    return venv / "bin" / "checkov"


_ENV = CachedEnv("checkov-env", CheckovEnvError, ENV_VENV, DEFAULT_VENV, _spec, ready=lambda venv: _checkov(venv).exists())
MARKER_NAME = _ENV.marker_name


def venv_dir() -> Path:
    """Where the venv lives: $PULUMI_LLM_CHECKOV_VENV or ~/.cache/pulumi-llm/checkov-<version>."""
    return _ENV.location()


def _run(cmd: list[str], *, timeout: float = 1800) -> str:
    """Output captured (pip's and checkov's alike), so nothing but the checkov path reaches stdout."""
    return _ENV.run(cmd, capture=True, timeout=timeout)


def _install(venv: Path) -> str:
    started = time.monotonic()
    _ENV.log(f"creating venv at {venv}")
    _run([sys.executable, "-m", "venv", "--clear", str(venv)])
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "--progress-bar", "off", "--quiet", f"checkov=={CHECKOV_VERSION}"])
    version = _run([str(_checkov(venv)), "--version"], timeout=300).strip().splitlines()[-1]
    if version != CHECKOV_VERSION:
        raise CheckovEnvError(f"installed checkov reports {version!r}, expected {CHECKOV_VERSION}")
    elapsed = time.monotonic() - started
    _ENV.write_marker(venv, version=version, install_seconds=round(elapsed, 1))
    _ENV.log(f"installed checkov {version} in {elapsed:.0f} s")
    return version


def ensure_checkov() -> Path:
    """The checkov executable of the dedicated venv, installed first if needed (a file read when present)."""
    return _checkov(_ENV.ensure(_install))


def checkov_command(checkov: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment for an offline checkov run."""
    return [str(checkov), "--skip-download", "--quiet", "--compact", *args], {**os.environ, **OFFLINE_ENV}


def scan(
    checkov: Path, *args: str, out_dir: Path, cwd: Path, keep_passed: bool = False, timeout: float = 900
) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    """One offline checkov run with JSON results: (the process, one report per framework).

    ``args`` are checkov's own (targets, ``--framework``, ``--config-file``…). The JSON goes to a file in
    ``out_dir``: on stdout checkov prints one document per target root, which is not one JSON value.
    ``keep_passed`` lists the passed checks too (``--quiet`` leaves only the failed ones).
    """
    argv, env = checkov_command(checkov, *args, "--output", "json", "--output-file-path", str(out_dir))
    if keep_passed:
        argv.remove("--quiet")
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False)
    result = out_dir / "results_json.json"
    if not result.is_file():
        raise CheckovEnvError(f"checkov wrote no {result} (exit {proc.returncode}): {proc.stderr[-2000:]}")
    reports = json.loads(result.read_text())
    return proc, reports if isinstance(reports, list) else [reports]


def clean_kubernetes_scan(directory: Path, *, config: Path, out_dir: Path, cwd: Path) -> set[str]:
    """Scans the Kubernetes manifests under `directory` with checkov's `config` (the repo's ``.checkov.yaml``),
    asserts that nothing failed and every file parsed, and returns the names of the files with a passed check
    (a caller asserts its manifests are among them: a file checkov skipped was not scanned)."""
    _, reports = scan(
        ensure_checkov(),
        "--config-file",
        str(config),
        "-d",
        str(directory),
        "--framework",
        "kubernetes",
        out_dir=out_dir,
        cwd=cwd,
        keep_passed=True,
    )
    [report] = [r for r in reports if r["check_type"] == "kubernetes"]
    failed = [f"{f['check_id']} {f['file_path']} {f['resource']}" for f in report["results"]["failed_checks"]]
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    return {Path(c["file_abs_path"]).name for c in report["results"]["passed_checks"]}


def main() -> int:
    return _ENV.main(ensure_checkov)


if __name__ == "__main__":
    sys.exit(main())
