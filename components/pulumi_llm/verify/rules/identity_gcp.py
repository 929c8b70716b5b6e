"""identity.gcp: the IAM grants a GCP stack's flows need, evaluated the way IAM would on first use.

* identity.gcp-secrets: the gateway's Cloud Run service mounts each Secret Manager secret as its runtime
  service account, which needs an accessor role on that secret (or the project); a secret replicated under a
  CMEK key also needs Secret Manager's service agent on the key, or every access fails.
* identity.gcp-weights: every reader of the model weights reads `store://` objects of the stack's bucket as a
  Google service account holding an object-reader role on the bucket (under a condition, one whose prefix
  covers the model's path): a GPU VM as its instance template's account; a GKE model pod as the account its
  Kubernetes service account is annotated with, which must also let that Kubernetes service account in
  (Workload Identity User). The bucket's default CMEK key needs Cloud Storage's service agent.

* identity.gcp-one-grant: no two resources of a plan grant the same member the same role on the same resource
  (under the same condition). Each IAM member resource adds the binding and removes it when destroyed, so
  destroying (or renaming without an alias) either one removes the grant the other still stands for.

Role sets and agent names are in facts.gcp.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..facts import gcp as facts
from ..plain import array_at, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

SECRETS = "identity.gcp-secrets"
WEIGHTS = "identity.gcp-weights"
ONE_GRANT = "identity.gcp-one-grant"

RUN = "gcp:cloudrunv2/service:Service"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
CLUSTER = "gcp:container/cluster:Cluster"
GSA_ANNOTATION = "iam.gke.io/gcp-service-account"
STORE = "store://"


def _key_grants(view: PlanView, key_ref: str, agent_domain: str) -> bool:
    key = view.ref(key_ref)
    for member in view.of_type(KEY_MEMBER):
        i = member["inputs"]
        same_key = i.get("cryptoKeyId") == key_ref or (key is not None and view.ref(i.get("cryptoKeyId")) is key)
        if same_key and i.get("role") in facts.KMS_USE_ROLES and str(i.get("member", "")).endswith(agent_domain):
            return True
    return False


def _secret_keys(secret: dict[str, Any]) -> list[str]:
    replication = object_at(secret["inputs"], "replication")
    keys = [
        (object_at(r, "customerManagedEncryption").get("kmsKeyName")) for r in array_at(object_at(replication, "userManaged"), "replicas")
    ]
    keys.append(object_at(object_at(replication, "auto"), "customerManagedEncryption").get("kmsKeyName"))
    return [k for k in keys if k]


def _mounted_secrets(run: dict[str, Any]) -> set[str]:
    template = run["inputs"]["template"]
    names = {object_at(v, "secret").get("secret") for v in array_at(template, "volumes")}
    for container in array_at(template, "containers"):
        for env in array_at(container, "envs"):
            names.add(object_at(object_at(env, "valueSource"), "secretKeyRef").get("secret"))
    return {n for n in names if n}


def _secret_named(view: PlanView, name: str) -> dict[str, Any] | None:
    found = view.ref(name)
    if found is not None and found["type"] == SECRET:
        return found
    return next((s for s in view.of_type(SECRET) if s["inputs"].get("secretId") == name), None)


def _can_access(view: PlanView, secret: dict[str, Any], member: str) -> bool:
    for grant in view.of_type(SECRET_MEMBER):
        i = grant["inputs"]
        if view.ref(i.get("secretId")) is secret and i.get("role") in facts.SECRET_ACCESSOR_ROLES and i.get("member") == member:
            return True
    return any(
        g["inputs"].get("role") in facts.SECRET_ACCESSOR_ROLES and g["inputs"].get("member") == member and not g["inputs"].get("condition")
        for g in view.of_type(PROJECT_MEMBER)
    )


@rule(SECRETS)
def secrets(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "gcp":
        return
    for run in view.of_type(RUN):
        account = run["inputs"]["template"].get("serviceAccount")
        if not account:
            yield violation(
                view, run["name"], SECRETS, "the gateway runs as the default compute account, which holds no accessor role on its secrets"
            )
            continue
        member = f"serviceAccount:{account}"
        for name in sorted(_mounted_secrets(run)):
            secret = _secret_named(view, name)
            if secret is None:
                yield violation(view, run["name"], SECRETS, f"mounts secret {name}, which the plan does not create")
                continue
            if not _can_access(view, secret, member):
                yield violation(
                    view, secret["name"], SECRETS, f"{member} holds no accessor role on secret {name}: the revision fails to start"
                )
            for key in _secret_keys(secret):
                if not _key_grants(view, key, facts.SECRET_MANAGER_SERVICE_AGENT_DOMAIN):
                    yield violation(
                        view,
                        secret["name"],
                        SECRETS,
                        f"secret {name} is encrypted with {key}, but Secret Manager's service agent may not use that key",
                    )


# ---- weights -------------------------------------------------------------------------------------------------
def store_prefix(view: PlanView, served: str) -> str | None:
    source = str(object_at(object_at(view.settings, "models"), served).get("source") or "")
    return source[len(STORE) :].strip("/") if source.startswith(STORE) else None


def _reads(view: PlanView, bucket: dict[str, Any], email: str, prefix: str) -> bool:
    name = bucket["inputs"].get("name")
    for grant in view.of_type(BUCKET_MEMBER):
        i = grant["inputs"]
        if i.get("bucket") not in (name, bucket.get("id")) or i.get("member") != f"serviceAccount:{email}":
            continue
        if i.get("role") not in facts.OBJECT_READER_ROLES:
            continue
        condition = object_at(i, "condition").get("expression")
        if condition is None or f"/objects/{prefix}/" in condition:
            return True
    return False


def _readers(view: PlanView) -> Iterator[tuple[str, str, str, str | None]]:
    """(where, served model, Google service account email, Kubernetes service account `ns/name` or None) of
    each reader of the weights."""
    for tpl in view.of_type(TEMPLATE):
        served = object_at(tpl["inputs"], "labels").get("pulumi-llm_model")
        email = object_at(tpl["inputs"], "serviceAccount").get("email", "")
        if served:
            yield tpl["name"], served, email, None
    accounts = {
        (o["metadata"].get("namespace"), o["metadata"]["name"]): object_at(o["metadata"], "annotations").get(GSA_ANNOTATION, "")
        for o in view.objects("ServiceAccount")
    }
    for deploy in view.objects("Deployment", "StatefulSet", "Job"):
        labels = object_at(deploy["spec"]["template"]["metadata"], "labels")
        served = labels.get("app.kubernetes.io/name")
        if labels.get("app.kubernetes.io/component") != "model-server" or not served:
            continue
        ns = deploy["metadata"].get("namespace", "default")
        ksa = deploy["spec"]["template"]["spec"].get("serviceAccountName", "default")
        yield f"{deploy['kind']} {ns}/{deploy['metadata']['name']}", served, accounts.get((ns, ksa), ""), f"{ns}/{ksa}"


def _workload_pool(view: PlanView) -> str | None:
    clusters = view.of_type(CLUSTER)
    return (object_at(clusters[0]["inputs"], "workloadIdentityConfig").get("workloadPool")) if clusters else None


def _lets_in(view: PlanView, email: str, ksa: str) -> bool:
    pool = _workload_pool(view)
    wanted = f"serviceAccount:{pool}[{ksa}]"
    return any(
        g["inputs"].get("role") == facts.WORKLOAD_IDENTITY_USER
        and g["inputs"].get("member") == wanted
        and str(g["inputs"].get("serviceAccountId", "")).endswith(f"/serviceAccounts/{email}")
        for g in view.of_type(SA_MEMBER)
    )


@rule(WEIGHTS)
def weights(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "gcp":
        return
    buckets = view.of_type(BUCKET)
    if not buckets:
        return
    bucket = buckets[0]
    key = object_at(bucket["inputs"], "encryption").get("defaultKmsKeyName")
    if key and not _key_grants(view, key, facts.STORAGE_SERVICE_AGENT_DOMAIN):
        yield violation(
            view,
            bucket["name"],
            WEIGHTS,
            f"the bucket's default key {key} is not usable by Cloud Storage's service agent: every read and write fails",
        )
    for where, served, email, ksa in _readers(view):
        prefix = store_prefix(view, served)
        if prefix is None:
            continue
        if not email:
            yield violation(view, where, WEIGHTS, f"reads gs://{bucket['inputs'].get('name')}/{prefix} with no Google service account")
            continue
        if not _reads(view, bucket, email, prefix):
            yield violation(view, where, WEIGHTS, f"{email} holds no object-reader role on gs://{bucket['inputs'].get('name')}/{prefix}")
        if ksa and not _lets_in(view, email, ksa):
            yield violation(
                view, where, WEIGHTS, f"{email} does not let Kubernetes service account {ksa} in (roles/iam.workloadIdentityUser)"
            )


# ---- one grant, one resource ---------------------------------------------------------------------------------


def is_iam_member(type_: str) -> bool:
    """Every google provider resource that adds one member to one role's binding: `<resource>IamMember` /
    `IAMMember` (cryptoKeyIAMMember, secretIamMember, projects/iAMMember, bucketIAMMember, ...)."""
    return type_.startswith("gcp:") and type_.rsplit(":", 1)[-1].lower().endswith("iammember")


def grant_key(view: PlanView, grant: dict[str, Any]) -> str:
    """What one IAM member resource stands for: its type and every input (the granted-on resource's id fields, the
    role, the member, the condition), references resolved to the resource they name."""
    inputs = {k: (ref["urn"] if isinstance(v, str) and (ref := view.ref(v)) is not None else v) for k, v in grant["inputs"].items()}
    return json.dumps([grant["type"], inputs], sort_keys=True, default=str)


@rule(ONE_GRANT)
def one_grant(view: PlanView) -> Iterator[Violation]:
    if view.cloud != "gcp":
        return
    first: dict[str, str] = {}
    for grant in view.resources:
        if not is_iam_member(grant["type"]):
            continue
        key = grant_key(view, grant)
        if key in first:
            i = grant["inputs"]
            yield violation(
                view,
                grant["name"],
                ONE_GRANT,
                f"grants {i.get('role')} to {i.get('member')} as {first[key]} does: destroying either removes the binding "
                "for both; make the grant once and share it",
            )
        else:
            first[key] = grant["name"]
