"""The gateway's API Gateway REQUEST authorizer (runs in Lambda, python3.13; boto3 comes with it).

What it does for each consumer key (API Gateway caches the answer per ``Authorization`` value):

1. **Who is calling.** The consumer's ``Authorization: Bearer <API key>`` is matched against the stack's
   own API keys, whose ids (not values) the function gets in ``CONSUMER_KEY_IDS`` ({key id: consumer}).
   API Gateway hands an authorizer the key only, never its id or usage plan, so the function reads each
   of those keys once (``apigateway:GET`` on exactly those key ARNs, ``includeValue``) and keeps only the
   SHA-256 of each value in memory. A key that is none of them gets a Deny: 403, nothing behind runs.
2. **The usage plan.** The same key goes back as ``usageIdentifierKey`` (``api_key_source = AUTHORIZER``):
   API Gateway applies that consumer's quota and throttle (429 over them).
3. **What the front gets.** ``context.consumer`` (the consumer's name → the ``x-pulumi-llm-consumer``
   header) and ``context.bearer`` (``Bearer <edge key>`` → the ``Authorization`` header): the value of
   the ``litellm-master`` secret, which the front accepts as the edge's key and which is no key of
   LiteLLM's (the front boots LiteLLM with a key of its own). No client ever holds it; it lives in this
   function's memory and API Gateway's authorizer cache only — never in Pulumi state, the stack file,
   the task definition or a log line. The consumer's own key never reaches the front.

Rotation of the edge key without a 401 window (``gateway.aws_edge`` has the numbers): a task accepts the
value current when it started (ECS injects it) and the one before (its boot reads ``AWSPREVIOUS``). Tasks
running at a ``secrets put litellm-master`` know only the old value, so the function keeps sending the
previous value until the current one is ``EDGE_KEY_SWITCH_SECONDS`` old — time for the redeploy the
rotation triggers to replace them — and re-chooses every ``EDGE_KEY_CACHE_SECONDS``; API Gateway keeps an
answer for the authorizer TTL on top. Rotations must be ``MIN_ROTATION_SPACING_SECONDS`` apart.

A request without a bearer never reaches this function (the identity source is required: API Gateway
answers 401); a bearer that is not ``Bearer <one token>`` is "Unauthorized" (401) too.

This file is the Lambda's whole source (``index.py``); the tests import and run it as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from typing import Any, cast

DEFAULT_EDGE_KEY_CACHE_SECONDS = 60
DEFAULT_EDGE_KEY_SWITCH_SECONDS = 900
_clients: dict[str, Any] = {}
_cached_key: tuple[float, str] | None = None
_consumers_by_digest: dict[str, str] | None = None


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


def digest(value: str) -> str:
    """What the function keeps of a key value: its SHA-256 (hex)."""
    return hashlib.sha256(value.encode()).hexdigest()


def _client(service: str) -> Any:
    if service not in _clients:
        import boto3  # pyright: ignore[reportMissingTypeStubs] - boto3 ships no type stubs

        # Any: boto3 builds its clients at run time, so there is no type to give.
        _clients[service] = cast(Any, boto3.client(service))  # pyright: ignore[reportUnknownMemberType] - no stubs
    return _clients[service]


def _not_found(err: Exception) -> bool:
    response: Any = getattr(err, "response", None)
    return isinstance(response, dict) and cast(dict[str, Any], response).get("Error", {}).get("Code") == "ResourceNotFoundException"


def choose_edge_key(current: str, created: float | None, previous: str | None, *, now: float, switch_seconds: int) -> str:
    """The value to send: the current one once it is ``switch_seconds`` old (or when there is no previous
    one, or its age is unknown), else the previous one — the tasks that were running at the rotation know
    only that, and the redeploy replaces them within the switch period."""
    if previous is None or created is None or now - created >= switch_seconds:
        return current
    return previous


def edge_key(now: float | None = None, wall: float | None = None) -> str:
    """The edge key to send (``choose_edge_key`` over the ``litellm-master`` secret's ``AWSCURRENT`` and
    ``AWSPREVIOUS``), chosen at most once per cache period. `now`: monotonic seconds; `wall`: epoch seconds."""
    global _cached_key
    now = time.monotonic() if now is None else now
    ttl = int(os.environ.get("EDGE_KEY_CACHE_SECONDS", DEFAULT_EDGE_KEY_CACHE_SECONDS))
    if _cached_key is None or now - _cached_key[0] >= ttl:
        secret = os.environ["MASTER_KEY_SECRET_ARN"]
        switch = int(os.environ.get("EDGE_KEY_SWITCH_SECONDS", DEFAULT_EDGE_KEY_SWITCH_SECONDS))
        client = _client("secretsmanager")
        try:
            current = client.get_secret_value(SecretId=secret)
            created: Any = current.get("CreatedDate")
            age_from = created.timestamp() if hasattr(created, "timestamp") else None
            previous: str | None = None
            if age_from is not None and (time.time() if wall is None else wall) - age_from < switch:
                try:
                    previous = client.get_secret_value(SecretId=secret, VersionStage="AWSPREVIOUS")["SecretString"]
                except Exception as err:  # noqa: BLE001 - no previous version yet: the current one it is
                    if not _not_found(err):
                        raise
        except Exception as err:  # noqa: BLE001 - one log line naming the secret (never a value), then 500
            print(json.dumps({"error": "edge key unreadable", "secret": secret, "reason": type(err).__name__}))
            raise
        value = choose_edge_key(
            current["SecretString"], age_from, previous, now=time.time() if wall is None else wall, switch_seconds=switch
        )
        _cached_key = (now, value)
    return _cached_key[1]


def consumer_of(token: str) -> str | None:
    """The consumer whose API key `token` is, or None. The stack's keys are read on first use and kept
    (as digests) for the life of the function: an AWS-generated key's value never changes, and a new
    consumer changes ``CONSUMER_KEY_IDS``, which starts new Lambda environments."""
    global _consumers_by_digest
    if _consumers_by_digest is None:
        ids = cast(dict[str, str], json.loads(os.environ["CONSUMER_KEY_IDS"]))
        loaded: dict[str, str] = {}
        for key_id, consumer in sorted(ids.items()):
            try:
                answer = _client("apigateway").get_api_key(apiKey=key_id, includeValue=True)
            except Exception as err:  # noqa: BLE001 - one log line naming the key id (never a value), then 500
                print(json.dumps({"error": "consumer key unreadable", "key_id": key_id, "reason": type(err).__name__}))
                raise
            loaded[digest(answer["value"])] = consumer
        _consumers_by_digest = loaded
    return _consumers_by_digest.get(digest(token))


def _policy(effect: str, method_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": stage_wide_resource(method_arn)}],
    }


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    token = bearer_token(event.get("headers"))
    if token is None:
        raise Unauthorized()
    consumer = consumer_of(token)
    if consumer is None:
        # Not one of this stack's consumer keys (the edge key itself included): 403, cached for the TTL.
        return {"principalId": "unknown", "policyDocument": _policy("Deny", event["methodArn"])}
    return {
        "principalId": consumer,
        "policyDocument": _policy("Allow", event["methodArn"]),
        "usageIdentifierKey": token,
        "context": {"consumer": consumer, "bearer": f"Bearer {edge_key()}"},
    }
