"""What the served models cost as the stack deploys them: its region's list price, its schedule, its spot share.

`sizing.sizing_summary` prices a replica at the catalog's on-demand list price in the catalog's price region,
730 hours a month. A stack says more: the region it deploys to, a scale-to-zero schedule (`aws.gpu_vm.schedule`,
`azure.gpu_vm.schedule`) and how much of its capacity is spot. `price_stack` turns each model's cost in the
plan's summary into the stack's own figures, keeps the on-demand list figures beside them, and adds the stack's
total and the break-even against the closest API price.

A region the catalog has no price for is flagged, not refused: the plan prices the type at the catalog's price
region, names the deployed region, the key it comes from and the regions that have prices, in summary.json
(`region_price_flag`) and in the printed block. Refusing would stop `pulumi-llm plan` on a stack that deploys
fine, for a figure that is an estimate anyway. Pure decisions (`decide_*`); no Pulumi, no cloud.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .schedules import cron_hours_per_month, weekly_hours_per_month
from .sizing import ApiPrice, comparable_api_prices, comparable_tier
from .sizing._common import HOURS_PER_MONTH, round_sig
from .sizing.catalogs import CATALOGS, CloudCatalog
from .sizing.economics import EXCLUDED_COSTS, break_even_tokens_per_month, monthly_capacity_tokens

if TYPE_CHECKING:
    from .settings import Settings
    from .sizing import ModelSpec

REGION_KEY = "pulumi-llm:region"
"""The stack-file key the deployed region is read from, as a flag names it."""

SPOT_EXCLUSION = "discounts: savings plans, committed use, reservations, spot (list on-demand prices are used)"
"""The line of EXCLUDED_COSTS the plan replaces: it prices spot (at an assumed discount), not the rest."""


@dataclass(frozen=True)
class RegionPrice:
    """The on-demand list price a stack's machine type is priced at, and where it was read."""

    region_deployed: str
    region_priced: str
    price_per_hour: float
    source: str
    as_of: str
    flag: str | None = None
    """Set when the deployed region has no price in the catalog: what was used instead, and why."""


def decide_region_price(catalog: CloudCatalog, machine_type: str, region: str | None) -> RegionPrice:
    """The list price of `machine_type` in `region` (the catalog's price region when None); a region the
    catalog has no price for is priced at the price region and flagged."""
    where = region or catalog.price_region
    found = catalog.list_price(machine_type, where)
    if found is not None:
        return RegionPrice(where, where, *found)
    fallback = catalog.list_price(machine_type, catalog.price_region)
    if fallback is None:
        raise ValueError(f"{machine_type}: not in the {catalog.cloud} sizing catalog")
    priced = ", ".join(catalog.priced_regions(machine_type))
    flag = (
        f"{REGION_KEY} = {where}: no list price of {machine_type} there in the sizing catalog "
        f"(prices for: {priced}); priced at the {catalog.price_region} list price"
    )
    return RegionPrice(where, catalog.price_region, *fallback, flag=flag)


@dataclass(frozen=True)
class SpotRule:
    """How many of n replicas run on spot, as the stack's capacity settings place them.

    `preferred(n)` replicas above the on-demand floor go to spot when spot is available; replicas beyond
    `on_demand_cap` can only be spot; with `falls_back`, on-demand capacity takes the place of spot that is
    short, so the dearest case keeps only the forced spot replicas. One replica per node of the sized type.
    """

    basis: str
    """The stack keys the rule comes from, as a person reads them."""
    on_demand_floor: int = 0
    spot_fraction: float = 0.0
    spot_cap: int | None = None
    on_demand_cap: int | None = None
    falls_back: bool = False

    def _forced(self, replicas: int) -> int:
        return 0 if self.on_demand_cap is None else max(0, replicas - self.on_demand_cap)

    def most(self, replicas: int) -> int:
        """The most of `replicas` on spot (spot available everywhere)."""
        preferred = math.floor(max(0, replicas - self.on_demand_floor) * self.spot_fraction + 1e-9)
        spot = max(self._forced(replicas), preferred)
        return min(spot, replicas, self.spot_cap if self.spot_cap is not None else replicas)

    def fewest(self, replicas: int) -> int:
        """The fewest of `replicas` on spot (spot short, on-demand taking its place where allowed)."""
        return min(self._forced(replicas), self.most(replicas)) if self.falls_back else self.most(replicas)


ON_DEMAND = SpotRule(basis="on-demand only")
ALL_SPOT = "serving.all_spot"
"""A cluster rule's basis suffix when the stack runs every replica on spot deliberately (spot first)."""
FLOOR_ON_DEMAND = "replicas.min on on-demand"
"""A cluster rule's basis suffix when each model's fewest replicas stay off spot (the default)."""


