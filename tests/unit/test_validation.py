"""validation.py is the one home of the value shapes: nothing else in the package writes one of its patterns
again, and its Annotated types refuse what its patterns refuse, with the pattern in the JSON Schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pulumi_llm import validation
from pydantic import TypeAdapter, ValidationError

PACKAGE = Path(validation.__file__).parent
PATTERNS = {name: value.pattern for name, value in vars(validation).items() if isinstance(value, re.Pattern)}


def _bodies(pattern: str) -> set[str]:
    """The pattern as a source file would spell it: anchored or not (for re.fullmatch)."""
    return {pattern, pattern.removeprefix("^").removesuffix("$")}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_no_module_restates_a_shared_pattern(name):
    restated = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "validation.py" and any(f'r"{body}"' in path.read_text() for body in _bodies(PATTERNS[name]))
    ]
    assert restated == [], f"{name} is written again in {restated}: import it from pulumi_llm.validation"


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (validation.HOSTNAME, "llm.example.com", "llm_example.com"),
        (validation.MODEL_DOMAIN, "models.internal.example.com", "a." * 100 + "com"),
        (validation.ACM_CERTIFICATE_ARN, "arn:aws:acm:eu-west-1:123456789012:certificate/abc-1", "arn:aws:acm:eu-west-1:1:certificate/x"),
        (validation.AWS_REGION, "us-east-1", "useast1"),
        (validation.GCP_REGION, "europe-west4", "europe-west4-a"),
        (validation.AZURE_LOCATION, "westeurope", "West Europe"),
        (validation.DIGEST_REF, "docker.io/x/y:1@sha256:" + "a" * 64, "docker.io/x/y:1"),
        (validation.DNS_LABEL, "llm-dev", "1llm"),
        (validation.DNS1123_LABEL, "1llm", "llm-"),
    ],
)
def test_patterns_accept_and_refuse(pattern, good, bad):
    assert pattern.match(good) and not pattern.match(bad)


def test_acm_arn_names_its_region():
    found = validation.ACM_CERTIFICATE_ARN.match("arn:aws:acm:eu-west-1:123456789012:certificate/abc")
    assert found is not None and found.group("region") == "eu-west-1"


@pytest.mark.parametrize(
    ("annotated", "pattern", "good", "bad"),
    [
        (validation.Email, validation.EMAIL, "ops@example.com", "ops@example"),
        (validation.ClockTime, validation.CLOCK_TIME, "07:30", "24:00"),
    ],
)
def test_annotated_types_refuse_what_their_pattern_refuses(annotated, pattern, good, bad):
    adapter = TypeAdapter(annotated)
    assert adapter.validate_python(good) == good
    with pytest.raises(ValidationError):
        adapter.validate_python(bad)
    assert adapter.json_schema() == {"type": "string", "pattern": pattern.pattern}
