"""Settings of the Azure methods (`azure`): the VNet, GPU VM scale sets, AKS, API Management and alerts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import Field, model_validator

from ..errors import FieldProblem, UserError
from ..validation import EMAIL, Cidr, ClockTime, Email, described
from .cloud_rules import CloudRules
from .core import Label, StrictModel

if TYPE_CHECKING:  # root.py imports this module; the checks only read the Settings they are given
    from .root import Settings


class AzureNetworkSettings(StrictModel):
    """The VNet every Azure method runs in (network.azure.AzureNetwork)."""

    cidr: Cidr = Field(default="10.50.0.0/16", description="VNet range, a private /16 to /18. Default 10.50.0.0/16.")
    internal_client_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="More ranges allowed to reach the model servers (peered VNets, on-premises). Default: the gateway engine's subnet with the gateway method, else the VNet.",
    )

    @model_validator(mode="after")
    def _ranges(self) -> AzureNetworkSettings:
        import ipaddress

        from ..network.cidrs import PRIVATE_RANGES

        try:
            net = ipaddress.ip_network(self.cidr, strict=True)
        except ValueError:
            raise FieldProblem("cidr", "not an IPv4 network in CIDR notation, e.g. 10.50.0.0/16") from None
        if net.version != 4 or not 16 <= net.prefixlen <= 18 or not any(net.subnet_of(r) for r in PRIVATE_RANGES):
            raise FieldProblem("cidr", "a private IPv4 /16 to /18 (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")
        for cidr in self.internal_client_cidrs:
            try:
                client_net = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise FieldProblem("internal_client_cidrs", f"{cidr} is not a CIDR block such as 10.60.0.0/16") from None
            if client_net.prefixlen == 0:
                raise FieldProblem("internal_client_cidrs", f"{cidr} is the whole internet; internal ranges only")
        return self


class AzureScaleSchedule(StrictModel):
    """Scale the GPU VMs to zero outside working hours (dev), in Azure autoscale's terms."""

    days: list[Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]] = Field(
        default_factory=lambda: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
        description="Days the start and stop times apply to. Default Monday to Friday (weekends stay off).",
    )
    start: ClockTime = Field(default="07:00", description="HH:MM when serving resumes. Default 07:00.")
    stop: ClockTime = Field(default="20:00", description="HH:MM when the scale set goes to zero. Default 20:00.")
    time_zone: str = Field(
        default="UTC", description="Windows time zone name of the times (Azure autoscale), e.g. 'W. Europe Standard Time'. Default UTC."
    )


class AzureGpuVmSettings(StrictModel):
    """GPU VM scale sets behind internal load balancers (gpu_vm.azure.AzureGpuVm)."""

    vm_size: str | None = Field(
        default=None,
        description="GPU size of the sizing catalog for every model (NC/ND/NV, offered in the region), e.g. Standard_NC24ads_A100_v4. "
        "Default: each model's instance_type, else the cheapest catalog size that fits.",
    )
    spot: bool = Field(default=False, description="Spot VMs (eviction Delete, max price -1); never in prod. Default false.")
    zones: list[Literal["1", "2", "3"]] = Field(
        default_factory=list[Literal["1", "2", "3"]], description="Availability zones to spread over. Default: regional."
    )
    schedule: AzureScaleSchedule | None = Field(default=None, description="Scale to zero on a schedule (dev). Default: none (always on).")

    @model_validator(mode="after")
    def _gpu_size(self) -> AzureGpuVmSettings:
        if self.vm_size is not None:
            _check_azure_gpu_size(self.vm_size, "vm_size")
        return self


