"""GkeCluster under the recording mock runtime: control plane, node pools, ComputeClass, IAM, add-ons."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.cluster import gke_render
from pulumi_llm.cluster.gke import GkeCluster, GkeClusterArgs
from pulumi_llm.errors import UserError
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline.recorder import DefaultProviderDisabled

PROJECT = "llm-prod-123"
REGION = "us-central1"
KEY = f"projects/{PROJECT}/locations/{REGION}/keyRings/llm/cryptoKeys/stack"
NODE_SA = f"llm-prod-nodes@{PROJECT}.iam.gserviceaccount.com"
LABELS = {"pulumi-llm_project": "pulumi-llm", "pulumi-llm_stack": "prod", "pulumi-llm_environment": "prod"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
CLASS_TOLERATION = {"key": "cloud.google.com/compute-class", "operator": "Equal", "value": "pulumi-llm-gpu", "effect": "NoSchedule"}


def args(**overrides: Any) -> GkeClusterArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "project": PROJECT,
        "region": REGION,
        "network": "projects/llm-prod-123/global/networks/llm",
        "subnetwork": "projects/llm-prod-123/regions/us-central1/subnetworks/nodes",
        "pods_range_name": "pods",
        "services_range_name": "services",
        "kms_key": KEY,
        "master_authorized_networks": {"vpn": "10.100.0.0/16"},
    }
    values.update(overrides)
    return GkeClusterArgs(**values)


def plan(captured: dict[str, Any] | None = None, extra=None, **overrides: Any):
    def program() -> None:
        provider = gcp.Provider("gcp", project=PROJECT, region=REGION)
        cluster = GkeCluster("llm-gke", args(**overrides), opts=pulumi.ResourceOptions(providers=[provider]))
        if extra is not None:
            extra(cluster)
        if captured is not None:
            captured["component"] = cluster
            cluster.node_service_account_email.apply(lambda v: cast(dict[str, Any], captured).__setitem__("node_email", v))

    return run(program, region=REGION)


# --------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------

IAM = [
    ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "llm-gke-key-compute"),
    ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "llm-gke-key-gke"),
    ("gcp:projects/iAMMember:IAMMember", "llm-gke-nodes-artifactregistry-reader"),
    ("gcp:projects/iAMMember:IAMMember", "llm-gke-nodes-logging-logwriter"),
    ("gcp:projects/iAMMember:IAMMember", "llm-gke-nodes-monitoring-metricwriter"),
    ("gcp:projects/iAMMember:IAMMember", "llm-gke-nodes-monitoring-viewer"),
    ("gcp:projects/iAMMember:IAMMember", "llm-gke-nodes-stackdriver-resourcemetadata-writer"),
    ("gcp:serviceaccount/account:Account", "llm-gke-nodes-sa"),
]
COMMON = [
    *IAM,
    ("gcp:container/cluster:Cluster", "llm-gke-cluster"),
    ("kubernetes:cloud.google.com/v1:ComputeClass", "llm-gke-gpu-compute-class"),
    ("kubernetes:core/v1:Namespace", "llm-gke-keda-ns"),
    ("kubernetes:helm.sh/v3:Release", "llm-gke-keda"),
    ("pulumi:providers:kubernetes", "llm-gke-k8s"),
]
STANDARD = [
    ("gcp:container/nodePool:NodePool", "llm-gke-gpu-l4-on-demand-nodes"),
    ("gcp:container/nodePool:NodePool", "llm-gke-gpu-l4-spot-nodes"),
    ("gcp:container/nodePool:NodePool", "llm-gke-system-nodes"),
    ("kubernetes:core/v1:Namespace", "llm-gke-nvidia-ns"),
    ("kubernetes:helm.sh/v3:Release", "llm-gke-dcgm-exporter"),
]
KPS = [
    ("kubernetes:core/v1:Namespace", "llm-gke-monitoring-ns"),
    ("kubernetes:helm.sh/v3:Release", "llm-gke-prometheus"),
]
MANAGED = [
    ("gcp:projects/iAMMember:IAMMember", "llm-gke-keda-keda-operator-monitoring-viewer"),
    ("gcp:serviceaccount/account:Account", "llm-gke-keda-keda-operator-gsa"),
    ("gcp:serviceaccount/iAMMember:IAMMember", "llm-gke-keda-keda-operator-wi"),
    ("kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication", "llm-gke-keda-gmp-auth"),
]


def test_standard_children_types_and_names() -> None:
    records = plan()
    assert children(records, only(records, "pulumi-llm:index:GkeCluster")) == sorted(COMMON + STANDARD + KPS)


def test_managed_prometheus_children_types_and_names() -> None:
    records = plan(prometheus="managed")
    expected = COMMON + STANDARD + MANAGED + [("kubernetes:monitoring.googleapis.com/v1:PodMonitoring", "llm-gke-dcgm-pod-monitoring")]
    assert children(records, only(records, "pulumi-llm:index:GkeCluster")) == sorted(expected)


def test_autopilot_children_types_and_names() -> None:
    records = plan(mode="autopilot", prometheus="managed")
    assert children(records, only(records, "pulumi-llm:index:GkeCluster")) == sorted(COMMON + MANAGED)


def test_every_resource_uses_an_explicit_provider_and_kubernetes_ones_the_cluster_s() -> None:
    overrides: dict[str, Any]  # keyword arguments for plan()
    for overrides in ({}, {"prometheus": "managed"}, {"mode": "autopilot", "prometheus": "managed"}):
        records = plan(**overrides)
        gcp_provider = by_name(records)["gcp"].urn
        k8s_provider = by_name(records)["llm-gke-k8s"]
        custom = [r for r in records if r.custom and not r.type.startswith("pulumi:providers:")]
        assert all(r.provider for r in custom), "a resource fell back to a default provider"
        assert {r.provider for r in custom if r.type.startswith("gcp:")} == {gcp_provider}
        kube = [r for r in custom if r.type.startswith("kubernetes:")]
        assert kube and all(r.provider == k8s_provider.urn for r in kube)


def test_without_a_gcp_provider_the_plan_fails_like_pulumi_up() -> None:
    with pytest.raises(DefaultProviderDisabled, match=r"Default provider for 'gcp' disabled"):
        run(lambda: GkeCluster("bare", args()), region=REGION)


def test_importing_the_gcp_modules_loads_no_other_cloud_sdk() -> None:
    code = (
        "import sys\n"
        "import pulumi_llm.cluster.gke, pulumi_llm.cluster.gke_render, pulumi_llm.gateway.gcp\n"
        "loaded = [m for m in ('pulumi_aws', 'pulumi_azure_native') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------
# Control plane
# --------------------------------------------------------------------------------------------


def test_cluster_is_private_encrypted_shielded_and_uses_workload_identity() -> None:
    cluster = by_name(plan())["llm-gke-cluster"].inputs
    assert (cluster["name"], cluster["location"], cluster["project"]) == ("llm-prod", REGION, PROJECT)
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert "minMasterVersion" not in cluster and "nodeVersion" not in cluster
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": "172.16.0.0/28",
    }
    assert cluster["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"displayName": "vpn", "cidrBlock": "10.100.0.0/16"}],
        "gcpPublicCidrsAccessEnabled": False,
    }
    assert cluster["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": KEY}
    assert cluster["enableShieldedNodes"] is True
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"  # enforces ModelServing's NetworkPolicies
    assert cluster["nodePoolDefaults"] == {"nodeConfigDefaults": {"gcfsConfig": {"enabled": True}}}
    assert cluster["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert cluster["monitoringConfig"] == {
        "enableComponents": ["SYSTEM_COMPONENTS", "APISERVER", "SCHEDULER", "CONTROLLER_MANAGER"],
        "managedPrometheus": {"enabled": False},
    }
    assert cluster["loggingConfig"]["enableComponents"] == list(gke_render.CONTROL_PLANE_LOGS)
    assert cluster["resourceLabels"] == LABELS
    assert cluster["deletionProtection"] is True
    # Even the default pool (created, then removed) runs as our node account, not the default one.
    assert cluster["nodeConfig"]["serviceAccount"] == NODE_SA
    assert cluster["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}


def test_managed_prometheus_is_enabled_on_the_cluster() -> None:
    cluster = by_name(plan(prometheus="managed"))["llm-gke-cluster"].inputs
    assert cluster["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
    assert "POD" in cluster["monitoringConfig"]["enableComponents"]


def test_key_is_granted_to_the_gke_and_compute_service_agents_before_the_cluster() -> None:
    records = by_name(plan())
    for agent, member in (
        ("gke", "serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com"),
        ("compute", "serviceAccount:service-123456789012@compute-system.iam.gserviceaccount.com"),
    ):
        grant = records[f"llm-gke-key-{agent}"].inputs
        assert grant == {"cryptoKeyId": KEY, "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter", "member": member}
    assert "llm-gke-key-gke" not in by_name(plan(grant_key_access=False))


def test_node_service_account_has_only_the_minimal_roles() -> None:
    captured: dict[str, Any] = {}
    records = plan(captured)
    assert captured["node_email"] == NODE_SA
    members = of_type(records, "gcp:projects/iAMMember:IAMMember")
    assert {m.inputs["role"] for m in members} == set(gke_render.NODE_ROLES)
    assert all(m.inputs["member"] == f"serviceAccount:{NODE_SA}" and m.inputs["project"] == PROJECT for m in members)
    assert not {m.inputs["role"] for m in members} & {"roles/owner", "roles/editor", "roles/viewer"}
    assert by_name(records)["llm-gke-nodes-sa"].inputs["accountId"] == "llm-prod-nodes"
    for pool in of_type(records, "gcp:container/nodePool:NodePool"):
        assert pool.inputs["nodeConfig"]["serviceAccount"] == NODE_SA
        assert "compute@developer" not in json.dumps(pool.inputs)


# --------------------------------------------------------------------------------------------
# Node pools
# --------------------------------------------------------------------------------------------


def test_system_pool_is_untainted_shielded_and_encrypted() -> None:
    pool = by_name(plan())["llm-gke-system-nodes"].inputs
    assert pool["name"] == "system" and pool["cluster"] == "llm-prod"
    node = pool["nodeConfig"]
    assert node["machineType"] == "e2-standard-4" and node["spot"] is False
    assert node["labels"] == {"pulumi-llm.dev/pool": "system"} and node["taints"] == []
    assert "guestAccelerators" not in node
    assert node["bootDiskKmsKey"] == KEY
    assert pool["autoscaling"] == {"totalMinNodeCount": 2, "totalMaxNodeCount": 6, "locationPolicy": "BALANCED"}


def test_gpu_pools_carry_driver_taints_labels_matching_the_placement() -> None:
    captured: dict[str, Any] = {}
    records = by_name(plan(captured))
    placement = captured["component"].gpu_placement
    for capacity, spot, scaling in (("spot", True, (0, 2, "ANY")), ("on-demand", False, (0, 1, "BALANCED"))):
        pool = records[f"llm-gke-gpu-l4-{capacity}-nodes"].inputs
        assert pool["name"] == f"gpu-l4-{capacity}"
        node = pool["nodeConfig"]
        assert node["machineType"] == "g2-standard-24" and node["spot"] is spot
        assert node["guestAccelerators"] == [
            {"type": "nvidia-l4", "count": 2, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
        ]
        # GKE's own GPU taint, set explicitly, plus the compute-class taint.
        assert node["taints"] == [
            {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"},
            {"key": "cloud.google.com/compute-class", "value": "pulumi-llm-gpu", "effect": "NO_SCHEDULE"},
        ]
        assert node["labels"] == {
            "nvidia.com/gpu.present": "true",
            "pulumi-llm.dev/pool": "gpu",
            "cloud.google.com/compute-class": "pulumi-llm-gpu",
        }
        assert all(node["labels"][k] == v for k, v in placement.node_selector.items())
        assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert node["gcfsConfig"] == {"enabled": True} and node["imageType"] == "COS_CONTAINERD"
        assert node["bootDiskKmsKey"] == KEY and node["diskSizeGb"] == 200
        assert node["resourceLabels"] == LABELS
        # The tag the firewall rule admitting the gateway's Cloud Run subnet targets.
        assert node["tags"] == ["pulumi-llm-gke-gpu"] == [gke_render.GPU_NODE_TAG]
        assert (
            pool["autoscaling"]["totalMinNodeCount"],
            pool["autoscaling"]["totalMaxNodeCount"],
            pool["autoscaling"]["locationPolicy"],
        ) == scaling
    assert [dict(t) for t in placement.tolerations] == [GPU_TOLERATION, CLASS_TOLERATION]


def test_gpu_count_per_node_is_what_servers_are_told() -> None:
    captured: dict[str, Any] = {}
    pools = {
        "h100": {
            "machine_type": "a3-highgpu-8g",
            "gpus": 8,
            "zones": ("us-central1-a", "us-central1-c"),
            "spot": None,
            "on_demand": {"min": 1, "max": 2},
        },
        "l4": {"machine_type": "g2-standard-48", "gpus": 4, "on_demand": None},
    }
    records = by_name(plan(captured, gpu_pools=pools, gpu_driver_version="DEFAULT"))
    h100 = records["llm-gke-gpu-h100-on-demand-nodes"].inputs
    assert h100["nodeConfig"]["guestAccelerators"][0]["count"] == 8
    assert h100["nodeConfig"]["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "DEFAULT"}
    assert h100["nodeLocations"] == ["us-central1-a", "us-central1-c"]
    assert records["llm-gke-gpu-l4-spot-nodes"].inputs["nodeConfig"]["guestAccelerators"][0]["count"] == 4
    assert "llm-gke-gpu-h100-spot-nodes" not in records and "llm-gke-gpu-l4-on-demand-nodes" not in records
    # The smallest GPU node bounds the tensor-parallel size a single-node server may ask for.
    assert captured["component"].gpu_placement.gpus_per_node == 4
    spec = records["llm-gke-gpu-compute-class"].inputs["spec"]
    assert spec["priorities"] == [{"nodepools": ["gpu-h100-on-demand"]}, {"nodepools": ["gpu-l4-spot"]}]


def test_compute_class_orders_on_demand_before_spot() -> None:
    # Issue 18: spot first let a reclaim take every replica; the on-demand pool now holds the fewest replicas.
    records = plan()
    compute_class = by_name(records)["llm-gke-gpu-compute-class"].inputs
    assert (compute_class["apiVersion"], compute_class["kind"], compute_class["metadata"]["name"]) == (
        "cloud.google.com/v1",
        "ComputeClass",
        "pulumi-llm-gpu",
    )
    assert compute_class["spec"] == {
        "priorities": [{"nodepools": ["gpu-l4-on-demand"]}, {"nodepools": ["gpu-l4-spot"]}],
        "nodePoolAutoCreation": {"enabled": False},
        "activeMigration": {"optimizeRulePriority": True},
        "whenUnsatisfiable": "DoNotScaleUp",
    }


# --------------------------------------------------------------------------------------------
# Autopilot
# --------------------------------------------------------------------------------------------


def test_autopilot_has_no_node_pools_and_asks_for_gpus_by_compute_class() -> None:
    pools = {"h200": {"accelerator": "nvidia-h200-141gb", "gpus": 8, "spot": None, "on_demand": {"min": 0, "max": 1}}}
    records = by_name(plan(mode="autopilot", prometheus="managed", gpu_pools=pools))
    cluster = records["llm-gke-cluster"].inputs
    assert cluster["enableAutopilot"] is True
    assert "removeDefaultNodePool" not in cluster and "nodeConfig" not in cluster
    assert cluster["clusterAutoscaling"]["autoProvisioningDefaults"]["serviceAccount"] == NODE_SA
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": KEY}
    assert "DCGM" in cluster["monitoringConfig"]["enableComponents"]
    assert not [r for r in records.values() if r.type == "gcp:container/nodePool:NodePool"]
    spec = records["llm-gke-gpu-compute-class"].inputs["spec"]
    assert spec["priorities"] == [{"gpu": {"type": "nvidia-h200-141gb", "count": 8, "driverVersion": "latest"}, "spot": False}]
    assert spec["nodePoolAutoCreation"] == {"enabled": True}
    assert cluster["nodePoolAutoConfig"] == {"networkTags": {"tags": ["pulumi-llm-gke-gpu"]}}


def test_system_pool_carries_its_own_tag_not_the_gpu_tag() -> None:
    # The models' routers run on the system nodes; the gateway's firewall rule names this tag beside the GPU one.
    assert by_name(plan())["llm-gke-system-nodes"].inputs["nodeConfig"]["tags"] == [gke_render.SYSTEM_NODE_TAG]


# --------------------------------------------------------------------------------------------
# Internal endpoint (the gateway's way in)
# --------------------------------------------------------------------------------------------


def test_internal_endpoint_is_a_passthrough_internal_load_balancer_admitting_only_the_given_ranges() -> None:
    found: dict[str, Any] = {}

    def extra(cluster: GkeCluster) -> None:
        url = cluster.internal_endpoint("llm", "llama", 8000, ["10.40.18.0/26"])
        url.apply(lambda u: found.__setitem__("url", u))

    records = plan(extra=extra)
    service = by_name(records)["llm-gke-llm-llama-ilb"]
    assert service.type == "kubernetes:core/v1:Service"
    assert service.provider == by_name(records)["llm-gke-k8s"].urn
    assert service.parent == only(records, "pulumi-llm:index:GkeCluster").urn
    meta, spec = service.inputs["metadata"], service.inputs["spec"]
    assert (meta["name"], meta["namespace"]) == ("llama-internal", "llm")
    assert meta["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    assert meta["labels"]["pulumi-llm.dev/model"] == "llama"
    assert spec == {
        "type": "LoadBalancer",
        "externalTrafficPolicy": "Local",
        "loadBalancerSourceRanges": ["10.40.18.0/26"],
        "selector": {"app.kubernetes.io/name": "llama", "app.kubernetes.io/component": "model-server"},
        "ports": [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}],
    }
    # The mock assigns no address: the URL says so instead of inventing one.
    assert found["url"] == "http://pending:8000"


# --------------------------------------------------------------------------------------------
# Workload Identity
# --------------------------------------------------------------------------------------------


def test_workload_identity_helper_binds_exactly_one_kubernetes_service_account() -> None:
    found: dict[str, Any] = {}

    def extra(cluster: GkeCluster) -> None:
        identity = cluster.workload_identity(
            "models",
            "llama",
            project_roles=("roles/monitoring.metricWriter",),
            bucket_roles={"llm-weights": ("roles/storage.objectViewer",)},
        )
        identity.email.apply(lambda e: found.__setitem__("email", e))
        identity.annotations["iam.gke.io/gcp-service-account"].apply(lambda e: found.__setitem__("annotation", e))
        found["parts"] = [type(p).__name__ for p in cluster.workload_identities["models/llama"]]

    records = by_name(plan(extra=extra))
    email = f"llm-prod-models-llama@{PROJECT}.iam.gserviceaccount.com"
    assert found == {"email": email, "annotation": email, "parts": ["Account", "IAMMember", "IAMMember", "BucketIAMMember"]}
    binding = records["llm-gke-models-llama-wi"].inputs
    assert binding == {
        "serviceAccountId": f"projects/{PROJECT}/serviceAccounts/{email}",
        "role": "roles/iam.workloadIdentityUser",
        "member": f"serviceAccount:{PROJECT}.svc.id.goog[models/llama]",
    }
    assert records["llm-gke-models-llama-monitoring-metricwriter"].inputs["member"] == f"serviceAccount:{email}"
    bucket = records["llm-gke-models-llama-llm-weights-storage-objectviewer"].inputs
    assert bucket == {"bucket": "llm-weights", "role": "roles/storage.objectViewer", "member": f"serviceAccount:{email}"}


def test_workload_identity_refuses_primitive_roles() -> None:
    def extra(cluster: GkeCluster) -> None:
        cluster.workload_identity("models", "llama", project_roles=("roles/editor",))

    with pytest.raises(UserError) as err:
        plan(extra=extra)
    assert str(err.value).endswith(
        "workload_identity(models/llama): primitive role 'roles/editor' is refused; grant a predefined role with only what is needed"
    )


def test_keda_reads_managed_prometheus_through_workload_identity() -> None:
    captured: dict[str, Any] = {}
    records = by_name(plan(captured, prometheus="managed"))
    email = f"llm-prod-keda-keda-operator@{PROJECT}.iam.gserviceaccount.com"
    assert records["llm-gke-keda-keda-operator-wi"].inputs["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[keda/keda-operator]"
    assert records["llm-gke-keda-keda-operator-monitoring-viewer"].inputs["role"] == "roles/monitoring.viewer"
    assert records["llm-gke-keda"].inputs["values"]["podIdentity"] == {"gcp": {"enabled": True, "gcpIAMServiceAccount": email}}
    auth = records["llm-gke-keda-gmp-auth"].inputs
    assert (auth["metadata"]["name"], auth["spec"]) == ("gcp-managed-prometheus", {"podIdentity": {"provider": "gcp"}})
    cluster: GkeCluster = captured["component"]
    assert cluster.prometheus_url == f"https://monitoring.googleapis.com/v1/projects/{PROJECT}/location/global/prometheus"
    assert cluster.keda_authentication == {"kind": "ClusterTriggerAuthentication", "name": "gcp-managed-prometheus"}
    monitoring = records["llm-gke-dcgm-pod-monitoring"].inputs
    assert (monitoring["apiVersion"], monitoring["kind"]) == ("monitoring.googleapis.com/v1", "PodMonitoring")
    assert monitoring["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "dcgm-exporter"}}
    assert records["llm-gke-dcgm-exporter"].inputs["values"]["serviceMonitor"]["enabled"] is False


# --------------------------------------------------------------------------------------------
# Add-ons and outputs
# --------------------------------------------------------------------------------------------


def test_helm_releases_are_pinned_and_namespaced() -> None:
    records = by_name(plan())
    for name, (pin, namespace) in {
        "llm-gke-prometheus": (pins.KUBE_PROMETHEUS_STACK_CHART, "monitoring"),
        "llm-gke-dcgm-exporter": (pins.DCGM_EXPORTER_CHART, "nvidia"),
        "llm-gke-keda": (pins.KEDA_CHART, "keda"),
    }.items():
        release = records[name].inputs
        assert (release["chart"], release["version"], release["namespace"]) == (pin.name, pin.version, namespace)
        assert release["atomic"] is True
    dcgm = records["llm-gke-dcgm-exporter"].inputs["values"]
    assert GPU_TOLERATION in dcgm["tolerations"] and dcgm["serviceMonitor"]["enabled"] is True
    security = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for r in records.values()
        if r.type == "kubernetes:core/v1:Namespace"
    }
    assert security == {"monitoring": "privileged", "nvidia": "privileged", "keda": "restricted"}


def test_provider_kubeconfig_uses_the_gke_auth_plugin_and_outputs_feed_model_serving() -> None:
    captured: dict[str, Any] = {}
    records = by_name(plan(captured))
    kubeconfig = json.loads(records["llm-gke-k8s"].inputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    cluster: GkeCluster = captured["component"]
    assert isinstance(cluster.provider, pulumi.ProviderResource)
    assert cluster.prometheus_url == "http://kps-prometheus.monitoring.svc.cluster.local:9090"
    assert cluster.keda_authentication is None
    assert cluster.gpu_placement.gpus_per_node == 2
    assert {type(r).__name__ for r in cluster.addons} == {"Release", "CustomResource"}


# --------------------------------------------------------------------------------------------
# Bad input: one line, before anything is registered
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"mode": "autopilot", "prometheus": "managed", "gpu_pools": {"b200": {"machine_type": "a4-highgpu-8g"}}},
            "gpu_pools.b200: GKE Autopilot does not support GPU 'nvidia-b200'; supported: nvidia-a100-80gb, nvidia-h100-80gb, "
            "nvidia-h100-mega-80gb, nvidia-h200-141gb, nvidia-l4, nvidia-tesla-a100, nvidia-tesla-p100, nvidia-tesla-p4, "
            "nvidia-tesla-t4, nvidia-tesla-v100 (or use mode standard)",
        ),
        (
            {"mode": "autopilot"},
            "prometheus: Autopilot needs 'managed' (kube-prometheus-stack's node exporter needs host access Autopilot refuses)",
        ),
        (
            {"gpu_pools": {"l4": {"machine_type": "g2-standard-24", "gpus": 8}}},
            "gpu_pools.l4.gpus: g2-standard-24 carries 2 × nvidia-l4, not 8",
        ),
        ({"gpu_pools": {"l4": {"accelerator": "nvidia-l4", "gpus": 1}}}, "gpu_pools.l4.machine_type: required in standard mode"),
        (
            {"gpu_pools": {"l4": {"machine_type": "g2-standard-8", "spot": None, "on_demand": None}}},
            "gpu_pools.l4: give spot, on_demand or both",
        ),
        (
            {"gpu_pools": {"l4": {"machine_type": "g2-standard-8", "zones": ("europe-west4-a",)}}},
            "gpu_pools.l4.zones: 'europe-west4-a' is not a zone of us-central1",
        ),
        (
            {"gpu_pools": {"L4": {"machine_type": "g2-standard-8"}}},
            "gpu_pools: key 'L4' must be lower-case letters, digits and '-' (at most 20)",
        ),
        (
            {"master_authorized_networks": {"all": "0.0.0.0/0"}},
            "master_authorized_networks.all: '0.0.0.0/0' opens the control plane to the internet",
        ),
        ({"master_ipv4_cidr": "172.16.0.0/24"}, "master_ipv4_cidr: '172.16.0.0/24' must be a private /28"),
        (
            {"cluster_name": "LLM"},
            "cluster_name: 'LLM' must be lower-case letters, digits and '-', start with a letter and not end with '-'",
        ),
        ({"region": "Iowa"}, "region: 'Iowa' is not a Google Cloud region such as us-central1"),
    ],
)
def test_bad_arguments_fail_with_one_user_error_line(overrides: dict[str, Any], line: str) -> None:
    with pytest.raises(UserError) as err:
        args(**overrides)
    assert str(err.value) == line
