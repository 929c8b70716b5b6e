"""The pods each pinned Helm chart creates, and their security defaults at the pinned version.

For every chart the stacks install (pins.CHARTS and eks_render.KARPENTER_CRD_CHART) and its pinned version:
which workloads it renders, which values switch each on, and where its pod- and container-level
securityContext, hostNetwork/hostPID and hostPath volumes come from: a values path (so a release's values
override it), or something the template writes itself. `defaults` holds the part of the chart's values.yaml
those paths read. Only the facts Pod Security admission and securityContext validation need are kept.

A chart or version missing here makes admission.chart_known fire: when a pin moves, read the chart at the
new tag and add an entry, citing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Container:
    name: str
    security_context: str | None = None
    """Values path whose map the template renders as this container's securityContext."""
    template: Mapping[str, Any] = field(default_factory=dict[str, Any])
    """What the template writes itself. Values merge over it, or (`fallback`) replace it when non-empty."""
    fallback: bool = False
    """True when the template uses `template` only if the values map is empty (`{{ if .Values.x }}`)."""


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    containers: tuple[Container, ...]
    enabled: tuple[str, ...] = ()
    """Values paths that must all be truthy for the chart to render it; "!path" must be falsy."""
    pod_security_context: str | None = None
    host_network: str | bool = False
    """A values path, or what the template fixes."""
    host_pid: str | bool = False
    host_ports: str | None = None
    """Values path of a switch that gives the containers host ports."""
    host_paths: tuple[str, ...] = ()
    """hostPath volumes the template always mounts."""
    extra_host_volumes: str | None = None
    """Values path of a list of extra host volumes ({name, hostPath})."""


@dataclass(frozen=True)
class ChartFacts:
    chart: str
    version: str
    source: str
    """Upstream repository, files and tag the facts were read from."""
    defaults: Mapping[str, Any]
    workloads: tuple[Workload, ...] = ()


_RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}

DCGM_EXPORTER = ChartFacts(
    chart="dcgm-exporter",
    version="4.8.2",
    source="NVIDIA/dcgm-exporter, deployment/values.yaml and deployment/templates/daemonset.yaml at tag 4.5.3-4.8.2 (Chart.yaml version 4.8.2)",
    defaults={
        "hostPID": False,
        "hostNetwork": False,
        "podSecurityContext": {},
        # SYS_ADMIN for the profiling metrics; allowPrivilegeEscalation false, so a release that adds
        # privileged: true must also set allowPrivilegeEscalation: true or the API server refuses the pod.
        "securityContext": {
            "runAsNonRoot": False,
            "runAsUser": 0,
            "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]},
            "allowPrivilegeEscalation": False,
        },
        "extraHostVolumes": [],
    },
    workloads=(
        Workload(
            kind="DaemonSet",
            name="dcgm-exporter",
            containers=(Container("exporter", security_context="securityContext"),),
            pod_security_context="podSecurityContext",
            host_network="hostNetwork",
            host_pid="hostPID",
            host_paths=("/var/lib/kubelet/pod-resources",),  # the kubeletPath default, always mounted
            extra_host_volumes="extraHostVolumes",
        ),
    ),
)

LWS = ChartFacts(
    chart="lws",
    version="0.10.0",
    source=(
        "kubernetes-sigs/lws, charts/lws/values.yaml and charts/lws/templates/manager/deployment.yaml at tag "
        "v0.10.0 (hack/push-chart.sh packages it as version 0.10.0)"
    ),
    defaults={
        # No seccompProfile anywhere: the controller fails Pod Security `restricted` unless a release sets one.
        "podSecurityContext": {"runAsNonRoot": True},
        "securityContext": dict(_RESTRICTED_CONTAINER),
    },
    workloads=(
        Workload(
            kind="Deployment",
            name="lws-controller-manager",
            containers=(Container("manager", security_context="securityContext"),),
            pod_security_context="podSecurityContext",
        ),
    ),
)

