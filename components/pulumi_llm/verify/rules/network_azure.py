"""network.azure: the flows an Azure stack intends, traced through the recorded NSGs, load balancers,
Container Apps environment and AKS settings the way Azure would carry (or drop) them.

NSGs are evaluated as Azure does: per direction, by ascending priority, first match wins, Azure's default
rules (AllowVnetInBound, ..., DenyAllInBound) after the custom ones; a flow crossing subnets passes the
source subnet's NSG outbound and the destination subnet's NSG inbound.

Open, end to end:
* network.azure-edge: API Management (VNet-integrated) → the gateway engine's internal Container Apps
  ingress: the apim subnet's NSG lets it out and the engine subnet's NSG lets it in on the backend URL's port;
* network.azure-private-endpoints: each caller of a private endpoint (Key Vault: the engine's secret references
  and APIM's named values; Blob: the GPU VMs reading weights) reaches it on 443 through its subnet's NSG and, where
  the endpoints' subnet applies network policies to them, that subnet's NSG, and
  each endpoint has a private DNS zone group, or the service's public name (public access disabled) is refused;
* network.azure-self-hosted: the engine → each model it routes to, by the URL in its environment: a GPU VM
  model's internal load balancer listens on the URL's port and the compute subnet admits the engine subnet on
  the backend port (and Azure's probes on the probe port); an AKS model is behind the internal ingress, whose
  Service admits the engine subnet and whose subnet's NSG lets it in on the URL's port.

Closed:
* network.azure-closed: the internet reaches nothing but APIM (no NSG allows `*`/`Internet`/a public range
  in, no public IP on a GPU VM or model load balancer, the engine environment is internal); no other subnet of
  the VNet (nor a peered network, which the VirtualNetwork tag includes) reaches a routed model's servers;
* network.azure-overlay: an Azure CNI Overlay cluster's own traffic (node→node, node→pod, pod→pod, any port)
  passes its subnet's NSG, out and in, which filters pod addresses;
* network.azure-netpol: the plan's NetworkPolicy objects are enforced only with networkProfile.networkPolicy
  azure, calico or cilium (cilium on the Cilium dataplane).

Upstream behaviour relied on is in facts.azure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..addresses import network, within
from ..facts import azure as facts
from ..plain import array_at, object_at
from ..report import Violation
from ..routes import routed_models, self_hosted_urls, url_port
from ..view import PlanView
from .registry import rule, violation

EDGE = "network.azure-edge"
SELF_HOSTED = "network.azure-self-hosted"
CLOSED = "network.azure-closed"
NETPOL = "network.azure-netpol"
PRIVATE_ENDPOINTS = "network.azure-private-endpoints"
OVERLAY = "network.azure-overlay"
OVERLAY_PROBES: tuple[tuple[str, int], ...] = (("Udp", 53), ("Tcp", 53), ("Tcp", 8000), ("Tcp", 10250))
"""Sample flows inside the cluster: DNS, a model server's port, the kubelet."""

NSG = "azure-native:network:NetworkSecurityGroup"
SUBNET = "azure-native:network:Subnet"
VNET = "azure-native:network:VirtualNetwork"
LB = "azure-native:network:LoadBalancer"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
APIM = "azure-native:apimanagement:ApiManagementService"
BACKEND = "azure-native:apimanagement:Backend"
APP = "azure-native:app:ContainerApp"
ENV = "azure-native:app:ManagedEnvironment"
CLUSTER = "azure-native:containerservice:ManagedCluster"
HELM = "kubernetes:helm.sh/v3:Release"
ENDPOINT = "azure-native:network:PrivateEndpoint"
DNS_GROUP = "azure-native:network:PrivateDnsZoneGroup"
NAMED_VALUE = "azure-native:apimanagement:NamedValue"
MODEL_TAG = "pulumi-llm:model"
PROBE_SOURCE = "168.63.129.16"  # the AzureLoadBalancer service tag's address
PEERED = "10.255.255.10"  # stands for an address of a peered VNet: inside the VirtualNetwork tag, outside our subnets
INTERNET = "203.0.113.10"  # TEST-NET-3: any address on the internet
INGRESS_LISTENERS = facts.INGRESS_NGINX_LISTENERS
INGRESS_PORTS = tuple(port for _, port in INGRESS_LISTENERS)
OPEN_SOURCES = {"*", "Any", "Internet", "0.0.0.0/0"}


