"""EksCluster: an EKS cluster with GPU capacity, ready for ModelServing.

Builds a private, KMS-encrypted EKS control plane (API authentication through access entries, control
plane logs in an encrypted log group), a small system node group, the pinned EKS add-ons, GPU capacity
(Karpenter NodePool + EC2NodeClass, or a managed node group on the AL2023 NVIDIA AMI), the NVIDIA
stack, the AWS Load Balancer Controller, KEDA and kube-prometheus-stack (optionally remote-writing to
Amazon Managed Prometheus). Controllers get AWS rights through EKS Pod Identity, never node roles or
static keys.

It does not serve models: it outputs the Kubernetes `provider` (a kubeconfig with `aws eks get-token`
exec auth), the `gpu_placement` and the `prometheus_url` that the platform hands to ModelServing, and
`pod_identity(...)` to give the model servers their S3 access.

Needs an AWS provider through `opts` (the platform's, with default providers disabled). The pure
parts (kubeconfig, Karpenter objects, IAM documents, Helm values) live in `eks_render`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Literal, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..kubernetes import addons, render
from ..labels import CommonLabels, aws_tags, kubernetes_labels
from ..naming import child
from ..validation import AWS_REGION as _REGION
from ..validation import DNS1123_LABEL as _KEY
from . import eks_render as r
from .installer import Installer

# `pulumi.Input[str]` in a form pydantic can validate: a plain string or an Output of one.
StrInput = str | pulumi.Output[str]

LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
CapacityType = Literal["spot", "on-demand"]


class NodeScaling(BaseModel):
    """Size of a managed node group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(ge=0, description="Fewest nodes. Required.")
    desired: int = Field(ge=0, description="Nodes at creation (later changes are the autoscaler's). Required.")
    max: int = Field(ge=1, description="Most nodes. Required.")

    @model_validator(mode="after")
    def _ordered(self) -> NodeScaling:
        if not self.min <= self.desired <= self.max:
            raise ValueError(f"need min <= desired <= max, got {self.min}, {self.desired}, {self.max}")
        return self


