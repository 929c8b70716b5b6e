"""What the three edge tests (test_gateway_{aws,gcp,azure}_edge.py) share: the hybrid gateway they run, the
engine booted behind an edge stand-in as the clouds boot it, and the client's request.

The spec: ``chat`` (a self-hosted route that answers) and ``chat-down`` (a self-hosted route nothing listens
behind), both falling back to ``provider``; ``provider``; and one group only its consumer is granted. The
fake provider (``support/fake_provider.py``) plays the provider and the self-hosted server, taking either key.
Every key here is a test value made up for these tests.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_llm.gateway import engine
from pulumi_llm.gateway.config import ENGINE_ENVIRONMENT, Consumer, GatewaySpec, ModelGroup, ProviderRoute, render_litellm_config, to_yaml

from .fake_provider import FakeProvider
from .front_boot import BootedFront
from .litellm_env import ensure_litellm_env
from .vllm_server import free_port

PROVIDER_KEY = "standin-provider-key"
SELF_HOSTED_KEY = "itest-self-hosted-key"
SELF_HOSTED_MODEL = "selfhosted-echo"
HYBRID_GROUPS = ("chat", "chat-down", "provider")
"""The groups of a consumer granted the hybrid routes (listed by /v1/models in this order)."""


def hybrid_spec(fake_url: str, own: tuple[str, str], consumers: tuple[Consumer, ...], **options: Any) -> GatewaySpec:
    """The edge tests' gateway. `fake_url`: the fake provider's base URL; `own`: (group, provider model) of the
    group only its consumer may use; `options`: GatewaySpec's other fields (e.g. cooldown_seconds)."""
    dead_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the self-hosted backend is down

    def provider(name: str, model: str) -> ProviderRoute:
        return ProviderRoute(name, "openai", model, api_base=fake_url, secret_env="STANDIN_OPENAI_KEY")

    def self_hosted(name: str, base: str) -> ProviderRoute:
        return ProviderRoute(name, "self-hosted", SELF_HOSTED_MODEL, api_base=base, secret_env="SELF_HOSTED_API_KEY", timeout_seconds=10)

    group, model = own
    return GatewaySpec(
        model_groups=(
            ModelGroup("chat", (self_hosted("echo", fake_url),), fallbacks=("provider",), retries=0),
            ModelGroup("chat-down", (self_hosted("down", dead_url),), fallbacks=("provider",), retries=0),
            ModelGroup("provider", (provider("standin", "gpt-standin"),)),
            ModelGroup(group, (provider(group, model),)),
        ),
        consumers=consumers,
        **options,
    )


APP, OPS, LIMITED = "app", "ops", "limited"
"""The consumers of `three_consumer_spec`: the hybrid routes, a group of its own, a limited provider route."""
OPS_MODEL = "gpt-ops-only"


def three_consumer_spec(fake_url: str) -> GatewaySpec:
    """The AWS and GCP edge tests' gateway: APP on the hybrid groups, OPS alone on ``ops`` (OPS_MODEL), LIMITED
    on ``provider`` (its limit is the edge's or the grant's, set by the test); a failing route rests 5 s."""
    consumers = (Consumer(APP, HYBRID_GROUPS), Consumer(OPS, ("ops",)), Consumer(LIMITED, ("provider",)))
    return hybrid_spec(fake_url, ("ops", OPS_MODEL), consumers, cooldown_seconds=5)


def fake_backends() -> FakeProvider:
    """The provider and the self-hosted server in one stand-in, each with its key (use it with ``with``)."""
    return FakeProvider(api_key=(PROVIDER_KEY, SELF_HOSTED_KEY))


def front_doc(spec: GatewaySpec, identity: str, **options: Any) -> dict[str, Any]:
    """The front's config as a shell renders it, on free loopback ports, draining 5 s; `options`: the
    identity's own (grants, consumer_key_files …)."""
    return engine.front_config(
        spec, identity=identity, stack="itest", host="127.0.0.1", port=free_port(), litellm_port=free_port(), drain_seconds=5, **options
    )


@contextlib.contextmanager
def booted_engine(
    spec: GatewaySpec, doc: Mapping[str, Any], env: Mapping[str, str | None], workdir: Path, label: str
) -> Iterator[BootedFront]:
    """The engine booted from the LiteLLM venv with `doc` and LiteLLM's config for `spec`; the environment is
    the image's (ENGINE_ENVIRONMENT, the provider keys, no key of LiteLLM's own: the front makes it per boot)
    with `env` on top. It must stop cleanly (exit 0) after the block."""
    python = ensure_litellm_env()
    layered = {
        **ENGINE_ENVIRONMENT,
        "STANDIN_OPENAI_KEY": PROVIDER_KEY,
        "SELF_HOSTED_API_KEY": SELF_HOSTED_KEY,
        "LITELLM_MASTER_KEY": None,
        "OPENAI_API_KEY": None,
        "DATABASE_URL": None,
        **env,
    }
    with BootedFront(python, doc, to_yaml(render_litellm_config(spec)), env=layered, workdir=workdir) as running:
        print(f"\n[{label}] engine ready in {running.seconds_to_ready:.1f} s on {running.url} (logs in {workdir})", file=sys.stderr)
        yield running
        code = running.stop()
    assert code == 0, running.log_tail()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    url: str,
    *,
    method: str = "POST",
    bearer: str | None = None,
    body: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request as a client sends it (`bearer`: its ``Authorization: Bearer`` key); an error status is an
    Answer too."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    if bearer is not None:
        sent["Authorization"] = f"Bearer {bearer}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def chat(url: str, model: str, *, bearer: str | None = None, headers: Mapping[str, str] | None = None) -> Answer:
    """A short chat completion of `model` at `url` (the edge's, path included)."""
    body = {"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hello"}]}
    return send(url, bearer=bearer, body=body, headers=headers)
