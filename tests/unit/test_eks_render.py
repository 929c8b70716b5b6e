"""Pure EKS rendering: kubeconfig, Karpenter NodePool/EC2NodeClass, IAM documents, Helm values."""

from __future__ import annotations

import json
import re
from typing import Any, cast

import pytest
from pulumi_llm import pins
from pulumi_llm.cluster import eks_render as r

PARTITION, REGION, ACCOUNT, CLUSTER = "aws", "eu-west-1", "123456789012", "llm-prod"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/llm-prod-karpenter-node"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:llm-prod-karpenter"

# Actions AWS gives no resource-level permission (IAM requires "Resource": "*"): read-only
# discovery calls. Any other action on "*" is a scoping failure.
UNSCOPABLE = re.compile(
    r"^(ec2:Describe\w+|elasticloadbalancing:Describe\w+|acm:ListCertificates|iam:ListServerCertificates"
    r"|iam:ListInstanceProfiles|pricing:GetProducts|ec2:GetSecurityGroupsForVpc)$"
)


def statements(policy: str) -> list[dict[str, Any]]:
    doc = json.loads(policy)
    assert doc["Version"] == "2012-10-17"
    return doc["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def assert_scoped(policy: str) -> None:
    """Every Allow names its resources; "*" only for unscopable reads, regional ones pinned to the region."""
    for statement in statements(policy):
        if statement["Effect"] != "Allow":
            continue
        resources = as_list(statement["Resource"])
        actions = as_list(statement["Action"])
        assert all("*" not in a.split(":")[1] for a in actions), f"wildcard action in {statement}"
        if "*" in resources:
            assert resources == ["*"]
            wide = [a for a in actions if not UNSCOPABLE.match(a)]
            assert not wide, f"{statement.get('Sid')}: {wide} support resource scoping but get '*'"
            regional = [a for a in actions if not a.startswith(("iam:", "pricing:"))]
            if regional:
                assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == REGION
        else:
            for arn in resources:
                assert arn.startswith("arn:aws:"), arn
                service, region, account = arn.split(":")[2:5]
                if service in ("ec2", "elasticloadbalancing", "sqs", "eks", "ssm", "acm"):
                    assert region == REGION, f"{arn} not pinned to the region"
                if service not in ("ssm",) and not re.search(r":(image|snapshot)/", arn):
                    assert account == ACCOUNT, f"{arn} not pinned to the account"


# --------------------------------------------------------------------------------------------
# kubeconfig
# --------------------------------------------------------------------------------------------


def test_kubeconfig_authenticates_with_aws_eks_get_token_and_holds_no_secret() -> None:
    text = r.kubeconfig(CLUSTER, "https://ABC.gr7.eu-west-1.eks.amazonaws.com", "LS0tCA==", REGION)
    config = json.loads(text)
    assert config["current-context"] == CLUSTER
    assert config["clusters"] == [
        {"name": CLUSTER, "cluster": {"server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com", "certificate-authority-data": "LS0tCA=="}}
    ]
    [user] = config["users"]
    assert user["user"] == {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", CLUSTER, "--region", REGION, "--output", "json"],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    # The user is the exec plugin alone: no static token, password or client key in the state.
    assert not re.search(r'"(token|password|client-key-data|client-certificate-data)":', text)
    assert r.kubeconfig(CLUSTER, "https://x", "y", REGION) == r.kubeconfig(CLUSTER, "https://x", "y", REGION)


# --------------------------------------------------------------------------------------------
# Karpenter
# --------------------------------------------------------------------------------------------


def test_node_pool_taints_limits_disruption_and_expiry() -> None:
    spec = r.node_pool_spec(instances=["g6e", "g6"], capacity_types=["spot", "on-demand"], max_gpus=16)
    template = spec["template"]
    assert template["metadata"]["labels"] == {"nvidia.com/gpu.present": "true", "pulumi-llm.dev/pool": "gpu"}
    assert template["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert template["spec"]["expireAfter"] == "720h"
    assert template["spec"]["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"}
    requirements = {req["key"]: req for req in template["spec"]["requirements"]}
    assert requirements["karpenter.k8s.aws/instance-family"] == {
        "key": "karpenter.k8s.aws/instance-family",
        "operator": "In",
        "values": ["g6e", "g6"],
    }
    assert requirements["karpenter.sh/capacity-type"]["values"] == ["spot", "on-demand"]
    assert requirements["kubernetes.io/arch"]["values"] == ["amd64"]
    assert requirements["karpenter.k8s.aws/instance-gpu-count"] == {
        "key": "karpenter.k8s.aws/instance-gpu-count",
        "operator": "Gt",
        "values": ["0"],
    }
    assert spec["limits"] == {"nvidia.com/gpu": "16"}
    assert spec["disruption"] == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "10m",
        "budgets": [{"nodes": "10%"}],
    }


def test_node_pool_takes_exact_types_but_never_a_mix() -> None:
    spec = r.node_pool_spec(instances=["g6e.12xlarge", "p5.48xlarge"], capacity_types=["on-demand"], max_gpus=8)
    first = spec["template"]["spec"]["requirements"][0]
    assert first == {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g6e.12xlarge", "p5.48xlarge"]}
    with pytest.raises(ValueError, match="mix of instance families and types"):
        r.instance_requirement(["g6e", "g6e.xlarge"])
    with pytest.raises(ValueError, match="at least one"):
        r.instance_requirement([])


def test_ec2_node_class_encrypts_root_with_the_key_and_requires_imdsv2() -> None:
    spec = r.ec2_node_class_spec(
        role="llm-prod-karpenter-node",
        subnet_ids=["subnet-a", "subnet-b"],
        cluster_name=CLUSTER,
        kms_key_arn=KEY,
        tags={"pulumi-llm:stack": "prod"},
    )
    assert spec["role"] == "llm-prod-karpenter-node"
    assert spec["amiSelectorTerms"] == [{"alias": r.KARPENTER_AMI_ALIAS}]
    assert spec["subnetSelectorTerms"] == [{"id": "subnet-a"}, {"id": "subnet-b"}]
    assert spec["securityGroupSelectorTerms"] == [{"tags": {"aws:eks:cluster-name": CLUSTER}}]
    [root] = spec["blockDeviceMappings"]
    assert root == {
        "deviceName": "/dev/xvda",
        "ebs": {"volumeSize": "200Gi", "volumeType": "gp3", "encrypted": True, "kmsKeyID": KEY, "deleteOnTermination": True},
    }
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert spec["tags"] == {"pulumi-llm:stack": "prod"}


def test_karpenter_ami_is_a_dated_release_not_latest() -> None:
    assert re.fullmatch(r"al2023@v\d{8}", r.KARPENTER_AMI_ALIAS)
    assert "latest" not in r.KARPENTER_AMI_ALIAS


def test_karpenter_crd_chart_is_the_same_release_as_the_controller() -> None:
    assert r.KARPENTER_CRD_CHART.version == pins.KARPENTER_CHART.version
    assert r.KARPENTER_CRD_CHART.repository == pins.KARPENTER_CHART.repository


def test_interruption_events_cover_spot_rebalance_health_and_state_change() -> None:
    patterns = {key: json.loads(r.event_pattern(key)) for key in r.INTERRUPTION_EVENTS}
    assert patterns == {
        "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
        "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
        "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
        "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    }


def test_interruption_queue_accepts_only_our_rules_over_tls() -> None:
    rules = [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/b", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/a"]
    allow, deny = statements(r.interruption_queue_policy(QUEUE, rules))
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == QUEUE and allow["Condition"] == {"ArnEquals": {"aws:SourceArn": sorted(rules)}}
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --------------------------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------------------------


def karpenter_policy() -> str:
    return r.karpenter_controller_policy(
        partition=PARTITION,
        region=REGION,
        account_id=ACCOUNT,
        cluster_name=CLUSTER,
        node_role_arn=NODE_ROLE,
        queue_arn=QUEUE,
        kms_key_arn=KEY,
    )


def lbc_policy() -> str:
    return r.load_balancer_controller_policy(partition=PARTITION, region=REGION, account_id=ACCOUNT, vpc_id="vpc-0abc")


@pytest.mark.parametrize(
    "policy",
    [
        karpenter_policy(),
        lbc_policy(),
        r.cluster_key_policy(KEY),
        r.ebs_csi_key_policy(KEY, REGION),
        r.amp_remote_write_policy(f"arn:aws:aps:{REGION}:{ACCOUNT}:workspace/ws-1"),
    ],
    ids=["karpenter", "load-balancer-controller", "cluster-kms", "ebs-csi-kms", "amp-remote-write"],
)
def test_every_policy_scopes_its_resources(policy: str) -> None:
    assert_scoped(policy)


def test_karpenter_passes_only_its_node_role_and_reads_only_its_queue() -> None:
    by_sid = {s["Sid"]: s for s in statements(karpenter_policy())}
    assert by_sid["AllowPassingInstanceRole"]["Resource"] == NODE_ROLE
    assert by_sid["AllowPassingInstanceRole"]["Condition"]["StringEquals"]["iam:PassedToService"][0] == "ec2.amazonaws.com"
    assert by_sid["AllowInterruptionQueueActions"]["Resource"] == QUEUE
    assert by_sid["AllowAPIServerEndpointDiscovery"]["Resource"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
    # Deleting and launching from templates only touches what Karpenter tagged for this cluster.
    deletion = by_sid["AllowScopedDeletion"]["Condition"]
    assert deletion["StringEquals"] == {f"aws:ResourceTag/kubernetes.io/cluster/{CLUSTER}": "owned"}
    assert deletion["StringLike"] == {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    # The root volumes' key, only through EC2 in this region.
    kms = by_sid["AllowEncryptedRootVolumes"]
    assert kms["Resource"] == KEY and kms["Condition"] == {"StringEquals": {"kms:ViaService": f"ec2.{REGION}.amazonaws.com"}}


def test_load_balancer_controller_writes_only_in_the_cluster_vpc_and_its_tagged_resources() -> None:
    by_sid = {s["Sid"]: s for s in statements(lbc_policy())}
    assert by_sid["CreateSecurityGroupsInTheClusterVpc"]["Resource"][1] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0abc"
    assert by_sid["DeleteManagedSecurityGroups"]["Condition"] == {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    assert by_sid["ModifyManagedLoadBalancers"]["Condition"] == {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    assert by_sid["ElbServiceLinkedRole"]["Condition"] == {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}
    actions = {a for s in by_sid.values() for a in as_list(s["Action"])}
    # WAF, Shield and Cognito integrations are switched off in the chart, so not granted.
    assert not {a for a in actions if a.split(":")[0] in ("wafv2", "waf-regional", "shield", "cognito-idp")}
    values = r.load_balancer_controller_values(cluster_name=CLUSTER, region=REGION, vpc_id="vpc-0abc")
    assert (values["enableWaf"], values["enableWafv2"], values["enableShield"]) == (False, False, False)


def test_pod_identity_trust_is_limited_to_this_cluster() -> None:
    [statement] = statements(r.pod_identity_trust_policy(partition=PARTITION, region=REGION, account_id=ACCOUNT, cluster_name=CLUSTER))
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"},
    }


# --------------------------------------------------------------------------------------------
# Helm values and names
# --------------------------------------------------------------------------------------------


def test_nvidia_values_tolerate_the_gpu_taint_and_pin_dcgm_by_digest() -> None:
    for values in (r.device_plugin_values(), r.dcgm_exporter_values()):
        assert values["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        assert values["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    dcgm = r.dcgm_exporter_values()
    assert f"{dcgm['image']['repository']}:{dcgm['image']['tag']}" == pins.DCGM_EXPORTER.ref
    # honorLabels false, stated: the alerts and dashboards query the workload's pod as exported_pod.
    assert dcgm["serviceMonitor"]["enabled"] is True and dcgm["serviceMonitor"]["honorLabels"] is False
    operator = r.gpu_operator_values()
    assert operator["driver"] == {"enabled": False} and operator["toolkit"] == {"enabled": False}
    assert operator["dcgmExporter"]["serviceMonitor"] == {"enabled": True, "honorLabels": False}


def test_prometheus_remote_writes_to_amp_with_sigv4_only_when_asked() -> None:
    url = r.amp_remote_write_url(REGION, "ws-1")
    assert url == f"https://aps-workspaces.{REGION}.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
    spec = r.prometheus_values(remote_write_url=url, region=REGION)["prometheus"]["prometheusSpec"]
    assert spec["remoteWrite"] == [{"url": url, "sigv4": {"region": REGION}}]
    assert "remoteWrite" not in r.prometheus_values()["prometheus"]["prometheusSpec"]


def test_karpenter_runs_on_system_nodes_and_reads_its_queue() -> None:
    values = r.karpenter_values(cluster_name=CLUSTER, interruption_queue=r.interruption_queue_name(CLUSTER))
    assert values["settings"] == {"clusterName": CLUSTER, "interruptionQueue": "llm-prod-karpenter"}
    assert values["nodeSelector"] == {"pulumi-llm.dev/pool": "system"}
    assert values["serviceAccount"]["name"] == r.KARPENTER_SERVICE_ACCOUNT


def test_gpu_placement_matches_the_taint_and_labels() -> None:
    placement = r.gpu_placement(4)
    assert dict(placement.node_selector).items() <= r.GPU_NODE_LABELS.items()
    assert [dict(t) for t in placement.tolerations] == [{"key": r.GPU_TAINT["key"], "operator": "Exists", "effect": r.GPU_TAINT["effect"]}]
    assert placement.gpus_per_node == 4


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("llm-prod", None),
        ("a" * 100, None),
        ("", "EKS allows 1 to 100"),
        ("a" * 101, "EKS allows 1 to 100"),
        ("-x", "starting with a letter or digit"),
        ("llm.prod", "only letters, digits"),
    ],
)
def test_cluster_name_rules(name: str, problem: str | None) -> None:
    found = r.cluster_name_problem(name)
    assert (found is None) if problem is None else (problem in cast(str, found))
    assert r.log_group_name("llm-prod") == "/aws/eks/llm-prod/cluster"
