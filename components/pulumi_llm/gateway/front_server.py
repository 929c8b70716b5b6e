"""The gateway's front: the process that owns the engine port (``front_contract.FRONT_PORT``).

Why (issue 15): LiteLLM costs 10–14 ms of Python before a stream's first byte and ~0.7 ms per chunk, and
in its database-less mode it has no per-consumer grants. The front is a small asyncio server that

1. answers only ``front_contract.INFERENCE_ROUTES``, the two probe paths and ``/metrics`` — anything else
   is a 404 before anything is called;
2. knows who is asking (``IDENTITY_EDGE``: the edge's key + the consumer header; ``IDENTITY_KEYS``: each
   consumer's own key, read from a file) and enforces that consumer's grant (``grants.Limiter``) before
   any backend is called;
3. walks the asked group's chain (``routing``): a self-hosted route is streamed straight from the model
   server, bytes through as they arrive; a provider route goes to LiteLLM on loopback, which this process
   starts with a master key made per boot that never leaves the container. A candidate that fails before
   its first byte (refused, 5xx, 408/429, no first byte in time) hands over to the next; after the first
   byte the stream is the client's. Nothing is inspected per chunk, so a model repeating itself is not a
   failure and cools nothing down;
4. records who served each request: the ``x-pulumi-llm-served-by`` / ``x-pulumi-llm-fallback`` headers,
   one JSON line per request on stdout (with a CloudWatch EMF block) and Prometheus counters — never a
   prompt, a completion or a key.

Ships into the engine container as the package ``pulumi_llm_front`` (``engine.boot`` writes it): imports
only the standard library, aiohttp (which the LiteLLM image ships: litellm 1.103.0 requires
``aiohttp>=3.14.2``, BerriAI/litellm pyproject.toml) and its siblings. uvloop is used when importable (the
image ships it with ``litellm[proxy]``).

Run: ``python -m pulumi_llm_front.front_server --config /tmp/front.json [--litellm-config /tmp/litellm.yaml]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import math
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, cast

import aiohttp
from aiohttp import web

from . import front_contract as fc
from .grants import Limiter, estimate_prompt_tokens, grants_from_document, visible_models
from .routing import KIND_DIRECT, Breaker, Candidate, chains_from_document, private_from_document, resolve_env_ref

# --- facts ------------------------------------------------------------------------------------------

METRICS_PATH: Final = fc.METRICS_PATH
EDGE_KEY_ENV: Final = fc.EDGE_KEY_ENV
EDGE_KEY_PREVIOUS_ENV: Final = fc.EDGE_KEY_PREVIOUS_ENV

KEY_GRACE_SECONDS: Final = 900.0
"""How long a key value that disappeared from a key file (rotated) stays accepted, so a client or edge still
sending the old value meets no 401 window: GCP's consumers switch keys over 15 minutes. Env-var keys never
disappear while the process runs; AWS and Azure overlap edge keys through the previous-key variable."""

KEY_REFRESH_SECONDS: Final = 5.0
"""A background task re-reads the key files this often (a rotation is seen and the old value's grace
starts); an unknown key re-reads them at once when their stat changed, else at most this often."""

CLIENT_MAX_BYTES: Final = 32 * 1024 * 1024
"""Largest request body (aiohttp's default is 1 MiB; long prompts and embedding batches are larger)."""

KEEPALIVE: Final = b": keep-alive\n\n"
"""An SSE comment (every SSE client ignores it), sent while the last candidate of a chain has answered
200 but not yet its first token."""

TAIL_BYTES: Final = 8192
"""How much of a stream's end is kept to find the usage event (the last SSE events)."""

DRAIN_SECONDS: Final = 25.0
"""On SIGTERM: how long open requests may finish before the front stops (below Cloud Run's 10 s + the
ECS/Container Apps stop timeouts the shells set; configurable)."""

LITELLM_START_SECONDS: Final = 300.0
"""How long the boot waits for LiteLLM's readiness before giving up (the process exits non-zero)."""

DROPPED_RESPONSE_HEADERS: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server", "date", "te", "trailer", "upgrade"}
)
PASSED_RESPONSE_HEADERS: Final = frozenset({"content-type", "cache-control", "retry-after"})
"""Upstream response headers the client sees; everything else (LiteLLM's ``x-litellm-*`` with its key
and cost details, a model server's own) stays behind the front."""

# --- the front's config ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontConfig:
    """What ``engine.front_config`` renders (the JSON file the front reads).

    identity: ``edge`` or ``keys``. stack: the stack name (EMF dimension). grants / routing: the
    ``grants`` and ``routing`` documents. edge_key_envs: env vars holding accepted edge keys (mode edge).
    edge_key_files: files holding accepted edge keys, re-read (mode edge). consumer_key_files: consumer →
    file holding its key (mode keys). host / port: where the front listens. litellm_url: LiteLLM's
    loopback origin. allowed_fails / cooldown_seconds: the breaker. retry_after_seconds: Retry-After of
    a 503. drain_seconds: SIGTERM drain. keepalive_seconds: SSE comment interval while the last candidate
    of a chain has answered 200 and not yet its first token (0: none). key_grace_seconds / key_refresh_seconds: see the constants.
    """

    identity: str
    stack: str
    grants: Mapping[str, object]
    routing: Mapping[str, object]
    edge_key_envs: tuple[str, ...] = (EDGE_KEY_ENV, EDGE_KEY_PREVIOUS_ENV)
    edge_key_files: tuple[str, ...] = ()
    consumer_key_files: Mapping[str, str] = field(default_factory=dict[str, str])
    host: str = "0.0.0.0"  # noqa: S104 - the container's port, reached only through the platform
    port: int = fc.FRONT_PORT
    litellm_url: str = f"http://127.0.0.1:{fc.LITELLM_LOOPBACK_PORT}"
    allowed_fails: int = 3
    cooldown_seconds: float = 60.0
    retry_after_seconds: int = 60
    drain_seconds: float = DRAIN_SECONDS
    keepalive_seconds: float = 0.0
    key_grace_seconds: float = KEY_GRACE_SECONDS
    key_refresh_seconds: float = KEY_REFRESH_SECONDS


def _strs(value: object, at: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in cast(list[object], value)):
        raise ValueError(f"front config: {at}: allowed a list of strings")
    return tuple(cast(list[str], value))


def _number(doc: Mapping[str, object], key: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"front config: {key} = {value!r}: allowed a number, 0 or more")
    return float(value)


