"""GCP GPU machine types: Compute Engine on-demand prices (VM including its GPUs) in us-central1, and GCS Standard for weights."""

from __future__ import annotations

from .offer import CloudCatalog, Offer, SpotDiscount

_G2 = (
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
    "us-west4",
    "europe-west1",
    "europe-west4",
    "asia-northeast1",
    "asia-southeast1",
)
_A2 = ("us-central1", "us-east1", "us-west1", "europe-west4", "asia-northeast1", "asia-southeast1")
_A2U = ("us-central1", "us-east4", "europe-west4", "asia-southeast1")
_A3 = ("us-central1", "us-east4", "us-east5", "us-west1", "europe-west1", "europe-west4", "asia-northeast1", "asia-southeast1")
_A3M = ("us-central1", "us-east4", "us-east5", "europe-west1", "europe-west4", "asia-northeast1")
_A3U = ("us-central1", "us-east4", "europe-west1", "asia-south1")

OFFERS: tuple[Offer, ...] = (
    Offer("g2-standard-4", "L4", 1, 4, 16, 0.7068, _G2),
    Offer("g2-standard-8", "L4", 1, 8, 32, 0.8536, _G2),
    Offer("g2-standard-12", "L4", 1, 12, 48, 1.0005, _G2),
    Offer("g2-standard-16", "L4", 1, 16, 64, 1.1473, _G2),
    Offer("g2-standard-24", "L4", 2, 24, 96, 2.0011, _G2),
    Offer("g2-standard-32", "L4", 1, 32, 128, 1.7340, _G2),
    Offer("g2-standard-48", "L4", 4, 48, 192, 4.0022, _G2),
    Offer("g2-standard-96", "L4", 8, 96, 384, 8.0044, _G2),
    Offer("a2-highgpu-1g", "A100-40GB", 1, 12, 85, 3.6734, _A2),
    Offer("a2-highgpu-2g", "A100-40GB", 2, 24, 170, 7.3467, _A2),
    Offer("a2-highgpu-4g", "A100-40GB", 4, 48, 340, 14.6934, _A2),
    Offer("a2-highgpu-8g", "A100-40GB", 8, 96, 680, 29.3869, _A2),
    Offer("a2-ultragpu-1g", "A100-80GB", 1, 12, 170, 5.0688, _A2U),
    Offer("a2-ultragpu-2g", "A100-80GB", 2, 24, 340, 10.1376, _A2U),
    Offer("a2-ultragpu-4g", "A100-80GB", 4, 48, 680, 20.2752, _A2U),
    Offer("a2-ultragpu-8g", "A100-80GB", 8, 96, 1360, 40.5504, _A2U),
    Offer("a3-highgpu-8g", "H100-80GB", 8, 208, 1872, 88.2488, _A3),
    Offer(
        "a3-megagpu-8g",
        "H100-80GB",
        8,
        208,
        1872,
        92.0,
        _A3M,
        price_is_estimate=True,
        price_note="no clear on-demand list price found; a3-highgpu-8g plus ~4 % used as a stand-in",
    ),
    Offer(
        "a3-ultragpu-8g",
        "H200",
        8,
        224,
        2952,
        100.0,
        _A3U,
        price_is_estimate=True,
        price_note="mostly sold through reservations/DWS; round stand-in figure",
    ),
)

_SPOT = SpotDiscount(
    0.6,
    "assumed: Google documents spot VMs at 60-91 % off the on-demand price "
    "(https://cloud.google.com/compute/docs/instances/spot; the current English page says 'up to 91 %'); the low end",
    "2026-12-07",
)
"""What the plan assumes Compute Engine spot VMs save off the on-demand list price."""

CATALOG = CloudCatalog(
    cloud="gcp",
    price_region="us-central1",
    price_source="https://cloud.google.com/compute/gpus-pricing (VM incl. GPUs, us-central1; transcribed by hand)",
    object_storage_per_gb_month=0.020,
    offers=OFFERS,
    aliases=("gcloud", "google"),
    spot_discount=_SPOT,
)
"""What sizing prices gcp with; weights kept in GCS Standard in us-central1 (USD per GB-month, listed 2025-06)."""
