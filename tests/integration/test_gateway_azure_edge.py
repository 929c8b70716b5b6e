"""The Azure shape of the gateway, run for real: the engine booted as Container Apps boots it (``engine.BOOT``,
the front in identity mode ``edge`` with LiteLLM behind it on loopback) behind the APIM stand-in
(``support/apim_edge.py``), which runs the /v1 API policy AzureGateway renders, its operations and its
subscription key names.

A local OpenAI-compatible stand-in (``support/fake_provider.py``) plays both the self-hosted server and the
API provider, so every backend call is on its request log. What must hold (issue 15, Azure):

* consumer A gets its models; A asking for consumer B's model → 403 and no backend is called;
* admin, pass-through and health paths → 404 at the edge (no operation), nothing forwarded;
* a subscription key in the query string → 401, nothing forwarded;
* over its requests per minute (the front's grant, not an APIM policy — the stand-in models none) a consumer
  gets 429 with a positive Retry-After and ``x-pulumi-llm-served-by: none``, and no backend is called;
* the edge key presented by a client is no credential (401), and a client's Authorization or consumer
  header never reaches the front; LiteLLM's per-boot key presented straight to the front is 403;
* rotating the edge key (staged as litellm-master-previous, then APIM's named value refreshed) → no 401;
* the /openai API (Azure OpenAI's deployment operations, straight to the pool, not through the front): the
  consumer's product policy lets through only its deployments — another is 403 and nothing is forwarded —
  and caps max_tokens / max_completion_tokens as the front does.

And issue 20 on Azure: the front's real request lines, as Container Apps stores them, run through the log
alerts' KQL — a hybrid route whose self-hosted backend is down fires both alarms, a served one neither, in
agreement with ``fallback_alarms.fallback_alarm_fires``.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.gateway import azure_alarms  # noqa: E402
from pulumi_llm.gateway import front_contract as fc  # noqa: E402
from pulumi_llm.gateway.azure import (  # noqa: E402
    MASTER_KEY_NAMED_VALUE,
    OPENAI_API,
    ApimConsumer,
    consumer_product_policy,
    engine_api_policy,
    openai_api_policy,
)
from pulumi_llm.gateway.config import Consumer, GatewaySpec  # noqa: E402
from pulumi_llm.gateway.fallback_alarms import FallbackAlarm, fallback_alarm_fires  # noqa: E402
from support import edge_engine, kql_eval  # noqa: E402
from support.apim_edge import MANAGED_IDENTITY_TOKEN, ApimEdge  # noqa: E402
from support.edge_engine import Answer, send  # noqa: E402
from support.fake_provider import FakeProvider  # noqa: E402
from support.front_boot import BootedFront, litellm_master_key  # noqa: E402

pytestmark = pytest.mark.integration

# Test values created here; never real credentials.
EDGE_KEY_OLD = "sk-itest-azure-edge-old-" + uuid.uuid4().hex[:12]
EDGE_KEY_NEW = "sk-itest-azure-edge-new-" + uuid.uuid4().hex[:12]
KEY_A = uuid.uuid4().hex  # APIM generates 32 hex characters per subscription key
KEY_B = uuid.uuid4().hex
KEY_L = uuid.uuid4().hex
A, B, LIMITED = "search", "support-bot", "limited"
LIMITED_RPM = 2
APP = "llm-itest-engine"


def gateway_spec(fake_url: str) -> GatewaySpec:
    consumers = (
        Consumer(A, edge_engine.HYBRID_GROUPS),
        Consumer(B, ("provider", "support-only")),
        Consumer(LIMITED, ("provider",), rpm=LIMITED_RPM),
    )
    return edge_engine.hybrid_spec(fake_url, ("support-only", "gpt-support"), consumers)


@dataclass
class Azure:
    engine: BootedFront
    edge: ApimEdge
    fake: FakeProvider


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azure]:
    with edge_engine.fake_backends() as fake:
        spec = gateway_spec(fake.base_url)
        doc = edge_engine.front_doc(spec, fc.IDENTITY_EDGE)
        # Rotation step 1 done: the new key is staged in litellm-master-previous and the revision restarted,
        # so the front accepts both while APIM's named value still holds the old one.
        env = {fc.EDGE_KEY_ENV: EDGE_KEY_OLD, fc.EDGE_KEY_PREVIOUS_ENV: EDGE_KEY_NEW}
        policy = engine_api_policy(consumer_header=fc.CONSUMER_HEADER, forward_timeout_seconds=230)
        with edge_engine.booted_engine(spec, doc, env, tmp_path_factory.mktemp("azure-engine"), "azure-edge") as booted:
            with ApimEdge(booted.url, policy, {KEY_A: A, KEY_B: B, KEY_L: LIMITED}, {MASTER_KEY_NAMED_VALUE: EDGE_KEY_OLD}) as edge:
                yield Azure(booted, edge, fake)


def chat(
    azure: Azure, model: str, *, key: str | None = KEY_A, path: str = "/v1/chat/completions", headers: dict[str, str] | None = None
) -> Answer:
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["Ocp-Apim-Subscription-Key"] = key
    return edge_engine.chat(azure.edge.url + path, model, headers=all_headers)


def test_a_consumer_gets_its_models_through_the_edge(azure: Azure) -> None:
    answer = chat(azure, "chat")
    assert answer.status == 200, answer.body
    assert (answer.headers[fc.SERVED_BY_HEADER], answer.headers[fc.FALLBACK_HEADER]) == (fc.SELF_HOSTED, "false")
    listed = send(azure.edge.url + "/v1/models", method="GET", headers={"Ocp-Apim-Subscription-Key": KEY_A})
    assert listed.status == 200 and [m["id"] for m in listed.json()["data"]] == ["chat", "chat-down", "provider"]
    assert chat(azure, "support-only", key=KEY_B).status == 200
    # What the front received: the consumer's name and the edge key from the named value, no subscription key.
    forwarded = {k.lower(): v for k, v in azure.edge.forwarded[0].items()}
    assert forwarded[fc.CONSUMER_HEADER] == A and forwarded["authorization"] == f"Bearer {EDGE_KEY_OLD}"
    assert "ocp-apim-subscription-key" not in forwarded


def test_a_consumer_asking_for_another_consumers_model_is_403_and_nothing_is_called(azure: Azure) -> None:
    before = len(azure.fake.requests)
    answer = chat(azure, "support-only")  # B's model, asked by A
    assert answer.status == 403, answer.body
    assert answer.headers[fc.SERVED_BY_HEADER] == fc.NONE
    assert len(azure.fake.requests) == before  # neither the provider nor the self-hosted stand-in was called


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/key/generate"),
        ("GET", "/v1/key/info"),
        ("GET", "/v1/model/info"),
        ("POST", "/anthropic/v1/messages"),
        ("POST", "/v1/anthropic/v1/messages"),
        ("POST", "/v1/openai/v1/chat/completions"),
        ("POST", "/v1/responses"),
        ("GET", "/v1/health"),
        ("GET", "/v1/health/liveliness"),
        ("GET", "/v1/metrics"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/chat/completions"),
    ],
)
def test_only_the_inference_operations_exist_at_the_edge(azure: Azure, method: str, path: str) -> None:
    forwarded, before = len(azure.edge.forwarded), len(azure.fake.requests)
    body = {"model": "provider", "messages": [{"role": "user", "content": "hi"}]} if method == "POST" else None
    answer = send(azure.edge.url + path, method=method, body=body, headers={"Ocp-Apim-Subscription-Key": KEY_A})
    assert answer.status == 404, (path, answer.body)
    assert (len(azure.edge.forwarded), len(azure.fake.requests)) == (forwarded, before)


def test_over_its_requests_per_minute_a_consumer_gets_429_with_retry_after_and_no_backend_is_called(azure: Azure) -> None:
    # The front enforces the grant (rpm from the spec); APIM's own rate-limit-by-key is not modelled here.
    answers = [chat(azure, "provider", key=KEY_L) for _ in range(LIMITED_RPM)]
    assert [a.status for a in answers] == [200] * LIMITED_RPM
    called = len(azure.fake.requests)
    over = chat(azure, "provider", key=KEY_L)
    assert over.status == 429, over.body
    assert int(over.headers["retry-after"]) >= 1
    assert over.headers[fc.SERVED_BY_HEADER] == fc.NONE
    assert len(azure.fake.requests) == called  # refused before any backend
    assert {k.lower(): v for k, v in azure.edge.forwarded[-1].items()}[fc.CONSUMER_HEADER] == LIMITED


def test_a_subscription_key_in_the_query_string_is_refused(azure: Azure) -> None:
    forwarded = len(azure.edge.forwarded)
    alone = chat(azure, "provider", key=None, path=f"/v1/chat/completions?subscription-key={KEY_A}")
    assert alone.status == 401 and "header only" in alone.json()["error"]["message"]
    with_header = chat(azure, "provider", path=f"/v1/chat/completions?Subscription-Key={KEY_A}")
    assert with_header.status == 401
    assert len(azure.edge.forwarded) == forwarded


def test_the_edge_key_is_no_credential_for_a_client(azure: Azure) -> None:
    forwarded = len(azure.edge.forwarded)
    assert chat(azure, "provider", key=EDGE_KEY_OLD).status == 401  # as a subscription key
    assert chat(azure, "provider", key=None, headers={"Authorization": f"Bearer {EDGE_KEY_OLD}"}).status == 401
    assert len(azure.edge.forwarded) == forwarded
    # The edge key as the bearer beside a valid subscription key: the API policy knows it (its named value) → 403.
    for scheme in ("Bearer", "bearer"):
        presented = chat(azure, "provider", key=KEY_A, headers={"Authorization": f"{scheme} {EDGE_KEY_OLD}"})
        assert presented.status == 403, presented.body
        assert presented.headers[fc.SERVED_BY_HEADER] == fc.NONE and EDGE_KEY_OLD.encode() not in presented.body
    assert len(azure.edge.forwarded) == forwarded  # refused at the edge, nothing forwarded
    # With a subscription: the client's bearer and consumer header are replaced, so B cannot act as A.
    answer = chat(azure, "chat", key=KEY_B, headers={"Authorization": "Bearer sk-client", fc.CONSUMER_HEADER: A})
    assert answer.status == 403, answer.body  # chat is A's, and the front saw B
    sent = {k.lower(): v for k, v in azure.edge.forwarded[-1].items()}
    assert (sent[fc.CONSUMER_HEADER], sent["authorization"]) == (B, f"Bearer {EDGE_KEY_OLD}")
    # Straight at the front, a client without the edge key gets nothing.
    direct = send(azure.engine.url + "/v1/chat/completions", body={"model": "provider"}, headers={fc.CONSUMER_HEADER: A})
    assert direct.status == 401
    # LiteLLM's per-boot key is known to the front and no client's: 403, with or without a consumer header.
    master = litellm_master_key(azure.engine)
    for headers in ({"Authorization": f"Bearer {master}"}, {"Authorization": f"Bearer {master}", fc.CONSUMER_HEADER: A}):
        refused = send(azure.engine.url + "/v1/chat/completions", body={"model": "provider"}, headers=headers)
        assert refused.status == 403 and refused.headers[fc.SERVED_BY_HEADER] == fc.NONE, refused.body
        assert master.encode() not in refused.body


def test_rotating_the_edge_key_has_no_401_window(azure: Azure) -> None:
    statuses = []
    for i in range(12):
        if i == 6:  # APIM's named value refreshes from Key Vault to the new key mid-traffic
            azure.edge.refresh_named_value(MASTER_KEY_NAMED_VALUE, EDGE_KEY_NEW)
        statuses.append(chat(azure, "provider").status)
    assert statuses == [200] * 12
    sent = [{k.lower(): v for k, v in h.items()}["authorization"] for h in azure.edge.forwarded[-12:]]
    assert sent == [f"Bearer {EDGE_KEY_OLD}"] * 6 + [f"Bearer {EDGE_KEY_NEW}"] * 6


def console_rows(engine_out: Path) -> list[dict[str, Any]]:
    """The engine's stdout as Container Apps' console log table holds it: one row per line, the line in Log."""
    rows = []
    for raw in engine_out.read_text(errors="replace").splitlines():
        at = time.time()
        try:
            parsed = json.loads(raw)
            at = parsed["_aws"]["Timestamp"] / 1000
        except (ValueError, KeyError, TypeError):
            pass
        rows.append({"ContainerAppName": APP, "Log": raw, "TimeGenerated": at})
    return rows


def test_the_log_alerts_fire_on_the_fronts_own_lines_when_the_self_hosted_backend_is_down(azure: Azure) -> None:
    for _ in range(5):
        down = chat(azure, "chat-down")
        assert down.status == 200, down.body
        assert (down.headers[fc.SERVED_BY_HEADER], down.headers[fc.FALLBACK_HEADER]) == (fc.PROVIDER, "true")
        assert chat(azure, "chat").headers[fc.SERVED_BY_HEADER] == fc.SELF_HOSTED
    time.sleep(0.5)  # the front writes its line as the response ends
    rows = console_rows(azure.engine.out_path)
    now = time.time() + 1
    lines = [json.loads(r["Log"]) for r in rows if r["Log"].startswith("{") and '"pulumi_llm_request"' in r["Log"]]
    for group, expected in (("chat-down", True), ("chat", False)):
        alarm = FallbackAlarm(group=group, share_percent=5.0, window_minutes=10)
        rendered = {
            alert.kind: kql_eval.alert_fires(
                query=alert.query,
                window=alert.window,
                operator=alert.operator,
                threshold=alert.threshold,
                table=azure_alarms.TABLE,
                rows=rows,
                now=now,
            )
            for alert in azure_alarms.decide_log_alerts(alarm, APP)
        }
        assert rendered == {fc.ALARM_FALLBACK_SHARE: expected, fc.ALARM_SELF_HOSTED_SILENT: expected}, group
        assert rendered == fallback_alarm_fires(alarm, lines, now=now), group


# --- /openai: Azure OpenAI's deployment operations, with the consumers' product policies -------------------

CAP = 64
OPENAI_CONSUMERS = (
    ApimConsumer(name=A, tokens_per_minute=100_000, openai_deployments=["gpt-4o-mini"], max_tokens=CAP),
    ApimConsumer(name=B, tokens_per_minute=100_000, openai_deployments=["o3-mini"]),
)


@pytest.fixture(scope="module")
def openai_edge() -> Iterator[tuple[ApimEdge, FakeProvider]]:
    """The pool's stand-in (answers Azure OpenAI's deployment paths, only to the managed identity's token)
    behind the /openai API and the consumers' product policies as AzureGateway renders them."""
    with FakeProvider(api_key=MANAGED_IDENTITY_TOKEN) as aoai:
        products = {c.name: consumer_product_policy(c, openai=True) for c in OPENAI_CONSUMERS}
        policy = openai_api_policy(forward_timeout_seconds=230, backends=2)
        with ApimEdge(aoai.url, policy, {KEY_A: A, KEY_B: B}, {}, api_path=OPENAI_API, product_policies=products) as edge:
            yield edge, aoai


