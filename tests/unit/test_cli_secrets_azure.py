"""`pulumi-llm secrets put|check` on an Azure stack, against a fake Key Vault data plane on 127.0.0.1:
exact request paths and api-version, the body is standard input, check lists version attributes only (never
GET /secrets/<name>, which returns a value), values and the token never shown."""

from __future__ import annotations

import argparse
import io
import json
import shutil  # the modules the store calls (patched where they live)
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pulumi_llm import cli_secrets
from pulumi_llm.errors import UserError
from pulumi_llm.secret_stores import azure as azure_store

STACK = "gw"
REGION = "westeurope"
TOKEN = "eyJ0eXAiOiJKV1Qi.TEST-TOKEN-not-a-secret"
KEY = "sk-proj-TESTVALUE-7f3a9c1e5b2d4f60"
MASTER = "sk-master-TESTVALUE-0a1b2c3d"
STACK_FILE = f"""\
config:
  pulumi-llm:environment: prod
  pulumi-llm:cloud: azure
  pulumi-llm:region: {REGION}
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
CREATED = 1748781296  # 2025-06-01 12:34:56 UTC


class FakeKeyVault:
    """Key Vault's secrets data plane (api-version 7.4) as far as the commands may touch it; records every request."""

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
                "attributes": {"enabled": True, "created": CREATED, "updated": CREATED, "recoveryLevel": "Recoverable"},
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


