"""Tool and ArtifactTool (PRIMITIVES.md §10, §11, §22 items 2, 3; PORT.md §5, §9.15)."""

from __future__ import annotations

import contextlib
import copy
import math
from datetime import UTC
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adk.contracts.events import ToolExecutionEnd, ToolExecutionStart
from adk.errors import (
    E_INVALID_INITIAL_TOOL_VALUE,
    E_INVALID_TOOL_ARGS,
    E_TOOL_DOWNSTREAM_ERROR,
    AbortError,
    AdkError,
)
from adk.primitives.canonical import tool_call_checksum
from adk.primitives.registry import Registry
from adk.primitives.tool import ArtifactTool, Tool


class FakeCtx:
    def __init__(self, id: str = "turn-1") -> None:
        self.id = id
        self.events: list[tuple[str, Any]] = []

    def emit_tool_execution_start(self, payload: ToolExecutionStart) -> None:
        self.events.append(("start", payload))

    def emit_tool_execution_end(self, payload: ToolExecutionEnd) -> None:
        self.events.append(("end", payload))


class Search(msgspec.Struct):
    q: str
    limit: int = 5


class Inner(msgspec.Struct):
    a: int


class Outer(msgspec.Struct):
    """Outer doc."""

    inner: Inner
    items: list[Inner] = []


SEARCH_JSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "q": {"type": "string", "description": "query", "minLength": 1},
        "limit": {"type": "integer", "default": 5, "minimum": 1, "maximum": 50},
    },
    "required": ["q"],
}


def echo(args: Any, ctx: Any, meta: Registry) -> Any:
    return args


def make(**kw: Any) -> Tool:
    base: dict[str, Any] = {
        "name": "search",
        "description": "Search things.",
        "input_schema": SEARCH_JSON,
        "handler": echo,
    }
    base.update(kw)
    return Tool(**base)


# --- construction ------------------------------------------------------------------------


def test_fields_and_defaults() -> None:
    t = make()
    assert t.name == "search"
    assert t.description == "Search things."
    assert isinstance(t.meta, Registry) and t.meta.all() == {}
    assert t.ephemeral is False and t.trusted is False
    assert t.on_collision == "throw"
    assert t.artifact_constructor is None
    assert t.input_schema == SEARCH_JSON and t.input_schema is not SEARCH_JSON


def test_every_bad_field_named_at_once() -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        Tool(  # type: ignore[call-arg]
            name="",
            description=3,  # type: ignore[arg-type]
            input_schema={"type": "string"},
            handler="nope",  # type: ignore[arg-type]
            meta=[1],  # type: ignore[arg-type]
            ephemeral="yes",  # type: ignore[arg-type]
            on_collision="merge",  # type: ignore[arg-type]
            bogus=1,  # pyright: ignore[reportCallIssue]
        )
    fields = set(info.value.fields)
    assert {"name", "description", "input_schema", "handler", "meta", "ephemeral"} <= fields
    assert {"on_collision", "bogus"} <= fields


def test_missing_fields_and_positional_args() -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        Tool()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    assert set(info.value.fields) == {"name", "description", "input_schema", "handler"}
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        Tool("x", name="x", description="d", input_schema=Search, handler=echo)  # type: ignore[misc]  # pyright: ignore[reportCallIssue]
    assert info.value.fields == ("*",)


def test_constructor_converts_boolean_strings() -> None:
    t = make(ephemeral="true", trusted="false")
    assert t.ephemeral is True and t.trusted is False


def test_meta_is_a_copied_registry() -> None:
    src = {"a": {"b": 1}}
    t = make(meta=src)
    src["a"]["b"] = 2
    assert t.meta.get("a.b") == 1
    t2 = make(meta=t.meta)
    assert t2.meta is not t.meta and t2.meta.all() == {"a": {"b": 1}}


def test_immutable_and_identity_equality() -> None:
    t = make()
    with pytest.raises(AttributeError):
        t.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        t._schema = None  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        del t.description
    assert t != make() and t == t
    assert len({t, make()}) == 2
    assert copy.copy(t) is t and copy.deepcopy({"t": t})["t"] is t


def test_input_schema_must_be_struct_or_object_schema() -> None:
    bads: list[Any] = [int, "x", {"type": "array"}, {"properties": {}}, Inner(a=1)]
    for bad in bads:
        with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
            make(input_schema=bad)
        assert info.value.fields[0].startswith("input_schema")


