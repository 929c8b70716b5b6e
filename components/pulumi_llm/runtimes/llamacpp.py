"""llama.cpp's `llama-server` as a runtime: from a GGUF model and its sizing to a ContainerSpec.

The server is configured only through its environment (`LLAMA_ARG_*`, and `LLAMA_API_KEY` from a
Secret): every command-line flag of `llama-server` has an environment twin (tools/server/README.md,
"(env: LLAMA_ARG_…)"), so the container runs the image's own entrypoint with no arguments. The edge
image (images/edge-llamacpp), the upstream `ghcr.io/ggml-org/llama.cpp:server-*` images and a bare
`llama-server` binary all read the same variables, which is how the integration test runs exactly what
this module renders.

Decisions, with their reasons:

* Sizing decides the numbers (`sizing.fit(..., runtime="llamacpp").llamacpp`): `--ctx-size` is the
  KV pool shared by `--parallel` slots (each slot gets ctx_size / parallel tokens, the model length
  sizing chose), `--n-gpu-layers` is every layer (+ the output layer) on a GPU or Jetson and 0 on a
  CPU host, `--cache-type-k/-v` the KV dtype. A quantized V cache needs flash attention, so
  `LLAMA_ARG_FLASH_ATTN` is `on` then, `auto` otherwise (llama.cpp picks per device).
* Probes all use `/health`: llama-server opens its HTTP port before the model is loaded and answers
  503 `{"message":"Loading model"}` until it can serve, then 200 — so readiness passes only when the
  model serves (unlike vLLM, no exec check is needed). `/health` is also the only endpoint that never
  needs the API key. The startup budget comes from the GGUF size (`sizing.startup_probe_budget`).
* Metrics (`LLAMA_ARG_ENDPOINT_METRICS=1`, Prometheus text on `/metrics`) are named `llamacpp:*` and
  carry no model label: one server serves one model, so series are told apart by pod/service. The
  server exposes gauges for processing and deferred requests and counters of prompt and predicted
  tokens; it has no latency histograms and (in current builds) no KV-cache usage gauge, so those
  `MetricNames` fields are None. With an API key set, `/metrics` needs the key too.
* `/slots` (per-slot state, which shows prompt text) is turned off: prompts are user data. The prompt
  cache in host RAM (`--cache-ram`, 8 GiB by default upstream) is capped at `cache_ram_mib` and counted
  in the memory request, since an 8 GiB default would not fit an 8 GB Jetson. `LLAMA_ARG_OFFLINE=1`: the
  server never reaches a hub.
* Threads: llama.cpp defaults to every CPU the host has, not the container's share, so the thread count
  is always set and the CPU request matches it.
* Weights are a read-only mount at /models unless the image bundles them (`mount_model=False`, the
  `bundled` target of the edge image); a model swap then ships one file, not a new runtime image.
"""

from __future__ import annotations

import math
from types import MappingProxyType

from .. import pins
from ..errors import UserError
from ..exporter_facts import COUNTER, GAUGE, Exporter
from ..sizing import GIB, FitResult, check_runtime_precision, startup_probe_budget
from ..sizing.precision import DEFAULT_GGUF
from .spec import (
    ContainerRequest,
    ContainerSpec,
    EnvVar,
    HttpCheck,
    MetricNames,
    Mount,
    Port,
    Probe,
    Resources,
    RuntimeInfo,
    check_pinned_image,
)

API_PORT = 8080
MODEL_DIR = "/models"
API_KEY_SECRET_KEY = "api-key"
SERVER_BINARY = "/app/llama-server"
"""Where the edge image and the upstream server images keep the binary (their ENTRYPOINT)."""
DEFAULT_CPU_THREADS = 4
DEFAULT_GPU_THREADS = 2
"""With every layer on the GPU the CPU only samples and tokenizes."""
DEFAULT_CACHE_RAM_MIB = 512

METRICS = MetricNames(
    requests_waiting="llamacpp:requests_deferred",
    requests_running="llamacpp:requests_processing",
    kv_cache_usage=None,
    time_to_first_token=None,
    inter_token_latency=None,
    e2e_latency=None,
    prompt_tokens="llamacpp:prompt_tokens_total",
    generation_tokens="llamacpp:tokens_predicted_total",
    model_label="",
)
"""llama-server's /metrics names (tools/server/server-task.cpp `to_metrics`); the integration test finds
each in a real server's /metrics."""

EXTRA_METRICS = (
    "llamacpp:prompt_seconds_total",
    "llamacpp:tokens_predicted_seconds_total",
    "llamacpp:prompt_tokens_seconds",
    "llamacpp:predicted_tokens_seconds",
    "llamacpp:n_decode_total",
    "llamacpp:n_busy_slots_per_decode",
)
"""Other series the server exposes, for dashboards (throughput in tokens/s, decode calls)."""


def default_model_file(served_name: str, fit: FitResult) -> str:
    """`<served name>-<quantization>.gguf`, the name `images/edge-llamacpp/prepare_model.py` writes."""
    return f"{served_name}-{fit.precision.key}.gguf"


