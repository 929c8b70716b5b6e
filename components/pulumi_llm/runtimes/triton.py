"""NVIDIA Triton Inference Server as a runtime: the model repository it loads and the container that runs it.

Two kinds of model are served:

* ``vllm`` — LLMs through Triton's vLLM backend (a Python-backend model). The repository holds
  ``<name>/config.pbtxt`` (``backend: "vllm"``, decoupled transaction policy, ``KIND_MODEL``) and
  ``<name>/1/model.json``, whose keys are vLLM ``AsyncEngineArgs`` fields; the backend passes them to
  ``AsyncEngineArgs(**model_json)`` (triton-inference-server/vllm_backend:src/model.py). The values come
  from sizing's ``FitResult.vllm``, the same values the vLLM runtime renders as flags.
* ``onnx`` — small or distilled models on ONNX Runtime, with Triton's dynamic batcher. The repository
  holds ``<name>/config.pbtxt``; ``<name>/1/model.onnx`` is the model artifact itself and must sit next to
  it (this module renders text, never the binary).

Decisions, with their reasons:

* Readiness probes ``/v2/models/<name>/ready``, not ``/v2/health/ready``. Strict server readiness skips
  models whose state is "unloaded" (triton-inference-server/core ``InferenceServer::IsReady``: "Okay if
  model is not ready due to unload"), and the vLLM backend's health check unloads the model when the engine
  dies (vllm_backend docs/health_check.md) — so ``/v2/health/ready`` would keep answering 200 for a server
  with nothing to serve. The per-model endpoint answers 200 only while our model's instances serve.
* Startup probes ``/v2/health/live``: tritonserver loads ``--load-model`` models before it opens its HTTP
  port, so the startup budget (from the weight size, ``sizing.startup_probe_budget``) covers the load.
* Read-only root filesystem: Triton and the vLLM backend write only to ``/tmp`` (``HOME=/tmp``, so vLLM,
  torch-compile and Triton-kernel caches land there) and ``/dev/shm`` (the Python backend's stub IPC and
  NCCL); both are writable mounts, the repository and the weights are read-only mounts.
* Metrics: Triton core has a queue gauge (``nv_inference_pending_request_count``) but no in-flight gauge
  (triton-inference-server/server#7145); its latencies are cumulative counters in µs. Histograms in
  seconds come only from the vLLM backend's own metrics (``REPORT_CUSTOM_METRICS``), see ``triton_metrics``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypeGuard

from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.exporter_facts import COUNTER, GAUGE, HISTOGRAM, Exporter
from pulumi_llm.runtimes.spec import (
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
)
from pulumi_llm.sizing import FitResult, startup_probe_budget, weight_bytes
from pulumi_llm.validation import SHA256_DIGEST as _DIGEST

TritonKind = Literal["vllm", "onnx"]
KINDS: tuple[TritonKind, ...] = ("vllm", "onnx")

DEFAULT_WEIGHTS_DIR = "/models"
"""Mount point of the weights volume (the vLLM runtime's MODEL_DIR, so one volume layout serves both)."""
DEFAULT_MODEL_PATH = DEFAULT_WEIGHTS_DIR
"""The vLLM kind's checkpoint directory (model.json ``model``): the weights volume or a directory in it."""
DEFAULT_REPOSITORY_PATH = "/etc/triton/repository"
"""Not under the weights mount: a mount point inside a read-only volume cannot be created."""
MODEL_VERSION = 1

__all__ = [
    "DEFAULT_MODEL_PATH",
    "DEFAULT_REPOSITORY_PATH",
    "DEFAULT_WEIGHTS_DIR",
    "KINDS",
    "MODEL_VERSION",
    "ONNX_DATA_TYPES",
    "Blocks",
    "Enum",
    "RUNTIME",
    "OnnxModel",
    "TensorSpec",
    "TritonKind",
    "check_image",
    "check_model_name",
    "container_spec",
    "onnx_model_config",
    "pbtxt_string",
    "render_model_repository",
    "render_pbtxt",
    "triton_container",
    "triton_metrics",
    "vllm_backend_model_json",
    "vllm_model_config",
]


# ---------------------------------------------------------------------------------------------
# Protobuf text format (config.pbtxt)
# ---------------------------------------------------------------------------------------------

_ENUM = re.compile(r"[A-Z][A-Z0-9_]*")
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
_INDENT = "  "


@dataclass(frozen=True)
class Enum:
    """An enum value, written bare (``kind: KIND_GPU``)."""

    name: str

    def __post_init__(self) -> None:
        if not _ENUM.fullmatch(self.name):
            raise ValueError(f"not a protobuf enum value name: {self.name!r}")


@dataclass(frozen=True)
class Blocks:
    """A repeated message written as repeated blocks (``parameters { … }`` once per entry).

    A plain list of messages is written in list form (``input [ { … }, { … } ]``); both are valid text
    format, blocks read better for map entries such as ``parameters``.
    """

    items: tuple[Mapping[str, Any], ...]


def pbtxt_string(value: str) -> str:
    """`value` as a double-quoted text-format string.

    Backslash, double quote and the usual control characters get C escapes; every other byte outside
    printable ASCII (other control bytes, UTF-8 of non-ASCII characters) gets a three-digit octal escape,
    which the protobuf text parser reads back into the same bytes.
    """
    out = ['"']
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    out.append('"')
    return "".join(out)


def _is_message(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


def _is_list(value: object) -> TypeGuard[list[Any] | tuple[Any, ...]]:
    return isinstance(value, (list, tuple))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"text format has no literal for {value!r} here")
        return repr(value)
    if isinstance(value, str):
        return pbtxt_string(value)
    if isinstance(value, Enum):
        return value.name
    raise TypeError(f"cannot write {type(value).__name__} as a text-format value")


def _message_lines(message: Mapping[str, Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    lines: list[str] = []
    for name, value in message.items():
        if not _FIELD.fullmatch(name):
            raise ValueError(f"not a protobuf field name: {name!r}")
        if value is None:
            continue
        if _is_message(value):
            lines.extend(_block(name, value, depth))
        elif isinstance(value, Blocks):
            for item in value.items:
                lines.extend(_block(name, item, depth))
        elif _is_list(value):
            if value and all(_is_message(v) for v in value):
                lines.append(f"{pad}{name} [")
                for i, item in enumerate(value):
                    inner = _message_lines(item, depth + 2)
                    close = "}," if i < len(value) - 1 else "}"
                    lines.extend([f"{pad}{_INDENT}{{", *inner, f"{pad}{_INDENT}{close}"])
                lines.append(f"{pad}]")
            elif any(_is_message(v) for v in value):
                raise TypeError(f"field {name}: a list mixes messages and scalars")
            else:
                items = ", ".join(_scalar(v) for v in value)
                lines.append(f"{pad}{name}: [ {items} ]" if items else f"{pad}{name}: []")
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}")
    return lines


def _block(name: str, message: Mapping[str, Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    inner = _message_lines(message, depth + 1)
    if not inner:
        return [f"{pad}{name} {{}}"]
    return [f"{pad}{name} {{", *inner, f"{pad}}}"]


def render_pbtxt(message: Mapping[str, Any]) -> str:
    """A message in protobuf text format, one field per line, two-space indent, ending in a newline.

    Values: str (quoted, escaped), bool, int, finite float, `Enum` (bare), a mapping (nested message in
    braces), a list of scalars (``f: [ 1, 2 ]``), a list of mappings (``f [ { … }, { … } ]``), `Blocks`
    (repeated ``f { … }``); None leaves the field out.
    """
    return "\n".join(_message_lines(message, 0)) + "\n"


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------

_MODEL_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_TENSOR_NAME = re.compile(r"[A-Za-z0-9_.:/-]+")
_ENGINE_ARG = re.compile(r"[a-z][a-z0-9_]*")
MAX_BATCH_SIZE = 4096
MAX_QUEUE_DELAY_US = 1_000_000
MAX_INSTANCES = 64
MAX_GPUS = 16

ONNX_DATA_TYPES: tuple[str, ...] = (
    "TYPE_BOOL",
    "TYPE_UINT8",
    "TYPE_UINT16",
    "TYPE_UINT32",
    "TYPE_UINT64",
    "TYPE_INT8",
    "TYPE_INT16",
    "TYPE_INT32",
    "TYPE_INT64",
    "TYPE_FP16",
    "TYPE_FP32",
    "TYPE_FP64",
    "TYPE_BF16",
    "TYPE_STRING",
)


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_given(value: object) -> object:
    """A field as a caller may really have given it: dataclasses don't check their fields' types, and
    programs in other languages (through the provider) or YAML can pass anything, so checks start here."""
    return value


def check_model_name(name: Any) -> str:
    """A Triton model name: a directory of the repository and part of the readiness URL."""
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name) or name in (".", ".."):
        raise UserError(f"triton model name {name!r} is not allowed: use letters, digits, '_', '.' and '-' (not '.' or '..')")
    return name


def _check_path(what: str, path: Any) -> str:
    ok = (
        isinstance(path, str)
        and path.startswith("/")
        and path != "/"
        and not path.endswith("/")
        and not any(c.isspace() for c in path)
        and ".." not in path.split("/")
    )
    if not ok:
        raise UserError(f"triton {what} {path!r} is not allowed: give an absolute path without '..', spaces or a trailing '/'")
    return path


def check_image(image: Any) -> str:
    """An image pinned by digest (``repository[:tag]@sha256:<64 hex>``), never tagged ``latest``."""
    if not isinstance(image, str) or image.count("@") != 1:
        raise UserError(f"triton image {image!r} is not pinned: give repository:tag@sha256:<64 hex digits>")
    name, digest = image.split("@")
    last = name.rsplit("/", 1)[-1]
    if not name or not last or not _DIGEST.fullmatch(digest):
        raise UserError(f"triton image {image!r} is not pinned: give repository:tag@sha256:<64 hex digits>")
    if ":" in last and last.rsplit(":", 1)[1] == "latest":
        raise UserError(f"triton image {image!r} uses the tag 'latest': pin a version tag and its digest")
    return image


def _check_kind(kind: Any) -> TritonKind:
    if kind not in KINDS:
        raise UserError(f"triton model kind {kind!r} is not one of: {', '.join(KINDS)}")
    return kind


# ---------------------------------------------------------------------------------------------
# ONNX Runtime models
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of an ONNX model, as Triton declares it.

    With batching on (`OnnxModel.max_batch_size` > 0) `dims` leave out the batch dimension.
    """

    name: str
    data_type: str
    """One of `ONNX_DATA_TYPES` (TYPE_INT64, TYPE_FP32, …)."""
    dims: tuple[int, ...]
    """Sizes of each dimension; -1 for a variable one (e.g. the sequence length)."""

    def __post_init__(self) -> None:
        if not isinstance(_as_given(self.name), str) or not _TENSOR_NAME.fullmatch(self.name):
            raise UserError(f"triton tensor name {self.name!r} is not allowed: use letters, digits, '_', '.', ':', '/' and '-'")
        if self.data_type not in ONNX_DATA_TYPES:
            raise UserError(f"triton tensor {self.name!r}: data type {self.data_type!r} is not one of {', '.join(ONNX_DATA_TYPES)}")
        dims = _as_given(self.dims)
        if not _is_list(dims) or not dims or not all(_whole(d) and (d == -1 or d >= 1) for d in dims):
            raise UserError(
                f"triton tensor {self.name!r}: dims {list(dims) if _is_list(dims) else dims!r} "
                "are not allowed: give one or more sizes, each a positive whole number or -1 (variable)"
            )
        object.__setattr__(self, "dims", tuple(dims))

    def as_message(self) -> dict[str, Any]:
        return {"name": self.name, "data_type": Enum(self.data_type), "dims": list(self.dims)}


@dataclass(frozen=True)
class OnnxModel:
    """An ONNX Runtime model served by Triton with its dynamic batcher.

    Defaults: max_batch_size 32, dynamic batching on with a 100 µs queue delay and no preferred sizes
    (Triton then forms the largest batch it can), one instance on each of 1 GPU. `gpus=0` runs it on CPU.
    """

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    max_batch_size: int = 32
    """Largest batch Triton forms; 0 turns batching off (dims then include every dimension)."""
    dynamic_batching: bool = True
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_delay_microseconds: int = 100
    """How long the batcher may hold a request to grow a batch."""
    instance_count: int = 1
    """Model instances on each GPU (or on the CPU)."""
    gpus: int = 1
    """GPUs the model runs on (devices 0..gpus-1 of the container); 0 = CPU."""

    def __post_init__(self) -> None:
        for what, given in (("inputs", self.inputs), ("outputs", self.outputs)):
            tensors = _as_given(given)
            if not _is_list(tensors) or not tensors or not all(isinstance(t, TensorSpec) for t in tensors):
                raise UserError(f"triton onnx model needs one or more {what} (TensorSpec), not {tensors!r}")
            names = [t.name for t in tensors]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise UserError(f"triton onnx {what} repeat the tensor name(s) {', '.join(dupes)}: each name once")
            object.__setattr__(self, what, tuple(tensors))
        mbs = self.max_batch_size
        if not _whole(mbs) or not 0 <= mbs <= MAX_BATCH_SIZE:
            raise UserError(f"triton onnx max_batch_size {mbs!r} is not allowed: give a whole number from 0 to {MAX_BATCH_SIZE}")
        sizes = tuple(self.preferred_batch_sizes)
        if self.dynamic_batching:
            if mbs == 0:
                raise UserError("triton onnx dynamic batching needs max_batch_size above 0: set max_batch_size or dynamic_batching=False")
            for size in sizes:
                if not _whole(size) or not 1 <= size <= mbs:
                    raise UserError(
                        f"triton onnx preferred batch size {size!r} is not allowed: each must be from 1 to max_batch_size {mbs}"
                    )
            if list(sizes) != sorted(set(sizes)):
                raise UserError(f"triton onnx preferred batch sizes {list(sizes)} are not allowed: list distinct sizes in increasing order")
            delay = self.max_queue_delay_microseconds
            if not _whole(delay) or not 0 <= delay <= MAX_QUEUE_DELAY_US:
                raise UserError(
                    f"triton onnx max_queue_delay_microseconds {delay!r} is not allowed: give a whole number from 0 to {MAX_QUEUE_DELAY_US}"
                )
        elif sizes:
            raise UserError("triton onnx preferred batch sizes need dynamic_batching=True")
        object.__setattr__(self, "preferred_batch_sizes", sizes)
        if not _whole(self.instance_count) or not 1 <= self.instance_count <= MAX_INSTANCES:
            raise UserError(
                f"triton onnx instance_count {self.instance_count!r} is not allowed: give a whole number from 1 to {MAX_INSTANCES}"
            )
        if not _whole(self.gpus) or not 0 <= self.gpus <= MAX_GPUS:
            raise UserError(f"triton onnx gpus {self.gpus!r} is not allowed: give a whole number from 0 (CPU) to {MAX_GPUS}")


def onnx_model_config(name: str, model: OnnxModel) -> str:
    """config.pbtxt of an ONNX Runtime model (``backend: "onnxruntime"``, file ``1/model.onnx``)."""
    check_model_name(name)
    batching: dict[str, Any] | None = None
    if model.dynamic_batching:
        batching = {
            "preferred_batch_size": list(model.preferred_batch_sizes) or None,
            "max_queue_delay_microseconds": model.max_queue_delay_microseconds,
        }
    group: dict[str, Any] = {"count": model.instance_count}
    if model.gpus:
        group.update(kind=Enum("KIND_GPU"), gpus=list(range(model.gpus)))
    else:
        group["kind"] = Enum("KIND_CPU")
    return render_pbtxt(
        {
            "name": name,
            "backend": "onnxruntime",
            "max_batch_size": model.max_batch_size,
            "input": [t.as_message() for t in model.inputs],
            "output": [t.as_message() for t in model.outputs],
            "dynamic_batching": batching,
            "instance_group": [group],
        }
    )


# ---------------------------------------------------------------------------------------------
# vLLM backend models
# ---------------------------------------------------------------------------------------------

# The tensors the vLLM backend reads and writes (vllm_backend src/model.py `_auto_complete_inputs_and_outputs`,
# samples/model_repository/vllm_model/config.pbtxt). The backend's auto-complete adds its other optional
# tensors (finish reason, token counts, logprobs) at load time.
_VLLM_INPUTS: tuple[dict[str, Any], ...] = (
    {"name": "text_input", "data_type": Enum("TYPE_STRING"), "dims": [1]},
    {"name": "stream", "data_type": Enum("TYPE_BOOL"), "dims": [1], "optional": True},
    {"name": "sampling_parameters", "data_type": Enum("TYPE_STRING"), "dims": [1], "optional": True},
    {"name": "exclude_input_in_output", "data_type": Enum("TYPE_BOOL"), "dims": [1], "optional": True},
)
_VLLM_OUTPUTS: tuple[dict[str, Any], ...] = ({"name": "text_output", "data_type": Enum("TYPE_STRING"), "dims": [-1]},)

# model.json keys set from sizing (or by this module); extra engine args may not override them.
_SIZED_ENGINE_ARGS = frozenset(
    {
        "model",
        "tensor_parallel_size",
        "max_model_len",
        "max_num_seqs",
        "gpu_memory_utilization",
        "dtype",
        "quantization",
        "kv_cache_dtype",
    }
)


def _vllm_fit(fit: Any) -> FitResult:
    if not isinstance(fit, FitResult) or fit.vllm is None:
        runtime = getattr(fit, "runtime", None)
        raise UserError(f"triton vLLM model needs a sizing fit for runtime 'triton' or 'vllm', not {runtime or type(fit).__name__!r}")
    return fit


def vllm_backend_model_json(
    fit: FitResult,
    model_path: str = DEFAULT_MODEL_PATH,
    *,
    enable_prefix_caching: bool = True,
    extra_engine_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The vLLM engine args of ``<name>/1/model.json``: ``AsyncEngineArgs`` field names, sizing's values.

    The sized keys (tensor_parallel_size, max_model_len, max_num_seqs, gpu_memory_utilization, dtype;
    quantization when there is one, kv_cache_dtype when it is not "auto" — as the vLLM runtime omits
    those flags) carry exactly `fit.vllm`, the values the vLLM runtime passes as flags.
    `disable_log_stats` is False (the backend reports vLLM metrics only then).
    `disable_log_requests` is left out on purpose: vLLM 0.12 removed it (vllm-project/vllm#29402), so
    naming it crashes ``AsyncEngineArgs(**…)`` there, and since vllm-project/vllm#21739 requests are not
    logged by default; the vLLM backend's own samples dropped it (triton-inference-server/vllm_backend#96).

    `extra_engine_args` adds other engine args (e.g. ``{"load_format": "runai_streamer"}``); it may not
    set the sized keys or `model`.
    """
    settings = _vllm_fit(fit).vllm
    assert settings is not None
    _check_path("model path", model_path)
    args: dict[str, Any] = {
        "model": model_path,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "max_model_len": settings.max_model_len,
        "max_num_seqs": settings.max_num_seqs,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "dtype": settings.dtype,
        "enable_prefix_caching": bool(enable_prefix_caching),
        "disable_log_stats": False,
    }
    if settings.quantization is not None:
        args["quantization"] = settings.quantization
    if settings.kv_cache_dtype != "auto":
        args["kv_cache_dtype"] = settings.kv_cache_dtype
    for key, value in (extra_engine_args or {}).items():
        if not isinstance(_as_given(key), str) or not _ENGINE_ARG.fullmatch(key):
            raise UserError(f"triton vLLM engine arg {key!r} is not allowed: use a vLLM engine arg name in snake_case")
        if key in _SIZED_ENGINE_ARGS:
            raise UserError(
                f"triton vLLM engine arg {key!r} is set from sizing: change the sizing input (model, quantization, "
                "context, gpu-memory-utilization) instead"
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise UserError(
                f"triton vLLM engine arg {key!r} has the value {value!r}: give a JSON value (string, number, bool, list, map)"
            ) from None
        args[key] = value
    return args


def vllm_model_config(name: str, *, report_vllm_metrics: bool = True, vllm_health_check: bool = True) -> str:
    """config.pbtxt of a vLLM-backend model.

    ``max_batch_size: 0`` (vLLM batches itself), decoupled transaction policy (the backend asserts it and
    streams through it), one ``KIND_MODEL`` instance (the engine places itself on all the GPUs the
    container sees: ``KIND_GPU`` is refused for tensor parallelism above 1). Parameters:
    ``REPORT_CUSTOM_METRICS`` puts vLLM's histograms on Triton's /metrics (the backend then runs vLLM's
    frontend in-process, which the backend's README calls a possible slowdown; turn it off with
    `report_vllm_metrics=False` and lose TTFT/ITL/e2e); ``ENABLE_VLLM_HEALTH_CHECK``
    checks the engine on each request and unloads the model when it is dead, which turns the model's
    readiness off (needs ``--model-control-mode=explicit``; beta, Triton ≥ 24.12).
    """
    check_model_name(name)
    parameters: list[dict[str, Any]] = []
    if vllm_health_check:
        parameters.append({"key": "ENABLE_VLLM_HEALTH_CHECK", "value": {"string_value": "true"}})
    if report_vllm_metrics:
        parameters.append({"key": "REPORT_CUSTOM_METRICS", "value": {"string_value": "true"}})
    return render_pbtxt(
        {
            "name": name,
            "backend": "vllm",
            "max_batch_size": 0,
            "model_transaction_policy": {"decoupled": True},
            "input": list(_VLLM_INPUTS),
            "output": list(_VLLM_OUTPUTS),
            "instance_group": [{"count": 1, "kind": Enum("KIND_MODEL")}],
            "parameters": Blocks(tuple(parameters)) if parameters else None,
        }
    )


def render_model_repository(
    name: str,
    *,
    kind: TritonKind,
    fit: FitResult | None = None,
    model_path: str = DEFAULT_MODEL_PATH,
    onnx: OnnxModel | None = None,
    report_vllm_metrics: bool = True,
    vllm_health_check: bool = True,
    enable_prefix_caching: bool = True,
    extra_engine_args: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The text files of a one-model Triton repository, by path relative to the repository root.

    vllm: ``<name>/config.pbtxt`` and ``<name>/1/model.json`` (the weights stay at `model_path`).
    onnx: ``<name>/config.pbtxt``; the artifact ``<name>/1/model.onnx`` must be placed beside it.
    Pass the same `report_vllm_metrics` to `triton_container` so its metric names match.
    """
    check_model_name(name)
    kind = _check_kind(kind)
    if kind == "vllm":
        engine = vllm_backend_model_json(
            _vllm_fit(fit),
            model_path,
            enable_prefix_caching=enable_prefix_caching,
            extra_engine_args=extra_engine_args,
        )
        return {
            f"{name}/config.pbtxt": vllm_model_config(name, report_vllm_metrics=report_vllm_metrics, vllm_health_check=vllm_health_check),
            f"{name}/{MODEL_VERSION}/model.json": json.dumps(engine, indent=2, sort_keys=True) + "\n",
        }
    if not isinstance(onnx, OnnxModel):
        raise UserError(f"triton onnx model {name!r} needs its tensors and batching (an OnnxModel), not {onnx!r}")
    return {f"{name}/config.pbtxt": onnx_model_config(name, onnx)}


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def triton_metrics(kind: TritonKind, *, report_vllm_metrics: bool = True) -> MetricNames:
    """The metric names a Triton server of `kind` exposes on :8002/metrics (label ``model``).

    * requests_waiting = ``nv_inference_pending_request_count``, the gauge of requests Triton has not
      handed to the model yet. For the vLLM kind it under-reads the LLM queue: the backend's execute()
      hands every request to vLLM at once and vLLM queues it internally (vllm_backend src/model.py).
    * requests_running = ``nv_inference_exec_count``: Triton has no in-flight gauge
      (triton-inference-server/server#7145), the closest real series is this COUNTER of executions —
      use ``rate()``, never the raw value.
    * queue/compute = the cumulative µs counters ``nv_inference_queue_duration_us`` /
      ``nv_inference_compute_infer_duration_us``; for ONNX models autoscale on the ratio of their rates.
      For the vLLM kind they do not see vLLM's own queue, and Triton's duration counters are reported
      unreliable with the vLLM backend (triton-inference-server/server#8463): scale that kind on vLLM's
      TTFT histogram instead.
    * Latency histograms: Triton's ``nv_inference_request_duration_us`` is a counter, and its
      ``nv_inference_*_summary_us`` summaries (``--metrics-config summary_latencies=true``) are
      experimental, in µs, have no buckets and cannot be aggregated over replicas, so they are not used;
      ``nv_inference_first_response_histogram_ms`` times the first response chunk in ms, not TTFT. With
      ``REPORT_CUSTOM_METRICS`` the vLLM backend exports real histograms in seconds and token counters
      under vLLM's names (vllm_backend src/utils/metrics.py), which fill TTFT, ITL and e2e. It exports no
      KV-cache, prefix-cache or preemption series in its V1-engine versions, so those stay None.
    """
    kind = _check_kind(kind)
    vllm = kind == "vllm" and report_vllm_metrics
    return MetricNames(
        requests_waiting="nv_inference_pending_request_count",
        requests_running="nv_inference_exec_count",
        kv_cache_usage=None,
        time_to_first_token="vllm:time_to_first_token_seconds" if vllm else None,
        inter_token_latency="vllm:time_per_output_token_seconds" if vllm else None,
        e2e_latency="vllm:e2e_request_latency_seconds" if vllm else None,
        prompt_tokens="vllm:prompt_tokens_total" if vllm else None,
        generation_tokens="vllm:generation_tokens_total" if vllm else None,
        queue_duration="nv_inference_queue_duration_us",
        compute_duration="nv_inference_compute_infer_duration_us",
        model_label="model",
    )


# ---------------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------------

MIB_PER_GIB = 1024
# Host memory of the server (not GPU memory): Triton core, the Python-backend stub and the tokenizer…
TRITON_BASE_MEMORY_MIB = 4 * MIB_PER_GIB
# …plus one vLLM worker process per tensor-parallel rank (torch/CUDA host state, pinned buffers).
VLLM_WORKER_MEMORY_MIB = 6 * MIB_PER_GIB
MEMORY_HEADROOM_MIB = 4 * MIB_PER_GIB
HOST_MEMORY_SHARE = 0.85
"""Largest share of an instance type's RAM the limit may take (the rest: kubelet, daemonsets, page cache)."""
VLLM_CPUS_PER_GPU = 4
# /dev/shm: the Python backend's stub exchanges every request through shared memory, and NCCL uses it
# between tensor-parallel ranks on one node.
VLLM_SHM_BASE_MIB = 2 * MIB_PER_GIB
VLLM_SHM_PER_EXTRA_GPU_MIB = 1 * MIB_PER_GIB
ONNX_SHM_MIB = 512
VLLM_SCRATCH = "10Gi"
"""/tmp: vLLM, torch-compile, FlashInfer and Triton-kernel caches (HOME=/tmp)."""
ONNX_SCRATCH = "1Gi"
ONNX_CPUS = 2

READINESS = dict(period_seconds=10, failure_threshold=3, timeout_seconds=5)
LIVENESS = dict(period_seconds=15, failure_threshold=4, timeout_seconds=10)


def _quantity(mib: int) -> str:
    return f"{mib // MIB_PER_GIB}Gi" if mib % MIB_PER_GIB == 0 else f"{mib}Mi"


def _round_up_gib(mib: float) -> int:
    return math.ceil(mib / MIB_PER_GIB) * MIB_PER_GIB


def _nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _check_ports(api_port: Any, grpc_port: Any, metrics_port: Any) -> None:
    ports = (api_port, grpc_port, metrics_port)
    if not all(_whole(p) and 1 <= p <= 65535 for p in ports) or len(set(ports)) != 3:
        raise UserError(
            f"triton ports http {api_port!r}, grpc {grpc_port!r}, metrics {metrics_port!r} are not allowed: "
            "give three different whole numbers from 1 to 65535"
        )


def _resources(
    kind: TritonKind,
    fit: FitResult | None,
    onnx: OnnxModel | None,
    weights: int,
    shm_mib: int,
    cpu_request: str | None,
    memory_request: str | None,
    memory_limit: str | None,
) -> Resources:
    instance = fit.hardware.instance if fit is not None else None
    if kind == "vllm":
        assert fit is not None
        gpus = fit.tensor_parallel_size
        cpus = VLLM_CPUS_PER_GPU * gpus
        if instance is not None:
            cpus = max(1, min(cpus, instance.vcpu // 2))
        request = TRITON_BASE_MEMORY_MIB + VLLM_WORKER_MEMORY_MIB * gpus
    else:
        assert onnx is not None
        gpus = onnx.gpus
        cpus = ONNX_CPUS
        sessions = onnx.instance_count * max(1, onnx.gpus)
        # Each instance holds its own session; loading briefly holds one more copy.
        request = _round_up_gib(MIB_PER_GIB + weights * (sessions + 1) / 2**20)
    limit = request + shm_mib + MEMORY_HEADROOM_MIB
    if instance is not None:
        limit = min(limit, int(instance.ram_gib * HOST_MEMORY_SHARE) * MIB_PER_GIB)
        request = min(request, limit)
    return Resources(
        gpus=gpus,
        cpu_request=cpu_request or str(cpus),
        memory_request=memory_request or _quantity(request),
        memory_limit=memory_limit or _quantity(limit),
    )


@dataclass(frozen=True)
class _Sizing:
    """What the model kind decides for the container: the weights' size (probe budget), GPUs, /dev/shm."""

    fit: FitResult | None
    model_path: str | None
    weights: int
    gpus: int
    shm_mib: int


def _vllm_sizing(fit: FitResult | None, *, repository_path: str, weights_dir: str, model_path: str | None) -> _Sizing:
    """A vLLM-backend model: checks the paths; GPUs are the tensor-parallel size, /dev/shm grows with them."""
    fit = _vllm_fit(fit)
    _check_path("weights dir", weights_dir)
    model_path = _check_path("model path", model_path or weights_dir)
    if model_path != weights_dir and not model_path.startswith(weights_dir + "/"):
        raise UserError(f"triton model path {model_path!r} is not allowed: it must be the weights dir {weights_dir!r} or a directory in it")
    if _nested(repository_path, weights_dir):
        raise UserError(
            f"triton repository path {repository_path!r} and weights dir {weights_dir!r} are not allowed: "
            "give two separate directories, neither inside the other"
        )
    gpus = fit.tensor_parallel_size
    return _Sizing(
        fit=fit,
        model_path=model_path,
        weights=weight_bytes(fit.model, fit.precision),
        gpus=gpus,
        shm_mib=VLLM_SHM_BASE_MIB + VLLM_SHM_PER_EXTRA_GPU_MIB * (gpus - 1),
    )


def _onnx_sizing(served_name: str, fit: FitResult | None, onnx: OnnxModel | None, weight_bytes_total: int | None) -> _Sizing:
    """An ONNX model: GPUs from `onnx`, the weights' size given (or from `fit`)."""
    if not isinstance(onnx, OnnxModel):
        raise UserError(f"triton onnx model {served_name!r} needs its tensors and batching (an OnnxModel), not {onnx!r}")
    if weight_bytes_total is None and fit is not None:
        weight_bytes_total = weight_bytes(fit.model, fit.precision)
    if not _whole(weight_bytes_total) or weight_bytes_total <= 0:
        raise UserError(
            f"triton onnx model {served_name!r} needs weight_bytes_total, the size of model.onnx in bytes, not {weight_bytes_total!r}"
        )
    return _Sizing(fit=fit, model_path=None, weights=weight_bytes_total, gpus=onnx.gpus, shm_mib=ONNX_SHM_MIB)


def _server_args(served_name: str, repository_path: str, gpus: int, api_port: int, grpc_port: int, metrics_port: int) -> tuple[str, ...]:
    """tritonserver's flags: one explicitly loaded model, strict readiness, the three ports."""
    return (
        f"--model-repository={repository_path}",
        "--model-control-mode=explicit",
        f"--load-model={served_name}",
        "--strict-readiness=true",
        "--exit-on-error=true",
        f"--http-port={api_port}",
        f"--grpc-port={grpc_port}",
        f"--metrics-port={metrics_port}",
        "--allow-metrics=true",
        f"--allow-gpu-metrics={'true' if gpus else 'false'}",
        "--log-verbose=0",
    )


def _server_env(kind: TritonKind) -> tuple[EnvVar, ...]:
    """HOME on the writable /tmp; for vLLM, offline Hugging Face and no usage reporting."""
    env = [EnvVar("HOME", "/tmp")]
    if kind == "vllm":
        env += [
            EnvVar("HF_HUB_OFFLINE", "1"),
            EnvVar("TRANSFORMERS_OFFLINE", "1"),
            EnvVar("VLLM_NO_USAGE_STATS", "1"),
            EnvVar("DO_NOT_TRACK", "1"),
            EnvVar("PYTHONDONTWRITEBYTECODE", "1"),
        ]
    return tuple(env)


def _mounts(
    served_name: str, kind: TritonKind, sizing: _Sizing, *, repository_path: str, weights_dir: str, report_vllm_metrics: bool
) -> tuple[Mount, ...]:
    """The repository (and for vLLM the weights) read-only, /tmp scratch and /dev/shm writable."""
    if kind == "vllm":
        assert sizing.model_path is not None  # a vllm kind's sizing comes from _vllm_sizing, which always sets it
        # The repository of a vLLM-backend model is two small text files: rendered here and mounted
        # from a ConfigMap, so the weights volume stays exactly as the copy job wrote it.
        repository = render_model_repository(
            served_name, kind="vllm", fit=sizing.fit, model_path=sizing.model_path, report_vllm_metrics=report_vllm_metrics
        )
        mounts = [
            Mount("model-repository", repository_path, "config", read_only=True, files=tuple(sorted(repository.items()))),
            Mount("model", weights_dir, "model", read_only=True),
        ]
    else:
        mounts = [Mount("model-repository", repository_path, "model", read_only=True)]
    mounts += [
        Mount("tmp", "/tmp", "scratch", size_limit=VLLM_SCRATCH if kind == "vllm" else ONNX_SCRATCH),
        Mount("dshm", "/dev/shm", "shm", size_limit=_quantity(sizing.shm_mib)),
    ]
    return tuple(mounts)


def _read_only_note(kind: TritonKind) -> str:
    """Why the root filesystem can be read-only: every writer has a writable mount."""
    writers = "Triton and the vLLM backend write" if kind == "vllm" else "Triton writes"
    caches = "HOME=/tmp: vLLM, torch-compile and Triton-kernel caches land there" if kind == "vllm" else "HOME=/tmp"
    return (
        f"{writers} only to /tmp ({caches}) and /dev/shm (Python-backend stub IPC, NCCL), both writable "
        "mounts; repository and weights are read-only mounts, so the root filesystem can be read-only"
    )


def _serving_notes(served_name: str, kind: TritonKind, *, repository_path: str, weights_dir: str, grpc_port: int) -> list[str]:
    """The operator's notes: where the repository comes from, which API is served, which metrics to scale on."""
    if kind == "vllm":
        repo_note = (
            f"model repository (config.pbtxt, model.json) rendered into a config mount at {repository_path}; "
            f"weights volume at {weights_dir}"
        )
        api_note = (
            f"API: KServe v2 with the generate extension (POST /v2/models/{served_name}/generate and "
            "/generate_stream), not the OpenAI /v1 API"
        )
    else:
        repo_note = (
            f"mount render_model_repository({served_name!r}, kind='onnx', …) with "
            f"{served_name}/{MODEL_VERSION}/model.onnx at {repository_path}"
        )
        api_note = f"API: KServe v2 inference (POST /v2/models/{served_name}/infer, gRPC on {grpc_port})"
    metrics_note = "metrics: nv_inference_exec_count is a counter (Triton has no in-flight gauge), use rate()"
    if kind == "vllm":
        metrics_note += (
            "; nv_inference_pending_request_count under-reads the queue of the vLLM backend, which queues inside "
            "vLLM, and Triton's duration counters are unreliable with that backend "
            "(triton-inference-server/server#8463): scale on "
            "vllm:time_to_first_token_seconds"
        )
    return [repo_note, api_note, metrics_note]


def triton_container(
    served_name: str,
    fit: FitResult | None,
    *,
    image: str,
    kind: TritonKind = "vllm",
    repository_path: str = DEFAULT_REPOSITORY_PATH,
    weights_dir: str = DEFAULT_WEIGHTS_DIR,
    model_path: str | None = None,
    onnx: OnnxModel | None = None,
    weight_bytes_total: int | None = None,
    api_port: int = 8000,
    grpc_port: int = 8001,
    metrics_port: int = 8002,
    report_vllm_metrics: bool = True,
    cpu_request: str | None = None,
    memory_request: str | None = None,
    memory_limit: str | None = None,
) -> ContainerSpec:
    """A tritonserver container that loads exactly one model, `served_name`, from `repository_path`.

    vllm: `fit` (runtime 'triton' or 'vllm') gives the GPUs (= tensor-parallel size) and the weight size;
    the repository (config + model.json, see `render_model_repository`) and the weights volume at
    `weights_dir` are mounted read-only; `model_path` (default `weights_dir`) is the checkpoint directory
    in it and must be the `model_path` the repository was rendered with.
    onnx: `onnx` gives the GPUs; `weight_bytes_total` (the size of model.onnx) sizes the startup probe;
    the repository mount holds config and artifact.
    `image` is pinned by digest. `report_vllm_metrics` must match the one the repository was rendered with.
    """
    check_model_name(served_name)
    check_image(image)
    kind = _check_kind(kind)
    _check_path("repository path", repository_path)
    _check_ports(api_port, grpc_port, metrics_port)
    if kind == "vllm":
        sizing = _vllm_sizing(fit, repository_path=repository_path, weights_dir=weights_dir, model_path=model_path)
    else:
        sizing = _onnx_sizing(served_name, fit, onnx, weight_bytes_total)

    budget = startup_probe_budget(sizing.weights)
    live = HttpCheck(path="/v2/health/live", port="http")
    notes = [
        *budget.notes,
        *_serving_notes(served_name, kind, repository_path=repository_path, weights_dir=weights_dir, grpc_port=grpc_port),
    ]
    ready = HttpCheck(path=f"/v2/models/{served_name}/ready", port="http")
    if kind == "vllm":
        # The vLLM backend's health check unloads a model whose engine died; the server stays live with
        # nothing to serve. Liveness on the model's readiness restarts such a pod (after ~2 minutes).
        liveness = Probe(check=ready, period_seconds=15, failure_threshold=8, timeout_seconds=5)
        notes.append("liveness follows the model's readiness: a model unloaded by the vLLM health check restarts the pod")
    else:
        liveness = Probe(check=live, **LIVENESS)
    return ContainerSpec(
        runtime="triton",
        served_name=served_name,
        image=image,
        command=("tritonserver",),
        args=_server_args(served_name, repository_path, sizing.gpus, api_port, grpc_port, metrics_port),
        env=_server_env(kind),
        ports=(Port("http", api_port), Port("grpc", grpc_port), Port("metrics", metrics_port)),
        http_port="http",
        metrics_port="metrics",
        metrics_path="/metrics",
        startup=Probe(check=live, period_seconds=budget.period_seconds, failure_threshold=budget.failure_threshold),
        readiness=Probe(check=ready, **READINESS),
        liveness=liveness,
        resources=_resources(kind, sizing.fit, onnx, sizing.weights, sizing.shm_mib, cpu_request, memory_request, memory_limit),
        mounts=_mounts(
            served_name, kind, sizing, repository_path=repository_path, weights_dir=weights_dir, report_vllm_metrics=report_vllm_metrics
        ),
        metrics=triton_metrics(kind, report_vllm_metrics=report_vllm_metrics),
        read_only_root=True,
        read_only_root_note=_read_only_note(kind),
        run_as_user=1000,
        weight_bytes=sizing.weights,
        notes=tuple(notes),
    )


def container_spec(request: ContainerRequest) -> ContainerSpec:
    """The registry's entry point: an LLM through the vLLM backend on the pinned image, weights from a volume."""
    if request.weights is None:
        raise ValueError(f"model {request.served_name}: Triton needs its weights' location (serving.weights)")
    return triton_container(request.served_name, request.fit, image=pins.TRITON_VLLM.ref, kind="vllm", model_path=request.weights.location)


# ---- Triton ----------------------------------------------------------------------------------------------
# github.com/triton-inference-server/server, docs/user_guide/metrics.md (per-model families labelled
# model and version; the latency families are counters by default, `counter_latencies`; GPU families per
# gpu_uuid), for the 26.05 / 26.06 containers pinned (pins.TRITON_VLLM, TRITON_ONNX). The pending request
# count, newer than that page, is a per-model gauge: triton-inference-server/tensorrtllm_backend README.md
# (its /metrics example: `# TYPE nv_inference_pending_request_count gauge`, labels model and version).
_TRITON_GPU_FAMILIES = frozenset(
    {
        "nv_gpu_utilization",
        "nv_gpu_memory_total_bytes",
        "nv_gpu_memory_used_bytes",
        "nv_gpu_power_usage",
        "nv_gpu_power_limit",
        "nv_energy_consumption",
    }
)
EXPORTER = Exporter(
    name="triton",
    version="26.05",
    source="triton-inference-server/server docs/user_guide/metrics.md",
    metrics=MappingProxyType(
        {
            "nv_inference_request_success": COUNTER,
            "nv_inference_request_failure": COUNTER,
            "nv_inference_count": COUNTER,
            "nv_inference_exec_count": COUNTER,
            "nv_inference_request_duration_us": COUNTER,
            "nv_inference_queue_duration_us": COUNTER,
            "nv_inference_compute_input_duration_us": COUNTER,
            "nv_inference_compute_infer_duration_us": COUNTER,
            "nv_inference_compute_output_duration_us": COUNTER,
            "nv_inference_pending_request_count": GAUGE,
            "nv_gpu_utilization": GAUGE,
            "nv_gpu_memory_total_bytes": GAUGE,
            "nv_gpu_memory_used_bytes": GAUGE,
            "nv_gpu_power_usage": GAUGE,
            "nv_gpu_power_limit": GAUGE,
            "nv_energy_consumption": COUNTER,
        }
    ),
    labels=frozenset({"model", "version"}),
    metric_labels=MappingProxyType({name: frozenset({"gpu_uuid"}) for name in _TRITON_GPU_FAMILIES}),
    unshared=_TRITON_GPU_FAMILIES,
    image_markers=("nvidia/tritonserver",),
)

# github.com/triton-inference-server/vllm_backend, src/utils/metrics.py (TritonMetrics; the backend's
# model.py passes the labels {model, version}). Shipped in the `-vllm-python-py3` Triton containers.
VLLM_BACKEND_EXPORTER = Exporter(
    name="triton-vllm-backend",
    version="26.05",
    source="triton-inference-server/vllm_backend src/utils/metrics.py",
    metrics=MappingProxyType(
        {
            "vllm:prompt_tokens_total": COUNTER,
            "vllm:generation_tokens_total": COUNTER,
            "vllm:num_preemptions_total": COUNTER,
            "vllm:iteration_tokens_total": HISTOGRAM,
            "vllm:time_to_first_token_seconds": HISTOGRAM,
            "vllm:time_per_output_token_seconds": HISTOGRAM,
            "vllm:e2e_request_latency_seconds": HISTOGRAM,
            "vllm:request_queue_time_seconds": HISTOGRAM,
            "vllm:request_inference_time_seconds": HISTOGRAM,
            "vllm:request_prefill_time_seconds": HISTOGRAM,
            "vllm:request_decode_time_seconds": HISTOGRAM,
            "vllm:request_prompt_tokens": HISTOGRAM,
            "vllm:request_generation_tokens": HISTOGRAM,
            "vllm:request_params_n": HISTOGRAM,
            "vllm:num_requests_running": GAUGE,
            "vllm:num_requests_waiting": GAUGE,
            "vllm:gpu_cache_usage_perc": GAUGE,
        }
    ),
    labels=frozenset({"model", "version"}),
    image_markers=("-vllm-python-py3",),
)


RUNTIME = RuntimeInfo(
    name="triton",
    description="Triton Inference Server with its vLLM backend (KServe v2 API, not OpenAI /v1).",
    placement="server",
    metrics=triton_metrics("vllm"),
    fit_runtime="vllm",  # Triton serves LLMs through its vLLM backend: the same engine, the same fit
    container_spec=container_spec,
    exporters=(EXPORTER, VLLM_BACKEND_EXPORTER),
    hidden_queue=True,  # the vLLM backend's queue is inside vLLM (triton_metrics); server#8463
)
"""Triton Inference Server with its vLLM backend on GPU VMs and clusters (runtimes/registry.py)."""
