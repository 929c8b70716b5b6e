"""The Azure pieces of the GPU-VM boot script: azcopy sync, Key Vault reads, the managed data disk, custom
metrics to Azure Monitor, and the metadata guard for the containers. Pure: no Pulumi.

Every Azure call is made with the scale set's **user-assigned managed identity**, named by its client id
(a VM with several identities must say which one):

* weights: ``azcopy sync`` with ``AZCOPY_AUTO_LOGIN_TYPE=MSI`` + ``AZCOPY_MSI_CLIENT_ID`` (azcopy's own
  managed-identity login, the stateless form of ``azcopy login --identity``), from the models container
  through its private endpoint. The Ubuntu HPC image ships azcopy at ``/usr/bin/azcopy``;
* secrets: an IMDS token for ``https://vault.azure.net`` and one GET of the secret's URI (Key Vault REST
  API 7.4), by a small Python helper (standard library only: the GPU image has no Azure CLI, and
  installing one at boot would be an unpinned download);
* metrics: the same helper, run every minute by a systemd timer, scrapes the server's Prometheus
  endpoint (queue, running requests, KV cache) and reads ``nvidia-smi`` (GPU utilization and memory),
  then posts them as Azure Monitor custom metrics on the scale set (namespace
  `METRICS_NAMESPACE`, dimension ``instance``; the identity holds "Monitoring Metrics Publisher" on
  the scale set only). Autoscale and the GPU alerts read them there. The Azure Monitor Agent is not used:
  it collects neither GPU nor Prometheus metrics from a VM.

Azure's instance metadata service has no hop limit (AWS's IMDSv2 hop limit 1 has no Azure equivalent), so
any container on the VM could ask it for the identity's tokens. The boot script therefore has a metadata guard
(`metadata_guard`: `llm-metadata-guard.service`, which every unit starting a bridged container — the server's, and
the router's pip install and router — requires and starts after) inserting ``DOCKER-USER`` rules that drop
container traffic to 169.254.169.254 (IMDS) and to the WireServer's HTTP ports on 168.63.129.16 (DNS on it stays
reachable). Only host processes — azcopy, the helper, the VM agent — reach them. The helper travels with the
metrics agent's files (`MetricsAgent.files`, the renderer's extension point).

With the vLLM router (`router_vm`, `serving.router`): the group's lister is the same helper (`workers`): an IMDS
token for Azure Resource Manager and one GET of the scale set's network interfaces (Microsoft.Network
`NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces`, api-version `VMSS_NIC_API_VERSION`), printing
the primary private address of each interface that is provisioned. The identity reads the scale set only
("Reader" on the scale set: `azure.AzureGpuVm`). The custom metrics add the router's gauges
(`router_gauges`), scraped from its loopback metrics port.

Draining before a delete (`azure_drain.py`, shipped verbatim as `DRAIN_HANDLER`, run by `DRAIN_UNIT`): Azure's load
balancer has no connection draining and a scale set deletes a VM (scale-in, a rolling upgrade's old VM) without a
guest shutdown, so the units' own drain never runs. The scale set's terminate notification (`terminate_notification`,
set by `azure.AzureGpuVm` on regular VMs) holds each delete up to its timeout and announces it as a ``Terminate``
Scheduled Event; the handler stops the router, then the server (each drains its streams), then approves the event.
Spot VMs cannot have the notification (Azure) and get only a ``Preempt`` event 30 s ahead: the handler stops the
units then too, so the load balancer's probe and the other VMs' routers stop sending new requests, but streams
longer than that are cut by the eviction.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path

from .. import pins
from ..kubernetes.router_render import RouterOptions
from ..runtimes.spec import ContainerSpec
from . import router_vm
from .cloud_init import (
    CONFIG_ROOT,
    SCRIPT_DIR,
    DataDisk,
    MetricsAgent,
    SecretFetch,
    WeightsSync,
    render_cloud_init,
)
from .metadata_guard import MetadataGuard
from .server_unit import UNIT as SERVER_UNIT
from .server_unit import stop_seconds

UBUNTU_HPC_IMAGE: dict[str, str] = pins.AZURE_UBUNTU_HPC.reference()
"""Azure's Ubuntu 22.04 HPC image (Azure/azhpc-images): NVIDIA datacenter driver, CUDA, Moby (Docker) with
the NVIDIA container toolkit, DCGM, NCCL and azcopy, built and tested by Azure for the NC/ND sizes. The
driver comes with the image — no driver extension, no reboot, nothing compiled at boot. Pinned to a
version in `pins.AZURE_UBUNTU_HPC`: `latest` would give a scale-out VM a different driver than its peers."""

AZCOPY = "/usr/bin/azcopy"
HELPER = f"{SCRIPT_DIR}/azure_helper.py"
METRICS_CONFIG = f"{CONFIG_ROOT}/azure-metrics.json"
METRICS_UNIT = "llm-metrics.service"
METRICS_TIMER = "llm-metrics.timer"
METRICS_NAMESPACE = "PulumiLLM/ModelServer"
"""Azure Monitor custom-metric namespace of the server and GPU metrics (on the scale set)."""
GPU_UTILIZATION = "gpu_utilization_percent"
GPU_MEMORY_USED = "gpu_memory_used_percent"
REQUESTS_WAITING = "requests_waiting"
REQUESTS_RUNNING = "requests_running"
KV_CACHE_USAGE = "kv_cache_usage"
IMDS_ADDRESS = "169.254.169.254"
WIRESERVER_ADDRESS = "168.63.129.16"
WIRESERVER_TCP_PORTS = (80, 32526)
"""The WireServer's HTTP (extension config, health) and the host agent plugin; its DNS (53) stays open."""
KEY_VAULT_API_VERSION = "7.4"
VMSS_NIC_API_VERSION = "2018-10-01"
"""The scale-set network-interface operations of Microsoft.Network (List Virtual Machine Scale Set Network Interfaces)
are served at this version: the Azure SDKs' default for them (Azure.ResourceManager.Network,
GetVirtualMachineScaleSetNetworkInterfaces: "Default Api Version 2018-10-01"), unlike the rest of the provider."""
ROUTER_ACTIVE_WORKERS = "router_active_workers"
ROUTER_RUNNING_REQUESTS = "router_running_requests"
CUSTOM_DATA_LIMIT = 64 * 1024
"""Azure refuses custom data over 64 KB (before base64)."""
DATA_DISK_LUN = 0
DRAIN_HANDLER = f"{SCRIPT_DIR}/azure_drain.py"
DRAIN_UNIT = "llm-drain.service"
DRAIN_POLL_SECONDS = 2
"""How often the handler asks IMDS for Scheduled Events: a spot eviction is announced only 30 s ahead (Azure,
"Scheduled Events for Linux VMs", "Event scheduling": Preempt 30 seconds, Terminate 5 to 15 minutes)."""
IMDS_URL = f"http://{IMDS_ADDRESS}"
TERMINATE_NOTICE_MINUTES = (5, 15)
"""The bounds of a scale set's ``terminateNotificationProfile.notBeforeTimeout`` (Azure, "Terminate notification for
Azure Virtual Machine Scale Set instances": "any value between 5 and 15 minutes", ISO 8601; the profile is
``virtualMachineProfile.scheduledEventsProfile.terminateNotificationProfile`` {enable, notBeforeTimeout}, in
pulumi-azure-native 3.29.0's compute ``VirtualMachineScaleSet`` at Azure REST API version 2024-11-01). The same page:
"Terminate notifications cannot be enabled on Spot instances"."""
_DRAIN_SOURCE = Path(__file__).with_name("azure_drain.py")

