"""An offline model of AWS policy evaluation for one request of a role in its own account (see
facts.aws_iam): explicit Deny wins; an Allow is needed in the identity policies or, for S3 and Secrets
Manager, in the resource policy naming the role; a KMS key policy must name the role or delegate to IAM.

Conditions are evaluated when the request's context carries the key (e.g. aws:SecureTransport,
kms:ViaService, s3:prefix) and the operator is one modelled here. Anything else can't be known offline
and is an assumption the decision lists: an Allow is assumed to apply (we prove the path could open)
and so is a Deny (a Deny we can't rule out is reported, never waved through).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from .facts.aws_iam import account_principals


@dataclass(frozen=True)
class Request:
    principal: str
    """The caller's ARN as the plan spells it (the role's ARN)."""
    action: str
    resource: str
    account: str
    context: dict[str, str] = field(default_factory=dict[str, str])
    """Condition keys whose value the flow fixes (aws:SecureTransport, kms:ViaService, s3:prefix, ...)."""


@dataclass
class Decision:
    allowed_by: list[str] = field(default_factory=list[str])
    """Where an Allow matched: "identity:<policy>", "resource:<policy>", "key-delegates"."""
    denied_by: list[str] = field(default_factory=list[str])
    assumptions: list[str] = field(default_factory=list[str])
    """Conditions that couldn't be evaluated offline and were assumed to hold."""
    notes: list[str] = field(default_factory=list[str])


def document(policy: Any) -> dict[str, Any]:
    """A policy document from a plan input (a JSON string, or already a dict); {} when absent or unreadable."""
    if isinstance(policy, str) and policy.strip():
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return {}
    # Plan inputs and parsed JSON are untyped: a dict here is a JSON object, keyed by strings.
    return cast("dict[str, Any]", policy) if isinstance(policy, dict) else {}


def statements(policy: Any) -> list[dict[str, Any]]:
    found: Any = document(policy).get("Statement") or []
    listed: list[Any] = [found] if isinstance(found, dict) else list(found)
    return [cast("dict[str, Any]", s) for s in listed if isinstance(s, dict)]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(cast("list[Any] | tuple[Any, ...]", value)) if isinstance(value, (list, tuple)) else [value]


def wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one character; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def action_in(stmt: dict[str, Any], action: str) -> bool:
    # Action names are case-insensitive; NotAction matches everything it doesn't list.
    if "NotAction" in stmt:
        return not any(wildcard(a, action, case_sensitive=False) for a in as_list(stmt["NotAction"]))
    return any(wildcard(a, action, case_sensitive=False) for a in as_list(stmt.get("Action")))


def resource_in(stmt: dict[str, Any], resource: str) -> bool:
    if "NotResource" in stmt:
        return not any(wildcard(r, resource) for r in as_list(stmt["NotResource"]))
    if "Resource" not in stmt:
        return True  # a resource policy may leave it out: the resource it is attached to
    return any(wildcard(r, resource) for r in as_list(stmt["Resource"]))


def principals(stmt: dict[str, Any]) -> list[str]:
    """The AWS principals a resource-policy statement names ("*" for everyone)."""
    principal = stmt.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [str(p) for p in as_list(cast("dict[str, Any]", principal).get("AWS"))]
    return []


def names_principal(stmt: dict[str, Any], principal: str) -> bool:
    if "NotPrincipal" in stmt:
        notp = stmt["NotPrincipal"]
        listed = as_list(cast("dict[str, Any]", notp).get("AWS")) if isinstance(notp, dict) else as_list(notp)
        return principal not in listed
    return any(p == "*" or wildcard(p, principal) for p in principals(stmt))


def names_account(stmt: dict[str, Any], account: str) -> bool:
    return bool(account_principals(account) & set(principals(stmt)))


_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: wildcard(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": lambda p, v: wildcard(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}


def condition_holds(stmt: dict[str, Any], context: dict[str, str]) -> tuple[bool, list[str]]:
    """(holds, assumptions): every operator/key of the statement's Condition that the context answers is
    evaluated; the rest are assumed to hold and listed."""
    assumed: list[str] = []
    conditions: dict[str, Any] = stmt.get("Condition") or {}
    for operator, keys in conditions.items():
        base = operator.removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
        negate = base.startswith("StringNot") or base.startswith("ArnNot")
        op = _STRING_OPS.get(base.replace("Not", "", 1) if negate else base)
        keyed: dict[str, Any] = keys or {}
        for key, wanted in keyed.items():
            if op is None or key not in context:
                assumed.append(f"{operator} {key}")
                continue
            hit = any(op(str(p), context[key]) for p in as_list(wanted))
            if hit == negate:
                return False, []
    return True, assumed


def _applies(stmt: dict[str, Any], request: Request) -> tuple[bool, list[str]]:
    if not (action_in(stmt, request.action) and resource_in(stmt, request.resource)):
        return False, []
    return condition_holds(stmt, request.context)


def evaluate(
    request: Request,
    identity_policies: Iterable[tuple[str, Any]],
    resource_policy: tuple[str, Any] | None = None,
    *,
    key_policy: bool = False,
) -> Decision:
    """Whether `request` is allowed, with where the Allow/Deny came from. `identity_policies`: (name,
    document) of the role's policies; `resource_policy`: (name, document) on the resource, if any;
    `key_policy`: the resource policy is a KMS key policy (an IAM Allow counts only if it delegates; pass
    the default key policy for a key created without one)."""
    decision = Decision()
    delegates = False
    if resource_policy is not None:
        name, doc = resource_policy
        for stmt in statements(doc):
            applies, assumed = _applies(stmt, request)
            if not applies:
                continue
            effect = stmt.get("Effect")
            # The account principal stands for every principal of the account (facts.aws_iam
            # ACCOUNT_PRINCIPAL_DENY_COVERS_ALL): a Deny naming it denies the role too. An Allow naming it
            # only delegates to IAM, below.
            if effect == "Deny" and (names_principal(stmt, request.principal) or names_account(stmt, request.account)):
                decision.denied_by.append(f"resource:{name}:{stmt.get('Sid', '')}")
                decision.assumptions += assumed
            elif effect == "Allow" and names_account(stmt, request.account):
                delegates = True
                decision.assumptions += assumed
            elif effect == "Allow" and names_principal(stmt, request.principal):
                decision.allowed_by.append(f"resource:{name}:{stmt.get('Sid', '')}")
                decision.assumptions += assumed
    identity_allows: list[str] = []
    for name, doc in identity_policies:
        for stmt in statements(doc):
            applies, assumed = _applies(stmt, request)
            if not applies:
                continue
            if stmt.get("Effect") == "Deny":
                decision.denied_by.append(f"identity:{name}:{stmt.get('Sid', '')}")
            elif stmt.get("Effect") == "Allow":
                identity_allows.append(f"identity:{name}:{stmt.get('Sid', '')}")
            decision.assumptions += assumed
    if not key_policy or delegates:
        decision.allowed_by += identity_allows
    elif identity_allows:
        decision.notes.append("the key policy neither names the role nor delegates to IAM, so the role's IAM Allow is void")
    return decision


def allowed(decision: Decision) -> bool:
    return bool(decision.allowed_by) and not decision.denied_by
