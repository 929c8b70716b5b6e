"""models.provider-id: seeds from real recorded plans (a route's model ID changed the way a stale stack
file would have it), the regression for the review's two stale IDs, and the fact generator's helpers."""

from __future__ import annotations

from datetime import date

import pytest
from pulumi_llm.verify import clock, run_rules
from pulumi_llm.verify.facts import litellm_models
from pulumi_llm.verify.rules import provider_models

from .conftest import fired


def set_route(view, group: str, index: int, model: str) -> None:
    view.settings["gateway"]["models"][group]["routes"][index]["model"] = model


def mine(view, severity: str) -> list:
    return [v for v in run_rules(view, only=[provider_models.NAME]) if v.severity == severity]


# --- seeds ---------------------------------------------------------------------------------------


def test_seed_unknown_alias_on_dev(recorded):
    view = recorded("dev")
    set_route(view, "chat-api", 1, "claude-3-5-haiku-latest")  # an alias the pinned map does not carry
    assert fired(view) == {"models.provider-id"}
    [found] = mine(view, "error")
    assert found.resource == "gateway.models.chat-api.routes[1]" and "not in LiteLLM v1.103.1" in found.why


def test_seed_past_deprecation_on_prod(recorded):
    view = recorded("prod")
    set_route(view, "provider-large", 1, "claude-sonnet-4-20250514")  # deprecated 2026-06-15 in the map
    assert fired(view) == {"models.provider-id"}
    assert "deprecated on 2026-06-15" in mine(view, "error")[0].why


def test_seed_typo_in_a_gemini_id_on_gcp_prod(recorded):
    view = recorded("gcp-prod")
    set_route(view, "provider-small", 0, "gemini-2.5-flsh")
    assert fired(view) == {"models.provider-id"}


def test_seed_retired_openai_snapshot_on_azure_prod(recorded):
    view = recorded("azure-prod")
    set_route(view, "provider-small", 0, "gpt-4o-mini-2023-07-18")  # no such snapshot in the map
    assert fired(view) == {"models.provider-id"}


def test_seed_within_90_days_is_a_warning_not_an_error(recorded, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 4, 1))  # 75 days before 2026-06-15
    view = recorded("prod")
    set_route(view, "provider-large", 1, "claude-sonnet-4-20250514")
    assert fired(view) == set()
    [warning] = mine(view, "warning")
    assert "75 days from now" in warning.why


def test_self_hosted_and_azure_deployment_names_are_not_judged(recorded):
    view = recorded("azure-dev")
    view.settings["gateway"]["models"]["chat"]["routes"].append({"provider": "azure-openai", "model": "my-deployment"})
    assert mine(view, "error") == [] and mine(view, "warning") == []


# --- regression: the review's stale IDs (finding: stacks named IDs the engine cannot use) ----------


@pytest.mark.parametrize(
    ("stack", "group", "index"),
    [
        ("dev", "chat-api", 1),
        ("gcp-prod", "provider-small", 1),
        ("azure-prod", "provider-small", 1),
        ("prod", "provider-large", 1),
    ],
)
def test_shipped_anthropic_routes_are_known_and_current(recorded, stack, group, index):
    route = recorded(stack).settings["gateway"]["models"][group]["routes"][index]
    assert route["provider"] == "anthropic"
    assert route["model"] not in ("claude-3-5-haiku-latest", "claude-sonnet-4-20250514")
    assert litellm_models.known("anthropic", route["model"]) is True
    assert litellm_models.deprecation_date("anthropic", route["model"]) is None


def test_the_old_ids_are_what_the_rule_reports():
    assert litellm_models.known("anthropic", "claude-3-5-haiku-latest") is False
    assert litellm_models.deprecation_date("anthropic", "claude-sonnet-4-20250514") == date(2026, 6, 15)


# --- the fact generator ----------------------------------------------------------------------------


def test_extract_strips_the_family_prefix_and_keeps_only_route_families():
    sample = {
        "sample_spec": {"litellm_provider": "one of the providers"},
        "gpt-x": {"litellm_provider": "openai"},
        "gemini/gemini-x": {"litellm_provider": "gemini", "deprecation_date": "2027-01-31"},
        "command-x": {"litellm_provider": "cohere_chat"},
        "azure/gpt-x": {"litellm_provider": "azure"},
        "openrouter/anthropic/claude-x": {"litellm_provider": "openrouter"},
    }
    known, deprecation = litellm_models.extract(sample)
    assert known["openai"] == {"gpt-x"} and known["gemini"] == {"gemini-x"} and known["cohere"] == {"command-x"}
    assert known["anthropic"] == frozenset() and known["bedrock"] == frozenset()
    assert deprecation == {("gemini", "gemini-x"): "2027-01-31"}


def test_render_round_trips():
    known = {"openai": frozenset({"b", "a"}), "gemini": frozenset({"g"})}
    deprecation = {("gemini", "g"): "2027-01-31"}
    namespace: dict = {}
    exec(litellm_models.render(known, deprecation), namespace)  # noqa: S102 - our own generated source
    assert namespace["KNOWN"] == known and namespace["DEPRECATION"] == deprecation


def test_a_route_may_name_the_id_with_its_prefix():
    assert litellm_models.known("gemini", "gemini/gemini-2.5-flash") is True
    assert litellm_models.known("gemini", "gemini-2.5-flash") is True


def test_a_key_recorded_as_a_route_model_is_never_printed_whole(recorded):
    # A plan recorded before the settings refused pasted keys (R16 item 2) printed it on stderr.
    key = "sk-proj-T3BlbkFJx9Yq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De"
    view = recorded("dev")
    set_route(view, "chat-api", 1, key)
    [found] = mine(view, "error")
    assert key not in found.why and "sk-p" in found.why
