"""Which deployments answer a model group, in which order — decided once at plan time, walked by the front.

The front (``front_server``) owns the chain of a model group: the group's routes in priority order, then
its fallback groups' chains (transitively, each group once, so a cycle of fallbacks ends). A self-hosted
route is a ``direct`` candidate: the front streams it straight from the model server. Every other route is
a ``litellm`` candidate: the front hands it to LiteLLM on loopback, which knows each provider deployment
under its own name ``<group>/<route>`` (``config.render_litellm_config``), so LiteLLM never chooses
between deployments or falls back itself — there is one chain, here.

``decide_chains`` and ``routing_document`` run at plan time and read the ``GatewaySpec``;
``chains_from_document`` and ``Breaker`` run inside the engine container (this module ships there as part
of the ``pulumi_llm_front`` package), so the module imports only the standard library and
``front_contract``: ``config`` is imported for type checking only.

The breaker mirrors what LiteLLM's router did for the gateway (``allowed_fails`` failures of a deployment
within a minute cool it down for ``cooldown_seconds``) with one change issue 15 asks for: a chain is never
skipped whole. When every candidate of a chain is cooling down, all of them are tried in order, so one
failing route (a looping model, a server restarting) never makes its model unavailable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, cast

from .front_contract import PROVIDER, SELF_HOSTED

if TYPE_CHECKING:
    from .config import GatewaySpec, ModelGroup

KIND_DIRECT = "direct"
"""A self-hosted deployment: the front streams it from the model server's OpenAI-compatible base URL."""

KIND_LITELLM = "litellm"
"""A provider deployment: the front sends it to LiteLLM on loopback, ``model`` = the deployment id."""

KINDS = (KIND_DIRECT, KIND_LITELLM)

SELF_HOSTED_PROVIDER = "self-hosted"
"""The provider value (``config.PROVIDERS``) of a model the stack serves itself."""

ENV_REF_PREFIX = "os.environ/"
"""A value known only at deploy time (a load balancer's URL) reaches the container as an environment
variable; the spec writes it ``os.environ/NAME``, the spelling LiteLLM resolves too."""

FAILURE_WINDOW_SECONDS = 60.0
"""Failures of a deployment are counted over this window (LiteLLM's router counts ``allowed_fails`` per
minute; the gateway's ``allowed_fails`` setting keeps that meaning)."""

DOCUMENT_VERSION = 1


@dataclass(frozen=True)
class Candidate:
    """One deployment on a group's chain, as the front calls it.

    group: the group this deployment belongs to (the asked group, or one of its fallbacks).
    deployment: ``<group>/<route name>``, unique in a spec; the breaker's key and the log's ``deployment``.
    kind: ``direct`` (self-hosted: the front streams from it) or ``litellm`` (provider: via loopback LiteLLM).
    url: direct: the route's ``api_base`` (``…/v1``), possibly ``os.environ/NAME`` (``resolve_env_ref``);
        litellm: None.
    model: direct: the served model name sent upstream; litellm: the LiteLLM ``model_name`` to send (the
        deployment id).
    served_by: ``front_contract.SELF_HOSTED`` or ``front_contract.PROVIDER``.
    fallback: False only for the asked group's first-priority route (its ``routes[0]``); any later route
        or fallback group's deployment answering is a fallback (``front_contract.FALLBACK_HEADER``).
    key_env: direct: the environment variable holding the server's API key, or None (no key); litellm: None
        (LiteLLM injects provider keys itself).
    timeout_seconds: one call to this deployment.
    stream_timeout_seconds: the longest wait for a stream's first or next chunk.
    """

    group: str
    deployment: str
    kind: str
    url: str | None
    model: str
    served_by: str
    fallback: bool
    key_env: str | None
    timeout_seconds: float
    stream_timeout_seconds: float


def deployment_id(group: str, route: str) -> str:
    """The id of a group's route: the LiteLLM ``model_name`` of a provider deployment, and the log's ``deployment``."""
    return f"{group}/{route}"


