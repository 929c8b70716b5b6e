"""Throughput and latency estimates for a fitted server: a roofline model with calibrated efficiency.

Model
-----
A server with `c` requests in flight, each with P prompt and O output tokens, works in cycles: every
request is prefilled once and decoded for O steps. Decode steps are bound by memory bandwidth — each
step reads the weights (for MoE only the experts the batch touches) and the KV cache of every sequence
— and the whole cycle is bound by compute (2 × active parameters FLOPs per token plus attention).
With chunked prefill the two overlap, so a cycle lasts the larger of the two:

    T = max(O × bytes_per_step / (bandwidth × η_bw × η_tp),  c × FLOPs_per_request / (peak × MFU × η_tp))

Requests/s = c / T, output tokens/s = c × O / T, latency per request = T, time per output token = T / O.
TTFT is one prefill without queueing.

Calibration
-----------
η_bw = 0.78 reproduces NIM llama3-8b on EKS, on a g5.2xlarge (one A10G, fp16): 284.6 output tok/s and
2.54 req/s at concurrency 10 with 200 prompt / 112 output tokens (awslabs/ai-on-eks
website/docs/ai/inference/GPUs/nvidia-nim-llama3.md). This model gives 285 tok/s and 2.55 req/s there.
MFU (0.45) and the tensor-parallel scaling factors are assumptions, not calibrated here; they are printed
with every estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_llm.errors import UserError
from pulumi_llm.sizing.fit import FitResult, weight_bytes
from pulumi_llm.sizing.models import ModelSpec
from pulumi_llm.sizing.precision import Precision

BW_EFFICIENCY = 0.78
"""Share of peak memory bandwidth decode achieves (calibrated, see the module docstring)."""
LLAMACPP_BW_EFFICIENCY = 0.60
"""llama.cpp's share of peak bandwidth (assumed: its kernels trail vLLM's on GPUs and CPUs alike)."""
MFU = 0.45
"""Share of dense 16-bit peak FLOP/s reached by prefill and batched decode GEMMs (assumed)."""
TP_EFFICIENCY = {"nvlink": 0.90, "pcie": 0.75, "none": 1.0}
"""Scaling of tensor parallelism by interconnect, for tp > 1 (assumed)."""
DEFAULT_PROMPT_TOKENS = 1536
DEFAULT_OUTPUT_TOKENS = 512

_CALIBRATION = (
    "calibrated on NIM llama3-8b, g5.2xlarge A10G: 284.6 output tok/s, 2.54 req/s at concurrency 10 (ai-on-eks nvidia-nim-llama3.md)"
)


@dataclass(frozen=True)
class Workload:
    """Tokens per request. Default 1,536 in + 512 out: a 3:1 input:output mix, 2,048 tokens in all."""

    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    output_tokens: int = DEFAULT_OUTPUT_TOKENS

    def __post_init__(self) -> None:
        if self.prompt_tokens < 0 or self.output_tokens < 1:
            raise UserError(f"workload needs prompt tokens >= 0 and output tokens >= 1, not {self.prompt_tokens} and {self.output_tokens}")

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


@dataclass(frozen=True)
class ThroughputEstimate:
    """What one server does under a steady workload, with the assumptions that produced it."""

    workload: Workload
    concurrency: int
    max_concurrency: int
    """Requests of this workload the KV cache (and max_num_seqs) lets run at once."""
    output_tokens_per_s: float
    input_tokens_per_s: float
    requests_per_s: float
    ttft_s: float
    """Time to first token of one request, without queueing or network."""
    tpot_s: float
    """Time per output token seen by a request at this concurrency."""
    latency_s: float
    """Time a request spends in the server at this concurrency."""
    bound: str
    """'memory bandwidth' or 'compute': what limits a cycle."""
    assumptions: tuple[str, ...]

    @property
    def total_tokens_per_s(self) -> float:
        return self.output_tokens_per_s + self.input_tokens_per_s

    def format_assumptions(self) -> str:
        """The assumptions as printable lines ('- …')."""
        return "\n".join(f"- {a}" for a in self.assumptions)


def _expert_bytes(spec: ModelSpec, prec: Precision) -> float:
    if not spec.is_moe:
        return 0.0
    return spec.expert_params_b * 1e9 * prec.bytes_per_weight


def _touched_share(spec: ModelSpec, batch: int) -> float:
    """Expected share of a layer's experts a batch of `batch` tokens routes to."""
    if not spec.is_moe:
        return 1.0
    return 1.0 - (1.0 - spec.experts_per_token / spec.num_experts) ** batch


def _rates(fit: FitResult) -> tuple[float, float, float, float]:
    """Effective bytes/s, effective FLOP/s, η_bw and η_tp of the server."""
    accel = fit.hardware.accelerator
    tp = fit.tensor_parallel_size
    eta_bw = LLAMACPP_BW_EFFICIENCY if fit.runtime == "llamacpp" else BW_EFFICIENCY
    eta_tp = 1.0 if tp == 1 else TP_EFFICIENCY[fit.hardware.interconnect]
    bandwidth = accel.bandwidth_gbs * 1e9 * tp * eta_bw * eta_tp
    flops = accel.bf16_tflops * 1e12 * tp * MFU * eta_tp
    return bandwidth, flops, eta_bw, eta_tp


