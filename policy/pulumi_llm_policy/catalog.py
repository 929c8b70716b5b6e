"""The GPU allowlist and prices, read from the sizing catalog (components/pulumi_llm/sizing/hardware.py).

The policy pack runs in its own virtualenv (requirements.txt: pulumi and pulumi-policy only), where the
pulumi-llm distribution is not installed. The sizing package is pure standard-library Python, so when
it cannot be imported the repository's source root (``components/``, next to ``policy/``) is put on the
path instead of installing the whole project (and every cloud SDK) into the pack's virtualenv.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    from pulumi_llm.sizing import HOURS_PER_MONTH, INSTANCE_TYPES
except ImportError:  # the pack's own virtualenv
    _COMPONENTS = Path(__file__).resolve().parents[2] / "components"
    sys.path.insert(0, str(_COMPONENTS))
    from pulumi_llm.sizing import HOURS_PER_MONTH, INSTANCE_TYPES


@dataclass(frozen=True)
class CatalogType:
    name: str
    cloud: str
    gpu_count: int
    price_per_hour: float


ALLOWED: dict[str, dict[str, CatalogType]] = {"aws": {}, "gcp": {}, "azure": {}}
"""cloud → lower-case instance type / machine type / VM size → its catalog entry."""
for _t in INSTANCE_TYPES.values():
    ALLOWED[_t.cloud][_t.name.lower()] = CatalogType(_t.name, _t.cloud, _t.gpu_count, _t.price_per_hour)

HOURS = float(HOURS_PER_MONTH)

# What makes a type a GPU (or other accelerator) type, per cloud: the families that carry one.
_GPU_PATTERNS = {
    "aws": re.compile(r"^(p\d|g\d|gr\d|inf\d|trn\d|dl\d)[a-z0-9-]*\.", re.IGNORECASE),
    "gcp": re.compile(r"^(a2|a3|a4|a4x|g2|g4|ct\d[a-z]*)-", re.IGNORECASE),
    "azure": re.compile(r"^standard_n[cdv]", re.IGNORECASE),
}


def is_gpu_type(cloud: str, name: str) -> bool:
    return bool(_GPU_PATTERNS[cloud].match(name))


def lookup(cloud: str, name: str) -> CatalogType | None:
    return ALLOWED[cloud].get(name.lower())


def aws_family(name: str) -> str:
    return name.split(".", 1)[0].lower()


ALLOWED_AWS_FAMILIES: frozenset[str] = frozenset(aws_family(n) for n in ALLOWED["aws"])
"""Instance families (``g6e``) with at least one type in the catalog."""
