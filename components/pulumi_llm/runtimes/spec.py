"""The runtime-neutral description of a model-server container.

Each runtime module listed in `runtimes/registry.py` turns a model, its sizing and the settings into a
`ContainerSpec` through its `container_spec(ContainerRequest)`; the Kubernetes ModelServer, the GPU-VM boot script and the edge
rollout all render from it, so a model is launched the same way everywhere (one source of truth).
Everything here is plain data: no Pulumi, no Kubernetes client types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..as_given import as_given
from ..errors import UserError
from .registry import NAMES

if TYPE_CHECKING:
    from ..exporter_facts import Exporter
    from ..sizing import FitResult
    from .vllm import Weights

if TYPE_CHECKING:
    Runtime = str  # the names are data (registry.NAMES), which a type checker can't read as a Literal
else:
    Runtime = Literal[NAMES]  # the registry's names, in its order
"""A model server's name: one of `runtimes.registry.NAMES`."""

Placement = Literal["server", "edge"]
"""Where a runtime runs. server: GPU VMs and clusters, weights from the stack's model store or a claim;
edge: edge nodes only, weights from the node's cache (node://)."""


@dataclass(frozen=True)
class EnvVar:
    """An environment variable: a literal value, or a key of a Kubernetes Secret (never a literal secret)."""

    name: str
    value: str | None = None
    secret_name: str | None = None
    secret_key: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.secret_name is None):
            raise ValueError(f"env {self.name}: give exactly one of value or secret_name")


@dataclass(frozen=True)
class Port:
    name: str
    container_port: int
    protocol: Literal["TCP", "UDP"] = "TCP"


@dataclass(frozen=True)
class HttpCheck:
    path: str
    port: str
    """Name of a port of the container."""


@dataclass(frozen=True)
class ExecCheck:
    command: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    check: HttpCheck | ExecCheck
    period_seconds: int
    failure_threshold: int
    timeout_seconds: int = 5
    initial_delay_seconds: int = 0
    success_threshold: int = 1

    @property
    def budget_seconds(self) -> int:
        """How long the probe tolerates failure before it acts."""
        return self.initial_delay_seconds + self.period_seconds * self.failure_threshold


@dataclass(frozen=True)
class Mount:
    """A writable or read-only path the container needs; the platform decides what backs it."""

    name: str
    path: str
    kind: Literal["scratch", "shm", "model", "config"]
    """scratch: an emptyDir on disk; shm: an emptyDir in memory at /dev/shm; model: the weights;
    config: small rendered text files (`files`), e.g. Triton's model repository."""
    size_limit: str | None = None
    read_only: bool = False
    files: tuple[tuple[str, str], ...] = ()
    """config mounts: (relative path, content) pairs."""


@dataclass(frozen=True)
class Fetch:
    """Files the server reads from a local path that live in object storage: copied from `source` to `dest`
    before the server starts (on Kubernetes by an init container, kubernetes/adapter_sync.py), because the
    server itself can't read that URI (vLLM loads LoRA adapters from local directories only)."""

    source: str
    """An object-store prefix, ``s3://<bucket>/<prefix>`` or ``gs://<bucket>/<prefix>`` (``$(VAR)`` allowed:
    Kubernetes expands it from the container's env)."""
    dest: str
    """The local directory the server reads: below the scratch mount `mount`."""
    mount: str
    """Name of the container's scratch Mount that holds `dest`."""


@dataclass(frozen=True)
class Resources:
    gpus: int
    cpu_request: str
    memory_request: str
    memory_limit: str
    gpu_resource: str = "nvidia.com/gpu"


@dataclass(frozen=True)
class MetricNames:
    """The Prometheus metrics a runtime exposes that autoscaling, alerts and dashboards use.

    Every name here must appear in the server's own `/metrics` (the integration test checks it for
    vLLM against a real server). Histograms are named without the `_bucket`/`_sum`/`_count` suffix.
    """

    requests_waiting: str
    requests_running: str
    kv_cache_usage: str | None
    """Fraction 0..1 of the KV cache in use."""
    time_to_first_token: str | None
    """Histogram, seconds."""
    inter_token_latency: str | None
    """Histogram, seconds."""
    e2e_latency: str | None
    """Histogram, seconds."""
    prompt_tokens: str | None
    """Counter."""
    generation_tokens: str | None
    """Counter."""
    prefix_cache_queries: str | None = None
    prefix_cache_hits: str | None = None
    preemptions: str | None = None
    queue_duration: str | None = None
    """Triton: cumulative queue time counter (µs)."""
    compute_duration: str | None = None
    """Triton: cumulative compute time counter (µs)."""
    model_label: str = "model_name"
    """Label that carries the served model name on these series."""

    def all(self) -> tuple[str, ...]:
        names = [
            self.requests_waiting,
            self.requests_running,
            self.kv_cache_usage,
            self.time_to_first_token,
            self.inter_token_latency,
            self.e2e_latency,
            self.prompt_tokens,
            self.generation_tokens,
            self.prefix_cache_queries,
            self.prefix_cache_hits,
            self.preemptions,
            self.queue_duration,
            self.compute_duration,
        ]
        return tuple(n for n in names if n)


