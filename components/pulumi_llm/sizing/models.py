"""Model architectures: the catalog, and `ModelSpec` for custom or fine-tuned models.

Figures are from each model's `config.json` and safetensors parameter count on Hugging Face
(`total_params_b`), and from the publishers' model cards for MoE active parameters. Expert parameter
counts of MoE models are computed from the config (layers × experts × expert matrix sizes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, TypedDict

from pulumi_llm.choices import close_to, listing
from pulumi_llm.errors import UserError
from pulumi_llm.sizing._common import lookup, normalize_key
from pulumi_llm.sizing.precision import PRECISIONS


@dataclass(frozen=True)
class ModelSpec:
    """The architecture facts sizing needs. Fill one in for a model that is not in the catalog.

    Required: key, total_params_b, num_layers, hidden_size, num_attention_heads, num_kv_heads,
    max_context, vocab_size. Everything else has a default. Invalid combinations raise UserError.
    """

    key: str
    """Name of the model in this tool (catalog key, or your own for a custom model)."""
    total_params_b: float
    """All parameters, in billions (MoE: every expert counts)."""
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    """Key/value heads (GQA); equal to num_attention_heads for plain multi-head attention."""
    max_context: int
    """Longest sequence the model supports (config `max_position_embeddings`), in tokens."""
    vocab_size: int
    head_dim: int | None = None
    """Per-head dimension. Default: hidden_size / num_attention_heads (must divide evenly then)."""
    active_params_b: float | None = None
    """Parameters used per token, in billions. Default: all for dense models, derived for MoE."""
    expert_params_b: float = 0.0
    """Parameters inside MoE experts, in billions (0 for dense models)."""
    num_experts: int = 0
    experts_per_token: int = 0
    tie_word_embeddings: bool = False
    """True when the LM head shares the token-embedding matrix."""
    hf_repo: str | None = None
    """Hugging Face repository the weights come from."""
    gated: bool = False
    """True when the repository needs an accepted licence and a token to download."""
    license: str = ""
    native_precision: str = "bf16"
    """Precision the checkpoint is published in (precision key; 'mxfp4' for gpt-oss)."""
    sliding_window: int | None = None
    """Local-attention window of the layers that use one (Gemma, gpt-oss); informational."""
    display_name: str = ""

    def __post_init__(self) -> None:
        name = self.key or "<unnamed>"

        def bad(message: str) -> UserError:
            return UserError(f"model {name}: {message}")

        if not self.key or not self.key.strip():
            raise UserError("model: key must be a non-empty name")
        for attr in ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "max_context", "vocab_size"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(f"{attr} must be a positive integer, not {value!r}")
        if not (0 < self.total_params_b < 10_000):
            raise bad(f"total_params_b is in billions and must be between 0 and 10,000, not {self.total_params_b:g}")
        if self.num_attention_heads % self.num_kv_heads:
            raise bad(f"num_attention_heads ({self.num_attention_heads}) must be divisible by num_kv_heads ({self.num_kv_heads})")
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise bad(
                    f"hidden_size ({self.hidden_size}) is not divisible by num_attention_heads ({self.num_attention_heads}); set head_dim"
                )
        elif self.head_dim < 1:
            raise bad(f"head_dim must be a positive integer, not {self.head_dim}")
        if self.expert_params_b < 0 or self.expert_params_b >= self.total_params_b:
            raise bad(f"expert_params_b ({self.expert_params_b:g}) must be at least 0 and below total_params_b ({self.total_params_b:g})")
        if self.num_experts or self.experts_per_token or self.expert_params_b:
            if self.num_experts < 2 or not (1 <= self.experts_per_token <= self.num_experts):
                raise bad(
                    f"an MoE model needs num_experts >= 2 and 1 <= experts_per_token <= num_experts "
                    f"(got {self.num_experts} and {self.experts_per_token})"
                )
            if self.expert_params_b <= 0:
                raise bad("an MoE model needs expert_params_b (parameters inside the experts, in billions)")
        if self.active_params_b is not None and not (0 < self.active_params_b <= self.total_params_b):
            raise bad(f"active_params_b ({self.active_params_b:g}) must be above 0 and at most total_params_b ({self.total_params_b:g})")
        embed_b = self.embedding_params / 1e9
        if embed_b >= self.total_params_b:
            raise bad(
                f"vocab_size × hidden_size alone is {embed_b:.2f} B parameters, more than "
                f"total_params_b ({self.total_params_b:g}); total_params_b is in billions"
            )
        if self.native_precision not in PRECISIONS:
            raise bad(f"native_precision '{self.native_precision}' is unknown; use one of {', '.join(PRECISIONS)}")

    # ---- derived figures ------------------------------------------------------------------

    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_attention_heads

    @property
    def total_params(self) -> float:
        return self.total_params_b * 1e9

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def resolved_active_params_b(self) -> float:
        """Parameters used per token (billions): given, or dense part + the routed share of the experts."""
        if self.active_params_b is not None:
            return self.active_params_b
        if not self.is_moe:
            return self.total_params_b
        dense = self.total_params_b - self.expert_params_b
        return dense + self.expert_params_b * self.experts_per_token / self.num_experts

    @property
    def embedding_params(self) -> float:
        """Token-embedding plus LM-head parameters (one matrix when tied)."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def name(self) -> str:
        return self.display_name or self.key

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Build a spec from a mapping (e.g. a stack's config), rejecting unknown keys with a suggestion."""
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                close = close_to(str(key), names, n=1)
                hint = f"did you mean {close[0]}?" if close else f"allowed: {listing(names)}"
                raise UserError(f"model {data.get('key', '<unnamed>')}: unknown field '{key}'; {hint}")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING and f.name not in data]
        if missing:
            raise UserError(f"model {data.get('key', '<unnamed>')}: missing {', '.join(missing)}")
        return cls(**dict(data))


