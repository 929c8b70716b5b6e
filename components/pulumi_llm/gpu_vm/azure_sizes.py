"""Azure GPU VM sizes against the sizing catalog — pure, shared by the settings and AzureGpuVm.

Kept out of `gpu_vm.azure` so that validating a stack file never imports the Azure SDK.
"""

from __future__ import annotations

import re

from ..errors import UserError
from ..sizing import INSTANCE_TYPES, InstanceType, get_instance_type

_SIZE = re.compile(r"^standard_([a-z]+)\d*[a-z0-9_-]*$")


def example_size(gpus: int, location: str | None = None) -> str:
    """The cheapest catalog size with at least `gpus` GPUs (offered in `location` when given), or ''."""
    fits = [
        t for t in INSTANCE_TYPES.values() if t.cloud == "azure" and t.gpu_count >= gpus and (location is None or t.offered_in(location))
    ]
    return min(fits, key=lambda t: (t.price_per_hour, t.name)).name if fits else ""


def check_vm_size(name: str, gpus: int, location: str | None, where: str) -> InstanceType:
    """`name` as an Azure GPU size of the catalog with at least `gpus` GPUs, offered in `location` (None:
    any region).

    Raises UserError `<where> = <size>: <problem>` — a size without GPUs, one the catalog doesn't know,
    another cloud's type, too few GPUs, or a size the catalog doesn't list in `location`."""
    size = name.strip()
    match = _SIZE.match(size.lower())
    if match and not match.group(1).startswith("n"):
        raise UserError(
            f"{where} = {size}: not a GPU VM size; choose an NC, ND or NV size from the catalog, e.g. {example_size(max(gpus, 1))}"
        )
    try:
        itype = get_instance_type(size)
    except UserError as err:
        raise UserError(f"{where} = {size}: {err}") from None
    if itype.cloud != "azure":
        raise UserError(f"{where} = {size}: an {itype.cloud} instance type; Azure takes Azure GPU sizes (e.g. Standard_NC24ads_A100_v4)")
    if itype.accelerator.kind != "gpu" or itype.gpu_count < 1:
        raise UserError(f"{where} = {size}: not a GPU VM size")
    if itype.gpu_count < gpus:
        hint = example_size(gpus)
        raise UserError(
            f"{where} = {itype.name}: {itype.gpu_count} GPU{'s' if itype.gpu_count != 1 else ''}, but the server needs "
            f"{gpus} (its tensor-parallel size); choose a size with at least {gpus} GPUs" + (f", e.g. {hint}" if hint else "")
        )
    if location is not None and not itype.offered_in(location):
        raise UserError(
            f"{where} = {itype.name}: not offered in {location} according to the catalog; offered in {', '.join(itype.regions)}"
        )
    return itype
