"""A stand-in for the AWS edge of the gateway, on 127.0.0.1: what API Gateway does with a request on the
`{proxy+}` method AwsGateway builds, in the order API Gateway does it.

1. Identity source ``method.request.header.Authorization`` missing → 401, the authorizer never runs.
2. The REAL authorizer (``pulumi_llm.gateway.aws_authorizer.handler``) runs; "Unauthorized" → 401.
3. ``api_key_source = AUTHORIZER``: its ``usageIdentifierKey`` must be a key of a usage plan → else 403.
4. The integration request: the client's request with the headers mapped by
   ``integration_request_parameters`` (the very dict the component puts on the Integration), evaluated
   against the authorizer context and the caller's key id; then streamed back (STREAM mode) as it arrives.

What it does not model (API Gateway's own, tested by AWS): throttling, quotas, WAF, TLS.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import urlsplit

from pulumi_llm.gateway import aws_authorizer
from pulumi_llm.gateway.aws import integration_request_parameters

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


class _MasterKeyStore:
    """Plays Secrets Manager for the authorizer (its real reads are tested with moto in tests/unit)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 - boto3's spelling
        return {"SecretString": self.value}


class ApiGatewayEdge:
    def __init__(self, engine_url: str, master_key: str, api_keys: Mapping[str, str], consumer_header: str) -> None:
        """api_keys: key value → key id, as the usage plans hold them."""
        self.engine = urlsplit(engine_url)
        self.api_keys = dict(api_keys)
        self.mapping = integration_request_parameters(consumer_header)
        self.master_key = master_key
        self.forwarded: list[dict[str, str]] = []  # headers the engine received, for assertions
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ApiGatewayEdge:
        self._saved_env = os.environ.get("MASTER_KEY_SECRET_ARN")
        os.environ["MASTER_KEY_SECRET_ARN"] = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pulumi-llm/itest/litellm-master"
        aws_authorizer._secrets_client = _MasterKeyStore(self.master_key)
        aws_authorizer._cached = None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        aws_authorizer._secrets_client = None
        aws_authorizer._cached = None
        if self._saved_env is None:
            os.environ.pop("MASTER_KEY_SECRET_ARN", None)
        else:
            os.environ["MASTER_KEY_SECRET_ARN"] = self._saved_env

    def integration_headers(self, client_headers: Mapping[str, str], context: Mapping[str, str], key_id: str) -> dict[str, str]:
        headers = {k: v for k, v in client_headers.items() if k.lower() not in HOP_BY_HOP}
        for target, source in self.mapping.items():
            kind, _, name = target.removeprefix("integration.request.").partition(".")
            if kind != "header":
                continue  # the path parameter: forwarded as it is
            if source.startswith("context.authorizer."):
                value = context[source.removeprefix("context.authorizer.")]
            elif source == "context.identity.apiKeyId":
                value = key_id
            else:
                raise AssertionError(f"the edge stand-in does not know {source}")
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        return headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        edge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _refuse(self, status: int, message: str) -> None:
                body = json.dumps({"message": message}, separators=(",", ":")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server's spelling
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                client_headers = dict(self.headers.items())
                if not any(k.lower() == "authorization" and v for k, v in client_headers.items()):
                    return self._refuse(401, "Unauthorized")
                try:
                    answer = aws_authorizer.handler(
                        {
                            "type": "REQUEST",
                            "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:api/v1/POST" + self.path,
                            "headers": client_headers,
                        }
                    )
                except aws_authorizer.Unauthorized:
                    return self._refuse(401, "Unauthorized")
                key_id = edge.api_keys.get(answer["usageIdentifierKey"])
                if key_id is None:
                    return self._refuse(403, "Forbidden")
                headers = edge.integration_headers(client_headers, answer["context"], key_id)
                edge.forwarded.append(headers)
                upstream = http.client.HTTPConnection(cast(str, edge.engine.hostname), edge.engine.port, timeout=120)
                upstream.request("POST", self.path, body=body, headers=headers)
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

        return Handler
