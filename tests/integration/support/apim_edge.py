"""A stand-in for the Azure edge of the gateway, on 127.0.0.1: what API Management does with a request on the
engine API AzureGateway builds (`/v1`), in the order APIM does it, driven by the component's own artifacts.

1. Operation matching: the request's method and path must match one of ``gateway.azure.api_operations(api)``
   under the API's path — the operations the component creates, ``{parameter}`` matching one path segment —
   else 404 (APIM's "no operation"). The template's parameters are the request's matched parameters.
2. Subscription: the key is looked up by the API's ``subscriptionKeyParameterNames`` (the header
   ``apim_policy.SUBSCRIPTION_KEY_HEADER`` or the query ``apim_policy.QUERY_KEY_PARAMETER``, the names the
   component sets); no key or an unknown key → 401. The subscription's id is its consumer's name
   (``Subscription.sid`` = consumer).
3. The REAL API policy (``apim_policy.api_policy(...)`` as the component renders it for /v1), inbound section,
   interpreted element by element: ``choose/when`` with the query-key condition → the return-response;
   ``set-header`` override/delete with literal values, ``{{named value}}`` references (resolved from
   ``named_values``, the Key Vault-backed values APIM holds) and ``@(context.Subscription.Id)``;
   ``set-backend-service``; ``authentication-managed-identity`` sets ``Authorization: Bearer`` to a stand-in
   token; metric and variable elements have no effect on what is forwarded. ``<base/>`` runs the REAL product
   policy of the subscription's product when ``product_policies`` are given (APIM's scopes: the API's base is
   the product's policy): its ``/openai`` rules — the deployment refusal (``apim_policy.
   deployment_refused_condition``, whose expression the stand-in reads: the allowed ids out of the text) and
   the max_tokens cap (a ``set-body`` whose text must equal ``apim_policy.max_tokens_body(cap)``, applied with
   the same rule in Python; the C# itself is APIM's to run). An element or expression it does not know fails
   the request with 500, so a policy change cannot pass unseen.
4. forward-request to the backend (the backend URL + the operation's path), streamed back as it arrives,
   with the REAL API policy's outbound section applied to the response's headers: ``set-header`` override
   with a literal or ``apim_policy.SERVED_BY_PROVIDER_EXPRESSION`` (evaluated on the backend's status), and
   ``<base/>`` (the product's outbound, itself only ``<base/>``).

What it does not model (APIM's own, tested by Microsoft): the product policy's rate limits, quotas and
llm-token-limit, TLS, the named value's 4-hour refresh (tests call ``refresh_named_value``).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import cast
from urllib.parse import parse_qs, urlsplit

from pulumi_llm.gateway import apim_policy
from pulumi_llm.gateway.azure import ENGINE_API, api_operations

from .edge_relay import HOP_BY_HOP, EdgeHandler, EdgeServer, relay

IGNORED = {"set-variable", "llm-emit-token-metric"}
PRODUCT_IGNORED = {"rate-limit-by-key", "quota-by-key", "llm-token-limit"}
"""The product policy's limits: APIM's counters, not modelled here."""
MANAGED_IDENTITY_TOKEN = "standin-entra-token"
"""What ``authentication-managed-identity`` puts in Authorization here (APIM: a token for the resource)."""
_ALLOWED_TERM = re.compile(re.escape(apim_policy.DEPLOYMENT_VALUE) + r' == "([^"]+)"')
_CAP = re.compile(r"body\[key\] = (\d+);")


def template_regex(template: str) -> re.Pattern[str]:
    """An operation's URL template as a regex: each ``{name}`` one path segment, captured by that name."""
    parts = re.split(r"\{([^}]+)\}", template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part.replace('-', '_')}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(f"^{pattern}$")


def capped_body(body: bytes, cap: int, template: str) -> bytes:
    """``apim_policy.max_tokens_body(cap)``'s rule: each whole-number max_tokens / max_completion_tokens above
    the cap lowered to it; neither present: the operation's FILLED_KEY set to it; not a JSON object: unchanged."""
    try:
        parsed = json.loads(body or b"")
    except ValueError:
        return body
    if not isinstance(parsed, dict):
        return body
    doc = cast(dict[str, object], parsed)
    present = False
    for key in apim_policy.CAPPED_KEYS:
        value = doc.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            present = True
            doc[key] = min(value, cap)
    if not present:
        doc[apim_policy.FILLED_KEY["/chat/completions" if template.endswith("/chat/completions") else "/completions"]] = cap
    return json.dumps(doc).encode()


class PolicyError(Exception):
    """The policy holds something this stand-in does not model."""


