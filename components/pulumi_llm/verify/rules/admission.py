"""Kubernetes admission: would the API server and Pod Security admission accept every pod the plan creates?

Pods come from two places: the workload objects in the plan's manifests, and the Helm releases, whose pods
are modelled from facts.charts (the chart's workloads and security defaults at the pinned version, with the
release's values merged over them the way Helm merges). Each pod must pass the Pod Security level its
namespace enforces (facts.pod_security) and the securityContext validation the JSON schema cannot express.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, cast

from ..facts import charts as chart_facts
from ..facts import pod_security as pss
from ..plain import array_at, dig, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

Pod = Mapping[str, Any]
"""A PodSpec as plain data (what a manifest carries under spec.template.spec)."""

_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
_LWS_TEMPLATES = (("leaderTemplate", "spec"), ("workerTemplate", "spec"))


# ---- where pods come from ---------------------------------------------------------------------


def values_at(values: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted values path ("controller.hostPort.enabled"); None where absent."""
    return dig(values, dotted.split("."))


def manifest_pods(obj: Mapping[str, Any]) -> list[tuple[str, Pod]]:
    """(label, PodSpec) of every pod template a workload object carries."""
    kind = obj.get("kind")
    if kind == "LeaderWorkerSet":
        lws: Any = dig(obj, ("spec", "leaderWorkerTemplate")) or {}
        found: list[tuple[str, Any]] = [(path[0], dig(lws, path)) for path in _LWS_TEMPLATES]
        return [(label, cast(Pod, spec)) for label, spec in found if isinstance(spec, Mapping)]
    path = _TEMPLATE_PATHS.get(str(kind))
    spec: Any = dig(obj, path) if path else None
    return [("pod", cast(Pod, spec))] if isinstance(spec, Mapping) else []


def helm_merge(defaults: Any, overrides: Any) -> Any:
    """Helm's values coalescing: maps merge key by key, a null override deletes the key, anything else
    (lists included) replaces."""
    if not isinstance(defaults, Mapping) or not isinstance(overrides, Mapping):
        return copy.deepcopy(overrides)
    # Values are YAML maps: string keys, untyped values.
    merged = copy.deepcopy(dict(cast("Mapping[str, Any]", defaults)))
    for key, value in cast("Mapping[str, Any]", overrides).items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _switch(values: Mapping[str, Any], setting: str | bool) -> bool:
    return bool(values_at(values, setting)) if isinstance(setting, str) else setting


def _enabled(values: Mapping[str, Any], workload: chart_facts.Workload) -> bool:
    for condition in workload.enabled:
        want = not condition.startswith("!")
        if bool(values_at(values, condition.lstrip("!"))) != want:
            return False
    return True


def _container(values: Mapping[str, Any], container: chart_facts.Container) -> dict[str, Any]:
    from_values = values_at(values, container.security_context) if container.security_context else None
    if container.fallback:
        context = from_values if from_values else container.template
    else:
        context = helm_merge(container.template, from_values or {})
    return {"name": container.name, "securityContext": copy.deepcopy(dict(context or {}))}


def chart_pods(facts: chart_facts.ChartFacts, release_values: Mapping[str, Any]) -> list[tuple[str, Pod]]:
    """The pods a release of `facts`' chart renders with `release_values`, as PodSpecs holding the fields
    admission reads."""
    values = helm_merge(facts.defaults, release_values or {})
    pods: list[tuple[str, Pod]] = []
    for workload in facts.workloads:
        if not _enabled(values, workload):
            continue
        containers = [_container(values, c) for c in workload.containers]
        if workload.host_ports and values_at(values, workload.host_ports):
            for c in containers:  # admission asks only whether a host port is set, not which
                c["ports"] = [{"hostPort": True}]
        volumes: list[dict[str, Any]] = [{"name": f"host-{i}", "hostPath": {"path": p}} for i, p in enumerate(workload.host_paths)]
        extra: list[Any] = (values_at(values, workload.extra_host_volumes) if workload.extra_host_volumes else None) or []
        extra_volumes = [cast("Mapping[str, Any]", v) for v in extra if isinstance(v, Mapping)]
        volumes += [{"name": v.get("name"), "hostPath": {"path": v.get("hostPath")}} for v in extra_volumes]
        pod_context = values_at(values, workload.pod_security_context) if workload.pod_security_context else None
        pods.append(
            (
                f"{workload.kind} {workload.name}",
                {
                    "securityContext": copy.deepcopy(dict(pod_context or {})),
                    "hostNetwork": _switch(values, workload.host_network),
                    "hostPID": _switch(values, workload.host_pid),
                    "containers": containers,
                    "volumes": volumes,
                },
            )
        )
    return pods


