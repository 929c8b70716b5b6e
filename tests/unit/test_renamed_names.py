"""The naming rule of 0.2.0 (docs/ARCHITECTURE.md, "Names"): the new names are the API, and each old public
name still works until 0.3.0, as the same object, with a DeprecationWarning naming its replacement."""

from __future__ import annotations

import importlib
import warnings

import pulumi_llm
import pytest
from pulumi_llm.deprecated import moved_field

PACKAGE_RENAMES = {
    "ModelStore": "AwsModelStore",
    "ModelStoreArgs": "AwsModelStoreArgs",
    "StackKey": "AwsStackKey",
    "StackKeyArgs": "AwsStackKeyArgs",
    "HubTokenSecret": "AwsHubTokenSecret",
    "HubTokenSecretArgs": "AwsHubTokenSecretArgs",
}

MODULE_RENAMES = [
    ("pulumi_llm.storage.aws", "ModelStore", "AwsModelStore"),
    ("pulumi_llm.security.aws", "StackKey", "AwsStackKey"),
    ("pulumi_llm.security.aws", "HubTokenSecretArgs", "AwsHubTokenSecretArgs"),
    ("pulumi_llm.gateway.aws", "GatewayAlarmThresholds", "GatewayAlertThresholds"),
    ("pulumi_llm.gpu_vm.aws", "AlarmThresholds", "GpuVmAlertThresholds"),
    ("pulumi_llm.gpu_vm.gcp", "AlertThresholds", "GpuVmAlertThresholds"),
    ("pulumi_llm.gpu_vm.azure", "AzureAlertThresholds", "GpuVmAlertThresholds"),
    ("pulumi_llm.settings", "GpuVmSettings", "AwsGpuVmSettings"),
    ("pulumi_llm.settings", "ClusterSettings", "AwsClusterSettings"),
    ("pulumi_llm.settings", "ModelTlsSettings", "AwsModelTlsSettings"),
    ("pulumi_llm.settings", "ScaleSchedule", "AwsScaleSchedule"),
    ("pulumi_llm.settings.aws", "GpuVmSettings", "AwsGpuVmSettings"),
]


@pytest.mark.parametrize(("old", "new"), sorted(PACKAGE_RENAMES.items()))
def test_an_old_package_name_is_the_new_one_with_a_warning(old: str, new: str) -> None:
    assert new in pulumi_llm.__all__
    assert old not in pulumi_llm.__all__  # `from pulumi_llm import *` doesn't warn
    with pytest.warns(DeprecationWarning, match=rf"pulumi_llm\.{old} is deprecated: use pulumi_llm\.{new} .*removed in 0\.3\.0"):
        value = getattr(pulumi_llm, old)
    assert value is getattr(pulumi_llm, new)


def test_the_new_package_names_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for new in PACKAGE_RENAMES.values():
            assert getattr(pulumi_llm, new).__name__ == new


def test_the_aws_components_keep_their_type_tokens() -> None:
    # The token is part of every resource's URN: renaming it would replace the stack's keys and buckets.
    import inspect

    for cls, token in [
        (pulumi_llm.AwsModelStore, "pulumi-llm:index:ModelStore"),
        (pulumi_llm.AwsStackKey, "pulumi-llm:index:StackKey"),
        (pulumi_llm.AwsHubTokenSecret, "pulumi-llm:index:HubTokenSecret"),
    ]:
        assert f'super().__init__("{token}", name, None, opts)' in inspect.getsource(cls.__init__)


@pytest.mark.parametrize(("module", "old", "new"), MODULE_RENAMES)
def test_an_old_module_name_is_the_new_one_with_a_warning(module: str, old: str, new: str) -> None:
    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{old} is deprecated: use {module}\.{new} "):
        value = getattr(mod, old)
    assert value is getattr(mod, new)
    assert old not in getattr(mod, "__all__", ())


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    import pulumi_llm.storage.aws as storage

    with pytest.raises(AttributeError, match="has no attribute 'NoSuchStore'"):
        storage.NoSuchStore  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        pulumi_llm.NoSuchThing  # noqa: B018


def test_a_deprecated_field_moves_to_its_new_name_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"Args\.old is deprecated: use Args\.new "):
        assert moved_field({"old": 1, "other": 2}, "Args", "old", "new") == {"other": 2, "new": 1}


def test_input_without_the_deprecated_field_passes_through_untouched() -> None:
    data = {"new": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert moved_field(data, "Args", "old", "new") is data
        assert moved_field("not a mapping", "Args", "old", "new") == "not a mapping"


def test_both_names_of_a_field_is_an_error() -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="give new only"):
        moved_field({"old": 1, "new": 2}, "Args", "old", "new")
