"""Weight precisions (dtypes and quantizations), KV-cache dtypes, and which runtime serves which.

Bytes per weight
----------------
* bf16 / fp16 / GGUF F16: 16 bits.
* fp8 (vLLM `--quantization fp8`, also dynamic from a bf16 checkpoint) and int8 (W8A8): 8 bits on the
  linear layers. vLLM keeps the token embeddings and the LM head in 16-bit, so they are counted at 2 bytes.
* AWQ / GPTQ int4: 4 bits plus one fp16 scale and one 4-bit zero point per group of 128 weights
  (the default group size of AutoAWQ and of most published GPTQ checkpoints) = 4 + 20/128 ≈ 4.16 bits.
  Embeddings and LM head stay 16-bit, as in the published checkpoints. Example: Llama-3-8B AWQ counts
  1.05 B embedding/head parameters at 2 bytes and 6.98 B linear parameters at 0.52 bytes = 5.7 GB,
  which is the size of the published checkpoints.
* MXFP4 (gpt-oss): 4-bit values with one 8-bit shared exponent per 32 = 4.25 bits, on the MoE expert
  weights only; attention, embeddings and router stay 16-bit (that is how OpenAI publishes gpt-oss, and
  it gives 65 GB for gpt-oss-120b and 13.8 GB for gpt-oss-20b, matching the released checkpoints).
* GGUF types: effective bits per weight of the whole file (k-quant mixtures keep some tensors at more
  bits), from the llama.cpp quantize table for Llama-3.1-8B (ggml-org/llama.cpp:tools/quantize/README.md:
  Q2_K 3.1593, Q4_K_S 4.6672, Q4_K_M 4.8944, Q5_K_M 5.7036, Q6_K 6.5633, Q8_0 8.5008, F16 16.0005).
  Q3_K_M and Q4_0 are derived from the older table's file sizes for Llama-3-8B (3.74 and 4.34 GiB,
  i.e. 4.00 and 4.64 bits). Other models vary by a few percent with their embedding share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pulumi_llm.errors import UserError
from pulumi_llm.sizing._common import lookup, normalize_key

Scope = Literal["all", "linear", "experts"]
Runtime = Literal["vllm", "triton", "llamacpp"]
PrecisionFamily = Literal["float", "vllm-quant", "gguf", "mxfp4"]
"""How a precision is produced and served: plain floats, a vLLM quantization, GGUF files, or MXFP4."""

RUNTIMES: tuple[Runtime, ...] = ("vllm", "triton", "llamacpp")

_AWQ_BITS = 4 + (16 + 4) / 128  # 4-bit weights + fp16 scale + 4-bit zero per group of 128


@dataclass(frozen=True)
class Precision:
    """How weights are stored.

    `bits_per_weight` applies to the part of the model named by `scope`: "all" (every parameter),
    "linear" (every parameter except the token embeddings and LM head, which stay 16-bit), or
    "experts" (only MoE expert weights; the rest stays 16-bit).
    """

    key: str
    label: str
    bits_per_weight: float
    scope: Scope
    family: PrecisionFamily
    vllm_dtype: str | None = None
    """vLLM `--dtype` value, when this precision is served by vLLM."""
    vllm_quantization: str | None = None
    """vLLM `--quantization` value (None: no quantization flag)."""
    prequantized: bool = False
    """True when a checkpoint already quantized this way is needed (AWQ, GPTQ, MXFP4, GGUF files)."""
    min_cuda_arch: int | None = None
    """Lowest CUDA compute capability (e.g. 80 = Ampere) the runtime's kernels need; None: any."""

    @property
    def bytes_per_weight(self) -> float:
        return self.bits_per_weight / 8


@dataclass(frozen=True)
class KvDtype:
    """How the KV cache is stored, separate from the weights. Default: 16-bit."""

    key: str
    label: str
    bytes_per_value: float
    runtimes: tuple[Runtime, ...]
    vllm_value: str | None = None
    """vLLM `--kv-cache-dtype` value."""
    llamacpp_value: str | None = None
    """llama.cpp `--cache-type-k/-v` value."""
    min_cuda_arch: int | None = None


def _p(
    key: str,
    label: str,
    bits: float,
    scope: Scope,
    family: PrecisionFamily,
    *,
    vllm_dtype: str | None = None,
    vllm_quantization: str | None = None,
    prequantized: bool = False,
    min_cuda_arch: int | None = None,
) -> Precision:
    return Precision(
        key=key,
        label=label,
        bits_per_weight=bits,
        scope=scope,
        family=family,
        vllm_dtype=vllm_dtype,
        vllm_quantization=vllm_quantization,
        prequantized=prequantized,
        min_cuda_arch=min_cuda_arch,
    )


