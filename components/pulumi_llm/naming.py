"""Pure naming helpers shared by every component.

Child resources are named `f"{parent}-{role}"` (docs/ARCHITECTURE.md, "Child naming"). Kubernetes
object names and cloud names have length and alphabet limits; these helpers keep names inside them
deterministically.
"""

from __future__ import annotations

import hashlib
import re

from .validation import DNS_LABEL as _DNS_LABEL


def child(parent: str, role: str) -> str:
    """The Pulumi name of a child resource: derived from its parent's name and its role."""
    return f"{parent}-{role}"


def is_dns_label(value: str, max_len: int = 63) -> bool:
    """RFC 1035 label: what Kubernetes requires of Service and Namespace names."""
    return len(value) <= max_len and bool(_DNS_LABEL.match(value))


def dns_label(value: str, max_len: int = 63) -> str:
    """Fold `value` into an RFC 1035 label; a stable hash suffix keeps truncated names unique."""
    folded = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    folded = re.sub(r"-{2,}", "-", folded)
    if not folded or not folded[0].isalpha():
        folded = f"x-{folded}".rstrip("-")
    if len(folded) <= max_len:
        return folded
    digest = hashlib.sha256(value.encode()).hexdigest()[:6]
    return f"{folded[: max_len - 7].rstrip('-')}-{digest}"