def chart_name(release: Mapping[str, Any]) -> str:
    """The chart's name from a release's `chart` input: "keda", or "oci://registry/path/karpenter"."""
    return str(release["inputs"].get("chart") or "").rstrip("/").rsplit("/", 1)[-1]


def release_facts(release: Mapping[str, Any]) -> chart_facts.ChartFacts | None:
    return chart_facts.CHARTS.get((chart_name(release), str(release["inputs"].get("version") or "")))


def pods(view: PlanView) -> Iterator[tuple[str, str | None, str, Pod]]:
    """(resource, namespace, which pod, PodSpec) for every pod the plan creates, directly or through Helm."""
    for obj in view.manifests:
        meta = object_at(obj, "metadata")
        for label, spec in manifest_pods(obj):
            yield f"{obj['kind']} {meta.get('namespace')}/{meta.get('name')}", meta.get("namespace"), label, spec
    for release in view.helm_releases():
        facts = release_facts(release)
        if facts is None:
            continue
        namespace = release["inputs"].get("namespace")
        for label, spec in chart_pods(facts, release["inputs"].get("values") or {}):
            yield release["name"], namespace if isinstance(namespace, str) else None, label, spec


def namespace_levels(view: PlanView) -> dict[str, str]:
    """The Pod Security level each Namespace in the plan enforces (its label, or the cluster default)."""
    levels: dict[str, str] = {}
    for ns in view.objects("Namespace"):
        meta = object_at(ns, "metadata")
        levels[str(meta.get("name"))] = str(object_at(meta, "labels").get(pss.LEVEL_LABEL) or pss.DEFAULT_LEVEL)
    return levels


# ---- the checks -------------------------------------------------------------------------------


def containers(spec: Pod) -> list[dict[str, Any]]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers") for c in array_at(spec, key)]


def _context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return container.get("securityContext") or {}


def _caps(container: Mapping[str, Any], which: str) -> list[str]:
    return [str(c) for c in array_at(object_at(_context(container), "capabilities"), which)]


def _volume_type(volume: Mapping[str, Any]) -> str:
    return next((key for key in volume if key != "name"), "")


_UNCONFINED_PROFILES = ("seccompProfile", "appArmorProfile")
"""Baseline refuses either set to Unconfined (policy/check_seccompProfile_baseline.go, check_appArmorProfile.go)."""


def baseline_problems(spec: Pod) -> list[str]:
    found = [f"host{ns}: true" for ns in ("Network", "PID", "IPC") if spec.get(f"host{ns}")]
    for c in containers(spec):
        name, context = c.get("name"), _context(c)
        if context.get("privileged"):
            found.append(f"container {name} is privileged")
        extra = sorted(set(_caps(c, "add")) - pss.BASELINE_CAPABILITIES)
        if extra:
            found.append(f"container {name} adds capabilities {', '.join(extra)}")
        if any(p and p.get("hostPort") for p in array_at(c, "ports")):
            found.append(f"container {name} uses host ports")
        found += [
            f"container {name} sets {profile} Unconfined"
            for profile in _UNCONFINED_PROFILES
            if object_at(context, profile).get("type") == "Unconfined"
        ]
        if context.get("procMount") not in (None, "Default"):
            found.append(f"container {name} sets procMount {context['procMount']}")
    found += [
        f"pod sets {profile} Unconfined"
        for profile in _UNCONFINED_PROFILES
        if object_at(object_at(spec, "securityContext"), profile).get("type") == "Unconfined"
    ]
    found += [f"hostPath volume {v.get('name')}" for v in array_at(spec, "volumes") if "hostPath" in v]
    return found


