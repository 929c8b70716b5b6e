"""Accelerators (GPUs, Jetson modules, CPU hosts) and the cloud instance types that carry them.

Accelerator figures
-------------------
`memory_gib` is the memory CUDA reports as total on the device (what vLLM multiplies by
`--gpu-memory-utilization`), which is below the marketed size: ECC and the driver take their share
(e.g. an H100 80GB reports 79.22 GiB in vLLM's memory-profiling log, vllm-project/vllm#10511).
Bandwidth and dense (no sparsity) bf16 tensor TFLOP/s are from NVIDIA's data sheets; the T4 has no
bf16, so its fp16 figure is given. NVIDIA publishes no data sheet for the A10G (an AWS-only A10
variant): 600 GB/s is AWS's figure, the ~70 TFLOP/s is the commonly quoted value — treat it as approximate.
Jetson modules share their LPDDR5 with the CPU (`unified_memory`): the OS and CPU side keep
`os_reserve_gib`, and the model gets the rest. Their fp16 tensor throughput is derived from NVIDIA's
sparse INT8 GPU TOPS (÷ 4: dense, and fp16 runs at half the INT8 rate).

Instance prices
---------------
`price_per_hour` is the on-demand Linux list price in USD for `price_region`, transcribed by hand from
the cloud's public pricing page named in `price_source`, as listed in the month `price_as_of`. They are
list prices — no savings plans, committed-use or spot discounts — and they are not fetched by this
tool: check the page before budgeting. Entries with `price_is_estimate` had no clear public on-demand
list price when transcribed; their figure is a stand-in, said so in `price_note`.
`regions` is a modest list of regions known to offer the type, not an exhaustive one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pulumi_llm.errors import UserError
from pulumi_llm.sizing._common import GIB, lookup

Cloud = Literal["aws", "gcp", "azure"]
CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "azure")
DEFAULT_REGION: dict[Cloud, str] = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
"""Region each cloud's prices were read for, and the default region of `size`/`compare`."""

Interconnect = Literal["nvlink", "pcie", "none"]


@dataclass(frozen=True)
class Accelerator:
    """One device a model runs on: a GPU, a Jetson module, or a CPU host."""

    key: str
    name: str
    kind: Literal["gpu", "jetson", "cpu"]
    memory_gib: float
    """Memory visible to the runtime (GiB). For unified-memory devices: the whole RAM."""
    bandwidth_gbs: float
    """Peak memory bandwidth, GB/s."""
    bf16_tflops: float
    """Peak dense 16-bit tensor TFLOP/s (fp16 where the device has no bf16)."""
    cuda_arch: int | None
    """CUDA compute capability ×10 (86 = sm_86); None for CPU hosts."""
    marketed_memory_gb: float
    interconnect: Interconnect = "pcie"
    """How devices of this kind talk to each other inside one machine (tensor-parallel traffic)."""
    unified_memory: bool = False
    """True when CPU and accelerator share one memory (Jetson, CPU hosts)."""
    os_reserve_gib: float = 0.0
    """Memory kept for the OS and CPU side when memory is unified."""
    supports_bf16: bool = True
    note: str = ""

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)

    @property
    def model_memory_bytes(self) -> int:
        """Memory the model server may use at 100 % utilization: total minus the OS reserve."""
        return int((self.memory_gib - self.os_reserve_gib) * GIB)


def _gpu(
    key: str,
    name: str,
    mem: float,
    marketed: float,
    bw: float,
    tflops: float,
    arch: int,
    link: Interconnect = "pcie",
    *,
    supports_bf16: bool = True,
    note: str = "",
) -> Accelerator:
    return Accelerator(key, name, "gpu", mem, bw, tflops, arch, marketed, link, supports_bf16=supports_bf16, note=note)


def _jetson(key: str, name: str, mem: float, marketed: float, bw: float, tflops: float, reserve: float, note: str) -> Accelerator:
    return Accelerator(key, name, "jetson", mem, bw, tflops, 87, marketed, "none", True, reserve, True, note)


