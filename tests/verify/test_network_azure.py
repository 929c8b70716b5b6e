"""network.azure-* and identity.azure-*: seeds on the recorded Azure plans (azure-dev: GPU VM scale set behind
an internal load balancer the engine routes to; azure-prod: AKS behind an internal ingress the engine routes
to), each one wiring mistake caught by exactly one rule; finding 3 (AKS and the Azure GPU VM part); the pure
NSG evaluation."""

from __future__ import annotations

import pytest
from pulumi_llm.verify import routes
from pulumi_llm.verify.facts import azure as facts
from pulumi_llm.verify.rules import identity_azure
from pulumi_llm.verify.rules import network_azure as rules

from .conftest import fired, resource

EDGE, SELF_HOSTED, CLOSED, NETPOL = "network.azure-edge", "network.azure-self-hosted", "network.azure-closed", "network.azure-netpol"
SECRETS, WEIGHTS = "identity.azure-secrets", "identity.azure-weights"
MINE = {
    EDGE,
    SELF_HOSTED,
    CLOSED,
    NETPOL,
    SECRETS,
    WEIGHTS,
    "identity.azure-prometheus",
    "network.azure-private-endpoints",
    "network.azure-overlay",
}
MODEL = "llama-3-1-8b-instruct"
READER_ROLE = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"


def nsg_rules(view, role: str) -> list[dict]:
    return resource(view, rules.NSG, f"llm-network-{role}-nsg")["inputs"]["securityRules"]


def nsg_rule(view, role: str, name: str) -> dict:
    return next(r for r in nsg_rules(view, role) if r["name"] == name)


def cluster(view) -> dict:
    return resource(view, rules.CLUSTER, "llm-aks-cluster")["inputs"]


def ingress_service(view) -> dict:
    return resource(view, rules.HELM, "llm-aks-ingress-nginx")["inputs"]["values"]["controller"]["service"]


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod"])
def test_shipped_azure_stacks_are_clean(recorded, stack):
    assert not fired(recorded(stack)) & MINE


# ---- finding 3: only the gateway's engine reaches the models -------------------------------------------
def test_finding_3_aks_enforces_network_policy_and_admits_only_the_engine(recorded):
    view = recorded("azure-prod")
    assert cluster(view)["networkProfile"]["networkPolicy"] == "cilium" and cluster(view)["networkProfile"]["networkDataplane"] == "cilium"
    engine = resource(view, rules.SUBNET, "llm-network-engine")["inputs"]["addressPrefix"]
    assert ingress_service(view)["loadBalancerSourceRanges"] == [engine]
    assert nsg_rule(view, "aks", "allow-clients")["sourceAddressPrefixes"] == [engine]


def test_finding_3_old_aks_nsg_fires(recorded):
    """The plan before the fix: the aks subnet admitted the whole VNet on every port (and, like every plan before
    the overlay fix, no pod range: network.azure-overlay)."""
    view = recorded("azure-prod")
    rules_ = nsg_rules(view, "aks")
    rules_[:] = [r for r in rules_ if r["name"] not in ("allow-cluster", "allow-clients")]
    rules_.append(
        {
            "name": "allow-vnet",
            "priority": 200,
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "*",
            "sourceAddressPrefix": "10.60.0.0/16",
            "destinationAddressPrefix": "10.60.0.0/18",
            "destinationPortRange": "*",
            "sourcePortRange": "*",
        }
    )
    assert fired(view) == {CLOSED, "network.azure-overlay"}


def test_finding_3_old_compute_nsg_fires(recorded):
    """The plan before the fix: the GPU VMs admitted the whole VNet on the server port."""
    view = recorded("azure-dev")
    nsg_rule(view, "compute", "allow-clients")["sourceAddressPrefixes"] = ["10.50.0.0/16"]
    assert fired(view) == {CLOSED}


# ---- edge ----------------------------------------------------------------------------------------------------
def test_seed_apim_nsg_lets_only_http_out_to_the_engine(recorded):
    view = recorded("azure-dev")
    nsg_rule(view, "apim", "allow-https-engine")["destinationPortRanges"] = ["80"]
    assert fired(view) == {EDGE}


