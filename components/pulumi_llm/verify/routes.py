"""The gateway's self-hosted routes as the network rules trace them: which served models the settings route
to, and the URL the engine calls for each, read from the front's routing document in the plan (a direct
candidate's `url` is `os.environ/NAME`, resolved against the engine container's variables) — the one thing
the front reads: it streams self-hosted routes itself, LiteLLM's config no longer holds them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..gateway.routing import KIND_DIRECT
from .engines import ENV_REFERENCE, container_variables, front_routings
from .view import PlanView


def routed_models(view: PlanView) -> set[str]:
    """Served names of the models the gateway's settings route to (what the rendered config should call)."""
    gateway: dict[str, Any] = view.settings.get("gateway") or {}
    if "gateway" not in view.methods:
        return set()
    models: dict[str, Any] = gateway.get("models") or {}
    routes: list[Any] = [r for g in models.values() for r in g.get("routes") or ()]
    return {r["model"] for r in routes if r.get("provider") == "self-hosted"}


def url_port(url: str) -> int | None:
    """The TCP port an http(s) URL connects to; None for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


@dataclass(frozen=True)
class SelfHostedRoute:
    model: str
    variable: str | None
    """The engine container's variable the route's api_base names (None: a literal URL)."""
    url: str

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def port(self) -> int | None:
        return url_port(self.url)


def self_hosted_routes(view: PlanView) -> Iterator[SelfHostedRoute]:
    """Each self-hosted route (a direct candidate, once) of every engine in the plan, with the URL its
    `url` resolves to."""
    for routing in front_routings(view):
        variables = container_variables(routing.container)
        for candidate in routing.deployments():
            if candidate.kind != KIND_DIRECT:
                continue
            base = candidate.url or ""
            variable = base[len(ENV_REFERENCE) :] if base.startswith(ENV_REFERENCE) else None
            url = str(variables.get(variable, {}).get("value") or "") if variable else base
            yield SelfHostedRoute(candidate.model, variable, url)


def self_hosted_urls(view: PlanView) -> dict[str, SelfHostedRoute]:
    """Served model → its route (the first, should several engines call it)."""
    found: dict[str, SelfHostedRoute] = {}
    for route in self_hosted_routes(view):
        found.setdefault(route.model, route)
    return found
