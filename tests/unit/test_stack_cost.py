"""The plan prices a stack as it deploys: its region, its schedule, its spot share (stack_cost.py, issue 19).

Hours a schedule leaves on (schedules.py), the region's list price or a flag when the catalog has none, who
runs on spot per cloud and method, and the real stack files: dev is cheaper than 730 on-demand hours by
exactly its schedule and spot factors, azure-prod is priced for westeurope.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi_llm import stack_cost
from pulumi_llm.offline.plan import Project, load_settings
from pulumi_llm.schedules import cron_hours_per_month, weekly_hours_per_month
from pulumi_llm.serving import stack_sizing
from pulumi_llm.sizing.catalogs import CATALOGS, RegionalPrices
from pulumi_llm.stack_cost import SpotRule, decide_region_price, decide_spot_rule, decide_uptime, price_stack

ROOT = Path(__file__).resolve().parents[2]
AWS, GCP, AZURE = CATALOGS
WEEKDAYS_2026 = 261
"""Monday to Friday days of 2026, the schedules' reference year."""


def planned(stack: str) -> tuple[Any, list[dict[str, Any]], dict[str, Any] | None]:
    settings = load_settings(Project.find(ROOT), stack)
    sizing = stack_sizing(settings)
    return settings, sizing, price_stack(settings, sizing)


# --- hours on per month -------------------------------------------------------------------------------------


def test_a_weekday_daytime_cron_pair_runs_13_hours_on_each_weekday() -> None:
    assert cron_hours_per_month("0 7 * * MON-FRI", "0 20 * * MON-FRI") == pytest.approx(WEEKDAYS_2026 * 13 / 12)


def test_azure_weekly_windows_count_the_same_hours_as_the_equivalent_crons() -> None:
    weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    assert weekly_hours_per_month(weekdays, "07:00", "20:00") == cron_hours_per_month("0 7 * * 1-5", "0 20 * * 1-5")
    # a stop before the start runs past midnight: 20:00 to 07:00 is 11 hours
    assert weekly_hours_per_month(["Saturday"], "20:00", "07:00") == pytest.approx(52 * 11 / 12)


def test_cron_hours_cover_nights_every_day_and_crons_that_never_stop() -> None:
    assert cron_hours_per_month("0 20 * * *", "0 7 * * *") == pytest.approx(365 * 11 / 12)  # on overnight
    assert cron_hours_per_month("30 8 * * *", "0 17 * * *") == pytest.approx(365 * 8.5 / 12)
    assert cron_hours_per_month("0 7 * * *", "0 20 31 2 *") == 730  # 31 February never comes: never stops


def test_day_of_month_and_day_of_week_together_fire_on_either() -> None:
    # Unix cron: "0 7 1 * MON" fires on the 1st and on every Monday; each start runs until that day's stop.
    days = [datetime.date(2026, 1, 1) + datetime.timedelta(days=i) for i in range(365)]
    either = sum(1 for d in days if d.day == 1 or d.weekday() == 0)
    assert cron_hours_per_month("0 7 1 * MON", "0 20 * * *") == pytest.approx(either * 13 / 12)


def test_a_bad_cron_is_refused_by_the_hours_count_too() -> None:
    with pytest.raises(ValueError, match="hour '25'"):
        cron_hours_per_month("0 25 * * *", "0 20 * * *")


# --- region ---------------------------------------------------------------------------------------------------


def test_the_price_region_is_priced_without_a_flag() -> None:
    price = decide_region_price(AWS, "g6.xlarge", "us-east-1")
    assert (price.region_priced, price.price_per_hour, price.flag) == ("us-east-1", 0.8048, None)


def test_a_region_without_a_price_is_priced_at_the_price_region_and_flagged_with_key_value_and_priced_regions() -> None:
    price = decide_region_price(AZURE, "Standard_NC24ads_A100_v4", "westeurope")
    assert price.region_deployed == "westeurope" and price.region_priced == "eastus"
    assert price.flag == (
        "pulumi-llm:region = westeurope: no list price of Standard_NC24ads_A100_v4 there in the sizing catalog "
        "(prices for: eastus); priced at the eastus list price"
    )


