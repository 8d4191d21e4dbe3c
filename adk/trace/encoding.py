"""How trace values become JSON: the shared encoder of the recorder, the writer and replay.

Event payloads are msgspec Structs and are written by msgspec itself; the few values
inside them that msgspec cannot write are handed to :func:`enc_hook`: exceptions become
:class:`~adk.trace.format.ErrorInfo` objects, anything else its ``adk.encode`` tree
(written in the same pass, so it is encoded exactly once), or its ``repr`` when even
``adk.encode`` refuses it. Whole records, gate values and the header's documents go
through :func:`doc_tree` (the ``adk.encode`` tree, with the same ``repr`` fallback).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from adk.errors import AdkError
from adk.primitives.codec import encode_tree
from adk.trace.format import ErrorInfo

__all__ = ["doc_tree", "enc_hook", "line_encoder", "plain"]


def enc_hook(obj: Any) -> Any:
    """The msgspec ``enc_hook`` for trace payloads.

    Args:
        obj: A value msgspec cannot encode natively.

    Returns:
        An :class:`ErrorInfo` for an exception; otherwise the ``adk.encode`` tree of
        ``obj`` (the same JSON as ``adk.encode(obj)``); ``repr(obj)`` if ``adk.encode``
        refuses the value.
    """
    if isinstance(obj, BaseException):
        return ErrorInfo.of(obj)
    try:
        return encode_tree(obj)
    except AdkError:
        return repr(obj)


line_encoder: Final = msgspec.json.Encoder(enc_hook=enc_hook)
"""The one encoder for trace lines and payloads (thread-safe: msgspec encoders are)."""

_decoder: Final = msgspec.json.Decoder()


def doc_tree(value: object) -> Any:
    """``value`` as ``adk.encode`` would write it, as a tree for :data:`line_encoder`.

    Encoded by :data:`line_encoder` inside a line, it writes exactly ``adk.encode(value)``
    (or the JSON string ``repr(value)`` when ``adk.encode`` refuses the value), in the
    same pass as the line.

    Args:
        value: A record, gate value, prompt, instruction list or stash.

    Returns:
        A tree of JSON values, datetimes and msgspec Structs.
    """
    try:
        return encode_tree(value)
    except AdkError:
        return repr(value)


def plain(value: Any) -> Any:
    """``value`` as plain JSON data, exactly as a trace payload would hold it.

    Exceptions become ``{"type", "message", "code"}`` dicts and non-JSON values their
    ``adk.encode`` envelopes, so a live value compares equal to its recorded form.

    Args:
        value: Any payload or part of one.

    Returns:
        Plain ``dict``/``list``/``str``/number/``bool``/``None`` data.
    """
    return _decoder.decode(line_encoder.encode(value))
