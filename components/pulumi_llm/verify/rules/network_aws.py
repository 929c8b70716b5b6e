"""network.aws: the flows an AWS stack intends, traced through the recorded security groups, load
balancers and listeners the way the VPC and the load balancers would carry (or drop) them.

Open, end to end:
* network.aws-edge: consumer → API Gateway → VPC link → internal NLB listener → target group → the
  gateway tasks (the port the tasks listen on, egress on the NLB's group, ingress on the tasks' group);
* network.aws-self-hosted: gateway tasks → each self-hosted model, by the URL in the engine config: its
  scheme and port name a forwarding listener of that model's load balancer, the tasks' group lets it out
  and the load balancer's group (or controller-managed inbound CIDRs) lets it in.

Closed:
* network.aws-closed: the internet reaches nothing but the API Gateway edge (no 0.0.0.0/0 ingress, no
  internet-facing load balancer the settings don't ask for); no workload in the VPC reaches a model
  server except its callers (the gateway when it routes there; otherwise the allowed CIDRs, by default
  the VPC; a GPU-VM server also its own group's routers) nor the gateway engine past API Gateway (the NLB's
  and tasks' groups admit no one else);
* network.aws-netpol: NetworkPolicy counts only where the CNI enforces it (vpc-cni enableNetworkPolicy);
  what the policies admit (the ALB's subnets, target-type ip) is network.k8s-*'s to prove.

The upstream behaviour relied on (controller defaults, the CNI switch) is in facts.aws_network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..addresses import within
from ..facts import aws_network as facts
from ..report import Violation
from ..routes import routed_models, self_hosted_routes
from ..view import PlanView
from . import aws_paths as paths
from .registry import rule, violation

EDGE = "network.aws-edge"
SELF_HOSTED = "network.aws-self-hosted"
CLOSED = "network.aws-closed"
NETPOL = "network.aws-netpol"


def _on_aws(view: PlanView) -> bool:
    return view.cloud == "aws"


def _aws_settings(view: PlanView) -> dict[str, Any]:
    return view.settings.get("aws") or {}


def _service_lbs(service: dict[str, Any]) -> list[dict[str, Any]]:
    """An ECS service's loadBalancers entries (target group, container and port its tasks register)."""
    return service["inputs"].get("loadBalancers") or []


