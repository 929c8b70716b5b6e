"""The models a stack serves (`models.<name>`) and how their servers run whatever the method (`serving`)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, cast

from pydantic import Field, model_validator

from ..errors import FieldProblem, UserError
from ..runtimes.registry import NAMES
from ..runtimes.spec import Runtime  # the names in runtimes/registry.py: vLLM, Triton on GPU servers; llama.cpp, ONNX on edge
from ..validation import described
from .core import Label, StrictModel
from .names import KubeName

MAX_REPLICAS = 1000
"""Most replicas of one model (and most KEDA fallback replicas): far above any cluster's GPUs, and below the
point where a mistyped count (10^10) reaches a NodePool or an Auto Scaling group."""
MAX_CONTEXT = 10_000_000
"""Longest context a model may declare or a request ask for, in tokens (the longest published models hold 10M)."""
MAX_GPUS_PER_REPLICA = 64
"""Most GPUs one replica's tensor-parallel group spans (8 per node in every catalog type; 64 leaves room for multi-node)."""


class Replicas(StrictModel):
    """How many copies of each model server run."""

    min: int = Field(default=1, ge=0, le=MAX_REPLICAS, description="Fewest replicas; 0 only with autoscaling.scale_to_zero. Default 1.")
    max: int = Field(default=1, ge=1, le=MAX_REPLICAS, description="Most replicas the autoscaler may add. Default 1.")

    @model_validator(mode="after")
    def _ordered(self) -> Replicas:
        if self.max < self.min:
            raise FieldProblem("max", f"must be >= replicas.min ({self.min})")
        return self


class AutoscalingSettings(StrictModel):
    """Scaling on LLM signals (queue depth), never on CPU (vllm-project/production-stack helm/templates/scaledobject-vllm.yaml)."""

    engine: Literal["keda", "hpa", "none"] = Field(
        default="keda",
        description="keda (ScaledObject on a Prometheus query), hpa (HPA v2 through prometheus-adapter) or none. Default keda.",
    )
    queue_threshold: int = Field(default=5, ge=1, le=10_000, description="Waiting requests per replica that trigger a scale-up. Default 5.")
    polling_seconds: int = Field(default=15, ge=5, le=3600, description="How often KEDA queries Prometheus. Default 15.")
    cooldown_seconds: int = Field(default=360, ge=0, le=86_400, description="KEDA: idle time before scaling to zero. Default 360.")
    scale_down_stabilization_seconds: int = Field(
        default=300, ge=0, le=3600, description="Window the HPA looks back over before removing replicas. Default 300."
    )
    scale_to_zero: bool = Field(
        default=False, description="Let idle models scale to zero (KEDA only; the first request waits for a cold start). Default false."
    )
    fallback_replicas: int = Field(
        default=2,
        ge=1,
        le=MAX_REPLICAS,
        description="Replicas KEDA holds when Prometheus can't be read (capped at replicas.max). Default 2.",
    )
    kv_cache_target: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Also scale on KV-cache usage (vLLM's vllm:kv_cache_usage_perc): the mean fraction per replica to hold, "
        "e.g. 0.8, beside the queue threshold (the larger replica count wins). Default none: the queue alone.",
    )


class AlertSettings(StrictModel):
    """Thresholds of the LLM alert rules."""

    queue_depth: int = Field(default=10, ge=1, le=100_000, description="Waiting requests sustained for 5 min that page. Default 10.")
    kv_cache_usage: float = Field(default=0.9, gt=0, le=1, description="KV-cache usage fraction that warns. Default 0.9.")
    ttft_p99_seconds: float = Field(default=2.0, gt=0, le=3600, description="Time-to-first-token p99 SLO in seconds. Default 2.")
    e2e_p99_seconds: float = Field(default=60.0, gt=0, le=86_400, description="End-to-end latency p99 SLO in seconds. Default 60.")


