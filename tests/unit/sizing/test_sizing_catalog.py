"""Catalog contents, look-ups with did-you-mean, ModelSpec validation, precision/runtime support."""

from __future__ import annotations

import re

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.sizing import (
    ACCELERATORS,
    API_PRICES,
    API_PROVIDERS,
    INSTANCE_TYPES,
    MODELS,
    PRECISIONS,
    RUNTIME_PRECISIONS,
    ModelSpec,
    check_instance_region,
    check_region,
    check_runtime_precision,
    get_accelerator,
    get_api_price,
    get_instance_type,
    get_kv_dtype,
    get_model,
    get_precision,
    get_runtime,
    infer_cloud,
    instance_types,
)

# --- models -----------------------------------------------------------------------------------


def test_catalog_has_the_models_later_code_names():
    for key in (
        "llama-3.1-8b-instruct",
        "llama-3.1-70b-instruct",
        "llama-3.1-405b-instruct",
        "llama-3.3-70b-instruct",
        "llama-3.2-1b-instruct",
        "llama-3.2-3b-instruct",
        "llama-2-7b-chat",
        "llama-2-70b-chat",
        "mistral-7b-instruct-v0.3",
        "mixtral-8x7b-instruct-v0.1",
        "qwen2.5-7b-instruct",
        "qwen2.5-32b-instruct",
        "qwen2.5-72b-instruct",
        "qwen3-8b",
        "qwen3-32b",
        "qwen3-30b-a3b",
        "gemma-2-9b-it",
        "gemma-2-27b-it",
        "gemma-3-12b-it",
        "gemma-3-27b-it",
        "gpt-oss-20b",
        "gpt-oss-120b",
        "phi-3.5-mini-instruct",
        "phi-4",
    ):
        assert key in MODELS


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("Llama-3.1-8B-Instruct", "llama-3.1-8b-instruct"),
        ("llama 3.1 8b", "llama-3.1-8b-instruct"),
        ("META-LLAMA/Llama-3.3-70B-Instruct", "llama-3.3-70b-instruct"),
        ("gemma_3_27b", "gemma-3-27b-it"),
        ("Mixtral-8x7B", "mixtral-8x7b-instruct-v0.1"),
    ],
)
def test_model_lookup_is_case_insensitive_and_takes_short_names(query: str, key: str):
    assert get_model(query).key == key


def test_model_miss_suggests_close_keys():
    with pytest.raises(UserError) as err:
        get_model("qwen3-8")
    assert str(err.value) == "unknown model 'qwen3-8'; did you mean qwen3-8b or qwen3-32b or qwen3-30b-a3b?"


def test_model_miss_with_nothing_close_lists_known_keys():
    with pytest.raises(UserError) as err:
        get_model("zzz")
    assert str(err.value).startswith("unknown model 'zzz'; known: gemma-2-27b-it, gemma-2-9b-it, ")
    assert str(err.value).endswith(" more") and ", … " in str(err.value)


def test_moe_models_distinguish_total_and_active_parameters():
    mixtral = get_model("mixtral-8x7b-instruct-v0.1")
    assert mixtral.is_moe and mixtral.total_params_b == pytest.approx(46.7)
    assert mixtral.resolved_active_params_b == pytest.approx(12.9, abs=0.05)
    for key in ("qwen3-30b-a3b", "gpt-oss-20b", "gpt-oss-120b"):
        spec = get_model(key)
        assert spec.is_moe and spec.resolved_active_params_b < spec.total_params_b / 3
        # The published active count and the config-derived one agree within 20 % (publishers differ
        # on whether embeddings count as active).
        derived = spec.total_params_b - spec.expert_params_b * (1 - spec.experts_per_token / spec.num_experts)
        assert derived == pytest.approx(spec.resolved_active_params_b, rel=0.2)


