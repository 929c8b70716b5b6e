"""In-cluster flows under Kubernetes NetworkPolicy: what the model servers must accept and refuse.

Open: the scraper reaches every ServiceMonitor target on its metrics port; each model's entry point
(the Ingress controller's pods, the ALB's addresses, an internal LoadBalancer's allowed sources)
reaches the serving port; model and copy pods reach DNS and, when they read or write object storage,
HTTPS; pods with a cloud identity reach the node-local endpoint it is served from. Closed: a pod elsewhere in the cluster (another namespace, or the model's own) and an address
on the internet never reach a model's serving port.

The policies are evaluated as if enforced; whether the cluster's CNI enforces them is checked by the
per-cloud network rules (and on-prem by `preflight`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from ..facts import aws_network as aws_facts
from ..facts import credential_endpoints as credentials
from ..netpol import IpPeer, Peer, PodPeer, admits, selects
from ..plain import array_at, object_at
from ..report import Violation
from ..view import PlanView
from .aws_paths import tagged_subnet_cidrs
from .registry import rule, violation

INTERNET = IpPeer("203.0.113.10")  # TEST-NET-3 (RFC 5737): stands for any address outside the cluster
PROBE_LABELS = {"app.kubernetes.io/name": "some-other-workload"}
# Who the kube-prometheus-stack's Prometheus and ingress-nginx's controller run as (their release
# namespace, their pods' name label); GKE Managed Prometheus collectors run in gmp-system.
PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
GMP_NAMESPACE, GMP_LABELS = "gmp-system", {"app.kubernetes.io/name": "collector"}
NGINX_LABELS = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
KUBE_DNS = PodPeer("kube-system", {"k8s-app": "kube-dns"})
OBJECT_STORE = IpPeer("52.216.0.10")  # a public object-store address (S3, GCS, Blob all serve on 443)
STORE_SCHEMES = ("s3://", "gs://", "az://", "https://")

Pod = tuple[dict[str, Any], str, dict[str, str], dict[str, Any]]
"""(workload, namespace, pod labels, pod spec) of a pod template."""
Backend = tuple[dict[str, Any], str, dict[str, str], dict[str, Any], int]
"""(workload, namespace, pod labels, pod spec, container port) of the pods behind a Service port."""
Reachable = tuple[str, dict[str, Any], str, dict[str, str], dict[str, Any], int, list[Peer]]
"""(what, workload, namespace, labels, pod spec, port, callers) of an entry point's backend."""
ServingPort = tuple[str, dict[str, Any], str, dict[str, str], dict[str, Any], int]
"""(what, workload, namespace, labels, pod spec, port) of a model server's exposed port."""


def _pods(view: PlanView) -> list[Pod]:
    """(workload, namespace, pod labels, pod spec) of every pod template in the plan."""
    found: list[Pod] = []
    for obj in view.objects("Deployment", "StatefulSet", "DaemonSet", "Job"):
        template = obj["spec"]["template"]
        found.append((obj, obj["metadata"].get("namespace", "default"), template["metadata"].get("labels") or {}, template["spec"]))
    return found


def _port_names(spec: dict[str, Any]) -> dict[str, int]:
    containers: list[dict[str, Any]] = spec.get("containers", [])
    return {p["name"]: p["containerPort"] for c in containers for p in array_at(c, "ports") if p.get("name")}


def _policies(view: PlanView) -> list[dict[str, Any]]:
    return list(view.objects("NetworkPolicy"))


def _namespace_labels(view: PlanView) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: o["metadata"].get("labels") or {} for o in view.objects("Namespace")}


def _peer(view: PlanView, namespace: str, labels: dict[str, str], ip: str | None = None) -> PodPeer:
    return PodPeer(namespace, labels, _namespace_labels(view).get(namespace, {}), ip)


