"""Every rule family, one import line each (the registry's only list)."""

from types import ModuleType

from . import (
    admission,
    alert_channels,
    boundary,
    ci_reachability,
    fallback_alarms,
    iam_documents,
    identity_aws,
    identity_azure,
    identity_gcp,
    network_aws,
    network_azure,
    network_gcp,
    network_kubernetes,
    observability,
    provider_models,
    references,
    router,
    versions,
    wiring,
)

FAMILIES: tuple[ModuleType, ...] = (
    admission,
    alert_channels,
    boundary,
    ci_reachability,
    fallback_alarms,
    iam_documents,
    identity_aws,
    identity_azure,
    identity_gcp,
    network_aws,
    network_azure,
    network_gcp,
    network_kubernetes,
    observability,
    provider_models,
    references,
    router,
    versions,
    wiring,
)
"""The family modules, each of which registered its rules when imported above."""
