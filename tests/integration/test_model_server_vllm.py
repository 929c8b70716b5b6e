"""The rendered ModelServer, run for real: a vLLM CPU server started with the manifest's own command.

A stack file serving a tiny custom model is planned offline; the Deployment manifest's command, args,
env and readiness probe are taken as rendered. The only changes are the ones a laptop needs: the
weights path points at a tiny model this test builds, GPU-only flags go through the same filter the
renderer exports (`runtimes.vllm.cpu_replay`), the bind address and port are loopback and free, and
the /cache scratch volume is a temp directory. Then the server must answer like the cluster expects:
readiness only once the model serves, the served name, completions, streaming, the API key, and every
metric the autoscaler, the alert rules and the dashboards query.
"""

from __future__ import annotations

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm.kubernetes.observability_rules import EXTERNAL_METRICS, metrics_referenced, promql_metric_names  # noqa: E402
from pulumi_llm.runtimes.vllm import SERVE_COMMAND, flag_name  # noqa: E402
from support import rendered_vllm  # noqa: E402
from support.vllm_env import ensure_vllm_env  # noqa: E402
from support.vllm_server import LAUNCHER_MODULE, VllmServer, VllmServerError, launcher_args  # noqa: E402

pytestmark = pytest.mark.integration

SERVED = "tiny"
API_KEY = "integration-test-key"  # a test value, created here; never a real credential
STACK = rendered_vllm.tiny_stack(
    config="  pulumi-llm:serving:\n    replicas: {min: 1, max: 2}\n", model="      api_key_secret: tiny-api-key\n"
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return rendered_vllm.plan_manifests(STACK, tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def server_container(rendered: dict[str, dict]) -> dict:
    return rendered_vllm.server_container(rendered, SERVED)


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    return ensure_vllm_env()


@pytest.fixture(scope="module")
def tiny_model(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered_vllm.tiny_model(vllm_python, tmp_path_factory.mktemp("tiny"))


def replayed_env(container: dict, cache: Path) -> dict[str, str]:
    """The rendered env (rendered_vllm.replayed_env); its one variable from a Secret is the API key."""
    from_secrets = {var["name"]: var["valueFrom"]["secretKeyRef"] for var in container["env"] if "value" not in var}
    assert all(ref == {"name": "tiny-api-key", "key": "api-key"} for ref in from_secrets.values())
    return rendered_vllm.replayed_env(container, cache, dict.fromkeys(from_secrets, API_KEY))


def readiness(container: dict, port: int, env: dict[str, str]) -> int:
    """Run the manifest's readiness exec probe against the test server; its exit code."""
    command = list(container["readinessProbe"]["exec"]["command"])
    command[-1] = command[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    python = sys.executable if command[0] == "python3" else command[0]
    return subprocess.run([python, *command[1:]], env={**os.environ, **env}, capture_output=True, timeout=30).returncode


@pytest.fixture(scope="module")
def server(server_container: dict, vllm_python: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    cache = tmp_path_factory.mktemp("cache")
    env = replayed_env(server_container, cache)
    srv = VllmServer.from_serve(
        vllm_python,
        rendered_vllm.replayed_serve(server_container, tiny_model),
        env=env,
        log_path=tmp_path_factory.mktemp("log") / "vllm.log",
    )
    before = readiness(server_container, srv.port, env)
    started = time.monotonic()
    with srv:
        print(
            f"\n[model-server] vLLM /health after {srv.seconds_to_health:.1f} s, /v1/models after "
            f"{srv.seconds_to_models:.1f} s ({time.monotonic() - started:.1f} s wall)",
            file=sys.stderr,
        )
        yield {"srv": srv, "env": env, "readiness_before": before}


def request(srv: VllmServer, path: str, body: dict | None = None, key: str | None = API_KEY, timeout: float = 120):
    req = urllib.request.Request(srv.url + path, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - loopback


def test_manifest_runs_vllm_serve_with_the_model_first(server_container: dict) -> None:
    # Finding 11: `python -m vllm.entrypoints.openai.api_server` warns that it may be removed.
    assert server_container["command"] == list(SERVE_COMMAND) == ["vllm", "serve"]
    assert server_container["args"][0] == "/models/tiny"
    assert not any(flag_name(a) == "--model" for a in server_container["args"])
    assert f"--served-model-name={SERVED}" in server_container["args"]
    assert "--max-model-len=256" in server_container["args"]


def test_the_server_runs_the_rendered_command(server: dict, server_container: dict, tiny_model: Path) -> None:
    srv = server["srv"]
    assert srv.serve[:3] == ["vllm", "serve", str(tiny_model)]
    # Only the model moves (positional → --model=) for the CPU build's launcher; every other rendered
    # token reaches the process unchanged and in order, then the loopback bind.
    assert srv.command[1:4] == ["-m", LAUNCHER_MODULE, f"--model={tiny_model}"]
    assert srv.command[4:-4] == srv.serve[3:]
    assert srv.command[-4:] == ["--host", "127.0.0.1", "--port", str(srv.port)]


def test_only_a_vllm_serve_command_with_a_model_is_translated() -> None:
    assert launcher_args(["vllm", "serve", "/m", "--dtype=float32"]) == ["--model=/m", "--dtype=float32"]
    for wrong in (["python3", "-m", "x", "/m"], ["vllm", "serve", "--dtype=float32"], ["vllm", "serve"]):
        with pytest.raises(VllmServerError):
            launcher_args(wrong)


def test_startup_probe_path_answers(server: dict, server_container: dict) -> None:
    probe = server_container["startupProbe"]["httpGet"]
    assert probe["port"] == "http"
    assert request(server["srv"], probe["path"], key=None).status == 200


def test_readiness_passes_only_once_the_model_serves(server: dict, server_container: dict) -> None:
    srv, env = server["srv"], server["env"]
    assert server["readiness_before"] != 0  # nothing listening yet: not ready
    assert readiness(server_container, srv.port, env) == 0
    # It checks the served name, not just that something answers …
    wrong = dict(
        server_container,
        readinessProbe={
            "exec": {
                "command": [
                    *server_container["readinessProbe"]["exec"]["command"][:-1],
                    server_container["readinessProbe"]["exec"]["command"][-1].replace(f"'{SERVED}'", "'other'"),
                ]
            }
        },
    )
    assert readiness(wrong, srv.port, env) != 0
    # … and it authenticates with the key from the environment, as the pod's Secret provides it.
    assert readiness(server_container, srv.port, {**env, "VLLM_API_KEY": "wrong"}) != 0


def test_models_lists_the_served_name(server: dict) -> None:
    data = json.load(request(server["srv"], "/v1/models"))
    assert [m["id"] for m in data["data"]] == [SERVED]


def test_requests_without_the_key_are_refused(server: dict) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        request(server["srv"], "/v1/models", key=None)
    assert caught.value.code == 401


def test_completion(server: dict) -> None:
    data = json.load(
        request(server["srv"], "/v1/completions", {"model": SERVED, "prompt": "the cluster", "max_tokens": 8, "temperature": 0})
    )
    assert data["model"] == SERVED and data["choices"][0]["text"]
    assert data["usage"]["completion_tokens"] > 0


def test_streamed_chat_completion(server: dict) -> None:
    body = {
        "model": SERVED,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 12,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
    }
    with request(server["srv"], "/v1/chat/completions", body) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in resp.read().decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) >= 3
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def exposed_metrics(srv: VllmServer) -> set[str]:
    text = urllib.request.urlopen(srv.url + "/metrics", timeout=30).read().decode()  # noqa: S310
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)", text, re.M)}


def present(name: str, exposed: set[str]) -> bool:
    return name in exposed or f"{name}_bucket" in exposed or f"{name}_total" in exposed


def test_every_metric_the_autoscaler_alerts_and_dashboards_use_is_exposed(server: dict, rendered: dict[str, dict]) -> None:
    request(server["srv"], "/v1/completions", {"model": SERVED, "prompt": "metrics", "max_tokens": 4})
    exposed = exposed_metrics(server["srv"])
    used: set[str] = set()
    for trigger in rendered["scaledobject-llm-tiny"]["spec"]["triggers"]:
        used |= promql_metric_names(trigger["metadata"]["query"])
    used |= metrics_referenced(rendered["prometheusrule-llm-llm-alerts"]["spec"])
    [board] = rendered["configmap-llm-llm-dashboards"]["data"].values()
    used |= metrics_referenced(json.loads(board))
    ours = {m for m in used if m not in EXTERNAL_METRICS}
    assert {"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds"} <= ours
    missing = sorted(m for m in ours if not present(m, exposed))
    assert missing == [], f"queried but not exposed by vLLM: {missing}"
