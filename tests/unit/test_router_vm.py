"""The vLLM router on GPU-VM groups (gpu_vm/router_vm.py, router_workers.py, aws_boot.instance_lister): pure decisions
and the boot-script pieces. The real router with the rendered reconciler: tests/integration/test_vm_router.py."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import jmespath
import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.gpu_vm import aws_boot, router_vm, router_workers
from pulumi_llm.gpu_vm.cloud_init import MetricsAgent, render_cloud_init
from pulumi_llm.kubernetes import router_render as rr
from pulumi_llm.runtimes import triton, vllm
from pulumi_llm.settings import Settings
from pulumi_llm.settings.checks_effect import READ_BY
from pulumi_llm.settings.models import RouterSettings
from pulumi_llm.sizing import fit, get_instance_type

LISTER = router_vm.InstanceLister(("/bin/echo", "10.0.0.7"), "a fixed address")
NO_AGENT = MetricsAgent(name="none", files=(), script="true")


@pytest.fixture(scope="module")
def spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), context=8192)
    return vllm.vllm_container(
        "chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref)
    )


@pytest.fixture(scope="module")
def router(spec):
    made = router_vm.vm_router(spec, rr.RouterOptions(policy="cache_aware"), LISTER, log_args=("--log-driver=none",))
    assert made is not None
    return made


@pytest.fixture(scope="module")
def written(spec, router) -> dict[str, str]:
    document = yaml.safe_load(render_cloud_init(spec, weights_sync=None, metrics=NO_AGENT, router=router))
    return {f["path"]: f["content"] for f in document["write_files"]}


# --- the reconciler's decisions ----------------------------------------------------------------------------


def test_listed_healthy_workers_are_added_and_unlisted_ones_removed() -> None:
    a, b, c = (router_workers.worker_url(ip, 8000) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"))
    assert router_workers.decide_changes(current={a, c}, listed={a, b}, healthy={b}) == ([b], [c])


def test_a_listed_worker_not_yet_healthy_waits_and_an_unhealthy_one_in_the_router_stays() -> None:
    a, b = (router_workers.worker_url(ip, 8000) for ip in ("10.0.0.1", "10.0.0.2"))
    # b still loading (no 200 from /health): not added (the router's add_worker would block on it);
    # a listed but unhealthy: kept — the router itself stops routing to it, the cloud replaces the VM.
    assert router_workers.decide_changes(current={a}, listed={a, b}, healthy=set()) == ([], [])


def test_an_empty_listing_empties_the_router() -> None:
    a = router_workers.worker_url("10.0.0.1", 8000)
    assert router_workers.decide_changes(current={a}, listed=set(), healthy=set()) == ([], [a])


def test_the_listing_is_ipv4_addresses_and_anything_else_is_refused() -> None:
    assert router_workers.parse_listing("10.0.0.1\n\n 10.0.0.2 \n10.0.0.1\n") == {"10.0.0.1", "10.0.0.2"}
    with pytest.raises(ValueError):
        router_workers.parse_listing("10.0.0.1\nAn error occurred (Throttling)\n")


def test_a_failing_lister_changes_nothing(tmp_path: Path) -> None:
    lister = tmp_path / "list"
    lister.write_text("#!/bin/sh\necho 'throttled' >&2\nexit 255\n")
    lister.chmod(0o755)
    # The router URL is never reached: the round stops at the lister.
    with pytest.raises(OSError, match="exited 255: throttled"):
        router_workers.reconcile_once(str(lister), "http://127.0.0.1:9", 8000, timeout=10)


# --- which groups get a router -------------------------------------------------------------------------------


def test_only_vllm_servers_get_a_router_and_only_when_the_policy_is_not_off(spec) -> None:
    assert router_vm.vm_router(spec, None, LISTER) is None
    triton_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), runtime="triton")
    triton_spec = triton.triton_container("chat", triton_fit, image=pins.TRITON_VLLM.ref)
    assert router_vm.vm_router(triton_spec, rr.RouterOptions(), LISTER) is None
    assert router_vm.traffic_port(spec, None) == 8000
    assert router_vm.traffic_port(spec, router_vm.vm_router(spec, rr.RouterOptions(), LISTER)) == router_vm.ROUTER_PORT != 8000


def _settings(router: object) -> Settings:
    """What router_options reads of the settings: `serving.router`, validated as a stack file's would be."""
    return cast(Settings, SimpleNamespace(serving=SimpleNamespace(router=RouterSettings.model_validate(router))))