# ---- self-hosted ----------------------------------------------------------------------------------------------
def test_seed_compute_nsg_opens_the_wrong_port(recorded):
    view = recorded("azure-dev")
    nsg_rule(view, "compute", "allow-clients")["destinationPortRanges"] = ["8001"]
    assert fired(view) == {SELF_HOSTED}


def test_seed_a_deny_with_a_lower_priority_number_wins(recorded):
    view = recorded("azure-dev")
    nsg_rules(view, "compute").append(
        {
            "name": "deny-engine",
            "priority": 150,
            "direction": "Inbound",
            "access": "Deny",
            "protocol": "Tcp",
            "sourceAddressPrefix": "10.50.83.0/24",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "8080",  # the backend port: the VMs' vLLM routers (gpu_vm/router_vm.py)
            "sourcePortRange": "*",
        }
    )
    assert fired(view) == {SELF_HOSTED}


def test_seed_probes_not_admitted(recorded):
    view = recorded("azure-dev")
    rules_ = nsg_rules(view, "compute")
    rules_[:] = [r for r in rules_ if r["name"] != "allow-lb-probes"]
    assert fired(view) == {SELF_HOSTED}


def test_seed_load_balancer_listens_on_another_port(recorded):
    view = recorded("azure-dev")
    resource(view, rules.LB, f"llm-vm-{MODEL}-lb")["inputs"]["loadBalancingRules"][0]["frontendPort"] = 8080
    assert fired(view) == {SELF_HOSTED}


def test_seed_ingress_admits_another_subnet(recorded):
    view = recorded("azure-prod")
    ingress_service(view)["loadBalancerSourceRanges"] = ["10.60.64.0/20"]
    assert fired(view) == {SELF_HOSTED}


# ---- closed -----------------------------------------------------------------------------------------------------
def test_seed_nsg_admits_the_internet(recorded):
    view = recorded("azure-dev")
    nsg_rule(view, "lb", "allow-http-https")["sourceAddressPrefixes"] = ["10.50.83.0/24", "0.0.0.0/0"]
    assert fired(view) == {CLOSED}


def test_seed_without_the_deny_all_the_default_rule_admits_the_vnet(recorded):
    view = recorded("azure-prod")
    rules_ = nsg_rules(view, "aks")
    rules_[:] = [r for r in rules_ if r["name"] != "deny-all-inbound"]
    assert fired(view) == {CLOSED}


def test_seed_engine_environment_not_internal(recorded):
    view = recorded("azure-dev")
    resource(view, "azure-native:app:ManagedEnvironment", "llm-gateway-engine-env")["inputs"]["vnetConfiguration"]["internal"] = False
    assert fired(view) == {CLOSED}


def test_seed_gpu_vm_with_a_public_ip(recorded):
    view = recorded("azure-dev")
    vmss = resource(view, rules.VMSS, f"llm-vm-{MODEL}-vmss")["inputs"]
    vmss["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]["ipConfigurations"][0][
        "publicIPAddressConfiguration"
    ] = {"name": "pip"}
    assert fired(view) == {CLOSED}


# ---- NetworkPolicy enforcement ------------------------------------------------------------------------------------
def test_seed_no_policy_engine(recorded):
    view = recorded("azure-prod")
    cluster(view)["networkProfile"]["networkPolicy"] = "none"
    assert fired(view) == {NETPOL}


def test_seed_cilium_policy_without_the_cilium_dataplane(recorded):
    view = recorded("azure-prod")
    cluster(view)["networkProfile"]["networkDataplane"] = "azure"
    assert fired(view) == {NETPOL}


# ---- identity ------------------------------------------------------------------------------------------------------
def test_seed_engine_key_vault_grant_with_the_wrong_role(recorded):
    view = recorded("azure-prod")
    resource(view, identity_azure.ASSIGNMENT, "llm-gateway-engine-kv-openai")["inputs"]["roleDefinitionId"] = READER_ROLE
    assert fired(view) == {SECRETS}


def test_seed_engine_key_vault_grant_on_another_secret(recorded):
    view = recorded("azure-prod")
    grant = resource(view, identity_azure.ASSIGNMENT, "llm-gateway-engine-kv-openai")["inputs"]
    grant["scope"] = grant["scope"].replace("/secrets/openai", "/secrets/anthropic")
    assert fired(view) == {SECRETS}


