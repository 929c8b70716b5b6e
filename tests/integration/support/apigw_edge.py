"""A stand-in for the AWS edge of the gateway, on 127.0.0.1: what API Gateway does with a request on the REST
API AwsGateway builds, in the order API Gateway does it.

1. The resources: only the methods ``gateway.aws_edge.decide_edge_routes`` gives the component (the stage is
   the path's first segment, ``/v1``). Any other path or verb is API Gateway's own 403 — "Missing
   Authentication Token", or, when the request carries an ``Authorization`` header, the IAM-signature
   complaint API Gateway gives then — and nothing behind it runs
   (https://repost.aws/knowledge-center/api-gateway-authentication-token-errors).
2. Identity source ``method.request.header.Authorization`` missing → 401, the authorizer never runs.
3. The REAL authorizer (``pulumi_llm.gateway.aws_authorizer.handler``) runs, its Secrets Manager and GetApiKey
   played by ``EdgeSecret`` and ``ApiKeys``; "Unauthorized" → 401, a Deny policy → 403. Its answer is cached
   per ``Authorization`` value for the authorizer TTL (``cache_seconds``), as API Gateway does.
4. ``api_key_source = AUTHORIZER``: its ``usageIdentifierKey`` must be a key of a usage plan → else 403; the
   plan's daily quota and token bucket apply → 429 ("Limit Exceeded" / "Too Many Requests").
5. The integration request: the client's request with the headers mapped by
   ``integration_request_parameters`` (the very dict the component puts on each Integration), evaluated
   against the authorizer context, sent to the route's front path; then streamed back (STREAM) as it arrives.

Every refusal of the edge's own is answered with the gateway response the component sets for its type
(``aws_edge.decide_edge_refusals`` over the plans' rates, as AwsGateway calls it over its consumers'):
its status and headers (who served: none; ``Retry-After`` on THROTTLED and QUOTA_EXCEEDED).

What it does not model (API Gateway's own, tested by AWS): WAF, TLS, the stage-wide throttle.
``forwarded`` lists (method, path, headers) that reached the front; ``refused`` (status, path) the edge answered.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

from pulumi_llm.gateway import aws_authorizer
from pulumi_llm.gateway.aws import consumer_key_ids
from pulumi_llm.gateway.aws_edge import (
    AUTHORIZER_CACHE_SECONDS,
    OPENAI_BASE,
    EdgeRefusal,
    decide_edge_refusals,
    decide_edge_routes,
    integration_request_parameters,
)

from .edge_relay import HOP_BY_HOP, EdgeHandler, EdgeServer, relay

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pulumi-llm/itest/litellm-master-AbCdEf"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:itestapi/v1/{method}{path}"


class _NotFound(Exception):
    """What botocore raises for a missing version stage or key: the code in ``response``."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.response = {"Error": {"Code": "ResourceNotFoundException", "Message": what}}


class EdgeSecret:
    """Plays Secrets Manager's ``litellm-master`` for the authorizer: AWSCURRENT (with its CreatedDate) and
    AWSPREVIOUS, which ``rotate`` moves like ``PutSecretValue`` does."""

    def __init__(self, current: str, *, previous: str | None = None, created: float | None = None) -> None:
        self.current, self.previous = current, previous
        self.created = time.time() if created is None else created

    def rotate(self, value: str, *, created: float | None = None) -> None:
        self.previous, self.current = self.current, value
        self.created = time.time() if created is None else created

    def get_secret_value(self, *, SecretId: str, VersionStage: str = "AWSCURRENT") -> dict[str, Any]:  # noqa: N803 - boto3's spelling
        if VersionStage == "AWSPREVIOUS":
            if self.previous is None:
                raise _NotFound("no AWSPREVIOUS")
            return {"SecretString": self.previous, "VersionStages": ["AWSPREVIOUS"]}
        created = datetime.datetime.fromtimestamp(self.created, tz=datetime.UTC)
        return {"SecretString": self.current, "VersionStages": ["AWSCURRENT"], "CreatedDate": created}


@dataclass
class UsagePlan:
    """A consumer's usage plan: a daily request quota and a token bucket (rate per second, burst)."""

    quota_per_day: int | None = None
    rate_per_second: float = 100.0
    burst: int = 200
    used: int = 0
    tokens: float = -1.0
    refilled: float = field(default_factory=time.monotonic)

    def admit(self) -> str | None:
        """None, or the 429 message API Gateway gives."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = float(self.burst)
        self.tokens = min(float(self.burst), self.tokens + (now - self.refilled) * self.rate_per_second)
        self.refilled = now
        if self.quota_per_day is not None and self.used >= self.quota_per_day:
            return "Limit Exceeded"
        if self.tokens < 1:
            return "Too Many Requests"
        self.tokens -= 1
        self.used += 1
        return None


class ApiKeys:
    """Plays GetApiKey for the authorizer, and holds each key's usage plan: key id → (value, consumer, plan)."""

    def __init__(self, keys: Mapping[str, tuple[str, str, UsagePlan]]) -> None:
        self.keys = dict(keys)

    def get_api_key(self, *, apiKey: str, includeValue: bool = False) -> dict[str, Any]:  # noqa: N803 - boto3's spelling
        if apiKey not in self.keys:
            raise _NotFound(apiKey)
        return {"id": apiKey, "enabled": True, **({"value": self.keys[apiKey][0]} if includeValue else {})}

    def plan_of(self, value: str) -> UsagePlan | None:
        return next((plan for v, _, plan in self.keys.values() if v == value), None)