class ArrayLike(msgspec.Struct, array_like=True):
    a: int


def test_array_like_struct_rejected() -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE):
        make(input_schema=ArrayLike)


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "object", "allOf": []}, "allOf"),
        (
            {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}},
            "uniqueItems",
        ),
        ({"type": "object", "properties": {"a": {"type": "integer", "minLength": 1}}}, "minLength"),
        ({"type": "object", "properties": {"a": {"not": {}}}}, "not"),
        ({"type": "object", "patternProperties": {}}, "patternProperties"),
        ({"type": "object", "properties": {"a": {"type": "string", "nullable": True}}}, "nullable"),
    ],
)
def test_unsupported_keyword_is_named(schema: dict[str, Any], keyword: str) -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        make(input_schema=schema)
    assert keyword in str(info.value)
    assert any(f.endswith(keyword) for f in info.value.fields)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "default": 5}}},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
        {
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A"}},
            "$defs": {"A": {"$ref": "#/$defs/A"}},
        },
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
        {"type": "object", "properties": {"a": {"enum": [1.5]}}},
        {"type": "object", "properties": {"a": {"type": "string", "enum": [1]}}},
        {
            "type": "object",
            "properties": {"a": {"oneOf": [{"type": "integer"}, {"type": "number"}]}},
        },
        {"type": "object", "properties": {}, "required": ["x"]},
        {"type": "object", "properties": {"a": {}}, "additionalProperties": True},
        {"type": "object", "properties": {"a": {"type": "strin"}}},
    ],
)
def test_bad_json_schema_rejected(schema: dict[str, Any]) -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE):
        make(input_schema=schema)


class SpoolLike:
    def head(self) -> None: ...
    def tail(self) -> None: ...
    def grep(self) -> None: ...
    def cat(self) -> None: ...
    def byte_length(self) -> None: ...
    def line_count(self) -> None: ...
    def estimate_tokens(self) -> None: ...


def test_artifact_constructor_is_called_and_checked() -> None:
    calls: list[int] = []

    def ctor() -> type:
        calls.append(1)
        return SpoolLike

    t = make(artifact_constructor=ctor)
    assert calls == [1] and t.artifact_constructor is ctor

    def boom() -> type:
        raise RuntimeError("x")

    for bad in (boom, lambda: Inner, lambda: SpoolLike(), "nope"):
        with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
            make(artifact_constructor=bad)
        assert info.value.fields == ("artifact_constructor",)


def test_artifact_tool_forbids_artifact_constructor() -> None:
    at = ArtifactTool(name="artifact_head", description="d", input_schema=Search, handler=echo)
    assert Tool.is_tool(at) and ArtifactTool.is_artifact_tool(at)
    assert not ArtifactTool.is_artifact_tool(make())
    assert at.trusted is False
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        ArtifactTool(
            name="a",
            description="d",
            input_schema=Search,
            handler=echo,
            artifact_constructor=lambda: SpoolLike,
        )
    assert info.value.fields == ("artifact_constructor",)


def test_is_tool_guard() -> None:
    assert Tool.is_tool(make())
    assert not Tool.is_tool({"name": "x"})

    class Tool2:  # a duplicate copy of the class, as the ADK's cross-realm guard allows
        pass

    Tool2.__name__ = "Tool"
    assert Tool.is_tool(Tool2())


# --- validate: JSON Schema ------------------------------------------------------------------


def test_json_validate_fills_defaults_and_returns_dict() -> None:
    t = make()
    out = t.validate({"q": "x"})
    assert out == {"q": "x", "limit": 5} and type(out) is dict


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"q": "x", "limit": "5"}, "limit"),  # no coercion
        ({"q": "x", "limit": 5.0}, "limit"),
        ({"q": "x", "limit": True}, "limit"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "limit": 51}, "limit"),
        ({"q": ""}, "q"),
        ({"q": None}, "q"),  # null is not absent
        ({}, "q"),
        ({"q": "x", "extra": 1}, "extra"),
        ({"q": "x", "limit": math.nan}, "limit"),
        ({"q": "x", "limit": math.inf}, "limit"),
    ],
)
def test_json_validate_rejects(args: dict[str, Any], field: str) -> None:
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        make().validate(args)
    assert info.value.fields == (field,)
    assert field in str(info.value)