def _backends(view: PlanView, service: dict[str, Any], port: int | str) -> Iterator[Backend]:
    """Pods behind a Service port: (workload, namespace, labels, spec, container port)."""
    ns = service["metadata"].get("namespace", "default")
    selector = object_at(service["spec"], "selector")
    for sp in array_at(service["spec"], "ports"):
        if port not in (sp.get("port"), sp.get("name")):
            continue
        target: Any = sp.get("targetPort", sp.get("port"))  # IntOrString, as the manifest gives it
        for workload, pod_ns, labels, spec in _pods(view):
            if pod_ns == ns and selector and selects({"matchLabels": selector}, labels):
                number = target if isinstance(target, int) else _port_names(spec).get(target)
                if number is not None:
                    yield workload, pod_ns, labels, spec, number


def _service(view: PlanView, namespace: str, name: str) -> dict[str, Any] | None:
    return next(
        (s for s in view.objects("Service") if s["metadata"]["name"] == name and s["metadata"].get("namespace", "default") == namespace),
        None,
    )


def _release_namespace(view: PlanView, chart: str) -> str | None:
    for release in view.helm_releases():
        if str(release["inputs"].get("chart", "")).rsplit("/", 1)[-1] == chart:
            return release["inputs"].get("namespace")
    return None


def _scraper(view: PlanView) -> PodPeer | None:
    ns = _release_namespace(view, "kube-prometheus-stack")
    if ns:
        return _peer(view, ns, PROMETHEUS_LABELS)
    url = str(object_at(object_at(view.settings, "onprem"), "prometheus").get("url") or "")
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].split(".")
    if len(host) >= 2 and host[2:3] == ["svc"]:
        return _peer(view, host[1], PROMETHEUS_LABELS)  # <service>.<namespace>.svc…: the cluster's own Prometheus
    return None


def _pod_network(view: PlanView) -> str | None:
    """An address inside the range pods get their IPs from, where the plan says."""
    ranges: list[str] = []
    if view.of_type("aws:eks/cluster:Cluster"):
        ranges.append(str(object_at(object_at(view.settings, "aws"), "network").get("cidr") or ""))  # vpc-cni: pods get VPC addresses
    # A cluster the plan doesn't make (on-prem, the K3s edge fleet) has a pod range the plan doesn't know.
    for r in view.of_type("gcp:compute/subnetwork:Subnetwork"):
        ranges += [s["ipCidrRange"] for s in array_at(r["inputs"], "secondaryIpRanges") if s.get("rangeName") == "pods"]
    for r in view.of_type("azure-native:containerservice:ManagedCluster"):
        ranges.append(str(object_at(r["inputs"], "networkProfile").get("podCidr") or ""))
    for cidr in filter(None, ranges):
        return str(ipaddress.ip_network(cidr, strict=False).network_address + 77)
    return None


def _address_in(cidr: str, offset: int) -> str:
    return str(ipaddress.ip_network(cidr, strict=False).network_address + offset)


def _node_network(view: PlanView) -> list[str]:
    """The ranges the cluster's nodes take their addresses from, where the plan says: on AWS the VPC
    subnets no load balancer is placed in, on GKE the primary range of the subnet that carries the pods'
    secondary range, on AKS the subnets the node pools join."""
    ranges: list[str] = []
    for s in view.of_type("aws:ec2/subnet:Subnet"):
        tags = object_at(s["inputs"], "tags")
        if not any(aws_facts.discovered_subnet(tags, internal) for internal in (True, False)):
            ranges.append(s["inputs"]["cidrBlock"])
    for s in view.of_type("gcp:compute/subnetwork:Subnetwork"):
        if any(r.get("rangeName") == "pods" for r in array_at(s["inputs"], "secondaryIpRanges")):
            ranges.append(s["inputs"]["ipCidrRange"])
    pools = [*view.of_type("azure-native:containerservice:AgentPool")]
    subnet_refs: list[str | None] = [p["inputs"].get("vnetSubnetID") for p in pools]
    for cluster in view.of_type("azure-native:containerservice:ManagedCluster"):
        subnet_refs += [p.get("vnetSubnetID") for p in array_at(cluster["inputs"], "agentPoolProfiles")]
    for ref in dict.fromkeys(filter(None, subnet_refs)):
        subnet = view.ref(ref)
        if subnet is not None and subnet["inputs"].get("addressPrefix"):
            ranges.append(subnet["inputs"]["addressPrefix"])
    return ranges


