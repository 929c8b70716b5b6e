"""Fake Azure Key Vault and GCP Secret Manager REST APIs on 127.0.0.1, and how the `pulumi-llm secrets`
tests drive cli_secrets against them (tests/unit/test_cli_secrets_azure.py, test_cli_secrets_gcp.py and the
cases they share, test_cli_secrets_rest_stores.py). Every key and token here is a made-up test value.

A fake records every request and answers only the calls the commands may make; a call that would read a
value answers 500, so a test sees it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from pulumi_llm import cli_secrets
from pulumi_llm.secret_stores import azure as azure_store
from pulumi_llm.secret_stores import gcp as gcp_store

STACK = "gw"
KEY = "sk-proj-TESTVALUE-7f3a9c1e5b2d4f60"
MASTER = "sk-master-TESTVALUE-0a1b2c3d"
CONSUMER_KEY = "ck-TESTVALUE-5e0c1f2a9b8d7c6e5f4a3b2c1d0e9f8a"

AZURE_REGION = "westeurope"
AZURE_TOKEN = "eyJ0eXAiOiJKV1Qi.TEST-TOKEN-not-a-secret"
AZURE_STACK_FILE = f"""\
config:
  pulumi-llm:environment: prod
  pulumi-llm:cloud: azure
  pulumi-llm:region: {AZURE_REGION}
  pulumi-llm:methods: [gateway]
  pulumi-llm:azure: {{gateway: {{publisher_email: llm@example.com}}}}
  pulumi-llm:gateway:
    timeouts: {{client_seconds: 300, edge_seconds: 240, engine_seconds: 210, provider_seconds: 180}}
    models:
      chat:
        routes: [{{provider: openai, model: gpt-4o-mini}}]
    consumers:
      team: {{models: [chat], requests_per_day: 1000}}
"""
KV_CREATED = 1748781296  # 2025-06-01 12:34:56 UTC
VAULT = azure_store.vault_name(STACK, AZURE_REGION)

GCP_PROJECT = "acme-llm-test"
GCP_TOKEN = "ya29.TEST-TOKEN-not-a-secret"
GCP_STACK_FILE = f"""\
config:
  pulumi-llm:environment: prod
  pulumi-llm:cloud: gcp
  pulumi-llm:region: europe-west4
  pulumi-llm:methods: [gateway]
  pulumi-llm:gcp:
    project: {GCP_PROJECT}
    gateway: {{domains: [llm.example.com]}}
  pulumi-llm:gateway:
    models:
      chat:
        routes: [{{provider: openai, model: gpt-4o-mini}}]
    consumers:
      team: {{models: [chat], requests_per_day: 1000}}
"""
SM_BASE = f"/v1/projects/{GCP_PROJECT}/secrets"


class FakeApi(Protocol):
    """What `serving` needs of a fake: its answer to one request, and where it is reached."""

    prefix: str
    url: str
    requests: list[dict[str, Any]]

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]: ...


class FakeKeyVault:
    """Key Vault's secrets data plane (api-version 7.4) as far as the commands may touch it; records every request."""

    prefix = ""

    def __init__(self) -> None:
        self.secrets: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.refuse_with: tuple[int, str, str] | None = None
        self.page_size = 25
        self.url = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = int(handler.headers.get("Content-Length") or 0)
        body: Any = json.loads(handler.rfile.read(length)) if length else None
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        self.requests.append(
            {"method": handler.command, "path": parts.path, "query": query, "auth": handler.headers.get("Authorization"), "body": body}
        )
        if query.get("api-version") != ["7.4"]:
            return 400, {"error": {"code": "BadParameter", "message": "api-version missing or wrong"}}
        if self.refuse_with:
            status, code, message = self.refuse_with
            return status, {"error": {"code": code, "message": message}}
        segments = parts.path.strip("/").split("/")
        if segments[0] != "secrets" or len(segments) < 2:
            return 400, {"error": {"code": "BadParameter", "message": "unexpected path"}}
        name = segments[1]
        if handler.command == "PUT" and len(segments) == 2:
            version = f"{len(self.secrets.get(name, [])) + 1:032x}"
            record = {
                "id": f"{self.url}/secrets/{name}/{version}",
                "attributes": {"enabled": True, "created": KV_CREATED, "updated": KV_CREATED, "recoveryLevel": "Recoverable"},
                "value": body["value"],
            }
            self.secrets.setdefault(name, []).append(record)
            return 200, {k: v for k, v in record.items()}  # Key Vault echoes the value on set; the CLI never prints it
        if handler.command == "GET" and segments[2:] == ["versions"]:
            if name not in self.secrets:
                return 404, {
                    "error": {"code": "SecretNotFound", "message": f"A secret with (name/id) {name} was not found in this key vault."}
                }
            items = [{"id": r["id"], "attributes": r["attributes"]} for r in self.secrets[name]]
            start = int(query.get("skip", ["0"])[0])
            page = items[start : start + self.page_size]
            following = start + self.page_size
            link = f"{self.url}/secrets/{name}/versions?api-version=7.4&skip={following}" if following < len(items) else None
            return 200, {"value": page, "nextLink": link}
        # GET /secrets/<name> (or /<version>) returns the value: the commands must never call it.
        return 500, {"error": {"code": "Forbidden", "message": "the CLI must never read a value"}}


