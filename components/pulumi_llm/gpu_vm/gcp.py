"""GcpGpuVm: one model server on GPU VMs in a regional managed instance group behind an Application Load Balancer.

Children (Pulumi names ``<name>-<role>``):

* identity: a dedicated service account (`-sa`) with `roles/storage.objectViewer` on the model bucket
  under an IAM condition that admits only the model's prefix (`-model-read`, from
  `storage.gcp.read_bindings`), `roles/logging.logWriter` and `roles/monitoring.metricWriter` on the
  project (`-log-writer`, `-metric-writer`: those roles exist only at project level), and
  `roles/secretmanager.secretAccessor` on each of the server's secrets only (`-secret-<name>`); the
  Compute Engine service agent gets encrypt/decrypt on the disk key (`-disk-key`), or the group could
  not create CMEK disks;
* compute: an instance template (`-template`): the machine type of the sizing catalog (a2/a3/g2 come
  with their GPUs attached, so no `guest_accelerators`), the Deep Learning VM image resolved from its
  family at `pulumi up`, boot and model-cache disks encrypted with the customer key, Shielded VM (secure
  boot, vTPM, integrity monitoring), gVNIC, no access config (no external IP), OS Login and no project
  SSH keys, `on_host_maintenance=TERMINATE` (GPUs cannot live-migrate), optional Spot provisioning, the
  cloud-init of `gcp_boot.gcp_user_data` in the `user-data` metadata key; a regional managed instance
  group (`-mig`) across the region's zones with autohealing on its own tolerant health check
  (`-autoheal-hc`) whose initial delay covers provisioning + the server's startup budget, proactive
  launch-first updates; a regional autoscaler (`-autoscaler`) on the load balancer's serving capacity;
* traffic: by default a regional internal Application Load Balancer (`-hc`, `-backend` with
  LEAST_REQUEST and RATE balancing, `-url-map`, `-http-proxy` or `-https-proxy` + `-tls-policy`,
  `-address`, forwarding rule `-http`/`-https` in the private subnet); with `external` a global
  external Application Load Balancer with a Google-managed certificate for `domains`, a TLS 1.2+
  policy, an HTTP→HTTPS redirect and an uptime check;
* alerts: Cloud Monitoring alert policies (`-alert-<key>`, from `alert_policies`) to the given
  notification channels;
* router (with `router`, vLLM only; `router_vm`): every VM runs the vLLM router beside the server, and the load
  balancer sends requests to the routers (named port `http` = `router_vm.ROUTER_PORT`, URL map forwarding
  `/v1/*` and `/readiness` only: the router's worker routes are unauthenticated) and checks their `/readiness`, while autohealing
  keeps checking the model server itself (GCP keeps the two checks apart). The VMs' service account gets two
  custom roles on the project: `-group-reader-role` (`gcp_boot.LISTER_GROUP_PERMISSIONS`, granted unconditionally
  by `-group-reader`: a group has no IAM policy of its own and no resource attributes in IAM Conditions) and
  `-lister-role` (`gcp_boot.LISTER_INSTANCE_PERMISSIONS`) under a condition that admits, of all instances, only
  this group's `<base>-xxxx` (`-lister`): listing the group needs nothing else. Firewall rules on the
  group's service account (`-allow-peers`, `-allow-autohealing`) admit the model port from the group's own VMs
  (router → servers) and from Google's health checkers (autohealing) only; the router port is the one
  `GcpNetwork`'s rules admit from the health checkers and the proxy-only subnet (the platform passes it as a
  server port).

Autoscaling signal: the load balancer's serving capacity (`load_balancing_utilization`), not CPU. An
LLM server's CPU is nearly idle while its GPUs are saturated, so CPU scaling never scales out. Each
instance's capacity is `requests_per_second_per_instance` (RATE balancing mode); the autoscaler keeps
the group at `target_utilization` of it, the same request-rate-per-instance signal as AWS's
ALBRequestCountPerTarget tracking. It needs no agent and no custom metric: Ops Agent Prometheus metrics
land on the `prometheus_target` resource, which the Compute Engine autoscaler cannot read per
instance, and a broken agent would stop scaling. The queue depth the server reports is alerted on.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import Any, Literal, cast

import pulumi
import pulumi_gcp.compute as compute
import pulumi_gcp.kms as kms
import pulumi_gcp.monitoring as monitoring
import pulumi_gcp.organizations as organizations
import pulumi_gcp.projects as projects
import pulumi_gcp.secretmanager as secretmanager
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.storage as storage
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..deprecated import module_aliases
from ..errors import UserError
from ..kubernetes.router_render import RouterOptions
from ..labels import CommonLabels, gcp_labels
from ..naming import child, dns_label
from ..network.gcp import HEALTH_CHECK_RANGES
from ..runtimes.spec import ContainerSpec
from ..security.gcp import ENCRYPTER_DECRYPTER
from ..sizing import GIB, INSTANCE_TYPES, InstanceType, get_instance_type
from ..storage.gcp import OBJECT_VIEWER, check_prefix, read_bindings
from ..validation import GCP_NETWORK_TAG as _TAG
from ..validation import GCP_REGION as _REGION
from ..validation import HOSTNAME as _DOMAIN
from . import cloud_init, gcp_boot, router_vm
from .cloud_init import health_check_path, health_check_port, host_path, model_mount, ready_within_seconds, weights_path

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""

ACCELERATOR_TYPES: dict[str, str] = {
    "g2-standard": "nvidia-l4",
    "a2-highgpu": "nvidia-tesla-a100",
    "a2-megagpu": "nvidia-tesla-a100",
    "a2-ultragpu": "nvidia-a100-80gb",
    "a3-highgpu": "nvidia-h100-80gb",
    "a3-megagpu": "nvidia-h100-mega-80gb",
    "a3-ultragpu": "nvidia-h200-141gb",
}
"""GCP accelerator type of each accelerator-optimized series (the GPUs its machine types come with)."""
HYPERDISK_ONLY = ("a3-megagpu", "a3-ultragpu")
"""Series whose VMs take Hyperdisk rather than Persistent Disk (default disk type hyperdisk-balanced)."""
DISK_TYPES = ("pd-balanced", "pd-ssd", "hyperdisk-balanced")
DEPLOYMENT_LABEL = "pulumi-llm_deployment"
"""Instance label naming the deployment: GPU alert filters select the group's VMs by it."""
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
"""The only access scope: IAM roles, not scopes, decide what the VM may do."""
LOG_WRITER = "roles/logging.logWriter"
METRIC_WRITER = "roles/monitoring.metricWriter"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
MAX_INITIAL_DELAY_SECONDS = 3600
"""Compute Engine's ceiling for a MIG's autohealing initial delay."""
METADATA_VALUE_LIMIT = 256 * 1024
"""Compute Engine refuses a metadata value over 256 KB."""
PORT_NAME = "http"

_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")


