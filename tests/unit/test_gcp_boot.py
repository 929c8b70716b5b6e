"""The GCP boot script: golden file, the launch command shared with Kubernetes, Cloud Storage sync, Secret
Manager, the data disk, the Ops Agent config and the metadata-server guard.

Golden file: `tests/unit/golden/cloud_init_vllm_gcp.yaml` holds the exact bytes the renderer writes for the
fixed inputs below. After an intended change to the boot script (or to a pin, or to sizing figures that
reach the flags), rewrite it and review the diff:

    UPDATE_GOLDEN=1 uv run pytest tests/unit/test_gcp_boot.py -q
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.gpu_vm import gcp_boot, metadata_guard
from pulumi_llm.gpu_vm.cloud_init import UNIT, docker_run_argv
from pulumi_llm.kubernetes import render
from pulumi_llm.runtimes import triton, vllm
from pulumi_llm.sizing import fit, get_instance_type

GOLDEN = Path(__file__).parent / "golden"
BUCKET = "acme-llm-models"
PREFIX = "llama-3.1-8b/0e9e39f"
SECRET_ID = "projects/acme-prod/secrets/chat-api-key"
DEPLOYMENT = "prod-chat"
SCRIPTS = "/usr/local/lib/llm-server"
GUARD_PATH = "/etc/systemd/system/llm-metadata-guard.service"
GUARD_DROP_IN = "/etc/systemd/system/llm-server.service.d/10-metadata-guard.conf"


@pytest.fixture(scope="module")
def vllm_spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g2-standard-8"), context=8192)
    options = vllm.VllmOptions(image=pins.VLLM_OPENAI.ref, api_key_secret="chat-api-key")
    return vllm.vllm_container("chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), options)


@pytest.fixture(scope="module")
def triton_spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g2-standard-8"), runtime="triton")
    return triton.triton_container("llama-8b", the_fit, image=pins.TRITON_VLLM.ref)


def document(spec, **overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "bucket": BUCKET,
        "key_prefix": PREFIX,
        "deployment": DEPLOYMENT,
        "revision": "0e9e39f",
        "secret_ids": {"chat-api-key": SECRET_ID} if any(v.secret_name for v in spec.env) else None,
    }
    kwargs.update(overrides)
    return gcp_boot.gcp_user_data(spec, **kwargs)


def files(text: str) -> dict[str, str]:
    return {f["path"]: f["content"] for f in yaml.safe_load(text)["write_files"]}


def run_tokens(text: str) -> list[str]:
    script = files(text)[f"{SCRIPTS}/run"]
    return shlex.split(script.split("\nexec ", 1)[1].replace(" \\\n", " "))


def test_vllm_document_matches_its_golden_file(vllm_spec) -> None:
    text = document(vllm_spec)
    path = GOLDEN / "cloud_init_vllm_gcp.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing; create it with UPDATE_GOLDEN=1"
    assert text == path.read_text(), "cloud_init_vllm_gcp.yaml differs from the renderer's output; review, then UPDATE_GOLDEN=1"


@pytest.mark.parametrize("which", ["vllm_spec", "triton_spec"])
def test_container_runs_exactly_the_kubernetes_command_and_args(which, request) -> None:
    spec = request.getfixturevalue(which)
    text = document(spec)
    tokens = run_tokens(text)
    k8s = render.container(spec)
    assert tokens[tokens.index(spec.image) + 1 :] == k8s["command"] + k8s["args"]
    assert tokens[tokens.index(spec.image) - 2 : tokens.index(spec.image)] == ["--entrypoint", ""]
    secrets = any(v.secret_name for v in spec.env)
    assert tokens[:2] == ["/usr/bin/docker", "run"]
    assert tokens[2:] == docker_run_argv(spec, secrets=secrets, log_args=gcp_boot.gcplogs_args())[1:]
    # Bridged, never on the host network (the guard below filters forwarded traffic only).
    assert "--network" not in tokens and "--privileged" not in tokens


def test_document_is_cloud_config_with_the_unit_the_agent_and_the_guard(vllm_spec) -> None:
    text = document(vllm_spec)
    assert text.startswith("#cloud-config\n")
    parsed = yaml.safe_load(text)
    assert set(parsed) == {"write_files", "runcmd"}
    assert parsed["runcmd"] == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "--no-block", "llm-server.service"],
        [f"{SCRIPTS}/metrics-agent"],
    ]
    written = files(text)
    assert {
        f"/etc/systemd/system/{UNIT}",
        gcp_boot.OPS_AGENT_CONFIG_SOURCE,
        GUARD_PATH,
        GUARD_DROP_IN,
    } <= set(written)
    assert len(text.encode()) < 256 * 1024  # Compute Engine's metadata value limit


def test_pre_start_steps_mount_sync_read_secrets_and_pull_in_order(vllm_spec) -> None:
    written = files(document(vllm_spec))
    unit = written[f"/etc/systemd/system/{UNIT}"].splitlines()
    assert [line.split("=", 1)[1] for line in unit if line.startswith("ExecStartPre=")] == [
        f"{SCRIPTS}/data-disk",
        f"{SCRIPTS}/sync-weights",
        f"{SCRIPTS}/fetch-secrets",
        f"{SCRIPTS}/pull-image",
        "-/usr/bin/docker rm --force llm-server",
    ]
    assert "Restart=always" in unit


def test_weights_come_from_the_model_prefix_with_gcloud_storage_rsync(vllm_spec) -> None:
    sync = files(document(vllm_spec))[f"{SCRIPTS}/sync-weights"]
    assert f"gcloud storage rsync --recursive --quiet gs://{BUCKET}/{PREFIX} /opt/models/llama-3.1-8b" in sync
    assert sync.count("gs://") == 2  # the copy and the marker, nothing else of the bucket


def test_secrets_are_read_from_secret_manager_and_never_written_into_user_data(vllm_spec) -> None:
    text = document(vllm_spec)
    fetch = files(text)[f"{SCRIPTS}/fetch-secrets"]
    assert f"fetch gcloud secrets versions access latest --secret={SECRET_ID} --quiet" in fetch
    assert 'printf "%s=%s\\n" VLLM_API_KEY "$value"' in fetch
    assert "VLLM_API_KEY=" not in files(text)[f"{SCRIPTS}/run"]


def test_the_data_disk_is_found_by_its_device_name(vllm_spec) -> None:
    disk = files(document(vllm_spec))[f"{SCRIPTS}/data-disk"]
    assert "readlink -e /dev/disk/by-id/google-llm-models" in disk
    assert gcp_boot.DATA_DEVICE_NAME == "llm-models"


def test_ops_agent_scrapes_the_server_and_keeps_the_builtin_gpu_pipeline(vllm_spec) -> None:
    config = yaml.safe_load(files(document(vllm_spec))[gcp_boot.OPS_AGENT_CONFIG_SOURCE])
    assert set(config) == {"metrics"}  # logging and the built-in metrics pipelines stay as shipped
    receiver = config["metrics"]["receivers"]["llm_server"]
    assert receiver["type"] == "prometheus"
    [scrape] = receiver["config"]["scrape_configs"]
    assert scrape["job_name"] == "llm-server" and scrape["metrics_path"] == "/metrics"
    assert scrape["static_configs"] == [{"targets": ["127.0.0.1:8000"], "labels": {"deployment": DEPLOYMENT}}]
    assert config["metrics"]["service"]["pipelines"] == {"llm_server": {"receivers": ["llm_server"]}}
    # hostmetrics (with NVML GPU metrics) is neither redefined nor removed.
    assert "hostmetrics" not in config["metrics"]["receivers"] and "default_pipeline" not in config["metrics"]["service"]["pipelines"]
    [relabel] = scrape["metric_relabel_configs"]
    keep = re.compile(relabel["regex"])
    for name in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:generation_tokens_total",
        "vllm:kv_cache_usage_perc",
    ):
        assert keep.fullmatch(name), name
    for name in ("vllm:cache_config_info", "python_gc_objects_collected_total", "vllm:num_requests_running_extra"):
        assert not keep.fullmatch(name), name
    assert gcp_boot.GPU_UTILIZATION_METRIC == "agent.googleapis.com/gpu/utilization"


def test_ops_agent_is_installed_at_the_pinned_version_then_configured(vllm_spec) -> None:
    script = files(document(vllm_spec))[f"{SCRIPTS}/metrics-agent"]
    v = gcp_boot.OPS_AGENT_VERSION
    assert re.fullmatch(r"2\.\d+\.\d+", v) and v not in ("2.39.0", "2.40.0")
    assert f"--also-install --version={v}" in script
    assert f"  {v}|{v}~*|{v}-*|{v}+*) ;;" in script  # already at the pin: no reinstall
    assert f"install -m 0644 {gcp_boot.OPS_AGENT_CONFIG_SOURCE} /etc/google-cloud-ops-agent/config.yaml" in script
    assert script.rstrip().endswith("systemctl restart google-cloud-ops-agent")


def test_containers_cannot_reach_the_metadata_server(vllm_spec) -> None:
    written = files(document(vllm_spec))
    guard = written[GUARD_PATH].splitlines()
    rule = "DOCKER-USER -d 169.254.169.254/32 -j REJECT"
    assert [line for line in guard if line.startswith("ExecStart=")] == [
        f"ExecStart=/bin/sh -c 'iptables -C {rule} 2>/dev/null || iptables -I {rule}'"
    ]
    assert {"Type=oneshot", "RemainAfterExit=yes", "BindsTo=docker.service", "After=docker.service"} <= set(guard)
    drop_in = written[GUARD_DROP_IN].splitlines()
    assert drop_in == ["[Unit]", "Requires=llm-metadata-guard.service", "After=llm-metadata-guard.service"]
    assert metadata_guard.UNIT == "llm-metadata-guard.service"


def test_every_script_parses_as_posix_sh(vllm_spec, tmp_path) -> None:
    text = document(vllm_spec)
    scripts = {path: content for path, content in files(text).items() if content.startswith("#!/bin/sh")}
    assert len(scripts) == 6
    for path, content in scripts.items():
        script = tmp_path / Path(path).name
        script.write_text(content)
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{path}: {result.stderr}"


def test_server_logs_go_to_cloud_logging_without_blocking() -> None:
    assert gcp_boot.gcplogs_args() == ("--log-driver=gcplogs", "--log-opt=mode=non-blocking", "--log-opt=max-buffer-size=4m")


def test_the_image_is_the_deep_learning_vm_family_with_an_r580_driver() -> None:
    assert gcp_boot.DLVM_IMAGE_PROJECT == "deeplearning-platform-release"
    assert gcp_boot.DLVM_IMAGE_FAMILY == "common-cu129-ubuntu-2204-nvidia-580"


def test_a_bad_bucket_name_is_refused(vllm_spec) -> None:
    with pytest.raises(ValueError, match="is not a Cloud Storage bucket name"):
        document(vllm_spec, bucket="Bad_Bucket/")
