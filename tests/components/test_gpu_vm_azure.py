"""AzureGpuVm: a Uniform GPU scale set behind an internal Standard Load Balancer, under the mock runtime with
default providers disabled (every child must get the stack's provider through its parent)."""

from __future__ import annotations

import base64
import dataclasses
import json
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from helpers import by_name, children, of_type, only, run
from pulumi_azure_native.provider import Provider as AzureProvider
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.gpu_vm import azure_boot, router_vm
from pulumi_llm.gpu_vm.azure import (
    UNUSABLE_SSH_PUBLIC_KEY,
    AzureGpuVm,
    AzureGpuVmArgs,
    AzureImage,
    AzureScaleSchedule,
    data_disk_size_gib,
    iso_minutes,
    subnet_ports,
)
from pulumi_llm.kubernetes import render, resilience
from pulumi_llm.kubernetes.router_render import RouterOptions
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import invokes
from pulumi_llm.offline.recorder import PlanMocks
from pulumi_llm.runtimes import vllm
from pulumi_llm.security.azure import (
    KEY_VAULT_SECRETS_USER,
    MONITORING_METRICS_PUBLISHER,
    READER,
    ROLE_NAMES,
    STORAGE_BLOB_DATA_READER,
)
from pulumi_llm.sizing import fit, get_instance_type

LOCATION = "westeurope"
RG = "rg-llm"
SUB = f"/subscriptions/{invokes.AZURE_SUBSCRIPTION}/resourceGroups/{RG}"
COMPUTE_SUBNET = f"{SUB}/providers/Microsoft.Network/virtualNetworks/net/subnets/compute"
LB_SUBNET = f"{SUB}/providers/Microsoft.Network/virtualNetworks/net/subnets/lb"
CONTAINER_ID = f"{SUB}/providers/Microsoft.Storage/storageAccounts/acmellmmodels/blobServices/default/containers/models"
CONTAINER_URL = "https://acmellmmodels.blob.core.windows.net/models"
VAULT_ID = f"{SUB}/providers/Microsoft.KeyVault/vaults/acme-llm-kv"
VAULT_URI = "https://acme-llm-kv.vault.azure.net/"
PREFIX = "llama-3.1-8b/0e9e39f"
LB_ID = f"{SUB}/providers/Microsoft.Network/loadBalancers/llm-lb"
ROLE_DEFINITIONS = f"/subscriptions/{invokes.AZURE_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",  # Key Vault Secrets Officer
}
ROOT = Path(__file__).resolve().parents[2]


def shape_azure_outputs(original):  # noqa: ANN001, ANN201
    """Shape what Azure computes and the plan's mocks (which echo inputs) lack: an identity's principal and
    client ids, and `identity.userAssignedIdentities` as the map Azure returns for the list we send."""

    def new_resource(self: PlanMocks, args):  # type: ignore[no-untyped-def]
        resource_id, state = original(self, args)
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            state.update(principalId=principal_of(args.name), clientId=client_of(args.name))
        identity = state.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            state["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}
        return resource_id, state

    return new_resource


@pytest.fixture(scope="module", autouse=True)
def azure_computed_outputs() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PlanMocks, "new_resource", shape_azure_outputs(PlanMocks.new_resource))
        yield


