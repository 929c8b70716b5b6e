"""Name patterns the gateway checks its args against, one home for the ones the clouds share.

Pure. Patterns that belong to one cloud alone (Bedrock ARNs, GCP project ids, APIM service names) stay
beside the args they check.
"""

from __future__ import annotations

import re

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
"""An environment variable name the engine config may reference (`os.environ/<ENV>`)."""

SHORT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
"""A provider, secret, consumer or backend short name: a DNS label fragment that fits in a secret's name
(`pulumi-llm/<stack>/<name>`) and the `pulumi-llm secrets` commands (cli_secrets checks the same)."""

HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
"""A fully qualified custom domain name (lowercase, at least two labels)."""
