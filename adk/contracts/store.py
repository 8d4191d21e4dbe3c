"""The ``ContextStore`` protocol: where a turn's records are persisted (PORT.md §7.6).

One object carries the ADK's 27 persistence callbacks as methods, so a real database plugs
in as one value. Every method receives the context first (the ``TurnContext`` for turns
and dispatches inside a turn, the ``DispatchContext`` for a standalone dispatch) and may be
synchronous or ``async``. Persistence is immediate: the runners call these from inside the
mutation (RUNNERS.md §2.7). Source: ``src/lib/contracts/turn_runner_config.ts``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from adk.primitives.memory import Memory
    from adk.primitives.message import Message
    from adk.primitives.retrievable import Retrievable
    from adk.primitives.thought import Thought
    from adk.primitives.tokenizable import Tokenizable
    from adk.primitives.tool import Tool
    from adk.primitives.tool_call import ToolCall

__all__ = ["STORE_METHODS", "ConduitBytes", "ContextStore", "MaybeAwaitable"]

T = TypeVar("T")
MaybeAwaitable = T | Awaitable[T]
ConduitBytes = str | bytes | AsyncIterable[bytes]
"""Bytes handed to a conduit: text (UTF-8), raw bytes, or an async byte stream."""


@runtime_checkable
class ContextStore(Protocol):
    """Persistence for the records of turns and dispatches (27 methods).

    ``fetch_*`` return the stored records (any sequence); ``store_*``/``mutate_*`` receive
    the record, ``delete_*`` its id (standing instructions: the value itself);
    ``store_media_bytes``/``store_retrievable_bytes`` persist bytes and return a reader.
    Every method may be sync or async. An exception propagates unchanged to the caller
    (PORT.md §9.14).
    """

    def refresh_standing_instructions(
        self, ctx: Any
    ) -> MaybeAwaitable[Sequence[str | Tokenizable]]:
        """The standing instructions to use (does not touch the context's set)."""
        ...

    def store_standing_instruction(
        self, ctx: Any, value: str | Tokenizable
    ) -> MaybeAwaitable[None]:
        """Persist a standing instruction."""
        ...

    def mutate_standing_instruction(
        self, ctx: Any, value: str | Tokenizable
    ) -> MaybeAwaitable[None]:
        """Persist a changed standing instruction."""
        ...

    def delete_standing_instruction(
        self, ctx: Any, value: str | Tokenizable
    ) -> MaybeAwaitable[None]:
        """Remove a standing instruction (by value; PORT.md §7.4)."""
        ...

    def fetch_tools(self, ctx: Any) -> MaybeAwaitable[Sequence[Tool]]:
        """The tools to offer (the runner never calls this on its own)."""
        ...

    def fetch_memories(self, ctx: Any) -> MaybeAwaitable[Sequence[Memory]]:
        """Every stored Memory of the context's conversation, oldest first."""
        ...

    def store_memory(self, ctx: Any, value: Memory) -> MaybeAwaitable[None]:
        """Persist a new Memory."""
        ...

    def mutate_memory(self, ctx: Any, value: Memory) -> MaybeAwaitable[None]:
        """Replace the stored Memory with ``value.id`` (insert it if unknown)."""
        ...

    def delete_memory(self, ctx: Any, id: str) -> MaybeAwaitable[None]:
        """Remove the first stored Memory with this id (no error if none)."""
        ...

    def fetch_retrievables(self, ctx: Any) -> MaybeAwaitable[Sequence[Retrievable]]:
        """Every stored Retrievable of the context's conversation, oldest first."""
        ...

    def store_retrievable(self, ctx: Any, value: Retrievable) -> MaybeAwaitable[None]:
        """Persist a new Retrievable."""
        ...

    def mutate_retrievable(self, ctx: Any, value: Retrievable) -> MaybeAwaitable[None]:
        """Replace the stored Retrievable with ``value.id`` (insert it if unknown)."""
        ...

    def delete_retrievable(self, ctx: Any, id: str) -> MaybeAwaitable[None]:
        """Remove the first stored Retrievable with this id (no error if none)."""
        ...

    def fetch_messages(self, ctx: Any) -> MaybeAwaitable[Sequence[Message]]:
        """Every stored Message of the context's conversation, oldest first."""
        ...

    def store_message(self, ctx: Any, value: Message) -> MaybeAwaitable[None]:
        """Persist a new Message."""
        ...

    def mutate_message(self, ctx: Any, value: Message) -> MaybeAwaitable[None]:
        """Replace the stored Message with ``value.id`` (insert it if unknown)."""
        ...

    def delete_message(self, ctx: Any, id: str) -> MaybeAwaitable[None]:
        """Remove the first stored Message with this id (no error if none)."""
        ...

    def fetch_thoughts(self, ctx: Any) -> MaybeAwaitable[Sequence[Thought]]:
        """Every stored Thought of the context's conversation, oldest first."""
        ...

    def store_thought(self, ctx: Any, value: Thought) -> MaybeAwaitable[None]:
        """Persist a new Thought."""
        ...

    def mutate_thought(self, ctx: Any, value: Thought) -> MaybeAwaitable[None]:
        """Replace the stored Thought with ``value.id`` (insert it if unknown)."""
        ...

    def delete_thought(self, ctx: Any, id: str) -> MaybeAwaitable[None]:
        """Remove the first stored Thought with this id (no error if none)."""
        ...

    def fetch_tool_calls(self, ctx: Any) -> MaybeAwaitable[Sequence[ToolCall]]:
        """Every stored ToolCall of the context's conversation, oldest first."""
        ...

    def store_tool_call(self, ctx: Any, value: ToolCall) -> MaybeAwaitable[None]:
        """Persist a new ToolCall."""
        ...

    def mutate_tool_call(self, ctx: Any, value: ToolCall) -> MaybeAwaitable[None]:
        """Replace the stored ToolCall with ``value.id`` (insert it if unknown)."""
        ...

    def delete_tool_call(self, ctx: Any, id: str) -> MaybeAwaitable[None]:
        """Remove the first stored ToolCall with this id (no error if none)."""
        ...

    def store_media_bytes(self, ctx: Any, id: str, data: ConduitBytes) -> MaybeAwaitable[Any]:
        """Persist media bytes under ``id`` and return a ``MediaReader`` over them."""
        ...

    def store_retrievable_bytes(self, ctx: Any, id: str, data: ConduitBytes) -> MaybeAwaitable[Any]:
        """Persist retrievable text under ``id`` and return a ``SpoolReader`` over it."""
        ...


STORE_METHODS: tuple[str, ...] = (
    "fetch_memories",
    "fetch_retrievables",
    "fetch_messages",
    "fetch_thoughts",
    "fetch_tool_calls",
    "fetch_tools",
    "refresh_standing_instructions",
    "store_standing_instruction",
    "mutate_standing_instruction",
    "delete_standing_instruction",
    "store_memory",
    "mutate_memory",
    "delete_memory",
    "store_retrievable",
    "mutate_retrievable",
    "delete_retrievable",
    "store_message",
    "mutate_message",
    "delete_message",
    "store_thought",
    "mutate_thought",
    "delete_thought",
    "store_tool_call",
    "mutate_tool_call",
    "delete_tool_call",
    "store_media_bytes",
    "store_retrievable_bytes",
)
"""The 27 persistence operations, by their snake_case names (RUNNERS.md §2.1)."""
