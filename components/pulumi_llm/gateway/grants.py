"""Each consumer's grant and its enforcement in the front, before anything behind the front is called.

A grant is what a consumer may do: which model groups it calls, the cap on ``max_tokens`` per request
and its requests and tokens per minute and per day. ``decide_request`` is the pure part (route, body,
model, cap); ``Limiter`` adds the per-minute and per-day windows.

Ships into the engine's container as part of the front's package: standard library only.

What the front does with a request (in this order, so a refused request costs no quota):

1. ``(method, path)`` not one of ``front_contract.INFERENCE_ROUTES`` → 404.
2. ``GET /v1/models`` → admitted, never limited (it lists only the consumer's models: ``visible_models``).
3. The body is not a JSON object (the front passes ``None`` when it does not parse) → 400; ``model``
   missing or not a non-empty string → 400; ``max_tokens`` / ``max_completion_tokens`` present but not a
   positive whole number → 400.
4. ``model`` not in the grant → 403, naming that model and saying it is not granted to this consumer
   (never which models are, nor another consumer's).
5. With a ``max_tokens`` cap: each of ``max_tokens`` / ``max_completion_tokens`` above the cap is lowered
   to the cap; when neither is present, ``max_tokens`` is set to the cap (``FILLED_KEY``). Embeddings have
   no completion, so no cap.
6. ``Limiter``: requests per minute / day and tokens per minute / day, sliding windows in this process;
   over a limit → 429 with Retry-After = the seconds until that window admits the request again.

Token accounting: at admit the limiter reserves the prompt estimate (``estimate_prompt_tokens``: UTF-8
bytes / 4, rounded up, plus 4 per chat message) plus the request's completion allowance (its capped
``max_tokens``; 0 when it has none and the grant no cap). When the response ends, the front calls
``settle`` with the usage the backend reported: the reservation is replaced by the actual count (unknown
usage keeps the reservation). The completion allowance counts once per completion asked for
(``completion_copies``: ``n``, ``best_of``, a batched ``prompt`` list). A single request whose reservation exceeds a whole token limit is admitted
only into an empty window, so a large prompt is not refused forever.

Per-instance: the windows live in this process's memory. With N front instances behind an edge, a
limit the edge does not enforce itself holds per instance — the aggregate bound is limit × N (the
gateway README says which edge enforces which limit exactly).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from .front_contract import INFERENCE_ROUTES

MODELS_ROUTE = ("GET", "/v1/models")
EMBEDDINGS_PATH = "/v1/embeddings"

CAPPED_KEYS = ("max_tokens", "max_completion_tokens")
COPY_KEYS = ("n", "best_of")
"""The request keys that multiply the completions generated (see ``completion_copies``)."""
"""The request keys that bound a completion's length (OpenAI chat uses both; completions ``max_tokens``)."""

FILLED_KEY = "max_tokens"
"""The key set to the cap when a request names neither of ``CAPPED_KEYS``. ``max_tokens`` because every
backend the front sends to takes it: vLLM's OpenAI server (chat and completions), and LiteLLM, which maps
it to ``max_completion_tokens`` for the models that refuse ``max_tokens`` (BerriAI/litellm,
litellm/llms/openai/chat/gpt_5_transformation.py, ``OpenAIGPT5Config.map_openai_params``; the o-series
config does the same)."""

BYTES_PER_TOKEN = 4
"""Prompt estimate: about four bytes of English text per token (OpenAI's rule of thumb for its BPE
tokenizers). Only the reservation uses it; ``settle`` replaces it with the backend's count."""

TOKENS_PER_MESSAGE = 4
"""Chat-template overhead per message in the prompt estimate (role markers and separators)."""

MINUTE = 60.0
DAY = 86_400.0

_MINUTE_GRANULARITY = 1.0
_DAY_GRANULARITY = 60.0
"""Window buckets: 1 s for the minute windows, 60 s for the day windows, so a consumer's state is at most
60 + 1440 buckets per window whatever its limits. A bucket counts until its latest addition + the span
(never early), so no span-long interval ever holds more than the limit."""

_REASON_MAX_MODEL = 100
"""A client-sent model name is echoed in a 403 at most this long."""


@dataclass(frozen=True)
class Grant:
    """What one consumer may do.

    consumer: its name (the edge's ``x-pulumi-llm-consumer`` value or the key's owner). Required.
    models: the model groups it may call. Required (at least one, validated where grants are built).
    max_tokens: cap on ``max_tokens`` / ``max_completion_tokens`` per request; None = no cap.
    requests_per_minute / requests_per_day: requests admitted per sliding minute / 24 hours; None = no limit.
    tokens_per_minute / tokens_per_day: prompt + completion tokens per sliding minute / 24 hours; None = no limit.
    """

    consumer: str
    models: tuple[str, ...]
    max_tokens: int | None = None
    requests_per_minute: int | None = None
    requests_per_day: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None


