"""The gateway engines of a recorded plan, read the way the engine reads itself: each engine container, the
variables it carries, and the config it parses from them (`CONFIG_ENV`, base64 YAML). The wiring rules and
the network rules' route tracing (routes.py) both start here; it imports neither."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import yaml

from ..gateway.config import CONFIG_ENV, LITELLM_PREFIX
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
    """Every dict in `value` that holds a list with the engine-config variable: a container spec."""
    if is_object(value):
        for item in value.values():
            if is_array(item) and any(is_object(e) and e.get("name") == CONFIG_ENV for e in item):
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
            encoded = container_variables(container)[CONFIG_ENV].get("value")
            if isinstance(encoded, str):
                yield resource, container, yaml.safe_load(base64.b64decode(encoded))
