"""The policy pack on every stack's recorded resources: every stack passes every rule, the budget rule
prices each stack exactly as its sizing summary does, and the rules bite when a real resource is made
non-compliant."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))

from pulumi_llm_policy import budget, pack, rules  # noqa: E402

STACKS = {"dev", "staging", "prod", "gcp-dev", "gcp-prod", "onprem", "onprem-triton", "azure-dev", "azure-prod"}


def _summary_cost(plans: Path, stack: str) -> float:
    summary = json.loads((plans / stack / "summary.json").read_text())
    # The budget rule guards GPU capacity at maximum scale at the on-demand list price, all month: the
    # summary's list figure (its monthly_max is the stack's own, after schedule and spot).
    return sum(s["cost"]["list_monthly_max"] for s in summary.get("sizing") or [] if s.get("cost"))


def _first(resources: list[dict], type_: str) -> dict:
    return copy.deepcopy(next(r for r in resources if r["type"] == type_))


def test_every_stack_passes_every_rule(resources):
    assert STACKS <= set(resources)
    assert {stack: rules.check_stack(rs) for stack, rs in resources.items()} == {stack: {} for stack in resources}


def test_budget_prices_each_stack_like_its_sizing_summary(resources, plans):
    for stack, rs in resources.items():
        items = budget.monthly_cost(rs)
        assert sum(i.monthly for i in items) == pytest.approx(_summary_cost(plans, stack), rel=1e-4), stack
        assert budget.stack_name(rs) == stack
    assert [(i.instance_type, i.max_replicas) for i in budget.monthly_cost(resources["prod"])] == [("g6e.xlarge", 8), ("g6e.12xlarge", 8)]
    assert [(i.instance_type, i.max_replicas) for i in budget.monthly_cost(resources["gcp-prod"])] == [
        ("g2-standard-24", 2),
        ("g2-standard-24", 4),
    ]
    assert budget.monthly_cost(resources["onprem"]) == []


def test_every_stack_is_within_the_repository_budgets(resources, plans):
    config = pack.initial_config()[pack.BUDGET_POLICY]
    for stack, rs in resources.items():
        assert budget.monthly_budget(rs, config) == [], stack
        cost = _summary_cost(plans, stack)
        if cost:
            over = budget.monthly_budget(rs, {"stackBudgetsUsd": {stack: round(cost * 0.9, 2)}})
            assert len(over) == 1 and over[0].startswith(f"stack {stack!r}: GPU capacity at maximum scale costs"), stack


def _unencrypt_log_group(r: dict) -> None:
    del r["inputs"]["kmsKeyId"]


def _optional_imds(r: dict) -> None:
    r["inputs"]["metadataOptions"]["httpTokens"] = "optional"


def _unencrypt_lt_volume(r: dict) -> None:
    r["inputs"]["blockDeviceMappings"][0]["ebs"]["encrypted"] = "false"


def _public_gcs(r: dict) -> None:
    r["inputs"]["publicAccessPrevention"] = "inherited"


def _no_cmek_gcs(r: dict) -> None:
    del r["inputs"]["encryption"]


def _no_cmek_secret(r: dict) -> None:
    del r["inputs"]["replication"]["userManaged"]["replicas"][0]["customerManagedEncryption"]


def _ssh_to_world(r: dict) -> None:
    r["inputs"]["sourceRanges"] = ["0.0.0.0/0"]
    r["inputs"]["allows"] = [{"protocol": "tcp", "ports": ["22"]}]


def _kubelet_to_world(r: dict) -> None:
    r["inputs"].update(cidrIpv4="0.0.0.0/0", fromPort=10250, toPort=10250)
    r["inputs"].pop("referencedSecurityGroupId", None)


def _ecs_literal_key(r: dict) -> None:
    containers = json.loads(r["inputs"]["containerDefinitions"])
    containers[-1]["environment"].append({"name": "OPENAI_API_KEY", "value": "sk-not-a-real-key"})
    r["inputs"]["containerDefinitions"] = json.dumps(containers)


def _ecs_tag_only(r: dict) -> None:
    containers = json.loads(r["inputs"]["containerDefinitions"])
    containers[-1]["image"] = containers[-1]["image"].split("@")[0]
    r["inputs"]["containerDefinitions"] = json.dumps(containers)


def _cloud_run_literal_key(r: dict) -> None:
    r["inputs"]["template"]["containers"][0]["envs"].append({"name": "GEMINI_API_KEY", "value": "not-a-real-key"})


def _deployment_tag_only(r: dict) -> None:
    c = r["inputs"]["spec"]["template"]["spec"]["containers"][0]
    c["image"] = c["image"].split("@")[0]


def _helm_tag_only(r: dict) -> None:
    r["inputs"]["values"]["image"]["tag"] = r["inputs"]["values"]["image"]["tag"].split("@")[0]


def _job_unpinned_init(r: dict) -> None:
    init = r["inputs"]["spec"]["template"]["spec"]["initContainers"][0]
    init["image"] = init["image"].split("@")[0]


def _uncatalogued_gpu_pool(r: dict) -> None:
    r["inputs"]["nodeConfig"]["machineType"] = "a3-edgegpu-8g"


def _uncatalogued_family(r: dict) -> None:
    r["inputs"]["spec"]["template"]["spec"]["requirements"][0]["values"].append("p3")


def _uncatalogued_override(r: dict) -> None:
    r["inputs"]["mixedInstancesPolicy"]["launchTemplate"]["overrides"][0]["instanceType"] = "p3.2xlarge"


def _unencrypted_node_class(r: dict) -> None:
    r["inputs"]["spec"]["blockDeviceMappings"][0]["ebs"]["encrypted"] = False


def _unencrypted_eks_secrets(r: dict) -> None:
    del r["inputs"]["encryptionConfig"]


def _public_blobs(r: dict) -> None:
    r["inputs"]["allowBlobPublicAccess"] = True


def _no_infrastructure_encryption(r: dict) -> None:
    r["inputs"]["encryption"]["requireInfrastructureEncryption"] = False


def _no_purge_protection(r: dict) -> None:
    r["inputs"]["properties"]["enablePurgeProtection"] = False


def _no_encryption_at_host(r: dict) -> None:
    r["inputs"]["virtualMachineProfile"]["securityProfile"]["encryptionAtHost"] = False


def _rdp_from_internet(r: dict) -> None:
    r["inputs"]["securityRules"].insert(
        0,
        {
            "name": "rdp",
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "Tcp",
            "priority": 90,
            "sourceAddressPrefix": "Internet",
            "destinationPortRange": "3389",
        },
    )


def _container_app_literal_key(r: dict) -> None:
    r["inputs"]["template"]["containers"][0]["env"].append({"name": "AZURE_OPENAI_API_KEY", "value": "not-a-real-key"})


def _container_app_tag_only(r: dict) -> None:
    c = r["inputs"]["template"]["containers"][0]
    c["image"] = c["image"].split("@")[0]


def _uncatalogued_vm_size(r: dict) -> None:
    r["inputs"]["vmSize"] = "Standard_NC6s_v3"


MUTATIONS: list[tuple[str, str, Callable[[dict], None], str]] = [
    ("dev", "aws:cloudwatch/logGroup:LogGroup", _unencrypt_log_group, "encryption-at-rest"),
    ("dev", "aws:ec2/launchTemplate:LaunchTemplate", _unencrypt_lt_volume, "encryption-at-rest"),
    ("dev", "aws:ec2/launchTemplate:LaunchTemplate", _optional_imds, "imdsv2-required"),
    ("dev", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", _kubelet_to_world, "no-public-admin-ingress"),
    ("dev", "aws:ecs/taskDefinition:TaskDefinition", _ecs_literal_key, "no-plaintext-secrets"),
    ("dev", "aws:ecs/taskDefinition:TaskDefinition", _ecs_tag_only, "images-pinned-by-digest"),
    ("dev", "aws:autoscaling/group:Group", _uncatalogued_override, "gpu-instance-allowlist"),
    ("gcp-dev", "gcp:storage/bucket:Bucket", _public_gcs, "no-public-storage"),
    ("gcp-dev", "gcp:storage/bucket:Bucket", _no_cmek_gcs, "encryption-at-rest"),
    ("gcp-dev", "gcp:secretmanager/secret:Secret", _no_cmek_secret, "encryption-at-rest"),
    ("gcp-dev", "gcp:compute/firewall:Firewall", _ssh_to_world, "no-public-admin-ingress"),
    ("gcp-dev", "gcp:cloudrunv2/service:Service", _cloud_run_literal_key, "no-plaintext-secrets"),
    ("gcp-prod", "gcp:container/nodePool:NodePool", _uncatalogued_gpu_pool, "gpu-instance-allowlist"),
    ("prod", "kubernetes:apps/v1:Deployment", _deployment_tag_only, "images-pinned-by-digest"),
    ("prod", "kubernetes:helm.sh/v3:Release", _helm_tag_only, "images-pinned-by-digest"),
    ("prod", "kubernetes:karpenter.sh/v1:NodePool", _uncatalogued_family, "gpu-instance-allowlist"),
    ("prod", "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", _unencrypted_node_class, "encryption-at-rest"),
    ("prod", "aws:eks/cluster:Cluster", _unencrypted_eks_secrets, "encryption-at-rest"),
    ("staging", "kubernetes:batch/v1:Job", _job_unpinned_init, "images-pinned-by-digest"),
    ("azure-dev", "azure-native:storage:StorageAccount", _public_blobs, "no-public-storage"),
    ("azure-dev", "azure-native:storage:StorageAccount", _no_infrastructure_encryption, "encryption-at-rest"),
    ("azure-dev", "azure-native:keyvault:Vault", _no_purge_protection, "encryption-at-rest"),
    ("azure-dev", "azure-native:compute:VirtualMachineScaleSet", _no_encryption_at_host, "encryption-at-rest"),
    ("azure-dev", "azure-native:network:NetworkSecurityGroup", _rdp_from_internet, "no-public-admin-ingress"),
    ("azure-dev", "azure-native:app:ContainerApp", _container_app_literal_key, "no-plaintext-secrets"),
    ("azure-dev", "azure-native:app:ContainerApp", _container_app_tag_only, "images-pinned-by-digest"),
    ("azure-prod", "azure-native:containerservice:AgentPool", _uncatalogued_vm_size, "gpu-instance-allowlist"),
]


@pytest.mark.parametrize(("stack", "type_", "mutate", "rule"), MUTATIONS, ids=[f"{m[0]}-{m[2].__name__.strip('_')}" for m in MUTATIONS])
def test_rules_bite_on_real_resources(resources, stack, type_, mutate, rule):
    if type_ == "kubernetes:helm.sh/v3:Release":
        original = copy.deepcopy(next(r for r in resources[stack] if r["type"] == type_ and "image" in (r["inputs"].get("values") or {})))
    else:
        original = _first(resources[stack], type_)
    assert rules.check_resource(original) == {}
    mutate(original)
    found = rules.check_resource(original)
    assert list(found) == [rule] and len(found[rule]) == 1
    assert found[rule][0].startswith(f"{type_} {original['name']!r}: ")


def test_s3_guard_bites_on_real_stacks(resources):
    for stack in ("dev", "staging", "prod"):
        without = [r for r in resources[stack] if r["type"] not in rules.S3_SSE]
        bucket = _first(resources[stack], "aws:s3/bucket:Bucket")
        assert rules.s3_buckets_guarded(without) == [
            f"{_where(bucket)}: no BucketServerSideEncryptionConfiguration applies to it; default encryption must be SSE-KMS"
        ]
        without_pab = [r for r in resources[stack] if r["type"] != rules.S3_PAB]
        assert [cast(rules.Violation, v).urn for v in rules.s3_buckets_guarded(without_pab)] == [bucket["urn"]]


def _where(r: dict) -> str:
    return f"{r['type']} {r['name']!r}"
