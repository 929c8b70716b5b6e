"""`pulumi-llm secrets` against the two REST stores (Azure Key Vault, GCP Secret Manager): the cases both
must pass alike — the token never goes over plain http, the clients have no call that reads a value, no API
or no CLI is one line, bad input is refused before any request. Each cloud's own cases (paths, bodies,
messages) are in test_cli_secrets_azure.py and test_cli_secrets_gcp.py."""

from __future__ import annotations

import argparse
import io
import re
import shutil  # the modules the stores call (patched where they live)
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi_llm import cli_secrets
from pulumi_llm.errors import UserError
from pulumi_llm.secret_stores import azure as azure_store
from pulumi_llm.secret_stores import gcp as gcp_store
from secret_store_fakes import AZURE, GCP, KEY, STACK, VAULT, FakeApi, Store, serving


@pytest.fixture
def fake(store: Store) -> Iterator[FakeApi]:
    with serving(store.new_fake()) as state:
        yield state


@pytest.fixture
def project(store: Store, scratch_project: Path) -> Path:
    return store.write_stack(scratch_project)


@pytest.mark.parametrize(
    ("store", "read", "error"),
    [
        pytest.param(AZURE, lambda client: client.versions("x"), azure_store.KeyVaultError, id="azure"),
        pytest.param(GCP, lambda client: client.secret("x"), gcp_store.GcpApiError, id="gcp"),
    ],
)
def test_the_token_is_never_sent_over_plain_http_to_a_remote_host(
    store: Store, read: Callable[[Any], object], error: type[Exception]
) -> None:
    client = store.client("http://store.example.com/v1", 30.0)
    with pytest.raises(error, match="https:// only"):
        read(client)


@pytest.mark.parametrize(
    ("store", "calls"),
    [pytest.param(AZURE, {"set_secret", "versions"}, id="azure"), pytest.param(GCP, {"add_version", "secret", "latest_version"}, id="gcp")],
)
def test_client_has_no_call_that_reads_a_value(store: Store, calls: set[str]) -> None:
    client = store.client("https://store.example.com", 30.0)
    assert {name for name in dir(type(client)) if not name.startswith("_")} == calls


@pytest.mark.parametrize(
    ("store", "closed_url", "line"),
    [
        pytest.param(
            AZURE,
            "http://127.0.0.1:9",
            rf"secrets put openai: cannot reach Key Vault \(.+\); Key Vault {VAULT} is reachable only through its private endpoint: .+",
            id="azure",
        ),
        pytest.param(GCP, "http://127.0.0.1:9/v1", r"secrets put openai: cannot reach Secret Manager \(.+\)", id="gcp"),
    ],
)
def test_an_unreachable_api_is_one_line(store: Store, closed_url: str, line: str, project: Path) -> None:
    closed = store.client(closed_url, 5)
    args = argparse.Namespace(project_dir=project, stack=STACK, provider="openai", providers=None)
    with pytest.raises(UserError) as caught:
        cli_secrets.handle_put(args, expected=store.expected, clients={store.cloud: lambda location: closed}, stdin=io.StringIO(KEY))
    message = str(caught.value)
    assert re.fullmatch(line, message), message
    assert "\n" not in message and KEY not in message


@pytest.mark.parametrize(
    ("store", "secrets"),
    [
        pytest.param(AZURE, "anthropic, litellm-master, litellm-master-previous, openai", id="azure"),
        pytest.param(GCP, "anthropic, consumer-team, openai", id="gcp"),
    ],
)
def test_empty_stdin_and_unknown_secret_are_refused_before_any_request(store: Store, secrets: str, project: Path, fake: FakeApi) -> None:
    with pytest.raises(UserError, match="empty key on standard input"):
        store.put(project, fake, "openai", "\n")
    with pytest.raises(UserError, match=f"stack gw expects no such secret; expected: {secrets}"):
        store.put(project, fake, "cohere", KEY)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("access_token", "line"),
    [
        pytest.param(
            azure_store.access_token,
            "pulumi-llm secrets: no Azure credentials (azure-identity is not installed and az is not on PATH); sign in with az login and retry",
            id="azure",
        ),
        pytest.param(
            gcp_store.access_token,
            "pulumi-llm secrets: no Google credentials (google-auth is not installed and gcloud is not on PATH); "
            "sign in with gcloud auth login (or gcloud auth application-default login) and retry",
            id="gcp",
        ),
    ],
)
def test_token_fallback_without_the_cloud_cli_is_one_line(
    monkeypatch: pytest.MonkeyPatch, access_token: Callable[[], str], line: str
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserError) as caught:
        access_token()
    assert str(caught.value) == line


@pytest.mark.parametrize(
    ("access_token", "found", "argv"),
    [
        pytest.param(
            azure_store.access_token,
            "/usr/bin/az",
            ["account", "get-access-token", "--resource", "https://vault.azure.net", "--query", "accessToken", "--output", "tsv"],
            id="azure",
        ),
        pytest.param(gcp_store.access_token, "/opt/gcloud/bin/gcloud", ["auth", "print-access-token"], id="gcp"),
    ],
)
def test_token_comes_from_the_cloud_cli(
    monkeypatch: pytest.MonkeyPatch, access_token: Callable[[], str], found: str, argv: list[str]
) -> None:
    calls: list[list[str]] = []

    class Done:
        returncode, stdout = 0, "TEST-TOKEN-not-a-secret\n"

    monkeypatch.setattr(shutil, "which", lambda name: found)
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: calls.append(argv) or Done())
    assert access_token() == "TEST-TOKEN-not-a-secret"
    assert calls == [[found, *argv]]