class GpuVmAlertThresholds(BaseModel):
    """Thresholds of the alert policies (definitions in `alert_policies`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_p99_seconds: float = Field(
        default=30.0, gt=0, description="p99 time to first token (vLLM) or load-balancer latency (others), seconds. Default 30."
    )
    errors_per_minute: float = Field(default=5.0, ge=0, description="Load-balancer 5xx responses per minute, for 3 minutes. Default 5.")
    queue_depth: int = Field(default=5, ge=1, description="Requests waiting in one server's queue, for 5 minutes. Default 5.")
    gpu_idle_percent: float = Field(
        default=5.0, ge=0, le=100, description="Mean GPU utilization below which the group's GPUs are idle. Default 5."
    )
    gpu_idle_minutes: int = Field(
        default=60, ge=5, le=1440, description="Minutes of idle GPUs before the alert (multiple of 5). Default 60."
    )
    server_absent_minutes: int = Field(
        default=10, ge=5, le=1440, description="Minutes without any server metric before the down alert. Default 10."
    )


class GcpGpuVmArgs(BaseModel):
    """What to serve, on which machine type, behind which load balancer. Validation is pure and fails with
    one UserError line naming `config_path` and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    container: ContainerSpec = Field(description="The model server (runtimes.vllm / runtimes.triton), with volume weights below /models.")
    region: str = Field(description="Region of the group, load balancer and subnet, e.g. europe-west4.")
    machine_type: str = Field(
        description="GCP GPU machine type of the sizing catalog (g2-standard-*, a2-*, a3-*) with at least the server's GPUs."
    )
    network_id: StrInput = Field(description="The VPC (GcpNetwork.network_id).")
    subnet_id: StrInput = Field(description="The private subnet of the instances and of the internal load balancer (GcpNetwork.subnet_id).")
    proxy_subnet_id: StrInput | None = Field(
        default=None,
        description="The region's proxy-only subnet (GcpNetwork.proxy_subnet_id); the internal forwarding rule waits for it. Default none.",
    )
    network_tags: list[str] = Field(
        default_factory=lambda: ["pulumi-llm-server"],
        min_length=1,
        description="Network tags of the instances; must include the tag GcpNetwork's firewall rules target. Default ['pulumi-llm-server'].",
    )
    zones: list[str] | None = Field(
        default=None, description="Zones of the group (those that offer the GPU). Default: the region's zones that are UP."
    )
    distribution_shape: Literal["EVEN", "BALANCED", "ANY"] = Field(
        default="BALANCED",
        description="How the group spreads VMs over zones; BALANCED/ANY favour zones with GPU capacity. Default BALANCED.",
    )
    model_bucket: StrInput = Field(description="Cloud Storage bucket of the weights (GcpModelStore.bucket_name).")
    model_prefix: str = Field(description="Object prefix of this model in the bucket, e.g. 'llama-3.1-8b/0e9e39f'.")
    weights_revision: str = Field(
        default="", description="Revision recorded with the synced weights; a new one re-syncs. Default: the prefix alone."
    )
    kms_key_id: StrInput = Field(description="Cloud KMS key (projects/…/cryptoKeys/…) that encrypts both disks, in the group's region.")
    secret_ids: dict[str, StrInput] = Field(
        default_factory=dict,
        description="Secret Manager secret (projects/<p>/secrets/<s>) per secret the server reads (EnvVar.secret_name → id). Default none.",
    )
    min_size: int = Field(
        default=1, ge=1, description="Fewest instances (≥ 1: with no instance the load balancer gives no signal to scale on). Default 1."
    )
    max_size: int = Field(default=2, ge=1, description="Most instances. Default 2.")
    spot: bool = Field(default=False, description="Spot VMs (preemptible, up to 60-91 % cheaper): dev. Default false.")
    spot_termination_action: Literal["DELETE", "STOP"] = Field(
        default="DELETE", description="What preemption does to a Spot VM; the group recreates deleted VMs. Default DELETE."
    )
    requests_per_second_per_instance: float = Field(
        default=1.0, gt=0, description="Requests per second one instance serves at full capacity (RATE balancing). Default 1."
    )
    target_utilization: float = Field(default=0.8, gt=0, le=1, description="Share of that capacity the autoscaler aims at. Default 0.8.")
    external: bool = Field(
        default=False,
        description="Global external Application Load Balancer with a managed certificate instead of the internal one. Default false.",
    )
    domains: list[str] = Field(
        default_factory=list, description="Domains of the managed certificate (external only; first one is the URL). Default none."
    )
    ssl_certificate_ids: list[StrInput] = Field(
        default_factory=list[StrInput],
        description="Regional SSL certificates of the internal load balancer: HTTPS on 443 instead of HTTP on 80. Default none.",
    )
    allow_global_access: bool = Field(
        default=False, description="Let clients in other regions reach the internal load balancer. Default false."
    )
    timeout_seconds: int = Field(default=3600, ge=1, le=86400, description="Backend service timeout, ≥ the longest stream. Default 3600.")
    connection_draining_seconds: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="Seconds in-flight requests get when an instance leaves (scale-in, recreate). "
        "Default: the longest stream the server drains (cloud_init.lb_drain_seconds), at most 3600.",
    )
    autohealing_initial_delay_seconds: int | None = Field(
        default=None,
        description="Autohealing grace of a new VM, from the startup budget to 3600. Default: provisioning + startup budget (≤ 3600).",
    )
    notification_channels: list[StrInput] = Field(
        default_factory=list[StrInput],
        description="Cloud Monitoring notification channels of the alerts. Default none (alerts without notifications).",
    )
    alert_thresholds: GpuVmAlertThresholds = Field(default_factory=GpuVmAlertThresholds, description="Alert thresholds. Defaults above.")
    boot_disk_gib: int = Field(default=150, ge=50, le=65536, description="Boot disk (OS, Docker images). Default 150.")
    data_disk_gib: int | None = Field(default=None, ge=10, le=65536, description="Model-cache disk. Default weights × 1.5 + 20 GiB (≥ 50).")
    disk_type: str | None = Field(
        default=None, description="Disk type of both disks. Default pd-balanced (hyperdisk-balanced on a3-mega/ultra)."
    )
    image: str | None = Field(
        default=None, description="Pinned boot image (self link or projects/…/global/images/<name>). Default: the latest of image_family."
    )
    image_family: str = Field(
        default=gcp_boot.DLVM_IMAGE_FAMILY, description=f"Image family resolved at `pulumi up`. Default {gcp_boot.DLVM_IMAGE_FAMILY}."
    )
    image_project: str = Field(
        default=gcp_boot.DLVM_IMAGE_PROJECT, description=f"Project of the image family. Default {gcp_boot.DLVM_IMAGE_PROJECT}."
    )
    secure_boot: bool = Field(
        default=True,
        description="Shielded VM secure boot (needs signed NVIDIA kernel modules; vTPM and integrity monitoring are always on). Default true.",
    )
    router: RouterOptions | None = Field(
        default=None,
        description="The vLLM router on every VM (serving.router; vLLM servers only): the load balancer calls the routers. "
        "Default none: the load balancer calls the servers.",
    )
    config_path: str = Field(default="gpu_vm", description="Key path named in error messages. Default 'gpu_vm'.")

    @model_validator(mode="after")
    def _check(self) -> GcpGpuVmArgs:
        where = self.config_path
        spec = self.container
        if not _REGION.match(self.region):
            raise UserError(f"{where}.region = {self.region}: not a GCP region name such as us-central1 or europe-west4")
        check_machine_type(self.machine_type, spec.resources.gpus, self.region, f"{where}.machine_type")
        if self.min_size > self.max_size:
            raise UserError(f"{where}: min_size {self.min_size} is above max_size {self.max_size}; allowed: min_size ≤ max_size")
        if self.zones is not None:
            if not self.zones:
                raise UserError(f"{where}.zones: give at least one zone, or leave it out for all of {self.region}'s zones")
            for zone in self.zones:
                if not _ZONE.match(zone) or not zone.startswith(self.region + "-"):
                    raise UserError(f"{where}.zones = {zone}: not a zone of {self.region} (e.g. {self.region}-a)")
            if len(set(self.zones)) != len(self.zones):
                raise UserError(f"{where}.zones: a zone is listed twice")
        for tag in self.network_tags:
            if not _TAG.match(tag):
                raise UserError(f"{where}.network_tags = {tag!r}: 1-63 lowercase letters, digits and '-', starting with a letter")
        try:
            check_prefix(self.model_prefix)
        except ValueError as err:
            raise UserError(f"{where}.model_prefix = {err}") from None
        try:
            model_mount(spec)
            host_path(spec, weights_path(spec))
        except ValueError as err:
            raise UserError(f"{where}.container: {err}") from None
        missing = sorted({v.secret_name for v in spec.env if v.secret_name and v.secret_name not in self.secret_ids})  # type: ignore[misc]
        if missing:
            raise UserError(f"{where}.secret_ids: the server reads secret {missing[0]!r}; map it to its Secret Manager secret id")
        need_gib = math.ceil(spec.weight_bytes / GIB) + 1
        if self.data_disk_gib is not None and self.data_disk_gib < need_gib:
            raise UserError(f"{where}.data_disk_gib = {self.data_disk_gib}: the weights need at least {need_gib} GiB")
        if self.disk_type is not None and self.disk_type not in DISK_TYPES:
            raise UserError(f"{where}.disk_type = {self.disk_type}: allowed: {', '.join(DISK_TYPES)}")
        budget = spec.startup.budget_seconds
        if budget > MAX_INITIAL_DELAY_SECONDS:
            raise UserError(
                f"{where}.container: the server's startup budget ({budget} s) is above the {MAX_INITIAL_DELAY_SECONDS} s "
                "autohealing delay Compute Engine allows; shorten the startup probe or load faster"
            )
        delay = self.autohealing_initial_delay_seconds
        if delay is not None and not budget <= delay <= MAX_INITIAL_DELAY_SECONDS:
            raise UserError(
                f"{where}.autohealing_initial_delay_seconds = {delay}: allowed from the server's startup budget "
                f"({budget} s) to {MAX_INITIAL_DELAY_SECONDS}"
            )
        if self.external:
            if not self.domains:
                raise UserError(f"{where}.domains: an external load balancer (external: true) needs the domains of its managed certificate")
            if self.ssl_certificate_ids:
                raise UserError(f"{where}.ssl_certificate_ids: only for the internal load balancer; the external one uses domains")
        elif self.domains:
            raise UserError(f"{where}.domains: only for the external load balancer (external: true)")
        for domain in self.domains:
            if not _DOMAIN.match(domain):
                raise UserError(f"{where}.domains = {domain}: not a lowercase DNS name such as llm.example.com")
        if self.alert_thresholds.gpu_idle_minutes % 5:
            raise UserError(f"{where}.alert_thresholds.gpu_idle_minutes = {self.alert_thresholds.gpu_idle_minutes}: a multiple of 5")
        _check_user_data(self)
        return self

    @property
    def initial_delay_seconds(self) -> int:
        if self.autohealing_initial_delay_seconds is not None:
            return self.autohealing_initial_delay_seconds
        return min(MAX_INITIAL_DELAY_SECONDS, ready_within_seconds(self.container))

    @property
    def data_gib(self) -> int:
        return self.data_disk_gib if self.data_disk_gib is not None else data_disk_size_gib(self.container.weight_bytes)

    @property
    def disk(self) -> str:
        return self.disk_type or default_disk_type(self.machine_type)


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def series(machine_type: str) -> str:
    """``a3-highgpu-8g`` → ``a3-highgpu``; ``g2-standard-8`` → ``g2-standard``."""
    return "-".join(machine_type.strip().lower().split("-")[:2])


