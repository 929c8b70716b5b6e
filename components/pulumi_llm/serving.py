"""From the stack settings to what each model server runs: pure glue between settings, sizing and runtimes.

Both the settings loader (`settings.load` runs `check_sizing` right after the schema, so a model that can't
fit fails before anything registers) and the platform (which renders the containers) call these functions,
so there is one answer to "what does this model run with".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from . import clouds, cluster_machines, pins
from .errors import FieldProblem, UserError
from .runtimes import registry
from .runtimes.spec import ContainerRequest, ContainerSpec
from .runtimes.vllm import decide_scale_out
from .sizing import (
    FitResult,
    Hardware,
    InstanceType,
    LoraSlots,
    ModelSpec,
    check_instance_region,
    choose_instance,
    decide_lora_slots,
    fit,
    fitting_instances,
    get_accelerator,
    get_instance_type,
    get_model,
    valid_tensor_parallel_sizes,
)

if TYPE_CHECKING:
    # Types only (never evaluated: annotations are strings here). settings.load imports this module to run
    # check_sizing, so a run-time import back would be a cycle (tests/unit/test_import_graph.py).
    from .cluster_machines.capacity import GpuCapacity
    from .kubernetes.model_serving import ServedModel
    from .kubernetes.resilience import Drain, Rollout
    from .settings import ModelSettings, Replicas, Settings


class _FitOptions(TypedDict):
    """What instance_type passes to fitting_instances/choose_instance besides the model."""

    cloud: str
    region: str | None
    quantization: str | None
    context: int | None
    gpu_memory_utilization: float
    lora: LoraSlots | None


def lora_slots(model: ModelSettings) -> LoraSlots | None:
    """The LoRA adapter slots `model`'s vLLM server reserves GPU memory for (sizing/lora.py), None without LoRA."""
    return decide_lora_slots(len(model.lora_adapters), model.lora_max_rank, runtime_loading=model.lora_runtime_loading)


def model_spec(name: str, model: ModelSettings) -> ModelSpec:
    if model.catalog is not None:
        return get_model(model.catalog)
    assert model.custom is not None  # settings guarantee exactly one of catalog/custom
    return ModelSpec(key=name, **model.custom.model_dump(exclude_none=True))


def node_hardware(settings: Settings) -> Hardware:
    """The GPUs of one GPU node of the stack's on-prem cluster."""
    if settings.onprem is not None:
        return Hardware(get_accelerator(settings.onprem.gpus.accelerator), count=settings.onprem.gpus.per_node)
    raise UserError(f"cloud {settings.cloud}: no on-prem GPU nodes are configured")


def _fitting(spec: ModelSpec, options: _FitOptions) -> Iterator[InstanceType]:
    """The instance types that fit `spec`, cheapest first, sized only when a cluster's machine rule asks."""
    for candidate in fitting_instances(spec, **options):
        if candidate.hardware.instance is not None:
            yield candidate.hardware.instance


def instance_type(settings: Settings, name: str) -> InstanceType:
    """The cloud instance type one replica of `name` runs on: the one the stack names, else the
    cheapest in the catalog (within the Karpenter families for a Karpenter cluster) that fits."""
    model = settings.models[name]
    cloud = settings.cloud
    if model.instance_type:
        try:
            itype = get_instance_type(model.instance_type, cloud, settings.region)
            check_instance_region(itype, settings.region or "")
        except UserError as err:
            raise UserError(f"instance_type = {model.instance_type}: {err}") from None
        return itype
    spec = model_spec(name, model)
    options = _FitOptions(
        cloud=cloud,
        region=settings.region,
        quantization=model.quantization,
        context=model.context_tokens,
        gpu_memory_utilization=settings.serving.gpu_memory_utilization,
        lora=lora_slots(model),
    )
    own_machine = cluster_machines.BY_CLOUD.get(cloud) if "cluster" in settings.methods else None
    if own_machine is not None:
        itype = own_machine(settings, spec.key, _fitting(spec, options))
        if itype is not None:
            return itype
    chosen = choose_instance(spec, **options)
    assert chosen.hardware.instance is not None
    return chosen.hardware.instance


