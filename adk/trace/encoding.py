"""How trace values become JSON: the shared encoder of the recorder, the writer and replay.

Event payloads are msgspec Structs and are written by msgspec itself; the few values
inside them that msgspec cannot write are handed to :func:`enc_hook`: exceptions become
:class:`~adk.trace.format.ErrorInfo` objects, anything else its ``adk.encode`` envelope
(spliced in as raw JSON, so it is encoded exactly once), or its ``repr`` when even
``adk.encode`` refuses it. Whole records, gate values and the header's documents go
through :func:`encode_doc` (``adk.encode``, with the same ``repr`` fallback).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from adk.errors import AdkError
from adk.primitives.codec import encode
from adk.trace.format import ErrorInfo

__all__ = ["enc_hook", "encode_doc", "line_encoder", "plain"]


def enc_hook(obj: Any) -> Any:
    """The msgspec ``enc_hook`` for trace payloads.

    Args:
        obj: A value msgspec cannot encode natively.

    Returns:
        An :class:`ErrorInfo` for an exception; otherwise ``adk.encode(obj)`` as
        ``msgspec.Raw``; ``repr(obj)`` if ``adk.encode`` refuses the value.
    """
    if isinstance(obj, BaseException):
        return ErrorInfo.of(obj)
    try:
        return msgspec.Raw(encode(obj))
    except AdkError:
        return repr(obj)


line_encoder: Final = msgspec.json.Encoder(enc_hook=enc_hook)
"""The one encoder for trace lines and payloads (thread-safe: msgspec encoders are)."""

_decoder: Final = msgspec.json.Decoder()


def encode_doc(value: object) -> msgspec.Raw:
    """``adk.encode(value)`` as an embeddable JSON fragment (``repr`` if it is refused).

    Args:
        value: A record, gate value, prompt, instruction list or stash.

    Returns:
        The JSON fragment.
    """
    try:
        return msgspec.Raw(encode(value))
    except AdkError:
        return msgspec.Raw(line_encoder.encode(repr(value)))


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
