"""CIDR arithmetic the network rules share: one home for parsing, containment and overlap."""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def network(cidr: str) -> Network | None:
    """`cidr` (or a bare address) as a network; None for anything else (a service tag, `*`, garbage)."""
    try:
        return ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return None


def within(inner: str, outer: str) -> bool:
    """Every address of `inner` is in `outer` (same IP version)."""
    a, b = network(inner), network(outer)
    return a is not None and b is not None and a.version == b.version and a.subnet_of(b)  # type: ignore[arg-type]


def overlaps(a: str, b: str) -> bool:
    """Some address is in both `a` and `b` (same IP version)."""
    x, y = network(a), network(b)
    return x is not None and y is not None and x.version == y.version and x.overlaps(y)  # type: ignore[arg-type]
