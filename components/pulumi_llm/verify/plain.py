"""Plan data is untyped JSON (resources.json inputs, manifests, parsed policy documents and engine configs).
These narrow a value the way `isinstance` does and also say what the type checker may assume of it: a JSON
object's keys are strings, and its values (like an array's items) are still untyped JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard, cast


def is_object(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether `value` is a JSON object (a dict, as json and yaml load one)."""
    return isinstance(value, dict)


def is_array(value: object) -> TypeGuard[list[Any]]:
    """Whether `value` is a JSON array (a list, as json and yaml load one)."""
    return isinstance(value, list)


def object_at(parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An optional object field: `parent[key]`, or {} where it is missing, null or empty."""
    return parent.get(key) or {}


def array_at(parent: Mapping[str, Any], key: str) -> list[Any]:
    """An optional array field: `parent[key]`, or [] where it is missing, null or empty."""
    return parent.get(key) or []


def dig(value: object, path: Iterable[str]) -> Any:
    """The value at `path` through nested objects (`("spec", "template", "spec")`); None where a key is
    missing or something on the way is no object."""
    node: Any = value
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = cast("Mapping[str, Any]", node).get(key)
    return node