def _group_candidates(group: ModelGroup) -> list[Candidate]:
    """`group`'s routes in priority order, each marked as not a fallback (the caller re-marks)."""
    out: list[Candidate] = []
    for route in group.routes:
        deployment = deployment_id(group.name, route.name)
        direct = route.provider == SELF_HOSTED_PROVIDER
        timeout = float(route.timeout_seconds)
        stream = float(route.stream_timeout_seconds) if route.stream_timeout_seconds is not None else timeout
        out.append(
            Candidate(
                group=group.name,
                deployment=deployment,
                kind=KIND_DIRECT if direct else KIND_LITELLM,
                url=route.api_base if direct else None,
                model=route.model if direct else deployment,
                served_by=SELF_HOSTED if direct else PROVIDER,
                fallback=False,
                key_env=route.secret_env if direct else None,
                timeout_seconds=timeout,
                stream_timeout_seconds=stream,
            )
        )
    return out


def _expand(name: str, by_name: Mapping[str, ModelGroup], order: list[str]) -> None:
    """Append `name`, then its fallbacks' expansions, depth first, skipping groups already in `order`."""
    if name in order or name not in by_name:
        return
    order.append(name)
    for fallback in by_name[name].fallbacks:
        _expand(fallback, by_name, order)


def decide_chains(spec: GatewaySpec) -> dict[str, tuple[Candidate, ...]]:
    """Each model group → its ordered chain: its routes in priority order, then each fallback group's chain
    in the order listed, depth first, every group at most once (a fallback cycle ends where it began; a
    group reached twice keeps its first place). Only the asked group's first route has ``fallback`` False.

    Pure; expects a validated spec (``config.validate``: fallbacks name defined groups). Groups appear
    in the spec's order.
    """
    by_name = {g.name: g for g in spec.model_groups}
    own = {g.name: _group_candidates(g) for g in spec.model_groups}
    chains: dict[str, tuple[Candidate, ...]] = {}
    for group in spec.model_groups:
        order: list[str] = []
        _expand(group.name, by_name, order)
        chain = [c for name in order for c in own[name]]
        chains[group.name] = tuple(replace(c, fallback=i > 0) for i, c in enumerate(chain))
    return chains


def routing_document(spec: GatewaySpec) -> dict[str, object]:
    """What the front reads (JSON-able): ``{"version": 1, "chains": {group: [candidate, …]}, "private":
    [group, …]}``. ``private`` lists the groups marked ``boundary: private``, which the front answers with
    503 + Retry-After when nothing on their (self-hosted only) chain can serve. Pure; expects a validated spec."""
    chains = decide_chains(spec)
    return {
        "version": DOCUMENT_VERSION,
        "chains": {group: [asdict(c) for c in chain] for group, chain in chains.items()},
        "private": [g.name for g in spec.model_groups if g.boundary == "private"],
    }


_FIELD_TYPES: Mapping[str, tuple[type, ...]] = {
    "group": (str,),
    "deployment": (str,),
    "kind": (str,),
    "url": (str, type(None)),
    "model": (str,),
    "served_by": (str,),
    "fallback": (bool,),
    "key_env": (str, type(None)),
    "timeout_seconds": (int, float),
    "stream_timeout_seconds": (int, float),
}


def _candidate(raw: object, where: str) -> Candidate:
    if not isinstance(raw, dict):
        raise ValueError(f"routing document: {where} is not an object")
    item = cast(dict[str, object], raw)
    names = [f.name for f in fields(Candidate)]
    if sorted(item) != sorted(names):
        raise ValueError(f"routing document: {where} has keys {sorted(item)}, expected {sorted(names)}")
    for name in names:
        value = item[name]
        allowed = _FIELD_TYPES[name]
        if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
            raise ValueError(f"routing document: {where}.{name} = {value!r} has the wrong type")
    if item["kind"] not in KINDS or item["served_by"] not in (SELF_HOSTED, PROVIDER):
        raise ValueError(f"routing document: {where}: kind {item['kind']!r} / served_by {item['served_by']!r} unknown")
    return Candidate(
        group=cast(str, item["group"]),
        deployment=cast(str, item["deployment"]),
        kind=cast(str, item["kind"]),
        url=cast("str | None", item["url"]),
        model=cast(str, item["model"]),
        served_by=cast(str, item["served_by"]),
        fallback=cast(bool, item["fallback"]),
        key_env=cast("str | None", item["key_env"]),
        timeout_seconds=float(cast(float, item["timeout_seconds"])),
        stream_timeout_seconds=float(cast(float, item["stream_timeout_seconds"])),
    )


