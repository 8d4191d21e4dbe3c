"""Direct encoders for the records written most (``Message``, ``ToolCall``, ``Identity``).

The generic path of :mod:`adk.primitives.codec` builds each primitive's ``to_raw()``
snapshot, walks it into a tree of envelope dicts, then hands the tree to msgspec. For the
records a turn stores every iteration that walk is most of the cost of ``adk.encode``;
here each is built as msgspec Structs mirroring the envelope, so msgspec writes the
whole record in one pass (the mirrors are transient and only point at immutable
values: ``gc=False``). The bytes are the generic path's, byte for byte (a hypothesis
property in ``tests/primitives/test_codec_fast.py`` checks it); a class registered again
by the user loses its direct encoder (see ``codec._Codec.fast``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from adk.primitives.identity import Identity
from adk.primitives.message import Message
from adk.primitives.tokenizable import Tokenizable
from adk.primitives.tool_call import ToolCall

__all__ = ["fast_encoders"]


class Envelope(msgspec.Struct, gc=False):
    """``{"$adk": tag, "v": value}``."""

    tag: str = msgspec.field(name="$adk")
    v: Any


class _IdentityV(msgspec.Struct, gc=False):
    identifier: Any
    representation: Any


class _MessageV(msgspec.Struct, omit_defaults=True, gc=False):
    id: str
    role: str
    content: Any
    identity: Any
    created_at: Any
    updated_at: Any
    attachments: Any = None  # omitted when empty, as ``Message.to_raw``


class _ToolCallV(msgspec.Struct, omit_defaults=True, gc=False):
    id: str
    tool: str
    args: Any
    checksum: str
    is_complete: bool
    is_error: bool
    results: Any
    from_artifact_tool: bool
    inline: bool
    created_at: Any
    updated_at: Any
    completed_at: Any
    payload: Any = None  # omitted when None, as ``ToolCall.to_raw``
    replay_compatibility: Any = None


Enc = Callable[[Any], Any]

_DATETIME: Final = "datetime"
_TOKENIZABLE: Final = "Tokenizable"


def fast_encoders(enc: Enc, enc_dict: Callable[[Any], Any]) -> dict[type, Enc]:
    """The direct encoders, bound to the codec's generic ``_enc`` / ``_enc_dict``.

    Args:
        enc: The generic value encoder (for nested values of any other type).
        enc_dict: The generic ``dict`` encoder (escapes a ``"$adk"`` key).

    Returns:
        Class → ``(obj) -> msgspec-encodable envelope``.
    """

    def text(t: Any) -> Any:
        if type(t) is Tokenizable and t._evaluator is None:  # pyright: ignore[reportPrivateUsage]
            return Envelope(_TOKENIZABLE, t._value)  # pyright: ignore[reportPrivateUsage]
        return enc(t)

    def when(d: Any) -> Any:
        if type(d) is datetime and d.tzinfo is UTC:
            return Envelope(_DATETIME, d)
        return enc(d)

    def identity(i: Identity) -> Envelope:
        ident: Any = i.identifier
        return Envelope(
            "Identity",
            _IdentityV(ident if type(ident) is str else enc(ident), text(i.representation)),
        )

    def message(m: Message) -> Envelope:
        ident: Any = m.identity
        attachments = m.attachments
        return Envelope(
            "Message",
            _MessageV(
                m.id,
                m.role,
                text(m.content),
                identity(ident) if type(ident) is Identity else enc(ident),
                when(m.created_at),
                when(m.updated_at),
                enc(list(attachments)) if attachments else None,
            ),
        )

    def tool_call(c: ToolCall) -> Envelope:
        results: Any = c.results
        payload: Any = c.payload
        replay: Any = c.replay_compatibility
        return Envelope(
            "ToolCall",
            _ToolCallV(
                c.id,
                c.tool,
                enc_dict(c.args),
                c.checksum,
                c.is_complete,
                c.is_error,
                results if type(results) is str else enc(results),
                c.from_artifact_tool,
                c.inline,
                when(c.created_at),
                when(c.updated_at),
                when(c.completed_at),
                None if payload is None else enc(payload),
                None if replay is None else enc(replay),
            ),
        )

    return {Identity: identity, Message: message, ToolCall: tool_call}
