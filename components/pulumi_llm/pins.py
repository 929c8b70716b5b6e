"""Every container image, Helm chart and EKS add-on version the project deploys, pinned in one place.

Pure data: no I/O, no Pulumi. Components import a constant (``VLLM_OPENAI.ref``) instead of writing an
image string, so a bump is one edit here and the tests in ``tests/unit/test_pins.py`` guard the rules:

* an image is pinned by tag AND digest (``repository:tag@sha256:<64 hex>``), never ``latest``;
* a chart is pinned by an exact version (no ranges, no ``x``, no pre-release);
* every pin names where its digest or version came from.

The digests were not read from a registry (the build machine has no registry access). Each one was
found in public material: the official listing where one exists (docker-library/repo-info for Docker
Official Images, the vendor's release notes) and otherwise the same digest pinned by two or more
independent public repositories. ``source`` says which; ``checked`` is the date that evidence was
gathered. ``manifest`` says what the digest names: ``"index"`` is a multi-arch image index (manifest
list), the kind to prefer; ``"linux/amd64"`` is a single-platform manifest; ``"unknown"`` means the
evidence did not say. Verify the ``unknown`` and single-source pins against the registry before the
first production deploy (``crane digest`` as below), and replace their ``source``.

How to bump an image
    1. Pick the release tag (never ``latest``, ``main``, ``nightly`` or a bare major such as ``3.12``
       when a patch tag exists) and read its index digest from the registry::

           crane digest <repository>:<tag>
           # or: docker buildx imagetools inspect <repository>:<tag> --format '{{json .Manifest.Digest}}'

       ``docker pull`` prints the same value as ``Digest:``. Do not use ``docker images --digests`` on a
       single-platform pull or the ``Image ID``: those name one platform or a local config blob.
    2. Change ``tag``, ``digest``, ``manifest``, ``source`` (registry + command, or the release page) and
       ``checked`` (today) together, in one commit that names the old and new versions.
    3. Run ``uv run pytest tests/unit/test_pins.py -q`` and the stack previews; a new vLLM, Triton or CUDA
       image can need a newer GPU driver (see the notes on those pins).

How to bump a chart
    ``helm search repo <repo>/<chart> --versions`` (or ``helm show chart oci://... --version X``) gives the
    version and its ``appVersion``; copy both, update ``source``, and read the chart's upgrade notes for
    CRD steps (kube-prometheus-stack, KEDA, Karpenter and LWS ship CRDs that ``helm upgrade`` skips).

How to bump an EKS add-on
    ``aws eks describe-addon-versions --kubernetes-version <k8s> --addon-name <name>`` and take the
    version whose ``compatibilities[].defaultVersion`` is true (or a newer one you have tested). Bump
    ``EKS_KUBERNETES_VERSION`` and every add-on together: add-on builds are per Kubernetes minor.

Supply chain note: LiteLLM 1.82.7 and 1.82.8 on PyPI were malicious. Never pin them, nor any image built
from them; ``test_pins`` refuses those versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .as_given import as_given

Manifest = Literal["index", "linux/amd64", "linux/arm64", "unknown"]

# The day the evidence below was gathered (ISO 8601).
CHECKED = "2026-11-22"

# Public GitHub files found through the code-search index used for this review are cited by their
# index id ("gh-index 70455808225"): the id is what the search tool returns when the repository name
# is not shown. Where the repository is known it is named.
_IDX = "gh-index"


@as_given
@dataclass(frozen=True)
class ImagePin:
    """A container image pinned by tag and digest."""

    repository: str
    tag: str
    digest: str
    source: str
    checked: str
    manifest: Manifest = "index"

    @property
    def ref(self) -> str:
        """``repository:tag@sha256:...``: the tag documents, the digest decides what runs."""
        return f"{self.repository}:{self.tag}@{self.digest}"


@dataclass(frozen=True)
class ChartPin:
    """A Helm chart pinned by exact version, with the application version it installs."""

    name: str
    version: str
    repository: str
    app_version: str
    source: str


@dataclass(frozen=True)
class EksAddonPin:
    """An EKS managed add-on version (``vX.Y.Z-eksbuild.N``) for one Kubernetes minor."""

    name: str
    version: str
    kubernetes_version: str
    source: str


# --------------------------------------------------------------------------------------------
# Inference servers
# --------------------------------------------------------------------------------------------

VLLM_OPENAI = ImagePin(
    repository="docker.io/vllm/vllm-openai",
    tag="v0.31.0",
    digest="sha256:c1c9f6fd5c109ba7f0546a59f5b2f15fb87f64c77782e90a27b648b42a8e67c3",
    source=(
        "vLLM v0.31.0 (released 2026-10-04). Same digest, described as the manifest-list / multi-arch "
        f"index digest, pinned in 7 public files from different projects ({_IDX} 70455808225, 71126783855, "
        "70665620502, 71601416709, 71168254032, 71282104846, 70909926939). Default image is built "
        "for CUDA 13.0 (needs an R580+ driver); a v0.31.0-cu129 variant exists for older drivers."
    ),
    checked=CHECKED,
)

TRITON_VLLM = ImagePin(
    repository="nvcr.io/nvidia/tritonserver",
    tag="26.05-vllm-python-py3",
    digest="sha256:abf5043755e335fcb7b825d38caa18ea478179c5894e9b080d91143a5df37e67",
    source=(
        "`docker pull` output ('Digest:' line, i.e. the repository/index digest) recorded in one "
        f"public project's validation notes ({_IDX} 58913568064, 58922366826). SINGLE SOURCE: "
        "confirm with `crane digest` before production. Newer: 26.07-vllm-python-py3@sha256:"
        "31e20bfb... (also single source, vLLM 0.24.0)."
    ),
    checked=CHECKED,
)

TRITON_ONNX = ImagePin(
    repository="nvcr.io/nvidia/tritonserver",
    tag="26.06-py3",
    digest="sha256:a40838bb4587d2aceb46b1e7fd144afb24c9016c219dd3eba31716e4e28dbfc7",
    source=(
        f"Pinned in three files of one public project ({_IDX} 63131425003, 63108650387, "
        "63450112643). SINGLE SOURCE, manifest kind not stated: confirm with `crane digest` before "
        "production. The plain -py3 image carries the ONNX Runtime and TensorRT backends."
    ),
    checked=CHECKED,
    manifest="unknown",
)

LLAMA_CPP_SERVER = ImagePin(
    repository="ghcr.io/ggml-org/llama.cpp",
    tag="server-b11176",
    digest="sha256:6257697a7f5d034b8fb499ddb07af3e250506352f94102054252a23f3b85e0af",
    source=(
        "llama.cpp build b11176 (commit f805c57), CPU server. Index digest (amd64, arm64, s390x) "
        "'checked against the ghcr.io registry API on 2026-09-25'; same digest in 4 independent "
        f"repos ({_IDX} 68964882893, 70150779415, 69490034841, 71415173519)."
    ),
    checked=CHECKED,
)

LLAMA_CPP_SERVER_CUDA = ImagePin(
    repository="ghcr.io/ggml-org/llama.cpp",
    tag="server-cuda-b11176",
    digest="sha256:1f4b9cf58982dd4d7cc497aea31b1a456ca9a3a1f94f527d317d3fdee0d60ab6",
    source=(
        "llama.cpp build b11176, CUDA 12.8.1 / Ubuntu 24.04 (also tagged server-cuda12-b11176). "
        f"Index digest ('immutable multi-platform image') in 8+ public files ({_IDX} "
        "70150779415, 68681534218, 68499318158, 68295128888, 71054180845, 68519415917)."
    ),
    checked=CHECKED,
)

LLAMA_CPP_FULL = ImagePin(
    repository="ghcr.io/ggml-org/llama.cpp",
    tag="full-b9976",
    digest="sha256:2db4f3db6f354a7e73bb414674b32ea9812d93beee09ac28dcd71ed16f1060e0",
    source=(
        "The 'full' image (convert_hf_to_gguf.py + llama-quantize), build b9976, pinned by digest "
        f"in four task files of one public project ({_IDX} 58046665817, 57935577214, 58049805920, "
        "57955366369). SINGLE SOURCE and an older build than the server pins; use only for "
        "offline GGUF conversion. full-b11223@sha256:faa6d3bb... was also seen once."
    ),
    checked=CHECKED,
    manifest="unknown",
)

# --------------------------------------------------------------------------------------------
# Gateway
# --------------------------------------------------------------------------------------------

LITELLM = ImagePin(
    repository="ghcr.io/berriai/litellm",
    tag="v1.103.1",
    digest="sha256:df15400b5b80925c45d3fd53f8f7a6c0eaa8a25a86833e1b358002e129018943",
    source=(
        "LiteLLM proxy 1.103.1 (2026-09-30), the 1.103 release that fixes GHSA-7hp6-4w63-5g45 "
        "(verify/facts/advisories.py). Same digest in 2 public files of unrelated projects: a Terraform "
        f"module's 'Official LiteLLM v1.103.1 image index, verified against GHCR on 2026-09-30' ({_IDX} "
        f"70623470762) and a lab's gateway inventory ({_IDX} 71155236977). Two sources: confirm with "
        "`crane digest` before production. The PyPI wheel differs from 1.103.0 only in the proxy's UI "
        "session tokens (proxy/auth/auth_checks.py, proxy/common_utils/encrypt_decrypt_utils.py) and the "
        "bundled UI; same dependencies, same model map. Far past the compromised 1.82.7/1.82.8."
    ),
    checked="2026-12-07",
)

LITELLM_DATABASE = ImagePin(
    repository="ghcr.io/berriai/litellm-database",
    tag="v1.104.0",
    digest="sha256:fbe28229d2d02181c0a7d9df9599de614b491f3d897d2d7da18404f088310218",
    source=(
        "LiteLLM proxy with the Prisma toolchain (self-migrating Postgres schema), 1.104.0. "
        f"'Base index digest' in 5 public files across 4+ repos ({_IDX} 71494846626, "
        "71428310686, 70284244339, 70152588910, 71385752175). One minor ahead of LITELLM: no "
        "v1.103.x litellm-database digest was seen in 2+ places. 1.104.0 (PyPI, 2026-10-03: "
        f"{_IDX} 71001198854) came after the GHSA-7hp6-4w63-5g45 fix and is outside its affected range."
    ),
    checked=CHECKED,
)

# --------------------------------------------------------------------------------------------
# GPU monitoring
# --------------------------------------------------------------------------------------------

DCGM_EXPORTER = ImagePin(
    repository="nvcr.io/nvidia/k8s/dcgm-exporter",
    tag="4.5.3-4.8.2-distroless",
    digest="sha256:e9030b4fca0c8f110032f3b151b030e7e9db56604b407cf79631e1a3218b35e0",
    source=(
        "DCGM Exporter v4.5.3-4.8.2: the version NVIDIA GPU Operator 26.3.2/26.3.3 ships "
        "(docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/release-notes.html). Digest "
        f"from a GPU Operator v26.3.3 offline bundle lock ({_IDX} 59207126919) and a mirrored "
        f"registry inventory ({_IDX} 61435192898). One other repo pins @sha256:60d3b00a... for this "
        "tag (probably a platform digest); `crane digest` before production."
    ),
    checked=CHECKED,
    manifest="unknown",
)

# --------------------------------------------------------------------------------------------
# Helpers and base images
# --------------------------------------------------------------------------------------------

BUSYBOX = ImagePin(
    repository="docker.io/library/busybox",
    tag="1.38.0",
    digest="sha256:dc2d74b28e4cf8984fa52af1f39bc7c3d9c73760b41a74d629f5d11b1ab28616",
    source=(
        "Official: github.com/docker-library/repo-info repos/busybox/remote/1.38.0.md @ 01a70542 "
        "(OCI image index, 17 platforms); also the busybox:latest digest in 8+ public repos."
    ),
    checked=CHECKED,
)

AWS_CLI = ImagePin(
    repository="docker.io/amazon/aws-cli",
    tag="2.37.5",
    digest="sha256:fb7ccfc7b4e3a05017e6c9ded4ba959b99af622130e211fb976c68c2f4d3f224",
    source=(
        f"Pinned in 3 independent public repos ({_IDX} 70962726538, 70922395943, 70081290917): "
        "an S3 e2e script, an ECR-login init container, a pgBackRest drill. Manifest kind not "
        "stated: confirm with `crane digest` before production."
    ),
    checked=CHECKED,
    manifest="unknown",
)

GOOGLE_CLOUD_CLI = ImagePin(
    repository="gcr.io/google.com/cloudsdktool/google-cloud-cli",
    tag="562.0.0-slim",
    digest="sha256:0da2de42ae51cd6092b5caf7c96d25003659fd15548760eb4c50c2623e7bf9c2",
    source=(
        f"Pinned as a FROM in two revisions of one public Dockerfile ({_IDX} 59880768504, 59899089984): a single "
        "project, manifest kind not stated — confirm with `crane digest` before production. Copies LoRA "
        "adapters from Cloud Storage into GKE model-server pods (`gcloud storage rsync`)."
    ),
    checked="2026-12-07",
    manifest="unknown",
)

PYTHON_SLIM = ImagePin(
    repository="docker.io/library/python",
    tag="3.12.13-slim-bookworm",
    digest="sha256:4766d8b510c428e595d74b9cc5bbb2fae8e26316fffb4adc89908d79aacd58a2",
    source=(
        "Official: github.com/docker-library/repo-info repos/python/remote/3.12.13-slim-bookworm.md "
        f"@ 3effc3ea (OCI image index, built 2026-08-05); also pinned in {_IDX} 66488591031."
    ),
    checked=CHECKED,
)

GIE_EPP = ImagePin(
    repository="registry.k8s.io/gateway-api-inference-extension/epp",
    tag="v1.5.0",
    digest="sha256:86c679b057298e68c6e65ff5603e92066d432e77b11f1f81f0a06399694810bc",
    source=(
        "The Gateway API Inference Extension's endpoint picker at its v1.5.0 release (the chart's image, "
        "config/charts/inferencepool/values.yaml at that tag). Digest stated for v1.5.0 in one public project's "
        f"version inventory and deploy record and pinned in its Go defaults ({_IDX} 58517039519, 58649669680, "
        "58517077155): a single project, manifest kind not stated — confirm with `crane digest` before production."
    ),
    checked="2026-12-07",
    manifest="unknown",
)

UBUNTU_24_04 = ImagePin(
    repository="docker.io/library/ubuntu",
    tag="noble-20260905",
    digest="sha256:a053cbffda9d424679c103c5b4f452297efc3774a1e491c110289f726fbb5d34",
    source=(
        "Official: github.com/docker-library/repo-info repos/ubuntu/remote/noble-20260905.md @ "
        "d1201ea0 (Ubuntu 24.04, OCI image index; its amd64 manifest a61567bd... is pinned in "
        f"{_IDX} 71013575979). The dated tag never moves, unlike 24.04."
    ),
    checked=CHECKED,
)

UBUNTU_22_04 = ImagePin(
    repository="docker.io/library/ubuntu",
    tag="jammy-20260901.2",
    digest="sha256:ee61c25c29326511cc86dbf6479935edfd62533a14604d1befc69169a5f96255",
    source=(
        "Official: github.com/docker-library/repo-info repos/ubuntu/remote/jammy-20260901.2.md @ d1201ea0 (Ubuntu 22.04, OCI image index)."
    ),
    checked=CHECKED,
)

DEBIAN_BOOKWORM_SLIM = ImagePin(
    repository="docker.io/library/debian",
    tag="bookworm-20260824-slim",
    digest="sha256:88200866dfff7ea7f5cbcb6ec7c8a701889efe6fe859fe64d6990e4b07ea4171",
    source=(
        "Official: github.com/docker-library/repo-info repos/debian/remote/bookworm-20260824-slim.md "
        "@ cae117d8 (OCI image index); the same digest is bookworm-slim in 10+ public repos. A later "
        "repo-info commit lists this dated tag with 0 platforms (tag retired): pull by digest."
    ),
    checked=CHECKED,
)

CUDA_RUNTIME = ImagePin(
    repository="docker.io/nvidia/cuda",
    tag="12.8.1-runtime-ubuntu22.04",
    digest="sha256:fcbbd60a5ad3db3a1c7375bf14546b369b54064c513224310b2026df50c7a9bd",
    source=(
        "linux/amd64 manifest ('Official NVIDIA CUDA 12.8.1 runtime / Ubuntu 22.04, pinned amd64 "
        f"manifest') in 10 public files ({_IDX} 57484582801, 71026714125, 57358268756, "
        "68604173271, 68957354179). Docker Hub copy of nvcr.io/nvidia/cuda; no nvcr.io digest was "
        "found. Needs an R570+ driver."
    ),
    checked=CHECKED,
    manifest="linux/amd64",
)

CUDA_DEVEL = ImagePin(
    repository="docker.io/nvidia/cuda",
    tag="12.8.1-devel-ubuntu22.04",
    digest="sha256:6617a625f4090c76c545a0e7d63f2e441718ef9af7f4efe7dd1242a29e289fd7",
    source=(
        "linux/amd64 manifest ('NVIDIA-published linux/amd64 manifest for CUDA 12.8.1 devel on "
        f"Ubuntu 22.04') in 10+ public files ({_IDX} 57373188226, 57419643969, 71520979601, "
        "68705789999, 70071552149, 61651610826). Docker Hub copy of nvcr.io/nvidia/cuda."
    ),
    checked=CHECKED,
    manifest="linux/amd64",
)

L4T_JETPACK = ImagePin(
    repository="nvcr.io/nvidia/l4t-jetpack",
    tag="r36.4.0",
    digest="sha256:34ccf0f3b63c6da9eee45f2e79de9bf7fdf3beda9abfd72bbf285ae9d40bb673",
    source=(
        "JetPack 6.1 (L4T r36.4.0, Ubuntu 22.04, CUDA 12.6), arm64 only. The same digest in independent "
        f"public files: Nix dockerTools.pullImage imageDigest for r36.4.0 ({_IDX} 11952101186, 66543038437, "
        f"12840472610), an AWS project's table of 'verified' NGC digests ({_IDX} 63110489609), and two "
        f"build logs quoting it for the pulled r36.4.0 ({_IDX} 60878444573, 61322386626). Used to build the "
        "Jetson edge image (images/edge-llamacpp, target jetson); it runs on UBUNTU_22_04."
    ),
    checked=CHECKED,
    manifest="unknown",
)

# Not pinned (no full digest found in public material): nvcr.io/nvidia/l4t-cuda (12.6.11-runtime),
# cgr.dev/chainguard/busybox. Add them here, with a registry-read digest, before any component
# references them.

IMAGES: dict[str, ImagePin] = {
    "vllm-openai": VLLM_OPENAI,
    "triton-vllm": TRITON_VLLM,
    "triton-onnx": TRITON_ONNX,
    "llama-cpp-server": LLAMA_CPP_SERVER,
    "llama-cpp-server-cuda": LLAMA_CPP_SERVER_CUDA,
    "llama-cpp-full": LLAMA_CPP_FULL,
    "litellm": LITELLM,
    "litellm-database": LITELLM_DATABASE,
    "dcgm-exporter": DCGM_EXPORTER,
    "busybox": BUSYBOX,
    "aws-cli": AWS_CLI,
    "google-cloud-cli": GOOGLE_CLOUD_CLI,
    "python-slim": PYTHON_SLIM,
    "gie-epp": GIE_EPP,
    "ubuntu-24.04": UBUNTU_24_04,
    "ubuntu-22.04": UBUNTU_22_04,
    "debian-bookworm-slim": DEBIAN_BOOKWORM_SLIM,
    "cuda-runtime": CUDA_RUNTIME,
    "cuda-devel": CUDA_DEVEL,
    "l4t-jetpack": L4T_JETPACK,
}

# --------------------------------------------------------------------------------------------
# Helm charts
# --------------------------------------------------------------------------------------------

GPU_OPERATOR_CHART = ChartPin(
    name="gpu-operator",
    version="v26.3.3",
    repository="https://helm.ngc.nvidia.com/nvidia",
    app_version="v26.3.3",
    source=(
        "NVIDIA GPU Operator v26.3.3 (chart versions carry the v). Offline bundle lock with the "
        "chart sha256 and its images: device plugin v0.19.3, container toolkit v1.19.1, "
        f"dcgm-exporter 4.5.3-4.8.2 ({_IDX} 59207126919); `helm install ... --version=v26.3.3` in "
        f"{_IDX} 58520666626, 56099645166. v26.7.0 exists; not chosen because its component "
        "matrix was not found."
    ),
)

NVIDIA_DEVICE_PLUGIN_CHART = ChartPin(
    name="nvidia-device-plugin",
    version="0.20.1",
    repository="https://nvidia.github.io/k8s-device-plugin",
    app_version="0.20.1",
    source=(
        "Upstream: NVIDIA/k8s-device-plugin pull request #2057 'chore: update k8s-device-plugin to 0.20.1' "
        "(merged 2026-09-22, cherry-picked to release-0.20), the release after tag v0.20.0 (whose "
        "deployments/helm/nvidia-device-plugin/Chart.yaml has version and appVersion 0.20.0, 2026-08-19). "
        f"Also `helm ... nvdp/nvidia-device-plugin --version 0.20.1` in {_IDX} 70398219169, 71334952537; "
        f"nvidia-device-plugin-0.20.1.tgz in {_IDX} 71159819641. Use this or the GPU Operator's "
        "device plugin, not both."
    ),
)

DCGM_EXPORTER_CHART = ChartPin(
    name="dcgm-exporter",
    version="4.8.2",
    repository="https://nvidia.github.io/dcgm-exporter/helm-charts",
    app_version="4.8.2",
    source=(
        "helm list 'chart=dcgm-exporter-4.8.2 appVersion=4.8.2' running image "
        f"dcgm-exporter:4.5.3-4.8.2-distroless ({_IDX} 56970345814, 56268422496); matches "
        "DCGM_EXPORTER. Set image.tag to DCGM_EXPORTER's tag@digest. 4.8.3 exists."
    ),
)

INGRESS_NGINX_CHART = ChartPin(
    name="ingress-nginx",
    version="4.15.1",
    repository="https://kubernetes.github.io/ingress-nginx",
    app_version="1.15.1",
    source=(
        "helm list 'ingress-nginx-4.15.1  1.15.1' in 4+ independent repos "
        f"({_IDX} 68785874381, 70169738231, 69474592585, 66475604215). The final release: the "
        "ingress-nginx project is retired and archived, so plan a Gateway API replacement."
    ),
)

KEDA_CHART = ChartPin(
    name="keda",
    version="2.20.2",
    repository="https://kedacore.github.io/charts",
    app_version="2.20.2",
    source=(
        f"'chart 2.20.2, appVersion 2.20.2' ({_IDX} 60976476338, 62150691983, 59660498750). "
        "keda.sh/docs/2.20/operate/cluster: KEDA 2.20 is tested on Kubernetes v1.33 - v1.35."
    ),
)

KUBE_PROMETHEUS_STACK_CHART = ChartPin(
    name="kube-prometheus-stack",
    version="88.5.4",
    repository="https://prometheus-community.github.io/helm-charts",
    app_version="v0.93.1",
    source=(
        "Upstream: prometheus-community/helm-charts release tag kube-prometheus-stack-88.5.4 (after "
        "kube-prometheus-stack-88.5.3; its only change is the grafana subchart 12.11.2, PR #7213, as the "
        "release notes quoted in ocf/kubernetes#166 show); charts/kube-prometheus-stack/Chart.yaml at "
        "kube-prometheus-stack-88.5.3 (the repository snapshot of 2026-08-22) has appVersion v0.93.1. "
        f"Release 'kube-prometheus-stack-88.5.4 | v0.93.1' ({_IDX} 63350292942) and in 4 more "
        f"repos ({_IDX} 58103325002, 61960940346, 70290801602). 87.x -> 88.x moves "
        "prometheus-operator to v0.93: apply its CRDs before upgrading the chart."
    ),
)

PROMETHEUS_ADAPTER_CHART = ChartPin(
    name="prometheus-adapter",
    version="5.3.0",
    repository="https://prometheus-community.github.io/helm-charts",
    app_version="v0.12.0",
    source=(
        f"prometheus-adapter-5.3.0.tgz with a recorded sha256 ({_IDX} 58784421226) and in 3+ more "
        f"repos ({_IDX} 70512545924, 59660498750, 58828385536); its image is "
        "registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0."
    ),
)

LWS_CHART = ChartPin(
    name="lws",
    version="0.10.0",
    repository="oci://registry.k8s.io/lws/charts",
    app_version="v0.10.0",
    source=(
        f"LeaderWorkerSet controller registry.k8s.io/lws/lws:v0.10.0 on live clusters ({_IDX} "
        "68675598320, 68718909958, 71443375427) and lws-chart-v0.10.0.tgz "
        f"({_IDX} 59791930074). Not 0.11.0: 'LWS 0.11.0 needs Kubernetes 1.34 or later' "
        f"({_IDX} 70397499176); 0.10.0 was chosen when the EKS pin was 1.33 (now 1.35: 0.11 is possible)."
    ),
)

AWS_LOAD_BALANCER_CONTROLLER_CHART = ChartPin(
    name="aws-load-balancer-controller",
    version="1.17.1",
    repository="https://aws.github.io/eks-charts",
    app_version="v2.17.1",
    source=(
        "helm list 'aws-load-balancer-controller-1.17.1  v2.17.1' (2026-01-11, "
        f"{_IDX} 27293888752) and the chart URL .../aws-load-balancer-controller-1.17.1.tgz "
        f"({_IDX} 27787096224)."
    ),
)

KARPENTER_CHART = ChartPin(
    name="karpenter",
    version="1.14.1",
    repository="oci://public.ecr.aws/karpenter",
    app_version="1.14.1",
    source=(
        "karpenter.sh/v1.14 (v1.14.0 released 2026-07-11); 1.14.1 in `helm upgrade --install "
        f"karpenter oci://public.ecr.aws/karpenter/karpenter --version 1.14.1` ({_IDX} 69776658024) "
        "and Chainguard's karpenter-1.14 1.14.1 package (osv.dev CGA-3j2p-p76q-4jxq). Install the "
        "karpenter-crd chart at the same version first."
    ),
)

CHARTS: dict[str, ChartPin] = {
    "gpu-operator": GPU_OPERATOR_CHART,
    "nvidia-device-plugin": NVIDIA_DEVICE_PLUGIN_CHART,
    "dcgm-exporter": DCGM_EXPORTER_CHART,
    "ingress-nginx": INGRESS_NGINX_CHART,
    "keda": KEDA_CHART,
    "kube-prometheus-stack": KUBE_PROMETHEUS_STACK_CHART,
    "prometheus-adapter": PROMETHEUS_ADAPTER_CHART,
    "lws": LWS_CHART,
    "aws-load-balancer-controller": AWS_LOAD_BALANCER_CONTROLLER_CHART,
    "karpenter": KARPENTER_CHART,
}

# --------------------------------------------------------------------------------------------
# EKS
# --------------------------------------------------------------------------------------------

# Kubernetes minor of EKS clusters. 1.33 left EKS standard support on 2026-07-29 and 1.34 on 2026-12-02
# (awsdocs/amazon-eks-user-guide latest/ug/versioning/kubernetes-versions.adoc, release calendar); 1.35 is in
# standard support until 2027-03-27 (verify/facts/kubernetes_versions.py; versions.kubernetes-support checks
# it on every plan). 1.35 is inside KEDA 2.20's tested range (1.33-1.35) and Karpenter's AMI alias
# (cluster/eks_render.KARPENTER_AMI_ALIAS) has 1.35 images. An existing 1.33 cluster moves one minor at a
# time (1.33 -> 1.34 -> 1.35), each step with its add-on set; add-ons never downgrade.
EKS_KUBERNETES_VERSION = "1.35"

_EKS_135_SETS = (
    "1.35 add-on sets recorded from `aws eks describe-addon-versions --kubernetes-version 1.35` in public "
    f"cluster configs ({_IDX} 62641571077: 'update_eks_addons.sh' output with cluster_version 1.35; "
    f"{_IDX} 68490043100, 62087985788)"
)

EKS_ADDONS: dict[str, EksAddonPin] = {
    "vpc-cni": EksAddonPin(
        "vpc-cni",
        "v1.22.1-eksbuild.2",
        EKS_KUBERNETES_VERSION,
        f"{_EKS_135_SETS}: v1.22.1-eksbuild.2 in all three. Was v1.20.5-eksbuild.1 (the 1.33 default).",
    ),
    "coredns": EksAddonPin(
        "coredns",
        "v1.14.3-eksbuild.2",
        EKS_KUBERNETES_VERSION,
        f"{_EKS_135_SETS}: v1.14.3-eksbuild.2 in {_IDX} 62641571077 and 68490043100. CoreDNS builds are per minor.",
    ),
    "kube-proxy": EksAddonPin(
        "kube-proxy",
        "v1.35.3-eksbuild.11",
        EKS_KUBERNETES_VERSION,
        f"{_EKS_135_SETS}: v1.35.3-eksbuild.11 in all three. kube-proxy builds are per minor.",
    ),
    "aws-ebs-csi-driver": EksAddonPin(
        "aws-ebs-csi-driver",
        "v1.60.1-eksbuild.1",
        EKS_KUBERNETES_VERSION,
        f"{_EKS_135_SETS}, and on 1.35 in {_IDX} 65716892436: v1.60.1-eksbuild.1 in all four (also the 1.33 "
        "default of 2026-06-05). Newer: v1.61.1-eksbuild.1, v1.62.0-eksbuild.1.",
    ),
    "eks-pod-identity-agent": EksAddonPin(
        "eks-pod-identity-agent",
        "v1.3.10-eksbuild.3",
        EKS_KUBERNETES_VERSION,
        f"{_EKS_135_SETS}: v1.3.10-eksbuild.3 in {_IDX} 62641571077 (also the 1.33 default). Newer: v1.4.0-eksbuild.2.",
    ),
}

# --------------------------------------------------------------------------------------------
# Azure VM images
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VmImagePin:
    """An Azure Marketplace image pinned by version (Azure's `latest` moves under a scale set's feet)."""

    publisher: str
    offer: str
    sku: str
    version: str
    source: str
    checked: str

    def reference(self) -> dict[str, str]:
        """The `image_reference` of a VM or scale set."""
        return {"publisher": self.publisher, "offer": self.offer, "sku": self.sku, "version": self.version}


AZURE_UBUNTU_HPC = VmImagePin(
    publisher="microsoft-dsvm",
    offer="ubuntu-hpc",
    sku="2204",
    version="22.04.2026082801",
    source=(
        "Azure's Ubuntu 22.04 HPC image (Azure/azhpc-images: NVIDIA datacenter driver, CUDA, Moby + NVIDIA "
        f"container toolkit, azcopy), the newest 2204 version named in public material ({_IDX} 70117958063, "
        "an Azure Batch host pin of 2026-08-28). Single source: confirm it before the first deploy with "
        "`az vm image list --publisher microsoft-dsvm --offer ubuntu-hpc --sku 2204 --all -o table` and check "
        "that its driver is R580+ (VLLM_OPENAI is built for CUDA 13.0). Older versions seen: 22.04.2024102301."
    ),
    checked=CHECKED,
)

VM_IMAGES: dict[str, VmImagePin] = {"azure-ubuntu-hpc": AZURE_UBUNTU_HPC}

ALL_PINS: dict[str, ImagePin | ChartPin | EksAddonPin] = {
    **{f"image/{key}": pin for key, pin in IMAGES.items()},
    **{f"chart/{key}": pin for key, pin in CHARTS.items()},
    **{f"eks-addon/{key}": pin for key, pin in EKS_ADDONS.items()},
}