_KEDA_CONTAINER = {**_RESTRICTED_CONTAINER, "seccompProfile": {"type": "RuntimeDefault"}}
KEDA = ChartFacts(
    chart="keda",
    version="2.20.2",
    source="kedacore/charts, keda/values.yaml and keda/templates/{manager,metrics-server,webhooks}/deployment.yaml at tag v2.20.2",
    defaults={
        "operator": {"useHostNetwork": False},
        "metricsServer": {"enabled": True, "useHostNetwork": False},
        "webhooks": {"enabled": True, "useHostNetwork": False},
        "securityContext": {"operator": dict(_KEDA_CONTAINER), "metricServer": dict(_KEDA_CONTAINER), "webhooks": dict(_KEDA_CONTAINER)},
        "podSecurityContext": {
            "operator": {"runAsNonRoot": True},
            "metricServer": {"runAsNonRoot": True},
            "webhooks": {"runAsNonRoot": True},
        },
    },
    workloads=(
        Workload(
            kind="Deployment",
            name="keda-operator",
            containers=(Container("keda-operator", security_context="securityContext.operator"),),
            pod_security_context="podSecurityContext.operator",
            host_network="operator.useHostNetwork",
        ),
        Workload(
            kind="Deployment",
            name="keda-operator-metrics-apiserver",
            containers=(Container("keda-operator-metrics-apiserver", security_context="securityContext.metricServer"),),
            enabled=("metricsServer.enabled",),
            pod_security_context="podSecurityContext.metricServer",
            host_network="metricsServer.useHostNetwork",
        ),
        Workload(
            kind="Deployment",
            name="keda-admission-webhooks",
            containers=(Container("keda-admission-webhooks", security_context="securityContext.webhooks"),),
            enabled=("webhooks.enabled",),
            pod_security_context="podSecurityContext.webhooks",
            host_network="webhooks.useHostNetwork",
        ),
    ),
)

_CERTGEN_CONTAINER = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "allowPrivilegeEscalation": False,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}
_WEBHOOK_JOB = (
    "controller.admissionWebhooks.enabled",
    "controller.admissionWebhooks.patch.enabled",
    "!controller.admissionWebhooks.certManager.enabled",
)
INGRESS_NGINX = ChartFacts(
    chart="ingress-nginx",
    version="4.15.1",
    source=(
        "kubernetes/ingress-nginx, charts/ingress-nginx/values.yaml, templates/_helpers.tpl "
        "(ingress-nginx.controller.containerSecurityContext), templates/controller-deployment.yaml and "
        "templates/admission-webhooks/job-patch/job-*.yaml at tag helm-chart-4.15.1"
    ),
    defaults={
        "controller": {
            "hostNetwork": False,
            "hostPort": {"enabled": False},
            "podSecurityContext": {},
            "containerSecurityContext": {},
            "admissionWebhooks": {
                "enabled": True,
                "patch": {"enabled": True, "securityContext": {}},
                "certManager": {"enabled": False},
                "createSecretJob": {"securityContext": dict(_CERTGEN_CONTAINER)},
                "patchWebhookJob": {"securityContext": dict(_CERTGEN_CONTAINER)},
            },
        },
    },
    workloads=(
        Workload(
            kind="Deployment",
            name="ingress-nginx-controller",
            # With containerSecurityContext empty the template builds one from controller.image.* (non-chroot image).
            containers=(
                Container(
                    "controller",
                    security_context="controller.containerSecurityContext",
                    template={
                        "runAsNonRoot": True,
                        "runAsUser": 101,
                        "runAsGroup": 82,
                        "allowPrivilegeEscalation": False,
                        "seccompProfile": {"type": "RuntimeDefault"},
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                        "readOnlyRootFilesystem": False,
                    },
                    fallback=True,
                ),
            ),
            pod_security_context="controller.podSecurityContext",
            host_network="controller.hostNetwork",
            host_ports="controller.hostPort.enabled",
        ),
        Workload(
            kind="Job",
            name="ingress-nginx-admission-create",
            containers=(Container("create", security_context="controller.admissionWebhooks.createSecretJob.securityContext"),),
            enabled=_WEBHOOK_JOB,
            pod_security_context="controller.admissionWebhooks.patch.securityContext",
        ),
        Workload(
            kind="Job",
            name="ingress-nginx-admission-patch",
            containers=(Container("patch", security_context="controller.admissionWebhooks.patchWebhookJob.securityContext"),),
            enabled=_WEBHOOK_JOB,
            pod_security_context="controller.admissionWebhooks.patch.securityContext",
        ),
    ),
)

