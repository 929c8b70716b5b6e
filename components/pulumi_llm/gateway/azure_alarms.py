"""The fallback alarms of a hybrid route on Azure (issue 20): Log Analytics queries over the front's request
log lines, rendered for Azure Monitor scheduled query rules (log alerts). Pure: no Pulumi, no SDK.

Where the lines are: the front writes one JSON line per request on stdout (``front_contract``); the engine's
Container Apps environment sends its logs to Azure Monitor and a diagnostic setting (resource-specific
tables) puts console output in the workspace table ``ContainerAppConsoleLogs``, one row per line: the line
in ``Log``, the app in ``ContainerAppName``, its time in ``TimeGenerated`` (Azure Monitor Logs reference,
"ContainerAppConsoleLogs"; with the older ``log-analytics`` destination the same lines land in
``ContainerAppConsoleLogs_CL`` as ``Log_s`` instead — AzureGateway does not use it).

What the queries count is ``fallback_alarms`` (the reference semantics every cloud agrees with): a request
is a line of the group unless the front refused it itself (``served_by`` none below 500, no ``deployment``); a fallback is
``fallback`` true or ``served_by`` provider; a self-hosted success is ``served_by`` self-hosted with a 2xx.
Each query returns one row when its alarm should fire and none otherwise, so the rule fires on "more
than 0 rows" over one window of ``window_minutes``; the rule's window filters on ``TimeGenerated``.

The expressions are written in a subset of KQL that tests evaluate over real front log lines
(``and``/``or``, comparisons, ``tostring``/``toint``/``tobool``/``parse_json``, ``count()``/``countif()``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .fallback_alarms import FallbackAlarm
from .front_contract import (
    ALARM_FALLBACK_SHARE,
    ALARM_KINDS,
    ALARM_SELF_HOSTED_SILENT,
    NONE,
    PROVIDER,
    REQUEST_LOG_MARK,
    SELF_HOSTED,
)

TABLE = "ContainerAppConsoleLogs"
"""Resource-specific table of Container Apps console output (diagnostic setting, destination type Dedicated)."""
LOG_COLUMN = "Log"
APP_COLUMN = "ContainerAppName"

SEVERITY = {ALARM_FALLBACK_SHARE: 2, ALARM_SELF_HOSTED_SILENT: 1}
"""Azure Monitor severities (0 critical … 4 verbose): a silent self-hosted route is an outage of the servers."""

DESCRIPTION = {
    ALARM_FALLBACK_SHARE: "Share of requests on hybrid route {group} served by a provider or fallback above {share:g} % over {window} min",
    ALARM_SELF_HOSTED_SILENT: "Requests on hybrid route {group} but no self-hosted 2xx answer over {window} min",
}


@dataclass(frozen=True)
class LogAlert:
    """What a scheduled query rule is made of: the query, the window it runs over and how often, and the
    condition (rows returned > threshold)."""

    kind: str
    group: str
    query: str
    window: str
    frequency: str
    operator: str
    threshold: float
    severity: int
    description: str


def _kql_string(value: str) -> str:
    """A KQL string literal (JSON's escaping is a subset KQL reads)."""
    return json.dumps(value)


def iso_minutes(minutes: int) -> str:
    """ISO 8601 duration of a whole number of minutes, in the unit Azure echoes back (no diff on refresh)."""
    if minutes % 1440 == 0:
        return f"P{minutes // 1440}D"
    if minutes % 60 == 0:
        return f"PT{minutes // 60}H"
    return f"PT{minutes}M"


def counts_query(app_name: str, group: str) -> str:
    """The group's requests, fallbacks and self-hosted successes of one window as one row."""
    return "\n".join(
        (
            TABLE,
            f"| where {APP_COLUMN} == {_kql_string(app_name)}",
            f"| where {LOG_COLUMN} contains {_kql_string(REQUEST_LOG_MARK)}",
            f"| extend line = parse_json({LOG_COLUMN})",
            f"| where toint(line.{REQUEST_LOG_MARK}) == 1 and tostring(line.route) == {_kql_string(group)}",
            "| extend served_by = tostring(line.served_by), status = toint(line.status), fallback = tobool(line.fallback)",
            f'| where served_by != {_kql_string(NONE)} or status >= 500 or tostring(line.deployment) != ""',  # see counts_as_request
            "| summarize requests = count(), "
            f"fallbacks = countif(fallback == true or served_by == {_kql_string(PROVIDER)}), "
            f"self_hosted_ok = countif(served_by == {_kql_string(SELF_HOSTED)} and status >= 200 and status < 300)",
        )
    )


def fires_condition(kind: str, share_percent: float) -> str:
    """The last stage: keeps the counts row only when the alarm of `kind` should fire."""
    if kind == ALARM_FALLBACK_SHARE:
        return f"| where requests > 0 and fallbacks * 100.0 / requests > {share_percent!r}"
    if kind == ALARM_SELF_HOSTED_SILENT:
        return "| where requests > 0 and self_hosted_ok == 0"
    raise ValueError(f"alarm kind {kind!r}: allowed {', '.join(ALARM_KINDS)}")


def decide_log_alerts(alarm: FallbackAlarm, app_name: str) -> tuple[LogAlert, ...]:
    """Both log alerts of one hybrid group, for the front running in Container App `app_name`."""
    window = iso_minutes(alarm.window_minutes)
    # Evaluated at least every 5 minutes (Azure's frequency may not exceed the window).
    frequency = iso_minutes(min(alarm.window_minutes, 5))
    base = counts_query(app_name, alarm.group)
    return tuple(
        LogAlert(
            kind=kind,
            group=alarm.group,
            query=f"{base}\n{fires_condition(kind, alarm.share_percent)}",
            window=window,
            frequency=frequency,
            operator="GreaterThan",
            threshold=0,
            severity=SEVERITY[kind],
            description=DESCRIPTION[kind].format(group=alarm.group, share=alarm.share_percent, window=alarm.window_minutes),
        )
        for kind in ALARM_KINDS
    )