def accelerator_type(machine_type: str) -> str:
    """The accelerator type a machine type comes with (``nvidia-l4`` for g2-standard-*); KeyError otherwise."""
    return ACCELERATOR_TYPES[series(machine_type)]


def default_disk_type(machine_type: str) -> str:
    return "hyperdisk-balanced" if series(machine_type) in HYPERDISK_ONLY else "pd-balanced"


def data_disk_size_gib(weight_bytes: int) -> int:
    """Model cache size: weights × 1.5 (a second revision can land beside the first) + 20 GiB, ≥ 50."""
    return max(50, math.ceil(weight_bytes * 1.5 / GIB) + 20)


def _gcp_gpu_families() -> list[str]:
    return sorted({t.name.split("-")[0] for t in INSTANCE_TYPES.values() if t.cloud == "gcp"})


def check_machine_type(name: str, gpus: int, region: str, where: str) -> InstanceType:
    """A GCP GPU machine type of the catalog with at least `gpus` GPUs, offered in `region`; one UserError
    line otherwise."""
    try:
        itype = get_instance_type(name)
    except UserError as err:
        family = name.strip().lower().split("-")[0]
        if re.fullmatch(r"[a-z][a-z0-9]*-[a-z]+(-[a-z0-9]+)*", name.strip().lower()) and family not in _gcp_gpu_families():
            raise UserError(
                f"{where} = {name}: not a GPU machine type; GCP GPU families in the catalog: "
                f"{', '.join(_gcp_gpu_families())} (e.g. g2-standard-8)"
            ) from None
        raise UserError(f"{where} = {name}: {err}") from None
    if itype.cloud != "gcp":
        raise UserError(f"{where} = {name}: a {itype.cloud} instance type; GcpGpuVm takes GCP GPU machine types (e.g. g2-standard-8)")
    if itype.accelerator.kind != "gpu" or series(itype.name) not in ACCELERATOR_TYPES:
        raise UserError(f"{where} = {name}: not a GPU machine type")
    if itype.gpu_count < gpus:
        bigger = [
            t for t in INSTANCE_TYPES.values() if t.cloud == "gcp" and t.gpu_count >= gpus and t.accelerator_key == itype.accelerator_key
        ] or [t for t in INSTANCE_TYPES.values() if t.cloud == "gcp" and t.gpu_count >= gpus]
        hint = f", e.g. {min(bigger, key=lambda t: (t.price_per_hour, t.name)).name}" if bigger else ""
        raise UserError(
            f"{where} = {name}: {itype.gpu_count} GPU{'s' if itype.gpu_count != 1 else ''}, but the server needs "
            f"{gpus} (its tensor-parallel size); choose a type with at least {gpus} GPUs{hint}"
        )
    if not itype.offered_in(region):
        raise UserError(f"{where} = {name}: not offered in {region} per the sizing catalog; it is offered in {', '.join(itype.regions)}")
    return itype


def service_account_id(deployment: str) -> str:
    """A service account id (6-30 characters, [a-z][a-z0-9-]*[a-z0-9]) for the deployment's VMs."""
    account = dns_label(f"{deployment}-vm", 30)
    return account if len(account) >= 6 else f"{account}-gpuvm"


def service_account_email(account_id: str, project: str) -> str:
    """The email GCP gives a user-managed service account (derived so the plan shows the real principal)."""
    return f"{account_id}@{project}.iam.gserviceaccount.com"


def compute_service_agent(project_number: str) -> str:
    """The Compute Engine service agent: it creates the group's disks, so it must use their key."""
    return f"serviceAccount:service-{project_number}@compute-system.iam.gserviceaccount.com"


def deployment_label(stack: str, name: str) -> str:
    """The deployment name of component `name` in `stack`: its resources' prefix and the `deployment` label its Ops
    Agent writes on every scraped series (`gcp_boot.DEPLOYMENT_LABEL`), which the alerts and the dashboard select."""
    return dns_label(f"{stack}-{name}", 40)


def mig_name(deployment: str) -> str:
    """The regional managed instance group's name (its lister names it)."""
    return f"{deployment}-mig"


def lister_role_id(deployment: str) -> str:
    """The instance reader's custom role id: letters, digits, '_' and '.', 3-64 characters, unique in the project
    (a deployment is at most 40 characters: 16 + 40)."""
    return "pulumiLlmLister_" + deployment.replace("-", "_")


def group_reader_role_id(deployment: str) -> str:
    """The group reader's custom role id (same rules; 21 + 40 characters at most)."""
    return "pulumiLlmGroupReader_" + deployment.replace("-", "_")


def custom_role_name(project: str, role_id: str) -> str:
    """A project-level custom role's resource name, as IAM bindings take it."""
    return f"projects/{project}/roles/{role_id}"


INSTANCE_RESOURCE_TYPE = "compute.googleapis.com/Instance"
"""resource.type of a Compute Engine VM in IAM Conditions ("Resource attributes for IAM Conditions",
cloud.google.com/iam/docs/conditions-resource-attributes, resource type values)."""

MIG_NAME_SUFFIX = "[a-z0-9]{4}"
"""What a managed instance group appends to its base instance name: "Instances are named by appending a hyphen
and a random four-character string to the base instance name" (pulumi-gcp 10.2.0,
RegionInstanceGroupManager.base_instance_name); instance names being RFC 1035 labels, the four are lowercase
letters or digits."""


def lister_instance_pattern(base_instance_name: str) -> str:
    """The RE2 pattern (anchored: CEL's `matches` searches) of the group's VM names, `<base>-xxxx` — not a sibling
    deployment whose name extends this one (`<base>-v2-xxxx`). `base_instance_name` is a DNS label, so it has no
    regex metacharacters but `-`, which is literal outside a class."""
    if not re.fullmatch(r"[a-z]([a-z0-9-]*[a-z0-9])?", base_instance_name):
        raise ValueError(f"not a base instance name: {base_instance_name!r}")
    return f"^{base_instance_name}-{MIG_NAME_SUFFIX}$"


