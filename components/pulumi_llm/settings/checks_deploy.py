"""The values the components would refuse, decided from the settings before the first resource registers.

A component checks its own args (a VPC range, an e-mail, an IAM ARN, a cron, a CIDR), but it runs after the
program has registered the resources before it: in `pulumi up` those are real creates, and its message names
the component's argument, not the key the user wrote. `settings.load` runs `check_deploy` once the schema and
the sizing have passed, so every such value is refused up front, as one line naming the stack-file key. The
rules themselves stay where the component keeps them (`network.cidrs.check_vpc_cidr`, `schedules`,
`cluster.eks_render.IAM_PRINCIPAL_ARN`, the sizing catalog …): this module only says which key feeds which
rule. Imports are per cloud, inside the functions, so a stack loads only its own cloud's modules.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from ..choices import allowed, listing
from ..errors import FieldProblem, UserError
from .core import EMAIL_PATTERN
from .gateway import decide_unknown_model

if TYPE_CHECKING:  # root.py imports nothing of this module; load() hands it the parsed Settings
    from .root import Settings


def check_deploy(settings: Settings) -> None:
    """Raise FieldProblem at the stack-file key of the first value a component of this stack would refuse."""
    if settings.cloud == "aws":
        _aws(settings)
    if settings.cloud == "azure":
        _azure(settings)
    if settings.cloud == "gcp" and settings.gcp is not None:
        _gcp(settings)
    if "edge" in settings.methods and settings.edge is not None:
        _edge_sources(settings)
        from ..edge.image import REPOSITORY_NAME  # the image component's own rule for the registry repository

        if not REPOSITORY_NAME.match(settings.edge.repository):
            raise FieldProblem(
                "edge.repository", "lower-case path segments of letters, digits, '.', '_', '-' such as pulumi-llm/llama-server"
            )
    if "gateway" in settings.methods and settings.gateway is not None:
        _gateway_routes(settings)
        # Bounds that contradict each other or the measured capacity (gateway/sizing.py), before any resource.
        from ..gateway.sizing import stack_gateway_sizing

        stack_gateway_sizing(settings)
    if settings.onprem is not None and "onprem" in settings.methods:
        _onprem_nodes(settings, settings.onprem.gpus.per_node)
    _no_repeats(settings)


def _onprem_nodes(settings: Settings, per_node: int) -> None:
    """A replica needing more GPUs than a node has spans whole nodes (a LeaderWorkerSet) when its runtime can;
    otherwise it must fit one node."""
    from ..runtimes import registry

    for name, model in settings.models.items():
        if model.gpus is None or model.gpus <= per_node:
            continue
        if not registry.get(model.runtime).spans_nodes:
            raise FieldProblem(
                f"models.{name}.gpus",
                f"a {model.runtime} replica runs on one node, which has onprem.gpus.per_node = {per_node} GPUs; allowed: 1 to {per_node} "
                f"(only {', '.join(r.name for r in registry.runtimes() if r.spans_nodes)} spans nodes)",
            )
        if model.gpus % per_node:
            raise FieldProblem(
                f"models.{name}.gpus",
                f"a replica spanning nodes takes whole nodes of onprem.gpus.per_node = {per_node} GPUs; "
                f"allowed: up to {per_node} or a multiple of {per_node}",
            )


def _no_repeats(settings: Settings) -> None:
    """A list whose items name things (zones, families, principals, domains) lists each once: a repeat is a typo
    the cloud refuses (a duplicate access entry, zone or certificate domain)."""
    lists: dict[str, list[str]] = {
        "aws.cluster.gpu_instance_families": settings.aws.cluster.gpu_instance_families,
        "aws.cluster.gpu_instance_types": settings.aws.cluster.gpu_instance_types,
        "aws.cluster.capacity_types": list(settings.aws.cluster.capacity_types),
        "aws.cluster.admin_principals": settings.aws.cluster.admin_principals,
        "aws.gpu_vm.allowed_cidrs": settings.aws.gpu_vm.allowed_cidrs,
        "azure.gpu_vm.zones": list(settings.azure.gpu_vm.zones),
        "azure.cluster.admin_group_object_ids": settings.azure.cluster.admin_group_object_ids,
        "azure.cluster.authorized_ip_ranges": settings.azure.cluster.authorized_ip_ranges,
    }
    if settings.gcp is not None:
        lists["gcp.gateway.domains"] = settings.gcp.gateway.domains
    if settings.gateway is not None:
        for name, consumer in settings.gateway.consumers.items():
            lists[f"gateway.consumers.{name}.models"] = consumer.models
        for name, group in settings.gateway.models.items():
            lists[f"gateway.models.{name}.fallbacks"] = group.fallbacks
    for key, items in lists.items():
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item in seen:
                raise FieldProblem(f"{key}[{i}]", f"{item} is listed twice; list each once")
            seen.add(item)
    schedule = settings.azure.gpu_vm.schedule
    if schedule is not None and schedule.start == schedule.stop:
        from .pairs import Side, decide_conflict

        at = "azure.gpu_vm.schedule"
        raise FieldProblem(
            *decide_conflict(
                Side(f"{at}.start", schedule.start, "start" in schedule.model_fields_set),
                Side(f"{at}.stop", schedule.stop, "stop" in schedule.model_fields_set),
                "is the same time as",
                "the scale set would never run",
            )
        )


# --------------------------------------------------------------------------------------------
# Shared rules


def cidr_problem(value: str, *, internet: bool = False) -> str | None:
    """What is wrong with an IPv4/IPv6 CIDR block the user lists (None when it is one). `internet`: whether
    0.0.0.0/0 (the whole internet) is acceptable where it is used."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return "not a network in CIDR notation such as 10.0.0.0/16 (host bits zero)"
    if network.prefixlen == 0 and not internet:
        return "the whole internet; list the networks that need access"
    return None


