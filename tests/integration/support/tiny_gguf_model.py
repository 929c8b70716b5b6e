"""A tiny, randomly initialised Llama that llama.cpp's converter accepts, built fully offline.

`tiny_model.py` (the vLLM tests' model) trains a byte-level BPE tokenizer, like Llama 3's. llama.cpp's
`convert_hf_to_gguf.py` only converts byte-level BPE tokenizers whose pre-tokenizer it recognises by a
hash of known models' tokenizations (`get_vocab_base_pre`), so a freshly trained one is refused with
"BPE pre-tokenizer was not recognized". This module keeps the same model shape and corpus but trains a
Llama-2-style tokenizer instead (BPE with byte fallback, `▁` for spaces), which the converter maps to
llama.cpp's SentencePiece vocabulary through `gguf.LlamaHfVocab`, with no hash involved.

Runs inside the vLLM venv (torch, transformers, tokenizers):

    <vllm-venv>/bin/python tests/integration/support/tiny_gguf_model.py DEST
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tiny_model  # noqa: E402  # pyright: ignore[reportMissingImports]  (resolved by the sys.path line above: the shape, the corpus and the chat template are shared)

BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
SPECIALS = [tiny_model.UNK, tiny_model.BOS, tiny_model.EOS]


def _train_tokenizer(rng: random.Random):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # pyright: ignore[reportMissingImports]  (only in the separate model-building env, not .venv)

    # Learn merges over "▁"-prefixed words, then rebuild the model with Llama 2's id layout:
    # <unk> <s> </s>, the 256 byte tokens, then the learned pieces.
    scratch = Tokenizer(models.BPE(unk_token=tiny_model.UNK))
    scratch.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=tiny_model.VOCAB_SIZE - len(BYTE_TOKENS) + 64,
        special_tokens=SPECIALS,
        show_progress=False,
    )
    scratch.train_from_iterator(tiny_model._corpus(rng), trainer=trainer)
    learned = scratch.get_vocab()
    model_json = scratch.model.__getstate__()
    import json

    merges = json.loads(model_json)["merges"]
    vocab: dict[str, int] = {}
    for token in [*SPECIALS, *BYTE_TOKENS]:
        vocab[token] = len(vocab)
    for token, _ in sorted(learned.items(), key=lambda kv: kv[1]):
        if token not in vocab:
            vocab[token] = len(vocab)
    pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, unk_token=tiny_model.UNK, byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def make_tiny_gguf_ready_model(dest: Path) -> Path:
    """Write the tiny Llama and its Llama-2-style tokenizer into `dest`; return it."""
    import torch  # pyright: ignore[reportMissingImports]  (only in the separate model-building env, not .venv)
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # pyright: ignore[reportMissingImports]  (only in the separate model-building env, not .venv)

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(tiny_model.SEED)
    torch.manual_seed(tiny_model.SEED)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(rng),
        bos_token=tiny_model.BOS,
        eos_token=tiny_model.EOS,
        unk_token=tiny_model.UNK,
        model_max_length=tiny_model.MAX_POSITIONS,
    )
    tokenizer.chat_template = tiny_model.CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=tiny_model.HIDDEN,
        intermediate_size=tiny_model.INTERMEDIATE,
        num_hidden_layers=tiny_model.LAYERS,
        num_attention_heads=tiny_model.HEADS,
        num_key_value_heads=tiny_model.HEADS,
        head_dim=tiny_model.HEAD_DIM,
        max_position_embeddings=tiny_model.MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
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
    print(make_tiny_gguf_ready_model(Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