def test_seed_vault_without_rbac(recorded):
    view = recorded("azure-dev")
    resource(view, identity_azure.VAULT, "llm-vault-vault")["inputs"]["properties"]["enableRbacAuthorization"] = False
    assert fired(view) == {SECRETS}


def test_seed_blob_reader_scoped_to_the_wrong_resource(recorded):
    view = recorded("azure-dev")
    vault = resource(view, identity_azure.VAULT, "llm-vault-vault")["id"]
    resource(view, identity_azure.ASSIGNMENT, f"llm-vm-{MODEL}-blob-reader")["inputs"]["scope"] = vault
    assert fired(view) == {WEIGHTS}


def test_seed_blob_grant_with_a_role_that_reads_no_blobs(recorded):
    view = recorded("azure-dev")
    resource(view, identity_azure.ASSIGNMENT, f"llm-vm-{MODEL}-blob-reader")["inputs"]["roleDefinitionId"] = READER_ROLE
    assert fired(view) == {WEIGHTS}


def test_blob_reader_at_the_account_or_group_counts(recorded):
    view = recorded("azure-dev")
    grant = resource(view, identity_azure.ASSIGNMENT, f"llm-vm-{MODEL}-blob-reader")["inputs"]
    grant["scope"] = resource(view, identity_azure.ACCOUNT, "llm-models-account")["id"]
    assert not fired(view) & MINE
    grant["scope"] = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/llm-rg"
    assert not fired(view) & MINE


# ---- pure NSG evaluation ------------------------------------------------------------------------------------------
VNET = ("10.50.0.0/16",)


def test_nsg_first_match_by_priority_then_default_rules():
    allow = {
        "name": "allow",
        "priority": 200,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "sourceAddressPrefixes": ["10.50.83.0/24"],
        "destinationAddressPrefix": "10.50.64.0/20",
        "destinationPortRanges": ["8000"],
    }
    deny = {
        "name": "deny",
        "priority": 100,
        "direction": "Inbound",
        "access": "Deny",
        "protocol": "*",
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "8000-8001",
    }
    assert rules.nsg_verdict([allow], "Inbound", "10.50.83.0/24", "10.50.64.0/20", 8000, VNET) == ("Allow", "allow (priority 200)")
    assert rules.nsg_verdict([allow, deny], "Inbound", "10.50.83.0/24", "10.50.64.0/20", 8000, VNET)[0] == "Deny"
    # Without a custom deny, Azure's AllowVnetInBound admits any VNet (or peered) source, the internet is refused.
    assert rules.nsg_verdict([allow], "Inbound", "10.50.0.0/18", "10.50.64.0/20", 8000, VNET)[1] == "AllowVnetInBound (priority 65000)"
    assert rules.nsg_verdict([allow], "Inbound", rules.PEERED + "/32", "10.50.64.0/20", 22, VNET)[0] == "Allow"
    assert (
        rules.nsg_verdict([allow], "Inbound", rules.INTERNET + "/32", "10.50.64.0/20", 8000, VNET)[1] == "DenyAllInBound (priority 65500)"
    )
    assert (
        rules.nsg_verdict([], "Outbound", "10.50.83.0/24", rules.INTERNET + "/32", 443, VNET)[1] == "AllowInternetOutBound (priority 65001)"
    )


def test_service_tags():
    assert rules.prefix_matches("AzureLoadBalancer", rules.PROBE_SOURCE, VNET)
    assert not rules.prefix_matches("AzureLoadBalancer", "10.50.0.4", VNET)
    assert rules.prefix_matches("VirtualNetwork", "10.50.83.0/24", VNET) and not rules.prefix_matches("VirtualNetwork", "8.8.8.8", VNET)
    assert rules.prefix_matches("Internet", "8.8.8.8", VNET) and not rules.prefix_matches("Internet", "10.50.0.1", VNET)
    assert {d["priority"] for d in facts.DEFAULT_RULES} == {65000, 65001, 65500}


def test_aks_policy_engines():
    assert rules.enforces_network_policy({"inputs": {"networkProfile": {"networkPolicy": "calico"}}})
    assert not rules.enforces_network_policy({"inputs": {"networkProfile": {}}})


