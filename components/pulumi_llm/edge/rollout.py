"""EdgeRollout: the model server on every labelled edge node (K3s or any Kubernetes), image by digest.

One server per node (a DaemonSet) — edge nodes serve the data next to them, they are not a pool —
with the GGUF read from the node's model cache (a host directory the device image or the prepare Job
filled), so a model swap ships one file and the runtime image never carries weights. The same
pod rendering as every cluster (kubernetes/render.py): non-root, no privilege escalation, read-only
root, probes sized from the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..kubernetes import render
from ..labels import CommonLabels, kubernetes_labels
from ..naming import child
from ..runtimes.spec import ContainerSpec


class EdgeRolloutArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    container: ContainerSpec = Field(description="The llama.cpp server (runtimes.llamacpp).")
    image: Any = Field(description="Image reference pinned by digest (the EdgeImage Index's ref; an Input).")
    namespace: str = Field("llm-edge", description="Namespace created for the rollout. Default llm-edge.")
    labels: CommonLabels = Field(description="The stack's common labels.")
    node_selector: Mapping[str, str] = Field(description="Labels of the edge nodes that run the server.")
    host_model_dir: str = Field("/var/lib/pulumi-llm/models", description="Node directory holding the GGUF files.")
    tolerations: tuple[Mapping[str, Any], ...] = Field(default=(), description="Tolerations (e.g. for Jetson GPU taints).")


def daemon_set_spec(spec: ContainerSpec, *, labels: Mapping[str, str], node_selector: Mapping[str, str],
                    host_model_dir: str, tolerations: tuple[Mapping[str, Any], ...]) -> dict[str, Any]:
    placement = render.Placement(node_selector=node_selector, tolerations=tolerations)
    pod = render.pod_spec(spec, placement, service_account="default", model_claim="unused")
    pod["volumes"] = [
        {"name": "model", "hostPath": {"path": host_model_dir, "type": "Directory"}} if v["name"] == "model" else v
        for v in pod["volumes"]
    ]
    return {
        "selector": {"matchLabels": render.selector_labels(spec.served_name)},
        # One node at a time: a fleet keeps serving while the new image rolls through it.
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }


class EdgeRollout(pulumi.ComponentResource):
    def __init__(self, name: str, args: EdgeRolloutArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:EdgeRollout", name, None, opts)
        spec = args.container
        common = kubernetes_labels(args.labels)
        labels = {**kubernetes_labels(args.labels.with_model(spec.served_name), component="model-server"),
                  **render.selector_labels(spec.served_name), "pulumi-llm.dev/runtime": spec.runtime}
        # hostPath is the one thing the restricted and baseline Pod Security levels forbid; the pod is
        # still non-root, read-only and capability-free, and audit/warn keep flagging anything else.
        namespace = k8s.core.v1.Namespace(
            child(name, "ns"),
            metadata={"name": args.namespace, "labels": {**common, "pod-security.kubernetes.io/enforce": "privileged",
                                                          "pod-security.kubernetes.io/audit": "restricted",
                                                          "pod-security.kubernetes.io/warn": "restricted"}},
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        body = daemon_set_spec(spec, labels=labels, node_selector=args.node_selector,
                               host_model_dir=args.host_model_dir, tolerations=args.tolerations)
        body["template"]["spec"]["containers"][0]["image"] = args.image
        meta = {"name": spec.served_name, "namespace": args.namespace, "labels": labels}
        k8s.apps.v1.DaemonSet(child(name, "daemonset"), metadata=meta, spec=body, opts=in_ns)
        k8s.core.v1.Service(child(name, "service"), metadata=meta, spec=render.service_spec(spec), opts=in_ns)
        k8s.networking.v1.NetworkPolicy(
            child(name, "netpol"),
            metadata=meta,
            spec=render.network_policy_spec(
                spec, clients=[{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"ipBlock": {"cidr": "192.168.0.0/16"}}, {"ipBlock": {"cidr": "172.16.0.0/12"}}],
                scrapers=[], object_store_egress=False, multinode=False,
            ),
            opts=in_ns,
        )
        self.register_outputs({})
