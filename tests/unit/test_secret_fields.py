"""Every string field of the settings tree is either checked for a pasted secret (checks_secrets, generically over
the raw tree) or on its documented allow-list, NOT_NAMES: a field added later can't escape both (issue 16)."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal, get_args, get_origin

import pytest
from pulumi_llm.errors import FieldProblem
from pulumi_llm.settings.checks_secrets import NOT_NAMES, check_secret_names
from pulumi_llm.settings.root import Settings
from pydantic import BaseModel

SECRET = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
_SEQUENCES = (list, tuple, set, frozenset)


def _string_paths(tp: Any, seen: tuple[type, ...] = ()) -> Iterator[str]:
    """Schema paths below `tp` that hold a string: `.` joins fields, `*` is a map value, `[]` a list item and
    `<key>` a map key."""
    origin = get_origin(tp)
    if origin is Annotated:
        yield from _string_paths(get_args(tp)[0], seen)
    elif tp is str:
        yield ""
    elif origin is Literal or tp in seen:
        return
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            yield from (f".{name}{rest}" for rest in _string_paths(field.annotation, (*seen, tp)))
    elif origin in _SEQUENCES:
        yield from (f"[]{rest}" for arg in get_args(tp) if arg is not Ellipsis for rest in _string_paths(arg, seen))
    elif origin is dict:
        key, value = get_args(tp)
        yield from (f".<key>{rest}" for rest in _string_paths(key, seen))
        yield from (f".*{rest}" for rest in _string_paths(value, seen))
    elif origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            yield from _string_paths(arg, seen)


STRING_FIELDS = sorted({path[1:] for path in _string_paths(Settings)})


def _raw_with(path: str, value: str) -> tuple[dict[str, Any], str]:
    """A raw settings tree holding `value` at the schema path `path`, and the key path a message names."""
    parts = path.replace("[]", ".[]").split(".")
    root: dict[str, Any] = {}
    node: Any = root
    written: list[str] = []
    for part, after in zip(parts, [*parts[1:], None], strict=True):
        name = {"*": "m", "<key>": value}.get(part, part)
        child: Any = value if after is None else [] if after == "[]" else {}
        if part == "[]":
            node.append(child)
            written[-1] += "[0]"
        else:
            node[name] = child
            written.append(name)
        node = child
    return root, ".".join(written)


def test_the_walk_finds_the_fields_the_report_named() -> None:
    for field in ("onprem.kube_context", "edge.kube_context", "onprem.kubeconfig", "edge.host_model_dir", "models.*.revision"):
        assert field in STRING_FIELDS


def test_every_allow_listed_field_exists_and_says_why() -> None:
    for path, reason in NOT_NAMES.items():
        assert path in STRING_FIELDS, path
        assert len(reason) > 20, path


@pytest.mark.parametrize("path", [p for p in STRING_FIELDS if p not in NOT_NAMES])
def test_every_other_string_field_refuses_a_secret(path: str) -> None:
    raw, key = _raw_with(path, SECRET)
    with pytest.raises(FieldProblem) as refused:
        check_secret_names(raw)
    message = refused.value.message
    assert SECRET not in message
    assert "looks like" in message
    # A map key is reported at its map; any other string at its own key path.
    expected = key.rsplit(".", 1)[0] if path.endswith("<key>") else key
    assert refused.value.field == FieldProblem(expected, "").field, (refused.value.field, expected)
