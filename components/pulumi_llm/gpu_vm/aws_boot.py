"""The AWS pieces of the GPU-VM boot script: S3 sync, Secrets Manager reads, the EBS data disk, the
CloudWatch agent (GPU metrics + a Prometheus scrape of the server), container logs. Pure: no Pulumi.

The host-side AWS calls (sync, secrets) run the pinned AWS CLI image with host networking: it needs no
CLI on the AMI, and it reaches the instance's credentials through IMDSv2 with the hop limit at 1,
which the model server's bridged container cannot.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

import yaml

from .. import pins
from ..kubernetes.router_render import RouterOptions
from ..monitoring import cloudwatch
from ..runtimes.spec import ContainerSpec
from . import router_vm
from .cloud_init import MODEL_ROOT, DataDisk, MetricsAgent, SecretFetch, WeightsSync, render_cloud_init

DLAMI_SSM_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
"""AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04), x86_64: NVIDIA driver, Docker, NVIDIA
container toolkit, SSM agent. Public SSM parameter named per docs.aws.amazon.com/dlami/latest/devguide/
find-dlami-id.html (DLAMI name minus "deep", "learning", "ami")."""

SERVER_METRICS_NAMESPACE = "PulumiLLM/ModelServer"
"""CloudWatch namespace of the server's scraped Prometheus metrics (queue, running, KV cache, tokens).
GPU metrics stay in the agent's namespace (`monitoring.cloudwatch.CWAGENT_NAMESPACE`), where the GPU
alarms read them."""

AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/pulumi-llm.json"
PROMETHEUS_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/pulumi-llm-prometheus.yaml"
AGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
SCRAPE_JOB = "llm-server"
ROUTER_SCRAPE_JOB = "llm-router"

# The DLAMI does not promise the CloudWatch agent, so the boot script installs this exact package when
# the agent is absent, checking its SHA-256 first. Version and digest: the versioned Ubuntu amd64 .deb
# pinned with this SHA-256 in public repositories whose notes say its detached .deb.sig verified
# (gh-index 68703359997, 68572690106). Bump: download the new versioned .deb and .sig, verify the
# signature with AWS's published key, record the sha256sum here.
CLOUDWATCH_AGENT_VERSION = "1.300072.0b1766"
CLOUDWATCH_AGENT_URL = (
    f"https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/{CLOUDWATCH_AGENT_VERSION}/amazon-cloudwatch-agent.deb"
)
CLOUDWATCH_AGENT_SHA256 = "05baeadca96c4bb8e43906ed09cf0bebd0f321ff6d41987bdc46ce681de0978d"


def bucket_name(bucket_arn: str) -> str:
    """``arn:aws:s3:::my-bucket`` → ``my-bucket``."""
    match = re.fullmatch(r"arn:[a-z-]+:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])", bucket_arn)
    if not match:
        raise ValueError(f"{bucket_arn!r} is not an S3 bucket ARN (arn:aws:s3:::<bucket>)")
    return match.group(1)


def aws_cli(region: str, *args: str, volumes: tuple[str, ...] = ()) -> tuple[str, ...]:
    """argv running the pinned AWS CLI image on the host network (so IMDSv2 hop limit 1 suffices)."""
    mounts = tuple(token for volume in volumes for token in ("--volume", volume))
    return (
        "/usr/bin/docker",
        "run",
        "--rm",
        "--network",
        "host",
        *mounts,
        "--env",
        f"AWS_REGION={region}",
        pins.AWS_CLI.ref,
        *args,
    )


def s3_sync(bucket_arn: str, prefix: str, *, region: str, revision: str = "", path: str | None = None) -> WeightsSync:
    """``aws s3 sync s3://<bucket>/<prefix> <dest>``: resumable, copies only what is missing."""
    source = f"s3://{bucket_name(bucket_arn)}/{prefix.strip('/')}"
    command = aws_cli(
        region,
        "s3",
        "sync",
        "{source}",
        "{dest}",
        "--only-show-errors",
        "--no-progress",
        volumes=(f"{MODEL_ROOT}:{MODEL_ROOT}",),
    )
    return WeightsSync(source=source, command=command, revision=revision, path=path)


def secrets_manager(ids: Mapping[str, str], *, region: str) -> SecretFetch:
    """Reads each secret's SecretString from AWS Secrets Manager (ids are ARNs)."""
    command = aws_cli(
        region, "secretsmanager", "get-secret-value", "--secret-id", "{secret}", "--query", "SecretString", "--output", "text"
    )
    return SecretFetch(command=command, ids=dict(ids))


def ebs_data_disk() -> DataDisk:
    """The one non-root EBS volume of a Nitro instance (the launch template's second volume).

    EBS volumes show as NVMe devices whose model is "Amazon Elastic Block Store"; instance-store disks
    have another model and are left alone (the DLAMI mounts them at /opt/dlami/nvme itself).
    """
    find = "\n".join(
        [
            'root=$(lsblk -no PKNAME "$(findmnt -no SOURCE /)")',
            "lsblk -dpno NAME,MODEL | awk -v root=\"/dev/$root\" '$1 != root && /Amazon Elastic Block Store/ { print $1; exit }'",
        ]
    )
    return DataDisk(find=find)


