"""The drain handler of an Azure GPU VM, as azure-dev's plan ships it, against a fake IMDS (no vLLM, no Azure).

The handler and its command line come from the stack's rendered boot script (the scale set's customData in
`pulumi-llm plan azure-dev`): ``/usr/local/lib/llm-server/azure_drain.py`` and the ExecStart of
``llm-drain.service``. Only two things change, both arguments the unit passes: ``--imds`` points at a fake Instance
Metadata Service on 127.0.0.1 (instance name + Scheduled Events, the documents Azure's "Scheduled Events for Linux
VMs" shows), and ``--systemctl`` at a stub that records its calls; the poll interval is shortened.
"""

from __future__ import annotations

import base64
import json
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ME = "azdev-chat-vmss_2"
OTHER = "azdev-chat-vmss_5"
HANDLER_PATH = "/usr/local/lib/llm-server/azure_drain.py"
UNIT_PATH = "/etc/systemd/system/llm-drain.service"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """(the handler as azure-dev's customData writes it, the unit's ExecStart argv)."""
    out = tmp_path_factory.mktemp("plan")
    done = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "plan", "azure-dev", "--quiet", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (resources,) = [json.loads(p.read_text()) for p in out.rglob("resources.json")]
    (vmss,) = [r["inputs"] for r in resources if r["type"] == "azure-native:compute:VirtualMachineScaleSet"]
    document = yaml.safe_load(base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]))
    files = {f["path"]: f["content"] for f in document["write_files"]}
    handler = out / "azure_drain.py"
    handler.write_text(files[HANDLER_PATH])
    (line,) = [x for x in files[UNIT_PATH].splitlines() if x.startswith("ExecStart=")]
    return handler, shlex.split(line.removeprefix("ExecStart="))


class FakeImds(ThreadingHTTPServer):
    def __init__(self, systemctl_log: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Imds)
        self.events: list[dict[str, Any]] = []
        self.incarnation = 1
        self.polls = 0
        self.approvals: list[tuple[dict[str, Any], int]] = []
        """(POST body, systemctl calls made before it)"""
        self.bad_requests = 0
        self.systemctl_log = systemctl_log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def publish(self, *events: dict[str, Any]) -> None:
        self.events, self.incarnation = list(events), self.incarnation + 1


