"""Private model groups in the real engine (issue 20, item 3): the LiteLLM proxy started with the config
``gateway.config`` renders, the boundary hook's module beside it (where ``engine.boot`` writes it), and a
local OpenAI-compatible stand-in (``support/fake_provider.py``) playing both the external provider and a
failing self-hosted server. Everything listens on 127.0.0.1 and is stopped at the end.

What must hold: a private group whose self-hosted servers are all down (one refuses connections, its
private fallback answers 500) answers 503 with a Retry-After header, and the provider's request log stays
empty; the same routes in a public group still fall back to the provider (the existing behaviour).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.gateway.boundary_hook import HOOK_MODULE  # noqa: E402
from pulumi_llm.gateway.boundary_hook import SOURCE as HOOK_SOURCE  # noqa: E402
from pulumi_llm.gateway.config import (  # noqa: E402
    ENGINE_ENVIRONMENT,
    GatewaySpec,
    ModelGroup,
    ProviderRoute,
    render_litellm_config,
    to_yaml,
)
from support.fake_provider import Behaviour, FakeProvider  # noqa: E402
from support.litellm_env import LitellmProxy, ensure_litellm_env  # noqa: E402
from support.vllm_server import free_port  # noqa: E402
from test_gateway_engine import Answer, call  # noqa: E402

pytestmark = pytest.mark.integration

# Test values created here; never real credentials.
MASTER_KEY = "sk-itest-master-" + uuid.uuid4().hex[:12]
PROVIDER_KEY = "standin-provider-key"
SELF_HOSTED_KEY = "itest-self-hosted-key"
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
        cooldown_seconds=COOLDOWN,
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(api_key=(PROVIDER_KEY, SELF_HOSTED_KEY)) as provider:
        provider.behave(FAILING_SELF_HOSTED, Behaviour(status=500))
        yield provider


@pytest.fixture(scope="module")
def proxy(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LitellmProxy]:
    python = ensure_litellm_env()
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here: the self-hosted backend is down
    workdir = tmp_path_factory.mktemp("gateway-private")
    (workdir / "config.yaml").write_text(to_yaml(render_litellm_config(private_spec(fake.base_url, dead))))
    (workdir / f"{HOOK_MODULE}.py").write_text(HOOK_SOURCE)  # beside the config, as engine.boot writes it
    env = {
        **ENGINE_ENVIRONMENT,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "STANDIN_OPENAI_KEY": PROVIDER_KEY,
        "SELF_HOSTED_API_KEY": SELF_HOSTED_KEY,
        "OPENAI_API_KEY": None,
        "DATABASE_URL": None,
    }
    with LitellmProxy(python, workdir / "config.yaml", env=env, log_path=workdir / "litellm.log") as running:
        print(f"\n[gateway-private] LiteLLM ready in {running.seconds_to_ready:.1f} s on {running.url}", file=sys.stderr)
        yield running
    assert running.proc is not None and running.proc.poll() is not None, "the proxy is still running"


def ask(proxy: LitellmProxy, model: str) -> Answer:
    # call() takes anything with a .url; the master key is this module's.
    return call(proxy, model, key=MASTER_KEY)  # type: ignore[arg-type]


def test_a_private_group_with_its_servers_down_answers_503_and_calls_no_provider(proxy: LitellmProxy, fake: FakeProvider) -> None:
    # Enough requests to see both engine states: the dead server refused (500 inside the engine), then
    # cooling down ("No deployments available", 429 inside the engine). The client sees 503 every time.
    answers = [ask(proxy, "private-chat") for _ in range(6)]
    statuses = [a.status for a in answers]
    print(f"[gateway-private] private-chat: {statuses}, Retry-After {[a.headers.get('retry-after') for a in answers]}", file=sys.stderr)
    assert statuses == [503] * len(answers), [a.body[:300] for a in answers]
    for answer in answers:
        assert 1 <= int(answer.headers["retry-after"]) <= COOLDOWN
        assert "private" in answer.json()["error"]["message"]
    # Its private fallback (a self-hosted stand-in) was tried; the external provider never was.
    assert fake.requests_for(FAILING_SELF_HOSTED)
    assert all(r.bearer == SELF_HOSTED_KEY for r in fake.requests_for(FAILING_SELF_HOSTED))
    assert fake.requests_for(PROVIDER_MODEL) == []


def test_the_same_routes_in_a_public_group_still_fall_back_to_the_provider(proxy: LitellmProxy, fake: FakeProvider) -> None:
    answer = ask(proxy, "public-chat")
    assert answer.status == 200, answer.body
    assert answer.headers["x-litellm-model-group"] == "provider"
    assert [r.bearer for r in fake.requests_for(PROVIDER_MODEL)] == [PROVIDER_KEY]
