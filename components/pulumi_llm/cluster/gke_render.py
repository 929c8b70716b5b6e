"""Pure rendering for GkeCluster: GPU machine facts, names, kubeconfig, IAM members, ComputeClass and
PodMonitoring bodies, Helm values.

Nothing here touches Pulumi or Google Cloud. Functions that build Kubernetes bodies or Helm values
accept plain values or Pulumi Outputs for the fields they merely place, so the component passes its
Outputs straight in and the tests pass strings.

GPU capacity decisions (see README.md):
- GKE installs the NVIDIA driver (`gpu_driver_installation_config.gpu_driver_version`), on COS nodes.
- GPU nodes carry the taint GKE itself puts on GPU nodes, `nvidia.com/gpu=present:NoSchedule`, set
  explicitly on the pool so it holds even in a cluster without another node pool (where GKE would not
  add it), and the label `nvidia.com/gpu.present: "true"` (the DCGM exporter's selector, as on EKS).
- On-demand first, spot after: one Custom Compute Class (`cloud.google.com/v1 ComputeClass`) lists the
  on-demand pools, then the spot pools, by priority; GKE's autoscaler tries them in that order and
  moves pods back to a higher priority when it has room (`activeMigration`), so the servers' fewest
  replicas (what the on-demand pools hold: the settings refuse less) stay off spot and the burst rides
  spot. With serving.all_spot the order is spot first. Two node pools alone would leave the choice
  to the autoscaler's expander, which Standard clusters cannot set to "priority". Model servers select
  the class by the `cloud.google.com/compute-class` label; pools that serve a class carry that label
  and its taint, as GKE requires of manually created pools.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import pins
from ..choices import allowed
from ..errors import UserError
from ..kubernetes import addons, render
from ..validation import DNS_LABEL as _CLUSTER_NAME

# --------------------------------------------------------------------------------------------
# Facts shared by the component, the platform and the tests
# --------------------------------------------------------------------------------------------

POOL_LABEL = "pulumi-llm.dev/pool"
COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"  # GKE sets it on every GPU node
GPU_COMPUTE_CLASS = "pulumi-llm-gpu"
GPU_TAINT_KEY = render.GPU_TAINT_KEY  # "nvidia.com/gpu"
# GKE's own taint of GPU nodes (value "present"); the API spells the effect NO_SCHEDULE.
GPU_TAINT: dict[str, str] = {"key": GPU_TAINT_KEY, "value": "present", "effect": "NO_SCHEDULE"}
GPU_TOLERATION: dict[str, str] = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
GPU_NODE_TAG = "pulumi-llm-gke-gpu"
SYSTEM_NODE_TAG = "pulumi-llm-gke-system"
"""Network tag of the Standard system pool, where the models' routers run: the gateway's firewall rule admits it
too, since a router's internal load balancer (externalTrafficPolicy Local) delivers to the nodes of its pods."""
"""Network tag of GPU nodes: the firewall rule that admits the gateway's subnet targets it."""
INTERNAL_LB_ANNOTATIONS: dict[str, str] = {"networking.gke.io/load-balancer-type": "Internal"}
GPU_NODE_LABELS: dict[str, str] = {"nvidia.com/gpu.present": "true", POOL_LABEL: "gpu"}
SYSTEM_NODE_LABELS: dict[str, str] = {POOL_LABEL: "system"}

# GKE installs this driver branch on GPU nodes: LATEST (the newest the GKE version supports; vLLM's
# CUDA 13 images need an R580+ driver, see pins.VLLM_OPENAI) or DEFAULT.
GPU_DRIVER_VERSIONS = ("LATEST", "DEFAULT")

SPOT_NODE_LABEL = "cloud.google.com/gke-spot"
"""GKE labels Spot VM nodes `cloud.google.com/gke-spot: "true"` (GKE docs, Spot VMs: "GKE automatically adds the
cloud.google.com/gke-spot=true label to nodes that use Spot VMs")."""
REGIONAL_DEFAULT_ZONES = 3
"""A regional cluster's node pools span three zones of the region unless given node locations (GKE docs, Regional
clusters: "By default, GKE replicates each node pool across three zones of the control plane's region")."""

NODE_IMAGE = "COS_CONTAINERD"
NODE_OAUTH_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)  # IAM roles decide, not scopes

# What a node's own service account needs (GKE's documented minimum for a custom node service
# account) plus pulling images from Artifact Registry. Nothing primitive, nothing else.
NODE_ROLES: tuple[str, ...] = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})