def test_a_regional_price_in_the_catalog_is_used_with_its_own_source() -> None:
    regional = RegionalPrices("westeurope", (("Standard_NC24ads_A100_v4", 4.1),), "a test page", "2026-12")
    catalog = dataclasses.replace(AZURE, regional_prices=(regional,))
    price = decide_region_price(catalog, "Standard_NC24ads_A100_v4", "westeurope")
    assert (price.region_priced, price.price_per_hour, price.source, price.flag) == ("westeurope", 4.1, "a test page", None)
    assert catalog.priced_regions("Standard_NC24ads_A100_v4") == ("eastus", "westeurope")


# --- spot -----------------------------------------------------------------------------------------------------


def test_an_auto_scaling_group_keeps_its_base_on_demand_and_splits_the_rest() -> None:
    rule = SpotRule(basis="", on_demand_floor=1, spot_fraction=0.5)
    assert [(rule.most(n), rule.fewest(n)) for n in (1, 3, 5)] == [(0, 0), (1, 1), (2, 2)]


def test_spot_that_falls_back_to_on_demand_spans_none_to_all() -> None:
    rule = SpotRule(basis="", spot_fraction=1.0, falls_back=True)
    assert (rule.most(4), rule.fewest(4)) == (4, 0)


def test_pools_with_caps_force_spot_past_the_on_demand_cap() -> None:
    azure_priority = SpotRule(basis="", on_demand_cap=4, spot_cap=4)  # Regular pools grow first
    assert [(azure_priority.most(n), azure_priority.fewest(n)) for n in (2, 6)] == [(0, 0), (2, 2)]
    gke = SpotRule(basis="", spot_fraction=1.0, spot_cap=4, on_demand_cap=2, falls_back=True)
    assert [(gke.most(n), gke.fewest(n)) for n in (2, 6)] == [(2, 0), (4, 4)]


def test_an_on_demand_floor_keeps_min_replicas_off_spot_and_the_rest_may_ride_spot() -> None:
    eks = SpotRule(basis="", on_demand_floor=2, spot_fraction=1.0, falls_back=True)  # gpu-on-demand, then [on-demand, spot]
    assert [(eks.most(n), eks.fewest(n)) for n in (2, 8)] == [(0, 0), (6, 0)]
    spot_burst = SpotRule(basis="", on_demand_floor=2, spot_fraction=1.0, on_demand_cap=2)  # gpu-on-demand, then [spot]
    assert [(spot_burst.most(n), spot_burst.fewest(n)) for n in (2, 8)] == [(0, 0), (6, 6)]


def with_serving(settings: Any, **changes: Any) -> Any:
    return settings.model_copy(update={"serving": settings.serving.model_copy(update=changes)})


def test_the_shipped_stacks_spot_rules_read_their_own_keys() -> None:
    dev, prod, azure_prod, gcp_prod = (load_settings(Project.find(ROOT), s) for s in ("dev", "prod", "azure-prod", "gcp-prod"))
    assert decide_spot_rule(dev, replicas_min=1) == SpotRule(basis="aws.gpu_vm: on_demand_base 0, spot_percentage 100", spot_fraction=1.0)
    # EKS: each model's replicas.min on the on-demand NodePool gpu-on-demand, spot preferred beyond it
    assert decide_spot_rule(prod, replicas_min=2) == SpotRule(
        basis="aws.cluster.capacity_types: [on-demand, spot]; replicas.min on on-demand",
        on_demand_floor=2,
        spot_fraction=1.0,
        falls_back=True,
    )
    assert decide_spot_rule(with_serving(prod, all_spot=True), replicas_min=2).on_demand_floor == 0
    assert (decide_spot_rule(azure_prod, replicas_min=2).on_demand_cap, decide_spot_rule(azure_prod, replicas_min=2).spot_cap) == (4, 4)
    # GKE: the ComputeClass's on-demand pool first (2 nodes), spot beyond it (5 nodes)
    gke = decide_spot_rule(gcp_prod, replicas_min=2)
    assert (gke.on_demand_cap, gke.spot_cap, gke.spot_fraction, gke.falls_back) == (2, 5, 0.0, False)
    assert decide_uptime(prod) == stack_cost.Uptime(730)


