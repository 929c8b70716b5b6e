"""Security advisories against the versions of upstream packages the stacks deploy or the tests install.

Each advisory names its package (the PyPI name), the versions it affects — half-open ranges
``[introduced, fixed)`` per release line, or exact versions for a compromised upload — the releases that
fix it, the upstream page it was read from and the day it was published. ``rules/versions.py``
(``versions.advisories``) fails a plan whose images run an affected version; ``tests/unit/test_advisories.py``
holds every pin and the integration tests' LiteLLM venv out of them.

GHSA-7hp6-4w63-5g45 (BerriAI/litellm, published 2026-09-30, critical, CVSS 9.9): the proxy seals
    secrets at rest and mints UI session tokens with one key, so an authenticated ``internal_user`` can
    have a forged admin credential sealed as a key's "secret" and present the ciphertext as a bearer
    token: ``proxy_admin``, then commands on the host. Patched releases 1.100.4, 1.101.3, 1.102.2 and
    1.103.1 (the advisory's patched list, as quoted in gh-index 70955290458, 71005251675 and 70935492813;
    1.92.2 is named inside the affected range in gh-index 70533664559 and 70074643740). The lower bound
    is not in that material, so every release before 1.100.4 is taken as affected. The 1.103.1 wheel's
    diff from 1.103.0 is exactly that fix: session tokens sealed under their own prefix as AES-GCM
    associated data (``litellm/proxy/common_utils/encrypt_decrypt_utils.py`` ``encrypt_bearer_token``,
    ``litellm/proxy/auth/auth_checks.py``). Our engine runs without a database or UI users, so the
    path needs an internal user it never has — but an image in an affected range is still refused: the
    stacks must not depend on that reasoning staying true.
litellm#24518 (BerriAI/litellm issue "litellm PyPI package compromised — full timeline and status",
    2026-03-24): 1.82.7 and 1.82.8 were uploaded to PyPI by an attacker holding the maintainer's
    account, never built by the project's CI; 1.82.7 runs a credential stealer on ``import
    litellm.proxy``, 1.82.8 on every interpreter start (``litellm_init.pth``). Withdrawn from PyPI.

Versions compare by their numeric release (``1.103.1``); a pre-release (``1.103.1rc1``,
``v1.104.0-rc.2``) sorts just below its release, so a pre-release of a fix is still affected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

Release = tuple[int, ...]


@dataclass(frozen=True)
class Range:
    """Affected versions of one release line: ``introduced <= v < fixed``.

    introduced: the first affected version; None: every earlier release.
    fixed: the first release of the line with the fix; None: no fix on this line.
    """

    introduced: str | None
    fixed: str | None


@dataclass(frozen=True)
class Advisory:
    """One advisory against one package.

    id: the advisory's id (GHSA, CVE) or, for an incident without one, the upstream issue.
    package: the PyPI distribution name.
    ranges: affected ranges (``Range``). versions: affected versions listed one by one.
    fixed: the releases that fix it (empty when the affected versions were withdrawn instead).
    source: the upstream URL. published: ISO date. summary: one line for the violation message.
    """

    id: str
    package: str
    ranges: tuple[Range, ...]
    versions: frozenset[str]
    fixed: tuple[str, ...]
    source: str
    published: str
    summary: str


ADVISORIES: tuple[Advisory, ...] = (
    Advisory(
        id="GHSA-7hp6-4w63-5g45",
        package="litellm",
        ranges=(
            Range(None, "1.100.4"),
            Range("1.101.0", "1.101.3"),
            Range("1.102.0", "1.102.2"),
            Range("1.103.0", "1.103.1"),
        ),
        versions=frozenset(),
        fixed=("1.100.4", "1.101.3", "1.102.2", "1.103.1"),
        source="https://github.com/BerriAI/litellm/security/advisories/GHSA-7hp6-4w63-5g45",
        published="2026-09-30",
        summary="an internal user forges a proxy_admin session and runs commands on the host (critical)",
    ),
    Advisory(
        id="litellm#24518",
        package="litellm",
        ranges=(),
        versions=frozenset({"1.82.7", "1.82.8"}),
        fixed=(),
        source="https://github.com/BerriAI/litellm/issues/24518",
        published="2026-03-24",
        summary="a malicious upload with a credential stealer (PyPI account takeover)",
    ),
)

IMAGE_PACKAGES: Mapping[str, str] = {"litellm": "litellm", "litellm-database": "litellm"}
"""An image's last path segment → the package whose version its tag carries. The LiteLLM images
(``ghcr.io/berriai/litellm``, ``…/litellm-database``, ``docker.io/litellm/litellm`` and their mirrors)
are tagged ``v<PyPI version>`` (the release notes publish ``ghcr.io/berriai/litellm:v1.103.1`` beside
``pip install litellm==1.103.1``: gh-index 71038284040)."""

KNOWN_DIGESTS: Mapping[str, tuple[str, str]] = {
    "sha256:bd089afdcd35b894b14a93f9743cdc8b591f82da1a38dd43a010a7b0c9de5fd7": ("litellm", "1.103.0"),
}
"""Index digests of affected releases → (package, version), so a digest-only reference (a registry
mirror that drops the tag) is judged too. 1.103.0: the digest ``pins.LITELLM`` carried before 1.103.1,
identical on ghcr.io and docker.io, pinned in 8 public files (gh-index 71054979300, 71194482448,
71046183805, 70886050502, 71621955907, 70083547608, 70152390208, 71418529064)."""

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(.*)$")


def release(version: str) -> Release | None:
    """``1.103.1`` → (1, 103, 1, 1); a pre-release ``1.103.1rc1`` → (1, 103, 1, 0); None if not a version."""
    match = _VERSION.match(version.strip())
    if match is None:
        return None
    numbers = [int(part) for part in match.group(1).split(".")]
    numbers += [0] * (3 - len(numbers))
    return (*numbers, 0 if match.group(2) else 1)


def _bound(version: str) -> Release:
    parsed = release(version)
    if parsed is None:
        raise ValueError(f"advisory bound {version!r} is not a version")
    return parsed


def in_range(version: Release, affected: Range) -> bool:
    """Whether ``version`` lies in ``[introduced, fixed)``."""
    above = affected.introduced is None or version >= _bound(affected.introduced)
    below = affected.fixed is None or version < _bound(affected.fixed)
    return above and below


def affected_by(package: str, version: str) -> list[Advisory]:
    """The advisories ``version`` of ``package`` is affected by (none for a string that is no version)."""
    parsed = release(version)
    if parsed is None:
        return []
    out: list[Advisory] = []
    for advisory in ADVISORIES:
        if advisory.package != package:
            continue
        if any(_bound(v) == parsed for v in advisory.versions) or any(in_range(parsed, r) for r in advisory.ranges):
            out.append(advisory)
    return out