def _m(
    key: str,
    repo: str,
    params: float,
    layers: int,
    hidden: int,
    heads: int,
    kv: int,
    ctx: int,
    vocab: int,
    *,
    gated: bool,
    license: str,
    display: str,
    **kw: Any,
) -> ModelSpec:
    return ModelSpec(
        key=key,
        total_params_b=params,
        num_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv,
        max_context=ctx,
        vocab_size=vocab,
        hf_repo=repo,
        gated=gated,
        license=license,
        display_name=display,
        **kw,
    )


class _Access(TypedDict):
    """How a model's weights may be downloaded: the keyword arguments of _m that several models share."""

    gated: bool
    license: str


_LLAMA3: _Access = {"gated": True, "license": "llama3.1"}

MODELS: dict[str, ModelSpec] = {
    m.key: m
    for m in (
        _m(
            "llama-3.1-8b-instruct",
            "meta-llama/Llama-3.1-8B-Instruct",
            8.03,
            32,
            4096,
            32,
            8,
            131072,
            128256,
            display="Llama 3.1 8B Instruct",
            **_LLAMA3,
        ),
        _m(
            "llama-3.1-70b-instruct",
            "meta-llama/Llama-3.1-70B-Instruct",
            70.55,
            80,
            8192,
            64,
            8,
            131072,
            128256,
            display="Llama 3.1 70B Instruct",
            **_LLAMA3,
        ),
        _m(
            "llama-3.1-405b-instruct",
            "meta-llama/Llama-3.1-405B-Instruct",
            405.85,
            126,
            16384,
            128,
            8,
            131072,
            128256,
            display="Llama 3.1 405B Instruct",
            **_LLAMA3,
        ),
        _m(
            "llama-3.3-70b-instruct",
            "meta-llama/Llama-3.3-70B-Instruct",
            70.55,
            80,
            8192,
            64,
            8,
            131072,
            128256,
            display="Llama 3.3 70B Instruct",
            gated=True,
            license="llama3.3",
        ),
        _m(
            "llama-3.2-1b-instruct",
            "meta-llama/Llama-3.2-1B-Instruct",
            1.24,
            16,
            2048,
            32,
            8,
            131072,
            128256,
            head_dim=64,
            tie_word_embeddings=True,
            display="Llama 3.2 1B Instruct",
            gated=True,
            license="llama3.2",
        ),
        _m(
            "llama-3.2-3b-instruct",
            "meta-llama/Llama-3.2-3B-Instruct",
            3.21,
            28,
            3072,
            24,
            8,
            131072,
            128256,
            tie_word_embeddings=True,
            display="Llama 3.2 3B Instruct",
            gated=True,
            license="llama3.2",
        ),
        _m(
            "llama-3-8b-instruct",
            "meta-llama/Meta-Llama-3-8B-Instruct",
            8.03,
            32,
            4096,
            32,
            8,
            8192,
            128256,
            display="Llama 3 8B Instruct",
            gated=True,
            license="llama3",
        ),
        _m(
            "llama-2-7b-chat",
            "meta-llama/Llama-2-7b-chat-hf",
            6.74,
            32,
            4096,
            32,
            32,
            4096,
            32000,
            display="Llama 2 7B Chat",
            gated=True,
            license="llama2",
        ),
        _m(
            "llama-2-70b-chat",
            "meta-llama/Llama-2-70b-chat-hf",
            68.98,
            80,
            8192,
            64,
            8,
            4096,
            32000,
            display="Llama 2 70B Chat",
            gated=True,
            license="llama2",
        ),
        _m(
            "mistral-7b-instruct-v0.3",
            "mistralai/Mistral-7B-Instruct-v0.3",
            7.25,
            32,
            4096,
            32,
            8,
            32768,
            32768,
            display="Mistral 7B Instruct v0.3",
            gated=True,
            license="apache-2.0",
        ),
        _m(
            "mixtral-8x7b-instruct-v0.1",
            "mistralai/Mixtral-8x7B-Instruct-v0.1",
            46.70,
            32,
            4096,
            32,
            8,
            32768,
            32000,
            active_params_b=12.88,
            expert_params_b=45.10,
            num_experts=8,
            experts_per_token=2,
            display="Mixtral 8x7B Instruct v0.1",
            gated=True,
            license="apache-2.0",
        ),
        _m(
            "qwen2.5-7b-instruct",
            "Qwen/Qwen2.5-7B-Instruct",
            7.62,
            28,
            3584,
            28,
            4,
            32768,
            152064,
            display="Qwen2.5 7B Instruct",
            gated=False,
            license="apache-2.0",
        ),
        _m(
            "qwen2.5-32b-instruct",
            "Qwen/Qwen2.5-32B-Instruct",
            32.76,
            64,
            5120,
            40,
            8,
            32768,
            152064,
            display="Qwen2.5 32B Instruct",
            gated=False,
            license="apache-2.0",
        ),
        _m(
            "qwen2.5-72b-instruct",
            "Qwen/Qwen2.5-72B-Instruct",
            72.71,
            80,
            8192,
            64,
            8,
            32768,
            152064,
            display="Qwen2.5 72B Instruct",
            gated=False,
            license="qwen",
        ),
        _m(
            "qwen3-8b",
            "Qwen/Qwen3-8B",
            8.19,
            36,
            4096,
            32,
            8,
            40960,
            151936,
            head_dim=128,
            display="Qwen3 8B",
            gated=False,
            license="apache-2.0",
        ),
        _m(
            "qwen3-32b",
            "Qwen/Qwen3-32B",
            32.76,
            64,
            5120,
            64,
            8,
            40960,
            151936,
            head_dim=128,
            display="Qwen3 32B",
            gated=False,
            license="apache-2.0",
        ),
        _m(
            "qwen3-30b-a3b",
            "Qwen/Qwen3-30B-A3B",
            30.53,
            48,
            2048,
            32,
            4,
            40960,
            151936,
            head_dim=128,
            active_params_b=3.35,
            expert_params_b=28.99,
            num_experts=128,
            experts_per_token=8,
            display="Qwen3 30B-A3B (MoE)",
            gated=False,
            license="apache-2.0",
        ),
        _m(
            "gemma-2-9b-it",
            "google/gemma-2-9b-it",
            9.24,
            42,
            3584,
            16,
            8,
            8192,
            256000,
            head_dim=256,
            tie_word_embeddings=True,
            sliding_window=4096,
            display="Gemma 2 9B IT",
            gated=True,
            license="gemma",
        ),
        _m(
            "gemma-2-27b-it",
            "google/gemma-2-27b-it",
            27.23,
            46,
            4608,
            32,
            16,
            8192,
            256000,
            head_dim=128,
            tie_word_embeddings=True,
            sliding_window=4096,
            display="Gemma 2 27B IT",
            gated=True,
            license="gemma",
        ),
        _m(
            "gemma-3-12b-it",
            "google/gemma-3-12b-it",
            12.19,
            48,
            3840,
            16,
            8,
            131072,
            262208,
            head_dim=256,
            tie_word_embeddings=True,
            sliding_window=1024,
            display="Gemma 3 12B IT",
            gated=True,
            license="gemma",
        ),
        _m(
            "gemma-3-27b-it",
            "google/gemma-3-27b-it",
            27.43,
            62,
            5376,
            32,
            16,
            131072,
            262208,
            head_dim=128,
            tie_word_embeddings=True,
            sliding_window=1024,
            display="Gemma 3 27B IT",
            gated=True,
            license="gemma",
        ),
        _m(
            "gpt-oss-20b",
            "openai/gpt-oss-20b",
            20.91,
            24,
            2880,
            64,
            8,
            131072,
            201088,
            head_dim=64,
            active_params_b=3.61,
            expert_params_b=19.11,
            num_experts=32,
            experts_per_token=4,
            native_precision="mxfp4",
            sliding_window=128,
            display="gpt-oss-20b",
            gated=False,
            license="apache-2.0",
        ),
        _m(
            "gpt-oss-120b",
            "openai/gpt-oss-120b",
            116.83,
            36,
            2880,
            64,
            8,
            131072,
            201088,
            head_dim=64,
            active_params_b=5.13,
            expert_params_b=114.65,
            num_experts=128,
            experts_per_token=4,
            native_precision="mxfp4",
            sliding_window=128,
            display="gpt-oss-120b",
            gated=False,
            license="apache-2.0",
        ),
        _m(
            "phi-3.5-mini-instruct",
            "microsoft/Phi-3.5-mini-instruct",
            3.82,
            32,
            3072,
            32,
            32,
            131072,
            32064,
            display="Phi-3.5-mini Instruct",
            gated=False,
            license="mit",
        ),
        _m("phi-4", "microsoft/phi-4", 14.66, 40, 5120, 40, 10, 16384, 100352, display="Phi-4", gated=False, license="mit"),
    )
}


def _aliases() -> dict[str, str]:
    """Short names: without the -instruct/-it/-chat suffix, and Hugging Face repo ids."""
    out: dict[str, str] = {}
    for key, spec in MODELS.items():
        for suffix in ("-instruct", "-it", "-chat"):
            if key.endswith(suffix):
                out.setdefault(key[: -len(suffix)], key)
        if spec.hf_repo:
            out.setdefault(normalize_key(spec.hf_repo), key)
    out.setdefault("mixtral-8x7b", "mixtral-8x7b-instruct-v0.1")
    out.setdefault("mistral-7b-v0.3", "mistral-7b-instruct-v0.3")
    out.setdefault("phi-3.5-mini", "phi-3.5-mini-instruct")
    return out


MODEL_ALIASES: dict[str, str] = _aliases()
"""Accepted other names of catalog models: base names resolve to the instruct/chat variant."""


def get_model(model: str | ModelSpec) -> ModelSpec:
    """A catalog model by key (case-insensitive, with did-you-mean), or `model` itself if it is a spec."""
    if isinstance(model, ModelSpec):
        return model
    return lookup("model", model, MODELS, aliases=MODEL_ALIASES)