def test_every_catalog_model_is_internally_consistent():
    for spec in MODELS.values():
        assert spec.num_attention_heads % spec.num_kv_heads == 0
        assert spec.hf_repo and "/" in spec.hf_repo
        assert spec.max_context >= 4096
        # Embeddings are a part of the parameters, never all of them (catches unit slips).
        assert spec.embedding_params < spec.total_params
    assert get_model("llama-3.1-8b-instruct").gated and not get_model("qwen2.5-7b-instruct").gated
    assert get_model("gpt-oss-120b").native_precision == "mxfp4"


def test_model_spec_builds_a_custom_model():
    spec = ModelSpec.from_dict(
        {
            "key": "my-ft",
            "total_params_b": 8.03,
            "num_layers": 32,
            "hidden_size": 4096,
            "num_attention_heads": 32,
            "num_kv_heads": 8,
            "max_context": 32768,
            "vocab_size": 128256,
            "hf_repo": "acme/my-ft",
        }
    )
    assert spec.resolved_head_dim == 128 and spec.resolved_active_params_b == 8.03
    assert get_model(spec) is spec


_BASE = dict(
    key="custom",
    total_params_b=8.0,
    num_layers=32,
    hidden_size=4096,
    num_attention_heads=32,
    num_kv_heads=8,
    max_context=8192,
    vocab_size=32000,
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_kv_heads": 5}, "model custom: num_attention_heads (32) must be divisible by num_kv_heads (5)"),
        (
            {"hidden_size": 4000, "num_attention_heads": 48, "num_kv_heads": 8},
            "model custom: hidden_size (4000) is not divisible by num_attention_heads (48); set head_dim",
        ),
        ({"num_layers": 0}, "model custom: num_layers must be a positive integer, not 0"),
        ({"vocab_size": 32000.5}, "model custom: vocab_size must be a positive integer, not 32000.5"),
        ({"total_params_b": 8_030_000_000}, "model custom: total_params_b is in billions and must be between 0 and 10,000, not 8.03e+09"),
        (
            {"total_params_b": 0.1},
            "model custom: vocab_size × hidden_size alone is 0.26 B parameters, more than total_params_b (0.1); "
            "total_params_b is in billions",
        ),
        ({"active_params_b": 9.0}, "model custom: active_params_b (9) must be above 0 and at most total_params_b (8)"),
        ({"num_experts": 8}, "model custom: an MoE model needs num_experts >= 2 and 1 <= experts_per_token <= num_experts (got 8 and 0)"),
        (
            {"num_experts": 8, "experts_per_token": 2},
            "model custom: an MoE model needs expert_params_b (parameters inside the experts, in billions)",
        ),
        ({"native_precision": "int3"}, "model custom: native_precision 'int3' is unknown; use one of " + ", ".join(PRECISIONS)),
        ({"key": " "}, "model: key must be a non-empty name"),
    ],
)
def test_model_spec_validation_messages(changes: dict, message: str):
    with pytest.raises(UserError) as err:
        ModelSpec(**{**_BASE, **changes})
    assert str(err.value) == message


def test_model_spec_from_dict_rejects_unknown_and_missing_fields():
    with pytest.raises(UserError) as err:
        ModelSpec.from_dict({**_BASE, "num_kv_head": 8})
    assert str(err.value) == "model custom: unknown field 'num_kv_head'; did you mean num_kv_heads?"
    with pytest.raises(UserError) as err:
        ModelSpec.from_dict({"key": "x", "num_layers": 2})
    assert str(err.value) == ("model x: missing total_params_b, hidden_size, num_attention_heads, num_kv_heads, max_context, vocab_size")


# --- hardware ---------------------------------------------------------------------------------


