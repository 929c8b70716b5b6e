"""Every settings error path, with its exact one-line message."""

from __future__ import annotations

import json

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.settings import Settings, load
from pydantic import ValidationError

SOURCE = "stacks/Pulumi.prod.yaml"
BASE = {"pulumi-llm:environment": "prod", "pulumi-llm:cloud": "aws", "pulumi-llm:region": "us-east-1"}


def config(**overrides: object) -> dict[str, str]:
    out = dict(BASE)
    for key, value in overrides.items():
        name = f"pulumi-llm:{key}"
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


SERVED = {
    "methods": ["cluster"],
    "models": {"m": {"catalog": "llama-3.1-8b-instruct", "source": "store://m", "context": 8192}},
    "aws": {"network": {"az_count": 3}},
}
"""A stack that deploys something (a stack with no method is refused): one model on EKS."""


def message(cfg: dict[str, str]) -> str:
    with pytest.raises(UserError) as caught:
        load(cfg, SOURCE)
    text = str(caught.value)
    assert "\n" not in text
    return text


def test_engine_strings_become_typed_values() -> None:
    settings = load(config(**SERVED, serving={"replicas": {"min": 2, "max": 4}}, tags='{"team": "ml"}'), SOURCE)
    assert isinstance(settings, Settings)
    assert (settings.serving.replicas.min, settings.serving.replicas.max) == (2, 4)
    assert settings.tags == {"team": "ml"}
    assert settings.region == "us-east-1"


def test_native_yaml_values_are_accepted_too() -> None:
    settings = load({**config(**SERVED), "pulumi-llm:serving": {"replicas": {"min": 1, "max": 3}}}, SOURCE)
    assert settings.serving.replicas.max == 3


def test_settings_are_frozen() -> None:
    settings = load(config(**SERVED), SOURCE)
    with pytest.raises(ValidationError, match="frozen"):
        settings.cloud = "gcp"  # type: ignore[misc]


