"""The gateway engine, run for real as every cloud boots it: ``python3 -c engine.BOOT`` with the configs
``engine.front_config`` and ``config.render_litellm_config`` render — the front on its port, LiteLLM on
loopback behind it with a master key the front made — in identity mode ``edge`` (AWS, Azure: the edge
sends the edge key and the consumer's name).

Behind it: the real vLLM CPU server serving a tiny model (the self-hosted route of a hybrid group) and a
local OpenAI-compatible stand-in (``support/fake_provider.py``) playing the API provider and self-hosted
servers that fail, hang, stream slowly or repeat one token 300 times. Everything listens on 127.0.0.1
and every process is stopped at the end (the engine by SIGTERM, which the front forwards to LiteLLM).

What must hold (issues 15 and 20): a consumer reaches only its models, capped and limited, and a
refusal calls nothing; only the inference routes exist; the edge key alone (no consumer) is refused
and its rotation has no 401 window; a self-hosted backend that is down, failing or stuck costs ZERO
failed requests out of 200 through the fallback, and the header, the log lines and the alarm
semantics say so; a looping model's stream arrives whole and cools nothing down; streams pass through
unbuffered; prompts and keys stay out of the logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.gateway import engine, fallback_alarms  # noqa: E402
from pulumi_llm.gateway import front_contract as fc  # noqa: E402
from pulumi_llm.gateway.config import (  # noqa: E402
    ENGINE_ENVIRONMENT,
    Consumer,
    GatewaySpec,
    ModelGroup,
    ProviderRoute,
    render_litellm_config,
    to_yaml,
)
from pulumi_llm.gateway.grants import Grant  # noqa: E402
from support.fake_provider import Behaviour, FakeProvider  # noqa: E402
from support.front_boot import BootedFront  # noqa: E402
from support.litellm_env import ensure_litellm_env  # noqa: E402
from support.vllm_env import ensure_vllm_env  # noqa: E402
from support.vllm_server import VllmServer, free_port  # noqa: E402

pytestmark = pytest.mark.integration

SUPPORT = Path(__file__).resolve().parent / "support"
# Test values created here; never real credentials.
EDGE_KEY = "sk-itest-edge-" + uuid.uuid4().hex[:12]
EDGE_KEY_PREVIOUS = "sk-itest-edge-previous-" + uuid.uuid4().hex[:12]
EDGE_KEY_FILE_OLD = "sk-itest-edge-file-old-" + uuid.uuid4().hex[:12]
EDGE_KEY_FILE_NEW = "sk-itest-edge-file-new-" + uuid.uuid4().hex[:12]
PROVIDER_KEY = "standin-provider-key"
VLLM_KEY = "itest-vllm-key"
SERVED = "tiny"
VLLM_ARGS = ["--served-model-name", SERVED, "--dtype", "float32", "--max-model-len", "256"]
STUCK_TIMEOUT = 2.0
RETRY_AFTER = 2
RPM = 3
CAP = 24
LIMITED_RPM = 3
KEEPALIVE = 1.0
COOLDOWN = 30
SAME_TOKENS = 300

WEB, BATCH, LIMITED = "web", "batch", "limited"
WEB_MODELS = (
    "hybrid",
    "provider",
    "hybrid-down",
    "hybrid-failing",
    "hybrid-stuck",
    "echo",
    "same-tokens",
    "direct-slow",
    "retry-after",
    "rate-limited",
    "slow-stream",
    "broken",
    "provider-same",
)


def gateway_spec(vllm_url: str, fake_url: str, dead_url: str) -> GatewaySpec:
    """The spec under test. Self-hosted stand-ins are self-hosted routes pointed at the stand-in."""

    def provider(name: str, model: str, **kw: Any) -> ProviderRoute:
        return ProviderRoute(name, "openai", model, api_base=fake_url, secret_env="STANDIN_OPENAI_KEY", **kw)

    def self_hosted(name: str, base: str, model: str = SERVED, **kw: Any) -> ProviderRoute:
        return ProviderRoute(name, "self-hosted", model, api_base=base, secret_env="SELF_HOSTED_API_KEY", **kw)

    return GatewaySpec(
        model_groups=(
            ModelGroup("hybrid", (self_hosted("vllm", vllm_url, timeout_seconds=60),), fallbacks=("provider",), retries=0),
            ModelGroup("provider", (provider("standin", "gpt-standin"),)),
            ModelGroup("hybrid-down", (self_hosted("vllm-down", dead_url, timeout_seconds=10),), fallbacks=("provider",), retries=0),
            ModelGroup(
                "hybrid-failing",
                (self_hosted("vllm-500", fake_url, "selfhosted-500", timeout_seconds=10),),
                fallbacks=("provider",),
                retries=0,
            ),
            ModelGroup(
                "hybrid-stuck",
                (self_hosted("vllm-stuck", fake_url, "selfhosted-stuck", timeout_seconds=STUCK_TIMEOUT),),
                fallbacks=("provider",),
                retries=0,
            ),
            ModelGroup("echo", (self_hosted("echo", fake_url, "selfhosted-echo"),), fallbacks=("provider",)),
            ModelGroup("same-tokens", (self_hosted("looping", fake_url, "selfhosted-same"),), fallbacks=("provider",)),
            ModelGroup("direct-slow", (self_hosted("slow", fake_url, "selfhosted-slow"),)),
            ModelGroup("retry-after", (provider("limited", "limited-429"),), retries=1),
            ModelGroup("rate-limited", (provider("rpm", "gpt-rpm", rpm=RPM),)),
            ModelGroup("slow-stream", (provider("slow", "slow-stream"),)),
            ModelGroup("broken", (provider("broken", "always-500"),), retries=0),
            ModelGroup("secret", (provider("standin", "secret-model"),)),  # granted to no consumer
            ModelGroup("provider-same", (provider("looping", "provider-same"),), retries=0),
        ),
        consumers=(Consumer(WEB, WEB_MODELS), Consumer(BATCH, ("provider",)), Consumer(LIMITED, ("provider",))),
        stream_keepalive_seconds=KEEPALIVE,
        cooldown_seconds=COOLDOWN,
    )


GRANTS = {
    WEB: Grant(WEB, WEB_MODELS, max_tokens=CAP),
    BATCH: Grant(BATCH, ("provider",)),
    LIMITED: Grant(LIMITED, ("provider",), requests_per_minute=LIMITED_RPM),
}


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    # It plays the provider (PROVIDER_KEY) and the self-hosted stand-ins (VLLM_KEY).
    with FakeProvider(api_key=(PROVIDER_KEY, VLLM_KEY)) as provider:
        yield provider


@pytest.fixture(scope="module")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    python = ensure_vllm_env()
    model = tmp_path_factory.mktemp("tiny")
    subprocess.run(
        [str(python), str(SUPPORT / "tiny_model.py"), str(model)],
        check=True,
        timeout=600,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    server = VllmServer(
        python,
        ["--model", str(model), *VLLM_ARGS],
        env={"VLLM_API_KEY": VLLM_KEY},
        log_path=tmp_path_factory.mktemp("vllm-log") / "vllm.log",
    )
    with server:
        print(f"\n[gateway-engine] vLLM ready in {server.seconds_to_models:.1f} s on {server.url}", file=sys.stderr)
        yield server


@dataclass
class Gateway:
    engine: BootedFront
    spec: GatewaySpec
    front_doc: dict[str, object]
    edge_key_file: Path

    @property
    def url(self) -> str:
        return self.engine.url


@pytest.fixture(scope="module")
def gateway(vllm: VllmServer, fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    python = ensure_litellm_env()
    dead_port = free_port()  # nothing listens here: the "self-hosted backend is down" case
    spec = gateway_spec(vllm.url + "/v1", fake.base_url, f"http://127.0.0.1:{dead_port}/v1")
    workdir = tmp_path_factory.mktemp("gateway")
    edge_key_file = workdir / "edge.key"
    edge_key_file.write_text(EDGE_KEY_FILE_OLD + "\n")
    front_doc = engine.front_config(
        spec,
        identity=fc.IDENTITY_EDGE,
        stack="itest",
        grants=GRANTS,
        edge_key_files=[str(edge_key_file)],
        host="127.0.0.1",
        port=free_port(),
        litellm_port=free_port(),
        drain_seconds=5,
    )
    env = {
        **ENGINE_ENVIRONMENT,
        fc.EDGE_KEY_ENV: EDGE_KEY,
        fc.EDGE_KEY_PREVIOUS_ENV: EDGE_KEY_PREVIOUS,
        "STANDIN_OPENAI_KEY": PROVIDER_KEY,
        "SELF_HOSTED_API_KEY": VLLM_KEY,
        "LITELLM_MASTER_KEY": None,  # the front makes LiteLLM's key; no shell sets it
        "OPENAI_API_KEY": None,
        "DATABASE_URL": None,
    }
    fake.behave("selfhosted-500", Behaviour(status=500))
    fake.behave("selfhosted-stuck", Behaviour(hang=30))
    fake.behave("selfhosted-same", Behaviour(chunks=SAME_TOKENS, identical=True, text="again"))
    fake.behave("provider-same", Behaviour(chunks=SAME_TOKENS, identical=True, text="again"))
    fake.behave("selfhosted-slow", Behaviour(chunks=6, chunk_delay=0.5))
    fake.behave("slow-stream", Behaviour(chunks=6, chunk_delay=0.5))
    fake.behave("always-500", Behaviour(status=500))
    booted = BootedFront(python, front_doc, to_yaml(render_litellm_config(spec)), env=env, workdir=workdir)
    with booted:
        print(f"[gateway-engine] engine ready in {booted.seconds_to_ready:.1f} s on {booted.url} (logs in {workdir})", file=sys.stderr)
        yield Gateway(booted, spec, front_doc, edge_key_file)
        code = booted.stop()
    assert code == 0, booted.log_tail()
    assert booted.litellm_stopped(), "LiteLLM still listens after the front stopped"


# ---------------------------------------------------------------------------------------------
# Client helpers (stdlib: the engine is the only non-stdlib thing in the path)
# ---------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def served_by(self) -> str | None:
        return self.headers.get(fc.SERVED_BY_HEADER)

    @property
    def fallback(self) -> str | None:
        return self.headers.get(fc.FALLBACK_HEADER)


def request(
    url: str,
    *,
    method: str = "POST",
    body: dict | None = None,
    key: str | None = EDGE_KEY,
    consumer: str | None = WEB,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    if consumer is not None:
        all_headers[fc.CONSUMER_HEADER] = consumer
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read(), time.monotonic() - started)


def call(
    gw: Any,
    model: str,
    *,
    key: str | None = EDGE_KEY,
    consumer: str | None = WEB,
    path: str = "/v1/chat/completions",
    prompt: str = "hello",
    headers: dict[str, str] | None = None,
    timeout: float = 60,
    **body: Any,
) -> Answer:
    payload = {"model": model, "max_tokens": 8, **body}
    if path.endswith("chat/completions"):
        payload["messages"] = [{"role": "user", "content": prompt}]
    else:
        payload["prompt"] = prompt
    return request(gw.url + path, body=payload, key=key, consumer=consumer, headers=headers, timeout=timeout)


def stream(
    gw: Gateway, model: str, *, key: str = EDGE_KEY, consumer: str = WEB, timeout: float = 60
) -> tuple[dict[str, str], list[tuple[float, str]]]:
    """Stream a chat completion; the response headers and every non-empty SSE line with the monotonic time it was read."""
    payload = {"model": model, "max_tokens": 12, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    req = urllib.request.Request(
        gw.url + "/v1/chat/completions",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}", fc.CONSUMER_HEADER: consumer},
    )
    lines = []
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        headers = {k.lower(): v for k, v in resp.headers.items()}
        for raw in resp:  # http.client reads the chunked body as it arrives
            line = raw.decode().rstrip("\r\n")
            if line:
                lines.append((time.monotonic(), line))
    return headers, lines


def data_events(lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return [(t, line[6:]) for t, line in lines if line.startswith("data: ")]


def content_chunks(lines: list[tuple[float, str]]) -> list[tuple[float, dict]]:
    events = [(t, json.loads(e)) for t, e in data_events(lines) if e != "[DONE]"]
    return [(t, c) for t, c in events if c.get("choices") and (c["choices"][0].get("delta") or {}).get("content")]


def hammer(gw: Gateway, model: str, n: int = 200, workers: int = 4) -> list[Answer]:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(lambda i: call(gw, model, prompt=f"request {i}"), range(n)))
    took = sorted(a.seconds for a in answers)
    failed = sum(1 for a in answers if a.status != 200)
    print(
        f"\n[gateway-engine] {model}: {n} requests ({workers} at a time), {failed} failed, "
        f"{time.monotonic() - started:.1f} s; per request p50 {took[n // 2]:.3f} s, max {took[-1]:.3f} s",
        file=sys.stderr,
    )
    return answers


def lines_for(gw: Gateway, route: str) -> list[dict[str, object]]:
    time.sleep(0.3)  # the front writes its line as the response ends
    return [line for line in gw.engine.request_lines() if line["route"] == route]


# ---------------------------------------------------------------------------------------------
# Grants: models, /v1/models, the cap, the limit — refused before anything is called
# ---------------------------------------------------------------------------------------------


def test_a_consumer_asking_for_another_consumers_model_is_403_and_nothing_is_called(gateway: Gateway, fake: FakeProvider) -> None:
    """The module's first request: the stand-in's log is empty before it and must stay empty."""
    assert fake.requests == []
    for model in ("echo", "hybrid-failing", "hybrid"):
        answer = call(gateway, model, consumer=BATCH)
        assert answer.status == 403, answer.body
        assert "not granted" in answer.json()["error"]["message"]
        assert answer.served_by == fc.NONE
    assert fake.requests == []  # neither the provider nor a self-hosted stand-in was called


@pytest.mark.parametrize(
    "extra",
    [
        {"fallbacks": ["secret/standin"]},
        {"context_window_fallbacks": [{"broken": ["secret/standin"]}]},
        {"mock_response": "free answer"},
        {"api_base": "http://127.0.0.1:9/v1"},
        {"metadata": {"tags": ["secret"]}},
    ],
)
def test_litellm_call_arguments_in_a_request_are_refused_and_reach_nothing(gateway: Gateway, fake: FakeProvider, extra: dict) -> None:
    """LiteLLM 1.103.1 honours request-level fallbacks and lets request kwargs override a deployment's:
    sent on, ``fallbacks`` to a deployment of a group nobody is granted was answered by it. The front
    refuses the key (400 naming it) before the limiter and before any backend."""
    before = len(fake.requests)
    answer = call(gateway, "broken", **extra)
    assert answer.status == 400, answer.body
    assert next(iter(extra)) in answer.json()["error"]["message"]
    assert answer.served_by == fc.NONE
    time.sleep(0.3)
    assert fake.requests_for("secret-model") == [] and len(fake.requests) == before  # nothing was called


def test_a_consumer_gets_its_models_and_v1_models_lists_only_those(gateway: Gateway) -> None:
    def listed(consumer: str) -> list[str]:
        answer = request(gateway.url + "/v1/models", method="GET", consumer=consumer)
        assert answer.status == 200, answer.body
        assert answer.served_by == fc.NONE
        return [m["id"] for m in answer.json()["data"]]

    assert sorted(listed(WEB)) == sorted(WEB_MODELS)
    assert listed(BATCH) == ["provider"]
    answer = call(gateway, "provider", consumer=BATCH)
    assert answer.status == 200, answer.body
    assert (answer.served_by, answer.fallback) == (fc.PROVIDER, "false")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/key/generate"),
        ("GET", "/key/info"),
        ("GET", "/model/info"),
        ("POST", "/anthropic/v1/messages"),
        ("POST", "/openai/v1/chat/completions"),
        ("POST", "/chat/completions"),
        ("GET", "/health"),
        ("GET", "/health/services"),
        ("GET", "/ui"),
        ("GET", "/v1/chat/completions"),
    ],
)
def test_admin_pass_through_and_health_paths_do_not_exist(gateway: Gateway, fake: FakeProvider, method: str, path: str) -> None:
    before = len(fake.requests)
    body = {"model": "provider", "messages": [{"role": "user", "content": "hi"}]} if method == "POST" else None
    answer = request(gateway.url + path, method=method, body=body)
    assert answer.status == 404, (path, answer.body)
    assert answer.served_by == fc.NONE
    assert len(fake.requests) == before


def test_health_is_answered_only_on_the_probe_paths(gateway: Gateway) -> None:
    assert request(gateway.url + fc.LIVENESS_PATH, method="GET", key=None, consumer=None).status == 200
    assert request(gateway.url + fc.READINESS_PATH, method="GET", key=None, consumer=None).status == 200
    assert request(gateway.url + "/health", method="GET", key=None, consumer=None).status == 404


def test_max_tokens_above_the_cap_is_capped(gateway: Gateway, fake: FakeProvider) -> None:
    answer = call(gateway, "echo", max_tokens=1000)
    assert answer.status == 200, answer.body
    assert answer.served_by == fc.SELF_HOSTED
    [received] = fake.requests_for("selfhosted-echo")
    assert received.body is not None and received.body["max_tokens"] == CAP
    assert received.bearer == VLLM_KEY  # the self-hosted server's key, from the engine's environment
    # Through LiteLLM to the provider, too; and a request naming no max_tokens gets the cap.
    before = len(fake.requests_for("gpt-standin"))
    payload = {"model": "provider", "messages": [{"role": "user", "content": "hi"}]}
    assert request(gateway.url + "/v1/chat/completions", body=payload).status == 200
    [sent] = fake.requests_for("gpt-standin")[before:]
    assert sent.body is not None and CAP in (sent.body.get("max_tokens"), sent.body.get("max_completion_tokens"))


def test_over_the_limit_is_429_with_retry_after_and_calls_nothing(gateway: Gateway, fake: FakeProvider) -> None:
    answers = [call(gateway, "provider", consumer=LIMITED) for _ in range(LIMITED_RPM)]
    assert [a.status for a in answers] == [200] * LIMITED_RPM
    before = len(fake.requests)
    refused = call(gateway, "provider", consumer=LIMITED)
    assert refused.status == 429, refused.body
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.served_by == fc.NONE
    assert len(fake.requests) == before


# ---------------------------------------------------------------------------------------------
# Identity: the edge key, the consumer header, rotation
# ---------------------------------------------------------------------------------------------


def test_the_edge_key_without_a_consumer_is_403_and_a_wrong_key_401(gateway: Gateway, fake: FakeProvider) -> None:
    before = len(fake.requests)
    no_consumer = call(gateway, "provider", consumer=None)
    assert no_consumer.status == 403, no_consumer.body
    assert call(gateway, "provider", consumer="nobody").status == 403
    assert call(gateway, "provider", key=None).status == 401
    assert call(gateway, "provider", key="sk-" + uuid.uuid4().hex).status == 401
    assert call(gateway, "provider", key=None, headers={"Authorization": "Basic d2ViOmtleQ=="}).status == 401
    assert len(fake.requests) == before


def test_edge_key_rotation_has_no_401_window(gateway: Gateway) -> None:
    # The current and the previous value (AWSCURRENT / AWSPREVIOUS) are both accepted.
    assert call(gateway, "provider", key=EDGE_KEY).status == 200
    assert call(gateway, "provider", key=EDGE_KEY_PREVIOUS).status == 200
    # A key file rotates under the running front: the new value works at once, the old one keeps working
    # (an edge still caching it), and no request in between meets a 401.
    assert call(gateway, "provider", key=EDGE_KEY_FILE_OLD).status == 200
    gateway.edge_key_file.write_text(EDGE_KEY_FILE_NEW + "\n")
    statuses = [call(gateway, "provider", key=k).status for k in (EDGE_KEY_FILE_NEW, EDGE_KEY_FILE_OLD) * 5]
    assert statuses == [200] * 10


# ---------------------------------------------------------------------------------------------
# Self-hosted through the front
# ---------------------------------------------------------------------------------------------


def test_the_hybrid_group_serves_from_vllm_while_it_is_up(gateway: Gateway, fake: FakeProvider) -> None:
    before = len(fake.requests_for("gpt-standin"))
    answer = call(gateway, "hybrid", temperature=0)
    assert answer.status == 200, answer.body
    assert (answer.served_by, answer.fallback) == (fc.SELF_HOSTED, "false")
    assert answer.json()["usage"]["completion_tokens"] > 0
    assert len(fake.requests_for("gpt-standin")) == before  # the provider was not paid
    [line] = lines_for(gateway, "hybrid")[-1:]
    assert (line["served_by"], line["deployment"], line["fallback"], line["status"]) == (fc.SELF_HOSTED, "hybrid/vllm", False, 200)
    assert line["completion_tokens"] == answer.json()["usage"]["completion_tokens"]


def test_text_completions_reach_vllm(gateway: Gateway) -> None:
    answer = call(gateway, "hybrid", path="/v1/completions", prompt="the gateway", temperature=0)
    assert answer.status == 200, answer.body
    assert answer.served_by == fc.SELF_HOSTED
    assert answer.json()["choices"][0]["text"]


def test_a_vllm_stream_passes_through(gateway: Gateway) -> None:
    headers, lines = stream(gateway, "hybrid")
    assert headers[fc.SERVED_BY_HEADER] == fc.SELF_HOSTED
    events = data_events(lines)
    assert events[-1][1] == "[DONE]"
    assert len(content_chunks(lines)) >= 3


@pytest.mark.parametrize("group", ["hybrid", "provider"])
def test_every_stream_is_settled_from_its_usage_which_the_client_only_sees_when_asked(gateway: Gateway, group: str) -> None:
    """The front asks every stream for its usage (the token limits settle from it — a stream without it
    reserved only its prompt) and takes the usage-only event out again when the client did not ask."""
    _headers, lines = stream(gateway, group)
    events = [json.loads(e) for _, e in data_events(lines) if e != "[DONE]"]
    assert events and all(e.get("choices") for e in events), events[-1]  # no usage-only event
    line = lines_for(gateway, group)[-1]
    assert isinstance(line["completion_tokens"], int) and line["completion_tokens"] > 0, line
    asked = {"model": group, "max_tokens": 6, "stream": True, "stream_options": {"include_usage": True}}
    asked["messages"] = [{"role": "user", "content": "hi"}]
    answer = request(gateway.url + "/v1/chat/completions", body=asked)
    assert answer.status == 200, answer.body
    last = [json.loads(raw[6:]) for raw in answer.body.decode().splitlines() if raw.startswith("data: {")][-1]
    assert last["usage"]["completion_tokens"] > 0  # asked for: passed through


def test_300_identical_tokens_from_a_provider_arrive_whole_through_litellm(gateway: Gateway) -> None:
    """LiteLLM 1.103.1 raises after REPEATED_STREAMING_CHUNK_LIMIT (100) identical chunks; the engine's
    environment (config.ENGINE_ENVIRONMENT) lifts the limit, so a provider's looping stream is not cut either."""
    headers, lines = stream(gateway, "provider-same")
    assert headers[fc.SERVED_BY_HEADER] == fc.PROVIDER
    assert [c["choices"][0]["delta"]["content"] for _, c in content_chunks(lines)] == ["again"] * SAME_TOKENS
    assert data_events(lines)[-1][1] == "[DONE]"


