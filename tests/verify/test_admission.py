"""admission.*: Pod Security levels, securityContext validation and chart facts, over real recorded plans.

Findings covered: 4 (GKE's DCGM values set privileged over the chart's allowPrivilegeEscalation: false) and
7 (the LeaderWorkerSet controller without a seccompProfile in a `restricted` namespace).
"""

from __future__ import annotations

import copy
import json

import pytest
from helpers import run
from pulumi_llm import pins
from pulumi_llm.cluster import aks_render, eks_render, gke_render
from pulumi_llm.kubernetes import addons
from pulumi_llm.offline import manifests
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs
from pulumi_llm.settings import load
from pulumi_llm.verify import PlanView, run_rules
from pulumi_llm.verify.facts import charts
from pulumi_llm.verify.rules import admission

from .conftest import fired, manifest, resource

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"


def _server_pod(view: PlanView, name: str, namespace: str = "llm") -> dict:
    return manifest(view, "Deployment", name, namespace)["spec"]["template"]["spec"]


def _label_namespace(view: PlanView, namespace: str, level: str) -> None:
    """Change a namespace's enforced level where the plan records it: the object and its resource."""
    labels = [manifest(view, "Namespace", namespace)["metadata"]["labels"]]
    labels += [r["inputs"]["metadata"]["labels"] for r in view.of_type(NAMESPACE) if r["inputs"]["metadata"]["name"] == namespace]
    for found in labels:
        found["pod-security.kubernetes.io/enforce"] = level


# ---- seeds: one wiring mistake each, caught by exactly one rule --------------------------------------


def test_a_privileged_model_server_in_a_restricted_namespace_is_refused(recorded):
    view = recorded("onprem")
    container = _server_pod(view, "llama-3-1-8b-instruct")["containers"][0]
    container["securityContext"].update(privileged=True, allowPrivilegeEscalation=True)
    assert fired(view) == {"admission.pod_security"}


def test_a_model_server_without_a_seccomp_profile_is_refused_by_restricted(recorded):
    view = recorded("staging")
    del _server_pod(view, "llama-3-1-8b-instruct")["securityContext"]["seccompProfile"]
    assert fired(view) == {"admission.pod_security"}


def test_a_host_path_volume_in_a_restricted_namespace_is_refused(recorded):
    view = recorded("azure-prod")
    spec = _server_pod(view, "llama-3-1-8b-instruct")
    model = next(v for v in spec["volumes"] if v["name"] == "model")
    model.pop("persistentVolumeClaim")
    model["hostPath"] = {"path": "/mnt/models", "type": "Directory"}
    assert fired(view) == {"admission.pod_security"}


def test_restricting_the_namespace_of_a_chart_that_needs_host_access_is_refused(recorded):
    # node-exporter (hostNetwork, hostPID, /proc and /sys) cannot run below privileged.
    view = recorded("prod")
    _label_namespace(view, "monitoring", "restricted")
    assert fired(view) == {"admission.pod_security"}


def test_restricting_the_dcgm_namespace_on_gke_is_refused(recorded):
    view = recorded("gcp-prod")
    _label_namespace(view, "nvidia", "baseline")
    assert fired(view) == {"admission.pod_security"}


def test_ingress_nginx_on_host_ports_is_refused_by_its_baseline_namespace(recorded):
    view = recorded("onprem")
    values = resource(view, RELEASE, "llm-onprem-ingress-nginx")["inputs"]["values"]
    values["controller"]["hostPort"] = {"enabled": True}
    assert fired(view) == {"admission.pod_security"}


def test_keda_values_that_drop_the_chart_s_seccomp_profile_are_refused(recorded):
    # A null in values deletes the chart's default: the operator loses RuntimeDefault in `restricted`.
    view = recorded("azure-prod")
    values = resource(view, RELEASE, "llm-aks-keda")["inputs"]["values"]
    values["securityContext"]["operator"]["seccompProfile"] = None
    assert fired(view) == {"admission.pod_security"}


