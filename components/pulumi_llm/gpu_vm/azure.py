"""AzureGpuVm: one model server on an Azure GPU virtual machine scale set behind an internal Standard Load Balancer.

Children (Pulumi names ``<name>-<role>``):

* identity: a user-assigned managed identity (``-identity``) with exactly three kinds of role assignment —
  "Storage Blob Data Reader" on the models **container** (``-blob-reader``), "Key Vault Secrets User" on
  each secret the server reads (``-secret-reader-<secret>``), and "Monitoring Metrics Publisher" on the
  scale set itself (``-metrics-publisher``, for the custom metrics). Nothing on the account, the vault,
  the resource group or the subscription; no Owner or Contributor;
* traffic: an internal Standard Load Balancer (``-lb``): a private frontend in the lb subnet, one
  backend pool, an HTTP probe on `cloud_init.health_check_path` and one TCP rule (frontend port →
  server port, TCP reset on idle, idle timeout at most 30 minutes);
* compute: a **Uniform** scale set (``-vmss``) of one NC/NV size from the sizing catalog, Azure's Ubuntu
  HPC image (NVIDIA driver, Docker, NVIDIA container toolkit, azcopy baked in), custom data = base64 of
  the shared cloud-init (`azure_boot.azure_custom_data`), no public IP on any NIC, accelerated
  networking, encryption at host (and a disk encryption set by arg), a Premium SSD data disk for the
  model cache, SSH password authentication disabled, Entra ID SSH login (``AADSSHLoginForLinux``), spot
  by arg (eviction Delete, max price -1), the load balancer probe as health probe for rolling upgrades
  (max surge: new instances first) and automatic instance repairs;
* scaling: an autoscale setting (``-autoscale``) on the server's queue and running requests (custom
  metrics the VMs publish), and optional recurrence profiles that scale to zero on a schedule;
* alerts: Azure Monitor metric alerts (``-alert-*``) — VM availability, load balancer health probe
  status, GPU idle, GPU memory, queue backlog — to an action group of e-mail receivers (``-alerts``);
* router (with `router`, vLLM only; `router_vm`): every VM runs the vLLM router beside the server; the load
  balancer's rule sends to the router port and its probe checks the routers' ``/readiness``. Instance health —
  rolling upgrades and automatic repairs — then follows the model server itself through the Application Health
  extension (``ApplicationHealthLinux``, binary states, the server's check on its port, probed from inside the
  VM) instead of the load balancer probe: a scale set takes one source of health, either (Azure, "Using
  Application Health extension with Virtual Machine Scale Sets"). The identity gets "Reader" on the scale set
  only (``-workers-reader``): the lister reads the scale set's network interfaces, children of the scale set.
  The NSG side (router port from the clients, model port only within the compute subnet) is `AzureNetwork`'s
  (`compute_ports`, `compute_peer_ports`). The load balancer is layer 4: it cannot keep a client off the router's
  unauthenticated ``/add_worker``; the NSG admits only the gateway's subnet (and `internal_client_cidrs`), and
  each VM's reconciler removes, within `router_vm.RECONCILE_SECONDS`, any worker the scale set does not list.

Why Uniform and not Flexible orchestration: the servers are identical, stateless replicas of one size
behind one load balancer. Uniform gives exactly that with the mature pieces this needs — rolling
upgrades and automatic repairs driven by the load balancer's health probe, autoscale, spot with
restore. Flexible's strengths (mixing sizes, adding hand-made VMs, fault-domain spreading of unlike
VMs) are not used by one model server of one size.

Why an internal Load Balancer and not Application Gateway: the LB is layer 4, so responses stream
through unbuffered, it costs nothing per hour, and it keeps the servers off the Internet; HTTPS
termination and WAF belong to the gateway method in front. Its limits: TCP flows idle longer than
``idle_timeout_minutes`` (≤ 30 here) are reset — a stream that sends nothing for that long (a huge
prompt before its first token) is cut — and distribution is by 5-tuple hash, not least outstanding
requests.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import ipaddress
import math
import re
from typing import Any, cast

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.compute as compute
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.network as network
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..deprecated import module_aliases
from ..errors import UserError
from ..kubernetes.router_render import RouterOptions
from ..labels import CommonLabels, azure_tags
from ..naming import child, dns_label
from ..runtimes.spec import ContainerSpec
from ..security.azure import (
    MONITORING_METRICS_PUBLISHER,
    READER,
    STORAGE_BLOB_DATA_READER,
    assign_role,
    check_secret_name,
    grant_secret_read,
    secret_uri,
)
from ..sizing import GIB, InstanceType, get_instance_type
from ..validation import AZURE_LOCATION as _LOCATION
from ..validation import CLOCK_TIME as _CLOCK
from ..validation import EMAIL as _EMAIL
from ..validation import OBJECT_PREFIX
from . import azure_boot, router_vm
from .azure_sizes import check_vm_size
from .cloud_init import (
    health_check_path,
    health_check_port,
    host_path,
    model_mount,
    provisioning_seconds,
    ready_within_seconds,
    weights_path,
)

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""

ADMIN_USERNAME = "llmadmin"
MAX_IDLE_TIMEOUT_MINUTES = 30
DATA_DISK_SKUS = ("Premium_LRS", "Premium_ZRS", "StandardSSD_LRS")
GRID_DRIVER_ACCELERATORS = ("A10",)
"""GPUs Azure serves only with the NVIDIA GRID driver (NVadsA10 v5), which the Ubuntu HPC image lacks."""
ALERT_WINDOWS_MINUTES = (15, 30, 60, 360, 720, 1440)
"""Window sizes a metric alert accepts that are ≥ 15 minutes (PT15M … PT24H)."""
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SSH_KEY = re.compile(r"^(ssh-rsa|ssh-ed25519) [A-Za-z0-9+/=]+( \S+)?$")


def _unusable_ssh_key() -> str:
    """An ssh-rsa public key that nobody holds the private key of.

    Azure requires a key when password authentication is off; logins go through Entra ID instead. The
    2048-bit modulus is SHAKE-256 output of a fixed phrase (odd, top bit set): a private key would need
    its full factorization, which nobody has. Deterministic, so plans do not change between runs.
    """
    n = int.from_bytes(hashlib.shake_256(b"pulumi-llm: no private key exists for this key").digest(256), "big")
    n |= (1 << 2047) | 1

    def mpint(value: int) -> bytes:
        raw = value.to_bytes((value.bit_length() + 8) // 8, "big")
        return len(raw).to_bytes(4, "big") + raw

    def string(value: bytes) -> bytes:
        return len(value).to_bytes(4, "big") + value

    blob = string(b"ssh-rsa") + mpint(65537) + mpint(n)
    return f"ssh-rsa {base64.b64encode(blob).decode()} pulumi-llm-no-private-key"


UNUSABLE_SSH_PUBLIC_KEY = _unusable_ssh_key()


# ---------------------------------------------------------------------------------------------
# Args
# ---------------------------------------------------------------------------------------------


class AzureImage(BaseModel):
    """A Marketplace image, or a gallery/managed image by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    publisher: str | None = Field(default=None, description="Marketplace publisher, e.g. microsoft-dsvm.")
    offer: str | None = Field(default=None, description="Marketplace offer, e.g. ubuntu-hpc.")
    sku: str | None = Field(default=None, description="Marketplace SKU, e.g. 2204.")
    version: str = Field(
        default=pins.AZURE_UBUNTU_HPC.version,
        description=f"Image version, a concrete one (never latest). Default {pins.AZURE_UBUNTU_HPC.version} (pins.AZURE_UBUNTU_HPC).",
    )
    id: str | None = Field(
        default=None, description="Resource id of a gallery image version or managed image instead of a Marketplace image."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> AzureImage:
        marketplace = (self.publisher, self.offer, self.sku)
        if self.id is None and None in marketplace:
            raise ValueError("give publisher, offer and sku of a Marketplace image, or the id of a gallery image")
        if self.id is not None and any(marketplace):
            raise ValueError("give either id or publisher/offer/sku, not both")
        if self.id is None and not re.fullmatch(r"\d+(\.\d+)+", self.version):
            raise ValueError(
                f"version {self.version!r}: pin a concrete image version such as {pins.AZURE_UBUNTU_HPC.version} "
                "(latest moves, and scale-outs would boot a different driver)"
            )
        return self

    def reference(self) -> dict[str, str]:
        if self.id is not None:
            return {"id": self.id}
        return {"publisher": self.publisher, "offer": self.offer, "sku": self.sku, "version": self.version}  # type: ignore[dict-item]


DEFAULT_IMAGE = AzureImage(**azure_boot.UBUNTU_HPC_IMAGE)


class GpuVmAlertThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lb_healthy_percent: float = Field(
        default=50.0, gt=0, le=100, description="Alert when under this share of backends pass the health probe for 15 min. Default 50."
    )
    gpu_idle_percent: float = Field(default=5.0, ge=0, le=100, description="GPU utilization below which GPUs count as idle. Default 5.")
    gpu_idle_minutes: int = Field(
        default=60, description=f"Minutes of idle GPUs before the alert, one of {ALERT_WINDOWS_MINUTES}. Default 60."
    )
    gpu_memory_percent: float = Field(
        default=97.0, gt=0, le=100, description="GPU memory used, above vLLM's own reservation (0.9). Default 97."
    )
    requests_waiting: float = Field(
        default=20.0, gt=0, description="Average queued requests per VM over 15 min that raise the alert. Default 20."
    )


class AzureScaleSchedule(BaseModel):
    """Scale to zero at `stop` and back at `start` on `days` (Azure autoscale recurrence profiles)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: tuple[str, ...] = Field(default=DAYS[:5], description="Days both times apply to. Default Monday to Friday (weekends stay off).")
    start: str = Field(default="07:00", description="HH:MM at which the serving profile (min_count…max_count) resumes. Default 07:00.")
    stop: str = Field(default="20:00", description="HH:MM at which the scale set goes to zero. Default 20:00.")
    time_zone: str = Field(
        default="UTC", description="Azure autoscale (Windows) time zone name, e.g. 'W. Europe Standard Time'. Default UTC."
    )


class AzureGpuVmArgs(BaseModel):
    """What to serve, on which GPU size, behind which load balancer. Validation is pure and fails with one
    UserError line naming `config_path` and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack (tags).")
    container: ContainerSpec = Field(description="The model server (runtimes.vllm / runtimes.triton), with volume weights below /models.")
    location: str = Field(description="Azure region of the provider, e.g. westeurope; the size must be offered there (catalog).")
    resource_group_name: StrInput = Field(description="Resource group of every child.")
    vm_size: str = Field(
        description="An Azure GPU size of the sizing catalog with at least the server's GPUs, e.g. Standard_NC24ads_A100_v4."
    )
    subnet_id: StrInput = Field(description="Subnet of the VMs (AzureNetwork.subnet_ids['compute']).")
    lb_subnet_id: StrInput | None = Field(
        default=None, description="Subnet of the load balancer frontend (AzureNetwork.subnet_ids['lb']). Default subnet_id."
    )
    frontend_private_ip: str | None = Field(
        default=None, description="Static private address of the frontend, inside the lb subnet. Default: dynamic."
    )
    frontend_port: int = Field(default=80, ge=1, le=65535, description="Port clients connect to on the frontend. Default 80.")
    model_container_id: StrInput = Field(
        description="Resource id of the models container (AzureModelStore.container_id): the reader's scope."
    )
    model_container_url: StrInput = Field(
        description="https://<account>.blob.core.windows.net/<container> (AzureModelStore.container_url)."
    )
    model_key_prefix: str = Field(description="Blob prefix of this model's files in the container, e.g. 'llama-3.1-8b/0e9e39f'.")
    weights_revision: str = Field(
        default="", description="Revision recorded with the synced weights; a new one re-syncs. Default: the prefix alone."
    )
    key_vault_id: StrInput | None = Field(
        default=None, description="Resource id of the vault holding the server's secrets (AzureKeyVault.vault_id)."
    )
    key_vault_uri: StrInput | None = Field(default=None, description="https://<vault>.vault.azure.net/ (AzureKeyVault.vault_uri).")
    secret_names: dict[str, str] = Field(
        default_factory=dict,
        description="Key Vault secret name per secret the server reads (EnvVar.secret_name → secret name). Default none.",
    )
    min_count: int = Field(default=1, ge=0, description="Fewest VMs while serving. Default 1.")
    max_count: int = Field(default=2, ge=1, description="Most VMs. Default 2.")
    default_count: int | None = Field(default=None, ge=0, description="VMs at creation and when metrics are missing. Default min_count.")
    spot: bool = Field(
        default=False, description="Spot VMs (eviction policy Delete, max price -1: never evicted for price). Default false."
    )
    zones: tuple[str, ...] = Field(
        default=(), description="Availability zones to spread over, e.g. ('1', '2'). Default: regional (no zones)."
    )
    schedule: AzureScaleSchedule | None = Field(default=None, description="Scale-to-zero schedule (dev). Default none (always on).")
    scale_out_requests_waiting: float = Field(
        default=5.0,
        gt=0,
        description="Average queued requests per VM over 5 min that add a VM. Default 5 (KEDA's threshold in production-stack).",
    )
    scale_in_requests_running: float = Field(
        default=1.0, ge=0, description="Average running requests per VM over 30 min under which a VM is removed. Default 1."
    )
    image: AzureImage = Field(
        default=DEFAULT_IMAGE,
        description="OS image. Default: Azure's Ubuntu 22.04 HPC image at the pinned version (pins.AZURE_UBUNTU_HPC).",
    )
    os_disk_gib: int = Field(default=128, ge=64, le=4095, description="Premium SSD OS disk (OS, Docker images). Default 128.")
    data_disk_gib: int | None = Field(
        default=None, ge=1, le=32767, description="Model-cache data disk. Default weights × 1.5 + 20 GiB, ≥ 50."
    )
    data_disk_sku: str = Field(
        default="Premium_LRS", description=f"Data disk type, one of {', '.join(DATA_DISK_SKUS)}. Default Premium_LRS (read-cached)."
    )
    encryption_at_host: bool = Field(
        default=True,
        description="Encrypt temp disk and caches at the host (subscription feature Microsoft.Compute/EncryptionAtHost). Default true.",
    )
    disk_encryption_set_id: StrInput | None = Field(
        default=None, description="Disk encryption set (customer-managed key) of OS and data disks. Default: platform keys."
    )
    entra_id_login: bool = Field(
        default=True, description="Install AADSSHLoginForLinux: SSH with Entra ID identities and Azure RBAC. Default true."
    )
    admin_ssh_public_key: str | None = Field(
        default=None, description="An (ephemeral) admin SSH public key. Default: a key nobody holds the private half of."
    )
    idle_timeout_minutes: int = Field(
        default=MAX_IDLE_TIMEOUT_MINUTES,
        ge=4,
        le=MAX_IDLE_TIMEOUT_MINUTES,
        description="Load balancer TCP idle timeout, 4 to 30; streams silent longer are reset. Default 30.",
    )
    automatic_repairs: bool = Field(
        default=True, description="Replace VMs that fail the health probe after the grace period. Default true."
    )
    alert_emails: tuple[str, ...] = Field(default=(), description="E-mail receivers of the alerts. Default none: alerts without actions.")
    alert_thresholds: GpuVmAlertThresholds = Field(default_factory=GpuVmAlertThresholds, description="Alert thresholds. Defaults above.")
    router: RouterOptions | None = Field(
        default=None,
        description="The vLLM router on every VM (serving.router; vLLM servers only): the load balancer calls the routers. "
        "Default none: the load balancer calls the servers.",
    )
    config_path: str = Field(default="gpu_vm", description="Key path named in error messages. Default 'gpu_vm'.")

    @model_validator(mode="after")
    def _check(self) -> AzureGpuVmArgs:
        where = self.config_path
        spec = self.container
        if not _LOCATION.match(self.location):
            raise UserError(f"{where}.location = {self.location}: not an Azure region name such as westeurope or eastus2")
        itype = check_vm_size(self.vm_size, spec.resources.gpus, self.location, f"{where}.vm_size")
        hpc_image = self.image.id is None and (self.image.publisher, self.image.offer) == (DEFAULT_IMAGE.publisher, DEFAULT_IMAGE.offer)
        if itype.accelerator_key in GRID_DRIVER_ACCELERATORS and hpc_image:
            raise UserError(
                f"{where}.vm_size = {itype.name}: NVadsA10 v5 sizes need NVIDIA's GRID driver, which the Ubuntu HPC image "
                f"does not have; give {where}.image the id of an image with the GRID driver, Docker and the NVIDIA "
                "container toolkit, or choose an NC size"
            )
        default = self.default
        if not self.min_count <= default <= self.max_count:
            raise UserError(
                f"{where}: min_count {self.min_count}, default_count {default}, max_count {self.max_count}; "
                "allowed: min_count ≤ default_count ≤ max_count"
            )
        if not OBJECT_PREFIX.match(self.model_key_prefix):
            raise UserError(
                f"{where}.model_key_prefix = {self.model_key_prefix!r}: give a blob prefix like 'llama-3.1-8b/0e9e39f' "
                "(no leading or trailing '/', no wildcards)"
            )
        try:
            model_mount(spec)
            host_path(spec, weights_path(spec))
        except ValueError as err:
            raise UserError(f"{where}.container: {err}") from None
        needed = sorted({name for v in spec.env if (name := v.secret_name)})
        missing = [s for s in needed if s not in self.secret_names]
        if missing:
            raise UserError(f"{where}.secret_names: the server reads secret {missing[0]!r}; map it to its Key Vault secret name")
        for key, name in self.secret_names.items():
            try:
                check_secret_name(name)
            except ValueError as err:
                raise UserError(f"{where}.secret_names.{key}: {err}") from None
        if self.secret_names and (self.key_vault_id is None or self.key_vault_uri is None):
            raise UserError(f"{where}.key_vault_id: the server reads secrets; give key_vault_id and key_vault_uri of their vault")
        need_gib = math.ceil(spec.weight_bytes / GIB) + 1
        if self.data_disk_gib is not None and self.data_disk_gib < need_gib:
            raise UserError(f"{where}.data_disk_gib = {self.data_disk_gib}: the weights need at least {need_gib} GiB")
        if self.data_disk_sku not in DATA_DISK_SKUS:
            raise UserError(f"{where}.data_disk_sku = {self.data_disk_sku}: allowed {', '.join(DATA_DISK_SKUS)}")
        if self.frontend_private_ip is not None:
            try:
                address = ipaddress.ip_address(self.frontend_private_ip)
            except ValueError:
                raise UserError(f"{where}.frontend_private_ip = {self.frontend_private_ip}: not an IPv4 address") from None
            if address.version != 4 or not address.is_private:
                raise UserError(f"{where}.frontend_private_ip = {self.frontend_private_ip}: a private IPv4 address of the lb subnet")
        for zone in self.zones:
            if zone not in ("1", "2", "3"):
                raise UserError(f"{where}.zones = {zone}: allowed '1', '2', '3'")
        for email in self.alert_emails:
            if not _EMAIL.match(email):
                raise UserError(f"{where}.alert_emails = {email}: not an e-mail address")
        if self.alert_thresholds.gpu_idle_minutes not in ALERT_WINDOWS_MINUTES:
            raise UserError(
                f"{where}.alert_thresholds.gpu_idle_minutes = {self.alert_thresholds.gpu_idle_minutes}: "
                f"allowed {', '.join(map(str, ALERT_WINDOWS_MINUTES))}"
            )
        if self.admin_ssh_public_key is not None and not _SSH_KEY.match(self.admin_ssh_public_key.strip()):
            raise UserError(f"{where}.admin_ssh_public_key: not an OpenSSH public key (ssh-rsa … or ssh-ed25519 …)")
        if self.schedule is not None:
            self._check_schedule(where)
        return self

    def _check_schedule(self, where: str) -> None:
        schedule = self.schedule
        assert schedule is not None
        if not schedule.days:
            raise UserError(f"{where}.schedule.days: give at least one day, e.g. Monday")
        for day in schedule.days:
            if day not in DAYS:
                raise UserError(f"{where}.schedule.days = {day}: allowed {', '.join(DAYS)}")
        for key in ("start", "stop"):
            value = getattr(schedule, key)
            if not _CLOCK.match(value):
                raise UserError(f"{where}.schedule.{key} = {value!r}: a 24-hour HH:MM time such as 07:00")
        if schedule.start == schedule.stop:
            raise UserError(f"{where}.schedule: start and stop are both {schedule.start}")
        if "/" in schedule.time_zone or not schedule.time_zone.strip():
            raise UserError(
                f"{where}.schedule.time_zone = {schedule.time_zone}: Azure autoscale takes Windows time zone names, "
                "e.g. 'W. Europe Standard Time' or 'UTC'"
            )

    @property
    def size(self) -> InstanceType:
        """The catalog entry of `vm_size` (its canonical spelling names the scale set's SKU)."""
        return get_instance_type(self.vm_size.strip(), "azure")

    @property
    def default(self) -> int:
        return self.min_count if self.default_count is None else self.default_count

    @property
    def data_gib(self) -> int:
        return self.data_disk_gib if self.data_disk_gib is not None else data_disk_size_gib(self.container.weight_bytes)


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def data_disk_size_gib(weight_bytes: int) -> int:
    """Model cache size: weights × 1.5 (a second revision can land beside the first) + 20 GiB, ≥ 50."""
    return max(50, math.ceil(weight_bytes * 1.5 / GIB) + 20)


def iso_minutes(minutes: int) -> str:
    """ISO 8601 duration: 90 → PT1H30M, 15 → PT15M."""
    hours, rest = divmod(int(minutes), 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest or not hours else "")


def repair_grace_minutes(spec: ContainerSpec) -> int:
    """The scale set's automatic-repair grace: the server's ready-within budget, 10 to 90 minutes (Azure's range)."""
    return min(90, max(10, math.ceil(ready_within_seconds(spec) / 60)))


WINDOW_SIZES_MINUTES = (1, 5, 15, 30, 60, 360, 720, 1440)
"""The window sizes a metric alert accepts (Azure Monitor, "Create or edit a metric alert rule": lookback periods
1, 5, 15, 30 minutes, 1, 6, 12, 24 hours; azure-native 3.29.0 `monitor.MetricAlert.window_size` takes them as ISO
8601 durations)."""


def decide_window_size(seconds: int) -> str:
    """The smallest metric-alert window (`WINDOW_SIZES_MINUTES`) at least `seconds` long, as ISO 8601."""
    minutes = next((m for m in WINDOW_SIZES_MINUTES if m * 60 >= seconds), WINDOW_SIZES_MINUTES[-1])
    return iso_minutes(minutes)


def subnet_ports(spec: ContainerSpec, router: RouterOptions | None) -> tuple[int, int | None]:
    """(the port the load balancer forwards clients to, the port the group's VMs call on each other or None): with a
    router (`router` given, a vLLM server) clients reach the router port and only the routers the server's; without,
    clients reach the server. `AzureNetwork`'s compute NSG opens them (`compute_ports`, `compute_peer_ports`)."""
    routed = router_vm.vm_router(spec, router, router_vm.InstanceLister(command=(), description="")) is not None
    server = spec.port(spec.http_port).container_port
    return (router_vm.ROUTER_PORT, server) if routed else (server, None)


def lb_probe(spec: ContainerSpec, routed: bool) -> tuple[int, str]:
    """The load balancer probe's (port, path): the routers' readiness (a router holds a healthy server, its own
    or another VM's), else the server's own check."""
    if routed:
        return router_vm.ROUTER_PORT, router_vm.READINESS_PATH
    return health_check_port(spec), health_check_path(spec)


APPLICATION_HEALTH = {"publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux", "type_handler_version": "1.0"}
"""The Application Health extension, Binary Health States (HTTP 200 = healthy): Rich Health States (2.0) want a JSON
body vLLM's /health does not send (Azure, "Using Application Health extension with Virtual Machine Scale Sets")."""


def application_health_extension(spec: ContainerSpec) -> dict[str, Any]:
    """Instance health from inside the VM: the model server's own check on its port (localhost, no NSG on the way),
    for rolling upgrades and automatic repairs when the load balancer probe checks the routers."""
    return {
        "name": "application-health",
        **APPLICATION_HEALTH,
        "auto_upgrade_minor_version": True,
        "settings": {"protocol": "http", "port": health_check_port(spec), "requestPath": health_check_path(spec)},
    }


def lb_child_id(subscription_id: str, resource_group: str, lb_name: str, kind: str, name: str) -> str:
    """Id of a load balancer sub-resource (frontendIPConfigurations, backendAddressPools, probes)."""
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network/"
        f"loadBalancers/{lb_name}/{kind}/{name}"
    )


