"""`pulumi-llm secrets put|check` on a GCP stack, against a fake Secret Manager REST API on 127.0.0.1:
exact request paths, the payload is base64 of standard input, check reads metadata only, values never shown."""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil  # the modules cli_secrets calls (patched where they live)
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pulumi_llm import cli_secrets
from pulumi_llm.errors import UserError
from pulumi_llm.secret_stores import gcp as gcp_store

PROJECT = "acme-llm-test"
STACK = "gw"
TOKEN = "ya29.TEST-TOKEN-not-a-secret"
KEY = "sk-proj-TESTVALUE-7f3a9c1e5b2d4f60"
CONSUMER_KEY = "ck-TESTVALUE-5e0c1f2a9b8d7c6e5f4a3b2c1d0e9f8a"
STACK_FILE = f"""\
config:
  pulumi-llm:environment: prod
  pulumi-llm:cloud: gcp
  pulumi-llm:region: europe-west4
  pulumi-llm:methods: [gateway]
  pulumi-llm:gcp:
    project: {PROJECT}
    gateway: {{domains: [llm.example.com]}}
  pulumi-llm:gateway:
    models:
      chat:
        routes: [{{provider: openai, model: gpt-4o-mini}}]
    consumers:
      team: {{models: [chat], requests_per_day: 1000}}
"""
BASE = f"/v1/projects/{PROJECT}/secrets"


class FakeSecretManager:
    """Secret Manager's v1 REST surface the commands may touch; records every request."""

    def __init__(self) -> None:
        self.secrets: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.refuse_with: int | None = None

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
        if not path.startswith(BASE + "/"):
            return 400, {"error": {"status": "INVALID_ARGUMENT", "message": "unexpected path"}}
        rest = path[len(BASE) + 1 :]
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


