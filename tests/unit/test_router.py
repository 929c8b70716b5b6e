"""The vLLM router's renderers (kubernetes/router_render.py), its decision and its settings."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from helpers import onprem_lab_settings
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.kubernetes import router_render as rr
from pulumi_llm.kubernetes.router import ROUTER_PANELS, decide_router, router_dashboard_data, router_workers
from pulumi_llm.runtimes.spec import ContainerSpec
from pulumi_llm.serving import container, router_options, router_summary, served_models, stack_sizing

WORKERS = rr.KubernetesWorkers(
    selector={"app.kubernetes.io/name": "chat", "app.kubernetes.io/component": "model-server"}, namespace="llm", port=8000
)


def _flag(args: list[str], name: str) -> list[str]:
    """The values after `name` up to the next flag."""
    i = args.index(name)
    out: list[str] = []
    for token in args[i + 1 :]:
        if token.startswith("--"):
            break
        out.append(token)
    return out


def test_kubernetes_args_discover_the_models_pods_in_its_namespace() -> None:
    args = rr.router_args(rr.RouterOptions(), WORKERS)
    assert _flag(args, "--policy") == ["cache_aware"]
    assert "--service-discovery" in args and "--worker-urls" not in args
    assert _flag(args, "--service-discovery-namespace") == ["llm"]
    assert _flag(args, "--service-discovery-port") == ["8000"]
    assert _flag(args, "--selector") == ["app.kubernetes.io/component=model-server", "app.kubernetes.io/name=chat"]
    # Metrics bound to the pod's address (upstream binds 127.0.0.1), on the port the Service names.
    assert _flag(args, "--prometheus-host") == ["0.0.0.0"] and _flag(args, "--prometheus-port") == [str(rr.METRICS_PORT)]
    assert _flag(args, "--request-timeout-secs") == ["3600"]


@pytest.mark.parametrize("policy", rr.POLICIES)
def test_static_workers_and_each_policy(policy: rr.Policy) -> None:
    args = rr.router_args(rr.RouterOptions(policy=policy), rr.StaticWorkers(("http://a:1", "http://b:2")), host="127.0.0.1", port=9)
    assert _flag(args, "--worker-urls") == ["http://a:1", "http://b:2"]
    assert _flag(args, "--policy") == [policy]
    assert "--service-discovery" not in args
    assert _flag(args, "--host") == ["127.0.0.1"] and _flag(args, "--port") == ["9"]


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="random"):
        rr.RouterOptions(policy="random")  # type: ignore[arg-type]


def test_the_wheel_is_pinned_by_version_and_hash() -> None:
    text = rr.requirements_text()
    assert text.startswith(f"vllm-router=={rr.ROUTER_VERSION} ")
    assert sorted(re.findall(r"--hash=sha256:([0-9a-f]{64})", text)) == sorted(rr.ROUTER_WHEELS.values())
    assert len(rr.ROUTER_WHEELS) == 2 and all(name.startswith(f"vllm_router-{rr.ROUTER_VERSION}-") for name in rr.ROUTER_WHEELS)
    command = rr.install_command(None)
    for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:", "--no-cache-dir"):
        assert flag in command
    assert "--index-url" not in command
    assert rr.install_command("https://mirror.example/simple")[-2:] == ["--index-url", "https://mirror.example/simple"]


def test_deployment_runs_restricted_read_only_pods_from_the_pinned_image() -> None:
    spec = rr.deployment_spec("chat", rr.RouterOptions(), WORKERS, pins.PYTHON_SLIM.ref, {"team": "ml"})
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "chat", "app.kubernetes.io/component": "router"}}
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "chat-router"
    install, router = pod["initContainers"][0], pod["containers"][0]
    for box in (install, router):
        assert box["image"] == pins.PYTHON_SLIM.ref and "@sha256:" in box["image"]
        assert box["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        }
        assert box["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}}
    assert install["command"] == rr.install_command(None)
    assert router["command"] == ["python", "-c", rr.LAUNCHER] and router["args"] == rr.router_args(rr.RouterOptions(), WORKERS)
    assert router["livenessProbe"]["httpGet"] == {"path": "/liveness", "port": "http"}
    assert router["readinessProbe"]["httpGet"] == {"path": "/readiness", "port": "http"}
    assert router["startupProbe"]["httpGet"] == {"path": "/liveness", "port": "http"}
    assert {p["name"]: p["containerPort"] for p in router["ports"]} == {"http": rr.HTTP_PORT, "metrics": rr.METRICS_PORT}
    # Every writable path is an emptyDir (the root filesystem is read-only).
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert {m["name"] for c in (install, router) for m in c["volumeMounts"]} <= set(volumes)
    assert volumes["site"]["emptyDir"] and volumes["tmp"]["emptyDir"]
    assert volumes["requirements"] == {"name": "requirements", "configMap": {"name": "chat-router"}}
    # The API token reaches the router container only (discovery), projected as the kubelet's automount would.
    token = [m for c in (install, router) for m in c["volumeMounts"] if m["name"] == "kube-api-access"]
    assert token == [{"name": "kube-api-access", "mountPath": rr.TOKEN_DIR, "readOnly": True}]
    assert token[0] in router["volumeMounts"]
    sources = volumes["kube-api-access"]["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"path": "token", "expirationSeconds": rr.TOKEN_SECONDS}}


def test_pdb_service_and_monitor_select_the_routers_pods_only() -> None:
    selector = {"app.kubernetes.io/name": "chat", "app.kubernetes.io/component": "router"}
    assert rr.pdb_spec("chat") == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    service = rr.service_spec("chat")
    assert service["selector"] == selector
    assert [(p["name"], p["port"]) for p in service["ports"]] == [("http", rr.HTTP_PORT), ("metrics", rr.METRICS_PORT)]
    assert rr.monitor_spec("chat") == {
        "selector": {"matchLabels": selector},
        "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
    }
    assert rr.role_rules() == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_network_policy_admits_clients_and_scraper_and_reaches_only_the_models_pods() -> None:
    gateway = {"ipBlock": {"cidr": "10.40.18.0/26"}}
    scraper = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    policy = rr.network_policy_spec("chat", clients=[gateway], scrapers=[scraper], model_port=8000, model_selector=WORKERS.selector)
    assert policy["podSelector"] == {"matchLabels": rr.selector_labels("chat")}
    assert policy["ingress"] == [
        {"from": [gateway], "ports": [{"port": rr.HTTP_PORT, "protocol": "TCP"}]},
        {"from": [scraper], "ports": [{"port": rr.METRICS_PORT, "protocol": "TCP"}]},
    ]
    to_models = policy["egress"][1]
    assert to_models == {"to": [{"podSelector": {"matchLabels": dict(WORKERS.selector)}}], "ports": [{"port": 8000, "protocol": "TCP"}]}
    # No clients: no API rule at all (an empty `from` would admit everyone).
    bare = rr.network_policy_spec("chat", clients=[], scrapers=[], model_port=8000, model_selector=WORKERS.selector)
    assert bare["ingress"] == []


def _spec(runtime: str) -> ContainerSpec:
    """The rendered vLLM container of model `chat`, as another runtime where asked."""
    spec = container(onprem_lab_settings(), "chat")
    return dataclasses.replace(spec, runtime=runtime)


def test_decide_router_fronts_vllm_only_and_only_when_asked() -> None:
    assert decide_router(rr.RouterOptions(), _spec("vllm")) == {"podSelector": {"matchLabels": rr.selector_labels("chat")}}
    assert decide_router(None, _spec("vllm")) is None
    assert decide_router(rr.RouterOptions(), _spec("triton")) is None


def test_router_workers_select_group_leaders_of_a_leader_worker_set() -> None:
    assert router_workers(_spec("vllm"), "llm", "Deployment").selector == {
        "app.kubernetes.io/name": "chat",
        "app.kubernetes.io/component": "model-server",
    }
    lws = router_workers(_spec("vllm"), "llm", "LeaderWorkerSet")
    assert lws.selector["leaderworkerset.sigs.k8s.io/worker-index"] == "0" and lws.port == 8000


def test_dashboard_panels_read_the_routers_services() -> None:
    data = router_dashboard_data("llm", ["chat", "code"], "LLM routers — lab")
    (board,) = [json.loads(v) for v in data.values()]
    assert [p["title"] for p in board["panels"]] == [p.title for p in ROUTER_PANELS]
    job = next(v for v in board["templating"]["list"] if v["name"] == "job")
    assert job["query"] == "chat-router,code-router"
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    assert all('job=~"$job"' in e for e in exprs)


def test_settings_default_to_cache_aware_and_off_turns_it_off() -> None:
    # cache_aware: its vLLM models get --enable-scale-out from the stack (runtimes/vllm.py decide_scale_out).
    default = router_options(onprem_lab_settings())
    assert default is not None and default == rr.RouterOptions(policy="cache_aware")
    assert _flag(rr.router_args(default, WORKERS), "--policy") == ["cache_aware"]
    assert router_options(onprem_lab_settings({"router": {"policy": "power_of_two"}})) == rr.RouterOptions(policy="power_of_two")
    assert router_options(onprem_lab_settings({"router": {"policy": "round_robin", "replicas": 3}})) == rr.RouterOptions(
        policy="round_robin", replicas=3
    )
    assert router_options(onprem_lab_settings({"router": "off"})) is None
    assert router_options(onprem_lab_settings({"router": False})) is None


def _served_args(serving: dict | None = None, extra_args: list[str] | None = None) -> tuple[str, ...]:
    """The args of chat's server as the cluster runs it (serving.served_models)."""
    settings = onprem_lab_settings(serving)
    if extra_args is not None:
        chat = settings.models["chat"].model_copy(update={"extra_args": extra_args})
        settings = settings.model_copy(update={"models": {"chat": chat}})
    [model] = served_models(settings)
    return model.container.args