def test_300_identical_tokens_arrive_whole_and_the_route_stays_self_hosted(gateway: Gateway, fake: FakeProvider) -> None:
    """LiteLLM cut such a stream after 100 identical chunks and counted a route failure; three of them
    cooled the route down. The front passes bytes through and judges nothing per chunk."""
    before = len(fake.requests_for("gpt-standin"))
    for _ in range(4):  # more than allowed_fails (3): were any counted, the route would cool down
        headers, lines = stream(gateway, "same-tokens")
        assert headers[fc.SERVED_BY_HEADER] == fc.SELF_HOSTED
        chunks = content_chunks(lines)
        assert [c["choices"][0]["delta"]["content"] for _, c in chunks] == ["again"] * SAME_TOKENS
        assert data_events(lines)[-1][1] == "[DONE]"
    after = call(gateway, "same-tokens")
    assert after.status == 200 and (after.served_by, after.fallback) == (fc.SELF_HOSTED, "false")
    assert len(fake.requests_for("gpt-standin")) == before  # never fell back
    assert all(line["served_by"] == fc.SELF_HOSTED for line in lines_for(gateway, "same-tokens"))


# ---------------------------------------------------------------------------------------------
# Streaming is passed through, not buffered
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "upstream"), [("direct-slow", "selfhosted-slow"), ("slow-stream", "slow-stream")])
def test_streaming_is_unbuffered(gateway: Gateway, fake: FakeProvider, group: str, upstream: str) -> None:
    """Straight from a self-hosted server, and from a provider through LiteLLM."""
    _, lines = stream(gateway, group)
    [record] = fake.requests_for(upstream)
    content = content_chunks(lines)
    assert len(content) == 6 and len(record.chunk_times) == 6
    # The client had the first chunk while the stand-in was still ≥ 4 × 0.5 s from sending its last …
    assert content[0][0] < record.chunk_times[-1] - 1.0, (content[0][0], record.chunk_times)
    # … and each chunk arrived after the stand-in sent it and before it sent the one after next.
    for i, (received, _) in enumerate(content):
        assert received >= record.chunk_times[i]
        if i + 2 < len(record.chunk_times):
            assert received < record.chunk_times[i + 2]


