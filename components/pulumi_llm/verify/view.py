"""What a rule sees: one stack's recorded plan as plain data, with look-ups rules share."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml


@dataclass
class PlanView:
    """One stack's plan: `resources` as in resources.json, `manifests` as the YAML objects, `settings`
    as the validated settings dumped to JSON (what the stack intends)."""

    stack: str
    settings: dict[str, Any]
    resources: list[dict[str, Any]]
    manifests: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    # ---- loading -------------------------------------------------------------------------------
    @classmethod
    def from_plan(cls, plan: Any) -> PlanView:
        """From an in-memory `offline.plan.Plan` (what `plan` and `verify` run)."""
        from ..offline import manifests as manifest_render
        from ..offline.plan import resources_json

        objects = [manifest_render.to_object(r) for r in plan.records if manifest_render.is_kubernetes_object(r)]
        return cls(stack=plan.stack, settings=plan.config, resources=resources_json(plan), manifests=objects)

    @classmethod
    def from_dir(cls, out: Path, settings: dict[str, Any]) -> PlanView:
        """From a plan's output directory (resources.json, manifests/)."""
        resources = json.loads((out / "resources.json").read_text())
        objects: list[dict[str, Any]] = [yaml.safe_load(p.read_text()) for p in sorted((out / "manifests").glob("*.yaml"))]
        stack = json.loads((out / "summary.json").read_text())["stack"]
        return cls(stack=stack, settings=settings, resources=resources, manifests=objects)

    # ---- settings --------------------------------------------------------------------------------
    @property
    def cloud(self) -> str:
        return str(self.settings.get("cloud") or "")

    @property
    def methods(self) -> set[str]:
        return set(self.settings.get("methods") or [])

    # ---- resources -------------------------------------------------------------------------------
    def of_type(self, *types: str) -> list[dict[str, Any]]:
        """Resources of any of `types` (Pulumi type tokens), in URN order."""
        return [r for r in self.resources if r["type"] in types]

    @cached_property
    def by_urn(self) -> dict[str, dict[str, Any]]:
        return {r["urn"]: r for r in self.resources}

    @cached_property
    def _by_ref(self) -> dict[str, dict[str, Any]]:
        """Every string another resource's inputs may carry to point at a resource: its id, URN and
        the identifiers the mocks compute (ARN, bucket name, key id)."""
        from ..offline.recorder import mock_arn

        region = str(self.settings.get("region") or "")
        index: dict[str, dict[str, Any]] = {}
        for r in self.resources:
            refs = [r.get("id"), r["urn"]]
            # An `arn` input is another resource's ARN (a policy names its topic), not this one's.
            if r["type"].startswith("aws:") and "arn" not in r["inputs"]:
                refs.append(mock_arn(r["type"], r["name"], region, bucket=r.get("id")))
            for ref in refs:
                if ref:
                    index.setdefault(ref, r)
        return index

    def ref(self, value: Any) -> dict[str, Any] | None:
        """The resource an input value points at (by id or URN), or None."""
        return self._by_ref.get(value) if isinstance(value, str) else None

    def named(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.resources if r["name"] == name), None)

    def depends(self, user: dict[str, Any], dependency: dict[str, Any]) -> bool:
        """Whether the engine creates `dependency` before `user`: a path through dependsOn (which
        carries both explicit depends_on and input references) or parent links of components. A child
        waits for its parent: the SDK registers it only once the parent's URN resolves, and the parent
        registers only after its own depends_on."""
        target = dependency["urn"]
        seen: set[str] = set()
        stack = [user["urn"]]
        while stack:
            urn = stack.pop()
            if urn in seen:
                continue
            seen.add(urn)
            record = self.by_urn.get(urn)
            if record is None:
                continue
            for dep in [*record.get("dependsOn", []), *([record["parent"]] if record.get("parent") else [])]:
                if dep == target:
                    return True
                stack.append(dep)
        return False

    # ---- Kubernetes --------------------------------------------------------------------------------
    def objects(self, *kinds: str) -> Iterator[dict[str, Any]]:
        for obj in self.manifests:
            if not kinds or obj.get("kind") in kinds:
                yield obj

    def helm_releases(self) -> list[dict[str, Any]]:
        return self.of_type("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
