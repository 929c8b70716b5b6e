"""The subnet plan of a VPC: pure, deterministic, and stable when zones are added.

The VPC range is cut into 8 equal blocks:

    blocks 0-5   the private subnet of zone slot 1-6 (compute: GPU nodes, pods, tasks, endpoints)
    block 6      cut into 8 slices; slice 0-5 is the internal load-balancer subnet of zone slot 1-6
                 (internal ALBs only: no node or pod ever gets an address there, so a NetworkPolicy
                 can admit "the ALB" by these ranges without admitting every pod of the VPC CNI)
    block 7      cut into 8 slices; slice 0-5 is the public subnet of zone slot 1-6 (load balancers
                 and NAT gateways only)

A /16 gives private /19s (8,187 usable addresses per zone: GPU nodes and the pods of the VPC CNI
need many) and public /22s; a /20 gives private /23s and public /26s (still above the /27 an ALB
needs). Zone slot i always gets the same two blocks, whatever the zone count, so raising the count
later adds subnets and never moves an existing one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MIN_PREFIX = 16
MAX_PREFIX = 20
MAX_ZONES = 6
_BLOCK_BITS = 3  # 8 blocks; 6 zones + 1 spare + 1 for the public slices
_INTERNAL_LB_BLOCK = 6
_PUBLIC_BLOCK = 7
_PUBLIC_SLICE_BITS = 3

# Ranges AWS VPCs should draw from: RFC 1918 and the shared (carrier-grade NAT) range EKS uses for pods.
PRIVATE_RANGES = tuple(ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))


@dataclass(frozen=True)
class SubnetPlan:
    """The CIDRs of one VPC: `private[i]`, `internal_lb[i]` and `public[i]` belong to zone slot i + 1."""

    vpc: str
    private: tuple[str, ...]
    public: tuple[str, ...]
    internal_lb: tuple[str, ...] = ()


def check_vpc_cidr(cidr: str) -> str:
    """`cidr` in canonical form, or ValueError saying what is allowed."""
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError as err:
        raise ValueError(f"{cidr!r} is not an IPv4 network in CIDR notation ({err}); e.g. 10.40.0.0/16") from None
    if network.version != 4:
        raise ValueError(f"{cidr!r} is IPv6; the VPC range must be IPv4, e.g. 10.40.0.0/16")
    assert isinstance(network, ipaddress.IPv4Network)  # version 4 just checked; tells the checker too
    if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        raise ValueError(f"{cidr!r} is a /{network.prefixlen}; allowed: /{MIN_PREFIX} to /{MAX_PREFIX}")
    if not any(network.subnet_of(r) for r in PRIVATE_RANGES):
        allowed = ", ".join(str(r) for r in PRIVATE_RANGES)
        raise ValueError(f"{cidr!r} is not a private range; allowed inside {allowed}")
    return str(network)


def subnet_plan(cidr: str, zones: int) -> SubnetPlan:
    """The private and public subnet CIDRs of the first `zones` zone slots of VPC `cidr`."""
    network = ipaddress.ip_network(check_vpc_cidr(cidr))
    if not 1 <= zones <= MAX_ZONES:
        raise ValueError(f"zones={zones}; allowed: 1 to {MAX_ZONES}")
    blocks = list(network.subnets(prefixlen_diff=_BLOCK_BITS))
    slices = list(blocks[_PUBLIC_BLOCK].subnets(prefixlen_diff=_PUBLIC_SLICE_BITS))
    lb_slices = list(blocks[_INTERNAL_LB_BLOCK].subnets(prefixlen_diff=_PUBLIC_SLICE_BITS))
    return SubnetPlan(
        vpc=str(network),
        private=tuple(str(b) for b in blocks[:zones]),
        public=tuple(str(s) for s in slices[:zones]),
        internal_lb=tuple(str(s) for s in lb_slices[:zones]),
    )
