"""GkeCluster: a GKE cluster with GPU capacity, ready for ModelServing.

Builds a regional GKE cluster on the REGULAR release channel (no pinned version: GKE upgrades within
the channel in the maintenance window), private nodes, a private control-plane endpoint reached from
the authorized networks, Workload Identity, Shielded nodes, Kubernetes Secrets encrypted with your
Cloud KMS key, Dataplane V2 (enforces the NetworkPolicies ModelServing creates), image streaming and
control-plane logs and metrics. Standard mode (default) removes the default node pool and adds a
system pool and GPU pools (spot and on-demand per GPU pool, driver installed by GKE), ordered by a
Custom Compute Class: spot first, on-demand when spot has no room. Autopilot mode (by arg) has no
node pools: the same ComputeClass names GPU types and counts. Nodes run as a dedicated service account
with the minimal roles, never the default compute account.

In the cluster: the DCGM exporter and KEDA (pinned Helm releases) and metrics through either
kube-prometheus-stack (default) or Managed Service for Prometheus (`PodMonitoring` objects; KEDA then
reads GMP as a Google service account).

It does not serve models: it outputs the Kubernetes `provider` (a kubeconfig with
`gke-gcloud-auth-plugin` exec auth), the `gpu_placement` and the `prometheus_url` that the platform
hands to ModelServing, and `workload_identity(...)` to give the model servers their GCS access.

Needs a `gcp` provider through `opts` (the platform's, with default providers disabled). The pure
parts live in `gke_render`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..errors import UserError
from ..kubernetes import addons, render
from ..labels import CommonLabels, gcp_labels, kubernetes_labels
from ..naming import child
from ..validation import CLOCK_TIME as _TIME
from ..validation import DNS1123_LABEL as _KEY
from ..validation import GCP_PROJECT as _PROJECT
from ..validation import GCP_REGION as _REGION
from ..verify.facts.inference_extension import GKE_GATEWAY_API_CHANNEL
from . import gke_render as r
from .installer import Installer

# `pulumi.Input[str]` in a form pydantic can validate: a plain string or an Output of one.
StrInput = str | pulumi.Output[str]

KMS_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


class NodeRange(BaseModel):
    """Autoscaling bounds of a node pool: total nodes across its zones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(ge=0, description="Fewest nodes in total. Required.")
    max: int = Field(ge=1, description="Most nodes in total. Required.")

    @model_validator(mode="after")
    def _ordered(self) -> NodeRange:
        if self.min > self.max:
            raise ValueError(f"need min <= max, got {self.min}, {self.max}")
        return self


