"""Will the model fit, on how many GPUs, with which vLLM settings — and which instance type to buy.

Memory model (per GPU, with tensor-parallel size `tp`)
------------------------------------------------------
    budget   = device memory (minus the OS reserve on unified-memory devices) × gpu_memory_utilization
    weights  = weight bytes / tp                       (vLLM shards every layer, embeddings included)
    overhead = runtime overhead, see `runtime_overhead_bytes`
    LoRA     = the adapter slots vLLM preallocates when LoRA is on, see sizing/lora.py (0 without)
    KV pool  = budget − weights − overhead − LoRA      (must be > 0)
    KV tokens the server holds = tp × KV pool / KV bytes per token

KV bytes per token = 2 (K and V) × layers × KV heads × head dim × bytes per KV value; with tensor
parallelism each GPU holds KV heads / tp of them. Models with sliding-window layers (Gemma, gpt-oss) are
counted as if every layer kept the full context: an upper bound, which is what older vLLM versions
allocated and what newer ones allocate for the full-attention layers.

Choices
-------
* tensor_parallel_size: the smallest size that holds one sequence of the requested context and divides
  both the attention heads and the KV heads (vLLM's requirement for even sharding), without exceeding
  the GPUs available. When no size holds the requested context, the size that holds the most KV tokens
  is used and the context is capped (see `max_model_len`).
* max_model_len: the requested context (default: the model's maximum), capped to the model's maximum
  and to 90 % of the KV tokens estimated to fit, rounded down to a multiple of 256. The 10 % margin is
  there because this estimate runs ~10 % above what vLLM V1 measured for Llama-3.1-8B on an L40S
  (158,656 tokens at 0.90, vllm-project/vllm#17122), and vLLM refuses to start when one max-length
  sequence does not fit its real pool. Below `MIN_CONTEXT` tokens the model is said not to fit.
* max_num_seqs: how many sequences of a typical length (2,048 tokens unless told) the KV pool holds,
  between 1 and 256 (vLLM's usual default ceiling).
* gpu_memory_utilization: 0.90 unless told (vLLM's own default, vllm-project/vllm CacheConfig; the
  vllm-project/production-stack examples and Google's GKE vLLM tutorial use up to 0.95).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pulumi_llm.errors import UserError
from pulumi_llm.sizing._common import GB, GIB, fmt_gb, fmt_int
from pulumi_llm.sizing.hardware import (
    DEFAULT_REGION,
    Accelerator,
    Hardware,
    InstanceType,
    check_region,
    get_cloud,
    instance_types,
)
from pulumi_llm.sizing.lora import LoraSlots, lora_bytes_per_gpu
from pulumi_llm.sizing.models import ModelSpec, get_model
from pulumi_llm.sizing.precision import (
    DEFAULT_GGUF,
    DEFAULT_KV_DTYPE,
    PRECISIONS,
    RUNTIME_PRECISIONS,
    KvDtype,
    Precision,
    Runtime,
    check_runtime_kv_dtype,
    check_runtime_precision,
    get_kv_dtype,
    get_precision,
    get_runtime,
)

DEFAULT_GPU_MEMORY_UTILIZATION = 0.90
MIN_CONTEXT = 2048
"""Shortest max_model_len worth deploying; below it the model "does not fit"."""
DEFAULT_CHOICE_CONTEXT = 8192
"""Context an instance type must hold when choosing one and no context was asked for."""
TYPICAL_SEQ_LEN = 2048
"""Sequence length (prompt + output) max_num_seqs is sized for, unless told."""
MAX_NUM_SEQS_CAP = 256
KV_MARGIN = 0.90
"""Share of the estimated KV tokens max_model_len may use (see the module docstring)."""
MAX_MODEL_LEN_STEP = 256

# vLLM runtime overhead per GPU, calibrated on vLLM's own memory profile of Llama-3-8B on an H100
# (vllm-project/vllm#10511): non-torch memory (CUDA context, cuBLAS workspaces, CUDA graphs) 1.79 GiB at
# TP 1 and 1.79 GiB more at TP 2 (NCCL and custom all-reduce buffers); PyTorch activation peak 1.26 GiB
# with the default batch-token budget. Rounded up, and the activation part scaled with the hidden size
# (the width of every per-token activation); half of it is treated as sharded by tensor parallelism.
VLLM_NON_TORCH_GIB = 2.0
VLLM_TP_COMM_GIB = 2.0
VLLM_ACTIVATION_GIB_PER_4096_HIDDEN = 1.5
# llama.cpp: CUDA context plus compute buffers (a few hundred MiB for 7–8B models at the default batch of
# 512, as its startup log prints them), scaled with the hidden size. Consistent with jetson-containers'
# figure of 5,268 MB used by Llama-2-7B Q4_K_S on a Jetson (packages/llm/llama_cpp/docs.md): 3.9 GB of
# weights + 1.1 GB of f16 KV for 2,048 tokens + this 0.5 GiB ≈ 5.5 GB.
LLAMACPP_BASE_GIB = 0.3
LLAMACPP_GIB_PER_4096_HIDDEN = 0.2


# ---------------------------------------------------------------------------------------------
# Basic figures
# ---------------------------------------------------------------------------------------------


def weight_bytes(model: ModelSpec | str, precision: Precision | str) -> int:
    """Bytes of the weights of `model` stored in `precision` (see precision.py for the scopes)."""
    spec = get_model(model)
    prec = get_precision(precision) if isinstance(precision, str) else precision
    _check_model_precision(spec, prec)
    total = spec.total_params
    if prec.scope == "all":
        return int(total * prec.bytes_per_weight)
    if prec.scope == "linear":
        embed = spec.embedding_params
        return int(embed * 2 + (total - embed) * prec.bytes_per_weight)
    experts = spec.expert_params_b * 1e9
    return int(experts * prec.bytes_per_weight + (total - experts) * 2)


def kv_bytes_per_token(model: ModelSpec | str, kv_dtype: KvDtype | str = "auto") -> int:
    """KV-cache bytes one token occupies across all GPUs: 2 × layers × KV heads × head dim × bytes."""
    spec = get_model(model)
    kv = get_kv_dtype(kv_dtype) if isinstance(kv_dtype, str) else kv_dtype
    return int(round(2 * spec.num_layers * spec.num_kv_heads * spec.resolved_head_dim * kv.bytes_per_value))


def runtime_overhead_bytes(model: ModelSpec | str, runtime: Runtime, tp: int = 1) -> int:
    """Memory per GPU the runtime needs besides weights and KV cache (module constants document it)."""
    spec = get_model(model)
    width = spec.hidden_size / 4096
    if runtime == "llamacpp":
        return int((LLAMACPP_BASE_GIB + LLAMACPP_GIB_PER_4096_HIDDEN * width) * GIB)
    gib = VLLM_NON_TORCH_GIB + (VLLM_TP_COMM_GIB if tp > 1 else 0.0)
    gib += VLLM_ACTIVATION_GIB_PER_4096_HIDDEN * width * (0.5 + 0.5 / tp)
    return int(gib * GIB)


def valid_tensor_parallel_sizes(model: ModelSpec | str, gpus: int, runtime: Runtime = "vllm") -> tuple[int, ...]:
    """Sizes from 1 to `gpus` that divide both the attention heads and the KV heads.

    llama.cpp splits by layers, not heads, so every count up to `gpus` is valid there.
    """
    spec = get_model(model)
    if runtime == "llamacpp":
        return tuple(range(1, gpus + 1))
    return tuple(t for t in range(1, gpus + 1) if spec.num_attention_heads % t == 0 and spec.num_kv_heads % t == 0)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes over the GPUs a server uses (tp of them); `per_gpu_*` for one of them."""

    weights: int
    overhead: int
    kv_cache: int
    budget: int
    """Memory the runtime may use: device memory × utilization, over the GPUs used."""
    device_total: int
    """Memory of the GPUs used (whole RAM for unified-memory devices)."""
    gpus: int
    lora: int = 0
    """LoRA adapter slots vLLM preallocates (sizing/lora.py), over the GPUs used; 0 without LoRA."""

    @property
    def headroom(self) -> int:
        """Device memory left outside the runtime's budget."""
        return self.device_total - self.budget


