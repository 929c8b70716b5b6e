"""`edge.runtime: onnx` under the offline plan, on an edited copy of stacks/Pulumi.edge.yaml: the edge-onnx
image built per platform and rolled out by digest with the ONNX_* env, /health probes and valid manifests;
and the onnx-specific bad inputs as one line (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from helpers import scratch_project
from pulumi_llm.cli import main

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = ROOT / "stacks" / "Pulumi.edge.yaml"
ONNX_CONTEXT = str(ROOT / "images" / "edge-onnx")
MODEL = "phi-3-5-mini"


def onnx_config() -> dict:
    """The real edge stack switched to the onnx runtime: the CPU fleet only, an int4 model directory."""
    config = yaml.safe_load(STACK_FILE.read_text())
    edge = config["config"]["pulumi-llm:edge"]
    edge["runtime"] = "onnx"
    edge.pop("jetson")
    edge.pop("llama_cpp_sha256")
    edge["image_tag"] = "onnx-0.18.0-r1"
    config["config"]["pulumi-llm:models"] = {
        MODEL: {
            "catalog": "phi-3.5-mini-instruct",
            "runtime": "onnx",
            "quantization": "int4",
            "context": 4096,
            "source": "node://phi-3.5-mini-int4-cpu",
            "api_key_secret": "edge-api-key",
        },
    }
    return config


def project(base: Path, config: dict) -> Path:
    return scratch_project(base, {"edge": config})


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = project(tmp_path_factory.mktemp("onnx-project"), onnx_config())
    out = tmp_path_factory.mktemp("onnx-plan")
    assert main(["--project-dir", str(base), "plan", "edge", "--out", str(out), "--quiet"]) == 0
    return out


def manifest(plan: Path, name: str) -> dict:
    return yaml.safe_load((plan / "manifests" / name).read_text())


def test_the_stack_builds_the_edge_onnx_image_per_platform(plan: Path) -> None:
    resources = {r["name"]: r for r in json.loads((plan / "resources.json").read_text())}
    images = {n: r["inputs"] for n, r in resources.items() if r["type"] == "docker-build:index:Image"}
    assert sorted(images) == ["llm-edge-image-amd64", "llm-edge-image-arm64"]
    for arch in ("amd64", "arm64"):
        image = images[f"llm-edge-image-{arch}"]
        assert image["context"] == {"location": ONNX_CONTEXT}
        assert image["dockerfile"] == {"location": f"{ONNX_CONTEXT}/Dockerfile"}
        assert image["target"] == "runtime" and image["platforms"] == [f"linux/{arch}"]
        assert not image.get("buildArgs") and image["push"] is True
        assert image["tags"][0].endswith(f"pulumi-llm/llama-server:onnx-0.18.0-r1-{arch}")
    assert images["llm-edge-image-arm64"]["builder"] == {"name": "graviton"}
    [index] = [r["inputs"] for r in resources.values() if r["type"] == "docker-build:index:Index"]
    assert index["tag"].endswith("pulumi-llm/llama-server:onnx-0.18.0-r1")


def test_the_daemonset_runs_the_onnx_server_by_digest(plan: Path) -> None:
    daemon = manifest(plan, f"daemonset-llm-edge-{MODEL}.yaml")
    assert daemon["metadata"]["labels"]["pulumi-llm.dev/runtime"] == "onnx"
    pod = daemon["spec"]["template"]["spec"]
    [server] = pod["containers"]
    repo_tag, _, digest = server["image"].partition("@")
    assert repo_tag.endswith("pulumi-llm/llama-server:onnx-0.18.0-r1") and digest.startswith("sha256:") and len(digest) == 71
    assert server["command"] == ["/opt/venv/bin/python", "/app/server.py"]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env == {
        "ONNX_MODEL_DIR": "/models/phi-3.5-mini-int4-cpu",
        "ONNX_MODEL_NAME": MODEL,
        "ONNX_HOST": "0.0.0.0",
        "ONNX_PORT": "8080",
        "ONNX_MAX_QUEUE": "8",
        "ONNX_MAX_TOKENS": "512",
        "HOME": "/tmp",
        "ONNX_API_KEY": None,
    }
    [key] = [e for e in server["env"] if e["name"] == "ONNX_API_KEY"]
    assert key["valueFrom"] == {"secretKeyRef": {"name": "edge-api-key", "key": "api-key"}}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert server["securityContext"]["readOnlyRootFilesystem"] is True and server["securityContext"]["runAsNonRoot"] is True
    assert {"name": "model", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]
    assert any(m["mountPath"] == "/tmp" for m in server["volumeMounts"])
    assert {"name": "model", "hostPath": {"path": "/var/lib/pulumi-llm/models", "type": "Directory"}} in pod["volumes"]
    assert pod["nodeSelector"] == {"pulumi-llm.dev/edge": "cpu"} and pod["tolerations"] == []
    assert "nvidia.com/gpu" not in server["resources"].get("limits", {})


def test_every_manifest_validates(plan: Path) -> None:
    paths = sorted((plan / "manifests").glob("*.yaml"))
    assert len(paths) == 5
    for path in paths:
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), "1.30.0", strict=True)


def test_the_summary_sizes_the_model_on_the_cpu_node(plan: Path) -> None:
    [model] = json.loads((plan / "summary.json").read_text())["sizing"]
    assert model["served_name"] == MODEL and model["runtime"] == "onnx" and model["max_model_len"] == 4096
    assert model["hardware"]["accelerator"] == "cpu-16gib"


# ------------------------------------------------------------------- bad input, on copies of the onnx file


def _edge(**changes):  # noqa: ANN202
    def edit(config: dict) -> None:
        config["pulumi-llm:edge"].update(changes)

    return edit


def _model(**changes):  # noqa: ANN202
    def edit(config: dict) -> None:
        config["pulumi-llm:models"][MODEL].update(changes)

    return edit


def _jetson_fleet(config: dict) -> None:
    config["pulumi-llm:edge"]["jetson"] = {"device": "Orin-Nano-8GB", "node_selector": {"pulumi-llm.dev/edge": "jetson"}}


PREFIX = "stacks/Pulumi.edge.yaml: pulumi-llm:"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            _edge(target="jetson", platforms=["linux/arm64"]),
            PREFIX + "edge.target = jetson: runtime onnx builds the cpu target only; cuda and jetson need runtime llamacpp",
        ),
        (
            _edge(target="cuda", platforms=["linux/amd64"]),
            PREFIX + "edge.target = cuda: runtime onnx builds the cpu target only; cuda and jetson need runtime llamacpp",
        ),
        (_jetson_fleet, PREFIX + "edge.jetson = |: runtime onnx builds the cpu target only; a Jetson fleet needs runtime llamacpp"),
        (
            _edge(llama_cpp_sha256="ab" * 32),
            PREFIX + f"edge.llama_cpp_sha256 = {'ab' * 32}: runtime onnx builds no llama.cpp source: drop it (runtime llamacpp takes it)",
        ),
        (_edge(runtime="tensorrt"), PREFIX + "edge.runtime = tensorrt: must be one of: llamacpp, onnx"),
        (
            _model(quantization="q4_k_m"),
            PREFIX + f"models.{MODEL}.quantization = q4_k_m: runtime onnx serves ONNX Runtime GenAI int4 models (model builder "
            "-p int4 -e cpu); GGUF quantizations such as q4_k_m are for edge.runtime llamacpp",
        ),
        (
            _model(source="node://phi-3.5-mini-q4_k_m.gguf"),
            PREFIX + f"models.{MODEL}.source = node://phi-3.5-mini-q4_k_m.gguf: runtime onnx reads an ONNX Runtime GenAI model "
            "directory from the nodes' cache, node://<dir>, not a .gguf file",
        ),
        (_model(runtime="llamacpp"), PREFIX + f"models.{MODEL}.runtime = llamacpp: edge.runtime is onnx: its models run onnx"),
        # the device check: int4 weights + an fp32 KV cache for 128k tokens don't fit a 16 GiB box
        (_model(context=131072), PREFIX + f"models.{MODEL} = |: phi-3.5-mini-instruct in ONNX int4 needs"),
    ],
)
def test_bad_onnx_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, expected: str) -> None:  # noqa: ANN001
    config = onnx_config()
    edit(config["config"])
    base = project(tmp_path, config)
    assert main(["--project-dir", str(base), "plan", "edge", "--quiet"]) == 2
    err = capsys.readouterr().err
    prefix, _, inside = expected.partition("|")
    assert err.startswith(prefix) and inside in err and err.count("\n") == 1, err


def test_llamacpp_still_needs_the_source_sha256(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = yaml.safe_load(STACK_FILE.read_text())
    config["config"]["pulumi-llm:edge"].pop("llama_cpp_sha256")
    base = project(tmp_path, config)
    assert main(["--project-dir", str(base), "plan", "edge", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        PREFIX + "edge.llama_cpp_sha256: required by runtime llamacpp (the sha256 PyPI publishes for the llama-cpp-python sdist)\n"
    )
