"""The components other Pulumi languages get from `pulumi package add`: thin adapters.

Each adapter takes TypedDict args (the schema is inferred from them: names are camelCased, the
docstrings under each field become its description), turns them into the same settings tree a stack
file gives, validates it with `pulumi_llm.settings` — so a TypeScript or YAML program gets exactly
the checks and the one-line messages a stack gets, with the key path spelt the way it wrote it —
and builds the real component as its only child:

| adapter (`pulumi-llm:index:…`) | child | what it deploys |
|---|---|---|
| `OnPremServing` | `OnPremCluster` | models on a Kubernetes cluster you already run (GPU Operator, ingress, KEDA, monitoring) |
| `AwsLlmGateway` | `AwsGateway` | the LiteLLM gateway on ECS behind API Gateway, in your VPC |
| `AwsGpuVmServing` | `AwsGpuVm` | one model on GPU instances behind a load balancer, in your VPC |

The adapters have their own names because the real components keep theirs (`AwsGateway`, …) as
the types of the children, and one type token should mean one thing in a resource tree.
"""

# No `from __future__ import annotations`: the schema analyzer reads these annotations at runtime.

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from functools import cache
from typing import Any, NotRequired, TypedDict, cast

import pulumi
from pulumi.errors import InputPropertiesError
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from .. import __version__
from ..errors import UserError
from ..labels import CommonLabels
from ..naming import child

PACKAGE = "pulumi-llm"
"""The package name: component tokens are `pulumi-llm:index:<Adapter>`."""


# --------------------------------------------------------------------------------------------
# Shared types (one schema namespace: every name here is a type of the package)


# generated: Runtime — the server runtimes of runtimes/registry.py (uv run python tests/unit/test_runtime_registry.py --write)
class Runtime(Enum):
    """The model server."""

    VLLM = "vllm"
    """vLLM's OpenAI-compatible server."""
    TRITON = "triton"
    """Triton Inference Server with its vLLM backend (KServe v2 API, not OpenAI /v1)."""


# /generated: Runtime


class Replicas(TypedDict):
    """How many copies of a model server run."""

    min: NotRequired[int]
    """Fewest replicas; 0 only with autoscaling.scaleToZero. Default 1."""
    max: NotRequired[int]
    """Most replicas the autoscaler may add. Default 1."""


class CustomModel(TypedDict):
    """The architecture of a model that isn't in the sizing catalog."""

    total_params_b: float
    """All parameters, in billions (MoE: every expert). Required."""
    active_params_b: NotRequired[float]
    """Parameters used per token (MoE). Default: all."""
    num_layers: int
    """Transformer layers. Required."""
    hidden_size: int
    """Hidden size. Required."""
    num_attention_heads: int
    """Attention heads. Required."""
    num_kv_heads: int
    """Key/value heads (GQA). Required."""
    head_dim: NotRequired[int]
    """Head dimension. Default hiddenSize / numAttentionHeads."""
    max_context: int
    """Longest context the model was trained for, in tokens. Required."""
    vocab_size: int
    """Vocabulary size. Required."""


