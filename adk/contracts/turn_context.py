"""``TurnContext``: what turn middleware see (RUNNERS.md §2.6).

Source: ``src/lib/contracts/turn_runner_context.ts`` of @nhtio/adk. Built only by
:class:`adk.runners.TurnRunner`, once per ``run()``. Its record sets start empty (hydrating
them is the application's job: call ``fetch_*`` and add the results); its
``store_*``/``mutate_*``/``delete_*`` methods only call the persistence layer. The sets
change through the user's own middleware and through the dispatch's flush.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from adk.contracts.record_set import RecordSet
from adk.primitives.ids import new_id
from adk.primitives.tokenizable import Tokenizable

if TYPE_CHECKING:
    from adk.contracts.dispatch_context import Ops
    from adk.contracts.events import (
        ToolExecutionEnd,
        ToolExecutionStart,
        TurnStreamableContent,
        TurnToolCallContent,
    )
    from adk.contracts.store import ConduitBytes
    from adk.primitives.memory import Memory
    from adk.primitives.message import Message
    from adk.primitives.registry import Registry
    from adk.primitives.retrievable import Retrievable
    from adk.primitives.thought import Thought
    from adk.primitives.tool_call import ToolCall
    from adk.primitives.tool_registry import ToolRegistry
    from adk.runners.abort import AbortController, AbortSignal

__all__ = ["TurnContext", "TurnEmitter"]


class TurnEmitter:
    """The runner side of a TurnContext's ``emit_*`` calls (one per run)."""

    __slots__ = ()

    def functional(self, name: str, payload: Any) -> None:
        """Emit on the functional bus (``message``, ``thought``, ``tool_call``)."""

    def observe(self, name: str, payload: Any) -> None:
        """Emit on the observability bus."""


async def _await(result: Any) -> Any:
    if inspect.isawaitable(result):
        return await result
    return result