def autoscale_profiles(args: AzureGpuVmArgs, target: Any, *, scale_out_cooldown_minutes: int) -> list[dict[str, Any]]:
    """The autoscale profiles: serving (queue-driven) always; with a schedule, an 'off' profile at zero
    from `stop` and the serving profile again from `start` (recurrence profiles run until the next one
    starts, so days outside the schedule stay off)."""

    def trigger(metric: str, operator: str, threshold: float, window: int) -> dict[str, Any]:
        return {
            "metric_name": metric,
            "metric_namespace": azure_boot.METRICS_NAMESPACE,
            "metric_resource_uri": target,
            "time_grain": "PT1M",
            "statistic": "Average",
            "time_window": iso_minutes(window),
            "time_aggregation": "Average",
            "operator": operator,
            "threshold": threshold,
        }

    rules = [
        {
            "metric_trigger": trigger(azure_boot.REQUESTS_WAITING, "GreaterThan", args.scale_out_requests_waiting, 5),
            "scale_action": {
                "direction": "Increase",
                "type": "ChangeCount",
                "value": "1",
                "cooldown": iso_minutes(scale_out_cooldown_minutes),
            },
        },
        {
            "metric_trigger": trigger(azure_boot.REQUESTS_RUNNING, "LessThan", args.scale_in_requests_running, 30),
            "scale_action": {"direction": "Decrease", "type": "ChangeCount", "value": "1", "cooldown": "PT30M"},
        },
    ]
    serving = {
        "capacity": {"minimum": str(args.min_count), "maximum": str(args.max_count), "default": str(args.default)},
        "rules": rules,
    }
    profiles: list[dict[str, Any]] = [{"name": "serving", **serving}]
    schedule = args.schedule
    if schedule is not None:

        def recurrence(clock: str) -> dict[str, Any]:
            hour, minute = (int(part) for part in clock.split(":"))
            return {
                "frequency": "Week",
                "schedule": {"time_zone": schedule.time_zone, "days": list(schedule.days), "hours": [hour], "minutes": [minute]},
            }

        profiles.append(
            {
                "name": "off",
                "capacity": {"minimum": "0", "maximum": "0", "default": "0"},
                "rules": [],
                "recurrence": recurrence(schedule.stop),
            }
        )
        profiles.append({"name": "serving-on-schedule", **serving, "recurrence": recurrence(schedule.start)})
    return profiles


