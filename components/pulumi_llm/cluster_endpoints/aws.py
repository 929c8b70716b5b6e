"""EKS: the stack's aws.cluster.endpoint_public and public_access_cidrs, read as EKS reads its vpcConfig."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..verify.facts import control_plane_access as access

API_SERVER = "the EKS API server"


def exposure(cluster: Mapping[str, Any]) -> tuple[bool, tuple[str, ...] | None]:
    return access.eks_endpoint({"endpointPublicAccess": cluster["endpoint_public"], "publicAccessCidrs": cluster["public_access_cidrs"]})
