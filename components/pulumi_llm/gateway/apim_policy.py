"""Pure rendering of the Azure API Management policies of AzureGateway.

Two kinds of policy documents, built with ElementTree (so every policy expression is XML-escaped
correctly) and returned as text for `format="xml"`:

* `api_policy` — one per API. Emits token metrics (`llm-emit-token-metric`: subscription, model,
  backend), strips caller credentials, authenticates to the backend (Azure OpenAI: the gateway's
  managed identity, `authentication-managed-identity resource="https://cognitiveservices.azure.com"`,
  never a key; the LiteLLM engine: its master key from a Key Vault-backed named value), routes to the
  backend or backend pool (`set-backend-service`), and forwards with `buffer-response="false"` so
  server-sent events stream token by token. Against a pool it retries 429 and 5xx answers on another
  member; the retry only happens on a status code, so before any byte has reached the client.
* `product_policy` — one per consumer product: `llm-token-limit` keyed by the subscription
  (tokens per minute, optionally a token quota per period), with `estimate-prompt-tokens` so an over-limit
  request is refused before it reaches a backend.

Facts the renderer relies on (learn.microsoft.com/azure/api-management):
* forward-request `timeout` is the wait for the backend's response HEADERS (default 300 s); values above
  240 s may not be honoured because idle connections are dropped; the streamed body is not bound by it.
* llm-token-limit exists in Developer, Basic, Basic v2, Standard, Standard v2, Premium and Premium v2,
  not in Consumption.
* llm-emit-token-metric allows at most 5 custom dimensions next to APIM's defaults; "Subscription ID" is
  a default dimension (no value needed).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Literal

COGNITIVE_SERVICES_RESOURCE = "https://cognitiveservices.azure.com"
METRIC_NAMESPACE = "pulumi-llm"
MODEL_VARIABLE = "llm-model"
MAX_FORWARD_TIMEOUT_SECONDS = 240
"""Above this APIM may not honour a forward-request timeout (the network drops idle connections)."""
SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"
TOKEN_QUOTA_PERIODS = ("Hourly", "Daily", "Weekly", "Monthly", "Yearly")
# Caller-supplied credentials that must never travel on to a backend: the consumer's APIM key and any
# provider key a client might send along.
STRIPPED_HEADERS = (SUBSCRIPTION_KEY_HEADER, "api-key")

# The model a request is for: the deployment in an Azure OpenAI path, else the body's "model" (OpenAI
# style), cut to 64 characters to keep the metric's series count bounded.
MODEL_EXPRESSION = (
    "@{"
    'if (context.Request.Method != "POST") { return "none"; } '
    'var match = System.Text.RegularExpressions.Regex.Match(context.Request.OriginalUrl.Path, "/deployments/([^/]+)/"); '
    "if (match.Success) { return match.Groups[1].Value; } "
    "var body = context.Request.Body?.As<JObject>(preserveContent: true); "
    'var model = body?["model"]?.ToString() ?? "unknown"; '
    "return model.Length > 64 ? model.Substring(0, 64) : model;"
    "}"
)

Auth = Literal["managed-identity", "named-value"]


def _sections(root: ET.Element) -> tuple[ET.Element, ET.Element, ET.Element, ET.Element]:
    return tuple(ET.SubElement(root, name) for name in ("inbound", "backend", "outbound", "on-error"))  # type: ignore[return-value]


def _text(root: ET.Element) -> str:
    ET.indent(root, space="    ")
    return ET.tostring(root, encoding="unicode")


def forward_request(timeout_seconds: int, *, buffer_request_body: bool) -> ET.Element:
    """`forward-request` that streams: the response is passed on as it arrives, never buffered."""
    if not 1 <= timeout_seconds <= MAX_FORWARD_TIMEOUT_SECONDS:
        raise ValueError(f"forward timeout {timeout_seconds}: allowed 1 to {MAX_FORWARD_TIMEOUT_SECONDS} seconds")
    element = ET.Element("forward-request")
    element.set("timeout", str(timeout_seconds))
    element.set("buffer-request-body", "true" if buffer_request_body else "false")
    element.set("buffer-response", "false")
    element.set("fail-on-error-status-code", "false")
    return element


def api_policy(
    *,
    backend_id: str,
    backend_label: str,
    auth: Auth,
    forward_timeout_seconds: int,
    retries: int = 0,
    master_key_named_value: str | None = None,
    consumer_header: str | None = None,
    metric_namespace: str = METRIC_NAMESPACE,
) -> str:
    """The policy of one API: metrics, credentials, backend (pool), streaming forward.

    `retries` > 0 (a pool): retry 429 and 5xx answers, each retry picking a pool member again
    (the circuit breaker has taken the failing one out, honouring its Retry-After). The request body is
    buffered so it can be sent again; the response never is.

    `consumer_header`: set it to the caller's subscription id (= the consumer's name), replacing any copy
    the client sent, so the engine records the consumer as the end user (gateway.config's
    `user_header_mappings`).
    """
    if auth == "named-value" and not master_key_named_value:
        raise ValueError("auth named-value needs master_key_named_value")
    if auth == "managed-identity" and master_key_named_value:
        raise ValueError("auth managed-identity takes no named value")
    if retries < 0:
        raise ValueError("retries must be >= 0")
    root = ET.Element("policies")
    inbound, backend, outbound, on_error = _sections(root)
    ET.SubElement(inbound, "base")
    ET.SubElement(inbound, "set-variable", {"name": MODEL_VARIABLE, "value": MODEL_EXPRESSION})
    metric = ET.SubElement(inbound, "llm-emit-token-metric", {"namespace": metric_namespace})
    ET.SubElement(metric, "dimension", {"name": "Subscription ID"})
    ET.SubElement(metric, "dimension", {"name": "Model", "value": f'@((string)context.Variables["{MODEL_VARIABLE}"])'})
    ET.SubElement(metric, "dimension", {"name": "Backend", "value": backend_label})
    for header in STRIPPED_HEADERS:
        ET.SubElement(inbound, "set-header", {"name": header, "exists-action": "delete"})
    if auth == "managed-identity":
        # A token for Azure OpenAI minted from the gateway's system-assigned identity (sets Authorization).
        ET.SubElement(inbound, "authentication-managed-identity", {"resource": COGNITIVE_SERVICES_RESOURCE})
    else:
        authorization = ET.SubElement(inbound, "set-header", {"name": "Authorization", "exists-action": "override"})
        ET.SubElement(authorization, "value").text = f"Bearer {{{{{master_key_named_value}}}}}"
    if consumer_header:
        consumer = ET.SubElement(inbound, "set-header", {"name": consumer_header, "exists-action": "override"})
        ET.SubElement(consumer, "value").text = '@(context.Subscription?.Id ?? "anonymous")'
    ET.SubElement(inbound, "set-backend-service", {"backend-id": backend_id})

    if retries:
        retry = ET.SubElement(
            backend,
            "retry",
            {
                "condition": "@(context.Response.StatusCode == 429 || context.Response.StatusCode >= 500)",
                "count": str(retries),
                "interval": "0",
                "first-fast-retry": "true",
            },
        )
        retry.append(forward_request(forward_timeout_seconds, buffer_request_body=True))
    else:
        backend.append(forward_request(forward_timeout_seconds, buffer_request_body=False))
    ET.SubElement(outbound, "base")
    ET.SubElement(on_error, "base")
    return _text(root)


def product_policy(
    *,
    tokens_per_minute: int,
    token_quota: int | None = None,
    token_quota_period: str | None = None,
) -> str:
    """The policy of one consumer product: a token limit per subscription (the consumer's key)."""
    if tokens_per_minute < 1:
        raise ValueError("tokens_per_minute must be >= 1")
    if (token_quota is None) != (token_quota_period is None):
        raise ValueError("token_quota and token_quota_period go together")
    if token_quota_period is not None and token_quota_period not in TOKEN_QUOTA_PERIODS:
        raise ValueError(f"token_quota_period {token_quota_period!r}: allowed {', '.join(TOKEN_QUOTA_PERIODS)}")
    root = ET.Element("policies")
    inbound, backend, outbound, on_error = _sections(root)
    ET.SubElement(inbound, "base")
    limit = {
        "counter-key": "@(context.Subscription.Id)",
        "tokens-per-minute": str(tokens_per_minute),
        "estimate-prompt-tokens": "true",
        "remaining-tokens-header-name": "x-ratelimit-remaining-tokens",
        "tokens-consumed-header-name": "x-ratelimit-consumed-tokens",
    }
    if token_quota is not None:
        limit["token-quota"] = str(token_quota)
        limit["token-quota-period"] = str(token_quota_period)
        limit["remaining-quota-tokens-header-name"] = "x-quota-remaining-tokens"
    ET.SubElement(inbound, "llm-token-limit", limit)
    ET.SubElement(backend, "base")
    ET.SubElement(outbound, "base")
    ET.SubElement(on_error, "base")
    return _text(root)


def named_values_in(policy: str) -> list[str]:
    """The `{{named-value}}` references of a policy, in order of appearance."""
    return re.findall(r"\{\{([A-Za-z0-9._-]+)\}\}", policy)


def backend_ids_in(policy: str) -> Sequence[str]:
    """The backends a policy routes to."""
    root = ET.fromstring(policy)
    return [element.get("backend-id", "") for element in root.iter("set-backend-service")]
