"""GCP settings: hybrid routing (self-hosted first, then providers) and its Cloud Run egress subnet."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pulumi_llm.errors import UserError
from pulumi_llm.settings import GatewaySettings, GcpSettings, load

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
    assert cast(GcpSettings, settings.gcp).gateway_subnet_cidr == "10.40.18.0/26"


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
        ("10.40.8.0/26", "pulumi-llm:gcp.gateway_subnet_cidr = 10.40.8.0/26: overlaps gcp.subnet_cidr (10.40.0.0/20)"),
        (
            "10.40.18.0/27",
            "pulumi-llm:gcp.gateway_subnet_cidr = 10.40.18.0/27: an IPv4 /16 to /26 (Cloud Run Direct VPC egress needs a /26 or larger)",
        ),
        (
            "10.40.18.1/26",
            "pulumi-llm:gcp.gateway_subnet_cidr = 10.40.18.1/26: not an IPv4 network in CIDR notation (10.40.18.1/26 has host bits set)",
        ),
    ],
)
def test_a_bad_egress_subnet_is_one_line(cidr: str, line: str) -> None:
    cfg = copy.deepcopy(prod())
    cfg["pulumi-llm:gcp"]["gateway_subnet_cidr"] = cidr
    assert message(cfg) == f"{SOURCE}: {line}"


def test_a_self_hosted_route_to_a_model_not_served_names_the_route() -> None:
    cfg = prod()
    cfg["pulumi-llm:gateway"]["models"]["chat"]["routes"][0]["model"] = "mistral-7b"
    assert message(cfg) == (
        f"{SOURCE}: pulumi-llm:gateway.models.chat.routes[0].model = mistral-7b: not a model this stack serves; served: llama-3-1-8b-instruct"
    )