# ---- consumer → gateway edge -------------------------------------------------------------------------
@rule(EDGE)
def edge(view: PlanView) -> Iterator[Violation]:
    if not _on_aws(view):
        return
    rules = paths.group_rules(view)
    for integration in view.of_type("aws:apigateway/integration:Integration"):
        i = integration["inputs"]
        if i.get("connectionType") != "VPC_LINK":
            continue
        where = integration["name"]
        link = view.ref(i.get("connectionId"))
        if link is None or link["type"] != "aws:apigateway/vpcLink:VpcLink":
            yield violation(view, where, EDGE, f"connectionId {i.get('connectionId')} is no VPC link of this plan")
            continue
        nlb = paths.by_arn(view, link["inputs"].get("targetArn") or (link["inputs"].get("targetArns") or [None])[0], paths.LB)
        if nlb is None or nlb["inputs"].get("loadBalancerType") != "network":
            yield violation(view, link["name"], EDGE, "a REST API VPC link reaches a Network Load Balancer only; its target is none")
            continue
        uri = urlsplit(str(i.get("uri", "")))
        port = uri.port or {"http": 80, "https": 443}.get(uri.scheme, 0)
        listeners = [
            lst for lst in view.of_type(paths.LISTENER) if paths.by_arn(view, lst["inputs"].get("loadBalancerArn"), paths.LB) is nlb
        ]
        listener = next((lst for lst in listeners if int(lst["inputs"].get("port", 0)) == port), None)
        wanted = ("TCP", "TLS") if uri.scheme == "https" else ("TCP",)
        if listener is None or str(listener["inputs"].get("protocol", "")).upper() not in wanted:
            have = ", ".join(f"{lst['inputs'].get('protocol')}:{lst['inputs'].get('port')}" for lst in listeners) or "none"
            yield violation(view, where, EDGE, f"the integration calls {uri.scheme}:{port} on {nlb['name']}; its listeners: {have}")
            continue
        actions: list[dict[str, Any]] = listener["inputs"].get("defaultActions") or []
        forward: dict[str, Any] = next((a for a in actions if a.get("type") == "forward"), None) or {}
        group = paths.by_arn(view, forward.get("targetGroupArn"), paths.TARGET_GROUP)
        if group is None:
            yield violation(view, listener["name"], EDGE, "the listener forwards to no target group of this plan")
            continue
        target_port = int(group["inputs"].get("port", 0))
        services = [
            s
            for s in view.of_type(paths.ECS_SERVICE)
            if any(paths.by_arn(view, lb.get("targetGroupArn"), paths.TARGET_GROUP) is group for lb in _service_lbs(s))
        ]
        if not services:
            yield violation(view, group["name"], EDGE, "no ECS service registers its tasks in this target group")
            continue
        lb_party = paths.Party(
            paths.as_strings(nlb["inputs"].get("securityGroups")), paths.subnet_cidrs(view, paths.as_strings(nlb["inputs"].get("subnets")))
        )
        for service in services:
            ports: set[Any] = {  # containerPort as the input gives it (None where absent)
                lb.get("containerPort")
                for lb in _service_lbs(service)
                if paths.by_arn(view, lb.get("targetGroupArn"), paths.TARGET_GROUP) is group
            }
            if target_port not in ports:
                yield violation(view, group["name"], EDGE, f"targets on port {target_port}; the tasks register port {sorted(ports)}")
                continue
            out, in_ = paths.allows(rules, lb_party, paths.task_party(view, service), target_port)
            if not out:
                yield violation(view, nlb["name"], EDGE, f"its security group lets nothing out to the gateway tasks on {target_port}")
            if not in_:
                yield violation(view, service["name"], EDGE, f"the tasks' security group admits no traffic from the NLB on {target_port}")
        if nlb["inputs"].get("enforceSecurityGroupInboundRulesOnPrivateLinkTraffic") != "off" and not paths.ingress_of(
            rules, lb_party.groups
        ):
            yield violation(
                view, nlb["name"], EDGE, "its group filters PrivateLink traffic and admits nothing: the VPC link's requests are dropped"
            )


