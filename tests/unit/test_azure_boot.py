"""The Azure GPU-VM boot script: golden file, the launch command shared with Kubernetes, azcopy and Key Vault
with the managed identity, the managed data disk, the metadata firewall and the metrics helper (run here
against fakes of IMDS, Key Vault and Azure Monitor).

Golden file: `tests/unit/golden/cloud_init_vllm_azure.yaml` holds the exact bytes rendered for the fixed
inputs below. After an intended change, rewrite it and review the diff:

    UPDATE_GOLDEN=1 uv run pytest tests/unit/test_azure_boot.py -q
"""

from __future__ import annotations

import io
import json
import os
import py_compile
import shlex
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.gpu_vm import azure_boot, router_vm
from pulumi_llm.gpu_vm.cloud_init import MODEL_ROOT, SECRETS_ENV, docker_run_argv
from pulumi_llm.kubernetes import render
from pulumi_llm.kubernetes.router_render import RouterOptions
from pulumi_llm.runtimes import triton, vllm
from pulumi_llm.sizing import fit, get_instance_type

GOLDEN = Path(__file__).parent / "golden"
CONTAINER_URL = "https://acmellmmodels.blob.core.windows.net/models"
PREFIX = "llama-3.1-8b/0e9e39f"
CLIENT_ID = "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"
SECRET_URI = "https://acme-llm-kv.vault.azure.net/secrets/chat-api-key"


@pytest.fixture(scope="module")
def vllm_spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("Standard_NC24ads_A100_v4"), context=8192)
    options = vllm.VllmOptions(image=pins.VLLM_OPENAI.ref, api_key_secret="chat-api-key")
    return vllm.vllm_container("chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), options)


@pytest.fixture(scope="module")
def triton_spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("Standard_NC24ads_A100_v4"), runtime="triton")
    return triton.triton_container("llama-8b", the_fit, image=pins.TRITON_VLLM.ref)


def azure_document(spec, **overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "container_url": CONTAINER_URL,
        "key_prefix": PREFIX,
        "client_id": CLIENT_ID,
        "deployment": "prod/chat",
        "revision": "0e9e39f",
        "secret_uris": {"chat-api-key": SECRET_URI} if any(v.secret_name for v in spec.env) else None,
    }
    kwargs.update(overrides)
    return azure_boot.azure_custom_data(spec, **kwargs)


def files(document: str) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in yaml.safe_load(document)["write_files"]}


def run_tokens(document: str) -> list[str]:
    script = files(document)["/usr/local/lib/llm-server/run"]["content"]
    return shlex.split(script.split("\nexec ", 1)[1].replace(" \\\n", " "))


def helper_module() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "azure_helper"}
    exec(compile(azure_boot.HELPER_SOURCE, "azure_helper.py", "exec"), namespace)
    return namespace


# --- golden file and document shape ---------------------------------------------------------


def test_vllm_document_matches_its_golden_file(vllm_spec) -> None:
    text = azure_document(vllm_spec)
    path = GOLDEN / "cloud_init_vllm_azure.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing; create it with UPDATE_GOLDEN=1"
    assert text == path.read_text(), "cloud_init_vllm_azure.yaml differs from the renderer's output; review, then UPDATE_GOLDEN=1"


def test_document_is_cloud_config_under_azures_custom_data_limit(vllm_spec) -> None:
    document = azure_document(vllm_spec)
    assert document.startswith("#cloud-config\n")
    parsed = yaml.safe_load(document)
    assert parsed["runcmd"] == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "--no-block", "llm-server.service"],
        ["/usr/local/lib/llm-server/metrics-agent"],
    ]
    assert len(document.encode()) < azure_boot.CUSTOM_DATA_LIMIT
    assert "Metrics agent: custom metrics to Azure Monitor (PulumiLLM/ModelServer)" in document


def test_every_script_parses_as_posix_sh(vllm_spec, tmp_path) -> None:
    for path, entry in files(azure_document(vllm_spec)).items():
        if entry["content"].startswith("#!/bin/sh"):
            script = tmp_path / Path(path).name
            script.write_text(entry["content"])
            result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
            assert result.returncode == 0, f"{path}: {result.stderr}"


