"""The gateway's API Gateway REQUEST authorizer (runs in Lambda, python3.13; boto3 comes with it).

Why it exists: the engine runs in master-key mode (no database, see ``gateway.config``), so every request
that reaches it must carry ``Authorization: Bearer <master key>``, yet only the edge may hold that key.
API Gateway cannot read Secrets Manager itself, so this authorizer does, and hands the value to the
integration through the authorizer context (``context.authorizer.bearer`` → the integration request's
``Authorization`` header). The value lives in Lambda memory and API Gateway's authorizer cache only:
never in Pulumi state, the stack file, the task definition or a log line.

Consumers keep using the standard OpenAI clients: their API Gateway API key is their bearer token.
This function only lifts it out of the header as ``usageIdentifierKey``; API Gateway itself then checks it
against the usage plans (an unknown key is refused with 403 before the engine sees anything) and applies
that consumer's quota and throttle. A request without a bearer never reaches this function (the identity
source is required: API Gateway answers 401).

Rotation: the master key is re-read after ``MASTER_KEY_CACHE_SECONDS`` (default 300); API Gateway caches
each consumer's answer for the authorizer TTL on top of that.

This file is the Lambda's whole source (``index.py``); the tests import and run it as it is.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any, cast

DEFAULT_CACHE_SECONDS = 300
_secrets_client: Any = None
_cached: tuple[float, str] | None = None


class Unauthorized(Exception):
    """API Gateway turns exactly the message "Unauthorized" into a 401 response."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def bearer_token(headers: Mapping[str, object] | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (any header-name case), else None."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token and " " not in token:
                return token
    return None


def stage_wide_resource(method_arn: str) -> str:
    """``arn:…:execute-api:region:account:api/stage/VERB/path`` → every method and path of that stage.

    API Gateway caches the policy per consumer key and reuses it for the consumer's next requests on any
    path, so a policy naming only the first path would refuse the second.
    """
    api, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    if not api.startswith("arn:") or not stage:
        raise ValueError(f"not a method ARN: {method_arn!r}")
    return f"{api}/{stage}/*/*"


def _client() -> Any:
    global _secrets_client
    if _secrets_client is None:
        import boto3  # pyright: ignore[reportMissingTypeStubs] - boto3 ships no type stubs

        # Any: boto3 builds its clients at run time, so there is no type to give.
        _secrets_client = cast(Any, boto3.client("secretsmanager"))  # pyright: ignore[reportUnknownMemberType] - no stubs
    return _secrets_client


def master_key(now: float | None = None) -> str:
    """The engine's master key, read from Secrets Manager at most once per cache period."""
    global _cached
    now = time.monotonic() if now is None else now
    ttl = int(os.environ.get("MASTER_KEY_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))
    if _cached is None or now - _cached[0] >= ttl:
        secret = os.environ["MASTER_KEY_SECRET_ARN"]
        try:
            value = _client().get_secret_value(SecretId=secret)["SecretString"]
        except Exception as err:  # noqa: BLE001 - one log line naming the secret (never a value), then 500
            print(json.dumps({"error": "master key unreadable", "secret": secret, "reason": type(err).__name__}))
            raise
        _cached = (now, value)
    return _cached[1]


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    token = bearer_token(event.get("headers"))
    if token is None:
        raise Unauthorized()
    return {
        # The key is the principal for API Gateway's own bookkeeping; logs use context.identity.apiKeyId.
        "principalId": "consumer",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage_wide_resource(event["methodArn"])}],
        },
        "usageIdentifierKey": token,
        "context": {"bearer": f"Bearer {master_key()}"},
    }