def test_a_stuck_self_hosted_stream_falls_back_to_the_provider(gateway: Gateway, fake: FakeProvider) -> None:
    before = len(fake.requests_for("gpt-standin"))
    headers, lines = stream(gateway, "hybrid-stuck")
    assert (headers[fc.SERVED_BY_HEADER], headers[fc.FALLBACK_HEADER]) == (fc.PROVIDER, "true")
    text = "".join(c["choices"][0]["delta"]["content"] for _, c in content_chunks(lines))
    assert text.startswith("stand-in")  # the provider's answer, after the self-hosted route timed out
    assert len(fake.requests_for("gpt-standin")) == before + 1


# ---------------------------------------------------------------------------------------------
# Fallbacks: zero failed requests, and the header, the log lines and the alarms say so
# ---------------------------------------------------------------------------------------------


def assert_all_fell_back(gateway: Gateway, group: str, answers: list[Answer]) -> None:
    assert [a.status for a in answers if a.status != 200] == []
    assert {(a.served_by, a.fallback) for a in answers} == {(fc.PROVIDER, "true")}
    lines = lines_for(gateway, group)[-len(answers) :]
    assert len(lines) == len(answers)
    assert {(line["served_by"], line["deployment"], line["fallback"]) for line in lines} == {(fc.PROVIDER, "provider/standin", True)}
    # The alarms' reference semantics over what the front recorded: both fire for this hybrid group.
    [alarm] = [a for a in fallback_alarms.decide_fallback_alarms(gateway.spec) if a.group == group]
    assert fallback_alarms.fallback_alarm_fires(alarm, lines) == {fc.ALARM_FALLBACK_SHARE: True, fc.ALARM_SELF_HOSTED_SILENT: True}
    counts = fallback_alarms.window_counts(alarm, lines, now=time.time())
    assert (counts.requests, counts.fallbacks, counts.self_hosted_ok) == (len(answers), len(answers), 0)


