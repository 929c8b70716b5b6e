"""GcpGpuVm: GPU VMs in a regional managed instance group behind an Application Load Balancer, under the
mock runtime with default providers disabled (every child must get the stack's provider through its parent)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest
import yaml
from gcp_iam_conditions import Resource, allowed, grants_of
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.gpu_vm import gcp_boot, router_vm
from pulumi_llm.gpu_vm.cloud_init import ready_within_seconds
from pulumi_llm.gpu_vm.gcp import (
    GcpGpuVm,
    GcpGpuVmArgs,
    GpuVmAlertThresholds,
    accelerator_type,
    alert_policies,
    data_disk_size_gib,
    default_disk_type,
    load_balancer_port,
)
from pulumi_llm.kubernetes import render
from pulumi_llm.kubernetes.router_render import RouterOptions
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import invokes
from pulumi_llm.runtimes import triton, vllm
from pulumi_llm.sizing import fit, get_instance_type
from pulumi_llm.storage.gcp import prefix_condition

ROOT = Path(__file__).resolve().parents[2]
REGION = "europe-west4"
PROJECT = invokes.GCP_PROJECT
BUCKET = "acme-llm-models"
KEY = "projects/acme-prod/locations/europe-west4/keyRings/llm/cryptoKeys/models"
SECRET = "projects/acme-prod/secrets/chat-api-key"
CHANNEL = "projects/acme-prod/notificationChannels/123"
PREFIX = "llama-3.1-8b/0e9e39f"
NETWORK = "projects/acme-prod/global/networks/llm"
SUBNET = "projects/acme-prod/regions/europe-west4/subnetworks/llm"
SA_EMAIL = f"prod-llm-vm@{PROJECT}.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{SA_EMAIL}"
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}


def spec_8b(secret: bool = True):
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g2-standard-8"), context=8192)
    options = vllm.VllmOptions(image=pins.VLLM_OPENAI.ref, api_key_secret="chat-api-key" if secret else None)
    return vllm.vllm_container("chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), options)


def spec_70b():
    the_fit = fit("llama-3.1-70b-instruct", get_instance_type("g2-standard-96"), quantization="fp8", context=8192)
    return vllm.vllm_container("big", the_fit, vllm.Weights("volume", "/models/llama-70b"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))


SPEC = spec_8b()


def make_args(**overrides: Any) -> GcpGpuVmArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "container": SPEC,
        "region": REGION,
        "machine_type": "g2-standard-8",
        "network_id": NETWORK,
        "subnet_id": SUBNET,
        "model_bucket": BUCKET,
        "model_prefix": PREFIX,
        "weights_revision": "0e9e39f",
        "kms_key_id": KEY,
        "secret_ids": {"chat-api-key": SECRET},
        "min_size": 1,
        "max_size": 4,
        "notification_channels": [CHANNEL],
    }
    values.update(overrides)
    return GcpGpuVmArgs(**values)


def plan(**overrides: Any):
    args = make_args(**overrides)
    seen: dict[str, Any] = {}

    def program() -> None:
        provider = gcp.Provider("gcp", project=PROJECT, region=REGION)
        vm = GcpGpuVm("llm", args, opts=pulumi.ResourceOptions(providers=[provider]))
        for key in ("url", "instance_group", "instance_group_manager", "backend_service", "service_account_email"):
            getattr(vm, key).apply(lambda v, key=key: seen.setdefault(key, v))

    return run(program, region=REGION), seen


@pytest.fixture(scope="module")
def planned():
    return plan()


@pytest.fixture(scope="module")
def records(planned):
    return planned[0]


@pytest.fixture(scope="module")
def named(records):
    return by_name(records)


def error(**overrides: Any) -> str:
    with pytest.raises(UserError) as caught:
        make_args(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- structure ------------------------------------------------------------------------------


INTERNAL_CHILDREN = [
    ("gcp:compute/address:Address", "llm-address"),
    ("gcp:compute/forwardingRule:ForwardingRule", "llm-http"),
    ("gcp:compute/healthCheck:HealthCheck", "llm-autoheal-hc"),
    ("gcp:compute/instanceTemplate:InstanceTemplate", "llm-template"),
    ("gcp:compute/regionAutoscaler:RegionAutoscaler", "llm-autoscaler"),
    ("gcp:compute/regionBackendService:RegionBackendService", "llm-backend"),
    ("gcp:compute/regionHealthCheck:RegionHealthCheck", "llm-hc"),
    ("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", "llm-mig"),
    ("gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy", "llm-http-proxy"),
    ("gcp:compute/regionUrlMap:RegionUrlMap", "llm-url-map"),
    ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "llm-disk-key"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-alert-5xx"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-alert-gpu-idle"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-alert-latency-p99"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-alert-queue"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-alert-server-down"),
    ("gcp:projects/iAMMember:IAMMember", "llm-log-writer"),
    ("gcp:projects/iAMMember:IAMMember", "llm-metric-writer"),
    ("gcp:secretmanager/secretIamMember:SecretIamMember", "llm-secret-chat-api-key"),
    ("gcp:serviceaccount/account:Account", "llm-sa"),
    ("gcp:storage/bucketIAMMember:BucketIAMMember", "llm-model-read"),
]


def test_children_are_exactly_these_and_use_the_stack_provider(records) -> None:
    component = only(records, "pulumi-llm:index:GcpGpuVm")
    assert children(records, component) == INTERNAL_CHILDREN
    provider = only(records, "pulumi:providers:gcp")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("gcp:"))


def test_outputs(planned) -> None:
    _, seen = planned
    assert seen["service_account_email"] == SA_EMAIL
    assert seen["instance_group"] == (
        f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/regions/{REGION}/instanceGroups/prod-llm-mig"
    )
    assert seen["instance_group_manager"].startswith("llm-mig-") and seen["backend_service"].startswith("llm-backend-")
    assert seen["url"].startswith("http://")


# --- instances ------------------------------------------------------------------------------


def template(named) -> dict[str, Any]:
    return named["llm-template"].inputs


def test_instances_have_no_external_ip_and_use_gvnic_in_the_private_subnet(named) -> None:
    [nic] = template(named)["networkInterfaces"]
    assert nic == {"subnetwork": SUBNET, "nicType": "GVNIC", "stackType": "IPV4_ONLY"}
    assert "accessConfigs" not in nic and "ipv6AccessConfigs" not in nic
    assert template(named)["tags"] == ["pulumi-llm-server"]


def test_machine_type_comes_with_its_gpus_and_terminates_on_host_maintenance(named) -> None:
    t = template(named)
    assert t["machineType"] == "g2-standard-8" and "guestAccelerators" not in t
    assert accelerator_type("g2-standard-8") == "nvidia-l4"
    assert t["scheduling"] == {
        "provisioningModel": "STANDARD",
        "preemptible": False,
        "automaticRestart": True,
        "onHostMaintenance": "TERMINATE",
    }


def test_spot_vms_by_arg() -> None:
    t = by_name(plan(spot=True)[0])["llm-template"].inputs
    assert t["scheduling"] == {
        "provisioningModel": "SPOT",
        "preemptible": True,
        "automaticRestart": False,
        "onHostMaintenance": "TERMINATE",
        "instanceTerminationAction": "DELETE",
    }


def test_shielded_vm_os_login_and_no_project_ssh_keys(named) -> None:
    t = template(named)
    assert t["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True}
    metadata = t["metadata"]
    assert metadata["enable-oslogin"] == "TRUE" and metadata["block-project-ssh-keys"] == "TRUE"
    assert metadata["serial-port-enable"] == "FALSE"
    assert metadata["install-nvidia-driver"] == "True"


def test_both_disks_are_encrypted_with_the_customer_key(named) -> None:
    boot, data = template(named)["disks"]
    for disk in (boot, data):
        assert disk["diskEncryptionKey"] == {"kmsKeySelfLink": KEY}
        assert disk["autoDelete"] is True and disk["diskType"] == "pd-balanced"
    assert boot["boot"] is True and boot["diskSizeGb"] == 150
    assert data["boot"] is False and data["deviceName"] == "llm-models"
    assert data["diskSizeGb"] == data_disk_size_gib(SPEC.weight_bytes) >= SPEC.weight_bytes * 1.5 / 2**30
    grant = named["llm-disk-key"].inputs
    assert grant == {
        "cryptoKeyId": KEY,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": f"serviceAccount:service-{invokes.GCP_PROJECT_NUMBER}@compute-system.iam.gserviceaccount.com",
    }


def test_boot_image_is_the_deep_learning_vm_family_resolved_at_up(named) -> None:
    image = invokes.answer(
        "gcp:compute/getImage:getImage", {"family": gcp_boot.DLVM_IMAGE_FAMILY, "project": gcp_boot.DLVM_IMAGE_PROJECT}, REGION
    )
    assert template(named)["disks"][0]["sourceImage"] == image["selfLink"]
    assert image["selfLink"].startswith(
        "https://www.googleapis.com/compute/v1/projects/deeplearning-platform-release/global/images/common-cu129-ubuntu-2204-nvidia-580-v"
    )


def test_a_pinned_image_and_hyperdisk_series() -> None:
    t = by_name(plan(image="projects/acme/global/images/llm-base-1")[0])["llm-template"].inputs
    assert t["disks"][0]["sourceImage"] == "projects/acme/global/images/llm-base-1"
    assert default_disk_type("a3-megagpu-8g") == default_disk_type("a3-ultragpu-8g") == "hyperdisk-balanced"
    assert default_disk_type("a2-ultragpu-1g") == "pd-balanced"


def test_user_data_is_the_boot_script_running_the_kubernetes_command(named) -> None:
    document = template(named)["metadata"]["user-data"]
    assert document.startswith("#cloud-config\n")
    written = {f["path"]: f["content"] for f in yaml.safe_load(document)["write_files"]}
    run_script = written["/usr/local/lib/llm-server/run"]
    k8s = render.container(SPEC)
    assert " \\\n  ".join(k8s["args"]) in run_script and " ".join(k8s["command"]) in run_script
    assert (
        f"gcloud storage rsync --recursive --quiet gs://{BUCKET}/{PREFIX} /opt/models/llama-3.1-8b"
        in written["/usr/local/lib/llm-server/sync-weights"]
    )
    assert f"--secret={SECRET}" in written["/usr/local/lib/llm-server/fetch-secrets"]
    assert "deployment: prod-llm" in written[gcp_boot.OPS_AGENT_CONFIG_SOURCE]
    assert "VLLM_API_KEY=" not in run_script
    assert document == gcp_boot.gcp_user_data(
        SPEC, bucket=BUCKET, key_prefix=PREFIX, deployment="prod-llm", revision="0e9e39f", secret_ids={"chat-api-key": SECRET}
    )


def test_instances_carry_the_common_labels_and_the_deployment(named) -> None:
    assert template(named)["labels"] == {
        "pulumi-llm_project": "pulumi-llm",
        "pulumi-llm_stack": "prod",
        "pulumi-llm_environment": "prod",
        "pulumi-llm_method": "gpu-vm",
        "pulumi-llm_model": "chat",
        "pulumi-llm_deployment": "prod-llm",
    }


# --- identity -------------------------------------------------------------------------------


def iam_records(records):
    kinds = (
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    )
    return [r for r in records if r.type in kinds]


def test_vms_run_as_their_own_service_account_with_the_cloud_platform_scope_only(named) -> None:
    assert named["llm-sa"].inputs["accountId"] == "prod-llm-vm"
    assert template(named)["serviceAccount"] == {"email": SA_EMAIL, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}


def test_model_read_is_object_viewer_on_the_bucket_under_the_prefix_condition(named) -> None:
    binding = named["llm-model-read"].inputs
    assert binding == {
        "bucket": BUCKET,
        "role": "roles/storage.objectViewer",
        "member": MEMBER,
        "condition": prefix_condition(BUCKET, PREFIX),
    }
    assert f"projects/_/buckets/{BUCKET}/objects/{PREFIX}/" in binding["condition"]["expression"]


def test_iam_is_least_privilege(records, named) -> None:
    grants = iam_records(records)
    assert {r.inputs["role"] for r in grants}.isdisjoint(PRIMITIVE_ROLES)
    project_roles = sorted(r.inputs["role"] for r in of_type(records, "gcp:projects/iAMMember:IAMMember"))
    # Project-wide: only the two roles that exist nowhere else; no storage or secret role on the project.
    assert project_roles == ["roles/logging.logWriter", "roles/monitoring.metricWriter"]
    assert all(
        r.inputs["project"] == PROJECT and r.inputs["member"] == MEMBER for r in of_type(records, "gcp:projects/iAMMember:IAMMember")
    )
    [secret] = of_type(records, "gcp:secretmanager/secretIamMember:SecretIamMember")
    assert secret.inputs == {"secretId": SECRET, "role": "roles/secretmanager.secretAccessor", "member": MEMBER}
    assert "condition" in named["llm-model-read"].inputs
    # Every grant names this one service account (or, for the disk key, the Compute Engine agent).
    assert {r.inputs["member"] for r in grants} == {
        MEMBER,
        f"serviceAccount:service-{invokes.GCP_PROJECT_NUMBER}@compute-system.iam.gserviceaccount.com",
    }


def test_no_secret_grant_without_secrets() -> None:
    records, _ = plan(container=spec_8b(secret=False), secret_ids={})
    assert of_type(records, "gcp:secretmanager/secretIamMember:SecretIamMember") == []


# --- the group ------------------------------------------------------------------------------


def test_regional_group_spreads_over_the_zones_and_updates_launch_first(named) -> None:
    mig = named["llm-mig"].inputs
    assert (mig["name"], mig["region"], mig["baseInstanceName"], mig["targetSize"]) == ("prod-llm-mig", REGION, "prod-llm", 1)
    assert mig["distributionPolicyZones"] == [f"{REGION}-a", f"{REGION}-b", f"{REGION}-c"]
    assert mig["distributionPolicyTargetShape"] == "BALANCED"
    assert mig["versions"][0]["instanceTemplate"].startswith("llm-template-")
    assert mig["namedPorts"] == [{"name": "http", "port": 8000}]
    assert mig["updatePolicy"] == {
        "type": "PROACTIVE",
        "minimalAction": "REPLACE",
        "maxSurgeFixed": 3,
        "maxUnavailableFixed": 0,
        "instanceRedistributionType": "NONE",
        "replacementMethod": "SUBSTITUTE",
    }


def test_autohealing_waits_for_provisioning_and_the_startup_budget(named) -> None:
    policy = named["llm-mig"].inputs["autoHealingPolicies"]
    assert policy["healthCheck"].startswith("llm-autoheal-hc-")
    assert policy["initialDelaySec"] == ready_within_seconds(SPEC) >= SPEC.startup.budget_seconds
    autoheal = named["llm-autoheal-hc"].inputs
    assert autoheal["httpHealthCheck"] == {"port": 8000, "requestPath": "/health"}
    assert (autoheal["checkIntervalSec"], autoheal["unhealthyThreshold"]) == (30, 4)


def test_explicit_zones_and_a_bigger_model() -> None:
    big = spec_70b()
    named = by_name(plan(container=big, machine_type="g2-standard-96", secret_ids={}, zones=[f"{REGION}-b", f"{REGION}-a"])[0])
    mig = named["llm-mig"].inputs
    assert mig["distributionPolicyZones"] == [f"{REGION}-a", f"{REGION}-b"] and mig["updatePolicy"]["maxSurgeFixed"] == 2
    assert mig["autoHealingPolicies"]["initialDelaySec"] == ready_within_seconds(big) >= big.startup.budget_seconds
    data = named["llm-template"].inputs["disks"][1]
    assert data["diskSizeGb"] == data_disk_size_gib(big.weight_bytes) > data_disk_size_gib(SPEC.weight_bytes)


def test_explicit_autohealing_delay_below_the_startup_budget_is_refused() -> None:
    budget = SPEC.startup.budget_seconds
    assert error(autohealing_initial_delay_seconds=budget - 1) == (
        f"gpu_vm.autohealing_initial_delay_seconds = {budget - 1}: allowed from the server's startup budget ({budget} s) to 3600"
    )


def test_autoscaler_scales_on_load_balancer_capacity_not_cpu(named) -> None:
    scaler = named["llm-autoscaler"].inputs
    assert scaler["target"].startswith("llm-mig-") and scaler["region"] == REGION
    policy = scaler["autoscalingPolicy"]
    assert (policy["minReplicas"], policy["maxReplicas"], policy["mode"]) == (1, 4, "ON")
    assert policy["loadBalancingUtilization"] == {"target": 0.8}
    assert "cpuUtilization" not in policy and "metrics" not in policy
    assert policy["cooldownPeriod"] == named["llm-mig"].inputs["autoHealingPolicies"]["initialDelaySec"]
    assert policy["scaleInControl"] == {"maxScaledInReplicas": {"fixed": 1}, "timeWindowSec": 1200}


# --- traffic --------------------------------------------------------------------------------


def test_internal_load_balancer_balances_least_request_with_long_timeouts(named, planned) -> None:
    backend = named["llm-backend"].inputs
    assert backend["loadBalancingScheme"] == "INTERNAL_MANAGED" and backend["region"] == REGION
    assert (backend["protocol"], backend["portName"], backend["timeoutSec"]) == ("HTTP", "http", 3600)
    assert backend["localityLbPolicy"] == "LEAST_REQUEST" and backend["connectionDrainingTimeoutSec"] == 60
    assert backend["healthChecks"].startswith("llm-hc-")
    assert backend["backends"] == [
        {"group": planned[1]["instance_group"], "balancingMode": "RATE", "maxRatePerInstance": 1, "capacityScaler": 1}
    ]
    hc = named["llm-hc"].inputs
    assert hc["httpHealthCheck"] == {"port": 8000, "requestPath": "/health"} and hc["region"] == REGION
    assert named["llm-url-map"].inputs["defaultService"].startswith("llm-backend-")
    assert named["llm-http-proxy"].inputs["urlMap"].startswith("llm-url-map-")


def test_forwarding_rule_is_internal_in_the_private_subnet(named) -> None:
    rule = named["llm-http"].inputs
    assert (rule["name"], rule["loadBalancingScheme"], rule["portRange"], rule["ipProtocol"]) == (
        "prod-llm-http",
        "INTERNAL_MANAGED",
        "80",
        "TCP",
    )
    assert (rule["network"], rule["subnetwork"]) == (NETWORK, SUBNET)
    assert rule["target"].startswith("llm-http-proxy-") and rule["ipAddress"].startswith("llm-address-")
    assert rule["allowGlobalAccess"] is False
    address = named["llm-address"].inputs
    assert (address["addressType"], address["subnetwork"]) == ("INTERNAL", SUBNET)


def test_the_forwarding_rule_waits_for_the_proxy_only_subnet() -> None:
    named = by_name(plan(proxy_subnet_id="projects/acme-prod/regions/europe-west4/subnetworks/proxy")[0])
    assert named["llm-http"].inputs["subnetwork"] == SUBNET


def test_internal_https_with_regional_certificates() -> None:
    records, seen = plan(ssl_certificate_ids=["projects/acme-prod/regions/europe-west4/sslCertificates/llm"])
    named = by_name(records)
    proxy = named["llm-https-proxy"].inputs
    assert proxy["sslCertificates"] == ["projects/acme-prod/regions/europe-west4/sslCertificates/llm"]
    assert proxy["sslPolicy"].startswith("llm-tls-policy-")
    assert (named["llm-tls-policy"].inputs["minTlsVersion"], named["llm-tls-policy"].inputs["profile"]) == ("TLS_1_2", "RESTRICTED")
    assert named["llm-https"].inputs["portRange"] == "443" and "llm-http" not in named
    assert seen["url"].startswith("https://")


def test_external_https_with_a_managed_certificate_redirect_and_uptime_check() -> None:
    records, seen = plan(external=True, domains=["llm.acme.example"])
    named = by_name(records)
    component = only(records, "pulumi-llm:index:GcpGpuVm")
    external = {name for _, name in children(records, component)} - {name for _, name in INTERNAL_CHILDREN}
    assert external == {"llm-cert", "llm-tls-policy", "llm-https-proxy", "llm-https", "llm-redirect", "llm-uptime", "llm-alert-uptime"}
    assert named["llm-backend"].type == "gcp:compute/backendService:BackendService"
    assert named["llm-backend"].inputs["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert named["llm-hc"].type == "gcp:compute/healthCheck:HealthCheck"
    assert named["llm-cert"].inputs["managed"] == {"domains": ["llm.acme.example"]}
    assert named["llm-https-proxy"].inputs["sslPolicy"].startswith("llm-tls-policy-")
    https = named["llm-https"].inputs
    assert (https["loadBalancingScheme"], https["portRange"], https["name"]) == ("EXTERNAL_MANAGED", "443", "prod-llm-https")
    assert named["llm-redirect"].inputs["defaultUrlRedirect"]["httpsRedirect"] is True
    assert named["llm-http"].inputs["target"].startswith("llm-http-proxy-")
    assert named["llm-uptime"].inputs["httpCheck"]["path"] == "/health"
    assert named["llm-uptime"].inputs["monitoredResource"]["labels"] == {"project_id": PROJECT, "host": "llm.acme.example"}
    assert seen["url"] == "https://llm.acme.example"
    # Instances stay private whatever the load balancer.
    assert "accessConfigs" not in named["llm-template"].inputs["networkInterfaces"][0]


# --- alerts ---------------------------------------------------------------------------------


def test_alerts_notify_the_channels_and_watch_health_errors_latency_queue_and_gpus(records, named) -> None:
    alerts = of_type(records, "gcp:monitoring/alertPolicy:AlertPolicy")
    assert len(alerts) == 5 and all(a.inputs["notificationChannels"] == [CHANNEL] for a in alerts)
    down = named["llm-alert-server-down"].inputs["conditions"][0]["conditionPrometheusQueryLanguage"]
    assert (down["query"], down["duration"]) == ('absent(vllm:num_requests_waiting{deployment="prod-llm"})', "600s")
    errors = named["llm-alert-5xx"].inputs["conditions"][0]["conditionThreshold"]
    assert errors["filter"] == (
        'metric.type = "loadbalancing.googleapis.com/https/internal/request_count" AND resource.type = "internal_http_lb_rule" '
        'AND resource.labels.forwarding_rule_name = "prod-llm-http" AND metric.labels.response_code_class = 500'
    )
    assert errors["thresholdValue"] == pytest.approx(5 / 60)
    latency = named["llm-alert-latency-p99"].inputs["conditions"][0]["conditionPrometheusQueryLanguage"]
    assert latency["query"] == (
        'histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{deployment="prod-llm"}[5m]))) > 30'
    )
    queue = named["llm-alert-queue"].inputs["conditions"][0]["conditionPrometheusQueryLanguage"]
    assert queue["query"] == 'max(vllm:num_requests_waiting{deployment="prod-llm"}) > 5'
    gpu = named["llm-alert-gpu-idle"].inputs["conditions"][0]["conditionThreshold"]
    assert gpu["filter"] == (
        'metric.type = "agent.googleapis.com/gpu/utilization" AND resource.type = "gce_instance" AND '
        'metadata.user_labels."pulumi-llm_deployment" = "prod-llm"'
    )
    assert (gpu["comparison"], gpu["thresholdValue"], gpu["duration"]) == ("COMPARISON_LT", 5, "3600s")


def test_triton_alerts_use_its_metric_names() -> None:
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g2-standard-8"), runtime="triton")
    spec = triton.triton_container("llama-8b", the_fit, image=pins.TRITON_VLLM.ref)
    policies = {
        p["key"]: p
        for p in alert_policies(spec, deployment="d", forwarding_rule="d-http", external=False, thresholds=GpuVmAlertThresholds())
    }
    down = policies["server-down"]["conditions"][0]["condition_prometheus_query_language"]["query"]
    assert down == 'absent(nv_inference_pending_request_count{deployment="d"})'
    assert policies["queue"]["conditions"][0]["condition_prometheus_query_language"]["query"] == (
        'max(nv_inference_pending_request_count{deployment="d"}) > 5'
    )


def test_latency_falls_back_to_the_load_balancer_without_a_ttft_histogram() -> None:
    spec = dataclasses.replace(SPEC, metrics=dataclasses.replace(SPEC.metrics, time_to_first_token=None))
    policies = {
        p["key"]: p
        for p in alert_policies(spec, deployment="d", forwarding_rule="d-https", external=True, thresholds=GpuVmAlertThresholds())
    }
    condition = policies["latency-p99"]["conditions"][0]["condition_threshold"]
    assert condition["filter"].startswith(
        'metric.type = "loadbalancing.googleapis.com/https/total_latencies" AND resource.type = "https_lb_rule"'
    )
    assert condition["threshold_value"] == 30000
    assert condition["aggregations"][0]["cross_series_reducer"] == "REDUCE_PERCENTILE_99"


# --- bad input ------------------------------------------------------------------------------


def test_a_machine_type_with_too_few_gpus_is_refused() -> None:
    assert error(container=spec_70b(), secret_ids={}, machine_type="g2-standard-48") == (
        "gpu_vm.machine_type = g2-standard-48: 4 GPUs, but the server needs 8 (its tensor-parallel size); "
        "choose a type with at least 8 GPUs, e.g. g2-standard-96"
    )


def test_a_gpu_type_not_offered_in_the_region_is_refused() -> None:
    assert error(machine_type="a3-ultragpu-8g") == (
        "gpu_vm.machine_type = a3-ultragpu-8g: not offered in europe-west4 per the sizing catalog; "
        "it is offered in us-central1, us-east4, europe-west1, asia-south1"
    )


def test_non_gpu_unknown_and_other_cloud_types_are_refused() -> None:
    assert error(machine_type="n2-standard-8") == (
        "gpu_vm.machine_type = n2-standard-8: not a GPU machine type; GCP GPU families in the catalog: a2, a3, g2 (e.g. g2-standard-8)"
    )
    assert error(machine_type="g6e.xlarge") == (
        "gpu_vm.machine_type = g6e.xlarge: a aws instance type; GcpGpuVm takes GCP GPU machine types (e.g. g2-standard-8)"
    )
    assert error(machine_type="g2-standard-7").startswith("gpu_vm.machine_type = g2-standard-7: unknown instance type 'g2-standard-7'")


def test_other_bad_input_is_refused_with_one_line() -> None:
    assert error(secret_ids={}) == "gpu_vm.secret_ids: the server reads secret 'chat-api-key'; map it to its Secret Manager secret id"
    assert error(min_size=3, max_size=2) == "gpu_vm: min_size 3 is above max_size 2; allowed: min_size ≤ max_size"
    assert error(zones=["us-central1-a"]) == "gpu_vm.zones = us-central1-a: not a zone of europe-west4 (e.g. europe-west4-a)"
    assert error(external=True) == (
        "gpu_vm.domains: an external load balancer (external: true) needs the domains of its managed certificate"
    )
    assert error(domains=["llm.acme.example"]) == "gpu_vm.domains: only for the external load balancer (external: true)"
    assert error(model_prefix="models/*").startswith("gpu_vm.model_prefix = 'models/*': give an object prefix like")
    assert error(data_disk_gib=10) == "gpu_vm.data_disk_gib = 10: the weights need at least 16 GiB"
    assert error(disk_type="pd-standard") == "gpu_vm.disk_type = pd-standard: allowed: pd-balanced, pd-ssd, hyperdisk-balanced"
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g2-standard-8"), context=8192)
    streamed = vllm.vllm_container("m", the_fit, vllm.Weights("object-store", "gs://b/m"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))
    assert error(container=streamed, secret_ids={}).startswith("gpu_vm.container: m: a GPU VM serves weights from its local disk")


# --- imports --------------------------------------------------------------------------------


def test_gcp_modules_import_no_other_cloud_sdk() -> None:
    probe = (
        "import json, sys\n"
        "import pulumi_llm.network.gcp, pulumi_llm.storage.gcp, pulumi_llm.gpu_vm.gcp, pulumi_llm.gpu_vm.gcp_boot\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "pulumi_gcp" in loaded
    assert "pulumi_aws" not in loaded and "pulumi_azure_native" not in loaded


def test_the_pure_boot_module_imports_no_cloud_sdk_at_all() -> None:
    probe = "import sys, pulumi_llm.gpu_vm.gcp_boot\nprint(sorted(m for m in ('pulumi_gcp', 'pulumi_aws', 'pulumi_azure_native') if m in sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- the vLLM router on every VM (router arg) --------------------------------------------------------


ROUTER = RouterOptions(policy="cache_aware")
ROUTER_CHILDREN = {
    "llm-group-reader-role",
    "llm-group-reader",
    "llm-lister-role",
    "llm-lister",
    "llm-allow-peers",
    "llm-allow-autohealing",
    "llm-alert-router-no-workers",
}


@pytest.fixture(scope="module")
def routed():
    records, seen = plan(router=ROUTER)
    return records, by_name(records), seen


def test_router_adds_only_the_lister_grant_and_the_model_port_rules(routed) -> None:
    records, _, _ = routed
    component = only(records, "pulumi-llm:index:GcpGpuVm")
    added = {name for _, name in children(records, component)} - {name for _, name in INTERNAL_CHILDREN}
    assert added == ROUTER_CHILDREN
    # Without the arg nothing of it: the load balancer calls the servers as before.
    assert not ROUTER_CHILDREN & {name for _, name in INTERNAL_CHILDREN}


INSTANCE = "compute.googleapis.com/Instance"


def _instance(name: str, zone: str = f"{REGION}-a") -> Resource:
    # An instance's resource.name in IAM Conditions: projects/PROJECT/zones/ZONE/instances/NAME.
    return Resource(INSTANCE, f"projects/{PROJECT}/zones/{zone}/instances/{name}")


def test_the_lister_roles_hold_exactly_what_listing_the_group_needs(routed) -> None:
    _, named, _ = routed
    group_role, instance_role = named["llm-group-reader-role"].inputs, named["llm-lister-role"].inputs
    assert group_role["permissions"] == ["compute.instanceGroupManagers.get"] and group_role["project"] == PROJECT
    assert instance_role["permissions"] == ["compute.instances.get"] and instance_role["project"] == PROJECT
    assert (group_role["roleId"], instance_role["roleId"]) == ("pulumiLlmGroupReader_prod_llm", "pulumiLlmLister_prod_llm")
    group_grant, instance_grant = named["llm-group-reader"].inputs, named["llm-lister"].inputs
    assert group_grant["role"] == f"projects/{PROJECT}/roles/pulumiLlmGroupReader_prod_llm" and "condition" not in group_grant
    assert instance_grant["role"] == f"projects/{PROJECT}/roles/pulumiLlmLister_prod_llm"
    assert group_grant["member"] == instance_grant["member"] == MEMBER and group_grant["project"] == instance_grant["project"] == PROJECT


def test_the_vms_may_list_their_group_and_read_its_instances_only(routed) -> None:
    """Evaluated, not compared as text: the group call must not hang on a condition (a managed instance group
    carries no resource attributes in IAM Conditions), and of all instances only this group's are readable."""
    _, named, _ = routed
    grants = grants_of({n: r.inputs for n, r in named.items()}, MEMBER)
    mig = named["llm-mig"].inputs
    group = Resource(
        "compute.googleapis.com/RegionInstanceGroupManager",
        f"projects/{PROJECT}/regions/{REGION}/instanceGroupManagers/{mig['name']}",
        has_attributes=False,
    )
    assert allowed(grants, "compute.instanceGroupManagers.get", group)
    base = mig["baseInstanceName"]
    # The group names its VMs base + "-" + 4 random characters, in any zone of the region.
    for name, zone in ((f"{base}-x7k2", f"{REGION}-a"), (f"{base}-0a9z", f"{REGION}-c")):
        assert allowed(grants, "compute.instances.get", _instance(name, zone)), name
    # A sibling deployment whose name extends this one, another deployment, a longer suffix: not readable.
    for name in (f"{base}-v2-x7k2", f"{base}-x7k2a", "prod-other-x7k2", base):
        assert not allowed(grants, "compute.instances.get", _instance(name)), name
    # The group permission alone is unconditional: no instance is readable through an unconditional grant.
    assert {p for g in grants if g.expression is None for p in g.permissions} == {"compute.instanceGroupManagers.get"}


