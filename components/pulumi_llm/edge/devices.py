"""Edge devices for sizing: a catalog accelerator (Jetson module or GPU) or a CPU-only box (pure)."""

from __future__ import annotations

import re

from ..sizing import cpu_host, get_accelerator
from ..sizing.hardware import Accelerator

_CPU = re.compile(r"cpu-(\d{1,4})gib")


def accelerator(device: str) -> Accelerator:
    """`cpu-<N>gib` is a CPU-only node with N GiB of RAM (sizing.cpu_host); anything else a catalog key."""
    match = _CPU.fullmatch(device.lower())
    if match:
        return cpu_host(int(match[1]))
    return get_accelerator(device)
