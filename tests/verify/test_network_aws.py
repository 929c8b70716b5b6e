"""network.aws-*: seeds on the recorded AWS plans (dev: gpu-vm + gateway, prod: EKS + gateway, staging:
EKS), each one wiring mistake caught by exactly one rule; the regression tests of the review's findings
1 (the gateway can't reach its self-hosted models) and 3, EKS part (NetworkPolicy not enforced, model
ALBs open to the whole VPC); and the pure helpers."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from pulumi_llm.gateway.engine import FRONT_CONFIG_ENV
from pulumi_llm.gateway.routing import KIND_DIRECT
from pulumi_llm.verify.addresses import within
from pulumi_llm.verify.facts import aws_network as facts
from pulumi_llm.verify.rules import aws_paths as paths

from .conftest import fired, manifest, resource

EDGE, SELF_HOSTED, CLOSED, NETPOL = "network.aws-edge", "network.aws-self-hosted", "network.aws-closed", "network.aws-netpol"
DEV_MODEL = "llama-3-1-8b-instruct"
SG_IN, SG_OUT = paths.INGRESS_RULE, paths.EGRESS_RULE


def engine_env(view, name: str) -> str:
    task = view.of_type(paths.TASK_DEFINITION)[0]
    return next(
        e["value"] for c in json.loads(task["inputs"]["containerDefinitions"]) for e in c.get("environment", []) if e["name"] == name
    )


def set_engine_env(view, name: str, value: str) -> None:
    task = view.of_type(paths.TASK_DEFINITION)[0]
    defs = json.loads(task["inputs"]["containerDefinitions"])
    for c in defs:
        for e in c.get("environment", []):
            if e["name"] == name:
                e["value"] = value
    task["inputs"]["containerDefinitions"] = json.dumps(defs)


def ingress_annotations(view, name=DEV_MODEL) -> dict:
    return manifest(view, "Ingress", name, "llm")["metadata"]["annotations"]


# ---- the shipped AWS stacks -------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "prod", "staging", "edge"])
def test_shipped_aws_stacks_are_clean(recorded, stack):
    assert not fired(recorded(stack)) & {EDGE, SELF_HOSTED, CLOSED, NETPOL}


# ---- finding 1: the gateway reaches its self-hosted models --------------------------------------------
def test_finding_1_dev_gateway_reaches_the_gpu_vm_on_its_listener(recorded):
    view = recorded("dev")
    url = engine_env(view, "SELF_HOSTED_LLAMA_3_1_8B_INSTRUCT_URL")
    assert url.startswith("http://")
    egress = resource(view, SG_OUT, f"llm-gateway-tasks-out-{DEV_MODEL}-80")["inputs"]
    alb_sg = resource(view, paths.SG, f"llm-vm-{DEV_MODEL}-alb-sg")["id"]
    assert (egress["fromPort"], egress["toPort"], egress["referencedSecurityGroupId"]) == (80, 80, alb_sg)
    ingress = resource(view, SG_IN, f"llm-gateway-{DEV_MODEL}-in-80")["inputs"]
    assert ingress["securityGroupId"] == alb_sg and ingress["referencedSecurityGroupId"] == egress["securityGroupId"]
    # The old default (the whole VPC admitted on the model's load balancer) is gone with a gateway in front.
    assert not [r for r in view.of_type(SG_IN) if r["inputs"]["securityGroupId"] == alb_sg and r["inputs"].get("cidrIpv4")]


def test_finding_1_old_dev_plan_fires(recorded):
    """The plan before the fix: tasks out on 443 only, the ALB open to the VPC on 80."""
    view = recorded("dev")
    alb_sg = resource(view, paths.SG, f"llm-vm-{DEV_MODEL}-alb-sg")["id"]
    view.resources = [r for r in view.resources if DEV_MODEL not in r["name"] or not r["name"].startswith("llm-gateway-")]
    view.resources.append(
        {
            "urn": "urn:old-alb-in",
            "type": SG_IN,
            "name": f"llm-vm-{DEV_MODEL}-alb-in-80-10-40-0-0-16",
            "id": "old",
            "parent": None,
            "dependsOn": [],
            "inputs": {"securityGroupId": alb_sg, "ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv4": "10.40.0.0/16"},
        }
    )
    assert fired(view) == {SELF_HOSTED, CLOSED}


def test_finding_1_prod_gateway_reaches_the_model_albs(recorded):
    view = recorded("prod")
    group = resource(view, paths.SG, "llm-model-alb-sg")["id"]
    for model in ("llama-3-1-8b-instruct", "llama-3-3-70b-instruct"):
        assert ingress_annotations(view, model)[facts.SECURITY_GROUPS] == group
    egress = resource(view, SG_OUT, "llm-gateway-tasks-out-model-albs-80")["inputs"]
    assert (egress["toPort"], egress["referencedSecurityGroupId"]) == (80, group)
    ingress = resource(view, SG_IN, "llm-gateway-model-albs-in-80")["inputs"]
    assert ingress["securityGroupId"] == group and ingress["referencedSecurityGroupId"] == egress["securityGroupId"]


# ---- finding 3 (EKS): NetworkPolicy enforced; model ALBs not open to the VPC ---------------------------
@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_finding_3_vpc_cni_enforces_network_policy(recorded, stack):
    addon = resource(recorded(stack), paths.EKS_ADDON, "llm-eks-vpc-cni")["inputs"]
    assert json.loads(addon["configurationValues"]) == {facts.VPC_CNI_NETWORK_POLICY_KEY: "true"}


def test_finding_3_old_prod_plan_fires(recorded):
    """Before the fix: no configurationValues, the controller's own frontend group on 0.0.0.0/0, and the
    gateway's tasks out on 443 only (finding 1 too)."""
    view = recorded("prod")
    del resource(view, paths.EKS_ADDON, "llm-eks-vpc-cni")["inputs"]["configurationValues"]
    for model in ("llama-3-1-8b-instruct", "llama-3-3-70b-instruct"):
        notes = ingress_annotations(view, model)
        del notes[facts.SECURITY_GROUPS], notes[facts.MANAGE_BACKEND_RULES]
    view.resources = [r for r in view.resources if "model-albs" not in r["name"] and r["name"] != "llm-model-alb-sg"]
    assert fired(view) == {NETPOL, CLOSED, SELF_HOSTED}


