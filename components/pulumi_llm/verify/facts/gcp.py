"""What Google Cloud enforces on the network and IAM paths of a GCP stack, as data.

Field names and values are those of the pinned provider, pulumi-gcp 10.2.0 (`pulumi_gcp/container/cluster.py`,
`pulumi_gcp/container/_inputs.py`, `pulumi_gcp/cloudrunv2/_inputs.py`, as installed from PyPI); the behaviour
behind them is Google's, from the product documentation named beside each fact (read 2026-12).
"""

from __future__ import annotations

# ---- VPC firewall -------------------------------------------------------------------------------
# A VPC has two implied rules at the lowest priority (65535) that no rule can remove: deny all ingress,
# allow all egress. An INGRESS firewall rule with no targetTags/targetServiceAccounts applies to every
# instance of the network. Source: https://cloud.google.com/firewall/docs/firewalls
# ("Implied rules", "Targets of firewall rules").
IMPLIED_INGRESS = "deny"
IMPLIED_EGRESS = "allow"

INGRESS_SOURCE_WHEN_UNSET = "0.0.0.0/0"
"""An INGRESS rule that names none of sourceRanges, sourceTags, sourceServiceAccounts admits every IPv4 source:
the Compute API fills sourceRanges with 0.0.0.0/0. (pulumi-gcp 10.2.0 `compute/firewall.py` calls one of them
required for INGRESS, but the bridged Terraform provider sends the rule and the API fills the default.)
Sources: https://cloud.google.com/firewall/docs/firewalls ("Sources for ingress rules");
github.com/hashicorp/terraform-provider-google issue 6789."""

TARGET_SERVICE_ACCOUNTS_ONLY = True
"""A rule with `targetServiceAccounts` applies only to instances that run as one of those service accounts (and
with neither targetTags nor targetServiceAccounts, to every instance of the network).
Sources: pulumi-gcp 10.2.0 `compute/firewall.py` (target_service_accounts);
https://cloud.google.com/firewall/docs/firewalls ("Targets of firewall rules")."""

SUBNET_INTERNAL_RANGES: tuple[str, ...] = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # RFC 6598 shared address space
    "192.0.0.0/24",  # RFC 6890 IETF protocol assignments
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",  # RFC 5737 documentation
    "192.88.99.0/24",  # RFC 7526 former 6to4 relay
    "198.18.0.0/15",  # RFC 2544 benchmarking
    "240.0.0.0/4",  # RFC 5735 reserved
)
"""The non-public IPv4 ranges a VPC subnet (and so a source inside the VPC) may use: a firewall source inside
one of them is not the internet. Source: https://cloud.google.com/vpc/docs/subnets ("Valid IPv4 ranges")."""

GOOGLE_HEALTH_CHECK_RANGES: tuple[str, ...] = ("35.191.0.0/16", "130.211.0.0/22")
"""Where Google's health checkers (load balancers, MIG autohealing) probe backends from.
Source: https://cloud.google.com/load-balancing/docs/health-check-concepts ("Probe IP ranges and firewall rules")."""

IAP_TCP_FORWARDING_RANGE = "35.235.240.0/20"
"""Where Identity-Aware Proxy TCP forwarding connects from: IAP authenticates and authorizes each tunnel, so a
firewall rule from this range is not an opening to the internet.
Source: https://cloud.google.com/iap/docs/using-tcp-forwarding ("Create a firewall rule")."""

PROXY_ONLY_SUBNET_PURPOSES: tuple[str, ...] = ("REGIONAL_MANAGED_PROXY", "INTERNAL_HTTPS_LOAD_BALANCER")
"""Subnetwork `purpose` of the proxy-only subnet whose Envoys open the connections of a regional internal
Application Load Balancer (INTERNAL_MANAGED) to its backends: the backends see these addresses as the source.
Source: https://cloud.google.com/load-balancing/docs/proxy-only-subnets."""

PASSTHROUGH_KEEPS_CLIENT_ADDRESS = True
"""An internal passthrough Network Load Balancer does not proxy: backends (GKE nodes) see the client's own
address, so the firewall must admit the callers' range itself.
Source: https://cloud.google.com/load-balancing/docs/internal ("Source IP address")."""

