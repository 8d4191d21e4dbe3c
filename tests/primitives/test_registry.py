"""Registry (PRIMITIVES.md §13, §22 item 14; PORT.md §5)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adk.errors import E_INVALID_INITIAL_REGISTRY_VALUE, AdkError
from adk.primitives.registry import Registry


def test_empty_by_default() -> None:
    r = Registry()
    assert r.all() == {}
    assert r.keys() == []
    assert r.get("a") is None
    assert r.get("a", 7) == 7
    assert not r.has("a")


@pytest.mark.parametrize("bad", [[1, 2], "abc", 3, 1.5, True, (("a", 1),), b"x"])
def test_bad_initial_raises(bad: Any) -> None:
    with pytest.raises(E_INVALID_INITIAL_REGISTRY_VALUE) as info:
        Registry(bad)
    err = info.value
    assert isinstance(err, AdkError)
    assert err.code == "E_INVALID_INITIAL_REGISTRY_VALUE"
    assert err.status == 500
    assert err.fatal is True
    assert type(bad).__name__ in err.message


def test_initial_accepts_any_mapping_and_is_deep_copied() -> None:
    inner = {"b": [1, {"c": 2}]}
    source = {"a": inner}
    r = Registry(source)
    inner["b"].append(3)
    inner["b"][1]["c"] = 99  # type: ignore[index]
    assert r.get("a") == {"b": [1, {"c": 2}]}
    assert Registry(MappingProxyType({"x": 1})).get("x") == 1
    assert Registry(OrderedDict(y=2)).all() == {"y": 2}


def test_get_returns_deep_copy() -> None:
    r = Registry({"a": {"b": [1, 2]}})
    got = r.get("a")
    got["b"].append(3)
    got["new"] = True
    assert r.get("a") == {"b": [1, 2]}
    assert r.get("a") is not r.get("a")
    whole = r.all()
    whole["a"]["b"].clear()
    assert r.get("a.b") == [1, 2]


def test_set_stores_deep_copy() -> None:
    r = Registry()
    value = {"list": [1, {"x": 1}]}
    r.set("k", value)
    value["list"][1]["x"] = 2  # type: ignore[index]
    value["list"].append(3)
    assert r.get("k") == {"list": [1, {"x": 1}]}


def test_set_copies_class_instances_too() -> None:
    class Box:
        def __init__(self) -> None:
            self.items: list[int] = [1]

    box = Box()
    r = Registry()
    r.set("box", box)
    box.items.append(2)
    stored = r.get("box")
    assert isinstance(stored, Box)
    assert stored is not box
    assert stored.items == [1]


def test_stored_none_is_returned_not_default() -> None:
    r = Registry({"n": None})
    assert r.get("n", "default") is None
    assert r.has("n")
    r.set("m.x", None)
    assert r.get("m.x", 5) is None
    assert r.has("m.x")
    assert r.get("m.y", 5) == 5


def test_dotted_paths_create_intermediate_objects() -> None:
    r = Registry()
    r.set("a.b.c", 1)
    assert r.all() == {"a": {"b": {"c": 1}}}
    assert r.get("a.b") == {"c": 1}
    assert r.has("a")
    assert r.has("a.b.c")
    assert not r.has("a.b.d")
    assert not r.has("a.b.c.d")
    r.set("a.b.d", 2)
    assert r.get("a.b") == {"c": 1, "d": 2}


def test_set_replaces_scalar_in_the_way() -> None:
    r = Registry({"x": "scalar"})
    r.set("x.y", 1)
    assert r.all() == {"x": {"y": 1}}


def test_numeric_segments_index_lists() -> None:
    r = Registry({"items": [{"name": "a"}, {"name": "b"}]})
    assert r.get("items.1.name") == "b"
    assert r.get("items.5", "none") == "none"
    assert r.has("items.0")
    assert not r.has("items.x")
    r.set("items.0.name", "z")
    assert r.get("items") == [{"name": "z"}, {"name": "b"}]
    r.set("items.3", "d")  # pads with None
    assert r.get("items") == [{"name": "z"}, {"name": "b"}, None, "d"]


def test_numeric_segment_creates_a_list() -> None:
    r = Registry()
    r.set("a.0.b", 1)
    assert r.all() == {"a": [{"b": 1}]}
    r.set("c.1", "x")
    assert r.get("c") == [None, "x"]


def test_named_segment_on_a_list_is_a_no_op() -> None:
    r = Registry({"a": [1]})
    r.set("a.k", 2)
    r.set("a.k.z", 2)
    assert r.all() == {"a": [1]}


def test_numeric_key_in_a_dict_is_a_string_key() -> None:
    r = Registry({"m": {"0": "zero"}})
    assert r.get("m.0") == "zero"
    r.set("m.1", "one")
    assert r.get("m") == {"0": "zero", "1": "one"}


@pytest.mark.parametrize("path", ["__proto__.x", "a.__proto__", "constructor.x", "a.prototype.b"])
def test_forbidden_segments_are_ignored(path: str) -> None:
    r = Registry({"a": {"keep": 1}})
    r.set(path, "polluted")
    assert r.all() == {"a": {"keep": 1}}
    assert not r.has(path)


def test_keys_lists_leaf_paths_only() -> None:
    r = Registry(
        {
            "a": {"b": 1, "c": {"d": None}},
            "list": [1, {"nested": True}],
            "s": "x",
            "empty": {},
        }
    )
    assert sorted(r.keys()) == ["a.b", "a.c.d", "empty", "list", "s"]


def test_keys_treat_class_instances_as_leaves() -> None:
    class Obj:
        def __init__(self) -> None:
            self.inner = {"x": 1}

    r = Registry({"o": Obj(), "t": (1, 2)})
    assert sorted(r.keys()) == ["o", "t"]


def test_delete() -> None:
    r = Registry({"a": {"b": 1, "c": 2}, "top": 0})
    assert r.delete("a.b") is True
    assert r.all() == {"a": {"c": 2}, "top": 0}
    assert r.delete("a.b") is False
    assert r.delete("missing.path") is False
    assert r.delete("top") is True
    assert r.delete("a") is True
    assert r.all() == {}


def test_all_is_a_deep_copy() -> None:
    r = Registry({"a": {"b": 1}})
    snapshot = r.all()
    snapshot["a"]["b"] = 2
    assert r.get("a.b") == 1


def test_is_registry_guard() -> None:
    assert Registry.is_registry(Registry())
    assert not Registry.is_registry({})


# --- properties -----------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1).filter(lambda s: "." not in s), inner, max_size=4)
    ),
    max_leaves=20,
)
_segment = st.text(
    alphabet=st.characters(categories=["Ll", "Lu", "Nd"], max_codepoint=0x2FF), min_size=1
).filter(lambda s: not s.isdigit())
_path = st.lists(_segment, min_size=1, max_size=4).map(".".join)


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def _identical_somewhere(a: Any, b: Any) -> bool:
    """Whether any container in ``a`` is the very object at the same place in ``b``."""
    if _is_container(a) and a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return any(_identical_somewhere(a[k], b[k]) for k in a if k in b)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(a, list) and isinstance(b, list):
        return any(_identical_somewhere(x, y) for x, y in zip(a, b, strict=False))  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return False


@settings(max_examples=150, deadline=None)
@given(_path, _json)
def test_set_then_get_is_equal_but_not_identical(path: str, value: Any) -> None:
    r = Registry()
    original = copy.deepcopy(value)
    r.set(path, value)
    got = r.get(path)
    assert got == original
    assert not _identical_somewhere(got, value)
    assert not _identical_somewhere(got, r.get(path))
    assert r.has(path)
    if not isinstance(value, dict) or not value:
        assert path in list(r.keys())


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(min_size=1).filter(lambda s: "." not in s), _json, max_size=5))
def test_initial_round_trips_through_all(initial: dict[str, Any]) -> None:
    r = Registry(initial)
    assert r.all() == initial
    assert not _identical_somewhere(r.all(), initial)


def test_copy_is_deep_and_independent() -> None:
    original = Registry({"a": {"b": [1, 2]}, "c": "x"})
    clone = original.copy()
    assert clone.all() == original.all()
    clone.set("a.b", [9])
    original.set("c", "y")
    assert original.get("a.b") == [1, 2]
    assert clone.get("c") == "x"
