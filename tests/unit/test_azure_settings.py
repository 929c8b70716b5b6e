"""The azure: section of a stack file: what it accepts, and one line (exit 2) for what it refuses."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import serving
from pulumi_llm.cli import main
from pulumi_llm.errors import UserError
from pulumi_llm.settings import load

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "stacks/Pulumi.azure-dev.yaml"


def stack(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"]


def message(cfg: dict[str, Any], source: str = SOURCE) -> str:
    with pytest.raises(UserError) as caught:
        load(cfg, source)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def dev(**changes: Any) -> dict[str, Any]:
    """azure-dev's config with `path.to.key` values replaced (None deletes the key)."""
    cfg = copy.deepcopy(stack("azure-dev"))
    for path, value in changes.items():
        top, *rest = path.split("__")
        node = cfg.setdefault(f"pulumi-llm:{top}", {})
        for key in rest[:-1]:
            node = node.setdefault(key, {})
        if rest and value is None:
            node.pop(rest[-1], None)
        elif rest:
            node[rest[-1]] = value
        else:
            cfg[f"pulumi-llm:{top}"] = value
    return cfg


def test_both_azure_stacks_validate_and_size_on_their_vm_or_pool() -> None:
    for name, size in (("azure-dev", "Standard_NC24ads_A100_v4"), ("azure-prod", "Standard_NC24ads_A100_v4")):
        settings = load(stack(name), f"stacks/Pulumi.{name}.yaml")
        assert settings.cloud == "azure"
        for served in settings.models:
            assert serving.instance_type(settings, served).name == size
    prod = load(stack("azure-prod"), "stacks/Pulumi.azure-prod.yaml")
    assert prod.azure.cluster.prometheus == "managed"
    assert [(n, p.spot) for n, p in prod.azure.cluster.gpu_pools.items()] == [("gpu", False), ("gpuspot", True)]


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"azure__gpu_vm__vm_size": "Standard_D4s_v5"},
            "pulumi-llm:azure.gpu_vm.vm_size = Standard_D4s_v5: not a GPU VM size; choose an NC, ND or NV size from the catalog, "
            "e.g. Standard_NC4as_T4_v3",
        ),
        (
            {"azure__gpu_vm__vm_size": "Standard_ND96isr_H100_v5", "region": "westus2"},
            "pulumi-llm:azure.gpu_vm.vm_size = Standard_ND96isr_H100_v5: not offered in westus2 according to the catalog; "
            "offered in eastus, southcentralus, westeurope, swedencentral",
        ),
        (
            {"azure__gpu_vm__vm_size": "g6e.xlarge"},
            "pulumi-llm:azure.gpu_vm.vm_size = g6e.xlarge: an aws instance type; Azure takes Azure GPU sizes (e.g. Standard_NC24ads_A100_v4)",
        ),
        (
            {"azure__gateway__apim_sku": "Consumption"},
            'pulumi-llm:azure.gateway.apim_sku = Consumption: can\'t stream (no long-lived connections, so no buffer-response="false" '
            "server-sent events) and has no llm-token-limit; allowed: StandardV2, PremiumV2",
        ),
        (
            {"azure__gateway__apim_sku": "BasicV2"},
            "pulumi-llm:azure.gateway.apim_sku = BasicV2: has no VNet integration, so it can't reach the engine's internal ingress; "
            "allowed: StandardV2, PremiumV2",
        ),
        (
            {"azure__gateway__apim_sku": "Developer"},
            "pulumi-llm:azure.gateway.apim_sku = Developer: a classic tier, without outbound VNet integration to the engine; "
            "allowed: StandardV2, PremiumV2",
        ),
        (
            {"gateway__timeouts": {"client_seconds": 900, "edge_seconds": 600, "engine_seconds": 540, "provider_seconds": 480}},
            "pulumi-llm:gateway.timeouts.edge_seconds = 600: above API Management's forward-request limit of 240 s (longer waits "
            "for the first byte may not be honoured); set it to 240 or less, with engine_seconds and provider_seconds below it",
        ),
        (
            {"azure__gateway__publisher_email": None},
            "pulumi-llm:azure.gateway.publisher_email: required with the gateway (API Management's publisher address)",
        ),
        (
            {"region": "mars-1"},
            "pulumi-llm:region = mars-1: region 'mars-1' has no azure GPU type in the catalog; known: australiaeast, eastus, eastus2, "
            "japaneast, northeurope, southcentralus, southeastasia, swedencentral, westeurope, westus2, westus3",
        ),
    ],
)
def test_bad_azure_input_is_one_line(changes: dict[str, Any], line: str) -> None:
    assert message(dev(**changes)) == f"{SOURCE}: {line}"