def test_helper_compiles_as_python(tmp_path) -> None:
    source = tmp_path / "azure_helper.py"
    source.write_text(azure_boot.HELPER_SOURCE)
    py_compile.compile(str(source), doraise=True)


# --- the launch command is the Kubernetes container's ---------------------------------------


@pytest.mark.parametrize("which", ["vllm_spec", "triton_spec"])
def test_container_runs_exactly_the_kubernetes_command_and_args(which, request) -> None:
    spec = request.getfixturevalue(which)
    tokens = run_tokens(azure_document(spec))
    k8s = render.container(spec)
    assert tokens[tokens.index(spec.image) + 1 :] == k8s["command"] + k8s["args"]
    assert tokens[tokens.index(spec.image) - 2 : tokens.index(spec.image)] == ["--entrypoint", ""]
    secrets = any(v.secret_name for v in spec.env)
    assert tokens[2:] == docker_run_argv(spec, secrets=secrets, log_args=azure_boot.journald_args())[1:]


def test_server_logs_go_to_the_journal_and_secrets_come_from_the_env_file(vllm_spec) -> None:
    tokens = run_tokens(azure_document(vllm_spec))
    assert "--log-driver=journald" in tokens and "--log-opt=tag=llm-server" in tokens
    assert tokens[tokens.index("--env-file") + 1] == SECRETS_ENV
    assert not any(t.startswith("VLLM_API_KEY") for t in tokens)
    assert "--network" not in tokens and "--privileged" not in tokens


# --- weights, secrets, disk -----------------------------------------------------------------


def test_weights_sync_with_azcopy_as_the_managed_identity(vllm_spec) -> None:
    script = files(azure_document(vllm_spec))["/usr/local/lib/llm-server/sync-weights"]["content"]
    command = shlex.split(next(line for line in script.splitlines() if "azcopy" in line))
    assert command[:5] == [
        "/usr/bin/env",
        "AZCOPY_AUTO_LOGIN_TYPE=MSI",
        f"AZCOPY_MSI_CLIENT_ID={CLIENT_ID}",
        "AZCOPY_LOG_LOCATION=/var/log/azcopy",
        "AZCOPY_JOB_PLAN_LOCATION=/var/lib/azcopy/plans",
    ]
    assert command[5:9] == [azure_boot.AZCOPY, "sync", f"{CONTAINER_URL}/{PREFIX}", f"{MODEL_ROOT}/llama-3.1-8b"]
    assert "--delete-destination=false" in command and "--recursive=true" in command
    assert not any("sig=" in part or "AccountKey" in part for part in command)  # no SAS, no key: identity only


def test_sync_marker_changes_with_the_revision() -> None:
    first = azure_boot.azcopy_sync(CONTAINER_URL, PREFIX, client_id=CLIENT_ID, revision="a")
    assert first.marker == azure_boot.azcopy_sync(CONTAINER_URL, PREFIX, client_id=CLIENT_ID, revision="a").marker
    assert first.marker != azure_boot.azcopy_sync(CONTAINER_URL, PREFIX, client_id=CLIENT_ID, revision="b").marker
    with pytest.raises(ValueError, match="not an https:// container URL"):
        azure_boot.blob_source("http://acme.blob.core.windows.net/models", PREFIX)


def test_secrets_are_read_from_key_vault_at_start_never_written_into_custom_data(vllm_spec) -> None:
    written = files(azure_document(vllm_spec))
    fetch = written["/usr/local/lib/llm-server/fetch-secrets"]
    assert fetch["permissions"] == "0700"
    assert f"fetch /usr/bin/python3 {azure_boot.HELPER} secret {SECRET_URI} --client-id {CLIENT_ID}" in fetch["content"]
    assert [p for p, f in written.items() if SECRET_URI in f["content"]] == ["/usr/local/lib/llm-server/fetch-secrets"]
    with pytest.raises(ValueError, match="not a Key Vault secret URI"):
        azure_boot.key_vault_secrets({"k": "https://acme-llm-kv.vault.azure.net/keys/x"}, client_id=CLIENT_ID)