def _cidrs(values: list[str], key: str, *, internet: bool = False) -> None:
    for i, value in enumerate(values):
        if problem := cidr_problem(value, internet=internet):
            raise FieldProblem(f"{key}[{i}]", problem)


# --------------------------------------------------------------------------------------------
# AWS


def _aws(settings: Settings) -> None:
    aws = settings.aws
    if settings.models and set(settings.methods) & {"gpu-vm", "cluster"}:
        from ..network.cidrs import check_vpc_cidr

        try:
            check_vpc_cidr(aws.network.cidr)
        except ValueError as err:
            raise FieldProblem("aws.network.cidr", str(err)) from None
        from ..network.aws import LOG_RETENTION_DAYS

        if aws.network.flow_logs_retention_days not in LOG_RETENTION_DAYS:
            raise FieldProblem(
                "aws.network.flow_logs_retention_days",
                f"not a CloudWatch Logs retention; allowed: {listing(LOG_RETENTION_DAYS)}",
            )
        for email in aws.alert_emails:
            if not re.fullmatch(EMAIL_PATTERN, email):
                raise FieldProblem("aws.alert_emails", f"{email} is not an e-mail address such as oncall@example.com")
    _aws_model_tls(settings)
    if "gpu-vm" in settings.methods:
        _aws_gpu_vm(settings)
    if "cluster" in settings.methods:
        _aws_cluster(settings)


_ROUTE53_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
"""A Route 53 hosted zone id as the console and `aws route53 list-hosted-zones` show it (without /hostedzone/)."""


def _aws_model_tls(settings: Settings) -> None:
    tls = settings.aws.model_tls
    if tls is not None and not _ROUTE53_ZONE_ID.match(tls.zone_id):
        raise FieldProblem("aws.model_tls.zone_id", "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (without /hostedzone/)")


