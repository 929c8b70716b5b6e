"""GcpNetwork: the custom-mode VPC that GPU workloads (GKE nodes, GPU VM groups) run in on Google Cloud.

One region, private by default:

* a custom-mode VPC (no auto subnets: nothing exists that the stack did not declare);
* one private regional subnet for compute, with Private Google Access (Cloud Storage, Artifact
  Registry, Secret Manager, Monitoring and Logging without public addresses) and VPC flow logs
  (5-second aggregation, sampled, all metadata), carrying two secondary ranges for GKE pods and
  services (VPC-native clusters);
* a proxy-only subnet (purpose REGIONAL_MANAGED_PROXY): the Envoy proxies of the regional internal
  (and regional external) Application Load Balancers live there and connect to the backends from it;
* with `gateway_egress_cidr`, a subnet for the gateway's Cloud Run Direct VPC egress (Cloud Run
  instances take their addresses from it; Google asks for a /26 or larger) and, with
  `gateway_target_tags`, a firewall rule admitting only that subnet to the server ports of the instances
  so tagged (GKE GPU nodes behind an internal passthrough load balancer, which keeps the client address);
* Cloud Router + Cloud NAT for outbound traffic (model hubs, image registries, OS packages), NAT
  logging on errors only;
* firewall rules, least open: Google's health-check ranges and the proxy-only subnet may reach the
  server ports of instances tagged `server_tag`; IAP's TCP-forwarding range may reach port 22 only
  when `enable_iap_ssh` is set. Every other ingress is refused by the VPC's implied deny-all rule;
  no rule admits 0.0.0.0/0.

The address plan is checked by a pure function (`check_ranges`): private IPv4 ranges, sizes within
bounds, no overlap. No cloud call is made; the resource tree is known from the args alone.
"""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_gcp.compute as compute
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import UserError
from ..labels import CommonLabels
from ..naming import child, dns_label
from ..validation import GCP_NETWORK_TAG as _TAG
from ..validation import GCP_REGION as _REGION

HEALTH_CHECK_RANGES: tuple[str, ...] = ("35.191.0.0/16", "130.211.0.0/22")
"""Where Google Cloud health-check probes (load balancers and MIG autohealing) come from."""
IAP_TCP_RANGE = "35.235.240.0/20"
"""Where Identity-Aware Proxy TCP forwarding (`gcloud compute ssh --tunnel-through-iap`) comes from."""
PODS_RANGE_NAME = "pods"
SERVICES_RANGE_NAME = "services"
DEFAULT_SERVER_TAG = "pulumi-llm-server"

