"""Names of the engine container's environment and secrets that both the config renderer (``config``)
and the boot (``engine``) use — kept apart from both so neither imports the other.

Pure constants; ``engine`` re-exports them under the same names.
"""

from __future__ import annotations

CONFIG_ENV = "LITELLM_CONFIG_B64"
"""The engine's rendered config, base64, in its container's environment (written to a file at boot)."""

MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
"""What LiteLLM's config reads its master key from. The front sets it in LiteLLM's environment only, to a
value made per boot (``secrets.token_urlsafe``); no shell sets it and no one outside the container holds it."""

SECRET_FILES_ENV = "LITELLM_SECRET_FILES"
"""Where a cloud mounts secrets as files (Cloud Run): JSON {env var: file path}, read into the env at boot."""

MASTER_KEY_SECRET = "litellm-master"
"""Short name of the LiteLLM master key's secret (`pulumi-llm secrets put litellm-master`)."""

MAX_CONFIG_BYTES = 24 * 1024
"""Largest config a cloud shell carries in the engine's environment (ECS task definitions and Cloud
Run revisions hold the base64 text in one variable)."""
