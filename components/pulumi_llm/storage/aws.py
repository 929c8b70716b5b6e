"""AwsModelStore on AWS: the S3 bucket where weights, fine-tuned checkpoints and LoRA adapters live.

Model servers never download from a public hub at start (docs/ARCHITECTURE.md, "Weights"); they read
from here, so the bucket is locked down: a customer-managed KMS key, versioning, no public access, TLS
only.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from ..deprecated import module_aliases
from ..labels import CommonLabels, aws_tags
from ..naming import child


class AwsModelStoreArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    alias: str = Field(description="KMS alias of the bucket key, unique in the account and region.")
    noncurrent_version_days: int = Field(
        default=30, ge=1, description="Days an overwritten object version is kept before it expires. Default 30."
    )


class AwsModelStore(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AwsModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:ModelStore", name, None, opts)
        tags = aws_tags(args.labels)
        here = pulumi.ResourceOptions(parent=self)

        key = aws.kms.Key(
            child(name, "key"),
            description=f"pulumi-llm model store of {args.labels.stack}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=here,
        )
        aws.kms.Alias(child(name, "key-alias"), name=args.alias, target_key_id=key.key_id, opts=here)

        bucket = aws.s3.Bucket(child(name, "bucket"), force_destroy=False, tags=tags, opts=here)
        aws.s3.BucketOwnershipControls(
            child(name, "ownership"),
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},  # ACLs off: IAM alone decides access
            opts=here,
        )
        aws.s3.BucketPublicAccessBlock(
            child(name, "public-access"),
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=here,
        )
        aws.s3.BucketVersioning(child(name, "versioning"), bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=here)
        aws.s3.BucketServerSideEncryptionConfiguration(
            child(name, "encryption"),
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    # Bucket keys cut KMS requests (and cost) by ~99% for many-object checkpoints.
                    "bucket_key_enabled": True,
                }
            ],
            opts=here,
        )
        aws.s3.BucketLifecycleConfiguration(
            child(name, "lifecycle"),
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=here,
        )
        aws.s3.BucketPolicy(
            child(name, "tls-only"),
            bucket=bucket.id,
            policy=bucket.arn.apply(tls_only_policy),
            opts=here,
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "key_arn": self.key_arn})


def tls_only_policy(bucket_arn: str) -> str:
    """Bucket policy that refuses every request not made over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


def read_policy(bucket_arn: pulumi.Input[str], key_prefix: str, key_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """IAM policy that reads one model's prefix of the store (and decrypts it), nothing else."""

    def render(values: list[str]) -> str:
        bucket, key = values
        prefix = key_prefix.strip("/")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "ReadModel", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket}/{prefix}/*"]},
                    {
                        "Sid": "ListModel",
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": [bucket],
                        "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
                    },
                    {"Sid": "DecryptModel", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key]},
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(bucket_arn, key_arn).apply(render)


def write_policy(
    bucket_arn: pulumi.Input[str],
    key_prefix: str,
    bucket_key_arn: pulumi.Input[str],
    token_secret_arn: pulumi.Input[str],
    token_key_arn: pulumi.Input[str],
) -> pulumi.Output[str]:
    """IAM policy of a copy Job: write one model's prefix, read the hub token, nothing else."""

    def render(values: list[str]) -> str:
        bucket, bucket_key, secret, secret_key = values
        prefix = key_prefix.strip("/")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "WriteModel",
                        "Effect": "Allow",
                        "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                        "Resource": [f"{bucket}/{prefix}/*"],
                    },
                    {
                        "Sid": "ListModel",
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": [bucket],
                        "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
                    },
                    {
                        "Sid": "EncryptModel",
                        "Effect": "Allow",
                        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                        "Resource": [bucket_key],
                    },
                    {"Sid": "ReadHubToken", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [secret]},
                    {"Sid": "DecryptHubToken", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [secret_key]},
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(bucket_arn, bucket_key_arn, token_secret_arn, token_key_arn).apply(render)


# Names before 0.2.0 (docs/ARCHITECTURE.md, "Names"): served with a DeprecationWarning until 0.3.0.
__getattr__ = module_aliases(
    __name__,
    globals(),
    {
        "ModelStore": "AwsModelStore",
        "ModelStoreArgs": "AwsModelStoreArgs",
    },
)
