"""Validate an object against a CRD's OpenAPI v3 schema (the structural subset CRDs use), strictly.

Strict as `kubectl apply --validate=strict` and server-side apply with field validation Strict: a field the
schema does not declare is an error (the API server would otherwise prune it in silence — the object deploys
without what the plan says). Checked: type, properties/required, additionalProperties (a map's values), items,
enum, pattern, min/maxLength, minimum/maximum, min/maxItems, min/maxProperties. Not evaluated: CEL rules
(`x-kubernetes-validations`), formats beyond int32's range. Pure; no dependency beyond the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, cast

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list, tuple),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def _bounds(value: Any, schema: Mapping[str, Any], where: str) -> Iterator[str]:
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield f"{where}: {value!r} does not match {schema['pattern']}"
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0):
            yield f"{where}: length {len(value)} outside {schema.get('minLength', 0)}..{schema.get('maxLength', '')}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"] or "maximum" in schema and value > schema["maximum"]:
            yield f"{where}: {value} outside {schema.get('minimum', '')}..{schema.get('maximum', '')}"
    if isinstance(value, (list, tuple)):
        size = len(cast("list[Any]", value))
        if size > schema.get("maxItems", size) or size < schema.get("minItems", 0):
            yield f"{where}: {size} items outside {schema.get('minItems', 0)}..{schema.get('maxItems', '')}"
    if isinstance(value, dict):
        size = len(cast("dict[str, Any]", value))
        if size > schema.get("maxProperties", size) or size < schema.get("minProperties", 0):
            yield f"{where}: {size} keys outside {schema.get('minProperties', 0)}..{schema.get('maxProperties', '')}"


def _object(value: dict[str, Any], schema: Mapping[str, Any], where: str) -> Iterator[str]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    values: Mapping[str, Any] | None = schema.get("additionalProperties")
    for key in schema.get("required", ()):
        if key not in value:
            yield f"{where}.{key}: required"
    for key, item in value.items():
        if key in properties:
            yield from problems(item, properties[key], f"{where}.{key}")
        elif values is not None:
            yield from problems(item, values, f"{where}.{key}")
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            yield f"{where}.{key}: unknown field (the schema has {', '.join(sorted(properties)) or 'no fields'})"


def problems(value: Any, schema: Mapping[str, Any], where: str = "spec") -> Iterator[str]:
    """Every way `value` breaks `schema`, as `path: why` lines (none: valid)."""
    kind = schema.get("type")
    if kind is not None and not _type_ok(value, kind):
        yield f"{where}: expected {kind}, got {type(value).__name__}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{where}: {value!r} not one of {', '.join(map(str, schema['enum']))}"
    yield from _bounds(value, schema, where)
    if isinstance(value, dict):
        yield from _object(cast("dict[str, Any]", value), schema, where)
    elif isinstance(value, (list, tuple)) and "items" in schema:
        for i, item in enumerate(cast("list[Any]", value)):
            yield from problems(item, schema["items"], f"{where}[{i}]")
