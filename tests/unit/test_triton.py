"""Triton runtime: model repository rendering (config.pbtxt, model.json) and the container spec."""

from __future__ import annotations

import json
from typing import cast

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.runtimes.spec import HttpCheck
from pulumi_llm.runtimes.triton import (
    Blocks,
    Enum,
    OnnxModel,
    TensorSpec,
    check_image,
    onnx_model_config,
    pbtxt_string,
    render_model_repository,
    render_pbtxt,
    triton_container,
    triton_metrics,
    vllm_backend_model_json,
    vllm_model_config,
)
from pulumi_llm.sizing import fit, get_instance_type, startup_probe_budget, weight_bytes

IMAGE = "nvcr.io/nvidia/tritonserver:25.01-vllm-python-py3@sha256:" + "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def fit_8b():
    return fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), runtime="triton")


@pytest.fixture(scope="module")
def fit_70b():
    return fit("llama-3.1-70b-instruct", get_instance_type("p4de.24xlarge"), runtime="triton")


@pytest.fixture(scope="module")
def fit_70b_fp8():
    return fit("llama-3.1-70b-instruct", get_instance_type("g6e.12xlarge"), runtime="triton", quantization="fp8")


def classifier(**kw) -> OnnxModel:
    return OnnxModel(
        inputs=(TensorSpec("input_ids", "TYPE_INT64", (-1,)), TensorSpec("attention_mask", "TYPE_INT64", (-1,))),
        outputs=(TensorSpec("logits", "TYPE_FP32", (2,)),),
        **kw,
    )


