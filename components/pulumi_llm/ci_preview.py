"""What `pulumi preview --json` says a stack's update would do: counts per operation and the changed resources.

The document is Pulumi's preview digest, written by the CLI's JSON display (pulumi/pulumi v3.259.0, the
newest release read for this; uv.lock pins 3.272.0: `pkg/display/json.go`, `PreviewDigest`, filled in
`pkg/backend/display/json.go`, `ShowJSONEvents`):

    {"config": {...}, "steps": [{"op", "urn", "provider", "oldState", "newState", "diffReasons",
     "replaceReasons", "detailedDiff"}], "diagnostics": [{"urn", "prefix", "message", "severity"}],
     "duration": <ns>, "changeSummary": {"<op>": <count>}, "maybeCorrupt": <bool>}

`op` is one of the engine's step operations (same release, `pkg/resource/deploy/step.go`, `StepOp`):
same, create, update, delete, replace, create-replacement, delete-replaced, read, read-replacement,
refresh, discard, discard-replaced, remove-pending-replace, import, import-replacement, diff,
extend-parameterize. An op this module does not know counts as a change (shown, never hidden). The
digest has no policy results: ShowJSONEvents skips policy events ("we don't handle policy events in JSON
serialization"), so a mandatory violation shows only as the preview's failing exit status, which the
workflow records beside the document.

Pure and standard library only: the PR-comment job renders with no third-party package installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

UNCHANGED_OPS = frozenset({"same", "read", "read-replacement", "refresh", "diff", "extend-parameterize"})
"""Steps that leave the stack's resources as they are: reading or refreshing state, diffing against an imported
resource, parameterizing a provider."""
COMPANION_OPS = frozenset({"create-replacement", "delete-replaced", "discard-replaced", "import-replacement"})
"""The halves of a replacement: the engine also emits one `replace` step per replaced resource, which is
the one shown (counting both would count one replacement three times)."""
SHOWN_OPS = ("create", "update", "replace", "delete")
"""The operations a reader scans for first, in the order the comment lists them."""


@dataclass(frozen=True)
class StepChange:
    """One resource the update would change."""

    op: str
    type: str
    name: str
    reasons: tuple[str, ...] = ()
    """The properties that cause it: `replaceReasons` for a replacement, else `diffReasons`."""


@dataclass(frozen=True)
class PreviewResult:
    """One stack's `pulumi preview --json`, reduced to what a pull request comment shows."""

    counts: Mapping[str, int]
    """Resources per operation, unchanged ones included ("same")."""
    changes: tuple[StepChange, ...] = ()
    errors: tuple[str, ...] = ()
    """Diagnostics of severity error, one line each."""
    warnings: tuple[str, ...] = ()
    """Diagnostics of severity warning, one line each."""
    exit_code: int | None = 0
    """The preview's exit status; non-zero when it failed (a mandatory policy violation included)."""
    maybe_corrupt: bool = False
    notes: tuple[str, ...] = field(default=())
    """Why the document could not be read in full, if it could not."""

    @property
    def failed(self) -> bool:
        return bool(self.exit_code) or bool(self.errors)

    @property
    def changed(self) -> int:
        """How many resources the update would create, update, replace or delete (or otherwise touch)."""
        return sum(n for op, n in self.counts.items() if op not in UNCHANGED_OPS and op not in COMPANION_OPS)