def test_keys_of_other_namespaces_are_ignored() -> None:
    # Other packages' keys are theirs; one that contradicts ours (aws:region: eu-west-1) is refused, see
    # test_bad_input_no_effect.py; an equal one is harmless.
    other = {"aws:region": "us-east-1", "kubernetes:context": "kind", "pulumi:disable-default-providers": '["*"]'}
    assert load({**config(**SERVED), **other}, SOURCE).region == "us-east-1"


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (
            config(serving={"replicas": {"min": 2, "max": 1}}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.max = 1: must be >= replicas.min (2)",
        ),
        (
            config(servng={}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:servng = {}: unknown key (did you mean serving?); "
            "allowed: environment, cloud, region, methods, tags, models, serving, onprem, aws, gateway, edge, gcp, azure, ci",
        ),
        (
            config(serving={"replica": {"min": 1}}),
            'stacks/Pulumi.prod.yaml: pulumi-llm:serving.replica = {"min": 1}: unknown key (did you mean replicas?); allowed: replicas, autoscaling, alerts, gpu_memory_utilization, router, rollout, all_spot',
        ),
        (
            config(owner="ml-platform"),
            "stacks/Pulumi.prod.yaml: pulumi-llm:owner = ml-platform: unknown key; "
            "allowed: environment, cloud, region, methods, tags, models, serving, onprem, aws, gateway, edge, gcp, azure, ci",
        ),
        (
            config(cloud="asw"),
            "stacks/Pulumi.prod.yaml: pulumi-llm:cloud = asw: must be one of: aws, gcp, azure, onprem (did you mean aws?)",
        ),
        (config(region=None), "stacks/Pulumi.prod.yaml: pulumi-llm:region: required when cloud is aws"),
        (config(environment=None), "stacks/Pulumi.prod.yaml: pulumi-llm:environment: required"),
        (
            config(environment="Prod"),
            "stacks/Pulumi.prod.yaml: pulumi-llm:environment = Prod: must be lowercase letters, digits and '-', "
            "start with a letter, end with a letter or digit, at most 40 characters",
        ),
        (
            config(serving={"replicas": {"min": "two"}}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.min = two: must be a whole number",
        ),
        (
            config(serving={"replicas": {"min": -1}}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.min = -1: must be >= 0",
        ),
        (
            config(serving={"replicas": {"max": 0}}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.max = 0: must be >= 1",
        ),
        (
            config(models={"Llama_8B": {"catalog": "llama-3.1-8b-instruct"}}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:models.Llama_8B: the name must be lowercase letters, digits and '-', "
            "start with a letter, end with a letter or digit, at most 40 characters",
        ),
        (
            config(models={"llama": {"catalg": "llama-3.1-8b-instruct"}}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:models.llama.catalg = llama-3.1-8b-instruct: unknown key "
            "(did you mean catalog?); allowed: catalog, custom, revision, source, runtime, quantization, context, gpus, "
            "replicas, copy_from_hub, hub_repo, instance_type, lora_adapters, … 4 more",
        ),
        (
            config(models={"llama": {}}),
            "stacks/Pulumi.prod.yaml: pulumi-llm:models.llama.catalog: give exactly one of catalog (a known model) "
            "or custom (its architecture)",
        ),
        (config(methods="onprem"), "stacks/Pulumi.prod.yaml: pulumi-llm:methods = onprem: must be a list"),
        (
            config(methods=["onprem"]),
            'stacks/Pulumi.prod.yaml: pulumi-llm:methods = ["onprem"]: method onprem runs on cloud onprem, not on cloud aws',
        ),
        (
            config(methods=["edge-tpu"]),
            "stacks/Pulumi.prod.yaml: pulumi-llm:methods[0] = edge-tpu: must be one of: gateway, gpu-vm, cluster, onprem, edge (did you mean edge?)",
        ),
        (config(tags={"team": 3}), "stacks/Pulumi.prod.yaml: pulumi-llm:tags.team = 3: must be a string"),
        (config(serving="[1]"), "stacks/Pulumi.prod.yaml: pulumi-llm:serving = [1]: must be a map of keys to values"),
    ],
)
def test_each_bad_value_is_one_line_naming_file_key_value_and_rule(cfg: dict[str, str], expected: str) -> None:
    assert message(cfg) == expected


def test_onprem_rules() -> None:
    onprem = {"pulumi-llm:environment": "lab", "pulumi-llm:cloud": "onprem"}
    assert message({**onprem, "pulumi-llm:region": "us-east-1"}) == (
        "stacks/Pulumi.prod.yaml: pulumi-llm:region = us-east-1: not allowed when cloud is onprem (the cluster is reached by kubeconfig)"
    )
    assert message({**onprem, "pulumi-llm:methods": '["onprem"]'}) == (
        "stacks/Pulumi.prod.yaml: pulumi-llm:onprem: required when methods has onprem"
    )
    assert message({**onprem, "pulumi-llm:methods": '["onprem", "onprem"]', "pulumi-llm:onprem": '{"kube_context": "c"}'}) == (
        'stacks/Pulumi.prod.yaml: pulumi-llm:methods = ["onprem", "onprem"]: must not repeat a method'
    )
    assert message({**onprem, "pulumi-llm:methods": '["onprem"]', "pulumi-llm:onprem": '{"kube_context": ""}'}) == (
        'stacks/Pulumi.prod.yaml: pulumi-llm:onprem.kube_context = "": must not be empty'
    )
    assert message({**onprem, "pulumi-llm:methods": '["onprem"]', "pulumi-llm:onprem": '{"kube_context": "lab"}'}) == (
        "stacks/Pulumi.prod.yaml: pulumi-llm:models: at least one model is required by methods onprem"
    )
    model = '{"m": {"catalog": "llama-3.1-8b-instruct", "source": "pvc://weights/llama"}}'
    good = load(
        {**onprem, "pulumi-llm:methods": '["onprem"]', "pulumi-llm:onprem": '{"kube_context": "lab"}', "pulumi-llm:models": model}, SOURCE
    )
    assert good.onprem is not None and good.onprem.namespace == "llm"
