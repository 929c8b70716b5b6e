"""Installing into a new cluster: Helm releases and custom resources after what the API needs.

EksCluster, GkeCluster and AksCluster install their add-ons the same way: through the component's
Kubernetes provider, after the resources that make the API usable (`on_cluster`: nodes, admin access),
each release in a namespace created once, with its Pod Security level, before the first release in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .. import pins
from ..kubernetes import addons
from ..naming import child


class Installer:
    """Creates a cluster component's in-cluster children (named `<name>-<role>`, `<name>-<namespace>-ns`)."""

    def __init__(
        self,
        parent: pulumi.Resource,
        provider: k8s.Provider,
        name: str,
        labels: dict[str, str],
        *,
        on_cluster: Sequence[pulumi.Resource],
        namespaces_after: Sequence[pulumi.Resource],
        existing_namespaces: Sequence[str] = (),
    ) -> None:
        """`on_cluster`: what every child waits for; `namespaces_after`: what the namespaces wait for;
        `existing_namespaces`: namespaces the cluster already has (never created here)."""
        self._parent = parent
        self._provider = provider
        self._name = name
        self.labels = labels
        self._on_cluster = list(on_cluster)
        self._namespaces_after = list(namespaces_after)
        self._existing = frozenset(existing_namespaces)
        self._namespaces: dict[str, k8s.core.v1.Namespace] = {}

    def opts(self, *after: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options of an in-cluster child that also waits for `after`."""
        return pulumi.ResourceOptions(parent=self._parent, provider=self._provider, depends_on=[*self._on_cluster, *after])

    def namespace(self, ns: str, pod_security: str) -> list[pulumi.Resource]:
        """The namespace `ns` (created on first use) as a dependency list; empty for an existing one."""
        if ns in self._existing:
            return []
        if ns not in self._namespaces:
            self._namespaces[ns] = k8s.core.v1.Namespace(
                child(self._name, f"{ns}-ns"),
                metadata={"name": ns, "labels": {**self.labels, "pod-security.kubernetes.io/enforce": pod_security}},
                opts=pulumi.ResourceOptions(parent=self._parent, provider=self._provider, depends_on=self._namespaces_after),
            )
        return [self._namespaces[ns]]

    def release(
        self, role: str, pin: pins.ChartPin, ns: str, values: Mapping[str, Any], pod_security: str, *after: pulumi.Resource
    ) -> k8s.helm.v3.Release:
        """The pinned chart `pin` as release `<name>-<role>` in `ns`, after its namespace and `after`."""
        return addons.release(child(self._name, role), pin, ns, values, self.opts(*self.namespace(ns, pod_security), *after))
