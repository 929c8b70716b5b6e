"""Render the Kubernetes objects a plan registers as YAML manifests, one file per object.

File names are `<kind>-<namespace>-<name>.yaml` in lower case; cluster-scoped objects have no
namespace and are named `<kind>-<name>.yaml`. Helm releases and charts are not Kubernetes objects
(they are rendered by Helm at deploy time) and appear only in resources.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from .recorder import Record

# libyaml's emitter when PyYAML has it (the manylinux wheels do): ~10× faster than the pure one.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")


def is_kubernetes_object(record: Record) -> bool:
    return (
        record.custom
        and record.type.startswith("kubernetes:")
        and not record.type.startswith(_NOT_OBJECTS)
        and "kind" in record.inputs
        and "apiVersion" in record.inputs
    )


def to_object(record: Record) -> dict[str, Any]:
    inputs = record.inputs
    metadata: dict[str, Any] = inputs.get("metadata") or {}
    if not metadata.get("name"):
        # Auto-names get a random suffix at deploy time; manifests (and Services) need stable names.
        raise ValueError(f"{record.urn}: Kubernetes objects must set metadata.name")
    obj: dict[str, Any] = {"apiVersion": inputs["apiVersion"], "kind": inputs["kind"], "metadata": metadata}
    for key in sorted(inputs):
        if key not in obj:
            obj[key] = inputs[key]
    return obj


def filename(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    parts = [obj["kind"], meta.get("namespace"), meta["name"]]
    return "-".join(p for p in parts if p).lower() + ".yaml"


def render(records: Iterable[Record]) -> dict[str, str]:
    """{filename: YAML text} for every Kubernetes object among `records`."""
    files: dict[str, str] = {}
    for record in records:
        if not is_kubernetes_object(record):
            continue
        obj = to_object(record)
        name = filename(obj)
        if name in files:
            raise ValueError(f"{record.urn}: a second object would be written to manifests/{name}")
        files[name] = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return dict(sorted(files.items()))
