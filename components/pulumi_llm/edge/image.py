"""EdgeImage: the edge server image, built per platform, pushed by digest, joined in one index.

`runtime` picks the image: llamacpp builds images/edge-llamacpp (targets cpu, cuda, jetson, bundled; the
llama.cpp source verified by sha256), onnx builds images/edge-onnx (ONNX Runtime GenAI, CPU only, no
build args: its wheels are hash-pinned in its requirements.txt).

Children (AWS registry; none of the first five when repository_url is given — a second image, e.g. the
Jetson one, pushes to the first one's repositories):

    <name>-key, <name>-key-alias      customer-managed KMS key (rotating) for both repositories
    <name>-repo                       ECR repository: immutable tags, scan on push, KMS encryption
    <name>-cache                      ECR repository for BuildKit's registry cache (mutable: the cache tag moves)
    <name>-cache-lifecycle            expires cache layers nobody references after 14 days
    <name>-<arch>                     one docker-build Image per platform (amd64, arm64), pushed
    <name>-index                      docker-build Index joining them under `<repo>:<tag>`

Why one Image per platform: a multi-platform build with a registry cache exports the cache of one
platform only, so each platform is built (and cached, `cache-<target>-<arch>`) on its own and an Index
joins them (pulumi-docker-build docs, Image and Index). Each platform can name its own buildx builder:
llama.cpp does not build for arm64 under QEMU emulation (llama.cpp#11888), so arm64 needs a native arm64
builder (`docker buildx create --driver remote …` on a Graviton/Ampere host) or the build must run on one.

Registry login is the build machine's Docker credentials (`aws ecr get-login-password | docker login`
in CI, or the ECR credential helper) unless `registry_username`/`registry_password` are given, so no
registry token lands in the Pulumi state by default.

SBOM and provenance: pulumi-docker-build has no attestation inputs (pulumi/pulumi-docker-build#73) and
attestations are not exporter options, so they can't be requested through `exports` either. The
Dockerfile sets `BUILDKIT_SBOM_SCAN_STAGE` for builds that do ask (`docker buildx build --sbom=true`), and
CI attaches an SBOM and signs the index digest with cosign after `pulumi up` (images/edge-llamacpp/README.md).

Outputs: `ref` (`<repo>:<tag>@sha256:…`, the Index's) and `digest` (its `sha256:…`), `repository_url`,
and `platform_refs` (each platform image by digest).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, cast

import pulumi
import pulumi_docker_build as docker_build
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import pins
from ..errors import UserError
from ..labels import CommonLabels
from ..naming import child
from ..validation import DIGEST_REF as _DIGEST_REF
from .source import LLAMA_CPP_SOURCE, LlamaCppSource

StrInput = str | pulumi.Output[str]
Target = Literal["cpu", "cuda", "jetson", "bundled"]
EdgeRuntime = Literal["llamacpp", "onnx"]
RUNTIMES: tuple[EdgeRuntime, ...] = ("llamacpp", "onnx")
ONNX_STAGE = "runtime"
ONNX_GENAI_VERSION = "0.18.0"
"""onnxruntime-genai in images/edge-onnx/requirements.txt (a test keeps them equal)."""
"""The final stage of images/edge-onnx/Dockerfile."""

PLATFORMS = ("linux/amd64", "linux/arm64")
CACHE_EXPIRY_DAYS = 14
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}$")
REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
"""A registry repository name; settings.checks_deploy applies it to edge.repository before anything registers."""


def arch_of(platform: str) -> str:
    return platform.split("/", 1)[1]


def default_build_context(runtime: EdgeRuntime = "llamacpp") -> str:
    """The runtime's Dockerfile directory: images/edge-<runtime> in a checkout of this repository, or the
    copy the wheel carries (pulumi_llm/_images/edge-<runtime>) when pulumi-llm is installed from git."""
    if runtime not in RUNTIMES:
        raise UserError(f"edge.runtime = {runtime}: one of {', '.join(RUNTIMES)}")
    package = Path(__file__).resolve().parents[1]
    folder = f"edge-{runtime}"
    for candidate in (package.parents[1] / "images" / folder, package / "_images" / folder):
        if (candidate / "Dockerfile").is_file():
            return str(candidate)
    raise UserError(
        f"edge image: no Dockerfile in {package.parents[1] / 'images' / folder} or {package / '_images' / folder};"
        " reinstall pulumi-llm or pass context= explicitly"
    )


class EdgeImageArgs(BaseModel):
    """What to build, for which platforms, and where to push it."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack. Required.")
    runtime: EdgeRuntime = Field(
        default="llamacpp",
        description="Server the image runs: llamacpp (images/edge-llamacpp) or onnx (images/edge-onnx, cpu only). Default llamacpp.",
    )
    context: str = Field(description="Directory with the runtime's Dockerfile (default_build_context(runtime)). Required.")
    repository: str = Field(description="Repository name in the registry, e.g. pulumi-llm/llama-server. Required.")
    tag: str = Field(
        description=(
            "Tag of the index; platform images get `<tag>-<arch>`. Tags are immutable in the registry, so "
            "use a new one per build (e.g. llama-0c1e570-<git sha>). Required."
        )
    )
    llama_cpp_sha256: str | None = Field(
        default=None,
        description=(
            "sha256 of the llama.cpp source file (the llama-cpp-python sdist); the build verifies the download "
            "against it. Required for llamacpp (the stack pins it); not taken by onnx."
        ),
    )
    llama_cpp_source: LlamaCppSource = Field(
        default=LLAMA_CPP_SOURCE, description="The sdist to build from. Default llama-cpp-python 0.3.36 (llama.cpp 0c1e57098)."
    )
    target: Target = Field(default="cpu", description="Dockerfile target: cpu, cuda, jetson or bundled. Default cpu.")
    platforms: tuple[str, ...] = Field(
        default=PLATFORMS, description="linux/amd64 and/or linux/arm64. Default both (jetson: linux/arm64 only)."
    )
    registry: Literal["ecr", "artifact-registry", "acr"] = Field(default="ecr", description="Registry kind. Default ecr.")
    builders: Mapping[str, str] = Field(
        default_factory=dict,
        description="buildx builder name per platform, e.g. {'linux/arm64': 'graviton'} (native arm64). Default: the current builder.",
    )
    cuda_arch: str | None = Field(
        default=None, description="CUDA_DOCKER_ARCH for the cuda target, e.g. '89' or '80;90'. Default: the Dockerfile's list."
    )
    jetson_build_image: str = Field(
        default=pins.L4T_JETPACK.ref,
        description="L4T r36 JetPack image the jetson target builds on, as repository:tag@sha256:digest. Default pins.L4T_JETPACK.",
    )
    jetson_runtime_image: str = Field(
        default=pins.UBUNTU_22_04.ref,
        description="Image the jetson server runs on (Ubuntu 22.04, as L4T r36), repository:tag@sha256:digest. Default pins.UBUNTU_22_04.",
    )
    bundle_on: Literal["cpu", "cuda", "jetson"] = Field(
        default="cpu", description="Stage the bundled target bakes the model into. Default cpu."
    )
    model_dir: str | None = Field(default=None, description="Directory holding the GGUF to bake in (bundled). Required for bundled.")
    model_file: str | None = Field(default=None, description="GGUF file name inside model_dir (bundled). Required for bundled.")
    model_sha256: str | None = Field(default=None, description="sha256 of that GGUF (its .sha256 file). Required for bundled.")
    kms_key_arn: StrInput | None = Field(default=None, description="KMS key for the repositories (Input). Default: a new rotating key.")
    repository_url: StrInput | None = Field(
        default=None,
        description=(
            "An existing image repository URL (Input), e.g. another EdgeImage's, with cache_repository_url. "
            "Default: this component creates the repository, its cache repository and key."
        ),
    )
    cache_repository_url: StrInput | None = Field(
        default=None, description="The build-cache repository URL that goes with repository_url (Input)."
    )
    registry_username: StrInput | None = Field(
        default=None, description="Registry user (Input). Default: the build machine's Docker login."
    )
    registry_password: StrInput | None = Field(default=None, description="Registry password (secret Input). Default: the Docker login.")

    @model_validator(mode="after")
    def _check(self) -> EdgeImageArgs:
        where = "edge"
        if not self.platforms:
            raise UserError(f"{where}.platforms: give at least one of {', '.join(PLATFORMS)}")
        for p in self.platforms:
            if p not in PLATFORMS:
                raise UserError(f"{where}.platforms = {p}: edge images are built for {', '.join(PLATFORMS)}")
        if len(set(self.platforms)) != len(self.platforms):
            raise UserError(f"{where}.platforms = {', '.join(self.platforms)}: each platform once")
        for p in self.builders:
            if p not in self.platforms:
                raise UserError(f"{where}.builders.{p}: not one of the platforms built ({', '.join(self.platforms)})")
        stage = self.bundle_on if self.target == "bundled" else self.target
        if self.runtime == "onnx":
            return self._check_onnx(where)
        if stage == "jetson" and "linux/amd64" in self.platforms:
            raise UserError(f"{where}.platforms = {', '.join(self.platforms)}: the jetson target is linux/arm64 only (Jetson Orin)")
        if stage == "cuda" and "linux/arm64" in self.platforms:
            raise UserError(
                f"{where}.platforms = {', '.join(self.platforms)}: the cuda target is linux/amd64 only "
                "(use the jetson target for Jetson; the pinned CUDA images are amd64)"
            )
        if self.llama_cpp_sha256 is None or not _SHA256.match(self.llama_cpp_sha256):
            raise UserError(f"{where}.llama_cpp_sha256 = {self.llama_cpp_sha256}: 64 lower-case hex digits (sha256sum of the source file)")
        source = self.llama_cpp_source
        if self.llama_cpp_sha256 != source.sha256:
            raise UserError(
                f"{where}.llama_cpp_sha256 = {self.llama_cpp_sha256}: llama-cpp-python {source.version}'s sdist has sha256 "
                f"{source.sha256} (PyPI); to build another source give llama_cpp_source too"
            )
        if not re.fullmatch(r"\d+\.\d+\.\d+", source.version):
            raise UserError(f"{where}.llama_cpp_source.version = {source.version}: a llama-cpp-python release such as 0.3.36")
        expected = f"llama_cpp_python-{source.version}.tar.gz"
        if not (source.url.startswith("https://files.pythonhosted.org/packages/") and source.url.endswith("/" + expected)):
            raise UserError(
                f"{where}.llama_cpp_source.url = {source.url}: the https://files.pythonhosted.org/packages/… URL of {expected} (PyPI lists it)"
            )
        if not re.fullmatch(r"[0-9a-f]{7,40}", source.commit):
            raise UserError(f"{where}.llama_cpp_source.commit = {source.commit}: the llama.cpp commit the sdist vendors (hex)")
        if not _TAG.match(self.tag) or self.tag == "latest":
            raise UserError(f"{where}.tag = {self.tag}: a version tag (not latest) of letters, digits, '.', '_', '-'")
        if not REPOSITORY_NAME.match(self.repository):
            raise UserError(f"{where}.repository = {self.repository}: lower-case path segments such as pulumi-llm/llama-server")
        if self.cuda_arch is not None and stage != "cuda":
            raise UserError(f"{where}.cuda_arch = {self.cuda_arch}: only the cuda target takes it (jetson is 87)")
        if self.cuda_arch is not None and not re.fullmatch(r"\d{2,3}(;\d{2,3})*", self.cuda_arch):
            raise UserError(f"{where}.cuda_arch = {self.cuda_arch}: compute capabilities such as 89 or 80;90")
        for key in ("jetson_build_image", "jetson_runtime_image"):
            value = getattr(self, key)
            if not _DIGEST_REF.match(value):
                raise UserError(
                    f"{where}.{key} = {value}: pin the image by digest as repository:tag@sha256:<digest> (`crane digest <ref>`)"
                )
        if self.target == "bundled":
            if not (self.model_dir and self.model_file):
                raise UserError(f"{where}.model_dir/model_file: the bundled target needs the GGUF to bake in")
            if not self.model_file.endswith(".gguf") or "/" in self.model_file:
                raise UserError(f"{where}.model_file = {self.model_file}: a .gguf file name inside model_dir")
            if self.model_sha256 is None or not _SHA256.match(self.model_sha256):
                raise UserError(f"{where}.model_sha256 = {self.model_sha256}: 64 lower-case hex digits (the GGUF's .sha256 file)")
        elif self.model_dir or self.model_file or self.model_sha256:
            raise UserError(f"{where}.model_*: only the bundled target bakes a model in (weights are mounted otherwise)")
        return self._check_common(where)

    def _check_onnx(self, where: str) -> EdgeImageArgs:
        if self.target != "cpu":
            raise UserError(f"{where}.target = {self.target}: the onnx runtime builds the cpu target only (ONNX Runtime GenAI on CPU)")
        if self.llama_cpp_sha256 is not None or self.llama_cpp_source != LLAMA_CPP_SOURCE:
            raise UserError(f"{where}.llama_cpp_sha256: the onnx image builds no llama.cpp source (runtime llamacpp takes it)")
        if self.cuda_arch is not None:
            raise UserError(f"{where}.cuda_arch = {self.cuda_arch}: the onnx runtime builds the cpu target only")
        if self.model_dir or self.model_file or self.model_sha256:
            raise UserError(f"{where}.model_*: the onnx image bakes no model in (the model directory is mounted)")
        if not _TAG.match(self.tag) or self.tag == "latest":
            raise UserError(f"{where}.tag = {self.tag}: a version tag (not latest) of letters, digits, '.', '_', '-'")
        if not REPOSITORY_NAME.match(self.repository):
            raise UserError(f"{where}.repository = {self.repository}: lower-case path segments such as pulumi-llm/llama-server")
        return self._check_common(where)

    def _check_common(self, where: str) -> EdgeImageArgs:
        if self.registry != "ecr":
            raise UserError(f"{where}.registry = {self.registry}: only ecr is implemented so far")
        if (self.repository_url is None) != (self.cache_repository_url is None):
            raise UserError(f"{where}.repository_url/cache_repository_url: give both (an existing registry) or neither")
        if self.repository_url is not None and self.kms_key_arn is not None:
            raise UserError(f"{where}.kms_key_arn: only for a repository this component creates (repository_url is given)")
        if (self.registry_username is None) != (self.registry_password is None):
            raise UserError(f"{where}.registry_username/registry_password: give both or neither")
        return self

    @property
    def dockerfile_target(self) -> str:
        """The Dockerfile stage built: the target for llama.cpp, the one runtime stage for onnx."""
        return ONNX_STAGE if self.runtime == "onnx" else self.target

    @property
    def stage(self) -> str:
        """The runtime stage the image is (for bundled: the stage it bakes the model into)."""
        return self.bundle_on if self.target == "bundled" else self.target


