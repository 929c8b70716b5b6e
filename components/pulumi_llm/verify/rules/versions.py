"""Versions the plan deploys, against the calendars and advisories of their upstreams.

* versions.kubernetes-support: the Kubernetes minor a managed cluster pins is in standard support on the
day of the plan.

Past the end of standard support EKS bills the cluster for extended support (and auto-upgrades it at the
end of that), AKS gives platform-only support, GKE upgrades it: an error. Within ``WARN_DAYS`` of the date
it is a warning, time to plan the upgrade (EKS moves one minor at a time, with its add-ons).

Facts: ``facts/kubernetes_versions`` (the EKS, AKS and GKE release calendars).

* versions.advisories: no image the plan runs carries a package version a known advisory affects
(``facts/advisories``: GHSA-7hp6-4w63-5g45 against LiteLLM before 1.103.1, the compromised 1.82.7/1.82.8).
An image's version is its tag (``…/litellm:v1.103.1@sha256:…``) or, for a digest-only reference (the GCP
mirror), the tag of the pin with that digest (``pins.IMAGES``) or the affected release it is known to be
(``facts/advisories.KNOWN_DIGESTS``); an image of a watched package whose
version neither tells is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ... import pins
from .. import clock
from ..facts import advisories, kubernetes_versions
from ..plain import dig
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "versions.kubernetes-support"
WARN_DAYS = 90

# Where each managed cluster's pinned version sits in its resource's inputs.
PINNED_VERSION = {
    "aws:eks/cluster:Cluster": ("eks", "version"),
    "azure-native:containerservice:ManagedCluster": ("aks", "kubernetesVersion"),
    "gcp:container/cluster:Cluster": ("gke", "minMasterVersion"),
}


@rule(NAME)
def kubernetes_support(view: PlanView) -> Iterator[Violation]:
    """The Kubernetes minor a managed cluster pins is in standard support on the day of the plan (a warning within 90 days of its end)."""
    day = clock.today()
    for cluster in view.of_type(*PINNED_VERSION):
        service, field = PINNED_VERSION[cluster["type"]]
        version = cluster["inputs"].get(field)
        if not isinstance(version, str) or not version:
            continue  # not pinned: a GKE release channel picks and upgrades the version
        ends = kubernetes_versions.end_of_standard_support(service, version)
        if ends is None:
            yield violation(
                view,
                cluster["name"],
                NAME,
                (
                    f"{service.upper()} {version}: no end-of-standard-support date in facts/kubernetes_versions; "
                    "add the release calendar's row"
                ),
                severity="warning",
            )
        elif ends <= day:
            yield violation(
                view,
                cluster["name"],
                NAME,
                (f"{service.upper()} {version} left standard support on {ends}: move to a minor in standard support"),
            )
        elif (ends - day).days <= WARN_DAYS:
            yield violation(
                view,
                cluster["name"],
                NAME,
                (f"{service.upper()} {version} leaves standard support on {ends}, {(ends - day).days} days from now"),
                severity="warning",
            )


ADVISORIES = "versions.advisories"

# <registry/path>/<name>[:tag][@sha256:digest] for the image names facts.advisories watches.
_IMAGE = re.compile(
    r"(?P<ref>[\w.\-]+(?::\d+)?(?:/[\w.\-]+)*/(?P<name>"
    + "|".join(re.escape(n) for n in sorted(advisories.IMAGE_PACKAGES, key=len, reverse=True))
    + r")(?::(?P<tag>\w[\w.\-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?)"
)
_NAME_MARKERS = tuple(f"/{name}" for name in advisories.IMAGE_PACKAGES)
_REFERENCE_RUN = re.compile(r"[\w.\-:/@]+")
"""A run of the characters ``_IMAGE`` matches (word characters . - : / @): no match crosses its ends."""
_TAG_BY_DIGEST = {pin.digest: pin.tag for pin in pins.IMAGES.values()} | {d: v for d, (_, v) in advisories.KNOWN_DIGESTS.items()}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():  # pyright: ignore[reportUnknownVariableType]
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            yield from _strings(item)


def image_versions(text: str) -> Iterator[tuple[str, str, str | None]]:
    """(image reference, package, version or None) for each watched image named in ``text``; a bare
    repository (no tag, no digest: a URL, a description) is no image."""
    # The same matches as _IMAGE.finditer(text), found faster: a match holds "/<name>" and lies inside one
    # run of the characters a reference is made of, so only the runs holding that are scanned. The scan
    # of a whole text tries the pattern from every position of every long run (a task definition, a
    # script, a blob): it was most of the verify pass of a plan.
    if not any(marker in text for marker in _NAME_MARKERS):
        return
    for run in _REFERENCE_RUN.finditer(text):
        if not any(marker in run.group() for marker in _NAME_MARKERS):
            continue
        for match in _IMAGE.finditer(run.group()):
            tag, digest = match.group("tag"), match.group("digest")
            if tag is None and digest is None:
                continue
            version = tag if tag is not None and advisories.release(tag) is not None else _TAG_BY_DIGEST.get(digest or "")
            yield match.group("ref"), advisories.IMAGE_PACKAGES[match.group("name")], version


@rule(ADVISORIES)
def known_advisories(view: PlanView) -> Iterator[Violation]:
    """No image the plan runs carries a package version a known advisory affects (facts/advisories: LiteLLM before 1.103.1, the compromised 1.82.7/1.82.8)."""
    holders = [(r["name"], r["inputs"]) for r in view.resources]
    holders += [(f"{o.get('kind')}/{dig(o, ('metadata', 'name'))}", o) for o in view.manifests]
    for holder, data in holders:
        seen: set[str] = set()
        for text in _strings(data):
            for ref, package, version in image_versions(text):
                if ref in seen:
                    continue
                seen.add(ref)
                if version is None:
                    yield violation(
                        view,
                        holder,
                        ADVISORIES,
                        f"image {ref}: cannot tell its {package} version (a version tag or a pinned digest tells it)",
                        severity="warning",
                    )
                    continue
                for advisory in advisories.affected_by(package, version):
                    fixed = f"fixed in {', '.join(advisory.fixed)}" if advisory.fixed else "never install it"
                    yield violation(
                        view,
                        holder,
                        ADVISORIES,
                        f"image {ref} runs {package} {version.removeprefix('v')}, affected by {advisory.id} "
                        f"({advisory.summary}; {fixed}; {advisory.source})",
                    )
