"""Kubernetes NetworkPolicy semantics, as the API documents them (networking.k8s.io/v1), as pure code.

A pod is isolated for a direction once any policy in its namespace selects it and lists that direction
in `policyTypes` (or, without `policyTypes`, Ingress always and Egress when the policy has `egress`).
An isolated pod admits a connection when at least one selecting policy has a rule whose peers and
ports both match; policies only add. A peer is a pod (namespace labels + pod labels) or an IP:
`podSelector` alone means pods of the policy's own namespace, `namespaceSelector` pods of matching
namespaces (with `podSelector`, both must match), `ipBlock` addresses in `cidr` minus `except`.
Whether any of this is enforced depends on the CNI; callers decide that.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PodPeer:
    namespace: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str] = field(default_factory=dict[str, str])
    ip: str | None = None
    """The pod's address where the pod network is known. Whether an ipBlock matches pod traffic is up
    to the CNI (vpc-cni, Calico and Cilium do match it): so a pod with an address counts as matched when
    proving a path *closed*, and callers leave it out when proving a path *open*."""

    def ns_labels(self) -> dict[str, str]:
        # The API server sets this label on every namespace (Kubernetes >= 1.21).
        return {**self.namespace_labels, "kubernetes.io/metadata.name": self.namespace}


@dataclass(frozen=True)
class IpPeer:
    address: str


Peer = PodPeer | IpPeer


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """LabelSelector semantics: matchLabels and matchExpressions all hold; {} selects everything."""
    if selector is None:
        return False
    match_labels: Mapping[str, Any] = selector.get("matchLabels") or {}
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    expressions: list[Any] = selector.get("matchExpressions") or []
    for expr in expressions:
        key: str = expr["key"]
        op: str = expr["operator"]
        values: set[Any] = set(expr.get("values") or ())
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _spec(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    return policy.get("spec") or {}


def _directions(policy: Mapping[str, Any]) -> set[str]:
    spec = _spec(policy)
    types = spec.get("policyTypes")
    if types:
        return set(types)
    return {"Ingress", "Egress"} if spec.get("egress") is not None else {"Ingress"}


def _peer_matches(peer_rule: Mapping[str, Any], peer: Peer, policy_ns: str) -> bool:
    if "ipBlock" in peer_rule:
        raw = peer.address if isinstance(peer, IpPeer) else peer.ip
        if raw is None:
            return False
        block = peer_rule["ipBlock"]
        address = ipaddress.ip_address(raw)
        if address not in ipaddress.ip_network(block["cidr"], strict=False):
            return False
        excepted: list[Any] = block.get("except") or []
        return not any(address in ipaddress.ip_network(e, strict=False) for e in excepted)
    if isinstance(peer, IpPeer):
        return False
    ns_sel, pod_sel = peer_rule.get("namespaceSelector"), peer_rule.get("podSelector")
    if ns_sel is None:
        return peer.namespace == policy_ns and selects(pod_sel or {}, peer.labels)
    return selects(ns_sel, peer.ns_labels()) and (pod_sel is None or selects(pod_sel, peer.labels))


def _port_matches(port_rule: Mapping[str, Any], port: int, protocol: str, port_names: Mapping[str, int]) -> bool:
    if (port_rule.get("protocol") or "TCP") != protocol:
        return False
    wanted = port_rule.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        wanted = port_names.get(wanted)
        if wanted is None:
            return False
    end = port_rule.get("endPort", wanted)
    return wanted <= port <= end


def admits(
    policies: Iterable[Mapping[str, Any]],
    direction: str,
    pod_namespace: str,
    pod_labels: Mapping[str, str],
    peer: Peer,
    port: int,
    protocol: str = "TCP",
    port_names: Mapping[str, int] | None = None,
) -> bool:
    """Whether the policies let `peer` reach the pod (direction "Ingress") or the pod reach `peer`
    ("Egress") on `port`. `port_names` resolves named ports (the pod's container ports for Ingress)."""
    names = port_names or {}
    key = "ingress" if direction == "Ingress" else "egress"
    side = "from" if direction == "Ingress" else "to"
    isolating = [
        p
        for p in policies
        if p["metadata"].get("namespace") == pod_namespace
        and selects(_spec(p).get("podSelector") or {}, pod_labels)
        and direction in _directions(p)
    ]
    if not isolating:
        return True
    for policy in isolating:
        rules: list[Any] = _spec(policy).get(key) or []
        for rule_ in rules:
            peers: list[Any] | None = rule_.get(side)
            ports: list[Any] | None = rule_.get("ports")
            peer_ok = not peers or any(_peer_matches(pr, peer, pod_namespace) for pr in peers)
            port_ok = not ports or any(_port_matches(pr, port, protocol, names) for pr in ports)
            if peer_ok and port_ok:
                return True
    return False
