"""The LoRA buffers sizing reserves (sizing/lora.py) are what a real vLLM 0.32 allocates.

The tiny offline model (support/tiny_model.py: hidden 256, 2 layers, MLP 512, vocabulary 512, float32) is
loaded by the CPU build of vLLM 0.32.0 with 2 slots of rank 8 and 2 slots of rank 16; the bytes of every
stacked A/B buffer it allocated (support/lora_memory.py) equal `decide_lora_bytes` for the same numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.sizing import LoraSlots  # noqa: E402
from pulumi_llm.sizing.lora import LoraShape, decide_lora_bytes  # noqa: E402
from support.vllm_env import ensure_vllm_env  # noqa: E402

pytestmark = pytest.mark.integration

SUPPORT = Path(__file__).resolve().parent / "support"
TINY = LoraShape(hidden=256, q_size=256, kv_size=256, intermediate=512, layers=2, vocab=512, head_dim=64)
FLOAT32 = 4


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    python = ensure_vllm_env()
    dest = tmp_path_factory.mktemp("tiny")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([str(python), str(SUPPORT / "tiny_model.py"), str(dest)], check=True, timeout=600, capture_output=True, env=env)
    assert json.loads((dest / "config.json").read_text())["vocab_size"] == TINY.vocab
    return python, dest


@pytest.mark.parametrize(("max_loras", "rank"), [(2, 8), (2, 16)])
def test_vllm_allocates_what_sizing_reserves(tiny_model: tuple[Path, Path], max_loras: int, rank: int) -> None:
    python, model = tiny_model
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(python), str(SUPPORT / "lora_memory.py"), str(model), str(max_loras), str(rank)],
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
        env=env,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    # Every projection of both layers, the embedding and the LM head were wrapped.
    wrapped = {name.rsplit(".", 1)[0] for name in measured["modules"]}
    assert {"model.embed_tokens", "logits_processor", "model.layers.1.mlp.down_proj", "model.layers.0.self_attn.qkv_proj"} <= wrapped
    assert measured["total"] == decide_lora_bytes(TINY, LoraSlots(max_loras, rank), tp=1, dtype_bytes=FLOAT32)
