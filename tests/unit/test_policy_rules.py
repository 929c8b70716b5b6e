"""The policy pack's rules, one by one, on passing and failing resource dicts (the shape of the offline
plan's resources.json), and the pack's adapter as Pulumi's analyzer calls it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, cast

import pytest

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))

from google.protobuf import json_format, struct_pb2  # noqa: E402
from pulumi.runtime import proto  # noqa: E402
from pulumi_llm.sizing import INSTANCE_TYPES  # noqa: E402
from pulumi_llm_policy import budget, catalog, pack, rules  # noqa: E402
from pulumi_llm_policy.rules import UNKNOWN  # noqa: E402
from pulumi_policy import PolicyConfigSchema  # noqa: E402
from pulumi_policy.policy import _PolicyAnalyzerServicer  # noqa: E402
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE  # noqa: E402

KMS = "arn:aws:kms:us-east-1:123456789012:key/1"
DIGEST = "sha256:" + "ab" * 32
PARENT = "urn:pulumi:dev::pulumi-llm::pulumi-llm:index:LlmPlatform$pulumi-llm:index:ModelStore::llm-models"


def res(type_: str, inputs: dict, name: str = "r", parent: str | None = None, stack: str = "dev") -> dict:
    return {
        "urn": f"urn:pulumi:{stack}::pulumi-llm::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "inputs": inputs,
    }


# --- encryption at rest ----------------------------------------------------------------------------


def _lt(ebs: dict, **extra) -> dict:
    return res(
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": ebs}], "metadataOptions": {"httpTokens": "required"}, **extra},
        name="lt",
    )


def test_encryption_launch_template_volumes():
    assert rules.encryption_at_rest(_lt({"encrypted": "true", "kmsKeyId": KMS})) == []
    assert rules.encryption_at_rest(_lt({"encrypted": "false"})) == [
        "aws:ec2/launchTemplate:LaunchTemplate 'lt': blockDeviceMappings[0].ebs.encrypted = 'false'; EBS volumes must be encrypted"
    ]
    assert len(rules.encryption_at_rest(_lt({"volumeSize": 100}))) == 1
    # An instance-store mapping has no EBS settings to check.
    r = res("aws:ec2/launchTemplate:LaunchTemplate", {"blockDeviceMappings": [{"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}]})
    assert rules.encryption_at_rest(r) == []


def test_encryption_s3_sse_configuration_needs_kms_with_a_key():
    t = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    good = res(t, {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KMS}}]})
    aes = res(t, {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]})
    no_key = res(t, {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]})
    assert rules.encryption_at_rest(good) == []
    assert rules.encryption_at_rest(aes) == [
        f"{t} 'r': rules[0].applyServerSideEncryptionByDefault.sseAlgorithm = 'AES256'; allowed: aws:kms, aws:kms:dsse"
    ]
    assert "kmsMasterKeyId is not set" in rules.encryption_at_rest(no_key)[0]


@pytest.mark.parametrize(
    ("type_", "good", "bad", "needle"),
    [
        ("aws:secretsmanager/secret:Secret", {"kmsKeyId": KMS}, {"name": "x"}, "kmsKeyId is not set"),
        ("aws:cloudwatch/logGroup:LogGroup", {"kmsKeyId": UNKNOWN}, {"retentionInDays": 30}, "kmsKeyId is not set"),
        ("aws:sns/topic:Topic", {"kmsMasterKeyId": KMS}, {}, "kmsMasterKeyId is not set"),
        ("aws:sqs/queue:Queue", {"sqsManagedSseEnabled": True}, {"sqsManagedSseEnabled": False}, "SQS queues must be encrypted"),
        ("aws:ebs/volume:Volume", {"encrypted": True}, {"encrypted": False}, "EBS volumes must be encrypted"),
        (
            "aws:ecr/repository:Repository",
            {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KMS}]},
            {"encryptionConfigurations": [{"encryptionType": "AES256"}]},
            "is not KMS",
        ),
        (
            "aws:eks/cluster:Cluster",
            {"encryptionConfig": {"provider": {"keyArn": KMS}, "resources": ["secrets"]}},
            {"name": "c"},
            "envelope-encrypt 'secrets'",
        ),
        ("aws:eks/nodeGroup:NodeGroup", {"launchTemplate": {"id": "lt-1"}}, {"instanceTypes": ["m7i.large"]}, "no launchTemplate"),
        (
            "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
            {"spec": {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": True}}]}},
            {"spec": {"role": "r"}},
            "spec.blockDeviceMappings is not set",
        ),
        ("gcp:storage/bucket:Bucket", {"encryption": {"defaultKmsKeyName": "k"}}, {"name": "b"}, "encryption.defaultKmsKeyName is not set"),
        (
            "gcp:secretmanager/secret:Secret",
            {"replication": {"userManaged": {"replicas": [{"location": "us-central1", "customerManagedEncryption": {"kmsKeyName": "k"}}]}}},
            {"replication": {"auto": {}}},
            "customerManagedEncryption.kmsKeyName",
        ),
        (
            "gcp:compute/instanceTemplate:InstanceTemplate",
            {"disks": [{"boot": True, "diskEncryptionKey": {"kmsKeySelfLink": "k"}}]},
            {"disks": [{"boot": True}]},
            "disks[0].diskEncryptionKey.kmsKeySelfLink is not set",
        ),
        ("gcp:container/nodePool:NodePool", {"nodeConfig": {"bootDiskKmsKey": "k"}}, {"nodeConfig": {}}, "bootDiskKmsKey is not set"),
        (
            "gcp:container/cluster:Cluster",
            {"databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"}},
            {"databaseEncryption": {"state": "DECRYPTED"}},
            "databaseEncryption must be state ENCRYPTED",
        ),
        ("gcp:artifactregistry/repository:Repository", {"kmsKeyName": "k"}, {"format": "DOCKER"}, "kmsKeyName is not set"),
        (
            "azure-native:storage:StorageAccount",
            {"encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": True}, "allowBlobPublicAccess": False},
            {"encryption": {"keySource": "Microsoft.Storage"}, "allowBlobPublicAccess": False},
            "requireInfrastructureEncryption is not true",
        ),
        (
            "azure-native:keyvault:Vault",
            {"properties": {"enablePurgeProtection": True, "enableSoftDelete": True}},
            {"properties": {"enableSoftDelete": True}},
            "enablePurgeProtection is not true",
        ),
        (
            "azure-native:compute:VirtualMachineScaleSet",
            {"virtualMachineProfile": {"securityProfile": {"encryptionAtHost": True}}, "sku": {"name": "Standard_NC24ads_A100_v4"}},
            {"virtualMachineProfile": {"securityProfile": {"encryptionAtHost": False}}, "sku": {"name": "Standard_NC24ads_A100_v4"}},
            "encryptionAtHost is not true",
        ),
    ],
)
def test_encryption_per_store(type_, good, bad, needle):
    assert rules.encryption_at_rest(res(type_, good)) == []
    found = rules.encryption_at_rest(res(type_, bad))
    assert len(found) == 1 and needle in found[0] and found[0].startswith(f"{type_} 'r': ")


def test_encryption_azure_cmk_needs_a_key_name():
    r = res(
        "azure-native:storage:StorageAccount", {"encryption": {"keySource": "Microsoft.Keyvault", "requireInfrastructureEncryption": True}}
    )
    assert rules.encryption_at_rest(r) == [
        "azure-native:storage:StorageAccount 'r': encryption.keySource is Microsoft.Keyvault without keyVaultProperties.keyName"
    ]


# --- no public storage -----------------------------------------------------------------------------


def test_s3_public_access_block_needs_all_four_flags():
    flags = dict.fromkeys(rules.S3_PAB_FLAGS, True)
    assert rules.no_public_storage(res(rules.S3_PAB, {"bucket": "b", **flags})) == []
    found = rules.no_public_storage(res(rules.S3_PAB, {"bucket": "b", **flags, "restrictPublicBuckets": False}))
    assert found == [f"{rules.S3_PAB} 'r': restrictPublicBuckets = False; all four public access block settings must be true"]


def test_public_acls_and_members():
    assert rules.no_public_storage(res("aws:s3/bucket:Bucket", {"acl": "private"})) == []
    assert rules.no_public_storage(res("aws:s3/bucketAclV2:BucketAclV2", {"acl": "public-read"})) == [
        "aws:s3/bucketAclV2:BucketAclV2 'r': acl = 'public-read' makes the bucket public"
    ]
    member = "gcp:storage/bucketIAMMember:BucketIAMMember"
    assert rules.no_public_storage(res(member, {"member": "serviceAccount:a@b.iam.gserviceaccount.com"})) == []
    assert rules.no_public_storage(res(member, {"member": "allUsers"})) == [
        f"{member} 'r': grants 'allUsers'; buckets and objects must not be public"
    ]


def test_gcs_public_access_prevention_enforced():
    t = "gcp:storage/bucket:Bucket"
    assert rules.no_public_storage(res(t, {"publicAccessPrevention": "enforced"})) == []
    assert rules.no_public_storage(res(t, {"publicAccessPrevention": "inherited"})) == [
        f"{t} 'r': publicAccessPrevention = 'inherited'; must be 'enforced'"
    ]
    assert len(rules.no_public_storage(res(t, {}))) == 1


def test_azure_blob_public_access_off():
    t = "azure-native:storage:StorageAccount"
    assert rules.no_public_storage(res(t, {"allowBlobPublicAccess": False})) == []
    assert rules.no_public_storage(res(t, {})) == [f"{t} 'r': allowBlobPublicAccess = None; must be false"]
    c = "azure-native:storage:BlobContainer"
    assert rules.no_public_storage(res(c, {"publicAccess": "None"})) == []
    assert rules.no_public_storage(res(c, {"publicAccess": "Blob"})) == [f"{c} 'r': publicAccess = 'Blob'; must be None"]


def _bucket_set(parent: str = PARENT) -> list[dict]:
    sse = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KMS}}]}
    return [
        res("aws:s3/bucket:Bucket", {}, name="models-bucket", parent=parent),
        res(rules.S3_SSE[0], {"bucket": UNKNOWN, **sse}, name="models-encryption", parent=parent),
        res(rules.S3_PAB, {"bucket": UNKNOWN, **dict.fromkeys(rules.S3_PAB_FLAGS, True)}, name="models-pab", parent=parent),
    ]


def test_s3_buckets_guarded_matches_by_parent_or_name():
    assert rules.s3_buckets_guarded(_bucket_set()) == []
    without_pab = [r for r in _bucket_set() if r["type"] != rules.S3_PAB]
    found = rules.s3_buckets_guarded(without_pab)
    assert found == ["aws:s3/bucket:Bucket 'models-bucket': no BucketPublicAccessBlock applies to it; block all public access"]
    assert cast(rules.Violation, found[0]).urn == "urn:pulumi:dev::pulumi-llm::aws:s3/bucket:Bucket::models-bucket"
    # A second bucket under the same component is not covered by the first one's configuration…
    two = [*_bucket_set(), res("aws:s3/bucket:Bucket", {"bucket": "logs"}, name="logs-bucket", parent=PARENT)]
    assert len(rules.s3_buckets_guarded(two)) == 4
    # …unless the configuration names it.
    named = [*two, *[{**r, "name": r["name"] + "-logs", "inputs": {**r["inputs"], "bucket": "logs"}} for r in _bucket_set()[1:]]]
    assert len(rules.s3_buckets_guarded(named)) == 2  # the first bucket is now ambiguous by parent


def test_s3_account_public_access_block_covers_every_bucket():
    resources = [r for r in _bucket_set() if r["type"] != rules.S3_PAB]
    resources.append(res(rules.S3_ACCOUNT_PAB, dict.fromkeys(rules.S3_PAB_FLAGS, True)))
    assert rules.s3_buckets_guarded(resources) == []


# --- IMDSv2 ----------------------------------------------------------------------------------------


def test_imdsv2_required():
    assert rules.imdsv2_required(_lt({"encrypted": True})) == []
    optional = _lt({"encrypted": True}, metadataOptions={"httpTokens": "optional"})
    assert rules.imdsv2_required(optional) == [
        "aws:ec2/launchTemplate:LaunchTemplate 'lt': metadataOptions.httpTokens = 'optional'; must be 'required' (IMDSv2)"
    ]
    missing = res("aws:ec2/instance:Instance", {"instanceType": "m7i.large"})
    assert rules.imdsv2_required(missing) == [
        "aws:ec2/instance:Instance 'r': metadataOptions.httpTokens = None; must be 'required' (IMDSv2)"
    ]
    disabled = res("aws:ec2/instance:Instance", {"metadataOptions": {"httpEndpoint": "disabled"}})
    assert rules.imdsv2_required(disabled) == []
    nc = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
    assert rules.imdsv2_required(res(nc, {"spec": {}})) == []  # Karpenter's default is required
    assert len(rules.imdsv2_required(res(nc, {"spec": {"metadataOptions": {"httpTokens": "optional"}}}))) == 1


# --- admin ports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "inputs", "expected"),
    [
        (
            "aws:ec2/securityGroup:SecurityGroup",
            {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]},
            ["aws:ec2/securityGroup:SecurityGroup 'r': ingress[0] opens 22 (SSH) to 0.0.0.0/0"],
        ),
        (
            "aws:ec2/securityGroup:SecurityGroup",
            {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]},
            [],
        ),
        (
            "aws:ec2/securityGroup:SecurityGroup",
            {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/8"]}]},
            [],
        ),
        (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            {"ipProtocol": "tcp", "fromPort": 6443, "toPort": 6443, "cidrIpv6": "::/0"},
            ["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule 'r': the rule opens 6443 (Kubernetes API) to ::/0"],
        ),
        (
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {"type": "ingress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]},
            ["aws:ec2/securityGroupRule:SecurityGroupRule 'r': the rule opens " + rules._ports(list(rules.ADMIN_PORTS)) + " to 0.0.0.0/0"],
        ),
        (
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]},
            [],
        ),
        (
            "gcp:compute/firewall:Firewall",
            {"direction": "INGRESS", "sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["10000-10300"]}]},
            [
                "gcp:compute/firewall:Firewall 'r': allows[0] opens 10250 (kubelet), 10255 (kubelet (read-only)), 10257 (kube-controller-manager), 10259 (kube-scheduler) to 0.0.0.0/0"
            ],
        ),
        (
            "gcp:compute/firewall:Firewall",
            {"sourceRanges": ["35.191.0.0/16"], "allows": [{"protocol": "tcp", "ports": ["22"]}]},
            [],
        ),
        (
            "gcp:compute/firewall:Firewall",
            {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "all"}]},
            ["gcp:compute/firewall:Firewall 'r': allows[0] opens " + rules._ports(sorted(rules.ADMIN_PORTS)) + " to 0.0.0.0/0"],
        ),
        (
            "azure-native:network:NetworkSecurityGroup",
            {
                "securityRules": [
                    {
                        "name": "ssh",
                        "direction": "Inbound",
                        "access": "Allow",
                        "protocol": "Tcp",
                        "sourceAddressPrefix": "Internet",
                        "destinationPortRange": "22",
                    },
                    {
                        "name": "deny",
                        "direction": "Inbound",
                        "access": "Deny",
                        "protocol": "*",
                        "sourceAddressPrefix": "*",
                        "destinationPortRange": "*",
                    },
                ]
            },
            ["azure-native:network:NetworkSecurityGroup 'r': securityRules[0] (ssh) opens 22 (SSH) to Internet"],
        ),
        (
            "azure-native:network:SecurityRule",
            {
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "*",
                "sourceAddressPrefixes": ["10.0.0.0/8", "0.0.0.0/0"],
                "destinationPortRanges": ["3380-3390"],
            },
            ["azure-native:network:SecurityRule 'r': the rule opens 3389 (RDP) to 0.0.0.0/0"],
        ),
        (
            "azure-native:network:SecurityRule",
            {
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "Tcp",
                "sourceAddressPrefix": "VirtualNetwork",
                "destinationPortRange": "22",
            },
            [],
        ),
    ],
)
def test_no_public_admin_ingress(type_, inputs, expected):
    assert rules.no_public_admin_ingress(res(type_, inputs)) == expected


# --- plaintext secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("OPENAI_API_KEY", True),
        ("HF_TOKEN", True),
        ("DB_PASSWORD", True),
        ("hfToken", True),
        ("LITELLM_MASTER_KEY", True),
        ("LITELLM_SECRET_FILES", False),
        ("KMS_KEY_ID", False),
        ("MASTER_KEY_SECRET_ARN", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("MAX_TOKENS", False),
        ("MASTER_KEY_CACHE_SECONDS", False),
        ("AWS_REGION", False),
    ],
)
def test_looks_secret(name, secret):
    assert rules.looks_secret(name) is secret


def _ecs(environment=None, secrets=None, image=f"ghcr.io/berriai/litellm:v1@{DIGEST}") -> dict:
    container = {"name": "litellm", "image": image, "environment": environment or [], "secrets": secrets or []}
    return res("aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": json.dumps([container])}, name="task")


def test_plaintext_secrets_ecs():
    ok = _ecs([{"name": "AWS_REGION", "value": "us-east-1"}], [{"name": "OPENAI_API_KEY", "valueFrom": "arn:aws:secretsmanager:x"}])
    assert rules.no_plaintext_secrets(ok) == []
    bad = _ecs([{"name": "OPENAI_API_KEY", "value": "sk-123"}])
    assert rules.no_plaintext_secrets(bad) == [
        "aws:ecs/taskDefinition:TaskDefinition 'task': container 'litellm' sets OPENAI_API_KEY as a plain environment value; use `secrets` with valueFrom"
    ]
    whole = res("aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": rules.SECRET}, name="task")
    assert "holds a secret value" in rules.no_plaintext_secrets(whole)[0]


def _deployment(env: list, image: str = f"docker.io/vllm/vllm-openai:v0.31.0@{DIGEST}", init_image: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "server", "image": image, "env": env}]}
    if init_image:
        spec["initContainers"] = [{"name": "copy", "image": init_image}]
    return res(
        "kubernetes:apps/v1:Deployment",
        {"metadata": {"name": "m", "namespace": "llm"}, "spec": {"template": {"spec": spec}}},
        name="deploy",
    )


def test_plaintext_secrets_kubernetes():
    ok = _deployment(
        [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}, {"name": "PORT", "value": "8000"}]
    )
    assert rules.no_plaintext_secrets(ok) == []
    bad = _deployment([{"name": "HF_TOKEN", "value": "hf_abc"}])
    assert rules.no_plaintext_secrets(bad) == [
        "kubernetes:apps/v1:Deployment 'deploy': spec.template.spec.containers[0].env sets HF_TOKEN as a literal value; "
        "reference a secret (valueFrom/secretKeyRef/secretRef/valueSource)"
    ]


def test_plaintext_secrets_cloud_run_lambda_container_apps():
    cr = "gcp:cloudrunv2/service:Service"
    ok = res(cr, {"template": {"containers": [{"envs": [{"name": "GEMINI_API_KEY", "valueSource": {"secretKeyRef": {"secret": "s"}}}]}]}})
    bad = res(cr, {"template": {"containers": [{"envs": [{"name": "GEMINI_API_KEY", "value": "x"}]}]}})
    assert rules.no_plaintext_secrets(ok) == []
    assert len(rules.no_plaintext_secrets(bad)) == 1
    lam = "aws:lambda/function:Function"
    assert rules.no_plaintext_secrets(res(lam, {"environment": {"variables": {"CLUSTER": "c"}}})) == []
    assert rules.no_plaintext_secrets(res(lam, {"environment": {"variables": {"API_TOKEN": "t"}}})) == [
        f"{lam} 'r': environment.variables.API_TOKEN is a plain value; read it from Secrets Manager at run time"
    ]
    ca = "azure-native:app:ContainerApp"
    assert (
        rules.no_plaintext_secrets(
            res(ca, {"template": {"containers": [{"env": [{"name": "LITELLM_MASTER_KEY", "secretRef": "master"}]}]}})
        )
        == []
    )
    assert (
        len(rules.no_plaintext_secrets(res(ca, {"template": {"containers": [{"env": [{"name": "LITELLM_MASTER_KEY", "value": "k"}]}]}})))
        == 1
    )


def test_no_secret_outputs():
    stack = res("pulumi:pulumi:Stack", {"namespace": "llm", "modelBucket": "b", "masterKeySecretArn": "arn:x"}, name="pulumi-llm-dev")
    assert rules.no_secret_outputs([stack]) == []
    leaky = res("pulumi:pulumi:Stack", {"gatewayApiKey": rules.SECRET}, name="pulumi-llm-dev")
    assert rules.no_secret_outputs([leaky]) == [
        "pulumi:pulumi:Stack 'pulumi-llm-dev': output 'gatewayApiKey' looks like a secret value; export its reference instead"
    ]


# --- images ----------------------------------------------------------------------------------------


def test_images_pinned_kubernetes_workloads():
    assert rules.images_pinned_by_digest(_deployment([])) == []
    assert rules.images_pinned_by_digest(_deployment([], image="vllm/vllm-openai:latest")) == [
        "kubernetes:apps/v1:Deployment 'deploy': spec.template.spec.containers[0].image = 'vllm/vllm-openai:latest' is not pinned by digest"
    ]
    init = rules.images_pinned_by_digest(_deployment([], init_image="amazon/aws-cli:2.37.5"))
    assert init == [
        "kubernetes:apps/v1:Deployment 'deploy': spec.template.spec.initContainers[0].image = 'amazon/aws-cli:2.37.5' is not pinned by digest"
    ]
    lws = res(
        "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet",
        {
            "spec": {
                "leaderWorkerTemplate": {"workerTemplate": {"spec": {"containers": [{"name": "w", "image": "vllm/vllm-openai:v0.31.0"}]}}}
            }
        },
    )
    assert len(rules.images_pinned_by_digest(lws)) == 1
    # Built in the stack: the digest output is not known during preview.
    assert rules.images_pinned_by_digest(_deployment([], image=UNKNOWN)) == []


def test_images_pinned_helm_values():
    helm = "kubernetes:helm.sh/v3:Release"
    pinned = {"image": {"repository": "nvcr.io/nvidia/k8s/dcgm-exporter", "tag": f"4.5.3@{DIGEST}"}}
    by_digest = {"controller": {"image": {"repository": "r", "tag": "1.0", "digest": DIGEST}}}
    tag_only = {"image": {"repository": "nvcr.io/nvidia/k8s/dcgm-exporter", "tag": "4.5.3"}}
    assert rules.images_pinned_by_digest(res(helm, {"values": pinned})) == []
    assert rules.images_pinned_by_digest(res(helm, {"values": by_digest})) == []
    assert rules.images_pinned_by_digest(res(helm, {"values": {"image": {"pullPolicy": "IfNotPresent"}}})) == []
    assert len(rules.images_pinned_by_digest(res(helm, {"values": tag_only}))) == 1
    assert rules.images_pinned_by_digest(res(helm, {"values": {"image": "busybox:1.36"}})) == [
        f"{helm} 'r': values.image = 'busybox:1.36' is not pinned by digest"
    ]


def test_images_pinned_ecs_cloud_run_container_apps_lambda():
    assert rules.images_pinned_by_digest(_ecs()) == []
    assert len(rules.images_pinned_by_digest(_ecs(image="ghcr.io/berriai/litellm:v1.103.1"))) == 1
    cr = "gcp:cloudrunv2/service:Service"
    assert rules.images_pinned_by_digest(res(cr, {"template": {"containers": [{"image": f"us-docker.pkg.dev/p/r/i@{DIGEST}"}]}})) == []
    assert len(rules.images_pinned_by_digest(res(cr, {"template": {"containers": [{"image": "us-docker.pkg.dev/p/r/i:1"}]}}))) == 1
    ca = "azure-native:app:ContainerApp"
    assert len(rules.images_pinned_by_digest(res(ca, {"template": {"containers": [{"image": "ghcr.io/berriai/litellm:v1"}]}}))) == 1
    lam = "aws:lambda/function:Function"
    assert rules.images_pinned_by_digest(res(lam, {"handler": "index.handler"})) == []
    assert len(rules.images_pinned_by_digest(res(lam, {"imageUri": "123.dkr.ecr.us-east-1.amazonaws.com/f:1"}))) == 1


# --- GPU allowlist ---------------------------------------------------------------------------------


def test_allowlist_is_the_sizing_catalog():
    assert {(t.cloud, t.name.lower()) for t in INSTANCE_TYPES.values()} == {
        (cloud, name) for cloud, types in catalog.ALLOWED.items() for name in types
    }


@pytest.mark.parametrize(
    ("type_", "inputs", "bad"),
    [
        ("aws:ec2/launchTemplate:LaunchTemplate", {"instanceType": "g6.xlarge"}, {"instanceType": "p3.2xlarge"}),
        ("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m7i.large"]}, {"instanceTypes": ["g4ad.xlarge"]}),
        (
            "aws:autoscaling/group:Group",
            {"mixedInstancesPolicy": {"launchTemplate": {"overrides": [{"instanceType": "g6e.xlarge"}]}}},
            {
                "mixedInstancesPolicy": {
                    "launchTemplate": {"overrides": [{"instanceType": "g6e.xlarge"}, {"instanceType": "p3dn.24xlarge"}]}
                }
            },
        ),
        ("gcp:compute/instanceTemplate:InstanceTemplate", {"machineType": "g2-standard-8"}, {"machineType": "a3-edgegpu-8g"}),
        (
            "gcp:compute/instanceTemplate:InstanceTemplate",
            {"machineType": "e2-standard-4"},
            {"machineType": "n1-standard-8", "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 1}]},
        ),
        (
            "gcp:container/nodePool:NodePool",
            {"nodeConfig": {"machineType": "g2-standard-24"}},
            {"nodeConfig": {"machineType": "g2-standard-2"}},
        ),
        (
            "azure-native:compute:VirtualMachineScaleSet",
            {"sku": {"name": "Standard_NC24ads_A100_v4"}},
            {"sku": {"name": "Standard_NC6s_v3"}},
        ),
        ("azure-native:containerservice:AgentPool", {"vmSize": "Standard_D8ds_v5"}, {"vmSize": "Standard_ND40rs_v2"}),
        (
            "azure-native:containerservice:ManagedCluster",
            {"agentPoolProfiles": [{"vmSize": "Standard_D4ds_v5"}, {"vmSize": "Standard_NC40ads_H100_v5"}]},
            {"agentPoolProfiles": [{"vmSize": "Standard_NV6"}]},
        ),
    ],
)
def test_gpu_instance_allowlist(type_, inputs, bad):
    assert rules.gpu_instance_allowlist(res(type_, inputs)) == []
    found = rules.gpu_instance_allowlist(res(type_, bad))
    assert len(found) == 1 and "is a GPU type outside the sizing catalog" in found[0]


def _nodepool(requirements: list, limits: dict | None = None) -> dict:
    spec = {"template": {"spec": {"requirements": requirements}}, **({"limits": limits} if limits else {})}
    return res("kubernetes:karpenter.sh/v1:NodePool", {"spec": spec}, name="gpu")


def test_gpu_allowlist_karpenter():
    gpu_count = {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]}
    fams = {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g6e", "p5"]}
    assert rules.gpu_instance_allowlist(_nodepool([fams, gpu_count])) == []
    assert rules.gpu_instance_allowlist(_nodepool([{**fams, "values": ["g6e", "p3"]}, gpu_count])) == [
        "kubernetes:karpenter.sh/v1:NodePool 'gpu': requirement karpenter.k8s.aws/instance-family allows 'p3', a GPU family with no type in the sizing catalog"
    ]
    types = {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g6.xlarge", "g6.xlarge2"]}
    assert len(rules.gpu_instance_allowlist(_nodepool([types]))) == 1
    assert rules.gpu_instance_allowlist(_nodepool([gpu_count])) == [
        "kubernetes:karpenter.sh/v1:NodePool 'gpu': a GPU NodePool must restrict node.kubernetes.io/instance-type "
        "or karpenter.k8s.aws/instance-family (In) to catalog types"
    ]
    # A CPU-only pool is not limited.
    assert rules.gpu_instance_allowlist(_nodepool([{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}])) == []


# --- budget ----------------------------------------------------------------------------------------


def _asg_stack(max_size: int, instance_type: str = "g6.xlarge", stack: str = "dev") -> list[dict]:
    parent = "urn:pulumi:dev::pulumi-llm::pulumi-llm:index:AwsGpuVm::vm"
    return [
        res("aws:ec2/launchTemplate:LaunchTemplate", {"instanceType": instance_type}, name="vm-lt", parent=parent, stack=stack),
        res(
            "aws:autoscaling/group:Group",
            {"maxSize": max_size, "launchTemplate": {"id": UNKNOWN}},
            name="vm-asg",
            parent=parent,
            stack=stack,
        ),
    ]


def test_budget_cost_is_max_replicas_times_catalog_price_times_730():
    price = INSTANCE_TYPES["g6.xlarge"].price_per_hour
    items = budget.monthly_cost(_asg_stack(3))
    assert [(i.instance_type, i.max_replicas, i.price_per_hour) for i in items] == [("g6.xlarge", 3, price)]
    assert items[0].monthly == pytest.approx(3 * price * 730)


def test_budget_gcp_mig_gke_and_azure():
    p = "urn:pulumi:gcp-dev::pulumi-llm::pulumi-llm:index:GcpGpuVm::vm"
    mig = [
        res("gcp:compute/instanceTemplate:InstanceTemplate", {"machineType": "g2-standard-8"}, name="t", parent=p),
        res("gcp:compute/regionAutoscaler:RegionAutoscaler", {"autoscalingPolicy": {"maxReplicas": 4}}, name="a", parent=p),
        res(
            "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
            {"targetSize": 1, "versions": [{"instanceTemplate": UNKNOWN}]},
            name="m",
            parent=p,
        ),
    ]
    assert [(i.instance_type, i.max_replicas) for i in budget.monthly_cost(mig)] == [("g2-standard-8", 4)]
    pools = [
        res(
            "gcp:container/nodePool:NodePool",
            {"autoscaling": {"totalMaxNodeCount": 2}, "nodeConfig": {"machineType": "g2-standard-24"}},
            name="a",
        ),
        res(
            "gcp:container/nodePool:NodePool",
            {"autoscaling": {"maxNodeCount": 2}, "nodeLocations": ["a", "b"], "nodeConfig": {"machineType": "g2-standard-24"}},
            name="b",
        ),
        res(
            "gcp:container/nodePool:NodePool",
            {"autoscaling": {"totalMaxNodeCount": 6}, "nodeConfig": {"machineType": "e2-standard-4"}},
            name="sys",
        ),
    ]
    assert [(i.resource, i.max_replicas) for i in budget.monthly_cost(pools)] == [
        ("gcp:container/nodePool:NodePool 'a'", 2),
        ("gcp:container/nodePool:NodePool 'b'", 4),
    ]
    az = "urn:pulumi:az::pulumi-llm::pulumi-llm:index:AzureGpuVm::vm"
    vmss = [
        res(
            "azure-native:compute:VirtualMachineScaleSet",
            {"sku": {"name": "Standard_NC24ads_A100_v4", "capacity": 1}},
            name="vmss",
            parent=az,
        ),
        res(
            "azure-native:monitor:AutoscaleSetting",
            {"profiles": [{"capacity": {"minimum": "0", "maximum": "3", "default": "1"}}]},
            name="as",
            parent=az,
        ),
        res(
            "azure-native:containerservice:AgentPool",
            {"vmSize": "Standard_NC40ads_H100_v5", "enableAutoScaling": True, "maxCount": 2, "count": 0},
            name="gpu",
        ),
    ]
    assert [(i.instance_type, i.max_replicas) for i in budget.monthly_cost(vmss)] == [
        ("Standard_NC24ads_A100_v4", 3),
        ("Standard_NC40ads_H100_v5", 2),
    ]


def test_budget_karpenter_prices_gpu_workloads_on_the_cheapest_fitting_type():
    deploy = _deployment([])
    deploy["inputs"]["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "4"}}
    scaled = res(
        "kubernetes:keda.sh/v1alpha1:ScaledObject",
        {"metadata": {"name": "m", "namespace": "llm"}, "spec": {"maxReplicaCount": 5, "scaleTargetRef": {"name": "m"}}},
    )
    pool = _nodepool([{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g6e", "p5"]}])
    items = budget.monthly_cost([deploy, scaled, pool])
    assert [(i.instance_type, i.max_replicas) for i in items] == [("g6e.12xlarge", 5)]
    # Without a NodePool the workload's nodes are priced as node pools (or not at all, on-prem).
    assert budget.monthly_cost([deploy, scaled]) == []


def test_budget_fixed_gpu_pools_are_filled_by_the_workloads_dearest_first():
    deploy = _deployment([])
    deploy["inputs"]["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    scaled = res(
        "kubernetes:keda.sh/v1alpha1:ScaledObject",
        {"metadata": {"name": "m", "namespace": "llm"}, "spec": {"maxReplicaCount": 5, "scaleTargetRef": {"name": "m"}}},
    )
    pool = "azure-native:containerservice:AgentPool"
    pools = [
        res(pool, {"vmSize": "Standard_NC24ads_A100_v4", "enableAutoScaling": True, "maxCount": 4}, name="a100"),
        res(pool, {"vmSize": "Standard_NC48ads_A100_v4", "enableAutoScaling": True, "maxCount": 1}, name="a100x2"),
        res(pool, {"vmSize": "Standard_D8ds_v5", "enableAutoScaling": True, "maxCount": 6}, name="general"),
    ]
    # 5 one-GPU replicas: 2 on the dearer 2-GPU node, 3 on one-GPU nodes; one A100 node stays unused.
    assert [(i.resource, i.max_replicas) for i in budget.monthly_cost([deploy, scaled, *pools])] == [
        (f"{pool} 'a100x2'", 1),
        (f"{pool} 'a100'", 3),
    ]


def test_budget_violation_and_config():
    stack = _asg_stack(2)
    cost = 2 * INSTANCE_TYPES["g6.xlarge"].price_per_hour * 730
    assert budget.monthly_budget(stack, {"stackBudgetsUsd": {"dev": 1200}}) == []
    found = budget.monthly_budget(stack, {"monthlyBudgetUsd": 5000, "stackBudgetsUsd": {"dev": 1000}})
    assert found == [
        f"stack 'dev': GPU capacity at maximum scale costs {cost:,.2f} USD/month, over the budget of 1,000.00 "
        f"(aws:autoscaling/group:Group 'vm-asg': 2 × g6.xlarge at 0.8048 USD/h = {cost:,.2f})"
    ]
    assert budget.monthly_budget(stack, {"monthlyBudgetUsd": 5000}) == []
    assert budget.monthly_budget(stack, {"stackBudgetsUsd": {"prod": 1}}) == [
        f"stack 'dev' has GPU capacity costing {cost:,.2f} USD/month but no budget in stackBudgetsUsd or monthlyBudgetUsd"
    ]
    assert budget.monthly_budget(stack, {}) == []  # no budget configured: the pack reports it not applicable


# --- the pack, as Pulumi's analyzer calls it --------------------------------------------------------


def _struct(d: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    json_format.ParseDict(d, s)
    return s


def _servicer(config: dict | None = None) -> _PolicyAnalyzerServicer:
    servicer = _PolicyAnalyzerServicer(pack.NAME, "0.1.0", pack.policies(), pack.ENFORCEMENT, pack.initial_config())
    if config is not None:
        servicer.Configure(
            proto.ConfigureAnalyzerRequest(policyConfig={k: proto.PolicyConfig(properties=_struct(v)) for k, v in config.items()}), None
        )
    return servicer


def test_pack_declares_every_rule_mandatory_with_a_budget_schema():
    policies = {p.name: p for p in pack.policies()}
    assert set(policies) == {r.name for r in (*rules.RESOURCE_RULES, *rules.STACK_RULES)} | {pack.BUDGET_POLICY}
    assert set(cast(PolicyConfigSchema, policies[pack.BUDGET_POLICY].config_schema).properties) == {"monthlyBudgetUsd", "stackBudgetsUsd"}
    assert pack.initial_config()[pack.BUDGET_POLICY]["stackBudgetsUsd"]["prod"] > 0


def test_pack_analyze_runs_the_rules_on_pulumi_properties():
    lt = _lt({"encrypted": False}, metadataOptions={"httpTokens": UNKNOWN_STRING_VALUE}, instanceType="p3.2xlarge")
    request = proto.AnalyzeRequest(type=lt["type"], urn=lt["urn"], name=lt["name"], properties=_struct(lt["inputs"]))
    response = _servicer().Analyze(request, None)
    # Pulumi prefixes each message with the policy's description.
    assert sorted((d.policyName, d.message.split("\n", 1)[1]) for d in response.diagnostics) == [
        (
            "encryption-at-rest",
            "aws:ec2/launchTemplate:LaunchTemplate 'lt': blockDeviceMappings[0].ebs.encrypted = False; EBS volumes must be encrypted",
        ),
        (
            "gpu-instance-allowlist",
            "aws:ec2/launchTemplate:LaunchTemplate 'lt': instanceType = 'p3.2xlarge' is a GPU type outside the sizing catalog's aws types (components/pulumi_llm/sizing/hardware.py)",
        ),
    ]  # httpTokens is not known yet: IMDSv2 is judged at `pulumi up`
    assert {d.enforcementLevel for d in response.diagnostics} == {proto.MANDATORY}


def test_pack_analyze_stack_reports_buckets_and_budget_against_urns():
    resources = [r for r in _bucket_set() if r["type"] != rules.S3_PAB] + _asg_stack(2)
    request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(type=r["type"], urn=r["urn"], name=r["name"], parent=r["parent"] or "", properties=_struct(r["inputs"]))
            for r in resources
        ]
    )
    response = _servicer({pack.BUDGET_POLICY: {"stackBudgetsUsd": {"dev": 100}}}).AnalyzeStack(request, None)
    found = {(d.policyName, d.urn) for d in response.diagnostics}
    assert found == {
        ("s3-buckets-guarded", "urn:pulumi:dev::pulumi-llm::aws:s3/bucket:Bucket::models-bucket"),
        ("monthly-gpu-budget", ""),
    }
    unconfigured = _servicer().AnalyzeStack(request, None)
    assert [n.policy_name for n in unconfigured.not_applicable] == [pack.BUDGET_POLICY]


def test_pack_starts_as_pulumi_starts_it_and_answers_over_grpc():
    """Pulumi runs the pack directory as a program that prints its gRPC port, then calls it."""
    import subprocess

    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2_grpc

    program = f"import runpy; runpy.run_path({str(POLICY_DIR)!r}, run_name='__main__')"
    proc = subprocess.Popen([sys.executable, "-c", program], cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(cast(IO[str], proc.stdout).readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "pulumi-llm"
            assert [p.name for p in info.policies] == [p.name for p in pack.policies()]
            budgets = json_format.MessageToDict(info.initialConfig[pack.BUDGET_POLICY].properties)
            assert budgets == json.loads(pack.BUDGETS_FILE.read_text())
            lt = _lt({"encrypted": "true"}, metadataOptions={"httpTokens": "optional"})
            response = stub.Analyze(
                proto.AnalyzeRequest(type=lt["type"], urn=lt["urn"], name=lt["name"], properties=_struct(lt["inputs"])), timeout=30
            )
            assert [(d.policyName, d.message.splitlines()[-1]) for d in response.diagnostics] == [
                (
                    "imdsv2-required",
                    "aws:ec2/launchTemplate:LaunchTemplate 'lt': metadataOptions.httpTokens = 'optional'; must be 'required' (IMDSv2)",
                )
            ]
    finally:
        proc.kill()
        proc.wait(timeout=30)
