"""AwsModelStore on AWS: encryption with a customer key, no public access, TLS only, versioned."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
from helpers import by_name, children, only, run
from pulumi_llm.labels import CommonLabels
from pulumi_llm.storage.aws import AwsModelStore, AwsModelStoreArgs, tls_only_policy


def program() -> None:
    provider = aws.Provider("aws", region="eu-west-1")
    AwsModelStore(
        "llm-models",
        AwsModelStoreArgs(labels=CommonLabels("prod", "prod"), alias="alias/pulumi-llm/prod/models"),
        opts=pulumi.ResourceOptions(providers=[provider]),
    )


def test_children_are_named_from_the_component_and_use_its_provider() -> None:
    records = run(program, region="eu-west-1")
    store = only(records, "pulumi-llm:index:ModelStore")
    assert children(records, store) == [
        ("aws:kms/alias:Alias", "llm-models-key-alias"),
        ("aws:kms/key:Key", "llm-models-key"),
        ("aws:s3/bucket:Bucket", "llm-models-bucket"),
        ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "llm-models-lifecycle"),
        ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "llm-models-ownership"),
        ("aws:s3/bucketPolicy:BucketPolicy", "llm-models-tls-only"),
        ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "llm-models-public-access"),
        ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "llm-models-encryption"),
        ("aws:s3/bucketVersioning:BucketVersioning", "llm-models-versioning"),
    ]
    provider = only(records, "pulumi:providers:aws")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("aws:"))


def test_bucket_is_encrypted_with_rotating_customer_key_and_locked_down() -> None:
    records = by_name(run(program, region="eu-west-1"))
    key = records["llm-models-key"].inputs
    assert key["enableKeyRotation"] is True and key["deletionWindowInDays"] == 30
    bucket = records["llm-models-bucket"].inputs
    assert bucket["forceDestroy"] is False
    assert bucket["tags"] == {"pulumi-llm:project": "pulumi-llm", "pulumi-llm:stack": "prod", "pulumi-llm:environment": "prod"}
    rule = records["llm-models-encryption"].inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:llm-models-key",
    }
    assert rule["bucketKeyEnabled"] is True
    block = records["llm-models-public-access"].inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert records["llm-models-versioning"].inputs["versioningConfiguration"] == {"status": "Enabled"}
    assert records["llm-models-ownership"].inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    resources = json.loads(records["llm-models-tls-only"].inputs["policy"])["Statement"][0]["Resource"]
    assert resources[0].startswith("arn:aws:s3:::llm-models-bucket-") and resources[1] == resources[0] + "/*"


def test_tls_only_policy_denies_plain_http_on_bucket_and_objects() -> None:
    statement = json.loads(tls_only_policy("arn:aws:s3:::b"))["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*" and statement["Principal"] == "*"
    assert statement["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
