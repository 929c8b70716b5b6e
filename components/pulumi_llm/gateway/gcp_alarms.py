"""Who served each request, in Cloud Monitoring, and the fallback alarms of the GCP gateway's hybrid routes.

The front writes one JSON line per request on stdout (``front_contract.REQUEST_LOG_MARK``,
``LOG_FIELDS``). Cloud Run's logging agent turns a single-line JSON object on stdout into the entry's
``jsonPayload`` (https://cloud.google.com/run/docs/logging#using-json, "structured logging"), so three
log-based counters (https://cloud.google.com/logging/docs/logs-based-metrics/counter-metrics) count the
same three things the front's EMF block counts on AWS, with the same definitions as
``fallback_alarms`` (the reference semantics every cloud's alarm must agree with):

* ``requests``: the group's lines except the front's own refusals (``served_by`` none below 500 with no
  ``deployment``; the backends' own 429s name one);
* ``fallbacks``: among those, ``fallback`` true or ``served_by`` provider;
* ``self-hosted-ok``: ``served_by`` self-hosted with a 2xx status.

Each carries the labels ``route``, ``served_by``, ``fallback`` and ``status`` (extracted from the line), so
the dashboard can split requests by who served them. Per hybrid group, two PromQL alert conditions read
them over the group's window (``increase`` over ``[<window>m]``; an empty side is "no data", which never
fires — the reference's "missing data is not breaching"):

* ``fallback-share``: ``fallbacks / requests * 100 > share_percent``;
* ``self-hosted-silent``: ``requests > 0 unless self-hosted-ok > 0``.

Pure: strings and dicts in pulumi_gcp's input shapes; gcp.py registers the resources. Metric names map
to PromQL by Cloud Monitoring's rule (first ``/`` to ``:``, every other special character to ``_``,
https://cloud.google.com/monitoring/promql/promql-mapping), and a log-based metric can sit on several
resource types, so every selector names ``monitored_resource`` (same page, "Specify a monitored-resource
type").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .fallback_alarms import FallbackAlarm
from .front_contract import (
    ALARM_FALLBACK_SHARE,
    ALARM_SELF_HOSTED_SILENT,
    NONE,
    PROVIDER,
    REQUEST_LOG_MARK,
    SELF_HOSTED,
)

if TYPE_CHECKING:  # the input shapes only; this module registers nothing
    import pulumi_gcp as gcp

RESOURCE_TYPE: Final = "cloud_run_revision"
"""The monitored resource of a Cloud Run service's log entries (and so of the log-based metrics' points)."""

METRIC_LABELS: Final = ("route", "served_by", "fallback", "status")
"""Labels every counter carries, each extracted from the request line's field of the same name."""

REQUESTS: Final = "requests"
FALLBACKS: Final = "fallbacks"
SELF_HOSTED_OK: Final = "self-hosted-ok"
COUNTERS: Final = (REQUESTS, FALLBACKS, SELF_HOSTED_OK)

USER_METRIC_PREFIX: Final = "logging.googleapis.com/user/"
"""Where Cloud Logging publishes a user-defined log-based metric in Cloud Monitoring."""

EVALUATION_INTERVAL: Final = "60s"
"""How often each PromQL condition is evaluated (a multiple of 30 s, the provider's rule)."""


@dataclass(frozen=True)
class LogMetric:
    """One log-based counter: its id (``gcp.logging.Metric.name``), its filter and what it counts."""

    key: str
    name: str
    filter: str
    description: str

    @property
    def metric_type(self) -> str:
        """The Cloud Monitoring metric type the counter is written to."""
        return USER_METRIC_PREFIX + self.name

    @property
    def promql_name(self) -> str:
        """The counter's name in PromQL."""
        return promql_metric_name(self.metric_type)


def promql_metric_name(metric_type: str) -> str:
    """Cloud Monitoring's metric type → its PromQL name: the first ``/`` becomes ``:``, every other
    character outside ``[A-Za-z0-9_:]`` becomes ``_``."""
    domain, _, path = metric_type.partition("/")
    return re.sub(r"[^A-Za-z0-9_]", "_", domain) + ":" + re.sub(r"[^A-Za-z0-9_]", "_", path)


def request_log_filter(service: str) -> str:
    """Cloud Logging filter of the front's request lines of one Cloud Run service."""
    return f'resource.type="{RESOURCE_TYPE}" AND resource.labels.service_name="{service}" AND jsonPayload.{REQUEST_LOG_MARK}=1'


