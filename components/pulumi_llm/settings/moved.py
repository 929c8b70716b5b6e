"""Stack-file keys that moved: the one table of old path → new path, read by the loader (loading.load).

A stack file that still sets an old key fails with one line naming the new key and the release that moved
it, instead of pydantic's "unknown key" (which can't say where the value went). An entry stays for the
release that moves the key and the next, so that a stack skipping a release still learns where it went.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, cast


class MovedKey(NamedTuple):
    """Where a stack-file key went, and in which release."""

    new: str
    release: str
    how: str = ""
    """How the value changes, when it does more than move."""


MOVED_KEYS: dict[str, MovedKey] = {
    # 0.2.0: the gcp subtree nested by method, as aws and azure are.
    "gcp.subnet_cidr": MovedKey("gcp.network.subnet_cidr", "0.2.0"),
    "gcp.spot": MovedKey("gcp.gpu_vm.spot", "0.2.0"),
    "gcp.gke_mode": MovedKey("gcp.cluster.mode", "0.2.0"),
    "gcp.gpu_pool": MovedKey("gcp.cluster.gpu_pool", "0.2.0"),
    "gcp.prometheus": MovedKey("gcp.cluster.prometheus", "0.2.0"),
    "gcp.gateway_domains": MovedKey("gcp.gateway.domains", "0.2.0"),
    "gcp.gateway_subnet_cidr": MovedKey("gcp.gateway.subnet_cidr", "0.2.0"),
    # 0.2.0: one word for alerts on every cloud, and a list of receivers as on Azure.
    "aws.alarm_email": MovedKey("aws.alert_emails", "0.2.0", "a list: alert_emails: [<address>]"),
}
"""Old key path (dotted, under `pulumi-llm:`) → where it went."""


def find_moved_key(raw: Mapping[str, Any]) -> tuple[list[str], str] | None:
    """The first old key `raw` (a stack's `pulumi-llm:` settings, namespace removed) still sets, as its key
    path and the message naming the new key; None when it sets none."""
    for old, moved in MOVED_KEYS.items():
        path = old.split(".")
        if _is_set(raw, path):
            how = f" ({moved.how})" if moved.how else ""
            return path, f"moved to {moved.new}{how} in {moved.release} — CHANGELOG Upgrade notes"
    return None


def _is_set(raw: Mapping[str, Any], path: list[str]) -> bool:
    node: Any = raw
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = cast("Mapping[str, Any]", node)[part]
    return True