def test_accelerators_cover_datacenter_gpus_and_jetson():
    for key in (
        "L4",
        "A10G",
        "L40S",
        "A100-40GB",
        "A100-80GB",
        "H100-80GB",
        "H200",
        "Orin-Nano-8GB",
        "Orin-NX-16GB",
        "AGX-Orin-32GB",
        "AGX-Orin-64GB",
    ):
        acc = get_accelerator(key.lower())
        assert acc.key == key and acc.memory_gib > 0 and acc.bandwidth_gbs > 0 and acc.bf16_tflops > 0
    assert all(a.unified_memory and a.cuda_arch == 87 for a in ACCELERATORS.values() if a.kind == "jetson")
    assert not get_accelerator("T4").supports_bf16


def test_accelerator_miss_suggests():
    with pytest.raises(UserError) as err:
        get_accelerator("H100-80")
    assert str(err.value) == "unknown GPU 'H100-80'; did you mean H100-80GB or A100-80GB or H100-NVL?"


def test_instance_catalog_entries_are_complete_and_dated():
    clouds = {t.cloud for t in INSTANCE_TYPES.values()}
    assert clouds == {"aws", "gcp", "azure"}
    for t in INSTANCE_TYPES.values():
        assert t.accelerator.key  # resolves
        assert t.gpu_count >= 1 and t.vcpu >= 4 and t.ram_gib >= 16 and t.price_per_hour > 0
        assert re.fullmatch(r"\d{4}-\d{2}", t.price_as_of)
        assert t.price_source.startswith("https://") and "transcribed by hand" in t.price_source
        assert t.regions
        # The price was read in a region that offers the type (the p5e stand-in borrows p5en's).
        assert (t.price_region in t.regions) or t.price_is_estimate
        assert not t.price_is_estimate or t.price_note
    for name in (
        "g5.xlarge",
        "g5.48xlarge",
        "g6.xlarge",
        "g6.48xlarge",
        "g6e.xlarge",
        "p4d.24xlarge",
        "p4de.24xlarge",
        "p5.48xlarge",
        "p5e.48xlarge",
        "g2-standard-4",
        "a2-highgpu-1g",
        "a2-ultragpu-8g",
        "a3-highgpu-8g",
        "a3-megagpu-8g",
        "a3-ultragpu-8g",
        "Standard_NC24ads_A100_v4",
        "Standard_NC48ads_A100_v4",
        "Standard_NC96ads_A100_v4",
        "Standard_NC40ads_H100_v5",
        "Standard_NC80adis_H100_v5",
        "Standard_NV36ads_A10_v5",
        "Standard_NC4as_T4_v3",
    ):
        assert get_instance_type(name.upper()).name == name


def test_price_label_is_honest_about_its_origin():
    label = get_instance_type("g5.xlarge").price_label
    assert label.startswith("list price as published in 2025-06 for us-east-1 (https://aws.amazon.com/")
    assert get_instance_type("p5e.48xlarge").price_label.startswith("estimated price in 2025-06")


def test_instance_lookup_errors():
    with pytest.raises(UserError) as err:
        get_instance_type("g5.xlarg")
    assert str(err.value) == "unknown instance type 'g5.xlarg'; did you mean g5.xlarge or g5.8xlarge or g5.4xlarge?"
    with pytest.raises(UserError) as err:
        get_instance_type("g5.xlarge", "gcp")
    assert str(err.value) == "instance type g5.xlarge belongs to aws, not gcp"


def test_regions_gate_instance_types():
    g6e = get_instance_type("g6e.xlarge")
    check_instance_region(g6e, "us-west-2")
    with pytest.raises(UserError) as err:
        check_instance_region(g6e, "sa-east-1")
    assert str(err.value) == (
        "instance type g6e.xlarge is not offered in sa-east-1 in the catalog; it is in: us-east-1, us-east-2, "
        "us-west-2, eu-central-1, ap-northeast-1"
    )
    assert all(t.offered_in("eu-west-1") for t in instance_types("aws", "eu-west-1"))
    assert "p5.48xlarge" not in {t.name for t in instance_types("aws", "eu-west-1")}
    assert [t.price_per_hour for t in instance_types("gcp")] == sorted(t.price_per_hour for t in instance_types("gcp"))