def test_router_options_follow_serving_router() -> None:
    options = router_vm.router_options(_settings({"policy": "round_robin", "index_url": "https://pypi.example/simple"}))
    assert options is not None and (options.policy, options.index_url) == ("round_robin", "https://pypi.example/simple")
    assert router_vm.router_options(_settings("off")) is None


def test_a_vm_routers_prefix_tree_is_sized_from_one_servers_kv_cache_as_on_kubernetes() -> None:
    bound = rr.RouterOptions().max_tree_size
    small = router_vm.router_options(_settings({"policy": "cache_aware"}), kv_tokens=1000)
    assert small is not None and small.max_tree_size == rr.decide_max_tree_size(1000, bound) < bound
    unknown = router_vm.router_options(_settings({"policy": "cache_aware"}))
    assert unknown is not None and unknown.max_tree_size == bound


def test_serving_router_is_read_by_the_gpu_vm_method() -> None:
    assert "gpu-vm" in READ_BY["serving.router"]


# --- what the boot script runs -------------------------------------------------------------------------------


def test_the_wheel_is_installed_hash_checked_with_the_pinned_image_once(written) -> None:
    script = written[f"{router_vm.ROUTER_DIR}/install"]
    assert written[f"{router_vm.REQUIREMENTS_HOST_DIR}/{rr.REQUIREMENTS_FILE}"] == rr.requirements_text()
    pip = shlex.join(rr.install_command(None))
    assert pip in script and "--require-hashes" in pip
    assert f"[ -e {router_vm.requirements_marker()} ] && exit 0" in script
    assert pins.PYTHON_SLIM.ref in script and "--user 1000:1000 --read-only --cap-drop ALL --security-opt no-new-privileges" in script


def test_the_router_runs_hardened_with_the_kubernetes_flags_and_loopback_metrics(spec, router, written) -> None:
    argv = router_vm.run_argv(spec, router)
    joined = " ".join(argv)
    assert "--user 1000:1000 --read-only --cap-drop ALL --security-opt no-new-privileges" in joined
    assert f"--volume {router_vm.SITE_HOST_DIR}:{rr.SITE_DIR}:ro" in joined
    assert "--publish 8080:8080 --publish 127.0.0.1:29000:29000" in joined
    assert "--log-driver=none" in argv and "--network" not in argv  # bridge: no instance metadata with hop limit 1
    flags = argv[argv.index(rr.LAUNCHER) + 1 :]
    assert flags == rr.router_args(router.options, rr.StaticWorkers(()), port=8080, metrics_port=29000)
    assert flags[flags.index("--policy") + 1] == "cache_aware"
    assert written[f"{router_vm.ROUTER_DIR}/run"].startswith("#!/bin/sh\n")


def test_the_reconciler_shipped_is_router_workers_py_run_every_15_seconds(spec, written) -> None:
    assert written[router_vm.RECONCILER] == Path(router_workers.__file__).read_text()
    unit = written[f"/etc/systemd/system/{router_vm.WORKERS_UNIT}"]
    assert f"ExecStart={shlex.join(router_vm.reconciler_argv(spec))}" in unit
    assert "--router http://127.0.0.1:8080 --port 8000 --interval 15" in unit
    assert written[router_vm.LISTER] == "#!/bin/sh\n# a fixed address: one private IPv4 address a line.\nexec /bin/echo 10.0.0.7\n"


# --- AWS -----------------------------------------------------------------------------------------------------


