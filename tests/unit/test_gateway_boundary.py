"""Private model groups (issue 20, item 3): a group marked `boundary: private` reaches no external provider —
refused in the stack file (one line, exit 2) and in the component's spec; its chain is the front's and holds
no provider, and nothing of it is rendered for LiteLLM (the front turns "nothing can serve" into 503 +
Retry-After)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack
from pulumi_llm.errors import UserError
from pulumi_llm.gateway.boundary import decide_boundary_breach
from pulumi_llm.gateway.config import GatewaySpec, ModelGroup, ProviderRoute, render_litellm_config
from pulumi_llm.gateway.front_contract import SELF_HOSTED
from pulumi_llm.gateway.routing import decide_chains, routing_document

# --------------------------------------------------------------------------------------------
# decide_boundary_breach: pure


def test_a_private_group_of_self_hosted_routes_and_private_fallbacks_has_no_breach() -> None:
    providers = {"chat": ["self-hosted"], "spare": ["self-hosted", "self-hosted"], "public": ["openai"]}
    assert decide_boundary_breach(["chat"], providers, {"chat": ["spare"], "public": ["chat"]}) is None


def test_an_external_route_of_a_private_group_is_its_breach() -> None:
    breach = decide_boundary_breach(["chat"], {"chat": ["self-hosted", "anthropic"]}, {})
    assert breach is not None
    assert (breach.key, breach.value, breach.reached, breach.provider) == ("routes[1].provider", "anthropic", "chat", "anthropic")


def test_a_fallback_chain_is_followed_to_its_external_provider() -> None:
    providers = {"chat": ["self-hosted"], "a": ["self-hosted"], "a2": ["self-hosted"], "b": ["self-hosted"], "c": ["gemini"]}
    fallbacks = {"chat": ["a", "b"], "a": ["a2"], "a2": ["a"], "b": ["c"]}  # a cycle a ↔ a2 (all self-hosted), then b → c
    breach = decide_boundary_breach(["chat"], providers, fallbacks)
    assert breach is not None
    assert (breach.group, breach.key, breach.value, breach.reached, breach.provider) == ("chat", "fallbacks[1]", "b", "c", "gemini")
    assert "falls back only" in breach.reason()


def test_public_groups_are_not_checked() -> None:
    assert decide_boundary_breach([], {"chat": ["openai"]}, {"chat": ["x"], "x": ["cohere"]}) is None


# --------------------------------------------------------------------------------------------
# The stack file: one line, exit 2, nothing registered


def private_chat(base: str, **change: Any) -> dict[str, Any]:
    stack = shipped_stack(base)
    gateway = stack["config"]["pulumi-llm:gateway"]
    gateway["models"]["chat"].update({"boundary": "private", **change})
    return stack


def refused(project: Path, stack: dict[str, Any], *parts: str) -> str:
    bad_input.write_stack(project, "private", yaml.safe_dump(stack, sort_keys=False))
    return assert_one_line_refusal(bad_input.plan(project, "private"), "private", *parts)


def test_a_private_route_that_falls_back_to_a_provider_exits_2_with_one_line(scratch_project: Path) -> None:
    # gcp-prod's chat is self-hosted and falls back to provider-small (gemini, anthropic).
    line = refused(scratch_project, private_chat("gcp-prod"), "pulumi-llm:gateway.models.chat.fallbacks[0] = provider-small")
    assert "gemini" in line and "private" in line


def test_a_private_group_with_a_provider_route_exits_2_naming_the_route(scratch_project: Path) -> None:
    stack = private_chat("gcp-prod", fallbacks=[])
    stack["config"]["pulumi-llm:gateway"]["models"]["chat"]["routes"].append({"provider": "openai", "model": "gpt-4o-mini"})
    line = refused(scratch_project, stack, "pulumi-llm:gateway.models.chat.routes[1].provider = openai")
    assert "external provider" in line


def test_a_boundary_other_than_public_or_private_is_refused(scratch_project: Path) -> None:
    line = refused(scratch_project, private_chat("gcp-prod", boundary="internal"), "pulumi-llm:gateway.models.chat.boundary = internal")
    assert "public" in line and "private" in line


# --------------------------------------------------------------------------------------------
# The component's spec and the rendered engine config

SELF = ProviderRoute("vllm", "self-hosted", "llama", api_base="http://10.0.0.5:8000/v1")
SPARE = ProviderRoute("vllm-spare", "self-hosted", "llama", api_base="http://10.0.0.6:8000/v1")
OPENAI = ProviderRoute("openai", "openai", "gpt-4o-mini", secret_env="OPENAI_API_KEY")


def spec(*groups: ModelGroup) -> GatewaySpec:
    return GatewaySpec(model_groups=groups)


def test_the_spec_refuses_a_private_group_that_falls_back_to_a_provider() -> None:
    bad = spec(ModelGroup("chat", (SELF,), fallbacks=("api",), boundary="private"), ModelGroup("api", (OPENAI,)))
    with pytest.raises(UserError, match=r"^gateway\.models\.chat\.fallbacks\[0\] = 'api': chat is private.*openai"):
        render_litellm_config(bad)


def test_the_spec_refuses_an_unknown_boundary() -> None:
    with pytest.raises(UserError, match=r"models\.chat\.boundary = 'secret': allowed public, private"):
        render_litellm_config(spec(ModelGroup("chat", (SELF,), boundary="secret")))


def test_a_private_group_renders_nothing_for_litellm_and_no_hook() -> None:
    s = spec(
        ModelGroup("chat", (SELF,), fallbacks=("spare",), boundary="private"),
        ModelGroup("spare", (SPARE,), boundary="private"),
        ModelGroup("api", (OPENAI,), fallbacks=("chat",)),  # a public group may fall back to a private one
    )
    config = render_litellm_config(s)
    # Only the provider route is LiteLLM's; the private chain is the front's, and it holds no provider.
    assert [m["model_name"] for m in config["model_list"]] == ["api/openai"]
    assert config["model_list"][0]["model_info"] == {"id": "api/openai"}  # no private mark: nothing private is LiteLLM's
    assert "fallbacks" not in config["router_settings"]
    # The front answers 503 + Retry-After itself: LiteLLM loads no boundary hook.
    assert "callbacks" not in config["litellm_settings"]
    chains = decide_chains(s)
    assert [c.served_by for c in chains["chat"]] == [SELF_HOSTED, SELF_HOSTED]
    assert routing_document(s)["private"] == ["chat", "spare"]