@pytest.mark.parametrize(
    ("stack", "release"),
    [
        ("gcp-prod", "llm-gke-dcgm-exporter"),
        ("prod", "llm-eks-dcgm-exporter"),
        ("staging", "llm-eks-dcgm-exporter"),
        ("azure-prod", "llm-aks-dcgm-exporter"),
    ],
)
def test_dcgm_privileged_over_the_chart_s_no_escalation_is_invalid(recorded, stack, release):
    view = recorded(stack)
    values = resource(view, RELEASE, release)["inputs"]["values"]
    values["securityContext"] = {"privileged": True}  # what gke_render rendered before finding 4's fix
    assert fired(view) == {"admission.security_context"}


def test_cap_sys_admin_without_escalation_is_invalid_even_in_a_privileged_namespace(recorded):
    view = recorded("edge")
    spec = manifest(view, "DaemonSet", "llama-3-2-3b", "llm-edge")["spec"]["template"]["spec"]
    spec["containers"][0]["securityContext"]["capabilities"]["add"] = ["CAP_SYS_ADMIN"]
    assert fired(view) == {"admission.security_context"}


def test_a_chart_version_the_facts_do_not_know_is_refused(recorded):
    view = recorded("staging")
    resource(view, RELEASE, "llm-eks-keda")["inputs"]["version"] = "2.21.0"
    assert fired(view) == {"admission.chart_known"}


def test_an_unknown_oci_chart_is_refused(recorded):
    view = recorded("prod")
    resource(view, RELEASE, "llm-eks-karpenter")["inputs"]["chart"] = "oci://public.ecr.aws/karpenter/karpenter-nightly"
    assert fired(view) == {"admission.chart_known"}


# ---- finding 4: GKE's DCGM exporter ----------------------------------------------------------------


@pytest.mark.parametrize("service_monitor", [True, False])  # kube-prometheus-stack and managed Prometheus
def test_gke_dcgm_values_are_privileged_and_valid_over_the_chart_defaults(service_monitor):
    values = gke_render.dcgm_exporter_values(service_monitor=service_monitor)
    [(_, pod)] = admission.chart_pods(charts.DCGM_EXPORTER, values)
    context = pod["containers"][0]["securityContext"]
    assert context["privileged"] is True and context["allowPrivilegeEscalation"] is True
    assert admission.validation_problems(pod) == []


def test_the_old_gke_dcgm_values_were_invalid():
    [(_, pod)] = admission.chart_pods(charts.DCGM_EXPORTER, {"securityContext": {"privileged": True}})
    assert admission.validation_problems(pod) == ["container exporter sets privileged: true with allowPrivilegeEscalation: false"]


def test_eks_and_aks_dcgm_keep_the_chart_s_valid_defaults():
    for values in (eks_render.dcgm_exporter_values(), aks_render.dcgm_exporter_values()):
        [(_, pod)] = admission.chart_pods(charts.DCGM_EXPORTER, values)
        assert admission.validation_problems(pod) == []
        # Still needs privileged: the kubelet pod-resources hostPath and SYS_ADMIN.
        assert admission.pod_security_problems(pod, "baseline") != []


def test_gcp_prod_plan_passes_admission(recorded):
    view = recorded("gcp-prod")
    assert not list(admission.security_context(view))
    values = resource(view, RELEASE, "llm-gke-dcgm-exporter")["inputs"]["values"]
    assert values["securityContext"] == {"privileged": True, "allowPrivilegeEscalation": True}


# ---- finding 7: the LeaderWorkerSet controller -------------------------------------------------------


def test_the_lws_chart_defaults_fail_restricted_on_seccomp_alone():
    [(_, pod)] = admission.chart_pods(charts.LWS, {})
    assert admission.pod_security_problems(pod, "restricted") == [
        "container manager has no seccompProfile RuntimeDefault or Localhost (nor has the pod)"
    ]
    [(_, pod)] = admission.chart_pods(charts.LWS, addons.lws_values())
    assert admission.pod_security_problems(pod, "restricted") == []


