"""AzureModelStore: the Blob container where weights, fine-tuned checkpoints and LoRA adapters live.

Model servers never download from a public hub at start (docs/ARCHITECTURE.md, "Weights"); they read
from here, so the storage account is locked down: reachable only through a private endpoint in the VNet
(public network access disabled), Entra ID only (shared keys, and so account SAS, off), no anonymous
blob access, HTTPS with TLS 1.2+, infrastructure (double) encryption, optionally a customer-managed key,
blob versioning with soft delete of blobs and containers, and a lifecycle rule that expires old
versions.

Readers get "Storage Blob Data Reader" on the ``models`` container (see `gpu_vm.azure`), never on the
account.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_azure_native.network as network
import pulumi_azure_native.storage as storage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..labels import CommonLabels, azure_tags
from ..naming import child

StrInput = str | pulumi.Output[str]

BLOB_DNS_SUFFIX = "blob.core.windows.net"
"""Blob endpoint suffix of the public Azure cloud."""
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
SKUS = ("Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_GZRS", "Premium_LRS", "Premium_ZRS")


class CustomerKey(BaseModel):
    """A customer-managed key in Key Vault for the account's encryption at rest."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    key_vault_uri: StrInput = Field(description="Vault URI, e.g. https://acme-llm-kv.vault.azure.net/.")
    key_name: str = Field(description="Name of the RSA key in that vault (no version: the latest is used and rotation is followed).")
    identity_id: StrInput = Field(
        description="Resource id of the user-assigned identity the account uses to reach the key; it needs "
        "'Key Vault Crypto Service Encryption User' on the key."
    )


class AzureModelStoreArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack (tags).")
    resource_group_name: StrInput = Field(description="Resource group of the account and its private endpoint.")
    location: str = Field(description="Azure region, e.g. westeurope.")
    account_name: str = Field(description="Storage account name: 3 to 24 lowercase letters and digits, unique in Azure.")
    private_endpoint_subnet_id: StrInput = Field(
        description="Subnet of the blob private endpoint (AzureNetwork.subnet_ids['private-endpoints'])."
    )
    blob_private_dns_zone_id: StrInput = Field(
        description="Id of the privatelink.blob.core.windows.net zone linked to the VNet (AzureNetwork.private_dns_zone_ids['blob'])."
    )
    container_name: str = Field(default="models", description="The private container of the weights. Default 'models'.")
    sku: str = Field(
        default="Standard_ZRS", description=f"Replication: one of {', '.join(SKUS)}. Default Standard_ZRS (survives a zone loss)."
    )
    soft_delete_days: int = Field(default=7, ge=1, le=365, description="Days deleted blobs and containers can be restored. Default 7.")
    noncurrent_version_days: int = Field(
        default=30, ge=1, description="Days an overwritten blob version is kept before it is deleted. Default 30."
    )
    customer_key: CustomerKey | None = Field(
        default=None, description="Customer-managed key. Default none: Microsoft-managed keys (double-encrypted)."
    )

    @field_validator("account_name")
    @classmethod
    def _account(cls, value: str) -> str:
        if not _ACCOUNT.match(value):
            raise ValueError(f"{value!r} is not a storage account name: 3 to 24 lowercase letters and digits, e.g. acmellmmodels")
        return value

    @field_validator("container_name")
    @classmethod
    def _container(cls, value: str) -> str:
        if not _CONTAINER.match(value):
            raise ValueError(f"{value!r} is not a container name: 3 to 63 lowercase letters, digits and single hyphens")
        return value

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        if value not in SKUS:
            raise ValueError(f"{value!r}: allowed {', '.join(SKUS)}")
        return value


def blob_endpoint(account_name: str) -> str:
    """``https://<account>.blob.core.windows.net/``"""
    return f"https://{account_name}.{BLOB_DNS_SUFFIX}/"


def _encryption(args: AzureModelStoreArgs) -> tuple[storage.EncryptionArgsDict, storage.IdentityArgsDict | None]:
    """The account's encryption (infrastructure encryption always; the customer key when given) and the
    user-assigned identity that reads that key (pure)."""
    encryption: storage.EncryptionArgsDict = {
        "require_infrastructure_encryption": True,  # a second AES-256 layer with a different key
        "services": {"blob": {"enabled": True, "key_type": "Account"}, "file": {"enabled": True, "key_type": "Account"}},
        "key_source": "Microsoft.Storage",
    }
    identity: storage.IdentityArgsDict | None = None
    if args.customer_key is not None:
        cmk = args.customer_key
        encryption.update(
            key_source="Microsoft.Keyvault",
            key_vault_properties={"key_vault_uri": cmk.key_vault_uri, "key_name": cmk.key_name},
            encryption_identity={"encryption_user_assigned_identity": cmk.identity_id},
        )
        identity = {"type": "UserAssigned", "user_assigned_identities": [cmk.identity_id]}
    return encryption, identity