def error(fn, *args, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------
# The text-format writer
# ---------------------------------------------------------------------------------------------


def test_pbtxt_string_escapes_quotes_backslashes_controls_and_non_ascii():
    assert pbtxt_string('say "hi"') == r'"say \"hi\""'
    assert pbtxt_string("a\\b") == r'"a\\b"'
    assert pbtxt_string("l1\nl2\r\tx") == r'"l1\nl2\r\tx"'
    assert pbtxt_string("\x00\x1b\x7f") == r'"\000\033\177"'
    # UTF-8 bytes as octal escapes: é = C3 A9
    assert pbtxt_string("café") == r'"caf\303\251"'
    assert pbtxt_string("") == '""'
    assert pbtxt_string("it's") == '"it\'s"'


def test_render_pbtxt_every_value_shape():
    text = render_pbtxt(
        {
            "name": 'm"1',
            "max_batch_size": 8,
            "flag": True,
            "off": False,
            "ratio": 0.5,
            "kind": Enum("KIND_GPU"),
            "skipped": None,
            "dims": [-1, 3],
            "empty_list": [],
            "policy": {"decoupled": True, "inner": {"x": 1}},
            "empty_message": {},
            "input": [{"name": "a", "dims": [1]}, {"name": "b"}],
            "parameters": Blocks(({"key": "K", "value": {"string_value": "v"}},)),
        }
    )
    assert text == (
        'name: "m\\"1"\n'
        "max_batch_size: 8\n"
        "flag: true\n"
        "off: false\n"
        "ratio: 0.5\n"
        "kind: KIND_GPU\n"
        "dims: [ -1, 3 ]\n"
        "empty_list: []\n"
        "policy {\n"
        "  decoupled: true\n"
        "  inner {\n"
        "    x: 1\n"
        "  }\n"
        "}\n"
        "empty_message {}\n"
        "input [\n"
        "  {\n"
        '    name: "a"\n'
        "    dims: [ 1 ]\n"
        "  },\n"
        "  {\n"
        '    name: "b"\n'
        "  }\n"
        "]\n"
        "parameters {\n"
        '  key: "K"\n'
        "  value {\n"
        '    string_value: "v"\n'
        "  }\n"
        "}\n"
    )


def test_render_pbtxt_rejects_what_text_format_cannot_say():
    with pytest.raises(ValueError):
        Enum("kind_gpu")
    with pytest.raises(ValueError):
        render_pbtxt({"Bad-Name": 1})
    with pytest.raises(ValueError):
        render_pbtxt({"x": float("nan")})
    with pytest.raises(TypeError):
        render_pbtxt({"x": [1, {"a": 1}]})
    with pytest.raises(TypeError):
        render_pbtxt({"x": object()})


# ---------------------------------------------------------------------------------------------
# vLLM backend models
# ---------------------------------------------------------------------------------------------

VLLM_CONFIG = """\
name: "llama-8b"
backend: "vllm"
max_batch_size: 0
model_transaction_policy {
  decoupled: true
}
input [
  {
    name: "text_input"
    data_type: TYPE_STRING
    dims: [ 1 ]
  },
  {
    name: "stream"
    data_type: TYPE_BOOL
    dims: [ 1 ]
    optional: true
  },
  {
    name: "sampling_parameters"
    data_type: TYPE_STRING
    dims: [ 1 ]
    optional: true
  },
  {
    name: "exclude_input_in_output"
    data_type: TYPE_BOOL
    dims: [ 1 ]
    optional: true
  }
]
output [
  {
    name: "text_output"
    data_type: TYPE_STRING
    dims: [ -1 ]
  }
]
instance_group [
  {
    count: 1
    kind: KIND_MODEL
  }
]
parameters {
  key: "ENABLE_VLLM_HEALTH_CHECK"
  value {
    string_value: "true"
  }
}
parameters {
  key: "REPORT_CUSTOM_METRICS"
  value {
    string_value: "true"
  }
}
"""


def test_vllm_repository_golden(fit_8b):
    files = render_model_repository("llama-8b", kind="vllm", fit=fit_8b, model_path="/models/llama-3.1-8b")
    assert sorted(files) == ["llama-8b/1/model.json", "llama-8b/config.pbtxt"]
    assert files["llama-8b/config.pbtxt"] == VLLM_CONFIG
    assert files["llama-8b/1/model.json"] == (
        "{\n"
        '  "disable_log_stats": false,\n'
        '  "dtype": "bfloat16",\n'
        '  "enable_prefix_caching": true,\n'
        '  "gpu_memory_utilization": 0.9,\n'
        f'  "max_model_len": {fit_8b.max_model_len},\n'
        f'  "max_num_seqs": {fit_8b.max_num_seqs},\n'
        '  "model": "/models/llama-3.1-8b",\n'
        '  "tensor_parallel_size": 1\n'
        "}\n"
    )


def test_vllm_config_without_optional_parameters():
    text = vllm_model_config("m", report_vllm_metrics=False, vllm_health_check=False)
    assert "\nparameters {" not in text and "string_value" not in text
    assert text.endswith("instance_group [\n  {\n    count: 1\n    kind: KIND_MODEL\n  }\n]\n")
    only_metrics = vllm_model_config("m", vllm_health_check=False)
    assert "ENABLE_VLLM_HEALTH_CHECK" not in only_metrics and 'key: "REPORT_CUSTOM_METRICS"' in only_metrics


@pytest.mark.parametrize("which", ["fit_8b", "fit_70b", "fit_70b_fp8"])
def test_model_json_carries_exactly_the_sized_vllm_values(which, request):
    f = request.getfixturevalue(which)
    args = vllm_backend_model_json(f, "/models/weights")
    sized = f.vllm.as_dict()
    for key in ("tensor_parallel_size", "max_model_len", "max_num_seqs", "gpu_memory_utilization", "dtype"):
        assert args[key] == sized[key], key
    # Left out where the vLLM runtime leaves out the flag.
    assert args.get("quantization") == sized["quantization"]
    assert args.get("kv_cache_dtype", "auto") == sized["kv_cache_dtype"]
    assert args["model"] == "/models/weights"
    assert args["enable_prefix_caching"] is True and args["disable_log_stats"] is False
    # Removed in vLLM 0.12: naming it crashes AsyncEngineArgs(**model_json).
    assert "disable_log_requests" not in args
    files = render_model_repository("m", kind="vllm", fit=f, model_path="/models/weights")
    assert json.loads(files["m/1/model.json"]) == args


def test_model_json_fp8_and_tensor_parallel(fit_70b_fp8):
    args = vllm_backend_model_json(fit_70b_fp8)
    assert args["model"] == "/models"
    assert args["quantization"] == "fp8"
    assert args["dtype"] == "auto"
    assert args["tensor_parallel_size"] == 4


def test_model_json_extra_engine_args(fit_8b):
    args = vllm_backend_model_json(fit_8b, extra_engine_args={"load_format": "runai_streamer", "enforce_eager": True})
    assert args["load_format"] == "runai_streamer" and args["enforce_eager"] is True
    assert error(vllm_backend_model_json, fit_8b, extra_engine_args={"max_model_len": 4096}) == (
        "triton vLLM engine arg 'max_model_len' is set from sizing: change the sizing input (model, quantization, "
        "context, gpu-memory-utilization) instead"
    )
    assert error(vllm_backend_model_json, fit_8b, extra_engine_args={"Load-Format": "x"}) == (
        "triton vLLM engine arg 'Load-Format' is not allowed: use a vLLM engine arg name in snake_case"
    )
    assert error(vllm_backend_model_json, fit_8b, extra_engine_args={"seed": float("nan")}) == (
        "triton vLLM engine arg 'seed' has the value nan: give a JSON value (string, number, bool, list, map)"
    )


def test_vllm_needs_a_vllm_fit():
    gguf = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), runtime="llamacpp")
    assert error(vllm_backend_model_json, gguf) == ("triton vLLM model needs a sizing fit for runtime 'triton' or 'vllm', not 'llamacpp'")
    assert error(render_model_repository, "m", kind="vllm") == (
        "triton vLLM model needs a sizing fit for runtime 'triton' or 'vllm', not 'NoneType'"
    )