# ---- NSG evaluation (pure) ----------------------------------------------------------------------------
def prefix_matches(prefix: str, address: str, vnet: tuple[str, ...]) -> bool:
    """Whether NSG address prefix `prefix` (CIDR, IP, `*`, or a service tag) covers all of `address`."""
    if prefix in ("*", "Any", "0.0.0.0/0"):
        return True
    in_vnet = any(within(address, v) for v in vnet) or within(address, PEERED + "/32")
    if prefix == "VirtualNetwork":
        return in_vnet
    if prefix == "Internet":  # everything outside the VirtualNetwork tag
        return network(address) is not None and not in_vnet
    if prefix == "AzureLoadBalancer":
        return within(address, PROBE_SOURCE + "/32")
    return within(address, prefix)


def _prefixes(rule_: dict[str, Any], side: str) -> list[str]:
    single = rule_.get(f"{side}AddressPrefix")
    return array_at(rule_, f"{side}AddressPrefixes") + ([single] if single else [])


def _port_matches(rule_: dict[str, Any], port: int) -> bool:
    specs = array_at(rule_, "destinationPortRanges") + ([rule_["destinationPortRange"]] if rule_.get("destinationPortRange") else [])
    for spec in specs:
        if spec == "*":
            return True
        low, _, high = str(spec).partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


@dataclass(frozen=True)
class NsgRule:
    """One security rule as nsg_verdict weighs it: a custom rule of the plan or one of Azure's defaults."""

    name: str
    priority: int
    direction: str
    access: str
    protocol: str
    sources: list[str]
    destinations: list[str]
    ports: dict[str, Any]
    """The rule's destination port fields (destinationPortRange / destinationPortRanges)."""


def _nsg_rule(r: dict[str, Any]) -> NsgRule:
    return NsgRule(
        r["name"],
        r["priority"],
        r["direction"],
        r["access"],
        r.get("protocol", "*"),
        _prefixes(r, "source"),
        _prefixes(r, "destination"),
        r,
    )


def _default_rule(d: dict[str, Any]) -> NsgRule:
    return NsgRule(
        d["name"],
        d["priority"],
        d["direction"],
        d["access"],
        d["protocol"],
        [d["source"]],
        [d["destination"]],
        {"destinationPortRange": d["ports"]},
    )


def _priority(r: NsgRule) -> int:
    return r.priority


def nsg_verdict(
    rules: list[dict[str, Any]], direction: str, source: str, destination: str, port: int, vnet: tuple[str, ...], protocol: str = "Tcp"
) -> tuple[str, str]:
    """(Allow|Deny, deciding rule) for `protocol` from all of `source` to `destination`:`port`."""
    custom = [_nsg_rule(r) for r in rules]
    defaults = [_default_rule(d) for d in facts.DEFAULT_RULES]
    for r in sorted(custom, key=_priority) + defaults:
        if r.direction != direction or r.protocol not in ("*", protocol):
            continue
        if not any(prefix_matches(p, source, vnet) for p in r.sources):
            continue
        if not any(prefix_matches(p, destination, vnet) for p in r.destinations):
            continue
        if not _port_matches(r.ports, port):
            continue
        return r.access, f"{r.name} (priority {r.priority})"
    return "Deny", "no rule"  # unreachable: DenyAll* match everything


# ---- plan look-ups ----------------------------------------------------------------------------------------
def _on_azure(view: PlanView) -> bool:
    return view.cloud == "azure"


