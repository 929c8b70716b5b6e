"""Issue 18, fixes 3 and 4: replicas that survive spot and rollouts.

Before the fix every model-server Deployment replaced one replica at a time (maxSurge 0, maxUnavailable 1: two
replicas lost half their capacity for up to the startup budget), its pods got 60 s to stop while streams ran up
to the gateway's engine timeout (and vLLM aborted them on SIGTERM), zone spread was only a preference, the
Karpenter NodePool mixed spot and on-demand with no on-demand floor, AKS' autoscaler had no order between its
Spot and Regular pools, and GKE's ComputeClass tried spot first for every replica.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pulumi_llm import serving
from pulumi_llm.cluster import aks_render, eks_render, gke_render
from pulumi_llm.errors import UserError
from pulumi_llm.kubernetes import render, resilience
from pulumi_llm.runtimes import registry
from pulumi_llm.settings import load

SOURCE = "stacks/Pulumi.lab.yaml"
LLAMA_8B = {"catalog": "llama-3.1-8b-instruct", "source": "store://llama", "context": 8192}


# ---- the pure decisions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "spare", "per_replica", "expected"),
    [
        ("auto", 4, 4, resilience.SURGE),  # room for exactly one more replica
        ("auto", 3, 4, resilience.REPLACE),  # not enough for a whole replica
        ("auto", None, 1, resilience.REPLACE),  # capacity unknown (on-prem): no guess
        ("surge", None, 1, resilience.SURGE),
        ("replace", 100, 1, resilience.REPLACE),
    ],
)
def test_rollout_surges_only_where_the_gpu_cap_leaves_room(policy: Any, spare: int | None, per_replica: int, expected: Any) -> None:
    assert resilience.decide_rollout(policy, spare_gpus=spare, gpus_per_replica=per_replica) == expected
    assert (resilience.SURGE.max_surge, resilience.SURGE.max_unavailable) == (1, 0)
    assert (resilience.REPLACE.max_surge, resilience.REPLACE.max_unavailable) == (0, 1)


def test_grace_covers_the_prestop_the_longest_stream_and_the_teardown() -> None:
    drain = resilience.decide_drain(540)
    assert (drain.prestop_seconds, drain.shutdown_timeout_seconds, drain.grace_seconds) == (15, 540, 570)
    assert drain.grace_seconds >= drain.prestop_seconds + drain.shutdown_timeout_seconds
    with pytest.raises(ValueError):
        resilience.decide_drain(0)


def test_each_server_runtime_gets_its_drain_flag() -> None:
    drain = resilience.decide_drain(210)
    assert resilience.drain_args("vllm", drain) == ("--shutdown-timeout=210",)
    # tritonserver waits only --exit-timeout-secs (default 30) for in-flight inferences on SIGTERM
    assert resilience.drain_args("triton", drain) == ("--exit-timeout-secs=210",)
    assert resilience.drain_args("llamacpp", drain) == ()  # edge devices: no rollout drains them


@pytest.mark.parametrize(
    ("zones", "expected"), [(3, "DoNotSchedule"), (2, "DoNotSchedule"), (1, "ScheduleAnyway"), (None, "ScheduleAnyway")]
)
def test_zone_spread_is_a_requirement_only_across_zones(zones: int | None, expected: str) -> None:
    assert resilience.decide_zone_spread(zones) == expected


def test_on_demand_floor_is_the_fewest_replicas_gpus_unless_all_spot() -> None:
    assert resilience.on_demand_floor_gpus([(4, 2), (1, 2)], all_spot=False) == 10
    assert resilience.on_demand_floor_gpus([(4, 2), (1, 2)], all_spot=True) == 0


# ---- the rendered Deployment ---------------------------------------------------------------------


def _deployment(placement: render.Placement, rollout: resilience.Rollout, drain: resilience.Drain) -> dict[str, Any]:
    settings = load(_onprem(), SOURCE)
    spec = serving.container(settings, "chat")
    return render.deployment_spec(
        spec,
        replicas=2,
        labels={},
        annotations={"pulumi-llm.dev/revision": "abc"},
        placement=placement,
        service_account="chat",
        model_claim="weights",
        rollout=rollout,
        drain=drain,
    )


def test_deployment_surges_drains_and_spreads_as_decided() -> None:
    placement = eks_render.gpu_placement(1, zones=3)
    body = _deployment(placement, resilience.SURGE, resilience.decide_drain(540))
    assert body["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = body["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 570
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    spread = {c["topologyKey"]: c["whenUnsatisfiable"] for c in pod["topologySpreadConstraints"]}
    assert spread == {"kubernetes.io/hostname": "ScheduleAnyway", "topology.kubernetes.io/zone": "DoNotSchedule"}
    # Karpenter never consolidates a node away from under a GPU server; the revision annotation stays.
    assert body["template"]["metadata"]["annotations"] == {"karpenter.sh/do-not-disrupt": "true", "pulumi-llm.dev/revision": "abc"}
    preferred = pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred == [
        {
            "weight": 100,
            "preference": {"matchExpressions": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}]},
        }
    ]


def test_a_cluster_without_known_zones_keeps_spread_a_preference() -> None:
    body = _deployment(render.Placement(), resilience.REPLACE, render.DEFAULT_DRAIN)
    pod = body["template"]["spec"]
    assert {c["whenUnsatisfiable"] for c in pod["topologySpreadConstraints"]} == {"ScheduleAnyway"}
    assert "affinity" not in pod and body["template"]["metadata"]["annotations"] == {"pulumi-llm.dev/revision": "abc"}
    assert pod["terminationGracePeriodSeconds"] == 15 + 3600 + 15  # the ingress's 3600 s streams


# ---- settings → decisions (serving.py) -------------------------------------------------------------


def _onprem(serving_settings: dict[str, Any] | None = None) -> dict[str, str]:
    return {
        "pulumi-llm:environment": "lab",
        "pulumi-llm:cloud": "onprem",
        "pulumi-llm:methods": '["onprem"]',
        "pulumi-llm:onprem": json.dumps({"kube_context": "lab", "gpus": {"accelerator": "L40S", "per_node": 8}}),
        "pulumi-llm:models": json.dumps({"chat": {**LLAMA_8B, "source": "pvc://weights/llama"}}),
        "pulumi-llm:serving": json.dumps(serving_settings or {"replicas": {"min": 2, "max": 4}}),
    }


def _azure(pools: dict[str, Any], **serving_extra: Any) -> dict[str, str]:
    return {
        "azure-native:location": "westeurope",
        "pulumi-llm:environment": "staging",
        "pulumi-llm:cloud": "azure",
        "pulumi-llm:region": "westeurope",
        "pulumi-llm:methods": '["cluster"]',
        "pulumi-llm:azure": json.dumps({"cluster": {"gpu_pools": pools}}),
        "pulumi-llm:models": json.dumps({"chat": {**LLAMA_8B, "source": "pvc://models/llama"}}),
        "pulumi-llm:serving": json.dumps({"replicas": {"min": 2, "max": 3}, **serving_extra}),
    }


A100 = "Standard_NC24ads_A100_v4"


def test_a_cluster_whose_on_demand_capacity_cannot_hold_the_fewest_replicas_is_refused() -> None:
    spot_only = {"gpuspot": {"vm_size": A100, "spot": True, "max_count": 4}}
    with pytest.raises(UserError) as caught:
        load(_azure(spot_only), SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: pulumi-llm:azure.cluster.gpu_pools = ")
    assert str(caught.value).endswith(
        ": holds 0 on-demand GPUs, below the 2 the models' replicas.min need off spot capacity; add on-demand capacity, "
        "or set serving.all_spot: true to run every replica on spot deliberately"
    )
    # Deliberately all-spot: accepted, and the autoscaler then tries the Spot pool first.
    assert load(_azure(spot_only, all_spot=True), SOURCE).serving.all_spot


def test_rollout_auto_counts_the_cluster_cap_and_the_other_models() -> None:
    pools = {"gpu": {"vm_size": A100, "min_count": 1, "max_count": 2}, "gpuspot": {"vm_size": A100, "spot": True, "max_count": 1}}
    roomy = load(_azure(pools), SOURCE)  # 3 GPUs: 3 replicas at most + 0 spare → replace
    assert serving.rollout(roomy, "chat") == resilience.REPLACE
    pools["gpuspot"]["max_count"] = 2  # 4 GPUs: one spare for a surge replica
    assert serving.rollout(load(_azure(pools), SOURCE), "chat") == resilience.SURGE
    assert serving.rollout(load(_azure(pools, rollout="replace"), SOURCE), "chat") == resilience.REPLACE


def test_onprem_auto_replaces_and_surge_is_the_stack_s_call() -> None:
    assert serving.rollout(load(_onprem(), SOURCE), "chat") == resilience.REPLACE
    surge = load(_onprem({"replicas": {"min": 2, "max": 4}, "rollout": "surge"}), SOURCE)
    (model,) = serving.served_models(surge)
    assert model.rollout == resilience.SURGE
    assert model.drain.grace_seconds == 3630  # no gateway: the ingress's 3600 s streams


def test_the_gateway_s_engine_timeout_is_the_longest_stream() -> None:
    cfg = _azure({"gpu": {"vm_size": A100, "max_count": 4}})
    cfg["pulumi-llm:methods"] = '["cluster", "gateway"]'
    cfg["pulumi-llm:azure"] = json.dumps(
        {
            "cluster": {"gpu_pools": {"gpu": {"vm_size": A100, "max_count": 4}}},
            "gateway": {"publisher_email": "ops@example.com", "apim_sku": "StandardV2"},
        }
    )
    cfg["pulumi-llm:gateway"] = json.dumps(
        {
            "timeouts": {"client_seconds": 300, "edge_seconds": 240, "engine_seconds": 210, "provider_seconds": 180},
            "models": {"chat": {"routes": [{"provider": "self-hosted", "model": "chat"}]}},
            "consumers": {
                "app": {"models": ["chat"], "requests_per_day": 10, "max_tokens": 100, "tokens_per_minute": 1000, "tokens_per_day": 10000}
            },
        }
    )
    settings = load(cfg, SOURCE)
    assert serving.drain(settings) == resilience.Drain(prestop_seconds=15, shutdown_timeout_seconds=210, grace_seconds=240)
    assert "--shutdown-timeout=210" in resilience.drain_args(settings.models["chat"].runtime, serving.drain(settings))
    assert registry.get("vllm").name == "vllm"


# ---- per cloud: the on-demand floor ------------------------------------------------------------------


def test_karpenter_fills_a_weighted_on_demand_pool_of_the_floor_first() -> None:
    pools = eks_render.node_pools(instances=["g6e"], capacity_types=["spot", "on-demand"], max_gpus=38, on_demand_gpus=10)
    assert list(pools) == ["gpu-on-demand", "gpu"]
    floor, burst = pools["gpu-on-demand"], pools["gpu"]
    assert floor["weight"] == 100 and "weight" not in burst
    assert (floor["limits"], burst["limits"]) == ({"nvidia.com/gpu": "10"}, {"nvidia.com/gpu": "28"})

    def capacity(pool: dict[str, Any]) -> list[str]:
        (req,) = [r for r in pool["template"]["spec"]["requirements"] if r["key"] == "karpenter.sh/capacity-type"]
        return req["values"]

    assert (capacity(floor), capacity(burst)) == (["on-demand"], ["spot", "on-demand"])
    # Deliberately all-spot: the burst pool alone, with every GPU.
    alone = eks_render.node_pools(instances=["g6e"], capacity_types=["spot"], max_gpus=8, on_demand_gpus=0)
    assert list(alone) == ["gpu"] and alone["gpu"]["limits"] == {"nvidia.com/gpu": "8"}
    with pytest.raises(ValueError):
        eks_render.node_pools(instances=["g6e"], capacity_types=["spot"], max_gpus=8, on_demand_gpus=9)


def test_karpenter_nodes_with_do_not_disrupt_servers_drain_within_a_termination_grace_that_keeps_theirs() -> None:
    # Karpenter 1.14.1's docs: expireAfter without terminationGracePeriod lets do-not-disrupt pods block a drain
    # forever; with it, each pod is deleted by (node grace - its own grace), so the node grace must exceed the
    # longest server grace (the longest stream is at most 3600 s: gateway.timeouts.engine_seconds le=3600, ingress).
    longest_grace = resilience.decide_drain(3600).grace_seconds
    for pool in eks_render.node_pools(instances=["g6e"], capacity_types=["spot", "on-demand"], max_gpus=8, on_demand_gpus=4).values():
        spec = pool["template"]["spec"]
        assert spec["expireAfter"] == "720h"
        grace = spec["terminationGracePeriod"]
        assert grace.endswith("h") and int(grace[:-1]) * 3600 > longest_grace
    assert eks_render.DO_NOT_DISRUPT == {"karpenter.sh/do-not-disrupt": "true"}


def test_leader_worker_set_groups_spread_over_zones_as_a_requirement_where_the_nodes_span_zones() -> None:
    container = serving.container(load(_onprem(), SOURCE), "chat")
    placement = eks_render.gpu_placement(4, zones=3)
    body = render.leader_worker_set_spec(
        container,
        replicas=2,
        size=2,
        gpus_per_node=4,
        labels={},
        annotations={},
        placement=placement,
        service_account="chat",
        model_claim="weights",
    )
    template = body["leaderWorkerTemplate"]
    leader, worker = template["leaderTemplate"]["spec"], template["workerTemplate"]["spec"]
    (zone,) = [c for c in leader["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zone["whenUnsatisfiable"] == "DoNotSchedule"
    assert zone["labelSelector"]["matchLabels"] == {**render.selector_labels("chat"), "leaderworkerset.sigs.k8s.io/worker-index": "0"}
    for pod in (leader, worker):
        (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term == {
            "labelSelector": {"matchLabels": render.selector_labels("chat")},
            "matchLabelKeys": ["leaderworkerset.sigs.k8s.io/group-key"],
            "topologyKey": "topology.kubernetes.io/zone",
        }
        assert pod["affinity"]["nodeAffinity"]  # the on-demand preference stays beside it
    assert "topologySpreadConstraints" not in worker  # workers follow their leader's zone


def test_aks_priority_expander_grows_regular_pools_before_spot() -> None:
    text = aks_render.expander_priorities({"gpu": False, "gpuspot": True})
    assert yaml.safe_load(text) == {30: ["^aks-gpu-[0-9]+-vmss$"], 20: ["^aks-gpuspot-[0-9]+-vmss$"], 10: [".*"]}
    assert yaml.safe_load(aks_render.expander_priorities({"gpu": False, "gpuspot": True}, on_demand_first=False)) == {
        30: ["^aks-gpuspot-[0-9]+-vmss$"],
        20: ["^aks-gpu-[0-9]+-vmss$"],
        10: [".*"],
    }
    placement = aks_render.gpu_placement(1)
    assert placement.zone_spread == "ScheduleAnyway"  # GPU pools without zones are regional: one domain
    assert aks_render.gpu_placement(1, zones=3).zone_spread == "DoNotSchedule"
    (term,) = placement.preferred_nodes
    assert term["preference"]["matchExpressions"] == [
        {"key": "kubernetes.azure.com/scalesetpriority", "operator": "NotIn", "values": ["spot"]}
    ]


def test_gke_compute_class_tries_on_demand_first_and_migrates_back_to_it() -> None:
    spec = gke_render.compute_class_standard(["gpu-l4-spot"], ["gpu-l4-on-demand"])
    assert spec["priorities"] == [{"nodepools": ["gpu-l4-on-demand"]}, {"nodepools": ["gpu-l4-spot"]}]
    assert spec["activeMigration"] == {"optimizeRulePriority": True}
    all_spot = gke_render.compute_class_standard(["gpu-l4-spot"], ["gpu-l4-on-demand"], on_demand_first=False)
    assert all_spot["priorities"] == [{"nodepools": ["gpu-l4-spot"]}, {"nodepools": ["gpu-l4-on-demand"]}]
    placement = gke_render.gpu_placement(2)
    assert placement.zone_spread == "DoNotSchedule"  # a regional cluster's pools span three zones
    (term,) = placement.preferred_nodes
    assert term["preference"]["matchExpressions"] == [{"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]}]


def test_drain_seconds_reads_the_server_s_own_flag() -> None:
    assert resilience.drain_seconds(("--port=8000", "--shutdown-timeout=540")) == 540
    assert resilience.drain_seconds(["--exit-timeout-secs=3600", "--http-port=8000"]) == 3600
    assert resilience.drain_seconds(("--port=8000",)) is None
