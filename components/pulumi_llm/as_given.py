"""`as_given`: a frozen dataclass that the components' args (pydantic models) take as the instance they are given.

For every stdlib dataclass a model's field names, pydantic builds a validator field by field and recursively
(`ContainerSpec` alone: 9 nested dataclasses), once per args model that names it, when the model's class is
created. That validator checks nothing here: an instance passes through it unchanged (pydantic's
`revalidate_instances` is "never", the same object comes out), and the components' args are built by our own
code from settings already validated, never from a user's dicts (the Pulumi provider's inputs are read by
`settings`, provider/components.py). What it costs is import time: 10–40 ms of CPU per plan, measured
(bench/README.md, plan_time.py), a plan's largest single share of pydantic's work after the settings tree.

Marked, such a field is an `isinstance` check: the same instance comes out, and anything else (a dict
included, which pydantic would have turned into the dataclass) is refused. A marked dataclass must therefore
never be a field of the settings tree, whose input is the user's (tests/unit/test_as_given.py holds that).
No args model is serialized (`model_dump`) or given a JSON Schema; the settings tree is, and is unaffected.
"""

from __future__ import annotations

from typing import Any, TypeVar

_T = TypeVar("_T")


def _instance_schema(cls: type[Any], source: Any, handler: Any) -> Any:
    # Imported here, not at the top: the marked modules are pure ones (labels, pins, runtimes/spec) that import
    # no pydantic; this runs only while pydantic builds a model, when pydantic_core is loaded anyway.
    from pydantic_core import core_schema

    return core_schema.is_instance_schema(cls)


def as_given(cls: type[_T]) -> type[_T]:
    """Mark `cls` (a frozen dataclass): pydantic fields of this type take an instance as is, nothing else."""
    setattr(cls, "__get_pydantic_core_schema__", classmethod(_instance_schema))  # noqa: B010 - pyright: no such attribute on type
    return cls


def is_given(cls: type[Any]) -> bool:
    """True when `cls` is marked by `as_given` (the tests check the settings tree holds none)."""
    method = getattr(cls, "__get_pydantic_core_schema__", None)
    return getattr(method, "__func__", None) is _instance_schema
