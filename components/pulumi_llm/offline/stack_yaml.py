"""Reading a stack file the way the Pulumi CLI reads it, every problem as one line.

The Pulumi CLI reads `Pulumi.<stack>.yaml` with Go's YAML library and hands each config value to the
program as a string (pulumi/pulumi, sdk/go/common/resource/config/value.go, `unmarshalValue`):

- a scalar is first unmarshalled into a Go string, which keeps the text as written: `off`, `010`, `0x1F`,
  `1_000` and `1:30` reach the program as those characters (the settings then parse them, as under
  `pulumi up`); a null (`~`, `null`, nothing) is the empty string;
- a map or a list is unmarshalled into Go values and sent as JSON (`json.Marshal`: map keys sorted, whole
  floats written without a fraction). Inside it, plain scalars resolve the way go-yaml's `resolve`
  resolves them (go-yaml/yaml v3, resolve.go): only true/True/TRUE and false/False/FALSE are booleans,
  integers are Go base-0 literals with underscores removed (`010` is octal 8, `0x1F` 31), a sexagesimal
  `1:30` stays a string, timestamps stay strings. `yes`, `no`, `on`, `off`, `y`, `n` are booleans to
  go-yaml v2 and strings to v3, and both live in the Pulumi CLI, so they are refused rather than guessed.

PyYAML alone would read the YAML 1.1 way (and let a duplicate key silently win); here it only composes
the node tree, and this module builds the values. Bounded: the file's size, the nesting depth and the
number of values once aliases are expanded, so a billion-laughs document is refused, not expanded.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import UserError, one_line

MAX_BYTES = 1 << 20  # a stack file is a few KiB; a megabyte is a mistake, not a configuration
MAX_DEPTH = 64  # deeper than any settings tree, shallow enough for Python's recursion limit
MAX_VALUES = 100_000  # values after aliases are expanded (go-yaml refuses "excessive aliasing" too)
SHOWN = 100  # characters of a key or value quoted in a message, so the line stays under 300

PLAIN = "?plain"  # the tag this reader gives a plain scalar without an explicit tag
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_RESOLVED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null")}

# go-yaml v3 resolve.go resolveMap (the keyword scalars) and its integer / float syntax.
_KEYWORDS: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_YAML11_BOOLS = frozenset("y Y yes Yes YES n N no No NO on On ON off Off OFF".split())
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT64 = range(-(2**63), 2**63)
_UINT64 = range(0, 2**64)


def shown(value: str) -> str:
    """`value` cut to SHOWN characters for a message, on one line: control characters (line breaks, NUL,
    terminal escapes) written as their escapes."""
    text = one_line(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + f"… ({len(text)} characters)"


class _Loader(yaml.SafeLoader):
    """Composes nodes only; a plain untagged scalar keeps the tag PLAIN so this module resolves it."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode and implicit[0]:
            return PLAIN
        return super().resolve(kind, value, implicit)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]  # types-PyYAML leaves resolve unannotated


