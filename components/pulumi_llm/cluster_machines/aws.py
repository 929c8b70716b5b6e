"""EKS with Karpenter provisions GPU nodes only from the stack's instance families
(aws.cluster.gpu_instance_families), so a model is sized on the cheapest fitting type of those families."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from ..settings import Settings
    from ..sizing import InstanceType


def own_machine(settings: Settings, model_key: str, fitting: Iterable[InstanceType]) -> InstanceType | None:
    if settings.aws.cluster.gpu_capacity != "karpenter":
        return None
    families = tuple(settings.aws.cluster.gpu_instance_families)
    for candidate in fitting:
        if candidate.name.split(".")[0] in families:
            return candidate
    raise UserError(
        f"no instance type of the Karpenter families {', '.join(families)} in {settings.region} fits {model_key}; "
        "add a larger family to aws.cluster.gpu_instance_families or choose a quantization"
    )
