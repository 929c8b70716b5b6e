"""Known advisories against what the project pins (issue 15 item 8): no pinned image, and not the integration
tests' LiteLLM venv, runs a version an advisory in verify/facts/advisories.py affects — and the check bites
when the LiteLLM pin goes back to 1.103.0, inside GHSA-7hp6-4w63-5g45."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from types import ModuleType

import pytest
from pulumi_llm import pins
from pulumi_llm.verify.facts import advisories
from pulumi_llm.verify.facts.advisories import ADVISORIES, IMAGE_PACKAGES, affected_by, release

SUPPORT = Path(__file__).resolve().parents[1] / "integration" / "support"


def pinned_advisories(images: dict[str, pins.ImagePin]) -> dict[str, list[str]]:
    """Pin key → the advisories its image's version is affected by (only pins of watched packages)."""
    out: dict[str, list[str]] = {}
    for key, pin in images.items():
        package = IMAGE_PACKAGES.get(pin.repository.rsplit("/", 1)[-1])
        if package is not None:
            out[key] = [a.id for a in affected_by(package, pin.tag)]
    return out


def test_no_pinned_image_runs_an_affected_version() -> None:
    found = pinned_advisories(dict(pins.IMAGES))
    assert set(found) == {"litellm", "litellm-database"}  # the watched pins are found at all
    assert found == {"litellm": [], "litellm-database": []}


def test_the_litellm_pin_back_on_1_103_0_is_caught() -> None:
    old = dataclasses.replace(pins.LITELLM, tag="v1.103.0")
    assert pinned_advisories({"litellm": old}) == {"litellm": ["GHSA-7hp6-4w63-5g45"]}


@pytest.fixture
def litellm_env(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(SUPPORT))  # the module imports its siblings as top-level modules when run alone
    return importlib.import_module("litellm_env")


def test_the_integration_tests_litellm_is_the_pinned_image_and_past_every_advisory(litellm_env: ModuleType) -> None:
    assert f"v{litellm_env.LITELLM_VERSION}" == pins.LITELLM.tag
    assert affected_by("litellm", litellm_env.LITELLM_VERSION) == []
    assert litellm_env.COMPROMISED <= {v for a in ADVISORIES for v in a.versions}


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.103.0", ["GHSA-7hp6-4w63-5g45"]),
        ("1.103.1", []),
        ("1.103.1rc1", ["GHSA-7hp6-4w63-5g45"]),  # a pre-release of the fix is not the fix
        ("1.102.1", ["GHSA-7hp6-4w63-5g45"]),
        ("1.102.2", []),
        ("1.101.3", []),
        ("1.100.4", []),
        ("1.100.3", ["GHSA-7hp6-4w63-5g45"]),
        ("1.92.2", ["GHSA-7hp6-4w63-5g45"]),  # named inside the affected range
        ("1.104.0", []),
        ("1.82.8", ["GHSA-7hp6-4w63-5g45", "litellm#24518"]),
        ("main-stable", []),
    ],
)
def test_which_litellm_versions_each_advisory_affects(version: str, expected: list[str]) -> None:
    assert [a.id for a in affected_by("litellm", version)] == expected


def test_other_packages_are_not_judged_by_litellm_advisories() -> None:
    assert affected_by("vllm", "1.82.8") == []


def test_releases_compare_numerically_and_a_pre_release_sorts_below_its_release() -> None:
    assert release("v1.103.10") is not None and release("1.103.9") is not None
    assert release("1.103.9") < release("v1.103.10")  # type: ignore[operator]
    assert release("1.104.0-rc.2") < release("1.104.0") < release("1.104.0.1")  # type: ignore[operator]
    assert release("stable") is None


def test_every_advisory_is_cited_and_its_bounds_are_versions() -> None:
    for advisory in ADVISORIES:
        assert advisory.source.startswith("https://github.com/BerriAI/litellm/")
        assert advisory.ranges or advisory.versions
        for bound in [*(r.introduced for r in advisory.ranges), *(r.fixed for r in advisory.ranges), *advisory.versions, *advisory.fixed]:
            assert bound is None or release(bound) is not None, bound
    for digest, (package, version) in advisories.KNOWN_DIGESTS.items():
        assert digest != pins.LITELLM.digest and affected_by(package, version)
