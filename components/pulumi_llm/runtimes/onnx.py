"""The ONNX Runtime GenAI edge server (images/edge-onnx/server.py) as a container spec (pure).

* The model is a directory the ONNX Runtime GenAI model builder wrote (`genai_config.json`, `model.onnx`,
  tokenizer), int4 (`-p int4 -e cpu`), read from the node's model cache at `/models/<dir>`. GGUF files and
  GGUF quantizations belong to llama.cpp and are refused here.
* Sizing is the llama.cpp device check (weights + KV cache at the context must fit the device's RAM), with
  two ONNX facts: int4 MatMulNBits weights (block 32, an fp16 scale and a 4-bit zero point per block:
  4 + 20/32 = 4.625 bits) are sized as GGUF Q4_0 (4.64 bits per weight), and the KV cache of a CPU int4
  model is fp32 (the builder's CPU I/O dtype), twice llama.cpp's f16, allocated for the whole context.
  The context is the model's own (`genai_config.json` `context_length`/`max_length`): build the model
  for the context the stack names.
* Probes all use `/health`: the server answers 503 while the model loads and warms up (one token), 200
  after, and `/health` never needs the API key.
* One generator at a time behind a bounded queue (`ONNX_MAX_QUEUE`); no Prometheus metrics (`METRICS`
  names none), no /metrics endpoint.
* Non-root (the image's uid 1000), read-only root: the server writes nothing but HOME is /tmp, so /tmp is
  a small emptyDir for anything onnxruntime or Python puts there.
"""

from __future__ import annotations

import math
import re

from .. import pins
from ..errors import UserError
from ..sizing import GIB, FitResult, Hardware, ModelSpec, fit, startup_probe_budget
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
SERVER_COMMAND = ("/opt/venv/bin/python", "/app/server.py")
"""The edge-onnx image's ENTRYPOINT."""
QUANTIZATION = "int4"
"""The only precision this runtime takes: the model builder's `-p int4` for CPU."""
SIZING_PRECISION = "q4_0"
"""The GGUF precision whose bits per weight stand in for ONNX int4 in the device check (see above)."""
KV_FACTOR = 2
"""fp32 KV cache (CPU int4 models) over the f16 the llama.cpp fit counts."""
DEFAULT_THREADS = 4
DEFAULT_MAX_QUEUE = 8
DEFAULT_MAX_TOKENS = 512

METRICS = MetricNames(
    requests_waiting="",
    requests_running="",
    kv_cache_usage=None,
    time_to_first_token=None,
    inter_token_latency=None,
    e2e_latency=None,
    prompt_tokens=None,
    generation_tokens=None,
    model_label="",
)
"""The server exposes no Prometheus metrics."""

DIR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_quantization(quantization: str | None, where: str) -> None:
    """None (int4) or int4; anything else, a GGUF quantization above all, is one line."""
    if quantization is None or quantization.lower() == QUANTIZATION:
        return
    raise UserError(
        f"{where}.quantization = {quantization}: the onnx runtime serves ONNX Runtime GenAI int4 models "
        "(model builder -p int4 -e cpu); GGUF quantizations such as q4_k_m are for edge.runtime llamacpp"
    )


def model_dir_from_source(source: str, where: str) -> str:
    """`node://<dir>` → the model directory's name in the node's model cache (not a .gguf file)."""
    name = source.removeprefix("node://").strip("/")
    if not source.startswith("node://") or not DIR_NAME.match(name) or name.lower().endswith(".gguf") or ".." in name:
        raise UserError(
            f"{where}.source = {source}: the onnx runtime reads an ONNX Runtime GenAI model directory from the "
            "nodes' cache, node://<dir> (genai_config.json inside), not a .gguf file"
        )
    return name


def onnx_fit(
    model: ModelSpec | str, hardware: Hardware, *, quantization: str | None, context: int | None, where: str = "models"
) -> FitResult:
    """The device check: weights (int4) + fp32 KV cache at the context must fit the device's RAM."""
    check_quantization(quantization, where)
    sized = fit(model, hardware, quantization=SIZING_PRECISION, context=context, runtime="llamacpp")
    ctx = context or sized.max_model_len
    need = sized.memory.weights + sized.memory.overhead + KV_FACTOR * sized.kv_bytes_per_token * ctx
    if need > sized.memory.budget:
        raise UserError(
            f"{sized.model.key} in ONNX int4 needs {need / GIB:.1f} GiB (weights {sized.memory.weights / GIB:.1f} GiB + "
            f"fp32 KV cache for {ctx} tokens) but {hardware.accelerator.key} offers {sized.memory.budget / GIB:.1f} GiB: "
            "a shorter context or a smaller model"
        )
    return sized


def memory_bytes(fit_result: FitResult, context: int) -> int:
    """Host RAM: weights, the fp32 KV cache for the whole context (allocated up front) and the runtime."""
    kv = KV_FACTOR * fit_result.kv_bytes_per_token * context
    return fit_result.memory.weights + kv + fit_result.memory.overhead


