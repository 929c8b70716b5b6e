"""The GPU-VM boot script: golden files, the launch command shared with Kubernetes, secrets, weights paths.

Golden files: `tests/unit/golden/cloud_init_<runtime>_aws.yaml` hold the exact bytes the renderer writes
for the fixed inputs below. After an intended change to the boot script (or to a pin, or to sizing
figures that reach the flags), rewrite them and review the diff:

    UPDATE_GOLDEN=1 uv run pytest tests/unit/test_cloud_init.py -q
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.gpu_vm import aws_boot
from pulumi_llm.gpu_vm.cloud_init import (
    CONTAINER_NAME,
    LB_DRAIN_MAX_SECONDS,
    MODEL_ROOT,
    SECRETS_ENV,
    STOP_SECONDS,
    MetricsAgent,
    SecretFetch,
    WeightsSync,
    docker_run_argv,
    health_check_path,
    health_check_port,
    host_path,
    lb_drain_seconds,
    ready_within_seconds,
    render_cloud_init,
    stop_seconds,
    weights_path,
)
from pulumi_llm.kubernetes import render
from pulumi_llm.kubernetes.resilience import SHUTDOWN_MARGIN_SECONDS, decide_drain, drain_args
from pulumi_llm.runtimes import triton, vllm
from pulumi_llm.sizing import fit, get_instance_type

GOLDEN = Path(__file__).parent / "golden"
REGION = "eu-west-1"
BUCKET_ARN = "arn:aws:s3:::acme-llm-models"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/chat-api-key-AbCdEf"
LOG_GROUP = "/pulumi-llm/prod/chat"
NO_AGENT = MetricsAgent(name="none", files=(), script="true")


@pytest.fixture(scope="module")
def fit_8b():
    return fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), context=8192)


@pytest.fixture(scope="module")
def vllm_spec(fit_8b):
    options = vllm.VllmOptions(image=pins.VLLM_OPENAI.ref, api_key_secret="chat-api-key")
    return vllm.vllm_container("chat", fit_8b, vllm.Weights("volume", "/models/llama-3.1-8b"), options)


@pytest.fixture(scope="module")
def triton_spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), runtime="triton")
    return triton.triton_container("llama-8b", the_fit, image=pins.TRITON_VLLM.ref)


def aws_document(spec, **overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "bucket_arn": BUCKET_ARN,
        "key_prefix": "llama-3.1-8b/0e9e39f",
        "region": REGION,
        "log_group": LOG_GROUP,
        "deployment": "prod/chat",
        "revision": "0e9e39f",
        "secret_arns": {"chat-api-key": SECRET_ARN} if any(v.secret_name for v in spec.env) else None,
    }
    kwargs.update(overrides)
    return aws_boot.aws_user_data(spec, **kwargs)


def files(document: str) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in yaml.safe_load(document)["write_files"]}


def run_tokens(document: str) -> list[str]:
    """The tokens of the `exec docker run …` line of the run script, as sh would split them."""
    script = files(document)["/usr/local/lib/llm-server/run"]["content"]
    command = script.split("\nexec ", 1)[1].replace(" \\\n", " ")
    return shlex.split(command)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing; create it with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from the renderer's output; review, then UPDATE_GOLDEN=1"


# --- golden files ---------------------------------------------------------------------------


def test_vllm_document_matches_its_golden_file(vllm_spec) -> None:
    check_golden("cloud_init_vllm_aws.yaml", aws_document(vllm_spec))


def test_triton_document_matches_its_golden_file(triton_spec) -> None:
    check_golden("cloud_init_triton_aws.yaml", aws_document(triton_spec, deployment="prod/llama-8b", revision=""))


@pytest.mark.parametrize("which", ["vllm_spec", "triton_spec"])
def test_document_is_cloud_config_yaml_with_unit_scripts_and_agent(which, request) -> None:
    spec = request.getfixturevalue(which)
    document = aws_document(spec)
    assert document.startswith("#cloud-config\n")
    parsed = yaml.safe_load(document)
    assert set(parsed) == {"write_files", "runcmd"}
    assert parsed["runcmd"] == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "--no-block", "llm-server.service"],
        ["/usr/local/lib/llm-server/metrics-agent"],
    ]
    written = files(document)
    assert "/etc/systemd/system/llm-server.service" in written
    assert "/opt/aws/amazon-cloudwatch-agent/etc/pulumi-llm.json" in written
    assert len(document.encode()) < 16 * 1024  # EC2's user-data limit


def test_every_script_parses_as_posix_sh(vllm_spec, tmp_path) -> None:
    for path, entry in files(aws_document(vllm_spec)).items():
        if entry["content"].startswith("#!/bin/sh"):
            script = tmp_path / Path(path).name
            script.write_text(entry["content"])
            result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
            assert result.returncode == 0, f"{path}: {result.stderr}"


# --- the launch command is the Kubernetes container's ---------------------------------------


def test_container_runs_exactly_the_kubernetes_command_and_args(vllm_spec) -> None:
    tokens = run_tokens(aws_document(vllm_spec))
    k8s = render.container(vllm_spec)
    after_image = tokens[tokens.index(vllm_spec.image) + 1 :]
    assert after_image == k8s["command"] + k8s["args"]
    # The image's own entrypoint is cleared, so nothing runs before the command (as in Kubernetes).
    assert tokens[tokens.index(vllm_spec.image) - 2 : tokens.index(vllm_spec.image)] == ["--entrypoint", ""]
    assert tokens[:2] == ["/usr/bin/docker", "run"]
    assert tokens[2:] == docker_run_argv(vllm_spec, secrets=True, log_args=aws_boot.awslogs_args(LOG_GROUP, REGION))[1:]


def test_triton_runs_exactly_the_kubernetes_command_and_args(triton_spec) -> None:
    tokens = run_tokens(aws_document(triton_spec))
    k8s = render.container(triton_spec)
    assert tokens[tokens.index(triton_spec.image) + 1 :] == k8s["command"] + k8s["args"]


def test_quotes_and_spaces_in_args_survive_the_shell(fit_8b) -> None:
    tricky = ('--override-generation-config={"temperature": 0.2, "stop": ["\'", "$HOME"]}', "--seed=7")
    options = vllm.VllmOptions(
        image=pins.VLLM_OPENAI.ref,
        lora_adapters={"sql": "/models/lora/sql", "chat": "/models/lora/chat"},
        extra_args=tricky,
    )
    spec = vllm.vllm_container("m", fit_8b, vllm.Weights("volume", "/models/m"), options)
    tokens = run_tokens(aws_document(spec))
    k8s = render.container(spec)
    assert tokens[tokens.index(spec.image) + 1 :] == k8s["command"] + k8s["args"]
    at = tokens.index("--lora-modules")
    assert tokens[at : at + 3] == ["--lora-modules", "chat=/models/lora/chat", "sql=/models/lora/sql"]
    assert tricky[0] in tokens


def test_container_is_locked_down_like_the_pod(vllm_spec) -> None:
    argv = docker_run_argv(vllm_spec)
    joined = " ".join(argv)
    assert "--read-only" in argv and "--cap-drop ALL" in joined and "--security-opt no-new-privileges" in joined
    assert f"--user {vllm_spec.run_as_user}:{vllm_spec.run_as_user}" in joined
    assert f"--gpus {vllm_spec.resources.gpus}" in joined and vllm_spec.resources.gpus == 1
    assert "--tmpfs /cache:rw,exec,nosuid,nodev,size=10g,mode=1777" in joined
    assert "--tmpfs /tmp:rw,exec,nosuid,nodev,size=4g,mode=1777" in joined
    assert "--shm-size 2g" in joined
    assert f"--volume {MODEL_ROOT}:/models:ro" in joined
    assert "--publish 8000:8000" in joined and "--rm" in argv and f"--name {CONTAINER_NAME}" in joined
    assert "--privileged" not in argv and "--network" not in argv


def test_systemd_restarts_the_server_after_the_pre_start_steps(vllm_spec) -> None:
    unit = files(aws_document(vllm_spec))["/etc/systemd/system/llm-server.service"]["content"]
    lines = unit.splitlines()
    pre = [line.split("=", 1)[1] for line in lines if line.startswith("ExecStartPre=")]
    assert pre == [
        "/usr/local/lib/llm-server/data-disk",
        "/usr/local/lib/llm-server/sync-weights",
        "/usr/local/lib/llm-server/fetch-secrets",
        "/usr/local/lib/llm-server/pull-image",
        "-/usr/bin/docker rm --force llm-server",
    ]
    assert "Restart=always" in lines and "ExecStart=/usr/local/lib/llm-server/run" in lines
    assert "StartLimitIntervalSec=0" in lines and "Requires=docker.service" in lines
    assert "ExecStop=/usr/bin/docker stop --time 60 llm-server" in lines
    assert "--restart" not in files(aws_document(vllm_spec))["/usr/local/lib/llm-server/run"]["content"]


# --- secrets --------------------------------------------------------------------------------


def test_secrets_are_read_at_start_never_written_into_user_data(vllm_spec) -> None:
    document = aws_document(vllm_spec)
    written = files(document)
    tokens = run_tokens(document)
    assert not any(t.startswith("VLLM_API_KEY") for t in tokens)
    assert tokens[tokens.index("--env-file") + 1] == SECRETS_ENV
    fetch = written["/usr/local/lib/llm-server/fetch-secrets"]
    assert fetch["permissions"] == "0700" and "umask 077" in fetch["content"]
    assert f"--secret-id {SECRET_ARN} --query SecretString --output text" in fetch["content"]
    assert 'printf "%s=%s\\n" VLLM_API_KEY "$value"' in fetch["content"]
    # The ARN (an id, not a value) appears in the fetch script only.
    assert [p for p, f in written.items() if SECRET_ARN in f["content"]] == ["/usr/local/lib/llm-server/fetch-secrets"]
    assert SECRETS_ENV.startswith("/run/")  # tmpfs: gone at power-off


def test_a_secret_without_a_store_id_is_refused(vllm_spec) -> None:
    with pytest.raises(ValueError, match="no secret-store id for chat-api-key"):
        render_cloud_init(vllm_spec, weights_sync=None, metrics=NO_AGENT, secrets=SecretFetch(command=("cat", "{secret}")))
    with pytest.raises(ValueError, match="no SecretFetch was given"):
        render_cloud_init(vllm_spec, weights_sync=None, metrics=NO_AGENT)


def test_literal_env_values_are_inline(triton_spec) -> None:
    tokens = run_tokens(aws_document(triton_spec))
    env = [tokens[i + 1] for i, t in enumerate(tokens) if t == "--env"]
    assert env == [f"{v.name}={v.value}" for v in triton_spec.env]
    assert "--env-file" not in tokens and "fetch-secrets" not in aws_document(triton_spec)


# --- weights --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["llama-3.1-8b", "org/model@rev", "a b"])
def test_weights_sync_lands_where_the_server_reads_them(fit_8b, key) -> None:
    spec = vllm.vllm_container("m", fit_8b, vllm.Weights("volume", f"/models/{key}"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))
    assert weights_path(spec) == vllm.model_argument(spec.args) == f"/models/{key}"
    assert host_path(spec, weights_path(spec)) == f"{MODEL_ROOT}/{key}"
    sync = files(aws_document(spec))["/usr/local/lib/llm-server/sync-weights"]["content"]
    lines = sync.splitlines()
    command = shlex.split(next(line for line in lines if " s3 sync " in line))
    assert command[command.index("sync") + 1 :][:2] == ["s3://acme-llm-models/llama-3.1-8b/0e9e39f", f"{MODEL_ROOT}/{key}"]
    # The data disk is bound read-only exactly below the model `vllm serve` is given.
    tokens = run_tokens(aws_document(spec))
    assert tokens[tokens.index(f"{MODEL_ROOT}:/models:ro") - 1] == "--volume"


def test_triton_weights_fill_the_mount_and_its_repository_is_written(triton_spec) -> None:
    assert host_path(triton_spec, weights_path(triton_spec)) == MODEL_ROOT
    written = files(aws_document(triton_spec))
    repository = dict(next(m for m in triton_spec.mounts if m.kind == "config").files)
    for relative, text in repository.items():
        assert written[f"/etc/llm-server/model-repository/{relative}"]["content"] == text
    assert "--volume /etc/llm-server/model-repository:/etc/triton/repository:ro" in " ".join(docker_run_argv(triton_spec))


def test_sync_is_skipped_once_its_marker_exists_and_a_new_revision_resyncs(vllm_spec) -> None:
    sync = lambda revision: aws_boot.s3_sync(BUCKET_ARN, "p", region=REGION, revision=revision)  # noqa: E731
    assert sync("a").marker == sync("a").marker != sync("b").marker
    assert sync("a").marker.startswith(f"{MODEL_ROOT}/.pulumi-llm-sync/")  # on the data disk itself
    script = files(aws_document(vllm_spec))["/usr/local/lib/llm-server/sync-weights"]["content"].splitlines()
    assert script[3].startswith("marker=") and script[4] == 'if [ -e "$marker" ]; then exit 0; fi'
    assert script[-1].endswith('> "$marker"')  # written only after the sync succeeded (set -e)


def test_streamed_weights_are_refused_on_a_vm(fit_8b) -> None:
    spec = vllm.vllm_container("m", fit_8b, vllm.Weights("object-store", "s3://b/m"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))
    with pytest.raises(ValueError, match="exactly one model mount"):
        render_cloud_init(spec, weights_sync=None, metrics=NO_AGENT)


def test_a_sync_path_outside_the_model_mount_is_refused(vllm_spec) -> None:
    sync = WeightsSync(source="s3://b/p", command=("true",), path="/etc/passwd")
    with pytest.raises(ValueError, match="not below the model mount /models"):
        render_cloud_init(vllm_spec, weights_sync=sync, metrics=NO_AGENT, secrets=SecretFetch(("cat",), {"chat-api-key": "x"}))


# --- load balancer health check -------------------------------------------------------------


def test_health_check_uses_http_readiness_else_liveness(vllm_spec, triton_spec) -> None:
    assert health_check_path(vllm_spec) == "/health"  # vLLM readiness is an exec check
    assert health_check_path(triton_spec) == "/v2/models/llama-8b/ready"
    assert health_check_port(vllm_spec) == health_check_port(triton_spec) == 8000
    assert ready_within_seconds(vllm_spec) > vllm_spec.startup.budget_seconds


# --- metrics agent --------------------------------------------------------------------------


def test_cloudwatch_agent_collects_gpu_metrics_and_scrapes_the_server(vllm_spec, triton_spec) -> None:
    written = files(aws_document(vllm_spec))
    config = json.loads(written["/opt/aws/amazon-cloudwatch-agent/etc/pulumi-llm.json"]["content"])
    gpu = config["metrics"]["metrics_collected"]["nvidia_gpu"]["measurement"]
    assert {"utilization_gpu", "memory_used", "memory_total", "temperature_gpu", "power_draw"} <= set(gpu)
    assert config["metrics"]["aggregation_dimensions"] == [["AutoScalingGroupName"]]
    assert config["metrics"]["append_dimensions"]["AutoScalingGroupName"] == "${aws:AutoScalingGroupName}"
    prometheus = config["logs"]["metrics_collected"]["prometheus"]
    assert prometheus["log_group_name"] == LOG_GROUP
    declaration = prometheus["emf_processor"]["metric_declaration"][0]
    assert "^vllm:num_requests_waiting$" in declaration["metric_selectors"]
    assert "^vllm:kv_cache_usage_perc$" in declaration["metric_selectors"]
    scrape = yaml.safe_load(written[prometheus["prometheus_config_path"]]["content"])["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics" and scrape["static_configs"][0]["targets"] == ["127.0.0.1:8000"]
    assert scrape["static_configs"][0]["labels"] == {"Deployment": "prod/chat"}
    triton_scrape = yaml.safe_load(aws_boot.prometheus_config(triton_spec, "d"))["scrape_configs"][0]
    assert triton_scrape["static_configs"][0]["targets"] == ["127.0.0.1:8002"]
    agent = written["/usr/local/lib/llm-server/metrics-agent"]["content"]
    assert aws_boot.CLOUDWATCH_AGENT_SHA256 in agent and "sha256sum -c -" in agent and "/latest/" not in agent


def test_another_clouds_agent_plugs_in(vllm_spec) -> None:
    agent = MetricsAgent(
        name="Ops Agent",
        files=(("/etc/google-cloud-ops-agent/config.yaml", "metrics: {}\n"),),
        script="systemctl restart google-cloud-ops-agent",
    )
    document = render_cloud_init(
        vllm_spec,
        weights_sync=WeightsSync(source="gs://b/m", command=("gcloud", "storage", "rsync", "--recursive", "{source}", "{dest}")),
        metrics=agent,
        secrets=SecretFetch(("gcloud", "secrets", "versions", "access", "latest", "--secret={secret}"), {"chat-api-key": "chat-api-key"}),
    )
    written = files(document)
    assert written["/etc/google-cloud-ops-agent/config.yaml"]["content"] == "metrics: {}\n"
    assert (
        "gcloud storage rsync --recursive gs://b/m /opt/models/llama-3.1-8b" in written["/usr/local/lib/llm-server/sync-weights"]["content"]
    )
    assert "/usr/local/lib/llm-server/data-disk" not in written  # no data disk given: the root disk holds /opt/models


def test_stop_and_load_balancer_draining_follow_the_server_s_drain_flag(vllm_spec, triton_spec) -> None:
    def draining(spec, seconds: int):
        return dataclasses.replace(spec, args=(*spec.args, *drain_args(spec.runtime, decide_drain(seconds))))

    # No drain flag (a spec rendered outside a stack): the old fixed 60 s, for stop and load balancer alike.
    assert (stop_seconds(vllm_spec), lb_drain_seconds(vllm_spec)) == (STOP_SECONDS, STOP_SECONDS)
    for spec in (vllm_spec, triton_spec):
        assert stop_seconds(draining(spec, 540)) == 540 + SHUTDOWN_MARGIN_SECONDS  # vLLM/Triton drain, then exit
        assert lb_drain_seconds(draining(spec, 540)) == 540
        assert stop_seconds(draining(spec, 10)) == STOP_SECONDS  # never below the old floor
    assert lb_drain_seconds(draining(vllm_spec, 7200)) == LB_DRAIN_MAX_SECONDS  # ALB and GCP stop at 3600 s
    unit = files(aws_document(draining(vllm_spec, 540)))["/etc/systemd/system/llm-server.service"]["content"]
    assert f"docker stop --time {540 + SHUTDOWN_MARGIN_SECONDS} {CONTAINER_NAME}" in unit
    assert f"TimeoutStopSec={540 + SHUTDOWN_MARGIN_SECONDS + 30}" in unit
