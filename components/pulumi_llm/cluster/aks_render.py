"""Pure rendering for AksCluster: node pool facts, kubeconfig, role ids, Azure Monitor pieces, Helm values.

Nothing here touches Pulumi or Azure. Functions that place values from other resources (ids, client ids,
endpoints) accept plain values or Pulumi Outputs alike, so the component passes its Outputs straight in
and the tests pass strings.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from .. import pins
from ..kubernetes import addons, render
from ..sizing.hardware import INSTANCE_TYPES

# --------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------

# Kubernetes minor of the AKS control plane and node pools. AKS supports a GA minor for 12 months:
# 1.35 went GA on AKS in April 2026 (Azure/AKS#5703, CHANGELOG "AKS Kubernetes version 1.35 is now
# generally available", 2026-04-07), so it is supported into 2027, while 1.34 (GA late 2025) reaches its
# AKS end of life around now. 1.35 is also inside KEDA 2.20's tested range (1.33-1.35, pins.KEDA_CHART).
# Only the minor is pinned: AKS resolves it to the latest GA patch, and the `patch` auto-upgrade channel
# keeps applying patches inside this minor. Moving to 1.36 is a deliberate edit here.
AKS_KUBERNETES_VERSION = "1.35"

# Microsoft Entra "Azure Kubernetes Service AAD Server" application: the audience kubelogin asks tokens for
# on every AKS-managed Entra ID cluster (Azure public cloud).
AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"

# --------------------------------------------------------------------------------------------
# Built-in Azure role definitions (GUIDs are the same in every tenant)
# --------------------------------------------------------------------------------------------

ROLE_AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ROLE_MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
ROLE_READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ROLE_KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ROLE_COGNITIVE_SERVICES_OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
ROLE_STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    """The ARM id of a built-in role definition, as role assignments take it."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


# --------------------------------------------------------------------------------------------
# Node pools, taints and placement
# --------------------------------------------------------------------------------------------

POOL_LABEL = "pulumi-llm.dev/pool"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
GPU_TAINT_KEY = render.GPU_TAINT_KEY  # "nvidia.com/gpu"
SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"

# AKS spelling of taints (key=value:Effect).
SYSTEM_TAINT = "CriticalAddonsOnly=true:NoSchedule"
GPU_TAINT = f"{GPU_TAINT_KEY}=present:NoSchedule"
# AKS puts this taint on every Spot pool itself; we list it too so the pool spec says what the nodes carry
# (and a refresh shows no drift).
SPOT_TAINT = f"{SPOT_TAINT_KEY}=spot:NoSchedule"

SYSTEM_NODE_LABELS: dict[str, str] = {POOL_LABEL: "system"}
GENERAL_NODE_LABELS: dict[str, str] = {POOL_LABEL: "general"}

GPU_TOLERATION: dict[str, str] = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
SPOT_TOLERATION: dict[str, str] = {"key": SPOT_TAINT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
GPU_TOLERATIONS: tuple[dict[str, str], ...] = (GPU_TOLERATION, SPOT_TOLERATION)

MIG_PROFILES = ("MIG1g", "MIG2g", "MIG3g", "MIG4g", "MIG7g")
# Azure sizes whose GPUs can be partitioned with MIG (A100 and H100 families).
_MIG_CAPABLE = re.compile(r"(A100|H100)", re.IGNORECASE)
_GPU_VM_SIZE = re.compile(r"^Standard_N[CD][A-Za-z0-9_]+$")
_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,61}[A-Za-z0-9]$")


def pool_name_problem(name: str) -> str | None:
    """Why `name` is not a valid Linux AKS node pool name, or None (1-12 lower-case letters and digits, a letter first)."""
    if not _POOL_NAME.match(name):
        return f"{name!r}: a Linux node pool name is 1-12 lower-case letters and digits, starting with a letter"
    return None


def cluster_name_problem(name: str) -> str | None:
    """Why `name` is not a valid AKS cluster name, or None (2-63 of [A-Za-z0-9_-], alphanumeric at both ends)."""
    if not _CLUSTER_NAME.match(name):
        return f"{name!r}: 2-63 letters, digits, '-' and '_', starting and ending with a letter or digit"
    return None


def is_gpu_vm_size(vm_size: str) -> bool:
    """NC and ND sizes carry NVIDIA GPUs (NV sizes are for graphics and are not accepted)."""
    return bool(_GPU_VM_SIZE.match(vm_size))