def _entry_points(view: PlanView) -> Iterator[tuple[str, dict[str, Any], int | str, list[Peer]]]:
    """(what, service, service port, callers) for every way into a model from outside the cluster:
    Ingresses, LoadBalancer and NodePort Services."""
    for ingress in view.objects("Ingress"):
        ns = ingress["metadata"].get("namespace", "default")
        klass = ingress["spec"].get("ingressClassName")
        callers: list[Peer]
        if klass == "alb":
            # target-type ip: the ALB's own addresses in the subnets the controller places it in.
            scheme: str = object_at(ingress["metadata"], "annotations").get(aws_facts.SCHEME, aws_facts.SCHEME_DEFAULT)
            callers = [IpPeer(_address_in(c, 10)) for c in tagged_subnet_cidrs(view, scheme == "internal")]
        else:
            controller_ns = _release_namespace(view, "ingress-nginx")
            callers = [_peer(view, controller_ns, NGINX_LABELS)] if controller_ns else []
        for rule_ in array_at(ingress["spec"], "rules"):
            for path in array_at(object_at(rule_, "http"), "paths"):
                backend = path["backend"]["service"]
                service = _service(view, ns, backend["name"])
                if service is not None:
                    port = backend["port"].get("number", backend["port"].get("name"))
                    yield f"Ingress {ns}/{ingress['metadata']['name']}", service, port, callers
    for service in view.objects("Service"):
        spec = service["spec"]
        if spec.get("type") not in ("LoadBalancer", "NodePort"):
            continue
        if spec.get("externalTrafficPolicy") == "Local":
            # The client's address reaches the pod: the load balancer's allowed sources are the callers.
            source_ranges: list[str] = spec.get("loadBalancerSourceRanges") or []
            callers = [IpPeer(_address_in(c, 5)) for c in source_ranges]
        else:
            # Cluster (the default): kube-proxy source-NATs the connection to the address of the node it
            # arrived at, so the pod sees a node as its caller whoever called; admitting callers then
            # means admitting the nodes' range (and, where pods share it, every pod: network.k8s-closed).
            callers = [IpPeer(_address_in(c, 7)) for c in _node_network(view)]
        for sp in array_at(spec, "ports"):
            yield (
                f"Service {service['metadata'].get('namespace')}/{service['metadata']['name']} ({spec['type']})",
                service,
                sp["port"],
                callers,
            )


def _reachable(view: PlanView) -> Iterator[Reachable]:
    """(what, workload, namespace, labels, pod spec, port, callers) for every entry point's backend."""
    for what, service, port, callers in _entry_points(view):
        for workload, pod_ns, labels, spec, number in _backends(view, service, port):
            yield what, workload, pod_ns, labels, spec, number, callers


def _describe(peer: Peer) -> str:
    if isinstance(peer, IpPeer):
        return peer.address
    return f"pods {dict(peer.labels)} in namespace {peer.namespace}"


