"""The gateway front's pure parts (issue 15, 20): which paths exist, who is asking (edge key + consumer
header, or a consumer's own key, with rotation that has no 401 window), what an upstream answer before
its first byte means, the request log line with its EMF block (held to the fallback alarms' counting),
the Prometheus text — and engine.front_config / boot, the command every cloud runs.

The front serving real requests (against vLLM, LiteLLM and the stand-in provider) is in
tests/integration/test_gateway_engine.py and test_gateway_private.py; here one in-process front runs
against the stand-in to pin down fallback, pass-through and the headers quickly."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from pulumi_llm.errors import UserError
from pulumi_llm.gateway import engine, fallback_alarms
from pulumi_llm.gateway import front_contract as fc
from pulumi_llm.gateway.config import Consumer, GatewaySpec, ModelGroup, ProviderRoute
from pulumi_llm.gateway.front_server import (
    ATTEMPT_NEXT,
    ATTEMPT_PASS,
    ATTEMPT_SERVE,
    ENDPOINT_INFERENCE,
    ENDPOINT_LIVENESS,
    ENDPOINT_METRICS,
    ENDPOINT_NONE,
    ENDPOINT_READINESS,
    Front,
    KeyRing,
    RequestRecord,
    UsageFilter,
    bearer,
    client_wants_usage,
    consumer_key_reader,
    decide_attempt,
    decide_endpoint,
    decide_identity,
    edge_key_reader,
    files_signature,
    front_config_from_document,
    litellm_environment,
    metric_values,
    prometheus_text,
    refused_key,
    request_log_line,
    upstream_body,
    upstream_url,
    usage_from_json,
    usage_from_sse_tail,
)
from pulumi_llm.gateway.routing import Candidate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from support.fake_provider import Behaviour, FakeProvider  # noqa: E402
from support.vllm_server import free_port  # noqa: E402

# --------------------------------------------------------------------------------------------
# Paths


@pytest.mark.parametrize(("method", "path"), fc.INFERENCE_ROUTES)
def test_the_inference_routes_are_inference(method: str, path: str) -> None:
    assert decide_endpoint(method, path) == ENDPOINT_INFERENCE


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [
        ("GET", fc.LIVENESS_PATH, ENDPOINT_LIVENESS),
        ("GET", fc.READINESS_PATH, ENDPOINT_READINESS),
        ("GET", fc.METRICS_PATH, ENDPOINT_METRICS),
        ("POST", fc.LIVENESS_PATH, ENDPOINT_NONE),
        ("GET", "/health", ENDPOINT_NONE),  # LiteLLM's full health check calls every provider
        ("GET", "/health/liveness", ENDPOINT_NONE),
        ("POST", "/key/generate", ENDPOINT_NONE),
        ("GET", "/key/info", ENDPOINT_NONE),
        ("POST", "/anthropic/v1/messages", ENDPOINT_NONE),  # pass-through: spends the provider key
        ("POST", "/openai/v1/chat/completions", ENDPOINT_NONE),
        ("POST", "/chat/completions", ENDPOINT_NONE),  # LiteLLM's un-prefixed alias
        ("GET", "/v1/chat/completions", ENDPOINT_NONE),
        ("POST", "/v1/models", ENDPOINT_NONE),
        ("GET", "/v1/models/", ENDPOINT_NONE),
        ("GET", "/ui", ENDPOINT_NONE),
    ],
)
def test_only_the_probe_paths_metrics_and_inference_routes_exist(method: str, path: str, endpoint: str) -> None:
    assert decide_endpoint(method, path) == endpoint


def test_bearer_reads_only_a_bearer_token() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic d2ViOmtleQ==") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None


# --------------------------------------------------------------------------------------------
# Upstream answers


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (None, ATTEMPT_NEXT),
        (200, ATTEMPT_SERVE),
        (201, ATTEMPT_SERVE),
        (408, ATTEMPT_NEXT),
        (429, ATTEMPT_NEXT),
        (500, ATTEMPT_NEXT),
        (503, ATTEMPT_NEXT),
        (400, ATTEMPT_PASS),
        (401, ATTEMPT_PASS),
        (404, ATTEMPT_PASS),
        (422, ATTEMPT_PASS),
    ],
)
def test_what_an_answer_before_the_first_byte_means(status: int | None, verdict: str) -> None:
    assert decide_attempt(status) == verdict


def candidate(kind: str = "direct", **kw: object) -> Candidate:
    base: dict[str, object] = {
        "group": "chat",
        "deployment": "chat/vllm",
        "kind": kind,
        "url": "http://llm:8000/v1" if kind == "direct" else None,
        "model": "tiny" if kind == "direct" else "chat/openai",
        "served_by": fc.SELF_HOSTED if kind == "direct" else fc.PROVIDER,
        "fallback": kind != "direct",
        "key_env": None,
        "timeout_seconds": 10.0,
        "stream_timeout_seconds": 10.0,
    }
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


def test_upstream_urls() -> None:
    loop = "http://127.0.0.1:4001"
    assert upstream_url(candidate(), "/v1/chat/completions", loop, {}) == "http://llm:8000/v1/chat/completions"
    assert upstream_url(candidate(url="http://llm:8000/v1/"), "/v1/embeddings", loop, {}) == "http://llm:8000/v1/embeddings"
    ref = candidate(url="os.environ/LLM_URL")
    assert upstream_url(ref, "/v1/completions", loop, {"LLM_URL": "http://10.0.0.5/v1"}) == "http://10.0.0.5/v1/completions"
    assert upstream_url(ref, "/v1/completions", loop, {}) is None  # unset: this candidate cannot serve
    assert upstream_url(candidate("litellm"), "/v1/chat/completions", loop, {}) == loop + "/v1/chat/completions"


def test_the_upstream_body_sets_the_model_and_asks_every_stream_for_its_usage() -> None:
    body = {"model": "chat", "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    usage = {"stream_options": {"include_usage": True}}
    assert json.loads(upstream_body(body, candidate())) == {**body, "model": "tiny", **usage}
    assert json.loads(upstream_body(body, candidate("litellm"))) == {**body, "model": "chat/openai", **usage}
    # only include_usage survives in stream_options; a non-stream carries none
    extra = {**body, "stream_options": {"include_usage": False, "continuous_usage_stats": True}}
    assert json.loads(upstream_body(extra, candidate()))["stream_options"] == {"include_usage": True}
    assert "stream_options" not in json.loads(upstream_body({**extra, "stream": False}, candidate()))


# LiteLLM 1.103.1 honours these as call arguments (router fallbacks, deployment overrides): a consumer's
# request naming them could reach another group's deployment or another account.
ROUTING_AND_AUTH_KEYS = (
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "timeout",
    "api_base",
    "api_key",
    "organization",
    "extra_headers",
    "metadata",
    "mock_response",
    "extra_body",
    "model_list",
)


@pytest.mark.parametrize("key", ROUTING_AND_AUTH_KEYS)
def test_routing_and_auth_keys_are_refused_and_never_sent_on(key: str) -> None:
    body = {"model": "chat", "messages": [], key: ["other/openai"]}
    assert refused_key("/v1/chat/completions", body, self_hosted=True) == key
    assert refused_key("/v1/completions", {"model": "c", "prompt": "x", key: 1}, self_hosted=False) == key
    for kind in ("direct", "litellm"):
        assert key not in json.loads(upstream_body(body, candidate(kind)))


def test_vllm_sampling_keys_only_on_a_group_with_a_self_hosted_route_and_only_to_it() -> None:
    body = {"model": "chat", "messages": [], "top_k": 5, "ignore_eos": True, "temperature": 0.2}
    assert refused_key("/v1/chat/completions", body, self_hosted=True) is None
    assert refused_key("/v1/chat/completions", body, self_hosted=False) == "ignore_eos"
    assert refused_key("/v1/chat/completions", {**body, "chat_template": "x"}, self_hosted=True) == "chat_template"
    assert json.loads(upstream_body(body, candidate()))["top_k"] == 5
    to_provider = json.loads(upstream_body(body, candidate("litellm")))
    assert to_provider == {"model": "chat/openai", "messages": [], "temperature": 0.2}  # the fallback gets OpenAI keys
    embed = {"model": "e", "input": "x", "dimensions": 8, "encoding_format": "float", "user": "u"}
    assert refused_key("/v1/embeddings", embed, self_hosted=True) is None
    assert refused_key("/v1/embeddings", {**embed, "top_k": 1}, self_hosted=True) == "top_k"


USAGE_EVENT = b'data: {"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\n'
CONTENT_EVENT = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'


def test_the_forced_usage_event_is_read_and_taken_out_when_the_client_did_not_ask() -> None:
    stream = CONTENT_EVENT * 2 + USAGE_EVENT + b"data: [DONE]\n\n"
    for size in (1, 7, 64, len(stream)):  # however the bytes arrive
        f = UsageFilter(strip=True)
        out = b"".join(f.feed(stream[i : i + size]) for i in range(0, len(stream), size)) + f.finish()
        assert out == CONTENT_EVENT * 2 + b"data: [DONE]\n\n"
        assert f.usage == (7, 3) and f.events == 4
    kept = UsageFilter(strip=False)
    assert kept.feed(stream) == stream and kept.events == 4  # asked for: passed through as it is


def test_a_usage_event_with_choices_and_crlf_events_pass_through() -> None:
    with_choices = b'data: {"choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}\r\n\r\n'
    f = UsageFilter(strip=True)
    assert f.feed(with_choices + b"data: [DONE]\r\n\r\n") == with_choices + b"data: [DONE]\r\n\r\n"
    assert f.usage == (1, 2)
    partial = UsageFilter(strip=True)
    assert partial.feed(b"data: {") == b""  # half an event waits for its end
    assert partial.finish() == b"data: {"  # and is sent as it is when the stream ends


def test_client_wants_usage() -> None:
    assert client_wants_usage({"stream_options": {"include_usage": True}})
    assert not client_wants_usage({"stream_options": {"include_usage": "yes"}}) and not client_wants_usage({})


def test_usage_is_read_from_a_json_answer_and_from_a_streams_last_events() -> None:
    assert usage_from_json(b'{"usage": {"prompt_tokens": 5, "completion_tokens": 7}}') == (5, 7)
    assert usage_from_json(b"not json") == (None, None)
    tail = (
        b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":300}}\n\n'
        b"data: [DONE]\n\n"
    )
    assert usage_from_sse_tail(tail) == (3, 300)
    assert usage_from_sse_tail(b'data: {"choices":[{"delta":{"content":"x"}}]}\n\ndata: [DONE]\n\n') == (None, None)
    assert usage_from_sse_tail(b'data: {"usage": nul') == (None, None)  # cut in the middle: no guess


# --------------------------------------------------------------------------------------------
# The request log line and the metrics


def test_the_log_line_holds_the_mark_the_contract_fields_and_an_emf_block() -> None:
    record = RequestRecord("chat", "web", fc.PROVIDER, "provider/standin", True, 200, 12.345, 5, 7)
    line = request_log_line(record, stack="prod", epoch_ms=1_700_000_000_000)
    emf_members = {"stack", fc.METRIC_REQUESTS, fc.METRIC_FALLBACKS, fc.METRIC_SELF_HOSTED_OK, "_aws"}
    assert set(line) == {fc.REQUEST_LOG_MARK, *fc.LOG_FIELDS, *emf_members}
    assert line[fc.REQUEST_LOG_MARK] == 1
    assert (line["route"], line["served_by"], line["fallback"], line["ttft_ms"]) == ("chat", "provider", True, 12.35)
    aws = line["_aws"]
    assert isinstance(aws, dict)
    assert aws["Timestamp"] == 1_700_000_000_000
    [directive] = aws["CloudWatchMetrics"]
    assert directive["Namespace"] == fc.METRIC_NAMESPACE
    assert directive["Dimensions"] == [list(fc.METRIC_DIMENSIONS)]
    assert {m["Name"] for m in directive["Metrics"]} == {fc.METRIC_REQUESTS, fc.METRIC_FALLBACKS, fc.METRIC_SELF_HOSTED_OK}
    # Every dimension and metric the directive names is a member of the line (EMF requires it).
    assert all(d in line for d in fc.METRIC_DIMENSIONS) and all(m["Name"] in line for m in directive["Metrics"])
    json.dumps(line)


def test_a_request_without_a_known_route_has_no_emf_block() -> None:
    line = request_log_line(RequestRecord(status=404), stack="prod", epoch_ms=0)
    assert set(line) == {fc.REQUEST_LOG_MARK, *fc.LOG_FIELDS}
    assert line["route"] == "" and line["served_by"] == fc.NONE


@pytest.mark.parametrize(
    "record",
    [
        RequestRecord("chat", "web", fc.SELF_HOSTED, "chat/vllm", False, 200),
        RequestRecord("chat", "web", fc.SELF_HOSTED, "chat/vllm", False, 400),
        RequestRecord("chat", "web", fc.PROVIDER, "provider/x", True, 200),
        RequestRecord("api", "web", fc.PROVIDER, "api/x", False, 200),
        RequestRecord("chat", "web", fc.NONE, "", False, 503),
        RequestRecord("chat", "web", fc.NONE, "", False, 429),
        RequestRecord("chat", "web", fc.NONE, "", False, 403),
    ],
)
def test_the_emf_values_count_what_the_fallback_alarms_count(record: RequestRecord) -> None:
    """fallback_alarms is the reference semantics every cloud's alarm agrees with; the front's metric
    values are the same counts, so an alarm on the metric and one on the log lines agree."""
    line = request_log_line(record, stack="s", epoch_ms=0)
    values = metric_values(record)
    assert values[fc.METRIC_REQUESTS] == int(fallback_alarms.counts_as_request(line))
    assert values[fc.METRIC_FALLBACKS] == int(fallback_alarms.counts_as_fallback(line))
    assert values[fc.METRIC_SELF_HOSTED_OK] == int(fallback_alarms.counts_as_self_hosted_ok(line))


def test_prometheus_text() -> None:
    text = prometheus_text({("chat", fc.PROVIDER, "true", "2xx"): 3, ("", fc.NONE, "false", "4xx"): 1})
    assert f"# TYPE {fc.PROM_REQUESTS} counter" in text
    assert f'{fc.PROM_REQUESTS}{{route="chat",served_by="provider",fallback="true",code="2xx"}} 3' in text.splitlines()
    assert f'{fc.PROM_REQUESTS}{{route="",served_by="none",fallback="false",code="4xx"}} 1' in text.splitlines()


# --------------------------------------------------------------------------------------------
# Keys and identity


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rotated_key_is_accepted_at_once_and_the_old_one_for_the_grace_period(tmp_path: Path) -> None:
    key = tmp_path / "edge.key"
    key.write_text("old-key\n")
    clock = Clock()
    ring = KeyRing(edge_key_reader([], [str(key)], {}), signature=lambda: files_signature([str(key)]), clock=clock)
    assert ring.owner("old-key") is not None
    assert ring.owner("wrong") is None  # a wrong key just before the rotation …
    key.write_text("new-key-longer\n")
    assert ring.owner("new-key-longer") is not None  # … does not delay the new one: the file's stat changed
    assert ring.owner("old-key") is not None  # still accepted: an edge may cache it
    clock.now += 899
    assert ring.owner("old-key") is not None
    clock.now += 2
    ring.refresh()
    assert ring.owner("old-key") is None  # the grace period is over
    assert ring.owner("new-key-longer") is not None


def test_unknown_keys_re_read_unchanged_sources_at_most_once_per_interval(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("k")
    clock = Clock()
    reads: list[int] = []

    def read() -> dict[str, str]:
        reads.append(1)
        return {"k": "edge"}

    ring = KeyRing(read, signature=lambda: files_signature([str(key)]), refresh_seconds=5, clock=clock)
    for _ in range(50):
        assert ring.owner("guess") is None
    assert len(reads) == 1  # the read at start; the flood inside one interval only took stats
    clock.now += 5
    assert ring.owner("guess") is None
    assert len(reads) == 2


def test_edge_keys_come_from_the_current_and_previous_env_vars() -> None:
    env = {fc.EDGE_KEY_ENV: "current\n", fc.EDGE_KEY_PREVIOUS_ENV: "previous"}
    ring = KeyRing(edge_key_reader([fc.EDGE_KEY_ENV, fc.EDGE_KEY_PREVIOUS_ENV], [], env))
    assert ring.owner("current") and ring.owner("previous")
    assert ring.owner("curren") is None and ring.owner("") is None


def test_a_consumer_key_shared_by_two_consumers_is_nobodys(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("ka")
    (tmp_path / "b").write_text("same")
    (tmp_path / "c").write_text("same")
    read = consumer_key_reader({"a": str(tmp_path / "a"), "b": str(tmp_path / "b"), "c": str(tmp_path / "c"), "d": str(tmp_path / "none")})
    assert dict(read()) == {"ka": "a"}


GRANTED = {"web": object(), "batch": object()}


def test_a_consumer_key_file_may_hold_the_new_and_the_old_key_so_a_fresh_instance_accepts_both(tmp_path: Path) -> None:
    """GCP rotation: `secrets put consumer-app` with the new key and the old one on a second line; an instance
    started after that (no grace period in its memory) must still accept the old key."""
    app = tmp_path / "app"
    app.write_text("key-app-new\nkey-app-old\n")
    ring = KeyRing(consumer_key_reader({"app": str(app)}))  # a fresh instance
    assert (ring.owner("key-app-new"), ring.owner("key-app-old")) == ("app", "app")
    assert ring.owner("key-app-new\nkey-app-old") is None  # the file's whole text is no key
    app.write_text("key-app-new\n")  # the rotation's second put: the old key ends (after the running ones' grace)
    assert KeyRing(consumer_key_reader({"app": str(app)})).owner("key-app-old") is None


def edge_ring() -> KeyRing:
    return KeyRing(lambda: {"edge-key": "env:PULUMI_LLM_EDGE_KEY"})


def test_mode_edge_needs_the_edge_key_and_a_granted_consumer() -> None:
    ring = edge_ring()
    assert decide_identity("edge", "Bearer edge-key", "web", keys=ring, granted=GRANTED).consumer == "web"
    no_header = decide_identity("edge", "Bearer edge-key", None, keys=ring, granted=GRANTED)
    assert (no_header.consumer, no_header.status) == (None, 403)  # the edge key without the edge
    assert decide_identity("edge", "Bearer edge-key", "someone", keys=ring, granted=GRANTED).status == 403
    assert decide_identity("edge", "Bearer wrong", "web", keys=ring, granted=GRANTED).status == 401
    assert decide_identity("edge", None, "web", keys=ring, granted=GRANTED).status == 401


def test_mode_keys_takes_the_consumer_from_its_key_and_ignores_the_header() -> None:
    ring = KeyRing(lambda: {"key-of-web": "web"})
    assert decide_identity("keys", "Bearer key-of-web", "batch", keys=ring, granted=GRANTED).consumer == "web"
    assert decide_identity("keys", "Bearer edge-key", "web", keys=ring, granted=GRANTED).status == 401


def test_a_key_the_front_knows_but_no_consumer_may_present_is_403_and_an_unknown_one_401() -> None:
    known = KeyRing(lambda: {"loop-key": "loopback", "edge-key": "env:PULUMI_LLM_EDGE_KEY"})
    consumers = KeyRing(lambda: {"key-of-web": "web"})
    for token in ("loop-key", "edge-key"):  # mode keys: LiteLLM's per-boot key, or an edge key if configured
        refused = decide_identity("keys", f"Bearer {token}", "web", keys=consumers, granted=GRANTED, known=known)
        assert (refused.consumer, refused.status) == (None, 403)
        assert token not in refused.reason
    assert decide_identity("keys", "Bearer guessed", None, keys=consumers, granted=GRANTED, known=known).status == 401
    assert decide_identity("keys", "Bearer key-of-web", None, keys=consumers, granted=GRANTED, known=known).consumer == "web"
    # Mode edge: LiteLLM's key as the bearer is 403 with or without a consumer header; the edge key still works.
    loop_only = KeyRing(lambda: {"loop-key": "loopback"})
    for header in (None, "web"):
        assert decide_identity("edge", "Bearer loop-key", header, keys=edge_ring(), granted=GRANTED, known=loop_only).status == 403
    assert decide_identity("edge", "Bearer edge-key", "web", keys=edge_ring(), granted=GRANTED, known=loop_only).consumer == "web"
    assert decide_identity("edge", "Bearer other", "web", keys=edge_ring(), granted=GRANTED, known=loop_only).status == 401


def test_litellm_gets_the_loopback_key_and_never_the_edge_key() -> None:
    env = litellm_environment(
        {
            fc.EDGE_KEY_ENV: "e",
            fc.EDGE_KEY_PREVIOUS_ENV: "p",
            "LITELLM_MASTER_KEY": "from-shell",
            "OPENAI_API_KEY": "o",
            engine.FRONT_CONFIG_ENV: "c",
        },
        "loopback",
        [fc.EDGE_KEY_ENV],
    )
    assert env == {"LITELLM_MASTER_KEY": "loopback", "OPENAI_API_KEY": "o"}


# --------------------------------------------------------------------------------------------
# engine.front_config and boot

SELF = ProviderRoute("vllm", "self-hosted", "tiny", api_base="http://llm:8000/v1", secret_env="SELF_HOSTED_API_KEY")
OPENAI = ProviderRoute("openai", "openai", "gpt-4o-mini", secret_env="OPENAI_API_KEY")


def gateway_spec() -> GatewaySpec:
    return GatewaySpec(
        model_groups=(ModelGroup("chat", (SELF,), fallbacks=("api",), retries=0), ModelGroup("api", (OPENAI,))),
        consumers=(Consumer("web", ("chat",), rpm=60), Consumer("batch", ("api",))),
        cooldown_seconds=7.5,
    )


def test_front_config_round_trips_through_the_front() -> None:
    doc = engine.front_config(gateway_spec(), identity="edge", stack="prod")
    config = front_config_from_document(json.loads(base64.b64decode(engine.encode_front_config(doc))))
    assert (config.identity, config.stack, config.port, config.litellm_url) == ("edge", "prod", 4000, "http://127.0.0.1:4001")
    assert config.edge_key_envs == (fc.EDGE_KEY_ENV, fc.EDGE_KEY_PREVIOUS_ENV)
    assert config.retry_after_seconds == 8
    front = Front(config, "loopback", environ={})
    assert [c.deployment for c in front.chains["chat"]] == ["chat/vllm", "api/openai"]
    assert front.granted["web"].requests_per_minute == 60


def test_front_config_takes_the_grants_from_the_spec_by_default() -> None:
    spec = GatewaySpec(
        model_groups=(ModelGroup("api", (OPENAI,)),),
        consumers=(Consumer("web", ("api",), rpm=60, tpm=9000, max_tokens=512, requests_per_day=1000, tokens_per_day=90000),),
    )
    grant = Front(front_config_from_document(engine.front_config(spec, identity="edge", stack="s")), None, environ={}).granted["web"]
    assert (grant.max_tokens, grant.requests_per_minute, grant.requests_per_day, grant.tokens_per_minute, grant.tokens_per_day) == (
        512,
        60,
        1000,
        9000,
        90000,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"identity": None}, "front config: identity = None: allowed edge or keys"),
        ({"stack": ""}, "front config: stack: allowed a non-empty string"),
        ({"port": 0}, "front config: port = 0: allowed 1 to 65535"),
        ({"port": True}, "front config: port = True: allowed 1 to 65535"),
        ({"edge_key_envs": "PULUMI_LLM_EDGE_KEY"}, "front config: edge_key_envs: allowed a list of strings"),
        ({"consumer_key_files": {"web": 3}}, "front config: consumer_key_files: allowed an object of consumer to file path"),
        ({"cooldown_seconds": -1}, "front config: cooldown_seconds = -1: allowed a number, 0 or more"),
    ],
)
def test_a_malformed_front_config_is_refused_in_one_line(change: dict[str, object], message: str) -> None:
    doc = {**engine.front_config(gateway_spec(), identity="edge", stack="prod"), **change}
    with pytest.raises(ValueError) as caught:
        front_config_from_document(doc)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"identity": "mtls"}, "gateway.identity = 'mtls': allowed edge or keys"),
        ({"identity": "keys"}, "gateway.consumers.batch: identity keys needs a key file for every consumer; none given"),
        (
            {"identity": "keys", "consumer_key_files": {"web": "/k/web", "batch": "/k/b", "ghost": "/k/g"}},
            "gateway: a key file for 'ghost', which is no consumer",
        ),
        ({"identity": "edge", "consumer_key_files": {"web": "/k/web"}}, "gateway: consumer key files are read only with identity keys"),
    ],
)
def test_front_config_refuses_in_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError) as caught:
        engine.front_config(gateway_spec(), stack="prod", **kwargs)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_the_boot_command_fits_the_cloud_limits_and_ships_the_package() -> None:
    for program in (engine.BOOT, engine.BOOT_WITH_SECRET_FILES):
        size = len(program.encode())
        print(f"boot command: {size} bytes")
        assert size <= engine.MAX_BOOT_BYTES
        compile(program, "<boot>", "exec")
    [blob] = [line for line in engine.BOOT.splitlines() if "zlib.decompress" in line]
    files = json.loads(zlib.decompress(base64.b64decode(blob.split("'")[1])))
    assert set(files) == {"__init__.py", *engine.FRONT_MODULES}
    for name, text in files.items():
        compile(text, name, "exec")
    assert engine.BOOT_WITH_SECRET_FILES.index(engine.SECRET_FILES_ENV) < engine.BOOT_WITH_SECRET_FILES.index("front_server import main")


def test_the_shipped_front_refuses_a_broken_config_with_one_line(tmp_path: Path) -> None:
    """The boot as the container runs it: the package written and imported, the front's config read —
    here a broken one, so it stops with one line and exit code 2 before listening."""
    env = {
        "PATH": "/usr/bin:/bin",
        engine.BOOT_DIR_ENV: str(tmp_path),
        engine.FRONT_CONFIG_ENV: base64.b64encode(json.dumps({"identity": "magic"}).encode()).decode(),
    }
    done = subprocess.run([sys.executable, "-c", engine.BOOT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == ["pulumi-llm front: front config: identity = 'magic': allowed edge or keys"]
    assert (tmp_path / engine.FRONT_PACKAGE / "front_server.py").is_file()


# --------------------------------------------------------------------------------------------
# One front in process against the stand-in: fallback before the first byte, pass-through, headers

STANDIN_KEY = "unit-standin-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(api_key=STANDIN_KEY) as provider:
        provider.behave("failing", Behaviour(status=500))
        provider.behave("same", Behaviour(chunks=300, identical=True, text="same"))
        provider.behave("slow-first", Behaviour(chunks=2, first_chunk_delay=1.0))
        yield provider


def in_process_spec(fake_url: str, dead_url: str) -> GatewaySpec:
    def sh(name: str, base: str, model: str) -> ProviderRoute:
        return ProviderRoute(name, "self-hosted", model, api_base=base, secret_env="STANDIN_KEY", timeout_seconds=5)

    return GatewaySpec(
        model_groups=(
            ModelGroup("chat", (sh("down", dead_url, "ok"), sh("failing", fake_url, "failing"), sh("good", fake_url, "ok"))),
            ModelGroup("private", (sh("failing", fake_url, "failing"),), boundary="private"),
            ModelGroup("same", (sh("same", fake_url, "same"),)),
            ModelGroup("slow-first", (sh("slow", fake_url, "slow-first"),)),
        ),
        consumers=(Consumer("web", ("chat", "private", "same", "slow-first")),),
        cooldown_seconds=3,
        stream_keepalive_seconds=0.25,
    )


async def _run_front(fake: FakeProvider, lines: list[dict[str, object]]) -> list[tuple[int, dict[str, str], bytes]]:
    spec = in_process_spec(fake.base_url, f"http://127.0.0.1:{free_port()}/v1")
    config = front_config_from_document(engine.front_config(spec, identity="edge", stack="unit", host="127.0.0.1", port=free_port()))
    front = Front(config, None, environ={fc.EDGE_KEY_ENV: "edge", "STANDIN_KEY": STANDIN_KEY})
    front._finish = lambda record: lines.append(request_log_line(record, stack="unit", epoch_ms=0))  # type: ignore[method-assign]
    runner = web.AppRunner(front.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.port).start()
    url = f"http://127.0.0.1:{config.port}"
    headers = {"Authorization": "Bearer edge", fc.CONSUMER_HEADER: "web"}
    out: list[tuple[int, dict[str, str], bytes]] = []
    try:
        async with ClientSession() as session:
            for body in (
                {"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
                {"model": "private", "messages": [{"role": "user", "content": "hi"}]},
                {"model": "same", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                {"model": "chat", "max_tokens": 0, "messages": []},
                {"model": "slow-first", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            ):
                async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as answer:
                    out.append((answer.status, {k.lower(): v for k, v in answer.headers.items()}, await answer.read()))
            async with session.get(url + "/health", headers=headers) as answer:
                out.append((answer.status, {k.lower(): v for k, v in answer.headers.items()}, await answer.read()))
    finally:
        await runner.cleanup()
    return out


def test_an_in_process_front_falls_back_passes_streams_whole_and_says_who_served(fake: FakeProvider) -> None:
    lines: list[dict[str, object]] = []
    chat, private, same, bad, slow, health = asyncio.run(_run_front(fake, lines))
    # chat: the dead route, then the failing one (500), then the good one — before any byte reached the client.
    assert chat[0] == 200, chat[2]
    assert (chat[1][fc.SERVED_BY_HEADER], chat[1][fc.FALLBACK_HEADER]) == ("self-hosted", "true")
    assert [r.bearer for r in fake.requests_for("failing")][:1] == [STANDIN_KEY]
    # private: nothing can serve → 503 + Retry-After (the spec's cooldown).
    assert private[0] == 503 and private[1]["retry-after"] == "3"
    assert private[1][fc.SERVED_BY_HEADER] == "none"
    # 300 identical chunks pass whole.
    events = [e for e in same[2].decode().split("\n\n") if e.startswith("data: ") and e != "data: [DONE]"]
    assert len(events) == 300 and same[2].decode().rstrip().endswith("data: [DONE]")
    # the front's own refusal: a bad body is 400 and nothing is called.
    assert bad[0] == 400 and bad[1][fc.SERVED_BY_HEADER] == "none"
    # the last candidate answered 200 and is slow to its first token: keep-alive comments meanwhile.
    text = slow[2].decode()
    assert slow[0] == 200 and text.index(": keep-alive") < text.index("data: ") and text.count(": keep-alive") >= 2
    assert health[0] == 404 and health[1][fc.SERVED_BY_HEADER] == "none"
    assert [(line["route"], line["status"], line["deployment"]) for line in lines] == [
        ("chat", 200, "chat/good"),
        ("private", 503, ""),
        ("same", 200, "same/same"),
        ("chat", 400, ""),
        ("slow-first", 200, "slow-first/slow"),
        ("", 404, ""),
    ]


# One front in process, identity mode keys: every refusal says who served it and never echoes a key

LOOPBACK = "unit-loopback-" + "k" * 24
KEY_WEB = "unit-consumer-web-" + "w" * 24


async def _refusals(tmp_path: Path) -> list[tuple[str, int, dict[str, str], bytes]]:
    (tmp_path / "web").write_text(KEY_WEB + "\n")
    spec = GatewaySpec(
        model_groups=(
            ModelGroup("chat", (ProviderRoute("r", "self-hosted", "ok", api_base="http://127.0.0.1:9/v1"),)),
            ModelGroup("other", (ProviderRoute("r", "self-hosted", "ok", api_base="http://127.0.0.1:9/v1"),)),
        ),
        consumers=(Consumer("web", ("chat",), rpm=1),),
    )
    doc = engine.front_config(
        spec, identity="keys", stack="unit", host="127.0.0.1", port=free_port(), consumer_key_files={"web": str(tmp_path / "web")}
    )
    config = front_config_from_document(doc)
    front = Front(config, LOOPBACK, environ={})
    front._finish = lambda record: None  # type: ignore[method-assign]
    runner = web.AppRunner(front.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.port).start()
    url = f"http://127.0.0.1:{config.port}"
    chat_body = {"model": "chat", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    cases: list[tuple[str, str, str, dict[str, str], object]] = [
        ("no key", "POST", "/v1/chat/completions", {}, chat_body),
        ("unknown key", "POST", "/v1/chat/completions", {"Authorization": "Bearer sk-guessed-" + "g" * 20}, chat_body),
        ("loopback key", "POST", "/v1/chat/completions", {"Authorization": f"Bearer {LOOPBACK}"}, chat_body),
        ("not granted", "POST", "/v1/chat/completions", {"Authorization": f"Bearer {KEY_WEB}"}, {**chat_body, "model": "other"}),
        ("bad body", "POST", "/v1/chat/completions", {"Authorization": f"Bearer {KEY_WEB}"}, {"model": "chat", "max_tokens": -1}),
        ("no route", "POST", f"/v1/{KEY_WEB}/chat", {"Authorization": f"Bearer {KEY_WEB}"}, chat_body),
        ("admitted, nothing serves", "POST", "/v1/chat/completions", {"Authorization": f"Bearer {KEY_WEB}"}, chat_body),
        ("over the rate", "POST", "/v1/chat/completions", {"Authorization": f"Bearer {KEY_WEB}"}, chat_body),
    ]
    out: list[tuple[str, int, dict[str, str], bytes]] = []
    try:
        async with ClientSession() as session:
            for name, method, path, headers, body in cases:
                async with session.request(method, url + path, json=body, headers=headers) as answer:
                    out.append((name, answer.status, {k.lower(): v for k, v in answer.headers.items()}, await answer.read()))
    finally:
        await runner.cleanup()
    return out


def test_every_refusal_carries_the_who_served_headers_and_never_a_key(tmp_path: Path) -> None:
    answers = asyncio.run(_refusals(tmp_path))
    assert [(name, status) for name, status, _, _ in answers] == [
        ("no key", 401),
        ("unknown key", 401),
        ("loopback key", 403),
        ("not granted", 403),
        ("bad body", 400),
        ("no route", 404),
        ("admitted, nothing serves", 503),
        ("over the rate", 429),
    ]
    for name, _status, headers, body in answers:
        assert (headers[fc.SERVED_BY_HEADER], headers[fc.FALLBACK_HEADER]) == (fc.NONE, "false"), name
        assert json.loads(body)["error"]["message"], name
        for key in (LOOPBACK, KEY_WEB, "sk-guessed-"):
            assert key.encode() not in body, (name, key)
    assert answers[-1][2]["retry-after"].isdigit()
