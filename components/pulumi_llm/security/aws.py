"""AwsStackKey: the customer-managed KMS key of an AWS stack (logs, volumes, alarms, EKS secrets).

A key policy, not IAM alone, decides who may use a KMS key. Besides the account (so IAM policies can
grant it), the services that encrypt on the stack's behalf get exactly the use they need: CloudWatch
Logs for log groups of this account, CloudWatch alarms to publish to the encrypted SNS topic, and the
Auto Scaling service-linked role to attach encrypted EBS volumes to the instances it launches.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from ..deprecated import module_aliases
from ..labels import CommonLabels, aws_tags
from ..naming import child

ENCRYPT = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def key_policy(account_id: str, region: str, partition: str = "aws") -> str:
    """The key policy of a stack key (pure; tested)."""
    root = f"arn:{partition}:iam::{account_id}:root"
    autoscaling_role = f"arn:{partition}:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    statements = [
        {"Sid": "AccountAdministersThroughIam", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "CloudWatchLogsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [a for a in ENCRYPT if a != "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account_id}:*"}},
        },
        # DescribeKey carries no encryption context, so under the condition above it would never match
        # (AWS's own CloudWatchLogsAPIKeyAccess policy grants it in a statement of its own, too).
        {
            "Sid": "CloudWatchLogsDescribesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "AutoScalingAttachesEncryptedVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling_role},
            "Action": ENCRYPT,
            "Resource": "*",
        },
        {
            "Sid": "AutoScalingGrantsForVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling_role},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


class AwsStackKeyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    region: str = Field(description="The stack's region (the logs service principal is regional).")


class AwsStackKey(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    account_id: pulumi.Output[str]

    def __init__(self, name: str, args: AwsStackKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:StackKey", name, None, opts)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self))
        key = aws.kms.Key(
            child(name, "key"),
            description=f"pulumi-llm stack key of {args.labels.stack}: logs, volumes, alarms, EKS secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(identity.account_id, partition.partition).apply(lambda v: key_policy(v[0], args.region, v[1])),
            tags=aws_tags(args.labels),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.kms.Alias(
            child(name, "alias"),
            name=f"alias/pulumi-llm/{args.labels.stack}/stack",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = key.arn
        self.key_id = key.key_id
        self.account_id = identity.account_id
        self.register_outputs({"arn": self.arn, "key_id": self.key_id})


class AwsHubTokenSecretArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    key_arn: str | pulumi.Output[str] = Field(description="The stack key that encrypts the secret.")


class AwsHubTokenSecret(pulumi.ComponentResource):
    """The Secrets Manager container of the Hugging Face token the copy Jobs use. No value: the operator
    writes it with `pulumi-llm secrets put huggingface --stack STACK` (stdin → Secrets Manager)."""

    arn: pulumi.Output[str]
    secret_name: str

    def __init__(self, name: str, args: AwsHubTokenSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:HubTokenSecret", name, None, opts)
        self.secret_name = f"pulumi-llm/{args.labels.stack}/huggingface"
        secret = aws.secretsmanager.Secret(
            child(name, "secret"),
            name=self.secret_name,
            description="Hugging Face token of the model copy Jobs (value written out of band)",
            kms_key_id=args.key_arn,
            recovery_window_in_days=7,
            tags=aws_tags(args.labels),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = secret.arn
        self.register_outputs({"arn": self.arn})


# Names before 0.2.0 (docs/ARCHITECTURE.md, "Names"): served with a DeprecationWarning until 0.3.0.
__getattr__ = module_aliases(
    __name__,
    globals(),
    {
        "StackKey": "AwsStackKey",
        "StackKeyArgs": "AwsStackKeyArgs",
        "HubTokenSecret": "AwsHubTokenSecret",
        "HubTokenSecretArgs": "AwsHubTokenSecretArgs",
    },
)
