"""AwsGpuVm: one model server on GPU instances in an Auto Scaling group behind an Application Load Balancer.

Children (Pulumi names ``<name>-<role>``):

* IAM: an instance role (`AmazonSSMManagedInstanceCore` for Session Manager instead of SSH,
  `CloudWatchAgentServerPolicy`, and an inline policy that reads only the model's S3 prefix, decrypts only
  through S3/Secrets Manager with the one key, and reads only the server's own secrets), its instance
  profile, and a KMS grant that lets Auto Scaling launch instances whose EBS volumes use the customer key;
* network: a security group for the load balancer (80/443 from the allowed CIDRs, or from the callers'
  groups that add their own rule to `alb_security_group_id`, e.g. the gateway; out only to the
  instances' server port) and one for the instances (the server port from the load balancer only; out
  only HTTPS: registries, S3, Secrets Manager, CloudWatch, SSM; no port 22, no key pair);
* compute: a launch template (AWS Deep Learning Base GPU AMI from its public SSM parameter, IMDSv2 only
  with hop limit 1, encrypted gp3 root and model-cache volumes, no public IP, the cloud-init of
  `cloud_init.render_cloud_init` as user data) and the Auto Scaling group (mixed instances: on-demand
  base + spot above it, price-capacity-optimized, capacity rebalance; ELB health checks with a grace
  covering provisioning + the server's startup budget; rolling instance refresh that launches before
  it terminates);
* traffic: the load balancer (internal by default), a target group (least outstanding requests, the
  server's HTTP health path), an HTTPS listener (TLS 1.2+/1.3 policy) with an HTTP→HTTPS redirect, or a
  plain HTTP listener when no certificate is given;
* scaling and alarms: target tracking on ALBRequestCountPerTarget, optional scale-to-zero schedules,
  the ALB and GPU alarms of `monitoring.cloudwatch` notifying the given SNS topic, and the log group of
  the server's logs and scraped metrics;
* with `router` (a vLLM server): the vLLM router on every instance (`router_vm`), the target group on its
  port with the health check left on the server's, a listener rule forwarding ``/v1/*`` only (the default
  action answers 404), the instances' group admitting itself on the server's port (routers → servers), and
  the role policy ``-router-list`` its reconciler lists the group with (`aws_boot.instance_lister`).

Why hop limit 1 (not 2): the model server runs on Docker's bridge network, one hop away; with hop limit 1
it cannot fetch the instance role's credentials (model bucket, secrets). Everything that needs them (the
weights sync, the secret reads, the awslogs driver, the CloudWatch and SSM agents) runs on the host or on
the host network. Weights streamed from S3 by the server itself would need 2; VMs sync them instead.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import gzip
import ipaddress
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..deprecated import module_aliases, moved_field
from ..errors import UserError
from ..kubernetes.router_render import RouterOptions
from ..labels import CommonLabels, aws_tags
from ..monitoring import cloudwatch
from ..naming import child, dns_label
from ..network.aws import allow_https_out, allow_tcp_between
from ..runtimes.spec import ContainerSpec
from ..schedules import cron_problem, time_zone_problem
from ..sizing import GIB, INSTANCE_TYPES, InstanceType, get_instance_type
from ..validation import OBJECT_PREFIX
from . import aws_boot, cloud_init, router_vm
from .cloud_init import health_check_path, health_check_port, host_path, model_mount, ready_within_seconds, weights_path

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""
StrListInput = Sequence[StrInput] | pulumi.Output[list[str]]
"""A list of strings or an Output of one (pulumi.Input[list[str]])."""

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
"""TLS 1.3 and 1.2 only, forward-secret ciphers (AWS's recommended ALB policy)."""
ROOT_DEVICE = "/dev/sda1"
"""Root device name of AWS's Ubuntu AMIs (the DLAMI included)."""
DATA_DEVICE = "/dev/sdf"
USER_DATA_LIMIT = 16 * 1024
"""EC2 refuses user data over 16 KB (before base64). The boot script is gzipped (cloud-init unpacks gzipped user
data itself), so the limit applies to the compressed bytes: the router's scripts alone are ~9.5 KB of text."""
MAX_GRACE_SECONDS = 7200
AUTOSCALING_GRANT_OPERATIONS = (
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
    "CreateGrant",
)
"""What EC2 Auto Scaling's service-linked role needs on a customer key to launch encrypted volumes."""
_OPEN = {"0.0.0.0/0", "::/0"}


class GpuVmAlertThresholds(BaseModel):
    """Thresholds of the alarms (definitions in `monitoring.cloudwatch`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_p99_seconds: float = Field(
        default=30.0, gt=0, description="p99 target response time (≈ time to first token when streaming). Default 30."
    )
    errors_per_minute: int = Field(default=5, ge=0, description="Target or load-balancer 5xx per minute, in 3 of 5 minutes. Default 5.")
    gpu_idle_percent: float = Field(default=5.0, ge=0, le=100, description="GPU utilization below which GPUs count as idle. Default 5.")
    gpu_idle_minutes: int = Field(
        default=60, ge=5, le=1440, description="Minutes of idle GPUs before the alarm (multiple of 5). Default 60."
    )
    gpu_memory_percent: float = Field(
        default=97.0, gt=0, le=100, description="GPU memory used; above vLLM's own reservation (0.9). Default 97."
    )


class ScaleToZeroSchedule(BaseModel):
    """Stop every instance on a schedule (nights, weekends) and bring the group back on another."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stop_cron: str = Field(description="Cron (5 fields, in time_zone) at which the group scales to zero, e.g. '0 20 * * MON-FRI'.")
    start_cron: str = Field(description="Cron at which min/max/desired are restored, e.g. '0 7 * * MON-FRI'.")
    time_zone: str = Field(default="UTC", description="IANA time zone of both crons. Default UTC.")


class AwsGpuVmArgs(BaseModel):
    """What to serve, on which GPU types, behind which load balancer. Validation is pure and fails with
    one UserError line naming `config_path` and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    container: ContainerSpec = Field(description="The model server (runtimes.vllm / runtimes.triton), with volume weights below /models.")
    region: str = Field(description="Region the provider deploys to (the boot script's AWS CLI calls use it).")
    instance_types: list[str] = Field(
        min_length=1,
        description="AWS GPU types from the sizing catalog, most preferred first, each with at least the server's GPUs.",
    )
    vpc_id: StrInput = Field(description="VPC of the load balancer and the instances.")
    private_subnet_ids: StrListInput = Field(description="Subnets of the instances (and of an internal load balancer).")
    public_subnet_ids: StrListInput | None = Field(default=None, description="Subnets of an internet-facing load balancer. Default none.")
    internal: bool = Field(default=True, description="Internal load balancer (private endpoint). Default true.")
    allowed_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed to reach the load balancer on 80/443; 0.0.0.0/0 only when internal is false. "
        "Default none: callers come in by security group (`alb_security_group_id`), e.g. the gateway's tasks.",
    )
    model_bucket_arn: StrInput = Field(description="ARN of the S3 bucket holding the weights (e.g. AwsModelStore.bucket_arn).")
    model_key_prefix: str = Field(description="Key prefix of this model's files in the bucket, e.g. 'llama-3.1-8b/0e9e39f'.")
    weights_revision: str = Field(
        default="", description="Revision recorded with the synced weights; a new one re-syncs. Default: the prefix alone."
    )
    kms_key_arn: StrInput = Field(description="Customer KMS key: encrypts both EBS volumes and the server's logs.")
    model_kms_key_arn: StrInput | None = Field(
        default=None,
        description="The key the weights bucket encrypts with (its default SSE-KMS key, e.g. AwsModelStore.key_arn): the "
        "instance role decrypts the weights with it, through S3 only. Default: kms_key_arn.",
    )
    secret_arns: dict[str, StrInput] = Field(
        default_factory=dict,
        description="Secrets Manager ARN per secret the server reads (EnvVar.secret_name → ARN). Default none.",
    )
    secrets_kms_key_arn: StrInput | None = Field(default=None, description="Key of those secrets. Default: kms_key_arn.")
    min_size: int = Field(default=1, ge=0, description="Fewest instances. Default 1.")
    max_size: int = Field(default=2, ge=1, description="Most instances. Default 2.")
    desired_capacity: int | None = Field(
        default=None, ge=0, description="Instances at creation; target tracking owns it after. Default min_size."
    )
    on_demand_base_capacity: int = Field(default=0, ge=0, description="Instances always on demand. Default 0.")
    spot_percentage_above_base: int = Field(
        default=100,
        ge=0,
        le=100,
        description="Share of instances above the base that are spot: 100 for dev, e.g. 50 for prod. Default 100.",
    )
    schedule: ScaleToZeroSchedule | None = Field(default=None, description="Scale-to-zero schedule. Default none (always on).")
    certificate_arn: StrInput | None = Field(
        default=None, description="ACM certificate: HTTPS on 443 (TLS 1.2+) and HTTP redirects to it. Default none: HTTP on 80 only."
    )
    idle_timeout_seconds: int = Field(
        default=3600, ge=1, le=4000, description="Load balancer idle timeout, ≥ the longest stream. Default 3600."
    )
    deregistration_delay_seconds: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="Seconds in-flight requests get when an instance leaves (the Auto Scaling group terminates it after). "
        "Default: the longest stream the server drains (cloud_init.lb_drain_seconds), at most 3600.",
    )
    requests_per_instance_per_minute: float = Field(
        default=60.0, gt=0, description="Target of the ALBRequestCountPerTarget tracking policy. Default 60."
    )
    health_check_grace_seconds: int | None = Field(
        default=None, description="Auto Scaling health-check grace; at least the startup budget. Default: provisioning + startup budget."
    )
    alarm_topic_arn: StrInput | None = Field(default=None, description="SNS topic the alarms notify. Default none: alarms without actions.")
    alert_thresholds: GpuVmAlertThresholds = Field(
        default_factory=GpuVmAlertThresholds, description="Alert thresholds (of its CloudWatch alarms). Defaults above."
    )
    root_volume_gib: int = Field(default=150, ge=75, le=16384, description="gp3 root volume (OS, Docker images). Default 150.")
    data_volume_gib: int | None = Field(default=None, ge=1, le=16384, description="gp3 model-cache volume. Default weights × 1.5 + 20 GiB.")
    data_volume_iops: int = Field(default=6000, ge=3000, le=16000, description="IOPS of the model-cache volume. Default 6000.")
    data_volume_throughput_mibps: int = Field(
        default=500, ge=125, le=1000, description="Throughput of the model-cache volume (MiB/s, ≤ IOPS/4). Default 500."
    )
    ami_id: str | None = Field(default=None, description="Pinned AMI id. Default: the latest DLAMI from ami_ssm_parameter.")
    ami_ssm_parameter: str = Field(
        default=aws_boot.DLAMI_SSM_PARAMETER, description="Public SSM parameter of the AMI. Default: DLAMI Base GPU Ubuntu 22.04."
    )
    deletion_protection: bool = Field(default=False, description="Load balancer deletion protection. Default false (true for prod).")
    log_retention_days: int = Field(default=30, ge=1, description="Retention of the server's logs and scraped metrics. Default 30.")
    router: RouterOptions | None = Field(
        default=None,
        description="The vLLM router on every VM (gpu_vm/router_vm.py): the load balancer sends requests to any VM's router, "
        "which picks the VM by policy (cache_aware: whose prefix cache holds the prompt). vLLM servers only. Default none.",
    )
    config_path: str = Field(default="gpu_vm", description="Key path named in error messages. Default 'gpu_vm'.")

    @model_validator(mode="before")
    @classmethod
    def _renamed_fields(cls, data: Any) -> Any:
        return moved_field(data, "AwsGpuVmArgs", "alarm_thresholds", "alert_thresholds")

    @model_validator(mode="after")
    def _check(self) -> AwsGpuVmArgs:
        where = self.config_path
        spec = self.container
        check_instance_types(self.instance_types, spec.resources.gpus, f"{where}.instance_types")
        desired = self.min_size if self.desired_capacity is None else self.desired_capacity
        if not self.min_size <= desired <= self.max_size:
            raise UserError(
                f"{where}: min_size {self.min_size}, desired_capacity {desired}, max_size {self.max_size}; "
                "allowed: min_size ≤ desired_capacity ≤ max_size"
            )
        if self.on_demand_base_capacity > self.max_size:
            raise UserError(f"{where}.on_demand_base_capacity = {self.on_demand_base_capacity}: above max_size {self.max_size}")
        if not self.internal and self.public_subnet_ids is None:
            raise UserError(f"{where}.public_subnet_ids: an internet-facing load balancer (internal: false) needs public subnets")
        for cidr in self.allowed_cidrs:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise UserError(f"{where}.allowed_cidrs = {cidr}: not a CIDR block such as 10.0.0.0/16") from None
            if cidr in _OPEN and self.internal:
                raise UserError(
                    f"{where}.allowed_cidrs = {cidr}: the whole internet is allowed only on an internet-facing "
                    "load balancer (internal: false); give the CIDRs of your clients"
                )
        prefix = self.model_key_prefix
        if not OBJECT_PREFIX.match(prefix):
            raise UserError(
                f"{where}.model_key_prefix = {prefix!r}: give a key prefix like 'llama-3.1-8b/0e9e39f' "
                "(no leading or trailing '/', no wildcards)"
            )
        try:
            model_mount(spec)
            host_path(spec, weights_path(spec))
        except ValueError as err:
            raise UserError(f"{where}.container: {err}") from None
        missing = sorted({v.secret_name for v in spec.env if v.secret_name and v.secret_name not in self.secret_arns})  # type: ignore[misc]
        if missing:
            raise UserError(f"{where}.secret_arns: the server reads secret {missing[0]!r}; map it to its Secrets Manager ARN")
        need_gib = math.ceil(spec.weight_bytes / GIB) + 1
        if self.data_volume_gib is not None and self.data_volume_gib < need_gib:
            raise UserError(f"{where}.data_volume_gib = {self.data_volume_gib}: the weights need at least {need_gib} GiB")
        if self.data_volume_throughput_mibps * 4 > self.data_volume_iops:
            raise UserError(
                f"{where}.data_volume_throughput_mibps = {self.data_volume_throughput_mibps}: gp3 allows at most "
                f"IOPS/4 = {self.data_volume_iops // 4} MiB/s; raise data_volume_iops"
            )
        budget = spec.startup.budget_seconds
        if self.health_check_grace_seconds is not None and not budget <= self.health_check_grace_seconds <= MAX_GRACE_SECONDS:
            raise UserError(
                f"{where}.health_check_grace_seconds = {self.health_check_grace_seconds}: allowed from the server's "
                f"startup budget ({budget} s) to {MAX_GRACE_SECONDS}"
            )
        if self.alert_thresholds.gpu_idle_minutes % 5:
            raise UserError(f"{where}.alert_thresholds.gpu_idle_minutes = {self.alert_thresholds.gpu_idle_minutes}: a multiple of 5")
        if self.schedule is not None:
            for key in ("stop_cron", "start_cron"):
                cron = getattr(self.schedule, key)
                if problem := cron_problem(cron):
                    raise UserError(f"{where}.schedule.{key} = {cron!r}: {problem}")
            if problem := time_zone_problem(self.schedule.time_zone):
                raise UserError(f"{where}.schedule.time_zone = {self.schedule.time_zone}: {problem}")
        return self

    @property
    def desired(self) -> int:
        return self.min_size if self.desired_capacity is None else self.desired_capacity

    @property
    def grace_seconds(self) -> int:
        if self.health_check_grace_seconds is not None:
            return self.health_check_grace_seconds
        return min(MAX_GRACE_SECONDS, ready_within_seconds(self.container))

    @property
    def data_gib(self) -> int:
        if self.data_volume_gib is not None:
            return self.data_volume_gib
        return data_volume_size_gib(self.container.weight_bytes)


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def data_volume_size_gib(weight_bytes: int) -> int:
    """Model cache size: weights × 1.5 (a second revision can land beside the first) + 20 GiB, ≥ 50."""
    return max(50, math.ceil(weight_bytes * 1.5 / GIB) + 20)


def _aws_gpu_families() -> list[str]:
    return sorted({t.name.split(".")[0] for t in INSTANCE_TYPES.values() if t.cloud == "aws"})


def check_instance_types(names: Sequence[str], gpus: int, where: str) -> tuple[InstanceType, ...]:
    """Each name an AWS GPU type of the catalog with at least `gpus` GPUs; one UserError line otherwise."""
    found: list[InstanceType] = []
    for name in names:
        try:
            itype = get_instance_type(name)
        except UserError as err:
            family = name.strip().lower().split(".")[0]
            if re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", name.strip().lower()) and not family.startswith(("g", "p")):
                raise UserError(
                    f"{where} = {name}: not a GPU instance type; AWS GPU families: {', '.join(_aws_gpu_families())} (e.g. g6e.xlarge)"
                ) from None
            raise UserError(f"{where} = {name}: {err}") from None
        if itype.cloud != "aws":
            raise UserError(f"{where} = {name}: a {itype.cloud} instance type; AwsGpuVm takes AWS GPU types (e.g. g6e.xlarge)")
        if itype.accelerator.kind != "gpu":
            raise UserError(f"{where} = {name}: not a GPU instance type")
        if itype.gpu_count < gpus:
            bigger = [
                t
                for t in INSTANCE_TYPES.values()
                if t.cloud == "aws" and t.gpu_count >= gpus and t.accelerator_key == itype.accelerator_key
            ] or [t for t in INSTANCE_TYPES.values() if t.cloud == "aws" and t.gpu_count >= gpus]
            hint = f", e.g. {min(bigger, key=lambda t: (t.price_per_hour, t.name)).name}" if bigger else ""
            raise UserError(
                f"{where} = {name}: {itype.gpu_count} GPU{'s' if itype.gpu_count != 1 else ''}, but the server needs "
                f"{gpus} (its tensor-parallel size); choose a type with at least {gpus} GPUs{hint}"
            )
        if itype in found:
            raise UserError(f"{where} = {name}: listed twice")
        found.append(itype)
    return tuple(found)


def instance_policy(
    *,
    bucket_arn: str,
    key_prefix: str,
    kms_key_arn: str,
    region: str,
    dns_suffix: str = "amazonaws.com",
    secret_arns: Sequence[str] = (),
    secrets_kms_key_arn: str | None = None,
) -> str:
    """The instance role's inline policy: read one S3 prefix and decrypt it with the bucket's key
    (`kms_key_arn`) through S3 only; read the server's own secrets and decrypt them with their key through
    Secrets Manager only. Every data action is scoped to an ARN; none is on '*'."""
    prefix = key_prefix.strip("/")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListModelPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        },
        {"Sid": "ReadModelObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket_arn}/{prefix}/*"},
        {
            "Sid": "DecryptModelThroughS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{dns_suffix}"}},
        },
    ]
    if secret_arns:
        statements += [
            {"Sid": "ReadServerSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": sorted(secret_arns)},
            {
                "Sid": "DecryptSecretsThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": secrets_kms_key_arn or kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.{dns_suffix}"}},
            },
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def lister_policy() -> str:
    """What each VM's router reconciler (`aws_boot.instance_lister`) reads: its group's instances and their private
    addresses. Both actions are read-only and support no resource-level permissions (the Service Authorization
    Reference lists no resource type for autoscaling:DescribeAutoScalingGroups or ec2:DescribeInstances), so
    "*" is the only resource they take; nothing else is granted."""
    statement = {
        "Sid": "ListGroupInstances",
        "Effect": "Allow",
        "Action": ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"],
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def assume_role_policy(service: str = "ec2.amazonaws.com") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        },
        sort_keys=True,
    )


def elb_arn_suffix(arn: str) -> str:
    """The CloudWatch dimension of a load balancer or target group ARN: ``app/<name>/<id>`` or
    ``targetgroup/<name>/<id>`` (the provider's `arn_suffix`, derived here so the plan shows it)."""
    resource = arn.split(":", 5)[-1]
    return resource.removeprefix("loadbalancer/")


def _cidr_key(cidr: str) -> str:
    return re.sub(r"[^0-9a-fA-F]+", "-", cidr).strip("-").lower()


def _managed_policy_arn(partition: str, policy: str) -> str:
    """An AWS managed policy's ARN in the account's partition (aws, aws-cn, aws-us-gov)."""
    return f"arn:{partition}:iam::aws:policy/{policy}"


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Deployment:
    """What every step of AwsGpuVm's constructor reads: the component name, its args and derived facts."""

    name: str
    args: AwsGpuVmArgs
    tags: dict[str, str]
    deployment: str
    """`<stack>/<component name>`, in descriptions and the boot script."""
    port: int
    """The server's HTTP port (the target group's port)."""
    check_port: int
    """The port the load balancer health-checks: the model server's, also with a router (see `_load_balancer`)."""
    routed: bool
    """The vLLM router runs on each VM (`args.router` set and a vLLM server)."""
    traffic_port: int
    """The port the load balancer forwards requests to: the router's, else the server's."""
    secret_names: tuple[str, ...]
    """`args.secret_arns` keys, sorted: the order of the secrets in the policy and the boot script."""


class AwsGpuVm(pulumi.ComponentResource):
    url: pulumi.Output[str]
    asg_name: pulumi.Output[str]
    alb_arn: pulumi.Output[str]
    alb_dns_name: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    alb_security_group_id: pulumi.Output[str]
    instance_security_group_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    """The instances' role (a server secret's resource policy names it)."""

    def __init__(self, name: str, args: AwsGpuVmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AwsGpuVm", name, None, opts)
        spec = args.container
        labels = args.labels.with_method("gpu-vm").with_model(spec.served_name)
        # The same decision the boot script makes (`router_vm.vm_router`): a router only in front of vLLM.
        routed = router_vm.vm_router(spec, args.router, router_vm.InstanceLister((), "")) is not None
        d = _Deployment(
            name=name,
            args=args,
            tags=aws_tags(labels),
            deployment=f"{args.labels.stack}/{name}",
            port=spec.port(spec.http_port).container_port,
            check_port=health_check_port(spec),
            secret_names=tuple(sorted(args.secret_arns)),
            routed=routed,
            traffic_port=router_vm.ROUTER_PORT if routed else spec.port(spec.http_port).container_port,
        )

        # Fail before anything registers if the boot script cannot be rendered or is too big for EC2.
        _check_user_data(args, d.deployment)

        invoke = pulumi.InvokeOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)

        role, profile, grant = self._identity(d, identity, partition)
        alb_sg, instance_sg = self._network(d)
        template = self._launch_template(d, profile, instance_sg)
        alb, target_group = self._load_balancer(d, alb_sg)
        group_name = self._scaling(d, template, target_group, grant)
        alb_suffix = alb.arn.apply(elb_arn_suffix)
        tg_suffix = target_group.arn.apply(elb_arn_suffix)
        self._scaling_policies(d, group_name, alb_suffix, tg_suffix)
        self._alarms(d, group_name, alb_suffix, tg_suffix)

        scheme = "https" if args.certificate_arn is not None else "http"
        self.url = alb.dns_name.apply(lambda dns: f"{scheme}://{dns}")
        self.asg_name = group_name
        self.alb_arn = alb.arn
        self.alb_dns_name = alb.dns_name
        self.target_group_arn = target_group.arn
        self.alb_security_group_id = alb_sg.id
        self.instance_security_group_id = instance_sg.id
        self.role_arn = role.arn
        self.register_outputs(
            {
                "url": self.url,
                "asg_name": self.asg_name,
                "alb_arn": self.alb_arn,
                "alb_dns_name": self.alb_dns_name,
                "target_group_arn": self.target_group_arn,
                "alb_security_group_id": self.alb_security_group_id,
                "instance_security_group_id": self.instance_security_group_id,
            }
        )

    # ---- steps of the constructor, in creation order ---------------------------------------------

    def _identity(self, d: _Deployment, identity: Any, partition: Any) -> tuple[aws.iam.Role, aws.iam.InstanceProfile, aws.kms.Grant]:
        """The instances' role, its policies and profile, and Auto Scaling's grant on the volume key."""
        name, args, tags = d.name, d.args, d.tags
        here = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            child(name, "role"),
            description=f"pulumi-llm GPU VM {d.deployment}",
            assume_role_policy=assume_role_policy(),
            tags=tags,
            opts=here,
        )
        for role_name, policy in (("ssm", "AmazonSSMManagedInstanceCore"), ("cloudwatch-agent", "CloudWatchAgentServerPolicy")):
            aws.iam.RolePolicyAttachment(
                child(name, role_name),
                role=role.id,  # a role's id is its name; the plan then records which role it is
                policy_arn=partition.partition.apply(functools.partial(_managed_policy_arn, policy=policy)),
                opts=here,
            )
        # The weights are decrypted with the bucket's own key, which need not be the stack key.
        policy_inputs = pulumi.Output.all(
            args.model_bucket_arn,
            args.model_kms_key_arn or args.kms_key_arn,
            args.secrets_kms_key_arn or args.kms_key_arn,
            partition.dns_suffix,
            *(args.secret_arns[s] for s in d.secret_names),
        )
        aws.iam.RolePolicy(
            child(name, "model-read"),
            role=role.id,
            policy=policy_inputs.apply(
                lambda v: instance_policy(
                    bucket_arn=v[0],
                    key_prefix=args.model_key_prefix,
                    kms_key_arn=v[1],
                    secrets_kms_key_arn=v[2],
                    region=args.region,
                    dns_suffix=v[3],
                    secret_arns=v[4:],
                )
            ),
            opts=here,
        )
        if d.routed:
            aws.iam.RolePolicy(child(name, "router-list"), role=role.id, policy=lister_policy(), opts=here)
        profile = aws.iam.InstanceProfile(child(name, "profile"), role=role.id, tags=tags, opts=here)
        # Auto Scaling launches the instances with its service-linked role; with a customer key on the
        # volumes that role needs a grant (or a key-policy statement) or every launch fails.
        grant = aws.kms.Grant(
            child(name, "ebs-grant"),
            key_id=args.kms_key_arn,
            grantee_principal=pulumi.Output.all(partition.partition, identity.account_id).apply(
                lambda v: f"arn:{v[0]}:iam::{v[1]}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
            ),
            operations=list(AUTOSCALING_GRANT_OPERATIONS),
            opts=here,
        )
        return role, profile, grant

    def _network(self, d: _Deployment) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """The load balancer's and the instances' security groups and their rules."""
        name, args, tags = d.name, d.args, d.tags
        here = pulumi.ResourceOptions(parent=self)
        alb_sg = aws.ec2.SecurityGroup(
            child(name, "alb-sg"),
            description=f"pulumi-llm {d.deployment}: load balancer",
            vpc_id=args.vpc_id,
            tags={**tags, "Name": f"{name}-alb"},
            opts=here,
        )
        instance_sg = aws.ec2.SecurityGroup(
            child(name, "instance-sg"),
            description=f"pulumi-llm {d.deployment}: GPU instances",
            vpc_id=args.vpc_id,
            tags={**tags, "Name": f"{name}-instances"},
            opts=here,
        )
        listener_ports = (443, 80) if args.certificate_arn is not None else (80,)
        for listener_port in listener_ports:
            for cidr in args.allowed_cidrs:
                ipv6 = ":" in cidr
                aws.vpc.SecurityGroupIngressRule(
                    child(name, f"alb-in-{listener_port}-{_cidr_key(cidr)}"),
                    security_group_id=alb_sg.id,
                    description=f"clients on {listener_port}",
                    ip_protocol="tcp",
                    from_port=listener_port,
                    to_port=listener_port,
                    cidr_ipv6=cidr if ipv6 else None,
                    cidr_ipv4=None if ipv6 else cidr,
                    opts=here,
                )
        for server_port in sorted({d.traffic_port, d.check_port}):
            # With the router, the load balancer's requests go to the router's port and only its health checks
            # to the model server's (`_load_balancer`); the server's port is otherwise the routers' (below).
            role_text = "routers" if server_port == router_vm.ROUTER_PORT and d.routed else "model servers"
            health_only = d.routed and server_port != d.traffic_port
            allow_tcp_between(
                egress_name=child(name, f"alb-out-{server_port}"),
                ingress_name=child(name, f"instance-in-{server_port}"),
                source=alb_sg.id,
                target=instance_sg.id,
                port=server_port,
                egress_description="health checks of the model servers" if health_only else f"to the {role_text}",
                ingress_description="health checks from the load balancer only" if health_only else "from the load balancer only",
                opts=here,
            )
        if d.routed:
            # Each VM's router sends requests to the model server of any VM of the group (itself included).
            allow_tcp_between(
                egress_name=child(name, f"router-out-{d.port}"),
                ingress_name=child(name, f"router-in-{d.port}"),
                source=instance_sg.id,
                target=instance_sg.id,
                port=d.port,
                egress_description="routers to the group's model servers",
                ingress_description="from the group's routers only",
                opts=here,
            )
        # Registries, S3, Secrets Manager, CloudWatch, SSM; with the router also PyPI (or its mirror), from which the
        # router's pinned wheel is installed at boot, and the Auto Scaling/EC2 APIs its reconciler lists the group with.
        allow_https_out(
            child(name, "instance-out-https"),
            security_group=instance_sg.id,
            description="HTTPS to AWS APIs and image registries",
            opts=here,
        )
        return alb_sg, instance_sg

    def _launch_template(
        self, d: _Deployment, profile: aws.iam.InstanceProfile, instance_sg: aws.ec2.SecurityGroup
    ) -> aws.ec2.LaunchTemplate:
        """The log group, the boot script and the launch template of the GPU instances."""
        name, args, tags, spec = d.name, d.args, d.tags, d.args.container
        here = pulumi.ResourceOptions(parent=self)
        # Server logs can hold request metadata: encrypted with the stack key (whose policy admits
        # CloudWatch Logs of this account).
        log_group = aws.cloudwatch.LogGroup(
            child(name, "logs"), retention_in_days=args.log_retention_days, kms_key_id=args.kms_key_arn, tags=tags, opts=here
        )
        user_data = pulumi.Output.all(
            args.model_bucket_arn, log_group.name, instance_sg.id, *(args.secret_arns[s] for s in d.secret_names)
        ).apply(
            lambda v: base64.b64encode(
                _gzip(
                    aws_boot.aws_user_data(
                        spec,
                        bucket_arn=v[0],
                        key_prefix=args.model_key_prefix,
                        region=args.region,
                        log_group=v[1],
                        deployment=d.deployment,
                        revision=args.weights_revision,
                        secret_arns=dict(zip(d.secret_names, v[3:], strict=False)),
                        router=args.router if d.routed else None,
                        group_tags=d.tags,
                        security_group_id=v[2],
                    )
                )
            ).decode()
        )
        ami = args.ami_id or aws.ssm.get_parameter_output(name=args.ami_ssm_parameter, opts=pulumi.InvokeOptions(parent=self)).value

        def volume(size: int) -> aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgsDict:
            return {
                "volume_size": size,
                "volume_type": "gp3",
                "encrypted": "true",
                "kms_key_id": args.kms_key_arn,
                "delete_on_termination": "true",
            }

        data_volume = volume(args.data_gib)
        data_volume["iops"] = args.data_volume_iops
        data_volume["throughput"] = args.data_volume_throughput_mibps

        return aws.ec2.LaunchTemplate(
            child(name, "launch-template"),
            description=f"pulumi-llm {d.deployment}: {spec.served_name} ({spec.runtime})",
            image_id=ami,
            update_default_version=True,
            iam_instance_profile={"arn": profile.arn},
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {"device_name": ROOT_DEVICE, "ebs": volume(args.root_volume_gib)},
                {"device_name": DATA_DEVICE, "ebs": data_volume},
            ],
            network_interfaces=[
                {
                    "device_index": 0,
                    "associate_public_ip_address": "false",
                    "delete_on_termination": "true",
                    "security_groups": [instance_sg.id],
                }
            ],
            ebs_optimized="true",
            monitoring={"enabled": True},
            user_data=user_data,
            tag_specifications=[
                {"resource_type": "instance", "tags": {**tags, "Name": f"{name}-{spec.served_name}"}},
                {"resource_type": "volume", "tags": tags},
            ],
            tags=tags,
            opts=here,
        )

    def _load_balancer(self, d: _Deployment, alb_sg: aws.ec2.SecurityGroup) -> tuple[aws.lb.LoadBalancer, aws.lb.TargetGroup]:
        """The application load balancer, its target group and listeners (HTTPS with a redirect, or HTTP)."""
        name, args, tags = d.name, d.args, d.tags
        here = pulumi.ResourceOptions(parent=self)
        alb = aws.lb.LoadBalancer(
            child(name, "alb"),
            load_balancer_type="application",
            internal=args.internal,
            subnets=args.private_subnet_ids if args.internal else args.public_subnet_ids,
            security_groups=[alb_sg.id],
            idle_timeout=args.idle_timeout_seconds,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            enable_http2=True,
            tags=tags,
            opts=here,
        )
        # With the router the targets' traffic port is the router's, while the health check stays on the model server
        # (vLLM /health on its own port): Auto Scaling's health is the target group's (ELB health checks), and AWS has
        # no second check for it, so this keeps autohealing on the model server. The trade-off: a VM whose router is
        # down but whose server is up still gets requests (502) until systemd restarts the router (seconds); the
        # router's /readiness would instead pass on a VM whose own server is dead (any healthy worker suffices).
        target_group = aws.lb.TargetGroup(
            child(name, "tg"),
            port=d.traffic_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.vpc_id,
            # Generations vary from milliseconds to minutes: send each request to the least busy server.
            load_balancing_algorithm_type="least_outstanding_requests",
            # Scale-in and instance refresh wait this long before terminating: the longest stream (cloud_init.py).
            deregistration_delay=args.deregistration_delay_seconds
            if args.deregistration_delay_seconds is not None
            else cloud_init.lb_drain_seconds(args.container),
            health_check={
                "enabled": True,
                "protocol": "HTTP",
                "path": health_check_path(args.container),
                "port": "traffic-port" if d.check_port == d.traffic_port else str(d.check_port),
                "matcher": "200",
                "interval": 15,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            tags=tags,
            opts=here,
        )
        forward: list[aws.lb.ListenerDefaultActionArgsDict] = [{"type": "forward", "target_group_arn": target_group.arn}]
        # With the router, its worker routes (/add_worker, /remove_worker, /workers) are unauthenticated and on the
        # same port: the listener forwards the OpenAI API only (`router_vm.FORWARDED_PREFIX`), anything else gets 404.
        not_found: list[aws.lb.ListenerDefaultActionArgsDict] = [
            {"type": "fixed-response", "fixed_response": {"content_type": "text/plain", "status_code": "404"}}
        ]
        default = not_found if d.routed else forward
        if args.certificate_arn is not None:
            serving = aws.lb.Listener(
                child(name, "https"),
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=default,
                tags=tags,
                opts=here,
            )
            aws.lb.Listener(
                child(name, "http"),
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}],
                tags=tags,
                opts=here,
            )
        else:
            # No certificate given: plain HTTP. Acceptable only on an internal load balancer inside a
            # trusted network (prompts and API keys cross it in clear); give certificate_arn otherwise.
            serving = aws.lb.Listener(
                child(name, "http"),
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=default,
                tags=tags,
                opts=here,
            )
        if d.routed:
            aws.lb.ListenerRule(
                child(name, "api"),
                listener_arn=serving.arn,
                priority=10,
                conditions=[{"path_pattern": {"values": [router_vm.FORWARDED_PREFIX + "*"]}}],
                actions=[{"type": "forward", "target_group_arn": target_group.arn}],
                tags=tags,
                opts=here,
            )
        return alb, target_group

    def _scaling(
        self, d: _Deployment, template: aws.ec2.LaunchTemplate, target_group: aws.lb.TargetGroup, grant: aws.kms.Grant
    ) -> pulumi.Output[str]:
        """The Auto Scaling group (mixed on-demand/spot, rolling refresh); returns its name."""
        name, args, tags = d.name, d.args, d.tags
        grace = args.grace_seconds
        asg = aws.autoscaling.Group(
            child(name, "asg"),
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired,
            vpc_zone_identifiers=args.private_subnet_ids,
            target_group_arns=[target_group.arn],
            health_check_type="ELB",
            health_check_grace_period=grace,
            default_instance_warmup=grace,
            capacity_rebalance=True,
            mixed_instances_policy={
                "instances_distribution": {
                    "on_demand_base_capacity": args.on_demand_base_capacity,
                    "on_demand_percentage_above_base_capacity": 100 - args.spot_percentage_above_base,
                    "on_demand_allocation_strategy": "prioritized",
                    "spot_allocation_strategy": "price-capacity-optimized",
                },
                "launch_template": {
                    "launch_template_specification": {
                        "launch_template_id": template.id,
                        "version": template.latest_version.apply(str),
                    },
                    "overrides": [{"instance_type": t} for t in args.instance_types],
                },
            },
            instance_refresh={
                "strategy": "Rolling",
                # GPUs are scarce: launch the replacement before terminating, never drop below today.
                "preferences": {
                    "min_healthy_percentage": 100,
                    "max_healthy_percentage": 200,
                    "instance_warmup": str(grace),
                    "skip_matching": True,
                },
            },
            enabled_metrics=[
                aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
                aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
                aws.autoscaling.Metric.GROUP_PENDING_INSTANCES,
                aws.autoscaling.Metric.GROUP_TOTAL_INSTANCES,
            ],
            # Capacity for GPU types (spot above all) can take long; Pulumi does not wait for it.
            wait_for_capacity_timeout="0",
            tags=[
                {"key": k, "value": v, "propagate_at_launch": True}
                for k, v in sorted({**tags, "Name": f"{name}-{args.container.served_name}"}.items())
            ],
            # Target tracking and the schedules own the desired count once the group exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant], ignore_changes=["desiredCapacity"]),
        )
        return asg.id  # an Auto Scaling group's id is its name

    def _scaling_policies(
        self, d: _Deployment, group_name: pulumi.Output[str], alb_suffix: pulumi.Output[str], tg_suffix: pulumi.Output[str]
    ) -> None:
        """Target tracking on requests per instance, and the stop/start schedule when one is set."""
        name, args = d.name, d.args
        here = pulumi.ResourceOptions(parent=self)
        aws.autoscaling.Policy(
            child(name, "requests-per-target"),
            autoscaling_group_name=group_name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=args.grace_seconds,
            target_tracking_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": "ALBRequestCountPerTarget",
                    "resource_label": pulumi.Output.all(alb_suffix, tg_suffix).apply(lambda v: f"{v[0]}/{v[1]}"),
                },
                "target_value": args.requests_per_instance_per_minute,
            },
            opts=here,
        )
        if args.schedule is not None:
            for role_name, recurrence, low, high, want in (
                ("stop", args.schedule.stop_cron, 0, 0, 0),
                ("start", args.schedule.start_cron, args.min_size, args.max_size, args.desired),
            ):
                aws.autoscaling.Schedule(
                    child(name, role_name),
                    scheduled_action_name=f"{dns_label(name)}-{role_name}",
                    autoscaling_group_name=group_name,
                    recurrence=recurrence,
                    time_zone=args.schedule.time_zone,
                    min_size=low,
                    max_size=high,
                    desired_capacity=want,
                    opts=here,
                )

    def _alarms(
        self, d: _Deployment, group_name: pulumi.Output[str], alb_suffix: pulumi.Output[str], tg_suffix: pulumi.Output[str]
    ) -> None:
        """CloudWatch alarms on the load balancer and the GPUs of the group."""
        name, args = d.name, d.args
        thresholds = args.alert_thresholds
        key = dns_label(name)
        definitions = cloudwatch.alb_alarms(
            key,
            load_balancer=alb_suffix,
            target_group=tg_suffix,
            latency_slo_seconds=thresholds.latency_p99_seconds,
            errors_per_minute=thresholds.errors_per_minute,
        ) + cloudwatch.gpu_asg_alarms(
            key,
            asg_name=group_name,
            idle_percent=thresholds.gpu_idle_percent,
            idle_minutes=thresholds.gpu_idle_minutes,
            memory_percent=thresholds.gpu_memory_percent,
        )
        if d.routed:
            # The group's routers with no worker (or silent): its VMs answer 502 though the ALB sees them healthy.
            definitions += cloudwatch.router_worker_alarms(
                key,
                asg_name=group_name,
                deployment=d.deployment,
                namespace=aws_boot.SERVER_METRICS_NAMESPACE,
                grace_seconds=args.grace_seconds,
            )
        cloudwatch.check_alarms(definitions)
        actions = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
        for definition in definitions:
            settings = {k: v for k, v in definition.items() if k not in ("key", "title")}
            aws.cloudwatch.MetricAlarm(
                child(name, "alarm-" + definition["key"].removeprefix(key + "-")),
                alarm_actions=actions,
                ok_actions=actions,
                tags=d.tags,
                opts=pulumi.ResourceOptions(parent=self),
                **settings,
            )


