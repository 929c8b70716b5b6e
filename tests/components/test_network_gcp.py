"""GcpNetwork: custom-mode VPC, private subnet with GKE ranges and flow logs, proxy-only subnet, NAT, and
firewall rules that never admit the internet; under the mock runtime with default providers disabled."""

from __future__ import annotations

from typing import Any, cast

import pulumi
import pulumi_gcp as gcp
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm.errors import UserError
from pulumi_llm.labels import CommonLabels
from pulumi_llm.network.gcp import HEALTH_CHECK_RANGES, IAP_TCP_RANGE, GcpNetwork, GcpNetworkArgs, check_ranges

REGION = "europe-west4"
OPEN = {"0.0.0.0/0", "::/0"}


def make_args(**overrides: Any) -> GcpNetworkArgs:
    return GcpNetworkArgs(**{"labels": CommonLabels("prod", "prod"), "region": REGION, **overrides})


def plan(**overrides: Any):
    args = make_args(**overrides)

    def program() -> None:
        provider = gcp.Provider("gcp", project="acme-prod", region=REGION)
        network = GcpNetwork("llm-net", args, opts=pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("subnet", network.subnet_id)

    return run(program, region=REGION)


@pytest.fixture(scope="module")
def records():
    return plan()


@pytest.fixture(scope="module")
def named(records):
    return by_name(records)


def error(**overrides: Any) -> str:
    with pytest.raises(UserError) as caught:
        make_args(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_children_are_exactly_these_and_use_the_stack_provider(records) -> None:
    network = only(records, "pulumi-llm:index:GcpNetwork")
    assert children(records, network) == [
        ("gcp:compute/firewall:Firewall", "llm-net-allow-health-checks"),
        ("gcp:compute/firewall:Firewall", "llm-net-allow-lb-proxies"),
        ("gcp:compute/network:Network", "llm-net-vpc"),
        ("gcp:compute/router:Router", "llm-net-router"),
        ("gcp:compute/routerNat:RouterNat", "llm-net-nat"),
        ("gcp:compute/subnetwork:Subnetwork", "llm-net-proxy-subnet"),
        ("gcp:compute/subnetwork:Subnetwork", "llm-net-subnet"),
    ]
    provider = only(records, "pulumi:providers:gcp")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("gcp:"))


def test_vpc_is_custom_mode(named) -> None:
    vpc = named["llm-net-vpc"].inputs
    assert vpc["autoCreateSubnetworks"] is False and vpc["routingMode"] == "REGIONAL"


def test_compute_subnet_is_private_logged_and_carries_the_gke_ranges(named) -> None:
    subnet = named["llm-net-subnet"].inputs
    assert (subnet["region"], subnet["ipCidrRange"], subnet["stackType"]) == (REGION, "10.40.0.0/20", "IPV4_ONLY")
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["logConfig"] == {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5, "metadata": "INCLUDE_ALL_METADATA"}
    assert subnet["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.44.0.0/14"},
        {"rangeName": "services", "ipCidrRange": "10.40.32.0/20"},
    ]
    assert subnet["network"] == named["llm-net-proxy-subnet"].inputs["network"]
    assert subnet["network"].startswith("llm-net-vpc-")


def test_proxy_only_subnet_serves_the_regional_managed_load_balancers(named) -> None:
    proxy = named["llm-net-proxy-subnet"].inputs
    assert (proxy["purpose"], proxy["role"], proxy["ipCidrRange"], proxy["region"]) == (
        "REGIONAL_MANAGED_PROXY",
        "ACTIVE",
        "10.40.16.0/23",
        REGION,
    )
    assert "privateIpGoogleAccess" not in proxy and "logConfig" not in proxy