PRECISIONS: dict[str, Precision] = {
    p.key: p
    for p in (
        _p("bf16", "bfloat16", 16, "all", "float", vllm_dtype="bfloat16", min_cuda_arch=80),
        _p("fp16", "float16", 16, "all", "float", vllm_dtype="float16", min_cuda_arch=70),
        _p("fp8", "FP8 (E4M3), linear layers", 8, "linear", "vllm-quant", vllm_dtype="auto", vllm_quantization="fp8", min_cuda_arch=80),
        _p("int8", "INT8 W8A8, linear layers", 8, "linear", "vllm-quant", vllm_dtype="auto", prequantized=True, min_cuda_arch=75),
        _p(
            "awq",
            "AWQ int4, group 128",
            _AWQ_BITS,
            "linear",
            "vllm-quant",
            vllm_dtype="auto",
            vllm_quantization="awq",
            prequantized=True,
            min_cuda_arch=75,
        ),
        _p(
            "gptq",
            "GPTQ int4, group 128",
            _AWQ_BITS,
            "linear",
            "vllm-quant",
            vllm_dtype="auto",
            vllm_quantization="gptq",
            prequantized=True,
            min_cuda_arch=60,
        ),
        _p("mxfp4", "MXFP4 experts (gpt-oss)", 4.25, "experts", "mxfp4", vllm_dtype="auto", prequantized=True, min_cuda_arch=80),
        _p("q2_k", "GGUF Q2_K", 3.1593, "all", "gguf", prequantized=True),
        _p("q3_k_m", "GGUF Q3_K_M", 4.00, "all", "gguf", prequantized=True),
        _p("q4_0", "GGUF Q4_0", 4.64, "all", "gguf", prequantized=True),
        _p("q4_k_s", "GGUF Q4_K_S", 4.6672, "all", "gguf", prequantized=True),
        _p("q4_k_m", "GGUF Q4_K_M", 4.8944, "all", "gguf", prequantized=True),
        _p("q5_k_m", "GGUF Q5_K_M", 5.7036, "all", "gguf", prequantized=True),
        _p("q6_k", "GGUF Q6_K", 6.5633, "all", "gguf", prequantized=True),
        _p("q8_0", "GGUF Q8_0", 8.5008, "all", "gguf", prequantized=True),
        _p("f16", "GGUF F16", 16.0005, "all", "gguf", prequantized=True),
    )
}

_PRECISION_ALIASES = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "fp8-e4m3": "fp8",
    "w8a8": "int8",
    "int4-awq": "awq",
    "awq-int4": "awq",
    "gptq-int4": "gptq",
    "gguf-f16": "f16",
}

_VLLM_PRECISIONS = ("bf16", "fp16", "fp8", "int8", "awq", "gptq", "mxfp4")
_GGUF_PRECISIONS = tuple(k for k, p in PRECISIONS.items() if p.family == "gguf")

RUNTIME_PRECISIONS: dict[Runtime, tuple[str, ...]] = {
    "vllm": _VLLM_PRECISIONS,
    # Triton serves LLMs here through its vLLM backend, so it takes exactly what vLLM takes.
    "triton": _VLLM_PRECISIONS,
    "llamacpp": _GGUF_PRECISIONS,
}
"""Precision keys each runtime can serve."""

KV_DTYPES: dict[str, KvDtype] = {
    k.key: k
    for k in (
        KvDtype("auto", "16-bit (model dtype)", 2.0, ("vllm", "triton"), vllm_value="auto"),
        KvDtype("fp8", "FP8 E4M3", 1.0, ("vllm", "triton"), vllm_value="fp8", min_cuda_arch=80),
        KvDtype("f16", "f16", 2.0, ("llamacpp",), llamacpp_value="f16"),
        KvDtype("q8_0", "q8_0 (8.5 bits)", 8.5 / 8, ("llamacpp",), llamacpp_value="q8_0"),
        KvDtype("q4_0", "q4_0 (4.5 bits)", 4.5 / 8, ("llamacpp",), llamacpp_value="q4_0"),
    )
}
_KV_ALIASES = {"fp16": "auto", "bf16": "auto", "16": "auto", "fp8-e4m3": "fp8"}

DEFAULT_KV_DTYPE: dict[Runtime, str] = {"vllm": "auto", "triton": "auto", "llamacpp": "f16"}
DEFAULT_GGUF = "q4_k_m"
"""Precision used for llama.cpp when none is given: the usual size/quality trade-off."""


def get_runtime(name: str) -> Runtime:
    """Validate a runtime name ('vllm', 'triton', 'llamacpp'; 'llama.cpp' accepted)."""
    table: dict[str, Runtime] = {r: r for r in RUNTIMES}
    return lookup("runtime", name, table, aliases={"llama.cpp": "llamacpp", "llama-cpp": "llamacpp"})


def get_precision(key: str) -> Precision:
    """Look a precision up by key (case-insensitive; 'Q4_K_M', 'bfloat16' and the like are accepted)."""
    return lookup("quantization", key, PRECISIONS, aliases=_PRECISION_ALIASES, normalize=_norm_precision)


def get_kv_dtype(key: str) -> KvDtype:
    return lookup("KV-cache dtype", key, KV_DTYPES, aliases=_KV_ALIASES, normalize=_norm_precision)


def _norm_precision(text: str) -> str:
    """Keys use '_' (q4_k_m) while aliases use '-' (fp8-e4m3): prefer the underscore form when it is a key."""
    norm = normalize_key(text)
    underscored = norm.replace("-", "_")
    if underscored in PRECISIONS or underscored in KV_DTYPES:
        return underscored
    return norm


def supported_precisions(runtime: Runtime) -> tuple[Precision, ...]:
    return tuple(PRECISIONS[k] for k in RUNTIME_PRECISIONS[runtime])


def check_runtime_precision(runtime: Runtime, precision: Precision) -> None:
    """Raise UserError when `runtime` cannot serve `precision`."""
    allowed = RUNTIME_PRECISIONS[runtime]
    if precision.key not in allowed:
        raise UserError(f"quantization '{precision.key}' is not served by {runtime}; {runtime} takes: {', '.join(allowed)}")


def check_runtime_kv_dtype(runtime: Runtime, kv: KvDtype) -> None:
    if runtime not in kv.runtimes:
        allowed = [k for k, v in KV_DTYPES.items() if runtime in v.runtimes]
        raise UserError(f"KV-cache dtype '{kv.key}' is not available in {runtime}; {runtime} takes: {', '.join(allowed)}")
