"""The edge method (`edge`): the image build and the rollout to labelled edge nodes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ..errors import FieldProblem, UserError
from ..validation import DIGEST_REF, described
from .core import Label, StrictModel
from .names import AbsolutePath, LabelKey, LabelValue, NonBlank


def _digest_ref(value: str) -> str:
    if not DIGEST_REF.match(value):
        raise ValueError("pin the base image by digest as repository:tag@sha256:<digest> (read it with `crane digest <ref>`)")
    return value


DigestRef = Annotated[str, AfterValidator(_digest_ref)]
"""An image reference pinned by tag and digest."""


def _pins():  # noqa: ANN202 - the module, imported when a default is needed
    from .. import pins

    return pins


def _labels(selector: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))


class EdgeJetsonFleet(StrictModel):
    """Jetson Orin nodes served by a jetson image (linux/arm64, L4T r36) beside the main edge fleet."""

    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"pulumi-llm.dev/edge": "jetson"},
        description="Labels of the Jetson nodes. Default pulumi-llm.dev/edge=jetson.",
    )
    device: str = Field(default="Orin-Nano-8GB", description="Jetson module of those nodes, for sizing. Default Orin-Nano-8GB.")
    builder: str | None = Field(
        default=None, description="buildx builder for the arm64 Jetson build (native arm64). Default: the current builder."
    )


class EdgeSettings(StrictModel):
    """Edge devices: multi-arch llama.cpp (or ONNX Runtime GenAI) images in the stack's registry, rolled out to labelled nodes."""

    kube_context: NonBlank = Field(min_length=1, description="kubeconfig context of the edge fleet's cluster (K3s). Required.")
    runtime: Literal["llamacpp", "onnx"] = Field(
        default="llamacpp",
        description=(
            "Server the image runs: llamacpp (GGUF models; cpu, cuda, jetson targets) or onnx (ONNX Runtime GenAI int4 "
            "model directories, images/edge-onnx; cpu target only). Default llamacpp."
        ),
    )
    kubeconfig: NonBlank | None = Field(default=None, description="Path of the kubeconfig file. Default: the provider's default.")
    namespace: Label = Field(default="llm-edge", description="Namespace of the rollout. Default llm-edge.")
    device: str = Field(
        default="AGX-Orin-64GB",
        description="Device of the edge nodes, for sizing: a Jetson module or GPU key, or cpu-<N>gib for a CPU-only node. Default AGX-Orin-64GB.",
    )
    target: Literal["cpu", "cuda", "jetson"] = Field(
        default="cpu", description="Image target: cpu (portable), cuda or jetson. Default cpu."
    )
    platforms: list[Literal["linux/amd64", "linux/arm64"]] = Field(
        default_factory=lambda: ["linux/amd64", "linux/arm64"], description="Image platforms. Default amd64 and arm64."
    )
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"pulumi-llm.dev/edge": "true"},
        description="Labels of the nodes that serve. Default pulumi-llm.dev/edge=true.",
    )
    host_model_dir: AbsolutePath = Field(default="/var/lib/pulumi-llm/models", description="Node directory with the GGUF files.")
    repository: str = Field(default="pulumi-llm/llama-server", description="Repository of the images in the registry.")
    image_tag: str = Field(
        pattern=described(
            r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$", "an image tag: 1-101 letters, digits, '.', '_' and '-', starting with a letter or digit"
        ),
        description="Tag of this build (immutable in the registry: a new one per build, e.g. b11176-<git sha>). Required.",
    )
    llama_cpp_sha256: str | None = Field(
        default=None,
        pattern=described(r"^[0-9a-f]{64}$", "a sha256: 64 lower-case hex digits"),
        description=(
            "sha256 of the llama.cpp source the image builds from: the llama-cpp-python sdist on PyPI, which "
            "vendors llama.cpp (images/edge-llamacpp/README.md). Required for runtime llamacpp; onnx takes none."
        ),
    )
    builders: dict[Literal["linux/amd64", "linux/arm64"], str] = Field(
        default_factory=dict[Literal["linux/amd64", "linux/arm64"], str],
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
        default=None, description="Jetson nodes beside the main fleet: a jetson image and its own rollout. Default: none."
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
                from .pairs import Side, decide_conflict

                key, message = decide_conflict(
                    Side("edge.node_selector", _labels(self.node_selector), "node_selector" in self.model_fields_set),
                    Side("edge.jetson.node_selector", _labels(self.jetson.node_selector), "node_selector" in self.jetson.model_fields_set),
                    "is the same as",
                    "each node runs one fleet's server, so the two fleets need different labels",
                )
                raise FieldProblem(key.removeprefix("edge."), message)
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
