"""The edge ONNX Runtime GenAI server (images/edge-onnx/server.py) run for real on a tiny int4 model.

The chain runs offline:

1. a tiny Llama is generated (`support/tiny_model.py`) in the ONNX env (`support/onnx_env.py`: the image's
   hash-pinned runtime packages plus the model builder's torch/transformers/onnx);
2. the ONNX Runtime GenAI model builder converts it to int4 for CPU (`-p int4 -e cpu`), as a user would;
3. server.py is started on 127.0.0.1 with the image's environment variables (the model directory is what
   the image mounts at /models), and /health, /v1/models and /v1/chat/completions are checked live,
   including the image's HEALTHCHECK command.

The image contract (base pinned as in pins.py, hash-checked wheels, non-root, HEALTHCHECK, no weights baked
in) is checked on the Dockerfile itself; hadolint and checkov run on it in tests/ci/.
"""

from __future__ import annotations

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
from pathlib import Path

import pytest

try:
    from support.onnx_env import GENAI_VERSION, ensure_onnx_env
except ImportError:  # collected under another rootdir layout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from support.onnx_env import GENAI_VERSION, ensure_onnx_env

from pulumi_llm import pins

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = Path(__file__).resolve().parent / "support"
IMAGE_DIR = ROOT / "images" / "edge-onnx"
SERVED = "tiny-onnx"


