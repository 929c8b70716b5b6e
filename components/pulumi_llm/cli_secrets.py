"""`pulumi-llm secrets put` and `pulumi-llm secrets check`: provider keys straight into the secret store.

The stack creates the secret containers (no value); this command writes a value from standard input with the
caller's own cloud credentials, so a key never passes through Pulumi config or state, a command line or shell
history::

    pbpaste | pulumi-llm secrets put openai --stack prod      # or type it: a hidden prompt on a terminal
    pulumi-llm secrets check --stack prod                     # set / missing, from metadata only

Neither command ever reads a secret's value or prints the one it writes. Each cloud's store — AWS Secrets
Manager, GCP Secret Manager over REST — is a module of `pulumi_llm.secret_stores` (names, calls, how a new
value reaches the running gateway); this module reads the command line and the stack and hands over.

Wiring: `add_parsers(subparsers)` registers `secrets` with its two sub-commands; each sets `handler` in
its defaults, a function `handler(args) -> int`. Bad input raises `pulumi_llm.errors.UserError`, one line.

Which secrets a stack expects is `pulumi_llm.gateway.expected_secrets(settings)`, imported lazily; every
handler takes it as the `expected` parameter, and `--provider` (repeatable) overrides it. `clients` maps a
cloud to its store's client factory (tests pass their own); a cloud missing from it gets the store's default.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pulumi_llm.errors import UserError
from pulumi_llm.validation import SHORT_NAME as _NAME

from .choices import allowed

if TYPE_CHECKING:
    from pulumi_llm.secret_stores import ClientFactory, SecretStore
    from pulumi_llm.settings import Settings

# The secret stores and the gateway (whose engine module builds the boot commands) are imported by the
# handlers that use them: every `pulumi-llm` command builds this parser, and a plan of a stack without a
# gateway would otherwise import them for nothing (a third of the edge stack's plan time over its floor).

Expected = Callable[["Settings"], Sequence[str]]
"""Which provider secrets a stack's settings call for (short names, e.g. ['openai', 'anthropic'])."""
Clients = Mapping[str, "ClientFactory"]
"""cloud → its secret store's client factory (secret_stores: region → boto3 Session, project → Secret Manager)."""

NO_CLIENTS: Clients = {}

CONSUMER_KEY_MIN_CHARS = 32
"""A consumer key is a bearer credential sent to the internet-facing load balancer: at least 32 characters
(`openssl rand -hex 32` gives 64), so it cannot be guessed within any rate limit."""


def decide_consumer_key_fault(value: str) -> str | None:
    """None when a consumer secret's value is usable, else what is wrong, for the error line: a length, and a
    line number when the value has several lines — never the value.

    The front reads a consumer's secret as one key per line (front_server.key_file_lines), and during a
    rotation the secret holds the new key and the old one on two lines: each line must be a key of at least
    CONSUMER_KEY_MIN_CHARS characters without surrounding spaces (a blank line, or a carriage return, is a
    mistake: standard input loses one trailing newline only). A value of one line is checked whole."""
    lines = value.split("\n")
    for number, line in enumerate(lines, start=1):
        if len(line) < CONSUMER_KEY_MIN_CHARS or line != line.strip():
            return f"got {len(line)}" if len(lines) == 1 else f"line {number} of {len(lines)}: got {len(line)}"
    return None


def secret_name_ok(name: str) -> bool:
    """A secret short name (`openai`), or a consumer's key secret (`consumer-<consumer name>`, which may be
    longer than a short name by the prefix)."""
    from pulumi_llm.gateway import CONSUMER_KEY_SECRET_PREFIX

    return bool(
        _NAME.match(name) or (name.startswith(CONSUMER_KEY_SECRET_PREFIX) and _NAME.match(name.removeprefix(CONSUMER_KEY_SECRET_PREFIX)))
    )


def default_expected(settings: Settings) -> Sequence[str]:
    """The lead's `pulumi_llm.gateway.expected_secrets`, imported only when a command needs it."""
    try:
        from pulumi_llm.gateway import expected_secrets  # type: ignore[attr-defined]
    except ImportError:
        raise UserError(
            "pulumi-llm secrets: this version cannot tell which secrets a stack expects; name them with --provider NAME"
        ) from None
    return expected_secrets(settings)


