"""The rule catalogue in verify/README.md is what the registry holds, and every rule says what it proves."""

from __future__ import annotations

from pulumi_llm.verify import catalog
from pulumi_llm.verify.rules import RULES, _load


def test_every_rule_says_what_it_proves():
    """Its own docstring, or its `* name: …` bullet in the family module's docstring."""
    _load()
    assert [name for name in sorted(RULES) if len(catalog.description(name)) < 40] == []


def test_the_readme_table_equals_the_registry():
    text = catalog.README.read_text()
    assert catalog.rendered(text) == text, "regenerate: uv run python -m pulumi_llm.verify.catalog"
    assert all(f"| `{name}` |" in text for name in RULES)
