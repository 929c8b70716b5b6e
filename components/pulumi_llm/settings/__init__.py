"""The whole stack configuration, as one tree of frozen pydantic models.

This module is the only reader of Pulumi config (docs/ARCHITECTURE.md, "Components read nothing
global"). Every key lives under the `pulumi-llm` namespace, so
`pulumi config set --path pulumi-llm:serving.replicas.max 4` is the natural way to change a value.
Validation is pure: no network, no cloud calls, no environment reads.

A bad value becomes one line that names the file, the key path, the value and what is allowed:

    stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.max = 1: must be >= replicas.min (2)
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ..errors import FieldProblem, UserError
from ..runtimes.spec import Runtime  # the names in runtimes/registry.py: vLLM, Triton on GPU servers; llama.cpp, ONNX on edge

NAMESPACE = "pulumi-llm"

Cloud = Literal["aws", "gcp", "azure", "onprem"]
Method = Literal["gateway", "gpu-vm", "cluster", "onprem", "edge"]
"""The deployment methods a stack can enable. Each one lands with the component that builds it."""

CLOUD_OF_METHOD: dict[str, tuple[str, ...]] = {
    "onprem": ("onprem",),
    "gpu-vm": ("aws", "gcp", "azure"),
    "cluster": ("aws", "gcp", "azure"),
    "gateway": ("aws", "gcp", "azure"),
    "edge": ("aws",),
}
SELF_HOSTING = ("gpu-vm", "cluster", "onprem", "edge")
"""Which clouds each method runs on."""
_DNS_NAME = re.compile(r"^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+$")


def _dns_label(max_len: int) -> AfterValidator:
    def check(value: str) -> str:
        if not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", value) or len(value) > max_len:
            raise ValueError(
                f"must be lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most {max_len} characters"
            )
        return value

    return AfterValidator(check)


Label = Annotated[str, _dns_label(40)]
"""Names that become parts of Kubernetes and cloud resource names."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Replicas(_Strict):
    """How many copies of each model server run."""

    min: int = Field(1, ge=0, description="Fewest replicas; 0 only with autoscaling.scale_to_zero. Default 1.")
    max: int = Field(1, ge=1, description="Most replicas the autoscaler may add. Default 1.")

    @model_validator(mode="after")
    def _ordered(self) -> Replicas:
        if self.max < self.min:
            raise FieldProblem("max", f"must be >= replicas.min ({self.min})")
        return self


class AutoscalingSettings(_Strict):
    """Scaling on LLM signals (queue depth), never on CPU (vllm-project/production-stack helm/templates/scaledobject-vllm.yaml)."""

    engine: Literal["keda", "hpa", "none"] = Field(
        "keda", description="keda (ScaledObject on a Prometheus query), hpa (HPA v2 through prometheus-adapter) or none. Default keda."
    )
    queue_threshold: int = Field(5, ge=1, description="Waiting requests per replica that trigger a scale-up. Default 5.")
    polling_seconds: int = Field(15, ge=5, description="How often KEDA queries Prometheus. Default 15.")
    cooldown_seconds: int = Field(360, ge=0, description="KEDA: idle time before scaling to zero. Default 360.")
    scale_down_stabilization_seconds: int = Field(
        300, ge=0, description="Window the HPA looks back over before removing replicas. Default 300."
    )
    scale_to_zero: bool = Field(
        False, description="Let idle models scale to zero (KEDA only; the first request waits for a cold start). Default false."
    )
    fallback_replicas: int = Field(
        2, ge=1, description="Replicas KEDA holds when Prometheus can't be read (capped at replicas.max). Default 2."
    )


class AlertSettings(_Strict):
    """Thresholds of the LLM alert rules."""

    queue_depth: int = Field(10, ge=1, description="Waiting requests sustained for 5 min that page. Default 10.")
    kv_cache_usage: float = Field(0.9, gt=0, le=1, description="KV-cache usage fraction that warns. Default 0.9.")
    ttft_p99_seconds: float = Field(2.0, gt=0, description="Time-to-first-token p99 SLO in seconds. Default 2.")
    e2e_p99_seconds: float = Field(60.0, gt=0, description="End-to-end latency p99 SLO in seconds. Default 60.")


class ServingSettings(_Strict):
    """How self-hosted model servers run, whatever the method."""

    replicas: Replicas = Field(default_factory=Replicas, description="Replica bounds. Default min 1, max 1.")
    autoscaling: AutoscalingSettings = Field(
        default_factory=AutoscalingSettings, description="Autoscaling on queue depth. Default KEDA, threshold 5."
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert thresholds.")
    gpu_memory_utilization: float = Field(0.9, gt=0.1, le=0.98, description="Fraction of GPU memory vLLM may use. Default 0.9.")

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


class CustomModel(_Strict):
    """The architecture of a model that isn't in the catalog (a fine-tune of a new base, your own LLM)."""

    total_params_b: float = Field(gt=0, description="All parameters, in billions (MoE: every expert). Required.")
    active_params_b: float | None = Field(None, gt=0, description="Parameters used per token (MoE). Default: all.")
    num_layers: int = Field(ge=1, description="Transformer layers. Required.")
    hidden_size: int = Field(ge=1, description="Hidden size. Required.")
    num_attention_heads: int = Field(ge=1, description="Attention heads. Required.")
    num_kv_heads: int = Field(ge=1, description="Key/value heads (GQA). Required.")
    head_dim: int | None = Field(None, ge=1, description="Head dimension. Default hidden_size / attention heads.")
    max_context: int = Field(ge=1, description="Longest context the model was trained for, in tokens. Required.")
    vocab_size: int = Field(ge=1, description="Vocabulary size. Required.")


class ModelSettings(_Strict):
    """One model the stack serves; the key of the `models` map is its served name."""

    catalog: str | None = Field(
        None, description="Key of the model in the sizing catalog (e.g. `llama-3.1-8b-instruct`). Give this or custom."
    )
    custom: CustomModel | None = Field(None, description="Architecture of a model outside the catalog. Give this or catalog.")
    revision: str | None = Field(
        None, description="Pinned revision (commit) of the weights, part of their path in the model store. Default: none."
    )
    source: str | None = Field(
        None,
        description="Where servers read the weights: store://<key> (the stack's model store), pvc://<claim>/<path>, "
        "s3://<bucket>/<prefix> or gs://<bucket>/<prefix>. Required to serve the model; never a public hub.",
    )
    runtime: Runtime = Field(
        "vllm",
        description="Model server: vllm or triton (Triton's vLLM backend); on edge nodes the edge.runtime, llamacpp or onnx. Default vllm.",
    )
    quantization: str | None = Field(
        None, description="Weight precision: bf16, fp16, fp8, int8, awq, gptq. Default: the model's native precision."
    )
    context: int | None = Field(
        None, ge=1, description="Longest request in tokens (vLLM --max-model-len). Default: as much as fits, up to the model's maximum."
    )
    gpus: int | None = Field(
        None, ge=1, description="GPUs per replica (= tensor parallel size). Default: the fewest that fit, from sizing."
    )
    replicas: Replicas | None = Field(None, description="Replica bounds of this model. Default: serving.replicas.")
    copy_from_hub: bool = Field(
        False,
        description="Copy hub_repo at the pinned revision into source once, with a Kubernetes Job (cluster and onprem "
        "methods; the Hugging Face token comes from the cloud secret store or the onprem hf-token Secret). Default false.",
    )
    hub_repo: str | None = Field(None, description="Hugging Face repository of the weights. Default: the catalog model's repository.")
    instance_type: str | None = Field(
        None,
        description="Cloud instance type of one replica (gpu-vm, cluster with node groups). Default: the cheapest type in "
        "the catalog that fits, in the stack's region.",
    )
    lora_adapters: dict[Label, str] = Field(
        default_factory=dict, description="LoRA adapters served beside the model: name → path below the model source. Default: none."
    )
    api_key_secret: str | None = Field(
        None, description="Kubernetes Secret (key `api-key`) whose value clients must send. Default: none (network policy only)."
    )
    extra_args: list[str] = Field(
        default_factory=list, description="More runtime flags (--flag=value); flags pulumi-llm manages are refused. Default: none."
    )

    @model_validator(mode="after")
    def _model(self) -> ModelSettings:
        from ..sizing import get_model

        if (self.catalog is None) == (self.custom is None):
            raise FieldProblem("catalog", "give exactly one of catalog (a known model) or custom (its architecture)")
        if self.catalog is not None:
            try:
                spec = get_model(self.catalog)
            except UserError as err:
                raise FieldProblem("catalog", str(err)) from None
            if self.context is not None and self.context > spec.max_context:
                raise FieldProblem("context", f"above the model's maximum context ({spec.max_context})")
        if self.custom is not None and self.context is not None and self.context > self.custom.max_context:
            raise FieldProblem("context", f"above the model's maximum context ({self.custom.max_context})")
        if self.source is not None and not re.fullmatch(
            r"(pvc://[a-z0-9][-a-z0-9.]*|s3://[a-z0-9][-a-z0-9.]*|gs://[a-z0-9][-a-z0-9._]*|store:/|node:/)(/[^\s]*)?", self.source
        ):
            raise FieldProblem(
                "source",
                "must be store://<key>, pvc://<claim>/<path>, s3://<bucket>/<prefix>, gs://<bucket>/<prefix> or node://<file>.gguf",
            )
        from ..runtimes.vllm import check_extra_args

        for _i, token in enumerate(self.extra_args):
            try:
                check_extra_args([token], "extra_args")
            except UserError as err:
                raise FieldProblem("extra_args", str(err).split(": ", 1)[1]) from None
        return self


class OnPremGpus(_Strict):
    """The GPUs of the cluster's GPU nodes, for sizing."""

    accelerator: str = Field("L40S", description="GPU model of the GPU nodes (L4, A10G, L40S, A100-80GB, H100-80GB, …). Default L40S.")
    per_node: int = Field(8, ge=1, le=16, description="GPUs per GPU node. Default 8.")

    @model_validator(mode="after")
    def _known(self) -> OnPremGpus:
        from ..sizing import get_accelerator

        try:
            get_accelerator(self.accelerator)
        except UserError as err:
            raise FieldProblem("accelerator", str(err)) from None
        return self


class AddOn(_Strict):
    """A cluster add-on pulumi-llm can install; set install false where the cluster already has it."""

    install: bool = Field(True, description="Install it (pinned Helm chart). Default true.")


class GpuOperatorSettings(_Strict):
    """The NVIDIA GPU Operator. On-prem is the one place it installs drivers (awslabs/ai-on-eks infra/base/terraform/helm-values/nvidia-gpu-operator.yaml)."""

    install: bool = Field(True, description="Install the GPU Operator. Default true.")
    driver: bool = Field(True, description="Let the Operator install the NVIDIA driver on the nodes. Default true.")


class IngressSettings(_Strict):
    """How clients reach the model servers."""

    install: bool = Field(True, description="Install ingress-nginx (pinned). Default true.")
    class_name: str = Field("nginx", description="IngressClass the model Ingresses use. Default nginx.")
    host: str | None = Field(None, description="Host name of the model API. Default: none (any host).")
    tls_secret: str | None = Field(
        None, description="Secret with the TLS certificate for host. Default: none (plain HTTP inside the cluster network)."
    )


class PrometheusSettings(_Strict):
    """Metrics: kube-prometheus-stack, or the Prometheus the cluster already runs."""

    install: bool = Field(True, description="Install kube-prometheus-stack (pinned). Default true.")
    url: str | None = Field(None, description="Prometheus URL KEDA queries when install is false. Default: the installed stack's service.")
    namespace: Label | None = Field(
        None,
        description="Namespace the cluster's own Prometheus runs in (install false): the model servers' NetworkPolicy "
        "admits it to scrape. Default: the namespace in url's `<service>.<namespace>.svc` host.",
    )

    @model_validator(mode="after")
    def _reachable(self) -> PrometheusSettings:
        if not self.install and not self.url:
            raise FieldProblem("url", "required when install is false (KEDA and the adapter query it)")
        if not self.install and self.scraper_namespace() is None:
            raise FieldProblem(
                "namespace",
                "required when url is not an in-cluster <service>.<namespace>.svc address (the servers admit only the scraper's namespace)",
            )
        return self

    def scraper_namespace(self) -> str | None:
        """The namespace whose Prometheus scrapes the servers when the stack doesn't install one."""
        if self.namespace:
            return self.namespace
        host = (self.url or "").split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].split(".")
        return host[1] if len(host) >= 3 and host[2] == "svc" else None