def add_parsers(
    subparsers: Any,
    *,
    expected: Expected = default_expected,
    clients: Clients = NO_CLIENTS,
) -> None:
    """Register `secrets put` and `secrets check` on an argparse sub-parsers object."""
    secrets = subparsers.add_parser(
        "secrets",
        help="write provider API keys into the stack's secret store; check which are set",
        description="Provider keys go straight into the cloud's secret store, never through Pulumi.",
    )
    commands = secrets.add_subparsers(dest="secrets_command", required=True, parser_class=type(secrets))

    put = commands.add_parser(
        "put",
        help="set a provider's key from standard input (hidden prompt on a terminal)",
        description=(
            "Read PROVIDER's key from standard input (one trailing newline is dropped; on a terminal, a prompt "
            "that does not echo) and store it as a new version of pulumi-llm/STACK/PROVIDER (AWS) or "
            "pulumi-llm-STACK-PROVIDER (GCP). Nothing is printed back."
        ),
    )
    put.add_argument("provider", metavar="PROVIDER", help="secret short name, e.g. openai, anthropic, litellm-master, consumer-<name>")
    put.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.STACK.yaml (its cloud and region)")
    put.add_argument(
        "--provider",
        dest="providers",
        action="append",
        metavar="NAME",
        help="a secret the stack expects (repeatable; default: from its settings)",
    )
    put.set_defaults(handler=functools.partial(handle_put, expected=expected, clients=clients))

    check = commands.add_parser(
        "check",
        help="list each secret the stack expects as set or missing (never reads values)",
        description="Exit status 0 when every expected secret has a current value, 1 otherwise.",
    )
    check.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.STACK.yaml")
    check.add_argument(
        "--provider",
        dest="providers",
        action="append",
        metavar="NAME",
        help="a secret the stack expects (repeatable; default: from its settings)",
    )
    check.set_defaults(handler=functools.partial(handle_check, expected=expected, clients=clients))


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def handle_put(
    args: argparse.Namespace,
    *,
    expected: Expected = default_expected,
    clients: Clients = NO_CLIENTS,
    stdin: TextIO | None = None,
) -> int:
    from pulumi_llm.gateway import CONSUMER_KEY_SECRET_PREFIX
    from pulumi_llm.gateway.engine import MASTER_KEY_SECRET

    provider = args.provider
    where = f"secrets put {provider}"
    if not secret_name_ok(provider):
        raise UserError(f"{where}: not a secret name; lower-case letters, digits and '-', e.g. openai")
    target = _stack(args, expected, where)
    known = target.known
    if provider not in known:
        raise UserError(f"{where}: stack {args.stack} expects no such secret; {allowed(provider, known, 'expected')}")
    value = read_value(stdin or sys.stdin, prompt=f"{provider} key for stack {args.stack} (input hidden): ")
    if not value:
        raise UserError(
            f"{where}: empty key on standard input; pipe it in, e.g. pbpaste | pulumi-llm secrets put {provider} --stack {args.stack}"
        )
    if provider == MASTER_KEY_SECRET and not value.startswith("sk-"):
        raise UserError(f"{where}: a LiteLLM master key starts with 'sk-'")
    fault = decide_consumer_key_fault(value) if provider.startswith(CONSUMER_KEY_SECRET_PREFIX) else None
    if fault is not None:
        raise UserError(
            f"{where}: a consumer key is at least {CONSUMER_KEY_MIN_CHARS} characters without surrounding spaces "
            f"({fault}); generate one, e.g. openssl rand -hex 32 | pulumi-llm secrets put {provider} --stack {args.stack}"
        )
    return target.store.put(where, args.stack, target.location, provider, value, _client_factory(target, clients))


def handle_check(
    args: argparse.Namespace,
    *,
    expected: Expected = default_expected,
    clients: Clients = NO_CLIENTS,
) -> int:
    where = "secrets check"
    target = _stack(args, expected, where)
    return target.store.check(where, args.stack, target.location, target.known, _client_factory(target, clients))


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def read_value(stream: TextIO, *, prompt: str) -> str:
    """The secret from `stream`, less one trailing newline; on a terminal, a prompt that does not echo."""
    if stream.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    try:
        text = stream.read()
    except UnicodeDecodeError:
        # Never echo what was read: it is a secret.
        raise UserError("secrets put: standard input is not UTF-8 text; pipe the key as UTF-8") from None
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


class _Target:
    """Where a stack's secrets live: its cloud, that cloud's store and the store's location (an AWS region, a
    GCP project), and the secrets it expects."""

    def __init__(self, cloud: str, store: SecretStore, location: str, known: list[str]) -> None:
        self.cloud, self.store, self.location, self.known = cloud, store, location, known


def _stack(args: argparse.Namespace, expected: Expected, where: str) -> _Target:
    """The stack's cloud, its secret store and location, and the secrets it expects (the master key included where an edge holds one)."""
    from pulumi_llm import clouds, secret_stores
    from pulumi_llm.gateway.engine import MASTER_KEY_SECRET
    from pulumi_llm.offline.plan import Project, load_settings

    project_dir = getattr(args, "project_dir", None) or Path.cwd()
    settings = load_settings(Project.find(Path(project_dir).resolve()), args.stack)
    store = secret_stores.BY_CLOUD.get(settings.cloud)
    if store is None:
        stores = " and ".join(known.name for known in secret_stores.BY_CLOUD.values())
        raise UserError(f"{where}: stack {args.stack} deploys to {settings.cloud}; `pulumi-llm secrets` writes {stores} only")
    names = list(args.providers) if getattr(args, "providers", None) else list(expected(settings))
    for name in names:
        if not secret_name_ok(name):
            raise UserError(f"{where}: --provider {name!r}: not a secret name; lower-case letters, digits and '-'")
    if not names:
        raise UserError(f"{where}: stack {args.stack} expects no provider secrets (no gateway); name them with --provider NAME")
    # Where the front checks consumer keys itself (GCP) no edge holds a master key, so no such secret exists.
    info = clouds.info(settings.cloud)
    known = sorted(set(names) | set(store.extra) | (set() if info is not None and info.consumer_keys else {MASTER_KEY_SECRET}))
    return _Target(settings.cloud, store, store.location(settings), known)


def _client_factory(target: _Target, clients: Clients) -> ClientFactory:
    return clients.get(target.cloud) or target.store.default_client
