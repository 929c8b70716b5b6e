"""GKE: the platform builds the cluster with the component's endpoint defaults (no stack setting changes them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_SERVER = "the GKE API server"


def exposure(cluster: Mapping[str, Any]) -> tuple[bool, tuple[str, ...] | None]:
    del cluster  # no gcp.cluster key changes the endpoint
    # Imported here: cluster.gke imports pulumi_gcp, which only a GCP stack loads.
    from ..cluster.gke import GkeClusterArgs

    fields = GkeClusterArgs.model_fields
    private_endpoint = bool(fields["private_endpoint"].default)
    allowed = tuple(fields["master_authorized_networks"].default_factory().values())  # type: ignore[misc]
    return not private_endpoint, allowed
