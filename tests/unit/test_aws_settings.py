"""Bad AWS input from the self-hosting issue: each one clear line naming file, key, value and rule."""

from __future__ import annotations

import json

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.settings import load

SOURCE = "stacks/Pulumi.prod.yaml"
MODEL = {"catalog": "llama-3.1-8b-instruct", "source": "store://llama/abc", "context": 8192}


def config(
    environment: str = "dev", methods: tuple[str, ...] = ("gpu-vm",), region: str = "us-east-1", aws: dict | None = None, **model: object
) -> dict[str, str]:
    return {
        "pulumi-llm:environment": environment,
        "pulumi-llm:cloud": "aws",
        "pulumi-llm:region": region,
        "pulumi-llm:methods": json.dumps(list(methods)),
        "pulumi-llm:models": json.dumps({"m": {**MODEL, **model}}),
        **({"pulumi-llm:aws": json.dumps(aws)} if aws else {}),
    }


def message(cfg: dict[str, str]) -> str:
    with pytest.raises(UserError) as caught:
        load(cfg, SOURCE)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_an_instance_type_that_is_not_a_gpu_type() -> None:
    assert message(config(instance_type="m7i.large")) == (
        # the key the user wrote (models.m.instance_type), not the whole model
        f"{SOURCE}: pulumi-llm:models.m.instance_type = m7i.large: unknown instance type 'm7i.large'; did you mean "
        "g6.xlarge or g5.xlarge or g6e.xlarge?"
    )


def test_an_instance_type_that_cannot_hold_the_model() -> None:
    text = message(config(instance_type="g6.xlarge", catalog="llama-3.1-70b-instruct"))
    assert text.startswith(f"{SOURCE}: pulumi-llm:models.m = ")
    assert "llama-3.1-70b-instruct in bf16 needs" in text and "but g6.xlarge (1× L4) offers" in text and "ways out" in text


def test_a_region_without_that_type_in_the_catalog() -> None:
    text = message(config(region="af-south-1", instance_type="p5.48xlarge"))
    assert text.startswith(f"{SOURCE}: pulumi-llm:")
    assert "af-south-1" in text


def test_an_unknown_region() -> None:
    text = message(config(region="us-east-9"))
    assert text.startswith(f"{SOURCE}: pulumi-llm:region = us-east-9: ")


def test_spot_only_prod() -> None:
    assert message(config("prod", aws={"network": {"az_count": 3}, "gpu_vm": {"spot_percentage": 100}})) == (
        f"{SOURCE}: pulumi-llm:aws.gpu_vm.spot_percentage = 100: prod can't run on spot alone: set "
        "aws.gpu_vm.on_demand_base >= 1 or a spot_percentage below 100"
    )
    assert message(config("prod", ("cluster",), aws={"network": {"az_count": 3}, "cluster": {"capacity_types": ["spot"]}})) == (
        f'{SOURCE}: pulumi-llm:aws.cluster.capacity_types = ["spot"]: prod can\'t run on spot alone: add on-demand'
    )


def test_one_or_two_zones_in_prod() -> None:
    assert message(config("prod", ("cluster",), aws={"network": {"az_count": 1}})) == (
        f"{SOURCE}: pulumi-llm:aws.network.az_count = 1: must be >= 2"
    )
    assert message(config("prod", ("cluster",), aws={"network": {"az_count": 2}})) == (
        f"{SOURCE}: pulumi-llm:aws.network.az_count = 2: prod spreads over at least 3 availability zones"
    )


def test_public_endpoint_in_prod_and_two_self_hosting_methods() -> None:
    assert message(config("prod", ("cluster",), aws={"network": {"az_count": 3}, "cluster": {"endpoint_public": True}})) == (
        f"{SOURCE}: pulumi-llm:aws.cluster.endpoint_public = true: prod keeps the EKS API endpoint private"
    )
    assert message(config(methods=("gpu-vm", "cluster"))) == (
        f'{SOURCE}: pulumi-llm:methods = ["gpu-vm", "cluster"]: gpu-vm and cluster both self-host the models: choose one per stack'
    )


def test_vm_weights_come_from_object_storage() -> None:
    assert message(config(source="pvc://weights/llama")) == (
        f"{SOURCE}: pulumi-llm:models.m.source = pvc://weights/llama: a GPU VM syncs weights from object storage: "
        "use store://<key> or s3://"
    )


def test_a_good_prod_stack_loads() -> None:
    settings = load(config("prod", ("cluster",), aws={"network": {"az_count": 3}}), SOURCE)
    assert settings.aws.cluster.capacity_types == ["spot", "on-demand"]


def test_alert_emails_is_a_list_like_azures() -> None:
    settings = load(config(aws={"alert_emails": ["oncall@example.com", "llm@example.com"]}), SOURCE)
    assert settings.aws.alert_emails == ["oncall@example.com", "llm@example.com"]
    assert message(config(aws={"alert_emails": ["oncall"]})) == (
        f"{SOURCE}: pulumi-llm:aws.alert_emails = " + '["oncall"]' + ": oncall is not an e-mail address such as oncall@example.com"
    )


def test_the_single_alarm_email_of_0_1_is_refused_naming_its_new_key() -> None:
    assert message(config(aws={"alarm_email": "oncall@example.com"})) == (
        f"{SOURCE}: pulumi-llm:aws.alarm_email = oncall@example.com: moved to aws.alert_emails "
        "(a list: alert_emails: [<address>]) in 0.2.0 — CHANGELOG Upgrade notes"
    )
