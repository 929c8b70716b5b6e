"""AwsGateway: LiteLLM on Fargate behind a streaming API Gateway REST API, under the mock runtime with
default providers disabled."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.gateway import aws as gateway
from pulumi_llm.gateway import front_contract as contract
from pulumi_llm.gateway.aws import AwsGateway, AwsGatewayArgs, Consumer, CustomDomain
from pulumi_llm.gateway.config import Consumer as Grantee
from pulumi_llm.gateway.config import GatewaySpec, ModelGroup, ProviderRoute
from pulumi_llm.gateway.engine import BOOT  # the front's boot, which gateway.aws runs after PREVIOUS_EDGE_KEY
from pulumi_llm.labels import CommonLabels

REGION = "eu-west-1"
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b4f7c2e-1111-2222-3333-444455556666"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:llm-alarms"
CERT_ARN = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"
CLAUDE = f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"
PROFILE = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
SENTINEL = "sk-SENTINEL-never-anywhere-0000"
CONFIG = """\
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}
  - model_name: claude-sonnet
    litellm_params: {model: anthropic/claude-3-5-sonnet-20240620, api_key: os.environ/ANTHROPIC_API_KEY}
  - model_name: bedrock-claude
    litellm_params: {model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0, aws_region_name: eu-west-1}
litellm_settings: {request_timeout: 240, drop_params: true}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
"""
PROVIDERS = {"OPENAI_API_KEY": "openai", "ANTHROPIC_API_KEY": "anthropic"}
SPEC = GatewaySpec(
    model_groups=(
        # Hybrid: a self-hosted route with a provider group as its fallback (its own alarm thresholds).
        ModelGroup(
            "chat",
            (ProviderRoute("vllm", "self-hosted", "llama", api_base="http://llama.internal/v1"),),
            fallbacks=("gpt-4o",),
            fallback_share_percent=7.5,
            fallback_window_minutes=15,
        ),
        ModelGroup("gpt-4o", (ProviderRoute("openai-0", "openai", "gpt-4o", secret_env="OPENAI_API_KEY"),)),
        ModelGroup(
            "claude-sonnet",
            (ProviderRoute("anthropic-0", "anthropic", "claude-3-5-sonnet-20240620", secret_env="ANTHROPIC_API_KEY"),),
        ),
    ),
    consumers=(Grantee("chat-app", ("chat", "gpt-4o"), max_tokens=1024), Grantee("batch", ("claude-sonnet",))),
)


def secret_arn(provider: str) -> str:
    """The mock runtime's ARN of a secret child (derived from its Pulumi name)."""
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:gw-secret-{provider}"


def make_args(**overrides: Any) -> AwsGatewayArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "region": REGION,
        "vpc_id": "vpc-0123",
        "private_subnet_ids": ["subnet-a", "subnet-b"],
        "kms_key_arn": KEY_ARN,
        "engine_config_yaml": CONFIG,
        "spec": SPEC,
        "provider_secrets": PROVIDERS,
        "bedrock_model_arns": [PROFILE, CLAUDE],
        "consumers": [
            Consumer(name="chat-app", quota_per_day=50_000, rate_limit_rps=20, burst=40),
            Consumer(name="batch", quota_per_month=1_000_000, rate_limit_rps=5, burst=10),
        ],
        "min_tasks": 2,
        "max_tasks": 8,
        "integration_timeout_ms": 600_000,
        "engine_timeout_seconds": 300,
        "custom_domain": CustomDomain(domain_name="llm.example.com", certificate_arn=CERT_ARN),
        "alarm_topic_arn": TOPIC_ARN,
    }
    values.update(overrides)
    return AwsGatewayArgs(**values)