def test_served_vllm_behind_the_default_router_runs_with_scale_out_once() -> None:
    assert _served_args().count("--enable-scale-out") == 1
    assert _served_args({"router": {"policy": "cache_aware"}}, ["--enable-scale-out"]).count("--enable-scale-out") == 1


@pytest.mark.parametrize("router", [{"policy": "power_of_two"}, {"policy": "round_robin"}, "off"])
def test_served_vllm_without_a_cache_aware_router_has_no_scale_out(router: object) -> None:
    assert "--enable-scale-out" not in _served_args({"router": router})


def test_container_alone_adds_scale_out_only_when_told_the_routers_policy() -> None:
    # The GPU-VM and edge paths call serving.container without a router policy: no flag.
    assert "--enable-scale-out" not in container(onprem_lab_settings(), "chat").args
    assert container(onprem_lab_settings(), "chat", router_policy="cache_aware").args.count("--enable-scale-out") == 1


def test_a_bad_policy_is_one_line_naming_the_key() -> None:
    with pytest.raises(UserError) as err:
        onprem_lab_settings({"router": {"policy": "least_loaded"}})
    message = str(err.value)
    assert "serving.router.policy" in message and "least_loaded" in message and "\n" not in message


def test_sizing_summary_names_the_router_and_keeps_per_replica_concurrency() -> None:
    with_router = stack_sizing(onprem_lab_settings())[0]
    without = stack_sizing(onprem_lab_settings({"router": "off"}))[0]
    assert with_router["router"] == {
        "policy": "cache_aware",
        "replicas": 2,
        "cpu_request": "500m",
        "cpu_limit": "2",
        "memory_request": "256Mi",
        "memory_limit": "1Gi",
        # A replica's KV cache in tree units (8 per token), under the 4,194,304 ceiling.
        "max_tree_size": with_router["kv_tokens"] * rr.TREE_UNITS_PER_TOKEN,
        "version": rr.ROUTER_VERSION,
    }
    assert with_router["kv_tokens"] * rr.TREE_UNITS_PER_TOKEN < rr.RouterOptions().max_tree_size
    assert "router" not in without
    assert {k: v for k, v in with_router.items() if k != "router"} == without
    assert router_summary(onprem_lab_settings({"router": "off"}), "chat") is None


def test_max_tree_size_follows_a_replicas_kv_cache_under_the_ceiling() -> None:
    assert rr.decide_max_tree_size(176_889, 4_194_304) == 1_415_112  # 8 tree units per token
    assert rr.decide_max_tree_size(600_000, 4_194_304) == 4_194_304  # the ceiling the memory limit was set for
    assert rr.decide_max_tree_size(None, 4_194_304) == 4_194_304
    assert rr.decide_max_tree_size(0, 1_000) == 1_000


def test_each_models_router_gets_its_own_tree_size() -> None:
    [model] = served_models(onprem_lab_settings())
    assert model.kv_tokens is not None and model.kv_tokens > 0
    assert router_summary(onprem_lab_settings(), "chat")["max_tree_size"] == model.kv_tokens * 8  # type: ignore[index]
