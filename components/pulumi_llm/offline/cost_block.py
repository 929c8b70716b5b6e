"""The plan's cost block: a short human summary per served model and per stack, from summary.json.

`pulumi-llm plan` printed each model's cost as a raw dict of ~1,300 characters (issue 19). This renders the
figures a person decides on — instance, GPUs, tensor parallelism, context, concurrency, throughput, monthly
cost min–max, $/1M tokens and the break-even against the closest API price — in lines of at most 100
characters; summary.json keeps the full detail. Pure: a summary dict in, text out (the golden tests render
recorded summaries, tests/unit/test_cost_block.py).
"""

from __future__ import annotations

import textwrap
from typing import Any

from ..sizing._common import fmt_tokens, fmt_usd
from .words import plural

WIDTH = 100
"""The widest line the block prints."""

_LABEL = 13
"""Width of the label column of a model's lines (`  monthly    `)."""

_BOLD, _YELLOW, _RESET = "\033[1m", "\033[33m", "\033[0m"


def _money(low: float, high: float) -> str:
    return fmt_usd(low) if round(low, 2) == round(high, 2) else f"{fmt_usd(low)} – {fmt_usd(high)}"


def _per_m(low: float, high: float) -> str:
    return f"${low:.2f}" if round(low, 2) == round(high, 2) else f"${low:.2f} – ${high:.2f}"


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def _wrap(label: str, text: str, indent: int = 4) -> list[str]:
    """`label` in its column, `text` wrapped to WIDTH under the column."""
    head = " " * indent + label.ljust(_LABEL)
    return textwrap.wrap(text, WIDTH, initial_indent=head, subsequent_indent=" " * len(head), break_on_hyphens=False) or [head]


def _headline(model: dict[str, Any]) -> str:
    hw: dict[str, Any] = model["hardware"]
    gpus = f"{hw['gpu_count']}× {hw['accelerator']}"
    where = f"{hw['instance_type']} ({gpus})" if hw["instance_type"] else gpus
    tp = model["throughput"]
    return (
        f"{model['precision']} on {where}, TP {model['tensor_parallel_size']}, context {model['max_model_len']:,}, "
        f"{tp['concurrency']} concurrent, ~{tp['total_tokens_per_s']:,.0f} tok/s "
        f"({tp['output_tokens_per_s']:,.0f} output) per replica"
    )


def _spot(cost: dict[str, Any]) -> str:
    spot: dict[str, Any] = cost["spot"]
    lo, hi = spot["share_at_min"], spot["share_at_max"]
    # At max replicas, from as few to as many on spot as the rule allows (summaries before it: as few).
    up_to = spot.get("share_at_max_up_to", hi)
    if lo == hi == up_to == 0:
        return f"none ({spot['basis']})"
    at_max = _pct(hi) if hi == up_to else f"{_pct(hi)}–{_pct(up_to)}"
    share = _pct(lo) if lo == hi == up_to else f"{_pct(lo)} at min, {at_max} at max"
    return f"{share} of replicas ({spot['basis']}), priced {_pct(spot['discount'])} off list (assumed {spot['discount_as_of']})"


def _break_even(cost: dict[str, Any]) -> str:
    be: dict[str, Any] = cost["break_even"]
    api = f"{be['api']} ({be['why']}, ${be['api_per_million']:.2f}/1M)"
    if be["tokens_per_month"] is None:
        return f"none: {api} is cheaper at every volume"
    return f"above {fmt_tokens(be['tokens_per_month'])} tokens/month against {api}"