def front_config_from_document(doc: Mapping[str, object]) -> FrontConfig:
    """Read the front's JSON config; ValueError (one line) on anything malformed, so a broken config stops
    the boot instead of serving with guessed identity rules."""
    identity = doc.get("identity")
    if identity not in fc.IDENTITY_MODES:
        raise ValueError(f"front config: identity = {identity!r}: allowed {' or '.join(fc.IDENTITY_MODES)}")
    stack, grants, routing = doc.get("stack"), doc.get("grants"), doc.get("routing")
    if not isinstance(stack, str) or not stack:
        raise ValueError("front config: stack: allowed a non-empty string")
    if not isinstance(grants, dict) or not isinstance(routing, dict):
        raise ValueError("front config: grants and routing: allowed objects")
    files = doc.get("consumer_key_files", {})
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in cast(dict[object, object], files).items()
    ):
        raise ValueError("front config: consumer_key_files: allowed an object of consumer to file path")
    port = doc.get("port", fc.FRONT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"front config: port = {port!r}: allowed 1 to 65535")
    host, litellm_url = doc.get("host", "0.0.0.0"), doc.get("litellm_url", f"http://127.0.0.1:{fc.LITELLM_LOOPBACK_PORT}")  # noqa: S104
    if not isinstance(host, str) or not isinstance(litellm_url, str):
        raise ValueError("front config: host and litellm_url: allowed strings")
    return FrontConfig(
        identity=str(identity),
        stack=stack,
        grants=cast(dict[str, object], grants),
        routing=cast(dict[str, object], routing),
        edge_key_envs=_strs(doc.get("edge_key_envs", [EDGE_KEY_ENV, EDGE_KEY_PREVIOUS_ENV]), "edge_key_envs"),
        edge_key_files=_strs(doc.get("edge_key_files", []), "edge_key_files"),
        consumer_key_files=cast(dict[str, str], files),
        host=host,
        port=port,
        litellm_url=litellm_url.rstrip("/"),
        allowed_fails=max(1, int(_number(doc, "allowed_fails", 3))),
        cooldown_seconds=_number(doc, "cooldown_seconds", 60.0),
        retry_after_seconds=max(1, math.ceil(_number(doc, "retry_after_seconds", 60))),
        drain_seconds=_number(doc, "drain_seconds", DRAIN_SECONDS),
        keepalive_seconds=_number(doc, "keepalive_seconds", 0.0),
        key_grace_seconds=_number(doc, "key_grace_seconds", KEY_GRACE_SECONDS),
        key_refresh_seconds=_number(doc, "key_refresh_seconds", KEY_REFRESH_SECONDS),
    )


# --- pure parts -------------------------------------------------------------------------------------

ENDPOINT_LIVENESS: Final = "liveness"
ENDPOINT_READINESS: Final = "readiness"
ENDPOINT_METRICS: Final = "metrics"
ENDPOINT_INFERENCE: Final = "inference"
ENDPOINT_NONE: Final = "none"


def decide_endpoint(method: str, path: str) -> str:
    """Which of the front's endpoints a request is for; ``none`` (→ 404) for every other method and path,
    LiteLLM's admin, key, pass-through and full health routes included."""
    if method in ("GET", "HEAD"):
        if path == fc.LIVENESS_PATH:
            return ENDPOINT_LIVENESS
        if path == fc.READINESS_PATH:
            return ENDPOINT_READINESS
        if path == METRICS_PATH:
            return ENDPOINT_METRICS
    if (method, path) in fc.INFERENCE_ROUTES:
        return ENDPOINT_INFERENCE
    return ENDPOINT_NONE


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


ATTEMPT_SERVE: Final = "serve"
ATTEMPT_NEXT: Final = "next"
ATTEMPT_PASS: Final = "pass"


def decide_attempt(status: int | None) -> str:
    """What an upstream answer before its first body byte means. ``status`` None: no answer (refused
    connection, timeout). 2xx → serve it; 408, 429, 5xx or no answer → the candidate failed, try the next;
    any other status is the client's own error (a bad parameter) → pass it through unchanged."""
    if status is None or status in (408, 429) or status >= 500:
        return ATTEMPT_NEXT
    if 200 <= status < 300:
        return ATTEMPT_SERVE
    return ATTEMPT_PASS


def upstream_url(candidate: Candidate, path: str, litellm_url: str, environ: Mapping[str, str]) -> str | None:
    """Where a candidate is called for the client's ``path`` (``/v1/...``): a direct candidate's base URL
    (``…/v1``, maybe an ``os.environ/NAME`` reference) + the path after ``/v1``; LiteLLM's loopback origin
    + the path. None when the base URL's variable is unset (the candidate cannot serve)."""
    if candidate.kind != KIND_DIRECT:
        return litellm_url + path
    base = resolve_env_ref(candidate.url, environ)
    if not base:
        return None
    return base.rstrip("/") + path.removeprefix("/v1")


# What a client may send on, per route. LiteLLM 1.103.1 treats the request's top-level keys as its own
# call arguments: request-level ``fallbacks`` / ``context_window_fallbacks`` / ``content_policy_fallbacks``
# re-route to any deployment it knows (litellm/router.py, ``Router.async_function_with_fallbacks``), and
# request kwargs override a deployment's ``api_base``, ``api_key``, ``organization``, ``timeout``,
# ``num_retries``, ``extra_headers``, ``metadata``, ``mock_response``… — so the front forwards only the
# parameters the OpenAI API reference documents for each route, and refuses anything else (400 naming
# the key) before it counts against the consumer's limits.

OPENAI_REQUEST_KEYS: Final[Mapping[str, frozenset[str]]] = {
    # https://platform.openai.com/docs/api-reference/chat/create (request body), less ``metadata``:
    # LiteLLM reads a request's ``metadata`` as its own routing/logging metadata (tags route deployments).
    "/v1/chat/completions": frozenset(
        {
            "model",
            "messages",
            "audio",
            "frequency_penalty",
            "function_call",
            "functions",
            "logit_bias",
            "logprobs",
            "max_completion_tokens",
            "max_tokens",
            "modalities",
            "n",
            "parallel_tool_calls",
            "prediction",
            "presence_penalty",
            "prompt_cache_key",
            "reasoning_effort",
            "response_format",
            "safety_identifier",
            "seed",
            "service_tier",
            "stop",
            "store",
            "stream",
            "stream_options",
            "temperature",
            "tool_choice",
            "tools",
            "top_logprobs",
            "top_p",
            "user",
            "verbosity",
            "web_search_options",
        }
    ),  # fmt: skip
    # https://platform.openai.com/docs/api-reference/completions/create
    "/v1/completions": frozenset(
        {
            "model",
            "prompt",
            "best_of",
            "echo",
            "frequency_penalty",
            "logit_bias",
            "logprobs",
            "max_tokens",
            "n",
            "presence_penalty",
            "seed",
            "stop",
            "stream",
            "stream_options",
            "suffix",
            "temperature",
            "top_p",
            "user",
        }
    ),  # fmt: skip
    # https://platform.openai.com/docs/api-reference/embeddings/create
    "/v1/embeddings": frozenset({"model", "input", "dimensions", "encoding_format", "user"}),
}

