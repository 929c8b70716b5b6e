"""The pinning rules: images by tag and digest (never latest), charts by exact version, every pin sourced."""

from __future__ import annotations

import dataclasses
import datetime
import re

import pytest
from pulumi_llm import pins

IMAGE_REF = re.compile(r"^[^:@\s]+(:[A-Za-z0-9._-]+)@sha256:[0-9a-f]{64}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Exact semver, with the optional leading "v" some charts (gpu-operator) use. No ranges, wildcards,
# pre-releases or build metadata.
EXACT_VERSION = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
EKS_ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
# Tags that name a moving target rather than a release.
FLOATING_TAGS = {"latest", "main", "master", "nightly", "stable", "edge", "dev"}
# PyPI litellm 1.82.7 and 1.82.8 were malicious; nothing built from them may be pinned.
COMPROMISED_LITELLM = re.compile(r"(^|[^0-9])1\.82\.[78]([^0-9]|$)")

IMAGES = sorted(pins.IMAGES.items())
CHARTS = sorted(pins.CHARTS.items())
ADDONS = sorted(pins.EKS_ADDONS.items())


@pytest.mark.parametrize(("key", "pin"), IMAGES, ids=[k for k, _ in IMAGES])
def test_image_ref_is_tag_and_digest(key: str, pin: pins.ImagePin) -> None:
    assert IMAGE_REF.match(pin.ref), pin.ref
    assert DIGEST.match(pin.digest), pin.digest
    assert pin.ref == f"{pin.repository}:{pin.tag}@{pin.digest}"


@pytest.mark.parametrize(("key", "pin"), IMAGES, ids=[k for k, _ in IMAGES])
def test_image_tag_is_not_floating(key: str, pin: pins.ImagePin) -> None:
    assert pin.tag.lower() not in FLOATING_TAGS
    assert "latest" not in pin.tag.lower()


@pytest.mark.parametrize(("key", "pin"), IMAGES, ids=[k for k, _ in IMAGES])
def test_image_names_a_source_and_a_check_date(key: str, pin: pins.ImagePin) -> None:
    assert len(pin.source.strip()) >= 20, "say where the digest came from"
    checked = datetime.date.fromisoformat(pin.checked)
    assert datetime.date(2025, 1, 1) <= checked <= datetime.date.today()
    assert pin.manifest in {"index", "linux/amd64", "linux/arm64", "unknown"}


def test_no_compromised_litellm() -> None:
    for key, pin in pins.IMAGES.items():
        if "litellm" in pin.repository:
            assert not COMPROMISED_LITELLM.search(pin.tag), f"{key}: {pin.tag} is a compromised release"


def test_image_digests_are_unique() -> None:
    """Two different tags cannot share one digest: a copy-paste slip would look exactly like this."""
    digests = [pin.digest for pin in pins.IMAGES.values()]
    assert len(digests) == len(set(digests))


@pytest.mark.parametrize(("key", "chart"), CHARTS, ids=[k for k, _ in CHARTS])
def test_chart_version_is_exact(key: str, chart: pins.ChartPin) -> None:
    assert EXACT_VERSION.match(chart.version), chart.version
    assert chart.app_version.strip() and chart.app_version.lower() not in FLOATING_TAGS
    assert chart.repository.startswith(("https://", "oci://")), chart.repository
    assert chart.name == key
    assert len(chart.source.strip()) >= 20, "say where the version came from"


@pytest.mark.parametrize(("key", "addon"), ADDONS, ids=[k for k, _ in ADDONS])
def test_eks_addon_version_format(key: str, addon: pins.EksAddonPin) -> None:
    assert EKS_ADDON_VERSION.match(addon.version), addon.version
    assert addon.name == key
    assert addon.kubernetes_version == pins.EKS_KUBERNETES_VERSION
    assert len(addon.source.strip()) >= 20


def test_kube_proxy_matches_the_kubernetes_minor() -> None:
    assert pins.EKS_ADDONS["kube-proxy"].version.startswith(f"v{pins.EKS_KUBERNETES_VERSION}.")


def test_eks_kubernetes_version_is_a_minor() -> None:
    assert re.fullmatch(r"1\.\d+", pins.EKS_KUBERNETES_VERSION)


def test_all_pins_lists_every_pin() -> None:
    assert len(pins.ALL_PINS) == len(pins.IMAGES) + len(pins.CHARTS) + len(pins.EKS_ADDONS)
    for pin in pins.ALL_PINS.values():
        assert pin.source.strip()


def test_pins_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        pins.VLLM_OPENAI.tag = "latest"  # type: ignore[misc]


def test_dcgm_chart_installs_the_pinned_exporter() -> None:
    """The chart's appVersion is the exporter half of the image tag (<dcgm>-<exporter>-<flavour>)."""
    assert f"-{pins.DCGM_EXPORTER_CHART.app_version}-" in pins.DCGM_EXPORTER.tag


# Finding 12: these pins were backed only by third-party repositories; each now names its upstream.
@pytest.mark.parametrize(
    ("pin", "upstream"),
    [
        (pins.KUBE_PROMETHEUS_STACK_CHART, "prometheus-community/helm-charts release tag kube-prometheus-stack-88.5.4"),
        (pins.NVIDIA_DEVICE_PLUGIN_CHART, "NVIDIA/k8s-device-plugin pull request #2057"),
    ],
    ids=["kube-prometheus-stack", "nvidia-device-plugin"],
)
def test_pins_once_third_party_only_cite_their_upstream(pin: pins.ChartPin, upstream: str) -> None:
    assert pin.source.startswith("Upstream: ") and upstream in pin.source


def test_karpenter_ami_release_is_one_upstream_documents() -> None:
    from pulumi_llm.cluster import eks_render

    # awslabs/amazon-eks-ami CHANGELOG.md "AMI Release v20260714" lists the 1.35 NVIDIA AMI (see eks_render).
    assert eks_render.KARPENTER_AMI_ALIAS == "al2023@v20260714" and pins.EKS_KUBERNETES_VERSION == "1.35"