def principal_of(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal/{name}"))


def client_of(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{name}"))


def spec_8b(secret: bool = True):
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("Standard_NC24ads_A100_v4"), context=8192)
    options = vllm.VllmOptions(image=pins.VLLM_OPENAI.ref, api_key_secret="chat-api-key" if secret else None)
    return vllm.vllm_container("chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), options)


def spec_70b():
    the_fit = fit("llama-3.1-70b-instruct", get_instance_type("Standard_NC96ads_A100_v4"), quantization="fp8", context=8192)
    return vllm.vllm_container("big", the_fit, vllm.Weights("volume", "/models/llama-70b"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))


SPEC = spec_8b()


def make_args(**overrides: Any) -> AzureGpuVmArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "container": SPEC,
        "location": LOCATION,
        "resource_group_name": RG,
        "vm_size": "Standard_NC24ads_A100_v4",
        "subnet_id": COMPUTE_SUBNET,
        "lb_subnet_id": LB_SUBNET,
        "frontend_private_ip": "10.50.80.10",
        "model_container_id": CONTAINER_ID,
        "model_container_url": CONTAINER_URL,
        "model_key_prefix": PREFIX,
        "weights_revision": "0e9e39f",
        "key_vault_id": VAULT_ID,
        "key_vault_uri": VAULT_URI,
        "secret_names": {"chat-api-key": "chat-api-key"},
        "min_count": 1,
        "max_count": 4,
        "alert_emails": ("llm-oncall@example.com",),
    }
    values.update(overrides)
    return AzureGpuVmArgs(**values)


def plan(**overrides: Any):
    args = make_args(**overrides)
    outputs: dict[str, Any] = {}

    def program() -> None:
        provider = AzureProvider("azure", location=LOCATION)
        vm = AzureGpuVm("llm", args, opts=pulumi.ResourceOptions(providers=[provider]))
        vm.url.apply(lambda url: outputs.__setitem__("url", url))
        vm.identity_principal_id.apply(lambda p: outputs.__setitem__("principal", p))

    records = run(program, region=LOCATION)
    return records, outputs


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


def custom_data(named) -> str:  # noqa: ANN001
    encoded = named["llm-vmss"].inputs["virtualMachineProfile"]["osProfile"]["customData"]
    return base64.b64decode(encoded).decode()


def written(document: str) -> dict[str, str]:
    return {f["path"]: f["content"] for f in yaml.safe_load(document)["write_files"]}


# --- structure ------------------------------------------------------------------------------


def test_children_are_exactly_these_and_use_the_stack_provider(records) -> None:
    component = only(records, "pulumi-llm:index:AzureGpuVm")
    assert children(records, component) == [
        ("azure-native:authorization:RoleAssignment", "llm-blob-reader"),
        ("azure-native:authorization:RoleAssignment", "llm-metrics-publisher"),
        ("azure-native:authorization:RoleAssignment", "llm-secret-reader-chat-api-key"),
        ("azure-native:compute:VirtualMachineScaleSet", "llm-vmss"),
        ("azure-native:managedidentity:UserAssignedIdentity", "llm-identity"),
        ("azure-native:monitor:ActionGroup", "llm-alerts"),
        ("azure-native:monitor:AutoscaleSetting", "llm-autoscale"),
        ("azure-native:monitor:MetricAlert", "llm-alert-gpu-idle"),
        ("azure-native:monitor:MetricAlert", "llm-alert-gpu-memory"),
        ("azure-native:monitor:MetricAlert", "llm-alert-lb-health-probe"),
        ("azure-native:monitor:MetricAlert", "llm-alert-requests-waiting"),
        ("azure-native:monitor:MetricAlert", "llm-alert-vm-availability"),
        ("azure-native:network:LoadBalancer", "llm-lb"),
    ]
    provider = only(records, "pulumi:providers:azure-native")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("azure-native:"))


def test_outputs_name_the_private_url_and_the_identity(planned) -> None:
    _, outputs = planned
    assert outputs == {"url": "http://10.50.80.10", "principal": principal_of("llm-identity")}


# --- no public IPs, private load balancer -----------------------------------------------------


def test_no_public_ip_anywhere(records, named) -> None:
    assert not of_type(records, "azure-native:network:PublicIPAddress")
    [nic] = named["llm-vmss"].inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
    for ip_config in nic["ipConfigurations"]:
        assert "publicIPAddressConfiguration" not in ip_config
        assert ip_config["subnet"] == {"id": COMPUTE_SUBNET}
    [frontend] = named["llm-lb"].inputs["frontendIPConfigurations"]
    assert "publicIPAddress" not in frontend and "publicIPPrefix" not in frontend
    assert frontend == {
        "name": "frontend",
        "subnet": {"id": LB_SUBNET},
        "privateIPAllocationMethod": "Static",
        "privateIPAddress": "10.50.80.10",
    }
    assert "AADSSHLoginForLinux" in json.dumps(named["llm-vmss"].inputs)  # the way in: Entra ID + Bastion/VNet, not a public IP


def test_internal_standard_load_balancer_probes_the_servers_health_path(named) -> None:
    lb = named["llm-lb"].inputs
    assert lb["sku"] == {"name": "Standard", "tier": "Regional"} and lb["loadBalancerName"] == "llm-lb"
    assert lb["probes"] == [
        {"name": "health", "protocol": "Http", "port": 8000, "requestPath": "/health", "intervalInSeconds": 15, "probeThreshold": 2}
    ]
    [rule] = lb["loadBalancingRules"]
    assert (rule["protocol"], rule["frontendPort"], rule["backendPort"]) == ("Tcp", 80, 8000)
    assert rule["idleTimeoutInMinutes"] == 30 and rule["enableTcpReset"] is True
    assert rule["probe"] == {"id": f"{LB_ID}/probes/health"}
    assert rule["backendAddressPool"] == {"id": f"{LB_ID}/backendAddressPools/servers"}
    assert rule["frontendIPConfiguration"] == {"id": f"{LB_ID}/frontendIPConfigurations/frontend"}


