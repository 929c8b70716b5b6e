"""Sizing's catalog per cloud: one module per cloud (its machine types, prices, regions, storage price).

sizing/hardware.py (INSTANCE_TYPES, CLOUDS, DEFAULT_REGION) and sizing/economics.py
(OBJECT_STORAGE_PER_GB_MONTH) are built from `CATALOGS`, in clouds.py's order (tests/unit/test_clouds.py keeps
them equal). Explicit import lines, so tests/unit/test_import_graph.py sees the edges.
"""

from __future__ import annotations

from . import aws, azure, gcp
from .offer import CloudCatalog, Offer, RegionalPrices, SpotDiscount

CATALOGS: tuple[CloudCatalog, ...] = (aws.CATALOG, gcp.CATALOG, azure.CATALOG)

__all__ = ["CATALOGS", "CloudCatalog", "Offer", "RegionalPrices", "SpotDiscount"]
