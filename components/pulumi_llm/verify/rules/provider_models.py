"""models.provider-id: every provider model a gateway route names is one the pinned engine knows and
the provider still serves.

An ID missing from LiteLLM's model map at the pinned tag is a typo or an alias the engine does not
resolve (the call fails, or runs uncosted and unbudgeted); an ID past the map's ``deprecation_date`` is
refused by the provider on the day of the plan. Within ``WARN_DAYS`` of that date it is a warning: the
route still works, but the stack should move before the provider switches it off.

Facts: ``facts/litellm_models`` (LiteLLM v1.103.1's map). Routes are read from the stack's settings
(``gateway.models.<group>.routes``), the list the engine's ``model_list`` is rendered from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...secret_values import mask_secrets
from .. import clock
from ..facts import litellm_models
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "models.provider-id"
WARN_DAYS = 90


def routes(view: PlanView) -> Iterator[tuple[str, str, str]]:
    """(where, provider, model) for every route of the stack's gateway, in settings order."""
    gateway: dict[str, Any] = view.settings.get("gateway") or {}
    groups: dict[str, Any] = gateway.get("models") or {}
    for group, spec in groups.items():
        routes_: list[Any] = spec.get("routes") or []
        for i, route in enumerate(routes_):
            yield f"gateway.models.{group}.routes[{i}]", route["provider"], route["model"]


@rule(NAME)
def provider_model_ids(view: PlanView) -> Iterator[Violation]:
    """Every provider model a gateway route names is in the pinned engine's model map and not past its deprecation date (a warning within 90 days of it)."""
    day = clock.today()
    for where, provider, model_id in routes(view):
        known = litellm_models.known(provider, model_id)
        # The settings refuse a pasted key before a plan exists; a plan recorded before that check may still hold one.
        model = mask_secrets(model_id)
        if known is None:
            continue  # self-hosted served name or an Azure deployment name: not a provider model ID
        if not known:
            yield violation(
                view,
                where,
                NAME,
                (
                    f"{provider} model {model!r} is not in LiteLLM {litellm_models.LITELLM_TAG}'s model map: "
                    "the engine cannot resolve or cost it; use an ID the map lists"
                ),
            )
            continue
        ends = litellm_models.deprecation_date(provider, model_id)
        if ends is None:
            continue
        if ends <= day:
            yield violation(
                view, where, NAME, f"{provider} model {model!r} was deprecated on {ends} (LiteLLM {litellm_models.LITELLM_TAG}'s map)"
            )
        elif (ends - day).days <= WARN_DAYS:
            yield violation(
                view,
                where,
                NAME,
                f"{provider} model {model!r} is deprecated on {ends}, {(ends - day).days} days from now",
                severity="warning",
            )
