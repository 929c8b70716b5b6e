"""The GPU capacity a cloud's cluster offers model servers, as its settings bound it (cluster_machines.CAPACITY)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuCapacity:
    """GPUs the cluster may hold for model servers: in all (`total_key` caps them), and on on-demand capacity."""

    total: int
    total_key: str
    """The stack-file key that caps the total (e.g. aws.cluster.max_gpus)."""
    on_demand: int
    """GPUs on on-demand nodes at most: where `serving.replicas.min` of every model must fit unless the stack is
    deliberately all-spot (`serving.all_spot`)."""
    on_demand_key: str
    """The stack-file key that holds the on-demand capacity (or forbids it)."""