def size(settings: Settings, name: str, *, edge_device: str | None = None) -> FitResult:
    """Fit model `name` on the stack's hardware; with `gpus` set, exactly that tensor-parallel size.

    Edge stacks size on `edge.device`, or on `edge_device` (the Jetson fleet's module) when given. A context the
    stack demands as a number and that does not fit is refused (`check_context`), never capped."""
    sized = _size(settings, name, edge_device=edge_device)
    check_context(settings.models[name].context_tokens, sized)
    return sized


def check_context(asked: int | None, sized: FitResult) -> None:
    """Refuse a demanded context (`asked` tokens) the hardware can't hold; `asked` None is `context: max`, which
    takes the most that fits. The UserError starts `context = <asked>: ` so `sizing_problem` files it under the key."""
    if asked is None or not sized.context_capped:
        return
    raise UserError(
        f"context = {asked}: only {sized.max_model_len} tokens fit on {sized.hardware.label} "
        f"(KV cache ~{sized.kv_tokens:,} tokens); ask for {sized.max_model_len} or less, or write `context: max` "
        "to deploy the most that fits"
    )


def context_report(model: ModelSettings, sized: FitResult) -> dict[str, Any]:
    """What summary.json says of the context: asked (the stack's number, or the model's maximum under `max`),
    deployed (vLLM's --max-model-len), capped, and the stack's policy (`exact` for a number, `max`)."""
    return {
        "context_asked": sized.requested_context,
        "context_deployed": sized.max_model_len,
        "context_capped": sized.context_capped,
        "context_policy": "exact" if model.context_tokens is not None else "max",
    }


def _size(settings: Settings, name: str, *, edge_device: str | None = None) -> FitResult:
    model = settings.models[name]
    runtime = registry.get(model.runtime)
    spec = model_spec(name, model)
    gpus = model.gpus
    if gpus is not None:
        allowed = valid_tensor_parallel_sizes(spec, max(gpus, 8))
        if gpus not in allowed:
            raise UserError(
                f"gpus = {gpus}: the tensor parallel size must divide the model's {spec.num_attention_heads} "
                f"attention heads and {spec.num_kv_heads} KV heads; allowed: {', '.join(map(str, allowed))}"
            )
    if "edge" in settings.methods and settings.edge is not None:
        from .edge.devices import accelerator

        device = Hardware(accelerator(edge_device or settings.edge.device), count=1)
        if runtime.own_fit is not None:
            return runtime.own_fit(spec, device, quantization=model.quantization, context=model.context_tokens, where=f"models.{name}")
        return fit(
            spec,
            device,
            quantization=model.quantization or runtime.default_quantization,
            context=model.context_tokens,
            runtime=runtime.fit_runtime,
        )
    if settings.cloud == "onprem":
        node = node_hardware(settings)
        hardware: Hardware | InstanceType = Hardware(node.accelerator, count=gpus or node.count)
    else:
        hardware = instance_type(settings, name)
        if gpus is not None and gpus > hardware.hardware.count:
            raise UserError(f"gpus = {gpus}: {hardware.name} has {hardware.hardware.count} GPUs")
    return fit(
        spec,
        hardware,
        quantization=model.quantization,
        context=model.context_tokens,
        runtime=runtime.fit_runtime,
        gpu_memory_utilization=settings.serving.gpu_memory_utilization,
        tensor_parallel_size=gpus,
        region=settings.region,
        lora=lora_slots(model),
    )


def check_sizing(settings: Settings) -> None:
    """The settings check that needs the sizing planner, run by `settings.load` once the schema has passed:
    every served model fits the stack's hardware, and on edge also each Jetson fleet's module. Raises
    FieldProblem at `models.<name>`, which load renders as the one line a schema problem gets."""
    if not settings.serves_models():
        return
    jetson = settings.edge.jetson if settings.edge is not None and "edge" in settings.methods else None
    for name in settings.models:
        try:
            size(settings, name)
        except UserError as err:
            raise sizing_problem(settings, name, str(err)) from None
        if jetson is not None:
            try:
                size(settings, name, edge_device=jetson.device)
            except UserError as err:
                raise FieldProblem(f"models.{name}", f"on edge.jetson.device {jetson.device}: {err}") from None
    check_on_demand_floor(settings)


def gpu_capacity(settings: Settings) -> GpuCapacity | None:
    """The GPUs the stack's cluster offers model servers (cluster_machines.CAPACITY), or None (no cluster, on-prem,
    GKE Autopilot)."""
    rule = cluster_machines.CAPACITY.get(settings.cloud) if "cluster" in settings.methods else None
    return rule(settings) if rule is not None else None


def on_demand_floor(settings: Settings) -> int:
    """GPUs every model's replicas.min needs on on-demand capacity; 0 when the stack is deliberately all-spot."""
    from .kubernetes.resilience import on_demand_floor_gpus

    if not settings.serves_models():
        return 0
    needs = [(size(settings, name).tensor_parallel_size, replicas(settings, name).min) for name in sorted(settings.models)]
    return on_demand_floor_gpus(needs, all_spot=settings.serving.all_spot)


def check_on_demand_floor(settings: Settings) -> None:
    """Refuse a cluster whose on-demand capacity can't hold the models' fewest replicas (spot alone could take them
    all at once), unless the stack says it is all-spot on purpose."""
    capacity = gpu_capacity(settings)
    floor = on_demand_floor(settings) if capacity is not None else 0
    if capacity is None or floor <= capacity.on_demand:
        return
    raise FieldProblem(
        capacity.on_demand_key,
        f"holds {capacity.on_demand} on-demand GPUs, below the {floor} the models' replicas.min need off spot capacity; "
        "add on-demand capacity, or set serving.all_spot: true to run every replica on spot deliberately",
    )


def rollout(settings: Settings, name: str) -> Rollout:
    """Model `name`'s rolling update (serving.rollout; `auto` surges when the cluster's GPU cap has room for one more
    replica with this model at its most replicas and the others at their fewest)."""
    from .kubernetes.resilience import decide_rollout

    capacity = gpu_capacity(settings)
    per_replica = size(settings, name).tensor_parallel_size
    spare: int | None = None
    if capacity is not None:
        others = sum(size(settings, o).tensor_parallel_size * replicas(settings, o).min for o in settings.models if o != name)
        spare = capacity.total - others - per_replica * replicas(settings, name).max
    return decide_rollout(settings.serving.rollout, spare_gpus=spare, gpus_per_replica=per_replica)


def longest_stream_seconds(settings: Settings) -> int:
    """The longest stream a model server must let finish: the gateway's engine timeout when the stack's gateway is
    in front (gateway.timeouts.engine_seconds), else the cluster ingress's 3600 s."""
    from .kubernetes.resilience import INGRESS_STREAM_SECONDS

    if "gateway" in settings.methods and settings.gateway is not None:
        return settings.gateway.timeouts.engine_seconds
    return INGRESS_STREAM_SECONDS


def drain(settings: Settings) -> Drain:
    from .kubernetes.resilience import decide_drain

    return decide_drain(longest_stream_seconds(settings))


def sizing_problem(settings: Settings, name: str, message: str) -> FieldProblem:
    """A sizing error at the key it is about: `gpus = 9: …` from the planner is `models.<name>.gpus`, not the
    whole model; a message that names no key of the model stays at `models.<name>`."""
    fields = type(settings.models[name]).model_fields
    key, _, rest = message.partition(" = ")
    if key in fields and ": " in rest:
        return FieldProblem(f"models.{name}.{key}", rest.split(": ", 1)[1])
    # "quantization 'awq' is not served by llamacpp; …": the message names the key and quotes the value
    first = message.split(" ", 1)[0]
    if first in fields and message[len(first) : len(first) + 2] == " '":
        return FieldProblem(f"models.{name}.{first}", message)
    return FieldProblem(f"models.{name}", message)


