"""llama.cpp runtime: LLAMA_ARG_* env from sizing, probes, resources per device, metric names, refusals."""

from __future__ import annotations

import dataclasses
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pytest
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.kubernetes import render
from pulumi_llm.runtimes import llamacpp
from pulumi_llm.runtimes.spec import HttpCheck
from pulumi_llm.sizing import GIB, PRECISIONS, Hardware, cpu_host, fit, get_accelerator, startup_probe_budget

IMAGE = pins.LLAMA_CPP_SERVER.ref


@pytest.fixture(scope="module")
def cpu_fit():
    return fit("llama-3.1-8b-instruct", Hardware(cpu_host(32), 1), runtime="llamacpp", context=8192)


@pytest.fixture(scope="module")
def jetson_fit():
    return fit("llama-3.2-3b-instruct", Hardware(get_accelerator("orin-nano-8gb"), 1), runtime="llamacpp", context=4096)


@pytest.fixture(scope="module")
def gpu_fit():
    return fit("llama-3.1-8b-instruct", Hardware(get_accelerator("L4"), 1), runtime="llamacpp", context=8192)


def env_of(spec) -> dict[str, str | None]:
    return {e.name: e.value for e in spec.env}


def test_cpu_server_is_configured_only_through_env(cpu_fit) -> None:
    spec = llamacpp.llamacpp_container("chat", cpu_fit, image=IMAGE)
    s = cpu_fit.llamacpp
    assert spec.command == ("/app/llama-server",) and spec.args == ()
    assert env_of(spec) == {
        "LLAMA_ARG_MODEL": "/models/chat-q4_k_m.gguf",
        "LLAMA_ARG_ALIAS": "chat",
        "LLAMA_ARG_HOST": "0.0.0.0",
        "LLAMA_ARG_PORT": "8080",
        "LLAMA_ARG_CTX_SIZE": str(s.ctx_size),
        "LLAMA_ARG_N_PARALLEL": str(s.parallel),
        "LLAMA_ARG_N_GPU_LAYERS": "0",
        "LLAMA_ARG_CACHE_TYPE_K": "f16",
        "LLAMA_ARG_CACHE_TYPE_V": "f16",
        "LLAMA_ARG_FLASH_ATTN": "auto",
        "LLAMA_ARG_THREADS": "4",
        "LLAMA_ARG_CACHE_RAM": "512",
        "LLAMA_ARG_ENDPOINT_METRICS": "1",
        "LLAMA_ARG_ENDPOINT_SLOTS": "0",
        "LLAMA_ARG_OFFLINE": "1",
        "HOME": "/tmp",
    }
    # Each slot holds the context sizing chose: ctx_size is the pool shared by the slots.
    assert s.ctx_size == cpu_fit.max_model_len * s.parallel
    assert spec.resources.gpus == 0 and spec.resources.cpu_request == "4"


def test_cpu_memory_holds_weights_kv_buffers_and_prompt_cache(cpu_fit) -> None:
    spec = llamacpp.llamacpp_container("chat", cpu_fit, image=IMAGE)
    need = cpu_fit.memory.weights + cpu_fit.kv_bytes_per_token * cpu_fit.llamacpp.ctx_size + cpu_fit.memory.overhead + 512 * 2**20
    request_gib = int(spec.resources.memory_request.removesuffix("Gi"))
    assert request_gib * GIB >= need * 1.1 > (request_gib - 1) * GIB
    assert spec.resources.memory_limit == f"{request_gib + 1}Gi"


def test_gpu_server_offloads_every_layer_and_asks_for_the_gpu(gpu_fit) -> None:
    spec = llamacpp.llamacpp_container("chat", gpu_fit, image=pins.LLAMA_CPP_SERVER_CUDA.ref)
    env = env_of(spec)
    assert env["LLAMA_ARG_N_GPU_LAYERS"] == str(gpu_fit.model.num_layers + 1)
    assert env["LLAMA_ARG_THREADS"] == "2"
    assert spec.resources.gpus == 1 and spec.resources.gpu_resource == "nvidia.com/gpu"
    # Weights and KV live in GPU memory: the host keeps 2 GiB plus the prompt cache (x 1.1, rounded up).
    assert spec.resources.memory_request == "3Gi"


