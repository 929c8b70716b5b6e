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
    from pulumi_llm.sizing import CLOUDS, DEFAULT_REGION, instance_types
    from pulumi_llm.sizing.catalogs import CATALOGS
    from pulumi_llm.sizing.economics import OBJECT_STORAGE_PER_GB_MONTH

    assert CLOUDS == clouds.NAMES and tuple(DEFAULT_REGION) == clouds.NAMES
    assert tuple(OBJECT_STORAGE_PER_GB_MONTH) == clouds.NAMES
    for catalog in CATALOGS:  # each cloud's prices in its own module, every type priced in its price region
        assert (PACKAGE / "sizing" / "catalogs" / f"{catalog.cloud}.py").is_file()
        assert {t.name for t in instance_types(catalog.cloud)} == {offer.name for offer in catalog.offers}
        assert all(t.price_region == catalog.price_region for t in instance_types(catalog.cloud))


def test_every_per_cloud_registry_has_exactly_the_registered_clouds_each_in_its_own_module():
    """Shared code asks the stack's cloud through these registries instead of naming clouds one by one
    (docs/ARCHITECTURE.md, "Adding a cloud"): a cloud missing from one would silently get no rule there."""
    from pulumi_llm import cluster_endpoints, cluster_machines

    for package, registry in (("cluster_machines", cluster_machines.BY_CLOUD), ("cluster_endpoints", cluster_endpoints.BY_CLOUD)):
        assert tuple(registry) == clouds.NAMES, package
        for name in clouds.NAMES:
            assert (PACKAGE / package / f"{name}.py").is_file(), (package, name)
    from pulumi_llm.settings.cloud_registry import RULES

    assert tuple(rules.cloud for rules in RULES) == clouds.NAMES
    for rules in RULES:  # a cloud's rows name its own subtree and methods that run on it
        assert all(key.startswith(f"{rules.cloud}.") for key in rules.read_by), rules.cloud


def test_every_secret_store_belongs_to_a_registered_cloud_and_lives_in_its_module():
    """`pulumi-llm secrets` serves the clouds of secret_stores.BY_CLOUD (a cloud may have none yet)."""
    from pulumi_llm import secret_stores

    assert set(secret_stores.BY_CLOUD) <= set(clouds.NAMES)
    for name, store in secret_stores.BY_CLOUD.items():
        assert (PACKAGE / "secret_stores" / f"{name}.py").is_file()
        assert store.put.__module__ == store.check.__module__ == f"pulumi_llm.secret_stores.{name}"


def test_a_cloud_streams_the_model_store_exactly_where_its_clusters_accept_store_sources():
    """serving.weights streams store:// with the cloud's scheme; a cloud without one must refuse store://
    for clusters before the plan (settings/checks_sources.py), and one with it must accept it."""
    from pulumi_llm.settings.checks_sources import SCHEMES

    for cloud in clouds.CLOUDS:
        accepts_store = "store" in SCHEMES.get((cloud.name, "cluster"), ())
        assert accepts_store == (cloud.store_scheme is not None), cloud.name


def test_info_finds_a_registered_cloud_and_nothing_for_onprem():
    assert [clouds.info(name) for name in clouds.NAMES] == list(clouds.CLOUDS)
    assert clouds.info("onprem") is None


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