def test_finding_3_staging_albs_admit_the_vpc_only(recorded):
    notes = ingress_annotations(recorded("staging"))
    assert notes[facts.INBOUND_CIDRS] == "10.40.0.0/16" and facts.SECURITY_GROUPS not in notes


# ---- seeds: consumer → gateway edge ---------------------------------------------------------------------
def test_seed_edge_nlb_listener_port(recorded):
    view = recorded("dev")
    resource(view, paths.LISTENER, "llm-gateway-listener")["inputs"]["port"] = 8080
    assert fired(view) == {EDGE}


def test_seed_edge_target_group_port(recorded):
    view = recorded("prod")
    resource(view, paths.TARGET_GROUP, "llm-gateway-tg")["inputs"]["port"] = 8000
    assert fired(view) == {EDGE}


def test_seed_edge_private_link_traffic_filtered(recorded):
    view = recorded("dev")
    resource(view, paths.LB, "llm-gateway-nlb")["inputs"]["enforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] = "on"
    assert fired(view) == {EDGE}


def test_seed_edge_tasks_admit_other_port(recorded):
    view = recorded("prod")
    rule = resource(view, SG_IN, "llm-gateway-tasks-in-4000")["inputs"]
    rule["fromPort"] = rule["toPort"] = 4001
    assert fired(view) == {EDGE}


# ---- seeds: gateway → self-hosted ----------------------------------------------------------------------
def test_seed_self_hosted_egress_port(recorded):
    view = recorded("dev")
    rule = resource(view, SG_OUT, f"llm-gateway-tasks-out-{DEV_MODEL}-80")["inputs"]
    rule["fromPort"] = rule["toPort"] = 8000
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_https_url_on_an_http_listener(recorded):
    view = recorded("dev")
    var = "SELF_HOSTED_LLAMA_3_1_8B_INSTRUCT_URL"
    set_engine_env(view, var, engine_env(view, var).replace("http://", "https://"))
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_egress_cidr_misses_the_load_balancer(recorded):
    view = recorded("dev")
    rule = resource(view, SG_OUT, f"llm-gateway-tasks-out-{DEV_MODEL}-80")["inputs"]
    del rule["referencedSecurityGroupId"]
    rule["cidrIpv4"] = "10.40.192.0/24"
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_listener_removed(recorded):
    view = recorded("dev")
    view.resources.remove(resource(view, paths.LISTENER, f"llm-vm-{DEV_MODEL}-http"))
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_listener_redirects(recorded):
    view = recorded("dev")
    listener = resource(view, paths.LISTENER, f"llm-vm-{DEV_MODEL}-http")["inputs"]
    listener["defaultActions"] = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]
    # dev's VMs run the vLLM router: the listener forwards the API through its /v1/* rule, so that goes too.
    view.resources.remove(resource(view, paths.LISTENER_RULE, f"llm-vm-{DEV_MODEL}-api"))
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_router_listener_rule_forwards_another_path(recorded):
    # With the router the default action answers 404 and only the rule forwards: a rule for the wrong path
    # leaves the gateway's /v1 calls nowhere.
    view = recorded("dev")
    rule = resource(view, paths.LISTENER_RULE, f"llm-vm-{DEV_MODEL}-api")["inputs"]
    assert resource(view, paths.LISTENER, f"llm-vm-{DEV_MODEL}-http")["inputs"]["defaultActions"][0]["type"] == "fixed-response"
    assert fired(view) == set()
    rule["conditions"] = [{"pathPattern": {"values": ["/admin/*"]}}]
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_ingress_on_the_load_balancer_removed(recorded):
    view = recorded("prod")
    view.resources.remove(resource(view, SG_IN, "llm-gateway-model-albs-in-80"))
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_https_listen_port_on_the_ingress(recorded):
    view = recorded("prod")
    ingress_annotations(view)[facts.LISTEN_PORTS] = '[{"HTTPS": 443}]'
    assert fired(view) == {SELF_HOSTED}


