"""identity.azure: the RBAC role assignments an Azure stack's flows need, evaluated the way Azure RBAC
would on first use (a role's data actions, at a scope that contains the resource).

* identity.azure-secrets: the gateway engine (Container Apps secret references, as their user-assigned
  identity) and API Management (Key Vault named values, as its system identity) read each Key Vault secret
  they name: an RBAC vault, and a secret-reading role for that principal at the secret, the vault, or above;
* identity.azure-weights: each GPU VM scale set reads the model weights as its user-assigned identity: a
  blob-reading role at the model container, its storage account, or above.

A role assignment belongs to a principal when it waits for that identity (the principal id is the identity's
output); APIM's system identity is only known once APIM exists, so an assignment with no principal id counts
for it. Role GUIDs are in facts.azure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..facts import azure as facts
from ..report import Violation
from ..view import PlanView
from . import rule, violation

SECRETS = "identity.azure-secrets"
WEIGHTS = "identity.azure-weights"

ASSIGNMENT = "azure-native:authorization:RoleAssignment"
VAULT = "azure-native:keyvault:Vault"
APP = "azure-native:app:ContainerApp"
NAMED_VALUE = "azure-native:apimanagement:NamedValue"
APIM = "azure-native:apimanagement:ApiManagementService"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
CONTAINER = "azure-native:storage:BlobContainer"
ACCOUNT = "azure-native:storage:StorageAccount"
GROUP = "azure-native:resources:ResourceGroup"


def role_guid(assignment: dict[str, Any]) -> str:
    return str(assignment["inputs"].get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()


def _above(view: PlanView, scope: str) -> bool:
    """A subscription or resource-group scope (contains every resource of the stack's group)."""
    if scope.startswith("/subscriptions/"):
        return "/providers/" not in scope
    found = view.ref(scope)
    return found is not None and found["type"] == GROUP


def _for(view: PlanView, assignment: dict[str, Any], principal: dict[str, Any], system_identity: bool) -> bool:
    if principal["urn"] in assignment.get("dependsOn", []):
        return True
    return system_identity and not assignment["inputs"].get("principalId")


def _vault_by_host(view: PlanView, host: str) -> dict[str, Any] | None:
    name = host.split(".", 1)[0]
    return next((v for v in view.of_type(VAULT) if v["inputs"].get("vaultName") == name), None)


def _secret_readable(view: PlanView, principal: dict[str, Any], url: str, system_identity: bool) -> str | None:
    """Why `principal` cannot read the Key Vault secret at `url`, or None."""
    parts = urlsplit(url)
    vault = _vault_by_host(view, parts.hostname or "")
    if vault is None:
        return f"{url} is in no Key Vault of the plan"
    if not (vault["inputs"].get("properties") or {}).get("enableRbacAuthorization"):
        return f"vault {vault['inputs'].get('vaultName')} uses access policies, not RBAC: no role assignment reads its secrets"
    segments = [s for s in parts.path.split("/") if s]
    secret = segments[1] if len(segments) > 1 and segments[0] == "secrets" else ""
    scopes = {vault["id"], f"{vault['id']}/secrets/{secret}"}
    for a in view.of_type(ASSIGNMENT):
        scope = str(a["inputs"].get("scope", ""))
        if role_guid(a) in facts.SECRET_READER_ROLES and (scope in scopes or _above(view, scope)) and _for(view, a, principal, system_identity):
            return None
    return f"no secret-reading role ({', '.join(sorted(facts.SECRET_READER_ROLES.values()))}) for it on secret {secret!r} or above"


@rule(SECRETS)
def secrets(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "azure":
        return
    for app in view.of_type(APP):
        for ref in (app["inputs"].get("configuration") or {}).get("secrets") or []:
            if not ref.get("keyVaultUrl"):
                continue
            identity = view.ref(ref.get("identity"))
            if identity is None:
                yield violation(view, app["name"], SECRETS, f"secret {ref.get('name')} names no identity of the plan to read {ref['keyVaultUrl']}")
                continue
            why = _secret_readable(view, identity, ref["keyVaultUrl"], system_identity=False)
            if why:
                yield violation(view, app["name"], SECRETS, f"the engine's identity cannot read {ref['keyVaultUrl']}: {why}")
    apims = view.of_type(APIM)
    for value in view.of_type(NAMED_VALUE):
        url = (value["inputs"].get("keyVault") or {}).get("secretIdentifier")
        if not url or not apims:
            continue
        why = _secret_readable(view, apims[0], url, system_identity=True)
        if why:
            yield violation(view, value["name"], SECRETS, f"API Management cannot resolve named value {value['inputs'].get('displayName')}: {why}")


# ---- weights ---------------------------------------------------------------------------------------------
def _contains(view: PlanView, scope: str, container: dict[str, Any]) -> bool:
    if scope in (container["id"], container["urn"]) or _above(view, scope):
        return True
    account = view.ref(scope)
    return account is not None and account["type"] == ACCOUNT and account["inputs"].get("accountName") == container["inputs"].get("accountName")


@rule(WEIGHTS)
def weights(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "azure":
        return
    containers = view.of_type(CONTAINER)
    if not containers:
        return
    container = containers[0]
    for vmss in view.of_type(VMSS):
        ids = (vmss["inputs"].get("identity") or {}).get("userAssignedIdentities") or []
        identities = [i for i in (view.ref(x) for x in (ids if isinstance(ids, list) else list(ids))) if i is not None]
        if not identities:
            yield violation(view, vmss["name"], WEIGHTS, "the GPU VMs have no user-assigned identity to read the model weights with")
            continue
        readable = any(
            role_guid(a) in facts.BLOB_READER_ROLES and _contains(view, str(a["inputs"].get("scope", "")), container) and _for(view, a, identity, False)
            for a in view.of_type(ASSIGNMENT) for identity in identities
        )
        if not readable:
            yield violation(view, vmss["name"], WEIGHTS,
                            f"no blob-reading role ({', '.join(sorted(facts.BLOB_READER_ROLES.values()))}) for the VMs' identity "
                            f"at container {container['inputs'].get('containerName')} or above: the weights download is refused (403)")
