"""AwsMonitoring: an encrypted alarm topic, the stack's CloudWatch alarms, and one dashboard.

The alarms come as pure definitions (`cloudwatch.py`: ALB, GPU Auto Scaling group, ECS service, API
Gateway); this component only wires them to resources. Every alarm notifies the topic on ALARM and on
OK, so an incident also reports its end.

The topic is encrypted with the customer key from args. CloudWatch can publish to an encrypted topic
only if the key policy lets `cloudwatch.amazonaws.com` use the key (`alarm_key_policy_statement()`
renders that statement; adding it is the caller's job). Without a key the topic falls back to the AWS
managed `alias/aws/sns` key, whose policy cannot grant that: the topic is still encrypted, but alarm
notifications are not delivered. A warning says so.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..deprecated import warn_renamed
from ..labels import CommonLabels, aws_tags
from ..naming import child
from ..validation import EMAIL as _EMAIL
from ..validation import KMS_KEY_OR_ALIAS_ARN as _KMS_KEY
from .cloudwatch import check_alarms, dashboard_body

AWS_MANAGED_SNS_KEY = "alias/aws/sns"

_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def email_subscriptions(emails: tuple[str, ...]) -> dict[str, str]:
    """Child role → address of each e-mail subscription (pure). The first keeps the role `email` it had when
    the args took one address, so upgrading replaces no subscription (each replacement mails a new
    confirmation link); the others are `email-2`, `email-3`, … in the order given."""
    return {("email" if i == 1 else f"email-{i}"): email for i, email in enumerate(emails, start=1)}


class AwsMonitoringArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    region: str = Field(description="The region the provider deploys to; dashboard widgets name it.")
    key_arn: str | pulumi.Output[str] | None = Field(
        default=None,
        description=(
            "ARN of the customer KMS key that encrypts the topic; its policy must allow cloudwatch.amazonaws.com "
            "(see alarm_key_policy_statement). Default: none → AWS managed alias/aws/sns, which alarms cannot publish to."
        ),
    )
    alert_emails: tuple[str, ...] = Field(
        default=(), description="Addresses subscribed to the topic (AWS mails each a confirmation link first). Default: none."
    )
    alarms: tuple[dict[str, Any], ...] = Field(
        default=(), description="Alarm definitions from monitoring.cloudwatch (keys unique). Default: none."
    )
    dashboard_name: str | None = Field(
        default=None, description="Name of the CloudWatch dashboard ([A-Za-z0-9_-]). Default: pulumi-llm-<stack>-<component name>."
    )
    panels: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="Dashboard graphs without an alarm, after the alarms' ({title, metrics} in CloudWatch's metric-row form, "
        "e.g. gpu_vm.aws_boot.router_panels). Default: none.",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_fields(cls, data: Any) -> Any:
        # alarm_email (one address, before 0.2.0) is the first of alert_emails, as on Azure.
        if not isinstance(data, dict):
            return data
        fields = cast(dict[str, Any], data)
        if "alarm_email" not in fields:
            return fields
        warn_renamed("AwsMonitoringArgs.alarm_email", "AwsMonitoringArgs.alert_emails", stacklevel=4)
        if "alert_emails" in fields:
            raise ValueError("AwsMonitoringArgs: give alert_emails only (alarm_email is its deprecated name)")
        old = fields["alarm_email"]
        return {**{k: v for k, v in fields.items() if k != "alarm_email"}, "alert_emails": () if old is None else (old,)}

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for email in value:
            if not _EMAIL.match(email):
                raise ValueError(f"{email!r} is not an e-mail address")
        if len(set(value)) != len(value):
            raise ValueError(f"repeats an address: {list(value)}")
        return value

    @field_validator("key_arn")
    @classmethod
    def _key(cls, value: str | pulumi.Output[str] | None) -> str | pulumi.Output[str] | None:
        if isinstance(value, str) and not _KMS_KEY.match(value):
            raise ValueError(f"{value!r} is not a KMS key ARN; e.g. arn:aws:kms:us-east-1:123456789012:key/<id>")
        return value

    @field_validator("alarms")
    @classmethod
    def _alarms(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        check_alarms(value)
        return value

    @field_validator("dashboard_name")
    @classmethod
    def _dashboard(cls, value: str | None) -> str | None:
        if value is not None and not _DASHBOARD_NAME.match(value):
            raise ValueError(f"{value!r} is not a dashboard name; allowed: 1-255 of A-Z a-z 0-9 _ -")
        return value


class AwsMonitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    alarm_arns: dict[str, pulumi.Output[str]]
    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: AwsMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AwsMonitoring", name, None, opts)
        tags = aws_tags(args.labels)
        here = pulumi.ResourceOptions(parent=self)

        if args.key_arn is None:
            pulumi.log.warn(
                f"{name}: no KMS key given; the alarm topic uses {AWS_MANAGED_SNS_KEY}, which CloudWatch alarms "
                "cannot publish to. Pass a customer key whose policy allows cloudwatch.amazonaws.com.",
                resource=self,
            )
        topic = aws.sns.Topic(
            child(name, "topic"),
            kms_master_key_id=args.key_arn if args.key_arn is not None else AWS_MANAGED_SNS_KEY,
            tags=tags,
            opts=here,
        )
        aws.sns.TopicPolicy(child(name, "topic-policy"), arn=topic.arn, policy=topic.arn.apply(alarm_topic_policy), opts=here)
        for role, email in email_subscriptions(args.alert_emails).items():
            aws.sns.TopicSubscription(child(name, role), topic=topic.arn, protocol="email", endpoint=email, opts=here)

        self.alarm_arns = {}
        for alarm in args.alarms:
            settings = {k: v for k, v in alarm.items() if k not in ("key", "title")}
            created = aws.cloudwatch.MetricAlarm(
                child(name, f"alarm-{alarm['key']}"),
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                tags=tags,
                opts=here,
                **settings,
            )
            self.alarm_arns[alarm["key"]] = created.arn

        definitions = list(args.alarms)
        title = f"pulumi-llm {args.labels.stack}: {name}"
        body = pulumi.Output.all(pulumi.Output.from_input(definitions), *self.alarm_arns.values()).apply(
            lambda resolved: dashboard_body(resolved[0], region=args.region, title=title, alarm_arns=resolved[1:], panels=args.panels)
        )
        dashboard = aws.cloudwatch.Dashboard(
            child(name, "dashboard"),
            dashboard_name=args.dashboard_name or default_dashboard_name(args.labels.stack, name),
            dashboard_body=body,
            opts=here,
        )

        self.topic_arn = topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name, "alarm_arns": self.alarm_arns})


def default_dashboard_name(stack: str, name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"pulumi-llm-{stack}-{name}")[:255]


def alarm_topic_policy(topic_arn: str) -> str:
    """Topic policy: CloudWatch alarms of this account (and only alarms) may publish."""
    _, partition, _, region, account, _ = topic_arn.split(":", 5)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudWatchAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    # Confused-deputy guard: alarms of another account cannot use this topic.
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"},
                    },
                }
            ],
        },
        sort_keys=True,
    )


def alarm_key_policy_statement(account_id: str) -> dict[str, Any]:
    """The key-policy statement a topic's customer key needs before CloudWatch can publish to the topic."""
    return {
        "Sid": "AllowCloudWatchAlarmsToUseTheKey",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }
