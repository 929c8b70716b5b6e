"""Memory fit against published figures, tensor-parallel choice, vLLM settings, instance choice."""

from __future__ import annotations

from typing import cast

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.sizing import (
    GB,
    GIB,
    FitResult,
    Hardware,
    InstanceType,
    LlamaCppSettings,
    ModelSpec,
    VllmSettings,
    choose_instance,
    cpu_host,
    fit,
    fits,
    fitting_instances,
    get_accelerator,
    get_instance_type,
    kv_bytes_per_token,
    startup_probe_budget,
    valid_tensor_parallel_sizes,
    weight_bytes,
)


def instance(f: FitResult) -> InstanceType:
    """The instance type a chosen fit runs on (choose_instance/fitting_instances always set one)."""
    return cast(InstanceType, f.hardware.instance)


def gpus(key: str, count: int = 1) -> Hardware:
    return Hardware(get_accelerator(key), count)


# --- published figures ------------------------------------------------------------------------


def test_llama3_8b_kv_cache_is_131072_bytes_per_token_at_16_bit():
    # 2 (K, V) × 32 layers × 8 KV heads × 128 head dim × 2 bytes
    assert kv_bytes_per_token("llama-3-8b-instruct") == 131_072
    assert kv_bytes_per_token("llama-3.1-8b-instruct", "auto") == 131_072


def test_fp8_kv_cache_halves_the_bytes_per_token():
    assert kv_bytes_per_token("llama-3-8b-instruct", "fp8") == 65_536


def test_llama2_70b_weights_are_about_140_gb_at_16_bit():
    # 70e9 parameters × 2 bytes (16-bit) ≈ 140 GB
    assert weight_bytes("llama-2-70b-chat", "bf16") / GB == pytest.approx(140, rel=0.02)
    assert weight_bytes("llama-2-70b-chat", "fp16") == weight_bytes("llama-2-70b-chat", "bf16")


@pytest.mark.parametrize(
    ("quant", "gib"),
    # llama.cpp tools/quantize README, Llama-3.1-8B: the "size" column is in GiB.
    [("q2_k", 2.95), ("q4_k_m", 4.58), ("q5_k_m", 5.33), ("q6_k", 6.14), ("q8_0", 7.95), ("f16", 14.96)],
)
def test_llama3_8b_gguf_sizes_match_the_llama_cpp_table(quant: str, gib: float):
    assert weight_bytes("llama-3-8b-instruct", quant) / GIB == pytest.approx(gib, rel=0.005)


def test_llama3_8b_q4_k_m_is_about_4_6_gb():
    assert weight_bytes("llama-3-8b-instruct", "Q4_K_M") / GIB == pytest.approx(4.6, abs=0.05)


def test_gpt_oss_mxfp4_sizes_match_the_released_checkpoints():
    # Experts in MXFP4 (4.25 bits), the rest in bf16: ~65 GB and ~13.8 GB.
    assert weight_bytes("gpt-oss-120b", "mxfp4") / GB == pytest.approx(65.3, rel=0.01)
    assert weight_bytes("gpt-oss-20b", "mxfp4") / GB == pytest.approx(13.75, rel=0.01)


def test_awq_keeps_embeddings_at_16_bit_and_adds_group_scales():
    spec = fit("llama-3-8b-instruct", gpus("L4"), quantization="awq").model
    embed = 128_256 * 4096 * 2
    expected = embed * 2 + (spec.total_params - embed) * (4 + 20 / 128) / 8
    assert weight_bytes(spec, "awq") == int(expected)
    assert weight_bytes(spec, "awq") / GB == pytest.approx(5.73, abs=0.01)


