from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adk.errors import E_INVALID_INITIAL_THOUGHT_VALUE
from adk.primitives.identity import Identity
from adk.primitives.thought import Thought
from adk.primitives.tokenizable import Tokenizable

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make(**kw: Any) -> Thought:
    base: dict[str, Any] = {"id": "t1", "content": "pondering", "created_at": T0, "updated_at": T0}
    base.update(kw)
    return Thought(**base)


def test_plain_text_happy_path():
    t = make()
    assert t.id == "t1"
    assert isinstance(t.content, Tokenizable)
    assert str(t.content) == "pondering"
    assert t.payload is None
    assert t.replay_compatibility is None
    assert t.identity.identifier == "assistant"
    assert str(t.identity.representation) == "assistant"


def test_opaque_mode_with_payload():
    blob = {"signature": "abc"}
    t = make(content=None, payload=blob, replay_compatibility="anthropic-thinking")
    assert t.payload is blob
    assert t.replay_compatibility == "anthropic-thinking"
    assert isinstance(t.content, Tokenizable)
    assert str(t.content) == ""


def test_opaque_mode_content_omitted_is_fresh_empty_tokenizable():
    a = Thought(id="a", payload=1, replay_compatibility="x", created_at=T0, updated_at=T0)
    b = Thought(id="b", payload=1, replay_compatibility="x", created_at=T0, updated_at=T0)
    assert str(a.content) == ""
    assert a.content is not b.content


def test_opaque_mode_accepts_empty_string_and_prose():
    assert str(make(content="", payload=b"\x00", replay_compatibility="x").content) == ""
    assert str(make(payload=0, replay_compatibility="x").content) == "pondering"


@pytest.mark.parametrize("payload", [0, False, "", [], {}, b""])
def test_falsy_payloads_still_count_as_present(payload: object):
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(payload=payload)
    assert info.value.fields == ("replay_compatibility",)


def test_payload_none_is_no_payload():
    t = make(payload=None, replay_compatibility=None)
    assert t.payload is None
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(content=None, payload=None)
    assert info.value.fields == ("content",)


def test_replay_compatibility_without_payload_allowed():
    assert make(replay_compatibility="plain-text").replay_compatibility == "plain-text"


@pytest.mark.parametrize("bad", ["", 1, ["x"], b"x"])
def test_replay_compatibility_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(payload={"a": 1}, replay_compatibility=bad)
    assert info.value.fields == ("replay_compatibility",)


def test_plain_mode_needs_content():
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        Thought(id="t", created_at=T0, updated_at=T0)  # type: ignore[call-arg]
    assert info.value.fields == ("content",)
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(content="")
    assert info.value.fields == ("content",)


def test_empty_tokenizable_counts_as_present():
    empty = Tokenizable("")
    assert make(content=empty).content is empty
    dynamic = Tokenizable(lambda ctx: "")
    assert make(content=dynamic).content is dynamic


@pytest.mark.parametrize("bad", [1, b"x", ["a"], {"a": 1}])
def test_content_rejects_wrong_types(bad: object):
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(content=bad)
    assert info.value.fields == ("content",)


def test_identity_forms():
    ident = Identity(identifier="m", representation="Model")
    assert make(identity=ident).identity is ident
    assert make(identity="planner").identity.identifier == "planner"
    assert make(identity=None).identity.identifier == "assistant"
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(identity="")
    assert info.value.fields == ("identity",)


@pytest.mark.parametrize("bad", ["", None, 5, ["t"]])
def test_id_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(id=bad)
    assert info.value.fields == ("id",)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (T0, T0),
        (datetime(2024, 5, 1, 12, 0), T0),
        (datetime(2024, 5, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5))), T0),
        ("2024-05-01T12:00:00+00:00", T0),
        (int(T0.timestamp() * 1000), T0),
    ],
)
def test_timestamps(given: object, expected: datetime):
    t = make(created_at=given, updated_at=given)
    assert t.created_at == expected
    assert t.updated_at == expected
    assert t.created_at.tzinfo is UTC


@pytest.mark.parametrize("bad", ["not a date", float("nan"), float("-inf"), None, True])
def test_timestamps_reject(bad: object):
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        make(updated_at=bad)
    assert info.value.fields == ("updated_at",)


def test_every_bad_field_named_at_once():
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        Thought(id="", payload=1, identity=3, unknown=1)  # type: ignore[call-arg,arg-type]
    assert set(info.value.fields) == {
        "unknown",
        "id",
        "replay_compatibility",
        "identity",
        "created_at",
        "updated_at",
    }


def test_immutable_and_identity_equality():
    a, b = make(), make()
    with pytest.raises(AttributeError):
        a.payload = 1  # type: ignore[misc]
    assert a != b
    assert len({a, b}) == 2


def test_from_raw_camel_case():
    t = Thought.from_raw(
        {
            "id": "t",
            "payload": {"enc": "zzz"},
            "replayCompatibility": "openai-responses",
            "createdAt": "2024-05-01T12:00:00Z",
            "updatedAt": int(T0.timestamp() * 1000),
        }
    )
    assert t.replay_compatibility == "openai-responses"
    assert t.payload == {"enc": "zzz"}
    assert t.created_at == T0
    assert t.updated_at == T0
    with pytest.raises(E_INVALID_INITIAL_THOUGHT_VALUE) as info:
        Thought.from_raw(
            {"id": "t", "content": "x", "createdAt": T0, "updatedAt": T0, "isOpaque": True}
        )
    assert info.value.fields == ("is_opaque",)


def test_to_raw():
    plain = make().to_raw()
    assert set(plain) == {"id", "content", "identity", "created_at", "updated_at"}
    opaque = make(payload=[1], replay_compatibility="x")
    raw = opaque.to_raw()
    assert raw["payload"] is opaque.payload
    assert raw["replay_compatibility"] == "x"
    again = Thought.from_raw(raw)
    assert again.payload == [1]
    assert again.content is opaque.content