def test_idle_timeout_is_capped_at_30_minutes() -> None:
    with pytest.raises(Exception, match="less than or equal to 30"):
        make_args(idle_timeout_minutes=60)


# --- identity and least privilege -------------------------------------------------------------


def test_identity_gets_exactly_three_scoped_roles_and_nothing_broad(records) -> None:
    assignments = {r.name: r.inputs for r in of_type(records, "azure-native:authorization:RoleAssignment")}
    principal = principal_of("llm-identity")
    role_of = {name: a["roleDefinitionId"].removeprefix(ROLE_DEFINITIONS) for name, a in assignments.items()}
    assert role_of == {
        "llm-blob-reader": STORAGE_BLOB_DATA_READER,
        "llm-secret-reader-chat-api-key": KEY_VAULT_SECRETS_USER,
        "llm-metrics-publisher": MONITORING_METRICS_PUBLISHER,
    }
    assert {ROLE_NAMES[r] for r in role_of.values()} == {
        "Storage Blob Data Reader",
        "Key Vault Secrets User",
        "Monitoring Metrics Publisher",
    }
    assert assignments["llm-blob-reader"]["scope"] == CONTAINER_ID  # the container, not the account
    assert assignments["llm-secret-reader-chat-api-key"]["scope"] == f"{VAULT_ID}/secrets/chat-api-key"  # one secret, not the vault
    assert assignments["llm-metrics-publisher"]["scope"].startswith("llm-vmss-")  # its own scale set
    for assignment in assignments.values():
        assert (assignment["principalId"], assignment["principalType"]) == (principal, "ServicePrincipal")
        assert assignment["roleDefinitionId"].startswith(ROLE_DEFINITIONS)
        assert assignment["roleDefinitionId"].removeprefix(ROLE_DEFINITIONS) not in BROAD_ROLES
        assert assignment["scope"] not in (SUB, VAULT_ID, f"/subscriptions/{invokes.AZURE_SUBSCRIPTION}")
        assert "/storageAccounts/acmellmmodels" != assignment["scope"][-len("/storageAccounts/acmellmmodels") :]


def test_scale_set_uses_the_user_assigned_identity_and_a_roleless_system_one_for_entra_login(named) -> None:
    identity = named["llm-vmss"].inputs["identity"]
    assert identity["type"] == "SystemAssigned, UserAssigned"
    assert [i.split("-")[:2] for i in identity["userAssignedIdentities"]] == [["llm", "identity"]]
    without_entra = by_name(plan(entra_id_login=False)[0])["llm-vmss"].inputs
    assert without_entra["identity"]["type"] == "UserAssigned"
    assert without_entra["virtualMachineProfile"]["extensionProfile"]["extensions"] == []


# --- the scale set --------------------------------------------------------------------------


def test_uniform_scale_set_of_the_catalog_size_with_the_hpc_image(named) -> None:
    vmss = named["llm-vmss"].inputs
    assert vmss["orchestrationMode"] == "Uniform"
    assert vmss["sku"] == {"name": "Standard_NC24ads_A100_v4", "tier": "Standard", "capacity": 1}
    assert vmss["overprovision"] is False
    assert vmss["virtualMachineProfile"]["storageProfile"]["imageReference"] == {
        "publisher": "microsoft-dsvm",
        "offer": "ubuntu-hpc",
        "sku": "2204",
        "version": "22.04.2026082801",
    }
    assert vmss["virtualMachineProfile"]["priority"] == "Regular"
    assert "evictionPolicy" not in vmss["virtualMachineProfile"] and "spotRestorePolicy" not in vmss


def test_size_is_canonicalized_from_the_catalog() -> None:
    vmss = by_name(plan(vm_size="standard_nc24ads_a100_v4")[0])["llm-vmss"].inputs
    assert vmss["sku"]["name"] == "Standard_NC24ads_A100_v4"


