"""An OpenAI-compatible HTTP server over ONNX Runtime GenAI, for small/distilled models on CPU edge boxes.

Standard library (asyncio) plus onnxruntime-genai; no web framework, so the image holds only the runtime.

    ONNX_MODEL_DIR=/models python server.py          # serve
    python server.py --healthcheck                    # exit 0 iff GET /health answers 200 (the image's HEALTHCHECK)

Environment (defaults in brackets):
  ONNX_MODEL_DIR     the model directory the ONNX Runtime GenAI model builder wrote (genai_config.json,
                     model.onnx[.data], tokenizer files) [/models]
  ONNX_MODEL_NAME    the id served at /v1/models and expected in requests [the directory's name]
  ONNX_HOST          address to bind [127.0.0.1; the image sets 0.0.0.0]
  ONNX_PORT          port [8080]
  ONNX_API_KEY       if set, /v1/* needs `Authorization: Bearer <key>` (/health stays open for probes)
  ONNX_MAX_QUEUE     requests allowed to wait for the generator; more are refused with 429 [8]
  ONNX_MAX_TOKENS    cap on max_tokens (and the default when a request gives none) [512]

Endpoints: GET /health (503 while the model loads, 200 after), GET /v1/models, POST /v1/chat/completions
(non-streaming, and `stream: true` as server-sent events ending in `data: [DONE]`; max_tokens or
max_completion_tokens, temperature, top_p, seed, stream_options.include_usage).

Concurrency: one generator at a time, behind an asyncio lock with a bounded wait queue. A CPU edge box
has no spare cores for batching; two generators would only split the same cores and double the KV-cache
memory, so requests are served in turn. The queue is bounded (ONNX_MAX_QUEUE) so a burst is refused
early with 429 and a Retry-After instead of piling up minutes of latency and open sockets. Generation runs
in a worker thread, so /health and /v1/models answer while a request generates.

Prompts and completions are never logged; the access log has method, path, status and token counts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger("edge-onnx")
MAX_BODY = 1 << 20
MAX_HEADER_LINES = 100
READ_TIMEOUT = 30.0
ROLES = {"system", "user", "assistant", "tool", "developer"}


class HttpError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Settings:
    model_dir: Path
    model_name: str
    host: str
    port: int
    api_key: str | None
    max_queue: int
    max_tokens: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        model_dir = Path(env.get("ONNX_MODEL_DIR", "/models"))
        return cls(
            model_dir=model_dir,
            model_name=env.get("ONNX_MODEL_NAME") or model_dir.resolve().name or "model",
            host=env.get("ONNX_HOST", "127.0.0.1"),
            port=_int_env(env, "ONNX_PORT", 8080, 1, 65535),
            api_key=env.get("ONNX_API_KEY") or None,
            max_queue=_int_env(env, "ONNX_MAX_QUEUE", 8, 0, 10_000),
            max_tokens=_int_env(env, "ONNX_MAX_TOKENS", 512, 1, 1_000_000),
        )


def _int_env(env: dict[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SystemExit(f"environment: {key}={raw!r} is not an integer in [{low}, {high}]")
    return value


# ---------------------------------------------------------------- the model


@dataclass
class Request:
    messages: list[dict[str, Any]]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stream: bool
    include_usage: bool


@dataclass
class Outcome:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    pieces: list[str] = field(default_factory=list)


class Engine:
    """The loaded model: tokenizer, chat template and a blocking, token-by-token generate()."""

    def __init__(self, model_dir: Path) -> None:
        # Imported here so --healthcheck starts fast; installed in the image (and the tests' onnx environment),
        # not in the project's environment pyright reads.
        import onnxruntime_genai as og  # pyright: ignore[reportMissingImports]

        self.og = og
        self.model = og.Model(str(model_dir))
        self.tokenizer = og.Tokenizer(self.model)
        self.context_length = _context_length(model_dir)
        self.eos = {int(t) for t in self.tokenizer.eos_token_ids}
        try:
            self.tokenizer.apply_chat_template(json.dumps([{"role": "user", "content": "x"}]), add_generation_prompt=True)
            self.has_template = True
        except Exception:  # noqa: BLE001 - no template in the model dir, or one the runtime cannot render
            self.has_template = False
        # One greedy token before /health turns 200: "healthy" means the model has generated, and the
        # first real request does not pay for the runtime's lazy initialisation.
        self.generate(
            Request([{"role": "user", "content": "ping"}], 1, 0.0, 1.0, None, False, False), lambda _piece: None, threading.Event()
        )

    def prompt(self, messages: list[dict[str, Any]]) -> str:
        if self.has_template:
            return self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        # A plain role-tagged fallback for models shipped without a chat template.
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"

    def generate(self, req: Request, on_piece, cancelled: threading.Event) -> Outcome:
        tokens = self.tokenizer.encode(self.prompt(req.messages))
        out = Outcome(prompt_tokens=len(tokens))
        room = self.context_length - len(tokens)
        if room <= 0:
            raise HttpError(
                400,
                f"the prompt is {len(tokens)} tokens; the model's context is {self.context_length}",
                param="messages",
                code="context_length_exceeded",
            )
        budget = min(req.max_tokens, room)
        params = self.og.GeneratorParams(self.model)
        options: dict[str, Any] = {"max_length": len(tokens) + budget}
        if req.temperature > 0:
            options.update(do_sample=True, temperature=req.temperature, top_p=req.top_p)
        else:
            options.update(do_sample=False)
        if req.seed is not None:
            options["random_seed"] = req.seed
        params.set_search_options(**options)
        generator = self.og.Generator(self.model, params)
        generator.append_tokens(tokens)
        stream = self.tokenizer.create_stream()
        while not generator.is_done() and not cancelled.is_set():
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            if token in self.eos:
                out.finish_reason = "stop"
                break
            out.completion_tokens += 1
            piece = stream.decode(token)
            if piece:
                out.pieces.append(piece)
                on_piece(piece)
            if out.completion_tokens >= budget:
                out.finish_reason = "length"
                break
        else:  # the generator reached max_length (or the client went away)
            out.finish_reason = "length"
        return out


def _context_length(model_dir: Path) -> int:
    config = json.loads((model_dir / "genai_config.json").read_text())
    return int(config["model"].get("context_length") or config["search"]["max_length"])


# ---------------------------------------------------------------- request validation


def parse_chat(body: Any, settings: Settings) -> Request:
    if not isinstance(body, dict):
        raise HttpError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise HttpError(400, "model is required (a string)", param="model")
    if model != settings.model_name:
        raise HttpError(
            404, f"the model {model!r} does not exist; this server serves {settings.model_name!r}", param="model", code="model_not_found"
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise HttpError(400, "messages must be a non-empty list", param="messages")
    clean = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise HttpError(400, f"messages[{i}].role must be one of {sorted(ROLES)}", param=f"messages[{i}].role")
        content = m.get("content")
        if isinstance(content, list):  # content parts: text only
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
                raise HttpError(400, f"messages[{i}].content: only text parts are supported", param=f"messages[{i}].content")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str):
            raise HttpError(400, f"messages[{i}].content must be a string", param=f"messages[{i}].content")
        clean.append({"role": m["role"], "content": content})
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = settings.max_tokens
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise HttpError(400, "max_tokens must be a positive integer", param="max_tokens")
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    if top_p == 0:
        raise HttpError(400, "top_p must be in (0, 1]", param="top_p")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise HttpError(400, "seed must be an integer", param="seed")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise HttpError(400, "stream must be a boolean", param="stream")
    for unsupported in ("stop", "tools", "logprobs", "response_format"):
        if body.get(unsupported) not in (None, False, [], ""):
            raise HttpError(400, f"{unsupported} is not supported by this server", param=unsupported)
    n = body.get("n", 1)
    if n != 1:
        raise HttpError(400, "only n=1 is supported", param="n")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise HttpError(400, "stream_options must be an object", param="stream_options")
    return Request(clean, min(max_tokens, settings.max_tokens), temperature, top_p, seed, stream, bool(stream_options.get("include_usage")))


def _number(body: dict, key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise HttpError(400, f"{key} must be a number in [{low}, {high}]", param=key)
    return float(value)


# ---------------------------------------------------------------- HTTP


REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Server:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine | None = None
        self.load_error: str | None = None
        self.lock = asyncio.Lock()
        self.waiting = 0
        # One worker thread: the generator lock already serialises generation; loading uses it too.
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="genai")
        self.created = int(time.time())

    async def load(self) -> None:
        started = time.monotonic()
        try:
            engine = await asyncio.get_running_loop().run_in_executor(self.pool, Engine, self.settings.model_dir)
        except Exception as exc:  # noqa: BLE001 - reported, then the process exits non-zero
            self.load_error = f"{type(exc).__name__}: {exc}"
            LOG.error("loading %s failed: %s", self.settings.model_dir, self.load_error)
            raise
        self.engine = engine
        LOG.info(
            "model %s loaded from %s in %.1f s (context %d, chat template: %s)",
            self.settings.model_name,
            self.settings.model_dir,
            time.monotonic() - started,
            engine.context_length,
            "model's" if engine.has_template else "fallback",
        )

    # -------------------------------------------------------------- connection handling

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, path, status = "-", "-", 0
        try:
            try:
                method, path, headers, body = await asyncio.wait_for(self.read_request(reader), READ_TIMEOUT)
                status = await self.route(method, path, headers, body, writer)
            except HttpError as exc:
                status = exc.status
                await self.send_json(writer, exc.status, exc.body(), exc.headers)
            except TimeoutError:
                status = 408
            except (ConnectionError, asyncio.IncompleteReadError):
                status = 499
            except Exception:  # noqa: BLE001 - never leak a traceback to the client
                LOG.exception("internal error on %s %s", method, path)
                status = 500
                await self.send_json(writer, 500, HttpError(500, "internal error", kind="server_error").body())
        finally:
            LOG.info("%s %s %s", method, path, status)
            with contextlib.suppress(OSError):
                writer.close()
                await writer.wait_closed()

    async def read_request(self, reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes]:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError(400, "malformed request line")
        method, target, _ = parts
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            raw = await reader.readline()
            text = raw.decode("latin-1").rstrip("\r\n")
            if not text:
                break
            key, sep, value = text.partition(":")
            if not sep:
                raise HttpError(400, "malformed header line")
            headers[key.strip().lower()] = value.strip()
        else:
            raise HttpError(400, "too many header lines")
        if "transfer-encoding" in headers:
            raise HttpError(400, "chunked request bodies are not supported; send Content-Length")
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
        if length < 0:
            raise HttpError(400, "bad Content-Length")
        if length > MAX_BODY:
            raise HttpError(413, f"the request body is larger than {MAX_BODY} bytes")
        body = await reader.readexactly(length) if length else b""
        return method, target.split("?", 1)[0], headers, body

    async def route(self, method: str, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter) -> int:
        if path == "/health":
            if method != "GET":
                raise HttpError(405, "use GET", headers={"Allow": "GET"})
            if self.engine is None:
                await self.send_json(writer, 503, {"status": "loading" if self.load_error is None else "failed"})
                return 503
            await self.send_json(writer, 200, {"status": "ok"})
            return 200
        if not path.startswith("/v1/"):
            raise HttpError(404, f"no route {path}")
        self.authorize(headers)
        if path == "/v1/models":
            if method != "GET":
                raise HttpError(405, "use GET", headers={"Allow": "GET"})
            await self.send_json(
                writer,
                200,
                {
                    "object": "list",
                    "data": [{"id": self.settings.model_name, "object": "model", "created": self.created, "owned_by": "edge-onnx"}],
                },
            )
            return 200
        if path == "/v1/chat/completions":
            if method != "POST":
                raise HttpError(405, "use POST", headers={"Allow": "POST"})
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, ValueError):
                raise HttpError(400, "the request body is not valid JSON") from None
            req = parse_chat(payload, self.settings)
            return await self.chat(req, writer)
        raise HttpError(404, f"no route {path}")

    def authorize(self, headers: dict[str, str]) -> None:
        if self.settings.api_key is None:
            return
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.settings.api_key.encode()):
            raise HttpError(
                401, "a valid API key is required (Authorization: Bearer <key>)", kind="authentication_error", code="invalid_api_key"
            )

    # -------------------------------------------------------------- chat completions

    async def chat(self, req: Request, writer: asyncio.StreamWriter) -> int:
        engine = self.engine
        if engine is None:
            raise HttpError(503, "the model is loading", kind="server_error", headers={"Retry-After": "5"})
        if self.lock.locked() and self.waiting >= self.settings.max_queue:
            raise HttpError(429, "the server is busy; retry later", kind="rate_limit_error", headers={"Retry-After": "2"})
        self.waiting += 1
        try:
            await self.lock.acquire()
        finally:
            self.waiting -= 1
        try:
            return await (self.stream(engine, req, writer) if req.stream else self.complete(engine, req, writer))
        finally:
            self.lock.release()

    def _ident(self) -> tuple[str, int]:
        return f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    async def complete(self, engine: Engine, req: Request, writer: asyncio.StreamWriter) -> int:
        cancelled = threading.Event()
        try:
            out = await asyncio.get_running_loop().run_in_executor(self.pool, engine.generate, req, lambda _piece: None, cancelled)
        finally:
            cancelled.set()
        ident, created = self._ident()
        await self.send_json(
            writer,
            200,
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": self.settings.model_name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(out.pieces)},
                        "finish_reason": out.finish_reason,
                        "logprobs": None,
                    }
                ],
                "usage": _usage(out),
            },
        )
        LOG.info("completion: %d prompt + %d completion tokens (%s)", out.prompt_tokens, out.completion_tokens, out.finish_reason)
        return 200

    async def stream(self, engine: Engine, req: Request, writer: asyncio.StreamWriter) -> int:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        cancelled = threading.Event()
        ident, created = self._ident()

        def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> bytes:
            data: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.settings.model_name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}] if delta is not None else [],
            }
            if usage is not None:
                data["usage"] = usage
            return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"

        future = loop.run_in_executor(
            self.pool, engine.generate, req, lambda piece: loop.call_soon_threadsafe(queue.put_nowait, piece), cancelled
        )
        future.add_done_callback(lambda _f: loop.call_soon_threadsafe(queue.put_nowait, None))
        try:
            # Validation errors (a prompt longer than the context) surface before the first token:
            # wait for the first piece or the end, and answer those as plain JSON errors.
            first = await queue.get()
            if first is None and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
            writer.write(self.head(200, "text/event-stream", {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}))
            writer.write(chunk({"role": "assistant", "content": ""}))
            piece = first
            while piece is not None:
                writer.write(chunk({"content": piece}))
                await writer.drain()
                piece = await queue.get()
            out = await future
            writer.write(chunk({}, out.finish_reason))
            if req.include_usage:
                writer.write(chunk(None, usage=_usage(out)))  # type: ignore[arg-type]
            writer.write(b"data: [DONE]\n\n")
            await writer.drain()
            LOG.info("stream: %d prompt + %d completion tokens (%s)", out.prompt_tokens, out.completion_tokens, out.finish_reason)
            return 200
        finally:
            # A client that went away stops the generator at its next token; the lock is held until it has.
            cancelled.set()
            with contextlib.suppress(Exception):
                await future

    # -------------------------------------------------------------- responses

    @staticmethod
    def head(status: int, content_type: str, extra: dict[str, str] | None = None, length: int | None = None) -> bytes:
        lines = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
            f"Content-Type: {content_type}",
            "Connection: close",
            "X-Content-Type-Options: nosniff",
        ]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send_json(self, writer: asyncio.StreamWriter, status: int, body: dict, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        writer.write(self.head(status, "application/json", extra, len(data)) + data)
        with contextlib.suppress(OSError):
            await writer.drain()


def _usage(out: Outcome) -> dict[str, int]:
    return {
        "prompt_tokens": out.prompt_tokens,
        "completion_tokens": out.completion_tokens,
        "total_tokens": out.prompt_tokens + out.completion_tokens,
    }


# ---------------------------------------------------------------- main


async def serve(settings: Settings) -> int:
    server = Server(settings)
    listener = await asyncio.start_server(server.handle, settings.host, settings.port, limit=MAX_BODY)
    LOG.info("listening on %s:%d; loading %s", settings.host, settings.port, settings.model_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loader = asyncio.create_task(server.load())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({loader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if loader.done() and loader.exception() is not None:
        code = 1
    elif not stop.is_set():
        await stop.wait()
    listener.close()
    await listener.wait_closed()
    server.pool.shutdown(wait=False, cancel_futures=True)
    LOG.info("stopped")
    return code


def healthcheck(settings: Settings) -> int:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host  # noqa: S104 - compared, not bound
    try:
        with urllib.request.urlopen(f"http://{host}:{settings.port}/health", timeout=5) as resp:  # noqa: S310
            return 0 if resp.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    settings = Settings.from_env(dict(os.environ))
    if argv[1:] == ["--healthcheck"]:
        return healthcheck(settings)
    if argv[1:]:
        print(f"usage: {argv[0]} [--healthcheck]  (configured by ONNX_* environment variables)", file=sys.stderr)
        return 2
    if not (settings.model_dir / "genai_config.json").is_file():
        LOG.error(
            "ONNX_MODEL_DIR=%s has no genai_config.json (build the model with "
            "`python -m onnxruntime_genai.models.builder` and mount its output there)",
            settings.model_dir,
        )
        return 2
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
