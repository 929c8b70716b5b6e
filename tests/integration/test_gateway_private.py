"""Private model groups and identity mode ``keys`` (GCP) in the real engine (issues 15 and 20): the engine
booted as the clouds boot it (``engine.BOOT``: the front, LiteLLM on loopback behind it) with each
consumer's key in a file, and a local OpenAI-compatible stand-in (``support/fake_provider.py``) playing
both the external provider and a failing self-hosted server. Everything listens on 127.0.0.1 and is
stopped at the end.

What must hold: a private group whose self-hosted servers are all down (one refuses connections, its
private fallback answers 500) answers 503 with Retry-After, and the provider's request log stays empty;
the same routes in a public group still fall back to the provider. In mode keys a consumer is known by
its own key (the consumer header is ignored, an edge key is no key), and a consumer's key rotates
without a 401.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.gateway import engine  # noqa: E402
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
from support.fake_provider import Behaviour, FakeProvider  # noqa: E402
from support.front_boot import BootedFront  # noqa: E402
from support.litellm_env import ensure_litellm_env  # noqa: E402
from support.vllm_server import free_port  # noqa: E402
from test_gateway_engine import Answer, call  # noqa: E402

pytestmark = pytest.mark.integration

# Test values created here; never real credentials.
PROVIDER_KEY = "standin-provider-key"
SELF_HOSTED_KEY = "itest-self-hosted-key"
EDGE_KEY = "sk-itest-edge-" + uuid.uuid4().hex[:12]
APP_KEY = "itest-app-" + uuid.uuid4().hex[:12]
APP_KEY_NEW = "itest-app-new-" + uuid.uuid4().hex[:12]
OPS_KEY = "itest-ops-" + uuid.uuid4().hex[:12]
PROVIDER_MODEL = "gpt-standin"
FAILING_SELF_HOSTED = "selfhosted-500"
COOLDOWN = 5


def private_spec(fake_url: str, dead_url: str) -> GatewaySpec:
    """Two hybrid-shaped chains over the same dead self-hosted server: one private, one public."""
    provider = ProviderRoute("standin", "openai", PROVIDER_MODEL, api_base=fake_url, secret_env="STANDIN_OPENAI_KEY")

    def self_hosted(name: str, base: str, model: str) -> ProviderRoute:
        return ProviderRoute(name, "self-hosted", model, api_base=base, secret_env="SELF_HOSTED_API_KEY", timeout_seconds=10)

    return GatewaySpec(
        model_groups=(
            ModelGroup(
                "private-chat", (self_hosted("vllm-down", dead_url, "tiny"),), fallbacks=("private-spare",), retries=0, boundary="private"
            ),
            ModelGroup("private-spare", (self_hosted("vllm-500", fake_url, FAILING_SELF_HOSTED),), retries=0, boundary="private"),
            ModelGroup("public-chat", (self_hosted("vllm-down-public", dead_url, "tiny"),), fallbacks=("provider",), retries=0),
            ModelGroup("provider", (provider,)),
        ),
        consumers=(Consumer("app", ("private-chat", "public-chat")), Consumer("ops", ("provider",))),
        cooldown_seconds=COOLDOWN,
    )


@dataclass
class Engine:
    engine: BootedFront
    key_files: dict[str, Path]

    @property
    def url(self) -> str:
        return self.engine.url


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(api_key=(PROVIDER_KEY, SELF_HOSTED_KEY)) as provider:
        provider.behave(FAILING_SELF_HOSTED, Behaviour(status=500))
        yield provider


@pytest.fixture(scope="module")
def booted(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    python = ensure_litellm_env()
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here: the self-hosted backend is down
    spec = private_spec(fake.base_url, dead)
    workdir = tmp_path_factory.mktemp("gateway-private")
    keys = workdir / "consumer-keys"
    keys.mkdir()
    files = {"app": keys / "app", "ops": keys / "ops"}  # where Cloud Run mounts each consumer's key secret
    files["app"].write_text(APP_KEY + "\n")
    files["ops"].write_text(OPS_KEY + "\n")
    front_doc = engine.front_config(
        spec,
        identity=fc.IDENTITY_KEYS,
        stack="itest-gcp",
        consumer_key_files={name: str(path) for name, path in files.items()},
        host="127.0.0.1",
        port=free_port(),
        litellm_port=free_port(),
        drain_seconds=5,
    )
    env = {
        **ENGINE_ENVIRONMENT,
        fc.EDGE_KEY_ENV: EDGE_KEY,  # set by mistake: mode keys must not accept it
        "STANDIN_OPENAI_KEY": PROVIDER_KEY,
        "SELF_HOSTED_API_KEY": SELF_HOSTED_KEY,
        "LITELLM_MASTER_KEY": None,
        "OPENAI_API_KEY": None,
        "DATABASE_URL": None,
    }
    with BootedFront(python, front_doc, to_yaml(render_litellm_config(spec)), env=env, workdir=workdir) as running:
        print(f"\n[gateway-private] engine ready in {running.seconds_to_ready:.1f} s on {running.url}", file=sys.stderr)
        yield Engine(running, files)
        code = running.stop()
    assert code == 0, running.log_tail()
    assert running.litellm_stopped()


def ask(booted: Engine, model: str, key: str = APP_KEY, consumer: str | None = None) -> Answer:
    return call(booted, model, key=key, consumer=consumer)


def test_a_private_group_with_its_servers_down_answers_503_and_calls_no_provider(booted: Engine, fake: FakeProvider) -> None:
    # Enough requests to see the dead server refused, then both deployments cooling down: 503 every time.
    answers = [ask(booted, "private-chat") for _ in range(6)]
    statuses = [a.status for a in answers]
    print(f"[gateway-private] private-chat: {statuses}, Retry-After {[a.headers.get('retry-after') for a in answers]}", file=sys.stderr)
    assert statuses == [503] * len(answers), [a.body[:300] for a in answers]
    for answer in answers:
        assert 1 <= int(answer.headers["retry-after"]) <= COOLDOWN
        assert "private" in answer.json()["error"]["message"]
        assert answer.served_by == fc.NONE
    # Its private fallback (a self-hosted stand-in) was tried; the external provider never was.
    assert fake.requests_for(FAILING_SELF_HOSTED)
    assert all(r.bearer == SELF_HOSTED_KEY for r in fake.requests_for(FAILING_SELF_HOSTED))
    assert fake.requests_for(PROVIDER_MODEL) == []
    lines = [line for line in booted.engine.request_lines() if line["route"] == "private-chat"]
    assert {(line["served_by"], line["status"]) for line in lines} == {(fc.NONE, 503)}


def test_the_same_routes_in_a_public_group_still_fall_back_to_the_provider(booted: Engine, fake: FakeProvider) -> None:
    answer = ask(booted, "public-chat")
    assert answer.status == 200, answer.body
    assert (answer.served_by, answer.fallback) == (fc.PROVIDER, "true")
    assert [r.bearer for r in fake.requests_for(PROVIDER_MODEL)] == [PROVIDER_KEY]


def test_mode_keys_knows_a_consumer_by_its_own_key_only(booted: Engine, fake: FakeProvider) -> None:
    before = len(fake.requests)
    # The consumer header claims another consumer: ignored, the key says who asks (app has no "provider").
    assert ask(booted, "provider", consumer="ops").status == 403
    assert ask(booted, "provider", key=OPS_KEY).status == 200
    assert len(fake.requests) == before + 1
    # An edge key (set in the environment by mistake) is no key in mode keys, with or without a consumer.
    assert ask(booted, "provider", key=EDGE_KEY, consumer="ops").status == 401
    assert ask(booted, "provider", key=EDGE_KEY).status == 401
    assert ask(booted, "provider", key="itest-" + uuid.uuid4().hex).status == 401


def test_a_consumer_key_rotates_without_a_401(booted: Engine) -> None:
    assert ask(booted, "public-chat").status == 200
    booted.key_files["app"].write_text(APP_KEY_NEW + "\n")  # a new secret version, as the mount shows it
    statuses = [ask(booted, "public-chat", key=k).status for k in (APP_KEY_NEW, APP_KEY) * 3]
    assert statuses == [200] * 6
