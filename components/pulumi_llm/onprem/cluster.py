"""OnPremCluster: what pulumi-llm installs into an existing Kubernetes cluster.

The cluster is the user's; the component owns only the namespaces and objects it creates, through
the Kubernetes provider the caller passes in `opts` (the platform builds it from a kubeconfig context).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..labels import CommonLabels, kubernetes_labels
from ..naming import child


class OnPremClusterArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    namespace: str = Field("llm", description="Namespace the model servers run in. Default `llm`.")
    labels: CommonLabels = Field(description="The common labels of the stack.")


class OnPremCluster(pulumi.ComponentResource):
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: OnPremClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:OnPremCluster", name, None, opts)
        labels = kubernetes_labels(args.labels)
        # Model servers run non-root with no privilege escalation, so the namespace can enforce the
        # `restricted` Pod Security Standard: anything weaker that lands here by mistake is refused.
        labels.update(
            {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }
        )
        ns = k8s.core.v1.Namespace(
            child(name, "ns"),
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=labels),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = ns.metadata.name
        self.register_outputs({"namespace": self.namespace})