def replicas(settings: Settings, name: str) -> Replicas:
    return settings.models[name].replicas or settings.serving.replicas


@dataclass(frozen=True)
class ModelVolume:
    """A PersistentVolumeClaim the user filled with weights, mounted read-only."""

    claim: str
    sub_path: str


MODEL_BUCKET_ENV = "MODEL_BUCKET"


def weights(settings: Settings, name: str):
    """Where the server reads the weights of `name`: (runtime Weights, the volume to mount or None).

    store://<key> is the stack's own model store: a GPU VM syncs it to local disk and reads
    /models/<key>; a cluster streams it (`s3://$(MODEL_BUCKET)/<key>`, the bucket's name joining the
    pod's env at deploy time — Kubernetes expands $(VAR) in args)."""
    from .runtimes.vllm import MODEL_DIR, Weights

    source = settings.models[name].source or ""
    scheme, _, rest = source.partition("://")
    if scheme == "pvc":
        claim, _, path = rest.partition("/")
        return Weights("volume", f"{MODEL_DIR}/{path}".rstrip("/")), ModelVolume(claim, path)
    key = rest.strip("/") if scheme == "store" else rest.partition("/")[2].strip("/")
    if "gpu-vm" in settings.methods:
        return Weights("volume", f"{MODEL_DIR}/{key}".rstrip("/")), None
    if scheme == "store":
        cloud = clouds.info(settings.cloud)
        if cloud is None or cloud.store_scheme is None:
            raise UserError(f"models.{name}.source = {source}: a {settings.cloud} cluster does not stream the model store; use pvc://")
        return Weights("object-store", f"{cloud.store_scheme}://$({MODEL_BUCKET_ENV})/{key}"), None
    return Weights("object-store", source), None


def store_key(settings: Settings, name: str) -> tuple[str | None, str]:
    """(bucket, key) of a model's weights in object storage; bucket None for the stack's own store."""
    scheme, _, rest = (settings.models[name].source or "").partition("://")
    if scheme == "store":
        return None, rest.strip("/")
    bucket, _, key = rest.partition("/")
    return bucket, key.strip("/")


def container(settings: Settings, name: str, fit_result: FitResult | None = None, *, router_policy: str | None = None) -> ContainerSpec:
    """The container that serves model `name`: its runtime's `container_spec` (runtimes/registry.py).

    `router_policy`: the policy of the router in front of the model's replicas on this target (None: no
    router); a vLLM server behind a cache_aware router gets `--enable-scale-out` (runtimes/vllm.py
    `decide_scale_out`)."""
    model = settings.models[name]
    runtime = registry.get(model.runtime)
    sized = fit_result or size(settings, name)
    request = ContainerRequest(
        served_name=name,
        fit=sized,
        source=model.source or "",
        # Server runtimes read the stack's store or a claim; edge runtimes the node's cache (node://, in `source`).
        weights=weights(settings, name)[0] if runtime.placement == "server" else None,
        context=model.context_tokens,
        api_key_secret=model.api_key_secret,
        lora_adapters=dict(model.lora_adapters),
        lora_max_rank=model.lora_max_rank,
        lora_runtime_loading=model.lora_runtime_loading,
        extra_args=decide_scale_out(model.runtime, router_policy, model.extra_args),
    )
    return runtime.container_spec(request)


def vm_container(settings: Settings, name: str, fit_result: FitResult | None = None, *, router_policy: str | None = None) -> ContainerSpec:
    """Model `name`'s server on a GPU VM: `container` with the flag that drains the longest stream on SIGTERM
    (kubernetes/resilience.drain_args, as ModelServer adds it on Kubernetes). The VM's systemd unit, `docker stop`
    and load balancer draining read their seconds from it (resilience.drain_seconds): one home for the number."""
    from .kubernetes.resilience import drain_args

    spec = container(settings, name, fit_result, router_policy=router_policy)
    return dataclasses.replace(spec, args=(*spec.args, *drain_args(spec.runtime, drain(settings))))


