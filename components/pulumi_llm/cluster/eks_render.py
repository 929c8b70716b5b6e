"""Pure rendering for EksCluster: kubeconfig, Karpenter objects, IAM documents and Helm values.

Nothing here touches Pulumi or AWS. Functions that take ARNs and names return plain JSON strings
(they run inside `Output.apply` in the component); functions that build Kubernetes bodies or Helm
values accept either plain values or Pulumi Outputs for the fields they merely place, so the
component passes its Outputs straight in and the tests pass strings.

IAM policies are least privilege: every statement names the resources it acts on (region, account
and, where AWS allows, the exact ARN or a tag condition). `"Resource": "*"` is used only for actions
AWS offers no resource-level permission for — read-only `Describe*`/`List*` calls, `pricing:GetProducts`
— and each such statement says so in its Sid and is limited to the cluster's region where the API is
regional.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import pins
from ..kubernetes import addons, render

# --------------------------------------------------------------------------------------------
# Facts shared by the component, the platform and the tests
# --------------------------------------------------------------------------------------------

POOL_LABEL = "pulumi-llm.dev/pool"
GPU_TAINT_KEY = render.GPU_TAINT_KEY  # "nvidia.com/gpu"
GPU_NODE_LABELS: dict[str, str] = {"nvidia.com/gpu.present": "true", POOL_LABEL: "gpu"}
SYSTEM_NODE_LABELS: dict[str, str] = {POOL_LABEL: "system"}
# The taint every GPU node carries (Kubernetes spelling), so only pods that tolerate it land there.
GPU_TAINT: dict[str, str] = {"key": GPU_TAINT_KEY, "value": "true", "effect": "NoSchedule"}
# An IAM principal EKS access entries take: a role or a user (or an assumed-role session) of one account.
IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)/.+$")
GPU_TOLERATION: dict[str, str] = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

KARPENTER_NAMESPACE = "kube-system"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
# kube-prometheus-stack names Prometheus' service account "<fullname>-prometheus".
PROMETHEUS_SERVICE_ACCOUNT = f"{addons.PROMETHEUS_FULLNAME}-prometheus"
NODE_CLASS_NAME = "gpu"
NODE_POOL_NAME = "gpu"
ON_DEMAND_NODE_POOL_NAME = "gpu-on-demand"
# The NodePool and EC2NodeClass fields below are those of the pinned Karpenter's CRDs (pins.KARPENTER_CHART 1.14.1:
# aws/karpenter-provider-aws tag v1.14.1, pkg/apis/crds/karpenter.sh_nodepools.yaml and
# karpenter.k8s.aws_ec2nodeclasses.yaml, version v1; every field the renderers below write is in those schemas).
# Karpenter tries the NodePool with the highest weight first and moves on once its limits are reached (v1.14.1
# karpenter.sh_nodepools.yaml `spec.weight`: integer 1-100, "A higher numerical weight indicates that this nodepool
# will be ordered ahead of other nodepools with lower weights", and `spec.limits`; website/content/en/docs/concepts/
# nodepools.md: "If multiple NodePools are matched, Karpenter will use the NodePool with the highest weight"). The
# on-demand floor pool is weighted, the burst pool is not.
ON_DEMAND_WEIGHT = 100
DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}
"""Pod annotation: Karpenter never disrupts (consolidates, drifts) a node for this pod voluntarily — a GPU server's
cold start is minutes (v1.14.1 website/content/en/docs/concepts/disruption.md, "Pod-Level Controls": `"true"` is
permanent protection; nodes with such pods are excluded from consolidation; spot interruptions still apply)."""
NODE_TERMINATION_GRACE = "24h"
"""NodePool `spec.template.spec.terminationGracePeriod`: how long a node Karpenter deletes (expired, drifted) may
drain before its pods are deleted anyway. The pinned docs warn against `expireAfter` without it when pods carry
`karpenter.sh/do-not-disrupt` ("may block draining indefinitely … partially drained nodes stuck in the cluster":
v1.14.1 disruption.md, Expiration). Karpenter deletes each pod at the latest at this period minus the pod's
`terminationGracePeriodSeconds` (karpenter.sh_nodepools.yaml), so a day keeps every server's full grace (at most
preStop + 3600 s + margin, kubernetes/resilience.py) and gives do-not-disrupt a day before an expired or drifted node
is drained regardless."""
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
ROOT_VOLUME_GIB = 200
ROOT_DEVICE = "/dev/xvda"  # the AL2023 root device

# Karpenter's node image, pinned to a dated AL2023 EKS AMI release instead of `al2023@latest` (which
# moves: every AWS release would drift and replace every GPU node, at night included). The alias
# resolves per instance type to the standard or the NVIDIA variant of that release for the cluster's
# Kubernetes minor (SSM /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/x86_64/nvidia/
# amazon-eks-node-al2023-x86_64-nvidia-<k8s>-v20260714/image_id).
# Source (upstream): awslabs/amazon-eks-ami CHANGELOG.md, "AMI Release v20260714" (tag v20260714): it lists
# amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260714 for pins.EKS_KUBERNETES_VERSION, with
# kmod-nvidia-latest-dkms 580.159.03 (R580, as the CUDA 13.0 vLLM image needs) and
# nvidia-container-toolkit 1.19.1. The newest release the upstream repository snapshot (2026-07-23)
# documents. `al2023@v20260930`, pinned before, appears only in third-party repositories (gh-index
# 71072058866, 70948181116, 71007053142, 70211789595, 71256071336): not confirmed upstream. Before the
# first production deploy confirm the 1.35 NVIDIA parameter above exists in your region; bump it (dev
# first) with the NVIDIA driver in mind: a new driver can need newer CUDA images (error 802/803).
KARPENTER_AMI_ALIAS = "al2023@v20260714"

# The CRD chart of the same Karpenter release: installed first, because `helm upgrade` never
# updates CRDs shipped in a chart's crds/ directory.
KARPENTER_CRD_CHART = pins.ChartPin(
    name="karpenter-crd",
    version=pins.KARPENTER_CHART.version,
    repository=pins.KARPENTER_CHART.repository,
    app_version=pins.KARPENTER_CHART.app_version,
    source="The CRD chart published with every Karpenter release; same version as pins.KARPENTER_CHART.",
)

_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]*$")


def cluster_name_problem(name: str) -> str | None:
    """Why `name` is not a valid EKS cluster name, or None (1-100 characters, [A-Za-z0-9_-], alphanumeric first)."""
    if not 1 <= len(name) <= 100:
        return f"{name!r} has {len(name)} characters; EKS allows 1 to 100"
    if not _CLUSTER_NAME.match(name):
        return f"{name!r} may use only letters, digits, '-' and '_', starting with a letter or digit"
    return None


def gpu_placement(gpus_per_node: int | None = None, *, karpenter: bool = True, zones: int = 2) -> render.Placement:
    """Where model servers run: on GPU nodes (by label), tolerating their taint, spread over the cluster's zones
    as a requirement (EKS needs private subnets in two zones or more); under Karpenter, on on-demand nodes before
    spot ones where both have room, and never disrupted voluntarily."""
    from ..kubernetes.resilience import decide_zone_spread

    return render.Placement(
        node_selector={"nvidia.com/gpu.present": "true"},
        tolerations=(dict(GPU_TOLERATION),),
        gpus_per_node=gpus_per_node,
        zone_spread=decide_zone_spread(zones),
        pod_annotations=dict(DO_NOT_DISRUPT) if karpenter else {},
        preferred_nodes=(
            (
                {
                    "weight": 100,
                    "preference": {"matchExpressions": [{"key": CAPACITY_TYPE_LABEL, "operator": "In", "values": ["on-demand"]}]},
                },
            )
            if karpenter
            else ()
        ),
    )


def log_group_name(cluster_name: str) -> str:
    """The log group EKS writes control-plane logs to (created first, so it is ours: key + retention)."""
    return f"/aws/eks/{cluster_name}/cluster"


# --------------------------------------------------------------------------------------------
# kubeconfig
# --------------------------------------------------------------------------------------------


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority_data: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token`: a short-lived token minted at use by
    whoever runs Pulumi, so no credential is ever written to the state."""
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority_data}}],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "preferences": {},
    }
    return json.dumps(doc, indent=2, sort_keys=True)


