"""The gateway engine's configs against the containers and servers they name: both sides of each name.

LiteLLM reads `os.environ/NAME` references in its config, and the front the same spelling in its routing
document (a self-hosted route's URL) plus the variable of each server's key, at request time: a name the
container doesn't carry (as a plain variable, a secret reference, or a mounted secret file listed in the
secret-files map) fails every request on that route — and a route with fallbacks fails over to a provider
in silence. A self-hosted route names the model as the server serves it (`--served-model-name`); a name no
server in the plan serves answers 404 from the server, and falls over the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ...gateway.config import SECRET_FILES_ENV
from ...gateway.engine import MASTER_KEY_ENV
from ...gateway.routing import KIND_DIRECT
from ..boot_scripts import decode
from ..engines import ENV_REFERENCE, container_variables, engine_configs, front_routings
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
        # Base64 boot scripts (gzip inside on AWS GPU VMs): boot_scripts decodes them.
        script = decode(blob)
        if script is not None:
            names |= set(_SERVED.findall(script))
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


def _front_references(view: PlanView) -> Iterator[tuple[dict[str, Any], dict[str, Any], set[str]]]:
    """(resource, container, the variables the front's routing reads: URLs given as os.environ/NAME and
    the servers' key variables) of every engine carrying the front's config."""
    for routing in front_routings(view):
        names: set[str] = set()
        for candidate in routing.deployments():
            if candidate.url is not None and candidate.url.startswith(ENV_REFERENCE):
                names.add(candidate.url[len(ENV_REFERENCE) :])
            if candidate.key_env is not None:
                names.add(candidate.key_env)
        yield routing.resource, routing.container, names


@rule("wiring.engine-env")
def engine_env_resolves(view: PlanView) -> Iterator[Violation]:
    """Every `os.environ/NAME` in LiteLLM's config and every variable the front's routing reads is a variable, secret or mounted file of its container."""
    # The front starts LiteLLM with a master key it generates per boot (front_server): set by the boot, not the container.
    found = [(r, c, set(_references(config)) - {MASTER_KEY_ENV}, "the engine config") for r, c, config in engine_configs(view)]
    found += [(r, c, names, "the front's routing") for r, c, names in _front_references(view)]
    for resource, container, names, reader in found:
        variables = container_variables(container)
        files: dict[str, str] = {}
        if SECRET_FILES_ENV in variables:
            files = json.loads(variables[SECRET_FILES_ENV].get("value") or "{}")
        mounts = _mount_paths(container)
        for name in sorted(names):
            if name in variables:
                continue
            if name not in files:
                yield violation(
                    view,
                    resource["name"],
                    "wiring.engine-env",
                    f"{reader} reads os.environ/{name}, which its container doesn't set",
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
    """Every self-hosted route of the front's routing names a model a server in the plan serves (`--served-model-name`), and the routing document is readable."""
    served = _served_names(view)
    for routing in front_routings(view):
        if routing.error is not None:
            yield violation(
                view,
                routing.resource["name"],
                "wiring.self-hosted-model",
                f"the front's config cannot be read ({routing.error}): it would not start",
            )
            continue
        for candidate in routing.deployments():
            if candidate.kind == KIND_DIRECT and candidate.model not in served:
                yield violation(
                    view,
                    routing.resource["name"],
                    "wiring.self-hosted-model",
                    f"route {candidate.deployment} asks for {candidate.model!r}, which no server in the plan serves "
                    f"(served: {', '.join(sorted(served)) or 'none'})",
                )
