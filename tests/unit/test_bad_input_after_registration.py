"""Issue 16, family 1 — checks that ran after registration: values only a component refused, after the program
had registered 13-83 resources (real creates in `pulumi up`), some as a pydantic traceback.

Each case edits a shipped stack, drives `pulumi-llm plan` in-process on a scratch project (tests/bad_input.py)
and checks what the user sees: exit 2, one line naming the stack file, the key path as written, the value and
what is allowed, nothing registered, no plan written. The safety net (a component's own refusal that the
settings let through, as one line naming the settings key) is tested by switching the settings check off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack
from pulumi_llm.errors import UserError
from pulumi_llm.settings import Settings, checks_deploy
from pulumi_llm.settings.component_errors import component_problem
from pydantic import BaseModel, ValidationError

Edit = Callable[[dict[str, Any]], None]


def refused(project: Path, base: str, edit: Edit, *parts: str) -> str:
    """Plan shipped stack `base` with `edit` applied to its config; the one line it is refused with."""
    stack = shipped_stack(base)
    edit(stack["config"])
    name = f"{base}-edited"
    bad_input.write_stack(project, name, yaml.safe_dump(stack, sort_keys=False))
    return assert_one_line_refusal(bad_input.plan(project, name), name, *parts)


def at(*path: str | int, value: Any) -> Edit:
    """An edit setting `value` at `path` (the config key, then keys below it), creating maps on the way."""

    def edit(config: dict[str, Any]) -> None:
        node: Any = config
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        node[path[-1]] = value

    return edit


def both(*edits: Edit) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        for one in edits:
            one(config)

    return edit


AWS, AZURE, GCP, GATEWAY = "pulumi-llm:aws", "pulumi-llm:azure", "pulumi-llm:gcp", "pulumi-llm:gateway"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/abc"


@pytest.mark.parametrize(
    ("base", "edit", "parts"),
    [
        # Before: 16 resources, then a pydantic traceback from AwsNetworkArgs.
        ("prod", at(AWS, "network", "cidr", value="10.0.0.0/8"), ("pulumi-llm:aws.network.cidr = 10.0.0.0/8", "allowed: /16 to /20")),
        ("prod", at(AWS, "network", "flow_logs_retention_days", value=8), ("aws.network.flow_logs_retention_days = 8", "allowed: 1, 3")),
        # Before: 75 resources, then a traceback from EksClusterArgs.
        (
            "prod",
            at(AWS, "cluster", "admin_principals", value=["arn:aws:iam::12:role/x"]),
            ("pulumi-llm:aws.cluster.admin_principals[0] = arn:aws:iam::12:role/x", "an IAM role or user ARN"),
        ),
        ("prod", at(AWS, "cluster", "kubernetes_version", value="1.20"), ("aws.cluster.kubernetes_version = 1.20", "allowed: ")),
        (
            "staging",
            at(AWS, "cluster", "public_access_cidrs", value=["10.0.0.0/8"]),
            ("aws.cluster.public_access_cidrs", "only allowed with aws.cluster.endpoint_public: true"),
        ),
        # Before: reported after 61 resources, under models.<m>.
        ("dev", at(AWS, "gpu_vm", "allowed_cidrs", value=["bogus"]), ("pulumi-llm:aws.gpu_vm.allowed_cidrs[0] = bogus", "CIDR notation")),
        ("dev", at(AWS, "gpu_vm", "schedule", "time_zone", value="Mars/Base"), ("aws.gpu_vm.schedule.time_zone = Mars/Base", "IANA")),
        (
            "dev",
            at(AWS, "gpu_vm", "schedule", "start", value="0 7 * * FUNDAY"),
            ("aws.gpu_vm.schedule.start = 0 7 * * FUNDAY", "day of week"),
        ),
        # Before: 88 resources, then "api_base: required" for a key the stack file doesn't have.
        (
            "prod",
            at(GATEWAY, "models", "provider-small", "routes", 0, "provider", value="azure-openai"),
            ("pulumi-llm:gateway.models.provider-small.routes[0].provider = azure-openai", "azure.gateway.azure_openai"),
        ),
        (
            "gcp-dev",
            at(GATEWAY, "models", "chat", "routes", 0, "provider", value="bedrock"),
            ("gateway.models.chat.routes[0].provider = bedrock", "from an AWS stack"),
        ),
        # Before: 164 resources, then a message naming bedrock_model_arns.
        ("prod", at(GATEWAY, "bedrock_models", value=["bogus model"]), ("pulumi-llm:gateway.bedrock_models[0] = bogus model",)),
        ("prod", at(GATEWAY, "secrets", value={"openai": "Bad Name!"}), ("pulumi-llm:gateway.secrets.openai = Bad Name!", "1-63")),
        # Before: 35 resources, then the AKS component's message.
        (
            "azure-prod",
            at(AZURE, "cluster", "admin_group_object_ids", value=["nope"]),
            ("azure.cluster.admin_group_object_ids[0] = nope", "GUID"),
        ),
        (
            "azure-prod",
            both(at(AZURE, "cluster", "private_cluster", value=False), at(AZURE, "cluster", "authorized_ip_ranges", value=["bogus"])),
            ("azure.cluster.authorized_ip_ranges[0] = bogus", "CIDR notation"),
        ),
        ("azure-prod", at(AZURE, "cluster", "system_vm_size", value="Bogus Size"), ("azure.cluster.system_vm_size = Bogus Size",)),
        # Before: silently accepted, then refused by Azure Monitor at deploy.
        (
            "azure-dev",
            both(at(AZURE, "alert_emails", value=[]), at(AZURE, "action_group_id", value="nope")),
            ("azure.action_group_id = nope", "actionGroups"),
        ),
        ("azure-dev", at(AZURE, "gpu_vm", "schedule", "time_zone", value="Europe/Paris"), ("azure.gpu_vm.schedule.time_zone", "Windows")),
        ("gcp-prod", at(GCP, "network", "subnet_cidr", value="8.8.0.0/20"), ("pulumi-llm:gcp.network.subnet_cidr = 8.8.0.0/20", "private")),
        # Before: 4 resources (the registry), then the image component's message without the file.
        ("edge", at("pulumi-llm:edge", "repository", value="Bad Repo"), ("pulumi-llm:edge.repository = Bad Repo", "lower-case")),
    ],
)
def test_refused_before_any_resource_registers(scratch_project: Path, base: str, edit: Edit, parts: tuple[str, ...]) -> None:
    refused(scratch_project, base, edit, *parts)


def test_the_safety_net_names_the_settings_key_when_a_component_refuses(scratch_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A gap in the settings checks: the network component is then the first to see the bad range.
    monkeypatch.setattr(checks_deploy, "check_deploy", lambda settings: None)
    stack = shipped_stack("prod")
    stack["config"][AWS]["network"]["cidr"] = "8.8.0.0/16"
    bad_input.write_stack(scratch_project, "net", yaml.safe_dump(stack, sort_keys=False))
    outcome = bad_input.plan(scratch_project, "net")
    assert outcome.code == 2, outcome
    assert outcome.stderr == [
        "stacks/Pulumi.net.yaml: pulumi-llm:aws.network.cidr = 8.8.0.0/16: '8.8.0.0/16' is not a private range; "
        "allowed inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10"
    ]
    assert outcome.written == ()


def test_a_refusal_inside_an_apply_is_one_line_at_its_key(scratch_project: Path) -> None:
    # The AWS network learns the region's zones from an invoke, so it can only refuse az_count inside an apply
    # (the offline plan's mock region has 3 zones); Pulumi wraps that ValueError in "While processing" layers.
    stack = shipped_stack("prod")
    stack["config"][AWS]["network"]["az_count"] = 6
    bad_input.write_stack(scratch_project, "zones", yaml.safe_dump(stack, sort_keys=False))
    outcome = bad_input.plan(scratch_project, "zones")
    assert outcome.code == 2, outcome
    assert outcome.stderr == [
        "stacks/Pulumi.zones.yaml: pulumi-llm:aws.network.az_count = 6: us-east-1 has 3 available zones "
        "(us-east-1a, us-east-1b, us-east-1c); lower az_count"
    ]
    assert outcome.written == ()


def test_a_component_validation_error_maps_its_field_to_the_settings_key() -> None:
    from pulumi_llm.labels import CommonLabels
    from pulumi_llm.network.aws import AwsNetworkArgs

    with pytest.raises(ValidationError) as caught:
        AwsNetworkArgs(labels=CommonLabels("s", "dev"), region="us-east-1", log_key_arn=KEY_ARN, cidr="10.0.0.0/33")
    line = component_problem(caught.value, {"aws": {"network": {"cidr": "10.0.0.0/33"}}}, "stacks/Pulumi.x.yaml")
    assert line.startswith("stacks/Pulumi.x.yaml: pulumi-llm:aws.network.cidr = 10.0.0.0/33: '10.0.0.0/33' is not an IPv4 network")
    assert "\n" not in line and len(line) <= 300


def test_a_component_user_error_is_rewritten_to_the_key_it_came_from() -> None:
    raw = {"aws": {"gpu_vm": {"schedule": {"stop": "0 20 * *"}}}, "models": {"m": {"source": "node://x.txt"}}}
    line = component_problem(UserError("pulumi-llm:models.m.schedule.stop_cron = '0 20 * *': a 5-field cron"), raw, "stacks/Pulumi.x.yaml")
    assert line == "stacks/Pulumi.x.yaml: pulumi-llm:aws.gpu_vm.schedule.stop = 0 20 * *: a 5-field cron"
    line = component_problem(UserError("models.m.model_path = /models/x.txt: a .gguf file below /models/"), raw, "stacks/Pulumi.x.yaml")
    assert line == "stacks/Pulumi.x.yaml: pulumi-llm:models.m.source = node://x.txt: a .gguf file below /models/"


def test_an_unmapped_component_error_is_still_one_line_naming_the_file() -> None:
    line = component_problem(UserError("something the settings should have caught " + "x" * 400), {}, "stacks/Pulumi.x.yaml")
    assert line.startswith("stacks/Pulumi.x.yaml: pulumi-llm: something the settings should have caught xxx")
    assert len(line) <= 300 and "\n" not in line  # the long message is cut, by the line or by UserError itself


def _route(base: str, provider: str) -> tuple[str, int]:
    """(group, index) of the first route of shipped stack `base` to `provider`."""
    groups = shipped_stack(base)["config"][GATEWAY]["models"]
    return next((g, i) for g, spec in groups.items() for i, r in enumerate(spec["routes"]) if r["provider"] == provider)


@pytest.mark.parametrize(
    ("base", "provider", "model", "hint"),
    [
        ("dev", "openai", "gpt-4o-mimi", "did you mean gpt-4o-mini?"),
        ("prod", "bedrock", "meta.llama9-instruct-v1:0", "did you mean meta.llama"),
        ("gcp-prod", "gemini", "gemini-2.5-flsh", "did you mean gemini-2.5-flash?"),
        ("azure-prod", "anthropic", "claude-haiku-4-5-2025100", "did you mean claude-haiku-4-5-20251001?"),
        ("dev", "anthropic", "claude-3-5-haiku-latest", "LiteLLM v1.103.1"),  # an alias the pinned map does not carry
    ],
)
def test_a_provider_model_id_the_engine_does_not_know_is_refused_before_registration(
    scratch_project: Path, base: str, provider: str, model: str, hint: str
) -> None:
    # Before: only the verify pass after the plan caught it (3 lines, plan written); `--no-verify` and `pulumi up` went on.
    group, index = _route(base, provider)
    line = refused(
        scratch_project,
        base,
        at(GATEWAY, "models", group, "routes", index, "model", value=model),
        f"{GATEWAY}.models.{group}.routes[{index}].model = {model}: ",
    )
    assert f"unknown {provider} model ID" in line and hint in line


def test_the_settings_accept_every_id_the_verify_fact_knows_and_judge_nothing_else() -> None:
    # One fact, two readers: the settings refuse exactly the IDs models.provider-id would call unknown.
    from pulumi_llm.settings.gateway import decide_unknown_model
    from pulumi_llm.verify.facts import litellm_models

    for provider in litellm_models.ROUTE_FAMILY:
        ids = litellm_models.known_ids(provider)
        assert ids and all(decide_unknown_model(provider, model) is None for model in ids)
        assert decide_unknown_model(provider, "no-such-model-x") is not None
    assert decide_unknown_model("openai", "openai/gpt-4o-mini") is None  # LiteLLM resolves the prefixed form too
    # An Azure OpenAI deployment and a self-hosted served name are the operator's names: the map cannot judge them.
    assert decide_unknown_model("azure-openai", "my-gpt4o-deployment") is None
    assert decide_unknown_model("self-hosted", "llama-3-1-8b-instruct") is None


def _cidr_fields() -> list[tuple[type[BaseModel], str]]:
    """(model, field) of every settings field holding a CIDR, by the names the schema gives them."""
    found: list[tuple[type[BaseModel], str]] = []
    seen: set[type[BaseModel]] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            if re.search(r"cidr|ip_ranges", name):
                found.append((model, name))
            for arg in _types_in(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    visit(arg)

    visit(Settings)
    return found


def _types_in(annotation: Any) -> list[Any]:
    args = get_args(annotation)
    return [annotation] if not args else [t for arg in args for t in _types_in(arg)]


CIDR_FIELDS = _cidr_fields()


def test_the_walk_finds_every_cidr_field_the_clouds_have() -> None:
    names = {f"{model.__name__}.{name}" for model, name in CIDR_FIELDS}
    assert {"GcpGatewaySettings.subnet_cidr", "GcpNetworkSettings.subnet_cidr", "AwsNetworkSettings.cidr"} <= names
    assert len(names) >= 8


@pytest.mark.parametrize(("model", "name"), CIDR_FIELDS, ids=[f"{m.__name__}.{n}" for m, n in CIDR_FIELDS])
def test_every_cidr_field_refuses_a_bad_network_in_the_schema_itself(model: type[BaseModel], name: str) -> None:
    # In the schema, whether or not the stack reads the key: before, gcp-dev took gcp.gateway.subnet_cidr 300.1.0.0/28
    # because only the check that runs when the gateway routes to a self-hosted model parsed it.
    many = get_origin(model.model_fields[name].annotation) is list
    for bad in ("300.1.0.0/28", "10.0.0.1/16", "10.0.0.0/33", "ten"):
        with pytest.raises(ValidationError, match="not a network in CIDR notation"):
            model.model_validate({name: [bad] if many else bad})


def test_an_unused_cidr_with_a_bad_value_is_refused_at_its_key(scratch_project: Path) -> None:
    gateway = {"domains": ["llm-dev.example.com"], "subnet_cidr": "300.1.0.0/28"}
    refused(scratch_project, "gcp-dev", at(GCP, "gateway", value=gateway), "pulumi-llm:gcp.gateway.subnet_cidr = 300.1.0.0/28", "CIDR")
