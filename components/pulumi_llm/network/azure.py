"""AzureNetwork: the virtual network that GPU workloads (GPU VM scale sets, AKS nodes, private endpoints) run in.

Four subnets (six with ``gateway_subnets``), each with its own network security group, none with default
outbound access:

* ``compute`` — GPU VMs (private: no public IPs, egress through the NAT gateway, HTTPS only by default);
* ``lb`` — load balancer frontends (internal by default) or Application Gateways (not both: an App
  Gateway subnet holds App Gateways only);
* ``private-endpoints`` — private endpoints of Key Vault and Storage, with network policies enabled so
  the subnet's NSG (HTTPS from the VNet only) really filters them;
* ``aks`` — AKS nodes (the largest: Azure CNI gives pods addresses from it unless overlay is used);
* ``apim`` (with ``gateway_subnets``) — outbound VNet integration of API Management v2 (StandardV2,
  PremiumV2), delegated to ``Microsoft.Web/serverFarms``: nothing is ever addressed TO it, so its NSG
  admits no inbound at all and lets APIM out only to the engine subnet, the private endpoints and HTTPS
  on the Internet (Azure OpenAI, Entra ID, Azure Monitor) through the NAT gateway;
* ``engine`` (with ``gateway_subnets``) — the infrastructure subnet of the internal Container Apps
  environment (workload profiles) running the shared gateway engine, delegated to
  ``Microsoft.App/environments`` and /27 or larger as that environment type requires; inbound only
  from the ``apim`` subnet on 80/443 and from inside itself (the environment's own ingress and replicas).

A Standard NAT gateway with one Standard static public IP gives ``compute``, ``aks``, ``apim`` and
``engine`` their outbound address. Private DNS zones for Key Vault (``privatelink.vaultcore.azure.net``) and Blob storage
(``privatelink.blob.core.windows.net``) are linked to the VNet, so the services' public names resolve
to their private endpoints from inside it.

Inbound is least-open: every NSG admits Azure Load Balancer health probes (service tag
``AzureLoadBalancer``), what its subnet serves from the internal clients' ranges only, and ends with
an explicit deny-all at priority 4096 (above Azure's default ``AllowVnetInBound``, which would admit
the whole VNet and every peered one). The Internet reaches nothing, except ports 80/443 of the ``lb``
subnet when ``public_ingress`` asks for an internet-facing load balancer.

The subnet plan is a pure function (`azure_subnet_plan`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_azure_native.network as network
import pulumi_azure_native.privatedns as privatedns
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..labels import CommonLabels, azure_tags
from ..naming import child
from ..validation import AZURE_LOCATION as _LOCATION
from .cidrs import PRIVATE_RANGES

StrInput = str | pulumi.Output[str]
"""A string or the Output of another resource (pulumi.Input[str])."""

SUBNET_ROLES: tuple[str, ...] = ("compute", "lb", "private-endpoints", "aks")
"""Subnet roles, in the order they are created (one at a time: Azure refuses concurrent subnet writes
on one VNet with AnotherOperationInProgress)."""
GATEWAY_SUBNET_ROLES: tuple[str, ...] = ("apim", "engine")
"""Subnets of the gateway method, created after the others when `gateway_subnets` is set."""
SUBNET_DELEGATIONS: dict[str, str] = {"apim": "Microsoft.Web/serverFarms", "engine": "Microsoft.App/environments"}
"""Service each gateway subnet is delegated to: APIM v2 VNet integration, a Container Apps environment."""
MIN_GATEWAY_SUBNET_PREFIX = 27
"""Both APIM v2 VNet integration and a workload-profiles Container Apps environment need /27 or larger."""

PRIVATE_DNS_ZONES: dict[str, str] = {
    "vault": "privatelink.vaultcore.azure.net",
    "blob": "privatelink.blob.core.windows.net",
}
"""Private DNS zone per private-link group id (Key Vault ``vault``, Storage ``blob``), public Azure cloud."""

MIN_PREFIX = 16
MAX_PREFIX = 18
DENY_ALL_PRIORITY = 4096
"""The last priority a custom NSG rule may use: our explicit deny-all sits there."""
AKS_CLIENT_PORTS: tuple[int, ...] = (80, 443)
"""Ports of the aks subnet open to the internal clients: the internal ingress load balancer's HTTP(S) frontends."""


