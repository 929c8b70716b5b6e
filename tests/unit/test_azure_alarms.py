"""The Azure fallback alarms: the KQL rendered for each hybrid route, run by a small KQL evaluator over the
front's real request log lines (``front_server.request_log_line``) as Container Apps stores them, must fire
exactly when the reference semantics (``fallback_alarms.fallback_alarm_fires``) do."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from pulumi_llm.gateway import azure_alarms  # noqa: E402
from pulumi_llm.gateway import front_contract as fc  # noqa: E402
from pulumi_llm.gateway.fallback_alarms import FallbackAlarm, fallback_alarm_fires  # noqa: E402
from pulumi_llm.gateway.front_server import RequestRecord, request_log_line  # noqa: E402
from support import kql_eval  # noqa: E402

APP = "llm-prod-engine"
NOW = 1_800_000_000.0
CHAT = FallbackAlarm(group="chat", share_percent=5.0, window_minutes=10)


def row(record: RequestRecord, at: float, *, app: str = APP) -> dict[str, Any]:
    """One ContainerAppConsoleLogs row: the front's stdout line in Log (as the front prints it)."""
    line = request_log_line(record, stack="prod", epoch_ms=int(at * 1000))
    return {"ContainerAppName": app, "Log": json.dumps(line, separators=(",", ":")), "TimeGenerated": at}


def served(route: str, served_by: str, status: int = 200, *, fallback: bool = False) -> RequestRecord:
    deployment = {"self-hosted": f"{route}/vllm", "provider": "provider-small/openai", "none": ""}[served_by]
    return RequestRecord(route=route, consumer="search", served_by=served_by, deployment=deployment, fallback=fallback, status=status)


def fires(alarm: FallbackAlarm, rows: list[dict[str, Any]], *, app: str = APP) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for alert in azure_alarms.decide_log_alerts(alarm, app):
        out[alert.kind] = kql_eval.alert_fires(
            query=alert.query,
            window=alert.window,
            operator=alert.operator,
            threshold=alert.threshold,
            table=azure_alarms.TABLE,
            rows=rows,
            now=NOW,
        )
    return out


def reference(alarm: FallbackAlarm, rows: list[dict[str, Any]]) -> dict[str, bool]:
    return fallback_alarm_fires(alarm, [json.loads(r["Log"]) for r in rows if r["ContainerAppName"] == APP], now=NOW)


def test_backend_down_fires_both_and_agrees_with_the_reference() -> None:
    # The self-hosted server is down: every request on chat is answered by the provider fallback.
    rows = [row(served("chat", "provider", fallback=True), NOW - 30 * i) for i in range(12)]
    assert fires(CHAT, rows) == {fc.ALARM_FALLBACK_SHARE: True, fc.ALARM_SELF_HOSTED_SILENT: True}
    assert fires(CHAT, rows) == reference(CHAT, rows)


def test_backend_up_fires_neither() -> None:
    rows = [row(served("chat", "self-hosted"), NOW - 20 * i) for i in range(30)]
    assert fires(CHAT, rows) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}
    assert fires(CHAT, rows) == reference(CHAT, rows)


def test_no_traffic_fires_neither() -> None:
    assert fires(CHAT, []) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}


def test_share_threshold_is_strictly_above_and_refusals_do_not_count() -> None:
    # 1 fallback in 20 requests is exactly 5 %: not above. The front's own refusals (403, 429 by none) do not count.
    ok = [row(served("chat", "self-hosted"), NOW - 10 - i) for i in range(19)]
    refused = [row(served("chat", "none", 403), NOW - 5), row(served("chat", "none", 429), NOW - 6)]
    one = [row(served("chat", "provider", fallback=True), NOW - 1)]
    assert fires(CHAT, ok + one + refused)[fc.ALARM_FALLBACK_SHARE] is False
    two = [*one, row(served("chat", "provider", fallback=True), NOW - 2)]
    assert fires(CHAT, ok + two + refused)[fc.ALARM_FALLBACK_SHARE] is True  # 2 of 21
    # A 503 with nothing able to serve is the outage itself: it counts as a request.
    outage = [row(served("chat", "none", 503), NOW - 3)]
    assert fires(CHAT, outage) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: True}
    for rows in (ok + one + refused, ok + two + refused, outage):
        assert fires(CHAT, rows) == reference(CHAT, rows)


