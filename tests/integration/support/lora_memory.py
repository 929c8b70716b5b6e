"""Print the bytes of the LoRA buffers a real vLLM allocates for a model, as JSON (total and per module).

Runs inside the vLLM venv, as a script:

    <vllm-venv>/bin/python tests/integration/support/lora_memory.py MODEL_DIR MAX_LORAS MAX_RANK

It loads MODEL_DIR in-process with LoRA enabled (float32, the CPU build's dtype for the tiny model), then
sums every ``*lora_a_stacked`` / ``*lora_b_stacked`` tensor of the wrapped layers through ``LLM.apply_model``:
the buffers sizing/lora.py estimates.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

STACKED = ("lora_a_stacked", "lora_b_stacked", "w13_lora_a_stacked", "w13_lora_b_stacked", "w2_lora_a_stacked", "w2_lora_b_stacked")


def lora_bytes(model: Any) -> dict[str, int]:
    """Bytes of each wrapped module's stacked LoRA tensors (each tensor counted once)."""
    import torch  # pyright: ignore[reportMissingImports]  (only in the vLLM venv, not .venv)

    seen: set[int] = set()
    out: dict[str, int] = {}
    for name, module in model.named_modules():
        for attr in STACKED:
            value: Any = getattr(module, attr, None)
            tensors: list[Any] = list(value) if isinstance(value, (tuple, list)) else [value]
            for tensor in tensors:
                if isinstance(tensor, torch.Tensor) and tensor.data_ptr() not in seen:
                    seen.add(tensor.data_ptr())
                    out[f"{name}.{attr}"] = out.get(f"{name}.{attr}", 0) + tensor.numel() * tensor.element_size()
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(f"usage: {argv[0]} MODEL_DIR MAX_LORAS MAX_RANK", file=sys.stderr)
        return 2
    # One process (apply_model runs the function on the engine's own model) with the function pickled to it.
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    os.environ["VLLM_ALLOW_INSECURE_SERIALIZATION"] = "1"
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from vllm import LLM  # pyright: ignore[reportMissingImports]  (only in the vLLM venv)

    llm = LLM(
        model=argv[1],
        enable_lora=True,
        max_loras=int(argv[2]),
        max_lora_rank=int(argv[3]),
        dtype="float32",
        max_model_len=512,
        enforce_eager=True,
    )
    [modules] = llm.apply_model(lora_bytes)
    print(json.dumps({"total": sum(modules.values()), "modules": modules}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