class RouterSettings(StrictModel):
    """The vLLM project's router in front of each model's replicas on Kubernetes (kubernetes/router_render.py) and on
    every VM of a GPU-VM group (gpu_vm/router_vm.py).

    `serving.router: off` (or `false`) serves without it: the model's Service (or the VMs' load balancer) spreads
    requests."""

    policy: Literal["cache_aware", "power_of_two", "round_robin", "off"] = Field(
        default="cache_aware",
        description="cache_aware (a request goes to the replica whose prefix cache holds its prompt's start; the model's "
        "vLLM then runs with --enable-scale-out, added for you, whose token-id routes the router asks), power_of_two (the "
        "less loaded of two replicas), round_robin, or off. Default cache_aware.",
    )
    replicas: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Router pods per model on Kubernetes (PDB: one down at a time; GPU VMs run one per VM). Default 2.",
    )
    index_url: str | None = Field(
        default=None,
        pattern=described(r"^https://[^\s]+$", "an https:// URL with no spaces"),
        description="PyPI mirror the router pods (and GPU VMs) install the pinned, hash-checked wheel from. Default pypi.org.",
    )

    @model_validator(mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        # `router: off` / `router: false` (YAML 1.1 reads off as false; Pulumi's YAML keeps the word).
        return {"policy": "off"} if value is False or value == "off" else value

    @property
    def enabled(self) -> bool:
        return self.policy != "off"


class ServingSettings(StrictModel):
    """How self-hosted model servers run, whatever the method."""

    replicas: Replicas = Field(default_factory=Replicas, description="Replica bounds. Default min 1, max 1.")
    autoscaling: AutoscalingSettings = Field(
        default_factory=AutoscalingSettings, description="Autoscaling on queue depth. Default KEDA, threshold 5."
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert thresholds.")
    gpu_memory_utilization: float = Field(default=0.9, gt=0.1, le=0.98, description="Fraction of GPU memory vLLM may use. Default 0.9.")
    router: RouterSettings = Field(
        default_factory=RouterSettings,
        description="The router in front of each vLLM model's replicas on Kubernetes (EKS, GKE, AKS, on-prem) and on every "
        "GPU VM. Default cache_aware, 2 pods.",
    )
    rollout: Literal["auto", "surge", "replace"] = Field(
        default="auto",
        description="Cluster rolling updates: surge (start one new replica before stopping an old one: full capacity, needs "
        "GPUs for one more replica), replace (stop one, then start its replacement: one replica fewer for up to the startup "
        "budget) or auto (surge when the cluster's GPU cap leaves room for one more replica of the model at its most "
        "replicas, else replace; replace on-prem, whose capacity the stack doesn't state). Say the trade-off in a comment "
        "where you set it. Default auto.",
    )
    all_spot: bool = Field(
        default=False,
        description="The cluster's model servers may all run on spot capacity, deliberately (one reclaim can take every "
        "replica). Default false: every model's replicas.min stays on on-demand capacity — EKS an on-demand Karpenter "
        "NodePool tried first, AKS the Regular pools first (cluster autoscaler priority expander), GKE the on-demand pool "
        "first in the ComputeClass — and the stack is refused when the on-demand capacity can't hold them.",
    )

    @model_validator(mode="after")
    def _scaling(self) -> ServingSettings:
        scaling = self.autoscaling
        if scaling.scale_to_zero and scaling.engine != "keda":
            raise FieldProblem(
                "autoscaling.scale_to_zero",
                f"scale to zero needs autoscaling.engine keda (an HPA cannot scale to zero), not {scaling.engine}",
            )
        if self.replicas.min == 0 and not scaling.scale_to_zero:
            raise FieldProblem("replicas.min", "0 replicas needs autoscaling.scale_to_zero: true (with KEDA)")
        return self


class CustomModel(StrictModel):
    """The architecture of a model that isn't in the catalog (a fine-tune of a new base, your own LLM)."""

    total_params_b: float = Field(gt=0, le=100_000, description="All parameters, in billions (MoE: every expert). Required.")
    active_params_b: float | None = Field(default=None, gt=0, le=100_000, description="Parameters used per token (MoE). Default: all.")
    num_layers: int = Field(ge=1, le=10_000, description="Transformer layers. Required.")
    hidden_size: int = Field(ge=1, le=1_000_000, description="Hidden size. Required.")
    num_attention_heads: int = Field(ge=1, le=10_000, description="Attention heads. Required.")
    num_kv_heads: int = Field(ge=1, le=10_000, description="Key/value heads (GQA). Required.")
    head_dim: int | None = Field(default=None, ge=1, le=100_000, description="Head dimension. Default hidden_size / attention heads.")
    max_context: int = Field(ge=1, le=MAX_CONTEXT, description="Longest context the model was trained for, in tokens. Required.")
    vocab_size: int = Field(ge=1, le=100_000_000, description="Vocabulary size. Required.")


class ModelSettings(StrictModel):
    """One model the stack serves; the key of the `models` map is its served name."""

    catalog: str | None = Field(
        default=None, description="Key of the model in the sizing catalog (e.g. `llama-3.1-8b-instruct`). Give this or custom."
    )
    custom: CustomModel | None = Field(default=None, description="Architecture of a model outside the catalog. Give this or catalog.")
    revision: str | None = Field(
        default=None, description="Pinned revision (commit) of the weights, part of their path in the model store. Default: none."
    )
    source: str | None = Field(
        default=None,
        description="Where servers read the weights: store://<key> (the stack's model store), pvc://<claim>/<path>, "
        "s3://<bucket>/<prefix> or gs://<bucket>/<prefix>. Required to serve the model; never a public hub.",
    )
    runtime: Runtime = Field(
        default="vllm",
        description=f"Model server: one of the runtimes of runtimes/registry.py ({', '.join(NAMES)}); one that runs on edge "
        "nodes only (runtimes/README.md) is the stack's edge.runtime. Default vllm.",
    )
    quantization: str | None = Field(
        default=None, description="Weight precision: bf16, fp16, fp8, int8, awq, gptq. Default: the model's native precision."
    )
    context: Annotated[int, Field(ge=1, le=MAX_CONTEXT)] | Literal["max"] | None = Field(
        default=None,
        description="Longest request in tokens (vLLM --max-model-len), or `max`: the most that fits on the hardware, up to "
        "the model's maximum. A number is a demand: when fewer tokens fit, the stack is refused (one line with the asked "
        "and the possible context), never capped in silence; under `max` a cap is reported (plan output, summary.json "
        "context_capped, context_asked, context_deployed). Default: max.",
    )
    gpus: int | None = Field(
        default=None,
        ge=1,
        le=MAX_GPUS_PER_REPLICA,
        description="GPUs per replica (= tensor parallel size). Default: the fewest that fit, from sizing.",
    )
    replicas: Replicas | None = Field(default=None, description="Replica bounds of this model. Default: serving.replicas.")
    copy_from_hub: bool = Field(
        default=False,
        description="Copy hub_repo at the pinned revision into source once, with a Kubernetes Job (cluster and onprem "
        "methods; the Hugging Face token comes from the cloud secret store or the onprem hf-token Secret). Default false.",
    )
    hub_repo: str | None = Field(
        default=None, description="Hugging Face repository of the weights. Default: the catalog model's repository."
    )
    instance_type: str | None = Field(
        default=None,
        description="Cloud instance type of one replica (gpu-vm, cluster with node groups). Default: the cheapest type in "
        "the catalog that fits, in the stack's region.",
    )
    lora_adapters: dict[Label, str] = Field(
        default_factory=dict,
        description="LoRA adapters served beside the model (runtime vllm): name → path below the model source; a cluster that "
        "streams the weights copies each adapter into the pod before vLLM starts. Default: none.",
    )
    lora_max_rank: int = Field(
        default=16,
        ge=1,
        le=512,  # the largest of runtimes.vllm.MAX_LORA_RANKS (imported there lazily); the validator checks the exact set
        description="Largest LoRA rank among the adapters (vLLM --max-lora-rank: 1, 8, 16, 32, 64, 128, 256, 320 or 512). Default 16.",
    )
    lora_runtime_loading: bool = Field(
        default=False,
        description="Let callers that reach the server load and unload adapters at run time (vLLM's /v1/load_lora_adapter, "
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING): they can then load any adapter path the server can read. Default false.",
    )
    api_key_secret: KubeName | None = Field(
        default=None, description="Kubernetes Secret (key `api-key`) whose value clients must send. Default: none (network policy only)."
    )
    extra_args: list[str] = Field(
        default_factory=list, description="More runtime flags (--flag=value); flags pulumi-llm manages are refused. Default: none."
    )

    @model_validator(mode="before")
    @classmethod
    def _context_value(cls, data: Any) -> Any:
        # Checked before the union: its own errors would name a member (`context.constrained-int`), not the key. And
        # `context: true` would read as 1 token (pydantic's lax int); StrictModel's check skips a field that takes `max`.
        value = _context_of(data)
        if value is None or value == "max":
            return data
        if isinstance(value, bool):
            raise FieldProblem("context", f"must be a whole number of tokens (1 to {MAX_CONTEXT}) or max, not true or false")
        number = int(value) if isinstance(value, str) and value.isdigit() else value
        if not isinstance(number, int) or not 1 <= number <= MAX_CONTEXT:
            raise FieldProblem("context", f"must be a whole number of tokens (1 to {MAX_CONTEXT}) or max")
        return data

    @property
    def context_tokens(self) -> int | None:
        """The context the stack demands in tokens; None when it takes the most that fits (`max`, or no context)."""
        return self.context if isinstance(self.context, int) else None

    @model_validator(mode="after")
    def _model(self) -> ModelSettings:
        from ..sizing import get_model

        context = self.context_tokens

        if (self.catalog is None) == (self.custom is None):
            raise FieldProblem("catalog", "give exactly one of catalog (a known model) or custom (its architecture)")
        if self.catalog is not None:
            try:
                spec = get_model(self.catalog)
            except UserError as err:
                raise FieldProblem("catalog", str(err)) from None
            if context is not None and context > spec.max_context:
                raise FieldProblem("context", f"above the model's maximum context ({spec.max_context})")
            _check_shortest_context(context, spec.max_context)
        if self.custom is not None and context is not None and context > self.custom.max_context:
            raise FieldProblem("context", f"above the model's maximum context ({self.custom.max_context})")
        if self.custom is not None:
            _check_shortest_context(context, self.custom.max_context)
        if self.source is not None and not re.fullmatch(
            r"(pvc://[a-z0-9][-a-z0-9.]*|s3://[a-z0-9][-a-z0-9.]*|gs://[a-z0-9][-a-z0-9._]*|store:/|node:/)(/[^\s]*)?", self.source
        ):
            raise FieldProblem(
                "source",
                "must be store://<key>, pvc://<claim>/<path>, s3://<bucket>/<prefix>, gs://<bucket>/<prefix> or node://<file>.gguf",
            )
        self._check_lora()
        from ..runtimes.vllm import check_extra_args

        for _i, token in enumerate(self.extra_args):
            try:
                check_extra_args([token], "extra_args")
            except UserError as err:
                raise FieldProblem("extra_args", str(err).split(": ", 1)[1]) from None
        return self

    def _check_lora(self) -> None:
        """LoRA settings are vLLM's (the other runtimes would ignore them), with a rank vLLM accepts."""
        from ..runtimes.vllm import MAX_LORA_RANKS

        if self.runtime != "vllm":
            for key, asked in (("lora_adapters", bool(self.lora_adapters)), ("lora_runtime_loading", self.lora_runtime_loading)):
                if asked:
                    raise FieldProblem(key, f"LoRA adapters are served by runtime vllm only, not {self.runtime}")
        if self.lora_max_rank not in MAX_LORA_RANKS:
            raise FieldProblem("lora_max_rank", f"vLLM accepts {', '.join(map(str, MAX_LORA_RANKS))}")


def _context_of(data: object) -> object:
    """The raw `context` of a model's settings before validation (None when absent)."""
    return cast("dict[str, object]", data).get("context") if isinstance(data, dict) else None


SHORTEST_CONTEXT = 256
"""The shortest request limit a model is served with: below it not even a system prompt and a short answer fit,
so `context: 1` is a typo, not a choice. A short limit on purpose (a small test model, a classifier) stays
possible: the planner sizes whatever target it is given."""


def _check_shortest_context(context: int | None, model_max: int) -> None:
    # A model whose own maximum is shorter may use all of it.
    shortest = min(SHORTEST_CONTEXT, model_max)
    if context is not None and context < shortest:
        raise FieldProblem("context", f"below the shortest context worth serving; allowed: {shortest} to {model_max} tokens")
