"""identity.azure: the RBAC role assignments an Azure stack's flows need, evaluated the way Azure RBAC
would on first use (a role's data actions, at a scope that contains the resource).

* identity.azure-secrets: the gateway engine (Container Apps secret references, as their user-assigned
  identity) and API Management (Key Vault named values, as its system identity) read each Key Vault secret
  they name: an RBAC vault, and a secret-reading role for that principal at the secret, the vault, or above;
* identity.azure-weights: each GPU VM scale set reads the model weights as its user-assigned identity: a
  blob-reading role at the model container, its storage account, or above;
* identity.azure-prometheus: Prometheus remote-writes to Azure Monitor as a user-assigned identity through AKS
  workload identity: a federated credential for the token-exchange audience whose subject is the service account
  the kube-prometheus-stack release runs Prometheus as (annotated with a client id, pods labelled to use it),
  and Monitoring Metrics Publisher for that identity on the data collection rule it writes to.

A role assignment belongs to a principal when its principal id is the identity's (the mocks give each
user-assigned identity one), else when it waits for that identity; APIM's system identity is only known once
APIM exists, so an assignment with no principal id counts for it. A scope contains a resource when it is the
resource, its parent, its resource group or the subscription. Role GUIDs are in facts.azure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ...offline.recorder import azure_principal_id
from ..facts import azure as facts
from ..plain import array_at, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

SECRETS = "identity.azure-secrets"
WEIGHTS = "identity.azure-weights"
PROMETHEUS = "identity.azure-prometheus"

ASSIGNMENT = "azure-native:authorization:RoleAssignment"
VAULT = "azure-native:keyvault:Vault"
APP = "azure-native:app:ContainerApp"
NAMED_VALUE = "azure-native:apimanagement:NamedValue"
APIM = "azure-native:apimanagement:ApiManagementService"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
CONTAINER = "azure-native:storage:BlobContainer"
ACCOUNT = "azure-native:storage:StorageAccount"
GROUP = "azure-native:resources:ResourceGroup"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
DCR = "azure-native:monitor:DataCollectionRule"
HELM = "kubernetes:helm.sh/v3:Release"


def role_guid(assignment: dict[str, Any]) -> str:
    return str(assignment["inputs"].get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()


def _above(view: PlanView, scope: str, resource: dict[str, Any]) -> bool:
    """A scope above `resource` that contains it: the subscription, or the resource group it is in. Role
    assignments inherit down the scope hierarchy only, so another group's assignment never reaches it."""
    group = str(resource["inputs"].get("resourceGroupName") or "")
    if scope.startswith("/subscriptions/"):
        segments = [s for s in scope.split("/") if s]
        if len(segments) == 2:
            return True  # the subscription
        return len(segments) == 4 and segments[2].lower() == "resourcegroups" and segments[3].lower() == group.lower()
    found = view.ref(scope)
    # The plan's group: resources name it by its name output (the mocks' resource name) or its resourceGroupName.
    return found is not None and found["type"] == GROUP and group in {found["name"], found["inputs"].get("resourceGroupName")}


def principal_id(principal: dict[str, Any]) -> str | None:
    """The principal id of a user-assigned identity of the plan (the GUID the mocks give it), else None."""
    if principal["type"] != IDENTITY:
        return None
    digest = str(principal["id"]).rsplit("-", 1)[-1]
    return azure_principal_id(digest) if len(digest) == 12 else None


def _for(view: PlanView, assignment: dict[str, Any], principal: dict[str, Any], system_identity: bool) -> bool:
    """Whether `assignment` grants to `principal`: by principal id where both are known; else the assignment
    waits for the identity (its principal id is the identity's output), or — APIM's system identity, unknown
    until APIM exists — names no principal id at all."""
    granted = assignment["inputs"].get("principalId")
    known = principal_id(principal)
    if granted and known:
        return str(granted).lower() == known
    if principal["urn"] in assignment.get("dependsOn", []):
        return True
    return system_identity and not granted


def _vault_by_host(view: PlanView, host: str) -> dict[str, Any] | None:
    name = host.split(".", 1)[0]
    return next((v for v in view.of_type(VAULT) if v["inputs"].get("vaultName") == name), None)


def _secret_readable(view: PlanView, principal: dict[str, Any], url: str, system_identity: bool) -> str | None:
    """Why `principal` cannot read the Key Vault secret at `url`, or None."""
    parts = urlsplit(url)
    vault = _vault_by_host(view, parts.hostname or "")
    if vault is None:
        return f"{url} is in no Key Vault of the plan"
    if not object_at(vault["inputs"], "properties").get("enableRbacAuthorization"):
        return f"vault {vault['inputs'].get('vaultName')} uses access policies, not RBAC: no role assignment reads its secrets"
    segments = [s for s in parts.path.split("/") if s]
    secret = segments[1] if len(segments) > 1 and segments[0] == "secrets" else ""
    scopes = {vault["id"], f"{vault['id']}/secrets/{secret}"}
    for a in view.of_type(ASSIGNMENT):
        scope = str(a["inputs"].get("scope", ""))
        if (
            role_guid(a) in facts.SECRET_READER_ROLES
            and (scope in scopes or _above(view, scope, vault))
            and _for(view, a, principal, system_identity)
        ):
            return None
    return f"no secret-reading role ({', '.join(sorted(facts.SECRET_READER_ROLES.values()))}) for it on secret {secret!r} or above"


