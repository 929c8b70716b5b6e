"""Pure renderers: a ContainerSpec and placement facts → Kubernetes object bodies (camelCase dicts).

The ModelServer component passes these straight to pulumi_kubernetes, so what the tests read here is
exactly what the cluster receives. Secure defaults throughout (cdk8s-plus style): non-root, no
privilege escalation, all capabilities dropped, RuntimeDefault seccomp, read-only root where the
runtime allows, no service-account token, no service links.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..as_given import as_given
from ..runtimes.spec import ContainerSpec, HttpCheck, Probe
from .resilience import INGRESS_STREAM_SECONDS, PRESTOP_SLEEP_SECONDS, REPLACE, Drain, Rollout, ZoneSpread, decide_drain

GPU_TAINT_KEY = "nvidia.com/gpu"
RAY_PORT = 6379
ZONE_KEY = "topology.kubernetes.io/zone"
# Labels the LeaderWorkerSet controller and webhook put on every pod of a group (kubernetes-sigs/lws tag v0.10.0 =
# pins.LWS_CHART, api/leaderworkerset/v1/leaderworkerset_types.go): the worker index (0 on the leader) and the
# group's unique key, shared by the leader and its workers (pkg/controllers/pod_controller.go copies the leader's
# onto the worker StatefulSet's template).
LWS_WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
LWS_GROUP_KEY = "leaderworkerset.sigs.k8s.io/group-key"
DEFAULT_DRAIN = decide_drain(INGRESS_STREAM_SECONDS)
"""A server behind the cluster's own ingress only: streams run up to the ingress's 3600 s."""


@as_given
@dataclass(frozen=True)
class Placement:
    """Where model-server pods may run."""

    node_selector: Mapping[str, str] = field(default_factory=dict[str, str])
    tolerations: Sequence[Mapping[str, Any]] = ({"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},)
    gpus_per_node: int | None = None
    """GPUs of one node; a server needing more runs as a LeaderWorkerSet group across nodes."""
    zone_spread: ZoneSpread = "ScheduleAnyway"
    """Zone spread of one model's replicas: `DoNotSchedule` where the GPU nodes span zones (resilience.decide_zone_spread)."""
    pod_annotations: Mapping[str, str] = field(default_factory=dict[str, str])
    """Annotations every server pod carries (EKS: `karpenter.sh/do-not-disrupt`)."""
    preferred_nodes: Sequence[Mapping[str, Any]] = ()
    """`preferredDuringSchedulingIgnoredDuringExecution` terms: on-demand nodes before spot ones where both run."""


def selector_labels(served_name: str) -> dict[str, str]:
    """The labels that select one model's pods (stable: changing them forces a Deployment replace)."""
    return {
        "app.kubernetes.io/name": served_name,
        "app.kubernetes.io/component": "model-server",
    }


def load_balancer_ingress(status: Any) -> list[Mapping[str, Any]]:
    """The `status.loadBalancer.ingress` entries of a Service or Ingress ([] until the controller sets them);
    the provider's Outputs spell the keys in snake case, a manifest in camel case."""
    fields: Mapping[str, Any] = status or {}
    balancer: Mapping[str, Any] = fields.get("load_balancer") or fields.get("loadBalancer") or {}
    return list(balancer.get("ingress") or [])


def _probe(probe: Probe) -> dict[str, Any]:
    body: dict[str, Any] = {
        "periodSeconds": probe.period_seconds,
        "failureThreshold": probe.failure_threshold,
        "timeoutSeconds": probe.timeout_seconds,
        "successThreshold": probe.success_threshold,
    }
    if probe.initial_delay_seconds:
        body["initialDelaySeconds"] = probe.initial_delay_seconds
    if isinstance(probe.check, HttpCheck):
        body["httpGet"] = {"path": probe.check.path, "port": probe.check.port}
    else:
        body["exec"] = {"command": list(probe.check.command)}
    return body


def _env(spec: ContainerSpec) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for var in spec.env:
        if var.secret_name:
            out.append({"name": var.name, "valueFrom": {"secretKeyRef": {"name": var.secret_name, "key": var.secret_key}}})
        else:
            out.append({"name": var.name, "value": var.value})
    return out