def _vnet(view: PlanView) -> tuple[str, ...]:
    return tuple(p for v in view.of_type(VNET) for p in array_at(object_at(v["inputs"], "addressSpace"), "addressPrefixes"))


def _subnet(view: PlanView, ref: Any) -> dict[str, Any] | None:
    found = view.ref(ref)
    return found if found is not None and found["type"] == SUBNET else None


def _nsg_rules(view: PlanView, subnet: dict[str, Any]) -> list[dict[str, Any]]:
    nsg = view.ref(object_at(subnet["inputs"], "networkSecurityGroup").get("id"))
    return list(array_at(nsg["inputs"], "securityRules")) if nsg is not None else []


def crossing(
    view: PlanView,
    source: dict[str, Any],
    target: dict[str, Any],
    port: int,
    source_cidr: str | None = None,
    target_cidr: str | None = None,
    inbound: bool = True,
) -> list[str]:
    """Why TCP from subnet `source` (or `source_cidr`) to subnet `target`:`port` is dropped; [] when both NSGs pass it
    (`inbound` False: the target's NSG doesn't filter this traffic, only the source's outbound rules count)."""
    vnet = _vnet(view)
    src = source_cidr or source["inputs"]["addressPrefix"]
    dst = target_cidr or target["inputs"]["addressPrefix"]
    problems: list[str] = []
    access, by = nsg_verdict(_nsg_rules(view, source), "Outbound", src, dst, port, vnet)
    if access != "Allow":
        problems.append(f"{source['name']}'s NSG denies it out: {by}")
    if inbound:
        access, by = nsg_verdict(_nsg_rules(view, target), "Inbound", src, dst, port, vnet)
        if access != "Allow":
            problems.append(f"{target['name']}'s NSG denies it in: {by}")
    return problems


def _engine(view: PlanView) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the engine Container App, its environment's infrastructure subnet)."""
    apps = view.of_type(APP)
    if not apps:
        return None, None
    env = view.ref(apps[0]["inputs"].get("environmentId"))
    subnet = _subnet(view, object_at(env["inputs"], "vnetConfiguration").get("infrastructureSubnetId")) if env else None
    return apps[0], subnet


def _model_lb(view: PlanView, served: str) -> dict[str, Any] | None:
    return next((lb for lb in view.of_type(LB) if _model_tag(lb) == served), None)


def _model_tag(resource: dict[str, Any]) -> str | None:
    """The model a load balancer or scale set serves, by its tag."""
    return object_at(resource["inputs"], "tags").get(MODEL_TAG)


def _vmss_ip_configurations(vmss: dict[str, Any]) -> list[dict[str, Any]]:
    """The IP configurations of every NIC of a scale set's VMs."""
    profile = object_at(object_at(vmss["inputs"], "virtualMachineProfile"), "networkProfile")
    return [ip for nic in array_at(profile, "networkInterfaceConfigurations") for ip in array_at(nic, "ipConfigurations")]


def _vmss_subnet(view: PlanView, served: str) -> dict[str, Any] | None:
    for vmss in view.of_type(VMSS):
        if _model_tag(vmss) != served:
            continue
        for ip in _vmss_ip_configurations(vmss):
            found = _subnet(view, object_at(ip, "subnet").get("id"))
            if found is not None:
                return found
    return None


def _internal_ingress(view: PlanView) -> dict[str, Any] | None:
    for release in view.of_type(HELM):
        if release["inputs"].get("chart") != "ingress-nginx":
            continue
        service = object_at(object_at(object_at(release["inputs"], "values"), "controller"), "service")
        if object_at(service, "annotations").get("service.beta.kubernetes.io/azure-load-balancer-internal") == "true":
            return service
    return None


def _apim_subnet(view: PlanView, apim: dict[str, Any]) -> dict[str, Any] | None:
    """The subnet an API Management service is injected into (None: not VNet-integrated)."""
    return _subnet(view, object_at(apim["inputs"], "virtualNetworkConfiguration").get("subnetResourceId"))