CONTROL_PLANE_LOGS = ("SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER", "SCHEDULER", "CONTROLLER_MANAGER")
CONTROL_PLANE_METRICS = ("SYSTEM_COMPONENTS", "APISERVER", "SCHEDULER", "CONTROLLER_MANAGER")
# With Managed Service for Prometheus GKE also exports kube-state metrics for these objects.
MANAGED_STATE_METRICS = ("STORAGE", "POD", "DEPLOYMENT", "STATEFULSET", "DAEMONSET", "HPA")

NVIDIA_NAMESPACE = "nvidia"
KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
GMP_TRIGGER_AUTHENTICATION = "gcp-managed-prometheus"
# On COS GKE puts the driver it installs here; the DCGM exporter loads NVML from it.
GKE_DRIVER_HOST_PATH = "/home/kubernetes/bin/nvidia"

_ACCOUNT_ID = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")


@dataclass(frozen=True)
class GpuMachine:
    """A Compute Engine machine type with GPUs attached, as GKE names them."""

    machine_type: str
    accelerator: str
    gpus: int


def _machines() -> dict[str, GpuMachine]:
    table: list[tuple[str, str, int]] = [
        # G2: NVIDIA L4 (g2-standard-32 has one GPU, like -4 … -16).
        *[(f"g2-standard-{n}", "nvidia-l4", 1) for n in (4, 8, 12, 16, 32)],
        ("g2-standard-24", "nvidia-l4", 2),
        ("g2-standard-48", "nvidia-l4", 4),
        ("g2-standard-96", "nvidia-l4", 8),
        # A2: A100 40 GB (highgpu, megagpu) and 80 GB (ultragpu).
        *[(f"a2-highgpu-{n}g", "nvidia-tesla-a100", n) for n in (1, 2, 4, 8)],
        ("a2-megagpu-16g", "nvidia-tesla-a100", 16),
        *[(f"a2-ultragpu-{n}g", "nvidia-a100-80gb", n) for n in (1, 2, 4, 8)],
        # A3: H100 80 GB (high, mega), H200 141 GB (ultra); A4: B200.
        *[(f"a3-highgpu-{n}g", "nvidia-h100-80gb", n) for n in (1, 2, 4, 8)],
        ("a3-megagpu-8g", "nvidia-h100-mega-80gb", 8),
        ("a3-ultragpu-8g", "nvidia-h200-141gb", 8),
        ("a4-highgpu-8g", "nvidia-b200", 8),
    ]
    return {m: GpuMachine(m, acc, n) for m, acc, n in table}


GPU_MACHINES: dict[str, GpuMachine] = _machines()
# N1 machines take T4s attached by count (1, 2 or 4); every other GPU comes with its machine type.
N1_ACCELERATORS = frozenset({"nvidia-tesla-t4"})
N1_GPU_COUNTS = (1, 2, 4)
KNOWN_ACCELERATORS = frozenset({m.accelerator for m in GPU_MACHINES.values()} | N1_ACCELERATORS)

# GPUs GKE Autopilot admits: the list in GKE's own admission error ("The requested GPU type ... is
# not supported in Autopilot; allowed values are: [...]", denied by autogke-gpu-limitation, recorded
# 2025-05-13). Bump it when GKE adds a type (check `kubectl explain` or the Autopilot GPU page).
AUTOPILOT_GPUS: tuple[str, ...] = (
    "nvidia-a100-80gb",
    "nvidia-h100-80gb",
    "nvidia-h100-mega-80gb",
    "nvidia-h200-141gb",
    "nvidia-l4",
    "nvidia-tesla-a100",
    "nvidia-tesla-p100",
    "nvidia-tesla-p4",
    "nvidia-tesla-t4",
    "nvidia-tesla-v100",
)


