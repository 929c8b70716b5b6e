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


def expected_secrets(settings) -> list[str]:
    """The secret store entries a stack's gateway reads: one per keyed provider, plus the engine's
    master key (the `pulumi-llm secrets` commands put and check exactly these)."""
    if settings.gateway is None or "gateway" not in settings.methods:
        return []
    return [*settings.gateway.secret_names().values(), "litellm-master"]


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
