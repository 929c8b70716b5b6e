"""Pure AKS rendering: taints and placement, kubeconfig, network plan, workload identity, Prometheus, Helm values."""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.cluster import aks_render as r

USER_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: llm-prod
  cluster:
    server: https://llm-prod-1a2b3c4d.privatelink.eastus.azmk8s.io:443
    certificate-authority-data: Q0EtREFUQQ==
contexts:
- name: llm-prod
  context: {cluster: llm-prod, user: clusterUser_rg_llm-prod}
current-context: llm-prod
users:
- name: clusterUser_rg_llm-prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, 00000000-0000-0000-0000-000000000002, --login, devicecode]
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- taints and placement ---------------------------------------------------------------------


def test_gpu_and_spot_taints_are_the_aks_spellings() -> None:
    assert r.GPU_TAINT == "nvidia.com/gpu=present:NoSchedule"
    assert r.SPOT_TAINT == "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
    assert r.SYSTEM_TAINT == "CriticalAddonsOnly=true:NoSchedule"
    assert r.gpu_taints(spot=False) == [r.GPU_TAINT]
    assert r.gpu_taints(spot=True) == [r.GPU_TAINT, r.SPOT_TAINT]


def test_placement_selects_gpu_nodes_and_tolerates_every_gpu_pool_taint() -> None:
    placement = r.gpu_placement(4)
    assert dict(placement.node_selector) == {"nvidia.com/gpu.present": "true"}
    assert [dict(t) for t in placement.tolerations] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"},
    ]
    assert placement.gpus_per_node == 4
    for spot in (False, True):
        for taint in r.gpu_taints(spot):
            assert r.tolerates(placement.tolerations, taint), taint
    # ...but never the system pool's: model servers stay off it.
    assert not r.tolerates(placement.tolerations, r.SYSTEM_TAINT)
    labels = r.gpu_node_labels("gpuspot", {"team": "ml"})
    assert labels == {"team": "ml", "nvidia.com/gpu.present": "true", "pulumi-llm.dev/pool": "gpuspot"}
    assert all(labels[k] == v for k, v in placement.node_selector.items())


def test_tolerates_reads_operators_and_effects() -> None:
    assert r.tolerates([{"key": "a", "operator": "Equal", "value": "b", "effect": "NoSchedule"}], "a=b:NoSchedule")
    assert not r.tolerates([{"key": "a", "operator": "Equal", "value": "c", "effect": "NoSchedule"}], "a=b:NoSchedule")
    assert not r.tolerates([{"key": "a", "operator": "Exists", "effect": "NoExecute"}], "a=b:NoSchedule")
    assert r.tolerates([{"operator": "Exists"}], "a=b:NoSchedule")


@pytest.mark.parametrize(
    ("name", "ok"),
    [("gpu", True), ("gpuspot", True), ("a100x2", True), ("Gpu", False), ("gpu-spot", False), ("1gpu", False), ("abcdefghijklm", False)],
)
def test_pool_names_follow_aks_rules(name: str, ok: bool) -> None:
    assert (r.pool_name_problem(name) is None) is ok


def test_gpu_sizes_mig_and_gpu_counts() -> None:
    assert r.is_gpu_vm_size("Standard_NC24ads_A100_v4") and r.is_gpu_vm_size("Standard_ND96isr_H100_v5")
    assert not r.is_gpu_vm_size("Standard_NV36ads_A10_v5") and not r.is_gpu_vm_size("Standard_D8ds_v5")
    assert r.mig_capable("Standard_NC24ads_A100_v4") and r.mig_capable("Standard_NC40ads_H100_v5")
    assert not r.mig_capable("Standard_NC4as_T4_v3")
    assert r.gpus_of("Standard_NC24ads_A100_v4") == 1
    assert r.gpus_of("Standard_ND96isr_H100_v5") == 8
    assert r.gpus_of("Standard_NC999_unknown") is None


def test_kubernetes_version_is_the_documented_pin() -> None:
    assert r.AKS_KUBERNETES_VERSION == "1.35"
    # KEDA's tested range must include it (pins.KEDA_CHART: 1.33 - 1.35).
    assert "v1.35" in pins.KEDA_CHART.source