def alert_definitions(args: AzureGpuVmArgs, *, routed: bool = False) -> list[dict[str, Any]]:
    """Metric alerts (pure): key, scope ('vmss' or 'lb'), severity, window/frequency and one criterion (or
    `criteria`, all of which must hold); with `routed` (the VMs run the router) also `router_no_worker_alert`."""
    t = args.alert_thresholds
    custom = {"metric_namespace": azure_boot.METRICS_NAMESPACE, "skip_metric_validation": True}
    routers = [router_no_worker_alert(args.container)] if routed else []
    return routers + [
        {
            "key": "vm-availability",
            "scope": "vmss",
            "description": "A GPU VM is unavailable (VM Availability Metric below 1)",
            "severity": 1,
            "window_size": "PT15M",
            "evaluation_frequency": "PT5M",
            "criterion": {
                "metric_name": "VmAvailabilityMetric",
                "metric_namespace": "Microsoft.Compute/virtualMachineScaleSets",
                "operator": "LessThan",
                "threshold": 1,
                "time_aggregation": "Minimum",
            },
        },
        {
            "key": "lb-health-probe",
            "scope": "lb",
            "description": f"Under {t.lb_healthy_percent:g}% of the model servers pass the load balancer's health probe",
            "severity": 1,
            "window_size": "PT15M",
            "evaluation_frequency": "PT5M",
            "criterion": {
                "metric_name": "DipAvailability",
                "metric_namespace": "Microsoft.Network/loadBalancers",
                "operator": "LessThan",
                "threshold": t.lb_healthy_percent,
                "time_aggregation": "Average",
            },
        },
        {
            "key": "gpu-idle",
            "scope": "vmss",
            "description": f"GPUs under {t.gpu_idle_percent:g}% utilization for {t.gpu_idle_minutes} min: paying for idle GPUs",
            "severity": 3,
            "window_size": iso_minutes(t.gpu_idle_minutes),
            "evaluation_frequency": "PT15M",
            "criterion": {
                "metric_name": azure_boot.GPU_UTILIZATION,
                "operator": "LessThan",
                "threshold": t.gpu_idle_percent,
                "time_aggregation": "Average",
                **custom,
            },
        },
        {
            "key": "gpu-memory",
            "scope": "vmss",
            "description": f"A GPU's memory is over {t.gpu_memory_percent:g}% used",
            "severity": 2,
            "window_size": "PT5M",
            "evaluation_frequency": "PT1M",
            "criterion": {
                "metric_name": azure_boot.GPU_MEMORY_USED,
                "operator": "GreaterThan",
                "threshold": t.gpu_memory_percent,
                "time_aggregation": "Maximum",
                **custom,
            },
        },
        {
            "key": "requests-waiting",
            "scope": "vmss",
            "description": f"Over {t.requests_waiting:g} requests queued per server for 15 min (at max_count or scaling too slowly)",
            "severity": 2,
            "window_size": "PT15M",
            "evaluation_frequency": "PT5M",
            "criterion": {
                "metric_name": azure_boot.REQUESTS_WAITING,
                "operator": "GreaterThan",
                "threshold": t.requests_waiting,
                "time_aggregation": "Average",
                **custom,
            },
        },
    ]


