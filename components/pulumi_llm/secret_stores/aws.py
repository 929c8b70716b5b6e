"""AWS Secrets Manager: `pulumi-llm secrets` for AWS stacks, with the caller's own AWS credentials.

The stack creates the secret containers (AwsGateway: ``pulumi-llm/<stack>/<provider>``, encrypted with the
stack key, no value); `put` writes a new value (PutSecretValue), `check` reads metadata only
(DescribeSecret: which versions exist and which one is AWSCURRENT); neither reads a secret's value. The
running gateway picks a new value up without `pulumi up`: its EventBridge rule sees the PutSecretValue call
and forces a new ECS deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pulumi_llm.errors import UserError
from pulumi_llm.gateway.engine import secret_name

from .check_table import print_states

CURRENT = "AWSCURRENT"
NAME = "AWS Secrets Manager"

if TYPE_CHECKING:
    from pulumi_llm.settings import Settings


def location(settings: Settings) -> str:
    """The stack's region: its secrets live in that region's Secrets Manager."""
    return str(settings.region)


def default_session(region: str) -> Any:
    """region → a boto3 Session (tests pass their own)."""
    from boto3.session import Session  # pyright: ignore[reportMissingTypeStubs] - boto3 ships no type stubs

    return Session(region_name=region)


def put(where: str, stack: str, region: str, provider: str, value: str, session_factory: Callable[[str], Any]) -> int:
    name = secret_name(stack, provider)
    client = session_factory(region).client("secretsmanager")
    answer = _call(where, stack, name, region, lambda: client.put_secret_value(SecretId=name, SecretString=value))
    print(f"{name}: new version {answer.get('VersionId', '?')} is current in {region}; the gateway redeploys to pick it up")
    return 0


def check(where: str, stack: str, region: str, known: Sequence[str], session_factory: Callable[[str], Any]) -> int:
    client = session_factory(region).client("secretsmanager")

    def row(provider: str) -> tuple[str, str]:
        name = secret_name(stack, provider)
        return secret_state(where, stack, region, client, name), name

    return print_states(known, row, region)


def secret_state(where: str, stack: str, region: str, client: Any, name: str) -> str:
    """'set (…)' or 'missing (…)', from DescribeSecret alone (metadata, never the value)."""
    from botocore.exceptions import ClientError  # pyright: ignore[reportMissingTypeStubs] - botocore ships no type stubs

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
    stages: dict[str, list[str]] = meta.get("VersionIdsToStages") or {}
    if any(CURRENT in s for s in stages.values()):
        changed = meta.get("LastChangedDate")
        return f"set (changed {changed:%Y-%m-%d %H:%M} UTC)" if hasattr(changed, "strftime") else "set"
    return f"missing (no value: pulumi-llm secrets put … --stack {stack})"


def _call(where: str, stack: str, name: str, region: str, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import ClientError  # pyright: ignore[reportMissingTypeStubs] - botocore ships no type stubs

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
    from botocore.exceptions import BotoCoreError, NoCredentialsError  # pyright: ignore[reportMissingTypeStubs] - no stubs

    if isinstance(err, NoCredentialsError):
        return UserError(f"{where}: no AWS credentials found; sign in (e.g. aws sso login, or set AWS_PROFILE) and retry")
    if isinstance(err, BotoCoreError):
        return UserError(f"{where}: {' '.join(str(err).split())}")
    raise err
