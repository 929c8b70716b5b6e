"""serving.router-scale-out: every cache_aware vllm-router fronts vLLM pods running with --enable-scale-out.
Real recorded plans of every routed stack, then seeds that change one thing the way a wiring mistake would."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_llm.verify import PlanView, boot_scripts, run_rules
from pulumi_llm.verify.rules import router

from .conftest import fired, manifest

RULE = router.NAME
ROUTED = ("prod", "staging", "gcp-prod", "azure-prod", "onprem")
MODEL = "llama-3-1-8b-instruct"


def found(view: PlanView) -> list[str]:
    return [f"{v.resource}: {v.why}" for v in router.cache_aware_routers_front_scale_out_servers(view)]


def _server(view: PlanView, name: str = MODEL) -> dict[str, Any]:
    return manifest(view, "Deployment", name, "llm")["spec"]["template"]["spec"]["containers"][0]


def _router_args(view: PlanView, name: str = MODEL) -> list[str]:
    return manifest(view, "Deployment", f"{name}-router", "llm")["spec"]["template"]["spec"]["containers"][0]["args"]


@pytest.mark.parametrize("stack", ROUTED)
def test_every_routed_stack_passes_and_is_checked(recorded, stack: str) -> None:
    view = recorded(stack)
    assert found(view) == []
    # The rule had something to check: the default policy is cache_aware and the servers carry the flag once.
    assert "cache_aware" in _router_args(view)
    assert router.vllm_serve_args(_server(view)).count("--enable-scale-out") == 1  # type: ignore[union-attr]


def test_seed_prod_without_the_flag_on_a_models_server(recorded) -> None:
    view = recorded("prod")
    server = _server(view)
    server["args"] = [a for a in server["args"] if a != "--enable-scale-out"]
    assert fired(view) == {RULE}
    [v] = [v for v in run_rules(view) if v.rule == RULE]
    assert v.resource == f"Deployment llm/{MODEL}"
    assert v.why.startswith(
        f"Deployment llm/{MODEL}-router routes to it with policy cache_aware, but its vLLM runs without --enable-scale-out"
    )


def test_seed_onprem_with_the_flag_turned_off(recorded) -> None:
    view = recorded("onprem")
    server = _server(view)
    server["args"] = [("--no-enable-scale-out" if a == "--enable-scale-out" else a) for a in server["args"]]
    assert fired(view) == {RULE}


def test_the_other_spelling_counts(recorded) -> None:
    view = recorded("staging")
    server = _server(view)
    server["args"] = [("--enable_scale_out" if a == "--enable-scale-out" else a) for a in server["args"]]
    assert found(view) == []


@pytest.mark.parametrize("policy", ["power_of_two", "round_robin"])
def test_other_policies_need_no_flag(recorded, policy: str) -> None:
    view = recorded("prod")
    args = _router_args(view)
    args[args.index("--policy") + 1] = policy
    server = _server(view)
    server["args"] = [a for a in server["args"] if a != "--enable-scale-out"]
    assert found(view) == []


def test_seed_a_router_whose_selector_matches_no_pod(recorded) -> None:
    view = recorded("gcp-prod")
    args = _router_args(view)
    i = args.index(f"app.kubernetes.io/name={MODEL}")
    args[i] = "app.kubernetes.io/name=llama-typo"
    assert fired(view) == {RULE}
    [why] = found(view)
    assert why.startswith(f"Deployment llm/{MODEL}-router: policy cache_aware selects") and why.endswith("no pod of the plan")


def test_seed_a_router_in_front_of_a_server_that_is_not_vllm(recorded) -> None:
    view = recorded("azure-prod")
    server = _server(view)
    server["command"], server["args"] = ["tritonserver"], ["--model-repository=/models"]
    [why] = found(view)
    assert "no container runs vLLM's server on port 8000" in why


def test_a_leader_worker_set_leader_starting_vllm_after_ray_is_read() -> None:
    serve = "ray start --head --port=6379 && exec vllm serve /models/big --served-model-name=big --enable-scale-out"
    lws = {
        "kind": "LeaderWorkerSet",
        "metadata": {"name": "big", "namespace": "llm"},
        "spec": {
            "leaderWorkerTemplate": {
                "leaderTemplate": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "big", "app.kubernetes.io/component": "model-server"}},
                    "spec": {"containers": [{"command": ["/bin/sh", "-c"], "args": [serve], "ports": [{"containerPort": 8000}]}]},
                },
            }
        },
    }
    routing = {
        "kind": "Deployment",
        "metadata": {"name": "big-router", "namespace": "llm"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/component": "router"}},
                "spec": {
                    "containers": [
                        {
                            "args": [
                                "--policy",
                                "cache_aware",
                                "--service-discovery",
                                "--service-discovery-namespace",
                                "llm",
                                "--service-discovery-port",
                                "8000",
                                "--selector",
                                "app.kubernetes.io/component=model-server",
                                "app.kubernetes.io/name=big",
                                "leaderworkerset.sigs.k8s.io/worker-index=0",
                            ]
                        }
                    ]
                },
            }
        },
    }
    view = PlanView(stack="s", settings={}, resources=[], manifests=[lws, routing])
    assert found(view) == []
    lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]["args"] = [serve.replace(" --enable-scale-out", "")]
    assert [w.split(":")[0] for w in found(view)] == ["LeaderWorkerSet llm/big"]


def test_vllm_serve_args_from_command_args_or_a_shell_line() -> None:
    assert router.vllm_serve_args({"command": ["vllm", "serve"], "args": ["/m", "--x=1"]}) == ["/m", "--x=1"]
    assert router.vllm_serve_args({"command": ["sh", "-c"], "args": ["exec vllm serve /m '--y=a b'"]}) == ["/m", "--y=a b"]
    assert router.vllm_serve_args({"command": ["tritonserver"], "args": []}) is None


@pytest.mark.parametrize("stack", ROUTED)
def test_no_entry_point_caller_reaches_a_routed_model_pod_directly(recorded, stack: str) -> None:
    """Why --enable-scale-out's extra routes are acceptable: the gateway's and the Ingress's callers (ALB subnets,
    ingress-nginx, a LoadBalancer's sources) reach the router only, never the model pods (NetworkPolicy evaluated).
    The scraper does reach the serving port: vLLM serves /metrics there."""
    from pulumi_llm.verify.netpol import admits
    from pulumi_llm.verify.rules import network_kubernetes as nk

    view = recorded(stack)
    policies = nk._policies(view)
    callers = [c for _what, _service, _port, cs in nk._entry_points(view) for c in cs]
    assert callers, f"{stack}: no entry point caller"
    servers = [(ns, labels, spec) for _w, ns, labels, spec in nk._pods(view) if labels.get("app.kubernetes.io/component") == "model-server"]
    assert servers
    for ns, labels, spec in servers:
        port = nk._port_names(spec)["http"]
        assert not [nk._describe(c) for c in callers if admits(policies, "Ingress", ns, labels, c, port, port_names=nk._port_names(spec))]


# --- GPU-VM groups: the router and the server of one boot script ------------------------------------------------

VM_STACKS = ("dev", "gcp-dev", "azure-dev")


def _boot_resource(view: PlanView) -> dict[str, Any]:
    [resource] = [r for r, script in boot_scripts.boot_scripts(view) if "vllm serve" in script]
    return resource


def _edit_boot_script(view: PlanView, edit: Callable[[str], str]) -> None:
    """Rewrite the VM group's boot script through `edit`, encoded back the way its cloud takes it."""
    resource = _boot_resource(view)
    path = boot_scripts.BOOT_SCRIPT_AT[resource["type"]]
    holder = resource["inputs"]
    for key in path[:-1]:
        holder = holder[key]
    value = holder[path[-1]]
    if path[-1] == "user-data":  # GCP metadata: the text itself
        holder[path[-1]] = edit(value)
        return
    raw = base64.b64decode(value)
    zipped = raw[:2] == b"\x1f\x8b"
    text = edit((gzip.decompress(raw) if zipped else raw).decode())
    out = gzip.compress(text.encode()) if zipped else text.encode()
    holder[path[-1]] = base64.b64encode(out).decode()


