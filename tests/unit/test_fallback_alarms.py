"""Fallback alarms of hybrid gateway routes (issue 20): which groups get them, their names, and the
reference semantics over the front's request log lines that each cloud's rendered alarm must agree with."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.gateway.config import GatewaySpec, ModelGroup, ProviderRoute
from pulumi_llm.gateway.fallback_alarms import (
    FallbackAlarm,
    WindowCounts,
    alarm_resource_name,
    decide_fallback_alarms,
    decide_hybrid,
    fallback_alarm_fires,
    hybrid_groups,
    line_time,
    window_counts,
)
from pulumi_llm.gateway.front_contract import (
    ALARM_FALLBACK_SHARE,
    ALARM_KINDS,
    ALARM_SELF_HOSTED_SILENT,
    DEFAULT_FALLBACK_SHARE_PERCENT,
    DEFAULT_FALLBACK_WINDOW_MINUTES,
    LOG_FIELDS,
    REQUEST_LOG_MARK,
)


def _route(name: str, provider: str) -> ProviderRoute:
    """A valid route of `provider` (what config.validate asks of each)."""
    extra: dict[str, Any] = {
        "self-hosted": {"api_base": "http://llama.internal/v1"},
        "bedrock": {"region": "us-east-1"},
        "openai": {"secret_env": "OPENAI_API_KEY"},
        "anthropic": {"secret_env": "ANTHROPIC_API_KEY"},
        "gemini": {"secret_env": "GEMINI_API_KEY"},
    }[provider]
    return ProviderRoute(name=name, provider=provider, model=f"{name}-model", **extra)


def _spec(*groups: ModelGroup) -> GatewaySpec:
    return GatewaySpec(model_groups=groups)


PROD_LIKE = _spec(
    ModelGroup("chat", (_route("sh", "self-hosted"),), fallbacks=("provider-small",)),
    ModelGroup("chat-large", (_route("sh", "self-hosted"),), fallbacks=("provider-large",)),
    ModelGroup("provider-small", (_route("oa", "openai"),)),
    ModelGroup("provider-large", (_route("br", "bedrock"), _route("an", "anthropic"))),
    ModelGroup("embed", (_route("sh", "self-hosted"),)),
)

# --------------------------------------------------------------------------------------------
# which groups are hybrid


def test_a_self_hosted_group_falling_back_to_a_provider_is_hybrid_and_the_others_are_not() -> None:
    assert hybrid_groups(PROD_LIKE) == ("chat", "chat-large")


def test_a_group_mixing_both_kinds_in_its_own_routes_is_hybrid() -> None:
    spec = _spec(ModelGroup("mixed", (_route("sh", "self-hosted"), _route("oa", "openai"))))
    assert hybrid_groups(spec) == ("mixed",)


def test_fallbacks_are_followed_transitively_through_cycles() -> None:
    providers = {"a": ["self-hosted"], "b": ["self-hosted"], "c": ["gemini"], "only-sh": ["self-hosted"]}
    fallbacks = {"a": ["b"], "b": ["a", "c"], "only-sh": ["only-sh"]}
    assert decide_hybrid(providers, fallbacks) == ("a", "b")


def test_a_provider_group_falling_back_to_another_provider_is_not_hybrid() -> None:
    assert decide_hybrid({"p": ["openai"], "q": ["anthropic"]}, {"p": ["q"]}) == ()


def test_a_fallback_that_is_not_a_group_adds_nothing() -> None:
    assert decide_hybrid({"a": ["self-hosted"]}, {"a": ["ghost"]}) == ()


# --------------------------------------------------------------------------------------------
# thresholds


def test_hybrid_groups_get_the_contract_defaults_when_the_group_sets_none() -> None:
    assert decide_fallback_alarms(PROD_LIKE) == (
        FallbackAlarm("chat", DEFAULT_FALLBACK_SHARE_PERCENT, DEFAULT_FALLBACK_WINDOW_MINUTES),
        FallbackAlarm("chat-large", DEFAULT_FALLBACK_SHARE_PERCENT, DEFAULT_FALLBACK_WINDOW_MINUTES),
    )


def _with_alert(share: Any, window: Any) -> GatewaySpec:
    chat = ModelGroup(
        "chat", (_route("sh", "self-hosted"),), fallbacks=("p",), fallback_share_percent=share, fallback_window_minutes=window
    )
    return _spec(chat, ModelGroup("p", (_route("oa", "openai"),)))


def test_a_groups_own_thresholds_are_used() -> None:
    assert decide_fallback_alarms(_with_alert(12.5, 30)) == (FallbackAlarm("chat", 12.5, 30),)


@pytest.mark.parametrize(
    ("share", "window", "key"), [(0, 10, "share_percent = 0"), (5.0, 0, "window_minutes = 0"), (5.0, 2.5, "window_minutes = 2.5")]
)
def test_a_threshold_no_alarm_can_evaluate_is_refused_in_one_line_naming_its_key(share: Any, window: Any, key: str) -> None:
    with pytest.raises(UserError) as err:
        decide_fallback_alarms(_with_alert(share, window), where="stacks/Pulumi.prod.yaml: gateway")
    message = str(err.value)
    assert message.startswith(f"stacks/Pulumi.prod.yaml: gateway.models.chat.fallback_alert.{key}: allowed ")
    assert "\n" not in message


def _settings_maps(spec: GatewaySpec) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The two maps verify reads from a stack's settings, for the same groups."""
    return ({g.name: [r.provider for r in g.routes] for g in spec.model_groups}, {g.name: list(g.fallbacks) for g in spec.model_groups})


