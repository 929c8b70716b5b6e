"""AksCluster: an AKS cluster with GPU capacity, ready for ModelServing.

Builds an AKS cluster with a pinned Kubernetes minor, Microsoft Entra ID authentication with Azure RBAC
and local accounts disabled (no admin certificate exists), an OIDC issuer and workload identity, Azure
CNI overlay with network policy (Cilium or Calico), optionally a private API server, node OS disks
encrypted with your disk encryption set, and the `patch` / `NodeImage` auto-upgrade channels. Node pools:

* `system` (in the cluster resource): zonal, tainted `CriticalAddonsOnly=true:NoSchedule`, so only AKS'
  own critical add-ons run there;
* `general`: an untainted user pool for the add-ons below (Prometheus, KEDA, the device plugin's
  control parts) and anything that is neither critical nor GPU;
* one user pool per entry of `gpu_pools`: NC/ND sizes, taint `nvidia.com/gpu=present:NoSchedule`, label
  `nvidia.com/gpu.present=true`, cluster autoscaler min/max, an optional MIG profile; a Spot pool
  (priority Spot, eviction Delete, max price -1 = pay up to on-demand) also carries the
  `kubernetes.azure.com/scalesetpriority=spot:NoSchedule` taint AKS puts on Spot nodes.

In-cluster add-ons (pinned Helm releases on the general pool): kube-prometheus-stack, the NVIDIA device
plugin + DCGM exporter (or the GPU Operator with driver and toolkit off: AKS installs both), and KEDA.
With `prometheus="azure-monitor"` the cluster also gets Azure Monitor managed Prometheus (metrics
profile, Azure Monitor workspace, data collection endpoint and rule, both associations) and the
in-cluster Prometheus forwards the LLM series there through workload identity.

It does not serve models: it outputs the Kubernetes `provider` (a kubeconfig with `kubelogin` exec auth,
no credential in it), the `gpu_placement` and the `prometheus_url` that the platform hands to
ModelServing, and `workload_identity(...)` to give the model servers their Azure access.

Needs an azure-native provider through `opts` (the platform's, with default providers disabled). The
pure parts live in `aks_render`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerservice as containerservice
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.monitor as monitor
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..errors import UserError
from ..kubernetes import addons, render
from ..labels import CommonLabels, azure_tags, kubernetes_labels
from ..naming import child
from ..validation import DNS1123_LABEL as _KEY
from . import aks_render as r
from .installer import Installer

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""

_LOCATION = re.compile(r"^[a-z]+[a-z0-9]*$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")


class PoolScale(BaseModel):
    """Cluster autoscaler bounds of a node pool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(ge=0, description="Fewest nodes. Required.")
    max: int = Field(ge=1, le=1000, description="Most nodes. Required.")

    @model_validator(mode="after")
    def _ordered(self) -> PoolScale:
        if self.min > self.max:
            raise ValueError(f"need min <= max, got {self.min}, {self.max}")
        return self