def test_validation_error_carries_msgspec_path_and_cause() -> None:
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        make().validate({"q": "x", "limit": "5"})
    assert "`$.limit`" in str(info.value)
    assert isinstance(info.value.__cause__, msgspec.ValidationError)


def test_non_mapping_args_rejected() -> None:
    for bad in ([1], "x", None, 3):
        with pytest.raises(E_INVALID_TOOL_ARGS):
            make().validate(bad)  # type: ignore[arg-type]


def test_json_schema_features() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "mode": {"enum": ["a", "b", 1, None, True]},
            "const": {"const": "fixed"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2},
            "maybe": {"type": ["string", "null"]},
            "num": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
            "cnt": {"type": "number", "minimum": 0.5, "maximum": 10.5},
            "alt": {"anyOf": [{"type": "integer"}, {"type": "string", "format": "email"}]},
            "one": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
            "pt": {"$ref": "#/$defs/Point"},
            "map": {"type": "object", "additionalProperties": {"type": "integer"}},
            "any": {"description": "anything"},
            "my-key": {"type": "string", "default": "d"},
            "lst": {"type": "array", "default": [1]},
        },
        "required": ["mode"],
        "$defs": {
            "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
    }
    t = make(input_schema=schema)
    ok = {
        "mode": None,
        "const": "fixed",
        "tags": ["ab"],
        "maybe": None,
        "num": 1.5,
        "alt": "e",
        "one": True,
        "pt": {"x": 1},
        "map": {"k": 1},
        "any": [{"z": 1}],
    }
    out = t.validate(ok)
    assert out == {**ok, "my-key": "d", "lst": [1]}
    assert out["num"] == 1.5
    assert t.validate({"mode": 1, "num": 2})["num"] == 2.0  # fractional multipleOf: a float
    assert type(t.validate({"mode": 1, "cnt": 2})["cnt"]) is int  # ints stay ints
    assert t.validate({"mode": 1, "cnt": 10.5})["cnt"] == 10.5
    # a mutable default is fresh each time
    first = t.validate({"mode": "a"})
    first["lst"].append(2)
    assert t.validate({"mode": "a"})["lst"] == [1]
    assert "maybe" not in first  # optional without default stays absent
    bads: list[dict[str, Any]] = [
        {"mode": "c"},
        {"mode": 2},
        {"mode": "a", "const": "other"},
        {"mode": "a", "tags": ["abcd"]},
        {"mode": "a", "tags": ["a", "b", "c"]},
        {"mode": "a", "num": 0},
        {"mode": "a", "num": 0.7},
        {"mode": "a", "pt": {"x": 1, "y": 2}},
        {"mode": "a", "pt": {}},
        {"mode": "a", "map": {"k": "v"}},
        {"mode": "a", "alt": 1.5},
        {"mode": "a", "cnt": 0},
        {"mode": "a", "cnt": 11},
        {"mode": "a", "one": "x"},
        {"mode": "a", "any": math.nan},
    ]
    for bad in bads:
        with pytest.raises(E_INVALID_TOOL_ARGS):
            t.validate(bad)


def test_permissive_map_schema() -> None:
    t = make(input_schema={"type": "object", "additionalProperties": True})
    assert t.validate({"a": [1, {"b": None}]}) == {"a": [1, {"b": None}]}
    assert t.describe()["input_schema"] == {"type": "object", "additionalProperties": True}


def test_json_describe_is_self_contained_and_strict() -> None:
    schema = {
        "type": "object",
        "properties": {"pt": {"$ref": "#/definitions/P", "description": "a point"}},
        "definitions": {"P": {"type": "object", "properties": {"x": {"type": "number"}}}},
    }
    d = make(input_schema=schema).describe()
    assert d["name"] == "search" and d["description"] == "Search things."
    js = d["input_schema"]
    assert js == {
        "type": "object",
        "properties": {
            "pt": {
                "type": "object",
                "properties": {"x": {"type": "number"}},
                "additionalProperties": False,
                "description": "a point",
            }
        },
        "additionalProperties": False,
    }
    assert "$ref" not in str(js)
    d["input_schema"]["properties"].clear()  # a fresh copy each time
    assert make(input_schema=schema).describe()["input_schema"]["properties"]
    full = make().describe()["input_schema"]
    assert full["properties"]["limit"] == {
        "type": "integer",
        "default": 5,
        "minimum": 1,
        "maximum": 50,
    }
    assert full["required"] == ["q"] and full["additionalProperties"] is False