def test_the_boot_script_runs_the_router_listing_this_group(routed) -> None:
    _, named, _ = routed
    document = named["llm-template"].inputs["metadata"]["user-data"]
    written = {f["path"]: f["content"] for f in yaml.safe_load(document)["write_files"]}
    lister = written[router_vm.LISTER]
    assert f"{gcp_boot.LISTER_PATH} --region {REGION} --group prod-llm-mig" in lister
    assert written[gcp_boot.LISTER_PATH] == gcp_boot.lister_source()
    assert router_vm.RECONCILER in written and f"/etc/systemd/system/{router_vm.UNIT}" in written
    # The Ops Agent scrapes the router too, with the same deployment label.
    jobs = yaml.safe_load(written[gcp_boot.OPS_AGENT_CONFIG_SOURCE])["metrics"]["receivers"]["llm_server"]["config"]["scrape_configs"]
    router_job = only_one([j for j in jobs if j["job_name"] == gcp_boot.ROUTER_SCRAPE_JOB])
    assert router_job["static_configs"] == [{"targets": [router_vm.METRICS_TARGET], "labels": {"deployment": "prod-llm"}}]
    assert "vllm_router_active_workers" in router_job["metric_relabel_configs"][0]["regex"]


def only_one(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def test_the_load_balancer_calls_and_checks_the_routers_while_autohealing_checks_the_server(routed) -> None:
    _, named, _ = routed
    assert named["llm-mig"].inputs["namedPorts"] == [{"name": "http", "port": router_vm.ROUTER_PORT}]
    assert named["llm-hc"].inputs["httpHealthCheck"] == {"port": router_vm.ROUTER_PORT, "requestPath": "/readiness"}
    assert named["llm-autoheal-hc"].inputs["httpHealthCheck"] == {"port": 8000, "requestPath": "/health"}
    assert named["llm-mig"].inputs["autoHealingPolicies"]["healthCheck"].startswith("llm-autoheal-hc")


def test_the_url_map_forwards_the_api_only_never_the_router_worker_routes(routed) -> None:
    _, named, _ = routed
    url_map = named["llm-url-map"].inputs
    assert "defaultService" not in url_map and url_map["defaultUrlRedirect"]["pathRedirect"] == "/v1/models"
    [matcher] = url_map["pathMatchers"]
    [rule] = matcher["pathRules"]
    assert rule["paths"] == ["/v1/*", "/readiness"] and rule["service"].startswith("llm-backend-")
    assert matcher["defaultUrlRedirect"]["pathRedirect"] == "/v1/models"
    assert url_map["hostRules"] == [{"hosts": ["*"], "pathMatcher": "api"}]


def test_the_model_port_admits_the_groups_own_vms_and_the_autohealing_checkers_only(routed) -> None:
    _, named, _ = routed
    peers = named["llm-allow-peers"].inputs
    assert peers["sourceServiceAccounts"] == peers["targetServiceAccounts"] == [SA_EMAIL]
    assert "sourceRanges" not in peers and peers["allows"] == [{"protocol": "tcp", "ports": ["8000"]}]
    healing = named["llm-allow-autohealing"].inputs
    assert sorted(healing["sourceRanges"]) == ["130.211.0.0/22", "35.191.0.0/16"]
    assert healing["targetServiceAccounts"] == [SA_EMAIL] and healing["allows"] == [{"protocol": "tcp", "ports": ["8000"]}]
    assert peers["network"] == healing["network"] == NETWORK and peers["direction"] == healing["direction"] == "INGRESS"


def test_external_uptime_check_probes_the_routers_readiness() -> None:
    named = by_name(plan(router=ROUTER, external=True, domains=["llm.acme.example"])[0])
    assert named["llm-uptime"].inputs["httpCheck"]["path"] == "/readiness"
    assert "/readiness" in named["llm-alert-uptime"].inputs["displayName"]
    assert named["llm-url-map"].inputs["pathMatchers"][0]["pathRules"][0]["paths"] == ["/v1/*", "/readiness"]


def triton_spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g2-standard-8"), runtime="triton")
    return triton.triton_container("llama-8b", the_fit, image=pins.TRITON_VLLM.ref)


def test_a_triton_server_gets_no_router_whatever_the_arg() -> None:
    records, _ = plan(router=ROUTER, container=triton_spec(), secret_ids={})
    names = {r.name for r in records}
    assert not ROUTER_CHILDREN & names
    assert by_name(records)["llm-mig"].inputs["namedPorts"][0]["port"] == 8000


def test_load_balancer_port_is_the_routers_only_for_a_routed_vllm_server() -> None:
    assert load_balancer_port(SPEC, ROUTER) == router_vm.ROUTER_PORT
    assert load_balancer_port(SPEC, None) == 8000
    assert load_balancer_port(triton_spec(), ROUTER) == 8000  # the router speaks vLLM's API only