class FakeSecretManager:
    """Secret Manager's v1 REST surface the commands may touch; records every request. It starts with the
    secrets `pulumi up` creates for the test stack, without versions."""

    prefix = "/v1"

    def __init__(self) -> None:
        self.secrets: dict[str, list[dict[str, Any]]] = {f"pulumi-llm-{STACK}-{p}": [] for p in ("openai", "anthropic", "consumer-team")}
        self.requests: list[dict[str, Any]] = []
        self.refuse_with: int | None = None
        self.url = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = int(handler.headers.get("Content-Length") or 0)
        body: Any = json.loads(handler.rfile.read(length)) if length else None
        self.requests.append({"method": handler.command, "path": handler.path, "auth": handler.headers.get("Authorization"), "body": body})
        if self.refuse_with:
            return self.refuse_with, {
                "error": {
                    "code": self.refuse_with,
                    "status": "PERMISSION_DENIED",
                    "message": "Permission 'secretmanager.versions.add' denied",
                }
            }
        path = handler.path
        if not path.startswith(SM_BASE + "/"):
            return 400, {"error": {"status": "INVALID_ARGUMENT", "message": "unexpected path"}}
        rest = path[len(SM_BASE) + 1 :]
        if ":access" in rest:
            return 500, {"error": {"status": "INTERNAL", "message": "the CLI must never read a payload"}}
        if handler.command == "POST" and rest.endswith(":addVersion"):
            secret = rest[: -len(":addVersion")]
            if secret not in self.secrets:
                return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": f"Secret [{secret}] not found."}}
            version = {
                "name": f"projects/123/secrets/{secret}/versions/{len(self.secrets[secret]) + 1}",
                "state": "ENABLED",
                "createTime": "2025-06-01T12:34:56.789Z",
                "payload": body["payload"],
            }
            self.secrets[secret].append(version)
            return 200, {k: v for k, v in version.items() if k != "payload"}
        if handler.command == "GET" and rest.endswith("/versions/latest"):
            secret = rest[: -len("/versions/latest")]
            versions = self.secrets.get(secret) or []
            if not versions:
                return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no versions"}}
            return 200, {k: v for k, v in versions[-1].items() if k != "payload"}
        if handler.command == "GET" and "/" not in rest:
            if rest not in self.secrets:
                return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no secret"}}
            return 200, {"name": f"projects/123/secrets/{rest}", "replication": {}}
        return 400, {"error": {"status": "INVALID_ARGUMENT", "message": "unexpected call"}}


F = TypeVar("F", bound=FakeApi)


@contextlib.contextmanager
def serving(state: F) -> Iterator[F]:
    """Serves `state` on a free 127.0.0.1 port while the block runs; `state.url` is its API root there."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, body = state.handle(self)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = _answer

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}{state.prefix}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Store:
    """One cloud's secret store as the tests drive it: through cli_secrets' parsers and handlers, with a
    client factory aimed at the fake."""

    cloud: str
    stack_file: str
    secrets: tuple[str, ...]
    """What the stand-in for gateway.expected_secrets answers for the test stack."""
    location: str
    """What cli_secrets hands the client factory for the test stack (the vault's name, the project)."""
    client: Callable[[str, float], Any]
    """(API root, timeout) → the store's client, holding the test token."""
    new_fake: Callable[[], FakeApi]
    """A fresh fake of the store's API, not yet served."""

    def write_stack(self, project: Path) -> Path:
        (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(self.stack_file)
        return project

    def expected(self, settings: Any) -> list[str]:
        assert settings.cloud == self.cloud
        return list(self.secrets)

    def factory(self, fake: FakeApi) -> Callable[[str], Any]:
        def make(location: str) -> Any:
            assert location == self.location
            return self.client(fake.url, 30.0)

        return make

    def parse(self, project: Path, fake: FakeApi, *argv: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser(prog="pulumi-llm")
        parser.add_argument("--project-dir", type=Path, default=None)
        clients = {self.cloud: self.factory(fake)}
        cli_secrets.add_parsers(parser.add_subparsers(dest="command", required=True), expected=self.expected, clients=clients)
        return parser.parse_args(["--project-dir", str(project), *argv])

    def put(self, project: Path, fake: FakeApi, provider: str, text: str) -> int:
        args = self.parse(project, fake, "secrets", "put", provider, "--stack", STACK)
        clients = {self.cloud: self.factory(fake)}
        return cli_secrets.handle_put(args, expected=self.expected, clients=clients, stdin=io.StringIO(text))

    def check(self, project: Path, fake: FakeApi) -> int:
        args = self.parse(project, fake, "secrets", "check", "--stack", STACK)
        return args.handler(args)


AZURE = Store(
    "azure",
    AZURE_STACK_FILE,
    ("openai", "anthropic"),
    VAULT,
    lambda url, timeout: azure_store.KeyVaultSecrets(url, token=lambda: AZURE_TOKEN, timeout=timeout),
    FakeKeyVault,
)
GCP = Store(
    "gcp",
    GCP_STACK_FILE,
    ("openai", "anthropic", "consumer-team"),
    GCP_PROJECT,
    lambda url, timeout: gcp_store.GcpSecretManager(GCP_PROJECT, base_url=url, token=lambda: GCP_TOKEN, timeout=timeout),
    FakeSecretManager,
)
