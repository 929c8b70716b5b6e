"""What every part of the stack settings shares: the namespace, the clouds and methods, the strict frozen
base model and the validated string types (labels, DNS names), each defined once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from ..clouds import NAMES as CLOUD_NAMES
from ..errors import FieldProblem
from ..validation import DNS_LABEL, EMAIL

__all__ = ["CLOUD_FOUNDATION", "CLOUD_OF_METHOD", "EMAIL_PATTERN", "NAMESPACE", "SELF_HOSTING", "Cloud", "FieldProblem", "Label", "Method"]


NAMESPACE = "pulumi-llm"

if TYPE_CHECKING:
    Cloud = str  # the names are data (clouds.NAMES), which a type checker can't read as a Literal
else:
    Cloud = Literal[(*CLOUD_NAMES, "onprem")]  # the public clouds of clouds.py, then your own cluster
Method = Literal["gateway", "gpu-vm", "cluster", "onprem", "edge"]
"""The deployment methods a stack can enable. Each one lands with the component that builds it."""

CLOUD_OF_METHOD: dict[str, tuple[str, ...]] = {
    "onprem": ("onprem",),
    "gpu-vm": CLOUD_NAMES,
    "cluster": CLOUD_NAMES,
    "gateway": CLOUD_NAMES,
    "edge": ("aws",),
}
"""Which clouds each method runs on: every public cloud runs the gateway, GPU VMs and clusters."""
SELF_HOSTING = ("gpu-vm", "cluster", "onprem", "edge")
"""The methods that run model servers."""
CLOUD_FOUNDATION = ("gpu-vm", "cluster")
"""The methods that build a cloud stack's network, store, key and alarms (the foundation of platform/<cloud>.py)."""

EMAIL_PATTERN = EMAIL.pattern
"""validation.EMAIL's pattern, for the checks that match a value against it with `re.fullmatch`."""


def _dns_label(max_len: int) -> AfterValidator:
    def check(value: str) -> str:
        if not DNS_LABEL.match(value) or len(value) > max_len:
            raise ValueError(
                f"must be lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most {max_len} characters"
            )
        return value

    return AfterValidator(check)


Label = Annotated[str, _dns_label(40)]
"""Names that become parts of Kubernetes and cloud resource names."""


# The base of every settings model: an unknown key is an error (a misspelling never passes silently) and
# parsed settings never change. No docstring: each subclass's own is its description in the JSON Schema.
class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