def awslogs_args(log_group: str, region: str) -> tuple[str, ...]:
    """Docker's awslogs driver (runs in dockerd, on the host): the server's stdout/stderr to CloudWatch Logs.

    Non-blocking with a 4 MB buffer, so a slow CloudWatch Logs never stalls the server's writes.
    """
    return (
        "--log-driver=awslogs",
        f"--log-opt=awslogs-region={region}",
        f"--log-opt=awslogs-group={log_group}",
        "--log-opt=mode=non-blocking",
        "--log-opt=max-buffer-size=4m",
    )


def prometheus_config(spec: ContainerSpec, deployment: str, *, router: bool = False) -> str:
    """The agent's Prometheus scrape of the server's metrics port (and the router's, on loopback), labelled with
    the deployment."""
    port = spec.port(spec.metrics_port).container_port
    jobs = [(SCRAPE_JOB, spec.metrics_path, f"127.0.0.1:{port}")]
    if router:
        jobs.append((ROUTER_SCRAPE_JOB, "/metrics", router_vm.METRICS_TARGET))
    config = {
        "global": {"scrape_interval": "30s", "scrape_timeout": "10s"},
        "scrape_configs": [
            {"job_name": job, "metrics_path": path, "static_configs": [{"targets": [target], "labels": {"Deployment": deployment}}]}
            for job, path, target in jobs
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def scraped_metrics(spec: ContainerSpec) -> tuple[str, ...]:
    """The server's gauges and counters exported to CloudWatch (histograms stay in the EMF logs)."""
    m = spec.metrics
    names = (
        m.requests_waiting,
        m.requests_running,
        m.kv_cache_usage,
        m.prompt_tokens,
        m.generation_tokens,
        m.preemptions,
        m.queue_duration,
        m.compute_duration,
    )
    return tuple(name for name in names if name)


def agent_config(
    spec: ContainerSpec, *, log_group: str, namespace: str = SERVER_METRICS_NAMESPACE, interval: int = 60, router: bool = False
) -> str:
    """CloudWatch agent JSON: the GPU metrics exactly as `monitoring.cloudwatch.gpu_agent_config` renders
    them (the GPU alarms read those names and dimensions), host memory and disk, and the server's (and the
    router's) Prometheus metrics through the agent's EMF processor, in the same namespace."""
    declarations = [(SCRAPE_JOB, scraped_metrics(spec))]
    if router:
        declarations.append((ROUTER_SCRAPE_JOB, router_vm.METRIC_NAMES))
    config = cloudwatch.gpu_agent_config(interval)
    config["metrics"]["metrics_collected"].update(
        {
            "mem": {"measurement": ["mem_used_percent"]},
            "disk": {"measurement": ["used_percent"], "resources": ["/", MODEL_ROOT]},
        }
    )
    config["logs"] = {
        "metrics_collected": {
            "prometheus": {
                "log_group_name": log_group,
                "prometheus_config_path": PROMETHEUS_CONFIG,
                "emf_processor": {
                    "metric_declaration_dedup": True,
                    "metric_namespace": namespace,
                    "metric_declaration": [
                        {
                            "source_labels": ["job"],
                            "label_matcher": f"^{job}$",
                            "dimensions": [["Deployment"]],
                            "metric_selectors": [f"^{re.escape(name)}$" for name in names],
                        }
                        for job, names in declarations
                    ],
                },
            }
        },
        "force_flush_interval": 15,
    }
    # Compact: user data is limited to 16 KB.
    return json.dumps(config, separators=(",", ":")) + "\n"


def cloudwatch_agent(
    spec: ContainerSpec, *, log_group: str, deployment: str, namespace: str = SERVER_METRICS_NAMESPACE, router: bool = False
) -> MetricsAgent:
    """The CloudWatch agent with this deployment's config; installed from the pinned package if absent."""
    deb = "/tmp/amazon-cloudwatch-agent.deb"
    script = "\n".join(
        [
            f"if [ ! -x {AGENT_CTL} ]; then",
            f"  curl -fsSL --retry 5 -o {deb} {shlex.quote(CLOUDWATCH_AGENT_URL)}",
            f'  echo "{CLOUDWATCH_AGENT_SHA256}  {deb}" | sha256sum -c -',
            f"  dpkg -i -E {deb}",
            f"  rm -f {deb}",
            "fi",
            f"{AGENT_CTL} -a fetch-config -m ec2 -s -c file:{AGENT_CONFIG}",
        ]
    )
    return MetricsAgent(
        name=f"CloudWatch agent {CLOUDWATCH_AGENT_VERSION} (GPU → {cloudwatch.CWAGENT_NAMESPACE}, server → {namespace})",
        files=(
            (AGENT_CONFIG, agent_config(spec, log_group=log_group, namespace=namespace, router=router)),
            (PROMETHEUS_CONFIG, prometheus_config(spec, deployment, router=router)),
        ),
        script=script,
    )


ROUTER_PANELS: tuple[tuple[str, str, str], ...] = (
    ("requests", "vllm_router_requests_total", "Sum"),
    ("requests in flight", "vllm_router_running_requests", "Maximum"),
    ("healthy workers (fewest any router sees)", "vllm_router_active_workers", "Minimum"),
    ("prefix-routing decisions", "vllm_router_prefix_routing_decisions_total", "Sum"),
)
"""(title, metric, statistic) of each router graph on the stack's dashboard; the agent publishes the router's
counters as deltas per scrape, so Sum is the count per period."""


def router_panels(deployments: Mapping[str, str], namespace: str = SERVER_METRICS_NAMESPACE) -> tuple[dict[str, Any], ...]:
    """The dashboard graphs of the GPU-VM routers (`monitoring.cloudwatch.dashboard_body` panels): one line per
    model (`deployments`: model → the `Deployment` dimension its agent writes, ``<stack>/<component name>``)."""
    return tuple(
        {
            "title": f"vLLM routers: {title}",
            "metrics": [
                [namespace, metric, "Deployment", deployment, {"stat": stat, "period": 300, "label": model}]
                for model, deployment in sorted(deployments.items())
            ],
        }
        for title, metric, stat in ROUTER_PANELS
    )


GROUP_TAGS = ("pulumi-llm:stack", "pulumi-llm:method", "pulumi-llm:model")
"""Tags (`labels.aws_tags`) that name one model's Auto Scaling group in a stack; the lister finds its group by them."""


def instance_lister(region: str, group_tags: Mapping[str, str], security_group_id: str) -> router_vm.InstanceLister:
    """The group's InService + Healthy instances → their private IPv4 addresses, with the pinned AWS CLI.

    The group is found by its tags (`GROUP_TAGS`; its name is generated after the launch template, which holds
    this script), and only instances in the group's own security group are listed, so a same-named stack in the
    account can never add its instances to this router. `HealthStatus` follows the target group's check of the
    model server (ELB health checks), so a VM whose server failed drops out once Auto Scaling sees it."""
    filters = [f"Name=tag:{key},Values={group_tags[key]}" for key in GROUP_TAGS]
    groups = aws_cli(
        region,
        "autoscaling",
        "describe-auto-scaling-groups",
        "--filters",
        *filters,
        "--query",
        "AutoScalingGroups[].Instances[?LifecycleState=='InService' && HealthStatus=='Healthy'].InstanceId[]",
        "--output",
        "text",
    )
    instances = aws_cli(
        region,
        "ec2",
        "describe-instances",
        "--filters",
        f"Name=instance.group-id,Values={security_group_id}",
        "Name=instance-state-name,Values=running",
        "--query",
        "Reservations[].Instances[].PrivateIpAddress",
        "--output",
        "text",
        "--instance-ids",
    )
    script = "\n".join(
        [
            "set -eu",
            "ids=$(" + " ".join(shlex.quote(t) for t in groups) + ")",
            '[ -n "$ids" ] || exit 0',
            "ips=$(" + " ".join(shlex.quote(t) for t in instances) + " $ids)",
            "printf '%s\\n' $ips",
        ]
    )
    return router_vm.InstanceLister(command=("/bin/sh", "-c", script), description="Auto Scaling group InService+Healthy → EC2 private IPs")


def aws_user_data(
    spec: ContainerSpec,
    *,
    bucket_arn: str,
    key_prefix: str,
    region: str,
    log_group: str,
    deployment: str,
    revision: str = "",
    secret_arns: Mapping[str, str] | None = None,
    router: RouterOptions | None = None,
    group_tags: Mapping[str, str] | None = None,
    security_group_id: str = "",
) -> str:
    """The complete AWS boot script: EBS data disk, S3 sync, Secrets Manager, CloudWatch agent and logs, and the
    vLLM router with its reconciler when `router` is given (`group_tags` and `security_group_id` then find the
    group's instances)."""
    vm_router = None
    if router is not None:
        if group_tags is None or not security_group_id:
            raise ValueError(f"{spec.served_name}: the router's instance lister needs the group's tags and security group")
        lister = instance_lister(region, group_tags, security_group_id)
        vm_router = router_vm.vm_router(spec, router, lister, log_args=awslogs_args(log_group, region))
    return render_cloud_init(
        spec,
        weights_sync=s3_sync(bucket_arn, key_prefix, region=region, revision=revision),
        metrics=cloudwatch_agent(spec, log_group=log_group, deployment=deployment, router=vm_router is not None),
        data_disk=ebs_data_disk(),
        secrets=secrets_manager(secret_arns, region=region) if secret_arns else None,
        log_args=awslogs_args(log_group, region),
        router=vm_router,
    )
