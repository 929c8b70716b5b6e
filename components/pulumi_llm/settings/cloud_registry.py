"""Every cloud's settings rules (settings/<cloud>.py `RULES`), in clouds.py's order.

Explicit import lines, so tests/unit/test_import_graph.py sees the edges; tests/unit/test_clouds.py keeps it
equal to clouds.py. checks_sources.py and checks_effect.py build their per-cloud rows from it.
"""

from __future__ import annotations

from . import aws, azure, gcp
from .cloud_rules import CloudRules

RULES: tuple[CloudRules, ...] = (aws.RULES, gcp.RULES, azure.RULES)
