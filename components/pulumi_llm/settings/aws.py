"""Settings of the AWS methods (`aws`): the VPC, GPU VMs, EKS, model TLS and alarms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ..deprecated import module_aliases
from ..errors import FieldProblem, UserError
from ..validation import ACM_CERTIFICATE_ARN as _ACM_ARN
from ..validation import MODEL_DOMAIN as _DNS_NAME
from ..validation import Cidr
from .cloud_rules import CloudRules
from .core import CLOUD_FOUNDATION, StrictModel

if TYPE_CHECKING:  # root.py imports this module; the checks only read the Settings they are given
    from .root import Settings


class AwsNetworkSettings(StrictModel):
    """The VPC every AWS method runs in."""

    cidr: Cidr = Field(default="10.40.0.0/16", description="VPC CIDR, a private /16 to /20. Default 10.40.0.0/16.")
    az_count: int = Field(default=2, ge=2, le=6, description="Availability zones (3 or more in prod). Default 2.")
    nat_per_az: bool = Field(default=False, description="One NAT gateway per zone (prod) instead of one in all. Default false.")
    flow_logs_retention_days: int = Field(default=30, ge=1, le=3653, description="Days VPC flow logs are kept. Default 30.")


class AwsScaleSchedule(StrictModel):
    """Scheduled scale to zero (dev): stop at night, start in the morning."""

    stop: str = Field(description="Cron (UTC unless time_zone) when capacity goes to zero, e.g. `0 20 * * MON-FRI`.")
    start: str = Field(description="Cron when capacity comes back, e.g. `0 7 * * MON-FRI`.")
    time_zone: str = Field(default="UTC", description="IANA time zone of the crons. Default UTC.")


class AwsGpuVmSettings(StrictModel):
    """GPU instances in an Auto Scaling group behind a load balancer."""

    on_demand_base: int = Field(default=0, ge=0, le=1000, description="On-demand instances before spot is used. Default 0.")
    spot_percentage: int = Field(
        default=100, ge=0, le=100, description="Share of capacity above the base that is spot. Default 100 (prod needs an on-demand base)."
    )
    schedule: AwsScaleSchedule | None = Field(default=None, description="Scale to zero on a schedule. Default: none (always on).")
    internet_facing: bool = Field(default=False, description="Internet-facing load balancer instead of internal. Default false.")
    allowed_cidrs: list[Cidr] = Field(default_factory=list, description="CIDRs allowed to reach the load balancer. Default: the VPC only.")
    certificate_arn: str | None = Field(
        default=None, description="ACM certificate for HTTPS (TLS 1.2+). Default: none (HTTP inside the VPC)."
    )
    idle_timeout_seconds: int = Field(
        default=3600, ge=60, le=4000, description="Load-balancer idle timeout, longer than the longest stream. Default 3600."
    )
    requests_per_target: int = Field(
        default=20, ge=1, le=1_000_000, description="Target tracking: requests per instance per minute. Default 20."
    )


class AwsClusterSettings(StrictModel):
    """EKS with GPU capacity."""

    kubernetes_version: str | None = Field(default=None, description="EKS Kubernetes version. Default: the pinned version.")
    gpu_capacity: Literal["karpenter", "node-group"] = Field(
        default="karpenter", description="Karpenter NodePool (families, spot and on-demand) or a managed GPU node group. Default karpenter."
    )
    gpu_instance_families: list[str] = Field(
        default_factory=lambda: ["g6e", "g6"], description="Karpenter: GPU instance families. Default g6e, g6."
    )
    gpu_instance_types: list[str] = Field(
        default_factory=list, description="Node group: GPU instance types. Default: the model's instance type."
    )
    capacity_types: list[Literal["spot", "on-demand"]] = Field(
        default_factory=lambda: ["spot", "on-demand"], description="Capacity types for GPU nodes. Default spot and on-demand."
    )
    max_gpus: int = Field(default=16, ge=1, le=10_000, description="Most GPUs the GPU capacity may hold. Default 16.")
    endpoint_public: bool = Field(default=False, description="Public API endpoint (never in prod). Default false.")
    public_access_cidrs: list[Cidr] = Field(default_factory=list, description="CIDRs allowed to the public endpoint.")
    admin_principals: list[str] = Field(
        default_factory=list, description="IAM principal ARNs given cluster-admin access entries. Default: none."
    )
    ingress: Literal["internal", "internet-facing"] = Field(
        default="internal", description="ALB scheme of the model Ingress. Default internal."
    )
    prometheus: Literal["kube-prometheus-stack", "amp"] = Field(
        default="kube-prometheus-stack", description="In-cluster Prometheus or Amazon Managed Prometheus. Default kube-prometheus-stack."
    )


class AwsModelTlsSettings(StrictModel):
    """HTTPS from the gateway to the self-hosted models: each model answers at `<model>.<domain>` on 443, with
    a certificate its load balancer presents and a DNS record pulumi-llm writes, so the engine can verify it."""

    domain: str = Field(
        description="DNS domain of the model endpoints, e.g. models.internal.example.com: a model answers at <model>.<domain>. Required."
    )
    certificate_arn: str = Field(description="ACM certificate in the stack's region that covers *.<domain>. Required.")
    zone_id: str = Field(
        description="Route 53 hosted zone of the domain (a private zone associated with the stack's VPC): one CNAME per model. Required."
    )


class AwsSettings(StrictModel):
    """Settings of the AWS methods."""

    network: AwsNetworkSettings = Field(default_factory=AwsNetworkSettings, description="The VPC.")
    gpu_vm: AwsGpuVmSettings = Field(default_factory=AwsGpuVmSettings, description="The gpu-vm method.")
    cluster: AwsClusterSettings = Field(default_factory=AwsClusterSettings, description="The cluster method (EKS).")
    alert_emails: list[str] = Field(
        default_factory=list,
        description="E-mail receivers of the alerts, subscribed to the alarm topic (AWS mails each a confirmation link first). "
        "Default none.",
    )
    model_tls: AwsModelTlsSettings | None = Field(
        default=None,
        description="HTTPS to the self-hosted models (gpu-vm load balancers, EKS model ALBs) under a domain. "
        "Default: none (HTTP on 80 inside the VPC: prompts cross it in clear).",
    )


def check_aws_stack(settings: Settings) -> None:
    """The AWS rules that read more than the aws subtree: the region, prod spread and capacity, model TLS."""
    from ..sizing import check_region

    try:
        check_region("aws", settings.region or "")
    except UserError as err:
        raise FieldProblem("region", str(err)) from None
    aws = settings.aws
    _check_model_tls(settings)
    if settings.environment == "prod" and ("gpu-vm" in settings.methods or "cluster" in settings.methods):
        if aws.network.az_count < 3:
            raise FieldProblem("aws.network.az_count", "prod spreads over at least 3 availability zones")
        if "gpu-vm" in settings.methods and aws.gpu_vm.on_demand_base == 0 and aws.gpu_vm.spot_percentage == 100:
            raise FieldProblem(
                "aws.gpu_vm.spot_percentage",
                "prod can't run on spot alone: set aws.gpu_vm.on_demand_base >= 1 or a spot_percentage below 100",
            )
        if "cluster" in settings.methods and aws.cluster.capacity_types == ["spot"]:
            raise FieldProblem("aws.cluster.capacity_types", "prod can't run on spot alone: add on-demand")
        if aws.cluster.endpoint_public and "cluster" in settings.methods:
            raise FieldProblem("aws.cluster.endpoint_public", "prod keeps the EKS API endpoint private")


def _check_model_tls(settings: Settings) -> None:
    aws, tls = settings.aws, settings.aws.model_tls
    if tls is None:
        if "gpu-vm" in settings.methods and aws.gpu_vm.certificate_arn and settings.routes_self_hosted():
            raise FieldProblem(
                "aws.gpu_vm.certificate_arn",
                "the gateway would call https://<load balancer DNS name>, which no ACM certificate covers; "
                "set aws.model_tls (domain, certificate_arn, zone_id) instead",
            )
        return
    if not _DNS_NAME.match(tls.domain):
        raise FieldProblem("aws.model_tls.domain", f"{tls.domain!r} is not a DNS name such as models.internal.example.com")
    match = _ACM_ARN.match(tls.certificate_arn)
    if match is None:
        raise FieldProblem("aws.model_tls.certificate_arn", "an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<id>")
    if match.group("region") != settings.region:
        raise FieldProblem(
            "aws.model_tls.certificate_arn", f"is in {match.group('region')}; the load balancers need one in {settings.region}"
        )
    if aws.gpu_vm.certificate_arn and aws.gpu_vm.certificate_arn != tls.certificate_arn:
        raise FieldProblem("aws.gpu_vm.certificate_arn", "the load balancers use aws.model_tls.certificate_arn; give one certificate")


RENAMED = {
    "GpuVmSettings": "AwsGpuVmSettings",
    "ClusterSettings": "AwsClusterSettings",
    "ModelTlsSettings": "AwsModelTlsSettings",
    "ScaleSchedule": "AwsScaleSchedule",
}
"""Names before 0.2.0 (docs/ARCHITECTURE.md, "Names") → now; served with a DeprecationWarning until 0.3.0,
here and by the settings package."""
__getattr__ = module_aliases(__name__, globals(), RENAMED)


GATEWAY_FOUNDATION = (*CLOUD_FOUNDATION, "gateway")
"""The methods that build the AWS stack's key, network and alarm topic (platform/aws.decide_foundation): the
self-hosting ones, and the gateway, whose tasks run in the stack's VPC and alarm to its topic, so a gateway-only
stack reads aws.network and aws.alert_emails too."""

RULES = CloudRules(
    cloud="aws",
    source_schemes={"gpu-vm": ("store", "s3"), "cluster": ("store", "s3", "pvc"), "edge": ("node",)},
    read_by={
        "aws.network": GATEWAY_FOUNDATION,
        "aws.gpu_vm": ("gpu-vm",),
        "aws.cluster": ("cluster",),
        "aws.model_tls": CLOUD_FOUNDATION,
        "aws.alert_emails": GATEWAY_FOUNDATION,
    },
)
"""This cloud's rows of the model-source and key-effect tables (settings/cloud_registry.py)."""
