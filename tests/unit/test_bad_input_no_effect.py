"""Issue 16, family 7 — keys with no effect: a misspelt namespace, no method, a block of another cloud or of a
method the stack doesn't enable. Each is refused (settings/checks_effect.py says why refused, not warned), with
the key it was meant to be where there is one.

Each case edits a shipped stack and drives `pulumi-llm plan` in-process (tests/bad_input.py): exit 2, one line
naming the stack file, the key path as written, the value and what to do, nothing registered, no plan written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack
from pulumi_llm.settings import Settings
from pulumi_llm.settings.checks_effect import READ_BY, READ_IN_MODE, misspelt_namespace

GATEWAY = {
    "models": {"chat": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
    "consumers": {"team": {"models": ["chat"], "requests_per_day": 1000}},
}


def refused(project: Path, base: str, set_: dict[str, Any], *parts: str, drop: tuple[str, ...] = ()) -> str:
    stack = shipped_stack(base)
    for key in drop:
        del stack["config"][key]
    stack["config"].update(set_)
    name = f"{base}-edited"
    bad_input.write_stack(project, name, yaml.safe_dump(stack, sort_keys=False))
    return assert_one_line_refusal(bad_input.plan(project, name), name, *parts)


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("pulumi-lm:cloud", "pulumi-llm:cloud"),
        ("pulumi_llm:region", "pulumi-llm:region"),
        ("Pulumi-LLM:environment", "pulumi-llm:environment"),
        ("pulumillm:tags", "pulumi-llm:tags"),
        ("pulumi-llms:serving", "pulumi-llm:serving"),
        ("pulumi:methods", "pulumi-llm:methods"),
    ],
)
def test_a_misspelt_namespace_is_refused_with_the_key_it_was_meant_to_be(scratch_project: Path, key: str, meant: str) -> None:
    # Before: dropped without a word, so a stack ran with the default instead.
    refused(scratch_project, "dev", {key: "x"}, f"{key} = x", f"did you mean {meant}?", "no effect")


def test_other_namespaces_are_not_ours_to_judge() -> None:
    fields = Settings.model_fields
    for key in ("pulumi:disable-default-providers", "aws:region", "azure-native:location", "kubernetes:context", "gcp:project"):
        assert misspelt_namespace(key, fields) is None
    assert misspelt_namespace("pulumi-llm:cloud", fields) is None


@pytest.mark.parametrize(
    ("key", "value", "nest"),
    [
        ("pulumi-llm:serving.replicas.max", 2, "serving: {replicas.max: …}"),
        ("pulumi-llm:aws.gpu_vm.spot_percentage", 50, "aws: {gpu_vm.spot_percentage: …}"),
    ],
)
def test_a_dotted_key_written_flat_is_refused_with_how_to_nest_it(scratch_project: Path, key: str, value: int, nest: str) -> None:
    # Before: "unknown key" and the list of top-level keys, which has the first part of the dotted key in it.
    refused(scratch_project, "dev", {key: value}, f"{key} = {value}", nest, f"pulumi config set --path {key}")


@pytest.mark.parametrize("methods", [[], None])
def test_a_stack_with_no_method_is_refused(scratch_project: Path, methods: list[str] | None) -> None:
    # Before: a plan of nothing but a provider, and `pulumi up` deploying nothing.
    set_ = {} if methods is None else {"pulumi-llm:methods": methods}
    drop = ("pulumi-llm:methods",) if methods is None else ()
    refused(scratch_project, "dev", set_, "pulumi-llm:methods", "at least one method is required", drop=drop)


@pytest.mark.parametrize(
    ("base", "block", "value"),
    [
        ("dev", "azure", {"alert_emails": ["llm@example.com"]}),
        ("dev", "gcp", {"project": "acme-llm-dev"}),
        ("gcp-dev", "aws", {"network": {"az_count": 3}}),
        ("azure-dev", "aws", {"alert_emails": ["llm@example.com"]}),
        ("azure-dev", "gcp", {"project": "acme-llm-dev"}),
    ],
)
def test_a_block_of_another_cloud_is_refused(scratch_project: Path, base: str, block: str, value: dict[str, Any]) -> None:
    refused(scratch_project, base, {f"pulumi-llm:{block}": value}, f"pulumi-llm:{block} = ", "has no effect on cloud", "remove it")


@pytest.mark.parametrize(
    ("base", "key", "value", "path", "method"),
    [
        ("staging", "pulumi-llm:gateway", GATEWAY, "pulumi-llm:gateway", "gateway"),
        ("dev", "pulumi-llm:aws", {"cluster": {"max_gpus": 4}}, "pulumi-llm:aws.cluster", "cluster"),
        ("staging", "pulumi-llm:aws", {"gpu_vm": {"on_demand_base": 1}}, "pulumi-llm:aws.gpu_vm", "gpu-vm"),
        (
            "gcp-dev",
            "pulumi-llm:gcp",
            {"project": "acme-llm-dev", "gateway": {"domains": ["a.example.com"]}, "cluster": {"mode": "autopilot"}},
            "pulumi-llm:gcp.cluster",
            "cluster",
        ),
        (
            "azure-dev",
            "pulumi-llm:azure",
            {
                "gpu_vm": {"vm_size": "Standard_NC24ads_A100_v4"},
                "cluster": {"system_min": 2},
                "gateway": {"publisher_email": "llm@example.com"},
            },
            "pulumi-llm:azure.cluster",
            "cluster",
        ),
    ],
)
def test_settings_of_a_method_the_stack_does_not_enable_are_refused(
    scratch_project: Path, base: str, key: str, value: dict[str, Any], path: str, method: str
) -> None:
    refused(scratch_project, base, {key: value}, f"{path} = ", f"read only with method {method} (methods: ", "remove it")


@pytest.mark.parametrize(
    ("base", "serving", "path"),
    [
        ("dev", {"replicas": {"min": 1, "max": 1}, "autoscaling": {"engine": "hpa"}}, "pulumi-llm:serving.autoscaling"),
        ("gcp-dev", {"replicas": {"min": 1, "max": 1}, "alerts": {"queue_depth": 20}}, "pulumi-llm:serving.alerts"),
    ],
)
def test_kubernetes_serving_settings_on_gpu_vms_are_refused(scratch_project: Path, base: str, serving: dict[str, Any], path: str) -> None:
    # GPU VMs scale on their load balancer's requests per target: the autoscaler and its alerts are Kubernetes'.
    refused(scratch_project, base, {"pulumi-llm:serving": serving}, f"{path} = ", "read only with method cluster or onprem")


def test_bedrock_models_off_aws_are_refused(scratch_project: Path) -> None:
    stack = shipped_stack("gcp-dev")["config"]
    gateway = {**stack["pulumi-llm:gateway"], "bedrock_models": ["anthropic.claude-3-haiku-20240307-v1:0"]}
    refused(scratch_project, "gcp-dev", {"pulumi-llm:gateway": gateway}, "pulumi-llm:gateway.bedrock_models = ", "read only on cloud aws")


def test_a_gateway_only_stack_refuses_models_it_would_not_serve(scratch_project: Path) -> None:
    stack = shipped_stack("gcp-dev")["config"]
    refused(
        scratch_project,
        "gcp-dev",
        {"pulumi-llm:methods": ["gateway"], "pulumi-llm:gcp": {"project": "acme-llm-dev", "gateway": {"domains": ["a.example.com"]}}},
        "pulumi-llm:models = ",
        "read only with method gpu-vm or cluster or onprem or edge",
        drop=("pulumi-llm:serving",) if "pulumi-llm:serving" in stack else (),
    )


@pytest.mark.parametrize(
    "stack", ["dev", "staging", "prod", "edge", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod", "onprem", "onprem-triton"]
)
def test_every_key_of_a_shipped_stack_has_an_effect(stack: str) -> None:
    config = shipped_stack(stack)["config"]
    methods = set(config["pulumi-llm:methods"])
    for path, readers in READ_BY.items():
        node: Any = {k.removeprefix("pulumi-llm:"): v for k, v in config.items()}
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            assert methods & set(readers), (stack, path)


def test_a_block_nothing_reads_is_reported_as_such_not_for_its_own_mistakes(scratch_project: Path) -> None:
    # A gateway block on an on-prem stack: removing it is the fix, not completing its consumers.
    refused(
        scratch_project,
        "onprem",
        {"pulumi-llm:gateway": {"models": {}, "consumers": {}}},
        "pulumi-llm:gateway = ",
        "read only with method gateway",
    )


@pytest.mark.parametrize(
    ("cluster", "key", "mode"),
    [
        ({"gpu_instance_types": ["m5.xlarge"]}, "gpu_instance_types", "karpenter"),
        ({"gpu_capacity": "karpenter", "gpu_instance_types": ["g6e.xlarge"]}, "gpu_instance_types", "karpenter"),
        ({"gpu_capacity": "node-group", "gpu_instance_families": ["g6e"]}, "gpu_instance_families", "node-group"),
        ({"gpu_capacity": "node-group", "capacity_types": ["spot", "on-demand"]}, "capacity_types", "node-group"),
    ],
)
def test_a_key_the_gpu_capacity_mode_does_not_read_is_refused(scratch_project: Path, cluster: dict[str, Any], key: str, mode: str) -> None:
    # Before: under Karpenter (the default) gpu_instance_types was dropped silently, even a CPU type, and the
    # NodePool used the families; a node group ignored the families and capacity types the same way.
    stack = shipped_stack("staging")
    stack["config"]["pulumi-llm:aws"]["cluster"] = cluster
    bad_input.write_stack(scratch_project, "staging-edited", yaml.safe_dump(stack, sort_keys=False))
    line = assert_one_line_refusal(bad_input.plan(scratch_project, "staging-edited"), "staging-edited", f"aws.cluster.{key} = ")
    assert f"has no effect with aws.cluster.gpu_capacity {mode}" in line


def test_the_mode_table_defaults_are_the_schema_defaults() -> None:
    from pulumi_llm.settings.aws import AwsClusterSettings

    for mode_key, default, readers in READ_IN_MODE.values():
        field = AwsClusterSettings.model_fields[mode_key.rsplit(".", 1)[-1]]
        assert field.default == default
        assert set(readers) <= set(get_args(field.annotation))


@pytest.mark.parametrize(
    ("base", "key", "value", "ours"),
    [
        ("azure-dev", "azure-native:location", "westeurope", "pulumi-llm:region = eastus"),
        ("dev", "aws:region", "eu-west-1", "pulumi-llm:region = us-east-1"),
        ("gcp-dev", "gcp:region", "europe-west4", "pulumi-llm:region = us-central1"),
        ("gcp-dev", "gcp:project", "acme-llm-prod", "pulumi-llm:gcp.project = acme-llm-dev"),
    ],
)
def test_a_provider_key_that_contradicts_ours_is_refused(scratch_project: Path, base: str, key: str, value: str, ours: str) -> None:
    # Before: planned with exit 0, every resource in our region; the explicit provider reads our settings only.
    line = refused(scratch_project, base, {key: value}, f"{key} = {value}: contradicts {ours}", "has no effect")
    assert line.count(key) == 2


def test_a_provider_key_equal_to_ours_is_harmless() -> None:
    from pulumi_llm.clouds import NAMES as CLOUD_NAMES
    from pulumi_llm.settings.checks_providers import PROVIDER_KEYS, decide_contradiction

    settings = Settings.model_validate(
        {
            "environment": "dev",
            "cloud": "azure",
            "region": "westeurope",
            "methods": ["gateway"],
            "gateway": GATEWAY,
            "azure": {"gateway": {"publisher_email": "ops@example.com"}},
        }
    )
    assert decide_contradiction({"azure-native:location": "West Europe"}, "azure", settings) is None  # Azure's display name
    found = decide_contradiction({"azure-native:location": "eastus", "aws:region": "eu-west-1"}, "azure", settings)
    assert found is not None and (found.theirs, found.our_value) == ("azure-native:location", "westeurope")
    assert set(PROVIDER_KEYS) == set(CLOUD_NAMES)  # every public cloud declares the keys its provider would read


def test_a_gateway_egress_subnet_no_route_uses_is_refused(scratch_project: Path) -> None:
    # gcp-dev enables gpu-vm, but its gateway routes to providers only: the egress subnet is never made, so the key
    # is a misplaced one (report item 4: it was accepted, and a bad value with it).
    gateway = {"domains": ["llm-dev.example.com"], "subnet_cidr": "10.99.0.0/26"}
    refused(
        scratch_project,
        "gcp-dev",
        {"pulumi-llm:gcp": {**shipped_stack("gcp-dev")["config"]["pulumi-llm:gcp"], "gateway": gateway}},
        "pulumi-llm:gcp.gateway.subnet_cidr = 10.99.0.0/26",
        "has no effect",
        "self-hosted model",
    )
