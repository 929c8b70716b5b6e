"""AzureKeyVault, and the scoped role assignments Azure stacks grant with (Key Vault, Blob, Monitor).

The vault holds the provider API keys of the stack. It is in RBAC mode (no access policies: Azure RBAC
alone decides who reads what), purge protection is on (a deleted vault or secret stays recoverable for
the retention period and cannot be purged early), public network access is disabled and the vault is
reached through a private endpoint in the VNet.

Secret *containers* are not created here and no value ever passes through Pulumi: ``pulumi-llm secrets
put`` writes each value straight into the vault (docs/ARCHITECTURE.md, "Secrets never in config or
state"). Readers get "Key Vault Secrets User" on each secret they need
(scope ``<vault id>/secrets/<name>``), never on the vault or the resource group:
`AzureKeyVault.secret_reader` and `grant_secret_read`.

Role definition ids are Azure's built-in role GUIDs (the same in every tenant); the name of each role is
beside its constant. Role assignment names are UUIDv5s of scope, principal and role, so a plan is
deterministic and a re-run finds its own assignment.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.network as network
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..labels import CommonLabels, azure_tags
from ..naming import child

StrInput = str | pulumi.Output[str]

# Built-in role definitions (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User: read secret values
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader: list and read blobs
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"  # Monitoring Metrics Publisher: post custom metrics
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # Reader: read resources (a GPU-VM router lists its own scale set only)
ROLE_NAMES: dict[str, str] = {
    KEY_VAULT_SECRETS_USER: "Key Vault Secrets User",
    STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    MONITORING_METRICS_PUBLISHER: "Monitoring Metrics Publisher",
    READER: "Reader",
}
"""Every role this project assigns. Owner, Contributor, User Access Administrator and the like are never used."""

VAULT_DNS_SUFFIX = "vault.azure.net"
_ASSIGNMENT_NAMESPACE = uuid.UUID("6f1d4c1e-93b4-4c5e-9a0e-6c1f1f5a0b7d")
_VAULT = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
_SECRET = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


def role_definition_id(subscription_id: str, role: str) -> str:
    """The subscription-scoped id of a built-in role definition."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def role_assignment_name(scope: str, principal_id: str | None, role: str) -> str:
    """A stable GUID for (scope, principal, role): the same inputs always name the same assignment.

    (`principal_id` is None only under a mock runtime that does not compute identities.)"""
    return str(uuid.uuid5(_ASSIGNMENT_NAMESPACE, f"{scope.lower()}|{(principal_id or '').lower()}|{role}"))


def secret_scope(vault_id: str, secret_name: str) -> str:
    """Scope of one Key Vault secret: ``<vault id>/secrets/<name>``."""
    return f"{vault_id.rstrip('/')}/secrets/{secret_name}"


def secret_uri(vault_uri: str, secret_name: str) -> str:
    """Data-plane URI of a secret's latest version: ``https://<vault>.vault.azure.net/secrets/<name>``."""
    return f"{vault_uri.rstrip('/')}/secrets/{secret_name}"


def check_secret_name(name: str) -> str:
    if not _SECRET.match(name):
        raise ValueError(f"{name!r} is not a Key Vault secret name: 1 to 127 letters, digits and hyphens")
    return name


