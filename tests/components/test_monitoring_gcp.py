"""The GCP stack's alert channel under the recording mock runtime: one e-mail notification channel per address of
gcp.alert_emails, made once, and every alert policy of the stack (gateway, fallback alarms, GPU VMs) naming all of
them."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import of_type, run, shipped_stack
from pulumi_llm.monitoring.gcp import CHANNEL_TYPE, EMAIL_LABEL, decide_email_channels
from pulumi_llm.offline.recorder import Record
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs
from pulumi_llm.settings import load

CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
PLATFORM = "pulumi-llm:index:LlmPlatform"


def plan(stack: str, emails: list[str] | None = None) -> list[Record]:
    """The shipped stack, with `emails` as its gcp.alert_emails when given ([] removes them)."""
    config: dict[str, Any] = shipped_stack(stack)["config"]
    if emails is not None:
        config["pulumi-llm:gcp"]["alert_emails"] = emails
    settings = load(config, f"stacks/Pulumi.{stack}.yaml")
    return run(lambda: LlmPlatform("llm", LlmPlatformArgs(settings=settings, stack=stack)), region="us-central1", stack=stack)


def test_each_address_is_a_channel_in_the_order_given() -> None:
    assert decide_email_channels(["oncall@example.com", "llm@example.com"]) == {
        "email-1": "oncall@example.com",
        "email-2": "llm@example.com",
    }
    assert decide_email_channels([]) == {}


def test_every_alert_policy_of_gcp_prods_plan_names_its_channel() -> None:
    records = plan("gcp-prod")
    [channel] = of_type(records, CHANNEL)
    [platform] = of_type(records, PLATFORM)
    assert (channel.name, channel.parent) == ("llm-alerts-email-1", platform.urn)
    assert (channel.inputs["type"], channel.inputs["labels"], channel.inputs["project"]) == (
        CHANNEL_TYPE,
        {EMAIL_LABEL: "llm-oncall@example.com"},
        "acme-llm-prod",
    )
    policies = {p.name: p.inputs.get("notificationChannels") for p in of_type(records, POLICY)}
    # The gateway's three alerts and the hybrid group chat's two fallback alarms.
    assert policies == {
        name: [channel.id]
        for name in (
            "llm-gateway-alert-5xx-ratio",
            "llm-gateway-alert-instances",
            "llm-gateway-alert-latency-p99",
            "llm-gateway-fallback-share-chat",
            "llm-gateway-self-hosted-silent-chat",
        )
    }


def test_the_gpu_vms_alert_policies_name_the_channels_too() -> None:
    records = plan("gcp-dev", ["llm-dev@example.com", "sre@example.com"])
    channels = of_type(records, CHANNEL)
    assert [(c.name, c.inputs["labels"][EMAIL_LABEL]) for c in channels] == [
        ("llm-alerts-email-1", "llm-dev@example.com"),
        ("llm-alerts-email-2", "sre@example.com"),
    ]
    policies = of_type(records, POLICY)
    assert sum(p.name.startswith("llm-vm-") for p in policies) == 6  # server-down, 5xx, latency-p99, queue, gpu-idle, router-no-workers
    assert {p.name: p.inputs["notificationChannels"] for p in policies} == {p.name: [c.id for c in channels] for p in policies}


@pytest.mark.parametrize("stack", ["gcp-prod", "gcp-dev"])
def test_without_addresses_no_channel_is_made_and_the_policies_notify_nobody(stack: str) -> None:
    records = plan(stack, [])
    assert of_type(records, CHANNEL) == []
    assert all(not p.inputs.get("notificationChannels") for p in of_type(records, POLICY))
