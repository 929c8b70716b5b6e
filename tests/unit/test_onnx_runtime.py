"""ONNX Runtime GenAI runtime: ONNX_* env the edge-onnx server reads, /health probes, memory from the
device check (int4 weights + fp32 KV at the context), read-only root with /tmp, and one-line refusals."""

from __future__ import annotations

import kubernetes_validate
import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.kubernetes import render
from pulumi_llm.runtimes import onnx
from pulumi_llm.runtimes.spec import HttpCheck
from pulumi_llm.sizing import GIB, PRECISIONS, Hardware, cpu_host, fit, get_accelerator

IMAGE = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/pulumi-llm/llama-server:onnx-r1@sha256:" + "a" * 64


@pytest.fixture(scope="module")
def cpu_fit():
    return onnx.onnx_fit("llama-3.2-3b-instruct", Hardware(cpu_host(16), 1), quantization="int4", context=4096)


def env_of(spec) -> dict[str, str | None]:
    return {e.name: e.value for e in spec.env}


def test_server_is_configured_through_the_env_server_py_reads(cpu_fit) -> None:
    spec = onnx.onnx_container("phi-mini", cpu_fit, image=IMAGE, model_dir="phi-mini-int4", api_key_secret="edge-key")
    assert spec.runtime == "onnx" and spec.command == ("/opt/venv/bin/python", "/app/server.py") and spec.args == ()
    assert env_of(spec) == {
        "ONNX_MODEL_DIR": "/models/phi-mini-int4",
        "ONNX_MODEL_NAME": "phi-mini",
        "ONNX_HOST": "0.0.0.0",
        "ONNX_PORT": "8080",
        "ONNX_MAX_QUEUE": "8",
        "ONNX_MAX_TOKENS": "512",
        "HOME": "/tmp",
        "ONNX_API_KEY": None,
    }
    [key] = [e for e in spec.env if e.name == "ONNX_API_KEY"]
    assert (key.secret_name, key.secret_key) == ("edge-key", "api-key")
    assert "ONNX_API_KEY" not in env_of(onnx.onnx_container("m", cpu_fit, image=IMAGE, model_dir="m"))


def test_probes_use_health_and_the_startup_budget_grows_with_the_weights(cpu_fit) -> None:
    spec = onnx.onnx_container("m", cpu_fit, image=IMAGE, model_dir="m")
    for probe in (spec.startup, spec.readiness, spec.liveness):
        assert probe.check == HttpCheck("/health", "http")
    assert spec.port("http").container_port == 8080
    assert spec.liveness.budget_seconds > spec.readiness.budget_seconds
    big = onnx.onnx_fit("llama-3.1-8b-instruct", Hardware(cpu_host(32), 1), quantization=None, context=4096)
    assert onnx.onnx_container("m", big, image=IMAGE, model_dir="m").startup.budget_seconds >= spec.startup.budget_seconds


def test_memory_counts_int4_weights_and_an_fp32_kv_cache_for_the_context(cpu_fit) -> None:
    # int4 weights are sized as GGUF Q4_0 (4.64 bits), the KV cache at 4 bytes a value.
    q4_0 = fit("llama-3.2-3b-instruct", Hardware(cpu_host(16), 1), quantization="q4_0", context=4096, runtime="llamacpp")
    assert cpu_fit.precision == PRECISIONS["q4_0"] and cpu_fit.memory.weights == q4_0.memory.weights
    kv_fp32 = 2 * q4_0.kv_bytes_per_token * 4096
    expected = q4_0.memory.weights + kv_fp32 + q4_0.memory.overhead
    assert onnx.memory_bytes(cpu_fit, 4096) == expected
    spec = onnx.onnx_container("m", cpu_fit, image=IMAGE, model_dir="m", context=4096, threads=2)
    gib = -(-expected * 11 // (10 * GIB))
    assert (spec.resources.memory_request, spec.resources.memory_limit) == (f"{gib}Gi", f"{gib + 1}Gi")
    assert spec.resources.gpus == 0 and spec.resources.cpu_request == "2"


def test_pod_is_non_root_read_only_with_tmp_and_a_read_only_model_mount(cpu_fit) -> None:
    spec = onnx.onnx_container("m", cpu_fit, image=IMAGE, model_dir="m")
    assert spec.read_only_root and spec.run_as_user == 1000
    assert [(m.name, m.path, m.kind, m.read_only) for m in spec.mounts] == [
        ("tmp", "/tmp", "scratch", False),
        ("model", "/models", "model", True),
    ]
    pod = render.pod_spec(
        spec, render.Placement(node_selector={"pulumi-llm.dev/edge": "cpu"}), service_account="default", model_claim="models"
    )
    [container] = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "m"}, "spec": pod}, "1.30.0", strict=True)


