#!/usr/bin/env python3
"""Drain this VM before its scale set deletes it (pulumi-llm, gpu_vm/azure_boot.py): an Azure Scheduled Events handler.

Every --interval seconds: GET <imds>/metadata/scheduledevents (api-version 2020-07-01, header ``Metadata: true``;
Azure, "Scheduled Events for Linux VMs"). For a ``Terminate`` (scale-in, a rolling upgrade's delete: the scale set's
terminate notification) or a ``Preempt`` (a spot eviction, at least 30 s ahead) event whose ``Resources`` name this
VM (IMDS ``compute.name``): ``systemctl stop`` each --unit in order (the router, which lets its streams finish, then
the model server, whose drain flag does the same), then approve the event (POST ``StartRequests`` with its
``EventId``) so the delete proceeds before the notification's timeout. Approving lets an event proceed for **all**
its ``Resources`` (same doc), so an event naming other VMs too is drained for but never approved: the others may
still be draining, and the timeout releases it. ``Preempt`` is never approved: the eviction comes anyway, and
hastening it gains nothing. Every other event type (Freeze, Reboot, Redeploy) is left alone: a guest reboot runs
the units' own drain at shutdown, and a few seconds' freeze needs none. If an event drained for disappears while
the VM still runs (Azure cancelled it), the units are started again.

Idempotent: each event is drained and approved once per process (a restart re-runs ``systemctl stop`` on stopped
units, a no-op, and re-approves, which Azure answers 200). IMDS unreachable or garbled: nothing happens, the next
round retries. One log line per action. Standard library only (the VM's python3); runs on the host, so the metadata
guard's DOCKER-USER rules (bridged containers only) do not apply to it.
"""

from __future__ import annotations

import argparse
import json
import subprocess  # nosec B404 - systemctl, no shell
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

API_VERSION = "2020-07-01"
"""Scheduled Events' current version (Azure, "Scheduled Events for Linux VMs", "Version and region availability")."""
INSTANCE_API_VERSION = "2021-02-01"
"""IMDS instance metadata, as azure_boot's helper reads it."""
DRAINED_TYPES = ("Terminate", "Preempt")
"""Events that delete this VM: the scale set's terminate notification, a spot eviction."""
APPROVED_TYPES = ("Terminate",)
FIRST_CALL_SECONDS = 120
"""Scheduled Events is enabled for a VM by its first request, which may take up to two minutes to answer (same doc,
"Enabling and disabling Scheduled Events"); later requests get `CALL_SECONDS`, so a hung IMDS cannot eat a spot VM's
30 s notice."""
CALL_SECONDS = 10


@dataclass(frozen=True)
class Decision:
    """What one round does, from the events document."""

    drain: tuple[str, ...] = ()
    """EventIds that delete this VM and are not drained for yet."""
    approve: tuple[str, ...] = ()
    """EventIds to approve once drained: this VM's own Terminate events (Resources == [this VM]), still Scheduled."""
    restore: tuple[str, ...] = ()
    """EventIds drained for that are gone while this VM runs (cancelled): start the units again."""


def _events(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance] - it is JSON from the wire
        raise ValueError("the answer is not a JSON object")
    events = document.get("Events")
    if not isinstance(events, list):
        raise ValueError("no Events array")
    return [e for e in events if isinstance(e, Mapping)]  # pyright: ignore[reportUnknownVariableType] - JSON


def decide(document: Mapping[str, Any], me: str, drained: frozenset[str], approved: frozenset[str]) -> Decision:
    """The actions for `document` (the Scheduled Events answer) on VM `me`, given the EventIds already drained for and
    approved by this process. Raises ValueError on a document without an Events array."""
    events = _events(document)
    drain: list[str] = []
    approve: list[str] = []
    current = {str(e.get("EventId", "")) for e in events}
    for event in events:
        event_id, raw = str(event.get("EventId", "")), event.get("Resources")
        resources = [str(name) for name in cast(list[object], raw)] if isinstance(raw, list) else []
        if not event_id or event.get("EventType") not in DRAINED_TYPES or me not in resources:
            continue
        if event_id not in drained:
            drain.append(event_id)
        if (
            event.get("EventType") in APPROVED_TYPES
            and event.get("EventStatus") == "Scheduled"
            and resources == [me]
            and event_id not in approved
        ):
            approve.append(event_id)
    # Cancelled: every event that deleted this VM is gone (one still pending keeps the units stopped).
    deleting = set(drain) | {i for i in drained if i in current}
    return Decision(drain=tuple(drain), approve=tuple(approve), restore=() if deleting else tuple(sorted(drained - current)))


