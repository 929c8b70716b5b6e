"""Security, wiring and placement invariants of the Azure stacks, read from the resources their plans record."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import cast

import pytest
import yaml

AZURE_STACKS = ["azure-dev", "azure-prod"]
ROLE_GUIDS = {
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b": "Azure Kubernetes Service RBAC Cluster Admin",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
}
"""Every role an Azure stack grants: data-plane readers and narrow writers, never Owner or Contributor."""


def of(resources: list[dict], type_: str) -> list[dict]:
    return [r for r in resources if r["type"] == type_]


def by_name(resources: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in resources}


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_every_azure_resource_uses_the_stack_provider(resources: dict, stack: str) -> None:
    r = resources[stack]
    providers = of(r, "pulumi:providers:azure-native")
    assert [p["name"] for p in providers] == ["llm-azure"]
    assert providers[0]["inputs"]["location"] == {"azure-dev": "eastus", "azure-prod": "westeurope"}[stack]
    assert of(r, "azure-native:resources:ResourceGroup")[0]["inputs"]["resourceGroupName"] == f"llm-{stack}"


def test_gpu_vms_have_no_public_ip_and_sit_behind_an_internal_lb(resources: dict) -> None:
    r = resources["azure-dev"]
    [vmss] = of(r, "azure-native:compute:VirtualMachineScaleSet")
    for nic in vmss["inputs"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]:
        for ip in nic["ipConfigurations"]:
            assert "publicIPAddressConfiguration" not in ip
            assert ip["subnet"]["id"].startswith("llm-network-compute-")
    assert vmss["inputs"]["virtualMachineProfile"]["priority"] == "Spot"
    assert vmss["inputs"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["version"] != "latest"
    [lb] = of(r, "azure-native:network:LoadBalancer")
    for frontend in lb["inputs"]["frontendIPConfigurations"]:
        assert "publicIPAddress" not in frontend and frontend["subnet"]["id"].startswith("llm-network-lb-")
    # The one public address of the stack is the NAT gateway's (egress only).
    assert [p["name"] for p in of(r, "azure-native:network:PublicIPAddress")] == ["llm-network-nat-ip"]


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_key_vault_is_rbac_purge_protected_and_private(resources: dict, stack: str) -> None:
    [vault] = of(resources[stack], "azure-native:keyvault:Vault")
    props = vault["inputs"]["properties"]
    assert (props["enableRbacAuthorization"], props["enablePurgeProtection"], props["enableSoftDelete"]) == (True, True, True)
    assert props["softDeleteRetentionInDays"] == 90
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"] == {"bypass": "None", "defaultAction": "Deny"}
    assert "accessPolicies" not in props


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_model_store_is_hardened(resources: dict, stack: str) -> None:
    [account] = of(resources[stack], "azure-native:storage:StorageAccount")
    inputs = account["inputs"]
    assert inputs["allowBlobPublicAccess"] is False and inputs["allowSharedKeyAccess"] is False
    assert inputs["minimumTlsVersion"] == "TLS1_2" and inputs["enableHttpsTrafficOnly"] is True
    assert inputs["publicNetworkAccess"] == "Disabled" and inputs["networkRuleSet"]["defaultAction"] == "Deny"
    assert inputs["encryption"]["requireInfrastructureEncryption"] is True
    [blob] = of(resources[stack], "azure-native:storage:BlobServiceProperties")
    assert blob["inputs"]["isVersioningEnabled"] is True


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_role_assignments_are_least_privilege_and_scoped_below_the_subscription(resources: dict, stack: str) -> None:
    grants = of(resources[stack], "azure-native:authorization:RoleAssignment")
    assert grants
    for grant in grants:
        inputs = grant["inputs"]
        role = inputs["roleDefinitionId"].rsplit("/", 1)[-1]
        assert role in ROLE_GUIDS, (grant["name"], role)
        scope = inputs["scope"]
        # A resource (or a secret inside one), never a subscription or a resource group.
        assert not re.fullmatch(r"/subscriptions/[^/]+(/resourceGroups/[^/]+)?/?", scope), (grant["name"], scope)
        assert inputs["principalType"] in ("ServicePrincipal", "User", "Group")
        if ROLE_GUIDS[role] == "Key Vault Secrets User":
            assert "/secrets/" in scope, grant["name"]  # one secret, not the vault
        if ROLE_GUIDS[role] == "Reader":
            # Only a GPU-VM group's routers, on their own scale set (they list its VMs' addresses).
            assert grant["name"].endswith("-workers-reader") and "-vmss" in scope, (grant["name"], scope)


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_apim_policies_limit_tokens_and_stream(resources: dict, stack: str) -> None:
    r = resources[stack]
    [service] = of(r, "azure-native:apimanagement:ApiManagementService")
    assert service["inputs"]["sku"]["name"] == "StandardV2"
    assert service["inputs"]["virtualNetworkType"] == "External"
    assert service["inputs"]["virtualNetworkConfiguration"]["subnetResourceId"].startswith("llm-network-apim-")
    products = of(r, "azure-native:apimanagement:ProductPolicy")
    config = stack_config(stack)
    consumers = config["pulumi-llm:gateway"]["consumers"]
    assert sorted(p["inputs"]["productId"] for p in products) == sorted(consumers)
    for policy in products:
        consumer = consumers[policy["inputs"]["productId"]]
        inbound = ET.fromstring(policy["inputs"]["value"]).find("inbound")
        assert inbound is not None
        limit = inbound.find("llm-token-limit")
        assert limit is not None and limit.get("counter-key") == "@(context.Subscription.Id)"
        # The consumer's own tokens per minute, else the stack-wide llm-token-limit.
        expected = consumer.get("tokens_per_minute") or config["pulumi-llm:azure"]["gateway"]["tokens_per_minute"]
        assert int(cast(str, limit.get("tokens-per-minute"))) == expected
        quota = inbound.find("quota-by-key")
        assert quota is not None and (quota.get("calls"), quota.get("renewal-period")) == (str(consumer["requests_per_day"]), "86400")
        assert inbound.find("rate-limit-by-key") is not None
    apis = of(r, "azure-native:apimanagement:ApiPolicy")
    assert apis
    for policy in apis:
        root = ET.fromstring(policy["inputs"]["value"])
        forwards = list(root.iter("forward-request"))
        assert forwards and all(f.get("buffer-response") == "false" and int(cast(str, f.get("timeout"))) == 240 for f in forwards)
        assert root.find("inbound/llm-emit-token-metric") is not None


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_openai_requests_are_held_to_each_consumers_grant_at_apim(resources: dict, stack: str) -> None:
    """/openai skips the front: each product refuses a deployment outside the consumer's granted groups (by name)
    first and caps max_tokens; a stack without Azure OpenAI accounts renders neither."""
    from pulumi_llm.gateway import apim_policy

    config = stack_config(stack)
    consumers = config["pulumi-llm:gateway"]["consumers"]
    has_openai = bool(config["pulumi-llm:azure"]["gateway"].get("azure_openai"))
    for policy in of(resources[stack], "azure-native:apimanagement:ProductPolicy"):
        consumer = consumers[policy["inputs"]["productId"]]
        inbound = ET.fromstring(policy["inputs"]["value"]).find("inbound")
        assert inbound is not None
        chooses = [e for e in inbound if e.tag == "choose"]
        if not has_openai:
            assert chooses == []
            continue
        assert [e.tag for e in inbound][:2] == ["base", "choose"]
        assert chooses[0][0].get("condition") == apim_policy.deployment_refused_condition(consumer["models"])
        cap = consumer.get("max_tokens")
        assert [c[0].find("set-body").text for c in chooses[1:]] == ([apim_policy.max_tokens_body(cap)] if cap else [])  # type: ignore[union-attr]


def stack_config(stack: str) -> dict:
    root = Path(__file__).resolve().parents[2]
    return yaml.safe_load((root / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_apim_exposes_only_inference_operations_and_header_keys(resources: dict, stack: str) -> None:
    from pulumi_llm.gateway.front_contract import INFERENCE_ROUTES

    r = resources[stack]
    v1 = {
        (o["inputs"]["method"], "/v1" + o["inputs"]["urlTemplate"])
        for o in of(r, "azure-native:apimanagement:ApiOperation")
        if o["inputs"]["apiId"] == "v1"
    }
    assert v1 == set(INFERENCE_ROUTES)
    assert not [o for o in of(r, "azure-native:apimanagement:ApiOperation") if "*" in o["inputs"]["urlTemplate"]]
    for policy in of(r, "azure-native:apimanagement:ApiPolicy"):
        first = ET.fromstring(policy["inputs"]["value"]).find("inbound")
        assert first is not None and first[0].tag == "choose"  # the query-string key refusal runs before anything
    # APIM's identity reads the edge key's secret and nothing else in the vault.
    [service] = of(r, "azure-native:apimanagement:ApiManagementService")
    vault_reads = [g["name"] for g in of(r, "azure-native:authorization:RoleAssignment") if g["name"].startswith("llm-gateway-apim-kv-")]
    assert vault_reads == ["llm-gateway-apim-kv-litellm-master"], service["name"]
    assert [n["inputs"]["namedValueId"] for n in of(r, "azure-native:apimanagement:NamedValue")] == ["litellm-master-key"]


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_each_hybrid_route_has_its_log_alerts(resources: dict, stack: str) -> None:
    rules = {q["name"]: q["inputs"] for q in of(resources[stack], "azure-native:monitor:ScheduledQueryRule")}
    assert set(rules) == {"llm-gateway-fallback-share-chat", "llm-gateway-self-hosted-silent-chat"}
    for rule in rules.values():
        # Over the gateway's workspace, to the gateway's action group (the stack's alert_emails).
        [scope] = rule["scopes"]
        [group] = rule["actions"]["actionGroups"]
        assert scope.startswith("llm-gateway-logs-") and group.startswith("llm-gateway-alerts-")
        assert (rule["windowSize"], rule["kind"]) == ("PT10M", "LogAlert")
        assert rule["criteria"]["allOf"][0]["query"].startswith(
            f'ContainerAppConsoleLogs\n| where ContainerAppName == "llm-{stack}-engine"'
        )


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_engine_runs_in_the_delegated_subnet_with_the_hybrid_config(resources: dict, stack: str) -> None:
    import base64
    import json

    r = by_name(resources[stack])
    env = r["llm-gateway-engine-env"]["inputs"]
    assert env["vnetConfiguration"] == {"infrastructureSubnetId": env["vnetConfiguration"]["infrastructureSubnetId"], "internal": True}
    assert env["vnetConfiguration"]["infrastructureSubnetId"].startswith("llm-network-engine-")
    assert r["llm-network-engine"]["inputs"]["delegations"] == [{"name": "engine", "serviceName": "Microsoft.App/environments"}]
    assert r["llm-network-apim"]["inputs"]["delegations"] == [{"name": "apim", "serviceName": "Microsoft.Web/serverFarms"}]
    [container] = r["llm-gateway-engine"]["inputs"]["template"]["containers"]
    variables = {v["name"]: v for v in container["env"]}
    config = yaml.safe_load(base64.b64decode(variables["LITELLM_CONFIG_B64"]["value"]))
    # The front streams chat's self-hosted route from the URL in its environment, then falls back to
    # provider-small through LiteLLM, whose config holds the provider deployments only.
    front = json.loads(base64.b64decode(variables["PULUMI_LLM_FRONT_CONFIG_B64"]["value"]))
    # Open streams drain for the replica's whole grace less the time to stop LiteLLM (was the default 25 s).
    grace = r["llm-gateway-engine"]["inputs"]["template"]["terminationGracePeriodSeconds"]
    assert grace > 25 and front["drain_seconds"] == grace - 10
    chat = front["routing"]["chains"]["chat"]
    assert [(c["kind"], c["model"], c["url"]) for c in chat[:1]] == [
        ("direct", "llama-3-1-8b-instruct", "os.environ/SELF_HOSTED_LLAMA_3_1_8B_INSTRUCT_URL")
    ]
    assert [c["group"] for c in chat[1:]] and {c["group"] for c in chat[1:]} == {"provider-small"}
    assert [m["model_name"] for m in config["model_list"]] == [c["deployment"] for c in chat[1:]]
    assert "fallbacks" not in config["router_settings"]
    assert "SELF_HOSTED_LLAMA_3_1_8B_INSTRUCT_URL" in variables
    assert config["litellm_settings"]["request_timeout"] == 210
    # Provider keys and the front's edge key (the litellm-master secret) come from Key Vault references, never values.
    for name in ("PULUMI_LLM_EDGE_KEY", "OPENAI_API_KEY"):
        assert set(variables[name]) == {"name", "secretRef"}


def test_aks_gpu_pools_are_tainted_and_servers_tolerate_them(resources: dict, plans: Path) -> None:
    pools = by_name(resources["azure-prod"])
    assert pools["llm-aks-gpu-pool"]["inputs"]["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert pools["llm-aks-gpuspot-pool"]["inputs"]["nodeTaints"] == [
        "nvidia.com/gpu=present:NoSchedule",
        "kubernetes.azure.com/scalesetpriority=spot:NoSchedule",
    ]
    assert pools["llm-aks-gpuspot-pool"]["inputs"]["scaleSetPriority"] == "Spot"
    assert pools["llm-aks-general-pool"]["inputs"]["nodeTaints"] == []
    deployment = yaml.safe_load((plans / "azure-prod" / "manifests" / "deployment-llm-llama-3-1-8b-instruct.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_aks_is_private_entra_only_and_egresses_through_the_nat(resources: dict) -> None:
    [cluster] = of(resources["azure-prod"], "azure-native:containerservice:ManagedCluster")
    inputs = cluster["inputs"]
    assert inputs["disableLocalAccounts"] is True and inputs["aadProfile"]["enableAzureRBAC"] is True
    assert inputs["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert inputs["networkProfile"]["outboundType"] == "userAssignedNATGateway"
    assert inputs["azureMonitorProfile"]["metrics"]["enabled"] is True  # prometheus: managed
    # The models' ingress (what the gateway engine calls) is on an internal Azure load balancer.
    nginx = by_name(resources["azure-prod"])["llm-aks-ingress-nginx"]["inputs"]["values"]["controller"]
    assert nginx["service"]["annotations"] == {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}
    # ... admitting only the engine's subnet (finding 3: not every workload in the VNet).
    assert nginx["service"]["loadBalancerSourceRanges"] == ["10.60.83.0/24"]
    assert nginx["config"]["proxy-buffering"] == "off"