def test_data_disk_is_the_managed_disk_at_lun_0(tmp_path) -> None:
    disk = azure_boot.managed_data_disk()
    fake = tmp_path / "dev"
    (fake / "disk/azure/scsi1").mkdir(parents=True)
    (fake / "sdc").write_text("")
    (fake / "disk/azure/scsi1/lun0").symlink_to(fake / "sdc")
    snippet = disk.find.replace("/dev/", f"{fake}/")
    found = subprocess.run(["sh", "-c", f"find_disk() {{\n{snippet}\n}}\nfind_disk"], capture_output=True, text=True)
    assert (found.returncode, found.stdout.strip()) == (0, str(fake / "sdc"))
    (fake / "disk/azure/scsi1/lun0").unlink()
    missing = subprocess.run(["sh", "-c", f"find_disk() {{\n{snippet}\n}}\nfind_disk"], capture_output=True, text=True)
    assert (missing.returncode, missing.stdout) == (1, "")


# --- the container cannot reach the identity ------------------------------------------------


def test_container_traffic_to_imds_and_the_wireserver_is_dropped_before_any_container_starts(vllm_spec) -> None:
    written = files(azure_document(vllm_spec, router=RouterOptions()))
    guard = written["/etc/systemd/system/llm-metadata-guard.service"]["content"].splitlines()
    assert {"Type=oneshot", "RemainAfterExit=yes", "BindsTo=docker.service", "After=docker.service"} <= set(guard)
    # The server's unit and the router's (its pip install and the router are bridged containers) wait for it.
    for unit in ("llm-server.service", router_vm.UNIT):
        drop_in = written[f"/etc/systemd/system/{unit}.d/10-metadata-guard.conf"]["content"].splitlines()
        assert drop_in == ["[Unit]", "Requires=llm-metadata-guard.service", "After=llm-metadata-guard.service"]
    commands = [shlex.split(line.removeprefix("ExecStart="))[2] for line in guard if line.startswith("ExecStart=")]
    assert commands == [
        "iptables -C DOCKER-USER -d 169.254.169.254/32 -j DROP 2>/dev/null || iptables -I DOCKER-USER -d 169.254.169.254/32 -j DROP",
        "iptables -C DOCKER-USER -d 168.63.129.16/32 -p tcp --dport 80 -j DROP 2>/dev/null "
        "|| iptables -I DOCKER-USER -d 168.63.129.16/32 -p tcp --dport 80 -j DROP",
        "iptables -C DOCKER-USER -d 168.63.129.16/32 -p tcp --dport 32526 -j DROP 2>/dev/null "
        "|| iptables -I DOCKER-USER -d 168.63.129.16/32 -p tcp --dport 32526 -j DROP",
    ]
    for command in commands:
        assert subprocess.run(["sh", "-n", "-c", command]).returncode == 0


# --- metrics --------------------------------------------------------------------------------


def test_metrics_publisher_scrapes_the_server_and_runs_every_minute(vllm_spec, triton_spec) -> None:
    written = files(azure_document(vllm_spec))
    config = json.loads(written[azure_boot.METRICS_CONFIG]["content"])
    assert config == {
        "client_id": CLIENT_ID,
        "deployment": "prod/chat",
        "namespace": "PulumiLLM/ModelServer",
        "scrape_url": "http://127.0.0.1:8000/metrics",
        "gauges": {
            "kv_cache_usage": vllm_spec.metrics.kv_cache_usage,
            "requests_running": "vllm:num_requests_running",
            "requests_waiting": "vllm:num_requests_waiting",
        },
    }
    triton_config = json.loads(azure_boot.metrics_config(triton_spec, client_id=CLIENT_ID, deployment="d"))
    assert triton_config["scrape_url"] == "http://127.0.0.1:8002/metrics"
    assert triton_config["gauges"]["requests_waiting"] == triton_spec.metrics.requests_waiting
    timer = written["/etc/systemd/system/llm-metrics.timer"]["content"]
    assert "OnUnitActiveSec=60" in timer and "WantedBy=timers.target" in timer
    service = written["/etc/systemd/system/llm-metrics.service"]["content"]
    assert f"ExecStart=/usr/bin/python3 {azure_boot.HELPER} metrics {azure_boot.METRICS_CONFIG}" in service
    agent = written["/usr/local/lib/llm-server/metrics-agent"]["content"]
    assert agent.splitlines()[-1] == "systemctl enable --now llm-metrics.timer"


