"""The front's routing (issue 15): each model group's chain — its routes, then its fallbacks' chains,
transitively and once each — its JSON document, and the per-deployment breaker that never leaves a chain
empty."""

from __future__ import annotations

import json

import pytest
from pulumi_llm.gateway.config import GatewaySpec, ModelGroup, ProviderRoute, validate
from pulumi_llm.gateway.front_contract import PROVIDER, SELF_HOSTED
from pulumi_llm.gateway.routing import (
    Breaker,
    Candidate,
    chains_from_document,
    decide_chains,
    private_from_document,
    resolve_env_ref,
    routing_document,
)

LLAMA = ProviderRoute(
    "llama", "self-hosted", "llama-3-8b", api_base="http://llm:8000/v1", secret_env="SELF_HOSTED_API_KEY", timeout_seconds=120
)
LLAMA_SPARE = ProviderRoute("spare", "self-hosted", "llama-3-8b", api_base="os.environ/SPARE_URL", stream_timeout_seconds=30)
OPENAI = ProviderRoute("openai", "openai", "gpt-4o-mini", secret_env="OPENAI_API_KEY")
CLAUDE = ProviderRoute("claude", "anthropic", "claude-haiku-4-5-20251001", secret_env="ANTHROPIC_API_KEY")
GEMINI = ProviderRoute("gemini", "gemini", "gemini-2.0-flash", secret_env="GEMINI_API_KEY")


def spec(*groups: ModelGroup) -> GatewaySpec:
    s = GatewaySpec(model_groups=groups)
    validate(s)  # the chains are decided from valid specs only
    return s


def deployments(chain: tuple[Candidate, ...]) -> list[tuple[str, bool]]:
    return [(c.deployment, c.fallback) for c in chain]


# --------------------------------------------------------------------------------------------
# decide_chains


def test_a_hybrid_group_is_its_routes_then_its_fallback_groups_routes_in_order() -> None:
    chains = decide_chains(spec(ModelGroup("chat", (LLAMA, LLAMA_SPARE), fallbacks=("api",)), ModelGroup("api", (OPENAI, CLAUDE))))
    assert deployments(chains["chat"]) == [
        ("chat/llama", False),
        ("chat/spare", True),
        ("api/openai", True),
        ("api/claude", True),
    ]
    # Asked directly, the provider group's own first route is no fallback.
    assert deployments(chains["api"]) == [("api/openai", False), ("api/claude", True)]


def test_each_candidate_says_how_the_front_calls_it() -> None:
    chat = decide_chains(spec(ModelGroup("chat", (LLAMA, LLAMA_SPARE), fallbacks=("api",)), ModelGroup("api", (OPENAI,))))["chat"]
    assert chat == (
        Candidate(
            group="chat",
            deployment="chat/llama",
            kind="direct",
            url="http://llm:8000/v1",
            model="llama-3-8b",
            served_by=SELF_HOSTED,
            fallback=False,
            key_env="SELF_HOSTED_API_KEY",
            timeout_seconds=120.0,
            stream_timeout_seconds=120.0,
        ),
        Candidate(
            group="chat",
            deployment="chat/spare",
            kind="direct",
            url="os.environ/SPARE_URL",
            model="llama-3-8b",
            served_by=SELF_HOSTED,
            fallback=True,
            key_env=None,
            timeout_seconds=480.0,
            stream_timeout_seconds=30.0,
        ),
        Candidate(
            group="api",
            deployment="api/openai",
            kind="litellm",
            url=None,
            model="api/openai",  # LiteLLM knows each provider deployment under its id, not the group
            served_by=PROVIDER,
            fallback=True,
            key_env=None,  # LiteLLM injects provider keys itself
            timeout_seconds=480.0,
            stream_timeout_seconds=480.0,
        ),
    )


