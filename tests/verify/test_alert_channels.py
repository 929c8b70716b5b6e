"""alerts.gcp-channels: on a GCP stack with notification channels (gcp.alert_emails), every alert policy names
all of them. Hand-made plans, then the recorded GCP plans with one policy's channels dropped the way a wiring
mistake would."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_llm.gateway.fallback_alarms import alarm_resource_name
from pulumi_llm.gateway.front_contract import ALARM_SELF_HOSTED_SILENT
from pulumi_llm.verify import PlanView, run_rules
from pulumi_llm.verify.rules import alert_channels, fallback_alarms

from .conftest import fired

RULE = alert_channels.NAME
CHANNEL = alert_channels.NOTIFICATION_CHANNEL
POLICY = alert_channels.ALERT_POLICY


def resource(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:s::p::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": None,
        "id": f"{name}-id",
        "dependsOn": [],
        "inputs": inputs,
    }


def plan(channels: tuple[str, ...], policies: dict[str, list[str]]) -> PlanView:
    """`channels` notification channels, and alert policies naming the channels' ids given per policy."""
    resources = [resource(CHANNEL, c, {"type": "email"}) for c in channels]
    resources += [resource(POLICY, p, {"notificationChannels": [f"{c}-id" for c in named]}) for p, named in policies.items()]
    return PlanView(stack="s", settings={}, resources=resources)


def found(view: PlanView) -> list[str]:
    return [f"{v.resource}: {v.why}" for v in alert_channels.alert_policies_notify_the_stacks_channels(view)]


def test_policies_naming_every_channel_pass() -> None:
    assert found(plan(("mail-1", "mail-2"), {"5xx": ["mail-1", "mail-2"], "latency": ["mail-2", "mail-1"]})) == []


def test_a_policy_naming_no_channel_is_refused() -> None:
    assert found(plan(("mail-1",), {"5xx": ["mail-1"], "latency": []})) == [
        "latency: notifies none of the stack's alert channels (gcp.alert_emails): missing mail-1"
    ]


def test_a_policy_naming_only_some_channels_is_refused() -> None:
    assert found(plan(("mail-1", "mail-2"), {"5xx": ["mail-2"]})) == [
        "5xx: notifies not all of the stack's alert channels (gcp.alert_emails): missing mail-1"
    ]


def test_a_stack_without_channels_is_not_this_rules_concern() -> None:
    assert found(plan((), {"5xx": []})) == []


# --- the recorded GCP plans ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["gcp-prod", "gcp-dev"])
def test_every_alert_policy_of_the_shipped_gcp_stacks_names_their_channel(recorded, stack):
    view = recorded(stack)
    channels = view.of_type(CHANNEL)
    policies = view.of_type(POLICY)
    assert [c["inputs"]["labels"]["email_address"] for c in channels] == [
        {"gcp-prod": "llm-oncall@example.com", "gcp-dev": "llm-dev@example.com"}[stack]
    ]
    assert len(policies) >= 3
    assert {p["name"]: p["inputs"]["notificationChannels"] for p in policies} == {p["name"]: [channels[0]["id"]] for p in policies}
    assert [v for v in run_rules(view) if v.rule == RULE] == []


def test_gcp_prods_fallback_alarms_notify_its_channel_so_nothing_warns(recorded):
    assert [f"{v.severity} {v.resource}: {v.why}" for v in run_rules(recorded("gcp-prod")) if v.rule == fallback_alarms.NAME] == []


def test_seed_gcp_prod_with_a_gateway_alert_that_notifies_no_channel(recorded):
    view = recorded("gcp-prod")
    latency = view.named("llm-gateway-alert-latency-p99")
    assert latency is not None
    latency["inputs"]["notificationChannels"] = []
    assert fired(view) == {RULE}
    [v] = [v for v in run_rules(view) if v.rule == RULE]
    assert (v.resource, v.why) == (
        "llm-gateway-alert-latency-p99",
        "notifies none of the stack's alert channels (gcp.alert_emails): missing llm-alerts-email-1",
    )


def test_seed_gcp_prod_with_a_silent_fallback_alarm_fails_both_rules(recorded):
    view = recorded("gcp-prod")
    silent = view.named(alarm_resource_name("llm-gateway", ALARM_SELF_HOSTED_SILENT, "chat"))
    assert silent is not None
    silent["inputs"]["notificationChannels"] = []
    assert fired(view) == {RULE, fallback_alarms.NAME}


def test_seed_gcp_dev_with_a_gpu_vm_alert_that_notifies_no_channel(recorded):
    view = recorded("gcp-dev")
    [gpu_alert, *_] = [p for p in view.of_type(POLICY) if not p["name"].startswith("llm-gateway-")]
    gpu_alert["inputs"]["notificationChannels"] = []
    assert fired(view) == {RULE}