def router_no_worker_alert(spec: ContainerSpec) -> dict[str, Any]:
    """The routers saw no healthy model server for a whole window while the group's servers reported.

    Two criteria on the scale set's custom metrics (`azure_boot.metrics_config`, both ANDed): the routers' worker
    gauge (`azure_boot.ROUTER_ACTIVE_WORKERS`) at most 0 throughout the window (Maximum < 1 over every router's
    samples), and some server's queue gauge posted in it (the helper posts it only while the server answers; a
    booting group or one scaled to zero is no page). The window is AWS's and GCP's (`router_vm.decide_no_worker_window`
    past the automatic-repair grace), rounded up to a window Azure accepts.

    Azure can't count a missing series as 0: a static-threshold criterion with no data is not evaluated, and the
    pinned azure-native 3.29.0 offers `skip_metric_validation` (the rule may exist before the metric is first
    posted — used here) and `ignore_data_before` (a dynamic threshold's learning start), neither of which makes
    absence a breach. A router that never started is left to the load balancer's probe alert (its VM fails the
    router's probe), and one router without workers among routers with workers is not caught here (the Maximum).
    """
    custom = {"metric_namespace": azure_boot.METRICS_NAMESPACE, "skip_metric_validation": True}
    window = router_vm.decide_no_worker_window(repair_grace_minutes(spec) * 60)
    return {
        "key": "router-no-workers",
        "scope": "vmss",
        "description": "The routers saw no healthy model server for the whole window while servers reported: requests fail with 502",
        "severity": 1,
        "window_size": decide_window_size(window),
        "evaluation_frequency": "PT5M",
        "criteria": [
            {
                "metric_name": azure_boot.ROUTER_ACTIVE_WORKERS,
                "operator": "LessThan",
                "threshold": 1,
                "time_aggregation": "Maximum",
                **custom,
            },
            {
                "metric_name": azure_boot.REQUESTS_WAITING,
                "operator": "GreaterThan",
                "threshold": 0,
                "time_aggregation": "Count",
                **custom,
            },
        ],
    }