def plan(**overrides: Any):
    args = make_args(**overrides)

    def program() -> None:
        provider = aws.Provider("aws", region=REGION)
        AwsGateway("gw", args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run(program, region=REGION)


@pytest.fixture(scope="module")
def records():
    return plan()


@pytest.fixture(scope="module")
def named(records):
    return by_name(records)


def error(**overrides: Any) -> str:
    with pytest.raises(UserError) as caught:
        make_args(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


def policy(record) -> dict[str, Any]:
    return json.loads(record.inputs["policy"])


def engine(named) -> dict[str, Any]:
    containers = {c["name"]: c for c in json.loads(named["gw-task"].inputs["containerDefinitions"])}
    return containers["litellm"]


# --- structure ------------------------------------------------------------------------------


def test_children_are_exactly_these_and_use_the_stack_provider(records) -> None:
    component = only(records, "pulumi-llm:index:AwsGateway")
    assert children(records, component) == [
        ("aws:apigateway/apiKey:ApiKey", "gw-api-key-batch"),
        ("aws:apigateway/apiKey:ApiKey", "gw-api-key-chat-app"),
        ("aws:apigateway/authorizer:Authorizer", "gw-consumer-key"),
        ("aws:apigateway/basePathMapping:BasePathMapping", "gw-base-path"),
        ("aws:apigateway/deployment:Deployment", "gw-deployment"),
        ("aws:apigateway/domainName:DomainName", "gw-domain"),
        ("aws:apigateway/integration:Integration", "gw-get-models-integration"),
        ("aws:apigateway/integration:Integration", "gw-post-chat-completions-integration"),
        ("aws:apigateway/integration:Integration", "gw-post-completions-integration"),
        ("aws:apigateway/integration:Integration", "gw-post-embeddings-integration"),
        ("aws:apigateway/method:Method", "gw-get-models"),
        ("aws:apigateway/method:Method", "gw-post-chat-completions"),
        ("aws:apigateway/method:Method", "gw-post-completions"),
        ("aws:apigateway/method:Method", "gw-post-embeddings"),
        ("aws:apigateway/methodSettings:MethodSettings", "gw-method-settings"),
        ("aws:apigateway/resource:Resource", "gw-route-chat"),
        ("aws:apigateway/resource:Resource", "gw-route-chat-completions"),
        ("aws:apigateway/resource:Resource", "gw-route-completions"),
        ("aws:apigateway/resource:Resource", "gw-route-embeddings"),
        ("aws:apigateway/resource:Resource", "gw-route-models"),
        ("aws:apigateway/response:Response", "gw-refusal-access-denied"),
        ("aws:apigateway/response:Response", "gw-refusal-default-4xx"),
        ("aws:apigateway/response:Response", "gw-refusal-default-5xx"),
        ("aws:apigateway/response:Response", "gw-refusal-invalid-api-key"),
        ("aws:apigateway/response:Response", "gw-refusal-missing-authentication-token"),
        ("aws:apigateway/response:Response", "gw-refusal-quota-exceeded"),
        ("aws:apigateway/response:Response", "gw-refusal-throttled"),
        ("aws:apigateway/response:Response", "gw-refusal-unauthorized"),
        ("aws:apigateway/restApi:RestApi", "gw-api"),
        ("aws:apigateway/stage:Stage", "gw-stage"),
        ("aws:apigateway/usagePlan:UsagePlan", "gw-usage-plan-batch"),
        ("aws:apigateway/usagePlan:UsagePlan", "gw-usage-plan-chat-app"),
        ("aws:apigateway/usagePlanKey:UsagePlanKey", "gw-usage-plan-key-batch"),
        ("aws:apigateway/usagePlanKey:UsagePlanKey", "gw-usage-plan-key-chat-app"),
        ("aws:apigateway/vpcLink:VpcLink", "gw-vpc-link"),
        ("aws:appautoscaling/policy:Policy", "gw-scale-cpu"),
        ("aws:appautoscaling/policy:Policy", "gw-scale-flows"),
        ("aws:appautoscaling/target:Target", "gw-scaling-target"),
        ("aws:cloudwatch/dashboard:Dashboard", "gw-dashboard"),
        ("aws:cloudwatch/eventRule:EventRule", "gw-secret-changed"),
        ("aws:cloudwatch/eventTarget:EventTarget", "gw-secret-changed-target"),
        ("aws:cloudwatch/logGroup:LogGroup", "gw-access-logs"),
        ("aws:cloudwatch/logGroup:LogGroup", "gw-authorizer-logs"),
        ("aws:cloudwatch/logGroup:LogGroup", "gw-engine-logs"),
        ("aws:cloudwatch/logGroup:LogGroup", "gw-redeploy-logs"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "gw-alarm-4xx-rate"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "gw-alarm-5xx-rate"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "gw-alarm-cpu-high"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "gw-alarm-latency-p99"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "gw-alarm-tasks-below-desired"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "gw-fallback-share-chat"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "gw-self-hosted-silent-chat"),
        ("aws:ec2/securityGroup:SecurityGroup", "gw-nlb-sg"),
        ("aws:ec2/securityGroup:SecurityGroup", "gw-tasks-sg"),
        ("aws:ecs/cluster:Cluster", "gw-cluster"),
        ("aws:ecs/service:Service", "gw-service"),
        ("aws:ecs/taskDefinition:TaskDefinition", "gw-task"),
        ("aws:iam/role:Role", "gw-authorizer-role"),
        ("aws:iam/role:Role", "gw-execution-role"),
        ("aws:iam/role:Role", "gw-redeploy-role"),
        ("aws:iam/role:Role", "gw-task-role"),
        ("aws:iam/rolePolicy:RolePolicy", "gw-authorizer-policy"),
        ("aws:iam/rolePolicy:RolePolicy", "gw-execution-policy"),
        ("aws:iam/rolePolicy:RolePolicy", "gw-redeploy-policy"),
        ("aws:iam/rolePolicy:RolePolicy", "gw-task-policy"),
        ("aws:lambda/function:Function", "gw-authorizer"),
        ("aws:lambda/function:Function", "gw-redeploy"),
        ("aws:lambda/permission:Permission", "gw-authorizer-permission"),
        ("aws:lambda/permission:Permission", "gw-redeploy-permission"),
        ("aws:lb/listener:Listener", "gw-listener"),
        ("aws:lb/loadBalancer:LoadBalancer", "gw-nlb"),
        ("aws:lb/targetGroup:TargetGroup", "gw-tg"),
        ("aws:secretsmanager/secret:Secret", "gw-secret-anthropic"),
        ("aws:secretsmanager/secret:Secret", "gw-secret-litellm-master"),
        ("aws:secretsmanager/secret:Secret", "gw-secret-openai"),
        ("aws:secretsmanager/secretPolicy:SecretPolicy", "gw-secret-policy-anthropic"),
        ("aws:secretsmanager/secretPolicy:SecretPolicy", "gw-secret-policy-litellm-master"),
        ("aws:secretsmanager/secretPolicy:SecretPolicy", "gw-secret-policy-openai"),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "gw-nlb-out-4000"),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "gw-tasks-out-https"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "gw-tasks-in-4000"),
        ("aws:wafv2/webAcl:WebAcl", "gw-waf"),
        ("aws:wafv2/webAclAssociation:WebAclAssociation", "gw-waf-association"),
    ]
    provider = only(records, "pulumi:providers:aws")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("aws:"))


def test_optional_parts_go_away_when_turned_off() -> None:
    records = plan(custom_domain=None, waf=False, redeploy_on_secret_change=False, bedrock_model_arns=[])
    types = {r.type for r in records}
    for gone in (
        "aws:wafv2/webAcl:WebAcl",
        "aws:apigateway/domainName:DomainName",
        "aws:cloudwatch/eventRule:EventRule",
    ):
        assert gone not in types
    assert [f.name for f in of_type(records, "aws:lambda/function:Function")] == ["gw-authorizer"]
    # No Bedrock model: the task role reads its edge key's secret and nothing else.
    assert [st["Sid"] for st in policy(by_name(records)["gw-task-policy"])["Statement"]] == ["ReadEdgeKey", "DecryptThroughSecretsManager"]
    assert by_name(records)["gw-api"].inputs["disableExecuteApiEndpoint"] is False


def test_account_logging_role_only_when_asked() -> None:
    assert not of_type(plan(), "aws:apigateway/account:Account")
    named = by_name(plan(set_account_logging_role=True))
    assert named["gw-account"].inputs["cloudwatchRoleArn"] == f"arn:aws:iam:{REGION}:{ACCOUNT}:gw-account-logging-role"
    assert named["gw-account-logging-policy"].inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    )


# --- secrets: containers only, values never in Pulumi ---------------------------------------


def test_no_secret_value_anywhere(records) -> None:
    assert not of_type(records, "aws:secretsmanager/secretVersion:SecretVersion")
    dumped = json.dumps([r.inputs for r in records])
    assert SENTINEL not in dumped
    assert "secretString" not in dumped and "generateSecretString" not in dumped and "secretBinary" not in dumped
    for key in of_type(records, "aws:apigateway/apiKey:ApiKey"):
        assert "value" not in key.inputs  # AWS generates consumer keys


def test_one_secret_per_provider_encrypted_with_a_recovery_window(named, records) -> None:
    secrets = {r.inputs["name"]: r.inputs for r in of_type(records, "aws:secretsmanager/secret:Secret")}
    assert sorted(secrets) == ["pulumi-llm/prod/anthropic", "pulumi-llm/prod/litellm-master", "pulumi-llm/prod/openai"]
    for secret in secrets.values():
        assert secret["kmsKeyId"] == KEY_ARN
        assert secret["recoveryWindowInDays"] == 30 > 0
        assert "policy" not in secret
    assert gateway.secret_name("prod", "openai") == "pulumi-llm/prod/openai"


