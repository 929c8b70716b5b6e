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


def test_decide_families_leaves_out_the_other_clouds_families_only():
    from pulumi_llm.verify.rules import registered

    every = set(registered.FAMILIES)
    assert set(registered.decide_families("aws", ["aws:s3/bucket:Bucket"])) == every - {
        "identity_azure",
        "network_azure",
        "identity_gcp",
        "network_gcp",
    }
    assert set(registered.decide_families("onprem", ["kubernetes:core/v1:Namespace"])) == every - {
        name for names in registered.BY_CLOUD.values() for name in names
    }
    # an IAM document of an aws: resource is judged wherever the stack runs (the edge registry on any cloud)
    assert "iam_documents" in registered.decide_families("gcp", ["gcp:storage/bucket:Bucket", "aws:ecr/repository:Repository"])
    assert "identity_aws" not in registered.decide_families("gcp", ["aws:ecr/repository:Repository"])


def _rules_of(family: str):
    from pulumi_llm.verify.rules import load_families

    (module,) = load_families([family])
    return [fn for fn in RULES.values() if fn.__module__ == module.__name__]


def test_a_plan_finds_nothing_in_the_families_it_leaves_out(recorded):
    """What makes leaving them unimported safe (registered.BY_CLOUD): on every shipped stack, each family
    decide_families leaves out finds nothing; and a cloud's families find nothing in that cloud's own plan
    once it says another cloud, its resources all still theirs."""
    from pulumi_llm.verify.rules import registered

    stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (catalog.README.parents[3] / "stacks").glob("Pulumi.*.yaml"))
    assert len(stacks) >= 10
    left_out_somewhere = set()
    for stack in stacks:
        view = recorded(stack)
        kept = registered.decide_families(view.cloud, (r["type"] for r in view.resources))
        for family in set(registered.FAMILIES) - set(kept):
            left_out_somewhere.add(family)
            assert [v for fn in _rules_of(family) for v in fn(view)] == [], f"{family} on {stack}"
    assert left_out_somewhere == {name for names in registered.BY_CLOUD.values() for name in names}
    for stack, cloud, families in (
        ("prod", "aws", ("identity_aws", "network_aws")),
        ("azure-prod", "azure", ("identity_azure", "network_azure")),
        ("gcp-prod", "gcp", ("identity_gcp", "network_gcp")),
    ):
        view = recorded(stack)
        assert view.cloud == cloud
        view.settings["cloud"] = "onprem"
        for family in families:
            assert [v for fn in _rules_of(family) for v in fn(view)] == [], f"{family} on {stack} as onprem"
