"""GKE serves every model from the stack's one GPU pool, so each is sized on that pool's machine type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..sizing import check_instance_region, get_instance_type
from .capacity import GpuCapacity

if TYPE_CHECKING:
    from ..settings import Settings
    from ..sizing import InstanceType


def own_machine(settings: Settings, model_key: str, fitting: Iterable[InstanceType]) -> InstanceType | None:
    del model_key, fitting  # the pool's machine, whatever fits
    if settings.gcp is None:
        return None
    itype = get_instance_type(settings.gcp.cluster.gpu_pool.machine_type, "gcp")
    check_instance_region(itype, settings.region or "")
    return itype


def capacity(settings: Settings) -> GpuCapacity | None:
    """GKE Standard: the GPU pool's spot and on-demand node counts × the machine's GPUs; Autopilot picks nodes itself."""
    if settings.gcp is None or settings.gcp.cluster.mode == "autopilot":
        return None
    pool = settings.gcp.cluster.gpu_pool
    per_node = get_instance_type(pool.machine_type, "gcp").gpu_count
    return GpuCapacity(
        (pool.spot_max_nodes + pool.on_demand_max_nodes) * per_node,
        "gcp.cluster.gpu_pool",
        pool.on_demand_max_nodes * per_node,
        "gcp.cluster.gpu_pool.on_demand_max_nodes",
    )
