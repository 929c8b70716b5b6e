"""AKS: the stack's azure.cluster.private_cluster and authorized_ip_ranges, read as AKS reads its apiServerAccessProfile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..verify.facts import control_plane_access as access

API_SERVER = "the AKS API server"


def exposure(cluster: Mapping[str, Any]) -> tuple[bool, tuple[str, ...] | None]:
    return access.aks_endpoint({"enablePrivateCluster": cluster["private_cluster"], "authorizedIPRanges": cluster["authorized_ip_ranges"]})
