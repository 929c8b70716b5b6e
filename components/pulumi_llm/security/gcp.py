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
