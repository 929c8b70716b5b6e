"""Pure GKE rendering: GPU machine facts, Autopilot GPUs, names, kubeconfig, IAM members, placement."""

from __future__ import annotations

import json
import re

import pytest
from pulumi_llm import pins
from pulumi_llm.cluster import gke_render as r
from pulumi_llm.errors import UserError
from pulumi_llm.sizing.hardware import instance_types

# --------------------------------------------------------------------------------------------
# GPU machines
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "accelerator", "gpus"),
    [
        ("g2-standard-4", "nvidia-l4", 1),
        ("g2-standard-24", "nvidia-l4", 2),
        ("g2-standard-32", "nvidia-l4", 1),
        ("g2-standard-96", "nvidia-l4", 8),
        ("a2-highgpu-2g", "nvidia-tesla-a100", 2),
        ("a2-ultragpu-8g", "nvidia-a100-80gb", 8),
        ("a3-highgpu-8g", "nvidia-h100-80gb", 8),
        ("a3-megagpu-8g", "nvidia-h100-mega-80gb", 8),
        ("a3-ultragpu-8g", "nvidia-h200-141gb", 8),
    ],
)
def test_machine_types_carry_their_gpus(machine: str, accelerator: str, gpus: int) -> None:
    assert r.resolve_gpu("k", machine, None, None) == r.GpuMachine(machine, accelerator, gpus)
    # Stating the same facts is accepted; the count is what the pool's servers get as TP size.
    assert r.resolve_gpu("k", machine, accelerator, gpus).gpus == gpus


def test_gpu_counts_agree_with_the_sizing_catalog() -> None:
    checked = 0
    for itype in instance_types("gcp"):
        if itype.name in r.GPU_MACHINES:
            assert r.GPU_MACHINES[itype.name].gpus == itype.gpu_count, itype.name
            checked += 1
    assert checked >= 15


def test_n1_machines_take_t4s_by_count() -> None:
    assert r.resolve_gpu("t4", "n1-standard-8", "nvidia-tesla-t4", 2) == r.GpuMachine("n1-standard-8", "nvidia-tesla-t4", 2)


@pytest.mark.parametrize(
    ("machine", "accelerator", "gpus", "line"),
    [
        ("g2-standard-24", None, 4, "gpu_pools.l4.gpus: g2-standard-24 carries 2 × nvidia-l4, not 4"),
        ("g2-standard-24", "nvidia-h100-80gb", None, "gpu_pools.l4.accelerator: g2-standard-24 carries nvidia-l4, not 'nvidia-h100-80gb'"),
        ("n1-standard-8", "nvidia-tesla-t4", 3, "gpu_pools.l4.gpus: an N1 machine takes 1, 2 or 4 T4s, not 3"),
        ("n1-standard-8", "nvidia-l4", 1, "gpu_pools.l4.accelerator: N1 machines take nvidia-tesla-t4 here, not 'nvidia-l4'"),
        (None, "nvidia-l4", None, "gpu_pools.l4: give machine_type (e.g. g2-standard-24), or accelerator and gpus (Autopilot)"),
    ],
)
def test_disagreeing_gpu_facts_fail_with_one_line(machine, accelerator, gpus, line: str) -> None:
    with pytest.raises(UserError) as err:
        r.resolve_gpu("l4", machine, accelerator, gpus)
    assert str(err.value) == line


def test_unknown_machine_type_names_what_is_served() -> None:
    with pytest.raises(
        UserError, match=r"^gpu_pools\.x\.machine_type: 'e2-standard-4' is not a GPU machine type GKE serves here \(a2-highgpu"
    ):
        r.resolve_gpu("x", "e2-standard-4", None, None)


def test_autopilot_admits_h200_and_refuses_b200() -> None:
    r.check_autopilot_gpu("h200", "nvidia-h200-141gb")
    r.check_autopilot_gpu("l4", "nvidia-l4")
    with pytest.raises(UserError) as err:
        r.check_autopilot_gpu("b200", "nvidia-b200")
    assert str(err.value) == (
        "gpu_pools.b200: GKE Autopilot does not support GPU 'nvidia-b200'; supported: nvidia-a100-80gb, nvidia-h100-80gb, "
        "nvidia-h100-mega-80gb, nvidia-h200-141gb, nvidia-l4, nvidia-tesla-a100, nvidia-tesla-p100, nvidia-tesla-p4, "
        "nvidia-tesla-t4, nvidia-tesla-v100 (or use mode standard)"
    )
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------
# Names and identities
# --------------------------------------------------------------------------------------------


def test_cluster_names() -> None:
    assert r.cluster_name_problem("llm-prod") is None
    assert r.cluster_name_problem("LLM") == "'LLM' must be lower-case letters, digits and '-', start with a letter and not end with '-'"
    assert r.cluster_name_problem("x" * 41) == f"{'x' * 41!r} has 41 characters; GKE allows 1 to 40"


