"""AWS GPU instance types: EC2 on-demand Linux list prices in us-east-1, and S3 Standard for weights."""

from __future__ import annotations

from .offer import CloudCatalog, Offer, SpotDiscount

_G4DN = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-south-1")
_G5 = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-northeast-1",
    "ap-south-1",
)
_G6 = ("us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-west-2", "eu-central-1", "ap-south-1", "ap-northeast-1")
_G6E = ("us-east-1", "us-east-2", "us-west-2", "eu-central-1", "ap-northeast-1")
_P4D = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
_P4DE = ("us-east-1", "us-west-2")
_P5 = ("us-east-1", "us-east-2", "us-west-2", "eu-north-1", "ap-northeast-1")
_P5E = ("us-east-2",)
_P5EN = ("us-east-1", "us-east-2", "us-west-2")

_P_CUT = "after AWS's June 2025 on-demand price cut for P4/P5"

OFFERS: tuple[Offer, ...] = (
    Offer("g4dn.xlarge", "T4", 1, 4, 16, 0.526, _G4DN),
    Offer("g4dn.2xlarge", "T4", 1, 8, 32, 0.752, _G4DN),
    Offer("g4dn.12xlarge", "T4", 4, 48, 192, 3.912, _G4DN),
    Offer("g5.xlarge", "A10G", 1, 4, 16, 1.006, _G5),
    Offer("g5.2xlarge", "A10G", 1, 8, 32, 1.212, _G5),
    Offer("g5.4xlarge", "A10G", 1, 16, 64, 1.624, _G5),
    Offer("g5.8xlarge", "A10G", 1, 32, 128, 2.448, _G5),
    Offer("g5.12xlarge", "A10G", 4, 48, 192, 5.672, _G5),
    Offer("g5.16xlarge", "A10G", 1, 64, 256, 4.096, _G5),
    Offer("g5.24xlarge", "A10G", 4, 96, 384, 8.144, _G5),
    Offer("g5.48xlarge", "A10G", 8, 192, 768, 16.288, _G5),
    Offer("g6.xlarge", "L4", 1, 4, 16, 0.8048, _G6),
    Offer("g6.2xlarge", "L4", 1, 8, 32, 0.9776, _G6),
    Offer("g6.4xlarge", "L4", 1, 16, 64, 1.3232, _G6),
    Offer("g6.8xlarge", "L4", 1, 32, 128, 2.0144, _G6),
    Offer("g6.12xlarge", "L4", 4, 48, 192, 4.6016, _G6),
    Offer("g6.16xlarge", "L4", 1, 64, 256, 3.3968, _G6),
    Offer("g6.24xlarge", "L4", 4, 96, 384, 6.6752, _G6),
    Offer("g6.48xlarge", "L4", 8, 192, 768, 13.3504, _G6),
    Offer("g6e.xlarge", "L40S", 1, 4, 32, 1.861, _G6E),
    Offer("g6e.2xlarge", "L40S", 1, 8, 64, 2.24208, _G6E),
    Offer("g6e.4xlarge", "L40S", 1, 16, 128, 3.00424, _G6E),
    Offer("g6e.8xlarge", "L40S", 1, 32, 256, 4.52856, _G6E),
    Offer("g6e.12xlarge", "L40S", 4, 48, 384, 10.49264, _G6E),
    Offer("g6e.16xlarge", "L40S", 1, 64, 512, 7.57288, _G6E),
    Offer("g6e.24xlarge", "L40S", 4, 96, 768, 15.06559, _G6E),
    Offer("g6e.48xlarge", "L40S", 8, 192, 1536, 30.13118, _G6E),
    Offer("p4d.24xlarge", "A100-40GB", 8, 96, 1152, 21.96, _P4D, price_note=_P_CUT),
    Offer("p4de.24xlarge", "A100-80GB", 8, 96, 1152, 27.45, _P4DE, price_note=_P_CUT),
    Offer("p5.48xlarge", "H100-80GB", 8, 192, 2048, 55.04, _P5, price_note=_P_CUT),
    Offer(
        "p5e.48xlarge",
        "H200",
        8,
        192,
        2048,
        63.30,
        _P5E,
        price_is_estimate=True,
        price_note="sold mainly through Capacity Blocks; p5en.48xlarge list price used as a stand-in",
    ),
    Offer("p5en.48xlarge", "H200", 8, 192, 2048, 63.30, _P5EN, price_note=_P_CUT),
)

_SPOT = SpotDiscount(
    0.6,
    "assumed: AWS publishes only 'up to 90 %' off On-Demand (https://aws.amazon.com/ec2/spot/pricing/; the "
    "saving per type and region is in the Spot Instance Advisor); 60 % is the low end Google documents for its "
    "spot VMs, used for every cloud so no cloud looks cheaper on an assumption",
    "2026-12-07",
)
"""What the plan assumes EC2 Spot saves off the on-demand list price."""

CATALOG = CloudCatalog(
    cloud="aws",
    price_region="us-east-1",
    price_source="https://aws.amazon.com/ec2/pricing/on-demand/ (Linux, us-east-1; transcribed by hand)",
    object_storage_per_gb_month=0.023,
    offers=OFFERS,
    aliases=("amazon",),
    spot_discount=_SPOT,
)
"""What sizing prices aws with; weights kept in S3 Standard in us-east-1 (USD per GB-month, listed 2025-06)."""