class Model(TypedDict):
    """One model to serve; sized on the GPUs before anything is created (a model that can't fit fails the preview)."""

    catalog: NotRequired[str]
    """Key of the model in the sizing catalog (e.g. `llama-3.1-8b-instruct`). Give this or custom."""
    custom: NotRequired[CustomModel]
    """Architecture of a model outside the catalog. Give this or catalog."""
    source: str
    """Where servers read the weights: pvc://<claim>/<path> (on-prem) or s3://<bucket>/<prefix> (AWS); never a public hub. Required."""
    revision: NotRequired[str]
    """Pinned revision (commit) of the weights. Default: none."""
    runtime: NotRequired[Runtime]
    """Model server. Default vllm."""
    quantization: NotRequired[str]
    """Weight precision: bf16, fp16, fp8, int8, awq, gptq. Default: the model's native precision."""
    # Any, not int | Literal["max"]: the SDK's schema analyzer refuses unions. The stack-file validation
    # (settings/models.py) checks the value and names the key, as for a stack file.
    context: NotRequired[Any]
    """Longest request in tokens (vLLM --max-model-len): a whole number, or "max" (as much as fits, up to the model's
    maximum; a cap is reported). Default: max."""
    gpus: NotRequired[int]
    """GPUs per replica (= tensor parallel size). Default: the fewest that fit."""
    replicas: NotRequired[Replicas]
    """Replica bounds of this model. Default: serving.replicas (on-prem), 1 (GPU VM)."""
    copy_from_hub: NotRequired[bool]
    """On-prem: copy hubRepo at the pinned revision into the claim once, with a Kubernetes Job. Default false."""
    hub_repo: NotRequired[str]
    """Hugging Face repository of the weights. Default: the catalog model's repository."""
    lora_adapters: NotRequired[dict[str, str]]
    """LoRA adapters served beside the model (runtime vllm): name → path below the model source. Default: none."""
    lora_max_rank: NotRequired[int]
    """Largest LoRA rank among the adapters (vLLM --max-lora-rank: 1, 8, 16, 32, 64, 128, 256, 320 or 512); every
    adapter slot reserves GPU memory for this rank. Default 16."""
    lora_runtime_loading: NotRequired[bool]
    """Let callers that reach the server load and unload adapters at run time (VLLM_ALLOW_RUNTIME_LORA_UPDATING): they
    can then load any adapter path the server can read. Default false."""
    api_key_secret: NotRequired[str]
    """Kubernetes Secret (key `api-key`) whose value clients must send. Default: none (network policy only)."""
    extra_args: NotRequired[list[str]]
    """More runtime flags (--flag=value); flags pulumi-llm manages are refused. Default: none."""


# --------------------------------------------------------------------------------------------
# OnPremServing


class AutoscalingEngine(Enum):
    """What scales the model servers."""

    KEDA = "keda"
    """A KEDA ScaledObject on a Prometheus query (can scale to zero)."""
    HPA = "hpa"
    """An HPA v2 on external metrics through prometheus-adapter."""
    NONE = "none"
    """Fixed replicas."""


class Autoscaling(TypedDict):
    """Scaling on queue depth, never on CPU."""

    engine: NotRequired[AutoscalingEngine]
    """Autoscaler. Default keda."""
    queue_threshold: NotRequired[int]
    """Waiting requests per replica that trigger a scale-up. Default 5."""
    polling_seconds: NotRequired[int]
    """How often KEDA queries Prometheus. Default 15."""
    cooldown_seconds: NotRequired[int]
    """KEDA: idle time before scaling to zero. Default 360."""
    scale_down_stabilization_seconds: NotRequired[int]
    """Window the HPA looks back over before removing replicas. Default 300."""
    scale_to_zero: NotRequired[bool]
    """Let idle models scale to zero (KEDA only; the first request waits for a cold start). Default false."""
    fallback_replicas: NotRequired[int]
    """Replicas KEDA holds when Prometheus can't be read. Default 2."""


class Alerts(TypedDict):
    """Thresholds of the LLM alert rules."""

    queue_depth: NotRequired[int]
    """Waiting requests sustained for 5 minutes that page. Default 10."""
    kv_cache_usage: NotRequired[float]
    """KV-cache usage fraction that warns. Default 0.9."""
    ttft_p99_seconds: NotRequired[float]
    """Time-to-first-token p99 SLO in seconds. Default 2."""
    e2e_p99_seconds: NotRequired[float]
    """End-to-end latency p99 SLO in seconds. Default 60."""


class Serving(TypedDict):
    """How the model servers run."""

    replicas: NotRequired[Replicas]
    """Replica bounds of every model without its own. Default min 1, max 1."""
    autoscaling: NotRequired[Autoscaling]
    """Autoscaling on queue depth. Default KEDA, threshold 5."""
    alerts: NotRequired[Alerts]
    """Alert thresholds."""
    gpu_memory_utilization: NotRequired[float]
    """Fraction of GPU memory vLLM may use. Default 0.9."""


class NodeGpus(TypedDict):
    """The GPUs of the cluster's GPU nodes, for sizing."""

    accelerator: NotRequired[str]
    """GPU model of the GPU nodes (L4, A10G, L40S, A100-80GB, H100-80GB, …). Default L40S."""
    per_node: NotRequired[int]
    """GPUs per GPU node. Default 8."""


class GpuOperator(TypedDict):
    """The NVIDIA GPU Operator (on-prem it installs the driver too)."""

    install: NotRequired[bool]
    """Install the GPU Operator (pinned Helm chart). Default true."""
    driver: NotRequired[bool]
    """Let the Operator install the NVIDIA driver on the nodes. Default true."""