@pytest.mark.parametrize(
    "parts",
    [
        ("llm-prod", "nodes"),
        ("llm-prod", "keda", "keda-operator"),
        ("a-very-long-cluster-name-indeed", "model-servers", "llama-3-70b"),
        ("9x", "y"),
    ],
)
def test_account_ids_fit_iam_rules_and_are_stable(parts: tuple[str, ...]) -> None:
    account = r.account_id(*parts)
    assert re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", account), account
    assert r.account_id(*parts) == account


def test_long_account_ids_stay_distinct() -> None:
    a = r.account_id("a-very-long-cluster-name-indeed", "models", "server-one")
    b = r.account_id("a-very-long-cluster-name-indeed", "models", "server-two")
    assert a != b and len(a) <= 30 and len(b) <= 30


def test_workload_identity_member_and_annotation() -> None:
    assert r.workload_pool("llm-prod-123") == "llm-prod-123.svc.id.goog"
    assert r.workload_identity_member("llm-prod-123", "models", "llama") == "serviceAccount:llm-prod-123.svc.id.goog[models/llama]"
    assert r.workload_identity_annotation("gsa@p.iam.gserviceaccount.com") == {
        "iam.gke.io/gcp-service-account": "gsa@p.iam.gserviceaccount.com"
    }


def test_node_roles_are_minimal_and_not_primitive() -> None:
    assert set(r.NODE_ROLES) == {
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
        "roles/artifactregistry.reader",
    }
    assert not set(r.NODE_ROLES) & r.PRIMITIVE_ROLES


def test_primitive_and_malformed_roles_are_refused() -> None:
    assert r.check_role("roles/storage.objectViewer", "w") == "roles/storage.objectViewer"
    with pytest.raises(UserError) as err:
        r.check_role("roles/editor", "workload_identity(models/llama)")
    assert str(err.value) == (
        "workload_identity(models/llama): primitive role 'roles/editor' is refused; grant a predefined role with only what is needed"
    )
    with pytest.raises(UserError, match=r"^w: 'storage.admin' is not an IAM role name"):
        r.check_role("storage.admin", "w")


def test_service_agents_of_the_key() -> None:
    assert r.service_agents("42") == {
        "gke": "serviceAccount:service-42@container-engine-robot.iam.gserviceaccount.com",
        "compute": "serviceAccount:service-42@compute-system.iam.gserviceaccount.com",
    }


# --------------------------------------------------------------------------------------------
# Placement, ComputeClass, PodMonitoring
# --------------------------------------------------------------------------------------------


def _tolerates(tolerations, taint: dict[str, str]) -> bool:
    effect = {"NO_SCHEDULE": "NoSchedule"}[taint["effect"]]
    for t in tolerations:
        if t["key"] != taint["key"] or t.get("effect") not in (None, effect):
            continue
        if t["operator"] == "Exists" or (t["operator"] == "Equal" and t["value"] == taint["value"]):
            return True
    return False


def test_placement_selects_and_tolerates_exactly_the_gpu_pools() -> None:
    placement = r.gpu_placement(2)
    labels = r.gpu_pool_labels()
    assert dict(placement.node_selector) == {"cloud.google.com/compute-class": "pulumi-llm-gpu"}
    assert all(labels[k] == v for k, v in placement.node_selector.items())
    for taint in r.gpu_pool_taints():
        assert _tolerates(placement.tolerations, taint), taint
    # GKE's own taint of GPU nodes.
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in r.gpu_pool_taints()
    assert placement.gpus_per_node == 2


def test_standard_compute_class_tries_on_demand_pools_first() -> None:
    # The on-demand floor first (issue 18): spot takes the replicas above what the on-demand pools hold.
    spec = r.compute_class_standard(["gpu-l4-spot", "gpu-h100-spot"], ["gpu-l4-on-demand"])
    assert spec["priorities"] == [{"nodepools": ["gpu-l4-on-demand"]}, {"nodepools": ["gpu-l4-spot"]}, {"nodepools": ["gpu-h100-spot"]}]
    assert spec["nodePoolAutoCreation"] == {"enabled": False}
    assert spec["activeMigration"] == {"optimizeRulePriority": True}
    assert spec["whenUnsatisfiable"] == "DoNotScaleUp"


def test_autopilot_compute_class_names_gpus_on_demand_then_spot() -> None:
    spec = r.compute_class_autopilot([("nvidia-l4", 2)], spot=True, on_demand=True, driver="LATEST")
    assert spec["priorities"] == [
        {"gpu": {"type": "nvidia-l4", "count": 2, "driverVersion": "latest"}, "spot": False},
        {"gpu": {"type": "nvidia-l4", "count": 2, "driverVersion": "latest"}, "spot": True},
    ]
    assert spec["nodePoolAutoCreation"] == {"enabled": True}