def test_all_spot_clusters_put_spot_first() -> None:
    azure_prod, gcp_prod = (with_serving(load_settings(Project.find(ROOT), s), all_spot=True) for s in ("azure-prod", "gcp-prod"))
    aks = decide_spot_rule(azure_prod, replicas_min=2)  # the priority expander's Spot pools first, Regular on backoff
    assert [(aks.most(n), aks.fewest(n)) for n in (2, 6)] == [(2, 0), (4, 2)]
    gke = decide_spot_rule(gcp_prod, replicas_min=2)  # the ComputeClass's spot pool first, on-demand when spot is short
    assert [(gke.most(n), gke.fewest(n)) for n in (2, 6)] == [(2, 0), (5, 4)]


def test_capacity_the_cost_cannot_put_on_spot_is_priced_on_demand() -> None:
    prod, gcp_prod = (load_settings(Project.find(ROOT), s) for s in ("prod", "gcp-prod"))
    aws = prod.aws.model_copy(update={"cluster": prod.aws.cluster.model_copy(update={"gpu_capacity": "node-group"})})
    node_group = decide_spot_rule(prod.model_copy(update={"aws": aws}), replicas_min=2)
    assert (node_group.most(8), node_group.fewest(8)) == (0, 0)
    assert gcp_prod.gcp is not None
    autopilot_cluster = gcp_prod.gcp.cluster.model_copy(update={"mode": "autopilot"})
    autopilot = gcp_prod.model_copy(update={"gcp": gcp_prod.gcp.model_copy(update={"cluster": autopilot_cluster})})
    assert decide_spot_rule(autopilot, replicas_min=2).most(6) == 0  # on-demand first, and Autopilot has no node cap


# --- the shipped stacks ---------------------------------------------------------------------------------------


def test_dev_is_cheaper_than_730_on_demand_hours_by_its_schedule_and_spot_factors() -> None:
    _, [model], stack = planned("dev")
    cost = model["cost"]
    hours = WEEKDAYS_2026 * 13 / 12
    assert cost["hours_per_month"] == pytest.approx(hours)
    assert cost["spot"]["share_at_min"] == cost["spot"]["share_at_max"] == 1.0
    assert cost["spot"]["discount"] == AWS.spot_discount.fraction == 0.6  # type: ignore[union-attr]
    assert cost["list_monthly_min"] == pytest.approx(0.8048 * 730)
    assert cost["monthly_min"] == pytest.approx(0.8048 * 730 * (hours / 730) * (1 - 0.6), rel=1e-5)
    assert cost["monthly_min"] < cost["list_monthly_min"] / 4
    assert stack is not None and stack["monthly_max"] == cost["monthly_max"] and stack["hours_per_month"] == cost["hours_per_month"]
    assert "0 7 * * MON-FRI" in stack["schedule"] and stack["region_price_flags"] == []


