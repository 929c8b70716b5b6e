"""How CI previews and deploys the stack (`ci`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from ..validation import described
from .core import FieldProblem, StrictModel

RunnerLabel = Annotated[
    str,
    Field(
        pattern=described(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", "1-100 letters, digits, '.', '_' and '-', starting with a letter or digit")
    ),
]
"""A GitHub Actions runner label: letters, digits, '.', '_' and '-' (it lands in a workflow's runs-on)."""

SELF_HOSTED_LABEL = "self-hosted"
"""The label GitHub gives every self-hosted runner and no GitHub-hosted one."""


class CiSettings(StrictModel):
    """How CI (.github/workflows) previews and deploys the stack. See README, "Deploying from CI"."""

    runner_labels: list[RunnerLabel] = Field(
        default_factory=list,
        description=(
            "Labels of the self-hosted GitHub Actions runner, inside the stack's network, that previews and deploys it "
            "(the jobs' runs-on), e.g. [self-hosted, linux, x64, llm-prod]. Required when the stack talks to a "
            "Kubernetes API no GitHub-hosted runner can reach (EKS, GKE and AKS with private or allow-listed "
            "endpoints, on-prem and edge clusters). Default: none (a GitHub-hosted ubuntu-latest runner)."
        ),
    )

    @model_validator(mode="after")
    def _self_hosted(self) -> CiSettings:
        if self.runner_labels and SELF_HOSTED_LABEL not in self.runner_labels:
            raise FieldProblem(
                "runner_labels",
                f"must include {SELF_HOSTED_LABEL}, so the jobs never land on a GitHub-hosted runner outside the network",
            )
        if len(set(self.runner_labels)) != len(self.runner_labels):
            raise FieldProblem("runner_labels", "must not repeat a label")
        return self