def _cluster_subnet(view: PlanView) -> dict[str, Any] | None:
    for cluster in view.of_type(CLUSTER):
        for pool in array_at(cluster["inputs"], "agentPoolProfiles"):
            found = _subnet(view, pool.get("vnetSubnetID"))
            if found is not None:
                return found
    return None


def _routes(view: PlanView, served: str) -> bool:
    return any(
        any(
            p.get("path", "").startswith(f"/{served}")
            for rule_ in array_at(object_at(ing, "spec"), "rules")
            for p in array_at(object_at(rule_, "http"), "paths")
        )
        for ing in view.objects("Ingress")
    )


# ---- APIM → engine ----------------------------------------------------------------------------------------
@rule(EDGE)
def edge(view: PlanView) -> Iterator[Violation]:
    if not _on_azure(view) or "gateway" not in view.methods:
        return
    app, engine_subnet = _engine(view)
    apims = view.of_type(APIM)
    if not apims:
        yield violation(view, "gateway", EDGE, "the gateway method is on but the plan has no API Management service")
        return
    apim_subnet = _apim_subnet(view, apims[0])
    if app is None:
        return  # APIM-only gateway (Azure OpenAI backends): nothing inside the VNet to reach
    if engine_subnet is None or apim_subnet is None:
        yield violation(
            view, app["name"], EDGE, "APIM or the engine environment is not in a subnet of the VNet: APIM cannot reach the internal engine"
        )
        return
    ingress = object_at(object_at(app["inputs"], "configuration"), "ingress")
    backends = [
        b
        for b in view.of_type(BACKEND)
        if b["inputs"].get("backendId") == "litellm" or "litellm" in str(b["inputs"].get("title", "")).lower()
    ]
    for backend in backends:
        port = url_port(str(backend["inputs"].get("url", "")))
        if port is None:
            yield violation(view, backend["name"], EDGE, f"the engine backend's URL {backend['inputs'].get('url')!r} is not http(s)")
            continue
        if port == 80 and not ingress.get("allowInsecure"):
            yield violation(
                view, backend["name"], EDGE, "APIM calls the engine over http, which its ingress (allowInsecure false) redirects"
            )
        for problem in crossing(view, apim_subnet, engine_subnet, port):
            yield violation(view, backend["name"], EDGE, f"APIM → engine on {port}: {problem}")