def openai_chat(edge: ApimEdge, deployment: str, key: str, **body: Any) -> Answer:
    url = f"{edge.url}/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21"
    payload = {"messages": [{"role": "user", "content": "hello"}], **body}
    return send(url, body=payload, headers={"Ocp-Apim-Subscription-Key": key})


def test_openai_a_consumer_reaches_only_its_own_deployments(openai_edge: tuple[ApimEdge, FakeProvider]) -> None:
    edge, aoai = openai_edge
    mine = openai_chat(edge, "gpt-4o-mini", KEY_A, max_tokens=8)
    assert mine.status == 200, mine.body
    # The /openai API's outbound policy: Azure OpenAI served it, as a first-order route (no front behind /openai).
    assert (mine.headers[fc.SERVED_BY_HEADER], mine.headers[fc.FALLBACK_HEADER]) == (fc.PROVIDER, "false")
    assert [(r.path, r.bearer) for r in aoai.requests] == [("/openai/deployments/gpt-4o-mini/chat/completions", MANAGED_IDENTITY_TOKEN)]
    for deployment, key in (("o3-mini", KEY_A), ("gpt-4o-mini", KEY_B), ("GPT-4o-mini", KEY_A), ("gpt-4o-mini-2", KEY_A)):
        forwarded, called = len(edge.forwarded), len(aoai.requests)
        refused = openai_chat(edge, deployment, key)
        assert refused.status == 403, (deployment, refused.body)
        assert refused.headers[fc.SERVED_BY_HEADER] == fc.NONE and refused.json()["error"]["type"] == "permission_error"
        assert (len(edge.forwarded), len(aoai.requests)) == (forwarded, called)  # nothing forwarded, the pool not called
    assert openai_chat(edge, "o3-mini", KEY_B).status == 200  # B's own deployment


def test_openai_max_tokens_is_capped_or_filled_as_the_front_does(openai_edge: tuple[ApimEdge, FakeProvider]) -> None:
    edge, aoai = openai_edge
    cases = [
        ({"max_tokens": 4096}, {"max_tokens": CAP}),
        ({"max_completion_tokens": 4096, "max_tokens": 8}, {"max_completion_tokens": CAP, "max_tokens": 8}),
        ({}, {"max_completion_tokens": CAP}),  # chat: the key every chat model takes
        ({"max_tokens": 8}, {"max_tokens": 8}),
    ]
    for sent, expected in cases:
        assert openai_chat(edge, "gpt-4o-mini", KEY_A, **sent).status == 200
        received = aoai.requests[-1].body or {}
        assert {k: received.get(k) for k in ("max_tokens", "max_completion_tokens") if k in received} == expected, sent
    # B has no cap: its body passes unchanged.
    assert openai_chat(edge, "o3-mini", KEY_B, max_completion_tokens=10_000).status == 200
    assert (aoai.requests[-1].body or {}).get("max_completion_tokens") == 10_000
