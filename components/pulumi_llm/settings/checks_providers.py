"""Another provider's config key that contradicts ours: refused, because it would have no effect.

Every stack disables the default providers (`pulumi:disable-default-providers: ["*"]`) and its target module builds
the cloud's provider from our settings alone (platform/aws.py: `aws.Provider(region=…)`, platform/gcp.py:
`gcp.Provider(project, region)`, platform/azure.py: azure-native `Provider(location=…)`). So `aws:region`,
`gcp:region`, `gcp:project` or `azure-native:location` is read by nothing: equal to ours it is harmless, different
from ours it says the stack deploys where it does not. Pure: reads the config map and the settings only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core import NAMESPACE

PROVIDER_KEYS: Mapping[str, Mapping[str, str]] = {
    "aws": {"aws:region": "region"},
    "gcp": {"gcp:region": "region", "gcp:project": "gcp.project"},
    "azure": {"azure-native:location": "region"},
}
"""Stack's cloud → {the provider package's own config key: our settings key its explicit provider is built from}."""


@dataclass(frozen=True)
class Contradiction:
    """`theirs` = `their_value` in the config, while the provider is built from `pulumi-llm:<ours>` = `our_value`."""

    theirs: str
    their_value: str
    ours: str
    our_value: str

    def reason(self, cloud: str) -> str:
        return (
            f"contradicts {NAMESPACE}:{self.ours} = {self.our_value}: the stack's {cloud} provider is built from "
            f"{NAMESPACE}:{self.ours} alone, so {self.theirs} has no effect; remove it or make the two equal"
        )


def _same(a: str, b: str) -> bool:
    # Azure names a location either way ("West Europe", "westeurope"); region and project names are lower case.
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


def _setting(settings: object, path: str) -> str | None:
    node: object = settings
    for part in path.split("."):
        node = getattr(node, part, None)
    return node if isinstance(node, str) else None


def decide_contradiction(config: Mapping[str, Any], cloud: str, settings: object) -> Contradiction | None:
    """The first provider config key of the stack's cloud whose value differs from the setting we build that provider
    from (`settings`: the validated Settings, read by attribute path); None when there is none."""
    for theirs, ours in PROVIDER_KEYS.get(cloud, {}).items():
        value, our_value = config.get(theirs), _setting(settings, ours)
        if isinstance(value, str) and our_value is not None and not _same(value, our_value):
            return Contradiction(theirs, value, ours, our_value)
    return None