# ---- engine → self-hosted ------------------------------------------------------------------------------
@rule(SELF_HOSTED)
def self_hosted(view: PlanView) -> Iterator[Violation]:
    if not _on_azure(view):
        return
    vnet = _vnet(view)
    # Each GPU VM model's load balancer probes its servers.
    for lb in view.of_type(LB):
        served = _model_tag(lb)
        subnet = _vmss_subnet(view, served) if served else None
        if subnet is None:
            continue
        for probe in array_at(lb["inputs"], "probes"):
            access, by = nsg_verdict(
                _nsg_rules(view, subnet), "Inbound", PROBE_SOURCE, subnet["inputs"]["addressPrefix"], int(probe["port"]), vnet
            )
            if access != "Allow":
                yield violation(
                    view, subnet["name"], SELF_HOSTED, f"Azure's load balancer probes cannot reach {served} on {probe['port']}: {by}"
                )
    app, engine_subnet = _engine(view)
    routed = routed_models(view)
    if app is None or not routed:
        return
    urls = self_hosted_urls(view)
    for served in sorted(routed):
        route = urls.get(served)
        if route is None:
            continue  # the engine's config calls no URL for it: wiring.self-hosted-model judges the config's routes
        port = route.port
        if port is None:
            yield violation(
                view, app["name"], SELF_HOSTED, f"the engine config calls {served} at {route.url!r} ({route.variable}), not an http(s) URL"
            )
            continue
        if engine_subnet is None:
            yield violation(view, app["name"], SELF_HOSTED, f"the engine's environment is not in the VNet: it cannot reach {served}")
            continue
        engine_cidr = engine_subnet["inputs"]["addressPrefix"]
        scheme = route.scheme
        lb = _model_lb(view, served)
        if lb is not None and scheme != "http":
            yield violation(
                view,
                lb["name"],
                SELF_HOSTED,
                f"the engine calls {served} over {scheme}; the layer-4 load balancer hands it to a plain-HTTP server",
            )
        if lb is not None:
            rules = [r for r in array_at(lb["inputs"], "loadBalancingRules") if int(r.get("frontendPort", 0)) == port]
            if not rules:
                yield violation(
                    view, lb["name"], SELF_HOSTED, f"the engine calls {served} on port {port}; the load balancer has no rule for it"
                )
                continue
            backend_port = int(rules[0]["backendPort"])
            servers = _vmss_subnet(view, served)
            frontends = array_at(lb["inputs"], "frontendIPConfigurations") or [{}]
            frontend = _subnet(view, object_at(frontends[0], "subnet").get("id"))
            if servers is None or frontend is None:
                yield violation(view, lb["name"], SELF_HOSTED, f"{served}'s servers or load balancer frontend are in no subnet of the VNet")
                continue
            # Out of the engine to the frontend's address and port; into the servers' subnet on the backend port
            # (no SNAT: the servers see the engine's address).
            access, by = nsg_verdict(
                _nsg_rules(view, engine_subnet), "Outbound", engine_cidr, frontend["inputs"]["addressPrefix"], port, vnet
            )
            if access != "Allow":
                yield violation(view, engine_subnet["name"], SELF_HOSTED, f"the engine cannot call {served} on {port}: {by}")
            access, by = nsg_verdict(
                _nsg_rules(view, servers), "Inbound", engine_cidr, servers["inputs"]["addressPrefix"], backend_port, vnet
            )
            if access != "Allow":
                yield violation(
                    view,
                    servers["name"],
                    SELF_HOSTED,
                    f"the engine ({engine_cidr}) cannot reach {served}'s servers on {backend_port}: {by}",
                )
            continue
        ingress = _internal_ingress(view)
        cluster_subnet = _cluster_subnet(view)
        if ingress is None or cluster_subnet is None or not _routes(view, served):
            yield violation(
                view, app["name"], SELF_HOSTED, f"the engine routes to {served} but no internal load balancer or ingress path serves it"
            )
            continue
        if (scheme, port) not in INGRESS_LISTENERS:
            yield violation(
                view,
                app["name"],
                SELF_HOSTED,
                f"the engine calls {served} with {scheme} on port {port}; the internal ingress serves {INGRESS_LISTENERS}",
            )
            continue
        ranges = array_at(ingress, "loadBalancerSourceRanges")
        if ranges and not any(within(engine_cidr, r) for r in ranges):
            yield violation(
                view, "ingress-nginx", SELF_HOSTED, f"the internal ingress admits {ranges}, not the engine's subnet {engine_cidr}"
            )
        for problem in crossing(view, engine_subnet, cluster_subnet, port):
            yield violation(
                view, cluster_subnet["name"], SELF_HOSTED, f"engine → {served} through the internal ingress on {port}: {problem}"
            )


# ---- closed -------------------------------------------------------------------------------------------
def _is_open(prefix: str) -> bool:
    if prefix in OPEN_SOURCES:
        return True
    net = network(prefix)
    return net is not None and not net.is_private