class AzureModelStore(pulumi.ComponentResource):
    account_id: pulumi.Output[str]
    account_name: pulumi.Output[str]
    container_id: pulumi.Output[str]
    """Resource id of the container: the scope of reader role assignments."""
    container_name: str
    container_url: str
    """``https://<account>.blob.core.windows.net/<container>``: what azcopy syncs from."""
    private_endpoint_id: pulumi.Output[str]

    def __init__(self, name: str, args: AzureModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AzureModelStore", name, None, opts)
        tags = azure_tags(args.labels)
        here = pulumi.ResourceOptions(parent=self)
        rg = args.resource_group_name

        encryption, identity = _encryption(args)
        account = storage.StorageAccount(
            child(name, "account"),
            resource_group_name=rg,
            location=args.location,
            account_name=args.account_name,
            kind="StorageV2",
            sku={"name": args.sku},
            access_tier=storage.AccessTier.HOT,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,  # Entra ID only: no account keys, no account/service SAS
            default_to_o_auth_authentication=True,
            public_network_access="Disabled",
            network_rule_set={"default_action": storage.DefaultAction.DENY, "bypass": "None"},
            allow_cross_tenant_replication=False,
            allowed_copy_scope="PrivateLink",
            is_local_user_enabled=False,
            is_sftp_enabled=False,
            is_hns_enabled=False,
            encryption=encryption,
            identity=identity,
            tags=tags,
            opts=here,
        )
        container = self._container(name, args, account)
        endpoint = self._private_endpoint(name, args, account, tags)

        self.account_id = account.id
        self.account_name = account.name
        self.container_id = container.id
        self.container_name = args.container_name
        self.blob_endpoint = blob_endpoint(args.account_name)
        self.container_url = f"{self.blob_endpoint}{args.container_name}"
        self.private_endpoint_id = endpoint.id
        self.register_outputs(
            {
                "account_id": self.account_id,
                "account_name": self.account_name,
                "container_id": self.container_id,
                "container_url": self.container_url,
                "private_endpoint_id": self.private_endpoint_id,
            }
        )

    def _container(self, name: str, args: AzureModelStoreArgs, account: storage.StorageAccount) -> storage.BlobContainer:
        """The blob service (versioning, soft delete), the private container, and expiry of old versions."""
        rg = args.resource_group_name
        # Children name the account by its (explicit) name and wait for it: the plan then shows which
        # account each belongs to.
        after_account = pulumi.ResourceOptions(parent=self, depends_on=[account])
        blob_service = storage.BlobServiceProperties(
            child(name, "blob-service"),
            resource_group_name=rg,
            account_name=args.account_name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            opts=after_account,
        )
        container = storage.BlobContainer(
            child(name, "container"),
            resource_group_name=rg,
            account_name=args.account_name,
            container_name=args.container_name,
            public_access=storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[blob_service]),
        )
        storage.ManagementPolicy(
            child(name, "lifecycle"),
            resource_group_name=rg,
            account_name=args.account_name,
            management_policy_name="default",
            policy={
                "rules": [
                    {
                        "name": "expire-noncurrent-versions",
                        "enabled": True,
                        "type": "Lifecycle",
                        "definition": {
                            "filters": {"blob_types": ["blockBlob"]},
                            "actions": {"version": {"delete": {"days_after_creation_greater_than": args.noncurrent_version_days}}},
                        },
                    }
                ]
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[blob_service]),
        )
        return container

    def _private_endpoint(
        self, name: str, args: AzureModelStoreArgs, account: storage.StorageAccount, tags: dict[str, str]
    ) -> network.PrivateEndpoint:
        """The account's only way in: a blob private endpoint in the VNet, registered in the private DNS zone."""
        rg = args.resource_group_name
        here = pulumi.ResourceOptions(parent=self)
        endpoint = network.PrivateEndpoint(
            child(name, "blob-pe"),
            resource_group_name=rg,
            location=args.location,
            subnet={"id": args.private_endpoint_subnet_id},
            private_link_service_connections=[{"name": "blob", "private_link_service_id": account.id, "group_ids": ["blob"]}],
            tags=tags,
            opts=here,
        )
        network.PrivateDnsZoneGroup(
            child(name, "blob-dns"),
            resource_group_name=rg,
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[{"name": "blob", "private_dns_zone_id": args.blob_private_dns_zone_id}],
            opts=here,
        )
        return endpoint
