"""The AWS network of a recorded plan as data the `network.aws` rules reason over: security-group rules
(standalone and inline), subnets, load balancers and their listeners, the gateway's self-hosted URLs and
the model Ingresses' ALBs. Pure functions over a PlanView; no rule lives here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from ..addresses import within
from ..facts import aws_network as facts
from ..view import PlanView

ANYWHERE = ("0.0.0.0/0", "::/0")
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
API_PATHS = ("/v1/*", "/*")
"""Path patterns of a listener rule that carry the OpenAI API the gateway calls (`<url>/v1/...`)."""
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
EKS_ADDON = "aws:eks/addon:Addon"
EKS_CLUSTER = "aws:eks/cluster:Cluster"


# ---- security groups -------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupRule:
    """One allowed flow of a security group: `inbound` (ingress) or out (egress), TCP ports [low, high]
    (None: every protocol and port), to or from CIDRs or another group."""

    resource: str
    group: str
    inbound: bool
    low: int | None
    high: int | None
    cidrs: tuple[str, ...] = ()
    peer_group: str | None = None

    def covers_port(self, port: int) -> bool:
        return self.low is None or (self.low <= port <= (self.high if self.high is not None else self.low))


def _ports(protocol: Any, low: Any, high: Any) -> tuple[int, int] | tuple[None, None] | None:
    """TCP port range of a rule; (None, None) for all traffic; None for a rule that admits no TCP."""
    proto = str(protocol).lower()
    if proto in ("-1", "all"):
        return None, None
    if proto not in ("tcp", "6"):
        return None
    return int(low if low is not None else 0), int(high if high is not None else low if low is not None else 65535)


def as_strings(value: Any) -> tuple[str, ...]:
    """A list input of strings (CIDRs, group ids) as a tuple; () where it is absent or null."""
    strings: Iterable[str] = value or ()
    return tuple(strings)


def group_rules(view: PlanView) -> list[GroupRule]:
    """Every TCP-admitting rule of every security group in the plan, whichever way it is written."""
    found: list[GroupRule] = []
    for r in view.of_type(INGRESS_RULE, EGRESS_RULE):
        i = r["inputs"]
        ports = _ports(i.get("ipProtocol"), i.get("fromPort"), i.get("toPort"))
        if ports is None:
            continue
        cidrs = tuple(c for c in (i.get("cidrIpv4"), i.get("cidrIpv6")) if c)
        found.append(
            GroupRule(r["name"], i.get("securityGroupId", ""), r["type"] == INGRESS_RULE, *ports, cidrs, i.get("referencedSecurityGroupId"))
        )
    for r in view.of_type(LEGACY_RULE):
        i = r["inputs"]
        ports = _ports(i.get("protocol"), i.get("fromPort"), i.get("toPort"))
        if ports is None:
            continue
        cidrs = as_strings(i.get("cidrBlocks")) + as_strings(i.get("ipv6CidrBlocks"))
        found.append(
            GroupRule(r["name"], i.get("securityGroupId", ""), i.get("type") == "ingress", *ports, cidrs, i.get("sourceSecurityGroupId"))
        )
    for r in view.of_type(SG):
        for direction in ("ingress", "egress"):
            entries: list[dict[str, Any]] = r["inputs"].get(direction) or []
            for entry in entries:
                ports = _ports(entry.get("protocol"), entry.get("fromPort"), entry.get("toPort"))
                if ports is None:
                    continue
                cidrs = as_strings(entry.get("cidrBlocks")) + as_strings(entry.get("ipv6CidrBlocks"))
                peers = [*as_strings(entry.get("securityGroups")), *(["self"] if entry.get("self") else [])]
                # AWS honours every source an entry names: its CIDRs are one rule, each group another.
                if cidrs or not peers:
                    found.append(GroupRule(r["name"], r["id"], direction == "ingress", *ports, cidrs, None))
                for peer in peers:
                    found.append(GroupRule(r["name"], r["id"], direction == "ingress", *ports, (), r["id"] if peer == "self" else peer))
    return found


@dataclass(frozen=True)
class Party:
    """One end of a flow: its security groups and the CIDRs its addresses come from."""

    groups: tuple[str, ...]
    cidrs: tuple[str, ...]


def _admits(rule: GroupRule, peer: Party, port: int) -> bool:
    if not rule.covers_port(port):
        return False
    if rule.peer_group is not None:
        return rule.peer_group in peer.groups
    return bool(peer.cidrs) and all(any(within(p, c) for c in rule.cidrs) for p in peer.cidrs)


def allows(rules: Iterable[GroupRule], caller: Party, callee: Party, port: int) -> tuple[bool, bool]:
    """(the caller's groups let it out to the callee on `port`, the callee's groups let it in)."""
    rules = list(rules)
    out = any(r.group in caller.groups and not r.inbound and _admits(r, callee, port) for r in rules)
    in_ = any(r.group in callee.groups and r.inbound and _admits(r, caller, port) for r in rules)
    return out, in_


def ingress_of(rules: Iterable[GroupRule], groups: Iterable[str]) -> list[GroupRule]:
    wanted = set(groups)
    return [r for r in rules if r.inbound and r.group in wanted]


# ---- addresses ---------------------------------------------------------------------------------------
def vpc_cidr(view: PlanView) -> str | None:
    vpcs = view.of_type(VPC)
    cidr: str | None = vpcs[0]["inputs"].get("cidrBlock") if vpcs else None
    return cidr


def subnet_cidrs(view: PlanView, subnet_ids: Iterable[str]) -> tuple[str, ...]:
    cidrs: list[str] = []
    for sid in subnet_ids:
        subnet = view.ref(sid)
        if subnet is not None and subnet["type"] == SUBNET and subnet["inputs"].get("cidrBlock"):
            cidrs.append(subnet["inputs"]["cidrBlock"])
    return tuple(cidrs)


def tagged_subnet_cidrs(view: PlanView, internal: bool) -> tuple[str, ...]:
    """The ranges of the subnets the AWS Load Balancer Controller discovers for an internal or an
    internet-facing load balancer (facts.discovered_subnet: the role tag's presence)."""
    return tuple(s["inputs"]["cidrBlock"] for s in view.of_type(SUBNET) if facts.discovered_subnet(s["inputs"].get("tags"), internal))


def dns_records(view: PlanView) -> set[str]:
    """Names the plan's Route 53 records define (without the root dot)."""
    return {str(r["inputs"].get("name", "")).rstrip(".") for r in view.of_type("aws:route53/record:Record")}


def by_arn(view: PlanView, arn: Any, type_: str) -> dict[str, Any] | None:
    """The resource an ARN names: the recorded ARNs end with the resource's name."""
    if not isinstance(arn, str):
        return None
    name = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return next((r for r in view.of_type(type_) if r["name"] == name), None)


# ---- load balancers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Listener:
    protocol: str
    port: int
    forwards: bool
    """False for a listener whose default action redirects or answers fixed and no rule forwards the API
    (`API_PATHS`): the request goes nowhere."""


@dataclass
class ModelLb:
    """The load balancer in front of one served model, as the caller meets it."""

    model: str
    name: str
    """The plan's name of the LB resource or of the Ingress the controller turns into an ALB."""
    internal: bool
    listeners: list[Listener]
    groups: tuple[str, ...]
    cidrs: tuple[str, ...]
    """Addresses of its nodes (its subnets)."""
    managed_inbound: tuple[str, ...] | None = None
    """Controller-managed frontend group: the CIDRs it admits on every listener (None: Pulumi's groups)."""
    ingress: dict[str, Any] | None = None
    """The Ingress an ALB is made of (None: a load balancer Pulumi creates)."""

    def party(self) -> Party:
        return Party(self.groups, self.cidrs)


def _model_tag(r: dict[str, Any]) -> str | None:
    tags: dict[str, str] = r["inputs"].get("tags") or {}
    return tags.get("pulumi-llm:model")


def _rule_forwards_api(view: PlanView, listener: dict[str, Any]) -> bool:
    """A listener rule of `listener` forwards the API paths (a GPU-VM group with the router forwards /v1/* only)."""
    for r in view.of_type(LISTENER_RULE):
        i = r["inputs"]
        if by_arn(view, i.get("listenerArn"), LISTENER) is not listener:
            continue
        conditions: list[dict[str, Any]] = i.get("conditions") or []
        actions: list[dict[str, Any]] = i.get("actions") or []
        patterns: set[str] = set()
        for condition in conditions:
            path: dict[str, Any] = condition.get("pathPattern") or {}
            patterns |= set(as_strings(path.get("values")))
        if patterns & set(API_PATHS) and any(a.get("type") == "forward" for a in actions):
            return True
    return False


def gpu_vm_lbs(view: PlanView) -> list[ModelLb]:
    """The load balancers of the gpu-vm method: one per model, tagged with it."""
    found: list[ModelLb] = []
    for lb in view.of_type(LB):
        model = _model_tag(lb)
        if model is None:
            continue
        listeners: list[Listener] = []
        for listener in view.of_type(LISTENER):
            if by_arn(view, listener["inputs"].get("loadBalancerArn"), LB) is lb:
                i = listener["inputs"]
                actions: list[dict[str, Any]] = i.get("defaultActions") or []
                forwards = any(a.get("type") == "forward" for a in actions) or _rule_forwards_api(view, listener)
                listeners.append(Listener(str(i.get("protocol", "")).upper(), int(i.get("port", 0)), forwards))
        found.append(
            ModelLb(
                model,
                lb["name"],
                bool(lb["inputs"].get("internal", False)),
                listeners,
                as_strings(lb["inputs"].get("securityGroups")),
                subnet_cidrs(view, as_strings(lb["inputs"].get("subnets"))),
            )
        )
    return found


def _annotation_list(value: Any) -> tuple[str, ...]:
    return tuple(v.strip() for v in str(value).split(",") if v.strip()) if value is not None else ()


def ingress_listeners(annotations: dict[str, Any]) -> list[Listener]:
    """The listeners the controller makes of an Ingress: listen-ports, or its default."""
    raw = annotations.get(facts.LISTEN_PORTS)
    if raw is None:
        return [Listener(p, n, True) for p, n in facts.default_listen_ports(facts.CERTIFICATE_ARN in annotations)]
    return [Listener(str(proto).upper(), int(port), True) for entry in json.loads(raw) for proto, port in entry.items()]


def ingress_lbs(view: PlanView) -> list[ModelLb]:
    """The ALBs the AWS Load Balancer Controller makes of the model Ingresses (class alb)."""
    found: list[ModelLb] = []
    for ing in view.objects("Ingress"):
        spec: dict[str, Any] = ing.get("spec") or {}
        if spec.get("ingressClassName") != "alb":
            continue
        meta: dict[str, Any] = ing["metadata"]
        notes: dict[str, Any] = meta.get("annotations") or {}
        labels: dict[str, str] = meta.get("labels") or {}
        model: str = labels.get("pulumi-llm.dev/model") or meta["name"]
        internal: bool = notes.get(facts.SCHEME, facts.SCHEME_DEFAULT) == "internal"
        groups = _annotation_list(notes.get(facts.SECURITY_GROUPS))
        managed = None if groups else (_annotation_list(notes.get(facts.INBOUND_CIDRS)) or facts.INBOUND_CIDRS_DEFAULT_IPV4)
        found.append(
            ModelLb(
                model,
                f"Ingress {meta.get('namespace')}/{meta['name']}",
                internal,
                ingress_listeners(notes),
                groups,
                tagged_subnet_cidrs(view, internal),
                managed,
                ing,
            )
        )
    return found


def model_lbs(view: PlanView) -> dict[str, ModelLb]:
    return {lb.model: lb for lb in [*gpu_vm_lbs(view), *ingress_lbs(view)]}


# ---- the gateway --------------------------------------------------------------------------------------
def gateway_tasks(view: PlanView) -> list[dict[str, Any]]:
    """The gateway's ECS services (those whose tasks run the engine config)."""
    return view.of_type(ECS_SERVICE)


def task_party(view: PlanView, service: dict[str, Any]) -> Party:
    net: dict[str, Any] = service["inputs"].get("networkConfiguration") or {}
    return Party(as_strings(net.get("securityGroups")), subnet_cidrs(view, as_strings(net.get("subnets"))))


# ---- Kubernetes NetworkPolicy ------------------------------------------------------------------------
def vpc_cni_addon(view: PlanView) -> dict[str, Any] | None:
    return next((a for a in view.of_type(EKS_ADDON) if a["inputs"].get("addonName") == "vpc-cni"), None)


def network_policy_enforced(view: PlanView) -> bool:
    addon = vpc_cni_addon(view)
    if addon is None:
        return False
    raw = addon["inputs"].get("configurationValues")
    try:
        values: Any = json.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
    except json.JSONDecodeError:
        return False
    return facts.vpc_cni_enforces_network_policy(cast("dict[str, Any]", values) if isinstance(values, dict) else {})
