"""EdgeImage under the mock runtime: one Image per platform joined by an Index, pushed to a locked-down ECR
repository, cached per platform; outputs by digest; every bad input is one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.edge.image import EdgeImage, EdgeImageArgs, build_args, cache_tag
from pulumi_llm.edge.source import LLAMA_CPP_SOURCE, LlamaCppSource
from pulumi_llm.errors import UserError
from pulumi_llm.labels import CommonLabels

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = str(ROOT / "images" / "edge-llamacpp")
SHA = LLAMA_CPP_SOURCE.sha256
SOURCE_ARGS = {
    "LLAMA_CPP_SOURCE_VERSION": "0.3.36",
    "LLAMA_CPP_SOURCE_URL": LLAMA_CPP_SOURCE.url,
    "LLAMA_CPP_SHA256": SHA,
    "LLAMA_CPP_COMMIT": "0c1e57098",
}
LABELS = CommonLabels("edge", "prod")
JETSON_BUILD = "nvcr.io/nvidia/l4t-jetpack:r36.4.0@sha256:" + "a" * 64
JETSON_RUNTIME = "nvcr.io/nvidia/l4t-cuda:12.6.11-runtime@sha256:" + "b" * 64
ACCOUNT_REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pulumi-llm/llama-server"


def make_args(**overrides) -> EdgeImageArgs:
    values = {
        "labels": LABELS,
        "context": CONTEXT,
        "repository": "pulumi-llm/llama-server",
        "tag": "b11176-abc1234",
        "llama_cpp_sha256": SHA,
    }
    values.update(overrides)
    return EdgeImageArgs(**values)


def program(outputs: dict, **overrides):
    def run_it() -> None:
        providers = [aws.Provider("aws", region="eu-west-1"), docker_build.Provider("docker-build")]
        image = EdgeImage("edge", make_args(**overrides), opts=pulumi.ResourceOptions(providers=providers))
        pulumi.Output.all(image.ref, image.digest, image.repository_url, *image.platform_refs.values()).apply(
            lambda values: outputs.update(ref=values[0], digest=values[1], repository_url=values[2], platforms=values[3:])
        )

    return run_it


def fake_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def test_children_one_image_per_platform_joined_by_an_index() -> None:
    records = run(program({}), region="eu-west-1")
    component = only(records, "pulumi-llm:index:EdgeImage")
    assert children(records, component) == [
        ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "edge-cache-lifecycle"),
        ("aws:ecr/repository:Repository", "edge-cache"),
        ("aws:ecr/repository:Repository", "edge-repo"),
        ("aws:kms/alias:Alias", "edge-key-alias"),
        ("aws:kms/key:Key", "edge-key"),
        ("docker-build:index:Image", "edge-amd64"),
        ("docker-build:index:Image", "edge-arm64"),
        ("docker-build:index:Index", "edge-index"),
    ]
    provider = only(records, "pulumi:providers:aws")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("aws:"))
    builder = only(records, "pulumi:providers:docker-build")
    assert all(r.provider == builder.urn for r in records if r.type.startswith("docker-build:index:"))


def test_the_repository_is_immutable_scanned_and_encrypted_with_a_rotating_key() -> None:
    records = by_name(run(program({}), region="eu-west-1"))
    repo = records["edge-repo"].inputs
    assert repo["name"] == "pulumi-llm/llama-server"
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": "arn:aws:kms:eu-west-1:123456789012:edge-key"}]
    assert repo["forceDelete"] is False
    assert repo["tags"]["pulumi-llm:method"] == "edge"
    key = records["edge-key"].inputs
    assert key["enableKeyRotation"] is True and key["deletionWindowInDays"] == 30
    cache = records["edge-cache"].inputs
    assert cache["name"] == "pulumi-llm/llama-server-buildcache" and cache["encryptionConfigurations"] == repo["encryptionConfigurations"]
    policy = json.loads(records["edge-cache-lifecycle"].inputs["policy"])
    assert policy["rules"][0]["selection"]["tagStatus"] == "untagged"


def test_each_platform_builds_alone_with_its_own_registry_cache() -> None:
    records = by_name(run(program({}), region="eu-west-1"))
    for arch in ("amd64", "arm64"):
        image = records[f"edge-{arch}"].inputs
        assert image["platforms"] == [f"linux/{arch}"]
        assert image["target"] == "cpu" and image["push"] is True
        assert image["tags"] == [f"{ACCOUNT_REPO}:b11176-abc1234-{arch}"]
        assert image["context"] == {"location": CONTEXT}
        assert image["dockerfile"] == {"location": f"{CONTEXT}/Dockerfile"}
        assert image["buildArgs"] == SOURCE_ARGS
        cache = f"{ACCOUNT_REPO}-buildcache:cache-cpu-{arch}"
        assert image["cacheFrom"] == [{"registry": {"ref": cache}}]
        [cache_to] = image["cacheTo"]
        # ECR needs the cache as an OCI image manifest; a failed cache export must not fail the build.
        assert {k: cache_to["registry"][k] for k in ("ref", "mode", "imageManifest", "ociMediaTypes", "ignoreError")} == {
            "ref": cache,
            "mode": "max",
            "imageManifest": True,
            "ociMediaTypes": True,
            "ignoreError": True,
        }
        assert "registries" not in image  # the build machine's docker login; no token in the state


def test_the_index_joins_the_platform_digests_and_gives_ref_and_digest() -> None:
    outputs: dict = {}
    records = by_name(run(program(outputs), region="eu-west-1"))
    index = records["edge-index"].inputs
    assert index["tag"] == f"{ACCOUNT_REPO}:b11176-abc1234" and index["push"] is True
    assert index["sources"] == [
        f"{ACCOUNT_REPO}:b11176-abc1234-amd64@{fake_digest('edge-amd64')}",
        f"{ACCOUNT_REPO}:b11176-abc1234-arm64@{fake_digest('edge-arm64')}",
    ]
    assert outputs["ref"] == f"{ACCOUNT_REPO}:b11176-abc1234@{fake_digest('edge-index')}"
    assert outputs["digest"] == fake_digest("edge-index")
    assert outputs["repository_url"] == ACCOUNT_REPO
    assert list(outputs["platforms"]) == index["sources"]


def test_jetson_builds_arm64_on_its_own_builder_with_pinned_l4t_bases() -> None:
    records = run(
        program(
            {},
            target="jetson",
            platforms=("linux/arm64",),
            builders={"linux/arm64": "orin"},
            jetson_build_image=JETSON_BUILD,
            jetson_runtime_image=JETSON_RUNTIME,
        ),
        region="eu-west-1",
    )
    [image] = of_type(records, "docker-build:index:Image")
    assert image.name == "edge-arm64"
    assert image.inputs["target"] == "jetson" and image.inputs["platforms"] == ["linux/arm64"]
    assert image.inputs["builder"] == {"name": "orin"}
    assert image.inputs["buildArgs"]["JETSON_BUILD_IMAGE"] == JETSON_BUILD
    assert image.inputs["buildArgs"]["JETSON_RUNTIME_IMAGE"] == JETSON_RUNTIME
    assert image.inputs["cacheTo"][0]["registry"]["ref"].endswith(":cache-jetson-arm64")


def test_bundled_bakes_a_verified_model_from_a_named_context(tmp_path: Path) -> None:
    records = run(
        program(
            {}, target="bundled", platforms=("linux/amd64",), model_dir=str(tmp_path), model_file="tiny-q4_k_m.gguf", model_sha256="c" * 64
        ),
        region="eu-west-1",
    )
    [image] = of_type(records, "docker-build:index:Image")
    assert image.inputs["context"] == {"location": CONTEXT, "named": {"model": {"location": str(tmp_path)}}}
    assert image.inputs["buildArgs"] == {
        **SOURCE_ARGS,
        "BUNDLE_ON": "cpu",
        "MODEL_FILE": "tiny-q4_k_m.gguf",
        "MODEL_SHA256": "c" * 64,
    }


def test_explicit_registry_credentials_stay_secret() -> None:
    records = by_name(run(program({}, registry_username="AWS", registry_password="token"), region="eu-west-1"))
    # The password makes the whole registry entry secret in the state and the plan.
    assert records["edge-amd64"].inputs["registries"] == "[secret]"
    assert records["edge-arm64"].inputs["registries"] == "[secret]"
    assert records["edge-index"].inputs["registry"] == "[secret]"


def test_pure_helpers() -> None:
    cuda = make_args(target="cuda", platforms=("linux/amd64",), cuda_arch="89")
    assert build_args(cuda)["CUDA_DOCKER_ARCH"] == "89"
    bundled = make_args(
        target="bundled",
        bundle_on="jetson",
        platforms=("linux/arm64",),
        model_dir="/m",
        model_file="m.gguf",
        model_sha256="d" * 64,
        jetson_build_image=JETSON_BUILD,
        jetson_runtime_image=JETSON_RUNTIME,
    )
    assert cache_tag(bundled, "linux/arm64") == "cache-bundled-jetson-arm64"
    assert build_args(bundled)["BUNDLE_ON"] == "jetson" and "JETSON_BUILD_IMAGE" in build_args(bundled)


def test_jetson_defaults_to_the_pinned_l4t_base_and_ubuntu_runtime() -> None:
    args = build_args(make_args(target="jetson", platforms=("linux/arm64",)))
    assert args["JETSON_BUILD_IMAGE"] == pins.L4T_JETPACK.ref
    assert args["JETSON_BUILD_IMAGE"].startswith("nvcr.io/nvidia/l4t-jetpack:r36.4.0@sha256:")
    assert args["JETSON_RUNTIME_IMAGE"] == pins.UBUNTU_22_04.ref
    # cpu images don't take the Jetson bases
    assert "JETSON_BUILD_IMAGE" not in build_args(make_args())


def test_a_second_image_pushes_to_a_given_registry_without_creating_one() -> None:
    cache = ACCOUNT_REPO + "-buildcache"
    outputs: dict = {}
    records = run(
        program(
            outputs, target="jetson", platforms=("linux/arm64",), tag="r1-jetson", repository_url=ACCOUNT_REPO, cache_repository_url=cache
        ),
        region="eu-west-1",
    )
    component = only(records, "pulumi-llm:index:EdgeImage")
    assert children(records, component) == [
        ("docker-build:index:Image", "edge-arm64"),
        ("docker-build:index:Index", "edge-index"),
    ]
    image = by_name(records)["edge-arm64"].inputs
    assert image["tags"] == [f"{ACCOUNT_REPO}:r1-jetson-arm64"]
    assert image["cacheFrom"] == [{"registry": {"ref": f"{cache}:cache-jetson-arm64"}}]
    assert outputs["ref"] == f"{ACCOUNT_REPO}:r1-jetson@{fake_digest('edge-index')}"


def test_the_default_source_is_the_sdist_the_integration_build_verifies() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from support import llamacpp_build

    assert isinstance(LLAMA_CPP_SOURCE, LlamaCppSource)
    assert (LLAMA_CPP_SOURCE.version, LLAMA_CPP_SOURCE.url, LLAMA_CPP_SOURCE.sha256, LLAMA_CPP_SOURCE.commit) == (
        llamacpp_build.SDIST_VERSION,
        llamacpp_build.SDIST_URL,
        llamacpp_build.SDIST_SHA256,
        llamacpp_build.LLAMA_CPP_COMMIT,
    )
    dockerfile = (ROOT / "images" / "edge-llamacpp" / "Dockerfile").read_text()
    assert f"ARG LLAMA_CPP_SOURCE_URL={LLAMA_CPP_SOURCE.url}\n" in dockerfile
    assert f"ARG LLAMA_CPP_SOURCE_VERSION={LLAMA_CPP_SOURCE.version}\n" in dockerfile
    assert dockerfile.count(f"ARG LLAMA_CPP_COMMIT={LLAMA_CPP_SOURCE.commit}\n") == 6


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"platforms": ("linux/s390x",)}, "edge.platforms = linux/s390x: edge images are built for linux/amd64, linux/arm64"),
        ({"platforms": ()}, "edge.platforms: give at least one of linux/amd64, linux/arm64"),
        ({"platforms": ("linux/arm64", "linux/arm64")}, "edge.platforms = linux/arm64, linux/arm64: each platform once"),
        ({"target": "jetson"}, "edge.platforms = linux/amd64, linux/arm64: the jetson target is linux/arm64 only (Jetson Orin)"),
        (
            {
                "target": "bundled",
                "bundle_on": "jetson",
                "platforms": ("linux/amd64",),
                "model_dir": "/m",
                "model_file": "m.gguf",
                "model_sha256": "d" * 64,
            },
            "edge.platforms = linux/amd64: the jetson target is linux/arm64 only (Jetson Orin)",
        ),
        (
            {
                "target": "jetson",
                "platforms": ("linux/arm64",),
                "jetson_build_image": "nvcr.io/nvidia/l4t-jetpack:r36.4.0",
                "jetson_runtime_image": JETSON_RUNTIME,
            },
            "edge.jetson_build_image = nvcr.io/nvidia/l4t-jetpack:r36.4.0: pin the image by digest as "
            "repository:tag@sha256:<digest> (`crane digest <ref>`)",
        ),
        (
            {"target": "cuda"},
            "edge.platforms = linux/amd64, linux/arm64: the cuda target is linux/amd64 only "
            "(use the jetson target for Jetson; the pinned CUDA images are amd64)",
        ),
        ({"cuda_arch": "89"}, "edge.cuda_arch = 89: only the cuda target takes it (jetson is 87)"),
        (
            {"target": "cuda", "platforms": ("linux/amd64",), "cuda_arch": "sm_89"},
            "edge.cuda_arch = sm_89: compute capabilities such as 89 or 80;90",
        ),
        ({"builders": {"linux/riscv64": "x"}}, "edge.builders.linux/riscv64: not one of the platforms built (linux/amd64, linux/arm64)"),
        ({"llama_cpp_sha256": "abc"}, "edge.llama_cpp_sha256 = abc: 64 lower-case hex digits (sha256sum of the source file)"),
        (
            {"llama_cpp_sha256": "ab" * 32},
            f"edge.llama_cpp_sha256 = {'ab' * 32}: llama-cpp-python 0.3.36's sdist has sha256 {SHA} (PyPI); "
            "to build another source give llama_cpp_source too",
        ),
        (
            {"llama_cpp_source": LLAMA_CPP_SOURCE.model_copy(update={"version": "master"})},
            "edge.llama_cpp_source.version = master: a llama-cpp-python release such as 0.3.36",
        ),
        (
            {"llama_cpp_source": LLAMA_CPP_SOURCE.model_copy(update={"url": "https://github.com/ggml-org/llama.cpp/archive/b1.tar.gz"})},
            "edge.llama_cpp_source.url = https://github.com/ggml-org/llama.cpp/archive/b1.tar.gz: the "
            "https://files.pythonhosted.org/packages/… URL of llama_cpp_python-0.3.36.tar.gz (PyPI lists it)",
        ),
        ({"repository_url": ACCOUNT_REPO}, "edge.repository_url/cache_repository_url: give both (an existing registry) or neither"),
        (
            {"repository_url": ACCOUNT_REPO, "cache_repository_url": ACCOUNT_REPO + "-buildcache", "kms_key_arn": "arn:aws:kms:x"},
            "edge.kms_key_arn: only for a repository this component creates (repository_url is given)",
        ),
        ({"tag": "latest"}, "edge.tag = latest: a version tag (not latest) of letters, digits, '.', '_', '-'"),
        ({"repository": "Pulumi/LLM"}, "edge.repository = Pulumi/LLM: lower-case path segments such as pulumi-llm/llama-server"),
        ({"target": "bundled"}, "edge.model_dir/model_file: the bundled target needs the GGUF to bake in"),
        (
            {"target": "bundled", "model_dir": "/m", "model_file": "m.bin", "model_sha256": "d" * 64},
            "edge.model_file = m.bin: a .gguf file name inside model_dir",
        ),
        (
            {"target": "bundled", "model_dir": "/m", "model_file": "m.gguf"},
            "edge.model_sha256 = None: 64 lower-case hex digits (the GGUF's .sha256 file)",
        ),
        ({"model_file": "m.gguf"}, "edge.model_*: only the bundled target bakes a model in (weights are mounted otherwise)"),
        ({"registry": "acr"}, "edge.registry = acr: only ecr is implemented so far"),
        ({"registry_username": "AWS"}, "edge.registry_username/registry_password: give both or neither"),
    ],
)
def test_bad_input_is_one_line(overrides: dict, message: str) -> None:
    with pytest.raises(UserError) as caught:
        make_args(**overrides)
    assert str(caught.value) == message


# ------------------------------------------------------------------- runtime onnx: images/edge-onnx

ONNX_CONTEXT = str(ROOT / "images" / "edge-onnx")


def onnx_program(outputs: dict, **overrides):
    return program(outputs, runtime="onnx", context=ONNX_CONTEXT, llama_cpp_sha256=None, tag="onnx-r1", **overrides)


def test_onnx_builds_the_edge_onnx_dockerfile_per_platform_with_no_llama_cpp_args() -> None:
    outputs: dict = {}
    records = run(onnx_program(outputs), region="eu-west-1")
    component = only(records, "pulumi-llm:index:EdgeImage")
    assert [c for c in children(records, component) if c[0].startswith("docker-build:")] == [
        ("docker-build:index:Image", "edge-amd64"),
        ("docker-build:index:Image", "edge-arm64"),
        ("docker-build:index:Index", "edge-index"),
    ]
    named = by_name(records)
    for arch in ("amd64", "arm64"):
        image = named[f"edge-{arch}"].inputs
        assert image["context"] == {"location": ONNX_CONTEXT}
        assert image["dockerfile"] == {"location": f"{ONNX_CONTEXT}/Dockerfile"}
        # the Dockerfile's final stage, built for one platform, with no llama.cpp source to verify
        assert image["target"] == "runtime" and image["platforms"] == [f"linux/{arch}"]
        assert image.get("buildArgs", {}) == {}
        assert image["tags"] == [f"{ACCOUNT_REPO}:onnx-r1-{arch}"]
        assert image["cacheFrom"] == [{"registry": {"ref": f"{ACCOUNT_REPO}-buildcache:cache-onnx-cpu-{arch}"}}]
        assert image["labels"]["dev.pulumi-llm.runtime"] == "onnx"
        assert image["labels"]["org.opencontainers.image.version"] == "0.18.0"
    assert outputs["ref"] == f"{ACCOUNT_REPO}:onnx-r1@{fake_digest('edge-index')}"
    assert outputs["digest"] == fake_digest("edge-index")
    # llama.cpp images keep their runtime label too
    assert by_name(run(program({}), region="eu-west-1"))["edge-amd64"].inputs["labels"]["dev.pulumi-llm.runtime"] == "llamacpp"


def test_onnx_default_build_context_is_the_edge_onnx_image() -> None:
    from pulumi_llm.edge.image import ONNX_GENAI_VERSION, default_build_context

    assert default_build_context("onnx") == ONNX_CONTEXT
    assert default_build_context() == CONTEXT
    requirements = (ROOT / "images" / "edge-onnx" / "requirements.txt").read_text()
    assert f"onnxruntime-genai=={ONNX_GENAI_VERSION} " in requirements
    with pytest.raises(UserError, match=r"^edge\.runtime = vllm: one of llamacpp, onnx$"):
        default_build_context("vllm")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"target": "jetson", "platforms": ("linux/arm64",)},
            "edge.target = jetson: the onnx runtime builds the cpu target only (ONNX Runtime GenAI on CPU)",
        ),
        (
            {"target": "cuda", "platforms": ("linux/amd64",)},
            "edge.target = cuda: the onnx runtime builds the cpu target only (ONNX Runtime GenAI on CPU)",
        ),
        ({"llama_cpp_sha256": SHA}, "edge.llama_cpp_sha256: the onnx image builds no llama.cpp source (runtime llamacpp takes it)"),
        ({"tag": "latest"}, "edge.tag = latest: a version tag (not latest) of letters, digits, '.', '_', '-'"),
        ({"platforms": ("linux/s390x",)}, "edge.platforms = linux/s390x: edge images are built for linux/amd64, linux/arm64"),
    ],
)
def test_bad_onnx_input_is_one_line(overrides: dict, message: str) -> None:
    values = {"runtime": "onnx", "context": ONNX_CONTEXT, "llama_cpp_sha256": None, "tag": "onnx-r1", **overrides}
    with pytest.raises(UserError) as err:
        make_args(**values)
    assert str(err.value) == message


def test_llamacpp_still_requires_the_source_sha256() -> None:
    with pytest.raises(UserError, match=r"^edge\.llama_cpp_sha256 = None: 64 lower-case hex digits"):
        make_args(llama_cpp_sha256=None)
