"""The API Gateway authorizer, run as the Lambda runs it, against Secrets Manager (moto)."""

from __future__ import annotations

import importlib
import json

import boto3
import pytest
from moto import mock_aws
from pulumi_llm.gateway import aws as gateway
from pulumi_llm.gateway import aws_authorizer

REGION = "eu-west-1"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/v1/POST/chat/completions"


@pytest.fixture
def authorizer(monkeypatch):
    """A fresh copy of the Lambda's module (no cached client or key) over a moto secret."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        arn = client.create_secret(Name="pulumi-llm/prod/litellm-master", SecretString="sk-master-one")["ARN"]
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("MASTER_KEY_SECRET_ARN", arn)
        monkeypatch.setenv("MASTER_KEY_CACHE_SECONDS", "300")
        module = importlib.reload(aws_authorizer)
        yield module, client, arn
    importlib.reload(aws_authorizer)


def event(headers: dict[str, str] | None) -> dict:
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": headers}


def test_the_lambda_ships_this_module_verbatim() -> None:
    assert gateway.AUTHORIZER_SOURCE == open(aws_authorizer.__file__).read()
    namespace: dict = {}
    exec(compile(gateway.AUTHORIZER_SOURCE, "index.py", "exec"), namespace)  # stands alone: no package imports
    assert callable(namespace["handler"])


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"Authorization": "Bearer key-1"}, "key-1"),
        ({"authorization": "bearer  key-2 "}, "key-2"),
        ({"AUTHORIZATION": "Bearer key-3"}, "key-3"),
        ({"Authorization": "Basic a2V5"}, None),
        ({"Authorization": "Bearer"}, None),
        ({"Authorization": "Bearer two words"}, None),
        ({"x-api-key": "key-4"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_bearer_token(headers, token) -> None:
    assert aws_authorizer.bearer_token(headers) == token


def test_a_consumer_key_becomes_the_usage_key_and_the_engine_gets_the_master_key(authorizer) -> None:
    module, _, _ = authorizer
    answer = module.handler(event({"Authorization": "Bearer consumer-key-abc"}))
    assert answer == {
        "principalId": "consumer",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    # The cached answer is reused on every path of the stage.
                    "Resource": "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/v1/*/*",
                }
            ],
        },
        "usageIdentifierKey": "consumer-key-abc",
        "context": {"bearer": "Bearer sk-master-one"},
    }


def test_no_bearer_is_a_401(authorizer) -> None:
    module, _, _ = authorizer
    for headers in ({"x-api-key": "k"}, {"Authorization": "Basic k"}, None):
        with pytest.raises(module.Unauthorized, match="^Unauthorized$"):
            module.handler(event(headers))


def test_a_rotated_master_key_is_picked_up_after_the_cache_period(authorizer) -> None:
    module, client, arn = authorizer
    assert module.master_key(now=1000.0) == "sk-master-one"
    client.put_secret_value(SecretId=arn, SecretString="sk-master-two")
    assert module.master_key(now=1299.0) == "sk-master-one"  # cached: one read per period
    assert module.master_key(now=1300.0) == "sk-master-two"


def test_an_unset_master_key_fails_with_a_log_line_naming_the_secret_only(authorizer, monkeypatch, capsys) -> None:
    module, _, _ = authorizer
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pulumi-llm/prod/nothing-AbCdEf"
    monkeypatch.setenv("MASTER_KEY_SECRET_ARN", missing)
    with pytest.raises(Exception, match="ResourceNotFound"):
        module.handler(event({"Authorization": "Bearer consumer-key"}))
    line = json.loads(capsys.readouterr().out)
    assert line == {"error": "master key unreadable", "secret": missing, "reason": "ResourceNotFoundException"}


def test_a_method_arn_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a method ARN"):
        aws_authorizer.stage_wide_resource("a1b2c3")
