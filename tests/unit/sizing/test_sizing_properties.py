"""Properties that must hold for every model, precision and piece of hardware."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pulumi_llm.errors import UserError
from pulumi_llm.sizing import (
    ACCELERATORS,
    MODELS,
    PRECISIONS,
    Hardware,
    ModelSpec,
    fit,
    valid_tensor_parallel_sizes,
    weight_bytes,
)

GPU_KEYS = sorted(k for k, a in ACCELERATORS.items() if a.kind == "gpu" and a.supports_bf16)
DENSE_KEYS = sorted(k for k, m in MODELS.items() if m.native_precision == "bf16")
VLLM_FAMILY = ("bf16", "fp8", "awq")  # 16 → 8 → ~4 bits, all on the linear layers or everything
GGUF_FAMILY = sorted((k for k, p in PRECISIONS.items() if p.family == "gguf"), key=lambda k: PRECISIONS[k].bits_per_weight)

models = st.sampled_from(sorted(MODELS))
dense_models = st.sampled_from(DENSE_KEYS)
gpu_keys = st.sampled_from(GPU_KEYS)
counts = st.sampled_from([1, 2, 4, 8])
contexts = st.one_of(st.none(), st.integers(min_value=1, max_value=262_144))


def _fit_or_none(*args, **kwargs):
    try:
        return fit(*args, **kwargs)
    except UserError:
        return None


@settings(max_examples=150, deadline=None)
@given(
    model=dense_models,
    gpu=gpu_keys,
    count=counts,
    context=contexts,
    extra=st.floats(min_value=1.0, max_value=64.0),
    quant=st.sampled_from(VLLM_FAMILY),
)
def test_fit_never_gets_worse_with_more_gpu_memory(model, gpu, count, context, extra, quant):
    acc = ACCELERATORS[gpu]
    small = _fit_or_none(model, Hardware(acc, count), context=context, quantization=quant)
    big = _fit_or_none(model, Hardware(replace(acc, memory_gib=acc.memory_gib + extra), count), context=context, quantization=quant)
    if small is None:
        return
    assert big is not None
    assert big.max_model_len >= small.max_model_len
    assert big.tensor_parallel_size <= small.tensor_parallel_size
    if big.tensor_parallel_size == small.tensor_parallel_size:
        assert big.kv_tokens >= small.kv_tokens


@settings(max_examples=150, deadline=None)
@given(
    model=dense_models,
    gpu=gpu_keys,
    count=counts,
    context=contexts,
    pair=st.sampled_from([(a, b) for i, a in enumerate(VLLM_FAMILY) for b in VLLM_FAMILY[i + 1 :]]),
)
def test_a_smaller_quantization_never_needs_more_memory_on_vllm(model, gpu, count, context, pair):
    larger, smaller = pair
    assert weight_bytes(model, smaller) < weight_bytes(model, larger)
    acc = ACCELERATORS[gpu]
    big_fit = _fit_or_none(model, Hardware(acc, count), context=context, quantization=larger)
    small_fit = _fit_or_none(model, Hardware(acc, count), context=context, quantization=smaller)
    if big_fit is not None:
        assert small_fit is not None
        assert small_fit.max_model_len >= big_fit.max_model_len


@settings(max_examples=100, deadline=None)
@given(
    model=models, i=st.integers(0, len(GGUF_FAMILY) - 2), j=st.integers(1, len(GGUF_FAMILY) - 1), ram=st.floats(min_value=2, max_value=512)
)
def test_a_smaller_gguf_type_never_needs_more_memory(model, i, j, ram):
    assume(i < j)
    smaller, larger = GGUF_FAMILY[i], GGUF_FAMILY[j]
    assert weight_bytes(model, smaller) <= weight_bytes(model, larger)
    from pulumi_llm.sizing import cpu_host

    host = Hardware(cpu_host(ram))
    if _fit_or_none(model, host, runtime="llamacpp", quantization=larger) is not None:
        assert _fit_or_none(model, host, runtime="llamacpp", quantization=smaller) is not None


@st.composite
def model_specs(draw) -> ModelSpec:
    kv = draw(st.sampled_from([1, 2, 4, 5, 8, 10, 16, 32]))
    heads = kv * draw(st.sampled_from([1, 2, 3, 4, 6, 8]))
    head_dim = draw(st.sampled_from([64, 96, 128, 256]))
    layers = draw(st.integers(2, 96))
    hidden = heads * head_dim
    vocab = draw(st.sampled_from([32000, 128256]))
    dense = 12 * layers * hidden * hidden / 1e9  # attention + MLP, a rough transformer count
    total = dense + 2 * vocab * hidden / 1e9
    return ModelSpec(
        key="prop",
        total_params_b=total,
        num_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv,
        max_context=draw(st.sampled_from([4096, 32768])),
        vocab_size=vocab,
    )


@settings(max_examples=200, deadline=None)
@given(spec=model_specs(), gpu=gpu_keys, count=st.integers(1, 8))
def test_chosen_tp_divides_heads_and_kv_heads_and_fits_the_gpus(spec, gpu, count):
    for tp in valid_tensor_parallel_sizes(spec, count):
        assert spec.num_attention_heads % tp == 0 and spec.num_kv_heads % tp == 0
    result = _fit_or_none(spec, Hardware(ACCELERATORS[gpu], count))
    if result is None:
        return
    tp = result.tensor_parallel_size
    assert 1 <= tp <= count
    assert spec.num_attention_heads % tp == 0 and spec.num_kv_heads % tp == 0
    assert result.memory.weights + result.memory.overhead + result.memory.kv_cache <= result.memory.budget + tp
    assert result.max_model_len <= min(spec.max_context, result.kv_tokens)