def mig_capable(vm_size: str) -> bool:
    return bool(_MIG_CAPABLE.search(vm_size))


def gpus_of(vm_size: str) -> int | None:
    """GPUs of one VM of this size, from the sizing catalog; None when the catalog does not know it."""
    known = INSTANCE_TYPES.get(vm_size.lower())
    return known.gpu_count if known is not None and known.cloud == "azure" else None


def gpu_node_labels(pool: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels of every GPU node: the selector model servers use, and which pool it is."""
    return {**(extra or {}), GPU_PRESENT_LABEL: "true", POOL_LABEL: pool}


def gpu_taints(spot: bool) -> list[str]:
    return [GPU_TAINT, SPOT_TAINT] if spot else [GPU_TAINT]


def gpu_placement(gpus_per_node: int | None = None, *, zones: int | None = None) -> render.Placement:
    """Where model servers run: on GPU nodes (by label), tolerating the GPU taint and the Spot taint, so
    they may use the on-demand and the Spot GPU pools alike — Regular nodes first where both have room (Spot
    nodes carry `kubernetes.azure.com/scalesetpriority: spot`, Regular ones don't). Spread over zones as a
    requirement only when every GPU pool spans two or more (`zones`: the fewest; GPU pools are often regional)."""
    from ..kubernetes.resilience import decide_zone_spread

    return render.Placement(
        node_selector={GPU_PRESENT_LABEL: "true"},
        tolerations=tuple(dict(t) for t in GPU_TOLERATIONS),
        gpus_per_node=gpus_per_node,
        zone_spread=decide_zone_spread(zones),
        preferred_nodes=(
            {"weight": 100, "preference": {"matchExpressions": [{"key": SPOT_TAINT_KEY, "operator": "NotIn", "values": ["spot"]}]}},
        ),
    )


# The cluster autoscaler's priority expander: AKS' managed autoscaler uses it with `expander: priority` in the
# cluster's autoscaler profile and reads the ConfigMap `cluster-autoscaler-priority-expander` in kube-system
# (kubernetes/autoscaler cluster-autoscaler/expander/priority/readme.md: the ConfigMap must be named so and live
# in the autoscaler's namespace; `priorities` maps a number to regexes of node group names, the highest number
# wins). AKS names a pool's scale set `aks-<pool>-<number>-vmss`, its node group.
PRIORITY_EXPANDER = "priority"
PRIORITY_EXPANDER_CONFIGMAP = "cluster-autoscaler-priority-expander"
PRIORITY_EXPANDER_NAMESPACE = "kube-system"
ON_DEMAND_PRIORITY = 30
SPOT_PRIORITY = 20
OTHER_PRIORITY = 10


def node_group_pattern(pool: str) -> str:
    """The regex of one AKS pool's node group (its scale set `aks-<pool>-<number>-vmss`)."""
    return f"^aks-{pool}-[0-9]+-vmss$"


def expander_priorities(pools: Mapping[str, bool], *, on_demand_first: bool = True) -> str:
    """The priority expander's `priorities` (YAML): Regular GPU pools before Spot ones (the reverse when not
    `on_demand_first`: serving.all_spot), any other pool last. `pools`: GPU pool name → spot."""
    spot_rank, regular_rank = (SPOT_PRIORITY, ON_DEMAND_PRIORITY) if on_demand_first else (ON_DEMAND_PRIORITY, SPOT_PRIORITY)
    ranks: dict[int, list[str]] = {regular_rank: [], spot_rank: [], OTHER_PRIORITY: [".*"]}
    for pool, spot in sorted(pools.items()):
        ranks[spot_rank if spot else regular_rank].append(node_group_pattern(pool))
    lines: list[str] = []
    for rank in sorted(ranks, reverse=True):
        if ranks[rank]:
            lines.append(f"{rank}:")
            lines += [f"  - {json.dumps(pattern)}" for pattern in ranks[rank]]
    return "\n".join(lines) + "\n"


def tolerates(tolerations: Sequence[Mapping[str, Any]], taint: str) -> bool:
    """Whether a toleration list tolerates an AKS-spelled taint `key=value:Effect`."""
    key_value, _, effect = taint.partition(":")
    key, _, value = key_value.partition("=")
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", effect):
            continue
        if toleration.get("operator") == "Exists" and toleration.get("key") in (None, "", key):
            return True
        if toleration.get("key") == key and toleration.get("operator", "Equal") == "Equal" and toleration.get("value") == value:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


def network_problem(pod_cidr: str, service_cidr: str, dns_service_ip: str) -> str | None:
    """Why the overlay address plan is wrong, or None."""
    try:
        pods = ipaddress.ip_network(pod_cidr, strict=True)
    except ValueError:
        return f"pod_cidr = {pod_cidr!r}: not a network in CIDR notation"
    try:
        services = ipaddress.ip_network(service_cidr, strict=True)
    except ValueError:
        return f"service_cidr = {service_cidr!r}: not a network in CIDR notation"
    if pods.overlaps(services):
        return f"pod_cidr = {pod_cidr} overlaps service_cidr = {service_cidr}"
    try:
        dns = ipaddress.ip_address(dns_service_ip)
    except ValueError:
        return f"dns_service_ip = {dns_service_ip!r}: not an IP address"
    if dns not in services or dns in (services.network_address, services.broadcast_address):
        return f"dns_service_ip = {dns_service_ip}: must be a host address inside service_cidr = {service_cidr}"
    return None


def network_profile(*, network_policy: str, pod_cidr: str, service_cidr: str, dns_service_ip: str, outbound_type: str) -> dict[str, Any]:
    """Azure CNI overlay: pods get addresses from a private overlay range, not from the VNet.

    Cilium enforces network policy with the Cilium dataplane; Calico runs on the Azure dataplane.
    """
    return {
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "network_dataplane": "cilium" if network_policy == "cilium" else "azure",
        "network_policy": network_policy,
        "pod_cidr": pod_cidr,
        "service_cidr": service_cidr,
        "dns_service_ip": dns_service_ip,
        "outbound_type": outbound_type,
        "load_balancer_sku": "standard",
    }


# --------------------------------------------------------------------------------------------
# Workload identity
# --------------------------------------------------------------------------------------------

WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
USE_LABEL = "azure.workload.identity/use"


def federated_subject(namespace: str, service_account: str) -> str:
    """The token subject of a Kubernetes service account, as Entra ID matches it."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def service_account_annotations(client_id: Any) -> dict[str, Any]:
    """What the service account carries so the webhook injects this identity's client id."""
    return {CLIENT_ID_ANNOTATION: client_id}


def pod_labels() -> dict[str, str]:
    """What a pod carries so the workload identity webhook projects the token into it."""
    return {USE_LABEL: "true"}


# --------------------------------------------------------------------------------------------
# kubeconfig
# --------------------------------------------------------------------------------------------

KUBELOGIN_LOGINS = ("azurecli", "workloadidentity", "msi")


def kubeconfig(user_kubeconfig_b64: str, *, login: str) -> str:
    """The cluster's user kubeconfig with every user replaced by a `kubelogin get-token` exec.

    The user kubeconfig of an Entra ID cluster holds no credential (only the server and its CA); the token
    is minted at use by whoever runs Pulumi (`azurecli`: the az login of a person or a CI job;
    `workloadidentity`: a federated CI token; `msi`: the runner's managed identity), so nothing secret is
    written to the state. Local accounts are disabled, so there is no admin certificate to fall back on.
    """
    if login not in KUBELOGIN_LOGINS:
        raise ValueError(f"login {login!r}: allowed {', '.join(KUBELOGIN_LOGINS)}")
    doc: dict[str, Any] = yaml.safe_load(base64.b64decode(user_kubeconfig_b64).decode())
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", login, "--server-id", AKS_AAD_SERVER_APP_ID],
            "env": None,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    users: list[dict[str, Any]] = doc.get("users") or []
    doc["users"] = [{"name": user["name"], "user": exec_user} for user in users]
    return json.dumps(doc, indent=2, sort_keys=True)


# --------------------------------------------------------------------------------------------
# Azure Monitor managed Prometheus
# --------------------------------------------------------------------------------------------

PROMETHEUS_STREAM = "Microsoft-PrometheusMetrics"
MONITORING_ACCOUNT_DESTINATION = "MonitoringAccount1"
# The name Azure Monitor requires for the association of a cluster with its data collection endpoint.
ENDPOINT_ASSOCIATION_NAME = "configurationAccessEndpoint"
PROMETHEUS_SERVICE_ACCOUNT = f"{addons.PROMETHEUS_FULLNAME}-prometheus"
# Series forwarded from the in-cluster Prometheus to Azure Monitor: the model servers, the engine and
# the GPUs (ama-metrics already ships the cluster's own kubelet/cAdvisor/kube-state-metrics series).
REMOTE_WRITE_KEEP = r"vllm:.*|nv_.*|DCGM_.*|llamacpp:.*|litellm_.*"


def prometheus_data_collection_rule(*, endpoint_id: Any, workspace_id: Any) -> dict[str, Any]:
    """The DCR (kind Linux) that sends the Prometheus stream to the Azure Monitor workspace."""
    return {
        "kind": "Linux",
        "data_collection_endpoint_id": endpoint_id,
        "data_sources": {"prometheus_forwarder": [{"name": "PrometheusDataSource", "streams": [PROMETHEUS_STREAM]}]},
        "destinations": {"monitoring_accounts": [{"account_resource_id": workspace_id, "name": MONITORING_ACCOUNT_DESTINATION}]},
        "data_flows": [{"destinations": [MONITORING_ACCOUNT_DESTINATION], "streams": [PROMETHEUS_STREAM]}],
    }


def remote_write_url(metrics_ingestion_endpoint: str, rule_immutable_id: str) -> str:
    """Prometheus remote-write URL of a data collection rule."""
    return (
        f"{metrics_ingestion_endpoint.rstrip('/')}/dataCollectionRules/{rule_immutable_id}"
        f"/streams/{PROMETHEUS_STREAM}/api/v1/write?api-version=2023-04-24"
    )


def prometheus_values(*, remote_write_url: Any = None, client_id: Any = None, tenant_id: Any = None) -> dict[str, Any]:
    """kube-prometheus-stack as on-prem. With Azure Monitor, also remote-write the LLM series to the
    data collection rule, authenticated with Entra ID through workload identity (Prometheus' `azureAd.sdk`
    uses the federated token the webhook projects), and keep two days in the cluster for KEDA and alerts."""
    values = addons.kube_prometheus_stack_values()
    if remote_write_url is not None:
        spec = values["prometheus"]["prometheusSpec"]
        spec["retention"] = "2d"
        spec["remoteWrite"] = [
            {
                "url": remote_write_url,
                "azureAd": {"cloud": "AzurePublic", "sdk": {"tenantId": tenant_id}},
                "writeRelabelConfigs": [{"sourceLabels": ["__name__"], "regex": REMOTE_WRITE_KEEP, "action": "keep"}],
            }
        ]
        spec["podMetadata"] = {"labels": pod_labels()}
        values["prometheus"]["serviceAccount"] = {
            "create": True,
            "name": PROMETHEUS_SERVICE_ACCOUNT,
            "annotations": service_account_annotations(client_id),
        }
    return values


# --------------------------------------------------------------------------------------------
# Helm values
# --------------------------------------------------------------------------------------------


def device_plugin_values() -> dict[str, Any]:
    """NVIDIA device plugin on GPU nodes only (on-demand and Spot). AKS installs driver and runtime."""
    return {
        "nodeSelector": {GPU_PRESENT_LABEL: "true"},
        "tolerations": [dict(t) for t in GPU_TOLERATIONS],
        "priorityClassName": "system-node-critical",
    }


def dcgm_exporter_values() -> dict[str, Any]:
    """DCGM exporter (GPU utilisation, memory, power, XID errors) with a ServiceMonitor."""
    return {
        "image": {"repository": pins.DCGM_EXPORTER.repository, "tag": f"{pins.DCGM_EXPORTER.tag}@{pins.DCGM_EXPORTER.digest}"},
        "nodeSelector": {GPU_PRESENT_LABEL: "true"},
        "tolerations": [dict(t) for t in GPU_TOLERATIONS],
        # The workload's pod/namespace arrive as exported_* (honorLabels false), which the alerts and
        # dashboards query (observability_rules.DcgmLabels); stated so a chart default can't change it.
        "serviceMonitor": {"enabled": True, "interval": "15s", "honorLabels": False},
    }


def gpu_operator_values() -> dict[str, Any]:
    """GPU Operator on AKS: the node image brings the driver (gpuProfile.driver Install) and the container
    toolkit, so both stay off; its daemon sets tolerate the GPU and Spot taints."""
    values = addons.gpu_operator_values(driver=False, service_monitor=True)
    values["toolkit"] = {"enabled": False}
    values["daemonsets"] = {"tolerations": [dict(t) for t in GPU_TOLERATIONS]}
    return values
