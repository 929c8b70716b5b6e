"""The stack's monthly GPU bill at its maximum scale, priced with the sizing catalog, against a budget.

Cost = Σ max replicas × hourly list price × HOURS_PER_MONTH (730), the same formula and prices as the
sizing summary (``pulumi-llm plan`` → summary.json ``sizing[].cost.monthly_max``). What counts:

* VM groups: AWS Auto Scaling groups (``maxSize``; the dearest of their override types, else their launch
  template's type), GCP managed instance groups (their autoscaler's ``maxReplicas``, else ``targetSize``;
  machine type from their instance template), Azure scale sets (their autoscale setting's largest
  ``capacity.maximum``, else ``sku.capacity``).
* Kubernetes GPU workloads (Deployments/StatefulSets asking for ``nvidia.com/gpu``) at their max replicas
  (their KEDA ScaledObject's ``maxReplicaCount``, an HPA's ``maxReplicas``, else ``spec.replicas``):
  - on node pools with a fixed catalog GPU type (EKS managed node groups, GKE node pools, AKS agent
    pools): the nodes those replicas fill, dearest pool first, up to each pool's maximum
    (``scalingConfig.maxSize``; ``totalMaxNodeCount``, else ``maxNodeCount`` per zone; ``maxCount``).
    A cluster with GPU pools and no GPU workload in the stack is priced at the pools' full maximum.
  - on Karpenter (no fixed type): each replica on the cheapest catalog type a NodePool allows with
    enough GPUs for it.

Only catalog types have a price: system nodes (m7i, e2-standard, Standard_D…) are left out, as are the
summary's excluded costs (load balancers, NAT, egress, control planes, …). On-prem stacks cost 0.
Groups are matched to their templates/autoscalers by id when known, else by their parent component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_llm_policy import catalog
from pulumi_llm_policy.rules import UNKNOWN, Resource, Violation, _get, _inputs, _list, _where

CONFIG_SCHEMA: dict[str, Any] = {
    "properties": {
        "monthlyBudgetUsd": {
            "type": "number",
            "minimum": 0,
            "description": "Monthly GPU budget in USD for any stack not named in stackBudgetsUsd.",
        },
        "stackBudgetsUsd": {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": 0},
            "description": "Monthly GPU budget in USD per stack name (overrides monthlyBudgetUsd).",
        },
    },
}


@dataclass(frozen=True)
class CostItem:
    resource: str
    urn: str
    instance_type: str
    max_replicas: int
    price_per_hour: float

    @property
    def monthly(self) -> float:
        return self.max_replicas * self.price_per_hour * catalog.HOURS


def _int(value: Any) -> int | None:
    if value is None or value == UNKNOWN:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _find(resources: list[Resource], types: tuple[str, ...], owner: Resource, ref: Any, id_keys: tuple[str, ...]) -> list[Resource]:
    """Resources of `types` that `ref` names (by id/name/selfLink), else those sharing owner's parent."""
    candidates = [r for r in resources if r["type"] in types]
    if isinstance(ref, str) and ref != UNKNOWN:
        named = [r for r in candidates if ref in {_inputs(r).get(k) for k in id_keys}]
        if named:
            return named
    return [r for r in candidates if r.get("parent") == owner.get("parent")]


def _priced(cloud: str, names: list[Any]) -> catalog.CatalogType | None:
    known = [t for n in names if isinstance(n, str) and (t := catalog.lookup(cloud, n)) is not None]
    return max(known, key=lambda t: t.price_per_hour) if known else None


def _item(r: Resource, entry: catalog.CatalogType | None, count: int | None) -> list[CostItem]:
    if entry is None or not count:
        return []
    return [CostItem(_where(r), r["urn"], entry.name, count, entry.price_per_hour)]


def _aws_groups(resources: list[Resource]) -> list[CostItem]:
    out: list[CostItem] = []
    for r in resources:
        i = _inputs(r)
        if r["type"] == "aws:autoscaling/group:Group":
            names = [_get(o, "instanceType") for o in _list(_get(i, "mixedInstancesPolicy", "launchTemplate", "overrides"))]
            if not any(isinstance(n, str) and n != UNKNOWN for n in names):
                spec = _get(i, "mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification") or i.get("launchTemplate") or {}
                ref = _get(spec, "launchTemplateId") or _get(spec, "id")
                templates = _find(resources, ("aws:ec2/launchTemplate:LaunchTemplate",), r, ref, ("id", "name"))
                names = [_inputs(t).get("instanceType") for t in templates]
            out += _item(r, _priced("aws", names), _int(i.get("maxSize")))
    return out