def decide_spot_rule(settings: Settings, *, replicas_min: int) -> SpotRule:
    """The spot rule of the method that runs the stack's model servers (gpu-vm before cluster), for a model whose
    fewest replicas are `replicas_min` (serving.replicas.min): clusters keep those on on-demand capacity unless the
    stack is all-spot on purpose (`serving.all_spot`; kubernetes/resilience.on_demand_floor_gpus)."""
    cloud, methods, all_spot = settings.cloud, settings.methods, settings.serving.all_spot
    if cloud == "aws" and "gpu-vm" in methods:
        vm = settings.aws.gpu_vm
        # An Auto Scaling group's mixed instances policy: the base on demand, then the percentage on spot;
        # it does not swap in on-demand when spot is short (the group waits for capacity).
        return SpotRule(
            basis=f"aws.gpu_vm: on_demand_base {vm.on_demand_base}, spot_percentage {vm.spot_percentage}",
            on_demand_floor=vm.on_demand_base,
            spot_fraction=vm.spot_percentage / 100,
        )
    if cloud == "azure" and "gpu-vm" in methods:
        return SpotRule(basis="azure.gpu_vm.spot: true", spot_fraction=1.0) if settings.azure.gpu_vm.spot else ON_DEMAND
    if cloud == "gcp" and "gpu-vm" in methods:
        gcp = settings.gcp
        return SpotRule(basis="gcp.gpu_vm.spot: true", spot_fraction=1.0) if gcp is not None and gcp.gpu_vm.spot else ON_DEMAND
    if cloud == "aws" and "cluster" in methods:
        return _eks_rule(settings, replicas_min, all_spot)
    if cloud == "azure" and "cluster" in methods:
        return _aks_rule(settings, all_spot)
    if cloud == "gcp" and "cluster" in methods and settings.gcp is not None:
        return _gke_rule(settings, all_spot)
    return ON_DEMAND


def _eks_rule(settings: Settings, replicas_min: int, all_spot: bool) -> SpotRule:
    cluster = settings.aws.cluster
    if cluster.gpu_capacity != "karpenter":
        return SpotRule(basis="aws.cluster.gpu_capacity: node-group (on-demand)")  # platform/aws.py: on-demand only
    types = cluster.capacity_types
    if types == ["on-demand"]:
        return ON_DEMAND
    basis = f"aws.cluster.capacity_types: [{', '.join(types)}]; {ALL_SPOT if all_spot else FLOOR_ON_DEMAND}"
    # Unless all-spot, the model's replicas.min run on the on-demand NodePool gpu-on-demand, weighted so Karpenter
    # fills it first and limited to the models' fewest replicas (cluster/eks_render.node_pools). Beyond them the
    # burst pool: spot only, or spot preferred with on-demand when spot is short (karpenter.sh/docs/concepts/
    # nodepools/, capacity type): anywhere from none to all of the replicas above the floor on spot.
    floor = 0 if all_spot else replicas_min
    if types == ["spot"]:
        return SpotRule(basis=basis, on_demand_floor=floor, spot_fraction=1.0, on_demand_cap=floor)
    return SpotRule(basis=basis, on_demand_floor=floor, spot_fraction=1.0, falls_back=True)


def _aks_rule(settings: Settings, all_spot: bool) -> SpotRule:
    pools = settings.azure.cluster.gpu_pools
    regular_max = sum(p.max_count for p in pools.values() if not p.spot)
    spot_max = sum(p.max_count for p in pools.values() if p.spot)
    regular = sum(1 for p in pools.values() if not p.spot)
    if regular == len(pools):
        return ON_DEMAND
    basis = f"azure.cluster.gpu_pools: {regular} regular (max {regular_max} nodes), {len(pools) - regular} spot (max {spot_max})"
    basis += f"; {ALL_SPOT}" if all_spot else ""
    if all_spot:
        # cluster/aks_render.py's priority expander tries the Spot pools first; a Spot pool that can't grow within
        # max-node-provision-time (15 min) is backed off and the Regular pools grow instead (kubernetes/autoscaler#2075).
        return SpotRule(basis=basis, spot_fraction=1.0, spot_cap=spot_max, on_demand_cap=regular_max, falls_back=True)
    # The priority expander grows the Regular pools before the Spot ones: spot only beyond them.
    return SpotRule(basis=basis, on_demand_cap=regular_max, spot_cap=spot_max)


