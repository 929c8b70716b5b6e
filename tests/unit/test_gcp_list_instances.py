"""The GCP lister of the VM router (gpu_vm/gcp_list_instances.py, shipped verbatim by gcp_boot): which managed
instances it lists, which calls it makes with which token, and that a failure prints nothing and exits 1 (the
reconciler then leaves the router as it is). Run against a fake metadata server + Compute API (no network)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pulumi_llm.gpu_vm import gcp_boot
from pulumi_llm.gpu_vm import gcp_list_instances as lister

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ya29.test-token"  # a value made up here
PROJECT = "acme-llm"
BASE = "https://www.googleapis.com/compute/v1/projects/acme-llm/zones"


def managed(name: str, zone: str, status: str = "RUNNING", action: str = "NONE") -> dict[str, Any]:
    return {"instance": f"{BASE}/{zone}/instances/{name}", "instanceStatus": status, "currentAction": action}


class FakeGoogle:
    """The metadata server and the Compute API as the lister calls them; records every request."""

    def __init__(self, managed_instances: list[dict[str, Any]], addresses: dict[str, str | None], fail: str | None = None) -> None:
        self.managed = managed_instances
        self.addresses = addresses
        self.fail = fail
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    @contextmanager
    def __call__(self, request: Any, timeout: float):
        url, method = request.full_url, request.get_method()
        headers = {k.lower(): v for k, v in request.header_items()}
        self.calls.append((method, url, headers))
        if self.fail and self.fail in url:
            raise OSError(f"503 from {url}")
        if url.endswith("/service-accounts/default/token"):
            assert headers["metadata-flavor"] == "Google"
            body: Any = {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}
        elif url.endswith("/project/project-id"):
            yield io.BytesIO(PROJECT.encode())
            return
        elif url.endswith("/listManagedInstances"):
            assert method == "POST" and headers["authorization"] == f"Bearer {TOKEN}"
            body = {"managedInstances": self.managed}
        else:
            assert method == "GET" and headers["authorization"] == f"Bearer {TOKEN}"
            name = url.rsplit("/", 1)[-1]
            ip = self.addresses[name]
            body = {"name": name, "networkInterfaces": [{"networkIP": ip}] if ip else []}
        yield io.BytesIO(json.dumps(body).encode())


def test_lists_the_running_instances_with_no_action_or_being_verified_sorted() -> None:
    google = FakeGoogle(
        [
            managed("prod-llm-b2x1", "europe-west4-b"),
            managed("prod-llm-a9k3", "europe-west4-a", action="VERIFYING"),
            managed("prod-llm-c0c0", "europe-west4-c", action="DELETING"),
            managed("prod-llm-d4d4", "europe-west4-a", status="STAGING", action="CREATING"),
            managed("prod-llm-e5e5", "europe-west4-b", status="STOPPING", action="NONE"),
        ],
        {"prod-llm-b2x1": "10.40.0.7", "prod-llm-a9k3": "10.40.0.12"},
    )
    assert lister.list_ips("europe-west4", "prod-llm-mig", opener=google) == ["10.40.0.12", "10.40.0.7"]
    list_call = [c for c in google.calls if c[1].endswith("/listManagedInstances")]
    assert [c[1] for c in list_call] == [
        "https://compute.googleapis.com/compute/v1/projects/acme-llm/regions/europe-west4/instanceGroupManagers/prod-llm-mig/listManagedInstances"
    ]
    # Only the kept instances are read (instances.get), never the deleting or stopping ones.
    gets = sorted(c[1].rsplit("/", 1)[-1] for c in google.calls if "/instances/" in c[1])
    assert gets == ["prod-llm-a9k3", "prod-llm-b2x1"]


def test_the_token_goes_to_the_compute_api_only() -> None:
    google = FakeGoogle([managed("prod-llm-b2x1", "europe-west4-b")], {"prod-llm-b2x1": "10.40.0.7"})
    lister.list_ips("europe-west4", "prod-llm-mig", opener=google)
    for _, url, headers in google.calls:
        if "authorization" in headers:
            assert url.startswith(lister.API_HOSTS)
        else:
            assert url.startswith(lister.METADATA)
    hostile = FakeGoogle([{"instance": "https://evil.example/compute/v1/x", "instanceStatus": "RUNNING", "currentAction": "NONE"}], {})
    with pytest.raises(ValueError, match="unexpected instance URL"):
        lister.list_ips("europe-west4", "prod-llm-mig", opener=hostile)
    assert not any("evil.example" in url for _, url, _ in hostile.calls)


def test_an_instance_without_an_address_yet_is_left_for_the_next_round() -> None:
    google = FakeGoogle(
        [managed("prod-llm-b2x1", "europe-west4-b"), managed("prod-llm-a9k3", "europe-west4-a")],
        {"prod-llm-b2x1": "10.40.0.7", "prod-llm-a9k3": None},
    )
    assert lister.list_ips("europe-west4", "prod-llm-mig", project=PROJECT, opener=google) == ["10.40.0.7"]
    assert lister.list_ips("europe-west4", "prod-llm-mig", project=PROJECT, opener=FakeGoogle([], {})) == []


@pytest.mark.parametrize("failing", ["/token", "/listManagedInstances", "/instances/prod-llm-b2x1"])
def test_a_failed_call_exits_1_with_nothing_on_stdout(failing: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    google = FakeGoogle([managed("prod-llm-b2x1", "europe-west4-b")], {"prod-llm-b2x1": "10.40.0.7"}, fail=failing)
    monkeypatch.setattr(urllib.request, "urlopen", google)
    assert lister.main(["--region", "europe-west4", "--group", "prod-llm-mig"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("list-instances: 503 from")


def test_main_prints_one_address_a_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    google = FakeGoogle([managed("prod-llm-b2x1", "europe-west4-b"), managed("prod-llm-a9k3", "europe-west4-a")],
                        {"prod-llm-b2x1": "10.40.0.7", "prod-llm-a9k3": "10.40.0.12"})  # fmt: skip
    monkeypatch.setattr(urllib.request, "urlopen", google)
    assert lister.main(["--region", "europe-west4", "--group", "prod-llm-mig"]) == 0
    assert capsys.readouterr().out == "10.40.0.12\n10.40.0.7\n"


def test_the_shipped_script_is_this_module_and_runs_with_the_standard_library_only(tmp_path: Path) -> None:
    assert gcp_boot.lister_source() == Path(lister.__file__).read_text()
    script = tmp_path / "gcp-list-instances"
    script.write_text(gcp_boot.lister_source())
    # -I: isolated (no site-packages, no project on the path): what the VM's bare python3 has.
    done = subprocess.run([sys.executable, "-I", str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--group" in done.stdout


def test_the_lister_argv_names_this_group_and_bad_names_are_refused() -> None:
    found = gcp_boot.mig_lister("europe-west4", "prod-llm-mig")
    assert found.command == ("/usr/bin/python3", gcp_boot.LISTER_PATH, "--region", "europe-west4", "--group", "prod-llm-mig")
    with pytest.raises(ValueError):
        gcp_boot.mig_lister("europe-west4", "prod llm; rm -rf /")
    assert gcp_boot.LISTER_PERMISSIONS == ("compute.instanceGroupManagers.get", "compute.instances.get")
