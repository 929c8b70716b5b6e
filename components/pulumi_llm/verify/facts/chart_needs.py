"""What each pinned Helm chart creates and what it needs from the cluster, given the values pulumi-llm
passes; and the objects a cluster has without the plan creating them (named preconditions).

A release that renders a custom kind (a ServiceMonitor, say) fails its install with "no matches for kind"
unless the kind's CustomResourceDefinition is served first; a pod that mounts a Secret nobody creates
never starts, and an atomic release waits out its timeout and rolls back. The `references.*` rules join
these facts with the plan; `pulumi-llm preflight` checks the preconditions against a live cluster.

Each chart fact is read at the version pulumi-llm pins (pins.CHARTS); the citation sits beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..plain import dig

# ---- CRDs each chart installs ---------------------------------------------------------------------------
CHART_CRDS: dict[str, frozenset[str]] = {
    # github.com/prometheus-community/helm-charts, tag kube-prometheus-stack-88.5.3 (see PINNED_TAGS_UNREAD:
    # 88.5.4, the pin, changes only the grafana dependency, not charts/crds),
    # charts/kube-prometheus-stack/charts/crds/crds/crd-*.yaml, installed unless crds.enabled is false.
    "kube-prometheus-stack": frozenset(
        {
            "Alertmanager",
            "AlertmanagerConfig",
            "PodMonitor",
            "Probe",
            "Prometheus",
            "PrometheusAgent",
            "PrometheusRule",
            "ScrapeConfig",
            "ServiceMonitor",
            "ThanosRuler",
        }
    ),
    # github.com/kedacore/charts, tag v2.20.2, keda/templates/crds/crd-*.yaml (crds.install, default true).
    "keda": frozenset(
        {
            "CloudEventSource",
            "ClusterCloudEventSource",
            "ClusterTriggerAuthentication",
            "ScaledJob",
            "ScaledObject",
            "TriggerAuthentication",
        }
    ),
    # github.com/aws/karpenter-provider-aws, tag v1.14.1, charts/karpenter-crd/templates/
    # (karpenter.sh_nodepools.yaml, karpenter.sh_nodeclaims.yaml, karpenter.sh_nodeoverlays.yaml,
    # karpenter.k8s.aws_ec2nodeclasses.yaml, autoscaling.x-k8s.io_capacitybuffers.yaml).
    "karpenter-crd": frozenset({"NodePool", "NodeClaim", "NodeOverlay", "EC2NodeClass", "CapacityBuffer"}),
    # github.com/kubernetes-sigs/lws, tag v0.10.0, charts/lws/crds/ (leaderworkerset.x-k8s.io_leaderworkersets.yaml,
    # disaggregatedset.x-k8s.io_disaggregatedsets.yaml, disaggregatedset.x-k8s.io_disaggregatedsetrolescalers.yaml).
    "lws": frozenset({"LeaderWorkerSet", "DisaggregatedSet", "DisaggregatedSetRoleScaler"}),
}

CRD_GROUPS: dict[str, str] = {
    "ServiceMonitor": "monitoring.coreos.com",
    "PodMonitor": "monitoring.coreos.com",
    "PrometheusRule": "monitoring.coreos.com",
    "ScaledObject": "keda.sh",
    "ScaledJob": "keda.sh",
    "TriggerAuthentication": "keda.sh",
    "NodePool": "karpenter.sh",
    "EC2NodeClass": "karpenter.k8s.aws",
    "LeaderWorkerSet": "leaderworkerset.x-k8s.io",
    "ComputeClass": "cloud.google.com",
}
"""The API group of each custom kind the plan uses: what `preflight` looks for among a cluster's CRDs
(`<plural>.<group>`) and what a violation names."""

CRD_PLURALS: dict[str, str] = {
    "ServiceMonitor": "servicemonitors",
    "PodMonitor": "podmonitors",
    "PrometheusRule": "prometheusrules",
    "ScaledObject": "scaledobjects",
    "ScaledJob": "scaledjobs",
    "TriggerAuthentication": "triggerauthentications",
    "LeaderWorkerSet": "leaderworkersets",
}


# ---- what a chart renders, given its values ----------------------------------------------------------------
@dataclass(frozen=True)
class ValueSwitch:
    """A chart renders `kind` when every values path in `all_of` is true (`defaults` where unset)."""

    all_of: tuple[tuple[str, ...], ...]
    kind: str
    defaults: tuple[bool, ...]
    source: str


PINNED_TAGS_UNREAD = (
    "The pins are kube-prometheus-stack 88.5.4 and its grafana subchart 12.11.2 (pins.py); the newest snapshots "
    "of prometheus-community/helm-charts (HEAD of 2026-08-22) and grafana-community/helm-charts (HEAD of "
    "2026-08-20) end at tags kube-prometheus-stack-88.5.3 and grafana-12.11.1, so the facts below are read there. "
    "88.5.4's one change is the grafana dependency 12.11.1 -> 12.11.2 (its release notes, quoted in pins.py), so "
    "every kube-prometheus-stack fact read outside charts/grafana (the CRDs, the operator's values) holds at "
    "88.5.4 as read. The grafana facts (admin.existingSecret in _pod.tpl; the generated, lookup-kept admin "
    "Secret) are from the 12.11.1 patch release before the pin (same appVersion 13.2.0) and are not yet "
    "re-read at grafana-12.11.2: re-read them there when a snapshot has the tag."
)
"""Why facts for the kube-prometheus-stack pin cite the tag before it."""

KPS = "github.com/prometheus-community/helm-charts, tag kube-prometheus-stack-88.5.3 (PINNED_TAGS_UNREAD)"
KEDA = "github.com/kedacore/charts, tag v2.20.2"
INGRESS_NGINX = "github.com/kubernetes/ingress-nginx, tag helm-chart-4.15.1"
DCGM = "github.com/NVIDIA/dcgm-exporter, tag 4.5.3-4.8.2 (chart 4.8.2)"
LB_CONTROLLER = "github.com/aws/eks-charts, chart version 1.17.1 (commit 9639b8b6), stable/aws-load-balancer-controller"
KARPENTER = "github.com/aws/karpenter-provider-aws, tag v1.14.1, charts/karpenter (values.yaml serviceMonitor.enabled: false)"

CUSTOM_KINDS_FROM_VALUES: dict[str, tuple[ValueSwitch, ...]] = {
    "ingress-nginx": (
        ValueSwitch(
            (("controller", "metrics", "enabled"), ("controller", "metrics", "serviceMonitor", "enabled")),
            "ServiceMonitor",
            (False, False),
            f"{INGRESS_NGINX}, charts/ingress-nginx/templates/controller-servicemonitor.yaml",
        ),
    ),
    "keda": (
        ValueSwitch(
            (("prometheus", "operator", "enabled"), ("prometheus", "operator", "serviceMonitor", "enabled")),
            "ServiceMonitor",
            (False, False),
            f"{KEDA}, keda/templates/manager/servicemonitor.yaml",
        ),
        ValueSwitch(
            (
                ("metricsServer", "enabled"),
                ("prometheus", "metricServer", "enabled"),
                ("prometheus", "metricServer", "serviceMonitor", "enabled"),
            ),
            "ServiceMonitor",
            (True, False, False),
            f"{KEDA}, keda/templates/metrics-server/servicemonitor.yaml",
        ),
        ValueSwitch(
            (("webhooks", "enabled"), ("prometheus", "webhooks", "enabled"), ("prometheus", "webhooks", "serviceMonitor", "enabled")),
            "ServiceMonitor",
            (True, False, False),
            f"{KEDA}, keda/templates/webhooks/servicemonitor.yaml",
        ),
    ),
    "dcgm-exporter": (
        # On by default: the chart renders a ServiceMonitor unless told not to.
        ValueSwitch(
            (("serviceMonitor", "enabled"),),
            "ServiceMonitor",
            (True,),
            f"{DCGM}, deployment/values.yaml (serviceMonitor.enabled: true) and deployment/templates/service-monitor.yaml",
        ),
    ),
    "aws-load-balancer-controller": (
        ValueSwitch((("serviceMonitor", "enabled"),), "ServiceMonitor", (False,), f"{LB_CONTROLLER}/templates/servicemonitor.yaml"),
    ),
    "karpenter": (ValueSwitch((("serviceMonitor", "enabled"),), "ServiceMonitor", (False,), f"{KARPENTER}/templates/servicemonitor.yaml"),),
    "gpu-operator": (
        # The Operator (its ClusterPolicy controller), not Helm, creates the DCGM exporter's ServiceMonitor:
        # without the CRD it logs "couldn't find ServiceMonitor CRD" and leaves the state NotReady, retrying.
        ValueSwitch(
            (("dcgmExporter", "enabled"), ("dcgmExporter", "serviceMonitor", "enabled")),
            "ServiceMonitor",
            (True, False),
            "github.com/NVIDIA/gpu-operator, tag v26.3.3, deployments/gpu-operator/values.yaml (dcgmExporter.enabled "
            "true, serviceMonitor.enabled false) and controllers/object_controls.go (ServiceMonitor state)",
        ),
    ),
}


@dataclass(frozen=True)
class SecretValue:
    """A values path whose string names a Secret, in the release's namespace, that the chart mounts and
    never creates itself."""

    path: tuple[str, ...]
    source: str


SECRETS_FROM_VALUES: dict[str, tuple[SecretValue, ...]] = {
    # Grafana reads its admin user and password from admin.existingSecret when set (env GF_SECURITY_ADMIN_*
    # and the sidecars' REQ_USERNAME/REQ_PASSWORD, secretKeyRef); unset, the chart creates and keeps its own
    # admin Secret (see GRAFANA_GENERATED_ADMIN_SECRET).
    "kube-prometheus-stack": (
        SecretValue(
            ("grafana", "admin", "existingSecret"),
            "github.com/grafana-community/helm-charts, tag grafana-12.11.1 (the subchart kube-prometheus-stack "
            "88.5.3 requires; the pin's is 12.11.2, see PINNED_TAGS_UNREAD), charts/grafana/templates/_pod.tpl",
        ),
    ),
}

GRAFANA_CHART_VERSION = "12.11.1"
"""The grafana subchart whose templates the facts below were read in: the one kube-prometheus-stack 88.5.3
depends on (Chart.yaml dependencies: grafana 12.11.1 from grafana-community.github.io/helm-charts). The
pinned 88.5.4 depends on 12.11.2, not yet readable (PINNED_TAGS_UNREAD)."""

GRAFANA_GENERATED_ADMIN_SECRET = True
"""grafana 12.11.1, charts/grafana/templates/secret.yaml and _config.tpl (grafana.secretsData) with _helpers.tpl
(grafana.password): with no admin.existingSecret, adminPassword or GF_SECURITY_ADMIN_PASSWORD* env, the chart
renders a Secret named after the Grafana fullname (label app.kubernetes.io/component: admin-secret) holding
admin-user and a 40-character random admin-password; on upgrades it `lookup`s that Secret and keeps its
password. Helm releases (not client-side Chart rendering) run lookup against the cluster, so the password
is generated in the cluster, never passes through values or Pulumi state, and survives upgrades."""


def ingress_classes_created(chart: str, values: dict[str, Any]) -> set[str]:
    """IngressClass objects a controller chart creates with these values."""
    if chart == "ingress-nginx":
        # helm-chart-4.15.1, templates/controller-ingressclass.yaml: controller.ingressClassResource.enabled
        # (default true) creates an IngressClass named controller.ingressClassResource.name (default nginx).
        controller: dict[str, Any] = values.get("controller") or {}
        resource: dict[str, Any] = controller.get("ingressClassResource") or {}
        return {resource.get("name", "nginx")} if resource.get("enabled", True) else set()
    if chart == "aws-load-balancer-controller":
        # 1.17.1 values.yaml: createIngressClassResource true, ingressClass alb; templates/ingressclass.yaml.
        return {values.get("ingressClass", "alb")} if values.get("createIngressClassResource", True) else set()
    return set()


def custom_kinds_rendered(chart: str, values: dict[str, Any]) -> set[str]:
    """Custom kinds a release of `chart` renders (and so needs served) with these values."""
    kinds: set[str] = set()
    for switch in CUSTOM_KINDS_FROM_VALUES.get(chart, ()):
        states = [dig(values, path) for path in switch.all_of]
        if all(bool(default if state is None else state) for state, default in zip(states, switch.defaults, strict=True)):
            kinds.add(switch.kind)
    return kinds


def secrets_mounted(chart: str, values: dict[str, Any]) -> set[str]:
    """Secrets (in the release's namespace) a release of `chart` mounts and expects to find."""
    return {name for need in SECRETS_FROM_VALUES.get(chart, ()) if (name := dig(values, need.path))}


# ---- named preconditions: what exists without the plan creating it ----------------------------------------
BUILT_IN_PRIORITY_CLASSES = frozenset({"system-node-critical", "system-cluster-critical"})
"""Created by the API server in every cluster (kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption)."""

ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
"""The root CA publisher (kube-controller-manager, GA in Kubernetes 1.21) creates this ConfigMap, key `ca.crt`, in
every namespace; the kubelet's automounted service-account volume reads it
(kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin, "Bound service account token volume")."""

DEFAULT_SERVICE_ACCOUNT = "default"
"""The ServiceAccount controller creates `default` in every namespace
(kubernetes.io/docs/concepts/security/service-accounts, "Default service accounts")."""

PROVIDER_KINDS: dict[str, frozenset[str]] = {
    # GKE serves ComputeClass (cloud.google.com/v1) on Standard and Autopilot clusters from version
    # 1.30.3-gke.1451000: docs.cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes.
    "gcp": frozenset({"ComputeClass"}),
}
"""Custom kinds the managed Kubernetes service itself serves, per cloud."""

GKE_MANAGED_PROMETHEUS_KINDS = frozenset(
    {
        "PodMonitoring",
        "ClusterPodMonitoring",
        "ClusterNodeMonitoring",
        "NodeMonitoring",
        "Rules",
        "ClusterRules",
        "GlobalRules",
        "OperatorConfig",
    }
)
"""Kinds (monitoring.googleapis.com) GKE serves once managed collection is on
(`monitoringConfig.managedPrometheus.enabled`): GKE runs the Managed Service for Prometheus operator in
gmp-system with its CRDs — github.com/GoogleCloudPlatform/prometheus-engine, charts/operator/crds/
monitoring.googleapis.com_*.yaml (the operator GKE deploys; docs.cloud.google.com/stackdriver/docs/
managed-prometheus/setup-managed)."""

POLICY_ENFORCING_CNI_DAEMONSETS: dict[str, str] = {
    "calico-node": "Calico",
    "cilium": "Cilium",
    "antrea-agent": "Antrea",
    "kube-router": "kube-router",
    "canal": "Canal (Calico policy on flannel)",
    "weave-net": "Weave Net",
}
"""DaemonSet names of CNIs that enforce NetworkPolicy. Plain flannel does not: its policies are accepted
by the API server and ignored, and the model namespace's default-deny protects nothing."""