def _gke_rule(settings: Settings, all_spot: bool) -> SpotRule:
    assert settings.gcp is not None
    pool = settings.gcp.cluster.gpu_pool
    basis = f"gcp.cluster.gpu_pool: spot_max_nodes {pool.spot_max_nodes}, on_demand_max_nodes {pool.on_demand_max_nodes}"
    if settings.gcp.cluster.mode == "autopilot":
        # Autopilot creates the nodes itself, with no node cap: the ComputeClass's first capacity type takes every
        # replica, the other only when the first has none (cluster/gke_render.compute_class_autopilot).
        if not pool.on_demand_max_nodes:
            return SpotRule(basis=f"{basis}; autopilot", spot_fraction=1.0)
        if not all_spot or not pool.spot_max_nodes:
            return SpotRule(basis=f"{basis}; autopilot, on-demand first")
        return SpotRule(basis=f"{basis}; autopilot, {ALL_SPOT}", spot_fraction=1.0, falls_back=True)
    if all_spot:
        # The ComputeClass lists the spot pool first, the on-demand pool as the fallback (cluster/gke_render.py).
        return SpotRule(
            basis=f"{basis}; {ALL_SPOT}",
            spot_fraction=1.0,
            spot_cap=pool.spot_max_nodes,
            on_demand_cap=pool.on_demand_max_nodes,
            falls_back=True,
        )
    # The ComputeClass lists the on-demand pool first (and migrates pods back to it when it has room,
    # cluster/gke_render.compute_class_standard): spot only beyond its nodes, like the AKS priority expander.
    return SpotRule(basis=basis, on_demand_cap=pool.on_demand_max_nodes, spot_cap=pool.spot_max_nodes)


@dataclass(frozen=True)
class Uptime:
    """Hours a month the model servers run, and the schedule it comes from (None: always on)."""

    hours_per_month: float
    schedule: str | None = None


def decide_uptime(settings: Settings) -> Uptime:
    """The scale-to-zero schedule of the stack's GPU VMs, as hours on per month (schedules.py)."""
    if "gpu-vm" not in settings.methods:
        return Uptime(HOURS_PER_MONTH)
    if settings.cloud == "aws" and settings.aws.gpu_vm.schedule is not None:
        s = settings.aws.gpu_vm.schedule
        hours = cron_hours_per_month(s.start, s.stop)
        return Uptime(hours, f"aws.gpu_vm.schedule: start '{s.start}', stop '{s.stop}' ({s.time_zone})")
    if settings.cloud == "azure" and settings.azure.gpu_vm.schedule is not None:
        s = settings.azure.gpu_vm.schedule
        hours = weekly_hours_per_month(s.days, s.start, s.stop)
        days = "Mon-Fri" if s.days == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] else ", ".join(d[:3] for d in s.days)
        return Uptime(hours, f"azure.gpu_vm.schedule: {s.start}-{s.stop} {days} ({s.time_zone})")
    return Uptime(HOURS_PER_MONTH)


def closest_api(spec: ModelSpec) -> tuple[ApiPrice, str]:
    """The API price a self-hosted model is weighed against: the very model on an API when one serves it,
    else the cheapest API model of its tier (economics.comparable_api_prices), and why that one."""
    prices = comparable_api_prices(spec)
    same = [p for p in prices if p.same_model == spec.key]
    if same:
        return same[0], "same model"
    return prices[0], f"cheapest {comparable_tier(spec)}-tier API"


def _r(x: float) -> float:
    return round_sig(float(x), 6)


def _month(price: float, hours: float, replicas: int, spot: int, discount: float) -> float:
    return hours * price * ((replicas - spot) + spot * (1 - discount))


