"""gateway.private-boundary on recorded plans: gcp-prod's chat group is self-hosted and falls back to
provider-small (gemini, anthropic) — a hybrid route, fine while public. Each seed makes it private in one
place only, the way a renderer or wiring mistake would, and exactly this rule fires."""

from __future__ import annotations

from typing import Any

from pulumi_llm.verify import run_rules

from .conftest import fired
from .test_wiring import _rewrite_config, _rewrite_front

RULE = "gateway.private-boundary"


def mark_chat_private(routing: dict[str, Any]) -> None:
    routing["private"] = ["chat"]


def only_self_hosted(routing: dict[str, Any]) -> None:
    routing["chains"]["chat"] = [c for c in routing["chains"]["chat"] if c["served_by"] == "self-hosted"]


def test_the_shipped_gateway_stacks_have_no_private_group_and_pass(recorded):
    for stack in ("prod", "gcp-prod", "azure-prod"):
        assert [v for v in run_rules(recorded(stack)) if v.rule == RULE] == []


def test_seed_a_private_group_whose_chain_falls_back_to_a_provider(recorded):
    view = recorded("gcp-prod")
    _rewrite_front(view, mark_chat_private)  # listed private, but its chain still reaches provider-small
    assert fired(view) == {RULE}
    [found] = [v for v in run_rules(view) if v.rule == RULE]
    assert "private group chat" in found.why and "through its fallback provider-small" in found.why and "gemini" in found.why


def test_seed_settings_say_private_but_the_routing_was_rendered_public(recorded):
    view = recorded("gcp-prod")
    view.settings["gateway"]["models"]["chat"]["boundary"] = "private"
    assert fired(view) == {RULE}
    whys = [v.why for v in run_rules(view) if v.rule == RULE]
    assert any("provider-small" in w for w in whys)
    assert any("does not list it as private" in w for w in whys)


def test_seed_a_private_groups_deployment_served_by_litellm(recorded):
    view = recorded("gcp-prod")
    _rewrite_front(view, lambda routing: (mark_chat_private(routing), only_self_hosted(routing)))

    def serve_chat(config: dict[str, Any]) -> None:
        entry = dict(config["model_list"][0])
        config["model_list"].append({**entry, "model_name": "chat/leak", "model_info": {"id": "chat/leak"}})

    _rewrite_config(view, serve_chat)
    assert fired(view) == {RULE}
    [found] = [v for v in run_rules(view) if v.rule == RULE]
    assert "LiteLLM's config serves its deployment chat/leak" in found.why


def test_a_private_chain_of_self_hosted_deployments_listed_private_passes(recorded):
    view = recorded("gcp-prod")
    _rewrite_front(view, lambda routing: (mark_chat_private(routing), only_self_hosted(routing)))
    assert RULE not in fired(view)
