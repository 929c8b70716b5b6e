"""The real vLLM router (the pinned ``vllm-router`` wheel) in front of two real vLLM CPU servers.

The router runs as the cluster pods run it: ``python -c router_render.LAUNCHER`` with the flags
``router_render.router_args`` renders for the stack's default options (cache_aware) and for the other policies,
with the replicas given as static URLs (outside Kubernetes there are no pods to discover; the Kubernetes flags are
checked against the router's own parser below). Two vLLM CPU servers serve the tiny offline model with prefix
caching on. The tests assert that requests through the router reach both servers (each server's own request
counter rises), that the router answers ready and exposes its metrics, that the discovery flags the Deployment
renders are what the pinned router parses, and that the default cache_aware routes by prefix (the router's own
decision counter) with the servers run as the stack runs a vLLM model behind it: with the extra args
runtimes/vllm.py decide_scale_out gives them (--enable-scale-out). Nothing is skipped: a
failed install or start-up fails the tests.
"""

from __future__ import annotations

import json
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
    from support.router_env import ensure_router_env
    from support.vllm_env import ensure_vllm_env
    from support.vllm_server import VllmServer, free_port
except ImportError:  # collected under another rootdir layout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from support.router_env import ensure_router_env
    from support.vllm_env import ensure_vllm_env
    from support.vllm_server import VllmServer, free_port

from pulumi_llm.kubernetes import router_render as rr
from pulumi_llm.runtimes.vllm import METRICS, decide_scale_out

pytestmark = pytest.mark.integration

SUPPORT = Path(__file__).resolve().parent / "support"
MODEL = "tiny"
# The servers' extra args are what the stack gives a vLLM model behind the default router (decide_scale_out:
# --enable-scale-out, the render routes cache_aware asks for token ids; without them every decision is
# missing_tokens), so the cache_aware test below proves the render, not a flag written here by hand.
SCALE_OUT_ARGS = decide_scale_out("vllm", rr.RouterOptions().policy, ())
SERVER_ARGS = [
    "--served-model-name",
    MODEL,
    "--dtype",
    "float32",
    "--max-model-len",
    "256",
    "--enable-prefix-caching",
    *SCALE_OUT_ARGS,
]
SUCCESS = "vllm:request_success_total"
# MetricNames fields are optional per runtime; vLLM declares both (runtimes/vllm.py METRICS).
PREFIX_QUERIES = METRICS.prefix_cache_queries or "vllm:prefix_cache_queries_total"
PREFIX_HITS = METRICS.prefix_cache_hits or "vllm:prefix_cache_hits_total"


def _get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _counter(url: str, name: str) -> float:
    """Sum of a counter's samples on a server's /metrics."""
    _, text = _get(url + "/metrics")
    return sum(float(m.group(1)) for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M))


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    return ensure_vllm_env()