def test_the_device_check_refuses_what_does_not_fit() -> None:
    # 3B int4 + fp32 KV for 128k tokens: about 30 GiB, an 8 GB Orin Nano can't hold it.
    with pytest.raises(UserError) as err:
        onnx.onnx_fit("llama-3.2-3b-instruct", Hardware(get_accelerator("orin-nano-8gb"), 1), quantization="int4", context=131072)
    assert "\n" not in str(err.value)
    # fits llama.cpp's f16 KV check but not ONNX's fp32 one
    with pytest.raises(UserError, match=r"in ONNX int4 needs .* fp32 KV cache for 24576 tokens\) but cpu-8gib offers"):
        onnx.onnx_fit("llama-3.2-3b-instruct", Hardware(cpu_host(8), 1), quantization="int4", context=24576)
    fit("llama-3.2-3b-instruct", Hardware(cpu_host(8), 1), quantization="q4_0", context=24576, runtime="llamacpp")


@pytest.mark.parametrize("quantization", ["q4_k_m", "Q8_0", "awq", "fp16"])
def test_gguf_and_other_quantizations_are_one_line(quantization: str) -> None:
    with pytest.raises(UserError) as err:
        onnx.onnx_fit("llama-3.2-3b-instruct", Hardware(cpu_host(16), 1), quantization=quantization, context=4096, where="models.m")
    assert str(err.value) == (
        f"models.m.quantization = {quantization}: the onnx runtime serves ONNX Runtime GenAI int4 models "
        "(model builder -p int4 -e cpu); GGUF quantizations such as q4_k_m are for edge.runtime llamacpp"
    )


def test_the_source_is_a_model_directory_not_a_gguf_file() -> None:
    assert onnx.model_dir_from_source("node://phi-3-mini-int4", "models.m") == "phi-3-mini-int4"
    assert onnx.model_dir_from_source("node://phi-3-mini-int4/", "models.m") == "phi-3-mini-int4"
    for bad in ("node://llama-3-2-3b-q4_k_m.gguf", "node://a/b", "node://../etc", "s3://bucket/model", "node://"):
        with pytest.raises(
            UserError,
            match=r"^models\.m\.source = .*: the onnx runtime reads an ONNX Runtime GenAI model "
            r"directory from the nodes' cache, node://<dir>",
        ):
            onnx.model_dir_from_source(bad, "models.m")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image": "repo/edge-onnx:latest"}, "models.m.image = repo/edge-onnx:latest: images are pinned as repository:tag@sha256:digest"),
        ({"model_dir": "model.gguf"}, "models.m.model_dir = model.gguf: an ONNX Runtime GenAI model directory name below /models/"),
        ({"port": 0}, "models.m.port = 0: a TCP port 1-65535 is expected"),
        ({"threads": 0}, "models.m.threads = 0: at least 1 thread is expected"),
        ({"max_queue": -1}, "models.m.max_queue = -1: 0-10000 waiting requests"),
        ({"max_tokens": 5000, "context": 4096}, "models.m.max_tokens = 5000: 1 to the context (4096)"),
    ],
)
def test_bad_container_input_is_one_line(cpu_fit, changes: dict, message: str) -> None:
    kwargs = {"image": IMAGE, "model_dir": "m", **changes}
    with pytest.raises(UserError) as err:
        onnx.onnx_container("m", cpu_fit, **kwargs)
    assert str(err.value) == message
