"""references.*: everything an object or a Helm release needs exists before it, or is a named precondition.

The API server accepts a Deployment whose pods mount a Secret nobody creates; the pods then sit in
ContainerCreating and the rollout (or an atomic Helm release) times out. A custom kind whose CRD is not
served yet fails at once ("no matches for kind"), so the order matters as much as the existence: the
provider of a need must be created by the plan with a dependency path to its user (`PlanView.depends`),
or be one of the named preconditions — built into every cluster, served by the managed service, or the
user's on an on-prem cluster (which `pulumi-llm preflight` checks against the live cluster).

- references.object       Secrets, ConfigMaps, PVCs, ServiceAccounts, IngressClasses, StorageClasses and
                          PriorityClasses that manifests name
- references.crd          the CRD of every custom kind in the manifests
- references.crd-schema   custom objects whose pinned CRD schema the facts hold match it (strict)
- references.chart-values what a release renders given its values: custom kinds (serviceMonitor.enabled
                          → ServiceMonitor) and Secrets it mounts (grafana.admin.existingSecret)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import openapi
from ..facts import chart_needs as facts
from ..facts import inference_extension as inference_facts
from ..plain import dig
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

BUILT_IN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "networking.k8s.io",
        "storage.k8s.io",
        "rbac.authorization.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "certificates.k8s.io",
    }
)
"""API groups every Kubernetes API server serves without a CRD."""

CLUSTER_SCOPED = frozenset({"IngressClass", "StorageClass", "PriorityClass", "Namespace", "CustomResourceDefinition"})

WORKLOAD_POD_SPECS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Pod": (("spec",),),
    "Deployment": (("spec", "template", "spec"),),
    "StatefulSet": (("spec", "template", "spec"),),
    "DaemonSet": (("spec", "template", "spec"),),
    "ReplicaSet": (("spec", "template", "spec"),),
    "Job": (("spec", "template", "spec"),),
    "CronJob": (("spec", "jobTemplate", "spec", "template", "spec"),),
    "LeaderWorkerSet": (
        ("spec", "leaderWorkerTemplate", "leaderTemplate", "spec"),
        ("spec", "leaderWorkerTemplate", "workerTemplate", "spec"),
    ),
}


@dataclass(frozen=True)
class Need:
    """An object `kind` named `name` (in `namespace`; "" when cluster-scoped) that a user needs, and where."""

    kind: str
    namespace: str
    name: str
    where: str


# ---- what an object names ---------------------------------------------------------------------------------
def pod_spec_needs(spec: dict[str, Any], namespace: str) -> Iterator[Need]:
    """What a pod spec needs from its namespace and the cluster. Optional references are not needs."""

    def need(kind: str, name: Any, where: str) -> Iterator[Need]:
        if isinstance(name, str) and name:
            yield Need(kind, "" if kind in CLUSTER_SCOPED else namespace, name, where)

    volumes: list[dict[str, Any]] = spec.get("volumes") or []
    for volume in volumes:
        if (secret := volume.get("secret")) and not secret.get("optional"):
            yield from need("Secret", secret.get("secretName"), f"volume {volume.get('name')}")
        if (config := volume.get("configMap")) and not config.get("optional"):
            yield from need("ConfigMap", config.get("name"), f"volume {volume.get('name')}")
        if claim := volume.get("persistentVolumeClaim"):
            yield from need("PersistentVolumeClaim", claim.get("claimName"), f"volume {volume.get('name')}")
        if template := dig(volume, ("ephemeral", "volumeClaimTemplate", "spec")):
            yield from need("StorageClass", template.get("storageClassName"), f"volume {volume.get('name')}")
        projected: dict[str, Any] = volume.get("projected") or {}
        sources: list[dict[str, Any]] = projected.get("sources") or []
        for source in sources:
            for key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                if (ref := source.get(key)) and not ref.get("optional"):
                    yield from need(kind, ref.get("name"), f"volume {volume.get('name')}")
    init_containers: list[dict[str, Any]] = spec.get("initContainers") or []
    containers: list[dict[str, Any]] = spec.get("containers") or []
    for container in [*init_containers, *containers]:
        where = f"container {container.get('name')}"
        envs: list[dict[str, Any]] = container.get("env") or []
        for env in envs:
            source: dict[str, Any] = env.get("valueFrom") or {}
            for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if (ref := source.get(key)) and not ref.get("optional"):
                    yield from need(kind, ref.get("name"), f"{where} env {env.get('name')}")
        env_froms: list[dict[str, Any]] = container.get("envFrom") or []
        for env_from in env_froms:
            for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if (ref := env_from.get(key)) and not ref.get("optional"):
                    yield from need(kind, ref.get("name"), f"{where} envFrom")
    pulls: list[dict[str, Any]] = spec.get("imagePullSecrets") or []
    for pull in pulls:
        yield from need("Secret", pull.get("name"), "imagePullSecrets")
    yield from need("ServiceAccount", spec.get("serviceAccountName") or facts.DEFAULT_SERVICE_ACCOUNT, "serviceAccountName")
    yield from need("PriorityClass", spec.get("priorityClassName"), "priorityClassName")


def object_needs(obj: dict[str, Any]) -> Iterator[Need]:
    """Every named object `obj` needs (pods it runs included)."""
    kind: str = obj.get("kind") or ""  # a manifest without a kind needs nothing below
    metadata: dict[str, Any] = obj.get("metadata") or {}
    namespace: str = metadata.get("namespace") or "default"
    for path in WORKLOAD_POD_SPECS.get(kind, ()):
        pod_spec: dict[str, Any] | None = dig(obj, path)
        if isinstance(pod_spec, dict):
            yield from pod_spec_needs(pod_spec, namespace)
    spec: dict[str, Any] = obj.get("spec") or {}
    if kind == "Ingress":
        if name := spec.get("ingressClassName"):
            yield Need("IngressClass", "", name, "spec.ingressClassName")
        tls_entries: list[dict[str, Any]] = spec.get("tls") or []
        for tls in tls_entries:
            if name := tls.get("secretName"):
                yield Need("Secret", namespace, name, "spec.tls")
    if kind == "PersistentVolumeClaim" and (name := spec.get("storageClassName")):
        yield Need("StorageClass", "", name, "spec.storageClassName")
    if kind == "StatefulSet":
        templates: list[dict[str, Any]] = spec.get("volumeClaimTemplates") or []
        for template in templates:
            template_spec: dict[str, Any] = template.get("spec") or {}
            if name := template_spec.get("storageClassName"):
                yield Need("StorageClass", "", name, "volumeClaimTemplates")


def api_group(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion") or "")
    return api_version.rpartition("/")[0]


# ---- joining manifests and resources ----------------------------------------------------------------------------
def resource_key(resource: dict[str, Any]) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of a Kubernetes object resource, from its type token and inputs."""
    if not resource["type"].startswith("kubernetes:") or resource["type"].startswith("kubernetes:helm.sh"):
        return None
    kind: str = resource["type"].rsplit(":", 1)[-1]
    inputs: dict[str, Any] = resource.get("inputs") or {}
    metadata: dict[str, Any] = inputs.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str):
        return None
    namespace: str = "" if kind in CLUSTER_SCOPED else (metadata.get("namespace") or "default")
    return kind, namespace, name