def lister_condition(deployment: str) -> dict[str, str]:
    """The IAM condition of the instance reader's grant (`compute.instances.get` only): of all instances only the
    group's, named `<deployment>-xxxx` by the group (its base instance name is the deployment).

    An instance's `resource.name` in a condition is `projects/PROJECT/zones/ZONE/instances/NAME` ("Resource
    attributes for IAM Conditions", resource name format for Compute Engine), so `extract("/instances/{name}")`
    yields the VM's name in any zone. The type test comes first and is `==`: the grant applies to instances only.
    The group's own call (`compute.instanceGroupManagers.get`) is a separate, unconditional grant
    (`LISTER_GROUP_PERMISSIONS`): instance group managers carry no resource attributes in IAM Conditions, and a
    managed instance group has no IAM policy of its own to bind on (pulumi-gcp 10.2.0 has IAM resources for
    instances, disks, images, templates... none for instance group managers), so it is project-level; it reads
    group settings and instance names, nothing else."""
    pattern = lister_instance_pattern(deployment)
    return {
        "title": "group-instances-only",
        "description": f"compute.instances.get on {deployment}'s instances only",
        "expression": (f'resource.type == "{INSTANCE_RESOURCE_TYPE}" && resource.name.extract("/instances/{{name}}").matches("{pattern}")'),
    }


def load_balancer_port(spec: ContainerSpec, router: RouterOptions | None) -> int:
    """The port a group's load balancer calls on its VMs, which `GcpNetwork`'s rules must admit from the proxies and
    health checkers: the router's when the group gets one (`router` given, a vLLM server), else the server's."""
    return router_vm.traffic_port(spec, router_vm.vm_router(spec, router, router_vm.InstanceLister(command=(), description="")))


def lb_check(spec: ContainerSpec, router: router_vm.VmRouter | None) -> tuple[int, str]:
    """(port, path) of the load balancer's health check. With routers it checks them (`/readiness`: the router holds a
    healthy server, its own or another VM's), while autohealing keeps checking the VM's own server — GCP keeps the
    two checks apart, so a VM is replaced for its server, never for its router's view of the group."""
    if router is not None:
        return router_vm.ROUTER_PORT, router_vm.READINESS_PATH
    return health_check_port(spec), health_check_path(spec)


def url_map_paths(backend: Any, router: bool) -> dict[str, Any]:
    """The URL map's routing: everything to the backend, or with a router `/v1/*` (`router_vm.FORWARDED_PREFIX`) and
    its `/readiness` (the external uptime check's path) only: the router's `/add_worker`, `/remove_worker` and
    `/workers` share its port unauthenticated, so any other path is answered with a redirect to `/v1/models` and
    never reaches a router."""
    if not router:
        return {"default_service": backend}
    away = {"path_redirect": "/v1/models", "strip_query": True, "redirect_response_code": "FOUND"}
    return {
        "default_url_redirect": away,
        "host_rules": [{"hosts": ["*"], "path_matcher": "api"}],
        "path_matchers": [
            {
                "name": "api",
                "default_url_redirect": away,
                "path_rules": [{"paths": [router_vm.FORWARDED_PREFIX + "*", router_vm.READINESS_PATH], "service": backend}],
            }
        ],
    }


def instance_group_url(project: str, region: str, manager_name: str) -> str:
    """The instance group a regional MIG manages: it has the manager's name (what the MIG's
    `instance_group` output holds, derived here so the plan shows the backend's wiring)."""
    return f"https://www.googleapis.com/compute/v1/projects/{project}/regions/{region}/instanceGroups/{manager_name}"


def scheduling(spot: bool, termination_action: str = "DELETE") -> dict[str, Any]:
    """Scheduling of a GPU VM: GPUs cannot live-migrate, so host maintenance terminates (and restarts
    standard VMs); Spot VMs are preemptible and never restarted in place."""
    if spot:
        return {
            "provisioning_model": "SPOT",
            "preemptible": True,
            "automatic_restart": False,
            "on_host_maintenance": "TERMINATE",
            "instance_termination_action": termination_action,
        }
    return {"provisioning_model": "STANDARD", "preemptible": False, "automatic_restart": True, "on_host_maintenance": "TERMINATE"}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lb_metrics(external: bool) -> tuple[str, str, str]:
    """(request-count metric, total-latency metric, monitored resource) of the load balancer kind."""
    if external:
        return "loadbalancing.googleapis.com/https/request_count", "loadbalancing.googleapis.com/https/total_latencies", "https_lb_rule"
    return (
        "loadbalancing.googleapis.com/https/internal/request_count",
        "loadbalancing.googleapis.com/https/internal/total_latencies",
        "internal_http_lb_rule",
    )


def alert_policies(
    spec: ContainerSpec,
    *,
    deployment: str,
    forwarding_rule: str,
    external: bool,
    thresholds: GpuVmAlertThresholds,
    uptime_host: str | None = None,
    uptime_path: str | None = None,
    router_window_seconds: int | None = None,
) -> list[dict[str, Any]]:
    """The deployment's alert policies as `monitoring.AlertPolicy` arguments plus a stable `key`.

    server-down: no server reports its waiting-requests gauge for `server_absent_minutes` (every VM down,
        crash-looping or unreachable; a load balancer with no healthy backend answers 503, caught below);
    uptime (external only): Google's uptime checkers fail to get `uptime_path` (default: the server's health path;
        the routers' readiness with a router) over HTTPS;
    5xx: the load balancer's 5xx responses (backend errors and "no healthy upstream") above the rate;
    latency-p99: p99 time to first token from the server's histogram (vLLM), else the load balancer's
        total latency, above the SLO for 5 minutes;
    queue: a server's waiting requests above `queue_depth` for 5 minutes (scale-out too slow or capped);
    gpu-idle: the group's mean GPU utilization (Ops Agent, NVML) below `gpu_idle_percent` for
        `gpu_idle_minutes` (paying for GPUs nobody uses);
    router-no-workers (with `router_window_seconds`, the group has routers): for that long the fewest workers any
        router reports is under 1 — a router that reports nothing counts as 0 — while a server of the group reports.
    """
    dep = _quote(deployment)
    m = spec.metrics
    requests, latencies, lb_resource = lb_metrics(external)
    rule = f"resource.type = {_quote(lb_resource)} AND resource.labels.forwarding_rule_name = {_quote(forwarding_rule)}"
    policies: list[dict[str, Any]] = []

    def policy(key: str, title: str, severity: str, condition: dict[str, Any], doc: str) -> None:
        policies.append(
            {
                "key": key,
                "display_name": f"{deployment}: {title}",
                "severity": severity,
                "combiner": "OR",
                "conditions": [{"display_name": title, **condition}],
                "documentation": {"content": doc, "mime_type": "text/markdown"},
                "alert_strategy": {"auto_close": "1800s"},
            }
        )

    policy(
        "server-down",
        "no model server reports metrics",
        "CRITICAL",
        {
            "condition_prometheus_query_language": {
                "query": f"absent({m.requests_waiting}{{{gcp_boot.DEPLOYMENT_LABEL}={dep}}})",
                "duration": f"{thresholds.server_absent_minutes * 60}s",
                "evaluation_interval": "60s",
            }
        },
        f"No VM of `{deployment}` has reported `{m.requests_waiting}` for {thresholds.server_absent_minutes} minutes. "
        "Check the group's VMs, `journalctl -u llm-server` (via IAP SSH) and the autohealing history.",
    )
    if uptime_host is not None:
        path = uptime_path or health_check_path(spec)
        policy(
            "uptime",
            f"https://{uptime_host}{path} fails",
            "CRITICAL",
            _uptime_condition(uptime_host),
            f"More than one uptime checker region failed to get `{path}` from https://{uptime_host}.",
        )
    policy(
        "5xx",
        "load balancer 5xx responses",
        "CRITICAL",
        {
            "condition_threshold": {
                "filter": f"metric.type = {_quote(requests)} AND {rule} AND metric.labels.response_code_class = 500",
                "comparison": "COMPARISON_GT",
                "threshold_value": thresholds.errors_per_minute / 60,
                "duration": "180s",
                "aggregations": [{"alignment_period": "60s", "per_series_aligner": "ALIGN_RATE", "cross_series_reducer": "REDUCE_SUM"}],
                "trigger": {"count": 1},
            }
        },
        f"More than {thresholds.errors_per_minute:g} 5xx responses per minute for 3 minutes on `{forwarding_rule}`. "
        "A 503 with no healthy backend means every VM fails its health check.",
    )
    latency, what = _latency_condition(m.time_to_first_token, dep=dep, latencies=latencies, rule=rule, thresholds=thresholds)
    policy(
        "latency-p99",
        f"p99 {what} above {thresholds.latency_p99_seconds:g} s",
        "WARNING",
        latency,
        f"The p99 {what} of `{deployment}` stayed above {thresholds.latency_p99_seconds:g} s for 5 minutes.",
    )
    policy(
        "queue",
        f"more than {thresholds.queue_depth} requests waiting",
        "WARNING",
        {
            "condition_prometheus_query_language": {
                "query": f"max({m.requests_waiting}{{{gcp_boot.DEPLOYMENT_LABEL}={dep}}}) > {thresholds.queue_depth}",
                "duration": "300s",
                "evaluation_interval": "60s",
            }
        },
        f"A server of `{deployment}` had more than {thresholds.queue_depth} requests waiting for 5 minutes: "
        "the group is at max_size, or requests_per_second_per_instance is set too high.",
    )
    policy(
        "gpu-idle",
        f"GPUs below {thresholds.gpu_idle_percent:g} % for {thresholds.gpu_idle_minutes} min",
        "WARNING",
        _gpu_idle_condition(dep, thresholds),
        f"The GPUs of `{deployment}` averaged under {thresholds.gpu_idle_percent:g} % for {thresholds.gpu_idle_minutes} minutes: "
        "lower min_size, or use Spot VMs.",
    )
    if router_window_seconds is not None:
        policy(*_router_no_workers(deployment, m.requests_waiting, router_window_seconds))
    return policies