# --------------------------------------------------------------------------------------------
# Karpenter objects
# --------------------------------------------------------------------------------------------


def is_instance_type(value: str) -> bool:
    """`g6e.xlarge` is an instance type; `g6e` is a family."""
    return "." in value


def instance_requirement(instances: Sequence[str]) -> dict[str, Any]:
    """The NodePool requirement for a list of families (`g6e`) or of exact types (`g6e.12xlarge`)."""
    if not instances:
        raise ValueError("at least one GPU instance family or type is needed")
    kinds = {is_instance_type(i) for i in instances}
    if len(kinds) > 1:
        raise ValueError(f"mix of instance families and types {list(instances)}: requirements are ANDed, use one kind")
    key = "node.kubernetes.io/instance-type" if kinds == {True} else "karpenter.k8s.aws/instance-family"
    return {"key": key, "operator": "In", "values": list(instances)}


def node_pools(*, instances: Sequence[str], capacity_types: Sequence[str], max_gpus: int, on_demand_gpus: int) -> dict[str, dict[str, Any]]:
    """The GPU NodePools by name: with an on-demand floor (`on_demand_gpus` > 0: the models' fewest replicas), an
    on-demand pool limited to it and weighted, so Karpenter fills it first, and the burst pool (`capacity_types`,
    spot first) with the rest of `max_gpus`; without one (serving.all_spot), the burst pool alone."""
    if not 0 <= on_demand_gpus <= max_gpus:
        raise ValueError(f"on_demand_gpus: {on_demand_gpus} must be between 0 and max_gpus ({max_gpus})")
    burst = node_pool_spec(instances=instances, capacity_types=capacity_types, max_gpus=max_gpus - on_demand_gpus)
    if on_demand_gpus == 0:
        return {NODE_POOL_NAME: burst}
    floor = node_pool_spec(instances=instances, capacity_types=("on-demand",), max_gpus=on_demand_gpus)
    floor["weight"] = ON_DEMAND_WEIGHT
    return {ON_DEMAND_NODE_POOL_NAME: floor, NODE_POOL_NAME: burst}


