"""Pure rendering of the Azure API Management policies of AzureGateway.

Two kinds of policy documents, built with ElementTree (so every policy expression is XML-escaped
correctly) and returned as text for `format="xml"`:

* `api_policy` — one per API. Refuses a subscription key sent in the query string (before anything
  else runs: such keys end up in proxy and access logs), emits token metrics (`llm-emit-token-metric`: subscription, model,
  backend), strips caller credentials, authenticates to the backend (Azure OpenAI: the gateway's
  managed identity, `authentication-managed-identity resource="https://cognitiveservices.azure.com"`,
  never a key; the engine's front: the edge key — the `litellm-master` secret — from a Key Vault-backed
  named value, with the consumer's name in `x-pulumi-llm-consumer`), routes to the
  backend or backend pool (`set-backend-service`), and forwards with `buffer-response="false"` so
  server-sent events stream token by token. Against a pool it retries 429 and 5xx answers on another
  member; the retry only happens on a status code, so before any byte has reached the client.
* `product_policy` — one per consumer product: `rate-limit-by-key` and `quota-by-key` on requests and
  `llm-token-limit` on tokens, all keyed by the subscription (tokens per minute, optionally a token quota
  per period), with `estimate-prompt-tokens` so an over-limit request is refused before it reaches a
  backend. The front behind APIM enforces the consumer's models and max_tokens cap on `/v1`; `/openai`
  goes straight to Azure OpenAI, so there the product policy itself refuses (403, before the limits and
  the backend) a deployment the consumer is not granted (`openai_deployments`) and caps `max_tokens` /
  `max_completion_tokens` as the front does (`max_tokens_body`).

Facts the renderer relies on (learn.microsoft.com/azure/api-management):
* forward-request `timeout` is the wait for the backend's response HEADERS (default 300 s); values above
  240 s may not be honoured because idle connections are dropped; the streamed body is not bound by it.
* llm-token-limit exists in Developer, Basic, Basic v2, Standard, Standard v2, Premium and Premium v2,
  not in Consumption.
* llm-emit-token-metric allows at most 5 custom dimensions next to APIM's defaults; "Subscription ID" is
  a default dimension (no value needed).
* An API's `subscriptionKeyParameterNames` (azure-native 3.29 `SubscriptionKeyParameterNamesContract`,
  API version 2024-05-01) has a `header` and a `query` name and no way to turn the query form off: an
  absent name takes APIM's default (`Ocp-Apim-Subscription-Key` / `subscription-key`). So the query name is
  set explicitly (`QUERY_KEY_PARAMETER`) and `api_policy` refuses any request that carries it.
* APIM validates the subscription key before the API's policy runs, and `context.Subscription.Id` is the
  subscription's identifier (`sid`), which AzureGateway sets to the consumer's name.
* Scopes nest: the API policy's `<base/>` runs the product policy (learn.microsoft.com, "Set or edit
  policies", policy scopes), so a product's refusal comes before the API's metrics, credentials and backend.
* `context.Request.MatchedParameters` holds exactly the parameters of the matched operation's URL template
  ("API Management policy expressions", context variables): `deployment-id` exists only on the `/openai`
  operations, so the product policy's `/openai` rules key on it and leave `/v1` alone.
"""

from __future__ import annotations

import json
import math
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
QUERY_KEY_PARAMETER = "subscription-key"
"""APIM's query-string name for a subscription key: named on every API so the policy refuses exactly it."""
QUERY_KEY_STATUS = 401
QUERY_KEY_MESSAGE = f"subscription keys are accepted in the {SUBSCRIPTION_KEY_HEADER} header only, never in the query string"
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

CONSUMER_EXPRESSION = "@(context.Subscription.Id)"
"""The consumer's name: every API requires a subscription, whose id AzureGateway sets to the consumer."""

# True when the request's query string names the subscription-key parameter, in any letter case (APIM's own
# lookup of the parameter is case-insensitive).
QUERY_KEY_CONDITION = (
    f'@(context.Request.Url.Query.Keys.Any(k => k.Equals("{QUERY_KEY_PARAMETER}", System.StringComparison.OrdinalIgnoreCase)))'
)


