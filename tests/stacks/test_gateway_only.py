"""A gateway in front of API providers alone (method 1 of the README), on every cloud: a stack with only the
gateway method, provider routes and no models plans, verifies clean, and keeps the secure defaults of the
shipped stacks (the provider keys' secrets encrypted with a customer key on AWS and GCP; on Azure, as in
azure-dev/prod, in the stack's private Key Vault).

Before: GCP failed with 'GcpGatewayArgs.kms_key: Input should be a valid string' (the key came from the
model store, which a stack without models has not), and AWS planned a provider and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import scratch_project
from pulumi_llm.platform.aws import decide_foundation
from pulumi_llm.settings.aws import GATEWAY_FOUNDATION

BASE = {"pulumi:disable-default-providers": ["*"], "pulumi-llm:environment": "dev", "pulumi-llm:methods": ["gateway"]}
CONSUMERS = {"dev-team": {"models": ["chat"], "requests_per_day": 20000}}

STACKS: dict[str, dict[str, Any]] = {
    "gw-aws": {
        **BASE,
        "pulumi-llm:cloud": "aws",
        "pulumi-llm:region": "us-east-1",
        # Read by the gateway's foundation (its VPC and alarm topic), so not refused as having no effect.
        "pulumi-llm:aws": {"network": {"az_count": 2}, "alert_emails": ["llm-dev@example.com"]},
        "pulumi-llm:gateway": {
            "models": {"chat": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
            "consumers": CONSUMERS,
        },
    },
    "gw-gcp": {
        **BASE,
        "pulumi-llm:cloud": "gcp",
        "pulumi-llm:region": "us-central1",
        "pulumi-llm:gcp": {"project": "acme-llm-dev", "gateway": {"domains": ["llm-dev.example.com"]}},
        "pulumi-llm:gateway": {
            "models": {"chat": {"routes": [{"provider": "gemini", "model": "gemini-2.5-flash"}]}},
            "consumers": CONSUMERS,
        },
    },
    "gw-azure": {
        **BASE,
        "azure-native:location": "eastus",
        "pulumi-llm:cloud": "azure",
        "pulumi-llm:region": "eastus",
        "pulumi-llm:azure": {"gateway": {"publisher_email": "llm-platform@example.com"}},
        "pulumi-llm:gateway": {
            # API Management forwards for at most 240 s (a settings check, on every Azure stack).
            "timeouts": {"client_seconds": 300, "edge_seconds": 240, "engine_seconds": 210, "provider_seconds": 180},
            "models": {"chat": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
            "consumers": CONSUMERS,
        },
    },
}


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "--project-dir", str(project), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scratch_project(tmp_path_factory.mktemp("gateway-only"), {name: {"config": config} for name, config in STACKS.items()})


@pytest.fixture(scope="module")
def planned(project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """Stack → resource name → resource, from one offline plan of each stack."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for stack in STACKS:
        target = tmp_path_factory.mktemp(stack)
        result = _cli(project, "plan", stack, "--quiet", "--out", str(target))
        assert result.returncode == 0, result.stdout + result.stderr
        out[stack] = {r["name"]: r for r in json.loads((target / "resources.json").read_text())}
    return out


