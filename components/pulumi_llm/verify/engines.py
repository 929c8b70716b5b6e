"""The gateway engines of a recorded plan, read the way the engine reads itself: each engine container, the
variables it carries, and the two configs it parses from them — LiteLLM's (`CONFIG_ENV`, base64 YAML: the
provider deployments) and the front's (`FRONT_CONFIG_ENV`, base64 JSON: its `routing` document, each model
group's chain, self-hosted routes included, read with the front's own `routing.chains_from_document`).
The wiring rules and the network rules' route tracing (routes.py) both start here; it imports neither."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..gateway.config import CONFIG_ENV, LITELLM_PREFIX
from ..gateway.engine import FRONT_CONFIG_ENV
from ..gateway.routing import Candidate, chains_from_document, private_from_document
from .plain import is_array, is_object
from .view import PlanView

SELF_HOSTED_PREFIX = LITELLM_PREFIX["self-hosted"] + "/"
ENV_REFERENCE = "os.environ/"


def _inputs(resource: dict[str, Any]) -> Any:
    inputs = resource["inputs"]
    if isinstance(inputs.get("containerDefinitions"), str):  # ECS task definitions carry JSON text
        return {**inputs, "containerDefinitions": json.loads(inputs["containerDefinitions"])}
    return inputs


def _containers(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in `value` that holds a list with an engine-config variable (LiteLLM's or the front's): a
    container spec."""
    if is_object(value):
        for item in value.values():
            if is_array(item) and any(is_object(e) and e.get("name") in (CONFIG_ENV, FRONT_CONFIG_ENV) for e in item):
                yield value
                break
        for item in value.values():
            yield from _containers(item)
    elif is_array(value):
        for item in value:
            yield from _containers(item)


def container_variables(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Name → entry of every variable the container gets (plain and secret lists alike)."""
    return {
        e["name"]: e
        for item in container.values()
        if is_array(item)
        for e in item
        if is_object(e) and isinstance(e.get("name"), str) and e["name"].isupper()
    }


def engine_configs(view: PlanView) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(resource, container, parsed engine config) for every gateway engine in the plan."""
    for resource in view.resources:
        for container in _containers(_inputs(resource)):
            encoded = container_variables(container).get(CONFIG_ENV, {}).get("value")
            if isinstance(encoded, str):
                yield resource, container, yaml.safe_load(base64.b64decode(encoded))


@dataclass(frozen=True)
class FrontRouting:
    """The front's routing in one engine container: each group's chain and the private groups, or — when
    the document cannot be read — `error` (the front would refuse to start) and nothing else."""

    resource: dict[str, Any]
    container: dict[str, Any]
    chains: dict[str, tuple[Candidate, ...]] = field(default_factory=lambda: {})
    private: frozenset[str] = frozenset()
    error: str | None = None

    def deployments(self) -> list[Candidate]:
        """Every candidate once (chains repeat a fallback group's), in first-seen order."""
        seen: dict[str, Candidate] = {}
        for chain in self.chains.values():
            for candidate in chain:
                seen.setdefault(candidate.deployment, candidate)
        return list(seen.values())


def front_routings(view: PlanView) -> Iterator[FrontRouting]:
    """The front's routing of every gateway engine in the plan that carries the front's config."""
    for resource in view.resources:
        for container in _containers(_inputs(resource)):
            encoded = container_variables(container).get(FRONT_CONFIG_ENV, {}).get("value")
            if not isinstance(encoded, str):
                continue
            try:
                config: Any = json.loads(base64.b64decode(encoded))
                routing: Any = config.get("routing") if is_object(config) else None
                if not is_object(routing):
                    raise ValueError("routing document: missing")
                yield FrontRouting(resource, container, chains_from_document(routing), private_from_document(routing))
            except (ValueError, TypeError) as err:  # binascii.Error and JSONDecodeError are ValueErrors
                yield FrontRouting(resource, container, error=str(err))
