"""The boot scripts of a plan's VMs, decoded as the VM reads them — the one home of their encodings.

* AWS (`userData` of a launch template or an instance): base64, and the GPU VMs' is gzip inside it (EC2 limits
  user data to 16 KB; cloud-init unpacks gzip content);
* Azure (`customData` of a scale set's or a VM's OS profile): base64 (the API takes it so);
* GCP (`metadata["user-data"]` of an instance template or an instance): the text itself.

A GPU VM's boot script is a cloud-config document; `boot_files` reads its `write_files` (path → content).
"""

from __future__ import annotations

import base64
import binascii
import gzip
from collections.abc import Iterator
from typing import Any

import yaml

from .plain import array_at, dig, is_object
from .view import PlanView

BOOT_SCRIPT_AT: dict[str, tuple[str, ...]] = {
    "aws:ec2/launchTemplate:LaunchTemplate": ("userData",),
    "aws:ec2/instance:Instance": ("userData",),
    "azure-native:compute:VirtualMachineScaleSet": ("virtualMachineProfile", "osProfile", "customData"),
    "azure-native:compute:VirtualMachine": ("osProfile", "customData"),
    "gcp:compute/instanceTemplate:InstanceTemplate": ("metadata", "user-data"),
    "gcp:compute/instance:Instance": ("metadata", "user-data"),
}
"""Resource type → the input path of its boot script."""

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_PLAIN = frozenset({"user-data"})
"""The keys whose value is the script itself (GCP metadata), not base64."""


def decode(blob: str) -> str | None:
    """A base64 boot script (gzip inside or not) as text; None when `blob` is neither."""
    try:
        raw = base64.b64decode(blob, validate=True)
        raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        return raw.decode(errors="replace")
    except (binascii.Error, ValueError, OSError, EOFError):
        return None


def boot_scripts(view: PlanView) -> Iterator[tuple[dict[str, Any], str]]:
    """(resource, its boot script as text) of every VM resource of the plan that carries one."""
    for resource in view.of_type(*BOOT_SCRIPT_AT):
        path = BOOT_SCRIPT_AT[resource["type"]]
        value = dig(resource.get("inputs") or {}, path)
        if not isinstance(value, str) or not value:
            continue
        text = value if path[-1] in _PLAIN else decode(value)
        if text is not None:
            yield resource, text


def boot_files(script: str) -> dict[str, str]:
    """The files a cloud-config boot script writes (path → content); {} for any other script."""
    try:
        # libyaml's loader where PyYAML has it: a GPU VM's ~20 KB cloud-config takes ~15 ms in pure Python, and
        # verify runs in every plan (plan speed, bench/plan_time.py).
        document = yaml.load(script, Loader=_LOADER)  # noqa: S506  # nosec B506 - CSafeLoader or SafeLoader, both safe
    except yaml.YAMLError:
        return {}
    if not is_object(document):
        return {}
    return {str(f["path"]): str(f.get("content") or "") for f in array_at(document, "write_files") if is_object(f) and f.get("path")}
