"""AzureNetwork: private subnets with their own NSGs, NAT egress, private DNS zones; under the mock runtime with
default providers disabled (every child must get the stack's provider through its parent)."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_azure_native.provider import Provider as AzureProvider
from pulumi_llm.labels import CommonLabels
from pulumi_llm.network.azure import (
    DENY_ALL_PRIORITY,
    PRIVATE_DNS_ZONES,
    AzureNetwork,
    AzureNetworkArgs,
    azure_subnet_plan,
)
from pydantic import ValidationError

LOCATION = "westeurope"
NSG = "azure-native:network:NetworkSecurityGroup"
SUBNET = "azure-native:network:Subnet"
OPEN_SOURCES = {"*", "Internet", "0.0.0.0/0", "::/0", "Any"}


def plan(**overrides: Any):
    args = AzureNetworkArgs(**{"labels": CommonLabels("prod", "prod"), "resource_group_name": "rg-llm", "location": LOCATION, **overrides})

    def program() -> None:
        provider = AzureProvider("azure", location=LOCATION)
        network = AzureNetwork("net", args, opts=pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("compute", network.subnet_ids["compute"])

    return run(program, region=LOCATION)


@pytest.fixture(scope="module")
def records():
    return plan()


@pytest.fixture(scope="module")
def named(records):
    return by_name(records)


def rules_of(named, role: str) -> list[dict[str, Any]]:
    return named[f"net-{role}-nsg"].inputs["securityRules"]


def sources(rule: dict[str, Any]) -> set[str]:
    return set(rule.get("sourceAddressPrefixes", [])) | ({rule["sourceAddressPrefix"]} if "sourceAddressPrefix" in rule else set())


def ports(rule: dict[str, Any]) -> set[str]:
    return set(rule.get("destinationPortRanges", [])) | ({rule["destinationPortRange"]} if "destinationPortRange" in rule else set())


# --- structure ------------------------------------------------------------------------------


def test_children_are_exactly_these_and_use_the_stack_provider(records) -> None:
    component = only(records, "pulumi-llm:index:AzureNetwork")
    assert children(records, component) == [
        ("azure-native:network:NatGateway", "net-nat"),
        (NSG, "net-aks-nsg"),
        (NSG, "net-compute-nsg"),
        (NSG, "net-lb-nsg"),
        (NSG, "net-private-endpoints-nsg"),
        ("azure-native:network:PublicIPAddress", "net-nat-ip"),
        (SUBNET, "net-aks"),
        (SUBNET, "net-compute"),
        (SUBNET, "net-lb"),
        (SUBNET, "net-private-endpoints"),
        ("azure-native:network:VirtualNetwork", "net-vnet"),
        ("azure-native:privatedns:PrivateZone", "net-dns-blob"),
        ("azure-native:privatedns:PrivateZone", "net-dns-vault"),
        ("azure-native:privatedns:VirtualNetworkLink", "net-dns-blob-link"),
        ("azure-native:privatedns:VirtualNetworkLink", "net-dns-vault-link"),
    ]
    provider = only(records, "pulumi:providers:azure-native")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("azure-native:"))
    assert all(r.inputs["resourceGroupName"] == "rg-llm" for r in records if r.type.startswith("azure-native:"))


def test_subnet_plan_is_pure_and_leaves_room() -> None:
    plan_16 = azure_subnet_plan("10.50.0.0/16")
    assert plan_16.by_role() == {
        "compute": "10.50.64.0/20",
        "lb": "10.50.80.0/24",
        "private-endpoints": "10.50.81.0/24",
        "aks": "10.50.0.0/18",
    }
    assert azure_subnet_plan("172.20.0.0/18").by_role(gateway=True) == {
        "compute": "172.20.16.0/22",
        "lb": "172.20.20.0/26",
        "private-endpoints": "172.20.20.64/26",
        "aks": "172.20.0.0/20",
        "apim": "172.20.20.128/26",
        "engine": "172.20.20.192/26",
    }
    assert (plan_16.apim, plan_16.engine) == ("10.50.82.0/24", "10.50.83.0/24")


def test_subnets_are_private_each_behind_its_own_nsg(named) -> None:
    plan_16 = azure_subnet_plan("10.50.0.0/16").by_role()
    for role, cidr in plan_16.items():
        subnet = named[f"net-{role}"].inputs
        assert (subnet["subnetName"], subnet["addressPrefix"]) == (role, cidr)
        assert subnet["defaultOutboundAccess"] is False
        assert subnet["networkSecurityGroup"]["id"].startswith(f"net-{role}-nsg-")
    assert named["net-vnet"].inputs["addressSpace"] == {"addressPrefixes": ["10.50.0.0/16"]}


def test_nat_gateway_gives_compute_and_aks_egress_only(named) -> None:
    assert named["net-nat-ip"].inputs["sku"] == {"name": "Standard", "tier": "Regional"}
    assert named["net-nat-ip"].inputs["publicIPAllocationMethod"] == "Static"
    nat = named["net-nat"].inputs
    assert nat["sku"] == {"name": "Standard"} and nat["publicIpAddresses"][0]["id"].startswith("net-nat-ip-")
    with_nat = {role for role in ("compute", "lb", "private-endpoints", "aks") if "natGateway" in named[f"net-{role}"].inputs}
    assert with_nat == {"compute", "aks"}
    assert [r.name for r in of_type(list(named.values()), "azure-native:network:PublicIPAddress")] == ["net-nat-ip"]


def test_private_endpoint_subnet_enforces_network_policies(named) -> None:
    assert named["net-private-endpoints"].inputs["privateEndpointNetworkPolicies"] == "Enabled"


def test_private_dns_zones_are_linked_to_the_vnet(named) -> None:
    assert PRIVATE_DNS_ZONES == {"vault": "privatelink.vaultcore.azure.net", "blob": "privatelink.blob.core.windows.net"}
    for group, zone in PRIVATE_DNS_ZONES.items():
        assert named[f"net-dns-{group}"].inputs["privateZoneName"] == zone
        link = named[f"net-dns-{group}-link"].inputs
        assert link["virtualNetwork"]["id"].startswith("net-vnet-")
        assert link["registrationEnabled"] is False and link["location"] == "Global"


# --- NSG rules ------------------------------------------------------------------------------


def test_no_nsg_admits_the_internet_inbound_by_default(records) -> None:
    for nsg in of_type(records, NSG):
        for rule in nsg.inputs["securityRules"]:
            if rule["direction"] == "Inbound" and rule["access"] == "Allow":
                assert not sources(rule) & OPEN_SOURCES, (nsg.name, rule["name"])


def test_every_nsg_admits_lb_probes_and_ends_with_deny_all(records) -> None:
    for nsg in of_type(records, NSG):
        rules = nsg.inputs["securityRules"]
        probe = next(r for r in rules if r["name"] == "allow-lb-probes")
        assert (probe["sourceAddressPrefix"], probe["access"], probe["direction"]) == ("AzureLoadBalancer", "Allow", "Inbound")
        deny = next(r for r in rules if r["name"] == "deny-all-inbound")
        assert (deny["priority"], deny["access"], deny["protocol"], deny["sourceAddressPrefix"]) == (DENY_ALL_PRIORITY, "Deny", "*", "*")
        inbound = [r for r in rules if r["direction"] == "Inbound"]
        assert len({r["priority"] for r in inbound}) == len(inbound)
        assert max(r["priority"] for r in inbound) == DENY_ALL_PRIORITY


def test_compute_admits_internal_clients_on_the_server_port_and_sends_only_https(named) -> None:
    rules = {r["name"]: r for r in rules_of(named, "compute")}
    assert set(rules) == {
        "allow-lb-probes",
        "allow-clients",
        "allow-https-vnet",
        "allow-https-internet",
        "deny-all-outbound",
        "deny-all-inbound",
    }
    clients = rules["allow-clients"]
    assert (sources(clients), ports(clients), clients["protocol"]) == ({"10.50.0.0/16"}, {"8000"}, "Tcp")
    assert clients["destinationAddressPrefix"] == "10.50.64.0/20"
    assert not any("22" in ports(r) for r in rules.values() if r["direction"] == "Inbound")
    outbound = sorted(
        (r["priority"], r["access"], r["destinationAddressPrefix"], tuple(sorted(ports(r))))
        for r in rules.values()
        if r["direction"] == "Outbound"
    )
    assert outbound == [(100, "Allow", "VirtualNetwork", ("443",)), (110, "Allow", "Internet", ("443",)), (4096, "Deny", "*", ("*",))]


def test_lb_private_endpoint_and_aks_subnets_admit_only_the_vnet(named) -> None:
    lb = next(r for r in rules_of(named, "lb") if r["name"] == "allow-http-https")
    assert (sources(lb), ports(lb)) == ({"10.50.0.0/16"}, {"80", "443"})
    pe = next(r for r in rules_of(named, "private-endpoints") if r["name"] == "allow-https-vnet")
    assert (sources(pe), ports(pe), pe["destinationAddressPrefix"]) == ({"10.50.0.0/16"}, {"443"}, "10.50.81.0/24")
    aks = {r["name"]: r for r in rules_of(named, "aks")}
    assert (sources(aks["allow-cluster"]), aks["allow-cluster"]["destinationAddressPrefix"]) == ({"10.50.0.0/18"}, "10.50.0.0/18")
    assert (sources(aks["allow-clients"]), ports(aks["allow-clients"])) == ({"10.50.0.0/16"}, {"80", "443"})
    for role in ("lb", "private-endpoints", "aks"):
        assert not [r for r in rules_of(named, role) if r["direction"] == "Outbound"]


def test_public_ingress_opens_only_80_and_443_of_the_lb_subnet_to_the_internet() -> None:
    records = plan(public_ingress=True, app_gateway=True)
    open_rules = [
        (nsg.name, rule)
        for nsg in of_type(records, NSG)
        for rule in nsg.inputs["securityRules"]
        if rule["direction"] == "Inbound" and rule["access"] == "Allow" and sources(rule) & OPEN_SOURCES
    ]
    assert [(name, rule["name"], ports(rule)) for name, rule in open_rules] == [("net-lb-nsg", "allow-http-https", {"80", "443"})]
    gateway = next(r for r in by_name(records)["net-lb-nsg"].inputs["securityRules"] if r["name"] == "allow-gateway-manager")
    assert (gateway["sourceAddressPrefix"], gateway["destinationPortRange"]) == ("GatewayManager", "65200-65535")


def test_internal_clients_ssh_sources_and_ports_are_arguments() -> None:
    named = by_name(
        plan(internal_client_cidrs=("10.60.0.0/16", "192.168.10.0/24"), compute_ports=(8000, 8002), ssh_source_cidrs=("10.50.90.0/26",))
    )
    rules = {r["name"]: r for r in named["net-compute-nsg"].inputs["securityRules"]}
    assert sources(rules["allow-clients"]) == {"10.60.0.0/16", "192.168.10.0/24"}
    assert ports(rules["allow-clients"]) == {"8000", "8002"}
    assert (sources(rules["allow-ssh"]), ports(rules["allow-ssh"])) == ({"10.50.90.0/26"}, {"22"})


def test_peer_ports_open_only_between_the_compute_subnets_vms_both_ways() -> None:
    # A GPU-VM router on each VM calls the group's servers: clients reach the router port, only the VMs the server's.
    named = by_name(plan(compute_ports=(8080,), compute_peer_ports=(8000,)))
    rules = {r["name"]: r for r in named["net-compute-nsg"].inputs["securityRules"]}
    assert ports(rules["allow-clients"]) == {"8080"}
    for name, direction in (("allow-peers", "Inbound"), ("allow-peers-out", "Outbound")):
        peer = rules[name]
        assert (peer["direction"], peer["access"], sources(peer), peer["destinationAddressPrefix"], ports(peer)) == (
            direction,
            "Allow",
            {"10.50.64.0/20"},
            "10.50.64.0/20",
            {"8000"},
        )
    # Before the explicit denies, and no other rule admits 8000 inbound.
    assert rules["allow-peers-out"]["priority"] < rules["deny-all-outbound"]["priority"]
    assert [n for n, r in rules.items() if r["direction"] == "Inbound" and r["access"] == "Allow" and "8000" in ports(r)] == ["allow-peers"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cidr": "10.50.0.0/20"}, "'10.50.0.0/20' is a /20; allowed: /16 to /18"),
        ({"cidr": "8.8.0.0/16"}, "'8.8.0.0/16' is not a private range"),
        ({"internal_client_cidrs": ("0.0.0.0/0",)}, "'0.0.0.0/0' is the whole internet; internal ranges only"),
        ({"compute_ports": (22,)}, "22 is SSH; give ssh_source_cidrs to open it to specific ranges"),
        ({"compute_peer_ports": (22,)}, "22 is SSH; give ssh_source_cidrs to open it to specific ranges"),
        ({"location": "West Europe"}, "'West Europe' is not an Azure region name"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"labels": CommonLabels("prod", "prod"), "resource_group_name": "rg", "location": LOCATION, **overrides}
    with pytest.raises(ValidationError, match=re.escape(message)):
        AzureNetworkArgs(**values)


# --- gateway subnets --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_named():
    return by_name(plan(gateway_subnets=True))


def test_gateway_subnets_only_when_asked(named, gateway_named) -> None:
    assert {n for n in named if n.startswith("net-") and named[n].type == SUBNET} == {
        "net-compute",
        "net-lb",
        "net-private-endpoints",
        "net-aks",
    }
    subnets = {n: r.inputs for n, r in gateway_named.items() if r.type == SUBNET}
    assert set(subnets) == {"net-compute", "net-lb", "net-private-endpoints", "net-aks", "net-apim", "net-engine"}
    # Created one after another (Azure refuses concurrent subnet writes on one VNet).
    assert subnets["net-apim"]["addressPrefix"] == "10.50.82.0/24"
    assert subnets["net-engine"]["addressPrefix"] == "10.50.83.0/24"


def test_with_the_gateway_only_its_engine_subnet_reaches_the_models(gateway_named) -> None:
    """Finding 3 on Azure: a VNet-wide allow on the compute and aks subnets let any workload in the VNet call a
    model server (directly or through the internal ingress) without passing the gateway's auth."""
    compute = {r["name"]: r for r in rules_of(gateway_named, "compute")}
    assert sources(compute["allow-clients"]) == {"10.50.83.0/24"}
    aks = {r["name"]: r for r in rules_of(gateway_named, "aks")}
    assert (sources(aks["allow-clients"]), ports(aks["allow-clients"])) == ({"10.50.83.0/24"}, {"80", "443"})
    assert sources(aks["allow-cluster"]) == {"10.50.0.0/18"}
    lb = next(r for r in rules_of(gateway_named, "lb") if r["name"] == "allow-http-https")
    assert sources(lb) == {"10.50.83.0/24"}