class GpuPool(BaseModel):
    """One kind of GPU node: a machine type (or, on Autopilot, a GPU type and count), on spot and/or on-demand."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    machine_type: str | None = Field(
        default=None,
        description="GPU machine type (g2-standard-24, a2-ultragpu-1g, a3-highgpu-8g, …; n1-* with T4s). Required in standard mode.",
    )
    accelerator: str | None = Field(
        default=None,
        description="GKE accelerator name (nvidia-l4, nvidia-h100-80gb, …). Default: the machine type's; required for n1-* and for Autopilot without a machine type.",
    )
    gpus: int | None = Field(
        default=None,
        ge=1,
        description="GPUs per node (= the tensor-parallel size a server on one node gets). Default: the machine type's; checked against it.",
    )
    zones: tuple[str, ...] = Field(
        default=(), description="Zones of the region that have this GPU (node locations). Default: the cluster's zones."
    )
    spot: NodeRange | None = Field(default=NodeRange(min=0, max=2), description="Spot nodes (tried first). None for no spot. Default 0-2.")
    on_demand: NodeRange | None = Field(
        default=NodeRange(min=0, max=1), description="On-demand nodes, used when spot has no room. None for spot only. Default 0-1."
    )
    disk_size_gb: int = Field(default=200, ge=100, description="Boot disk of a GPU node in GB (CUDA images are large). Default 200.")


class GkeClusterArgs(BaseModel):
    """The cluster, its GPU capacity and its add-ons."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack. Required.")
    project: str = Field(description="Google Cloud project id (the provider's). Required.")
    region: str = Field(description="Region of the regional cluster, e.g. us-central1. Required.")
    network: StrInput = Field(description="VPC network (id or self link, Input). Required.")
    subnetwork: StrInput = Field(description="Subnetwork of the nodes (id or self link, Input). Required.")
    pods_range_name: str | None = Field(default=None, description="Secondary range of the subnetwork for pods. Default: GKE creates one.")
    services_range_name: str | None = Field(default=None, description="Secondary range for services. Default: GKE creates one.")
    kms_key: StrInput = Field(
        description="Cloud KMS crypto key id (projects/…/locations/<region>/keyRings/…/cryptoKeys/…, Input) for Kubernetes Secrets and node boot disks. Required."
    )
    grant_key_access: bool = Field(
        default=True, description="Let the GKE and Compute Engine service agents use the key (additive key IAM members). Default true."
    )
    cluster_name: str | None = Field(default=None, description="GKE cluster name (1-40 of [a-z0-9-]). Default llm-<stack>.")
    mode: Literal["standard", "autopilot"] = Field(
        default="standard", description="GKE Standard with node pools, or Autopilot. Default standard."
    )
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(
        default="REGULAR", description="Release channel; GKE picks and upgrades the version within it. Default REGULAR."
    )
    maintenance_start_time: str = Field(default="03:00", description="Daily maintenance window start, HH:MM UTC. Default 03:00.")
    master_ipv4_cidr: str = Field(default="172.16.0.0/28", description="The control plane's private /28. Default 172.16.0.0/28.")
    private_endpoint: bool = Field(
        default=True,
        description="Control plane reachable only on its private endpoint. Default true (run Pulumi from the VPC or a peered network).",
    )
    master_authorized_networks: dict[str, str] = Field(
        default_factory=dict,
        description="Networks allowed to reach the control plane: display name -> CIDR (never 0.0.0.0/0). Default none (the VPC only).",
    )
    deletion_protection: bool = Field(default=True, description="Refuse to delete the cluster until this is turned off. Default true.")
    system_machine_type: str = Field(
        default="e2-standard-4", description="Machine type of the system pool (standard). Default e2-standard-4."
    )
    system_nodes: NodeRange = Field(default=NodeRange(min=2, max=6), description="System pool size in total (standard). Default 2-6.")
    gpu_pools: dict[str, GpuPool] = Field(
        default_factory=lambda: {"l4": GpuPool(machine_type="g2-standard-24")},
        description="GPU pools by stable key ([a-z0-9-], at most 20). Default l4: g2-standard-24 (2 × L4), spot 0-2 then on-demand 0-1.",
    )
    gpu_driver_version: Literal["LATEST", "DEFAULT"] = Field(
        default="LATEST", description="NVIDIA driver GKE installs on GPU nodes: LATEST or DEFAULT for the GKE version. Default LATEST."
    )
    on_demand_first: bool = Field(
        default=True,
        description="The ComputeClass tries the on-demand pools before the spot ones (and migrates pods back to them when they "
        "have room), so the servers' fewest replicas stay off spot up to the on-demand pools' size; false: spot first "
        "(serving.all_spot). Default true.",
    )
    prometheus: Literal["kube-prometheus-stack", "managed"] = Field(
        default="kube-prometheus-stack",
        description="kube-prometheus-stack in the cluster, or Managed Service for Prometheus (PodMonitoring; required on Autopilot). Default kube-prometheus-stack.",
    )
    gateway_api: bool = Field(
        default=False,
        description="Turn on GKE's Gateway API (standard channel: Gateway, HTTPRoute and GKE's policies served), which the "
        "inference extension's Gateway needs (kubernetes/inference_gateway.py). Default false.",
    )

    @model_validator(mode="after")
    def _valid(self) -> GkeClusterArgs:
        problem = r.cluster_name_problem(self.name)
        if problem:
            raise UserError(f"cluster_name: {problem}")
        if not _PROJECT.match(self.project):
            raise UserError(f"project: {self.project!r} is not a Google Cloud project id (6-30 of [a-z0-9-], starting with a letter)")
        if not _REGION.match(self.region):
            raise UserError(f"region: {self.region!r} is not a Google Cloud region such as us-central1")
        if not _TIME.match(self.maintenance_start_time):
            raise UserError(f"maintenance_start_time: {self.maintenance_start_time!r} is not HH:MM (UTC)")
        try:
            master = ipaddress.ip_network(self.master_ipv4_cidr, strict=True)
        except ValueError:
            raise UserError(f"master_ipv4_cidr: {self.master_ipv4_cidr!r} is not a network in CIDR notation") from None
        if master.prefixlen != 28 or not master.is_private:
            raise UserError(f"master_ipv4_cidr: {self.master_ipv4_cidr!r} must be a private /28")
        for display, cidr in self.master_authorized_networks.items():
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise UserError(f"master_authorized_networks.{display}: {cidr!r} is not a network in CIDR notation") from None
            if network.prefixlen == 0:
                raise UserError(f"master_authorized_networks.{display}: {cidr!r} opens the control plane to the internet")
        if self.mode == "autopilot" and self.prometheus != "managed":
            raise UserError(
                "prometheus: Autopilot needs 'managed' (kube-prometheus-stack's node exporter needs host access Autopilot refuses)"
            )
        if not self.gpu_pools:
            raise UserError("gpu_pools: at least one GPU pool is needed")
        for key, pool in self.gpu_pools.items():
            if not _KEY.match(key) or len(key) > 20:
                raise UserError(f"gpu_pools: key {key!r} must be lower-case letters, digits and '-' (at most 20)")
            machine = r.resolve_gpu(key, pool.machine_type, pool.accelerator, pool.gpus)
            if self.mode == "standard" and not machine.machine_type:
                raise UserError(f"gpu_pools.{key}.machine_type: required in standard mode")
            if self.mode == "autopilot":
                r.check_autopilot_gpu(key, machine.accelerator)
                if pool.zones:
                    raise UserError(f"gpu_pools.{key}.zones: Autopilot places GPU nodes itself; leave zones empty")
            if pool.spot is None and pool.on_demand is None:
                raise UserError(f"gpu_pools.{key}: give spot, on_demand or both")
            for zone in pool.zones:
                if not zone.startswith(f"{self.region}-"):
                    raise UserError(f"gpu_pools.{key}.zones: {zone!r} is not a zone of {self.region}")
        return self

    @property
    def name(self) -> str:
        """The GKE cluster name."""
        return self.cluster_name or f"llm-{self.labels.stack}"

    def machine(self, key: str) -> r.GpuMachine:
        pool = self.gpu_pools[key]
        return r.resolve_gpu(key, pool.machine_type, pool.accelerator, pool.gpus)

    @property
    def gpus_per_node(self) -> int:
        """GPUs of the smallest GPU node: a server asking for at most this many fits every pool."""
        return min(self.machine(key).gpus for key in self.gpu_pools)

    @property
    def gpu_zone_count(self) -> int:
        """Zones the GPU nodes may come up in: the fewest of any pool (its `zones`, else the regional cluster's
        default node locations, r.REGIONAL_DEFAULT_ZONES)."""
        return min(len(pool.zones) or r.REGIONAL_DEFAULT_ZONES for pool in self.gpu_pools.values())


