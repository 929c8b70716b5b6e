"""Every rule family, by module name (the registry's only list); `load_families` imports them.

Most families judge every plan. Those in BY_CLOUD judge one cloud's plans only: each of their rules returns
nothing unless the plan's cloud is theirs (its first line checks `view.cloud`; iam_documents also judges the
`aws:` resources of a plan of another cloud), so `run_rules` leaves them unimported for a plan of another
cloud (`decide_families`): ~6 ms of CPU of an on-prem plan of ~0.8 s (bench/README.md).
tests/verify/test_catalog.py holds each of them to returning nothing on the other clouds' recorded plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FAMILIES: tuple[str, ...] = (
    "admission",
    "alert_channels",
    "boundary",
    "ci_reachability",
    "fallback_alarms",
    "iam_documents",
    "identity_aws",
    "identity_azure",
    "identity_gcp",
    "network_aws",
    "network_azure",
    "network_gcp",
    "network_kubernetes",
    "observability",
    "provider_models",
    "references",
    "router",
    "versions",
    "wiring",
)
"""The family modules of this package; each registers its rules when imported."""

BY_CLOUD: Mapping[str, tuple[str, ...]] = {
    "aws": ("iam_documents", "identity_aws", "network_aws"),
    "azure": ("identity_azure", "network_azure"),
    "gcp": ("identity_gcp", "network_gcp"),
}
"""Cloud → the families that find nothing in a plan of another cloud."""

AWS_DOCUMENTS = ("iam_documents", "aws:")
"""The family that judges a resource type prefix in a plan of any cloud, and that prefix (every IAM document
of `aws:` resources, wherever the stack runs)."""


def decide_families(cloud: str, resource_types: Iterable[str]) -> tuple[str, ...]:
    """The families that can find something in a plan of `cloud` whose resources have `resource_types`."""
    skipped = {name for owner, names in BY_CLOUD.items() if owner != cloud for name in names}
    family, prefix = AWS_DOCUMENTS
    if family in skipped and any(type_.startswith(prefix) for type_ in resource_types):
        skipped.discard(family)
    return tuple(name for name in FAMILIES if name not in skipped)