def restricted_problems(spec: Pod) -> list[str]:
    """The checks restricted adds to baseline."""
    found: list[str] = []
    pod_context = object_at(spec, "securityContext")
    pod_non_root = pod_context.get("runAsNonRoot") is True
    pod_seccomp = object_at(pod_context, "seccompProfile").get("type") in pss.RESTRICTED_SECCOMP_TYPES
    if pod_context.get("runAsUser") == 0:
        found.append("pod runs as user 0")
    for c in containers(spec):
        name, context = c.get("name"), _context(c)
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name} does not set allowPrivilegeEscalation: false")
        if "ALL" not in _caps(c, "drop"):
            found.append(f"container {name} does not drop ALL capabilities")
        extra = sorted(set(_caps(c, "add")) - pss.RESTRICTED_CAPABILITIES)
        if extra:
            found.append(f"container {name} adds capabilities {', '.join(extra)}")
        non_root = context.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            found.append(f"container {name} may run as root (runAsNonRoot not true)")
        if context.get("runAsUser") == 0:
            found.append(f"container {name} runs as user 0")
        seccomp = object_at(context, "seccompProfile").get("type")
        if (seccomp is None and not pod_seccomp) or (seccomp is not None and seccomp not in pss.RESTRICTED_SECCOMP_TYPES):
            found.append(f"container {name} has no seccompProfile RuntimeDefault or Localhost (nor has the pod)")
    for v in array_at(spec, "volumes"):
        if _volume_type(v) not in pss.RESTRICTED_VOLUME_TYPES and "hostPath" not in v:
            found.append(f"volume {v.get('name')} is of type {_volume_type(v)}")
    return found


def pod_security_problems(spec: Pod, level: str) -> list[str]:
    """Why PodSecurity admission at `level` refuses the pod (empty when it admits it)."""
    if level not in pss.LEVELS:
        return [f"unknown Pod Security level {level!r}: admission refuses the namespace label"]
    found = baseline_problems(spec) if level in ("baseline", "restricted") else []
    return found + (restricted_problems(spec) if level == "restricted" else [])


def validation_problems(spec: Pod) -> list[str]:
    """securityContext combinations ValidateSecurityContext refuses (facts.pod_security)."""
    found: list[str] = []
    for c in containers(spec):
        name, context = c.get("name"), _context(c)
        if context.get("allowPrivilegeEscalation") is not False:
            continue
        if context.get("privileged"):
            found.append(f"container {name} sets privileged: true with allowPrivilegeEscalation: false")
        if pss.SYS_ADMIN_WITHOUT_ESCALATION in _caps(c, "add"):
            found.append(f"container {name} adds {pss.SYS_ADMIN_WITHOUT_ESCALATION} with allowPrivilegeEscalation: false")
    return found + [
        f"container {c.get('name')} sets procMount {pss.UNMASKED_PROC_MOUNT} without hostUsers: false"
        for c in containers(spec)
        if _context(c).get("procMount") == pss.UNMASKED_PROC_MOUNT and spec.get("hostUsers") is not False
    ]


# ---- rules -------------------------------------------------------------------------------------


@rule("admission.pod_security")
def pod_security(view: PlanView) -> Iterator[Violation]:
    """Every pod passes the Pod Security level its namespace enforces; a namespace the plan doesn't
    create enforces the cluster default (privileged)."""
    levels = namespace_levels(view)
    for resource, namespace, label, spec in pods(view):
        level = levels.get(namespace or "", pss.DEFAULT_LEVEL)
        problems = pod_security_problems(spec, level)
        if problems:
            yield violation(
                view,
                resource,
                "admission.pod_security",
                f"{label} in namespace {namespace} (Pod Security {level}) is refused: {'; '.join(problems)}",
            )


@rule("admission.security_context")
def security_context(view: PlanView) -> Iterator[Violation]:
    """No pod carries a securityContext the API server rejects whatever the namespace (an atomic Helm
    release then rolls back and the update fails)."""
    for resource, _namespace, label, spec in pods(view):
        problems = validation_problems(spec)
        if problems:
            yield violation(view, resource, "admission.security_context", f"{label} is invalid: {'; '.join(problems)}")


@rule("admission.chart_known")
def chart_known(view: PlanView) -> Iterator[Violation]:
    """Every Helm release installs a chart version whose pods facts.charts describes; otherwise nothing
    above can tell whether its pods are admitted."""
    for release in view.helm_releases():
        if release_facts(release) is None:
            name, version = chart_name(release), release["inputs"].get("version")
            yield violation(
                view,
                release["name"],
                "admission.chart_known",
                f"chart {name} {version} is not in verify/facts/charts.py: read its values at that version and add it",
            )