# ---- gateway → self-hosted models --------------------------------------------------------------------
@rule(SELF_HOSTED)
def self_hosted(view: PlanView) -> Iterator[Violation]:
    if not _on_aws(view):
        return
    rules = paths.group_rules(view)
    lbs = paths.model_lbs(view)
    services = paths.gateway_tasks(view)
    urls = list(self_hosted_routes(view))
    for missing in sorted(routed_models(view) - {u.model for u in urls}):
        yield violation(view, missing, SELF_HOSTED, "the gateway's settings route here but its engine config has no route to it")
    for url in urls:
        lb = lbs.get(url.model)
        if lb is None:
            yield violation(view, url.model, SELF_HOSTED, f"the gateway calls {url.url}; this plan serves no load balancer for it")
            continue
        if url.scheme not in ("http", "https"):
            yield violation(view, lb.name, SELF_HOSTED, f"the gateway's URL {url.url} is neither http nor https")
            continue
        port = url.port
        match = [lst for lst in lb.listeners if lst.port == port and lst.protocol == url.scheme.upper() and lst.forwards]
        if port is None or not match:
            have = ", ".join(f"{lst.protocol}:{lst.port}{'' if lst.forwards else ' (redirect)'}" for lst in lb.listeners) or "none"
            yield violation(
                view, lb.name, SELF_HOSTED, f"the gateway calls {url.scheme.upper()}:{url.port} ({url.url}); its listeners: {have}"
            )
            continue
        host = urlsplit(url.url).hostname or ""
        if url.scheme == "https" and host not in paths.dns_records(view):
            yield violation(
                view,
                lb.name,
                SELF_HOSTED,
                f"the gateway calls {url.url}, a name no DNS record of this plan points at "
                "the load balancer (no ACM certificate covers the load balancer's own name)",
            )
        for service in services:
            caller = paths.task_party(view, service)
            out, in_ = paths.allows(rules, caller, lb.party(), port)
            if lb.managed_inbound is not None:
                in_ = bool(caller.cidrs) and all(any(within(p, c) for c in lb.managed_inbound) for p in caller.cidrs)
            if not out:
                yield violation(
                    view, service["name"], SELF_HOSTED, f"the tasks' security group lets nothing out to {lb.name} on {url.port}"
                )
            if not in_:
                yield violation(view, lb.name, SELF_HOSTED, f"its security group admits nothing from the gateway tasks on {url.port}")
        if lb.ingress is not None and not lb.managed_inbound:
            notes: dict[str, Any] = lb.ingress["metadata"].get("annotations") or {}
            if str(notes.get(facts.MANAGE_BACKEND_RULES, "false")).lower() != "true":
                yield violation(
                    view,
                    lb.name,
                    SELF_HOSTED,
                    f"{facts.SECURITY_GROUPS} without {facts.MANAGE_BACKEND_RULES}: no rule opens the pods to the ALB",
                )


# ---- what stays closed -------------------------------------------------------------------------------
def _intended_internet_facing(view: PlanView, lb: paths.ModelLb) -> bool:
    aws = _aws_settings(view)
    if lb.ingress is not None:
        cluster: dict[str, Any] = aws.get("cluster") or {}
        return cluster.get("ingress") == "internet-facing"
    gpu_vm: dict[str, Any] = aws.get("gpu_vm") or {}
    return bool(gpu_vm.get("internet_facing"))


def _callers(view: PlanView, lb: paths.ModelLb, gateway_groups: set[str]) -> tuple[set[str], tuple[str, ...]]:
    """The groups and CIDRs the settings intend to reach `lb`: the gateway's tasks where it routes there,
    the allowed CIDRs the gpu-vm settings name, and the VPC where neither says otherwise."""
    gpu_vm: dict[str, Any] = _aws_settings(view).get("gpu_vm") or {}
    explicit = paths.as_strings(gpu_vm.get("allowed_cidrs")) if lb.ingress is None else ()
    if lb.model in routed_models(view):
        return gateway_groups, explicit
    if _intended_internet_facing(view, lb) and lb.ingress is not None:
        return set(), paths.ANYWHERE
    return set(), explicit or tuple(c for c in [paths.vpc_cidr(view)] if c)