DEPLOYMENT_PARAMETER = "deployment-id"
"""The `/openai` operations' URL template parameter (`/deployments/{deployment-id}/…`)."""
DEPLOYMENT_PRESENT = f'context.Request.MatchedParameters.ContainsKey("{DEPLOYMENT_PARAMETER}")'
DEPLOYMENT_VALUE = f'context.Request.MatchedParameters["{DEPLOYMENT_PARAMETER}"]'
DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""An Azure OpenAI deployment name as the policy may quote it (letters, digits, '.', '_', '-'; at most 64):
nothing in it needs escaping inside a C# string literal."""
EDGE_KEY_PRESENTED_STATUS = 403
EDGE_KEY_PRESENTED_MESSAGE = "this key is no consumer's key; requests carry the consumer's own subscription key"
"""Issue 15: "the master key presented by a client → 403". APIM checks the subscription key before any policy
runs, so the edge key sent AS the subscription key is APIM's own 401 (it is no subscription's); sent as the
``Authorization`` bearer beside a valid subscription key, the API policy recognises it (the named value it
would send itself) and answers 403 before anything counts or is forwarded."""


def edge_key_presented_condition(named_value: str) -> str:
    """True when the client's ``Authorization`` is ``Bearer <the edge key>`` (the named value, which APIM
    substitutes into the expression before it runs; the scheme compared case-insensitively)."""
    return (
        '@(context.Request.Headers.GetValueOrDefault("Authorization", "").Trim()'
        '.Equals("Bearer {{' + named_value + '}}", System.StringComparison.OrdinalIgnoreCase))'
    )


def refuse_edge_key(inbound: ET.Element, named_value: str) -> None:
    """A `choose` that answers 403 (who served: none) to a client presenting the edge key as its bearer."""
    choose = ET.SubElement(inbound, "choose")
    when = ET.SubElement(choose, "when", {"condition": edge_key_presented_condition(named_value)})
    answer = ET.SubElement(when, "return-response")
    ET.SubElement(answer, "set-status", {"code": str(EDGE_KEY_PRESENTED_STATUS), "reason": "Forbidden"})
    for name, value in {"Content-Type": "application/json", **WHO_SERVED_REFUSED}.items():
        header = ET.SubElement(answer, "set-header", {"name": name, "exists-action": "override"})
        ET.SubElement(header, "value").text = value
    body = {"error": {"message": EDGE_KEY_PRESENTED_MESSAGE, "type": "permission_error", "code": "403"}}
    ET.SubElement(answer, "set-body").text = json.dumps(body)


DEPLOYMENT_REFUSED_STATUS = 403
DEPLOYMENT_REFUSED_MESSAGE = "this Azure OpenAI deployment is not granted to this subscription's consumer"
WHO_SERVED_REFUSED = {"x-pulumi-llm-served-by": "none", "x-pulumi-llm-fallback": "false"}
SERVED_BY_PROVIDER_EXPRESSION = '@(context.Response.StatusCode == 429 || context.Response.StatusCode >= 500 ? "none" : "provider")'
"""/openai's who-served value, as the front decides it: Azure OpenAI (a provider) served any answer but a
429 or 5xx left after the pool's retries, which no deployment served. Its fallback header is ``false``:
the pool's members are one route's deployments (the front's first-order routes, never a fallback)."""
"""front_contract's who-served headers as the front sets them on its own refusals (this module stays free of
the front's imports; tests hold the names equal)."""
CAPPED_KEYS = ("max_tokens", "max_completion_tokens")
"""As grants.CAPPED_KEYS: each present one above the cap is lowered to it."""
FILLED_KEY = {"/chat/completions": "max_completion_tokens", "/completions": "max_tokens"}
"""The key set to the cap when a request names neither, by the operation's ending: straight to Azure OpenAI
there is no LiteLLM to translate, and the o-series and later chat models refuse `max_tokens` while every chat
model takes `max_completion_tokens` (OpenAI API reference, chat `max_tokens`: "not compatible with o-series
models"); the completions API knows only `max_tokens`. Embeddings have no completion: no cap."""


def deployment_refused_condition(deployments: Sequence[str]) -> str:
    """True on an `/openai` request whose `{deployment-id}` is none of `deployments` (exact, case-sensitive
    match: a variant spelling is refused, never let through). Empty `deployments`: every `/openai` request."""
    for deployment in deployments:
        if not DEPLOYMENT_ID.match(deployment):
            raise ValueError(f"deployment {deployment!r}: allowed letters, digits, '.', '_' and '-' (at most 64)")
    if not deployments:
        return f"@({DEPLOYMENT_PRESENT})"
    allowed = " || ".join(f'{DEPLOYMENT_VALUE} == "{d}"' for d in sorted(set(deployments)))
    return f"@({DEPLOYMENT_PRESENT} && !({allowed}))"