@as_given
@dataclass(frozen=True)
class ContainerSpec:
    """One model-server container, as every platform renders it."""

    runtime: Runtime
    served_name: str
    image: str
    """repository:tag@sha256:digest — never a bare tag."""
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[EnvVar, ...]
    ports: tuple[Port, ...]
    http_port: str
    """Name of the port that serves the API."""
    metrics_port: str
    metrics_path: str
    startup: Probe
    readiness: Probe
    liveness: Probe
    resources: Resources
    mounts: tuple[Mount, ...]
    metrics: MetricNames
    read_only_root: bool = True
    read_only_root_note: str | None = None
    """Why the root filesystem can't be read-only, where it can't."""
    run_as_user: int = 1000
    weight_bytes: int = 0
    notes: tuple[str, ...] = field(default=())
    fetches: tuple[Fetch, ...] = ()
    """Object-store files copied to local paths before the server starts (LoRA adapters of streamed weights)."""

    def port(self, name: str) -> Port:
        return next(p for p in self.ports if p.name == name)


def check_pinned_image(image: str, where: str) -> None:
    """One rule for every runtime's image: pinned by digest, and not a `latest` tag even then."""
    if "@sha256:" not in image or image.split("@")[0].endswith(":latest"):
        raise UserError(f"{where}.image = {image}: images are pinned as repository:tag@sha256:digest")


@dataclass(frozen=True)
class ContainerRequest:
    """What every runtime's `container_spec` is given: one model of the stack, sized, with its weights."""

    served_name: str
    fit: FitResult
    source: str
    """The model's source as the stack file writes it (node://<file or dir> on edge)."""
    weights: Weights | None = None
    """Where a server runtime reads the weights (serving.weights); None for edge runtimes."""
    context: int | None = None
    api_key_secret: str | None = None
    lora_adapters: Mapping[str, str] = field(default_factory=dict[str, str])
    """Adapter name → its path relative to the weights."""
    lora_max_rank: int = 16
    """The largest LoRA rank among the adapters (vLLM --max-lora-rank)."""
    lora_runtime_loading: bool = False
    """Let callers load and unload adapters at run time (vLLM's /v1/load_lora_adapter). Off by default."""
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuntimeInfo:
    """What a runtime module declares about its server (`RUNTIME`), read through `runtimes/registry.py`."""

    name: str
    description: str
    """One sentence: what the server is (the package adapters' `Runtime` enum and runtimes/README.md show it)."""
    placement: Placement
    metrics: MetricNames
    """The names its server exports (what its containers carry; empty names: no Prometheus metrics)."""
    fit_runtime: Literal["vllm", "llamacpp"]
    """The sizing engine that fits it (`sizing.fit(..., runtime=)`): Triton serves LLMs through vLLM."""
    container_spec: Callable[[ContainerRequest], ContainerSpec]
    """The container with its probes, mounts and metrics; the image is the runtime's pin."""
    default_quantization: str | None = None
    """Precision sized when the model names none (None: sizing's own choice)."""
    model_in_args: Callable[[Sequence[str]], str] | None = None
    """The weights' path its server is given in its args (vLLM's positional model), where it names one there
    instead of reading the model mount; a GPU VM syncs the weights to that path."""
    hidden_queue: bool = False
    """Its requests queue where its own metrics can't see them (Triton hands every request to vLLM at once):
    autoscaling scales it on time to first token when the server reports that."""
    exporters: tuple[Exporter, ...] = ()
    """What its server writes to /metrics at the pinned image, cited (the `observability.*` rules check every
    PromQL expression against them; verify/facts/exporters.py reads them here). Empty: no Prometheus metrics."""
    spans_nodes: bool = False
    """Its server can span nodes when a replica needs more GPUs than a node has: a LeaderWorkerSet, tensor
    parallel within a node and pipeline parallel across nodes (kubernetes/render.py, leader_worker_set_spec)."""
    own_fit: Callable[..., FitResult] | None = None
    """The runtime's own device check when it is sized as a stand-in of `fit_runtime` (onnx: int4 as q4_0):
    `own_fit(spec: ModelSpec, hardware: Hardware, *, quantization, context, where)`."""