@rule("network.k8s-scrape")
def scrape_reaches_targets(view: PlanView) -> Iterator[Violation]:
    """Prometheus (or GKE's managed collectors) reaches each ServiceMonitor / PodMonitoring target."""
    policies = _policies(view)
    prometheus = _scraper(view)
    monitors = [(m, prometheus) for m in view.objects("ServiceMonitor")]
    monitors += [(m, _peer(view, GMP_NAMESPACE, GMP_LABELS)) for m in view.objects("PodMonitoring")]
    for monitor, scraper in monitors:
        if scraper is None:
            continue
        ns = monitor["metadata"].get("namespace", "default")
        spec = monitor["spec"]
        for endpoint in array_at(spec, "endpoints"):
            targets: list[Backend] = []
            if monitor["kind"] == "ServiceMonitor":
                for service in view.objects("Service"):
                    if service["metadata"].get("namespace", "default") == ns and selects(
                        spec.get("selector"), object_at(service["metadata"], "labels")
                    ):
                        endpoint_port: Any = endpoint.get("port") or endpoint.get("targetPort")  # a port's name or number
                        targets += list(_backends(view, service, endpoint_port))
            else:
                for workload, pod_ns, labels, pod_spec in _pods(view):
                    port: Any = endpoint.get("port")  # a port's name or number
                    number = port if isinstance(port, int) else _port_names(pod_spec).get(port)
                    if pod_ns == ns and number and selects(spec.get("selector"), labels):
                        targets.append((workload, pod_ns, labels, pod_spec, number))
            for workload, pod_ns, labels, pod_spec, port in targets:
                if not admits(policies, "Ingress", pod_ns, labels, scraper, port, port_names=_port_names(pod_spec)):
                    yield violation(
                        view,
                        f"{workload['kind']} {pod_ns}/{workload['metadata']['name']}",
                        "network.k8s-scrape",
                        f"{monitor['kind']} {monitor['metadata']['name']} scrapes port {port}, but no NetworkPolicy admits {_describe(scraper)}",
                    )


@rule("network.k8s-callers")
def callers_reach_models(view: PlanView) -> Iterator[Violation]:
    """Each entry point's callers reach the pods behind it on the serving port."""
    policies = _policies(view)
    for what, _service, _port, callers in _entry_points(view):
        if not callers:
            yield violation(
                view, what, "network.k8s-callers", "no caller is known for this entry point (no controller, subnet or source range)"
            )
    for what, workload, pod_ns, labels, spec, number, callers in _reachable(view):
        for caller in callers:
            if not admits(policies, "Ingress", pod_ns, labels, caller, number, port_names=_port_names(spec)):
                yield violation(
                    view,
                    f"{workload['kind']} {pod_ns}/{workload['metadata']['name']}",
                    "network.k8s-callers",
                    f"{what} forwards from {_describe(caller)} to port {number}, which no NetworkPolicy admits",
                )


def _serving_ports(view: PlanView) -> Iterator[ServingPort]:
    """(what, workload, namespace, labels, pod spec, port) for every port a model server's Services
    expose (the API, and metrics where they are separate), whether or not an entry point leads there."""
    entries = {(id(w), n): what for what, w, _ns, _l, _s, n, _c in _reachable(view)}
    seen: set[tuple[int, int]] = set()
    for service in view.objects("Service"):
        for sp in array_at(service["spec"], "ports"):
            for workload, pod_ns, labels, spec, number in _backends(view, service, sp["port"]):
                if labels.get("app.kubernetes.io/component") != "model-server" or (id(workload), number) in seen:
                    continue
                seen.add((id(workload), number))
                yield entries.get((id(workload), number), "the gateway"), workload, pod_ns, labels, spec, number


@rule("network.k8s-closed")
def models_closed_to_others(view: PlanView) -> Iterator[Violation]:
    """No pod but the entry point's callers, and nothing on the internet, reaches a model's serving port,
    whether or not an entry point exposes it."""
    policies = _policies(view)
    pod_ip = _pod_network(view)
    for what, workload, pod_ns, labels, spec, number in _serving_ports(view):
        probes: list[Peer] = [
            INTERNET,
            _peer(view, "default", PROBE_LABELS, pod_ip),
            _peer(view, pod_ns, PROBE_LABELS, pod_ip),
        ]
        for probe in probes:
            if admits(policies, "Ingress", pod_ns, labels, probe, number, port_names=_port_names(spec)):
                where = f"{_describe(probe)}" + (f" (pod address {probe.ip})" if isinstance(probe, PodPeer) and probe.ip else "")
                yield violation(
                    view,
                    f"{workload['kind']} {pod_ns}/{workload['metadata']['name']}",
                    "network.k8s-closed",
                    f"{where} reaches serving port {number}, bypassing {what}" + ("" if what == "the gateway" else " and the gateway"),
                )