class AzureGpuPoolSettings(StrictModel):
    """One AKS GPU user node pool (tainted nvidia.com/gpu; Spot pools also carry AKS' spot taint)."""

    vm_size: str = Field(
        default="Standard_NC24ads_A100_v4", description="GPU size of the sizing catalog. Default Standard_NC24ads_A100_v4."
    )
    spot: bool = Field(default=False, description="Spot priority (evicted when Azure needs the capacity). Default false.")
    min_count: int = Field(default=0, ge=0, le=1000, description="Fewest nodes (0 lets the autoscaler empty the pool). Default 0.")
    max_count: int = Field(default=2, ge=1, le=1000, description="Most nodes. Default 2.")

    @model_validator(mode="after")
    def _pool(self) -> AzureGpuPoolSettings:
        _check_azure_gpu_size(self.vm_size, "vm_size")
        if self.min_count > self.max_count:
            raise FieldProblem("min_count", f"must be <= max_count ({self.max_count})")
        return self


class AzureClusterSettings(StrictModel):
    """AKS with GPU capacity (cluster.aks.AksCluster)."""

    system_vm_size: str = Field(
        default="Standard_D4ds_v5", description="VM size of the system pool (CriticalAddonsOnly). Default Standard_D4ds_v5."
    )
    system_min: int = Field(default=2, ge=1, le=100, description="Fewest system nodes (2 for zone redundancy). Default 2.")
    system_max: int = Field(default=4, ge=1, le=100, description="Most system nodes. Default 4.")
    gpu_pools: dict[str, AzureGpuPoolSettings] = Field(
        default_factory=lambda: {"gpu": AzureGpuPoolSettings()},
        description="GPU pools by name (1-12 lower-case letters and digits); every model is sized on the first pool's size. "
        "Default: one on-demand pool 'gpu' of Standard_NC24ads_A100_v4, 0-2 nodes.",
    )
    prometheus: Literal["managed", "kube-prometheus"] = Field(
        default="kube-prometheus",
        description="kube-prometheus (in-cluster kube-prometheus-stack) or managed (the same, forwarding to Azure Monitor "
        "managed Prometheus). Default kube-prometheus.",
    )
    private_cluster: bool = Field(
        default=True, description="API server on a private endpoint only. Default true; false needs authorized_ip_ranges."
    )
    authorized_ip_ranges: list[Cidr] = Field(default_factory=list, description="CIDRs allowed to a public API server. Default none.")
    admin_group_object_ids: list[str] = Field(default_factory=list, description="Entra ID groups bound to cluster-admin. Default none.")
    deployer_principal_type: Literal["User", "ServicePrincipal"] = Field(
        default="ServicePrincipal", description="What runs Pulumi (given cluster-admin for the Helm releases). Default ServicePrincipal."
    )

    @model_validator(mode="after")
    def _pools(self) -> AzureClusterSettings:
        if not self.gpu_pools:
            raise FieldProblem("gpu_pools", "at least one GPU pool is needed")
        for name in self.gpu_pools:
            if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", name) or name in ("system", "general"):
                raise FieldProblem(
                    "gpu_pools", f"pool name {name}: 1-12 lower-case letters and digits, starting with a letter, not system or general"
                )
        if self.system_min > self.system_max:
            raise FieldProblem("system_min", f"must be <= system_max ({self.system_max})")
        if self.private_cluster == bool(self.authorized_ip_ranges):
            raise FieldProblem(
                "authorized_ip_ranges",
                "only with private_cluster: false, and then required (never 0.0.0.0/0)"
                if self.private_cluster
                else "required when private_cluster is false (never 0.0.0.0/0)",
            )
        return self


APIM_V2_SKUS = ("StandardV2", "PremiumV2")
"""API Management tiers the Azure gateway runs on: v2 with outbound VNet integration to its engine."""


class AzureOpenAIDeploymentSettings(StrictModel):
    """One Azure OpenAI account behind the gateway's /openai pool, reached with APIM's managed identity (no key)."""

    endpoint: str = Field(
        pattern=described(
            r"^https://[a-z0-9][a-z0-9-]{1,62}\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)/$",
            "https://<resource>.openai.azure.com/ (or .cognitiveservices.azure.com/, .services.ai.azure.com/), with the trailing slash",
        ),
        description="https://<resource>.openai.azure.com/ (trailing slash). Required.",
    )
    resource_id: str = Field(
        pattern=described(
            r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices/accounts/[^/]+$",
            "an account's ARM id: /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.CognitiveServices/accounts/<name>",
        ),
        description="ARM id of the account: the only scope of the gateway's Cognitive Services OpenAI User role. Required.",
    )
    priority: int = Field(default=1, ge=1, le=100, description="Pool priority, 1 first. Default 1.")
    weight: int = Field(default=1, ge=1, le=100, description="Share of traffic within its priority. Default 1.")
    fallback: bool = Field(
        default=False, description="The pool's last resort, without a circuit breaker (one per pool of 2+). Default false."
    )


