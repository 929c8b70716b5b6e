"""A dedicated virtual environment holding the LiteLLM proxy (the gateway engine), for integration tests.

The proxy's dependency tree (fastapi, uvicorn, boto3, azure, polars, …) has no place in the project's
lock, so it lives in its own venv, installed once per machine and reused:

    python tests/integration/support/litellm_env.py      # installs if needed, prints the venv's python

Version: ``litellm[proxy]==1.103.1``, the release whose container image is pinned by digest in
``pulumi_llm.pins.LITELLM`` (ghcr.io/berriai/litellm:v1.103.1), so the tests exercise the engine the
stacks deploy. Never 1.82.7 or 1.82.8: those PyPI releases carried a credential stealer (litellm#24518);
``_check_version`` refuses them whatever the constant says. A unit test holds the version out of every
affected range in ``pulumi_llm.verify.facts.advisories`` (1.103.0 is in GHSA-7hp6-4w63-5g45's).

Supply chain, in order:

1. the litellm wheel is downloaded alone (``pip download --no-deps``) and its sha256 must equal the one
   recorded in the header of ``litellm_constraints.txt`` (``# litellm-wheel-sha256: …``); a different
   file — a re-upload, a mirror that serves something else — stops the install before anything runs;
2. that very file is installed with the ``proxy`` extra plus ``prisma`` (the official image ships it, and
   without it the proxy answers 500 instead of 401 to a request without a key: its auth error handler
   imports prisma), every other distribution held at the exact versions frozen in
   ``litellm_constraints.txt`` from a working install;
3. the installed litellm may not carry a ``.pth`` file (how 1.82.8 ran its payload at interpreter start);
4. an import check of the proxy server module; only then is the marker file written.

Venv location: ``$PULUMI_LLM_LITELLM_VENV`` or ``~/.cache/pulumi-llm/litellm-1.103.1``. Concurrent callers
are serialised by a file lock beside the venv; a finished install is recognised by its marker (which
records the constraints, so editing them forces a reinstall). Only the standard library is used, so the
project's venv can import this module.

``LitellmProxy`` runs the proxy from that venv as a context manager (like ``vllm_server.VllmServer``):

    with LitellmProxy(python, config_path, env={"LITELLM_MASTER_KEY": key}) as proxy:
        urllib.request.urlopen(proxy.url + "/health/liveliness")
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

try:  # as a package (tests, bench) or as a script run from this directory
    from . import cached_env
    from .vllm_server import _die_with_parent, _group_alive, free_port
except ImportError:
    import cached_env  # type: ignore[no-redef]
    from vllm_server import _die_with_parent, _group_alive, free_port  # type: ignore[no-redef]

LITELLM_VERSION = "1.103.1"
COMPROMISED = frozenset({"1.82.7", "1.82.8"})
EXTRAS = ("proxy",)
# The official image installs prisma; the proxy's auth error path imports it (see module docstring).
EXTRA_REQUIREMENTS = ("prisma",)
# Wheels in the constraints (uvloop, pydantic-core, orjson, …) are built per CPython minor.
PYTHON_VERSION = (3, 11)

ENV_VENV = "PULUMI_LLM_LITELLM_VENV"
ENV_BASE_PYTHON = "PULUMI_LLM_LITELLM_BASE_PYTHON"
DEFAULT_VENV = cached_env.CACHE_ROOT / f"litellm-{LITELLM_VERSION}"
CONSTRAINTS_FILE = Path(__file__).with_name("litellm_constraints.txt")
_HASH_LINE = re.compile(r"^#\s*litellm-wheel-sha256:\s*([0-9a-f]{64})\s*$", re.M)
_WHEEL_LINE = re.compile(r"^#\s*litellm-wheel:\s*(\S+)\s*$", re.M)

_CHECK_SCRIPT = r"""
import json, importlib.metadata as md
import litellm, prisma, prisma.errors
import litellm.proxy.proxy_server
dist = md.distribution("litellm")
pth = [str(f) for f in (dist.files or []) if str(f).endswith(".pth")]
print(json.dumps({
    "litellm": md.version("litellm"),
    "prisma": md.version("prisma"),
    "fastapi": md.version("fastapi"),
    "uvicorn": md.version("uvicorn"),
    "pth_files": pth,
}))
"""


class LitellmEnvError(RuntimeError):
    """The LiteLLM environment could not be installed, failed a supply-chain check, or does not work."""


def _check_version(version: str) -> None:
    if version in COMPROMISED:
        raise LitellmEnvError(f"litellm {version} is a known-malicious release (litellm#24518); refusing it")


def litellm_executable(python: Path) -> Path:
    """The proxy's console script beside a venv python (``python -m litellm`` is not runnable)."""
    return Path(python).parent / "litellm"


