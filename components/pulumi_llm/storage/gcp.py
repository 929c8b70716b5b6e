"""GcpModelStore: the Cloud Storage bucket where weights, fine-tuned checkpoints and LoRA adapters live.

Model servers never download from a public hub at start (docs/ARCHITECTURE.md, "Weights"); they read
from here, so the bucket is locked down like AwsModelStore:

* a customer-managed key (Cloud KMS key ring + key in the bucket's region, rotated every 90 days) is the
  bucket's default key (CMEK). Cloud Storage encrypts with it through its per-project service agent,
  which gets `roles/cloudkms.cryptoKeyEncrypterDecrypter` on that one key and nothing else; the
  bucket waits for that grant, or its creation would fail;
* uniform bucket-level access (IAM only, no ACLs), public access prevention enforced;
* versioning, with overwritten versions expiring after `noncurrent_version_days` and unfinished
  multipart uploads removed after 7 days.

Readers get `roles/storage.objectViewer` on the bucket under an IAM condition that scopes it to one
model's prefix (`read_bindings`); they need no key permission (the service agent decrypts).
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_gcp.kms as kms
import pulumi_gcp.organizations as organizations
import pulumi_gcp.storage as storage
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import UserError
from ..labels import CommonLabels, gcp_labels
from ..naming import child, dns_label
from ..security.gcp import ENCRYPTER_DECRYPTER, KeyProtection, crypto_key
from ..validation import GCP_REGION as _REGION
from ..validation import OBJECT_PREFIX

OBJECT_VIEWER = "roles/storage.objectViewer"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")
# Object-name prefix segments safe inside a CEL string literal; the settings apply the same rule to store:// paths.
_PREFIX = OBJECT_PREFIX


class GcpModelStoreArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: CommonLabels = Field(description="The common labels of the stack; the bucket and key carry them.")
    region: str = Field(description="Location of the bucket and of the key ring, e.g. europe-west4 (the GPU VMs' region).")
    bucket_name: str | None = Field(
        default=None,
        description=(
            "Bucket name (globally unique, 3-63 characters). Default: '<project>-<stack>-<name>', unique because project ids are."
        ),
    )
    noncurrent_version_days: int = Field(default=30, ge=1, description="Days an overwritten object version is kept. Default 30.")
    key_protection_level: KeyProtection = Field(
        default="SOFTWARE", description="Where the key's material lives: SOFTWARE or HSM (Cloud HSM, FIPS 140-2 L3). Default SOFTWARE."
    )
    config_path: str = Field(default="model_store", description="Key path named in error messages. Default 'model_store'.")

    @model_validator(mode="after")
    def _check(self) -> GcpModelStoreArgs:
        where = self.config_path
        if not _REGION.match(self.region):
            raise UserError(f"{where}.region = {self.region}: not a GCP region name such as us-central1 or europe-west4")
        if self.bucket_name is not None and (not _BUCKET.match(self.bucket_name) or "google" in self.bucket_name):
            raise UserError(
                f"{where}.bucket_name = {self.bucket_name}: 3-63 lowercase letters, digits, '-' and '_', starting and "
                "ending with a letter or digit, without 'google'"
            )
        return self


class GcpModelStore(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_url: pulumi.Output[str]
    key_id: pulumi.Output[str]
    key_ring_id: pulumi.Output[str]

    def __init__(self, name: str, args: GcpModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:GcpModelStore", name, None, opts)
        labels = gcp_labels(args.labels)
        here = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)

        ring, key = crypto_key(name, region=args.region, labels=labels, parent=self, protection_level=args.key_protection_level)
        agent = storage.get_project_service_account_output(opts=invoke)
        grant = kms.CryptoKeyIAMMember(
            child(name, "key-storage-agent"),
            crypto_key_id=key.id,
            role=ENCRYPTER_DECRYPTER,
            member=agent.email_address.apply(lambda email: f"serviceAccount:{email}"),
            opts=here,
        )

        if args.bucket_name is not None:
            bucket_name: pulumi.Input[str] = args.bucket_name
        else:
            project = organizations.get_client_config_output(opts=invoke).project
            bucket_name = project.apply(lambda p: default_bucket_name(p, args.labels.stack, name))
        bucket = storage.Bucket(
            child(name, "bucket"),
            name=bucket_name,
            location=args.region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            encryption={"default_kms_key_name": key.id},
            lifecycle_rules=lifecycle_rules(args.noncurrent_version_days),
            force_destroy=False,
            labels=labels,
            # Cloud Storage checks at creation that its service agent may use the default key.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )

        self.bucket_name = bucket.name
        self.bucket_url = bucket.name.apply(lambda n: f"gs://{n}")
        self.key_id = key.id
        self.key_ring_id = ring.id
        self.register_outputs(
            {"bucket_name": self.bucket_name, "bucket_url": self.bucket_url, "key_id": self.key_id, "key_ring_id": self.key_ring_id}
        )


def default_bucket_name(project: str, stack: str, name: str) -> str:
    """'<project>-<stack>-<name>' as a valid bucket name (project ids are globally unique)."""
    return dns_label(f"{project}-{stack}-{name}".replace("google", "gcp"), 63)


def lifecycle_rules(noncurrent_days: int) -> list[storage.BucketLifecycleRuleArgsDict]:
    """Expire overwritten versions after `noncurrent_days`; clear unfinished multipart uploads after 7."""
    return [
        {"action": {"type": "Delete"}, "condition": {"days_since_noncurrent_time": noncurrent_days, "with_state": "ARCHIVED"}},
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
    ]


def check_prefix(prefix: str) -> str:
    """The prefix without surrounding slashes; ValueError when it could widen or break the condition."""
    clean = prefix.strip("/")
    if not _PREFIX.match(clean):
        raise ValueError(
            f"{prefix!r}: give an object prefix like 'llama-3.1-8b/0e9e39f' (letters, digits, !_.()'-, "
            "segments separated by '/'; no quotes, backslashes or wildcards)"
        )
    return clean


def prefix_condition(bucket: str, prefix: str) -> dict[str, str]:
    """IAM condition that limits a Cloud Storage role to the objects below `prefix/` of `bucket`.

    Reads are checked against the object (`resource.name`); listings against the bucket, so the
    listed prefix (`storage.googleapis.com/objectListPrefix`) must be the prefix itself or below it,
    or `gcloud storage rsync` could not enumerate what it copies.
    """
    clean = check_prefix(prefix)
    listed = 'api.getAttribute("storage.googleapis.com/objectListPrefix", "")'
    expression = (
        f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{clean}/")'
        f' || {listed} == "{clean}"'
        f' || {listed}.startsWith("{clean}/")'
    )
    return {
        "title": f"prefix {clean}"[:100],
        "description": f"Objects below gs://{bucket}/{clean}/ only",
        "expression": expression,
    }


def read_bindings(bucket: str, prefix: str, member: str) -> list[dict[str, Any]]:
    """The bucket IAM bindings that let `member` read (get and list) one model's prefix, nothing else."""
    return [{"role": OBJECT_VIEWER, "member": member, "condition": prefix_condition(bucket, prefix)}]
