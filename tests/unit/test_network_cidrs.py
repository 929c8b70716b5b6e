"""The pure subnet plan: exact CIDRs, no overlaps, stable when zones are added, one-line refusals."""

from __future__ import annotations

import ipaddress
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pulumi_llm.network.cidrs import check_vpc_cidr, subnet_plan


def test_default_vpc_gets_large_private_and_small_public_subnets() -> None:
    plan = subnet_plan("10.40.0.0/16", 2)
    assert plan.vpc == "10.40.0.0/16"
    assert plan.private == ("10.40.0.0/19", "10.40.32.0/19")
    assert plan.public == ("10.40.224.0/22", "10.40.228.0/22")
    assert plan.internal_lb == ("10.40.192.0/22", "10.40.196.0/22")
    # 8,187 usable addresses per zone for nodes and VPC-CNI pods (AWS reserves 5 per subnet).
    assert ipaddress.ip_network(plan.private[0]).num_addresses - 5 == 8187


def test_smallest_vpc_still_fits_six_zones_and_albs() -> None:
    plan = subnet_plan("192.168.16.0/20", 6)
    assert plan.private == (
        "192.168.16.0/23",
        "192.168.18.0/23",
        "192.168.20.0/23",
        "192.168.22.0/23",
        "192.168.24.0/23",
        "192.168.26.0/23",
    )
    assert plan.public[0] == "192.168.30.0/26" and plan.public[-1] == "192.168.31.64/26"
    # An ALB needs a /27 or larger with 8 free addresses.
    assert all(ipaddress.ip_network(p).prefixlen <= 27 for p in plan.public + plan.internal_lb)


@given(
    base=st.sampled_from(["10.0.0.0", "10.40.0.0", "172.16.0.0", "192.168.0.0", "100.64.0.0"]),
    prefix=st.integers(16, 20),
    zones=st.integers(1, 6),
)
def test_subnets_lie_inside_the_vpc_and_never_overlap(base: str, prefix: int, zones: int) -> None:
    vpc = cast(ipaddress.IPv4Network, ipaddress.ip_network(f"{base}/{prefix}"))  # subnet_plan plans IPv4
    plan = subnet_plan(str(vpc), zones)
    subnets = [cast(ipaddress.IPv4Network, ipaddress.ip_network(c)) for c in plan.private + plan.public + plan.internal_lb]
    assert len(plan.private) == len(plan.public) == len(plan.internal_lb) == zones
    assert all(s.subnet_of(vpc) for s in subnets)
    assert all(not a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])
    assert all(
        ipaddress.ip_network(p).num_addresses >= 8 * ipaddress.ip_network(q).num_addresses
        for p, q in zip(plan.private, plan.public, strict=False)
    )


@given(cidr=st.sampled_from(["10.40.0.0/16", "172.20.0.0/18", "192.168.0.0/20"]), fewer=st.integers(1, 6), more=st.integers(1, 6))
def test_adding_zones_never_moves_an_existing_subnet(cidr: str, fewer: int, more: int) -> None:
    small, large = subnet_plan(cidr, min(fewer, more)), subnet_plan(cidr, max(fewer, more))
    assert large.private[: len(small.private)] == small.private
    assert large.public[: len(small.public)] == small.public
    assert large.internal_lb[: len(small.internal_lb)] == small.internal_lb


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("10.40.0.0/15", "'10.40.0.0/15' is a /15; allowed: /16 to /20"),
        ("10.40.0.0/21", "'10.40.0.0/21' is a /21; allowed: /16 to /20"),
        ("10.40.0.0", "'10.40.0.0' is a /32; allowed: /16 to /20"),
        ("8.8.0.0/16", "'8.8.0.0/16' is not a private range; allowed inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10"),
        ("fd00::/16", "'fd00::/16' is IPv6; the VPC range must be IPv4, e.g. 10.40.0.0/16"),
    ],
)
def test_bad_vpc_ranges_are_refused_with_what_is_allowed(cidr: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        check_vpc_cidr(cidr)
    assert str(err.value) == message


@pytest.mark.parametrize("cidr", ["10.40.0.1/16", "ten/16", "10.40.0.0/33"])
def test_malformed_or_host_bits_set_is_refused(cidr: str) -> None:
    with pytest.raises(ValueError, match=r"is not an IPv4 network in CIDR notation .* e\.g\. 10\.40\.0\.0/16$"):
        check_vpc_cidr(cidr)


def test_zone_count_outside_one_to_six_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^zones=7; allowed: 1 to 6$"):
        subnet_plan("10.40.0.0/16", 7)
