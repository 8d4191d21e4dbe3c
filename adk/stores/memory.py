"""``InMemoryStore``: the default ``ContextStore`` (process memory, no persistence).

Records are kept per conversation. The conversation of a context is
``ctx.stash.get("conversation_id")`` (any string), or ``"default"`` when the stash has none;
pass ``conversation_key=`` to choose differently. Turns of different conversations never
see each other's records; concurrent turns of one conversation share its history, as they
would in a database.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from adk.primitives.registry import Registry

if TYPE_CHECKING:
    from adk.contracts.store import ConduitBytes
    from adk.primitives.memory import Memory
    from adk.primitives.message import Message
    from adk.primitives.retrievable import Retrievable
    from adk.primitives.thought import Thought
    from adk.primitives.tokenizable import Tokenizable
    from adk.primitives.tool import Tool
    from adk.primitives.tool_call import ToolCall

__all__ = ["InMemoryStore", "MemoryMediaReader", "MemorySpoolReader"]


@dataclass(slots=True)
class _Conversation:
    standing_instructions: list[Any] = field(default_factory=lambda: [])
    memories: list[Any] = field(default_factory=lambda: [])
    retrievables: list[Any] = field(default_factory=lambda: [])
    messages: list[Any] = field(default_factory=lambda: [])
    thoughts: list[Any] = field(default_factory=lambda: [])
    tool_calls: list[Any] = field(default_factory=lambda: [])
    media: dict[str, bytes] = field(default_factory=lambda: {})
    spools: dict[str, bytes] = field(default_factory=lambda: {})


def _default_key(ctx: Any) -> str:
    stash = getattr(ctx, "stash", None)
    if stash is not None:
        # A Registry's values are read without the defensive copy: a str is immutable.
        key: Any = (
            stash._data.get("conversation_id")
            if type(stash) is Registry
            else stash.get("conversation_id")
        )
        if isinstance(key, str) and key:
            return key
    return "default"


def _mutate(items: list[Any], value: Any) -> None:
    vid = value.id
    first = -1
    kept: list[Any] = []
    for item in items:
        if item.id == vid:
            if first < 0:
                first = len(kept)
                kept.append(value)
        else:
            kept.append(item)
    if first < 0:
        kept.append(value)
    items[:] = kept


def _delete(items: list[Any], id: str) -> None:
    for i, item in enumerate(items):
        if item.id == id:
            del items[i]
            return


async def _collect(given: ConduitBytes) -> bytes:
    data = cast(object, given)
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(cast("bytes", data))
    if isinstance(data, AsyncIterable):
        chunks = [bytes(c) async for c in cast("AsyncIterable[bytes]", data)]
        return b"".join(chunks)
    raise TypeError(f"conduit bytes must be str, bytes or an async byte stream, not {type(data)}")


def _split_lines(text: str) -> list[str]:
    """Split at LF (a CR before it is dropped); a final newline adds no line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


class MemoryMediaReader:
    """A replayable ``MediaReader`` over bytes held in memory.

    Args:
        data: The bytes.
    """

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def stream(self) -> AsyncIterator[bytes]:
        """A fresh stream yielding the whole buffer as one chunk."""
        yield self._data

    def byte_length(self) -> int:
        """The size in bytes."""
        return len(self._data)


class MemorySpoolReader:
    """A line-indexed ``SpoolReader`` over UTF-8 text held in memory.

    Args:
        data: The bytes (decoded as UTF-8, invalid sequences replaced).
    """

    __slots__ = ("_data", "_lines", "_text")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._text = data.decode("utf-8", "replace")
        self._lines = _split_lines(self._text)

    def line(self, index: int) -> str | None:
        """Line ``index`` (0-based) without its newline, or ``None`` when out of range."""
        if 0 <= index < len(self._lines):
            return self._lines[index]
        return None

    def byte_length(self) -> int:
        """The size in bytes."""
        return len(self._data)

    def line_count(self) -> int:
        """The number of lines."""
        return len(self._lines)

    def read_all(self) -> str:
        """The whole text, byte-faithful (a trailing newline and CRLF endings are kept)."""
        return self._text