def log(msg: str) -> None:
    print(f"\n[onnx] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(
    url: str, *, key: str | None = None, body: dict | None = None, raw: bytes | None = None, timeout: float = 60
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def sse_events(body: bytes) -> list[str]:
    """The `data:` payloads of a server-sent event stream, in order."""
    events = []
    for block in body.decode().split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            events.append(block[len("data: ") :])
    return events


# ---------------------------------------------------------------- the image contract (no Docker here)


def test_the_image_is_pinned_hash_checked_non_root_healthchecked_and_carries_no_weights() -> None:
    text = (IMAGE_DIR / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.M)
    assert bases == [(pins.PYTHON_SLIM.ref, "wheels"), (pins.PYTHON_SLIM.ref, "runtime")]
    assert re.search(r"pip install [^\n]*--require-hashes --only-binary=:all:", text)
    final = text.split("AS runtime", 1)[1]
    assert "USER 1000:1000" in final
    assert 'CMD ["/opt/venv/bin/python", "/app/server.py", "--healthcheck"]' in final
    assert re.search(r"ONNX_MODEL_DIR=/models\b", final) and "ONNX_HOST=0.0.0.0" in final
    copied = re.findall(r"^COPY\s+(.*)$", text, re.M)
    assert copied == [
        "requirements.txt /tmp/requirements.txt",
        "--from=wheels /opt/venv /opt/venv",
        "--chown=0:0 --chmod=0444 server.py /app/server.py",
    ]


def test_requirements_are_the_locked_pins_each_with_hashes() -> None:
    def pinned(path: Path) -> list[str]:
        return re.findall(r"^([\w.-]+==[\w.+-]+)", path.read_text(), re.M)

    assert pinned(IMAGE_DIR / "requirements.in") == pinned(IMAGE_DIR / "requirements.txt")
    assert f"onnxruntime-genai=={GENAI_VERSION}" in pinned(IMAGE_DIR / "requirements.txt")
    entries = re.split(r"\n(?=[\w.-]+==)", (IMAGE_DIR / "requirements.txt").read_text())[1:]
    assert len(entries) == len(pinned(IMAGE_DIR / "requirements.in")) >= 6
    for entry in entries:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry


# ---------------------------------------------------------------- the live server


@pytest.fixture(scope="session")
def onnx_python() -> Path:
    started = time.monotonic()
    python = ensure_onnx_env()
    log(f"onnx env ready in {time.monotonic() - started:.1f} s: {python}")
    return python


@pytest.fixture(scope="session")
def onnx_model(onnx_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("onnx-model")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.monotonic()
    proc = subprocess.run(
        [str(onnx_python), str(SUPPORT / "tiny_model.py"), str(work / "hf")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    made = time.monotonic()
    out = work / "tiny-int4"
    proc = subprocess.run(
        [
            str(onnx_python),
            "-m",
            "onnxruntime_genai.models.builder",
            "-m",
            str(work / "hf"),
            "-i",
            str(work / "hf"),
            "-o",
            str(out),
            "-p",
            "int4",
            "-e",
            "cpu",
            "-c",
            str(work / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    log(f"tiny checkpoint in {made - started:.1f} s, int4 ONNX in {time.monotonic() - made:.1f} s")
    return out


@pytest.fixture(scope="session")
def server(onnx_python: Path, onnx_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    key = secrets.token_urlsafe(24)
    port = free_port()
    # The image's environment, with /models being the builder's output directory.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path_factory.mktemp("home")),
        "ONNX_MODEL_DIR": str(onnx_model),
        "ONNX_MODEL_NAME": SERVED,
        "ONNX_HOST": "127.0.0.1",
        "ONNX_PORT": str(port),
        "ONNX_API_KEY": key,
        "PYTHONUNBUFFERED": "1",
    }
    logfile = tmp_path_factory.mktemp("onnx-log") / "server.log"
    url = f"http://127.0.0.1:{port}"
    with open(logfile, "w") as out:
        proc = subprocess.Popen(
            [str(onnx_python), str(IMAGE_DIR / "server.py")], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = time.monotonic()
    statuses: list[int] = []
    try:
        while time.monotonic() - started < 120:
            if proc.poll() is not None:
                pytest.fail(f"server.py exited {proc.returncode}:\n{logfile.read_text()[-3000:]}")
            status, _ = request(url + "/health", timeout=5)
            statuses.append(status)
            if status == 200:
                break
            time.sleep(0.005)
        else:
            pytest.fail(f"server.py not healthy in 120 s (statuses {set(statuses)}):\n{logfile.read_text()[-3000:]}")
        log(f"server.py on {url}: /health 200 after {time.monotonic() - started:.2f} s ({statuses.count(503)} × 503 before)")
        yield {"url": url, "key": key, "env": env, "log": logfile, "statuses": statuses, "proc": proc, "python": onnx_python}
    finally:
        if proc.poll() is None:
            os.killpg(os.getpgid(proc.pid), signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
                proc.wait(timeout=10)


def chat(server: dict, **overrides) -> tuple[int, bytes]:
    body = {"model": SERVED, "messages": [{"role": "user", "content": "hello world"}], "max_tokens": 8, "temperature": 0, **overrides}
    return request(server["url"] + "/v1/chat/completions", key=server["key"], body=body)


@pytest.mark.integration
def test_the_builder_wrote_an_int4_cpu_model(onnx_python: Path, onnx_model: Path) -> None:
    config = json.loads((onnx_model / "genai_config.json").read_text())
    assert config["model"]["type"] == "llama" and config["model"]["context_length"] == 1024
    assert config["model"]["decoder"]["session_options"]["provider_options"] == []  # the CPU provider
    assert {"model.onnx", "model.onnx.data", "tokenizer.json", "chat_template.jinja"} <= {p.name for p in onnx_model.iterdir()}
    script = (
        "import json, sys, onnx; m = onnx.load(sys.argv[1], load_external_data=False); "
        "print(json.dumps(sorted({n.op_type for n in m.graph.node})))"
    )
    ops = json.loads(
        subprocess.run(
            [str(onnx_python), "-c", script, str(onnx_model / "model.onnx")], capture_output=True, text=True, timeout=120, check=True
        ).stdout
    )
    # int4 weights: every projection is a MatMulNBits, none left as a float MatMul.
    assert "MatMulNBits" in ops and "MatMul" not in ops, ops


@pytest.mark.integration
def test_health_is_503_while_loading_then_200(server: dict) -> None:
    statuses = server["statuses"]
    # Connection refused (0) until it listens, 503 while the model loads, then 200 and nothing else.
    assert statuses[-1] == 200 and 503 in statuses, statuses
    first_503 = statuses.index(503)
    assert set(statuses[first_503:-1]) == {503}, statuses
    assert set(statuses[:first_503]) <= {0}, statuses
    assert request(server["url"] + "/health")[0] == 200
    log_text = server["log"].read_text()
    assert re.search(rf"model {SERVED} loaded from .* \(context 1024, chat template: model's\)", log_text), log_text


@pytest.mark.integration
def test_the_image_healthcheck_command_passes_against_the_live_server(server: dict) -> None:
    proc = subprocess.run(
        [str(server["python"]), str(IMAGE_DIR / "server.py"), "--healthcheck"],
        env=server["env"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    down = {**server["env"], "ONNX_PORT": str(free_port())}
    proc = subprocess.run(
        [str(server["python"]), str(IMAGE_DIR / "server.py"), "--healthcheck"],
        env=down,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 1


@pytest.mark.integration
def test_models_lists_the_served_model_and_the_api_needs_the_key(server: dict) -> None:
    assert request(server["url"] + "/v1/models")[0] == 401
    assert request(server["url"] + "/v1/models", key="wrong-" + server["key"])[0] == 401
    status, body = request(server["url"] + "/v1/models", key=server["key"])
    assert status == 200
    data = json.loads(body)
    assert data["object"] == "list" and [m["id"] for m in data["data"]] == [SERVED]
    assert data["data"][0]["object"] == "model"


@pytest.mark.integration
def test_a_completion_is_openai_shaped_with_usage(server: dict) -> None:
    status, body = chat(server, max_tokens=6)
    assert status == 200, body
    data = json.loads(body)
    assert data["object"] == "chat.completion" and data["model"] == SERVED and data["id"].startswith("chatcmpl-")
    (choice,) = data["choices"]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    usage = data["usage"]
    # The chat template renders "<s><|user|>\nhello world</s>\n<|assistant|>\n": more than the 4 role/bos tokens.
    assert usage["prompt_tokens"] > 4 and 1 <= usage["completion_tokens"] <= 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert choice["finish_reason"] == ("length" if usage["completion_tokens"] == 6 else "stop")
    # Greedy decoding is deterministic.
    assert json.loads(chat(server, max_tokens=6)[1])["choices"][0]["message"] == choice["message"]


@pytest.mark.integration
def test_max_tokens_bounds_the_completion_and_sampling_takes_temperature_and_seed(server: dict) -> None:
    status, body = chat(server, max_tokens=1)
    assert status == 200 and json.loads(body)["usage"]["completion_tokens"] <= 1
    sampled = [json.loads(chat(server, max_tokens=12, temperature=1.5, seed=7)[1]) for _ in range(2)]
    assert sampled[0]["choices"][0]["message"] == sampled[1]["choices"][0]["message"]  # same seed, same text
    assert all(s["usage"]["completion_tokens"] <= 12 for s in sampled)


@pytest.mark.integration
def test_a_streaming_completion_is_server_sent_events_ending_in_done(server: dict) -> None:
    status, body = chat(server, stream=True, max_tokens=8, stream_options={"include_usage": True})
    assert status == 200, body
    events = sse_events(body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) >= 2
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == SERVED for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finals) == 1 and finals[0]["choices"][0]["finish_reason"] in {"stop", "length"}
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == [] and 1 <= usage["completion_tokens"] <= 8
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    # The stream carries the same greedy text as the non-streaming answer.
    whole = json.loads(chat(server, max_tokens=8)[1])
    assert streamed == whole["choices"][0]["message"]["content"]
    assert usage == whole["usage"]


@pytest.mark.integration
def test_bad_requests_get_openai_errors(server: dict) -> None:
    url = server["url"] + "/v1/chat/completions"
    status, body = request(url, key=server["key"], raw=b"{not json")
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error"
    status, body = chat(server, model="gpt-4o")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "model_not_found"
    for bad, param in [
        ({"messages": []}, "messages"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"stop": ["\n"]}, "stop"),
    ]:
        status, body = chat(server, **bad)
        assert status == 400 and json.loads(body)["error"]["param"] == param, (bad, body)
    assert request(server["url"] + "/v1/nothing", key=server["key"])[0] == 404
    # The server keeps serving after all of that.
    assert chat(server)[0] == 200


@pytest.mark.integration
def test_the_log_holds_no_prompt_or_completion_and_sigterm_stops_the_server(server: dict) -> None:
    assert chat(server, messages=[{"role": "user", "content": "secret-marker-4711"}])[0] == 200
    proc = server["proc"]
    os.killpg(os.getpgid(proc.pid), signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    text = server["log"].read_text()
    assert "secret-marker-4711" not in text and server["key"] not in text
    assert re.search(r"POST /v1/chat/completions 200", text) and text.rstrip().endswith("stopped")
