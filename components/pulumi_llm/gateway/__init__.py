"""gateway: one OpenAI-compatible endpoint (LiteLLM) in front of LLM API providers and self-hosted models.

``config`` is the pure part (the engine config every cloud deploys); ``aws`` (and the other clouds) wire
it into resources and are imported only by the stacks that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import clouds
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

if TYPE_CHECKING:
    from ..settings import Settings

SELF_HOSTED_KEY_SECRET = "self-hosted"
"""Short name of the secret the self-hosted servers require as their API key (AWS: pulumi-llm/<stack>/self-hosted)."""


def expected_secrets(settings: Settings) -> list[str]:
    """The secret store entries a stack's gateway reads: one per keyed provider, plus the engine's
    master key (the `pulumi-llm secrets` commands put and check exactly these)."""
    if settings.gateway is None or "gateway" not in settings.methods:
        return []
    # A cloud whose GPU VMs require an API key (clouds.CloudInfo.self_hosted_key_secret) keeps it in the stack's secret.
    cloud = clouds.info(settings.cloud)
    keyed = cloud is not None and cloud.self_hosted_key_secret
    self_hosted = [SELF_HOSTED_KEY_SECRET] if keyed and "gpu-vm" in settings.methods and settings.routes_self_hosted() else []
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