PRIVATE_GOOGLE_ACCESS_OR_NAT = True
"""A VM with no external address reaches Google APIs (storage.googleapis.com for the weights, Artifact Registry)
only when its subnet has Private Google Access (`privateIpGoogleAccess`) or a Cloud NAT translates its range.
Sources: https://cloud.google.com/vpc/docs/private-google-access, https://cloud.google.com/nat/docs/overview."""
NAT_ALL_SUBNETS: tuple[str, ...] = ("ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES")
"""RouterNat `sourceSubnetworkIpRangesToNat` values that cover every subnet of the region (else LIST_OF_SUBNETWORKS)."""

# ---- GKE ------------------------------------------------------------------------------------------
DATAPLANE_V2 = "ADVANCED_DATAPATH"
"""container.Cluster `datapath_provider` value of GKE Dataplane V2, which enforces NetworkPolicy itself; the
default LEGACY_DATAPATH (kube-proxy) enforces none unless the Calico network-policy add-on is on
(`network_policy.enabled` and `addons_config.network_policy_config.disabled = false`). Autopilot clusters always
run Dataplane V2. Sources: pulumi-gcp 10.2.0 `container/cluster.py` (datapath_provider, network_policy,
enable_autopilot docs); https://cloud.google.com/kubernetes-engine/docs/how-to/network-policy."""

INTERNAL_LB_ANNOTATION = "networking.gke.io/load-balancer-type"
"""Service annotation that makes a GKE LoadBalancer Service an internal passthrough load balancer (value
"Internal"); GKE then opens its own firewall rule from `loadBalancerSourceRanges` (all of the VPC when unset) to
the nodes on the Service's ports. Source: https://cloud.google.com/kubernetes-engine/docs/how-to/internal-load-balancing."""

# ---- Cloud Run --------------------------------------------------------------------------------------
RUN_INGRESS_FROM_INTERNET: tuple[str, ...] = ("INGRESS_TRAFFIC_ALL",)
"""cloudrunv2.Service `ingress` values that let the internet call the run.app URL directly (bypassing the load
balancer and Cloud Armor); INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER admits only Google load balancers and the VPC.
Source: https://cloud.google.com/run/docs/securing/ingress."""

RUN_EGRESS_PRIVATE = ("PRIVATE_RANGES_ONLY", "ALL_TRAFFIC")
"""Direct VPC egress settings (`template.vpc_access.egress`) that send RFC 1918 destinations into the VPC from
addresses of the configured subnetwork. Source: https://cloud.google.com/run/docs/configuring/vpc-direct-vpc."""

# ---- IAM ----------------------------------------------------------------------------------------------
OBJECT_READER_ROLES: frozenset[str] = frozenset(
    {"roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin"}
)
"""Predefined roles that carry storage.objects.get and storage.objects.list.
Source: https://cloud.google.com/storage/docs/access-control/iam-roles."""

SECRET_ACCESSOR_ROLES: frozenset[str] = frozenset({"roles/secretmanager.secretAccessor", "roles/secretmanager.admin"})
"""Predefined roles that carry secretmanager.versions.access.
Source: https://cloud.google.com/secret-manager/docs/access-control."""

KMS_USE_ROLES: frozenset[str] = frozenset({"roles/cloudkms.cryptoKeyEncrypterDecrypter"})
"""The role a service agent needs on a CMEK key to encrypt and decrypt with it.
Source: https://cloud.google.com/kms/docs/cmek ("service agent")."""

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
"""Role on a Google service account that lets the Kubernetes service account
`serviceAccount:<project>.svc.id.goog[<namespace>/<name>]` act as it.
Source: https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity."""

STORAGE_SERVICE_AGENT_DOMAIN = "@gs-project-accounts.iam.gserviceaccount.com"
"""Cloud Storage's service agent (`service-<project number>@gs-project-accounts…`) encrypts objects with a
bucket's default KMS key, so IT needs the key role, not the reader.
Source: https://cloud.google.com/storage/docs/encryption/customer-managed-keys."""

SECRET_MANAGER_SERVICE_AGENT_DOMAIN = "@gcp-sa-secretmanager.iam.gserviceaccount.com"
"""Secret Manager's service agent, which decrypts CMEK-protected secret versions on access.
Source: https://cloud.google.com/secret-manager/docs/cmek."""