def urn_type_and_name(urn: str) -> tuple[str, str]:
    """`urn:pulumi:<stack>::<project>::<parent types$>type::<name>` → (type, name)."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    qualified, name = parts[2], "::".join(parts[3:])
    return qualified.rsplit("$", 1)[-1], name


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in cast("list[object]", value)) if isinstance(value, list) else ()


def parse_preview(document: Mapping[str, Any] | None, exit_code: int | None = 0) -> PreviewResult:
    """The preview digest reduced to counts, changed resources and errors.

    `changeSummary` (the engine's own totals) gives the counts; without it (a preview that failed before
    its summary) the steps are counted. A missing or malformed document gives an empty result whose
    `notes` say so, never an exception: the comment still shows the rest."""
    if document is None:
        return PreviewResult(counts={}, exit_code=exit_code, notes=("no preview output",))
    notes: list[str] = []
    raw_steps: object = document.get("steps") or []
    steps: list[Mapping[str, Any]] = []
    if isinstance(raw_steps, list):
        steps = [cast("Mapping[str, Any]", s) for s in cast("list[object]", raw_steps) if isinstance(s, Mapping)]
    else:
        notes.append("steps is not a list")
    changes = tuple(
        StepChange(
            op=str(step.get("op")),
            type=urn_type_and_name(str(step.get("urn", "")))[0],
            name=urn_type_and_name(str(step.get("urn", "")))[1],
            reasons=_strings(step.get("replaceReasons")) or _strings(step.get("diffReasons")),
        )
        for step in steps
        if str(step.get("op")) not in UNCHANGED_OPS | COMPANION_OPS
        # The stack resource itself changes whenever its outputs do; it is not infrastructure.
        and urn_type_and_name(str(step.get("urn", "")))[0] != "pulumi:pulumi:Stack"
    )
    summary: object = document.get("changeSummary")
    counts: dict[str, int] = {}
    if isinstance(summary, Mapping):
        for op, n in cast("Mapping[object, object]", summary).items():
            if isinstance(n, int) and not isinstance(n, bool):
                counts[str(op)] = n
    else:
        for step in steps:
            op = str(step.get("op"))
            counts[op] = counts.get(op, 0) + 1
        if steps:
            notes.append("no changeSummary; counted from the steps")
    raw_diagnostics: object = document.get("diagnostics") or []
    found: dict[str, list[str]] = {"error": [], "warning": []}
    if isinstance(raw_diagnostics, list):
        for diagnostic in cast("list[object]", raw_diagnostics):
            if isinstance(diagnostic, Mapping):
                d = cast("Mapping[str, Any]", diagnostic)
                if d.get("severity") in found:
                    found[str(d["severity"])].append(" ".join(str(d.get("message", "")).split()))
    return PreviewResult(
        counts=counts,
        changes=changes,
        errors=tuple(found["error"]),
        warnings=tuple(found["warning"]),
        exit_code=exit_code,
        maybe_corrupt=document.get("maybeCorrupt") is True,
        notes=tuple(notes),
    )


KEPT_STEP_KEYS = ("op", "urn", "diffReasons", "replaceReasons")
MAX_DIAGNOSTIC_CHARS = 500


def reduce_preview(document: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a preview digest the comment reads, and nothing else.

    The digest also holds every resource's old and new state (inputs and outputs: endpoints, ARNs,
    anything a provider returns that is not marked secret) and the stack's config; the workflow uploads
    only this reduction as an artifact, which everyone who can read the repository can download."""
    steps: list[dict[str, Any]] = []
    raw_steps: object = document.get("steps")
    for step in cast("list[object]", raw_steps) if isinstance(raw_steps, list) else []:
        if isinstance(step, Mapping):
            s = cast("Mapping[str, Any]", step)
            steps.append({k: s[k] for k in KEPT_STEP_KEYS if k in s})
    diagnostics: list[dict[str, str]] = []
    raw_diagnostics: object = document.get("diagnostics")
    for diagnostic in cast("list[object]", raw_diagnostics) if isinstance(raw_diagnostics, list) else []:
        if isinstance(diagnostic, Mapping):
            d = cast("Mapping[str, Any]", diagnostic)
            if d.get("severity") in ("error", "warning"):
                diagnostics.append({"severity": str(d["severity"]), "message": str(d.get("message", ""))[:MAX_DIAGNOSTIC_CHARS]})
    reduced: dict[str, Any] = {"steps": steps, "diagnostics": diagnostics}
    if isinstance(document.get("changeSummary"), Mapping):
        reduced["changeSummary"] = dict(cast("Mapping[str, Any]", document["changeSummary"]))
    if document.get("maybeCorrupt") is True:
        reduced["maybeCorrupt"] = True
    return reduced