@rule(CLOSED)
def closed(view: PlanView) -> Iterator[Violation]:
    if not _on_aws(view):
        return
    rules = paths.group_rules(view)
    gateway_groups = {g for s in paths.gateway_tasks(view) for g in paths.task_party(view, s).groups}
    lbs = list(paths.model_lbs(view).values())
    model_groups: dict[str, paths.ModelLb] = {g: lb for lb in lbs for g in lb.groups}

    for lb in lbs:
        if not lb.internal and not _intended_internet_facing(view, lb):
            yield violation(view, lb.name, CLOSED, "internet-facing, but the settings ask for an internal load balancer")
        groups, cidrs = _callers(view, lb, gateway_groups)
        admitted = [(r.resource, r.peer_group, r.cidrs) for r in paths.ingress_of(rules, lb.groups)]
        if lb.managed_inbound is not None:
            admitted.append((lb.name, None, lb.managed_inbound))
        for resource, peer, sources in admitted:
            if peer is not None and peer not in groups:
                yield violation(
                    view,
                    resource,
                    CLOSED,
                    f"admits group {peer} to the model load balancer {lb.name}; its callers: "
                    f"{', '.join(sorted(groups)) or 'none by group'}",
                )
            for cidr in sources:
                if not any(within(cidr, c) for c in cidrs):
                    yield violation(
                        view,
                        resource,
                        CLOSED,
                        f"admits {cidr} to the model load balancer {lb.name}; its callers: "
                        f"{', '.join(sorted(groups) + list(cidrs)) or 'none'}",
                    )

    # Internet ingress anywhere else: only the API Gateway edge faces the internet.
    for r in rules:
        if r.inbound and r.group not in model_groups and any(c in paths.ANYWHERE for c in r.cidrs):
            yield violation(view, r.resource, CLOSED, "admits the whole internet; only the API Gateway edge may face it")

    # The gateway engine past API Gateway: its NLB admits no one (the VPC link arrives over PrivateLink),
    # its tasks only the NLB.
    for integration in view.of_type("aws:apigateway/integration:Integration"):
        link = view.ref(integration["inputs"].get("connectionId"))
        nlb = paths.by_arn(view, (link or {}).get("inputs", {}).get("targetArn"), paths.LB) if link else None
        if nlb is None:
            continue
        if not nlb["inputs"].get("internal", False):
            yield violation(view, nlb["name"], CLOSED, "the gateway's NLB is internet-facing: the engine is reachable past API Gateway")
        nlb_groups = paths.as_strings(nlb["inputs"].get("securityGroups"))
        for r in paths.ingress_of(rules, nlb_groups):
            yield violation(
                view, r.resource, CLOSED, f"admits {r.peer_group or ', '.join(r.cidrs)} to the gateway NLB: a path past API Gateway's keys"
            )
        for r in paths.ingress_of(rules, gateway_groups):
            if r.peer_group not in nlb_groups:
                yield violation(view, r.resource, CLOSED, f"admits {r.peer_group or ', '.join(r.cidrs)} to the gateway tasks past the NLB")

    # The servers behind a gpu-vm load balancer: from that load balancer only, and from their own group (each VM's
    # vLLM router calls the model servers of every VM of its group, gpu_vm/router_vm.py).
    for group in view.of_type(paths.SG):
        tags: dict[str, str] = group["inputs"].get("tags") or {}
        model = tags.get("pulumi-llm:model")
        if model is None or group["id"] in model_groups:
            continue
        own = {g for lb in lbs if lb.model == model for g in lb.groups} | {group["id"]}
        for r in paths.ingress_of(rules, [group["id"]]):
            if r.peer_group not in own:
                yield violation(
                    view, r.resource, CLOSED, f"admits {r.peer_group or ', '.join(r.cidrs)} to the {model} servers past their load balancer"
                )


# ---- Kubernetes NetworkPolicy on EKS -----------------------------------------------------------------
@rule(NETPOL)
def netpol(view: PlanView) -> Iterator[Violation]:
    """The NetworkPolicies the model namespace relies on (default deny, callers only) bind only where
    vpc-cni enforces them. Whether they admit the ALB and shut out other pods is network.k8s-*'s to prove."""
    if not _on_aws(view) or not view.of_type(paths.EKS_CLUSTER):
        return
    if not any(True for _ in view.objects("NetworkPolicy")) or paths.network_policy_enforced(view):
        return
    addon = paths.vpc_cni_addon(view)
    yield violation(
        view,
        addon["name"] if addon else "vpc-cni",
        NETPOL,
        f"NetworkPolicies are in the plan but vpc-cni doesn't enforce them ({facts.VPC_CNI_NETWORK_POLICY_KEY} "
        f"is {facts.VPC_CNI_NETWORK_POLICY_DEFAULT!r} by default in chart {facts.VPC_CNI_CHART_VERSION}): every "
        "workload in the VPC reaches the model pods",
    )
