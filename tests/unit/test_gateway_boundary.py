"""Private model groups (issue 20, item 3): a group marked `boundary: private` reaches no external provider —
refused in the stack file (one line, exit 2) and in the component's spec, rendered without provider
deployments and with the engine hook that turns "nothing can serve" into 503 + Retry-After."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack
from pulumi_llm.errors import UserError
from pulumi_llm.gateway.boundary import PRIVATE_MARK, decide_boundary_breach
from pulumi_llm.gateway.boundary_hook import HOOK_CALLBACK, HOOK_MODULE
from pulumi_llm.gateway.boundary_hook import SOURCE as HOOK_SOURCE
from pulumi_llm.gateway.config import GatewaySpec, ModelGroup, ProviderRoute, render_litellm_config, to_yaml
from pulumi_llm.gateway.engine import BOOT, BOOT_WITH_SECRET_FILES, boot

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


def test_a_private_group_renders_only_self_hosted_deployments_marked_private_and_the_hook() -> None:
    config = render_litellm_config(
        spec(
            ModelGroup("chat", (SELF,), fallbacks=("spare",), boundary="private"),
            ModelGroup("spare", (SPARE,), boundary="private"),
            ModelGroup("api", (OPENAI,), fallbacks=("chat",)),  # a public group may fall back to a private one
        )
    )
    private = {m["model_name"] for m in config["model_list"] if m["model_info"].get(PRIVATE_MARK) == "private"}
    assert private == {"chat", "spare"}
    assert {m["litellm_params"]["model"] for m in config["model_list"] if m["model_name"] in private} == {"hosted_vllm/llama"}
    assert config["router_settings"]["fallbacks"] == [{"chat": ["spare"]}, {"api": ["chat"]}]
    assert config["litellm_settings"]["callbacks"] == [HOOK_CALLBACK]


def test_without_a_private_group_nothing_changes() -> None:
    config = render_litellm_config(spec(ModelGroup("chat", (SELF,), fallbacks=("api",)), ModelGroup("api", (OPENAI,))))
    assert "callbacks" not in config["litellm_settings"]
    assert all(set(m["model_info"]) == {"id"} for m in config["model_list"])


# --------------------------------------------------------------------------------------------
# The boot writes the hook's module beside the config only when the config names it


def test_the_boot_is_unchanged_without_the_hook() -> None:
    text = to_yaml(render_litellm_config(spec(ModelGroup("chat", (SELF,)))))
    assert boot(text) == BOOT
    assert boot(text, BOOT_WITH_SECRET_FILES) == BOOT_WITH_SECRET_FILES


def test_the_boot_writes_the_hook_before_the_engine_starts(tmp_path: Path) -> None:
    text = to_yaml(render_litellm_config(spec(ModelGroup("chat", (SELF,), boundary="private"))))
    for base in (BOOT, BOOT_WITH_SECRET_FILES):
        script = boot(text, base)
        write = f"open('/tmp/{HOOK_MODULE}.py', 'w')"
        assert write in script and script.index(write) < script.index("os.execvp")
        compile(script, "<boot>", "exec")
    # What it writes is the hook's source, which is valid Python naming the mark the renderer sets.
    compile(HOOK_SOURCE, f"{HOOK_MODULE}.py", "exec")
    assert repr(PRIVATE_MARK) in HOOK_SOURCE
    assert HOOK_CALLBACK == f"{HOOK_MODULE}.handler" and "\nhandler = " in HOOK_SOURCE


def test_the_aws_and_azure_engine_containers_boot_with_the_hook_only_for_a_private_config() -> None:
    from pulumi_llm.gateway.aws import container_definitions
    from pulumi_llm.gateway.azure import engine_container

    def commands(config_yaml: str) -> tuple[str, str]:
        [_, aws_engine] = json.loads(
            container_definitions(
                image="img", config_yaml=config_yaml, secrets={}, environment={}, region="us-east-1", log_group="g", stream_prefix="p"
            )
        )
        azure_engine = engine_container(
            image="img", config_yaml=config_yaml, secrets={}, environment={}, client_id="id", cpu=1, memory_gib=2
        )
        # ContainerArgsDict types command as an optional Pulumi input; here it is a plain list of strings.
        azure_command = azure_engine.get("command")
        assert isinstance(azure_command, list)
        azure_boot = azure_command[-1]
        assert isinstance(azure_boot, str)
        return aws_engine["entryPoint"][-1], azure_boot

    public = to_yaml(render_litellm_config(spec(ModelGroup("chat", (SELF,)))))
    private = to_yaml(render_litellm_config(spec(ModelGroup("chat", (SELF,), boundary="private"))))
    assert commands(public) == (BOOT, BOOT)
    assert commands(private) == (boot(private), boot(private)) and boot(private) != BOOT
