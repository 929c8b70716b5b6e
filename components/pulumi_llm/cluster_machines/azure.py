"""AKS imposes no machine here: a model is sized as on a GPU VM (its instance_type, else the cheapest type that fits)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings
    from ..sizing import InstanceType


def own_machine(settings: Settings, model_key: str, fitting: Iterable[InstanceType]) -> InstanceType | None:
    del settings, model_key, fitting
    return None