# ---------------------------------------------------------------------------------------------
# ONNX Runtime models
# ---------------------------------------------------------------------------------------------

ONNX_CONFIG = """\
name: "intent-classifier"
backend: "onnxruntime"
max_batch_size: 64
input [
  {
    name: "input_ids"
    data_type: TYPE_INT64
    dims: [ -1 ]
  },
  {
    name: "attention_mask"
    data_type: TYPE_INT64
    dims: [ -1 ]
  }
]
output [
  {
    name: "logits"
    data_type: TYPE_FP32
    dims: [ 2 ]
  }
]
dynamic_batching {
  preferred_batch_size: [ 16, 32, 64 ]
  max_queue_delay_microseconds: 500
}
instance_group [
  {
    count: 2
    kind: KIND_GPU
    gpus: [ 0, 1 ]
  }
]
"""


def test_onnx_repository_golden():
    model = classifier(max_batch_size=64, preferred_batch_sizes=(16, 32, 64), max_queue_delay_microseconds=500, instance_count=2, gpus=2)
    files = render_model_repository("intent-classifier", kind="onnx", onnx=model)
    assert files == {"intent-classifier/config.pbtxt": ONNX_CONFIG}


def test_onnx_cpu_without_batching():
    text = onnx_model_config("emb", classifier(max_batch_size=0, dynamic_batching=False, gpus=0))
    assert "max_batch_size: 0\n" in text
    assert "dynamic_batching" not in text
    assert text.endswith("instance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]\n")


def test_onnx_default_batching_leaves_preferred_sizes_to_triton():
    text = onnx_model_config("emb", classifier())
    assert "dynamic_batching {\n  max_queue_delay_microseconds: 100\n}\n" in text
    assert "max_batch_size: 32\n" in text


