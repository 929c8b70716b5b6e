"""iam.parliament: every IAM policy document in an AWS plan passes parliament (duo-labs/parliament 1.6.4,
AWS's action/resource/condition definitions) with no error.

Documents: role and managed policies (identity), role trust policies, and the resource policies of keys,
buckets, secrets, topics, queues, ... (any `policy` input holding a JSON policy). The mocks give ARNs a
shape of their own (`arn:aws:kms:REGION:ACCOUNT:NAME`); before parliament reads a document, every ARN of a
plan resource is rewritten into the shape AWS gives it (facts.aws_iam.ARN_FORMATS), so a resource that
doesn't fit an action (RESOURCE_MISMATCH) is a real mistake, not the mock's.

Which findings are errors: anything that makes AWS reject the document or makes a statement silently
grant or match nothing (malformed, unknown action/prefix/principal/operator, a condition key the action
doesn't have, a type mismatch, an action none of the statement's resources fits, invalid Sid/ARN/Version).
Not errors:
RESOURCE_STAR / RESOURCE_EFFECTIVELY_STAR (key and resource policies are on "*" by design; identity
policies that need "*" are the upstream controllers' own), OLD_VERSION (never produced: every document
has 2012-10-17), MISMATCHED_TYPE_BUT_USABLE (works as written), RESOURCE_POLICY_PRIVILEGE_ESCALATION
(advice about who may edit policies, not a fault of the document).
"""

from __future__ import annotations

import importlib.resources
import json
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from ...offline.invokes import ACCOUNT_ID
from ...offline.recorder import mock_arn
from .. import iam_eval
from ..facts.aws_iam import ARN_FORMATS
from ..plain import array_at, is_object
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NOT_ERRORS = frozenset(
    {
        "RESOURCE_STAR",
        "RESOURCE_EFFECTIVELY_STAR",
        "OLD_VERSION",
        "MISMATCHED_TYPE_BUT_USABLE",
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        "RESOURCE_MISMATCH",
    }  # checked here instead, see unusable_actions
)

IDENTITY_TYPES = frozenset(
    {"aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"}
)


@dataclass(frozen=True)
class Allowed:
    """A parliament finding known to be wrong about a document AWS accepts, and why."""

    issue: str
    kind: str | None
    """"trust", "identity" or "resource"; None for any."""
    detail: str
    """A substring of the finding's detail (as JSON) that identifies it."""
    reason: str


ALLOWED = (
    Allowed(
        "MISMATCHED_TYPE",
        "resource",
        "ArnLike requires a value of type Arn",
        "kms:EncryptionContext:aws:logs:arn compared with ArnLike, as AWS's own managed policy CloudWatchLogsAPIKeyAccess "
        "does (docs.aws.amazon.com/aws-managed-policy/latest/reference/CloudWatchLogsAPIKeyAccess.html); parliament types "
        "every kms:EncryptionContext:* key as a String.",
    ),
    Allowed(
        "UNKNOWN_ACTION",
        "identity",
        "elasticloadbalancing:ModifyIpPools",
        "An action newer than parliament 1.6.4's definitions, in the AWS Load Balancer Controller's policy "
        "(github.com/kubernetes-sigs/aws-load-balancer-controller, tag v2.17.1, docs/install/iam_policy.json).",
    ),
    Allowed(
        "UNKNOWN_CONDITION_FOR_ACTION",
        "identity",
        "elasticloadbalancing:CreateAction",
        "elasticloadbalancing:CreateAction on AddTags, newer than parliament 1.6.4's definitions, in the AWS Load "
        "Balancer Controller's policy (github.com/kubernetes-sigs/aws-load-balancer-controller, tag v2.17.1, "
        "docs/install/iam_policy.json).",
    ),
)


@dataclass(frozen=True)
class _Parliament:
    """The parliament functions this module calls, with their types: parliament ships neither annotations
    nor stubs, so they are stated once here, where its functions enter."""

    analyze_policy_string: Callable[..., Any]
    """(policy text, ignore_private_auditors=...) -> a Policy whose `findings` have `issue` and `detail`."""
    expand_action: Callable[..., list[dict[str, str]]]
    """An action pattern -> {"service", "action"} of every action it stands for."""
    is_glob_match: Callable[[str, str], bool]
    get_privilege_info: Callable[[str, str], dict[str, Any]]
    get_arn_format: Callable[[str, Any], str]


def _package_file(package: str, name: str) -> str:
    """The path of data file `name` shipped in `package`: what pkg_resources.resource_filename returns for a
    package installed as plain files (parliament's wheel is)."""
    return str(importlib.resources.files(package).joinpath(name))