def node_pool_spec(
    *,
    instances: Sequence[str],
    capacity_types: Sequence[str],
    max_gpus: int,
    node_class: str = NODE_CLASS_NAME,
    expire_after: str = "720h",
    consolidate_after: str = "10m",
    disruption_budget: str = "10%",
) -> dict[str, Any]:
    """A GPU NodePool (karpenter.sh/v1, the CRD of aws/karpenter-provider-aws tag v1.14.1): tainted GPU nodes,
    capped GPU count, gentle disruption."""
    return {
        "template": {
            "metadata": {"labels": dict(GPU_NODE_LABELS)},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class},
                "requirements": [
                    instance_requirement(instances),
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(capacity_types)},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                    # Karpenter counts some GPU types as having 0 GPUs (p5.4xlarge, g6f:
                    # aws/karpenter-provider-aws#8368), so it would never place a GPU pod there yet
                    # could still launch them for pods that tolerate the taint. Requiring a GPU count
                    # keeps such types out of the pool until Karpenter knows them.
                    {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]},
                ],
                "taints": [dict(GPU_TAINT)],
                # Nodes are replaced at least monthly (patched AMI, fresh kubelet) — within the budget.
                "expireAfter": expire_after,
                # …and such a node's do-not-disrupt servers can't hold its drain forever (NODE_TERMINATION_GRACE).
                "terminationGracePeriod": NODE_TERMINATION_GRACE,
            },
        },
        "limits": {GPU_TAINT_KEY: str(max_gpus)},
        "disruption": {
            "consolidationPolicy": "WhenEmptyOrUnderutilized",
            "consolidateAfter": consolidate_after,
            # Never more than this share of GPU nodes disrupted at once (drift, expiry, consolidation).
            "budgets": [{"nodes": disruption_budget}],
        },
    }


def ec2_node_class_spec(
    *,
    role: Any,
    subnet_ids: Sequence[Any],
    cluster_name: Any,
    kms_key_arn: Any,
    tags: Mapping[str, Any],
    ami_alias: str = KARPENTER_AMI_ALIAS,
    root_volume_gib: int = ROOT_VOLUME_GIB,
) -> dict[str, Any]:
    """The GPU EC2NodeClass (karpenter.k8s.aws/v1, the CRD of aws/karpenter-provider-aws tag v1.14.1).

    Subnets are selected by id (exactly the cluster's private subnets, no tagging contract with the
    network); security groups by the `aws:eks:cluster-name` tag EKS itself puts on the cluster
    security group. The root volume is gp3, encrypted with the stack's key, and large enough for
    multi-GB CUDA images. IMDSv2 only, one hop: pods cannot reach the node's credentials (they get
    their own through EKS Pod Identity).
    """
    return {
        "role": role,
        "amiSelectorTerms": [{"alias": ami_alias}],
        "subnetSelectorTerms": [{"id": subnet} for subnet in subnet_ids],
        "securityGroupSelectorTerms": [{"tags": {"aws:eks:cluster-name": cluster_name}}],
        "blockDeviceMappings": [
            {
                "deviceName": ROOT_DEVICE,
                "ebs": {
                    "volumeSize": f"{root_volume_gib}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "kmsKeyID": kms_key_arn,
                    "deleteOnTermination": True,
                },
            }
        ],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "tags": dict(tags),
    }


