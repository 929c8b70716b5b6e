"""The root of the tree, `Settings`: every key a stack file may set under `pulumi-llm:`, and the rules
that span more than one subtree (cloud and methods, self-hosted routes, per-cloud checks)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ..choices import allowed
from ..errors import FieldProblem, UserError
from .aws import AwsSettings, check_aws_stack
from .azure import AzureSettings, check_azure_stack, with_azure_gateway_timeouts, with_azure_model_sizes
from .checks_sources import check_source
from .ci import CiSettings
from .core import CLOUD_OF_METHOD, SELF_HOSTING, Cloud, Label, Method, StrictModel
from .edge import EdgeSettings
from .gateway import GatewaySettings
from .gcp import GcpSettings, check_gcp_stack
from .models import ModelSettings, ServingSettings
from .names import TagKey, TagValue
from .onprem import OnPremSettings


class Settings(StrictModel):
    """Everything a stack file may set under `pulumi-llm:`."""

    environment: Label = Field(description="Environment name used in tags and names (dev, staging, prod, …). Required.")
    cloud: Cloud = Field(description="Where the stack deploys: aws, gcp, azure or onprem. Required.")
    region: str | None = Field(
        default=None, description="Cloud region (e.g. us-east-1). Required for aws, gcp and azure; not allowed for onprem."
    )
    methods: list[Method] = Field(default_factory=list[Method], description="Deployment methods this stack enables. Default: none.")
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict, description="Extra tags/labels on every resource, beside the common set. Default: none."
    )
    models: dict[Label, ModelSettings] = Field(default_factory=dict, description="Models to serve, keyed by served name. Default: none.")
    serving: ServingSettings = Field(
        default_factory=ServingSettings, description="Model-server settings shared by every self-hosting method."
    )
    onprem: OnPremSettings | None = Field(default=None, description="The existing cluster. Required when methods has onprem.")
    aws: AwsSettings = Field(default_factory=AwsSettings, description="Network, GPU VMs, EKS and alarms on AWS (cloud aws).")
    gateway: GatewaySettings | None = Field(default=None, description="The API gateway. Required when methods has gateway.")
    edge: EdgeSettings | None = Field(default=None, description="Edge devices. Required when methods has edge.")
    gcp: GcpSettings | None = Field(default=None, description="Project and choices of the GCP methods. Required on cloud gcp.")
    azure: AzureSettings = Field(
        default_factory=AzureSettings, description="Network, GPU VMs, AKS, API Management and alerts on Azure (cloud azure)."
    )
    ci: CiSettings = Field(
        default_factory=CiSettings, description="How CI reaches the stack: the runner its preview and deploy jobs run on."
    )

    @model_validator(mode="before")
    @classmethod
    def _azure_defaults(cls, data: Any) -> Any:
        return with_azure_gateway_timeouts(with_azure_model_sizes(data))

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
            check_aws_stack(self)
        if self.cloud == "gcp":
            check_gcp_stack(self)
        if self.cloud == "azure":
            check_azure_stack(self)
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
                        f"not a model this stack serves; {allowed(route.model, self.models, 'served')}",
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
            check_source(self.cloud, list(self.methods), name, model)
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
            f"claim {(m.source or '').removeprefix('pvc://').split('/', 1)[0]}"  # `or ''`: for the checker, see the filter
            for m in self.models.values()
            if (m.source or "").startswith("pvc://")
        ]
        if self.onprem.ingress.tls_secret:
            needs.append(f"Secret {self.onprem.ingress.tls_secret}")
        if any(m.copy_from_hub for m in self.models.values()):
            needs.append(f"Secret {self.onprem.hf_token_secret}")
        return needs
