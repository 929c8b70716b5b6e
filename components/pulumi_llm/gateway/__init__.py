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


CONSUMER_KEY_SECRET_PREFIX = "consumer-"
"""Where a cloud whose front checks consumer keys itself (clouds.CloudInfo.consumer_keys: GCP) keeps each key:
the secret `consumer-<name>` (GCP: pulumi-llm-<stack>-consumer-<name>), written by `pulumi-llm secrets put`."""


def consumer_key_secret(consumer: str) -> str:
    """Short name of a consumer's key secret."""
    return f"{CONSUMER_KEY_SECRET_PREFIX}{consumer}"


def expected_secrets(settings: Settings) -> list[str]:
    """The secret store entries a stack's gateway reads: one per keyed provider, plus the edge's key (the
    master key's secret) — or, where the front checks consumer keys itself, one key per consumer instead
    (the `pulumi-llm secrets` commands put and check exactly these)."""
    if settings.gateway is None or "gateway" not in settings.methods:
        return []
    # A cloud whose GPU VMs require an API key (clouds.CloudInfo.self_hosted_key_secret) keeps it in the stack's secret.
    cloud = clouds.info(settings.cloud)
    keyed = cloud is not None and cloud.self_hosted_key_secret
    self_hosted = [SELF_HOSTED_KEY_SECRET] if keyed and "gpu-vm" in settings.methods and settings.routes_self_hosted() else []
    if cloud is not None and cloud.consumer_keys:
        identity = [consumer_key_secret(name) for name in sorted(settings.gateway.consumers)]
    else:
        identity = [MASTER_KEY_SECRET]
    return [*settings.gateway.secret_names().values(), *identity, *self_hosted]


__all__ = [
    "CONSUMER_KEY_SECRET_PREFIX",
    "consumer_key_secret",
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