@pytest.fixture
def fake():
    state = FakeSecretManager()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, body = state.handle(self)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/v1"  # type: ignore[attr-defined]
    for provider in ("openai", "anthropic", "consumer-team"):  # what pulumi up creates: no versions
        state.secrets[f"pulumi-llm-{STACK}-{provider}"] = []
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(scratch_project: Path) -> Path:
    (scratch_project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(STACK_FILE)
    return scratch_project


def expected(settings: Any) -> list[str]:
    assert settings.cloud == "gcp"
    return ["openai", "anthropic", "consumer-team"]


def factory(fake: FakeSecretManager):
    def make(project: str) -> gcp_store.GcpSecretManager:
        assert project == PROJECT
        return gcp_store.GcpSecretManager(project, base_url=fake.url, token=lambda: TOKEN)  # type: ignore[attr-defined]

    return make


def parse(project: Path, fake: FakeSecretManager, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pulumi-llm")
    parser.add_argument("--project-dir", type=Path, default=None)
    cli_secrets.add_parsers(parser.add_subparsers(dest="command", required=True), expected=expected, clients={"gcp": factory(fake)})
    return parser.parse_args(["--project-dir", str(project), *argv])


def put(project: Path, fake: FakeSecretManager, provider: str, text: str) -> int:
    args = parse(project, fake, "secrets", "put", provider, "--stack", STACK)
    return cli_secrets.handle_put(args, expected=expected, clients={"gcp": factory(fake)}, stdin=io.StringIO(text))


def check(project: Path, fake: FakeSecretManager) -> int:
    args = parse(project, fake, "secrets", "check", "--stack", STACK)
    return args.handler(args)


def test_put_adds_a_version_with_the_base64_of_stdin_on_the_exact_path(project: Path, fake, capsys) -> None:
    assert put(project, fake, "openai", KEY + "\n") == 0
    [request] = fake.requests
    assert request["method"] == "POST"
    assert request["path"] == f"{BASE}/pulumi-llm-gw-openai:addVersion"
    assert request["auth"] == f"Bearer {TOKEN}"
    payload = request["body"]["payload"]
    assert base64.b64decode(payload["data"]) == KEY.encode()  # one trailing newline dropped
    assert payload["dataCrc32c"] == str(gcp_store.crc32c(KEY.encode()))
    out, err = capsys.readouterr()
    assert out == f"pulumi-llm-gw-openai: new version 1 is latest in project {PROJECT}; gateway instances started from now on read it\n"
    assert KEY not in out + err and TOKEN not in out + err


def test_check_reads_metadata_only_and_reports_each_secret(project: Path, fake, capsys) -> None:
    assert check(project, fake) == 1
    assert put(project, fake, "openai", KEY) == 0
    assert put(project, fake, "consumer-team", CONSUMER_KEY) == 0
    fake.requests.clear()
    capsys.readouterr()

    assert check(project, fake) == 1  # anthropic has no version
    assert [(r["method"], r["path"]) for r in fake.requests] == [
        ("GET", f"{BASE}/pulumi-llm-gw-anthropic"),
        ("GET", f"{BASE}/pulumi-llm-gw-anthropic/versions/latest"),
        ("GET", f"{BASE}/pulumi-llm-gw-consumer-team"),
        ("GET", f"{BASE}/pulumi-llm-gw-consumer-team/versions/latest"),
        ("GET", f"{BASE}/pulumi-llm-gw-openai"),
        ("GET", f"{BASE}/pulumi-llm-gw-openai/versions/latest"),
    ]
    assert all(":access" not in r["path"] and r["body"] is None for r in fake.requests)
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "missing (no value: pulumi-llm secrets put … --stack gw)" in lines["anthropic"]
    assert "set (created 2025-06-01 12:34 UTC)" in lines["openai"] and lines["openai"].endswith("pulumi-llm-gw-openai")
    assert out.splitlines()[-1] == f"2 of 3 set in project {PROJECT}"
    for value in (KEY, CONSUMER_KEY, base64.b64encode(KEY.encode()).decode(), "TESTVALUE", TOKEN):
        assert value not in out and value not in err

    assert put(project, fake, "anthropic", KEY + "-b") == 0
    assert check(project, fake) == 0


def test_check_flags_a_secret_the_stack_has_not_created_and_a_disabled_latest_version(project: Path, fake, capsys) -> None:
    del fake.secrets["pulumi-llm-gw-anthropic"]
    fake.secrets["pulumi-llm-gw-openai"].append({"name": "projects/123/secrets/pulumi-llm-gw-openai/versions/1", "state": "DISABLED"})
    assert check(project, fake) == 1
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "missing (no secret: run pulumi up first)" in lines["anthropic"]
    assert "missing (latest version is disabled)" in lines["openai"]
    assert [r["path"] for r in fake.requests if "anthropic" in r["path"]] == [f"{BASE}/pulumi-llm-gw-anthropic"]


def test_put_to_a_secret_the_stack_has_not_created_is_one_line(project: Path, fake) -> None:
    del fake.secrets["pulumi-llm-gw-openai"]
    with pytest.raises(UserError) as caught:
        put(project, fake, "openai", KEY)
    assert str(caught.value) == (
        f"secrets put openai: pulumi-llm-gw-openai does not exist in project {PROJECT}; run pulumi up on stack gw first "
        "(the stack creates the secret, this command sets its value)"
    )


def test_a_refusal_is_one_line_without_the_value(project: Path, fake) -> None:
    fake.refuse_with = 403
    with pytest.raises(UserError) as caught:
        put(project, fake, "openai", KEY)
    assert str(caught.value) == "secrets put openai: Google refused: PERMISSION_DENIED: Permission 'secretmanager.versions.add' denied"


def test_unreachable_api_is_one_line(project: Path) -> None:
    closed = gcp_store.GcpSecretManager(PROJECT, base_url="http://127.0.0.1:9/v1", token=lambda: TOKEN, timeout=5)
    args = argparse.Namespace(project_dir=project, stack=STACK, provider="openai", providers=None)
    with pytest.raises(UserError) as caught:
        cli_secrets.handle_put(args, expected=expected, clients={"gcp": lambda p: closed}, stdin=io.StringIO(KEY))
    assert str(caught.value).startswith("secrets put openai: cannot reach Secret Manager (")
    assert "\n" not in str(caught.value) and KEY not in str(caught.value)


def test_the_token_is_never_sent_over_plain_http_to_a_remote_host() -> None:
    manager = gcp_store.GcpSecretManager(PROJECT, base_url="http://secretmanager.example.com/v1", token=lambda: TOKEN)
    with pytest.raises(gcp_store.GcpApiError, match="https:// only"):
        manager.secret("x")


def test_client_has_no_call_that_reads_a_payload() -> None:
    public = {name for name in dir(gcp_store.GcpSecretManager) if not name.startswith("_")}
    assert public == {"add_version", "secret", "latest_version"}


def test_empty_stdin_and_unknown_secret_are_refused_before_any_request(project: Path, fake) -> None:
    with pytest.raises(UserError, match="empty key on standard input"):
        put(project, fake, "openai", "\n")
    with pytest.raises(UserError, match="stack gw expects no such secret; expected: anthropic, consumer-team, openai"):
        put(project, fake, "cohere", KEY)
    # The front checks consumer keys itself: no edge holds a master key, so a GCP stack has no such secret.
    with pytest.raises(UserError, match="stack gw expects no such secret; expected: anthropic, consumer-team, openai"):
        put(project, fake, "litellm-master", "sk-" + KEY)
    assert fake.requests == []


def test_a_short_consumer_key_is_refused_without_echoing_it(project: Path, fake) -> None:
    with pytest.raises(UserError) as caught:
        put(project, fake, "consumer-team", "short-TESTVALUE")
    assert str(caught.value) == (
        "secrets put consumer-team: a consumer key is at least 32 characters without surrounding spaces (got 15); "
        "generate one, e.g. openssl rand -hex 32 | pulumi-llm secrets put consumer-team --stack gw"
    )
    with pytest.raises(UserError, match="without surrounding spaces"):
        put(project, fake, "consumer-team", " " + CONSUMER_KEY)
    assert fake.requests == []


def test_a_gcp_stack_expects_its_provider_keys_and_one_key_per_consumer_and_no_master_key(project: Path) -> None:
    from pulumi_llm.gateway import expected_secrets
    from pulumi_llm.offline.plan import Project, load_settings

    settings = load_settings(Project.find(project), STACK)
    assert expected_secrets(settings) == ["openai", "consumer-team"]


def test_gcloud_token_fallback_without_gcloud_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserError) as caught:
        gcp_store.access_token()
    assert str(caught.value) == (
        "pulumi-llm secrets: no Google credentials (google-auth is not installed and gcloud is not on PATH); "
        "sign in with gcloud auth login (or gcloud auth application-default login) and retry"
    )


def test_gcloud_token_comes_from_print_access_token(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    class Done:
        returncode, stdout = 0, TOKEN + "\n"

    monkeypatch.setattr(shutil, "which", lambda name: "/opt/gcloud/bin/gcloud")
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: calls.append(argv) or Done())
    assert gcp_store.access_token() == TOKEN
    assert calls == [["/opt/gcloud/bin/gcloud", "auth", "print-access-token"]]


def test_put_writes_the_secrets_the_component_creates(project: Path, fake) -> None:
    # Through the command, not its imports: a provider key and a consumer's key land on the ids GcpGateway reads.
    from pulumi_llm.gateway import consumer_key_secret  # where the component takes a consumer's secret name from
    from pulumi_llm.gateway import gcp as gateway

    assert gateway.secret_id("prod", "openai") == "pulumi-llm-prod-openai"
    assert put(project, fake, "openai", KEY) == 0
    assert put(project, fake, consumer_key_secret("team"), CONSUMER_KEY) == 0
    written = {secret: len(versions) for secret, versions in fake.secrets.items() if versions}
    assert written == {gateway.secret_id(STACK, "openai"): 1, gateway.secret_id(STACK, "consumer-team"): 1}


def test_crc32c_known_answer() -> None:
    assert gcp_store.crc32c(b"123456789") == 0xE3069283
    assert gcp_store.crc32c(b"") == 0