def build_args(args: EdgeImageArgs) -> dict[str, str]:
    """The Dockerfile build args for `args` (pure); none for onnx."""
    if args.runtime == "onnx":
        return {}
    assert args.llama_cpp_sha256 is not None
    source = args.llama_cpp_source
    out = {
        "LLAMA_CPP_SOURCE_VERSION": source.version,
        "LLAMA_CPP_SOURCE_URL": source.url,
        "LLAMA_CPP_SHA256": args.llama_cpp_sha256,
        "LLAMA_CPP_COMMIT": source.commit,
    }
    if args.cuda_arch is not None:
        out["CUDA_DOCKER_ARCH"] = args.cuda_arch
    if args.stage == "jetson":
        out["JETSON_BUILD_IMAGE"] = args.jetson_build_image
        out["JETSON_RUNTIME_IMAGE"] = args.jetson_runtime_image
    if args.target == "bundled":
        assert args.model_file and args.model_sha256
        out.update(BUNDLE_ON=args.bundle_on, MODEL_FILE=args.model_file, MODEL_SHA256=args.model_sha256)
    return out


def cache_tag(args: EdgeImageArgs, platform: str) -> str:
    """Stable per target and platform, so every build of that pair reuses (and refreshes) one cache."""
    suffix = f"-{args.bundle_on}" if args.target == "bundled" else ""
    prefix = "onnx-" if args.runtime == "onnx" else ""
    return f"cache-{prefix}{args.target}{suffix}-{arch_of(platform)}"


