from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adk.errors import E_INVALID_INITIAL_MESSAGE_VALUE
from adk.primitives.identity import Identity
from adk.primitives.message import Message
from adk.primitives.tokenizable import Tokenizable

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Media:  # stands in for adk.Media (matched by class name)
    pass


def make(**kw: Any) -> Message:
    base: dict[str, Any] = {
        "id": "m1",
        "role": "user",
        "content": "hello",
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(kw)
    return Message(**base)


def test_happy_path():
    m = make()
    assert m.id == "m1"
    assert m.role == "user"
    assert isinstance(m.content, Tokenizable)
    assert str(m.content) == "hello"
    assert m.attachments == ()
    assert m.created_at is T0


def test_identity_defaults_to_role():
    m = make(role="assistant")
    assert isinstance(m.identity, Identity)
    assert m.identity.identifier == "assistant"
    assert str(m.identity.representation) == "assistant"
    assert make(identity=None).identity.identifier == "user"


def test_identity_forms():
    ident = Identity(identifier=1, representation="Ann")
    assert make(identity=ident).identity is ident
    assert make(identity="bob").identity.identifier == "bob"
    assert make(identity={"identifier": "x", "representation": "X"}).identity.identifier == "x"


def test_identity_errors_are_nested():
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(identity={"identifier": ""})
    assert info.value.fields == ("identity.identifier", "identity.representation")
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(identity=5)
    assert info.value.fields == ("identity",)


@pytest.mark.parametrize("role", ["system", "tool", "", None, 1, "User"])
def test_role_rejects(role: object):
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(role=role)
    assert info.value.fields == ("role",)


@pytest.mark.parametrize("bad", ["", 1, b"x", ["a"]])
def test_content_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(content=bad)
    assert info.value.fields == ("content",)


def test_content_tokenizable_kept():
    t = Tokenizable("x")
    assert make(content=t).content is t


def test_content_or_attachments_required():
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(content=None)
    assert info.value.fields == ("content",)
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE):
        make(content=None, attachments=[])
    media = Media()
    m = make(content=None, attachments=[media])
    assert m.content is None
    assert m.attachments == (media,)


def test_attachments_rules():
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(attachments=[Media(), "x", Media(), 3])
    assert info.value.fields == ("attachments[1]", "attachments[3]")
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(attachments="abc")
    assert info.value.fields == ("attachments",)
    assert make(attachments=None).attachments == ()  # None is absent


def test_attachments_immutable_and_detached_from_input():
    items = [Media()]
    m = make(attachments=items)
    items.append(Media())
    assert len(m.attachments) == 1
    assert isinstance(m.attachments, tuple)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (T0, T0),
        (datetime(2024, 5, 1, 12, 0), T0),  # naive is UTC
        (datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), T0),
        ("2024-05-01T12:00:00Z", T0),
        ("2024-05-01T12:00:00", T0),
        ("2024-05-01T13:30:00+01:30", T0),
        (int(T0.timestamp() * 1000), T0),
        (T0.timestamp() * 1000 + 0.5, T0 + timedelta(microseconds=500)),
    ],
)
def test_timestamps(given: object, expected: datetime):
    m = make(created_at=given, updated_at=given)
    for value in (m.created_at, m.updated_at):
        assert value == expected
        assert value.tzinfo is UTC


@pytest.mark.parametrize(
    "bad", ["", "yesterday", float("nan"), float("inf"), 10**30, True, None, [], b"2024"]
)
def test_timestamps_reject(bad: object):
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        make(created_at=bad, updated_at=bad)
    assert info.value.fields == ("created_at", "updated_at")


def test_every_bad_field_named_at_once():
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        Message(id="", role="bot", content=3, created_at="x", extra=1)  # type: ignore[call-arg,arg-type]
    assert set(info.value.fields) == {
        "extra",
        "id",
        "role",
        "content",
        "created_at",
        "updated_at",
    }


def test_missing_required_fields():
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        Message()  # type: ignore[call-arg]
    assert set(info.value.fields) == {"id", "role", "content", "created_at", "updated_at"}


def test_immutable_and_identity_equality():
    a, b = make(), make()
    with pytest.raises(AttributeError):
        a.content = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.attachments += (Media(),)  # type: ignore[misc]
    assert a != b
    assert {a, b, a} == {a, b}
    assert len({a, b}) == 2


def test_from_raw_camel_case():
    m = Message.from_raw(
        {
            "id": "m",
            "role": "assistant",
            "content": "hi",
            "createdAt": "2024-05-01T12:00:00Z",
            "updatedAt": int(T0.timestamp() * 1000),
        }
    )
    assert m.created_at == T0
    assert m.updated_at == T0
    assert m.identity.identifier == "assistant"


def test_from_raw_rejects_unknown_and_non_mapping():
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE) as info:
        Message.from_raw(
            {
                "id": "m",
                "role": "user",
                "content": "x",
                "createdAt": T0,
                "updatedAt": T0,
                "isPinned": True,
            }
        )
    assert info.value.fields == ("is_pinned",)
    with pytest.raises(E_INVALID_INITIAL_MESSAGE_VALUE):
        Message.from_raw(["id"])  # type: ignore[arg-type]


def test_to_raw_round_trip():
    media = Media()
    m = make(attachments=[media])
    raw = m.to_raw()
    assert raw["attachments"] == [media]
    assert raw["content"] is m.content
    assert raw["identity"] is m.identity
    again = Message.from_raw(raw)
    assert again is not m
    assert again.content is m.content
    assert again.created_at == m.created_at
    assert "attachments" not in make().to_raw()
