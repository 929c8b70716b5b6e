"""The GCP gateway's shape, run for real: a client → the load balancer's URL map (``support/gcp_edge.py``: the
component's own path matcher) → the engine booted as Cloud Run boots it (``engine.BOOT_WITH_SECRET_FILES``'s
front in identity mode ``keys``, each consumer's key a file as Cloud Run mounts its secret) → LiteLLM on
loopback for the provider, or the self-hosted server straight from the front.

Behind it, ``support/fake_provider.py`` plays the provider and a self-hosted server; another self-hosted
route points at a port nothing listens on (the backend is down). Everything listens on 127.0.0.1.

What must hold (issues 15 and 20, GCP): a consumer reaches its models; another consumer's model is 403 with
no backend called; only the inference paths pass the load balancer (admin, pass-through, health: 404 there,
the front never sees them); LiteLLM's master key, presented by a client, is 403 and opens nothing (an unknown
key is 401); over its limit a
consumer gets 429 with Retry-After; a rotated consumer key (new file content) is accepted at once and the old
one during the grace, with no 401; and the front's request lines, counted by the component's log-based
counters and read by its PromQL alert conditions (``support/gcp_monitoring.py``), fire the fallback alarms
while the self-hosted backend is down and not while it is up — as the reference semantics say.
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
from pulumi_llm.gateway import front_contract as fc  # noqa: E402
from pulumi_llm.gateway import gcp_alarms  # noqa: E402
from pulumi_llm.gateway.config import GatewaySpec  # noqa: E402
from pulumi_llm.gateway.fallback_alarms import decide_fallback_alarms, fallback_alarm_fires  # noqa: E402
from pulumi_llm.gateway.front_server import Front, front_config_from_document  # noqa: E402
from pulumi_llm.gateway.grants import Grant  # noqa: E402
from support import edge_engine  # noqa: E402
from support import gcp_monitoring as gm  # noqa: E402
from support.edge_engine import APP, LIMITED, OPS, OPS_MODEL, Answer  # noqa: E402
from support.fake_provider import FakeProvider  # noqa: E402
from support.front_boot import BootedFront, litellm_master_key  # noqa: E402
from support.gcp_edge import GcpLoadBalancerEdge  # noqa: E402

pytestmark = pytest.mark.integration

# Test values created here; never real credentials.
APP_KEY = "itest-gcp-app-" + uuid.uuid4().hex
APP_KEY_NEW = "itest-gcp-app-new-" + uuid.uuid4().hex
OPS_KEY = "itest-gcp-ops-" + uuid.uuid4().hex
OPS_KEY_NEW = "itest-gcp-ops-new-" + uuid.uuid4().hex
LIMITED_KEY = "itest-gcp-limited-" + uuid.uuid4().hex
LIMITED_RPM = 2
SERVICE = "pulumi-llm-itest-gateway"


GRANTS = {
    APP: Grant(APP, edge_engine.HYBRID_GROUPS),
    OPS: Grant(OPS, ("ops",)),
    LIMITED: Grant(LIMITED, ("provider",), requests_per_minute=LIMITED_RPM),
}


@dataclass
class Gcp:
    engine: BootedFront
    edge: GcpLoadBalancerEdge
    spec: GatewaySpec
    key_files: dict[str, Path]

    @property
    def url(self) -> str:
        return self.edge.url


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with edge_engine.fake_backends() as provider:
        yield provider


@pytest.fixture(scope="module")
def gcp(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gcp]:
    spec = edge_engine.three_consumer_spec(fake.base_url)
    workdir = tmp_path_factory.mktemp("gateway-gcp")
    secrets = workdir / "secrets"  # Cloud Run's /secrets: one directory per mounted secret, its value in `value`
    files: dict[str, Path] = {}
    for consumer, key in ((APP, APP_KEY), (OPS, OPS_KEY), (LIMITED, LIMITED_KEY)):
        files[consumer] = secrets / f"consumer-{consumer}" / "value"
        files[consumer].parent.mkdir(parents=True)
        files[consumer].write_text(key + "\n")
    doc = edge_engine.front_doc(spec, fc.IDENTITY_KEYS, grants=GRANTS, consumer_key_files={name: str(path) for name, path in files.items()})
    # Cloud Run sets no key of LiteLLM's own: the front makes it per boot.
    with edge_engine.booted_engine(spec, doc, {}, workdir, "gateway-gcp") as running:
        with GcpLoadBalancerEdge(running.url) as edge:
            yield Gcp(running, edge, spec, files)


def send(url: str, *, method: str = "POST", key: str | None = APP_KEY, body: dict[str, object] | None = None) -> Answer:
    return edge_engine.send(url, method=method, bearer=key, body=body)


def chat(gcp: Gcp, model: str, key: str = APP_KEY) -> Answer:
    return edge_engine.chat(gcp.url + "/v1/chat/completions", model, bearer=key)


# ---------------------------------------------------------------------------------------------


def test_a_consumer_reaches_its_models_through_the_load_balancer(gcp: Gcp, fake: FakeProvider) -> None:
    own = chat(gcp, "chat")
    assert own.status == 200, own.body
    assert (own.headers[fc.SERVED_BY_HEADER], own.headers[fc.FALLBACK_HEADER]) == (fc.SELF_HOSTED, "false")
    provider = chat(gcp, "provider")
    assert provider.status == 200, provider.body
    assert provider.headers[fc.SERVED_BY_HEADER] == fc.PROVIDER
    listed = send(gcp.url + "/v1/models", method="GET")
    assert listed.status == 200
    assert sorted(m["id"] for m in json.loads(listed.body)["data"]) == ["chat", "chat-down", "provider"]


def test_another_consumers_model_is_403_and_calls_no_backend(gcp: Gcp, fake: FakeProvider) -> None:
    fake.reset(OPS_MODEL)
    refused = chat(gcp, "ops", key=APP_KEY)
    assert refused.status == 403, refused.body
    assert fake.requests_for(OPS_MODEL) == []
    assert chat(gcp, "ops", key=OPS_KEY).status == 200  # its owner gets it
    assert len(fake.requests_for(OPS_MODEL)) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/key/generate"),
        ("GET", "/key/list"),
        ("POST", "/model/new"),
        ("GET", "/model/info"),
        ("POST", "/anthropic/v1/messages"),
        ("POST", "/openai/v1/chat/completions"),
        ("POST", "/vertex_ai/v1/projects/p/locations/l/publishers/google/models/gemini:generateContent"),
        ("GET", "/health"),
        ("GET", fc.READINESS_PATH),
        ("GET", fc.LIVENESS_PATH),
        ("GET", "/metrics"),
        ("GET", "/"),
        ("POST", "/v1/chat/completions/"),
        ("POST", "/chat/completions"),
    ],
)
def test_admin_passthrough_and_health_paths_are_404_at_the_load_balancer(gcp: Gcp, method: str, path: str) -> None:
    before = len(gcp.edge.forwarded)
    answer = send(gcp.url + path, method=method, key=APP_KEY, body={"model": "chat"} if method == "POST" else None)
    assert answer.status == 404
    assert answer.body == b"fault filter abort"  # the load balancer's own answer
    assert len(gcp.edge.forwarded) == before and gcp.edge.refused[-1] == path  # the front never saw it


def test_litellms_master_key_presented_by_a_client_opens_nothing(gcp: Gcp, fake: FakeProvider) -> None:
    master = litellm_master_key(gcp.engine)
    assert master not in (APP_KEY, OPS_KEY, LIMITED_KEY)
    fake.reset("gpt-standin")
    for model in ("provider", "chat"):
        answer = chat(gcp, model, key=master)
        # A key the front knows but no client may present: 403 (an unknown key is 401), before any backend.
        assert answer.status == 403, answer.body
        assert answer.headers[fc.SERVED_BY_HEADER] == fc.NONE
        assert master.encode() not in answer.body
    assert chat(gcp, "provider", key="sk-" + "0" * 40).status == 401  # a key nobody knows
    assert fake.requests_for("gpt-standin") == []
    assert master not in gcp.engine.logs()  # nor does it reach a log


def test_over_its_limit_a_consumer_gets_429_with_retry_after(gcp: Gcp, fake: FakeProvider) -> None:
    answers = [chat(gcp, "provider", key=LIMITED_KEY) for _ in range(LIMITED_RPM + 1)]
    assert [a.status for a in answers] == [200] * LIMITED_RPM + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1


def test_a_rotated_consumer_key_is_accepted_at_once_and_the_old_one_during_the_grace(gcp: Gcp) -> None:
    assert chat(gcp, "chat", key=APP_KEY).status == 200
    # `pulumi-llm secrets put consumer-app`: a new version; Cloud Run's mounted `latest` shows the new content.
    gcp.key_files[APP].write_text(APP_KEY_NEW + "\n")
    statuses = []
    deadline = time.monotonic() + 6  # past the front's 5-second background re-read
    while time.monotonic() < deadline:
        statuses += [chat(gcp, "chat", key=APP_KEY_NEW).status, chat(gcp, "chat", key=APP_KEY).status]
    assert statuses and set(statuses) == {200}, statuses  # no 401 for either key


def test_an_instance_started_mid_rotation_accepts_the_old_key_too(gcp: Gcp) -> None:
    """A Cloud Run instance started after `secrets put consumer-ops` knows only what the secret holds: the
    rotation puts the new key with the old one on a second line, so the fresh instance accepts both."""
    gcp.key_files[OPS].write_text(OPS_KEY_NEW + "\n" + OPS_KEY + "\n")
    fresh = Front(front_config_from_document(gcp.engine.front_doc), None)  # the new instance's key ring, from the same files
    assert (fresh.keys.owner(OPS_KEY), fresh.keys.owner(OPS_KEY_NEW)) == (OPS, OPS)
    deadline = time.monotonic() + 6  # and the running instance, past its 5-second re-read
    statuses: list[int] = []
    while time.monotonic() < deadline:
        statuses += [chat(gcp, "ops", key=OPS_KEY_NEW).status, chat(gcp, "ops", key=OPS_KEY).status]
    assert statuses and set(statuses) == {200}, statuses
    gcp.key_files[OPS].write_text(OPS_KEY + "\n")


def test_the_fallback_alarms_fire_on_the_fronts_lines_while_the_backend_is_down_and_not_while_it_is_up(gcp: Gcp) -> None:
    for _ in range(6):
        down = chat(gcp, "chat-down")
        assert down.status == 200 and down.headers[fc.SERVED_BY_HEADER] == fc.PROVIDER, down.body
        assert chat(gcp, "chat").headers[fc.SERVED_BY_HEADER] == fc.SELF_HOSTED
    now = time.time() + 1
    entries = gm.entries_from_stdout(gcp.engine.out_path.read_text(errors="replace"), service=SERVICE)
    metrics = gcp_alarms.decide_log_metrics("itest", SERVICE)
    points = [
        p
        for m in metrics.values()
        for p in gm.counter_points({"name": m.name, "filter": m.filter, "labelExtractors": gcp_alarms.label_extractors()}, entries)
    ]
    alarms = {a.group: a for a in decide_fallback_alarms(gcp.spec)}
    assert set(alarms) == {"chat", "chat-down"}
    results = {}
    for group, alarm in alarms.items():
        queries = gcp_alarms.decide_alarm_queries(alarm, metrics)
        results[group] = {kind: gm.promql_fires(query, points, now=now) for kind, query in queries.items()}
        assert results[group] == fallback_alarm_fires(alarm, [e["jsonPayload"] for e in entries], now=now), group
    print(f"[gateway-gcp] alarms: {results}", file=sys.stderr)
    assert results["chat-down"] == {fc.ALARM_FALLBACK_SHARE: True, fc.ALARM_SELF_HOSTED_SILENT: True}
    assert results["chat"] == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}