def test_overlay_pod_ranges_are_admitted_inside_the_aks_subnet() -> None:
    """Azure CNI Overlay leaves pod addresses on the wire: without them the aks NSG's deny-all dropped pod-to-pod
    traffic (DNS included) between nodes."""
    rules = {r["name"]: r for r in by_name(plan(aks_pod_cidrs=("192.168.0.0/16",)))["net-aks-nsg"].inputs["securityRules"]}
    cluster = rules["allow-cluster"]
    assert set(cluster["sourceAddressPrefixes"]) == set(cluster["destinationAddressPrefixes"]) == {"10.50.0.0/18", "192.168.0.0/16"}
    assert (cluster["protocol"], cluster["destinationPortRange"]) == ("*", "*")


def test_apim_and_engine_subnets_are_delegated_private_and_nat_egressed(gateway_named) -> None:
    for role, service in (("apim", "Microsoft.Web/serverFarms"), ("engine", "Microsoft.App/environments")):
        subnet = gateway_named[f"net-{role}"].inputs
        assert subnet["delegations"] == [{"name": role, "serviceName": service}]
        assert subnet["defaultOutboundAccess"] is False
        assert subnet["natGateway"]["id"].startswith("net-nat-")
        assert subnet["networkSecurityGroup"]["id"].startswith(f"net-{role}-nsg-")
    assert "delegations" not in gateway_named["net-compute"].inputs


