"""`pulumi-llm size` and `pulumi-llm compare`: argparse sub-commands over `pulumi_llm.sizing`.

Wiring: `add_parsers(subparsers)` registers both commands; each sets `handler` in its defaults, a
function `handler(args) -> int` that prints with rich and returns the exit code. Bad input raises
`pulumi_llm.errors.UserError`, which the main CLI prints as `pulumi-llm: <message>` and exits 2.
`rich` and `matplotlib` are imported inside the handlers only.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_llm.errors import UserError

if TYPE_CHECKING:
    from rich.console import Console

    from pulumi_llm.sizing import Comparison, FitResult


def add_parsers(subparsers: Any) -> None:
    """Register `size` and `compare` on an argparse sub-parsers object."""
    size = subparsers.add_parser(
        "size",
        help="will a model fit, with which vLLM settings, how fast, at what cost",
        description=(
            "Size MODEL on an instance type, on N GPUs of a kind, on a CPU host, or on the cheapest type "
            "of a cloud and region that fits (default: AWS us-east-1)."
        ),
    )
    size.add_argument("model", help="catalog model key, e.g. llama-3.1-8b-instruct")
    size.add_argument("--instance", metavar="TYPE", help="cloud instance type, e.g. g6e.xlarge")
    size.add_argument("--gpu", metavar="GPU", help="accelerator key, e.g. H100-80GB, L4, AGX-Orin-64GB")
    size.add_argument("--count", metavar="N", help="number of --gpu devices (default 1)")
    size.add_argument("--cpu-ram", metavar="GIB", help="size for a CPU-only host with this much RAM")
    size.add_argument("--context", metavar="N", help="context length to serve (default: the model's maximum)")
    size.add_argument("--quant", metavar="Q", help="weight precision/quantization: bf16, fp8, awq, q4_k_m, …")
    size.add_argument("--kv-cache-dtype", metavar="D", help="KV-cache dtype (vLLM: auto, fp8; llama.cpp: f16, q8_0, q4_0)")
    size.add_argument("--runtime", default="vllm", help="vllm (default), triton or llamacpp")
    size.add_argument("--cloud", help="aws, gcp or azure: choose the cheapest type that fits there")
    size.add_argument("--region", help="region of --cloud (default: the cloud's price region)")
    size.add_argument("--gpu-memory-utilization", metavar="F", help="share of device memory for the server (default 0.90)")
    size.add_argument("--replicas", metavar="MIN[:MAX]", default="1", help="replica range for the monthly cost (default 1)")
    size.set_defaults(handler=handle_size)

    compare = subparsers.add_parser(
        "compare",
        help="self-hosting vs LLM API providers, per month, with break-even volumes",
        description=(
            "Price MODEL self-hosted on the cheapest fitting types of each cloud against comparable API "
            "models at a monthly token volume (input + output tokens)."
        ),
    )
    compare.add_argument("--stack", help="compare every model a stack serves (stacks/Pulumi.STACK.yaml), at its settings")
    compare.add_argument("--model", help="catalog model key (required without --stack)")
    compare.add_argument("--tokens-per-month", metavar="N", help="input + output tokens per month, e.g. 500M, 2e9 (required)")
    compare.add_argument(
        "--plot",
        metavar="FILE.png",
        nargs="?",
        const="",
        help="also draw monthly cost against monthly volume (default file: out/compare-MODEL.png, or out/compare-STACK.png)",
    )
    compare.add_argument("--quant", metavar="Q", help="weight precision/quantization (default: the checkpoint's)")
    compare.add_argument("--context", metavar="N", help="context length to serve (default 8192)")
    compare.add_argument("--cloud", action="append", help="only this cloud (repeatable; default: aws, gcp, azure)")
    compare.add_argument("--region", help="region, with exactly one --cloud")
    compare.add_argument("--mix", default="3:1", help="input:output token mix (default 3:1)")
    compare.add_argument("--utilization", metavar="F", help="average load of a server vs its peak (default 0.6)")
    compare.add_argument("--replicas", metavar="MIN[:MAX]", default="1", help="replica bounds (default 1, no maximum)")
    compare.set_defaults(handler=handle_compare)


# ---------------------------------------------------------------------------------------------
# Argument parsing helpers (UserError on bad values, so every message is one line)
# ---------------------------------------------------------------------------------------------

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
MAX_TOKENS_PER_MONTH = 1e15
"""A quadrillion tokens a month: far above any one deployment, below where a typo (1e30) makes every cost infinite."""


def parse_tokens(text: str, flag: str = "--tokens-per-month") -> float:
    """'500M' → 5e8; also '2e9', '1,000,000', '750k', '1.5B', '2T'."""
    match = re.fullmatch(r"\s*([0-9][0-9_,]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmbgt]?)\s*", text.lower())
    if not match:
        raise UserError(f"{flag} must be a number of tokens such as 500M, 2B or 2e9, not '{text}'")
    value = float(match.group(1).replace(",", "").replace("_", "")) * _SUFFIX.get(match.group(2), 1)
    if value <= 0 or not math.isfinite(value):
        raise UserError(f"{flag} must be positive, not '{text}'")
    if value > MAX_TOKENS_PER_MONTH:
        raise UserError(f"{flag} must be at most {MAX_TOKENS_PER_MONTH:.0e} tokens, not '{text[:200]}'")
    return value


def _int(text: str | None, flag: str, minimum: int = 1, maximum: int | None = None) -> int | None:
    if text is None:
        return None
    try:
        value = int(str(text).replace(",", "").replace("_", ""))
    except ValueError:
        raise UserError(f"{flag} must be a whole number, not '{text}'") from None
    if value < minimum:
        raise UserError(f"{flag} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise UserError(f"{flag} must be at most {maximum}, not {str(value)[:200]}")
    return value


def _float(text: str | None, flag: str, low: float, high: float) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{flag} must be a number, not '{text}'") from None
    if not (low < value <= high):
        raise UserError(f"{flag} must be above {low:g} and at most {high:g}, not {value:g}")
    return value


def _replicas(text: str, *, open_max: bool) -> tuple[int, int | None]:
    match = re.fullmatch(r"\s*(\d+)\s*(?::\s*(\d+)\s*)?", text)
    if not match:
        raise UserError(f"--replicas must be MIN or MIN:MAX (e.g. 1:3), not '{text}'")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else (None if open_max else max(low, 1))
    if high is not None and (high < 1 or high < low):
        raise UserError(f"--replicas needs MIN <= MAX and MAX >= 1, not '{text}'")
    from pulumi_llm.settings.models import MAX_REPLICAS  # here: the settings load pydantic, which size and compare may not need

    if max(low, high or 0) > MAX_REPLICAS:
        raise UserError(f"--replicas must be at most {MAX_REPLICAS}, not '{text[:200]}'")
    return low, high


def _console() -> Console:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 140, highlight=False)


# ---------------------------------------------------------------------------------------------
# size
# ---------------------------------------------------------------------------------------------


def handle_size(args: argparse.Namespace) -> int:
    """Print fit, memory, vLLM settings, throughput and cost of a model on some hardware."""
    from pulumi_llm import sizing as s
    from pulumi_llm.sizing import fit  # the function: checkers read `s.fit` as the submodule of that name

    model = s.get_model(args.model)
    from pulumi_llm.settings.models import MAX_CONTEXT, MAX_GPUS_PER_REPLICA

    count = _int(args.count, "--count", maximum=MAX_GPUS_PER_REPLICA)
    cpu_ram = _float(args.cpu_ram, "--cpu-ram", 0, 1e6)
    context = _int(args.context, "--context", maximum=MAX_CONTEXT)
    util = _float(args.gpu_memory_utilization, "--gpu-memory-utilization", 0, 1)
    if util is not None and util < 0.1:
        raise UserError(f"--gpu-memory-utilization must be between 0.1 and 1, not {util:g}")
    util = s.DEFAULT_GPU_MEMORY_UTILIZATION if util is None else util
    min_r, max_r = _replicas(args.replicas, open_max=False)
    runtime = s.get_runtime(args.runtime)

    if args.instance and (args.gpu or cpu_ram is not None):
        raise UserError("--instance cannot be combined with --gpu or --cpu-ram")
    if args.gpu and cpu_ram is not None:
        raise UserError("--gpu and --cpu-ram exclude each other")
    if count is not None and not args.gpu:
        raise UserError("--count needs --gpu")
    if (args.gpu or cpu_ram is not None) and (args.cloud or args.region):
        raise UserError("--cloud and --region pick cloud instance types; they do not apply to --gpu or --cpu-ram")

    cloud = s.get_cloud(args.cloud) if args.cloud else None
    region = args.region
    common: dict[str, Any] = {
        "quantization": args.quant,
        "context": context,
        "runtime": runtime,
        "kv_cache_dtype": args.kv_cache_dtype,
        "gpu_memory_utilization": util,
    }
    chosen_note = None
    if args.instance:
        itype = s.get_instance_type(args.instance, cloud, region and region.strip().lower())
        if region is not None:
            s.check_instance_region(itype, region.strip().lower())
        result = fit(model, itype, region=region, **common)
    elif args.gpu:
        result = fit(model, s.Hardware(s.get_accelerator(args.gpu), count or 1), **common)
    elif cpu_ram is not None:
        result = fit(model, s.Hardware(s.cpu_host(cpu_ram)), **common)
    else:
        if runtime == "llamacpp":
            raise UserError("--runtime llamacpp needs --gpu or --cpu-ram: cloud types are sized for vLLM/Triton")
        if cloud is None:
            cloud = s.infer_cloud(region) if region else "aws"
        where = s.check_region(cloud, region) if region else s.DEFAULT_REGION[cloud]
        result = s.choose_instance(model, cloud=cloud, region=where, **common)
        chosen_note = f"no --instance/--gpu given: the cheapest {cloud} type in {where} that fits was chosen"
    _print_size(result, min_r, max_r or 1, chosen_note, region)
    return 0


def _print_size(result: FitResult, min_r: int, max_r: int, chosen_note: str | None, region: str | None) -> None:
    from rich.table import Table

    from pulumi_llm import sizing as s
    from pulumi_llm.sizing._common import GB, fmt_usd

    con = _console()
    spec, hw, mem = result.model, result.hardware, result.memory
    con.print(
        f"[bold]{spec.key}[/bold] ({spec.name}) in {result.precision.key} on [bold]{hw.label}[/bold]: "
        f"fits, tensor parallel {result.tensor_parallel_size}"
    )
    if chosen_note:
        con.print(chosen_note)

    fit_t = Table(title="Fit", show_header=False)
    fit_t.add_column("what")
    fit_t.add_column("value")
    fit_t.add_row("Model", f"{spec.key}  ({spec.hf_repo or 'custom'}{', gated' if spec.gated else ''})")
    fit_t.add_row("Parameters", f"{spec.total_params_b:g} B total, {spec.resolved_active_params_b:g} B active")
    fit_t.add_row("Hardware", f"{hw.label}, {hw.accelerator.memory_gib:g} GiB each")
    fit_t.add_row("Runtime", result.runtime)
    fit_t.add_row("Weights", f"{result.precision.key} ({result.precision.label})")
    fit_t.add_row("KV cache dtype", f"{result.kv_dtype.key} ({result.kv_bytes_per_token:,} bytes/token)")
    fit_t.add_row("Context", f"{result.max_model_len:,} tokens (asked {result.requested_context:,}, model max {spec.max_context:,})")
    fit_t.add_row("KV cache holds", f"{result.kv_tokens:,} tokens")
    fit_t.add_row("Concurrent sequences", f"{result.max_num_seqs} at {min(2048, result.max_model_len):,} tokens each")
    con.print(fit_t)

    per = max(1, mem.gpus)
    mem_t = Table(title="Memory (GB = 10⁹ bytes)")
    mem_t.add_column("part")
    mem_t.add_column(f"all {mem.gpus} GPU(s)" if hw.accelerator.kind != "cpu" else "host", justify="right")
    mem_t.add_column("per GPU", justify="right")
    for label, value in (
        ("weights", mem.weights),
        ("runtime overhead", mem.overhead),
        ("KV cache", mem.kv_cache),
        (f"budget (× {result.gpu_memory_utilization:.2f})", mem.budget),
        ("device total", mem.device_total),
    ):
        mem_t.add_row(label, f"{value / GB:,.1f}", f"{value / per / GB:,.1f}")
    con.print(mem_t)

    flags = Table(title="vLLM settings" if result.vllm else "llama.cpp settings", show_header=False)
    flags.add_column("flag")
    flags.add_column("value")
    settings = result.vllm.as_dict() if result.vllm else result.llamacpp.as_dict()  # type: ignore[union-attr]
    for key, value in settings.items():
        flags.add_row(f"--{key.replace('_', '-')}", "(none)" if value is None else str(value))
    probe = s.startup_probe_budget(mem.weights)
    flags.add_row("startupProbe", f"{probe.failure_threshold} × {probe.period_seconds} s = {probe.seconds} s")
    con.print(flags)

    workload = s.workload_for(result)
    single = s.estimate_throughput(result, workload, concurrency=1)
    loaded = s.estimate_throughput(result, workload)
    tp_t = Table(title="Throughput (estimate)")
    tp_t.add_column("")
    tp_t.add_column("1 request", justify="right")
    tp_t.add_column(f"{loaded.concurrency} in flight", justify="right")
    tp_t.add_row("output tokens/s", f"{single.output_tokens_per_s:,.0f}", f"{loaded.output_tokens_per_s:,.0f}")
    tp_t.add_row("input+output tokens/s", f"{single.total_tokens_per_s:,.0f}", f"{loaded.total_tokens_per_s:,.0f}")
    tp_t.add_row("requests/s", f"{single.requests_per_s:,.2f}", f"{loaded.requests_per_s:,.2f}")
    tp_t.add_row("time to first token", f"{single.ttft_s:.2f} s", "")
    tp_t.add_row("time per output token", f"{single.tpot_s * 1000:,.0f} ms", f"{loaded.tpot_s * 1000:,.0f} ms")
    tp_t.add_row("limited by", single.bound, loaded.bound)
    con.print(tp_t)
    con.print("Assumptions:")
    con.print(loaded.format_assumptions(), markup=False)

    inst = hw.instance
    if inst is not None:
        monthly = s.monthly_stack_cost(inst, min_replicas=min_r, max_replicas=max_r)
        per_m = s.self_hosted_cost_per_million(inst.price_per_hour, loaded.total_tokens_per_s)
        cost_t = Table(title="Cost (USD, on-demand list price)", show_header=False)
        cost_t.add_column("what")
        cost_t.add_column("value")
        cost_t.add_row("Price", f"{fmt_usd(inst.price_per_hour)}/h — {inst.price_label}")
        span = f"{min_r}" if min_r == max_r else f"{min_r}–{max_r}"
        range_text = (
            fmt_usd(monthly.monthly_min) if min_r == max_r else (f"{fmt_usd(monthly.monthly_min)} – {fmt_usd(monthly.monthly_max)}")
        )
        cost_t.add_row(f"Per month ({span} replica(s), {s.HOURS_PER_MONTH} h)", range_text)
        cost_t.add_row(f"Per 1M tokens at {s.DEFAULT_UTILIZATION:.0%} load", fmt_usd(per_m))
        con.print(cost_t)
        con.print("Left out: " + "; ".join(monthly.excluded), markup=False)
        if region and region.strip().lower() != inst.price_region:
            con.print(f"Price read for {inst.price_region}; {region} may differ.")
    notes = [*result.notes, *probe.notes[1:]]
    if notes:
        con.print("Notes:")
        for note in notes:
            con.print(f"- {note}", markup=False)


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------


def handle_compare(args: argparse.Namespace) -> int:
    """Print self-hosted options vs API providers per month, with break-even volumes; optionally plot."""
    from pulumi_llm import sizing as s

    if args.stack:
        return _compare_stack(args)
    if not args.model:
        raise UserError("compare needs --model MODEL (or --stack STACK)")
    if not args.tokens_per_month:
        raise UserError("compare needs --tokens-per-month N (e.g. 500M)")
    model = s.get_model(args.model)
    tokens = parse_tokens(args.tokens_per_month)
    plot_path = _plot_path(args.plot, model.key) if args.plot is not None else None
    from pulumi_llm.settings.models import MAX_CONTEXT

    context = _int(args.context, "--context", maximum=MAX_CONTEXT)
    util = _float(args.utilization, "--utilization", 0, 1)
    mix = s.TokenMix.parse(args.mix)
    min_r, max_r = _replicas(args.replicas, open_max=True)
    clouds = tuple(args.cloud) if args.cloud else None
    if args.region and (not clouds or len(clouds) != 1):
        raise UserError("--region needs exactly one --cloud")
    comparison = s.compare_costs(
        model,
        tokens,
        quantization=args.quant,
        context=context,
        clouds=clouds,
        region=args.region,
        mix=mix,
        utilization=s.DEFAULT_UTILIZATION if util is None else util,
        min_replicas=min_r,
        max_replicas=max_r,
    )
    _print_compare(comparison)
    if plot_path is not None:
        plot_comparison(comparison, plot_path)
        _console().print(f"Plot written to {plot_path}")
    return 0


def _compare_stack(args: argparse.Namespace) -> int:
    """`compare --stack`: each served model at the stack's quantization, context and replicas, against
    the APIs. The volume is --tokens-per-month, or what the stack's minimum replicas serve in a month."""
    from pulumi_llm import serving
    from pulumi_llm import sizing as s
    from pulumi_llm.offline.plan import Project, load_settings

    if args.model:
        raise UserError("compare takes --stack or --model, not both")
    project = Project.find((getattr(args, "project_dir", None) or Path.cwd()).resolve())
    settings = load_settings(project, args.stack)
    if not settings.serves_models():
        raise UserError(f"stack {args.stack} serves no models (methods: {', '.join(settings.methods) or 'none'})")
    plot_path = _plot_path(args.plot, args.stack) if args.plot is not None else None
    util = _float(args.utilization, "--utilization", 0, 1)
    util = s.DEFAULT_UTILIZATION if util is None else util
    mix = s.TokenMix.parse(args.mix)
    clouds = (settings.cloud,) if settings.cloud in s.CLOUDS else None
    for figures in serving.stack_sizing(settings):
        name = figures["served_name"]
        if args.tokens_per_month:
            tokens = int(parse_tokens(args.tokens_per_month))
        else:
            per_replica = s.monthly_capacity_tokens(figures["throughput"]["total_tokens_per_s"], util)
            tokens = int(per_replica * max(1, figures["replicas"]["min"]))
        _console().print(
            f"[bold]{args.stack}: {name}[/bold] ({figures['model']['key']}, {figures['precision']}, "
            f"context {figures['max_model_len']:,}), {tokens:,} tokens/month"
        )
        comparison = s.compare_costs(
            serving.model_spec(name, settings.models[name]),
            tokens,
            quantization=settings.models[name].quantization,
            context=figures["max_model_len"],
            clouds=clouds,
            region=settings.region,
            mix=mix,
            utilization=util,
            min_replicas=figures["replicas"]["min"] or 1,
            max_replicas=figures["replicas"]["max"],
        )
        _print_compare(comparison)
        if plot_path is not None:
            target = plot_path if len(settings.models) == 1 else plot_path.with_name(f"{plot_path.stem}-{name}.png")
            plot_comparison(comparison, target)
            _console().print(f"Plot written to {target}")
    return 0


