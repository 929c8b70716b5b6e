"""`pulumi-llm secrets put|check` on a GCP stack, against a fake Secret Manager REST API on 127.0.0.1:
exact request paths, the payload is base64 of standard input, check reads metadata only, values never shown.
The cases GCP shares with Azure (plain http, no payload-reading call, unreachable, bad input, the token
lookup) are in test_cli_secrets_rest_stores.py."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.secret_stores import gcp as gcp_store
from secret_store_fakes import CONSUMER_KEY, GCP, KEY, STACK, FakeSecretManager, serving
from secret_store_fakes import GCP_PROJECT as PROJECT
from secret_store_fakes import GCP_TOKEN as TOKEN
from secret_store_fakes import SM_BASE as BASE


@pytest.fixture
def fake() -> Iterator[FakeSecretManager]:
    with serving(FakeSecretManager()) as state:
        yield state


@pytest.fixture
def project(scratch_project: Path) -> Path:
    return GCP.write_stack(scratch_project)


put, check = GCP.put, GCP.check


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


def test_a_gcp_stack_has_no_master_key_secret(project: Path, fake) -> None:
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


def test_during_a_rotation_each_line_of_a_consumer_secret_is_checked_as_a_key(project: Path, fake) -> None:
    # The front takes one key per line (front_server.key_file_lines): the new key and the old one, two lines.
    old = CONSUMER_KEY.replace("ck-", "ck-old-")
    assert put(project, fake, "consumer-team", f"{CONSUMER_KEY}\n{old}\n") == 0
    [version] = fake.secrets["pulumi-llm-gw-consumer-team"]
    assert base64.b64decode(version["payload"]["data"]).decode() == f"{CONSUMER_KEY}\n{old}"
    fake.requests.clear()
    # A long first line no longer carries a short second one, nor one with surrounding spaces.
    with pytest.raises(UserError) as caught:
        put(project, fake, "consumer-team", f"{CONSUMER_KEY}\nshort-TESTVALUE\n")
    assert str(caught.value) == (
        "secrets put consumer-team: a consumer key is at least 32 characters without surrounding spaces (line 2 of 2: got 15); "
        "generate one, e.g. openssl rand -hex 32 | pulumi-llm secrets put consumer-team --stack gw"
    )
    assert "TESTVALUE" not in str(caught.value)
    with pytest.raises(UserError, match=r"without surrounding spaces \(line 1 of 2: got 46\)"):
        put(project, fake, "consumer-team", f"{CONSUMER_KEY} \n{old}")
    with pytest.raises(UserError, match=r"\(line 2 of 3: got 0\)"):
        put(project, fake, "consumer-team", f"{CONSUMER_KEY}\n\n{old}")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        ("k" * 32, None),
        ("k" * 31, "got 31"),
        (" " + "k" * 32, "got 33"),
        ("k" * 32 + "\r", "got 33"),  # one line: judged whole, as before rotation
        ("n" * 64 + "\n" + "o" * 64, None),  # new key, old key
        ("n" * 64 + "\n" + "o" * 31, "line 2 of 2: got 31"),
        ("n" * 64 + "\n", "line 2 of 2: got 0"),  # a blank line is no key
        ("n" * 64 + "\r\n" + "o" * 64, "line 1 of 2: got 65"),
    ],
)
def test_decide_consumer_key_fault_judges_each_line(value: str, fault: str | None) -> None:
    from pulumi_llm.cli_secrets import decide_consumer_key_fault

    assert decide_consumer_key_fault(value) == fault


def test_a_gcp_stack_expects_its_provider_keys_and_one_key_per_consumer_and_no_master_key(project: Path) -> None:
    from pulumi_llm.gateway import expected_secrets
    from pulumi_llm.offline.plan import Project, load_settings

    settings = load_settings(Project.find(project), STACK)
    assert expected_secrets(settings) == ["openai", "consumer-team"]


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