def _aws_gpu_vm(settings: Settings) -> None:
    from ..schedules import cron_problem, time_zone_problem

    gpu_vm = settings.aws.gpu_vm
    _cidrs(gpu_vm.allowed_cidrs, "aws.gpu_vm.allowed_cidrs", internet=gpu_vm.internet_facing)
    if gpu_vm.schedule is not None:
        for key in ("stop", "start"):
            if problem := cron_problem(getattr(gpu_vm.schedule, key)):
                raise FieldProblem(f"aws.gpu_vm.schedule.{key}", problem)
        if problem := time_zone_problem(gpu_vm.schedule.time_zone):
            raise FieldProblem("aws.gpu_vm.schedule.time_zone", problem)
    if gpu_vm.certificate_arn is not None:
        from ..validation import ACM_CERTIFICATE_ARN

        if not ACM_CERTIFICATE_ARN.match(gpu_vm.certificate_arn):
            raise FieldProblem("aws.gpu_vm.certificate_arn", "an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<id>")


def _aws_cluster(settings: Settings) -> None:
    from .. import pins
    from ..cluster.eks_render import IAM_PRINCIPAL_ARN
    from ..sizing import INSTANCE_TYPES, get_instance_type

    cluster = settings.aws.cluster
    if not cluster.capacity_types:
        raise FieldProblem("aws.cluster.capacity_types", "at least one of spot, on-demand")
    if cluster.gpu_capacity == "karpenter" and not cluster.gpu_instance_families:
        raise FieldProblem("aws.cluster.gpu_instance_families", "at least one GPU instance family for the Karpenter NodePool, e.g. g6e")
    if cluster.kubernetes_version is not None and cluster.kubernetes_version != pins.EKS_KUBERNETES_VERSION:
        raise FieldProblem(
            "aws.cluster.kubernetes_version",
            f"the pinned EKS add-ons are for {pins.EKS_KUBERNETES_VERSION}; allowed: {pins.EKS_KUBERNETES_VERSION} (or leave it unset)",
        )
    if cluster.public_access_cidrs and not cluster.endpoint_public:
        raise FieldProblem("aws.cluster.public_access_cidrs", "only allowed with aws.cluster.endpoint_public: true")
    if cluster.endpoint_public and not cluster.public_access_cidrs:
        raise FieldProblem("aws.cluster.public_access_cidrs", "required with aws.cluster.endpoint_public: true (never 0.0.0.0/0)")
    _cidrs(cluster.public_access_cidrs, "aws.cluster.public_access_cidrs")
    for i, arn in enumerate(cluster.admin_principals):
        if not IAM_PRINCIPAL_ARN.match(arn):
            raise FieldProblem(
                f"aws.cluster.admin_principals[{i}]", "an IAM role or user ARN such as arn:aws:iam::123456789012:role/platform-admins"
            )
    gpu_families = sorted({t.name.split(".")[0] for t in INSTANCE_TYPES.values() if t.cloud == "aws" and t.gpu_count > 0})
    if cluster.gpu_capacity == "karpenter":
        for i, family in enumerate(cluster.gpu_instance_families):
            if family not in gpu_families:
                raise FieldProblem(f"aws.cluster.gpu_instance_families[{i}]", f"not a GPU instance family; {allowed(family, gpu_families)}")
    else:
        for i, name in enumerate(cluster.gpu_instance_types):
            try:
                itype = get_instance_type(name, "aws", settings.region)
            except UserError as err:
                raise FieldProblem(f"aws.cluster.gpu_instance_types[{i}]", str(err)) from None
            if itype.gpu_count < 1:
                raise FieldProblem(
                    f"aws.cluster.gpu_instance_types[{i}]", f"not a GPU instance type; GPU families: {listing(gpu_families)}"
                )


# --------------------------------------------------------------------------------------------
# Azure