class ApiGatewayEdge(EdgeServer):
    def __init__(self, front_url: str, keys: ApiKeys, secret: EdgeSecret, *, cache_seconds: float = AUTHORIZER_CACHE_SECONDS) -> None:
        self.front = urlsplit(front_url)
        rates = [plan.rate_per_second for _, _, plan in keys.keys.values()]
        self.gateway_responses: dict[str, EdgeRefusal] = {r.response_type: r for r in decide_edge_refusals(rates)}
        self.keys = keys
        self.secret = secret
        self.cache_seconds = cache_seconds
        self.routes = {(r.method, OPENAI_BASE + r.resource_path): r for r in decide_edge_routes()}
        self.mapping = integration_request_parameters()
        self.forwarded: list[tuple[str, str, dict[str, str]]] = []
        self.refused: list[tuple[int, str]] = []
        self._answers: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._listen(self._handler())

    def __enter__(self) -> ApiGatewayEdge:
        self._saved = {k: os.environ.get(k) for k in ("MASTER_KEY_SECRET_ARN", "CONSUMER_KEY_IDS", "EDGE_KEY_CACHE_SECONDS")}
        os.environ["MASTER_KEY_SECRET_ARN"] = SECRET_ARN
        os.environ["CONSUMER_KEY_IDS"] = consumer_key_ids({i: c for i, (_, c, _) in self.keys.keys.items()})
        os.environ["EDGE_KEY_CACHE_SECONDS"] = "0"  # the function's own cache: flush_authorizer() plays its expiry
        aws_authorizer._clients.update({"secretsmanager": self.secret, "apigateway": self.keys})
        self.flush_authorizer()
        return super().__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        super().__exit__(exc_type, exc, tb)
        aws_authorizer._clients.clear()
        self.flush_authorizer()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def flush_authorizer(self) -> None:
        """Forget every cached answer and the function's cached state (a cold start, or the TTL over)."""
        with self._lock:
            self._answers.clear()
            aws_authorizer._cached_key = None
            aws_authorizer._consumers_by_digest = None

    def authorize(self, authorization: str, method: str, path: str) -> dict[str, Any]:
        """The authorizer's answer for this ``Authorization`` value, from API Gateway's cache while fresh."""
        with self._lock:
            cached = self._answers.get(authorization)
            if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
            event = {
                "type": "REQUEST",
                "methodArn": METHOD_ARN.format(method=method, path=path),
                "headers": {"Authorization": authorization},
            }
            answer = aws_authorizer.handler(event)
            self._answers[authorization] = (time.monotonic(), answer)
            return answer

    def integration_headers(self, client_headers: Mapping[str, str], context: Mapping[str, str]) -> dict[str, str]:
        headers = {k: v for k, v in client_headers.items() if k.lower() not in HOP_BY_HOP}
        for target, source in self.mapping.items():
            name = target.removeprefix("integration.request.header.")
            if not source.startswith("context.authorizer."):
                raise AssertionError(f"the edge stand-in does not know {source}")
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = context[source.removeprefix("context.authorizer.")]
        return headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        edge = self

        class Handler(EdgeHandler):
            def _refuse(self, status: int, message: str, response_type: str = "DEFAULT_4XX") -> None:
                edge.refused.append((status, self.path))
                body = json.dumps({"message": message}, separators=(",", ":")).encode()
                refusal = edge.gateway_responses.get(response_type) or edge.gateway_responses.get("DEFAULT_4XX")
                headers = [*(refusal.headers if refusal is not None else ()), ("Content-Type", "application/json")]
                self.answer(refusal.status if refusal is not None and refusal.status else status, body, headers)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                client_headers = dict(self.headers.items())
                authorization = next((v for k, v in client_headers.items() if k.lower() == "authorization"), "")
                path = urlsplit(self.path).path
                route = edge.routes.get((self.command, path))
                if route is None:
                    if authorization:
                        return self._refuse(
                            403, f"'{authorization}' not a valid key=value pair (missing equal-sign) in Authorization header"
                        )
                    return self._refuse(403, "Missing Authentication Token", "MISSING_AUTHENTICATION_TOKEN")
                if not authorization:
                    return self._refuse(401, "Unauthorized", "UNAUTHORIZED")
                try:
                    answer = edge.authorize(authorization, self.command, route.resource_path)
                except aws_authorizer.Unauthorized:
                    return self._refuse(401, "Unauthorized", "UNAUTHORIZED")
                if answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
                    return self._refuse(403, "User is not authorized to access this resource with an explicit deny", "ACCESS_DENIED")
                plan = edge.keys.plan_of(answer["usageIdentifierKey"])
                if plan is None:
                    return self._refuse(403, "Forbidden", "INVALID_API_KEY")
                limited = plan.admit()
                if limited is not None:
                    return self._refuse(429, limited, "QUOTA_EXCEEDED" if limited == "Limit Exceeded" else "THROTTLED")
                headers = edge.integration_headers(client_headers, answer["context"])
                edge.forwarded.append((self.command, route.front_path, headers))
                upstream = http.client.HTTPConnection(cast(str, edge.front.hostname), edge.front.port, timeout=120)
                upstream.request(route.method, route.front_path, body=body, headers=headers)
                relay(self, upstream.getresponse())
                upstream.close()

            do_POST = _serve  # noqa: N815 - http.server's spelling
            do_GET = _serve  # noqa: N815
            do_PUT = _serve  # noqa: N815
            do_DELETE = _serve  # noqa: N815
            do_PATCH = _serve  # noqa: N815

        return Handler
