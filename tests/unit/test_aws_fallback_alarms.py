"""AwsGateway's fallback alarms mean what ``fallback_alarms.fallback_alarm_fires`` says: the metric math the
component renders (``aws_edge.fallback_alarm_definitions``), evaluated offline (``support/cloudwatch_math``)
over the EMF lines the front writes (``front_server.request_log_line``), fires exactly when the reference
does. The integration test does the same over a real front's lines (tests/integration/test_gateway_aws_edge.py)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from pulumi_llm.gateway import front_contract as fc
from pulumi_llm.gateway.aws_edge import fallback_alarm_definitions
from pulumi_llm.gateway.fallback_alarms import FallbackAlarm, fallback_alarm_fires
from pulumi_llm.gateway.front_server import RequestRecord, request_log_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from support.cloudwatch_math import alarm_fires, emf_sum, evaluate  # noqa: E402

NOW = 1_800_000_000.0
ALARM = FallbackAlarm(group="chat", share_percent=5.0, window_minutes=10)


def line(served_by: str, status: int, *, fallback: bool = False, route: str = "chat", seconds_ago: float = 30.0, stack: str = "prod"):
    record = RequestRecord(route=route, consumer="app", served_by=served_by, fallback=fallback, status=status)
    return request_log_line(record, stack=stack, epoch_ms=int((NOW - seconds_ago) * 1000))


def rendered(alarm: FallbackAlarm = ALARM, stack: str = "prod") -> dict[str, dict]:
    return fallback_alarm_definitions(
        stack=stack, group=alarm.group, share_percent=alarm.share_percent, window_minutes=alarm.window_minutes
    )


def aws_fires(lines, alarm: FallbackAlarm = ALARM) -> dict[str, bool]:
    return {kind: alarm_fires(definition, lines, now=NOW) for kind, definition in rendered(alarm).items()}


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        ("IF(requests > 0, 100 * FILL(fallbacks, 0) / requests, 0)", {"requests": 20.0, "fallbacks": 1.0}, 5.0),
        ("IF(requests > 0, 100 * FILL(fallbacks, 0) / requests, 0)", {"requests": 4.0, "fallbacks": None}, 0.0),
        ("IF(requests > 0, 100 * FILL(fallbacks, 0) / requests, 0)", {"requests": None, "fallbacks": None}, None),
        ("IF(requests > 0, 100 * FILL(fallbacks, 0) / requests, 0)", {"requests": 0.0, "fallbacks": 0.0}, 0.0),
        ("IF(requests > 0 AND FILL(successes, 0) == 0, 1, 0)", {"requests": 3.0, "successes": 0.0}, 1.0),
        ("IF(requests > 0 AND FILL(successes, 0) == 0, 1, 0)", {"requests": 3.0, "successes": None}, 1.0),
        ("IF(requests > 0 AND FILL(successes, 0) == 0, 1, 0)", {"requests": 3.0, "successes": 1.0}, 0.0),
        ("IF(requests > 0 AND FILL(successes, 0) == 0, 1, 0)", {"requests": 0.0, "successes": 0.0}, 0.0),
        ("(a + b) * 2 - -1", {"a": 1.0, "b": 2.0}, 7.0),
        ("a / b", {"a": 1.0, "b": 0.0}, None),
    ],
)
def test_the_evaluator_reads_the_rendered_math(expression, values, expected) -> None:
    assert evaluate(expression, values) == expected


def test_emf_sums_only_the_routes_lines_of_the_period() -> None:
    lines = [
        line(fc.PROVIDER, 200, fallback=True),
        line(fc.SELF_HOSTED, 200),
        line(fc.PROVIDER, 200, route="other"),  # another route
        line(fc.PROVIDER, 200, stack="staging"),  # another stack
        line(fc.PROVIDER, 200, seconds_ago=601),  # before the window
        {"level": "info", "message": "LiteLLM's own line"},
    ]
    queries = {q["id"]: q for q in rendered()[fc.ALARM_FALLBACK_SHARE]["metric_queries"]}
    assert emf_sum(lines, queries["requests"]["metric"], now=NOW) == 2.0
    assert emf_sum(lines, queries["fallbacks"]["metric"], now=NOW) == 1.0
    assert emf_sum(lines[2:], queries["requests"]["metric"], now=NOW) is None  # no datapoint: missing, not 0


def test_self_hosted_down_fires_both_and_self_hosted_up_neither() -> None:
    down = [line(fc.PROVIDER, 200, fallback=True) for _ in range(6)]
    up = [line(fc.SELF_HOSTED, 200) for _ in range(6)]
    assert (
        aws_fires(down) == fallback_alarm_fires(ALARM, down, now=NOW) == {fc.ALARM_FALLBACK_SHARE: True, fc.ALARM_SELF_HOSTED_SILENT: True}
    )
    assert aws_fires(up) == fallback_alarm_fires(ALARM, up, now=NOW) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}
    assert aws_fires([]) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}  # quiet: missing data


def test_the_share_threshold_is_strictly_above() -> None:
    at = [line(fc.PROVIDER, 200, fallback=True)] + [line(fc.SELF_HOSTED, 200) for _ in range(19)]  # exactly 5 %
    assert aws_fires(at)[fc.ALARM_FALLBACK_SHARE] is False is fallback_alarm_fires(ALARM, at, now=NOW)[fc.ALARM_FALLBACK_SHARE]
    above = at + [line(fc.PROVIDER, 200)]
    assert aws_fires(above)[fc.ALARM_FALLBACK_SHARE] is True is fallback_alarm_fires(ALARM, above, now=NOW)[fc.ALARM_FALLBACK_SHARE]


@pytest.mark.parametrize("seed", range(40))
def test_the_rendered_alarms_agree_with_the_reference_on_any_mix(seed: int) -> None:
    rng = random.Random(seed)
    alarm = FallbackAlarm(group="chat", share_percent=rng.choice([1.0, 5.0, 25.0, 50.0]), window_minutes=rng.choice([1, 10, 60]))
    outcomes = [
        (fc.SELF_HOSTED, 200, False),
        (fc.SELF_HOSTED, 500, False),
        (fc.PROVIDER, 200, True),
        (fc.PROVIDER, 200, False),
        (fc.PROVIDER, 502, True),
        (fc.NONE, 403, False),  # the front's own refusal: no request
        (fc.NONE, 429, False),
        (fc.NONE, 503, False),  # nothing could serve: a request
    ]
    lines = []
    for _ in range(rng.randrange(0, 30)):
        served_by, status, fallback = rng.choice(outcomes)
        lines.append(
            line(served_by, status, fallback=fallback, route=rng.choice(["chat", "chat", "other"]), seconds_ago=rng.uniform(0, 7200))
        )
    assert aws_fires(lines, alarm) == fallback_alarm_fires(alarm, lines, now=NOW)


def test_traffic_every_backend_refused_with_429_counts_like_the_reference() -> None:
    record = RequestRecord(route="chat", consumer="app", served_by="none", deployment="chat/vllm", status=429)
    limited = [request_log_line(record, stack="prod", epoch_ms=int((NOW - 30 - i) * 1000)) for i in range(3)]
    lines = [*limited, line("none", 429)]  # the front's own 429 (no deployment) still counts nothing
    assert aws_fires(lines) == {fc.ALARM_SELF_HOSTED_SILENT: True, fc.ALARM_FALLBACK_SHARE: False}
    assert aws_fires(lines) == fallback_alarm_fires(ALARM, lines, now=NOW)