class EksClusterArgs(BaseModel):
    """The cluster, its GPU capacity and its add-ons."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack. Required.")
    region: str = Field(description="AWS region of the cluster (the provider's), e.g. us-east-1. Required.")
    vpc_id: StrInput = Field(description="VPC of the private subnets (Input). Required.")
    private_subnet_ids: tuple[StrInput, ...] = Field(
        min_length=2, description="Private subnets in at least two zones for control plane ENIs and nodes (Inputs). Required."
    )
    kms_key_arn: StrInput = Field(
        description=(
            "Customer-managed KMS key (Input) for Kubernetes Secrets, the control-plane log group, node root "
            "volumes and AMP. Its key policy must let CloudWatch Logs, EC2/EBS and AMP use it. Required."
        )
    )
    cluster_name: str | None = Field(default=None, description="EKS cluster name (1-100 of [A-Za-z0-9_-]). Default: llm-<stack>.")
    kubernetes_version: str = Field(
        default=pins.EKS_KUBERNETES_VERSION,
        description=f"Kubernetes minor; must match the add-on pins. Default {pins.EKS_KUBERNETES_VERSION} (pins.EKS_KUBERNETES_VERSION).",
    )
    endpoint_public_access: bool = Field(
        default=False, description="Expose the API server endpoint publicly (to public_access_cidrs only). Default false: private only."
    )
    public_access_cidrs: tuple[str, ...] = Field(
        default=(), description="CIDRs allowed to reach a public endpoint; required when public, refused otherwise. Default none."
    )
    admin_principal_arns: dict[str, str] = Field(
        default_factory=dict,
        description="Cluster admins: stable key -> IAM role/user ARN, each given an access entry with AmazonEKSClusterAdminPolicy. Default none.",
    )
    bootstrap_creator_admin: bool = Field(
        default=True,
        description=(
            "Give the identity that creates the cluster (the one running Pulumi) admin access, which the Helm "
            "releases need. Do not list that identity in admin_principal_arns too. Default true."
        ),
    )
    log_types: tuple[LogType, ...] = Field(
        default=r.CONTROL_PLANE_LOG_TYPES, description="Control-plane log types sent to CloudWatch. Default all five."
    )
    log_retention_days: int = Field(default=90, ge=1, description="Retention of the control-plane log group, in days. Default 90.")
    deletion_protection: bool = Field(default=True, description="Refuse to delete the cluster until this is turned off. Default true.")
    system_instance_type: str = Field(default="m7i.large", description="Instance type of the system node group. Default m7i.large.")
    system_nodes: NodeScaling = Field(
        default=NodeScaling(min=2, desired=2, max=4), description="System node group size. Default min 2, desired 2, max 4."
    )
    gpu_capacity: Literal["karpenter", "node-group"] = Field(
        default="karpenter", description="How GPU nodes come: Karpenter NodePool, or a fixed managed node group. Default karpenter."
    )
    gpu_instances: tuple[str, ...] | None = Field(
        default=None,
        description=(
            "GPU instance families (karpenter: g6e, g6) or exact types (karpenter or node-group: g6e.xlarge). "
            "Default: families g6e, g6 with karpenter; g6e.xlarge with node-group."
        ),
    )
    capacity_types: tuple[CapacityType, ...] | None = Field(
        default=None,
        description="GPU capacity types. Default: spot then on-demand with karpenter; on-demand with node-group (exactly one there).",
    )
    max_gpus: int = Field(default=8, ge=1, description="Most GPUs Karpenter may provision in total (NodePool limit). Default 8.")
    on_demand_gpus: int = Field(
        default=0,
        ge=0,
        description="Karpenter: GPUs of an on-demand NodePool Karpenter fills first (weight 100) — the models' fewest replicas "
        "stay off spot; the burst pool (capacity_types) holds max_gpus minus these. Default 0: no floor pool (all-spot allowed).",
    )
    gpu_nodes: NodeScaling = Field(
        default=NodeScaling(min=1, desired=1, max=2), description="GPU node group size (node-group only). Default min 1, desired 1, max 2."
    )
    gpus_per_node: int | None = Field(
        default=None, ge=1, description="GPUs of one GPU node, for multi-node placement of big models. Default: unknown."
    )
    root_volume_gib: int = Field(
        default=r.ROOT_VOLUME_GIB, ge=50, description="Root volume of GPU nodes in GiB (images are large). Default 200."
    )
    prometheus: Literal["kube-prometheus-stack", "amp"] = Field(
        default="kube-prometheus-stack",
        description="kube-prometheus-stack in the cluster, or the same plus remote write to a KMS-encrypted Amazon Managed Prometheus workspace. Default kube-prometheus-stack.",
    )
    nvidia_stack: Literal["device-plugin", "gpu-operator"] = Field(
        default="device-plugin",
        description="NVIDIA device plugin + DCGM exporter, or the GPU Operator with driver and toolkit off (the AMI has them). Default device-plugin.",
    )

    @model_validator(mode="after")
    def _valid(self) -> EksClusterArgs:
        problem = r.cluster_name_problem(self.name)
        if problem:
            raise ValueError(f"cluster_name: {problem}")
        if self.gpu_capacity == "karpenter" and len(r.interruption_queue_name(self.name)) > 80:
            raise ValueError(
                f"cluster_name: {self.name!r} is too long for Karpenter's interruption queue "
                f"{r.interruption_queue_name(self.name)!r} (SQS names have at most 80 characters)"
            )
        if not _REGION.match(self.region):
            raise ValueError(f"region: {self.region!r} is not an AWS region name such as us-east-1")
        if self.kubernetes_version != pins.EKS_KUBERNETES_VERSION:
            raise ValueError(
                f"kubernetes_version: {self.kubernetes_version!r} has no pinned add-ons; the pins are for "
                f"{pins.EKS_KUBERNETES_VERSION} (bump pins.EKS_KUBERNETES_VERSION and EKS_ADDONS together)"
            )
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ValueError("public_access_cidrs: required when endpoint_public_access is true (never 0.0.0.0/0)")
        if not self.endpoint_public_access and self.public_access_cidrs:
            raise ValueError("public_access_cidrs: only allowed when endpoint_public_access is true")
        for cidr in self.public_access_cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"public_access_cidrs: {cidr!r} is not a network in CIDR notation") from None
            if network.prefixlen == 0:
                raise ValueError(f"public_access_cidrs: {cidr!r} opens the API to the internet; list the networks that need it")
        for key, arn in self.admin_principal_arns.items():
            if not _KEY.match(key) or len(key) > 40:
                raise ValueError(f"admin_principal_arns: key {key!r} must be lower-case letters, digits and '-' (at most 40)")
            if not r.IAM_PRINCIPAL_ARN.match(arn):
                raise ValueError(f"admin_principal_arns.{key}: {arn!r} is not an IAM role or user ARN")
        if len(set(self.log_types)) != len(self.log_types):
            raise ValueError(f"log_types: duplicates in {list(self.log_types)}")
        instances = self.instances
        if len(set(instances)) != len(instances):
            raise ValueError(f"gpu_instances: duplicates in {list(instances)}")
        if self.gpu_capacity == "karpenter":
            try:
                r.instance_requirement(instances)
            except ValueError as err:
                raise ValueError(f"gpu_instances: {err}") from None
        else:
            families = [i for i in instances if not r.is_instance_type(i)]
            if families:
                raise ValueError(f"gpu_instances: node groups need exact instance types (g6e.xlarge), not families {families}")
            if len(self.capacities) != 1:
                raise ValueError(f"capacity_types: a node group has exactly one capacity type, not {list(self.capacities)}")
        if self.on_demand_gpus > self.max_gpus:
            raise ValueError(f"on_demand_gpus: {self.on_demand_gpus} is above max_gpus ({self.max_gpus})")
        if len(set(self.capacities)) != len(self.capacities) or not self.capacities:
            raise ValueError(f"capacity_types: one or more distinct values needed, got {list(self.capacities)}")
        return self

    @property
    def name(self) -> str:
        """The EKS cluster name."""
        return self.cluster_name or f"llm-{self.labels.stack}"

    @property
    def instances(self) -> tuple[str, ...]:
        if self.gpu_instances is not None:
            return self.gpu_instances
        return ("g6e", "g6") if self.gpu_capacity == "karpenter" else ("g6e.xlarge",)

    @property
    def capacities(self) -> tuple[str, ...]:
        if self.capacity_types is not None:
            return self.capacity_types
        return ("spot", "on-demand") if self.gpu_capacity == "karpenter" else ("on-demand",)


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster with GPU capacity and the add-ons model serving needs."""

    provider: k8s.Provider
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str | None]
    kubeconfig: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    gpu_placement: render.Placement
    prometheus_url: str
    amp_workspace_arn: pulumi.Output[str] | None
    addons: list[pulumi.Resource]
    workload_identities: dict[str, list[pulumi.Resource]]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:EksCluster", name, None, opts)
        self._name = name
        self._args = args
        self.workload_identities = {}
        tags = aws_tags(args.labels)

        cluster, admin_access = self._control_plane(tags)
        # Add-ons that nodes need to become Ready.
        early_addons: list[pulumi.Resource] = [
            self._addon("vpc-cni", tags, [], configuration_values=r.vpc_cni_configuration()),
            *(self._addon(key, tags, []) for key in ("kube-proxy", "eks-pod-identity-agent")),
        ]
        system_nodes, node_role = self._node_groups(cluster, tags, early_addons)
        coredns, ebs_csi = self._node_addons(system_nodes, tags)
        self._kubernetes_provider(cluster)
        # Admin access first: without bootstrap_creator_admin, Pulumi reaches the API through it.
        kube = Installer(
            self,
            self.provider,
            name,
            kubernetes_labels(args.labels),
            on_cluster=[system_nodes, coredns, *admin_access],
            namespaces_after=admin_access,
            existing_namespaces=("kube-system",),
        )
        self._default_storage_class(kube, ebs_csi)
        prometheus = self._observability(kube, tags)
        releases: list[pulumi.Resource] = [prometheus]
        gpu_node_role_arn: pulumi.Output[str] = node_role.arn
        if args.gpu_capacity == "karpenter":
            gpu_node_role_arn, karpenter = self._karpenter(kube, cluster, tags, prometheus)
            releases += karpenter
        releases += self._nvidia_stack(kube, prometheus)
        releases += self._traffic_and_scaling(kube, cluster, prometheus)

        self.node_role_arn = gpu_node_role_arn
        self.gpu_placement = r.gpu_placement(
            args.gpus_per_node, karpenter=args.gpu_capacity == "karpenter", zones=len(args.private_subnet_ids)
        )
        self.addons = releases
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "oidc_issuer": self.oidc_issuer,
                "node_role_arn": self.node_role_arn,
                "prometheus_url": self.prometheus_url,
                **({"amp_workspace_arn": self.amp_workspace_arn} if self.amp_workspace_arn is not None else {}),
            }
        )

    # ---- steps of the constructor, in creation order ---------------------------------------------

    def _managed(self, policy: str) -> pulumi.Output[str]:
        """The ARN of an AWS-managed IAM policy in this account's partition."""
        return self._partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{policy}")

    def _control_plane(self, tags: dict[str, str]) -> tuple[aws.eks.Cluster, list[pulumi.Resource]]:
        """The cluster role, control-plane log group, the EKS cluster and the admin access entries."""
        name, args = self._name, self._args
        cluster_name, region = args.name, args.region
        here = pulumi.ResourceOptions(parent=self)
        cluster_role = aws.iam.Role(
            child(name, "cluster-role"),
            assume_role_policy=r.service_trust_policy("eks.amazonaws.com"),
            tags=tags,
            opts=here,
        )
        # Partition and account come from our own role's ARN (arn:<partition>:iam::<account>:role/...):
        # no invoke, and always the account the provider deploys to.
        self._partition = cluster_role.arn.apply(lambda arn: arn.split(":")[1])
        self._account = cluster_role.arn.apply(lambda arn: arn.split(":")[4])
        partition, account = self._partition, self._account

        cluster_role_policies = [
            aws.iam.RolePolicyAttachment(
                child(name, "cluster-role-eks"), role=cluster_role.id, policy_arn=self._managed("AmazonEKSClusterPolicy"), opts=here
            ),
            aws.iam.RolePolicy(
                child(name, "cluster-role-kms"),
                role=cluster_role.id,
                policy=pulumi.Output.from_input(args.kms_key_arn).apply(r.cluster_key_policy),
                opts=here,
            ),
        ]
        log_group = aws.cloudwatch.LogGroup(
            child(name, "control-plane-logs"),
            name=r.log_group_name(cluster_name),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=here,
        )
        vpc_config: aws.eks.ClusterVpcConfigArgsDict = {
            "subnet_ids": list(args.private_subnet_ids),
            "endpoint_private_access": True,
            "endpoint_public_access": args.endpoint_public_access,
        }
        if args.endpoint_public_access:
            vpc_config["public_access_cidrs"] = list(args.public_access_cidrs)
        cluster = aws.eks.Cluster(
            child(name, "cluster"),
            name=cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=vpc_config,
            encryption_config={"provider": {"key_arn": args.kms_key_arn}, "resources": ["secrets"]},
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": args.bootstrap_creator_admin,
            },
            enabled_cluster_log_types=list(args.log_types),
            # The add-ons below are EKS-managed and pinned; no unmanaged copies to fight with.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *cluster_role_policies]),
        )
        self._cluster = cluster
        self.cluster_name = cluster.name
        self.cluster_arn = pulumi.Output.all(partition, account).apply(lambda pa: r.cluster_arn(pa[0], region, pa[1], cluster_name))
        self.oidc_issuer = cluster.identities.apply(_oidc_issuer)
        return cluster, self._admin_access(cluster, tags)

    def _admin_access(self, cluster: aws.eks.Cluster, tags: dict[str, str]) -> list[pulumi.Resource]:
        """One access entry and cluster-admin policy association per admin principal."""
        name = self._name
        admin_access: list[pulumi.Resource] = []
        admin_policy = self._partition.apply(lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
        for key, principal in sorted(self._args.admin_principal_arns.items()):
            entry = aws.eks.AccessEntry(
                child(name, f"admin-{key}"),
                cluster_name=cluster.name,
                principal_arn=principal,
                type="STANDARD",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            association = aws.eks.AccessPolicyAssociation(
                child(name, f"admin-{key}-policy"),
                cluster_name=cluster.name,
                principal_arn=principal,
                policy_arn=admin_policy,
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )
            admin_access += [entry, association]
        return admin_access

    def _addon(self, key: str, tags: dict[str, str], after: list[pulumi.Resource], **extra: Any) -> aws.eks.Addon:
        """One EKS-managed add-on at its pinned version."""
        pin = pins.EKS_ADDONS[key]
        return aws.eks.Addon(
            child(self._name, key),
            cluster_name=self._cluster.name,
            addon_name=pin.name,
            addon_version=pin.version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            **extra,
        )

    def _node_groups(
        self, cluster: aws.eks.Cluster, tags: dict[str, str], early_addons: list[pulumi.Resource]
    ) -> tuple[aws.eks.NodeGroup, aws.iam.Role]:
        """The node role, the system node group and (gpu_capacity "node-group") the GPU node group."""
        name, args = self._name, self._args
        here = pulumi.ResourceOptions(parent=self)
        node_role = aws.iam.Role(
            child(name, "node-role"), assume_role_policy=r.service_trust_policy("ec2.amazonaws.com"), tags=tags, opts=here
        )
        node_role_policies = _attach_node_policies(child(name, "node-role"), node_role, self._managed, here)
        node_ready = [*early_addons, *node_role_policies]

        system_nodes = self._node_group(
            "system",
            cluster=cluster,
            role=node_role,
            ami_type="AL2023_x86_64_STANDARD",
            instance_types=[args.system_instance_type],
            capacity_type="ON_DEMAND",
            scaling=args.system_nodes,
            labels=dict(r.SYSTEM_NODE_LABELS),
            taints=[],
            root_volume_gib=50,
            tags=tags,
            after=node_ready,
        )
        if args.gpu_capacity == "node-group":
            self._node_group(
                "gpu",
                cluster=cluster,
                role=node_role,
                ami_type="AL2023_x86_64_NVIDIA",
                instance_types=list(args.instances),
                capacity_type="SPOT" if args.capacities == ("spot",) else "ON_DEMAND",
                scaling=args.gpu_nodes,
                labels=dict(r.GPU_NODE_LABELS),
                taints=[{"key": r.GPU_TAINT_KEY, "value": "true", "effect": "NO_SCHEDULE"}],
                root_volume_gib=args.root_volume_gib,
                tags=tags,
                after=node_ready,
            )
        return system_nodes, node_role

    def _node_addons(self, system_nodes: aws.eks.NodeGroup, tags: dict[str, str]) -> tuple[aws.eks.Addon, aws.eks.Addon]:
        """Add-ons that need running nodes: CoreDNS and the EBS CSI driver (with its pod role)."""
        region = self._args.region
        ebs_csi_role = self._pod_role(
            "ebs-csi",
            namespace="kube-system",
            service_account=r.EBS_CSI_SERVICE_ACCOUNT,
            policy=pulumi.Output.from_input(self._args.kms_key_arn).apply(lambda key: r.ebs_csi_key_policy(key, region)),
            managed_policy_arns={"driver": self._managed("service-role/AmazonEBSCSIDriverPolicy")},
            associate=False,  # the add-on creates its own association
        )
        coredns = self._addon("coredns", tags, [system_nodes])
        ebs_csi = self._addon(
            "aws-ebs-csi-driver",
            tags,
            [system_nodes, *ebs_csi_role.parts],
            pod_identity_associations=[{"role_arn": ebs_csi_role.role.arn, "service_account": r.EBS_CSI_SERVICE_ACCOUNT}],
        )
        return coredns, ebs_csi

    def _kubernetes_provider(self, cluster: aws.eks.Cluster) -> None:
        """`kubeconfig` and the Kubernetes provider every in-cluster resource uses."""
        cluster_name, region = self._args.name, self._args.region
        self.kubeconfig = pulumi.Output.all(cluster.endpoint, cluster.certificate_authority).apply(
            lambda ec: r.kubeconfig(cluster_name, ec[0] or "", _ca_data(ec[1]), region)
        )
        self.provider = k8s.Provider(
            child(self._name, "k8s"),
            kubeconfig=self.kubeconfig,
            # Server-side apply: field ownership is tracked by the API server, as kubectl does.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _default_storage_class(self, kube: Installer, ebs_csi: aws.eks.Addon) -> None:
        k8s.storage.v1.StorageClass(
            child(self._name, "gp3"),
            metadata={
                "name": "gp3-encrypted",
                "labels": kube.labels,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": self._args.kms_key_arn},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=kube.opts(ebs_csi),
        )

    def _observability(self, kube: Installer, tags: dict[str, str]) -> k8s.helm.v3.Release:
        """kube-prometheus-stack, remote-writing to an Amazon Managed Prometheus workspace when asked."""
        name, args = self._name, self._args
        cluster_name, region = args.name, args.region
        self.prometheus_url = addons.prometheus_url()
        self.amp_workspace_arn = None
        prometheus_after: list[pulumi.Resource] = []
        if args.prometheus == "amp":
            workspace = aws.amp.Workspace(
                child(name, "amp"), alias=cluster_name, kms_key_arn=args.kms_key_arn, tags=tags, opts=pulumi.ResourceOptions(parent=self)
            )
            self.amp_workspace_arn = workspace.arn
            writer = self._pod_role(
                "prometheus-amp",
                namespace=addons.MONITORING_NAMESPACE,
                service_account=r.PROMETHEUS_SERVICE_ACCOUNT,
                policy=workspace.arn.apply(r.amp_remote_write_policy),
            )
            prometheus_after += writer.parts
            values = r.prometheus_values(remote_write_url=workspace.id.apply(lambda ws: r.amp_remote_write_url(region, ws)), region=region)
        else:
            values = r.prometheus_values()
        return kube.release(
            "prometheus", pins.KUBE_PROMETHEUS_STACK_CHART, addons.MONITORING_NAMESPACE, values, "privileged", *prometheus_after
        )

    def _karpenter(
        self, kube: Installer, cluster: aws.eks.Cluster, tags: dict[str, str], prometheus: pulumi.Resource
    ) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """GPU capacity by Karpenter: its node role, interruption queue, controller, EC2NodeClass and NodePool.

        Returns the GPU nodes' role ARN and the releases/resources the workloads wait for."""
        name, args = self._name, self._args
        here = pulumi.ResourceOptions(parent=self)
        karpenter_node_role = aws.iam.Role(
            child(name, "karpenter-node-role"),
            assume_role_policy=r.service_trust_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=here,
        )
        _attach_node_policies(child(name, "karpenter-node-role"), karpenter_node_role, self._managed, here)
        node_access = aws.eks.AccessEntry(
            child(name, "karpenter-node-access"),
            cluster_name=cluster.name,
            principal_arn=karpenter_node_role.arn,
            type="EC2_LINUX",
            tags=tags,
            opts=here,
        )
        queue = self._interruption_queue(tags)
        controller = self._pod_role(
            "karpenter",
            namespace=r.KARPENTER_NAMESPACE,
            service_account=r.KARPENTER_SERVICE_ACCOUNT,
            policy=pulumi.Output.all(self._partition, self._account, karpenter_node_role.arn, queue.arn, args.kms_key_arn).apply(
                lambda v: r.karpenter_controller_policy(
                    partition=v[0],
                    region=args.region,
                    account_id=v[1],
                    cluster_name=args.name,
                    node_role_arn=v[2],
                    queue_arn=v[3],
                    kms_key_arn=v[4],
                )
            ),
        )
        crds = kube.release("karpenter-crd", r.KARPENTER_CRD_CHART, r.KARPENTER_NAMESPACE, {}, "privileged")
        karpenter = kube.release(
            "karpenter",
            pins.KARPENTER_CHART,
            r.KARPENTER_NAMESPACE,
            r.karpenter_values(cluster_name=cluster.name, interruption_queue=r.interruption_queue_name(args.name)),
            "privileged",
            crds,
            *controller.parts,
            node_access,
            prometheus,
        )
        node_class = k8s.apiextensions.CustomResource(
            child(name, "gpu-node-class"),
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": r.NODE_CLASS_NAME, "labels": kube.labels},
            spec=r.ec2_node_class_spec(
                role=karpenter_node_role.id,  # an IAM role's id is its name
                subnet_ids=list(args.private_subnet_ids),
                cluster_name=args.name,
                kms_key_arn=args.kms_key_arn,
                tags=tags,
                root_volume_gib=args.root_volume_gib,
            ),
            opts=kube.opts(crds, karpenter),
        )
        pools = r.node_pools(
            instances=args.instances, capacity_types=args.capacities, max_gpus=args.max_gpus, on_demand_gpus=args.on_demand_gpus
        )
        # The burst pool keeps its child name ("gpu-node-pool"): renaming it would replace the NodePool.
        node_pools = [
            k8s.apiextensions.CustomResource(
                child(name, f"{pool_name}-node-pool"),
                api_version="karpenter.sh/v1",
                kind="NodePool",
                metadata={"name": pool_name, "labels": kube.labels},
                spec=spec,
                opts=kube.opts(crds, karpenter, node_class),
            )
            for pool_name, spec in pools.items()
        ]
        return karpenter_node_role.arn, [crds, karpenter, node_class, *node_pools]

    def _interruption_queue(self, tags: dict[str, str]) -> aws.sqs.Queue:
        """The SQS queue Karpenter reads spot interruptions and rebalances from, fed by EventBridge rules."""
        name, cluster_name = self._name, self._args.name
        here = pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            child(name, "karpenter-interruptions"),
            name=r.interruption_queue_name(cluster_name),
            message_retention_seconds=300,
            # SQS-managed SSE: EventBridge can send to it without a grant on the stack key.
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=here,
        )
        rules: list[aws.cloudwatch.EventRule] = []
        for key in r.INTERRUPTION_EVENTS:
            rule = aws.cloudwatch.EventRule(
                child(name, f"karpenter-{key}"),
                description=f"Karpenter interruption handling of {cluster_name}: {key}",
                event_pattern=r.event_pattern(key),
                tags=tags,
                opts=here,
            )
            aws.cloudwatch.EventTarget(
                child(name, f"karpenter-{key}-target"),
                rule=rule.name,
                target_id="KarpenterInterruptionQueue",
                arn=queue.arn,
                opts=here,
            )
            rules.append(rule)
        aws.sqs.QueuePolicy(
            child(name, "karpenter-interruptions-policy"),
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *[rule.arn for rule in rules]).apply(
                lambda arns: r.interruption_queue_policy(arns[0], arns[1:])
            ),
            opts=here,
        )
        return queue

    def _nvidia_stack(self, kube: Installer, prometheus: pulumi.Resource) -> list[pulumi.Resource]:
        """The GPU Operator, or the device plugin and DCGM exporter alone."""
        if self._args.nvidia_stack == "gpu-operator":
            return [
                kube.release("gpu-operator", pins.GPU_OPERATOR_CHART, "gpu-operator", r.gpu_operator_values(), "privileged", prometheus)
            ]
        return [
            kube.release("device-plugin", pins.NVIDIA_DEVICE_PLUGIN_CHART, "nvidia", r.device_plugin_values(), "privileged"),
            kube.release("dcgm-exporter", pins.DCGM_EXPORTER_CHART, "nvidia", r.dcgm_exporter_values(), "privileged", prometheus),
        ]

    def _traffic_and_scaling(self, kube: Installer, cluster: aws.eks.Cluster, prometheus: pulumi.Resource) -> list[pulumi.Resource]:
        """The AWS Load Balancer Controller (with its pod role) and KEDA."""
        args = self._args
        lbc = self._pod_role(
            "load-balancer-controller",
            namespace="kube-system",
            service_account=r.LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            policy=pulumi.Output.all(self._partition, self._account, args.vpc_id).apply(
                lambda v: r.load_balancer_controller_policy(partition=v[0], region=args.region, account_id=v[1], vpc_id=v[2])
            ),
        )
        return [
            kube.release(
                "load-balancer-controller",
                pins.AWS_LOAD_BALANCER_CONTROLLER_CHART,
                "kube-system",
                r.load_balancer_controller_values(cluster_name=cluster.name, region=args.region, vpc_id=args.vpc_id),
                "privileged",
                *lbc.parts,
                prometheus,
            ),
            kube.release("keda", pins.KEDA_CHART, "keda", addons.keda_values(service_monitor=True), "restricted", prometheus),
        ]

    # ---- helpers ---------------------------------------------------------------------------------

    @property
    def pod_identities(self) -> dict[str, list[pulumi.Resource]]:
        """Deprecated name of `workload_identities` (GKE and AKS call the same map so), until 0.3.0."""
        from ..deprecated import warn_renamed

        warn_renamed("EksCluster.pod_identities", "EksCluster.workload_identities")
        return self.workload_identities

    def pod_identity(self, namespace: str, service_account: str, policy_json: pulumi.Input[str]) -> aws.iam.Role:
        """An IAM role for one Kubernetes service account through EKS Pod Identity.

        Creates `<name>-<namespace>-<service_account>-role` (trusted only by this cluster's pods), its
        inline policy `policy_json` and the PodIdentityAssociation. Pods get credentials only if they
        start after the association: create them with
        `depends_on=cluster.workload_identities[f"{namespace}/{service_account}"]` (role, policy, association).
        """
        key = f"{namespace}-{service_account}"
        return self._pod_role(key, namespace=namespace, service_account=service_account, policy=policy_json).role

    def _pod_role(
        self,
        key: str,
        *,
        namespace: str,
        service_account: str,
        policy: pulumi.Input[str],
        managed_policy_arns: dict[str, pulumi.Input[str]] | None = None,
        associate: bool = True,
    ) -> _PodRole:
        name = self._name
        here = pulumi.ResourceOptions(parent=self)
        tags = aws_tags(self._args.labels)
        trust = pulumi.Output.all(self._partition, self._account).apply(
            lambda pa: r.pod_identity_trust_policy(
                partition=pa[0], region=self._args.region, account_id=pa[1], cluster_name=self._args.name
            )
        )
        role = aws.iam.Role(child(name, f"{key}-role"), assume_role_policy=trust, tags=tags, opts=here)
        parts: list[pulumi.Resource] = [aws.iam.RolePolicy(child(name, f"{key}-policy"), role=role.id, policy=policy, opts=here)]
        for policy_key, arn in sorted((managed_policy_arns or {}).items()):
            parts.append(aws.iam.RolePolicyAttachment(child(name, f"{key}-{policy_key}"), role=role.id, policy_arn=arn, opts=here))
        if associate:
            parts.append(
                aws.eks.PodIdentityAssociation(
                    child(name, f"{key}-pod-identity"),
                    cluster_name=self._cluster.name,
                    namespace=namespace,
                    service_account=service_account,
                    role_arn=role.arn,
                    tags=tags,
                    opts=here,
                )
            )
        self.workload_identities[f"{namespace}/{service_account}"] = [role, *parts]
        return _PodRole(role, parts)

    def _node_group(
        self,
        pool: str,
        *,
        cluster: aws.eks.Cluster,
        role: aws.iam.Role,
        ami_type: str,
        instance_types: list[str],
        capacity_type: str,
        scaling: NodeScaling,
        labels: dict[str, str],
        taints: list[aws.eks.NodeGroupTaintArgsDict],
        root_volume_gib: int,
        tags: dict[str, str],
        after: list[pulumi.Resource],
    ) -> aws.eks.NodeGroup:
        name = self._name
        here = pulumi.ResourceOptions(parent=self)
        template = aws.ec2.LaunchTemplate(
            child(name, f"{pool}-nodes-template"),
            description=f"{pool} nodes of {self._args.name}: encrypted root volume, IMDSv2 only",
            block_device_mappings=[
                {
                    "device_name": r.ROOT_DEVICE,
                    "ebs": {
                        "volume_size": root_volume_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "kms_key_id": self._args.kms_key_arn,
                        "delete_on_termination": "true",
                    },
                }
            ],
            # One hop: pods cannot reach the node role's credentials; they use EKS Pod Identity.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            tag_specifications=[{"resource_type": kind, "tags": tags} for kind in ("instance", "volume")],
            update_default_version=True,
            tags=tags,
            opts=here,
        )
        return aws.eks.NodeGroup(
            child(name, f"{pool}-nodes"),
            cluster_name=cluster.name,
            node_role_arn=role.arn,
            subnet_ids=list(self._args.private_subnet_ids),
            ami_type=ami_type,
            instance_types=instance_types,
            capacity_type=capacity_type,
            scaling_config={"min_size": scaling.min, "desired_size": scaling.desired, "max_size": scaling.max},
            update_config={"max_unavailable": 1},
            labels=labels,
            taints=taints,
            # The version is None only while the template is unknown (a preview); the engine sends it as unknown.
            launch_template={"id": template.id, "version": cast(pulumi.Output[str], template.latest_version.apply(_version))},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )


class _PodRole:
    """A pod-identity role and the resources that must exist before its pods start."""

    def __init__(self, role: aws.iam.Role, parts: list[pulumi.Resource]) -> None:
        self.role = role
        self.parts = parts


def _attach_node_policies(
    prefix: str, role: aws.iam.Role, managed: Callable[[str], pulumi.Output[str]], here: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    return [
        aws.iam.RolePolicyAttachment(f"{prefix}-{key}", role=role.id, policy_arn=managed(policy), opts=here)
        for key, policy in (
            ("worker", "AmazonEKSWorkerNodePolicy"),
            ("ecr", "AmazonEC2ContainerRegistryReadOnly"),
            ("cni", "AmazonEKS_CNI_Policy"),
        )
    ]


def _oidc_issuer(identities: Any) -> str | None:
    for identity in identities or ():
        for oidc in _field(identity, "oidcs") or ():
            issuer = _field(oidc, "issuer")
            if issuer:
                return issuer
    return None


def _ca_data(ca: object) -> str:
    return _field(ca, "data") or ""


def _field(value: object, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return cast(dict[str, Any], value).get(key)
    return getattr(value, key, None)


def _version(version: object) -> str | None:
    return None if version is None else str(version)


__all__ = ["EksCluster", "EksClusterArgs", "NodeScaling"]