class FakeAzure:
    """IMDS, Key Vault and the Azure Monitor ingestion endpoint, answering urllib requests."""

    def __init__(self, server_metrics: str | None) -> None:
        self.server_metrics = server_metrics
        self.requests: list[tuple[str, dict[str, str], bytes | None]] = []

    def __call__(self, request, timeout=None):  # noqa: ANN001
        url = request.full_url
        headers = {k.lower(): v for k, v in request.header_items()}
        self.requests.append((url, headers, request.data))
        if url.startswith("http://169.254.169.254/metadata/identity/oauth2/token?"):
            assert headers["metadata"] == "true"
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
            body = {"access_token": f"token-for-{query['resource'][0]}-{query['client_id'][0]}"}
        elif url.startswith("http://169.254.169.254/metadata/instance/compute?"):
            body = {
                "location": "westeurope",
                "subscriptionId": "sub-1",
                "resourceGroupName": "rg-llm",
                "vmScaleSetName": "llm-vmss",
                "name": "llm-vmss_3",
            }
        elif url.startswith("https://acme-llm-kv.vault.azure.net/secrets/"):
            body = {"value": "sk-test-value", "id": url}
        elif url.startswith("http://127.0.0.1:8000/metrics"):
            if self.server_metrics is None:
                raise ConnectionRefusedError("server still starting")
            return io.BytesIO(self.server_metrics.encode())
        elif url.startswith("https://westeurope.monitoring.azure.com/"):
            body = {}
        else:  # pragma: no cover - a request the helper must not make
            raise AssertionError(url)
        return io.BytesIO(json.dumps(body).encode())


def test_helper_reads_a_secret_with_the_identitys_vault_token() -> None:
    helper = helper_module()
    fake = FakeAzure(None)
    assert helper["secret"](SECRET_URI, CLIENT_ID, opener=fake) == "sk-test-value"
    (token_url, _, _), (secret_url, headers, _) = fake.requests
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(token_url).query)
    assert query == {"api-version": ["2018-02-01"], "resource": ["https://vault.azure.net"], "client_id": [CLIENT_ID]}
    assert secret_url == f"{SECRET_URI}?api-version=7.4"
    assert headers["authorization"] == f"Bearer token-for-https://vault.azure.net-{CLIENT_ID}"
    with pytest.raises(ValueError, match="not a Key Vault secret URI"):
        helper["secret"]("http://evil.example/secrets/x", CLIENT_ID, opener=fake)


VLLM_METRICS = """\
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="chat {a}"} 3.0
vllm:num_requests_waiting{engine="1",model_name="chat"} 4.0
vllm:num_requests_running{engine="0",model_name="chat"} 7.0
vllm:kv_cache_usage_perc{engine="0",model_name="chat"} 0.25
process_cpu_seconds_total 12.5
"""


def nvidia_smi(out: str):
    def run(argv, **kwargs):  # noqa: ANN001, ANN003
        assert argv[0] == "nvidia-smi" and "--format=csv,noheader,nounits" in argv
        return subprocess.CompletedProcess(argv, 0, stdout=out, stderr="")

    return run


def test_helper_parses_prometheus_text_with_labels_holding_spaces_and_braces() -> None:
    values = helper_module()["parse_prometheus"](VLLM_METRICS)
    assert values["vllm:num_requests_waiting"] == [3.0, 4.0]
    assert values["process_cpu_seconds_total"] == [12.5]
    assert "# HELP" not in "".join(values)


