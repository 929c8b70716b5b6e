"""verify.plain: the typed narrowing of plan data behaves as the isinstance checks and `or {}` it replaces."""

from __future__ import annotations

from types import MappingProxyType

from pulumi_llm.verify.plain import array_at, dig, is_array, is_object, object_at


def test_is_object_and_is_array_accept_only_dicts_and_lists():
    assert [is_object(v) for v in ({"a": 1}, {}, [1], "x", None, 3)] == [True, True, False, False, False, False]
    assert [is_array(v) for v in ([1], [], {"a": 1}, "ab", (1,), None)] == [True, True, False, False, False, False]


def test_object_at_and_array_at_give_the_field_or_an_empty_default():
    spec = {"labels": {"app": "x"}, "ports": [80], "empty": {}, "null": None}
    assert object_at(spec, "labels") == {"app": "x"}
    assert object_at(spec, "ports") == [80]  # the value itself, unconverted, as `or {}` gave it
    assert [object_at(spec, key) for key in ("empty", "null", "missing")] == [{}, {}, {}]
    assert array_at(spec, "ports") == [80]
    assert [array_at(spec, key) for key in ("empty", "null", "missing")] == [[], [], []]


def test_dig_follows_nested_maps_and_stops_at_anything_else():
    values = {"controller": {"hostPort": {"enabled": True}, "list": [1]}}
    assert dig(values, ("controller", "hostPort", "enabled")) is True
    assert dig(values, "controller.hostPort".split(".")) == {"enabled": True}
    assert dig(values, ()) is values
    assert dig(values, ("controller", "missing", "enabled")) is None
    assert dig(values, ("controller", "list", "0")) is None  # a list is not walked into
    assert dig(MappingProxyType({"a": {"b": 2}}), ("a", "b")) == 2  # any Mapping, not only dict
    assert dig(None, ("a",)) is None
