"""What every part of the stack settings shares: the namespace, the clouds and methods, the strict frozen
base model and the validated string types (labels, DNS names), each defined once."""

from __future__ import annotations

from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

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

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1 where a field wants an int (`context: true` became a context of 1).
        # Strict mode would also refuse "8192", the form the Pulumi engine passes every scalar in, so only booleans
        # are refused here, for every whole-number field of every settings model; YAML numbers parse as before.
        for name, value in _entries(data):
            field = cls.model_fields.get(str(name))
            if isinstance(value, bool) and field is not None and takes_whole_number(field.annotation):
                raise FieldProblem(str(name), "must be a whole number, not true or false")
        return data


def _entries(data: Any) -> list[tuple[Any, Any]]:
    return list(cast("dict[Any, Any]", data).items()) if isinstance(data, dict) else []


def takes_whole_number(annotation: Any) -> bool:
    """Whether a field annotated `annotation` holds an int (int, int | None, Annotated[int, …]), not a bool."""
    if annotation is int:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return takes_whole_number(get_args(annotation)[0])
    if origin in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return bool(members) and all(takes_whole_number(a) for a in members)
    return False
