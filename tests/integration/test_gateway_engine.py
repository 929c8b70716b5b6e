"""The gateway engine, run for real: the LiteLLM proxy started with the config ``gateway.config`` renders.

Behind it: the real vLLM CPU server serving a tiny model (the self-hosted route of a hybrid group) and
a local OpenAI-compatible stand-in (``support/fake_provider.py``) playing the API provider, a failing
self-hosted server, a stuck one, a rate-limited one and a slow streamer. Everything listens on
127.0.0.1; the engine runs with ``ENGINE_ENVIRONMENT`` (no fetches at start) and every process is
stopped at the end.

What must hold: the master key is required (and, with no database, nothing else is a key — the reason
consumer keys live at the managed gateway); the provider key reaches the provider only from the
engine's environment; streams pass through unbuffered; a self-hosted backend that is down, failing or
stuck costs ZERO failed requests out of 200 because the group falls back to the provider; Retry-After
is honoured to the measured second; a route's rpm turns into 429; prompts stay out of the logs.
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

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.gateway.config import (  # noqa: E402
    ENGINE_ENVIRONMENT,
    Consumer,
    GatewaySpec,
    ModelGroup,
    ProviderRoute,
    render_litellm_config,
    to_yaml,
)
from support.apigw_edge import ApiGatewayEdge  # noqa: E402
from support.fake_provider import Behaviour, FakeProvider  # noqa: E402
from support.litellm_env import LitellmProxy, ensure_litellm_env  # noqa: E402
from support.vllm_env import ensure_vllm_env  # noqa: E402
from support.vllm_server import VllmServer, free_port  # noqa: E402

pytestmark = pytest.mark.integration

SUPPORT = Path(__file__).resolve().parent / "support"
# Test values created here; never real credentials.
MASTER_KEY = "sk-itest-master-" + uuid.uuid4().hex[:12]
PROVIDER_KEY = "standin-provider-key"
VLLM_KEY = "itest-vllm-key"
SERVED = "tiny"
VLLM_ARGS = ["--served-model-name", SERVED, "--dtype", "float32", "--max-model-len", "256"]
STUCK_TIMEOUT = 2.0
RETRY_AFTER = 2
RPM = 3
KEEPALIVE = 1.0


def gateway_spec(vllm_url: str, fake_url: str, dead_url: str) -> GatewaySpec:
    """The spec under test. Self-hosted stand-ins are hosted_vllm routes pointed at the stand-in."""

    def provider(name: str, model: str, **kw) -> ProviderRoute:
        return ProviderRoute(name, "openai", model, api_base=fake_url, secret_env="STANDIN_OPENAI_KEY", **kw)

    def self_hosted(name: str, base: str, model: str = SERVED, **kw) -> ProviderRoute:
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
            ModelGroup("retry-after", (provider("limited", "limited-429"),), retries=1),
            ModelGroup("rate-limited", (provider("rpm", "gpt-rpm", rpm=RPM),)),
            ModelGroup("slow-stream", (provider("slow", "slow-stream"),)),
            ModelGroup("edge-stream", (provider("edge-slow", "edge-slow-stream"),)),
            ModelGroup("slow-start", (provider("late", "slow-start"),)),
            ModelGroup("broken", (provider("broken", "always-500"),), retries=0),
        ),
        consumers=(Consumer("web", ("hybrid", "provider"), rpm=600),),
        stream_keepalive_seconds=KEEPALIVE,
    )


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    # It plays the provider (PROVIDER_KEY) and failing self-hosted servers (VLLM_KEY).
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
    proxy: LitellmProxy
    config: dict
    dead_port: int

    @property
    def url(self) -> str:
        return self.proxy.url


@pytest.fixture(scope="module")
def gateway(vllm: VllmServer, fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    python = ensure_litellm_env()
    dead_port = free_port()  # nothing listens here: the "self-hosted backend is down" case
    config = render_litellm_config(gateway_spec(vllm.url + "/v1", fake.base_url, f"http://127.0.0.1:{dead_port}/v1"))
    workdir = tmp_path_factory.mktemp("gateway")
    (workdir / "config.yaml").write_text(to_yaml(config))
    env = {
        **ENGINE_ENVIRONMENT,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "STANDIN_OPENAI_KEY": PROVIDER_KEY,
        "SELF_HOSTED_API_KEY": VLLM_KEY,
        "OPENAI_API_KEY": None,
        "DATABASE_URL": None,
    }
    proxy = LitellmProxy(python, workdir / "config.yaml", env=env, log_path=workdir / "litellm.log")
    fake.behave("selfhosted-500", Behaviour(status=500))
    fake.behave("selfhosted-stuck", Behaviour(hang=30))
    fake.behave("slow-stream", Behaviour(chunks=6, chunk_delay=0.5))
    fake.behave("edge-slow-stream", Behaviour(chunks=6, chunk_delay=0.5))
    fake.behave("always-500", Behaviour(status=500))
    fake.behave("slow-start", Behaviour(hang=KEEPALIVE * 2.5, chunks=3))
    with proxy:
        print(f"[gateway-engine] LiteLLM ready in {proxy.seconds_to_ready:.1f} s on {proxy.url} (log {proxy.log_path})", file=sys.stderr)
        yield Gateway(proxy, config, dead_port)
    assert proxy.proc is not None and proxy.proc.poll() is not None, "the proxy is still running"


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


def call(
    gw: Gateway | ApiGatewayEdge,
    model: str,
    *,
    key: str | None = MASTER_KEY,
    path: str = "/v1/chat/completions",
    prompt: str = "hello",
    headers: dict[str, str] | None = None,
    timeout: float = 60,
    **body,
) -> Answer:
    payload = {"model": model, "max_tokens": 8, **body}
    if path.endswith("chat/completions"):
        payload["messages"] = [{"role": "user", "content": prompt}]
    else:
        payload["prompt"] = prompt
    req = urllib.request.Request(
        gw.url + path, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read(), time.monotonic() - started)


def stream(gw: Gateway | ApiGatewayEdge, model: str, *, key: str = MASTER_KEY, timeout: float = 60) -> list[tuple[float, str]]:
    """Stream a chat completion; every non-empty SSE line with the monotonic time it was read."""
    payload = {"model": model, "max_tokens": 12, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    req = urllib.request.Request(
        gw.url + "/v1/chat/completions",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    lines = []
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for raw in resp:  # http.client reads the chunked body as it arrives
            line = raw.decode().rstrip("\r\n")
            if line:
                lines.append((time.monotonic(), line))
    return lines


def data_events(lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return [(t, line[6:]) for t, line in lines if line.startswith("data: ")]


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


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------


def test_a_request_without_a_key_is_refused(gateway: Gateway) -> None:
    answer = call(gateway, "provider", key=None)
    assert answer.status == 401
    assert answer.json()["error"]["type"] == "auth_error"


def test_the_master_key_works(gateway: Gateway, fake: FakeProvider) -> None:
    answer = call(gateway, "provider")
    assert answer.status == 200
    assert answer.json()["choices"][0]["message"]["content"].startswith("stand-in")
    # The provider got its own key, which the engine read from its environment (os.environ/…).
    last = fake.requests_for("gpt-standin")[-1]
    assert last.authorized and last.bearer == PROVIDER_KEY


def test_without_a_database_no_other_bearer_is_a_key(gateway: Gateway) -> None:
    """Why consumer keys live at the managed gateway: LiteLLM has no config-file virtual keys."""
    for other in ("sk-" + uuid.uuid4().hex, "consumer-key"):
        answer = call(gateway, "provider", key=other)
        assert answer.status == 400
        assert answer.json()["error"]["type"] == "no_db_connection"


def test_the_consumer_header_from_the_edge_is_accepted_without_a_database(gateway: Gateway) -> None:
    answer = call(gateway, "provider", headers={"x-pulumi-llm-consumer": "web"})
    assert answer.status == 200


# ---------------------------------------------------------------------------------------------
# Consumer keys at the AWS edge: the real authorizer and the integration's header mapping
# ---------------------------------------------------------------------------------------------

WEB_KEY = "itest-consumer-" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def edge(gateway: Gateway) -> Iterator[ApiGatewayEdge]:
    with ApiGatewayEdge(gateway.url, MASTER_KEY, {WEB_KEY: "key-id-web"}, "x-pulumi-llm-consumer") as stand_in:
        yield stand_in


def test_at_the_edge_a_consumer_key_works_and_only_the_edge_holds_the_master_key(edge: ApiGatewayEdge, fake: FakeProvider) -> None:
    answer = call(edge, "provider", key=WEB_KEY, headers={"x-pulumi-llm-consumer": "someone-else"})
    assert answer.status == 200, answer.body
    assert answer.json()["choices"][0]["message"]["content"].startswith("stand-in")
    forwarded = edge.forwarded[-1]
    # The engine got the master key in place of the consumer's key, and the key's id (not the client's
    # claim) as the consumer.
    assert forwarded["Authorization"] == f"Bearer {MASTER_KEY}"
    assert forwarded["x-pulumi-llm-consumer"] == "key-id-web"
    assert WEB_KEY not in json.dumps(forwarded)


def test_at_the_edge_no_key_is_401_and_an_unknown_key_is_403(edge: ApiGatewayEdge) -> None:
    before = len(edge.forwarded)
    assert call(edge, "provider", key=None).status == 401
    assert call(edge, "provider", key=None, headers={"Authorization": "Basic d2ViOmtleQ=="}).status == 401
    assert call(edge, "provider", key="sk-" + uuid.uuid4().hex).status == 403
    assert call(edge, "provider", key=MASTER_KEY).status == 403  # the master key is no consumer key
    assert len(edge.forwarded) == before  # none of them reached the engine


def test_at_the_edge_streams_pass_through_unbuffered(edge: ApiGatewayEdge, fake: FakeProvider) -> None:
    lines = stream(edge, "edge-stream", key=WEB_KEY)
    [record] = fake.requests_for("edge-slow-stream")
    content = [
        (t, c)
        for t, c in ((t, json.loads(e)) for t, e in data_events(lines) if e != "[DONE]")
        if c["choices"] and c["choices"][0]["delta"].get("content")
    ]
    assert len(content) == 6
    assert content[0][0] < record.chunk_times[-1] - 1.0, (content[0][0], record.chunk_times)


# ---------------------------------------------------------------------------------------------
# Self-hosted through the gateway
# ---------------------------------------------------------------------------------------------


def test_the_hybrid_group_serves_from_vllm_while_it_is_up(gateway: Gateway, fake: FakeProvider) -> None:
    before = len(fake.requests_for("gpt-standin"))
    answer = call(gateway, "hybrid", temperature=0)
    assert answer.status == 200, answer.body
    assert answer.headers["x-litellm-model-id"] == "hybrid/vllm"
    assert answer.json()["usage"]["completion_tokens"] > 0
    assert len(fake.requests_for("gpt-standin")) == before  # the provider was not paid


def test_text_completions_reach_vllm(gateway: Gateway) -> None:
    answer = call(gateway, "hybrid", path="/v1/completions", prompt="the gateway", temperature=0)
    assert answer.status == 200, answer.body
    assert answer.headers["x-litellm-model-id"] == "hybrid/vllm"
    assert answer.json()["choices"][0]["text"]


def test_a_vllm_stream_passes_through(gateway: Gateway) -> None:
    events = data_events(stream(gateway, "hybrid"))
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(e) for _, e in events[:-1]]
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")) >= 3


# ---------------------------------------------------------------------------------------------
# Streaming is passed through, not buffered
# ---------------------------------------------------------------------------------------------


def test_streaming_is_unbuffered(gateway: Gateway, fake: FakeProvider) -> None:
    lines = stream(gateway, "slow-stream")
    [record] = fake.requests_for("slow-stream")
    events = [(t, json.loads(e)) for t, e in data_events(lines) if e != "[DONE]"]
    content = [(t, c) for t, c in events if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content) == 6 and len(record.chunk_times) == 6
    first_received = content[0][0]
    # The client had the first chunk while the stand-in was still ≥ 4 × 0.5 s from sending its last …
    assert first_received < record.chunk_times[-1] - 1.0, (first_received, record.chunk_times)
    # … and each chunk arrived after the stand-in sent it and before it sent the one after next.
    for i, (received, _) in enumerate(content):
        assert received >= record.chunk_times[i]
        if i + 2 < len(record.chunk_times):
            assert received < record.chunk_times[i + 2]


def test_keepalives_hold_a_slow_first_token(gateway: Gateway, fake: FakeProvider) -> None:
    lines = stream(gateway, "slow-start")
    [record] = fake.requests_for("slow-start")
    first_data = next(t for t, line in lines if line.startswith("data: "))
    pings = [t for t, line in lines if line == ": ping" and t < first_data]
    # SSE comments (ignored by every SSE client) every KEEPALIVE s while the provider has said nothing.
    assert len(pings) >= 2, lines
    assert pings[0] < record.chunk_times[0]
    assert data_events(lines)[-1][1] == "[DONE]"


def test_a_stuck_self_hosted_stream_falls_back_behind_keepalives(gateway: Gateway, fake: FakeProvider) -> None:
    """The fallback happens before the first provider byte, even though pings already opened the stream."""
    before = len(fake.requests_for("gpt-standin"))
    lines = stream(gateway, "hybrid-stuck")
    assert any(line == ": ping" for _, line in lines)
    events = data_events(lines)
    assert events[-1][1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in (json.loads(e) for _, e in events[:-1]) if c["choices"])
    assert text.startswith("stand-in")  # the provider's answer, after the self-hosted route timed out
    assert len(fake.requests_for("gpt-standin")) == before + 1


# ---------------------------------------------------------------------------------------------
# Fallbacks: zero failed requests
# ---------------------------------------------------------------------------------------------


def test_self_hosted_down_falls_back_with_zero_failures(gateway: Gateway) -> None:
    started = time.monotonic()
    answers = hammer(gateway, "hybrid-down")
    elapsed = time.monotonic() - started
    assert [a.status for a in answers if a.status != 200] == []
    assert {a.headers["x-litellm-model-group"] for a in answers} == {"provider"}
    assert elapsed < 120


def test_self_hosted_failing_falls_back_with_zero_failures(gateway: Gateway, fake: FakeProvider) -> None:
    started = time.monotonic()
    answers = hammer(gateway, "hybrid-failing")
    elapsed = time.monotonic() - started
    tried = fake.requests_for("selfhosted-500")
    print(f"[gateway-engine] hybrid-failing: the self-hosted stand-in was tried {len(tried)} times", file=sys.stderr)
    assert [a.status for a in answers if a.status != 200] == []
    assert tried and all(r.bearer == VLLM_KEY and r.status == 500 for r in tried)
    assert len(tried) < len(answers)  # the cooldown spares the failing server most requests
    assert {a.headers["x-litellm-model-group"] for a in answers} == {"provider"}
    assert elapsed < 120


def test_a_stuck_self_hosted_server_times_out_into_the_fallback(gateway: Gateway, fake: FakeProvider) -> None:
    answer = call(gateway, "hybrid-stuck")
    assert answer.status == 200, answer.body
    assert answer.headers["x-litellm-model-group"] == "provider"
    assert fake.requests_for("selfhosted-stuck")
    assert STUCK_TIMEOUT <= answer.seconds < STUCK_TIMEOUT + 8


# ---------------------------------------------------------------------------------------------
# Retry-After and rate limits
# ---------------------------------------------------------------------------------------------


def test_retry_after_is_honoured(gateway: Gateway, fake: FakeProvider) -> None:
    fake.script("limited-429", [Behaviour(status=429, retry_after=RETRY_AFTER)])
    answer = call(gateway, "retry-after")
    assert answer.status == 200, answer.body
    first, second = fake.requests_for("limited-429")
    assert (first.status, second.status) == (429, 200)
    waited = second.received_at - first.received_at
    print(f"\n[gateway-engine] Retry-After: {RETRY_AFTER} → retried after {waited:.2f} s", file=sys.stderr)
    assert waited >= RETRY_AFTER
    assert waited < RETRY_AFTER + 3  # the header's wait plus jitter, not an unrelated back-off


def test_a_routes_rpm_turns_into_429(gateway: Gateway) -> None:
    answers = [call(gateway, "rate-limited") for _ in range(RPM + 2)]
    assert [a.status for a in answers] == [200] * RPM + [429, 429]
    assert "rate limit" in answers[-1].json()["error"]["message"].lower()


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------


def test_prompts_stay_out_of_the_logs(gateway: Gateway) -> None:
    canary = "canary-" + uuid.uuid4().hex
    assert call(gateway, "provider", prompt=canary).status == 200
    assert call(gateway, "hybrid-stuck", prompt=canary).status == 200  # a timeout, then the fallback
    failed = call(gateway, "broken", prompt=canary)  # an error all the way to the client
    assert failed.status == 500
    assert canary not in failed.body.decode()
    time.sleep(0.5)
    log = gateway.proxy.log_path.read_text(errors="replace")
    assert canary not in log
    assert MASTER_KEY not in log and PROVIDER_KEY not in log


def test_everything_listens_on_loopback_only(gateway: Gateway, vllm: VllmServer, fake: FakeProvider) -> None:
    assert all(url.startswith("http://127.0.0.1:") for url in (gateway.url, vllm.url, fake.url))
    bases = {m["litellm_params"].get("api_base") for m in gateway.config["model_list"]}
    assert all(b.startswith("http://127.0.0.1:") for b in bases)
