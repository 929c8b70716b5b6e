"""The contract between the gateway's front (the process that owns the engine port), the edges in front
of it (API Gateway, APIM, the GCP load balancer) and the alarms that read what it records.

Why a front: LiteLLM costs 10–14 ms of Python before a stream's first byte and ~0.7 ms per chunk, and
its DB-less mode has no per-consumer grants. The front is a small asyncio server in the engine's
container that (1) enforces each consumer's grant before anything behind it is called, (2) streams
self-hosted routes straight from the model server (bytes through, no per-chunk parsing), (3) hands
provider routes — and a self-hosted route's fallback — to LiteLLM on loopback, which it boots with a
master key generated per boot that never leaves the container, and (4) records who served each request.

Pure data, no imports of Pulumi or a cloud SDK: the front's source, the three cloud shells, the alarms
and their tests read these names from here, so both sides of every boundary use one spelling.
"""

from __future__ import annotations

from typing import Final

# --- ports ---------------------------------------------------------------------------------------

FRONT_PORT: Final = 4000
"""The engine port every cloud's edge, probe and load balancer targets: the front listens here."""

LITELLM_LOOPBACK_PORT: Final = 4001
"""LiteLLM's port, on 127.0.0.1 only: the front is its one client."""

# --- identity ------------------------------------------------------------------------------------

CONSUMER_HEADER: Final = "x-pulumi-llm-consumer"
"""Set by the edge (AWS, Azure) to the consumer's name; honoured only with a valid edge key, and always
removed before a request goes further."""

IDENTITY_EDGE: Final = "edge"
"""The edge authenticated the consumer: the request carries ``Authorization: Bearer <edge key>`` (the
``litellm-master`` secret's current or previous value) and ``CONSUMER_HEADER``. AWS and Azure."""

IDENTITY_KEYS: Final = "keys"
"""The front authenticates consumers itself: ``Authorization: Bearer <consumer key>``, each consumer's
key a secret in the store, mounted as a file. GCP."""

IDENTITY_MODES: Final = (IDENTITY_EDGE, IDENTITY_KEYS)

EDGE_KEY_ENV: Final = "PULUMI_LLM_EDGE_KEY"
"""Mode ``edge``: the environment variable the shell injects the ``litellm-master`` secret's current value
as. The front accepts it as the edge key; LiteLLM (on loopback) never sees it."""

EDGE_KEY_PREVIOUS_ENV: Final = "PULUMI_LLM_EDGE_KEY_PREVIOUS"
"""Mode ``edge``, optional: the secret's previous value (AWS: the ``AWSPREVIOUS`` version stage), accepted
too, so an edge that still caches it during a rotation meets no 401."""

# --- routes --------------------------------------------------------------------------------------

INFERENCE_ROUTES: Final = (
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
)
"""The only (method, path) pairs a consumer can reach, at every edge and at the front. Nothing else
(LiteLLM's admin, key, pass-through and health routes) exists for a client."""

METRICS_PATH: Final = "/metrics"
"""Prometheus text (``PROM_REQUESTS``) on the front's own port; no edge routes it."""

LIVENESS_PATH: Final = "/health/liveliness"
READINESS_PATH: Final = "/health/readiness"
"""Answered by the front for the platform's probes (readiness: LiteLLM behind it is ready); no edge
routes them."""

# --- who served it -------------------------------------------------------------------------------

SERVED_BY_HEADER: Final = "x-pulumi-llm-served-by"
"""On every response the front sends: ``SELF_HOSTED``, ``PROVIDER`` or ``NONE`` (refused or failed)."""

FALLBACK_HEADER: Final = "x-pulumi-llm-fallback"
"""``true`` when the request was served by a fallback of the group the client asked for, else ``false``."""

SELF_HOSTED: Final = "self-hosted"
PROVIDER: Final = "provider"
NONE: Final = "none"
SERVED_CLASSES: Final = (SELF_HOSTED, PROVIDER, NONE)

REQUEST_LOG_MARK: Final = "pulumi_llm_request"
"""Key present (value 1) in the one JSON log line the front writes per request, on stdout. The line
holds only the fields below — never a prompt, a completion or a key."""

LOG_FIELDS: Final = (
    "route",  # the model group the client asked for
    "consumer",  # the consumer's name
    "served_by",  # one of SERVED_CLASSES
    "deployment",  # "<group>/<route name>" that served it — or, when every candidate said 429, the last of them;
    # "" when the front answered itself (refusals before routing) or no backend answered at all
    "fallback",  # bool
    "status",  # HTTP status sent to the client
    "ttft_ms",  # time to the first byte of the body sent to the client
    "prompt_tokens",
    "completion_tokens",
)

# CloudWatch Embedded Metric Format: the same line carries an ``_aws`` block so CloudWatch Logs turns
# it into metrics with no agent (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
METRIC_NAMESPACE: Final = "pulumi-llm/gateway"
METRIC_DIMENSIONS: Final = ("stack", "route")
METRIC_REQUESTS: Final = "Requests"  # 1 per request that reached a backend or was refused for capacity
# (served_by not none, or a 5xx, or a deployment named: the backends' own 429) — never the front's own refusals
METRIC_FALLBACKS: Final = "FallbackRequests"  # 1 when served by a fallback (or a provider on a hybrid route)
METRIC_SELF_HOSTED_OK: Final = "SelfHostedSuccesses"  # 1 when a self-hosted deployment answered 2xx

# Prometheus, on the front's own ``/metrics`` (not routed by any edge).
PROM_REQUESTS: Final = "pulumi_llm_gateway_requests_total"
"""Counter, labels ``route``, ``served_by``, ``fallback`` (``true``/``false``), ``code`` (status class ``2xx``…)."""

# --- fallback alarms (issue 20) -------------------------------------------------------------------

ALARM_FALLBACK_SHARE: Final = "fallback-share"
"""Alarm kind: the share of a hybrid route's requests served by a fallback is above its threshold."""

ALARM_SELF_HOSTED_SILENT: Final = "self-hosted-silent"
"""Alarm kind: requests arrive on a hybrid route but no self-hosted deployment answered 2xx."""

ALARM_KINDS: Final = (ALARM_FALLBACK_SHARE, ALARM_SELF_HOSTED_SILENT)
"""Every cloud names a hybrid route's alarm resources ``<component name>-<kind>-<group>``, so ``verify``
finds them the same way on AWS, GCP and Azure."""

DEFAULT_FALLBACK_SHARE_PERCENT: Final = 5.0
DEFAULT_FALLBACK_WINDOW_MINUTES: Final = 10
"""Defaults of ``gateway.models.<group>.fallback_alert`` (share above 5 % over 10 minutes; the silent
alarm uses the same window)."""
