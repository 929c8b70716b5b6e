"""A stand-in for Cloud Logging and Cloud Monitoring, for the GCP gateway's fallback alarms: what happens to the
front's request lines from stdout to a firing alert, applied to the very filters, label extractors and PromQL
queries the component renders (``gateway.gcp_alarms``).

1. Cloud Run's agent parses each single-line JSON object on stdout into a LogEntry whose ``jsonPayload`` is
   the object, on the ``cloud_run_revision`` resource of the service (``log_entry``).
2. A log-based counter adds one point per entry its filter matches, labelled by its label extractors
   (``counter_points``). The filter language here is the subset the component writes: comparisons
   (``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``) of a field path with a quoted string, a number or
   ``true``/``false``, joined by ``AND`` or ``OR`` with parentheses. Mixing ``AND`` and ``OR`` without
   parentheses is refused: the Logging query language binds OR tighter than AND, and a filter that relied
   on either reading would be a bug.
3. A PromQL condition is evaluated at ``now`` over those points (``promql_fires``): ``sum``, ``increase``
   over a range, ``/ * + -``, comparisons (filtering) and ``unless`` — the subset the component writes,
   parsed by promql_parser (the parser verify uses). ``increase`` over a delta counter is the sum of its
   points in ``(now - range, now]``; a series with no point there has no sample (no data), and an empty
   result does not fire.

Standard library and promql_parser only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import promql_parser

RESOURCE_TYPE = "cloud_run_revision"

Labels = frozenset[tuple[str, str]]
Vector = dict[Labels, float]


def log_entry(line: Mapping[str, Any], *, service: str, timestamp: float) -> dict[str, Any]:
    """The LogEntry Cloud Run writes for one JSON line of the service's stdout."""
    return {
        "resource": {"type": RESOURCE_TYPE, "labels": {"service_name": service, "revision_name": f"{service}-00001", "location": "x"}},
        "jsonPayload": dict(line),
        "timestamp": timestamp,
    }


def entries_from_stdout(text: str, *, service: str) -> list[dict[str, Any]]:
    """Every JSON object line of a process's stdout as a LogEntry, timed by the front's EMF timestamp (the
    moment it wrote the line; lines without one are kept, timed 0, and count nowhere)."""
    out: list[dict[str, Any]] = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            stamp = (line.get("_aws") or {}).get("Timestamp") if isinstance(line.get("_aws"), dict) else None
            out.append(log_entry(line, service=service, timestamp=float(stamp) / 1000 if stamp else 0.0))
    return out


# --- the Logging filter subset -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(\()|(\))|(AND|OR)\b|([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false))'
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"filter outside the supported subset at {text[pos : pos + 30]!r}")
        if m.group(1):
            out.append(("(", None))
        elif m.group(2):
            out.append((")", None))
        elif m.group(3):
            out.append((m.group(3), None))
        else:
            raw = m.group(6)
            value: Any = json.loads(raw) if raw.startswith('"') or raw in ("true", "false") else float(raw)
            out.append(("cmp", (m.group(4), m.group(5), value)))
        pos = m.end()
    return out


def _field(entry: Mapping[str, Any], path: str) -> Any:
    node: Any = entry
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return op == "!="
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
        return same if op == "=" else (not same if op == "!=" else False)
    if isinstance(expected, float):
        if not isinstance(actual, int | float):
            return False
        return {"=": actual == expected, "!=": actual != expected, ">": actual > expected, ">=": actual >= expected,
                "<": actual < expected, "<=": actual <= expected}[op]  # fmt: skip
    if op not in ("=", "!="):
        raise ValueError(f"{op} on a string is outside the supported subset")
    return (str(actual) == expected) == (op == "=")


def matches(filter_text: str, entry: Mapping[str, Any]) -> bool:
    """Whether a LogEntry matches a filter of the supported subset."""
    tokens = _tokens(filter_text)
    pos = 0

    def group() -> bool:
        nonlocal pos
        kind, payload = tokens[pos]
        pos += 1
        if kind == "(":
            value = expression()
            assert tokens[pos][0] == ")", "unbalanced parentheses"
            pos += 1
            return value
        assert kind == "cmp", f"unexpected {kind}"
        path, op, expected = payload
        return _compare(_field(entry, path), op, expected)

    def expression() -> bool:
        nonlocal pos
        values = [group()]
        joiner: str | None = None
        while pos < len(tokens) and tokens[pos][0] in ("AND", "OR"):
            if joiner is not None and tokens[pos][0] != joiner:
                raise ValueError("AND and OR mixed without parentheses: the Logging query language binds OR first")
            joiner = tokens[pos][0]
            pos += 1
            values.append(group())
        return any(values) if joiner == "OR" else all(values)

    result = expression()
    if pos != len(tokens):
        raise ValueError("trailing tokens in the filter")
    return result


