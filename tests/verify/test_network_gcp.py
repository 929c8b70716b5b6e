"""network.gcp-* and identity.gcp-*: seeds on the recorded GCP plans (gcp-dev: GPU VM MIG behind a regional
internal ALB, gateway to providers only; gcp-prod: GKE behind an internal passthrough LB the gateway routes
to), each one wiring mistake caught by exactly one rule; finding 3 (GKE part); the pure helpers."""

from __future__ import annotations

import pytest
from pulumi_llm.verify import routes
from pulumi_llm.verify.rules import identity_gcp
from pulumi_llm.verify.rules import network_gcp as rules

from .conftest import fired, manifest, resource

EDGE, SELF_HOSTED, CLOSED, NETPOL = "network.gcp-edge", "network.gcp-self-hosted", "network.gcp-closed", "network.gcp-netpol"
SECRETS, WEIGHTS = "identity.gcp-secrets", "identity.gcp-weights"
MINE = {EDGE, SELF_HOSTED, CLOSED, NETPOL, SECRETS, WEIGHTS, identity_gcp.ONE_GRANT, "network.gcp-google-apis"}
MODEL = "llama-3-1-8b-instruct"
FIREWALL, TEMPLATE, CLUSTER = rules.FIREWALL, rules.TEMPLATE, rules.CLUSTER
RUN = rules.RUN


def firewall(view, name: str) -> dict:
    return resource(view, FIREWALL, f"llm-network-{name}")["inputs"]


def run(view) -> dict:
    return view.of_type(RUN)[0]["inputs"]


def ilb(view) -> dict:
    return manifest(view, "Service", f"{MODEL}-internal", "llm")


def drop(view, type_: str, name: str) -> None:
    target = resource(view, type_, name)
    view.resources.remove(target)


@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_shipped_gcp_stacks_are_clean(recorded, stack):
    assert not fired(recorded(stack)) & MINE


# ---- finding 3, GKE: NetworkPolicy enforced, the internal LB admits only the gateway -------------------
def test_finding_3_gke_enforces_network_policy_and_admits_only_the_gateway(recorded):
    view = recorded("gcp-prod")
    cluster = resource(view, CLUSTER, "llm-gke-cluster")
    assert cluster["inputs"]["datapathProvider"] == "ADVANCED_DATAPATH" and rules.enforces_network_policy(cluster)
    gateway_subnet = resource(view, rules.SUBNET, "llm-network-gateway-subnet")["inputs"]["ipCidrRange"]
    assert ilb(view)["spec"]["loadBalancerSourceRanges"] == [gateway_subnet]
    assert firewall(view, "allow-gateway")["sourceRanges"] == [gateway_subnet]


# ---- edge -----------------------------------------------------------------------------------------------
def test_seed_neg_points_at_another_service(recorded):
    view = recorded("gcp-prod")
    view.of_type(rules.NEG)[0]["inputs"]["cloudRun"]["service"] = "pulumi-llm-gcp-prod-gateway-old"
    assert fired(view) == {EDGE}


def test_seed_run_ingress_internal_only_refuses_the_load_balancer(recorded):
    view = recorded("gcp-dev")
    run(view)["ingress"] = "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert fired(view) == {EDGE}


# ---- self-hosted: the model's own load balancer, and the gateway to the model ---------------------------
def test_seed_proxy_firewall_on_the_wrong_port(recorded):
    view = recorded("gcp-dev")
    firewall(view, "allow-lb-proxies")["allows"][0]["ports"] = ["9000"]  # not the named port (8080, the routers')
    assert fired(view) == {SELF_HOSTED}


def test_seed_template_tag_no_firewall_targets(recorded):
    view = recorded("gcp-dev")
    resource(view, TEMPLATE, f"llm-vm-{MODEL}-template")["inputs"]["tags"] = ["pulumi-llm-vm"]
    assert fired(view) == {SELF_HOSTED}


def test_seed_health_check_source_range_missing(recorded):
    view = recorded("gcp-dev")
    firewall(view, "allow-health-checks")["sourceRanges"] = ["35.191.0.0/16"]
    assert fired(view) == {SELF_HOSTED}


def test_seed_higher_priority_deny_shadows_the_proxies(recorded):
    view = recorded("gcp-dev")
    allow = resource(view, FIREWALL, "llm-network-allow-lb-proxies")
    deny = {
        **allow,
        "urn": allow["urn"] + "-deny",
        "name": "llm-network-deny-all",
        "id": "deny-all",
        "inputs": {**allow["inputs"], "allows": None, "denies": [{"protocol": "all"}], "priority": 900, "sourceRanges": ["10.0.0.0/8"]},
    }
    view.resources.append(deny)
    assert fired(view) == {SELF_HOSTED}


