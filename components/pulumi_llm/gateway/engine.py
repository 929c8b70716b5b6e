"""The gateway engine's facts every cloud shell deploys it with: port, probe paths, container name, the
environment it reads, where its secrets are named, and the command it boots with.

The engine is two processes in one container: the front (``front_server``, on the engine port) and
LiteLLM on loopback behind it. ``front_config`` renders what the front reads; ``boot`` is the container's
command: it writes the front's package and both configs to /tmp, and runs the front, which starts LiteLLM
with a master key made for this boot, waits for it, serves, and on SIGTERM drains and stops it.

Pure (no Pulumi, no cloud SDK): `aws`, `gcp` and `azure` import these instead of each restating them,
so a change of port or boot sequence happens once. `config` re-exports the environment names, which
`verify` and the examples import from there.
"""

from __future__ import annotations

import ast
import base64
import functools
import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from ..errors import UserError
from ..validation import ENV_NAME, SHORT_NAME
from . import front_contract as fc
from .config import GatewaySpec, grants_from_spec, validate
from .engine_names import CONFIG_ENV as CONFIG_ENV
from .engine_names import MASTER_KEY_ENV as MASTER_KEY_ENV
from .engine_names import MASTER_KEY_SECRET as MASTER_KEY_SECRET
from .engine_names import MAX_CONFIG_BYTES as MAX_CONFIG_BYTES
from .engine_names import SECRET_FILES_ENV as SECRET_FILES_ENV
from .grants import Grant, grants_document
from .routing import routing_document

ENGINE_PORT = fc.FRONT_PORT
"""The engine's port (the front listens there; LiteLLM is on loopback only)."""

LIVENESS_PATH = fc.LIVENESS_PATH
"""Answered by the front while its process serves (LiteLLM's spelling, kept so probes did not change)."""

READINESS_PATH = fc.READINESS_PATH
"""Answered 200 by the front once LiteLLM behind it is ready, 503 while it drains."""

CONTAINER = "litellm"
"""The engine's container name in every cloud's task/service/app definition."""

EDGE_KEY_ENV = fc.EDGE_KEY_ENV
"""Mode edge (AWS, Azure): the shell injects the ``litellm-master`` secret's value as this variable; the
front accepts it as the edge key."""

EDGE_KEY_PREVIOUS_ENV = fc.EDGE_KEY_PREVIOUS_ENV
"""Mode edge, optional: the secret's previous value (AWS ``AWSPREVIOUS``), accepted during a rotation."""

FRONT_CONFIG_ENV = "PULUMI_LLM_FRONT_CONFIG_B64"
"""The front's rendered config (``front_config``), base64 JSON, in the container's environment."""

BOOT_DIR_ENV = "PULUMI_LLM_FRONT_DIR"
"""Where the boot writes the package and configs; default /tmp (the only writable path). Tests set it."""

FRONT_PACKAGE = "pulumi_llm_front"
"""The package name the front's modules ship under in the container."""

FRONT_MODULES = ("front_contract.py", "grants.py", "routing.py", "front_server.py")
"""The front's source files (siblings of this module), shipped verbatim."""

SECRET_PREFIX = "pulumi-llm"
"""First part of every secret's name in a cloud's secret store."""


def secret_name(stack: str, short: str) -> str:
    """AWS Secrets Manager name of a stack's secret: the gateway creates it, `pulumi-llm secrets` writes it."""
    return f"{SECRET_PREFIX}/{stack}/{short}"


def secret_id(stack: str, short: str) -> str:
    """GCP Secret Manager id of a stack's secret (ids take no `/`): the gateway creates it, the CLI writes it."""
    return f"{SECRET_PREFIX}-{stack}-{short}"


MAX_BOOT_BYTES = 48 * 1024
"""Largest boot command: ECS holds a whole task definition in 64 KiB, the front's config and LiteLLM's
(each up to ``MAX_CONFIG_BYTES``) included; a test holds ``boot()`` to this."""

RESERVED_ENV = frozenset({CONFIG_ENV, MASTER_KEY_ENV, FRONT_CONFIG_ENV, EDGE_KEY_ENV, EDGE_KEY_PREVIOUS_ENV, BOOT_DIR_ENV, "HOME"})
"""Environment variables every shell sets itself; each cloud adds its own (region, identity, platform)."""

