"""stacks/schema.json is current, and every stack file validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pulumi_llm.settings import stack_file_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "stacks" / "schema.json").read_text())
    assert committed == stack_file_schema(), "run: uv run pulumi-llm schema --write"


@pytest.mark.parametrize("path", sorted((ROOT / "stacks").glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_stack_files_validate_against_schema(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), stack_file_schema())


def test_schema_rejects_unknown_keys_and_documents_every_field() -> None:
    schema = stack_file_schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"config": {"pulumi-llm:servng": {}}}, schema)
    jsonschema.validate({"config": {"pulumi-llm:environment": "x", "pulumi-llm:cloud": "onprem", "aws:region": "x"}}, schema)
    props = schema["properties"]["config"]["properties"]
    assert all(spec.get("description") for key, spec in props.items()), "every top-level key is documented"
    for definition in schema["$defs"].values():
        for name, spec in definition.get("properties", {}).items():
            assert spec.get("description"), f"{definition['title']}.{name} has no description"
