"""`as_given`: a marked dataclass is an isinstance check in the components' args, never part of the settings tree."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

import pulumi_llm
import pytest
from pulumi_llm.as_given import as_given, is_given
from pulumi_llm.kubernetes.model_serving import ModelServingArgs, ServedModel
from pulumi_llm.labels import CommonLabels
from pulumi_llm.settings import Settings
from pydantic import BaseModel, ConfigDict, ValidationError


@as_given
@dataclass(frozen=True)
class _Inner:
    size: int


@as_given
@dataclass(frozen=True)
class _Outer:
    inner: _Inner
    names: list[str] = field(default_factory=list[str])


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outer: _Outer
    many: tuple[_Outer, ...] = ()
    maybe: _Outer | None = None


def test_an_instance_passes_through_as_the_same_object() -> None:
    # Field values pydantic would have checked (size is a str here) stay as given: the instance is not revalidated.
    given = _Outer(_Inner("8"), ["a"])  # pyright: ignore[reportArgumentType]
    args = _Args(outer=given, many=(given,), maybe=given)
    assert args.outer is given
    assert args.many[0] is given
    assert args.maybe is given


@pytest.mark.parametrize("value", [{"inner": {"size": 8}}, "outer", None])
def test_anything_but_an_instance_is_refused(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        _Args(outer=value)
    assert caught.value.errors()[0]["type"] == "is_instance_of"
    assert caught.value.errors()[0]["loc"] == ("outer",)


def test_the_model_does_not_expand_a_marked_dataclass() -> None:
    # The point of the mark: pydantic builds no validator for the dataclass's own fields.
    schema = repr(ModelServingArgs.__pydantic_core_schema__)
    assert "'is-instance'" in schema
    assert "'replicas_min'" not in schema  # a field of ServedModel
    assert "'served_name'" not in schema  # a field of ContainerSpec, inside ServedModel
    assert is_given(ServedModel) and is_given(CommonLabels)
    assert not is_given(_Args)


def _marked_dataclasses() -> set[type]:
    found: set[type] = set()
    for info in pkgutil.walk_packages(pulumi_llm.__path__, "pulumi_llm."):
        if ".settings" in info.name or info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # optional extras (CLI plotting) are not part of the args
            continue
        found.update(value for value in vars(module).values() if isinstance(value, type) and is_given(value))
    return found


def test_no_marked_dataclass_is_in_the_settings_tree() -> None:
    # The settings read the user's input: there a dict must become the dataclass, which a marked one refuses.
    marked = _marked_dataclasses()
    assert ServedModel in marked  # the walk finds the marks
    seen: set[type] = set()

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and annotation in seen:
            return
        if isinstance(annotation, type):
            seen.add(annotation)
            assert annotation not in marked, f"{annotation.__qualname__} is marked as_given but the settings tree names it"
            if issubclass(annotation, BaseModel):
                for info in annotation.model_fields.values():
                    walk(info.annotation)
        for member in getattr(annotation, "__args__", None) or ():
            walk(member)
        for member in getattr(annotation, "__metadata__", None) or ():
            walk(type(member))

    walk(Settings)
    assert len(seen) > 30  # the walk reached the nested models
