"""Run the gateway engine the way every cloud boots it: ``python3 -c engine.BOOT`` with the front's config and
LiteLLM's config in the environment, from the LiteLLM venv (the image's stand-in: aiohttp, uvloop and the
``litellm`` console script are there).

    with BootedFront(python, front_doc, litellm_yaml, env={...}, workdir=tmp) as engine:
        urllib.request.urlopen(engine.url + "/health/liveliness")

The boot writes the front's package and both configs under ``workdir`` (``engine.BOOT_DIR_ENV``; /tmp in a
container), the front starts LiteLLM on its loopback port with a master key it makes itself, waits for it,
then listens. Ready here when the liveness path answers 200 (the front binds only after LiteLLM is ready).
``stop()`` sends SIGTERM to the boot's process only — the front forwards it to LiteLLM after draining —
and returns the exit code; ``litellm_stopped()`` says whether LiteLLM's port is closed. stdout (the request
log lines, LiteLLM's JSON log) and stderr go to ``workdir``/front.out and front.err. Standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from pulumi_llm.gateway import engine

from .vllm_server import _die_with_parent, _group_alive


class BootedFrontError(RuntimeError):
    """The engine did not come up, or died."""


class BootedFront:
    def __init__(
        self,
        python: Path,
        front_doc: Mapping[str, object],
        litellm_yaml: str | None,
        *,
        env: Mapping[str, str | None],
        workdir: Path,
        startup_timeout: float = 240.0,
        stop_timeout: float = 60.0,
    ) -> None:
        self.python = Path(python)
        self.front_doc = dict(front_doc)
        self.workdir = Path(workdir)
        self.port = int(str(front_doc["port"]))
        self.litellm_url = str(front_doc["litellm_url"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path = self.workdir / "front.out"
        self.err_path = self.workdir / "front.err"
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        layered: dict[str, str | None] = {
            **os.environ,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            # The litellm console script lives beside the venv's python; the image has it on PATH.
            "PATH": f"{self.python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            engine.BOOT_DIR_ENV: str(self.workdir),
            engine.FRONT_CONFIG_ENV: engine.encode_front_config(self.front_doc),
            engine.CONFIG_ENV: base64.b64encode(litellm_yaml.encode()).decode() if litellm_yaml else None,
            **env,
        }
        self.env = {k: v for k, v in layered.items() if v is not None}
        self.proc: subprocess.Popen[bytes] | None = None
        self.seconds_to_ready: float | None = None

    @property
    def command(self) -> list[str]:
        return [str(self.python), "-c", engine.BOOT]

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for path in (self.err_path, self.out_path):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts) or "(no log)"

    def request_lines(self) -> list[dict[str, object]]:
        """The front's request log lines so far (the JSON lines marked ``REQUEST_LOG_MARK``)."""
        out = []
        for raw in self.out_path.read_text(errors="replace").splitlines():
            if '"pulumi_llm_request"' not in raw:
                continue
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if isinstance(line, dict) and line.get("pulumi_llm_request") == 1:
                    out.append(line)
        return out

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.out_path, self.err_path) if p.exists())

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own venv's python running the engine's boot
                self.command,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=str(self.workdir),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, started: float) -> None:
        assert self.proc is not None
        while True:
            code = self.proc.poll()
            if code is not None:
                raise BootedFrontError(f"the engine exited with code {code}:\n{self.log_tail()}")
            if time.monotonic() - started > self.startup_timeout:
                raise BootedFrontError(f"the engine was not ready after {self.startup_timeout:.0f} s:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(self.url + engine.LIVENESS_PATH, timeout=2) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        self.seconds_to_ready = time.monotonic() - started
                        return
            time.sleep(0.25)

    def litellm_stopped(self) -> bool:
        host, port = self.litellm_url.removeprefix("http://").split(":")
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((host, int(port))) != 0

    def stop(self) -> int | None:
        """SIGTERM the boot's process (the front drains, then stops LiteLLM); SIGKILL the group after
        stop_timeout. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        return proc.returncode

    def __enter__(self) -> BootedFront:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def litellm_master_key(booted: BootedFront) -> str:
    """LiteLLM's per-boot master key, read from the environment of a process the engine started (the only
    place it exists: the front made it and handed it to LiteLLM's process)."""
    assert booted.proc is not None
    parents: dict[int, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parents[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state: the parent's pid
    family = {booted.proc.pid}
    while grown := {pid for pid, parent in parents.items() if parent in family} - family:
        family |= grown
    for pid in sorted(family):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"LITELLM_MASTER_KEY=") and len(item) > len(b"LITELLM_MASTER_KEY="):
                return item.split(b"=", 1)[1].decode()
    raise AssertionError("no process of the engine holds LITELLM_MASTER_KEY")