@dataclass
class Request:
    """A request as the policies see and change it."""

    headers: dict[str, str]
    query: Mapping[str, list[str]]
    subscription: str  # the subscription's id: the consumer
    matched: dict[str, str]  # the operation's template parameters
    template: str  # the matched operation's URL template
    body: bytes


Answer = tuple[int, dict[str, str], bytes]


class ApimEdge(EdgeServer):
    def __init__(
        self,
        engine_url: str,
        policy: str,
        subscriptions: Mapping[str, str],
        named_values: Mapping[str, str],
        *,
        api_path: str = ENGINE_API,
        product_policies: Mapping[str, str] | None = None,
    ) -> None:
        """engine_url: the backend's URL without the API path (the component's backend is https://<fqdn>/v1).
        policy: the rendered API policy. subscriptions: subscription key → subscription id (the consumer).
        named_values: named value id → its current value (the edge key, from Key Vault). api_path: the API
        (``v1`` or ``openai``). product_policies: subscription id → its product's rendered policy; None: the
        product scope is not run."""
        self.engine = urlsplit(engine_url)
        self.policy = ET.fromstring(policy)
        self.subscriptions = dict(subscriptions)
        self.named_values = dict(named_values)
        self.products = {k: ET.fromstring(v) for k, v in (product_policies or {}).items()}
        self.api_path = "/" + api_path
        self.operations = [
            (method, template, template_regex(self.api_path + template)) for method, template in api_operations(api_path.strip("/"))
        ]
        self.forwarded: list[dict[str, str]] = []  # headers the engine received, for assertions
        self.forwarded_bodies: list[bytes] = []  # and the bodies, after the policies
        self.lock = threading.Lock()
        self._listen(self._handler())

    def refresh_named_value(self, named_value: str, value: str) -> None:
        """APIM's refresh of a Key Vault-backed named value (every 4 h, or refreshSecret)."""
        with self.lock:
            self.named_values[named_value] = value

    # --- the policy ------------------------------------------------------------------------------

    def _expression(self, text: str, subscription_id: str) -> str:
        """A set-header value: literal text with {{named value}} references, or one known expression."""
        if text == apim_policy.CONSUMER_EXPRESSION:
            return subscription_id
        if text.startswith("@"):
            raise PolicyError(f"expression {text!r}")
        out = text
        for name in apim_policy.named_values_in(text):
            with self.lock:
                value = self.named_values.get(name)
            if value is None:
                raise PolicyError(f"named value {name!r} does not exist")
            out = out.replace("{{" + name + "}}", value)
        return out

    def _condition(self, condition: str, request: Request) -> bool:
        if condition == apim_policy.QUERY_KEY_CONDITION:
            return any(k.lower() == apim_policy.QUERY_KEY_PARAMETER.lower() for k in request.query)
        if condition == apim_policy.CAP_CONDITION:
            return apim_policy.DEPLOYMENT_PARAMETER in request.matched and not request.template.endswith("/embeddings")
        for name in apim_policy.named_values_in(condition):
            if condition == apim_policy.edge_key_presented_condition(name):  # the text as rendered for this named value
                with self.lock:
                    value = self.named_values.get(name)
                presented = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "").strip()
                return value is not None and presented.lower() == f"bearer {value}".lower()
        allowed = _ALLOWED_TERM.findall(condition)
        if condition == apim_policy.deployment_refused_condition(allowed):  # the text as rendered for these ids
            deployment = request.matched.get(apim_policy.DEPLOYMENT_PARAMETER)
            return deployment is not None and deployment not in allowed
        raise PolicyError(f"condition {condition!r}")

    def inbound(self, request: Request, section: ET.Element | None = None, *, product: bool = False) -> Answer | None:
        """Run a policy's inbound section on ``request`` (its headers and body change in place): None to
        forward, or the response the policy returns itself. ``product``: the product scope (its base is
        the global scope, empty here)."""
        inbound = section if section is not None else self.policy.find("inbound")
        if inbound is None:
            raise PolicyError("no inbound section")
        for element in inbound:
            if element.tag in IGNORED or element.tag == "set-backend-service" or (product and element.tag in PRODUCT_IGNORED):
                continue
            if element.tag == "base":
                policy = None if product else self.products.get(request.subscription)
                if policy is not None:
                    answer = self.inbound(request, policy.find("inbound"), product=True)
                    if answer is not None:
                        return answer
                continue
            if element.tag == "choose":
                for when in element.findall("when"):
                    if not self._condition(when.get("condition", ""), request):
                        continue
                    answer = self._when(request, when)
                    if answer is not None:
                        return answer
                    break
                continue
            if element.tag == "authentication-managed-identity":
                request.headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
                request.headers["Authorization"] = f"Bearer {MANAGED_IDENTITY_TOKEN}"
                continue
            if element.tag == "set-header":
                self._set_header(request, element)
                continue
            raise PolicyError(f"policy element {element.tag!r}")
        return None

    def _when(self, request: Request, when: ET.Element) -> Answer | None:
        """A chosen branch: a return-response, or a set-body this stand-in models."""
        answer = when.find("return-response")
        if answer is not None:
            status = int(cast(ET.Element, answer.find("set-status")).get("code", "0"))
            response_headers = {h.get("name", ""): cast(str, cast(ET.Element, h.find("value")).text) for h in answer.findall("set-header")}
            return status, response_headers, cast(str, cast(ET.Element, answer.find("set-body")).text).encode()
        for child in when:
            if child.tag != "set-body":
                raise PolicyError(f"policy element {child.tag!r} in a when")
            text = child.text or ""
            cap = _CAP.search(text)
            if cap is None or text != apim_policy.max_tokens_body(int(cap.group(1))):
                raise PolicyError(f"set-body {text[:60]!r}")
            request.body = capped_body(request.body, int(cap.group(1)), request.template)
        return None

    def _set_header(self, request: Request, element: ET.Element) -> None:
        name = element.get("name", "")
        request.headers = {k: v for k, v in request.headers.items() if k.lower() != name.lower()}
        action = element.get("exists-action")
        if action == "delete":
            return
        if action != "override":
            raise PolicyError(f"set-header exists-action {action!r}")
        value = element.find("value")
        request.headers[name] = self._expression(cast(str, value.text if value is not None else ""), request.subscription)

    def outbound(self, status: int) -> dict[str, str]:
        """The response headers the API policy's outbound section sets on a backend answer of ``status``."""
        out: dict[str, str] = {}
        section = self.policy.find("outbound")
        for element in section if section is not None else []:
            if element.tag == "base":
                continue
            if element.tag != "set-header" or element.get("exists-action") != "override":
                raise PolicyError(f"outbound element {element.tag!r}")
            text = cast(str, cast(ET.Element, element.find("value")).text)
            if text == apim_policy.SERVED_BY_PROVIDER_EXPRESSION:
                text = "none" if status == 429 or status >= 500 else "provider"
            elif text.startswith("@"):
                raise PolicyError(f"expression {text!r}")
            out[element.get("name", "")] = text
        return out

    # --- the server ------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        edge = self

        class Handler(EdgeHandler):
            def _answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
                self.answer(status, body, (headers or {"Content-Type": "application/json"}).items())

            def _refuse(self, status: int, message: str) -> None:
                self._answer(status, json.dumps({"statusCode": status, "message": message}).encode())

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                matched = [
                    (template, found)
                    for method, template, regex in edge.operations
                    if method == self.command and (found := regex.match(parts.path)) is not None
                ]
                if not matched:
                    return self._refuse(404, "Resource not found")
                template, found = matched[0]
                params = {name.replace("_", "-"): value for name, value in found.groupdict().items()}
                query = parse_qs(parts.query, keep_blank_values=True)
                client_headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                key = next((v for k, v in client_headers.items() if k.lower() == apim_policy.SUBSCRIPTION_KEY_HEADER.lower()), None)
                if key is None:
                    key = next((v[0] for k, v in query.items() if k.lower() == apim_policy.QUERY_KEY_PARAMETER.lower()), None)
                subscription = edge.subscriptions.get(key or "")
                if subscription is None:
                    return self._refuse(
                        401,
                        "Access denied due to missing subscription key."
                        if key is None
                        else "Access denied due to invalid subscription key.",
                    )
                request = Request(client_headers, query, subscription, params, template, body)
                try:
                    answer = edge.inbound(request)
                except PolicyError as err:
                    return self._refuse(500, f"the APIM stand-in does not model {err}")
                if answer is not None:
                    status, response_headers, response_body = answer
                    return self._answer(status, response_body, response_headers)
                with edge.lock:
                    edge.forwarded.append(dict(request.headers))
                    edge.forwarded_bodies.append(request.body)
                upstream = http.client.HTTPConnection(cast(str, edge.engine.hostname), edge.engine.port, timeout=120)
                upstream.request(self.command, self.path, body=request.body or None, headers=request.headers)
                response = upstream.getresponse()
                try:
                    outbound = edge.outbound(response.status)
                except PolicyError as err:
                    upstream.close()
                    return self._refuse(500, f"the APIM stand-in does not model {err}")
                relay(self, response, outbound)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's spelling

        return Handler