def test_llama31_70b_bf16_does_not_fit_one_80gb_gpu_and_fits_four_with_tp4():
    with pytest.raises(UserError):
        fit("llama-3.1-70b-instruct", gpus("H100-80GB", 1))
    result = fit("llama-3.1-70b-instruct", gpus("H100-80GB", 4))
    assert result.tensor_parallel_size == 4
    assert result.max_model_len == 131_072  # GKE's Llama-3.3-70B on 4×H100: TP 4, --max-model-len=131072
    assert not result.context_capped
    assert result.vllm is not None and result.vllm.tensor_parallel_size == 4


def test_the_smallest_tensor_parallel_size_that_holds_the_context_is_chosen():
    eight = gpus("H100-80GB", 8)
    assert fit("llama-3.1-70b-instruct", eight).tensor_parallel_size == 4
    assert fit("llama-3.1-8b-instruct", eight).tensor_parallel_size == 1
    assert fit("llama-3.1-8b-instruct", eight).gpus_idle == 7


def test_tensor_parallel_must_divide_heads_and_kv_heads():
    # Phi-4: 40 heads, 10 KV heads → 1, 2, 5 (4 divides 40 but not 10).
    assert valid_tensor_parallel_sizes("phi-4", 8) == (1, 2, 5)
    # Qwen2.5-7B: 28 heads, 4 KV heads → 1, 2, 4.
    assert valid_tensor_parallel_sizes("qwen2.5-7b-instruct", 8) == (1, 2, 4)
    assert valid_tensor_parallel_sizes("phi-4", 8, "llamacpp") == tuple(range(1, 9))


def test_a_three_gpu_machine_uses_a_valid_tp_and_says_so_when_it_cannot_fit():
    with pytest.raises(UserError) as err:
        fit("llama-3.1-70b-instruct", gpus("L40S", 3))
    assert "1× L40S" not in str(err.value)
    assert "3× L40S (a valid tensor-parallel size uses 2)" in str(err.value)


def test_context_is_capped_to_what_fits_with_a_margin():
    result = fit("llama-3.1-8b-instruct", gpus("L4"))
    assert result.context_capped
    assert result.max_model_len % 256 == 0
    assert result.max_model_len <= 0.9 * result.kv_tokens
    assert result.max_model_len > 0.9 * result.kv_tokens - 256
    assert any(note.startswith("context capped to") for note in result.notes)


def test_context_above_the_model_maximum_is_capped_to_it():
    result = fit("llama-3-8b-instruct", gpus("H100-80GB"), context=100_000)
    assert result.max_model_len == 8192
    assert result.requested_context == 100_000
    assert any("above the model's maximum" in note for note in result.notes)


def test_requested_context_is_honoured_when_it_fits():
    result = fit("llama-3.1-8b-instruct", gpus("L40S"), context=32_768)
    assert result.max_model_len == 32_768 and not result.context_capped


def test_max_num_seqs_counts_typical_sequences_and_is_bounded():
    small = fit("llama-3.1-8b-instruct", gpus("L4"))
    assert small.max_num_seqs == small.kv_tokens // 2048
    big = fit("llama-3.2-1b-instruct", gpus("H200"))
    assert big.max_num_seqs == 256
    assert fit("llama-3.1-8b-instruct", gpus("L4"), typical_seq_len=512).max_num_seqs == small.kv_tokens // 512


def test_vllm_settings_carry_dtype_quantization_and_kv_dtype():
    bf16 = fit("llama-3.1-8b-instruct", gpus("L40S")).vllm
    assert bf16 is not None
    assert bf16.as_dict() == {
        "tensor_parallel_size": 1,
        "max_model_len": bf16.max_model_len,
        "max_num_seqs": bf16.max_num_seqs,
        "gpu_memory_utilization": 0.9,
        "dtype": "bfloat16",
        "quantization": None,
        "kv_cache_dtype": "auto",
    }
    fp8 = cast(VllmSettings, fit("llama-3.1-8b-instruct", gpus("L40S"), quantization="fp8", kv_cache_dtype="fp8").vllm)
    assert (fp8.dtype, fp8.quantization, fp8.kv_cache_dtype) == ("auto", "fp8", "fp8")