@dataclass
class WorkloadIdentity:
    """A Google service account for one Kubernetes service account, and what must exist before its pods."""

    email: pulumi.Output[str]
    annotations: dict[str, pulumi.Output[str]]
    parts: list[pulumi.Resource] = field(default_factory=list[pulumi.Resource])


class GkeCluster(pulumi.ComponentResource):
    """A GKE cluster with GPU capacity and the add-ons model serving needs."""

    provider: k8s.Provider
    cluster_name: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_service_account_email: pulumi.Output[str]
    gpu_placement: render.Placement
    compute_class: str
    prometheus_url: str
    keda_authentication: dict[str, str] | None
    addons: list[pulumi.Resource]
    workload_identities: dict[str, list[pulumi.Resource]]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:GkeCluster", name, None, opts)
        self._name = name
        self._args = args
        self.workload_identities = {}

        node_email, node_roles, key_grants = self._identities()
        cluster = self._new_cluster(node_email, before=[*key_grants, *node_roles])
        pools = _NodePools()
        if args.mode == "standard":
            pools = self._node_pools(node_email, node_roles)
        self._kubernetes_provider(cluster)
        kube = Installer(
            self,
            self.provider,
            name,
            kubernetes_labels(args.labels),
            on_cluster=[cluster, *pools.resources],
            namespaces_after=[cluster],
        )
        releases: list[pulumi.Resource] = [self._compute_class(kube, pools)]
        prometheus, metrics = self._metrics(kube)
        releases += metrics
        releases += self._keda(kube, prometheus)

        self.gpu_placement = r.gpu_placement(args.gpus_per_node, zones=args.gpu_zone_count)
        self.addons = releases
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_id": self.cluster_id,
                "node_service_account_email": self.node_service_account_email,
                "prometheus_url": self.prometheus_url,
                "compute_class": self.compute_class,
            }
        )

    # ---- steps of the constructor, in creation order ---------------------------------------------

    def _identities(self) -> tuple[pulumi.Output[str], list[pulumi.Resource], list[pulumi.Resource]]:
        """The nodes' service account with GKE's minimal node roles, and the service agents' grants on the key.

        Returns the nodes' e-mail, their role bindings and the key grants."""
        name, args, project = self._name, self._args, self._args.project
        here = pulumi.ResourceOptions(parent=self)
        node_sa = gcp.serviceaccount.Account(
            child(name, "nodes-sa"),
            project=project,
            account_id=r.account_id(args.name, "nodes"),
            display_name=f"GKE nodes of {args.name}",
            description="pulumi-llm: node service account with GKE's minimal node roles",
            opts=here,
        )
        node_email = node_sa.account_id.apply(lambda a: r.service_account_email(a, project))
        self.node_service_account_email = node_email
        node_roles: list[pulumi.Resource] = [
            gcp.projects.IAMMember(
                child(name, f"nodes-{_slug(role)}"),
                project=project,
                role=role,
                member=node_email.apply(lambda e: f"serviceAccount:{e}"),
                opts=here,
            )
            for role in r.NODE_ROLES
        ]
        key_grants: list[pulumi.Resource] = []
        if args.grant_key_access:
            number = gcp.organizations.get_project_output(project_id=project, opts=pulumi.InvokeOutputOptions(parent=self)).number
            for agent in ("gke", "compute"):
                key_grants.append(
                    gcp.kms.CryptoKeyIAMMember(
                        child(name, f"key-{agent}"),
                        crypto_key_id=args.kms_key,
                        role=KMS_ROLE,
                        member=number.apply(lambda n, agent=agent: r.service_agents(str(n))[agent]),
                        opts=here,
                    )
                )
        return node_email, node_roles, key_grants

    def _new_cluster(self, node_email: pulumi.Output[str], *, before: list[pulumi.Resource]) -> gcp.container.Cluster:
        cluster = gcp.container.Cluster(
            child(self._name, "cluster"),
            **_cluster_inputs(self._args, node_email),
            opts=pulumi.ResourceOptions(parent=self, depends_on=before),
        )
        self._cluster = cluster
        self.cluster_name = cluster.name
        self.cluster_id = cluster.id
        return cluster

    def _node_pools(self, node_email: pulumi.Output[str], node_roles: list[pulumi.Resource]) -> _NodePools:
        """Standard mode: the system pool and a spot and/or on-demand pool per GPU pool."""
        args = self._args
        pools = _NodePools()
        pools.resources.append(
            self._node_pool(
                "system",
                pool_name="system",
                machine_type=args.system_machine_type,
                nodes=args.system_nodes,
                spot=False,
                node_labels=dict(r.SYSTEM_NODE_LABELS),
                taints=[],
                zones=(),
                disk_size_gb=100,
                accelerator=None,
                network_tags=[r.SYSTEM_NODE_TAG],
                email=node_email,
                after=node_roles,
            )
        )
        for key in args.gpu_pools:
            pool = args.gpu_pools[key]
            machine = args.machine(key)
            for capacity, nodes in (("spot", pool.spot), ("on-demand", pool.on_demand)):
                if nodes is None:
                    continue
                pool_name = r.node_pool_name(key, capacity)
                (pools.spot if capacity == "spot" else pools.on_demand).append(pool_name)
                pools.resources.append(
                    self._node_pool(
                        f"gpu-{key}-{capacity}",
                        pool_name=pool_name,
                        machine_type=machine.machine_type,
                        nodes=nodes,
                        spot=capacity == "spot",
                        node_labels=r.gpu_pool_labels(),
                        taints=r.gpu_pool_taints(),
                        zones=pool.zones,
                        disk_size_gb=pool.disk_size_gb,
                        accelerator=machine,
                        network_tags=[r.GPU_NODE_TAG],
                        email=node_email,
                        after=node_roles,
                    )
                )
        return pools

    def _kubernetes_provider(self, cluster: gcp.container.Cluster) -> None:
        """`kubeconfig` and the Kubernetes provider every in-cluster resource uses."""
        args = self._args
        cluster_name, project, region = args.name, args.project, args.region
        self.kubeconfig = pulumi.Output.all(cluster.endpoint, cluster.master_auth).apply(
            lambda em: r.kubeconfig(cluster_name, em[0] or "", _ca(em[1]), project, region)
        )
        self.provider = k8s.Provider(
            child(self._name, "k8s"),
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _compute_class(self, kube: Installer, pools: _NodePools) -> pulumi.Resource:
        """The GPU ComputeClass: on-demand first, then spot (spot first with on_demand_first false)."""
        args = self._args
        if args.mode == "standard":
            class_spec = r.compute_class_standard(pools.spot, pools.on_demand, on_demand_first=args.on_demand_first)
        else:
            gpus = [(args.machine(k).accelerator, args.machine(k).gpus) for k in args.gpu_pools]
            class_spec = r.compute_class_autopilot(
                gpus,
                spot=any(p.spot is not None for p in args.gpu_pools.values()),
                on_demand=any(p.on_demand is not None for p in args.gpu_pools.values()),
                driver=args.gpu_driver_version,
                on_demand_first=args.on_demand_first,
            )
        self.compute_class = r.GPU_COMPUTE_CLASS
        return k8s.apiextensions.CustomResource(
            child(self._name, "gpu-compute-class"),
            api_version="cloud.google.com/v1",
            kind="ComputeClass",
            metadata={"name": r.GPU_COMPUTE_CLASS, "labels": kube.labels},
            spec=class_spec,
            opts=kube.opts(),
        )

    def _metrics(self, kube: Installer) -> tuple[list[pulumi.Resource], list[pulumi.Resource]]:
        """In-cluster Prometheus unless Managed Service for Prometheus; the DCGM exporter on standard clusters.

        Returns the Prometheus release (empty under managed Prometheus) and everything installed."""
        args = self._args
        managed_prometheus = args.prometheus == "managed"
        releases: list[pulumi.Resource] = []
        prometheus: list[pulumi.Resource] = []
        if managed_prometheus:
            self.prometheus_url = r.gmp_query_url(args.project)
        else:
            self.prometheus_url = addons.prometheus_url()
            prometheus = [
                kube.release(
                    "prometheus", pins.KUBE_PROMETHEUS_STACK_CHART, addons.MONITORING_NAMESPACE, r.prometheus_values(), "privileged"
                )
            ]
            releases += prometheus

        if args.mode == "standard":
            dcgm = kube.release(
                "dcgm-exporter",
                pins.DCGM_EXPORTER_CHART,
                r.NVIDIA_NAMESPACE,
                r.dcgm_exporter_values(service_monitor=not managed_prometheus),
                "privileged",
                *prometheus,
            )
            releases.append(dcgm)
            if managed_prometheus:
                body = r.dcgm_pod_monitoring(kube.labels)
                releases.append(
                    k8s.apiextensions.CustomResource(
                        child(self._name, "dcgm-pod-monitoring"),
                        api_version=body["apiVersion"],
                        kind=body["kind"],
                        metadata=body["metadata"],
                        spec=body["spec"],
                        opts=kube.opts(dcgm),
                    )
                )
        return prometheus, releases

    def _keda(self, kube: Installer, prometheus: list[pulumi.Resource]) -> list[pulumi.Resource]:
        """KEDA; under managed Prometheus with a workload identity that reads Cloud Monitoring and its trigger authentication."""
        self.keda_authentication = None
        if self._args.prometheus != "managed":
            return [kube.release("keda", pins.KEDA_CHART, r.KEDA_NAMESPACE, r.keda_values(service_monitor=True), "restricted", *prometheus)]
        reader = self.workload_identity(r.KEDA_NAMESPACE, r.KEDA_OPERATOR_SERVICE_ACCOUNT, project_roles=("roles/monitoring.viewer",))
        keda = kube.release(
            "keda",
            pins.KEDA_CHART,
            r.KEDA_NAMESPACE,
            r.keda_values(service_monitor=False, gcp_service_account=reader.email),
            "restricted",
            *reader.parts,
        )
        trigger_auth = k8s.apiextensions.CustomResource(
            child(self._name, "keda-gmp-auth"),
            api_version="keda.sh/v1alpha1",
            kind="ClusterTriggerAuthentication",
            metadata={"name": r.GMP_TRIGGER_AUTHENTICATION, "labels": kube.labels},
            spec=r.trigger_authentication_spec(),
            opts=kube.opts(keda),
        )
        self.keda_authentication = {"kind": "ClusterTriggerAuthentication", "name": r.GMP_TRIGGER_AUTHENTICATION}
        return [keda, trigger_auth]

    # ---- helpers ---------------------------------------------------------------------------------

    def workload_identity(
        self,
        namespace: str,
        service_account: str,
        *,
        project_roles: Sequence[str] = (),
        bucket_roles: Mapping[str, Sequence[str]] | None = None,
    ) -> WorkloadIdentity:
        """A Google service account for one Kubernetes service account through GKE Workload Identity.

        Creates `<name>-<namespace>-<service_account>-gsa`, lets exactly
        `serviceAccount:<project>.svc.id.goog[<namespace>/<service_account>]` impersonate it
        (`roles/iam.workloadIdentityUser` on that account only), and grants it `project_roles` on the
        project and `bucket_roles` (bucket name -> roles) on those buckets. Primitive roles are refused.
        Annotate the Kubernetes service account with `.annotations`; create the pods with
        `depends_on=gke.workload_identities["<namespace>/<service_account>"]`.
        """
        args = self._args
        project = args.project
        key = f"{namespace}-{service_account}"
        where = f"workload_identity({namespace}/{service_account})"
        for role in project_roles:
            r.check_role(role, where)
        for bucket, roles in (bucket_roles or {}).items():
            for role in roles:
                r.check_role(role, f"{where}.{bucket}")
        here = pulumi.ResourceOptions(parent=self)
        gsa = gcp.serviceaccount.Account(
            child(self._name, f"{key}-gsa"),
            project=project,
            account_id=r.account_id(args.name, namespace, service_account),
            display_name=f"{args.name}: {namespace}/{service_account}",
            description="pulumi-llm: Workload Identity of one Kubernetes service account",
            opts=here,
        )
        email = gsa.account_id.apply(lambda a: r.service_account_email(a, project))
        member = email.apply(lambda e: f"serviceAccount:{e}")
        parts: list[pulumi.Resource] = [
            gsa,
            # The workload pool exists once the cluster does.
            gcp.serviceaccount.IAMMember(
                child(self._name, f"{key}-wi"),
                service_account_id=email.apply(lambda e: f"projects/{project}/serviceAccounts/{e}"),
                role="roles/iam.workloadIdentityUser",
                member=r.workload_identity_member(project, namespace, service_account),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self._cluster]),
            ),
        ]
        for role in project_roles:
            parts.append(
                gcp.projects.IAMMember(child(self._name, f"{key}-{_slug(role)}"), project=project, role=role, member=member, opts=here)
            )
        for bucket, roles in sorted((bucket_roles or {}).items()):
            for role in roles:
                parts.append(
                    gcp.storage.BucketIAMMember(
                        child(self._name, f"{key}-{bucket}-{_slug(role)}"), bucket=bucket, role=role, member=member, opts=here
                    )
                )
        self.workload_identities[f"{namespace}/{service_account}"] = parts
        return WorkloadIdentity(email=email, annotations=r.workload_identity_annotation(email), parts=parts)

    def internal_endpoint(
        self,
        namespace: str,
        served: str,
        port: int,
        source_ranges: Sequence[str],
        *,
        depends_on: Sequence[pulumi.Resource] = (),
        selector: Mapping[str, str] | None = None,
    ) -> pulumi.Output[str]:
        """An internal passthrough load balancer in front of one model server (`gke_render.internal_lb_service`),
        or of the pods `selector` picks (the model's router, on `port`),
        admitting only `source_ranges`; returns its URL, `http://<address>:<port>` ('pending' until GKE
        assigns the address). The VPC firewall must admit the same ranges to `GPU_NODE_TAG` nodes
        (GcpNetwork's `gateway_target_tags`); the model's NetworkPolicy must admit them too."""
        body = r.internal_lb_service(
            f"{served}-internal",
            namespace,
            selector or render.selector_labels(served),
            port,
            source_ranges,
            # Labelled as what it selects: a model server's ServiceMonitor must not pick a router's load balancer.
            labels={
                **kubernetes_labels(
                    self._args.labels.with_model(served),
                    component=(selector or {}).get("app.kubernetes.io/component", "model-server"),
                )
            },
        )
        service = k8s.core.v1.Service(
            child(self._name, f"{namespace}-{served}-ilb"),
            metadata=body["metadata"],
            spec=body["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=list(depends_on)),
        )
        return service.status.apply(lambda s: f"http://{r.load_balancer_ip(s) or 'pending'}:{port}")

    def _node_pool(
        self,
        role: str,
        *,
        pool_name: str,
        machine_type: str,
        nodes: NodeRange,
        spot: bool,
        node_labels: dict[str, str],
        taints: list[dict[str, str]],
        zones: Sequence[str],
        disk_size_gb: int,
        accelerator: r.GpuMachine | None,
        email: pulumi.Output[str],
        after: list[pulumi.Resource],
        network_tags: Sequence[str] = (),
    ) -> gcp.container.NodePool:
        args = self._args
        node_config: dict[str, Any] = {
            "machine_type": machine_type,
            "image_type": r.NODE_IMAGE,
            "disk_size_gb": disk_size_gb,
            "disk_type": _disk_type(machine_type),
            "boot_disk_kms_key": args.kms_key,
            "service_account": email,
            "oauth_scopes": list(r.NODE_OAUTH_SCOPES),
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            # Pods reach the GKE metadata server only: Workload Identity, never the node's account.
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "gcfs_config": {"enabled": True},  # image streaming: multi-GB images start before fully pulled
            "gvnic": {"enabled": True},
            "metadata": {"disable-legacy-endpoints": "true"},
            "labels": node_labels,
            "taints": taints,
            "resource_labels": gcp_labels(self._args.labels),
            "spot": spot,
        }
        if network_tags:
            node_config["tags"] = list(network_tags)
        if accelerator is not None:
            node_config["guest_accelerators"] = [
                {
                    "type": accelerator.accelerator,
                    "count": accelerator.gpus,
                    # GKE installs the driver; no driver DaemonSet, no GPU Operator.
                    "gpu_driver_installation_config": {"gpu_driver_version": args.gpu_driver_version},
                }
            ]
        inputs: dict[str, Any] = dict(
            name=pool_name,
            project=args.project,
            location=args.region,
            cluster=self._cluster.name,
            autoscaling={
                "total_min_node_count": nodes.min,
                "total_max_node_count": nodes.max,
                # Spot: any zone with capacity; on-demand and system: spread evenly.
                "location_policy": "ANY" if spot else "BALANCED",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            upgrade_settings={"max_surge": 1, "max_unavailable": 0},
            node_config=node_config,
        )
        if zones:
            inputs["node_locations"] = list(zones)
        return gcp.container.NodePool(
            child(self._name, f"{role}-nodes"),
            **inputs,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )


def _slug(role: str) -> str:
    """`roles/logging.logWriter` -> `logging-logwriter`: a stable child-name part."""
    return role.rsplit("/", 1)[-1].replace(".", "-").lower()


def _disk_type(machine_type: str) -> str:
    # A3 Ultra and A4 machines boot only from Hyperdisk.
    return "hyperdisk-balanced" if machine_type.startswith(("a3-ultragpu", "a4-")) else "pd-balanced"


def _ca(master_auth: object) -> str:
    if master_auth is None:
        return ""
    if isinstance(master_auth, dict):
        fields = cast(dict[str, Any], master_auth)
        return fields.get("cluster_ca_certificate") or fields.get("clusterCaCertificate") or ""
    return getattr(master_auth, "cluster_ca_certificate", None) or ""


@dataclass
class _NodePools:
    """The standard-mode node pools: their resources, and the names of the spot and on-demand GPU pools."""

    resources: list[pulumi.Resource] = field(default_factory=list[pulumi.Resource])
    spot: list[str] = field(default_factory=list[str])
    on_demand: list[str] = field(default_factory=list[str])


def _cluster_inputs(args: GkeClusterArgs, node_email: pulumi.Output[str]) -> dict[str, Any]:
    """The Cluster's inputs: private nodes, CMEK for secrets and boot disks, Standard or Autopilot specifics."""
    standard = args.mode == "standard"
    managed_prometheus = args.prometheus == "managed"
    ip_policy: dict[str, str] = {}
    if args.pods_range_name:
        ip_policy["cluster_secondary_range_name"] = args.pods_range_name
    if args.services_range_name:
        ip_policy["services_secondary_range_name"] = args.services_range_name
    metrics: list[str] = list(r.CONTROL_PLANE_METRICS)
    if managed_prometheus:
        metrics += list(r.MANAGED_STATE_METRICS)
        if not standard:
            metrics.append("DCGM")  # Autopilot: GKE's managed DCGM metrics instead of the exporter chart
    cluster_inputs: dict[str, Any] = dict(
        name=args.name,
        project=args.project,
        location=args.region,
        network=args.network,
        subnetwork=args.subnetwork,
        release_channel={"channel": args.release_channel},
        maintenance_policy={"daily_maintenance_window": {"start_time": args.maintenance_start_time}},
        private_cluster_config={
            "enable_private_nodes": True,
            "enable_private_endpoint": args.private_endpoint,
            "master_ipv4_cidr_block": args.master_ipv4_cidr,
        },
        master_authorized_networks_config={
            "cidr_blocks": [
                {"display_name": display, "cidr_block": cidr} for display, cidr in sorted(args.master_authorized_networks.items())
            ],
            "gcp_public_cidrs_access_enabled": False,
        },
        ip_allocation_policy=ip_policy,
        database_encryption={"state": "ENCRYPTED", "key_name": args.kms_key},
        logging_config={"enable_components": list(r.CONTROL_PLANE_LOGS)},
        monitoring_config={"enable_components": metrics, "managed_prometheus": {"enabled": managed_prometheus}},
        resource_labels=gcp_labels(args.labels),
        deletion_protection=args.deletion_protection,
    )
    if args.gateway_api:
        cluster_inputs["gateway_api_config"] = {"channel": GKE_GATEWAY_API_CHANNEL}
    node_defaults = {
        "service_account": node_email,
        "oauth_scopes": list(r.NODE_OAUTH_SCOPES),
        "boot_disk_kms_key": args.kms_key,
    }
    if standard:
        cluster_inputs.update(
            remove_default_node_pool=True,
            initial_node_count=1,
            # Even the default pool GKE creates and removes runs as our account, not the default one.
            node_config={
                **node_defaults,
                "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                "workload_metadata_config": {"mode": "GKE_METADATA"},
            },
            enable_shielded_nodes=True,
            workload_identity_config={"workload_pool": r.workload_pool(args.project)},
            datapath_provider="ADVANCED_DATAPATH",
            node_pool_defaults={"node_config_defaults": {"gcfs_config": {"enabled": True}}},
            addons_config={
                "gcs_fuse_csi_driver_config": {"enabled": True},
                "gce_persistent_disk_csi_driver_config": {"enabled": True},
            },
        )
    else:
        # Autopilot: Workload Identity, Shielded nodes, Dataplane V2 and image streaming are always on.
        cluster_inputs.update(
            enable_autopilot=True,
            cluster_autoscaling={"auto_provisioning_defaults": node_defaults},
            # The firewall rule admitting the gateway targets this tag on the nodes Autopilot creates.
            node_pool_auto_config={"network_tags": {"tags": [r.GPU_NODE_TAG]}},
        )
    return cluster_inputs


__all__ = ["GkeCluster", "GkeClusterArgs", "GpuPool", "NodeRange", "WorkloadIdentity"]