def test_seed_gateway_calls_a_port_the_internal_lb_does_not_serve(recorded):
    view = recorded("gcp-prod")
    ilb(view)["spec"]["ports"][0]["port"] = 8080
    assert fired(view) == {SELF_HOSTED}


def test_seed_run_without_direct_vpc_egress(recorded):
    view = recorded("gcp-prod")
    del run(view)["template"]["vpcAccess"]
    assert fired(view) == {SELF_HOSTED}


# ---- closed ------------------------------------------------------------------------------------------------
def test_seed_firewall_open_to_the_internet(recorded):
    view = recorded("gcp-dev")
    firewall(view, "allow-lb-proxies")["sourceRanges"] = ["0.0.0.0/0"]
    assert fired(view) == {CLOSED}


def test_seed_gpu_vm_with_an_external_address(recorded):
    view = recorded("gcp-dev")
    resource(view, TEMPLATE, f"llm-vm-{MODEL}-template")["inputs"]["networkInterfaces"][0]["accessConfigs"] = [{"networkTier": "PREMIUM"}]
    assert fired(view) == {CLOSED}


def test_seed_run_url_open_to_the_internet(recorded):
    view = recorded("gcp-prod")
    run(view)["ingress"] = "INGRESS_TRAFFIC_ALL"
    assert fired(view) == {CLOSED}


def test_internal_lb_without_source_ranges_is_open_to_the_vpc(recorded):
    """Two layers catch this one: the VPC side (GKE opens the load balancer to the whole VPC) here, and the
    model's NetworkPolicy, which admits only the gateway, in network.k8s-callers."""
    view = recorded("gcp-prod")
    del ilb(view)["spec"]["loadBalancerSourceRanges"]
    assert fired(view) == {CLOSED, "network.k8s-callers"}


def test_seed_gpu_node_firewall_admits_the_node_subnet(recorded):
    view = recorded("gcp-prod")
    firewall(view, "allow-gateway")["sourceRanges"] = ["10.40.18.0/26", "10.40.0.0/20"]
    assert fired(view) == {CLOSED}


# ---- NetworkPolicy enforcement -------------------------------------------------------------------------------
def test_seed_legacy_datapath_enforces_no_network_policy(recorded):
    view = recorded("gcp-prod")
    resource(view, CLUSTER, "llm-gke-cluster")["inputs"]["datapathProvider"] = "LEGACY_DATAPATH"
    assert fired(view) == {NETPOL}


def test_calico_add_on_counts_only_with_network_policy_enabled():
    calico = {
        "inputs": {"networkPolicy": {"enabled": True, "provider": "CALICO"}, "addonsConfig": {"networkPolicyConfig": {"disabled": False}}}
    }
    assert rules.enforces_network_policy(calico)
    calico["inputs"]["addonsConfig"]["networkPolicyConfig"]["disabled"] = True
    assert not rules.enforces_network_policy(calico)
    assert rules.enforces_network_policy({"inputs": {"enableAutopilot": True}})


# ---- identity ---------------------------------------------------------------------------------------------------
def test_seed_gateway_loses_the_accessor_on_one_secret(recorded):
    view = recorded("gcp-prod")
    drop(view, identity_gcp.SECRET_MEMBER, "llm-gateway-secret-gemini-accessor")
    assert fired(view) == {SECRETS}


def test_seed_accessor_granted_to_another_account(recorded):
    view = recorded("gcp-dev")
    resource(view, identity_gcp.SECRET_MEMBER, "llm-gateway-secret-openai-accessor")["inputs"]["member"] = (
        "serviceAccount:llm-gw-gcp-prod@acme-llm-prod.iam.gserviceaccount.com"
    )
    assert fired(view) == {SECRETS}


def test_seed_secret_manager_agent_cannot_use_the_cmek_key(recorded):
    view = recorded("gcp-prod")
    drop(view, identity_gcp.KEY_MEMBER, "llm-store-key-secretmanager")  # the stack's one (platform/gcp.py)
    assert fired(view) == {SECRETS}


def test_seed_bucket_reader_on_the_wrong_account(recorded):
    view = recorded("gcp-prod")
    grant = view.of_type(identity_gcp.BUCKET_MEMBER)[0]["inputs"]
    grant["member"] = "serviceAccount:llm-gcp-prod-nodes@acme-llm-prod.iam.gserviceaccount.com"
    assert fired(view) == {WEIGHTS}


def test_seed_workload_identity_for_another_namespace(recorded):
    view = recorded("gcp-prod")
    grant = view.of_type(identity_gcp.SA_MEMBER)[0]["inputs"]
    grant["member"] = grant["member"].replace("[llm/", "[default/")
    assert fired(view) == {WEIGHTS}


