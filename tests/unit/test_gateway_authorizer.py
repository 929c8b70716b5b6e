"""The API Gateway authorizer, run as the Lambda runs it: Secrets Manager from moto, API Gateway's
GetApiKey from a stand-in (moto's API Gateway needs openapi_spec_validator, which the project doesn't
ship) answering in boto3's shape."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pulumi_llm.gateway import aws as gateway
from pulumi_llm.gateway import aws_authorizer

REGION = "eu-west-1"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/v1/POST/chat/completions"
# Test values created here; never real credentials.
KEYS = {"k1a2b3c4d5": ("consumer-key-search", "search"), "k9z8y7x6w5": ("consumer-key-support", "support-bot")}


class ApiGatewayKeys:
    """GetApiKey as boto3 returns it (id, name, enabled, value with includeValue); NotFoundException otherwise."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[tuple[str, bool]] = []

    def get_api_key(self, *, apiKey: str, includeValue: bool = False) -> dict[str, Any]:  # noqa: N803 - boto3's spelling
        self.calls.append((apiKey, includeValue))
        if apiKey not in self.values:
            raise ClientError({"Error": {"Code": "NotFoundException", "Message": "Invalid API Key identifier specified"}}, "GetApiKey")
        answer: dict[str, Any] = {"id": apiKey, "name": f"key-{apiKey}", "enabled": True}
        if includeValue:
            answer["value"] = self.values[apiKey]
        return answer