VLLM_SAMPLING_KEYS: Final = frozenset(
    {
        "top_k", "min_p", "repetition_penalty", "length_penalty", "stop_token_ids", "include_stop_str_in_output",
        "ignore_eos", "min_tokens", "skip_special_tokens", "spaces_between_special_tokens", "truncate_prompt_tokens",
        "allowed_token_ids", "prompt_logprobs", "bad_words", "structured_outputs",
    }
)  # fmt: skip
"""vLLM's own sampling parameters, accepted on a group whose chain has a self-hosted route and sent only to
self-hosted candidates (a provider fallback gets the OpenAI keys alone). The ``chat-completion-sampling-params``
and ``completion-sampling-params`` blocks of vllm-project/vllm v0.32.0
``vllm/entrypoints/openai/{chat_completion,completion}/protocol.py`` (less ``use_beam_search``, ``watermarking``,
``truncation_side``, ``logprob_token_ids``), plus ``structured_outputs`` (guided decoding). Never vLLM's
"extra params" (``chat_template``, ``priority``, ``request_id``, ``kv_transfer_params``, ``vllm_xargs``…):
they are the operator's, not a consumer's."""


def refused_key(path: str, body: Mapping[str, object], *, self_hosted: bool) -> str | None:
    """The first (sorted) key of ``body`` the front does not send on for ``path`` (None: all allowed).
    ``self_hosted``: the group's chain has a self-hosted route, so vLLM's sampling keys are allowed too."""
    allowed = OPENAI_REQUEST_KEYS.get(path, frozenset[str]())
    if self_hosted and path != "/v1/embeddings":
        allowed = allowed | VLLM_SAMPLING_KEYS
    unknown = sorted(k for k in body if k not in allowed)
    return unknown[0] if unknown else None


def upstream_body(body: Mapping[str, object], candidate: Candidate, path: str = "/v1/chat/completions") -> bytes:
    """The admitted body for one candidate: ``model`` the candidate's (the served name, or the deployment id
    LiteLLM knows), only the keys the route allows for its kind (``OPENAI_REQUEST_KEYS``, plus
    ``VLLM_SAMPLING_KEYS`` for a self-hosted one), and on a stream ``stream_options`` reduced to
    ``{"include_usage": true}`` so every stream ends with its usage (the token limits settle from it)."""
    allowed = OPENAI_REQUEST_KEYS.get(path, frozenset[str]())
    if candidate.kind == KIND_DIRECT and path != "/v1/embeddings":
        allowed = allowed | VLLM_SAMPLING_KEYS
    out = {k: v for k, v in body.items() if k in allowed}
    out["model"] = candidate.model
    if out.get("stream") is True:
        out["stream_options"] = {"include_usage": True}
    else:
        out.pop("stream_options", None)
    return json.dumps(out, separators=(",", ":")).encode()


