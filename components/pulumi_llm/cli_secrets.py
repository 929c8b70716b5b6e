"""`pulumi-llm secrets put` and `pulumi-llm secrets check`: provider keys straight into the secret store.

The stack creates the secret containers (AwsGateway: ``pulumi-llm/<stack>/<provider>``, encrypted with
the stack key, no value). This command writes a value from standard input with the caller's own AWS
credentials, so a key never passes through Pulumi config or state, a command line or shell history::

    pbpaste | pulumi-llm secrets put openai --stack prod      # or type it: a hidden prompt on a terminal
    pulumi-llm secrets check --stack prod                     # set / missing, from metadata only

`check` reads metadata only (DescribeSecret: which versions exist and which one is AWSCURRENT); neither
command ever reads a secret's value or prints the one it writes. The running gateway picks a new value up
without `pulumi up`: its EventBridge rule sees the PutSecretValue call and forces a new ECS deployment.

Wiring: `add_parsers(subparsers)` registers `secrets` with its two sub-commands; each sets `handler` in
its defaults, a function `handler(args) -> int`. Bad input raises `pulumi_llm.errors.UserError`, one line.

Which secrets a stack expects is `pulumi_llm.gateway.expected_secrets(settings)`, imported lazily; every
handler takes it as the `expected` parameter, and `--provider` (repeatable) overrides it.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pulumi_llm.errors import UserError

if TYPE_CHECKING:
    from pulumi_llm.settings import Settings

Expected = Callable[["Settings"], Sequence[str]]
"""Which provider secrets a stack's settings call for (short names, e.g. ['openai', 'anthropic'])."""
SessionFactory = Callable[[str], Any]
"""region → a boto3 Session (tests pass their own)."""

SECRET_PREFIX = "pulumi-llm"
MASTER_KEY_SECRET = "litellm-master"
"""The LiteLLM master key: every stack with a gateway has it (AwsGateway creates its container)."""
CURRENT = "AWSCURRENT"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def secret_name(stack: str, provider: str) -> str:
    """Same naming as `pulumi_llm.gateway.aws.secret_name` (a test keeps them equal)."""
    return f"{SECRET_PREFIX}/{stack}/{provider}"


def default_expected(settings: Settings) -> Sequence[str]:
    """The lead's `pulumi_llm.gateway.expected_secrets`, imported only when a command needs it."""
    try:
        from pulumi_llm.gateway import expected_secrets  # type: ignore[attr-defined]
    except ImportError:
        raise UserError(
            "pulumi-llm secrets: this version cannot tell which secrets a stack expects; name them with --provider NAME"
        ) from None
    return expected_secrets(settings)


def default_session(region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def add_parsers(
    subparsers: Any, *, expected: Expected = default_expected, session_factory: SessionFactory = default_session
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
            "that does not echo) and store it as a new version of pulumi-llm/STACK/PROVIDER. Nothing is printed back."
        ),
    )
    put.add_argument("provider", metavar="PROVIDER", help="secret short name, e.g. openai, anthropic, litellm-master")
    put.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.STACK.yaml (its cloud and region)")
    put.add_argument(
        "--provider", dest="providers", action="append", metavar="NAME", help="a secret the stack expects (repeatable; default: from its settings)"
    )
    put.set_defaults(handler=functools.partial(handle_put, expected=expected, session_factory=session_factory))

    check = commands.add_parser(
        "check",
        help="list each secret the stack expects as set or missing (never reads values)",
        description="Exit status 0 when every expected secret has a current value, 1 otherwise.",
    )
    check.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.STACK.yaml")
    check.add_argument(
        "--provider", dest="providers", action="append", metavar="NAME", help="a secret the stack expects (repeatable; default: from its settings)"
    )
    check.set_defaults(handler=functools.partial(handle_check, expected=expected, session_factory=session_factory))


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def handle_put(
    args: argparse.Namespace,
    *,
    expected: Expected = default_expected,
    session_factory: SessionFactory = default_session,
    stdin: TextIO | None = None,
) -> int:
    provider = args.provider
    where = f"secrets put {provider}"
    if not _NAME.match(provider):
        raise UserError(f"{where}: not a secret name; lower-case letters, digits and '-', e.g. openai")
    region, known = _stack(args, expected, where)
    if provider not in known:
        raise UserError(f"{where}: stack {args.stack} expects no such secret; expected: {', '.join(known)}")
    value = read_value(stdin or sys.stdin, prompt=f"{provider} key for stack {args.stack} (input hidden): ")
    if not value:
        raise UserError(
            f"{where}: empty key on standard input; pipe it in, e.g. pbpaste | pulumi-llm secrets put {provider} --stack {args.stack}"
        )
    if provider == MASTER_KEY_SECRET and not value.startswith("sk-"):
        raise UserError(f"{where}: a LiteLLM master key starts with 'sk-'")
    name = secret_name(args.stack, provider)
    client = _client(session_factory, region)
    answer = _call(where, args.stack, name, region, lambda: client.put_secret_value(SecretId=name, SecretString=value))
    print(f"{name}: new version {answer.get('VersionId', '?')} is current in {region}; the gateway redeploys to pick it up")
    return 0