def _plot_path(text: str, default_name: str) -> Path:
    """The PNG `--plot` writes: the file named, or out/compare-<default_name>.png for a bare --plot (out/ created)."""
    from pulumi_llm.compare_plot import DEFAULT_PLOT_DIR, default_plot_path

    if text == "":
        try:
            DEFAULT_PLOT_DIR.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"--plot: cannot create directory '{DEFAULT_PLOT_DIR}' ({err.strerror or err})") from None
        text = str(default_plot_path(default_name))
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise UserError(f"--plot must name a .png file, not '{text}'")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"--plot: directory '{parent}' does not exist")
    # Checked before the tables are printed: a plot that cannot be written fails first, in one line.
    if path.is_dir():
        raise UserError(f"--plot {text}: a directory; name a .png file")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise UserError(f"--plot {text}: not writable")
    return path


def _print_compare(c: Comparison) -> None:
    from rich.table import Table

    from pulumi_llm.sizing._common import fmt_tokens, fmt_usd

    con = _console()
    con.print(f"[bold]{c.model.key}[/bold] at [bold]{fmt_tokens(c.tokens_per_month)}[/bold] tokens/month ({c.mix.label} input:output)")
    sh = Table(title="Self-hosted (on-demand list prices)")
    sh.add_column("option", overflow="fold", min_width=max(len(o.label) for o in c.self_hosted))
    sh.add_column("GPUs", overflow="fold")
    for col in ("why", "$/h", "capacity/replica", "replicas", "per month", "$/1M"):
        sh.add_column(col, justify="left" if col == "why" else "right", no_wrap=True)
    for o in c.self_hosted:
        replicas = f"{o.bill.replicas}" + (" (over max)" if o.bill.over_capacity else "")
        sh.add_row(
            o.label,
            f"{o.fit.hardware.count}× {o.fit.hardware.accelerator.key} TP {o.fit.tensor_parallel_size} {o.fit.precision.key}",
            o.why,
            fmt_usd(o.price_per_hour),
            f"{fmt_tokens(o.capacity_tokens_per_month)}/month",
            replicas,
            fmt_usd(o.bill.monthly_cost),
            fmt_usd(o.cost_per_million),
        )
    con.print(sh)
    ref = c.reference
    api = Table(title=f"API providers (list prices; break-even vs {ref.label})")
    for col, right in (
        ("provider/model", False),
        ("tier", False),
        ("in $/1M", True),
        ("out $/1M", True),
        ("blended $/1M", True),
        ("per month", True),
        ("self-hosting cheaper from", True),
    ):
        api.add_column(col, justify="right" if right else "left", no_wrap=col != "provider/model", overflow="fold")
    for a in c.api:
        be = a.break_even_tokens_per_month
        api.add_row(
            a.price.key + (" (same model)" if a.price.same_model == c.model.key else ""),
            a.price.tier,
            f"{a.price.input_per_m:g}",
            f"{a.price.output_per_m:g}",
            f"{a.price.blended_per_m(c.mix):.3g}",
            fmt_usd(a.monthly_cost),
            "never" if be is None else f"{fmt_tokens(be)}/month",
        )
    con.print(api)
    cheapest_api = min(c.api, key=lambda a: a.monthly_cost)
    if ref.bill.monthly_cost <= cheapest_api.monthly_cost:
        verdict = f"self-hosting on {ref.label} ({fmt_usd(ref.bill.monthly_cost)}) beats every API listed"
    else:
        verdict = (
            f"cheapest is {cheapest_api.price.key} at {fmt_usd(cheapest_api.monthly_cost)}/month vs "
            f"{fmt_usd(ref.bill.monthly_cost)} self-hosted on {ref.label}"
        )
    con.print(f"At this volume: {verdict}.", markup=False)
    api_dates = sorted({a.price.as_of for a in c.api})
    con.print(
        f"API prices as listed in {', '.join(api_dates)}; instance prices as listed in "
        f"{ref.fit.hardware.instance.price_as_of if ref.fit.hardware.instance else '-'}; check before budgeting.",
        markup=False,
    )
    for note in c.notes:
        con.print(f"- {note}", markup=False)
    for skipped in c.skipped:
        con.print(f"- skipped {skipped}", markup=False)
    con.print("Left out of self-hosted costs: " + "; ".join(_excluded()), markup=False)


def _excluded() -> tuple[str, ...]:
    from pulumi_llm.sizing import EXCLUDED_COSTS

    return EXCLUDED_COSTS


def plot_comparison(c: Comparison, path: Path | str) -> None:
    """Draw monthly cost against monthly volume (log-log) with labelled break-even points; write a PNG."""
    from pulumi_llm.compare_plot import plot_comparison as draw_and_write

    draw_and_write(c, path)