def test_self_hosted_down_falls_back_with_zero_failures(gateway: Gateway) -> None:
    started = time.monotonic()
    answers = hammer(gateway, "hybrid-down")
    assert_all_fell_back(gateway, "hybrid-down", answers)
    assert time.monotonic() - started < 120


def test_self_hosted_failing_falls_back_with_zero_failures(gateway: Gateway, fake: FakeProvider) -> None:
    answers = hammer(gateway, "hybrid-failing")
    tried = fake.requests_for("selfhosted-500")
    print(f"[gateway-engine] hybrid-failing: the self-hosted stand-in was tried {len(tried)} times", file=sys.stderr)
    assert_all_fell_back(gateway, "hybrid-failing", answers)
    assert tried and all(r.bearer == VLLM_KEY and r.status == 500 for r in tried)
    assert len(tried) < len(answers)  # the breaker spares the failing server most requests


def test_a_stuck_self_hosted_server_times_out_into_the_fallback(gateway: Gateway, fake: FakeProvider) -> None:
    answers = hammer(gateway, "hybrid-stuck", n=200, workers=8)
    assert_all_fell_back(gateway, "hybrid-stuck", answers)
    assert fake.requests_for("selfhosted-stuck")


def test_a_served_hybrid_group_raises_no_alarm(gateway: Gateway) -> None:
    for _ in range(3):
        assert call(gateway, "hybrid").served_by == fc.SELF_HOSTED
    [alarm] = [a for a in fallback_alarms.decide_fallback_alarms(gateway.spec) if a.group == "hybrid"]
    recent = [line for line in lines_for(gateway, "hybrid") if line["served_by"] == fc.SELF_HOSTED]
    assert fallback_alarms.fallback_alarm_fires(alarm, recent) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}