def copy_spec(settings: Settings, name: str, *, uploader_image: str = "", token_secret: str = ""):
    """The one-shot hub copy of model `name`, or None when the stack doesn't copy it."""
    from .kubernetes.model_copy import CopySpec

    model = settings.models[name]
    if not model.copy_from_hub:
        return None
    repo = model.hub_repo or model_spec(name, model).hf_repo
    # Settings refuse copy_from_hub without a revision, or without a repository (hub_repo or the catalog's).
    assert repo is not None and model.revision is not None
    _, volume = weights(settings, name)
    weights_gib = max(1, int(size(settings, name).memory.weights / 2**30))
    if volume is not None:
        return CopySpec(
            served_name=name,
            hf_repo=repo,
            revision=model.revision,
            destination="volume",
            key=volume.sub_path,
            downloader_image=pins.VLLM_OPENAI.ref,
            claim=volume.claim,
            token_secret=settings.onprem.hf_token_secret if settings.onprem else token_secret,
        )
    _, key = store_key(settings, name)
    cloud = clouds.info(settings.cloud)
    # weights() refused store:// on a cluster without a store scheme; settings refuse copies to external buckets.
    assert cloud is not None and cloud.store_scheme is not None
    return CopySpec(
        served_name=name,
        hf_repo=repo,
        revision=model.revision,
        destination="object-store",
        key=key,
        downloader_image=pins.VLLM_OPENAI.ref,
        uploader_image=uploader_image,  # "": the store's own pinned CLI (kubernetes/model_copy.py UPLOADERS)
        token_secret=token_secret,
        scratch_gib=weights_gib * 2 + 10,
        store_scheme=cloud.store_scheme,
    )


def served_models(settings: Settings) -> list[ServedModel]:
    """Every configured model as a cluster runs it (containers rendered, sized, with replica bounds)."""
    from .kubernetes.model_serving import ServedModel

    out: list[ServedModel] = []
    router = router_options(settings)
    for name in sorted(settings.models):
        model = settings.models[name]
        bounds = replicas(settings, name)
        location, volume = weights(settings, name)
        sized = size(settings, name)
        out.append(
            ServedModel(
                container=container(settings, name, sized, router_policy=router.policy if router is not None else None),
                replicas_min=bounds.min,
                replicas_max=bounds.max,
                model_claim=volume.claim if volume else None,
                revision=model.revision,
                object_store=location.kind == "object-store",
                copy=copy_spec(settings, name),
                rollout=rollout(settings, name),
                drain=drain(settings),
                kv_tokens=sized.kv_tokens,
            )
        )
    return out


def scaling_policy(settings: Settings):
    from .kubernetes.autoscaling import ScalingPolicy

    s = settings.serving.autoscaling
    return ScalingPolicy(
        min_replicas=settings.serving.replicas.min,
        max_replicas=settings.serving.replicas.max,
        queue_threshold=s.queue_threshold,
        polling_seconds=s.polling_seconds,
        cooldown_seconds=s.cooldown_seconds,
        scale_down_stabilization_seconds=s.scale_down_stabilization_seconds,
        fallback_replicas=s.fallback_replicas,
        scale_to_zero=s.scale_to_zero,
        ttft_target_seconds=settings.serving.alerts.ttft_p99_seconds / 2,
        kv_cache_target=s.kv_cache_target,
    )


def router_options(settings: Settings):
    """The router in front of each vLLM model's replicas on Kubernetes (`serving.router`), or None when off."""
    from .kubernetes.router_render import RouterOptions

    router = settings.serving.router
    # On GKE the Gateway API Inference Extension can take its place (gcp.cluster.router, kubernetes/inference_gateway.py).
    if not router.enabled or (settings.gcp is not None and settings.gcp.cluster.router == "gateway-inference-extension"):
        return None
    assert router.policy != "off"
    return RouterOptions(
        policy=router.policy,
        replicas=router.replicas,
        index_url=router.index_url,
        longest_stream_seconds=longest_stream_seconds(settings),  # the router pods' grace (router_render.decide_router_drain)
    )