def client_wants_usage(body: Mapping[str, object]) -> bool:
    """The client asked for the usage event itself (``stream_options.include_usage: true``)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and cast(dict[str, object], options).get("include_usage") is True


_EVENT_END = re.compile(rb"\r?\n\r?\n")
HELD_MAX_BYTES: Final = 1024 * 1024
"""``UsageFilter`` holds at most this much of an unfinished SSE event before passing it on as it is."""


class UsageFilter:
    """Reads a stream's usage event on the way through and, when the client did not ask for it, takes the
    usage-only event (``"choices": []`` with a ``usage`` object, which the front forced with
    ``include_usage``) out of what the client receives — what an OpenAI client expects of a stream it did
    not ask usage of. Only a chunk holding ``"usage"`` is parsed; with ``strip`` an unfinished event is held
    until its blank line (an SSE client cannot use half an event anyway). ``events`` counts ``data:`` lines:
    the completion estimate when a stream ends without its usage (the client hung up)."""

    def __init__(self, strip: bool) -> None:
        self.strip = strip
        self.usage: tuple[int | None, int | None] = (None, None)
        self.events = 0
        self._held = b""
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        # The last 4 bytes seen go before the chunk: a "data:" split across reads is counted once.
        joined = self._carry + chunk
        self.events += joined.count(b"data:")
        self._carry = joined[-4:]
        if not self.strip:
            return chunk
        data = self._held + chunk
        ends = list(_EVENT_END.finditer(data))
        if not ends:
            self._held = data if len(data) <= HELD_MAX_BYTES else b""
            return b"" if self._held else data
        cut = ends[-1].end()
        complete, self._held = data[:cut], data[cut:]
        if b'"usage"' not in complete:
            return complete
        kept: list[bytes] = []
        start = 0
        for end in ends:
            event = complete[start : end.end()]
            start = end.end()
            if not self._usage_only(event):
                kept.append(event)
        return b"".join(kept)

    def finish(self) -> bytes:
        held, self._held = self._held, b""
        return held

    def _usage_only(self, event: bytes) -> bool:
        if b'"usage"' not in event:
            return False
        for line in event.splitlines():
            if not line.startswith(b"data:"):
                continue
            try:
                parsed: object = json.loads(line[5:])
            except ValueError:
                return False
            if not isinstance(parsed, dict):
                return False
            found = usage_tokens(cast(dict[str, object], parsed).get("usage"))
            if found == (None, None):
                return False
            self.usage = found
            return not cast(dict[str, object], parsed).get("choices")
        return False


def usage_tokens(usage: object) -> tuple[int | None, int | None]:
    """(prompt, completion) tokens of an OpenAI ``usage`` object; None for what it lacks."""
    if not isinstance(usage, dict):
        return None, None
    u = cast(dict[str, object], usage)
    prompt, completion = u.get("prompt_tokens"), u.get("completion_tokens")
    return (
        prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else None,
        completion if isinstance(completion, int) and not isinstance(completion, bool) else None,
    )


def usage_from_json(body: bytes) -> tuple[int | None, int | None]:
    """Usage of a whole (non-streamed) JSON answer."""
    try:
        parsed: object = json.loads(body)
    except ValueError:
        return None, None
    return usage_tokens(cast(dict[str, object], parsed).get("usage")) if isinstance(parsed, dict) else (None, None)


def usage_from_sse_tail(tail: bytes) -> tuple[int | None, int | None]:
    """Usage from the last SSE ``data:`` events of a stream (OpenAI sends it in the last event before
    ``[DONE]`` when asked with ``stream_options.include_usage``; absent otherwise)."""
    for line in reversed(tail.split(b"\n")):
        line = line.strip()
        if not line.startswith(b"data:") or b'"usage"' not in line:
            continue
        try:
            event: object = json.loads(line[5:])
        except ValueError:
            continue
        if isinstance(event, dict):
            found = usage_tokens(cast(dict[str, object], event).get("usage"))
            if found != (None, None):
                return found
    return None, None


def status_class(status: int) -> str:
    """``2xx``, ``4xx``, … — the Prometheus ``code`` label."""
    return f"{status // 100}xx"


@dataclass
class RequestRecord:
    """One request as the log line and the counters record it (see ``front_contract.LOG_FIELDS``)."""

    route: str = ""
    consumer: str = ""
    served_by: str = fc.NONE
    deployment: str = ""
    fallback: bool = False
    status: int = 0
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    stream_events: int = 0  # SSE data events relayed (not logged): the estimate when a stream has no usage


def metric_values(record: RequestRecord) -> dict[str, int]:
    """The EMF metric values of one request, as ``fallback_alarms`` counts them: a request unless the
    front refused it itself (served by none, below 500, no deployment named — the backends' own 429s name
    one, so traffic every backend refused still counts and the silent alarm sees it); a fallback when a
    fallback or a provider served it; a self-hosted success when a self-hosted deployment answered 2xx."""
    front_refusal = record.served_by == fc.NONE and record.status < 500 and not record.deployment
    return {
        fc.METRIC_REQUESTS: 0 if front_refusal else 1,
        fc.METRIC_FALLBACKS: 1 if record.fallback or record.served_by == fc.PROVIDER else 0,
        fc.METRIC_SELF_HOSTED_OK: 1 if record.served_by == fc.SELF_HOSTED and 200 <= record.status < 300 else 0,
    }


def request_log_line(record: RequestRecord, *, stack: str, epoch_ms: int) -> dict[str, object]:
    """The one JSON line per request: the mark, ``LOG_FIELDS``, and — for a request naming a known route —
    a CloudWatch EMF block with the metric values and their dimensions (``stack``, ``route``), so
    CloudWatch Logs makes metrics of it with no agent. Never a prompt, a completion or a key."""
    line: dict[str, object] = {fc.REQUEST_LOG_MARK: 1}
    values = {
        "route": record.route,
        "consumer": record.consumer,
        "served_by": record.served_by,
        "deployment": record.deployment,
        "fallback": record.fallback,
        "status": record.status,
        "ttft_ms": None if record.ttft_ms is None else round(record.ttft_ms, 2),
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
    }
    line.update({name: values[name] for name in fc.LOG_FIELDS})
    if record.route:
        line["stack"] = stack
        line.update(metric_values(record))
        line["_aws"] = {
            "Timestamp": epoch_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": fc.METRIC_NAMESPACE,
                    "Dimensions": [list(fc.METRIC_DIMENSIONS)],
                    "Metrics": [
                        {"Name": name, "Unit": "Count"} for name in (fc.METRIC_REQUESTS, fc.METRIC_FALLBACKS, fc.METRIC_SELF_HOSTED_OK)
                    ],
                }
            ],
        }
    return line


def prometheus_text(counts: Mapping[tuple[str, str, str, str], int]) -> str:
    """``PROM_REQUESTS`` in the Prometheus text format, one sample per (route, served_by, fallback, code)."""
    out = [f"# HELP {fc.PROM_REQUESTS} Requests answered by the gateway front, by who served them.", f"# TYPE {fc.PROM_REQUESTS} counter"]
    for (route, served_by, fallback, code), n in sorted(counts.items()):
        labels = f'route="{_label(route)}",served_by="{served_by}",fallback="{fallback}",code="{code}"'
        out.append(f"{fc.PROM_REQUESTS}{{{labels}}} {n}")
    return "\n".join(out) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def error_body(message: str, kind: str) -> bytes:
    """An OpenAI-style error body (SDKs read ``error.message``)."""
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()


def who_served_headers(served_by: str, fallback: bool) -> dict[str, str]:
    """The two audit headers on every response."""
    return {fc.SERVED_BY_HEADER: served_by, fc.FALLBACK_HEADER: "true" if fallback else "false"}


# --- keys -------------------------------------------------------------------------------------------


def read_key_file(path: str) -> str | None:
    """A key file's value without surrounding whitespace (secret mounts often end in a newline); None when
    the file is missing, unreadable or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except OSError:
        return None
    return value or None


def files_signature(paths: Iterable[str]) -> tuple[tuple[int, int, int] | None, ...]:
    """What changes when a key file is rewritten or its mount's symlink swapped (inode, size, mtime), per
    file; None for a missing one. A ``stat`` each: cheap enough to take on every unknown key."""
    out: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


