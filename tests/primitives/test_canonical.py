"""Canonical JSON and the tool-call checksum (PRIMITIVES.md §9.3, §22 item 1)."""

from __future__ import annotations

import hashlib
import json
import random
from collections import OrderedDict
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adk.primitives.canonical import canonical_json, js_number, tool_call_checksum

# --- the nine vectors of PRIMITIVES.md §9.3 ------------------------------------------------

VECTORS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "search",
        {"q": "x", "limit": 5},
        '{"args":{"limit":5,"q":"x"},"tool":"search"}',
        "df6c45f6694661b70e197a01622917a96a706f1ca0c096406743870481cea06b",
    ),
    (
        "t",
        {},
        '{"args":{},"tool":"t"}',
        "a9c1b56f2d5711641e3a95a211412b31f9042cd471d093fc67e268e679fd0f45",
    ),
    (
        "get_weather",
        {"units": "metric", "city": "Paris"},
        '{"args":{"city":"Paris","units":"metric"},"tool":"get_weather"}',
        "d11642641c42492c9c547424cb56be7d5624b6b01750a0a19925a84da65a4bc8",
    ),
    (
        "artifact_head",
        {"callId": "tc_1", "n": 10},
        '{"args":{"callId":"tc_1","n":10},"tool":"artifact_head"}',
        "5e1b4f980f40da959e2a930886c3a525510e6d107057c2360050210900126a14",
    ),
    (
        "t",
        {
            "a": 1.0,
            "b": 1.5,
            "c": 1e21,
            "d": 1e-7,
            "e": -0.0,
            "f": 123456789012345680000,
            "g": 0.000001,
        },
        '{"args":{"a":1,"b":1.5,"c":1e+21,"d":1e-7,"e":0,"f":123456789012345680000,'
        '"g":0.000001},"tool":"t"}',
        "602001b51b6a9215df3365cdb456fe3b3ab8a589407635ad72f6ebb7b788915a",
    ),
    (
        "t",
        {"nested": {"z": [3, {"y": None, "x": True}], "a": False}},
        '{"args":{"nested":{"a":false,"z":[3,{"x":true,"y":null}]}},"tool":"t"}',
        "999ad3a783130e6fc84859d90f785395254423dd11cca8c51ed72c6afbee229d",
    ),
    (
        "t",
        {"B": 1, "a": 2, "\U0001f600": 3, "\uff5e": 4, "10": 5, "9": 6},
        '{"args":{"10":5,"9":6,"B":1,"a":2,"\U0001f600":3,"\uff5e":4},"tool":"t"}',
        "d695ea970d3554cd08224e920c602b5e6e5f6f1f1892570dcf11361f7bc30384",
    ),
    (
        "x",
        {"list": [{"b": 2, "a": 1}, "s", None, True, 2.5]},
        '{"args":{"list":[{"a":1,"b":2},"s",null,true,2.5]},"tool":"x"}',
        "e2ff65842a0a60bce590b4105ac102fc6f43e15a30e34d26d45de5f9d6e91ca1",
    ),
    (
        "t",
        {"s": 'héllo 😀 "q" \\ \n\t\x01 \u2028'},
        '{"args":{"s":"héllo 😀 \\"q\\" \\\\ \\n\\t\\u0001 \u2028"},"tool":"t"}',
        "7ce9e40d12cc4c08d157f774fc9237bfcc6a897c1123abe1065fb050784cd537",
    ),
]


@pytest.mark.parametrize(("tool", "args", "text", "digest"), VECTORS)
def test_vectors(tool: str, args: dict[str, Any], text: str, digest: str) -> None:
    assert canonical_json({"tool": tool, "args": args}) == text
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == digest
    assert tool_call_checksum(tool, args) == digest


@pytest.mark.parametrize(("tool", "args", "text", "digest"), VECTORS)
def test_vectors_independent_of_key_order(
    tool: str, args: dict[str, Any], text: str, digest: str
) -> None:
    reversed_args = dict(reversed(list(args.items())))
    assert tool_call_checksum(tool, reversed_args) == digest
    assert canonical_json({"args": reversed_args, "tool": tool}) == text


def test_checksum_is_lowercase_hex() -> None:
    digest = tool_call_checksum("search", {"q": "x"})
    assert len(digest) == 64
    assert digest == digest.lower()
    int(digest, 16)


def test_checksum_accepts_any_mapping() -> None:
    expected = VECTORS[0][3]
    assert tool_call_checksum("search", MappingProxyType({"q": "x", "limit": 5})) == expected
    assert tool_call_checksum("search", OrderedDict([("limit", 5), ("q", "x")])) == expected


