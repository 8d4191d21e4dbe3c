"""Canonical JSON and the tool-call checksum, byte-identical to the ADK.

Source: ``src/lib/utils/canonical_json.ts`` and ``Tool.executor`` of @nhtio/adk
(PRIMITIVES.md §9.3). The checksum is the cross-bus join key
(``tool_call.checksum == tool_execution_*.call_id``) and the key of
``DispatchContext.tool_call_count``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

__all__ = ["canonical_json", "js_number", "tool_call_checksum"]

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
for _i in range(0x20):
    _ESCAPES.setdefault(chr(_i), f"\\u{_i:04x}")
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')
_FLOAT_RE = re.compile(r"(\d+)(?:\.(\d+))?(?:e([+-]\d+))?")


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    esc = _ESCAPES.get(ch)
    return esc if esc is not None else f"\\u{ord(ch):04x}"  # lone surrogate


def _string(s: str) -> str:
    if _NEEDS_ESCAPE.search(s) is None:
        return f'"{s}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


def js_number(x: float) -> str:
    """Format a number exactly as JavaScript's ``Number.prototype.toString`` does.

    Integers print without ``.0``; shortest round-trip digits; plain notation while the
    decimal exponent is in ``(-7, 21]``, otherwise ``d[.ddd]e±n``; ``-0`` prints ``0``;
    NaN and infinities print ``null`` (as ``JSON.stringify`` does).

    Args:
        x: An ``int`` or ``float``.

    Returns:
        The JavaScript text of the number.
    """
    if type(x) is int and -(2**53) < x < 2**53:
        return str(x)
    try:
        f = float(x)
    except OverflowError:  # an int beyond a double: JSON.parse would give ±Infinity
        return "null"
    if f != f or f in (float("inf"), float("-inf")):
        return "null"
    if f == 0:
        return "0"
    sign = "-" if f < 0 else ""
    m = _FLOAT_RE.fullmatch(repr(abs(f)))
    assert m is not None
    ip, fp, ex = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    n = len(ip) + ex if ip != "0" else ex - (len(fp) - len(fp.lstrip("0")))
    digits = (ip + fp).lstrip("0").rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * -n + digits
    else:
        e = n - 1
        s = (
            digits[0]
            + ("." + digits[1:] if k > 1 else "")
            + "e"
            + ("+" if e >= 0 else "-")
            + str(abs(e))
        )
    return sign + s


def _canonical(value: Any, out: list[str]) -> None:
    t = value.__class__  # (no typing.cast on hot paths: it is a runtime call)
    if t is str:
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif t is int or t is float:
        out.append(js_number(value))
    elif isinstance(value, Mapping):
        mapping: Mapping[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        items = [
            (k if type(k) is str else _key_text(k), v)
            for k, v in mapping.items()  # pyright: ignore[reportUnknownVariableType]
        ]
        if len(items) > 1:
            if all(k.isascii() for k, _ in items):
                items.sort(key=_first)
            else:
                items.sort(key=_utf16_first)
        out.append("{")
        first = True
        for k, v in items:
            if not first:
                out.append(",")
            first = False
            out.append(_string(k))
            out.append(":")
            _canonical(v, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        seq: Sequence[Any] = value  # pyright: ignore[reportUnknownVariableType]
        out.append("[")
        for i, item in enumerate(seq):
            if i:
                out.append(",")
            _canonical(item, out)
        out.append("]")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        out.append(js_number(value))
    elif isinstance(value, str):
        out.append(_string(str(value)))
    else:
        # The ADK does not honour toJSON(): a class instance serialises as its own
        # enumerable properties, which for a Date (and most objects) is ``{}``.
        out.append("{}")


def _key_text(k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int | float):
        return js_number(k)
    return str(k)


def _first(item: tuple[str, Any]) -> str:
    return item[0]


def _utf16_first(item: tuple[str, Any]) -> bytes:
    return item[0].encode("utf-16-be", "surrogatepass")


def canonical_json(value: Any) -> str:
    r"""Serialise ``value`` as the ADK's canonical JSON (``canonicalStringify``).

    Object keys are sorted by UTF-16 code units, no whitespace, non-ASCII kept literal,
    control characters and lone surrogates escaped as ``\\u00xx``, numbers formatted as
    JavaScript does (:func:`js_number`). Mappings become objects, other sequences arrays;
    any other object becomes ``{}`` (the ADK ignores ``toJSON``).

    Args:
        value: JSON-like data (``dict``/``list``/``str``/``int``/``float``/``bool``/``None``).

    Returns:
        The canonical text.
    """
    if _plain(value):
        return _encode_sorted(value).decode()
    out: list[str] = []
    _canonical(value, out)
    return "".join(out)


_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_SAFE = 2**53
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def _plain_leaf(value: Any, t: type[Any]) -> bool:
    if t is str:
        return value.isascii() or _SURROGATE.search(value) is None
    if t is int:
        return -_MAX_SAFE < value < _MAX_SAFE
    return value is None or t is bool


def _plain(value: Any) -> bool:
    """Whether msgspec's sorted JSON encoder already writes ``value`` canonically.

    True for str (no lone surrogates), safe ints, bool, None, and dicts with ASCII keys
    (where code-point order equals UTF-16 order) and lists of those; floats never (their
    text differs from JavaScript's). Checked by a property test against the reference.
    """
    t = value.__class__
    if t is dict:
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                return False
            tv = v.__class__
            if tv is dict or tv is list:
                if not _plain(v):
                    return False
            elif not _plain_leaf(v, tv):
                return False
        return True
    if t is list:
        return all(_plain(v) for v in value)
    return _plain_leaf(value, t)


def tool_call_checksum(tool: str, args: Any) -> str:
    """The ADK checksum of a tool call: ``sha256(canonical_json({"tool", "args"}))``.

    Used as ``ToolCall.checksum``, as the ``call_id`` of tool execution events, and as the
    key of ``DispatchContext.tool_call_count``. ``args`` are the raw, pre-validation
    arguments.

    Args:
        tool: The tool's name.
        args: The raw arguments (normally a mapping; any JSON-like value is accepted, as
            the ADK hashes whatever the producer reported).

    Returns:
        64 lowercase hexadecimal characters.
    """
    if _plain(args) and _plain(tool):
        data = b'{"args":' + _encode_sorted(args) + b',"tool":' + _encode_sorted(tool) + b"}"
        return hashlib.sha256(data).hexdigest()
    out = ['{"args":']
    _canonical(args, out)
    out.append(',"tool":')
    out.append(_string(tool))
    out.append("}")
    return hashlib.sha256("".join(out).encode("utf-8", "surrogatepass")).hexdigest()
