"""The common labels and tags: one pure function, rendered per target (docs/ARCHITECTURE.md,
"Labels and tags are a contract").

Every resource that accepts tags or labels gets the same set, so cost reports and selectors work the
same way on AWS, GCP, Azure and Kubernetes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .as_given import as_given

PROJECT = "pulumi-llm"


@as_given
@dataclass(frozen=True)
class CommonLabels:
    """The facts every resource is labelled with."""

    stack: str
    environment: str
    method: str | None = None
    model: str | None = None
    extra: dict[str, str] = field(default_factory=dict[str, str])

    def with_method(self, method: str) -> CommonLabels:
        return CommonLabels(self.stack, self.environment, method, self.model, dict(self.extra))

    def with_model(self, model: str) -> CommonLabels:
        return CommonLabels(self.stack, self.environment, self.method, model, dict(self.extra))

    def facts(self) -> dict[str, str]:
        """Our own facts by name (project, stack, environment, and method and model when set); each
        target turns them into its tags or labels."""
        pairs = {"project": PROJECT, "stack": self.stack, "environment": self.environment}
        if self.method:
            pairs["method"] = self.method
        if self.model:
            pairs["model"] = self.model
        return pairs


def aws_tags(labels: CommonLabels) -> dict[str, str]:
    """AWS tags (also used for Azure): `pulumi-llm:<fact>` keys keep ours apart from the user's."""
    tags = dict(labels.extra)
    tags.update({f"{PROJECT}:{k}": v for k, v in labels.facts().items()})
    return tags


azure_tags = aws_tags


def gcp_labels(labels: CommonLabels) -> dict[str, str]:
    """GCP labels: lowercase keys and values, [a-z0-9_-], at most 63 characters."""
    out = {_gcp(k): _gcp(v) for k, v in labels.extra.items()}
    out.update({f"pulumi-llm_{k}": _gcp(v) for k, v in labels.facts().items()})
    return out


def kubernetes_labels(labels: CommonLabels, component: str | None = None) -> dict[str, str]:
    """`app.kubernetes.io/*` recommended labels plus ours under the `pulumi-llm.dev/` prefix."""
    out = {k: _k8s_value(v) for k, v in labels.extra.items()}
    out.update(
        {
            "app.kubernetes.io/part-of": PROJECT,
            "app.kubernetes.io/managed-by": "pulumi",
            "pulumi-llm.dev/stack": _k8s_value(labels.stack),
            "pulumi-llm.dev/environment": _k8s_value(labels.environment),
        }
    )
    if labels.method:
        out["pulumi-llm.dev/method"] = _k8s_value(labels.method)
    if labels.model:
        out["app.kubernetes.io/name"] = _k8s_value(labels.model)
        out["pulumi-llm.dev/model"] = _k8s_value(labels.model)
    if component:
        out["app.kubernetes.io/component"] = _k8s_value(component)
    return out


def _gcp(value: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]


def _k8s_value(value: str) -> str:
    # Label values: at most 63 characters, alphanumerics plus '-', '_', '.', alphanumeric at both ends.
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", value)[:63]
    return cleaned.strip("-_.")