def _onprem_multinode_view() -> PlanView:
    """A multi-node on-prem plan (the LeaderWorkerSet controller installed) as the verify pass sees it."""
    config = {
        "pulumi-llm:environment": "lab",
        "pulumi-llm:cloud": "onprem",
        "pulumi-llm:methods": '["onprem"]',
        "pulumi-llm:onprem": json.dumps(
            {"kube_context": "gpu-lab", "namespace": "models", "gpus": {"accelerator": "A100-40GB", "per_node": 4}}
        ),
        "pulumi-llm:serving": json.dumps({"replicas": {"min": 1, "max": 3}}),
        "pulumi-llm:models": json.dumps({"big": {"catalog": "llama-3.1-70b-instruct", "source": "pvc://weights/l70", "gpus": 8}}),
    }
    settings = load(config, "stacks/Pulumi.lab.yaml")
    records = run(lambda: LlmPlatform("llm", LlmPlatformArgs(settings=settings, stack="lab")), region="")
    resources = [
        {"urn": r.urn, "type": r.type, "name": r.name, "parent": None, "id": None, "dependsOn": [], "inputs": copy.deepcopy(r.inputs)}
        for r in records
        if r.custom
    ]
    objects = [manifests.to_object(r) for r in records if manifests.is_kubernetes_object(r)]
    return PlanView(stack="lab", settings={}, resources=resources, manifests=objects)


def test_onprem_lws_controller_and_its_leader_worker_set_pass_restricted():
    view = _onprem_multinode_view()
    lws = next(r for r in view.helm_releases() if r["name"] == "llm-onprem-lws")
    assert admission.namespace_levels(view)["lws-system"] == "restricted"
    assert lws["inputs"]["values"]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert any(o["kind"] == "LeaderWorkerSet" for o in view.manifests)  # its pod templates are checked too
    rules = ["admission.pod_security", "admission.security_context", "admission.chart_known"]
    assert run_rules(view, rules) == []
    lws["inputs"]["values"] = {}  # what onprem/cluster.py installed before finding 7's fix
    assert {v.rule for v in run_rules(view, rules)} == {"admission.pod_security"}


# ---- helpers ------------------------------------------------------------------------------------------


def test_helm_merge_merges_maps_replaces_lists_and_deletes_on_null():
    defaults = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 1}
    merged = admission.helm_merge(defaults, {"a": {"c": [3], "d": None}, "g": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "f": 1, "g": 2}
    assert defaults["a"]["d"] == {"e": 1}  # the facts are never mutated


def test_restricted_accepts_run_as_non_root_and_seccomp_from_the_pod_or_every_container():
    container = {"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    at_pod = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, "containers": [container]}
    assert admission.pod_security_problems(at_pod, "restricted") == []
    per_container = copy.deepcopy(container)
    per_container["securityContext"].update(runAsNonRoot=True, seccompProfile={"type": "Localhost", "localhostProfile": "p.json"})
    assert admission.pod_security_problems({"containers": [per_container]}, "restricted") == []
    overridden = copy.deepcopy(at_pod)
    overridden["containers"][0]["securityContext"]["runAsNonRoot"] = False
    assert admission.pod_security_problems(overridden, "restricted") == ["container c may run as root (runAsNonRoot not true)"]


def test_baseline_allows_its_default_capabilities_and_only_sys_admin_spelled_cap_is_invalid():
    pod = {
        "containers": [
            {
                "name": "c",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}},
            }
        ]
    }
    assert admission.pod_security_problems(pod, "baseline") == ["container c adds capabilities SYS_ADMIN"]
    assert admission.validation_problems(pod) == []  # the API server compares "CAP_SYS_ADMIN" literally


def test_every_pinned_chart_has_facts():
    for pin in [*pins.CHARTS.values(), eks_render.KARPENTER_CRD_CHART]:
        assert (pin.name, pin.version) in charts.CHARTS, pin.name


def test_baseline_refuses_unconfined_profiles_and_unmasked_proc_which_also_needs_host_users_off():
    pod = {
        "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
        "containers": [{"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}, "procMount": "Unmasked"}}],
    }
    assert admission.pod_security_problems(pod, "baseline") == [
        "container c sets seccompProfile Unconfined",
        "container c sets procMount Unmasked",
        "pod sets appArmorProfile Unconfined",
    ]
    assert admission.validation_problems(pod) == ["container c sets procMount Unmasked without hostUsers: false"]
    assert admission.validation_problems({**pod, "hostUsers": False}) == []
    assert admission.pod_security_problems(pod, "privileged") == []