def _vm_where(view: PlanView) -> str:
    resource = _boot_resource(view)
    return f"{resource['type']} {resource['name']}"


@pytest.mark.parametrize("stack", VM_STACKS)
def test_every_vm_router_stack_passes_and_is_checked(recorded, stack: str) -> None:
    view = recorded(stack)
    assert found(view) == []
    # The rule had something to check: one group, its router cache_aware, its vLLM with the flag once.
    [(resource, policy, servers)] = list(router.vm_groups(view))
    assert policy == "cache_aware" and resource is _boot_resource(view)
    assert [args.count("--enable-scale-out") for args in servers] == [1]


@pytest.mark.parametrize("stack", VM_STACKS)
def test_seed_a_vm_group_whose_server_lost_the_flag(recorded, stack: str) -> None:
    view = recorded(stack)
    _edit_boot_script(view, lambda s: s.replace("--enable-scale-out", ""))
    assert fired(view) == {RULE}
    [v] = [v for v in run_rules(view) if v.rule == RULE]
    assert v.resource == _vm_where(view)
    assert v.why.startswith("its router runs with policy cache_aware, but its vLLM runs without --enable-scale-out")


@pytest.mark.parametrize("stack", VM_STACKS)
def test_a_vm_group_with_another_policy_needs_no_flag(recorded, stack: str) -> None:
    view = recorded(stack)
    _edit_boot_script(view, lambda s: s.replace("--policy cache_aware", "--policy round_robin").replace("--enable-scale-out", ""))
    assert found(view) == []


def test_seed_a_vm_group_whose_router_fronts_no_vllm(recorded) -> None:
    view = recorded("dev")
    where = _vm_where(view)
    _edit_boot_script(view, lambda s: s.replace("vllm serve", "tritonserver"))
    [why] = found(view)
    assert why.startswith(f"{where}: its router runs with policy cache_aware, but its boot script runs no vLLM server")


def test_the_boot_script_decoders_read_each_cloud(recorded) -> None:
    for stack in VM_STACKS:
        files = boot_scripts.boot_files(next(s for _r, s in boot_scripts.boot_scripts(recorded(stack)) if "vllm serve" in s))
        assert any("--policy cache_aware" in content for content in files.values()), stack
    assert boot_scripts.decode(base64.b64encode(gzip.compress(b"#cloud-config\n")).decode()) == "#cloud-config\n"
    assert boot_scripts.decode("#cloud-config\nnot base64") is None
