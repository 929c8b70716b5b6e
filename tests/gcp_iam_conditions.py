"""A small evaluator of the IAM Conditions (CEL) subset the GPU-VM grants use, and of whether a request is allowed
by a set of grants — so a test asks "may this VM read that instance / list that group?" instead of comparing the
expression's text.

Subset: string literals, `resource.type` and `resource.name`, `==`, `!=`, `&&`, `||`, parentheses, and the string
functions `startsWith(s)`, `extract(template)` and `matches(re)`. Semantics follow Google's "Resource attributes
for IAM Conditions" and "Attribute reference for IAM Conditions" (cloud.google.com/iam/docs):

* `extract("/instances/{name}")` returns the part of the name after the template's literal prefix up to its literal
  suffix (here: to the end), or "" when the prefix isn't found;
* `matches(re)` is RE2 *search* (CEL's `matches` is unanchored), so the pattern anchors itself;
* a resource type that doesn't recognize resource attributes (e.g. a managed instance group) makes any reference to
  `resource.type`/`resource.name` unknown: the condition can't be shown true, so the grant is taken NOT to apply.
  That is the conservative reading — a design whose access depends on it fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|&&|\|\||[().,])|(?P<id>[A-Za-z_][A-Za-z0-9_]*))')


class Unknown(Exception):
    """An attribute the resource type doesn't carry (or an expression outside the subset)."""


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    has_attributes: bool = True
    """False for types IAM Conditions lists no resource attributes for."""


@dataclass(frozen=True)
class Grant:
    permissions: frozenset[str]
    expression: str | None = None


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"outside the subset at {text[pos:]!r}")
        out.append(m.group(m.lastgroup or "id"))
        pos = m.end()
    return out


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


class _Parser:
    def __init__(self, text: str, resource: Resource) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.resource = resource

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected!r}, got {token!r}")
        self.i += 1
        return token

    # or := and ('||' and)* ; and := cmp ('&&' cmp)* ; cmp := value (('=='|'!=') value)?
    # CEL's || and && are commutative about errors: `true || error` is true, `false && error` is false.
    def parse_or(self) -> bool | str:
        values = [self._guard(self.parse_and)]
        while self.peek() == "||":
            self.take()
            values.append(self._guard(self.parse_and))
        return self._combine(values, absorbing=True)

    def parse_and(self) -> bool | str:
        values = [self._guard(self.parse_cmp)]
        while self.peek() == "&&":
            self.take()
            values.append(self._guard(self.parse_cmp))
        return self._combine(values, absorbing=False)

    def _guard(self, parse: Callable[[], bool | str]) -> bool | str | Unknown:
        try:
            return parse()
        except Unknown as unknown:
            # Skip the rest of the operand: the parser stopped at the unknown attribute.
            self._skip_operand()
            return unknown

    def _skip_operand(self) -> None:
        depth = 0
        while (token := self.peek()) is not None:
            if depth == 0 and token in ("||", "&&", ")"):
                return
            depth += token == "("
            depth -= token == ")"
            self.i += 1

    @staticmethod
    def _combine(values: list[bool | str | Unknown], *, absorbing: bool) -> bool | str:
        if len(values) == 1:
            if isinstance(values[0], Unknown):
                raise values[0]
            return values[0]
        if any(v is absorbing for v in values):
            return absorbing
        if any(isinstance(v, Unknown) for v in values):
            raise Unknown("operand unknown")
        return not absorbing

    def parse_cmp(self) -> bool | str:
        left = self.parse_value()
        if self.peek() in ("==", "!="):
            op = self.take()
            right = self.parse_value()
            return (left == right) if op == "==" else (left != right)
        return left

    def parse_value(self) -> bool | str:
        token = self.take()
        if token == "(":
            value = self.parse_or()
            self.take(")")
        elif token.startswith('"'):
            value = _unquote(token)
        elif token == "resource":
            self.take(".")
            attribute = self.take()
            if attribute not in ("type", "name"):
                raise ValueError(f"resource.{attribute} is outside the subset")
            if not self.resource.has_attributes:
                raise Unknown(f"resource.{attribute}")
            value = self.resource.type if attribute == "type" else self.resource.name
        else:
            raise ValueError(f"outside the subset: {token!r}")
        while self.peek() == ".":
            self.take()
            function = self.take()
            self.take("(")
            argument = _unquote(self.take())
            self.take(")")
            if not isinstance(value, str):
                raise ValueError(f"{function} on a bool")
            value = _call(value, function, argument)
        return value


def _call(value: str, function: str, argument: str) -> bool | str:
    if function == "startsWith":
        return value.startswith(argument)
    if function == "matches":
        return re.search(argument, value) is not None
    if function == "extract":
        prefix, _, rest = argument.partition("{")
        suffix = rest.partition("}")[2]
        at = value.find(prefix)
        if at < 0:
            return ""
        tail = value[at + len(prefix) :]
        if not suffix:
            return tail
        end = tail.find(suffix)
        return tail[:end] if end >= 0 else ""
    raise ValueError(f"function {function} is outside the subset")


def evaluate(expression: str, resource: Resource) -> bool:
    """The condition's value for `resource`; raises Unknown when it depends on attributes the type lacks."""
    parser = _Parser(expression, resource)
    value = parser.parse_or()
    if parser.peek() is not None:
        raise ValueError(f"trailing {parser.tokens[parser.i :]}")
    if not isinstance(value, bool):
        raise ValueError(f"not a condition: {expression}")
    return value


def allowed(grants: Iterable[Grant], permission: str, resource: Resource) -> bool:
    """Whether any grant gives `permission` on `resource`: unconditional, or its condition is (knowably) true."""
    for grant in grants:
        if permission not in grant.permissions:
            continue
        if grant.expression is None:
            return True
        try:
            if evaluate(grant.expression, resource):
                return True
        except Unknown:
            continue
    return False


def grants_of(plan: Mapping[str, Mapping[str, object]], member: str) -> list[Grant]:
    """The project-level custom-role grants of `member` in a plan (resource name → inputs), each with its role's
    permissions (roles matched by `projects/<p>/roles/<roleId>`)."""
    roles = {
        f"projects/{inputs['project']}/roles/{inputs['roleId']}": frozenset(inputs["permissions"])  # type: ignore[arg-type]
        for inputs in plan.values()
        if "roleId" in inputs and "permissions" in inputs
    }
    found: list[Grant] = []
    for inputs in plan.values():
        if inputs.get("member") == member and inputs.get("role") in roles:
            condition = inputs.get("condition")
            expression = condition.get("expression") if isinstance(condition, Mapping) else None
            found.append(Grant(roles[str(inputs["role"])], expression if isinstance(expression, str) else None))
    return found