def test_jetson_counts_everything_in_its_shared_memory(jetson_fit) -> None:
    spec = llamacpp.llamacpp_container("edge", jetson_fit, image=IMAGE, threads=6)
    env = env_of(spec)
    assert env["LLAMA_ARG_N_GPU_LAYERS"] == str(jetson_fit.model.num_layers + 1)
    assert env["LLAMA_ARG_THREADS"] == "6" and spec.resources.cpu_request == "6"
    assert spec.resources.gpus == 1
    assert llamacpp.memory_bytes(jetson_fit) > jetson_fit.memory.weights


def test_quantized_kv_cache_turns_flash_attention_on() -> None:
    f = fit("llama-3.1-8b-instruct", Hardware(cpu_host(16), 1), runtime="llamacpp", context=8192, kv_cache_dtype="q8_0")
    env = env_of(llamacpp.llamacpp_container("chat", f, image=IMAGE))
    assert env["LLAMA_ARG_CACHE_TYPE_K"] == env["LLAMA_ARG_CACHE_TYPE_V"] == "q8_0"
    assert env["LLAMA_ARG_FLASH_ATTN"] == "on"


def test_api_key_comes_from_a_secret_never_a_literal(cpu_fit) -> None:
    spec = llamacpp.llamacpp_container("chat", cpu_fit, image=IMAGE, api_key_secret="chat-key")
    [key] = [e for e in spec.env if e.name == "LLAMA_API_KEY"]
    assert (key.value, key.secret_name, key.secret_key) == (None, "chat-key", "api-key")
    assert any("/metrics needs it too" in n for n in spec.notes)


def test_probes_use_health_and_the_startup_budget_follows_the_gguf_size(cpu_fit) -> None:
    spec = llamacpp.llamacpp_container("chat", cpu_fit, image=IMAGE)
    budget = startup_probe_budget(cpu_fit.memory.weights)
    for probe in (spec.startup, spec.readiness, spec.liveness):
        assert probe.check == HttpCheck("/health", "http")
    assert spec.startup.budget_seconds == budget.seconds
    assert spec.weight_bytes == cpu_fit.memory.weights
    big = fit("llama-3.1-70b-instruct", Hardware(cpu_host(512), 1), runtime="llamacpp", quantization="f16", context=4096)
    assert llamacpp.llamacpp_container("big", big, image=IMAGE).startup.budget_seconds > spec.startup.budget_seconds


def test_metric_names_have_no_model_label() -> None:
    m = llamacpp.METRICS
    assert m.model_label == ""
    assert m.all() == (
        "llamacpp:requests_deferred",
        "llamacpp:requests_processing",
        "llamacpp:prompt_tokens_total",
        "llamacpp:tokens_predicted_total",
    )


def test_weights_mount_read_only_unless_bundled(cpu_fit) -> None:
    mounted = llamacpp.llamacpp_container("chat", cpu_fit, image=IMAGE)
    assert [(m.name, m.path, m.kind, m.read_only) for m in mounted.mounts] == [
        ("tmp", "/tmp", "scratch", False),
        ("model", "/models", "model", True),
    ]
    bundled = llamacpp.llamacpp_container("chat", cpu_fit, image=IMAGE, mount_model=False, model_path="/models/model.gguf")
    assert [m.name for m in bundled.mounts] == ["tmp"]
    assert env_of(bundled)["LLAMA_ARG_MODEL"] == "/models/model.gguf"


def test_the_container_renders_as_a_valid_hardened_deployment(cpu_fit) -> None:
    spec = llamacpp.llamacpp_container("chat", cpu_fit, image=IMAGE, api_key_secret="chat-key")
    body = render.deployment_spec(
        spec,
        replicas=1,
        labels=render.selector_labels("chat"),
        annotations={},
        placement=render.Placement(tolerations=()),
        service_account="chat",
        model_claim="weights",
    )
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "chat", "namespace": "llm"}, "spec": body}
    kubernetes_validate.validate(deployment, "1.30.0", strict=True)
    [container] = body["template"]["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert {"name": "LLAMA_API_KEY", "valueFrom": {"secretKeyRef": {"name": "chat-key", "key": "api-key"}}} in container["env"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"image": "ghcr.io/ggml-org/llama.cpp:server"},
            "models.chat.image = ghcr.io/ggml-org/llama.cpp:server: images are pinned as repository:tag@sha256:digest",
        ),
        ({"model_path": "/data/chat.gguf"}, "models.chat.model_path = /data/chat.gguf: a .gguf file below /models/ is expected"),
        (
            {"model_path": "/models/chat.safetensors"},
            "models.chat.model_path = /models/chat.safetensors: a .gguf file below /models/ is expected",
        ),
        ({"port": 0}, "models.chat.port = 0: a TCP port 1-65535 is expected"),
        ({"threads": 0}, "models.chat.threads = 0: at least 1 thread is expected"),
        ({"cache_ram_mib": -1}, "models.chat.cache_ram_mib = -1: 0 (off) or a positive number of MiB is expected"),
    ],
)
def test_bad_input_is_one_line(cpu_fit, kwargs, message) -> None:
    args = {"image": IMAGE, **kwargs}
    with pytest.raises(UserError) as caught:
        llamacpp.llamacpp_container("chat", cpu_fit, **args)
    assert str(caught.value) == message