def resolve_gpu(key: str, machine_type: str | None, accelerator: str | None, gpus: int | None) -> GpuMachine:
    """The machine, accelerator and GPU count of one GPU pool, each checked against the others.

    Raises UserError with one line naming `gpu_pools.<key>` when they disagree or are unknown.
    """
    where = f"gpu_pools.{key}"
    if machine_type is None:
        if accelerator is None or gpus is None:
            raise UserError(f"{where}: give machine_type (e.g. g2-standard-24), or accelerator and gpus (Autopilot)")
        if accelerator not in KNOWN_ACCELERATORS:
            raise UserError(
                f"{where}.accelerator: unknown GPU {accelerator!r}; {allowed(accelerator, sorted(KNOWN_ACCELERATORS), 'known')}"
            )
        return GpuMachine("", accelerator, gpus)
    if machine_type in GPU_MACHINES:
        machine = GPU_MACHINES[machine_type]
        if accelerator is not None and accelerator != machine.accelerator:
            raise UserError(f"{where}.accelerator: {machine_type} carries {machine.accelerator}, not {accelerator!r}")
        if gpus is not None and gpus != machine.gpus:
            raise UserError(f"{where}.gpus: {machine_type} carries {machine.gpus} × {machine.accelerator}, not {gpus}")
        return machine
    if machine_type.startswith("n1-"):
        if accelerator not in N1_ACCELERATORS:
            raise UserError(f"{where}.accelerator: N1 machines take nvidia-tesla-t4 here, not {accelerator!r}")
        if gpus not in N1_GPU_COUNTS:
            raise UserError(f"{where}.gpus: an N1 machine takes 1, 2 or 4 T4s, not {gpus!r}")
        return GpuMachine(machine_type, accelerator, gpus)
    known = ", ".join(sorted({m.rsplit("-", 1)[0] for m in GPU_MACHINES}))
    raise UserError(f"{where}.machine_type: {machine_type!r} is not a GPU machine type GKE serves here ({known}-*, or n1-* with T4s)")


def check_autopilot_gpu(key: str, accelerator: str) -> None:
    """Refuse a GPU that GKE Autopilot does not admit, before anything is registered."""
    if accelerator not in AUTOPILOT_GPUS:
        raise UserError(
            f"gpu_pools.{key}: GKE Autopilot does not support GPU {accelerator!r}; "
            f"supported: {', '.join(AUTOPILOT_GPUS)} (or use mode standard)"
        )


def cluster_name_problem(name: str) -> str | None:
    """Why `name` is not a valid GKE cluster name (1-40: lower-case letters, digits, '-'), or None."""
    if not 1 <= len(name) <= 40:
        return f"{name!r} has {len(name)} characters; GKE allows 1 to 40"
    if not _CLUSTER_NAME.match(name):
        return f"{name!r} must be lower-case letters, digits and '-', start with a letter and not end with '-'"
    return None


def node_pool_name(key: str, capacity: str) -> str:
    """The GKE name of a GPU pool (`gpu-<key>-spot`, `gpu-<key>-on-demand`); the ComputeClass lists it."""
    return f"gpu-{key}-{capacity}"


def account_id(*parts: str) -> str:
    """A service-account id (6-30 characters, [a-z][-a-z0-9]*[a-z0-9]) from `parts`, hashed if long."""
    raw = "-".join(parts)
    folded = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    folded = re.sub(r"-{2,}", "-", folded)
    if not folded or not folded[0].isalpha():
        folded = f"sa-{folded}".rstrip("-")
    if len(folded) > 30:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
        folded = f"{folded[:23].rstrip('-')}-{digest}"
    folded = folded.ljust(6, "0") if len(folded) < 6 else folded
    assert _ACCOUNT_ID.match(folded), folded
    return folded


def service_account_email(account: str, project: str) -> str:
    """The email of a user-managed service account."""
    return f"{account}@{project}.iam.gserviceaccount.com"


def workload_pool(project: str) -> str:
    return f"{project}.svc.id.goog"


def workload_identity_member(project: str, namespace: str, service_account: str) -> str:
    """The IAM member of one Kubernetes service account under GKE Workload Identity."""
    return f"serviceAccount:{workload_pool(project)}[{namespace}/{service_account}]"


def workload_identity_annotation(gsa_email: Any) -> dict[str, Any]:
    """The annotation that binds a Kubernetes service account to a Google service account."""
    return {"iam.gke.io/gcp-service-account": gsa_email}


def check_role(role: str, where: str) -> str:
    """Refuse primitive roles (owner, editor, viewer) and anything that is not a role name."""
    if role in PRIMITIVE_ROLES:
        raise UserError(f"{where}: primitive role {role!r} is refused; grant a predefined role with only what is needed")
    if not re.fullmatch(r"(roles|projects/[a-z][-a-z0-9]*/roles|organizations/\d+/roles)/[A-Za-z0-9_.]+", role):
        raise UserError(f"{where}: {role!r} is not an IAM role name (roles/…)")
    return role


def gmp_query_url(project: str) -> str:
    """The Prometheus HTTP API of Managed Service for Prometheus (KEDA queries it with Workload Identity)."""
    return f"https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus"


