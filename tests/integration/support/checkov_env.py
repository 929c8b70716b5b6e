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

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

CHECKOV_VERSION = "3.3.30"
ENV_VENV = "PULUMI_LLM_CHECKOV_VENV"
DEFAULT_VENV = Path.home() / ".cache" / "pulumi-llm" / f"checkov-{CHECKOV_VERSION}"
MARKER_NAME = ".pulumi-llm-installed.json"

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


def _log(msg: str) -> None:
    print(f"[checkov-env] {msg}", file=sys.stderr, flush=True)


def venv_dir() -> Path:
    override = os.environ.get(ENV_VENV)
    return Path(override).expanduser().resolve() if override else DEFAULT_VENV


def _spec() -> dict[str, str]:
    return {"checkov": CHECKOV_VERSION, "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}


def _marker_ok(venv: Path) -> bool:
    marker = venv / MARKER_NAME
    if not marker.is_file() or not (venv / "bin" / "checkov").exists():
        return False
    try:
        return json.loads(marker.read_text()).get("spec") == _spec()
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log(f"another process is installing; waiting for lock {path}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], *, timeout: float = 1800) -> str:
    _log("$ " + " ".join(cmd))
    proc = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
        timeout=timeout,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"},
        check=False,
    )
    if proc.returncode != 0:
        raise CheckovEnvError(f"command failed with exit code {proc.returncode}: {' '.join(cmd)}")
    return proc.stdout


def _install(venv: Path) -> str:
    started = time.monotonic()
    _log(f"creating venv at {venv}")
    _run([sys.executable, "-m", "venv", "--clear", str(venv)])
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "--progress-bar", "off", "--quiet", f"checkov=={CHECKOV_VERSION}"])
    version = _run([str(venv / "bin" / "checkov"), "--version"], timeout=300).strip().splitlines()[-1]
    if version != CHECKOV_VERSION:
        raise CheckovEnvError(f"installed checkov reports {version!r}, expected {CHECKOV_VERSION}")
    elapsed = time.monotonic() - started
    (venv / MARKER_NAME).write_text(
        json.dumps({"spec": _spec(), "version": version, "install_seconds": round(elapsed, 1)}, indent=2)
    )
    _log(f"installed checkov {version} in {elapsed:.0f} s")
    return version


def ensure_checkov() -> Path:
    """The checkov executable of the dedicated venv, installed first if needed (a file read when present)."""
    venv = venv_dir()
    if _marker_ok(venv):
        return venv / "bin" / "checkov"
    with _file_lock(venv.parent / f"{venv.name}.lock"):
        if not _marker_ok(venv):
            (venv / MARKER_NAME).unlink(missing_ok=True)
            _install(venv)
    return venv / "bin" / "checkov"


def checkov_command(checkov: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment for an offline checkov run."""
    return [str(checkov), "--skip-download", "--quiet", "--compact", *args], {**os.environ, **OFFLINE_ENV}


def scan(checkov: Path, *args: str, out_dir: Path, cwd: Path, keep_passed: bool = False,
         timeout: float = 900) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
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


def main() -> int:
    try:
        path = ensure_checkov()
    except CheckovEnvError as exc:
        _log(f"FAILED: {exc}")
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
