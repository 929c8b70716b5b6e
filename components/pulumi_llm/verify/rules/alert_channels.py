"""alerts.gcp-channels: on a GCP stack with an alert channel, every alert policy notifies all of it.

A GCP stack's alert channel is the e-mail notification channels the platform makes from
``gcp.alert_emails`` (``monitoring/gcp.py``), once per stack, for every component that makes alert
policies: the gateway (its own alerts and the hybrid groups' fallback alarms) and the GPU VMs. An alert
policy that names none of them, or only some, fires into the console and tells nobody, while the stack's
other alerts reach the on-call: the one incident nobody hears about. A stack without channels (no
``gcp.alert_emails``) has nothing to compare with and is not this rule's concern
(``gateway.fallback-alarms`` warns about its hybrid groups).

A policy names a channel by its REST name, which is the channel's id (``monitoring/gcp.py`` cites
pulumi_gcp), so the rule compares ``notificationChannels`` with the ids of the plan's channels.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..report import Violation
from ..view import PlanView
from .fallback_alarms import alarm_actions
from .registry import rule, violation

NAME = "alerts.gcp-channels"

ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
NOTIFICATION_CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"


@rule(NAME)
def alert_policies_notify_the_stacks_channels(view: PlanView) -> Iterator[Violation]:
    """On a GCP plan that makes notification channels (gcp.alert_emails), every Cloud Monitoring alert policy names every one of them in notificationChannels."""
    channels = {str(r.get("id") or r["urn"]): r["name"] for r in view.of_type(NOTIFICATION_CHANNEL)}
    if not channels:
        return
    for policy in view.of_type(ALERT_POLICY):
        missing = sorted(name for ref, name in channels.items() if ref not in alarm_actions(policy))
        if missing:
            yield violation(
                view,
                policy["name"],
                NAME,
                f"notifies {'none' if len(missing) == len(channels) else 'not all'} of the stack's alert channels "
                f"(gcp.alert_emails): missing {', '.join(missing)}",
            )
