"""gateway.fallback-alarms: every hybrid group of a stack's gateway has both fallback alarms, named by
alarm_resource_name and notifying the gateway's alert channel. Small hand-made plans per cloud, then the
real recorded prod plan with one alarm removed or silenced the way a wiring mistake would."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_llm.gateway.fallback_alarms import alarm_resource_name
from pulumi_llm.gateway.front_contract import ALARM_FALLBACK_SHARE, ALARM_KINDS, ALARM_SELF_HOSTED_SILENT
from pulumi_llm.verify import PlanView, run_rules
from pulumi_llm.verify.rules import fallback_alarms

from .conftest import fired

RULE = fallback_alarms.NAME

HYBRID_SETTINGS: dict[str, Any] = {
    "gateway": {
        "models": {
            "chat": {"routes": [{"provider": "self-hosted", "model": "llama"}], "fallbacks": ["provider-small"]},
            "provider-small": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}], "fallbacks": []},
            "embed": {"routes": [{"provider": "self-hosted", "model": "bge"}], "fallbacks": []},
        }
    }
}

GATEWAY_TYPE = {"aws": "pulumi-llm:index:AwsGateway", "gcp": "pulumi-llm:index:GcpGateway", "azure": "pulumi-llm:index:AzureGateway"}
ALARM_TYPE = {
    "aws": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "gcp": "gcp:monitoring/alertPolicy:AlertPolicy",
    "azure": "azure-native:monitor:ScheduledQueryRule",
}
CHANNEL = {
    "aws": "arn:aws:sns:us-east-1:123456789012:llm-alarms-topic",
    "gcp": "projects/p/notificationChannels/1",
    "azure": "llm-gateway-alerts-1",
}


def actions(cloud: str, channel: str | None, *, metric_alert: bool = False) -> dict[str, Any]:
    """The inputs that name where an alarm notifies, as each cloud's resource spells them."""
    targets = [channel] if channel else []
    if cloud == "aws":
        return {"alarmActions": targets}
    if cloud == "gcp":
        return {"notificationChannels": targets}
    if metric_alert:
        return {"actions": [{"actionGroupId": t} for t in targets]}
    return {"actions": {"actionGroups": targets}}


def plan(cloud: str, *, skip: tuple[str, ...] = (), silent: tuple[str, ...] = ()) -> PlanView:
    """A gateway component with one alarm of its own and both fallback alarms of chat, minus `skip`,
    with `silent` ones notifying nothing."""
    gw_urn = f"urn:pulumi:s::p::{GATEWAY_TYPE[cloud]}::llm-gateway"

    def alarm(name: str, inputs: dict[str, Any], type_: str | None = None) -> dict[str, Any]:
        return {
            "urn": f"{gw_urn}${name}",
            "type": type_ or ALARM_TYPE[cloud],
            "name": name,
            "parent": gw_urn,
            "id": name,
            "dependsOn": [],
            "inputs": inputs,
        }

    resources = [
        {"urn": gw_urn, "type": GATEWAY_TYPE[cloud], "name": "llm-gateway", "parent": None, "id": "gw", "dependsOn": [], "inputs": {}},
        alarm(
            "llm-gateway-alarm-5xx",
            actions(cloud, CHANNEL[cloud], metric_alert=True),
            type_=ALARM_TYPE[cloud].replace("ScheduledQueryRule", "MetricAlert"),
        ),
    ]
    for kind in ALARM_KINDS:
        name = alarm_resource_name("llm-gateway", kind, "chat")
        if kind not in skip:
            resources.append(alarm(name, actions(cloud, None if kind in silent else CHANNEL[cloud])))
    return PlanView(stack="s", settings=copy.deepcopy(HYBRID_SETTINGS), resources=resources)


def found(view: PlanView) -> list[str]:
    return [f"{v.resource}: {v.why}" for v in fallback_alarms.hybrid_routes_have_fallback_alarms(view)]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_both_alarms_notifying_the_channel_pass(cloud: str) -> None:
    assert found(plan(cloud)) == []


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
@pytest.mark.parametrize("kind", ALARM_KINDS)
def test_a_missing_alarm_is_named_on_the_gateway(cloud: str, kind: str) -> None:
    [why] = found(plan(cloud, skip=(kind,)))
    assert why.startswith(f"llm-gateway: hybrid group chat: no alarm llm-gateway-{kind}-chat (")


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_an_alarm_that_notifies_nobody_is_refused(cloud: str) -> None:
    [why] = found(plan(cloud, silent=(ALARM_SELF_HOSTED_SILENT,)))
    assert (
        why
        == f"llm-gateway-self-hosted-silent-chat: hybrid group chat: the alarm does not notify {CHANNEL[cloud]}, which the gateway's other alarms notify"
    )


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_alarms_of_a_gateway_that_notifies_nobody_are_a_warning(cloud: str) -> None:
    view = plan(cloud, silent=ALARM_KINDS)
    for r in view.resources:
        r["inputs"].update(actions(cloud, None, metric_alert=r["name"] == "llm-gateway-alarm-5xx"))
    found = list(fallback_alarms.hybrid_routes_have_fallback_alarms(view))
    assert [(v.resource, v.severity) for v in found] == [(alarm_resource_name("llm-gateway", k, "chat"), "warning") for k in ALARM_KINDS]
    assert "notifies nobody" in found[0].why