def test_region_checks():
    assert check_region("azure", "EastUS") == "eastus"
    with pytest.raises(UserError) as err:
        check_region("aws", "us-east-9")
    assert str(err.value) == "region 'us-east-9' has no aws GPU type in the catalog; did you mean us-east-2 or us-east-1 or us-west-2?"
    assert infer_cloud("us-central1") == "gcp" and infer_cloud("westeurope") == "azure"
    with pytest.raises(UserError) as err:
        infer_cloud("mars-1")
    assert str(err.value) == "cannot tell the cloud of region 'mars-1'; pass --cloud aws, gcp or azure"


# --- precision ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "bits"),
    [
        ("BF16", "bf16", 16),
        ("float16", "fp16", 16),
        ("FP8", "fp8", 8),
        ("int8", "int8", 8),
        ("awq", "awq", 4.15625),
        ("GPTQ", "gptq", 4.15625),
        ("Q4_K_M", "q4_k_m", 4.8944),
        ("q8_0", "q8_0", 8.5008),
        ("Q2_K", "q2_k", 3.1593),
        ("Q3_K_M", "q3_k_m", 4.0),
        ("Q4_0", "q4_0", 4.64),
        ("Q5_K_M", "q5_k_m", 5.7036),
        ("Q6_K", "q6_k", 6.5633),
        ("F16", "f16", 16.0005),
    ],
)
def test_precisions_and_their_bits(name: str, key: str, bits: float):
    prec = get_precision(name)
    assert prec.key == key and prec.bits_per_weight == pytest.approx(bits)


def test_runtime_support_table():
    assert RUNTIME_PRECISIONS["vllm"] == ("bf16", "fp16", "fp8", "int8", "awq", "gptq", "mxfp4")
    assert RUNTIME_PRECISIONS["triton"] == RUNTIME_PRECISIONS["vllm"]
    assert set(RUNTIME_PRECISIONS["llamacpp"]) >= {"q2_k", "q3_k_m", "q4_0", "q4_k_m", "q5_k_m", "q6_k", "q8_0", "f16"}
    assert get_runtime("llama.cpp") == "llamacpp"
    with pytest.raises(UserError) as err:
        check_runtime_precision("llamacpp", get_precision("awq"))
    assert str(err.value).startswith("quantization 'awq' is not served by llamacpp; llamacpp takes: q2_k, q3_k_m,")
    with pytest.raises(UserError) as err:
        check_runtime_precision("vllm", get_precision("q4_k_m"))
    assert str(err.value) == "quantization 'q4_k_m' is not served by vllm; vllm takes: bf16, fp16, fp8, int8, awq, gptq, mxfp4"


def test_precision_and_kv_dtype_misses():
    with pytest.raises(UserError) as err:
        get_precision("q4km")
    assert str(err.value) == "unknown quantization 'q4km'; did you mean q4_k_m or q5_k_m or q4_k_s?"
    assert get_kv_dtype("FP16").key == "auto"
    with pytest.raises(UserError) as err:
        get_kv_dtype("int2")
    assert str(err.value).startswith("unknown KV-cache dtype 'int2'; ")


# --- API prices -------------------------------------------------------------------------------


def test_api_prices_cover_every_provider_and_tier_with_dates_and_sources():
    for provider in API_PROVIDERS:
        tiers = {p.tier for p in API_PRICES if p.provider == provider}
        assert tiers == {"small", "medium", "large"}, provider
    for price in API_PRICES:
        assert 0 < price.input_per_m <= price.output_per_m
        assert re.fullmatch(r"\d{4}-\d{2}", price.as_of) and price.source.startswith("https://")
    assert get_api_price("OpenAI/GPT-4o-mini").input_per_m == 0.15
    with pytest.raises(UserError) as err:
        get_api_price("openai/gpt-4o-mni")
    assert str(err.value).startswith("unknown API model 'openai/gpt-4o-mni'; did you mean openai/gpt-4o-mini")
