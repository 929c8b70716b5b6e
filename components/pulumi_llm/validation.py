"""The shapes of values users write, one home for each: settings, components' args and the CLI check them here.

Pure (only `re`, `ipaddress` and pydantic's `Annotated` metadata): components import it without importing `settings`, and
`settings` without importing any component. Each shape is a compiled pattern, for the checks that raise
`UserError` with the key path they were given (components, CLI), and, where a settings field takes it
as is, an `Annotated` type whose JSON Schema carries the same pattern, so the stack file's editor and
the loader refuse the same values (the loader's message names the key, docs/ARCHITECTURE.md, "Errors
speak to the user"). A shape only one cloud's API has (Bedrock model ARNs, GCP project ids, APIM service
names) stays beside the args it checks.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

PATTERN_WORDS: dict[str, str] = {}
"""Each pattern a settings field carries → what it allows, in words: the loader says this instead of pydantic's
"String should match pattern '^…$'" (settings/loading.py). tests/unit/test_bad_input_wrong_key.py walks the
Settings schema and holds every pattern to an entry here."""


def described(pattern: str, words: str) -> str:
    """`pattern`, with `words` (what it allows, e.g. "HH:MM, 00:00 to 23:59") kept for the loader's message."""
    PATTERN_WORDS[pattern] = words
    return pattern


def _dns_name(max_len: int) -> re.Pattern[str]:
    return re.compile(rf"^(?=.{{1,{max_len}}}$)([a-z0-9]([a-z0-9-]{{0,61}}[a-z0-9])?\.)+[a-z]{{2,63}}$")


HOSTNAME = _dns_name(253)
"""A fully qualified custom domain name (lowercase, at least two labels)."""

MODEL_DOMAIN = _dns_name(200)
"""A domain the models' names go in front of (`<model>.<domain>`): a DNS name short enough to leave them room."""

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
"""An RFC 1035 label (Kubernetes Service and Namespace names, GCP resource names); the length is the caller's."""

GCP_NETWORK_TAG = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
"""A GCP network tag: an RFC 1035 label of at most 63 characters."""

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
"""An RFC 1123 label (may start with a digit): Kubernetes label-name parts, node pool keys, CloudWatch keys."""

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
"""An e-mail address, loosely: something@domain.tld (API Management and alert receivers check the rest)."""

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
"""An environment variable name the engine config may reference (`os.environ/<ENV>`)."""

HEADER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
"""An HTTP header name as the gateways set it (lower case, at most 63 characters), e.g. the consumer header."""

SHORT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
"""A provider, secret, consumer or backend short name: a DNS label fragment that fits in a secret's name
(`pulumi-llm/<stack>/<name>`) and the `pulumi-llm secrets` commands."""

ACM_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+$")
"""An ACM certificate ARN; `region` is where it lives (a load balancer takes one from its own region)."""

KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$")
"""A KMS key ARN (a key policy grant needs the key, not an alias)."""

KMS_KEY_OR_ALIAS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")
"""A KMS key or alias ARN (where the service resolves an alias itself, e.g. SNS encryption)."""

AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
"""An AWS region such as us-east-1."""

GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
"""A GCP region such as europe-west4."""

GCP_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
"""A GCP project id: 6 to 30 lowercase letters, digits and hyphens, starting with a letter."""

AZURE_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,}$")
"""An Azure location's programmatic name such as westeurope."""

SHA256_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
"""An image digest."""

DIGEST_REF = re.compile(r"^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$")
"""An image pinned by tag and digest: repository:tag@sha256:<64 hex>."""

CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
"""A time of day, HH:MM on a 24-hour clock."""

S3_BUCKET = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)(?!xn--|sthree-)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
"""An S3 bucket name: 3-63 lower-case letters, digits, '.' and '-', alphanumeric at both ends, no '..', not an IP
address, no reserved prefix (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)."""

OBJECT_PREFIX = re.compile(r"^[A-Za-z0-9!_.()'-]+(/[A-Za-z0-9!_.()'-]+)*$")
"""An object prefix in a bucket the stack grants by prefix: the characters a Cloud Storage IAM condition's
string literal and a sync command take without quoting (storage/gcp.check_prefix); no quotes, backslashes,
spaces or wildcards.
"""

HF_REPO_ID = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}(?<!\.git)$")
"""A Hugging Face repository id, owner/name: letters, digits, '-', '_' and '.', no '--' or '..', not ending in .git
(huggingface/huggingface_hub src/huggingface_hub/utils/_validators.py, validate_repo_id)."""

Email = Annotated[str, StringConstraints(pattern=described(EMAIL.pattern, "an email address such as ops@example.com"))]
ClockTime = Annotated[str, StringConstraints(pattern=described(CLOCK_TIME.pattern, "a time of day as HH:MM, 00:00 to 23:59"))]


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("not a network in CIDR notation such as 10.0.0.0/16 (host bits zero)") from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
"""A network in CIDR notation with its host bits zero (IPv4 or IPv6), checked in the schema whether or not the stack
reads it (a key nothing reads is refused as such, checks_effect); where it is used decides version, size and range."""