class TurnContext:
    """The state and capabilities of one turn (RUNNERS.md §2.6).

    Attributes:
        id: UUIDv6 generated at construction.
        stash: A :class:`Registry` seeded with a deep copy of ``run(stash=...)``.
        system_prompt: The system prompt (a ``str`` is wrapped).
        tools: This turn's :class:`ToolRegistry` (fresh per run from the runner's tools).
    """

    __adk_turn_context__: Final = True

    __slots__ = (
        "__weakref__",
        "_controller",
        "_emitter",
        "_ops",
        "_standing_instructions",
        "_wait_for",
        "id",
        "stash",
        "system_prompt",
        "tools",
        "turn_memories",
        "turn_messages",
        "turn_retrievables",
        "turn_thoughts",
        "turn_tool_calls",
    )

    turn_memories: RecordSet[Memory]
    """Memories of this turn (empty at the start)."""
    turn_retrievables: RecordSet[Retrievable]
    """Retrievables of this turn (empty at the start)."""
    turn_messages: RecordSet[Message]
    """Messages of this turn (empty at the start; hydrate them from ``fetch_messages``)."""
    turn_thoughts: RecordSet[Thought]
    """Thoughts of this turn (empty at the start)."""
    turn_tool_calls: RecordSet[ToolCall]
    """Tool calls of this turn (empty at the start)."""

    def __init__(
        self,
        *,
        controller: AbortController,
        stash: Registry,
        system_prompt: Tokenizable,
        standing_instructions: RecordSet[Tokenizable],
        tools: ToolRegistry,
        ops: Ops,
        emitter: TurnEmitter,
        wait_for: Callable[..., Awaitable[Any]],
    ) -> None:
        self.id = new_id()
        self._controller = controller
        self.stash = stash
        self.system_prompt = system_prompt
        self._standing_instructions = standing_instructions
        self.tools = tools
        self._ops = ops
        self._emitter = emitter
        self._wait_for = wait_for
        self.turn_memories = RecordSet()
        self.turn_retrievables = RecordSet()
        self.turn_messages = RecordSet()
        self.turn_thoughts = RecordSet()
        self.turn_tool_calls = RecordSet()

    # -- abort ----------------------------------------------------------------------------
    @property
    def aborted(self) -> bool:
        """Whether the turn's abort signal has fired."""
        return self._controller.signal.aborted

    @property
    def abort_signal(self) -> AbortSignal:
        """The turn's abort signal."""
        return self._controller.signal

    def abort(self, reason: object = None) -> None:
        """Abort the turn.

        Remaining turn middleware are skipped, a running dispatch and any open gate are
        aborted, and ``turn_end`` still fires (no ``error``).
        """
        self._controller.abort(reason)

    @property
    def standing_instructions(self) -> RecordSet[Tokenizable]:
        """The standing instructions (Tokenizables; a ``str`` given to ``run`` is wrapped)."""
        return self._standing_instructions

    # -- persistence (calls the callback with this context; nothing else) -------------------
    def _call(self, name: str, *args: Any) -> Awaitable[Any]:
        return _await(self._ops[name](self, *args))

    async def fetch_memories(self) -> Any:
        """The persistence layer's memories (the set is not touched)."""
        return await self._call("fetch_memories")

    async def fetch_retrievables(self) -> Any:
        """The persistence layer's retrievables (the set is not touched)."""
        return await self._call("fetch_retrievables")

    async def fetch_messages(self) -> Any:
        """The persistence layer's messages (the set is not touched)."""
        return await self._call("fetch_messages")

    async def fetch_thoughts(self) -> Any:
        """The persistence layer's thoughts (the set is not touched)."""
        return await self._call("fetch_thoughts")

    async def fetch_tool_calls(self) -> Any:
        """The persistence layer's tool calls (the set is not touched)."""
        return await self._call("fetch_tool_calls")

    async def fetch_tools(self) -> Any:
        """The persistence layer's tools (the registry is not touched)."""
        return await self._call("fetch_tools")

    async def refresh_standing_instructions(self) -> Any:
        """The persistence layer's standing instructions (the set is not touched)."""
        return await self._call("refresh_standing_instructions")

    async def store_standing_instruction(self, value: str | Tokenizable) -> None:
        """Persist a standing instruction."""
        await self._call("store_standing_instruction", value)

    async def mutate_standing_instruction(self, value: str | Tokenizable) -> None:
        """Persist a changed standing instruction."""
        await self._call("mutate_standing_instruction", value)

    async def delete_standing_instruction(self, value: str | Tokenizable) -> None:
        """Remove a standing instruction (by value, PORT.md §7.4)."""
        await self._call("delete_standing_instruction", value)

    async def store_memory(self, value: Memory) -> None:
        """Persist a memory."""
        await self._call("store_memory", value)

    async def mutate_memory(self, value: Memory) -> None:
        """Persist a changed memory."""
        await self._call("mutate_memory", value)

    async def delete_memory(self, id: str) -> None:
        """Remove a memory by id."""
        await self._call("delete_memory", id)

    async def store_retrievable(self, value: Retrievable) -> None:
        """Persist a retrievable."""
        await self._call("store_retrievable", value)

    async def mutate_retrievable(self, value: Retrievable) -> None:
        """Persist a changed retrievable."""
        await self._call("mutate_retrievable", value)

    async def delete_retrievable(self, id: str) -> None:
        """Remove a retrievable by id."""
        await self._call("delete_retrievable", id)

    async def store_message(self, value: Message) -> None:
        """Persist a message."""
        await self._call("store_message", value)

    async def mutate_message(self, value: Message) -> None:
        """Persist a changed message."""
        await self._call("mutate_message", value)

    async def delete_message(self, id: str) -> None:
        """Remove a message by id."""
        await self._call("delete_message", id)

    async def store_thought(self, value: Thought) -> None:
        """Persist a thought."""
        await self._call("store_thought", value)

    async def mutate_thought(self, value: Thought) -> None:
        """Persist a changed thought."""
        await self._call("mutate_thought", value)

    async def delete_thought(self, id: str) -> None:
        """Remove a thought by id."""
        await self._call("delete_thought", id)

    async def store_tool_call(self, value: ToolCall) -> None:
        """Persist a tool call."""
        await self._call("store_tool_call", value)

    async def mutate_tool_call(self, value: ToolCall) -> None:
        """Persist a changed tool call."""
        await self._call("mutate_tool_call", value)

    async def delete_tool_call(self, id: str) -> None:
        """Remove a tool call by id."""
        await self._call("delete_tool_call", id)

    async def store_media_bytes(self, id: str, data: ConduitBytes) -> Any:
        """Persist media bytes; returns a ``MediaReader``."""
        return await self._call("store_media_bytes", id, data)

    async def store_retrievable_bytes(self, id: str, data: ConduitBytes) -> Any:
        """Persist retrievable text; returns a ``SpoolReader``."""
        return await self._call("store_retrievable_bytes", id, data)

    # -- emission (synchronous) --------------------------------------------------------------
    def emit_message(self, content: TurnStreamableContent) -> None:
        """Emit ``message`` on the turn's functional bus."""
        self._emitter.functional("message", content)

    def emit_thought(self, content: TurnStreamableContent) -> None:
        """Emit ``thought`` on the turn's functional bus."""
        self._emitter.functional("thought", content)

    def emit_tool_call(self, content: TurnToolCallContent) -> None:
        """Emit ``tool_call`` on the turn's functional bus."""
        self._emitter.functional("tool_call", content)

    def emit_tool_execution_start(self, event: ToolExecutionStart) -> None:
        """Emit ``tool_execution_start`` on the turn's observability bus."""
        self._emitter.observe("tool_execution_start", event)

    def emit_tool_execution_end(self, event: ToolExecutionEnd) -> None:
        """Emit ``tool_execution_end`` on the turn's observability bus."""
        self._emitter.observe("tool_execution_end", event)

    # -- gates ----------------------------------------------------------------------------------
    async def wait_for(
        self,
        *,
        id: str,
        reason: str,
        payload: Any,
        schema: Any = None,
        timeout_ms: float | None = None,
        created_at: Any = None,
    ) -> Any:
        """Open a turn gate and wait until it settles; returns its value.

        ``turn_gate_open`` (the live :class:`~adk.runners.gate.TurnGate`) fires before this
        suspends; ``turn_gate_closed`` fires exactly once when it settles, before this
        returns. See :meth:`adk.contracts.dispatch_context.DispatchContext.wait_for` for the
        arguments.

        Raises:
            E_INVALID_INITIAL_TURN_GATE_VALUE: bad arguments (before ``turn_gate_open``).
            E_TURN_GATE_TIMEOUT, E_TURN_GATE_ABORTED: as the gate settles.
        """
        return await self._wait_for(
            id=id,
            reason=reason,
            payload=payload,
            schema=schema,
            timeout_ms=timeout_ms,
            created_at=created_at,
        )

    @staticmethod
    def is_turn_context(value: object) -> bool:
        """Whether ``value`` is a TurnContext."""
        return getattr(type(value), "__adk_turn_context__", False) is True

    def __repr__(self) -> str:
        return f"<TurnContext id={self.id}>"