def expected_wheel() -> tuple[str, str]:
    """(file name, sha256) of the litellm wheel, as recorded in the constraints header."""
    text = CONSTRAINTS_FILE.read_text()
    digest, name = _HASH_LINE.search(text), _WHEEL_LINE.search(text)
    if digest is None or name is None:
        raise LitellmEnvError(f"{CONSTRAINTS_FILE.name}: header lacks '# litellm-wheel:' / '# litellm-wheel-sha256:'")
    return name.group(1), digest.group(1)


def _constraint_lines() -> list[str]:
    """Pinned requirements from the constraints file, minus litellm itself (installed from the wheel)."""
    lines = []
    for raw in CONSTRAINTS_FILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if re.split(r"[=<>!~ ;\[]", line, maxsplit=1)[0].lower() == "litellm":
            continue
        lines.append(line)
    return lines


def _spec() -> dict[str, object]:
    """What the marker records; a change here forces a reinstall."""
    return {
        "litellm": f"litellm[{','.join(EXTRAS)}]=={LITELLM_VERSION}",
        "extra": list(EXTRA_REQUIREMENTS),
        "constraints": CONSTRAINTS_FILE.read_text() if CONSTRAINTS_FILE.exists() else "",
    }


sha256_file = cached_env.sha256_file
_ENV = cached_env.CachedEnv("litellm-env", LitellmEnvError, ENV_VENV, DEFAULT_VENV, _spec)
MARKER_NAME = _ENV.marker_name
_log = _ENV.log


def venv_dir() -> Path:
    """Where the venv lives: $PULUMI_LLM_LITELLM_VENV or ~/.cache/pulumi-llm/litellm-1.103.1."""
    return _ENV.location()


def venv_python(venv: Path | None = None) -> Path:
    return cached_env.venv_python(venv or venv_dir())


def _run(cmd: list[str], *, capture: bool = False, timeout: float = 1800, env: dict[str, str] | None = None) -> str:
    return _ENV.run(cmd, capture=capture, timeout=timeout, env=env)


def _base_python() -> str:
    return _ENV.base_python(PYTHON_VERSION, override_var=ENV_BASE_PYTHON, why="(the constraints are frozen for it)")