def test_nat_covers_the_subnet_and_logs_errors_only(named) -> None:
    router = named["llm-net-router"].inputs
    assert (router["name"], router["region"]) == ("prod-llm-net-router", REGION)
    nat = named["llm-net-nat"].inputs
    assert nat["router"] == router["name"] and nat["region"] == REGION
    assert nat["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert [s["sourceIpRangesToNats"] for s in nat["subnetworks"]] == [["ALL_IP_RANGES"]]
    assert nat["subnetworks"][0]["name"].startswith("llm-net-subnet-")
    assert nat["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}


def firewall_sources(records) -> list[str]:
    return [source for r in of_type(records, "gcp:compute/firewall:Firewall") for source in r.inputs["sourceRanges"]]


def test_health_checks_and_proxies_reach_only_the_server_port_of_tagged_instances(named) -> None:
    health = named["llm-net-allow-health-checks"].inputs
    assert health["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"] == list(HEALTH_CHECK_RANGES)
    proxies = named["llm-net-allow-lb-proxies"].inputs
    assert proxies["sourceRanges"] == ["10.40.16.0/23"]
    for rule in (health, proxies):
        assert (rule["direction"], rule["targetTags"]) == ("INGRESS", ["pulumi-llm-server"])
        assert rule["allows"] == [{"protocol": "tcp", "ports": ["8000"]}]
        assert "denies" not in rule and rule["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"}


def test_no_rule_admits_the_internet_or_ssh_by_default(records) -> None:
    assert not OPEN & set(firewall_sources(records))
    ports = [p for r in of_type(records, "gcp:compute/firewall:Firewall") for a in r.inputs["allows"] for p in a["ports"]]
    assert "22" not in ports
    assert all(r.inputs["direction"] == "INGRESS" for r in of_type(records, "gcp:compute/firewall:Firewall"))


def test_iap_ssh_is_opt_in_and_only_from_iap() -> None:
    records = plan(enable_iap_ssh=True, server_ports=(8000, 8002))
    rule = by_name(records)["llm-net-allow-iap-ssh"].inputs
    assert rule["sourceRanges"] == [IAP_TCP_RANGE] == ["35.235.240.0/20"]
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["22"]}] and rule["targetTags"] == ["pulumi-llm-server"]
    assert by_name(records)["llm-net-allow-health-checks"].inputs["allows"] == [{"protocol": "tcp", "ports": ["8000", "8002"]}]
    assert not OPEN & set(firewall_sources(records))


def test_outputs_name_the_ranges_and_the_tag() -> None:
    args = make_args()
    seen: dict[str, Any] = {}

    def program() -> None:
        provider = gcp.Provider("gcp", project="acme-prod", region=REGION)
        network = GcpNetwork("llm-net", args, opts=pulumi.ResourceOptions(providers=[provider]))
        seen.update(pods=network.pods_range_name, services=network.services_range_name, tag=network.server_tag)
        network.subnet_id.apply(lambda v: seen.setdefault("subnet", v))
        network.proxy_subnet_id.apply(lambda v: seen.setdefault("proxy", v))
        network.network_id.apply(lambda v: seen.setdefault("network", v))

    run(program, region=REGION)
    assert (seen["pods"], seen["services"], seen["tag"]) == ("pods", "services", "pulumi-llm-server")
    assert seen["subnet"].startswith("llm-net-subnet-") and seen["proxy"].startswith("llm-net-proxy-subnet-")
    assert seen["network"].startswith("llm-net-vpc-")


def test_gateway_egress_subnet_and_a_rule_admitting_only_it_to_tagged_gpu_nodes() -> None:
    records = plan(gateway_egress_cidr="10.40.18.0/26", gateway_target_tags=("pulumi-llm-gke-gpu",))
    named = by_name(records)
    network = only(records, "pulumi-llm:index:GcpNetwork")
    kids = children(records, network)
    assert ("gcp:compute/subnetwork:Subnetwork", "llm-net-gateway-subnet") in kids
    assert ("gcp:compute/firewall:Firewall", "llm-net-allow-gateway") in kids
    subnet = named["llm-net-gateway-subnet"].inputs
    assert subnet["ipCidrRange"] == "10.40.18.0/26" and subnet["privateIpGoogleAccess"] is True
    assert subnet["network"] == named["llm-net-subnet"].inputs["network"] and "purpose" not in subnet
    rule = named["llm-net-allow-gateway"].inputs
    assert rule["direction"] == "INGRESS" and rule["sourceRanges"] == ["10.40.18.0/26"]
    assert rule["targetTags"] == ["pulumi-llm-gke-gpu"]
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["8000"]}] and "denies" not in rule
    assert not OPEN & set(firewall_sources(records))


