"""The pull request comment: what the PR changes in every stack, against its base branch.

Per stack: the monthly cost min–max of its models and its change against the base branch, every model's
sizing (instance, GPUs, precision, tensor parallelism, context, replicas, concurrency, throughput, cost)
with what changed marked, the resources `pulumi preview --json` would create, update, replace or delete
(ci_preview), and the results of `pulumi-llm verify` and of the CrossGuard pack (policy/) on the PR's
offline plan. Stacks with nothing to show collapse to one line; details sit in <details>.

The inputs are the plans' summary.json documents (`pulumi-llm plan --all --out DIR`, one per stack, of
the PR and of its base branch), read defensively: a field a summary lacks is shown as "–", never a
failure, so a base branch with an older summary format still renders. Pure and standard library only:
the job that posts the comment (the only one holding `pull-requests: write`) installs no package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from .ci_preview import SHOWN_OPS, PreviewResult

MARKER = "<!-- pulumi-llm:preview -->"
"""First line of the comment: how the workflow finds its previous comment to update in place."""
MAX_CHARS = 60_000
"""GitHub refuses an issue comment over 65,536 characters; past this the per-stack details are dropped."""
MAX_LISTED = 30
"""Changed resources, resource types and check lines listed per stack before "… N more"."""
DASH = "–"

Summary = Mapping[str, Any]
"""One stack's summary.json."""


@dataclass(frozen=True)
class StackChecks:
    """The checks run on one stack's offline plan of the PR."""

    verify: tuple[str, ...] = ()
    """`pulumi-llm verify` errors, one line each (resource: rule: why)."""
    verify_warnings: tuple[str, ...] = ()
    policy: tuple[str, ...] = ()
    """CrossGuard pack (policy/) violations on the offline plan's resources, one line each (rule: why)."""
    ran: bool = True
    """False when the checks could not run (the PR's plan of the stack failed)."""

    @property
    def clean(self) -> bool:
        return self.ran and not self.verify and not self.policy


# ---------------------------------------------------------------- reading a summary


def _dict(value: object) -> Mapping[str, Any]:
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return cast("list[Any]", value) if isinstance(value, list) else []


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def models(summary: Summary | None) -> dict[str, Mapping[str, Any]]:
    """The summary's sizing entries by served model name."""
    found: dict[str, Mapping[str, Any]] = {}
    for entry in _list(_dict(summary).get("sizing")):
        model = _dict(entry)
        name = str(model.get("served_name") or _dict(model.get("model")).get("key") or f"model {len(found) + 1}")
        found[name] = model
    return found


@dataclass(frozen=True)
class Cost:
    """A stack's (or a model's) monthly cost range."""

    low: float
    high: float
    currency: str

    def shown(self) -> str:
        return _range(self.low, self.high, self.currency)


def model_cost(model: Mapping[str, Any]) -> Cost | None:
    cost = _dict(model.get("cost"))
    low, high = _number(cost.get("monthly_min")), _number(cost.get("monthly_max"))
    if low is None or high is None:
        return None
    return Cost(low, high, str(cost.get("currency") or "USD"))


def _summed(summary: Summary | None, low_key: str, high_key: str) -> Cost | None:
    """The stack's `cost` block's range under these keys, else the sum of its models' (older summaries)."""
    total = _dict(_dict(summary).get("cost"))
    low, high = _number(total.get(low_key)), _number(total.get(high_key))
    if low is not None and high is not None:
        return Cost(low, high, str(total.get("currency") or "USD"))
    costs: list[Cost] = []
    for model in models(summary).values():
        cost = _dict(model.get("cost"))
        m_low, m_high = _number(cost.get(low_key)), _number(cost.get(high_key))
        if m_low is not None and m_high is not None:
            costs.append(Cost(m_low, m_high, str(cost.get("currency") or "USD")))
    if not costs:
        return None
    currencies = {c.currency for c in costs}
    currency = costs[0].currency if len(currencies) == 1 else "/".join(sorted(currencies))
    return Cost(sum(c.low for c in costs), sum(c.high for c in costs), currency)