def service_agents(project_number: str) -> dict[str, str]:
    """Google-managed service agents that encrypt with the cluster's key (Secrets, node boot disks)."""
    return {
        "gke": f"serviceAccount:service-{project_number}@container-engine-robot.iam.gserviceaccount.com",
        "compute": f"serviceAccount:service-{project_number}@compute-system.iam.gserviceaccount.com",
    }


# --------------------------------------------------------------------------------------------
# Placement, ComputeClass, PodMonitoring
# --------------------------------------------------------------------------------------------


def gpu_placement(
    gpus_per_node: int | None, compute_class: str = GPU_COMPUTE_CLASS, *, zones: int = REGIONAL_DEFAULT_ZONES
) -> render.Placement:
    """Model servers run on the GPU ComputeClass, tolerating GPU nodes, on non-spot nodes first where both have
    room, spread over the GPU pools' zones as a requirement when there are two or more."""
    from ..kubernetes.resilience import decide_zone_spread

    return render.Placement(
        node_selector={COMPUTE_CLASS_LABEL: compute_class},
        tolerations=(
            dict(GPU_TOLERATION),
            {"key": COMPUTE_CLASS_LABEL, "operator": "Equal", "value": compute_class, "effect": "NoSchedule"},
        ),
        gpus_per_node=gpus_per_node,
        zone_spread=decide_zone_spread(zones),
        preferred_nodes=(
            {"weight": 100, "preference": {"matchExpressions": [{"key": SPOT_NODE_LABEL, "operator": "NotIn", "values": ["true"]}]}},
        ),
    )


def gpu_pool_labels(compute_class: str = GPU_COMPUTE_CLASS) -> dict[str, str]:
    return {**GPU_NODE_LABELS, COMPUTE_CLASS_LABEL: compute_class}


def gpu_pool_taints(compute_class: str = GPU_COMPUTE_CLASS) -> list[dict[str, str]]:
    """The GPU taint (as GKE sets it) and the compute-class taint GKE asks of pools serving a class."""
    return [dict(GPU_TAINT), {"key": COMPUTE_CLASS_LABEL, "value": compute_class, "effect": "NO_SCHEDULE"}]


def compute_class_standard(spot_pools: Sequence[str], on_demand_pools: Sequence[str], *, on_demand_first: bool = True) -> dict[str, Any]:
    """ComputeClass spec over existing node pools: every on-demand pool, then every spot pool (the reverse when
    not `on_demand_first`: the stack is all-spot on purpose)."""
    ordered = (*on_demand_pools, *spot_pools) if on_demand_first else (*spot_pools, *on_demand_pools)
    priorities = [{"nodepools": [pool]} for pool in ordered]
    if not priorities:
        raise ValueError("a ComputeClass needs at least one node pool")
    return {
        "priorities": priorities,
        "nodePoolAutoCreation": {"enabled": False},
        # Back to a higher priority (the on-demand floor) when it has room again.
        "activeMigration": {"optimizeRulePriority": True},
        "whenUnsatisfiable": "DoNotScaleUp",
    }


def compute_class_autopilot(
    gpus: Sequence[tuple[str, int]], spot: bool, on_demand: bool, driver: str, *, on_demand_first: bool = True
) -> dict[str, Any]:
    """ComputeClass spec for Autopilot: each (accelerator, count) on on-demand first, then spot (the reverse when
    not `on_demand_first`)."""
    priorities: list[dict[str, Any]] = []
    order = ((False, on_demand), (True, spot)) if on_demand_first else ((True, spot), (False, on_demand))
    for capacity, wanted in order:
        if wanted:
            priorities += [
                {"gpu": {"type": accelerator, "count": count, "driverVersion": driver.lower()}, "spot": capacity}
                for accelerator, count in gpus
            ]
    if not priorities:
        raise ValueError("a ComputeClass needs spot or on-demand capacity")
    return {
        "priorities": priorities,
        "nodePoolAutoCreation": {"enabled": True},
        "activeMigration": {"optimizeRulePriority": True},
        "whenUnsatisfiable": "DoNotScaleUp",
    }