# Spot interruptions, rebalance recommendations, scheduled maintenance and state changes reach
# Karpenter through one SQS queue, so it drains a node before EC2 takes it away.
INTERRUPTION_EVENTS: dict[str, dict[str, list[str]]] = {
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
}


def interruption_queue_name(cluster_name: str) -> str:
    """The SQS queue Karpenter reads interruption events from (names are unique per account and region,
    like cluster names)."""
    return f"{cluster_name}-karpenter"


def event_pattern(key: str) -> str:
    return json.dumps(INTERRUPTION_EVENTS[key], sort_keys=True)


# --------------------------------------------------------------------------------------------
# IAM documents
# --------------------------------------------------------------------------------------------


def _doc(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def service_trust_policy(service: str) -> str:
    """Trust policy letting one AWS service principal (eks, ec2) assume the role."""
    return _doc([{"Effect": "Allow", "Principal": {"Service": service}, "Action": ["sts:AssumeRole", "sts:TagSession"]}])


def cluster_arn(partition: str, region: str, account_id: str, cluster_name: str) -> str:
    return f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}"


def pod_identity_trust_policy(*, partition: str, region: str, account_id: str, cluster_name: str) -> str:
    """EKS Pod Identity trust: only pods of this cluster (source ARN) in this account can assume the role."""
    return _doc(
        [
            {
                "Sid": "EksPodIdentityOfThisCluster",
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": cluster_arn(partition, region, account_id, cluster_name)},
                },
            }
        ]
    )


def cluster_key_policy(kms_key_arn: str) -> str:
    """What the EKS cluster role needs on the key that envelope-encrypts Kubernetes Secrets."""
    return _doc(
        [
            {
                "Sid": "EnvelopeEncryptSecrets",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                "Resource": kms_key_arn,
            }
        ]
    )


def ebs_key_statement(kms_key_arn: str, region: str, sid: str) -> dict[str, Any]:
    """Use of the stack key for EBS volumes, only through EC2 in the cluster's region."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": [
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        ],
        "Resource": kms_key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}},
    }


def ebs_csi_key_policy(kms_key_arn: str, region: str) -> str:
    """The EBS CSI driver's extra right: volumes encrypted with the stack key (its AWS-managed policy
    covers the EC2 calls, tag-scoped by AWS)."""
    return _doc([ebs_key_statement(kms_key_arn, region, "EncryptVolumesWithStackKey")])


def karpenter_controller_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    cluster_name: str,
    node_role_arn: str,
    queue_arn: str,
    kms_key_arn: str,
) -> str:
    """The Karpenter controller's permissions, after the Karpenter getting-started CloudFormation
    (aws/karpenter-provider-aws website/.../getting-started-with-karpenter/cloudformation.yaml), scoped
    further: this account instead of `*`, this cluster's tags, this queue, this node role, this key."""
    ec2 = f"arn:{partition}:ec2:{region}"
    own = f"{ec2}:{account_id}"
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    requested = {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster_name,
    }
    launched = [
        f"{own}:{kind}/*" for kind in ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")
    ]
    profiles = f"arn:{partition}:iam::{account_id}:instance-profile/*"
    profile_tags = {
        f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned",
        "aws:ResourceTag/topology.kubernetes.io/region": region,
    }
    return _doc(
        [
            *_karpenter_ec2_statements(ec2=ec2, own=own, owned=owned, requested=requested, launched=launched, cluster_name=cluster_name),
            *_karpenter_instance_profile_statements(
                node_role_arn=node_role_arn, profiles=profiles, requested=requested, profile_tags=profile_tags, region=region
            ),
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": cluster_arn(partition, region, account_id, cluster_name),
            },
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            },
            # Root volumes are encrypted with the stack key: CreateFleet needs to use it through EC2.
            ebs_key_statement(kms_key_arn, region, "AllowEncryptedRootVolumes"),
            {
                # Describe* calls have no resource-level permissions in IAM: "*" limited to the region.
                "Sid": "UnscopableRegionalReadActions",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeInstances",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                # The Price List API and ListInstanceProfiles have no resource types at all.
                "Sid": "UnscopableGlobalReadActions",
                "Effect": "Allow",
                "Action": ["pricing:GetProducts", "iam:ListInstanceProfiles"],
                "Resource": "*",
            },
        ]
    )