def _of_type(resources: dict[str, dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r for r in resources.values() if r["type"] == type_]


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_a_gateway_only_stack_verifies_clean(project: Path, stack: str) -> None:
    result = _cli(project, "verify", stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clean" in result.stdout


def test_aws_gateway_secrets_use_the_stack_key_and_no_model_store_is_built(planned: dict[str, dict[str, dict[str, Any]]]) -> None:
    resources = planned["gw-aws"]
    assert _of_type(resources, "pulumi-llm:index:AwsGateway")
    assert not _of_type(resources, "pulumi-llm:index:ModelStore") and not _of_type(resources, "aws:s3/bucketV2:BucketV2")
    assert resources["llm-key-key"]["type"] == "aws:kms/key:Key"
    secrets = _of_type(resources, "aws:secretsmanager/secret:Secret")
    assert {s["inputs"]["name"] for s in secrets} == {"pulumi-llm/gw-aws/openai", "pulumi-llm/gw-aws/litellm-master"}
    # The mock ARN of the stack key: the customer-managed key, not Secrets Manager's AWS-managed one.
    assert all(s["inputs"]["kmsKeyId"].endswith(":llm-key-key") for s in secrets)
    assert len(_of_type(resources, "aws:ec2/vpc:Vpc")) == 1
    # aws.network.az_count 2 is read: public, private and internal load balancer subnets in two zones each.
    subnets = {r["name"] for r in _of_type(resources, "aws:ec2/subnet:Subnet")}
    assert subnets == {f"llm-network-{tier}-az{n}" for tier in ("public", "private", "internal-lb") for n in (1, 2)}


def test_gcp_gateway_makes_its_own_key_and_encrypts_its_secrets_repository_and_service_with_it(
    planned: dict[str, dict[str, dict[str, Any]]],
) -> None:
    resources = planned["gw-gcp"]
    assert not _of_type(resources, "pulumi-llm:index:GcpModelStore") and not _of_type(resources, "gcp:storage/bucket:Bucket")
    [key] = _of_type(resources, "gcp:kms/cryptoKey:CryptoKey")
    assert key["name"] == "llm-gateway-key" and key["inputs"]["rotationPeriod"] == "7776000s"
    key_id = resources["llm-gateway-key-run"]["inputs"]["cryptoKeyId"]
    assert key_id.startswith("llm-gateway-key-")  # the mock id of that very key
    secrets = _of_type(resources, "gcp:secretmanager/secret:Secret")
    # The provider's key and the consumer's key (GCP's front checks consumer keys itself: no master key secret).
    assert {s["inputs"]["secretId"] for s in secrets} == {"pulumi-llm-gw-gcp-gemini", "pulumi-llm-gw-gcp-consumer-dev-team"}
    for secret in secrets:
        [replica] = secret["inputs"]["replication"]["userManaged"]["replicas"]
        assert replica["customerManagedEncryption"] == {"kmsKeyName": key_id}
    assert resources["llm-gateway-ghcr"]["inputs"]["kmsKeyName"] == key_id
    assert resources["llm-gateway-service"]["inputs"]["template"]["encryptionKey"] == key_id


def test_azure_gateway_secrets_live_in_the_stacks_private_key_vault(planned: dict[str, dict[str, dict[str, Any]]]) -> None:
    resources = planned["gw-azure"]
    assert not _of_type(resources, "pulumi-llm:index:AzureModelStore")
    vault = resources["llm-vault-vault"]["inputs"]["properties"]
    assert (vault["publicNetworkAccess"], vault["enableRbacAuthorization"], vault["enablePurgeProtection"]) == ("Disabled", True, True)
    # APIM holds the edge key only; the engine reads it, the previous edge key and the provider key.
    named = _of_type(resources, "azure-native:apimanagement:NamedValue")
    assert {n["inputs"]["displayName"] for n in named} == {"litellm-master-key"}
    assert all(n["inputs"]["secret"] and n["inputs"]["keyVault"]["secretIdentifier"].startswith("https://kv") for n in named)
    assert all("value" not in n["inputs"] for n in named)
    [app] = _of_type(resources, "azure-native:app:ContainerApp")
    secrets = app["inputs"]["configuration"]["secrets"]
    assert {x["name"] for x in secrets} == {"openai", "litellm-master", "litellm-master-previous"}
    assert all(x["keyVaultUrl"].startswith("https://kv") and "value" not in x for x in secrets)


@pytest.mark.parametrize(
    ("methods", "has_models", "store", "shared"),
    [
        ({"gateway"}, False, False, True),
        ({"gateway", "gpu-vm"}, True, True, True),
        ({"cluster"}, True, True, True),
        ({"edge"}, True, False, False),
        ({"edge"}, False, False, False),
    ],
)
def test_decide_foundation(methods: set[str], has_models: bool, store: bool, shared: bool) -> None:
    parts = decide_foundation(methods, has_models)
    assert (parts.store, parts.shared) == (store, shared)
    # The settings' table of who reads aws.network and aws.alert_emails agrees with what is built.
    assert parts.shared == bool(methods & set(GATEWAY_FOUNDATION))
