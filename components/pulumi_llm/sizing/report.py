"""Composite answers built from the parts: the self-hosted vs API comparison, and the plain-dict summary
a stack's offline plan writes into summary.json."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pulumi_llm.errors import UserError
from pulumi_llm.sizing._common import GB, HOURS_PER_MONTH, round_sig
from pulumi_llm.sizing.economics import (
    DEFAULT_UTILIZATION,
    EXCLUDED_COSTS,
    ApiPrice,
    SelfHostedBill,
    TokenMix,
    break_even_tokens_per_month,
    comparable_api_prices,
    comparable_tier,
    monthly_capacity_tokens,
    monthly_stack_cost,
    self_hosted_cost_per_million,
    self_hosted_monthly_cost,
)
from pulumi_llm.sizing.fit import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    FitResult,
    MemoryBreakdown,
    choose_instance,
    fit,
    fitting_instances,
    startup_probe_budget,
)
from pulumi_llm.sizing.hardware import (
    CLOUDS,
    DEFAULT_REGION,
    Accelerator,
    Cloud,
    Hardware,
    InstanceType,
    check_instance_region,
    check_region,
    get_accelerator,
    get_cloud,
    get_instance_type,
)
from pulumi_llm.sizing.lora import LoraSlots
from pulumi_llm.sizing.models import ModelSpec, get_model
from pulumi_llm.sizing.throughput import (
    ThroughputEstimate,
    Workload,
    estimate_throughput,
)

DEFAULT_MIX = TokenMix()
"""3:1 input:output."""
REQUEST_TOKENS = 2048
"""Tokens per request (prompt + output) of the workload economics are estimated with."""


def workload_for(fit_result: FitResult, mix: TokenMix = DEFAULT_MIX) -> Workload:
    """A request of 2,048 tokens (less if max_model_len is shorter) split by the input:output mix."""
    total = min(REQUEST_TOKENS, fit_result.max_model_len)
    prompt = min(total - 1, round(total * mix.input_share))
    return Workload(prompt_tokens=prompt, output_tokens=total - prompt)


@dataclass(frozen=True)
class SelfHostedOption:
    """One way of self-hosting the model, priced at a monthly volume."""

    fit: FitResult
    throughput: ThroughputEstimate
    capacity_tokens_per_month: float
    """Tokens one replica carries per month at the comparison's utilization."""
    cost_per_million: float
    bill: SelfHostedBill
    why: str = ""
    """Why this option is listed: 'lowest $/h' (of the types that fit) or 'lowest bill' (at this volume)."""

    @property
    def label(self) -> str:
        inst = self.fit.hardware.instance
        return f"{inst.cloud} {inst.name}" if inst else self.fit.hardware.label

    @property
    def price_per_hour(self) -> float:
        inst = self.fit.hardware.instance
        return inst.price_per_hour if inst else 0.0

    def monthly_cost_at(self, tokens_per_month: float, min_replicas: int = 1, max_replicas: int | None = None) -> float:
        return self_hosted_monthly_cost(
            self.price_per_hour,
            self.capacity_tokens_per_month,
            tokens_per_month,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
        ).monthly_cost


@dataclass(frozen=True)
class ApiOption:
    price: ApiPrice
    monthly_cost: float
    break_even_tokens_per_month: float | None
    """Volume from which the reference self-hosted option is cheaper (None: never)."""


@dataclass(frozen=True)
class Comparison:
    model: ModelSpec
    tokens_per_month: float
    mix: TokenMix
    utilization: float
    min_replicas: int
    max_replicas: int | None
    self_hosted: tuple[SelfHostedOption, ...]
    api: tuple[ApiOption, ...]
    reference: SelfHostedOption
    """The self-hosted option that is cheapest at the volume; break-evens are computed against it."""
    skipped: tuple[str, ...]
    """Clouds with no fitting type, and why."""

    @property
    def notes(self) -> tuple[str, ...]:
        return (
            f"tokens = input + output, priced at a {self.mix.label} input:output mix",
            f"self-hosted capacity at {self.utilization:.0%} of estimated peak throughput; replicas billed "
            f"{HOURS_PER_MONTH} h/month at on-demand list price",
            f"API tier compared: {comparable_tier(self.model)} (plus any provider serving this very model)",
        )