@pytest.fixture
def fake():
    state = FakeKeyVault()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, body = state.handle(self)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = _answer

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(scratch_project: Path) -> Path:
    (scratch_project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(STACK_FILE)
    return scratch_project


def expected(settings: Any) -> list[str]:
    assert settings.cloud == "azure"
    return ["openai", "anthropic"]


VAULT = azure_store.vault_name(STACK, REGION)


def factory(fake: FakeKeyVault):
    def make(vault: str) -> azure_store.KeyVaultSecrets:
        assert vault == VAULT
        return azure_store.KeyVaultSecrets(fake.url, token=lambda: TOKEN)

    return make


def parse(project: Path, fake: FakeKeyVault, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pulumi-llm")
    parser.add_argument("--project-dir", type=Path, default=None)
    cli_secrets.add_parsers(parser.add_subparsers(dest="command", required=True), expected=expected, clients={"azure": factory(fake)})
    return parser.parse_args(["--project-dir", str(project), *argv])


def put(project: Path, fake: FakeKeyVault, provider: str, text: str) -> int:
    args = parse(project, fake, "secrets", "put", provider, "--stack", STACK)
    return cli_secrets.handle_put(args, expected=expected, clients={"azure": factory(fake)}, stdin=io.StringIO(text))


def check(project: Path, fake: FakeKeyVault) -> int:
    args = parse(project, fake, "secrets", "check", "--stack", STACK)
    return args.handler(args)


def test_the_vault_is_the_one_the_platform_names() -> None:
    from pulumi_llm.platform.azure import global_name

    assert VAULT == global_name("kv", STACK, REGION) and VAULT.startswith("kvgw") and len(VAULT) <= 24


def test_put_sets_a_new_version_from_stdin_on_the_exact_path(project: Path, fake: FakeKeyVault, capsys) -> None:
    assert put(project, fake, "openai", KEY + "\n") == 0
    [request] = fake.requests
    assert (request["method"], request["path"], request["query"]) == ("PUT", "/secrets/openai", {"api-version": ["7.4"]})
    assert request["auth"] == f"Bearer {TOKEN}"
    assert request["body"] == {"value": KEY, "contentType": "text/plain"}  # one trailing newline dropped
    out, err = capsys.readouterr()
    version = f"{1:032x}"
    assert out == (f"openai: new version {version} is current in Key Vault {VAULT}; restart the engine's revision to use it (README)\n")
    assert KEY not in out + err and TOKEN not in out + err


def test_check_lists_version_attributes_only_and_reports_each_secret(project: Path, fake: FakeKeyVault, capsys) -> None:
    assert check(project, fake) == 1  # nothing set yet
    assert put(project, fake, "openai", KEY) == 0
    assert put(project, fake, "litellm-master", MASTER) == 0
    fake.requests.clear()
    capsys.readouterr()

    assert check(project, fake) == 1  # anthropic and the previous edge key have no value
    # The Azure gateway also reads the second edge key the front accepts (rotation): check lists it.
    assert [(r["method"], r["path"]) for r in fake.requests] == [
        ("GET", "/secrets/anthropic/versions"),
        ("GET", "/secrets/litellm-master/versions"),
        ("GET", "/secrets/litellm-master-previous/versions"),
        ("GET", "/secrets/openai/versions"),
    ]
    assert all(r["body"] is None for r in fake.requests)
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "missing (no value: pulumi-llm secrets put anthropic --stack gw)" in lines["anthropic"]
    assert "set (created 2025-06-01 12:34 UTC)" in lines["openai"] and lines["openai"].endswith(f"{VAULT}/openai")
    assert out.splitlines()[-1] == f"2 of 4 set in Key Vault {VAULT}"
    for value in (KEY, MASTER, "TESTVALUE", TOKEN):
        assert value not in out and value not in err

    assert put(project, fake, "anthropic", KEY + "-b") == 0
    assert put(project, fake, "litellm-master-previous", MASTER) == 0
    assert check(project, fake) == 0


def test_check_follows_next_links_and_judges_the_newest_version(project: Path, fake: FakeKeyVault, capsys) -> None:
    fake.page_size = 2
    for _ in range(5):
        assert put(project, fake, "openai", KEY) == 0
    newest = fake.secrets["openai"][-1]
    newest["attributes"] = dict(newest["attributes"], enabled=False, created=CREATED + 60)
    fake.requests.clear()
    client = factory(fake)(VAULT)
    assert len(client.versions("openai")) == 5
    assert [r["query"].get("skip") for r in fake.requests] == [None, ["2"], ["4"]]
    assert azure_store.secret_state(client, "openai", STACK) == "missing (newest version is disabled)"
    assert azure_store.secret_state(client, "cohere", STACK) == "missing (no value: pulumi-llm secrets put cohere --stack gw)"


def test_a_next_link_to_another_host_is_not_followed(fake: FakeKeyVault) -> None:
    client = azure_store.KeyVaultSecrets(fake.url, token=lambda: TOKEN)
    with pytest.raises(azure_store.KeyVaultError, match="nextLink outside"):
        client._next("https://evil.example.com/secrets/x/versions?api-version=7.4")  # pyright: ignore[reportPrivateUsage]


def test_public_access_disabled_is_one_line_that_says_where_to_run(project: Path, fake: FakeKeyVault) -> None:
    fake.refuse_with = (
        403,
        "Forbidden",
        "Public network access is disabled and request is not from a trusted service nor via an approved private link.",
    )
    with pytest.raises(UserError) as caught:
        put(project, fake, "openai", KEY)
    message = str(caught.value)
    assert message.startswith("secrets put openai: Key Vault refused: Forbidden: Public network access is disabled")
    assert message.endswith(
        f"Key Vault {VAULT} is reachable only through its private endpoint: run this from inside the stack's VNet "
        "(or a network linked to its privatelink.vaultcore.azure.net zone)"
    )
    assert "\n" not in message and KEY not in message and TOKEN not in message


def test_a_missing_role_is_one_line_naming_the_role(project: Path, fake: FakeKeyVault) -> None:
    fake.refuse_with = (403, "Forbidden", "Caller is not authorized to perform action on resource.")
    with pytest.raises(UserError) as caught:
        check(project, fake)
    assert str(caught.value) == (
        "secrets check: Key Vault refused: Forbidden: Caller is not authorized to perform action on resource.; "
        f"grant your identity Key Vault Secrets Officer (put) or Key Vault Reader (check) on {VAULT}"
    )


def test_unreachable_vault_is_one_line(project: Path) -> None:
    closed = azure_store.KeyVaultSecrets("http://127.0.0.1:9", token=lambda: TOKEN, timeout=5)
    args = argparse.Namespace(project_dir=project, stack=STACK, provider="openai", providers=None)
    with pytest.raises(UserError) as caught:
        cli_secrets.handle_put(args, expected=expected, clients={"azure": lambda v: closed}, stdin=io.StringIO(KEY))
    message = str(caught.value)
    assert message.startswith("secrets put openai: cannot reach Key Vault (") and "private endpoint" in message
    assert "\n" not in message and KEY not in message


def test_the_token_is_never_sent_over_plain_http_to_a_remote_host() -> None:
    client = azure_store.KeyVaultSecrets("http://kv.example.com", token=lambda: TOKEN)
    with pytest.raises(azure_store.KeyVaultError, match="https:// only"):
        client.versions("x")


def test_client_has_no_call_that_reads_a_value() -> None:
    public = {name for name in dir(azure_store.KeyVaultSecrets) if not name.startswith("_")}
    assert public == {"set_secret", "versions"}


def test_empty_stdin_and_unknown_secret_are_refused_before_any_request(project: Path, fake: FakeKeyVault) -> None:
    with pytest.raises(UserError, match="empty key on standard input"):
        put(project, fake, "openai", "\n")
    with pytest.raises(
        UserError, match="stack gw expects no such secret; expected: anthropic, litellm-master, litellm-master-previous, openai"
    ):
        put(project, fake, "cohere", KEY)
    assert fake.requests == []


def test_az_token_fallback_without_az_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserError) as caught:
        azure_store.access_token()
    assert str(caught.value) == (
        "pulumi-llm secrets: no Azure credentials (azure-identity is not installed and az is not on PATH); sign in with az login and retry"
    )


def test_az_token_is_asked_for_key_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    class Done:
        returncode, stdout = 0, TOKEN + "\n"

    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/az")
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: calls.append(argv) or Done())
    assert azure_store.access_token() == TOKEN
    assert calls == [
        ["/usr/bin/az", "account", "get-access-token", "--resource", "https://vault.azure.net", "--query", "accessToken", "--output", "tsv"]
    ]


def test_put_writes_the_secrets_the_component_reads(project: Path, fake: FakeKeyVault) -> None:
    # Through the command: the provider key and both edge keys land on the names AzureGateway's Key Vault references read.
    from pulumi_llm.gateway import azure as gateway
    from pulumi_llm.gateway import engine

    assert put(project, fake, "openai", KEY) == 0
    assert put(project, fake, engine.MASTER_KEY_SECRET, MASTER) == 0
    assert put(project, fake, gateway.EDGE_KEY_PREVIOUS_SECRET, MASTER) == 0
    written = {secret for secret, versions in fake.secrets.items() if versions}
    reads = {"openai", engine.MASTER_KEY_SECRET, gateway.EDGE_KEY_PREVIOUS_SECRET}
    assert written == reads