def test_seed_self_hosted_backend_rules_not_managed(recorded):
    view = recorded("prod")
    ingress_annotations(view)[facts.MANAGE_BACKEND_RULES] = "false"
    assert fired(view) == {SELF_HOSTED}


def front_config(view) -> dict:
    return json.loads(base64.b64decode(engine_env(view, FRONT_CONFIG_ENV)))


def direct_routes(view) -> list[dict]:
    """The self-hosted candidates of the front's routing (each once): the routes the front streams itself."""
    seen = {c["deployment"]: c for chain in front_config(view)["routing"]["chains"].values() for c in chain if c["kind"] == KIND_DIRECT}
    return list(seen.values())


def test_seed_self_hosted_route_missing_from_engine_config(recorded):
    view = recorded("prod")
    config = front_config(view)
    chains = config["routing"]["chains"]
    for group in chains:
        chains[group] = [c for c in chains[group] if "70b" not in c["model"]]
    config["routing"]["chains"] = {g: chain for g, chain in chains.items() if chain}
    set_engine_env(view, FRONT_CONFIG_ENV, base64.b64encode(json.dumps(config).encode()).decode())
    assert fired(view) == {SELF_HOSTED}


# ---- seeds: what stays closed --------------------------------------------------------------------------
def test_seed_closed_model_alb_admits_the_vpc(recorded):
    view = recorded("dev")
    rule = resource(view, SG_IN, f"llm-gateway-{DEV_MODEL}-in-80")["inputs"]
    del rule["referencedSecurityGroupId"]
    rule["cidrIpv4"] = "10.40.0.0/16"  # still admits the tasks: the path stays open, but for every workload
    assert fired(view) == {CLOSED}


def test_seed_closed_gpu_vm_alb_internet_facing(recorded):
    view = recorded("dev")
    resource(view, paths.LB, f"llm-vm-{DEV_MODEL}-alb")["inputs"]["internal"] = False
    assert fired(view) == {CLOSED}


def test_seed_closed_eks_inbound_cidrs_the_internet(recorded):
    view = recorded("staging")
    ingress_annotations(view)[facts.INBOUND_CIDRS] = "0.0.0.0/0"
    assert fired(view) == {CLOSED}


