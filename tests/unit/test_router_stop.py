"""How a vLLM router stops with streams in flight: its pod's preStop and grace on Kubernetes
(`router_render.decide_router_drain`), its unit's order and stop time on a GPU VM (`router_vm`).

Before: the router pod's grace was the router's request timeout (3600 s: shorter than the model pods' preStop + longest
stream + margin, and blind to a gateway's longer engine timeout) and its preStop a literal 15; on a GPU VM the router
and the server stopped in parallel at shutdown, so the server's SIGTERM could land while the router still forwarded
streams to it. The router's own behaviour (it drains, `SHUTDOWN`) is measured by
tests/integration/test_router_shutdown.py.
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from helpers import onprem_lab_settings
from pulumi_llm import pins
from pulumi_llm.gpu_vm import cloud_init, router_vm
from pulumi_llm.gpu_vm.cloud_init import MetricsAgent, render_cloud_init
from pulumi_llm.kubernetes import render, resilience
from pulumi_llm.kubernetes import router_render as rr
from pulumi_llm.runtimes import vllm
from pulumi_llm.serving import longest_stream_seconds, router_options
from pulumi_llm.sizing import fit, get_instance_type

WORKERS = rr.KubernetesWorkers(selector={"app.kubernetes.io/name": "chat"}, namespace="llm", port=8000)


def _cuts() -> rr.ShutdownBehaviour:
    """A router that would abort its streams at SIGTERM (not 0.1.17: `SHUTDOWN`)."""
    return dataclasses.replace(rr.SHUTDOWN, finishes_streams=False)


def _pod(options: rr.RouterOptions) -> tuple[dict, dict]:
    pod = rr.deployment_spec("chat", options, WORKERS, pins.PYTHON_SLIM.ref, {})["template"]["spec"]
    return pod, pod["containers"][0]


# --- the decision ---------------------------------------------------------------------------------------------


def test_the_measured_router_drains_with_no_limit_and_no_flag_of_its_own() -> None:
    assert rr.SHUTDOWN.finishes_streams and rr.SHUTDOWN.refuses_new_connections
    assert rr.SHUTDOWN.own_timeout_seconds is None and rr.SHUTDOWN.timeout_flag is None
    assert f"vllm-router {rr.ROUTER_VERSION}" in rr.SHUTDOWN.source and "test_router_shutdown.py" in rr.SHUTDOWN.source


@pytest.mark.parametrize("longest", [1, 900, 3600, 7200])
def test_a_draining_router_gets_the_model_pods_prestop_and_the_longest_stream(longest: int) -> None:
    drain = rr.decide_router_drain(longest)
    assert drain.prestop_seconds == resilience.PRESTOP_SLEEP_SECONDS  # one home: the model pods' sleep
    assert drain.grace_seconds == resilience.PRESTOP_SLEEP_SECONDS + longest + resilience.SHUTDOWN_MARGIN_SECONDS
    assert drain == resilience.decide_drain(longest)  # the same shutdown sequence as a model server's


def test_a_router_that_cut_its_streams_would_get_no_stream_time() -> None:
    drain = rr.decide_router_drain(3600, _cuts())
    assert drain.prestop_seconds == resilience.PRESTOP_SLEEP_SECONDS
    assert drain.grace_seconds == resilience.PRESTOP_SLEEP_SECONDS + resilience.SHUTDOWN_MARGIN_SECONDS
    assert rr.router_drain_args(drain, _cuts()) == []


def test_a_drain_flag_if_the_router_had_one_is_set_to_the_longest_stream() -> None:
    flagged = dataclasses.replace(rr.SHUTDOWN, timeout_flag="--shutdown-timeout-secs")
    assert rr.router_drain_args(rr.decide_router_drain(900), flagged) == ["--shutdown-timeout-secs", "900"]
    # 0.1.17 has none: the flags are the ones the wheel knows.
    assert rr.router_drain_args(rr.decide_router_drain(900)) == []
    assert not any("shutdown" in a or "grace" in a for a in rr.router_args(rr.RouterOptions(), WORKERS))


def test_the_longest_stream_must_be_positive() -> None:
    with pytest.raises(ValueError, match="longest stream"):
        rr.RouterOptions(longest_stream_seconds=0)


# --- the pod ----------------------------------------------------------------------------------------------------


def test_the_router_pod_sleeps_as_the_model_pods_then_has_the_longest_stream_to_drain() -> None:
    pod, router = _pod(rr.RouterOptions())
    prestop = router["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert prestop == resilience.PRESTOP_SLEEP_SECONDS
    # The same numbers as a vLLM model pod of a stack without a gateway (render.DEFAULT_DRAIN: the ingress's 3600 s).
    assert prestop == render.DEFAULT_DRAIN.prestop_seconds
    assert pod["terminationGracePeriodSeconds"] == render.DEFAULT_DRAIN.grace_seconds
    assert pod["terminationGracePeriodSeconds"] >= prestop + resilience.INGRESS_STREAM_SECONDS


def test_a_longer_stream_than_the_routers_request_timeout_still_gets_its_grace() -> None:
    options = rr.RouterOptions(longest_stream_seconds=7200)
    pod, router = _pod(options)
    prestop = router["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= prestop + 7200 > options.request_timeout_seconds


def test_the_stacks_router_options_carry_its_longest_stream() -> None:
    settings = onprem_lab_settings()
    options = router_options(settings)
    assert options is not None and options.longest_stream_seconds == longest_stream_seconds(settings) == 3600


# --- the GPU VM -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def units() -> dict[str, dict[str, list[str]]]:
    """{unit file name: {key: [values]}} of a vLLM server's boot script with its router."""
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), context=8192)
    spec = vllm.vllm_container(
        "chat",
        the_fit,
        vllm.Weights("volume", "/models/llama-3.1-8b"),
        vllm.VllmOptions(image=pins.VLLM_OPENAI.ref, extra_args=resilience.drain_args("vllm", resilience.decide_drain(1800))),
    )
    router = router_vm.vm_router(spec, rr.RouterOptions(), router_vm.InstanceLister(("/bin/true",), "none"))
    document = yaml.safe_load(render_cloud_init(spec, weights_sync=None, metrics=MetricsAgent("none", (), "true"), router=router))
    out: dict[str, dict[str, list[str]]] = {}
    for f in document["write_files"]:
        if f["path"].endswith(".service"):
            keys: dict[str, list[str]] = {}
            for line in f["content"].splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    keys.setdefault(key, []).append(value)
            out[f["path"].rsplit("/", 1)[1]] = keys
    return out