# --- validate: Struct ---------------------------------------------------------------------------


def test_struct_validate_returns_instance() -> None:
    t = make(input_schema=Search)
    out = t.validate({"q": "x"})
    assert isinstance(out, Search) and out.q == "x" and out.limit == 5


def test_struct_strict_and_unknown_keys_everywhere() -> None:
    t = make(input_schema=Outer)
    assert t.validate({"inner": {"a": 1}}).inner.a == 1
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        t.validate({"inner": {"a": 1, "b": 2}, "items": [{"a": 1}, {"a": 2, "c": 3}], "zz": 1})
    assert set(info.value.fields) == {"zz", "inner.b", "items[1].c"}
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        t.validate({"inner": {"a": "1"}})
    assert info.value.fields == ("inner.a",)
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        t.validate({"inner": {"a": 1}, "items": [{"a": math.inf}]})
    assert info.value.fields == ("items[0].a",)


def test_struct_describe_inlines_refs() -> None:
    js = make(input_schema=Outer).describe()["input_schema"]
    assert "$defs" not in js and "$ref" not in str(js)
    assert js["description"] == "Outer doc."
    assert js["additionalProperties"] is False
    assert js["properties"]["inner"]["properties"] == {"a": {"type": "integer"}}
    assert js["properties"]["inner"]["additionalProperties"] is False
    assert js["properties"]["items"]["items"]["additionalProperties"] is False


class Node(msgspec.Struct):
    v: int
    kids: list[Node] = []


def test_struct_recursive_keeps_defs_and_checks_depth() -> None:
    t = make(input_schema=Node)
    js = t.describe()["input_schema"]
    assert js["properties"]["kids"]["items"] == {"$ref": "#/$defs/Node"}
    assert "Node" in js["$defs"]
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        t.validate({"v": 1, "kids": [{"v": 2, "kids": [{"v": 3, "x": 0}]}]})
    assert info.value.fields == ("kids[0].kids[0].x",)


class Cat(msgspec.Struct, tag=True):
    meow: int


class Dog(msgspec.Struct, tag=True):
    woof: int


class Pet(msgspec.Struct):
    pet: Cat | Dog


def test_struct_tagged_union_unknown_keys() -> None:
    t = make(input_schema=Pet)
    assert isinstance(t.validate({"pet": {"type": "Dog", "woof": 1}}).pet, Dog)
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        t.validate({"pet": {"type": "Cat", "meow": 1, "woof": 2}})
    assert info.value.fields == ("pet.woof",)


# --- executor (§10.2, §22 items 2, 3) ----------------------------------------------------------


@pytest.mark.anyio
async def test_call_id_uses_raw_args_handler_gets_defaults() -> None:
    seen: list[Any] = []
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 10}}}

    async def handler(args: Any, ctx: Any, meta: Registry) -> str:
        seen.append((args, ctx, meta))
        return "ok"

    t = Tool(name="t", description="d", input_schema=schema, handler=handler)
    ctx = FakeCtx()
    result = await t.executor(ctx)({})
    assert result == "ok"
    assert seen == [({"n": 10}, ctx, t.meta)]
    expected = "a9c1b56f2d5711641e3a95a211412b31f9042cd471d093fc67e268e679fd0f45"
    assert tool_call_checksum("t", {}) == expected
    (k1, start), (k2, end) = ctx.events
    assert (k1, k2) == ("start", "end")
    assert start == ToolExecutionStart(
        tool_name="t",
        turn_id="turn-1",
        call_id=expected,
        args={"n": 10},
        started_at=start.started_at,
    )
    assert start.started_at.tzinfo is UTC
    assert end.call_id == expected and end.turn_id == "turn-1" and end.is_error is False
    assert end.started_at == start.started_at and end.ended_at >= end.started_at
    assert end.duration_ms == pytest.approx((end.ended_at - end.started_at).total_seconds() * 1000)


