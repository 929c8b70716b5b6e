"""OnPremCluster and the platform's on-prem wiring, under the recording mock runtime."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from helpers import by_name, children, only, run
from pulumi_llm.errors import UserError
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline.recorder import DefaultProviderDisabled
from pulumi_llm.onprem import OnPremCluster, OnPremClusterArgs
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs
from pulumi_llm.settings import load

LABELS = CommonLabels(stack="lab", environment="lab", extra={"team": "ml"})


def onprem_settings(**extra: str):
    return load(
        {
            "pulumi-llm:environment": "lab",
            "pulumi-llm:cloud": "onprem",
            "pulumi-llm:methods": '["onprem"]',
            "pulumi-llm:onprem": '{"kube_context": "gpu-lab", "namespace": "models"}',
            **extra,
        },
        "stacks/Pulumi.lab.yaml",
    )


def test_platform_builds_explicit_kubernetes_provider_from_context() -> None:
    records = run(lambda: LlmPlatform("llm", LlmPlatformArgs(settings=onprem_settings(), stack="lab")), region="")
    platform = only(records, "pulumi-llm:index:LlmPlatform")
    assert children(records, platform) == [
        ("pulumi-llm:index:OnPremCluster", "llm-onprem"),
        ("pulumi:providers:kubernetes", "llm-onprem-k8s"),
    ]
    provider = by_name(records)["llm-onprem-k8s"]
    assert provider.inputs["context"] == "gpu-lab"
    assert "kubeconfig" not in provider.inputs  # the provider's own default, never file contents in state
    namespace = only(records, "kubernetes:core/v1:Namespace")
    assert namespace.provider == provider.urn
    assert namespace.parent == by_name(records)["llm-onprem"].urn


def test_namespace_carries_common_labels_and_restricted_pod_security() -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", context="lab")
        OnPremCluster("edge", OnPremClusterArgs(namespace="models", labels=LABELS.with_method("onprem")),
                      opts=pulumi.ResourceOptions(providers=[provider]))

    records = run(program, region="")
    namespace = only(records, "kubernetes:core/v1:Namespace")
    assert namespace.name == "edge-ns"
    assert namespace.inputs["metadata"] == {
        "name": "models",
        "labels": {
            "team": "ml",
            "app.kubernetes.io/part-of": "pulumi-llm",
            "app.kubernetes.io/managed-by": "pulumi",
            "pulumi-llm.dev/stack": "lab",
            "pulumi-llm.dev/environment": "lab",
            "pulumi-llm.dev/method": "onprem",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        },
    }


def test_default_providers_disabled_means_a_component_without_provider_fails() -> None:
    # The same rule the engine applies under `pulumi up` with disable-default-providers ["*"]:
    # proof that the passing tests above really pass their providers explicitly.
    with pytest.raises(DefaultProviderDisabled, match=r"Default provider for 'kubernetes' disabled\. 'urn:pulumi:test::pulumi-llm::pulumi-llm:index:OnPremCluster\$kubernetes:core/v1:Namespace::bare-ns' must use an explicit provider\."):
        run(lambda: OnPremCluster("bare", OnPremClusterArgs(labels=LABELS)), region="")


def test_a_bad_value_raised_inside_the_program_is_a_user_error() -> None:
    def program() -> None:
        raise pulumi.RunError("stacks/Pulumi.lab.yaml: pulumi-llm:x = 1: nope")

    with pytest.raises(UserError, match=r"^stacks/Pulumi.lab.yaml: pulumi-llm:x = 1: nope$"):
        run(program)
