"""What the per-machine installs under ~/.cache/pulumi-llm share (vllm_env, litellm_env, checkov_env, onnx_env,
llamacpp_build, router_env): one root that ``$PULUMI_LLM_CACHE_DIR`` moves, a location per install that its own
variable still overrides, a JSON marker whose ``spec`` must equal the installer's current one, a file lock so
concurrent callers install once, logged subprocess runs that raise the installer's own error class, progress
lines with the elapsed time on the terminal (also while pytest captures output: tests/conftest.py hands a
writer to ``set_terminal``), and the ``python <installer>.py`` entry point.

Only the standard library is used here, so the project's venv can import this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_CACHE_DIR = "PULUMI_LLM_CACHE_DIR"
"""Moves every install at once; each install's own variable (``CachedEnv.env_var``) still wins for that one."""


def decide_cache_root(environ: Mapping[str, str], home: Path) -> Path:
    """Where the installs live: ``$PULUMI_LLM_CACHE_DIR``, else ``<home>/.cache/pulumi-llm``."""
    override = environ.get(ENV_CACHE_DIR)
    return Path(override).expanduser().resolve() if override else home / ".cache" / "pulumi-llm"


CACHE_ROOT = decide_cache_root(os.environ, Path.home())
MARKER_NAME = ".pulumi-llm-installed.json"
_RUN_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}


PROGRESS_WIDTH = 110
"""Characters of a message a progress line keeps."""
_terminal: Callable[[str], None] | None = None
"""Writes one line where a person sees it while stderr is captured (set by tests/conftest.py under pytest)."""
_started: dict[str, float] = {}
"""Monotonic start of each install (by tag) running in this process: its log lines are progress."""


def set_terminal(writer: Callable[[str], None] | None) -> None:
    """Send progress lines to ``writer`` as well as stderr (None: stderr only, as when run as a script)."""
    global _terminal
    _terminal = writer


def progress_line(tag: str, elapsed_seconds: float, msg: str) -> str:
    """``[pulumi-llm vllm-env +2:05] step 2/4: …``: the install, how long it has run, what it does now."""
    whole = int(elapsed_seconds)
    # One terminal line: a command (pip's argv lists every requirement) is cut; stderr's log keeps it whole.
    text = msg if len(msg) <= PROGRESS_WIDTH else msg[: PROGRESS_WIDTH - 1] + "…"
    return f"[pulumi-llm {tag} +{whole // 60}:{whole % 60:02d}] {text}"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def python_version(py: Path) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None if it does not run."""
    try:
        out = subprocess.run(
            [str(py), "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class CachedEnv:
    """One cached install: ``tag`` prefixes its log lines, ``error`` is what its failures raise, ``env_var``
    overrides ``default`` (its directory), ``spec`` is what its marker must record, and ``ready`` says
    whether the files a finished install leaves are there (default: the venv's python)."""

    tag: str
    error: type[Exception]
    env_var: str
    default: Path
    spec: Callable[[], object]
    ready: Callable[[Path], bool] = field(default=lambda root: venv_python(root).exists())
    marker_name: str = MARKER_NAME
    doing: str = "installing"

    def log(self, msg: str) -> None:
        print(f"[{self.tag}] {msg}", file=sys.stderr, flush=True)
        started = _started.get(self.tag)
        if started is not None and _terminal is not None:
            _terminal(progress_line(self.tag, time.monotonic() - started, msg))

    def location(self) -> Path:
        override = os.environ.get(self.env_var)
        return Path(override).expanduser().resolve() if override else self.default

    def marker_ok(self, root: Path) -> bool:
        marker = root / self.marker_name
        if not marker.is_file() or not self.ready(root):
            return False
        try:
            return json.loads(marker.read_text()).get("spec") == self.spec()
        except (OSError, ValueError):
            return False

    def write_marker(self, root: Path, **info: object) -> None:
        (root / self.marker_name).write_text(json.dumps({"spec": self.spec(), **info}, indent=2))

    def run(self, cmd: list[str], *, capture: bool = False, timeout: float = 3600, env: dict[str, str] | None = None) -> str:
        """Run ``cmd`` (output to stderr, or returned with ``capture``); a non-zero exit raises ``error``."""
        self.log("$ " + " ".join(cmd))
        # pip's own progress goes to our stderr: stdout is kept for what the installer prints (a path).
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE if capture else sys.stderr,
            stderr=sys.stderr,
            text=True,
            timeout=timeout,
            env={**os.environ, **_RUN_ENV, **(env or {})},
            check=False,
        )
        if proc.returncode != 0:
            raise self.error(f"command failed with exit code {proc.returncode}: {' '.join(cmd)}")
        return proc.stdout if capture else ""

    @contextlib.contextmanager
    def lock(self, path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.log(f"another process is {self.doing}; waiting for lock {path}")
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def base_python(self, version: tuple[int, int], *, override_var: str, why: str) -> str:
        """A CPython ``version`` to create the venv from: $override_var, this interpreter, or one on PATH."""
        override = os.environ.get(override_var)
        if override:
            return override
        if sys.version_info[:2] == version:
            return sys.executable
        name = f"python{version[0]}.{version[1]}"
        found = shutil.which(name)
        if found:
            return found
        raise self.error(f"need CPython {name} {why}; none found (set {override_var})")

    def ensure(self, install: Callable[[Path], object]) -> Path:
        """The install's directory, running ``install`` into it first unless its marker is current.

        A file read when it is; concurrent callers are serialised by a lock file beside the directory and
        the marker is checked again once the lock is held (another process may have finished meanwhile).
        """
        root = self.location()
        if self.marker_ok(root):
            return root
        _started[self.tag] = time.monotonic()
        try:
            with self.lock(root.parent / f"{root.name}.lock"):
                if not self.marker_ok(root):
                    self.log(f"{self.doing} into {root}, once per machine (README: 'The first test run')")
                    (root / self.marker_name).unlink(missing_ok=True)
                    install(root)
                    self.log(f"ready after {time.monotonic() - _started[self.tag]:.0f} s")
        finally:
            del _started[self.tag]
        return root

    def main(self, ensure: Callable[[], Path], *, also: tuple[type[BaseException], ...] = ()) -> int:
        """``python <installer>.py``: install if needed, print the path ``ensure`` returns; 1 on failure."""
        try:
            path = ensure()
        except (self.error, *also) as exc:
            self.log(f"FAILED: {exc}")
            return 1
        print(path)
        return 0