def compare_costs(
    model: ModelSpec | str,
    tokens_per_month: float,
    *,
    quantization: str | None = None,
    context: int | None = None,
    clouds: tuple[str, ...] | None = None,
    region: str | None = None,
    mix: TokenMix = DEFAULT_MIX,
    utilization: float = DEFAULT_UTILIZATION,
    min_replicas: int = 1,
    max_replicas: int | None = None,
) -> Comparison:
    """Self-hosting vs the comparable API models at `tokens_per_month`.

    Per cloud (default: all three, each in its price region) two self-hosted options are listed: the
    cheapest type that fits, and the fitting type with the lowest monthly bill at this volume (when that is
    another type). Break-even volumes are against the self-hosted option cheapest at the volume.
    """
    spec = get_model(model)
    if tokens_per_month <= 0:
        raise UserError(f"monthly tokens must be positive, not {tokens_per_month:g}")
    picked = tuple(dict.fromkeys(get_cloud(c) for c in clouds)) if clouds else CLOUDS
    if region is not None and len(picked) != 1:
        raise UserError("--region needs exactly one --cloud")
    options: list[SelfHostedOption] = []
    skipped: list[str] = []
    first_error: UserError | None = None
    for cl in picked:
        try:
            fitting = fitting_instances(spec, cloud=cl, region=region, quantization=quantization, context=context)
        except UserError as err:
            first_error = first_error or err
            skipped.append(f"{cl}: {err}")
            continue
        priced = [_option(f, tokens_per_month, mix, utilization, min_replicas, max_replicas) for f in fitting]
        cheapest_type = priced[0]
        best = min(priced, key=lambda o: (o.bill.over_capacity, o.bill.monthly_cost, o.price_per_hour))
        options.append(replace(cheapest_type, why="lowest $/h"))
        if best is not cheapest_type:
            options.append(replace(best, why="lowest bill"))
    if not options:
        assert first_error is not None
        raise first_error
    options.sort(key=lambda o: (o.bill.over_capacity, o.bill.monthly_cost, o.label))
    reference = options[0]
    api: list[ApiOption] = []
    for price in comparable_api_prices(spec):
        blended = price.blended_per_m(mix)
        api.append(
            ApiOption(
                price=price,
                monthly_cost=price.monthly_cost(tokens_per_month, mix),
                break_even_tokens_per_month=break_even_tokens_per_month(
                    reference.price_per_hour,
                    reference.capacity_tokens_per_month,
                    blended,
                    min_replicas=min_replicas,
                ),
            )
        )
    return Comparison(
        model=spec,
        tokens_per_month=tokens_per_month,
        mix=mix,
        utilization=utilization,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        self_hosted=tuple(options),
        api=tuple(sorted(api, key=lambda a: (a.monthly_cost, a.price.key))),
        reference=reference,
        skipped=tuple(skipped),
    )


def _option(f: FitResult, tokens: float, mix: TokenMix, utilization: float, min_r: int, max_r: int | None) -> SelfHostedOption:
    est = estimate_throughput(f, workload_for(f, mix))
    capacity = monthly_capacity_tokens(est.total_tokens_per_s, utilization)
    price = f.hardware.instance.price_per_hour if f.hardware.instance else 0.0
    return SelfHostedOption(
        fit=f,
        throughput=est,
        capacity_tokens_per_month=capacity,
        cost_per_million=self_hosted_cost_per_million(price, est.total_tokens_per_s, utilization),
        bill=self_hosted_monthly_cost(price, capacity, tokens, min_replicas=min_r, max_replicas=max_r),
    )


# ---------------------------------------------------------------------------------------------
# summary.json
# ---------------------------------------------------------------------------------------------


def _r(x: float | None) -> float | None:
    return None if x is None else round_sig(float(x), 6)


