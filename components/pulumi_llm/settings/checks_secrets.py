"""Secret values where a secret's *name* belongs: refused before the schema, with the value masked.

Runs on the raw settings (`loading.load`, before `Settings`), so it wins over any format check of the same field
(a pasted key is the mistake to report, and a format message would print it). Which keys hold names is decided
by their names, so a secret-name field added later is covered without being listed here:

* a key ending in `_secret` (models.<m>.api_key_secret, onprem.hf_token_secret, onprem.ingress.tls_secret):
  the name of a Kubernetes Secret;
* the entries of `gateway.secrets`: the secret store's short name per provider;
* tags, labels, node selectors and runner labels: rendered on every resource, node or workflow;
* the key of any map (a model, a provider, a tag): a name, shown in plans, state and resource names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from ..errors import FieldProblem
from ..secret_values import WHERE_VALUES_GO, mask, secret_kind

_VISIBLE = ("tags", "labels", "node_selector", "runner_labels")
"""Maps and lists whose keys and values are shown on every resource, node or workflow run."""
_SHOWN_EVERYWHERE = f"those are shown in plans, state and on resources; a secret value goes in the store: {WHERE_VALUES_GO}"
_KEY = "key"


def _where(path: str, last: str) -> str | None:
    """What the value at `path` (its last key `last`) must be instead of a secret, or None when not a name field."""
    if path.startswith("gateway.secrets."):
        return f"the secret's short name; the key itself goes in the store: {WHERE_VALUES_GO}"
    if last.endswith("_secret"):
        return "the name of a Kubernetes Secret; the value goes into that Secret (kubectl create secret …), never the stack file"
    return None


def _walk(node: Any, path: str, visible: bool) -> Iterator[tuple[str, str, str]]:
    """(key path, string, what it must be) of every name-holding string below `node`."""
    if isinstance(node, dict):
        for key, value in cast("dict[Any, Any]", node).items():
            child = f"{path}.{key}" if path else str(key)
            inside = visible or str(key) in _VISIBLE
            # Every map key is a name (a model, a provider, a tag): the path stops at its map, never naming it.
            yield path, str(key), _KEY
            yield from _walk(value, child, inside)
    elif isinstance(node, list):
        for i, value in enumerate(cast("list[Any]", node)):
            yield from _walk(value, f"{path}[{i}]", visible)
    elif isinstance(node, str):
        last = path.rsplit(".", 1)[-1]
        need = _where(path, last)
        if need is None and visible:
            need = f"a tag or label: {_SHOWN_EVERYWHERE}"
        if need is not None:
            yield path, node, need


def check_secret_names(raw: dict[str, Any]) -> None:
    """Raise FieldProblem(key path, message) for the first secret-looking value in a name, tag or label."""
    for path, value, need in _walk(raw, "", False):
        kind = secret_kind(value)
        if kind is None:
            continue
        if need is _KEY:
            raise FieldProblem(path or "", f"the key {mask(value)} looks like {kind}; keys are names: {_SHOWN_EVERYWHERE}")
        raise FieldProblem(path, f"looks like {kind} (masked here), not {need}")
