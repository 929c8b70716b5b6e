"""clouds.py is the one list of public clouds: settings, the platform's targets and the import check read it,
and sizing's catalog covers exactly those clouds."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

from pulumi_llm import clouds

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "components" / "pulumi_llm"


def test_settings_accept_the_registered_clouds_and_onprem():
    from pulumi_llm.settings.core import CLOUD_OF_METHOD, Cloud

    assert typing.get_args(Cloud) == (*clouds.NAMES, "onprem")
    assert all(CLOUD_OF_METHOD[method] == clouds.NAMES for method in ("gateway", "gpu-vm", "cluster"))
    schema = json.loads((ROOT / "stacks" / "schema.json").read_text())
    assert tuple(schema["properties"]["config"]["properties"]["pulumi-llm:cloud"]["enum"]) == (*clouds.NAMES, "onprem")


def test_every_cloud_is_a_platform_target_in_registry_order_with_its_modules():
    from pulumi_llm.platform import TARGETS

    # platform/__init__.py names each cloud's loader (`from . import <cloud>`) so the import graph sees it
    assert tuple(entry.name for entry in TARGETS)[: len(clouds.NAMES)] == clouds.NAMES
    for name in clouds.NAMES:
        assert (PACKAGE / "platform" / f"{name}.py").is_file() and (PACKAGE / "settings" / f"{name}.py").is_file()


def test_sizing_prices_exactly_the_registered_clouds():
    from pulumi_llm.sizing import CLOUDS, DEFAULT_REGION

    assert CLOUDS == clouds.NAMES and tuple(DEFAULT_REGION) == clouds.NAMES


PROBE = """
import json, typing

from pulumi_llm import clouds

clouds.CLOUDS = (*clouds.CLOUDS, clouds.CloudInfo("oci", sdk="pulumi_oci"))  # the one registry line
clouds.NAMES = tuple(c.name for c in clouds.CLOUDS)
from pulumi_llm import settings

gateway = {
    "models": {"chat": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
    "consumers": {"team": {"models": ["chat"], "requests_per_day": 100}},
}
config = {"environment": "lab", "cloud": "oci", "region": "eu-frankfurt-1", "methods": ["gateway"], "gateway": gateway}
stack = settings.load({f"pulumi-llm:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, "lab")
print(json.dumps({
    "accepted": typing.get_args(settings.core.Cloud),
    "gateway_clouds": settings.core.CLOUD_OF_METHOD["gateway"],
    "cloud": stack.cloud,
}))
"""


def test_a_registered_cloud_reaches_the_settings():
    """A fourth cloud's line in clouds.py is all the settings need to accept it and let every method run on it."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["accepted"][-2:] == ["oci", "onprem"]
    assert seen["gateway_clouds"][-1] == "oci"
    assert seen["cloud"] == "oci"
