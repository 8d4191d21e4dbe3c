"""Property tests: any malformed input raises only the class's own AdkError."""

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adk.primitives._base import Primitive
from adk.primitives.identity import Identity
from adk.primitives.memory import Memory
from adk.primitives.message import Message
from adk.primitives.retrievable import Retrievable
from adk.primitives.thought import Thought
from adk.primitives.tokenizable import Tokenizable
from adk.primitives.tool_call import ToolCall


class Media:  # stands in for adk.Media (matched by class name)
    pass


class Artifact:  # duck-typed SpooledArtifact
    def head(self) -> None: ...
    def tail(self) -> None: ...
    def grep(self) -> None: ...
    def cat(self) -> None: ...
    def byte_length(self) -> None: ...
    def line_count(self) -> None: ...
    def estimate_tokens(self) -> None: ...


class Weird:
    pass


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers().map(lambda i: i * 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1.0000001, -0.0]),
    st.text(max_size=8),
    st.just(""),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.lists(st.sampled_from([Media(), Artifact(), "x", 1]), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),
    st.builds(Weird),
    st.builds(object),
    st.sampled_from(["[1]", "null", "{", '{"a": 1}', "true", "2024-13-01", "0.5", "nan"]),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-03:00", "\ud800"]),
    st.just(datetime.max.replace(tzinfo=timezone(timedelta(hours=-1)))),
)

timestamp = st.one_of(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-3))]),
    ),
    st.integers(min_value=-(10**13), max_value=10**13),
    st.sampled_from(["2024-05-01T12:00:00Z", "2024-05-01", "2024-05-01T12:00:00+05:30"]),
)
text = st.one_of(st.text(min_size=1, max_size=5), st.builds(Tokenizable, st.text(max_size=5)))
unit = st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from(["0.5", "1", 0, 1]))
flag = st.one_of(st.booleans(), st.sampled_from(["true", "false"]))
tier = st.sampled_from(["first-party", "third-party-public", "third-party-private"])

VALID: dict[type[Primitive], dict[str, st.SearchStrategy[Any]]] = {
    Identity: {
        "identifier": st.one_of(st.text(min_size=1, max_size=4), st.integers()),
        "representation": text,
    },
    Message: {
        "id": st.text(min_size=1, max_size=4),
        "role": st.sampled_from(["user", "assistant"]),
        "content": text,
        "attachments": st.lists(st.builds(Media), max_size=2),
        "identity": st.one_of(st.text(min_size=1, max_size=3), st.none()),
        "created_at": timestamp,
        "updated_at": timestamp,
    },
    Thought: {
        "id": st.text(min_size=1, max_size=4),
        "content": text,
        "identity": st.text(min_size=1, max_size=3),
        "payload": st.one_of(st.none(), st.integers(), st.dictionaries(st.text(), st.text())),
        "replay_compatibility": st.text(min_size=1, max_size=4),
        "created_at": timestamp,
        "updated_at": timestamp,
    },
    Memory: {
        "id": st.text(min_size=1, max_size=4),
        "content": text,
        "confidence": unit,
        "importance": unit,
        "created_at": timestamp,
        "updated_at": timestamp,
    },
    Retrievable: {
        "id": st.text(min_size=1, max_size=4),
        "content": text,
        "trust_tier": tier,
        "source": st.text(min_size=1, max_size=4),
        "kind": st.text(min_size=1, max_size=4),
        "score": unit,
        "inline": flag,
        "created_at": timestamp,
        "updated_at": timestamp,
    },
    ToolCall: {
        "id": st.text(min_size=1, max_size=4),
        "tool": st.text(min_size=1, max_size=4),
        "args": st.one_of(
            st.dictionaries(
                st.text(max_size=3),
                st.recursive(
                    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
                    lambda c: (
                        st.lists(c, max_size=2)
                        | st.dictionaries(st.text(max_size=2), c, max_size=2)
                    ),
                    max_leaves=6,
                ),
                max_size=3,
            ),
            st.sampled_from(['{"q": "x"}', "{}", '{"a": [1, {"b": null}]}']),
        ),
        "checksum": st.text(min_size=1, max_size=4),
        "is_complete": flag,
        "is_error": flag,
        "results": st.one_of(
            st.builds(Tokenizable, st.text(max_size=3)),
            st.builds(Media),
            st.builds(Artifact),
            st.lists(st.builds(Media), min_size=1, max_size=2),
            st.lists(st.builds(Artifact), min_size=1, max_size=2),
        ),
        "payload": st.one_of(st.none(), st.integers()),
        "replay_compatibility": st.text(min_size=1, max_size=4),
        "from_artifact_tool": flag,
        "inline": flag,
        "created_at": timestamp,
        "updated_at": timestamp,
        "completed_at": timestamp,
    },
}


@st.composite
def kwargs_for(draw: st.DrawFn, cls: type[Primitive]) -> dict[str, Any]:
    fields = VALID[cls]
    spoiled = draw(st.sets(st.sampled_from(sorted(fields)), max_size=3))
    out: dict[str, Any] = {}
    for name, valid in fields.items():
        if name not in spoiled:
            out[name] = draw(valid)
        elif draw(st.booleans()):
            out[name] = draw(junk)
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=6), junk, max_size=1))
    for k, v in extra.items():
        if k not in fields:
            out[k] = v
    return out


def check_outcome(cls: type[Primitive], build: Any) -> None:
    try:
        obj = build()
    except Exception as err:  # the property: nothing but the class's own error escapes
        assert type(err) is cls.__adk_error__, repr(err)
        assert err.details, "a validation error names its bad fields"  # type: ignore[attr-defined]
        return
    assert type(obj) is cls
    for name in ("created_at", "updated_at", "completed_at"):
        value = getattr(obj, name, None)
        if value is not None:
            assert isinstance(value, datetime)
            assert value.tzinfo is UTC


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_constructor_raises_only_own_error(cls: type[Primitive], data: st.DataObject):
    kwargs = data.draw(kwargs_for(cls))
    check_outcome(cls, lambda: cls(**kwargs))


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(raw=st.one_of(junk, st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), junk)))
def test_from_raw_raises_only_own_error(cls: type[Primitive], raw: Any):
    check_outcome(cls, lambda: cls.from_raw(raw))  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(args=st.lists(junk, min_size=1, max_size=3))
def test_positional_arguments_raise_own_error(cls: type[Primitive], args: list[Any]):
    check_outcome(cls, lambda: cls(*args))


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_valid_kwargs_always_construct(cls: type[Primitive], data: st.DataObject):
    kwargs = {name: data.draw(valid, label=name) for name, valid in VALID[cls].items()}
    obj = cls(**kwargs)
    assert type(obj) is cls
    assert obj != cls(**kwargs)  # identity equality