class _Imds(BaseHTTPRequestHandler):
    server: FakeImds

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.headers.get("Metadata") != "true":  # as IMDS: 400 without the header
            self.server.bad_requests += 1
            self.send_error(400)
        elif self.path == "/metadata/instance/compute?api-version=2021-02-01":
            self._answer({"name": ME, "vmScaleSetName": "azdev-chat-vmss"})
        elif self.path == "/metadata/scheduledevents?api-version=2020-07-01":
            self.server.polls += 1
            self._answer({"DocumentIncarnation": self.server.incarnation, "Events": self.server.events})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Metadata") != "true" or self.path != "/metadata/scheduledevents?api-version=2020-07-01":
            self.server.bad_requests += 1
            self.send_error(400)
            return
        calls = len(self.server.systemctl_log.read_text().splitlines()) if self.server.systemctl_log.exists() else 0
        self.server.approvals.append((body, calls))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def event(event_id: str, kind: str = "Terminate", resources: tuple[str, ...] = (ME,)) -> dict[str, Any]:
    return {
        "EventId": event_id, "EventStatus": "Scheduled", "EventType": kind, "ResourceType": "VirtualMachine",
        "Resources": list(resources), "NotBefore": "Mon, 07 Dec 2026 14:20:00 GMT", "Description": "",
        "EventSource": "Platform", "DurationInSeconds": -1,
    }  # fmt: skip


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Vm:
    """The handler running as its unit runs it, against `imds`, with a recording systemctl."""

    def __init__(self, handler: Path, argv: list[str], tmp: Path, imds: str) -> None:
        self.log = tmp / "systemctl.log"
        stub = tmp / "systemctl"
        stub.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(self.log))}\n')
        stub.chmod(0o755)
        args = list(argv[2:])  # after /usr/bin/python3 <path>
        args[args.index("--imds") + 1] = imds
        args[args.index("--interval") + 1] = "0.1"
        self.units = [args[i + 1] for i, token in enumerate(args) if token == "--unit"]
        self.process = subprocess.Popen(  # noqa: S603 - the rendered handler, our own file
            [sys.executable, str(handler), *args, "--systemctl", str(stub)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def stop(self) -> tuple[str, str]:
        self.process.terminate()
        out, err = self.process.communicate(timeout=10)
        return out, err


@pytest.fixture
def imds(tmp_path: Path) -> Iterator[FakeImds]:
    server = FakeImds(tmp_path / "systemctl.log")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def vm(rendered: tuple[Path, list[str]], imds: FakeImds, tmp_path: Path) -> Iterator[Vm]:
    running = Vm(*rendered, tmp_path, imds.url)
    yield running
    if running.process.poll() is None:
        running.stop()


def test_the_unit_stops_the_router_then_the_server(rendered: tuple[Path, list[str]]) -> None:
    _, argv = rendered
    assert argv[:2] == ["/usr/bin/python3", HANDLER_PATH]
    assert argv[argv.index("--imds") + 1] == "http://169.254.169.254"
    assert [argv[i + 1] for i, token in enumerate(argv) if token == "--unit"] == ["llm-router.service", "llm-server.service"]


def test_a_terminate_of_this_vm_stops_router_then_server_then_approves_it(vm: Vm, imds: FakeImds) -> None:
    wait_for(lambda: imds.polls >= 2)
    imds.publish(event("C7061BAC-AFDC-4513-B24B-AA5F13A16123"))
    wait_for(lambda: bool(imds.approvals))
    polls = imds.polls
    wait_for(lambda: imds.polls >= polls + 5)  # later rounds: nothing again
    out, _ = vm.stop()
    assert vm.calls() == ["stop llm-router.service", "stop llm-server.service"]
    assert imds.approvals == [({"StartRequests": [{"EventId": "C7061BAC-AFDC-4513-B24B-AA5F13A16123"}]}, 2)]  # after both stops
    assert imds.bad_requests == 0
    assert f"this VM is {ME}" in out and "approved C7061BAC-AFDC-4513-B24B-AA5F13A16123" in out


@pytest.mark.parametrize(
    "published",
    [
        pytest.param(event("e-other", resources=(OTHER,)), id="another-vm"),
        pytest.param(event("e-freeze", kind="Freeze"), id="freeze"),
        pytest.param(event("e-reboot", kind="Reboot"), id="reboot"),
        pytest.param(event("e-redeploy", kind="Redeploy"), id="redeploy"),
    ],
)
def test_events_that_do_not_delete_this_vm_change_nothing(vm: Vm, imds: FakeImds, published: dict[str, Any]) -> None:
    imds.publish(published)
    wait_for(lambda: imds.polls >= 10)
    vm.stop()
    assert vm.calls() == []
    assert imds.approvals == []


def test_a_shared_terminate_drains_without_approving_and_a_cancel_starts_the_units_again(vm: Vm, imds: FakeImds) -> None:
    imds.publish(event("e-shared", resources=(ME, OTHER)))  # approving would release OTHER too
    wait_for(lambda: len(vm.calls()) == 2)
    polls = imds.polls
    wait_for(lambda: imds.polls >= polls + 5)
    assert imds.approvals == []
    imds.publish()  # Azure cancelled it: the VM stays
    wait_for(lambda: len(vm.calls()) == 4)
    out, _ = vm.stop()
    assert vm.calls() == ["stop llm-router.service", "stop llm-server.service", "start llm-server.service", "start llm-router.service"]
    assert "e-shared is gone" in out


def test_a_spot_eviction_stops_the_units_and_is_not_approved(vm: Vm, imds: FakeImds) -> None:
    imds.publish(event("e-preempt", kind="Preempt"))
    wait_for(lambda: len(vm.calls()) == 2)
    polls = imds.polls
    wait_for(lambda: imds.polls >= polls + 5)
    vm.stop()
    assert vm.calls() == ["stop llm-router.service", "stop llm-server.service"]
    assert imds.approvals == []


def test_imds_down_is_logged_and_retried_without_a_crash(rendered: tuple[Path, list[str]], tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = Vm(*rendered, tmp_path, f"http://127.0.0.1:{port}")
    time.sleep(1.5)
    assert down.process.poll() is None  # still looping
    _, err = down.stop()
    assert err.count("no action this round") >= 3
    assert "Traceback" not in err
    assert down.calls() == []
