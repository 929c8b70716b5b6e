"""What the edge stand-ins (``apigw_edge``, ``gcp_edge``, ``apim_edge``) share: the HTTP server each listens on
(127.0.0.1, a free port, served on a thread inside ``with``), and how an edge hands the front's answer back to
the client — its status, its headers less the hop-by-hop ones, its body streamed chunk by chunk as it arrives
(all three clouds' edges stream: API Gateway's STREAM integrations, the load balancer, APIM's forward-request).
Standard library only.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
"""Headers that belong to one connection, not to the request or answer an edge passes on."""


class EdgeServer:
    """An edge stand-in's server. A subclass calls ``_listen(handler)`` in its ``__init__``; ``url`` is where a
    client reaches it."""

    server: ThreadingHTTPServer
    url: str

    def _listen(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


class EdgeHandler(BaseHTTPRequestHandler):
    """An edge stand-in's request handler: HTTP/1.1 (``relay`` streams chunked), no access log, and ``answer``
    for what the edge answers itself."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass

    def answer(self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        """`status` with `headers` (in order) and `body`, its length given."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def relay(handler: BaseHTTPRequestHandler, response: http.client.HTTPResponse, replace: Mapping[str, str] | None = None) -> None:
    """Sends the front's `response` to the client of `handler`: its status, its headers less hop-by-hop ones
    and less those named in `replace` (an edge's own outbound headers, sent instead), then the body chunked
    as it arrives (a streamed completion reaches the client token by token). `handler` speaks HTTP/1.1."""
    replaced = {name.lower() for name in replace or {}}
    handler.send_response(response.status)
    for name, value in response.getheaders():
        if name.lower() not in HOP_BY_HOP and name.lower() not in replaced:
            handler.send_header(name, value)
    for name, value in (replace or {}).items():
        handler.send_header(name, value)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    while chunk := response.read1(65536):
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.flush()
    handler.wfile.write(b"0\r\n\r\n")
