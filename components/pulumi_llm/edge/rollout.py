"""EdgeRollout: the model server on every labelled edge node (K3s or any Kubernetes), image by digest.

One server per node per model (a DaemonSet) — edge nodes serve the data next to them, they are not a pool —
with the GGUF read from the node's model cache (a host directory the device image or the prepare Job
filled), so a model swap ships one file and the runtime image never carries weights. The same
pod rendering as every cluster (kubernetes/render.py): non-root, no privilege escalation, read-only
root, probes sized from the model. A stack can serve two fleets (e.g. CPU boxes and Jetson modules):
each fleet gets its own image and DaemonSets, told apart by the pulumi-llm.dev/fleet label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..kubernetes import render
from ..labels import CommonLabels, kubernetes_labels
from ..naming import child
from ..runtimes.spec import ContainerSpec

FLEET_LABEL = "pulumi-llm.dev/fleet"
"""Tells the servers of one model on different fleets (cpu, jetson) apart: selectors never overlap."""
CLIENT_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


class EdgeServer(BaseModel):
    """One model on one fleet: a DaemonSet, a Service and a NetworkPolicy named `name`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(description="Object name: the served name, with -<fleet> for a second fleet.")
    fleet: str = Field(description="Fleet key (cpu, cuda, jetson), the value of the pulumi-llm.dev/fleet label.")
    container: ContainerSpec = Field(description="The llama.cpp server (runtimes.llamacpp).")
    image: Any = Field(description="Image reference pinned by digest (the fleet's EdgeImage ref; an Input).")
    node_selector: Mapping[str, str] = Field(description="Labels of the nodes of this fleet.")
    tolerations: tuple[Mapping[str, Any], ...] = Field(default=(), description="Tolerations (e.g. GPU taints).")


class EdgeRolloutArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    servers: tuple[EdgeServer, ...] = Field(description="Every model on every fleet. Names must be unique.")
    namespace: str = Field(default="llm-edge", description="Namespace created for the rollout. Default llm-edge.")
    labels: CommonLabels = Field(description="The stack's common labels.")
    host_model_dir: str = Field(default="/var/lib/pulumi-llm/models", description="Node directory holding the GGUF files.")


def server_selector(server: EdgeServer) -> dict[str, str]:
    return {**render.selector_labels(server.container.served_name), FLEET_LABEL: server.fleet}


def daemon_set_spec(server: EdgeServer, *, labels: Mapping[str, str], host_model_dir: str) -> dict[str, Any]:
    placement = render.Placement(node_selector=server.node_selector, tolerations=server.tolerations)
    pod = render.pod_spec(server.container, placement, service_account="default", model_claim="unused")
    pod["volumes"] = [
        {"name": "model", "hostPath": {"path": host_model_dir, "type": "Directory"}} if v["name"] == "model" else v for v in pod["volumes"]
    ]
    return {
        "selector": {"matchLabels": server_selector(server)},
        # One node at a time: a fleet keeps serving while the new image rolls through it.
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }


class EdgeRollout(pulumi.ComponentResource):
    def __init__(self, name: str, args: EdgeRolloutArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:EdgeRollout", name, None, opts)
        names = [s.name for s in args.servers]
        if len(set(names)) != len(names):
            raise ValueError(f"edge servers must have unique names, got {names}")
        common = kubernetes_labels(args.labels)
        # hostPath is the one thing the restricted and baseline Pod Security levels forbid; the pod is
        # still non-root, read-only and capability-free, and audit/warn keep flagging anything else.
        namespace = k8s.core.v1.Namespace(
            child(name, "ns"),
            metadata={
                "name": args.namespace,
                "labels": {
                    **common,
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        # Specs are rendered as Kubernetes JSON (camelCase keys, plain dicts the tests read) and cast to the
        # SDK's snake_case *ArgsDict types: the provider sends a dict's keys as written.
        k8s.networking.v1.NetworkPolicy(
            child(name, "default-deny"),
            metadata={"name": "default-deny", "namespace": args.namespace, "labels": common},
            spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, render.default_deny_spec()),
            opts=in_ns,
        )
        for server in args.servers:
            spec = server.container
            labels = {
                **kubernetes_labels(args.labels.with_model(spec.served_name), component="model-server"),
                **server_selector(server),
                "pulumi-llm.dev/runtime": spec.runtime,
            }
            body = daemon_set_spec(server, labels=labels, host_model_dir=args.host_model_dir)
            body["template"]["spec"]["containers"][0]["image"] = server.image
            meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": server.name, "namespace": args.namespace, "labels": labels}
            daemon_set = cast(k8s.apps.v1.DaemonSetSpecArgsDict, body)
            k8s.apps.v1.DaemonSet(child(name, f"{server.name}-daemonset"), metadata=meta, spec=daemon_set, opts=in_ns)
            service = render.service_spec(spec)
            service["selector"] = server_selector(server)
            # Clients on an edge node reach the server on that node, not one across a weak link.
            service["internalTrafficPolicy"] = "Local"
            service_args = cast(k8s.core.v1.ServiceSpecArgsDict, service)
            k8s.core.v1.Service(child(name, f"{server.name}-service"), metadata=meta, spec=service_args, opts=in_ns)
            policy = render.network_policy_spec(
                spec,
                clients=[{"ipBlock": {"cidr": c}} for c in CLIENT_CIDRS],
                scrapers=[],
                object_store_egress=False,
                multinode=False,
            )
            policy["podSelector"] = {"matchLabels": server_selector(server)}
            policy_args = cast(k8s.networking.v1.NetworkPolicySpecArgsDict, policy)
            k8s.networking.v1.NetworkPolicy(child(name, f"{server.name}-netpol"), metadata=meta, spec=policy_args, opts=in_ns)
        self.register_outputs({})