def test_seed_closed_inbound_cidrs_left_to_the_controller_default(recorded):
    view = recorded("staging")
    del ingress_annotations(view)[facts.INBOUND_CIDRS]
    assert fired(view) == {CLOSED}


def test_seed_closed_gateway_nlb_admits_the_vpc(recorded):
    view = recorded("prod")
    nlb_sg = resource(view, paths.SG, "llm-gateway-nlb-sg")
    nlb_sg["inputs"]["ingress"] = [{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["10.40.0.0/16"]}]
    assert fired(view) == {CLOSED}


def test_seed_closed_gpu_vm_instances_admit_a_cidr(recorded):
    view = recorded("dev")
    rule = resource(view, SG_IN, f"llm-vm-{DEV_MODEL}-instance-in-8000")["inputs"]
    del rule["referencedSecurityGroupId"]
    rule["cidrIpv4"] = "10.40.0.0/16"
    assert fired(view) == {CLOSED}


def test_seed_closed_model_alb_admits_another_group(recorded):
    view = recorded("prod")
    endpoints = resource(view, paths.SG, "llm-network-endpoints-sg")["id"]
    resource(view, SG_IN, "llm-gateway-model-albs-in-80")["inputs"]["referencedSecurityGroupId"] = endpoints
    resource(view, paths.SG, "llm-model-alb-sg")["inputs"]["ingress"] = [
        {"protocol": "tcp", "fromPort": 80, "toPort": 80, "securityGroups": [resource(view, paths.SG, "llm-gateway-tasks-sg")["id"]]}
    ]
    assert fired(view) == {CLOSED}


# ---- seeds: NetworkPolicy enforcement ------------------------------------------------------------------
def test_seed_netpol_vpc_cni_policy_off(recorded):
    view = recorded("staging")
    resource(view, paths.EKS_ADDON, "llm-eks-vpc-cni")["inputs"]["configurationValues"] = json.dumps({"enableNetworkPolicy": "false"})
    assert fired(view) == {NETPOL}


def test_seed_netpol_node_agent_off(recorded):
    view = recorded("prod")
    resource(view, paths.EKS_ADDON, "llm-eks-vpc-cni")["inputs"]["configurationValues"] = json.dumps(
        {"enableNetworkPolicy": "true", "nodeAgent": {"enabled": False}}
    )
    assert fired(view) == {NETPOL}


# ---- helpers -------------------------------------------------------------------------------------------
def test_vpc_cni_switch_reads_like_the_chart():
    assert not facts.vpc_cni_enforces_network_policy(None)
    assert facts.vpc_cni_enforces_network_policy({"enableNetworkPolicy": "true"})
    assert facts.vpc_cni_enforces_network_policy({"enableNetworkPolicy": True})
    assert not facts.vpc_cni_enforces_network_policy({"enableNetworkPolicy": "TRUE ", "nodeAgent": {"enabled": "false"}})


def test_listen_ports_default_follows_the_certificate():
    assert paths.ingress_listeners({}) == [paths.Listener("HTTP", 80, True)]
    assert paths.ingress_listeners({facts.CERTIFICATE_ARN: "arn:aws:acm:x"}) == [paths.Listener("HTTPS", 443, True)]
    assert paths.ingress_listeners({facts.LISTEN_PORTS: '[{"HTTP": 80}, {"HTTPS": 8443}]'}) == [
        paths.Listener("HTTP", 80, True),
        paths.Listener("HTTPS", 8443, True),
    ]


def test_group_rules_read_every_way_a_rule_is_written():
    rule = paths.GroupRule("r", "sg-1", True, None, None, ("10.0.0.0/8",))
    assert rule.covers_port(1) and rule.covers_port(65535)
    assert within("10.40.0.0/19", "10.0.0.0/8") and not within("10.0.0.0/8", "10.40.0.0/19")
    assert not within("::/0", "0.0.0.0/0")
    caller = paths.Party(("sg-a",), ("10.40.0.0/19",))
    callee = paths.Party(("sg-b",), ("10.40.32.0/19",))
    rules = [
        paths.GroupRule("out", "sg-a", False, 80, 80, (), "sg-b"),
        paths.GroupRule("in", "sg-b", True, 0, 65535, ("10.40.0.0/16",)),
    ]
    assert paths.allows(rules, caller, callee, 80) == (True, True)
    assert paths.allows(rules, caller, callee, 443) == (False, True)


