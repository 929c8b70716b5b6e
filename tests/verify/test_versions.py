"""versions.kubernetes-support: seeds from real recorded plans (a cluster's pinned minor moved back to one
out of standard support), the warning window, and the regression for the stale EKS 1.33 pin."""

from __future__ import annotations

from datetime import date
from typing import cast

import pytest
from pulumi_llm import pins
from pulumi_llm.verify import clock, run_rules
from pulumi_llm.verify.facts import advisories, kubernetes_versions
from pulumi_llm.verify.rules import versions

from .conftest import PLAN_DAY, fired, resource


def mine(view, severity: str) -> list:
    return [v for v in run_rules(view, only=[versions.NAME]) if v.severity == severity]


# --- seeds ---------------------------------------------------------------------------------------


def test_seed_eks_back_on_133_on_prod(recorded):
    view = recorded("prod")
    resource(view, "aws:eks/cluster:Cluster", "llm-eks-cluster")["inputs"]["version"] = "1.33"
    assert fired(view) == {"versions.kubernetes-support"}
    assert "left standard support on 2026-07-29" in mine(view, "error")[0].why


def test_seed_aks_on_134_on_azure_prod(recorded):
    view = recorded("azure-prod")
    resource(view, "azure-native:containerservice:ManagedCluster", "llm-aks-cluster")["inputs"]["kubernetesVersion"] = "1.34"
    assert fired(view) == {"versions.kubernetes-support"}


def test_seed_gke_pinned_to_an_old_minor_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    resource(view, "gcp:container/cluster:Cluster", "llm-gke-cluster")["inputs"]["minMasterVersion"] = "1.33.5-gke.1201000"
    assert fired(view) == {"versions.kubernetes-support"}


def test_seed_within_90_days_is_a_warning_not_an_error(recorded, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2027, 1, 15))  # 71 days before EKS 1.35 leaves
    view = recorded("staging")
    assert fired(view) == set()
    [warning] = mine(view, "warning")
    assert warning.resource == "llm-eks-cluster" and "71 days from now" in warning.why


def test_a_gke_release_channel_is_not_judged(recorded):
    view = recorded("gcp-prod")
    assert resource(view, "gcp:container/cluster:Cluster", "llm-gke-cluster")["inputs"].get("minMasterVersion") is None
    assert mine(view, "error") == [] and mine(view, "warning") == []


# --- regression: EKS 1.33 had left standard support (finding 12) ----------------------------------


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_shipped_eks_clusters_run_a_minor_in_standard_support(recorded, stack):
    version = resource(recorded(stack), "aws:eks/cluster:Cluster", "llm-eks-cluster")["inputs"]["version"]
    assert version == pins.EKS_KUBERNETES_VERSION != "1.33"
    assert cast(date, kubernetes_versions.end_of_standard_support("eks", version)) > PLAN_DAY


def test_every_eks_addon_is_pinned_for_the_cluster_minor():
    assert {pin.kubernetes_version for pin in pins.EKS_ADDONS.values()} == {pins.EKS_KUBERNETES_VERSION}
    assert pins.EKS_ADDONS["kube-proxy"].version.startswith(f"v{pins.EKS_KUBERNETES_VERSION}.")


# --- helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "expected"), [("1.35", "1.35"), ("1.35.3", "1.35"), ("1.33.5-gke.1201000", "1.33")])
def test_minor(version, expected):
    assert kubernetes_versions.minor(version) == expected


def test_an_unknown_minor_is_a_warning(recorded):
    view = recorded("prod")
    resource(view, "aws:eks/cluster:Cluster", "llm-eks-cluster")["inputs"]["version"] = "1.37"
    assert fired(view) == set()
    assert "no end-of-standard-support date" in mine(view, "warning")[0].why


# --- versions.advisories: the pinned engine image moved back into an advisory's range ---------------

OLD_LITELLM = "ghcr.io/berriai/litellm:v1.103.0@sha256:bd089afdcd35b894b14a93f9743cdc8b591f82da1a38dd43a010a7b0c9de5fd7"


def replace_in_inputs(view, old: str, new: str) -> int:
    """Replace `old` by `new` in every string input of the plan (JSON-encoded container definitions included);
    returns how many strings changed."""
    changed = 0

    def walk(value):
        nonlocal changed
        if isinstance(value, str):
            if old in value:
                changed += 1
                return value.replace(old, new)
            return value
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    for r in view.resources:
        r["inputs"] = walk(r["inputs"])
    return changed


def advisories_found(view, severity: str = "error") -> list:
    return [v for v in run_rules(view, only=[versions.ADVISORIES]) if v.severity == severity]