def _install(venv: Path) -> dict[str, object]:
    _check_version(LITELLM_VERSION)
    started = time.monotonic()
    py = venv_python(venv)
    if py.exists() and cached_env.python_version(py) == PYTHON_VERSION:
        _log(f"reusing partial venv at {venv}")
    else:
        base = _base_python()
        _log(f"creating venv at {venv} from {base}")
        _run([base, "-m", "venv", "--clear", str(venv)])

    wheel_name, wheel_sha = expected_wheel()
    wheels = venv / "pulumi-llm-wheels"
    wheels.mkdir(exist_ok=True)
    wheel = wheels / wheel_name
    _log(f"step 1/4: download {wheel_name} and check its sha256")
    if not wheel.is_file() or sha256_file(wheel) != wheel_sha:
        wheel.unlink(missing_ok=True)
        _run(
            [
                str(py),
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--progress-bar",
                "off",
                "-d",
                str(wheels),
                f"litellm=={LITELLM_VERSION}",
            ]
        )
    if not wheel.is_file():
        got = sorted(p.name for p in wheels.glob("litellm-*"))
        raise LitellmEnvError(f"pip downloaded {got}, not the recorded {wheel_name}")
    actual = sha256_file(wheel)
    if actual != wheel_sha:
        wheel.unlink(missing_ok=True)
        raise LitellmEnvError(f"{wheel_name}: sha256 {actual} differs from the recorded {wheel_sha}; refusing to install")

    _log(f"step 2/4: {wheel_name}[{','.join(EXTRAS)}] + {', '.join(EXTRA_REQUIREMENTS)} under the frozen constraints")
    constraints = venv / "pulumi-llm-constraints.txt"
    constraints.write_text("\n".join(_constraint_lines()) + "\n")
    _run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "--progress-bar",
            "off",
            "-c",
            str(constraints),
            f"{wheel}[{','.join(EXTRAS)}]",
            *EXTRA_REQUIREMENTS,
        ]
    )

    _log("step 3/4 + 4/4: no .pth in litellm, import check")
    # Importing litellm fetches its cost map from GitHub unless told to use the bundled one.
    versions = json.loads(
        _run([str(py), "-c", _CHECK_SCRIPT], capture=True, env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"}).strip().splitlines()[-1]
    )
    if versions.pop("pth_files"):
        raise LitellmEnvError("the installed litellm ships a .pth file (code run at every interpreter start); refusing it")
    if versions["litellm"] != LITELLM_VERSION:
        raise LitellmEnvError(f"unexpected versions after install: {versions}")
    _check_version(str(versions["litellm"]))
    if not litellm_executable(py).exists():
        raise LitellmEnvError(f"no litellm console script beside {py}")
    elapsed = time.monotonic() - started
    _ENV.write_marker(venv, versions=versions, wheel_sha256=actual, install_seconds=round(elapsed, 1))
    _log(f"installed {versions} in {elapsed:.0f} s")
    return versions


def ensure_litellm_env() -> Path:
    """Return the python of a venv with the LiteLLM proxy installed, installing it first if needed.

    Fast (a file read) when the marker of a finished install is present. Raises LitellmEnvError if the
    install or a supply-chain check fails.
    """
    _check_version(LITELLM_VERSION)
    return venv_python(_ENV.ensure(_install))


class LitellmProxyError(RuntimeError):
    """The proxy did not come up, or died."""


class LitellmProxy:
    """``litellm --config CONFIG --host 127.0.0.1 --port PORT`` from the venv; use as a context manager.

    ``env`` is laid over the current environment (a value of None unsets a variable); loopback is
    excluded from any HTTP proxy. The proxy runs in its own process group and dies with the test
    process; its output goes to ``log_path``. Ready when /health/liveliness answers 200 and
    /v1/models answers 200 to the master key (``master_key`` or ``env["LITELLM_MASTER_KEY"]``).
    After ``__enter__``: ``url``, ``port``, ``seconds_to_ready``.
    """

    def __init__(
        self,
        python: Path,
        config_path: Path,
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        *,
        startup_timeout: float = 180.0,
        stop_timeout: float = 20.0,
        log_path: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.python = Path(python)
        self.config_path = Path(config_path)
        self.extra_env = dict(env or {})
        self.master_key = self.extra_env.get("LITELLM_MASTER_KEY") or os.environ.get("LITELLM_MASTER_KEY")
        self.port = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_args = list(extra_args or [])
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"litellm-{self.port}-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = Path(log_path)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.seconds_to_ready: float | None = None

    @property
    def command(self) -> list[str]:
        return [
            str(litellm_executable(self.python)),
            "--config",
            str(self.config_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--telemetry",
            "False",
            *self.extra_args,
        ]

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own venv's console script
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(self.config_path.parent),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise

    def _status(self, path: str, headers: dict[str, str] | None = None) -> int:
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def _wait_ready(self, started: float) -> None:
        assert self.proc is not None
        auth = {"Authorization": f"Bearer {self.master_key}"} if self.master_key else {}
        while True:
            code = self.proc.poll()
            if code is not None:
                raise LitellmProxyError(f"litellm exited with code {code}; log {self.log_path}:\n{self.log_tail()}")
            if time.monotonic() - started > self.startup_timeout:
                raise LitellmProxyError(f"litellm not ready after {self.startup_timeout:.0f} s; log {self.log_path}:\n" + self.log_tail())
            try:
                if self._status("/health/liveliness") == 200 and self._status("/v1/models", auth) == 200:
                    self.seconds_to_ready = time.monotonic() - started
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.25)

    def stop(self) -> int | None:
        """SIGTERM the process group, SIGKILL it after stop_timeout; return the exit code."""
        proc = self.proc
        if proc is None:
            return None
        pgid = proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while proc.poll() is None or _group_alive(pgid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
                break
            time.sleep(0.1)
        return proc.returncode

    def __enter__(self) -> LitellmProxy:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def main() -> int:
    return _ENV.main(ensure_litellm_env)


if __name__ == "__main__":
    sys.exit(main())