def test_disks_are_encrypted_at_host_and_the_model_cache_is_sized_from_the_weights(named) -> None:
    profile = named["llm-vmss"].inputs["virtualMachineProfile"]
    assert profile["securityProfile"] == {"encryptionAtHost": True}
    [data] = profile["storageProfile"]["dataDisks"]
    assert (data["lun"], data["createOption"], data["caching"]) == (0, "Empty", "ReadOnly")
    assert data["diskSizeGB"] == data_disk_size_gib(SPEC.weight_bytes) and data["managedDisk"] == {"storageAccountType": "Premium_LRS"}
    assert profile["storageProfile"]["osDisk"]["managedDisk"] == {"storageAccountType": "Premium_LRS"}


def test_a_disk_encryption_set_covers_os_and_data_disks() -> None:
    des = f"{SUB}/providers/Microsoft.Compute/diskEncryptionSets/llm-cmk"
    storage = by_name(plan(disk_encryption_set_id=des)[0])["llm-vmss"].inputs["virtualMachineProfile"]["storageProfile"]
    assert storage["osDisk"]["managedDisk"]["diskEncryptionSet"] == {"id": des}
    assert storage["dataDisks"][0]["managedDisk"]["diskEncryptionSet"] == {"id": des}


def test_a_bigger_model_gets_a_bigger_model_cache() -> None:
    big = spec_70b()
    vmss = by_name(plan(container=big, vm_size="Standard_NC96ads_A100_v4", secret_names={}, key_vault_id=None, key_vault_uri=None)[0])[
        "llm-vmss"
    ].inputs
    assert vmss["virtualMachineProfile"]["storageProfile"]["dataDisks"][0]["diskSizeGB"] == data_disk_size_gib(big.weight_bytes) > 50