CAP_CONDITION = f'@({DEPLOYMENT_PRESENT} && !context.Operation.UrlTemplate.EndsWith("/embeddings"))'
"""Where the cap applies: the `/openai` chat and completions operations."""


def max_tokens_body(cap: int) -> str:
    """The request body with `max_tokens` / `max_completion_tokens` capped at `cap` (each present whole number
    above it lowered to it; neither present: `FILLED_KEY` set to it). A body that is not a JSON object passes
    unchanged (Azure OpenAI answers it 400 itself)."""
    if cap < 1:
        raise ValueError("max_tokens must be >= 1")
    chat, completions = (FILLED_KEY[k] for k in ("/chat/completions", "/completions"))
    return (
        "@{"
        "var text = context.Request.Body.As<string>(preserveContent: true); "
        "JObject body; "
        "try { body = JObject.Parse(text); } catch { return text; } "
        "var present = false; "
        f'foreach (var key in new[] {{ "{CAPPED_KEYS[0]}", "{CAPPED_KEYS[1]}" }}) {{ '
        "var value = body[key]; "
        "if (value != null && value.Type == JTokenType.Integer) { "
        f"present = true; if (value.Value<long>() > {cap}) {{ body[key] = {cap}; }} "
        "} "
        "} "
        "if (!present) { "
        f'body[context.Operation.UrlTemplate.EndsWith("/chat/completions") ? "{chat}" : "{completions}"] = {cap}; '
        "} "
        "return body.ToString(Newtonsoft.Json.Formatting.None);"
        "}"
    )


def refuse_deployments(inbound: ET.Element, deployments: Sequence[str]) -> None:
    """A `choose` that answers 403 to an `/openai` request for a deployment not in `deployments`."""
    choose = ET.SubElement(inbound, "choose")
    when = ET.SubElement(choose, "when", {"condition": deployment_refused_condition(deployments)})
    answer = ET.SubElement(when, "return-response")
    ET.SubElement(answer, "set-status", {"code": str(DEPLOYMENT_REFUSED_STATUS), "reason": "Forbidden"})
    for name, value in {"Content-Type": "application/json", **WHO_SERVED_REFUSED}.items():
        header = ET.SubElement(answer, "set-header", {"name": name, "exists-action": "override"})
        ET.SubElement(header, "value").text = value
    body = {"error": {"message": DEPLOYMENT_REFUSED_MESSAGE, "type": "permission_error", "code": "403"}}
    ET.SubElement(answer, "set-body").text = json.dumps(body)


def cap_max_tokens(inbound: ET.Element, cap: int) -> None:
    """A `choose` that rewrites an `/openai` chat or completions body with `max_tokens_body(cap)`."""
    choose = ET.SubElement(inbound, "choose")
    when = ET.SubElement(choose, "when", {"condition": CAP_CONDITION})
    ET.SubElement(when, "set-body").text = max_tokens_body(cap)


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