def test_the_aws_lister_finds_the_group_by_tags_and_its_instances_by_security_group() -> None:
    tags = {"pulumi-llm:stack": "dev", "pulumi-llm:method": "gpu-vm", "pulumi-llm:model": "chat", "other": "x"}
    lister = aws_boot.instance_lister("eu-west-1", tags, "sg-0abc")
    assert lister.command[:2] == ("/bin/sh", "-c")
    script = lister.command[2]
    assert "Name=tag:pulumi-llm:stack,Values=dev Name=tag:pulumi-llm:method,Values=gpu-vm Name=tag:pulumi-llm:model,Values=chat" in script
    assert "other" not in script and "Name=instance.group-id,Values=sg-0abc" in script
    assert pins.AWS_CLI.ref in script and "--network host" in script


def test_the_aws_lister_query_keeps_in_service_healthy_instances() -> None:
    script = aws_boot.instance_lister("eu-west-1", dict.fromkeys(aws_boot.GROUP_TAGS, "x"), "sg-1").command[2]
    query = shlex.split(script.split("ids=$(", 1)[1].split(")\n", 1)[0])
    expression = query[query.index("--query") + 1]
    described = {
        "AutoScalingGroups": [
            {
                "Instances": [
                    {"InstanceId": "i-1", "LifecycleState": "InService", "HealthStatus": "Healthy"},
                    {"InstanceId": "i-2", "LifecycleState": "Pending", "HealthStatus": "Healthy"},
                    {"InstanceId": "i-3", "LifecycleState": "InService", "HealthStatus": "Unhealthy"},
                    {"InstanceId": "i-4", "LifecycleState": "Terminating", "HealthStatus": "Healthy"},
                ]
            },
            {"Instances": [{"InstanceId": "i-5", "LifecycleState": "InService", "HealthStatus": "Healthy"}]},
        ]
    }
    assert jmespath.search(expression, described) == ["i-1", "i-5"]


def test_the_aws_agent_scrapes_and_exports_the_router_metrics(spec) -> None:
    config = json.loads(aws_boot.agent_config(spec, log_group="g", router=True))
    declarations = config["logs"]["metrics_collected"]["prometheus"]["emf_processor"]["metric_declaration"]
    router = next(d for d in declarations if d["label_matcher"] == "^llm-router$")
    assert router["metric_selectors"] == [f"^{name}$" for name in router_vm.METRIC_NAMES]
    jobs = yaml.safe_load(aws_boot.prometheus_config(spec, "dev/chat", router=True))["scrape_configs"]
    assert [(j["job_name"], j["static_configs"][0]["targets"]) for j in jobs] == [
        ("llm-server", ["127.0.0.1:8000"]),
        ("llm-router", [router_vm.METRICS_TARGET]),
    ]
    assert (
        len(
            json.loads(aws_boot.agent_config(spec, log_group="g"))["logs"]["metrics_collected"]["prometheus"]["emf_processor"][
                "metric_declaration"
            ]
        )
        == 1
    )


def test_the_aws_boot_script_needs_the_group_to_list_it(spec) -> None:
    with pytest.raises(ValueError, match="tags and security group"):
        aws_boot.aws_user_data(
            spec,
            bucket_arn="arn:aws:s3:::b",
            key_prefix="p",
            region="eu-west-1",
            log_group="g",
            deployment="dev/chat",
            router=rr.RouterOptions(),
        )


def test_the_dashboard_gets_one_router_graph_per_panel_with_a_line_per_model() -> None:
    from pulumi_llm.monitoring.cloudwatch import dashboard_body

    panels = aws_boot.router_panels({"chat": "dev/llm-vm-chat", "code": "dev/llm-vm-code"})
    assert [p["title"] for p in panels] == [f"vLLM routers: {title}" for title, _, _ in aws_boot.ROUTER_PANELS]
    assert {row[1] for p in panels for row in p["metrics"]} <= set(router_vm.METRIC_NAMES)
    assert [row[3] for row in panels[0]["metrics"]] == ["dev/llm-vm-chat", "dev/llm-vm-code"]
    widgets = json.loads(dashboard_body([], region="us-east-1", title="t", panels=panels))["widgets"]
    graphs = [w for w in widgets if w["type"] == "metric"]
    assert [g["properties"]["title"] for g in graphs] == [p["title"] for p in panels]
    assert {(g["x"], g["y"]) for g in graphs} == {(0, 1), (12, 1), (0, 7), (12, 7)}  # a 2-wide grid under the header