_DOC_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@functools.cache  # pure in `text`; both boot commands (BOOT, BOOT_WITH_SECRET_FILES) ship the same modules
def shipped_source(text: str) -> str:
    """A module as it ships in the boot command: the same code with its docstrings and comments left out
    (``ast.unparse`` of the tree without bare string statements), which halves the command. The repository's
    file stays the documented one; the integration tests run the shipped text."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, _DOC_OWNERS):
            kept = [
                s
                for s in node.body
                if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))
            ]
            node.body = kept or [ast.Pass()]
    return ast.unparse(tree) + "\n"


def package_blob(directory: Path | None = None) -> str:
    """The front's package as one text: {file name: shipped source} as JSON, zlib level 9, base64. The
    sources are the sibling modules ``FRONT_MODULES`` (``shipped_source``), plus an empty ``__init__.py``."""
    here = directory or Path(__file__).resolve().parent
    files = {"__init__.py": ""} | {name: shipped_source((here / name).read_text(encoding="utf-8")) for name in FRONT_MODULES}
    return base64.b64encode(zlib.compress(json.dumps(files, sort_keys=True).encode(), 9)).decode()


def boot(*, secret_files: bool = False) -> str:
    """The container's command (``python3 -c <this>``): write the front's package and both configs
    (``FRONT_CONFIG_ENV``, ``CONFIG_ENV``) under ``BOOT_DIR_ENV`` (default /tmp), then run the front, which
    starts LiteLLM on loopback, waits for it and serves on ``ENGINE_PORT``. ``secret_files`` (Cloud Run):
    first read each file of ``SECRET_FILES_ENV`` ({env var: path}) into that variable, as LiteLLM's config
    references provider keys by variable. Only names and paths travel in the environment, never a key."""
    lines = ["import base64, json, os, sys, zlib"]
    if secret_files:
        lines += [
            f"for env, path in json.loads(os.environ['{SECRET_FILES_ENV}']).items():",
            "    os.environ[env] = open(path).read().rstrip('\\n')",
        ]
    lines += [
        f"d = os.environ.get('{BOOT_DIR_ENV}') or '/tmp'",
        f"p = os.path.join(d, '{FRONT_PACKAGE}')",
        "os.makedirs(p, exist_ok=True)",
        f"for n, t in json.loads(zlib.decompress(base64.b64decode('{package_blob()}'))).items():",
        "    open(os.path.join(p, n), 'w').write(t)",
        f"open(os.path.join(d, 'front.json'), 'wb').write(base64.b64decode(os.environ['{FRONT_CONFIG_ENV}']))",
        "args = ['--config', os.path.join(d, 'front.json')]",
        f"if os.environ.get('{CONFIG_ENV}'):",
        f"    open(os.path.join(d, 'litellm.yaml'), 'wb').write(base64.b64decode(os.environ['{CONFIG_ENV}']))",
        "    args += ['--litellm-config', os.path.join(d, 'litellm.yaml')]",
        "sys.path.insert(0, d)",
        f"from {FRONT_PACKAGE}.front_server import main",
        "sys.exit(main(args))",
    ]
    return "\n".join(lines) + "\n"


STOP_MARGIN_SECONDS = 10.0
"""What a platform's grace period keeps back from the front's drain after SIGTERM: the front then stops
LiteLLM (SIGTERM, which answers within a few seconds once idle) and exits before the platform's SIGKILL."""


def decide_drain_seconds(grace_seconds: float) -> float:
    """The front's ``drain_seconds`` within a platform's SIGTERM-to-SIGKILL grace: the grace less
    ``STOP_MARGIN_SECONDS``, at least 1 s. Open streams get the most the platform allows."""
    return max(1.0, float(grace_seconds) - STOP_MARGIN_SECONDS)


