"""gateway.private-boundary: a private gateway group never reaches an external provider in the engine
config the plan deploys.

The settings refuse a private group with a provider on its chain (``gateway.boundary``); this rule reads
what the engine will actually run — each engine container's rendered config, the way ``routes.py`` reads
it — so a renderer or wiring mistake that puts a provider deployment or fallback on a private chain, or
drops the mark or hook that turn "nothing can serve" into a 503, is caught before deploy. A group is
private when the stack's settings say so or when its deployments carry the private mark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...gateway.boundary import PRIVATE_MARK, SELF_HOSTED, decide_boundary_breach
from ...gateway.boundary_hook import HOOK_CALLBACK
from ..engines import SELF_HOSTED_PREFIX, engine_configs
from ..plain import array_at, is_array, is_object, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "gateway.private-boundary"


def _declared(view: PlanView) -> list[str]:
    """Groups the stack's settings mark private, in settings order."""
    models = object_at(object_at(view.settings, "gateway"), "models")
    return [name for name, group in models.items() if is_object(group) and group.get("boundary") == "private"]


def _chains(config: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """(providers per group, fallbacks per group, groups marked private) of one engine config; a
    deployment's provider is ``self-hosted`` for the self-hosted prefix, else its LiteLLM prefix."""
    providers: dict[str, list[str]] = {}
    marked: list[str] = []
    for entry in array_at(config, "model_list"):
        if not is_object(entry):
            continue
        group = str(entry.get("model_name") or "")
        model = str(object_at(entry, "litellm_params").get("model") or "")
        provider = SELF_HOSTED if model.startswith(SELF_HOSTED_PREFIX) else model.split("/", 1)[0]
        providers.setdefault(group, []).append(provider)
        if object_at(entry, "model_info").get(PRIVATE_MARK) == "private" and group not in marked:
            marked.append(group)
    fallbacks: dict[str, list[str]] = {}
    for item in array_at(object_at(config, "router_settings"), "fallbacks"):
        if not is_object(item):
            continue
        for group, targets in item.items():
            if is_array(targets):
                fallbacks.setdefault(group, []).extend(str(t) for t in targets)
    return providers, fallbacks, marked


@rule(NAME)
def private_chains_stay_inside(view: PlanView) -> Iterator[Violation]:
    """Every private gateway group's chain in the planned engine config — its deployments and, transitively, its fallbacks' — holds no external provider, its deployments carry the private mark and the engine loads the hook that answers 503 with Retry-After when none can serve."""
    declared = _declared(view)
    for resource, _container, config in engine_configs(view):
        providers, fallbacks, marked = _chains(config)
        private = declared + [g for g in marked if g not in declared]
        breach = decide_boundary_breach(private, providers, fallbacks)
        if breach is not None:
            yield violation(
                view,
                resource["name"],
                NAME,
                f"private group {breach.group}: {breach.key} = {breach.value} reaches the external provider {breach.provider} "
                f"(group {breach.reached}) in the engine config; a private chain may hold only self-hosted deployments",
            )
        for group in (g for g in declared if g not in marked):
            yield violation(view, resource["name"], NAME, f"private group {group}: its deployments lack model_info.{PRIVATE_MARK}: private")
        callbacks = array_at(object_at(config, "litellm_settings"), "callbacks")
        if private and HOOK_CALLBACK not in callbacks:
            yield violation(
                view,
                resource["name"],
                NAME,
                f"private groups {', '.join(private)}: litellm_settings.callbacks lacks {HOOK_CALLBACK}, so a private group "
                "that cannot be served answers 500/429 instead of 503 with Retry-After",
            )