def test_gateway_subnet_without_target_tags_opens_no_port() -> None:
    records = plan(gateway_egress_cidr="10.40.18.0/26")
    names = {r.name for r in records}
    assert "llm-net-gateway-subnet" in names and "llm-net-allow-gateway" not in names
    assert "10.40.18.0/26" not in firewall_sources(records)


def test_gateway_subnet_id_is_an_output_only_when_asked_for() -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        provider = gcp.Provider("gcp", project="acme-prod", region=REGION)
        plain = GcpNetwork("plain", make_args(), opts=pulumi.ResourceOptions(providers=[provider]))
        egress = GcpNetwork("egress", make_args(gateway_egress_cidr="10.40.18.0/26"), opts=pulumi.ResourceOptions(providers=[provider]))
        seen.update(plain=plain.gateway_subnet_id, cidr=egress.gateway_egress_cidr)
        cast(pulumi.Output[str], egress.gateway_subnet_id).apply(lambda v: seen.setdefault("egress", v))  # set with an egress CIDR

    run(program, region=REGION)
    assert seen["plain"] is None and seen["cidr"] == "10.40.18.0/26"
    assert seen["egress"].startswith("egress-gateway-subnet-")


# --- bad input ------------------------------------------------------------------------------


def test_overlapping_ranges_are_refused() -> None:
    assert error(services_cidr="10.40.8.0/24") == "network.services_cidr = 10.40.8.0/24: overlaps subnet_cidr = 10.40.0.0/20"


def test_a_public_range_is_refused() -> None:
    assert error(subnet_cidr="8.8.0.0/20") == (
        "network.subnet_cidr = 8.8.0.0/20: not a private range; allowed inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10"
    )


def test_a_too_small_proxy_subnet_is_refused() -> None:
    assert error(proxy_only_cidr="10.40.16.0/27") == "network.proxy_only_cidr = 10.40.16.0/27: a /27; allowed: /16 to /26"


def test_bad_region_port_and_tag_are_refused() -> None:
    assert error(region="europe_west4") == "network.region = europe_west4: not a GCP region name such as us-central1 or europe-west4"
    assert error(server_ports=(22,)) == "network.server_ports = 22: a TCP port 1-65535 other than 22 (SSH is enable_iap_ssh)"
    assert error(server_tag="LLM") == (
        "network.server_tag = 'LLM': a network tag is 1-63 lowercase letters, digits and '-', starting with a letter"
    )


def test_bad_gateway_egress_ranges_and_tags_are_refused() -> None:
    assert error(gateway_egress_cidr="10.40.18.0/27") == "network.gateway_egress_cidr = 10.40.18.0/27: a /27; allowed: /16 to /26"
    assert error(gateway_egress_cidr="10.40.1.0/26") == "network.gateway_egress_cidr = 10.40.1.0/26: overlaps subnet_cidr = 10.40.0.0/20"
    assert error(gateway_target_tags=("pulumi-llm-gke-gpu",)) == (
        "network.gateway_target_tags: needs gateway_egress_cidr (the subnet the rule admits)"
    )
    assert error(gateway_egress_cidr="10.40.18.0/26", gateway_target_tags=("GPU",)) == (
        "network.gateway_target_tags = 'GPU': a network tag is 1-63 lowercase letters, digits and '-'"
    )


def test_check_ranges_normalizes_and_names_the_key() -> None:
    assert check_ranges({"subnet_cidr": "10.1.0.0/20"}) == {"subnet_cidr": "10.1.0.0/20"}
    with pytest.raises(UserError, match=r"^net\.pods_cidr = 10\.0\.0\.1/14: not an IPv4 network"):
        check_ranges({"pods_cidr": "10.0.0.1/14"}, "net")