# --- JS number formatting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-0.0, "0"),
        (0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (100.0, "100"),
        (1.5, "1.5"),
        (-2.5, "-2.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000, "123456789012345680000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (0.0000015, "0.0000015"),
        (1e16, "10000000000000000"),
        (12345.678, "12345.678"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-1e-7, "-1e-7"),
        (2**53, "9007199254740992"),
        (2**53 + 1, "9007199254740992"),  # JS has no such integer: it rounds to a double
        (2**60, "1152921504606847000"),
        (-(2**60), "-1152921504606847000"),
        (10**21, "1e+21"),
        (float("nan"), "null"),
        (float("inf"), "null"),
        (float("-inf"), "null"),
        (10**400, "null"),  # beyond a double: JSON.parse gives Infinity
        (-(10**400), "null"),
    ],
)
def test_js_number(value: float, text: str) -> None:
    assert js_number(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([1, "a", None], '[1,"a",null]'),
        ((1, 2), "[1,2]"),
        ({"k": [1.0, {"b": 1, "a": 2}]}, '{"k":[1,{"a":2,"b":1}]}'),
        ("\x7f\u2029", '"\x7f\u2029"'),
        ("\b\f\r\x1f", '"\\b\\f\\r\\u001f"'),
        ("\ud800", '"\\ud800"'),  # lone surrogate, lowercase hex
        ("\udfff x", '"\\udfff x"'),
        ({"\ud83d": 1}, '{"\\ud83d":1}'),
        # toJSON is not honoured: a class instance (here a datetime) becomes {}.
        ({"d": datetime(2024, 1, 1, tzinfo=UTC)}, '{"d":{}}'),
    ],
)
def test_canonical_leaves(value: Any, text: str) -> None:
    assert canonical_json(value) == text


def test_bool_is_not_a_number() -> None:
    assert canonical_json({"a": True, "b": 1}) == '{"a":true,"b":1}'


def test_keys_sorted_by_utf16_code_units() -> None:
    # U+FF5E is above the surrogates used by U+1F600 in UTF-16 but below it in code points.
    keys = ["\uff5e", "\U0001f600", "z", "\u00e9", "A"]
    text = canonical_json(dict.fromkeys(keys, 0))
    assert text == '{"A":0,"z":0,"\u00e9":0,"\U0001f600":0,"\uff5e":0}'


def test_no_whitespace_and_literal_non_ascii() -> None:
    text = canonical_json({"a b": ["ü", {"ñ": "日本"}]})
    assert text == '{"a b":["ü",{"ñ":"日本"}]}'


# --- properties -----------------------------------------------------------------------------

_SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
_leaves = st.none() | st.booleans() | _SAFE_INT | st.floats(allow_nan=False, allow_infinity=False)
_leaves = _leaves | st.text()
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=25,
)


def _shuffled(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, dict):
        items = [(k, _shuffled(v, rnd)) for k, v in value.items()]  # pyright: ignore[reportUnknownVariableType]
        rnd.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _utf16(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), _json, max_size=6), st.randoms(use_true_random=False))
def test_checksum_invariant_under_key_order(args: dict[str, Any], rnd: random.Random) -> None:
    assert tool_call_checksum("tool", _shuffled(args, rnd)) == tool_call_checksum("tool", args)
    assert canonical_json(_shuffled(args, rnd)) == canonical_json(args)


def _no_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return all(_no_surrogates(k) and _no_surrogates(v) for k, v in value.items())  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return all(_no_surrogates(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return True


def _as_doubles(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return [_as_doubles(v) for v in value]  # pyright: ignore[reportUnknownVariableType, reportGeneralTypeIssues]


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return any(_has_float(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return False


@settings(max_examples=200, deadline=None)
@given(_json)
def test_canonical_json_parses_back(value: Any) -> None:
    text = canonical_json(value)
    # JS has one number type: compare numbers as doubles (a big float prints as an integer).
    assert _as_doubles(json.loads(text)) == _as_doubles(value)
    if not isinstance(value, float):
        assert json.loads(text) == value or _has_float(value)
    # Canonical text is a fixed point: re-canonicalising the parsed value changes nothing.
    assert canonical_json(json.loads(text)) == text
    if _no_surrogates(value):
        text.encode("utf-8")  # strict UTF-8 encodable


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), st.integers(0, 9), min_size=2, max_size=8))
def test_keys_sorted_property(obj: dict[str, int]) -> None:
    parsed: dict[str, int] = json.loads(canonical_json(obj))
    keys = list(parsed)
    assert keys == sorted(obj, key=_utf16)
    assert parsed == obj


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_round_trips(x: float) -> None:
    text = js_number(x)
    assert float(text) == x
    assert "e" not in text or ("e+" in text or "e-" in text)
    assert not text.endswith(".0")


# --- the stdlib fast path must agree with the reference encoder --------------------------

_plain_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def _reference(value: object) -> str:
    from adk.primitives.canonical import _canonical

    out: list[str] = []
    _canonical(value, out)
    return "".join(out)


@given(_plain_json)
def test_fast_path_matches_reference_encoder(value: object) -> None:
    assert canonical_json(value) == _reference(value)


@given(st.dictionaries(st.text(max_size=6), _plain_json, max_size=4), st.text(min_size=1))
def test_checksum_fast_path_matches_reference_encoder(args: dict[str, object], tool: str) -> None:
    import hashlib

    text = '{"args":' + _reference(args) + ',"tool":' + _reference(tool) + "}"
    expected = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    assert tool_call_checksum(tool, args) == expected