HELPER_SOURCE = '''\
#!/usr/bin/env python3
"""pulumi-llm Azure helper: Key Vault secrets and Azure Monitor custom metrics with the VM's
user-assigned managed identity (IMDS tokens). Standard library only; runs on the host as root.

  azure_helper.py secret <secret-uri> --client-id <id>   print the secret's value
  azure_helper.py metrics <config.json>                   post one minute of custom metrics
  azure_helper.py workers --client-id <id>                print the scale set's VMs' private addresses
"""
import datetime
import ipaddress
import json
import subprocess
import sys
import urllib.parse
import urllib.request

IMDS = "http://169.254.169.254/metadata"
VAULT_RESOURCE = "https://vault.azure.net"
MONITOR_RESOURCE = "https://monitoring.azure.com/"
ARM = "https://management.azure.com"
ARM_RESOURCE = ARM + "/"
KEY_VAULT_API = "%(kv_api)s"
VMSS_NIC_API = "%(nic_api)s"


def http(url, headers=None, body=None, opener=urllib.request.urlopen, timeout=30):
    request = urllib.request.Request(url, headers=headers or {}, data=body)
    with opener(request, timeout=timeout) as response:
        return response.read().decode("utf-8")


def token(resource, client_id, opener=urllib.request.urlopen):
    query = urllib.parse.urlencode({"api-version": "2018-02-01", "resource": resource, "client_id": client_id})
    answer = json.loads(http(IMDS + "/identity/oauth2/token?" + query, {"Metadata": "true"}, opener=opener))
    return answer["access_token"]


def secret(uri, client_id, opener=urllib.request.urlopen):
    if not uri.startswith("https://") or "/secrets/" not in uri:
        raise ValueError("not a Key Vault secret URI: " + uri)
    bearer = token(VAULT_RESOURCE, client_id, opener)
    answer = json.loads(http(uri + "?api-version=" + KEY_VAULT_API, {"Authorization": "Bearer " + bearer}, opener=opener))
    return answer["value"]


def parse_prometheus(text):
    """Sample values by metric name (labels dropped), from the Prometheus text format."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line[: line.index("{")], line[line.rindex("}") + 1 :].split()
        else:
            name, *rest = line.split()
        try:
            values.setdefault(name, []).append(float(rest[0]))
        except (IndexError, ValueError):
            continue
    return values


def gpu_samples(run=subprocess.run):
    """Per-GPU utilization and memory used, in percent, from nvidia-smi."""
    query = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"]
    out = run(query, capture_output=True, text=True, check=True, timeout=30).stdout
    utilization, memory = [], []
    for line in out.strip().splitlines():
        util, used, total = (float(x) for x in line.split(","))
        utilization.append(util)
        memory.append(100.0 * used / total if total else 0.0)
    return {"%(gpu_util)s": utilization, "%(gpu_mem)s": memory}


def payload(metric, namespace, instance, values, now):
    return {
        "time": now,
        "data": {
            "baseData": {
                "metric": metric,
                "namespace": namespace,
                "dimNames": ["instance"],
                "series": [
                    {"dimValues": [instance], "min": min(values), "max": max(values), "sum": sum(values), "count": len(values)}
                ],
            }
        },
    }


def payloads(config, scraped, gpus, instance, now):
    out = []
    for metric, source in sorted(config["gauges"].items()):
        if source in scraped:
            # Series of one name on one server (one per model or engine) add up to the server's value.
            out.append(payload(metric, config["namespace"], instance, [sum(scraped[source])], now))
    for metric, values in sorted(gpus.items()):
        if values:
            out.append(payload(metric, config["namespace"], instance, values, now))
    return out


def scale_set_url(compute):
    resource = "/subscriptions/%%s/resourceGroups/%%s/providers/Microsoft.Compute/virtualMachineScaleSets/%%s" %% (
        compute["subscriptionId"], compute["resourceGroupName"], compute["vmScaleSetName"])
    return "https://%%s.monitoring.azure.com%%s/metrics" %% (compute["location"], resource)


def instance_compute(opener=urllib.request.urlopen):
    return json.loads(http(IMDS + "/instance/compute?api-version=2021-02-01", {"Metadata": "true"}, opener=opener))


def push(config, opener=urllib.request.urlopen, run=subprocess.run):
    compute = instance_compute(opener)
    scraped = {}
    for url in [config["scrape_url"]] + ([config["router_scrape_url"]] if config.get("router_scrape_url") else []):
        try:
            scraped.update(parse_prometheus(http(url, opener=opener, timeout=10)))
        except OSError:
            pass  # the server (or the router) is still starting: the others' metrics only
    try:
        gpus = gpu_samples(run)
    except (OSError, subprocess.SubprocessError, ValueError):
        gpus = {}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%%Y-%%m-%%dT%%H:%%M:%%SZ")
    bodies = payloads(config, scraped, gpus, compute["name"], now)
    if not bodies:
        return 0
    headers = {"Authorization": "Bearer " + token(MONITOR_RESOURCE, config["client_id"], opener), "Content-Type": "application/json"}
    url = scale_set_url(compute)
    for body in bodies:
        http(url, headers, json.dumps(body).encode("utf-8"), opener=opener)
    return len(bodies)


def scale_set_nics_url(compute):
    return "%%s/subscriptions/%%s/resourceGroups/%%s/providers/Microsoft.Compute/virtualMachineScaleSets/%%s/networkInterfaces?api-version=%%s" %% (
        ARM, compute["subscriptionId"], compute["resourceGroupName"], compute["vmScaleSetName"], VMSS_NIC_API)


def nic_addresses(nics):
    """The primary private IPv4 address of each provisioned interface (one per VM of the scale set)."""
    found = []
    for nic in nics:
        properties = nic.get("properties") or {}
        if properties.get("provisioningState") != "Succeeded":
            continue  # being created or deleted with its VM
        configs = properties.get("ipConfigurations") or []
        for config in configs:
            address = (config.get("properties") or {}).get("privateIPAddress")
            if address and ((config.get("properties") or {}).get("primary") or len(configs) == 1):
                found.append(str(ipaddress.IPv4Address(address)))
    return sorted(set(found))


def workers(client_id, opener=urllib.request.urlopen):
    """This scale set's VMs' addresses (the VM's own included), through Azure Resource Manager."""
    compute = instance_compute(opener)
    headers = {"Authorization": "Bearer " + token(ARM_RESOURCE, client_id, opener)}
    url, nics = scale_set_nics_url(compute), []
    while url:
        if not url.startswith(ARM + "/"):
            raise ValueError("unexpected nextLink: " + url)
        answer = json.loads(http(url, headers, opener=opener))
        nics.extend(answer.get("value") or [])
        url = answer.get("nextLink")
    return nic_addresses(nics)


def main(argv):
    if len(argv) == 5 and argv[1] == "secret" and argv[3] == "--client-id":
        sys.stdout.write(secret(argv[2], argv[4]))
        return 0
    if len(argv) == 4 and argv[1] == "workers" and argv[2] == "--client-id":
        try:
            addresses = workers(argv[3])
        except (OSError, ValueError, KeyError) as err:
            sys.stderr.write("workers: %%s\\n" %% err)
            return 1
        sys.stdout.write("".join(address + "\\n" for address in addresses))
        return 0
    if len(argv) == 3 and argv[1] == "metrics":
        with open(argv[2]) as handle:
            push(json.load(handle))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
''' % {
    "kv_api": KEY_VAULT_API_VERSION,
    "nic_api": VMSS_NIC_API_VERSION,
    "gpu_util": GPU_UTILIZATION,
    "gpu_mem": GPU_MEMORY_USED,
}
"""The helper written to the VM at `HELPER`. Tests import its functions and run them against fakes."""