def read_document(path: Path, source: str) -> Node | None:
    """The stack file's root node; UserError (one line naming `source`) when it cannot be read as YAML."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise UserError(f"{source}: cannot read ({err.strerror or err})") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{source}: larger than {MAX_BYTES // 1024} KiB; a stack file holds settings only")
    text = _text(data, source)
    try:
        # types-PyYAML leaves compose's stream and result unannotated; it returns the root node or None
        root = yaml.compose(text, Loader=_Loader)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return cast("Node | None", root)
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        raise UserError(f"{source}: line {line}: character U+{err.character:04X} is not allowed in a YAML file") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{source}:{where}: not valid YAML ({shown(str(err.problem or err))})") from None
    except yaml.YAMLError as err:
        raise UserError(f"{source}: not valid YAML ({shown(str(err))})") from None
    except RecursionError:
        raise UserError(f"{source}: nested too deeply to be a stack file") from None


def _text(data: bytes, source: str) -> str:
    # go-yaml reads UTF-8, and UTF-16 when the file starts with its byte-order mark.
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise UserError(
            f"{source}: line {line}: byte 0x{data[err.start]:02x} is not {encoding.removesuffix('-sig').upper()} text; save the file as UTF-8"
        ) from None


def mapping_items(node: MappingNode, source: str, path: str, *, typed: bool = True) -> list[tuple[str, Node]]:
    """(key, value node) of a mapping, duplicates refused with both lines. `typed`: the key as Go decodes
    it inside a value (`1` and `true` are values, named with %v); otherwise the text as written, as the
    document's and `config:`'s keys are read (struct fields, config keys)."""
    seen: dict[str, int] = {}
    items: list[tuple[str, Node]] = []
    for key_node, value_node in node.value:
        key = _key(key_node, source, path, typed)
        line = key_node.start_mark.line + 1
        if key in seen:
            where = f"{path}.{key}" if path else key
            raise UserError(f"{source}: {shown(where)}: defined twice (lines {seen[key]} and {line}); keep one")
        seen[key] = line
        items.append((key, value_node))
    return items


def _key(node: Node, source: str, path: str, typed: bool) -> str:
    if not isinstance(node, ScalarNode):
        raise UserError(
            f"{source}: line {node.start_mark.line + 1}: {shown(path or 'the document')}: a key must be a name, not a map or list"
        )
    value = _scalar(node, source, path) if typed and node.tag == PLAIN else node.value
    # Go renders a non-string key with %v (pulumi config value.go, interfaceMapToStringMap).
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def scalar_text(node: ScalarNode) -> str:
    """A top-level scalar as the engine hands it to the program: unmarshalled into a Go string, the text
    as written; a null is the empty string."""
    if node.tag == PLAIN and _KEYWORDS.get(node.value, "") is None:
        return ""
    return node.value


def engine_value(node: Node, source: str, path: str) -> str:
    """A top-level config value as the engine hands it to the program: scalar text, or JSON."""
    if isinstance(node, ScalarNode):
        return scalar_text(node)
    return json.dumps(build(node, source, path), sort_keys=True, separators=(",", ":"))


def build(node: Node, source: str, path: str) -> Any:
    """The value of a map or list node as the engine decodes it (Go values), within the bounds."""
    return _build(node, source, path, 0, [MAX_VALUES])


def _build(node: Node, source: str, path: str, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise UserError(f"{source}: {shown(path)}: aliases expand to more than {MAX_VALUES:,} values; write the values out")
    if depth > MAX_DEPTH:
        raise UserError(f"{source}: {shown(path)}: nested more than {MAX_DEPTH} levels deep (or an alias inside itself)")
    if isinstance(node, ScalarNode):
        return _scalar(node, source, path)
    if isinstance(node, SequenceNode):
        return [_build(item, source, f"{path}[{i}]", depth + 1, budget) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode) and node.tag == _MAP:
        out: dict[str, Any] = {}
        for key, value in _merged(node, source, path):
            out[key] = _build(value, source, f"{path}.{key}", depth + 1, budget)
        return out
    raise _unsupported_tag(node, source, path)


def _merged(node: MappingNode, source: str, path: str) -> list[tuple[str, Node]]:
    """The mapping's items with `<<: *anchor` merges applied (explicit keys win), as go-yaml merges."""
    items = mapping_items(node, source, path)
    own = [(k, v) for k, v in items if k != "<<"]
    merges = [v for k, v in items if k == "<<"]
    names = {k for k, _ in own}
    inherited: list[tuple[str, Node]] = []
    for merge in merges:
        sources = merge.value if isinstance(merge, SequenceNode) else [merge]
        for mapping in sources:
            if not isinstance(mapping, MappingNode):
                raise UserError(f"{source}: {shown(path)}: `<<` merges maps only (line {merge.start_mark.line + 1})")
            for key, value in mapping_items(mapping, source, path):
                if key not in names:
                    names.add(key)
                    inherited.append((key, value))
    return own + inherited


def _scalar(node: ScalarNode, source: str, path: str) -> Any:
    text = node.value
    if node.tag == _STR:
        return text
    if node.tag not in _RESOLVED_TAGS and node.tag != PLAIN:
        raise _unsupported_tag(node, source, path)
    if node.tag == PLAIN and text in _YAML11_BOOLS:
        raise UserError(
            f"{source}: {shown(path)} = {text}: a boolean to YAML 1.1 readers and the string {text!r} to YAML 1.2 ones; "
            f"write true or false, or quote it"
        )
    value = go_resolve(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{source}: {shown(path)} = {text}: not a finite number (the engine sends config as JSON)")
    return value


def go_resolve(text: str) -> Any:
    """A plain scalar as go-yaml v3 resolves it into an interface{} (timestamps stay strings), then as
    Go's JSON encoder writes it: a whole float below 1e21 becomes an integer."""
    if text in _KEYWORDS:
        return _KEYWORDS[text]
    # A leading '.' is tried as a float as written; a digit or sign as an integer, then a float, with
    # underscores removed (resolve.go's '.' and 'D'/'S' hints).
    plain = text if text[:1] == "." else text.replace("_", "")
    number: int | float | None = _go_int(plain)
    if number is None and _GO_FLOAT.fullmatch(plain):
        number = float(plain)
        if number.is_integer() and abs(number) < 1e21:
            number = int(number)
    return text if number is None else number


def _go_int(plain: str) -> int | None:
    match = _GO_INT.fullmatch(plain)
    if not match:
        return None
    sign, digits = match.groups()
    base = {"x": 16, "b": 2, "o": 8}.get(digits[1:2].lower(), 8 if digits[:1] == "0" and len(digits) > 1 else 10)
    body = digits[2:] if base in (16, 2) or digits[1:2] in ("o", "O") else digits
    value = int(body, base) * (-1 if sign == "-" else 1)
    return value if value in _INT64 or value in _UINT64 else None


def _unsupported_tag(node: Node, source: str, path: str) -> UserError:
    return UserError(
        f"{source}: {shown(path)}: the YAML tag {shown(node.tag)} (line {node.start_mark.line + 1}) is not supported; remove it"
    )