def start_requests(event_ids: Sequence[str]) -> bytes:
    """The approval's body (same doc, "Start an event")."""
    return json.dumps({"StartRequests": [{"EventId": event_id} for event_id in event_ids]}).encode()


def _imds(url: str, body: bytes | None = None, timeout: float = CALL_SECONDS) -> Any:
    if not url.startswith("http://"):
        raise ValueError(f"{url}: IMDS is plain http:// on a link-local address")
    request = urllib.request.Request(url, data=body, headers={"Metadata": "true"}, method="POST" if body else "GET")  # noqa: S310  # nosec B310 - scheme checked above
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310 - scheme checked above
        text = response.read().decode()
    return json.loads(text) if text.strip() else None


def _systemctl(systemctl: str, verb: str, unit: str) -> int:
    done = subprocess.run([systemctl, verb, unit], capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603 - fixed argv
    print(f"azure-drain: systemctl {verb} {unit}: exit {done.returncode} {done.stderr.strip()[-200:]}".rstrip(), flush=True)
    return done.returncode


class Handler:
    """The loop's state: this VM's name and the events it has acted on."""

    def __init__(self, imds: str, units: Sequence[str], systemctl: str) -> None:
        self.base = imds.rstrip("/")
        self.units = tuple(units)
        self.systemctl = systemctl
        self.me = ""
        self.enabled = False
        """Whether Scheduled Events has answered once (enabled for this VM)."""
        self.drained: set[str] = set()
        self.approved: set[str] = set()

    def once(self) -> Decision:
        """One round. Raises OSError/ValueError (IMDS down or garbled): nothing was done."""
        if not self.me:
            compute = _imds(f"{self.base}/metadata/instance/compute?api-version={INSTANCE_API_VERSION}")
            self.me = str(compute["name"])
            print(f"azure-drain: this VM is {self.me}", flush=True)
        document = _imds(
            f"{self.base}/metadata/scheduledevents?api-version={API_VERSION}", timeout=CALL_SECONDS if self.enabled else FIRST_CALL_SECONDS
        )
        self.enabled = True
        decision = decide(document, self.me, frozenset(self.drained), frozenset(self.approved))
        for event_id in decision.restore:
            print(f"azure-drain: event {event_id} is gone and this VM still runs: starting the units again", flush=True)
            for unit in reversed(self.units):
                _systemctl(self.systemctl, "start", unit)
            self.drained.discard(event_id)
            self.approved.discard(event_id)
        if decision.drain:
            print(f"azure-drain: event {', '.join(decision.drain)} deletes {self.me}: draining", flush=True)
            if not self.drained:  # the units stop once, whatever the number of events
                for unit in self.units:
                    _systemctl(self.systemctl, "stop", unit)
            self.drained.update(decision.drain)
        if decision.approve:
            _imds(f"{self.base}/metadata/scheduledevents?api-version={API_VERSION}", start_requests(decision.approve))
            print(f"azure-drain: approved {', '.join(decision.approve)}", flush=True)
            self.approved.update(decision.approve)
        return decision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Drain this VM's units on an Azure Terminate or Preempt event, then approve it.")
    parser.add_argument("--imds", default="http://169.254.169.254", help="IMDS base URL")
    parser.add_argument("--unit", action="append", required=True, help="a unit to stop, in order (repeat)")
    parser.add_argument("--systemctl", default="/usr/bin/systemctl")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="one round, then exit (1 if IMDS failed)")
    args = parser.parse_args(argv)
    handler = Handler(args.imds, args.unit, args.systemctl)
    while True:
        started = time.monotonic()
        try:
            handler.once()
            failed = False
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(f"azure-drain: no action this round: {err}", file=sys.stderr, flush=True)
            failed = True
        if args.once:
            return 1 if failed else 0
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())
