"""The GPU memory vLLM reserves for LoRA adapter slots, and that the fit gives the KV cache only what is left.

vLLM allocates zeroed A and B buffers for --max-loras slots at --max-lora-rank in every wrapped layer when
it loads the model (sizing/lora.py cites vLLM 0.32.0's files). Before, sizing ignored them: a server with
adapters was promised KV tokens those buffers hold.
"""

from __future__ import annotations

import pytest
from helpers import shipped_stack
from pulumi_llm.errors import UserError
from pulumi_llm.serving import size, stack_sizing
from pulumi_llm.settings import load
from pulumi_llm.sizing import GB, Hardware, LoraSlots, decide_lora_slots, fit, get_accelerator, get_model, sizing_summary
from pulumi_llm.sizing.lora import LoraShape, decide_lora_bytes, lora_shape

# tests/integration/support/tiny_model.py: hidden 256, 4 heads (and 4 KV heads) of 64, 2 layers, MLP 512,
# vocabulary 512, float32 (so its LoRA buffers are 4-byte too); tiny_lora.py writes rank-8 adapters.
TINY = LoraShape(hidden=256, q_size=256, kv_size=256, intermediate=512, layers=2, vocab=512, head_dim=64)


def test_tiny_model_buffers_are_the_tensors_vllm_allocates() -> None:
    rank, slots, h, inter, vocab = 8, 2, 256, 512, 512
    # Per layer and slot, (A, B) shapes as vLLM 0.32 allocates them at TP 1 (lora/layers/*.py):
    per_layer = [
        *[((rank, h), (256, rank))] * 3,  # q, k, v: MergedQKVParallelLinearWithLoRA, one A and B per slice
        ((rank, 256), (h, rank)),  # o_proj: RowParallelLinearWithLoRA
        *[((rank, h), (inter, rank))] * 2,  # gate, up: MergedColumnParallelLinearWithLoRA
        ((rank, inter), (h, rank)),  # down_proj
    ]
    whole = [((vocab, rank), (h, rank)), ((rank, h), (vocab, rank))]  # embed_tokens, lm_head (logits processor)
    numbers = 2 * sum(a[0] * a[1] + b[0] * b[1] for a, b in per_layer) + sum(a[0] * a[1] + b[0] * b[1] for a, b in whole)
    expected = slots * numbers * 4
    # 655,360 bytes is also what vLLM 0.32.0 allocated for this model (tests/integration/test_vllm_lora_memory.py).
    assert decide_lora_bytes(TINY, LoraSlots(max_loras=slots, max_rank=rank), tp=1, dtype_bytes=4) == expected == 655_360


def test_8b_example_derives_the_mlp_width_and_reserves_a_third_of_a_gib_for_four_rank_16_slots() -> None:
    spec = get_model("llama-3.1-8b-instruct")
    shape = lora_shape(spec)
    # meta-llama/Llama-3.1-8B-Instruct config.json: intermediate_size 14336; derived from 8.03 B parameters.
    assert (shape.hidden, shape.q_size, shape.kv_size, shape.intermediate, shape.vocab) == (4096, 4096, 1024, 14336, 128256)
    slots = LoraSlots(max_loras=4, max_rank=16)
    # Per layer (in + out) summed over q, k, v, o, gate, up, down: 7 h + 2 q + 2 kv + 3 I = 81,920;
    # 32 layers + embeddings 2 (vocab + h) = 2,886,144 numbers per rank, x 16 x 4 slots x 2 bytes.
    assert decide_lora_bytes(shape, slots) == 2_886_144 * 16 * 4 * 2 == 369_426_432
    # At TP 2 each GPU keeps column layers' whole input and row layers' whole output: more than half each.
    per_gpu_tp2 = decide_lora_bytes(shape, slots, tp=2)
    assert per_gpu_tp2 == (32 * (4 * 4096 + 4096 + 1024 + 3 * 4096 + 3 * 7168) + 2 * (128256 + 4096)) * 16 * 4 * 2
    assert 369_426_432 / 2 < per_gpu_tp2 < 369_426_432


