"""The GCP fallback alarms: the front's real request log lines (``front_server.request_log_line``) as Cloud
Run's agent stores them, counted by the log-based counters ``gateway.gcp_alarms`` renders (their filters and
label extractors) and read by the PromQL conditions it renders, must fire exactly when the reference
semantics (``fallback_alarms.fallback_alarm_fires``) do. The stand-in for Logging and Monitoring is
``tests/integration/support/gcp_monitoring.py``."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from pulumi_llm.gateway import front_contract as fc  # noqa: E402
from pulumi_llm.gateway import gcp_alarms  # noqa: E402
from pulumi_llm.gateway.fallback_alarms import FallbackAlarm, fallback_alarm_fires  # noqa: E402
from pulumi_llm.gateway.front_server import RequestRecord, request_log_line  # noqa: E402
from support import gcp_monitoring as gm  # noqa: E402

SERVICE = "pulumi-llm-prod-gateway"
NOW = 1_800_000_000.0
CHAT = FallbackAlarm(group="chat", share_percent=5.0, window_minutes=10)
METRICS = gcp_alarms.decide_log_metrics("prod", SERVICE)


def entry(record: RequestRecord, at: float, *, service: str = SERVICE) -> dict[str, Any]:
    """The LogEntry of one request line, as the front prints it (one JSON line on stdout)."""
    line = json.loads(json.dumps(request_log_line(record, stack="prod", epoch_ms=int(at * 1000))))
    return gm.log_entry(line, service=service, timestamp=at)


def served(route: str, served_by: str, status: int = 200, *, fallback: bool = False) -> RequestRecord:
    deployment = {"self-hosted": f"{route}/vllm", "provider": "provider-small/openai", "none": ""}[served_by]
    return RequestRecord(route=route, consumer="search", served_by=served_by, deployment=deployment, fallback=fallback, status=status)


def points(entries: list[dict[str, Any]]) -> list[gm.Point]:
    out: list[gm.Point] = []
    for metric in METRICS.values():
        out += gm.counter_points({"name": metric.name, "filter": metric.filter, "labelExtractors": gcp_alarms.label_extractors()}, entries)
    return out


def fires(alarm: FallbackAlarm, entries: list[dict[str, Any]]) -> dict[str, bool]:
    queries = gcp_alarms.decide_alarm_queries(alarm, METRICS)
    return {kind: gm.promql_fires(query, points(entries), now=NOW) for kind, query in queries.items()}


def reference(alarm: FallbackAlarm, entries: list[dict[str, Any]]) -> dict[str, bool]:
    lines = [e["jsonPayload"] for e in entries if e["resource"]["labels"]["service_name"] == SERVICE]
    return fallback_alarm_fires(alarm, lines, now=NOW)


def test_backend_down_fires_both_and_agrees_with_the_reference() -> None:
    entries = [entry(served("chat", "provider", fallback=True), NOW - 30 * i) for i in range(12)]
    assert fires(CHAT, entries) == {fc.ALARM_FALLBACK_SHARE: True, fc.ALARM_SELF_HOSTED_SILENT: True}
    assert fires(CHAT, entries) == reference(CHAT, entries)


def test_backend_up_fires_neither() -> None:
    entries = [entry(served("chat", "self-hosted"), NOW - 20 * i) for i in range(30)]
    assert fires(CHAT, entries) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}
    assert fires(CHAT, entries) == reference(CHAT, entries)


def test_no_traffic_fires_neither() -> None:
    assert fires(CHAT, []) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}


def test_the_share_is_strictly_above_and_the_fronts_own_refusals_do_not_count() -> None:
    ok = [entry(served("chat", "self-hosted"), NOW - 10 - i) for i in range(19)]
    refused = [entry(served("chat", "none", 403), NOW - 5), entry(served("chat", "none", 429), NOW - 6)]
    one = [entry(served("chat", "provider", fallback=True), NOW - 1)]
    assert fires(CHAT, ok + one + refused)[fc.ALARM_FALLBACK_SHARE] is False  # 1 in 20 is 5 %: not above
    two = [*one, entry(served("chat", "provider", fallback=True), NOW - 2)]
    assert fires(CHAT, ok + two + refused)[fc.ALARM_FALLBACK_SHARE] is True
    assert fires(CHAT, ok + two + refused) == reference(CHAT, ok + two + refused)


def test_nothing_could_serve_counts_as_a_request_without_a_self_hosted_success() -> None:
    # The private-style outage: 503 served by none. A request (the outage), no fallback, no self-hosted 2xx.
    entries = [entry(served("chat", "none", 503), NOW - 60)]
    assert fires(CHAT, entries) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: True}
    assert fires(CHAT, entries) == reference(CHAT, entries)


def test_other_routes_other_services_and_old_lines_do_not_count() -> None:
    entries = [
        entry(served("provider-small", "provider"), NOW - 10),
        entry(served("chat", "provider", fallback=True), NOW - 10, service="another-gateway"),
        entry(served("chat", "provider", fallback=True), NOW - 11 * 60),
        entry(served("chat", "self-hosted"), NOW - 20),
    ]
    assert fires(CHAT, entries) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: False}
    assert fires(CHAT, entries) == reference(CHAT, entries)


@pytest.mark.parametrize("seed", range(40))
def test_random_traffic_agrees_with_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    alarm = FallbackAlarm("chat", rng.choice([1.0, 5.0, 20.0, 50.0]), rng.choice([1, 5, 10]))
    kinds = [
        ("self-hosted", 200, False),
        ("self-hosted", 500, False),
        ("provider", 200, True),
        ("provider", 200, False),
        ("provider", 502, True),
        ("self-hosted", 200, True),
        ("none", 403, False),
        ("none", 429, False),
        ("none", 503, False),
    ]
    entries = []
    for _ in range(rng.randint(0, 60)):
        served_by, status, fallback = rng.choice(kinds)
        route = rng.choice(["chat", "chat", "chat", "other"])
        entries.append(entry(served(route, served_by, status, fallback=fallback), NOW - rng.uniform(0, 15 * 60)))
    assert fires(alarm, entries) == reference(alarm, entries), (seed, alarm)


def test_metric_names_map_to_promql_by_cloud_monitorings_rule() -> None:
    assert gcp_alarms.promql_metric_name("logging.googleapis.com/user/pulumi-llm-gcp-prod-gateway-requests") == (
        "logging_googleapis_com:user_pulumi_llm_gcp_prod_gateway_requests"
    )
    # The rule's own examples (cloud.google.com/monitoring/promql/promql-mapping).
    assert (
        gcp_alarms.promql_metric_name("compute.googleapis.com/instance/cpu/utilization")
        == "compute_googleapis_com:instance_cpu_utilization"
    )
    assert gcp_alarms.promql_metric_name("kubernetes.io/container/cpu/limit_cores") == "kubernetes_io:container_cpu_limit_cores"


def test_the_filter_stand_in_refuses_and_or_without_parentheses() -> None:
    # In the Logging query language OR binds tighter than AND; the component parenthesises every OR group.
    probe = gm.log_entry({"a": 1, "b": 2}, service=SERVICE, timestamp=NOW)
    with pytest.raises(ValueError, match="AND and OR mixed"):
        gm.matches("jsonPayload.a=1 AND jsonPayload.b=3 OR jsonPayload.b=2", probe)
    for metric in METRICS.values():
        gm.matches(metric.filter, probe)  # every rendered filter is within the parenthesised subset


def test_traffic_every_backend_refused_with_429_counts_like_the_reference() -> None:
    limited = RequestRecord(route="chat", consumer="search", served_by="none", deployment="chat/vllm", status=429)
    entries = [entry(limited, NOW - 10 * i) for i in range(3)] + [entry(served("chat", "none", 429), NOW - 1)]
    assert fires(CHAT, entries) == {fc.ALARM_FALLBACK_SHARE: False, fc.ALARM_SELF_HOSTED_SILENT: True}
    assert fires(CHAT, entries) == reference(CHAT, entries)