def test_pod_monitoring_body() -> None:
    body = r.pod_monitoring("llama", "models", {"app.kubernetes.io/name": "llama"}, "metrics", labels={"a": "b"})
    assert body == {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "PodMonitoring",
        "metadata": {"name": "llama", "namespace": "models", "labels": {"a": "b"}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "llama"}},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
        },
    }
    assert r.dcgm_pod_monitoring()["metadata"]["namespace"] == "nvidia"


def test_gmp_query_url() -> None:
    assert r.gmp_query_url("p-1") == "https://monitoring.googleapis.com/v1/projects/p-1/location/global/prometheus"


# --------------------------------------------------------------------------------------------
# kubeconfig and values
# --------------------------------------------------------------------------------------------


def test_kubeconfig_uses_the_gke_auth_plugin_and_no_token() -> None:
    doc = json.loads(r.kubeconfig("llm-prod", "10.0.0.2", "Q0E=", "p-123456", "us-central1"))
    [cluster] = doc["clusters"]
    assert cluster["cluster"] == {"server": "https://10.0.0.2", "certificate-authority-data": "Q0E="}
    [user] = doc["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert "token" not in json.dumps(user).replace("gke-gcloud-auth-plugin", "")
    assert doc["current-context"] == "gke_p-123456_us-central1_llm-prod"


def test_dcgm_exporter_runs_on_gpu_nodes_with_gke_s_driver() -> None:
    values = r.dcgm_exporter_values(service_monitor=False)
    assert values["image"]["tag"] == f"{pins.DCGM_EXPORTER.tag}@{pins.DCGM_EXPORTER.digest}"
    assert all(r.GPU_NODE_LABELS[k] == v for k, v in values["nodeSelector"].items())
    for taint in r.gpu_pool_taints():
        assert _tolerates(values["tolerations"], taint)
    assert values["extraHostVolumes"] == [{"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"}]
    assert values["serviceMonitor"]["enabled"] is False


def test_keda_reads_gmp_as_its_google_service_account() -> None:
    values = r.keda_values(service_monitor=False, gcp_service_account="keda@p.iam.gserviceaccount.com")
    assert values["podIdentity"] == {"gcp": {"enabled": True, "gcpIAMServiceAccount": "keda@p.iam.gserviceaccount.com"}}
    assert "podIdentity" not in r.keda_values(service_monitor=True)


def test_internal_lb_service_is_passthrough_internal_and_keeps_the_client_address() -> None:
    body = r.internal_lb_service("llama-internal", "llm", {"app.kubernetes.io/name": "llama"}, 8000, ["10.40.18.0/26"], {"a": "b"})
    assert body["apiVersion"] == "v1" and body["kind"] == "Service"
    assert body["metadata"] == {
        "name": "llama-internal",
        "namespace": "llm",
        "labels": {"a": "b"},
        "annotations": {"networking.gke.io/load-balancer-type": "Internal"},
    }
    spec = body["spec"]
    assert (spec["type"], spec["externalTrafficPolicy"]) == ("LoadBalancer", "Local")
    assert spec["loadBalancerSourceRanges"] == ["10.40.18.0/26"]
    assert spec["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    with pytest.raises(ValueError, match="needs the source ranges"):
        r.internal_lb_service("x", "llm", {}, 8000, [])


def test_load_balancer_ip_reads_either_spelling_and_is_empty_before_assignment() -> None:
    assert r.load_balancer_ip({"load_balancer": {"ingress": [{"ip": "10.40.0.7"}]}}) == "10.40.0.7"
    assert r.load_balancer_ip({"loadBalancer": {"ingress": [{"ip": "10.40.0.8"}]}}) == "10.40.0.8"
    assert r.load_balancer_ip({"loadBalancer": {}}) == "" == r.load_balancer_ip(None)


def test_keda_triggers_carry_the_gmp_authentication_only_when_given() -> None:
    from pulumi_llm.kubernetes import autoscaling
    from pulumi_llm.runtimes.vllm import METRICS

    target = autoscaling.Target("apps/v1", "Deployment", "llama", "llm", "llama", METRICS, ingress="llama")
    policy = autoscaling.ScalingPolicy(0, 3, scale_to_zero=True)
    url = r.gmp_query_url("acme-llm-prod")
    auth = {"kind": "ClusterTriggerAuthentication", "name": r.GMP_TRIGGER_AUTHENTICATION}
    signed = autoscaling.scaled_object_spec(target, policy, url, auth)["triggers"]
    assert len(signed) == 2 and all(t["authenticationRef"] == auth for t in signed)
    assert all(t["metadata"]["serverAddress"] == url for t in signed)
    assert all("authenticationRef" not in t for t in autoscaling.scaled_object_spec(target, policy, url)["triggers"])