def test_a_vllm_fit_is_refused() -> None:
    f = fit("llama-3.1-8b-instruct", Hardware(get_accelerator("L4"), 1), context=8192)
    with pytest.raises(UserError) as caught:
        llamacpp.llamacpp_container("chat", f, image=IMAGE)
    assert str(caught.value) == "models.chat.runtime: sized for vllm; llamacpp_container needs fit(..., runtime='llamacpp')"


def test_a_quantization_llamacpp_does_not_serve_is_refused(cpu_fit) -> None:
    awq = dataclasses.replace(cpu_fit, precision=PRECISIONS["awq"])
    with pytest.raises(UserError) as caught:
        llamacpp.llamacpp_container("chat", awq, image=IMAGE)
    assert str(caught.value).startswith("quantization 'awq' is not served by llamacpp; llamacpp takes: q2_k, ")
    # fit itself refuses it first, with the same line.
    with pytest.raises(UserError, match="quantization 'awq' is not served by llamacpp"):
        fit("llama-3.1-8b-instruct", Hardware(cpu_host(32), 1), runtime="llamacpp", quantization="awq")


# ---------------------------------------------------------------- model preparation (pure parts)

from pulumi_llm.edge import prepare  # noqa: E402
from pulumi_llm.sizing import RUNTIME_PRECISIONS  # noqa: E402


def test_the_quantizer_table_covers_exactly_what_sizing_serves() -> None:
    assert set(prepare.GGUF_TYPES) == set(RUNTIME_PRECISIONS["llamacpp"])
    assert prepare.gguf_file_name("chat", "Q4_K_M") == "chat-q4_k_m.gguf"
    # The runtime mounts the file prepare writes.
    f = fit("llama-3.1-8b-instruct", Hardware(cpu_host(32), 1), runtime="llamacpp", context=8192)
    assert llamacpp.default_model_file("chat", f) == prepare.gguf_file_name("chat", f.precision.key)


def job(**overrides):
    args: dict[str, Any] = {"source": "s3://models/hf/llama-3.1-8b", "dest": "s3://models/gguf", "service_account": "model-prep"}
    args.update(overrides)
    return prepare.prepare_job_spec("llama-8b", **args)


def test_the_job_fetches_converts_quantizes_then_uploads_with_pinned_images() -> None:
    spec = job(labels={"app.kubernetes.io/name": "model-prep"}, region="eu-west-1")
    pod = spec["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["fetch", "convert", "quantize"]
    assert [c["name"] for c in pod["containers"]] == ["upload"]
    fetch, convert, quantize = pod["initContainers"]
    assert fetch["image"] == pins.AWS_CLI.ref and convert["image"] == quantize["image"] == pins.LLAMA_CPP_FULL.ref
    assert "aws s3 cp --recursive --only-show-errors s3://models/hf/llama-3.1-8b /work/hf" in fetch["command"][2]
    assert convert["command"] == [
        "python3",
        "/app/convert_hf_to_gguf.py",
        "/work/hf",
        "--outfile",
        "/work/model-f16.gguf",
        "--outtype",
        "f16",
    ]
    assert quantize["command"] == ["/app/llama-quantize", "/work/model-f16.gguf", "/work/out/llama-8b-q4_k_m.gguf", "Q4_K_M", "4"]
    script = pod["containers"][0]["command"][2]
    assert "sha256sum llama-8b-q4_k_m.gguf > llama-8b-q4_k_m.gguf.sha256" in script
    assert "s3://models/gguf/llama-8b-q4_k_m.gguf.sha256" in script
    assert {"name": "AWS_REGION", "value": "eu-west-1"} in fetch["env"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "model-prep"
    assert spec["backoffLimit"] == 1 and spec["activeDeadlineSeconds"] == 4 * 3600
    for c in [*pod["initContainers"], *pod["containers"]]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["runAsNonRoot"] is True
    job_object = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "llama-8b-prepare", "namespace": "llm"}, "spec": spec}
    kubernetes_validate.validate(job_object, "1.30.0", strict=True)


