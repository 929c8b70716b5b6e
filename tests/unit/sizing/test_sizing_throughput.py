"""Throughput/latency estimates: the calibration point, physical sanity, and printed assumptions."""

from __future__ import annotations

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.sizing import (
    Hardware,
    Workload,
    estimate_throughput,
    fit,
    get_accelerator,
    get_instance_type,
)
from pulumi_llm.sizing.throughput import BW_EFFICIENCY


def test_reproduces_nim_llama3_8b_on_a_g5_2xlarge():
    # ai-on-eks nvidia-nim-llama3.md: genai-perf, 200 input / 112 output tokens (measured average),
    # concurrency 10 → 284.64 output tok/s, 2.54 req/s on one A10G (g5.2xlarge), fp16.
    result = fit("llama-3-8b-instruct", get_instance_type("g5.2xlarge"), quantization="fp16", typical_seq_len=312)
    est = estimate_throughput(result, Workload(prompt_tokens=200, output_tokens=112), concurrency=10)
    assert est.concurrency == 10
    assert est.output_tokens_per_s == pytest.approx(284.6, rel=0.03)
    assert est.requests_per_s == pytest.approx(2.54, rel=0.03)
    assert est.latency_s == pytest.approx(3.93, rel=0.03)  # genai-perf: 3.93 s average request latency
    assert est.bound == "memory bandwidth"


def test_single_stream_decode_is_bandwidth_over_weight_bytes():
    result = fit("llama-3.1-8b-instruct", Hardware(get_accelerator("H100-80GB")), context=8192)
    est = estimate_throughput(result, Workload(prompt_tokens=16, output_tokens=256), concurrency=1)
    ideal = 3350e9 * BW_EFFICIENCY / result.memory.weights
    assert est.output_tokens_per_s == pytest.approx(ideal, rel=0.02)
    assert est.tpot_s == pytest.approx(1 / ideal, rel=0.02)


def test_batching_raises_throughput_but_not_single_request_speed():
    result = fit("llama-3.1-8b-instruct", Hardware(get_accelerator("H100-80GB")), context=8192)
    one = estimate_throughput(result, concurrency=1)
    many = estimate_throughput(result, concurrency=64)
    assert many.output_tokens_per_s > 20 * one.output_tokens_per_s
    assert many.tpot_s >= one.tpot_s
    assert many.ttft_s == one.ttft_s


def test_concurrency_is_capped_by_the_kv_cache():
    result = fit("llama-3.1-8b-instruct", get_instance_type("g6.xlarge"))
    est = estimate_throughput(result, Workload(1536, 512), concurrency=1000)
    assert est.concurrency == est.max_concurrency == result.kv_tokens // 2048
    assert f"{est.concurrency} in flight (the KV cache allows {est.max_concurrency})" in est.assumptions[0]


def test_moe_reads_only_the_touched_experts_at_small_batch():
    h100 = Hardware(get_accelerator("H100-80GB"))
    moe = fit("qwen3-30b-a3b", h100, context=8192)
    dense = fit("qwen3-32b", Hardware(get_accelerator("H100-80GB"), 2), context=8192)
    moe_one = estimate_throughput(moe, concurrency=1)
    # 3.3 B active of 30.5 B: one token reads the dense part and 8 of 128 experts per layer.
    assert moe_one.output_tokens_per_s > 3 * estimate_throughput(dense, concurrency=1).output_tokens_per_s
    assert any(a.startswith("MoE: a batch of 1 reads 6% of the experts") for a in moe_one.assumptions)


def test_tensor_parallel_scales_with_an_efficiency_penalty_that_is_stated():
    one = fit("llama-3.1-8b-instruct", Hardware(get_accelerator("A100-80GB")), context=8192)
    est = estimate_throughput(fit("llama-3.1-70b-instruct", get_instance_type("p4de.24xlarge")), concurrency=1)
    assert "tensor parallel over 4 GPUs scales at 90% (nvlink; assumed)" in est.assumptions
    assert est.output_tokens_per_s < estimate_throughput(one, concurrency=1).output_tokens_per_s


def test_assumptions_are_printable_and_name_the_calibration():
    result = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), quantization="fp8")
    text = estimate_throughput(result).format_assumptions()
    lines = text.splitlines()
    assert all(line.startswith("- ") for line in lines)
    assert any("284.6 output tok/s" in line for line in lines)
    assert any("assumed, not calibrated" in line for line in lines)
    assert "- FP8 (E4M3), linear layers weights read at their stored size; dequantization cost ignored" in lines


def test_a_workload_longer_than_the_context_is_rejected():
    result = fit("llama-3.1-8b-instruct", get_instance_type("g6.xlarge"), context=4096)
    with pytest.raises(UserError) as err:
        estimate_throughput(result, Workload(4000, 500))
    assert str(err.value) == ("a request of 4,500 tokens does not fit max_model_len 4,096; shorten the workload or ask for more context")
    with pytest.raises(UserError, match=r"^concurrency must be at least 1, not 0$"):
        estimate_throughput(result, concurrency=0)
    with pytest.raises(UserError, match=r"^workload needs prompt tokens >= 0 and output tokens >= 1, not 10 and 0$"):
        Workload(10, 0)