@pytest.mark.parametrize(
    "spec",
    [
        PROD_LIKE,
        _spec(ModelGroup("mixed", (_route("sh", "self-hosted"), _route("oa", "openai")))),
        _spec(
            ModelGroup("a", (_route("sh", "self-hosted"),), fallbacks=("b",)),
            ModelGroup("b", (_route("sh", "self-hosted"),), fallbacks=("a", "c")),
            ModelGroup("c", (_route("g", "gemini"),)),
            ModelGroup("p", (_route("oa", "openai"),), fallbacks=("a",)),
        ),
    ],
)
def test_the_settings_reading_verify_uses_agrees_with_the_fronts_chains(spec: GatewaySpec) -> None:
    assert decide_hybrid(*_settings_maps(spec)) == hybrid_groups(spec)


# --------------------------------------------------------------------------------------------
# names


def test_alarm_names_are_component_kind_group() -> None:
    assert alarm_resource_name("llm-gateway", ALARM_FALLBACK_SHARE, "chat-large") == "llm-gateway-fallback-share-chat-large"
    assert alarm_resource_name("gw", ALARM_SELF_HOSTED_SILENT, "chat") == "gw-self-hosted-silent-chat"


def test_group_names_with_other_characters_are_folded_and_stay_distinct() -> None:
    dotted = alarm_resource_name("gw", ALARM_FALLBACK_SHARE, "chat.v1")
    underscored = alarm_resource_name("gw", ALARM_FALLBACK_SHARE, "chat_v1")
    assert dotted.startswith("gw-fallback-share-chat-v1-") and underscored.startswith("gw-fallback-share-chat-v1-")
    assert dotted != underscored
    assert all(c.isalnum() or c == "-" for c in dotted + underscored)


def test_an_unknown_alarm_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="fallback-share"):
        alarm_resource_name("gw", "fallback", "chat")


# --------------------------------------------------------------------------------------------
# the reference semantics over request log lines

NOW = 1_800_000_000.0
ALARM = FallbackAlarm("chat", share_percent=5.0, window_minutes=10)


