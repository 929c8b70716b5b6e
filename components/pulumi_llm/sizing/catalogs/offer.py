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
class SpotDiscount:
    """The discount the plan assumes spot capacity gets off the on-demand list price: an assumption, dated.

    Spot prices float by type, zone and hour, and none of the clouds publishes a floor; the plan prices spot
    replicas at `(1 - fraction) x` the list price and prints the on-demand list beside it."""

    fraction: float
    """Share of the on-demand list price saved, 0 to 1 (0.6: spot costs 40 % of the list price)."""
    source: str
    """What the cloud publishes about spot discounts, and why this fraction was picked."""
    as_of: str
    """The day the assumption was made (YYYY-MM-DD)."""


@dataclass(frozen=True)
class RegionalPrices:
    """On-demand list prices of some of the catalog's types in a region other than the price region."""

    region: str
    prices: tuple[tuple[str, float], ...]
    """(machine type, USD per hour) as the pricing page lists them for `region`."""
    source: str
    as_of: str


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
    spot_discount: SpotDiscount | None = None
    """What the plan assumes spot saves on this cloud (None: spot is priced at the list price)."""
    regional_prices: tuple[RegionalPrices, ...] = ()
    """List prices transcribed for regions besides `price_region` (the plan prices a stack in its own region)."""

    def list_price(self, machine_type: str, region: str) -> tuple[float, str, str] | None:
        """(USD per hour, source, as of) of `machine_type` in `region`; None when the catalog has no price
        there (`price_region` prices come from `offers`)."""
        if region == self.price_region:
            for offer in self.offers:
                if offer.name == machine_type:
                    return offer.price_per_hour, self.price_source, self.price_as_of
            return None
        for regional in self.regional_prices:
            if regional.region == region:
                for name, price in regional.prices:
                    if name == machine_type:
                        return price, regional.source, regional.as_of
        return None

    def priced_regions(self, machine_type: str) -> tuple[str, ...]:
        """The regions the catalog has a list price of `machine_type` for, price region first."""
        found = [self.price_region] if any(o.name == machine_type for o in self.offers) else []
        found += [r.region for r in self.regional_prices if any(n == machine_type for n, _ in r.prices)]
        return tuple(found)
