import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from adk.errors import E_INVALID_INITIAL_TOOL_CALL_VALUE
from adk.primitives.canonical import tool_call_checksum
from adk.primitives.tokenizable import Tokenizable
from adk.primitives.tool_call import ToolCall

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Artifact:  # duck-typed SpooledArtifact
    def head(self, n: int = 10) -> list[str]:
        return []

    def tail(self, n: int = 10) -> list[str]:
        return []

    def grep(self, pattern: Any) -> list[str]:
        return []

    def cat(self, start: int | None = None, end: int | None = None) -> list[str]:
        return []

    def byte_length(self) -> int:
        return 0

    def line_count(self) -> int:
        return 0

    def estimate_tokens(self, encoding: str) -> int:
        return 0


class NotQuiteArtifact(Artifact):
    grep = None  # type: ignore[assignment]


class Media:  # stands in for adk.Media (matched by class name)
    pass


def make(**kw: Any) -> ToolCall:
    base: dict[str, Any] = {
        "id": "call_1",
        "tool": "search",
        "args": {"q": "x", "limit": 5},
        "checksum": "df6c45f6694661b70e197a01622917a96a706f1ca0c096406743870481cea06b",
        "is_complete": True,
        "is_error": False,
        "results": Tokenizable("3 hits"),
        "created_at": T0,
        "updated_at": T0,
        "completed_at": T0,
    }
    base.update(kw)
    return ToolCall(**base)


def test_happy_path_defaults():
    tc = make()
    assert tc.tool == "search"
    assert dict(tc.args) == {"q": "x", "limit": 5}
    assert tc.is_complete is True
    assert tc.is_error is False
    assert str(tc.results) == "3 hits"
    assert tc.payload is None
    assert tc.replay_compatibility is None
    assert tc.from_artifact_tool is False
    assert tc.inline is False
    assert tc.completed_at is T0


def test_checksum_matches_canonical_vector_and_is_stored_verbatim():
    tc = make()
    assert tc.checksum == tool_call_checksum("search", {"q": "x", "limit": 5})
    assert make(checksum="definitely-wrong").checksum == "definitely-wrong"


@pytest.mark.parametrize("bad", ["", None, 1, ["a"]])
@pytest.mark.parametrize("field", ["id", "tool", "checksum"])
def test_required_strings_reject(field: str, bad: object):
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(**{field: bad})
    assert info.value.fields == (field,)


# --- args ---------------------------------------------------------------------------------


def test_args_json_string_parsed():
    tc = make(args='{"q": "x", "nested": {"a": [1, 2]}}')
    assert dict(tc.args) == {"q": "x", "nested": {"a": [1, 2]}}
    assert isinstance(tc.args, MappingProxyType)


@pytest.mark.parametrize("bad", ["[1]", "null", "3", '"s"', "true", "{", "", "{'a': 1}", "NaN"])
def test_args_json_string_must_be_object(bad: str):
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(args=bad)
    assert info.value.fields == ("args",)


@pytest.mark.parametrize("bad", [None, [("a", 1)], 3, b'{"a":1}', {1: "x"}, {("t",): 1}])
def test_args_rejects_non_objects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(args=bad)
    assert info.value.fields == ("args",)