class GpuPool(BaseModel):
    """One GPU user node pool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vm_size: str = Field(
        default="Standard_NC24ads_A100_v4", description="An NC or ND size (NVIDIA GPUs). Default Standard_NC24ads_A100_v4 (1 × A100 80 GB)."
    )
    priority: Literal["Regular", "Spot"] = Field(
        default="Regular", description="Regular (on-demand) or Spot (evicted and deleted when Azure needs the capacity). Default Regular."
    )
    min_count: int = Field(default=0, ge=0, description="Fewest nodes (0 lets the autoscaler empty the pool). Default 0.")
    max_count: int = Field(default=2, ge=1, le=1000, description="Most nodes. Default 2.")
    gpu_instance_profile: Literal["MIG1g", "MIG2g", "MIG3g", "MIG4g", "MIG7g"] | None = Field(
        default=None, description="MIG partition of each GPU (A100/H100 sizes only). Default none: whole GPUs."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra node labels (the GPU and pool labels are always set). Default none."
    )
    os_disk_size_gb: int = Field(default=256, ge=128, le=2048, description="OS disk in GB (CUDA images are large). Default 256.")
    os_sku: Literal["Ubuntu", "AzureLinux"] = Field(default="Ubuntu", description="Node OS. Default Ubuntu.")
    zones: tuple[str, ...] = Field(default=(), description="Availability zones of the pool; GPU sizes are often not zonal. Default none.")

    @property
    def spot(self) -> bool:
        return self.priority == "Spot"


@dataclass(frozen=True)
class RoleGrant:
    """An Azure role given to a workload identity: a built-in role (its GUID) at a scope (an ARM id)."""

    scope: pulumi.Input[str]
    role: str


@dataclass
class WorkloadIdentity:
    """What `AksCluster.workload_identity` returns."""

    identity: managedidentity.UserAssignedIdentity
    client_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    service_account_annotations: dict[str, pulumi.Output[str]]
    """Put these on the Kubernetes service account (`azure.workload.identity/client-id`)."""
    pod_labels: dict[str, str]
    """Put these on the pods (`azure.workload.identity/use: "true"`)."""
    parts: list[pulumi.Resource] = field(default_factory=list[pulumi.Resource])
    """Identity, federated credential and role assignments: create the pods after them."""


class AksClusterArgs(BaseModel):
    """The cluster, its GPU capacity and its add-ons. Validation is pure and fails with one UserError
    line naming `config_path` and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack. Required.")
    location: str = Field(description="Azure region of the cluster, e.g. eastus. Required.")
    resource_group_name: StrInput = Field(description="Resource group of the cluster and its identities (Input). Required.")
    subnet_id: StrInput = Field(description="Subnet of every node pool (Input, ARM id); pods use the overlay, not this subnet. Required.")
    cluster_name: str | None = Field(default=None, description="AKS cluster name (2-63 of [A-Za-z0-9_-]). Default: llm-<stack>.")
    kubernetes_version: str = Field(
        default=r.AKS_KUBERNETES_VERSION,
        description=f"Kubernetes minor; AKS picks its latest patch. Default {r.AKS_KUBERNETES_VERSION} (aks_render.AKS_KUBERNETES_VERSION).",
    )
    sku_tier: Literal["Free", "Standard", "Premium"] = Field(
        default="Standard", description="Control plane tier: Standard has the uptime SLA; Free for throw-away clusters. Default Standard."
    )
    private_cluster: bool = Field(
        default=True,
        description="API server on a private endpoint in the VNet only (prod). Default true; false needs authorized_ip_ranges.",
    )
    authorized_ip_ranges: tuple[str, ...] = Field(
        default=(), description="CIDRs allowed to reach a public API server; required when public, refused when private. Default none."
    )
    admin_group_object_ids: tuple[str, ...] = Field(
        default=(), description="Entra ID groups (object ids) bound to cluster-admin through the AAD profile. Default none."
    )
    admin_principal_ids: dict[str, str] = Field(
        default_factory=dict,
        description="Cluster admins: stable key -> Entra object id, each given 'Azure Kubernetes Service RBAC Cluster Admin' on the cluster. Default none.",
    )
    admin_principal_types: dict[str, Literal["User", "Group", "ServicePrincipal"]] = Field(
        default_factory=dict,
        description="Principal type of an admin_principal_ids entry (same key); role assignments must state it. Default User.",
    )
    deployer_cluster_admin: bool = Field(
        default=True,
        description=(
            "Give the identity running Pulumi 'Azure Kubernetes Service RBAC Cluster Admin' on the cluster, which the "
            "Helm releases need. Do not list it in admin_principal_ids too. Default true."
        ),
    )
    deployer_principal_type: Literal["User", "ServicePrincipal"] = Field(
        default="ServicePrincipal",
        description="What kind of principal runs Pulumi (a CI service principal, or a User for a personal stack). Default ServicePrincipal.",
    )
    kubelogin_login: Literal["azurecli", "workloadidentity", "msi"] = Field(
        default="azurecli",
        description="How the provider's kubeconfig gets tokens (`kubelogin get-token --login …`): az CLI, a federated CI token, or the runner's managed identity. Default azurecli.",
    )
    network_policy: Literal["cilium", "calico"] = Field(
        default="cilium", description="Network policy engine on Azure CNI overlay (cilium uses the Cilium dataplane). Default cilium."
    )
    pod_cidr: str = Field(default="192.168.0.0/16", description="Overlay range of pod addresses (not in the VNet). Default 192.168.0.0/16.")
    service_cidr: str = Field(default="172.16.0.0/16", description="Service addresses; must not overlap the VNet. Default 172.16.0.0/16.")
    dns_service_ip: str = Field(default="172.16.0.10", description="CoreDNS address inside service_cidr. Default 172.16.0.10.")
    outbound_type: Literal["loadBalancer", "userDefinedRouting", "managedNATGateway", "userAssignedNATGateway"] = Field(
        default="loadBalancer", description="Egress of the nodes (userDefinedRouting behind a firewall). Default loadBalancer."
    )
    zones: tuple[str, ...] = Field(
        default=("1", "2", "3"), description="Availability zones of the system and general pools. Default 1, 2, 3."
    )
    system_vm_size: str = Field(default="Standard_D4ds_v5", description="VM size of the system pool. Default Standard_D4ds_v5.")
    system_nodes: PoolScale = Field(default=PoolScale(min=2, max=4), description="System pool autoscaler bounds. Default 2-4.")
    general_vm_size: str = Field(default="Standard_D8ds_v5", description="VM size of the general pool (add-ons). Default Standard_D8ds_v5.")
    general_nodes: PoolScale = Field(default=PoolScale(min=2, max=6), description="General pool autoscaler bounds. Default 2-6.")
    gpu_pools: dict[str, GpuPool] = Field(
        default_factory=lambda: {"gpu": GpuPool(), "gpuspot": GpuPool(priority="Spot")},
        description="GPU pools by name (1-12 lower-case letters/digits). Default: 'gpu' (Regular) and 'gpuspot' (Spot), both Standard_NC24ads_A100_v4, 0-2 nodes.",
    )
    gpus_per_node: int | None = Field(
        default=None,
        ge=1,
        description="GPUs of one GPU node for multi-node placement. Default: the fewest of the pools' sizes, from the sizing catalog.",
    )
    disk_encryption_set_id: StrInput | None = Field(
        default=None, description="Disk encryption set (customer-managed key) for node OS disks (Input). Default none: platform keys."
    )
    prometheus: Literal["kube-prometheus-stack", "azure-monitor"] = Field(
        default="kube-prometheus-stack",
        description=(
            "kube-prometheus-stack in the cluster, or the same plus Azure Monitor managed Prometheus (metrics profile, "
            "workspace, data collection endpoint/rule) receiving the LLM series. Default kube-prometheus-stack."
        ),
    )
    nvidia_stack: Literal["device-plugin", "gpu-operator"] = Field(
        default="device-plugin",
        description="NVIDIA device plugin + DCGM exporter, or the GPU Operator with driver and toolkit off (AKS installs both). Default device-plugin.",
    )
    internal_ingress: bool = Field(
        default=False,
        description=(
            "Install ingress-nginx (pinned) on the general pool behind an INTERNAL Azure load balancer, so clients in the "
            "VNet (the gateway's engine) reach the models at http://<address>/<model>/v1. Default false."
        ),
    )
    ingress_source_ranges: tuple[str, ...] = Field(
        default=(),
        description=(
            "Ranges the internal ingress load balancer admits (its Service's loadBalancerSourceRanges, which the "
            "cloud provider writes into the cluster NSG and kube-proxy/Cilium enforce on the nodes), e.g. the gateway "
            "engine's subnet. Default: none given, so the whole VNet."
        ),
    )
    on_demand_first: bool = Field(
        default=True,
        description="The cluster autoscaler grows the Regular GPU pools before the Spot ones (priority expander), so the "
        "servers' fewest replicas stay off Spot up to the Regular pools' size; false: Spot first (serving.all_spot). Default true.",
    )
    config_path: str = Field(default="cluster", description="Key path named in error messages. Default 'cluster'.")

    @model_validator(mode="after")
    def _check(self) -> AksClusterArgs:
        where = self.config_path
        problem = r.cluster_name_problem(self.name)
        if problem:
            raise UserError(f"{where}.cluster_name = {problem}")
        if not _LOCATION.match(self.location):
            raise UserError(f"{where}.location = {self.location!r}: not an Azure region name such as eastus")
        if self.kubernetes_version != r.AKS_KUBERNETES_VERSION:
            raise UserError(
                f"{where}.kubernetes_version = {self.kubernetes_version}: the add-ons are pinned for "
                f"{r.AKS_KUBERNETES_VERSION}; allowed: {r.AKS_KUBERNETES_VERSION} (bump aks_render.AKS_KUBERNETES_VERSION and the charts together)"
            )
        if self.private_cluster and self.authorized_ip_ranges:
            raise UserError(f"{where}.authorized_ip_ranges: only allowed when private_cluster is false")
        if not self.private_cluster and not self.authorized_ip_ranges:
            raise UserError(f"{where}.authorized_ip_ranges: required when private_cluster is false (never 0.0.0.0/0)")
        for cidr in self.authorized_ip_ranges:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise UserError(f"{where}.authorized_ip_ranges = {cidr!r}: not a network in CIDR notation") from None
            if network.prefixlen == 0:
                raise UserError(
                    f"{where}.authorized_ip_ranges = {cidr}: opens the API server to the internet; list the networks that need it"
                )
        for group in self.admin_group_object_ids:
            if not r.is_guid(group):
                raise UserError(f"{where}.admin_group_object_ids = {group!r}: not an Entra object id (a lower-case GUID)")
        for key, principal in self.admin_principal_ids.items():
            if not _KEY.match(key) or len(key) > 40:
                raise UserError(f"{where}.admin_principal_ids: key {key!r} must be lower-case letters, digits and '-' (at most 40)")
            if not r.is_guid(principal):
                raise UserError(f"{where}.admin_principal_ids.{key} = {principal!r}: not an Entra object id (a lower-case GUID)")
        for key in self.admin_principal_types:
            if key not in self.admin_principal_ids:
                raise UserError(f"{where}.admin_principal_types.{key}: no admin_principal_ids entry with that key")
        problem = r.network_problem(self.pod_cidr, self.service_cidr, self.dns_service_ip)
        if problem:
            raise UserError(f"{where}.{problem}")
        for key in ("system_vm_size", "general_vm_size"):
            if not _VM_SIZE.match(getattr(self, key)):
                raise UserError(f"{where}.{key} = {getattr(self, key)!r}: not an Azure VM size such as Standard_D4ds_v5")
        if self.system_nodes.min < 1:
            raise UserError(
                f"{where}.system_nodes.min = {self.system_nodes.min}: a system pool needs at least 1 node (2 for zone redundancy)"
            )
        if not self.gpu_pools:
            raise UserError(f"{where}.gpu_pools: at least one GPU pool is needed")
        for pool_name, pool in self.gpu_pools.items():
            at = f"{where}.gpu_pools.{pool_name}"
            problem = r.pool_name_problem(pool_name)
            if problem:
                raise UserError(f"{where}.gpu_pools: {problem}")
            if pool_name in ("system", "general"):
                raise UserError(f"{where}.gpu_pools: {pool_name!r} is the name of a pool the cluster already has")
            if not r.is_gpu_vm_size(pool.vm_size):
                raise UserError(f"{at}.vm_size = {pool.vm_size!r}: not an NC or ND size (NVIDIA GPUs), e.g. Standard_NC24ads_A100_v4")
            if pool.min_count > pool.max_count:
                raise UserError(f"{at}: min_count {pool.min_count} is above max_count {pool.max_count}")
            if pool.gpu_instance_profile and not r.mig_capable(pool.vm_size):
                raise UserError(f"{at}.gpu_instance_profile = {pool.gpu_instance_profile}: MIG needs A100 or H100 GPUs, not {pool.vm_size}")
            for label in pool.labels:
                if not _LABEL_KEY.match(label) or label.startswith("kubernetes.azure.com/"):
                    raise UserError(f"{at}.labels: {label!r} is not a label key you may set (kubernetes.azure.com/ is AKS')")
        return self

    @property
    def name(self) -> str:
        """The AKS cluster name."""
        return self.cluster_name or f"llm-{self.labels.stack}"

    @property
    def placement_gpus(self) -> int | None:
        if self.gpus_per_node is not None:
            return self.gpus_per_node
        counts = [r.gpus_of(pool.vm_size) for pool in self.gpu_pools.values()]
        return min(counts) if counts and all(c is not None for c in counts) else None  # type: ignore[type-var]