_LIMIT_KEYS = ("max_tokens", "requests_per_minute", "requests_per_day", "tokens_per_minute", "tokens_per_day")


def grants_document(grants: Mapping[str, Grant]) -> dict[str, object]:
    """The grants as JSON-able data (the ``grants`` key of the front's config), consumers sorted by name."""
    consumers: dict[str, object] = {}
    for name in sorted(grants):
        g = grants[name]
        entry: dict[str, object] = {"models": list(g.models)}
        for key in _LIMIT_KEYS:
            entry[key] = getattr(g, key)
        consumers[name] = entry
    return {"version": 1, "consumers": consumers}


def _whole(value: object, at: str, *, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"grants document: {at} = {value!r}: allowed a positive whole number{' or null' if optional else ''}")
    return value


def grants_from_document(doc: Mapping[str, object]) -> dict[str, Grant]:
    """Read back ``grants_document``'s output; ValueError (one line) on anything else, so a front with a
    broken config refuses to start rather than admitting everyone."""
    if doc.get("version") != 1:
        raise ValueError(f"grants document: version = {doc.get('version')!r}: allowed 1")
    consumers = doc.get("consumers")
    if not isinstance(consumers, dict):
        raise ValueError("grants document: consumers: allowed an object of consumer name to grant")
    out: dict[str, Grant] = {}
    for name, raw in cast(dict[object, object], consumers).items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"grants document: consumer name {name!r}: allowed a non-empty string")
        if not isinstance(raw, dict):
            raise ValueError(f"grants document: consumers.{name}: allowed an object")
        entry = {str(k): v for k, v in cast(dict[object, object], raw).items()}
        unknown = sorted(set(entry) - {"models", *_LIMIT_KEYS})
        if unknown:
            raise ValueError(f"grants document: consumers.{name}.{unknown[0]}: not a grant key")
        models = entry.get("models")
        names = cast(list[object], models) if isinstance(models, list) else []
        if not names or not all(isinstance(m, str) and m for m in names):
            raise ValueError(f"grants document: consumers.{name}.models = {models!r}: allowed a non-empty list of model names")
        limits = {key: _whole(entry.get(key), f"consumers.{name}.{key}", optional=True) for key in _LIMIT_KEYS}
        out[name] = Grant(
            consumer=name,
            models=tuple(str(m) for m in names),
            max_tokens=limits["max_tokens"],
            requests_per_minute=limits["requests_per_minute"],
            requests_per_day=limits["requests_per_day"],
            tokens_per_minute=limits["tokens_per_minute"],
            tokens_per_day=limits["tokens_per_day"],
        )
    return out


@dataclass(frozen=True)
class Decision:
    """What the front does with one request.

    status: 200 admit; 400 bad body; 403 model not granted; 404 no such route; 429 over a limit.
    reason: one line for the client (names the model or the limit; never a key, never other consumers' models).
    retry_after: whole seconds until the window admits the request again (429 only), at least 1.
    body: the body to send on, with ``max_tokens`` capped or filled (admitted POSTs only; None otherwise).
    reserved_tokens: the tokens counted for this request until ``Limiter.settle`` (decide_request: what it
        would reserve — prompt estimate + completion allowance; 0 when refused).
    """

    status: int
    reason: str
    retry_after: int | None = None
    body: dict[str, object] | None = None
    reserved_tokens: int = 0

    @property
    def admitted(self) -> bool:
        return self.status == 200


def _refuse(status: int, reason: str) -> Decision:
    return Decision(status=status, reason=reason)


def _text_bytes(value: object) -> int:
    """UTF-8 bytes of the text in a prompt-like value: a string, a list of strings or token ids, or chat
    content parts (``{"type": "text", "text": …}``); other parts (images) count nothing."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace"))
    if isinstance(value, list):
        total = 0
        for item in cast(list[object], value):
            if isinstance(item, int) and not isinstance(item, bool):
                total += BYTES_PER_TOKEN  # a token id is one token
            elif isinstance(item, dict):
                total += _text_bytes(cast(dict[str, object], item).get("text"))
            else:
                total += _text_bytes(item)
        return total
    return 0


def estimate_prompt_tokens(path: str, body: Mapping[str, object]) -> int:
    """A cheap upper-ish estimate of the prompt's tokens, without a tokenizer (see ``BYTES_PER_TOKEN``)."""
    if path == "/v1/chat/completions":
        messages = body.get("messages")
        if not isinstance(messages, list):
            return 0
        total_bytes = 0
        count = 0
        for message in cast(list[object], messages):
            count += 1
            if isinstance(message, dict):
                total_bytes += _text_bytes(cast(dict[str, object], message).get("content"))
        return math.ceil(total_bytes / BYTES_PER_TOKEN) + TOKENS_PER_MESSAGE * count
    key = "input" if path == EMBEDDINGS_PATH else "prompt"
    return math.ceil(_text_bytes(body.get(key)) / BYTES_PER_TOKEN)