def _import_parliament() -> None:
    """Import parliament without importing pkg_resources, when nothing has yet.

    parliament 1.6.4's __init__ (github.com/duo-labs/parliament, tag 1.6.4, parliament/__init__.py) imports
    pkg_resources only to call `resource_filename(__name__, "iam_definition.json")` and
    `resource_filename(__name__, "config.yaml")` while it loads; no other module of it uses pkg_resources.
    Importing pkg_resources scans every installed distribution (~0.1 s of a plan's CPU, and a deprecation
    warning); a stand-in with that one function, present only while parliament loads, gives it the same
    paths. If pkg_resources is already loaded, parliament gets the real one."""
    if "parliament" in sys.modules or "pkg_resources" in sys.modules:
        import parliament  # noqa: F401  # pyright: ignore[reportMissingTypeStubs, reportUnusedImport]

        return
    stand_in = types.ModuleType("pkg_resources")
    stand_in.resource_filename = _package_file  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stand_in
    try:
        import parliament  # noqa: F401  # pyright: ignore[reportMissingTypeStubs, reportUnusedImport]
    finally:
        del sys.modules["pkg_resources"]


@lru_cache(maxsize=1)
def _parliament() -> _Parliament:
    # parliament 1.6.4 imports pkg_resources, which warns on import when the real one loads (see
    # _import_parliament); the warning is about parliament's packaging, not about our documents.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        _import_parliament()
        from parliament import (  # pyright: ignore[reportMissingTypeStubs]  (no stubs; typed by _Parliament)
            analyze_policy_string,  # pyright: ignore[reportUnknownVariableType]  (unannotated parameters)
            expand_action,  # pyright: ignore[reportUnknownVariableType]  (unannotated parameters)
            is_glob_match,  # pyright: ignore[reportUnknownVariableType]  (unannotated parameters)
        )
        from parliament.statement import (  # pyright: ignore[reportMissingTypeStubs]  (no stubs; typed by _Parliament)
            get_arn_format,  # pyright: ignore[reportUnknownVariableType]  (unannotated parameters)
            get_privilege_info,  # pyright: ignore[reportUnknownVariableType]  (unannotated parameters)
        )
    return _Parliament(
        analyze_policy_string=cast("Callable[..., Any]", analyze_policy_string),
        expand_action=cast("Callable[..., list[dict[str, str]]]", expand_action),
        is_glob_match=cast("Callable[[str, str], bool]", is_glob_match),
        get_privilege_info=cast("Callable[[str, str], dict[str, Any]]", get_privilege_info),
        get_arn_format=cast("Callable[[str, Any], str]", get_arn_format),
    )


@dataclass(frozen=True)
class Document:
    resource: str
    kind: str
    text: str


def _is_policy(text: Any) -> bool:
    if not isinstance(text, str) or "Statement" not in text:
        return False
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return True  # malformed JSON that means to be a policy: parliament reports it


def documents(view: PlanView) -> Iterator[Document]:
    for r in view.resources:
        if not r["type"].startswith("aws:"):
            continue
        inputs = r["inputs"]
        if _is_policy(inputs.get("assumeRolePolicy")):
            yield Document(r["name"], "trust", inputs["assumeRolePolicy"])
        if _is_policy(inputs.get("policy")):
            yield Document(r["name"], "identity" if r["type"] in IDENTITY_TYPES else "resource", inputs["policy"])
        for inline in array_at(inputs, "inlinePolicies"):
            if is_object(inline) and _is_policy(inline.get("policy")):
                yield Document(f"{r['name']}/{inline.get('name', 'inline')}", "identity", inline["policy"])


def real_arns(view: PlanView) -> dict[str, str]:
    """Mock ARN → the ARN AWS would give the same resource (facts.aws_iam.ARN_FORMATS)."""
    region = str(view.settings.get("region") or "")
    found: dict[str, str] = {}
    for r in view.resources:
        shape = ARN_FORMATS.get(r["type"])
        if shape is None or "arn" in r["inputs"]:
            continue
        name = r["inputs"].get("name") if isinstance(r["inputs"].get("name"), str) else r.get("id")
        found[mock_arn(r["type"], r["name"], region)] = shape.format(region=region, account=ACCOUNT_ID, id=r.get("id"), name=name)
    return found


def realistic(text: str, arns: dict[str, str]) -> str:
    if not arns:
        return text
    # Longest first, whole ARNs only: one resource's name may start another's.
    pattern = re.compile("|".join(re.escape(a) for a in sorted(arns, key=len, reverse=True)) + r"(?![A-Za-z0-9_.-])")
    return pattern.sub(lambda m: arns[m.group(0)], text)


def is_allowed(finding_issue: str, kind: str, detail: str) -> bool:
    return any(a.issue == finding_issue and a.kind in (None, kind) and a.detail in detail for a in ALLOWED)


def action_formats(service: str, action: str) -> set[str]:
    """The ARN formats of every resource type `action` takes, required or not (parliament's definitions);
    empty when it takes none (it is only ever allowed on "*").

    Two services share a prefix in AWS's definitions — "apigateway" is both Amazon API Gateway Management
    (REST APIs, API keys: apikeys/${ApiKeyId}) and Management V2 — and parliament's get_privilege_info
    reads the first one only, so every service of the prefix that has the action counts."""
    parliament = _parliament()
    formats: set[str] = set()
    for definition in _services(service):
        for privilege in definition["privileges"]:
            if privilege["privilege"].lower() != action.lower():
                continue
            formats |= {
                parliament.get_arn_format(t["resource_type"], definition["resources"])
                for t in privilege["resource_types"]
                if t["resource_type"].strip("*")
            }
    return formats