def test_args_read_only_deep_copy():
    given: dict[str, Any] = {"q": "x", "filters": {"tags": ["a"]}, "pairs": ({"k": 1},)}
    tc = make(args=given)
    given["q"] = "changed"
    given["filters"]["tags"].append("b")
    given["pairs"][0]["k"] = 2
    assert tc.args["q"] == "x"
    assert tc.args["filters"] == {"tags": ["a"]}
    assert tc.args["pairs"] == ({"k": 1},)
    with pytest.raises(TypeError):
        tc.args["q"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        del tc.args["q"]  # type: ignore[attr-defined]


def test_args_from_another_tool_call_and_any_mapping():
    class Custom(Mapping[str, Any]):
        def __getitem__(self, k: str) -> Any:
            return {"a": 1}[k]

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(["a"])

        def __len__(self) -> int:
            return 1

    first = make()
    second = make(args=first.args)
    assert dict(second.args) == dict(first.args)
    assert second.args is not first.args
    assert dict(make(args=Custom()).args) == {"a": 1}


def test_args_other_values_are_deep_copied():
    class Box:
        def __init__(self) -> None:
            self.items = [1]

    box = Box()
    tc = make(args={"box": box})
    assert tc.args["box"] is not box
    assert tc.args["box"].items == [1]


def test_args_cycle_rejected():
    cyclic: dict[str, Any] = {}
    cyclic["self"] = [cyclic]
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(args=cyclic)
    assert info.value.fields == ("args",)


# --- results ------------------------------------------------------------------------------


def test_results_kinds():
    art = Artifact()
    assert make(results=art).results is art
    media = Media()
    assert make(results=media).results is media
    arts = [Artifact(), Artifact()]
    assert make(results=arts).results == tuple(arts)
    assert make(results=(media,)).results == (media,)
    assert make(results=Tokenizable("")).results is not None


@pytest.mark.parametrize(
    "bad",
    [
        "plain text",
        "",
        [],
        (),
        [Artifact(), Media()],
        [Tokenizable("a")],
        [Artifact(), "x"],
        NotQuiteArtifact(),
        None,
        3,
        {"a": 1},
    ],
)
def test_results_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(results=bad)
    assert info.value.fields == ("results",)


def test_results_list_detached_from_input():
    items = [Media()]
    tc = make(results=items)
    items.append(Media())
    assert isinstance(tc.results, tuple)
    assert len(tc.results) == 1


# --- payload / replay_compatibility ---------------------------------------------------------


def test_payload_requires_replay_compatibility():
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(payload={"item_id": "x"})
    assert info.value.fields == ("replay_compatibility",)
    tc = make(payload={"item_id": "x"}, replay_compatibility="openai-responses")
    assert tc.payload == {"item_id": "x"}
    assert tc.replay_compatibility == "openai-responses"


def test_payload_none_accepted():
    tc = make(payload=None)
    assert tc.payload is None
    assert make(payload=None, replay_compatibility=None).replay_compatibility is None


@pytest.mark.parametrize("bad", ["", 5, ["x"]])
def test_replay_compatibility_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(payload=0, replay_compatibility=bad)
    assert info.value.fields == ("replay_compatibility",)


# --- booleans -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["is_complete", "is_error", "from_artifact_tool", "inline"])
def test_booleans(field: str):
    assert getattr(make(**{field: True}), field) is True
    assert getattr(make(**{field: "true"}), field) is True
    assert getattr(make(**{field: "false"}), field) is False
    for bad in (1, 0, "yes", [], 0.0):
        with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
            make(**{field: bad})
        assert info.value.fields == (field,)


def test_required_booleans_reject_none_optional_ones_take_it_as_absent():
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(is_complete=None, is_error=None)
    assert info.value.fields == ("is_complete", "is_error")
    tc = make(from_artifact_tool=None, inline=None)
    assert tc.from_artifact_tool is False
    assert tc.inline is False


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (T0, T0),
        (datetime(2024, 5, 1, 12), T0),
        (datetime(2024, 5, 1, 21, 0, tzinfo=timezone(timedelta(hours=9))), T0),
        ("2024-05-01T12:00:00.000Z", T0),
        (int(T0.timestamp() * 1000), T0),
        (T0.timestamp() * 1000, T0),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps(given: object, expected: datetime):
    tc = make(created_at=given, updated_at=given, completed_at=given)
    for value in (tc.created_at, tc.updated_at, tc.completed_at):
        assert value == expected
        assert value.tzinfo is UTC


def test_timestamps_reject():
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        make(created_at=float("inf"), updated_at="31/12/2024", completed_at=[T0])
    assert info.value.fields == ("created_at", "updated_at", "completed_at")


# --- whole record -------------------------------------------------------------------------


def test_missing_and_unknown_all_named():
    with pytest.raises(E_INVALID_INITIAL_TOOL_CALL_VALUE) as info:
        ToolCall(tool="", callId="x")  # type: ignore[call-arg]
    assert set(info.value.fields) == {
        "callId",
        "id",
        "tool",
        "args",
        "checksum",
        "is_complete",
        "is_error",
        "results",
        "created_at",
        "updated_at",
        "completed_at",
    }


def test_immutable_and_identity_equality():
    a, b = make(), make()
    with pytest.raises(AttributeError):
        a.args = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.inline = True  # type: ignore[misc]
    assert a != b
    assert len({a, b}) == 2


def test_from_raw_camel_case():
    tc = ToolCall.from_raw(
        {
            "id": "c",
            "tool": "t",
            "args": json.dumps({"a": 1}),
            "checksum": "abc",
            "isComplete": "true",
            "isError": True,
            "results": [Media()],
            "payload": {"p": 1},
            "replayCompatibility": "anthropic",
            "fromArtifactTool": True,
            "inline": True,
            "createdAt": "2024-05-01T12:00:00Z",
            "updatedAt": int(T0.timestamp() * 1000),
            "completedAt": T0,
        }
    )
    assert dict(tc.args) == {"a": 1}
    assert tc.is_complete is True
    assert tc.is_error is True
    assert tc.from_artifact_tool is True
    assert tc.inline is True
    assert tc.replay_compatibility == "anthropic"
    assert tc.created_at == tc.updated_at == tc.completed_at == T0


def test_to_raw_round_trip_and_isolation():
    art = Artifact()
    tc = make(args={"n": {"k": [1]}}, results=[art], payload=[1], replay_compatibility="x")
    raw = tc.to_raw()
    assert raw["args"] == {"n": {"k": [1]}}
    assert type(raw["args"]) is dict
    raw["args"]["n"]["k"].append(2)
    assert tc.args["n"] == {"k": [1]}
    assert raw["results"] == [art]
    assert raw["payload"] == [1]
    assert raw["replay_compatibility"] == "x"
    again = ToolCall.from_raw(raw)
    assert again.results == (art,)
    assert again.checksum == tc.checksum
    plain = make().to_raw()
    assert "payload" not in plain
    assert "replay_compatibility" not in plain