@rule(CLOSED)
def closed(view: PlanView) -> Iterator[Violation]:
    if not _on_azure(view):
        return
    public_ingress = bool(object_at(object_at(view.settings, "azure"), "network").get("public_ingress"))
    for nsg in view.of_type(NSG):
        for r in array_at(nsg["inputs"], "securityRules"):
            if r["direction"] != "Inbound" or r["access"] != "Allow":
                continue
            open_ = [p for p in _prefixes(r, "source") if _is_open(p)]
            if open_ and not (public_ingress and nsg["name"].endswith("-lb-nsg")):
                yield violation(view, nsg["name"], CLOSED, f"rule {r['name']} admits {open_} from the internet")
    for vmss in view.of_type(VMSS):
        profile = object_at(object_at(vmss["inputs"], "virtualMachineProfile"), "networkProfile")
        for nic in array_at(profile, "networkInterfaceConfigurations"):
            if any(ip.get("publicIPAddressConfiguration") for ip in array_at(nic, "ipConfigurations")):
                yield violation(view, vmss["name"], CLOSED, "the GPU VMs get public IP addresses: reachable past the gateway")
    for lb in view.of_type(LB):
        if any(f.get("publicIPAddress") for f in array_at(lb["inputs"], "frontendIPConfigurations")):
            yield violation(view, lb["name"], CLOSED, "the model's load balancer has a public frontend")
    for env in view.of_type(ENV):
        if not object_at(env["inputs"], "vnetConfiguration").get("internal"):
            yield violation(
                view,
                env["name"],
                CLOSED,
                "the engine's Container Apps environment is not internal: its ingress faces the internet, past APIM",
            )
    app, engine_subnet = _engine(view)
    if app is None or engine_subnet is None:
        return
    engine_cidr = engine_subnet["inputs"]["addressPrefix"]
    vnet = _vnet(view)
    for served in sorted(routed_models(view)):
        lb = _model_lb(view, served)
        if lb is not None:
            target = _vmss_subnet(view, served)
            ports = sorted({int(r["backendPort"]) for r in array_at(lb["inputs"], "loadBalancingRules")})
        else:
            target = _cluster_subnet(view)
            ports = list(INGRESS_PORTS)
        if target is None:
            continue
        dst = target["inputs"]["addressPrefix"]
        others = [s for s in view.of_type(SUBNET) if s is not target and s["inputs"]["addressPrefix"] != engine_cidr]
        sources = [(s["name"], s["inputs"]["addressPrefix"]) for s in others] + [
            ("a peered network", PEERED + "/32"),
            ("the internet", INTERNET + "/32"),
        ]
        for name, cidr in sources:
            for port in ports:
                access, by = nsg_verdict(_nsg_rules(view, target), "Inbound", cidr, dst, port, vnet)
                if access == "Allow":
                    yield violation(view, target["name"], CLOSED, f"{name} ({cidr}) reaches {served} on {port} past the gateway: {by}")


# ---- NetworkPolicy enforcement ---------------------------------------------------------------------------
def enforces_network_policy(cluster: dict[str, Any]) -> bool:
    profile = object_at(cluster["inputs"], "networkProfile")
    policy: str = profile.get("networkPolicy") or "none"
    if policy not in facts.ENFORCING_NETWORK_POLICIES:
        return False
    return policy != "cilium" or profile.get("networkDataplane") == "cilium"


@rule(NETPOL)
def netpol(view: PlanView) -> Iterator[Violation]:
    if not _on_azure(view) or not any(True for _ in view.objects("NetworkPolicy")):
        return
    for cluster in view.of_type(CLUSTER):
        if not enforces_network_policy(cluster):
            profile = object_at(cluster["inputs"], "networkProfile")
            policy: str = profile.get("networkPolicy") or "none"
            yield violation(
                view,
                cluster["name"],
                NETPOL,
                f"networkProfile.networkPolicy {policy!r} (dataplane {profile.get('networkDataplane')!r}) "
                "enforces no NetworkPolicy: any pod reaches the models",
            )


