"""Cluster add-ons as pinned Helm releases, with values chosen for LLM serving.

Releases (`helm.v3.Release`) rather than `helm.v3.Chart`: one resource per add-on, rendered by Helm
in the provider, and without the Python-side template expansion that makes large CRD charts slow
(pulumi#8717). Values are pure functions so tests read exactly what Helm receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..pins import ChartPin

PROMETHEUS_FULLNAME = "kps"
MONITORING_NAMESPACE = "monitoring"
GRAFANA_ADMIN_SECRET = "kube-prometheus-stack-grafana"
"""The Secret (keys admin-user, admin-password) the grafana subchart generates in MONITORING_NAMESPACE: named
after its fullname, release name + "-grafana" (the release is named after the chart). Read the password with
`kubectl -n monitoring get secret kube-prometheus-stack-grafana -o jsonpath='{.data.admin-password}' | base64 -d`."""


def prometheus_url(namespace: str = MONITORING_NAMESPACE) -> str:
    """In-cluster URL of the Prometheus that kube-prometheus-stack installs."""
    return f"http://{PROMETHEUS_FULLNAME}-prometheus.{namespace}.svc.cluster.local:9090"


def gpu_operator_values(*, driver: bool, service_monitor: bool) -> dict[str, Any]:
    # On-prem is the one place the Operator installs drivers; managed clouds ship them in the node
    # image, where driver and toolkit stay off (awslabs/ai-on-eks infra/base/terraform/helm-values/nvidia-gpu-operator.yaml).
    return {
        "driver": {"enabled": driver},
        "toolkit": {"enabled": True},
        "devicePlugin": {"enabled": True},
        "gfd": {"enabled": True},
        # honorLabels false: the workload's pod/namespace arrive as exported_*, which the alerts and
        # dashboards query (observability_rules.DcgmLabels).
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": service_monitor, "honorLabels": False}},
        "nfd": {"enabled": True},
        # A CUDA smoke test after install catches driver/CUDA mismatches (error 802/803) early.
        "validator": {"plugin": {"env": [{"name": "WITH_WORKLOAD", "value": "true"}]}},
    }


def ingress_nginx_values(*, class_name: str, service_monitor: bool) -> dict[str, Any]:
    return {
        "controller": {
            "ingressClassResource": {"name": class_name, "controllerValue": f"k8s.io/{class_name}"},
            "ingressClass": class_name,
            "replicaCount": 2,
            "config": {
                # Server-sent events: pass tokens as they come, and let long generations finish.
                "proxy-buffering": "off",
                "proxy-request-buffering": "off",
                "proxy-read-timeout": "3600",
                "proxy-send-timeout": "3600",
                "proxy-body-size": "16m",
                "ssl-protocols": "TLSv1.2 TLSv1.3",
            },
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": service_monitor}},
            "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        }
    }


def keda_values(*, service_monitor: bool) -> dict[str, Any]:
    return {
        "prometheus": {
            "operator": {"enabled": True, "serviceMonitor": {"enabled": service_monitor}},
            "metricServer": {"enabled": True, "serviceMonitor": {"enabled": service_monitor}},
        },
        "securityContext": {
            "operator": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
        },
    }


def kube_prometheus_stack_values() -> dict[str, Any]:
    return {
        "fullnameOverride": PROMETHEUS_FULLNAME,
        "prometheus": {
            "prometheusSpec": {
                # Pick up our ServiceMonitors, PodMonitors and rules, which carry no Helm release label.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "retention": "15d",
            }
        },
        "grafana": {
            # No admin.existingSecret and no adminPassword: the grafana subchart then generates a random
            # admin password into its own Secret (GRAFANA_ADMIN_SECRET) and, through Helm's lookup, keeps
            # it on upgrades (verify/facts/chart_needs.py, GRAFANA_GENERATED_ADMIN_SECRET). The password
            # is made in the cluster: never in values, config or Pulumi state, and nothing has to exist
            # before the first `pulumi up` (a Secret named in existingSecret could not: on EKS/GKE/AKS
            # the cluster does not exist yet, and Grafana would never start).
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "searchNamespace": "ALL"}},
        },
    }


def lws_values() -> dict[str, Any]:
    # The chart's pod securityContext carries runAsNonRoot but no seccompProfile (verify/facts/charts.py
    # LWS), so Pod Security `restricted` refuses the controller and no LeaderWorkerSet ever starts. The
    # controller needs nothing more than restricted, so the values, not the namespace level, give way.
    return {"podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}}


def prometheus_adapter_values(rules: list[dict[str, Any]], url: str) -> dict[str, Any]:
    host, _, port = url.rpartition(":")
    return {"prometheus": {"url": host, "port": int(port)}, "rules": {"default": False, "custom": rules}}


def release(
    name: str,
    pin: ChartPin,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    timeout_seconds: int = 900,
) -> k8s.helm.v3.Release:
    """A Helm release of a pinned chart; failed installs roll back (atomic) instead of lingering."""
    if pin.repository.startswith("oci://"):
        chart, repository_opts = f"{pin.repository}/{pin.name}", None
    else:
        chart, repository_opts = pin.name, k8s.helm.v3.RepositoryOptsArgs(repo=pin.repository)
    return k8s.helm.v3.Release(
        name,
        name=pin.name,
        chart=chart,
        version=pin.version,
        repository_opts=repository_opts,
        namespace=namespace,
        create_namespace=False,
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout_seconds,
        opts=opts,
    )