def test_seed_reader_condition_on_another_prefix(recorded):
    view = recorded("gcp-dev")
    condition = resource(view, identity_gcp.BUCKET_MEMBER, f"llm-vm-{MODEL}-model-read")["inputs"]["condition"]
    condition["expression"] = condition["expression"].replace("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.3-70B-Instruct")
    assert fired(view) == {WEIGHTS}


def test_seed_storage_agent_cannot_use_the_bucket_key(recorded):
    view = recorded("gcp-dev")
    drop(view, identity_gcp.KEY_MEMBER, "llm-models-key-storage-agent")
    assert fired(view) == {WEIGHTS}


# ---- pure helpers ---------------------------------------------------------------------------------------------------
def test_firewall_verdict_by_priority_tags_and_ranges():
    allow = {
        "name": "allow",
        "inputs": {
            "network": "n",
            "priority": 1000,
            "sourceRanges": ["10.0.0.0/8"],
            "targetTags": ["gpu"],
            "allows": [{"protocol": "tcp", "ports": ["8000-8010"]}],
        },
    }
    deny = {"name": "deny", "inputs": {"network": "n", "priority": 1000, "sourceRanges": ["10.1.0.0/16"], "denies": [{"protocol": "all"}]}}
    assert rules.firewall_verdict([allow], "n", "10.2.0.0/24", {"gpu"}, 8005) == ("allow", "allow")
    assert rules.firewall_verdict([allow], "n", "10.2.0.0/24", {"cpu"}, 8005)[0] == "deny"  # tag misses: implied deny
    assert rules.firewall_verdict([allow], "n", "0.0.0.0/0", {"gpu"}, 8005)[0] == "deny"  # only part of the source admitted
    assert rules.firewall_verdict([allow, deny], "n", "10.1.2.0/24", {"gpu"}, 8005) == ("deny", "deny")  # deny wins a tie
    assert rules.firewall_verdict([allow], "other", "10.2.0.0/24", {"gpu"}, 8005)[0] == "deny"


def test_url_port():
    assert routes.url_port("http://pending:8000/v1") == 8000
    assert routes.url_port("https://x/v1") == 443 and routes.url_port("http://x/v1") == 80 and routes.url_port("/v1") is None


def test_self_hosted_url_is_read_through_the_engine_config(recorded):
    """The URL is the variable the route's api_base names, whatever that variable is called."""
    view = recorded("gcp-prod")
    route = routes.self_hosted_urls(view)[MODEL]
    assert route.variable == "SELF_HOSTED_LLAMA_3_1_8B_INSTRUCT_URL" and route.port == 8000 and route.scheme == "http"
    env = next(e for e in run(view)["template"]["containers"][0]["envs"] if e["name"] == route.variable)
    env["name"] = "SOMETHING_ELSE"
    assert MODEL not in routes.self_hosted_urls(view) or routes.self_hosted_urls(view)[MODEL].port is None
    assert SELF_HOSTED in fired(view)


def test_seed_gateway_calls_the_internal_lb_over_https(recorded):
    view = recorded("gcp-prod")
    env = next(e for e in run(view)["template"]["containers"][0]["envs"] if e["name"] == routes.self_hosted_urls(view)[MODEL].variable)
    env["value"] = env["value"].replace("http://", "https://")
    assert fired(view) == {SELF_HOSTED}


def test_iap_ssh_is_not_an_opening_to_the_internet(recorded):
    view = recorded("gcp-dev")
    proxies = resource(view, FIREWALL, "llm-network-allow-lb-proxies")
    view.resources.append(
        {
            **proxies,
            "urn": proxies["urn"] + "-iap",
            "name": "llm-network-allow-iap-ssh",
            "id": "iap",
            "inputs": {**proxies["inputs"], "sourceRanges": ["35.235.240.0/20"], "allows": [{"protocol": "tcp", "ports": ["22"]}]},
        }
    )
    assert not fired(view) & MINE


# ---- readers → Cloud Storage --------------------------------------------------------------------------------------------
GOOGLE_APIS = "network.gcp-google-apis"


def test_seed_gpu_vms_on_a_subnet_without_google_access(recorded):
    view = recorded("gcp-dev")
    main = resource(view, rules.SUBNET, "llm-network-subnet")
    extra = {
        **main,
        "urn": main["urn"] + "-extra",
        "name": "llm-network-extra",
        "id": "llm-network-extra-0001",
        "inputs": {**main["inputs"], "ipCidrRange": "10.40.64.0/20", "privateIpGoogleAccess": False},
    }
    view.resources.append(extra)
    resource(view, TEMPLATE, f"llm-vm-{MODEL}-template")["inputs"]["networkInterfaces"][0]["subnetwork"] = extra["id"]
    assert fired(view) == {GOOGLE_APIS}