def decide_request(grant: Grant, method: str, path: str, body: Mapping[str, object] | None) -> Decision:
    """Admit, cap or refuse one request by its route, body and the consumer's grant (no rate limits here).

    ``body`` is the parsed JSON body, or None when there is none or it did not parse."""
    if (method, path) not in INFERENCE_ROUTES:
        return _refuse(404, f"no such route: {method} {path[:200]}")
    if (method, path) == MODELS_ROUTE:
        return Decision(status=200, reason="ok")
    if not isinstance(body, Mapping):
        return _refuse(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _refuse(400, "model: required, the name of a model granted to this consumer")
    if model not in grant.models:
        shown = model if len(model) <= _REASON_MAX_MODEL else model[:_REASON_MAX_MODEL] + "…"
        return _refuse(403, f"model {shown!r} is not granted to consumer {grant.consumer}")
    out: dict[str, object] = dict(body)
    allowance = 0
    if path != EMBEDDINGS_PATH:
        for key in CAPPED_KEYS:
            if key not in out or out[key] is None:
                continue
            value = out[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                return _refuse(400, f"{key} = {value!r}: allowed a positive whole number")
            if grant.max_tokens is not None and value > grant.max_tokens:
                out[key] = grant.max_tokens  # capped, not refused: the client gets a (shorter) answer
            allowance = max(allowance, _as_int(out[key]))
        if allowance == 0 and grant.max_tokens is not None:
            out[FILLED_KEY] = grant.max_tokens
            allowance = grant.max_tokens
        for key in COPY_KEYS:
            value = out.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                return _refuse(400, f"{key} = {value!r}: allowed a positive whole number")
        allowance *= completion_copies(path, out)
    return Decision(status=200, reason="ok", body=out, reserved_tokens=estimate_prompt_tokens(path, out) + allowance)


def completion_copies(path: str, body: Mapping[str, object]) -> int:
    """How many completions one request asks for, each up to its ``max_tokens``: ``n`` (chat, completions),
    ``best_of`` (completions: generated server-side and billed, though only ``n`` come back), times the
    prompts of a batched completions request (``prompt`` a list of strings or of token-id lists). The
    completion allowance is reserved this many times, so ``n: 50`` cannot pass a token limit as one."""
    best_of = (_as_int(body.get("best_of")) or 1) if path == "/v1/completions" else 1
    copies = max(_as_int(body.get("n")) or 1, best_of)
    prompt = body.get("prompt") if path == "/v1/completions" else None
    if isinstance(prompt, list):
        items = cast(list[object], prompt)
        if items and all(isinstance(p, (str, list)) for p in items):
            copies *= len(items)
    return copies


def _as_int(value: object) -> int:
    return value if isinstance(value, int) else 0


def visible_models(grant: Grant, all_models: Sequence[str]) -> list[str]:
    """What ``GET /v1/models`` lists for this consumer: the models it is granted that exist, in
    ``all_models``' order."""
    granted = set(grant.models)
    return [m for m in all_models if m in granted]


@dataclass
class _Window:
    """A sliding window of amounts over ``span`` seconds, in buckets of ``granularity`` seconds.

    A bucket holds what was added in ``[k·g, (k+1)·g)`` and the time of its latest addition; all of it
    counts until that time + ``span``: nothing leaves the window early, and nothing stays more than
    ``g`` late."""

    span: float
    granularity: float
    buckets: deque[list[float]] = field(default_factory=deque[list[float]])  # [bucket index, amount, latest time]
    total: float = 0.0

    def expire(self, now: float) -> None:
        while self.buckets and self.buckets[0][2] + self.span <= now:
            self.total -= self.buckets.popleft()[1]
        if not self.buckets:
            self.total = 0.0  # no float drift across an idle period

    def add(self, now: float, amount: float) -> None:
        index = math.floor(now / self.granularity)
        if self.buckets and self.buckets[-1][0] == index:
            self.buckets[-1][1] += amount
            self.buckets[-1][2] = now
        else:
            self.buckets.append([index, amount, now])
        self.total += amount

    def refund(self, at: float, amount: float) -> None:
        """Take back up to ``amount`` from the bucket of time ``at``, if it still counts."""
        index = math.floor(at / self.granularity)
        for bucket in self.buckets:
            if bucket[0] == index:
                taken = min(bucket[1], amount)
                bucket[1] -= taken
                self.total -= taken
                return

    def wait(self, now: float, need: float, limit: float) -> float:
        """Seconds until ``need`` more fits under ``limit`` (0 when it fits now). A ``need`` above the
        whole limit fits once the window is empty."""
        need = min(need, limit)
        if self.total + need <= limit:
            return 0.0
        remaining = self.total
        for _index, amount, latest in self.buckets:
            remaining -= amount
            if remaining + need <= limit:
                return latest + self.span - now
        return 0.0  # unreachable: an empty window fits any need <= limit


@dataclass
class _State:
    grant: Grant
    windows: dict[str, tuple[_Window, int]]  # limit name -> (window, limit)
    pending: dict[int, deque[float]] = field(default_factory=dict[int, deque[float]])  # reservation -> admit times


_REQUEST_LIMITS = (("requests_per_minute", MINUTE, _MINUTE_GRANULARITY), ("requests_per_day", DAY, _DAY_GRANULARITY))
_TOKEN_LIMITS = (("tokens_per_minute", MINUTE, _MINUTE_GRANULARITY), ("tokens_per_day", DAY, _DAY_GRANULARITY))


class Limiter:
    """Each consumer's requests and tokens per minute and per day, as sliding windows in this process.

    ``clock`` returns seconds (monotonic); tests inject a fake one. Not thread-safe: the front runs on one
    event loop and calls it without awaiting in between."""

    def __init__(self, grants: Mapping[str, Grant], clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[str, _State] = {}
        for name, grant in grants.items():
            windows: dict[str, tuple[_Window, int]] = {}
            for key, span, granularity in (*_REQUEST_LIMITS, *_TOKEN_LIMITS):
                limit = getattr(grant, key)
                if limit is not None:
                    windows[key] = (_Window(span, granularity), limit)
            self._states[name] = _State(grant=grant, windows=windows)

    def grant(self, consumer: str) -> Grant | None:
        state = self._states.get(consumer)
        return state.grant if state is not None else None

    def admit(self, consumer: str, method: str, path: str, body: Mapping[str, object] | None) -> Decision:
        """``decide_request``, then the consumer's windows; an admitted request is counted at once (its
        request, and its token reservation until ``settle``). An unknown consumer gets 403."""
        state = self._states.get(consumer)
        if state is None:
            return _refuse(403, "no grant for this consumer")
        decision = decide_request(state.grant, method, path, body)
        if not decision.admitted or (method, path) == MODELS_ROUTE:
            return decision
        now = self._clock()
        reserve = decision.reserved_tokens
        waits: list[tuple[float, str, int]] = []
        for key, (window, limit) in state.windows.items():
            window.expire(now)
            need = 1 if key.startswith("requests_") else reserve
            wait = window.wait(now, need, limit)
            if wait > 0:
                waits.append((wait, key, limit))
        if waits:
            wait, key, limit = max(waits)
            retry = max(1, math.ceil(wait))
            return Decision(
                status=429, reason=f"{key} limit of {limit} reached for consumer {consumer}; retry after {retry} s", retry_after=retry
            )
        token_limited = False
        for key, (window, _limit) in state.windows.items():
            if key.startswith("requests_"):
                window.add(now, 1)
            else:
                window.add(now, reserve)
                token_limited = True
        if not token_limited:
            return Decision(status=200, reason="ok", body=decision.body, reserved_tokens=0)
        self._pend(state, reserve, now)
        return decision

    def _pend(self, state: _State, reserve: int, now: float) -> None:
        times = state.pending.setdefault(reserve, deque())
        while times and times[0] <= now - DAY:  # never settled (a dropped connection): its buckets are gone
            times.popleft()
        times.append(now)

    def settle(self, consumer: str, reserved_tokens: int, actual_tokens: int | None) -> None:
        """Replace a reservation by the tokens the request used (prompt + completion, as the backend
        reported them). ``actual_tokens`` None (not reported) keeps the reservation. Less than reserved is
        refunded where the reservation was counted; more is counted now."""
        state = self._states.get(consumer)
        if state is None or reserved_tokens <= 0:
            return
        times = state.pending.get(reserved_tokens)
        if not times:
            return
        at = times.popleft()  # equal reservations are interchangeable: settle the oldest
        if not times:
            del state.pending[reserved_tokens]
        if actual_tokens is None or actual_tokens == reserved_tokens:
            return
        now = self._clock()
        for key, (window, _limit) in state.windows.items():
            if key.startswith("requests_"):
                continue
            window.expire(now)
            if actual_tokens < reserved_tokens:
                window.refund(at, reserved_tokens - max(0, actual_tokens))
            else:
                window.add(now, actual_tokens - reserved_tokens)