@dataclass(frozen=True)
class AzureSubnetPlan:
    """The CIDRs of one VNet, by subnet role."""

    vnet: str
    compute: str
    lb: str
    private_endpoints: str
    aks: str
    apim: str
    engine: str

    def by_role(self, gateway: bool = False) -> dict[str, str]:
        """CIDR by subnet role; with `gateway`, the apim and engine subnets too."""
        roles = {"compute": self.compute, "lb": self.lb, "private-endpoints": self.private_endpoints, "aks": self.aks}
        if gateway:
            roles.update({"apim": self.apim, "engine": self.engine})
        return roles


def check_vnet_cidr(cidr: str) -> str:
    """`cidr` in canonical form, or ValueError saying what is allowed."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as err:
        raise ValueError(f"{cidr!r} is not an IPv4 network in CIDR notation ({err}); e.g. 10.50.0.0/16") from None
    if net.version != 4:
        raise ValueError(f"{cidr!r} is IPv6; the VNet range must be IPv4, e.g. 10.50.0.0/16")
    assert isinstance(net, ipaddress.IPv4Network)  # version 4 just checked; tells the checker too
    if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX:
        raise ValueError(f"{cidr!r} is a /{net.prefixlen}; allowed: /{MIN_PREFIX} to /{MAX_PREFIX}")
    if not any(net.subnet_of(r) for r in PRIVATE_RANGES):
        raise ValueError(f"{cidr!r} is not a private range; allowed inside {', '.join(map(str, PRIVATE_RANGES))}")
    return str(net)


def azure_subnet_plan(cidr: str) -> AzureSubnetPlan:
    """The subnets of VNet `cidr` (/16 to /18). For a /16:

    ====================  ==============  =================================================
    aks                   first quarter   /18: 16,379 usable addresses (nodes + CNI pods)
    compute               1/16 after it   /20: 4,091 (GPU VMs)
    lb                    1/256 after it  /24 (an Application Gateway v2 subnet wants /24)
    private-endpoints     next 1/256      /24
    apim                  next 1/256      /24 (APIM v2 VNet integration: /27 or larger)
    engine                next 1/256      /24 (workload-profiles Container Apps: /27 or larger)
    ====================  ==============  =================================================

    A /18 gets /26 for the last four, still above the /27 the gateway subnets need.

    The rest (over half of the range) stays free for later subnets; nothing here moves when they are added.
    """
    net = ipaddress.ip_network(check_vnet_cidr(cidr))
    quarters = list(net.subnets(prefixlen_diff=2))
    sixteenths = list(net.subnets(prefixlen_diff=4))
    slices = list(sixteenths[5].subnets(prefixlen_diff=4))
    assert slices[0].prefixlen <= MIN_GATEWAY_SUBNET_PREFIX  # /24 to /26 for a /16 to /18 VNet
    return AzureSubnetPlan(
        vnet=str(net),
        aks=str(quarters[0]),
        compute=str(sixteenths[4]),
        lb=str(slices[0]),
        private_endpoints=str(slices[1]),
        apim=str(slices[2]),
        engine=str(slices[3]),
    )


# ---------------------------------------------------------------------------------------------
# NSG rules (pure)
# ---------------------------------------------------------------------------------------------


def _rule(
    name: str,
    priority: int,
    direction: str,
    access: str,
    *,
    protocol: str = "Tcp",
    source: str | Sequence[str] = "*",
    destination: str | Sequence[str] = "*",
    ports: str | Sequence[int] = "*",
    description: str,
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": name,
        "priority": priority,
        "direction": direction,
        "access": access,
        "protocol": protocol,
        "description": description,
        "source_port_range": "*",
    }
    if isinstance(destination, str):
        rule["destination_address_prefix"] = destination
    else:
        rule["destination_address_prefixes"] = list(destination)
    if isinstance(source, str):
        rule["source_address_prefix"] = source
    else:
        rule["source_address_prefixes"] = list(source)
    if isinstance(ports, str):
        rule["destination_port_range"] = ports
    else:
        rule["destination_port_ranges"] = [str(p) for p in ports]
    return rule


def _deny_all_inbound() -> dict[str, Any]:
    return _rule(
        "deny-all-inbound",
        DENY_ALL_PRIORITY,
        "Inbound",
        "Deny",
        protocol="*",
        description="Everything not allowed above, the rest of the VNet and peered VNets included",
    )


def _probes() -> dict[str, Any]:
    return _rule(
        "allow-lb-probes",
        100,
        "Inbound",
        "Allow",
        protocol="*",
        source="AzureLoadBalancer",
        description="Azure Load Balancer health probes (168.63.129.16)",
    )


def _compute_rules(
    plan: AzureSubnetPlan,
    *,
    clients: Sequence[str],
    compute_ports: Sequence[int],
    ssh_sources: Sequence[str],
    https_egress_only: bool,
    peer_ports: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """The GPU VMs' subnet: internal clients (and SSH from the given ranges) in, the VMs to each other on
    `peer_ports` (a GPU-VM router to its group's servers); HTTPS only out when asked."""
    rules: list[dict[str, Any]] = []
    rules.append(
        _rule(
            "allow-clients",
            200,
            "Inbound",
            "Allow",
            source=clients,
            destination=plan.compute,
            ports=compute_ports,
            description="Internal clients to the model servers (an internal LB keeps their source address)",
        )
    )
    if peer_ports:
        rules.append(
            _rule(
                "allow-peers",
                210,
                "Inbound",
                "Allow",
                source=plan.compute,
                destination=plan.compute,
                ports=peer_ports,
                description="The GPU VMs' routers to the model servers of the subnet, nobody else on these ports",
            )
        )
    if ssh_sources:
        rules.append(
            _rule(
                "allow-ssh",
                300,
                "Inbound",
                "Allow",
                source=ssh_sources,
                destination=plan.compute,
                ports=[22],
                description="SSH from the given ranges only (e.g. an Azure Bastion subnet)",
            )
        )
    if https_egress_only:
        # IMDS, DNS and the WireServer (169.254.169.254, 168.63.129.16) are not filtered by NSGs.
        if peer_ports:
            rules.append(
                _rule(
                    "allow-peers-out",
                    90,
                    "Outbound",
                    "Allow",
                    source=plan.compute,
                    destination=plan.compute,
                    ports=peer_ports,
                    description="The GPU VMs' routers to the model servers of the subnet",
                )
            )
        rules += [
            _rule(
                "allow-https-vnet",
                100,
                "Outbound",
                "Allow",
                destination="VirtualNetwork",
                ports=[443],
                description="HTTPS to private endpoints (Key Vault, Storage) inside the VNet",
            ),
            _rule(
                "allow-https-internet",
                110,
                "Outbound",
                "Allow",
                destination="Internet",
                ports=[443],
                description="HTTPS to image registries, Entra ID and Azure Monitor through the NAT gateway",
            ),
            _rule("deny-all-outbound", DENY_ALL_PRIORITY, "Outbound", "Deny", protocol="*", description="Nothing else leaves the GPU VMs"),
        ]
    return rules


def _lb_rules(plan: AzureSubnetPlan, *, clients: Sequence[str], public_ingress: bool, app_gateway: bool) -> list[dict[str, Any]]:
    """The load balancer subnet: HTTP(S) from the clients (or the Internet), plus Application Gateway's ports."""
    rules: list[dict[str, Any]] = []
    if app_gateway:
        rules.append(
            _rule(
                "allow-gateway-manager",
                110,
                "Inbound",
                "Allow",
                source="GatewayManager",
                ports="65200-65535",
                description="Application Gateway v2 infrastructure ports (required by Azure)",
            )
        )
    source: str | Sequence[str] = "Internet" if public_ingress else clients
    rules.append(
        _rule(
            "allow-http-https",
            200,
            "Inbound",
            "Allow",
            source=source,
            destination=plan.lb,
            ports=[80, 443],
            description="Clients to the load balancer frontends: HTTP and HTTPS only",
        )
    )
    return rules


def _private_endpoint_rules(plan: AzureSubnetPlan) -> list[dict[str, Any]]:
    """The private endpoints' subnet: HTTPS from inside the VNet only."""
    return [
        _rule(
            "allow-https-vnet",
            200,
            "Inbound",
            "Allow",
            source=plan.vnet,
            destination=plan.private_endpoints,
            ports=[443],
            description="HTTPS to the private endpoints from inside the VNet only",
        )
    ]


def _aks_rules(plan: AzureSubnetPlan, *, clients: Sequence[str], aks_pod_cidrs: Sequence[str]) -> list[dict[str, Any]]:
    """The AKS nodes' subnet: the cluster to itself on every port, the clients to its internal ingress."""
    # The cluster talks to itself on every port; the rest of the VNet only reaches the internal load
    # balancers' HTTP(S) frontends (ingress-nginx keeps the client address with externalTrafficPolicy
    # Local), and only from the clients: a VNet-wide allow let any workload bypass the gateway.
    # Azure CNI Overlay does not encapsulate pod traffic: the subnet's NSG sees pod addresses, and AKS needs
    # node→node, node→pod and pod→pod on every port (DNS included) or the cluster's own traffic is dropped.
    cluster = [plan.aks, *aks_pod_cidrs]
    return [
        _rule(
            "allow-cluster",
            200,
            "Inbound",
            "Allow",
            protocol="*",
            source=cluster if aks_pod_cidrs else plan.aks,
            destination=cluster if aks_pod_cidrs else plan.aks,
            description="Node-to-node, node-to-pod and pod-to-pod traffic of the cluster (overlay pod ranges included)",
        ),
        _rule(
            "allow-clients",
            210,
            "Inbound",
            "Allow",
            source=clients,
            destination=plan.aks,
            ports=AKS_CLIENT_PORTS,
            description="Internal clients to the cluster's internal load balancers (ingress): HTTP and HTTPS only",
        ),
    ]


def _apim_rules(plan: AzureSubnetPlan) -> list[dict[str, Any]]:
    """APIM's outbound VNet-integration subnet: HTTPS to the engine, Key Vault and the Internet, nothing else."""
    return [
        _rule(
            "allow-https-engine",
            100,
            "Outbound",
            "Allow",
            destination=plan.engine,
            ports=[80, 443],
            description="APIM to the gateway engine's internal Container Apps ingress",
        ),
        _rule(
            "allow-https-private-endpoints",
            110,
            "Outbound",
            "Allow",
            destination=plan.private_endpoints,
            ports=[443],
            description="APIM to Key Vault (named values) through its private endpoint",
        ),
        _rule(
            "allow-https-internet",
            120,
            "Outbound",
            "Allow",
            destination="Internet",
            ports=[443],
            description="Azure OpenAI, Entra ID and Azure Monitor over HTTPS through the NAT gateway",
        ),
        _rule(
            "deny-all-outbound",
            DENY_ALL_PRIORITY,
            "Outbound",
            "Deny",
            protocol="*",
            description="Nothing else leaves the APIM integration subnet",
        ),
    ]


def _engine_rules(plan: AzureSubnetPlan) -> list[dict[str, Any]]:
    """The gateway engine's Container Apps subnet: APIM in, the environment to itself."""
    # Outbound stays open: the engine calls providers on the Internet, the self-hosted servers in the
    # VNet, and Container Apps' own dependencies (registries, Entra ID, Azure Monitor) by service tag.
    return [
        _rule(
            "allow-apim",
            200,
            "Inbound",
            "Allow",
            source=plan.apim,
            destination=plan.engine,
            ports=[80, 443],
            description="API Management (VNet integration) to the engine's internal ingress",
        ),
        _rule(
            "allow-environment",
            210,
            "Inbound",
            "Allow",
            protocol="*",
            source=plan.engine,
            destination=plan.engine,
            description="The Container Apps environment's ingress and replicas talk to each other",
        ),
    ]


def nsg_rules(
    role: str,
    plan: AzureSubnetPlan,
    *,
    clients: Sequence[str],
    compute_ports: Sequence[int],
    public_ingress: bool,
    app_gateway: bool,
    ssh_sources: Sequence[str],
    compute_https_egress_only: bool,
    aks_pod_cidrs: Sequence[str] = (),
    compute_peer_ports: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """The security rules of the NSG of subnet `role` (pure; tested)."""
    rules = [_probes()]
    if role == "compute":
        rules += _compute_rules(
            plan,
            clients=clients,
            compute_ports=compute_ports,
            ssh_sources=ssh_sources,
            https_egress_only=compute_https_egress_only,
            peer_ports=compute_peer_ports,
        )
    elif role == "lb":
        rules += _lb_rules(plan, clients=clients, public_ingress=public_ingress, app_gateway=app_gateway)
    elif role == "private-endpoints":
        rules += _private_endpoint_rules(plan)
    elif role == "aks":
        rules += _aks_rules(plan, clients=clients, aks_pod_cidrs=aks_pod_cidrs)
    elif role == "apim":
        # Outbound VNet integration: APIM's gateway is public and nothing connects into this subnet, so only
        # the explicit deny-all stays inbound (no probe rule either).
        rules = _apim_rules(plan)
    elif role == "engine":
        rules += _engine_rules(plan)
    else:  # pragma: no cover - roles are fixed
        raise ValueError(role)
    rules.append(_deny_all_inbound())
    return rules


# ---------------------------------------------------------------------------------------------
# Args and component
# ---------------------------------------------------------------------------------------------


class AzureNetworkArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack (rendered as tags).")
    resource_group_name: StrInput = Field(description="Resource group every resource goes in (name or Output).")
    location: str = Field(description="Azure region of the VNet, e.g. westeurope.")
    cidr: str = Field(default="10.50.0.0/16", description="IPv4 range of the VNet, a private /16 to /18. Default 10.50.0.0/16.")
    internal_client_cidrs: tuple[str, ...] = Field(
        default=(),
        description=(
            "Ranges allowed to reach the model servers and internal load balancers (e.g. peered VNets, "
            "on-premises through a gateway). Default: the gateway's engine subnet with `gateway_subnets`, "
            "else the VNet's own range."
        ),
    )
    compute_ports: tuple[int, ...] = Field(
        default=(8000,), description="TCP ports of the compute subnet open to the internal clients. Default (8000,): vLLM and Triton HTTP."
    )
    public_ingress: bool = Field(
        default=False, description="Admit 80/443 from the Internet to the lb subnet (an internet-facing LB or App Gateway). Default false."
    )
    app_gateway: bool = Field(
        default=False, description="The lb subnet hosts an Application Gateway v2: admit GatewayManager on 65200-65535. Default false."
    )
    ssh_source_cidrs: tuple[str, ...] = Field(
        default=(), description="Ranges allowed to SSH into the compute subnet (e.g. an Azure Bastion subnet). Default none."
    )
    compute_peer_ports: tuple[int, ...] = Field(
        default=(),
        description="TCP ports the compute subnet's VMs may reach on each other, and only they (a GPU-VM router to its "
        "group's model servers). Default none.",
    )
    compute_https_egress_only: bool = Field(
        default=True, description="The compute subnet may only open HTTPS connections (VNet and Internet). Default true."
    )
    aks_pod_cidrs: tuple[str, ...] = Field(
        default=(),
        description=(
            "Overlay pod ranges of the AKS cluster on the aks subnet (Azure CNI Overlay): its NSG admits node-to-pod and "
            "pod-to-pod traffic, which Azure filters by pod address. Default none (no overlay cluster)."
        ),
    )
    nat_idle_timeout_minutes: int = Field(
        default=10, ge=4, le=120, description="Idle timeout of the NAT gateway's flows, 4 to 120. Default 10."
    )
    gateway_subnets: bool = Field(
        default=False,
        description=(
            "Also create the gateway's subnets: apim (delegated to Microsoft.Web/serverFarms, APIM v2 VNet integration) and "
            "engine (delegated to Microsoft.App/environments, the Container Apps environment). Default false."
        ),
    )

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if not _LOCATION.match(value):
            raise ValueError(f"{value!r} is not an Azure region name; e.g. westeurope, eastus2")
        return value

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return check_vnet_cidr(value)

    @field_validator("internal_client_cidrs", "ssh_source_cidrs", "aks_pod_cidrs")
    @classmethod
    def _ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR block such as 10.0.0.0/16") from None
            if net.prefixlen == 0:
                raise ValueError(f"{cidr!r} is the whole internet; internal ranges only (use public_ingress for 80/443)")
        return value

    @field_validator("compute_ports")
    @classmethod
    def _ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("give at least one port (the model servers' HTTP port, e.g. 8000)")
        return cls._peer_ports(value)

    @field_validator("compute_peer_ports")
    @classmethod
    def _peer_ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"{port} is not a TCP port (1 to 65535)")
            if port == 22:
                raise ValueError("22 is SSH; give ssh_source_cidrs to open it to specific ranges")
        return tuple(sorted(set(value)))

    @property
    def clients(self) -> tuple[str, ...]:
        """Who may call the model servers and internal load balancers: with the gateway's subnets, its engine
        subnet (where the Container Apps environment's outbound calls come from) plus the ranges given;
        otherwise the ranges given, or the whole VNet when none are."""
        if self.gateway_subnets:
            return (azure_subnet_plan(self.cidr).engine, *self.internal_client_cidrs)
        return self.internal_client_cidrs or (self.cidr,)


class AzureNetwork(pulumi.ComponentResource):
    vnet_id: pulumi.Output[str]
    vnet_name: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]
    """Subnet id by role: compute, lb, private-endpoints, aks (and apim, engine with gateway_subnets)."""
    nsg_ids: dict[str, pulumi.Output[str]]
    private_dns_zone_ids: dict[str, pulumi.Output[str]]
    """Private DNS zone id by private-link group: vault, blob."""
    nat_public_ip: pulumi.Output[str | None]
    client_cidrs: tuple[str, ...]
    """The ranges the NSGs admit to the model servers and internal load balancers (`AzureNetworkArgs.clients`)."""

    def __init__(self, name: str, args: AzureNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AzureNetwork", name, None, opts)
        tags = azure_tags(args.labels)
        here = pulumi.ResourceOptions(parent=self)
        plan = azure_subnet_plan(args.cidr)
        common: dict[str, Any] = {"resource_group_name": args.resource_group_name, "tags": tags}

        vnet = network.VirtualNetwork(
            child(name, "vnet"),
            location=args.location,
            address_space={"address_prefixes": [plan.vnet]},
            # Subnets are separate resources below; the VNet must not list them or an update would drop them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
            **common,
        )
        nat_ip = network.PublicIPAddress(
            child(name, "nat-ip"),
            location=args.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            opts=here,
            **common,
        )
        nat = network.NatGateway(
            child(name, "nat"),
            location=args.location,
            sku={"name": "Standard"},
            idle_timeout_in_minutes=args.nat_idle_timeout_minutes,
            public_ip_addresses=[{"id": nat_ip.id}],
            opts=here,
            **common,
        )

        roles = SUBNET_ROLES + (GATEWAY_SUBNET_ROLES if args.gateway_subnets else ())
        nsgs: dict[str, network.NetworkSecurityGroup] = {}
        for role in roles:
            rules = nsg_rules(
                role,
                plan,
                clients=args.clients,
                compute_ports=args.compute_ports,
                public_ingress=args.public_ingress,
                app_gateway=args.app_gateway,
                ssh_sources=args.ssh_source_cidrs,
                compute_https_egress_only=args.compute_https_egress_only,
                aks_pod_cidrs=args.aks_pod_cidrs,
                compute_peer_ports=args.compute_peer_ports,
            )
            nsgs[role] = network.NetworkSecurityGroup(
                child(name, f"{role}-nsg"),
                location=args.location,
                # nsg_rules builds SecurityRuleArgsDict-shaped plain data (pure, so its tests read it as dicts)
                security_rules=cast(list[network.SecurityRuleArgsDict], rules),
                opts=here,
                **common,
            )

        cidrs = plan.by_role(gateway=args.gateway_subnets)
        subnets: dict[str, network.Subnet] = {}
        previous: network.Subnet | None = None
        for role in roles:
            extra: dict[str, Any] = {}
            if role in ("compute", "aks", "apim", "engine"):
                extra["nat_gateway"] = {"id": nat.id}
            if role in SUBNET_DELEGATIONS:
                extra["delegations"] = [{"name": role, "service_name": SUBNET_DELEGATIONS[role]}]
            if role == "private-endpoints":
                # Lets the subnet's NSG (and route tables) apply to private endpoints too.
                extra["private_endpoint_network_policies"] = "Enabled"
            subnet = network.Subnet(
                child(name, role),
                resource_group_name=args.resource_group_name,
                virtual_network_name=vnet.name,
                subnet_name=role,
                address_prefix=cidrs[role],
                network_security_group={"id": nsgs[role].id},
                # Private subnets: no implicit outbound address; egress only through the NAT gateway.
                default_outbound_access=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous] if previous else []),
                **extra,
            )
            subnets[role] = subnet
            previous = subnet

        zones: dict[str, privatedns.PrivateZone] = {}
        for group, zone_name in PRIVATE_DNS_ZONES.items():
            zone = privatedns.PrivateZone(child(name, f"dns-{group}"), private_zone_name=zone_name, location="Global", opts=here, **common)
            privatedns.VirtualNetworkLink(
                child(name, f"dns-{group}-link"),
                resource_group_name=args.resource_group_name,
                private_zone_name=zone.name,
                location="Global",
                virtual_network={"id": vnet.id},
                registration_enabled=False,
                tags=tags,
                opts=here,
            )
            zones[group] = zone

        self.vnet_id = vnet.id
        self.vnet_name = vnet.name
        self.address_space = plan.vnet
        self.subnet_cidrs = cidrs
        self.subnet_ids = {role: s.id for role, s in subnets.items()}
        self.nsg_ids = {role: n.id for role, n in nsgs.items()}
        self.private_dns_zone_ids = {group: z.id for group, z in zones.items()}
        self.nat_public_ip = nat_ip.ip_address
        self.client_cidrs = args.clients
        self.register_outputs(
            {
                "vnet_id": self.vnet_id,
                "vnet_name": self.vnet_name,
                "subnet_ids": self.subnet_ids,
                "private_dns_zone_ids": self.private_dns_zone_ids,
                "nat_public_ip": self.nat_public_ip,
            }
        )