def _gcp_groups(resources: list[Resource]) -> list[CostItem]:
    out: list[CostItem] = []
    migs = ("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", "gcp:compute/instanceGroupManager:InstanceGroupManager")
    for r in resources:
        i = _inputs(r)
        if r["type"] in migs:
            refs = [_get(v, "instanceTemplate") for v in _list(i.get("versions"))]
            templates = _find(
                resources,
                ("gcp:compute/instanceTemplate:InstanceTemplate", "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"),
                r,
                refs[0] if refs else None,
                ("id", "selfLink", "selfLinkUnique", "name"),
            )
            scalers = _find(
                resources,
                ("gcp:compute/regionAutoscaler:RegionAutoscaler", "gcp:compute/autoscaler:Autoscaler"),
                r,
                None,
                (),
            )
            count = max((_int(_get(s, "inputs", "autoscalingPolicy", "maxReplicas")) or 0 for s in scalers), default=0)
            out += _item(r, _priced("gcp", [_inputs(t).get("machineType") for t in templates]), count or _int(i.get("targetSize")))
    return out


def _azure_groups(resources: list[Resource]) -> list[CostItem]:
    out: list[CostItem] = []
    for r in resources:
        i = _inputs(r)
        if r["type"] == "azure-native:compute:VirtualMachineScaleSet":
            settings = _find(resources, ("azure-native:monitor:AutoscaleSetting",), r, None, ())
            maxima = [_int(_get(p, "capacity", "maximum")) or 0 for s in settings for p in _list(_inputs(s).get("profiles"))]
            count = max(maxima, default=0) or _int(_get(i, "sku", "capacity"))
            out += _item(r, _priced("azure", [_get(i, "sku", "name")]), count)
    return out


@dataclass
class _Pool:
    resource: Resource
    entry: catalog.CatalogType
    max_nodes: int
    used: int = 0


def _aks_count(p: Any) -> int | None:
    count = _int(_get(p, "maxCount")) if _get(p, "enableAutoScaling") in (True, "true") else None
    return count or _int(_get(p, "count"))


def _fixed_gpu_pools(resources: list[Resource]) -> list[_Pool]:
    """Kubernetes node pools whose type is a catalog GPU type, with their most nodes."""
    pools: list[_Pool] = []

    def add(r: Resource, entry: catalog.CatalogType | None, count: int | None) -> None:
        if entry is not None and count:
            pools.append(_Pool(r, entry, count))

    for r in resources:
        i = _inputs(r)
        if r["type"] == "aws:eks/nodeGroup:NodeGroup":
            add(r, _priced("aws", _list(i.get("instanceTypes"))), _int(_get(i, "scalingConfig", "maxSize")))
        elif r["type"] == "gcp:container/nodePool:NodePool":
            scaling = i.get("autoscaling")
            count = _int(_get(scaling, "totalMaxNodeCount"))
            per_zone = _int(_get(scaling, "maxNodeCount"))
            if count is None and per_zone is not None:
                zones = len(_list(i.get("nodeLocations"))) or (3 if str(i.get("location", "")).count("-") == 1 else 1)
                count = per_zone * zones
            if count is None:
                count = _int(i.get("nodeCount")) or _int(i.get("initialNodeCount"))
            add(r, _priced("gcp", [_get(i, "nodeConfig", "machineType")]), count)
        elif r["type"] == "azure-native:containerservice:AgentPool":
            add(r, _priced("azure", [i.get("vmSize")]), _aks_count(i))
        elif r["type"] == "azure-native:containerservice:ManagedCluster":
            for p in _list(i.get("agentPoolProfiles")):
                add(r, _priced("azure", [_get(p, "vmSize")]), _aks_count(p))
    return pools


_GPU_WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")


def _gpus_per_pod(workload: Resource) -> int:
    total = 0
    for c in _list(_get(workload, "inputs", "spec", "template", "spec", "containers")):
        total += _int(_get(c, "resources", "limits", "nvidia.com/gpu")) or _int(_get(c, "resources", "requests", "nvidia.com/gpu")) or 0
    return total


