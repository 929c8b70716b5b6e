"""Secret values where a secret's *name* belongs: refused before the schema, with the value masked.

Runs on the raw settings (`loading.load`, before `Settings`), so it wins over any format check of the same field
(a pasted key is the mistake to report, and a format message would print it). Which keys hold names is decided
by their names, so a secret-name field added later is covered without being listed here:

* a key ending in `_secret` (models.<m>.api_key_secret, onprem.hf_token_secret, onprem.ingress.tls_secret):
  the name of a Kubernetes Secret;
* the entries of `gateway.secrets`: the secret store's short name per provider;
* tags, labels, node selectors and runner labels: rendered on every resource, node or workflow;
* the key of any map (a model, a provider, a tag): a name, shown in plans, state and resource names;
* every other string of the tree — names, paths, contexts, tags, ids, URLs, image references, arguments: each is
  written in the clear into the plan, the state or a resource (a kube context into the provider, a host path into
  every DaemonSet), so a secret *inside* it (a path segment, a URL's user info, `--key=<token>`) is refused too.
  Generic over the raw tree, so a field added later is covered without being listed; the only exceptions are
  NOT_NAMES, whose values legitimately look random and whose own shape check admits no secret
  (tests/unit/test_bad_input_secrets.py walks the schema and holds every string field to one or the other).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast

from ..errors import FieldProblem
from ..secret_values import WHERE_VALUES_GO, mask, secret_inside, secret_kind

_VISIBLE = ("tags", "labels", "node_selector", "runner_labels")
"""Maps and lists whose keys and values are shown on every resource, node or workflow run."""
_SHOWN_EVERYWHERE = f"those are shown in plans, state and on resources; a secret value goes in the store: {WHERE_VALUES_GO}"
_KEY = "key"
_ANY_VALUE = f"a name, path or id: {_SHOWN_EVERYWHERE}"

NOT_NAMES: dict[str, str] = {
    "models.*.revision": "a git commit: 40 lower-case hex digits, and checks_sources.REVISION refuses anything else",
    "edge.llama_cpp_sha256": "the llama.cpp source's sha256: 64 lower-case hex digits, the field's pattern refuses anything else",
}
"""Schema paths (`*` for a map key, `[]` for a list item) of the strings that are no name: their values look
random by nature (commits, digests), and the field's own pattern refuses anything else — a key pasted there fails
that pattern, in a message that masks it like every message. Every other string field is checked (module doc)."""
_INDEX = re.compile(r"\[\d+\]")


def _not_a_name(path: str) -> bool:
    """Whether the key path `path` (models.m.revision, ci.runner_labels[1]) is one of NOT_NAMES."""
    parts = _INDEX.sub("[]", path).split(".")
    for pattern in NOT_NAMES:
        wanted = pattern.split(".")
        if len(wanted) == len(parts) and all(w in ("*", p) for w, p in zip(wanted, parts, strict=True)):
            return True
    return False


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
        if need is None and not _not_a_name(path):
            need = _ANY_VALUE
        if need is not None:
            yield path, node, need


def check_secret_names(raw: dict[str, Any]) -> None:
    """Raise FieldProblem(key path, message) for the first secret-looking value in a name, tag or label."""
    for path, value, need in _walk(raw, "", False):
        # A name field is a secret when it is one whole; any other string when a word inside it is one.
        kind = secret_inside(value) if need is _ANY_VALUE else secret_kind(value)
        if kind is None:
            continue
        if need is _KEY:
            raise FieldProblem(path or "", f"the key {mask(value)} looks like {kind}; keys are names: {_SHOWN_EVERYWHERE}")
        raise FieldProblem(path, f"looks like {kind} (masked here), not {need}")