# ---- callers → private endpoints ------------------------------------------------------------------------------
def _endpoint_callers(view: PlanView, group: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(who, their subnet) of the callers of a private endpoint of `group` (vault, blob)."""
    callers: list[tuple[str, dict[str, Any] | None]] = []
    if group == "vault":
        app, engine_subnet = _engine(view)
        if app is not None and any(r.get("keyVaultUrl") for r in array_at(object_at(app["inputs"], "configuration"), "secrets")):
            callers.append(("the engine's Key Vault references", engine_subnet))
        apims = view.of_type(APIM)
        if apims and any(object_at(v["inputs"], "keyVault").get("secretIdentifier") for v in view.of_type(NAMED_VALUE)):
            callers.append(("API Management's Key Vault named values", _apim_subnet(view, apims[0])))
    if group == "blob":
        for vmss in view.of_type(VMSS):
            served = _model_tag(vmss)
            if served:
                callers.append((f"{served}'s GPU VMs reading the weights", _vmss_subnet(view, served)))
    return callers


@rule(PRIVATE_ENDPOINTS)
def private_endpoints(view: PlanView) -> Iterator[Violation]:
    if not _on_azure(view):
        return
    for endpoint in view.of_type(ENDPOINT):
        groups = [g for c in array_at(endpoint["inputs"], "privateLinkServiceConnections") for g in array_at(c, "groupIds")]
        target = _subnet(view, object_at(endpoint["inputs"], "subnet").get("id"))
        name = endpoint["inputs"].get("privateEndpointName") or endpoint["name"]
        if not any(
            g["inputs"].get("privateEndpointName") == name and g["inputs"].get("privateDnsZoneConfigs") for g in view.of_type(DNS_GROUP)
        ):
            yield violation(
                view,
                endpoint["name"],
                PRIVATE_ENDPOINTS,
                "no private DNS zone group: the service's name resolves to its public address, which refuses the callers",
            )
        if target is None:
            continue
        filtered = target["inputs"].get("privateEndpointNetworkPolicies") in facts.PRIVATE_ENDPOINT_NSG_POLICIES
        for group in groups:
            for who, subnet in _endpoint_callers(view, group):
                if subnet is None:
                    yield violation(
                        view,
                        endpoint["name"],
                        PRIVATE_ENDPOINTS,
                        f"{who} are not in a subnet of the VNet: they cannot reach the {group} endpoint",
                    )
                    continue
                for problem in crossing(view, subnet, target, 443, inbound=filtered):
                    yield violation(view, endpoint["name"], PRIVATE_ENDPOINTS, f"{who} → the {group} endpoint on 443: {problem}")


# ---- Azure CNI Overlay: the cluster's own traffic -------------------------------------------------------------
@rule(OVERLAY)
def overlay(view: PlanView) -> Iterator[Violation]:
    if not _on_azure(view):
        return
    subnet = _cluster_subnet(view)
    if subnet is None:
        return
    vnet = _vnet(view)
    for cluster in view.of_type(CLUSTER):
        profile = object_at(cluster["inputs"], "networkProfile")
        if profile.get("networkPluginMode") != "overlay":
            continue
        ranges: dict[str, str] = {"node": subnet["inputs"]["addressPrefix"], "pod": profile.get("podCidr") or ""}
        for source, destination in facts.OVERLAY_FLOWS:
            for protocol, port in OVERLAY_PROBES:
                # Both ends are behind the same subnet NSG: the flow leaves through its outbound rules and arrives
                # through its inbound rules.
                dropped = [
                    f"{direction.lower()} by {by}"
                    for direction in ("Outbound", "Inbound")
                    for access, by in [
                        nsg_verdict(_nsg_rules(view, subnet), direction, ranges[source], ranges[destination], port, vnet, protocol)
                    ]
                    if access != "Allow"
                ]
                if dropped:
                    yield violation(
                        view,
                        subnet["name"],
                        OVERLAY,
                        f"{source} → {destination} ({ranges[source]} → {ranges[destination]}) {protocol} {port} is dropped "
                        f"{' and '.join(dropped)}",
                    )
                    break