def chains_from_document(doc: Mapping[str, object]) -> dict[str, tuple[Candidate, ...]]:
    """The chains ``routing_document`` wrote (also after a JSON round trip). Raises ValueError naming the
    first malformed entry: the front refuses to start on a document it cannot read rather than guess."""
    if doc.get("version") != DOCUMENT_VERSION:
        raise ValueError(f"routing document: version {doc.get('version')!r}, expected {DOCUMENT_VERSION}")
    raw = doc.get("chains")
    if not isinstance(raw, dict):
        raise ValueError("routing document: chains is not an object")
    out: dict[str, tuple[Candidate, ...]] = {}
    for group, items in cast(dict[str, object], raw).items():
        if not isinstance(items, list) or not items:
            raise ValueError(f"routing document: chains.{group} is not a non-empty list")
        out[group] = tuple(_candidate(item, f"chains.{group}[{i}]") for i, item in enumerate(cast(list[object], items)))
    return out


def private_from_document(doc: Mapping[str, object]) -> frozenset[str]:
    """The groups ``routing_document`` marked private (none when the key is absent)."""
    raw = doc.get("private", [])
    if not isinstance(raw, list) or not all(isinstance(g, str) for g in cast(list[object], raw)):
        raise ValueError("routing document: private is not a list of group names")
    return frozenset(cast(list[str], raw))


def resolve_env_ref(value: str | None, environ: Mapping[str, str]) -> str | None:
    """``os.environ/NAME`` → ``environ[NAME]`` (None when unset); any other value unchanged."""
    if value is None or not value.startswith(ENV_REF_PREFIX):
        return value
    return environ.get(value[len(ENV_REF_PREFIX) :])


class Breaker:
    """Per-deployment cool-down, in one front process (each replica has its own, as LiteLLM's had).

    allowed_fails: failures of a deployment within ``FAILURE_WINDOW_SECONDS`` that start its cool-down (≥ 1).
    cooldown_seconds: how long a cooling deployment is skipped (0: never skipped).
    clock: seconds, monotonic; injectable so tests step time instead of sleeping.

    A success clears a deployment's failures and ends its cool-down at once.
    """

    def __init__(self, allowed_fails: int, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if allowed_fails < 1:
            raise ValueError(f"allowed_fails = {allowed_fails}: at least 1")
        if cooldown_seconds < 0:
            raise ValueError(f"cooldown_seconds = {cooldown_seconds}: 0 or more")
        self._allowed_fails = allowed_fails
        self._cooldown = float(cooldown_seconds)
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._until: dict[str, float] = {}

    def cooling(self, deployment: str) -> bool:
        """Whether `deployment` is cooling down now."""
        until = self._until.get(deployment)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[deployment]
            return False
        return True

    def order(self, chain: Sequence[Candidate]) -> list[Candidate]:
        """The candidates to try, in chain order, without those cooling down — or, when every one of them
        is cooling down, all of them: never an empty list for a non-empty chain."""
        ready = [c for c in chain if not self.cooling(c.deployment)]
        return ready if ready else list(chain)

    def failed(self, deployment: str) -> None:
        """Record a server-side failure (timeout, refused connection, 5xx, 429) of `deployment`."""
        now = self._clock()
        recent = [t for t in self._failures.get(deployment, []) if now - t < FAILURE_WINDOW_SECONDS]
        recent.append(now)
        if len(recent) >= self._allowed_fails:
            if self._cooldown > 0:
                self._until[deployment] = now + self._cooldown
            recent = []
        self._failures[deployment] = recent

    def succeeded(self, deployment: str) -> None:
        """Record a success of `deployment`: its failures are forgotten and its cool-down ends."""
        self._failures.pop(deployment, None)
        self._until.pop(deployment, None)
