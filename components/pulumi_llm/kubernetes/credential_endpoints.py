"""Node-local addresses pods fetch their cloud credentials from, as NetworkPolicy egress.

A pod bound to a cloud identity asks an agent on its node for credentials over plain HTTP at a
link-local address. Under an enforcing CNI (vpc-cni with network policy, GKE Dataplane V2) the
namespace's default deny drops that request unless the pod's policy lets it out: no credentials, no
object-store read. AKS workload identity needs nothing here: the pod exchanges its projected token
with Microsoft Entra over HTTPS (443), which the object-store egress already allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..as_given import as_given


@as_given
@dataclass(frozen=True)
class CredentialEndpoint:
    """One address (a /32 or /128) and TCP port a pod's credential requests go to."""

    cidr: str
    port: int


EKS_POD_IDENTITY_AGENT = (CredentialEndpoint("169.254.170.23/32", 80), CredentialEndpoint("fd00:ec2::23/128", 80))
"""The EKS Pod Identity Agent (AWS_CONTAINER_CREDENTIALS_FULL_URI http://169.254.170.23/v1/credentials;
fd00:ec2::23 on IPv6), per the EKS user guide's "How EKS Pod Identity works" and "Set up the Agent"."""

GKE_METADATA_SERVER = (CredentialEndpoint("169.254.169.254/32", 80), CredentialEndpoint("169.254.169.252/32", 988))
"""The GKE metadata server under Workload Identity: reached at 169.254.169.254:80 on Dataplane V2, at
169.254.169.252:988 (where it listens behind the redirect) on the legacy dataplane; both, so the
policy holds on either."""


def egress_rules(endpoints: Sequence[CredentialEndpoint]) -> list[dict[str, Any]]:
    """One NetworkPolicy egress rule per endpoint: that address, that port, nothing else."""
    return [{"to": [{"ipBlock": {"cidr": e.cidr}}], "ports": [{"port": e.port, "protocol": "TCP"}]} for e in endpoints]
