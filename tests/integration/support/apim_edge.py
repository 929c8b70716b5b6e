"""A stand-in for the Azure edge of the gateway, on 127.0.0.1: what API Management does with a request on the
engine API AzureGateway builds (`/v1`), in the order APIM does it, driven by the component's own artifacts.

1. Operation matching: the request's method and path must be one of ``gateway.azure.api_operations("v1")``
   under the API's path — the operations the component creates — else 404 (APIM's "no operation").
2. Subscription: the key is looked up by the API's ``subscriptionKeyParameterNames`` (the header
   ``apim_policy.SUBSCRIPTION_KEY_HEADER`` or the query ``apim_policy.QUERY_KEY_PARAMETER``, the names the
   component sets); no key or an unknown key → 401. The subscription's id is its consumer's name
   (``Subscription.sid`` = consumer).
3. The REAL API policy (``apim_policy.api_policy(...)`` as the component renders it for /v1), inbound section,
   interpreted element by element: ``choose/when`` with the query-key condition → the return-response;
   ``set-header`` override/delete with literal values, ``{{named value}}`` references (resolved from
   ``named_values``, the Key Vault-backed values APIM holds) and ``@(context.Subscription.Id)``;
   ``set-backend-service``; metric, variable and ``base`` elements have no effect on what is forwarded. An
   element or expression it does not know fails the request with 500, so a policy change cannot pass unseen.
4. forward-request to the engine (the backend URL + the operation's path), streamed back as it arrives.

What it does not model (APIM's own, tested by Microsoft): the product policy's rate limits, quotas and
llm-token-limit, TLS, the named value's 4-hour refresh (tests call ``refresh_named_value``).
"""

from __future__ import annotations

import http.client
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs, urlsplit

from pulumi_llm.gateway import apim_policy
from pulumi_llm.gateway.azure import ENGINE_API, api_operations

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
IGNORED = {"base", "set-variable", "llm-emit-token-metric"}


class PolicyError(Exception):
    """The policy holds something this stand-in does not model."""


class ApimEdge:
    def __init__(
        self,
        engine_url: str,
        policy: str,
        subscriptions: Mapping[str, str],
        named_values: Mapping[str, str],
        *,
        api_path: str = ENGINE_API,
    ) -> None:
        """engine_url: the backend's URL without the API path (the component's backend is https://<fqdn>/v1).
        policy: the rendered /v1 API policy. subscriptions: subscription key → subscription id (the consumer).
        named_values: named value id → its current value (the edge key, from Key Vault)."""
        self.engine = urlsplit(engine_url)
        self.policy = ET.fromstring(policy)
        self.subscriptions = dict(subscriptions)
        self.named_values = dict(named_values)
        self.api_path = "/" + api_path
        self.operations = {(method, self.api_path + template) for method, template in api_operations(api_path.strip("/"))}
        self.forwarded: list[dict[str, str]] = []  # headers the engine received, for assertions
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def refresh_named_value(self, named_value: str, value: str) -> None:
        """APIM's refresh of a Key Vault-backed named value (every 4 h, or refreshSecret)."""
        with self.lock:
            self.named_values[named_value] = value

    def __enter__(self) -> ApimEdge:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

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

    def _condition(self, condition: str, query: Mapping[str, list[str]]) -> bool:
        if condition == apim_policy.QUERY_KEY_CONDITION:
            return any(k.lower() == apim_policy.QUERY_KEY_PARAMETER.lower() for k in query)
        raise PolicyError(f"condition {condition!r}")

    def inbound(
        self, headers: dict[str, str], query: Mapping[str, list[str]], subscription_id: str
    ) -> tuple[dict[str, str], tuple[int, dict[str, str], bytes] | None]:
        """Run the policy's inbound section: the headers to forward, or the response it returns itself."""
        inbound = self.policy.find("inbound")
        if inbound is None:
            raise PolicyError("no inbound section")
        for element in inbound:
            if element.tag in IGNORED or element.tag == "set-backend-service":
                continue
            if element.tag == "choose":
                for when in element.findall("when"):
                    if self._condition(when.get("condition", ""), query):
                        answer = when.find("return-response")
                        if answer is None:
                            raise PolicyError("a when without return-response")
                        status = int(cast(ET.Element, answer.find("set-status")).get("code", "0"))
                        response_headers = {
                            h.get("name", ""): cast(str, cast(ET.Element, h.find("value")).text) for h in answer.findall("set-header")
                        }
                        body = cast(str, cast(ET.Element, answer.find("set-body")).text).encode()
                        return headers, (status, response_headers, body)
                continue
            if element.tag == "set-header":
                name = element.get("name", "")
                headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
                action = element.get("exists-action")
                if action == "delete":
                    continue
                if action != "override":
                    raise PolicyError(f"set-header exists-action {action!r}")
                value = element.find("value")
                headers[name] = self._expression(cast(str, value.text if value is not None else ""), subscription_id)
                continue
            raise PolicyError(f"policy element {element.tag!r}")
        return headers, None

    # --- the server ------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        edge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _refuse(self, status: int, message: str) -> None:
                self._answer(status, json.dumps({"statusCode": status, "message": message}).encode())

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                if (self.command, parts.path) not in edge.operations:
                    return self._refuse(404, "Resource not found")
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
                try:
                    headers, answer = edge.inbound(client_headers, query, subscription)
                except PolicyError as err:
                    return self._refuse(500, f"the APIM stand-in does not model {err}")
                if answer is not None:
                    status, response_headers, response_body = answer
                    return self._answer(status, response_body, response_headers)
                with edge.lock:
                    edge.forwarded.append(dict(headers))
                upstream = http.client.HTTPConnection(cast(str, edge.engine.hostname), edge.engine.port, timeout=120)
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while chunk := response.read1(65536):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's spelling

        return Handler
