"""Bad gateway input: each one clear line naming file, key, value and rule."""

from __future__ import annotations

import json

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.settings import load

SOURCE = "stacks/Pulumi.dev.yaml"
GATEWAY = {
    "models": {
        "chat": {
            "routes": [{"provider": "self-hosted", "model": "llama"}, {"provider": "openai", "model": "gpt-4o-mini"}],
            "fallbacks": ["claude"],
        },
        "claude": {"routes": [{"provider": "anthropic", "model": "claude-haiku-4-5-20251001"}]},
    },
    "consumers": {"team-a": {"models": ["chat"], "requests_per_day": 10000}},
}


def config(gateway: dict, methods: tuple[str, ...] = ("gateway", "gpu-vm")) -> dict[str, str]:
    return {
        "pulumi-llm:environment": "dev",
        "pulumi-llm:cloud": "aws",
        "pulumi-llm:region": "us-east-1",
        "pulumi-llm:methods": json.dumps(list(methods)),
        "pulumi-llm:models": json.dumps({"llama": {"catalog": "llama-3.1-8b-instruct", "source": "store://llama/abc", "context": 8192}}),
        "pulumi-llm:gateway": json.dumps(gateway),
    }


def message(cfg: dict[str, str]) -> str:
    with pytest.raises(UserError) as caught:
        load(cfg, SOURCE)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def with_(path: list, value: object) -> dict:
    gateway = json.loads(json.dumps(GATEWAY))
    node = gateway
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return gateway


def test_a_good_hybrid_gateway_loads() -> None:
    settings = load(config(GATEWAY), SOURCE)
    assert settings.gateway is not None and settings.gateway.providers() == {"openai", "anthropic"}


@pytest.mark.parametrize(
    ("gateway", "expected"),
    [
        (
            with_(["models", "claude", "routes", 0, "provider"], "mistral"),
            "pulumi-llm:gateway.models.claude.routes[0].provider = mistral: must be one of: openai, anthropic, gemini, cohere, "
            "bedrock, azure-openai, self-hosted",
        ),
        (
            with_(["models", "chat", "fallbacks"], ["gpt"]),
            'pulumi-llm:gateway.models.chat.fallbacks = ["gpt"]: gpt is not a gateway model; defined: chat, claude',
        ),
        (
            with_(["consumers", "team-a", "models"], ["embed"]),
            'pulumi-llm:gateway.consumers.team-a.models = ["embed"]: embed is not a gateway model; defined: chat, claude',
        ),
        (with_(["consumers", "team-a", "requests_per_day"], 0), "pulumi-llm:gateway.consumers.team-a.requests_per_day = 0: must be >= 1"),
        (
            with_(["timeouts"], {"engine_seconds": 700}),
            "pulumi-llm:gateway.timeouts.engine_seconds = 700: must be below edge_seconds (600): an inner hop may not outlast an outer one",
        ),
        (
            with_(["secrets"], {"openai": "shared", "anthropic": "shared"}),
            'pulumi-llm:gateway.secrets = {"anthropic": "shared", "openai": "shared"}: secret name shared is used by both anthropic and openai',
        ),
        (
            with_(["models", "chat", "routes", 0, "model"], "mistral-7b"),
            "pulumi-llm:gateway.models.chat.routes[0].model = mistral-7b: not a model this stack serves; served: llama",
        ),
        (
            with_(["consumers"], {}),
            "pulumi-llm:gateway.consumers = {}: at least one consumer is required (clients authenticate with its key)",
        ),
        # The grant's token limits (issue 15): bounded, and consistent with each other.
        (with_(["consumers", "team-a", "max_tokens"], 0), "pulumi-llm:gateway.consumers.team-a.max_tokens = 0: must be >= 1"),
        (
            with_(["consumers", "team-a", "max_tokens"], 10**8),
            "pulumi-llm:gateway.consumers.team-a.max_tokens = 100000000: must be <= 10000000",
        ),
        (
            with_(["consumers", "team-a", "tokens_per_day"], "lots"),
            "pulumi-llm:gateway.consumers.team-a.tokens_per_day = lots: must be a whole number",
        ),
        (
            with_(["consumers", "team-a"], {"models": ["chat"], "requests_per_day": 10, "max_tokens": 5000, "tokens_per_minute": 4000}),
            "pulumi-llm:gateway.consumers.team-a.max_tokens = 5000: must be <= tokens_per_minute (4000): one capped request must fit "
            "in the window",
        ),
        (
            with_(["consumers", "team-a"], {"models": ["chat"], "requests_per_day": 10, "max_tokens": 5000, "tokens_per_day": 4000}),
            "pulumi-llm:gateway.consumers.team-a.max_tokens = 5000: must be <= tokens_per_day (4000): one capped request must fit "
            "in the window",
        ),
        (
            with_(["consumers", "team-a"], {"models": ["chat"], "requests_per_day": 10, "tokens_per_minute": 5000, "tokens_per_day": 4000}),
            "pulumi-llm:gateway.consumers.team-a.tokens_per_minute = 5000: must be <= tokens_per_day (4000)",
        ),
        # The fallback alarms' thresholds (issue 20), and only where there are fallback alarms.
        (
            with_(["models", "chat", "fallback_alert"], {"share_percent": 100}),
            "pulumi-llm:gateway.models.chat.fallback_alert.share_percent = 100: must be < 100.0",
        ),
        (
            with_(["models", "chat", "fallback_alert"], {"share_percent": 0}),
            "pulumi-llm:gateway.models.chat.fallback_alert.share_percent = 0: must be > 0.0",
        ),
        (
            with_(["models", "chat", "fallback_alert"], {"window_minutes": 1441}),
            "pulumi-llm:gateway.models.chat.fallback_alert.window_minutes = 1441: must be <= 1440",
        ),
        (
            with_(["models", "chat", "fallback_alert"], {"window": 5}),
            "pulumi-llm:gateway.models.chat.fallback_alert.window = 5: unknown key (did you mean window_minutes?); allowed: "
            "share_percent, window_minutes",
        ),
        (
            with_(["models", "claude", "fallback_alert"], {"share_percent": 10}),
            'pulumi-llm:gateway.models.claude.fallback_alert = {"share_percent": 10}: has no effect: only a hybrid model (a '
            "self-hosted and a provider route among its routes and fallbacks) has fallback alarms; remove it",
        ),
    ],
)
def test_bad_gateway_input(gateway: dict, expected: str) -> None:
    assert message(config(gateway)) == f"{SOURCE}: {expected}"


def test_self_hosted_routes_need_a_self_hosting_method() -> None:
    assert message(config(GATEWAY, methods=("gateway",))) == (
        f"{SOURCE}: pulumi-llm:gateway.models.chat.routes[0].provider = self-hosted: self-hosted routes need a "
        "self-hosting method in this stack (gpu-vm or cluster)"
    )