def blob_source(container_url: str, prefix: str) -> str:
    """``https://<account>.blob.core.windows.net/<container>/<prefix>``"""
    if not container_url.startswith("https://"):
        raise ValueError(f"{container_url!r} is not an https:// container URL")
    return f"{container_url.rstrip('/')}/{prefix.strip('/')}"


def azcopy_sync(container_url: str, prefix: str, *, client_id: str, revision: str = "", path: str | None = None) -> WeightsSync:
    """``azcopy sync <container>/<prefix> <dest>`` as the managed identity: resumable, copies what changed."""
    command = (
        "/usr/bin/env",
        "AZCOPY_AUTO_LOGIN_TYPE=MSI",
        f"AZCOPY_MSI_CLIENT_ID={client_id}",
        "AZCOPY_LOG_LOCATION=/var/log/azcopy",
        "AZCOPY_JOB_PLAN_LOCATION=/var/lib/azcopy/plans",
        AZCOPY, "sync", "{source}", "{dest}",
        "--recursive=true", "--delete-destination=false", "--log-level=ERROR",
    )  # fmt: skip
    return WeightsSync(source=blob_source(container_url, prefix), command=command, revision=revision, path=path)


def key_vault_secrets(secret_uris: Mapping[str, str], *, client_id: str) -> SecretFetch:
    """Reads each secret's value from Key Vault (ids are the secrets' URIs, latest version)."""
    for name, uri in secret_uris.items():
        if not uri.startswith("https://") or "/secrets/" not in uri:
            raise ValueError(f"secret {name}: {uri!r} is not a Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>)")
    return SecretFetch(command=("/usr/bin/python3", HELPER, "secret", "{secret}", "--client-id", client_id), ids=dict(secret_uris))