def _listed(unit: dict[str, list[str]], key: str) -> set[str]:
    return {name for value in unit.get(key, []) for name in value.split()}


def test_the_router_unit_stops_before_the_server_at_shutdown(units: dict[str, dict[str, list[str]]]) -> None:
    router, server = units[router_vm.UNIT], units[cloud_init.UNIT]
    # systemd stops in the reverse of the start order: ordered after the server, the router stops (and drains) first.
    assert cloud_init.UNIT in _listed(router, "After")
    assert router_vm.UNIT not in _listed(server, "After") | _listed(server, "Before")  # no cycle
    # The reconciler still stops before the router (it talks to the router's API).
    assert router_vm.UNIT in _listed(units[router_vm.WORKERS_UNIT], "After")


def test_the_router_unit_starts_without_the_local_server(units: dict[str, dict[str, list[str]]]) -> None:
    router = units[router_vm.UNIT]
    # Ordering only: no requirement on the server, so a server that is down or restarting never holds or stops the
    # router, which routes to the group's other VMs too.
    for key in ("Requires", "Requisite", "BindsTo", "PartOf", "Upholds"):
        assert cloud_init.UNIT not in _listed(router, key), key
    assert _listed(router, "WantedBy") == {"multi-user.target"}


def test_the_router_containers_stop_time_covers_the_longest_stream(units: dict[str, dict[str, list[str]]]) -> None:
    (stop,) = units[router_vm.UNIT]["ExecStop"]
    assert stop.startswith("/usr/bin/docker stop --time ")
    seconds = int(stop.split()[3])
    assert seconds >= 1800 + resilience.SHUTDOWN_MARGIN_SECONDS  # the router drains until docker's SIGKILL
    assert int(units[router_vm.UNIT]["TimeoutStopSec"][0]) > seconds