def _sized(
    spec: ModelSpec,
    cl: Cloud | None,
    where: str | None,
    region: str | None,
    *,
    instance_type: str | None,
    accelerator: str | Accelerator | None,
    gpu_count: int,
    quantization: str | None,
    context: int | None,
    runtime: str,
    gpu_memory_utilization: float,
    lora: LoraSlots | None = None,
) -> FitResult:
    """The fit on the hardware asked for: `instance_type`, else `accelerator` × `gpu_count`, else the cheapest type of `cl`."""
    if instance_type is not None:
        itype = get_instance_type(instance_type, cl)
        if region is not None:
            check_instance_region(itype, where or region)
        return fit(
            spec,
            itype,
            quantization=quantization,
            context=context,
            runtime=runtime,
            gpu_memory_utilization=gpu_memory_utilization,
            region=where,
            lora=lora,
        )
    if accelerator is not None:
        # An Accelerator object is taken as is (an edge CPU node, sizing.cpu_host, has no catalog key).
        hw = Hardware(accelerator if isinstance(accelerator, Accelerator) else get_accelerator(accelerator), gpu_count)
        return fit(
            spec, hw, quantization=quantization, context=context, runtime=runtime, gpu_memory_utilization=gpu_memory_utilization, lora=lora
        )
    if cl is not None:
        return choose_instance(
            spec,
            cloud=cl,
            region=where,
            quantization=quantization,
            context=context,
            runtime=runtime,
            gpu_memory_utilization=gpu_memory_utilization,
            lora=lora,
        )
    raise UserError("sizing needs an instance type, an accelerator, or a cloud to choose a type in")


def _model_summary(spec: ModelSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "hf_repo": spec.hf_repo,
        "gated": spec.gated,
        "total_params_b": _r(spec.total_params_b),
        "active_params_b": _r(spec.resolved_active_params_b),
        "max_context": spec.max_context,
    }


def _hardware_summary(hw: Hardware, cl: Cloud | None, where: str | None) -> dict[str, Any]:
    inst = hw.instance
    return {
        "instance_type": inst.name if inst else None,
        "cloud": inst.cloud if inst else (cl or "onprem"),
        "region": where,
        "accelerator": hw.accelerator.key,
        "gpu_count": hw.count,
        "gpu_memory_gib": _r(hw.accelerator.memory_gib),
    }


def _memory_summary(mem: MemoryBreakdown) -> dict[str, Any]:
    out = {
        "weights": _r(mem.weights / GB),
        "runtime_overhead": _r(mem.overhead / GB),
        "kv_cache": _r(mem.kv_cache / GB),
        "budget": _r(mem.budget / GB),
        "device_total": _r(mem.device_total / GB),
    }
    if mem.lora:
        out["lora_slots"] = _r(mem.lora / GB)  # only with adapters: summaries of other models keep their keys
    return out


def _throughput_summary(est: ThroughputEstimate) -> dict[str, Any]:
    return {
        "prompt_tokens": est.workload.prompt_tokens,
        "output_tokens": est.workload.output_tokens,
        "concurrency": est.concurrency,
        "output_tokens_per_s": _r(est.output_tokens_per_s),
        "total_tokens_per_s": _r(est.total_tokens_per_s),
        "requests_per_s": _r(est.requests_per_s),
        "ttft_s": _r(est.ttft_s),
        "tpot_s": _r(est.tpot_s),
        "bound": est.bound,
        "assumptions": list(est.assumptions),
    }