def refuse_query_key(inbound: ET.Element) -> None:
    """A `choose` that answers QUERY_KEY_STATUS to a request with a subscription key in its query string,
    before any other policy (metrics, limits, the backend) runs."""
    choose = ET.SubElement(inbound, "choose")
    when = ET.SubElement(choose, "when", {"condition": QUERY_KEY_CONDITION})
    answer = ET.SubElement(when, "return-response")
    ET.SubElement(answer, "set-status", {"code": str(QUERY_KEY_STATUS), "reason": "Unauthorized"})
    content_type = ET.SubElement(answer, "set-header", {"name": "Content-Type", "exists-action": "override"})
    ET.SubElement(content_type, "value").text = "application/json"
    ET.SubElement(answer, "set-body").text = json.dumps({"error": {"message": QUERY_KEY_MESSAGE, "type": "invalid_request_error"}})


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

    `master_key_named_value`: the named value holding the edge key (the `litellm-master` secret), sent as
    `Authorization: Bearer` to the front — the only credential the front accepts from the edge.

    `consumer_header`: set it to the caller's subscription id (= the consumer's name), replacing any copy
    the client sent; the front applies that consumer's grant.
    """
    if auth == "named-value" and not master_key_named_value:
        raise ValueError("auth named-value needs master_key_named_value")
    if auth == "managed-identity" and master_key_named_value:
        raise ValueError("auth managed-identity takes no named value")
    if retries < 0:
        raise ValueError("retries must be >= 0")
    root = ET.Element("policies")
    inbound, backend, outbound, on_error = _sections(root)
    refuse_query_key(inbound)
    if master_key_named_value:
        refuse_edge_key(inbound, master_key_named_value)  # before the product's limits count the request
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
        ET.SubElement(consumer, "value").text = CONSUMER_EXPRESSION
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
    if auth == "managed-identity":
        # /openai goes straight to Azure OpenAI: no front behind it sets the audit headers, so the edge does.
        served = {"x-pulumi-llm-served-by": SERVED_BY_PROVIDER_EXPRESSION, "x-pulumi-llm-fallback": "false"}
        for name, value in served.items():
            header = ET.SubElement(outbound, "set-header", {"name": name, "exists-action": "override"})
            ET.SubElement(header, "value").text = value
    ET.SubElement(on_error, "base")
    for name, value in WHO_SERVED_REFUSED.items():  # a failed policy or backend: nothing served it
        header = ET.SubElement(on_error, "set-header", {"name": name, "exists-action": "override"})
        ET.SubElement(header, "value").text = value
    return _text(root)


def request_rate_window(rate_per_second: float, burst: int) -> tuple[int, int]:
    """`rate-limit-by-key` (calls, renewal-period seconds) for a steady rate with a burst: `burst` calls per
    the window in which the steady rate adds up to the burst (at least 1 s, APIM's shortest period)."""
    if rate_per_second <= 0 or burst < 1:
        raise ValueError("rate_per_second must be > 0 and burst >= 1")
    period = max(1, math.ceil(burst / rate_per_second))
    return max(burst, math.ceil(rate_per_second * period)), period


def product_policy(
    *,
    tokens_per_minute: int,
    token_quota: int | None = None,
    token_quota_period: str | None = None,
    requests_per_day: int | None = None,
    rate_limit_rps: float | None = None,
    burst: int | None = None,
    openai_deployments: Sequence[str] | None = None,
    max_tokens: int | None = None,
) -> str:
    """The policy of one consumer product: request rate and daily quota, and a token limit, per subscription
    (the consumer's key). `rate_limit_rps` and `burst` go together.

    `openai_deployments`: the gateway has the `/openai` API (None: it has not, and nothing of it is rendered);
    an `/openai` request for any other deployment is refused with 403 first, before any limit counts it.
    `max_tokens`: with `openai_deployments`, the cap on an `/openai` chat or completions request's
    `max_tokens` / `max_completion_tokens` (the front caps `/v1`)."""
    if (rate_limit_rps is None) != (burst is None):
        raise ValueError("rate_limit_rps and burst go together")
    if requests_per_day is not None and requests_per_day < 1:
        raise ValueError("requests_per_day must be >= 1")
    if tokens_per_minute < 1:
        raise ValueError("tokens_per_minute must be >= 1")
    if (token_quota is None) != (token_quota_period is None):
        raise ValueError("token_quota and token_quota_period go together")
    if token_quota_period is not None and token_quota_period not in TOKEN_QUOTA_PERIODS:
        raise ValueError(f"token_quota_period {token_quota_period!r}: allowed {', '.join(TOKEN_QUOTA_PERIODS)}")
    if max_tokens is not None and openai_deployments is None:
        raise ValueError("max_tokens caps /openai requests: it needs openai_deployments")
    root = ET.Element("policies")
    inbound, backend, outbound, on_error = _sections(root)
    ET.SubElement(inbound, "base")
    if openai_deployments is not None:
        refuse_deployments(inbound, openai_deployments)
        if max_tokens is not None:
            cap_max_tokens(inbound, max_tokens)
    if rate_limit_rps is not None and burst is not None:
        calls, period = request_rate_window(rate_limit_rps, burst)
        ET.SubElement(
            inbound,
            "rate-limit-by-key",
            {
                "calls": str(calls),
                "renewal-period": str(period),
                "counter-key": "@(context.Subscription.Id)",
            },
        )
    if requests_per_day is not None:
        ET.SubElement(
            inbound,
            "quota-by-key",
            {"calls": str(requests_per_day), "renewal-period": str(24 * 3600), "counter-key": "@(context.Subscription.Id)"},
        )
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
    """The named values a policy references (`{{named-value}}`), each once, in order of first appearance."""
    return list(dict.fromkeys(re.findall(r"\{\{([A-Za-z0-9._-]+)\}\}", policy)))


def backend_ids_in(policy: str) -> Sequence[str]:
    """The backends a policy routes to."""
    root = ET.fromstring(policy)
    return [element.get("backend-id", "") for element in root.iter("set-backend-service")]