@pytest.fixture(scope="module")
def tiny_model(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("tiny-model")
    proc = subprocess.run(
        [str(vllm_python), str(SUPPORT / "tiny_model.py"), str(dest)], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"tiny_model.py failed:\n{proc.stdout}\n{proc.stderr}"
    return dest


@pytest.fixture(scope="module")
def servers(vllm_python: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[VllmServer]]:
    logs = tmp_path_factory.mktemp("vllm-logs")
    args = ["--model", str(tiny_model), *SERVER_ARGS]
    with (
        VllmServer(vllm_python, args, log_path=logs / "a.log") as a,
        VllmServer(vllm_python, args, log_path=logs / "b.log") as b,
    ):
        yield [a, b]


@pytest.fixture(scope="module")
def router_python() -> Path:
    return ensure_router_env(rr.requirements_text())


def _start(python: Path, options: rr.RouterOptions, servers: list[VllmServer], log: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """The router with the rendered flags for `options`, the two servers as its replicas; ready (a healthy replica)."""
    port, metrics_port = free_port(), free_port()
    args = rr.router_args(
        options,
        rr.StaticWorkers(tuple(s.url for s in servers)),
        host="127.0.0.1",
        port=port,
        metrics_host="127.0.0.1",
        metrics_port=metrics_port,
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(python), "-c", rr.LAUNCHER, *args], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not _ready(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"router exited or not ready ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return proc, {"url": url, "metrics": f"http://127.0.0.1:{metrics_port}", "log": str(log)}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def round_robin(router_python: Path, servers: list[VllmServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    proc, router = _start(router_python, rr.RouterOptions(policy="round_robin"), servers, tmp_path_factory.mktemp("rr") / "router.log")
    yield router
    _stop(proc)


@pytest.fixture(scope="module")
def power_of_two(router_python: Path, servers: list[VllmServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """power_of_two, selectable but not the default."""
    proc, router = _start(router_python, rr.RouterOptions(policy="power_of_two"), servers, tmp_path_factory.mktemp("p2") / "router.log")
    yield router
    _stop(proc)


@pytest.fixture(scope="module")
def default(router_python: Path, servers: list[VllmServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The stack's default options (cache_aware), in front of servers with the args the stack gives them."""
    assert rr.RouterOptions().policy == "cache_aware" and SCALE_OUT_ARGS == ("--enable-scale-out",)
    proc, router = _start(router_python, rr.RouterOptions(), servers, tmp_path_factory.mktemp("default") / "router.log")
    yield router
    _stop(proc)


def _ready(url: str) -> bool:
    """/readiness answers 200 once the router has a healthy replica (503 before; nothing while it starts)."""
    try:
        return _get(url + "/readiness", timeout=2)[0] == 200
    except OSError:
        return False


def _complete(url: str, prompt: str) -> dict[str, object]:
    body = json.dumps({"model": MODEL, "prompt": prompt, "max_tokens": 4, "temperature": 0}).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback only
        assert resp.status == 200
        return json.loads(resp.read())


def _served(servers: list[VllmServer]) -> list[float]:
    return [_counter(s.url, SUCCESS) for s in servers]


def test_router_routes_to_both_replicas(round_robin: dict[str, str], servers: list[VllmServer]) -> None:
    before = _served(servers)
    prompts = [f"prompt {i}: " + " ".join(["hello world cloud region"] * (i + 1)) for i in range(6)]
    for prompt in prompts:
        assert _complete(round_robin["url"], prompt)["model"] == MODEL
    grew = [round(b - a) for a, b in zip(before, _served(servers), strict=True)]
    assert grew == [3, 3], f"requests per server {grew} ({round_robin['log']})"
    assert _counter(servers[0].url, PREFIX_QUERIES) > 0  # prefix caching is on


def _decisions(metrics_url: str) -> dict[str, float]:
    """The router's own count of its cache_aware decisions by outcome (prefix_hit, prefix_miss, load_imbalance,
    missing_tokens: vllm_router_prefix_routing_decisions_total)."""
    _, text = _get(metrics_url + "/metrics")
    out: dict[str, float] = {}
    for m in re.finditer(r'^vllm_router_prefix_routing_decisions_total\{[^}]*outcome="([^"]+)"[^}]*\} ([0-9.e+-]+)$', text, re.M):
        out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
    return out


def test_default_cache_aware_keeps_a_conversation_on_the_replica_that_holds_its_prefix(
    default: dict[str, str], servers: list[VllmServer]
) -> None:
    """Turns of one conversation (each resending the growing history) all land on one replica, by prefix: the
    router's own count shows prefix_hit decisions and no missing_tokens (what 0.1.17 counts when the replicas
    run without --enable-scale-out), and the chosen replica's prefix-cache hit counter rises."""
    cache_aware = default
    before = _served(servers)
    decided = _decisions(cache_aware["metrics"])
    hits_before = [_counter(s.url, PREFIX_HITS) for s in servers]
    history = "system: " + " ".join(["deploy stack config value error retry limit rate quota"] * 12)
    for turn in range(4):
        history += f"\nuser: question {turn} about the cluster\nassistant:"
        _complete(cache_aware["url"], history)
        history += " answer"
    grew = [round(b - a) for a, b in zip(before, _served(servers), strict=True)]
    assert sorted(grew) == [0, 4], f"turns per server {grew} ({cache_aware['log']})"
    outcomes = {k: v - decided.get(k, 0.0) for k, v in _decisions(cache_aware["metrics"]).items() if v > decided.get(k, 0.0)}
    assert outcomes.get("prefix_hit", 0) >= 3 and "missing_tokens" not in outcomes, f"cache_aware decisions {outcomes}"
    chosen = grew.index(4)
    assert _counter(servers[chosen].url, PREFIX_HITS) > hits_before[chosen]


def test_power_of_two_reaches_both_replicas(power_of_two: dict[str, str], servers: list[VllmServer]) -> None:
    """power_of_two spreads sequential requests over both replicas (each of 16 picks is random between two
    equally loaded replicas: all on one has probability 2/65536)."""
    before = _served(servers)
    for i in range(16):
        assert _complete(power_of_two["url"], f"request {i}: hello world cloud region")["model"] == MODEL
    grew = [round(b - a) for a, b in zip(before, _served(servers), strict=True)]
    assert sum(grew) == 16 and min(grew) > 0, f"requests per server {grew} ({power_of_two['log']})"


def test_router_is_ready_and_exposes_its_metrics(default: dict[str, str]) -> None:
    status, _ = _get(default["url"] + "/readiness")
    assert status == 200
    assert _get(default["url"] + "/liveness")[0] == 200
    status, text = _get(default["metrics"] + "/metrics")
    assert status == 200
    assert re.search(r"^vllm_router_active_workers 2$", text, re.M), text[:2000]
    # The families the dashboard panels read (kubernetes/router.py ROUTER_PANELS) exist once traffic flowed.
    for family in ("vllm_router_requests_total", "vllm_router_generate_duration_seconds_bucket", "vllm_router_processed_requests_total"):
        assert family in text, f"{family} missing from the router's /metrics"


def test_pinned_router_parses_the_kubernetes_flags(router_python: Path) -> None:
    """The Deployment's discovery flags, as the pinned router's own parser reads them (no cluster needed)."""
    workers = rr.KubernetesWorkers(
        selector={"app.kubernetes.io/name": "chat", "app.kubernetes.io/component": "model-server"}, namespace="llm", port=8000
    )
    _, container = rr.containers(rr.RouterOptions(), workers, "image")
    assert container["command"][:2] == ["python", "-c"]
    parse = rr.LAUNCHER.split("args._validate_router_args()")[0] + (
        "import json; print(json.dumps({k: getattr(args, k) for k in "
        "('policy', 'service_discovery', 'selector', 'service_discovery_namespace', 'service_discovery_port', "
        "'prometheus_host', 'prometheus_port', 'host', 'port', 'request_timeout_secs', 'max_tree_size')}))"
    )
    out = subprocess.run([str(router_python), "-c", parse, *container["args"]], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    parsed = json.loads(out.stdout)
    assert parsed == {
        "policy": "cache_aware",
        "service_discovery": True,
        "selector": {"app.kubernetes.io/name": "chat", "app.kubernetes.io/component": "model-server"},
        "service_discovery_namespace": "llm",
        "service_discovery_port": 8000,
        "prometheus_host": "0.0.0.0",
        "prometheus_port": rr.METRICS_PORT,
        "host": "0.0.0.0",
        "port": rr.HTTP_PORT,
        "request_timeout_secs": 3600,
        "max_tree_size": 4_194_304,
    }
