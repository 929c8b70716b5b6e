"""The gateway engine's config against the containers and servers it names: both sides of each name.

The engine reads `os.environ/NAME` references at request time: a name its container doesn't carry (as a
plain variable, a secret reference, or a mounted secret file listed in the secret-files map) fails every
request on that route — and a route with fallbacks fails over to a provider in silence. A self-hosted
route names the model as the server serves it (`--served-model-name`); a name no server in the plan
serves answers 404 from the server, and falls over the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any

from ...gateway.config import SECRET_FILES_ENV
from ..engines import ENV_REFERENCE, SELF_HOSTED_PREFIX, container_variables, engine_configs
from ..plain import is_array, is_object
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

_SERVED = re.compile(r"--served-model-name[= ]([A-Za-z0-9._/-]+)")


def _mount_paths(container: dict[str, Any]) -> list[str]:
    mounts: list[Any] = [m for key in ("volumeMounts", "mountPoints") for m in container.get(key) or ()]
    return [m.get("mountPath") or m.get("containerPath") or "" for m in mounts]


def _served_names(view: PlanView) -> set[str]:
    text = json.dumps(view.resources) + json.dumps(view.manifests)
    names = set(_SERVED.findall(text))
    for blob in re.findall(r'"(?:userData|customData|user-data)": "([A-Za-z0-9+/=]{40,})"', text):
        try:
            names |= set(_SERVED.findall(base64.b64decode(blob).decode(errors="replace")))
        except (binascii.Error, ValueError):
            continue
    return names


def _references(config: Any) -> Iterator[str]:
    if is_object(config):
        for value in config.values():
            yield from _references(value)
    elif is_array(config):
        for value in config:
            yield from _references(value)
    elif isinstance(config, str) and config.startswith(ENV_REFERENCE):
        yield config[len(ENV_REFERENCE) :]


@rule("wiring.engine-env")
def engine_env_resolves(view: PlanView) -> Iterator[Violation]:
    """Every `os.environ/NAME` in the engine's config is a variable, secret or mounted file of its container."""
    for resource, container, config in engine_configs(view):
        variables = container_variables(container)
        files: dict[str, str] = {}
        if SECRET_FILES_ENV in variables:
            files = json.loads(variables[SECRET_FILES_ENV].get("value") or "{}")
        mounts = _mount_paths(container)
        for name in sorted(set(_references(config))):
            if name in variables:
                continue
            if name not in files:
                yield violation(
                    view,
                    resource["name"],
                    "wiring.engine-env",
                    f"the engine config reads os.environ/{name}, which its container doesn't set",
                )
            elif not any(m and files[name].startswith(m.rstrip("/") + "/") for m in mounts):
                yield violation(
                    view,
                    resource["name"],
                    "wiring.engine-env",
                    f"os.environ/{name} is read from {files[name]}, which no volume of the container mounts",
                )


@rule("wiring.self-hosted-model")
def self_hosted_models_are_served(view: PlanView) -> Iterator[Violation]:
    """Every self-hosted route names a model a server in the plan serves (`--served-model-name`)."""
    served = _served_names(view)
    for resource, _container, config in engine_configs(view):
        entries: list[Any] = config.get("model_list") or []
        for entry in entries:
            params: dict[str, Any] = entry.get("litellm_params") or {}
            model = str(params.get("model") or "")
            if model.startswith(SELF_HOSTED_PREFIX) and model[len(SELF_HOSTED_PREFIX) :] not in served:
                yield violation(
                    view,
                    resource["name"],
                    "wiring.self-hosted-model",
                    f"route {entry.get('model_name')} asks for {model[len(SELF_HOSTED_PREFIX) :]!r}, which no server in the plan serves "
                    f"(served: {', '.join(sorted(served)) or 'none'})",
                )
