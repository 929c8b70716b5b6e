"""A real llama.cpp `llama-server` run with exactly the environment `llamacpp_container` renders.

The chain runs for real, offline:

1. llama-server and llama-quantize are compiled from the llama.cpp tree vendored in the llama-cpp-python
   sdist (`support/llamacpp_build.py`, cached per machine; the first build takes many minutes);
2. a tiny Llama is generated with a Llama-2-style tokenizer (`support/tiny_gguf_model.py`, in the vLLM venv
   that has torch and transformers);
3. `images/edge-llamacpp/prepare_model.py` converts it to GGUF, quantizes it to Q4_K_M, writes the
   `.sha256` and uploads both to a (recording) S3 client;
4. the container spec is rendered for the tiny model's sizing and turned into the pod's container by the
   Kubernetes renderer; the test starts the binary with that container's env — the only substitutions are
   what a kubelet does: the /models mount becomes the directory holding the GGUF, and the API key comes
   from the "Secret";
5. /health, the OpenAI API, /props (the env took effect), /metrics (every metric name the runtime declares),
   the disabled /slots, and the image's HEALTHCHECK command are checked against the live server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import cast

import pytest

try:
    from support.llamacpp_build import build_info, ensure_llamacpp, source_dir
    from support.vllm_env import ensure_vllm_env
except ImportError:  # collected under another rootdir layout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from support.llamacpp_build import build_info, ensure_llamacpp, source_dir
    from support.vllm_env import ensure_vllm_env

from pulumi_llm import pins
from pulumi_llm.kubernetes import render
from pulumi_llm.runtimes import llamacpp
from pulumi_llm.sizing import Hardware, ModelSpec, cpu_host, fit

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = Path(__file__).resolve().parent / "support"
IMAGE_DIR = ROOT / "images" / "edge-llamacpp"
SERVED = "tiny"
API_KEY_SECRET = "tiny-api-key"


def log(msg: str) -> None:
    print(f"\n[llamacpp] {msg}", file=sys.stderr, flush=True)


def load_prepare_model():
    spec = cast(
        ModuleSpec, importlib.util.spec_from_file_location("prepare_model", IMAGE_DIR / "prepare_model.py")
    )  # a file path always has one
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


class RecordingS3:
    """Stands in for a boto3 S3 client: records what would be uploaded."""

    def __init__(self) -> None:
        self.uploads: list[dict] = []

    def upload_file(self, Filename: str, Bucket: str, Key: str, ExtraArgs: dict | None = None) -> None:  # noqa: N803
        self.uploads.append({"file": Filename, "bucket": Bucket, "key": Key, "extra": ExtraArgs, "bytes": Path(Filename).read_bytes()})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, *, key: str | None = None, body: dict | None = None, timeout: float = 60) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def llama_bin() -> Path:
    started = time.monotonic()
    path = ensure_llamacpp()
    log(f"llama.cpp ready in {time.monotonic() - started:.1f} s: {path} (build record: {build_info()})")
    return path


@pytest.fixture(scope="session")
def hf_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = ensure_vllm_env()
    dest = tmp_path_factory.mktemp("tiny-hf")
    started = time.monotonic()
    proc = subprocess.run(
        [str(python), str(SUPPORT / "tiny_gguf_model.py"), str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log(f"tiny checkpoint in {time.monotonic() - started:.1f} s")
    return dest


@pytest.fixture(scope="session")
def prepared(llama_bin: Path, hf_model: Path, tmp_path_factory: pytest.TempPathFactory):
    prepare_model = load_prepare_model()
    s3 = RecordingS3()
    started = time.monotonic()
    result = prepare_model.prepare(
        hf_model,
        name=SERVED,
        quantization="q4_k_m",
        llama_cpp=source_dir(),
        quantize_bin=llama_bin / "llama-quantize",
        work_dir=tmp_path_factory.mktemp("gguf"),
        python=str(ensure_vllm_env()),
        dest="s3://models-bucket/edge/",
        s3_client=s3,
    )
    log(f"prepared {result.path.name} ({result.bytes:,} bytes) in {time.monotonic() - started:.1f} s: {result.seconds}")
    return result, s3


@pytest.fixture(scope="session")
def container(prepared) -> dict:
    """The pod's container as the Kubernetes renderer writes it, for the tiny model's sizing."""
    result, _ = prepared
    spec = ModelSpec(
        key="tiny-llama",
        total_params_b=0.0016,
        num_layers=2,
        hidden_size=256,
        num_attention_heads=4,
        num_kv_heads=4,
        max_context=1024,
        vocab_size=576,
    )
    sizing = fit(spec, Hardware(cpu_host(4, cores=2), 1), runtime="llamacpp", quantization="q4_k_m")
    image = llamacpp.llamacpp_container(
        SERVED,
        sizing,
        image=pins.LLAMA_CPP_SERVER.ref,
        model_path=f"/models/{result.path.name}",
        port=free_port(),
        api_key_secret=API_KEY_SECRET,
        threads=2,
    )
    return render.container(image)


@pytest.fixture(scope="session")
def server(llama_bin: Path, prepared, container: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    result, _ = prepared
    key = secrets.token_urlsafe(24)
    env: dict[str, str] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for var in container["env"]:
        if "valueFrom" in var:
            ref = var["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (API_KEY_SECRET, "api-key")
            env[var["name"]] = key
        else:
            # The model volume is mounted at /models: here, the directory holding the GGUF.
            env[var["name"]] = var["value"].replace("/models/", f"{result.path.parent}/", 1)
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
    logfile = tmp_path_factory.mktemp("llama-log") / "server.log"
    url = f"http://127.0.0.1:{port}"
    with open(logfile, "w") as out:
        # The container's command, with no arguments: everything comes from the environment.
        argv = [str(llama_bin / Path(container["command"][0]).name), *container["args"]]
        assert container["args"] == []
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    try:
        statuses = []
        while time.monotonic() - started < 120:
            if proc.poll() is not None:
                pytest.fail(f"llama-server exited {proc.returncode}:\n{logfile.read_text()[-3000:]}")
            status, _ = request(url + "/health", timeout=5)
            statuses.append(status)
            if status == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"llama-server not healthy in 120 s (statuses {set(statuses)}):\n{logfile.read_text()[-3000:]}")
        ready = time.monotonic() - started
        log(f"llama-server on {url}: /health 200 after {ready:.2f} s (earlier statuses {sorted(set(statuses) - {200})})")
        yield {"url": url, "key": key, "env": env, "log": logfile, "ready_seconds": ready, "port": port}
    finally:
        with_group = os.getpgid(proc.pid) if proc.poll() is None else None
        if with_group:
            os.killpg(with_group, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(with_group, signal.SIGKILL)
                proc.wait(timeout=10)


# ---------------------------------------------------------------- model preparation


def test_prepare_model_writes_a_quantized_gguf_with_its_checksum_and_uploads_both(prepared) -> None:
    result, s3 = prepared
    assert result.path.name == "tiny-q4_k_m.gguf"
    data = result.path.read_bytes()
    assert data[:4] == b"GGUF" and len(data) == result.bytes
    checksum = result.path.with_name("tiny-q4_k_m.gguf.sha256").read_text()
    assert checksum == f"{result.sha256}  tiny-q4_k_m.gguf\n"
    assert [(u["bucket"], u["key"]) for u in s3.uploads] == [
        ("models-bucket", "edge/tiny-q4_k_m.gguf"),
        ("models-bucket", "edge/tiny-q4_k_m.gguf.sha256"),
    ]
    assert all(u["extra"] == {"ChecksumAlgorithm": "SHA256"} for u in s3.uploads)
    assert s3.uploads[0]["bytes"] == data
    assert result.uploaded == ["s3://models-bucket/edge/tiny-q4_k_m.gguf", "s3://models-bucket/edge/tiny-q4_k_m.gguf.sha256"]
    assert set(result.seconds) == {"convert", "quantize", "sha256", "upload"}


def test_the_quantized_file_is_q4_k_m_and_smaller_than_f16(prepared, hf_model: Path, tmp_path: Path) -> None:
    result, _ = prepared
    prepare_model = load_prepare_model()
    f16 = prepare_model.prepare(
        hf_model,
        name=SERVED,
        quantization="f16",
        llama_cpp=source_dir(),
        quantize_bin=None,
        work_dir=tmp_path,
        python=str(ensure_vllm_env()),
    )
    assert f16.path.name == "tiny-f16.gguf" and "quantize" not in f16.seconds
    assert result.bytes < f16.bytes
    # GGUF general.file_type 15 = MOSTLY_Q4_K_M (llama.cpp's llama_ftype), read with the converter's own gguf-py.
    sys.path.insert(0, str(source_dir() / "gguf-py"))
    try:
        import gguf  # pyright: ignore[reportMissingImports]  (the llama.cpp checkout's gguf-py, on sys.path just above)
    finally:
        sys.path.pop(0)
    reader = gguf.GGUFReader(result.path)
    field = reader.fields["general.file_type"]
    assert int(field.parts[field.data[0]][0]) == gguf.LlamaFileType.MOSTLY_Q4_K_M


# ---------------------------------------------------------------- the server


def test_every_rendered_variable_is_one_the_server_reads(llama_bin: Path, container: dict) -> None:
    help_text = subprocess.run([str(llama_bin / "llama-server"), "--help"], capture_output=True, text=True, timeout=60)
    known = set(re.findall(r"\b(LLAMA_(?:ARG_)?[A-Z0-9_]+)\b", help_text.stdout + help_text.stderr))
    rendered = {v["name"] for v in container["env"]} - {"HOME"}
    assert rendered - known == set(), f"not read by llama-server: {sorted(rendered - known)}"


def test_health_is_public_and_the_api_needs_the_key(server: dict) -> None:
    assert request(server["url"] + "/health")[0] == 200
    assert request(server["url"] + "/v1/models")[0] == 401
    status, body = request(server["url"] + "/v1/models", key=server["key"])
    assert status == 200
    assert SERVED in [m["id"] for m in json.loads(body)["data"]]


def test_openai_completions_answer(server: dict) -> None:
    started = time.monotonic()
    status, body = request(
        server["url"] + "/v1/completions",
        key=server["key"],
        body={"model": SERVED, "prompt": "the model serves", "max_tokens": 8, "temperature": 0, "ignore_eos": True},
    )
    took = time.monotonic() - started
    assert status == 200, body[:500]
    answer = json.loads(body)
    assert answer["object"] == "text_completion" and answer["model"] == SERVED
    assert isinstance(answer["choices"][0]["text"], str)
    assert answer["usage"]["completion_tokens"] == 8 and answer["usage"]["prompt_tokens"] >= 1
    log(f"/v1/completions (8 tokens) in {took * 1000:.0f} ms")


def test_openai_chat_completions_answer(server: dict) -> None:
    status, body = request(
        server["url"] + "/v1/chat/completions",
        key=server["key"],
        body={"model": SERVED, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4, "ignore_eos": True},
    )
    assert status == 200, body[:500]
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["completion_tokens"] == 4


def test_the_rendered_sizing_took_effect(server: dict) -> None:
    status, body = request(server["url"] + "/props", key=server["key"])
    assert status == 200
    props = json.loads(body)
    env = server["env"]
    assert props["total_slots"] == int(env["LLAMA_ARG_N_PARALLEL"])
    assert props["default_generation_settings"]["n_ctx"] * props["total_slots"] == int(env["LLAMA_ARG_CTX_SIZE"])
    assert Path(props["model_path"]).name == "tiny-q4_k_m.gguf"


def test_metrics_need_the_key_and_carry_every_declared_name(server: dict) -> None:
    request(
        server["url"] + "/v1/completions", key=server["key"], body={"model": SERVED, "prompt": "hello", "max_tokens": 2, "ignore_eos": True}
    )
    assert request(server["url"] + "/metrics")[0] == 401
    status, body = request(server["url"] + "/metrics", key=server["key"])
    assert status == 200
    text = body.decode()
    for name in (*llamacpp.METRICS.all(), *llamacpp.EXTRA_METRICS):
        assert re.search(rf"^{re.escape(name)} ", text, re.M), f"{name} missing from /metrics"
    # Older servers had a KV-cache gauge; this one has none, hence MetricNames.kv_cache_usage = None.
    assert "kv_cache_usage_ratio" not in text and llamacpp.METRICS.kv_cache_usage is None
    # No model label on any series (MetricNames.model_label is empty).
    assert not re.search(r"^llamacpp:\w+\{[^}]*model", text, re.M)
    predicted = float(cast(re.Match[str], re.search(r"^llamacpp:tokens_predicted_total (\S+)", text, re.M))[1])
    assert predicted >= 2


def test_slots_are_not_exposed(server: dict) -> None:
    # /slots shows prompt text: the rendered env turns it off.
    assert request(server["url"] + "/slots", key=server["key"])[0] in (404, 501)


def test_the_image_healthcheck_command_passes_against_the_server(server: dict) -> None:
    dockerfile = (IMAGE_DIR / "Dockerfile").read_text()
    match = re.search(r'HEALTHCHECK [^\n]*\\\n\s*CMD \["/bin/sh", "-c", "([^"]+)"\]', dockerfile)
    assert match, "HEALTHCHECK not found"
    command = match[1]
    ok = subprocess.run(
        ["/bin/sh", "-c", command], env={**os.environ, "LLAMA_ARG_PORT": str(server["port"])}, capture_output=True, timeout=30
    )
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run(
        ["/bin/sh", "-c", command], env={**os.environ, "LLAMA_ARG_PORT": str(free_port())}, capture_output=True, timeout=30
    )
    assert down.returncode != 0
