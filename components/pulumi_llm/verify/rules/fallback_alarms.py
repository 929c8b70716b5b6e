"""gateway.fallback-alarms: every hybrid route of a stack's gateway has both fallback alarms, and they
reach the people the gateway's other alarms reach.

A hybrid group (``gateway/fallback_alarms.py``: a self-hosted and a provider deployment on its chain)
keeps answering when its model servers are down — a provider serves instead, and is paid for it. The
two alarms (``fallback-share``, ``self-hosted-silent``) are the only signal of that, so a plan that
lacks one, or whose alarm notifies nobody, ships an outage nobody sees. This rule reads the hybrid
groups from the stack's settings (``gateway.models``), the same chains ``hybrid_groups`` computes, and
looks for each group's two alarm resources by the name every cloud gives them
(``alarm_resource_name(<gateway component>, kind, group)``):

* AWS: a CloudWatch metric alarm; GCP: a Cloud Monitoring alert policy; Azure: a metric alert or a
  scheduled query rule (log search alert);
* notifying every channel the gateway's other alarms notify — the stack's alert channel: the alarm
  topic (AWS ``alarmActions``), the notification channels (GCP ``notificationChannels``), the action
  group (Azure ``actions``). An alarm that notifies nothing while the gateway's others do is silent: an
  error. When none of them notifies anyone (a GCP stack without ``gcp.alert_emails``) it is a warning:
  the alarm is there, the stack has no one to tell. ``alerts.gcp-channels`` checks every GCP alert policy
  against the stack's channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...gateway.fallback_alarms import alarm_resource_name, decide_hybrid
from ...gateway.front_contract import ALARM_KINDS
from ..plain import array_at, is_array, is_object, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "gateway.fallback-alarms"

GATEWAY_TYPES: dict[str, str] = {
    "pulumi-llm:index:AwsGateway": "aws",
    "pulumi-llm:index:GcpGateway": "gcp",
    "pulumi-llm:index:AzureGateway": "azure",
}
"""The gateway component types, by cloud."""

ALARM_TYPES: dict[str, tuple[str, ...]] = {
    "aws": ("aws:cloudwatch/metricAlarm:MetricAlarm",),
    "gcp": ("gcp:monitoring/alertPolicy:AlertPolicy",),
    "azure": (
        "azure-native:monitor:MetricAlert",
        "azure-native:monitor:ScheduledQueryRule",
        "azure-native:insights:MetricAlert",
        "azure-native:insights:ScheduledQueryRule",
    ),
}
"""The resource types an alarm may be, by cloud (azure-native has both the monitor and the older
insights module names for the same resources)."""

ALARM_WORDS: dict[str, str] = {
    "aws": "a CloudWatch metric alarm",
    "gcp": "a Cloud Monitoring alert policy",
    "azure": "an Azure Monitor metric alert or scheduled query rule",
}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value if isinstance(v, str) and v] if is_array(value) else []


def alarm_actions(resource: dict[str, Any]) -> set[str]:
    """What an alarm notifies: AWS ``alarmActions``; GCP ``notificationChannels``; Azure metric alerts'
    ``actions[].actionGroupId`` and scheduled query rules' ``actions.actionGroups``."""
    inputs: dict[str, Any] = resource["inputs"]
    found = set(_strings(inputs.get("alarmActions"))) | set(_strings(inputs.get("notificationChannels")))
    actions = inputs.get("actions")
    if is_array(actions):
        found |= {str(a["actionGroupId"]) for a in actions if is_object(a) and a.get("actionGroupId")}
    elif is_object(actions):
        found |= set(_strings(actions.get("actionGroups")))
    return found


def hybrid_from_settings(settings: dict[str, Any]) -> tuple[str, ...]:
    """The hybrid groups of the stack's ``gateway.models``, in settings order."""
    models = object_at(object_at(settings, "gateway"), "models")
    providers: dict[str, list[str]] = {}
    fallbacks: dict[str, list[str]] = {}
    for name, group in models.items():
        if not is_object(group):
            continue
        providers[name] = [str(r.get("provider") or "") for r in array_at(group, "routes") if is_object(r)]
        fallbacks[name] = _strings(group.get("fallbacks"))
    return decide_hybrid(providers, fallbacks)


@rule(NAME)
def hybrid_routes_have_fallback_alarms(view: PlanView) -> Iterator[Violation]:
    """Every hybrid gateway group has its fallback-share and self-hosted-silent alarms, named by alarm_resource_name, each notifying every channel the gateway's other alarms notify (the stack's alert channel)."""
    groups = hybrid_from_settings(view.settings)
    if not groups:
        return
    for gateway in view.of_type(*GATEWAY_TYPES):
        cloud = GATEWAY_TYPES[gateway["type"]]
        types = ALARM_TYPES[cloud]
        children = [r for r in view.of_type(*types) if r.get("parent") == gateway["urn"]]
        by_name = {r["name"]: r for r in children}
        wanted = {alarm_resource_name(gateway["name"], kind, group): group for group in groups for kind in ALARM_KINDS}
        channel = set[str]().union(*(alarm_actions(r) for r in children if r["name"] not in wanted))
        for name, group in wanted.items():
            alarm = by_name.get(name)
            if alarm is None:
                yield violation(
                    view,
                    gateway["name"],
                    NAME,
                    f"hybrid group {group}: no alarm {name} ({ALARM_WORDS[cloud]}): when its servers stop, a provider "
                    "serves and nobody is told",
                )
                continue
            actions = alarm_actions(alarm)
            missing = sorted(channel - actions)
            if not actions and not channel:
                yield violation(
                    view,
                    name,
                    NAME,
                    f"hybrid group {group}: the alarm notifies nobody, as none of the gateway's alarms does: give the stack an alert channel",
                    severity="warning",
                )
            elif missing:
                yield violation(
                    view,
                    name,
                    NAME,
                    f"hybrid group {group}: the alarm does not notify {', '.join(missing)}, which the gateway's other alarms notify",
                )