def cache_lifecycle_policy() -> str:
    import json

    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire cache blobs no tag references after {CACHE_EXPIRY_DAYS} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": CACHE_EXPIRY_DAYS,
                    },
                    "action": {"type": "expire"},
                }
            ]
        },
        sort_keys=True,
    )


class EdgeImage(pulumi.ComponentResource):
    ref: pulumi.Output[str]
    digest: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    cache_repository_url: pulumi.Output[str]
    platform_refs: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: EdgeImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:EdgeImage", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        if args.repository_url is not None:
            repo_url = pulumi.Output.from_input(args.repository_url)
            assert args.cache_repository_url is not None  # the args validator requires both URLs or neither
            cache_url = pulumi.Output.from_input(args.cache_repository_url)
        else:
            repo_url, cache_url = self._ecr(name, args, here)

        registries = None
        if args.registry_username is not None:
            address = repo_url.apply(lambda url: url.split("/", 1)[0])
            registries = [
                docker_build.RegistryArgs(
                    address=address, username=args.registry_username, password=pulumi.Output.secret(args.registry_password)
                )
            ]
        context = docker_build.BuildContextArgs(
            location=args.context,
            # the args validator requires model_dir for the bundled target
            named={"model": docker_build.ContextArgs(location=cast(str, args.model_dir))} if args.target == "bundled" else None,
        )
        images: dict[str, docker_build.Image] = {}
        for platform in args.platforms:
            arch = arch_of(platform)
            cache_ref = pulumi.Output.concat(cache_url, ":", cache_tag(args, platform))
            builder = args.builders.get(platform)
            images[platform] = docker_build.Image(
                child(name, arch),
                context=context,
                dockerfile=docker_build.DockerfileArgs(location=f"{args.context.rstrip('/')}/Dockerfile"),
                target=args.dockerfile_target,
                platforms=[cast(docker_build.Platform, platform)],  # the args validator admits PLATFORMS only
                build_args=build_args(args),
                tags=[pulumi.Output.concat(repo_url, ":", args.tag, "-", arch)],
                push=True,
                registries=registries,
                builder=docker_build.BuilderConfigArgs(name=builder) if builder else None,
                cache_from=[docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=cache_ref))],
                cache_to=[
                    docker_build.CacheToArgs(
                        registry=docker_build.CacheToRegistryArgs(
                            ref=cache_ref,
                            mode=docker_build.CacheMode.MAX,
                            image_manifest=True,
                            oci_media_types=True,
                            ignore_error=True,
                        )
                    )
                ],
                labels={
                    "org.opencontainers.image.version": ONNX_GENAI_VERSION if args.runtime == "onnx" else args.llama_cpp_source.commit,
                    "dev.pulumi-llm.runtime": args.runtime,
                    "dev.pulumi-llm.target": args.target,
                    "dev.pulumi-llm.stack": args.labels.stack,
                },
                opts=here,
            )
        index = docker_build.Index(
            child(name, "index"),
            tag=pulumi.Output.concat(repo_url, ":", args.tag),
            sources=[image.ref for image in images.values()],
            push=True,
            registry=registries[0] if registries else None,
            opts=here,
        )
        self.ref = index.ref
        self.digest = index.ref.apply(lambda r: r.split("@", 1)[1] if "@" in r else "")
        self.repository_url = repo_url
        self.cache_repository_url = cache_url
        self.platform_refs = {p: img.ref for p, img in images.items()}
        self.register_outputs(
            {
                "ref": self.ref,
                "digest": self.digest,
                "repository_url": self.repository_url,
                "cache_repository_url": self.cache_repository_url,
                "platform_refs": self.platform_refs,
            }
        )

    def _ecr(self, name: str, args: EdgeImageArgs, here: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        import pulumi_aws as aws

        from ..labels import aws_tags

        tags = aws_tags(args.labels.with_method("edge"))
        key_arn = args.kms_key_arn
        if key_arn is None:
            key = aws.kms.Key(
                child(name, "key"),
                description=f"pulumi-llm edge images of {args.labels.stack}",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                tags=tags,
                opts=here,
            )
            aws.kms.Alias(
                child(name, "key-alias"), name=f"alias/pulumi-llm/{args.labels.stack}/{name}", target_key_id=key.key_id, opts=here
            )
            key_arn = key.arn
        encryption: list[aws.ecr.RepositoryEncryptionConfigurationArgsDict] = [{"encryption_type": "KMS", "kms_key": key_arn}]
        repo = aws.ecr.Repository(
            child(name, "repo"),
            name=args.repository,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=encryption,
            force_delete=False,
            tags=tags,
            opts=here,
        )
        cache = aws.ecr.Repository(
            child(name, "cache"),
            name=f"{args.repository}-buildcache",
            # The cache tag is rewritten by every build; the images it holds are never deployed.
            image_tag_mutability="MUTABLE",
            image_scanning_configuration={"scan_on_push": False},
            encryption_configurations=encryption,
            force_delete=True,
            tags=tags,
            opts=here,
        )
        aws.ecr.LifecyclePolicy(child(name, "cache-lifecycle"), repository=cache.name, policy=cache_lifecycle_policy(), opts=here)
        return repo.repository_url, cache.repository_url
