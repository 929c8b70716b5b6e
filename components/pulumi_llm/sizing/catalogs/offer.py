"""The shape of one cloud's sizing catalog: its GPU machine types with list prices, and its object storage price.

Plain data with no imports of the package, so the per-cloud modules beside it need nothing else and
sizing/hardware.py builds its `InstanceType`s from them without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Offer:
    """One machine type as the cloud's pricing page lists it."""

    name: str
    accelerator: str
    """Key of sizing.hardware.ACCELERATORS."""
    gpus: int
    vcpu: int
    ram_gib: float
    price_per_hour: float
    """On-demand Linux list price in USD in the catalog's price region."""
    regions: tuple[str, ...]
    """A modest list of regions known to offer the type, not an exhaustive one."""
    price_is_estimate: bool = False
    price_note: str = ""


@dataclass(frozen=True)
class CloudCatalog:
    """What sizing knows of one cloud."""

    cloud: str
    """The cloud's name in clouds.py."""
    price_region: str
    """The region its prices were read for, and the default region of `size`/`compare`."""
    price_source: str
    """The public pricing page the prices were transcribed from, by hand."""
    object_storage_per_gb_month: float
    """Standard-class object storage list price, USD per GB-month, for the model weights kept in a bucket."""
    offers: tuple[Offer, ...]
    price_as_of: str = "2025-06"
    """The month the prices were listed."""
    aliases: tuple[str, ...] = ()
    """Other names a user may give the cloud (`pulumi-llm size --cloud google`)."""
