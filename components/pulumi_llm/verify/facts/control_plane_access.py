"""Who can reach a Kubernetes API server: what EKS, GKE and AKS do with the endpoint settings pulumi-llm
records, and which addresses GitHub-hosted runners come from.

Sources (read for this module; the Pulumi providers bridge these Terraform providers / wrap this API,
so the input names below are their camelCase spellings in resources.json):

* EKS: hashicorp/terraform-provider-aws, website/docs/r/eks_cluster.html.markdown, `vpc_config`
  arguments (the provider pulumi-aws 7.x bridges; pulumi-aws is pinned by uv.lock).
* GKE: hashicorp/terraform-provider-google, website/docs/r/container_cluster.html.markdown,
  `private_cluster_config` and `master_authorized_networks_config` (bridged by pulumi-gcp 10.x).
* AKS: Azure/azure-rest-api-specs, specification/containerservice/resource-manager/
  Microsoft.ContainerService/aks/stable/*/managedClusters.json, definition
  `ManagedClusterAPIServerAccessProfile` (what pulumi-azure-native 3.x sends as `apiServerAccessProfile`).
* GitHub-hosted runners: github/docs, content/authentication/keeping-your-account-and-data-secure/
  about-githubs-ip-addresses.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

# ---- GitHub-hosted runners ---------------------------------------------------------------------------
GITHUB_HOSTED_ADDRESSES = (
    "GitHub-hosted runners take their addresses from the ranges the meta API (api.github.com/meta) lists, "
    "thousands of CIDRs that GitHub changes from time to time and advises against allow-listing"
)
"""Why an allow-listed endpoint is never counted as reachable from a GitHub-hosted runner: no fixed,
small set of CIDRs covers them, so only an endpoint open to every address admits them for sure."""


def admits_any_address(public: bool, allowed: Iterable[str] | None) -> bool:
    """Whether an endpoint answers every source address: public, and either no allow-list (None) or one
    that holds a /0. This is the only kind a GitHub-hosted runner reaches (GITHUB_HOSTED_ADDRESSES)."""
    if not public:
        return False
    if allowed is None:
        return True
    return any(ipaddress.ip_network(cidr, strict=False).prefixlen == 0 for cidr in allowed)


# ---- EKS (aws:eks/cluster:Cluster, input vpcConfig) ----------------------------------------------------
EKS_PUBLIC_ACCESS_DEFAULT = True
"""`endpointPublicAccess` unset: the public API server endpoint is enabled."""

EKS_PUBLIC_ACCESS_CIDRS_DEFAULT: tuple[str, ...] | None = None
"""`publicAccessCidrs` unset or empty on a public endpoint: EKS fills in 0.0.0.0/0, i.e. no allow-list."""


def eks_endpoint(vpc_config: Mapping[str, Any] | None) -> tuple[bool, tuple[str, ...] | None]:
    """(public, allowed CIDRs or None for any) of an EKS cluster's API server."""
    config = vpc_config or {}
    public = bool(config.get("endpointPublicAccess", EKS_PUBLIC_ACCESS_DEFAULT))
    cidrs = tuple(config.get("publicAccessCidrs") or ())
    return public, (cidrs or EKS_PUBLIC_ACCESS_CIDRS_DEFAULT)


# ---- GKE (gcp:container/cluster:Cluster) ---------------------------------------------------------------
# privateClusterConfig.enablePrivateEndpoint true: the private endpoint is the cluster endpoint and the public
# one is disabled (it only applies with enablePrivateNodes). masterAuthorizedNetworksConfig present: the
# public endpoint admits its cidrBlocks only (plus Google Cloud's public ranges when
# gcpPublicCidrsAccessEnabled, which GitHub-hosted runners, hosted in Azure, are not in); absent: any address.


def gke_endpoint(inputs: Mapping[str, Any]) -> tuple[bool, tuple[str, ...] | None]:
    """(public, allowed CIDRs or None for any) of a GKE cluster's API server."""
    private: Mapping[str, Any] = inputs.get("privateClusterConfig") or {}
    public = not (private.get("enablePrivateNodes") and private.get("enablePrivateEndpoint"))
    authorized = inputs.get("masterAuthorizedNetworksConfig")
    if authorized is None:
        return public, None
    return public, tuple(block.get("cidrBlock", "") for block in authorized.get("cidrBlocks") or ())


# ---- AKS (azure-native:containerservice:ManagedCluster, input apiServerAccessProfile) -------------------
# enablePrivateCluster true: the API server has a private endpoint in the VNet only (a public FQDN, when
# enablePrivateClusterPublicFQDN, still resolves to that private address). authorizedIPRanges on a public
# API server: only those ranges; unset or empty: any address.


def aks_endpoint(profile: Mapping[str, Any] | None) -> tuple[bool, tuple[str, ...] | None]:
    """(public, allowed CIDRs or None for any) of an AKS cluster's API server."""
    access = profile or {}
    public = not access.get("enablePrivateCluster", False)
    ranges = tuple(access.get("authorizedIPRanges") or ())
    return public, (ranges or None)