def decide_log_metrics(stack: str, service: str) -> dict[str, LogMetric]:
    """The three counters of a stack's gateway, by key. Filters are parenthesised throughout: in the
    Logging query language OR binds tighter than AND (the opposite of most languages)."""
    base = request_log_filter(service)
    counted = f'(jsonPayload.served_by!="{NONE}" OR jsonPayload.status>=500 OR jsonPayload.deployment!="")'
    fallback = f'(jsonPayload.fallback=true OR jsonPayload.served_by="{PROVIDER}")'
    ok = f'jsonPayload.served_by="{SELF_HOSTED}" AND jsonPayload.status>=200 AND jsonPayload.status<300'
    prefix = f"pulumi-llm-{stack}-gateway"
    return {
        REQUESTS: LogMetric(
            REQUESTS,
            f"{prefix}-{REQUESTS}",
            f"{base} AND {counted}",
            "Requests that reached a backend or that nothing could serve (not the front's own refusals)",
        ),
        FALLBACKS: LogMetric(
            FALLBACKS,
            f"{prefix}-{FALLBACKS}",
            f"{base} AND {counted} AND {fallback}",
            "Requests served by a fallback of the asked group, or by a provider",
        ),
        SELF_HOSTED_OK: LogMetric(
            SELF_HOSTED_OK,
            f"{prefix}-{SELF_HOSTED_OK}",
            f"{base} AND {ok}",
            "Requests a self-hosted deployment answered with a 2xx",
        ),
    }


def label_extractors() -> dict[str, str]:
    """Each label from the request line's field of the same name (numbers and booleans come out as text)."""
    return {label: f"EXTRACT(jsonPayload.{label})" for label in METRIC_LABELS}


def metric_descriptor(display_name: str) -> gcp.logging.MetricMetricDescriptorArgsDict:
    """A DELTA INT64 counter with the four labels (pulumi_gcp ``MetricMetricDescriptorArgsDict`` shape)."""
    return {
        "metric_kind": "DELTA",
        "value_type": "INT64",
        "unit": "1",
        "display_name": display_name,
        "labels": [{"key": label, "value_type": "STRING", "description": f"the request line's {label}"} for label in METRIC_LABELS],
    }


def _sum(metric: LogMetric, group: str, window_minutes: int) -> str:
    selector = f'{metric.promql_name}{{monitored_resource="{RESOURCE_TYPE}",route="{group}"}}'
    return f"sum(increase({selector}[{window_minutes}m]))"


def decide_alarm_queries(alarm: FallbackAlarm, metrics: Mapping[str, LogMetric]) -> dict[str, str]:
    """The PromQL of both alarm kinds of one hybrid group, by kind."""
    requests, fallbacks, ok = (_sum(metrics[key], alarm.group, alarm.window_minutes) for key in COUNTERS)
    return {
        ALARM_FALLBACK_SHARE: f"{fallbacks} / {requests} * 100 > {alarm.share_percent:g}",
        ALARM_SELF_HOSTED_SILENT: f"{requests} > 0 unless {ok} > 0",
    }


def alarm_title(kind: str, alarm: FallbackAlarm) -> str:
    """One line naming the group and what the alarm of `kind` watches."""
    what = {
        ALARM_FALLBACK_SHARE: f"fallback share above {alarm.share_percent:g}% over {alarm.window_minutes} min",
        ALARM_SELF_HOSTED_SILENT: f"no self-hosted 2xx over {alarm.window_minutes} min while requests arrive",
    }[kind]
    return f"{alarm.group}: {what}"


def alarm_condition(kind: str, alarm: FallbackAlarm, query: str) -> gcp.monitoring.AlertPolicyConditionArgsDict:
    """An AlertPolicy condition (pulumi_gcp ``AlertPolicyConditionArgsDict`` shape) running ``query``.
    Duration 0: the window is inside the query, so the first evaluation that is true fires (one window,
    as the reference counts it). Metric validation is off because a log-based counter has no time series
    until its first matching line, and Cloud Monitoring refuses a condition on a metric it has not seen."""
    return {
        "display_name": alarm_title(kind, alarm),
        "condition_prometheus_query_language": {
            "query": query,
            "duration": "0s",
            "evaluation_interval": EVALUATION_INTERVAL,
            "disable_metric_validation": True,
        },
    }


def dashboard_widgets(metrics: Mapping[str, LogMetric], alarms: Sequence[FallbackAlarm]) -> list[dict[str, Any]]:
    """Dashboard widgets (Cloud Monitoring dashboard JSON): requests per route by who served them, and per
    hybrid group its fallback share with the alarm's threshold drawn on it."""
    requests = metrics[REQUESTS]
    widgets: list[dict[str, Any]] = [
        _prometheus_chart(
            "Requests by route and who served them (per minute)",
            f'sum by (route, served_by, fallback) (increase({requests.promql_name}{{monitored_resource="{RESOURCE_TYPE}"}}[1m]))',
        )
    ]
    for alarm in alarms:
        queries = decide_alarm_queries(alarm, metrics)
        share = queries[ALARM_FALLBACK_SHARE].rsplit(" > ", 1)[0]
        widgets.append(
            _prometheus_chart(
                f"{alarm.group}: fallback share % over {alarm.window_minutes} min (alarm above {alarm.share_percent:g})",
                share,
                threshold=alarm.share_percent,
            )
        )
    return widgets


def _prometheus_chart(title: str, query: str, *, threshold: float | None = None) -> dict[str, Any]:
    chart: dict[str, Any] = {"dataSets": [{"timeSeriesQuery": {"prometheusQuery": query}, "plotType": "LINE"}]}
    if threshold is not None:
        chart["thresholds"] = [{"value": threshold, "color": "RED", "direction": "ABOVE"}]
    return {"title": title, "xyChart": chart}
