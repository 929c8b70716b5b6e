"""A stand-in for the GCP edge of the gateway, on 127.0.0.1: what the global external Application Load Balancer
that GcpGateway builds does with a request, before Cloud Run's front sees it.

1. The URL map: the path (query string aside) goes through the very path matcher the component puts on its
   URL map (``gateway.gcp.path_matcher``), routed by ``gateway.gcp.decide_lb_route``. An inference path goes on
   to the backend; any other path is answered 404 by the load balancer itself (the matcher's fault-injection
   abort), and the front is never called.
2. The backend: the client's request, headers and body as sent (the load balancer adds no identity: the
   front checks the consumer's key itself), streamed back as it arrives.

What it does not model (Google's own): TLS, Cloud Armor's throttle and WAF rules, the host rules (``*``).
``forwarded`` lists the paths that reached the front; ``refused`` those the load balancer answered itself.
"""

from __future__ import annotations

import http.client
import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from pulumi_llm.gateway.gcp import decide_lb_route, path_matcher

from .edge_relay import HOP_BY_HOP, EdgeHandler, EdgeServer, relay

BACKEND = "projects/itest/global/backendServices/pulumi-llm-itest-gateway"


class GcpLoadBalancerEdge(EdgeServer):
    def __init__(self, front_url: str) -> None:
        self.front = urlsplit(front_url)
        self.matcher = path_matcher(BACKEND)
        self.forwarded: list[str] = []
        self.refused: list[str] = []
        self._listen(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        edge = self

        class Handler(EdgeHandler):
            def _answer_here(self, status: int) -> None:
                # The load balancer's own answer to an aborted request: a short text body, no backend involved.
                self.answer(status, b"fault filter abort", [("Content-Type", "text/plain")])

            def _proxy(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                route = decide_lb_route(edge.matcher, self.path)
                if route != BACKEND:
                    edge.refused.append(self.path)
                    assert isinstance(route, int), route
                    return self._answer_here(route)
                edge.forwarded.append(self.path)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(str(edge.front.hostname), edge.front.port, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    relay(self, upstream.getresponse())
                except OSError as err:  # the backend went away: what the load balancer says then
                    self.answer(502, json.dumps({"error": f"backend unreachable: {err}"}).encode())
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _proxy  # noqa: N815 - http.server's spelling

        return Handler