def pod_monitoring(
    name: str,
    namespace: str,
    match_labels: Mapping[str, str],
    port: str | int,
    *,
    path: str = "/metrics",
    interval: str = "15s",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Managed Service for Prometheus `PodMonitoring` (monitoring.googleapis.com/v1): what the
    platform renders for each model server instead of a ServiceMonitor when the cluster uses GMP."""
    return {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "PodMonitoring",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {
            "selector": {"matchLabels": dict(match_labels)},
            "endpoints": [{"port": port, "path": path, "interval": interval}],
        },
    }


DCGM_POD_LABELS = {"app.kubernetes.io/name": "dcgm-exporter"}


def dcgm_pod_monitoring(labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return pod_monitoring("dcgm-exporter", NVIDIA_NAMESPACE, DCGM_POD_LABELS, "metrics", labels=labels)


def trigger_authentication_spec() -> dict[str, Any]:
    """KEDA authenticates to GMP as its operator's Google service account (Workload Identity)."""
    return {"podIdentity": {"provider": "gcp"}}


def internal_lb_service(
    name: str,
    namespace: str,
    selector: Mapping[str, str],
    port: int,
    source_ranges: Sequence[str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Service behind an internal passthrough Network Load Balancer: how a caller outside the cluster
    but inside the VPC (the gateway's Cloud Run egress subnet) reaches one model server.

    Passthrough (L4), not an internal Ingress: no proxy cuts long streams (an Ingress backend times out
    after 30 s unless a BackendConfig says otherwise), the client address survives, so the VPC firewall
    and the model's NetworkPolicy can both admit exactly `source_ranges`, and no path rewriting is
    needed (the server's own `/v1` paths). `externalTrafficPolicy: Local` keeps the client address
    (no SNAT through another node) and sends traffic only to nodes that run a ready server.
    """
    if not source_ranges:
        raise ValueError(f"{name}: an internal load balancer needs the source ranges it admits")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels or {}),
            "annotations": dict(INTERNAL_LB_ANNOTATIONS),
        },
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "loadBalancerSourceRanges": list(source_ranges),
            "selector": dict(selector),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def load_balancer_ip(status: Any) -> str:
    """The address a Service's load balancer got ('' until GKE has set it)."""
    entries = render.load_balancer_ingress(status)
    return str(entries[0].get("ip") or entries[0].get("hostname") or "") if entries else ""


# --------------------------------------------------------------------------------------------
# kubeconfig
# --------------------------------------------------------------------------------------------


def kubeconfig(cluster_name: str, endpoint: str, ca_certificate: str, project: str, location: str) -> str:
    """A kubeconfig that authenticates with `gke-gcloud-auth-plugin`: a short-lived token minted at use
    by whoever runs Pulumi (their gcloud credentials), so no credential is ever written to the state."""
    context = f"gke_{project}_{location}_{cluster_name}"
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
            "interactiveMode": "Never",
            "provideClusterInfo": True,
        }
    }
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_certificate}}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
    }
    return json.dumps(doc, indent=2, sort_keys=True)


# --------------------------------------------------------------------------------------------
# Helm values
# --------------------------------------------------------------------------------------------


def dcgm_exporter_values(*, service_monitor: bool) -> dict[str, Any]:
    """DCGM exporter on GPU nodes, reading NVML from the driver GKE installed on the host."""
    return {
        "image": {"repository": pins.DCGM_EXPORTER.repository, "tag": f"{pins.DCGM_EXPORTER.tag}@{pins.DCGM_EXPORTER.digest}"},
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        # Every GPU node: the GPU taint and any compute-class taint.
        "tolerations": [dict(GPU_TOLERATION), {"key": COMPUTE_CLASS_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
        "extraHostVolumes": [{"name": "nvidia-install-dir-host", "hostPath": GKE_DRIVER_HOST_PATH}],
        "extraVolumeMounts": [{"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True}],
        "extraEnv": [{"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"}],
        # NVML needs the devices, which GKE exposes only to privileged containers or GPU requests. Helm
        # merges this over the chart's securityContext, whose allowPrivilegeEscalation is false
        # (verify/facts/charts.py DCGM_EXPORTER); the API server refuses privileged with that, so say true.
        "securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
        "priorityClassName": "system-node-critical",
        # The workload's pod/namespace arrive as exported_* (honorLabels false, and always under GMP's
        # PodMonitoring), which the alerts and dashboards query (observability_rules.DcgmLabels).
        "serviceMonitor": {"enabled": service_monitor, "interval": "15s", "honorLabels": False},
    }


def keda_values(*, service_monitor: bool, gcp_service_account: Any = None) -> dict[str, Any]:
    """KEDA as on EKS; with GMP its operator runs as a Google service account that may read metrics."""
    values = addons.keda_values(service_monitor=service_monitor)
    if gcp_service_account is not None:
        values["podIdentity"] = {"gcp": {"enabled": True, "gcpIAMServiceAccount": gcp_service_account}}
    return values


def prometheus_values() -> dict[str, Any]:
    return addons.kube_prometheus_stack_values()
