"""network.gcp: the flows a GCP stack intends, traced through the recorded load balancers, Cloud Run
service, GKE Services and VPC firewall rules the way Google's network would carry (or drop) them.

Open, end to end:
* network.gcp-edge: consumer → global HTTPS forwarding rule (443) → target proxy → URL map → backend
  service → serverless NEG → the gateway's Cloud Run service, whose ingress setting admits load balancers;
* network.gcp-self-hosted: each model's own load balancer reaches its servers (a regional internal ALB's
  proxy-only subnet and Google's health checkers through the VPC firewall, to the instance template's tags on
  the MIG's named port and the health check's port); and the gateway reaches each model it routes to: Cloud
  Run's Direct VPC egress into the model's network, the URL's port served by the model's internal load
  balancer, and a GKE internal Service that admits the gateway's egress subnet.

Closed:
* network.gcp-closed: the internet reaches nothing but the edge (no firewall admitting a public range other
  than Google's health checkers, no external address on a GPU VM or GKE node, no run.app URL open to the
  internet); no workload in the VPC reaches a model the gateway routes to except the gateway (its internal
  Service's source ranges and our firewall rules to its nodes admit only the gateway's subnet);
* network.gcp-google-apis: the weights' readers (GPU VMs, GKE nodes), which have no external address, reach
  Cloud Storage: their subnet has Private Google Access or a Cloud NAT of its region covers it;
* network.gcp-netpol: the plan's NetworkPolicy objects are enforced only on Dataplane V2, Autopilot, or the
  Calico add-on with network policy enabled.

Upstream behaviour relied on is in facts.gcp.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..addresses import network, overlaps, within
from ..facts import gcp as facts
from ..facts import inference_extension as inference_facts
from ..plain import array_at, object_at
from ..report import Violation
from ..routes import SelfHostedRoute, routed_models, self_hosted_urls
from ..view import PlanView
from .registry import rule, violation

EDGE = "network.gcp-edge"
SELF_HOSTED = "network.gcp-self-hosted"
CLOSED = "network.gcp-closed"
NETPOL = "network.gcp-netpol"
GOOGLE_APIS = "network.gcp-google-apis"

RUN = "gcp:cloudrunv2/service:Service"
FIREWALL = "gcp:compute/firewall:Firewall"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
REGION_BACKEND = "gcp:compute/regionBackendService:RegionBackendService"
REGION_HC = "gcp:compute/regionHealthCheck:RegionHealthCheck"
HC = "gcp:compute/healthCheck:HealthCheck"
FORWARDING_RULE = "gcp:compute/forwardingRule:ForwardingRule"
GLOBAL_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
URL_MAP = "gcp:compute/uRLMap:URLMap"
BACKEND = "gcp:compute/backendService:BackendService"
NEG = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
MODEL_LABEL = "pulumi-llm_model"
NAT = "gcp:compute/routerNat:RouterNat"


# ---- pure helpers -------------------------------------------------------------------------------------
def is_public(cidr: str) -> bool:
    """An internet range: outside every range a VPC subnet may use, loopback and link-local."""
    net = network(cidr)
    if net is None or net.is_loopback or net.is_link_local:
        return False
    return not (net.is_private or any(within(cidr, r) for r in facts.SUBNET_INTERNAL_RANGES))


def sources(firewall_inputs: dict[str, Any]) -> list[str]:
    """The source ranges an INGRESS rule admits: its sourceRanges, or all of IPv4 when it names no source."""
    i = firewall_inputs
    if not (i.get("sourceRanges") or i.get("sourceTags") or i.get("sourceServiceAccounts")):
        return [facts.INGRESS_SOURCE_WHEN_UNSET]
    ranges: list[str] = i.get("sourceRanges") or []
    return list(ranges)


def applies_to(firewall_inputs: dict[str, Any], tags: set[str], service_account: str | None) -> bool:
    """Whether the rule targets an instance with network `tags` running as `service_account`."""
    targets: set[str] = set(firewall_inputs.get("targetTags") or [])
    accounts: set[str] = set(firewall_inputs.get("targetServiceAccounts") or [])
    if targets and not targets & tags:
        return False
    return not accounts or service_account in accounts


def _ports_cover(ports: list[str] | None, port: int) -> bool:
    if not ports:
        return True  # a rule without ports covers every port of its protocol
    for spec in ports:
        low, _, high = str(spec).partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


def _protocol_entries(entries: list[dict[str, Any]] | None, port: int) -> bool:
    return any(e.get("protocol") in ("tcp", "all", "6") and _ports_cover(e.get("ports"), port) for e in entries or [])


def firewall_verdict(
    rules: list[dict[str, Any]], network_: str, source: str, tags: set[str], port: int, service_account: str | None = None
) -> tuple[str, str]:
    """What the VPC does with TCP from all of `source` to an instance tagged `tags`, running as
    `service_account`, on `port`: the first applicable INGRESS rule by priority (deny before allow at equal
    priority) decides, else the implied deny. A deny applies when it covers any of `source` (those addresses are
    dropped), an allow only when it covers all of it. Returns (allow|deny, the deciding rule's name)."""
    candidates: list[tuple[int, int, str, str]] = []
    for r in rules:
        i = r["inputs"]
        if i.get("disabled") or (i.get("direction") or "INGRESS") != "INGRESS" or i.get("network") != network_:
            continue
        if not applies_to(i, tags, service_account):
            continue
        ranges = sources(i)
        if _protocol_entries(i.get("denies"), port) and any(overlaps(source, s) for s in ranges):
            candidates.append((i.get("priority", 1000), 0, "deny", r["name"]))
        elif _protocol_entries(i.get("allows"), port) and any(within(source, s) for s in ranges):
            candidates.append((i.get("priority", 1000), 1, "allow", r["name"]))
    if not candidates:
        return facts.IMPLIED_INGRESS, "the implied deny-all ingress rule"
    _, _, verdict, name = min(candidates)
    return verdict, name


# ---- plan look-ups --------------------------------------------------------------------------------------
def _on_gcp(view: PlanView) -> bool:
    return view.cloud == "gcp"


def _run(view: PlanView) -> dict[str, Any] | None:
    found = view.of_type(RUN)
    return found[0] if found else None


def gateway_egress(view: PlanView, run: dict[str, Any]) -> tuple[str | None, str | None]:
    """(network, subnet CIDR) of the Cloud Run service's Direct VPC egress, or (None, None)."""
    access: dict[str, Any] = run["inputs"]["template"].get("vpcAccess") or {}
    if access.get("egress") not in facts.RUN_EGRESS_PRIVATE:
        return None, None
    nics: list[dict[str, Any]] = access.get("networkInterfaces") or []
    for nic in nics:
        subnet = view.ref(nic.get("subnetwork"))
        if subnet is not None:
            return subnet["inputs"].get("network"), subnet["inputs"].get("ipCidrRange")
    return None, None


def _internal_services(view: PlanView) -> list[dict[str, Any]]:
    return [
        s
        for s in view.objects("Service")
        if object_at(s, "spec").get("type") == "LoadBalancer"
        and (object_at(s["metadata"], "annotations").get(facts.INTERNAL_LB_ANNOTATION) == "Internal")
    ]


def _selected_name(service: dict[str, Any]) -> str | None:
    """The app.kubernetes.io/name a Service selects its pods by."""
    return object_at(service["spec"], "selector").get("app.kubernetes.io/name")


def _serves(service: dict[str, Any], served: str) -> bool:
    return _selected_name(service) == served


def _gpu_node_accounts(view: PlanView) -> set[str | None]:
    """The service accounts the GPU nodes run as (None: the Compute Engine default account)."""
    return {
        object_at(pool["inputs"], "nodeConfig").get("serviceAccount")
        for pool in view.of_type(NODE_POOL)
        if object_at(pool["inputs"], "nodeConfig").get("guestAccelerators")
    }


def _template_account(template: dict[str, Any]) -> str | None:
    return object_at(template["inputs"], "serviceAccount").get("email")


def _gpu_node_tags(view: PlanView) -> set[str]:
    tags: set[str] = set()
    for pool in view.of_type(NODE_POOL):
        config = object_at(pool["inputs"], "nodeConfig")
        if config.get("guestAccelerators"):
            tags |= set(array_at(config, "tags"))
    for cluster in view.of_type(CLUSTER):
        auto = object_at(object_at(cluster["inputs"], "nodePoolAutoConfig"), "networkTags")
        tags |= set(array_at(auto, "tags"))
    return tags


def _cluster_network(view: PlanView) -> str | None:
    clusters = view.of_type(CLUSTER)
    found: str | None = clusters[0]["inputs"].get("network") if clusters else None
    return found


def _proxy_ranges(view: PlanView, network: str) -> list[str]:
    return [
        s["inputs"]["ipCidrRange"]
        for s in view.of_type(SUBNET)
        if s["inputs"].get("purpose") in facts.PROXY_ONLY_SUBNET_PURPOSES and s["inputs"].get("network") == network
    ]


def _mig_for(view: PlanView, backend: dict[str, Any]) -> dict[str, Any] | None:
    for b in array_at(backend["inputs"], "backends"):
        group = str(b.get("group") or "")
        name = group.rsplit("/", 1)[-1]
        for mig in view.of_type(MIG):
            if mig["inputs"].get("name") == name or view.ref(group) is mig:
                return mig
    return None


def _template_of(view: PlanView, mig: dict[str, Any]) -> dict[str, Any] | None:
    for version in array_at(mig["inputs"], "versions"):
        found = view.ref(version.get("instanceTemplate"))
        if found is not None:
            return found
    return None


def _template_network(view: PlanView, template: dict[str, Any]) -> str | None:
    for nic in array_at(template["inputs"], "networkInterfaces"):
        if nic.get("network"):
            return nic["network"]
        subnet = view.ref(nic.get("subnetwork"))
        if subnet is not None:
            found: str | None = subnet["inputs"].get("network")
            return found
    return None


def _hc_port(view: PlanView, ref: Any) -> int | None:
    hc = view.ref(ref[0] if isinstance(ref, list) and ref else ref)
    if hc is None:
        return None
    for kind in ("httpHealthCheck", "httpsHealthCheck", "http2HealthCheck", "tcpHealthCheck", "grpcHealthCheck"):
        port = object_at(hc["inputs"], kind).get("port")
        if port:
            return int(port)
    return None


# ---- consumer → gateway edge ------------------------------------------------------------------------------
@rule(EDGE)
def edge(view: PlanView) -> Iterator[Violation]:
    if not _on_gcp(view) or "gateway" not in view.methods:
        return
    run = _run(view)
    if run is None:
        yield violation(view, "gateway", EDGE, "the gateway method is on but the plan has no Cloud Run service")
        return
    service_name = run["inputs"].get("name")
    ingress = run["inputs"].get("ingress", "INGRESS_TRAFFIC_ALL")
    if ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY":
        yield violation(
            view,
            run["name"],
            EDGE,
            "Cloud Run ingress INTERNAL_ONLY refuses the external HTTPS load balancer: consumers never reach the gateway",
        )
    https_rules = [fr for fr in view.of_type(GLOBAL_RULE) if str(fr["inputs"].get("portRange")) == "443"]
    if not https_rules:
        yield violation(view, run["name"], EDGE, "no global forwarding rule on 443 fronts the gateway: consumers have no edge")
    for fr in https_rules:
        i = fr["inputs"]
        proxy = view.ref(i.get("target"))
        if proxy is None or proxy["type"] != HTTPS_PROXY:
            yield violation(view, fr["name"], EDGE, "the 443 forwarding rule does not target an HTTPS proxy")
            continue
        url_map = view.ref(proxy["inputs"].get("urlMap"))
        backend = view.ref(url_map["inputs"].get("defaultService")) if url_map else None
        if backend is None or backend["type"] != BACKEND:
            yield violation(view, proxy["name"], EDGE, "the HTTPS proxy's URL map does not default to a backend service")
            continue
        negs = [view.ref(b.get("group")) for b in array_at(backend["inputs"], "backends")]
        names: set[str | None] = {object_at(n["inputs"], "cloudRun").get("service") for n in negs if n is not None and n["type"] == NEG}
        if service_name not in names:
            yield violation(
                view,
                backend["name"],
                EDGE,
                f"the backend service's serverless NEGs point at {sorted(n for n in names if n)}, not the gateway's Cloud Run service {service_name}",
            )


# ---- gateway / load balancer → self-hosted model ------------------------------------------------------------
def _internal_alb_reaches_servers(view: PlanView, backend: dict[str, Any], firewalls: list[dict[str, Any]]) -> Iterator[Violation]:
    """One of the models' regional internal ALBs: its proxies and Google's health checkers reach the VMs' port."""
    i = backend["inputs"]
    mig = _mig_for(view, backend)
    template = _template_of(view, mig) if mig else None
    if mig is None or template is None:
        yield violation(view, backend["name"], SELF_HOSTED, "the internal load balancer's backend is no instance group of the plan")
        return
    named: dict[str, int] = {p["name"]: int(p["port"]) for p in array_at(mig["inputs"], "namedPorts")}
    port = named.get(i.get("portName", "http"))
    if port is None:
        yield violation(
            view,
            mig["name"],
            SELF_HOSTED,
            f"the instance group has no named port {i.get('portName', 'http')!r} for its backend service",
        )
        return
    network = _template_network(view, template)
    tags = set(array_at(template["inputs"], "tags"))
    account = _template_account(template)
    proxies = _proxy_ranges(view, network or "")
    if not proxies:
        yield violation(
            view,
            backend["name"],
            SELF_HOSTED,
            "no proxy-only subnet in the VMs' network: an INTERNAL_MANAGED load balancer has no proxies",
        )
    for source in proxies:
        verdict, by = firewall_verdict(firewalls, network or "", source, tags, port, account)
        if verdict != "allow":
            yield violation(
                view,
                template["name"],
                SELF_HOSTED,
                f"the load balancer's proxies ({source}) cannot reach the servers (tags {sorted(tags)}) on port {port}: {by}",
            )
    checks = [
        (_hc_port(view, i.get("healthChecks")), "load balancer"),
        (_hc_port(view, object_at(mig["inputs"], "autoHealingPolicies").get("healthCheck")), "autohealing"),
    ]
    for hc_port, what in checks:
        if hc_port is None:
            continue
        for source in facts.GOOGLE_HEALTH_CHECK_RANGES:
            verdict, by = firewall_verdict(firewalls, network or "", source, tags, hc_port, account)
            if verdict != "allow":
                yield violation(
                    view,
                    template["name"],
                    SELF_HOSTED,
                    f"Google's {what} health checks ({source}) cannot reach port {hc_port} of the servers: {by}",
                )


def _service_serves_gateway(
    view: PlanView, service: dict[str, Any], served: str, port: int, scheme: str, egress_range: str | None
) -> Iterator[Violation]:
    """A GKE internal LoadBalancer Service: serves the port the gateway calls, over plain HTTP, to its egress subnet."""
    where = f"Service {service['metadata'].get('namespace')}/{service['metadata']['name']}"
    if port not in {p.get("port") for p in array_at(service["spec"], "ports")}:
        yield violation(
            view, where, SELF_HOSTED, f"the gateway calls {served} on port {port}, which its internal load balancer does not serve"
        )
    if scheme != "http":
        yield violation(
            view,
            where,
            SELF_HOSTED,
            f"the gateway calls {served} over {scheme}; a passthrough load balancer hands it to a plain-HTTP server",
        )
    ranges = array_at(service["spec"], "loadBalancerSourceRanges")
    if egress_range and ranges and not any(within(egress_range, r) for r in ranges):
        yield violation(
            view, where, SELF_HOSTED, f"the internal load balancer admits {ranges}, not the gateway's egress subnet {egress_range}"
        )


def _forwarding_rule_serves_gateway(view: PlanView, rule_: dict[str, Any], served: str, port: int, scheme: str) -> Iterator[Violation]:
    """A VM model's internal ALB forwarding rule: listens on the port the gateway calls, its proxy speaks its scheme."""
    if str(rule_["inputs"].get("portRange")) != str(port):
        yield violation(
            view,
            rule_["name"],
            SELF_HOSTED,
            f"the gateway calls {served} on port {port}, the load balancer listens on {rule_['inputs'].get('portRange')}",
        )
    proxy = view.ref(rule_["inputs"].get("target"))
    speaks = "https" if proxy is not None and "Https" in proxy["type"] else "http"
    if scheme != speaks:
        yield violation(
            view,
            rule_["name"],
            SELF_HOSTED,
            f"the gateway calls {served} over {scheme}, the load balancer's proxy speaks {speaks}",
        )


def _inference_route(view: PlanView, served: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The GKE Gateway and the HTTPRoute that send `/<served>` to an InferencePool (kubernetes/inference_gateway.py)."""
    gateways = {(g["metadata"].get("namespace"), g["metadata"]["name"]): g for g in view.manifests if g["kind"] == "Gateway"}
    for route in (m for m in view.manifests if m["kind"] == "HTTPRoute"):
        namespace = route["metadata"].get("namespace")
        for rule_ in array_at(route["spec"], "rules"):
            prefixes = {object_at(match, "path").get("value") for match in array_at(rule_, "matches")}
            if f"/{served}" not in prefixes or not any(b.get("kind") == "InferencePool" for b in array_at(rule_, "backendRefs")):
                continue
            for parent in array_at(route["spec"], "parentRefs"):
                gateway = gateways.get((parent.get("namespace", namespace), parent.get("name")))
                if gateway is not None:
                    return gateway, route
    return None


def _inference_gateway_serves(
    view: PlanView, pooled: tuple[dict[str, Any], dict[str, Any]], served: str, route: SelfHostedRoute
) -> Iterator[Violation]:
    """A model behind GKE's inference Gateway: a class that takes InferencePool backends, a listener on the URL's port
    speaking its scheme, and the URL's path under the route's prefix."""
    gateway, _route = pooled
    where = f"Gateway {gateway['metadata'].get('namespace')}/{gateway['metadata']['name']}"
    spec = gateway["spec"]
    if spec.get("gatewayClassName") not in inference_facts.GKE_INFERENCE_GATEWAY_CLASSES:
        yield violation(view, where, SELF_HOSTED, f"class {spec.get('gatewayClassName')!r} takes no InferencePool backend")
    listeners = {(int(lst.get("port", 0)), str(lst.get("protocol", "")).lower()) for lst in array_at(spec, "listeners")}
    if (route.port, route.scheme) not in listeners:
        yield violation(view, where, SELF_HOSTED, f"the gateway calls {served} on {route.scheme} port {route.port}, no listener serves it")
    if not urlsplit(route.url).path.startswith(f"/{served}/"):
        yield violation(view, where, SELF_HOSTED, f"the gateway calls {served} at {route.url!r}, outside its route's prefix /{served}")


def _gateway_reaches_model(
    view: PlanView, run: dict[str, Any], served: str, route: SelfHostedRoute, egress_network: str | None, egress_range: str | None
) -> Iterator[Violation]:
    """The gateway to one model it routes to: an internal load balancer serves it, in the network Cloud Run egresses into."""
    port = route.port
    if port is None:
        yield violation(
            view, run["name"], SELF_HOSTED, f"the engine config calls {served} at {route.url!r} ({route.variable}), not an http(s) URL"
        )
        return
    scheme = route.scheme
    services = [s for s in _internal_services(view) if _serves(s, served)]
    rules = [fr for fr in view.of_type(FORWARDING_RULE) if object_at(fr["inputs"], "labels").get(MODEL_LABEL) == served]
    pooled = _inference_route(view, served)
    if pooled is not None:
        network = _cluster_network(view)
        yield from _inference_gateway_serves(view, pooled, served, route)
    elif services:
        network = _cluster_network(view)
        yield from _service_serves_gateway(view, services[0], served, port, scheme, egress_range)
    elif rules:
        network: str | None = rules[0]["inputs"].get("network")
        yield from _forwarding_rule_serves_gateway(view, rules[0], served, port, scheme)
    else:
        yield violation(view, run["name"], SELF_HOSTED, f"the gateway routes to {served} but no internal load balancer serves it")
        return
    if egress_network is None:
        yield violation(
            view,
            run["name"],
            SELF_HOSTED,
            f"Cloud Run has no Direct VPC egress for private ranges: it cannot reach {served}'s internal load balancer",
        )
    elif egress_network != network:
        yield violation(view, run["name"], SELF_HOSTED, f"Cloud Run egresses into {egress_network}, {served} is served in {network}")


@rule(SELF_HOSTED)
def self_hosted(view: PlanView) -> Iterator[Violation]:
    if not _on_gcp(view):
        return
    firewalls = view.of_type(FIREWALL)
    # The models' own regional internal ALBs: proxies and health checkers to the VMs.
    for backend in view.of_type(REGION_BACKEND):
        if backend["inputs"].get("loadBalancingScheme") != "INTERNAL_MANAGED":
            continue
        yield from _internal_alb_reaches_servers(view, backend, firewalls)
    # The gateway to each model it routes to.
    routed = routed_models(view)
    run = _run(view)
    if not routed or run is None:
        return
    urls = self_hosted_urls(view)
    egress_network, egress_range = gateway_egress(view, run)
    for served in sorted(routed):
        route = urls.get(served)
        if route is None:
            continue  # the engine's config calls no URL for it: wiring.self-hosted-model judges the config's routes
        yield from _gateway_reaches_model(view, run, served, route, egress_network, egress_range)


# ---- closed ------------------------------------------------------------------------------------------------
@rule(CLOSED)
def closed(view: PlanView) -> Iterator[Violation]:
    if not _on_gcp(view):
        return
    health = set(facts.GOOGLE_HEALTH_CHECK_RANGES) | {facts.IAP_TCP_FORWARDING_RANGE}  # Google's probers and IAP's authenticated tunnels
    for fw in view.of_type(FIREWALL):
        i = fw["inputs"]
        if (i.get("direction") or "INGRESS") != "INGRESS" or not i.get("allows") or i.get("disabled"):
            continue
        public = [s for s in sources(i) if is_public(s) and s not in health]
        if public:
            targets = i.get("targetTags") or i.get("targetServiceAccounts") or "every instance"
            yield violation(view, fw["name"], CLOSED, f"admits {public} from the internet to {targets}")
    for tpl in view.of_type(TEMPLATE):
        if any(nic.get("accessConfigs") for nic in array_at(tpl["inputs"], "networkInterfaces")):
            yield violation(view, tpl["name"], CLOSED, "the GPU VMs get an external address (accessConfigs): reachable past the gateway")
    for cluster in view.of_type(CLUSTER):
        i = cluster["inputs"]
        if not i.get("enableAutopilot") and not object_at(i, "privateClusterConfig").get("enablePrivateNodes"):
            yield violation(
                view,
                cluster["name"],
                CLOSED,
                "nodes are not private (privateClusterConfig.enablePrivateNodes): each gets an external address",
            )
    for pool in view.of_type(NODE_POOL):
        if object_at(pool["inputs"], "networkConfig").get("enablePrivateNodes") is False:
            yield violation(view, pool["name"], CLOSED, "the node pool turns private nodes off: its nodes get external addresses")
    run = _run(view)
    if run is not None and run["inputs"].get("ingress", "INGRESS_TRAFFIC_ALL") in facts.RUN_INGRESS_FROM_INTERNET:
        yield violation(
            view,
            run["name"],
            CLOSED,
            "Cloud Run ingress ALL: the run.app URL answers the internet directly, past the load balancer and Cloud Armor",
        )
    routed = routed_models(view)
    if not routed or run is None:
        return
    _, egress_range = gateway_egress(view, run)
    if egress_range is None:
        return  # no Direct VPC egress: network.gcp-self-hosted reports it; the callers are unknown here
    callers = [egress_range]
    for service in _internal_services(view):
        served = _selected_name(service)
        if served not in routed:
            continue
        where = f"Service {service['metadata'].get('namespace')}/{service['metadata']['name']}"
        ranges = array_at(service["spec"], "loadBalancerSourceRanges")
        if not ranges:
            yield violation(
                view,
                where,
                CLOSED,
                f"no loadBalancerSourceRanges: GKE opens {served}'s internal load balancer to the whole VPC, past the gateway",
            )
        others = [r for r in ranges if not any(within(r, c) for c in callers)]
        if ranges and others:
            yield violation(view, where, CLOSED, f"admits {others} besides the gateway's subnet to {served}")
    if any(_serves(s, m) for s in _internal_services(view) for m in routed):
        gpu_tags = _gpu_node_tags(view)
        gpu_accounts = _gpu_node_accounts(view)
        ports: set[int | None] = {p.get("port") for s in _internal_services(view) for p in array_at(s["spec"], "ports")}
        for fw in view.of_type(FIREWALL):
            i = fw["inputs"]
            if (i.get("direction") or "INGRESS") != "INGRESS" or not i.get("allows") or i.get("disabled"):
                continue
            if not any(applies_to(i, gpu_tags, account) for account in gpu_accounts or {None}):
                continue
            if not any(_protocol_entries(i.get("allows"), p) for p in ports if p):
                continue
            others = [s for s in sources(i) if s not in health and not any(within(s, c) for c in callers)]
            if others:
                yield violation(
                    view, fw["name"], CLOSED, f"admits {others} to the GPU nodes on the models' ports: workloads there bypass the gateway"
                )


# ---- NetworkPolicy enforcement ----------------------------------------------------------------------------
def enforces_network_policy(cluster: dict[str, Any]) -> bool:
    i = cluster["inputs"]
    if i.get("enableAutopilot") or i.get("datapathProvider") == facts.DATAPLANE_V2:
        return True
    calico_addon_on = not (object_at(object_at(i, "addonsConfig"), "networkPolicyConfig").get("disabled", True))
    return bool(object_at(i, "networkPolicy").get("enabled")) and calico_addon_on


@rule(NETPOL)
def netpol(view: PlanView) -> Iterator[Violation]:
    if not _on_gcp(view) or not any(True for _ in view.objects("NetworkPolicy")):
        return
    for cluster in view.of_type(CLUSTER):
        if not enforces_network_policy(cluster):
            yield violation(
                view,
                cluster["name"],
                NETPOL,
                "the plan's NetworkPolicies are not enforced: neither Dataplane V2 (datapathProvider ADVANCED_DATAPATH) "
                "nor the Calico add-on (networkPolicy.enabled + addonsConfig.networkPolicyConfig) is on, so any pod reaches the models",
            )


# ---- readers → Cloud Storage -----------------------------------------------------------------------------------
def _reader_subnets(view: PlanView) -> Iterator[tuple[str, dict[str, Any]]]:
    for tpl in view.of_type(TEMPLATE):
        for nic in array_at(tpl["inputs"], "networkInterfaces"):
            subnet = view.ref(nic.get("subnetwork"))
            if subnet is not None and not nic.get("accessConfigs"):
                yield tpl["name"], subnet
    for cluster in view.of_type(CLUSTER):
        subnet = view.ref(cluster["inputs"].get("subnetwork"))
        if subnet is not None:
            yield cluster["name"], subnet


def _nat_covers(view: PlanView, subnet: dict[str, Any]) -> bool:
    for nat in view.of_type(NAT):
        i = nat["inputs"]
        if i.get("region") != subnet["inputs"].get("region"):
            continue
        router = next((r for r in view.of_type("gcp:compute/router:Router") if r["inputs"].get("name") == i.get("router")), None)
        if router is not None and router["inputs"].get("network") != subnet["inputs"].get("network"):
            continue
        if i.get("sourceSubnetworkIpRangesToNat") in facts.NAT_ALL_SUBNETS:
            return True
        if any(view.ref(s.get("name")) is subnet for s in array_at(i, "subnetworks")):
            return True
    return False


@rule(GOOGLE_APIS)
def google_apis(view: PlanView) -> Iterator[Violation]:
    if not _on_gcp(view):
        return
    for where, subnet in _reader_subnets(view):
        if not subnet["inputs"].get("privateIpGoogleAccess") and not _nat_covers(view, subnet):
            yield violation(
                view,
                where,
                GOOGLE_APIS,
                f"subnet {subnet['inputs'].get('ipCidrRange')} has neither Private Google Access nor a Cloud NAT: "
                "the servers cannot reach Cloud Storage for the weights (nor Artifact Registry)",
            )