def container(
    spec: ContainerSpec,
    *,
    name: str = "server",
    args: Sequence[str] | None = None,
    command: Sequence[str] | None = None,
    extra_ports: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    res = spec.resources
    limits: dict[str, str] = {"memory": res.memory_limit}
    requests: dict[str, str] = {"cpu": res.cpu_request, "memory": res.memory_request}
    if res.gpus:
        limits[res.gpu_resource] = str(res.gpus)
        requests[res.gpu_resource] = str(res.gpus)
    return {
        "name": name,
        "image": spec.image,
        # Pinned by digest: the node's copy is the right one; never re-pull a multi-GB image.
        "imagePullPolicy": "IfNotPresent",
        "command": list(command if command is not None else spec.command),
        "args": list(args if args is not None else spec.args),
        "env": _env(spec),
        "ports": [{"name": p.name, "containerPort": p.container_port, "protocol": p.protocol} for p in spec.ports]
        + [dict(p) for p in extra_ports],
        "startupProbe": _probe(spec.startup),
        "readinessProbe": _probe(spec.readiness),
        "livenessProbe": _probe(spec.liveness),
        "resources": {"requests": requests, "limits": limits},
        "volumeMounts": [{"name": m.name, "mountPath": m.path, **({"readOnly": True} if m.read_only else {})} for m in spec.mounts],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": spec.read_only_root,
            "runAsNonRoot": True,
        },
        # Endpoints drop the pod before SIGTERM, so no new request arrives while the server drains (resilience.py).
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def volumes(spec: ContainerSpec, model_claim: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for mount in spec.mounts:
        if mount.kind == "scratch":
            out.append({"name": mount.name, "emptyDir": {"sizeLimit": mount.size_limit} if mount.size_limit else {}})
        elif mount.kind == "shm":
            out.append({"name": mount.name, "emptyDir": {"medium": "Memory", "sizeLimit": mount.size_limit}})
        elif mount.kind == "config":
            out.append(
                {
                    "name": mount.name,
                    "configMap": {
                        "name": config_map_name(spec.served_name, mount.name),
                        "items": [{"key": config_key(path), "path": path} for path, _ in mount.files],
                    },
                }
            )
        elif mount.kind == "model":
            if model_claim is None:
                raise ValueError(f"{spec.served_name}: the container mounts weights but no claim was given")
            out.append({"name": mount.name, "persistentVolumeClaim": {"claimName": model_claim, "readOnly": True}})
    return out


def config_map_name(served_name: str, mount_name: str) -> str:
    return f"{served_name}-{mount_name}"


def config_key(path: str) -> str:
    """ConfigMap keys can't hold '/': `llama/1/model.json` → `llama__1__model.json`."""
    return path.replace("/", "__")


def config_maps(spec: ContainerSpec) -> dict[str, dict[str, str]]:
    """{ConfigMap name: data} for the container's config mounts."""
    return {
        config_map_name(spec.served_name, m.name): {config_key(path): text for path, text in m.files}
        for m in spec.mounts
        if m.kind == "config"
    }


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_spec(
    spec: ContainerSpec,
    placement: Placement,
    service_account: str,
    model_claim: str | None,
    containers: Sequence[Mapping[str, Any]] | None = None,
    drain: Drain = DEFAULT_DRAIN,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,  # the server never talks to the Kubernetes API
        "enableServiceLinks": False,
        "securityContext": pod_security(),
        # preStop + the longest stream + teardown: SIGKILL never cuts a stream the stack allows (resilience.py).
        "terminationGracePeriodSeconds": drain.grace_seconds,
        "containers": [dict(c) for c in containers] if containers is not None else [container(spec)],
        "volumes": volumes(spec, model_claim),
        "tolerations": [dict(t) for t in placement.tolerations],
    }
    if placement.node_selector:
        body["nodeSelector"] = dict(placement.node_selector)
    if placement.preferred_nodes:
        body["affinity"] = {
            "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [dict(t) for t in placement.preferred_nodes]}
        }
    return body


def topology_spread(
    served_name: str, zone_spread: ZoneSpread = "ScheduleAnyway", *, only: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Spread replicas over nodes when there is room (a node with spare GPUs may hold two), and over zones as
    `zone_spread` says: a requirement where the GPU nodes span zones (resilience.decide_zone_spread). `only`: extra
    labels the counted pods carry (a LeaderWorkerSet counts its group leaders, one per replica)."""
    labels = {**selector_labels(served_name), **(only or {})}
    return [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": when, "labelSelector": {"matchLabels": labels}}
        for key, when in (("kubernetes.io/hostname", "ScheduleAnyway"), (ZONE_KEY, zone_spread))
    ]


def group_in_one_zone(served_name: str, zone_spread: ZoneSpread) -> dict[str, Any]:
    """Pod affinity that keeps a LeaderWorkerSet group's pods in one zone, so the zone spread of its leaders is the
    spread of whole replicas (and Ray/NCCL traffic stays in the zone). `matchLabelKeys` adds the pod's own group key
    to the selector (MatchLabelKeysInPodAffinity: beta and on by default in Kubernetes 1.31, GA in 1.33,
    kubernetes/kubernetes pkg/features/kube_features.go); the first pod of a group matches itself, so it may land in
    any zone and the others follow. A requirement where the zone spread is (resilience.decide_zone_spread), else a
    preference: nodes without a zone label would fail a required term."""
    term = {"labelSelector": {"matchLabels": selector_labels(served_name)}, "matchLabelKeys": [LWS_GROUP_KEY], "topologyKey": ZONE_KEY}
    if zone_spread == "DoNotSchedule":
        return {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    return {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}


def template_metadata(labels: Mapping[str, str], annotations: Mapping[str, str], placement: Placement) -> dict[str, Any]:
    return {"labels": dict(labels), "annotations": {**placement.pod_annotations, **annotations}}


def deployment_spec(
    spec: ContainerSpec,
    *,
    replicas: int,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    placement: Placement,
    service_account: str,
    model_claim: str | None,
    rollout: Rollout = REPLACE,
    drain: Drain = DEFAULT_DRAIN,
) -> dict[str, Any]:
    pod = pod_spec(spec, placement, service_account, model_claim, drain=drain)
    pod["topologySpreadConstraints"] = topology_spread(spec.served_name, placement.zone_spread)
    return {
        "replicas": replicas,
        "selector": {"matchLabels": selector_labels(spec.served_name)},
        # Surge where the cluster's GPU cap has room for one more replica, else replace one at a time (resilience.decide_rollout).
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": rollout.max_surge, "maxUnavailable": rollout.max_unavailable}},
        "revisionHistoryLimit": 3,
        "progressDeadlineSeconds": spec.startup.budget_seconds + 300,
        "template": {"metadata": template_metadata(labels, annotations, placement), "spec": pod},
    }


def group_size(gpus: int, gpus_per_node: int | None) -> int:
    """Nodes one server spans: 1 unless it needs more GPUs than a node has."""
    if not gpus_per_node or gpus <= gpus_per_node:
        return 1
    return math.ceil(gpus / gpus_per_node)


def service_spec(spec: ContainerSpec) -> dict[str, Any]:
    return {
        "type": "ClusterIP",
        "selector": selector_labels(spec.served_name),
        "ports": [{"name": p.name, "port": p.container_port, "targetPort": p.name, "protocol": p.protocol} for p in spec.ports],
    }


def pdb_spec(served_name: str) -> dict[str, Any]:
    # maxUnavailable, not minAvailable: with one replica a minAvailable of 1 would block every drain.
    return {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(served_name)}}


def network_policy_spec(
    spec: ContainerSpec,
    *,
    clients: Sequence[Mapping[str, Any]],
    scrapers: Sequence[Mapping[str, Any]],
    object_store_egress: bool,
    multinode: bool,
    credential_egress: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Only clients reach the API and only scrapers reach metrics; egress to DNS (and the object
    store when weights stream from it, and the node's credential endpoint when the pods have a cloud
    identity). The namespace's default-deny policy covers the rest."""
    api = spec.port(spec.http_port)
    metrics = spec.port(spec.metrics_port)
    ingress: list[dict[str, Any]] = []
    # An empty `from` admits every source: with no clients the API port gets no rule at all.
    if clients:
        ingress.append({"from": [dict(peer) for peer in clients], "ports": [{"port": api.container_port, "protocol": "TCP"}]})
    if scrapers:
        ingress.append({"from": [dict(peer) for peer in scrapers], "ports": [{"port": metrics.container_port, "protocol": "TCP"}]})
    same_server = {"podSelector": {"matchLabels": selector_labels(spec.served_name)}}
    egress: list[dict[str, Any]] = [
        {
            "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        }
    ]
    if object_store_egress:
        egress.append({"ports": [{"port": 443, "protocol": "TCP"}]})
    egress += [dict(rule) for rule in credential_egress]
    if multinode:
        # Ray and NCCL between the leader and workers of one group use many ports.
        ingress.append({"from": [same_server]})
        egress.append({"to": [same_server]})
    return {
        "podSelector": {"matchLabels": selector_labels(spec.served_name)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ingress,
        "egress": egress,
    }


def default_deny_spec() -> dict[str, Any]:
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def leader_worker_set_spec(
    spec: ContainerSpec,
    *,
    replicas: int,
    size: int,
    gpus_per_node: int,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    placement: Placement,
    service_account: str,
    model_claim: str | None,
    rollout: Rollout = REPLACE,
    drain: Drain = DEFAULT_DRAIN,
) -> dict[str, Any]:
    """A LeaderWorkerSet for a server spread over `size` nodes: tensor parallel within a node,
    pipeline parallel across nodes, Ray as vLLM's distributed executor."""
    from ..runtimes.vllm import flag_name

    per_node_args = [a for a in spec.args if flag_name(a) not in ("--tensor-parallel-size", "--pipeline-parallel-size")] + [
        f"--tensor-parallel-size={gpus_per_node}",
        f"--pipeline-parallel-size={size}",
        "--distributed-executor-backend=ray",
    ]
    serve = " ".join(["exec", *spec.command, *(_quote(a) for a in per_node_args)])
    leader_cmd = ["/bin/sh", "-c", f"ray start --head --port={RAY_PORT} && {serve}"]
    worker_cmd = ["/bin/sh", "-c", f"exec ray start --address=$(LWS_LEADER_ADDRESS):{RAY_PORT} --block"]
    per_node = _with_gpus(spec, gpus_per_node)
    leader = container(
        per_node,
        command=leader_cmd[:1] + leader_cmd[1:2],
        args=leader_cmd[2:],
        extra_ports=[{"name": "ray", "containerPort": RAY_PORT, "protocol": "TCP"}],
    )
    worker = container(per_node, command=worker_cmd[:2], args=worker_cmd[2:])
    for probe in ("startupProbe", "readinessProbe"):
        worker.pop(probe)  # workers serve nothing; the leader's readiness speaks for the group
    worker["livenessProbe"] = {
        "exec": {"command": ["ray", "health-check"]},
        "periodSeconds": 30,
        "failureThreshold": 3,
        "timeoutSeconds": 10,
        "successThreshold": 1,
    }
    template_meta = template_metadata(labels, annotations, placement)
    surge = {"maxSurge": rollout.max_surge, "maxUnavailable": rollout.max_unavailable}
    leader_pod = pod_spec(per_node, placement, service_account, model_claim, [leader], drain=drain)
    worker_pod = pod_spec(per_node, placement, service_account, model_claim, [worker], drain=drain)
    # Replicas (groups, counted by their leaders) spread over zones as a Deployment's pods do; each group in one zone.
    leader_pod["topologySpreadConstraints"] = topology_spread(spec.served_name, placement.zone_spread, only={LWS_WORKER_INDEX: "0"})
    for pod in (leader_pod, worker_pod):
        pod.setdefault("affinity", {})["podAffinity"] = group_in_one_zone(spec.served_name, placement.zone_spread)
    # Draining: the leader runs vLLM (its args carry the drain flag) with the Deployment's preStop and grace. The
    # workers go only after it: the worker StatefulSet is owned by the leader pod (lws v0.10.0
    # pkg/controllers/pod_controller.go, setControllerReferenceWithStatefulSet), so a rolling update or scale-down
    # that deletes the leader leaves them running until the leader pod is gone, its streams drained.
    return {
        "replicas": replicas,
        "startupPolicy": "LeaderCreated",
        "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdateConfiguration": surge},
        "leaderWorkerTemplate": {
            "size": size,
            "restartPolicy": "RecreateGroupOnPodRestart",
            "leaderTemplate": {"metadata": template_meta, "spec": leader_pod},
            "workerTemplate": {"metadata": template_meta, "spec": worker_pod},
        },
    }


def _with_gpus(spec: ContainerSpec, gpus: int) -> ContainerSpec:
    from dataclasses import replace

    return replace(spec, resources=replace(spec.resources, gpus=gpus))


def _quote(token: str) -> str:
    import shlex

    return shlex.quote(token)
