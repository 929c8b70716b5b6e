"""Every model server pulumi-llm runs, by name: the one list of runtimes.

Each module named here declares `RUNTIME`, a `spec.RuntimeInfo`: where the server runs, the metrics it
exports (observability rules and dashboards read them), how sizing fits it, and `container_spec`, the one
function (`ContainerRequest` → `ContainerSpec`) that renders its container with its probes. Settings'
`runtime` values (`spec.Runtime`), the container dispatch in `serving.py`, the monitored runtimes of
`kubernetes/observability_rules.py`, the exporter facts of `verify` and the package adapters' `Runtime` enum
(generated) read this list; a new runtime is one module, one line here and its image pin
(docs/ARCHITECTURE.md, "Adding a runtime").

The modules load on the first `get`, so reading `NAMES` costs no import: settings and `spec` read it at import
time, and the runtime modules import sizing, which must not load with every settings import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import Placement, RuntimeInfo

MODULES: dict[str, str] = {
    "vllm": "pulumi_llm.runtimes.vllm",
    "triton": "pulumi_llm.runtimes.triton",
    "llamacpp": "pulumi_llm.runtimes.llamacpp",
    "onnx": "pulumi_llm.runtimes.onnx",
}
"""Runtime name → the module that declares it. The order is the enum order of stacks/schema.json."""

NAMES: tuple[str, ...] = tuple(MODULES)


def get(name: str) -> RuntimeInfo:
    """The descriptor runtime `name`'s module declares (KeyError for a name not in `MODULES`)."""
    info = importlib.import_module(MODULES[name]).RUNTIME
    if info.name != name:
        raise ValueError(f"{MODULES[name]}.RUNTIME is named {info.name!r}, registered as {name!r}")
    return info


def runtimes() -> tuple[RuntimeInfo, ...]:
    """Every registered runtime, in registry order."""
    return tuple(get(name) for name in NAMES)


def names_where(placement: Placement) -> tuple[str, ...]:
    """The runtimes that run at `placement` (server: GPU VMs and clusters; edge: edge nodes), in registry order."""
    return tuple(info.name for info in runtimes() if info.placement == placement)


def monitored() -> tuple[str, ...]:
    """The runtimes whose server exports Prometheus metrics (the ones observability rules and dashboards cover)."""
    return tuple(info.name for info in runtimes() if info.metrics.requests_waiting)