def _credential_endpoints(view: PlanView) -> dict[tuple[str, str], tuple[str, int]]:
    """(namespace, service account) → the node-local (address, port) its pods fetch cloud credentials
    from: an EKS Pod Identity association's account asks the Pod Identity Agent; a service account
    annotated with a Google service account asks the GKE metadata server of the cluster's dataplane."""
    found: dict[tuple[str, str], tuple[str, int]] = {}
    for association in view.of_type(credentials.EKS_POD_IDENTITY_TYPE):
        i = association["inputs"]
        found[(i.get("namespace", ""), i.get("serviceAccount", ""))] = credentials.EKS_POD_IDENTITY_AGENT
    clusters = [c["inputs"] for c in view.of_type("gcp:container/cluster:Cluster")]
    dataplane_v2 = any(c.get("enableAutopilot") or c.get("datapathProvider") == "ADVANCED_DATAPATH" for c in clusters)
    metadata = credentials.GKE_METADATA_SERVER["ADVANCED_DATAPATH" if dataplane_v2 else "LEGACY_DATAPATH"]
    for account in view.objects("ServiceAccount"):
        meta = account["metadata"]
        if credentials.GKE_SERVICE_ACCOUNT_ANNOTATION in object_at(meta, "annotations"):
            found[(meta.get("namespace", "default"), meta["name"])] = metadata
    return found


@rule("network.k8s-egress")
def pods_reach_what_they_need(view: PlanView) -> Iterator[Violation]:
    """Every pod in a namespace with policies resolves names (kube-dns, 53/UDP); copy Jobs and servers
    that read the weights from object storage reach it on 443; pods whose service account has a cloud
    identity (an EKS Pod Identity association, a GKE Workload Identity annotation) reach the node-local
    endpoint that serves its credentials."""
    policies = _policies(view)
    identities = _credential_endpoints(view)
    sources = {m: str(spec.get("source") or "") for m, spec in object_at(view.settings, "models").items()}
    for workload, pod_ns, labels, pod_spec in _pods(view):
        name = f"{workload['kind']} {pod_ns}/{workload['metadata']['name']}"
        if not admits(policies, "Egress", pod_ns, labels, KUBE_DNS, 53, "UDP"):
            yield violation(view, name, "network.k8s-egress", "no NetworkPolicy lets it reach kube-dns on 53/UDP")
        model = labels.get("pulumi-llm.dev/model") or labels.get("app.kubernetes.io/name", "")
        copies = labels.get("app.kubernetes.io/component") == "model-copy"
        streams = sources.get(model, "").startswith(STORE_SCHEMES) and labels.get("app.kubernetes.io/component") == "model-server"
        if (copies or streams) and not admits(policies, "Egress", pod_ns, labels, OBJECT_STORE, 443):
            yield violation(view, name, "network.k8s-egress", "it reads or writes object storage, but no NetworkPolicy lets it reach 443")
        endpoint = identities.get((pod_ns, pod_spec.get("serviceAccountName") or "default"))
        if endpoint is not None and not admits(policies, "Egress", pod_ns, labels, IpPeer(endpoint[0]), endpoint[1]):
            yield violation(
                view,
                name,
                "network.k8s-egress",
                f"its service account gets cloud credentials from {endpoint[0]}:{endpoint[1]} on the node, "
                "which no NetworkPolicy lets it reach: no credentials, no object-store access",
            )
