"""Azure GPU VM sizes: pay-as-you-go Linux list prices in East US, and Blob hot LRS for weights."""

from __future__ import annotations

from .offer import CloudCatalog, Offer, SpotDiscount

_T4 = ("eastus", "eastus2", "westus2", "southcentralus", "westeurope", "northeurope", "southeastasia", "japaneast")
_A10 = ("eastus", "southcentralus", "westus2", "westus3", "westeurope", "northeurope")
_A100 = ("eastus", "eastus2", "southcentralus", "westus2", "westeurope", "australiaeast")
_H100NVL = ("eastus", "eastus2", "southcentralus", "westeurope", "swedencentral")
_ND = ("eastus", "southcentralus", "westus2", "westeurope")
_NDH = ("eastus", "southcentralus", "westeurope", "swedencentral")

OFFERS: tuple[Offer, ...] = (
    Offer("Standard_NC4as_T4_v3", "T4", 1, 4, 28, 0.526, _T4),
    Offer("Standard_NC8as_T4_v3", "T4", 1, 8, 56, 0.752, _T4),
    Offer("Standard_NC16as_T4_v3", "T4", 1, 16, 110, 1.204, _T4),
    Offer("Standard_NC64as_T4_v3", "T4", 4, 64, 440, 4.352, _T4),
    Offer("Standard_NV36ads_A10_v5", "A10", 1, 36, 440, 3.20, _A10),
    Offer("Standard_NV72ads_A10_v5", "A10", 2, 72, 880, 6.40, _A10, price_is_estimate=True, price_note="twice the NV36ads_A10_v5 price"),
    Offer("Standard_NC24ads_A100_v4", "A100-80GB-PCIe", 1, 24, 220, 3.673, _A100),
    Offer("Standard_NC48ads_A100_v4", "A100-80GB-PCIe", 2, 48, 440, 7.346, _A100),
    Offer("Standard_NC96ads_A100_v4", "A100-80GB-PCIe", 4, 96, 880, 14.692, _A100),
    Offer("Standard_NC40ads_H100_v5", "H100-NVL", 1, 40, 320, 6.98, _H100NVL),
    Offer("Standard_NC80adis_H100_v5", "H100-NVL", 2, 80, 640, 13.96, _H100NVL),
    Offer("Standard_ND96asr_v4", "A100-40GB", 8, 96, 900, 27.197, _ND),
    Offer("Standard_ND96amsr_A100_v4", "A100-80GB", 8, 96, 1900, 32.77, _ND),
    Offer("Standard_ND96isr_H100_v5", "H100-80GB", 8, 96, 1900, 98.32, _NDH),
)

_SPOT = SpotDiscount(
    0.6,
    "assumed: Azure prices spot VMs per region and size, at most the pay-as-you-go price with max price -1 "
    "(https://learn.microsoft.com/azure/virtual-machines/spot-vms); 60 % is the low end Google documents for its "
    "spot VMs, used for every cloud so no cloud looks cheaper on an assumption",
    "2026-12-07",
)
"""What the plan assumes Azure Spot VMs save off the pay-as-you-go list price."""

CATALOG = CloudCatalog(
    cloud="azure",
    price_region="eastus",
    price_source="https://azure.microsoft.com/pricing/details/virtual-machines/linux/ (pay-as-you-go, East US; transcribed by hand)",
    object_storage_per_gb_month=0.018,
    offers=OFFERS,
    spot_discount=_SPOT,
)
"""What sizing prices azure with; weights kept in Blob hot LRS in East US (USD per GB-month, listed 2025-06)."""