@dataclass(frozen=True)
class VllmSettings:
    """Values for vLLM's flags of the same names (Triton's vLLM backend takes the same)."""

    tensor_parallel_size: int
    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float
    dtype: str
    """`--dtype`: bfloat16, float16 or auto (auto for quantized checkpoints)."""
    quantization: str | None
    """`--quantization`, or None when the checkpoint's own config says it (or there is none)."""
    kv_cache_dtype: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "tensor_parallel_size": self.tensor_parallel_size,
            "max_model_len": self.max_model_len,
            "max_num_seqs": self.max_num_seqs,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "dtype": self.dtype,
            "quantization": self.quantization,
            "kv_cache_dtype": self.kv_cache_dtype,
        }


@dataclass(frozen=True)
class LlamaCppSettings:
    """Values for llama.cpp server flags: `--ctx-size` (shared by `--parallel` slots), `--n-gpu-layers`."""

    ctx_size: int
    parallel: int
    n_gpu_layers: int
    cache_type: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ctx_size": self.ctx_size,
            "parallel": self.parallel,
            "n_gpu_layers": self.n_gpu_layers,
            "cache_type": self.cache_type,
        }


@dataclass(frozen=True)
class FitResult:
    """A model that fits on some hardware, with everything the deploy needs to know."""

    model: ModelSpec
    precision: Precision
    kv_dtype: KvDtype
    runtime: Runtime
    hardware: Hardware
    tensor_parallel_size: int
    """GPUs one server uses (for llama.cpp: GPUs the layers are split over)."""
    memory: MemoryBreakdown
    kv_bytes_per_token: int
    kv_tokens: int
    """Tokens the KV pool is estimated to hold."""
    requested_context: int
    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float
    context_capped: bool
    """True when max_model_len is below the requested context because memory ran short."""
    notes: tuple[str, ...] = field(default=())

    @property
    def vllm(self) -> VllmSettings | None:
        """vLLM flag values (None for llama.cpp)."""
        if self.runtime == "llamacpp":
            return None
        prec = self.precision
        return VllmSettings(
            tensor_parallel_size=self.tensor_parallel_size,
            max_model_len=self.max_model_len,
            max_num_seqs=self.max_num_seqs,
            gpu_memory_utilization=self.gpu_memory_utilization,
            dtype=prec.vllm_dtype or "auto",
            quantization=prec.vllm_quantization,
            kv_cache_dtype=self.kv_dtype.vllm_value or "auto",
        )

    @property
    def llamacpp(self) -> LlamaCppSettings | None:
        """llama.cpp flag values (None for vLLM/Triton)."""
        if self.runtime != "llamacpp":
            return None
        parallel = max(1, min(4, self.kv_tokens * 9 // 10 // self.max_model_len))
        on_gpu = self.hardware.accelerator.kind != "cpu"
        return LlamaCppSettings(
            ctx_size=self.max_model_len * parallel,
            parallel=parallel,
            n_gpu_layers=self.model.num_layers + 1 if on_gpu else 0,
            cache_type=self.kv_dtype.llamacpp_value or "f16",
        )

    @property
    def gpus_idle(self) -> int:
        """GPUs of the hardware this server leaves unused (room for more servers on the machine)."""
        return self.hardware.count - self.tensor_parallel_size


# ---------------------------------------------------------------------------------------------
# Precision resolution
# ---------------------------------------------------------------------------------------------


def _check_model_precision(spec: ModelSpec, prec: Precision) -> None:
    if prec.family == "mxfp4" and spec.native_precision != "mxfp4":
        raise UserError(
            f"quantization 'mxfp4' needs a checkpoint published in MXFP4 (gpt-oss-20b, gpt-oss-120b); "
            f"{spec.key} is published in {spec.native_precision}"
        )


def _check_device_precision(prec: Precision, accel: Accelerator) -> None:
    if accel.kind == "cpu" or prec.min_cuda_arch is None or accel.cuda_arch is None:
        return
    if accel.cuda_arch < prec.min_cuda_arch:
        need = f"{prec.min_cuda_arch // 10}.{prec.min_cuda_arch % 10}"
        has = f"{accel.cuda_arch // 10}.{accel.cuda_arch % 10}"
        extra = "; use --quant fp16" if prec.key == "bf16" else ""
        raise UserError(f"quantization '{prec.key}' needs compute capability {need} or newer; {accel.key} is {has}{extra}")


def resolve_precision(
    spec: ModelSpec,
    quantization: str | Precision | None,
    runtime: Runtime,
    accel: Accelerator | None = None,
) -> tuple[Precision, tuple[str, ...]]:
    """The precision to size with, and notes on any default taken.

    None means the checkpoint's own precision for vLLM/Triton (fp16 instead of bf16 on GPUs older than
    Ampere, as vLLM does) and Q4_K_M for llama.cpp.
    """
    notes: list[str] = []
    if quantization is None:
        if runtime == "llamacpp":
            prec = PRECISIONS[DEFAULT_GGUF]
            notes.append(f"no quantization given: llama.cpp default {prec.key.upper()} assumed")
        else:
            prec = PRECISIONS[spec.native_precision]
            if prec.key == "bf16" and accel is not None and accel.cuda_arch is not None and accel.cuda_arch < 80:
                prec = PRECISIONS["fp16"]
                notes.append(f"{accel.key} has no bf16: weights served in fp16")
    else:
        prec = get_precision(quantization) if isinstance(quantization, str) else quantization
    check_runtime_precision(runtime, prec)
    _check_model_precision(spec, prec)
    if accel is not None:
        _check_device_precision(prec, accel)
    if prec.prequantized and prec.key != spec.native_precision:
        notes.append(f"assumes a published {prec.label} checkpoint of {spec.key}")
    if prec.key == "fp8" and accel is not None and accel.cuda_arch is not None and accel.cuda_arch < 89:
        notes.append(f"{accel.key} has no FP8 tensor cores: vLLM runs FP8 weight-only (memory saving, little speed-up)")
    return prec, tuple(notes)


def _resolve_kv(kv_cache_dtype: str | KvDtype | None, runtime: Runtime, accel: Accelerator | None) -> KvDtype:
    if kv_cache_dtype is None:
        kv = get_kv_dtype(DEFAULT_KV_DTYPE[runtime])
    else:
        kv = get_kv_dtype(kv_cache_dtype) if isinstance(kv_cache_dtype, str) else kv_cache_dtype
    check_runtime_kv_dtype(runtime, kv)
    if accel is not None and kv.min_cuda_arch and accel.cuda_arch and accel.cuda_arch < kv.min_cuda_arch:
        raise UserError(f"KV-cache dtype '{kv.key}' needs compute capability 8.0 or newer; {accel.key} is older")
    return kv


# ---------------------------------------------------------------------------------------------
# The fit itself
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    tp: int
    budget_per_gpu: int
    overhead_per_gpu: int
    weights: int
    kv_tokens: int
    lora_per_gpu: int = 0

    @property
    def kv_pool(self) -> int:
        return self.tp * self.budget_per_gpu - self.weights - self.tp * (self.overhead_per_gpu + self.lora_per_gpu)


def _layout(
    spec: ModelSpec, weights: int, kv_per_token: int, hw: Hardware, runtime: Runtime, util: float, tp: int, lora: LoraSlots | None = None
) -> _Layout:
    budget = int(hw.accelerator.model_memory_bytes * util)
    overhead = runtime_overhead_bytes(spec, runtime, tp)
    adapters = lora_bytes_per_gpu(spec, lora, tp)
    pool = tp * budget - weights - tp * (overhead + adapters)
    tokens = max(0, pool // kv_per_token) if pool > 0 else 0
    return _Layout(tp, budget, overhead, weights, int(tokens), adapters)


def _usable_len(kv_tokens: int) -> int:
    return int(kv_tokens * KV_MARGIN) // MAX_MODEL_LEN_STEP * MAX_MODEL_LEN_STEP


@dataclass(frozen=True)
class _Plan:
    layout: _Layout
    max_model_len: int
    capped: bool


def _plan(
    spec: ModelSpec,
    weights: int,
    kv_per_token: int,
    hw: Hardware,
    runtime: Runtime,
    util: float,
    target: int,
    floor: int,
    only_tp: int | None = None,
    lora: LoraSlots | None = None,
) -> _Plan | None:
    """Smallest valid TP holding `target` tokens; else the TP holding most, if ≥ `floor`; else None.

    `only_tp` pins the tensor-parallel size (the user asked for that many GPUs per server); `lora` the adapter
    slots every layout reserves."""
    sizes = valid_tensor_parallel_sizes(spec, hw.count, runtime)
    layouts = [_layout(spec, weights, kv_per_token, hw, runtime, util, tp, lora) for tp in sizes if only_tp is None or tp == only_tp]
    for lay in layouts:
        if lay.kv_pool > 0 and _usable_len(lay.kv_tokens) >= target:
            return _Plan(lay, target, False)
    best = max(layouts, key=lambda lay: (lay.kv_tokens, -lay.tp), default=None)
    if best is None or best.kv_pool <= 0:
        return None
    usable = min(_usable_len(best.kv_tokens), target)
    if usable < floor:
        return None
    return _Plan(best, usable, usable < target)


def _check_util(util: float) -> None:
    if not (0.1 <= util <= 1.0):
        raise UserError(f"gpu-memory-utilization must be between 0.1 and 1.0, not {util:g}")


def _check_context(context: object) -> None:
    # `object`, not `int | None`: callers pass values straight from user input, so the type is checked here.
    if context is not None and (isinstance(context, bool) or not isinstance(context, int) or context < 1):
        raise UserError(f"context must be a positive number of tokens, not {context!r}")


def fit(
    model: ModelSpec | str,
    hardware: Hardware | InstanceType,
    *,
    quantization: str | Precision | None = None,
    context: int | None = None,
    runtime: str = "vllm",
    kv_cache_dtype: str | KvDtype | None = None,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    typical_seq_len: int = TYPICAL_SEQ_LEN,
    region: str | None = None,
    tensor_parallel_size: int | None = None,
    lora: LoraSlots | None = None,
) -> FitResult:
    """Fit `model` on `hardware` (or an instance type): TP size, context, concurrency, memory.

    Raises UserError with one line — the need, the offer, and ways out — when it cannot fit.
    `region` only sharpens the "a bigger type" suggestion of that error. `tensor_parallel_size`
    pins TP instead of choosing the smallest that fits; it must divide the attention and KV heads
    and not exceed the hardware's GPUs. `lora`: the adapter slots a vLLM server with LoRA reserves
    (sizing/lora.py), which the KV cache doesn't get.
    """
    spec = get_model(model)
    hw = hardware.hardware if isinstance(hardware, InstanceType) else hardware
    rt = get_runtime(runtime)
    _check_util(gpu_memory_utilization)
    _check_context(context)
    if typical_seq_len < 1:
        raise UserError(f"typical sequence length must be a positive number of tokens, not {typical_seq_len}")
    prec, prec_notes = resolve_precision(spec, quantization, rt, hw.accelerator)
    kv = _resolve_kv(kv_cache_dtype, rt, hw.accelerator)
    notes = list(prec_notes)

    requested = context if context is not None else spec.max_context
    target = min(requested, spec.max_context)
    if context is not None and context > spec.max_context:
        notes.append(f"context {context:,} is above the model's maximum; capped to {spec.max_context:,}")
    floor = min(MIN_CONTEXT, target)

    weights = weight_bytes(spec, prec)
    kv_tok = kv_bytes_per_token(spec, kv)
    if tensor_parallel_size is not None:
        allowed = valid_tensor_parallel_sizes(spec, max(hw.count, tensor_parallel_size), rt)
        if tensor_parallel_size not in allowed or tensor_parallel_size > hw.count:
            raise UserError(
                f"tensor parallel size {tensor_parallel_size} must divide {spec.key}'s {spec.num_attention_heads} "
                f"attention heads and {spec.num_kv_heads} KV heads and fit in {hw.count} GPUs; "
                f"allowed: {', '.join(str(t) for t in allowed if t <= hw.count)}"
            )
    plan = _plan(spec, weights, kv_tok, hw, rt, gpu_memory_utilization, target, floor, tensor_parallel_size, lora)
    if plan is None:
        raise _no_fit_error(spec, prec, kv, hw, rt, gpu_memory_utilization, floor, region, target=target, lora=lora)

    lay = plan.layout
    if plan.capped:
        notes.append(
            f"context capped to {plan.max_model_len:,} tokens: the KV cache holds ~{lay.kv_tokens:,} "
            f"tokens and {int(KV_MARGIN * 100)} % of that is used"
        )
    if spec.sliding_window:
        notes.append(f"sliding-window layers ({spec.sliding_window:,} tokens) counted as full attention: KV estimate is an upper bound")
    if hw.count > lay.tp:
        notes.append(f"{hw.count - lay.tp} of {hw.count} GPUs left idle by one server (room for more replicas)")
    if hw.instance is not None and hw.instance.price_is_estimate:
        notes.append(f"{hw.instance.name} price is an estimate: {hw.instance.price_note}")
    if lora is not None:
        notes.append(
            f"LoRA: {lora.max_loras} adapter slot(s) of rank {lora.max_rank} reserve {fmt_gb(lay.lora_per_gpu * lay.tp)} "
            "the KV cache doesn't get"
        )

    typical = min(typical_seq_len, plan.max_model_len)
    max_num_seqs = max(1, min(MAX_NUM_SEQS_CAP, lay.kv_tokens // typical))
    memory = MemoryBreakdown(
        weights=weights,
        overhead=lay.overhead_per_gpu * lay.tp,
        kv_cache=max(0, lay.kv_pool),
        budget=lay.budget_per_gpu * lay.tp,
        device_total=hw.accelerator.memory_bytes * lay.tp,
        gpus=lay.tp,
        lora=lay.lora_per_gpu * lay.tp,
    )
    return FitResult(
        model=spec,
        precision=prec,
        kv_dtype=kv,
        runtime=rt,
        hardware=hw,
        tensor_parallel_size=lay.tp,
        memory=memory,
        kv_bytes_per_token=kv_tok,
        kv_tokens=lay.kv_tokens,
        requested_context=requested,
        max_model_len=plan.max_model_len,
        max_num_seqs=max_num_seqs,
        gpu_memory_utilization=gpu_memory_utilization,
        context_capped=plan.capped,
        notes=tuple(notes),
    )


def fits(model: ModelSpec | str, hardware: Hardware | InstanceType, **kwargs: Any) -> bool:
    """True when `fit` succeeds (any UserError counts as "does not fit")."""
    try:
        fit(model, hardware, **kwargs)
    except UserError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# "Does not fit" — one line with the need, the offer and ways out
# ---------------------------------------------------------------------------------------------


def _need_and_offer(
    spec: ModelSpec, weights: int, kv_tok: int, hw: Hardware, rt: Runtime, util: float, floor: int, lora: LoraSlots | None = None
) -> tuple[int, int, int, int]:
    """(need, offer, runtime overhead, tp) at the largest valid TP; the need counts the LoRA slots too."""
    tp = max(valid_tensor_parallel_sizes(spec, hw.count, rt))
    overhead = runtime_overhead_bytes(spec, rt, tp) * tp
    offer = int(hw.accelerator.model_memory_bytes * util) * tp
    return weights + overhead + lora_bytes_per_gpu(spec, lora, tp) * tp + kv_tok * floor, offer, overhead, tp


def _cheapest_fitting_type(
    spec: ModelSpec,
    prec: Precision,
    weights: int,
    kv_tok: int,
    rt: Runtime,
    util: float,
    floor: int,
    cloud: str,
    region: str | None,
    lora: LoraSlots | None = None,
) -> InstanceType | None:
    """The cheapest type of `cloud` in `region` whose accelerator runs `prec` and holds `floor` tokens;
    `weights` and `kv_tok` are the model's in `prec` and the KV dtype (the caller has them)."""
    for itype in instance_types(cloud, region):
        try:
            _check_device_precision(prec, itype.accelerator)
        except UserError:
            continue
        if _plan(spec, weights, kv_tok, itype.hardware, rt, util, floor, floor, lora=lora) is not None:
            return itype
    return None


def _smaller_precisions(prec: Precision, rt: Runtime, accel: Accelerator) -> list[Precision]:
    """Precisions of `rt` below `prec` that `accel` runs, most bits first (MXFP4 needs its own checkpoint; Q2_K
    loses too much to offer)."""
    out: list[Precision] = []
    for key in RUNTIME_PRECISIONS[rt]:
        cand = PRECISIONS[key]
        if cand.bits_per_weight >= prec.bits_per_weight or cand.family == "mxfp4" or key == "q2_k":
            continue
        try:
            _check_device_precision(cand, accel)
        except UserError:
            continue
        out.append(cand)
    return sorted(out, key=lambda p: -p.bits_per_weight)


@dataclass(frozen=True)
class QuantizedFit:
    """A smaller precision and GPU count of the same accelerator on which the model fits."""

    precision: Precision
    count: int
    tensor_parallel_size: int
    max_model_len: int
    capped: bool
    """True when `max_model_len` is below the context asked for."""

    def way_out(self, accel: Accelerator, asked_count: int) -> str:
        """The suggestion as `size` prints it: the flags, then what the server gets."""
        flags = f"--quant {self.precision.key}" + (f" --count {self.count}" if self.count != asked_count else "")
        context = f"context {self.max_model_len:,}" + (" (capped)" if self.capped else "")
        return f"{self.precision.key} on {self.count}× {accel.key}: {flags} (TP {self.tensor_parallel_size}, {context})"


def decide_quantized_fit(
    spec: ModelSpec,
    prec: Precision,
    kv: KvDtype,
    hw: Hardware,
    rt: Runtime,
    util: float,
    target: int,
    floor: int,
    lora: LoraSlots | None = None,
) -> QuantizedFit | None:
    """The quantized fit to offer when `spec` does not fit in `prec` on `hw`: the precision with the most bits
    below `prec` that fits on this accelerator with at most 8 GPUs, on the fewest GPUs (at least the count
    asked), holding `target` tokens or as many as fit above `floor`. None when no such precision fits, or
    for a machine type or a CPU (their GPU count is not the user's to change).

    Why: 70B in bf16 fits on no number of L4s, but in fp8 on 8 of them; naming only "more GPUs" or only
    "--quant" (each alone fails) left that fit to be found by trying."""
    accel = hw.accelerator
    if hw.instance is not None or accel.kind != "gpu":
        return None
    kv_tok = kv_bytes_per_token(spec, kv)
    for cand in _smaller_precisions(prec, rt, accel):
        weights = weight_bytes(spec, cand)
        for count in range(hw.count, max(hw.count, 8) + 1):
            plan = _plan(spec, weights, kv_tok, Hardware(accel, count), rt, util, target, floor, lora=lora)
            if plan is not None:
                return QuantizedFit(cand, count, plan.layout.tp, plan.max_model_len, plan.capped)
    return None


def _ways_out(
    spec: ModelSpec,
    prec: Precision,
    kv: KvDtype,
    hw: Hardware,
    rt: Runtime,
    util: float,
    floor: int,
    region: str | None,
    target: int | None = None,
    lora: LoraSlots | None = None,
    *,
    weights: int,
    kv_tok: int,
) -> list[str]:
    """The ways out of a no-fit, in the order the error line gives them. `weights` and `kv_tok`: the model's
    weight bytes in `prec` and its KV bytes per token in `kv`, as the caller computed them for the line; only
    a smaller precision's weights are computed here."""
    ways: list[str] = []
    accel = hw.accelerator
    if hw.instance is not None:
        cloud = hw.instance.cloud
        where = region or DEFAULT_REGION[cloud]
        bigger = _cheapest_fitting_type(spec, prec, weights, kv_tok, rt, util, floor, cloud, where, lora)
        if bigger is not None:
            ways.append(f"a bigger type: {bigger.name} ({bigger.gpu_count}× {bigger.accelerator.key}, ${bigger.price_per_hour:,.2f}/h)")
    elif accel.kind == "gpu":
        for count in range(hw.count + 1, 9):
            more = Hardware(accel, count)
            if _plan(spec, weights, kv_tok, more, rt, util, floor, floor, lora=lora) is not None:
                ways.append(f"more GPUs: --count {count}")
                break
    same_count: Precision | None = None
    for cand in _smaller_precisions(prec, rt, accel):
        smaller = weight_bytes(spec, cand)
        if _plan(spec, smaller, kv_tok, hw, rt, util, floor, floor, lora=lora) is not None:
            need, _, _, _ = _need_and_offer(spec, smaller, kv_tok, hw, rt, util, floor, lora)
            ways.append(f"--quant {cand.key} (needs {fmt_gb(need)})")
            same_count = cand
            break
    quantized = decide_quantized_fit(spec, prec, kv, hw, rt, util, max(floor, target or floor), floor, lora)
    # Offered beside "--quant X" when it keeps more bits on more GPUs, or alone when no count of GPUs holds `prec`.
    if quantized is not None and (same_count is None or quantized.precision.bits_per_weight > same_count.bits_per_weight):
        ways.append(quantized.way_out(accel, hw.count))
    if util < 0.95 and accel.kind != "cpu":
        if _plan(spec, weights, kv_tok, hw, rt, 0.95, floor, floor, lora=lora) is not None:
            ways.append("--gpu-memory-utilization 0.95")
    return ways


def _no_fit_error(
    spec: ModelSpec,
    prec: Precision,
    kv: KvDtype,
    hw: Hardware,
    rt: Runtime,
    util: float,
    floor: int,
    region: str | None,
    *,
    prefix: str = "",
    extra_ways: tuple[str, ...] = (),
    target: int | None = None,
    lora: LoraSlots | None = None,
) -> UserError:
    weights = weight_bytes(spec, prec)
    kv_tok = kv_bytes_per_token(spec, kv)
    need, offer, overhead, tp = _need_and_offer(spec, weights, kv_tok, hw, rt, util, floor, lora)
    on = hw.label if tp == hw.count else f"{hw.label} (a valid tensor-parallel size uses {tp})"
    ways = [*extra_ways, *_ways_out(spec, prec, kv, hw, rt, util, floor, region, target, lora, weights=weights, kv_tok=kv_tok)]
    adapters = lora_bytes_per_gpu(spec, lora, tp) * tp
    lora_part = f" + {fmt_gb(adapters)} LoRA slots" if lora is not None else ""
    way_text = "; ".join(ways) if ways else "no single machine in the catalog holds it (multi-node serving is not sized here)"
    return UserError(
        f"{prefix}{spec.key} in {prec.key} needs {fmt_gb(need)} ({fmt_gb(weights)} weights + {fmt_gb(overhead)} "
        f"runtime{lora_part} + {fmt_gb(kv_tok * floor)} KV for {fmt_int(floor)} tokens) but {on} offers {fmt_gb(offer)} at "
        f"memory utilization {util:.2f}; ways out: {way_text}"
    )


# ---------------------------------------------------------------------------------------------
# Instance choice
# ---------------------------------------------------------------------------------------------


def fitting_instances(
    model: ModelSpec | str,
    *,
    cloud: str,
    region: str | None = None,
    quantization: str | Precision | None = None,
    context: int | None = None,
    runtime: str = "vllm",
    kv_cache_dtype: str | KvDtype | None = None,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    typical_seq_len: int = TYPICAL_SEQ_LEN,
    lora: LoraSlots | None = None,
) -> tuple[FitResult, ...]:
    """Every catalog type of `cloud` in `region` (default: the cloud's price region) that fits, cheapest first.

    "Fits" means holding the requested context (default 8,192 tokens, or the model's maximum if that is
    smaller); when no type does, the types holding at least `MIN_CONTEXT` tokens are returned and their
    context is capped. Each fit is sized as `fit` sizes it on that type. Raises UserError when none fits.
    """
    spec = get_model(model)
    cl = get_cloud(cloud)
    where = check_region(cl, region) if region is not None else DEFAULT_REGION[cl]
    rt = get_runtime(runtime)
    if rt == "llamacpp":
        raise UserError("instance choice sizes vLLM/Triton servers; llama.cpp is for on-prem and edge devices")
    _check_util(gpu_memory_utilization)
    _check_context(context)
    target = min(context if context is not None else DEFAULT_CHOICE_CONTEXT, spec.max_context)
    floor = min(MIN_CONTEXT, target)
    usable: list[tuple[InstanceType, Precision, KvDtype]] = []
    for itype in instance_types(cl, where):
        try:
            prec, _ = resolve_precision(spec, quantization, rt, itype.accelerator)
            kv = _resolve_kv(kv_cache_dtype, rt, itype.accelerator)
        except UserError:
            continue
        usable.append((itype, prec, kv))
    if not usable:
        # Raise the precision problem itself (e.g. a runtime that does not take the quantization).
        resolve_precision(spec, quantization, rt, None)
        _resolve_kv(kv_cache_dtype, rt, None)
        raise UserError(f"no {cl} type in {where} supports quantization '{quantization}'")
    for goal in (target, floor):
        found = [
            fit(
                spec,
                itype,
                quantization=prec,
                context=context,
                runtime=rt,
                kv_cache_dtype=kv,
                gpu_memory_utilization=gpu_memory_utilization,
                typical_seq_len=typical_seq_len,
                region=where,
                lora=lora,
            )
            for itype, prec, kv in usable
            if _plan(
                spec,
                weight_bytes(spec, prec),
                kv_bytes_per_token(spec, kv),
                itype.hardware,
                rt,
                gpu_memory_utilization,
                goal,
                goal,
                lora=lora,
            )
            is not None
        ]
        if found:
            return tuple(found)
    largest = max(usable, key=lambda u: (u[0].accelerator.memory_gib * u[0].gpu_count, -u[0].price_per_hour))
    itype, prec, kv = largest
    weights, kv_tok = weight_bytes(spec, prec), kv_bytes_per_token(spec, kv)
    elsewhere = tuple(
        f"region {other} offers {found_type.name}"
        for other in _other_regions(cl, where)
        if (found_type := _cheapest_fitting_type(spec, prec, weights, kv_tok, rt, gpu_memory_utilization, floor, cl, other, lora))
        is not None
    )[:1]
    raise _no_fit_error(
        spec,
        prec,
        kv,
        itype.hardware,
        rt,
        gpu_memory_utilization,
        floor,
        where,
        prefix=f"no {cl} type in {where} fits: the largest is {itype.name}; ",
        extra_ways=elsewhere,
        lora=lora,
    )


def choose_instance(
    model: ModelSpec | str,
    *,
    cloud: str,
    region: str | None = None,
    quantization: str | Precision | None = None,
    context: int | None = None,
    runtime: str = "vllm",
    kv_cache_dtype: str | KvDtype | None = None,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    typical_seq_len: int = TYPICAL_SEQ_LEN,
    lora: LoraSlots | None = None,
) -> FitResult:
    """The cheapest catalog type of `cloud` in `region` that fits (see `fitting_instances`)."""
    return fitting_instances(
        model,
        cloud=cloud,
        region=region,
        quantization=quantization,
        context=context,
        runtime=runtime,
        kv_cache_dtype=kv_cache_dtype,
        gpu_memory_utilization=gpu_memory_utilization,
        typical_seq_len=typical_seq_len,
        lora=lora,
    )[0]


def _other_regions(cloud: str, region: str) -> tuple[str, ...]:
    from pulumi_llm.sizing.hardware import regions_of

    return tuple(r for r in regions_of(cloud) if r != region)


# ---------------------------------------------------------------------------------------------
# Startup-probe budget
# ---------------------------------------------------------------------------------------------

# A 60 × 10 s probe is the usual floor (kserve/kserve config/llmisvc/config-llm-template.yaml,
# vllm-project/production-stack helm/templates/deployment-vllm-multi.yaml, awslabs/ai-on-eks-charts);
# large models get up to 30 min (NVIDIA/nim-deploy helm/nim-llm/values.yaml: failureThreshold 180 × 10 s).
PROBE_MIN_SECONDS = 600
PROBE_MAX_SECONDS = 1800
PROBE_PERIOD_SECONDS = 10
# 894 GiB from EFS took ~43 min (≈ 370 MB/s, modelplaneai/modelplane#204); 250 MB/s is a conservative
# read of network/object storage without a local cache.
LOAD_MB_PER_S = 250
# Engine init 48 s + torch.compile 34 s measured on EKS, rounded up
# (dirien/what-is-ai-platform-engineering-and-why-should-you-care:00-infrastructure/STARTUP_OPTIMIZATION.md).
ENGINE_INIT_SECONDS = 90
# A 35B model (~70 GB in bf16) spent ~210 s profiling its KV cache (vllm#44881): ~3 s per GB, 30 s minimum.
PROFILE_SECONDS_PER_GB = 3.0
PROFILE_MIN_SECONDS = 30
PROBE_MARGIN = 1.5


@dataclass(frozen=True)
class StartupBudget:
    """How long a startup probe should wait, and the parts of that estimate."""

    seconds: int
    period_seconds: int
    failure_threshold: int
    load_seconds: float
    engine_init_seconds: float
    profile_seconds: float
    estimate_seconds: float
    """load + init + profiling, × the margin, before clamping to [min, max]."""
    notes: tuple[str, ...]


def startup_probe_budget(
    weight_bytes_total: int,
    *,
    load_mb_per_s: float = LOAD_MB_PER_S,
    min_seconds: int = PROBE_MIN_SECONDS,
    max_seconds: int = PROBE_MAX_SECONDS,
    period_seconds: int = PROBE_PERIOD_SECONDS,
) -> StartupBudget:
    """Seconds a startup probe should allow a server whose weights weigh `weight_bytes_total`.

    (weights / load throughput + engine init + KV profiling) × 1.5, clamped to [10 min, 30 min] and
    rounded up to whole probe periods.
    """
    if weight_bytes_total <= 0:
        raise UserError(f"weight size must be positive, not {weight_bytes_total}")
    if load_mb_per_s <= 0:
        raise UserError(f"load throughput must be positive, not {load_mb_per_s:g} MB/s")
    size_gb = weight_bytes_total / GB
    load = weight_bytes_total / (load_mb_per_s * 1e6)
    profile = max(PROFILE_MIN_SECONDS, PROFILE_SECONDS_PER_GB * size_gb)
    estimate = (load + ENGINE_INIT_SECONDS + profile) * PROBE_MARGIN
    notes: list[str] = [
        f"weights {size_gb:.1f} GB loaded at {load_mb_per_s:g} MB/s, engine init {ENGINE_INIT_SECONDS} s, "
        f"KV profiling {profile:.0f} s, × {PROBE_MARGIN} margin"
    ]
    seconds = estimate
    if estimate < min_seconds:
        seconds = min_seconds
    elif estimate > max_seconds:
        seconds = max_seconds
        notes.append(
            f"estimate {estimate / 60:.0f} min is above the {max_seconds // 60}-min ceiling: stage weights on "
            "local NVMe or stream them (runai_streamer) so the server starts within it"
        )
    threshold = math.ceil(seconds / period_seconds)
    return StartupBudget(
        seconds=threshold * period_seconds,
        period_seconds=period_seconds,
        failure_threshold=threshold,
        load_seconds=load,
        engine_init_seconds=ENGINE_INIT_SECONDS,
        profile_seconds=profile,
        estimate_seconds=estimate,
        notes=tuple(notes),
    )
