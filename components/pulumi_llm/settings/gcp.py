"""Settings of the GCP methods (`gcp`): the project, the alerts' receivers (`alert_emails`), and one subtree per method as on AWS and Azure —
`network`, `gpu_vm`, `cluster` (GKE) and `gateway` (its domains and egress subnet)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from ..errors import FieldProblem, UserError
from ..validation import Cidr, Email, described
from .cloud_rules import CloudRules
from .core import CLOUD_FOUNDATION, StrictModel

if TYPE_CHECKING:  # root.py imports this module; the checks only read the Settings they are given
    from .root import Settings


class GcpNetworkSettings(StrictModel):
    """The VPC every self-hosting GCP method runs in (network.gcp.GcpNetwork)."""

    subnet_cidr: Cidr = Field(default="10.40.0.0/20", description="Private subnet of the workloads. Default 10.40.0.0/20.")


class GcpGpuVmSettings(StrictModel):
    """GPU VMs in a regional managed instance group behind an internal load balancer (gpu_vm.gcp.GcpGpuVm)."""

    spot: bool = Field(default=False, description="GPU VMs on spot capacity (dev). Default false.")


class GcpGpuPoolSettings(StrictModel):
    """A GKE GPU node pool family: spot nodes first, on-demand as the fallback."""

    machine_type: str = Field(default="g2-standard-24", description="Machine type (g2 L4, a2 A100, a3 H100). Default g2-standard-24.")
    spot_max_nodes: int = Field(default=2, ge=0, le=50, description="Most spot nodes. Default 2.")
    on_demand_max_nodes: int = Field(default=1, ge=0, le=50, description="Most on-demand nodes. Default 1.")


class GcpClusterSettings(StrictModel):
    """GKE with GPU capacity (cluster.gke.GkeCluster)."""

    mode: Literal["standard", "autopilot"] = Field(default="standard", description="GKE Standard or Autopilot. Default standard.")
    gpu_pool: GcpGpuPoolSettings = Field(default_factory=GcpGpuPoolSettings, description="GKE GPU capacity.")
    prometheus: Literal["kube-prometheus-stack", "managed"] = Field(
        default="kube-prometheus-stack",
        description="In-cluster Prometheus or Managed Service for Prometheus. Default kube-prometheus-stack.",
    )
    router: Literal["vllm", "gateway-inference-extension"] = Field(
        default="vllm",
        description="What routes to each vLLM model's replicas: vllm (the vLLM router, `serving.router`) or "
        "gateway-inference-extension (an InferencePool and endpoint picker behind a GKE internal Gateway, whose address "
        "the gateway calls; kubernetes/inference_gateway.py). Default vllm.",
    )


class GcpGatewaySettings(StrictModel):
    """The gateway on Cloud Run behind a global HTTPS load balancer (gateway.gcp.GcpGateway)."""

    domains: list[str] = Field(default_factory=list, description="Domains of the gateway's managed certificate. Required with the gateway.")
    subnet_cidr: Cidr = Field(
        default="10.40.18.0/26",
        description="Subnet of the gateway's Cloud Run Direct VPC egress, made when it routes to self-hosted models "
        "(/26 or larger, outside gcp.network.subnet_cidr). Default 10.40.18.0/26.",
    )


class GcpSettings(StrictModel):
    """Settings of the GCP methods."""

    project: str = Field(
        pattern=described(
            r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", "a GCP project id: 6-30 lower-case letters, digits and '-', starting with a letter"
        ),
        description="GCP project id. Required on GCP.",
    )
    network: GcpNetworkSettings = Field(default_factory=GcpNetworkSettings, description="The VPC.")
    gpu_vm: GcpGpuVmSettings = Field(default_factory=GcpGpuVmSettings, description="The gpu-vm method.")
    cluster: GcpClusterSettings = Field(default_factory=GcpClusterSettings, description="The cluster method (GKE).")
    gateway: GcpGatewaySettings = Field(default_factory=GcpGatewaySettings, description="The gateway method (Cloud Run).")
    alert_emails: list[Email] = Field(
        default_factory=list,
        description="E-mail receivers of the alerts: one Cloud Monitoring notification channel each, which every alert "
        "policy of the stack (gateway, GPU VMs) notifies. Default none: the alerts notify nobody.",
    )

    @field_validator("alert_emails")
    @classmethod
    def _one_channel_per_address(cls, value: list[str]) -> list[str]:
        # Two channels to one address mail every incident twice.
        repeated = sorted({email for email in value if value.count(email) > 1})
        if repeated:
            raise ValueError(f"repeats {', '.join(repeated)}: give each address once")
        return value


def check_gcp_stack(settings: Settings) -> None:
    """The GCP rules that read more than the gcp subtree: the region, the gateway's domains and egress subnet."""
    from ..sizing import check_region

    if settings.gcp is None:
        raise FieldProblem("gcp", "required on cloud gcp (at least gcp.project)")
    try:
        check_region("gcp", settings.region or "")
    except UserError as err:
        raise FieldProblem("region", str(err)) from None
    gateway, network = settings.gcp.gateway, settings.gcp.network
    if "gateway" in settings.methods and not gateway.domains:
        raise FieldProblem("gcp.gateway.domains", "required with the gateway (its HTTPS load balancer's certificate)")
    if settings.routes_self_hosted():
        import ipaddress

        # Cloud Run's Direct VPC egress subnet beside the workload subnet (the network checks the rest). Both are
        # validation.Cidr: the schema has parsed them already.
        egress = ipaddress.ip_network(gateway.subnet_cidr)
        if egress.version != 4 or not 16 <= egress.prefixlen <= 26:
            raise FieldProblem("gcp.gateway.subnet_cidr", "an IPv4 /16 to /26 (Cloud Run Direct VPC egress needs a /26 or larger)")
        if egress.overlaps(ipaddress.ip_network(network.subnet_cidr)):
            from .pairs import Side, decide_conflict

            raise FieldProblem(
                *decide_conflict(
                    Side("gcp.network.subnet_cidr", network.subnet_cidr, "subnet_cidr" in network.model_fields_set),
                    Side("gcp.gateway.subnet_cidr", gateway.subnet_cidr, "subnet_cidr" in gateway.model_fields_set),
                    "overlaps",
                    "the workload subnet and Cloud Run's egress subnet must not share addresses",
                )
            )
    elif "subnet_cidr" in gateway.model_fields_set:
        # Not a READ_BY row (checks_effect): what reads it is a route to a self-hosted model, not a method — gcp-dev
        # enables gpu-vm and a gateway that routes to providers only, and the subnet is never made.
        raise FieldProblem(
            "gcp.gateway.subnet_cidr",
            "has no effect: read only when the gateway routes to a self-hosted model (Cloud Run's egress subnet to them); remove it",
        )


ALERTING = ("gateway", "gpu-vm")
"""The GCP methods that make Cloud Monitoring alert policies (gateway.gcp, gpu_vm.gcp), so read gcp.alert_emails.
GKE's alerts are Prometheus rules inside the cluster, not alert policies."""

RULES = CloudRules(
    cloud="gcp",
    source_schemes={"gpu-vm": ("store",), "cluster": ("store", "pvc")},
    read_by={
        "gcp.network": CLOUD_FOUNDATION,
        "gcp.gpu_vm": ("gpu-vm",),
        "gcp.cluster": ("cluster",),
        "gcp.gateway": ("gateway",),
        "gcp.alert_emails": ALERTING,
    },
)
"""This cloud's rows of the model-source and key-effect tables (settings/cloud_registry.py)."""
