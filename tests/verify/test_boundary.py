"""gateway.private-boundary on recorded plans: gcp-prod's chat group is self-hosted and falls back to
provider-small (gemini, anthropic) — a hybrid route, fine while public. Each seed makes it private in one
place only, the way a renderer or wiring mistake would, and exactly this rule fires."""

from __future__ import annotations

from typing import Any

from pulumi_llm.gateway.boundary import PRIVATE_MARK
from pulumi_llm.gateway.boundary_hook import HOOK_CALLBACK
from pulumi_llm.verify import run_rules

from .conftest import fired
from .test_wiring import _rewrite_config

RULE = "gateway.private-boundary"


def mark_chat_private(config: dict[str, Any]) -> None:
    for entry in config["model_list"]:
        if entry["model_name"] == "chat":
            entry["model_info"][PRIVATE_MARK] = "private"
    config["litellm_settings"]["callbacks"] = [HOOK_CALLBACK]


def test_the_shipped_gateway_stacks_have_no_private_group_and_pass(recorded):
    for stack in ("prod", "gcp-prod", "azure-prod"):
        assert [v for v in run_rules(recorded(stack)) if v.rule == RULE] == []


def test_seed_a_private_group_whose_engine_config_falls_back_to_a_provider(recorded):
    view = recorded("gcp-prod")
    _rewrite_config(view, mark_chat_private)  # marked private, but still falling back to provider-small
    assert fired(view) == {RULE}
    [found] = [v for v in run_rules(view) if v.rule == RULE]
    assert "chat" in found.why and "fallbacks[0] = provider-small" in found.why and "gemini" in found.why


def test_seed_settings_say_private_but_the_engine_config_was_rendered_public(recorded):
    view = recorded("gcp-prod")
    view.settings["gateway"]["models"]["chat"]["boundary"] = "private"
    assert fired(view) == {RULE}
    whys = [v.why for v in run_rules(view) if v.rule == RULE]
    assert any("provider-small" in w for w in whys)
    assert any(f"lack model_info.{PRIVATE_MARK}" in w for w in whys)
    assert any(HOOK_CALLBACK in w for w in whys)


def test_seed_a_private_chain_of_self_hosted_deployments_without_the_hook(recorded):
    view = recorded("gcp-prod")

    def private_without_fallback_or_hook(config: dict[str, Any]) -> None:
        mark_chat_private(config)
        config["router_settings"]["fallbacks"] = []
        del config["litellm_settings"]["callbacks"]

    _rewrite_config(view, private_without_fallback_or_hook)
    assert fired(view) == {RULE}
    [found] = [v for v in run_rules(view) if v.rule == RULE]
    assert HOOK_CALLBACK in found.why


def test_a_private_chain_of_self_hosted_deployments_with_the_hook_passes(recorded):
    view = recorded("gcp-prod")

    def private_and_inside(config: dict[str, Any]) -> None:
        mark_chat_private(config)
        config["router_settings"]["fallbacks"] = []

    _rewrite_config(view, private_and_inside)
    assert RULE not in fired(view)