def test_only_the_window_the_group_and_the_engine_app_count() -> None:
    old = [row(served("chat", "provider", fallback=True), NOW - 11 * 60)]  # before the 10-minute window
    other_group = [row(served("provider-small", "provider"), NOW - 5)]
    other_app = [row(served("chat", "provider", fallback=True), NOW - 5, app="something-else")]
    noise = [{"ContainerAppName": APP, "Log": "INFO: litellm started pulumi_llm_request", "TimeGenerated": NOW - 4}]
    rows = [row(served("chat", "self-hosted"), NOW - 7), *old, *other_group, *other_app, *noise]
    assert fires(CHAT, rows) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}


def test_random_traffic_agrees_with_the_reference_semantics() -> None:
    rng = random.Random(20)
    kinds = [
        ("self-hosted", 200, False),
        ("self-hosted", 500, False),
        ("provider", 200, True),
        ("provider", 200, False),
        ("none", 403, False),
        ("none", 503, False),
    ]
    for trial in range(60):
        alarm = FallbackAlarm(group="chat", share_percent=rng.choice([1.0, 5.0, 25.0, 50.0]), window_minutes=rng.choice([1, 5, 10, 60]))
        rows = []
        for _ in range(rng.randint(0, 25)):
            served_by, status, fallback = rng.choice(kinds)
            group = rng.choice(["chat", "chat", "chat", "provider-small"])
            rows.append(row(served(group, served_by, status, fallback=fallback), NOW - rng.uniform(0, 90 * 60)))
        assert fires(alarm, rows) == reference(alarm, rows), trial


def test_the_query_reads_only_fields_the_front_writes() -> None:
    for alert in azure_alarms.decide_log_alerts(CHAT, APP):
        fields = set(re.findall(r"\bline\.([a-z_]+)", alert.query))
        assert fields <= {*fc.LOG_FIELDS, fc.REQUEST_LOG_MARK}
        assert {"route", "served_by", "status", "fallback", fc.REQUEST_LOG_MARK} <= fields
        assert alert.query.startswith(f"{azure_alarms.TABLE}\n| where ContainerAppName == {json.dumps(APP)}")


@pytest.mark.parametrize(
    ("minutes", "window", "frequency"), [(10, "PT10M", "PT5M"), (3, "PT3M", "PT3M"), (60, "PT1H", "PT5M"), (1440, "P1D", "PT5M")]
)
def test_window_and_frequency(minutes: int, window: str, frequency: str) -> None:
    alerts = azure_alarms.decide_log_alerts(FallbackAlarm(group="chat", share_percent=5.0, window_minutes=minutes), APP)
    assert [(a.kind, a.window, a.frequency, a.operator, a.threshold) for a in alerts] == [
        (kind, window, frequency, "GreaterThan", 0) for kind in fc.ALARM_KINDS
    ]
    assert kql_eval.duration_seconds(window) == minutes * 60


def test_group_names_are_kql_string_literals() -> None:
    # A group name with a quote or backslash cannot break out of the literal.
    tricky = FallbackAlarm(group='chat"\\x', share_percent=5.0, window_minutes=10)
    rows = [row(served('chat"\\x', "provider", fallback=True), NOW - 1)]
    assert fires(tricky, rows) == {fc.ALARM_FALLBACK_SHARE: True, fc.ALARM_SELF_HOSTED_SILENT: True}


def test_the_evaluator_refuses_kql_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="unsupported operator 'project'"):
        kql_eval.run("T\n| project x", {"T": [{"x": 1}]})
    with pytest.raises(ValueError, match="unknown column or function 'bin'"):
        kql_eval.run("T\n| where bin(x) == 1", {"T": [{"x": 1}]})


def test_traffic_every_backend_refused_with_429_counts_like_the_reference() -> None:
    limited = RequestRecord(route="chat", consumer="search", served_by="none", deployment="chat/vllm", status=429)
    rows = [row(limited, NOW - 10 * i) for i in range(3)] + [row(served("chat", "none", 429), NOW - 1)]
    assert fires(CHAT, rows) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: True}
    assert fires(CHAT, rows) == reference(CHAT, rows)