ACCELERATORS: dict[str, Accelerator] = {
    a.key.lower(): a
    for a in (
        _gpu("T4", "NVIDIA T4 16GB", 14.6, 16, 320, 65, 75, supports_bf16=False, note="Turing: no bf16, fp16 tensor figure"),
        _gpu("A10G", "NVIDIA A10G 24GB (AWS)", 22.0, 24, 600, 70, 86, note="no NVIDIA data sheet; TFLOP/s approximate"),
        _gpu("A10", "NVIDIA A10 24GB", 22.0, 24, 600, 125, 86),
        _gpu("L4", "NVIDIA L4 24GB", 22.0, 24, 300, 121, 89),
        _gpu("L40S", "NVIDIA L40S 48GB", 44.5, 48, 864, 362, 89),
        _gpu("A100-40GB", "NVIDIA A100 SXM4 40GB", 39.4, 40, 1555, 312, 80, "nvlink"),
        _gpu("A100-80GB", "NVIDIA A100 SXM4 80GB", 79.2, 80, 2039, 312, 80, "nvlink"),
        _gpu("A100-80GB-PCIe", "NVIDIA A100 PCIe 80GB", 79.2, 80, 1935, 312, 80),
        _gpu("H100-80GB", "NVIDIA H100 SXM5 80GB", 79.2, 80, 3350, 989, 90, "nvlink"),
        _gpu("H100-NVL", "NVIDIA H100 NVL 94GB", 93.1, 94, 3900, 835, 90, "nvlink", note="pairs joined by NVLink bridges"),
        _gpu("H200", "NVIDIA H200 SXM 141GB", 139.8, 141, 4800, 989, 90, "nvlink"),
        _jetson(
            "Orin-Nano-8GB",
            "Jetson Orin Nano 8GB",
            7.4,
            8,
            68,
            10.2,
            1.5,
            "102 GB/s in the JetPack 6.1+ 'Super' power mode; 68 GB/s assumed",
        ),
        _jetson("Orin-NX-16GB", "Jetson Orin NX 16GB", 15.3, 16, 102.4, 15.0, 2.0, ""),
        _jetson("AGX-Orin-32GB", "Jetson AGX Orin 32GB", 30.6, 32, 204.8, 26.7, 2.0, ""),
        _jetson("AGX-Orin-64GB", "Jetson AGX Orin 64GB", 61.3, 64, 204.8, 42.6, 2.0, ""),
    )
}

_ACCELERATOR_ALIASES = {
    "a100": "a100-80gb",
    "a100-40g": "a100-40gb",
    "a100-80g": "a100-80gb",
    "h100": "h100-80gb",
    "h100-sxm": "h100-80gb",
    "h200-141gb": "h200",
    "jetson-orin-nano-8gb": "orin-nano-8gb",
    "orin-nano": "orin-nano-8gb",
    "jetson-orin-nx-16gb": "orin-nx-16gb",
    "orin-nx": "orin-nx-16gb",
    "jetson-agx-orin-32gb": "agx-orin-32gb",
    "jetson-agx-orin-64gb": "agx-orin-64gb",
}


def get_accelerator(key: str) -> Accelerator:
    """Look an accelerator up by key, case-insensitively ('h100-80gb', 'L4', 'AGX-Orin-64GB', …)."""
    return lookup("GPU", key, ACCELERATORS, aliases=_ACCELERATOR_ALIASES, display=lambda k: ACCELERATORS[k].key)


def cpu_host(ram_gib: float, *, cores: int = 8, bandwidth_gbs: float = 40.0) -> Accelerator:
    """A CPU-only machine with `ram_gib` of RAM, as an accelerator the fit functions accept.

    Defaults: 8 cores; 40 GB/s memory bandwidth (two channels of DDR4-3200 at ~80 % of their
    51 GB/s peak); 0.1 TFLOP/s per core (AVX2 FMA: 32 fp32 FLOP/cycle at ~3 GHz); 2 GiB for the OS.
    """
    if ram_gib <= 0:
        raise UserError(f"CPU host RAM must be a positive number of GiB, not {ram_gib:g}")
    if cores < 1:
        raise UserError(f"CPU host cores must be at least 1, not {cores}")
    return Accelerator(
        key=f"cpu-{ram_gib:g}gib",
        name=f"CPU host, {ram_gib:g} GiB RAM, {cores} cores",
        kind="cpu",
        memory_gib=float(ram_gib),
        bandwidth_gbs=bandwidth_gbs,
        bf16_tflops=0.1 * cores,
        cuda_arch=None,
        marketed_memory_gb=ram_gib * GIB / 1e9,
        interconnect="none",
        unified_memory=True,
        os_reserve_gib=2.0,
        note="CPU-only",
    )