def test_helper_posts_server_and_gpu_metrics_to_the_scale_set(vllm_spec) -> None:
    helper = helper_module()
    fake = FakeAzure(VLLM_METRICS)
    config = json.loads(azure_boot.metrics_config(vllm_spec, client_id=CLIENT_ID, deployment="prod/chat"))
    posted = helper["push"](config, opener=fake, run=nvidia_smi("90, 60000, 81920\n10, 20480, 81920\n"))
    assert posted == 5
    posts = [(url, headers, json.loads(body)) for url, headers, body in fake.requests if body is not None]
    target = (
        "https://westeurope.monitoring.azure.com/subscriptions/sub-1/resourceGroups/rg-llm/providers/"
        "Microsoft.Compute/virtualMachineScaleSets/llm-vmss/metrics"
    )
    assert {url for url, _, _ in posts} == {target}
    assert {h["authorization"] for _, h, _ in posts} == {f"Bearer token-for-https://monitoring.azure.com/-{CLIENT_ID}"}
    by_metric = {p["data"]["baseData"]["metric"]: p["data"]["baseData"] for _, _, p in posts}
    assert set(by_metric) == {
        "requests_waiting",
        "requests_running",
        "kv_cache_usage",
        "gpu_utilization_percent",
        "gpu_memory_used_percent",
    }
    for base in by_metric.values():
        assert base["namespace"] == "PulumiLLM/ModelServer"
        assert base["dimNames"] == ["instance"] and base["series"][0]["dimValues"] == ["llm-vmss_3"]
    assert by_metric["requests_waiting"]["series"][0] == {"dimValues": ["llm-vmss_3"], "min": 7.0, "max": 7.0, "sum": 7.0, "count": 1}
    gpu = by_metric["gpu_utilization_percent"]["series"][0]
    assert (gpu["min"], gpu["max"], gpu["sum"], gpu["count"]) == (10.0, 90.0, 100.0, 2)
    memory = by_metric["gpu_memory_used_percent"]["series"][0]
    assert memory["max"] == pytest.approx(100 * 60000 / 81920)


def test_helper_publishes_gpu_metrics_while_the_server_is_starting(vllm_spec) -> None:
    helper = helper_module()
    fake = FakeAzure(None)
    config = json.loads(azure_boot.metrics_config(vllm_spec, client_id=CLIENT_ID, deployment="prod/chat"))
    assert helper["push"](config, opener=fake, run=nvidia_smi("0, 500, 81920\n")) == 2


def test_helper_rejects_bad_arguments() -> None:
    assert helper_module()["main"](["azure_helper.py", "secret", SECRET_URI]) == 2


def test_the_default_image_is_azures_ubuntu_hpc_image() -> None:
    assert azure_boot.UBUNTU_HPC_IMAGE == {
        "publisher": "microsoft-dsvm",
        "offer": "ubuntu-hpc",
        "sku": "2204",
        "version": "22.04.2026082801",
    }
    assert azure_boot.UBUNTU_HPC_IMAGE == pins.AZURE_UBUNTU_HPC.reference()


# --- the vLLM router's lister and metrics ------------------------------------------------------


def nic(address: str, state: str = "Succeeded", primary: bool = True) -> dict[str, Any]:
    return {
        "properties": {"provisioningState": state, "ipConfigurations": [{"properties": {"privateIPAddress": address, "primary": primary}}]}
    }


class FakeArm(FakeAzure):
    """FakeAzure plus Azure Resource Manager's scale-set network interfaces, in pages."""

    def __init__(self, pages: list[list[dict[str, Any]]], next_link: str | None = None) -> None:
        super().__init__(None)
        self.pages = pages
        self.next_link = next_link

    def __call__(self, request, timeout=None):  # noqa: ANN001
        url = request.full_url
        if url.startswith("https://management.azure.com/"):
            self.requests.append((url, {k.lower(): v for k, v in request.header_items()}, request.data))
            page = self.pages.pop(0)
            body: dict[str, Any] = {"value": page}
            if self.pages:
                body["nextLink"] = self.next_link or "https://management.azure.com/next?page=2"
            return io.BytesIO(json.dumps(body).encode())
        return super().__call__(request, timeout)


def test_helper_lists_the_scale_sets_provisioned_vms_with_an_arm_token() -> None:
    helper = helper_module()
    fake = FakeArm([[nic("10.50.0.7"), nic("10.50.0.9", state="Deleting")], [nic("10.50.0.12"), nic("10.50.0.7")]])
    assert helper["workers"](CLIENT_ID, opener=fake) == ["10.50.0.12", "10.50.0.7"]
    arm = [(url, headers) for url, headers, _ in fake.requests if url.startswith("https://management.azure.com/")]
    assert arm[0][0] == (
        "https://management.azure.com/subscriptions/sub-1/resourceGroups/rg-llm/providers/Microsoft.Compute/"
        "virtualMachineScaleSets/llm-vmss/networkInterfaces?api-version=2018-10-01"
    )
    assert arm[1][0] == "https://management.azure.com/next?page=2"
    assert {h["authorization"] for _, h in arm} == {f"Bearer token-for-https://management.azure.com/-{CLIENT_ID}"}


