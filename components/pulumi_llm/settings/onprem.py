"""The onprem method: an existing Kubernetes cluster and the add-ons pulumi-llm installs in it (`onprem`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..errors import FieldProblem, UserError
from .core import Label, StrictModel
from .names import HostName, HttpUrl, KubeName, NonBlank


class OnPremGpus(StrictModel):
    """The GPUs of the cluster's GPU nodes, for sizing."""

    accelerator: str = Field(
        default="L40S", description="GPU model of the GPU nodes (L4, A10G, L40S, A100-80GB, H100-80GB, …). Default L40S."
    )
    per_node: int = Field(default=8, ge=1, le=16, description="GPUs per GPU node. Default 8.")

    @model_validator(mode="after")
    def _known(self) -> OnPremGpus:
        from ..sizing import get_accelerator

        try:
            get_accelerator(self.accelerator)
        except UserError as err:
            raise FieldProblem("accelerator", str(err)) from None
        return self


class AddOn(StrictModel):
    """A cluster add-on pulumi-llm can install; set install false where the cluster already has it."""

    install: bool = Field(default=True, description="Install it (pinned Helm chart). Default true.")


class GpuOperatorSettings(StrictModel):
    """The NVIDIA GPU Operator. On-prem is the one place it installs drivers (awslabs/ai-on-eks infra/base/terraform/helm-values/nvidia-gpu-operator.yaml)."""

    install: bool = Field(default=True, description="Install the GPU Operator. Default true.")
    driver: bool = Field(default=True, description="Let the Operator install the NVIDIA driver on the nodes. Default true.")


class IngressSettings(StrictModel):
    """How clients reach the model servers."""

    install: bool = Field(default=True, description="Install ingress-nginx (pinned). Default true.")
    class_name: KubeName = Field(default="nginx", description="IngressClass the model Ingresses use. Default nginx.")
    host: HostName | None = Field(default=None, description="Host name of the model API. Default: none (any host).")
    tls_secret: KubeName | None = Field(
        default=None, description="Secret with the TLS certificate for host. Default: none (plain HTTP inside the cluster network)."
    )


class PrometheusSettings(StrictModel):
    """Metrics: kube-prometheus-stack, or the Prometheus the cluster already runs."""

    install: bool = Field(default=True, description="Install kube-prometheus-stack (pinned). Default true.")
    url: HttpUrl | None = Field(
        default=None, description="Prometheus URL KEDA queries when install is false. Default: the installed stack's service."
    )
    namespace: Label | None = Field(
        default=None,
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


class OnPremSettings(StrictModel):
    """An existing Kubernetes cluster, reached through a kubeconfig context."""

    kube_context: NonBlank = Field(min_length=1, description="kubeconfig context of the cluster. Required: never the current context.")
    kubeconfig: NonBlank | None = Field(
        default=None, description="Path of the kubeconfig file. Default: the provider's default ($KUBECONFIG or ~/.kube/config)."
    )
    namespace: Label = Field(default="llm", description="Namespace the model servers run in. Default `llm`.")
    namespace_exists: bool | None = Field(
        default=None,
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
    hf_token_secret: KubeName = Field(
        default="hf-token",
        description="Secret (key `token`) in the model namespace holding the Hugging Face token for copy Jobs. Default hf-token.",
    )
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings, description="Prometheus and Grafana.")
