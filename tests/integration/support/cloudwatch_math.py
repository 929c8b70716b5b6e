"""What CloudWatch makes of the front's request log lines and an AwsGateway metric-math alarm, offline.

1. CloudWatch Logs turns each line with an ``_aws`` block (Embedded Metric Format) into one datapoint per
   declared metric, with the dimension values the line carries under the declared dimension names
   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
2. The alarm reads each metric query's statistic over its period (``Sum`` only here: what the alarms use); a
   metric with no datapoint in the period is missing, not zero.
3. The returned expression is evaluated with the metric math the alarms use — numbers, metric ids, ``+ - * /``,
   ``== != < <= > >=``, ``AND`` / ``OR``, ``IF(c, a, b)`` and ``FILL(m, v)``
   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html). A missing operand
   makes the result missing, except inside ``FILL``.
4. Missing → ``treat_missing_data`` (the alarms say ``notBreaching``: not firing); a value → the comparison
   with the threshold.

The period is taken as the window ending at ``now`` (``now - period < t <= now``), as
``fallback_alarms.window_counts`` reads its lines. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|&&|\|\||[-+*/(),<>]))")
_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def emf_sum(lines: Iterable[Mapping[str, Any]], metric: Mapping[str, Any], *, now: float) -> float | None:
    """The ``Sum`` of a metric query's metric over the lines of its period (None: no datapoint)."""
    start = now - int(metric["period"])
    total: float | None = None
    for line in lines:
        block = line.get("_aws")
        if not isinstance(block, Mapping):
            continue
        at = float(block["Timestamp"]) / 1000.0
        if not start < at <= now:
            continue
        for directive in block.get("CloudWatchMetrics", []):
            if directive.get("Namespace") != metric["namespace"]:
                continue
            names = {m["Name"] for m in directive.get("Metrics", [])}
            for dimension_set in directive.get("Dimensions", []):
                carried = {d: str(line.get(d)) for d in dimension_set}
                if metric["metric_name"] in names and carried == dict(metric["dimensions"]):
                    total = (total or 0.0) + float(line[metric["metric_name"]])
    return total


class _Parser:
    """Recursive descent over the expression grammar above; evaluates as it parses."""

    def __init__(self, text: str, values: Mapping[str, float | None]) -> None:
        self.tokens: list[str] = []
        position = 0
        while position < len(text.rstrip()):
            found = _TOKEN.match(text, position)
            if found is None:
                raise ValueError(f"metric math: cannot read {text[position:]!r}")
            self.tokens.append(found.group(found.lastindex or 0))
            position = found.end()
        self.values = values
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected):
            raise ValueError(f"metric math: expected {expected or 'more'}, found {token!r}")
        self.at += 1
        return token

    def parse(self) -> float | None:
        value = self.logical()
        if self.peek() is not None:
            raise ValueError(f"metric math: unexpected {self.peek()!r}")
        return value

    def logical(self) -> float | None:
        left = self.comparison()
        while (self.peek() or "").upper() in ("AND", "&&", "OR", "||"):
            op = self.take().upper()
            right = self.comparison()
            if left is None or right is None:
                left = None
            elif op in ("AND", "&&"):
                left = float(bool(left) and bool(right))
            else:
                left = float(bool(left) or bool(right))
        return left

    def comparison(self) -> float | None:
        left = self.additive()
        ops = {"==": float.__eq__, "!=": float.__ne__, "<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
        while self.peek() in ops:
            op = ops[self.take()]
            right = self.additive()
            left = None if left is None or right is None else float(op(float(left), float(right)))
        return left

    def additive(self) -> float | None:
        left = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            left = None if left is None or right is None else (left + right if op == "+" else left - right)
        return left

    def term(self) -> float | None:
        left = self.factor()
        while self.peek() in ("*", "/"):
            op = self.take()
            right = self.factor()
            if left is None or right is None or (op == "/" and right == 0):
                left = None  # a division by zero is no datapoint
            else:
                left = left * right if op == "*" else left / right
        return left

    def factor(self) -> float | None:
        token = self.take()
        if token == "(":
            value = self.logical()
            self.take(")")
            return value
        if token == "-":
            value = self.factor()
            return None if value is None else -value
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return float(token)
        if token.upper() in ("IF", "FILL") and self.peek() == "(":
            self.take("(")
            args = [self.logical()]
            while self.peek() == ",":
                self.take(",")
                args.append(self.logical())
            self.take(")")
            if token.upper() == "FILL":
                return args[1] if args[0] is None else args[0]
            if len(args) != 3:
                raise ValueError("metric math: IF takes a condition and two values")
            return None if args[0] is None else (args[1] if args[0] else args[2])
        if token not in self.values:
            raise ValueError(f"metric math: unknown id {token!r}")
        return self.values[token]


def evaluate(expression: str, values: Mapping[str, float | None]) -> float | None:
    """The expression's value for one period (None: missing)."""
    return _Parser(expression, values).parse()


def alarm_fires(definition: Mapping[str, Any], lines: Iterable[Mapping[str, Any]], *, now: float) -> bool:
    """Whether a metric-math alarm definition (``monitoring.cloudwatch`` shape) is in ALARM over the lines'
    period ending at ``now``."""
    kept = list(lines)
    values: dict[str, float | None] = {}
    returned: str | None = None
    for query in definition["metric_queries"]:
        if "metric" in query:
            values[query["id"]] = emf_sum(kept, query["metric"], now=now)
        elif query.get("return_data"):
            returned = query["expression"]
    if returned is None:
        raise ValueError("the alarm returns no expression")
    value = evaluate(returned, values)
    if value is None:
        return definition["treat_missing_data"] == "breaching"
    return bool(_COMPARE[definition["comparison_operator"]](value, float(definition["threshold"])))