# --- kubeconfig ---------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["azurecli", "workloadidentity", "msi"])
def test_kubeconfig_keeps_server_and_ca_and_authenticates_with_kubelogin_only(login: str) -> None:
    doc = json.loads(r.kubeconfig(b64(USER_KUBECONFIG), login=login))
    [cluster] = doc["clusters"]
    assert cluster["cluster"] == {
        "server": "https://llm-prod-1a2b3c4d.privatelink.eastus.azmk8s.io:443",
        "certificate-authority-data": "Q0EtREFUQQ==",
    }
    [user] = doc["users"]
    assert user["name"] == "clusterUser_rg_llm-prod"
    assert user["user"] == {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", login, "--server-id", r.AKS_AAD_SERVER_APP_ID],
            "env": None,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    text = json.dumps(doc)
    for credential in ('"client-certificate', '"client-key', '"token"', '"password"', "devicecode"):
        assert credential not in text
    assert doc["current-context"] == "llm-prod"


def test_kubeconfig_refuses_interactive_logins() -> None:
    with pytest.raises(ValueError, match="login 'devicecode'"):
        r.kubeconfig(b64(USER_KUBECONFIG), login="devicecode")


# --- network --------------------------------------------------------------------------------------


def test_network_profile_is_azure_cni_overlay_with_policy() -> None:
    cilium = r.network_profile(
        network_policy="cilium",
        pod_cidr="192.168.0.0/16",
        service_cidr="172.16.0.0/16",
        dns_service_ip="172.16.0.10",
        outbound_type="userDefinedRouting",
    )
    assert cilium == {
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "network_dataplane": "cilium",
        "network_policy": "cilium",
        "pod_cidr": "192.168.0.0/16",
        "service_cidr": "172.16.0.0/16",
        "dns_service_ip": "172.16.0.10",
        "outbound_type": "userDefinedRouting",
        "load_balancer_sku": "standard",
    }
    calico = r.network_profile(
        network_policy="calico",
        pod_cidr="192.168.0.0/16",
        service_cidr="172.16.0.0/16",
        dns_service_ip="172.16.0.10",
        outbound_type="loadBalancer",
    )
    assert (calico["network_dataplane"], calico["network_policy"]) == ("azure", "calico")


@pytest.mark.parametrize(
    ("pods", "services", "dns", "problem"),
    [
        ("192.168.0.0/16", "172.16.0.0/16", "172.16.0.10", None),
        ("10.0.0.0/8", "10.1.0.0/16", "10.1.0.10", "pod_cidr = 10.0.0.0/8 overlaps service_cidr = 10.1.0.0/16"),
        ("192.168.0.1/16", "172.16.0.0/16", "172.16.0.10", "pod_cidr = '192.168.0.1/16': not a network in CIDR notation"),
        (
            "192.168.0.0/16",
            "172.16.0.0/16",
            "10.0.0.10",
            "dns_service_ip = 10.0.0.10: must be a host address inside service_cidr = 172.16.0.0/16",
        ),
        (
            "192.168.0.0/16",
            "172.16.0.0/16",
            "172.16.0.0",
            "dns_service_ip = 172.16.0.0: must be a host address inside service_cidr = 172.16.0.0/16",
        ),
    ],
)
def test_network_plan_problems(pods: str, services: str, dns: str, problem: str | None) -> None:
    assert r.network_problem(pods, services, dns) == problem


# --- workload identity ------------------------------------------------------------------------------


def test_workload_identity_contract() -> None:
    assert r.federated_subject("models", "llama-8b") == "system:serviceaccount:models:llama-8b"
    assert r.WORKLOAD_IDENTITY_AUDIENCE == "api://AzureADTokenExchange"
    assert r.service_account_annotations("1111") == {"azure.workload.identity/client-id": "1111"}
    assert r.pod_labels() == {"azure.workload.identity/use": "true"}


def test_role_definition_ids_are_subscription_scoped_built_ins() -> None:
    sub = "00000000-0000-0000-0000-000000000001"
    assert r.role_definition_id(sub, r.ROLE_AKS_RBAC_CLUSTER_ADMIN) == (
        f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
    )
    for guid in (
        r.ROLE_AKS_RBAC_CLUSTER_ADMIN,
        r.ROLE_NETWORK_CONTRIBUTOR,
        r.ROLE_MONITORING_METRICS_PUBLISHER,
        r.ROLE_READER,
        r.ROLE_KEY_VAULT_SECRETS_USER,
        r.ROLE_COGNITIVE_SERVICES_OPENAI_USER,
        r.ROLE_STORAGE_BLOB_DATA_READER,
    ):
        assert r.is_guid(guid)


# --- Azure Monitor managed Prometheus ------------------------------------------------------------


def test_data_collection_rule_sends_the_prometheus_stream_to_the_workspace() -> None:
    rule = r.prometheus_data_collection_rule(endpoint_id="dce-id", workspace_id="amw-id")
    assert rule == {
        "kind": "Linux",
        "data_collection_endpoint_id": "dce-id",
        "data_sources": {"prometheus_forwarder": [{"name": "PrometheusDataSource", "streams": ["Microsoft-PrometheusMetrics"]}]},
        "destinations": {"monitoring_accounts": [{"account_resource_id": "amw-id", "name": "MonitoringAccount1"}]},
        "data_flows": [{"destinations": ["MonitoringAccount1"], "streams": ["Microsoft-PrometheusMetrics"]}],
    }
    assert r.remote_write_url("https://x.eastus-1.metrics.ingest.monitor.azure.com/", "dcr-123") == (
        "https://x.eastus-1.metrics.ingest.monitor.azure.com/dataCollectionRules/dcr-123"
        "/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24"
    )


def test_prometheus_values_remote_write_llm_series_with_workload_identity() -> None:
    plain = r.prometheus_values()
    assert "remoteWrite" not in plain["prometheus"]["prometheusSpec"]
    assert plain["prometheus"]["prometheusSpec"]["retention"] == "15d"
    values = r.prometheus_values(remote_write_url="https://dce/write", client_id="cid", tenant_id="tid")
    spec = values["prometheus"]["prometheusSpec"]
    [remote] = spec["remoteWrite"]
    assert remote["url"] == "https://dce/write"
    assert remote["azureAd"] == {"cloud": "AzurePublic", "sdk": {"tenantId": "tid"}}
    [keep] = remote["writeRelabelConfigs"]
    assert keep["action"] == "keep" and keep["sourceLabels"] == ["__name__"]
    for series in ("vllm:num_requests_waiting", "DCGM_FI_DEV_GPU_UTIL", "nv_inference_queue_duration_us", "llamacpp:requests_processing"):
        assert re.fullmatch(keep["regex"], series), series
    assert not re.fullmatch(keep["regex"], "container_cpu_usage_seconds_total")
    assert spec["podMetadata"] == {"labels": {"azure.workload.identity/use": "true"}}
    assert spec["retention"] == "2d"
    assert values["prometheus"]["serviceAccount"] == {
        "create": True,
        "name": "kps-prometheus",
        "annotations": {"azure.workload.identity/client-id": "cid"},
    }


# --- Helm values ------------------------------------------------------------------------------------


def test_nvidia_add_ons_run_on_gpu_nodes_of_both_pools() -> None:
    both = [dict(t) for t in r.GPU_TOLERATIONS]
    plugin = r.device_plugin_values()
    assert plugin["nodeSelector"] == {"nvidia.com/gpu.present": "true"} and plugin["tolerations"] == both
    dcgm = r.dcgm_exporter_values()
    assert dcgm["tolerations"] == both and dcgm["serviceMonitor"]["enabled"] is True
    assert dcgm["image"]["tag"] == f"{pins.DCGM_EXPORTER.tag}@{pins.DCGM_EXPORTER.digest}"
    operator = r.gpu_operator_values()
    assert operator["driver"] == {"enabled": False} and operator["toolkit"] == {"enabled": False}
    assert operator["daemonsets"]["tolerations"] == both
    assert yaml.safe_dump(plugin)  # plain data, Helm can take it