_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ACTION_GROUP_ID = re.compile(r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/microsoft\.insights/actionGroups/[^/]+$", re.I)
_AZURE_VM_SIZE = re.compile(r"^(Standard|Basic)_[A-Za-z0-9_]+$")


def _azure(settings: Settings) -> None:
    azure = settings.azure
    if "cluster" in settings.methods:
        cluster = azure.cluster
        _cidrs(cluster.authorized_ip_ranges, "azure.cluster.authorized_ip_ranges")
        for i, group in enumerate(cluster.admin_group_object_ids):
            if not _GUID.match(group):
                raise FieldProblem(f"azure.cluster.admin_group_object_ids[{i}]", "an Entra object id (a lower-case GUID)")
        if not _AZURE_VM_SIZE.match(cluster.system_vm_size):
            raise FieldProblem("azure.cluster.system_vm_size", "an Azure VM size such as Standard_D4ds_v5")
    if azure.action_group_id is not None and not _ACTION_GROUP_ID.match(azure.action_group_id):
        raise FieldProblem(
            "azure.action_group_id",
            "the ARM id of an action group: /subscriptions/<id>/resourceGroups/<group>/providers/microsoft.insights/actionGroups/<name>",
        )
    schedule = azure.gpu_vm.schedule
    if "gpu-vm" in settings.methods and schedule is not None and ("/" in schedule.time_zone or not schedule.time_zone.strip()):
        raise FieldProblem(
            "azure.gpu_vm.schedule.time_zone",
            "Azure autoscale takes Windows time zone names such as 'W. Europe Standard Time' or UTC, not IANA names",
        )


# --------------------------------------------------------------------------------------------
# GCP


def _gcp(settings: Settings) -> None:
    from .names import host_name_problem

    gcp = settings.gcp
    assert gcp is not None
    if "gpu-vm" in settings.methods and gcp.gpu_vm.spot and settings.environment == "prod":
        # as aws.gpu_vm.spot_percentage and azure.gpu_vm.spot: spot capacity is reclaimed without notice
        raise FieldProblem("gcp.gpu_vm.spot", "prod can't run on spot VMs alone (Compute Engine reclaims them when it needs the capacity)")
    if "gateway" in settings.methods:
        for i, domain in enumerate(gcp.gateway.domains):
            if problem := host_name_problem(domain):
                raise FieldProblem(f"gcp.gateway.domains[{i}]", problem)
    if set(settings.methods) & {"gpu-vm", "cluster"}:
        from ..network.gcp import check_ranges

        ranges = {"subnet_cidr": gcp.network.subnet_cidr}
        if settings.routes_self_hosted():
            ranges["gateway_egress_cidr"] = gcp.gateway.subnet_cidr
        keys = {"subnet_cidr": "gcp.network.subnet_cidr", "gateway_egress_cidr": "gcp.gateway.subnet_cidr"}
        try:
            check_ranges(ranges, "gcp")
        except UserError as err:
            # "gcp.<range> = <cidr>: <problem>": the problem, at the stack-file key of that range
            head, _, problem = str(err).partition(": ")
            raise FieldProblem(keys[head.split(" = ")[0].removeprefix("gcp.")], problem) from None
    if "cluster" in settings.methods and gcp.cluster.mode == "standard":
        from ..sizing import get_instance_type

        try:
            machine = get_instance_type(gcp.cluster.gpu_pool.machine_type, "gcp", settings.region)
        except UserError as err:
            raise FieldProblem("gcp.cluster.gpu_pool.machine_type", str(err)) from None
        if machine.gpu_count < 1:
            raise FieldProblem("gcp.cluster.gpu_pool.machine_type", "not a GPU machine type; GPU pools take g2, a2 or a3 types")


def _edge_sources(settings: Settings) -> None:
    # llama.cpp loads one GGUF file (runtimes/llamacpp.py refuses any other model_path after the image is built)
    assert settings.edge is not None
    if settings.edge.runtime != "llamacpp":
        return
    for name, model in settings.models.items():
        if not (model.source or "").endswith(".gguf"):
            raise FieldProblem(f"models.{name}.source", "runtime llamacpp reads one GGUF file from the nodes' cache: node://<file>.gguf")


# --------------------------------------------------------------------------------------------
# Gateway routes


_GATEWAY_CLOUD_OF_PROVIDER = {
    # Azure OpenAI needs an endpoint and a managed identity, which only the Azure gateway's /openai pool
    # has; Bedrock needs the AWS engine's IAM role.
    "azure-openai": ("azure", "azure.gateway.azure_openai on an Azure stack"),
    "bedrock": ("aws", "an AWS stack"),
}
_SECRET_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
MAX_MODEL_ID = 256
"""Longest provider model id a route takes (the longest ids, Bedrock ARNs and inference profiles, are under 200)."""


def _gateway_routes(settings: Settings) -> None:
    gateway = settings.gateway
    assert gateway is not None
    for group_name, group in gateway.models.items():
        for i, route in enumerate(group.routes):
            at = f"gateway.models.{group_name}.routes[{i}]"
            home = _GATEWAY_CLOUD_OF_PROVIDER.get(route.provider)
            if home is not None and settings.cloud != home[0] and not (route.provider == "azure-openai" and settings.cloud == "azure"):
                raise FieldProblem(f"{at}.provider", f"{route.provider} is reached from {home[1]}, not from cloud {settings.cloud}")
            if route.model != route.model.strip() or len(route.model) > MAX_MODEL_ID:
                raise FieldProblem(f"{at}.model", f"the provider's model id: no surrounding spaces, at most {MAX_MODEL_ID} characters")
            unknown = decide_unknown_model(route.provider, route.model)
            if unknown is not None:
                raise FieldProblem(f"{at}.model", unknown)
    if settings.cloud == "aws" and gateway.bedrock_models:
        from ..gateway.aws import BEDROCK_ARN  # the AWS gateway's own rule for the ARNs it scopes its role to

        for i, model in enumerate(gateway.bedrock_models):
            if not BEDROCK_ARN.match(f"arn:aws:bedrock:{settings.region}::foundation-model/{model}"):
                raise FieldProblem(
                    f"gateway.bedrock_models[{i}]",
                    "a Bedrock foundation-model id without wildcards or spaces, e.g. anthropic.claude-3-5-sonnet-20240620-v1:0",
                )
    for provider, name in gateway.secrets.items():
        if not _SECRET_NAME.match(name):
            raise FieldProblem(
                f"gateway.secrets.{provider}", "a secret name: 1-63 lower-case letters, digits and '-', starting with a letter"
            )


# --------------------------------------------------------------------------------------------
# GPU capacity


def check_gpu_capacity(settings: Settings) -> None:
    """Run by `settings.load` after the sizing check (it sizes every model). The cluster's GPU cap holds what the plan itself sizes: every model's fewest replicas together, and
    each model's most replicas on its own (a cap below that leaves replicas Pending forever)."""
    # The cap is serving.gpu_capacity's (cluster_machines.CAPACITY, per cloud): the one place that knows which
    # settings bound a cluster's GPUs, so this check and the on-demand floor never disagree about them.
    from ..serving import gpu_capacity, replicas, size

    capacity = gpu_capacity(settings)
    if capacity is None:
        return
    key, most = capacity.total_key, capacity.total
    needed = 0
    for name in settings.models:
        per_replica = size(settings, name).tensor_parallel_size
        bounds = replicas(settings, name)
        needed += per_replica * bounds.min
        if per_replica * bounds.max > most:
            where = f"models.{name}.replicas.max" if settings.models[name].replicas else "serving.replicas.max"
            raise FieldProblem(
                where,
                f"{bounds.max} replicas × {per_replica} GPUs = {per_replica * bounds.max} GPUs, above the cluster's cap of "
                f"{most} ({key}); lower the replicas or raise the cap",
            )
    if needed > most:
        raise FieldProblem(
            key, f"caps the cluster at {most} GPUs, below the {needed} its models' minimum replicas need; allowed: {needed} or more"
        )