def test_prod_prices_min_replicas_on_demand_and_only_replicas_above_them_on_spot() -> None:
    _, sizing, stack = planned("prod")
    assert len(sizing) == 2
    for model in sizing:
        cost, spot = model["cost"], model["cost"]["spot"]
        assert (model["replicas"]["min"], model["replicas"]["max"]) == (2, 8)
        # replicas.min run on the on-demand NodePool gpu-on-demand: list price, none on spot
        assert cost["monthly_min"] == pytest.approx(cost["list_monthly_min"], rel=1e-5)
        assert cost["monthly_max"] == pytest.approx(cost["list_monthly_max"], rel=1e-5)  # Karpenter may find no spot
        assert (spot["replicas_at_min"], spot["replicas_at_max"], spot["replicas_at_max_up_to"]) == (0, 0, 6)
        # the cheapest token: 8 replicas, the 6 above the floor on spot at 60 % off
        low, high = cost["per_million_tokens_effective"]
        assert low == pytest.approx(high * (1 - 0.6 * 6 / 8), rel=1e-5) and high == cost["per_million_tokens"]
        assert cost["hours_per_month"] == 730 and cost["schedule"] is None
    assert stack is not None and stack["monthly_min"] == pytest.approx(sum(m["cost"]["monthly_min"] for m in sizing), rel=1e-5)
    assert stack["monthly_min"] == pytest.approx(stack["list_monthly_min"], rel=1e-5)
    assert stack["spot_basis"] == "aws.cluster.capacity_types: [on-demand, spot]; replicas.min on on-demand"


def test_prod_all_spot_keeps_min_replicas_on_spot() -> None:
    settings = with_serving(load_settings(Project.find(ROOT), "prod"), all_spot=True)
    sizing = stack_sizing(settings)
    stack = price_stack(settings, sizing)
    assert len(sizing) == 2
    for model in sizing:
        cost = model["cost"]
        assert cost["monthly_min"] == pytest.approx(cost["list_monthly_min"] * 0.4, rel=1e-5)  # spot for all
        assert cost["monthly_max"] == pytest.approx(cost["list_monthly_max"], rel=1e-5)  # or none
        assert (cost["spot"]["replicas_at_min"], cost["spot"]["replicas_at_max_up_to"]) == (2, 8)
    assert stack is not None and stack["spot_basis"].endswith("; serving.all_spot")


def test_gcp_prod_fills_its_on_demand_nodes_first_and_bursts_on_spot() -> None:
    _, sizing, _ = planned("gcp-prod")
    assert sizing
    for model in sizing:
        cost, spot = model["cost"], model["cost"]["spot"]
        assert cost["monthly_min"] == pytest.approx(cost["list_monthly_min"], rel=1e-5)  # 2 replicas, 2 on-demand nodes
        assert (spot["replicas_at_min"], spot["replicas_at_max"], spot["replicas_at_max_up_to"]) == (0, 4, 4)
        assert cost["monthly_max"] == pytest.approx(cost["list_monthly_max"] * (1 - 0.6 * 4 / 6), rel=1e-5)


def test_azure_prod_is_priced_for_westeurope_and_flagged_while_the_catalog_has_no_westeurope_price() -> None:
    _, [model], stack = planned("azure-prod")
    cost = model["cost"]
    assert cost["region_deployed"] == "westeurope"
    assert cost["region_priced"] == "eastus" and "pulumi-llm:region = westeurope" in cost["region_price_flag"]
    assert stack is not None and stack["region_price_flags"] == [cost["region_price_flag"]]
    # Regular pools (max 4) before Spot: 2 replicas all regular, 6 replicas → 2 on spot.
    assert (cost["spot"]["replicas_at_min"], cost["spot"]["replicas_at_max"]) == (0, 2)


def test_azure_prod_uses_a_westeurope_price_once_the_catalog_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    regional = RegionalPrices("westeurope", (("Standard_NC24ads_A100_v4", 4.0),), "a test page", "2026-12")
    monkeypatch.setattr(stack_cost, "CATALOGS", (AWS, GCP, dataclasses.replace(AZURE, regional_prices=(regional,))))
    _, [model], _ = planned("azure-prod")
    cost = model["cost"]
    assert (cost["region_priced"], cost["price_per_hour"], cost["region_price_flag"]) == ("westeurope", 4.0, None)
    assert cost["list_monthly_min"] == pytest.approx(2 * 4.0 * 730)


def test_stacks_on_their_own_hardware_have_no_stack_cost() -> None:
    _, sizing, stack = planned("onprem")
    assert sizing and stack is None and sizing[0]["cost"] is None
