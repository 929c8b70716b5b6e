"""pulumi-llm's CrossGuard policy pack: `pulumi preview --policy-pack policy`.

The rules are pure functions in pulumi_llm_policy/ over the offline plan's resource dicts;
pulumi_llm_policy/pack.py adapts Pulumi's validation args to them.
"""

import sys
from pathlib import Path

# Pulumi's runner puts this directory on sys.path; say so anyway, however the pack is started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_llm_policy import pack  # noqa: E402
from pulumi_policy import PolicyPack  # noqa: E402

PolicyPack(
    name=pack.NAME,
    enforcement_level=pack.ENFORCEMENT,
    policies=pack.policies(),
    initial_config=pack.initial_config(),
)
