"""A small evaluator for the subset of KQL (Kusto Query Language) the Azure fallback alarms are written in
(``pulumi_llm.gateway.azure_alarms``), so tests can run the rendered query over the front's real log lines.

Supported, exactly as Azure Data Explorer defines them: a table name, then ``| where <bool>``,
``| extend name = <expr>, …`` and ``| summarize name = count(), name = countif(<bool>), …`` (no ``by``: one
row, also over no input). Expressions: ``and``/``or``, ``==`` ``!=`` ``>`` ``>=`` ``<`` ``<=``, ``*`` ``/``,
string and number literals, ``true``/``false``, ``x contains "s"`` (case-insensitive), ``parse_json``,
``tostring``, ``toint``, ``tobool`` and ``a.b`` on a dynamic value. Null follows KQL: a null operand makes a
comparison false and arithmetic null; ``tostring(null)`` is ``""``. Anything else raises — a query that
needs more KQL than this must not be "evaluated" by guessing.

A scheduled query rule runs the query over the rows whose ``TimeGenerated`` falls in the rule's window and
fires when the number of rows returned passes the threshold (time aggregation Count): ``alert_fires``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class _Null:
    """KQL's null: every comparison false, arithmetic null."""

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return False

    def __lt__(self, other: object) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__

    def __mul__(self, other: object) -> _Null:
        return self

    __rmul__ = __truediv__ = __rtruediv__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> _Null:
        if name.startswith("__"):
            raise AttributeError(name)
        return self  # a property of null is null

    def __hash__(self) -> int:
        return 0


NULL = _Null()


class Dynamic:
    """A ``dynamic`` value (parse_json's result): ``.name`` reads a property, null when absent."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __getattr__(self, name: str) -> Any:
        if isinstance(self.value, dict) and name in self.value:
            return _wrap(self.value[name])
        return NULL


def _wrap(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, dict | list):
        return Dynamic(value)
    return value


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, Dynamic) else value


def parse_json(text: Any) -> Any:
    if not isinstance(text, str):
        return NULL
    try:
        return _wrap(json.loads(text))
    except ValueError:
        return NULL


def tostring(value: Any) -> str:
    value = _unwrap(value)
    if value is NULL:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def toint(value: Any) -> Any:
    value = _unwrap(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return NULL
    return NULL


def tobool(value: Any) -> Any:
    value = _unwrap(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return NULL


def _contains(haystack: Any, needle: str) -> bool:
    return isinstance(haystack, str) and needle.lower() in haystack.lower()


_FUNCTIONS = {"parse_json": parse_json, "tostring": tostring, "toint": toint, "tobool": tobool, "_contains": _contains}
_STRING = r'"(?:[^"\\]|\\.)*"'
_CONTAINS = re.compile(rf"([A-Za-z_][A-Za-z0-9_.]*)\s+contains\s+({_STRING})")
_TOKEN = re.compile(rf"\s*(?:({_STRING})|(\d+\.\d+|\d+)|(==|!=|>=|<=|>|<|\*|/|\(|\)|,|\.)|([A-Za-z_][A-Za-z0-9_]*))")
_KEYWORDS = {"and", "or"}
_ALLOWED_NAMES = set(_FUNCTIONS) | {"true", "false"}


def _python(expr: str, columns: Iterable[str]) -> str:
    """The expression as Python, after checking every token is in the supported subset."""
    expr = _CONTAINS.sub(r"_contains(\1, \2)", expr)
    known = set(columns) | _ALLOWED_NAMES
    out: list[str] = []
    position = 0
    previous = ""
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None or match.end() == position:
            if expr[position:].strip() == "":
                break
            raise ValueError(f"unsupported KQL at {expr[position:]!r}")
        position = match.end()
        string, number, operator, name = match.groups()
        if string is not None:
            out.append(repr(json.loads(string)))
        elif number is not None:
            out.append(number)
        elif operator is not None:
            out.append(operator)
        elif name in _KEYWORDS:
            out.append(f" {name} ")
        elif previous == ".":
            out.append(name)  # a property of a dynamic value
        elif name in known:
            out.append({"true": "True", "false": "False"}.get(name, name))
        else:
            raise ValueError(f"unknown column or function {name!r} in {expr!r}")
        previous = operator or ""
    return "".join(out)


def _evaluate(expr: str, row: Mapping[str, Any]) -> Any:
    code = _python(expr, row)
    return eval(code, {"__builtins__": {}}, {**_FUNCTIONS, **row})  # noqa: S307 - our own rendered query, tokens checked above


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses and strings."""
    parts: list[str] = []
    depth = 0
    current = ""
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            current += char
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _assignment(part: str) -> tuple[str, str]:
    name, sep, expr = part.partition("=")
    if not sep or not re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*", name):
        raise ValueError(f"expected name = expression, got {part!r}")
    return name.strip(), expr.strip()


def run(query: str, tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The rows `query` returns over `tables` (table name → rows)."""
    stages = [s.strip() for s in query.strip().split("\n")]
    table, *pipes = stages
    if table not in tables:
        raise ValueError(f"unknown table {table!r}")
    rows: list[dict[str, Any]] = [dict(r) for r in tables[table]]
    for stage in pipes:
        if not stage.startswith("| "):
            raise ValueError(f"a stage starts with '| ': {stage!r}")
        operator, _, rest = stage[2:].partition(" ")
        if operator == "where":
            rows = [r for r in rows if _evaluate(rest, r) is True]
        elif operator == "extend":
            for row in rows:
                for part in _split_top(rest):
                    name, expr = _assignment(part)
                    row[name] = _evaluate(expr, row)
        elif operator == "summarize":
            if re.search(r"\bby\b", rest):
                raise ValueError("summarize … by is not supported")
            out: dict[str, Any] = {}
            for part in _split_top(rest):
                name, expr = _assignment(part)
                if expr == "count()":
                    out[name] = len(rows)
                elif expr.startswith("countif(") and expr.endswith(")"):
                    out[name] = sum(1 for r in rows if _evaluate(expr[len("countif(") : -1], r) is True)
                else:
                    raise ValueError(f"unsupported aggregation {expr!r}")
            rows = [out]
        else:
            raise ValueError(f"unsupported operator {operator!r}")
    return rows


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def duration_seconds(iso: str) -> int:
    match = _DURATION.match(iso)
    if match is None or iso in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration of days/hours/minutes: {iso!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60


def alert_fires(
    *, query: str, window: str, operator: str, threshold: float, table: str, rows: Iterable[Mapping[str, Any]], now: float
) -> bool:
    """A scheduled query rule (time aggregation Count): the rows in the window (now - window, now] by
    TimeGenerated, the query over them, the number of rows returned compared with the threshold."""
    start = now - duration_seconds(window)
    in_window = [r for r in rows if start < float(r["TimeGenerated"]) <= now]
    count = len(run(query, {table: in_window}))
    compare = {"GreaterThan": count > threshold, "GreaterThanOrEqual": count >= threshold}
    return compare[operator]
