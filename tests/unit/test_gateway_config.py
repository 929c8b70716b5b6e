"""The gateway engine config: the exact LiteLLM config a spec renders, and every refusal's exact line."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from pulumi_llm.errors import UserError
from pulumi_llm.gateway import config as gw
from pulumi_llm.gateway.config import (
    Consumer,
    GatewaySpec,
    ModelGroup,
    ProviderRoute,
    TimeoutBudget,
    check_timeout_budget,
    edge_policies,
    render_litellm_config,
    to_yaml,
)

SELF_HOSTED = ProviderRoute(
    "llama",
    "self-hosted",
    "llama-3-8b",
    api_base="http://llm.internal:8000/v1",
    secret_env="SELF_HOSTED_API_KEY",
    timeout_seconds=120,
    stream_timeout_seconds=30,
)
OPENAI = ProviderRoute("openai", "openai", "gpt-4o-mini", secret_env="OPENAI_API_KEY", rpm=500, tpm=200_000)
CLAUDE = ProviderRoute("claude", "anthropic", "claude-haiku-4-5-20251001", secret_env="ANTHROPIC_API_KEY")


def spec(**overrides) -> GatewaySpec:
    base = GatewaySpec(
        model_groups=(
            ModelGroup("chat", (SELF_HOSTED,), fallbacks=("chat-provider",), retries=0),
            ModelGroup("chat-provider", (OPENAI, CLAUDE)),
        ),
        consumers=(
            Consumer("web", ("chat",), rpm=120, tpm=100_000, max_parallel=8, monthly_budget_usd=500.0),
            Consumer("batch", ("chat", "chat-provider")),
        ),
    )
    return dataclasses.replace(base, **overrides)


def with_route(route: ProviderRoute, **overrides) -> GatewaySpec:
    return spec(model_groups=(ModelGroup("g", (route,)),), consumers=(), **overrides)


def refused(s: GatewaySpec) -> str:
    with pytest.raises(UserError) as caught:
        render_litellm_config(s)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def test_only_provider_deployments_render_each_under_its_own_name() -> None:
    assert render_litellm_config(spec()) == {
        # chat's self-hosted route is the front's: it streams it from the model server.
        "model_list": [
            {
                "model_name": "chat-provider/openai",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_key": "os.environ/OPENAI_API_KEY",
                    "rpm": 500,
                    "tpm": 200_000,
                    "timeout": 480,
                    "stream_timeout": 480,
                },
                "model_info": {"id": "chat-provider/openai"},
            },
            {
                "model_name": "chat-provider/claude",
                "litellm_params": {
                    "model": "anthropic/claude-haiku-4-5-20251001",
                    "api_key": "os.environ/ANTHROPIC_API_KEY",
                    "timeout": 480,
                    "stream_timeout": 480,
                },
                "model_info": {"id": "chat-provider/claude"},
            },
        ],
        # No fallbacks, order, routing strategy or cool-down: the front owns the chain and the breaker.
        "router_settings": {
            "num_retries": 2,
            "retry_after": 0,
            "disable_cooldowns": True,
            "timeout": 540,
            "optional_pre_call_checks": ["enforce_model_rate_limits"],
        },
        # No SSE keep-alives (they would commit LiteLLM's 200 before the first token) and no callback.
        "litellm_settings": {
            "drop_params": True,
            "turn_off_message_logging": True,
            "redact_user_api_key_info": True,
            "request_timeout": 540,
            "json_logs": True,
        },
        # The front strips the consumer header before LiteLLM: no user_header_mappings.
        "general_settings": {
            "master_key": "os.environ/LITELLM_MASTER_KEY",
            "store_model_in_db": False,
            "disable_spend_logs": True,
            "allow_client_side_credentials": False,
        },
    }


def test_the_litellm_names_are_the_fronts_candidates() -> None:
    from pulumi_llm.gateway.routing import KIND_LITELLM, decide_chains

    s = spec()
    sent = {c.model for chain in decide_chains(s).values() for c in chain if c.kind == KIND_LITELLM}
    assert sent == {m["model_name"] for m in render_litellm_config(s)["model_list"]}


def test_a_group_retry_count_stays_on_its_provider_deployments() -> None:
    s = spec(model_groups=(ModelGroup("chat", (OPENAI, CLAUDE), retries=0),), consumers=())
    assert [m["litellm_params"]["num_retries"] for m in render_litellm_config(s)["model_list"]] == [0, 0]


def test_an_all_self_hosted_spec_renders_an_empty_model_list() -> None:
    s = spec(
        model_groups=(
            ModelGroup("chat", (SELF_HOSTED,), fallbacks=("spare",)),
            ModelGroup("spare", (dataclasses.replace(SELF_HOSTED, name="b"),)),
        ),
        consumers=(),
    )
    config = render_litellm_config(s)
    assert config["model_list"] == []
    assert "optional_pre_call_checks" not in config["router_settings"]
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_yaml_round_trips_and_keeps_the_rendering_order() -> None:
    config = render_litellm_config(spec())
    text = to_yaml(config)
    assert yaml.safe_load(text) == config
    assert list(yaml.safe_load(text)) == ["model_list", "router_settings", "litellm_settings", "general_settings"]
    assert to_yaml(render_litellm_config(spec())) == text


def test_no_key_value_only_environment_references() -> None:
    config = render_litellm_config(spec())
    values = [m["litellm_params"]["api_key"] for m in config["model_list"]]
    values.append(config["general_settings"]["master_key"])
    assert values == ["os.environ/OPENAI_API_KEY", "os.environ/ANTHROPIC_API_KEY", "os.environ/LITELLM_MASTER_KEY"]


def test_every_provider_gets_its_litellm_prefix_and_fields() -> None:
    routes = (
        ProviderRoute("a", "openai", "gpt-4o", secret_env="OPENAI_API_KEY"),
        ProviderRoute("b", "anthropic", "claude-sonnet-4", secret_env="ANTHROPIC_API_KEY"),
        ProviderRoute("c", "gemini", "gemini-2.0-flash", secret_env="GEMINI_API_KEY"),
        ProviderRoute("d", "cohere", "command-r-plus", secret_env="COHERE_API_KEY"),
        ProviderRoute("e", "bedrock", "anthropic.claude-3-haiku-20240307-v1:0", region="eu-west-1"),
        ProviderRoute("f", "azure-openai", "gpt4o-prod", api_base="https://acme.openai.azure.com", api_version="2024-10-21"),
        ProviderRoute("g", "self-hosted", "tiny", api_base="http://10.0.0.5:8000/v1"),
    )
    config = render_litellm_config(spec(model_groups=(ModelGroup("all", routes),), consumers=()))
    params = {m["model_info"]["id"]: m["litellm_params"] for m in config["model_list"]}
    assert {k: v["model"] for k, v in params.items()} == {
        "all/a": "openai/gpt-4o",
        "all/b": "anthropic/claude-sonnet-4",
        "all/c": "gemini/gemini-2.0-flash",
        "all/d": "cohere/command-r-plus",
        "all/e": "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        "all/f": "azure/gpt4o-prod",
    }
    assert [m["model_name"] for m in config["model_list"]] == list(params)
    assert params["all/e"] == {
        "model": "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        "aws_region_name": "eu-west-1",
        "timeout": 480,
        "stream_timeout": 480,
    }
    assert params["all/f"] == {
        "model": "azure/gpt4o-prod",
        "api_base": "https://acme.openai.azure.com",
        "api_version": "2024-10-21",
        "timeout": 480,
        "stream_timeout": 480,
    }
    # Azure without a key authenticates with the managed identity.
    assert config["litellm_settings"]["enable_azure_ad_token_refresh"] is True
    # No limits anywhere: no rate-limit pre-call check.
    assert "optional_pre_call_checks" not in config["router_settings"]


def test_a_deploy_time_api_base_is_an_environment_reference() -> None:
    route = ProviderRoute("lb", "azure-openai", "gpt4o", api_base="os.environ/AZURE_OPENAI_URL", api_version="2024-10-21")
    config = render_litellm_config(with_route(route))
    assert config["model_list"][0]["litellm_params"]["api_base"] == "os.environ/AZURE_OPENAI_URL"


def test_prompt_logging_is_a_switch_and_keepalives_stay_out_of_litellm() -> None:
    for keepalive in (15.0, None):
        config = render_litellm_config(spec(log_prompts=True, stream_keepalive_seconds=keepalive))
        assert config["litellm_settings"]["turn_off_message_logging"] is False
        assert "sse_keepalive_ping_interval_seconds" not in config["litellm_settings"]


def test_timeouts_reach_the_engine() -> None:
    s = spec(timeouts=TimeoutBudget(client=300, edge=120, gateway=100, engine=90.5))
    s = dataclasses.replace(
        s,
        model_groups=(
            ModelGroup("chat", (dataclasses.replace(SELF_HOSTED, timeout_seconds=60),), fallbacks=("p",)),
            ModelGroup("p", (dataclasses.replace(OPENAI, timeout_seconds=80, stream_timeout_seconds=20),)),
        ),
        consumers=(),
    )
    config = render_litellm_config(s)
    assert config["litellm_settings"]["request_timeout"] == 90.5
    assert config["router_settings"]["timeout"] == 90.5
    assert [m["litellm_params"]["timeout"] for m in config["model_list"]] == [80]
    assert [m["litellm_params"]["stream_timeout"] for m in config["model_list"]] == [20]


def test_edge_policies_carry_each_consumers_limits() -> None:
    web, batch = edge_policies(spec())
    assert web == gw.EdgePolicy(
        consumer="web",
        models=("chat",),
        rpm=120,
        rate_per_second=2.0,
        burst=20,
        tpm=100_000,
        max_parallel=8,
        monthly_budget_usd=500.0,
        request_schema={
            "$schema": "http://json-schema.org/draft-04/schema#",
            "title": "web-request",
            "type": "object",
            "required": ["model"],
            "properties": {"model": {"type": "string", "enum": ["chat"]}},
        },
    )
    assert (batch.rpm, batch.rate_per_second, batch.burst, batch.tpm, batch.max_parallel) == (None,) * 5
    assert batch.request_schema["properties"]["model"]["enum"] == ["chat", "chat-provider"]


def test_secret_envs_lists_what_the_shell_injects() -> None:
    assert gw.secret_envs(spec()) == {
        "LITELLM_MASTER_KEY": "litellm-master",
        "SELF_HOSTED_API_KEY": "self-hosted",
        "OPENAI_API_KEY": "openai",
        "ANTHROPIC_API_KEY": "anthropic",
    }


def test_the_engine_environment_never_phones_home() -> None:
    env = gw.ENGINE_ENVIRONMENT
    assert env["LITELLM_MODE"] == "PRODUCTION"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["DISABLE_ADMIN_UI"] == "True"
    assert not any("KEY" in k or "SECRET" in k for k in env)


def test_the_engine_environment_lets_a_looping_provider_stream_through() -> None:
    # LiteLLM's default (100 identical chunks) raised mid-stream; far above any max_tokens a grant allows.
    assert int(gw.ENGINE_ENVIRONMENT["REPEATED_STREAMING_CHUNK_LIMIT"]) >= 1_000_000


# ---------------------------------------------------------------------------------------------
# The timeout budget
# ---------------------------------------------------------------------------------------------


def test_timeout_budget_accepts_strictly_nested_hops() -> None:
    check_timeout_budget(900, 600, 570, 540, 480)
    check_timeout_budget(None, 29, None, 25, 20)


@pytest.mark.parametrize(
    ("hops", "message"),
    [
        (
            (900, 600, 570, 540, 600),
            "gateway.timeouts: the provider timeout (600 s) must be shorter than the engine timeout (540 s); every hop "
            "must give up before the one outside it (client > edge > gateway > engine > provider)",
        ),
        (
            (900, 29, None, 60, 30),
            "gateway.timeouts: the engine timeout (60 s) must be shorter than the edge timeout (29 s); every hop "
            "must give up before the one outside it (client > edge > gateway > engine > provider)",
        ),
        (
            (300, 300, 200, 100, 50),
            "gateway.timeouts: the edge timeout (300 s) must be shorter than the client timeout (300 s); every hop "
            "must give up before the one outside it (client > edge > gateway > engine > provider)",
        ),
        (
            (900, 600, 350, 540, 480),
            "gateway.timeouts: the engine timeout (540 s) must be shorter than the gateway timeout (350 s); every hop "
            "must give up before the one outside it (client > edge > gateway > engine > provider)",
        ),
        ((900, 600, None, 540, 0), "gateway.timeouts.provider = 0: allowed a positive number of seconds"),
        ((900, -1, None, 540, 10), "gateway.timeouts.edge = -1: allowed a positive number of seconds"),
    ],
)
def test_timeout_budget_names_both_conflicting_hops(hops: tuple, message: str) -> None:
    with pytest.raises(UserError) as caught:
        check_timeout_budget(*hops)
    assert str(caught.value) == message


def test_a_route_that_outlasts_the_engine_is_refused() -> None:
    slow = dataclasses.replace(OPENAI, timeout_seconds=600)
    assert refused(with_route(slow)) == (
        "gateway.timeouts: the provider timeout (600 s) must be shorter than the engine timeout (540 s); every hop "
        "must give up before the one outside it (client > edge > gateway > engine > provider)"
    )


def test_an_engine_that_outlasts_the_edge_is_refused() -> None:
    assert refused(spec(timeouts=TimeoutBudget(client=900, edge=29, engine=540))) == (
        "gateway.timeouts: the engine timeout (540 s) must be shorter than the edge timeout (29 s); every hop "
        "must give up before the one outside it (client > edge > gateway > engine > provider)"
    )


# ---------------------------------------------------------------------------------------------
# Every other refusal, one exact line each
# ---------------------------------------------------------------------------------------------

R = ProviderRoute


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            R("x", "mistral", "large", secret_env="MISTRAL_API_KEY"),
            "gateway.models.g.routes[0].provider = 'mistral': allowed openai, anthropic, gemini, cohere, bedrock, "
            "azure-openai, self-hosted",
        ),
        (
            R("bad name", "openai", "gpt-4o", secret_env="OPENAI_API_KEY"),
            "gateway.models.g.routes[0].name = 'bad name': 1-63 letters, digits, '.', '_', ':' or '-'",
        ),
        (
            R("x", "openai", "", secret_env="OPENAI_API_KEY"),
            "gateway.models.g.routes[0].model = '': the provider's model id, non-empty, no surrounding spaces",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="OPENAI_API_KEY", api_base="ftp://x"),
            "gateway.models.g.routes[0].api_base = 'ftp://x': an http(s):// URL or os.environ/NAME",
        ),
        (
            R("x", "self-hosted", "tiny", api_base="os.environ/llm-url"),
            "gateway.models.g.routes[0].api_base = 'os.environ/llm-url': an http(s):// URL or os.environ/NAME",
        ),
        (R("x", "self-hosted", "tiny"), "gateway.models.g.routes[0].api_base: required for self-hosted (the endpoint's base URL)"),
        (
            R("x", "azure-openai", "gpt4o", api_version="2024-10-21"),
            "gateway.models.g.routes[0].api_base: required for azure-openai (the endpoint's base URL)",
        ),
        (
            R("x", "azure-openai", "gpt4o", api_base="https://a.openai.azure.com"),
            "gateway.models.g.routes[0].api_version: required for azure-openai (e.g. 2024-10-21)",
        ),
        (
            R("x", "bedrock", "anthropic.claude-3-haiku-20240307-v1:0"),
            "gateway.models.g.routes[0].region: required for bedrock (the AWS region of the model, e.g. us-east-1)",
        ),
        (
            R("x", "bedrock", "anthropic.claude-3-haiku-20240307-v1:0", region="us-east-1", secret_env="AWS_KEY"),
            "gateway.models.g.routes[0].secret_env = 'AWS_KEY': bedrock authenticates with the engine's IAM role; remove the static key",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="OPENAI_API_KEY", region="us-east-1"),
            "gateway.models.g.routes[0].region = 'us-east-1': only bedrock routes take a region",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="OPENAI_API_KEY", api_version="2024-10-21"),
            "gateway.models.g.routes[0].api_version = '2024-10-21': only azure-openai routes take an api_version",
        ),
        (
            R("x", "anthropic", "claude"),
            "gateway.models.g.routes[0].secret_env: required for anthropic (the environment variable its key is "
            "injected as, e.g. OPENAI_API_KEY)",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="openai-key"),
            "gateway.models.g.routes[0].secret_env = 'openai-key': an environment variable name ([A-Z_][A-Z0-9_]*)",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="LITELLM_MASTER_KEY"),
            "gateway.models.g.routes[0].secret_env = 'LITELLM_MASTER_KEY': reserved for the LiteLLM master key",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="OPENAI_API_KEY", rpm=0),
            "gateway.models.g.routes[0].rpm = 0: allowed a positive whole number of requests per minute, or leave it unset for no limit",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="OPENAI_API_KEY", tpm=-5),
            "gateway.models.g.routes[0].tpm = -5: allowed a positive whole number of tokens per minute, or leave it unset for no limit",
        ),
        (
            R("x", "openai", "gpt-4o", secret_env="OPENAI_API_KEY", timeout_seconds=60, stream_timeout_seconds=90),
            "gateway.models.g.routes[0].stream_timeout_seconds = 90: at most the route's timeout_seconds (60)",
        ),
    ],
)
def test_bad_routes_are_refused(route: ProviderRoute, message: str) -> None:
    assert refused(with_route(route)) == message


def test_a_secret_name_that_collides_across_providers_is_refused() -> None:
    s = spec(
        model_groups=(
            ModelGroup("a", (OPENAI,)),
            ModelGroup("b", (dataclasses.replace(CLAUDE, secret_env="OPENAI_API_KEY"),)),
        ),
        consumers=(),
    )
    assert refused(s) == (
        "gateway.models.b.routes[0].secret_env = 'OPENAI_API_KEY': a secret name that collides: "
        "gateway.models.a.routes[0] already injects its openai key as OPENAI_API_KEY; give each provider its own"
    )


def test_the_same_provider_may_share_its_secret_across_routes() -> None:
    s = spec(
        model_groups=(
            ModelGroup("a", (OPENAI,)),
            ModelGroup("b", (dataclasses.replace(OPENAI, model="gpt-4o"),)),
        ),
        consumers=(),
    )
    assert len(render_litellm_config(s)["model_list"]) == 2


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (
            (ModelGroup("chat", (OPENAI,), fallbacks=("claude",)),),
            "gateway.models.chat.fallbacks: 'claude' is not a model group; defined: chat",
        ),
        (
            (ModelGroup("chat", (OPENAI,), fallbacks=("chat",)),),
            "gateway.models.chat.fallbacks: 'chat' is this group itself; fall back to another group",
        ),
        (
            (ModelGroup("chat", (OPENAI,), fallbacks=("p", "p")), ModelGroup("p", (CLAUDE,))),
            "gateway.models.chat.fallbacks: a group is listed twice",
        ),
        ((ModelGroup("chat", ()),), "gateway.models.chat.routes: at least one route is required"),
        (
            (ModelGroup("chat", (OPENAI,)), ModelGroup("chat", (CLAUDE,))),
            "gateway.models: 'chat' is defined twice; a model group name is what clients send",
        ),
        (
            (ModelGroup("chat", (OPENAI, dataclasses.replace(CLAUDE, name="openai"))),),
            "gateway.models.chat.routes[1].name = 'openai': used by two routes of chat",
        ),
        (
            (ModelGroup("chat", (OPENAI,), retries=11),),
            "gateway.models.chat.retries = 11: allowed 0 to 10, or unset for the gateway's retries",
        ),
        ((ModelGroup("chat/x", (OPENAI,)),), "gateway.models: name 'chat/x': 1-63 letters, digits, '.', '_', ':' or '-'"),
        ((), "gateway.models: at least one model group is required"),
    ],
)
def test_bad_groups_are_refused(groups: tuple, message: str) -> None:
    assert refused(spec(model_groups=groups, consumers=())) == message


@pytest.mark.parametrize(
    ("consumer", "message"),
    [
        (Consumer("web", ("chat", "gpt-5")), "gateway.consumers.web.models: 'gpt-5' is not a model group; defined: chat, chat-provider"),
        (Consumer("web", ()), "gateway.consumers.web.models: at least one model group is required"),
        (
            Consumer("web", ("chat",), rpm=0),
            "gateway.consumers.web.rpm = 0: allowed a positive whole number, or leave it unset for no limit",
        ),
        (
            Consumer("web", ("chat",), tpm=0),
            "gateway.consumers.web.tpm = 0: allowed a positive whole number, or leave it unset for no limit",
        ),
        (
            Consumer("web", ("chat",), max_parallel=0),
            "gateway.consumers.web.max_parallel = 0: allowed a positive whole number, or leave it unset for no limit",
        ),
        (
            Consumer("web", ("chat",), monthly_budget_usd=0.0),
            "gateway.consumers.web.monthly_budget_usd = 0.0: allowed a positive amount in USD, or leave it unset for no limit",
        ),
        (Consumer("web app", ("chat",)), "gateway.consumers: name 'web app': 1-63 letters, digits, '.', '_', ':' or '-'"),
    ],
)
def test_bad_consumers_are_refused(consumer: Consumer, message: str) -> None:
    assert refused(spec(consumers=(consumer,))) == message


def test_a_consumer_defined_twice_is_refused() -> None:
    web = Consumer("web", ("chat",))
    assert refused(spec(consumers=(web, web))) == "gateway.consumers: 'web' is defined twice"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"retries": 11}, "gateway.retries = 11: allowed 0 to 10"),
        ({"allowed_fails": 0}, "gateway.allowed_fails = 0: allowed 1 or more"),
        ({"cooldown_seconds": -1.0}, "gateway.cooldown_seconds = -1.0: allowed 0 or more seconds"),
        ({"min_retry_wait_seconds": 61.0}, "gateway.min_retry_wait_seconds = 61.0: allowed 0 to 60 seconds"),
        (
            {"stream_keepalive_seconds": 0.0},
            "gateway.stream_keepalive_seconds = 0.0: allowed above 0 and below the engine timeout (540 s), or unset for no keep-alives",
        ),
        (
            {"stream_keepalive_seconds": 600.0},
            "gateway.stream_keepalive_seconds = 600.0: allowed above 0 and below the engine timeout (540 s), or unset for no keep-alives",
        ),
        (
            {"routing_strategy": "round-robin"},
            "gateway.routing_strategy = 'round-robin': allowed simple-shuffle, least-busy, latency-based-routing, usage-based-routing-v2",
        ),
        ({"consumer_header": "X-Consumer"}, "gateway.consumer_header = 'X-Consumer': a lower-case header name"),
    ],
)
def test_bad_gateway_settings_are_refused(overrides: dict, message: str) -> None:
    assert refused(spec(**overrides)) == message


def test_the_stack_file_location_prefixes_every_message() -> None:
    with pytest.raises(UserError) as caught:
        render_litellm_config(spec(retries=-1), where="stacks/Pulumi.prod.yaml: gateway")
    assert str(caught.value) == "stacks/Pulumi.prod.yaml: gateway.retries = -1: allowed 0 to 10"


def test_edge_policies_validate_too() -> None:
    with pytest.raises(UserError):
        edge_policies(spec(consumers=(Consumer("web", ("nope",)),)))


# ---------------------------------------------------------------------------------------------
# The fallback alarms' thresholds (issue 20): carried by the group, checked like every other key
# ---------------------------------------------------------------------------------------------


def test_a_group_carries_the_fallback_alarm_defaults_of_the_contract() -> None:
    from pulumi_llm.gateway.front_contract import DEFAULT_FALLBACK_SHARE_PERCENT, DEFAULT_FALLBACK_WINDOW_MINUTES

    group = ModelGroup("chat", (OPENAI,))
    assert (group.fallback_share_percent, group.fallback_window_minutes) == (
        DEFAULT_FALLBACK_SHARE_PERCENT,
        DEFAULT_FALLBACK_WINDOW_MINUTES,
    )
    assert (DEFAULT_FALLBACK_SHARE_PERCENT, DEFAULT_FALLBACK_WINDOW_MINUTES) == (5.0, 10)
    edge = ModelGroup("chat", (OPENAI,), fallback_share_percent=100, fallback_window_minutes=1440)
    gw.validate(spec(model_groups=(edge,), consumers=()))  # the bounds themselves are allowed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"fallback_share_percent": 0.0},
            "gateway.models.chat.fallback_alert.share_percent = 0.0: allowed a percentage above 0, at most 100",
        ),
        (
            {"fallback_share_percent": 100.5},
            "gateway.models.chat.fallback_alert.share_percent = 100.5: allowed a percentage above 0, at most 100",
        ),
        (
            {"fallback_share_percent": float("nan")},
            "gateway.models.chat.fallback_alert.share_percent = nan: allowed a percentage above 0, at most 100",
        ),
        (
            {"fallback_window_minutes": 0},
            "gateway.models.chat.fallback_alert.window_minutes = 0: allowed a whole number of minutes from 1 to 1440",
        ),
        (
            {"fallback_window_minutes": 1441},
            "gateway.models.chat.fallback_alert.window_minutes = 1441: allowed a whole number of minutes from 1 to 1440",
        ),
        (
            {"fallback_window_minutes": True},
            "gateway.models.chat.fallback_alert.window_minutes = True: allowed a whole number of minutes from 1 to 1440",
        ),
    ],
)
def test_fallback_alarm_thresholds_out_of_range_are_refused(change: dict, message: str) -> None:
    group = dataclasses.replace(ModelGroup("chat", (OPENAI,)), **change)
    assert refused(spec(model_groups=(group,), consumers=())) == message


def test_a_fractional_fallback_window_is_refused() -> None:
    group = dataclasses.replace(ModelGroup("chat", (OPENAI,)), fallback_window_minutes=10.5)
    assert refused(spec(model_groups=(group,), consumers=())) == (
        "gateway.models.chat.fallback_alert.window_minutes = 10.5: allowed a whole number of minutes from 1 to 1440"
    )
