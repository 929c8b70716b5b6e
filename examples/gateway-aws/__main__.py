"""One OpenAI-compatible endpoint (LiteLLM on Fargate behind a streaming API Gateway) in front of
OpenAI, with Anthropic as the fallback, for two consumers with their own keys and quotas.

Clients call `<invoke_url>/chat/completions` with `model: chat` and their API Gateway key as their bearer
(`OpenAI(base_url=<invoke_url>, api_key=<key>)`); only the inference routes exist at the edge.
"""

import pulumi
import pulumi_aws as aws
from pulumi_llm import (
    AwsGateway,
    AwsGatewayArgs,
    AwsStackKey,
    AwsStackKeyArgs,
    CommonLabels,
    GatewaySpec,
    ModelGroup,
    ProviderRoute,
    TimeoutBudget,
    render_litellm_config,
    secret_envs,
    to_yaml,
)
from pulumi_llm.gateway.aws import Consumer as UsagePlan
from pulumi_llm.gateway.config import ENGINE_ENVIRONMENT, Consumer
from pulumi_llm.gateway.engine import MASTER_KEY_ENV

config = pulumi.Config()
region = config.require("region")
labels = CommonLabels(stack=pulumi.get_stack(), environment="dev", method="gateway")

aws_provider = aws.Provider("aws", region=region)
on_aws = pulumi.ResourceOptions(providers=[aws_provider])

# The customer-managed key of the secrets and log groups.
key = AwsStackKey("llm-key", AwsStackKeyArgs(labels=labels, region=region), opts=on_aws)

# Timeouts from the outside in: API Gateway (300 s) > LiteLLM (270 s) > each provider call (240 s).
EDGE_SECONDS, ENGINE_SECONDS = 300, 270
timeouts = TimeoutBudget(client=330, edge=EDGE_SECONDS, engine=ENGINE_SECONDS)
spec = GatewaySpec(
    model_groups=(
        ModelGroup(
            name="chat",
            routes=(
                ProviderRoute(name="openai-0", provider="openai", model="gpt-4o-mini", secret_env="OPENAI_API_KEY", timeout_seconds=240),
            ),
            fallbacks=("chat-fallback",),
        ),
        ModelGroup(
            name="chat-fallback",
            routes=(
                ProviderRoute(
                    name="anthropic-0",
                    provider="anthropic",
                    model="claude-haiku-4-5-20251001",
                    secret_env="ANTHROPIC_API_KEY",
                    timeout_seconds=240,
                ),
            ),
        ),
    ),
    # Each consumer's grant (the front enforces it): the group it may call.
    consumers=tuple(Consumer(name=name, models=("chat",)) for name in sorted(config.require_object("consumers"))),
    timeouts=timeouts,
)

gateway = AwsGateway(
    "llm-gateway",
    AwsGatewayArgs(
        labels=labels,
        region=region,
        vpc_id=config.require("vpc-id"),
        private_subnet_ids=config.require_object("private-subnet-ids"),
        kms_key_arn=key.arn,
        engine_config_yaml=to_yaml(render_litellm_config(spec)),
        spec=spec,
        # Only the names of the secrets: the values go straight into Secrets Manager, never into state.
        provider_secrets={env: name for env, name in secret_envs(spec).items() if env != MASTER_KEY_ENV},
        environment={k: v for k, v in ENGINE_ENVIRONMENT.items() if k != "LITELLM_MODE"},
        consumers=[UsagePlan(name=name, **limits) for name, limits in sorted(config.require_object("consumers").items())],
        high_availability=False,  # one task is enough for dev; prod keeps the default (≥ 2 tasks, ≥ 2 zones)
        min_tasks=1,
        max_tasks=3,
        integration_timeout_ms=EDGE_SECONDS * 1000,
        engine_timeout_seconds=ENGINE_SECONDS,
    ),
    opts=on_aws,
)

pulumi.export("invoke_url", gateway.invoke_url)
pulumi.export("secret_arns", gateway.secret_arns)