def object_key(obj: dict[str, Any]) -> tuple[str, str, str]:
    metadata: dict[str, Any] = obj.get("metadata") or {}
    kind: str = obj.get("kind", "")
    namespace: str = "" if kind in CLUSTER_SCOPED else (metadata.get("namespace") or "default")
    return kind, namespace, metadata.get("name", "")


def _objects_by_key(view: PlanView) -> dict[tuple[str, str, str], dict[str, Any]]:
    index: dict[tuple[str, str, str], dict[str, Any]] = {}
    for resource in view.resources:
        if (key := resource_key(resource)) is not None:
            index.setdefault(key, resource)
    return index


def _inputs(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("inputs") or {}


def _chart(release: dict[str, Any]) -> str:
    return str(_inputs(release).get("chart") or "").rsplit("/", 1)[-1]


def _values(release: dict[str, Any]) -> dict[str, Any]:
    return _inputs(release).get("values") or {}


def _label(key: tuple[str, str, str]) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


# ---- named preconditions -------------------------------------------------------------------------------------------
def _pvc_claims(view: PlanView) -> set[str]:
    """Claims the stack's models are read from (`pvc://claim/path`): the user fills them."""
    claims: set[str] = set()
    for model in _models(view):
        source = str(model.get("source") or "")
        if source.startswith("pvc://"):
            claims.add(source.removeprefix("pvc://").split("/", 1)[0])
    return claims


def _models(view: PlanView) -> list[dict[str, Any]]:
    """The settings of each model of the stack ({} for a model given no settings)."""
    models: dict[str, Any] = view.settings.get("models") or {}
    return [model or {} for model in models.values()]


def _onprem(view: PlanView) -> dict[str, Any]:
    return view.settings.get("onprem") or {}


def existing_cluster(view: PlanView) -> bool:
    """Whether the stack deploys onto a cluster that exists before `pulumi up` (on-prem), where the user
    can create what the plan reads before the first run; managed clusters are created by the plan."""
    return view.cloud == "onprem"


def user_objects(view: PlanView) -> set[tuple[str, str]]:
    """(kind, name) of the objects the stack's settings say the user provides in the cluster: the claims
    models are read from, the Secrets settings name (TLS, Hugging Face token, API keys) and, on-prem, an
    IngressClass the stack does not install."""
    onprem = _onprem(view)
    provided = {("PersistentVolumeClaim", claim) for claim in _pvc_claims(view)}
    for model in _models(view):
        if secret := model.get("api_key_secret"):
            provided.add(("Secret", secret))
    if view.cloud != "onprem" or not onprem:
        return provided
    ingress: dict[str, Any] = onprem.get("ingress") or {}
    if ingress.get("tls_secret"):
        provided.add(("Secret", ingress["tls_secret"]))
    if not ingress.get("install", True) and ingress.get("class_name"):
        provided.add(("IngressClass", ingress["class_name"]))
    if any(model.get("copy_from_hub") for model in _models(view)):
        provided.add(("Secret", onprem.get("hf_token_secret") or "hf-token"))
    return provided


def user_kinds(view: PlanView) -> set[str]:
    """Custom kinds an on-prem cluster serves itself because the stack does not install their operator."""
    onprem = _onprem(view)
    if view.cloud != "onprem" or not onprem:
        return set()
    kinds: set[str] = set()
    prometheus: dict[str, Any] = onprem.get("prometheus") or {}
    keda: dict[str, Any] = onprem.get("keda") or {}
    if not prometheus.get("install", True):
        kinds |= facts.CHART_CRDS["kube-prometheus-stack"]
    if not keda.get("install", True):
        kinds |= facts.CHART_CRDS["keda"]
    return kinds


def built_in(need: Need) -> bool:
    return (
        (need.kind == "ServiceAccount" and need.name == facts.DEFAULT_SERVICE_ACCOUNT)
        or (need.kind == "PriorityClass" and need.name in facts.BUILT_IN_PRIORITY_CLASSES)
        or (need.kind == "ConfigMap" and need.name == facts.ROOT_CA_CONFIG_MAP)
    )


# ---- rules ---------------------------------------------------------------------------------------------------------
@rule("references.object")
def objects_exist_first(view: PlanView) -> Iterable[Violation]:
    """Every Secret, ConfigMap, PVC, ServiceAccount, IngressClass, StorageClass and PriorityClass an object names is created earlier by the plan with a dependency path to its user, or is a named precondition (built in, or the user's per the settings; warned where it cannot exist before the first `pulumi up`)."""
    name = "references.object"
    by_key = _objects_by_key(view)
    releases = view.helm_releases()
    users = user_objects(view)
    new_cluster = not existing_cluster(view)
    for obj in view.manifests:
        user_key = object_key(obj)
        user = by_key.get(user_key)
        if user is None:
            continue
        for need in object_needs(obj):
            key = (need.kind, need.namespace, need.name)
            what = f"{_label(user_key)} ({need.where}) needs {_label(key)}"
            if built_in(need):
                continue
            if (need.kind, need.name) in users:
                if new_cluster:
                    yield violation(
                        view,
                        user["urn"],
                        name,
                        f"{what}: the user's, in a cluster this plan creates — it cannot exist before the first "
                        "`pulumi up`, so that run waits on it until you create it",
                        severity="warning",
                    )
                elif need.namespace and ("Namespace", "", need.namespace) in by_key:
                    # pulumi-kubernetes creates (it does not adopt) a Namespace that already exists, so the user
                    # cannot make the object before the first run without failing it; a user's namespace is
                    # labelled (NamespacePatch) instead, and then the object is a plain precondition.
                    yield violation(
                        view,
                        user["urn"],
                        name,
                        f"{what}: the user's, in namespace {need.namespace}, which this plan creates (and would not adopt) "
                        "— it cannot exist before a first `pulumi up`, which waits on it; onprem.namespace_exists: false "
                        "only suits a namespace an earlier run created",
                        severity="warning",
                    )
                continue
            if (provider := by_key.get(key)) is not None:
                if not view.depends(user, provider):
                    yield violation(
                        view,
                        user["urn"],
                        name,
                        f"{what}: the plan creates it but {user['name']} does not depend on it, so it may come first",
                    )
                continue
            if need.kind == "IngressClass":
                controllers = [r for r in releases if need.name in facts.ingress_classes_created(_chart(r), _values(r))]
                if controllers:
                    if not any(view.depends(user, r) for r in controllers):
                        yield violation(
                            view, user["urn"], name, f"{what}: {controllers[0]['name']} creates it but {user['name']} does not depend on it"
                        )
                    continue
            yield violation(
                view, user["urn"], name, f"{what}: nothing in the plan creates it and it is no named precondition of a {view.cloud} stack"
            )


def crd_providers(view: PlanView, kind: str) -> list[dict[str, Any]]:
    """Releases (and CRD objects) of the plan that make `kind` served."""
    providers = [r for r in view.helm_releases() if kind in facts.CHART_CRDS.get(_chart(r), ())]
    for resource in view.of_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"):
        spec: dict[str, Any] = _inputs(resource).get("spec") or {}
        names: dict[str, Any] = spec.get("names") or {}
        if names.get("kind") == kind:
            providers.append(resource)
    return providers


def _gke_managed_prometheus(view: PlanView) -> bool:
    """Whether a GKE cluster of the plan has managed collection on (GKE then serves the GMP kinds)."""
    return any(
        dig(c["inputs"], ("monitoringConfig", "managedPrometheus", "enabled")) is True
        for c in view.of_type("gcp:container/cluster:Cluster")
    )


def _gke_gateway_api(view: PlanView) -> bool:
    """Whether a GKE cluster of the plan has the Gateway API on (GKE then serves Gateway, HTTPRoute and its policies)."""
    return any(
        dig(c["inputs"], ("gatewayApiConfig", "channel")) == inference_facts.GKE_GATEWAY_API_CHANNEL
        for c in view.of_type("gcp:container/cluster:Cluster")
    )


def _kind_served(view: PlanView, kind: str, user: dict[str, Any]) -> str | None:
    """None when `kind` is served before `user`; otherwise why not."""
    if kind in facts.PROVIDER_KINDS.get(view.cloud, ()) or kind in user_kinds(view):
        return None
    if kind in facts.GKE_MANAGED_PROMETHEUS_KINDS and _gke_managed_prometheus(view):
        return None
    if kind in inference_facts.GKE_GATEWAY_KINDS and _gke_gateway_api(view):
        return None
    providers = crd_providers(view, kind)
    if not providers:
        return f"nothing in the plan installs the CRD of {kind} ({facts.CRD_GROUPS.get(kind, 'custom kind')})"
    if any(view.depends(user, p) for p in providers):
        return None
    return f'{providers[0]["name"]} installs the CRD of {kind} but {user["name"]} does not depend on it ("no matches for kind {kind}" when it comes first)'


@rule("references.crd")
def custom_kinds_served_first(view: PlanView) -> Iterable[Violation]:
    """Every custom kind in the manifests has its CRD installed by a release (or CRD object) the object depends on, or served by the managed service or the on-prem cluster's own operator."""
    name = "references.crd"
    by_key = _objects_by_key(view)
    for obj in view.manifests:
        if api_group(obj) in BUILT_IN_GROUPS:
            continue
        user = by_key.get(object_key(obj))
        if user is None:
            continue
        if (why := _kind_served(view, obj["kind"], user)) is not None:
            yield violation(view, user["urn"], name, f"{_label(object_key(obj))}: {why}")


@rule("references.crd-schema")
def custom_objects_match_their_crd(view: PlanView) -> Iterable[Violation]:
    """Every custom object whose CRD schema the facts hold at its pinned version (InferencePool, Gateway, HTTPRoute: facts.inference_extension) matches it strictly: no field the CRD lacks (the API server would prune or refuse it), every required field, types, enums, patterns and bounds."""
    name = "references.crd-schema"
    by_key = _objects_by_key(view)
    for obj in view.manifests:
        known = inference_facts.SPEC_SCHEMAS.get((obj.get("apiVersion", ""), obj.get("kind", "")))
        user = by_key.get(object_key(obj))
        if known is None or user is None:
            continue
        schema, source = known
        problems = list(openapi.problems(obj.get("spec"), schema))
        if problems:
            yield violation(view, user["urn"], name, f"{_label(object_key(obj))}: {'; '.join(problems[:3])} (CRD: {source})")


@rule("references.chart-values")
def release_needs_exist_first(view: PlanView) -> Iterable[Violation]:
    """What a Helm release renders given its values exists first: the CRDs of custom kinds it renders (serviceMonitor.enabled → ServiceMonitor) from a release it depends on, and the Secrets its values name (grafana.admin.existingSecret) from the plan."""
    name = "references.chart-values"
    by_key = _objects_by_key(view)
    for release in view.helm_releases():
        chart, values = _chart(release), _values(release)
        namespace = str(_inputs(release).get("namespace") or "default")
        for kind in sorted(facts.custom_kinds_rendered(chart, values)):
            if (why := _kind_served(view, kind, release)) is not None:
                yield violation(view, release["urn"], name, f"chart {chart} renders a {kind} with these values: {why}")
        for secret in sorted(facts.secrets_mounted(chart, values)):
            provider = by_key.get(("Secret", namespace, secret))
            if provider is None:
                yield violation(
                    view,
                    release["urn"],
                    name,
                    f"chart {chart} mounts Secret {namespace}/{secret} (from its values) and nothing in the plan creates it: "
                    "its pods never start and the release times out",
                )
            elif not view.depends(release, provider):
                yield violation(
                    view, release["urn"], name, f"chart {chart} mounts Secret {namespace}/{secret}, which the plan creates after it"
                )