def front_config(
    spec: GatewaySpec,
    *,
    identity: str,
    stack: str,
    grants: Mapping[str, Grant] | None = None,
    consumer_key_files: Mapping[str, str] | None = None,
    edge_key_files: Sequence[str] = (),
    host: str = "0.0.0.0",  # noqa: S104 - the container's port; the platform decides who reaches it
    port: int = ENGINE_PORT,
    litellm_port: int = fc.LITELLM_LOOPBACK_PORT,
    drain_seconds: float = 25.0,
    where: str = "gateway",
) -> dict[str, object]:
    """What the front reads (JSON-able; the shells carry it base64 in ``FRONT_CONFIG_ENV``, see
    ``encode_front_config``). Validates ``spec`` first.

    identity: ``edge`` (AWS, Azure: the edge sends the edge key and the consumer header) or ``keys`` (GCP:
    each consumer's own key). stack: the stack's name (the metrics' ``stack`` dimension). grants: per
    consumer; default ``config.grants_from_spec(spec)``. consumer_key_files: mode keys only, required there — every
    consumer → the file its key secret is mounted at. edge_key_files: mode edge, optional — files holding
    accepted edge keys, re-read on an unknown key (the env vars ``EDGE_KEY_ENV`` / ``EDGE_KEY_PREVIOUS_ENV``
    are always read). host / port: where the front listens. litellm_port: LiteLLM's loopback port.
    drain_seconds: how long open requests may finish after SIGTERM.
    """
    validate(spec, where=where)
    if identity not in fc.IDENTITY_MODES:
        raise UserError(f"{where}.identity = {identity!r}: allowed {' or '.join(fc.IDENTITY_MODES)}")
    chosen = dict(grants) if grants is not None else grants_from_spec(spec, where=where)
    files = dict(consumer_key_files or {})
    if identity == fc.IDENTITY_KEYS:
        missing = sorted(set(chosen) - set(files))
        if missing:
            raise UserError(f"{where}.consumers.{missing[0]}: identity keys needs a key file for every consumer; none given")
        extra = sorted(set(files) - set(chosen))
        if extra:
            raise UserError(f"{where}: a key file for {extra[0]!r}, which is no consumer")
    elif files:
        raise UserError(f"{where}: consumer key files are read only with identity keys (this gateway's edge names the consumer)")
    return {
        "identity": identity,
        "stack": stack,
        "grants": grants_document(chosen),
        "routing": routing_document(spec),
        "edge_key_envs": [EDGE_KEY_ENV, EDGE_KEY_PREVIOUS_ENV] if identity == fc.IDENTITY_EDGE else [],
        "edge_key_files": list(edge_key_files) if identity == fc.IDENTITY_EDGE else [],
        "consumer_key_files": files,
        "host": host,
        "port": port,
        "litellm_url": f"http://127.0.0.1:{litellm_port}",
        "allowed_fails": spec.allowed_fails,
        "cooldown_seconds": spec.cooldown_seconds,
        "retry_after_seconds": max(1, math.ceil(spec.cooldown_seconds)),
        "drain_seconds": drain_seconds,
        "keepalive_seconds": spec.stream_keepalive_seconds or 0,
    }


def encode_front_config(config: Mapping[str, object], *, where: str = "gateway") -> str:
    """``front_config``'s output as the value of ``FRONT_CONFIG_ENV`` (base64 of compact JSON); refused
    above ``MAX_CONFIG_BYTES`` like LiteLLM's config."""
    text = base64.b64encode(json.dumps(config, separators=(",", ":"), sort_keys=True).encode()).decode()
    if len(text) > MAX_CONFIG_BYTES:
        raise UserError(f"{where}: the front's config is {len(text)} bytes in base64, above the {MAX_CONFIG_BYTES}-byte limit")
    return text


_BOOTS: Mapping[str, bool] = {"BOOT": False, "BOOT_WITH_SECRET_FILES": True}
"""The module's boot commands, built on first use (``boot``: a few hundredths of a second each), not when the
module is imported — every plan imports it (gateway sizing), most never read them:

- ``BOOT``: the engine's command where secrets arrive as environment variables (ECS, Container Apps);
- ``BOOT_WITH_SECRET_FILES``: the engine's command where secrets are mounted as files (Cloud Run)."""


def __getattr__(name: str) -> str:
    if name not in _BOOTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    command = globals()[name] = boot(secret_files=_BOOTS[name])
    return command


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
