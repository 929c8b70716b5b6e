"""What must exist before `pulumi up`, checked against the live cluster or account.

These are the named preconditions of `verify/rules/references.py`: what the plan reads but does not create.
Each check is a pure function of the stack's settings (as JSON) and a read-only client, returning Checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ..verify.facts import chart_needs

GPU = "nvidia.com/gpu"


@dataclass(frozen=True)
class Check:
    item: str
    ok: bool
    detail: str


class Kube(Protocol):
    def get(self, path: str) -> dict[str, Any] | None: ...


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object of the settings or of an API answer; {} where it is left out or null."""
    return value or {}


def _items(value: Any) -> list[Any]:
    """A JSON list of the settings or of an API answer; [] where it is left out or null."""
    return value or []


# ---- on-prem: the cluster ------------------------------------------------------------------------------------------
def model_claims(settings: dict[str, Any]) -> list[str]:
    claims: list[str] = []
    for model in _obj(settings.get("models")).values():
        source = str(_obj(model).get("source") or "")
        if source.startswith("pvc://"):
            claims.append(source.removeprefix("pvc://").split("/", 1)[0])
    return sorted(set(claims))


def user_secrets(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """(secret, why) the on-prem settings name in the model namespace."""
    onprem = _obj(settings.get("onprem"))
    models = [_obj(m) for m in _obj(settings.get("models")).values()]
    secrets: list[tuple[str, str]] = []
    if tls := _obj(onprem.get("ingress")).get("tls_secret"):
        secrets.append((tls, "onprem.ingress.tls_secret"))
    if any(m.get("copy_from_hub") for m in models):
        secrets.append((onprem.get("hf_token_secret") or "hf-token", "copy_from_hub (key token)"))
    for model in models:
        if secret := model.get("api_key_secret"):
            secrets.append((secret, "api_key_secret (key api-key)"))
    return secrets


def onprem_checks(settings: dict[str, Any], kube: Kube) -> Iterator[Check]:
    onprem = _obj(settings.get("onprem"))
    namespace = onprem.get("namespace") or "llm"
    version = _obj(kube.get("/version"))
    yield Check("API server", True, f"{version.get('gitVersion', 'reachable')}")
    yield from _crd_checks(settings, kube)
    yield _cni_check(kube)
    yield from _gpu_checks(onprem, kube)
    ingress = _obj(onprem.get("ingress"))
    if not ingress.get("install", True):
        name = ingress.get("class_name") or "nginx"
        exists = kube.get(f"/apis/networking.k8s.io/v1/ingressclasses/{name}") is not None
        yield Check(
            f"IngressClass {name}",
            exists,
            "exists" if exists else "missing: ingress.install is false, so the cluster's controller must provide it",
        )

    found = kube.get(f"/api/v1/namespaces/{namespace}")
    if onprem.get("namespace_exists"):
        # The user's namespace: the stack only labels it, so it and what lives in it come first.
        if found is None:
            yield Check(
                f"Namespace {namespace}",
                False,
                "missing: onprem.namespace_exists says it is yours; create it with the claims and Secrets first",
            )
            return
        yield Check(f"Namespace {namespace}", True, "exists (yours; the stack labels it)")
    elif found is None:
        # The stack creates the model namespace and the Kubernetes provider will not adopt an existing one:
        # what lives in it can only be made once the first `pulumi up` has created it.
        wanted = [f"PersistentVolumeClaim {c}" for c in model_claims(settings)] + [f"Secret {s}" for s, _ in user_secrets(settings)]
        yield Check(
            f"Namespace {namespace}",
            True,
            "made by the first `pulumi up`; then create in it: " + ", ".join(wanted) if wanted else "made by `pulumi up`",
        )
        return
    elif _obj(_obj(found.get("metadata")).get("labels")).get("app.kubernetes.io/managed-by") != "pulumi":
        yield Check(
            f"Namespace {namespace}",
            False,
            "exists and was not made by pulumi-llm: `pulumi up` fails creating it (AlreadyExists); "
            "set onprem.namespace_exists: true to use it, or choose another onprem.namespace",
        )
        return
    else:
        yield Check(f"Namespace {namespace}", True, "exists (made by the stack)")

    for claim in model_claims(settings):
        found = kube.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}")
        if found is None:
            yield Check(
                f"PersistentVolumeClaim {namespace}/{claim}",
                False,
                "missing: the models are read from it (pvc:// source); create and fill it first",
            )
            continue
        phase = _obj(found.get("status")).get("phase", "")
        yield Check(f"PersistentVolumeClaim {namespace}/{claim}", phase == "Bound", phase or "no phase")
        if storage_class := _obj(found.get("spec")).get("storageClassName"):
            exists = kube.get(f"/apis/storage.k8s.io/v1/storageclasses/{storage_class}") is not None
            yield Check(f"StorageClass {storage_class}", exists, "exists" if exists else f"missing: claim {claim} names it")

    for secret, why in user_secrets(settings):
        exists = kube.get(f"/api/v1/namespaces/{namespace}/secrets/{secret}") is not None
        yield Check(f"Secret {namespace}/{secret}", exists, "exists" if exists else f"missing: {why}")