class OnPremSettings(_Strict):
    """An existing Kubernetes cluster, reached through a kubeconfig context."""

    kube_context: str = Field(min_length=1, description="kubeconfig context of the cluster. Required: never the current context.")
    kubeconfig: str | None = Field(
        None, description="Path of the kubeconfig file. Default: the provider's default ($KUBECONFIG or ~/.kube/config)."
    )
    namespace: Label = Field("llm", description="Namespace the model servers run in. Default `llm`.")
    namespace_exists: bool | None = Field(
        None,
        description="The namespace is yours, created before `pulumi up` with what the servers read from it (pvc:// "
        "claims, the ingress TLS Secret, the Hugging Face token Secret): the stack sets its labels (Pod Security "
        "restricted) and never creates or deletes it. Default: true when the stack reads such objects (a namespace "
        "the stack creates can't hold them before its first run), else false (the stack creates it). Set false to "
        "keep a namespace an earlier version of the stack created (switching would delete it).",
    )

    def owns_namespace(self, needs: list[str]) -> bool:
        """Whether the stack creates the namespace, given the user's objects the servers read from it."""
        return not (self.namespace_exists if self.namespace_exists is not None else bool(needs))

    gpus: OnPremGpus = Field(default_factory=OnPremGpus, description="GPUs of the GPU nodes. Default 8× L40S.")
    gpu_operator: GpuOperatorSettings = Field(default_factory=GpuOperatorSettings, description="NVIDIA GPU Operator.")
    ingress: IngressSettings = Field(default_factory=IngressSettings, description="Ingress to the model API.")
    keda: AddOn = Field(default_factory=AddOn, description="KEDA, for autoscaling on queue depth.")
    hf_token_secret: str = Field(
        "hf-token",
        description="Secret (key `token`) in the model namespace holding the Hugging Face token for copy Jobs. Default hf-token.",
    )
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings, description="Prometheus and Grafana.")


class AwsNetworkSettings(_Strict):
    """The VPC every AWS method runs in."""

    cidr: str = Field("10.40.0.0/16", description="VPC CIDR, a private /16 to /20. Default 10.40.0.0/16.")
    az_count: int = Field(2, ge=2, le=6, description="Availability zones (3 or more in prod). Default 2.")
    nat_per_az: bool = Field(False, description="One NAT gateway per zone (prod) instead of one in all. Default false.")
    flow_logs_retention_days: int = Field(30, ge=1, description="Days VPC flow logs are kept. Default 30.")


class ScaleSchedule(_Strict):
    """Scheduled scale to zero (dev): stop at night, start in the morning."""

    stop: str = Field(description="Cron (UTC unless time_zone) when capacity goes to zero, e.g. `0 20 * * MON-FRI`.")
    start: str = Field(description="Cron when capacity comes back, e.g. `0 7 * * MON-FRI`.")
    time_zone: str = Field("UTC", description="IANA time zone of the crons. Default UTC.")


class GpuVmSettings(_Strict):
    """GPU instances in an Auto Scaling group behind a load balancer."""

    on_demand_base: int = Field(0, ge=0, description="On-demand instances before spot is used. Default 0.")
    spot_percentage: int = Field(
        100, ge=0, le=100, description="Share of capacity above the base that is spot. Default 100 (prod needs an on-demand base)."
    )
    schedule: ScaleSchedule | None = Field(None, description="Scale to zero on a schedule. Default: none (always on).")
    internet_facing: bool = Field(False, description="Internet-facing load balancer instead of internal. Default false.")
    allowed_cidrs: list[str] = Field(default_factory=list, description="CIDRs allowed to reach the load balancer. Default: the VPC only.")
    certificate_arn: str | None = Field(None, description="ACM certificate for HTTPS (TLS 1.2+). Default: none (HTTP inside the VPC).")
    idle_timeout_seconds: int = Field(
        3600, ge=60, le=4000, description="Load-balancer idle timeout, longer than the longest stream. Default 3600."
    )
    requests_per_target: int = Field(20, ge=1, description="Target tracking: requests per instance per minute. Default 20.")


