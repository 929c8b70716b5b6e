"""AKS imposes no machine here: a model is sized as on a GPU VM (its instance_type, else the cheapest type that fits)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..sizing import get_instance_type
from .capacity import GpuCapacity

if TYPE_CHECKING:
    from ..settings import Settings
    from ..sizing import InstanceType


def own_machine(settings: Settings, model_key: str, fitting: Iterable[InstanceType]) -> InstanceType | None:
    del settings, model_key, fitting
    return None


def capacity(settings: Settings) -> GpuCapacity | None:
    """AKS: every GPU pool's max_count × its size's GPUs; on-demand is the Regular (spot: false) pools'."""
    pools = settings.azure.cluster.gpu_pools.values()
    gpus = [(get_instance_type(p.vm_size, "azure").gpu_count * p.max_count, p.spot) for p in pools]
    return GpuCapacity(
        sum(n for n, _ in gpus), "azure.cluster.gpu_pools", sum(n for n, spot in gpus if not spot), "azure.cluster.gpu_pools"
    )
