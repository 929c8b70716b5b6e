"""The router of a GPU-VM group: the real vllm-router (the pinned wheel) driven by the reconciler the boot script ships.

Everything comes from the rendered ``#cloud-config`` of a vLLM server with a router (`render_cloud_init(router=...)`):
the router's flags (the ``docker run`` line of ``/usr/local/lib/llm-router/run``, minus Docker), the reconciler
(``router_workers.py`` as written to ``/usr/local/lib/llm-router/workers``), the lister script and the reconciler's
ExecStart. The cloud's lister is replaced by ``cat`` of a file the test rewrites (the group "scaling"); the
workers are two stub OpenAI servers that answer with their own name, one on 127.0.0.1 and one on 127.0.0.2 (two
loopback addresses: every VM's server listens on the same port, and the reconciler builds ``http://<ip>:<port>``).
The router is started on loopback ports; Docker is not needed. No real vLLM: this proves the worker list follows
the group, not the serving (tests/integration/test_vllm_router.py proves that).
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

try:
    from support.router_env import ensure_router_env
except ImportError:  # collected under another rootdir layout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from support.router_env import ensure_router_env

from pulumi_llm import pins
from pulumi_llm.gpu_vm import router_vm
from pulumi_llm.gpu_vm.cloud_init import MetricsAgent, render_cloud_init
from pulumi_llm.kubernetes import router_render as rr
from pulumi_llm.runtimes import vllm
from pulumi_llm.sizing import fit, get_instance_type

pytestmark = pytest.mark.integration

HOSTS = ("127.0.0.1", "127.0.0.2")
# round_robin: with two healthy workers, consecutive requests alternate, so "reaches both" is exact. The policy
# changes nothing in how the worker list is kept.
OPTIONS = rr.RouterOptions(policy="round_robin", health_check_interval_seconds=1)


def _free_port_on_both() -> int:
    """A port free on every address of HOSTS (each VM's server listens on the same port)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((HOSTS[0], 0))
            port = probe.getsockname()[1]
        try:
            with socket.socket() as other:
                other.bind((HOSTS[1], port))
            return port
        except OSError:
            continue
    raise AssertionError("no port free on both loopback addresses")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _NamedServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], name: str) -> None:
        super().__init__(address, _Stub)
        self.name = name


class _Stub(BaseHTTPRequestHandler):
    """A model server that answers /health, /v1/models and /v1/chat/completions with its own name."""

    server: _NamedServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {})
        elif self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": "tiny", "object": "model"}]})
        else:
            self._send(404, {"error": self.path})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": self.path})
            return
        name = self.server.name
        message = {"role": "assistant", "content": name}
        self._send(
            200,
            {
                "id": name,
                "object": "chat.completion",
                "model": "tiny",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            },
        )


@pytest.fixture(scope="module")
def port() -> int:
    return _free_port_on_both()


@pytest.fixture(scope="module")
def stubs(port: int) -> Iterator[dict[str, str]]:
    """{host: name} of the two stub servers, both on `port`."""
    servers = []
    for host, name in zip(HOSTS, ("A", "B"), strict=True):
        server = _NamedServer((host, port), name)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield dict(zip(HOSTS, ("A", "B"), strict=True))
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Boot:
    """What the test takes from the rendered boot script, and where it wrote the scripts."""

    work: Path
    listing: Path
    reconciler: list[str]
    """The reconciler unit's ExecStart argv."""
    run: list[str]
    """The router's `docker run` argv."""


@pytest.fixture(scope="module")
def boot(tmp_path_factory: pytest.TempPathFactory) -> Boot:
    """The rendered boot script of a vLLM server with a router whose lister is `cat <listing file>`."""
    work = tmp_path_factory.mktemp("vm-router")
    listing = work / "listed"
    listing.write_text("")
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), context=8192)
    spec = vllm.vllm_container(
        "chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref)
    )
    router = router_vm.vm_router(spec, OPTIONS, router_vm.InstanceLister(("/bin/cat", str(listing)), "the test's listing"))
    assert router is not None
    document = yaml.safe_load(render_cloud_init(spec, weights_sync=None, metrics=MetricsAgent("none", (), "true"), router=router))
    files = {f["path"]: f["content"] for f in document["write_files"]}
    for source, name in ((router_vm.RECONCILER, "workers"), (router_vm.LISTER, "list-instances")):
        (work / name).write_text(files[source])
        (work / name).chmod(0o755)
    unit = files[f"/etc/systemd/system/{router_vm.WORKERS_UNIT}"]
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    run_script = files[f"{router_vm.ROUTER_DIR}/run"]
    run_line = run_script[run_script.index("\nexec ") + len("\nexec ") :]  # one command; LAUNCHER's lines are quoted
    return Boot(work, listing, shlex.split(exec_start.removeprefix("ExecStart=")), shlex.split(run_line))


def _with(argv: list[str], **values: str) -> list[str]:
    """`argv` with the value after each `--<name>` replaced."""
    out = list(argv)
    for name, value in values.items():
        out[out.index(f"--{name.replace('_', '-')}") + 1] = value
    return out