class ClusterSettings(_Strict):
    """EKS with GPU capacity."""

    kubernetes_version: str | None = Field(None, description="EKS Kubernetes version. Default: the pinned version.")
    gpu_capacity: Literal["karpenter", "node-group"] = Field(
        "karpenter", description="Karpenter NodePool (families, spot and on-demand) or a managed GPU node group. Default karpenter."
    )
    gpu_instance_families: list[str] = Field(
        default_factory=lambda: ["g6e", "g6"], description="Karpenter: GPU instance families. Default g6e, g6."
    )
    gpu_instance_types: list[str] = Field(
        default_factory=list, description="Node group: GPU instance types. Default: the model's instance type."
    )
    capacity_types: list[Literal["spot", "on-demand"]] = Field(
        default_factory=lambda: ["spot", "on-demand"], description="Capacity types for GPU nodes. Default spot and on-demand."
    )
    max_gpus: int = Field(16, ge=1, description="Most GPUs the GPU capacity may hold. Default 16.")
    endpoint_public: bool = Field(False, description="Public API endpoint (never in prod). Default false.")
    public_access_cidrs: list[str] = Field(default_factory=list, description="CIDRs allowed to the public endpoint.")
    admin_principals: list[str] = Field(
        default_factory=list, description="IAM principal ARNs given cluster-admin access entries. Default: none."
    )
    ingress: Literal["internal", "internet-facing"] = Field("internal", description="ALB scheme of the model Ingress. Default internal.")
    prometheus: Literal["kube-prometheus-stack", "amp"] = Field(
        "kube-prometheus-stack", description="In-cluster Prometheus or Amazon Managed Prometheus. Default kube-prometheus-stack."
    )


class ModelTlsSettings(_Strict):
    """HTTPS from the gateway to the self-hosted models: each model answers at `<model>.<domain>` on 443, with
    a certificate its load balancer presents and a DNS record pulumi-llm writes, so the engine can verify it."""

    domain: str = Field(
        description="DNS domain of the model endpoints, e.g. models.internal.example.com: a model answers at <model>.<domain>. Required."
    )
    certificate_arn: str = Field(description="ACM certificate in the stack's region that covers *.<domain>. Required.")
    zone_id: str = Field(
        description="Route 53 hosted zone of the domain (a private zone associated with the stack's VPC): one CNAME per model. Required."
    )


class AwsSettings(_Strict):
    """Settings of the AWS methods."""

    network: AwsNetworkSettings = Field(default_factory=AwsNetworkSettings, description="The VPC.")
    gpu_vm: GpuVmSettings = Field(default_factory=GpuVmSettings, description="The gpu-vm method.")
    cluster: ClusterSettings = Field(default_factory=ClusterSettings, description="The cluster method (EKS).")
    alarm_email: str | None = Field(None, description="Email subscribed to the alarm topic. Default: none.")
    model_tls: ModelTlsSettings | None = Field(
        None,
        description="HTTPS to the self-hosted models (gpu-vm load balancers, EKS model ALBs) under a domain. "
        "Default: none (HTTP on 80 inside the VPC: prompts cross it in clear).",
    )


Provider = Literal["openai", "anthropic", "gemini", "cohere", "bedrock", "azure-openai", "self-hosted"]
"""LLM API providers the gateway routes to; self-hosted is a model this stack serves."""


class RouteSettings(_Strict):
    """One backend of a gateway model, in priority order."""

    provider: Provider = Field(description="openai, anthropic, gemini, cohere, bedrock, azure-openai or self-hosted. Required.")
    model: str = Field(min_length=1, description="The provider's model id, or the served name of a self-hosted model. Required.")
    rpm: int | None = Field(None, ge=1, description="Requests per minute this backend takes. Default: unlimited.")
    tpm: int | None = Field(None, ge=1, description="Tokens per minute this backend takes. Default: unlimited.")


class ModelGroupSettings(_Strict):
    """A model name clients ask for, served by its routes in order, then by its fallbacks."""

    routes: list[RouteSettings] = Field(min_length=1, description="Backends in priority order. At least one.")
    fallbacks: list[str] = Field(
        default_factory=list, description="Other gateway models to try when every route fails (before the first byte). Default none."
    )


class ConsumerSettings(_Strict):
    """A client team or application: its own API key, model allow-list and quota."""

    models: list[str] = Field(min_length=1, description="Gateway models this consumer may call. Required.")
    requests_per_day: int = Field(ge=1, description="Daily request quota. Required.")
    rate_limit_rps: float = Field(10.0, gt=0, description="Steady requests per second. Default 10.")
    burst: int = Field(20, ge=1, description="Burst of requests. Default 20.")


class GatewayTimeouts(_Strict):
    """The timeout budget, outermost first: each hop must outlast the one inside it."""

    client_seconds: int = Field(900, ge=1, description="What clients are told to wait. Default 900.")
    edge_seconds: int = Field(600, ge=1, description="Managed gateway integration timeout (API Gateway STREAM allows 900). Default 600.")
    engine_seconds: int = Field(540, ge=1, description="Gateway engine request timeout. Default 540.")
    provider_seconds: int = Field(480, ge=1, description="One provider call. Default 480.")

    @model_validator(mode="after")
    def _nested(self) -> GatewayTimeouts:
        hops = [
            ("client_seconds", self.client_seconds),
            ("edge_seconds", self.edge_seconds),
            ("engine_seconds", self.engine_seconds),
            ("provider_seconds", self.provider_seconds),
        ]
        for (outer, outer_value), (inner, inner_value) in zip(hops, hops[1:], strict=False):
            if inner_value >= outer_value:
                raise FieldProblem(inner, f"must be below {outer} ({outer_value}): an inner hop may not outlast an outer one")
        return self


class GatewaySettings(_Strict):
    """One OpenAI-compatible endpoint in front of API providers and the stack's own models."""

    models: dict[Label, ModelGroupSettings] = Field(description="Models clients call, by name. Required.")
    consumers: dict[Label, ConsumerSettings] = Field(description="Clients with their own keys and quotas. At least one.")
    timeouts: GatewayTimeouts = Field(default_factory=GatewayTimeouts, description="Timeout budget, client to provider.")
    retries: int = Field(2, ge=0, le=5, description="Retries per request (Retry-After honoured). Default 2.")
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Secret name per provider, when not the provider's own name. Default: the provider name."
    )
    bedrock_models: list[str] = Field(
        default_factory=list, description="Bedrock foundation-model ids the gateway may invoke (its role is scoped to them)."
    )

    @model_validator(mode="after")
    def _references(self) -> GatewaySettings:
        if not self.consumers:
            raise FieldProblem("consumers", "at least one consumer is required (clients authenticate with its key)")
        for name, group in self.models.items():
            for _i, fallback in enumerate(group.fallbacks):
                if fallback not in self.models:
                    raise FieldProblem(f"models.{name}.fallbacks", f"{fallback} is not a gateway model; defined: {', '.join(self.models)}")
                if fallback == name:
                    raise FieldProblem(f"models.{name}.fallbacks", "a model can't fall back to itself")
        for name, consumer in self.consumers.items():
            for model in consumer.models:
                if model not in self.models:
                    raise FieldProblem(f"consumers.{name}.models", f"{model} is not a gateway model; defined: {', '.join(self.models)}")
        owners: dict[str, str] = {}
        for provider in sorted(self.providers()):
            secret = self.secrets.get(provider, provider)
            if secret in owners:
                raise FieldProblem("secrets", f"secret name {secret} is used by both {owners[secret]} and {provider}")
            owners[secret] = provider
        unknown = sorted(set(self.secrets) - self.providers())
        if unknown:
            raise FieldProblem("secrets", f"{unknown[0]} is not a provider of any route")
        return self

    def providers(self) -> set[str]:
        """Providers whose keys live in the secret store (not Bedrock: IAM; not self-hosted)."""
        return {r.provider for g in self.models.values() for r in g.routes} - {"bedrock", "self-hosted"}

    def secret_names(self) -> dict[str, str]:
        """{provider: secret short name}, sorted."""
        return {p: self.secrets.get(p, p) for p in sorted(self.providers())}


def _digest_ref(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}", value):
        raise ValueError("pin the base image by digest as repository:tag@sha256:<digest> (read it with `crane digest <ref>`)")
    return value


DigestRef = Annotated[str, AfterValidator(_digest_ref)]
"""An image reference pinned by tag and digest."""


def _pins():  # noqa: ANN202 - the module, imported when a default is needed
    from .. import pins

    return pins


class EdgeJetsonFleet(_Strict):
    """Jetson Orin nodes served by a jetson image (linux/arm64, L4T r36) beside the main edge fleet."""

    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"pulumi-llm.dev/edge": "jetson"},
        description="Labels of the Jetson nodes. Default pulumi-llm.dev/edge=jetson.",
    )
    device: str = Field("Orin-Nano-8GB", description="Jetson module of those nodes, for sizing. Default Orin-Nano-8GB.")
    builder: str | None = Field(None, description="buildx builder for the arm64 Jetson build (native arm64). Default: the current builder.")


