"""`verify`: check a recorded plan against what the real control planes enforce.

The mock runtime accepts anything; the clouds, the Kubernetes API server, Helm charts and scrapers do
not. Each rule here is a pure function over a `PlanView` (resources.json + manifests + the validated
settings) that models one thing a real control plane does — a security group that drops a port, a
KMS key policy that refuses a role, an admission check that rejects a pod, a relabelling that renames a
label — and yields a `Violation` for each place the plan would break in `pulumi up` or in production.

Facts about upstream components (chart defaults, exporter labels, add-on settings) live as data under
`facts/`, each with the upstream file and version it was read from.
"""

from __future__ import annotations

from .report import Violation, errors, format_report
from .rules import RULES, run_rules
from .view import PlanView

__all__ = ["PlanView", "RULES", "Violation", "errors", "format_report", "run_rules"]