def test_provider_secrets_are_readable_by_the_execution_role_only_and_the_edge_key_by_the_authorizer_and_task_too(named) -> None:
    role_arn = f"arn:aws:iam:{REGION}:{ACCOUNT}:gw-execution-role"
    authorizer_arn = f"arn:aws:iam:{REGION}:{ACCOUNT}:gw-authorizer-role"
    task_arn = f"arn:aws:iam:{REGION}:{ACCOUNT}:gw-task-role"
    readers = {"openai": role_arn, "anthropic": role_arn, "litellm-master": sorted([role_arn, authorizer_arn, task_arn])}
    for provider, principal in readers.items():
        record = named[f"gw-secret-policy-{provider}"].inputs
        assert record["secretArn"] == secret_arn(provider)
        assert record["blockPublicPolicy"] is True
        assert json.loads(record["policy"])["Statement"] == [
            {
                "Sid": "GatewayRead",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ]


def test_execution_role_reads_exactly_the_secrets_and_decrypts_through_secrets_manager(named) -> None:
    statements = {s["Sid"]: s for s in policy(named["gw-execution-policy"])["Statement"]}
    assert set(statements) == {"ReadGatewaySecrets", "DecryptThroughSecretsManager", "WriteEngineLogs"}
    assert statements["ReadGatewaySecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert statements["ReadGatewaySecrets"]["Resource"] == sorted(secret_arn(p) for p in ("anthropic", "litellm-master", "openai"))
    decrypt = statements["DecryptThroughSecretsManager"]
    assert (decrypt["Action"], decrypt["Resource"]) == ("kms:Decrypt", KEY_ARN)
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}
    assert statements["WriteEngineLogs"]["Resource"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:gw-engine-logs:*"
    for statement in statements.values():
        assert "*" not in str(statement["Action"]) and statement["Resource"] != "*"
    trust = json.loads(named["gw-execution-role"].inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]


def test_an_ecr_image_adds_a_pull_scoped_to_its_repository() -> None:
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mirror/litellm:{pins.LITELLM.tag}@{pins.LITELLM.digest}"
    statements = {s["Sid"]: s for s in policy(by_name(plan(image=image))["gw-execution-policy"])["Statement"]}
    assert statements["PullEngineImage"]["Resource"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/mirror/litellm"
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"


def test_task_role_reads_the_edge_key_and_invokes_exactly_the_bedrock_models(named) -> None:
    statements = {st["Sid"]: st for st in policy(named["gw-task-policy"])["Statement"]}
    assert set(statements) == {"ReadEdgeKey", "DecryptThroughSecretsManager", "InvokeBedrockModels"}
    assert (statements["ReadEdgeKey"]["Action"], statements["ReadEdgeKey"]["Resource"]) == (
        "secretsmanager:GetSecretValue",
        secret_arn("litellm-master"),
    )
    assert statements["DecryptThroughSecretsManager"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    }
    statement = statements["InvokeBedrockModels"]
    assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert statement["Resource"] == sorted([CLAUDE, PROFILE])
    assert named["gw-task-policy"].inputs["role"].startswith("gw-task-role-")
    trust = json.loads(named["gw-task-role"].inputs["assumeRolePolicy"])["Statement"]
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# --- the engine -----------------------------------------------------------------------------


def test_task_runs_the_pinned_image_non_root_read_only_with_injected_secrets(named) -> None:
    task = named["gw-task"].inputs
    assert (task["cpu"], task["memory"], task["networkMode"], task["requiresCompatibilities"]) == ("1024", "2048", "awsvpc", ["FARGATE"])
    assert task["executionRoleArn"].endswith(":gw-execution-role") and task["taskRoleArn"].endswith(":gw-task-role")
    assert task["volumes"] == [{"name": "tmp"}]
    container = engine(named)
    assert container["image"] == pins.LITELLM.ref and "@sha256:" in container["image"]
    assert container["user"] == gateway.ENGINE_USER and not container["user"].startswith("0")
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert container["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    # The litellm-master secret reaches the front as its edge key; LiteLLM's own key is made per boot.
    assert container["secrets"] == [
        {"name": "ANTHROPIC_API_KEY", "valueFrom": secret_arn("anthropic")},
        {"name": "OPENAI_API_KEY", "valueFrom": secret_arn("openai")},
        {"name": "PULUMI_LLM_EDGE_KEY", "valueFrom": secret_arn("litellm-master")},
    ]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert not {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LITELLM_MASTER_KEY", "PULUMI_LLM_EDGE_KEY", "PULUMI_LLM_EDGE_KEY_PREVIOUS"} & set(
        env
    )
    assert yaml.safe_load(base64.b64decode(env["LITELLM_CONFIG_B64"])) == yaml.safe_load(CONFIG)
    assert env["HOME"] == "/tmp" and env["AWS_REGION"] == REGION
    assert env["PULUMI_LLM_EDGE_KEY_SECRET_ARN"] == secret_arn("litellm-master")  # a name: the boot reads AWSPREVIOUS
    assert container["entryPoint"] == ["python3", "-c", gateway.PREVIOUS_EDGE_KEY + BOOT]
    logs = container["logConfiguration"]
    assert logs["logDriver"] == "awslogs" and logs["options"]["awslogs-group"] == "/pulumi-llm/prod/gw/engine"
    assert "/health/liveliness" in " ".join(container["healthCheck"]["command"])
    assert container["portMappings"][0]["containerPort"] == 4000


def test_the_task_boots_the_front_in_edge_mode_with_the_specs_grants(named) -> None:
    env = {e["name"]: e["value"] for e in engine(named)["environment"]}
    config = json.loads(base64.b64decode(env["PULUMI_LLM_FRONT_CONFIG_B64"]))
    assert (config["identity"], config["stack"], config["port"]) == ("edge", "prod", 4000)
    assert config["edge_key_envs"] == ["PULUMI_LLM_EDGE_KEY", "PULUMI_LLM_EDGE_KEY_PREVIOUS"]
    assert config["consumer_key_files"] == {}
    grants = config["grants"]["consumers"]
    assert sorted(grants) == ["batch", "chat-app"]
    assert (grants["chat-app"]["models"], grants["chat-app"]["max_tokens"]) == (["chat", "gpt-4o"], 1024)
    assert grants["batch"]["models"] == ["claude-sonnet"]
    assert SENTINEL not in json.dumps(config)
    # Streams drain for what Fargate's stopTimeout leaves (not the front's 25 s default), then LiteLLM stops.
    stop = engine(named)["stopTimeout"]
    assert (stop, config["drain_seconds"]) == (120, 110)


def run_previous_edge_key(monkeypatch, answer: Any) -> dict[str, str]:
    """Run PREVIOUS_EDGE_KEY as the container does, with a boto3 whose Secrets Manager answers `answer`
    (a value, or an exception to raise); returns the environment it leaves."""
    import sys
    import types

    calls: list[dict[str, Any]] = []

    class FakeSecrets:
        def get_secret_value(self, **kwargs: Any) -> dict[str, str]:
            calls.append(kwargs)
            if isinstance(answer, Exception):
                raise answer
            return {"SecretString": answer}

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda service: FakeSecrets()))
    monkeypatch.setenv("PULUMI_LLM_EDGE_KEY_SECRET_ARN", secret_arn("litellm-master"))
    monkeypatch.delenv("PULUMI_LLM_EDGE_KEY_PREVIOUS", raising=False)
    exec(compile(gateway.PREVIOUS_EDGE_KEY, "boot", "exec"), {})
    assert calls == [{"SecretId": secret_arn("litellm-master"), "VersionStage": "AWSPREVIOUS"}]
    import os

    return dict(os.environ)


class NotFound(Exception):
    """What botocore raises for a missing version stage: the code in `response`."""

    response = {"Error": {"Code": "ResourceNotFoundException", "Message": "no AWSPREVIOUS"}}


class Throttled(Exception):
    response = {"Error": {"Code": "ThrottlingException"}}


def test_the_boot_takes_the_edge_keys_previous_value_when_there_is_one(monkeypatch) -> None:
    assert run_previous_edge_key(monkeypatch, "sk-edge-old")["PULUMI_LLM_EDGE_KEY_PREVIOUS"] == "sk-edge-old"
    assert "PULUMI_LLM_EDGE_KEY_PREVIOUS" not in run_previous_edge_key(monkeypatch, NotFound())  # first value: nothing before it
    with pytest.raises(Throttled):  # anything else stops the boot: ECS starts another task
        run_previous_edge_key(monkeypatch, Throttled())


def test_a_root_init_container_only_opens_tmp(named) -> None:
    containers = {c["name"]: c for c in json.loads(named["gw-task"].inputs["containerDefinitions"])}
    init = containers["tmp-permissions"]
    assert (init["essential"], init["user"], init["readonlyRootFilesystem"]) == (False, "0", True)
    assert init["entryPoint"] == ["python3", "-c", "import os; os.chmod('/tmp', 0o1777)"]
    assert "secrets" not in init and "environment" not in init
    assert containers["litellm"]["dependsOn"] == [{"containerName": "tmp-permissions", "condition": "SUCCESS"}]


def test_engine_logs_are_encrypted_with_retention(records) -> None:
    groups = {r.name: r.inputs for r in of_type(records, "aws:cloudwatch/logGroup:LogGroup")}
    assert {g["name"] for g in groups.values()} == {
        "/pulumi-llm/prod/gw/engine",
        "/pulumi-llm/prod/gw/access",
        "/pulumi-llm/prod/gw/authorizer",
        "/pulumi-llm/prod/gw/redeploy",
    }
    for group in groups.values():
        assert (group["kmsKeyId"], group["retentionInDays"]) == (KEY_ARN, 30)


def test_service_is_private_spread_and_rolls_back(named) -> None:
    service = named["gw-service"].inputs
    assert service["networkConfiguration"] == {
        "assignPublicIp": False,
        "securityGroups": [service["networkConfiguration"]["securityGroups"][0]],
        "subnets": ["subnet-a", "subnet-b"],
    }
    assert service["networkConfiguration"]["securityGroups"][0].startswith("gw-tasks-sg-")
    assert (service["desiredCount"], service["launchType"], service["availabilityZoneRebalancing"]) == (2, "FARGATE", "ENABLED")
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["deploymentMinimumHealthyPercent"] == 100
    assert service["loadBalancers"] == [
        {"containerName": "litellm", "containerPort": 4000, "targetGroupArn": f"arn:aws:lb:{REGION}:{ACCOUNT}:gw-tg"}
    ]
    assert named["gw-cluster"].inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_autoscaling_tracks_cpu_and_open_flows_per_task(named) -> None:
    target = named["gw-scaling-target"].inputs
    cluster = named["gw-cluster"].inputs["name"]
    assert target["resourceId"] == f"service/{cluster}/litellm"
    assert (target["minCapacity"], target["maxCapacity"], target["scalableDimension"]) == (2, 8, "ecs:service:DesiredCount")
    cpu = named["gw-scale-cpu"].inputs["targetTrackingScalingPolicyConfiguration"]
    assert cpu["predefinedMetricSpecification"] == {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert cpu["targetValue"] == 60
    flows = named["gw-scale-flows"].inputs["targetTrackingScalingPolicyConfiguration"]
    assert flows["targetValue"] == 100
    metrics = {m["id"]: m for m in flows["customizedMetricSpecification"]["metrics"]}
    assert metrics["per_task"] == {
        "id": "per_task",
        "expression": "flows / tasks",
        "label": "open flows per healthy task",
        "returnData": True,
    }
    assert metrics["flows"]["metricStat"]["metric"]["metricName"] == "ActiveFlowCount"
    assert metrics["tasks"]["metricStat"]["metric"]["dimensions"] == [
        {"name": "LoadBalancer", "value": "gw-nlb"},
        {"name": "TargetGroup", "value": "gw-tg"},
    ]


def test_tasks_admit_only_the_nlb_and_the_nlb_only_the_vpc_link(named, records) -> None:
    rule = named["gw-tasks-in-4000"].inputs
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (4000, 4000, "tcp")
    assert rule["referencedSecurityGroupId"].startswith("gw-nlb-sg-") and "cidrIpv4" not in rule
    ingress = of_type(records, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert [r.name for r in ingress] == ["gw-tasks-in-4000"]  # nothing may reach the NLB but PrivateLink
    nlb = named["gw-nlb"].inputs
    assert (nlb["internal"], nlb["loadBalancerType"]) == (True, "network")
    assert nlb["enforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    assert nlb["subnets"] == ["subnet-a", "subnet-b"]
    tg = named["gw-tg"].inputs
    assert (tg["protocol"], tg["targetType"], tg["port"], tg["deregistrationDelay"]) == ("TCP", "ip", 4000, 300)
    assert (tg["healthCheck"]["path"], tg["healthCheck"]["protocol"]) == ("/health/liveliness", "HTTP")
    listener = named["gw-listener"].inputs
    assert (listener["protocol"], listener["port"], listener["tcpIdleTimeoutSeconds"]) == ("TCP", 80, 660)


# --- API Gateway ----------------------------------------------------------------------------


ROUTES = {  # (method, resource path under the stage) → the front's path: exactly front_contract.INFERENCE_ROUTES
    ("POST", "/chat/completions"): "/v1/chat/completions",
    ("POST", "/completions"): "/v1/completions",
    ("POST", "/embeddings"): "/v1/embeddings",
    ("GET", "/models"): "/v1/models",
}


def resource_path(named, resource_id: str) -> str:
    """A REST API resource's full path, followed up its parents (by the ids the mocks answered with)."""
    by_id = {r.id: r for r in named.values() if r.type == "aws:apigateway/resource:Resource"}
    parts: list[str] = []
    while resource_id in by_id:
        record = by_id[resource_id].inputs
        parts.insert(0, record["pathPart"])
        resource_id = record.get("parentId", "")  # the root resource's id is unknown to the mocks
    return "/" + "/".join(parts)


def test_the_edges_own_refusals_say_who_served_them_and_its_429s_when_to_retry(named) -> None:
    """API Gateway's default 429s carry no Retry-After and none of its refusals the who-served headers."""
    who = {f"gatewayresponse.header.{contract.SERVED_BY_HEADER}": "'none'", f"gatewayresponse.header.{contract.FALLBACK_HEADER}": "'false'"}
    for kind, status in (("access-denied", "403"), ("missing-authentication-token", "403"), ("unauthorized", "401")):
        response = named[f"gw-refusal-{kind}"].inputs
        assert (response["statusCode"], response["responseParameters"]) == (status, who)
    quota, throttled = named["gw-refusal-quota-exceeded"].inputs, named["gw-refusal-throttled"].inputs
    assert quota["responseType"] == "QUOTA_EXCEEDED" and quota["statusCode"] == "429"
    assert quota["responseParameters"] == {**who, "gatewayresponse.header.Retry-After": "'3600'"}
    # the slowest consumer's token bucket: one request per 1 / rate_limit_rps seconds
    slowest = min(c.rate_limit_rps for c in make_args().consumers)
    assert throttled["responseParameters"]["gatewayresponse.header.Retry-After"] == f"'{max(1, math.ceil(1 / slowest))}'"
    assert "statusCode" not in named["gw-refusal-default-5xx"].inputs  # keeps each 5xx's own status


def test_only_the_inference_routes_exist_each_behind_the_authorizer_with_a_key(named, records) -> None:
    methods = of_type(records, "aws:apigateway/method:Method")
    found = {(m.inputs["httpMethod"], resource_path(named, m.inputs["resourceId"])) for m in methods}
    assert found == set(ROUTES) == {(m, p.removeprefix("/v1")) for m, p in contract.INFERENCE_ROUTES}
    for method in methods:
        assert (method.inputs["authorization"], method.inputs["apiKeyRequired"]) == ("CUSTOM", True)
        assert method.inputs["authorizerId"].startswith("gw-consumer-key-")
        assert "requestParameters" not in method.inputs
    # No catch-all: no greedy path, no ANY; everything else is API Gateway's own 403.
    resources = of_type(records, "aws:apigateway/resource:Resource")
    assert not [r for r in resources if "{" in r.inputs["pathPart"]]
    assert sorted(resource_path(named, r.id) for r in resources) == [
        "/chat",
        "/chat/completions",
        "/completions",
        "/embeddings",
        "/models",
    ]


def test_each_integration_streams_its_front_path_over_the_vpc_link_within_the_budget(named, records) -> None:
    integrations = of_type(records, "aws:apigateway/integration:Integration")
    assert len(integrations) == len(ROUTES)
    for integration in integrations:
        i = integration.inputs
        route = (i["httpMethod"], resource_path(named, i["resourceId"]))
        assert i["integrationHttpMethod"] == i["httpMethod"]
        assert i["uri"].endswith(ROUTES[route]) and "{proxy}" not in i["uri"]
        assert i["responseTransferMode"] == "STREAM"
        assert i["timeoutMilliseconds"] == 600_000 > 300 * 1000
        assert (i["type"], i["connectionType"]) == ("HTTP_PROXY", "VPC_LINK")
        assert i["connectionId"].startswith("gw-vpc-link-")
        # The front gets the edge key in place of the consumer's key, and the consumer's name as the
        # authorizer resolved it (a client's own copy of either header is overwritten).
        assert i["requestParameters"] == {
            "integration.request.header.Authorization": "context.authorizer.bearer",
            "integration.request.header.x-pulumi-llm-consumer": "context.authorizer.consumer",
        }
    assert named["gw-vpc-link"].inputs["targetArn"] == f"arn:aws:lb:{REGION}:{ACCOUNT}:gw-nlb"


def test_every_request_needs_an_api_key_as_its_bearer(named) -> None:
    api = named["gw-api"].inputs
    assert api["endpointConfiguration"] == {"types": "REGIONAL"}
    assert (api["apiKeySource"], api["disableExecuteApiEndpoint"]) == ("AUTHORIZER", True)
    authorizer = named["gw-consumer-key"].inputs
    assert (authorizer["type"], authorizer["identitySource"]) == ("REQUEST", "method.request.header.Authorization")
    assert authorizer["authorizerResultTtlInSeconds"] == gateway.AUTHORIZER_CACHE_SECONDS == 300
    assert authorizer["authorizerUri"] == (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/arn:aws:lambda:{REGION}:{ACCOUNT}:gw-authorizer/invocations"
    )


def test_the_authorizer_reads_the_edge_key_and_exactly_the_stacks_consumer_keys(named) -> None:
    function = named["gw-authorizer"].inputs
    assert (function["runtime"], function["handler"]) == ("python3.13", "index.handler")
    variables = function["environment"]["variables"]
    assert variables == {
        "MASTER_KEY_SECRET_ARN": secret_arn("litellm-master"),
        "EDGE_KEY_CACHE_SECONDS": "60",
        "EDGE_KEY_SWITCH_SECONDS": "900",
        "CONSUMER_KEY_IDS": variables["CONSUMER_KEY_IDS"],
    }
    # Key ids (not values) → consumer names: the function reads the values itself.
    key_ids = {c: named[f"gw-api-key-{c}"].id for c in ("batch", "chat-app")}
    assert json.loads(variables["CONSUMER_KEY_IDS"]) == {key_ids["batch"]: "batch", key_ids["chat-app"]: "chat-app"}
    assert function["role"] == f"arn:aws:iam:{REGION}:{ACCOUNT}:gw-authorizer-role"
    statements = {s["Sid"]: s for s in policy(named["gw-authorizer-policy"])["Statement"]}
    assert set(statements) == {"ReadMasterKey", "DecryptThroughSecretsManager", "ReadConsumerKeys", "WriteOwnLogs"}
    assert statements["ReadMasterKey"]["Resource"] == secret_arn("litellm-master")
    assert statements["DecryptThroughSecretsManager"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    }
    assert statements["ReadConsumerKeys"] == {
        "Sid": "ReadConsumerKeys",
        "Effect": "Allow",
        "Action": "apigateway:GET",
        "Resource": sorted(f"arn:aws:apigateway:{REGION}::/apikeys/{i}" for i in key_ids.values()),
    }
    assert statements["WriteOwnLogs"]["Resource"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:gw-authorizer-logs:*"
    permission = named["gw-authorizer-permission"].inputs
    assert permission["principal"] == "apigateway.amazonaws.com"
    api_id = named["gw-consumer-key"].inputs["restApi"]
    assert api_id.startswith("gw-api-")
    assert permission["sourceArn"].startswith(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/authorizers/gw-consumer-key-")


def test_the_consumer_header_is_the_one_the_front_reads() -> None:
    for bad in ("Authorization", "authorization", "x-consumer"):
        assert (
            error(consumer_header=bad) == f"gateway.consumer_header = {bad!r}: the front reads the consumer from x-pulumi-llm-consumer only"
        )


def test_every_consumer_has_a_usage_plan_and_a_grant() -> None:
    assert error(consumers=[Consumer(name="chat-app"), Consumer(name="batch"), Consumer(name="extra")]) == (
        "gateway.consumers = batch, chat-app, extra: the spec grants batch, chat-app; every consumer needs both a usage plan "
        "(its key) and a grant (its models)"
    )


def test_too_many_consumers_for_the_authorizers_environment_are_refused() -> None:
    many = [Consumer(name=f"consumer-with-a-long-name-{i:03d}") for i in range(80)]
    spec = GatewaySpec(model_groups=SPEC.model_groups, consumers=tuple(Grantee(c.name, ("gpt-4o",)) for c in many))
    message = error(consumers=many, spec=spec)
    assert message.startswith("gateway.consumers: 80 consumers need ") and message.endswith(
        "bytes of the authorizer's environment; allowed at most 3072 (fewer consumers, or shorter names)"
    )


def test_usage_plan_per_consumer_with_quota_and_throttle(named) -> None:
    chat = named["gw-usage-plan-chat-app"].inputs
    assert chat["quotaSettings"] == {"limit": 50_000, "period": "DAY"}
    assert chat["throttleSettings"] == {"rateLimit": 20, "burstLimit": 40}
    assert chat["apiStages"] == [{"apiId": chat["apiStages"][0]["apiId"], "stage": "v1"}]
    batch = named["gw-usage-plan-batch"].inputs
    assert batch["quotaSettings"] == {"limit": 1_000_000, "period": "MONTH"}
    key = named["gw-usage-plan-key-chat-app"].inputs
    assert key["keyType"] == "API_KEY"
    assert key["keyId"].startswith("gw-api-key-chat-app-") and key["usagePlanId"].startswith("gw-usage-plan-chat-app-")
    assert named["gw-api-key-chat-app"].inputs["enabled"] is True


def test_stage_access_log_is_json_without_bodies_or_key_values(named) -> None:
    settings = named["gw-stage"].inputs["accessLogSettings"]
    assert settings["destinationArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:gw-access-logs"
    fields = json.loads(settings["format"])
    assert {"requestId", "status", "apiKeyId", "responseLatency", "integrationLatency"} <= set(fields)
    text = settings["format"]
    for forbidden in ("requestBody", "responseBody", "$input.body", '$context.identity.apiKey"', "authorization", "Authorization"):
        assert forbidden not in text
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"


def test_method_settings_enable_metrics_throttle_and_no_data_trace(named) -> None:
    settings = named["gw-method-settings"].inputs
    assert (settings["methodPath"], settings["stageName"]) == ("*/*", "v1")
    assert settings["settings"] == {
        "cachingEnabled": False,
        "dataTraceEnabled": False,
        "loggingLevel": "OFF",
        "metricsEnabled": True,
        "throttlingBurstLimit": 1000,
        "throttlingRateLimit": 500,
    }


def test_deployment_follows_the_integration(named) -> None:
    deployment = named["gw-deployment"].inputs
    assert len(deployment["triggers"]["redeployment"]) == 16
    assert named["gw-stage"].inputs["deployment"].startswith("gw-deployment-")
    other = by_name(plan(integration_timeout_ms=700_000))["gw-deployment"].inputs
    assert other["triggers"]["redeployment"] != deployment["triggers"]["redeployment"]


def test_waf_counts_large_bodies_and_rate_limits(named) -> None:
    acl = named["gw-waf"].inputs
    assert (acl["scope"], acl["defaultAction"]) == ("REGIONAL", {"allow": {}})
    rules = {r["name"]: r for r in acl["rules"]}
    assert set(rules) == {
        "AWS-AWSManagedRulesAmazonIpReputationList",
        "AWS-AWSManagedRulesCommonRuleSet",
        "AWS-AWSManagedRulesKnownBadInputsRuleSet",
        "rate-per-ip",
    }
    common = rules["AWS-AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert common["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    for name in ("AWS-AWSManagedRulesAmazonIpReputationList", "AWS-AWSManagedRulesKnownBadInputsRuleSet"):
        assert "ruleActionOverrides" not in rules[name]["statement"]["managedRuleGroupStatement"]
        assert rules[name]["overrideAction"] == {"none": {}}
    rate = rules["rate-per-ip"]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"] == {"aggregateKeyType": "IP", "evaluationWindowSec": 300, "limit": 3000}
    assert sorted(r["priority"] for r in acl["rules"]) == [0, 1, 2, 3]
    association = named["gw-waf-association"].inputs
    assert association["resourceArn"] == f"arn:aws:apigateway:{REGION}:{ACCOUNT}:gw-stage"
    assert association["webAclArn"] == f"arn:aws:wafv2:{REGION}:{ACCOUNT}:gw-waf"


def test_custom_domain_is_regional_tls12_mapped_to_the_stage(named) -> None:
    domain = named["gw-domain"].inputs
    assert domain == {
        "domainName": "llm.example.com",
        "endpointConfiguration": {"types": "REGIONAL"},
        "regionalCertificateArn": CERT_ARN,
        "securityPolicy": "TLS_1_2",
        "tags": domain["tags"],
    }
    mapping = named["gw-base-path"].inputs
    assert (mapping["basePath"], mapping["stageName"], mapping["domainName"]) == ("v1", "v1", "llm.example.com")


# --- rotation -------------------------------------------------------------------------------


def test_a_changed_secret_triggers_a_redeploy(named) -> None:
    pattern = json.loads(named["gw-secret-changed"].inputs["eventPattern"])
    assert pattern["source"] == ["aws.secretsmanager"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert set(pattern["detail"]["eventName"]) >= {"PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage"}
    ids = pattern["detail"]["requestParameters"]["secretId"]
    for provider in ("anthropic", "litellm-master", "openai"):
        assert f"pulumi-llm/prod/{provider}" in ids and secret_arn(provider) in ids
    target = named["gw-secret-changed-target"].inputs
    assert target["rule"] == named["gw-secret-changed"].inputs["name"]
    assert target["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:gw-redeploy"
    permission = named["gw-redeploy-permission"].inputs
    assert (permission["principal"], permission["sourceArn"]) == (
        "events.amazonaws.com",
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:gw-secret-changed",
    )
    function = named["gw-redeploy"].inputs
    cluster = named["gw-cluster"].inputs["name"]
    assert function["environment"] == {"variables": {"CLUSTER": cluster, "SERVICE": "litellm"}}
    assert function["loggingConfig"] == {"logFormat": "JSON", "logGroup": "/pulumi-llm/prod/gw/redeploy"}
    statements = {s["Sid"]: s for s in policy(named["gw-redeploy-policy"])["Statement"]}
    assert statements["RedeployGatewayService"] == {
        "Sid": "RedeployGatewayService",
        "Effect": "Allow",
        "Action": "ecs:UpdateService",
        "Resource": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/litellm",
    }


def test_the_redeploy_handler_forces_a_new_deployment(monkeypatch) -> None:
    calls: list[dict[str, Any]] = []

    class FakeEcs:
        def update_service(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    import sys
    import types

    fake_boto3 = types.SimpleNamespace(client=lambda service: FakeEcs())
    monkeypatch.setitem(sys.modules, "boto3", fake_boto3)
    monkeypatch.setenv("CLUSTER", "c")
    monkeypatch.setenv("SERVICE", "litellm")
    namespace: dict[str, Any] = {}
    exec(compile(gateway.REDEPLOY_HANDLER, "index.py", "exec"), namespace)
    event = {"detail": {"eventName": "PutSecretValue", "requestParameters": {"secretId": "pulumi-llm/prod/openai"}}}
    assert namespace["handler"](event, None) == {"redeployed": "litellm"}
    assert calls == [{"cluster": "c", "service": "litellm", "forceNewDeployment": True}]


# --- alarms ---------------------------------------------------------------------------------


def test_alarms_notify_the_topic(records, named) -> None:
    alarms = of_type(records, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 5 + 2  # the gateway's own five, and the two of the one hybrid route
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [TOPIC_ARN] and alarm.inputs["okActions"] == [TOPIC_ARN]
    api_name = named["gw-api"].inputs["name"]
    assert named["gw-alarm-5xx-rate"].inputs["dimensions"] == {"ApiName": api_name, "Stage": "v1"}
    assert named["gw-alarm-4xx-rate"].inputs["metricName"] == "4XXError"
    latency = named["gw-alarm-latency-p99"].inputs
    assert (latency["extendedStatistic"], latency["threshold"]) == ("p99", 540_000)
    missing = named["gw-alarm-tasks-below-desired"].inputs["metricQueries"]
    cluster = named["gw-cluster"].inputs["name"]
    assert missing[0]["metric"]["dimensions"] == {"ClusterName": cluster, "ServiceName": "litellm"}


def emf_metric(query: dict[str, Any]) -> tuple[str, str, dict[str, str], str, int]:
    metric = query["metric"]  # MetricAlarm's metric_queries[].metric shape
    return (metric["namespace"], metric["metricName"], metric["dimensions"], metric["stat"], metric["period"])


def test_a_hybrid_route_has_a_fallback_share_alarm_on_the_fronts_metrics(named) -> None:
    """chat: self-hosted first, gpt-4o (a provider) as fallback — its own thresholds, 7.5 % over 15 min."""
    alarm = named["gw-fallback-share-chat"].inputs
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    dims = {"stack": "prod", "route": "chat"}
    assert emf_metric(queries["fallbacks"]) == ("pulumi-llm/gateway", "FallbackRequests", dims, "Sum", 900)
    assert emf_metric(queries["requests"]) == ("pulumi-llm/gateway", "Requests", dims, "Sum", 900)
    assert queries["share"] == {
        "id": "share",
        "expression": "IF(requests > 0, 100 * FILL(fallbacks, 0) / requests, 0)",
        "label": "% served by a fallback",
        "returnData": True,
    }
    assert not queries["fallbacks"]["returnData"] and not queries["requests"]["returnData"]
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 7.5)
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"], alarm["treatMissingData"]) == (1, 1, "notBreaching")
    assert alarm["alarmActions"] == [TOPIC_ARN]


def test_a_hybrid_route_has_a_self_hosted_silent_alarm(named) -> None:
    alarm = named["gw-self-hosted-silent-chat"].inputs
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    dims = {"stack": "prod", "route": "chat"}
    assert emf_metric(queries["requests"]) == ("pulumi-llm/gateway", "Requests", dims, "Sum", 900)
    assert emf_metric(queries["successes"]) == ("pulumi-llm/gateway", "SelfHostedSuccesses", dims, "Sum", 900)
    assert queries["silent"]["expression"] == "IF(requests > 0 AND FILL(successes, 0) == 0, 1, 0)"
    assert queries["silent"]["returnData"] is True
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert (alarm["evaluationPeriods"], alarm["treatMissingData"]) == (1, "notBreaching")
    assert alarm["alarmActions"] == [TOPIC_ARN] == alarm["okActions"]


def test_only_hybrid_routes_get_fallback_alarms_and_the_names_follow_the_contract() -> None:
    providers_only = GatewaySpec(
        model_groups=SPEC.model_groups[1:], consumers=(Grantee("chat-app", ("gpt-4o",)), Grantee("batch", ("gpt-4o",)))
    )
    names = {r.name for r in of_type(plan(spec=providers_only), "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert not [n for n in names if "fallback" in n or "silent" in n]
    from pulumi_llm.gateway.fallback_alarms import alarm_resource_name

    assert {alarm_resource_name("gw", kind, "chat") for kind in contract.ALARM_KINDS} == {
        "gw-fallback-share-chat",
        "gw-self-hosted-silent-chat",
    }


# --- bad input ------------------------------------------------------------------------------


def test_timeout_budget_is_checked() -> None:
    assert error(integration_timeout_ms=240_000, engine_timeout_seconds=300) == (
        "gateway.integration_timeout_ms = 240000: must be above gateway.engine_timeout_seconds = 300 (300000 ms), "
        "or API Gateway cuts requests the engine is still serving"
    )
    assert error(integration_timeout_ms=1_000_000) == (
        "gateway.integration_timeout_ms = 1000000: allowed 50 to 900000 (API Gateway's streaming maximum, 15 minutes)"
    )


def test_a_zero_quota_is_refused() -> None:
    assert error(consumers=[Consumer(name="chat-app", quota_per_day=0)]) == (
        "gateway.consumers.chat-app.quota_per_day = 0: allowed a positive number of requests, or leave it unset for no quota"
    )


def test_duplicate_consumers_are_refused() -> None:
    assert error(consumers=[Consumer(name="batch"), Consumer(name="batch", quota_per_month=10)]) == (
        "gateway.consumers: 'batch' is listed twice; consumer names key the API keys and usage plans"
    )


def test_a_literal_key_in_the_config_is_refused() -> None:
    leaked = CONFIG.replace("os.environ/OPENAI_API_KEY", SENTINEL)
    assert error(engine_config_yaml=leaked) == (
        "gateway.engine_config_yaml: model_list[0].litellm_params.api_key holds a literal value; secrets go in the "
        "secret store and the config references them as os.environ/<ENV>"
    )


def test_an_unmapped_env_reference_is_refused() -> None:
    assert error(provider_secrets={"OPENAI_API_KEY": "openai"}) == (
        "gateway.engine_config_yaml: references os.environ/ANTHROPIC_API_KEY, which the task does not get; map it in "
        "provider_secrets (a secret) or environment (plain)"
    )


def test_wildcard_bedrock_arns_are_refused() -> None:
    assert error(bedrock_model_arns=[f"arn:aws:bedrock:{REGION}::foundation-model/*"]) == (
        f"gateway.bedrock_model_arns = arn:aws:bedrock:{REGION}::foundation-model/*: not a Bedrock model ARN without "
        "wildcards, e.g. arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"
    )


def test_high_availability_needs_two_tasks_and_two_zones() -> None:
    assert error(min_tasks=1) == (
        "gateway.min_tasks = 1: high availability needs at least 2 tasks across zones; set high_availability: false "
        "for a single-task dev gateway"
    )
    assert error(private_subnet_ids=["subnet-a"]) == (
        "gateway.private_subnet_ids: 1 subnet; high availability needs subnets in at least 2 zones"
    )
    dev = make_args(min_tasks=1, max_tasks=1, high_availability=False, private_subnet_ids=["subnet-a"])
    assert dev.desired == 1


def test_fargate_sizes_and_other_values_are_checked() -> None:
    assert error(cpu=1024, memory=1024) == ("gateway.memory = 1024: with cpu 1024, Fargate allows 2048 to 8192 MiB in steps of 1024")
    assert error(secret_recovery_window_days=0) == (
        "gateway.secret_recovery_window_days = 0: allowed 7 to 30 (a deleted provider key must stay recoverable)"
    )
    assert error(provider_secrets={"OPENAI_API_KEY": "openai", "ANTHROPIC_API_KEY": "openai"}) == (
        "gateway.provider_secrets: secret 'openai' is mapped from both ANTHROPIC_API_KEY and OPENAI_API_KEY; one secret per variable"
    )
    assert error(provider_secrets={**PROVIDERS, "X_KEY": "litellm-master"}) == (
        "gateway.provider_secrets.X_KEY = 'litellm-master': reserved for the LiteLLM master key"
    )
    assert error(image="ghcr.io/berriai/litellm:main-latest") == (
        "gateway.image = ghcr.io/berriai/litellm:main-latest: pin the image by digest (repository:tag@sha256:…)"
    )
    other_region = CERT_ARN.replace(REGION, "us-east-1")
    assert error(custom_domain=CustomDomain(domain_name="llm.example.com", certificate_arn=other_region)) == (
        f"gateway.custom_domain.certificate_arn = {other_region}: a REGIONAL endpoint needs a certificate in {REGION}, not us-east-1"
    )


def test_the_dashboard_shows_every_alarm_and_its_metric(named) -> None:
    dashboard = named["gw-dashboard"].inputs
    assert dashboard["dashboardName"] == "pulumi-llm-prod-gw-gateway"
    body = json.loads(dashboard["dashboardBody"])
    [status] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(status["properties"]["alarms"]) == sorted(
        [
            *(
                f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:gw-alarm-{k}"
                for k in ("4xx-rate", "5xx-rate", "cpu-high", "latency-p99", "tasks-below-desired")
            ),
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:gw-fallback-share-chat",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:gw-self-hosted-silent-chat",
        ]
    )
    graphs = {w["properties"]["title"]: w["properties"] for w in body["widgets"] if w["type"] == "metric"}
    assert len(graphs) == 7
    share = graphs["chat: % of requests served by a fallback (15 min)"]
    assert [row[-1] for row in share["metrics"]][-1] == {
        "expression": "IF(requests > 0, 100 * FILL(fallbacks, 0) / requests, 0)",
        "id": "share",
        "label": "% served by a fallback",
    }
    assert share["annotations"]["horizontal"][0]["value"] == 7.5


MODEL_SG = "sg-model-alb"
SELF_HOSTED_KEY_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:pulumi-llm/prod/self-hosted-AbCdEf"


def test_a_self_hosted_endpoint_opens_exactly_its_group_and_port_and_an_external_secret_is_injected() -> None:
    named = by_name(
        plan(
            self_hosted_endpoints=[gateway.SelfHostedEndpoint(name="llama", security_group_id=MODEL_SG, port=443)],
            external_secrets={"SELF_HOSTED_API_KEY": SELF_HOSTED_KEY_ARN},
        )
    )
    egress, ingress = named["gw-tasks-out-llama-443"].inputs, named["gw-llama-in-443"].inputs
    assert (egress["fromPort"], egress["toPort"], egress["referencedSecurityGroupId"]) == (443, 443, MODEL_SG)
    assert ingress["securityGroupId"] == MODEL_SG and ingress["referencedSecurityGroupId"] == egress["securityGroupId"]
    assert "cidrIpv4" not in egress and "cidrIpv4" not in ingress
    assert {"name": "SELF_HOSTED_API_KEY", "valueFrom": SELF_HOSTED_KEY_ARN} in engine(named)["secrets"]
    [read] = [s for s in policy(named["gw-execution-policy"])["Statement"] if s["Action"] == "secretsmanager:GetSecretValue"]
    assert SELF_HOSTED_KEY_ARN in read["Resource"]
    # Not the gateway's own: no container or resource policy of its own for it.
    assert not [r for r in named if r.startswith("gw-secret-") and "self-hosted" in r]


def test_an_external_secret_cannot_shadow_a_provider_key() -> None:
    assert error(external_secrets={"OPENAI_API_KEY": SELF_HOSTED_KEY_ARN}) == (
        "gateway.external_secrets.OPENAI_API_KEY: already set by the gateway or a provider secret"
    )


def test_alarm_thresholds_is_the_deprecated_name_of_alert_thresholds() -> None:
    from pulumi_llm.gateway.aws import GatewayAlertThresholds

    chosen = GatewayAlertThresholds(error_rate_5xx=0.1)
    assert make_args(alert_thresholds=chosen).alert_thresholds == chosen
    with pytest.warns(DeprecationWarning, match=r"AwsGatewayArgs\.alarm_thresholds is deprecated: use AwsGatewayArgs\.alert_thresholds"):
        old = make_args(alarm_thresholds=chosen)
    assert old.alert_thresholds == chosen
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="give alert_thresholds only"):
        make_args(alarm_thresholds=chosen, alert_thresholds=chosen)
