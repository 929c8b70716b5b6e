"""EKS with Karpenter provisions GPU nodes only from the stack's instance families
(aws.cluster.gpu_instance_families), so a model is sized on the cheapest fitting type of those families."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import UserError
from .capacity import GpuCapacity

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


def capacity(settings: Settings) -> GpuCapacity | None:
    """EKS: aws.cluster.max_gpus caps every GPU. Karpenter keeps the models' fewest replicas on an on-demand
    NodePool of its own (cluster/eks_render.node_pools), whatever capacity_types the burst pool takes; a managed
    GPU node group is on-demand (platform/aws.py)."""
    cluster = settings.aws.cluster
    return GpuCapacity(cluster.max_gpus, "aws.cluster.max_gpus", cluster.max_gpus, "aws.cluster.max_gpus")
