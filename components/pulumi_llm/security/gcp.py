"""The GCP customer-managed key: a Cloud KMS key ring and one symmetric key in a region, rotated every 90
days, with a 30-day delay before a destroyed version is gone.

One home for how a GCP stack's key is made: GcpModelStore makes it for its bucket, and GcpGateway makes
its own when it is given none (a gateway-only stack has no model store). Whoever makes the key also grants
the service agents that encrypt with it (`ENCRYPTER_DECRYPTER` on that one key), because only they know
which agents they use.
"""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_gcp as gcp
import pulumi_gcp.kms as kms

from ..naming import child

ROTATION_PERIOD = "7776000s"
"""90 days, in the seconds format Cloud KMS takes."""
KEY_DESTROY_DELAY = "2592000s"
"""30 days between scheduling a key version's destruction and its destruction (as AWS's window)."""
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
"""The role a service agent needs to encrypt and decrypt with the key (and nothing else)."""

KeyProtection = Literal["SOFTWARE", "HSM"]


def crypto_key(
    name: str,
    *,
    region: str,
    labels: dict[str, str],
    parent: pulumi.Resource,
    protection_level: KeyProtection = "SOFTWARE",
) -> tuple[kms.KeyRing, kms.CryptoKey]:
    """Register `<name>-keyring` and `<name>-key` under `parent`; return both (the key's id is what CMEK
    settings take)."""
    # Key rings cannot be deleted in Cloud KMS: the auto-named ring (random suffix) never collides
    # with one a destroyed stack left behind.
    here = pulumi.ResourceOptions(parent=parent)
    ring = kms.KeyRing(child(name, "keyring"), location=region, opts=here)
    key = kms.CryptoKey(
        child(name, "key"),
        key_ring=ring.id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=ROTATION_PERIOD,
        destroy_scheduled_duration=KEY_DESTROY_DELAY,
        version_template={"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protection_level": protection_level},
        labels=labels,
        opts=here,
    )
    return ring, key


def secret_manager_key_grant(
    name: str,
    *,
    project: str,
    kms_key: pulumi.Input[str],
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
    moved_from: tuple[str, pulumi.Input[str]] | None = None,
) -> kms.CryptoKeyIAMMember:
    """Secret Manager's service agent (made to exist first) may use `kms_key`: what every secret replicated under that
    key needs. Make it once per key (platform/gcp.py): another resource granting the same member the same role on the
    same key would remove the binding for both when destroyed. `moved_from`: (name, URN) of the component that made
    this grant before, as `<name>-secretmanager-agent` and `<name>-key-secretmanager`; they are aliased, so moving
    them here is no change — without the alias Pulumi would create the grant anew, then delete the old one, which
    removes the binding both stand for."""

    def moved(suffix: str) -> pulumi.ResourceOptions:
        aliases = [pulumi.Alias(name=child(moved_from[0], suffix), parent=moved_from[1])] if moved_from else []
        return pulumi.ResourceOptions(parent=parent, provider=provider, aliases=aliases)

    on_gcp = pulumi.InvokeOutputOptions(parent=parent, provider=provider)
    number = gcp.organizations.get_project_output(project_id=project, opts=on_gcp).number
    agent = gcp.projects.ServiceIdentity(
        child(name, "secretmanager-agent"),
        project=project,
        service="secretmanager.googleapis.com",
        opts=moved("secretmanager-agent"),
    )
    return kms.CryptoKeyIAMMember(
        child(name, "key-secretmanager"),
        crypto_key_id=kms_key,
        role=ENCRYPTER_DECRYPTER,
        member=number.apply(lambda n: f"serviceAccount:service-{n}@gcp-sa-secretmanager.iam.gserviceaccount.com"),
        opts=pulumi.ResourceOptions.merge(moved("key-secretmanager"), pulumi.ResourceOptions(depends_on=[agent])),
    )


SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
HUB_TOKEN_SHORT = "huggingface"
"""The token's short name: `pulumi-llm secrets put huggingface --stack STACK` writes its value."""


class GcpHubTokenSecret(pulumi.ComponentResource):
    """The Secret Manager secret of the Hugging Face token GKE copy Jobs read (as AwsHubTokenSecret on AWS). No
    value: the operator writes it with `pulumi-llm secrets put huggingface --stack STACK`. Replicated in the stack's
    region under the model store's key, which Secret Manager's service agent must be allowed to use: `key_grant` is
    that grant, made by its owner (platform/gcp.py, once per stack: the gateway's secrets need the same one, and two
    resources managing one IAM member would each remove it for both when destroyed). `grant` lets one reader (a copy
    Job's Google service account) access this secret only."""

    secret: gcp.secretmanager.Secret
    secret_id: str
    """The GCP-side id (gateway/engine.py `secret_id`: `pulumi-llm-<stack>-huggingface`)."""

    def __init__(
        self,
        name: str,
        *,
        project: str,
        region: str,
        stack: str,
        kms_key: pulumi.Input[str],
        key_grant: pulumi.Resource,
        labels: dict[str, str],
        deletion_protection: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pulumi-llm:index:GcpHubTokenSecret", name, None, opts)
        from ..gateway.engine import secret_id

        self._name, self._project = name, project
        self.secret_id = secret_id(stack, HUB_TOKEN_SHORT)
        self.secret = gcp.secretmanager.Secret(
            child(name, "secret"),
            project=project,
            secret_id=self.secret_id,
            replication={"user_managed": {"replicas": [{"location": region, "customer_managed_encryption": {"kms_key_name": kms_key}}]}},
            deletion_protection=deletion_protection,
            labels={**labels, "pulumi-llm_provider": HUB_TOKEN_SHORT},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key_grant]),
        )
        self.register_outputs({"secret_id": self.secret_id})

    def grant(self, reader: str, member: pulumi.Input[str]) -> gcp.secretmanager.SecretIamMember:
        """`member` (``serviceAccount:<email>``) may read this secret's versions, and nothing else in Secret Manager."""
        return gcp.secretmanager.SecretIamMember(
            child(self._name, f"{reader}-accessor"),
            project=self._project,
            secret_id=self.secret.id,
            role=SECRET_ACCESSOR,
            member=member,
            opts=pulumi.ResourceOptions(parent=self),
        )
