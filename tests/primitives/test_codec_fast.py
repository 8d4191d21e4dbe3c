"""The direct encoders of ``adk.primitives._codec_fast`` write the generic path's bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import adk
from adk.primitives import codec
from adk.primitives.identity import Identity
from adk.primitives.message import Message
from adk.primitives.tokenizable import Tokenizable
from adk.primitives.tool_call import ToolCall


def generic(value: Any) -> bytes:
    """``adk.encode`` through ``to_raw()`` and the snapshot walk (the reference)."""
    codec._load_defaults()  # pyright: ignore[reportPrivateUsage]
    entry = codec._by_type[type(value)]  # pyright: ignore[reportPrivateUsage]
    tree = {
        codec.TAG_KEY: entry.tag,
        "v": codec._enc_snapshot(entry.to_raw(value)),  # pyright: ignore[reportPrivateUsage]
    }
    return codec._encoder.encode(tree)  # pyright: ignore[reportPrivateUsage]


def spoken(ctx: Any) -> str:
    return "dynamic"


adk.register_evaluator("test_codec_fast.spoken", spoken)

offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-3, minutes=-30))]
)


def moment(seconds: int, micro: int, tz: timezone) -> datetime:
    base = datetime(2020, 1, 1, tzinfo=UTC).astimezone(tz)
    return base + timedelta(seconds=seconds, microseconds=micro)


moments = st.builds(moment, st.integers(0, 10**9), st.integers(0, 999_999), offsets)
texts = st.text(max_size=20)
tokenizables = st.one_of(texts.filter(bool).map(Tokenizable), st.just(Tokenizable(spoken)))
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(texts, st.just("$adk")), inner, max_size=3),
    ),
    max_leaves=8,
)
identities = st.builds(
    Identity,
    identifier=st.one_of(texts.filter(bool), st.integers(), st.floats(-1e6, 1e6)),
    representation=st.one_of(texts.filter(bool), tokenizables),
)
messages = st.builds(
    Message,
    id=texts.filter(bool),
    role=st.sampled_from(["user", "assistant"]),
    content=st.one_of(texts.filter(bool), tokenizables),
    identity=st.one_of(st.none(), identities),
    created_at=moments,
    updated_at=moments,
)


@st.composite
def tool_calls(draw: st.DrawFn) -> ToolCall:
    args = draw(st.dictionaries(st.one_of(texts, st.just("$adk")), json_values, max_size=4))
    payload = draw(st.one_of(st.none(), json_values.filter(lambda v: v is not None)))
    at = draw(moments)
    return ToolCall(
        id=draw(texts.filter(bool)),
        tool=draw(texts.filter(bool)),
        args=args,
        checksum=adk.tool_call_checksum("t", args),
        is_complete=draw(st.booleans()),
        is_error=draw(st.booleans()),
        results=draw(tokenizables),
        payload=payload,
        replay_compatibility=None if payload is None else draw(texts.filter(bool)),
        from_artifact_tool=draw(st.booleans()),
        inline=draw(st.booleans()),
        created_at=at,
        updated_at=draw(moments),
        completed_at=at,
    )


@given(messages)
def test_message_bytes_equal_the_generic_path(message: Message) -> None:
    assert adk.encode(message) == generic(message)
    assert adk.encode(message.identity) == generic(message.identity)


@given(tool_calls())
def test_tool_call_bytes_equal_the_generic_path(call: ToolCall) -> None:
    data = adk.encode(call)
    assert data == generic(call)
    back: Any = adk.decode(data)
    assert dict(back.args) == dict(call.args) and back.created_at == call.created_at


def test_a_class_registered_again_loses_its_direct_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    codec._load_defaults()  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(codec, "_by_type", dict(codec._by_type))  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(codec, "_by_tag", dict(codec._by_tag))  # pyright: ignore[reportPrivateUsage]
    at = datetime(2024, 1, 1, tzinfo=UTC)
    message = Message(id="m", role="user", content="hi", created_at=at, updated_at=at)
    assert codec._by_type[Message].fast is not None  # pyright: ignore[reportPrivateUsage]

    def to_raw(m: Message) -> dict[str, Any]:
        return {"only": m.id}

    adk.register_codec(Message, to_raw=to_raw, from_raw=lambda raw: raw)
    assert adk.encode(message) == b'{"$adk":"Message","v":{"only":"m"}}'