def test_t4_has_no_bf16_so_the_default_becomes_fp16():
    result = fit("llama-3.2-3b-instruct", gpus("T4"))
    assert result.precision.key == "fp16"
    assert cast(VllmSettings, result.vllm).dtype == "float16"
    assert "T4 has no bf16: weights served in fp16" in result.notes


def test_fp8_on_ampere_is_noted_as_weight_only():
    ampere = fit("llama-3.1-8b-instruct", gpus("A100-80GB"), quantization="fp8")
    assert "A100-80GB has no FP8 tensor cores: vLLM runs FP8 weight-only (memory saving, little speed-up)" in ampere.notes
    hopper = fit("llama-3.1-8b-instruct", gpus("H100-80GB"), quantization="fp8")
    assert not any("FP8 tensor cores" in note for note in hopper.notes)


def test_memory_breakdown_adds_up():
    result = fit("llama-3.1-70b-instruct", get_instance_type("p5.48xlarge"))
    mem = result.memory
    assert mem.gpus == 4
    assert mem.weights + mem.overhead + mem.kv_cache == pytest.approx(mem.budget, abs=4)
    assert mem.budget == pytest.approx(0.9 * mem.device_total, rel=1e-6)
    assert result.kv_tokens == mem.kv_cache // result.kv_bytes_per_token


def test_llama_cpp_on_jetson_counts_unified_memory_minus_the_os_reserve():
    nano = get_accelerator("orin-nano-8gb")
    assert nano.unified_memory and nano.model_memory_bytes == int((7.4 - 1.5) * GIB)
    result = fit("llama-3.2-3b-instruct", Hardware(nano), runtime="llama.cpp")
    assert result.precision.key == "q4_k_m"
    assert result.vllm is None
    settings = result.llamacpp
    assert settings is not None and settings.n_gpu_layers == 29 and settings.cache_type == "f16"
    assert settings.ctx_size == result.max_model_len * settings.parallel


def test_llama2_7b_q4_k_s_fits_agx_orin_but_is_tight_on_orin_nano():
    # jetson-containers: Llama-2-7B Q4_K_S uses 5,268 MB; "8 GB Orin Nano is tight for 7B".
    agx = fit("llama-2-7b-chat", gpus("AGX-Orin-32GB"), runtime="llamacpp", quantization="q4_k_s")
    assert agx.max_model_len == 4096 and not agx.context_capped
    nano = fit("llama-2-7b-chat", gpus("Orin-Nano-8GB"), runtime="llamacpp", quantization="q4_k_s")
    assert nano.context_capped and nano.max_model_len == 2048
    need = nano.memory.weights + nano.memory.overhead + 2048 * nano.kv_bytes_per_token
    assert need / 1e6 == pytest.approx(5268, rel=0.06)


def test_cpu_only_host_with_n_gib_of_ram():
    host = cpu_host(16)
    assert host.kind == "cpu" and host.memory_gib == 16 and host.cuda_arch is None
    result = fit("llama-3.2-3b-instruct", Hardware(host), runtime="llamacpp")
    assert cast(LlamaCppSettings, result.llamacpp).n_gpu_layers == 0
    assert not fits("llama-3.1-70b-instruct", Hardware(cpu_host(16)), runtime="llamacpp")
    with pytest.raises(UserError, match=r"^CPU host RAM must be a positive number of GiB, not -1$"):
        cpu_host(-1)


def test_a_custom_model_spec_is_sized_like_a_catalog_one():
    custom = ModelSpec(
        key="acme-13b-ft",
        total_params_b=13.0,
        num_layers=40,
        hidden_size=5120,
        num_attention_heads=40,
        num_kv_heads=40,
        max_context=4096,
        vocab_size=32000,
    )
    assert kv_bytes_per_token(custom) == 2 * 40 * 40 * 128 * 2
    result = fit(custom, gpus("A100-80GB"))
    assert result.model is custom and result.max_model_len == 4096