def decode_step_bytes(fit: FitResult, batch: int, context_tokens: float) -> float:
    """Bytes one decode step reads: the weights (touched experts only) plus the KV of every sequence."""
    spec = fit.model
    weights = weight_bytes(spec, fit.precision)
    experts = _expert_bytes(spec, fit.precision)
    read = (weights - experts) + experts * _touched_share(spec, batch)
    return read + batch * context_tokens * fit.kv_bytes_per_token


def _flops_per_token(spec: ModelSpec, context_tokens: float) -> float:
    attention = 4 * spec.num_layers * context_tokens * spec.num_attention_heads * spec.resolved_head_dim
    return 2 * spec.resolved_active_params_b * 1e9 + attention


def estimate_throughput(
    fit: FitResult,
    workload: Workload | None = None,
    concurrency: int | None = None,
) -> ThroughputEstimate:
    """Throughput and latency of one server at `concurrency` (default: as many as the KV cache holds)."""
    wl = workload or Workload()
    if wl.tokens > fit.max_model_len:
        raise UserError(
            f"a request of {wl.tokens:,} tokens does not fit max_model_len {fit.max_model_len:,}; "
            "shorten the workload or ask for more context"
        )
    max_c = max(1, min(fit.max_num_seqs, fit.kv_tokens // wl.tokens))
    if concurrency is not None and concurrency < 1:
        raise UserError(f"concurrency must be at least 1, not {concurrency}")
    c = max_c if concurrency is None else min(concurrency, max_c)
    spec = fit.model
    bandwidth, flops, eta_bw, eta_tp = _rates(fit)

    avg_ctx = wl.prompt_tokens + wl.output_tokens / 2
    step_bytes = decode_step_bytes(fit, c, avg_ctx)
    t_mem = wl.output_tokens * step_bytes / bandwidth
    prefill_flops = 2 * spec.resolved_active_params_b * 1e9 * wl.prompt_tokens + (
        2 * spec.num_layers * wl.prompt_tokens**2 * spec.num_attention_heads * spec.resolved_head_dim
    )
    request_flops = prefill_flops + wl.output_tokens * _flops_per_token(spec, avg_ctx)
    t_comp = c * request_flops / flops
    cycle = max(t_mem, t_comp)

    weights = weight_bytes(spec, fit.precision)
    prefill = max(prefill_flops / flops, weights / bandwidth)
    single_step = decode_step_bytes(fit, 1, wl.prompt_tokens) / bandwidth
    accel = fit.hardware.accelerator
    tp = fit.tensor_parallel_size
    assumptions = [
        f"workload: {wl.prompt_tokens:,} prompt + {wl.output_tokens:,} output tokens per request, "
        f"{c} in flight (the KV cache allows {max_c})",
        f"decode reads weights + KV at {eta_bw:.0%} of {accel.bandwidth_gbs:,.0f} GB/s per GPU"
        + (f" ({_CALIBRATION})" if fit.runtime != "llamacpp" else " (assumed for llama.cpp)"),
        f"compute at {MFU:.0%} of {accel.bf16_tflops:,.0f} dense 16-bit TFLOP/s per GPU (assumed, not calibrated)",
        "prefill overlaps decode (chunked prefill): a cycle lasts max(memory time, compute time)",
        "TTFT is one prefill with no queueing and no network time",
    ]
    if tp > 1:
        assumptions.append(f"tensor parallel over {tp} GPUs scales at {eta_tp:.0%} ({fit.hardware.interconnect}; assumed)")
    if spec.is_moe:
        assumptions.append(
            f"MoE: a batch of {c} reads {_touched_share(spec, c):.0%} of the experts per step "
            f"(1 − (1 − {spec.experts_per_token}/{spec.num_experts})^batch)"
        )
    if fit.precision.family != "float":
        assumptions.append(f"{fit.precision.label} weights read at their stored size; dequantization cost ignored")
    if fit.gpus_idle:
        assumptions.append(f"one server on {tp} of {fit.hardware.count} GPUs; the idle GPUs add nothing here")
    return ThroughputEstimate(
        workload=wl,
        concurrency=c,
        max_concurrency=max_c,
        output_tokens_per_s=c * wl.output_tokens / cycle,
        input_tokens_per_s=c * wl.prompt_tokens / cycle,
        requests_per_s=c / cycle,
        ttft_s=prefill + single_step,
        tpot_s=cycle / wl.output_tokens,
        latency_s=cycle,
        bound="memory bandwidth" if t_mem >= t_comp else "compute",
        assumptions=tuple(assumptions),
    )
