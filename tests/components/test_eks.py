"""EksCluster under the recording mock runtime: control plane, nodes, add-ons, Karpenter, IAM, providers."""

from __future__ import annotations

import json
import re
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.cluster import eks_render
from pulumi_llm.cluster.eks import EksCluster, EksClusterArgs
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import recorder
from pulumi_llm.offline.recorder import DefaultProviderDisabled
from pydantic import ValidationError

REGION = "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:123456789012:key/1111"
ADMIN = "arn:aws:iam::123456789012:role/platform-admins"
TAGS = {"pulumi-llm:project": "pulumi-llm", "pulumi-llm:stack": "prod", "pulumi-llm:environment": "prod"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


DEPENDENCIES: dict[str, set[str]] = {}


@pytest.fixture(autouse=True)
def record_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Also keep what each registration depends on (depends_on and inputs), as the engine receives it."""
    DEPENDENCIES.clear()
    original = recorder.RecordingMonitor.RegisterResource

    def register(self: recorder.RecordingMonitor, request: Any) -> Any:
        DEPENDENCIES[request.name] = set(request.dependencies)
        return original(self, request)

    monkeypatch.setattr(recorder.RecordingMonitor, "RegisterResource", register)


def after(records, later: str, earlier: str) -> bool:
    """`later` is registered with `earlier` among its dependencies, so the engine creates it first."""
    return by_name(records)[earlier].urn in DEPENDENCIES[later]


def args(**overrides: Any) -> EksClusterArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "region": REGION,
        "vpc_id": "vpc-0abc",
        "private_subnet_ids": ["subnet-a", "subnet-b", "subnet-c"],
        "kms_key_arn": KEY,
        "admin_principal_arns": {"platform": ADMIN},
    }
    values.update(overrides)
    return EksClusterArgs(**values)


def plan(captured: dict[str, Any] | None = None, **overrides: Any):
    def program() -> None:
        provider = aws.Provider("aws", region=REGION)
        cluster = EksCluster("llm-eks", args(**overrides), opts=pulumi.ResourceOptions(providers=[provider]))
        if captured is not None:
            captured["component"] = cluster
            for attr in ("cluster_name", "node_role_arn", "cluster_arn"):
                getattr(cluster, attr).apply(lambda value, attr=attr: cast(dict[str, Any], captured).__setitem__(attr, value))

    return run(program, region=REGION)


def policies(records) -> dict[str, list[dict[str, Any]]]:
    return {r.name: json.loads(r.inputs["policy"])["Statement"] for r in of_type(records, "aws:iam/rolePolicy:RolePolicy")}


def release_values(records, name: str) -> dict[str, Any]:
    return by_name(records)[name].inputs["values"]


# --------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------

SHARED = [
    ("aws:cloudwatch/logGroup:LogGroup", "llm-eks-control-plane-logs"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "llm-eks-system-nodes-template"),
    ("aws:eks/accessEntry:AccessEntry", "llm-eks-admin-platform"),
    ("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "llm-eks-admin-platform-policy"),
    ("aws:eks/addon:Addon", "llm-eks-aws-ebs-csi-driver"),
    ("aws:eks/addon:Addon", "llm-eks-coredns"),
    ("aws:eks/addon:Addon", "llm-eks-eks-pod-identity-agent"),
    ("aws:eks/addon:Addon", "llm-eks-kube-proxy"),
    ("aws:eks/addon:Addon", "llm-eks-vpc-cni"),
    ("aws:eks/cluster:Cluster", "llm-eks-cluster"),
    ("aws:eks/nodeGroup:NodeGroup", "llm-eks-system-nodes"),
    ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "llm-eks-load-balancer-controller-pod-identity"),
    ("aws:iam/role:Role", "llm-eks-cluster-role"),
    ("aws:iam/role:Role", "llm-eks-ebs-csi-role"),
    ("aws:iam/role:Role", "llm-eks-load-balancer-controller-role"),
    ("aws:iam/role:Role", "llm-eks-node-role"),
    ("aws:iam/rolePolicy:RolePolicy", "llm-eks-cluster-role-kms"),
    ("aws:iam/rolePolicy:RolePolicy", "llm-eks-ebs-csi-policy"),
    ("aws:iam/rolePolicy:RolePolicy", "llm-eks-load-balancer-controller-policy"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-cluster-role-eks"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-ebs-csi-driver"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-node-role-cni"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-node-role-ecr"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-node-role-worker"),
    ("kubernetes:core/v1:Namespace", "llm-eks-keda-ns"),
    ("kubernetes:core/v1:Namespace", "llm-eks-monitoring-ns"),
    ("kubernetes:core/v1:Namespace", "llm-eks-nvidia-ns"),
    ("kubernetes:helm.sh/v3:Release", "llm-eks-dcgm-exporter"),
    ("kubernetes:helm.sh/v3:Release", "llm-eks-device-plugin"),
    ("kubernetes:helm.sh/v3:Release", "llm-eks-keda"),
    ("kubernetes:helm.sh/v3:Release", "llm-eks-load-balancer-controller"),
    ("kubernetes:helm.sh/v3:Release", "llm-eks-prometheus"),
    ("kubernetes:storage.k8s.io/v1:StorageClass", "llm-eks-gp3"),
    ("pulumi:providers:kubernetes", "llm-eks-k8s"),
]

KARPENTER = [
    *[
        ("aws:cloudwatch/eventRule:EventRule", f"llm-eks-karpenter-{k}")
        for k in ("health", "rebalance", "spot-interruption", "state-change")
    ],
    *[
        ("aws:cloudwatch/eventTarget:EventTarget", f"llm-eks-karpenter-{k}-target")
        for k in ("health", "rebalance", "spot-interruption", "state-change")
    ],
    ("aws:eks/accessEntry:AccessEntry", "llm-eks-karpenter-node-access"),
    ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "llm-eks-karpenter-pod-identity"),
    ("aws:iam/role:Role", "llm-eks-karpenter-node-role"),
    ("aws:iam/role:Role", "llm-eks-karpenter-role"),
    ("aws:iam/rolePolicy:RolePolicy", "llm-eks-karpenter-policy"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-karpenter-node-role-cni"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-karpenter-node-role-ecr"),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-eks-karpenter-node-role-worker"),
    ("aws:sqs/queue:Queue", "llm-eks-karpenter-interruptions"),
    ("aws:sqs/queuePolicy:QueuePolicy", "llm-eks-karpenter-interruptions-policy"),
    ("kubernetes:helm.sh/v3:Release", "llm-eks-karpenter"),
    ("kubernetes:helm.sh/v3:Release", "llm-eks-karpenter-crd"),
    ("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "llm-eks-gpu-node-class"),
    ("kubernetes:karpenter.sh/v1:NodePool", "llm-eks-gpu-node-pool"),
]

NODE_GROUP = [
    ("aws:ec2/launchTemplate:LaunchTemplate", "llm-eks-gpu-nodes-template"),
    ("aws:eks/nodeGroup:NodeGroup", "llm-eks-gpu-nodes"),
]


def test_karpenter_children_types_and_names() -> None:
    records = plan()
    cluster = only(records, "pulumi-llm:index:EksCluster")
    assert children(records, cluster) == sorted(SHARED + KARPENTER)


def test_an_on_demand_floor_is_a_weighted_on_demand_node_pool_karpenter_fills_first() -> None:
    """Issue 18: one NodePool mixed spot and on-demand with no floor, so spot could take every replica."""
    records = by_name(plan(max_gpus=16, on_demand_gpus=4))
    floor = records["llm-eks-gpu-on-demand-node-pool"].inputs
    burst = records["llm-eks-gpu-node-pool"].inputs
    assert (floor["metadata"]["name"], floor["spec"]["weight"], floor["spec"]["limits"]) == ("gpu-on-demand", 100, {"nvidia.com/gpu": "4"})
    assert "weight" not in burst["spec"] and burst["spec"]["limits"] == {"nvidia.com/gpu": "12"}
    capacity = [r for r in floor["spec"]["template"]["spec"]["requirements"] if r["key"] == "karpenter.sh/capacity-type"]
    assert capacity == [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}]


def test_node_group_children_types_and_names() -> None:
    records = plan(gpu_capacity="node-group")
    assert children(records, only(records, "pulumi-llm:index:EksCluster")) == sorted(SHARED + NODE_GROUP)


def test_every_resource_uses_an_explicit_provider_and_kubernetes_ones_the_cluster_s() -> None:
    overrides: dict[str, Any]  # keyword arguments for plan()
    for overrides in ({}, {"gpu_capacity": "node-group", "prometheus": "amp", "nvidia_stack": "gpu-operator"}):
        records = plan(**overrides)
        aws_provider = by_name(records)["aws"].urn
        k8s_provider = by_name(records)["llm-eks-k8s"]
        assert k8s_provider.parent == only(records, "pulumi-llm:index:EksCluster").urn
        custom = [r for r in records if r.custom and not r.type.startswith("pulumi:providers:")]
        assert all(r.provider for r in custom), "a resource fell back to a default provider"
        assert {r.provider for r in custom if r.type.startswith("aws:")} == {aws_provider}
        kube = [r for r in custom if r.type.startswith("kubernetes:")]
        assert kube and all(r.provider == k8s_provider.urn for r in kube)


def test_without_an_aws_provider_the_plan_fails_like_pulumi_up() -> None:
    with pytest.raises(DefaultProviderDisabled, match=r"Default provider for 'aws' disabled"):
        run(lambda: EksCluster("bare", args()), region=REGION)


# --------------------------------------------------------------------------------------------
# Control plane
# --------------------------------------------------------------------------------------------


def test_cluster_is_pinned_private_encrypted_logged_and_api_authenticated() -> None:
    records = by_name(plan())
    cluster = records["llm-eks-cluster"].inputs
    assert cluster["name"] == "llm-prod"
    assert cluster["version"] == pins.EKS_KUBERNETES_VERSION
    assert cluster["encryptionConfig"] == {"provider": {"keyArn": KEY}, "resources": ["secrets"]}
    assert cluster["vpcConfig"] == {
        "subnetIds": ["subnet-a", "subnet-b", "subnet-c"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
    }
    assert cluster["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert cluster["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert cluster["bootstrapSelfManagedAddons"] is False
    assert cluster["deletionProtection"] is True
    assert cluster["tags"] == TAGS
    assert cluster["roleArn"] == f"arn:aws:iam:{REGION}:123456789012:llm-eks-cluster-role"  # the mock's ARN of our role
    trust = json.loads(records["llm-eks-cluster-role"].inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]
    assert records["llm-eks-cluster-role-eks"].inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"


def test_control_plane_logs_go_to_our_encrypted_log_group_created_first() -> None:
    records = plan(log_types=("api", "audit"), log_retention_days=30)
    logs = by_name(records)["llm-eks-control-plane-logs"].inputs
    assert logs == {"name": "/aws/eks/llm-prod/cluster", "kmsKeyId": KEY, "retentionInDays": 30, "tags": TAGS}
    assert by_name(records)["llm-eks-cluster"].inputs["enabledClusterLogTypes"] == ["api", "audit"]
    assert after(records, "llm-eks-cluster", "llm-eks-control-plane-logs")


def test_public_endpoint_only_to_listed_networks() -> None:
    cluster = by_name(plan(endpoint_public_access=True, public_access_cidrs=("203.0.113.0/24",)))["llm-eks-cluster"].inputs
    assert cluster["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_public_access": True}, "public_access_cidrs: required"),
        ({"endpoint_public_access": True, "public_access_cidrs": ("0.0.0.0/0",)}, "opens the API to the internet"),
        ({"public_access_cidrs": ("10.0.0.0/8",)}, "only allowed when endpoint_public_access"),
        ({"endpoint_public_access": True, "public_access_cidrs": ("10.0.0.1/8",)}, "not a network in CIDR"),
        ({"kubernetes_version": "1.34"}, "has no pinned add-ons"),
        ({"cluster_name": "llm.prod"}, "cluster_name: 'llm.prod' may use only"),
        ({"cluster_name": "x" * 75}, "too long for Karpenter's interruption queue"),
        ({"gpu_instances": ("g6e", "g6.xlarge")}, "mix of instance families and types"),
        ({"gpu_capacity": "node-group", "gpu_instances": ("g6e",)}, "node groups need exact instance types"),
        ({"gpu_capacity": "node-group", "capacity_types": ("spot", "on-demand")}, "exactly one capacity type"),
        ({"admin_principal_arns": {"Ops": ADMIN}}, "key 'Ops' must be lower-case"),
        ({"admin_principal_arns": {"ops": "platform-admins"}}, "is not an IAM role or user ARN"),
        ({"system_nodes": {"min": 3, "desired": 2, "max": 4}}, "min <= desired <= max"),
        ({"region": "Europe"}, "is not an AWS region name"),
        ({"private_subnet_ids": ["subnet-a"]}, "at least 2 items"),
        ({"surprise": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_arguments_fail_before_anything_is_registered(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        args(**overrides)


def test_access_entries_give_listed_principals_cluster_admin() -> None:
    listed = plan(admin_principal_arns={"platform": ADMIN, "sre": "arn:aws:iam::123456789012:role/sre"}, bootstrap_creator_admin=False)
    records = by_name(listed)
    assert records["llm-eks-cluster"].inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    # Without the creator's implicit access, everything in the cluster waits for the admins' access.
    for kube in [r for r in listed if r.custom and r.type.startswith("kubernetes:")]:
        assert after(listed, kube.name, "llm-eks-admin-platform-policy"), kube.name
    for key, arn in (("platform", ADMIN), ("sre", "arn:aws:iam::123456789012:role/sre")):
        entry = records[f"llm-eks-admin-{key}"].inputs
        assert (entry["clusterName"], entry["principalArn"], entry["type"]) == ("llm-prod", arn, "STANDARD")
        association = records[f"llm-eks-admin-{key}-policy"].inputs
        assert association == {
            "clusterName": "llm-prod",
            "principalArn": arn,
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            "accessScope": {"type": "cluster"},
        }


def test_addons_are_the_pinned_versions_and_overwrite_conflicts() -> None:
    records = by_name(plan())
    for key, pin in pins.EKS_ADDONS.items():
        addon = records[f"llm-eks-{key}"].inputs
        assert (addon["addonName"], addon["addonVersion"]) == (pin.name, pin.version)
        assert addon["resolveConflictsOnUpdate"] == "OVERWRITE" and addon["clusterName"] == "llm-prod"
    ebs = records["llm-eks-aws-ebs-csi-driver"].inputs
    assert ebs["podIdentityAssociations"] == [
        {"roleArn": f"arn:aws:iam:{REGION}:123456789012:llm-eks-ebs-csi-role", "serviceAccount": "ebs-csi-controller-sa"}
    ]
    assert records["llm-eks-ebs-csi-driver"].inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def test_nodes_wait_for_the_network_add_ons_and_in_cluster_installs_for_nodes() -> None:
    records = plan(gpu_capacity="node-group")
    for group in ("llm-eks-system-nodes", "llm-eks-gpu-nodes"):
        for addon in ("llm-eks-vpc-cni", "llm-eks-kube-proxy", "llm-eks-eks-pod-identity-agent"):
            assert after(records, group, addon)
    assert after(records, "llm-eks-coredns", "llm-eks-system-nodes")
    for release in of_type(records, "kubernetes:helm.sh/v3:Release"):
        assert after(records, release.name, "llm-eks-system-nodes")
        assert after(records, release.name, "llm-eks-coredns")


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------


def test_system_node_group_runs_al2023_on_private_subnets_with_its_role() -> None:
    records = by_name(plan())
    nodes = records["llm-eks-system-nodes"].inputs
    assert nodes["amiType"] == "AL2023_x86_64_STANDARD"
    assert nodes["instanceTypes"] == ["m7i.large"] and nodes["capacityType"] == "ON_DEMAND"
    assert nodes["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert nodes["labels"] == {"pulumi-llm.dev/pool": "system"} and nodes["taints"] == []
    assert nodes["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 4}
    assert nodes["nodeRoleArn"].endswith(":llm-eks-node-role")
    attached = {records[f"llm-eks-node-role-{k}"].inputs["policyArn"].rsplit("/", 1)[1] for k in ("worker", "ecr", "cni")}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"}


def test_gpu_node_group_uses_the_nvidia_ami_taint_and_labels() -> None:
    records = by_name(plan(gpu_capacity="node-group", gpu_instances=("g6e.2xlarge",), gpu_nodes={"min": 0, "desired": 1, "max": 3}))
    gpu = records["llm-eks-gpu-nodes"].inputs
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu["instanceTypes"] == ["g6e.2xlarge"] and gpu["capacityType"] == "ON_DEMAND"
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"] == {"nvidia.com/gpu.present": "true", "pulumi-llm.dev/pool": "gpu"}
    assert gpu["scalingConfig"] == {"minSize": 0, "desiredSize": 1, "maxSize": 3}
    assert gpu["launchTemplate"]["id"].startswith("llm-eks-gpu-nodes-template-")
    spot = by_name(plan(gpu_capacity="node-group", capacity_types=("spot",)))["llm-eks-gpu-nodes"].inputs
    assert spot["capacityType"] == "SPOT"


def test_node_root_volumes_are_encrypted_with_the_key_and_imds_is_v2_one_hop() -> None:
    records = by_name(plan(gpu_capacity="node-group"))
    for pool, size in (("system", 50), ("gpu", 200)):
        template = records[f"llm-eks-{pool}-nodes-template"].inputs
        [root] = template["blockDeviceMappings"]
        assert root["deviceName"] == "/dev/xvda"
        assert root["ebs"] == {"volumeSize": size, "volumeType": "gp3", "encrypted": "true", "kmsKeyId": KEY, "deleteOnTermination": "true"}
        assert template["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}


# --------------------------------------------------------------------------------------------
# Karpenter
# --------------------------------------------------------------------------------------------


def test_karpenter_node_pool_and_node_class() -> None:
    records = by_name(plan(gpu_instances=("g6e", "p5"), max_gpus=16))
    pool = records["llm-eks-gpu-node-pool"].inputs
    assert (pool["apiVersion"], pool["kind"], pool["metadata"]["name"]) == ("karpenter.sh/v1", "NodePool", "gpu")
    spec = pool["spec"]
    assert spec["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert spec["template"]["spec"]["expireAfter"] == "720h"
    assert spec["template"]["metadata"]["labels"] == {"nvidia.com/gpu.present": "true", "pulumi-llm.dev/pool": "gpu"}
    requirements = {q["key"]: q["values"] for q in spec["template"]["spec"]["requirements"]}
    assert requirements["karpenter.k8s.aws/instance-family"] == ["g6e", "p5"]
    assert requirements["karpenter.sh/capacity-type"] == ["spot", "on-demand"]
    assert requirements["kubernetes.io/arch"] == ["amd64"]
    assert spec["limits"] == {"nvidia.com/gpu": "16"}
    assert spec["disruption"] == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "10m",
        "budgets": [{"nodes": "10%"}],
    }

    node_class = records["llm-eks-gpu-node-class"].inputs
    assert (node_class["apiVersion"], node_class["kind"], node_class["metadata"]["name"]) == ("karpenter.k8s.aws/v1", "EC2NodeClass", "gpu")
    nc = node_class["spec"]
    assert nc["amiSelectorTerms"] == [{"alias": eks_render.KARPENTER_AMI_ALIAS}]
    assert nc["role"].startswith("llm-eks-karpenter-node-role")  # the role's id, which is its name
    assert nc["subnetSelectorTerms"] == [{"id": "subnet-a"}, {"id": "subnet-b"}, {"id": "subnet-c"}]
    assert nc["securityGroupSelectorTerms"] == [{"tags": {"aws:eks:cluster-name": "llm-prod"}}]
    [root] = nc["blockDeviceMappings"]
    assert root["ebs"] == {"volumeSize": "200Gi", "volumeType": "gp3", "encrypted": True, "kmsKeyID": KEY, "deleteOnTermination": True}
    assert nc["metadataOptions"]["httpTokens"] == "required"
    assert nc["tags"] == TAGS


def test_karpenter_controller_is_pinned_identified_by_pod_identity_and_fed_interruptions() -> None:
    records = plan()
    named = by_name(records)
    crds, controller = named["llm-eks-karpenter-crd"].inputs, named["llm-eks-karpenter"].inputs
    assert (crds["chart"], crds["version"]) == ("oci://public.ecr.aws/karpenter/karpenter-crd", pins.KARPENTER_CHART.version)
    assert (controller["chart"], controller["version"]) == ("oci://public.ecr.aws/karpenter/karpenter", pins.KARPENTER_CHART.version)
    assert controller["namespace"] == "kube-system"
    assert controller["values"]["settings"] == {"clusterName": "llm-prod", "interruptionQueue": "llm-prod-karpenter"}
    association = named["llm-eks-karpenter-pod-identity"].inputs
    assert (association["namespace"], association["serviceAccount"]) == ("kube-system", "karpenter")
    assert association["roleArn"].endswith(":llm-eks-karpenter-role")
    queue = named["llm-eks-karpenter-interruptions"].inputs
    assert queue == {"name": "llm-prod-karpenter", "messageRetentionSeconds": 300, "sqsManagedSseEnabled": True, "tags": TAGS}
    for key in eks_render.INTERRUPTION_EVENTS:
        assert json.loads(named[f"llm-eks-karpenter-{key}"].inputs["eventPattern"]) == eks_render.INTERRUPTION_EVENTS[key]
        assert named[f"llm-eks-karpenter-{key}-target"].inputs["arn"].endswith(":llm-eks-karpenter-interruptions")
    queue_policy = json.loads(named["llm-eks-karpenter-interruptions-policy"].inputs["policy"])["Statement"]
    assert len(queue_policy[0]["Condition"]["ArnEquals"]["aws:SourceArn"]) == 4
    node_access = named["llm-eks-karpenter-node-access"].inputs
    assert node_access["type"] == "EC2_LINUX" and node_access["principalArn"].endswith(":llm-eks-karpenter-node-role")
    # The custom resources come after the controller (and its CRDs); the controller after its identity
    # and after its nodes may join.
    assert after(records, "llm-eks-karpenter", "llm-eks-karpenter-crd")
    assert after(records, "llm-eks-gpu-node-class", "llm-eks-karpenter")
    assert after(records, "llm-eks-gpu-node-pool", "llm-eks-karpenter")
    assert after(records, "llm-eks-gpu-node-pool", "llm-eks-gpu-node-class")
    assert after(records, "llm-eks-karpenter", "llm-eks-karpenter-pod-identity")
    assert after(records, "llm-eks-karpenter", "llm-eks-karpenter-policy")
    assert after(records, "llm-eks-karpenter", "llm-eks-karpenter-node-access")


# --------------------------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------------------------

UNSCOPABLE = re.compile(
    r"^(ec2:Describe\w+|elasticloadbalancing:Describe\w+|acm:ListCertificates|iam:ListServerCertificates"
    r"|iam:ListInstanceProfiles|pricing:GetProducts|ec2:GetSecurityGroupsForVpc)$"
)


def test_every_inline_policy_scopes_its_resources() -> None:
    overrides: dict[str, Any]  # keyword arguments for plan()
    for overrides in ({}, {"prometheus": "amp"}):
        found = policies(plan(**overrides))
        assert found
        for name, statements in found.items():
            for statement in statements:
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if "*" in resources:
                    # Documented exceptions: read-only calls IAM cannot scope (ec2:Describe*, List*, pricing).
                    assert [a for a in actions if not UNSCOPABLE.match(a)] == [], f"{name}: {statement.get('Sid')}"
                else:
                    assert all(arn.startswith("arn:aws:") for arn in resources), f"{name}: {resources}"
    amp = policies(plan(prometheus="amp"))["llm-eks-prometheus-amp-policy"]
    assert amp == [
        {
            "Sid": "RemoteWriteToStackWorkspace",
            "Effect": "Allow",
            "Action": "aps:RemoteWrite",
            "Resource": f"arn:aws:amp:{REGION}:123456789012:llm-eks-amp",
        }
    ]


def test_pod_identity_roles_trust_only_this_cluster() -> None:
    records = by_name(plan())
    for role in ("karpenter", "load-balancer-controller", "ebs-csi"):
        [trust] = json.loads(records[f"llm-eks-{role}-role"].inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": f"arn:aws:eks:{REGION}:123456789012:cluster/llm-prod"}
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


def test_cluster_role_may_use_only_the_secrets_key() -> None:
    [statement] = policies(plan())["llm-eks-cluster-role-kms"]
    assert statement["Resource"] == KEY
    assert set(statement["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"}


def test_pod_identity_helper_gives_a_service_account_its_own_role() -> None:
    def program() -> None:
        provider = aws.Provider("aws", region=REGION)
        cluster = EksCluster("llm-eks", args(), opts=pulumi.ResourceOptions(providers=[provider]))
        policy = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::weights/*"}]}
        )
        role = cluster.pod_identity("models", "llama-8b", policy)
        assert isinstance(role, aws.iam.Role)
        ready = cluster.workload_identities["models/llama-8b"]
        assert ready[0] is role and [type(r).__name__ for r in ready] == ["Role", "RolePolicy", "PodIdentityAssociation"]
        # The name before 0.2.0 (GKE and AKS call the map workload_identities) still answers, warning.
        with pytest.warns(DeprecationWarning, match=r"EksCluster\.pod_identities is deprecated: use EksCluster\.workload_identities"):
            assert cluster.pod_identities is cluster.workload_identities

    records = by_name(run(program, region=REGION))
    association = records["llm-eks-models-llama-8b-pod-identity"].inputs
    assert (association["clusterName"], association["namespace"], association["serviceAccount"]) == ("llm-prod", "models", "llama-8b")
    assert association["roleArn"].endswith(":llm-eks-models-llama-8b-role")
    assert json.loads(records["llm-eks-models-llama-8b-policy"].inputs["policy"])["Statement"][0]["Resource"] == "arn:aws:s3:::weights/*"
    assert records["llm-eks-models-llama-8b-role"].parent == records["llm-eks"].urn


# --------------------------------------------------------------------------------------------
# In-cluster add-ons
# --------------------------------------------------------------------------------------------


def test_helm_releases_are_pinned_and_placed() -> None:
    records = plan()
    expected = {
        "llm-eks-prometheus": (pins.KUBE_PROMETHEUS_STACK_CHART, "monitoring"),
        "llm-eks-device-plugin": (pins.NVIDIA_DEVICE_PLUGIN_CHART, "nvidia"),
        "llm-eks-dcgm-exporter": (pins.DCGM_EXPORTER_CHART, "nvidia"),
        "llm-eks-load-balancer-controller": (pins.AWS_LOAD_BALANCER_CONTROLLER_CHART, "kube-system"),
        "llm-eks-keda": (pins.KEDA_CHART, "keda"),
    }
    named = by_name(records)
    for name, (pin, namespace) in expected.items():
        release = named[name].inputs
        assert (release["chart"], release["version"], release["namespace"]) == (pin.name, pin.version, namespace)
        assert release["repositoryOpts"] == {"repo": pin.repository} and release["atomic"] is True
    lbc = named["llm-eks-load-balancer-controller"].inputs["values"]
    assert (lbc["clusterName"], lbc["region"], lbc["vpcId"]) == ("llm-prod", REGION, "vpc-0abc")
    association = named["llm-eks-load-balancer-controller-pod-identity"].inputs
    assert (association["namespace"], association["serviceAccount"]) == ("kube-system", "aws-load-balancer-controller")
    assert named["llm-eks-keda"].inputs["values"]["prometheus"]["operator"]["serviceMonitor"]["enabled"] is True
    dcgm = named["llm-eks-dcgm-exporter"].inputs["values"]
    assert dcgm["serviceMonitor"]["enabled"] is True and dcgm["tolerations"] == [GPU_TOLERATION]
    assert named["llm-eks-device-plugin"].inputs["values"]["tolerations"] == [GPU_TOLERATION]
    # No Grafana admin Secret to create before the cluster exists: the chart generates its own.
    assert "admin" not in named["llm-eks-prometheus"].inputs["values"]["grafana"]
    # ServiceMonitors need the Prometheus Operator's CRDs first.
    for name in ("llm-eks-dcgm-exporter", "llm-eks-keda", "llm-eks-load-balancer-controller", "llm-eks-karpenter"):
        assert after(records, name, "llm-eks-prometheus")
    security = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for r in of_type(records, "kubernetes:core/v1:Namespace")
    }
    assert security == {"monitoring": "privileged", "nvidia": "privileged", "keda": "restricted"}


def test_gpu_operator_runs_without_driver_and_toolkit_instead_of_the_plugin() -> None:
    records = by_name(plan(nvidia_stack="gpu-operator"))
    assert "llm-eks-device-plugin" not in records and "llm-eks-dcgm-exporter" not in records
    operator = records["llm-eks-gpu-operator"].inputs
    assert (operator["chart"], operator["version"], operator["namespace"]) == (
        "gpu-operator",
        pins.GPU_OPERATOR_CHART.version,
        "gpu-operator",
    )
    assert operator["values"]["driver"] == {"enabled": False} and operator["values"]["toolkit"] == {"enabled": False}


def test_amp_workspace_is_encrypted_and_prometheus_remote_writes_to_it() -> None:
    records = by_name(plan(prometheus="amp"))
    workspace = records["llm-eks-amp"].inputs
    assert workspace["kmsKeyArn"] == KEY and workspace["alias"] == "llm-prod"
    spec = records["llm-eks-prometheus"].inputs["values"]["prometheus"]["prometheusSpec"]
    [remote] = spec["remoteWrite"]
    assert re.fullmatch(rf"https://aps-workspaces\.{REGION}\.amazonaws\.com/workspaces/llm-eks-amp-\w+/api/v1/remote_write", remote["url"])
    assert remote["sigv4"] == {"region": REGION}
    association = records["llm-eks-prometheus-amp-pod-identity"].inputs
    assert (association["namespace"], association["serviceAccount"]) == ("monitoring", "kps-prometheus")


def test_default_storage_class_is_encrypted_with_the_key() -> None:
    sc = by_name(plan())["llm-eks-gp3"].inputs
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": KEY}
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}


# --------------------------------------------------------------------------------------------
# Outputs for the platform
# --------------------------------------------------------------------------------------------


def test_provider_kubeconfig_uses_exec_auth_and_outputs_feed_model_serving() -> None:
    captured: dict[str, Any] = {}
    records = by_name(plan(captured, gpus_per_node=4))
    provider = records["llm-eks-k8s"].inputs
    assert provider["enableServerSideApply"] == "true"
    kubeconfig = json.loads(provider["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "llm-prod",
        "--region",
        REGION,
        "--output",
        "json",
    ]
    cluster: EksCluster = captured["component"]
    assert isinstance(cluster.provider, pulumi.ProviderResource)
    assert captured["cluster_name"] == "llm-prod"
    assert captured["cluster_arn"] == f"arn:aws:eks:{REGION}:123456789012:cluster/llm-prod"
    assert captured["node_role_arn"].endswith(":llm-eks-karpenter-node-role")
    assert cluster.prometheus_url == "http://kps-prometheus.monitoring.svc.cluster.local:9090"
    assert dict(cluster.gpu_placement.node_selector) == {"nvidia.com/gpu.present": "true"}
    assert [dict(t) for t in cluster.gpu_placement.tolerations] == [GPU_TOLERATION]
    assert cluster.gpu_placement.gpus_per_node == 4
    assert {type(r).__name__ for r in cluster.addons} == {"Release", "CustomResource"}


def test_node_group_mode_reports_the_node_group_role() -> None:
    captured: dict[str, Any] = {}
    plan(captured, gpu_capacity="node-group")
    assert captured["node_role_arn"].endswith(":llm-eks-node-role")