@pytest.mark.parametrize(("stack", "holder"), [("prod", "llm-gateway-task"), ("azure-prod", "llm-gateway-engine")])
def test_seed_the_engine_image_back_on_litellm_1_103_0(recorded, stack, holder):
    view = recorded(stack)
    assert replace_in_inputs(view, pins.LITELLM.ref, OLD_LITELLM) >= 1
    assert fired(view) == {versions.ADVISORIES}
    [found] = advisories_found(view)
    assert found.resource == holder
    assert (
        "runs litellm 1.103.0, affected by GHSA-7hp6-4w63-5g45" in found.why and "fixed in 1.100.4, 1.101.3, 1.102.2, 1.103.1" in found.why
    )


def test_seed_a_digest_only_mirror_of_the_affected_image_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    assert replace_in_inputs(view, pins.LITELLM.digest, OLD_LITELLM.split("@")[1]) >= 1
    assert fired(view) == {versions.ADVISORIES}
    assert "berriai/litellm@sha256:bd089afd" in advisories_found(view)[0].why


def test_seed_a_compromised_release(recorded):
    view = recorded("dev")
    replace_in_inputs(view, pins.LITELLM.ref, "ghcr.io/berriai/litellm:v1.82.8")
    [found] = [v for v in advisories_found(view) if "litellm#24518" in v.why]
    assert "never install it" in found.why


def test_an_image_of_unknown_version_is_a_warning_not_an_error(recorded):
    view = recorded("prod")
    replace_in_inputs(view, pins.LITELLM.ref, "ghcr.io/berriai/litellm:main-stable")
    assert fired(view) == set()
    assert "cannot tell its litellm version" in advisories_found(view, "warning")[0].why


@pytest.mark.parametrize("stack", ["prod", "dev", "gcp-prod", "azure-prod"])
def test_the_shipped_engine_images_are_past_every_advisory(recorded, stack):
    assert run_rules(recorded(stack), only=[versions.ADVISORIES]) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ghcr.io/berriai/litellm:v1.103.1@sha256:" + "a" * 64, [("litellm", "v1.103.1")]),
        ("123.dkr.ecr.us-east-1.amazonaws.com/mirror/litellm-database:v1.104.0", [("litellm", "v1.104.0")]),
        ('[{"image": "localhost:5000/litellm/litellm:v1.82.7"}]', [("litellm", "v1.82.7")]),
        ("see https://github.com/BerriAI/litellm/security/advisories", []),
        ("docker.io/vllm/vllm-openai:v0.31.0", []),
    ],
)
def test_image_versions_reads_watched_images_only(text, expected):
    assert [(package, version) for _, package, version in versions.image_versions(text)] == expected


def _scanned(text: str) -> list[tuple[str, str, str | None]]:
    """What image_versions read before it scanned only the runs naming a watched image: the pattern
    tried at every position of the whole text."""
    found: list[tuple[str, str, str | None]] = []
    for match in versions._IMAGE.finditer(text):
        tag, digest = match.group("tag"), match.group("digest")
        if tag is None and digest is None:
            continue
        version = tag if tag is not None and advisories.release(tag) is not None else versions._TAG_BY_DIGEST.get(digest or "")
        found.append((match.group("ref"), advisories.IMAGE_PACKAGES[match.group("name")], version))
    return found


EDGE_TEXTS = [
    "a:ghcr.io/berriai/litellm:v1.103.1,b=docker.io/litellm/litellm-database@sha256:" + "b" * 64 + ";",
    "x" * 5000 + "/litellm:v1.82.8 " + "/".join(["seg"] * 400) + "/litellm-database:v1.104.0",
    "mirror.example:5000/team/litellm:v1.103.0@sha256:" + "c" * 64 + "/litellm:v1",
    "ümlaut/litellm:v1.82.7 and ghcr.io/berriai/litellm (a bare repository)",
    "ghcr.io/berriai/LITELLM:v1.82.7 /litellm-database /litellm:",
]


@pytest.mark.parametrize("stack", ["prod", "azure-prod", "gcp-prod", "staging"])
def test_image_versions_finds_what_a_whole_text_scan_finds(recorded, stack):
    view = recorded(stack)
    texts = [t for r in view.resources for t in versions._strings(r["inputs"])]
    texts += [t for o in view.manifests for t in versions._strings(o)] + EDGE_TEXTS
    assert any(_scanned(t) for t in texts)  # the plan names watched images: the comparison bites
    for text in texts:
        assert list(versions.image_versions(text)) == _scanned(text), text[:200]