# Ranges a VPC should draw from: RFC 1918 and the shared (carrier-grade NAT) range.
PRIVATE_RANGES = tuple(ipaddress.ip_network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
# (smallest prefix = largest range, largest prefix = smallest range) each range may have.
PREFIX_BOUNDS: dict[str, tuple[int, int]] = {
    "subnet_cidr": (16, 24),
    "proxy_only_cidr": (16, 26),  # Google: a proxy-only subnet must be /26 or larger; /23 recommended
    "pods_cidr": (9, 21),
    "services_cidr": (16, 27),
    "gateway_egress_cidr": (16, 26),  # Cloud Run Direct VPC egress: /26 or larger
}


class GcpNetworkArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: CommonLabels = Field(description="The common labels of the stack (names the Cloud Router).")
    region: str = Field(description="The region of the subnets, router and NAT, e.g. europe-west4.")
    subnet_cidr: str = Field(default="10.40.0.0/20", description="Primary range of the compute subnet, /16 to /24. Default 10.40.0.0/20.")
    proxy_only_cidr: str = Field(
        default="10.40.16.0/23",
        description="Range of the proxy-only subnet of the regional load balancers, /16 to /26. Default 10.40.16.0/23.",
    )
    pods_cidr: str = Field(default="10.44.0.0/14", description="Secondary range for GKE pods, /9 to /21. Default 10.44.0.0/14.")
    services_cidr: str = Field(default="10.40.32.0/20", description="Secondary range for GKE services, /16 to /27. Default 10.40.32.0/20.")
    server_ports: tuple[int, ...] = Field(
        default=(8000,),
        min_length=1,
        description="TCP ports of the model servers (serving and health-check ports) that probes and proxies may reach. Default (8000,).",
    )
    gateway_egress_cidr: str | None = Field(
        default=None,
        description="Range of a subnet for the gateway's Cloud Run Direct VPC egress, /16 to /26. Default none (no subnet).",
    )
    gateway_target_tags: tuple[str, ...] = Field(
        default=(),
        description="Network tags of the instances the gateway subnet may reach on server_ports (GKE GPU nodes). "
        "Default none (no rule: an internal Application Load Balancer's address is reached through its proxies).",
    )
    server_tag: str = Field(
        default=DEFAULT_SERVER_TAG,
        description=f"Network tag of the instances the firewall rules target; GPU VMs carry it. Default {DEFAULT_SERVER_TAG!r}.",
    )
    enable_iap_ssh: bool = Field(
        default=False, description="Admit SSH (22) from IAP's TCP-forwarding range to tagged instances. Default false (no SSH at all)."
    )
    flow_log_sampling: float = Field(
        default=0.5, gt=0, le=1, description="Share of flows the subnet's flow logs record, (0, 1]. Default 0.5."
    )
    nat_min_ports_per_vm: int = Field(
        default=128, ge=64, le=65536, description="NAT source ports reserved per VM (image pulls open many connections). Default 128."
    )
    config_path: str = Field(default="network", description="Key path named in error messages. Default 'network'.")

    @model_validator(mode="after")
    def _check(self) -> GcpNetworkArgs:
        where = self.config_path
        check_region(self.region, f"{where}.region")
        ranges = {
            "subnet_cidr": self.subnet_cidr,
            "proxy_only_cidr": self.proxy_only_cidr,
            "pods_cidr": self.pods_cidr,
            "services_cidr": self.services_cidr,
        }
        if self.gateway_egress_cidr is not None:
            ranges["gateway_egress_cidr"] = self.gateway_egress_cidr
        elif self.gateway_target_tags:
            raise UserError(f"{where}.gateway_target_tags: needs gateway_egress_cidr (the subnet the rule admits)")
        check_ranges(ranges, where)
        for tag in self.gateway_target_tags:
            if not _TAG.match(tag):
                raise UserError(f"{where}.gateway_target_tags = {tag!r}: a network tag is 1-63 lowercase letters, digits and '-'")
        for port in self.server_ports:
            if not 1 <= port <= 65535 or port == 22:
                raise UserError(f"{where}.server_ports = {port}: a TCP port 1-65535 other than 22 (SSH is enable_iap_ssh)")
        if len(set(self.server_ports)) != len(self.server_ports):
            raise UserError(f"{where}.server_ports: a port is listed twice")
        if not _TAG.match(self.server_tag):
            raise UserError(
                f"{where}.server_tag = {self.server_tag!r}: a network tag is 1-63 lowercase letters, digits and '-', starting with a letter"
            )
        return self


def check_region(region: str, where: str) -> str:
    """`region` if it is shaped like a GCP region name (us-central1, europe-west4); one UserError line otherwise."""
    if not _REGION.match(region):
        raise UserError(f"{where} = {region}: not a GCP region name such as us-central1 or europe-west4")
    return region


def check_ranges(ranges: dict[str, str], where: str = "network") -> dict[str, str]:
    """Each range a private IPv4 network within its size bounds, none overlapping another; the ranges in
    canonical form, or one UserError line naming the key."""
    networks: dict[str, ipaddress.IPv4Network] = {}
    for key, cidr in ranges.items():
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as err:
            raise UserError(f"{where}.{key} = {cidr}: not an IPv4 network in CIDR notation ({err})") from None
        if network.version != 4:
            raise UserError(f"{where}.{key} = {cidr}: IPv6; give an IPv4 range such as 10.40.0.0/20")
        low, high = PREFIX_BOUNDS[key]
        if not low <= network.prefixlen <= high:
            raise UserError(f"{where}.{key} = {cidr}: a /{network.prefixlen}; allowed: /{low} to /{high}")
        if not any(network.subnet_of(r) for r in PRIVATE_RANGES):  # type: ignore[arg-type]
            allowed = ", ".join(str(r) for r in PRIVATE_RANGES)
            raise UserError(f"{where}.{key} = {cidr}: not a private range; allowed inside {allowed}")
        for other_key, other in networks.items():
            if network.overlaps(other):
                raise UserError(f"{where}.{key} = {cidr}: overlaps {other_key} = {other}")
        networks[key] = network  # type: ignore[assignment]
    return {key: str(network) for key, network in networks.items()}


class GcpNetwork(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    network_self_link: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    subnet_self_link: pulumi.Output[str]
    proxy_subnet_id: pulumi.Output[str]
    gateway_subnet_id: pulumi.Output[str] | None
    gateway_egress_cidr: str | None
    pods_range_name: str
    services_range_name: str
    server_tag: str
    subnet_cidr: str
    proxy_only_cidr: str

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:GcpNetwork", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        region = args.region

        network = compute.Network(
            child(name, "vpc"),
            description=f"pulumi-llm {args.labels.stack}: GPU workloads",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=here,
        )
        subnet = compute.Subnetwork(
            child(name, "subnet"),
            description="GPU VMs and GKE nodes; no public addresses",
            network=network.id,
            region=region,
            ip_cidr_range=args.subnet_cidr,
            stack_type="IPV4_ONLY",
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": PODS_RANGE_NAME, "ip_cidr_range": args.pods_cidr},
                {"range_name": SERVICES_RANGE_NAME, "ip_cidr_range": args.services_cidr},
            ],
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": args.flow_log_sampling,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=here,
        )
        proxy_subnet = compute.Subnetwork(
            child(name, "proxy-subnet"),
            description="Envoy proxies of the region's managed (internal) Application Load Balancers",
            network=network.id,
            region=region,
            ip_cidr_range=args.proxy_only_cidr,
            purpose="REGIONAL_MANAGED_PROXY",
            role="ACTIVE",
            opts=here,
        )
        self._nat(name, args, network, subnet)
        gateway_subnet = self._ingress_firewalls(name, args, network)

        self.network_id = network.id
        self.network_self_link = network.self_link
        self.subnet_id = subnet.id
        self.subnet_self_link = subnet.self_link
        self.proxy_subnet_id = proxy_subnet.id
        self.gateway_subnet_id = gateway_subnet.id if gateway_subnet is not None else None
        self.gateway_egress_cidr = args.gateway_egress_cidr
        self.pods_range_name = PODS_RANGE_NAME
        self.services_range_name = SERVICES_RANGE_NAME
        self.server_tag = args.server_tag
        self.subnet_cidr = args.subnet_cidr
        self.proxy_only_cidr = args.proxy_only_cidr
        self.register_outputs(
            {
                "network_id": self.network_id,
                "network_self_link": self.network_self_link,
                "subnet_id": self.subnet_id,
                "subnet_self_link": self.subnet_self_link,
                "proxy_subnet_id": self.proxy_subnet_id,
                "gateway_subnet_id": self.gateway_subnet_id,
                "pods_range_name": self.pods_range_name,
                "services_range_name": self.services_range_name,
                "server_tag": self.server_tag,
            }
        )

    def _nat(self, name: str, args: GcpNetworkArgs, network: compute.Network, subnet: compute.Subnetwork) -> None:
        """Cloud NAT (through its Cloud Router) for the private subnet's primary and secondary ranges."""
        here = pulumi.ResourceOptions(parent=self)
        region = args.region
        # Cloud Routers are looked up by name (Cloud NAT references its router by name), so it is
        # named explicitly: stack and component keep it unique in the project and region.
        router_name = dns_label(f"{args.labels.stack}-{name}-router")
        router = compute.Router(
            child(name, "router"),
            name=router_name,
            description="Cloud NAT for the private subnet",
            network=network.id,
            region=region,
            opts=here,
        )
        compute.RouterNat(
            child(name, "nat"),
            router=router_name,
            region=region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            # Primary and secondary ranges: GKE pods reach the internet through the same NAT.
            subnetworks=[{"name": subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
            min_ports_per_vm=args.nat_min_ports_per_vm,
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[router]),
        )

    def _ingress_firewalls(self, name: str, args: GcpNetworkArgs, network: compute.Network) -> compute.Subnetwork | None:
        """The only ways in to the model servers' ports: health checks, the load balancers' proxies, the gateway's
        Cloud Run subnet (created here when asked, and returned), and SSH through IAP when enabled."""
        here = pulumi.ResourceOptions(parent=self)
        region = args.region
        ports = [str(p) for p in sorted(args.server_ports)]
        logged: compute.FirewallLogConfigArgsDict = {"metadata": "INCLUDE_ALL_METADATA"}
        compute.Firewall(
            child(name, "allow-health-checks"),
            description="Google health checks (load balancers, MIG autohealing) to the model servers' ports only",
            network=network.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=list(HEALTH_CHECK_RANGES),
            target_tags=[args.server_tag],
            allows=[{"protocol": "tcp", "ports": ports}],
            log_config=logged,
            opts=here,
        )
        compute.Firewall(
            child(name, "allow-lb-proxies"),
            description="The regional load balancers' proxies to the model servers' ports only",
            network=network.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=[args.proxy_only_cidr],
            target_tags=[args.server_tag],
            allows=[{"protocol": "tcp", "ports": ports}],
            log_config=logged,
            opts=here,
        )
        gateway_subnet = None
        if args.gateway_egress_cidr is not None:
            gateway_subnet = compute.Subnetwork(
                child(name, "gateway-subnet"),
                description="Cloud Run Direct VPC egress of the LLM gateway (its instances' addresses)",
                network=network.id,
                region=region,
                ip_cidr_range=args.gateway_egress_cidr,
                stack_type="IPV4_ONLY",
                private_ip_google_access=True,
                log_config={
                    "aggregation_interval": "INTERVAL_5_SEC",
                    "flow_sampling": args.flow_log_sampling,
                    "metadata": "INCLUDE_ALL_METADATA",
                },
                opts=here,
            )
            if args.gateway_target_tags:
                compute.Firewall(
                    child(name, "allow-gateway"),
                    description="The gateway's Cloud Run subnet, and nothing else, to the model servers' ports",
                    network=network.id,
                    direction="INGRESS",
                    priority=1000,
                    source_ranges=[args.gateway_egress_cidr],
                    target_tags=sorted(args.gateway_target_tags),
                    allows=[{"protocol": "tcp", "ports": ports}],
                    log_config=logged,
                    opts=here,
                )
        if args.enable_iap_ssh:
            compute.Firewall(
                child(name, "allow-iap-ssh"),
                description="SSH through Identity-Aware Proxy only (OS Login decides who)",
                network=network.id,
                direction="INGRESS",
                priority=1000,
                source_ranges=[IAP_TCP_RANGE],
                target_tags=[args.server_tag],
                allows=[{"protocol": "tcp", "ports": ["22"]}],
                log_config=logged,
                opts=here,
            )
        return gateway_subnet
