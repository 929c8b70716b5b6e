"""`pulumi-llm secrets put|check` against moto's Secrets Manager: values go in, never come out."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pulumi_llm import cli_secrets
from pulumi_llm.errors import UserError
from pulumi_llm.secret_stores import aws as aws_store

REGION = "eu-west-1"
KEY = "sk-proj-TESTVALUE-7f3a9c1e5b2d4f60"
MASTER = "sk-master-TESTVALUE-0a1b2c3d"
ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = """\
config:
  pulumi-llm:environment: prod
  pulumi-llm:cloud: aws
  pulumi-llm:region: eu-west-1
  pulumi-llm:methods: [gateway]
  pulumi-llm:gateway:
    models:
      chat:
        routes: [{provider: openai, model: gpt-4o-mini}]
    consumers:
      team: {models: [chat], requests_per_day: 1000}
"""


def expected(settings: Any) -> list[str]:
    """Stands in for pulumi_llm.gateway.expected_secrets."""
    assert settings.cloud == "aws"
    return ["openai", "anthropic"]


@pytest.fixture
def project(scratch_project: Path) -> Path:
    (scratch_project / "stacks" / "Pulumi.gw.yaml").write_text(STACK_FILE)
    return scratch_project


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        # What the stack creates: the containers, no values.
        for provider in ("openai", "anthropic", "litellm-master"):
            client.create_secret(Name=f"pulumi-llm/gw/{provider}", Description="created by pulumi up")
        yield client


def parse(project: Path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pulumi-llm")
    parser.add_argument("--project-dir", type=Path, default=None)
    cli_secrets.add_parsers(parser.add_subparsers(dest="command", required=True), expected=expected)
    return parser.parse_args(["--project-dir", str(project), *argv])


def put(project: Path, provider: str, text: str, *extra: str) -> int:
    args = parse(project, "secrets", "put", provider, "--stack", "gw", *extra)
    return cli_secrets.handle_put(args, expected=expected, stdin=io.StringIO(text))


def check(project: Path, *extra: str) -> int:
    args = parse(project, "secrets", "check", "--stack", "gw", *extra)
    return args.handler(args)  # through the parser's wiring


def test_put_then_check_shows_set_and_never_prints_the_value(project: Path, aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(project) == 1
    before = capsys.readouterr().out
    assert "openai" in before and "missing (no value" in before

    assert put(project, "openai", KEY + "\n") == 0
    assert put(project, "litellm-master", MASTER + "\n") == 0
    # The value landed, less its one trailing newline (read here with the test's own client).
    assert aws.get_secret_value(SecretId="pulumi-llm/gw/openai")["SecretString"] == KEY

    assert check(project) == 1  # anthropic still missing
    assert put(project, "anthropic", KEY + "-b") == 0
    assert check(project) == 0
    out, err = capsys.readouterr()
    lines = {
        line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in ("openai", "anthropic", "litellm-master")
    }
    assert all("  set (changed " in line for line in lines.values())
    assert "3 of 3 set in eu-west-1" in out
    for value in (KEY, MASTER, KEY + "-b", KEY[:12], "TESTVALUE"):
        assert value not in out and value not in err


def test_only_one_trailing_newline_is_dropped(project: Path, aws) -> None:
    assert put(project, "openai", "line-one\nline-two\n\n") == 0
    assert aws.get_secret_value(SecretId="pulumi-llm/gw/openai")["SecretString"] == "line-one\nline-two\n"


def test_check_never_reads_values(project: Path, aws, monkeypatch: pytest.MonkeyPatch) -> None:
    put(project, "openai", KEY)
    real = aws_store.default_session

    def guarded(region: str):
        session = real(region)
        client = session.client("secretsmanager")

        class Guard:
            def client(self, service: str):
                assert service == "secretsmanager"
                return self

            def __getattr__(self, name: str):
                assert name not in ("get_secret_value", "batch_get_secret_value"), f"check called {name}"
                return getattr(client, name)

        return Guard()

    args = parse(project, "secrets", "check", "--stack", "gw")
    assert cli_secrets.handle_check(args, expected=expected, clients={"aws": guarded}) == 1


def test_empty_stdin_is_refused(project: Path, aws) -> None:
    for text in ("", "\n"):
        with pytest.raises(UserError) as caught:
            put(project, "openai", text)
        assert str(caught.value) == (
            "secrets put openai: empty key on standard input; pipe it in, e.g. pbpaste | pulumi-llm secrets put openai --stack gw"
        )


def test_unknown_provider_is_refused(project: Path, aws) -> None:
    with pytest.raises(UserError) as caught:
        put(project, "cohere", KEY)
    assert str(caught.value) == "secrets put cohere: stack gw expects no such secret; expected: anthropic, litellm-master, openai"


def test_provider_flags_override_the_expected_list(project: Path, aws) -> None:
    aws.create_secret(Name="pulumi-llm/gw/cohere")
    assert put(project, "cohere", KEY, "--provider", "cohere") == 0


def test_a_master_key_must_look_like_one(project: Path, aws) -> None:
    with pytest.raises(UserError) as caught:
        put(project, "litellm-master", "hunter2")
    assert str(caught.value) == "secrets put litellm-master: a LiteLLM master key starts with 'sk-'"


def test_a_secret_the_stack_has_not_created_yet(project: Path, aws) -> None:
    aws.delete_secret(SecretId="pulumi-llm/gw/openai", ForceDeleteWithoutRecovery=True)
    with pytest.raises(UserError) as caught:
        put(project, "openai", KEY)
    assert str(caught.value) == (
        "secrets put openai: pulumi-llm/gw/openai does not exist in eu-west-1; run pulumi up on stack gw first "
        "(the stack creates the secret, this command sets its value)"
    )


def test_missing_credentials_are_one_line(project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(UserError) as caught:
        put(project, "openai", KEY)
    assert str(caught.value) == ("secrets put openai: no AWS credentials found; sign in (e.g. aws sso login, or set AWS_PROFILE) and retry")
    assert KEY not in str(caught.value)


def test_no_such_stack(project: Path) -> None:
    with pytest.raises(UserError) as caught:
        cli_secrets.handle_put(parse(project, "secrets", "put", "openai", "--stack", "nope"), expected=expected, stdin=io.StringIO(KEY))
    assert str(caught.value) == "stacks/Pulumi.nope.yaml: no such stack file; stacks: gw"


def test_other_clouds_are_refused(project: Path) -> None:
    # An on-prem stack has no cloud secret store (its secrets are Kubernetes Secrets the operator creates).
    (project / "stacks" / "Pulumi.op.yaml").write_text((ROOT / "stacks" / "Pulumi.onprem.yaml").read_text())
    with pytest.raises(UserError) as caught:
        cli_secrets.handle_check(parse(project, "secrets", "check", "--stack", "op"), expected=expected)
    assert str(caught.value) == (
        "secrets check: stack op deploys to onprem; `pulumi-llm secrets` writes AWS Secrets Manager and GCP Secret Manager "
        "and Azure Key Vault only"
    )


def test_secret_names_match_the_component(project: Path, aws) -> None:
    from pulumi_llm.gateway import aws as gateway
    from pulumi_llm.gateway import engine  # where the component takes MASTER_KEY_SECRET from

    assert gateway.secret_name("prod", "openai") == "pulumi-llm/prod/openai"
    # Through the command, not its imports: a provider key and the master key land on the names AwsGateway reads.
    assert put(project, "openai", KEY) == 0
    assert put(project, engine.MASTER_KEY_SECRET, MASTER) == 0
    assert aws.get_secret_value(SecretId=gateway.secret_name("gw", "openai"))["SecretString"] == KEY
    assert aws.get_secret_value(SecretId=gateway.secret_name("gw", engine.MASTER_KEY_SECRET))["SecretString"] == MASTER