# ---- the self-hosted servers' API key (gpu-vm behind the gateway) -----------------------------------------
def test_dev_gpu_vm_requires_the_key_the_gateway_sends(recorded):
    view = recorded("dev")
    secret = resource(view, "aws:secretsmanager/secret:Secret", "llm-self-hosted-key")
    assert secret["inputs"]["name"] == "pulumi-llm/dev/self-hosted" and "secretString" not in secret["inputs"]
    assert secret["inputs"]["kmsKeyId"].endswith(":llm-key-key")  # the stack key, which the execution policy decrypts through
    arn = f"arn:aws:secretsmanager:us-east-1:123456789012:{secret['name']}"
    # The gateway: every self-hosted route sends it, ECS injects it from the secret.
    hosted = direct_routes(view)
    assert hosted and all(c["key_env"] == "SELF_HOSTED_API_KEY" for c in hosted)
    task = view.of_type(paths.TASK_DEFINITION)[0]
    injected = {s["name"]: s["valueFrom"] for c in json.loads(task["inputs"]["containerDefinitions"]) for s in c.get("secrets", [])}
    assert injected["SELF_HOSTED_API_KEY"] == arn
    # The server: the boot script reads the same secret into VLLM_API_KEY.
    template = resource(view, "aws:ec2/launchTemplate:LaunchTemplate", f"llm-vm-{DEV_MODEL}-launch-template")["inputs"]
    boot = gzip.decompress(base64.b64decode(template["userData"])).decode()  # gzipped: EC2's 16 KB limit
    assert f"--secret-id {arn}" in boot and "VLLM_API_KEY" in boot
    # Only the gateway's execution role and the server's instance role may read it.
    policy = json.loads(resource(view, "aws:secretsmanager/secretPolicy:SecretPolicy", "llm-self-hosted-key-policy")["inputs"]["policy"])
    readers = {a.rsplit(":", 1)[-1] for s in policy["Statement"] for a in s["Principal"]["AWS"]}
    assert readers == {"llm-gateway-execution-role", f"llm-vm-{DEV_MODEL}-role"}


def test_eks_models_get_no_key_yet(recorded):
    """Nothing syncs a Secrets Manager value into the cluster yet: the EKS routes send no key."""
    view = recorded("prod")
    hosted = direct_routes(view)
    assert hosted and [c["deployment"] for c in hosted if c["key_env"] is not None] == []


def test_seed_inline_rule_names_a_group_and_the_internet(recorded):
    """An inline security-group entry naming groups and CIDRs admits both (AWS honours every source it
    lists); the check used to keep only the group half and missed the 0.0.0.0/0 beside it."""
    view = recorded("prod")
    tasks = resource(view, "aws:ec2/securityGroup:SecurityGroup", "llm-gateway-tasks-sg")
    albs = resource(view, "aws:ec2/securityGroup:SecurityGroup", "llm-model-alb-sg")
    albs["inputs"]["ingress"] = [
        {"protocol": "tcp", "fromPort": 80, "toPort": 80, "securityGroups": [tasks["id"]], "cidrBlocks": ["0.0.0.0/0"]}
    ]
    assert fired(view) == {"network.aws-closed"}
    rules = [r for r in paths.group_rules(view) if r.group == albs["id"] and r.inbound]
    assert {(r.cidrs, r.peer_group) for r in rules} == {(("0.0.0.0/0",), None), ((), tasks["id"])}


@pytest.mark.parametrize(
    ("tags", "internal", "found"),
    [
        ({"kubernetes.io/role/internal-elb": "1"}, True, True),
        ({"kubernetes.io/role/internal-elb": ""}, True, True),
        ({"kubernetes.io/role/internal-elb": ""}, False, False),
        ({"kubernetes.io/role/elb": ""}, False, True),
        ({}, True, False),
        (None, False, False),
    ],
)
def test_subnet_discovery_is_by_the_role_tags_presence(tags, internal, found):
    assert facts.discovered_subnet(tags, internal) is found