class AzureGatewaySettings(StrictModel):
    """API Management v2 in front of Azure OpenAI and the shared engine on Container Apps (gateway.azure.AzureGateway)."""

    apim_sku: str = Field(default="StandardV2", description=f"API Management tier: {' or '.join(APIM_V2_SKUS)}. Default StandardV2.")
    capacity: int = Field(default=1, ge=1, le=30, description="APIM scale units. Default 1.")
    publisher_email: Email | None = Field(default=None, description="APIM publisher e-mail (service notices). Required with the gateway.")
    azure_openai: dict[Label, AzureOpenAIDeploymentSettings] = Field(
        default_factory=dict, description="Azure OpenAI accounts of the /openai pool, by name. Default none (no /openai API)."
    )
    tokens_per_minute: int = Field(
        default=100_000,
        ge=1,
        le=1_000_000_000,
        description="llm-token-limit per consumer key (prompt + completion tokens per minute) for a consumer without its own "
        "gateway.consumers.<name>.tokens_per_minute. Default 100000.",
    )
    engine_min_replicas: int | None = Field(
        default=None,
        ge=0,
        le=300,
        description="Fewest engine replicas on Container Apps; wins over gateway.capacity.instances_min. "
        "Default: sized from gateway.capacity (2 in prod, else 1).",
    )
    engine_max_replicas: int | None = Field(
        default=None,
        ge=1,
        le=300,
        description="Most engine replicas; wins over gateway.capacity.instances_max. Default: sized from gateway.capacity.",
    )

    @model_validator(mode="after")
    def _sku(self) -> AzureGatewaySettings:
        allowed = ", ".join(APIM_V2_SKUS)
        if self.apim_sku == "Consumption":
            raise FieldProblem(
                "apim_sku",
                'can\'t stream (no long-lived connections, so no buffer-response="false" server-sent events) and has no '
                f"llm-token-limit; allowed: {allowed}",
            )
        if self.apim_sku in ("Developer", "Basic", "Standard", "Premium", "Isolated"):
            raise FieldProblem("apim_sku", f"a classic tier, without outbound VNet integration to the engine; allowed: {allowed}")
        if self.apim_sku == "BasicV2":
            raise FieldProblem("apim_sku", f"has no VNet integration, so it can't reach the engine's internal ingress; allowed: {allowed}")
        if self.apim_sku not in APIM_V2_SKUS:
            raise FieldProblem("apim_sku", f"not an API Management tier; allowed: {allowed}")
        if (
            self.engine_min_replicas is not None
            and self.engine_max_replicas is not None
            and self.engine_min_replicas > self.engine_max_replicas
        ):
            raise FieldProblem("engine_min_replicas", f"must be <= engine_max_replicas ({self.engine_max_replicas})")
        backends = self.azure_openai
        if len(backends) > 1:
            fallbacks = [n for n, b in backends.items() if b.fallback]
            if len(fallbacks) != 1:
                last = max(backends, key=lambda n: (backends[n].priority, n))
                raise FieldProblem(
                    f"azure_openai.{last}.fallback",
                    "mark exactly one account of the pool fallback: true, in the lowest priority (a pool whose every member is tripped answers 503)",
                )
            lowest = max(b.priority for b in backends.values())
            if backends[fallbacks[0]].priority != lowest:
                raise FieldProblem(f"azure_openai.{fallbacks[0]}.priority", f"a fallback must be in the lowest priority group ({lowest})")
        return self


