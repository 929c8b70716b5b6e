"""The on-prem method under the recording mock runtime: add-ons, models, security, scaling, alerts."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.kubernetes.model_serving import ModelServingArgs
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline.recorder import DefaultProviderDisabled
from pulumi_llm.onprem import OnPremCluster, OnPremClusterArgs
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs
from pulumi_llm.runtimes import vllm
from pulumi_llm.settings import load
from pulumi_llm.sizing import startup_probe_budget

MODEL = "llama-8b"


def settings(models: dict | None = None, gpu: str = "L4", **extra: object):
    config = {
        "pulumi-llm:environment": "lab",
        "pulumi-llm:cloud": "onprem",
        "pulumi-llm:methods": '["onprem"]',
        "pulumi-llm:onprem": json.dumps({"kube_context": "gpu-lab", "namespace": "models", "gpus": {"accelerator": gpu, "per_node": 4}}),
        "pulumi-llm:serving": json.dumps({"replicas": {"min": 1, "max": 3}}),
        "pulumi-llm:models": json.dumps(
            models
            or {
                MODEL: {
                    "catalog": "llama-3.1-8b-instruct",
                    "source": "pvc://weights/llama/0e9e39f249a16976918f6564b8830bc894c89659",
                    "context": 8192,
                    "revision": "0e9e39f249a16976918f6564b8830bc894c89659",
                }
            }
        ),
    }
    config.update({f"pulumi-llm:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()})
    return load(config, "stacks/Pulumi.lab.yaml")


def plan(**kwargs: Any):
    return run(lambda: LlmPlatform("llm", LlmPlatformArgs(settings=settings(**kwargs), stack="lab")), region="")


def test_platform_builds_explicit_kubernetes_provider_from_context() -> None:
    records = plan()
    platform = only(records, "pulumi-llm:index:LlmPlatform")
    assert children(records, platform) == [
        ("pulumi-llm:index:OnPremCluster", "llm-onprem"),
        ("pulumi:providers:kubernetes", "llm-onprem-k8s"),
    ]
    provider = by_name(records)["llm-onprem-k8s"]
    assert provider.inputs["context"] == "gpu-lab" and provider.inputs["enableServerSideApply"] == "true"
    assert "kubeconfig" not in provider.inputs  # the provider's default lookup; never file contents in state
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("kubernetes:"))


def test_addons_are_pinned_helm_releases_in_their_own_namespaces() -> None:
    records = plan()
    releases = {r.name: r.inputs for r in of_type(records, "kubernetes:helm.sh/v3:Release")}
    assert sorted(releases) == ["llm-onprem-gpu-operator", "llm-onprem-ingress-nginx", "llm-onprem-keda", "llm-onprem-prometheus"]
    expected = {
        "llm-onprem-gpu-operator": (pins.GPU_OPERATOR_CHART, "gpu-operator"),
        "llm-onprem-ingress-nginx": (pins.INGRESS_NGINX_CHART, "ingress-nginx"),
        "llm-onprem-keda": (pins.KEDA_CHART, "keda"),
        "llm-onprem-prometheus": (pins.KUBE_PROMETHEUS_STACK_CHART, "monitoring"),
    }
    for name, (pin, namespace) in expected.items():
        release = releases[name]
        assert (release["chart"], release["version"], release["namespace"]) == (pin.name, pin.version, namespace)
        assert release["repositoryOpts"] == {"repo": pin.repository}
        assert release["atomic"] is True
    # On-prem is the one place the GPU Operator installs drivers.
    assert releases["llm-onprem-gpu-operator"]["values"]["driver"] == {"enabled": True}
    # Streams pass through the ingress unbuffered, with room for long generations.
    config = releases["llm-onprem-ingress-nginx"]["values"]["controller"]["config"]
    assert config["proxy-buffering"] == "off" and config["proxy-read-timeout"] == "3600"
    # Grafana gets no default password and needs no Secret made beforehand: with no existingSecret the
    # chart generates the admin password in the cluster (finding 5).
    grafana = releases["llm-onprem-prometheus"]["values"]["grafana"]
    assert "admin" not in grafana and "adminPassword" not in grafana
    # The releases that render ServiceMonitors wait for the Prometheus Operator's CRDs (finding 6).
    named = by_name(records)
    for name in ("llm-onprem-gpu-operator", "llm-onprem-ingress-nginx", "llm-onprem-keda"):
        assert named["llm-onprem-prometheus"].urn in named[name].depends_on, name


def test_addons_can_be_left_to_the_cluster() -> None:
    records = plan(
        onprem={
            "kube_context": "c",
            "gpu_operator": {"install": False},
            "keda": {"install": False},
            "ingress": {"install": False},
            "prometheus": {"install": False, "url": "http://prom:9090", "namespace": "observability"},
        }
    )
    assert of_type(records, "kubernetes:helm.sh/v3:Release") == []
    scaled = only(records, "kubernetes:keda.sh/v1alpha1:ScaledObject")
    assert {t["metadata"]["serverAddress"] for t in scaled.inputs["spec"]["triggers"]} == {"http://prom:9090"}
    # The cluster's own Prometheus is the one the servers admit to scrape them.
    policy = next(
        r for r in of_type(records, "kubernetes:networking.k8s.io/v1:NetworkPolicy") if r.name == f"llm-onprem-serving-{MODEL}-netpol"
    )
    scrapers = [
        p["namespaceSelector"]["matchLabels"] for rule in policy.inputs["spec"]["ingress"] for p in rule["from"] if "namespaceSelector" in p
    ]
    assert {"kubernetes.io/metadata.name": "observability"} in scrapers
    assert {"kubernetes.io/metadata.name": "monitoring"} not in scrapers


def test_model_server_children_and_names() -> None:
    records = plan()
    server = by_name(records)[f"llm-onprem-serving-{MODEL}"]
    assert server.type == "pulumi-llm:index:ModelServer"
    assert children(records, server) == [
        ("kubernetes:apps/v1:Deployment", f"llm-onprem-serving-{MODEL}-deployment"),
        ("kubernetes:core/v1:Service", f"llm-onprem-serving-{MODEL}-service"),
        ("kubernetes:core/v1:ServiceAccount", f"llm-onprem-serving-{MODEL}-sa"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"llm-onprem-serving-{MODEL}-netpol"),
        ("kubernetes:policy/v1:PodDisruptionBudget", f"llm-onprem-serving-{MODEL}-pdb"),
    ]


def model_deployments(records):
    """The model servers' Deployments (each vLLM model's router has its own, tested in tests/unit/test_router.py)."""
    return [r for r in of_type(records, "kubernetes:apps/v1:Deployment") if not r.name.endswith("-router-deployment")]


def deployment(records):
    return only(model_deployments(records), "kubernetes:apps/v1:Deployment").inputs


def test_pods_run_non_root_read_only_with_no_privileges() -> None:
    pod = deployment(plan())["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [server] = pod["containers"]
    assert server["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert server["image"] == pins.VLLM_OPENAI.ref and "@sha256:" in server["image"]
    # Writable paths are explicit volumes; /dev/shm is memory-backed.
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
    assert volumes["model"] == {"name": "model", "persistentVolumeClaim": {"claimName": "weights", "readOnly": True}}
    assert {m["mountPath"] for m in server["volumeMounts"]} == {"/cache", "/tmp", "/dev/shm", "/models"}


def test_gpus_tensor_parallel_and_sizing_agree() -> None:
    spec = deployment(plan(models={MODEL: {"catalog": "llama-3.1-8b-instruct", "source": "pvc://weights/llama", "gpus": 2}}))["spec"]
    [server] = spec["template"]["spec"]["containers"]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "2" == server["resources"]["requests"]["nvidia.com/gpu"]
    assert "--tensor-parallel-size=2" in server["args"]
    assert spec["template"]["spec"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_probes_and_their_budget_come_from_the_weight_size() -> None:
    small = deployment(plan())["spec"]["template"]["spec"]["containers"][0]
    big = deployment(plan(models={MODEL: {"catalog": "llama-3.3-70b-instruct", "source": "pvc://weights/l70", "gpus": 4}}, gpu="H100-80GB"))
    big = big["spec"]["template"]["spec"]["containers"][0]
    for container, weights_gb in ((small, 16.06), (big, 141.1)):
        startup = container["startupProbe"]
        assert startup["httpGet"] == {"path": "/health", "port": "http"}
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        assert (
            budget == startup_probe_budget(int(weights_gb * 1e9)).seconds
            or abs(budget - startup_probe_budget(int(weights_gb * 1e9)).seconds) <= 10
        )
    assert big["startupProbe"]["failureThreshold"] > small["startupProbe"]["failureThreshold"]
    # Readiness passes only once the model is listed (not merely /health).
    assert small["readinessProbe"]["exec"]["command"] == list(vllm.readiness_command(MODEL))
    assert small["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert small["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    # No gateway in front: streams run up to ingress-nginx's 3600 s; 15 s preStop + 3600 s + 15 s teardown.
    assert deployment(plan())["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 3630


def test_network_policies_deny_by_default_and_admit_ingress_and_scraper_only() -> None:
    records = plan()
    policies = {r.name: r.inputs["spec"] for r in of_type(records, "kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert policies["llm-onprem-serving-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    server = policies[f"llm-onprem-serving-{MODEL}-netpol"]
    assert server["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": MODEL, "app.kubernetes.io/component": "model-server"}}
    # Only the model's router calls the servers; the ingress controller calls the router (its own policy).
    assert server["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": MODEL, "app.kubernetes.io/component": "router"}}}],
            "ports": [{"port": 8000, "protocol": "TCP"}],
        },
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": 8000, "protocol": "TCP"}],
        },
    ]
    # Weights come from a volume: no egress beyond DNS.
    assert [rule.get("ports") for rule in server["egress"]] == [[{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]]


def test_keda_scales_on_waiting_requests_with_fallback_and_slow_scale_down() -> None:
    scaled = only(plan(), "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": MODEL}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"], scaled["pollingInterval"], scaled["cooldownPeriod"]) == (1, 3, 15, 360)
    assert scaled["triggers"] == [
        {
            "type": "prometheus",
            "name": "requests-waiting",
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": "http://kps-prometheus.monitoring.svc.cluster.local:9090",
                "query": f'sum(vllm:num_requests_waiting{{namespace="models",model_name="{MODEL}"}})',
                "threshold": "5",
            },
        }
    ]
    assert scaled["fallback"] == {"failureThreshold": 3, "replicas": 2}
    assert scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    # The autoscaler owns the count: the Deployment is created with the minimum only.
    assert deployment(plan())["spec"]["replicas"] == 1


def test_scale_to_zero_adds_an_ingress_keepalive_trigger() -> None:
    records = plan(serving={"replicas": {"min": 0, "max": 2}, "autoscaling": {"scale_to_zero": True}})
    spec = only(records, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    assert spec["minReplicaCount"] == 0
    keepalive = spec["triggers"][1]
    assert keepalive["name"] == "keepalive"
    assert keepalive["metadata"]["query"] == (
        f'sum(rate(nginx_ingress_controller_requests{{namespace="models",ingress="{MODEL}"}}[1m])) > bool 0'
    )
    assert keepalive["metadata"]["activationThreshold"] == "0"


def test_hpa_engine_uses_prometheus_adapter_metric() -> None:
    records = plan(serving={"replicas": {"min": 1, "max": 3}, "autoscaling": {"engine": "hpa"}})
    hpa = only(records, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert hpa["metrics"] == [
        {"type": "Pods", "pods": {"metric": {"name": "vllm_num_requests_waiting"}, "target": {"type": "AverageValue", "averageValue": "5"}}}
    ]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    adapter = by_name(records)["llm-onprem-prometheus-adapter"].inputs["values"]
    assert adapter["rules"]["custom"][0]["name"] == {"matches": "^vllm:num_requests_waiting$", "as": "vllm_num_requests_waiting"}


def test_alert_rules_cover_queue_kv_ttft_restarts_xid_and_absent_targets() -> None:
    rule = only(plan(), "kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs["spec"]
    alerts = {r["alert"]: r for g in rule["groups"] for r in g["rules"]}
    assert {
        "LlmQueueDepthHigh",
        "LlmKvCacheNearlyFull",
        "LlmTtftP99AboveSlo",
        "LlmContainerRestarting",
        "LlmCrashLooping",
        "LlmGpuXidError",
        "LlmScrapeTargetAbsent",
    } <= set(alerts)
    assert "vllm:kv_cache_usage_perc" in alerts["LlmKvCacheNearlyFull"]["expr"] and "> 0.9" in alerts["LlmKvCacheNearlyFull"]["expr"]
    assert "histogram_quantile(0.99" in alerts["LlmTtftP99AboveSlo"]["expr"] and "> 2" in alerts["LlmTtftP99AboveSlo"]["expr"]
    assert "DCGM_FI_DEV_XID_ERRORS" in alerts["LlmGpuXidError"]["expr"]
    assert alerts["LlmQueueDepthHigh"]["for"] == "5m" and "> 10" in alerts["LlmQueueDepthHigh"]["expr"]


def test_a_model_bigger_than_a_node_runs_as_a_leader_worker_set() -> None:
    records = plan(models={"big": {"catalog": "llama-3.1-70b-instruct", "source": "pvc://weights/l70", "gpus": 8}}, gpu="A100-40GB")
    assert model_deployments(records) == []
    lws = only(records, "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet").inputs["spec"]
    template = lws["leaderWorkerTemplate"]
    assert template["size"] == 2  # 8 GPUs over nodes of 4
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    assert leader["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert "--tensor-parallel-size=4 --pipeline-parallel-size=2 --distributed-executor-backend=ray" in leader["args"][0]
    assert "ray start --head" in leader["args"][0]
    assert "ray start --address=$(LWS_LEADER_ADDRESS)" in template["workerTemplate"]["spec"]["containers"][0]["args"][0]
    service = by_name(records)["llm-onprem-serving-big-service"].inputs["spec"]
    assert service["selector"]["leaderworkerset.sigs.k8s.io/worker-index"] == "0"
    # The router discovers the group leaders only (workers serve nothing).
    router = by_name(records)["llm-onprem-serving-big-router-deployment"].inputs["spec"]["template"]["spec"]["containers"][0]
    assert "leaderworkerset.sigs.k8s.io/worker-index=0" in router["args"]
    assert "llm-onprem-lws" in by_name(records)
    scaled = only(records, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "name": "big"}


def test_a_leader_worker_set_drains_like_a_deployment_and_spreads_whole_groups() -> None:
    records = plan(models={"big": {"catalog": "llama-3.1-70b-instruct", "source": "pvc://weights/l70", "gpus": 8}}, gpu="A100-40GB")
    template = only(records, "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet").inputs["spec"]["leaderWorkerTemplate"]
    leader, worker = template["leaderTemplate"]["spec"], template["workerTemplate"]["spec"]
    # The leader runs vLLM: the drain flag, the preStop and a grace that covers both (no gateway: 3600 s streams).
    assert "--shutdown-timeout=3600" in leader["containers"][0]["args"][0]
    for pod in (leader, worker):
        assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
        assert pod["terminationGracePeriodSeconds"] == 15 + 3600 + 15
    # Replicas spread by their leaders (on-prem zones are unknown: a preference), each group kept in one zone.
    zone = [c for c in leader["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert [c["labelSelector"]["matchLabels"]["leaderworkerset.sigs.k8s.io/worker-index"] for c in zone] == ["0"]
    assert zone[0]["whenUnsatisfiable"] == "ScheduleAnyway"
    for pod in (leader, worker):
        (preferred,) = pod["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert preferred["podAffinityTerm"]["matchLabelKeys"] == ["leaderworkerset.sigs.k8s.io/group-key"]
        assert preferred["podAffinityTerm"]["topologyKey"] == "topology.kubernetes.io/zone"


def test_triton_serves_from_a_config_map_repository_that_matches_vllm_sizing() -> None:
    records = plan(
        models={MODEL: {"catalog": "llama-3.1-8b-instruct", "source": "pvc://weights/llama", "runtime": "triton", "context": 8192}}
    )
    repo = by_name(records)[f"llm-onprem-serving-{MODEL}-model-repository"].inputs
    model_json = json.loads(repo["data"][f"{MODEL}__1__model.json"])
    assert 'backend: "vllm"' in repo["data"][f"{MODEL}__config.pbtxt"]
    container = deployment(records)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == pins.TRITON_VLLM.ref
    # The same model sized for the vLLM server gives the same engine settings (one source of truth).
    vllm_args = deployment(plan())["spec"]["template"]["spec"]["containers"][0]["args"]
    flags = dict(a[2:].split("=", 1) for a in vllm_args if "=" in a)
    assert str(model_json["tensor_parallel_size"]) == flags["tensor-parallel-size"]
    assert str(model_json["gpu_memory_utilization"]) == flags["gpu-memory-utilization"]
    assert model_json["dtype"] == flags["dtype"]
    volumes = {v["name"]: v for v in deployment(records)["spec"]["template"]["spec"]["volumes"]}
    assert volumes["model-repository"]["configMap"]["name"] == f"{MODEL}-model-repository"


def test_default_providers_disabled_means_a_component_without_provider_fails() -> None:
    # The rule the engine applies under `pulumi up` with disable-default-providers ["*"]: proof that
    # the tests above really pass their providers explicitly.
    args = OnPremClusterArgs(
        labels=CommonLabels("lab", "lab"),
        serving=ModelServingArgs(namespace="models", labels=CommonLabels("lab", "lab"), models=[], prometheus_url="http://p:9090"),
    )
    with pytest.raises(
        DefaultProviderDisabled,
        match=r"Default provider for 'kubernetes' disabled\. 'urn:pulumi:test::pulumi-llm::.*' must use an explicit provider\.",
    ):
        run(lambda: OnPremCluster("bare", args), region="")


def test_the_same_component_with_a_provider_passes() -> None:
    args = OnPremClusterArgs(
        labels=CommonLabels("lab", "lab"),
        gpu_operator=False,
        ingress_nginx=False,
        keda=False,
        prometheus=False,
        serving=ModelServingArgs(namespace="models", labels=CommonLabels("lab", "lab"), models=[], prometheus_url="http://p:9090"),
    )
    records = run(lambda: OnPremCluster("bare", args, opts=pulumi.ResourceOptions(providers=[k8s.Provider("k", context="c")])), region="")
    assert only(records, "kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_a_bad_value_raised_inside_the_program_is_a_user_error() -> None:
    def program() -> None:
        raise pulumi.RunError("stacks/Pulumi.lab.yaml: pulumi-llm:x = 1: nope")

    with pytest.raises(UserError, match=r"^stacks/Pulumi.lab.yaml: pulumi-llm:x = 1: nope$"):
        run(program)


def test_copy_from_hub_runs_once_per_revision_before_the_server() -> None:
    records = plan(
        models={
            MODEL: {
                "catalog": "llama-3.1-8b-instruct",
                "source": "pvc://weights/llama/0e9e39f249a16976918f6564b8830bc894c89659",
                "context": 8192,
                "revision": "0e9e39f249a16976918f6564b8830bc894c89659",
                "copy_from_hub": True,
            }
        }
    )
    job = only(records, "kubernetes:batch/v1:Job")
    spec = job.inputs["spec"]["template"]["spec"]
    [download] = spec["containers"]
    assert download["command"][-1] == (
        'HF_TOKEN="$(cat /secrets/token)" exec hf download meta-llama/Llama-3.1-8B-Instruct --revision 0e9e39f249a16976918f6564b8830bc894c89659 '
        "--local-dir /work/llama/0e9e39f249a16976918f6564b8830bc894c89659"
    )
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["work"] == {"name": "work", "persistentVolumeClaim": {"claimName": "weights"}}
    assert volumes["token"]["secret"]["secretName"] == "hf-token"
    assert job.inputs["metadata"]["name"].startswith(f"copy-{MODEL}-")
    # The copy's NetworkPolicy lets it reach DNS and HTTPS only.
    policy = by_name(records)[f"llm-onprem-serving-{MODEL}-copy-netpol"].inputs["spec"]
    assert policy["ingress"] == [] and policy["egress"][1] == {"ports": [{"port": 443, "protocol": "TCP"}]}


def test_copy_needs_a_pinned_revision() -> None:
    with pytest.raises(UserError, match=r"models\.x\.copy_from_hub = true: needs models\.x\.revision: a pinned commit"):
        settings(models={"x": {"catalog": "llama-3.1-8b-instruct", "source": "pvc://w/x", "copy_from_hub": True}})


def test_the_namespace_holding_the_users_claim_is_labelled_not_created() -> None:
    """pvc:// weights are the user's claim, so the namespace is theirs before the first run: the stack labels it
    (server-side apply) instead of creating it, which the provider would refuse for an existing namespace."""
    records = plan()
    [ns] = [r for r in records if r.name == "llm-onprem-serving-ns"]
    assert ns.type == "kubernetes:core/v1:NamespacePatch"
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_an_earlier_runs_namespace_stays_the_stacks_when_asked() -> None:
    """onprem.namespace_exists: false keeps the Namespace an earlier version created: switching it to a patch
    would make `pulumi up` delete the namespace with everything in it."""
    records = plan(
        onprem={"kube_context": "gpu-lab", "namespace": "models", "namespace_exists": False, "gpus": {"accelerator": "L4", "per_node": 4}}
    )
    [ns] = [r for r in records if r.name == "llm-onprem-serving-ns"]
    assert ns.type == "kubernetes:core/v1:Namespace"