class KeyRing:
    """Accepted secret values and whose they are, with rotation that has no refusal window.

    ``read()`` returns {value: owner} from the sources (env vars, files). It is called at start, by
    ``refresh()`` (a background task, every ``refresh_seconds``), and on a key no value matches: at once when
    ``signature()`` (the key files' stat) changed since the last read — a rotated file is accepted by the
    very request that first presents the new value — else at most once per ``refresh_seconds``, so a flood
    of wrong keys costs a stat, not a read. A value that disappears from the sources stays accepted for
    ``grace_seconds`` (the rotation's old value). Comparison is constant-time against every value.
    """

    def __init__(
        self,
        read: Callable[[], Mapping[str, str]],
        *,
        signature: Callable[[], object] | None = None,
        grace_seconds: float = KEY_GRACE_SECONDS,
        refresh_seconds: float = KEY_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._signature = signature
        self._seen: object = None
        self._grace = grace_seconds
        self._refresh_every = refresh_seconds
        self._clock = clock
        self._current: dict[str, str] = {}
        self._retired: dict[str, tuple[str, float]] = {}  # value -> (owner, accepted until)
        self._last_read = -math.inf
        self.refresh()

    def refresh(self) -> None:
        """Re-read the sources; a value gone from them starts its grace period."""
        now = self._clock()
        self._last_read = now
        if self._signature is not None:
            self._seen = self._signature()
        fresh = dict(self._read())
        for value, owner in self._current.items():
            if value not in fresh:
                self._retired[value] = (owner, now + self._grace)
        for value in fresh:
            self._retired.pop(value, None)
        self._retired = {v: (o, until) for v, (o, until) in self._retired.items() if until > now}
        self._current = fresh

    def _match(self, presented: bytes) -> str | None:
        found: str | None = None
        now = self._clock()
        candidates: Iterable[tuple[str, str]] = [
            *self._current.items(),
            *((v, o) for v, (o, until) in self._retired.items() if until > now),
        ]
        for value, owner in candidates:  # no early exit: the time taken does not say which value matched
            if hmac.compare_digest(value.encode(), presented) and found is None:
                found = owner
        return found

    def _stale(self) -> bool:
        if self._signature is not None and self._signature() != self._seen:
            return True
        return self._clock() - self._last_read >= self._refresh_every

    def owner(self, presented: str) -> str | None:
        """Whose value ``presented`` is, or None. An unknown value re-reads the sources first when they
        may have changed (see the class)."""
        raw = presented.encode()
        found = self._match(raw)
        if found is None and self._stale():
            self.refresh()
            found = self._match(raw)
        return found


def edge_key_reader(envs: Iterable[str], files: Iterable[str], environ: Mapping[str, str]) -> Callable[[], Mapping[str, str]]:
    """Mode edge: every non-empty value of the env vars and files is an accepted edge key."""
    env_list, file_list = list(envs), list(files)

    def read() -> Mapping[str, str]:
        out: dict[str, str] = {}
        for name in env_list:
            value = (environ.get(name) or "").strip()
            if value:
                out[value] = f"env:{name}"
        for path in file_list:
            value = read_key_file(path)
            if value:
                out[value] = f"file:{path}"
        return out

    return read


def key_file_lines(path: str) -> list[str]:
    """Every non-empty line of a key file, stripped: a consumer's secret may hold its new key and, during a
    rotation, its old one on a second line, so an instance started mid-rotation accepts both."""
    value = read_key_file(path)
    return [line.strip() for line in value.splitlines() if line.strip()] if value else []


def consumer_key_reader(files: Mapping[str, str]) -> Callable[[], Mapping[str, str]]:
    """Mode keys: each consumer's key file → {key: consumer}, one key per non-empty line (``key_file_lines``).
    A value two consumers share is nobody's (it cannot say who is asking)."""

    def read() -> Mapping[str, str]:
        out: dict[str, str] = {}
        shared: set[str] = set()
        for consumer, path in sorted(files.items()):
            for value in key_file_lines(path):
                if value in out and out[value] != consumer:
                    shared.add(value)
                out[value] = consumer
        return {v: c for v, c in out.items() if v not in shared}

    return read


@dataclass(frozen=True)
class Identity:
    """Who is asking: ``consumer`` when known, else the refusal (``status``, ``reason``)."""

    consumer: str | None
    status: int = 200
    reason: str = ""


NOT_A_CONSUMER_KEY: Final = "this key is no consumer's key; requests carry the consumer's own key"
"""The 403 reason for a key the front knows but no consumer may present (never the key itself)."""


def decide_identity(
    mode: str,
    authorization: str | None,
    consumer_header: str | None,
    *,
    keys: KeyRing,
    granted: Mapping[str, object],
    known: KeyRing | None = None,
) -> Identity:
    """Mode edge: the bearer must be an edge key AND the consumer header must name a granted consumer —
    the edge key without the header (a client holding the key, not the edge) is 403. Mode keys: the
    bearer must be a consumer's key; the consumer header is ignored and no edge key is accepted.

    ``known``: values the front recognises that are no consumer's credential (LiteLLM's per-boot key in both
    modes; in mode keys the edge key too, if one is configured). Presented as the bearer they are 403 — the
    key is real but refused for a client (issue 15: "the master key presented by a client → 403") — where a
    value nothing knows is 401."""
    token = bearer(authorization)
    if token is None:
        return Identity(None, 401, "an Authorization: Bearer <key> header is required")
    if known is not None and known.owner(token) is not None:
        return Identity(None, 403, NOT_A_CONSUMER_KEY)
    owner = keys.owner(token)
    if owner is None:
        return Identity(None, 401, "the key is not valid")
    if mode == fc.IDENTITY_KEYS:
        return Identity(owner)
    name = (consumer_header or "").strip()
    if not name:
        return Identity(None, 403, "requests reach this gateway through its edge, which names the consumer")
    if name not in granted:
        return Identity(None, 403, "no grant for this consumer")
    return Identity(name)


# --- the server -------------------------------------------------------------------------------------


class _Failed(Exception):
    """A candidate failed before its first byte (the chain goes on)."""

    def __init__(self, status: int | None, retry_after: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class Front:
    """The request handler and its state (grants, breaker, keys, counters, the upstream session)."""

    def __init__(self, config: FrontConfig, loopback_key: str | None, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        grants = grants_from_document(config.grants)
        self.granted = grants
        self.limiter = Limiter(grants)
        self.chains = chains_from_document(config.routing)
        self.private = private_from_document(config.routing)
        self.models = list(self.chains)
        self.breaker = Breaker(config.allowed_fails, config.cooldown_seconds)
        self.loopback_key = loopback_key
        edge_keys = edge_key_reader(config.edge_key_envs, config.edge_key_files, self.environ)
        loopback: dict[str, str] = {loopback_key: "loopback"} if loopback_key else {}
        read: Callable[[], Mapping[str, str]]
        known_read: Callable[[], Mapping[str, str]]
        files: tuple[str, ...]
        if config.identity == fc.IDENTITY_EDGE:
            read, files = edge_keys, config.edge_key_files
            known_read = lambda: loopback  # noqa: E731
        else:
            read, files = consumer_key_reader(config.consumer_key_files), tuple(config.consumer_key_files.values())
            known_read = lambda: {**edge_keys(), **loopback}  # noqa: E731
        self.keys = KeyRing(
            read,
            signature=lambda: files_signature(files),
            grace_seconds=config.key_grace_seconds,
            refresh_seconds=config.key_refresh_seconds,
        )
        # Keys the front knows that no client may present: 403 instead of 401 (``decide_identity``).
        self.known = KeyRing(
            known_read,
            signature=lambda: files_signature(config.edge_key_files),
            grace_seconds=config.key_grace_seconds,
            refresh_seconds=config.key_refresh_seconds,
        )
        self.counts: dict[tuple[str, str, str, str], int] = {}
        self.ready: Callable[[], bool] = lambda: True
        self.draining = False
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle

    def app(self) -> web.Application:
        app = web.Application(client_max_size=CLIENT_MAX_BYTES, handler_args={"tcp_keepalive": True})
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _app: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=30, enable_cleanup_closed=True)
        # No session-wide deadline (aiohttp's default is 300 s in total): each call has its own first-byte
        # wait and each stream its per-chunk wait, from the route's timeouts.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False, trust_env=False)
        self._refresher = asyncio.create_task(self._refresh_keys())

    async def _stop(self, _app: web.Application) -> None:
        self._refresher.cancel()
        if self._session is not None:
            await self._session.close()

    async def _refresh_keys(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.config.key_refresh_seconds))
            self.keys.refresh()
            self.known.refresh()

    # -- records

    def _finish(self, record: RequestRecord) -> None:
        key = (record.route, record.served_by, "true" if record.fallback else "false", status_class(record.status))
        self.counts[key] = self.counts.get(key, 0) + 1
        line = request_log_line(record, stack=self.config.stack, epoch_ms=int(time.time() * 1000))
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def _json(
        self, record: RequestRecord, status: int, body: bytes, *, started: float, extra: Mapping[str, str] | None = None
    ) -> web.Response:
        record.status = status
        if record.ttft_ms is None:
            record.ttft_ms = (time.monotonic() - started) * 1000
        headers = {**who_served_headers(record.served_by, record.fallback), **(extra or {})}
        return web.Response(status=status, body=body, content_type="application/json", headers=headers)

    # -- the handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = decide_endpoint(request.method, request.path)
        if endpoint == ENDPOINT_LIVENESS:
            return web.json_response({"status": "alive"}, headers=who_served_headers(fc.NONE, False))
        if endpoint == ENDPOINT_READINESS:
            ok = self.ready() and not self.draining
            return web.json_response(
                {"status": "ready" if ok else "not ready"}, status=200 if ok else 503, headers=who_served_headers(fc.NONE, False)
            )
        if endpoint == ENDPOINT_METRICS:
            return web.Response(text=prometheus_text(self.counts), content_type="text/plain", headers=who_served_headers(fc.NONE, False))
        started = time.monotonic()
        record = RequestRecord()
        try:
            if endpoint != ENDPOINT_INFERENCE:
                # The routes that exist, not the path asked: a path may carry what a client pasted by mistake.
                message = "no such route; this gateway serves " + ", ".join(f"{m} {p}" for m, p in fc.INFERENCE_ROUTES)
                return self._json(record, 404, error_body(message, "not_found_error"), started=started)
            return await self._inference(request, record, started)
        except web.HTTPRequestEntityTooLarge:
            message = f"the request body is above {CLIENT_MAX_BYTES // (1024 * 1024)} MiB"
            return self._json(record, 413, error_body(message, "invalid_request_error"), started=started)
        except Exception as err:  # a bug must still answer with the headers and leave its log line
            _say(f"error answering a request: {type(err).__name__}")  # the type only: a message may quote the body
            record.served_by, record.deployment = fc.NONE, ""
            return self._json(record, 500, error_body("the gateway failed to answer this request", "server_error"), started=started)
        finally:
            self._finish(record)

    async def _inference(self, request: web.Request, record: RequestRecord, started: float) -> web.StreamResponse:
        who = decide_identity(
            self.config.identity,
            request.headers.get("Authorization"),
            request.headers.get(fc.CONSUMER_HEADER),
            keys=self.keys,
            granted=self.granted,
            known=self.known,
        )
        if who.consumer is None:
            kind = "authentication_error" if who.status == 401 else "permission_error"
            return self._json(record, who.status, error_body(who.reason, kind), started=started)
        consumer = record.consumer = who.consumer
        if request.method == "GET":  # /v1/models: only the consumer's own models
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "pulumi-llm"}
                for m in visible_models(self.granted[consumer], self.models)
            ]
            return self._json(record, 200, json.dumps({"object": "list", "data": data}).encode(), started=started)
        body: dict[str, object] | None = None
        with contextlib.suppress(ValueError):
            parsed: object = json.loads(await request.read())
            body = cast(dict[str, object], parsed) if isinstance(parsed, dict) else None
        if body is not None and isinstance(body.get("model"), str) and body["model"] in self.chains:
            record.route = cast(str, body["model"])  # only a known group: labels stay a closed set
        grant = self.granted[consumer]
        if body is not None and record.route and record.route in grant.models:
            # Before the limiter: a refused key costs no quota (and never reaches LiteLLM; see OPENAI_REQUEST_KEYS).
            self_hosted = any(c.kind == KIND_DIRECT for c in self.chains[record.route])
            key = refused_key(request.path, body, self_hosted=self_hosted)
            if key is not None:
                message = f"{key[:100]}: not a parameter this gateway sends on for {request.path}"
                return self._json(record, 400, error_body(message, "invalid_request_error"), started=started)
        decision = self.limiter.admit(consumer, request.method, request.path, body)
        if decision.status != 200 or decision.body is None:
            extra = {"Retry-After": str(decision.retry_after)} if decision.retry_after is not None else None
            kind = {400: "invalid_request_error", 403: "permission_error", 429: "rate_limit_error"}.get(decision.status, "not_found_error")
            return self._json(record, decision.status, error_body(decision.reason, kind), started=started, extra=extra)
        actual: int | None = None
        try:
            response = await self._serve(request, record, decision.body, started)
            if record.prompt_tokens is not None or record.completion_tokens is not None:
                actual = (record.prompt_tokens or 0) + (record.completion_tokens or 0)
            elif record.stream_events:
                # A stream that ended without its usage (the client hung up first): its data events
                # (about a token each) on top of the prompt estimate, so a cut stream still counts.
                actual = estimate_prompt_tokens(request.path, decision.body) + record.stream_events
            return response
        finally:
            self.limiter.settle(consumer, decision.reserved_tokens, actual)

    async def _serve(self, request: web.Request, record: RequestRecord, body: dict[str, object], started: float) -> web.StreamResponse:
        group = str(body.get("model"))
        chain = self.chains.get(group)
        if not chain:
            return self._json(record, 404, error_body(f"model {group[:100]!r} is not served here", "not_found_error"), started=started)
        statuses: list[int | None] = []
        retry_after: str | None = None
        last_limited = ""
        ordered = self.breaker.order(chain)
        for i, candidate in enumerate(ordered):
            try:
                return await self._attempt(request, record, candidate, body, started, last=i == len(ordered) - 1)
            except _Failed as failed:
                statuses.append(failed.status)
                retry_after = failed.retry_after or retry_after
                last_limited = candidate.deployment if failed.status == 429 else last_limited
                self.breaker.failed(candidate.deployment)
        # Nothing could serve. Said as a service problem (503), or as the backends' rate limit (429) when
        # that is all they said; never a provider call for a private group (its chain has none).
        record.served_by, record.fallback, record.deployment = fc.NONE, False, ""
        wait = retry_after if retry_after and retry_after.isdigit() else str(self.config.retry_after_seconds)
        if statuses and all(s == 429 for s in statuses):
            # The traffic arrived and reached the backends: the line names the last of them, so the
            # request counts (Requests, the silent alarm) although it is a 429 nobody served.
            record.deployment = last_limited
            return self._json(
                record,
                429,
                error_body(f"{group} is rate limited upstream; retry after {wait} s", "rate_limit_error"),
                started=started,
                extra={"Retry-After": wait},
            )
        scope = "it is private: no external provider is called. " if group in self.private else ""
        message = f"no deployment of {group} can serve right now; {scope}Retry after {wait} s."
        return self._json(record, 503, error_body(message, "service_unavailable"), started=started, extra={"Retry-After": wait})

    def _upstream_headers(self, candidate: Candidate) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        key = self.environ.get(candidate.key_env) if candidate.key_env else self.loopback_key if candidate.kind != KIND_DIRECT else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    async def _attempt(
        self, request: web.Request, record: RequestRecord, candidate: Candidate, body: dict[str, object], started: float, last: bool
    ) -> web.StreamResponse:
        """Call one candidate. Raises _Failed before the first byte; after it, the answer is the client's.
        One deadline covers the answer's headers and its first body byte (``stream_timeout_seconds`` for a
        stream, ``timeout_seconds`` otherwise)."""
        url = upstream_url(candidate, request.path, self.config.litellm_url, self.environ)
        if url is None or self._session is None:
            raise _Failed(None)
        stream = body.get("stream") is True
        deadline = time.monotonic() + (candidate.stream_timeout_seconds if stream else candidate.timeout_seconds)
        try:
            upstream = await asyncio.wait_for(
                self._session.post(
                    url, data=upstream_body(body, candidate, request.path), headers=self._upstream_headers(candidate), allow_redirects=False
                ),
                timeout=max(0.0, deadline - time.monotonic()),
            )
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise _Failed(None) from None
        try:
            verdict = decide_attempt(upstream.status)
            if verdict == ATTEMPT_NEXT:
                raise _Failed(upstream.status, upstream.headers.get("Retry-After"))
            headers = {k: v for k, v in upstream.headers.items() if k.lower() in PASSED_RESPONSE_HEADERS}
            headers.update(who_served_headers(candidate.served_by, candidate.fallback))
            if stream and verdict == ATTEMPT_SERVE and last and self.config.keepalive_seconds > 0:
                # Nothing after this candidate: the status can go out now, with SSE comments while the
                # model has not said its first token, so no idle timeout of an edge cuts a slow start.
                return await self._relay(request, record, candidate, upstream, None, headers, started, deadline, body)
            try:
                first = await asyncio.wait_for(
                    upstream.content.readany() if stream else upstream.read(), timeout=max(0.0, deadline - time.monotonic())
                )
            except (aiohttp.ClientError, TimeoutError, OSError):
                raise _Failed(None) from None
            if verdict == ATTEMPT_SERVE and not first:
                raise _Failed(None)  # 2xx with no body at all: nothing was served
            record.served_by, record.fallback, record.deployment = candidate.served_by, candidate.fallback, candidate.deployment
            record.status = upstream.status
            if not stream or verdict == ATTEMPT_PASS:
                whole = first + (await upstream.read() if stream else b"")
                record.ttft_ms = (time.monotonic() - started) * 1000
                record.prompt_tokens, record.completion_tokens = usage_from_json(whole)
                if verdict == ATTEMPT_SERVE:
                    self.breaker.succeeded(candidate.deployment)
                return web.Response(status=upstream.status, body=whole, headers=headers)
            return await self._relay(request, record, candidate, upstream, first, headers, started, deadline, body)
        finally:
            upstream.release()

    async def _first_with_keepalives(self, response: web.StreamResponse, upstream: aiohttp.ClientResponse, deadline: float) -> bytes:
        """The stream's first bytes, writing an SSE comment every ``keepalive_seconds`` meanwhile; b"" when
        the deadline passed or the upstream ended first."""
        reading = asyncio.ensure_future(upstream.content.readany())
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return b""
                done, _ = await asyncio.wait({reading}, timeout=min(left, self.config.keepalive_seconds))
                if done:
                    return reading.result()
                await response.write(KEEPALIVE)
        except (aiohttp.ClientError, OSError):
            return b""
        finally:
            if not reading.done():
                reading.cancel()

    async def _relay(
        self,
        request: web.Request,
        record: RequestRecord,
        candidate: Candidate,
        upstream: aiohttp.ClientResponse,
        first: bytes | None,
        headers: Mapping[str, str],
        started: float,
        deadline: float,
        body: Mapping[str, object],
    ) -> web.StreamResponse:
        """Pass a stream through chunk by chunk, as it arrives (no buffering; only a chunk holding ``"usage"``
        is parsed, see ``UsageFilter``). ``first`` None: the status goes out now and the first bytes are
        awaited behind keep-alives."""
        record.served_by, record.fallback, record.deployment = candidate.served_by, candidate.fallback, candidate.deployment
        record.status = upstream.status
        response = web.StreamResponse(status=upstream.status, headers=headers)
        await response.prepare(request)
        if first is None:
            first = await self._first_with_keepalives(response, upstream, deadline)
            if not first:
                # The status line is out: the failure is an SSE error event. Logged as 504 (the client
                # got no answer), so it counts as a failed request rather than a self-hosted success.
                self.breaker.failed(candidate.deployment)
                record.served_by, record.status = fc.NONE, 504
                message = f"{candidate.group}: no answer within {candidate.stream_timeout_seconds:g} s"
                with contextlib.suppress(ConnectionResetError, OSError):
                    await response.write(b"data: " + error_body(message, "timeout") + b"\n\n")
                    await response.write_eof()
                return response
        usage = UsageFilter(strip=not client_wants_usage(body))
        opening = usage.feed(first)
        if opening:
            await response.write(opening)
        record.ttft_ms = (time.monotonic() - started) * 1000
        tail = first[-TAIL_BYTES:]
        complete = False
        try:
            while True:
                chunk = await asyncio.wait_for(upstream.content.readany(), timeout=candidate.stream_timeout_seconds)
                if not chunk:
                    complete = True
                    break
                out = usage.feed(chunk)
                if out:
                    await response.write(out)
                tail = (tail + chunk)[-TAIL_BYTES:]
            rest = usage.finish()
            if rest:
                await response.write(rest)
        except (aiohttp.ClientError, TimeoutError, OSError):
            pass  # after the first byte a failure is the client's to see: the stream ends here
        record.stream_events = usage.events
        found = usage.usage if usage.usage != (None, None) else usage_from_sse_tail(tail)
        record.prompt_tokens, record.completion_tokens = found
        if complete:
            self.breaker.succeeded(candidate.deployment)
            with contextlib.suppress(ConnectionResetError, OSError):
                await response.write_eof()
        return response


