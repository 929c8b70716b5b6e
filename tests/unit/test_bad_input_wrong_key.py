"""Issue 16, family 3 — the wrong key named: a message must name the key path as the user wrote it in the stack
file, never the component argument it became (`models.<m>.schedule`, `model_path`, `gateway.domains`,
`bedrock_model_arns`), nor the whole model map when one of its keys is at fault.

Each case edits a shipped stack and drives `pulumi-llm plan` in-process on a scratch project (tests/bad_input.py):
exit 2, one line naming the stack file and the key as written, nothing registered, no plan written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack


def refused(project: Path, base: str, config: dict[str, Any], *parts: str) -> str:
    stack = shipped_stack(base)
    for key, value in config.items():
        stack["config"][key] = value
    name = f"{base}-edited"
    bad_input.write_stack(project, name, yaml.safe_dump(stack, sort_keys=False))
    return assert_one_line_refusal(bad_input.plan(project, name), name, *parts)


def edited(base: str, key: str, update: dict[str, Any]) -> dict[str, Any]:
    """The value of config `key` of shipped stack `base`, with `update` merged one level down."""
    value = shipped_stack(base)["config"][key]
    for sub, change in update.items():
        value[sub] = {**value[sub], **change} if isinstance(change, dict) and isinstance(value.get(sub), dict) else change
    return {key: value}


MODEL = "llama-3-1-8b-instruct"


@pytest.mark.parametrize(
    ("base", "config", "key", "not_named"),
    [
        # Was models.<m>.schedule.time_zone: the GPU VM component's path, not the stack file's.
        (
            "dev",
            edited("dev", "pulumi-llm:aws", {"gpu_vm": {"schedule": {"stop": "0 20 * * *", "start": "0 7 * * *", "time_zone": "CEST"}}}),
            "pulumi-llm:aws.gpu_vm.schedule.time_zone = CEST",
            "models.",
        ),
        # Was models.<m> = {the whole model}: gpus = 3: …
        ("onprem", edited("onprem", "pulumi-llm:models", {MODEL: {"gpus": 3}}), f"pulumi-llm:models.{MODEL}.gpus = 3", "{"),
        (
            "dev",
            edited("dev", "pulumi-llm:models", {MODEL: {"instance_type": "m5.large"}}),
            f"pulumi-llm:models.{MODEL}.instance_type",
            "{",
        ),
        (
            "edge",
            edited("edge", "pulumi-llm:models", {"llama-3-2-3b": {"quantization": "awq"}}),
            "pulumi-llm:models.llama-3-2-3b.quantization = awq",
            "{",
        ),
        # Was models.<m> = {…}: no instance type of the Karpenter families m5 …
        (
            "prod",
            edited("prod", "pulumi-llm:aws", {"cluster": {"gpu_instance_families": ["m5"]}}),
            "pulumi-llm:aws.cluster.gpu_instance_families[0] = m5",
            "{",
        ),
        # Was model_path, after 13 resources.
        (
            "edge",
            edited("edge", "pulumi-llm:models", {"llama-3-2-3b": {"source": "node://model.bin"}}),
            "pulumi-llm:models.llama-3-2-3b.source = node://model.bin",
            "model_path",
        ),
        # Was gateway.domains (the component's argument), after the registrations before it.
        (
            "gcp-prod",
            edited("gcp-prod", "pulumi-llm:gcp", {"gateway": {"domains": ["https://llm.example.com"]}}),
            "pulumi-llm:gcp.gateway.domains[0] = https://llm.example.com",
            "pulumi-llm:gateway.domains",
        ),
        # Was bedrock_model_arns (the ARN the component builds), after 164 resources.
        (
            "prod",
            edited("prod", "pulumi-llm:gateway", {"bedrock_models": ["meta.llama3 70b"]}),
            "pulumi-llm:gateway.bedrock_models[0] = meta.llama3 70b",
            "bedrock_model_arns",
        ),
    ],
)
def test_the_message_names_the_key_as_written(scratch_project: Path, base: str, config: dict[str, Any], key: str, not_named: str) -> None:
    line = refused(scratch_project, base, config, key)
    message = line.split(key, 1)[1]
    assert not_named not in message, line


def test_a_misspelt_config_key_is_named_with_a_did_you_mean(scratch_project: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.dev.yaml").read_text().replace("\nconfig:", "\nconfg:")
    bad_input.write_stack(scratch_project, "typo", text)
    line = assert_one_line_refusal(bad_input.plan(scratch_project, "typo"), "typo", "confg: unknown top-level key (did you mean config?)")
    assert "environment" not in line
    assert line.endswith("allowed: config, secretsprovider, encryptedkey, encryptionsalt")


def _message_texts(path: Path) -> list[str]:
    """The literal text of every FieldProblem(...) and UserError(...) message in a module (f-string parts too)."""
    import ast

    texts: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("FieldProblem", "UserError"):
            for arg in node.args:
                texts.extend(c.value for c in ast.walk(arg) if isinstance(c, ast.Constant) and isinstance(c.value, str))
    return texts


def test_every_key_a_settings_message_names_is_a_key_of_the_stack_file() -> None:
    """A message that tells the user to set `aws.model_tls` or `onprem.ingress.install` must name a key the
    schema accepts, not one it refuses (or one that moved)."""
    import re
    import typing

    from pulumi_llm.settings import Settings
    from pulumi_llm.settings.loading import unwrap_annotation
    from pydantic import BaseModel

    package = Path(__file__).resolve().parents[2] / "components" / "pulumi_llm"
    modules = [p for p in (package / "settings").glob("*.py") if p.name != "moved.py"] + [package / "serving.py"]
    tops = "|".join(sorted(Settings.model_fields, key=len, reverse=True))
    key_path = re.compile(rf"(?<![\w./-])((?:{tops})(?:\.[a-z_][a-z0-9_]*)+)")

    def resolves(path: str) -> bool:
        node: Any = Settings
        for part in path.split("."):
            if isinstance(node, type) and issubclass(node, BaseModel):
                if part not in node.model_fields:
                    return False
                node = unwrap_annotation(node.model_fields[part].annotation)
            elif typing.get_origin(node) in (dict, list):
                node = unwrap_annotation(typing.get_args(node)[-1])  # the part is the user's own name (a model, a pool)
            else:
                return True
        return True

    named = {(module.name, path) for module in modules for text in _message_texts(module) for path in key_path.findall(text)}
    # a domain (models.internal.example.com) or a module (aws.py) is not a key path
    named = {(module, path) for module, path in named if path.rsplit(".", 1)[-1] not in ("com", "org", "io", "py")}
    assert len(named) >= 20, named
    assert named, "the scan found no key in any message"
    assert not {(module, path) for module, path in named if not resolves(path)}


@pytest.mark.parametrize(
    ("typo", "parts"),
    [
        ("g99.mega", ("known: g4dn.", ", … ")),  # nothing close: the stack's own cloud's types, cut
        ("g6.xlarg", ("did you mean g6.xlarge",)),
    ],
)
def test_an_unknown_instance_type_is_answered_in_the_stacks_own_cloud(scratch_project: Path, typo: str, parts: tuple[str, ...]) -> None:
    # Before: an AWS stack's typo listed twelve Azure sizes in a 439-character line, with no did-you-mean.
    models = edited("dev", "pulumi-llm:models", {MODEL: {"instance_type": typo}})
    line = refused(scratch_project, "dev", models, f"models.{MODEL}.instance_type = {typo}", *parts)
    assert "Standard_" not in line
    assert len(line) <= 300


def test_size_with_an_unknown_instance_lists_a_cut_catalog() -> None:
    outcome = bad_input.main(["size", "llama-3.1-8b-instruct", "--instance", "g99.huge"])
    assert outcome.code == 2
    [line] = outcome.stderr
    assert line.endswith(" more") and ", … " in line and len(line) <= 300
    [aws] = bad_input.main(["size", "llama-3.1-8b-instruct", "--instance", "g99.huge", "--cloud", "aws"]).stderr
    assert "known: g4dn." in aws and "Standard_" not in aws and "a2-" not in aws


def test_every_list_of_allowed_values_is_cut_to_one_line() -> None:
    from pulumi_llm.choices import allowed, listing

    names = [f"value-{i:03d}" for i in range(100)]
    assert listing(names).endswith(", value-012, … 87 more") and len(listing(names)) <= 150 + len(", … 87 more")
    assert listing(["a", "b"]) == "a, b"
    assert allowed("spto", ["on-demand", "spot"]) == "did you mean spot? allowed: on-demand, spot"
    assert allowed("zzz", names).startswith("allowed: value-000, ")


@pytest.mark.parametrize(
    ("gcp", "key", "says"),
    [
        # Only the workload subnet written: it is named, with its value, against the gateway subnet's default.
        (
            {"network": {"subnet_cidr": "10.40.18.0/26"}},
            "gcp.network.subnet_cidr = 10.40.18.0/26",
            "the default of gcp.gateway.subnet_cidr",
        ),
        # Only the gateway subnet written: the same the other way round.
        ({"gateway": {"subnet_cidr": "10.40.0.0/24"}}, "gcp.gateway.subnet_cidr = 10.40.0.0/24", "the default of gcp.network.subnet_cidr"),
        # Both written: both named, each with its value.
        (
            {"network": {"subnet_cidr": "10.60.0.0/20"}, "gateway": {"subnet_cidr": "10.60.0.0/24"}},
            "gcp.gateway.subnet_cidr = 10.60.0.0/24",
            "gcp.network.subnet_cidr = 10.60.0.0/20",
        ),
    ],
)
def test_an_overlap_names_the_key_the_user_wrote(scratch_project: Path, gcp: dict[str, Any], key: str, says: str) -> None:
    # Before: gcp-prod with only gcp.network.subnet_cidr set was reported on gcp.gateway.subnet_cidr, a key the
    # file never wrote, without a value.
    shipped = shipped_stack("gcp-prod")["config"]["pulumi-llm:gcp"]
    gateway = {**shipped["gateway"], **gcp.get("gateway", {})}
    line = refused(scratch_project, "gcp-prod", {"pulumi-llm:gcp": {**shipped, **gcp, "gateway": gateway}}, key, says)
    assert "overlaps" in line


def test_equal_schedule_times_name_the_time_written(scratch_project: Path) -> None:
    # Only stop written, equal to start's default 07:00: stop is named, against start's default.
    azure = shipped_stack("azure-dev")["config"]["pulumi-llm:azure"]
    azure["gpu_vm"]["schedule"] = {"stop": "07:00", "time_zone": "UTC"}
    refused(
        scratch_project,
        "azure-dev",
        {"pulumi-llm:azure": azure},
        "azure.gpu_vm.schedule.stop = 07:00",
        "the default of azure.gpu_vm.schedule.start (07:00)",
    )
    azure["gpu_vm"]["schedule"] = {"start": "20:00", "time_zone": "UTC"}
    refused(
        scratch_project,
        "azure-dev",
        {"pulumi-llm:azure": azure},
        "azure.gpu_vm.schedule.start = 20:00",
        "the default of azure.gpu_vm.schedule.stop (20:00)",
    )


def test_equal_node_selectors_name_the_selector_written(scratch_project: Path) -> None:
    edge = shipped_stack("edge")["config"]
    edge["pulumi-llm:edge"]["jetson"]["node_selector"] = {"pulumi-llm.dev/edge": "true"}
    del edge["pulumi-llm:edge"]["node_selector"]
    refused(scratch_project, "edge", edge, "edge.jetson.node_selector = ", "the default of edge.node_selector (pulumi-llm.dev/edge=true)")


def _patterns(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(v) for k, v in node.items() if k == "pattern"}
        return found.union(*(_patterns(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(v) for v in node))
    return set()


def test_every_pattern_of_the_schema_is_said_in_words() -> None:
    from pulumi_llm.settings import Settings
    from pulumi_llm.validation import PATTERN_WORDS

    patterns = _patterns(Settings.model_json_schema())
    assert patterns, "the schema has patterns to check"
    assert sorted(p for p in patterns if p not in PATTERN_WORDS) == []


@pytest.mark.parametrize(
    ("base", "key", "update", "written", "words"),
    [
        ("gcp-prod", "pulumi-llm:gcp", {"project": "Acme_Prod"}, "gcp.project = Acme_Prod", "a GCP project id: 6-30 lower-case"),
        ("gcp-prod", "pulumi-llm:gcp", {"alert_emails": ["oncall"]}, "gcp.alert_emails[0] = oncall", "an email address"),
        ("edge", "pulumi-llm:edge", {"image_tag": "-bad"}, "edge.image_tag = -bad", "an image tag"),
        ("edge", "pulumi-llm:edge", {"llama_cpp_sha256": "ABC"}, "edge.llama_cpp_sha256 = ABC", "a sha256: 64 lower-case hex digits"),
        (
            "azure-dev",
            "pulumi-llm:azure",
            {"gateway": {"publisher_email": "ops"}},
            "azure.gateway.publisher_email = ops",
            "an email address",
        ),
        (
            "azure-dev",
            "pulumi-llm:azure",
            {"gpu_vm": {"schedule": {"start": "07:00", "stop": "25:00"}}},
            "azure.gpu_vm.schedule.stop = 25:00",
            "a time of day as HH:MM",
        ),
    ],
)
def test_a_value_of_the_wrong_form_is_told_what_is_allowed_in_words(
    scratch_project: Path, base: str, key: str, update: dict[str, Any], written: str, words: str
) -> None:
    # Before: "String should match pattern '^[a-z][a-z0-9-]{4,28}[a-z0-9]$'" and the like.
    line = refused(scratch_project, base, edited(base, key, update), written, f"must be {words}")
    assert "should match pattern" not in line


def test_a_misspelt_gateway_model_gets_a_did_you_mean_before_the_list(scratch_project: Path) -> None:
    gateway = shipped_stack("prod")["config"]["pulumi-llm:gateway"]
    gateway["models"]["chat"]["fallbacks"] = ["provider-smal"]
    line = refused(
        scratch_project,
        "prod",
        {"pulumi-llm:gateway": gateway},
        "gateway.models.chat.fallbacks",
        "did you mean provider-small or provider-large? defined: ",
    )
    assert len(line) <= 300
