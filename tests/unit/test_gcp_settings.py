"""GCP settings: the subtree nested by method, keys moved in 0.2.0 refused with one line, hybrid routing
(self-hosted first, then providers) and its Cloud Run egress subnet."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pulumi_llm.errors import UserError
from pulumi_llm.settings import GatewaySettings, GcpSettings, load
from pulumi_llm.settings.moved import MOVED_KEYS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "stacks/Pulumi.gcp-prod.yaml"


def prod() -> dict[str, Any]:
    return yaml.safe_load((ROOT / SOURCE).read_text())["config"]


def message(cfg: dict[str, Any]) -> str:
    with pytest.raises(UserError) as caught:
        load(cfg, SOURCE)
    text = str(caught.value)
    assert "\n" not in text
    return text


def test_gcp_prod_routes_its_model_first_and_falls_back_to_providers() -> None:
    settings = load(prod(), SOURCE)
    chat = cast(GatewaySettings, settings.gateway).models["chat"]
    assert [(r.provider, r.model) for r in chat.routes] == [("self-hosted", "llama-3-1-8b-instruct")]
    assert chat.fallbacks == ["provider-small"]
    assert {r.provider for r in cast(GatewaySettings, settings.gateway).models["provider-small"].routes} == {"gemini", "anthropic"}
    assert settings.routes_self_hosted() is True
    assert cast(GcpSettings, settings.gcp).gateway.subnet_cidr == "10.40.18.0/26"


def test_self_hosted_routes_are_accepted_with_gpu_vms_too() -> None:
    cfg = yaml.safe_load((ROOT / "stacks/Pulumi.gcp-dev.yaml").read_text())["config"]
    cfg["pulumi-llm:gateway"]["models"]["chat"]["routes"].insert(0, {"provider": "self-hosted", "model": "llama-3-1-8b-instruct"})
    assert load(cfg, "stacks/Pulumi.gcp-dev.yaml").routes_self_hosted() is True


def test_provider_only_gateways_need_no_egress_subnet() -> None:
    cfg = prod()
    cfg["pulumi-llm:gateway"]["models"]["chat"] = {"routes": [{"provider": "gemini", "model": "gemini-2.5-flash"}]}
    assert load(cfg, SOURCE).routes_self_hosted() is False


@pytest.mark.parametrize(
    ("cidr", "line"),
    [
        (
            "10.40.8.0/26",
            "pulumi-llm:gcp.gateway.subnet_cidr = 10.40.8.0/26: overlaps the default of gcp.network.subnet_cidr (10.40.0.0/20); "
            "the workload subnet and Cloud Run's egress subnet must not share addresses",
        ),
        (
            "10.40.18.0/27",
            "pulumi-llm:gcp.gateway.subnet_cidr = 10.40.18.0/27: an IPv4 /16 to /26 (Cloud Run Direct VPC egress needs a /26 or larger)",
        ),
        (
            "10.40.18.1/26",
            "pulumi-llm:gcp.gateway.subnet_cidr = 10.40.18.1/26: not a network in CIDR notation such as 10.0.0.0/16 (host bits zero)",
        ),
    ],
)
def test_a_bad_egress_subnet_is_one_line(cidr: str, line: str) -> None:
    cfg = copy.deepcopy(prod())
    cfg["pulumi-llm:gcp"]["gateway"]["subnet_cidr"] = cidr
    assert message(cfg) == f"{SOURCE}: {line}"


def test_a_self_hosted_route_to_a_model_not_served_names_the_route() -> None:
    cfg = prod()
    cfg["pulumi-llm:gateway"]["models"]["chat"]["routes"][0]["model"] = "mistral-7b"
    assert message(cfg) == (
        f"{SOURCE}: pulumi-llm:gateway.models.chat.routes[0].model = mistral-7b: not a model this stack serves; served: llama-3-1-8b-instruct"
    )


def test_the_shipped_stacks_set_each_method_under_its_own_subtree() -> None:
    settings = load(prod(), SOURCE)
    gcp = cast(GcpSettings, settings.gcp)
    # 5 spot nodes: one more replica than serving.replicas.max, for surging rollouts (the stack file says so).
    assert (gcp.cluster.mode, gcp.cluster.gpu_pool.spot_max_nodes, gcp.cluster.gpu_pool.on_demand_max_nodes) == ("standard", 5, 2)
    assert gcp.gateway.domains == ["llm.example.com"]
    assert gcp.network.subnet_cidr == "10.40.0.0/20"
    dev = load(yaml.safe_load((ROOT / "stacks/Pulumi.gcp-dev.yaml").read_text())["config"], "stacks/Pulumi.gcp-dev.yaml")
    assert cast(GcpSettings, dev.gcp).gpu_vm.spot is True


@pytest.mark.parametrize(
    ("old", "value", "written", "new"),
    [
        ("gateway_domains", ["llm.example.com"], '["llm.example.com"]', "gcp.gateway.domains"),
        ("gateway_subnet_cidr", "10.40.18.0/26", "10.40.18.0/26", "gcp.gateway.subnet_cidr"),
        ("subnet_cidr", "10.40.0.0/20", "10.40.0.0/20", "gcp.network.subnet_cidr"),
        ("spot", True, "true", "gcp.gpu_vm.spot"),
        ("gke_mode", "autopilot", "autopilot", "gcp.cluster.mode"),
        ("gpu_pool", {"spot_max_nodes": 4}, '{"spot_max_nodes": 4}', "gcp.cluster.gpu_pool"),
        ("prometheus", "managed", "managed", "gcp.cluster.prometheus"),
    ],
)
def test_a_key_moved_in_0_2_0_is_refused_with_one_line_naming_its_new_place(old: str, value: Any, written: str, new: str) -> None:
    cfg = copy.deepcopy(prod())
    cfg["pulumi-llm:gcp"][old] = value
    assert message(cfg) == f"{SOURCE}: pulumi-llm:gcp.{old} = {written}: moved to {new} in 0.2.0 — CHANGELOG Upgrade notes"


def test_every_moved_key_names_a_key_the_settings_accept() -> None:
    # A table entry pointing nowhere would send a user from one unknown key to another.
    from pulumi_llm.settings.loading import _allowed_keys

    for old, moved in MOVED_KEYS.items():
        *parent, leaf = moved.new.split(".")
        assert leaf in _allowed_keys(parent), (old, moved.new)
        assert old.split(".")[-1] not in _allowed_keys(old.split(".")[:-1]), old


def test_alert_emails_is_a_list_like_awss_and_azures() -> None:
    cfg = copy.deepcopy(prod())
    cfg["pulumi-llm:gcp"]["alert_emails"] = ["oncall@example.com", "llm@example.com"]
    assert cast(GcpSettings, load(cfg, SOURCE).gcp).alert_emails == ["oncall@example.com", "llm@example.com"]
    cfg["pulumi-llm:gcp"]["alert_emails"] = ["oncall@example.com", "llm@example.com", "oncall@example.com"]
    assert message(cfg) == (
        f"{SOURCE}: pulumi-llm:gcp.alert_emails = "
        '["oncall@example.com", "llm@example.com", "oncall@example.com"]: repeats oncall@example.com: give each address once'
    )


def test_a_prod_stack_without_alert_emails_loads_as_on_aws_and_azure() -> None:
    # Neither aws.alert_emails nor azure.alert_emails is required in prod; GCP matches them.
    cfg = copy.deepcopy(prod())
    del cfg["pulumi-llm:gcp"]["alert_emails"]
    assert cast(GcpSettings, load(cfg, SOURCE).gcp).alert_emails == []


def test_alert_emails_of_a_stack_without_alert_policies_are_refused() -> None:
    # GKE alone makes no Cloud Monitoring alert policy (its alerts are Prometheus rules): nothing would read them.
    cfg = copy.deepcopy(prod())
    cfg["pulumi-llm:methods"] = ["cluster"]
    del cfg["pulumi-llm:gateway"], cfg["pulumi-llm:gcp"]["gateway"]
    assert message(cfg) == (
        f'{SOURCE}: pulumi-llm:gcp.alert_emails = ["llm-oncall@example.com"]: has no effect: read only with method gateway or '
        "gpu-vm (methods: cluster); remove it"
    )
