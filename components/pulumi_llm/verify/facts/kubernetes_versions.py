"""End of standard support per Kubernetes minor on each managed service: past it a cluster runs on paid
extended support (EKS), platform-only support (AKS) or is force-upgraded (GKE).

EKS: awsdocs/amazon-eks-user-guide, latest/ug/versioning/kubernetes-versions.adoc, "Amazon EKS
    Kubernetes release calendar" (UTC dates; the stored revision lists 1.29-1.34). 1.35 and 1.36 are not
    in that revision: 1.35's date is the same calendar's row as quoted in gh-index 57438980331 and in
    aws-samples/sample-apex-skills (eks-operation-review/references/cluster-lifecycle.md, "last verified
    2026-04-24"); 1.36 is absent (no dated row found).
AKS: MicrosoftDocs/azure-aks-docs, articles/aks/supported-kubernetes-versions.md, "AKS Kubernetes release
    calendar", End of life column (as in gh-index 59085617642). The calendar gives a month only; the first
    day of that month is used, the earliest the version can leave support.
GKE: docs.cloud.google.com/kubernetes-engine/docs/release-schedule, end of standard support, as recorded by
    endoflife.date/google-kubernetes-engine (its "active support" column links that schedule). GKE clusters
    on a release channel have no pinned minor (GKE upgrades them); the dates matter only when a stack pins
    one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

END_OF_STANDARD_SUPPORT: Mapping[str, Mapping[str, date]] = {
    "eks": {
        "1.29": date(2025, 3, 23),
        "1.30": date(2025, 7, 23),
        "1.31": date(2025, 11, 26),
        "1.32": date(2026, 3, 23),
        "1.33": date(2026, 7, 29),
        "1.34": date(2026, 12, 2),
        "1.35": date(2027, 3, 27),
    },
    "aks": {
        "1.32": date(2026, 3, 1),
        "1.33": date(2026, 7, 1),
        "1.34": date(2026, 11, 1),
        "1.35": date(2027, 3, 1),
        "1.36": date(2027, 6, 1),
        "1.37": date(2027, 10, 1),
    },
    "gke": {
        "1.32": date(2026, 2, 28),
        "1.33": date(2026, 6, 30),
        "1.34": date(2026, 8, 30),
        "1.35": date(2027, 2, 28),
    },
}


def minor(version: str) -> str:
    """``1.35``, ``1.35.3`` or ``1.35.3-gke.100`` → ``1.35``."""
    return ".".join(version.split("-", 1)[0].split(".")[:2])


def end_of_standard_support(service: str, version: str) -> date | None:
    """None when the calendar has no row for the minor (too new, or unknown)."""
    return END_OF_STANDARD_SUPPORT[service].get(minor(version))