def test_onnx_validation_messages():
    t = TensorSpec("x", "TYPE_FP32", (3,))
    assert error(TensorSpec, "x", "TYPE_FP32", (0, 3)) == (
        "triton tensor 'x': dims [0, 3] are not allowed: give one or more sizes, each a positive whole number or -1 (variable)"
    )
    assert error(TensorSpec, "x", "TYPE_FP32", ()) == (
        "triton tensor 'x': dims [] are not allowed: give one or more sizes, each a positive whole number or -1 (variable)"
    )
    assert error(TensorSpec, "x", "INT64", (1,)) == (
        "triton tensor 'x': data type 'INT64' is not one of TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, "
        "TYPE_UINT64, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_FP32, TYPE_FP64, TYPE_BF16, "
        "TYPE_STRING"
    )
    assert error(TensorSpec, "input ids", "TYPE_INT64", (1,)) == (
        "triton tensor name 'input ids' is not allowed: use letters, digits, '_', '.', ':', '/' and '-'"
    )
    assert error(OnnxModel, inputs=(t,), outputs=(t,), max_batch_size=8, preferred_batch_sizes=(4, 16)) == (
        "triton onnx preferred batch size 16 is not allowed: each must be from 1 to max_batch_size 8"
    )
    assert error(OnnxModel, inputs=(t,), outputs=(t,), preferred_batch_sizes=(16, 8)) == (
        "triton onnx preferred batch sizes [16, 8] are not allowed: list distinct sizes in increasing order"
    )
    assert error(OnnxModel, inputs=(t,), outputs=(t,), max_batch_size=0) == (
        "triton onnx dynamic batching needs max_batch_size above 0: set max_batch_size or dynamic_batching=False"
    )
    assert error(OnnxModel, inputs=(t,), outputs=(t,), max_batch_size=-1) == (
        "triton onnx max_batch_size -1 is not allowed: give a whole number from 0 to 4096"
    )
    assert error(OnnxModel, inputs=(t,), outputs=(t,), max_batch_size=True) == (
        "triton onnx max_batch_size True is not allowed: give a whole number from 0 to 4096"
    )
    assert error(OnnxModel, inputs=(t,), outputs=(t,), max_queue_delay_microseconds=-5) == (
        "triton onnx max_queue_delay_microseconds -5 is not allowed: give a whole number from 0 to 1000000"
    )
    assert error(OnnxModel, inputs=(t, t), outputs=(t,)) == ("triton onnx inputs repeat the tensor name(s) x: each name once")
    assert error(OnnxModel, inputs=(), outputs=(t,)) == ("triton onnx model needs one or more inputs (TensorSpec), not ()")
    assert error(OnnxModel, inputs=(t,), outputs=(t,), instance_count=0) == (
        "triton onnx instance_count 0 is not allowed: give a whole number from 1 to 64"
    )
    assert error(OnnxModel, inputs=(t,), outputs=(t,), gpus=-1) == (
        "triton onnx gpus -1 is not allowed: give a whole number from 0 (CPU) to 16"
    )
    assert error(render_model_repository, "m", kind="onnx") == (
        "triton onnx model 'm' needs its tensors and batching (an OnnxModel), not None"
    )


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "my model", "llama:8b", "é"])
def test_model_names_are_validated(name):
    assert error(render_model_repository, name, kind="onnx", onnx=classifier()) == (
        f"triton model name {name!r} is not allowed: use letters, digits, '_', '.' and '-' (not '.' or '..')"
    )


def test_kind_is_validated(fit_8b):
    assert error(render_model_repository, "m", kind="tensorrt", fit=fit_8b) == ("triton model kind 'tensorrt' is not one of: vllm, onnx")


# ---------------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------------


def test_container_command_args_ports(fit_8b):
    spec = triton_container("llama-8b", fit_8b, image=IMAGE)
    assert spec.runtime == "triton" and spec.served_name == "llama-8b" and spec.image == IMAGE
    assert spec.command == ("tritonserver",)
    assert spec.args == (
        "--model-repository=/etc/triton/repository",
        "--model-control-mode=explicit",
        "--load-model=llama-8b",
        "--strict-readiness=true",
        "--exit-on-error=true",
        "--http-port=8000",
        "--grpc-port=8001",
        "--metrics-port=8002",
        "--allow-metrics=true",
        "--allow-gpu-metrics=true",
        "--log-verbose=0",
    )
    assert [(p.name, p.container_port) for p in spec.ports] == [("http", 8000), ("grpc", 8001), ("metrics", 8002)]
    assert spec.http_port == "http" and spec.metrics_port == "metrics" and spec.metrics_path == "/metrics"


def test_container_custom_ports_and_paths(fit_8b):
    spec = triton_container(
        "m",
        fit_8b,
        image=IMAGE,
        api_port=9000,
        grpc_port=9001,
        metrics_port=9002,
        repository_path="/srv/repo",
        weights_dir="/srv/weights",
        model_path="/srv/weights/llama",
    )
    assert "--http-port=9000" in spec.args and "--model-repository=/srv/repo" in spec.args
    assert spec.port("metrics").container_port == 9002
    mounts = {m.name: m.path for m in spec.mounts}
    assert mounts["model"] == "/srv/weights" and mounts["model-repository"] == "/srv/repo"
    repository = dict(next(m for m in spec.mounts if m.name == "model-repository").files)
    assert json.loads(repository["m/1/model.json"])["model"] == "/srv/weights/llama"


def test_probes(fit_8b):
    spec = triton_container("llama-8b", fit_8b, image=IMAGE)
    budget = startup_probe_budget(weight_bytes(fit_8b.model, fit_8b.precision))
    assert spec.startup.check == HttpCheck("/v2/health/live", "http")
    assert spec.startup.budget_seconds == budget.seconds
    assert spec.startup.period_seconds == budget.period_seconds
    assert spec.readiness.check == HttpCheck("/v2/models/llama-8b/ready", "http")
    # A model the vLLM health check unloaded leaves the server live but useless: liveness follows the
    # model's readiness so such a pod restarts.
    assert spec.liveness.check == HttpCheck("/v2/models/llama-8b/ready", "http")
    assert spec.liveness.budget_seconds == 120
    assert spec.weight_bytes == weight_bytes(fit_8b.model, fit_8b.precision)


