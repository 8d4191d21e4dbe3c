"""adk encode/decode (PORT.md §5, PRIMITIVES.md §1.7, §14.4)."""

from __future__ import annotations

import contextlib
import importlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adk.errors import (
    E_CODEC_ERROR,
    E_INVALID_INITIAL_IDENTITY_VALUE,
    E_INVALID_INITIAL_MESSAGE_VALUE,
    E_INVALID_INITIAL_REGISTRY_VALUE,
    E_NO_READER_RESOLVER,
    E_READER_NOT_DESCRIBABLE,
    AdkError,
)
from adk.primitives.codec import (
    decode,
    encode,
    register_codec,
    register_evaluator,
    register_handler,
    registered_tags,
    set_reader_resolver,
)
from adk.primitives.identity import Identity
from adk.primitives.message import Message
from adk.primitives.registry import Registry
from adk.primitives.tokenizable import Tokenizable

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
T1 = datetime(2024, 5, 6, 9, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
T2 = datetime(2025, 1, 1, tzinfo=UTC)


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None


thought_mod = _optional("adk.primitives.thought")
memory_mod = _optional("adk.primitives.memory")
retrievable_mod = _optional("adk.primitives.retrievable")
tool_call_mod = _optional("adk.primitives.tool_call")
tool_mod = _optional("adk.primitives.tool")
tool_registry_mod = _optional("adk.primitives.tool_registry")


def _need(module: ModuleType | None, what: str) -> ModuleType:
    if module is None:
        pytest.skip(f"{what} does not exist yet")
    return module


# --- deep comparison ----------------------------------------------------------------------


def assert_same(a: Any, b: Any, path: str = "$") -> None:
    """Equal values of equal types, recursively (primitives compare field by field)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Tokenizable):
        assert a is not b
        assert a.dynamic == b.dynamic, path
        assert a.evaluator is b.evaluator, path
        assert a.render() == b.render(), path
    elif isinstance(a, msgspec.Struct):
        assert a is not b, path
        for field in msgspec.structs.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}")
    elif isinstance(a, datetime):
        assert a == b, path
        assert a.utcoffset() == b.utcoffset(), path
    elif isinstance(a, Registry):
        assert_same(a.all(), b.all(), f"{path}.all()")
    elif tool_mod is not None and isinstance(a, tool_mod.Tool):
        assert a.describe() == b.describe(), path
        assert_same(a.input_schema, b.input_schema, f"{path}.input_schema")
        assert a._handler is b._handler, path
        assert a.meta.all() == b.meta.all(), path
        for attr in ("name", "description", "ephemeral", "trusted", "on_collision"):
            assert getattr(a, attr) == getattr(b, attr), f"{path}.{attr}"
        assert a.artifact_constructor is b.artifact_constructor, path
    elif tool_registry_mod is not None and isinstance(a, tool_registry_mod.ToolRegistry):
        assert_same(a.all(), b.all(), f"{path}.all")
        assert [t.name for t in a.hidden()] == [t.name for t in b.hidden()], path
    elif isinstance(a, Mapping):
        assert list(a) == list(b), path  # pyright: ignore[reportUnknownArgumentType]
        for k in a:  # pyright: ignore[reportUnknownVariableType]
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path  # pyright: ignore[reportUnknownArgumentType]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    elif isinstance(a, type):
        assert a is b, path
    else:
        assert a == b, path


def round_trip(value: Any) -> Any:
    data = encode(value)
    assert isinstance(data, bytes)
    json.loads(data)  # valid JSON
    back = decode(data)
    assert_same(value, back)
    assert_same(back, decode(data.decode("utf-8")))  # str input too
    assert encode(back) == data  # stable
    return back


# --- built-ins ---------------------------------------------------------------------------


def test_registered_tags_cover_existing_primitives() -> None:
    tags = set(registered_tags())
    assert {"Identity", "Message", "Registry"} <= tags
    expected = {
        "Thought": thought_mod,
        "Memory": memory_mod,
        "Retrievable": retrievable_mod,
        "ToolCall": tool_call_mod,
        "Tool": tool_mod,
        "ArtifactTool": tool_mod,
        "ToolRegistry": tool_registry_mod,
    }
    for tag, module in expected.items():
        assert (tag in tags) == (module is not None), tag


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -5,
        2**70,
        1.5,
        -0.25,
        "",
        "héllo 😀 \u2028",
        [1, "a", None, [2.5, {"k": False}]],
        {"a": {"b": [1, 2]}, "": 0, "ü": "x"},
    ],
)
def test_plain_json_round_trips(value: Any) -> None:
    round_trip(value)


def test_envelope_shape() -> None:
    m = Message(id="m1", role="user", content="hi", created_at=T0, updated_at=T0)
    doc = json.loads(encode(m))
    assert doc["$adk"] == "Message"
    assert set(doc) == {"$adk", "v"}
    v = doc["v"]
    assert v["id"] == "m1"
    assert v["content"] == {"$adk": "Tokenizable", "v": "hi"}
    assert v["created_at"] == {"$adk": "datetime", "v": "2024-05-06T07:08:09.123456Z"}
    assert v["identity"]["$adk"] == "Identity"
    assert "attachments" not in v  # omitted when empty, as in the ADK snapshot


def test_tuple_becomes_list_and_bytes_datetime_tokenizable_keep_types() -> None:
    value = {
        "t": (1, 2),
        "b": b"\x00\xffbin",
        "d": T1,
        "naive": datetime(2020, 1, 2, 3, 4, 5),
        "tok": Tokenizable("text"),
        "empty_tok": Tokenizable(""),
    }
    back: Any = decode(encode(value))
    assert back["t"] == [1, 2]
    assert type(back["b"]) is bytes
    assert back["b"] == b"\x00\xffbin"
    assert back["d"] == T1
    assert back["d"].utcoffset() == timedelta(hours=5, minutes=30)
    assert back["naive"] == datetime(2020, 1, 2, 3, 4, 5)
    assert back["naive"].tzinfo is None
    assert isinstance(back["tok"], Tokenizable)
    assert back["tok"].render() == "text"
    assert back["empty_tok"].render() == ""


def test_user_dict_with_the_tag_key_is_escaped() -> None:
    value = {"$adk": "Message", "v": {"id": 1}, "other": [{"$adk": "x"}]}
    assert decode(encode(value)) == value
    assert decode(encode([{"$adk": "dict", "v": 1}])) == [{"$adk": "dict", "v": 1}]


def test_identity_round_trips() -> None:
    round_trip(Identity(identifier="u-1", representation="Alice"))
    round_trip(Identity(identifier=42, representation=Tokenizable("Bob")))
    round_trip(Identity(identifier=2.5, representation="Carol"))


def test_registry_round_trips() -> None:
    reg = Registry({"a": {"b": [1, {"c": None}]}, "when": T0, "tok": Tokenizable("x")})
    back = round_trip(reg)
    assert back is not reg


def test_message_round_trips_every_field() -> None:
    m = Message(
        id="msg-1",
        role="assistant",
        content=Tokenizable("hello 😀 world"),
        identity=Identity(identifier=7, representation="Agent Smith"),
        created_at=T0,
        updated_at=T1,
    )
    back = round_trip(m)
    assert back.id == "msg-1"
    assert back.role == "assistant"
    assert back.identity.identifier == 7
    assert back.created_at == T0
    assert back.updated_at == T1
    round_trip(Message(id="m", role="user", content="x", created_at=T0, updated_at=T0))


def test_lists_of_primitives_round_trip() -> None:
    msgs = [
        Message(id=f"m{i}", role="user", content=f"c{i}", created_at=T0, updated_at=T2)
        for i in range(3)
    ]
    back: Any = round_trip({"history": msgs, "count": 3})
    assert [m.id for m in back["history"]] == ["m0", "m1", "m2"]


def test_adk_camel_case_snapshot_decodes() -> None:
    doc = {
        "$adk": "Message",
        "v": {
            "id": "m",
            "role": "user",
            "content": "plain string content",
            "identity": "someone",
            "createdAt": "2024-05-06T07:08:09Z",
            "updatedAt": 1714979289000,
        },
    }
    m: Any = decode(json.dumps(doc))
    assert isinstance(m, Message)
    assert m.content.render() == "plain string content"
    assert m.identity.identifier == "someone"
    assert m.created_at == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert m.updated_at == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_thought_round_trips() -> None:
    mod = _need(thought_mod, "adk.primitives.thought")
    round_trip(mod.Thought(id="t1", content="thinking…", created_at=T0, updated_at=T1))
    opaque = mod.Thought(
        id="t2",
        payload={"signature": "abc", "blocks": [1, 2.5, None, {"$adk": "sneaky"}]},
        replay_compatibility="anthropic-messages",
        identity=Identity(identifier="claude", representation="Claude"),
        created_at=T0,
        updated_at=T0,
    )
    back = round_trip(opaque)
    assert back.payload == opaque.payload
    round_trip(mod.Thought(id="t3", content=Tokenizable(""), created_at=T0, updated_at=T0))


def test_memory_round_trips() -> None:
    mod = _need(memory_mod, "adk.primitives.memory")
    round_trip(
        mod.Memory(
            id="mem",
            content="likes tea",
            confidence=0.25,
            importance=1,
            created_at=T0,
            updated_at=T2,
        )
    )
    round_trip(
        mod.Memory(
            id="m2", content="x", confidence=0.0, importance=0.5, created_at=T0, updated_at=T0
        )
    )


def test_retrievable_round_trips() -> None:
    mod = _need(retrievable_mod, "adk.primitives.retrievable")
    round_trip(
        mod.Retrievable(
            id="r1",
            content="doc body",
            trust_tier="third-party-public",
            created_at=T0,
            updated_at=T1,
        )
    )
    round_trip(
        mod.Retrievable(
            id="r2",
            content=Tokenizable("body"),
            trust_tier="first-party",
            source="https://example.com",
            kind="faq",
            score=0.75,
            inline=True,
            created_at=T0,
            updated_at=T0,
        )
    )


def _tool_call(mod: ModuleType, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "id": "tc-1",
        "tool": "search",
        "args": {"q": "x", "limit": 5, "nested": {"$adk": "not a tag", "l": [1, None]}},
        "checksum": "deadbeef",
        "is_complete": True,
        "is_error": False,
        "results": Tokenizable("3 hits"),
        "created_at": T0,
        "updated_at": T1,
        "completed_at": T2,
    }
    fields.update(overrides)
    return mod.ToolCall(**fields)


def test_tool_call_round_trips() -> None:
    mod = _need(tool_call_mod, "adk.primitives.tool_call")
    back = round_trip(_tool_call(mod))
    assert back.checksum == "deadbeef"  # stored verbatim, never recomputed
    assert dict(back.args)["nested"] == {"$adk": "not a tag", "l": [1, None]}
    round_trip(
        _tool_call(
            mod,
            is_error=True,
            payload={"raw": [1, 2]},
            replay_compatibility="openai-chat",
            from_artifact_tool=True,
            inline=True,
        )
    )


# --- tools -------------------------------------------------------------------------------

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"q": {"type": "string"}, "n": {"type": "integer", "default": 3}},
    "required": ["q"],
}


def search_handler(args: Any, ctx: Any, meta: Registry) -> str:
    return f"results for {args['q']}"


def _tool(cls_name: str = "Tool", **overrides: Any) -> Any:
    mod = _need(tool_mod, "adk.primitives.tool")
    fields: dict[str, Any] = {
        "name": "search",
        "description": "Search the web.",
        "input_schema": _SCHEMA,
        "handler": search_handler,
    }
    fields.update(overrides)
    return getattr(mod, cls_name)(**fields)


def test_tool_round_trips_with_registered_handler() -> None:
    register_handler(search_handler)
    t = _tool(
        meta={"owner": "me", "limits": {"rpm": 10}},
        ephemeral=True,
        trusted=True,
        on_collision="replace",
    )
    back = round_trip(t)
    assert back.validate({"q": "a"}) == {"q": "a", "n": 3}
    doc = json.loads(encode(t))
    assert doc["v"]["handler"] == f"{__name__}.search_handler"
    assert doc["v"]["input_schema"] == _SCHEMA


def test_artifact_tool_round_trips() -> None:
    register_handler(search_handler, name="search-v1")
    t = _tool("ArtifactTool", name="artifact_grep")
    back = round_trip(t)
    assert type(back).__name__ == "ArtifactTool"
    assert json.loads(encode(t))["v"]["handler"] == "search-v1"


def test_struct_schema_tool_via_decorator() -> None:
    mod = _need(tool_mod, "adk.primitives.tool")

    @mod.tool
    def lookup(city: str, days: int = 1) -> str:
        """Look up the weather.

        Args:
            city: The city.
            days: How many days.
        """
        return f"{city}:{days}"

    register_handler(lookup)
    back = round_trip(lookup)
    assert back.input_schema is lookup.input_schema
    doc = json.loads(encode(lookup))["v"]
    assert doc["input_schema_type"] == "lookup:input_schema"
    assert doc["input_schema"]["type"] == "object"


def test_unregistered_handler_refuses_to_encode() -> None:
    def private_handler(args: Any, ctx: Any, meta: Registry) -> str:
        return ""

    t = _tool(handler=private_handler)
    with pytest.raises(E_CODEC_ERROR, match="register_handler"):
        encode(t)


def test_unknown_handler_name_refuses_to_decode() -> None:
    register_handler(search_handler)
    doc = json.loads(encode(_tool()))
    doc["v"]["handler"] = "nobody.registered.this"
    with pytest.raises(E_CODEC_ERROR, match=r"nobody\.registered\.this"):
        decode(json.dumps(doc))
    doc["v"]["handler"] = 12
    with pytest.raises(E_CODEC_ERROR):
        decode(json.dumps(doc))


def test_tampered_tool_raises_tool_error() -> None:
    mod = _need(tool_mod, "adk.primitives.tool")
    del mod
    register_handler(search_handler)
    doc = json.loads(encode(_tool()))
    doc["v"]["name"] = ""
    doc["v"]["surprise"] = 1
    with pytest.raises(AdkError) as info:
        decode(json.dumps(doc))
    assert info.value.code == "E_INVALID_INITIAL_TOOL_VALUE"
    assert {"name", "surprise"} <= set(info.value.fields)


def test_tool_registry_round_trips() -> None:
    mod = _need(tool_registry_mod, "adk.primitives.tool_registry")
    register_handler(search_handler)
    reg = mod.ToolRegistry([_tool(), _tool(name="other"), _tool(name="third")])
    reg.hide("other", "not-yet-registered")
    back = round_trip(reg)
    assert [t.name for t in back.visible()] == ["search", "third"]
    back.register(_tool(name="not-yet-registered"))
    assert [t.name for t in back.hidden()] == ["other", "not-yet-registered"]


# --- dynamic Tokenizable ------------------------------------------------------------------


def greeting(ctx: Any) -> str:
    return "hello" if ctx is None else f"hello {ctx}"


def test_dynamic_tokenizable_needs_a_registered_evaluator() -> None:
    def unregistered(ctx: Any) -> str:
        return "x"

    with pytest.raises(E_CODEC_ERROR, match="register_evaluator"):
        encode(Tokenizable(unregistered))
    m = Message(
        id="m", role="user", content=Tokenizable(unregistered), created_at=T0, updated_at=T0
    )
    with pytest.raises(E_CODEC_ERROR):
        encode(m)


def test_dynamic_tokenizable_round_trips_by_name() -> None:
    register_evaluator("greeting", greeting)
    t = Tokenizable(greeting)
    assert json.loads(encode(t)) == {"$adk": "Tokenizable", "v": {"evaluator": "greeting"}}
    back: Any = round_trip(t)
    assert back.dynamic
    assert back.render("bob") == "hello bob"
    m = Message(id="m", role="user", content=t, created_at=T0, updated_at=T0)
    round_trip(m)
    with pytest.raises(E_CODEC_ERROR, match="nope"):
        decode(b'{"$adk":"Tokenizable","v":{"evaluator":"nope"}}')


def test_registration_errors() -> None:
    with pytest.raises(E_CODEC_ERROR):
        register_evaluator("", greeting)
    with pytest.raises(E_CODEC_ERROR):
        register_evaluator("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(E_CODEC_ERROR):
        register_handler("not callable")
    with pytest.raises(E_CODEC_ERROR, match="reserved"):
        register_codec(Message, "datetime")
    with pytest.raises(E_CODEC_ERROR, match="already belongs"):
        register_codec(Identity, "Message", to_raw=lambda i: {}, from_raw=lambda r: r)

    class Opaque:
        pass

    with pytest.raises(E_CODEC_ERROR, match="to_raw"):
        register_codec(Opaque)


# --- custom classes ----------------------------------------------------------------------


class Point:
    def __init__(self, x: int, y: int) -> None:
        if not isinstance(x, int) or not isinstance(y, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise E_CODEC_ERROR(message="Point needs ints")
        self.x, self.y = x, y

    def to_raw(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "when": T0}

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Point:
        assert raw["when"] == T0
        return cls(raw["x"], raw["y"])


class Fragile:
    def to_raw(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Fragile:
        raise KeyError("boom")


def test_custom_class_codec() -> None:
    register_codec(Point, "test.Point")
    back: Any = decode(encode([Point(1, 2)]))
    assert isinstance(back[0], Point)
    assert (back[0].x, back[0].y) == (1, 2)
    with pytest.raises(E_CODEC_ERROR, match="Point needs ints"):
        decode(
            b'{"$adk":"test.Point","v":{"x":"1","y":2,'
            b'"when":{"$adk":"datetime","v":"2024-05-06T07:08:09.123456+00:00"}}}'
        )
    register_codec(Fragile)
    with pytest.raises(E_CODEC_ERROR) as info:
        decode(encode(Fragile()))
    assert isinstance(info.value.__cause__, KeyError)


# --- readers (hook) ----------------------------------------------------------------------


class FakeMediaReader:
    def __init__(self, data: bytes, describable: bool = True) -> None:
        self.data = data
        self.describable = describable

    async def stream(self) -> Any:  # pragma: no cover - not read here
        yield self.data

    def byte_length(self) -> int:
        return len(self.data)

    def describe(self) -> dict[str, Any] | None:
        if not self.describable:
            return None
        return {"tag": "media:test", "locator": {"key": self.data.decode()}}


@pytest.fixture
def resolver() -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def resolve(tag: str, locator: Any) -> Any:
        seen.append((tag, locator))
        if tag != "media:test":
            raise E_NO_READER_RESOLVER(tag)
        return FakeMediaReader(locator["key"].encode())

    previous = set_reader_resolver(resolve)
    yield seen
    set_reader_resolver(previous)


def test_reader_descriptor_round_trip(resolver: list[tuple[str, Any]]) -> None:
    data = encode({"reader": FakeMediaReader(b"abc")})
    assert json.loads(data) == {
        "reader": {"$adk": "$reader", "v": {"tag": "media:test", "locator": {"key": "abc"}}}
    }
    back: Any = decode(data)
    assert isinstance(back["reader"], FakeMediaReader)
    assert back["reader"].data == b"abc"
    assert resolver == [("media:test", {"key": "abc"})]
    with pytest.raises(E_NO_READER_RESOLVER):
        decode(b'{"$adk":"$reader","v":{"tag":"media:other","locator":null}}')


def test_reader_without_describe_or_resolver() -> None:
    with pytest.raises(E_READER_NOT_DESCRIBABLE):
        encode(FakeMediaReader(b"x", describable=False))
    previous = set_reader_resolver(None)
    try:
        with pytest.raises(E_NO_READER_RESOLVER):
            decode(b'{"$adk":"$reader","v":{"tag":"media:test","locator":1}}')
        with pytest.raises(E_CODEC_ERROR):
            decode(b'{"$adk":"$reader","v":{"tag":1}}')
    finally:
        set_reader_resolver(previous)


# --- refusal to encode -------------------------------------------------------------------


class NotEncodable:
    pass


@pytest.mark.parametrize(
    "value",
    [
        NotEncodable(),
        {1: "int key"},
        {"nested": [{(1, 2): "tuple key"}]},
        float("nan"),
        [float("inf")],
        {1.5, 2.5},
        object(),
        print,
    ],
)
def test_unencodable_values_raise_codec_error(value: Any) -> None:
    with pytest.raises(E_CODEC_ERROR):
        encode(value)


# --- tampered documents ------------------------------------------------------------------


def _message_doc() -> dict[str, Any]:
    m = Message(id="m1", role="user", content="hi", created_at=T0, updated_at=T1)
    return json.loads(encode(m))


_MSG = "E_INVALID_INITIAL_MESSAGE_VALUE"


@pytest.mark.parametrize(
    ("field", "bad", "code"),
    [
        ("id", 5, _MSG),
        ("id", "", _MSG),
        ("role", "system", _MSG),
        ("content", 3.5, _MSG),
        ("content", None, _MSG),  # no content and no attachments
        ("created_at", "not a date", _MSG),
        ("created_at", True, _MSG),
        ("attachments", "nope", _MSG),
        ("attachments", [1], _MSG),
        ("identity", 12, _MSG),
        ("identity", {"identifier": "x"}, _MSG),
        # A malformed envelope is the codec's business, not the class's.
        ("created_at", {"$adk": "datetime", "v": "2024-13-45T00:00:00"}, "E_CODEC_ERROR"),
        ("content", {"$adk": "Tokenizable", "v": 3}, "E_CODEC_ERROR"),
    ],
)
def test_wrong_types_raise_the_class_error(field: str, bad: Any, code: str) -> None:
    doc = _message_doc()
    doc["v"][field] = bad
    with pytest.raises(AdkError) as info:
        decode(json.dumps(doc))
    assert info.value.code == code
    if code == _MSG:
        assert info.value.fields[0].startswith(field)


def test_unknown_key_inside_v_raises_message_error() -> None:
    doc = _message_doc()
    doc["v"]["hacked"] = True
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        decode(json.dumps(doc))
    assert "hacked" in info.value.fields


def test_missing_key_inside_v_raises_message_error() -> None:
    doc = _message_doc()
    del doc["v"]["created_at"]
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        decode(json.dumps(doc))
    assert "created_at" in info.value.fields


def test_nested_identity_tamper_raises() -> None:
    doc = _message_doc()
    doc["v"]["identity"]["v"]["identifier"] = ""
    with pytest.raises(E_INVALID_INITIAL_IDENTITY_VALUE):
        decode(json.dumps(doc))


@pytest.mark.parametrize(
    "v",
    [None, [], "str", 5],
)
def test_non_object_snapshot_raises_adk_error(v: Any) -> None:
    with pytest.raises(AdkError):
        decode(json.dumps({"$adk": "Message", "v": v}))
    with pytest.raises(AdkError):
        decode(json.dumps({"$adk": "Identity", "v": v}))
    with pytest.raises(E_INVALID_INITIAL_REGISTRY_VALUE if v is not None else AdkError):
        decode(json.dumps({"$adk": "Registry", "v": v if v is not None else [1]}))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b'{"$adk": "Message", "v": {"id": "m"',
        b"[1, 2,]",
        b"\xff\xfe",
        "{'single': 'quotes'}",
        b'{"$adk": "NoSuchClass", "v": {}}',
        b'{"$adk": "Message"}',
        b'{"$adk": "Message", "v": {}, "extra": 1}',
        b'{"$adk": 5, "v": {}}',
        b'{"$adk": "datetime", "v": 12}',
        b'{"$adk": "datetime", "v": "yesterday"}',
        b'{"$adk": "bytes", "v": "***"}',
        b'{"$adk": "bytes", "v": 1}',
        b'{"$adk": "dict", "v": []}',
        b'{"$adk": "Tokenizable", "v": 1}',
        b'{"$adk": "Tokenizable", "v": {"evaluator": 1}}',
        b'{"$adk": "Tokenizable", "v": {"other": "x"}}',
        b"[" * 100_000,
    ],
)
def test_malformed_documents_raise_codec_error(data: bytes | str) -> None:
    with pytest.raises(E_CODEC_ERROR):
        decode(data)


@pytest.mark.parametrize("data", [None, 5, ["list"], {"a": 1}])
def test_decode_rejects_non_bytes(data: Any) -> None:
    with pytest.raises(E_CODEC_ERROR):
        decode(data)


@pytest.mark.parametrize("cut", [1, 10, 40, 80, 120, -2, -1])
def test_truncated_documents_raise_codec_error(cut: int) -> None:
    data = encode(Message(id="m", role="user", content="hi", created_at=T0, updated_at=T0))
    with pytest.raises(E_CODEC_ERROR):
        decode(data[:cut])


# --- properties --------------------------------------------------------------------------

_text = st.text(min_size=1)
_aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.builds(
        timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))
    ),
)
_identity = (
    st.none()
    | _text
    | st.builds(
        Identity,
        identifier=_text | st.integers() | st.floats(allow_nan=False, allow_infinity=False),
        representation=_text,
    )
)


@st.composite
def messages(draw: Callable[[Any], Any]) -> Message:
    return Message(
        id=draw(_text),
        role=draw(st.sampled_from(["user", "assistant"])),
        content=draw(_text | _text.map(Tokenizable)),
        identity=draw(_identity),
        created_at=draw(_aware),
        updated_at=draw(_aware),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_messages_round_trip(m: Message) -> None:
    back: Any = decode(encode(m))
    assert_same(m, back)
    assert back.content.render() == m.content.render() if m.content else back.content is None


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_json_values_round_trip(value: Any) -> None:
    assert_same(value, decode(encode(value)))


def _mutations() -> st.SearchStrategy[tuple[list[Any], Any]]:
    paths = st.sampled_from(
        [
            ["v", "id"],
            ["v", "role"],
            ["v", "content"],
            ["v", "content", "v"],
            ["v", "content", "$adk"],
            ["v", "identity"],
            ["v", "identity", "v"],
            ["v", "identity", "v", "identifier"],
            ["v", "identity", "v", "representation"],
            ["v", "created_at"],
            ["v", "created_at", "v"],
            ["v", "updated_at", "$adk"],
            ["v", "new_key"],
            ["v"],
            ["$adk"],
        ]
    )
    return st.tuples(paths, _json)


@settings(max_examples=300, deadline=None)
@given(_mutations())
def test_tampered_documents_raise_only_adk_errors(mutation: tuple[list[Any], Any]) -> None:
    path, new = mutation
    doc: Any = _message_doc()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    try:
        result = decode(json.dumps(doc))
    except AdkError:
        return
    # A mutation that keeps the document valid must still produce a valid Message (or,
    # if the tag itself was replaced by a plain value, plain data).
    assert isinstance(result, Message | dict)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(max_size=3))
def test_truncated_or_garbled_bytes_raise_only_adk_errors(cut: int, junk: bytes) -> None:
    data = encode(_message_doc_obj())
    garbled = data[:cut] + junk + data[cut + len(junk) :]
    with contextlib.suppress(AdkError):
        decode(garbled)


def _message_doc_obj() -> Message:
    return Message(id="m1", role="user", content="hi", created_at=T0, updated_at=T1)
