"""The GPU machine a cloud's cluster serves a model on, when the cluster decides it rather than the model.

One module per cloud, each exporting `own_machine(settings, model_key, fitting)`; serving.instance_type asks
the stack's cloud before choosing the cheapest instance that fits. The imports are explicit lines (not
importlib strings) so tests/unit/test_import_graph.py sees every edge; tests/unit/test_clouds.py keeps the
registry equal to clouds.py. The modules import sizing, never a cloud SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from . import aws, azure, gcp
from .capacity import GpuCapacity

if TYPE_CHECKING:
    from ..settings import Settings
    from ..sizing import InstanceType

OwnMachine = Callable[["Settings", str, "Iterable[InstanceType]"], "InstanceType | None"]
"""(settings, model key, the instance types that fit it, cheapest first and computed lazily) → the machine
the cluster runs that model on, or None when the cheapest fitting instance type is right."""

BY_CLOUD: dict[str, OwnMachine] = {
    "aws": aws.own_machine,
    "gcp": gcp.own_machine,
    "azure": azure.own_machine,
}

Capacity = Callable[["Settings"], "GpuCapacity | None"]
"""settings → the GPUs the stack's cluster may run model servers on (all, and on on-demand capacity), or None
where the settings don't bound them (GKE Autopilot)."""

CAPACITY: dict[str, Capacity] = {
    "aws": aws.capacity,
    "gcp": gcp.capacity,
    "azure": azure.capacity,
}