class AzureSettings(StrictModel):
    """Settings of the Azure methods."""

    network: AzureNetworkSettings = Field(default_factory=AzureNetworkSettings, description="The VNet.")
    gpu_vm: AzureGpuVmSettings = Field(default_factory=AzureGpuVmSettings, description="The gpu-vm method (VM scale sets).")
    cluster: AzureClusterSettings = Field(default_factory=AzureClusterSettings, description="The cluster method (AKS).")
    gateway: AzureGatewaySettings = Field(default_factory=AzureGatewaySettings, description="API Management and the engine.")
    alert_emails: list[str] = Field(default_factory=list, description="E-mail receivers of the alerts (an action group). Default none.")
    action_group_id: str | None = Field(
        default=None, description="An existing action group for the gateway's alerts, instead of alert_emails. Default none."
    )

    @model_validator(mode="after")
    def _alerts(self) -> AzureSettings:
        for email in self.alert_emails:
            if not EMAIL.match(email):
                raise FieldProblem("alert_emails", f"{email} is not an e-mail address")
        if self.alert_emails and self.action_group_id:
            raise FieldProblem("action_group_id", "give alert_emails or action_group_id, not both")
        return self


def _check_azure_gpu_size(size: str, field: str) -> None:
    """A GPU size of the catalog; whether the stack's region offers it is checked with the region."""
    from ..gpu_vm.azure_sizes import check_vm_size

    try:
        check_vm_size(size, 1, None, field)
    except UserError as err:
        raise FieldProblem(field, str(err).split(": ", 1)[1]) from None


def check_azure_stack(settings: Settings) -> None:
    """The Azure rules that read more than the azure subtree: the region and the sizes it offers, prod
    capacity, model sources, the gateway's limits."""
    from ..gpu_vm.azure_sizes import check_vm_size
    from ..sizing import check_region

    try:
        check_region("azure", settings.region or "")
    except UserError as err:
        raise FieldProblem("region", str(err)) from None
    region = (settings.region or "").strip().lower()
    azure = settings.azure

    def offered(size: str, field: str) -> None:
        try:
            check_vm_size(size, 1, region, field)
        except UserError as err:
            raise FieldProblem(field, str(err).split(": ", 1)[1]) from None

    if "gpu-vm" in settings.methods:
        if azure.gpu_vm.vm_size:
            offered(azure.gpu_vm.vm_size, "azure.gpu_vm.vm_size")
        if settings.environment == "prod" and azure.gpu_vm.spot:
            raise FieldProblem("azure.gpu_vm.spot", "prod can't run on spot VMs alone (they are evicted when Azure needs the capacity)")
    if "cluster" in settings.methods:
        for pool_name, pool in azure.cluster.gpu_pools.items():
            offered(pool.vm_size, f"azure.cluster.gpu_pools.{pool_name}.vm_size")
        if settings.environment == "prod" and all(p.spot for p in azure.cluster.gpu_pools.values()):
            raise FieldProblem("azure.cluster.gpu_pools", "prod can't run on spot alone: add a pool with spot: false")
    if settings.methods and set(settings.methods) & {"gpu-vm", "cluster"}:
        for name, model in settings.models.items():
            if model.instance_type:
                offered(model.instance_type, f"models.{name}.instance_type")
            if "cluster" in settings.methods and (model.source or "").startswith("store://"):
                raise FieldProblem(
                    f"models.{name}.source",
                    "AKS servers don't stream from Blob storage yet: use pvc://<claim>/<path> (an Azure Blob CSI or Azure Files claim)",
                )
    if "gateway" in settings.methods and settings.gateway is not None:
        from ..gateway.apim_policy import MAX_FORWARD_TIMEOUT_SECONDS

        if azure.gateway.publisher_email is None:
            raise FieldProblem("azure.gateway.publisher_email", "required with the gateway (API Management's publisher address)")
        edge = settings.gateway.timeouts.edge_seconds
        if edge > MAX_FORWARD_TIMEOUT_SECONDS:
            raise FieldProblem(
                "gateway.timeouts.edge_seconds",
                f"above API Management's forward-request limit of {MAX_FORWARD_TIMEOUT_SECONDS} s (longer waits for the "
                "first byte may not be honoured); set it to 240 or less, with engine_seconds and provider_seconds below it",
            )
        for group_name, group in settings.gateway.models.items():
            for i, route in enumerate(group.routes):
                if route.provider == "azure-openai":
                    raise FieldProblem(
                        f"gateway.models.{group_name}.routes[{i}].provider",
                        "on Azure, Azure OpenAI is reached through API Management's /openai pool with its managed identity: "
                        "list the accounts in azure.gateway.azure_openai",
                    )
                if route.provider == "bedrock":
                    raise FieldProblem(f"gateway.models.{group_name}.routes[{i}].provider", "bedrock is reached from AWS stacks only")


