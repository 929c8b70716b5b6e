"""references.*: seeds from real recorded plans (a name renamed, a dependency dropped, an operator left
out), the regressions for findings 5 (Grafana's admin Secret) and 6 (on-prem ServiceMonitor order), and
the pure helpers that read needs from objects and chart values."""

from __future__ import annotations

import pytest
from pulumi_llm.kubernetes import addons
from pulumi_llm.verify import run_rules
from pulumi_llm.verify.facts import chart_needs
from pulumi_llm.verify.rules import references

from .conftest import fired, manifest, resource

RELEASE = "kubernetes:helm.sh/v3:Release"


def drop_dependency(view, user: dict, dependency_name: str) -> None:
    """`user` no longer waits for the resource named `dependency_name` (a depends_on left out)."""
    dropped = {r["urn"] for r in view.resources if r["name"] == dependency_name}
    assert dropped & set(user["dependsOn"]), f"{user['name']} does not depend on {dependency_name}"
    user["dependsOn"] = [d for d in user["dependsOn"] if d not in dropped]


def whys(view, rule_name: str) -> list[str]:
    return [v.why for v in run_rules(view, only=[rule_name]) if v.severity == "error"]


# --- seeds: on-prem ----------------------------------------------------------------------------------------


def test_seed_renamed_secret_in_the_copy_job_on_onprem(recorded):
    view = recorded("onprem")
    job = manifest(view, "Job", "copy-llama-3-1-8b-instruct-68cd046b", "llm")
    [token] = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "token"]
    token["secret"]["secretName"] = "hf-tokens"  # the settings say hf-token
    assert fired(view) == {"references.object"}
    assert any("Secret llm/hf-tokens" in why for why in whys(view, "references.object"))


def test_seed_servicemonitor_release_without_the_crds_on_onprem(recorded):
    """Finding 6: ingress-nginx renders a ServiceMonitor; without waiting for kube-prometheus-stack it may come first."""
    view = recorded("onprem")
    drop_dependency(view, resource(view, RELEASE, "llm-onprem-ingress-nginx"), "llm-onprem-prometheus")
    assert fired(view) == {"references.chart-values"}
    [why] = whys(view, "references.chart-values")
    assert "ingress-nginx renders a ServiceMonitor" in why and "llm-onprem-prometheus" in why


def test_finding_6_every_servicemonitor_release_on_onprem_waits_for_the_crds(recorded):
    view = recorded("onprem")
    prometheus = resource(view, RELEASE, "llm-onprem-prometheus")
    for name in ("llm-onprem-gpu-operator", "llm-onprem-ingress-nginx", "llm-onprem-keda"):
        release = resource(view, RELEASE, name)
        assert "ServiceMonitor" in chart_needs.custom_kinds_rendered(references._chart(release), release["inputs"]["values"])
        assert view.depends(release, prometheus), name
    # The old wiring (each release after its namespace only) is what the rule reports.
    for name in ("llm-onprem-gpu-operator", "llm-onprem-ingress-nginx", "llm-onprem-keda"):
        drop_dependency(view, resource(view, RELEASE, name), "llm-onprem-prometheus")
    assert len(whys(view, "references.chart-values")) == 3


def test_seed_service_account_nobody_creates_on_onprem_triton(recorded):
    view = recorded("onprem-triton")
    deployment = manifest(view, "Deployment", "llama-3-3-70b-instruct", "llm-triton")
    deployment["spec"]["template"]["spec"]["serviceAccountName"] = "llama-3-3-70b"
    assert fired(view) == {"references.object"}
    assert any("needs ServiceAccount llm-triton/llama-3-3-70b:" in why for why in whys(view, "references.object"))


def test_seed_scaledobject_on_a_cluster_without_keda_on_onprem_triton(recorded):
    """The stack installs KEDA; a ScaledObject whose operator is left out has no CRD to land on."""
    view = recorded("onprem-triton")
    keda = resource(view, RELEASE, "llm-onprem-keda")
    view.resources.remove(keda)
    view.resources = [{**r, "dependsOn": [d for d in r["dependsOn"] if d != keda["urn"]]} for r in view.resources]
    assert fired(view) == {"references.crd"}
    assert any("CRD of ScaledObject" in why for why in whys(view, "references.crd"))