def llamacpp_env(
    served_name: str,
    fit: FitResult,
    *,
    model_path: str,
    port: int = API_PORT,
    api_key_secret: str | None = None,
    threads: int,
    cache_ram_mib: int = DEFAULT_CACHE_RAM_MIB,
) -> tuple[EnvVar, ...]:
    """The server's whole configuration as environment variables, in a stable order."""
    settings = fit.llamacpp
    if settings is None:
        raise UserError(f"model {served_name}: sized for {fit.runtime}, not llamacpp")
    quantized_kv = settings.cache_type != "f16"
    env = [
        EnvVar("LLAMA_ARG_MODEL", model_path),
        EnvVar("LLAMA_ARG_ALIAS", served_name),
        EnvVar("LLAMA_ARG_HOST", "0.0.0.0"),
        EnvVar("LLAMA_ARG_PORT", str(port)),
        EnvVar("LLAMA_ARG_CTX_SIZE", str(settings.ctx_size)),
        EnvVar("LLAMA_ARG_N_PARALLEL", str(settings.parallel)),
        EnvVar("LLAMA_ARG_N_GPU_LAYERS", str(settings.n_gpu_layers)),
        EnvVar("LLAMA_ARG_CACHE_TYPE_K", settings.cache_type),
        EnvVar("LLAMA_ARG_CACHE_TYPE_V", settings.cache_type),
        EnvVar("LLAMA_ARG_FLASH_ATTN", "on" if quantized_kv else "auto"),
        EnvVar("LLAMA_ARG_THREADS", str(threads)),
        EnvVar("LLAMA_ARG_CACHE_RAM", str(cache_ram_mib)),
        EnvVar("LLAMA_ARG_ENDPOINT_METRICS", "1"),
        EnvVar("LLAMA_ARG_ENDPOINT_SLOTS", "0"),
        EnvVar("LLAMA_ARG_OFFLINE", "1"),
        EnvVar("HOME", "/tmp"),
    ]
    if api_key_secret:
        env.append(EnvVar("LLAMA_API_KEY", secret_name=api_key_secret, secret_key=API_KEY_SECRET_KEY))
    return tuple(env)


def memory_bytes(fit: FitResult, *, cache_ram_mib: int = DEFAULT_CACHE_RAM_MIB) -> int:
    """Host RAM the container needs.

    On a CPU host or a Jetson (one memory for CPU and GPU) everything lives in RAM: the weights (memory-
    mapped, so they count as page cache in the container's cgroup), the KV cache for ctx_size tokens,
    the runtime's compute buffers and the prompt cache. On a discrete GPU the weights and KV cache live
    in GPU memory; the host keeps the prompt cache plus 2 GiB for loading and buffers.
    """
    settings = fit.llamacpp
    assert settings is not None
    prompt_cache = cache_ram_mib * 1024 * 1024
    if fit.hardware.accelerator.kind == "gpu" and settings.n_gpu_layers > 0:
        return 2 * GIB + prompt_cache
    kv = fit.kv_bytes_per_token * settings.ctx_size
    return fit.memory.weights + kv + fit.memory.overhead + prompt_cache