def test_an_f16_job_skips_the_quantizer() -> None:
    pod = job(quantization="f16")["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["fetch", "convert"]
    assert pod["initContainers"][1]["command"][3:5] == ["--outfile", "/work/out/llama-8b-f16.gguf"]


def test_job_uris_are_shell_quoted() -> None:
    pod = job(source="s3://models/hf/a;b")["template"]["spec"]
    assert "'s3://models/hf/a;b'" in pod["initContainers"][0]["command"][2]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quantization": "awq"}, "quantization = awq: llama.cpp quantizes to q2_k, q3_k_m, q4_0, q4_k_s, q4_k_m, q5_k_m, q6_k, q8_0, f16"),
        ({"source": "/data/hf"}, "prepare.source = /data/hf: an s3://bucket/prefix URI is expected"),
        ({"dest": "gs://b/x"}, "prepare.dest = gs://b/x: an s3://bucket/prefix URI is expected"),
        (
            {"converter_image": "ghcr.io/ggml-org/llama.cpp:full"},
            "prepare.converter_image = ghcr.io/ggml-org/llama.cpp:full: images are pinned as repository:tag@sha256:digest",
        ),
        ({"active_deadline_seconds": 5}, "prepare.active_deadline_seconds = 5: at least 60 is expected"),
        ({"cpu": 0}, "prepare.cpu = 0: at least 1 whole CPU is expected"),
    ],
)
def test_bad_job_input_is_one_line(overrides, message) -> None:
    with pytest.raises(UserError) as caught:
        job(**overrides)
    assert str(caught.value) == message


def test_a_job_name_must_be_a_dns_label() -> None:
    with pytest.raises(UserError) as caught:
        prepare.prepare_job_spec("Llama_8B", source="s3://m/a", dest="s3://m/b", service_account="x")
    assert str(caught.value) == "prepare.name = Llama_8B: a lower-case DNS label (a-z, 0-9, -) is expected"


def _prepare_model():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "images" / "edge-llamacpp" / "prepare_model.py"
    spec = cast(ModuleSpec, importlib.util.spec_from_file_location("prepare_model", path))  # a file path always has one
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    cast(Loader, spec.loader).exec_module(module)
    return module


def test_prepare_model_refuses_bad_input_before_running_anything(tmp_path, capsys) -> None:
    pm = _prepare_model()
    (tmp_path / "hf").mkdir()
    assert pm.main([str(tmp_path / "hf"), "--name", "m", "--llama-cpp", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"prepare_model: {tmp_path / 'hf'}: not a Hugging Face checkpoint directory (no config.json)"
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert pm.main([str(tmp_path / "hf"), "--name", "m", "--llama-cpp", str(tmp_path)]) == 2
    assert "no convert_hf_to_gguf.py there" in capsys.readouterr().err
    (tmp_path / "convert_hf_to_gguf.py").write_text("")
    assert pm.main([str(tmp_path / "hf"), "--name", "m", "--llama-cpp", str(tmp_path)]) == 2
    assert "an executable llama-quantize is needed for q4_k_m" in capsys.readouterr().err
    assert pm.main([str(tmp_path / "hf"), "--name", "m", "--llama-cpp", str(tmp_path), "--quant", "awq"]) == 2
    assert "llama.cpp quantizes to" in capsys.readouterr().err


def test_prepare_model_uploads_through_the_given_client(tmp_path) -> None:
    pm = _prepare_model()
    calls = []

    class Client:
        def upload_file(self, filename, bucket, key, ExtraArgs=None):  # noqa: N803
            calls.append((Path(filename).name, bucket, key, ExtraArgs))

    a = tmp_path / "m-q4_k_m.gguf"
    a.write_bytes(b"GGUF")
    assert pm.upload([a], "s3://bucket/models", Client()) == ["s3://bucket/models/m-q4_k_m.gguf"]
    assert calls == [("m-q4_k_m.gguf", "bucket", "models/m-q4_k_m.gguf", {"ChecksumAlgorithm": "SHA256"})]
    with pytest.raises(UserError):
        pm.upload([a], "https://bucket/models", Client())