# --- the "does not fit" line ----------------------------------------------------------------


def test_no_fit_on_one_gpu_names_need_offer_and_ways_out():
    with pytest.raises(UserError) as err:
        fit("llama-3.1-70b-instruct", gpus("H100-80GB"))
    assert str(err.value) == (
        "llama-3.1-70b-instruct in bf16 needs 147.1 GB (141.1 GB weights + 5.4 GB runtime + 0.7 GB KV for "
        "2,048 tokens) but 1× H100-80GB offers 76.5 GB at memory utilization 0.90; ways out: more GPUs: "
        "--count 4; --quant awq (needs 45.8 GB); fp8 on 2× H100-80GB: --quant fp8 --count 2 (TP 2, context 131,072)"
    )


def test_70b_on_l4_offers_the_fp8_fit_on_8_gpus_with_its_context():
    # bf16 fits on no count of L4s and fp8 not on one: only the two together fit (issue 19, item 3).
    with pytest.raises(UserError) as err:
        fit("llama-3.1-70b-instruct", gpus("L4"), context=32768)
    assert str(err.value).endswith("ways out: fp8 on 8× L4: --quant fp8 --count 8 (TP 8, context 32,768)")
    # What it offers is what `fit` gives with those flags.
    offered = fit("llama-3.1-70b-instruct", gpus("L4", 8), quantization="fp8", context=32768)
    assert (offered.precision.key, offered.tensor_parallel_size, offered.max_model_len) == ("fp8", 8, 32768)
    assert not fits("llama-3.1-70b-instruct", gpus("L4", 8))
    assert not fits("llama-3.1-70b-instruct", gpus("L4", 4), quantization="fp8", context=32768)


def test_decide_quantized_fit_takes_the_most_bits_then_the_fewest_gpus():
    from pulumi_llm.sizing.fit import decide_quantized_fit
    from pulumi_llm.sizing.models import get_model
    from pulumi_llm.sizing.precision import KV_DTYPES, PRECISIONS

    spec, bf16, kv = get_model("llama-3.1-70b-instruct"), PRECISIONS["bf16"], KV_DTYPES["auto"]
    on_h100 = decide_quantized_fit(spec, bf16, kv, gpus("H100-80GB"), "vllm", 0.9, 131072, 2048)
    assert on_h100 is not None
    assert (on_h100.precision.key, on_h100.count, on_h100.tensor_parallel_size, on_h100.capped) == ("fp8", 2, 2, False)
    # T4 (compute 7.5) has no fp8 kernels: AWQ, capped context (the KV left on 8 T4s holds less than 128k).
    on_t4 = decide_quantized_fit(spec, PRECISIONS["fp16"], kv, gpus("T4"), "vllm", 0.9, 131072, 2048)
    assert on_t4 is not None and (on_t4.precision.key, on_t4.count, on_t4.capped) == ("awq", 8, True)
    assert on_t4.max_model_len < 131072
    # A machine type's GPU count is not the user's to change, and nothing holds 405B on one T4 node.
    assert decide_quantized_fit(spec, bf16, kv, get_instance_type("g5.xlarge").hardware, "vllm", 0.9, 8192, 2048) is None
    assert decide_quantized_fit(get_model("llama-3.1-405b-instruct"), PRECISIONS["fp16"], kv, gpus("T4"), "vllm", 0.9, 8192, 2048) is None


def test_no_fit_on_an_instance_names_a_bigger_type_that_fits():
    with pytest.raises(UserError) as err:
        fit("llama-3.1-70b-instruct", get_instance_type("g5.xlarge"))
    message = str(err.value)
    assert "\n" not in message
    assert message.endswith("ways out: a bigger type: g6e.12xlarge (4× L40S, $10.49/h)")
    assert fits("llama-3.1-70b-instruct", get_instance_type("g6e.12xlarge"))