def test_startup_budget_grows_with_the_weights(fit_8b, fit_70b):
    small = triton_container("m", fit_8b, image=IMAGE)
    big = triton_container("m", fit_70b, image=IMAGE)
    assert big.weight_bytes > 4 * small.weight_bytes
    assert big.startup.budget_seconds > small.startup.budget_seconds
    assert big.startup.budget_seconds == startup_probe_budget(big.weight_bytes).seconds
    assert small.startup.budget_seconds != 120 and big.startup.budget_seconds != 120


def test_tensor_parallel_sets_gpus_and_shm(fit_8b, fit_70b):
    one = triton_container("m", fit_8b, image=IMAGE)
    four = triton_container("m", fit_70b, image=IMAGE)
    assert fit_70b.tensor_parallel_size == 4
    assert one.resources.gpus == 1 and four.resources.gpus == 4
    assert one.resources.gpu_resource == "nvidia.com/gpu"
    shm = {s.name: s for s in four.mounts}["dshm"]
    assert (shm.kind, shm.path, shm.size_limit) == ("shm", "/dev/shm", "5Gi")
    assert {s.name: s for s in one.mounts}["dshm"].size_limit == "2Gi"
    # g6e.xlarge has 4 vCPUs: half of them; p4de.24xlarge: 4 per GPU.
    assert (one.resources.cpu_request, four.resources.cpu_request) == ("2", "16")
    assert (one.resources.memory_request, one.resources.memory_limit) == ("10Gi", "16Gi")
    assert (four.resources.memory_request, four.resources.memory_limit) == ("28Gi", "37Gi")
    # Memory-backed /dev/shm counts against the limit, so the limit covers it.
    over = triton_container("m", fit_8b, image=IMAGE, cpu_request="3", memory_request="12Gi", memory_limit="20Gi")
    assert (over.resources.cpu_request, over.resources.memory_request, over.resources.memory_limit) == ("3", "12Gi", "20Gi")


def test_mounts_env_and_read_only_root(fit_8b):
    spec = triton_container("m", fit_8b, image=IMAGE)
    mounts = {m.name: (m.path, m.kind, m.read_only, m.size_limit) for m in spec.mounts}
    assert mounts == {
        "model-repository": ("/etc/triton/repository", "config", True, None),
        "model": ("/models", "model", True, None),
        "tmp": ("/tmp", "scratch", False, "10Gi"),
        "dshm": ("/dev/shm", "shm", False, "2Gi"),
    }
    env = {e.name: e.value for e in spec.env}
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["HOME"] == "/tmp"
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    assert all(e.secret_name is None for e in spec.env)
    assert spec.read_only_root is True
    assert "/tmp" in cast(str, spec.read_only_root_note) and "/dev/shm" in cast(str, spec.read_only_root_note)
    assert spec.run_as_user == 1000


def test_vllm_metric_names(fit_8b):
    metrics = triton_container("m", fit_8b, image=IMAGE).metrics
    assert metrics.requests_waiting == "nv_inference_pending_request_count"
    assert metrics.requests_running == "nv_inference_exec_count"
    assert metrics.queue_duration == "nv_inference_queue_duration_us"
    assert metrics.compute_duration == "nv_inference_compute_infer_duration_us"
    assert metrics.time_to_first_token == "vllm:time_to_first_token_seconds"
    assert metrics.inter_token_latency == "vllm:time_per_output_token_seconds"
    assert metrics.e2e_latency == "vllm:e2e_request_latency_seconds"
    assert metrics.generation_tokens == "vllm:generation_tokens_total"
    assert metrics.kv_cache_usage is None and metrics.preemptions is None
    assert metrics.model_label == "model"
    # No Triton counter or summary stands in for a histogram.
    assert not any(n.endswith("_summary_us") or n == "nv_inference_request_duration_us" for n in metrics.all())


def test_metric_names_without_vllm_metrics_or_for_onnx(fit_8b):
    for metrics in (
        triton_container("m", fit_8b, image=IMAGE, report_vllm_metrics=False).metrics,
        triton_metrics("onnx"),
    ):
        assert metrics.time_to_first_token is None and metrics.inter_token_latency is None
        assert metrics.e2e_latency is None and metrics.prompt_tokens is None
        assert metrics.all() == (
            "nv_inference_pending_request_count",
            "nv_inference_exec_count",
            "nv_inference_queue_duration_us",
            "nv_inference_compute_infer_duration_us",
        )


