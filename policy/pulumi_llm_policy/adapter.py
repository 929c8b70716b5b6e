"""Pulumi's validation arguments → the plain resource dicts the rules take.

Pulumi hands a policy its properties wrapped in proxies that raise on unknown values (outputs of
resources not created yet, during preview). The rules want plain data: values not known yet become
``UNKNOWN``, which every rule treats as "cannot be judged now" (they are judged again at ``pulumi up``,
when the inputs are known).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from pulumi_llm_policy.rules import UNKNOWN

try:
    from pulumi_policy.proxy import (
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    )

    _SENTINELS = frozenset(
        {
            UNKNOWN_ARCHIVE_VALUE,
            UNKNOWN_ARRAY_VALUE,
            UNKNOWN_ASSET_VALUE,
            UNKNOWN_BOOLEAN_VALUE,
            UNKNOWN_NUMBER_VALUE,
            UNKNOWN_OBJECT_VALUE,
            UNKNOWN_STRING_VALUE,
        }
    )
except ImportError:  # pragma: no cover - pulumi-policy is a dependency of the pack and of the tests
    _SENTINELS = frozenset()


def _raw(value: Any) -> Any:
    """The object behind pulumi-policy's proxies (which answer ``["__target"]`` with it)."""
    if isinstance(value, (Mapping, Sequence)) and not isinstance(value, (str, bytes, dict, list, tuple)):
        try:
            return cast(Any, value)["__target"]
        except (KeyError, IndexError, TypeError):
            return value
    return value


def plain(value: Any) -> Any:
    """A deep, plain copy of a property value: dicts, lists, scalars; unknowns → ``UNKNOWN``."""
    value = _raw(value)
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if type(value).__name__ == "Secret":  # pulumi_policy.Secret, should a secret reach us wrapped
        return plain(cast(Any, value).value)
    return repr(value)  # assets and archives: nothing a rule reads


def resource_dict(resource_type: str, name: str, urn: str, parent: str | None, props: Any) -> dict[str, Any]:
    return {"urn": urn, "type": resource_type, "name": name, "parent": parent or None, "inputs": plain(props) or {}}


def from_resource_args(args: Any) -> dict[str, Any]:
    """``ResourceValidationArgs`` → resource dict (its props are the resource's inputs)."""
    return resource_dict(args.resource_type, args.name, args.urn, getattr(args.opts, "parent", None), args.props)


def from_stack_args(args: Any) -> list[dict[str, Any]]:
    """``StackValidationArgs`` → resource dicts (props there are the outputs, a superset of the inputs)."""
    out = []
    for r in args.resources:
        parent = r.parent.urn if r.parent is not None else getattr(r.opts, "parent", None)
        out.append(resource_dict(r.resource_type, r.name, r.urn, parent, r.props))
    return out