def test_the_prometheus_counter_counts_who_served(gateway: Gateway) -> None:
    assert call(gateway, "hybrid-down").served_by == fc.PROVIDER
    text = request(gateway.url + fc.METRICS_PATH, method="GET", key=None, consumer=None).body.decode()
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(fc.PROM_REQUESTS)}
    down = f'{fc.PROM_REQUESTS}{{route="hybrid-down",served_by="provider",fallback="true",code="2xx"}}'
    assert samples[down] >= 1


# ---------------------------------------------------------------------------------------------
# Retry-After, rate limits, nothing can serve
# ---------------------------------------------------------------------------------------------


def test_retry_after_is_honoured(gateway: Gateway, fake: FakeProvider) -> None:
    fake.script("limited-429", [Behaviour(status=429, retry_after=RETRY_AFTER)])
    answer = call(gateway, "retry-after")
    assert answer.status == 200, answer.body
    first, second = fake.requests_for("limited-429")
    assert (first.status, second.status) == (429, 200)
    waited = second.received_at - first.received_at
    print(f"\n[gateway-engine] Retry-After: {RETRY_AFTER} → retried after {waited:.2f} s", file=sys.stderr)
    assert RETRY_AFTER <= waited < RETRY_AFTER + 3


def test_a_routes_rpm_turns_into_429_with_retry_after(gateway: Gateway) -> None:
    answers = [call(gateway, "rate-limited") for _ in range(RPM + 2)]
    assert [a.status for a in answers] == [200] * RPM + [429, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    # Every backend said 429: the line names the deployment, so the request counts (Requests, the silent alarm).
    limited = [line for line in lines_for(gateway, "rate-limited") if line["status"] == 429]
    assert len(limited) >= 2 and {(line["served_by"], line["deployment"], line["Requests"]) for line in limited} == {
        (fc.NONE, "rate-limited/rpm", 1)
    }


def test_a_group_nothing_can_serve_is_503_with_retry_after(gateway: Gateway) -> None:
    canary = "canary-" + uuid.uuid4().hex
    answer = call(gateway, "broken", prompt=canary)
    assert answer.status == 503, answer.body
    assert 1 <= int(answer.headers["retry-after"]) <= COOLDOWN
    assert answer.served_by == fc.NONE
    assert canary not in answer.body.decode()


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------


def test_prompts_and_keys_stay_out_of_the_logs(gateway: Gateway) -> None:
    canary = "canary-" + uuid.uuid4().hex
    assert call(gateway, "provider", prompt=canary).status == 200
    assert call(gateway, "hybrid", prompt=canary).status == 200
    assert call(gateway, "hybrid-stuck", prompt=canary).status == 200  # a timeout, then the fallback
    assert call(gateway, "broken", prompt=canary).status == 503
    assert call(gateway, "echo", consumer=BATCH, prompt=canary).status == 403
    time.sleep(0.5)
    logs = gateway.engine.logs()
    assert canary not in logs
    for secret in (EDGE_KEY, EDGE_KEY_PREVIOUS, EDGE_KEY_FILE_OLD, EDGE_KEY_FILE_NEW, PROVIDER_KEY, VLLM_KEY):
        assert secret not in logs


def test_every_request_line_holds_only_the_contract_fields(gateway: Gateway) -> None:
    assert call(gateway, "hybrid").status == 200
    assert request(gateway.url + "/nowhere", method="GET").status == 404
    lines = gateway.engine.request_lines()
    assert any(line["route"] == "" for line in lines) and any(line["route"] == "hybrid" for line in lines)
    emf = {"stack", fc.METRIC_REQUESTS, fc.METRIC_FALLBACKS, fc.METRIC_SELF_HOSTED_OK, "_aws"}
    for line in lines:
        assert set(line) - emf == {fc.REQUEST_LOG_MARK, *fc.LOG_FIELDS}
        assert line["served_by"] in fc.SERVED_CLASSES
        if line["route"]:
            assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == fc.METRIC_NAMESPACE  # type: ignore[index]


def test_everything_listens_on_loopback_only(gateway: Gateway, vllm: VllmServer, fake: FakeProvider) -> None:
    assert all(url.startswith("http://127.0.0.1:") for url in (gateway.url, vllm.url, fake.url, str(gateway.front_doc["litellm_url"])))
    assert gateway.front_doc["host"] == "127.0.0.1"
    chains = gateway.front_doc["routing"]["chains"]  # type: ignore[index]
    assert all(c["url"] is None or c["url"].startswith("http://127.0.0.1:") for chain in chains.values() for c in chain)