def _cost_summary(
    inst: InstanceType,
    est: ThroughputEstimate,
    *,
    min_replicas: int,
    max_replicas: int,
    utilization: float,
    mix: TokenMix,
    hours_per_month: float,
    extras: dict[str, float] | None,
) -> dict[str, Any]:
    """The priced instance's monthly bill for the replica range, and its cost per million tokens."""
    monthly = monthly_stack_cost(inst, min_replicas=min_replicas, max_replicas=max_replicas, hours_per_month=hours_per_month, extras=extras)
    return {
        "currency": "USD",
        "price_per_hour": _r(inst.price_per_hour),
        "price_region": inst.price_region,
        "price_as_of": inst.price_as_of,
        "price_source": inst.price_source,
        "price_is_estimate": inst.price_is_estimate,
        "hours_per_month": _r(hours_per_month),
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "monthly_min": _r(monthly.monthly_min),
        "monthly_max": _r(monthly.monthly_max),
        "items": [{"name": i.name, "monthly_min": _r(i.monthly_min), "monthly_max": _r(i.monthly_max)} for i in monthly.items],
        "utilization": _r(utilization),
        "per_million_tokens": _r(self_hosted_cost_per_million(inst.price_per_hour, est.total_tokens_per_s, utilization)),
        "token_mix": mix.label,
        "excluded": list(EXCLUDED_COSTS),
    }


def sizing_summary(
    model: ModelSpec | str,
    quantization: str | None = None,
    context: int | None = None,
    instance_type: str | None = None,
    cloud: str | None = None,
    region: str | None = None,
    min_replicas: int = 1,
    max_replicas: int = 1,
    *,
    accelerator: str | Accelerator | None = None,
    gpu_count: int = 1,
    runtime: str = "vllm",
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    utilization: float = DEFAULT_UTILIZATION,
    mix: TokenMix = DEFAULT_MIX,
    hours_per_month: float = HOURS_PER_MONTH,
    extras: dict[str, float] | None = None,
    lora: LoraSlots | None = None,
) -> dict[str, Any]:
    """Sizing and cost figures of one served model as a plain, deterministic, JSON-serialisable dict.

    Hardware is, in order: `instance_type` (checked against `cloud` and `region`), `accelerator` ×
    `gpu_count` (on-prem/edge: no price), or the cheapest fitting type of `cloud` in `region`. `lora`: the
    adapter slots the server reserves (sizing/lora.py), shown as memory_gb.lora_slots and `lora`.
    """
    spec = get_model(model)
    cl = None if cloud in (None, "onprem") else get_cloud(cloud)
    where = None
    if cl is not None:
        where = check_region(cl, region) if region is not None else DEFAULT_REGION[cl]
    result = _sized(
        spec,
        cl,
        where,
        region,
        instance_type=instance_type,
        accelerator=accelerator,
        gpu_count=gpu_count,
        quantization=quantization,
        context=context,
        runtime=runtime,
        gpu_memory_utilization=gpu_memory_utilization,
        lora=lora,
    )

    est = estimate_throughput(result, workload_for(result, mix))
    probe = startup_probe_budget(result.memory.weights)
    inst = result.hardware.instance
    out: dict[str, Any] = {
        "model": _model_summary(spec),
        "runtime": result.runtime,
        "precision": result.precision.key,
        "kv_cache_dtype": result.kv_dtype.key,
        "hardware": _hardware_summary(result.hardware, cl, where),
        "memory_gb": _memory_summary(result.memory),
        "kv_bytes_per_token": result.kv_bytes_per_token,
        "kv_tokens": result.kv_tokens,
        "tensor_parallel_size": result.tensor_parallel_size,
        "max_model_len": result.max_model_len,
        "max_num_seqs": result.max_num_seqs,
        "context_capped": result.context_capped,
        "vllm": result.vllm.as_dict() if result.vllm else None,
        "llamacpp": result.llamacpp.as_dict() if result.llamacpp else None,
        "startup_probe": {
            "seconds": probe.seconds,
            "period_seconds": probe.period_seconds,
            "failure_threshold": probe.failure_threshold,
        },
        "throughput": _throughput_summary(est),
        "cost": None,
        "notes": [*result.notes, *probe.notes[1:]],
    }
    if lora is not None:
        out["lora"] = {"max_loras": lora.max_loras, "max_rank": lora.max_rank, "reserved_gb": _r(result.memory.lora / GB)}
    if inst is not None:
        out["cost"] = _cost_summary(
            inst,
            est,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            utilization=utilization,
            mix=mix,
            hours_per_month=hours_per_month,
            extras=extras,
        )
        if where is not None and where != inst.price_region:
            out["notes"].append(f"price read for {inst.price_region}; {where} may differ")
    return out