def _gzip(text: str) -> bytes:
    """The user data as EC2 gets it: gzip (cloud-init detects and unpacks it), with no timestamp, so the same script
    always gives the same bytes and the launch template changes only when the script does."""
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def _check_user_data(args: AwsGpuVmArgs, deployment: str) -> None:
    """Render the boot script with the longest plausible ids and check EC2's 16 KB limit (on the gzipped bytes)."""
    placeholder = {s: "arn:aws:secretsmanager:" + "x" * 20 + ":123456789012:secret:" + "x" * 64 for s in args.secret_arns}
    text = aws_boot.aws_user_data(
        args.container,
        bucket_arn="arn:aws:s3:::" + "b" * 63,
        key_prefix=args.model_key_prefix,
        region=args.region,
        log_group="x" * 128,
        deployment=deployment,
        revision=args.weights_revision,
        secret_arns=placeholder,
        router=args.router,
        group_tags={key: "x" * 128 for key in aws_boot.GROUP_TAGS},
        security_group_id="sg-" + "0" * 17,
    )
    size = len(_gzip(text))
    if size > USER_DATA_LIMIT:
        raise UserError(
            f"{args.config_path}.container: the boot script is {size} bytes gzipped, above EC2's "
            f"{USER_DATA_LIMIT}-byte user-data limit (large config mounts?)"
        )


# Names before 0.2.0 (docs/ARCHITECTURE.md, "Names"): served with a DeprecationWarning until 0.3.0.
__getattr__ = module_aliases(
    __name__,
    globals(),
    {
        "AlarmThresholds": "GpuVmAlertThresholds",
    },
)