AZURE_GATEWAY_TIMEOUTS: dict[str, int] = {"client_seconds": 300, "edge_seconds": 240, "engine_seconds": 210, "provider_seconds": 180}
"""The gateway's timeout budget on Azure when the stack gives none: API Management forwards for at most 240 s
(gateway/apim_policy.py, MAX_FORWARD_TIMEOUT_SECONDS), below the other clouds' default edge of 600 s; each
inner hop 30 s shorter, as the shipped Azure stacks set it."""


def with_azure_gateway_timeouts(data: Any) -> Any:
    """An Azure stack whose gateway sets no `timeouts` gets Azure's budget instead of the default one API
    Management can't honour (which the checks would refuse). Runs on the raw settings, before parsing."""
    if not isinstance(data, dict):
        return data
    stack = cast("dict[str, Any]", data)
    gateway = stack.get("gateway")
    if stack.get("cloud") != "azure" or not isinstance(gateway, dict) or "timeouts" in gateway:
        return stack
    return {**stack, "gateway": {**cast("dict[str, Any]", gateway), "timeouts": dict(AZURE_GATEWAY_TIMEOUTS)}}


def with_azure_model_sizes(data: Any) -> Any:
    """Azure sizes every model on the size its VMs or first GPU pool really have: that size becomes the
    models' instance_type where they name none, so sizing and the deployed size are one. Runs on the raw
    settings, before parsing (`Settings._azure_defaults`)."""
    if not isinstance(data, dict):
        return data
    stack = cast("dict[str, Any]", data)
    if stack.get("cloud") != "azure" or not isinstance(stack.get("models"), dict):
        return stack
    azure = _block(stack, "azure")
    methods: Any = stack.get("methods") or []
    size: Any = None
    if "gpu-vm" in methods and isinstance(azure.get("gpu_vm"), dict):
        size = _block(azure, "gpu_vm").get("vm_size")
    if "cluster" in methods:
        pools = _block(azure, "cluster").get("gpu_pools")
        if isinstance(pools, dict) and pools:
            first = next(iter(cast("dict[str, Any]", pools).values()))
            size = cast("dict[str, Any]", first).get("vm_size", AzureGpuPoolSettings().vm_size) if isinstance(first, dict) else None
        elif pools is None:
            size = AzureGpuPoolSettings().vm_size
    if not isinstance(size, str):
        return stack
    models = {name: _with_instance_type(model, size) for name, model in _block(stack, "models").items()}
    return {**stack, "models": models}


def _block(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """`parent[key]` where it is a map, else {}: the schema reports a block of the wrong type afterwards."""
    value = parent.get(key)
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _with_instance_type(model: Any, size: str) -> Any:
    """A raw model entry with `size` as its instance_type where it names none (anything else as it is)."""
    if not isinstance(model, dict):
        return model
    fields = cast("dict[str, Any]", model)
    return fields if fields.get("instance_type") else {**fields, "instance_type": size}


RULES = CloudRules(
    cloud="azure",
    source_schemes={"gpu-vm": ("store",), "cluster": ("pvc",)},
    read_by={"azure.gpu_vm": ("gpu-vm",), "azure.cluster": ("cluster",), "azure.gateway": ("gateway",)},
)
"""This cloud's rows of the model-source and key-effect tables (settings/cloud_registry.py)."""