def price_model(
    cost: dict[str, Any],
    *,
    machine_type: str,
    spec: ModelSpec,
    tokens_per_s: float,
    catalog: CloudCatalog,
    region: str | None,
    rule: SpotRule,
    uptime: Uptime,
) -> dict[str, Any]:
    """One model's `cost` of summary.json (sizing.report._cost_summary) priced as the stack deploys it."""
    where = decide_region_price(catalog, machine_type, region)
    discount = catalog.spot_discount.fraction if catalog.spot_discount is not None else 0.0
    lo, hi = int(cost["min_replicas"]), int(cost["max_replicas"])
    price, hours = where.price_per_hour, uptime.hours_per_month
    spot_lo, spot_hi, spot_hi_most = rule.most(lo), rule.fewest(hi), rule.most(hi)
    monthly_min = _month(price, hours, lo, spot_lo, discount)
    monthly_max = _month(price, hours, hi, spot_hi, discount)
    utilization = float(cost["utilization"])
    per_token_hour = tokens_per_s * 3600 * utilization / 1e6  # million tokens a replica serves per hour
    # A replica's hourly price at the cheapest and the dearest spot share the stack allows. The cheapest share may
    # be at max replicas: with an on-demand floor (replicas.min off spot) only the replicas above it ride spot.
    n_lo = max(1, lo)
    hourly_low = price * (1 - discount * max(rule.most(n_lo) / n_lo, spot_hi_most / hi))
    hourly_high = price * (1 - discount * spot_hi / hi)
    api, why = closest_api(spec)
    blended = api.blended_per_m()
    # Weighed at the dearest spot share: the volume above which self-hosting wins whatever spot does.
    break_even = break_even_tokens_per_month(
        hourly_high,
        monthly_capacity_tokens(tokens_per_s, utilization, hours),
        blended,
        min_replicas=lo,
        hours_per_month=hours,
    )
    spot_assumption = catalog.spot_discount
    return {
        **cost,
        "price_per_hour": _r(price),
        "price_region": where.region_priced,
        "price_source": where.source,
        "price_as_of": where.as_of,
        "region_deployed": where.region_deployed,
        "region_priced": where.region_priced,
        "region_price_flag": where.flag,
        "hours_per_month": _r(hours),
        "schedule": uptime.schedule,
        "spot": {
            "basis": rule.basis,
            # min: min replicas, as many on spot as the rule allows; max: max replicas, as few as it allows
            "replicas_at_min": spot_lo,
            "replicas_at_max": spot_hi,
            "share_at_min": _r(spot_lo / lo) if lo else 0.0,
            "share_at_max": _r(spot_hi / hi),
            # max replicas with as many on spot as the rule allows (above an on-demand floor, when spot is there)
            "replicas_at_max_up_to": spot_hi_most,
            "share_at_max_up_to": _r(spot_hi_most / hi),
            "discount": _r(discount),
            "discount_source": spot_assumption.source if spot_assumption else None,
            "discount_as_of": spot_assumption.as_of if spot_assumption else None,
        },
        "list_monthly_min": _r(lo * price * HOURS_PER_MONTH),
        "list_monthly_max": _r(hi * price * HOURS_PER_MONTH),
        "monthly_min": _r(monthly_min),
        "monthly_max": _r(monthly_max),
        "items": [{"name": f"{machine_type} servers", "monthly_min": _r(monthly_min), "monthly_max": _r(monthly_max)}],
        "per_million_tokens": _r(price / per_token_hour),
        "per_million_tokens_effective": [_r(hourly_low / per_token_hour), _r(hourly_high / per_token_hour)],
        "break_even": {
            "api": api.key,
            "api_per_million": _r(blended),
            "why": why,
            "tokens_per_month": None if break_even is None else _r(break_even),
        },
        "excluded": [
            "discounts: savings plans, committed use, reservations (spot is priced at the assumed discount)"
            if line == SPOT_EXCLUSION
            else line
            for line in EXCLUDED_COSTS
        ],
    }


def price_stack(settings: Settings, sizing: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Price every model of `sizing` (serving.stack_sizing) as the stack deploys it, in place; return the
    stack's cost for summary.json, or None when no model has a cloud price (on-prem, edge)."""
    from .serving import model_spec

    catalog = next((c for c in CATALOGS if c.cloud == settings.cloud), None)
    if catalog is None:
        return None
    uptime = decide_uptime(settings)
    priced: list[dict[str, Any]] = []
    bases: list[str] = []
    for model in sizing:
        machine_type = model["hardware"]["instance_type"]
        if model.get("cost") is None or machine_type is None:
            continue
        name = model["served_name"]
        # Per model: a cluster keeps each model's own replicas.min off spot (serving.all_spot aside).
        rule = decide_spot_rule(settings, replicas_min=int(model["replicas"]["min"]))
        bases += [rule.basis] if rule.basis not in bases else []
        model["cost"] = price_model(
            model["cost"],
            machine_type=machine_type,
            spec=model_spec(name, settings.models[name]),
            tokens_per_s=float(model["throughput"]["total_tokens_per_s"]),
            catalog=catalog,
            region=settings.region,
            rule=rule,
            uptime=uptime,
        )
        priced.append(model["cost"])
    if not priced:
        return None
    flags = sorted({c["region_price_flag"] for c in priced if c["region_price_flag"]})
    return {
        "currency": "USD",
        "region_deployed": priced[0]["region_deployed"],
        "regions_priced": sorted({c["region_priced"] for c in priced}),
        "region_price_flags": flags,
        "hours_per_month": priced[0]["hours_per_month"],
        "schedule": uptime.schedule,
        "spot_basis": "; ".join(bases),
        "spot_discount": priced[0]["spot"]["discount"],
        "spot_discount_as_of": priced[0]["spot"]["discount_as_of"],
        "list_monthly_min": _r(sum(c["list_monthly_min"] for c in priced)),
        "list_monthly_max": _r(sum(c["list_monthly_max"] for c in priced)),
        "monthly_min": _r(sum(c["monthly_min"] for c in priced)),
        "monthly_max": _r(sum(c["monthly_max"] for c in priced)),
        "models": len(priced),
    }