# ---- Prometheus → Azure Monitor (azure-prod: managed Prometheus) ---------------------------------------------------
PROMETHEUS = "identity.azure-prometheus"


def prometheus_values(view) -> dict:
    return resource(view, rules.HELM, "llm-aks-prometheus")["inputs"]["values"]["prometheus"]


def test_seed_prometheus_runs_as_another_service_account(recorded):
    view = recorded("azure-prod")
    prometheus_values(view)["serviceAccount"]["name"] = "prometheus"
    assert fired(view) == {PROMETHEUS}


def test_seed_prometheus_pods_not_labelled_for_workload_identity(recorded):
    view = recorded("azure-prod")
    del prometheus_values(view)["prometheusSpec"]["podMetadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL]
    assert fired(view) == {PROMETHEUS}


def test_seed_metrics_publisher_on_the_endpoint_not_the_rule(recorded):
    view = recorded("azure-prod")
    endpoint = resource(view, "azure-native:monitor:DataCollectionEndpoint", "llm-aks-prometheus-dce")["id"]
    resource(view, identity_azure.ASSIGNMENT, "llm-aks-monitoring-kps-prometheus-dcr")["inputs"]["scope"] = endpoint
    assert fired(view) == {PROMETHEUS}


def test_seed_federation_for_another_audience(recorded):
    view = recorded("azure-prod")
    resource(view, identity_azure.FEDERATION, "llm-aks-monitoring-kps-prometheus-federation")["inputs"]["audiences"] = ["api://other"]
    assert fired(view) == {PROMETHEUS}


# ---- callers → private endpoints ------------------------------------------------------------------------------------
PRIVATE_ENDPOINTS = "network.azure-private-endpoints"


def test_seed_private_endpoint_nsg_on_the_wrong_port(recorded):
    view = recorded("azure-dev")
    nsg_rule(view, "private-endpoints", "allow-https-vnet")["destinationPortRanges"] = ["8443"]
    assert fired(view) == {PRIVATE_ENDPOINTS}


def test_seed_apim_nsg_does_not_let_it_out_to_the_vault(recorded):
    view = recorded("azure-prod")
    rules_ = nsg_rules(view, "apim")
    rules_[:] = [r for r in rules_ if r["name"] != "allow-https-private-endpoints"]
    assert fired(view) == {PRIVATE_ENDPOINTS}


def test_seed_gpu_vms_may_only_leave_for_the_internet(recorded):
    view = recorded("azure-dev")
    rules_ = nsg_rules(view, "compute")
    rules_[:] = [r for r in rules_ if r["name"] != "allow-https-vnet"]
    assert fired(view) == {PRIVATE_ENDPOINTS}


def test_seed_blob_endpoint_without_its_dns_zone_group(recorded):
    view = recorded("azure-dev")
    view.resources.remove(resource(view, rules.DNS_GROUP, "llm-models-blob-dns"))
    assert fired(view) == {PRIVATE_ENDPOINTS}


def test_seed_engine_calls_the_ingress_with_https_on_port_80(recorded):
    view = recorded("azure-prod")
    app = view.of_type(rules.APP)[0]["inputs"]
    env = next(e for e in app["template"]["containers"][0]["env"] if e["name"] == routes.self_hosted_urls(view)[MODEL].variable)
    env["value"] = env["value"].replace("http://pending/", "https://pending:80/")
    assert fired(view) == {SELF_HOSTED}


# ---- Azure CNI Overlay --------------------------------------------------------------------------------------------------
OVERLAY = "network.azure-overlay"


def test_overlay_pod_range_admitted_by_the_aks_nsg(recorded):
    view = recorded("azure-prod")
    pods = cluster(view)["networkProfile"]["podCidr"]
    assert pods in nsg_rule(view, "aks", "allow-cluster")["destinationAddressPrefixes"]


def test_seed_aks_nsg_forgets_the_pod_range(recorded):
    """The plan before the fix: only the node subnet admitted, so pod-to-pod traffic (DNS) hit the deny-all."""
    view = recorded("azure-prod")
    rule_ = nsg_rule(view, "aks", "allow-cluster")
    rule_["sourceAddressPrefixes"] = rule_["destinationAddressPrefixes"] = ["10.60.0.0/18"]
    assert fired(view) == {OVERLAY}


def test_seed_pod_range_moved_without_the_nsg(recorded):
    view = recorded("azure-prod")
    cluster(view)["networkProfile"]["podCidr"] = "100.64.0.0/16"
    assert fired(view) == {OVERLAY}


# ---- review: role assignments by principal id, scopes down the resource's own group ---------------------------------
def test_seed_blob_reader_granted_to_another_principal(recorded):
    """The assignment still waits for the VMs' identity, but grants the role to another principal."""
    view = recorded("azure-dev")
    engine = resource(view, identity_azure.IDENTITY, "llm-gateway-engine-identity")
    resource(view, identity_azure.ASSIGNMENT, f"llm-vm-{MODEL}-blob-reader")["inputs"]["principalId"] = identity_azure.principal_id(engine)
    assert fired(view) == {WEIGHTS}


def test_seed_engine_secret_grant_to_another_principal(recorded):
    view = recorded("azure-dev")
    resource(view, identity_azure.ASSIGNMENT, "llm-gateway-engine-kv-openai")["inputs"]["principalId"] = (
        "11111111-2222-4000-8000-333333333333"
    )
    assert fired(view) == {SECRETS}


def test_recorded_grants_carry_the_identitys_principal_id(recorded):
    view = recorded("azure-dev")
    vms = resource(view, identity_azure.IDENTITY, f"llm-vm-{MODEL}-identity")
    assert resource(view, identity_azure.ASSIGNMENT, f"llm-vm-{MODEL}-blob-reader")["inputs"]["principalId"] == identity_azure.principal_id(
        vms
    )


def test_seed_blob_reader_on_another_resource_group(recorded):
    view = recorded("azure-dev")
    grant = resource(view, identity_azure.ASSIGNMENT, f"llm-vm-{MODEL}-blob-reader")["inputs"]
    grant["scope"] = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/someone-elses-rg"
    assert fired(view) == {WEIGHTS}


def test_blob_reader_at_the_subscription_counts(recorded):
    view = recorded("azure-dev")
    grant = resource(view, identity_azure.ASSIGNMENT, f"llm-vm-{MODEL}-blob-reader")["inputs"]
    grant["scope"] = "/subscriptions/00000000-0000-0000-0000-000000000001"
    assert not fired(view) & MINE
    grant["scope"] = resource(view, identity_azure.GROUP, "llm-rg")["id"]  # the plan's own group, by reference
    assert not fired(view) & MINE


# ---- review: endpoint network policies, the overlay's outbound half ---------------------------------------------------
@pytest.mark.parametrize("policies", ["Disabled", "RouteTableEnabled"])
def test_private_endpoint_subnet_without_nsg_policies_ignores_its_inbound_rules(recorded, policies):
    """Without network policies for NSGs on the endpoints' subnet, its NSG doesn't filter the endpoints: a wrong
    inbound port there drops nothing."""
    view = recorded("azure-dev")
    resource(view, rules.SUBNET, "llm-network-private-endpoints")["inputs"]["privateEndpointNetworkPolicies"] = policies
    nsg_rule(view, "private-endpoints", "allow-https-vnet")["destinationPortRanges"] = ["8443"]
    assert not fired(view) & MINE


def test_private_endpoint_callers_still_need_their_own_outbound(recorded):
    view = recorded("azure-dev")
    resource(view, rules.SUBNET, "llm-network-private-endpoints")["inputs"]["privateEndpointNetworkPolicies"] = "Disabled"
    rules_ = nsg_rules(view, "compute")
    rules_[:] = [r for r in rules_ if r["name"] != "allow-https-vnet"]
    assert fired(view) == {PRIVATE_ENDPOINTS}


def test_seed_aks_nsg_denies_pod_traffic_outbound(recorded):
    view = recorded("azure-prod")
    pods = cluster(view)["networkProfile"]["podCidr"]
    nsg_rules(view, "aks").append(
        {
            "name": "deny-pods-out",
            "priority": 300,
            "direction": "Outbound",
            "access": "Deny",
            "protocol": "*",
            "sourceAddressPrefix": pods,
            "destinationAddressPrefix": pods,
            "destinationPortRange": "*",
            "sourcePortRange": "*",
        }
    )
    assert fired(view) == {OVERLAY}