def _karpenter_ec2_statements(
    *, ec2: str, own: str, owned: dict[str, str], requested: dict[str, str], launched: list[str], cluster_name: str
) -> list[dict[str, Any]]:
    """Launching, tagging and terminating this cluster's nodes (karpenter_controller_policy)."""
    return [
        {
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": [
                f"{ec2}::image/*",
                f"{ec2}::snapshot/*",
                f"{own}:security-group/*",
                f"{own}:subnet/*",
                f"{own}:capacity-reservation/*",
            ],
        },
        {
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": f"{own}:launch-template/*",
            "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
        },
        {
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            "Resource": launched,
            "Condition": {"StringEquals": requested, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}},
        },
        {
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": launched,
            "Condition": {
                "StringEquals": {**requested, "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceTagging",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"{own}:instance/*",
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]},
            },
        },
        {
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            "Resource": [f"{own}:instance/*", f"{own}:launch-template/*"],
            "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
        },
    ]


def _karpenter_instance_profile_statements(
    *, node_role_arn: str, profiles: str, requested: dict[str, str], profile_tags: dict[str, str], region: str
) -> list[dict[str, Any]]:
    """Passing the node role and managing the instance profiles Karpenter creates for it (karpenter_controller_policy)."""
    return [
        {
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": node_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
        },
        {
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Action": "iam:CreateInstanceProfile",
            "Resource": profiles,
            "Condition": {
                "StringEquals": {**requested, "aws:RequestTag/topology.kubernetes.io/region": region},
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileTagActions",
            "Effect": "Allow",
            "Action": "iam:TagInstanceProfile",
            "Resource": profiles,
            "Condition": {
                "StringEquals": {**profile_tags, **requested, "aws:RequestTag/topology.kubernetes.io/region": region},
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
            "Resource": profiles,
            "Condition": {"StringEquals": profile_tags, "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}},
        },
        {
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Action": "iam:GetInstanceProfile",
            "Resource": profiles,
        },
    ]


def interruption_queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> str:
    """Only our EventBridge rules may send to the queue; nothing over plain HTTP."""
    return _doc(
        [
            {
                "Sid": "EventBridgeRulesOfThisCluster",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    )


def load_balancer_controller_policy(*, partition: str, region: str, account_id: str, vpc_id: str) -> str:
    """The AWS Load Balancer Controller's permissions.

    After the controller's published policy (kubernetes-sigs/aws-load-balancer-controller
    docs/install/iam_policy.json, v2.x), with three changes: every write is limited to this region
    and account (upstream uses `*`) and security groups to this VPC; the `elbv2.k8s.aws/cluster` tag
    conditions are kept; WAF, Shield and Cognito permissions are left out because the chart values
    switch those integrations off (enableWaf/enableWafv2/enableShield false). Re-check this list
    against upstream when bumping AWS_LOAD_BALANCER_CONTROLLER_CHART.
    """
    elb = f"arn:{partition}:elasticloadbalancing:{region}:{account_id}"
    load_balancers = [f"{elb}:loadbalancer/app/*/*", f"{elb}:loadbalancer/net/*/*"]
    target_groups = [f"{elb}:targetgroup/*/*"]
    listeners = [f"{elb}:listener/app/*/*/*", f"{elb}:listener/net/*/*/*"]
    rules = [f"{elb}:listener-rule/app/*/*/*", f"{elb}:listener-rule/net/*/*/*"]
    security_groups = f"arn:{partition}:ec2:{region}:{account_id}:security-group/*"
    security_group_rules = f"arn:{partition}:ec2:{region}:{account_id}:security-group-rule/*"
    vpc = f"arn:{partition}:ec2:{region}:{account_id}:vpc/{vpc_id}"
    managed = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    tagging_on_create = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    retag = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true", "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    return _doc(
        [
            *_load_balancer_controller_read_statements(partition=partition, region=region, account_id=account_id),
            *_load_balancer_controller_security_group_statements(
                security_groups=security_groups,
                security_group_rules=security_group_rules,
                vpc=vpc,
                managed=managed,
                tagging_on_create=tagging_on_create,
                retag=retag,
            ),
            {
                "Sid": "CreateTaggedLoadBalancers",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
                "Resource": load_balancers + target_groups,
                "Condition": tagging_on_create,
            },
            {
                "Sid": "TagOnCreate",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:AddTags",
                "Resource": load_balancers + target_groups,
                "Condition": {
                    "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                    **tagging_on_create,
                },
            },
            {
                "Sid": "ManageListenersAndRules",
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:CreateListener",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:CreateRule",
                    "elasticloadbalancing:DeleteRule",
                ],
                "Resource": load_balancers + listeners + rules + target_groups,
            },
            {
                "Sid": "RetagManagedLoadBalancers",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                "Resource": load_balancers + target_groups,
                "Condition": retag,
            },
            {
                "Sid": "TagListenersAndRules",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                "Resource": listeners + rules,
            },
            {
                "Sid": "ModifyManagedLoadBalancers",
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:ModifyCapacityReservation",
                    "elasticloadbalancing:ModifyIpPools",
                    "elasticloadbalancing:ModifyListenerAttributes",
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    "elasticloadbalancing:SetIpAddressType",
                    "elasticloadbalancing:SetSecurityGroups",
                    "elasticloadbalancing:SetSubnets",
                ],
                "Resource": load_balancers + target_groups + listeners,
                "Condition": managed,
            },
            {
                "Sid": "RegisterTargets",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                "Resource": target_groups,
            },
            {
                "Sid": "ModifyListenersAndRules",
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:AddListenerCertificates",
                    "elasticloadbalancing:ModifyListener",
                    "elasticloadbalancing:ModifyRule",
                    "elasticloadbalancing:RemoveListenerCertificates",
                    "elasticloadbalancing:SetRulePriorities",
                ],
                "Resource": listeners + rules,
            },
        ]
    )


