"""AzureGateway: API Management (v2) in front of Azure OpenAI and LiteLLM on Container Apps, under the
recording mock runtime with default providers disabled."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, cast

import pulumi
import pytest
import yaml
from helpers import by_name, children, only, run
from pulumi_azure_native.provider import Provider as AzureProvider
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.gateway import apim_policy
from pulumi_llm.gateway import azure as gateway
from pulumi_llm.gateway.azure import AzureGateway, AzureGatewayArgs
from pulumi_llm.gateway.engine import BOOT  # the boot script gateway.azure runs
from pulumi_llm.gateway.fallback_alarms import FallbackAlarm
from pulumi_llm.gateway.front_contract import ALARM_KINDS, INFERENCE_ROUTES
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import invokes, recorder

ROOT = Path(__file__).resolve().parents[2]
SUB = invokes.AZURE_SUBSCRIPTION
TENANT = invokes.AZURE_TENANT
RG = f"/subscriptions/{SUB}/resourceGroups/rg-llm"
VNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-llm"
APIM_SUBNET = f"{VNET}/subnets/apim"
ENGINE_SUBNET = f"{VNET}/subnets/engine"
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-llm-prod"
VAULT_URI = "https://kv-llm-prod.vault.azure.net/"
EAST = f"{RG}/providers/Microsoft.CognitiveServices/accounts/aoai-east"
WEST = f"{RG}/providers/Microsoft.CognitiveServices/accounts/aoai-west"
SWEDEN = f"{RG}/providers/Microsoft.CognitiveServices/accounts/aoai-sweden"
TAGS = {"pulumi-llm:project": "pulumi-llm", "pulumi-llm:stack": "prod", "pulumi-llm:environment": "prod"}
SENTINEL = "sk-ant-SENTINEL-never-anywhere-0000"
CONFIG = """\
model_list:
  - model_name: claude-sonnet
    litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: os.environ/ANTHROPIC_API_KEY}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