def test_fallbacks_are_expanded_transitively_depth_first_and_each_group_once() -> None:
    chains = decide_chains(
        spec(
            ModelGroup("chat", (LLAMA,), fallbacks=("a", "b")),
            ModelGroup("a", (OPENAI,), fallbacks=("c", "b")),
            ModelGroup("b", (CLAUDE,), fallbacks=("chat",)),  # a cycle back to the asked group
            ModelGroup("c", (GEMINI,), fallbacks=("a",)),  # and one back to its parent
        )
    )
    assert [c.deployment for c in chains["chat"]] == ["chat/llama", "a/openai", "c/gemini", "b/claude"]
    assert [c.deployment for c in chains["b"]] == ["b/claude", "chat/llama", "a/openai", "c/gemini"]
    for chain in chains.values():
        names = [c.deployment for c in chain]
        assert len(names) == len(set(names))
        assert [c.fallback for c in chain] == [False] + [True] * (len(chain) - 1)


def test_a_private_groups_chain_holds_no_provider() -> None:
    chains = decide_chains(
        spec(
            ModelGroup("chat", (LLAMA,), fallbacks=("spare",), boundary="private"),
            ModelGroup("spare", (LLAMA_SPARE,), boundary="private"),
            ModelGroup("api", (OPENAI,), fallbacks=("chat",)),  # a public group may fall back to a private one
        )
    )
    assert [(c.deployment, c.served_by, c.kind) for c in chains["chat"]] == [
        ("chat/llama", SELF_HOSTED, "direct"),
        ("spare/spare", SELF_HOSTED, "direct"),
    ]
    assert [c.served_by for c in chains["api"]] == [PROVIDER, SELF_HOSTED, SELF_HOSTED]


# --------------------------------------------------------------------------------------------
# The document the front reads


def test_the_document_round_trips_through_json() -> None:
    s = spec(
        ModelGroup("chat", (LLAMA, LLAMA_SPARE), fallbacks=("api",)),
        ModelGroup("api", (OPENAI, CLAUDE)),
        ModelGroup("private", (LLAMA,), boundary="private"),
    )
    doc = json.loads(json.dumps(routing_document(s)))
    assert chains_from_document(doc) == decide_chains(s)
    assert private_from_document(doc) == frozenset({"private"})
    assert list(doc["chains"]) == ["chat", "api", "private"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "version 2, expected 1"),
        (lambda d: d["chains"].update(chat=[]), "chains.chat is not a non-empty list"),
        (lambda d: d["chains"]["chat"][0].pop("url"), r"chains.chat\[0\] has keys"),
        (lambda d: d["chains"]["chat"][0].update(fallback="no"), r"chains.chat\[0\].fallback = 'no' has the wrong type"),
        (lambda d: d["chains"]["chat"][0].update(timeout_seconds=True), r"timeout_seconds = True has the wrong type"),
        (lambda d: d["chains"]["chat"][0].update(kind="grpc"), "kind 'grpc'"),
    ],
)
def test_a_malformed_document_is_refused_naming_the_entry(change, message: str) -> None:
    doc = json.loads(json.dumps(routing_document(spec(ModelGroup("chat", (LLAMA,))))))
    change(doc)
    with pytest.raises(ValueError, match=message):
        chains_from_document(doc)


def test_a_deploy_time_url_is_read_from_the_environment() -> None:
    assert resolve_env_ref("os.environ/SPARE_URL", {"SPARE_URL": "http://10.0.0.6:8000/v1"}) == "http://10.0.0.6:8000/v1"
    assert resolve_env_ref("os.environ/SPARE_URL", {}) is None
    assert resolve_env_ref("http://llm:8000/v1", {}) == "http://llm:8000/v1"


# --------------------------------------------------------------------------------------------
# The breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CHAIN = decide_chains(spec(ModelGroup("chat", (LLAMA,), fallbacks=("api",)), ModelGroup("api", (OPENAI, CLAUDE))))["chat"]


def names(chain: list[Candidate]) -> list[str]:
    return [c.deployment for c in chain]


