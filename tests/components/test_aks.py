"""AksCluster under the recording mock runtime: cluster, pools, identities, Prometheus, add-ons, providers."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, cast

import pulumi
import pytest
import yaml
from helpers import by_name, children, of_type, only, run
from pulumi_azure_native.provider import Provider as AzureProvider
from pulumi_llm import pins
from pulumi_llm.cluster import aks_render
from pulumi_llm.cluster.aks import AksCluster, AksClusterArgs, GpuPool, RoleGrant
from pulumi_llm.errors import UserError
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import invokes, recorder
from pulumi_llm.offline.recorder import DefaultProviderDisabled

ROOT = Path(__file__).resolve().parents[2]
SUB = invokes.AZURE_SUBSCRIPTION
TENANT = invokes.AZURE_TENANT
DEPLOYER = "00000000-0000-0000-0000-000000000004"  # the mock getClientConfig objectId
RG = f"/subscriptions/{SUB}/resourceGroups/rg-llm"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes"
DES = f"{RG}/providers/Microsoft.Compute/diskEncryptionSets/des-llm"
ADMIN = "11111111-2222-3333-4444-555555555555"
GROUP = "66666666-7777-8888-9999-000000000000"
TAGS = {"pulumi-llm:project": "pulumi-llm", "pulumi-llm:stack": "prod", "pulumi-llm:environment": "prod"}


# --------------------------------------------------------------------------------------------
# What Azure computes (the recording mocks echo inputs only)
# --------------------------------------------------------------------------------------------


def guid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


def azure_outputs(typ: str, name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Outputs shaped as Azure returns them: ARM ids, identities as maps with principal/client ids, the OIDC issuer."""
    module, kind = typ.split(":")[1], typ.split(":")[2]
    resource_id = f"/subscriptions/{SUB}/resourceGroups/{state.get('resourceGroupName') or 'rg'}/providers/Microsoft.{module}/{kind}/{name}"
    state = dict(state, id=resource_id)
    identity = state.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        state["identity"] = dict(
            identity,
            userAssignedIdentities={u: {"principalId": guid(u, "p"), "clientId": guid(u, "c")} for u in identity["userAssignedIdentities"]},
        )
    if kind == "UserAssignedIdentity":
        state.update(principalId=guid(resource_id, "principal"), clientId=guid(resource_id, "client"), tenantId=TENANT)
    if kind == "ManagedCluster":
        state["oidcIssuerProfile"] = dict(state.get("oidcIssuerProfile") or {}, issuerURL=issuer())
    if kind == "DataCollectionRule":
        state["immutableId"] = "dcr-0123456789abcdef0123456789abcdef"
    if kind == "DataCollectionEndpoint":
        state["metricsIngestion"] = {"endpoint": "https://llm-prod-prometheus-a1b2.eastus-1.metrics.ingest.monitor.azure.com"}
    return resource_id, state


def issuer() -> str:
    return f"https://eastus.oic.prod-aks.azure.com/{TENANT}/3c6a6f0e-5f1b-4b7a-9c39-0f6f1d8a2b11/"


def arm(kind: str, name: str, module: str = "managedidentity", group: str = "rg-llm") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.{module}/{kind}/{name}"


def role_id(guid_: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid_}"


@pytest.fixture(autouse=True)
def computed_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    original = recorder.PlanMocks.new_resource

    def new_resource(self: recorder.PlanMocks, args: Any) -> Any:
        resource_id, state = original(self, args)
        if args.typ.startswith("azure-native:"):
            return azure_outputs(args.typ, args.name, state)
        return resource_id, state

    monkeypatch.setattr(recorder.PlanMocks, "new_resource", new_resource)


DEPENDENCIES: dict[str, set[str]] = {}


@pytest.fixture(autouse=True)
def record_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    DEPENDENCIES.clear()
    original = recorder.RecordingMonitor.RegisterResource

    def register(self: recorder.RecordingMonitor, request: Any) -> Any:
        DEPENDENCIES[request.name] = set(request.dependencies)
        return original(self, request)

    monkeypatch.setattr(recorder.RecordingMonitor, "RegisterResource", register)


def after(records, later: str, earlier: str) -> bool:
    return by_name(records)[earlier].urn in DEPENDENCIES[later]


# --------------------------------------------------------------------------------------------
# Program
# --------------------------------------------------------------------------------------------


def args(**overrides: Any) -> AksClusterArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "location": "eastus",
        "resource_group_name": "rg-llm",
        "subnet_id": SUBNET,
        "admin_principal_ids": {"platform": ADMIN},
        "admin_group_object_ids": (GROUP,),
    }
    values.update(overrides)
    return AksClusterArgs(**values)


def plan(captured: dict[str, Any] | None = None, program_extra=None, **overrides: Any):
    def program() -> None:
        provider = AzureProvider("azure", location="eastus")
        cluster = AksCluster("llm-aks", args(**overrides), opts=pulumi.ResourceOptions(providers=[provider]))
        if captured is not None:
            captured["component"] = cluster
            cluster.oidc_issuer.apply(lambda v: cast(dict[str, Any], captured).__setitem__("oidc_issuer", v))
            cluster.kubeconfig.apply(lambda v: cast(dict[str, Any], captured).__setitem__("kubeconfig", v))
        if program_extra is not None:
            program_extra(cluster, captured)

    return run(program, region="eastus")


def error(**overrides: Any) -> str:
    with pytest.raises(UserError) as caught:
        args(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------

BASE = [
    ("azure-native:authorization:RoleAssignment", "llm-aks-admin-platform"),
    ("azure-native:authorization:RoleAssignment", "llm-aks-cluster-identity-network"),
    ("azure-native:authorization:RoleAssignment", "llm-aks-deployer-cluster-admin"),
    ("azure-native:containerservice:AgentPool", "llm-aks-general-pool"),
    ("azure-native:containerservice:AgentPool", "llm-aks-gpu-pool"),
    ("azure-native:containerservice:AgentPool", "llm-aks-gpuspot-pool"),
    ("azure-native:containerservice:ManagedCluster", "llm-aks-cluster"),
    ("azure-native:managedidentity:UserAssignedIdentity", "llm-aks-cluster-identity"),
    ("kubernetes:core/v1:ConfigMap", "llm-aks-priority-expander"),
    ("kubernetes:core/v1:Namespace", "llm-aks-keda-ns"),
    ("kubernetes:core/v1:Namespace", "llm-aks-monitoring-ns"),
    ("kubernetes:helm.sh/v3:Release", "llm-aks-keda"),
    ("kubernetes:helm.sh/v3:Release", "llm-aks-prometheus"),
    ("pulumi:providers:kubernetes", "llm-aks-k8s"),
]
DEVICE_PLUGIN = [
    ("kubernetes:core/v1:Namespace", "llm-aks-nvidia-ns"),
    ("kubernetes:helm.sh/v3:Release", "llm-aks-dcgm-exporter"),
    ("kubernetes:helm.sh/v3:Release", "llm-aks-device-plugin"),
]
AZURE_MONITOR = [
    ("azure-native:authorization:RoleAssignment", "llm-aks-monitoring-kps-prometheus-dcr"),
    ("azure-native:managedidentity:FederatedIdentityCredential", "llm-aks-monitoring-kps-prometheus-federation"),
    ("azure-native:managedidentity:UserAssignedIdentity", "llm-aks-monitoring-kps-prometheus-identity"),
    ("azure-native:monitor:AzureMonitorWorkspace", "llm-aks-monitor-workspace"),
    ("azure-native:monitor:DataCollectionEndpoint", "llm-aks-prometheus-dce"),
    ("azure-native:monitor:DataCollectionRule", "llm-aks-prometheus-dcr"),
    ("azure-native:monitor:DataCollectionRuleAssociation", "llm-aks-prometheus-dcea"),
    ("azure-native:monitor:DataCollectionRuleAssociation", "llm-aks-prometheus-dcra"),
]


def test_children_types_and_names() -> None:
    records = plan()
    assert children(records, only(records, "pulumi-llm:index:AksCluster")) == sorted(BASE + DEVICE_PLUGIN)


def test_autoscaler_grows_the_regular_gpu_pool_before_the_spot_one() -> None:
    """Issue 18: the Spot and Regular pools had no order; the priority expander now grows Regular first."""
    records = by_name(plan())
    assert records["llm-aks-cluster"].inputs["autoScalerProfile"] == {"expander": "priority"}
    config = records["llm-aks-priority-expander"].inputs
    assert (config["metadata"]["name"], config["metadata"]["namespace"]) == ("cluster-autoscaler-priority-expander", "kube-system")
    assert yaml.safe_load(config["data"]["priorities"]) == {30: ["^aks-gpu-[0-9]+-vmss$"], 20: ["^aks-gpuspot-[0-9]+-vmss$"], 10: [".*"]}
    spot_first = by_name(plan(on_demand_first=False))["llm-aks-priority-expander"].inputs
    assert yaml.safe_load(spot_first["data"]["priorities"])[30] == ["^aks-gpuspot-[0-9]+-vmss$"]


def test_children_with_azure_monitor_gpu_operator_and_disk_encryption() -> None:
    records = plan(prometheus="azure-monitor", nvidia_stack="gpu-operator", disk_encryption_set_id=DES)
    extra = [
        ("azure-native:authorization:RoleAssignment", "llm-aks-cluster-identity-des"),
        ("kubernetes:core/v1:Namespace", "llm-aks-gpu-operator-ns"),
        ("kubernetes:helm.sh/v3:Release", "llm-aks-gpu-operator"),
    ]
    assert children(records, only(records, "pulumi-llm:index:AksCluster")) == sorted(BASE + AZURE_MONITOR + extra)


def test_every_resource_uses_an_explicit_provider_and_kubernetes_ones_the_cluster_s() -> None:
    records = plan(prometheus="azure-monitor")
    azure_provider = by_name(records)["azure"].urn
    k8s_provider = by_name(records)["llm-aks-k8s"]
    custom = [r for r in records if r.custom and not r.type.startswith("pulumi:providers:")]
    assert all(r.provider for r in custom), "a resource fell back to a default provider"
    assert {r.provider for r in custom if r.type.startswith("azure-native:")} == {azure_provider}
    kube = [r for r in custom if r.type.startswith("kubernetes:")]
    assert kube and all(r.provider == k8s_provider.urn for r in kube)


def test_without_an_azure_provider_the_plan_fails_like_pulumi_up() -> None:
    with pytest.raises(DefaultProviderDisabled, match=r"Default provider for 'azure-native' disabled"):
        run(lambda: AksCluster("bare", args()), region="eastus")


# --------------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------------


def test_cluster_is_entra_only_rbac_private_pinned_and_patched() -> None:
    cluster = by_name(plan())["llm-aks-cluster"].inputs
    assert cluster["resourceName"] == "llm-prod" and cluster["resourceGroupName"] == "rg-llm"
    assert cluster["kubernetesVersion"] == "1.35" == aks_render.AKS_KUBERNETES_VERSION
    assert cluster["disableLocalAccounts"] is True
    assert cluster["enableRBAC"] is True
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True, "adminGroupObjectIDs": [GROUP], "tenantID": TENANT}
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert cluster["apiServerAccessProfile"] == {
        "enablePrivateCluster": True,
        "enablePrivateClusterPublicFQDN": False,
        "privateDNSZone": "system",
        "disableRunCommand": True,
    }
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert cluster["sku"] == {"name": "Base", "tier": "Standard"}
    assert cluster["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": [arm("UserAssignedIdentity", "llm-aks-cluster-identity")],
    }
    assert cluster["networkProfile"] == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "networkDataplane": "cilium",
        "networkPolicy": "cilium",
        "podCidr": "192.168.0.0/16",
        "serviceCidr": "172.16.0.0/16",
        "dnsServiceIP": "172.16.0.10",
        "outboundType": "loadBalancer",
        "loadBalancerSku": "standard",
    }
    assert cluster["azureMonitorProfile"] == {"metrics": {"enabled": False}}
    assert "diskEncryptionSetID" not in cluster
    assert cluster["tags"] == TAGS


def test_system_pool_is_tainted_for_critical_add_ons_in_the_subnet() -> None:
    [system] = by_name(plan())["llm-aks-cluster"].inputs["agentPoolProfiles"]
    assert (system["name"], system["mode"]) == ("system", "System")
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["vnetSubnetID"] == SUBNET
    assert (system["enableAutoScaling"], system["minCount"], system["maxCount"], system["count"]) == (True, 2, 4, 2)
    assert system["availabilityZones"] == ["1", "2", "3"]
    assert system["nodeLabels"] == {"pulumi-llm.dev/pool": "system"}


def test_public_api_server_only_to_listed_networks_with_calico() -> None:
    cluster = by_name(plan(private_cluster=False, authorized_ip_ranges=("203.0.113.0/24",), network_policy="calico"))[
        "llm-aks-cluster"
    ].inputs
    assert cluster["apiServerAccessProfile"] == {
        "enablePrivateCluster": False,
        "authorizedIPRanges": ["203.0.113.0/24"],
        "disableRunCommand": True,
    }
    assert (cluster["networkProfile"]["networkPolicy"], cluster["networkProfile"]["networkDataplane"]) == ("calico", "azure")


def test_disk_encryption_set_encrypts_node_disks_and_the_identity_may_read_it() -> None:
    records = by_name(plan(disk_encryption_set_id=DES))
    assert records["llm-aks-cluster"].inputs["diskEncryptionSetID"] == DES
    grant = records["llm-aks-cluster-identity-des"].inputs
    assert grant["scope"] == DES
    assert grant["roleDefinitionId"] == role_id(aks_render.ROLE_READER)


# --------------------------------------------------------------------------------------------
# Node pools and placement
# --------------------------------------------------------------------------------------------


def test_gpu_pools_are_tainted_labelled_and_autoscaled() -> None:
    records = by_name(
        plan(
            gpu_pools={
                "a100": GpuPool(
                    vm_size="Standard_NC24ads_A100_v4", min_count=1, max_count=4, gpu_instance_profile="MIG3g", labels={"team": "ml"}
                ),
                "h100spot": GpuPool(vm_size="Standard_NC40ads_H100_v5", priority="Spot", max_count=3, zones=("1",)),
            }
        )
    )
    regular = records["llm-aks-a100-pool"].inputs
    assert regular["agentPoolName"] == "a100" and regular["resourceName"] == "llm-prod" and regular["mode"] == "User"
    assert regular["vmSize"] == "Standard_NC24ads_A100_v4"
    assert regular["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert regular["nodeLabels"] == {"team": "ml", "nvidia.com/gpu.present": "true", "pulumi-llm.dev/pool": "a100"}
    assert (regular["enableAutoScaling"], regular["minCount"], regular["maxCount"], regular["count"]) == (True, 1, 4, 1)
    assert regular["gpuInstanceProfile"] == "MIG3g"
    assert regular["gpuProfile"] == {"driver": "Install"}
    assert regular["scaleSetPriority"] == "Regular" and "spotMaxPrice" not in regular
    assert regular["upgradeSettings"] == {"maxSurge": "0", "maxUnavailable": "1"}
    assert regular["vnetSubnetID"] == SUBNET and regular["orchestratorVersion"] == "1.35"
    spot = records["llm-aks-h100spot-pool"].inputs
    assert spot["scaleSetPriority"] == "Spot"
    assert spot["scaleSetEvictionPolicy"] == "Delete"
    assert spot["spotMaxPrice"] == -1
    assert spot["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule", "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"]
    assert spot["availabilityZones"] == ["1"]
    general = records["llm-aks-general-pool"].inputs
    assert general["nodeTaints"] == [] and general["nodeLabels"] == {"pulumi-llm.dev/pool": "general"}


def test_placement_tolerates_the_taints_of_every_gpu_pool_and_selects_their_labels() -> None:
    captured: dict[str, Any] = {}
    records = plan(captured)
    placement = captured["component"].gpu_placement
    pools = [r.inputs for r in of_type(records, "azure-native:containerservice:AgentPool") if r.name != "llm-aks-general-pool"]
    assert len(pools) == 2
    for pool in pools:
        for taint in pool["nodeTaints"]:
            assert aks_render.tolerates(placement.tolerations, taint), (pool["agentPoolName"], taint)
        assert all(pool["nodeLabels"].get(k) == v for k, v in placement.node_selector.items())
    # Default pools are Standard_NC24ads_A100_v4: one GPU each, from the sizing catalog.
    assert placement.gpus_per_node == 1
    [system] = by_name(records)["llm-aks-cluster"].inputs["agentPoolProfiles"]
    assert not aks_render.tolerates(placement.tolerations, system["nodeTaints"][0])


# --------------------------------------------------------------------------------------------
# Identity and access
# --------------------------------------------------------------------------------------------


def test_role_assignments_are_scoped() -> None:
    records = plan()
    named = by_name(records)
    cluster_id = arm("ManagedCluster", "llm-aks-cluster", "containerservice")
    expected = {
        "llm-aks-cluster-identity-network": (
            SUBNET,
            aks_render.ROLE_NETWORK_CONTRIBUTOR,
            guid(arm("UserAssignedIdentity", "llm-aks-cluster-identity"), "principal"),
            "ServicePrincipal",
        ),
        "llm-aks-deployer-cluster-admin": (cluster_id, aks_render.ROLE_AKS_RBAC_CLUSTER_ADMIN, DEPLOYER, "ServicePrincipal"),
        "llm-aks-admin-platform": (cluster_id, aks_render.ROLE_AKS_RBAC_CLUSTER_ADMIN, ADMIN, "User"),
    }
    assignments = of_type(records, "azure-native:authorization:RoleAssignment")
    assert {r.name for r in assignments} == set(expected)
    for name, (scope, role, principal, principal_type) in expected.items():
        grant = named[name].inputs
        assert (grant["scope"], grant["roleDefinitionId"], grant["principalId"]) == (scope, role_id(role), principal)
        assert grant["principalType"] == principal_type
        assert not grant["scope"].endswith(f"/subscriptions/{SUB}") and "/resourceGroups/" in grant["scope"]
    # The subnet right exists before the cluster; Kubernetes objects wait for the admin rights.
    assert after(records, "llm-aks-cluster", "llm-aks-cluster-identity-network")
    for kube in [r for r in records if r.custom and r.type.startswith("kubernetes:")]:
        assert after(records, kube.name, "llm-aks-deployer-cluster-admin"), kube.name


def test_without_the_deployer_grant_only_listed_admins_get_cluster_admin() -> None:
    named = by_name(plan(deployer_cluster_admin=False, admin_principal_types={"platform": "Group"}))
    assert "llm-aks-deployer-cluster-admin" not in named
    assert (named["llm-aks-admin-platform"].inputs["principalId"], named["llm-aks-admin-platform"].inputs["principalType"]) == (
        ADMIN,
        "Group",
    )
    user_deployer = by_name(plan(deployer_principal_type="User"))["llm-aks-deployer-cluster-admin"].inputs
    assert user_deployer["principalType"] == "User"


def test_workload_identity_federates_one_service_account() -> None:
    bucket = f"{RG}/providers/Microsoft.Storage/storageAccounts/weights"

    def extra(cluster: AksCluster, captured: dict[str, Any]) -> None:
        identity = cluster.workload_identity("models", "llama-8b", {"weights": RoleGrant(bucket, aks_render.ROLE_STORAGE_BLOB_DATA_READER)})
        captured["identity"] = identity
        pulumi.Output.all(identity.client_id, identity.service_account_annotations["azure.workload.identity/client-id"]).apply(
            lambda v: captured.__setitem__("client_ids", v)
        )

    captured: dict[str, Any] = {}
    records = by_name(plan(captured, extra))
    identity_id = arm("UserAssignedIdentity", "llm-aks-models-llama-8b-identity")
    assert records["llm-aks-models-llama-8b-identity"].inputs == {
        "resourceName": "llm-prod-models-llama-8b",
        "resourceGroupName": "rg-llm",
        "location": "eastus",
        "tags": TAGS,
    }
    federation = records["llm-aks-models-llama-8b-federation"].inputs
    assert federation == {
        "resourceGroupName": "rg-llm",
        "resourceName": "llm-prod-models-llama-8b",
        "federatedIdentityCredentialResourceName": "llm-prod-models-llama-8b",
        "issuer": issuer(),
        "subject": "system:serviceaccount:models:llama-8b",
        "audiences": ["api://AzureADTokenExchange"],
    }
    assert captured["oidc_issuer"] == issuer()
    grant = records["llm-aks-models-llama-8b-weights"].inputs
    assert (grant["scope"], grant["roleDefinitionId"], grant["principalId"], grant["principalType"]) == (
        bucket,
        role_id(aks_render.ROLE_STORAGE_BLOB_DATA_READER),
        guid(identity_id, "principal"),
        "ServicePrincipal",
    )
    identity = captured["identity"]
    assert captured["client_ids"] == [guid(identity_id, "client")] * 2
    assert identity.pod_labels == {"azure.workload.identity/use": "true"}
    assert list(identity.service_account_annotations) == ["azure.workload.identity/client-id"]
    assert [type(p).__name__ for p in identity.parts] == ["UserAssignedIdentity", "FederatedIdentityCredential", "RoleAssignment"]
    assert captured["component"].workload_identities["models/llama-8b"] is identity.parts
    assert records["llm-aks-models-llama-8b-identity"].parent == records["llm-aks"].urn


def test_workload_identity_refuses_bad_names() -> None:
    def extra(cluster: AksCluster, captured: dict[str, Any]) -> None:
        cluster.workload_identity("Models", "llama")

    with pytest.raises(UserError, match=r"^workload_identity\('Models', 'llama'\): namespace and service account are DNS labels"):
        plan({}, extra)


# --------------------------------------------------------------------------------------------
# Observability and add-ons
# --------------------------------------------------------------------------------------------


def test_azure_monitor_managed_prometheus_receives_llm_series_through_workload_identity() -> None:
    records = plan(prometheus="azure-monitor")
    named = by_name(records)
    cluster_id = arm("ManagedCluster", "llm-aks-cluster", "containerservice")
    assert named["llm-aks-cluster"].inputs["azureMonitorProfile"] == {"metrics": {"enabled": True}}
    workspace_id = arm("AzureMonitorWorkspace", "llm-aks-monitor-workspace", "monitor")
    endpoint_id = arm("DataCollectionEndpoint", "llm-aks-prometheus-dce", "monitor")
    rule_id = arm("DataCollectionRule", "llm-aks-prometheus-dcr", "monitor")
    assert named["llm-aks-prometheus-dce"].inputs["kind"] == "Linux"
    rule = named["llm-aks-prometheus-dcr"].inputs
    assert rule["dataCollectionEndpointId"] == endpoint_id
    assert rule["dataSources"] == {"prometheusForwarder": [{"name": "PrometheusDataSource", "streams": ["Microsoft-PrometheusMetrics"]}]}
    assert rule["destinations"] == {"monitoringAccounts": [{"accountResourceId": workspace_id, "name": "MonitoringAccount1"}]}
    assert named["llm-aks-prometheus-dcra"].inputs["resourceUri"] == cluster_id
    assert named["llm-aks-prometheus-dcra"].inputs["dataCollectionRuleId"] == rule_id
    assert named["llm-aks-prometheus-dcea"].inputs == {
        "resourceUri": cluster_id,
        "associationName": "configurationAccessEndpoint",
        "dataCollectionEndpointId": endpoint_id,
    }
    writer = named["llm-aks-monitoring-kps-prometheus-dcr"].inputs
    assert (writer["scope"], writer["roleDefinitionId"]) == (rule_id, role_id(aks_render.ROLE_MONITORING_METRICS_PUBLISHER))
    assert named["llm-aks-monitoring-kps-prometheus-federation"].inputs["subject"] == "system:serviceaccount:monitoring:kps-prometheus"
    values = named["llm-aks-prometheus"].inputs["values"]["prometheus"]
    [remote] = values["prometheusSpec"]["remoteWrite"]
    assert remote["url"] == (
        "https://llm-prod-prometheus-a1b2.eastus-1.metrics.ingest.monitor.azure.com/dataCollectionRules/"
        "dcr-0123456789abcdef0123456789abcdef/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24"
    )
    assert remote["azureAd"] == {"cloud": "AzurePublic", "sdk": {"tenantId": TENANT}}
    client_id = guid(arm("UserAssignedIdentity", "llm-aks-monitoring-kps-prometheus-identity"), "client")
    assert values["serviceAccount"]["annotations"] == {"azure.workload.identity/client-id": client_id}
    assert values["prometheusSpec"]["podMetadata"]["labels"] == {"azure.workload.identity/use": "true"}
    assert after(records, "llm-aks-prometheus", "llm-aks-monitoring-kps-prometheus-federation")
    assert after(records, "llm-aks-prometheus", "llm-aks-monitoring-kps-prometheus-dcr")


def test_helm_releases_are_pinned_and_placed() -> None:
    records = plan()
    named = by_name(records)
    both = [dict(t) for t in aks_render.GPU_TOLERATIONS]
    expected = {
        "llm-aks-prometheus": (pins.KUBE_PROMETHEUS_STACK_CHART, "monitoring"),
        "llm-aks-device-plugin": (pins.NVIDIA_DEVICE_PLUGIN_CHART, "nvidia"),
        "llm-aks-dcgm-exporter": (pins.DCGM_EXPORTER_CHART, "nvidia"),
        "llm-aks-keda": (pins.KEDA_CHART, "keda"),
    }
    for name, (pin, namespace) in expected.items():
        release = named[name].inputs
        assert (release["chart"], release["version"], release["namespace"]) == (pin.name, pin.version, namespace)
        assert release["repositoryOpts"] == {"repo": pin.repository} and release["atomic"] is True
        assert after(records, name, "llm-aks-general-pool")
    assert named["llm-aks-device-plugin"].inputs["values"]["tolerations"] == both
    assert named["llm-aks-dcgm-exporter"].inputs["values"]["tolerations"] == both
    assert "remoteWrite" not in named["llm-aks-prometheus"].inputs["values"]["prometheus"]["prometheusSpec"]
    for name in ("llm-aks-dcgm-exporter", "llm-aks-keda"):
        assert after(records, name, "llm-aks-prometheus")
    security = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for r in of_type(records, "kubernetes:core/v1:Namespace")
    }
    assert security == {"monitoring": "privileged", "nvidia": "privileged", "keda": "restricted"}


def test_gpu_operator_replaces_the_plugin_without_driver_and_toolkit() -> None:
    named = by_name(plan(nvidia_stack="gpu-operator"))
    assert "llm-aks-device-plugin" not in named and "llm-aks-dcgm-exporter" not in named
    values = named["llm-aks-gpu-operator"].inputs["values"]
    assert values["driver"] == {"enabled": False} and values["toolkit"] == {"enabled": False}
    assert values["daemonsets"]["tolerations"] == [dict(t) for t in aks_render.GPU_TOLERATIONS]


def test_provider_kubeconfig_uses_kubelogin_and_holds_no_credential() -> None:
    captured: dict[str, Any] = {}
    records = by_name(plan(captured, kubelogin_login="workloadidentity"))
    provider = records["llm-aks-k8s"].inputs
    assert provider["enableServerSideApply"] == "true"
    kubeconfig = json.loads(provider["kubeconfig"])
    [user] = kubeconfig["users"]
    assert user["user"]["exec"]["command"] == "kubelogin"
    assert user["user"]["exec"]["args"] == ["get-token", "--login", "workloadidentity", "--server-id", aks_render.AKS_AAD_SERVER_APP_ID]
    assert set(user["user"]) == {"exec"}
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://llm-prod.hcp.eastus.azmk8s.io:443"
    component: AksCluster = captured["component"]
    assert isinstance(component.provider, pulumi.ProviderResource)
    assert component.prometheus_url == "http://kps-prometheus.monitoring.svc.cluster.local:9090"
    assert {type(r).__name__ for r in component.addons} == {"Release"}
    # Never the admin credentials: local accounts are off and nothing asks for them.
    assert base64.b64encode(b"client-key-data").decode() not in provider["kubeconfig"]


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"kubernetes_version": "1.34"},
            "cluster.kubernetes_version = 1.34: the add-ons are pinned for 1.35; allowed: 1.35 (bump aks_render.AKS_KUBERNETES_VERSION and the charts together)",
        ),
        ({"private_cluster": False}, "cluster.authorized_ip_ranges: required when private_cluster is false (never 0.0.0.0/0)"),
        ({"authorized_ip_ranges": ("10.0.0.0/8",)}, "cluster.authorized_ip_ranges: only allowed when private_cluster is false"),
        (
            {"private_cluster": False, "authorized_ip_ranges": ("0.0.0.0/0",)},
            "cluster.authorized_ip_ranges = 0.0.0.0/0: opens the API server to the internet; list the networks that need it",
        ),
        (
            {"gpu_pools": {"gpu": GpuPool(vm_size="Standard_NV36ads_A10_v5")}},
            "cluster.gpu_pools.gpu.vm_size = 'Standard_NV36ads_A10_v5': not an NC or ND size (NVIDIA GPUs), e.g. Standard_NC24ads_A100_v4",
        ),
        (
            {"gpu_pools": {"gpu-spot": GpuPool()}},
            "cluster.gpu_pools: 'gpu-spot': a Linux node pool name is 1-12 lower-case letters and digits, starting with a letter",
        ),
        (
            {"gpu_pools": {"t4": GpuPool(vm_size="Standard_NC4as_T4_v3", gpu_instance_profile="MIG1g")}},
            "cluster.gpu_pools.t4.gpu_instance_profile = MIG1g: MIG needs A100 or H100 GPUs, not Standard_NC4as_T4_v3",
        ),
        ({"gpu_pools": {"gpu": GpuPool(min_count=3, max_count=2)}}, "cluster.gpu_pools.gpu: min_count 3 is above max_count 2"),
        ({"gpu_pools": {}}, "cluster.gpu_pools: at least one GPU pool is needed"),
        ({"admin_principal_types": {"ops": "User"}}, "cluster.admin_principal_types.ops: no admin_principal_ids entry with that key"),
        (
            {"admin_principal_ids": {"ops": "alice@example.com"}},
            "cluster.admin_principal_ids.ops = 'alice@example.com': not an Entra object id (a lower-case GUID)",
        ),
        (
            {"service_cidr": "10.0.0.0/16", "dns_service_ip": "10.0.0.10", "pod_cidr": "10.0.0.0/8"},
            "cluster.pod_cidr = 10.0.0.0/8 overlaps service_cidr = 10.0.0.0/16",
        ),
        (
            {"cluster_name": "llm.prod"},
            "cluster.cluster_name = 'llm.prod': 2-63 letters, digits, '-' and '_', starting and ending with a letter or digit",
        ),
    ],
)
def test_bad_arguments_fail_with_one_line(overrides: dict[str, Any], line: str) -> None:
    assert error(**overrides) == line


def test_config_path_names_the_stack_key() -> None:
    assert error(config_path="stacks/Pulumi.prod.yaml: pulumi-llm:cluster.aks", kubernetes_version="1.30").startswith(
        "stacks/Pulumi.prod.yaml: pulumi-llm:cluster.aks.kubernetes_version = 1.30:"
    )


# --------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------

IMPORT_PROBE = """
import json, sys
import pulumi_llm.cluster.aks as aks, pulumi_llm.cluster.aks_render
# Resolve every Azure class the module uses, as building the component does.
for module in (aks.containerservice, aks.managedidentity, aks.authorization, aks.monitor):
    [getattr(module, name) for name in dir(module) if name[:1].isupper()]
aks.containerservice.ManagedCluster, aks.containerservice.AgentPool, aks.managedidentity.FederatedIdentityCredential
def loaded(name):
    module = sys.modules.get(name)
    return module is not None and type(module).__name__ != "_LazyModule"
print(json.dumps({
    "roots": sorted({m.split(".")[0] for m in sys.modules}),
    "web_loaded": loaded("pulumi_azure_native.web"),
    "web_children": sorted(m for m in sys.modules if m.startswith("pulumi_azure_native.web.")),
    "containerservice_loaded": loaded("pulumi_azure_native.containerservice"),
}))
"""


def test_importing_the_aks_modules_loads_no_other_cloud_and_not_azure_web() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "pulumi_aws" not in report["roots"] and "pulumi_gcp" not in report["roots"]
    assert report["web_loaded"] is False and report["web_children"] == []
    assert report["containerservice_loaded"] is True  # the probe does see real loads