class EdgeSettings(_Strict):
    """Edge devices: multi-arch llama.cpp (or ONNX Runtime GenAI) images in the stack's registry, rolled out to labelled nodes."""

    kube_context: str = Field(min_length=1, description="kubeconfig context of the edge fleet's cluster (K3s). Required.")
    runtime: Literal["llamacpp", "onnx"] = Field(
        "llamacpp",
        description=(
            "Server the image runs: llamacpp (GGUF models; cpu, cuda, jetson targets) or onnx (ONNX Runtime GenAI int4 "
            "model directories, images/edge-onnx; cpu target only). Default llamacpp."
        ),
    )
    kubeconfig: str | None = Field(None, description="Path of the kubeconfig file. Default: the provider's default.")
    namespace: Label = Field("llm-edge", description="Namespace of the rollout. Default llm-edge.")
    device: str = Field(
        "AGX-Orin-64GB",
        description="Device of the edge nodes, for sizing: a Jetson module or GPU key, or cpu-<N>gib for a CPU-only node. Default AGX-Orin-64GB.",
    )
    target: Literal["cpu", "cuda", "jetson"] = Field("cpu", description="Image target: cpu (portable), cuda or jetson. Default cpu.")
    platforms: list[Literal["linux/amd64", "linux/arm64"]] = Field(
        default_factory=lambda: ["linux/amd64", "linux/arm64"], description="Image platforms. Default amd64 and arm64."
    )
    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"pulumi-llm.dev/edge": "true"},
        description="Labels of the nodes that serve. Default pulumi-llm.dev/edge=true.",
    )
    host_model_dir: str = Field("/var/lib/pulumi-llm/models", description="Node directory with the GGUF files.")
    repository: str = Field("pulumi-llm/llama-server", description="Repository of the images in the registry.")
    image_tag: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$",
        description="Tag of this build (immutable in the registry: a new one per build, e.g. b11176-<git sha>). Required.",
    )
    llama_cpp_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "sha256 of the llama.cpp source the image builds from: the llama-cpp-python sdist on PyPI, which "
            "vendors llama.cpp (images/edge-llamacpp/README.md). Required for runtime llamacpp; onnx takes none."
        ),
    )
    builders: dict[Literal["linux/amd64", "linux/arm64"], str] = Field(
        default_factory=dict,
        description="buildx builder per platform, e.g. linux/arm64: graviton (llama.cpp can't build under QEMU). Default: the current builder.",
    )
    jetson_build_image: DigestRef = Field(
        default_factory=lambda: _pins().L4T_JETPACK.ref,
        description="L4T r36 (JetPack 6) image Jetson images build on, repository:tag@sha256:<digest>. Default: pins.L4T_JETPACK.",
    )
    jetson_runtime_image: DigestRef = Field(
        default_factory=lambda: _pins().UBUNTU_22_04.ref,
        description="Image Jetson servers run on (Ubuntu 22.04, as L4T r36), repository:tag@sha256:<digest>. Default: pins.UBUNTU_22_04.",
    )
    jetson: EdgeJetsonFleet | None = Field(
        None, description="Jetson nodes beside the main fleet: a jetson image and its own rollout. Default: none."
    )

    @model_validator(mode="after")
    def _targets(self) -> EdgeSettings:
        if self.runtime == "onnx":
            if self.target != "cpu":
                raise FieldProblem("target", "runtime onnx builds the cpu target only; cuda and jetson need runtime llamacpp")
            if self.jetson is not None:
                raise FieldProblem("jetson", "runtime onnx builds the cpu target only; a Jetson fleet needs runtime llamacpp")
            if self.llama_cpp_sha256 is not None:
                raise FieldProblem("llama_cpp_sha256", "runtime onnx builds no llama.cpp source: drop it (runtime llamacpp takes it)")
        elif self.llama_cpp_sha256 is None:
            raise FieldProblem(
                "llama_cpp_sha256", "required by runtime llamacpp (the sha256 PyPI publishes for the llama-cpp-python sdist)"
            )
        if self.target == "jetson" and self.platforms != ["linux/arm64"]:
            raise FieldProblem("platforms", "a jetson target builds for linux/arm64 only (Jetson modules are arm64)")
        if self.target == "cuda" and "linux/arm64" in self.platforms:
            raise FieldProblem("platforms", "the cuda target is x86 (linux/amd64); use jetson for arm64 GPUs")
        from ..edge.source import LLAMA_CPP_SOURCE

        if self.llama_cpp_sha256 is not None and self.llama_cpp_sha256 != LLAMA_CPP_SOURCE.sha256:
            raise FieldProblem(
                "llama_cpp_sha256",
                f"the image builds llama-cpp-python {LLAMA_CPP_SOURCE.version}'s sdist, whose sha256 is {LLAMA_CPP_SOURCE.sha256} (PyPI)",
            )
        for platform in self.builders:
            if platform not in self.platforms:
                raise FieldProblem(f"builders.{platform}", f"not a platform this stack builds ({', '.join(self.platforms)})")
        if self.jetson is not None:
            if self.target == "jetson":
                raise FieldProblem("jetson", "the main target is already jetson: drop edge.jetson or build cpu/cuda as the main target")
            if self.jetson.node_selector == self.node_selector:
                raise FieldProblem("jetson.node_selector", "must differ from edge.node_selector: each node runs one fleet's server")
        from ..edge.devices import accelerator

        for key, device in (("device", self.device), ("jetson.device", self.jetson.device if self.jetson else None)):
            if device is None:
                continue
            try:
                accelerator(device)
            except UserError as err:
                raise FieldProblem(key, f"{err} (or cpu-<N>gib for a CPU-only node)") from None
        if self.jetson is not None and accelerator(self.jetson.device).kind != "jetson":
            raise FieldProblem("jetson.device", "a Jetson module: Orin-Nano-8GB, Orin-NX-16GB, AGX-Orin-32GB or AGX-Orin-64GB")
        return self


class GcpGpuPoolSettings(_Strict):
    """A GKE GPU node pool family: spot nodes first, on-demand as the fallback."""

    machine_type: str = Field("g2-standard-24", description="Machine type (g2 L4, a2 A100, a3 H100). Default g2-standard-24.")
    spot_max_nodes: int = Field(2, ge=0, le=50, description="Most spot nodes. Default 2.")
    on_demand_max_nodes: int = Field(1, ge=0, le=50, description="Most on-demand nodes. Default 1.")


class GcpSettings(_Strict):
    """Settings of the GCP methods."""

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="GCP project id. Required on GCP.")
    subnet_cidr: str = Field("10.40.0.0/20", description="Private subnet of the workloads. Default 10.40.0.0/20.")
    spot: bool = Field(False, description="GPU VMs on spot capacity (dev). Default false.")
    gke_mode: Literal["standard", "autopilot"] = Field("standard", description="GKE Standard or Autopilot. Default standard.")
    gpu_pool: GcpGpuPoolSettings = Field(default_factory=GcpGpuPoolSettings, description="GKE GPU capacity.")
    prometheus: Literal["kube-prometheus-stack", "managed"] = Field(
        "kube-prometheus-stack", description="In-cluster Prometheus or Managed Service for Prometheus. Default kube-prometheus-stack."
    )
    gateway_domains: list[str] = Field(
        default_factory=list, description="Domains of the gateway's managed certificate. Required with the gateway."
    )
    gateway_subnet_cidr: str = Field(
        "10.40.18.0/26",
        description="Subnet of the gateway's Cloud Run Direct VPC egress, made when it routes to self-hosted models "
        "(/26 or larger, outside subnet_cidr). Default 10.40.18.0/26.",
    )


class AzureNetworkSettings(_Strict):
    """The VNet every Azure method runs in (network.azure.AzureNetwork)."""

    cidr: str = Field("10.50.0.0/16", description="VNet range, a private /16 to /18. Default 10.50.0.0/16.")
    internal_client_cidrs: list[str] = Field(
        default_factory=list,
        description="More ranges allowed to reach the model servers (peered VNets, on-premises). Default: the gateway engine's subnet with the gateway method, else the VNet.",
    )

    @model_validator(mode="after")
    def _ranges(self) -> AzureNetworkSettings:
        import ipaddress

        from ..network.cidrs import PRIVATE_RANGES

        try:
            net = ipaddress.ip_network(self.cidr, strict=True)
        except ValueError:
            raise FieldProblem("cidr", "not an IPv4 network in CIDR notation, e.g. 10.50.0.0/16") from None
        if net.version != 4 or not 16 <= net.prefixlen <= 18 or not any(net.subnet_of(r) for r in PRIVATE_RANGES):
            raise FieldProblem("cidr", "a private IPv4 /16 to /18 (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")
        for cidr in self.internal_client_cidrs:
            try:
                client_net = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise FieldProblem("internal_client_cidrs", f"{cidr} is not a CIDR block such as 10.60.0.0/16") from None
            if client_net.prefixlen == 0:
                raise FieldProblem("internal_client_cidrs", f"{cidr} is the whole internet; internal ranges only")
        return self