@dataclass(frozen=True)
class InstanceType:
    """A cloud machine type with its accelerators, list price and the regions that offer it."""

    name: str
    cloud: Cloud
    accelerator_key: str
    gpu_count: int
    vcpu: int
    ram_gib: float
    price_per_hour: float
    price_region: str
    price_as_of: str
    price_source: str
    regions: tuple[str, ...]
    price_is_estimate: bool = False
    price_note: str = ""

    @property
    def accelerator(self) -> Accelerator:
        return ACCELERATORS[self.accelerator_key.lower()]

    @property
    def hardware(self) -> Hardware:
        return Hardware(self.accelerator, self.gpu_count, instance=self)

    @property
    def price_label(self) -> str:
        """'list price as published in 2025-06 for us-east-1 (<source>)'."""
        kind = "estimated price" if self.price_is_estimate else "list price as published"
        return f"{kind} in {self.price_as_of} for {self.price_region} ({self.price_source})"

    def offered_in(self, region: str) -> bool:
        return region.strip().lower() in self.regions


@dataclass(frozen=True)
class Hardware:
    """What one model server runs on: `count` devices of one kind, optionally a named instance type."""

    accelerator: Accelerator
    count: int = 1
    instance: InstanceType | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise UserError(f"GPU count must be at least 1, not {self.count}")

    @property
    def interconnect(self) -> Interconnect:
        return self.accelerator.interconnect

    @property
    def label(self) -> str:
        """'g5.xlarge (1× A10G)' or '4× H100-80GB' or 'CPU host, 32 GiB RAM, 8 cores'."""
        devices = f"{self.count}× {self.accelerator.key}"
        if self.instance is not None:
            return f"{self.instance.name} ({devices})"
        if self.accelerator.kind == "cpu":
            return self.accelerator.name
        return devices


# ---------------------------------------------------------------------------------------------
# Instance catalog
# ---------------------------------------------------------------------------------------------

_AS_OF = "2025-06"
_AWS_SRC = "https://aws.amazon.com/ec2/pricing/on-demand/ (Linux, us-east-1; transcribed by hand)"
_GCP_SRC = "https://cloud.google.com/compute/gpus-pricing (VM incl. GPUs, us-central1; transcribed by hand)"
_AZ_SRC = "https://azure.microsoft.com/pricing/details/virtual-machines/linux/ (pay-as-you-go, East US; transcribed by hand)"