def _crd_checks(settings: dict[str, Any], kube: Kube) -> Iterator[Check]:
    onprem = _obj(settings.get("onprem"))
    kinds: list[tuple[str, str]] = []
    if not _obj(onprem.get("prometheus")).get("install", True):
        kinds += [(k, "prometheus.install is false") for k in ("ServiceMonitor", "PrometheusRule")]
    keda = _obj(_obj(settings.get("serving")).get("autoscaling")).get("engine", "keda") == "keda"
    if keda and not _obj(onprem.get("keda")).get("install", True):
        kinds.append(("ScaledObject", "keda.install is false"))
    for kind, why in kinds:
        crd = f"{chart_needs.CRD_PLURALS[kind]}.{chart_needs.CRD_GROUPS[kind]}"
        exists = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}") is not None
        yield Check(f"CRD {crd}", exists, "served" if exists else f"missing: {why}, so the cluster's own operator must serve {kind}")


def _cni_check(kube: Kube) -> Check:
    """A CNI that enforces NetworkPolicy, recognised by its DaemonSet: the model namespace is default-deny
    and only the policies keep everyone but the ingress, the gateway and Prometheus off the servers."""
    daemonsets = _items(_obj(kube.get("/apis/apps/v1/daemonsets")).get("items"))
    names: set[str | None] = {_obj(_obj(d).get("metadata")).get("name") for d in daemonsets}
    found = sorted(chart_needs.POLICY_ENFORCING_CNI_DAEMONSETS[n] for n in names if n in chart_needs.POLICY_ENFORCING_CNI_DAEMONSETS)
    if found:
        return Check("NetworkPolicy enforcement", True, ", ".join(found))
    known = ", ".join(sorted(chart_needs.POLICY_ENFORCING_CNI_DAEMONSETS))
    return Check(
        "NetworkPolicy enforcement", False, f"missing: no policy-enforcing CNI DaemonSet ({known}); NetworkPolicies would be ignored"
    )


def _gpu_checks(onprem: dict[str, Any], kube: Kube) -> Iterator[Check]:
    operator = _obj(onprem.get("gpu_operator"))
    if operator.get("install", True):
        # The Operator installs the device plugin (and, with driver on, the driver): nodes advertise GPUs after it.
        return
    nodes = [_obj(n) for n in _items(_obj(kube.get("/api/v1/nodes")).get("items"))]
    gpus = sum(int(_obj(n.get("status")).get("allocatable", {}).get(GPU, 0) or 0) for n in nodes)
    yield Check(
        f"allocatable {GPU}",
        gpus > 0,
        f"{gpus} on {len(nodes)} nodes"
        if gpus
        else "missing: gpu_operator.install is false and no node advertises nvidia.com/gpu (driver and device plugin are yours)",
    )


# ---- AWS: what the settings reference in the account --------------------------------------------------------------
def aws_checks(settings: dict[str, Any], session: Any) -> Iterator[Check]:
    aws = _obj(settings.get("aws"))
    region = settings.get("region")
    methods = set(_items(settings.get("methods")))
    certificates: list[tuple[str, str]] = []
    if "gpu-vm" in methods and (arn := _obj(aws.get("gpu_vm")).get("certificate_arn")):
        certificates.append((arn, "aws.gpu_vm.certificate_arn"))
    tls = _obj(aws.get("model_tls"))
    if arn := tls.get("certificate_arn"):
        certificates.append((arn, "aws.model_tls.certificate_arn"))
    if certificates:
        acm = session.client("acm", region_name=region)
        for arn, where in dict(certificates).items():
            yield _certificate(acm, arn, where)
    if zone := tls.get("zone_id"):
        route53 = session.client("route53")
        try:
            found = route53.get_hosted_zone(Id=zone)["HostedZone"]
            private = _obj(found.get("Config")).get("PrivateZone", False)
            yield Check(f"Route 53 zone {zone}", True, f"{found['Name']} ({'private' if private else 'public'})")
        except route53.exceptions.NoSuchHostedZone:
            yield Check(f"Route 53 zone {zone}", False, "missing: aws.model_tls.zone_id")
    if "cluster" in methods:
        iam = session.client("iam")
        for arn in _items(_obj(aws.get("cluster")).get("admin_principals")):
            yield _principal(iam, arn)


def _certificate(acm: Any, arn: str, where: str) -> Check:
    try:
        status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
    except acm.exceptions.ResourceNotFoundException:
        return Check(f"ACM certificate {arn}", False, f"missing: {where}")
    return Check(f"ACM certificate {arn}", status == "ISSUED", status if status == "ISSUED" else f"{status}, not ISSUED: {where}")


def _principal(iam: Any, arn: str) -> Check:
    kind, _, name = arn.split(":", 5)[-1].partition("/")
    name = name.rsplit("/", 1)[-1]
    try:
        if kind == "role":
            iam.get_role(RoleName=name)
        elif kind == "user":
            iam.get_user(UserName=name)
        else:
            return Check(f"IAM principal {arn}", False, "not a role or user ARN: aws.cluster.admin_principals")
    except iam.exceptions.NoSuchEntityException:
        return Check(f"IAM principal {arn}", False, "missing: aws.cluster.admin_principals (EKS access entry)")
    return Check(f"IAM principal {arn}", True, "exists")