# --- boot: LiteLLM on loopback, then the front ------------------------------------------------------


def _die_with_parent() -> None:
    """In LiteLLM's process: SIGTERM when the front dies without stopping it (Linux prctl PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def litellm_environment(environ: Mapping[str, str], loopback_key: str, edge_key_envs: Iterable[str]) -> dict[str, str]:
    """LiteLLM's environment: the front's, without the edge key(s) and the front's own config, with the
    per-boot master key as ``LITELLM_MASTER_KEY`` (its config reads ``os.environ/LITELLM_MASTER_KEY``)."""
    dropped = {*edge_key_envs, EDGE_KEY_ENV, EDGE_KEY_PREVIOUS_ENV}
    env = {k: v for k, v in environ.items() if k not in dropped and not k.startswith("PULUMI_LLM_FRONT")}
    env["LITELLM_MASTER_KEY"] = loopback_key
    return env


def litellm_command(config_path: str, litellm_url: str) -> list[str]:
    """``litellm --config … --host 127.0.0.1 --port <loopback>`` (the console script beside this Python
    when there is one, else on PATH)."""
    beside = os.path.join(os.path.dirname(sys.executable), "litellm")
    exe = beside if os.path.exists(beside) else (shutil.which("litellm") or "litellm")
    port = litellm_url.rsplit(":", 1)[-1].split("/", 1)[0]
    return [exe, "--config", config_path, "--host", "127.0.0.1", "--port", port, "--telemetry", "False"]


async def _litellm_ready(url: str, proc: asyncio.subprocess.Process, deadline: float) -> bool:
    async with aiohttp.ClientSession(trust_env=False) as session:
        while time.monotonic() < deadline and proc.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                async with session.get(url + fc.READINESS_PATH, timeout=aiohttp.ClientTimeout(total=5)) as answer:
                    if answer.status == 200:
                        return True
            await asyncio.sleep(0.5)
    return False


async def _stop_process(proc: asyncio.subprocess.Process, seconds: float = 20.0) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout=seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def _say(message: str) -> None:
    sys.stderr.write(f"pulumi-llm front: {message}\n")
    sys.stderr.flush()


async def serve(config: FrontConfig, litellm_config: str | None) -> int:
    """Start LiteLLM on loopback (when a chain needs it), wait for it, serve on the engine port until
    SIGTERM/SIGINT, drain, stop LiteLLM. Returns the exit code (non-zero when LiteLLM failed)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    chains = chains_from_document(config.routing)
    needs_litellm = litellm_config is not None and any(c.kind != KIND_DIRECT for chain in chains.values() for c in chain)
    loopback_key = secrets.token_urlsafe(32) if needs_litellm else None
    proc: asyncio.subprocess.Process | None = None
    if needs_litellm and litellm_config is not None and loopback_key is not None:
        env = litellm_environment(os.environ, loopback_key, config.edge_key_envs)
        proc = await asyncio.create_subprocess_exec(
            *litellm_command(litellm_config, config.litellm_url),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        waiting = asyncio.create_task(_litellm_ready(config.litellm_url, proc, time.monotonic() + LITELLM_START_SECONDS))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if stop.is_set() or not waiting.result():
            waiting.cancel()
            _say("LiteLLM did not become ready" if not stop.is_set() else "stopped during start")
            await _stop_process(proc)
            return 0 if stop.is_set() else 1
    front = Front(config, loopback_key)
    front.ready = (lambda: proc.returncode is None) if proc is not None else (lambda: True)
    runner = web.AppRunner(front.app(), shutdown_timeout=config.drain_seconds, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port, reuse_address=True).start()
    _say(f"serving on {config.host}:{config.port} ({config.identity} identity, LiteLLM {'on loopback' if proc else 'not needed'})")
    waits: set[asyncio.Task[object]] = {asyncio.create_task(stop.wait())}
    if proc is not None:
        waits.add(asyncio.create_task(proc.wait()))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
    code = 0 if stop.is_set() else 1
    if code:
        _say("LiteLLM exited; stopping so the platform restarts the container")
    front.draining = True
    await runner.cleanup()  # stops listening, lets open requests finish for drain_seconds
    if proc is not None:
        await _stop_process(proc)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pulumi_llm_front.front_server", description="The pulumi-llm gateway front.")
    parser.add_argument("--config", required=True, help="the front's JSON config (engine.front_config)")
    parser.add_argument("--litellm-config", default=None, help="LiteLLM's config; started on loopback when a chain needs it")
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as handle:
            loaded: object = json.load(handle)
        if not isinstance(loaded, dict):
            raise ValueError("front config: not a JSON object")
        config = front_config_from_document(cast(dict[str, object], loaded))
        grants_from_document(config.grants)
        chains_from_document(config.routing)
    except (OSError, ValueError) as err:
        _say(str(err).splitlines()[0])
        return 2
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop  # pyright: ignore[reportMissingImports] - shipped in the LiteLLM image, not in the project env

        loop_factory = cast(Callable[[], asyncio.AbstractEventLoop], uvloop.new_event_loop)  # pyright: ignore[reportUnknownMemberType] - no stubs here
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(serve(config, args.litellm_config))


if __name__ == "__main__":
    raise SystemExit(main())
