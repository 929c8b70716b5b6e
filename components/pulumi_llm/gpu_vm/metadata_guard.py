"""The metadata guard of a GPU VM: `llm-metadata-guard.service`, a oneshot unit that inserts DOCKER-USER rules
keeping containers on Docker's bridge away from the cloud's metadata service (the VM's credentials), and a drop-in
per unit that starts bridged containers so that none of them runs before the rules are in. Pure: no Pulumi.

Used where the metadata service has no hop limit: GCP (`gcp_boot`) and Azure (`azure_boot`). AWS needs none: its
launch template sets IMDSv2 only with a hop limit of 1, so a bridged container's token request never comes back,
and the host-side AWS CLI containers that need the credentials run on the host network (`aws_boot.aws_cli`).

Why a unit of its own, and its dependencies (systemd.unit(5)):

* every unit that starts a bridged container — the model server (`cloud_init.UNIT`) and the router, whose
  pip-install container and router container are both bridged (`router_vm.CONTAINER_UNITS`) — gets
  ``Requires=`` + ``After=`` on it: it never starts before the rules are in, and not at all if they cannot be
  inserted. Rules run from the server's ExecStartPre (as Azure's were) came after its weights sync and image pull,
  and guarded nothing else;
* ``BindsTo=docker.service`` + ``After=docker.service``: the rules go into Docker's DOCKER-USER chain, which
  exists once Docker has started, and the guard counts as active only while Docker is — when Docker stops or
  restarts (explicitly, or systemd's automatic restart of a failed docker.service, which is a restart job), the
  guard is stopped and started again after it, and the container units, which require both Docker and the guard,
  restart in the same job, ordered after the guard. Whatever Docker does to its chains when it starts, the rules
  are back before any container is;
* ``iptables -C … || iptables -I …``: idempotent, so a re-run never stacks duplicates; nothing removes them on stop
  (a VM without Docker has no bridged containers, and a stopped guard never means "open").

Only forwarded traffic is filtered (DOCKER-USER hangs off FORWARD): host processes — the weights sync, the secret
reads, the metrics agent, the router's instance lister — still reach the metadata service.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

UNIT = "llm-metadata-guard.service"
DROP_IN = "10-metadata-guard.conf"
"""The drop-in's file name in each guarded unit's ``<unit>.d/`` directory."""
SYSTEMD_DIR = "/etc/systemd/system"


@dataclass(frozen=True)
class MetadataGuard:
    """The cloud's DOCKER-USER rules."""

    rules: tuple[str, ...]
    """iptables rule specifications after the chain name, e.g. ``-d 169.254.169.254/32 -j REJECT``."""
    description: str
    """What the rules keep containers from, for the unit's Description (one line)."""


def guard_unit(guard: MetadataGuard) -> str:
    """The oneshot unit inserting `guard.rules` (each only when it is missing)."""
    inserts = [
        "ExecStart=/bin/sh -c " + shlex.quote(f"iptables -C DOCKER-USER {rule} 2>/dev/null || iptables -I DOCKER-USER {rule}")
        for rule in guard.rules
    ]
    return "\n".join(
        [
            "[Unit]",
            f"Description=pulumi-llm: {guard.description}",
            "# Active only while Docker is: stopped with it, started again after it (its restarts included),",
            "# before the units that run bridged containers, which require this one (metadata_guard.py).",
            "BindsTo=docker.service",
            "After=docker.service",
            "",
            "[Service]",
            "Type=oneshot",
            "RemainAfterExit=yes",
            *inserts,
            "",
        ]
    )


def drop_in() -> str:
    """The drop-in of a unit that starts bridged containers: the guard first, and the unit only with it."""
    return "\n".join(["[Unit]", f"Requires={UNIT}", f"After={UNIT}", ""])


def files(guard: MetadataGuard, units: Sequence[str]) -> list[tuple[str, str]]:
    """(path, content) of the guard unit and of the drop-in of each of `units` (those that start bridged containers)."""
    return [(f"{SYSTEMD_DIR}/{UNIT}", guard_unit(guard)), *((f"{SYSTEMD_DIR}/{unit}.d/{DROP_IN}", drop_in()) for unit in units)]