class AzureScaleSchedule(_Strict):
    """Scale the GPU VMs to zero outside working hours (dev), in Azure autoscale's terms."""

    days: list[Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]] = Field(
        default_factory=lambda: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
        description="Days the start and stop times apply to. Default Monday to Friday (weekends stay off).",
    )
    start: str = Field("07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM when serving resumes. Default 07:00.")
    stop: str = Field("20:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM when the scale set goes to zero. Default 20:00.")
    time_zone: str = Field(
        "UTC", description="Windows time zone name of the times (Azure autoscale), e.g. 'W. Europe Standard Time'. Default UTC."
    )


class AzureGpuVmSettings(_Strict):
    """GPU VM scale sets behind internal load balancers (gpu_vm.azure.AzureGpuVm)."""

    vm_size: str | None = Field(
        None,
        description="GPU size of the sizing catalog for every model (NC/ND/NV, offered in the region), e.g. Standard_NC24ads_A100_v4. "
        "Default: each model's instance_type, else the cheapest catalog size that fits.",
    )
    spot: bool = Field(False, description="Spot VMs (eviction Delete, max price -1); never in prod. Default false.")
    zones: list[Literal["1", "2", "3"]] = Field(default_factory=list, description="Availability zones to spread over. Default: regional.")
    schedule: AzureScaleSchedule | None = Field(None, description="Scale to zero on a schedule (dev). Default: none (always on).")

    @model_validator(mode="after")
    def _gpu_size(self) -> AzureGpuVmSettings:
        if self.vm_size is not None:
            _check_azure_gpu_size(self.vm_size, "vm_size")
        return self


class AzureGpuPoolSettings(_Strict):
    """One AKS GPU user node pool (tainted nvidia.com/gpu; Spot pools also carry AKS' spot taint)."""

    vm_size: str = Field("Standard_NC24ads_A100_v4", description="GPU size of the sizing catalog. Default Standard_NC24ads_A100_v4.")
    spot: bool = Field(False, description="Spot priority (evicted when Azure needs the capacity). Default false.")
    min_count: int = Field(0, ge=0, description="Fewest nodes (0 lets the autoscaler empty the pool). Default 0.")
    max_count: int = Field(2, ge=1, le=1000, description="Most nodes. Default 2.")

    @model_validator(mode="after")
    def _pool(self) -> AzureGpuPoolSettings:
        _check_azure_gpu_size(self.vm_size, "vm_size")
        if self.min_count > self.max_count:
            raise FieldProblem("min_count", f"must be <= max_count ({self.max_count})")
        return self


class AzureClusterSettings(_Strict):
    """AKS with GPU capacity (cluster.aks.AksCluster)."""

    system_vm_size: str = Field(
        "Standard_D4ds_v5", description="VM size of the system pool (CriticalAddonsOnly). Default Standard_D4ds_v5."
    )
    system_min: int = Field(2, ge=1, le=100, description="Fewest system nodes (2 for zone redundancy). Default 2.")
    system_max: int = Field(4, ge=1, le=100, description="Most system nodes. Default 4.")
    gpu_pools: dict[str, AzureGpuPoolSettings] = Field(
        default_factory=lambda: {"gpu": AzureGpuPoolSettings()},
        description="GPU pools by name (1-12 lower-case letters and digits); every model is sized on the first pool's size. "
        "Default: one on-demand pool 'gpu' of Standard_NC24ads_A100_v4, 0-2 nodes.",
    )
    prometheus: Literal["managed", "kube-prometheus"] = Field(
        "kube-prometheus",
        description="kube-prometheus (in-cluster kube-prometheus-stack) or managed (the same, forwarding to Azure Monitor "
        "managed Prometheus). Default kube-prometheus.",
    )
    private_cluster: bool = Field(
        True, description="API server on a private endpoint only. Default true; false needs authorized_ip_ranges."
    )
    authorized_ip_ranges: list[str] = Field(default_factory=list, description="CIDRs allowed to a public API server. Default none.")
    admin_group_object_ids: list[str] = Field(default_factory=list, description="Entra ID groups bound to cluster-admin. Default none.")
    deployer_principal_type: Literal["User", "ServicePrincipal"] = Field(
        "ServicePrincipal", description="What runs Pulumi (given cluster-admin for the Helm releases). Default ServicePrincipal."
    )

    @model_validator(mode="after")
    def _pools(self) -> AzureClusterSettings:
        if not self.gpu_pools:
            raise FieldProblem("gpu_pools", "at least one GPU pool is needed")
        for name in self.gpu_pools:
            if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", name) or name in ("system", "general"):
                raise FieldProblem(
                    "gpu_pools", f"pool name {name}: 1-12 lower-case letters and digits, starting with a letter, not system or general"
                )
        if self.system_min > self.system_max:
            raise FieldProblem("system_min", f"must be <= system_max ({self.system_max})")
        if self.private_cluster == bool(self.authorized_ip_ranges):
            raise FieldProblem(
                "authorized_ip_ranges",
                "only with private_cluster: false, and then required (never 0.0.0.0/0)"
                if self.private_cluster
                else "required when private_cluster is false (never 0.0.0.0/0)",
            )
        return self


APIM_V2_SKUS = ("StandardV2", "PremiumV2")
"""API Management tiers the Azure gateway runs on: v2 with outbound VNet integration to its engine."""


class AzureOpenAIDeploymentSettings(_Strict):
    """One Azure OpenAI account behind the gateway's /openai pool, reached with APIM's managed identity (no key)."""

    endpoint: str = Field(
        pattern=r"^https://[a-z0-9][a-z0-9-]{1,62}\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)/$",
        description="https://<resource>.openai.azure.com/ (trailing slash). Required.",
    )
    resource_id: str = Field(
        pattern=r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices/accounts/[^/]+$",
        description="ARM id of the account: the only scope of the gateway's Cognitive Services OpenAI User role. Required.",
    )
    priority: int = Field(1, ge=1, le=100, description="Pool priority, 1 first. Default 1.")
    weight: int = Field(1, ge=1, le=100, description="Share of traffic within its priority. Default 1.")
    fallback: bool = Field(False, description="The pool's last resort, without a circuit breaker (one per pool of 2+). Default false.")


class AzureGatewaySettings(_Strict):
    """API Management v2 in front of Azure OpenAI and the shared engine on Container Apps (gateway.azure.AzureGateway)."""

    apim_sku: str = Field("StandardV2", description=f"API Management tier: {' or '.join(APIM_V2_SKUS)}. Default StandardV2.")
    capacity: int = Field(1, ge=1, le=30, description="APIM scale units. Default 1.")
    publisher_email: str | None = Field(
        None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="APIM publisher e-mail (service notices). Required with the gateway."
    )
    azure_openai: dict[Label, AzureOpenAIDeploymentSettings] = Field(
        default_factory=dict, description="Azure OpenAI accounts of the /openai pool, by name. Default none (no /openai API)."
    )
    tokens_per_minute: int = Field(
        100_000, ge=1, description="llm-token-limit per consumer key (prompt + completion tokens). Default 100000."
    )
    engine_min_replicas: int = Field(2, ge=0, le=300, description="Fewest engine replicas on Container Apps. Default 2.")
    engine_max_replicas: int = Field(6, ge=1, le=300, description="Most engine replicas. Default 6.")

    @model_validator(mode="after")
    def _sku(self) -> AzureGatewaySettings:
        allowed = ", ".join(APIM_V2_SKUS)
        if self.apim_sku == "Consumption":
            raise FieldProblem(
                "apim_sku",
                'can\'t stream (no long-lived connections, so no buffer-response="false" server-sent events) and has no '
                f"llm-token-limit; allowed: {allowed}",
            )
        if self.apim_sku in ("Developer", "Basic", "Standard", "Premium", "Isolated"):
            raise FieldProblem("apim_sku", f"a classic tier, without outbound VNet integration to the engine; allowed: {allowed}")
        if self.apim_sku == "BasicV2":
            raise FieldProblem("apim_sku", f"has no VNet integration, so it can't reach the engine's internal ingress; allowed: {allowed}")
        if self.apim_sku not in APIM_V2_SKUS:
            raise FieldProblem("apim_sku", f"not an API Management tier; allowed: {allowed}")
        if self.engine_min_replicas > self.engine_max_replicas:
            raise FieldProblem("engine_min_replicas", f"must be <= engine_max_replicas ({self.engine_max_replicas})")
        backends = self.azure_openai
        if len(backends) > 1:
            fallbacks = [n for n, b in backends.items() if b.fallback]
            if len(fallbacks) != 1:
                last = max(backends, key=lambda n: (backends[n].priority, n))
                raise FieldProblem(
                    f"azure_openai.{last}.fallback",
                    "mark exactly one account of the pool fallback: true, in the lowest priority (a pool whose every member is tripped answers 503)",
                )
            lowest = max(b.priority for b in backends.values())
            if backends[fallbacks[0]].priority != lowest:
                raise FieldProblem(f"azure_openai.{fallbacks[0]}.priority", f"a fallback must be in the lowest priority group ({lowest})")
        return self


