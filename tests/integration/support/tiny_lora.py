"""Write a tiny LoRA adapter for the tiny test model (tiny_model.py), fully offline and without peft.

Runs inside the vLLM venv (it needs torch and safetensors), as a script:

    <vllm-venv>/bin/python tests/integration/support/tiny_lora.py MODEL_DIR DEST [SEED]

The adapter is what ``peft``'s ``save_pretrained`` writes for a LoRA on a Llama model: an
``adapter_config.json`` (peft_type LORA, rank, alpha, target modules) and ``adapter_model.safetensors``
with one ``lora_A`` ([rank, in]) and one ``lora_B`` ([out, rank]) matrix per targeted projection, named
``base_model.model.model.layers.<i>.self_attn.<proj>.lora_A.weight`` — the names vLLM's LoRA loader
strips ``base_model.model.`` from and maps onto the model's modules. The shapes are read from the
model's own config.json, so the adapter always matches the model it was made for. Seeded: the same
SEED gives the same tensors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RANK = 8
ALPHA = 16
TARGETS = ("q_proj", "v_proj")


def make_tiny_lora(model_dir: Path, dest: Path, seed: int = 0) -> Path:
    """An adapter for the model in ``model_dir``, written into ``dest`` (created if needed)."""
    import torch  # pyright: ignore[reportMissingImports]  (only in the separate model-building env, not .venv)
    from safetensors.torch import save_file  # pyright: ignore[reportMissingImports]  (same env)

    config = json.loads((model_dir / "config.json").read_text())
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // config["num_attention_heads"]
    out_features = {"q_proj": config["num_attention_heads"] * head_dim, "v_proj": config["num_key_value_heads"] * head_dim}
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, object] = {}
    for layer in range(config["num_hidden_layers"]):
        for proj in TARGETS:
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
            tensors[f"{prefix}.lora_A.weight"] = torch.randn(RANK, hidden, generator=generator) * 0.01
            tensors[f"{prefix}.lora_B.weight"] = torch.randn(out_features[proj], RANK, generator=generator) * 0.01
    dest.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dest / "adapter_model.safetensors"))
    adapter_config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(model_dir),
        "r": RANK,
        "lora_alpha": ALPHA,
        "lora_dropout": 0.0,
        "target_modules": list(TARGETS),
        "bias": "none",
        "fan_in_fan_out": False,
        "modules_to_save": None,
        "use_rslora": False,
        "use_dora": False,
        "inference_mode": True,
    }
    (dest / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2) + "\n")
    return dest


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(f"usage: {argv[0]} MODEL_DIR DEST [SEED]", file=sys.stderr)
        return 2
    print(make_tiny_lora(Path(argv[1]), Path(argv[2]), int(argv[3]) if len(argv) == 4 else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
