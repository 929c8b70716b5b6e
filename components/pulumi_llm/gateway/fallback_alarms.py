"""Fallback alarms of a hybrid gateway route (issue 20): what each cloud renders, and what it must mean.

A hybrid group is one whose chain — its routes, then its fallbacks' chains, transitively — holds both a
self-hosted deployment and an external provider. While the model servers answer, no provider is paid;
when they stop, the provider serves and the front keeps answering, so nobody notices the servers are
down until the bill arrives. Two alarms per hybrid group make that visible:

* ``fallback-share``: within the window, the share of the group's requests a provider (or any
  fallback) served is above ``share_percent``;
* ``self-hosted-silent``: within the window, requests arrived on the group and no self-hosted
  deployment answered one of them with a 2xx.

Every cloud renders both kinds for each group in ``decide_fallback_alarms(spec)``, named
``alarm_resource_name(component, kind, group)`` (so ``verify`` finds them the same way on AWS, GCP and
Azure) and notifying the stack's alert channel. ``fallback_alarm_fires`` is the reference semantics over
the front's request log lines (``front_contract.LOG_FIELDS``): each cloud's alarm must fire exactly when
it does, and the cloud helpers' tests hold their rendered queries to it.

What a log line counts as — the same definitions as the front's EMF metrics (``front_contract``):

* a *request* (``METRIC_REQUESTS``): every line of the group except one the front refused before any
  backend (``served_by`` none with a status below 500: a bad body, a model not granted, the consumer's
  own limit). A 5xx with ``served_by`` none — nothing could serve — counts: it is the outage itself;
* a *fallback* (``METRIC_FALLBACKS``): ``fallback`` true, or ``served_by`` provider (on a hybrid
  group a provider answering is the fallback the alarm is about, even when it is a first-order route);
* a *self-hosted success* (``METRIC_SELF_HOSTED_OK``): ``served_by`` self-hosted with a 2xx status.

A line's time is its EMF timestamp, ``_aws.Timestamp`` (milliseconds since the epoch; the EMF
specification makes it mandatory, so every line the front writes has it). The window is the
``window_minutes`` ending at ``now``: ``now - window < t <= now``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..as_given import as_given
from .boundary import SELF_HOSTED as SELF_HOSTED_ROUTE
from .config import MAX_FALLBACK_WINDOW_MINUTES, GatewaySpec, validate
from .front_contract import (
    ALARM_FALLBACK_SHARE,
    ALARM_KINDS,
    ALARM_SELF_HOSTED_SILENT,
    NONE,
    PROVIDER,
    REQUEST_LOG_MARK,
    SELF_HOSTED,
)
from .routing import decide_chains

MAX_WINDOW_MINUTES = MAX_FALLBACK_WINDOW_MINUTES
"""The longest window an alarm evaluates (``config`` refuses a longer one; the settings schema's bound)."""


@as_given
@dataclass(frozen=True)
class FallbackAlarm:
    """The two alarms of one hybrid group.

    group: the model group (what clients send as ``model``).
    share_percent: ``fallback-share`` fires above this share of the window's requests, above 0, at most 100.
    window_minutes: the window both kinds evaluate, 1 to ``MAX_WINDOW_MINUTES``.
    """

    group: str
    share_percent: float
    window_minutes: int


@dataclass(frozen=True)
class WindowCounts:
    """One group's counts over one window (the three EMF metrics, summed)."""

    requests: int
    fallbacks: int
    self_hosted_ok: int


# --- which groups ------------------------------------------------------------------------------


def decide_hybrid(providers: Mapping[str, Sequence[str]], fallbacks: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The groups whose chain holds a self-hosted and an external deployment, in ``providers`` order.

    providers: group → the provider of each of its routes. fallbacks: group → its fallback groups.
    A chain is the group's routes, then each fallback's chain, transitively (each group once; a name that
    is not a group adds nothing). Pure: ``verify`` reads the two maps from a stack's settings; it agrees
    with ``hybrid_groups``, which reads the chains the front runs (a test holds them equal).
    """
    out: list[str] = []
    for group in providers:
        seen: set[str] = set()
        pending = [group]
        kinds: set[bool] = set()
        while pending:
            name = pending.pop()
            if name in seen or name not in providers:
                continue
            seen.add(name)
            kinds.update(p == SELF_HOSTED_ROUTE for p in providers[name])
            pending.extend(reversed(fallbacks.get(name, ())))
        if kinds == {True, False}:
            out.append(group)
    return tuple(out)


def hybrid_groups(spec: GatewaySpec) -> tuple[str, ...]:
    """The spec's groups whose chain (``routing.decide_chains``: routes, then fallbacks, transitively)
    has a self-hosted AND a provider candidate, in spec order. Expects a validated spec."""
    return tuple(group for group, chain in decide_chains(spec).items() if {c.served_by for c in chain} >= {SELF_HOSTED, PROVIDER})


def decide_fallback_alarms(spec: GatewaySpec, *, where: str = "gateway") -> tuple[FallbackAlarm, ...]:
    """One ``FallbackAlarm`` per hybrid group, with the group's thresholds (``fallback_share_percent``,
    ``fallback_window_minutes``). Validates the spec first (``config.validate``, which names
    ``<where>.models.<group>.fallback_alert.<key>`` for a threshold no alarm can evaluate)."""
    validate(spec, where=where)
    hybrid = set(hybrid_groups(spec))
    return tuple(
        FallbackAlarm(group=g.name, share_percent=float(g.fallback_share_percent), window_minutes=g.fallback_window_minutes)
        for g in spec.model_groups
        if g.name in hybrid
    )


# --- names -------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def alarm_resource_name(component: str, kind: str, group: str) -> str:
    """``<component>-<kind>-<group>``, the Pulumi name of a hybrid group's alarm on every cloud.

    A group name may hold ``.``, ``_`` and ``:`` (config's name rule), which Azure resource names and
    GCP display names do not all take: each run of other characters becomes ``-`` and, since ``chat.v1``
    and ``chat_v1`` would then meet, a name that changed gets a 6-hex hash of the original group.
    """
    if kind not in ALARM_KINDS:
        raise ValueError(f"alarm kind {kind!r}: allowed {', '.join(ALARM_KINDS)}")
    safe = _UNSAFE.sub("-", group).strip("-")
    if safe != group:
        safe = f"{safe}-{hashlib.sha256(group.encode()).hexdigest()[:6]}".lstrip("-")
    return f"{component}-{kind}-{safe}"


# --- what the alarms mean ----------------------------------------------------------------------


def line_time(line: Mapping[str, Any]) -> float | None:
    """A request log line's time in seconds since the epoch (its EMF ``_aws.Timestamp``), or None."""
    block = line.get("_aws")
    if not isinstance(block, Mapping):
        return None
    stamp = cast(Mapping[str, Any], block).get("Timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return None
    return float(stamp) / 1000.0


def _status(line: Mapping[str, Any]) -> int:
    status = line.get("status")
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


def counts_as_request(line: Mapping[str, Any]) -> bool:
    """Reached a backend, or nothing could serve it (5xx), or every backend refused it with 429 (the line names
    a deployment): not a refusal of the front's own (bad body, grant, limit), which names none."""
    return line.get("served_by") != NONE or _status(line) >= 500 or bool(line.get("deployment"))


def counts_as_fallback(line: Mapping[str, Any]) -> bool:
    """Served by a fallback of the asked group, or by a provider."""
    return line.get("fallback") is True or line.get("served_by") == PROVIDER


def counts_as_self_hosted_ok(line: Mapping[str, Any]) -> bool:
    return line.get("served_by") == SELF_HOSTED and 200 <= _status(line) < 300


def window_counts(alarm: FallbackAlarm, log_lines: Iterable[Mapping[str, Any]], *, now: float) -> WindowCounts:
    """The group's requests, fallbacks and self-hosted successes among the request log lines of the
    window ending at ``now`` (seconds since the epoch). Other lines (other groups, other log output,
    lines without a time, lines outside the window) are skipped."""
    start = now - alarm.window_minutes * 60
    requests = fallbacks = ok = 0
    for line in log_lines:
        if line.get(REQUEST_LOG_MARK) != 1 or line.get("route") != alarm.group:
            continue
        at = line_time(line)
        if at is None or not start < at <= now or not counts_as_request(line):
            continue
        requests += 1
        fallbacks += counts_as_fallback(line)
        ok += counts_as_self_hosted_ok(line)
    return WindowCounts(requests=requests, fallbacks=fallbacks, self_hosted_ok=ok)


def fallback_alarm_fires(alarm: FallbackAlarm, log_lines: Iterable[Mapping[str, Any]], *, now: float | None = None) -> dict[str, bool]:
    """Whether each alarm kind fires over ``log_lines`` for the window ending at ``now`` (default: the
    current time): ``fallback-share`` when fallbacks / requests × 100 > share_percent with at least one
    request; ``self-hosted-silent`` when there was a request and no self-hosted success."""
    counts = window_counts(alarm, log_lines, now=time.time() if now is None else now)
    share_fires = counts.requests > 0 and counts.fallbacks * 100.0 / counts.requests > alarm.share_percent
    return {
        ALARM_FALLBACK_SHARE: share_fires,
        ALARM_SELF_HOSTED_SILENT: counts.requests > 0 and counts.self_hosted_ok == 0,
    }