def _check_custom_data(args: AzureGpuVmArgs, deployment: str) -> None:
    """Render the boot script with the longest plausible ids and check Azure's 64 KB custom-data limit."""
    text = azure_boot.azure_custom_data(
        args.container,
        container_url="https://" + "a" * 24 + ".blob.core.windows.net/" + "c" * 63,
        key_prefix=args.model_key_prefix,
        client_id="00000000-0000-0000-0000-000000000000",
        deployment=deployment,
        revision=args.weights_revision,
        secret_uris={s: secret_uri("https://" + "v" * 24 + ".vault.azure.net/", n) for s, n in args.secret_names.items()} or None,
        router=args.router,
    )
    size = len(text.encode())
    if size > azure_boot.CUSTOM_DATA_LIMIT:
        raise UserError(
            f"{args.config_path}.container: the boot script is {size} bytes, above Azure's "
            f"{azure_boot.CUSTOM_DATA_LIMIT}-byte custom-data limit (large config mounts?)"
        )


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Deployment:
    """What every step of AzureGpuVm's constructor reads: the component name, its args and derived facts."""

    name: str
    args: AzureGpuVmArgs
    tags: dict[str, str]
    deployment: str
    """`<stack>/<component name>`, in descriptions and the boot script."""
    port: int
    check_port: int
    subscription: pulumi.Output[str]
    """The provider's subscription id (role assignment names, the load balancer's part ids)."""
    routed: bool
    """Whether the VMs run the vLLM router (`router` given and a vLLM server)."""
    traffic_port: int
    """Where the load balancer sends requests: the router's port, else the server's."""