def _router_no_workers(deployment: str, server_gauge: str, window_seconds: int) -> tuple[str, str, str, dict[str, Any], str]:
    """The router-no-workers policy of `alert_policies`: (key, title, severity, condition, documentation)."""
    condition = {
        "condition_prometheus_query_language": {
            "query": router_no_worker_query(deployment, server_gauge),
            "duration": f"{window_seconds}s",
            "evaluation_interval": "60s",
        }
    }
    doc = (
        f"For {window_seconds // 60} minutes a server of `{deployment}` reported but a router saw no healthy "
        "model server (or no router reported): requests to that VM fail with 502. Check the VMs' llm-server and "
        "llm-router units and the router's lister (`journalctl -u llm-router-workers`, via IAP SSH)."
    )
    return "router-no-workers", "routers without a healthy model server", "CRITICAL", condition, doc


def router_no_worker_query(deployment: str, server_gauge: str) -> str:
    """PromQL of the router-no-workers policy: the fewest workers any router of `deployment` reports
    (`router_vm.ACTIVE_WORKERS`; none reporting → `vector(0)`, so a router that never started counts as 0) under 1,
    while the group serves — some server reports `server_gauge`, so a group scaled to zero or still booting is no
    page (the server-down policy covers servers that never come up)."""
    dep = f"{gcp_boot.DEPLOYMENT_LABEL}={_quote(deployment)}"
    return f"(min({router_vm.ACTIVE_WORKERS}{{{dep}}}) or on() vector(0)) < 1 and on() (count({server_gauge}{{{dep}}}) > 0)"


def _gpu_idle_condition(dep: str, thresholds: GpuVmAlertThresholds) -> dict[str, Any]:
    """The gpu-idle policy's condition: the group's mean GPU utilization (Ops Agent, NVML) below the threshold."""
    return {
        "condition_threshold": {
            "filter": (
                f'metric.type = {_quote(gcp_boot.GPU_UTILIZATION_METRIC)} AND resource.type = "gce_instance" AND '
                f"metadata.user_labels.{_quote(DEPLOYMENT_LABEL)} = {dep}"
            ),
            "comparison": "COMPARISON_LT",
            "threshold_value": thresholds.gpu_idle_percent,
            "duration": f"{thresholds.gpu_idle_minutes * 60}s",
            "aggregations": [{"alignment_period": "300s", "per_series_aligner": "ALIGN_MEAN", "cross_series_reducer": "REDUCE_MEAN"}],
            "trigger": {"count": 1},
        }
    }


def _uptime_condition(uptime_host: str) -> dict[str, Any]:
    """The uptime policy's condition: more than one uptime checker region fails to get the health path."""
    return {
        "condition_threshold": {
            "filter": (
                'metric.type = "monitoring.googleapis.com/uptime_check/check_passed" AND '
                f'resource.type = "uptime_url" AND resource.labels.host = {_quote(uptime_host)}'
            ),
            "comparison": "COMPARISON_GT",
            "threshold_value": 1,
            "duration": "300s",
            "aggregations": [
                {
                    "alignment_period": "300s",
                    "per_series_aligner": "ALIGN_NEXT_OLDER",
                    "cross_series_reducer": "REDUCE_COUNT_FALSE",
                    "group_by_fields": ["resource.label.*"],
                }
            ],
            "trigger": {"count": 1},
        }
    }


def _latency_condition(
    ttft: str | None, *, dep: str, latencies: str, rule: str, thresholds: GpuVmAlertThresholds
) -> tuple[dict[str, Any], str]:
    """p99 time to first token from the server's histogram when it has one, else the load balancer's p99 latency."""
    if ttft:
        query = (
            f"histogram_quantile(0.99, sum by (le) (rate({ttft}_bucket{{{gcp_boot.DEPLOYMENT_LABEL}={dep}}}[5m]))) "
            f"> {thresholds.latency_p99_seconds:g}"
        )
        latency: dict[str, Any] = {
            "condition_prometheus_query_language": {"query": query, "duration": "300s", "evaluation_interval": "60s"}
        }
        what = "time to first token"
    else:
        latency = {
            "condition_threshold": {
                "filter": f"metric.type = {_quote(latencies)} AND {rule}",
                "comparison": "COMPARISON_GT",
                "threshold_value": thresholds.latency_p99_seconds * 1000,  # milliseconds
                "duration": "300s",
                "aggregations": [
                    {"alignment_period": "60s", "per_series_aligner": "ALIGN_DELTA", "cross_series_reducer": "REDUCE_PERCENTILE_99"}
                ],
                "trigger": {"count": 1},
            }
        }
        what = "load-balancer latency"
    return latency, what


def _check_user_data(args: GcpGpuVmArgs) -> None:
    """Render the boot script with the longest plausible ids and check Compute Engine's metadata limit."""
    deployment = dns_label(f"{args.labels.stack}-placeholder", 40)
    placeholder = {s: f"projects/{'p' * 30}/secrets/{'s' * 255}" for s in args.secret_ids}
    try:
        text = gcp_boot.gcp_user_data(
            args.container,
            bucket="b" * 63,
            key_prefix=args.model_prefix,
            deployment=deployment,
            revision=args.weights_revision,
            secret_ids=placeholder,
            router=gcp_boot.gcp_router(args.container, args.router, region=args.region, group=mig_name(deployment)),
        )
    except ValueError as err:
        raise UserError(f"{args.config_path}.container: {err}") from None
    if len(text.encode()) > METADATA_VALUE_LIMIT:
        raise UserError(
            f"{args.config_path}.container: the boot script is {len(text.encode())} bytes, above Compute Engine's "
            f"{METADATA_VALUE_LIMIT}-byte metadata value limit (large config mounts?)"
        )


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Deployment:
    """What every step of GcpGpuVm's constructor reads: the component name, its args and derived facts."""

    name: str
    args: GcpGpuVmArgs
    deployment: str
    """`<stack>-<component name>` as a DNS label: resource names, the boot script, the alert filters."""
    labels: dict[str, str]
    port: int
    check_port: int
    check_path: str
    secret_names: tuple[str, ...]
    """`args.secret_ids` keys, sorted: the order of the grants and of the secrets in the boot script."""
    prefix: str
    """The checked model prefix the VMs may read."""
    project: pulumi.Output[str]
    """The provider's project."""
    router: router_vm.VmRouter | None
    """The vLLM router on each VM, or None (no `router` arg, or not a vLLM server)."""
    traffic_port: int
    """Where the load balancer sends requests: the router's port, else the server's."""
    lb_check: tuple[int, str]
    """(port, path) the load balancer (and an uptime check) probes: the routers' readiness, else the server's check."""


