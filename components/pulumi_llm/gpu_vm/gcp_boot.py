"""The GCP pieces of the GPU-VM boot script: Cloud Storage sync, Secret Manager reads, the persistent
data disk, the Ops Agent (NVIDIA GPU metrics + a Prometheus scrape of the server), container logs, and a
guard that keeps containers away from the metadata server. Pure: no Pulumi.

How the VM boots: the instance template sets the `user-data` metadata key to the `#cloud-config`
document of `render_cloud_init`; the Deep Learning VM's Ubuntu image runs cloud-init, whose GCE
datasource reads that key (`startup-script` is not used). The image carries the NVIDIA driver, Docker
with the NVIDIA runtime, the NVIDIA container toolkit and the Google Cloud CLI, so the host-side calls
(`gcloud storage rsync`, `gcloud secrets versions access`) run the image's `gcloud` with the VM's
service account, through the metadata server.

The metadata server has no hop limit on GCP: any process on the VM, a bridged container included,
can ask it for the service account's token. So the boot script's metadata guard (`metadata_guard`:
`llm-metadata-guard.service`, which every unit starting a bridged container — the server's and the router's —
requires and starts after) rejects forwarded (container) traffic to 169.254.169.254 in Docker's DOCKER-USER
chain: neither the model server nor the router can read the model bucket, the secrets or write metrics with the
VM's identity; only the host-side steps can.

With the vLLM router (`router_vm`, `serving.router`), the group's lister is `gcp_list_instances.py` (shipped
verbatim beside the metrics agent's files): the managed instance group's in-service VMs → their internal
addresses, through the Compute Engine API with the VM's service account token from the metadata server.
Python's standard library rather than `gcloud`: both are on the Deep Learning VM image (python3 runs cloud-init
itself on every Ubuntu image), but `gcloud` starts an interpreter per call — one per instance for the addresses
— every 15 seconds, where the script makes one process and reads the JSON itself. The Ops Agent scrapes the
router's metrics too (`ROUTER_SCRAPE_JOB`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..kubernetes.router_render import RouterOptions
from ..runtimes.spec import ContainerSpec
from ..validation import GCP_REGION
from . import router_vm
from .cloud_init import SCRIPT_DIR, DataDisk, MetricsAgent, SecretFetch, WeightsSync, render_cloud_init
from .metadata_guard import MetadataGuard

DLVM_IMAGE_PROJECT = "deeplearning-platform-release"
DLVM_IMAGE_FAMILY = "common-cu129-ubuntu-2204-nvidia-580"
"""Deep Learning VM 'common' image, Ubuntu 22.04, CUDA 12.9, NVIDIA driver R580 preinstalled (the pinned
vLLM image is built for CUDA 13.0 and needs an R580+ driver, see `pins.VLLM_OPENAI`). Family names follow
`common-cu<cuda>-<os>-nvidia-<driver>`; list them with `gcloud compute images list
--project=deeplearning-platform-release --filter="family~common-cu"`."""

DATA_DEVICE_NAME = "llm-models"
"""Device name of the model-cache disk in the instance template: the guest sees it as
/dev/disk/by-id/google-llm-models (udev rules of the Google guest environment), NVMe or SCSI alike."""

OPS_AGENT_VERSION = "2.70.0"
"""Pinned Google Cloud Ops Agent release. GPU (NVML) metrics need ≥ 2.38.0 and must avoid 2.39.0 and
2.40.0 (they crash on GPU VMs, per Google's DCGM integration page). The version was seen installed as
`2.70.0~ubuntu24.04` in a public provisioning test (gh-index 66630307987); verify it for Ubuntu 22.04
with `apt-cache madison google-cloud-ops-agent` before the first production deploy. The package comes
from Google's apt repository, which apt verifies against Google's signing key."""
OPS_AGENT_REPO_SCRIPT = "https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh"
OPS_AGENT_CONFIG = "/etc/google-cloud-ops-agent/config.yaml"
OPS_AGENT_CONFIG_SOURCE = "/etc/pulumi-llm/ops-agent.yaml"
"""Written by cloud-init, copied into place after the package is installed (a config file present before
the package's first install would make dpkg ask about its conffile)."""
SCRAPE_JOB = "llm-server"
SCRAPE_RECEIVER = "llm_server"
ROUTER_SCRAPE_JOB = "llm-router"
"""The router's scrape job, in the same receiver: its series get the same deployment label."""
LISTER_PATH = f"{SCRIPT_DIR}/gcp-list-instances"
"""`gcp_list_instances.py` on the VM; the router's lister runs it with the group's region and name."""
_LISTER_SOURCE = Path(__file__).with_name("gcp_list_instances.py")
DEPLOYMENT_LABEL = "deployment"
"""Label the scrape adds to every server metric; alert filters select one deployment by it."""

GPU_UTILIZATION_METRIC = "agent.googleapis.com/gpu/utilization"
GPU_MEMORY_USED_METRIC = "agent.googleapis.com/gpu/memory/bytes_used"
"""NVML metrics of the Ops Agent's built-in `hostmetrics` receiver (default pipeline, no configuration
needed on a VM with NVIDIA GPUs and driver), on the `gce_instance` resource with `gpu_number`, `model`
and `uuid` labels (GoogleCloudPlatform/ops-agent integration_test/.../nvml/metadata.yaml)."""

METADATA_SERVER = "169.254.169.254"


def gcs_source(bucket: str, prefix: str) -> str:
    """``gs://<bucket>/<prefix>`` with the bucket name checked."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]", bucket):
        raise ValueError(f"{bucket!r} is not a Cloud Storage bucket name")
    return f"gs://{bucket}/{prefix.strip('/')}"


def gcs_sync(bucket: str, prefix: str, *, revision: str = "", path: str | None = None) -> WeightsSync:
    """``gcloud storage rsync --recursive gs://<bucket>/<prefix> <dest>``: resumable, copies only what is missing."""
    command = ("gcloud", "storage", "rsync", "--recursive", "--quiet", "{source}", "{dest}")
    return WeightsSync(source=gcs_source(bucket, prefix), command=command, revision=revision, path=path)


def secret_manager(ids: Mapping[str, str]) -> SecretFetch:
    """Reads the latest version of each secret from Secret Manager. Ids are secret resource names
    (``projects/<project>/secrets/<name>``, a `gcp.secretmanager.Secret`'s id) or bare names in the
    VM's project."""
    command = ("gcloud", "secrets", "versions", "access", "latest", "--secret={secret}", "--quiet")
    return SecretFetch(command=command, ids=dict(ids))


def gce_data_disk(device_name: str = DATA_DEVICE_NAME) -> DataDisk:
    """The template's second disk, found by its device name (nothing printed until it is attached)."""
    return DataDisk(find=f"readlink -e /dev/disk/by-id/google-{device_name}")


def gcplogs_args() -> tuple[str, ...]:
    """Docker's gcplogs driver (runs in dockerd, on the host): the server's stdout/stderr to Cloud Logging.

    Non-blocking with a 4 MB buffer, so a slow Logging API never stalls the server's writes.
    """
    return ("--log-driver=gcplogs", "--log-opt=mode=non-blocking", "--log-opt=max-buffer-size=4m")


def scraped_metrics(spec: ContainerSpec) -> tuple[str, ...]:
    """The server's series sent to Cloud Monitoring: load, KV cache, tokens, preemptions and the latency
    histograms the alerts read (everything else the server exports is dropped at the scrape)."""
    m = spec.metrics
    names = (
        m.requests_waiting,
        m.requests_running,
        m.kv_cache_usage,
        m.prompt_tokens,
        m.generation_tokens,
        m.preemptions,
        m.time_to_first_token,
        m.e2e_latency,
        m.queue_duration,
        m.compute_duration,
    )
    return tuple(dict.fromkeys(name for name in names if name))


def _scrape_job(job: str, target: str, path: str, names: tuple[str, ...], deployment: str, interval_seconds: int) -> dict[str, Any]:
    """One Prometheus scrape job: `target` on the VM's loopback, labelled with the deployment, kept to `names`."""
    keep = "|".join(re.escape(name) for name in names)
    return {
        "job_name": job,
        "scrape_interval": f"{interval_seconds}s",
        "scrape_timeout": "10s",
        "metrics_path": path,
        "static_configs": [{"targets": [target], "labels": {DEPLOYMENT_LABEL: deployment}}],
        "metric_relabel_configs": [
            {
                "source_labels": ["__name__"],
                "regex": f"({keep})(_bucket|_sum|_count)?",
                "action": "keep",
            }
        ],
    }


def ops_agent_config(spec: ContainerSpec, deployment: str, *, interval_seconds: int = 30, router: bool = False) -> str:
    """Ops Agent configuration: a Prometheus scrape of the server's metrics port, labelled with the
    deployment and filtered to `scraped_metrics`, and with `router` one of the router's (`router_vm.METRICS_TARGET`,
    `router_vm.METRIC_NAMES`). Merged by the agent with its built-in configuration, whose `hostmetrics` receiver
    already collects the NVIDIA GPU metrics through NVML (`GPU_UTILIZATION_METRIC`, `GPU_MEMORY_USED_METRIC`); the
    built-in pipelines are left untouched."""
    port = spec.port(spec.metrics_port).container_port
    jobs = [_scrape_job(SCRAPE_JOB, f"127.0.0.1:{port}", spec.metrics_path, scraped_metrics(spec), deployment, interval_seconds)]
    if router:
        jobs.append(
            _scrape_job(ROUTER_SCRAPE_JOB, router_vm.METRICS_TARGET, "/metrics", router_vm.METRIC_NAMES, deployment, interval_seconds)
        )
    config = {
        "metrics": {
            "receivers": {
                SCRAPE_RECEIVER: {
                    "type": "prometheus",
                    "config": {"scrape_configs": jobs},
                }
            },
            "service": {"pipelines": {SCRAPE_RECEIVER: {"receivers": [SCRAPE_RECEIVER]}}},
        }
    }
    return yaml.safe_dump(config, sort_keys=False)


PROMETHEUS_METRIC_PREFIX = "prometheus.googleapis.com/"
PROMETHEUS_RESOURCE = "prometheus_target"
"""Where the Ops Agent's Prometheus receiver writes a scraped series: the metric type
``prometheus.googleapis.com/<name>/<kind>`` (kind: gauge, counter, …) on the `prometheus_target` resource, the scrape
job's labels (`DEPLOYMENT_LABEL`) as metric labels (Google Cloud, "Ops Agent: Prometheus receiver", ingested metrics
are "prometheus.googleapis.com/METRIC/TYPE"). PromQL names the same series by its Prometheus name alone, the form
of the alert policies' queries (`gpu_vm.gcp.alert_policies`)."""


def prometheus_metric_type(name: str, kind: str) -> str:
    """The Cloud Monitoring metric type of a scraped series `name` of Prometheus kind `kind`."""
    return f"{PROMETHEUS_METRIC_PREFIX}{name}/{kind}"


ROUTER_PANELS: tuple[tuple[str, str, str, str], ...] = (
    ("requests per second", "vllm_router_requests_total", "ALIGN_RATE", "REDUCE_SUM"),
    ("requests in flight", "vllm_router_running_requests", "ALIGN_MAX", "REDUCE_MAX"),
    ("healthy workers (fewest any router sees)", router_vm.ACTIVE_WORKERS, "ALIGN_MIN", "REDUCE_MIN"),
    ("prefix-routing decisions per second", "vllm_router_prefix_routing_decisions_total", "ALIGN_RATE", "REDUCE_SUM"),
)
"""(title, metric, per-series aligner, cross-series reducer) of each router chart: the graphs of the AWS dashboard
(`aws_boot.ROUTER_PANELS`); the counters are cumulative in Cloud Monitoring, so ALIGN_RATE gives per second."""


def router_widgets(deployments: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
    """Cloud Monitoring dashboard charts of the GPU-VM routers: one line per model (`deployments`: model → its
    `DEPLOYMENT_LABEL` value, `gpu_vm.gcp.deployment_label`), reading each series as the Ops Agent writes it."""

    def data_set(model: str, deployment: str, metric: str, aligner: str, reducer: str) -> dict[str, Any]:
        flt = (
            f'metric.type = "{prometheus_metric_type(metric, router_vm.METRIC_KINDS[metric])}" '
            f'AND resource.type = "{PROMETHEUS_RESOURCE}" AND metric.labels.{DEPLOYMENT_LABEL} = "{deployment}"'
        )
        aggregation = {"alignmentPeriod": "60s", "perSeriesAligner": aligner, "crossSeriesReducer": reducer}
        return {
            "timeSeriesQuery": {"timeSeriesFilter": {"filter": flt, "aggregation": aggregation}},
            "plotType": "LINE",
            "legendTemplate": model,
        }

    return tuple(
        {
            "title": f"vLLM routers: {title}",
            "xyChart": {"dataSets": [data_set(model, dep, metric, aligner, reducer) for model, dep in sorted(deployments.items())]},
        }
        for title, metric, aligner, reducer in ROUTER_PANELS
    )


def metadata_guard() -> MetadataGuard:
    """The DOCKER-USER rule that rejects container traffic to the metadata server (`metadata_guard`)."""
    return MetadataGuard(
        rules=(f"-d {METADATA_SERVER}/32 -j REJECT",),
        description="containers may not reach the metadata server (the VM's credentials)",
    )


def ops_agent(spec: ContainerSpec, *, deployment: str, router: router_vm.VmRouter | None = None) -> MetricsAgent:
    """The Ops Agent at `OPS_AGENT_VERSION` with this deployment's scrape (and the router's, with its lister
    script); installed (or re-pinned) when the VM has another version or none, then configured and restarted."""
    script_path = "/tmp/add-google-cloud-ops-agent-repo.sh"
    v = OPS_AGENT_VERSION
    script = "\n".join(
        [
            "have=$(dpkg-query -W -f='${Version}' google-cloud-ops-agent 2>/dev/null || true)",
            'case "$have" in',
            f"  {v}|{v}~*|{v}-*|{v}+*) ;;",
            "  *)",
            f"    curl -fsSL --retry 5 -o {script_path} {shlex.quote(OPS_AGENT_REPO_SCRIPT)}",
            f"    bash {script_path} --also-install --version={v}",
            f"    rm -f {script_path}",
            "    ;;",
            "esac",
            f"install -m 0644 {OPS_AGENT_CONFIG_SOURCE} {OPS_AGENT_CONFIG}",
            "systemctl restart google-cloud-ops-agent",
        ]
    )
    files: tuple[tuple[str, str], ...] = ((OPS_AGENT_CONFIG_SOURCE, ops_agent_config(spec, deployment, router=router is not None)),)
    jobs = f"server scraped as job {SCRAPE_JOB}"
    if router is not None:
        # The lister is a script file: MetricsAgent.files is the renderer's one per-cloud hook that writes files
        # (mode 0644: the lister runs it with python3, never executes it directly).
        files = (*files, (LISTER_PATH, lister_source()))
        jobs += f", router as job {ROUTER_SCRAPE_JOB}"
    return MetricsAgent(name=f"Google Cloud Ops Agent {v} (GPU via NVML, {jobs})", files=files, script=script)


def lister_source() -> str:
    """`gcp_list_instances.py` as shipped (its tests import the same file)."""
    return _LISTER_SOURCE.read_text(encoding="utf-8")


def mig_lister(region: str, group: str) -> router_vm.InstanceLister:
    """The router's lister on GCP: the regional managed instance group `group`'s VMs in service → their internal
    addresses (`gcp_list_instances.py`; the VM's service account needs `LISTER_PERMISSIONS` on them)."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", group) or not GCP_REGION.fullmatch(region):
        raise ValueError(f"not a managed instance group name and region: {group!r} in {region!r}")
    return router_vm.InstanceLister(
        command=("/usr/bin/python3", LISTER_PATH, "--region", region, "--group", group),
        description=f"managed instance group {group} ({region}): RUNNING VMs, action NONE or VERIFYING → internal IPs",
    )


LISTER_GROUP_PERMISSIONS = ("compute.instanceGroupManagers.get",)
"""What the lister's first call needs (Compute Engine API reference, "IAM Permissions" of the method):
regionInstanceGroupManagers.listManagedInstances → compute.instanceGroupManagers.get on the group. Granted
without a condition: IAM Conditions lists no resource attributes for instance group managers ("Resource
attributes for IAM Conditions": other types "do not recognize resource attributes"), so no condition can be
shown to admit the call."""

LISTER_INSTANCE_PERMISSIONS = ("compute.instances.get",)
"""What its second call needs: instances.get → compute.instances.get on each VM (granted under a condition
naming the group's instances, `gcp.lister_condition`)."""

LISTER_PERMISSIONS = LISTER_GROUP_PERMISSIONS + LISTER_INSTANCE_PERMISSIONS
"""Both: everything the lister calls, nothing else."""


def gcp_router(spec: ContainerSpec, options: RouterOptions | None, *, region: str, group: str) -> router_vm.VmRouter | None:
    """The group's router (None without `options` or for a server the router does not front), listing `group`."""
    return router_vm.vm_router(spec, options, mig_lister(region, group), log_args=gcplogs_args())


def gcp_user_data(
    spec: ContainerSpec,
    *,
    bucket: str,
    key_prefix: str,
    deployment: str,
    revision: str = "",
    secret_ids: Mapping[str, str] | None = None,
    router: router_vm.VmRouter | None = None,
) -> str:
    """The complete GCP boot script: persistent data disk, Cloud Storage sync, Secret Manager, Ops Agent,
    gcplogs, metadata guard; with `router` (`gcp_router`), the vLLM router and its reconciler."""
    return render_cloud_init(
        spec,
        weights_sync=gcs_sync(bucket, key_prefix, revision=revision),
        metrics=ops_agent(spec, deployment=deployment, router=router),
        data_disk=gce_data_disk(),
        secrets=secret_manager(secret_ids) if secret_ids else None,
        log_args=gcplogs_args(),
        router=router,
        metadata_guard=metadata_guard(),
    )


__all__ = [
    "DATA_DEVICE_NAME",
    "DLVM_IMAGE_FAMILY",
    "DLVM_IMAGE_PROJECT",
    "GPU_UTILIZATION_METRIC",
    "LISTER_GROUP_PERMISSIONS",
    "LISTER_INSTANCE_PERMISSIONS",
    "LISTER_PERMISSIONS",
    "OPS_AGENT_VERSION",
    "gce_data_disk",
    "gcp_router",
    "gcp_user_data",
    "gcplogs_args",
    "gcs_sync",
    "lister_source",
    "metadata_guard",
    "mig_lister",
    "ops_agent",
    "ops_agent_config",
    "prometheus_metric_type",
    "router_widgets",
    "secret_manager",
]
