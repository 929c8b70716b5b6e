"""GcpModelStore: CMEK with a rotating key, the storage service agent's grant on that key only, uniform
access, public access prevention, versioning and lifecycle; the prefix-scoped read condition."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest
from helpers import by_name, children, only, run
from pulumi_llm.errors import UserError
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import invokes
from pulumi_llm.storage.gcp import (
    GcpModelStore,
    GcpModelStoreArgs,
    default_bucket_name,
    prefix_condition,
    read_bindings,
)

REGION = "europe-west4"
LABELS = {"pulumi-llm_project": "pulumi-llm", "pulumi-llm_stack": "prod", "pulumi-llm_environment": "prod"}


def plan(**overrides: Any):
    args = GcpModelStoreArgs(**{"labels": CommonLabels("prod", "prod"), "region": REGION, **overrides})
    seen: dict[str, Any] = {}

    def program() -> None:
        provider = gcp.Provider("gcp", project=invokes.GCP_PROJECT, region=REGION)
        store = GcpModelStore("llm-models", args, opts=pulumi.ResourceOptions(providers=[provider]))
        store.bucket_url.apply(lambda v: seen.setdefault("url", v))
        store.key_id.apply(lambda v: seen.setdefault("key", v))

    return run(program, region=REGION), seen


@pytest.fixture(scope="module")
def planned():
    return plan()


@pytest.fixture(scope="module")
def named(planned):
    return by_name(planned[0])


def test_children_are_exactly_these_and_use_the_stack_provider(planned) -> None:
    records, _ = planned
    store = only(records, "pulumi-llm:index:GcpModelStore")
    assert children(records, store) == [
        ("gcp:kms/cryptoKey:CryptoKey", "llm-models-key"),
        ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "llm-models-key-storage-agent"),
        ("gcp:kms/keyRing:KeyRing", "llm-models-keyring"),
        ("gcp:storage/bucket:Bucket", "llm-models-bucket"),
    ]
    provider = only(records, "pulumi:providers:gcp")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("gcp:"))


def test_key_rotates_every_90_days_in_the_buckets_region(named) -> None:
    assert named["llm-models-keyring"].inputs["location"] == REGION
    key = named["llm-models-key"].inputs
    assert key["rotationPeriod"] == "7776000s" == f"{90 * 24 * 3600}s"
    assert key["purpose"] == "ENCRYPT_DECRYPT" and key["destroyScheduledDuration"] == "2592000s"
    assert key["versionTemplate"] == {"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protectionLevel": "SOFTWARE"}
    assert key["keyRing"].startswith("llm-models-keyring-")
    assert key["labels"] == LABELS


def test_only_the_storage_service_agent_may_use_the_key(named) -> None:
    grant = named["llm-models-key-storage-agent"].inputs
    assert grant == {
        "cryptoKeyId": named["llm-models-bucket"].inputs["encryption"]["defaultKmsKeyName"],
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": f"serviceAccount:service-{invokes.GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
    }


def test_bucket_is_cmek_encrypted_private_uniform_and_versioned(named, planned) -> None:
    bucket = named["llm-models-bucket"].inputs
    assert bucket["encryption"]["defaultKmsKeyName"].startswith("llm-models-key-")
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["location"] == "EUROPE-WEST4" and bucket["forceDestroy"] is False
    assert bucket["labels"] == LABELS
    assert bucket["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED"}},
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
    ]
    assert bucket["name"] == "pulumi-llm-plan-prod-llm-models" == default_bucket_name(invokes.GCP_PROJECT, "prod", "llm-models")
    _, seen = planned
    assert seen["url"] == "gs://pulumi-llm-plan-prod-llm-models"
    assert seen["key"] == bucket["encryption"]["defaultKmsKeyName"]


def test_an_explicit_bucket_name_and_hsm_key_are_used() -> None:
    named = by_name(plan(bucket_name="acme-models", key_protection_level="HSM", noncurrent_version_days=7)[0])
    assert named["llm-models-bucket"].inputs["name"] == "acme-models"
    assert named["llm-models-bucket"].inputs["lifecycleRules"][0]["condition"]["daysSinceNoncurrentTime"] == 7
    assert named["llm-models-key"].inputs["versionTemplate"]["protectionLevel"] == "HSM"


def test_read_condition_scopes_objects_and_listings_to_the_prefix() -> None:
    condition = prefix_condition("acme-models", "/llama-3.1-8b/0e9e39f/")
    listed = 'api.getAttribute("storage.googleapis.com/objectListPrefix", "")'
    assert condition["expression"] == (
        'resource.name.startsWith("projects/_/buckets/acme-models/objects/llama-3.1-8b/0e9e39f/")'
        f' || {listed} == "llama-3.1-8b/0e9e39f"'
        f' || {listed}.startsWith("llama-3.1-8b/0e9e39f/")'
    )
    assert condition["title"] == "prefix llama-3.1-8b/0e9e39f"
    [binding] = read_bindings("acme-models", "llama-3.1-8b/0e9e39f", "serviceAccount:vm@p.iam.gserviceaccount.com")
    assert (binding["role"], binding["member"]) == ("roles/storage.objectViewer", "serviceAccount:vm@p.iam.gserviceaccount.com")
    assert binding["condition"] == prefix_condition("acme-models", "llama-3.1-8b/0e9e39f")


@pytest.mark.parametrize("prefix", ['a") || true || ("', "models/*", "", "a//b", "a\\b"])
def test_prefixes_that_could_widen_the_condition_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="give an object prefix like"):
        prefix_condition("acme-models", prefix)


def test_bad_input_fails_with_one_line() -> None:
    with pytest.raises(UserError) as caught:
        GcpModelStoreArgs(labels=CommonLabels("prod", "prod"), region=REGION, bucket_name="my-google-models")
    assert str(caught.value) == (
        "model_store.bucket_name = my-google-models: 3-63 lowercase letters, digits, '-' and '_', starting and ending "
        "with a letter or digit, without 'google'"
    )
    with pytest.raises(UserError, match=r"^model_store\.region = EU: not a GCP region name"):
        GcpModelStoreArgs(labels=CommonLabels("prod", "prod"), region="EU")
