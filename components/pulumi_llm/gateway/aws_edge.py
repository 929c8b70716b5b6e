"""What AwsGateway's API Gateway edge exposes and records, as plain data: the only routes a consumer can
reach, what each route's integration sends the front, and the fallback alarms of each hybrid route.

Pure (no Pulumi, no cloud SDK), so the component, the edge's stand-in in the integration tests and the
alarm evaluation test read one definition.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import front_contract as contract

OPENAI_BASE = "/v1"
"""The OpenAI base path every front route starts with. The stage is that `/v1` for clients: they use
the invoke URL (`…/<stage>`, `v1` by default) as their OpenAI `base_url`, so the edge's resources are
the front's paths without it (`/chat/completions`), and each integration calls the front's full path."""

EDGE_KEY_CACHE_SECONDS = 60
"""How long the authorizer function keeps the edge key it chose (``EDGE_KEY_CACHE_SECONDS`` in its env)."""
AUTHORIZER_CACHE_SECONDS = 300
"""How long API Gateway keeps an authorizer answer per ``Authorization`` value (the authorizer TTL)."""
EDGE_KEY_SWITCH_SECONDS = 900
"""After ``secrets put litellm-master``, the authorizer keeps sending the previous value for this long
(``EDGE_KEY_SWITCH_SECONDS`` in its env): the tasks running at the rotation know only the old value (ECS
injects a secret when a task starts), and the redeploy the rotation triggers (CloudTrail → EventBridge →
``update-service --force-new-deployment``, a few minutes) replaces them with tasks that accept both."""
EDGE_KEY_MAX_AGE_SECONDS = EDGE_KEY_CACHE_SECONDS + AUTHORIZER_CACHE_SECONDS
"""Longest an authorizer answer outlives the key choice it was made with: the function chose just before
a switch and cached that, then API Gateway cached an answer made at the end of that period."""
MIN_ROTATION_SPACING_SECONDS = EDGE_KEY_SWITCH_SECONDS + EDGE_KEY_MAX_AGE_SECONDS
"""Two rotations of the edge key at least this far apart (21 minutes) never leave a request with a key
its task refuses: a task accepts the value current at its start and the one before (``AWSPREVIOUS``), and
the authorizer stops sending a value at most this long after it became the previous one."""


@dataclass(frozen=True)
class EdgeRoute:
    """One method of the REST API: what a client calls under the stage, and the front path it reaches."""

    method: str
    """HTTP method (POST, GET)."""
    resource_path: str
    """Path under the stage, e.g. ``/chat/completions`` (what clients call after their base URL)."""
    front_path: str
    """The front's path the integration calls, e.g. ``/v1/chat/completions``."""

    @property
    def key(self) -> str:
        """Names the method and integration resources: ``post-chat-completions``."""
        return f"{self.method.lower()}-{_slug(self.resource_path)}"


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def decide_edge_routes(routes: Sequence[tuple[str, str]] = contract.INFERENCE_ROUTES) -> tuple[EdgeRoute, ...]:
    """The REST API's methods: exactly the front's inference routes, nothing else. Any other path or
    method (LiteLLM's admin, key, pass-through and health routes included) is no resource of the API, so
    API Gateway answers it itself (403 "Missing Authentication Token") and the front never sees it."""
    found: list[EdgeRoute] = []
    for method, path in routes:
        if not path.startswith(OPENAI_BASE + "/"):
            raise ValueError(f"front route {method} {path}: not under {OPENAI_BASE}/, which the stage stands for")
        found.append(EdgeRoute(method=method, resource_path=path.removeprefix(OPENAI_BASE), front_path=path))
    return tuple(found)


