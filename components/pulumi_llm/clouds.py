"""Every public cloud pulumi-llm deploys to, by name: the one list of clouds.

Pure data with no imports of the package, so settings, sizing and the platform all read it. Settings'
`cloud` values and the clouds each method runs on (`settings/core.py`), the platform's cloud targets
(`platform/<name>.py`, imported when a stack picks the cloud) and the SDK a stack may import
(tests/stacks/test_imports.py) follow from it; sizing's catalog is kept equal to it by a test. What a cloud needs beyond its line
here is listed in docs/ARCHITECTURE.md, "Adding a cloud".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CloudInfo:
    name: str
    """The `pulumi-llm:cloud` value, and the name of the cloud's modules (platform/<name>.py, settings/<name>.py)."""
    sdk: str
    """The Pulumi provider package the cloud's stacks import (and no other cloud's stack does)."""
    store_scheme: str | None = None
    """The URI scheme a cluster's model server streams the stack's model store with (`<scheme>://<bucket>/<key>`);
    None where clusters never stream it (settings/checks_sources.py allows no store:// source there)."""
    self_hosted_key_secret: bool = False
    """Its GPU VMs require an API key the gateway reads from the stack's secret store (platform/<name>.py), so
    `pulumi-llm secrets` expects that secret too (gateway.expected_secrets)."""
    consumer_keys: bool = False
    """Its gateway's front checks each consumer's key itself (front_contract.IDENTITY_KEYS): one secret per consumer
    (`consumer-<name>`), and no master key secret, since no edge holds one (gateway.expected_secrets)."""


CLOUDS: tuple[CloudInfo, ...] = (
    CloudInfo("aws", sdk="pulumi_aws", store_scheme="s3", self_hosted_key_secret=True),
    CloudInfo("gcp", sdk="pulumi_gcp", store_scheme="gs", consumer_keys=True),
    CloudInfo("azure", sdk="pulumi_azure_native"),
)
"""In this order everywhere (stacks/schema.json's enum, the platform's targets)."""

NAMES: tuple[str, ...] = tuple(cloud.name for cloud in CLOUDS)


def info(name: str) -> CloudInfo | None:
    """The registered cloud called `name` (None for onprem, which is no public cloud)."""
    return next((cloud for cloud in CLOUDS if cloud.name == name), None)