class AzureSettings(_Strict):
    """Settings of the Azure methods."""

    network: AzureNetworkSettings = Field(default_factory=AzureNetworkSettings, description="The VNet.")
    gpu_vm: AzureGpuVmSettings = Field(default_factory=AzureGpuVmSettings, description="The gpu-vm method (VM scale sets).")
    cluster: AzureClusterSettings = Field(default_factory=AzureClusterSettings, description="The cluster method (AKS).")
    gateway: AzureGatewaySettings = Field(default_factory=AzureGatewaySettings, description="API Management and the engine.")
    alert_emails: list[str] = Field(default_factory=list, description="E-mail receivers of the alerts (an action group). Default none.")
    action_group_id: str | None = Field(
        None, description="An existing action group for the gateway's alerts, instead of alert_emails. Default none."
    )

    @model_validator(mode="after")
    def _alerts(self) -> AzureSettings:
        for email in self.alert_emails:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise FieldProblem("alert_emails", f"{email} is not an e-mail address")
        if self.alert_emails and self.action_group_id:
            raise FieldProblem("action_group_id", "give alert_emails or action_group_id, not both")
        return self


def _check_azure_gpu_size(size: str, field: str) -> None:
    """A GPU size of the catalog; whether the stack's region offers it is checked with the region."""
    from ..gpu_vm.azure_sizes import check_vm_size

    try:
        check_vm_size(size, 1, None, field)
    except UserError as err:
        raise FieldProblem(field, str(err).split(": ", 1)[1]) from None


RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
"""A GitHub Actions runner label: letters, digits, '.', '_' and '-' (it lands in a workflow's runs-on)."""

SELF_HOSTED_LABEL = "self-hosted"
"""The label GitHub gives every self-hosted runner and no GitHub-hosted one."""


class CiSettings(_Strict):
    """How CI (.github/workflows) previews and deploys the stack. See README, "Deploying from CI"."""

    runner_labels: list[RunnerLabel] = Field(
        default_factory=list,
        description=(
            "Labels of the self-hosted GitHub Actions runner, inside the stack's network, that previews and deploys it "
            "(the jobs' runs-on), e.g. [self-hosted, linux, x64, llm-prod]. Required when the stack talks to a "
            "Kubernetes API no GitHub-hosted runner can reach (EKS, GKE and AKS with private or allow-listed "
            "endpoints, on-prem and edge clusters). Default: none (a GitHub-hosted ubuntu-latest runner)."
        ),
    )

    @model_validator(mode="after")
    def _self_hosted(self) -> CiSettings:
        if self.runner_labels and SELF_HOSTED_LABEL not in self.runner_labels:
            raise FieldProblem(
                "runner_labels",
                f"must include {SELF_HOSTED_LABEL}, so the jobs never land on a GitHub-hosted runner outside the network",
            )
        if len(set(self.runner_labels)) != len(self.runner_labels):
            raise FieldProblem("runner_labels", "must not repeat a label")
        return self