def managed_data_disk(lun: int = DATA_DISK_LUN) -> DataDisk:
    """The managed data disk at `lun`, by the stable links Azure's udev rules create (SCSI sizes:
    /dev/disk/azure/scsi1/lun<N>; NVMe sizes with azure-vm-utils: /dev/disk/azure/data/by-lun/<N>).
    The temporary resource disk is never picked: it has no LUN link."""
    find = "\n".join(
        [
            f"for link in /dev/disk/azure/data/by-lun/{lun} /dev/disk/azure/scsi1/lun{lun}; do",
            '  if [ -e "$link" ]; then readlink -f "$link"; return 0; fi',
            "done",
            "return 1",
        ]
    )
    return DataDisk(find=find)


def journald_args() -> tuple[str, ...]:
    """Docker's journald driver (in dockerd, on the host): the server's output in the VM's journal,
    ``journalctl -t llm-server``, where the Azure Monitor Agent or any syslog shipper can pick it up."""
    return ("--log-driver=journald", "--log-opt=tag=llm-server")


def metrics_gauges(spec: ContainerSpec) -> dict[str, str]:
    """Azure custom-metric name → the server's Prometheus gauge it comes from."""
    gauges = {REQUESTS_WAITING: spec.metrics.requests_waiting, REQUESTS_RUNNING: spec.metrics.requests_running}
    if spec.metrics.kv_cache_usage:
        gauges[KV_CACHE_USAGE] = spec.metrics.kv_cache_usage
    return gauges