def assign_role(
    resource_name: str,
    *,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    role: str,
    subscription_id: pulumi.Input[str],
    parent: pulumi.Resource,
    description: str,
) -> authorization.RoleAssignment:
    """One role assignment of a built-in `role` to a managed identity's service principal at `scope`."""
    if role not in ROLE_NAMES:
        raise ValueError(f"role {role} is not one this project assigns ({', '.join(ROLE_NAMES.values())})")
    return authorization.RoleAssignment(
        resource_name,
        scope=scope,
        principal_id=principal_id,
        # Known up front: no wait for Entra ID replication of a brand-new identity.
        principal_type="ServicePrincipal",
        role_definition_id=pulumi.Output.from_input(subscription_id).apply(lambda s: role_definition_id(s, role)),
        role_assignment_name=pulumi.Output.all(scope, principal_id).apply(lambda v: role_assignment_name(v[0], v[1], role)),
        description=description,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def grant_secret_read(
    prefix: str,
    *,
    vault_id: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    secret_names: Iterable[str],
    subscription_id: pulumi.Input[str],
    parent: pulumi.Resource,
) -> dict[str, authorization.RoleAssignment]:
    """ "Key Vault Secrets User" on each named secret (scope ``<vault id>/secrets/<name>``), keyed by name.

    Pulumi names are ``<prefix>-<secret name>``. The secret must exist when the assignment is created
    (``pulumi-llm secrets put`` creates it): Azure refuses a role assignment on a scope that does not exist.
    """
    out: dict[str, authorization.RoleAssignment] = {}
    for secret in sorted(set(secret_names)):
        check_secret_name(secret)
        out[secret] = assign_role(
            f"{prefix}-{secret}",
            scope=pulumi.Output.from_input(vault_id).apply(lambda v, s=secret: secret_scope(v, s)),
            principal_id=principal_id,
            role=KEY_VAULT_SECRETS_USER,
            subscription_id=subscription_id,
            parent=parent,
            description=f"pulumi-llm: read the secret {secret}",
        )
    return out


class AzureKeyVaultArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack (tags).")
    resource_group_name: StrInput = Field(description="Resource group of the vault and its private endpoint.")
    location: str = Field(description="Azure region, e.g. westeurope.")
    vault_name: str = Field(description="Vault name: 3 to 24 letters, digits and single hyphens, starting with a letter; unique in Azure.")
    private_endpoint_subnet_id: StrInput = Field(
        description="Subnet of the vault's private endpoint (AzureNetwork.subnet_ids['private-endpoints'])."
    )
    vault_private_dns_zone_id: StrInput = Field(
        description="Id of the privatelink.vaultcore.azure.net zone linked to the VNet (AzureNetwork.private_dns_zone_ids['vault'])."
    )
    soft_delete_retention_days: int = Field(
        default=90, ge=7, le=90, description="Days a deleted vault or secret stays recoverable, 7 to 90. Default 90."
    )
    sku: str = Field(default="standard", description="'standard' or 'premium' (HSM-backed keys). Default standard.")

    @field_validator("vault_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _VAULT.match(value):
            raise ValueError(f"{value!r} is not a Key Vault name: 3 to 24 letters, digits and single hyphens, starting with a letter")
        return value

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        if value not in ("standard", "premium"):
            raise ValueError(f"{value!r}: allowed standard, premium")
        return value


class AzureKeyVault(pulumi.ComponentResource):
    vault_id: pulumi.Output[str]
    vault_name: pulumi.Output[str]
    vault_uri: str
    """``https://<vault>.vault.azure.net/``, known from the args (the boot script builds secret URIs from it)."""
    tenant_id: pulumi.Output[str]

    def __init__(self, name: str, args: AzureKeyVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AzureKeyVault", name, None, opts)
        self._name = name
        tags = azure_tags(args.labels)
        here = pulumi.ResourceOptions(parent=self)
        client = authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=self))

        vault = keyvault.Vault(
            child(name, "vault"),
            resource_group_name=args.resource_group_name,
            location=args.location,
            vault_name=args.vault_name,
            properties={
                "tenant_id": client.tenant_id,
                "sku": {"family": "A", "name": keyvault.SkuName(args.sku)},
                "enable_rbac_authorization": True,  # Azure RBAC only; access policies are ignored
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": args.soft_delete_retention_days,
                "enable_purge_protection": True,  # cannot be turned off once on
                "public_network_access": "Disabled",
                "network_acls": {"default_action": "Deny", "bypass": "None"},
                "enabled_for_deployment": False,
                "enabled_for_disk_encryption": False,
                "enabled_for_template_deployment": False,
            },
            tags=tags,
            opts=here,
        )
        endpoint = network.PrivateEndpoint(
            child(name, "vault-pe"),
            resource_group_name=args.resource_group_name,
            location=args.location,
            subnet={"id": args.private_endpoint_subnet_id},
            private_link_service_connections=[{"name": "vault", "private_link_service_id": vault.id, "group_ids": ["vault"]}],
            tags=tags,
            opts=here,
        )
        network.PrivateDnsZoneGroup(
            child(name, "vault-dns"),
            resource_group_name=args.resource_group_name,
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[{"name": "vault", "private_dns_zone_id": args.vault_private_dns_zone_id}],
            opts=here,
        )

        self._subscription_id = client.subscription_id
        self.vault_id = vault.id
        self.vault_name = vault.name
        self.vault_uri = f"https://{args.vault_name}.{VAULT_DNS_SUFFIX}/"
        self.tenant_id = client.tenant_id
        self.private_endpoint_id = endpoint.id
        self.register_outputs(
            {"vault_id": self.vault_id, "vault_name": self.vault_name, "vault_uri": self.vault_uri, "tenant_id": self.tenant_id}
        )

    def secret_uris(self, secret_names: Mapping[str, str]) -> dict[str, str]:
        """`secret_names` (any key → Key Vault secret name) → the secrets' data-plane URIs."""
        return {key: secret_uri(self.vault_uri, check_secret_name(name)) for key, name in secret_names.items()}

    def secret_reader(
        self, principal_id: pulumi.Input[str], secret_names: Iterable[str], *, key: str = "reader"
    ) -> dict[str, authorization.RoleAssignment]:
        """Let `principal_id` (a managed identity's principal) read exactly `secret_names`.

        Creates one "Key Vault Secrets User" assignment per secret, scoped to that secret, as children of
        this vault named ``<vault>-<key>-<secret>``; `key` tells several readers apart.
        """
        return grant_secret_read(
            child(self._name, key),
            vault_id=self.vault_id,
            principal_id=principal_id,
            secret_names=secret_names,
            subscription_id=self._subscription_id,
            parent=self,
        )