@dataclasses.dataclass(frozen=True)
class _Frontend:
    """What the load balancer step built that the alerts and the outputs read."""

    backend: pulumi.CustomResource
    rule_name: str
    """The HTTPS (or HTTP) forwarding rule's name, which the load-balancer metrics carry."""
    url: pulumi.Output[str]
    ip_address: pulumi.Output[str]
    uptime_host: str | None
    """The domain the uptime check probes (external only)."""


class GcpGpuVm(pulumi.ComponentResource):
    url: pulumi.Output[str]
    instance_group: pulumi.Output[str]
    instance_group_manager: pulumi.Output[str]
    backend_service: pulumi.Output[str]
    service_account_email: pulumi.Output[str]
    ip_address: pulumi.Output[str]

    def __init__(self, name: str, args: GcpGpuVmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:GcpGpuVm", name, None, opts)
        spec = args.container
        deployment = deployment_label(args.labels.stack, name)
        invoke = pulumi.InvokeOptions(parent=self)
        router = gcp_boot.gcp_router(spec, args.router, region=args.region, group=mig_name(deployment))
        d = _Deployment(
            name=name,
            args=args,
            deployment=deployment,
            labels={**gcp_labels(args.labels.with_method("gpu-vm").with_model(spec.served_name)), DEPLOYMENT_LABEL: deployment},
            port=spec.port(spec.http_port).container_port,
            check_port=health_check_port(spec),
            check_path=health_check_path(spec),
            secret_names=tuple(sorted(args.secret_ids)),
            prefix=check_prefix(args.model_prefix),
            project=organizations.get_client_config_output(opts=invoke).project,
            router=router,
            traffic_port=router_vm.traffic_port(spec, router),
            lb_check=lb_check(spec, router),
        )
        project_number = organizations.get_project_output(opts=invoke).number

        email, grants = self._identity(d, project_number)
        template = self._instance_template(d, email)
        mig, group = self._group(d, template, grants)
        if router is not None:
            self._router_firewall(d, email)
        backend_args, hc_args = _backend_and_health_check_args(d, group)
        front = (
            self._external_load_balancer(d, backend_args, hc_args)
            if args.external
            else self._internal_load_balancer(d, backend_args, hc_args)
        )
        self._alerts(d, front)

        self.url = front.url
        self.ip_address = front.ip_address
        self.instance_group = group
        self.instance_group_manager = mig.id
        self.backend_service = front.backend.id
        self.service_account_email = email
        self.register_outputs(
            {
                "url": self.url,
                "instance_group": self.instance_group,
                "instance_group_manager": self.instance_group_manager,
                "backend_service": self.backend_service,
                "service_account_email": self.service_account_email,
                "ip_address": self.ip_address,
            }
        )

    # ---- steps of the constructor, in creation order ---------------------------------------------

    def _identity(self, d: _Deployment, project_number: pulumi.Output[Any]) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """The VMs' service account and its grants (weights, logs, metrics, secrets; the disk key for Compute Engine)."""
        name, args, spec = d.name, d.args, d.args.container
        here = pulumi.ResourceOptions(parent=self)
        account = serviceaccount.Account(
            child(name, "sa"),
            account_id=service_account_id(d.deployment),
            display_name=f"pulumi-llm GPU VM {d.deployment}",
            description=f"{spec.served_name} ({spec.runtime}) VMs: read {d.prefix}/, its secrets, write logs and metrics",
            opts=here,
        )
        email = pulumi.Output.all(account.account_id, d.project).apply(lambda v: service_account_email(v[0], v[1]))
        member = email.apply(lambda e: f"serviceAccount:{e}")
        binding = pulumi.Output.all(args.model_bucket, member).apply(lambda v: read_bindings(v[0], d.prefix, v[1])[0])
        grants: list[pulumi.Resource] = [
            storage.BucketIAMMember(
                child(name, "model-read"),
                bucket=args.model_bucket,
                role=OBJECT_VIEWER,
                member=member,
                condition=binding.apply(lambda b: b["condition"]),
                opts=here,
            )
        ]
        for role_name, role in (("log-writer", LOG_WRITER), ("metric-writer", METRIC_WRITER)):
            grants.append(projects.IAMMember(child(name, role_name), project=d.project, role=role, member=member, opts=here))
        for secret in d.secret_names:
            grants.append(
                secretmanager.SecretIamMember(
                    child(name, f"secret-{dns_label(secret)}"),
                    secret_id=args.secret_ids[secret],
                    role=SECRET_ACCESSOR,
                    member=member,
                    opts=here,
                )
            )
        if d.router is not None:
            # The lister's two calls, two grants (lister_condition): the group read unconditionally, the group's
            # instances under a condition naming them.
            grants.append(
                self._role_grant(
                    d,
                    member,
                    "group-reader",
                    group_reader_role_id(d.deployment),
                    f"pulumi-llm {d.deployment}: list its group",
                    "The VM router's lister: the managed instance group's VMs",
                    gcp_boot.LISTER_GROUP_PERMISSIONS,
                )
            )
            grants.append(
                self._role_grant(
                    d,
                    member,
                    "lister",
                    lister_role_id(d.deployment),
                    f"pulumi-llm {d.deployment}: read its group's VMs",
                    "The VM router's lister: the internal addresses of the managed instance group's VMs",
                    gcp_boot.LISTER_INSTANCE_PERMISSIONS,
                    # lister_condition builds IAMMemberConditionArgsDict-shaped plain data (pure, tested as a dict)
                    condition=cast(projects.IAMMemberConditionArgsDict, lister_condition(d.deployment)),
                )
            )
        grants.append(
            kms.CryptoKeyIAMMember(
                child(name, "disk-key"),
                crypto_key_id=args.kms_key_id,
                role=ENCRYPTER_DECRYPTER,
                member=project_number.apply(compute_service_agent),
                opts=here,
            )
        )
        return email, grants

    def _role_grant(
        self,
        d: _Deployment,
        member: pulumi.Input[str],
        grant: str,
        role_id: str,
        title: str,
        description: str,
        permissions: Sequence[str],
        condition: projects.IAMMemberConditionArgsDict | None = None,
    ) -> projects.IAMMember:
        """A project custom role `<grant>-role` holding `permissions`, and its grant `<grant>` to `member` (returned:
        what the VMs wait for; the grant depends on the role through its name)."""
        here = pulumi.ResourceOptions(parent=self)
        role = projects.IAMCustomRole(
            child(d.name, f"{grant}-role"),
            project=d.project,
            role_id=role_id,
            title=title,
            description=description,
            permissions=list(permissions),
            stage="GA",
            opts=here,
        )
        return projects.IAMMember(
            child(d.name, grant),
            project=d.project,
            # Derived from the role's id (what its `name` output holds) so the plan shows the grant's role.
            role=pulumi.Output.all(d.project, role.role_id).apply(lambda v: custom_role_name(v[0], v[1])),
            member=member,
            condition=condition,
            opts=here,
        )

    def _instance_template(self, d: _Deployment, email: pulumi.Output[str]) -> compute.InstanceTemplate:
        """The boot script and the instance template (CMEK disks, no external IP, shielded VM)."""
        args, spec, labels = d.args, d.args.container, d.labels
        user_data = pulumi.Output.all(args.model_bucket, *(args.secret_ids[s] for s in d.secret_names)).apply(
            lambda v: gcp_boot.gcp_user_data(
                spec,
                bucket=v[0],
                key_prefix=d.prefix,
                deployment=d.deployment,
                revision=args.weights_revision,
                secret_ids=dict(zip(d.secret_names, v[1:], strict=False)),
                router=d.router,
            )
        )
        image = (
            args.image
            or compute.get_image_output(
                family=args.image_family, project=args.image_project, opts=pulumi.InvokeOptions(parent=self)
            ).self_link
        )
        cmek: compute.InstanceTemplateDiskDiskEncryptionKeyArgsDict = {"kms_key_self_link": args.kms_key_id}
        return compute.InstanceTemplate(
            child(d.name, "template"),
            description=f"pulumi-llm {d.deployment}: {spec.served_name} ({spec.runtime}) on {args.machine_type} ({accelerator_type(args.machine_type)})",
            machine_type=args.machine_type,
            labels=labels,
            tags=list(args.network_tags),
            disks=[
                {
                    "boot": True,
                    "auto_delete": True,
                    "source_image": image,
                    "disk_size_gb": args.boot_disk_gib,
                    "disk_type": args.disk,
                    "disk_encryption_key": cmek,
                    "labels": labels,
                },
                {
                    "boot": False,
                    "auto_delete": True,
                    "device_name": gcp_boot.DATA_DEVICE_NAME,
                    "disk_size_gb": args.data_gib,
                    "disk_type": args.disk,
                    "disk_encryption_key": cmek,
                    "labels": labels,
                },
            ],
            # No access_configs: no external IP. Outbound goes through Cloud NAT, Google APIs through
            # Private Google Access.
            network_interfaces=[{"subnetwork": args.subnet_id, "nic_type": "GVNIC", "stack_type": "IPV4_ONLY"}],
            service_account={"email": email, "scopes": [CLOUD_PLATFORM_SCOPE]},
            shielded_instance_config={
                "enable_secure_boot": args.secure_boot,
                "enable_vtpm": True,
                "enable_integrity_monitoring": True,
            },
            # scheduling builds InstanceTemplateSchedulingArgsDict-shaped plain data (pure, tested as dicts)
            scheduling=cast(compute.InstanceTemplateSchedulingArgsDict, scheduling(args.spot, args.spot_termination_action)),
            metadata={
                "user-data": user_data,
                "enable-oslogin": "TRUE",
                "block-project-ssh-keys": "TRUE",
                "serial-port-enable": "FALSE",
                # Deep Learning VM images read this at first boot: install the NVIDIA driver if the image
                # lacks it. The -nvidia-580 families ship it, so this only guards a driver-less family.
                "install-nvidia-driver": "True",
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _group(
        self, d: _Deployment, template: compute.InstanceTemplate, grants: list[pulumi.Resource]
    ) -> tuple[compute.RegionInstanceGroupManager, pulumi.Output[str]]:
        """The autohealing check, the regional managed instance group and its autoscaler; returns the group and its URL."""
        name, args, spec, region = d.name, d.args, d.args.container, d.args.region
        here = pulumi.ResourceOptions(parent=self)
        grace = args.initial_delay_seconds
        autoheal = compute.HealthCheck(
            child(name, "autoheal-hc"),
            description=f"{d.deployment}: autohealing (tolerant: a recreated GPU VM costs minutes of provisioning)",
            http_health_check={"port": d.check_port, "request_path": d.check_path},
            check_interval_sec=30,
            timeout_sec=10,
            healthy_threshold=1,
            unhealthy_threshold=4,
            log_config={"enable": True},
            opts=here,
        )
        if args.zones is not None:
            zones: pulumi.Input[list[str]] = sorted(args.zones)
            zone_count: pulumi.Input[int] = len(args.zones)
        else:
            names = compute.get_zones_output(region=region, status="UP", opts=pulumi.InvokeOptions(parent=self)).names.apply(sorted)
            zones, zone_count = names, names.apply(len)
        mig = compute.RegionInstanceGroupManager(
            child(name, "mig"),
            name=mig_name(d.deployment),
            description=f"pulumi-llm {d.deployment}: {spec.served_name}",
            region=region,
            base_instance_name=d.deployment,
            versions=[{"name": "primary", "instance_template": template.id}],
            target_size=args.min_size,
            distribution_policy_zones=zones,
            distribution_policy_target_shape=args.distribution_shape,
            named_ports=[{"name": PORT_NAME, "port": d.traffic_port}],
            auto_healing_policies={"health_check": autoheal.id, "initial_delay_sec": grace},
            update_policy={
                "type": "PROACTIVE",
                "minimal_action": "REPLACE",
                # GPUs are scarce: create the replacement before removing the old VM, never redistribute.
                "max_surge_fixed": zone_count,
                "max_unavailable_fixed": 0,
                "instance_redistribution_type": "NONE",
                "replacement_method": "SUBSTITUTE",
            },
            instance_lifecycle_policy={"force_update_on_repair": "YES"},
            wait_for_instances=False,
            # The autoscaler owns the size once the group exists; VMs need their grants before they boot.
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants, ignore_changes=["targetSize"]),
        )
        group = pulumi.Output.all(d.project, mig.name).apply(lambda v: instance_group_url(v[0], region, v[1]))
        compute.RegionAutoscaler(
            child(name, "autoscaler"),
            region=region,
            target=mig.id,
            autoscaling_policy={
                "min_replicas": args.min_size,
                "max_replicas": args.max_size,
                # A new VM's idle minutes (boot, sync, load) must not count as spare capacity.
                "cooldown_period": grace,
                "mode": "ON",
                "load_balancing_utilization": {"target": args.target_utilization},
                "scale_in_control": {"max_scaled_in_replicas": {"fixed": 1}, "time_window_sec": 1200},
            },
            opts=here,
        )
        return mig, group

    def _router_firewall(self, d: _Deployment, email: pulumi.Output[str]) -> None:
        """The model port of the group's VMs, now that the routers call it: from the group's own VMs (by service
        account) and from Google's health checkers (autohealing), nobody else."""
        here = pulumi.ResourceOptions(parent=self)
        accounts = [email]
        logged: compute.FirewallLogConfigArgsDict = {"metadata": "INCLUDE_ALL_METADATA"}
        ports = [str(d.port)] if d.check_port == d.port else [str(d.port), str(d.check_port)]
        compute.Firewall(
            child(d.name, "allow-peers"),
            description=f"{d.deployment}: the routers on the group's VMs to the model servers",
            network=d.args.network_id,
            direction="INGRESS",
            priority=1000,
            source_service_accounts=accounts,
            target_service_accounts=accounts,
            allows=[{"protocol": "tcp", "ports": [str(d.port)]}],
            log_config=logged,
            opts=here,
        )
        compute.Firewall(
            child(d.name, "allow-autohealing"),
            description=f"{d.deployment}: Google's health checkers to the model servers (autohealing)",
            network=d.args.network_id,
            direction="INGRESS",
            priority=1000,
            source_ranges=list(HEALTH_CHECK_RANGES),
            target_service_accounts=accounts,
            allows=[{"protocol": "tcp", "ports": ports}],
            log_config=logged,
            opts=here,
        )

    def _internal_load_balancer(self, d: _Deployment, backend_args: dict[str, Any], hc_args: dict[str, Any]) -> _Frontend:
        """A regional internal Application Load Balancer: HTTPS with the given certificates, else HTTP."""
        name, args, region, labels = d.name, d.args, d.args.region, d.labels
        here = pulumi.ResourceOptions(parent=self)
        hc = compute.RegionHealthCheck(child(name, "hc"), region=region, **hc_args, opts=here)
        backend = compute.RegionBackendService(
            child(name, "backend"),
            region=region,
            load_balancing_scheme="INTERNAL_MANAGED",
            health_checks=hc.id,
            **backend_args,
            opts=here,
        )
        url_map = compute.RegionUrlMap(child(name, "url-map"), region=region, **url_map_paths(backend.id, d.router is not None), opts=here)
        address = compute.Address(
            child(name, "address"),
            description=f"{d.deployment}: internal load balancer",
            region=region,
            subnetwork=args.subnet_id,
            address_type="INTERNAL",
            labels=labels,
            opts=here,
        )
        if args.ssl_certificate_ids:
            policy = compute.RegionSslPolicy(
                child(name, "tls-policy"), region=region, min_tls_version="TLS_1_2", profile="RESTRICTED", opts=here
            )
            proxy: pulumi.CustomResource = compute.RegionTargetHttpsProxy(
                child(name, "https-proxy"),
                region=region,
                url_map=url_map.id,
                ssl_certificates=list(args.ssl_certificate_ids),
                ssl_policy=policy.id,
                opts=here,
            )
            scheme, listener, port_range = "https", "https", "443"
        else:
            # No certificate: plain HTTP on the VPC only (prompts and API keys cross it in clear);
            # give ssl_certificate_ids outside a trusted network.
            proxy = compute.RegionTargetHttpProxy(child(name, "http-proxy"), region=region, url_map=url_map.id, opts=here)
            scheme, listener, port_range = "http", "http", "80"
        subnetwork: pulumi.Input[str] = args.subnet_id
        if args.proxy_subnet_id is not None:
            # Same value, plus a dependency: the forwarding rule fails until the proxy-only subnet exists.
            subnetwork = pulumi.Output.all(args.subnet_id, args.proxy_subnet_id).apply(lambda v: v[0])
        rule_name = f"{d.deployment}-{listener}"
        compute.ForwardingRule(
            child(name, listener),
            name=rule_name,
            description=f"{d.deployment}: {scheme.upper()} from the VPC",
            region=region,
            load_balancing_scheme="INTERNAL_MANAGED",
            ip_protocol="TCP",
            port_range=port_range,
            target=proxy.id,
            network=args.network_id,
            subnetwork=subnetwork,
            ip_address=address.id,
            network_tier="PREMIUM",
            allow_global_access=args.allow_global_access,
            labels=labels,
            opts=here,
        )
        return _Frontend(
            backend=backend,
            rule_name=rule_name,
            url=address.address.apply(lambda ip: f"{scheme}://{ip}"),
            ip_address=address.address,
            uptime_host=None,
        )

    def _external_load_balancer(self, d: _Deployment, backend_args: dict[str, Any], hc_args: dict[str, Any]) -> _Frontend:
        """A global external Application Load Balancer: HTTPS with a Google-managed certificate, HTTP redirected, an uptime check."""
        name, args, labels = d.name, d.args, d.labels
        here = pulumi.ResourceOptions(parent=self)
        hc = compute.HealthCheck(child(name, "hc"), **hc_args, opts=here)
        backend = compute.BackendService(
            child(name, "backend"),
            load_balancing_scheme="EXTERNAL_MANAGED",
            health_checks=hc.id,
            **backend_args,
            opts=here,
        )
        url_map = compute.URLMap(child(name, "url-map"), **url_map_paths(backend.id, d.router is not None), opts=here)
        address = compute.GlobalAddress(
            child(name, "address"),
            description=f"{d.deployment}: external load balancer",
            address_type="EXTERNAL",
            ip_version="IPV4",
            labels=labels,
            opts=here,
        )
        cert = compute.ManagedSslCertificate(child(name, "cert"), managed={"domains": list(args.domains)}, opts=here)
        tls = compute.SSLPolicy(child(name, "tls-policy"), min_tls_version="TLS_1_2", profile="RESTRICTED", opts=here)
        https_proxy = compute.TargetHttpsProxy(
            child(name, "https-proxy"), url_map=url_map.id, ssl_certificates=[cert.id], ssl_policy=tls.id, opts=here
        )
        rule_name = f"{d.deployment}-https"
        compute.GlobalForwardingRule(
            child(name, "https"),
            name=rule_name,
            description=f"{d.deployment}: HTTPS from the internet",
            load_balancing_scheme="EXTERNAL_MANAGED",
            ip_protocol="TCP",
            port_range="443",
            target=https_proxy.id,
            ip_address=address.id,
            labels=labels,
            opts=here,
        )
        redirect = compute.URLMap(
            child(name, "redirect"),
            description=f"{d.deployment}: HTTP → HTTPS",
            default_url_redirect={"https_redirect": True, "strip_query": False, "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT"},
            opts=here,
        )
        http_proxy = compute.TargetHttpProxy(child(name, "http-proxy"), url_map=redirect.id, opts=here)
        compute.GlobalForwardingRule(
            child(name, "http"),
            name=f"{d.deployment}-http",
            description=f"{d.deployment}: redirect HTTP to HTTPS",
            load_balancing_scheme="EXTERNAL_MANAGED",
            ip_protocol="TCP",
            port_range="80",
            target=http_proxy.id,
            ip_address=address.id,
            labels=labels,
            opts=here,
        )
        uptime_host = args.domains[0]
        uptime_path = d.lb_check[1]
        monitoring.UptimeCheckConfig(
            child(name, "uptime"),
            display_name=f"{d.deployment}: https://{uptime_host}{uptime_path}",
            timeout="10s",
            period="60s",
            http_check={"path": uptime_path, "port": 443, "use_ssl": True, "validate_ssl": True, "request_method": "GET"},
            monitored_resource={"type": "uptime_url", "labels": {"project_id": d.project, "host": uptime_host}},
            checker_type="STATIC_IP_CHECKERS",
            user_labels=labels,
            opts=here,
        )
        return _Frontend(
            backend=backend,
            rule_name=rule_name,
            url=pulumi.Output.from_input(f"https://{uptime_host}"),
            ip_address=address.address,
            uptime_host=uptime_host,
        )

    def _alerts(self, d: _Deployment, front: _Frontend) -> None:
        """Cloud Monitoring alert policies (see alert_policies)."""
        args = d.args
        for definition in alert_policies(
            args.container,
            deployment=d.deployment,
            forwarding_rule=front.rule_name,
            external=args.external,
            thresholds=args.alert_thresholds,
            uptime_host=front.uptime_host,
            uptime_path=d.lb_check[1],
            # As long as AWS's alarm waits (router_vm, one home): past the group's autohealing grace.
            router_window_seconds=router_vm.decide_no_worker_window(args.initial_delay_seconds) if d.router is not None else None,
        ):
            settings = {k: v for k, v in definition.items() if k != "key"}
            monitoring.AlertPolicy(
                child(d.name, "alert-" + definition["key"]),
                notification_channels=list(args.notification_channels),
                user_labels=d.labels,
                opts=pulumi.ResourceOptions(parent=self),
                **settings,
            )


def _backend_and_health_check_args(d: _Deployment, group: pulumi.Output[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The backend service's and the load balancer health check's arguments, the same internal or external."""
    args = d.args
    backend_args: dict[str, Any] = {
        "name": f"{d.deployment}-backend",
        "description": f"{d.deployment}: {args.container.served_name}",
        "protocol": "HTTP",
        "port_name": PORT_NAME,
        "timeout_sec": args.timeout_seconds,
        # A leaving VM keeps its in-flight streams this long: the longest stream (cloud_init.lb_drain_seconds).
        "connection_draining_timeout_sec": args.connection_draining_seconds
        if args.connection_draining_seconds is not None
        else cloud_init.lb_drain_seconds(args.container),
        # Generations vary from milliseconds to minutes: send each request to the least busy server.
        "locality_lb_policy": "LEAST_REQUEST",
        "log_config": {"enable": True, "sample_rate": 1.0},
        "backends": [
            {
                "group": group,
                "balancing_mode": "RATE",
                "max_rate_per_instance": args.requests_per_second_per_instance,
                "capacity_scaler": 1.0,
            }
        ],
    }
    port, path = d.lb_check
    hc_args: dict[str, Any] = {
        "description": f"{d.deployment}: load balancer" + (" → routers" if d.router is not None else ""),
        "http_health_check": {"port": port, "request_path": path},
        "check_interval_sec": 15,
        "timeout_sec": 5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 3,
        "log_config": {"enable": True},
    }
    return backend_args, hc_args


# Names before 0.2.0 (docs/ARCHITECTURE.md, "Names"): served with a DeprecationWarning until 0.3.0.
__getattr__ = module_aliases(
    __name__,
    globals(),
    {
        "AlertThresholds": "GpuVmAlertThresholds",
    },
)
