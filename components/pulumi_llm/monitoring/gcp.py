"""The GCP stack's alert channel: one Cloud Monitoring e-mail notification channel per address of
``gcp.alert_emails``, made once per stack and handed to every component that makes alert policies (the
gateway's, the GPU VMs'), as AWS's alarm topic and Azure's action group are.

An alert policy notifies the channels named in its ``notification_channels``: each element is a channel's
REST name, ``projects/<project>/notificationChannels/<id>`` (pulumi_gcp 10.2.0,
``monitoring/alert_policy.py``, ``notification_channels``). A channel's Pulumi id is that name (pulumi_gcp
10.2.0, ``monitoring/notification_channel.py``, "Import": the id is ``{{name}}``), so the policies take the
channels' ids. An ``email`` channel's one label is ``email_address`` (same file, "Notification Channel
Basic" example).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from ..labels import CommonLabels, gcp_labels
from ..naming import child

CHANNEL_TYPE = "email"
"""The notification channel type of an e-mail receiver (Cloud Monitoring's channel descriptor ``email``)."""

EMAIL_LABEL = "email_address"
"""The label an ``email`` channel reads its address from."""


def decide_email_channels(emails: Sequence[str]) -> dict[str, str]:
    """Child role → address of each channel (pure): ``email-1``, ``email-2``, … in the order given, so
    appending an address adds a channel and replaces none. The addresses are validated by the settings
    (validation.Email, no repeats)."""
    return {f"email-{i}": email for i, email in enumerate(emails, start=1)}


def alert_channels(
    name: str,
    *,
    project: str,
    labels: CommonLabels,
    emails: Sequence[str],
    opts: pulumi.ResourceOptions | None = None,
) -> tuple[pulumi.Output[str], ...]:
    """Make the stack's e-mail notification channels and return their ids (the names alert policies take),
    in the order of `emails`. No address, no channel: the caller's alert policies then notify nobody.

    name: the prefix of the channels' Pulumi names (``<name>-email-<n>``); project: the GCP project;
    labels: the stack's common labels (the channels' user labels); emails: the receivers' addresses;
    opts: the resource options of every channel (parent, provider)."""
    return tuple(
        gcp.monitoring.NotificationChannel(
            child(name, role),
            project=project,
            type=CHANNEL_TYPE,
            display_name=f"pulumi-llm {labels.stack}: {email}",
            description=f"Alerts of the pulumi-llm stack {labels.stack} (gcp.alert_emails).",
            labels={EMAIL_LABEL: email},
            user_labels=gcp_labels(labels),
            opts=opts,
        ).id
        for role, email in decide_email_channels(emails).items()
    )


__all__ = ["CHANNEL_TYPE", "EMAIL_LABEL", "alert_channels", "decide_email_channels"]