_AWS_G4DN = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-south-1")
_AWS_G5 = (
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
_AWS_G6 = ("us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-west-2", "eu-central-1", "ap-south-1", "ap-northeast-1")
_AWS_G6E = ("us-east-1", "us-east-2", "us-west-2", "eu-central-1", "ap-northeast-1")
_AWS_P4D = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
_AWS_P4DE = ("us-east-1", "us-west-2")
_AWS_P5 = ("us-east-1", "us-east-2", "us-west-2", "eu-north-1", "ap-northeast-1")
_AWS_P5E = ("us-east-2",)
_AWS_P5EN = ("us-east-1", "us-east-2", "us-west-2")

_GCP_G2 = (
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
_GCP_A2 = ("us-central1", "us-east1", "us-west1", "europe-west4", "asia-northeast1", "asia-southeast1")
_GCP_A2U = ("us-central1", "us-east4", "europe-west4", "asia-southeast1")
_GCP_A3 = ("us-central1", "us-east4", "us-east5", "us-west1", "europe-west1", "europe-west4", "asia-northeast1", "asia-southeast1")
_GCP_A3M = ("us-central1", "us-east4", "us-east5", "europe-west1", "europe-west4", "asia-northeast1")
_GCP_A3U = ("us-central1", "us-east4", "europe-west1", "asia-south1")

_AZ_T4 = ("eastus", "eastus2", "westus2", "southcentralus", "westeurope", "northeurope", "southeastasia", "japaneast")
_AZ_A10 = ("eastus", "southcentralus", "westus2", "westus3", "westeurope", "northeurope")
_AZ_A100 = ("eastus", "eastus2", "southcentralus", "westus2", "westeurope", "australiaeast")
_AZ_H100NVL = ("eastus", "eastus2", "southcentralus", "westeurope", "swedencentral")
_AZ_ND = ("eastus", "southcentralus", "westus2", "westeurope")
_AZ_NDH = ("eastus", "southcentralus", "westeurope", "swedencentral")


def _aws(
    name: str,
    acc: str,
    n: int,
    vcpu: int,
    ram: float,
    price: float,
    regions: tuple[str, ...],
    *,
    price_is_estimate: bool = False,
    price_note: str = "",
) -> InstanceType:
    return InstanceType(name, "aws", acc, n, vcpu, ram, price, "us-east-1", _AS_OF, _AWS_SRC, regions, price_is_estimate, price_note)


def _gcp(
    name: str,
    acc: str,
    n: int,
    vcpu: int,
    ram: float,
    price: float,
    regions: tuple[str, ...],
    *,
    price_is_estimate: bool = False,
    price_note: str = "",
) -> InstanceType:
    return InstanceType(name, "gcp", acc, n, vcpu, ram, price, "us-central1", _AS_OF, _GCP_SRC, regions, price_is_estimate, price_note)


def _az(
    name: str,
    acc: str,
    n: int,
    vcpu: int,
    ram: float,
    price: float,
    regions: tuple[str, ...],
    *,
    price_is_estimate: bool = False,
    price_note: str = "",
) -> InstanceType:
    return InstanceType(name, "azure", acc, n, vcpu, ram, price, "eastus", _AS_OF, _AZ_SRC, regions, price_is_estimate, price_note)


_P_CUT = "after AWS's June 2025 on-demand price cut for P4/P5"

INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name.lower(): t
    for t in (
        # --- AWS ---------------------------------------------------------------------------
        _aws("g4dn.xlarge", "T4", 1, 4, 16, 0.526, _AWS_G4DN),
        _aws("g4dn.2xlarge", "T4", 1, 8, 32, 0.752, _AWS_G4DN),
        _aws("g4dn.12xlarge", "T4", 4, 48, 192, 3.912, _AWS_G4DN),
        _aws("g5.xlarge", "A10G", 1, 4, 16, 1.006, _AWS_G5),
        _aws("g5.2xlarge", "A10G", 1, 8, 32, 1.212, _AWS_G5),
        _aws("g5.4xlarge", "A10G", 1, 16, 64, 1.624, _AWS_G5),
        _aws("g5.8xlarge", "A10G", 1, 32, 128, 2.448, _AWS_G5),
        _aws("g5.12xlarge", "A10G", 4, 48, 192, 5.672, _AWS_G5),
        _aws("g5.16xlarge", "A10G", 1, 64, 256, 4.096, _AWS_G5),
        _aws("g5.24xlarge", "A10G", 4, 96, 384, 8.144, _AWS_G5),
        _aws("g5.48xlarge", "A10G", 8, 192, 768, 16.288, _AWS_G5),
        _aws("g6.xlarge", "L4", 1, 4, 16, 0.8048, _AWS_G6),
        _aws("g6.2xlarge", "L4", 1, 8, 32, 0.9776, _AWS_G6),
        _aws("g6.4xlarge", "L4", 1, 16, 64, 1.3232, _AWS_G6),
        _aws("g6.8xlarge", "L4", 1, 32, 128, 2.0144, _AWS_G6),
        _aws("g6.12xlarge", "L4", 4, 48, 192, 4.6016, _AWS_G6),
        _aws("g6.16xlarge", "L4", 1, 64, 256, 3.3968, _AWS_G6),
        _aws("g6.24xlarge", "L4", 4, 96, 384, 6.6752, _AWS_G6),
        _aws("g6.48xlarge", "L4", 8, 192, 768, 13.3504, _AWS_G6),
        _aws("g6e.xlarge", "L40S", 1, 4, 32, 1.861, _AWS_G6E),
        _aws("g6e.2xlarge", "L40S", 1, 8, 64, 2.24208, _AWS_G6E),
        _aws("g6e.4xlarge", "L40S", 1, 16, 128, 3.00424, _AWS_G6E),
        _aws("g6e.8xlarge", "L40S", 1, 32, 256, 4.52856, _AWS_G6E),
        _aws("g6e.12xlarge", "L40S", 4, 48, 384, 10.49264, _AWS_G6E),
        _aws("g6e.16xlarge", "L40S", 1, 64, 512, 7.57288, _AWS_G6E),
        _aws("g6e.24xlarge", "L40S", 4, 96, 768, 15.06559, _AWS_G6E),
        _aws("g6e.48xlarge", "L40S", 8, 192, 1536, 30.13118, _AWS_G6E),
        _aws("p4d.24xlarge", "A100-40GB", 8, 96, 1152, 21.96, _AWS_P4D, price_note=_P_CUT),
        _aws("p4de.24xlarge", "A100-80GB", 8, 96, 1152, 27.45, _AWS_P4DE, price_note=_P_CUT),
        _aws("p5.48xlarge", "H100-80GB", 8, 192, 2048, 55.04, _AWS_P5, price_note=_P_CUT),
        _aws(
            "p5e.48xlarge",
            "H200",
            8,
            192,
            2048,
            63.30,
            _AWS_P5E,
            price_is_estimate=True,
            price_note="sold mainly through Capacity Blocks; p5en.48xlarge list price used as a stand-in",
        ),
        _aws("p5en.48xlarge", "H200", 8, 192, 2048, 63.30, _AWS_P5EN, price_note=_P_CUT),
        # --- GCP ---------------------------------------------------------------------------
        _gcp("g2-standard-4", "L4", 1, 4, 16, 0.7068, _GCP_G2),
        _gcp("g2-standard-8", "L4", 1, 8, 32, 0.8536, _GCP_G2),
        _gcp("g2-standard-12", "L4", 1, 12, 48, 1.0005, _GCP_G2),
        _gcp("g2-standard-16", "L4", 1, 16, 64, 1.1473, _GCP_G2),
        _gcp("g2-standard-24", "L4", 2, 24, 96, 2.0011, _GCP_G2),
        _gcp("g2-standard-32", "L4", 1, 32, 128, 1.7340, _GCP_G2),
        _gcp("g2-standard-48", "L4", 4, 48, 192, 4.0022, _GCP_G2),
        _gcp("g2-standard-96", "L4", 8, 96, 384, 8.0044, _GCP_G2),
        _gcp("a2-highgpu-1g", "A100-40GB", 1, 12, 85, 3.6734, _GCP_A2),
        _gcp("a2-highgpu-2g", "A100-40GB", 2, 24, 170, 7.3467, _GCP_A2),
        _gcp("a2-highgpu-4g", "A100-40GB", 4, 48, 340, 14.6934, _GCP_A2),
        _gcp("a2-highgpu-8g", "A100-40GB", 8, 96, 680, 29.3869, _GCP_A2),
        _gcp("a2-ultragpu-1g", "A100-80GB", 1, 12, 170, 5.0688, _GCP_A2U),
        _gcp("a2-ultragpu-2g", "A100-80GB", 2, 24, 340, 10.1376, _GCP_A2U),
        _gcp("a2-ultragpu-4g", "A100-80GB", 4, 48, 680, 20.2752, _GCP_A2U),
        _gcp("a2-ultragpu-8g", "A100-80GB", 8, 96, 1360, 40.5504, _GCP_A2U),
        _gcp("a3-highgpu-8g", "H100-80GB", 8, 208, 1872, 88.2488, _GCP_A3),
        _gcp(
            "a3-megagpu-8g",
            "H100-80GB",
            8,
            208,
            1872,
            92.0,
            _GCP_A3M,
            price_is_estimate=True,
            price_note="no clear on-demand list price found; a3-highgpu-8g plus ~4 % used as a stand-in",
        ),
        _gcp(
            "a3-ultragpu-8g",
            "H200",
            8,
            224,
            2952,
            100.0,
            _GCP_A3U,
            price_is_estimate=True,
            price_note="mostly sold through reservations/DWS; round stand-in figure",
        ),
        # --- Azure -------------------------------------------------------------------------
        _az("Standard_NC4as_T4_v3", "T4", 1, 4, 28, 0.526, _AZ_T4),
        _az("Standard_NC8as_T4_v3", "T4", 1, 8, 56, 0.752, _AZ_T4),
        _az("Standard_NC16as_T4_v3", "T4", 1, 16, 110, 1.204, _AZ_T4),
        _az("Standard_NC64as_T4_v3", "T4", 4, 64, 440, 4.352, _AZ_T4),
        _az("Standard_NV36ads_A10_v5", "A10", 1, 36, 440, 3.20, _AZ_A10),
        _az(
            "Standard_NV72ads_A10_v5", "A10", 2, 72, 880, 6.40, _AZ_A10, price_is_estimate=True, price_note="twice the NV36ads_A10_v5 price"
        ),
        _az("Standard_NC24ads_A100_v4", "A100-80GB-PCIe", 1, 24, 220, 3.673, _AZ_A100),
        _az("Standard_NC48ads_A100_v4", "A100-80GB-PCIe", 2, 48, 440, 7.346, _AZ_A100),
        _az("Standard_NC96ads_A100_v4", "A100-80GB-PCIe", 4, 96, 880, 14.692, _AZ_A100),
        _az("Standard_NC40ads_H100_v5", "H100-NVL", 1, 40, 320, 6.98, _AZ_H100NVL),
        _az("Standard_NC80adis_H100_v5", "H100-NVL", 2, 80, 640, 13.96, _AZ_H100NVL),
        _az("Standard_ND96asr_v4", "A100-40GB", 8, 96, 900, 27.197, _AZ_ND),
        _az("Standard_ND96amsr_A100_v4", "A100-80GB", 8, 96, 1900, 32.77, _AZ_ND),
        _az("Standard_ND96isr_H100_v5", "H100-80GB", 8, 96, 1900, 98.32, _AZ_NDH),
    )
}


def get_instance_type(name: str, cloud: str | None = None) -> InstanceType:
    """Look an instance type up by name, case-insensitively; with `cloud`, it must belong to that cloud."""
    itype = lookup(
        "instance type",
        name,
        INSTANCE_TYPES,
        display=lambda k: INSTANCE_TYPES[k].name,
        normalize=lambda s: s.strip().lower(),
    )
    if cloud is not None and itype.cloud != cloud:
        raise UserError(f"instance type {itype.name} belongs to {itype.cloud}, not {cloud}")
    return itype


def get_cloud(name: str) -> Cloud:
    return lookup("cloud", name, {c: c for c in CLOUDS}, aliases={"gcloud": "gcp", "google": "gcp", "amazon": "aws"})


def instance_types(cloud: str | None = None, region: str | None = None) -> tuple[InstanceType, ...]:
    """Catalog types, cheapest first, optionally only those of `cloud` offered in `region`."""
    out = [t for t in INSTANCE_TYPES.values() if (cloud is None or t.cloud == cloud) and (region is None or t.offered_in(region))]
    return tuple(sorted(out, key=lambda t: (t.price_per_hour, t.name)))


def regions_of(cloud: str) -> tuple[str, ...]:
    """Every region the catalog lists for `cloud`, sorted."""
    return tuple(sorted({r for t in INSTANCE_TYPES.values() if t.cloud == cloud for r in t.regions}))


def check_region(cloud: str, region: str) -> str:
    """Normalize `region` and check the catalog knows it for `cloud`; UserError otherwise."""
    norm = region.strip().lower()
    known = regions_of(cloud)
    if norm not in known:
        import difflib

        close = difflib.get_close_matches(norm, known, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(known)}"
        raise UserError(f"region '{region}' has no {cloud} GPU type in the catalog; {hint}")
    return norm


def check_instance_region(itype: InstanceType, region: str) -> None:
    """UserError when the catalog does not list `itype` in `region`."""
    if not itype.offered_in(region):
        raise UserError(f"instance type {itype.name} is not offered in {region} in the catalog; it is in: {', '.join(itype.regions)}")


def infer_cloud(region: str) -> Cloud:
    """The cloud whose catalog regions include `region`; UserError when none (or several) do."""
    norm = region.strip().lower()
    owners: list[Cloud] = [c for c in CLOUDS if norm in regions_of(c)]
    if len(owners) != 1:
        raise UserError(f"cannot tell the cloud of region '{region}'; pass --cloud aws, gcp or azure")
    return owners[0]