class InMemoryStore:
    """A ``ContextStore`` keeping every record in process memory.

    Args:
        conversation_key: ``(ctx) -> str`` naming the conversation a context belongs to;
            ``None`` uses ``ctx.stash.get("conversation_id")`` or ``"default"``.
    """

    def __init__(self, *, conversation_key: Callable[[Any], str] | None = None) -> None:
        self._key = conversation_key or _default_key
        self._conversations: dict[str, _Conversation] = {}

    def _conv(self, ctx: Any) -> _Conversation:
        """The records of ``ctx``'s conversation (created on first use)."""
        key = self._key(ctx)
        conv = self._conversations.get(key)
        if conv is None:
            conv = self._conversations[key] = _Conversation()
        return conv

    # -- fetch ------------------------------------------------------------------------
    def refresh_standing_instructions(self, ctx: Any) -> list[str | Tokenizable]:
        """The stored standing instructions, oldest first."""
        return list(self._conv(ctx).standing_instructions)

    def fetch_tools(self, ctx: Any) -> list[Tool]:
        """Always empty: tools are configuration, not records."""
        return []

    def fetch_memories(self, ctx: Any) -> list[Memory]:
        """The stored memories, oldest first."""
        return list(self._conv(ctx).memories)

    def fetch_retrievables(self, ctx: Any) -> list[Retrievable]:
        """The stored retrievables, oldest first."""
        return list(self._conv(ctx).retrievables)

    def fetch_messages(self, ctx: Any) -> list[Message]:
        """The stored messages, oldest first."""
        return list(self._conv(ctx).messages)

    def fetch_thoughts(self, ctx: Any) -> list[Thought]:
        """The stored thoughts, oldest first."""
        return list(self._conv(ctx).thoughts)

    def fetch_tool_calls(self, ctx: Any) -> list[ToolCall]:
        """The stored tool calls, oldest first."""
        return list(self._conv(ctx).tool_calls)

    # -- standing instructions (compared by text, PORT.md §7.4) -------------------------
    def store_standing_instruction(self, ctx: Any, value: str | Tokenizable) -> None:
        """Append a standing instruction."""
        self._conv(ctx).standing_instructions.append(value)

    def mutate_standing_instruction(self, ctx: Any, value: str | Tokenizable) -> None:
        """Append the instruction unless one with the same text is stored."""
        items = self._conv(ctx).standing_instructions
        if all(str(v) != str(value) for v in items):
            items.append(value)

    def delete_standing_instruction(self, ctx: Any, value: str | Tokenizable) -> None:
        """Remove the first instruction with the same text."""
        items = self._conv(ctx).standing_instructions
        for i, v in enumerate(items):
            if v is value or str(v) == str(value):
                del items[i]
                return

    # -- records ----------------------------------------------------------------------
    def store_memory(self, ctx: Any, value: Memory) -> None:
        """Append a memory."""
        self._conv(ctx).memories.append(value)

    def mutate_memory(self, ctx: Any, value: Memory) -> None:
        """Replace every memory with ``value.id`` (at the first one's place) or append."""
        _mutate(self._conv(ctx).memories, value)

    def delete_memory(self, ctx: Any, id: str) -> None:
        """Remove the first memory with this id."""
        _delete(self._conv(ctx).memories, id)

    def store_retrievable(self, ctx: Any, value: Retrievable) -> None:
        """Append a retrievable."""
        self._conv(ctx).retrievables.append(value)

    def mutate_retrievable(self, ctx: Any, value: Retrievable) -> None:
        """Replace every retrievable with ``value.id`` (at the first one's place) or append."""
        _mutate(self._conv(ctx).retrievables, value)

    def delete_retrievable(self, ctx: Any, id: str) -> None:
        """Remove the first retrievable with this id."""
        _delete(self._conv(ctx).retrievables, id)

    def store_message(self, ctx: Any, value: Message) -> None:
        """Append a message."""
        self._conv(ctx).messages.append(value)

    def mutate_message(self, ctx: Any, value: Message) -> None:
        """Replace every message with ``value.id`` (at the first one's place) or append."""
        _mutate(self._conv(ctx).messages, value)

    def delete_message(self, ctx: Any, id: str) -> None:
        """Remove the first message with this id."""
        _delete(self._conv(ctx).messages, id)

    def store_thought(self, ctx: Any, value: Thought) -> None:
        """Append a thought."""
        self._conv(ctx).thoughts.append(value)

    def mutate_thought(self, ctx: Any, value: Thought) -> None:
        """Replace every thought with ``value.id`` (at the first one's place) or append."""
        _mutate(self._conv(ctx).thoughts, value)

    def delete_thought(self, ctx: Any, id: str) -> None:
        """Remove the first thought with this id."""
        _delete(self._conv(ctx).thoughts, id)

    def store_tool_call(self, ctx: Any, value: ToolCall) -> None:
        """Append a tool call."""
        self._conv(ctx).tool_calls.append(value)

    def mutate_tool_call(self, ctx: Any, value: ToolCall) -> None:
        """Replace every tool call with ``value.id`` (at the first one's place) or append."""
        _mutate(self._conv(ctx).tool_calls, value)

    def delete_tool_call(self, ctx: Any, id: str) -> None:
        """Remove the first tool call with this id."""
        _delete(self._conv(ctx).tool_calls, id)

    # -- byte conduits ------------------------------------------------------------------
    async def store_media_bytes(self, ctx: Any, id: str, data: ConduitBytes) -> MemoryMediaReader:
        """Keep media bytes under ``id`` (replacing any) and return a reader over them."""
        raw = await _collect(data)
        self._conv(ctx).media[id] = raw
        return MemoryMediaReader(raw)

    async def store_retrievable_bytes(
        self, ctx: Any, id: str, data: ConduitBytes
    ) -> MemorySpoolReader:
        """Keep retrievable text under ``id`` (replacing any) and return a reader."""
        raw = await _collect(data)
        self._conv(ctx).spools[id] = raw
        return MemorySpoolReader(raw)