class Ingress(TypedDict):
    """How clients reach the models: `/<model>/v1/…` on one host through ingress-nginx."""

    install: NotRequired[bool]
    """Install ingress-nginx (pinned). Default true."""
    class_name: NotRequired[str]
    """IngressClass the model Ingresses use. Default nginx."""
    host: NotRequired[str]
    """Host name of the model API. Default: none (any host)."""
    tls_secret: NotRequired[str]
    """Secret with the TLS certificate for host. Default: none."""


class AddOn(TypedDict):
    """A cluster add-on pulumi-llm can install; install false where the cluster already has it."""

    install: NotRequired[bool]
    """Install it (pinned Helm chart). Default true."""


class Prometheus(TypedDict):
    """Metrics: kube-prometheus-stack, or the Prometheus the cluster already runs."""

    install: NotRequired[bool]
    """Install kube-prometheus-stack (pinned). Default true."""
    url: NotRequired[str]
    """Prometheus URL KEDA queries when install is false. Default: the installed stack's service."""


class OnPremServingArgs(TypedDict):
    environment: str
    """Environment name in labels (dev, staging, prod, …): lowercase letters, digits and '-'. Required."""
    stack: NotRequired[str]
    """Stack name in labels. Default: the stack of the program that uses the component."""
    tags: NotRequired[dict[str, str]]
    """Extra labels on every Kubernetes object, beside the common set. Default: none."""
    kube_context: NotRequired[str]
    """kubeconfig context of the cluster: the component makes its own Kubernetes provider. Default: none — the Kubernetes provider passed in the resource options (providers) is used."""
    kubeconfig: NotRequired[str]
    """Path of the kubeconfig file, with kubeContext. Default: the provider's default ($KUBECONFIG or ~/.kube/config)."""
    namespace: NotRequired[str]
    """Namespace the model servers run in. Default llm."""
    models: dict[str, Model]
    """The models, keyed by served name (a DNS label). At least one. Required."""
    serving: NotRequired[Serving]
    """Replicas, autoscaling, alerts and GPU memory share of every model."""
    gpus: NotRequired[NodeGpus]
    """GPUs of the GPU nodes. Default 8× L40S."""
    gpu_operator: NotRequired[GpuOperator]
    """NVIDIA GPU Operator. Default: installed, with the driver."""
    ingress: NotRequired[Ingress]
    """Ingress to the model API. Default: ingress-nginx installed, class nginx."""
    keda: NotRequired[AddOn]
    """KEDA, for autoscaling on queue depth. Default: installed."""
    prometheus: NotRequired[Prometheus]
    """Prometheus and Grafana. Default: kube-prometheus-stack installed."""
    hf_token_secret: NotRequired[str]
    """Secret (key `token`) in the model namespace with the Hugging Face token for copy Jobs. Default hf-token."""


_NO_CONTEXT = "(provider from resource options)"
"""What settings validation sees as the context when the consumer passes its own provider."""


