"""runtimes/registry.py is the one list of runtimes: every place that names runtimes reads it or equals it."""

from __future__ import annotations

import importlib
import inspect
import typing

import pytest
from pulumi_llm.runtimes import registry
from pulumi_llm.runtimes.spec import ContainerRequest, ContainerSpec, Placement, Runtime, RuntimeInfo


def test_names_are_the_modules_keys_in_schema_order():
    assert registry.NAMES == tuple(registry.MODULES) == ("vllm", "triton", "llamacpp", "onnx")


@pytest.mark.parametrize("name", registry.NAMES)
def test_each_entry_is_a_module_with_the_one_container_signature(name):
    module = importlib.import_module(registry.MODULES[name])
    info = registry.get(name)
    assert isinstance(info, RuntimeInfo) and info.name == name
    assert info.container_spec is module.container_spec
    assert list(inspect.signature(module.container_spec).parameters) == ["request"]
    assert typing.get_type_hints(module.container_spec) == {"request": ContainerRequest, "return": ContainerSpec}
    assert info.placement in typing.get_args(Placement)


def test_settings_allow_exactly_the_registered_runtimes():
    from pulumi_llm import settings

    assert typing.get_args(Runtime) == registry.NAMES
    assert typing.get_args(settings.ModelSettings.model_fields["runtime"].annotation) == registry.NAMES


def test_edge_only_runtimes_are_refused_off_edge_by_the_registry_list():
    from pulumi_llm.settings import EdgeSettings

    assert registry.names_where("edge") == ("llamacpp", "onnx")
    assert typing.get_args(EdgeSettings.model_fields["runtime"].annotation) == registry.names_where("edge")


def test_edge_image_builds_the_edge_runtimes():
    from pulumi_llm.edge.image import RUNTIMES

    assert RUNTIMES == registry.names_where("edge")


def test_package_adapters_enum_is_the_server_runtimes():
    from pulumi_llm.provider.components import Runtime as ProviderRuntime

    # The enum stays a class: the Pulumi schema analyzer reads each member's description from its source.
    assert tuple(member.value for member in ProviderRuntime) == registry.names_where("server")


def test_observability_covers_the_runtimes_that_export_metrics():
    from pulumi_llm.kubernetes.observability_rules import RUNTIMES

    assert RUNTIMES == registry.monitored() == ("vllm", "triton", "llamacpp")


def test_every_runtime_is_sized_by_an_engine_sizing_knows():
    from pulumi_llm.sizing.precision import RUNTIMES, get_precision

    for info in registry.runtimes():
        assert info.fit_runtime in RUNTIMES
        if info.default_quantization is not None:
            get_precision(info.default_quantization)


def test_an_unregistered_name_is_a_key_error():
    with pytest.raises(KeyError):
        registry.get("tgi")


def test_autoscaling_reads_the_hidden_queue_from_the_registry():
    from pulumi_llm.kubernetes.autoscaling import _hidden_queue

    assert [name for name in registry.NAMES if _hidden_queue(name)] == ["triton"]
    assert not _hidden_queue("not-a-runtime")


def test_gpu_vm_reads_the_model_path_a_runtime_names_in_its_args():
    from pulumi_llm.runtimes.vllm import model_argument

    assert {name: registry.get(name).model_in_args for name in registry.NAMES} == {
        "vllm": model_argument,
        "triton": None,
        "llamacpp": None,
        "onnx": None,
    }