# --- log-based counters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    metric: str  # PromQL name
    timestamp: float
    labels: Labels


def _extract(extractor: str, entry: Mapping[str, Any]) -> str:
    m = re.fullmatch(r"EXTRACT\(([A-Za-z_][A-Za-z0-9_.]*)\)", extractor)
    if m is None:
        raise ValueError(f"label extractor outside the supported subset: {extractor}")
    value = _field(entry, m.group(1))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def promql_name(metric_name: str) -> str:
    """logging.googleapis.com/user/<name> as PromQL names it (first '/' → ':', other specials → '_')."""
    return "logging_googleapis_com:" + re.sub(r"[^A-Za-z0-9_]", "_", "user/" + metric_name)


def counter_points(metric: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]) -> list[Point]:
    """One point per matching entry. ``metric``: the gcp.logging.Metric's inputs (name, filter,
    labelExtractors — the plan's camelCase or the Python snake_case)."""
    extractors: Mapping[str, str] = metric.get("labelExtractors") or metric.get("label_extractors") or {}
    name = promql_name(str(metric["name"]))
    out: list[Point] = []
    for entry in entries:
        if not matches(str(metric["filter"]), entry):
            continue
        labels = {key: _extract(extractor, entry) for key, extractor in extractors.items()}
        labels["monitored_resource"] = str(entry["resource"]["type"])
        labels.update({k: str(v) for k, v in entry["resource"]["labels"].items()})
        out.append(Point(name, float(entry["timestamp"]), frozenset(labels.items())))
    return out


# --- PromQL subset -------------------------------------------------------------------------------------------


def _selected(points: Sequence[Point], selector: Any) -> list[Point]:
    wanted = [(m.name, m.value, str(m.op)) for m in selector.matchers.matchers]
    out = []
    for p in points:
        if p.metric != selector.name:
            continue
        labels = dict(p.labels)
        if all((labels.get(n, "") == v) == (op in ("=", "MatchOp.Equal")) for n, v, op in wanted):
            out.append(p)
    return out


def _eval(node: Any, points: Sequence[Point], now: float) -> Vector | float:
    if isinstance(node, promql_parser.NumberLiteral):
        return float(node.val)
    if isinstance(node, promql_parser.ParenExpr):
        return _eval(node.expr, points, now)
    if isinstance(node, promql_parser.Call) and node.func.name == "increase":
        matrix = node.args[0]
        assert isinstance(matrix, promql_parser.MatrixSelector), "increase() of a range selector only"
        start = now - matrix.range.total_seconds()
        out: Vector = {}
        for p in _selected(points, matrix.vector_selector):
            if start < p.timestamp <= now:
                out[p.labels] = out.get(p.labels, 0.0) + 1.0
        return out
    if isinstance(node, promql_parser.AggregateExpr) and str(node.op) == "sum":
        assert node.modifier is None, "sum without by/without only"
        inner = _eval(node.expr, points, now)
        assert isinstance(inner, dict)
        return {frozenset(): sum(inner.values())} if inner else {}
    if isinstance(node, promql_parser.BinaryExpr):
        return _binary(str(node.op), _eval(node.lhs, points, now), _eval(node.rhs, points, now))
    raise ValueError(f"outside the supported PromQL subset: {node}")


_ARITH = {"/": lambda a, b: a / b if b else float("nan"), "*": lambda a, b: a * b, "+": lambda a, b: a + b, "-": lambda a, b: a - b}
_CMP = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}


def _binary(op: str, left: Vector | float, right: Vector | float) -> Vector | float:
    if op == "unless":
        assert isinstance(left, dict) and isinstance(right, dict)
        return {k: v for k, v in left.items() if k not in right}
    fn = _ARITH.get(op) or _CMP.get(op)
    if fn is None:
        raise ValueError(f"operator {op} outside the supported subset")
    if isinstance(left, float) and isinstance(right, float):
        return float(fn(left, right))
    if isinstance(left, dict) and isinstance(right, dict):  # one-to-one on identical label sets
        pairs = {k: (v, right[k]) for k, v in left.items() if k in right}
    elif isinstance(left, dict):
        pairs = {k: (v, right) for k, v in left.items()}
    else:
        assert isinstance(right, dict)
        pairs = {k: (left, v) for k, v in right.items()}
    if op in _CMP:  # a filter: the left value stays where the comparison holds
        return {k: a for k, (a, b) in pairs.items() if fn(a, b)}
    return {k: float(fn(a, b)) for k, (a, b) in pairs.items()}


def promql_fires(query: str, points: Sequence[Point], *, now: float) -> bool:
    """Whether a PromQL alert condition with duration 0 fires at ``now``: its result is not empty."""
    result = _eval(promql_parser.parse(query), points, now)
    return bool(result) if isinstance(result, dict) else bool(result)