def router_gauges() -> dict[str, str]:
    """Azure custom-metric name → the router's Prometheus gauge (`router_vm.METRIC_NAMES`): how many servers each
    router holds (fewer than the scale set's VMs: the reconciler or a server is stuck) and the requests it has in
    flight (summed over its workers). Its counters are left out: the helper posts one sample a minute, not rates."""
    return {ROUTER_ACTIVE_WORKERS: router_vm.ACTIVE_WORKERS, ROUTER_RUNNING_REQUESTS: "vllm_router_running_requests"}


def metrics_config(spec: ContainerSpec, *, client_id: str, deployment: str, router: bool = False) -> str:
    port = spec.port(spec.metrics_port).container_port
    config: dict[str, object] = {
        "client_id": client_id,
        "deployment": deployment,
        "namespace": METRICS_NAMESPACE,
        "scrape_url": f"http://127.0.0.1:{port}{spec.metrics_path}",
        "gauges": metrics_gauges(spec),
    }
    if router:
        config["router_scrape_url"] = f"http://{router_vm.METRICS_TARGET}/metrics"
        config["gauges"] = {**metrics_gauges(spec), **router_gauges()}
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def metadata_guard() -> MetadataGuard:
    """The DOCKER-USER rules that drop container traffic to IMDS (managed identity tokens) and to the WireServer's HTTP
    ports (`metadata_guard`); host processes still reach both."""
    rules = (f"-d {IMDS_ADDRESS}/32 -j DROP",) + tuple(
        f"-d {WIRESERVER_ADDRESS}/32 -p tcp --dport {port} -j DROP" for port in WIRESERVER_TCP_PORTS
    )
    return MetadataGuard(rules=rules, description="containers may not reach IMDS (the identity's tokens) nor the WireServer")


