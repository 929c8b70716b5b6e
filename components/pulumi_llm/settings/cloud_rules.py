"""What the shared settings checks read per cloud, declared by each cloud's settings module (`RULES`).

A plain record with no imports of the package's settings, so settings/<cloud>.py can build one and
settings/cloud_registry.py collect them without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CloudRules:
    """One cloud's rows of the tables of checks_sources.py and checks_effect.py."""

    cloud: str
    """The cloud's name in clouds.py."""
    source_schemes: Mapping[str, tuple[str, ...]]
    """Self-hosting method → the model source schemes its servers read on this cloud (checks_sources.SCHEMES);
    a method with no entry is refused by CLOUD_OF_METHOD or reads no source."""
    read_by: Mapping[str, tuple[str, ...]]
    """Key of the cloud's subtree (`<cloud>.gpu_vm`) → the methods whose wiring reads it (checks_effect.READ_BY)."""