class OnPremServing(pulumi.ComponentResource):
    """LLM model servers on a Kubernetes cluster you already run: the NVIDIA GPU Operator, ingress-nginx, KEDA and kube-prometheus-stack (each pinned, each optional), then per model a hardened vLLM or Triton server sized on your GPUs, an Ingress, a queue-depth autoscaler, alert rules and dashboards."""

    namespace: pulumi.Output[str]
    """Namespace the model servers run in."""
    models: pulumi.Output[list[str]]
    """Served names of the models, sorted; each answers at /<name>/v1 on the ingress host."""

    def __init__(self, name: str, args: OnPremServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        from ..component_args import onprem_cluster_args
        from ..onprem import OnPremCluster

        raw = _plain(args)
        stack = raw.pop("stack", None) or pulumi.get_stack()
        onprem = {k: raw.pop(k) for k in _ONPREM_KEYS if k in raw}
        context = onprem.get("kube_context")
        onprem.setdefault("kube_context", _NO_CONTEXT)
        settings = _validate("OnPremServing", name, {**raw, "cloud": "onprem", "methods": ["onprem"], "onprem": onprem}, [("onprem", "")])
        labels = CommonLabels(stack=stack, environment=settings.environment, extra=dict(settings.tags))
        cluster_args = onprem_cluster_args(settings, labels)
        # Everything is validated before anything registers, this component included.
        super().__init__(f"{PACKAGE}:index:OnPremServing", name, None, opts)

        child_opts = pulumi.ResourceOptions(parent=self)
        if context:
            import pulumi_kubernetes as k8s

            assert settings.onprem is not None  # validated with its onprem section just above
            provider = k8s.Provider(
                child(name, "k8s"),
                context=context,
                kubeconfig=settings.onprem.kubeconfig,
                enable_server_side_apply=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            child_opts = pulumi.ResourceOptions(parent=self, providers=[provider])
        cluster = OnPremCluster(child(name, "cluster"), cluster_args, opts=child_opts)
        self.namespace = cluster.namespace
        self.models = pulumi.Output.from_input(sorted(settings.models))
        self.register_outputs({"namespace": self.namespace, "models": self.models})


_ONPREM_KEYS = ("kube_context", "kubeconfig", "namespace", "gpus", "gpu_operator", "ingress", "keda", "prometheus", "hf_token_secret")
"""OnPremServing args that sit under `onprem:` in a stack file."""


# --------------------------------------------------------------------------------------------
# AwsLlmGateway


class ApiProvider(Enum):
    """An LLM API provider the gateway routes to."""

    OPENAI = "openai"
    """OpenAI (API key in Secrets Manager)."""
    ANTHROPIC = "anthropic"
    """Anthropic (API key in Secrets Manager)."""
    GEMINI = "gemini"
    """Google Gemini API (API key in Secrets Manager)."""
    COHERE = "cohere"
    """Cohere (API key in Secrets Manager)."""
    BEDROCK = "bedrock"
    """Amazon Bedrock, with the task role (no key); list the models in bedrockModels."""
    AZURE_OPENAI = "azure-openai"
    """Azure OpenAI (API key in Secrets Manager)."""


class GatewayRoute(TypedDict):
    """One backend of a gateway model, in priority order."""

    provider: ApiProvider
    """The API provider. Required."""
    model: str
    """The provider's model id. Required."""
    rpm: NotRequired[int]
    """Requests per minute this backend takes. Default: unlimited."""
    tpm: NotRequired[int]
    """Tokens per minute this backend takes. Default: unlimited."""


class GatewayModel(TypedDict):
    """A model name clients ask for, served by its routes in order, then by its fallbacks."""

    routes: list[GatewayRoute]
    """Backends in priority order. At least one. Required."""
    fallbacks: NotRequired[list[str]]
    """Other gateway models to try when every route fails (before the first byte). Default: none."""


class GatewayConsumer(TypedDict):
    """A client team or application: its own API key, model allow-list and quota."""

    models: list[str]
    """Gateway models this consumer may call. Required."""
    requests_per_day: int
    """Daily request quota. Required."""
    rate_limit_rps: NotRequired[float]
    """Steady requests per second. Default 10."""
    burst: NotRequired[int]
    """Burst of requests. Default 20."""
    max_tokens: NotRequired[int]
    """Cap per request on max_tokens / max_completion_tokens (lowered to it, or set when absent). Default: no cap."""
    tokens_per_minute: NotRequired[int]
    """Prompt + completion tokens per minute. Default: no limit of its own."""
    tokens_per_day: NotRequired[int]
    """Prompt + completion tokens per day. Default: no limit of its own."""


class GatewayTimeouts(TypedDict):
    """The timeout budget, outermost first: each hop must outlast the one inside it."""

    client_seconds: NotRequired[int]
    """What clients are told to wait. Default 900."""
    edge_seconds: NotRequired[int]
    """API Gateway integration timeout (streaming allows up to 900). Default 600."""
    engine_seconds: NotRequired[int]
    """Gateway engine request timeout. Default 540."""
    provider_seconds: NotRequired[int]
    """One provider call. Default 480."""


class AwsLlmGatewayArgs(TypedDict):
    environment: str
    """Environment name in tags (dev, staging, prod, …): lowercase letters, digits and '-'. Required."""
    stack: NotRequired[str]
    """Stack name in tags and secret names (pulumi-llm/<stack>/<provider>). Default: the stack of the program that uses the component."""
    tags: NotRequired[dict[str, str]]
    """Extra tags on every resource, beside the common set. Default: none."""
    region: str
    """AWS region of the provider the component runs with (e.g. us-east-1). Required."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer and the engine tasks. Required."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Private subnets of the tasks, one per zone (at least 2 with highAvailability). Required."""
    kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key that encrypts the secrets and log groups. Required."""
    alarm_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic the alarms notify. Default: none (alarms without actions)."""
    models: dict[str, GatewayModel]
    """Models clients call, by name (a DNS label). Required."""
    consumers: dict[str, GatewayConsumer]
    """Clients with their own keys and quotas, by name. At least one. Required."""
    timeouts: NotRequired[GatewayTimeouts]
    """Timeout budget, client to provider."""
    retries: NotRequired[int]
    """Retries per request (Retry-After honoured), 0 to 5. Default 2."""
    secrets: NotRequired[dict[str, str]]
    """Secret name per provider, when not the provider's own name. Default: the provider name."""
    bedrock_models: NotRequired[list[str]]
    """Bedrock foundation-model ids the gateway may invoke (its role is scoped to them). Default: none."""
    high_availability: NotRequired[bool]
    """At least 2 tasks across 2 zones. Default true; false only for a dev gateway."""


class AwsLlmGateway(pulumi.ComponentResource):
    """One OpenAI-compatible, streaming endpoint in front of LLM API providers: LiteLLM (pinned by digest) on ECS Fargate in your private subnets behind API Gateway (REST, response streaming, WAF, one API key and usage plan per consumer), provider keys in Secrets Manager containers whose values `pulumi-llm secrets put` writes (never Pulumi state), alarms."""

    invoke_url: pulumi.Output[str]
    """OpenAI base_url for clients (the stage URL)."""
    api_id: pulumi.Output[str]
    """REST API id."""
    stage_name: pulumi.Output[str]
    """Stage name."""
    service_name: pulumi.Output[str]
    """ECS service of the engine."""
    cluster_name: pulumi.Output[str]
    """ECS cluster of the engine."""
    secret_arns: pulumi.Output[dict[str, str]]
    """Secrets Manager secret ARN per provider (containers only: no values)."""
    api_key_ids: pulumi.Output[dict[str, str]]
    """API Gateway API key id per consumer (the key values stay in AWS)."""

    def __init__(self, name: str, args: AwsLlmGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        from ..component_args import aws_gateway_args
        from ..gateway.aws import AwsGateway

        raw = _plain(args)
        stack = raw.pop("stack", None) or pulumi.get_stack()
        resources = _take(raw, "AwsLlmGateway", name, ("vpc_id", "private_subnet_ids", "kms_key_arn"), ("alarm_topic_arn",))
        high_availability = raw.pop("high_availability", True)
        gateway = {k: raw.pop(k) for k in ("models", "consumers", "timeouts", "retries", "secrets", "bedrock_models") if k in raw}
        settings = _validate("AwsLlmGateway", name, {**raw, "cloud": "aws", "methods": ["gateway"], "gateway": gateway}, [("gateway", "")])
        labels = CommonLabels(stack=stack, environment=settings.environment, extra=dict(settings.tags))
        # No self-hosted routes here: the gateway fronts API providers only.
        gateway_args = _checked(
            aws_gateway_args,
            settings=settings,
            labels=labels,
            vpc_id=resources["vpc_id"],
            private_subnet_ids=resources["private_subnet_ids"],
            kms_key_arn=resources["kms_key_arn"],
            alarm_topic_arn=resources.get("alarm_topic_arn"),
            self_hosted_urls={},
            high_availability=high_availability,
            where=f"AwsLlmGateway {name}",
            config_path=f"AwsLlmGateway {name}: args",
        )
        super().__init__(f"{PACKAGE}:index:AwsLlmGateway", name, None, opts)
        gateway_component = AwsGateway(child(name, "gateway"), gateway_args, opts=pulumi.ResourceOptions(parent=self))
        self.invoke_url = gateway_component.invoke_url
        self.api_id = gateway_component.api_id
        self.stage_name = gateway_component.stage_name
        self.service_name = gateway_component.service_name
        self.cluster_name = gateway_component.cluster_name
        # from_input resolves the Outputs nested in a dict; its stub keeps them in the type
        self.secret_arns = cast(pulumi.Output[dict[str, str]], pulumi.Output.from_input(dict(gateway_component.secret_arns)))
        self.api_key_ids = cast(pulumi.Output[dict[str, str]], pulumi.Output.from_input(dict(gateway_component.api_key_ids)))
        self.register_outputs(
            {
                "invoke_url": self.invoke_url,
                "api_id": self.api_id,
                "stage_name": self.stage_name,
                "service_name": self.service_name,
                "cluster_name": self.cluster_name,
                "secret_arns": self.secret_arns,
                "api_key_ids": self.api_key_ids,
            }
        )


# --------------------------------------------------------------------------------------------
# AwsGpuVmServing


class ScaleSchedule(TypedDict):
    """Scheduled scale to zero (dev): stop at night, start in the morning."""

    stop: str
    """Cron when capacity goes to zero, e.g. `0 20 * * MON-FRI`. Required."""
    start: str
    """Cron when capacity comes back, e.g. `0 7 * * MON-FRI`. Required."""
    time_zone: NotRequired[str]
    """IANA time zone of the crons. Default UTC."""


class GpuVmOptions(TypedDict):
    """The Auto Scaling group and its load balancer."""

    on_demand_base: NotRequired[int]
    """On-demand instances before spot is used. Default 0."""
    spot_percentage: NotRequired[int]
    """Share of capacity above the base that is spot. Default 100 (prod needs an on-demand base)."""
    schedule: NotRequired[ScaleSchedule]
    """Scale to zero on a schedule. Default: none (always on)."""
    internet_facing: NotRequired[bool]
    """Internet-facing load balancer (needs publicSubnetIds) instead of internal. Default false."""
    allowed_cidrs: NotRequired[list[str]]
    """CIDRs allowed to reach the load balancer. Default: vpcCidr."""
    certificate_arn: NotRequired[str]
    """ACM certificate for HTTPS (TLS 1.2+). Default: none (HTTP inside the VPC)."""
    idle_timeout_seconds: NotRequired[int]
    """Load-balancer idle timeout, longer than the longest stream. Default 3600."""
    requests_per_target: NotRequired[int]
    """Target tracking: requests per instance per minute. Default 20."""


class AwsGpuVmServingArgs(TypedDict):
    environment: str
    """Environment name in tags (dev, staging, prod, …): lowercase letters, digits and '-'. Required."""
    stack: NotRequired[str]
    """Stack name in tags. Default: the stack of the program that uses the component."""
    tags: NotRequired[dict[str, str]]
    """Extra tags on every resource, beside the common set. Default: none."""
    region: str
    """AWS region of the provider the component runs with (e.g. us-east-1). Required."""
    served_name: str
    """Name clients ask for (the OpenAI `model`), a DNS label. Required."""
    model: Model
    """The model; its source is s3://<bucket>/<prefix>. Required."""
    instance_type: NotRequired[str]
    """EC2 instance type of one replica. Default: the cheapest GPU type in the catalog that fits, in the region."""
    gpu_memory_utilization: NotRequired[float]
    """Fraction of GPU memory vLLM may use. Default 0.9."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer and the instances. Required."""
    vpc_cidr: str
    """CIDR of the VPC: the default of gpuVm.allowedCidrs. Required."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Subnets of the instances (and of an internal load balancer). Required."""
    public_subnet_ids: NotRequired[pulumi.Input[list[str]]]
    """Subnets of an internet-facing load balancer. Default: none."""
    kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key: encrypts the volumes, decrypts the bucket's objects. Required."""
    alarm_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic the alarms notify. Default: none (alarms without actions)."""
    gpu_vm: NotRequired[GpuVmOptions]
    """Capacity mix, schedule and load balancer."""


class AwsGpuVmServing(pulumi.ComponentResource):
    """One LLM on GPU instances: vLLM or Triton (pinned by digest) on the Deep Learning AMI in an Auto Scaling group (spot mix, optional scale-to-zero schedule) behind a load balancer with health checks, weights synced from S3 at boot, encrypted volumes, GPU metrics and alarms. The instance type is sized from the model before anything is created."""

    url: pulumi.Output[str]
    """Base URL of the model server (append /v1 for the OpenAI API)."""
    asg_name: pulumi.Output[str]
    """Auto Scaling group name."""
    alb_dns_name: pulumi.Output[str]
    """Load balancer DNS name."""
    instance_type: pulumi.Output[str]
    """The EC2 instance type one replica runs on (given or sized)."""

    def __init__(self, name: str, args: AwsGpuVmServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        from ..component_args import aws_gpu_vm_args
        from ..gpu_vm.aws import AwsGpuVm

        raw = _plain(args)
        stack = raw.pop("stack", None) or pulumi.get_stack()
        served = raw.pop("served_name", None)
        if not served:
            raise UserError(f"AwsGpuVmServing {name}: args.servedName: required")
        model = dict(raw.pop("model", None) or {})
        if "instance_type" in raw:
            model["instance_type"] = raw.pop("instance_type")
        resources = _take(
            raw, "AwsGpuVmServing", name, ("vpc_id", "private_subnet_ids", "kms_key_arn"), ("public_subnet_ids", "alarm_topic_arn")
        )
        if "instance_type" in model:
            from ..sizing import check_instance_region, get_instance_type

            try:
                check_instance_region(get_instance_type(model["instance_type"], "aws"), str(raw.get("region") or ""))
            except UserError as err:
                raise UserError(f"AwsGpuVmServing {name}: args.instanceType = {model['instance_type']}: {err}") from None
        if str(model.get("source", "")).startswith("store://"):
            raise UserError(
                f"AwsGpuVmServing {name}: args.model.source = {model['source']}: store:// is a stack's own model store; "
                "give the bucket: s3://<bucket>/<prefix>"
            )
        serving_raw = {"gpu_memory_utilization": raw.pop("gpu_memory_utilization")} if "gpu_memory_utilization" in raw else {}
        # The zone count is the consumer's network's: the stack-level check (prod spans 3 zones) is
        # about a network this component does not create.
        aws_raw = {"network": {"cidr": raw.pop("vpc_cidr", None), "az_count": 3}, "gpu_vm": raw.pop("gpu_vm", {})}
        settings = _validate(
            "AwsGpuVmServing",
            name,
            {**raw, "cloud": "aws", "methods": ["gpu-vm"], "models": {served: model}, "serving": serving_raw, "aws": aws_raw},
            [
                (f"models.{served}.instance_type", "instance_type"),
                (f"models.{served}", "model"),
                ("models", "served_name"),
                ("serving.gpu_memory_utilization", "gpu_memory_utilization"),
                ("aws.gpu_vm", "gpu_vm"),
                ("aws.network.cidr", "vpc_cidr"),
            ],
        )
        labels = CommonLabels(stack=stack, environment=settings.environment, extra=dict(settings.tags))
        vm_args = _checked(
            aws_gpu_vm_args,
            settings=settings,
            labels=labels,
            served=served,
            vpc_id=resources["vpc_id"],
            private_subnet_ids=resources["private_subnet_ids"],
            public_subnet_ids=resources.get("public_subnet_ids"),
            kms_key_arn=resources["kms_key_arn"],
            # store:// (the stack's own store) was refused above: the source names its bucket, and the
            # store's key (store_key_arn) is the stack's own store's only.
            store_bucket_arn=None,
            store_key_arn=None,
            alarm_topic_arn=resources.get("alarm_topic_arn"),
            config_path=f"AwsGpuVmServing {name}: args.model",
        )
        itype = vm_args.instance_types[0]
        super().__init__(f"{PACKAGE}:index:AwsGpuVmServing", name, None, opts)
        vm = AwsGpuVm(child(name, "vm"), vm_args, opts=pulumi.ResourceOptions(parent=self))
        self.url = vm.url
        self.asg_name = vm.asg_name
        self.alb_dns_name = vm.alb_dns_name
        self.instance_type = pulumi.Output.from_input(itype)
        self.register_outputs(
            {"url": self.url, "asg_name": self.asg_name, "alb_dns_name": self.alb_dns_name, "instance_type": self.instance_type}
        )


COMPONENTS: list[type[pulumi.ComponentResource]] = [OnPremServing, AwsLlmGateway, AwsGpuVmServing]
"""What the package hosts."""


# --------------------------------------------------------------------------------------------
# Validation: the stack file's checks, messages in the caller's spelling


def _take(raw: dict[str, Any], kind: str, name: str, required: Sequence[str], optional: Sequence[str] = ()) -> dict[str, Any]:
    """Pop the args that are other resources' values (Inputs): they bypass settings validation."""
    for key in required:
        if raw.get(key) is None:
            raise UserError(f"{kind} {name}: args.{_camel(key)}: required")
    return {k: raw.pop(k) for k in (*required, *optional) if k in raw}


def _checked(build: Any, **kwargs: Any) -> Any:
    """A child's Args (from its builder in `component_args`), its own checks' messages (`<where>.private_subnet_ids: …`) spelt like ours."""
    try:
        return build(**kwargs)
    except UserError as err:
        raise UserError(_respell(str(err))) from None


def _plain(value: Any) -> Any:
    """Args as plain data: enum members (the provider deserializes them) back to their values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in cast(Mapping[Any, Any], value).items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in cast(Sequence[Any], value)]
    return value


def _validate(kind: str, name: str, raw: dict[str, Any], renames: Sequence[tuple[str, str]]):
    """Settings from `raw`; a problem becomes one line naming the component, the arg path in the
    caller's camelCase spelling, the value and what is allowed."""
    from .. import settings as stack_settings

    prefix = stack_settings.NAMESPACE + ":"
    try:
        return stack_settings.load({prefix + k: v for k, v in raw.items()}, f"{kind} {name}")
    except UserError as err:
        raise UserError(_respell(str(err), renames)) from None


_PATH = re.compile(r"^(?P<source>.*?): (?:pulumi-llm:|args\.)(?P<path>[^\s=:]*)(?P<rest>.*)$")
_CUT_OBJECT = re.compile(r" = \{[^…]*…(?=: )")


def _respell(message: str, renames: Sequence[tuple[str, str]] = ()) -> str:
    """`OnPremServing x: pulumi-llm:onprem.gpu_operator.driver = …` → `OnPremServing x: args.gpuOperator.driver = …`.

    Settings paths are renamed to the adapter's args, field names camelCased as the caller wrote them,
    and a whole object's value (a model's every field) left out: the message names the field at fault."""
    found = _PATH.match(message)
    if not found:
        return message
    path, rest = found["path"], found["rest"]
    for old, new in renames:
        if path == old or path.startswith((old + ".", old + "[")):
            path = (new + path[len(old) :]).lstrip(".")
            break
    if rest.startswith(" = {"):
        try:
            _, end = json.JSONDecoder().raw_decode(rest[3:])
            rest = rest[3 + end :]
        except json.JSONDecodeError:
            # A long value is cut (`{"catalog": "…`) by the message builder: drop it up to the cut.
            cut = _CUT_OBJECT.match(rest)
            rest = rest[cut.end() :] if cut else rest
    fields = _field_names()
    spelt = ".".join(_camel(part) if part.split("[")[0] in fields else part for part in path.split(".") if part)
    return f"{found['source']}: args{'.' + spelt if spelt else ''}{rest}"


def _camel(part: str) -> str:
    head, *rest = part.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


@cache
def _field_names() -> frozenset[str]:
    """Every field name of the settings tree and of the adapters' args: the path parts to camelCase
    (a model's or a consumer's own name is a key, spelt as given)."""
    from pydantic import BaseModel

    from .. import settings as stack_settings

    names: set[str] = set()

    def walk(annotation: Any) -> None:
        # Annotated[...], Optional[...] and other unions are walked through their __args__.
        members: tuple[Any, ...] = getattr(annotation, "__args__", None) or ()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for field_name, field in annotation.model_fields.items():
                if field_name not in names:
                    names.add(field_name)
                    walk(field.annotation)
        for member in members:
            walk(member)

    walk(stack_settings.Settings)
    for component in COMPONENTS:
        args_type: type = component.__init__.__annotations__["args"]
        names.update(args_type.__annotations__)
    return frozenset(names)


# --------------------------------------------------------------------------------------------
# Hosting


class LlmComponentProvider(ComponentProvider):
    """The SDK's component provider, reporting a bad argument as its one line, not a traceback."""

    def construct(self, name: str, resource_type: str, inputs: Any, options: Any = None) -> Any:
        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as err:
            if isinstance(err.inner, UserError):
                raise InputPropertiesError(str(err.inner)) from None
            raise


def provider() -> LlmComponentProvider:
    """The provider `pulumi package add` talks to; its `schema` is what GetSchema returns."""
    return LlmComponentProvider(COMPONENTS, PACKAGE, version=__version__)


def host(argv: Iterable[str] | None = None) -> None:
    """Serve the components to the Pulumi engine (the plugin's __main__)."""
    from pulumi.provider import main

    main(provider(), list(sys.argv[1:] if argv is None else argv))