def _services(prefix: str) -> list[dict[str, Any]]:
    """Every service definition of an IAM prefix in parliament's data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        _import_parliament()
        from parliament import iam_definition  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]
    definitions = cast("list[dict[str, Any]]", iam_definition)
    return [d for d in definitions if d["prefix"] == prefix]


def fits(resource: str, arn_format: str) -> bool:
    """Whether a policy's resource (a pattern) can name something of `arn_format`, part by part. An
    empty region or account (AWS-owned images, public SSM parameters, Bedrock foundation models) fits
    the format's wildcard."""
    is_glob_match = _parliament().is_glob_match
    if resource == "*":
        return True
    have, want = resource.split(":", 5), arn_format.split(":", 5)
    if len(have) != 6 or len(want) != 6:
        return is_glob_match(arn_format, resource)
    return all(is_glob_match(w, h) for w, h in zip(want, have, strict=False))


def unusable_actions(stmt: dict[str, Any]) -> list[str]:
    """The actions of a statement that no resource of it can apply to: it grants (or denies) nothing for
    them. An action pattern (s3:*) is unusable only if none of the actions it stands for is usable.

    This replaces parliament's RESOURCE_MISMATCH, which also reports an action touching several resource
    types (ec2:RunInstances) whenever a statement lists only some of them; AWS authorizes each type on
    its own, so policies split them across statements (Karpenter's does)."""
    expand_action = _parliament().expand_action
    resources = [str(r) for r in iam_eval.as_list(stmt.get("Resource"))]
    if not resources or "NotResource" in stmt or "NotAction" in stmt:
        return []
    unusable: list[str] = []
    for pattern in (str(a) for a in iam_eval.as_list(stmt.get("Action"))):
        if ":" not in pattern:
            continue  # "*", or malformed: parliament reports it
        expanded = expand_action(pattern, raise_exceptions=False)
        if not expanded:
            continue  # unknown: parliament reports it
        usable = False
        for action in expanded:
            formats = action_formats(action["service"], action["action"])
            if ("*" in resources) if not formats else any(fits(r, f) for r in resources for f in formats):
                usable = True
                break
        if not usable:
            unusable.append(pattern)
    return unusable


def as_parliament_reads(text: str, kind: str) -> str:
    """A role trust policy names no Resource (the role it is attached to is the resource; see the Pod
    Identity trust policy in github.com/awsdocs/amazon-eks-user-guide, latest/ug/manage-access/aws-access/
    pod-id-role.adoc). parliament reads every document as an identity policy and stops at a statement
    without one (MALFORMED), checking nothing else; given "*" it checks the actions, principals and
    conditions like any other statement."""
    if kind != "trust":
        return text
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return text
    for stmt in iam_eval.as_list(doc.get("Statement") if is_object(doc) else None):
        if is_object(stmt) and "Resource" not in stmt and "NotResource" not in stmt:
            stmt["Resource"] = "*"
    return json.dumps(doc)


def errors_in(text: str, kind: str) -> list[tuple[str, str]]:
    """(issue, detail) of every parliament finding in `text` that counts as an error, and of every
    statement whose resources can't apply to one of its actions (RESOURCE_MISMATCH, see unusable_actions)."""
    policy = _parliament().analyze_policy_string(as_parliament_reads(text, kind), ignore_private_auditors=True)
    found: list[tuple[str, str]] = []
    for finding in policy.findings:
        detail = json.dumps(finding.detail, sort_keys=True, default=str)
        if finding.issue in NOT_ERRORS or is_allowed(finding.issue, kind, detail):
            continue
        found.append((finding.issue, detail))
    for stmt in iam_eval.statements(text):
        actions = unusable_actions(stmt)
        if actions:
            found.append(("RESOURCE_MISMATCH", f"statement {stmt.get('Sid', '')!r}: no resource of it fits {', '.join(actions)}"))
    return found


@rule("iam.parliament")
def iam_documents_pass_parliament(view: PlanView) -> Iterable[Violation]:
    """Every IAM document of an AWS plan (role and managed policies, trust policies, key, bucket, secret,
    topic and queue policies) passes parliament with no error, its ARNs in the shape AWS gives them; no
    statement names only resources none of its actions can take.

    Errors and the cited false positives allowed: see the module docstring and ALLOWED."""
    if view.cloud != "aws" and not any(r["type"].startswith("aws:") for r in view.resources):
        return []
    arns = real_arns(view)
    out: list[Violation] = []
    for doc in documents(view):
        for issue, detail in errors_in(realistic(doc.text, arns), doc.kind):
            out.append(violation(view, doc.resource, "iam.parliament", f"{doc.kind} policy: parliament {issue}: {detail}"))
    return out
