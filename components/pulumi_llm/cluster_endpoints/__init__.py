"""The Kubernetes API server of a cloud's cluster, as the stack's settings configure it: one module per cloud.

Each module exports `API_SERVER` (how a message names it) and `exposure(cluster)` — (public, allowed CIDRs
or None for every address) from the stack's `<cloud>.cluster` settings, dumped to JSON as PlanView.settings
holds them. ci_runner.kubernetes_endpoint reads the stack's cloud here. Explicit import lines, so
tests/unit/test_import_graph.py sees the edges; tests/unit/test_clouds.py keeps the registry equal to clouds.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import aws, azure, gcp


@dataclass(frozen=True)
class ClusterApi:
    """How one cloud's cluster API server is named and exposed."""

    api_server: str
    """How a message names it: "the EKS API server"."""
    exposure: Callable[[Mapping[str, Any]], tuple[bool, tuple[str, ...] | None]]
    """(public, allowed CIDRs or None for every address) from the stack's `<cloud>.cluster` settings."""


BY_CLOUD: dict[str, ClusterApi] = {
    "aws": ClusterApi(aws.API_SERVER, aws.exposure),
    "gcp": ClusterApi(gcp.API_SERVER, gcp.exposure),
    "azure": ClusterApi(azure.API_SERVER, azure.exposure),
}
