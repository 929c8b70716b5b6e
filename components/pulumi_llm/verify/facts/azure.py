"""What Azure enforces on the network and RBAC paths of an Azure stack, as data.

Enum values are those of the pinned provider, pulumi-azure-native 3.29.0 (`pulumi_azure_native/
containerservice/_enums.py`, `network/_enums.py`, as installed from PyPI); the behaviour behind them is Azure's,
from the documentation named beside each fact (read 2026-12).
"""

from __future__ import annotations

# ---- Network security groups ----------------------------------------------------------------------
# Rules are evaluated by ascending priority per direction; the first match decides. Every NSG also has
# these default rules, which custom rules (100-4096) override. Service tag VirtualNetwork covers the VNet's
# address space, peered VNets and on-premises ranges; AzureLoadBalancer is the platform's probe source
# 168.63.129.16; Internet is everything outside the VirtualNetwork tag.
# Source: https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
# ("Default security rules", "Service tags").
DEFAULT_RULES: tuple[dict[str, object], ...] = (
    {
        "name": "AllowVnetInBound",
        "priority": 65000,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "*",
        "source": "VirtualNetwork",
        "destination": "VirtualNetwork",
        "ports": "*",
    },
    {
        "name": "AllowAzureLoadBalancerInBound",
        "priority": 65001,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "*",
        "source": "AzureLoadBalancer",
        "destination": "*",
        "ports": "*",
    },
    {
        "name": "DenyAllInBound",
        "priority": 65500,
        "direction": "Inbound",
        "access": "Deny",
        "protocol": "*",
        "source": "*",
        "destination": "*",
        "ports": "*",
    },
    {
        "name": "AllowVnetOutBound",
        "priority": 65000,
        "direction": "Outbound",
        "access": "Allow",
        "protocol": "*",
        "source": "VirtualNetwork",
        "destination": "VirtualNetwork",
        "ports": "*",
    },
    {
        "name": "AllowInternetOutBound",
        "priority": 65001,
        "direction": "Outbound",
        "access": "Allow",
        "protocol": "*",
        "source": "*",
        "destination": "Internet",
        "ports": "*",
    },
    {
        "name": "DenyAllOutBound",
        "priority": 65500,
        "direction": "Outbound",
        "access": "Deny",
        "protocol": "*",
        "source": "*",
        "destination": "*",
        "ports": "*",
    },
)

PRIVATE_ENDPOINT_NSG_POLICIES: frozenset[str] = frozenset({"Enabled", "NetworkSecurityGroupEnabled"})
"""Subnet `privateEndpointNetworkPolicies` values under which the subnet's NSG filters traffic to its private
endpoints; with Disabled (Azure's default) or RouteTableEnabled the endpoints ignore the NSG's inbound rules
(the callers' subnets still filter it on the way out).
Sources: github.com/MicrosoftDocs/azure-docs, articles/private-link/disable-private-endpoint-network-policy.md
(ms.date 07/26/2023); values from pulumi-azure-native 3.29.0 `network/_enums.py`
(VirtualNetworkPrivateEndpointNetworkPolicies)."""

LOAD_BALANCER_KEEPS_CLIENT_ADDRESS = True
"""A Standard internal load balancer forwards without SNAT: the backend subnet's NSG sees the caller's address
and the backend port. Source: https://learn.microsoft.com/azure/load-balancer/load-balancer-overview."""

CONTAINER_APPS_EGRESS_FROM_SUBNET = True
"""Apps of a workload-profiles Container Apps environment with VNet integration call into the VNet from
addresses of the environment's infrastructure subnet.
Source: https://learn.microsoft.com/azure/container-apps/networking."""

# ---- AKS ------------------------------------------------------------------------------------------
ENFORCING_NETWORK_POLICIES: frozenset[str] = frozenset({"azure", "calico", "cilium"})
"""ManagedCluster `networkProfile.networkPolicy` values that enforce Kubernetes NetworkPolicy; "none" (the
default when unset) enforces nothing, and "cilium" needs `networkDataplane: cilium`.
Source: pulumi-azure-native 3.29.0 `containerservice/_enums.py` (NetworkPolicy)."""

# ---- RBAC built-in roles (role definition GUIDs) ----------------------------------------------------
# Source: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
BLOB_READER_ROLES: dict[str, str] = {
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
}
"""Roles whose data actions read blobs (Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read)."""

SECRET_READER_ROLES: dict[str, str] = {
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
}
"""Roles whose data actions read secret values (Microsoft.KeyVault/vaults/secrets/getSecret/action); they only
count on a vault with `enableRbacAuthorization`."""

# ---- Workload identity and Azure Monitor remote write -------------------------------------------------
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
"""Built-in role whose data action ingests metrics into a data collection rule; Prometheus remote write to Azure
Monitor needs it on the DCR. Sources: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles,
https://learn.microsoft.com/azure/azure-monitor/containers/prometheus-remote-write-managed-identity."""

WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange"
"""The audience a federated identity credential must accept for AKS workload identity tokens."""
WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
"""Service account annotation naming the user-assigned identity the pod's token is exchanged for."""
WORKLOAD_IDENTITY_USE_LABEL = "azure.workload.identity/use"
"""Pod label (value "true") without which the workload identity webhook injects no token into the pod.
Source (all three): https://learn.microsoft.com/azure/aks/workload-identity-overview ("Service account
annotations", "Pod labels")."""

# ---- ingress-nginx in front of the AKS models --------------------------------------------------------------
INGRESS_NGINX_LISTENERS: tuple[tuple[str, int], ...] = (("http", 80), ("https", 443))
"""The controller Service's ports by scheme (values controller.service.ports.http / .https, both enabled by
controller.service.enableHttp / enableHttps). Source: github.com/kubernetes/ingress-nginx, tag helm-chart-4.15.1
(the pinned chart), charts/ingress-nginx/values.yaml."""

# ---- Azure CNI Overlay ------------------------------------------------------------------------------------
OVERLAY_FLOWS: tuple[tuple[str, str], ...] = (("node", "node"), ("node", "pod"), ("pod", "pod"))
"""Pod traffic on Azure CNI Overlay is not encapsulated, so the node subnet's NSG filters it by pod address; AKS
needs these flows admitted on every port and protocol (pod-to-pod carries DNS, node-to-pod service routing).
Source: github.com/MicrosoftDocs/azure-aks-docs, articles/aks/azure-cni-overlay.md ("Network security groups"),
ms.date 08/16/2024."""