def _load_balancer_controller_read_statements(*, partition: str, region: str, account_id: str) -> list[dict[str, Any]]:
    """The service-linked role and the read-only calls (load_balancer_controller_policy)."""
    return [
        {
            "Sid": "ElbServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": f"arn:{partition}:iam::{account_id}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        },
        {
            # Describe*/List* and GetSecurityGroupsForVpc are read-only and offer no resource
            # scoping: "*" limited to the region.
            "Sid": "UnscopableRegionalReadActions",
            "Effect": "Allow",
            "Action": [
                "acm:ListCertificates",
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInstances",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeIpamPools",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeTags",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeVpcs",
                "ec2:GetSecurityGroupsForVpc",
                "elasticloadbalancing:DescribeCapacityReservation",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTrustStores",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            # IAM is global (its calls are not "in" the cluster's region); List has no resource type.
            "Sid": "UnscopableGlobalReadActions",
            "Effect": "Allow",
            "Action": "iam:ListServerCertificates",
            "Resource": "*",
        },
        {
            "Sid": "ReadCertificates",
            "Effect": "Allow",
            "Action": ["acm:DescribeCertificate", "iam:GetServerCertificate"],
            "Resource": [
                f"arn:{partition}:acm:{region}:{account_id}:certificate/*",
                f"arn:{partition}:iam::{account_id}:server-certificate/*",
            ],
        },
    ]


def _load_balancer_controller_security_group_statements(
    *,
    security_groups: str,
    security_group_rules: str,
    vpc: str,
    managed: dict[str, Any],
    tagging_on_create: dict[str, Any],
    retag: dict[str, Any],
) -> list[dict[str, Any]]:
    """Creating, tagging, opening and deleting the security groups the controller manages (load_balancer_controller_policy)."""
    return [
        {
            "Sid": "CreateSecurityGroupsInTheClusterVpc",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": [security_groups, vpc],
        },
        {
            "Sid": "TagSecurityGroupsOnCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": security_groups,
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **tagging_on_create},
        },
        {
            "Sid": "RetagManagedSecurityGroups",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
            "Resource": security_groups,
            "Condition": retag,
        },
        {
            # Opens target ports on the node security groups for the load balancer (upstream: "*").
            "Sid": "AuthorizeLoadBalancerTraffic",
            "Effect": "Allow",
            "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            "Resource": [security_groups, security_group_rules],
        },
        {
            "Sid": "DeleteManagedSecurityGroups",
            "Effect": "Allow",
            "Action": "ec2:DeleteSecurityGroup",
            "Resource": security_groups,
            "Condition": managed,
        },
    ]


def amp_remote_write_policy(workspace_arn: str) -> str:
    """Prometheus may write samples to this one Amazon Managed Prometheus workspace, nothing else."""
    return _doc([{"Sid": "RemoteWriteToStackWorkspace", "Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": workspace_arn}])


def amp_remote_write_url(region: str, workspace_id: str) -> str:
    return f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace_id}/api/v1/remote_write"


