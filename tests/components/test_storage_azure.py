"""AzureModelStore and AzureKeyVault: private, Entra-only storage for weights; an RBAC vault reached only through
its private endpoint, with per-secret readers. Mock runtime, default providers disabled."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_azure_native.provider import Provider as AzureProvider
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import invokes
from pulumi_llm.offline.recorder import PlanMocks
from pulumi_llm.security.azure import (
    KEY_VAULT_SECRETS_USER,
    ROLE_NAMES,
    AzureKeyVault,
    AzureKeyVaultArgs,
    role_assignment_name,
    secret_scope,
)
from pulumi_llm.storage.azure import AzureModelStore, AzureModelStoreArgs, CustomerKey
from pydantic import ValidationError

LOCATION = "westeurope"
PE_SUBNET = "/subscriptions/s/resourceGroups/rg-llm/providers/Microsoft.Network/virtualNetworks/v/subnets/private-endpoints"
BLOB_ZONE = "/subscriptions/s/resourceGroups/rg-llm/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"
VAULT_ZONE = "/subscriptions/s/resourceGroups/rg-llm/providers/Microsoft.Network/privateDnsZones/privatelink.vaultcore.azure.net"
IDENTITY = "/subscriptions/s/resourceGroups/rg-llm/providers/Microsoft.ManagedIdentity/userAssignedIdentities/store-cmk"
PRINCIPAL = "9a8b7c6d-0000-4000-8000-000000000001"
# Owner, Contributor, User Access Administrator, Key Vault Administrator, Storage Blob Data Owner/Contributor.
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
}


@pytest.fixture(scope="module", autouse=True)
def azure_computed_outputs() -> Iterator[None]:
    """Shape what Azure computes and the plan's mocks (which echo inputs) lack: `identity.userAssignedIdentities`
    as the map Azure returns for the list we send."""
    original = PlanMocks.new_resource

    def new_resource(self: PlanMocks, args):  # type: ignore[no-untyped-def]
        resource_id, state = original(self, args)
        identity = state.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            state["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}
        return resource_id, state

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PlanMocks, "new_resource", new_resource)
        yield


def store_args(**overrides: Any) -> AzureModelStoreArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "resource_group_name": "rg-llm",
        "location": LOCATION,
        "account_name": "acmellmmodels",
        "private_endpoint_subnet_id": PE_SUBNET,
        "blob_private_dns_zone_id": BLOB_ZONE,
        **overrides,
    }
    return AzureModelStoreArgs(**values)


def vault_args(**overrides: Any) -> AzureKeyVaultArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "resource_group_name": "rg-llm",
        "location": LOCATION,
        "vault_name": "acme-llm-kv",
        "private_endpoint_subnet_id": PE_SUBNET,
        "vault_private_dns_zone_id": VAULT_ZONE,
        **overrides,
    }
    return AzureKeyVaultArgs(**values)


def plan(store: AzureModelStoreArgs | None = None, vault: AzureKeyVaultArgs | None = None, readers: dict[str, list[str]] | None = None):
    outputs: dict[str, Any] = {}

    def program() -> None:
        provider = AzureProvider("azure", location=LOCATION)
        opts = pulumi.ResourceOptions(providers=[provider])
        outputs["store"] = AzureModelStore("store", store or store_args(), opts=opts)
        kv = AzureKeyVault("kv", vault or vault_args(), opts=opts)
        outputs["vault"] = kv
        for key, secrets in (readers or {}).items():
            kv.secret_reader(PRINCIPAL, secrets, key=key)

    return run(program, region=LOCATION), outputs


@pytest.fixture(scope="module")
def planned():
    return plan(readers={"gateway": ["openai-api-key", "anthropic-api-key"]})


@pytest.fixture(scope="module")
def records(planned):
    return planned[0]


@pytest.fixture(scope="module")
def named(records):
    return by_name(records)


# --- structure ------------------------------------------------------------------------------


def test_children_are_exactly_these_and_use_the_stack_provider(records) -> None:
    store = only(records, "pulumi-llm:index:AzureModelStore")
    assert children(records, store) == [
        ("azure-native:network:PrivateDnsZoneGroup", "store-blob-dns"),
        ("azure-native:network:PrivateEndpoint", "store-blob-pe"),
        ("azure-native:storage:BlobContainer", "store-container"),
        ("azure-native:storage:BlobServiceProperties", "store-blob-service"),
        ("azure-native:storage:ManagementPolicy", "store-lifecycle"),
        ("azure-native:storage:StorageAccount", "store-account"),
    ]
    vault = only(records, "pulumi-llm:index:AzureKeyVault")
    assert children(records, vault) == [
        ("azure-native:authorization:RoleAssignment", "kv-gateway-anthropic-api-key"),
        ("azure-native:authorization:RoleAssignment", "kv-gateway-openai-api-key"),
        ("azure-native:keyvault:Vault", "kv-vault"),
        ("azure-native:network:PrivateDnsZoneGroup", "kv-vault-dns"),
        ("azure-native:network:PrivateEndpoint", "kv-vault-pe"),
    ]
    provider = only(records, "pulumi:providers:azure-native")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("azure-native:"))


# --- storage --------------------------------------------------------------------------------


def test_storage_account_is_private_entra_only_tls12_and_double_encrypted(named) -> None:
    account = named["store-account"].inputs
    assert {
        k: account[k]
        for k in (
            "accountName",
            "kind",
            "allowBlobPublicAccess",
            "minimumTlsVersion",
            "allowSharedKeyAccess",
            "publicNetworkAccess",
            "enableHttpsTrafficOnly",
            "defaultToOAuthAuthentication",
            "allowCrossTenantReplication",
            "allowedCopyScope",
            "isLocalUserEnabled",
            "isSftpEnabled",
        )
    } == {
        "accountName": "acmellmmodels",
        "kind": "StorageV2",
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "allowSharedKeyAccess": False,
        "publicNetworkAccess": "Disabled",
        "enableHttpsTrafficOnly": True,
        "defaultToOAuthAuthentication": True,
        "allowCrossTenantReplication": False,
        "allowedCopyScope": "PrivateLink",
        "isLocalUserEnabled": False,
        "isSftpEnabled": False,
    }
    assert account["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "None"}
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    assert account["encryption"]["keySource"] == "Microsoft.Storage"
    assert account["sku"] == {"name": "Standard_ZRS"}


def test_blob_versioning_and_soft_delete_with_expiring_old_versions(named) -> None:
    service = named["store-blob-service"].inputs
    assert service["accountName"] == "acmellmmodels" and service["blobServicesName"] == "default"
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 7}
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 7}
    [rule] = named["store-lifecycle"].inputs["policy"]["rules"]
    assert rule["definition"]["actions"] == {"version": {"delete": {"daysAfterCreationGreaterThan": 30}}}


def test_models_container_is_private(named, planned) -> None:
    container = named["store-container"].inputs
    assert (container["containerName"], container["publicAccess"], container["accountName"]) == ("models", "None", "acmellmmodels")
    store = planned[1]["store"]
    assert store.container_url == "https://acmellmmodels.blob.core.windows.net/models"


def test_blob_private_endpoint_and_dns_zone_group(named) -> None:
    endpoint = named["store-blob-pe"].inputs
    assert endpoint["subnet"] == {"id": PE_SUBNET}
    [connection] = endpoint["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["blob"] and connection["privateLinkServiceId"].startswith("store-account-")
    assert named["store-blob-dns"].inputs["privateDnsZoneConfigs"] == [{"name": "blob", "privateDnsZoneId": BLOB_ZONE}]


def test_a_customer_key_encrypts_the_account_through_its_identity() -> None:
    key = CustomerKey(key_vault_uri="https://acme-llm-kv.vault.azure.net/", key_name="models", identity_id=IDENTITY)
    account = by_name(plan(store=store_args(customer_key=key))[0])["store-account"].inputs
    assert account["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert account["encryption"]["keyVaultProperties"] == {"keyVaultUri": "https://acme-llm-kv.vault.azure.net/", "keyName": "models"}
    assert account["encryption"]["encryptionIdentity"] == {"encryptionUserAssignedIdentity": IDENTITY}
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    assert account["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [IDENTITY]}


# --- key vault ------------------------------------------------------------------------------


def test_vault_is_rbac_purge_protected_and_private(named) -> None:
    properties = named["kv-vault"].inputs["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enablePurgeProtection"] is True
    assert properties["enableSoftDelete"] is True and properties["softDeleteRetentionInDays"] == 90
    assert properties["publicNetworkAccess"] == "Disabled"
    assert properties["networkAcls"] == {"defaultAction": "Deny", "bypass": "None"}
    assert properties["tenantId"] == invokes.AZURE_TENANT
    assert "accessPolicies" not in properties
    assert not any(properties[k] for k in ("enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment"))
    assert named["kv-vault"].inputs["vaultName"] == "acme-llm-kv"


def test_vault_private_endpoint_and_dns_zone_group(named, planned) -> None:
    [connection] = named["kv-vault-pe"].inputs["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["vault"] and connection["privateLinkServiceId"].startswith("kv-vault-")
    assert named["kv-vault-dns"].inputs["privateDnsZoneConfigs"] == [{"name": "vault", "privateDnsZoneId": VAULT_ZONE}]
    assert planned[1]["vault"].vault_uri == "https://acme-llm-kv.vault.azure.net/"
    assert planned[1]["vault"].secret_uris({"k": "openai-api-key"}) == {"k": "https://acme-llm-kv.vault.azure.net/secrets/openai-api-key"}


def test_no_secret_is_created_by_the_stack(records) -> None:
    assert not [r for r in records if r.type.startswith("azure-native:keyvault:") and r.type != "azure-native:keyvault:Vault"]


def test_secret_readers_are_scoped_to_each_secret_never_the_vault(records) -> None:
    vault_id = by_name(records)["kv-vault"]
    assignments = of_type(records, "azure-native:authorization:RoleAssignment")
    assert len(assignments) == 2
    for record in assignments:
        inputs = record.inputs
        secret = record.name.removeprefix("kv-gateway-")
        assert re.fullmatch(r"kv-vault-[0-9a-f]{12}/secrets/" + re.escape(secret), inputs["scope"])
        assert inputs["scope"] == secret_scope(inputs["scope"].split("/secrets/")[0], secret)
        assert inputs["roleDefinitionId"] == (
            f"/subscriptions/{invokes.AZURE_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{KEY_VAULT_SECRETS_USER}"
        )
        assert ROLE_NAMES[KEY_VAULT_SECRETS_USER] == "Key Vault Secrets User"
        assert (inputs["principalId"], inputs["principalType"]) == (PRINCIPAL, "ServicePrincipal")
        assert inputs["roleAssignmentName"] == role_assignment_name(inputs["scope"], PRINCIPAL, KEY_VAULT_SECRETS_USER)
        assert inputs["roleDefinitionId"].rsplit("/", 1)[1] not in BROAD_ROLES
    assert vault_id.type == "azure-native:keyvault:Vault"


def test_role_assignment_names_are_stable_guids() -> None:
    first = role_assignment_name("/x/secrets/a", PRINCIPAL, KEY_VAULT_SECRETS_USER)
    assert first == role_assignment_name("/X/SECRETS/A", PRINCIPAL.upper(), KEY_VAULT_SECRETS_USER)
    assert first != role_assignment_name("/x/secrets/b", PRINCIPAL, KEY_VAULT_SECRETS_USER)
    assert str(uuid.UUID(first)) == first


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: store_args(account_name="Acme-LLM"), "'Acme-LLM' is not a storage account name"),
        (lambda: store_args(sku="Standard_RAGRS"), "'Standard_RAGRS': allowed Standard_LRS"),
        (lambda: store_args(container_name="Models"), "'Models' is not a container name"),
        (lambda: vault_args(vault_name="1vault"), "'1vault' is not a Key Vault name"),
        (lambda: vault_args(soft_delete_retention_days=3), "greater than or equal to 7"),
        (lambda: vault_args(sku="free"), "'free': allowed standard, premium"),
    ],
)
def test_bad_arguments_are_refused(make, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match=re.escape(message)):
        make()


def test_a_bad_secret_name_is_refused() -> None:
    with pytest.raises(ValueError, match="'bad_name' is not a Key Vault secret name"):
        plan(readers={"gateway": ["bad_name"]})
