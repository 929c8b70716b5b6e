"""The AWS gateway's shape, run for real: a client → API Gateway (``support/apigw_edge.py``: the component's own
routes and integration mapping, the REAL authorizer, usage plans) → the engine booted as ECS boots it
(``engine.BOOT``'s front in identity mode ``edge``, the edge key current and previous as the task gets them) →
LiteLLM on loopback for the provider, or the self-hosted server straight from the front.

Behind it, ``support/fake_provider.py`` plays the provider and a self-hosted server; another self-hosted route
points at a port nothing listens on (the backend is down). Everything listens on 127.0.0.1.

What must hold (issues 15 and 20, AWS): a consumer reaches its models, named by the authorizer from its key;
another consumer's model is 403 with no backend called, whatever consumer header the client sends; only the
inference routes exist at the edge (admin, pass-through, health: 403 there, the front never sees them); the
edge key or LiteLLM's key presented by a client is 403 at the edge; over its usage plan's quota a consumer gets
429 from API Gateway; across a rotation of the edge key the task accepts what the authorizer sends, with no
401; and the front's request lines, turned into CloudWatch metrics (EMF) and read by the component's metric-math
alarms (``support/cloudwatch_math.py``), fire the fallback alarms while the self-hosted backend is down and not
while it is up — as the reference semantics say.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.gateway import engine  # noqa: E402
from pulumi_llm.gateway import front_contract as fc  # noqa: E402
from pulumi_llm.gateway.aws_edge import QUOTA_RETRY_AFTER_SECONDS, fallback_alarm_definitions  # noqa: E402
from pulumi_llm.gateway.config import GatewaySpec  # noqa: E402
from pulumi_llm.gateway.fallback_alarms import decide_fallback_alarms, fallback_alarm_fires  # noqa: E402
from support import edge_engine  # noqa: E402
from support.apigw_edge import ApiGatewayEdge, ApiKeys, EdgeSecret, UsagePlan  # noqa: E402
from support.cloudwatch_math import alarm_fires  # noqa: E402
from support.edge_engine import APP, LIMITED, OPS, OPS_MODEL, Answer  # noqa: E402
from support.fake_provider import FakeProvider  # noqa: E402
from support.front_boot import BootedFront, litellm_master_key  # noqa: E402

pytestmark = pytest.mark.integration

# Test values created here; never real credentials.
EDGE_KEY_OLD = "sk-itest-edge-old-" + uuid.uuid4().hex
EDGE_KEY = "sk-itest-edge-" + uuid.uuid4().hex
APP_KEY = "itest-aws-app-" + uuid.uuid4().hex
OPS_KEY = "itest-aws-ops-" + uuid.uuid4().hex
LIMITED_KEY = "itest-aws-limited-" + uuid.uuid4().hex
QUOTA = 2
STACK = "itest"


@dataclass
class Aws:
    engine: BootedFront
    edge: ApiGatewayEdge
    secret: EdgeSecret
    spec: GatewaySpec

    @property
    def url(self) -> str:
        return self.edge.url


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with edge_engine.fake_backends() as provider:
        yield provider


@pytest.fixture(scope="module")
def aws(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    spec = edge_engine.three_consumer_spec(fake.base_url)
    doc = edge_engine.front_doc(spec, fc.IDENTITY_EDGE)
    # The task as ECS starts it after a rotation: the secret's current value injected, the previous one read at boot.
    env = {engine.EDGE_KEY_ENV: EDGE_KEY, engine.EDGE_KEY_PREVIOUS_ENV: EDGE_KEY_OLD}
    keys = ApiKeys(
        {
            "appkey0001": (APP_KEY, APP, UsagePlan()),
            "opskey0001": (OPS_KEY, OPS, UsagePlan()),
            "limkey0001": (LIMITED_KEY, LIMITED, UsagePlan(quota_per_day=QUOTA)),
        }
    )
    secret = EdgeSecret(EDGE_KEY, previous=EDGE_KEY_OLD, created=time.time() - 3600)
    with edge_engine.booted_engine(spec, doc, env, tmp_path_factory.mktemp("gateway-aws"), "gateway-aws") as running:
        with ApiGatewayEdge(running.url, keys, secret) as edge:
            yield Aws(running, edge, secret, spec)


def send(url: str, *, method: str = "POST", key: str | None = APP_KEY, body: dict[str, object] | None = None) -> Answer:
    return edge_engine.send(url, method=method, bearer=key, body=body)


def chat(aws: Aws, model: str, key: str | None = APP_KEY, headers: dict[str, str] | None = None) -> Answer:
    return edge_engine.chat(aws.url + "/v1/chat/completions", model, bearer=key, headers=headers)


# ---------------------------------------------------------------------------------------------


def test_a_consumer_reaches_its_models_named_by_the_authorizer(aws: Aws, fake: FakeProvider) -> None:
    own = chat(aws, "chat")
    assert own.status == 200, own.body
    assert (own.headers[fc.SERVED_BY_HEADER], own.headers[fc.FALLBACK_HEADER]) == (fc.SELF_HOSTED, "false")
    method, path, headers = aws.edge.forwarded[-1]
    # The front got the edge key and the consumer's name — never the consumer's key.
    assert (method, path, headers["Authorization"], headers[fc.CONSUMER_HEADER]) == (
        "POST",
        "/v1/chat/completions",
        f"Bearer {EDGE_KEY}",
        APP,
    )
    assert APP_KEY not in json.dumps(headers)
    provider = chat(aws, "provider")
    assert provider.status == 200 and provider.headers[fc.SERVED_BY_HEADER] == fc.PROVIDER, provider.body
    listed = send(aws.url + "/v1/models", method="GET")
    assert listed.status == 200, listed.body
    assert sorted(m["id"] for m in json.loads(listed.body)["data"]) == ["chat", "chat-down", "provider"]


def test_another_consumers_model_is_403_and_calls_no_backend_whatever_the_client_claims(aws: Aws, fake: FakeProvider) -> None:
    fake.reset(OPS_MODEL)
    for claimed in ({}, {fc.CONSUMER_HEADER: OPS}):
        refused = chat(aws, "ops", key=APP_KEY, headers=claimed)
        assert refused.status == 403, refused.body
        assert aws.edge.forwarded[-1][2][fc.CONSUMER_HEADER] == APP  # the client's claim was overwritten
    assert fake.requests_for(OPS_MODEL) == []
    assert chat(aws, "ops", key=OPS_KEY).status == 200  # its owner gets it
    assert len(fake.requests_for(OPS_MODEL)) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/key/generate"),
        ("GET", "/v1/key/list"),
        ("POST", "/v1/model/new"),
        ("GET", "/v1/model/info"),
        ("POST", "/v1/anthropic/v1/messages"),
        ("POST", "/v1/openai/v1/chat/completions"),
        ("GET", "/v1/health"),
        ("GET", "/v1" + fc.LIVENESS_PATH),
        ("GET", "/v1/metrics"),
        ("GET", "/v1"),
        ("GET", "/v1/chat/completions"),  # a known path, another verb
        ("DELETE", "/v1/models"),
        ("POST", "/v1/v1/chat/completions"),
    ],
)
def test_admin_passthrough_and_health_paths_are_403_at_the_edge(aws: Aws, method: str, path: str) -> None:
    before = len(aws.edge.forwarded)
    answer = send(aws.url + path, method=method, key=APP_KEY, body={"model": "chat"} if method == "POST" else None)
    assert answer.status == 403, answer.body
    assert json.loads(answer.body)["message"].endswith("in Authorization header")  # API Gateway's own answer
    assert aws.edge.refused[-1] == (403, path) and len(aws.edge.forwarded) == before  # the front never saw it
    bare = send(aws.url + path, method=method, key=None)
    assert (bare.status, json.loads(bare.body)) == (403, {"message": "Missing Authentication Token"})


def test_the_edge_key_or_litellms_key_presented_by_a_client_is_403_at_the_edge(aws: Aws, fake: FakeProvider) -> None:
    master = litellm_master_key(aws.engine)
    assert master not in (EDGE_KEY, EDGE_KEY_OLD, APP_KEY, OPS_KEY, LIMITED_KEY)
    fake.reset("gpt-standin")
    before = len(aws.edge.forwarded)
    for key in (EDGE_KEY, EDGE_KEY_OLD, master, "sk-" + uuid.uuid4().hex):
        answer = chat(aws, "provider", key=key)
        assert answer.status == 403, answer.body  # the authorizer's Deny: no consumer key
        assert answer.headers[fc.SERVED_BY_HEADER] == fc.NONE  # ACCESS_DENIED's gateway response
    assert len(aws.edge.forwarded) == before and fake.requests_for("gpt-standin") == []
    bare = chat(aws, "provider", key=None)
    assert (bare.status, bare.headers[fc.SERVED_BY_HEADER]) == (401, fc.NONE)  # no bearer: the authorizer never ran
    assert master not in aws.engine.logs() and EDGE_KEY not in aws.engine.logs()


def test_over_its_usage_plan_quota_a_consumer_gets_429_from_api_gateway(aws: Aws) -> None:
    answers = [chat(aws, "provider", key=LIMITED_KEY) for _ in range(QUOTA + 1)]
    assert [a.status for a in answers] == [200] * QUOTA + [429]
    assert json.loads(answers[-1].body) == {"message": "Limit Exceeded"}
    assert aws.edge.refused[-1] == (429, "/v1/chat/completions")
    # The component's QUOTA_EXCEEDED gateway response: when to retry, and who served it (nobody).
    assert answers[-1].headers["retry-after"] == str(QUOTA_RETRY_AFTER_SECONDS)
    assert (answers[-1].headers[fc.SERVED_BY_HEADER], answers[-1].headers[fc.FALLBACK_HEADER]) == (fc.NONE, "false")


def test_across_an_edge_key_rotation_the_task_accepts_what_the_authorizer_sends(aws: Aws) -> None:
    """The task started after the rotation (current + previous). Right after `secrets put`, the authorizer
    still sends the previous value; once the new one is EDGE_KEY_SWITCH_SECONDS old, the new one: no 401."""
    aws.secret.created = time.time()  # the current value was just put
    aws.edge.flush_authorizer()
    young = chat(aws, "chat")
    assert young.status == 200, young.body
    assert aws.edge.forwarded[-1][2]["Authorization"] == f"Bearer {EDGE_KEY_OLD}"
    aws.secret.created = time.time() - 901  # the switch period is over; the caches expire
    aws.edge.flush_authorizer()
    settled = chat(aws, "chat")
    assert settled.status == 200, settled.body
    assert aws.edge.forwarded[-1][2]["Authorization"] == f"Bearer {EDGE_KEY}"


def test_the_fallback_alarms_fire_on_the_fronts_lines_while_the_backend_is_down_and_not_while_it_is_up(aws: Aws) -> None:
    for _ in range(6):
        down = chat(aws, "chat-down")
        assert down.status == 200 and down.headers[fc.SERVED_BY_HEADER] == fc.PROVIDER, down.body
        assert chat(aws, "chat").headers[fc.SERVED_BY_HEADER] == fc.SELF_HOSTED
    now = time.time() + 1
    lines = aws.engine.request_lines()  # the awslogs group's lines: CloudWatch Logs extracts their EMF metrics
    alarms = {a.group: a for a in decide_fallback_alarms(aws.spec)}
    assert set(alarms) == {"chat", "chat-down"}
    results = {}
    for group, alarm in alarms.items():
        definitions = fallback_alarm_definitions(
            stack=STACK, group=group, share_percent=alarm.share_percent, window_minutes=alarm.window_minutes
        )
        results[group] = {kind: alarm_fires(definition, lines, now=now) for kind, definition in definitions.items()}
        assert results[group] == fallback_alarm_fires(alarm, lines, now=now), group
    print(f"[gateway-aws] alarms: {results}", file=sys.stderr)
    assert results["chat-down"] == {fc.ALARM_FALLBACK_SHARE: True, fc.ALARM_SELF_HOSTED_SILENT: True}
    assert results["chat"] == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}
