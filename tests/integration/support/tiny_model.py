"""Build a tiny, randomly initialised Llama model with its own BPE tokenizer, fully offline.

Runs inside the vLLM venv (it needs torch, transformers and tokenizers), so the tests call it as a
script with that venv's python:

    <vllm-venv>/bin/python tests/integration/support/tiny_model.py DEST

The result is a Hugging Face model directory (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, chat template, generation_config.json) that vLLM serves with
``--model DEST``. Shape: hidden 256, 4 heads of head_dim 64 (the CPU attention backend rejects
head_dim 16), 2 layers, vocabulary of a few hundred tokens. Everything is seeded: the same DEST
contents come out on every run.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

SEED = 1234
VOCAB_SIZE = 512
HIDDEN = 256
HEADS = 4
HEAD_DIM = 64
LAYERS = 2
INTERMEDIATE = 512
MAX_POSITIONS = 1024

BOS, EOS, UNK, PAD = "<s>", "</s>", "<unk>", "<pad>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]

# A plain role-tagged template; enough for /v1/chat/completions to render prompts.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' }}\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}\n{% endif %}"
)

_WORDS = (
    "the a model serves tokens from a cluster of nodes gateway route request response latency "
    "budget cache prefix stream chunk health ready metrics queue running waiting kernel tensor "
    "weight layer head vector prompt answer question hello world cloud region zone pod service "
    "deploy stack config value error retry limit rate quota user system assistant tiny llama"
).split()


def _corpus(rng: random.Random, lines: int = 3000) -> list[str]:
    out = []
    for _ in range(lines):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 16))]
        sentence = " ".join(words).capitalize()
        out.append(sentence + rng.choice([".", "?", "!", ",", ":", " 42.", " 7,"]))
    return out


def _train_tokenizer(rng: random.Random):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # pyright: ignore[reportMissingImports]  (only in the separate model-building env, not .venv)

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[BOS, EOS, UNK, PAD, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(rng), trainer=trainer)
    return tok


def make_tiny_model(dest: Path) -> Path:
    """Write the tiny model and tokenizer into ``dest`` (created if needed) and return it."""
    import torch  # pyright: ignore[reportMissingImports]  (only in the separate model-building env, not .venv)
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # pyright: ignore[reportMissingImports]  (only in the separate model-building env, not .venv)

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    torch.manual_seed(SEED)

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(rng),
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        additional_special_tokens=ROLE_TOKENS,
        model_max_length=MAX_POSITIONS,
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        head_dim=HEAD_DIM,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} DEST", file=sys.stderr)
        return 2
    print(make_tiny_model(Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