"""
PROVIDERS = {"ANTHROPIC_API_KEY": "anthropic", "OPENAI_API_KEY": "openai"}
DAPR = "happy-river-1234.eastus.azurecontainerapps.io"
FRONT_CONFIG = base64.b64encode(json.dumps({"identity": "edge", "stack": "prod"}).encode()).decode()


# --------------------------------------------------------------------------------------------
# What Azure computes (the recording mocks echo inputs only)
# --------------------------------------------------------------------------------------------


def guid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


def arm(kind: str, name: str, module: str) -> str:
    return f"{RG}/providers/Microsoft.{module}/{kind}/{name}"


APIM_ID = arm("ApiManagementService", "gw-apim", "apimanagement")
APIM_PRINCIPAL = guid(APIM_ID, "principal")
ENGINE_IDENTITY = arm("UserAssignedIdentity", "gw-engine-identity", "managedidentity")
ENGINE_PRINCIPAL = guid(ENGINE_IDENTITY, "principal")
ENGINE_CLIENT = guid(ENGINE_IDENTITY, "client")
ENGINE_FQDN = f"llm-prod-engine.internal.{DAPR}"


def azure_outputs(typ: str, name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    module, kind = typ.split(":")[1], typ.split(":")[2]
    resource_id = f"/subscriptions/{SUB}/resourceGroups/{state.get('resourceGroupName') or 'rg'}/providers/Microsoft.{module}/{kind}/{name}"
    state = dict(state, id=resource_id)
    identity = state.get("identity")
    if isinstance(identity, dict):
        identity = dict(identity)
        if isinstance(identity.get("userAssignedIdentities"), list):
            identity["userAssignedIdentities"] = {
                u: {"principalId": guid(u, "p"), "clientId": guid(u, "c")} for u in identity["userAssignedIdentities"]
            }
        if identity.get("type") == "SystemAssigned":
            identity.update(principalId=guid(resource_id, "principal"), tenantId=TENANT)
        state["identity"] = identity
    if kind == "UserAssignedIdentity":
        state.update(principalId=guid(resource_id, "principal"), clientId=guid(resource_id, "client"), tenantId=TENANT)
    if kind == "ApiManagementService":
        state["gatewayUrl"] = f"https://{state['serviceName']}.azure-api.net"
    if kind == "ManagedEnvironment":
        state.update(defaultDomain=DAPR, staticIp="10.20.4.62")
    if kind == "ContainerApp":
        fqdn = f"{state['containerAppName']}.internal.{DAPR}"
        state["configuration"] = dict(state["configuration"], ingress=dict(state["configuration"]["ingress"], fqdn=fqdn))
        state["latestRevisionFqdn"] = fqdn
    if kind == "Component":
        state["connectionString"] = (
            "InstrumentationKey=00000000-0000-0000-0000-00000000000a;IngestionEndpoint=https://eastus-8.in.applicationinsights.azure.com/"
        )
    return resource_id, state


def role_id(role: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"


@pytest.fixture(autouse=True)
def computed_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    original = recorder.PlanMocks.new_resource

    def new_resource(self: recorder.PlanMocks, args: Any) -> Any:
        resource_id, state = original(self, args)
        if args.typ.startswith("azure-native:"):
            return azure_outputs(args.typ, args.name, state)
        return resource_id, state

    monkeypatch.setattr(recorder.PlanMocks, "new_resource", new_resource)


# --------------------------------------------------------------------------------------------
# Program
# --------------------------------------------------------------------------------------------


def make_args(**overrides: Any) -> AzureGatewayArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "location": "eastus",
        "resource_group_name": "rg-llm",
        "publisher_email": "platform@example.com",
        "apim_subnet_id": APIM_SUBNET,
        "key_vault_id": VAULT,
        "key_vault_uri": VAULT_URI,
        "azure_openai": [
            {"name": "east", "endpoint": "https://aoai-east.openai.azure.com/", "resource_id": EAST, "priority": 1, "weight": 3},
            {"name": "west", "endpoint": "https://aoai-west.openai.azure.com/", "resource_id": WEST, "priority": 1, "weight": 1},
            {"name": "sweden", "endpoint": "https://aoai-sweden.openai.azure.com/", "resource_id": SWEDEN, "priority": 2, "fallback": True},
        ],
        "engine_config_yaml": CONFIG,
        "front_config_b64": FRONT_CONFIG,
        "provider_secrets": PROVIDERS,
        "environment": {"LITELLM_LOG": "INFO"},
        "engine_subnet_id": ENGINE_SUBNET,
        "vnet_id": VNET,
        "engine_min_replicas": 2,
        "consumers": [
            {"name": "chat-app", "tokens_per_minute": 120_000},
            {"name": "batch", "tokens_per_minute": 20_000, "token_quota": 10_000_000, "token_quota_period": "Monthly"},
        ],
        "client_timeout_seconds": 300,
        "forward_timeout_seconds": 230,
        "engine_timeout_seconds": 200,
        "alert_emails": ["oncall@example.com"],
        "fallback_alarms": [FallbackAlarm(group="chat", share_percent=5.0, window_minutes=10)],
    }
    values.update(overrides)
    return AzureGatewayArgs(**values)


def plan(captured: dict[str, Any] | None = None, **overrides: Any):
    args = make_args(**overrides)

    def program() -> None:
        provider = AzureProvider("azure", location="eastus")
        component = AzureGateway("gw", args, opts=pulumi.ResourceOptions(providers=[provider]))
        if captured is not None:
            captured["component"] = component
            outputs = [component.gateway_url, component.apim_principal_id]
            if component.engine_fqdn is not None:
                outputs += [component.engine_fqdn, component.engine_principal_id]
            pulumi.Output.all(*outputs).apply(lambda v: cast(dict[str, Any], captured).__setitem__("outputs", v))

    return run(program, region="eastus")


@pytest.fixture(scope="module")
def records():
    with pytest.MonkeyPatch.context() as patch:
        install(patch)
        return plan()


@pytest.fixture(scope="module")
def named(records):
    return by_name(records)


def error(**overrides: Any) -> str:
    with pytest.raises(UserError) as caught:
        make_args(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


def xml(record) -> ET.Element:
    assert record.inputs["format"] == "xml"
    return ET.fromstring(record.inputs["value"])


def find(element: ET.Element, path: str) -> ET.Element:
    """``element.find(path)``, typed for the paths these policies always hold (a missing one fails the test)."""
    return cast(ET.Element, element.find(path))


# --------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------

APIM = [
    ("azure-native:apimanagement:ApiManagementService", "gw-apim"),
    ("azure-native:apimanagement:Logger", "gw-logger"),
    ("azure-native:applicationinsights:Component", "gw-insights"),
    ("azure-native:authorization:RoleAssignment", "gw-apim-insights-publisher"),
    ("azure-native:monitor:DiagnosticSetting", "gw-apim-logs"),
    ("azure-native:operationalinsights:Workspace", "gw-logs"),
    *[("azure-native:monitor:MetricAlert", f"gw-alert-{k}") for k in ("429", "5xx", "latency")],
    ("azure-native:monitor:ActionGroup", "gw-alerts"),
]


OPERATIONS = {
    "v1": ["get-models", "post-chat-completions", "post-completions", "post-embeddings"],
    "openai": ["post-deployments-chat-completions", "post-deployments-completions", "post-deployments-embeddings"],
}


def api(api_id: str) -> list[tuple[str, str]]:
    return [
        ("azure-native:apimanagement:Api", f"gw-api-{api_id}"),
        ("azure-native:apimanagement:ApiDiagnostic", f"gw-api-{api_id}-diagnostic"),
        *[("azure-native:apimanagement:ApiOperation", f"gw-api-{api_id}-{op}") for op in OPERATIONS[api_id]],
        ("azure-native:apimanagement:ApiPolicy", f"gw-api-{api_id}-policy"),
    ]


def consumer(name: str, apis: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        ("azure-native:apimanagement:Product", f"gw-product-{name}"),
        ("azure-native:apimanagement:ProductPolicy", f"gw-product-{name}-policy"),
        ("azure-native:apimanagement:Subscription", f"gw-subscription-{name}"),
        *[("azure-native:apimanagement:ProductApi", f"gw-product-{name}-{a}") for a in apis],
    ]


OPENAI = [
    *[("azure-native:apimanagement:Backend", f"gw-backend-aoai-{b}") for b in ("east", "sweden", "west")],
    ("azure-native:apimanagement:Backend", "gw-backend-azure-openai-pool"),
    *[("azure-native:authorization:RoleAssignment", f"gw-apim-openai-{b}") for b in ("east", "sweden", "west")],
    *api("openai"),
]

ENGINE = [
    ("azure-native:apimanagement:Backend", "gw-backend-litellm"),
    ("azure-native:app:ContainerApp", "gw-engine"),
    ("azure-native:app:ManagedEnvironment", "gw-engine-env"),
    ("azure-native:managedidentity:UserAssignedIdentity", "gw-engine-identity"),
    ("azure-native:monitor:DiagnosticSetting", "gw-engine-env-logs"),
    ("azure-native:privatedns:PrivateRecordSet", "gw-engine-dns-wildcard"),
    ("azure-native:privatedns:PrivateZone", "gw-engine-dns"),
    ("azure-native:privatedns:VirtualNetworkLink", "gw-engine-dns-link"),
    *[
        ("azure-native:authorization:RoleAssignment", f"gw-engine-kv-{s}")
        for s in ("anthropic", "litellm-master", "litellm-master-previous", "openai")
    ],
    # APIM reads the edge key only.
    ("azure-native:authorization:RoleAssignment", "gw-apim-kv-litellm-master"),
    ("azure-native:apimanagement:NamedValue", "gw-nv-litellm-master"),
    *api("v1"),
    *[("azure-native:monitor:ScheduledQueryRule", f"gw-{kind}-chat") for kind in ALARM_KINDS],
]


def test_children_are_exactly_these(records) -> None:
    component = only(records, "pulumi-llm:index:AzureGateway")
    expected = APIM + OPENAI + ENGINE + consumer("chat-app", ("openai", "v1")) + consumer("batch", ("openai", "v1"))
    assert children(records, component) == sorted(expected)


def test_azure_openai_only_gateway_has_no_engine_and_may_be_public() -> None:
    records = plan(
        engine_config_yaml=None,
        provider_secrets={},
        environment={},
        network="public",
        apim_subnet_id=None,
        tier="BasicV2",
        alert_emails=[],
        engine_subnet_id=None,
        vnet_id=None,
        fallback_alarms=[],
    )
    component = only(records, "pulumi-llm:index:AzureGateway")
    apim = [c for c in APIM if c[1] != "gw-alerts"]
    expected = apim + OPENAI + consumer("chat-app", ("openai",)) + consumer("batch", ("openai",))
    assert children(records, component) == sorted(expected)
    service = by_name(records)["gw-apim"].inputs
    assert service["virtualNetworkType"] == "None" and "virtualNetworkConfiguration" not in service
    assert service["sku"] == {"name": "BasicV2", "capacity": 1}
    # Without receivers the alerts exist but notify nobody.
    assert by_name(records)["gw-alert-5xx"].inputs.get("actions", []) == []


def test_engine_only_gateway_has_no_pool() -> None:
    records = plan(azure_openai=[])
    names = {r.name for r in records}
    assert "gw-backend-azure-openai-pool" not in names and "gw-api-openai" not in names
    assert {"gw-api-v1", "gw-engine", "gw-backend-litellm"} <= names


def test_every_resource_uses_the_explicit_provider(records) -> None:
    provider = by_name(records)["azure"].urn
    custom = [r for r in records if r.custom and not r.type.startswith("pulumi:providers:")]
    assert custom and all(r.provider == provider for r in custom)


# --------------------------------------------------------------------------------------------
# API Management
# --------------------------------------------------------------------------------------------


def test_apim_is_a_v2_tier_with_its_identity_and_vnet_integration(named) -> None:
    service = named["gw-apim"].inputs
    assert service["serviceName"] == "llm-prod-gateway"
    assert service["sku"] == {"name": "StandardV2", "capacity": 1}
    assert service["identity"] == {"type": "SystemAssigned"}
    assert service["virtualNetworkType"] == "External"
    assert service["virtualNetworkConfiguration"] == {"subnetResourceId": APIM_SUBNET}
    assert (service["publisherEmail"], service["publisherName"]) == ("platform@example.com", "pulumi-llm")
    assert (service["developerPortalStatus"], service["legacyPortalStatus"]) == ("Disabled", "Disabled")
    assert service["tags"] == TAGS


def test_premium_v2_joins_an_internal_vnet() -> None:
    service = by_name(plan(tier="PremiumV2", network="internal"))["gw-apim"].inputs
    assert (service["sku"]["name"], service["virtualNetworkType"]) == ("PremiumV2", "Internal")


def test_api_policies_stream_meter_and_route(named) -> None:
    for api_id, backend, label in (("openai", "azure-openai-pool", "azure-openai"), ("v1", "litellm", "litellm")):
        root = xml(named[f"gw-api-{api_id}-policy"])
        assert [c.tag for c in root] == ["inbound", "backend", "outbound", "on-error"]
        # The query-string key refusal runs first, before the product's limits (in <base/>) and everything else.
        # On /v1 the edge key presented by a client is refused next (a second choose), also before <base/>.
        first = ["choose", "base"] if api_id == "openai" else ["choose", "choose", "base"]
        assert [c.tag for c in find(root, "inbound")][: len(first)] == first
        [when] = find(root, "inbound/choose")
        assert "subscription-key" in cast(str, when.get("condition")) and find(when, "return-response/set-status").get("code") == "401"
        metric = find(root, "inbound/llm-emit-token-metric")
        assert [d.get("name") for d in metric.findall("dimension")] == ["Subscription ID", "Model", "Backend"]
        assert find(metric, "dimension[@name='Backend']").get("value") == label
        assert find(root, "inbound/set-backend-service").get("backend-id") == backend
        forwards = list(root.iter("forward-request"))
        assert len(forwards) == 1
        assert forwards[0].get("buffer-response") == "false"
        assert forwards[0].get("timeout") == "230"
    pool = xml(named["gw-api-openai-policy"])
    retry = find(pool, "backend/retry")
    assert retry.get("count") == "2" and retry.find("forward-request") is not None
    assert xml(named["gw-api-v1-policy"]).find("backend/retry") is None


def test_each_product_refuses_the_openai_deployments_its_consumer_is_not_granted(named) -> None:
    # make_args' consumers grant no deployment: every /openai request of theirs is 403, before any limit.
    for consumer in ("chat-app", "batch"):
        inbound = find(xml(named[f"gw-product-{consumer}-policy"]), "inbound")
        assert [e.tag for e in inbound][:2] == ["base", "choose"]
        when = find(inbound[1], "when")
        assert when.get("condition") == apim_policy.deployment_refused_condition([])
        assert find(when, "return-response/set-status").get("code") == "403"
    granted = by_name(plan(consumers=[{"name": "app", "tokens_per_minute": 10, "openai_deployments": ["gpt-4o"], "max_tokens": 512}]))
    inbound = find(xml(granted["gw-product-app-policy"]), "inbound")
    assert find(inbound[1], "when").get("condition") == apim_policy.deployment_refused_condition(["gpt-4o"])
    assert find(inbound[2], "when/set-body").text == apim_policy.max_tokens_body(512)
    # A gateway without the /openai API renders none of it.
    v1_only = by_name(plan(azure_openai=[]))
    assert [e.tag for e in find(xml(v1_only["gw-product-chat-app-policy"]), "inbound")] == ["base", "llm-token-limit"]


def test_each_product_limits_tokens_per_subscription(named) -> None:
    chat = find(xml(named["gw-product-chat-app-policy"]), "inbound/llm-token-limit")
    assert chat.attrib == {
        "counter-key": "@(context.Subscription.Id)",
        "tokens-per-minute": "120000",
        "estimate-prompt-tokens": "true",
        "remaining-tokens-header-name": "x-ratelimit-remaining-tokens",
        "tokens-consumed-header-name": "x-ratelimit-consumed-tokens",
    }
    batch = find(xml(named["gw-product-batch-policy"]), "inbound/llm-token-limit")
    assert (batch.get("tokens-per-minute"), batch.get("token-quota"), batch.get("token-quota-period")) == ("20000", "10000000", "Monthly")
    product = named["gw-product-chat-app"].inputs
    assert (product["productId"], product["subscriptionRequired"], product["approvalRequired"], product["state"]) == (
        "chat-app",
        True,
        False,
        "published",
    )
    assert {named[f"gw-product-chat-app-{a}"].inputs["apiId"] for a in ("openai", "v1")} == {"openai", "v1"}
    subscription = named["gw-subscription-chat-app"].inputs
    assert subscription["scope"] == "/products/chat-app"
    assert subscription["state"] == "active" and subscription["allowTracing"] is False
    # Keys are APIM's: never set, so never in the state.
    assert "primaryKey" not in subscription and "secondaryKey" not in subscription


def test_apis_expose_only_the_inference_operations(records, named) -> None:
    operations: dict[str, set[tuple[str, str]]] = {}
    for record in records:
        if record.type == "azure-native:apimanagement:ApiOperation":
            operations.setdefault(record.inputs["apiId"], set()).add((record.inputs["method"], record.inputs["urlTemplate"]))
    # /v1 + each template is exactly the front's inference routes: no wildcard, no admin or pass-through path.
    assert {(m, "/v1" + t) for m, t in operations["v1"]} == set(INFERENCE_ROUTES)
    assert operations["openai"] == {
        ("POST", "/deployments/{deployment-id}/chat/completions"),
        ("POST", "/deployments/{deployment-id}/completions"),
        ("POST", "/deployments/{deployment-id}/embeddings"),
    }
    assert not [t for ts in operations.values() for _, t in ts if "*" in t]
    chat = named["gw-api-openai-post-deployments-chat-completions"].inputs
    assert chat["templateParameters"] == [{"name": "deployment-id", "type": "string", "required": True}]


def test_subscription_keys_are_accepted_in_the_header_and_the_query_form_is_refused(named) -> None:
    for api_id, path in (("openai", "openai"), ("v1", "v1")):
        api_ = named[f"gw-api-{api_id}"].inputs
        assert (api_["apiId"], api_["path"], api_["protocols"], api_["subscriptionRequired"]) == (api_id, path, ["https"], True)
        # The contract has no "off" for the query name: it is named explicitly and the policy refuses it.
        names = api_["subscriptionKeyParameterNames"]
        assert names == {"header": "Ocp-Apim-Subscription-Key", "query": "subscription-key"}
        [when] = find(xml(named[f"gw-api-{api_id}-policy"]), "inbound/choose")
        assert f'"{names["query"]}"' in cast(str, when.get("condition"))
        assert find(when, "return-response/set-status").get("code") == "401"


# --------------------------------------------------------------------------------------------
# Backends: Azure OpenAI pool and the engine
# --------------------------------------------------------------------------------------------


def test_azure_openai_backends_trip_on_429_and_5xx_and_honour_retry_after(named) -> None:
    for name in ("east", "west"):
        backend = named[f"gw-backend-aoai-{name}"].inputs
        assert backend["url"] == f"https://aoai-{name}.openai.azure.com/openai"
        assert backend["type"] == "Single" and backend["tls"] == {"validateCertificateChain": True, "validateCertificateName": True}
        [rule] = backend["circuitBreaker"]["rules"]
        assert rule == {
            "name": "trip-on-429-5xx",
            "failureCondition": {"count": 1, "interval": "PT10S", "statusCodeRanges": [{"min": 429, "max": 429}, {"min": 500, "max": 599}]},
            "tripDuration": "PT10S",
            "acceptRetryAfter": True,
        }
    # The fallback never trips, so the pool never has every member out (AI-Gateway#163).
    assert "circuitBreaker" not in named["gw-backend-aoai-sweden"].inputs


def test_pool_orders_members_by_priority_and_weight(named) -> None:
    pool = named["gw-backend-azure-openai-pool"].inputs
    assert pool["type"] == "Pool" and pool["backendId"] == "azure-openai-pool"
    assert pool["pool"]["services"] == [
        {"id": arm("Backend", "gw-backend-aoai-east", "apimanagement"), "priority": 1, "weight": 3},
        {"id": arm("Backend", "gw-backend-aoai-west", "apimanagement"), "priority": 1, "weight": 1},
        {"id": arm("Backend", "gw-backend-aoai-sweden", "apimanagement"), "priority": 2, "weight": 1},
    ]
    assert "circuitBreaker" not in pool


def test_azure_openai_uses_the_managed_identity_and_no_api_key_anywhere(records, named) -> None:
    root = xml(named["gw-api-openai-policy"])
    assert find(root, "inbound/authentication-managed-identity").attrib == {"resource": "https://cognitiveservices.azure.com"}
    for record in records:
        if record.type == "azure-native:apimanagement:Backend":
            assert "credentials" not in record.inputs, record.name
        if record.type in ("azure-native:apimanagement:ApiPolicy", "azure-native:apimanagement:ProductPolicy"):
            for header in ET.fromstring(record.inputs["value"]).iter("set-header"):
                if header.get("name", "").lower() == "api-key":
                    assert header.get("exists-action") == "delete" and header.find("value") is None, record.name
    for name, scope in (("east", EAST), ("west", WEST), ("sweden", SWEDEN)):
        grant = named[f"gw-apim-openai-{name}"].inputs
        assert grant == {
            "scope": scope,
            "roleDefinitionId": role_id(gateway.ROLE_COGNITIVE_SERVICES_OPENAI_USER),
            "principalId": APIM_PRINCIPAL,
            "principalType": "ServicePrincipal",
        }


def test_engine_backend_is_the_internal_app_with_the_master_key_named_value(named) -> None:
    backend = named["gw-backend-litellm"].inputs
    assert backend["url"] == f"https://{ENGINE_FQDN}/v1"
    assert "circuitBreaker" not in backend and "credentials" not in backend
    root = xml(named["gw-api-v1-policy"])
    [authorization] = [h for h in root.iter("set-header") if h.get("name") == "Authorization"]
    assert find(authorization, "value").text == "Bearer {{litellm-master-key}}"
    [consumer] = [h for h in root.iter("set-header") if h.get("name") == "x-pulumi-llm-consumer"]
    assert consumer.get("exists-action") == "override" and "context.Subscription" in cast(str, find(consumer, "value").text)
    assert not [h for h in xml(named["gw-api-openai-policy"]).iter("set-header") if h.get("name") == "x-pulumi-llm-consumer"]


def test_secret_envs_of_the_config_renderer_are_accepted_as_they_come() -> None:
    # gateway.config.secret_envs lists the master key too; the gateway wires it once.
    args = make_args(provider_secrets={**PROVIDERS, "LITELLM_MASTER_KEY": "litellm-master"})
    assert args.secrets == ["litellm-master", "litellm-master-previous", "anthropic", "openai"]
    assert args.apim_secrets == ["litellm-master"]


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------


def test_apim_reads_only_the_edge_key_through_a_role_scoped_to_that_secret(records, named) -> None:
    apim_grants = [
        r for r in records if r.type == "azure-native:authorization:RoleAssignment" and r.inputs["principalId"] == APIM_PRINCIPAL
    ]
    vault_grants = [r for r in apim_grants if cast(str, r.inputs["scope"]).startswith(VAULT)]
    assert [(r.name, r.inputs["scope"]) for r in vault_grants] == [("gw-apim-kv-litellm-master", f"{VAULT}/secrets/litellm-master")]
    assert [r.inputs["namedValueId"] for r in records if r.type == "azure-native:apimanagement:NamedValue"] == ["litellm-master-key"]
    for secret, named_value in (("litellm-master", "litellm-master-key"),):
        value = named[f"gw-nv-{secret}"].inputs
        assert value["namedValueId"] == named_value and value["secret"] is True
        assert value["keyVault"] == {"secretIdentifier": f"{VAULT_URI}secrets/{secret}"}  # versionless: follows rotation
        assert "value" not in value
        grant = named[f"gw-apim-kv-{secret}"].inputs
        assert grant == {
            "scope": f"{VAULT}/secrets/{secret}",
            "roleDefinitionId": role_id(gateway.ROLE_KEY_VAULT_SECRETS_USER),
            "principalId": APIM_PRINCIPAL,
            "principalType": "ServicePrincipal",
        }


def test_engine_reads_key_vault_references_with_its_identity_never_values(named) -> None:
    app = named["gw-engine"].inputs
    assert app["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [ENGINE_IDENTITY]}
    secrets = {s["name"]: s for s in app["configuration"]["secrets"]}
    assert set(secrets) == {"litellm-master", "litellm-master-previous", "anthropic", "openai"}
    for name, secret in secrets.items():
        assert secret == {"name": name, "keyVaultUrl": f"{VAULT_URI}secrets/{name}", "identity": ENGINE_IDENTITY}
        grant = named[f"gw-engine-kv-{name}"].inputs
        assert (grant["scope"], grant["principalId"], grant["roleDefinitionId"]) == (
            f"{VAULT}/secrets/{name}",
            ENGINE_PRINCIPAL,
            role_id(gateway.ROLE_KEY_VAULT_SECRETS_USER),
        )
    [container] = app["template"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["ANTHROPIC_API_KEY"] == {"name": "ANTHROPIC_API_KEY", "secretRef": "anthropic"}
    assert env["OPENAI_API_KEY"] == {"name": "OPENAI_API_KEY", "secretRef": "openai"}
    # The edge keys reach the front (current and previous); LiteLLM's own key is made per boot, never set here.
    assert env["PULUMI_LLM_EDGE_KEY"] == {"name": "PULUMI_LLM_EDGE_KEY", "secretRef": "litellm-master"}
    assert env["PULUMI_LLM_EDGE_KEY_PREVIOUS"] == {"name": "PULUMI_LLM_EDGE_KEY_PREVIOUS", "secretRef": "litellm-master-previous"}
    assert "LITELLM_MASTER_KEY" not in env
    assert env["AZURE_CLIENT_ID"]["value"] == ENGINE_CLIENT
    assert env["LITELLM_LOG"]["value"] == "INFO"


def test_no_secret_value_reaches_the_state() -> None:
    records = plan(environment={"LITELLM_LOG": "INFO"})
    text = json.dumps([r.inputs for r in records])
    assert SENTINEL not in text
    for record in records:
        if record.type == "azure-native:app:ContainerApp":
            assert all("value" not in s for s in record.inputs["configuration"]["secrets"])
        if record.type == "azure-native:apimanagement:NamedValue":
            assert "value" not in record.inputs
    # The App Insights connection string travels to the logger as a secret only.
    assert by_name(records)["gw-logger"].inputs["credentials"] == "[secret]"


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


def test_engine_runs_the_pinned_image_internally_with_the_rendered_config(named) -> None:
    app = named["gw-engine"].inputs
    assert app["containerAppName"] == "llm-prod-engine"
    assert app["environmentId"] == arm("ManagedEnvironment", "gw-engine-env", "app")
    ingress = app["configuration"]["ingress"]
    assert ingress == {"external": False, "targetPort": 4000, "transport": "http", "allowInsecure": False}
    [container] = app["template"]["containers"]
    assert container["image"] == pins.LITELLM.ref and "@sha256:" in container["image"]
    assert container["command"] == ["python3", "-c", BOOT]
    assert container["resources"] == {"cpu": 1, "memory": "2Gi"}
    probes = {p["type"]: p["httpGet"]["path"] for p in container["probes"]}
    assert probes == {"Startup": "/health/liveliness", "Liveness": "/health/liveliness", "Readiness": "/health/readiness"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    config = yaml.safe_load(base64.b64decode(env["LITELLM_CONFIG_B64"]))
    assert config["model_list"] == yaml.safe_load(CONFIG)["model_list"]
    assert config["litellm_settings"]["request_timeout"] == 200  # the budget's engine hop, set because the config left it out
    assert env["PULUMI_LLM_FRONT_CONFIG_B64"] == FRONT_CONFIG  # the front's grants and chains, as the platform encoded them
    scale = app["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (2, 6)
    assert scale["rules"] == [{"name": "concurrency", "http": {"metadata": {"concurrentRequests": "50"}}}]
    environment = named["gw-engine-env"].inputs
    assert environment["vnetConfiguration"] == {"infrastructureSubnetId": ENGINE_SUBNET, "internal": True}
    assert environment["zoneRedundant"] is True and environment["publicNetworkAccess"] == "Disabled"
    assert environment["appLogsConfiguration"] == {"destination": "azure-monitor"}


def test_engine_domain_resolves_privately_in_the_vnet(named) -> None:
    assert named["gw-engine-dns"].inputs["privateZoneName"] == DAPR
    link = named["gw-engine-dns-link"].inputs
    assert link["virtualNetwork"] == {"id": VNET} and link["registrationEnabled"] is False
    record = named["gw-engine-dns-wildcard"].inputs
    assert (record["relativeRecordSetName"], record["recordType"], record["aRecords"]) == ("*", "A", [{"ipv4Address": "10.20.4.62"}])


def test_a_config_within_the_budget_is_kept_as_written() -> None:
    text = CONFIG + "litellm_settings: {request_timeout: 150}\n"
    kept = gateway.engine_config(
        text,
        available_env={"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "LITELLM_MASTER_KEY"},
        engine_timeout_seconds=200,
        where="gateway.engine_config_yaml",
    )
    assert kept == text


# --------------------------------------------------------------------------------------------
# Observability
# --------------------------------------------------------------------------------------------


def test_diagnostics_log_no_bodies_and_sample(named) -> None:
    for api_id in ("openai", "v1"):
        diagnostic = named[f"gw-api-{api_id}-diagnostic"].inputs
        for side in ("frontend", "backend"):
            for message in ("request", "response"):
                assert diagnostic[side][message]["body"] == {"bytes": 0}, (api_id, side, message)
                assert diagnostic[side][message]["headers"] == []
        assert diagnostic["sampling"] == {"samplingType": "fixed", "percentage": 10}
        assert diagnostic["metrics"] is True and diagnostic["logClientIp"] is False
        assert diagnostic["loggerId"] == arm("Logger", "gw-logger", "apimanagement")
    insights = named["gw-insights"].inputs
    assert insights["disableLocalAuth"] is True
    assert insights["workspaceResourceId"] == arm("Workspace", "gw-logs", "operationalinsights")
    logger = named["gw-logger"].inputs
    assert (logger["loggerType"], logger["resourceId"]) == ("applicationInsights", arm("Component", "gw-insights", "applicationinsights"))
    publisher = named["gw-apim-insights-publisher"].inputs
    assert (publisher["scope"], publisher["roleDefinitionId"], publisher["principalId"]) == (
        arm("Component", "gw-insights", "applicationinsights"),
        role_id(gateway.ROLE_MONITORING_METRICS_PUBLISHER),
        APIM_PRINCIPAL,
    )


def test_alerts_watch_5xx_429_and_latency_and_notify_the_action_group(named) -> None:
    group = named["gw-alerts"].inputs
    assert group["emailReceivers"] == [{"name": "email-0", "emailAddress": "oncall@example.com", "useCommonAlertSchema": True}]
    expected = {
        "5xx": ("Requests", "Total", 10, [{"name": "GatewayResponseCodeCategory", "operator": "Include", "values": ["5xx"]}]),
        "429": ("Requests", "Total", 50, [{"name": "GatewayResponseCode", "operator": "Include", "values": ["429"]}]),
        "latency": ("Duration", "Average", 60000, []),
    }
    for key, (metric, aggregation, threshold, dimensions) in expected.items():
        alert = named[f"gw-alert-{key}"].inputs
        assert alert["scopes"] == [APIM_ID]
        assert alert["actions"] == [{"actionGroupId": arm("ActionGroup", "gw-alerts", "monitor")}]
        assert (alert["windowSize"], alert["evaluationFrequency"], alert["location"]) == ("PT5M", "PT1M", "global")
        criteria = alert["criteria"]
        assert criteria["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
        [criterion] = criteria["allOf"]
        assert (criterion["metricName"], criterion["timeAggregation"], criterion["threshold"], criterion["operator"]) == (
            metric,
            aggregation,
            threshold,
            "GreaterThan",
        )
        assert criterion["dimensions"] == dimensions
        assert criterion["metricNamespace"] == "Microsoft.ApiManagement/service"


def test_each_hybrid_route_has_two_log_alerts_over_the_front_lines_to_the_action_group(named) -> None:
    workspace = arm("Workspace", "gw-logs", "operationalinsights")
    for kind, severity in ((ALARM_KINDS[0], 2), (ALARM_KINDS[1], 1)):
        rule = named[f"gw-{kind}-chat"].inputs
        assert rule["ruleName"] == f"llm-prod-gateway-{kind}-chat"
        assert (rule["kind"], rule["scopes"], rule["location"], rule["severity"]) == ("LogAlert", [workspace], "eastus", severity)
        assert (rule["windowSize"], rule["evaluationFrequency"], rule["autoMitigate"], rule["enabled"]) == ("PT10M", "PT5M", True, True)
        assert rule["actions"] == {"actionGroups": [arm("ActionGroup", "gw-alerts", "monitor")]}
        # A fresh workspace has no ContainerAppConsoleLogs table yet: validation at creation would refuse the query.
        assert rule["skipQueryValidation"] is True
        [condition] = rule["criteria"]["allOf"]
        assert (condition["timeAggregation"], condition["operator"], condition["threshold"]) == ("Count", "GreaterThan", 0)
        assert condition["failingPeriods"] == {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}
        query = condition["query"]
        # The engine app's console lines, this route only (what the query means is tests/unit/test_azure_alarms.py).
        assert query.startswith('ContainerAppConsoleLogs\n| where ContainerAppName == "llm-prod-engine"\n')
        assert 'tostring(line.route) == "chat"' in query
    share = named[f"gw-{ALARM_KINDS[0]}-chat"].inputs["criteria"]["allOf"][0]["query"]
    assert share.endswith("| where requests > 0 and fallbacks * 100.0 / requests > 5.0")
    # The console lines reach the workspace's resource-specific table.
    assert named["gw-engine-env-logs"].inputs["logAnalyticsDestinationType"] == "Dedicated"
    assert named["gw-engine"].inputs["containerAppName"] == "llm-prod-engine"


def test_alerts_use_a_given_action_group_and_the_hybrid_routes_given() -> None:
    group = f"{RG}/providers/Microsoft.Insights/actionGroups/oncall"
    alarms = [FallbackAlarm("chat", 5.0, 10), FallbackAlarm("code.v1", 20.0, 60)]
    records = by_name(plan(alert_emails=[], action_group_id=group, fallback_alarms=alarms))
    rules = {name: r.inputs for name, r in records.items() if r.type == "azure-native:monitor:ScheduledQueryRule"}
    assert set(rules) == {
        f"gw-{kind}-{g}" for kind in ALARM_KINDS for g in ("chat", "code-v1-" + hashlib.sha256(b"code.v1").hexdigest()[:6])
    }
    assert {r["windowSize"] for n, r in rules.items() if "code" in n} == {"PT1H"}
    assert all(r["actions"] == {"actionGroups": [group]} for r in rules.values())


def test_outputs() -> None:
    captured: dict[str, Any] = {}
    plan(captured)
    component: AzureGateway = captured["component"]
    assert component.apim_name == "llm-prod-gateway"
    assert captured["outputs"] == ["https://llm-prod-gateway.azure-api.net", APIM_PRINCIPAL, ENGINE_FQDN, ENGINE_PRINCIPAL]


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"tier": "Consumption"},
            'gateway.tier = Consumption: can\'t stream (no long-lived connections, so no buffer-response="false" server-sent events) and has no llm-token-limit; allowed: BasicV2, StandardV2, PremiumV2',
        ),
        (
            {"tier": "Developer"},
            'gateway.tier = Developer: a classic tier; allowed: BasicV2, StandardV2, PremiumV2 (v2 tiers stream with buffer-response="false" and integrate with a VNet without a dedicated subnet per instance)',
        ),
        ({"tier": "Gold"}, "gateway.tier = 'Gold': not an API Management tier; allowed: BasicV2, StandardV2, PremiumV2"),
        ({"network": "internal"}, "gateway.network = internal: StandardV2 can't join an internal VNet; use tier PremiumV2"),
        ({"tier": "BasicV2"}, "gateway.network = vnet-outbound: BasicV2 has no VNet integration; use tier StandardV2 or PremiumV2"),
        (
            {"network": "public", "apim_subnet_id": None},
            "gateway.network = public: the engine's ingress is internal to the VNet; use network vnet-outbound (StandardV2, PremiumV2) or internal (PremiumV2)",
        ),
        ({"apim_subnet_id": None}, "gateway.apim_subnet_id: required when network is vnet-outbound"),
    ],
)
def test_tiers_that_cannot_do_what_is_asked_are_refused(overrides: dict[str, Any], line: str) -> None:
    assert error(**overrides) == line


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"forward_timeout_seconds": 300, "client_timeout_seconds": 600},
            "gateway.forward_timeout_seconds = 300: APIM may not honour a forward-request timeout above 240 s (idle connections are dropped); allowed 1 to 240",
        ),
        (
            {"client_timeout_seconds": 230},
            "gateway.client_timeout_seconds = 230: must be above gateway.forward_timeout_seconds = 230, or clients give up while APIM still waits for the backend",
        ),
        (
            {"engine_timeout_seconds": 240},
            "gateway.forward_timeout_seconds = 230: must be above gateway.engine_timeout_seconds = 240, or APIM cuts requests the engine is still serving",
        ),
    ],
)
def test_timeout_budget_is_checked_hop_by_hop(overrides: dict[str, Any], line: str) -> None:
    assert error(**overrides) == line


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {
                "azure_openai": [
                    {"name": "a", "endpoint": "https://aoai-a.openai.azure.com/", "resource_id": EAST},
                    {"name": "b", "endpoint": "https://aoai-b.openai.azure.com/", "resource_id": WEST},
                ]
            },
            "gateway.azure_openai: mark one backend fallback: true (lowest priority, no circuit breaker); a pool whose every member is tripped answers 503 to everything (Azure-Samples/AI-Gateway#163)",
        ),
        (
            {
                "azure_openai": [
                    {"name": "a", "endpoint": "https://aoai-a.openai.azure.com/", "resource_id": EAST, "fallback": True},
                    {"name": "b", "endpoint": "https://aoai-b.openai.azure.com/", "resource_id": WEST, "priority": 2},
                ]
            },
            "gateway.azure_openai.a.priority = 1: a fallback must be in the lowest priority group (2), or it takes traffic before the backends it backs up",
        ),
        (
            {"azure_openai": [{"name": "a", "endpoint": "https://a.openai.azure.com", "resource_id": EAST}]},
            "gateway.azure_openai.a.endpoint = 'https://a.openai.azure.com': expected https://<resource>.openai.azure.com/ (or .cognitiveservices.azure.com/), with the trailing slash",
        ),
        (
            {"front_config_b64": None},
            "gateway.front_config_b64: required with an engine (engine.encode_front_config of the front's config)",
        ),
        (
            {"provider_secrets": {**PROVIDERS, "COHERE_API_KEY": "litellm-master-previous"}},
            "gateway.provider_secrets.COHERE_API_KEY = 'litellm-master-previous': reserved for the previous edge key",
        ),
        (
            {"consumers": [{"name": "chat-app", "tokens_per_minute": 10, "rate_limit_rps": 5.0}]},
            "gateway.consumers.chat-app: set rate_limit_rps and burst together, or neither",
        ),
        (
            {"consumers": [{"name": "chat-app", "tokens_per_minute": 10, "openai_deployments": ["gpt 4o"]}]},
            "gateway.consumers.chat-app.openai_deployments[0] = 'gpt 4o': an Azure OpenAI deployment name (letters, digits, '.', '_' and '-', at most 64)",
        ),
        (
            {"azure_openai": [], "consumers": [{"name": "chat-app", "tokens_per_minute": 10, "openai_deployments": ["gpt-4o"]}]},
            "gateway.consumers.chat-app.openai_deployments: applies to the /openai API, which this gateway has not (no azure_openai); the front enforces /v1 from its config",
        ),
        (
            {"engine_config_yaml": None, "provider_secrets": {}, "environment": {}},
            "gateway.fallback_alarms: the alarms read the engine's request log; set engine_config_yaml or remove them",
        ),
        (
            {"key_vault_uri": "https://kv-llm-prod.vault.azure.net"},
            "gateway.key_vault_uri = 'https://kv-llm-prod.vault.azure.net': expected https://<vault>.vault.azure.net/ (with the trailing slash)",
        ),
        (
            {"engine_image": "ghcr.io/berriai/litellm:main-latest"},
            "gateway.engine_image = ghcr.io/berriai/litellm:main-latest: pin the image by digest (repository:tag@sha256:…)",
        ),
        (
            {"engine_config_yaml": CONFIG.replace("os.environ/ANTHROPIC_API_KEY", SENTINEL)},
            "gateway.engine_config_yaml: model_list[0].litellm_params.api_key holds a literal value; secrets go in Key Vault and the config references them as os.environ/<ENV>",
        ),
        (
            {"engine_config_yaml": CONFIG.replace("api_key: os.environ/ANTHROPIC_API_KEY", "azure_ad_token: eyJ0eXAi.token")},
            "gateway.engine_config_yaml: model_list[0].litellm_params.azure_ad_token holds a literal value; secrets go in Key Vault and the config references them as os.environ/<ENV>",
        ),
        (
            {"engine_config_yaml": CONFIG + "litellm_settings: {request_timeout: 600}\n"},
            "gateway.engine_config_yaml: litellm_settings.request_timeout = 600 is above engine_timeout_seconds = 200",
        ),
        (
            {"provider_secrets": {"ANTHROPIC_API_KEY": "anthropic"}},
            "gateway.engine_config_yaml: references os.environ/OPENAI_API_KEY, which the engine does not get; map it in provider_secrets (a secret) or environment (plain)",
        ),
        (
            {"provider_secrets": {**PROVIDERS, "MASTER": "litellm-master"}},
            "gateway.provider_secrets.MASTER = 'litellm-master': reserved for the LiteLLM master key",
        ),
        (
            {"engine_config_yaml": CONFIG + "# " + "x" * 25_000 + "\n"},
            f"gateway.engine_config_yaml: {len(CONFIG) + 25_003} bytes, above the 24576-byte limit of a config carried in the Container App's environment",
        ),
        (
            {"engine_cpu": 1.0, "engine_memory_gib": 4.0},
            "gateway.engine_memory_gib = 4: with engine_cpu 1, Consumption replicas take 2 GiB",
        ),
        ({"engine_subnet_id": None}, "gateway.engine_subnet_id: required with an engine (the Container Apps environment's subnet)"),
        (
            {"consumers": [{"name": "a", "tokens_per_minute": 1}, {"name": "a", "tokens_per_minute": 2}]},
            "gateway.consumers: 'a' is listed twice; consumer names key the products and subscriptions",
        ),
        (
            {"consumers": [{"name": "a", "tokens_per_minute": 1, "token_quota": 5}]},
            "gateway.consumers.a: set token_quota and token_quota_period together, or neither",
        ),
        (
            {"azure_openai": [], "engine_config_yaml": None, "provider_secrets": {}, "environment": {}},
            "gateway: neither azure_openai nor engine_config_yaml is set; the gateway needs at least one backend",
        ),
    ],
)
def test_bad_input_fails_with_one_line(overrides: dict[str, Any], line: str) -> None:
    assert error(**overrides) == line


def test_single_azure_openai_backend_is_its_own_fallback() -> None:
    named = by_name(plan(azure_openai=[{"name": "east", "endpoint": "https://aoai-east.openai.azure.com/", "resource_id": EAST}]))
    assert "circuitBreaker" not in named["gw-backend-aoai-east"].inputs
    assert xml(named["gw-api-openai-policy"]).find("backend/retry") is None


# --------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------

IMPORT_PROBE = """
import json, sys
import pulumi_llm.gateway.azure as gateway, pulumi_llm.gateway.apim_policy
for module in (gateway.apimanagement, gateway.app, gateway.applicationinsights, gateway.authorization,
               gateway.managedidentity, gateway.monitor, gateway.operationalinsights, gateway.privatedns):
    [getattr(module, name) for name in dir(module) if name[:1].isupper()]
gateway.apimanagement.ApiManagementService, gateway.app.ContainerApp, gateway.privatedns.PrivateZone
def loaded(name):
    module = sys.modules.get(name)
    return module is not None and type(module).__name__ != "_LazyModule"
print(json.dumps({
    "roots": sorted({m.split(".")[0] for m in sys.modules}),
    "web_loaded": loaded("pulumi_azure_native.web"),
    "web_children": sorted(m for m in sys.modules if m.startswith("pulumi_azure_native.web.")),
    "apimanagement_loaded": loaded("pulumi_azure_native.apimanagement"),
}))
"""


def test_importing_the_gateway_modules_loads_no_other_cloud_and_not_azure_web() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "pulumi_aws" not in report["roots"] and "pulumi_gcp" not in report["roots"]
    assert report["web_loaded"] is False and report["web_children"] == []
    assert report["apimanagement_loaded"] is True