def test_an_alarm_of_another_clouds_type_does_not_count() -> None:
    view = plan("aws")
    for r in view.resources:
        if r["name"] == "llm-gateway-fallback-share-chat":
            r["type"] = "gcp:monitoring/alertPolicy:AlertPolicy"
    assert [w.split(":")[0] for w in found(view)] == ["llm-gateway"]


def test_an_alarm_of_another_component_does_not_count() -> None:
    view = plan("gcp")
    view.resources[-1]["parent"] = "urn:pulumi:s::p::pulumi-llm:index:GcpGpuVm::other"
    assert len(found(view)) == 1


def test_a_stack_with_no_hybrid_group_needs_no_alarm() -> None:
    view = plan("azure", skip=ALARM_KINDS)
    view.settings["gateway"]["models"]["chat"]["fallbacks"] = []
    assert found(view) == []


def test_a_fallback_through_a_self_hosted_group_to_a_provider_is_hybrid() -> None:
    view = plan("aws", skip=ALARM_KINDS)
    models = view.settings["gateway"]["models"]
    models["chat"]["fallbacks"] = ["embed"]
    models["embed"]["fallbacks"] = ["provider-small"]
    assert sorted(w.split(": ")[1] for w in found(view)) == [
        "hybrid group chat",
        "hybrid group chat",
        "hybrid group embed",
        "hybrid group embed",
    ]


def test_the_alarm_actions_each_cloud_spells() -> None:
    assert fallback_alarms.alarm_actions({"inputs": {"alarmActions": ["a"], "okActions": ["b"]}}) == {"a"}
    assert fallback_alarms.alarm_actions({"inputs": {"notificationChannels": ["c", None]}}) == {"c"}
    assert fallback_alarms.alarm_actions({"inputs": {"actions": [{"actionGroupId": "g"}, {"webHookProperties": {}}]}}) == {"g"}
    assert fallback_alarms.alarm_actions({"inputs": {"actions": {"actionGroups": ["h"]}}}) == {"h"}


# --- the real recorded prod plan ------------------------------------------------------------------


def with_fallback_alarms(view: PlanView) -> PlanView:
    """Prod's plan with both alarms of each hybrid group, where they are not rendered yet: copies of the
    gateway's 5xx alarm under the contract's names (so the seeds below test the rule, not the renderer)."""
    template = next(r for r in view.resources if r["name"] == "llm-gateway-alarm-5xx-rate")
    for group in fallback_alarms.hybrid_from_settings(view.settings):
        for kind in ALARM_KINDS:
            name = alarm_resource_name("llm-gateway", kind, group)
            if view.named(name) is None:
                view.resources.append(
                    {
                        **copy.deepcopy(template),
                        "name": name,
                        "id": name,
                        "urn": template["urn"].replace("llm-gateway-alarm-5xx-rate", name),
                    }
                )
    return view


def test_prods_hybrid_groups_are_its_two_self_hosted_groups(recorded):
    assert fallback_alarms.hybrid_from_settings(recorded("prod").settings) == ("chat", "chat-large")


def test_prod_with_its_fallback_alarms_passes(recorded):
    assert [v for v in run_rules(with_fallback_alarms(recorded("prod"))) if v.rule == RULE] == []


def test_seed_prod_without_the_fallback_share_alarm_of_chat_large(recorded):
    view = with_fallback_alarms(recorded("prod"))
    view.resources = [r for r in view.resources if r["name"] != alarm_resource_name("llm-gateway", ALARM_FALLBACK_SHARE, "chat-large")]
    assert fired(view) == {RULE}
    [v] = [v for v in run_rules(view) if v.rule == RULE]
    assert (v.resource, v.why.split(":")[0]) == ("llm-gateway", "hybrid group chat-large")


def test_seed_prod_with_a_silent_alarm_that_notifies_no_topic(recorded):
    view = with_fallback_alarms(recorded("prod"))
    silent = view.named(alarm_resource_name("llm-gateway", ALARM_SELF_HOSTED_SILENT, "chat"))
    assert silent is not None
    silent["inputs"]["alarmActions"] = []
    assert fired(view) == {RULE}
    [v] = [v for v in run_rules(view) if v.rule == RULE]
    assert "arn:aws:sns:us-east-1:123456789012:llm-alarms-topic" in v.why


@pytest.mark.parametrize("stack", ["prod", "gcp-prod", "azure-prod"])
def test_the_shipped_hybrid_stacks_render_their_fallback_alarms(recorded, stack):
    assert [f"{v.resource}: {v.why}" for v in run_rules(recorded(stack)) if v.rule == RULE and v.severity == "error"] == []