# --- seeds: EKS ------------------------------------------------------------------------------------------------


def test_seed_storage_class_typo_on_prod(recorded):
    view = recorded("prod")
    pod = manifest(view, "Deployment", "llama-3-1-8b-instruct", "llm")["spec"]["template"]["spec"]
    scratch = {
        "name": "scratch",
        "ephemeral": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "gp3-encryped",
                    "resources": {"requests": {"storage": "100Gi"}},
                }
            }
        },
    }
    pod["volumes"].append(scratch)
    assert fired(view) == {"references.object"}
    assert any("StorageClass gp3-encryped" in why for why in whys(view, "references.object"))


def test_seed_nodepool_without_karpenter_crd_on_prod(recorded):
    view = recorded("prod")
    pool = resource(view, "kubernetes:karpenter.sh/v1:NodePool", "llm-eks-gpu-node-pool")
    for name in ("llm-eks-karpenter-crd", "llm-eks-karpenter", "llm-eks-gpu-node-class"):
        drop_dependency(view, pool, name)
    assert fired(view) == {"references.crd"}
    [why] = whys(view, "references.crd")
    assert "NodePool" in why and "llm-eks-karpenter-crd" in why


def test_seed_grafana_existing_secret_on_staging(recorded):
    """Finding 5 on EKS: a Secret named in the values that nothing creates (the cluster is new on first up)."""
    view = recorded("staging")
    prometheus = resource(view, RELEASE, "llm-eks-prometheus")
    prometheus["inputs"]["values"]["grafana"]["admin"] = {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert fired(view) == {"references.chart-values"}
    assert whys(view, "references.chart-values") == [
        "chart kube-prometheus-stack mounts Secret monitoring/grafana-admin (from its values) and nothing in the plan "
        "creates it: its pods never start and the release times out"
    ]


# --- seeds: GKE and AKS -------------------------------------------------------------------------------------------


def test_seed_scaledobject_without_keda_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    keda = resource(view, RELEASE, "llm-gke-keda")
    view.resources.remove(keda)
    view.resources = [{**r, "dependsOn": [d for d in r["dependsOn"] if d != keda["urn"]]} for r in view.resources]
    assert fired(view) == {"references.crd"}
    assert any("ScaledObject" in why and "keda.sh" in why for why in whys(view, "references.crd"))


def test_seed_ingress_class_typo_on_azure_prod(recorded):
    view = recorded("azure-prod")
    manifest(view, "Ingress", "llama-3-1-8b-instruct", "llm")["spec"]["ingressClassName"] = "nginx-internal"
    assert fired(view) == {"references.object"}
    assert any("IngressClass nginx-internal" in why for why in whys(view, "references.object"))


def test_seed_dcgm_exporter_before_the_crds_on_azure_prod(recorded):
    """dcgm-exporter renders a ServiceMonitor by default (chart 4.8.2), so it must wait for kube-prometheus-stack."""
    view = recorded("azure-prod")
    drop_dependency(view, resource(view, RELEASE, "llm-aks-dcgm-exporter"), "llm-aks-prometheus")
    assert fired(view) == {"references.chart-values"}


# --- regressions and helpers -------------------------------------------------------------------------------------


def test_finding_5_grafana_needs_no_secret_made_beforehand(recorded):
    values = addons.kube_prometheus_stack_values()
    assert chart_needs.secrets_mounted("kube-prometheus-stack", values) == set()
    for stack, release in (
        ("prod", "llm-eks-prometheus"),
        ("gcp-prod", "llm-gke-prometheus"),
        ("azure-prod", "llm-aks-prometheus"),
        ("onprem", "llm-onprem-prometheus"),
    ):
        view = recorded(stack)
        assert "admin" not in resource(view, RELEASE, release)["inputs"]["values"]["grafana"], stack
        assert whys(view, "references.chart-values") == [], stack
    # The old values are what the rule reports.
    old = {**values, "grafana": {**values["grafana"], "admin": {"existingSecret": "grafana-admin"}}}
    assert chart_needs.secrets_mounted("kube-prometheus-stack", old) == {"grafana-admin"}


def test_the_azure_claim_on_a_new_cluster_is_a_warning(recorded):
    view = recorded("azure-prod")
    [warning] = [v for v in run_rules(view, only=["references.object"]) if v.severity == "warning"]
    assert "PersistentVolumeClaim llm/models" in warning.why


@pytest.mark.parametrize("stack", ["onprem", "onprem-triton"])
def test_onprem_user_objects_live_in_the_users_namespace(recorded, stack):
    """The provider creates (never adopts) a Namespace, so the user's claim and Secrets could only come after
    it: the on-prem stacks label the user's namespace instead (NamespacePatch), and nothing is left waiting."""
    view = recorded(stack)
    assert [r["type"] for r in view.resources if r["name"].endswith("-serving-ns")] == ["kubernetes:core/v1:NamespacePatch"]
    assert [v for v in run_rules(view, only=["references.object"])] == []


def test_user_objects_in_a_namespace_the_plan_creates_are_warned(recorded):
    """onprem.namespace_exists: false (an existing deployment's own namespace) is allowed, and each of the user's
    objects in it is a warning: a first `pulumi up` of such a stack would wait on them."""
    view = recorded("onprem")
    [ns] = [r for r in view.resources if r["name"].endswith("-serving-ns")]
    ns["type"] = "kubernetes:core/v1:Namespace"  # what the stack did before onprem.namespace_exists
    whys = {v.why.split(":")[0] for v in run_rules(view) if v.rule == "references.object" and v.severity == "warning"}
    assert whys == {
        "Deployment llm/llama-3-1-8b-instruct (volume model) needs PersistentVolumeClaim llm/model-weights",
        "Job llm/copy-llama-3-1-8b-instruct-68cd046b (volume work) needs PersistentVolumeClaim llm/model-weights",
        "Job llm/copy-llama-3-1-8b-instruct-68cd046b (volume token) needs Secret llm/hf-token",
        "Ingress llm/llama-3-1-8b-instruct (spec.tls) needs Secret llm/llm-internal-tls",
    }
    assert fired(view) == set()


def test_chart_defaults_decide_what_is_rendered():
    # dcgm-exporter renders its ServiceMonitor unless told not to; KEDA's metrics server only when asked.
    assert chart_needs.custom_kinds_rendered("dcgm-exporter", {}) == {"ServiceMonitor"}
    assert chart_needs.custom_kinds_rendered("dcgm-exporter", {"serviceMonitor": {"enabled": False}}) == set()
    assert chart_needs.custom_kinds_rendered("keda", {}) == set()
    assert chart_needs.custom_kinds_rendered("keda", addons.keda_values(service_monitor=True)) == {"ServiceMonitor"}
    assert chart_needs.custom_kinds_rendered("keda", addons.keda_values(service_monitor=False)) == set()
    # ingress-nginx needs metrics on as well as the ServiceMonitor switch.
    assert chart_needs.custom_kinds_rendered("ingress-nginx", {"controller": {"metrics": {"serviceMonitor": {"enabled": True}}}}) == set()
    assert chart_needs.ingress_classes_created("ingress-nginx", {}) == {"nginx"}
    assert chart_needs.ingress_classes_created("aws-load-balancer-controller", {"createIngressClassResource": False}) == set()


def test_pod_needs_skip_optional_references():
    spec = {
        "serviceAccountName": "runner",
        "volumes": [{"name": "a", "secret": {"secretName": "maybe", "optional": True}}, {"name": "b", "configMap": {"name": "conf"}}],
        "containers": [
            {
                "name": "c",
                "env": [
                    {"name": "K", "valueFrom": {"secretKeyRef": {"name": "key", "key": "k"}}},
                    {"name": "O", "valueFrom": {"configMapKeyRef": {"name": "opt", "key": "o", "optional": True}}},
                ],
                "envFrom": [{"secretRef": {"name": "bulk"}}],
            }
        ],
        "imagePullSecrets": [{"name": "registry"}],
    }
    needs = {(n.kind, n.name) for n in references.pod_spec_needs(spec, "ns")}
    assert needs == {("ServiceAccount", "runner"), ("ConfigMap", "conf"), ("Secret", "key"), ("Secret", "bulk"), ("Secret", "registry")}
    # No serviceAccountName: the namespace's default account, which every namespace has.
    assert [n for n in references.pod_spec_needs({}, "ns") if references.built_in(n)] == [
        references.Need("ServiceAccount", "ns", "default", "serviceAccountName")
    ]