def test_mlp_widths_derived_for_dense_and_moe_catalog_models() -> None:
    # Widths from each model's config.json: intermediate_size, moe_intermediate_size / num_local_experts.
    assert lora_shape(get_model("llama-3.1-70b-instruct")).intermediate == pytest.approx(28672, abs=2)
    assert lora_shape(get_model("qwen2.5-7b-instruct")).intermediate == pytest.approx(18944, abs=32)
    moe = lora_shape(get_model("qwen3-30b-a3b"))
    assert (moe.experts, moe.expert_intermediate, moe.intermediate) == (128, 768, 0)
    mixtral = lora_shape(get_model("mixtral-8x7b-instruct-v0.1"))
    assert (mixtral.experts, mixtral.intermediate) == (8, 0) and mixtral.expert_intermediate == pytest.approx(14336, abs=2)


def test_slots_follow_the_rendered_flags() -> None:
    assert decide_lora_slots(0, 16) is None
    assert decide_lora_slots(0, 32, runtime_loading=True) == LoraSlots(1, 32)
    assert decide_lora_slots(3, 64) == LoraSlots(3, 64)


def test_fit_takes_the_slots_out_of_the_kv_cache() -> None:
    l40s = Hardware(get_accelerator("L40S"), 1)
    plain = fit("llama-3.1-8b-instruct", l40s, context=8192)
    slots = LoraSlots(max_loras=4, max_rank=64)
    with_lora = fit("llama-3.1-8b-instruct", l40s, context=8192, lora=slots)
    reserved = 369_426_432 * 4  # rank 64 is four times rank 16's buffers
    assert (plain.memory.lora, with_lora.memory.lora) == (0, reserved)
    assert with_lora.memory.kv_cache == plain.memory.kv_cache - reserved
    assert with_lora.kv_tokens == with_lora.memory.kv_cache // with_lora.kv_bytes_per_token < plain.kv_tokens
    assert any(n.startswith("LoRA: 4 adapter slot(s) of rank 64 reserve 1.5 GB") for n in with_lora.notes)


def test_slots_that_leave_no_room_refuse_the_fit_naming_them() -> None:
    # 8B in bf16 fits one L4 alone; four rank-64 slots (1.5 GB) leave less than one 2,048-token sequence.
    l4 = Hardware(get_accelerator("L4"), 1)
    assert fit("llama-3.1-8b-instruct", l4, context=8192).max_model_len == 8192
    with pytest.raises(UserError) as refused:
        fit("llama-3.1-8b-instruct", l4, context=8192, lora=LoraSlots(max_loras=4, max_rank=64))
    message = str(refused.value)
    assert "\n" not in message
    assert "(16.1 GB weights + 3.8 GB runtime + 1.5 GB LoRA slots + 0.3 GB KV for 2,048 tokens) but 1× L4 offers 21.3 GB" in message
    assert "ways out: more GPUs: --count 2; --quant fp8" in message


def test_summary_shows_the_slots_only_with_adapters() -> None:
    plain = sizing_summary("llama-3.1-8b-instruct", accelerator="L40S", context=8192)
    assert "lora" not in plain and "lora_slots" not in plain["memory_gb"]
    summary = sizing_summary("llama-3.1-8b-instruct", accelerator="L40S", context=8192, lora=LoraSlots(4, 64))
    assert summary["memory_gb"]["lora_slots"] == pytest.approx(369_426_432 * 4 / GB, rel=1e-3)
    assert summary["lora"] == {"max_loras": 4, "max_rank": 64, "reserved_gb": summary["memory_gb"]["lora_slots"]}
    assert summary["kv_tokens"] < plain["kv_tokens"]


def test_a_stack_with_adapters_is_sized_and_summarised_with_their_slots() -> None:
    stack = shipped_stack("onprem")
    model = stack["config"]["pulumi-llm:models"]["llama-3-1-8b-instruct"]
    before = size(load(stack["config"], "stacks/Pulumi.onprem.yaml"), "llama-3-1-8b-instruct")
    model.update(lora_adapters={"sql": "lora/sql", "chat": "lora/chat"}, lora_max_rank=32)
    settings = load(stack["config"], "stacks/Pulumi.onprem.yaml")
    sized = size(settings, "llama-3-1-8b-instruct")
    expected = decide_lora_bytes(lora_shape(get_model("llama-3.1-8b-instruct")), LoraSlots(2, 32), tp=sized.tensor_parallel_size)
    assert sized.memory.lora == expected * sized.tensor_parallel_size > 0
    assert sized.kv_tokens < before.kv_tokens
    summary = next(s for s in stack_sizing(settings) if s["served_name"] == "llama-3-1-8b-instruct")
    assert summary["lora"]["max_loras"] == 2 and summary["lora"]["max_rank"] == 32
    assert summary["memory_gb"]["lora_slots"] == summary["lora"]["reserved_gb"] > 0
