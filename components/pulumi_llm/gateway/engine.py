"""The LiteLLM engine's facts every cloud shell deploys it with: port, probe path, container name, the
environment it reads, where its secrets are named, and the command it boots with.

Pure (no Pulumi, no cloud SDK): `aws`, `gcp` and `azure` import these instead of each restating them,
so a change of port or boot sequence happens once. `config` re-exports the environment names, which
`verify` and the examples import from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import cast

import yaml

from ..errors import UserError
from ..validation import ENV_NAME, SHORT_NAME
from .boundary_hook import HOOK_CALLBACK, HOOK_MODULE
from .boundary_hook import SOURCE as HOOK_SOURCE

ENGINE_PORT = 4000
"""LiteLLM proxy's port."""

LIVENESS_PATH = "/health/liveliness"
"""LiteLLM's liveness endpoint (its spelling): answers without calling any provider."""

READINESS_PATH = "/health/readiness"
"""LiteLLM's readiness endpoint: answers once the proxy has loaded its config."""

CONTAINER = "litellm"
"""The engine's container name in every cloud's task/service/app definition."""

CONFIG_ENV = "LITELLM_CONFIG_B64"
"""The engine's rendered config, base64, in its container's environment (written to a file at boot)."""

MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
"""The engine's master key; only the managed gateway in front of it holds the value."""

SECRET_FILES_ENV = "LITELLM_SECRET_FILES"
"""Where a cloud mounts secrets as files (Cloud Run): JSON {env var: file path}, read into the env at boot."""

MASTER_KEY_SECRET = "litellm-master"
"""Short name of the LiteLLM master key's secret (`pulumi-llm secrets put litellm-master`)."""

SECRET_PREFIX = "pulumi-llm"
"""First part of every secret's name in a cloud's secret store."""


def secret_name(stack: str, short: str) -> str:
    """AWS Secrets Manager name of a stack's secret: the gateway creates it, `pulumi-llm secrets` writes it."""
    return f"{SECRET_PREFIX}/{stack}/{short}"


def secret_id(stack: str, short: str) -> str:
    """GCP Secret Manager id of a stack's secret (ids take no `/`): the gateway creates it, the CLI writes it."""
    return f"{SECRET_PREFIX}-{stack}-{short}"


MAX_CONFIG_BYTES = 24 * 1024
"""Largest config a cloud shell carries in the engine's environment (ECS task definitions and Cloud
Run revisions hold the base64 text in one variable)."""

RESERVED_ENV = frozenset({CONFIG_ENV, MASTER_KEY_ENV, "HOME"})
"""Environment variables every shell sets itself; each cloud adds its own (region, identity, platform)."""

_WRITE_CONFIG = f"open('/tmp/litellm.yaml', 'wb').write(base64.b64decode(os.environ['{CONFIG_ENV}']))\n"
_EXEC = f"os.execvp('litellm', ['litellm', '--config', '/tmp/litellm.yaml', '--host', '0.0.0.0', '--port', '{ENGINE_PORT}'])\n"

BOOT = "import base64, os\n" + _WRITE_CONFIG + _EXEC
"""The engine's entry point: the config to /tmp (the only writable path), then exec LiteLLM."""

BOOT_WITH_SECRET_FILES = (
    "import base64, json, os\n"
    f"for env, path in json.loads(os.environ['{SECRET_FILES_ENV}']).items():\n"
    "    os.environ[env] = open(path).read().rstrip('\\n')\n" + _WRITE_CONFIG + _EXEC
)
"""The entry point where secrets are mounted as files (Cloud Run): each file into the env var the config
references, the config to /tmp, then exec LiteLLM. Only names and paths travel in the environment."""


def boot(config_yaml: str, base: str = BOOT) -> str:
    """The entry point for an engine running `config_yaml`: `base` (BOOT, or BOOT_WITH_SECRET_FILES), which
    also writes the private-boundary hook's module beside the config (/tmp) when the config names it.
    A config without private groups boots exactly as before."""
    loaded: object = yaml.safe_load(config_yaml) if config_yaml else None
    settings: object = cast(dict[str, object], loaded).get("litellm_settings") if isinstance(loaded, dict) else None
    callbacks: object = cast(dict[str, object], settings).get("callbacks") if isinstance(settings, dict) else None
    if not isinstance(callbacks, list) or HOOK_CALLBACK not in cast(list[object], callbacks):
        return base
    write = f"open('/tmp/{HOOK_MODULE}.py', 'w').write({HOOK_SOURCE!r})\n"
    return base.replace(_EXEC, write + _EXEC)


def check_secret_env(
    secrets: Mapping[str, str],
    *,
    reserved: AbstractSet[str],
    where: str,
    store: str = "a secret short name is",
    master_pair_allowed: bool = False,
) -> None:
    """The provider secrets a cloud shell hands the engine (environment variable → secret short name): an
    environment name the shell does not set itself, a short name that fits the store, never the master key's
    secret, one secret per variable. One set of rules and messages for the three clouds."""
    seen: dict[str, str] = {}
    for env, secret in sorted(secrets.items()):
        if master_pair_allowed and (env, secret) == (MASTER_KEY_ENV, MASTER_KEY_SECRET):
            continue  # gateway.config.secret_envs lists the master key too; the shell wires it itself
        at = f"{where}.provider_secrets.{env}"
        if not ENV_NAME.match(env):
            raise UserError(f"{at}: not an environment variable name ([A-Z_][A-Z0-9_]*)")
        if env in reserved:
            raise UserError(f"{at}: set by the gateway itself; use another name")
        if not SHORT_NAME.match(secret):
            raise UserError(f"{at} = {secret!r}: {store} lower-case letters, digits and '-' (at most 40), e.g. openai")
        if secret == MASTER_KEY_SECRET:
            raise UserError(f"{at} = {secret!r}: reserved for the LiteLLM master key")
        if secret in seen:
            raise UserError(
                f"{where}.provider_secrets: secret {secret!r} is mapped from both {seen[secret]} and {env}; one secret per variable"
            )
        seen[secret] = env


def check_plain_env(names: Iterable[str], *, key: str, taken: AbstractSet[str], where: str) -> None:
    """More environment variables of the engine (`key`: environment, external_secrets): valid names, none
    the shell or a provider secret already sets."""
    for env in sorted(names):
        if not ENV_NAME.match(env):
            raise UserError(f"{where}.{key}.{env}: not an environment variable name ([A-Z_][A-Z0-9_]*)")
        if env in taken:
            raise UserError(f"{where}.{key}.{env}: already set by the gateway or a provider secret")