def llamacpp_container(
    served_name: str,
    fit: FitResult,
    *,
    image: str,
    model_path: str | None = None,
    port: int = API_PORT,
    api_key_secret: str | None = None,
    threads: int | None = None,
    cache_ram_mib: int = DEFAULT_CACHE_RAM_MIB,
    mount_model: bool = True,
) -> ContainerSpec:
    """The llama-server container for `served_name`, sized by `fit` (`runtime="llamacpp"`).

    `model_path` defaults to `/models/<served_name>-<quant>.gguf`. `threads` defaults to 4 on a CPU host
    and 2 when every layer is on a GPU. `mount_model=False` for images that bundle their GGUF.
    """
    where = f"models.{served_name}"
    if fit.llamacpp is None:
        raise UserError(f"{where}.runtime: sized for {fit.runtime}; llamacpp_container needs fit(..., runtime='llamacpp')")
    check_runtime_precision("llamacpp", fit.precision)
    check_pinned_image(image, f"models.{served_name}")
    path = model_path if model_path is not None else f"{MODEL_DIR}/{default_model_file(served_name, fit)}"
    if not path.startswith(MODEL_DIR + "/") or not path.endswith(".gguf") or "/../" in path:
        raise UserError(f"{where}.model_path = {path}: a .gguf file below {MODEL_DIR}/ is expected")
    if not 1 <= port <= 65535:
        raise UserError(f"{where}.port = {port}: a TCP port 1-65535 is expected")
    if threads is not None and threads < 1:
        raise UserError(f"{where}.threads = {threads}: at least 1 thread is expected")
    if cache_ram_mib < 0:
        raise UserError(f"{where}.cache_ram_mib = {cache_ram_mib}: 0 (off) or a positive number of MiB is expected")
    settings = fit.llamacpp
    on_gpu = settings.n_gpu_layers > 0
    n_threads = threads if threads is not None else (DEFAULT_GPU_THREADS if on_gpu else DEFAULT_CPU_THREADS)
    env = llamacpp_env(
        served_name,
        fit,
        model_path=path,
        port=port,
        api_key_secret=api_key_secret,
        threads=n_threads,
        cache_ram_mib=cache_ram_mib,
    )
    weight_bytes = fit.memory.weights
    budget = startup_probe_budget(weight_bytes)
    memory_gib = math.ceil(memory_bytes(fit, cache_ram_mib=cache_ram_mib) / GIB * 1.1)
    notes = [
        "llama.cpp metrics carry no model label; KV-cache usage and latency histograms are not exposed",
    ]
    if api_key_secret:
        notes.append("with an API key, /metrics needs it too (only /health is public): scrape with the key")
    return ContainerSpec(
        runtime="llamacpp",
        served_name=served_name,
        image=image,
        command=(SERVER_BINARY,),
        args=(),
        env=env,
        ports=(Port("http", port),),
        http_port="http",
        metrics_port="http",
        metrics_path="/metrics",
        startup=Probe(
            HttpCheck("/health", "http"),
            period_seconds=budget.period_seconds,
            failure_threshold=budget.failure_threshold,
        ),
        readiness=Probe(HttpCheck("/health", "http"), period_seconds=10, failure_threshold=3, timeout_seconds=5),
        liveness=Probe(HttpCheck("/health", "http"), period_seconds=10, failure_threshold=6, timeout_seconds=5),
        resources=Resources(
            gpus=fit.tensor_parallel_size if on_gpu else 0,
            cpu_request=str(n_threads),
            memory_request=f"{memory_gib}Gi",
            memory_limit=f"{memory_gib + 1}Gi",
        ),
        mounts=(
            Mount("tmp", "/tmp", "scratch", size_limit="1Gi"),
            *((Mount("model", MODEL_DIR, "model", read_only=True),) if mount_model else ()),
        ),
        metrics=METRICS,
        read_only_root=True,
        weight_bytes=weight_bytes,
        notes=tuple(notes) + budget.notes + fit.notes,
    )


def container_spec(request: ContainerRequest) -> ContainerSpec:
    """The registry's entry point: the model file from the node's cache (node://<file>.gguf).

    The image is replaced by the edge build's digest at deploy time; the pin is the fallback."""
    file = request.source.removeprefix("node://").strip("/")
    return llamacpp_container(
        request.served_name,
        request.fit,
        image=pins.LLAMA_CPP_SERVER.ref,
        model_path=f"{MODEL_DIR}/{file}",
        api_key_secret=request.api_key_secret,
    )


# ---- llama.cpp -------------------------------------------------------------------------------------------
# github.com/ggml-org/llama.cpp, tools/server/server-task.cpp, server_task_result_metrics::to_metrics (the
# /metrics body): unlabelled counters and gauges with the `llamacpp:` prefix (only the speculative
# per-position counter carries `position`). Read in a recent build of the file; the pin is b11176
# (pins.LLAMA_CPP_SERVER), whose names the llama.cpp integration test checks against a real server.
EXPORTER = Exporter(
    name="llamacpp",
    version="b11176",
    source="ggml-org/llama.cpp tools/server/server-task.cpp (server_task_result_metrics::to_metrics)",
    metrics=MappingProxyType(
        {
            "llamacpp:prompt_tokens_total": COUNTER,
            "llamacpp:prompt_tokens_cached_total": COUNTER,
            "llamacpp:prompt_seconds_total": COUNTER,
            "llamacpp:tokens_predicted_total": COUNTER,
            "llamacpp:tokens_predicted_seconds_total": COUNTER,
            "llamacpp:n_decode_total": COUNTER,
            "llamacpp:n_tokens_max": COUNTER,
            "llamacpp:spec_decode_num_draft_tokens_total": COUNTER,
            "llamacpp:spec_decode_num_accepted_tokens_total": COUNTER,
            "llamacpp:spec_decode_num_drafts_total": COUNTER,
            "llamacpp:spec_decode_num_accepted_tokens_per_pos_total": COUNTER,
            "llamacpp:n_busy_slots_per_decode": GAUGE,
            "llamacpp:prompt_tokens_seconds": GAUGE,
            "llamacpp:predicted_tokens_seconds": GAUGE,
            "llamacpp:requests_processing": GAUGE,
            "llamacpp:requests_deferred": GAUGE,
        }
    ),
    labels=frozenset(),
    metric_labels=MappingProxyType({"llamacpp:spec_decode_num_accepted_tokens_per_pos_total": frozenset({"position"})}),
    image_markers=("llama.cpp",),
)


RUNTIME = RuntimeInfo(
    name="llamacpp",
    description="llama.cpp's llama-server (GGUF models, OpenAI-compatible API).",
    placement="edge",
    metrics=METRICS,
    fit_runtime="llamacpp",
    container_spec=container_spec,
    exporters=(EXPORTER,),
    default_quantization=DEFAULT_GGUF,
)
"""llama.cpp's llama-server on edge nodes (runtimes/registry.py)."""
