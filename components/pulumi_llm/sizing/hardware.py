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
the cloud's public pricing page named in `price_source` (sizing/catalogs/<cloud>.py), as listed in the month `price_as_of`. They are
list prices — no savings plans, committed-use or spot discounts — and they are not fetched by this
tool: check the page before budgeting. Entries with `price_is_estimate` had no clear public on-demand
list price when transcribed; their figure is a stand-in, said so in `price_note`.
`regions` is a modest list of regions known to offer the type, not an exhaustive one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pulumi_llm.choices import close_to, listing
from pulumi_llm.errors import UserError
from pulumi_llm.sizing._common import GIB, lookup
from pulumi_llm.sizing.catalogs import CATALOGS, CloudCatalog, Offer

Cloud = str
"""A name in CLOUDS (get_cloud checks one given by a user)."""
CLOUDS: tuple[Cloud, ...] = tuple(catalog.cloud for catalog in CATALOGS)
DEFAULT_REGION: dict[Cloud, str] = {catalog.cloud: catalog.price_region for catalog in CATALOGS}
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


def _instance_type(catalog: CloudCatalog, offer: Offer) -> InstanceType:
    return InstanceType(
        offer.name,
        catalog.cloud,
        offer.accelerator,
        offer.gpus,
        offer.vcpu,
        offer.ram_gib,
        offer.price_per_hour,
        catalog.price_region,
        catalog.price_as_of,
        catalog.price_source,
        offer.regions,
        offer.price_is_estimate,
        offer.price_note,
    )


INSTANCE_TYPES: dict[str, InstanceType] = {
    offer.name.lower(): _instance_type(catalog, offer) for catalog in CATALOGS for offer in catalog.offers
}
"""Every cloud's machine types (sizing/catalogs/<cloud>.py), by lower-case name, in catalog order."""


def get_instance_type(name: str, cloud: str | None = None, region: str | None = None) -> InstanceType:
    """Look an instance type up by name, case-insensitively; with `cloud`, it must belong to that cloud.

    A miss suggests and lists `cloud`'s types only (those offered in `region` when it has any): an AWS stack's
    typo is best answered with AWS names, never Azure's longer ones."""
    key = name.strip().lower()
    candidates = {k: t for k, t in INSTANCE_TYPES.items() if cloud is None or t.cloud == cloud}
    in_region = {k: t for k, t in candidates.items() if region and t.offered_in(region)}
    itype = INSTANCE_TYPES.get(key) or lookup(
        "instance type",
        name,
        in_region or candidates,
        display=lambda k: INSTANCE_TYPES[k].name,
        normalize=lambda s: s.strip().lower(),
    )
    if cloud is not None and itype.cloud != cloud:
        raise UserError(f"instance type {itype.name} belongs to {itype.cloud}, not {cloud}")
    return itype


def get_cloud(name: str) -> Cloud:
    aliases = {alias: catalog.cloud for catalog in CATALOGS for alias in catalog.aliases}
    return lookup("cloud", name, {c: c for c in CLOUDS}, aliases=aliases)


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
        close = close_to(norm, known)
        hint = f"did you mean {' or '.join(close)}?" if close else f"known: {listing(known)}"
        raise UserError(f"region '{region}' has no {cloud} GPU type in the catalog; {hint}")
    return norm


def check_instance_region(itype: InstanceType, region: str) -> None:
    """UserError when the catalog does not list `itype` in `region`."""
    if not itype.offered_in(region):
        raise UserError(f"instance type {itype.name} is not offered in {region} in the catalog; it is in: {listing(itype.regions)}")


def infer_cloud(region: str) -> Cloud:
    """The cloud whose catalog regions include `region`; UserError when none (or several) do."""
    norm = region.strip().lower()
    owners: list[Cloud] = [c for c in CLOUDS if norm in regions_of(c)]
    if len(owners) != 1:
        raise UserError(f"cannot tell the cloud of region '{region}'; pass --cloud {', '.join(CLOUDS[:-1])} or {CLOUDS[-1]}")
    return owners[0]
