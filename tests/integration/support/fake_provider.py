"""A local stand-in for an OpenAI-compatible LLM provider, for the gateway engine tests.

The gateway engine (LiteLLM) is started in front of it exactly as it would sit in front of OpenAI: a
route ``openai/<model>`` with ``api_base`` pointing here. The stand-in serves

    GET  /v1/models
    POST /v1/chat/completions   (streamed as server-sent events or not)
    POST /v1/completions        (streamed or not)

and each model name can be told what to do, so one server plays many backends at once:

    with FakeProvider(api_key="k") as fake:
        fake.behave("flaky", Behaviour(status=500))                     # every request fails
        fake.script("limited", [Behaviour(status=429, retry_after=2)])  # the next request only
        fake.behave("slow", Behaviour(chunks=6, chunk_delay=0.5))       # chunks 0.5 s apart
        fake.behave("stuck", Behaviour(hang=30))                        # answers after 30 s (or stop())
        ...
        fake.requests_for("limited")  # RequestRecord(received_at, status, chunk_times, ...)

A scripted behaviour is used once, in order, before the model's standing behaviour (default: 200).
Times are ``time.monotonic()`` of this process: the server runs in a thread of the test process, so
they compare directly with the client's clock. Each streamed chunk's send time is recorded after the
chunk was written to the socket (Nagle off), so "the client had the first chunk before the stand-in
sent its last" is a plain comparison.

When ``api_key`` is set (one key, or several: one per backend the stand-in plays), a request without
``Authorization: Bearer <one of them>`` is answered 401 and recorded with ``authorized=False``, which
proves the gateway injected the right key from its environment. Only the standard library is
used; it also runs on its own for manual poking: ``python fake_provider.py --port 9000``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Behaviour:
    """What the stand-in does with one request.

    status: HTTP status to answer (non-200 → an OpenAI-style error body).
    retry_after: seconds for a ``Retry-After`` header on an error answer (None: no header).
    hang: seconds to wait before answering at all (a stuck backend; cut short by ``stop()``).
    chunks: number of content chunks in a streamed answer (and words in a non-streamed one).
    chunk_delay: seconds between streamed chunks (a slow stream).
    text: the word each chunk carries.
    first_chunk_delay: seconds between a stream's headers and its first chunk (a model slow to its first
        token behind an answered status line).
    identical: every chunk carries exactly ``text`` (a model repeating one token), instead of the first
        ``text`` and the rest `` text``.
    """

    status: int = 200
    retry_after: float | None = None
    hang: float = 0.0
    chunks: int = 4
    chunk_delay: float = 0.0
    text: str = "stand-in"
    identical: bool = False
    first_chunk_delay: float = 0.0


@dataclass
class RequestRecord:
    """One request as the stand-in saw it."""

    path: str
    model: str | None
    stream: bool
    received_at: float
    authorized: bool
    bearer: str | None = None  # the key presented (test values only: this is a stand-in)
    status: int = 0
    chunk_times: list[float] = field(default_factory=list)
    finished_at: float | None = None
    body: dict | None = None


class FakeProvider:
    """The stand-in server; a context manager. ``url`` is the origin, ``base_url`` adds ``/v1``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | Iterable[str] | None = None) -> None:
        self.api_keys = None if api_key is None else frozenset([api_key] if isinstance(api_key, str) else api_key)
        self._lock = threading.Lock()
        self._standing: dict[str, Behaviour] = {}
        self._scripts: dict[str, list[Behaviour]] = {}
        self._records: list[RequestRecord] = []
        self._stopping = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.provider = self
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.base_url = self.url + "/v1"
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------

    def behave(self, model: str, behaviour: Behaviour) -> None:
        """Set the standing behaviour for ``model`` (replaces the previous one)."""
        with self._lock:
            self._standing[model] = behaviour

    def script(self, model: str, behaviours: Sequence[Behaviour]) -> None:
        """Queue behaviours for the next requests for ``model``, used once each, in order."""
        with self._lock:
            self._scripts.setdefault(model, []).extend(behaviours)

    def reset(self, model: str | None = None) -> None:
        """Forget behaviours and records (of one model, or all)."""
        with self._lock:
            if model is None:
                self._standing.clear()
                self._scripts.clear()
                self._records.clear()
            else:
                self._standing.pop(model, None)
                self._scripts.pop(model, None)
                self._records = [r for r in self._records if r.model != model]

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def requests_for(self, model: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.model == model]

    def _next_behaviour(self, model: str | None) -> Behaviour:
        with self._lock:
            queue = self._scripts.get(model or "")
            if queue:
                return queue.pop(0)
            return self._standing.get(model or "", Behaviour())

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeProvider:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-provider-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    provider: FakeProvider


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked streaming
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- helpers -------------------------------------------------------------------------------

    def _authorized(self) -> bool:
        keys = self.server.provider.api_keys
        if keys is None:
            return True
        auth = self.headers.get("Authorization") or ""
        return auth.startswith("Bearer ") and auth[7:] in keys

    def _send_json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")

    # -- routes --------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path.rstrip("/") in ("/health", ""):
            self._send_json(200, {"status": "ok"})
        elif self.path.rstrip("/") == "/v1/models":
            if not self._authorized():
                self._send_json(401, _error("missing or wrong API key", "invalid_request_error", "invalid_api_key"))
                return
            provider = self.server.provider
            with provider._lock:
                names = sorted(set(provider._standing) | set(provider._scripts))
            self._send_json(
                200, {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "stand-in"} for n in names]}
            )
        else:
            self._send_json(404, _error(f"no route {self.path}", "invalid_request_error", None))

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        provider = self.server.provider
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        # Azure OpenAI's deployment paths answer as the OpenAI ones, the deployment as the model.
        azure = re.match(r"^/openai/deployments/([^/]+)(/chat/completions|/completions)$", path)
        served = f"/v1{azure.group(2)}" if azure else path
        chat = served == "/v1/chat/completions"
        record = RequestRecord(
            path=path,
            model=azure.group(1) if azure else body.get("model"),
            stream=bool(body.get("stream")),
            received_at=time.monotonic(),
            authorized=self._authorized(),
            body=body,
            bearer=_bearer(self.headers.get("Authorization")),
        )
        provider._record(record)
        if served not in ("/v1/chat/completions", "/v1/completions"):
            record.status = 404
            self._send_json(404, _error(f"no route {self.path}", "invalid_request_error", None))
            return
        if not record.authorized:
            record.status = 401
            self._send_json(401, _error("missing or wrong API key", "invalid_request_error", "invalid_api_key"))
            return
        behaviour = provider._next_behaviour(record.model)
        if behaviour.hang and provider._stopping.wait(behaviour.hang):
            return  # shutting down: drop the connection unanswered
        try:
            if behaviour.status != 200:
                record.status = behaviour.status
                headers = {}
                if behaviour.retry_after is not None:
                    ra = behaviour.retry_after
                    headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
                kind = {429: "rate_limit_error", 401: "invalid_request_error"}.get(behaviour.status, "server_error")
                self._send_json(behaviour.status, _error(f"stand-in answered {behaviour.status}", kind, None), headers)
            elif record.stream:
                record.status = 200
                self._stream(record, body, behaviour, chat)
            else:
                record.status = 200
                self._send_json(200, _completion(record.model, behaviour, chat))
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            record.finished_at = time.monotonic()

    def _stream(self, record: RequestRecord, body: dict, behaviour: Behaviour, chat: bool) -> None:
        provider = self.server.provider
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        cid = f"standin-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.wfile.flush()
        if behaviour.first_chunk_delay and provider._stopping.wait(behaviour.first_chunk_delay):
            return
        for i in range(behaviour.chunks):
            if i and behaviour.chunk_delay and provider._stopping.wait(behaviour.chunk_delay):
                return
            piece = behaviour.text if i == 0 or behaviour.identical else f" {behaviour.text}"
            last = i == behaviour.chunks - 1
            if chat:
                delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                event = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": record.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if last else None}],
                }
            else:
                event = {
                    "id": cid,
                    "object": "text_completion",
                    "created": created,
                    "model": record.model,
                    "choices": [{"index": 0, "text": piece, "logprobs": None, "finish_reason": "stop" if last else None}],
                }
            # Stamped before the write: a client may read the chunk before a stamp taken after it.
            sent = time.monotonic()
            self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
            record.chunk_times.append(sent)
        if include_usage:
            usage = {
                "id": cid,
                "object": "chat.completion.chunk" if chat else "text_completion",
                "created": created,
                "model": record.model,
                "choices": [],
                "usage": _usage(behaviour.chunks),
            }
            self._write_chunk(f"data: {json.dumps(usage)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # zero-length chunk: end of body


def _bearer(header: str | None) -> str | None:
    return header[7:] if header and header.startswith("Bearer ") else None


def _usage(n: int) -> dict:
    return {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}


def _completion(model: str | None, behaviour: Behaviour, chat: bool) -> dict:
    text = " ".join([behaviour.text] * behaviour.chunks)
    base = {"id": f"standin-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": model, "usage": _usage(behaviour.chunks)}
    if chat:
        return {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
    return {**base, "object": "text_completion", "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}]}


def _error(message: str, kind: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    with FakeProvider(args.host, args.port, args.api_key) as fake:
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