def _model_lines(model: dict[str, Any], color: bool) -> list[str]:
    name = model["served_name"]
    replicas: dict[str, int] = model["replicas"]
    span = str(replicas["min"]) if replicas["min"] == replicas["max"] else f"{replicas['min']}–{replicas['max']}"
    title = f"  {_BOLD}{name}{_RESET}" if color else f"  {name}"
    lines = [f"{title}  ({plural(replicas['max'], 'replica') if replicas['min'] == replicas['max'] else span + ' replicas'})"]
    lines += _wrap("sized", _headline(model))
    cost: dict[str, Any] | None = model.get("cost")
    if cost is None or "list_monthly_min" not in cost:
        lines += _wrap("cost", "no list price: on-prem or edge hardware (summary.json has the sizing)")
        return lines
    lines += _wrap(
        "monthly",
        f"{_money(cost['monthly_min'], cost['monthly_max'])}  (on-demand list "
        f"{_money(cost['list_monthly_min'], cost['list_monthly_max'])} at 730 h, "
        f"{fmt_usd(cost['price_per_hour'])}/h in {cost['region_priced']}, as of {cost['price_as_of']})",
    )
    hours = f"{cost['hours_per_month']:,.0f} h/month"
    lines += _wrap("runs", f"{hours}, {cost['schedule']}" if cost["schedule"] else f"{hours}, always on")
    lines += _wrap("spot", _spot(cost))
    low, high = sorted(cost["per_million_tokens_effective"])
    lines += _wrap(
        "$/1M tokens",
        f"{_per_m(low, high)} (on-demand list ${cost['per_million_tokens']:.2f}) at "
        f"{_pct(cost['utilization'])} of peak, {cost['token_mix']} input:output",
    )
    lines += _wrap("break-even", _break_even(cost))
    if cost["region_price_flag"]:
        flagged = _wrap("! region", cost["region_price_flag"])
        lines += [f"{_YELLOW}{line}{_RESET}" for line in flagged] if color else flagged
    return lines


def _gateway_line(gateway: dict[str, Any]) -> list[str]:
    """The gateway's instances, what they scale on and their list price (summary.json `gateway`, gateway/sizing.py)."""
    instances, instance, cost = gateway["instances"], gateway["instance"], gateway["cost"]
    low, high = instances["min"], instances["max"]
    count = str(low) if low == high else f"{low}–{high}"
    text = (
        f"{_money(cost['monthly_min'], cost['monthly_max'])} a month for {count} × {instance['what']} "
        f"({instance['vcpu']:g} vCPU, {instance['memory_gib']:g} GiB) autoscaled on concurrent streams (target "
        f"{gateway['autoscaling']['target']:,}) for {gateway['load']['concurrent_streams']:,} expected; list price, "
        f"{cost['region_priced']}, as of {cost['price_as_of']}"
    )
    return _wrap("gateway", text, indent=2)


def render_cost_block(summary: dict[str, Any], *, color: bool = False) -> str:
    """The cost block of one plan's summary.json; "" when the stack serves no model and has no gateway. `color` adds ANSI bold
    and yellow (the CLI passes it only when stdout is a terminal)."""
    sizing: list[dict[str, Any]] = summary.get("sizing") or []
    gateway: dict[str, Any] | None = summary.get("gateway")
    if not sizing and not gateway:
        return ""
    stack_cost: dict[str, Any] | None = summary.get("cost")
    where = f"{summary['cloud']} {summary['region']}" if summary.get("region") else summary["cloud"]
    priced = f", priced in {', '.join(stack_cost['regions_priced'])}" if stack_cost else ""
    head = f"Sizing and cost of {summary['stack']} ({where}{priced}; USD estimates, detail in summary.json)"
    lines = [f"{_BOLD}{line}{_RESET}" if color else line for line in textwrap.wrap(head, WIDTH, subsequent_indent="  ")]
    for model in sizing:
        lines += _model_lines(model, color)
    if stack_cost:
        total = (
            f"{_money(stack_cost['monthly_min'], stack_cost['monthly_max'])} a month for "
            f"{plural(stack_cost['models'], 'model')} (on-demand list "
            f"{_money(stack_cost['list_monthly_min'], stack_cost['list_monthly_max'])}); model servers only: "
            f"gateway, network, egress and the rest are left out (summary.json lists them)"
        )
        lines += _wrap("stack", total, indent=2)
    if gateway:
        lines += _gateway_line(gateway)
    return "\n".join(lines)
