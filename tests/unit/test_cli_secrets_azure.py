"""`pulumi-llm secrets put|check` on an Azure stack, against a fake Key Vault data plane on 127.0.0.1:
exact request paths and api-version, the body is standard input, check lists version attributes only (never
GET /secrets/<name>, which returns a value), values and the token never shown. The cases Azure shares with
GCP (plain http, no value-reading call, unreachable, bad input, the token lookup) are in
test_cli_secrets_rest_stores.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.secret_stores import azure as azure_store
from secret_store_fakes import AZURE, KEY, MASTER, STACK, VAULT, FakeKeyVault, serving
from secret_store_fakes import AZURE_REGION as REGION
from secret_store_fakes import AZURE_TOKEN as TOKEN
from secret_store_fakes import KV_CREATED as CREATED


@pytest.fixture
def fake() -> Iterator[FakeKeyVault]:
    with serving(FakeKeyVault()) as state:
        yield state


@pytest.fixture
def project(scratch_project: Path) -> Path:
    return AZURE.write_stack(scratch_project)


factory, put, check = AZURE.factory, AZURE.put, AZURE.check


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