def router_summary(settings: Settings, name: str) -> dict[str, Any] | None:
    """What summary.json says of a model's router: policy, pods and their CPU/memory (requests, and the memory
    limit), its prefix tree's size (from a replica's KV cache), beside the model's own replicas, whose per-replica
    concurrency (max_num_seqs) the router leaves as is."""
    from .kubernetes.router import ROUTED_RUNTIMES

    options = router_options(settings)
    on_kubernetes = "cluster" in settings.methods or "onprem" in settings.methods
    if options is None or not on_kubernetes or settings.models[name].runtime not in ROUTED_RUNTIMES:
        return None
    return {
        "policy": options.policy,
        "replicas": options.replicas,
        "cpu_request": options.cpu_request,
        "cpu_limit": options.cpu_limit,
        "memory_request": options.memory_request,
        "memory_limit": options.memory_limit,
        "max_tree_size": _max_tree_size(size(settings, name).kv_tokens, options.max_tree_size),
        "version": _router_version(),
    }


def _max_tree_size(kv_tokens: int, ceiling: int) -> int:
    from .kubernetes.router_render import decide_max_tree_size

    return decide_max_tree_size(kv_tokens, ceiling)


def _router_version() -> str:
    from .kubernetes.router_render import ROUTER_VERSION

    return ROUTER_VERSION


def alert_thresholds(settings: Settings):
    from .kubernetes.observability_rules import AlertThresholds

    a = settings.serving.alerts
    return AlertThresholds(
        queue_depth=a.queue_depth,
        kv_cache_usage=a.kv_cache_usage,
        ttft_p99_seconds=a.ttft_p99_seconds,
        e2e_p99_seconds=a.e2e_p99_seconds,
    )


def stack_sizing(settings: Settings) -> list[dict[str, Any]]:
    """Sizing and cost figures of every served model of the stack, for summary.json (deterministic)."""
    from .sizing import sizing_summary

    if not settings.serves_models():
        return []
    out: list[dict[str, Any]] = []
    for name in sorted(settings.models):
        model = settings.models[name]
        runtime = registry.get(model.runtime)
        sized = size(settings, name)
        bounds = replicas(settings, name)
        # {"instance_type"} or {"accelerator", "gpu_count"}: a checker can't unpack a union of TypedDicts per key
        hardware: dict[str, Any] = (
            {"instance_type": sized.hardware.instance.name}
            if sized.hardware.instance is not None
            else {"accelerator": sized.hardware.accelerator, "gpu_count": sized.tensor_parallel_size}
        )
        summary = sizing_summary(
            model_spec(name, model),
            # a runtime with its own fit is sized as a stand-in (onnx int4 as GGUF q4_0, runtimes/onnx.py SIZING_PRECISION)
            quantization=sized.precision.key if runtime.own_fit is not None else model.quantization or sized.precision.key,
            context=sized.max_model_len,
            cloud="onprem" if settings.cloud == "onprem" or "edge" in settings.methods else settings.cloud,
            region=settings.region,
            min_replicas=bounds.min,
            max_replicas=bounds.max,
            **hardware,
            runtime=runtime.fit_runtime,
            gpu_memory_utilization=settings.serving.gpu_memory_utilization,
            lora=lora_slots(model),
        )
        # The summary re-fits at the deployed length, so it can't see a cap: the context figures come from the stack's fit.
        summary.update(context_report(model, sized))
        out.append({"served_name": name, "runtime": model.runtime, "replicas": {"min": bounds.min, "max": bounds.max}, **summary})
        routed = router_summary(settings, name)
        if routed is not None:
            out[-1]["router"] = routed
        if runtime.own_fit is not None:
            out[-1]["runtime"] = model.runtime  # the figures are the stand-in's (llama.cpp's device check), the server is its own
    return out