def test_ssh_passwords_are_off_and_no_usable_admin_key_is_installed(named) -> None:
    linux = named["llm-vmss"].inputs["virtualMachineProfile"]["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert "adminPassword" not in named["llm-vmss"].inputs["virtualMachineProfile"]["osProfile"]
    [key] = linux["ssh"]["publicKeys"]
    assert key == {"path": "/home/llmadmin/.ssh/authorized_keys", "keyData": UNUSABLE_SSH_PUBLIC_KEY}
    [extension] = named["llm-vmss"].inputs["virtualMachineProfile"]["extensionProfile"]["extensions"]
    assert (extension["publisher"], extension["type"], extension["typeHandlerVersion"]) == (
        "Microsoft.Azure.ActiveDirectory",
        "AADSSHLoginForLinux",
        "1.0",
    )


def test_the_unusable_key_is_a_deterministic_2048_bit_rsa_key(tmp_path) -> None:
    kind, blob, comment = UNUSABLE_SSH_PUBLIC_KEY.split(" ")
    assert (kind, comment) == ("ssh-rsa", "pulumi-llm-no-private-key")
    raw = base64.b64decode(blob)
    fields = []
    while raw:
        size = int.from_bytes(raw[:4], "big")
        fields.append(raw[4 : 4 + size])
        raw = raw[4 + size :]
    assert fields[0] == b"ssh-rsa" and int.from_bytes(fields[1], "big") == 65537
    assert int.from_bytes(fields[2], "big").bit_length() == 2048
    keygen = subprocess.run(["ssh-keygen", "-l", "-f", "/dev/stdin"], input=UNUSABLE_SSH_PUBLIC_KEY, capture_output=True, text=True)
    if keygen.returncode != 127 and "not found" not in keygen.stderr:
        assert keygen.stdout.startswith("2048 "), keygen.stderr


def test_an_ephemeral_admin_key_can_be_given() -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ci-ephemeral"
    vmss = by_name(plan(admin_ssh_public_key=key)[0])["llm-vmss"].inputs
    assert vmss["virtualMachineProfile"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] == key


def test_spot_is_evicted_by_deletion_at_any_price() -> None:
    vmss = by_name(plan(spot=True)[0])["llm-vmss"].inputs
    profile = vmss["virtualMachineProfile"]
    assert (profile["priority"], profile["evictionPolicy"], profile["billingProfile"]) == ("Spot", "Delete", {"maxPrice": -1})
    assert vmss["spotRestorePolicy"] == {"enabled": True, "restoreTimeout": "PT1H"}
    assert "scheduledEventsProfile" not in profile  # Azure: no terminate notification on spot VMs


def test_deletes_wait_for_the_drain_handler_within_azures_15_minutes(named) -> None:
    # SPEC has no drain flag (stop_seconds 60): Azure's floor of 5 minutes. A 3600 s longest stream: capped at 15.
    notice = named["llm-vmss"].inputs["virtualMachineProfile"]["scheduledEventsProfile"]["terminateNotificationProfile"]
    assert notice == {"enable": True, "notBeforeTimeout": "PT5M"}
    long = dataclasses.replace(SPEC, args=(*SPEC.args, *resilience.drain_args("vllm", resilience.decide_drain(3600))))
    profile = by_name(plan(container=long)[0])["llm-vmss"].inputs["virtualMachineProfile"]
    assert profile["scheduledEventsProfile"]["terminateNotificationProfile"]["notBeforeTimeout"] == "PT15M"
    assert written(base64.b64decode(profile["osProfile"]["customData"]).decode())[azure_boot.DRAIN_HANDLER] == azure_boot.drain_source()


def test_health_probe_drives_rolling_upgrades_and_repairs(named) -> None:
    vmss = named["llm-vmss"].inputs
    assert vmss["virtualMachineProfile"]["networkProfile"]["healthProbe"] == {"id": f"{LB_ID}/probes/health"}
    [nic] = vmss["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
    assert nic["enableAcceleratedNetworking"] is True
    assert nic["ipConfigurations"][0]["loadBalancerBackendAddressPools"] == [{"id": f"{LB_ID}/backendAddressPools/servers"}]
    upgrade = vmss["upgradePolicy"]
    assert upgrade["mode"] == "Rolling" and upgrade["rollingUpgradePolicy"]["maxSurge"] is True
    repairs = vmss["automaticRepairsPolicy"]
    assert repairs["enabled"] is True and repairs["repairAction"] == "Replace"
    assert 10 <= int(repairs["gracePeriod"].removeprefix("PT").removesuffix("M")) <= 90


def test_custom_data_is_the_shared_boot_script_running_the_kubernetes_command(named) -> None:
    document = custom_data(named)
    assert document.startswith("#cloud-config\n")
    files = written(document)
    script = files["/usr/local/lib/llm-server/run"]
    tokens = shlex.split(script.split("\nexec ", 1)[1].replace(" \\\n", " "))
    k8s = render.container(SPEC)
    assert tokens[tokens.index(SPEC.image) + 1 :] == k8s["command"] + k8s["args"]
    client = client_of("llm-identity")
    sync = files["/usr/local/lib/llm-server/sync-weights"]
    assert f"AZCOPY_MSI_CLIENT_ID={client}" in sync and f"sync {CONTAINER_URL}/{PREFIX} /opt/models/llama-3.1-8b" in sync
    fetch = files["/usr/local/lib/llm-server/fetch-secrets"]
    assert f"secret {VAULT_URI}secrets/chat-api-key --client-id {client}" in fetch
    assert json.loads(files[azure_boot.METRICS_CONFIG])["client_id"] == client
    assert "/etc/systemd/system/llm-server.service.d/10-metadata-guard.conf" in files  # the metadata guard first
    assert "VLLM_API_KEY=" not in script


# --- scaling and alerts ---------------------------------------------------------------------


def test_autoscale_on_the_servers_queue_without_schedule(named) -> None:
    setting = named["llm-autoscale"].inputs
    assert setting["targetResourceUri"].startswith("llm-vmss-") and setting["enabled"] is True
    [profile] = setting["profiles"]
    assert profile["capacity"] == {"minimum": "1", "maximum": "4", "default": "1"}
    out, scale_in = profile["rules"]
    assert out["metricTrigger"]["metricName"] == "requests_waiting" and out["metricTrigger"]["operator"] == "GreaterThan"
    assert out["metricTrigger"]["threshold"] == 5 and out["metricTrigger"]["metricNamespace"] == "PulumiLLM/ModelServer"
    assert out["metricTrigger"]["metricResourceUri"] == setting["targetResourceUri"]
    assert out["scaleAction"]["direction"] == "Increase" and out["scaleAction"]["value"] == "1"
    assert scale_in["metricTrigger"]["metricName"] == "requests_running" and scale_in["metricTrigger"]["timeWindow"] == "PT30M"
    assert scale_in["scaleAction"] == {"direction": "Decrease", "type": "ChangeCount", "value": "1", "cooldown": "PT30M"}


def test_a_schedule_scales_to_zero_and_back() -> None:
    schedule = AzureScaleSchedule(start="07:30", stop="20:00", time_zone="W. Europe Standard Time")
    setting = by_name(plan(schedule=schedule, min_count=1, max_count=2)[0])["llm-autoscale"].inputs
    profiles = {p["name"]: p for p in setting["profiles"]}
    assert list(profiles) == ["serving", "off", "serving-on-schedule"]
    assert profiles["off"]["capacity"] == {"minimum": "0", "maximum": "0", "default": "0"} and profiles["off"]["rules"] == []
    assert profiles["off"]["recurrence"] == {
        "frequency": "Week",
        "schedule": {
            "timeZone": "W. Europe Standard Time",
            "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
            "hours": [20],
            "minutes": [0],
        },
    }
    assert profiles["serving-on-schedule"]["recurrence"]["schedule"]["hours"] == [7]
    assert profiles["serving-on-schedule"]["recurrence"]["schedule"]["minutes"] == [30]
    assert profiles["serving-on-schedule"]["rules"] == profiles["serving"]["rules"]
    assert profiles["serving-on-schedule"]["capacity"] == {"minimum": "1", "maximum": "2", "default": "1"}


def test_alerts_cover_vm_availability_lb_probe_gpu_and_queue_and_notify_by_email(named, records) -> None:
    group = named["llm-alerts"].inputs
    assert group["emailReceivers"] == [{"name": "email-1", "emailAddress": "llm-oncall@example.com", "useCommonAlertSchema": True}]
    assert group["location"] == "Global" and len(group["groupShortName"]) <= 12
    alerts = {r.name.removeprefix("llm-alert-"): r.inputs for r in of_type(records, "azure-native:monitor:MetricAlert")}
    criteria = {key: a["criteria"]["allOf"][0] for key, a in alerts.items()}
    assert {k: (c["metricName"], c["operator"], c["threshold"]) for k, c in criteria.items()} == {
        "vm-availability": ("VmAvailabilityMetric", "LessThan", 1),
        "lb-health-probe": ("DipAvailability", "LessThan", 50),
        "gpu-idle": ("gpu_utilization_percent", "LessThan", 5),
        "gpu-memory": ("gpu_memory_used_percent", "GreaterThan", 97),
        "requests-waiting": ("requests_waiting", "GreaterThan", 20),
    }
    assert alerts["lb-health-probe"]["scopes"][0].startswith("llm-lb-")
    assert alerts["vm-availability"]["scopes"][0].startswith("llm-vmss-")
    assert alerts["gpu-idle"]["windowSize"] == "PT1H"
    for key in ("gpu-idle", "gpu-memory", "requests-waiting"):
        assert criteria[key]["metricNamespace"] == "PulumiLLM/ModelServer" and criteria[key]["skipMetricValidation"] is True
    for alert in alerts.values():
        assert alert["criteria"]["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
        assert alert["actions"] == [{"actionGroupId": alert["actions"][0]["actionGroupId"]}]
        assert alert["actions"][0]["actionGroupId"].startswith("llm-alerts-")
        assert alert["location"] == "global" and alert["autoMitigate"] is True


def test_without_emails_alerts_have_no_actions() -> None:
    records = plan(alert_emails=())[0]
    assert not of_type(records, "azure-native:monitor:ActionGroup")
    assert all(r.inputs.get("actions", []) == [] for r in of_type(records, "azure-native:monitor:MetricAlert"))


def test_iso_minutes() -> None:
    assert [iso_minutes(m) for m in (15, 60, 90, 1440)] == ["PT15M", "PT1H", "PT1H30M", "PT24H"]


# --- bad input: one line each ---------------------------------------------------------------


def test_a_vm_size_without_gpus_is_refused() -> None:
    assert error(vm_size="Standard_D8s_v5") == (
        "gpu_vm.vm_size = Standard_D8s_v5: not a GPU VM size; choose an NC, ND or NV size from the catalog, e.g. Standard_NC4as_T4_v3"
    )


def test_a_gpu_size_not_offered_in_the_region_is_refused() -> None:
    assert error(vm_size="Standard_NC40ads_H100_v5", location="westus2") == (
        "gpu_vm.vm_size = Standard_NC40ads_H100_v5: not offered in westus2 according to the catalog; "
        "offered in eastus, eastus2, southcentralus, westeurope, swedencentral"
    )


def test_a_size_with_too_few_gpus_is_refused() -> None:
    big = spec_70b()
    assert error(container=big, vm_size="Standard_NC24ads_A100_v4", secret_names={}) == (
        f"gpu_vm.vm_size = Standard_NC24ads_A100_v4: 1 GPU, but the server needs {big.resources.gpus} (its tensor-parallel "
        f"size); choose a size with at least {big.resources.gpus} GPUs, e.g. Standard_NC64as_T4_v3"
    )


def test_another_clouds_type_is_refused() -> None:
    assert error(vm_size="g6e.xlarge") == (
        "gpu_vm.vm_size = g6e.xlarge: an aws instance type; Azure takes Azure GPU sizes (e.g. Standard_NC24ads_A100_v4)"
    )


def test_an_a10_size_needs_an_image_with_the_grid_driver() -> None:
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("Standard_NV36ads_A10_v5"), context=8192)
    spec = vllm.vllm_container(
        "chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref)
    )
    assert error(container=spec, vm_size="Standard_NV36ads_A10_v5", secret_names={}) == (
        "gpu_vm.vm_size = Standard_NV36ads_A10_v5: NVadsA10 v5 sizes need NVIDIA's GRID driver, which the Ubuntu HPC "
        "image does not have; give gpu_vm.image the id of an image with the GRID driver, Docker and the NVIDIA container "
        "toolkit, or choose an NC size"
    )
    pinned_hpc = AzureImage(publisher="microsoft-dsvm", offer="ubuntu-hpc", sku="2204", version="22.04.2025010101")
    assert error(container=spec, vm_size="Standard_NV36ads_A10_v5", secret_names={}, image=pinned_hpc).startswith(
        "gpu_vm.vm_size = Standard_NV36ads_A10_v5: NVadsA10 v5 sizes need NVIDIA's GRID driver"
    )
    gallery = AzureImage(id=f"{SUB}/providers/Microsoft.Compute/galleries/g/images/grid/versions/1.0.0")
    args = make_args(container=spec, vm_size="Standard_NV36ads_A10_v5", secret_names={}, image=gallery)
    assert args.image.reference() == {"id": gallery.id}


def test_an_unmapped_secret_and_a_missing_vault_are_refused() -> None:
    assert error(secret_names={}) == "gpu_vm.secret_names: the server reads secret 'chat-api-key'; map it to its Key Vault secret name"
    assert error(key_vault_id=None) == ("gpu_vm.key_vault_id: the server reads secrets; give key_vault_id and key_vault_uri of their vault")


def test_schedule_time_zones_are_windows_names() -> None:
    assert error(schedule=AzureScaleSchedule(time_zone="Europe/Paris")) == (
        "gpu_vm.schedule.time_zone = Europe/Paris: Azure autoscale takes Windows time zone names, e.g. 'W. Europe Standard Time' or 'UTC'"
    )
    assert error(schedule=AzureScaleSchedule(start="7am")) == "gpu_vm.schedule.start = '7am': a 24-hour HH:MM time such as 07:00"


def test_capacity_and_other_bounds_are_checked() -> None:
    assert error(min_count=3, max_count=2) == (
        "gpu_vm: min_count 3, default_count 3, max_count 2; allowed: min_count ≤ default_count ≤ max_count"
    )
    assert error(frontend_private_ip="20.1.2.3") == "gpu_vm.frontend_private_ip = 20.1.2.3: a private IPv4 address of the lb subnet"
    assert error(alert_emails=("oncall",)) == "gpu_vm.alert_emails = oncall: not an e-mail address"
    assert error(model_key_prefix="/llama/") == (
        "gpu_vm.model_key_prefix = '/llama/': give a blob prefix like 'llama-3.1-8b/0e9e39f' (no leading or trailing '/', no wildcards)"
    )


# --- imports ---------------------------------------------------------------------------------

IMPORT_PROBE = """
import json, sys, types
sys.path.insert(0, "tests")
sys.path.insert(0, "tests/components")
import pulumi_llm.network.azure, pulumi_llm.storage.azure, pulumi_llm.security.azure
import pulumi_llm.gpu_vm.azure, pulumi_llm.gpu_vm.azure_boot

def report(stage):
    # pulumi_azure_native's package __init__ registers a lazy stub for each of its ~250 submodules in
    # sys.modules; a stub turns into a real module only when something is looked up in it.
    loaded = sorted(k for k, v in sys.modules.items() if k.startswith("pulumi_azure_native") and type(v).__name__ != "_LazyModule")
    clouds = sorted(k for k in sys.modules if k.startswith(("pulumi_aws", "pulumi_gcp")))
    return {"stage": stage, "azure": loaded, "clouds": clouds}

out = [report("import")]
import pytest
import test_gpu_vm_azure as t
with pytest.MonkeyPatch.context() as patch:
    patch.setattr(t.PlanMocks, "new_resource", t.shape_azure_outputs(t.PlanMocks.new_resource))
    t.plan(schedule=t.AzureScaleSchedule(), spot=True)
out.append(report("plan"))
print(json.dumps(out))
"""


def test_azure_modules_load_no_other_cloud_and_only_their_azure_native_submodules() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    imported, planned = json.loads(result.stdout.strip().splitlines()[-1])
    for stage in (imported, planned):
        assert stage["clouds"] == [], stage
        assert "pulumi_azure_native.web" not in stage["azure"]
        assert "pulumi_azure_native.containerservice" not in stage["azure"]
    # Importing the modules executes no azure-native submodule at all; planning executes exactly the ones they use.
    assert {m.split(".")[1] for m in imported["azure"] if "." in m} <= {"_utilities", "provider", "config"}
    used = {m.split(".")[1] for m in planned["azure"] if "." in m} - {"_utilities", "provider", "config"}
    assert used == {"authorization", "compute", "managedidentity", "monitor", "network"}


def test_the_image_version_is_pinned_never_latest() -> None:
    from pulumi_llm.gpu_vm.azure import AzureImage

    assert AzureImage(publisher="microsoft-dsvm", offer="ubuntu-hpc", sku="2204").version == "22.04.2026082801"
    with pytest.raises(ValueError, match="version 'latest': pin a concrete image version such as 22.04.2026082801"):
        AzureImage(publisher="microsoft-dsvm", offer="ubuntu-hpc", sku="2204", version="latest")


# --- the vLLM router on every VM (router arg) --------------------------------------------------------


@pytest.fixture(scope="module")
def routed():
    return by_name(plan(router=RouterOptions(policy="cache_aware"))[0])


def test_with_routers_the_load_balancer_sends_to_and_probes_the_routers(routed) -> None:
    lb = routed["llm-lb"].inputs
    assert lb["probes"] == [
        {"name": "health", "protocol": "Http", "port": 8080, "requestPath": "/readiness", "intervalInSeconds": 15, "probeThreshold": 2}
    ]
    [rule] = lb["loadBalancingRules"]
    assert (rule["frontendPort"], rule["backendPort"]) == (80, router_vm.ROUTER_PORT)


def test_with_routers_instance_health_follows_the_server_through_the_application_health_extension(routed, named) -> None:
    profile = routed["llm-vmss"].inputs["virtualMachineProfile"]
    # One source of instance health per scale set: no load balancer probe there any more …
    assert "healthProbe" not in profile["networkProfile"]
    extensions = {e["name"]: e for e in profile["extensionProfile"]["extensions"]}
    health = extensions["application-health"]
    assert (health["publisher"], health["type"], health["typeHandlerVersion"]) == (
        "Microsoft.ManagedServices",
        "ApplicationHealthLinux",
        "1.0",
    )
    # … but the server's own check on its own port, so repairs and rolling upgrades judge the model server.
    assert health["settings"] == {"protocol": "http", "port": 8000, "requestPath": "/health"}
    assert routed["llm-vmss"].inputs["automaticRepairsPolicy"]["enabled"] is True
    # Without routers nothing changes: the probe is the server's and no extension is added.
    assert "application-health" not in json.dumps(named["llm-vmss"].inputs)


def test_with_routers_the_identity_reads_its_own_scale_set_and_nothing_else(routed) -> None:
    reader = routed["llm-workers-reader"].inputs
    assert reader["roleDefinitionId"] == ROLE_DEFINITIONS + READER and ROLE_NAMES[READER] == "Reader"
    assert reader["scope"].startswith("llm-vmss-") and reader["principalId"] == principal_of("llm-identity")
    roles = {r["roleDefinitionId"].removeprefix(ROLE_DEFINITIONS) for r in (v.inputs for v in routed.values()) if "roleDefinitionId" in r}
    assert roles.isdisjoint(BROAD_ROLES)


def test_with_routers_the_boot_script_runs_the_router_listing_the_scale_set(routed) -> None:
    files = written(base64.b64decode(routed["llm-vmss"].inputs["virtualMachineProfile"]["osProfile"]["customData"]).decode())
    client = client_of("llm-identity")
    assert f"{azure_boot.HELPER} workers --client-id {client}" in files[router_vm.LISTER]
    assert f"/etc/systemd/system/{router_vm.WORKERS_UNIT}" in files
    assert json.loads(files[azure_boot.METRICS_CONFIG])["gauges"]["router_active_workers"] == "vllm_router_active_workers"


def test_subnet_ports_open_the_router_to_clients_and_the_server_to_the_group_only() -> None:
    assert subnet_ports(SPEC, RouterOptions()) == (router_vm.ROUTER_PORT, 8000)
    assert subnet_ports(SPEC, None) == (8000, None)