def test_allowed_fails_within_a_minute_cool_a_deployment_down_for_the_cooldown() -> None:
    clock = Clock()
    breaker = Breaker(allowed_fails=3, cooldown_seconds=60, clock=clock)
    for _ in range(2):
        breaker.failed("chat/llama")
    assert names(breaker.order(CHAIN)) == ["chat/llama", "api/openai", "api/claude"]
    breaker.failed("chat/llama")
    assert names(breaker.order(CHAIN)) == ["api/openai", "api/claude"]
    clock.now += 59.9
    assert names(breaker.order(CHAIN)) == ["api/openai", "api/claude"]
    clock.now += 0.1
    assert names(breaker.order(CHAIN)) == ["chat/llama", "api/openai", "api/claude"]


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    breaker = Breaker(allowed_fails=2, cooldown_seconds=60, clock=clock)
    breaker.failed("chat/llama")
    clock.now += 60
    breaker.failed("chat/llama")
    assert not breaker.cooling("chat/llama")
    clock.now += 59
    breaker.failed("chat/llama")
    assert breaker.cooling("chat/llama")


def test_a_success_resets_a_deployment() -> None:
    clock = Clock()
    breaker = Breaker(allowed_fails=2, cooldown_seconds=60, clock=clock)
    breaker.failed("api/openai")
    breaker.succeeded("api/openai")
    breaker.failed("api/openai")
    assert not breaker.cooling("api/openai")  # the failure before the success no longer counts
    breaker.failed("api/openai")
    assert breaker.cooling("api/openai")
    breaker.succeeded("api/openai")  # e.g. the last-resort try of a cooling deployment answered
    assert names(breaker.order(CHAIN)) == ["chat/llama", "api/openai", "api/claude"]


def test_when_every_candidate_cools_down_all_are_tried_in_order() -> None:
    clock = Clock()
    breaker = Breaker(allowed_fails=1, cooldown_seconds=60, clock=clock)
    only = decide_chains(spec(ModelGroup("chat", (LLAMA,))))["chat"]
    breaker.failed("chat/llama")  # a looping model's cut stream, say
    assert names(breaker.order(only)) == ["chat/llama"]  # the model stays available
    for c in CHAIN:
        breaker.failed(c.deployment)
    assert names(breaker.order(CHAIN)) == ["chat/llama", "api/openai", "api/claude"]
    assert breaker.order(()) == []


def test_a_zero_cooldown_never_skips() -> None:
    breaker = Breaker(allowed_fails=1, cooldown_seconds=0, clock=Clock())
    breaker.failed("chat/llama")
    assert names(breaker.order(CHAIN))[0] == "chat/llama"


def test_the_breaker_refuses_settings_validation_would_refuse() -> None:
    with pytest.raises(ValueError, match="allowed_fails = 0"):
        Breaker(allowed_fails=0, cooldown_seconds=60)
    with pytest.raises(ValueError, match="cooldown_seconds = -1"):
        Breaker(allowed_fails=1, cooldown_seconds=-1)


def test_the_module_runs_in_the_engine_container_with_the_standard_library_only(tmp_path) -> None:
    # Shipped as the pulumi_llm_front package beside front_contract: config (pydantic, yaml, pulumi) is for
    # type checking only. Run the copy in a fresh interpreter that cannot see pulumi_llm.
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import pulumi_llm.gateway.routing as routing_module

    package = tmp_path / "pulumi_llm_front"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = Path(routing_module.__file__).parent
    for name in ("routing.py", "front_contract.py"):
        shutil.copy(source / name, package / name)
    script = (
        "import sys; sys.path = [p for p in sys.path if 'site-packages' not in p and 'components' not in p]\n"
        "from pulumi_llm_front import routing\n"
        "assert not any(m.startswith(('pulumi', 'yaml', 'pydantic')) and m != 'pulumi_llm_front' and "
        "not m.startswith('pulumi_llm_front.') for m in sys.modules), sorted(sys.modules)\n"
        "print(routing.Breaker(1, 1).order([]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr
