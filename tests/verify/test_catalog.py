"""The rule catalogue in verify/README.md is what the registry holds, and every rule says what it proves."""

from __future__ import annotations

from pulumi_llm.verify import catalog
from pulumi_llm.verify.rules import RULES, load_families


def test_every_rule_says_what_it_proves():
    """Its own docstring, or its `* name: …` bullet in the family module's docstring."""
    load_families()
    assert [name for name in sorted(RULES) if len(catalog.description(name)) < 40] == []


def test_the_readme_table_equals_the_registry():
    text = catalog.README.read_text()
    assert catalog.rendered(text) == text, "regenerate: uv run python -m pulumi_llm.verify.catalog"
    assert all(f"| `{name}` |" in text for name in RULES)


def test_every_family_module_is_loaded_and_holds_every_rule():
    """registered.FAMILIES is exactly the set of modules the registered rules live in."""
    families = {module.__name__ for module in load_families()}
    assert {fn.__module__ for fn in RULES.values()} == families