def test_a_model_instance_type_not_offered_in_the_region_is_refused() -> None:
    cfg = dev(azure__gpu_vm__vm_size=None, region="westus3")
    cfg["pulumi-llm:models"]["llama-3-1-8b-instruct"]["instance_type"] = "Standard_NC24ads_A100_v4"
    assert message(cfg) == (
        f"{SOURCE}: pulumi-llm:models.llama-3-1-8b-instruct.instance_type = Standard_NC24ads_A100_v4: not offered in westus3 "
        "according to the catalog; offered in eastus, eastus2, southcentralus, westus2, westeurope, australiaeast"
    )


def test_prod_refuses_spot_only_gpu_pools_and_aks_blob_streaming() -> None:
    prod = copy.deepcopy(stack("azure-prod"))
    prod["pulumi-llm:azure"]["cluster"]["gpu_pools"] = {"gpuspot": {"spot": True}}
    assert message(prod, "stacks/Pulumi.azure-prod.yaml") == (
        'stacks/Pulumi.azure-prod.yaml: pulumi-llm:azure.cluster.gpu_pools = {"gpuspot": {"spot": true}}: prod can\'t run on spot alone: add a pool with spot: false'
    )
    prod = copy.deepcopy(stack("azure-prod"))
    prod["pulumi-llm:models"]["llama-3-1-8b-instruct"]["source"] = "store://meta-llama/x"
    assert message(prod, "stacks/Pulumi.azure-prod.yaml") == (
        "stacks/Pulumi.azure-prod.yaml: pulumi-llm:models.llama-3-1-8b-instruct.source = store://meta-llama/x: AKS servers don't "
        "stream from Blob storage yet: use pvc://<claim>/<path> (an Azure Blob CSI or Azure Files claim)"
    )


def test_azure_openai_pools_need_one_fallback_in_the_lowest_priority() -> None:
    prod = copy.deepcopy(stack("azure-prod"))
    prod["pulumi-llm:azure"]["gateway"]["azure_openai"]["swc"]["fallback"] = False
    assert message(prod, "stacks/Pulumi.azure-prod.yaml") == (
        "stacks/Pulumi.azure-prod.yaml: pulumi-llm:azure.gateway.azure_openai.swc.fallback = false: mark exactly one account "
        "of the pool fallback: true, in the lowest priority (a pool whose every member is tripped answers 503)"
    )


def test_the_cli_exits_2_with_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = dev(azure__gpu_vm__vm_size="Standard_D4s_v5")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "stacks" / "__main__.py").write_text((ROOT / "stacks" / "__main__.py").read_text())
    (tmp_path / "stacks" / "Pulumi.azure-bad.yaml").write_text(yaml.safe_dump({"config": cfg}))
    monkeypatch.chdir(tmp_path)
    code = main(["plan", "azure-bad", "--quiet", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.endswith(
        "pulumi-llm:azure.gpu_vm.vm_size = Standard_D4s_v5: not a GPU VM size; choose an NC, ND or NV size from the catalog, e.g. Standard_NC4as_T4_v3"
    )
    assert len(err.splitlines()) == 1


def test_an_azure_gateway_without_timeouts_gets_the_budget_api_management_can_honour() -> None:
    """The default edge timeout (600 s) is above API Management's 240 s forward limit: an Azure stack that sets
    no timeouts gets Azure's budget; one that sets an edge above the limit is still refused."""
    settings = load(dev(gateway__timeouts=None), SOURCE)
    assert settings.gateway is not None
    assert settings.gateway.timeouts.model_dump() == {
        "client_seconds": 300,
        "edge_seconds": 240,
        "engine_seconds": 210,
        "provider_seconds": 180,
    }
    line = message(dev(gateway__timeouts={"edge_seconds": 600}))
    assert "gateway.timeouts.edge_seconds" in line and "240" in line
