"""gateway.private-boundary: a private gateway group never reaches an external provider in the routing the
plan deploys.

The settings refuse a private group with a provider on its chain (``gateway.boundary``); this rule reads
what the front will actually walk — each engine container's routing document, the way ``routes.py`` reads
it — so a renderer or wiring mistake that puts a provider deployment on a private chain, or drops the
group from the document's private list (then the front no longer says "private" in its 503), is caught
before deploy. A group is private when the stack's settings say so or when the document lists it. LiteLLM's
config holds only provider deployments, so no deployment of a private group may appear there either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...gateway.front_contract import PROVIDER
from ..engines import engine_configs, front_routings
from ..plain import array_at, is_object, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "gateway.private-boundary"


def _declared(view: PlanView) -> list[str]:
    """Groups the stack's settings mark private, in settings order."""
    models = object_at(object_at(view.settings, "gateway"), "models")
    return [name for name, group in models.items() if is_object(group) and group.get("boundary") == "private"]


def _litellm_models(view: PlanView, resource: dict[str, Any]) -> dict[str, str]:
    """Deployment name → LiteLLM model (``<prefix>/<model>``) of the LiteLLM config in `resource`."""
    out: dict[str, str] = {}
    for found, _container, config in engine_configs(view):
        if found is not resource:
            continue
        for entry in array_at(config, "model_list"):
            if is_object(entry):
                out[str(entry.get("model_name") or "")] = str(object_at(entry, "litellm_params").get("model") or "")
    return out


@rule(NAME)
def private_chains_stay_inside(view: PlanView) -> Iterator[Violation]:
    """Every private gateway group's chain in the front's planned routing — its routes and, transitively, its fallbacks' — holds no provider deployment, the routing lists it as private, and LiteLLM's config holds no deployment of it."""
    declared = _declared(view)
    for routing in front_routings(view):
        name = routing.resource["name"]
        private = declared + sorted(g for g in routing.private if g not in declared)
        litellm = _litellm_models(view, routing.resource)
        for group in private:
            for candidate in routing.chains.get(group, ()):
                if candidate.served_by == PROVIDER:
                    via = "" if candidate.group == group else f" through its fallback {candidate.group}"
                    model = litellm.get(candidate.deployment, "an external provider")
                    yield violation(
                        view,
                        name,
                        NAME,
                        f"private group {group}: its chain reaches {candidate.deployment} ({model}){via} in the front's "
                        "routing; a private chain may hold only self-hosted deployments",
                    )
                    break
            if group not in routing.private:
                yield violation(
                    view,
                    name,
                    NAME,
                    f"private group {group}: the front's routing does not list it as private, so its 503 when no "
                    "server can serve does not say that no provider is called",
                )
            for deployment in sorted(d for d in litellm if d.split("/", 1)[0] == group):
                yield violation(view, name, NAME, f"private group {group}: LiteLLM's config serves its deployment {deployment}")