class Settings(_Strict):
    """Everything a stack file may set under `pulumi-llm:`."""

    environment: Label = Field(description="Environment name used in tags and names (dev, staging, prod, …). Required.")
    cloud: Cloud = Field(description="Where the stack deploys: aws, gcp, azure or onprem. Required.")
    region: str | None = Field(None, description="Cloud region (e.g. us-east-1). Required for aws, gcp and azure; not allowed for onprem.")
    methods: list[Method] = Field(default_factory=list, description="Deployment methods this stack enables. Default: none.")
    tags: dict[str, str] = Field(
        default_factory=dict, description="Extra tags/labels on every resource, beside the common set. Default: none."
    )
    models: dict[Label, ModelSettings] = Field(default_factory=dict, description="Models to serve, keyed by served name. Default: none.")
    serving: ServingSettings = Field(
        default_factory=ServingSettings, description="Model-server settings shared by every self-hosting method."
    )
    onprem: OnPremSettings | None = Field(None, description="The existing cluster. Required when methods has onprem.")
    aws: AwsSettings = Field(default_factory=AwsSettings, description="Network, GPU VMs, EKS and alarms on AWS (cloud aws).")
    gateway: GatewaySettings | None = Field(None, description="The API gateway. Required when methods has gateway.")
    edge: EdgeSettings | None = Field(None, description="Edge devices. Required when methods has edge.")
    gcp: GcpSettings | None = Field(None, description="Project and choices of the GCP methods. Required on cloud gcp.")
    azure: AzureSettings = Field(
        default_factory=AzureSettings, description="Network, GPU VMs, AKS, API Management and alerts on Azure (cloud azure)."
    )
    ci: CiSettings = Field(
        default_factory=CiSettings, description="How CI reaches the stack: the runner its preview and deploy jobs run on."
    )

    @model_validator(mode="before")
    @classmethod
    def _azure_sizes(cls, data: Any) -> Any:
        # Azure sizes every model on the size its VMs or GPU pool really have: that size becomes the
        # models' instance_type where they name none, so sizing and the deployed size are one.
        if not isinstance(data, dict) or data.get("cloud") != "azure" or not isinstance(data.get("models"), dict):
            return data
        azure = data.get("azure") if isinstance(data.get("azure"), dict) else {}
        methods = data.get("methods") or []
        size = None
        if "gpu-vm" in methods and isinstance(azure.get("gpu_vm"), dict):
            size = azure["gpu_vm"].get("vm_size")
        if "cluster" in methods:
            cluster = azure.get("cluster") if isinstance(azure.get("cluster"), dict) else {}
            pools = cluster.get("gpu_pools")
            if isinstance(pools, dict) and pools:
                first = next(iter(pools.values()))
                size = first.get("vm_size", AzureGpuPoolSettings().vm_size) if isinstance(first, dict) else None
            elif pools is None:
                size = AzureGpuPoolSettings().vm_size
        if not isinstance(size, str):
            return data
        models = {
            name: ({**model, "instance_type": size} if isinstance(model, dict) and not model.get("instance_type") else model)
            for name, model in data["models"].items()
        }
        return {**data, "models": models}

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.cloud == "onprem":
            if self.region is not None:
                raise FieldProblem("region", "not allowed when cloud is onprem (the cluster is reached by kubeconfig)")
        elif not self.region:
            raise FieldProblem("region", f"required when cloud is {self.cloud}")
        if len(set(self.methods)) != len(self.methods):
            raise FieldProblem("methods", "must not repeat a method")
        for method in self.methods:
            if self.cloud not in CLOUD_OF_METHOD[method]:
                allowed = ", ".join(CLOUD_OF_METHOD[method])
                raise FieldProblem("methods", f"method {method} runs on cloud {allowed}, not on cloud {self.cloud}")
        if "onprem" in self.methods and self.onprem is None:
            raise FieldProblem("onprem", "required when methods has onprem")
        if "gateway" in self.methods:
            self._check_gateway()
        if "edge" in self.methods:
            if self.edge is None:
                raise FieldProblem("edge", "required when methods has edge")
            if set(self.methods) & {"gpu-vm", "cluster"}:
                raise FieldProblem("methods", "edge rolls out to its own fleet: keep gpu-vm and cluster in another stack")
        if "gpu-vm" in self.methods and "cluster" in self.methods:
            raise FieldProblem("methods", "gpu-vm and cluster both self-host the models: choose one per stack")
        if self.cloud == "aws":
            self._check_aws()
        if self.cloud == "gcp":
            self._check_gcp()
        if self.cloud == "azure":
            self._check_azure()
        if self.serves_models():
            self._check_models()
        return self

    def serves_models(self) -> bool:
        """True when a method of this stack runs model servers."""
        return any(m in SELF_HOSTING for m in self.methods)

    def routes_self_hosted(self) -> bool:
        """True when the gateway routes to a model this stack serves."""
        return self.gateway is not None and any(r.provider == "self-hosted" for g in self.gateway.models.values() for r in g.routes)

    def _check_gateway(self) -> None:
        if self.gateway is None:
            raise FieldProblem("gateway", "required when methods has gateway")
        for group_name, group in self.gateway.models.items():
            for i, route in enumerate(group.routes):
                if route.provider != "self-hosted":
                    continue
                if not self.serves_models():
                    raise FieldProblem(
                        f"gateway.models.{group_name}.routes[{i}].provider",
                        "self-hosted routes need a self-hosting method in this stack (gpu-vm or cluster)",
                    )
                if route.model not in self.models:
                    raise FieldProblem(
                        f"gateway.models.{group_name}.routes[{i}].model",
                        f"not a model this stack serves; served: {', '.join(self.models)}",
                    )

    def _check_copy(self, name: str, model: ModelSettings, scheme: str) -> None:
        where = f"models.{name}.copy_from_hub"
        if "gpu-vm" in self.methods:
            raise FieldProblem(where, "the copy Job runs on a cluster; for gpu-vm upload the weights to the model store")
        if not model.revision:
            raise FieldProblem(where, f"needs models.{name}.revision: a pinned commit, never a moving branch")
        if scheme not in ("store", "pvc"):
            raise FieldProblem(where, "copies into the stack's store (store://) or a claim (pvc://), not an external bucket")
        if model.hub_repo is None:
            from ..sizing import get_model

            if model.catalog is None or not get_model(model.catalog).hf_repo:
                raise FieldProblem(where, f"needs models.{name}.hub_repo: the model's Hugging Face repository")

    def _check_gcp(self) -> None:
        from ..sizing import check_region

        if self.gcp is None:
            raise FieldProblem("gcp", "required on cloud gcp (at least gcp.project)")
        try:
            check_region("gcp", self.region or "")
        except UserError as err:
            raise FieldProblem("region", str(err)) from None
        if "gateway" in self.methods and not self.gcp.gateway_domains:
            raise FieldProblem("gcp.gateway_domains", "required with the gateway (its HTTPS load balancer's certificate)")
        if self.routes_self_hosted():
            import ipaddress

            # Cloud Run's Direct VPC egress subnet beside the workload subnet (the network checks the rest).
            try:
                egress = ipaddress.ip_network(self.gcp.gateway_subnet_cidr, strict=True)
            except ValueError as err:
                raise FieldProblem("gcp.gateway_subnet_cidr", f"not an IPv4 network in CIDR notation ({err})") from None
            if egress.version != 4 or not 16 <= egress.prefixlen <= 26:
                raise FieldProblem("gcp.gateway_subnet_cidr", "an IPv4 /16 to /26 (Cloud Run Direct VPC egress needs a /26 or larger)")
            try:
                overlaps = egress.overlaps(ipaddress.ip_network(self.gcp.subnet_cidr, strict=False))
            except ValueError:
                overlaps = False
            if overlaps:
                raise FieldProblem("gcp.gateway_subnet_cidr", f"overlaps gcp.subnet_cidr ({self.gcp.subnet_cidr})")

    def _check_azure(self) -> None:
        from ..gpu_vm.azure_sizes import check_vm_size
        from ..sizing import check_region

        try:
            check_region("azure", self.region or "")
        except UserError as err:
            raise FieldProblem("region", str(err)) from None
        region = (self.region or "").strip().lower()
        azure = self.azure

        def offered(size: str, field: str) -> None:
            try:
                check_vm_size(size, 1, region, field)
            except UserError as err:
                raise FieldProblem(field, str(err).split(": ", 1)[1]) from None

        if "gpu-vm" in self.methods:
            if azure.gpu_vm.vm_size:
                offered(azure.gpu_vm.vm_size, "azure.gpu_vm.vm_size")
            if self.environment == "prod" and azure.gpu_vm.spot:
                raise FieldProblem("azure.gpu_vm.spot", "prod can't run on spot VMs alone (they are evicted when Azure needs the capacity)")
        if "cluster" in self.methods:
            for pool_name, pool in azure.cluster.gpu_pools.items():
                offered(pool.vm_size, f"azure.cluster.gpu_pools.{pool_name}.vm_size")
            if self.environment == "prod" and all(p.spot for p in azure.cluster.gpu_pools.values()):
                raise FieldProblem("azure.cluster.gpu_pools", "prod can't run on spot alone: add a pool with spot: false")
        if self.methods and set(self.methods) & {"gpu-vm", "cluster"}:
            for name, model in self.models.items():
                if model.instance_type:
                    offered(model.instance_type, f"models.{name}.instance_type")
                if "cluster" in self.methods and (model.source or "").startswith("store://"):
                    raise FieldProblem(
                        f"models.{name}.source",
                        "AKS servers don't stream from Blob storage yet: use pvc://<claim>/<path> (an Azure Blob CSI or Azure Files claim)",
                    )
        if "gateway" in self.methods and self.gateway is not None:
            from ..gateway.apim_policy import MAX_FORWARD_TIMEOUT_SECONDS

            if azure.gateway.publisher_email is None:
                raise FieldProblem("azure.gateway.publisher_email", "required with the gateway (API Management's publisher address)")
            edge = self.gateway.timeouts.edge_seconds
            if edge > MAX_FORWARD_TIMEOUT_SECONDS:
                raise FieldProblem(
                    "gateway.timeouts.edge_seconds",
                    f"above API Management's forward-request limit of {MAX_FORWARD_TIMEOUT_SECONDS} s (longer waits for the "
                    "first byte may not be honoured); set it to 240 or less, with engine_seconds and provider_seconds below it",
                )
            for group_name, group in self.gateway.models.items():
                for i, route in enumerate(group.routes):
                    if route.provider == "azure-openai":
                        raise FieldProblem(
                            f"gateway.models.{group_name}.routes[{i}].provider",
                            "on Azure, Azure OpenAI is reached through API Management's /openai pool with its managed identity: "
                            "list the accounts in azure.gateway.azure_openai",
                        )
                    if route.provider == "bedrock":
                        raise FieldProblem(f"gateway.models.{group_name}.routes[{i}].provider", "bedrock is reached from AWS stacks only")

    def _check_aws(self) -> None:
        from ..sizing import check_region

        try:
            check_region("aws", self.region or "")
        except UserError as err:
            raise FieldProblem("region", str(err)) from None
        aws = self.aws
        self._check_model_tls()
        if self.environment == "prod" and ("gpu-vm" in self.methods or "cluster" in self.methods):
            if aws.network.az_count < 3:
                raise FieldProblem("aws.network.az_count", "prod spreads over at least 3 availability zones")
            if "gpu-vm" in self.methods and aws.gpu_vm.on_demand_base == 0 and aws.gpu_vm.spot_percentage == 100:
                raise FieldProblem(
                    "aws.gpu_vm.spot_percentage",
                    "prod can't run on spot alone: set aws.gpu_vm.on_demand_base >= 1 or a spot_percentage below 100",
                )
            if "cluster" in self.methods and aws.cluster.capacity_types == ["spot"]:
                raise FieldProblem("aws.cluster.capacity_types", "prod can't run on spot alone: add on-demand")
            if aws.cluster.endpoint_public and "cluster" in self.methods:
                raise FieldProblem("aws.cluster.endpoint_public", "prod keeps the EKS API endpoint private")

    def _check_model_tls(self) -> None:
        aws, tls = self.aws, self.aws.model_tls
        if tls is None:
            if "gpu-vm" in self.methods and aws.gpu_vm.certificate_arn and self.routes_self_hosted():
                raise FieldProblem(
                    "aws.gpu_vm.certificate_arn",
                    "the gateway would call https://<load balancer DNS name>, which no ACM certificate covers; "
                    "set aws.model_tls (domain, certificate_arn, zone_id) instead",
                )
            return
        if not _DNS_NAME.match(tls.domain):
            raise FieldProblem("aws.model_tls.domain", f"{tls.domain!r} is not a DNS name such as models.internal.example.com")
        match = _ACM_ARN.match(tls.certificate_arn)
        if match is None:
            raise FieldProblem("aws.model_tls.certificate_arn", "an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<id>")
        if match.group("region") != self.region:
            raise FieldProblem(
                "aws.model_tls.certificate_arn", f"is in {match.group('region')}; the load balancers need one in {self.region}"
            )
        if aws.gpu_vm.certificate_arn and aws.gpu_vm.certificate_arn != tls.certificate_arn:
            raise FieldProblem("aws.gpu_vm.certificate_arn", "the load balancers use aws.model_tls.certificate_arn; give one certificate")

    def _check_models(self) -> None:
        # Whether each model fits its hardware is checked after parsing, by serving.check_sizing (see load).
        from ..runtimes import registry

        if not self.models:
            raise FieldProblem("models", f"at least one model is required by methods {', '.join(self.methods)}")
        for name, model in self.models.items():
            if model.source is None:
                raise FieldProblem(f"models.{name}.source", "required to serve the model (store://, pvc://, s3:// or gs://)")
            scheme = model.source.split("://", 1)[0]
            edge_runtime = self.edge.runtime if self.edge is not None and "edge" in self.methods else None
            if ("edge" in self.methods) != (scheme == "node"):
                raise FieldProblem(
                    f"models.{name}.source",
                    "edge models are in the nodes' cache (node://<file>.gguf, or node://<dir> for onnx), and only edge models are",
                )
            edge_only = registry.names_where("edge")
            if edge_runtime is None and model.runtime in edge_only:
                raise FieldProblem(f"models.{name}.runtime", f"{' and '.join(edge_only)} run on edge nodes only")
            if edge_runtime is not None and model.runtime != edge_runtime:
                raise FieldProblem(f"models.{name}.runtime", f"edge.runtime is {edge_runtime}: its models run {edge_runtime}")
            if edge_runtime == "onnx":
                from ..runtimes import onnx

                try:
                    onnx.check_quantization(model.quantization, f"models.{name}")
                except UserError:
                    raise FieldProblem(
                        f"models.{name}.quantization",
                        "runtime onnx serves ONNX Runtime GenAI int4 models (model builder -p int4 -e cpu); "
                        "GGUF quantizations such as q4_k_m are for edge.runtime llamacpp",
                    ) from None
                if not onnx.DIR_NAME.match(model.source.removeprefix("node://").strip("/")) or model.source.endswith(".gguf"):
                    raise FieldProblem(
                        f"models.{name}.source",
                        "runtime onnx reads an ONNX Runtime GenAI model directory from the nodes' cache, node://<dir>, not a .gguf file",
                    )
            if self.cloud == "onprem" and scheme == "store":
                raise FieldProblem(f"models.{name}.source", "store:// is a cloud stack's model store; on-prem use pvc://<claim>/<path>")
            if "gpu-vm" in self.methods and scheme == "pvc":
                raise FieldProblem(f"models.{name}.source", "a GPU VM syncs weights from object storage: use store://<key> or s3://")
            if model.copy_from_hub:
                self._check_copy(name, model, scheme)
            streamed = scheme in ("s3", "gs") or (scheme == "store" and "cluster" in self.methods)
            if streamed and model.runtime == "triton":
                raise FieldProblem(f"models.{name}.source", "Triton reads weights from a volume, not a stream: use pvc://<claim>/<path>")
        scaling = self.serving.autoscaling
        if self.onprem is not None:
            if scaling.scale_to_zero and not self.onprem.ingress.install:
                raise FieldProblem(
                    "serving.autoscaling.scale_to_zero",
                    "scale to zero wakes on ingress-nginx request metrics: set onprem.ingress.install true",
                )

    def onprem_namespace_needs(self) -> list[str]:
        """The user's objects an on-prem stack's servers, copy Jobs and Ingress read from the model namespace."""
        assert self.onprem is not None
        needs = [
            f"claim {m.source.removeprefix('pvc://').split('/', 1)[0]}"
            for m in self.models.values()
            if (m.source or "").startswith("pvc://")
        ]
        if self.onprem.ingress.tls_secret:
            needs.append(f"Secret {self.onprem.ingress.tls_secret}")
        if any(m.copy_from_hub for m in self.models.values()):
            needs.append(f"Secret {self.onprem.hf_token_secret}")
        return needs


