"""The secret-value detector (pulumi_llm.secret_values): what reads as a key or token, what reads as a name,
and masking inside any message."""

from __future__ import annotations

import secrets
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm.errors import UserError
from pulumi_llm.secret_values import MASK, SHOWN, mask, mask_secrets, secret_kind

ROOT = Path(__file__).resolve().parents[2]

# Shapes of real credentials (made-up values of the documented formats).
KEYS = {
    "sk-ant-api03-Qm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBhYmNk": "an Anthropic API key",
    "sk-proj-T3BlbkFJx9Yq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De": "an OpenAI API key",
    "sk-Zx8Cv7Bn6Mq5Wr4Et3Ty2Ui1Op0AsDfGhJk": "an OpenAI API key",
    "AIzaSyD-3xK9mQ2vL7pR4tW8nB5cJ1hF6gY0sZa": "a Google API key",
    "AKIAIOSFODNN7EXAMPLE": "an AWS access key id",
    "hf_QwErTyUiOpAsDfGhJkLzXcVbNm0123456789": "a Hugging Face token",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U": "a JSON Web Token",
    "3f8a9c2e7b1d4f6a8c0e2b4d6f8a0c2e": "an Azure key",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789": "a GitHub token",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "a long random string (a key or token)",
}

NAMES = [
    "openai",
    "litellm-master",
    "llm-internal-tls",
    "hf-token",
    "my-company-openai-api-key-secret-name",
    "0e9e39f249a16976918f6564b8830bc894c89659",  # a commit: an identifier, not a credential
    "sha256:" + "ab" * 32,
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "AmazonEC2ContainerRegistryReadOnly",
    "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b",  # a client id (GUID)
    "meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659",
]


@pytest.mark.parametrize(("value", "kind"), KEYS.items())
def test_each_kind_of_key_is_recognised(value: str, kind: str) -> None:
    assert secret_kind(value) == kind
    assert secret_kind(f"  {value}\n") == kind  # pasted with the terminal's whitespace


@pytest.mark.parametrize("value", NAMES)
def test_names_and_identifiers_are_not_secrets(value: str) -> None:
    assert secret_kind(value) is None
    assert mask_secrets(f"x = {value}: bad") == f"x = {value}: bad"


def test_random_tokens_are_mostly_caught() -> None:
    # A heuristic, so a bound: token_urlsafe(30) is what many services issue.
    caught = sum(secret_kind(secrets.token_urlsafe(30)) is not None for _ in range(500))
    alphabet = string.ascii_letters + string.digits
    caught += sum(secret_kind("".join(secrets.choice(alphabet) for _ in range(40))) is not None for _ in range(500))
    assert caught >= 850


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_no_string_of_a_shipped_stack_or_example_reads_as_a_secret() -> None:
    files = [*(ROOT / "stacks").glob("Pulumi.*.yaml"), *(ROOT / "examples").rglob("Pulumi*.yaml")]
    assert files
    for path in files:
        for value in _strings(yaml.safe_load(path.read_text())):
            assert secret_kind(value) is None, (path, value)


def test_mask_shows_at_most_the_first_characters() -> None:
    for value in KEYS:
        masked = mask(value)
        assert masked == value[:SHOWN] + MASK
        assert value not in masked


@pytest.mark.parametrize("value", KEYS)
def test_mask_secrets_masks_keys_wherever_they_sit(value: str) -> None:
    texts = [
        f"file: pulumi-llm:tags.team = {value}: must be a name",
        f'file: pulumi-llm:tags = {{"team": "{value}"}}: bad',
        f"key={value}.",
    ]
    if "/" not in value:  # inside a longer path a key with '/' has no edges to find
        texts.append(f"store://{value}/weights")
    for text in texts:
        masked = mask_secrets(text)
        assert value not in masked, masked
        assert value[:SHOWN] + MASK in masked


def test_every_user_error_is_masked() -> None:
    # The last guard: whatever built the line.
    value = "sk-proj-T3BlbkFJx9Yq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De"
    assert str(UserError(f"args.token = {value}: not allowed")) == "args.token = sk-p…: not allowed"