def stack_cost(summary: Summary | None) -> Cost | None:
    """The stack's monthly cost as it deploys (its region, schedule and spot share: summary.json `cost`,
    else the sum of its models' `sizing[].cost`); None when nothing is priced (on-prem, edge, gateway only)."""
    return _summed(summary, "monthly_min", "monthly_max")


def list_cost(summary: Summary | None) -> Cost | None:
    """The same capacity at on-demand list prices for every hour (`list_monthly_min/max`), if the summary has it."""
    return _summed(summary, "list_monthly_min", "list_monthly_max")


def price_flags(summary: Summary | None) -> list[str]:
    """Why the stack's price may not match where it deploys (a region with no catalog price)."""
    return [str(f) for f in _list(_dict(_dict(summary).get("cost")).get("region_price_flags"))]


def _money(amount: float, currency: str, signed: bool = False) -> str:
    sign = ("+" if amount >= 0.5 else "-" if amount <= -0.5 else "±") if signed else ("-" if amount < 0 else "")
    value = f"{abs(amount):,.0f}"
    return f"{sign}${value}" if currency == "USD" else f"{sign}{value} {currency}"


def _range(low: float, high: float, currency: str) -> str:
    return _money(low, currency) if round(low) == round(high) else f"{_money(low, currency)}–{_money(high, currency)}"


def cost_delta(base: Cost | None, pr: Cost | None) -> str:
    """The PR's cost against the base's: "+$0 / +$30,638" (min / max), "new", "removed", or "–"."""
    if base is None and pr is None:
        return DASH
    if base is None:
        return "new"
    if pr is None:
        return "removed"
    d_low, d_high = pr.low - base.low, pr.high - base.high
    if round(d_low) == 0 and round(d_high) == 0:
        return "±$0" if pr.currency == "USD" else f"±0 {pr.currency}"
    return f"{_money(d_low, pr.currency, signed=True)} / {_money(d_high, pr.currency, signed=True)}"


def _instance(m: Mapping[str, Any]) -> str:
    hw = _dict(m.get("hardware"))
    return str(hw.get("instance_type") or hw.get("accelerator") or DASH)


def _gpus(m: Mapping[str, Any]) -> str:
    hw = _dict(m.get("hardware"))
    count, accelerator = hw.get("gpu_count"), hw.get("accelerator")
    if count is None and accelerator is None:
        return DASH
    return f"{count if count is not None else '?'}× {accelerator or 'GPU'}"


def _context(m: Mapping[str, Any]) -> str:
    value = _number(m.get("context_deployed")) or _number(m.get("max_model_len"))
    if value is None:
        return DASH
    capped = " (capped)" if m.get("context_capped") is True else ""
    return f"{value:,.0f}{capped}"


def _replicas(m: Mapping[str, Any]) -> str:
    replicas = _dict(m.get("replicas"))
    low, high = replicas.get("min"), replicas.get("max")
    if low is None and high is None:
        return DASH
    return str(low) if low == high else f"{low}–{high}"


def _throughput(m: Mapping[str, Any]) -> str:
    value = _number(_dict(m.get("throughput")).get("output_tokens_per_s"))
    return DASH if value is None else f"{value:,.0f}"


def _plain(key: str) -> Callable[[Mapping[str, Any]], str]:
    def read(m: Mapping[str, Any]) -> str:
        value = m.get(key)
        return DASH if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    return read


def _cost_column(m: Mapping[str, Any]) -> str:
    cost = model_cost(m)
    return DASH if cost is None else cost.shown()


SIZING_COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("instance", _instance),
    ("GPUs", _gpus),
    ("precision", _plain("precision")),
    ("TP", _plain("tensor_parallel_size")),
    ("context", _context),
    ("replicas", _replicas),
    ("concurrency", _plain("max_num_seqs")),
    ("out tok/s per replica", _throughput),
    ("monthly", _cost_column),
)
"""The sizing table's columns: (heading, how a model's summary.json sizing entry shows in it)."""


