from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adk.errors import E_INVALID_INITIAL_MEMORY_VALUE
from adk.primitives.memory import Memory
from adk.primitives.tokenizable import Tokenizable

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make(**kw: Any) -> Memory:
    base: dict[str, Any] = {
        "id": "mem1",
        "content": "likes tea",
        "confidence": 0.8,
        "importance": 0.3,
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(kw)
    return Memory(**base)


def test_happy_path():
    m = make()
    assert m.id == "mem1"
    assert isinstance(m.content, Tokenizable)
    assert str(m.content) == "likes tea"
    assert m.confidence == 0.8
    assert m.importance == 0.3


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, 0.5])
def test_unit_bounds_inclusive(value: float):
    m = make(confidence=value, importance=value)
    assert m.confidence == value
    assert m.importance == value


@pytest.mark.parametrize(("given", "expected"), [("0.5", 0.5), ("1", 1.0), (" 0 ", 0.0)])
def test_numeric_strings_coerced(given: str, expected: float):
    m = make(confidence=given, importance=given)
    assert m.confidence == expected
    assert type(m.confidence) is float


@pytest.mark.parametrize(
    "bad",
    [
        1.0000001,
        -0.0001,
        2,
        float("nan"),
        float("inf"),
        float("-inf"),
        "nan",
        "abc",
        "",
        True,
        False,
        None,
        [0.5],
        10**400,
    ],
)
def test_unit_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_MEMORY_VALUE) as info:
        make(confidence=bad, importance=bad)
    assert info.value.fields == ("confidence", "importance")


@pytest.mark.parametrize("bad", ["", None, 3, b"x"])
def test_content_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_MEMORY_VALUE) as info:
        make(content=bad)
    assert info.value.fields == ("content",)


def test_tokenizable_content_kept():
    t = Tokenizable("x")
    assert make(content=t).content is t


def test_timestamps():
    ms = int(T0.timestamp() * 1000)
    m = make(created_at="2024-05-01T12:00:00", updated_at=ms)
    assert m.created_at == T0
    assert m.updated_at == T0
    assert m.created_at.tzinfo is UTC
    assert make(created_at=datetime(2024, 5, 1, 12)).created_at == T0
    later = make(updated_at=T0 + timedelta(days=1), created_at=T0)
    assert later.updated_at > later.created_at
    # no ordering check (PRIMITIVES.md §1.3)
    assert make(created_at=T0 + timedelta(days=1), updated_at=T0).created_at > T0


def test_missing_everything_named():
    with pytest.raises(E_INVALID_INITIAL_MEMORY_VALUE) as info:
        Memory()  # type: ignore[call-arg]
    assert info.value.fields == (
        "id",
        "content",
        "confidence",
        "importance",
        "created_at",
        "updated_at",
    )


def test_unknown_and_bad_named_together():
    with pytest.raises(E_INVALID_INITIAL_MEMORY_VALUE) as info:
        make(id="", confidence=7, weight=1)
    assert set(info.value.fields) == {"weight", "id", "confidence"}


def test_none_is_rejected_for_required_fields():
    with pytest.raises(E_INVALID_INITIAL_MEMORY_VALUE) as info:
        make(id=None, content=None, created_at=None)
    assert info.value.fields == ("id", "content", "created_at")


def test_immutable_and_identity_equality():
    a, b = make(), make()
    with pytest.raises(AttributeError):
        a.confidence = 0.1  # type: ignore[misc]
    assert a != b
    assert a in {a}
    assert len({a, b}) == 2


def test_from_raw_camel_case_and_to_raw():
    m = Memory.from_raw(
        {
            "id": "m",
            "content": "fact",
            "confidence": "1",
            "importance": 0,
            "createdAt": "2024-05-01T12:00:00Z",
            "updatedAt": int(T0.timestamp() * 1000),
        }
    )
    assert m.confidence == 1.0
    assert m.created_at == T0
    raw = m.to_raw()
    assert raw == {
        "id": "m",
        "content": m.content,
        "confidence": 1.0,
        "importance": 0,
        "created_at": T0,
        "updated_at": T0,
    }
    assert Memory.from_raw(raw).content is m.content
    with pytest.raises(E_INVALID_INITIAL_MEMORY_VALUE) as info:
        Memory.from_raw({**raw, "lastUsedAt": T0})
    assert info.value.fields == ("last_used_at",)