def test_helper_never_follows_a_next_link_off_resource_manager() -> None:
    helper = helper_module()
    fake = FakeArm([[nic("10.50.0.7")], [nic("10.50.0.8")]], next_link="https://evil.example/steal")
    with pytest.raises(ValueError, match="unexpected nextLink"):
        helper["workers"](CLIENT_ID, opener=fake)


def test_helper_workers_prints_one_address_a_line_or_exits_1(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    helper = helper_module()
    fake = FakeArm([[nic("10.50.0.9"), nic("10.50.0.7", primary=False)]])

    def through_fake(url, headers=None, body=None, opener=None, timeout=30):  # noqa: ANN001
        return fake(urllib.request.Request(url, headers=headers or {})).read().decode()

    monkeypatch.setitem(helper, "http", through_fake)
    assert helper["main"](["azure_helper.py", "workers", "--client-id", CLIENT_ID]) == 0
    # One interface, one configuration: it is the VM's address even if not flagged primary.
    assert capsys.readouterr().out == "10.50.0.7\n10.50.0.9\n"

    def broken(url, headers=None, body=None, opener=None, timeout=30):  # noqa: ANN001
        raise OSError("403 AuthorizationFailed")

    monkeypatch.setitem(helper, "http", broken)
    assert helper["main"](["azure_helper.py", "workers", "--client-id", CLIENT_ID]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "403 AuthorizationFailed" in err


ROUTER_METRICS = """\
# TYPE vllm_router_active_workers gauge
vllm_router_active_workers 2
vllm_router_running_requests{worker="http://10.50.0.7:8000"} 3
vllm_router_running_requests{worker="http://10.50.0.9:8000"} 1
vllm_router_requests_total{route="/v1/chat/completions"} 99
"""


def test_with_the_router_the_helper_posts_its_gauges_too(vllm_spec) -> None:
    helper = helper_module()

    class WithRouter(FakeAzure):
        def __call__(self, request, timeout=None):  # noqa: ANN001
            if request.full_url == "http://127.0.0.1:29000/metrics":
                self.requests.append((request.full_url, {}, None))
                return io.BytesIO(ROUTER_METRICS.encode())
            return super().__call__(request, timeout)

    fake = WithRouter(VLLM_METRICS)
    config = json.loads(azure_boot.metrics_config(vllm_spec, client_id=CLIENT_ID, deployment="prod/chat", router=True))
    assert config["router_scrape_url"] == "http://127.0.0.1:29000/metrics"
    helper["push"](config, opener=fake, run=nvidia_smi("90, 60000, 81920\n"))
    by_metric = {
        json.loads(body)["data"]["baseData"]["metric"]: json.loads(body)["data"]["baseData"] for _, _, body in fake.requests if body
    }
    assert by_metric["router_active_workers"]["series"][0]["sum"] == 2.0
    assert by_metric["router_running_requests"]["series"][0]["sum"] == 4.0  # summed over its workers
    assert "vllm_router_requests_total" not in json.dumps(config["gauges"])  # a counter: not a per-minute sample


def test_the_router_lister_is_the_helper_with_the_identity_and_its_logs_go_to_the_journal(vllm_spec) -> None:
    router = azure_boot.azure_router(vllm_spec, RouterOptions(), client_id=CLIENT_ID)
    assert router is not None
    assert router.lister.command == ("/usr/bin/python3", azure_boot.HELPER, "workers", "--client-id", CLIENT_ID)
    assert router.log_args == ("--log-driver=journald", "--log-opt=tag=llm-router")
    document = azure_document(vllm_spec, router=RouterOptions())
    written = files(document)
    assert f"{azure_boot.HELPER} workers --client-id {CLIENT_ID}" in written[router_vm.LISTER]["content"]
    assert json.loads(written[azure_boot.METRICS_CONFIG]["content"])["router_scrape_url"].endswith(":29000/metrics")
    assert azure_boot.azure_router(vllm_spec, None, client_id=CLIENT_ID) is None