@pytest.mark.anyio
async def test_sync_handler_and_result_unchanged() -> None:
    marker = object()

    def handler(args: Any, ctx: Any, meta: Registry) -> object:
        return marker

    t = make(handler=handler, input_schema=Search)
    ctx = FakeCtx()
    assert await t.executor(ctx)({"q": "x"}) is marker
    assert isinstance(ctx.events[0][1].args, Search)


@pytest.mark.anyio
async def test_invalid_args_no_events_handler_not_called() -> None:
    called: list[int] = []
    t = make(handler=lambda *a: called.append(1))  # pyright: ignore[reportUnknownLambdaType]
    ctx = FakeCtx()
    with pytest.raises(E_INVALID_TOOL_ARGS):
        await t.executor(ctx)({"q": 5})
    assert called == [] and ctx.events == []


@pytest.mark.anyio
async def test_handler_error_end_event_then_downstream_error() -> None:
    boom = ValueError("boom")

    async def handler(args: Any, ctx: Any, meta: Registry) -> None:
        raise boom

    ctx = FakeCtx()
    with pytest.raises(E_TOOL_DOWNSTREAM_ERROR) as info:
        await make(handler=handler).executor(ctx)({"q": "x"})
    assert info.value.__cause__ is boom
    assert [k for k, _ in ctx.events] == ["start", "end"]
    assert ctx.events[1][1].is_error is True


@pytest.mark.anyio
async def test_adk_error_in_handler_is_wrapped() -> None:
    def handler(args: Any, ctx: Any, meta: Registry) -> None:
        raise E_INVALID_TOOL_ARGS(message="inner")

    with pytest.raises(E_TOOL_DOWNSTREAM_ERROR) as info:
        await make(handler=handler).executor(FakeCtx())({"q": "x"})
    assert isinstance(info.value.__cause__, E_INVALID_TOOL_ARGS)


@pytest.mark.anyio
async def test_abort_error_propagates_unwrapped() -> None:
    err = AbortError("stop")

    def handler(args: Any, ctx: Any, meta: Registry) -> None:
        raise err

    ctx = FakeCtx()
    with pytest.raises(AbortError) as info:
        await make(handler=handler).executor(ctx)({"q": "x"})
    assert info.value is err
    assert ctx.events[-1][1].is_error is True


@pytest.mark.anyio
async def test_cancellation_propagates_unwrapped() -> None:
    started = anyio.Event()

    async def handler(args: Any, ctx: Any, meta: Registry) -> None:
        started.set()
        await anyio.sleep_forever()

    ctx = FakeCtx()
    run = make(handler=handler).executor(ctx)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, {"q": "x"})
        await started.wait()
        tg.cancel_scope.cancel()
    assert [k for k, _ in ctx.events] == ["start", "end"]
    assert ctx.events[1][1].is_error is True


@pytest.mark.anyio
async def test_meta_registry_shared_with_handler() -> None:
    def handler(args: Any, ctx: Any, meta: Registry) -> Any:
        meta.set("count", meta.get("count", 0) + 1)
        return meta.get("count")

    t = make(handler=handler, meta={"count": 0})
    run = t.executor(FakeCtx())
    assert await run({"q": "x"}) == 1
    assert await run({"q": "y"}) == 2
    assert t.meta.get("count") == 2


# --- properties --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3)
    ),
    max_leaves=10,
)
arg_dicts = st.dictionaries(st.text(max_size=4), json_values, max_size=5)


@settings(max_examples=200, deadline=None)
@given(arg_dicts)
def test_validation_only_raises_adk_errors(args: dict[str, Any]) -> None:
    permissive = make(input_schema={"type": "object", "additionalProperties": True})
    for t in (permissive, make(), make(input_schema=Search), make(input_schema=Outer)):
        with contextlib.suppress(AdkError):
            t.validate(args)
    has_non_finite = any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(args))
    if not has_non_finite:
        assert permissive.validate(args) == args


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]  # pyright: ignore[reportUnknownVariableType]
    return [value]


@settings(max_examples=200, deadline=None)
@given(arg_dicts, st.randoms(use_true_random=False))
def test_checksum_invariant_under_key_order(args: dict[str, Any], rnd: Any) -> None:
    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            rnd.shuffle(items)
            return {k: shuffled(v) for k, v in items}  # pyright: ignore[reportUnknownVariableType]
        if isinstance(value, list):
            return [shuffled(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return value

    assert tool_call_checksum("t", shuffled(args)) == tool_call_checksum("t", args)