# --------------------------------------------------------------------------------------------
# Loading


def load(config: Mapping[str, Any], source: str) -> Settings:
    """Validate a Pulumi config map (`{"pulumi-llm:cloud": "aws", …}`) into Settings.

    `config` is what the Pulumi engine hands the program: scalar values as strings, objects and
    lists as JSON text. Native YAML values (as the offline plan reads them) are accepted too.
    `source` names the stack file in messages. Raises UserError whose text is one line per problem.

    Two steps, in this order and both before any resource registers: the schema (`Settings`, pure: fields
    and cross-field rules over the settings alone), then the checks that need the sizing planner
    (`serving.check_sizing`: every model fits its hardware). They are separate so that the schema never
    calls into serving, which reads Settings: serving imports settings.py for types only, this function
    imports serving, and the import graph has no cycle (tests/unit/test_import_graph.py). Every reader of a
    stack's settings goes through here, so none sees settings whose models do not fit.
    """
    # Imported here, not at the top, so that importing settings.py for the schema alone (stack_file_schema,
    # `pulumi-llm schema`) loads no more modules than before.
    from ..serving import check_sizing

    raw = raw_settings(config)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as err:
        raise UserError(_first_problem(err, raw, source)) from None
    try:
        check_sizing(settings)
    except FieldProblem as problem:
        raise UserError(_problem_line(source, raw, list(problem.field), problem.message)) from None
    return settings


def raw_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `pulumi-llm:` keys of a config map, decoded into plain values, namespace removed."""
    prefix = NAMESPACE + ":"
    raw: dict[str, Any] = {}
    for key in sorted(config):
        if key.startswith(prefix):
            raw[key[len(prefix) :]] = _decode(config[key])
    return raw


def _decode(value: Any) -> Any:
    # The engine passes objects as JSON text and scalars as plain strings; pydantic's lax mode turns
    # "2" into 2 and "true" into True where a field wants them, so only objects need decoding.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def from_pulumi() -> Settings:
    """Read and validate the running stack's config. Only called by the Pulumi program."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    config = dict(runtime_config.get_config_env())
    config.update(runtime_config.CONFIG.get())
    return load(config, f"stacks/Pulumi.{pulumi.get_stack()}.yaml")


# --------------------------------------------------------------------------------------------
# Messages


def _first_problem(err: ValidationError, raw: dict[str, Any], source: str) -> str:
    # One line: the first problem in document order, unknown keys first (a misspelt key often also
    # leaves a required one missing, and the misspelling is the thing to fix).
    problems = err.errors(include_url=False)
    problem = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    loc = [p for p in problem["loc"] if not _is_union_tag(p)]
    if problem["loc"][-1:] == ("[key]",):
        return f"{source}: {NAMESPACE}:{_path(loc)}: the name {_message(problem, loc)}"
    context_error = (problem.get("ctx") or {}).get("error")
    if isinstance(context_error, FieldProblem):
        loc += list(context_error.field)
        message = context_error.message
    else:
        message = _message(problem, loc)
    return _problem_line(source, raw, loc, message, missing=problem["type"] == "missing")


def _problem_line(source: str, raw: dict[str, Any], loc: list[Any], message: str, *, missing: bool = False) -> str:
    """`<source>: pulumi-llm:<key path> = <value as written>: <message>` (no value when it is missing)."""
    path = f"{NAMESPACE}:{_path(loc)}" if loc else f"{NAMESPACE}"
    found, value = _lookup(raw, loc)
    if missing or not found:
        return f"{source}: {path}: {message}"
    return f"{source}: {path} = {_render(value)}: {message}"


def _message(problem: Mapping[str, Any], loc: list[Any]) -> str:
    kind = problem["type"]
    ctx = problem.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
        return f"unknown key{did_you_mean}; allowed: {', '.join(allowed)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = difflib.get_close_matches(str(problem.get("input")), choices, n=1, cutoff=0.6)
        did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
        return f"must be one of: {', '.join(choices)}{did_you_mean}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt"))
        return f"must be {bounds[kind]} {limit}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a map of keys to values"
    if kind in ("list_type",):
        return "must be a list"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(problem["msg"]).removeprefix("Value error, ")
    return str(problem["msg"])


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the chosen union member's name (e.g. "function-after[...]") into locations.
    return isinstance(part, str) and ("[" in part or part in ("str", "int"))


def _path(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lookup(raw: Any, loc: list[Any]) -> tuple[bool, Any]:
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False, None
    return True, node


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if value == "":
        return '""'
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _allowed_keys(loc: list[Any]) -> list[str]:
    """Field names of the model found at `loc` in the Settings tree."""
    node: Any = Settings
    for part in loc:
        node = _step(node, part)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _step(node: Any, part: Any) -> Any:
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(str(part))
        return _unwrap(field.annotation) if field else None
    origin = typing.get_origin(node)
    if origin in (dict, list, tuple):
        return _unwrap(typing.get_args(node)[-1])
    return None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


# --------------------------------------------------------------------------------------------
# Schema


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema of a `stacks/Pulumi.<stack>.yaml` file, for editors (committed as stacks/schema.json)."""
    settings = Settings.model_json_schema(ref_template="#/$defs/{model}")
    defs = settings.pop("$defs", {})
    required = settings.get("required", [])
    properties = {f"{NAMESPACE}:{key}": value for key, value in settings["properties"].items()}
    properties["pulumi:disable-default-providers"] = {
        "type": "array",
        "items": {"type": "string"},
        "description": 'Provider packages whose default providers are disabled; every stack sets ["*"].',
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pulumi-llm stack file",
        "description": "A Pulumi stack file of pulumi-llm: values only, validated by pulumi_llm.settings.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": properties,
                "required": [f"{NAMESPACE}:{key}" for key in required],
                # Other namespaces (aws:, kubernetes:, …) are not ours to judge.
                "patternProperties": {f"^(?!{NAMESPACE}:|pulumi:)[^:]+:.+$": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "required": ["config"],
        "additionalProperties": False,
        "$defs": defs,
    }