NVIDIA_DEVICE_PLUGIN = ChartFacts(
    chart="nvidia-device-plugin",
    version="0.20.1",
    source=(
        "NVIDIA/k8s-device-plugin, deployments/helm/nvidia-device-plugin/values.yaml, templates/_helpers.tpl "
        "(nvidia-device-plugin.securityContext) and templates/daemonset-device-plugin.yml, read at tag v0.20.0 "
        "(the newest tag stored; re-read at v0.20.1)"
    ),
    defaults={"devicePlugin": {"enabled": True}, "podSecurityContext": {}, "securityContext": {}},
    workloads=(
        Workload(
            kind="DaemonSet",
            name="nvidia-device-plugin",
            # Empty securityContext (and no CPU-manager compat, no MIG): the template writes a restricted one.
            containers=(
                Container(
                    "nvidia-device-plugin-ctr",
                    security_context="securityContext",
                    template={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    fallback=True,
                ),
            ),
            enabled=("devicePlugin.enabled",),
            pod_security_context="podSecurityContext",
            host_network="devicePlugin.enableHostNetwork",
            host_paths=("/var/lib/kubelet/device-plugins", "/run/nvidia/mps", "/var/run/cdi"),
        ),
    ),
)

GPU_OPERATOR = ChartFacts(
    chart="gpu-operator",
    version="v26.3.3",
    source=(
        "NVIDIA/gpu-operator at tag v26.3.3: deployments/gpu-operator/values.yaml and templates/operator.yaml (no "
        "securityContext), charts/node-feature-discovery/templates/worker.yaml, and the operands the operator "
        "creates in the release namespace, assets/state-*/…daemonset.yaml (privileged: true, hostPath)"
    ),
    defaults={"nfd": {"enabled": True}},
    workloads=(
        Workload(kind="Deployment", name="gpu-operator", containers=(Container("gpu-operator"),)),
        Workload(
            kind="DaemonSet",
            name="node-feature-discovery-worker",
            containers=(Container("worker"),),
            enabled=("nfd.enabled",),
            host_paths=("/boot", "/etc/os-release", "/sys", "/usr/lib", "/lib", "/proc/swaps"),
        ),
        Workload(
            kind="DaemonSet",
            name="nvidia-device-plugin-daemonset",  # and the validator, toolkit, driver, DCGM operands alike
            containers=(Container("nvidia-device-plugin", template={"privileged": True}),),
            host_paths=("/var/lib/kubelet/device-plugins", "/run/nvidia/validations"),
        ),
    ),
)

KUBE_PROMETHEUS_STACK = ChartFacts(
    chart="kube-prometheus-stack",
    version="88.5.4",
    source=(
        "prometheus-community/helm-charts, charts/kube-prometheus-stack/values.yaml read at tag "
        "kube-prometheus-stack-88.5.3 (the newest tag stored; re-read at 88.5.4), with its "
        "prometheus-node-exporter 4.56.1 subchart (values.yaml, templates/daemonset.yaml at tag "
        "prometheus-node-exporter-4.56.1). Prometheus, Alertmanager, Grafana and kube-state-metrics are "
        "not listed: node-exporter alone decides the level the namespace needs"
    ),
    defaults={
        "nodeExporter": {"enabled": True},
        "prometheus-node-exporter": {
            "hostNetwork": True,
            "hostPID": True,
            "securityContext": {"fsGroup": 65534, "runAsGroup": 65534, "runAsNonRoot": True, "runAsUser": 65534},
            "containerSecurityContext": {"readOnlyRootFilesystem": True},
        },
        "prometheusOperator": {
            "enabled": True,
            "securityContext": {
                "fsGroup": 65534,
                "runAsGroup": 65534,
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containerSecurityContext": dict(_RESTRICTED_CONTAINER),
        },
    },
    workloads=(
        Workload(
            kind="Deployment",
            name="kube-prometheus-stack-operator",
            containers=(Container("kube-prometheus-stack", security_context="prometheusOperator.containerSecurityContext"),),
            enabled=("prometheusOperator.enabled",),
            pod_security_context="prometheusOperator.securityContext",
        ),
        Workload(
            kind="DaemonSet",
            name="prometheus-node-exporter",
            containers=(Container("node-exporter", security_context="prometheus-node-exporter.containerSecurityContext"),),
            enabled=("nodeExporter.enabled",),
            pod_security_context="prometheus-node-exporter.securityContext",
            host_network="prometheus-node-exporter.hostNetwork",
            host_pid="prometheus-node-exporter.hostPID",
            host_paths=("/proc", "/sys"),
        ),
    ),
)

PROMETHEUS_ADAPTER = ChartFacts(
    chart="prometheus-adapter",
    version="5.3.0",
    source="prometheus-community/helm-charts, charts/prometheus-adapter/values.yaml and templates/deployment.yaml at tag prometheus-adapter-5.3.0",
    defaults={
        "hostNetwork": {"enabled": False},
        "podSecurityContext": {"fsGroup": 10001},
        "securityContext": {
            **_RESTRICTED_CONTAINER,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    },
    workloads=(
        Workload(
            kind="Deployment",
            name="prometheus-adapter",
            containers=(Container("prometheus-adapter", security_context="securityContext"),),
            pod_security_context="podSecurityContext",
            host_network="hostNetwork.enabled",
        ),
    ),
)

AWS_LOAD_BALANCER_CONTROLLER = ChartFacts(
    chart="aws-load-balancer-controller",
    version="1.17.1",
    source=(
        "aws/eks-charts, stable/aws-load-balancer-controller/values.yaml and templates/deployment.yaml at commit "
        "9639b8b69c99164b1f09af63427f8046b0634f35 ('aws-load-balancer-controller: v2.17.1', Chart.yaml version 1.17.1)"
    ),
    defaults={
        "hostNetwork": False,
        "podSecurityContext": {"fsGroup": 65534},
        "securityContext": {"readOnlyRootFilesystem": True, "runAsNonRoot": True, "allowPrivilegeEscalation": False},
    },
    workloads=(
        Workload(
            kind="Deployment",
            name="aws-load-balancer-controller",
            containers=(Container("aws-load-balancer-controller", security_context="securityContext"),),
            pod_security_context="podSecurityContext",
            host_network="hostNetwork",
        ),
    ),
)

KARPENTER = ChartFacts(
    chart="karpenter",
    version="1.14.1",
    source="aws/karpenter-provider-aws, charts/karpenter/values.yaml and templates/deployment.yaml at tag v1.14.1",
    defaults={
        "hostNetwork": False,
        "podSecurityContext": {"fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
        "controller": {"securityContext": {"appArmorProfile": {}, "seLinuxOptions": {}, "seccompProfile": {}}},
    },
    workloads=(
        Workload(
            kind="Deployment",
            name="karpenter",
            # The template writes the hardening itself; values add only AppArmor, SELinux and seccomp.
            containers=(
                Container(
                    "controller",
                    security_context="controller.securityContext",
                    template={
                        "privileged": False,
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "capabilities": {"drop": ["ALL"]},
                    },
                ),
            ),
            pod_security_context="podSecurityContext",
            host_network="hostNetwork",
        ),
    ),
)

KARPENTER_CRD = ChartFacts(
    chart="karpenter-crd",
    version="1.14.1",
    source="aws/karpenter-provider-aws, charts/karpenter-crd/templates at tag v1.14.1: CustomResourceDefinitions only",
    defaults={},
)

CHARTS: dict[tuple[str, str], ChartFacts] = {
    (c.chart, c.version): c
    for c in (
        DCGM_EXPORTER,
        LWS,
        KEDA,
        INGRESS_NGINX,
        NVIDIA_DEVICE_PLUGIN,
        GPU_OPERATOR,
        KUBE_PROMETHEUS_STACK,
        PROMETHEUS_ADAPTER,
        AWS_LOAD_BALANCER_CONTROLLER,
        KARPENTER,
        KARPENTER_CRD,
    )
}