# --------------------------------------------------------------------------------------------
# Helm values
# --------------------------------------------------------------------------------------------


def karpenter_values(*, cluster_name: Any, interruption_queue: Any) -> dict[str, Any]:
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": interruption_queue},
        # Karpenter must not run on the nodes it manages: system nodes only (the chart also keeps it
        # off karpenter.sh/nodepool nodes); two replicas with leader election.
        "replicas": 2,
        "nodeSelector": dict(SYSTEM_NODE_LABELS),
        "serviceAccount": {"create": True, "name": KARPENTER_SERVICE_ACCOUNT},
        "controller": {
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        },
        "serviceMonitor": {"enabled": True},
    }


def vpc_cni_configuration() -> str:
    """configurationValues of the vpc-cni add-on: NetworkPolicy enforced. The add-on's chart leaves it off
    (verify.facts.aws_network), and then every NetworkPolicy of the model namespace is accepted and ignored."""
    from ..verify.facts.aws_network import VPC_CNI_NETWORK_POLICY_KEY

    return json.dumps({VPC_CNI_NETWORK_POLICY_KEY: "true"})


def load_balancer_controller_values(*, cluster_name: Any, region: str, vpc_id: Any) -> dict[str, Any]:
    return {
        "clusterName": cluster_name,
        # Set explicitly: with IMDS limited to one hop the controller cannot discover them.
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": 2,
        "nodeSelector": dict(SYSTEM_NODE_LABELS),
        "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT},
        # Not used by pulumi-llm (the gateway method brings its own WAF); off, so their IAM rights are not granted.
        "enableShield": False,
        "enableWaf": False,
        "enableWafv2": False,
        "serviceMonitor": {"enabled": True},
    }


def device_plugin_values() -> dict[str, Any]:
    """NVIDIA device plugin on GPU nodes only. The AL2023 NVIDIA AMI brings driver and toolkit."""
    return {
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [dict(GPU_TOLERATION)],
        "priorityClassName": "system-node-critical",
    }


def dcgm_exporter_values() -> dict[str, Any]:
    """DCGM exporter (GPU utilisation, memory, power, XID errors) with a ServiceMonitor."""
    return {
        "image": {"repository": pins.DCGM_EXPORTER.repository, "tag": f"{pins.DCGM_EXPORTER.tag}@{pins.DCGM_EXPORTER.digest}"},
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [dict(GPU_TOLERATION)],
        # The workload's pod/namespace arrive as exported_* (honorLabels false), which the alerts and
        # dashboards query (observability_rules.DcgmLabels); stated so a chart default can't change it.
        "serviceMonitor": {"enabled": True, "interval": "15s", "honorLabels": False},
    }


def gpu_operator_values() -> dict[str, Any]:
    """GPU Operator on EKS: the AMI carries driver and container toolkit, so both stay off."""
    values = addons.gpu_operator_values(driver=False, service_monitor=True)
    values["toolkit"] = {"enabled": False}
    values["daemonsets"] = {"tolerations": [dict(GPU_TOLERATION)]}
    return values


def prometheus_values(*, remote_write_url: Any = None, region: str | None = None) -> dict[str, Any]:
    """kube-prometheus-stack as on-prem; with Amazon Managed Prometheus, also remote-write every sample
    there (SigV4 through EKS Pod Identity) and keep only two days in the cluster for KEDA and alerts."""
    values = addons.kube_prometheus_stack_values()
    if remote_write_url is not None:
        spec = values["prometheus"]["prometheusSpec"]
        spec["remoteWrite"] = [{"url": remote_write_url, "sigv4": {"region": region}}]
        spec["retention"] = "2d"
        values["prometheus"]["serviceAccount"] = {"create": True, "name": PROMETHEUS_SERVICE_ACCOUNT}
    return values