def handle_check(
    args: argparse.Namespace,
    *,
    expected: Expected = default_expected,
    session_factory: SessionFactory = default_session,
) -> int:
    where = "secrets check"
    region, known = _stack(args, expected, where)
    client = _client(session_factory, region)
    missing = 0
    width = max(len(p) for p in known)
    for provider in known:
        name = secret_name(args.stack, provider)
        state = secret_state(where, args.stack, region, client, name)
        if not state.startswith("set"):
            missing += 1
        print(f"{provider:<{width}}  {state:<48}  {name}")
    print(f"{len(known) - missing} of {len(known)} set in {region}")
    return 1 if missing else 0


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def read_value(stream: TextIO, *, prompt: str) -> str:
    """The secret from `stream`, less one trailing newline; on a terminal, a prompt that does not echo."""
    if stream.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    text = stream.read()
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def secret_state(where: str, stack: str, region: str, client: Any, name: str) -> str:
    """'set (…)' or 'missing (…)', from DescribeSecret alone (metadata, never the value)."""
    from botocore.exceptions import ClientError

    try:
        meta = client.describe_secret(SecretId=name)
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            return "missing (no secret: run pulumi up first)"
        raise _aws_error(where, err) from None
    except Exception as err:  # credentials, network: one line
        raise _other_error(where, err) from None
    if meta.get("DeletedDate"):
        return "missing (scheduled for deletion)"
    stages = meta.get("VersionIdsToStages") or {}
    if any(CURRENT in s for s in stages.values()):
        changed = meta.get("LastChangedDate")
        return f"set (changed {changed:%Y-%m-%d %H:%M} UTC)" if hasattr(changed, "strftime") else "set"
    return f"missing (no value: pulumi-llm secrets put … --stack {stack})"


def _stack(args: argparse.Namespace, expected: Expected, where: str) -> tuple[str, list[str]]:
    """The stack's region and the secrets it expects (master key included)."""
    from pulumi_llm.offline.plan import Project, load_settings

    project_dir = getattr(args, "project_dir", None) or Path.cwd()
    settings = load_settings(Project.find(Path(project_dir).resolve()), args.stack)
    if settings.cloud != "aws":
        raise UserError(
            f"{where}: stack {args.stack} deploys to {settings.cloud}; `pulumi-llm secrets` writes AWS Secrets Manager only"
        )
    names = list(args.providers) if getattr(args, "providers", None) else list(expected(settings))
    for name in names:
        if not _NAME.match(name):
            raise UserError(f"{where}: --provider {name!r}: not a secret name; lower-case letters, digits and '-'")
    if not names:
        raise UserError(f"{where}: stack {args.stack} expects no provider secrets (no gateway); name them with --provider NAME")
    known = sorted(set(names) | {MASTER_KEY_SECRET})
    return str(settings.region), known


def _client(session_factory: SessionFactory, region: str) -> Any:
    return session_factory(region).client("secretsmanager")


def _call(where: str, stack: str, name: str, region: str, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            raise UserError(
                f"{where}: {name} does not exist in {region}; run pulumi up on stack {stack} first "
                "(the stack creates the secret, this command sets its value)"
            ) from None
        raise _aws_error(where, err) from None
    except Exception as err:
        raise _other_error(where, err) from None


def _code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", "")) if hasattr(err, "response") else ""


def _aws_error(where: str, err: Any) -> UserError:
    message = " ".join(str(err.response.get("Error", {}).get("Message", "")).split())
    return UserError(f"{where}: AWS refused: {_code(err)}: {message}".rstrip(": "))


def _other_error(where: str, err: Exception) -> UserError:
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    if isinstance(err, NoCredentialsError):
        return UserError(f"{where}: no AWS credentials found; sign in (e.g. aws sso login, or set AWS_PROFILE) and retry")
    if isinstance(err, BotoCoreError):
        return UserError(f"{where}: {' '.join(str(err).split())}")
    raise err