def test_onnx_container():
    model = classifier(instance_count=2)
    spec = triton_container("intent", None, image=IMAGE, kind="onnx", onnx=model, weight_bytes_total=268_000_000)
    assert spec.resources.gpus == 1
    assert "--load-model=intent" in spec.args and "--allow-gpu-metrics=true" in spec.args
    assert spec.startup.budget_seconds == startup_probe_budget(268_000_000).seconds
    assert cast(HttpCheck, spec.readiness.check).path == "/v2/models/intent/ready"
    assert [m.name for m in spec.mounts] == ["model-repository", "tmp", "dshm"]
    assert "HF_HUB_OFFLINE" not in {e.name for e in spec.env}
    assert (spec.resources.cpu_request, spec.resources.memory_request) == ("2", "2Gi")
    cpu = triton_container("intent", None, image=IMAGE, kind="onnx", onnx=classifier(gpus=0), weight_bytes_total=1000)
    assert cpu.resources.gpus == 0
    assert "--allow-gpu-metrics=false" in cpu.args
    assert error(triton_container, "intent", None, image=IMAGE, kind="onnx", onnx=model) == (
        "triton onnx model 'intent' needs weight_bytes_total, the size of model.onnx in bytes, not None"
    )


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            "nvcr.io/nvidia/tritonserver:25.01-vllm-python-py3",
            "triton image 'nvcr.io/nvidia/tritonserver:25.01-vllm-python-py3' is not pinned: give repository:tag@sha256:<64 hex digits>",
        ),
        ("tritonserver@sha256:abc", "triton image 'tritonserver@sha256:abc' is not pinned: give repository:tag@sha256:<64 hex digits>"),
        (
            "nvcr.io/nvidia/tritonserver:latest@sha256:" + "a" * 64,
            f"triton image 'nvcr.io/nvidia/tritonserver:latest@sha256:{'a' * 64}' uses the tag 'latest': pin a version tag and its digest",
        ),
    ],
)
def test_image_must_be_pinned(fit_8b, image, message):
    assert error(triton_container, "m", fit_8b, image=image) == message


def test_pinned_images_pass():
    assert check_image(IMAGE) == IMAGE
    # A registry with a port, no tag: the digest pins it.
    digest_only = "registry.local:5000/triton@sha256:" + "b" * 64
    assert check_image(digest_only) == digest_only


def test_container_validation_messages(fit_8b):
    assert error(triton_container, "m", fit_8b, image=IMAGE, api_port=8000, grpc_port=8000) == (
        "triton ports http 8000, grpc 8000, metrics 8002 are not allowed: give three different whole numbers from 1 to 65535"
    )
    assert error(triton_container, "m", fit_8b, image=IMAGE, metrics_port=70000) == (
        "triton ports http 8000, grpc 8001, metrics 70000 are not allowed: give three different whole numbers from 1 to 65535"
    )
    assert error(triton_container, "m", fit_8b, image=IMAGE, repository_path="models") == (
        "triton repository path 'models' is not allowed: give an absolute path without '..', spaces or a trailing '/'"
    )
    assert error(triton_container, "m", fit_8b, image=IMAGE, model_path="/models/../etc") == (
        "triton model path '/models/../etc' is not allowed: give an absolute path without '..', spaces or a trailing '/'"
    )
    assert error(triton_container, "m", fit_8b, image=IMAGE, model_path="/data/llama") == (
        "triton model path '/data/llama' is not allowed: it must be the weights dir '/models' or a directory in it"
    )
    assert error(triton_container, "m", fit_8b, image=IMAGE, repository_path="/models/repository") == (
        "triton repository path '/models/repository' and weights dir '/models' are not allowed: give two "
        "separate directories, neither inside the other"
    )
    assert error(triton_container, "bad name", fit_8b, image=IMAGE).startswith("triton model name 'bad name'")


def test_notes_say_what_the_platform_must_provide(fit_8b):
    notes = triton_container("llama-8b", fit_8b, image=IMAGE).notes
    assert any("rendered into a config mount at /etc/triton/repository" in n for n in notes)
    assert any("/v2/models/llama-8b/generate" in n for n in notes)
    assert any("nv_inference_exec_count is a counter" in n for n in notes)