def test_nat_alone_reaches_google_apis(recorded):
    view = recorded("gcp-prod")
    resource(view, rules.SUBNET, "llm-network-subnet")["inputs"]["privateIpGoogleAccess"] = False
    assert not fired(view) & (MINE | {GOOGLE_APIS})
    resource(view, rules.NAT, "llm-network-nat")["inputs"]["subnetworks"] = []
    assert fired(view) == {GOOGLE_APIS}


# ---- review: partial denies, unset sources, target service accounts, internal ranges ---------------------------------
def add_firewall(view, name: str, **inputs) -> None:
    """A firewall rule like the proxies' one, with `inputs` replacing its fields (None removes one)."""
    proxies = resource(view, FIREWALL, "llm-network-allow-lb-proxies")
    merged = {k: v for k, v in {**proxies["inputs"], **inputs}.items() if v is not None}
    view.resources.append({**proxies, "urn": proxies["urn"] + "-" + name, "name": f"llm-network-{name}", "id": name, "inputs": merged})


def test_seed_higher_priority_deny_on_part_of_the_proxy_range(recorded):
    """GCP drops the overlapping addresses: some of the load balancer's proxies never reach the servers."""
    view = recorded("gcp-dev")
    add_firewall(view, "deny-half", allows=None, denies=[{"protocol": "tcp"}], priority=900, sourceRanges=["10.40.16.0/24"])
    assert fired(view) == {SELF_HOSTED}


def test_seed_ingress_rule_without_a_source_admits_the_internet(recorded):
    view = recorded("gcp-dev")
    del firewall(view, "allow-lb-proxies")["sourceRanges"]
    assert fired(view) == {CLOSED}


def test_seed_proxy_rule_aimed_at_another_service_account(recorded):
    view = recorded("gcp-dev")
    fw = firewall(view, "allow-lb-proxies")
    del fw["targetTags"]
    fw["targetServiceAccounts"] = ["someone-else@pulumi-llm-plan.iam.gserviceaccount.com"]
    assert fired(view) == {SELF_HOSTED}


def test_proxy_rule_aimed_at_the_servers_service_account_counts(recorded):
    view = recorded("gcp-dev")
    fw = firewall(view, "allow-lb-proxies")
    del fw["targetTags"]
    fw["targetServiceAccounts"] = [resource(view, TEMPLATE, f"llm-vm-{MODEL}-template")["inputs"]["serviceAccount"]["email"]]
    assert not fired(view) & MINE


def test_shared_address_space_is_no_opening_to_the_internet(recorded):
    view = recorded("gcp-dev")
    add_firewall(view, "allow-cgnat", sourceRanges=["100.64.0.0/16"])
    assert not fired(view) & MINE


def test_firewall_verdict_partial_deny_and_unset_sources():
    allow_all = {"name": "allow-any", "inputs": {"network": "n", "priority": 1000, "allows": [{"protocol": "tcp"}]}}
    assert rules.firewall_verdict([allow_all], "n", "0.0.0.0/0", {"gpu"}, 8000) == ("allow", "allow-any")  # no source: 0.0.0.0/0
    part = {
        "name": "deny-part",
        "inputs": {"network": "n", "priority": 900, "sourceRanges": ["10.1.0.0/16"], "denies": [{"protocol": "all"}]},
    }
    assert rules.firewall_verdict([allow_all, part], "n", "10.0.0.0/8", {"gpu"}, 8000) == ("deny", "deny-part")
    assert rules.firewall_verdict([allow_all, part], "n", "10.2.0.0/16", {"gpu"}, 8000)[0] == "allow"  # no overlap
    tagged_only = {"name": "from-tags", "inputs": {"network": "n", "sourceTags": ["web"], "allows": [{"protocol": "tcp"}]}}
    assert rules.firewall_verdict([tagged_only], "n", "10.0.0.0/8", {"gpu"}, 8000)[0] == "deny"  # sources are instances, not ranges
    to_account = {
        "name": "to-sa",
        "inputs": {"network": "n", "sourceRanges": ["10.0.0.0/8"], "targetServiceAccounts": ["a@x"], "allows": [{"protocol": "tcp"}]},
    }
    assert rules.firewall_verdict([to_account], "n", "10.0.0.0/8", set(), 8000, "a@x")[0] == "allow"
    assert rules.firewall_verdict([to_account], "n", "10.0.0.0/8", set(), 8000, "b@x")[0] == "deny"


def test_is_public():
    assert rules.is_public("0.0.0.0/0") and rules.is_public("8.8.8.0/24")
    assert not rules.is_public("100.64.0.0/10") and not rules.is_public("10.0.0.0/8") and not rules.is_public("240.0.0.0/4")