@pytest.fixture
def authorizer(monkeypatch):
    """A fresh copy of the Lambda's module (nothing cached) over a moto secret and the stack's two keys."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        arn = client.create_secret(Name="pulumi-llm/prod/litellm-master", SecretString="sk-edge-one")["ARN"]
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("MASTER_KEY_SECRET_ARN", arn)
        monkeypatch.setenv("EDGE_KEY_CACHE_SECONDS", "60")
        monkeypatch.setenv("CONSUMER_KEY_IDS", gateway.consumer_key_ids({i: c for i, (_, c) in KEYS.items()}))
        module = importlib.reload(aws_authorizer)
        keys = ApiGatewayKeys({i: v for i, (v, _) in KEYS.items()})
        module._clients["apigateway"] = keys
        yield module, client, arn, keys
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


def test_a_consumer_key_gives_the_usage_key_the_consumers_name_and_the_edge_key(authorizer) -> None:
    module, _, _, _ = authorizer
    answer = module.handler(event({"Authorization": "Bearer consumer-key-support"}))
    assert answer == {
        "principalId": "support-bot",
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
        "usageIdentifierKey": "consumer-key-support",
        "context": {"consumer": "support-bot", "bearer": "Bearer sk-edge-one"},
    }
    assert module.handler(event({"Authorization": "Bearer consumer-key-search"}))["context"]["consumer"] == "search"


@pytest.mark.parametrize("token", ["sk-edge-one", "consumer-key-unknown", "k1a2b3c4d5"])
def test_anything_but_a_consumer_key_is_denied_without_the_edge_key(authorizer, token) -> None:
    """The edge key itself, an unknown key and a key's id are no consumer keys: Deny (403), no context."""
    module, _, _, _ = authorizer
    answer = module.handler(event({"Authorization": f"Bearer {token}"}))
    assert answer == {
        "principalId": "unknown",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/v1/*/*"}
            ],
        },
    }
    assert "sk-edge-one" not in json.dumps(answer)


def test_the_keys_are_read_once_by_id_and_kept_as_digests_only(authorizer) -> None:
    module, _, _, keys = authorizer
    for _ in range(3):
        module.handler(event({"Authorization": "Bearer consumer-key-search"}))
        module.handler(event({"Authorization": "Bearer nobody"}))
    assert sorted(keys.calls) == [("k1a2b3c4d5", True), ("k9z8y7x6w5", True)]
    held = json.dumps(module._consumers_by_digest)
    assert "consumer-key-search" not in held and module.digest("consumer-key-search") in held


def test_an_unreadable_consumer_key_fails_with_a_log_line_naming_its_id_and_is_retried(authorizer, monkeypatch, capsys) -> None:
    module, _, _, keys = authorizer
    monkeypatch.setenv("CONSUMER_KEY_IDS", gateway.consumer_key_ids({"k1a2b3c4d5": "search", "gone000000": "old"}))
    with pytest.raises(ClientError, match="NotFoundException"):
        module.handler(event({"Authorization": "Bearer consumer-key-search"}))
    line = json.loads(capsys.readouterr().out)
    assert line == {"error": "consumer key unreadable", "key_id": "gone000000", "reason": "ClientError"}
    keys.values["gone000000"] = "consumer-key-old"
    assert module.handler(event({"Authorization": "Bearer consumer-key-old"}))["principalId"] == "old"


def test_no_bearer_is_a_401(authorizer) -> None:
    module, _, _, _ = authorizer
    for headers in ({"x-api-key": "k"}, {"Authorization": "Basic k"}, None):
        with pytest.raises(module.Unauthorized, match="^Unauthorized$"):
            module.handler(event(headers))


def test_a_rotated_edge_key_is_sent_once_the_tasks_had_time_to_learn_it(authorizer) -> None:
    """The tasks running at a rotation know only the old value: it stays the one sent until the new one
    is EDGE_KEY_SWITCH_SECONDS old, re-chosen once per cache period."""
    module, client, arn, _ = authorizer
    assert module.edge_key(now=1000.0) == "sk-edge-one"  # the first value: nothing before it to prefer
    client.put_secret_value(SecretId=arn, SecretString="sk-edge-two")
    rotated = time.time()
    assert module.edge_key(now=1059.0, wall=rotated + 59) == "sk-edge-one"  # cached: one choice per period
    assert module.edge_key(now=1060.0, wall=rotated + 60) == "sk-edge-one"  # re-chosen: the new value is too young
    assert module.edge_key(now=1960.0, wall=rotated + 901) == "sk-edge-two"  # older than the switch period


@pytest.mark.parametrize(
    ("created", "previous", "now", "sent"),
    [
        (1000.0, "old", 1899.0, "old"),  # younger than the switch period: the old value
        (1000.0, "old", 1900.0, "new"),  # the switch period over
        (1000.0, None, 1001.0, "new"),  # no previous version: the only value there is
        (None, "old", 1001.0, "new"),  # no creation date: nothing to wait for
    ],
)
def test_choose_edge_key(created, previous, now, sent) -> None:
    assert aws_authorizer.choose_edge_key("new", created, previous, now=now, switch_seconds=900) == sent


def test_the_cache_periods_add_up_to_the_documented_rotation_spacing() -> None:
    assert gateway.EDGE_KEY_MAX_AGE_SECONDS == gateway.EDGE_KEY_CACHE_SECONDS + gateway.AUTHORIZER_CACHE_SECONDS == 360
    assert gateway.MIN_ROTATION_SPACING_SECONDS == gateway.EDGE_KEY_SWITCH_SECONDS + 360 == 1260
    assert aws_authorizer.DEFAULT_EDGE_KEY_CACHE_SECONDS == gateway.EDGE_KEY_CACHE_SECONDS
    assert aws_authorizer.DEFAULT_EDGE_KEY_SWITCH_SECONDS == gateway.EDGE_KEY_SWITCH_SECONDS


def test_an_unset_edge_key_fails_with_a_log_line_naming_the_secret_only(authorizer, monkeypatch, capsys) -> None:
    module, _, _, _ = authorizer
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pulumi-llm/prod/nothing-AbCdEf"
    monkeypatch.setenv("MASTER_KEY_SECRET_ARN", missing)
    with pytest.raises(Exception, match="ResourceNotFound"):
        module.handler(event({"Authorization": "Bearer consumer-key-search"}))
    line = json.loads(capsys.readouterr().out)
    assert line == {"error": "edge key unreadable", "secret": missing, "reason": "ResourceNotFoundException"}


def test_a_method_arn_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a method ARN"):
        aws_authorizer.stage_wide_resource("a1b2c3")
