"""Private model groups: what a group marked private may reach — decided once, for the settings, the
gateway spec and `verify`.

A model group is ``public`` (the default) or ``private``. A private group is served only by the stack's
own deployments (provider ``self-hosted``) and falls back only to groups that are themselves served only
by self-hosted deployments, transitively: prompts meant to stay inside the stack's network are never sent
to an external API provider, even when every self-hosted server is down. A breach is a configuration
error, refused before anything is deployed; at run time the front answers 503 with Retry-After instead
of calling anyone else (``front_server``: a private group's chain holds no provider candidate).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Boundary = Literal["public", "private"]
BOUNDARIES: tuple[str, ...] = get_args(Boundary)

SELF_HOSTED = "self-hosted"
"""The one provider a private group may use: a model this stack serves."""


@dataclass(frozen=True)
class BoundaryBreach:
    """Where a private group reaches an external provider.

    group: the private group. key: the offending key relative to the group, as the stack file spells it
    (``routes[0].provider`` or ``fallbacks[1]``). value: what that key holds. reached: the group whose
    route is external (the group itself for a route). provider: that route's provider.
    """

    group: str
    key: str
    value: str
    reached: str
    provider: str

    def reason(self) -> str:
        if self.key.startswith("routes"):
            return (
                f"{self.group} is private: it is served only by self-hosted deployments, and {self.provider} is an "
                "external provider (set boundary: public, or route it to a self-hosted model)"
            )
        return (
            f"{self.group} is private, and its fallback {self.value} reaches the external provider {self.provider} "
            f"(group {self.reached}); a private group falls back only to groups served by self-hosted deployments"
        )


def _external(group: str, providers: Mapping[str, Sequence[str]], fallbacks: Mapping[str, Sequence[str]]) -> tuple[str, str] | None:
    """(group, provider) of the first external route on `group`'s chain (its routes, then its fallbacks'
    chains, depth first, each group once), or None."""
    seen: set[str] = set()
    stack = [group]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for provider in providers.get(current, ()):
            if provider != SELF_HOSTED:
                return current, provider
        stack.extend(reversed(fallbacks.get(current, ())))
    return None


def decide_boundary_breach(
    private: Iterable[str], providers: Mapping[str, Sequence[str]], fallbacks: Mapping[str, Sequence[str]]
) -> BoundaryBreach | None:
    """The first breach of the `private` groups, in their order: a route with an external provider, else
    a fallback whose chain reaches one. `providers` and `fallbacks` are per group, in the stack's order."""
    for group in private:
        for i, provider in enumerate(providers.get(group, ())):
            if provider != SELF_HOSTED:
                return BoundaryBreach(group, f"routes[{i}].provider", provider, group, provider)
        for i, fallback in enumerate(fallbacks.get(group, ())):
            found = _external(fallback, providers, fallbacks)
            if found is not None:
                return BoundaryBreach(group, f"fallbacks[{i}]", fallback, found[0], found[1])
    return None