class AksCluster(pulumi.ComponentResource):
    """An AKS cluster with GPU capacity and the add-ons model serving needs."""

    provider: k8s.Provider
    cluster_name: str
    cluster_id: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    gpu_placement: render.Placement
    prometheus_url: str
    azure_monitor_workspace_id: pulumi.Output[str] | None
    addons: list[pulumi.Resource]
    workload_identities: dict[str, list[pulumi.Resource]]

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AksCluster", name, None, opts)
        self._name = name
        self._args = args
        self.workload_identities = {}
        tags = azure_tags(args.labels)

        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self._subscription_id = client.subscription_id
        self._tenant_id = client.tenant_id

        cluster_identity, before_cluster = self._control_plane_identity(tags)
        cluster = self._cluster(tags, cluster_identity, before_cluster)
        admin_access = self._admin_access(cluster, client.object_id)
        general_pool = self._node_pools(tags)
        self._kubernetes_provider()
        kube = Installer(
            self,
            self.provider,
            name,
            kubernetes_labels(args.labels),
            on_cluster=[general_pool, *admin_access],
            namespaces_after=admin_access,
        )
        prometheus = self._observability(kube, cluster, tags)
        releases: list[pulumi.Resource] = [prometheus]
        releases += self._nvidia_stack(kube, prometheus)
        # KEDA from its pinned chart rather than the AKS add-on: the add-on's KEDA version follows the
        # AKS minor and cannot be pinned, and the chart's ServiceMonitors feed the in-cluster Prometheus
        # exactly as on EKS and on-prem.
        releases.append(kube.release("keda", pins.KEDA_CHART, "keda", addons.keda_values(service_monitor=True), "restricted", prometheus))
        self.ingress_class = None
        if args.internal_ingress:
            self.ingress_class = INGRESS_CLASS
            releases.append(
                kube.release(
                    "ingress-nginx",
                    pins.INGRESS_NGINX_CHART,
                    INGRESS_NAMESPACE,
                    internal_ingress_values(args.ingress_source_ranges),
                    "baseline",
                    prometheus,
                )
            )

        self._priority_expander(kube)
        zones = min(len(pool.zones) for pool in args.gpu_pools.values()) if args.gpu_pools else 0
        self.gpu_placement = r.gpu_placement(args.placement_gpus, zones=zones or None)
        self.addons = releases
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_id": self.cluster_id,
                "oidc_issuer": self.oidc_issuer,
                "prometheus_url": self.prometheus_url,
                **({"azure_monitor_workspace_id": self.azure_monitor_workspace_id} if self.azure_monitor_workspace_id is not None else {}),
            }
        )

    # ---- steps of the constructor, in creation order ---------------------------------------------

    def _control_plane_identity(self, tags: dict[str, str]) -> tuple[managedidentity.UserAssignedIdentity, list[pulumi.Resource]]:
        """The control plane's identity and its roles on the subnet (and disk encryption set): what the cluster waits for."""
        args = self._args
        # User-assigned, so its rights on the subnet (and the disk encryption set) exist before the
        # cluster does; a system-assigned identity could only be granted them after creation.
        cluster_identity = managedidentity.UserAssignedIdentity(
            child(self._name, "cluster-identity"),
            resource_name_=f"{args.name}-control-plane",
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        before_cluster: list[pulumi.Resource] = [
            self._role("cluster-identity-network", args.subnet_id, r.ROLE_NETWORK_CONTRIBUTOR, cluster_identity.principal_id)
        ]
        if args.disk_encryption_set_id is not None:
            before_cluster.append(
                self._role("cluster-identity-des", args.disk_encryption_set_id, r.ROLE_READER, cluster_identity.principal_id)
            )
        return cluster_identity, before_cluster

    def _cluster(
        self,
        tags: dict[str, str],
        cluster_identity: managedidentity.UserAssignedIdentity,
        before_cluster: list[pulumi.Resource],
    ) -> containerservice.ManagedCluster:
        """The managed cluster with its system pool (Entra ID only, workload identity, OIDC issuer)."""
        args = self._args
        cluster_name = args.name
        api_access: containerservice.ManagedClusterAPIServerAccessProfileArgsDict = {
            "enable_private_cluster": args.private_cluster,
            "disable_run_command": True,
        }
        if args.private_cluster:
            api_access["private_dns_zone"] = "system"
            api_access["enable_private_cluster_public_fqdn"] = False
        else:
            api_access["authorized_ip_ranges"] = list(args.authorized_ip_ranges)
        system_pool: containerservice.ManagedClusterAgentPoolProfileArgsDict = {
            "name": "system",
            "mode": "System",
            "type": "VirtualMachineScaleSets",
            "os_type": "Linux",
            "os_sku": "AzureLinux",
            "vm_size": args.system_vm_size,
            "enable_auto_scaling": True,
            "count": args.system_nodes.min,
            "min_count": args.system_nodes.min,
            "max_count": args.system_nodes.max,
            "availability_zones": list(args.zones),
            "vnet_subnet_id": args.subnet_id,
            "node_taints": [r.SYSTEM_TAINT],
            "node_labels": dict(r.SYSTEM_NODE_LABELS),
            "os_disk_size_gb": 128,
            "upgrade_settings": {"max_surge": "33%"},
            "tags": tags,
        }
        cluster = containerservice.ManagedCluster(
            child(self._name, "cluster"),
            resource_name_=cluster_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            dns_prefix=cluster_name,
            kubernetes_version=args.kubernetes_version,
            sku={"name": "Base", "tier": args.sku_tier},
            identity={"type": containerservice.ResourceIdentityType.USER_ASSIGNED, "user_assigned_identities": [cluster_identity.id]},
            enable_rbac=True,
            aad_profile={
                "managed": True,
                "enable_azure_rbac": True,
                "admin_group_object_ids": list(args.admin_group_object_ids),
                "tenant_id": self._tenant_id,
            },
            # No client certificate, no static token: every call authenticates with Entra ID.
            disable_local_accounts=True,
            api_server_access_profile=api_access,
            oidc_issuer_profile={"enabled": True},
            security_profile={"workload_identity": {"enabled": True}, "image_cleaner": {"enabled": True, "interval_hours": 168}},
            # r.network_profile builds ContainerServiceNetworkProfileArgsDict-shaped plain data (pure, tested as dicts)
            network_profile=cast(
                containerservice.ContainerServiceNetworkProfileArgsDict,
                r.network_profile(
                    network_policy=args.network_policy,
                    pod_cidr=args.pod_cidr,
                    service_cidr=args.service_cidr,
                    dns_service_ip=args.dns_service_ip,
                    outbound_type=args.outbound_type,
                ),
            ),
            auto_upgrade_profile={"upgrade_channel": "patch", "node_os_upgrade_channel": "NodeImage"},
            # Which pool grows first is the priority expander's ConfigMap (_priority_expander): Regular before Spot.
            auto_scaler_profile={"expander": r.PRIORITY_EXPANDER},
            azure_monitor_profile={"metrics": {"enabled": args.prometheus == "azure-monitor"}},
            disk_encryption_set_id=args.disk_encryption_set_id,
            agent_pool_profiles=[system_pool],
            node_resource_group=f"MC_{cluster_name}_nodes",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=before_cluster),
        )
        self.cluster_name = cluster_name
        self.cluster_id = cluster.id
        # The cluster's own name, but only once it exists: what the node pools and look-ups wait for.
        self._existing_name = cluster.id.apply(lambda _: cluster_name)
        self.oidc_issuer = cluster.oidc_issuer_profile.apply(lambda p: _field(p, "issuer_url"))
        return cluster

    def _admin_access(self, cluster: containerservice.ManagedCluster, deployer_object_id: pulumi.Output[str]) -> list[pulumi.Resource]:
        """Cluster-admin role assignments: the deployer (when asked) and each admin principal."""
        args = self._args
        admin_access: list[pulumi.Resource] = []
        if args.deployer_cluster_admin:
            admin_access.append(
                self._role(
                    "deployer-cluster-admin", cluster.id, r.ROLE_AKS_RBAC_CLUSTER_ADMIN, deployer_object_id, args.deployer_principal_type
                )
            )
        for key, principal in sorted(args.admin_principal_ids.items()):
            kind = args.admin_principal_types.get(key, "User")
            admin_access.append(self._role(f"admin-{key}", cluster.id, r.ROLE_AKS_RBAC_CLUSTER_ADMIN, principal, kind))
        return admin_access

    def _node_pool(self, key: str, tags: dict[str, str], **props: Any) -> containerservice.AgentPool:
        args = self._args
        return containerservice.AgentPool(
            child(self._name, f"{key}-pool"),
            resource_group_name=args.resource_group_name,
            resource_name_=self._existing_name,
            agent_pool_name=key,
            mode="User",
            type="VirtualMachineScaleSets",
            os_type="Linux",
            enable_auto_scaling=True,
            vnet_subnet_id=args.subnet_id,
            orchestrator_version=args.kubernetes_version,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
            **props,
        )

    def _node_pools(self, tags: dict[str, str]) -> containerservice.AgentPool:
        """The general user pool and one pool per GPU pool (`gpu_pools`); returns the general pool."""
        args = self._args
        general_pool = self._node_pool(
            "general",
            tags,
            vm_size=args.general_vm_size,
            os_sku="AzureLinux",
            count=args.general_nodes.min,
            min_count=args.general_nodes.min,
            max_count=args.general_nodes.max,
            availability_zones=list(args.zones),
            node_labels=dict(r.GENERAL_NODE_LABELS),
            node_taints=[],
            os_disk_size_gb=128,
            upgrade_settings={"max_surge": "33%"},
        )
        self.gpu_pools: dict[str, containerservice.AgentPool] = {}
        for key, pool in sorted(args.gpu_pools.items()):
            props: dict[str, object] = {
                "vm_size": pool.vm_size,
                "os_sku": pool.os_sku,
                "count": pool.min_count,
                "min_count": pool.min_count,
                "max_count": pool.max_count,
                "node_labels": r.gpu_node_labels(key, pool.labels),
                "node_taints": r.gpu_taints(pool.spot),
                "os_disk_size_gb": pool.os_disk_size_gb,
                # AKS installs the NVIDIA driver on the node image; the device plugin below advertises the GPUs.
                "gpu_profile": {"driver": "Install"},
                "scale_set_priority": pool.priority,
            }
            if pool.zones:
                props["availability_zones"] = list(pool.zones)
            if pool.gpu_instance_profile:
                props["gpu_instance_profile"] = pool.gpu_instance_profile
            if pool.spot:
                props["scale_set_eviction_policy"] = "Delete"
                props["spot_max_price"] = -1  # pay up to the on-demand price; evicted only for capacity
            else:
                # Scarce GPUs: replace one node at a time instead of surging a second expensive one.
                props["upgrade_settings"] = {"max_surge": "0", "max_unavailable": "1"}
            self.gpu_pools[key] = self._node_pool(key, tags, **props)
        return general_pool

    def _priority_expander(self, kube: Installer) -> k8s.core.v1.ConfigMap:
        """The priority expander's ConfigMap: the Regular GPU pools grow before the Spot ones (aks_render)."""
        args = self._args
        return k8s.core.v1.ConfigMap(
            child(self._name, "priority-expander"),
            metadata={"name": r.PRIORITY_EXPANDER_CONFIGMAP, "namespace": r.PRIORITY_EXPANDER_NAMESPACE, "labels": kube.labels},
            data={
                "priorities": r.expander_priorities(
                    {key: pool.spot for key, pool in args.gpu_pools.items()}, on_demand_first=args.on_demand_first
                )
            },
            opts=kube.opts(),
        )

    def _kubernetes_provider(self) -> None:
        """`kubeconfig` (Entra ID through kubelogin) and the Kubernetes provider every in-cluster resource uses."""
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self._args.resource_group_name,
            resource_name=self._existing_name,
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        login = self._args.kubelogin_login
        self.kubeconfig = credentials.apply(lambda c: r.kubeconfig(_field(c.kubeconfigs[0], "value"), login=login))
        self.provider = k8s.Provider(
            child(self._name, "k8s"),
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _observability(self, kube: Installer, cluster: containerservice.ManagedCluster, tags: dict[str, str]) -> k8s.helm.v3.Release:
        """kube-prometheus-stack, remote-writing to an Azure Monitor workspace when asked."""
        name, args = self._name, self._args
        cluster_name = args.name
        here = pulumi.ResourceOptions(parent=self)
        self.prometheus_url = addons.prometheus_url()
        self.azure_monitor_workspace_id = None
        prometheus_after: list[pulumi.Resource] = []
        if args.prometheus == "azure-monitor":
            workspace = monitor.AzureMonitorWorkspace(
                child(name, "monitor-workspace"),
                resource_group_name=args.resource_group_name,
                location=args.location,
                azure_monitor_workspace_name=f"{cluster_name}-prometheus",
                tags=tags,
                opts=here,
            )
            self.azure_monitor_workspace_id = workspace.id
            endpoint = monitor.DataCollectionEndpoint(
                child(name, "prometheus-dce"),
                resource_group_name=args.resource_group_name,
                location=args.location,
                data_collection_endpoint_name=f"{cluster_name}-prometheus",
                kind="Linux",
                tags=tags,
                opts=here,
            )
            rule = monitor.DataCollectionRule(
                child(name, "prometheus-dcr"),
                resource_group_name=args.resource_group_name,
                location=args.location,
                data_collection_rule_name=f"{cluster_name}-prometheus",
                description=f"Prometheus metrics of {cluster_name} to its Azure Monitor workspace",
                tags=tags,
                opts=here,
                **r.prometheus_data_collection_rule(endpoint_id=endpoint.id, workspace_id=workspace.id),
            )
            monitor.DataCollectionRuleAssociation(
                child(name, "prometheus-dcra"),
                resource_uri=cluster.id,
                association_name=f"{cluster_name}-prometheus",
                data_collection_rule_id=rule.id,
                description="ama-metrics of this cluster send to the Prometheus rule",
                opts=here,
            )
            monitor.DataCollectionRuleAssociation(
                child(name, "prometheus-dcea"),
                resource_uri=cluster.id,
                association_name=r.ENDPOINT_ASSOCIATION_NAME,
                data_collection_endpoint_id=endpoint.id,
                opts=here,
            )
            writer = self.workload_identity(
                addons.MONITORING_NAMESPACE,
                r.PROMETHEUS_SERVICE_ACCOUNT,
                {"dcr": RoleGrant(scope=rule.id, role=r.ROLE_MONITORING_METRICS_PUBLISHER)},
            )
            prometheus_after += writer.parts
            url = pulumi.Output.all(endpoint.metrics_ingestion, rule.immutable_id).apply(
                lambda v: r.remote_write_url(_field(v[0], "endpoint") or "", v[1] or "")
            )
            values = r.prometheus_values(remote_write_url=url, client_id=writer.client_id, tenant_id=self._tenant_id)
        else:
            values = r.prometheus_values()
        return kube.release(
            "prometheus", pins.KUBE_PROMETHEUS_STACK_CHART, addons.MONITORING_NAMESPACE, values, "privileged", *prometheus_after
        )

    def _nvidia_stack(self, kube: Installer, prometheus: pulumi.Resource) -> list[pulumi.Resource]:
        """The GPU Operator, or the device plugin and DCGM exporter alone, after the GPU pools."""
        gpu_ready = list(self.gpu_pools.values())
        if self._args.nvidia_stack == "gpu-operator":
            return [
                kube.release(
                    "gpu-operator", pins.GPU_OPERATOR_CHART, "gpu-operator", r.gpu_operator_values(), "privileged", prometheus, *gpu_ready
                )
            ]
        return [
            kube.release("device-plugin", pins.NVIDIA_DEVICE_PLUGIN_CHART, "nvidia", r.device_plugin_values(), "privileged", *gpu_ready),
            kube.release(
                "dcgm-exporter", pins.DCGM_EXPORTER_CHART, "nvidia", r.dcgm_exporter_values(), "privileged", prometheus, *gpu_ready
            ),
        ]

    # ---- helpers ---------------------------------------------------------------------------------

    def workload_identity(
        self,
        namespace: str,
        service_account: str,
        role_assignments: Mapping[str, RoleGrant] | None = None,
    ) -> WorkloadIdentity:
        """An Entra identity for one Kubernetes service account through AKS workload identity.

        Creates `<name>-<namespace>-<service_account>-identity` (user-assigned), its federated credential
        (issuer: this cluster's OIDC issuer; subject `system:serviceaccount:<namespace>:<service_account>`;
        audience `api://AzureADTokenExchange`) and one role assignment per entry of `role_assignments`
        (key -> RoleGrant(scope, role GUID)), each `<…>-<key>`. Annotate the service account with
        `.service_account_annotations`, label the pods with `.pod_labels`, and create them with
        `depends_on=.parts` (also in `workload_identities["<namespace>/<service_account>"]`).
        """
        if not _dns_label_ok(namespace) or not _dns_label_ok(service_account):
            raise UserError(
                f"workload_identity({namespace!r}, {service_account!r}): namespace and service account are DNS labels "
                "(lower-case letters, digits and '-')"
            )
        key = f"{namespace}-{service_account}"
        here = pulumi.ResourceOptions(parent=self)
        identity_name = f"{self._args.name}-{key}"[:128]
        identity = managedidentity.UserAssignedIdentity(
            child(self._name, f"{key}-identity"),
            resource_name_=identity_name,
            resource_group_name=self._args.resource_group_name,
            location=self._args.location,
            tags=azure_tags(self._args.labels),
            opts=here,
        )
        credential = managedidentity.FederatedIdentityCredential(
            child(self._name, f"{key}-federation"),
            resource_group_name=self._args.resource_group_name,
            resource_name_=identity.id.apply(lambda _: identity_name),
            federated_identity_credential_resource_name=f"{self._args.name}-{key}"[:120],
            issuer=self.oidc_issuer,
            subject=r.federated_subject(namespace, service_account),
            audiences=[r.WORKLOAD_IDENTITY_AUDIENCE],
            opts=here,
        )
        parts: list[pulumi.Resource] = [identity, credential]
        for grant_key, grant in sorted((role_assignments or {}).items()):
            if not _KEY.match(grant_key):
                raise UserError(f"workload_identity role_assignments: key {grant_key!r} must be lower-case letters, digits and '-'")
            if not r.is_guid(grant.role):
                raise UserError(f"workload_identity role_assignments.{grant_key}: role {grant.role!r} is not a role definition GUID")
            parts.append(self._role(f"{key}-{grant_key}", grant.scope, grant.role, identity.principal_id))
        self.workload_identities[f"{namespace}/{service_account}"] = parts
        return WorkloadIdentity(
            identity=identity,
            client_id=identity.client_id,
            principal_id=identity.principal_id,
            service_account_annotations=r.service_account_annotations(identity.client_id),
            pod_labels=r.pod_labels(),
            parts=parts,
        )

    def _role(
        self,
        role_name: str,
        scope: pulumi.Input[str],
        role: str,
        principal_id: pulumi.Input[str],
        principal_type: str = "ServicePrincipal",
    ) -> authorization.RoleAssignment:
        # Always stated: the SDK would otherwise send "User", which is wrong for managed identities.
        return authorization.RoleAssignment(
            child(self._name, role_name),
            scope=scope,
            role_definition_id=self._subscription_id.apply(lambda s: r.role_definition_id(s, role)),
            principal_id=principal_id,
            principal_type=principal_type,
            opts=pulumi.ResourceOptions(parent=self),
        )


INGRESS_CLASS = "nginx"
INGRESS_NAMESPACE = "ingress-nginx"
INTERNAL_LB_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-internal"


def internal_ingress_values(source_ranges: Sequence[str] = ()) -> dict[str, Any]:
    """ingress-nginx for streaming (addons.ingress_nginx_values) on the general pool, behind an internal Azure LB
    that admits only `source_ranges` when given (Local traffic policy keeps the caller's address to check)."""
    values = addons.ingress_nginx_values(class_name=INGRESS_CLASS, service_monitor=True)
    controller = values["controller"]
    controller["nodeSelector"] = dict(r.GENERAL_NODE_LABELS)
    controller["service"] = {"annotations": {INTERNAL_LB_ANNOTATION: "true"}, "externalTrafficPolicy": "Local"}
    if source_ranges:
        controller["service"]["loadBalancerSourceRanges"] = list(source_ranges)
    return values


def _dns_label_ok(value: str) -> bool:
    return bool(re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", value))


def _field(value: object, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        fields = cast(dict[str, Any], value)
        if key in fields:
            return fields[key]
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        return fields.get(camel, fields.get(camel.replace("Url", "URL")))
    return getattr(value, key, None)


__all__ = ["AksCluster", "AksClusterArgs", "GpuPool", "PoolScale", "RoleGrant", "WorkloadIdentity"]