def test_no_fit_suggests_a_quantization_that_fits():
    with pytest.raises(UserError) as err:
        fit("llama-3.1-405b-instruct", get_instance_type("p5.48xlarge"))
    assert "ways out: a bigger type: p5en.48xlarge (8× H200, $63.30/h); --quant fp8 (needs 474.5 GB)" in str(err.value)
    assert fits("llama-3.1-405b-instruct", get_instance_type("p5.48xlarge"), quantization="fp8")


# --- instance choice ----------------------------------------------------------------------------


def test_cheapest_type_that_fits_per_cloud():
    assert instance(choose_instance("llama-3.1-8b-instruct", cloud="aws")).name == "g6.xlarge"
    assert instance(choose_instance("llama-3.1-8b-instruct", cloud="gcp")).name == "g2-standard-4"
    assert instance(choose_instance("llama-3.1-70b-instruct", cloud="gcp")).name == "a2-ultragpu-4g"


def test_instance_choice_prefers_types_that_hold_the_requested_context():
    # A 2×L4 type is cheaper but only holds ~7k tokens of Phi-4; the A100-40GB holds 8,192.
    chosen = choose_instance("phi-4", cloud="gcp")
    assert instance(chosen).name == "a2-highgpu-1g"
    assert not chosen.context_capped


def test_fitting_instances_are_cheapest_first_and_all_fit():
    found = fitting_instances("llama-3.1-70b-instruct", cloud="aws")
    prices = [instance(f).price_per_hour for f in found]
    assert prices == sorted(prices)
    assert {instance(f).name for f in found} >= {"p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge"}


def test_instance_choice_respects_region_availability():
    # 405B in bf16 needs 8× H200. The catalog lists p5e.48xlarge only in us-east-2, and no H200 type
    # in eu-west-1: there the error points at a region that has one.
    chosen = choose_instance("llama-3.1-405b-instruct", cloud="aws", region="us-east-2")
    assert chosen.hardware.accelerator.key == "H200"
    with pytest.raises(UserError) as err:
        choose_instance("llama-3.1-405b-instruct", cloud="aws", region="eu-west-1")
    message = str(err.value)
    assert message.startswith("no aws type in eu-west-1 fits: the largest is p4d.24xlarge; llama-3.1-405b-instruct in bf16 needs ")
    assert "ways out: region us-east-1 offers p5en.48xlarge; --quant awq" in message


def test_instance_choice_rejects_llama_cpp():
    with pytest.raises(UserError, match=r"^instance choice sizes vLLM/Triton servers; llama.cpp is for on-prem and edge devices$"):
        choose_instance("llama-3.1-8b-instruct", cloud="aws", runtime="llamacpp")


# --- startup probe ------------------------------------------------------------------------------


def test_startup_probe_floor_is_60_times_10_seconds():
    budget = startup_probe_budget(weight_bytes("llama-3.1-8b-instruct", "bf16"))
    assert (budget.seconds, budget.period_seconds, budget.failure_threshold) == (600, 10, 60)


def test_startup_probe_grows_with_the_weights_up_to_30_minutes():
    seventy = startup_probe_budget(weight_bytes("llama-3.1-70b-instruct", "bf16"))
    # 141 GB / 250 MB/s = 564 s, + 90 s init, + 423 s profiling, × 1.5 = 1,617 s → 162 periods
    assert seventy.failure_threshold == 162 and seventy.seconds == 1620
    huge = startup_probe_budget(weight_bytes("llama-3.1-405b-instruct", "fp8"))
    assert huge.seconds == 1800 and huge.failure_threshold == 180
    assert huge.estimate_seconds > 1800
    assert "above the 30-min ceiling" in huge.notes[-1]


def test_startup_probe_rejects_nonsense():
    with pytest.raises(UserError, match=r"^weight size must be positive, not 0$"):
        startup_probe_budget(0)