def sizing_changes(base: Mapping[str, Any] | None, pr: Mapping[str, Any] | None) -> dict[str, tuple[str, str]]:
    """The sizing columns whose value differs between the base's and the PR's entry: {column: (base, pr)}."""
    if base is None or pr is None:
        return {}
    return {name: (read(base), read(pr)) for name, read in SIZING_COLUMNS if read(base) != read(pr)}


# ---------------------------------------------------------------- rendering


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def _code(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`"


def _resource_total(summary: Summary | None) -> int | None:
    total = _dict(_dict(summary).get("resources")).get("total")
    return total if isinstance(total, int) else None


def _by_type(summary: Summary | None) -> dict[str, int]:
    return {str(k): v for k, v in _dict(_dict(summary).get("resources")).get("byType", {}).items() if isinstance(v, int)}


def _preview_cell(preview: PreviewResult | None) -> str:
    if preview is None:
        return "not run"
    if preview.failed:
        code = f" (exit {preview.exit_code})" if preview.exit_code else ""
        return f"❌ failed{code}"
    marks = {"create": "+", "update": "~", "replace": "±", "delete": "-"}
    shown = " ".join(f"{marks[op]}{preview.counts.get(op, 0)}" for op in SHOWN_OPS)
    other = preview.changed - sum(preview.counts.get(op, 0) for op in SHOWN_OPS)
    return shown + (f" ({other} other)" if other > 0 else "")


def _checks_cell(lines: Sequence[str], ran: bool) -> str:
    if not ran:
        return "not run"
    return "✅" if not lines else f"❌ {len(lines)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _more(items: Sequence[str], limit: int = MAX_LISTED) -> list[str]:
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"… {len(items) - limit} more")
    return shown


@dataclass(frozen=True)
class _Stack:
    name: str
    base: Summary | None
    pr: Summary | None
    in_base: bool
    in_pr: bool
    preview: PreviewResult | None
    checks: StackChecks | None

    @property
    def cloud(self) -> str:
        summary = _dict(self.pr or self.base)
        where = " ".join(str(summary[k]) for k in ("cloud", "region") if summary.get(k))
        return where or DASH

    def changed(self) -> bool:
        """Anything worth a reader's look: a difference against the base, a preview change, a failed check."""
        if self.in_base != self.in_pr or self.pr is None or (self.in_base and self.base is None):
            return True
        if self.preview is not None and (self.preview.failed or self.preview.changed):
            return True
        if self.checks is not None and not self.checks.clean:
            return True
        if _by_type(self.base) != _by_type(self.pr) or stack_cost(self.base) != stack_cost(self.pr):
            return True
        base_models, pr_models = models(self.base), models(self.pr)
        return set(base_models) != set(pr_models) or any(sizing_changes(base_models[n], pr_models[n]) for n in pr_models)


def _state(stack: _Stack) -> str:
    if not stack.in_base:
        return " (new stack)"
    if not stack.in_pr:
        return " (stack removed)"
    if stack.pr is None:
        return " (plan failed)"
    if stack.base is None:
        return " (base plan failed)"
    return ""


def _overview_row(stack: _Stack) -> str:
    base_cost, pr_cost = stack_cost(stack.base), stack_cost(stack.pr)
    changed_models = [n for n, m in models(stack.pr).items() if n not in models(stack.base) or sizing_changes(models(stack.base)[n], m)]
    model_count = len(models(stack.pr))
    model_cell = f"{model_count}" + (f" ({len(changed_models)} changed)" if changed_models and stack.base is not None else "")
    checks = stack.checks
    cells = [
        f"**{stack.name}**{_state(stack)}",
        stack.cloud,
        pr_cost.shown() if pr_cost else DASH,
        cost_delta(base_cost, pr_cost) if stack.in_base and stack.base is not None else "new" if not stack.in_base else DASH,
        model_cell if stack.pr is not None else DASH,
        _preview_cell(stack.preview),
        _checks_cell(checks.verify, checks.ran) if checks else "not run",
        _checks_cell(checks.policy, checks.ran) if checks else "not run",
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _sizing_table(stack: _Stack) -> list[str]:
    base_models, pr_models = models(stack.base), models(stack.pr)
    names = [*pr_models, *(n for n in base_models if n not in pr_models)]
    if not names:
        return []
    lines = [
        "| model | " + " | ".join(h for h, _ in SIZING_COLUMNS) + " |",
        "|---|" + "---|" * len(SIZING_COLUMNS),
    ]
    for name in names:
        base, pr = base_models.get(name), pr_models.get(name)
        if pr is None:
            lines.append(f"| ~~{_cell(name)}~~ (removed) |" + f" {DASH} |" * len(SIZING_COLUMNS))
            continue
        changes = sizing_changes(base, pr)
        cells: list[str] = []
        for heading, read in SIZING_COLUMNS:
            if heading in changes:
                old, new = changes[heading]
                cells.append(f"{old} → **{new}**")
            else:
                cells.append(read(pr))
        label = _cell(name) + (" (new)" if base is None and stack.base is not None else "")
        lines.append(f"| {label} | " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _type_changes(stack: _Stack) -> list[str]:
    base, pr = _by_type(stack.base), _by_type(stack.pr)
    rows = [f"| {_code(t)} | {base.get(t, 0)} | {pr.get(t, 0)} |" for t in sorted(set(base) | set(pr)) if base.get(t, 0) != pr.get(t, 0)]
    if not rows:
        return []
    return ["| resource type | base | PR |", "|---|---|---|", *_more(rows)]


def _details(stack: _Stack) -> list[str]:
    body: list[str] = []
    base_total, pr_total = _resource_total(stack.base), _resource_total(stack.pr)
    if pr_total is not None:
        delta = "" if base_total is None or base_total == pr_total else f" ({pr_total - base_total:+d} against base {base_total})"
        body.append(f"Offline plan: {pr_total} resources{delta}.")
        body.extend(["", *_type_changes(stack)] if _type_changes(stack) else [])
    preview = stack.preview
    if preview is not None:
        body.append("")
        if preview.changes:
            body.append(f"`pulumi preview` changes {_count(preview.changed, 'resource')}:")
            body.extend(
                _more(
                    [
                        f"- {c.op} {_code(c.type)} {_code(c.name)}" + (f" ({', '.join(c.reasons[:6])})" if c.reasons else "")
                        for c in preview.changes
                    ]
                )
            )
        elif not preview.failed:
            body.append("`pulumi preview`: no changes.")
        body.extend(f"- preview error: {_cell(e)}" for e in _more(preview.errors, 5))
        body.extend(f"- preview warning: {_cell(w)}" for w in _more(preview.warnings, 5))
        if preview.exit_code:
            body.append(f"- the preview exited {preview.exit_code}; a mandatory policy violation shows in the job log")
        body.extend(f"- note: {n}" for n in preview.notes)
    checks = stack.checks
    if checks is not None and checks.ran:
        body.append("")
        body.append("`pulumi-llm verify`: " + ("clean." if not checks.verify else f"{_count(len(checks.verify), 'violation')}:"))
        body.extend(f"- {_cell(v)}" for v in _more(checks.verify))
        body.extend(f"- warning: {_cell(v)}" for v in _more(checks.verify_warnings, 5))
        body.append(
            "Policy pack on the offline plan: " + ("clean." if not checks.policy else f"{_count(len(checks.policy), 'violation')}:")
        )
        body.extend(f"- {_cell(v)}" for v in _more(checks.policy))
    if not body:
        return []
    return ["", f"<details><summary>{stack.name}: plan, preview and checks</summary>", "", *body, "", "</details>"]


def _stack_section(stack: _Stack, with_details: bool) -> list[str]:
    lines = ["", f"#### {stack.name} ({stack.cloud}){_state(stack)}"]
    base_cost, pr_cost = stack_cost(stack.base), stack_cost(stack.pr)
    if pr_cost is not None or base_cost is not None:
        lines.append("")
        base_shown = base_cost.shown() if base_cost else DASH
        pr_shown = pr_cost.shown() if pr_cost else DASH
        lines.append(f"Monthly cost (min–max): {base_shown} → **{pr_shown}** ({cost_delta(base_cost, pr_cost)} min / max).")
        base_list, pr_list = list_cost(stack.base), list_cost(stack.pr)
        if pr_list is not None and pr_list != pr_cost:
            base_list_shown = base_list.shown() if base_list else DASH
            lines[-1] += f" On-demand list for every hour: {base_list_shown} → {pr_list.shown()}."
        lines.extend(f"- ⚠️ {_cell(flag)}" for flag in price_flags(stack.pr))
    table = _sizing_table(stack)
    if table:
        lines.extend(["", *table])
    if with_details:
        lines.extend(_details(stack))
    return lines


def render_pr_comment(
    base_plans: Mapping[str, Summary | None],
    pr_plans: Mapping[str, Summary | None],
    previews: Mapping[str, PreviewResult],
    verify_results: Mapping[str, StackChecks],
) -> str:
    """The comment's markdown, starting with MARKER.

    base_plans / pr_plans: every stack of the base branch / the PR → its summary.json, or None when its
    plan failed. previews: stack → its parsed `pulumi preview --json` (stacks not previewed are left out:
    forks, a failed plan job). verify_results: stack → the checks of the PR's offline plan."""
    names = sorted(set(base_plans) | set(pr_plans))
    stacks = [
        _Stack(
            name=n,
            base=base_plans.get(n),
            pr=pr_plans.get(n),
            in_base=n in base_plans,
            in_pr=n in pr_plans,
            preview=previews.get(n),
            checks=verify_results.get(n),
        )
        for n in names
    ]
    changed = [s for s in stacks if s.changed()]
    unchanged = [s.name for s in stacks if not s.changed()]
    base_total = [c for s in stacks if s.in_base and (c := stack_cost(s.base))]
    pr_total = [c for s in stacks if s.in_pr and (c := stack_cost(s.pr))]

    head = [MARKER, "### pulumi-llm: what this pull request changes", ""]
    if not stacks:
        return "\n".join([*head, "No stack files (stacks/Pulumi.<stack>.yaml) in the base branch or the PR."]) + "\n"
    head.append(f"**{len(changed)} of {len(stacks)} stacks change.**")
    if base_total or pr_total:
        currencies = {c.currency for c in [*base_total, *pr_total]}
        if len(currencies) == 1:
            currency = currencies.pop()
            low_b, high_b = sum(c.low for c in base_total), sum(c.high for c in base_total)
            low_p, high_p = sum(c.low for c in pr_total), sum(c.high for c in pr_total)
            base_all, pr_all = Cost(low_b, high_b, currency), Cost(low_p, high_p, currency)
            head[-1] += (
                f" Models' monthly cost, all stacks: {base_all.shown()} → **{pr_all.shown()}** ({cost_delta(base_all, pr_all)} min / max)."
            )
    lines = list(head)
    if changed:
        lines.extend(
            [
                "",
                "| stack | cloud | monthly cost (min–max) | Δ against base (min / max) | models | preview +create ~update ±replace -delete | verify | policy |",
                "|---|---|---|---|---|---|---|---|",
                *(_overview_row(s) for s in changed),
            ]
        )
    if unchanged:
        lines.extend(
            ["", f"Unchanged ({len(unchanged)}): {', '.join(unchanged)} — same plan, cost and sizing; no preview changes; checks clean."]
        )
    footer = [
        "",
        "<sub>Cost: the models' GPU capacity priced as each stack deploys (its region, schedule and spot share; "
        "summary.json `cost` and `sizing[].cost`, with the excluded costs), min at minimum replicas, max at maximum. "
        "Plans: `pulumi-llm plan --all` offline of this PR and of its base branch. Updated in place on every push.</sub>",
    ]
    sections = [line for s in changed for line in _stack_section(s, with_details=True)]
    text = "\n".join([*lines, *sections, *footer]) + "\n"
    if len(text) > MAX_CHARS:
        sections = [line for s in changed for line in _stack_section(s, with_details=False)]
        note = ["", "<sub>Details left out: the comment would exceed GitHub's size limit; see the workflow run.</sub>"]
        text = "\n".join([*lines, *sections, *note, *footer]) + "\n"
    return text