def _get(url: str, method: str = "GET") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture(scope="module")
def router(boot: Boot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real router, started with the flags of the rendered `docker run` line, on loopback ports."""
    python = ensure_router_env(rr.requirements_text())
    flags = boot.run[boot.run.index(rr.LAUNCHER) + 1 :]
    assert flags[-1] == "--worker-urls"  # it starts with no worker: the reconciler gives it the group's
    http, metrics = _free_port(), _free_port()
    flags = _with(flags, host="127.0.0.1", port=str(http), prometheus_host="127.0.0.1", prometheus_port=str(metrics))
    log = tmp_path_factory.mktemp("vm-router-log") / "router.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(python), "-c", rr.LAUNCHER, *flags], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if _get(url + "/liveness")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"router exited or not live ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _reconciler(boot: Boot, router: str, port: int, **more: str) -> list[str]:
    """The unit's ExecStart with the extracted script and lister, the test's router and the stubs' port; run by the
    unit's interpreter (the VM's /usr/bin/python3) where this machine has it."""
    unit, work = boot.reconciler, boot.work
    assert unit[1] == router_vm.RECONCILER
    python = unit[0] if Path(unit[0]).exists() else sys.executable
    argv = [python, str(work / "workers"), *unit[2:]]
    return _with(argv, lister=str(work / "list-instances"), router=router, port=str(port), **more)


def _reconcile(boot: Boot, router: str, port: int, listed: str) -> subprocess.CompletedProcess[str]:
    """One round (--once) of the shipped reconciler after the group's listing became `listed`."""
    boot.listing.write_text(listed)
    return subprocess.run([*_reconciler(boot, router, port), "--once"], capture_output=True, text=True, timeout=120, check=False)


def _workers(router: str) -> set[str]:
    status, body = _get(router + "/workers")
    assert status == 200, body
    return {w["url"] for w in json.loads(body)["workers"]}


def _answers(router: str, n: int) -> list[str]:
    names = []
    for i in range(n):
        body = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": f"question {i}"}]}).encode()
        request = urllib.request.Request(router + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
            names.append(json.loads(resp.read())["choices"][0]["message"]["content"])
    return names


def test_the_router_follows_the_group_as_it_grows_and_shrinks(boot: Boot, router: str, stubs: dict[str, str], port: int) -> None:
    a, b = (f"http://{host}:{port}" for host in HOSTS)
    assert _get(router + "/readiness")[0] == 503 and _workers(router) == set()  # no worker before the first round

    done = _reconcile(boot, router, port, "127.0.0.1\n")
    assert done.returncode == 0, done.stderr
    assert _workers(router) == {a} and f"add_worker {a}: 200" in done.stdout
    assert set(_answers(router, 4)) == {"A"}

    done = _reconcile(boot, router, port, "127.0.0.1\n127.0.0.2\n")
    assert done.returncode == 0, done.stderr
    assert _workers(router) == {a, b}
    assert sorted(_answers(router, 4)) == ["A", "A", "B", "B"]

    done = _reconcile(boot, router, port, "127.0.0.2\n")
    assert done.returncode == 0, done.stderr
    assert _workers(router) == {b} and f"remove_worker {a}: 200" in done.stdout
    assert set(_answers(router, 4)) == {"B"}


def test_a_failed_listing_or_an_unready_instance_changes_nothing(boot: Boot, router: str, stubs: dict[str, str], port: int) -> None:
    a, b = (f"http://{host}:{port}" for host in HOSTS)
    assert _reconcile(boot, router, port, "127.0.0.1\n127.0.0.2\n").returncode == 0
    assert _workers(router) == {a, b}
    # The cloud API failed (the lister printed an error instead of addresses): both workers stay.
    done = _reconcile(boot, router, port, "An error occurred (Throttling)\n")
    assert done.returncode == 1 and "no change this round" in done.stderr
    assert _workers(router) == {a, b}
    # A VM still starting (listed, nothing answering /health yet) is not added; the others are untouched.
    started = time.monotonic()
    done = _reconcile(boot, router, port, "127.0.0.1\n127.0.0.2\n127.0.0.3\n")
    assert done.returncode == 0, done.stderr
    assert _workers(router) == {a, b} and time.monotonic() - started < 20


def test_the_reconciler_service_keeps_converging(boot: Boot, router: str, stubs: dict[str, str], port: int) -> None:
    a, b = (f"http://{host}:{port}" for host in HOSTS)
    boot.listing.write_text("127.0.0.1\n")
    proc = subprocess.Popen(_reconciler(boot, router, port, interval="1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for listed, want in (("127.0.0.1\n", {a}), ("127.0.0.1\n127.0.0.2\n", {a, b}), ("", set())):
            boot.listing.write_text(listed)
            deadline = time.monotonic() + 20
            while _workers(router) != want:
                assert time.monotonic() < deadline, f"workers {_workers(router)} never became {want}"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert _get(router + "/readiness")[0] == 503  # an empty group: the load balancer's routers answer not ready