def onnx_env(
    served_name: str,
    *,
    model_dir: str,
    port: int = API_PORT,
    api_key_secret: str | None = None,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> tuple[EnvVar, ...]:
    """The server's whole configuration (server.py reads ONNX_*), in a stable order."""
    env = [
        EnvVar("ONNX_MODEL_DIR", f"{MODEL_DIR}/{model_dir}"),
        EnvVar("ONNX_MODEL_NAME", served_name),
        EnvVar("ONNX_HOST", "0.0.0.0"),
        EnvVar("ONNX_PORT", str(port)),
        EnvVar("ONNX_MAX_QUEUE", str(max_queue)),
        EnvVar("ONNX_MAX_TOKENS", str(max_tokens)),
        EnvVar("HOME", "/tmp"),
    ]
    if api_key_secret:
        env.append(EnvVar("ONNX_API_KEY", secret_name=api_key_secret, secret_key=API_KEY_SECRET_KEY))
    return tuple(env)


def onnx_container(
    served_name: str,
    fit_result: FitResult,
    *,
    image: str,
    model_dir: str,
    context: int | None = None,
    port: int = API_PORT,
    api_key_secret: str | None = None,
    threads: int = DEFAULT_THREADS,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> ContainerSpec:
    """The edge-onnx server for `served_name`, sized by `fit_result` (from `onnx_fit`).

    `model_dir` is the directory's name below /models; `context` the model's context (default the fit's)."""
    where = f"models.{served_name}"
    check_pinned_image(image, where)
    if not DIR_NAME.match(model_dir) or model_dir.lower().endswith(".gguf"):
        raise UserError(f"{where}.model_dir = {model_dir}: an ONNX Runtime GenAI model directory name below {MODEL_DIR}/")
    if not 1 <= port <= 65535:
        raise UserError(f"{where}.port = {port}: a TCP port 1-65535 is expected")
    if threads < 1:
        raise UserError(f"{where}.threads = {threads}: at least 1 thread is expected")
    if not 0 <= max_queue <= 10_000:
        raise UserError(f"{where}.max_queue = {max_queue}: 0-10000 waiting requests")
    ctx = context or fit_result.max_model_len
    if not 1 <= max_tokens <= ctx:
        raise UserError(f"{where}.max_tokens = {max_tokens}: 1 to the context ({ctx})")
    budget = startup_probe_budget(fit_result.memory.weights)
    memory_gib = math.ceil(memory_bytes(fit_result, ctx) / GIB * 1.1)
    notes = ["the ONNX server exposes no Prometheus metrics; one request generates at a time (ONNX_MAX_QUEUE wait)"]
    return ContainerSpec(
        runtime="onnx",
        served_name=served_name,
        image=image,
        command=SERVER_COMMAND,
        args=(),
        env=onnx_env(
            served_name, model_dir=model_dir, port=port, api_key_secret=api_key_secret, max_queue=max_queue, max_tokens=max_tokens
        ),
        ports=(Port("http", port),),
        http_port="http",
        metrics_port="http",
        metrics_path="/metrics",
        startup=Probe(HttpCheck("/health", "http"), period_seconds=budget.period_seconds, failure_threshold=budget.failure_threshold),
        readiness=Probe(HttpCheck("/health", "http"), period_seconds=10, failure_threshold=3, timeout_seconds=5),
        liveness=Probe(HttpCheck("/health", "http"), period_seconds=10, failure_threshold=6, timeout_seconds=5),
        resources=Resources(gpus=0, cpu_request=str(threads), memory_request=f"{memory_gib}Gi", memory_limit=f"{memory_gib + 1}Gi"),
        mounts=(
            Mount("tmp", "/tmp", "scratch", size_limit="1Gi"),
            Mount("model", MODEL_DIR, "model", read_only=True),
        ),
        metrics=METRICS,
        read_only_root=True,
        weight_bytes=fit_result.memory.weights,
        notes=tuple(notes) + budget.notes + fit_result.notes,
    )


def container_spec(request: ContainerRequest) -> ContainerSpec:
    """The registry's entry point: the model directory from the node's cache (node://<dir>).

    A digest-pinned placeholder image: the edge rollout always runs the EdgeImage's own ref (there is no upstream image)."""
    return onnx_container(
        request.served_name,
        request.fit,
        image=pins.PYTHON_SLIM.ref,
        context=request.context,
        model_dir=model_dir_from_source(request.source, f"models.{request.served_name}"),
        api_key_secret=request.api_key_secret,
    )


RUNTIME = RuntimeInfo(
    name="onnx",
    description="The ONNX Runtime GenAI server (int4 model directories; sized by llama.cpp's device check, int4 as q4_0).",
    placement="edge",
    metrics=METRICS,
    fit_runtime="llamacpp",
    container_spec=container_spec,
    own_fit=onnx_fit,
)
"""The ONNX Runtime GenAI server on edge nodes, sized as llama.cpp's device check with int4 as q4_0 (runtimes/registry.py)."""
