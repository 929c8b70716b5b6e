"""gateway: one OpenAI-compatible endpoint (LiteLLM) in front of LLM API providers and self-hosted models.

``config`` is the pure part (the engine config every cloud deploys); ``aws`` (and the other clouds) wire
it into resources and are imported only by the stacks that use them.
"""

from .config import (
    Consumer,
    EdgePolicy,
    GatewaySpec,
    ModelGroup,
    ProviderRoute,
    TimeoutBudget,
    check_timeout_budget,
    edge_policies,
    render_litellm_config,
    to_yaml,
)
from .engine import MASTER_KEY_SECRET

SELF_HOSTED_KEY_SECRET = "self-hosted"
"""Short name of the secret the self-hosted servers require as their API key (AWS: pulumi-llm/<stack>/self-hosted)."""


def expected_secrets(settings) -> list[str]:
    """The secret store entries a stack's gateway reads: one per keyed provider, plus the engine's
    master key (the `pulumi-llm secrets` commands put and check exactly these)."""
    if settings.gateway is None or "gateway" not in settings.methods:
        return []
    # AWS GPU VMs behind the gateway require an API key (platform/aws.py): the stack's secret holds it.
    self_hosted = (
        [SELF_HOSTED_KEY_SECRET] if settings.cloud == "aws" and "gpu-vm" in settings.methods and settings.routes_self_hosted() else []
    )
    return [*settings.gateway.secret_names().values(), MASTER_KEY_SECRET, *self_hosted]


__all__ = [
    "expected_secrets",
    "Consumer",
    "EdgePolicy",
    "GatewaySpec",
    "ModelGroup",
    "ProviderRoute",
    "TimeoutBudget",
    "check_timeout_budget",
    "edge_policies",
    "render_litellm_config",
    "to_yaml",
]