def _max_replicas(workload: Resource, resources: list[Resource]) -> int:
    meta = _get(workload, "inputs", "metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    for r in resources:
        i = _inputs(r)
        same_ns = _get(i, "metadata", "namespace") == namespace
        if r["type"] == "kubernetes:keda.sh/v1alpha1:ScaledObject" and same_ns and _get(i, "spec", "scaleTargetRef", "name") == name:
            return _int(_get(i, "spec", "maxReplicaCount")) or 100  # KEDA's default maximum
        if r["type"].startswith("kubernetes:autoscaling/") and r["type"].endswith(":HorizontalPodAutoscaler") and same_ns:
            if _get(i, "spec", "scaleTargetRef", "name") == name:
                return _int(_get(i, "spec", "maxReplicas")) or 1
    return _int(_get(workload, "inputs", "spec", "replicas")) or 1


def _karpenter_types(pool: Resource) -> list[catalog.CatalogType]:
    reqs = {q.get("key"): q for q in _list(_get(pool, "inputs", "spec", "template", "spec", "requirements")) if isinstance(q, dict)}
    allowed = list(catalog.ALLOWED["aws"].values())
    types = reqs.get("node.kubernetes.io/instance-type")
    if types and types.get("operator") == "In":
        names = {str(v).lower() for v in _list(types.get("values"))}
        allowed = [t for t in allowed if t.name.lower() in names]
    families = reqs.get("karpenter.k8s.aws/instance-family")
    if families and families.get("operator") == "In":
        fams = {str(v).lower() for v in _list(families.get("values"))}
        allowed = [t for t in allowed if catalog.aws_family(t.name) in fams]
    return allowed


def _kubernetes(resources: list[Resource]) -> list[CostItem]:
    workloads = [(w, gpus, _max_replicas(w, resources)) for w in resources if w["type"] in _GPU_WORKLOADS and (gpus := _gpus_per_pod(w))]
    pools = sorted(_fixed_gpu_pools(resources), key=lambda p: -p.entry.price_per_hour)
    if pools:
        if not workloads:
            for p in pools:
                p.used = p.max_nodes
        for _, gpus, replicas in workloads:
            for p in pools:
                per_node = p.entry.gpu_count // gpus
                if per_node == 0 or replicas == 0:
                    continue
                free_pods = (p.max_nodes - p.used) * per_node
                placed = min(replicas, free_pods)
                p.used += -(-placed // per_node)
                replicas -= placed
        return [i for p in pools for i in _item(p.resource, p.entry, p.used)]
    karpenter = [r for r in resources if r["type"] == "kubernetes:karpenter.sh/v1:NodePool"]
    types = {t.name: t for p in karpenter for t in _karpenter_types(p)}
    out: list[CostItem] = []
    for w, gpus, replicas in workloads:
        fitting = [t for t in types.values() if t.gpu_count >= gpus]
        if fitting:
            out += _item(w, min(fitting, key=lambda t: t.price_per_hour), replicas)
    return out


def monthly_cost(resources: list[Resource]) -> list[CostItem]:
    """Every priced GPU capacity of the stack at its maximum scale."""
    return [*_aws_groups(resources), *_gcp_groups(resources), *_azure_groups(resources), *_kubernetes(resources)]


def stack_name(resources: list[Resource]) -> str | None:
    """From any URN: ``urn:pulumi:<stack>::<project>::…``."""
    for r in resources:
        urn = r.get("urn") or ""
        if urn.startswith("urn:pulumi:"):
            return urn[len("urn:pulumi:") :].split("::", 1)[0]
    return None


def budget_for(stack: str | None, config: dict[str, Any]) -> float | None:
    per_stack = config.get("stackBudgetsUsd") or {}
    if stack is not None and stack in per_stack:
        return float(per_stack[stack])
    if config.get("monthlyBudgetUsd") is not None:
        return float(config["monthlyBudgetUsd"])
    return None


def monthly_budget(resources: list[Resource], config: dict[str, Any]) -> list[str]:
    """The stack's monthly GPU cost at maximum scale is within its configured budget."""
    items = monthly_cost(resources)
    total = sum(i.monthly for i in items)
    stack = stack_name(resources)
    budget = budget_for(stack, config)
    if budget is None:
        if total == 0 or not (config.get("stackBudgetsUsd") or config.get("monthlyBudgetUsd") is not None):
            return []
        return [
            Violation(
                f"stack {stack!r} has GPU capacity costing {total:,.2f} USD/month but no budget in stackBudgetsUsd or monthlyBudgetUsd"
            )
        ]
    if total <= budget:
        return []
    parts = "; ".join(f"{i.resource}: {i.max_replicas} × {i.instance_type} at {i.price_per_hour} USD/h = {i.monthly:,.2f}" for i in items)
    return [
        Violation(
            f"stack {stack!r}: GPU capacity at maximum scale costs {total:,.2f} USD/month, over the budget of {budget:,.2f} ({parts})"
        )
    ]