class AzureGpuVm(pulumi.ComponentResource):
    url: pulumi.Output[str]
    private_ip: pulumi.Output[str | None]
    vmss_id: pulumi.Output[str]
    vmss_name: pulumi.Output[str]
    identity_id: pulumi.Output[str]
    identity_principal_id: pulumi.Output[str]
    identity_client_id: pulumi.Output[str]
    load_balancer_id: pulumi.Output[str]

    def __init__(self, name: str, args: AzureGpuVmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AzureGpuVm", name, None, opts)
        spec = args.container
        labels = args.labels.with_method("gpu-vm").with_model(spec.served_name)
        deployment = f"{args.labels.stack}/{name}"

        # Fail before anything registers if the boot script cannot be rendered or is too big.
        _check_custom_data(args, deployment)

        client = authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=self))
        router = azure_boot.azure_router(spec, args.router, client_id="")  # the client id only names the lister's identity
        d = _Deployment(
            name=name,
            args=args,
            tags=azure_tags(labels),
            deployment=deployment,
            port=spec.port(spec.http_port).container_port,
            check_port=health_check_port(spec),
            subscription=client.subscription_id,
            routed=router is not None,
            traffic_port=router_vm.traffic_port(spec, router),
        )

        identity, readers = self._identity(d)
        lb = self._load_balancer(d)
        vmss = self._scale_set(d, identity, lb, readers)
        self._autoscale(d, vmss)
        self._alerts(d, vmss, lb)

        scheme_port = "" if args.frontend_port == 80 else f":{args.frontend_port}"
        self.private_ip = lb.frontend_ip_configurations.apply(lambda f: f[0].private_ip_address if f else None)
        # 'pending' until Azure assigns a dynamic address: the plan still shows the scheme and port the gateway calls.
        self.url = self.private_ip.apply(lambda ip: f"http://{ip or 'pending'}{scheme_port}")
        self.vmss_id = vmss.id
        self.vmss_name = vmss.name
        self.identity_id = identity.id
        self.identity_principal_id = identity.principal_id
        self.identity_client_id = identity.client_id
        self.load_balancer_id = lb.id
        self.register_outputs(
            {
                "url": self.url,
                "private_ip": self.private_ip,
                "vmss_id": self.vmss_id,
                "vmss_name": self.vmss_name,
                "identity_principal_id": self.identity_principal_id,
                "identity_client_id": self.identity_client_id,
                "load_balancer_id": self.load_balancer_id,
            }
        )

    # ---- steps of the constructor, in creation order ---------------------------------------------

    def _identity(self, d: _Deployment) -> tuple[managedidentity.UserAssignedIdentity, list[pulumi.Resource]]:
        """The VMs' user-assigned identity and its read roles (weights, secrets), which the VMs wait for."""
        name, args = d.name, d.args
        identity = managedidentity.UserAssignedIdentity(
            child(name, "identity"),
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=d.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        blob_reader = assign_role(
            child(name, "blob-reader"),
            scope=args.model_container_id,
            principal_id=identity.principal_id,
            role=STORAGE_BLOB_DATA_READER,
            subscription_id=d.subscription,
            parent=self,
            description=f"pulumi-llm {d.deployment}: read the model weights (this container only)",
        )
        secret_readers: dict[str, authorization.RoleAssignment] = {}
        if args.secret_names:
            assert args.key_vault_id is not None
            secret_readers = grant_secret_read(
                child(name, "secret-reader"),
                vault_id=args.key_vault_id,
                principal_id=identity.principal_id,
                secret_names=args.secret_names.values(),
                subscription_id=d.subscription,
                parent=self,
            )
        return identity, [blob_reader, *secret_readers.values()]

    def _load_balancer(self, d: _Deployment) -> network.LoadBalancer:
        """The internal Standard load balancer: one frontend, the servers' pool, the health probe, one rule."""
        args = d.args
        lb_name = _lb_name(d)
        probe_port, probe_path = lb_probe(args.container, d.routed)
        frontend: network.FrontendIPConfigurationArgsDict = {"name": "frontend", "subnet": {"id": args.lb_subnet_id or args.subnet_id}}
        if args.frontend_private_ip is not None:
            frontend["private_ip_allocation_method"] = "Static"
            frontend["private_ip_address"] = args.frontend_private_ip
        else:
            frontend["private_ip_allocation_method"] = "Dynamic"
        return network.LoadBalancer(
            lb_name,
            load_balancer_name=lb_name,  # known up front: the rule and the scale set refer to its parts by id
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "Standard", "tier": "Regional"},
            frontend_ip_configurations=[frontend],
            backend_address_pools=[{"name": "servers"}],
            probes=[
                {
                    "name": "health",
                    "protocol": "Http",
                    "port": probe_port,
                    "request_path": probe_path,
                    "interval_in_seconds": 15,
                    "probe_threshold": 2,
                }
            ],
            load_balancing_rules=[
                {
                    "name": "http",
                    "protocol": "Tcp",
                    "frontend_port": args.frontend_port,
                    "backend_port": d.traffic_port,
                    "frontend_ip_configuration": {"id": _lb_ref(d, "frontendIPConfigurations", "frontend")},
                    "backend_address_pool": {"id": _lb_ref(d, "backendAddressPools", "servers")},
                    "probe": {"id": _lb_ref(d, "probes", "health")},
                    "idle_timeout_in_minutes": args.idle_timeout_minutes,
                    "enable_tcp_reset": True,  # clients learn at once that an idle stream was cut
                    "load_distribution": "Default",
                }
            ],
            tags=d.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _scale_set(
        self,
        d: _Deployment,
        identity: managedidentity.UserAssignedIdentity,
        lb: network.LoadBalancer,
        readers: list[pulumi.Resource],
    ) -> compute.VirtualMachineScaleSet:
        """The GPU scale set (rolling upgrades, automatic repairs) and its identity's metrics-publisher role."""
        name, args = d.name, d.args
        grace_minutes = repair_grace_minutes(args.container)
        vmss_extra: dict[str, Any] = {}
        if args.spot:
            vmss_extra["spot_restore_policy"] = {"enabled": True, "restore_timeout": "PT1H"}
        if args.zones:
            vmss_extra.update(zones=list(args.zones), zone_balance=False)
        identity_type = (
            compute.ResourceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED
            if args.entra_id_login
            else compute.ResourceIdentityType.USER_ASSIGNED
        )
        vmss = compute.VirtualMachineScaleSet(
            child(name, "vmss"),
            resource_group_name=args.resource_group_name,
            location=args.location,
            orchestration_mode="Uniform",
            sku={"name": args.size.name, "tier": "Standard", "capacity": args.default},
            # Overprovisioning would start (and bill) extra GPU VMs and run their boot scripts for nothing.
            overprovision=False,
            single_placement_group=False,
            # Entra ID SSH login needs the system-assigned identity; it gets no role here.
            identity={"type": identity_type, "user_assigned_identities": [identity.id]},
            upgrade_policy={
                "mode": compute.UpgradeMode.ROLLING,
                "rolling_upgrade_policy": {
                    "max_surge": True,  # new VMs first: GPU capacity is scarce, never drop below today
                    "max_batch_instance_percent": 20,
                    "max_unhealthy_instance_percent": 100,  # a broken fleet can still be rolled to a fix
                    "max_unhealthy_upgraded_instance_percent": 20,
                    "pause_time_between_batches": iso_minutes(min(60, grace_minutes)),
                    "prioritize_unhealthy_instances": True,
                    "rollback_failed_instances_on_policy_breach": True,
                },
            },
            automatic_repairs_policy={
                "enabled": args.automatic_repairs,
                "grace_period": iso_minutes(grace_minutes),
                "repair_action": "Replace",
            },
            scale_in_policy={"rules": ["Default"], "force_deletion": False},
            # _vm_profile builds VirtualMachineScaleSetVMProfileArgsDict-shaped plain data (pure, tested as dicts)
            virtual_machine_profile=cast(compute.VirtualMachineScaleSetVMProfileArgsDict, _vm_profile(d, _custom_data(d, identity))),
            tags=d.tags,
            # Autoscale owns the capacity once the scale set exists. The VMs start syncing only once they
            # may read the weights and secrets.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[lb, *readers], ignore_changes=["sku.capacity"]),
            **vmss_extra,
        )
        assign_role(
            child(name, "metrics-publisher"),
            scope=vmss.id,
            principal_id=identity.principal_id,
            role=MONITORING_METRICS_PUBLISHER,
            subscription_id=d.subscription,
            parent=self,
            description=f"pulumi-llm {d.deployment}: publish the server's custom metrics on its own scale set",
        )
        if d.routed:
            # The router's lister reads the scale set's network interfaces (children of the scale set): Reader
            # there and nowhere else. Until it exists, the reconciler's listing fails and leaves the router as is.
            assign_role(
                child(name, "workers-reader"),
                scope=vmss.id,
                principal_id=identity.principal_id,
                role=READER,
                subscription_id=d.subscription,
                parent=self,
                description=f"pulumi-llm {d.deployment}: the routers list their scale set's VMs",
            )
        return vmss

    def _autoscale(self, d: _Deployment, vmss: compute.VirtualMachineScaleSet) -> None:
        cooldown = min(60, max(5, math.ceil(provisioning_seconds(d.args.container) / 60)))
        monitor.AutoscaleSetting(
            child(d.name, "autoscale"),
            resource_group_name=d.args.resource_group_name,
            location=d.args.location,
            target_resource_uri=vmss.id,
            enabled=True,
            # autoscale_profiles builds AutoscaleProfileArgsDict-shaped plain data (pure, so its tests read it as dicts)
            profiles=cast(list[monitor.AutoscaleProfileArgsDict], autoscale_profiles(d.args, vmss.id, scale_out_cooldown_minutes=cooldown)),
            tags=d.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alerts(self, d: _Deployment, vmss: compute.VirtualMachineScaleSet, lb: network.LoadBalancer) -> None:
        """Azure Monitor metric alerts (see alert_definitions), e-mailed through an action group when addresses are given."""
        name, args, tags, rg = d.name, d.args, d.tags, d.args.resource_group_name
        here = pulumi.ResourceOptions(parent=self)
        actions: list[monitor.MetricAlertActionArgsDict] = []
        if args.alert_emails:
            group = monitor.ActionGroup(
                child(name, "alerts"),
                resource_group_name=rg,
                location="Global",
                group_short_name=dns_label(name, 12),
                enabled=True,
                email_receivers=[
                    {"name": f"email-{i}", "email_address": email, "use_common_alert_schema": True}
                    for i, email in enumerate(args.alert_emails, start=1)
                ],
                tags=tags,
                opts=here,
            )
            actions = [{"action_group_id": group.id}]
        scopes = {"vmss": vmss.id, "lb": lb.id}
        for definition in alert_definitions(args, routed=d.routed):
            # Typed args, not a dict: `criteria` is a union, so only the Args class knows its wire names
            # (odata.type, allOf, criterionType).
            parts = definition.get("criteria") or [definition["criterion"]]
            criteria = [
                monitor.MetricCriteriaArgs(
                    criterion_type="StaticThresholdCriterion", name=definition["key"] + (f"-{i}" if len(parts) > 1 else ""), **part
                )
                for i, part in enumerate(parts, start=1)
            ]
            monitor.MetricAlert(
                child(name, f"alert-{definition['key']}"),
                resource_group_name=rg,
                location="global",
                description=f"pulumi-llm {d.deployment}: {definition['description']}",
                severity=definition["severity"],
                enabled=True,
                scopes=[scopes[definition["scope"]]],
                window_size=definition["window_size"],
                evaluation_frequency=definition["evaluation_frequency"],
                auto_mitigate=True,
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", all_of=criteria
                ),
                actions=actions,
                tags=tags,
                opts=here,
            )


def _lb_name(d: _Deployment) -> str:
    return child(d.name, "lb")


def _lb_ref(d: _Deployment, kind: str, item: str) -> pulumi.Output[str]:
    """The id of a part of the load balancer, known before it exists (its name is fixed)."""
    lb_name = _lb_name(d)
    return pulumi.Output.all(d.subscription, d.args.resource_group_name).apply(lambda v: lb_child_id(v[0], v[1], lb_name, kind, item))


def _custom_data(d: _Deployment, identity: managedidentity.UserAssignedIdentity) -> pulumi.Output[str]:
    """The boot script, base64-encoded as the scale set takes it."""
    args = d.args
    secret_keys = sorted(args.secret_names)
    return pulumi.Output.all(identity.client_id, args.model_container_url, args.key_vault_uri).apply(
        lambda v: base64.b64encode(
            azure_boot.azure_custom_data(
                args.container,
                container_url=v[1],
                key_prefix=args.model_key_prefix,
                client_id=v[0] or "",  # None only under a mock runtime
                deployment=d.deployment,
                revision=args.weights_revision,
                secret_uris={s: secret_uri(v[2], args.secret_names[s]) for s in secret_keys} or None,
                router=args.router,
            ).encode()
        ).decode()
    )


def _vm_profile(d: _Deployment, custom_data: pulumi.Output[str]) -> dict[str, Any]:
    """The scale set's VM profile: OS (SSH keys only), CMEK-capable disks, NIC in the load balancer's pool, extensions."""
    args = d.args

    def managed_disk(sku: str) -> dict[str, Any]:
        disk: dict[str, Any] = {"storage_account_type": sku}
        if args.disk_encryption_set_id is not None:
            disk["disk_encryption_set"] = {"id": args.disk_encryption_set_id}
        return disk

    extensions: list[dict[str, Any]] = []
    if d.routed:
        extensions.append(application_health_extension(args.container))
    if args.entra_id_login:
        extensions.append(
            {
                "name": "entra-id-ssh-login",
                "publisher": "Microsoft.Azure.ActiveDirectory",
                "type": "AADSSHLoginForLinux",
                "type_handler_version": "1.0",
                "auto_upgrade_minor_version": True,
            }
        )
    vm_profile: dict[str, Any] = {
        "os_profile": {
            "computer_name_prefix": dns_label(d.name, 40),
            "admin_username": ADMIN_USERNAME,
            "custom_data": custom_data,
            "allow_extension_operations": True,
            "linux_configuration": {
                "disable_password_authentication": True,
                "provision_vm_agent": True,
                "ssh": {
                    "public_keys": [
                        {
                            "path": f"/home/{ADMIN_USERNAME}/.ssh/authorized_keys",
                            "key_data": (args.admin_ssh_public_key or UNUSABLE_SSH_PUBLIC_KEY).strip(),
                        }
                    ]
                },
            },
        },
        "storage_profile": {
            "image_reference": args.image.reference(),
            "os_disk": {
                "create_option": "FromImage",
                "caching": "ReadWrite",
                "disk_size_gb": args.os_disk_gib,
                "managed_disk": managed_disk("Premium_LRS"),
                "delete_option": "Delete",
            },
            "data_disks": [
                {
                    "lun": azure_boot.DATA_DISK_LUN,
                    "create_option": "Empty",
                    "disk_size_gb": args.data_gib,
                    # Weights are written once and read at every start: the host read cache serves them.
                    "caching": "ReadOnly" if args.data_gib <= 4095 else "None",
                    "managed_disk": managed_disk(args.data_disk_sku),
                    "delete_option": "Delete",
                }
            ],
        },
        "network_profile": {
            # One source of instance health per scale set: the load balancer probe, or (with routers, whose
            # readiness the probe then checks) the Application Health extension on the VM's own server.
            **({} if d.routed else {"health_probe": {"id": _lb_ref(d, "probes", "health")}}),
            "network_interface_configurations": [
                {
                    "name": "nic",
                    "primary": True,
                    "enable_accelerated_networking": True,
                    "delete_option": "Delete",
                    "ip_configurations": [
                        {
                            "name": "ipconfig",
                            "primary": True,
                            "subnet": {"id": args.subnet_id},
                            "load_balancer_backend_address_pools": [{"id": _lb_ref(d, "backendAddressPools", "servers")}],
                            # No public_ip_address_configuration: the VMs have no public address.
                        }
                    ],
                }
            ],
        },
        "security_profile": {"encryption_at_host": args.encryption_at_host},
        "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},  # managed storage, serial console
        "extension_profile": {"extensions": extensions},
        "priority": "Spot" if args.spot else "Regular",
    }
    if args.spot:
        vm_profile.update(eviction_policy="Delete", billing_profile={"max_price": -1})
    else:
        # Deletes (scale-in, a rolling upgrade's old VMs) wait for the VM's drain handler to approve them, at most the
        # longest stream (capped at Azure's 15 minutes: longer streams are cut). Spot VMs cannot have it (Azure): they
        # get only the 30 s Preempt event (azure_boot's docstring, "Draining before a delete").
        notice = azure_boot.terminate_notification(args.container)
        vm_profile["scheduled_events_profile"] = {
            "terminate_notification_profile": {"enable": True, "not_before_timeout": notice.not_before_timeout}
        }
    return vm_profile


# Names before 0.2.0 (docs/ARCHITECTURE.md, "Names"): served with a DeprecationWarning until 0.3.0.
__getattr__ = module_aliases(
    __name__,
    globals(),
    {
        "AzureAlertThresholds": "GpuVmAlertThresholds",
    },
)