def test_apim_subnet_admits_nothing_and_reaches_only_engine_endpoints_and_https(gateway_named) -> None:
    rules = {r["name"]: r for r in rules_of(gateway_named, "apim")}
    inbound = [r for r in rules.values() if r["direction"] == "Inbound"]
    assert [(r["name"], r["access"]) for r in inbound] == [("deny-all-inbound", "Deny")]
    outbound = sorted(
        (r["priority"], r["access"], r["destinationAddressPrefix"], tuple(sorted(ports(r))))
        for r in rules.values()
        if r["direction"] == "Outbound"
    )
    assert outbound == [
        (100, "Allow", "10.50.83.0/24", ("443", "80")),
        (110, "Allow", "10.50.81.0/24", ("443",)),
        (120, "Allow", "Internet", ("443",)),
        (4096, "Deny", "*", ("*",)),
    ]


def test_engine_subnet_admits_apim_and_itself_only(gateway_named) -> None:
    rules = {r["name"]: r for r in rules_of(gateway_named, "engine")}
    assert set(rules) == {"allow-lb-probes", "allow-apim", "allow-environment", "deny-all-inbound"}
    assert (sources(rules["allow-apim"]), ports(rules["allow-apim"]), rules["allow-apim"]["destinationAddressPrefix"]) == (
        {"10.50.82.0/24"},
        {"80", "443"},
        "10.50.83.0/24",
    )
    assert (sources(rules["allow-environment"]), rules["allow-environment"]["destinationAddressPrefix"]) == (
        {"10.50.83.0/24"},
        "10.50.83.0/24",
    )