def resource_paths(routes: Sequence[EdgeRoute]) -> tuple[str, ...]:
    """Every REST API resource the routes need, parents before children: ``/chat`` then ``/chat/completions``."""
    paths: set[str] = set()
    for route in routes:
        parts = route.resource_path.strip("/").split("/")
        paths.update("/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
    return tuple(sorted(paths, key=lambda p: (p.count("/"), p)))


def resource_key(path: str) -> str:
    """Names a resource: ``/chat/completions`` → ``route-chat-completions``."""
    return f"route-{_slug(path)}"


def integration_request_parameters(consumer_header: str = contract.CONSUMER_HEADER) -> dict[str, str]:
    """What each integration sends the front besides the client's request: the edge key in place of the
    consumer's bearer, and the consumer's name as the authorizer resolved it (a client-sent copy of
    either header is overwritten; the consumer's key never goes further)."""
    return {
        "integration.request.header.Authorization": "context.authorizer.bearer",
        f"integration.request.header.{consumer_header}": "context.authorizer.consumer",
    }


# --- fallback alarms (issue 20) ------------------------------------------------------------------


def throttle_retry_after(rates_per_second: Sequence[float]) -> int:
    """``Retry-After`` of the edge's throttle 429: a usage plan's token bucket refills ``rate_limit_rps``
    tokens a second, so the next token comes within ``1 / rate`` s. One gateway response serves every
    consumer of the API, so the slowest consumer's refill sets it (at least 1 s, whole seconds)."""
    slowest = min((r for r in rates_per_second if r > 0), default=1.0)
    return max(1, math.ceil(1 / slowest))


QUOTA_RETRY_AFTER_SECONDS = 3600
"""``Retry-After`` of the edge's quota 429 (``requests_per_day`` spent). API Gateway's ``DAY`` quota resets at
midnight UTC and a gateway response holds only static values (``$context`` has no reset time), so the
seconds to the reset are not knowable at the edge; an hour is the conservative, documented answer — a
client retrying hourly never hammers a spent quota and waits at most an hour too long."""


@dataclass(frozen=True)
class EdgeRefusal:
    """One API Gateway gateway response: what the edge answers when it refuses a request itself.

    response_type: API Gateway's type (``THROTTLED``, ``QUOTA_EXCEEDED``, …). status: the status it answers
    with (0: the type's own, for ``DEFAULT_4XX`` / ``DEFAULT_5XX``, which cover several).
    headers: header → value, static (set as ``gatewayresponse.header.<name>`` = ``'<value>'``)."""

    response_type: str
    status: int
    headers: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        """Names the ``aws.apigateway.Response`` resource: ``throttled``."""
        return _slug(self.response_type)

    def response_parameters(self) -> dict[str, str]:
        """The ``responseParameters`` API Gateway takes: static values in single quotes."""
        return {f"gatewayresponse.header.{name}": f"'{value}'" for name, value in self.headers}


def decide_edge_refusals(rates_per_second: Sequence[float] = ()) -> tuple[EdgeRefusal, ...]:
    """The gateway responses AwsGateway sets: every refusal the edge makes itself says who served it
    (``none``, no fallback) like the front's own, and the two 429s carry ``Retry-After`` (API Gateway's
    defaults carry neither). Types and statuses: AWS, *Gateway response types for API Gateway*
    (THROTTLED 429, QUOTA_EXCEEDED 429, ACCESS_DENIED 403, MISSING_AUTHENTICATION_TOKEN 403,
    UNAUTHORIZED 401, INVALID_API_KEY 403; DEFAULT_4XX / DEFAULT_5XX cover the rest)."""
    who = ((contract.SERVED_BY_HEADER, contract.NONE), (contract.FALLBACK_HEADER, "false"))
    refusals = [
        EdgeRefusal("THROTTLED", 429, (("Retry-After", str(throttle_retry_after(rates_per_second))), *who)),
        EdgeRefusal("QUOTA_EXCEEDED", 429, (("Retry-After", str(QUOTA_RETRY_AFTER_SECONDS)), *who)),
    ]
    for response_type, status in (
        ("ACCESS_DENIED", 403),
        ("MISSING_AUTHENTICATION_TOKEN", 403),
        ("UNAUTHORIZED", 401),
        ("INVALID_API_KEY", 403),
        ("DEFAULT_4XX", 0),
        ("DEFAULT_5XX", 0),
    ):
        refusals.append(EdgeRefusal(response_type, status, who))
    return tuple(refusals)


FALLBACK_SHARE_EXPRESSION = "IF(requests > 0, 100 * FILL(fallbacks, 0) / requests, 0)"
"""Percent of a route's requests served by a fallback in the window (0 without requests, never a division
by zero). CloudWatch metric math: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html"""
SELF_HOSTED_SILENT_EXPRESSION = "IF(requests > 0 AND FILL(successes, 0) == 0, 1, 0)"
"""1 when requests arrived in the window and no self-hosted deployment answered one of them 2xx, else 0."""


def _sum(metric_id: str, metric: str, *, stack: str, group: str, period: int) -> dict[str, Any]:
    return {
        "id": metric_id,
        "metric": {
            "namespace": contract.METRIC_NAMESPACE,
            "metric_name": metric,
            # The front's EMF lines carry exactly these dimensions (front_contract.METRIC_DIMENSIONS).
            "dimensions": {"stack": stack, "route": group},
            "stat": "Sum",
            "period": period,
        },
        "return_data": False,
    }


def fallback_alarm_definitions(*, stack: str, group: str, share_percent: float, window_minutes: int) -> dict[str, dict[str, Any]]:
    """The two alarms of a hybrid route, by kind (front_contract.ALARM_KINDS), as `monitoring.cloudwatch`
    definitions (MetricAlarm arguments + key + title). One period of the whole window: the share and the
    silence are judged over the window, not minute by minute. No traffic is no data, and no data is not
    breaching (a quiet route is neither falling back nor silent)."""
    period = window_minutes * 60
    requests = _sum("requests", contract.METRIC_REQUESTS, stack=stack, group=group, period=period)
    share = {
        "key": f"{contract.ALARM_FALLBACK_SHARE}-{group}",
        "title": f"{group}: % of requests served by a fallback ({window_minutes} min)",
        "alarm_description": (
            f"{stack} gateway, route {group}: more than {share_percent:g}% of requests in {window_minutes} minutes were served by a "
            "fallback (the self-hosted deployment is down, failing or cooling down; prompts went to the fallback)."
        ),
        "metric_queries": [
            _sum("fallbacks", contract.METRIC_FALLBACKS, stack=stack, group=group, period=period),
            requests,
            {"id": "share", "expression": FALLBACK_SHARE_EXPRESSION, "label": "% served by a fallback", "return_data": True},
        ],
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": share_percent,
        "treat_missing_data": "notBreaching",
    }
    silent = {
        "key": f"{contract.ALARM_SELF_HOSTED_SILENT}-{group}",
        "title": f"{group}: requests with no self-hosted success ({window_minutes} min)",
        "alarm_description": (
            f"{stack} gateway, route {group}: requests arrived for {window_minutes} minutes and no self-hosted deployment "
            "answered one of them (every answer came from a fallback, or none came)."
        ),
        "metric_queries": [
            requests,
            _sum("successes", contract.METRIC_SELF_HOSTED_OK, stack=stack, group=group, period=period),
            {"id": "silent", "expression": SELF_HOSTED_SILENT_EXPRESSION, "label": "self-hosted silent", "return_data": True},
        ],
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "comparison_operator": "GreaterThanOrEqualToThreshold",
        "threshold": 1,
        "treat_missing_data": "notBreaching",
    }
    return {contract.ALARM_FALLBACK_SHARE: share, contract.ALARM_SELF_HOSTED_SILENT: silent}