def metrics_units() -> tuple[tuple[str, str], tuple[str, str]]:
    service = "\n".join(
        [
            "[Unit]",
            "Description=pulumi-llm: server and GPU metrics to Azure Monitor",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=oneshot",
            f"ExecStart=/usr/bin/python3 {HELPER} metrics {METRICS_CONFIG}",
            "TimeoutStartSec=50",
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            "Description=pulumi-llm: publish metrics every minute",
            "",
            "[Timer]",
            "OnBootSec=60",
            "OnUnitActiveSec=60",
            "AccuracySec=5",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    return (f"/etc/systemd/system/{METRICS_UNIT}", service), (f"/etc/systemd/system/{METRICS_TIMER}", timer)


def azure_monitor_agent(spec: ContainerSpec, *, client_id: str, deployment: str, router: bool = False) -> MetricsAgent:
    """The custom-metrics publisher (helper + config + timer); with `router` it posts the router's gauges too."""
    service, timer = metrics_units()
    return MetricsAgent(
        name=f"custom metrics to Azure Monitor ({METRICS_NAMESPACE}) every minute",
        files=(
            (HELPER, HELPER_SOURCE),
            (METRICS_CONFIG, metrics_config(spec, client_id=client_id, deployment=deployment, router=router)),
            service,
            timer,
        ),
        script=f"systemctl enable --now {METRICS_TIMER}",
    )


def vmss_lister(client_id: str) -> router_vm.InstanceLister:
    """The router's lister on Azure: the helper's `workers` with the scale set's identity (its client id)."""
    return router_vm.InstanceLister(
        command=("/usr/bin/python3", HELPER, "workers", "--client-id", client_id),
        description="scale set network interfaces (Azure Resource Manager, managed identity) → primary private IPs",
    )


def azure_router(spec: ContainerSpec, options: RouterOptions | None, *, client_id: str) -> router_vm.VmRouter | None:
    """The group's router (None without `options` or for a server the router does not front); its output goes to
    the journal as ``llm-router``."""
    return router_vm.vm_router(
        spec, options, vmss_lister(client_id), log_args=("--log-driver=journald", f"--log-opt=tag={router_vm.CONTAINER_NAME}")
    )


@dataclasses.dataclass(frozen=True)
class TerminateNotice:
    """The scale set's terminate notification: how long a delete waits for the VM's approval."""

    minutes: int
    capped: bool
    """True when the drain needs longer than Azure allows (`TERMINATE_NOTICE_MINUTES`): longer streams are cut."""

    @property
    def not_before_timeout(self) -> str:
        return f"PT{self.minutes}M"


def decide_terminate_notice(stop: int) -> TerminateNotice:
    """`stop` (seconds a unit may take to stop: `server_unit.stop_seconds`, the longest stream + the teardown) rounded
    up to whole minutes, within Azure's 5-15 minutes. The handler stops the router and then the server, and approves as
    soon as both have stopped, so a longer timeout costs nothing when the streams end sooner."""
    low, high = TERMINATE_NOTICE_MINUTES
    minutes = math.ceil(stop / 60)
    return TerminateNotice(minutes=min(high, max(low, minutes)), capped=minutes > high)


def terminate_notification(spec: ContainerSpec) -> TerminateNotice:
    return decide_terminate_notice(stop_seconds(spec))


def drain_units(routed: bool) -> tuple[str, ...]:
    """The units the handler stops, in order: the router first (it finishes its streams, some served by this VM's
    server), then the server (`router_vm.router_unit_order` has the same reason for shutdown)."""
    return (*((router_vm.UNIT,) if routed else ()), SERVER_UNIT)


def drain_argv(routed: bool, *, imds: str = IMDS_URL) -> list[str]:
    return [
        "/usr/bin/python3", DRAIN_HANDLER, "--imds", imds, "--interval", str(DRAIN_POLL_SECONDS),
        *(token for unit in drain_units(routed) for token in ("--unit", unit)),
    ]  # fmt: skip


def drain_unit(routed: bool) -> str:
    """The handler's service: on the host (IMDS is reachable there: the metadata guard filters bridged containers
    only), restarted whenever it exits."""
    return "\n".join(
        [
            "[Unit]",
            "Description=pulumi-llm: drain this VM on a Terminate or Preempt scheduled event, then approve it",
            "Wants=network-online.target",
            "After=network-online.target",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={' '.join(drain_argv(routed))}",
            "Restart=always",
            "RestartSec=5",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def drain_source() -> str:
    """`azure_drain.py` as shipped: the one copy of the handler (its tests import the same file)."""
    return _DRAIN_SOURCE.read_text(encoding="utf-8")


def with_drain(agent: MetricsAgent, routed: bool) -> MetricsAgent:
    """`agent` plus the drain handler, its unit and its start (the renderer's extension point for host files)."""
    return dataclasses.replace(
        agent,
        files=(*agent.files, (DRAIN_HANDLER, drain_source()), (f"/etc/systemd/system/{DRAIN_UNIT}", drain_unit(routed))),
        script=f"systemctl enable --now --no-block {DRAIN_UNIT}\n{agent.script}",
    )


def azure_custom_data(
    spec: ContainerSpec,
    *,
    container_url: str,
    key_prefix: str,
    client_id: str,
    deployment: str,
    revision: str = "",
    secret_uris: Mapping[str, str] | None = None,
    router: RouterOptions | None = None,
) -> str:
    """The complete Azure boot script: managed data disk, azcopy sync, Key Vault, custom metrics, journald; with
    `router` (vLLM only), the vLLM router and its reconciler listing the scale set (`azure_router`); the drain
    handler (`with_drain`)."""
    vm_router = azure_router(spec, router, client_id=client_id)
    return render_cloud_init(
        spec,
        weights_sync=azcopy_sync(container_url, key_prefix, client_id=client_id, revision=revision),
        metrics=with_drain(
            azure_monitor_agent(spec, client_id=client_id, deployment=deployment, router=vm_router is not None), vm_router is not None
        ),
        data_disk=managed_data_disk(),
        secrets=key_vault_secrets(secret_uris, client_id=client_id) if secret_uris else None,
        log_args=journald_args(),
        router=vm_router,
        metadata_guard=metadata_guard(),
    )