def line(
    seconds_ago: float, *, served_by: str = "self-hosted", status: int = 200, fallback: bool = False, route: str = "chat"
) -> dict[str, Any]:
    """One request log line as the front writes it (LOG_FIELDS plus the mark and the EMF block)."""
    fields: dict[str, Any] = {
        "route": route,
        "consumer": "search",
        "served_by": served_by,
        "deployment": f"{route}/x" if served_by != "none" else "",
        "fallback": fallback,
        "status": status,
        "ttft_ms": 40,
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    assert tuple(fields) == LOG_FIELDS
    return {REQUEST_LOG_MARK: 1, **fields, "_aws": {"Timestamp": int((NOW - seconds_ago) * 1000)}}


def ok(n: int, seconds_ago: float = 60) -> list[dict[str, Any]]:
    return [line(seconds_ago) for _ in range(n)]


def fell_back(n: int, seconds_ago: float = 60) -> list[dict[str, Any]]:
    return [line(seconds_ago, served_by="provider", fallback=True) for _ in range(n)]


def fires(lines: list[dict[str, Any]], alarm: FallbackAlarm = ALARM) -> dict[str, bool]:
    return fallback_alarm_fires(alarm, lines, now=NOW)


def test_all_served_self_hosted_fires_nothing() -> None:
    assert fires(ok(100)) == {ALARM_FALLBACK_SHARE: False, ALARM_SELF_HOSTED_SILENT: False}


def test_a_share_at_the_threshold_does_not_fire_and_one_more_fallback_does() -> None:
    assert fires(ok(95) + fell_back(5))[ALARM_FALLBACK_SHARE] is False  # exactly 5 %
    assert fires(ok(94) + fell_back(6))[ALARM_FALLBACK_SHARE] is True
    assert fires(ok(94) + fell_back(6))[ALARM_SELF_HOSTED_SILENT] is False


def test_only_fallbacks_fire_both_kinds() -> None:
    assert fires(fell_back(3)) == {ALARM_FALLBACK_SHARE: True, ALARM_SELF_HOSTED_SILENT: True}


def test_nothing_served_at_all_is_the_silent_alarm_not_the_share() -> None:
    outage = [line(30, served_by="none", status=503) for _ in range(4)]
    assert fires(outage) == {ALARM_FALLBACK_SHARE: False, ALARM_SELF_HOSTED_SILENT: True}


def test_self_hosted_errors_are_not_successes() -> None:
    failing = [line(30, status=500), line(30, status=429)]
    assert fires(failing)[ALARM_SELF_HOSTED_SILENT] is True


def test_no_requests_fires_nothing() -> None:
    assert fires([]) == {ALARM_FALLBACK_SHARE: False, ALARM_SELF_HOSTED_SILENT: False}


def test_the_fronts_own_refusals_are_not_requests() -> None:
    refused = [line(30, served_by="none", status=s) for s in (400, 403, 404, 429)]
    assert window_counts(ALARM, refused, now=NOW) == WindowCounts(0, 0, 0)
    assert fires(refused) == {ALARM_FALLBACK_SHARE: False, ALARM_SELF_HOSTED_SILENT: False}


def test_a_provider_serving_a_hybrid_group_counts_as_a_fallback_even_as_a_first_order_route() -> None:
    first_order_provider = [line(30, served_by="provider", fallback=False) for _ in range(10)]
    assert window_counts(ALARM, first_order_provider, now=NOW) == WindowCounts(requests=10, fallbacks=10, self_hosted_ok=0)


def test_only_lines_inside_the_window_and_of_the_group_count() -> None:
    lines = [
        *fell_back(50, seconds_ago=601),  # before the 10-minute window
        *fell_back(50, seconds_ago=-1),  # after now
        *[line(30, served_by="provider", fallback=True, route="chat-large") for _ in range(50)],
        {"message": "litellm started", "_aws": {"Timestamp": int(NOW * 1000)}},  # not a request line
        {k: v for k, v in line(30, served_by="provider", fallback=True).items() if k != "_aws"},  # no time
        *ok(20, seconds_ago=600),  # the window's first instant is excluded, its last included
        *ok(10, seconds_ago=0),
    ]
    assert window_counts(ALARM, lines, now=NOW) == WindowCounts(requests=10, fallbacks=0, self_hosted_ok=10)
    assert fires(lines) == {ALARM_FALLBACK_SHARE: False, ALARM_SELF_HOSTED_SILENT: False}


def test_a_longer_window_reaches_further_back() -> None:
    lines = ok(10, seconds_ago=30) + fell_back(10, seconds_ago=1200)
    assert fires(lines)[ALARM_FALLBACK_SHARE] is False
    assert fires(lines, FallbackAlarm("chat", 5.0, 30))[ALARM_FALLBACK_SHARE] is True


def test_the_line_time_is_the_emf_timestamp_in_milliseconds() -> None:
    assert line_time({"_aws": {"Timestamp": 1_800_000_000_500}}) == 1_800_000_000.5
    assert line_time({"_aws": {"Timestamp": True}}) is None
    assert line_time({"_aws": "x"}) is None
    assert line_time({}) is None


def test_every_alarm_kind_is_evaluated() -> None:
    assert set(fires(ok(1))) == set(ALARM_KINDS)


# --------------------------------------------------------------------------------------------
# the front's own log lines and EMF metrics agree with the reference


def test_the_fronts_log_lines_count_as_its_emf_metrics_say() -> None:
    from pulumi_llm.gateway import front_contract as fc
    from pulumi_llm.gateway.front_server import RequestRecord, metric_values, request_log_line

    records = [
        RequestRecord(route="chat", consumer="search", served_by=served_by, fallback=fallback, status=status)
        for served_by in fc.SERVED_CLASSES
        for fallback in (False, True)
        for status in (200, 400, 403, 429, 500, 502, 503)
        if not (served_by == fc.NONE and fallback)
    ]
    lines = [request_log_line(r, stack="prod", epoch_ms=int((NOW - 30) * 1000)) for r in records]
    metrics = [metric_values(r) for r in records]
    assert 0 < sum(m[fc.METRIC_REQUESTS] for m in metrics) < len(records)  # the front's own refusals are left out
    assert window_counts(ALARM, lines, now=NOW) == WindowCounts(
        requests=sum(m[fc.METRIC_REQUESTS] for m in metrics),
        fallbacks=sum(m[fc.METRIC_FALLBACKS] for m in metrics if m[fc.METRIC_REQUESTS]),
        self_hosted_ok=sum(m[fc.METRIC_SELF_HOSTED_OK] for m in metrics),
    )


def test_traffic_every_backend_refused_with_429_counts_and_the_silent_alarm_sees_it() -> None:
    """Review of issue 15: all candidates 429 was logged served_by none below 500 and counted as nothing, so a
    self-hosted route rate-limited away looked like no traffic. The line names the last deployment that said 429."""
    limited = [{**line(30, served_by="none", status=429), "deployment": "chat/vllm"} for _ in range(3)]
    assert window_counts(ALARM, limited, now=NOW) == WindowCounts(requests=3, fallbacks=0, self_hosted_ok=0)
    assert fires(limited) == {ALARM_FALLBACK_SHARE: False, ALARM_SELF_HOSTED_SILENT: True}