@rule(SECRETS)
def secrets(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "azure":
        return
    for app in view.of_type(APP):
        for ref in array_at(object_at(app["inputs"], "configuration"), "secrets"):
            if not ref.get("keyVaultUrl"):
                continue
            identity = view.ref(ref.get("identity"))
            if identity is None:
                yield violation(
                    view, app["name"], SECRETS, f"secret {ref.get('name')} names no identity of the plan to read {ref['keyVaultUrl']}"
                )
                continue
            why = _secret_readable(view, identity, ref["keyVaultUrl"], system_identity=False)
            if why:
                yield violation(view, app["name"], SECRETS, f"the engine's identity cannot read {ref['keyVaultUrl']}: {why}")
    apims = view.of_type(APIM)
    for value in view.of_type(NAMED_VALUE):
        url = object_at(value["inputs"], "keyVault").get("secretIdentifier")
        if not url or not apims:
            continue
        why = _secret_readable(view, apims[0], url, system_identity=True)
        if why:
            yield violation(
                view, value["name"], SECRETS, f"API Management cannot resolve named value {value['inputs'].get('displayName')}: {why}"
            )


# ---- weights ---------------------------------------------------------------------------------------------
def _contains(view: PlanView, scope: str, container: dict[str, Any]) -> bool:
    if scope in (container["id"], container["urn"]) or _above(view, scope, container):
        return True
    account = view.ref(scope)
    return (
        account is not None
        and account["type"] == ACCOUNT
        and account["inputs"].get("accountName") == container["inputs"].get("accountName")
    )


@rule(WEIGHTS)
def weights(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "azure":
        return
    containers = view.of_type(CONTAINER)
    if not containers:
        return
    container = containers[0]
    for vmss in view.of_type(VMSS):
        # A list of identity ids, or a map keyed by them: list() yields the ids either way.
        ids: Any = object_at(vmss["inputs"], "identity").get("userAssignedIdentities") or []
        identities = [i for i in (view.ref(x) for x in list(ids)) if i is not None]
        if not identities:
            yield violation(view, vmss["name"], WEIGHTS, "the GPU VMs have no user-assigned identity to read the model weights with")
            continue
        readable = any(
            role_guid(a) in facts.BLOB_READER_ROLES
            and _contains(view, str(a["inputs"].get("scope", "")), container)
            and _for(view, a, identity, False)
            for a in view.of_type(ASSIGNMENT)
            for identity in identities
        )
        if not readable:
            yield violation(
                view,
                vmss["name"],
                WEIGHTS,
                f"no blob-reading role ({', '.join(sorted(facts.BLOB_READER_ROLES.values()))}) for the VMs' identity "
                f"at container {container['inputs'].get('containerName')} or above: the weights download is refused (403)",
            )


# ---- Prometheus → Azure Monitor ------------------------------------------------------------------------------
def _prometheus_release(view: PlanView) -> dict[str, Any] | None:
    return next((r for r in view.of_type(HELM) if r["inputs"].get("chart") == "kube-prometheus-stack"), None)


@rule(PROMETHEUS)
def prometheus(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "azure":
        return
    release = _prometheus_release(view)
    if release is None:
        return
    values = object_at(object_at(release["inputs"], "values"), "prometheus")
    spec = object_at(values, "prometheusSpec")
    if not any("azureAd" in w for w in array_at(spec, "remoteWrite")):
        return  # no remote write to Azure Monitor: no identity flow
    account = object_at(values, "serviceAccount")
    subject = f"system:serviceaccount:{release['inputs'].get('namespace')}:{account.get('name')}"
    if not account.get("name") or account.get("create") is False:
        yield violation(
            view,
            release["name"],
            PROMETHEUS,
            "Prometheus's service account is not named and created by the release: no federated credential can name it",
        )
        return
    if facts.WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION not in object_at(account, "annotations"):
        yield violation(
            view,
            release["name"],
            PROMETHEUS,
            f"service account {subject} names no identity ({facts.WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION})",
        )
    if object_at(object_at(spec, "podMetadata"), "labels").get(facts.WORKLOAD_IDENTITY_USE_LABEL) != "true":
        yield violation(
            view,
            release["name"],
            PROMETHEUS,
            f"Prometheus pods lack the label {facts.WORKLOAD_IDENTITY_USE_LABEL}=true: the webhook injects no token, remote write gets 401",
        )
    federations = [f for f in view.of_type(FEDERATION) if f["inputs"].get("subject") == subject]
    if not federations:
        yield violation(
            view, release["name"], PROMETHEUS, f"no federated identity credential trusts {subject}: the token exchange is refused"
        )
        return
    for federation in federations:
        if facts.WORKLOAD_IDENTITY_AUDIENCE not in array_at(federation["inputs"], "audiences"):
            yield violation(
                view,
                federation["name"],
                PROMETHEUS,
                f"audiences {federation['inputs'].get('audiences')} lack {facts.WORKLOAD_IDENTITY_AUDIENCE}",
            )
        identity = next(
            (i for i in view.of_type(IDENTITY) if i["inputs"].get("resourceName") == federation["inputs"].get("resourceName")), None
        )
        if identity is None:
            yield violation(view, federation["name"], PROMETHEUS, "the federated credential belongs to no identity of the plan")
            continue
        rules_ = view.of_type(DCR)
        publishes = any(
            role_guid(a) == facts.MONITORING_METRICS_PUBLISHER
            and _for(view, a, identity, False)
            and any(str(a["inputs"].get("scope")) in (d["id"], d["urn"]) for d in rules_)
            for a in view.of_type(ASSIGNMENT)
        )
        if not publishes:
            yield violation(
                view,
                identity["name"],
                PROMETHEUS,
                "no Monitoring Metrics Publisher for Prometheus's identity on the data collection rule: remote write gets 403",
            )
