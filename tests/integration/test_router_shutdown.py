"""What the real vllm-router (the pinned wheel) does on SIGTERM with a stream in flight: `router_render.SHUTDOWN`.

The stack builds on it: a router pod's grace is the preStop sleep plus the longest stream
(`router_render.decide_router_drain`), and a GPU VM stops its router before its model server (`router_vm`). Both are
right only while the router drains: it must let a stream it forwards finish after SIGTERM, refuse new connections
meanwhile (so nothing new lands on a router that is going away), exit as soon as the stream has ended, and its
`--help` must still have no flag bounding that drain (else the stack should set it). This test fails when a new
wheel stops doing any of that, so `SHUTDOWN` is re-measured before the pin moves.

The worker is a stub OpenAI server on 127.0.0.1 that streams a chat completion as SSE chunks over ~5 s; the router
runs with the pods' flags (`router_args`, static workers instead of discovery) on loopback ports. No Docker, no vLLM.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

try:
    from support.router_env import ensure_router_env
except ImportError:  # collected under another rootdir layout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from support.router_env import ensure_router_env

from pulumi_llm.kubernetes import router_render as rr

pytestmark = pytest.mark.integration

CHUNKS = 10
CHUNK_SECONDS = 0.5
"""The stub's stream: 10 chunks 0.5 s apart, then `data: [DONE]` (~5 s)."""
OPTIONS = rr.RouterOptions(policy="round_robin", health_check_interval_seconds=1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _SlowStream(BaseHTTPRequestHandler):
    """/health, /v1/models, and a chat completion streamed slowly (chunked SSE, as vLLM streams)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        body = b"{}" if self.path == "/health" else json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(CHUNKS):
            delta = {"choices": [{"index": 0, "delta": {"content": f"t{i}"}}]}
            self._chunk(f"data: {json.dumps(delta)}\n\n".encode())
            time.sleep(CHUNK_SECONDS)
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


@pytest.fixture(scope="module")
def python() -> Path:
    return ensure_router_env(rr.requirements_text())


@pytest.fixture
def worker() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), _SlowStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def router(python: Path, worker: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """The router with the pods' flags in front of the stub, ready (its worker healthy): (process, port, log)."""
    port = _free_port()
    args = rr.router_args(
        OPTIONS, rr.StaticWorkers((worker,)), host="127.0.0.1", port=port, metrics_host="127.0.0.1", metrics_port=_free_port()
    )
    log = tmp_path / "router.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(python), "-c", rr.LAUNCHER, *args], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if _status(port, "/readiness") == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"router exited or not ready ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield proc, port, log
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_on_sigterm_the_router_finishes_its_stream_refuses_new_connections_and_then_exits(
    router: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    assert rr.SHUTDOWN.finishes_streams and rr.SHUTDOWN.refuses_new_connections and rr.SHUTDOWN.exits_when_drained
    assert rr.SHUTDOWN.own_timeout_seconds is None
    proc, port, log = router
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"model": "tiny", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    connection.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type", "").startswith("text/event-stream")
    first = response.readline()  # chunked decoding (http.client)
    assert first.startswith(b"data: ") and b"t0" in first  # the stream is under way

    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    refused: list[BaseException | int] = []

    def connect_meanwhile() -> None:
        time.sleep(1.0)  # well inside the stream's remaining ~4.5 s
        try:
            refused.append(_status(port, "/liveness"))
        except OSError as err:
            refused.append(err)

    probe = threading.Thread(target=connect_meanwhile)
    probe.start()
    rest = response.read()  # to the end of the chunked body: raises IncompleteRead if the router cuts it
    ended = time.monotonic()
    probe.join(timeout=10)
    connection.close()

    events = [line for line in (first + rest).split(b"\n") if line.startswith(b"data: ")]
    assert [e for e in events if e != b"data: [DONE]"] == [
        f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': f't{i}'}}]})}".encode() for i in range(CHUNKS)
    ]
    assert events[-1] == b"data: [DONE]"  # every chunk, then the end: the stream was not cut at SIGTERM
    assert ended - sent >= (CHUNKS - 1) * CHUNK_SECONDS * 0.8  # it really ran on after SIGTERM
    # A new connection during the drain is refused, not queued or answered.
    assert len(refused) == 1 and isinstance(refused[0], ConnectionRefusedError), refused
    # The router exits, cleanly, as soon as its last stream has ended (no fixed wait of its own).
    assert proc.wait(timeout=20) == 0
    assert time.monotonic() - ended < 5
    assert "Received terminate signal, starting graceful shutdown" in log.read_text()


def test_an_idle_router_exits_at_once_on_sigterm(router: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    proc, _, _ = router
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert time.monotonic() - sent < 5  # nothing in flight: the preStop, not the router, is what a pod waits for


def test_the_cli_has_no_flag_bounding_the_drain(python: Path) -> None:
    """`SHUTDOWN.timeout_flag` None: 0.1.17's `--help` offers nothing to bound the drain, so the pod's grace does."""
    out = subprocess.run([str(python), "-c", rr.LAUNCHER, "--help"], capture_output=True, text=True, timeout=60, check=True).stdout
    flags = set(re.findall(r"--[a-z0-9-]+", out))
    assert "--request-timeout-secs" in flags  # the help is the real one
    drain_like = {f for f in flags if re.search(r"shutdown|grace|drain|termination|exit", f)}
    if rr.SHUTDOWN.timeout_flag is None:
        assert drain_like == set(), f"the router gained {drain_like}: set SHUTDOWN.timeout_flag and re-measure"
    else:
        assert rr.SHUTDOWN.timeout_flag in flags
