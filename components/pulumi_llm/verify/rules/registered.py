"""Every rule family, one import line each (the registry's only list)."""

# ruff: noqa: F401
from . import (
    admission,
    ci_reachability,
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
    versions,
    wiring,
)
