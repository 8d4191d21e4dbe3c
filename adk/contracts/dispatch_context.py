"""``DispatchContext``: what the executor and dispatch middleware see (RUNNERS.md §4).

Source: ``src/lib/contracts/dispatch_context.ts`` of @nhtio/adk (newest behaviour: mutate
replaces same-id records in place and keeps the checksum counts consistent).

Built only by :class:`adk.runners.DispatchRunner`: from a parent turn (derived path: a
snapshot of the turn, persistence delegated to the turn) or from a ``raw`` mapping
(standalone path: persistence from callbacks, else a ``ContextStore``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from adk.contracts._bus import Bus
from adk.contracts.record_set import RecordSet
from adk.errors import (
    E_LLM_EXECUTION_ALREADY_SIGNALLED,
    E_LLM_EXECUTION_GATE_NOT_SUPPORTED,
)
from adk.primitives.ids import new_id
from adk.primitives.tokenizable import Tokenizable

if TYPE_CHECKING:
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

__all__ = ["CONTEXT_HOOKS", "DispatchContext", "Forwarder", "Ops"]

RECORD_KINDS: Final = ("memory", "retrievable", "message", "thought", "tool_call")

CONTEXT_HOOKS: Final[frozenset[str]] = frozenset(
    {"message", "thought", "tool_call", "tool_execution_start", "tool_execution_end"}
    | {
        f"{op}_{kind}"
        for op in ("stored", "mutated", "deleted")
        for kind in ("standing_instruction", *RECORD_KINDS)
    }
)
"""Event names accepted in ``raw["hooks"]`` (RUNNERS.md §4.3)."""


_SELF: Final[Any] = object()
"""``callback_ctx=SELF``: callbacks receive the DispatchContext itself (standalone path)."""
SELF = _SELF


def _nack_default() -> Exception:
    return RuntimeError("the dispatch was nacked without an explicit error")


async def _maybe_await(result: Any) -> Any:
    if inspect.isawaitable(result):
        return await result
    return result


class Forwarder:
    """Receives the context's functional and tool-execution emissions (runner side)."""

    __slots__ = ()

    def message(self, content: TurnStreamableContent) -> None:
        """A ``message`` chunk was emitted."""

    def thought(self, content: TurnStreamableContent) -> None:
        """A ``thought`` chunk was emitted."""

    def tool_call(self, content: TurnToolCallContent) -> None:
        """A ``tool_call`` report was emitted."""

    def tool_execution_start(self, event: ToolExecutionStart) -> None:
        """A tool handler started."""

    def tool_execution_end(self, event: ToolExecutionEnd) -> None:
        """A tool handler ended."""


_OP_NAMES: Final[dict[str, tuple[str, str, str]]] = {
    kind: (f"store_{kind}", f"mutate_{kind}", f"delete_{kind}")
    for kind in ("standing_instruction", *RECORD_KINDS)
}


class Ops(dict[str, Callable[..., Any]]):
    """Persistence operations by name: explicit callbacks first, then ``source``'s methods.

    Missing names are looked up on ``source`` (a ``ContextStore`` or a parent turn) on
    first use and cached.
    """

    __slots__ = ("source",)

    def __init__(self, source: Any, explicit: dict[str, Callable[..., Any]] | None = None) -> None:
        super().__init__(explicit or {})
        self.source = source

    def __missing__(self, name: str) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(self.source, name)
        self[name] = fn
        return fn


def _same_instruction(a: Tokenizable, b: Tokenizable) -> bool:
    if a is b:
        return True
    if a.dynamic or b.dynamic:
        return False
    return a.render() == b.render()


class DispatchContext:
    """The state and capabilities of one dispatch (RUNNERS.md §4).

    Not constructed directly: :meth:`adk.runners.DispatchRunner.dispatch` builds it.
    Record sets (``turn_messages`` …) are :class:`RecordSet` snapshots of the turn; the
    ``store_*``/``mutate_*``/``delete_*`` methods change them, persist immediately (awaiting
    the callback), then queue a delta the runner mirrors to the parent turn at the end of
    the iteration. ``mutate_*`` replaces the set object: re-read the property afterwards.
    """

    __slots__ = (
        "__weakref__",
        "_ack_handlers",
        "_bus",
        "_cb_ctx",
        "_controller",
        "_counts",
        "_deltas",
        "_dispatch_id",
        "_forward",
        "_iteration",
        "_nack_error",
        "_ops",
        "_sets",
        "_signal",
        "_signalled",
        "_wait_for",
        "id",
        "stash",
        "system_prompt",
        "tools",
    )

    id: str
    """UUIDv6 generated at construction (differs from ``dispatch_id``)."""
    stash: Registry
    """A copy of the turn's stash (writes do not flow back)."""
    system_prompt: Tokenizable
    """The system prompt."""
    tools: ToolRegistry
    """This dispatch's tool registry (a copy of the turn's)."""

    def __init__(
        self,
        *,
        controller: AbortController,
        stash: Registry,
        system_prompt: Tokenizable,
        standing_instructions: RecordSet[Tokenizable],
        sets: dict[str, RecordSet[Any]],
        tools: ToolRegistry,
        ops: Ops,
        callback_ctx: Any,
        wait_for: Callable[..., Awaitable[Any]] | None,
        hooks: Bus,
    ) -> None:
        self.id = new_id()
        self._ops = ops
        # The first argument of every callback: this context (standalone), the parent
        # TurnContext (derived from a real turn), or nothing (the ops are bound methods).
        self._cb_ctx = self if callback_ctx is _SELF else callback_ctx
        self._dispatch_id = ""
        self._iteration = 0
        self._controller = controller
        self._signal: AbortSignal = controller.signal
        self._signalled = 0  # 0: none, 1: ack, 2: nack
        self._nack_error: BaseException | None = None
        self._ack_handlers: dict[Callable[[], Any], None] = {}
        self.stash = stash
        self.system_prompt = system_prompt
        self.tools = tools
        sets["standing_instruction"] = standing_instructions
        self._sets = sets
        counts: dict[str, int] = {}
        for tc in sets["tool_call"]:
            counts[tc.checksum] = counts.get(tc.checksum, 0) + 1
        self._counts = counts
        self._wait_for = wait_for
        self._bus = hooks
        self._forward: Forwarder | None = None
        self._deltas: list[tuple[str, str, Any]] | None = None

    # -- identity, iteration, abort, signals ----------------------------------------------
    @property
    def dispatch_id(self) -> str:
        """The dispatch's UUIDv6, ``""`` until the runner sets it (before ``dispatch_start``)."""
        return self._dispatch_id

    @property
    def iteration(self) -> int:
        """The current iteration, 0-based (set at the start of each iteration)."""
        return self._iteration

    @property
    def aborted(self) -> bool:
        """Whether this context's abort signal has fired."""
        return self._signal.aborted

    @property
    def abort_signal(self) -> AbortSignal:
        """This context's own abort signal (follows the turn's, one way)."""
        return self._signal

    def abort(self, reason: object = None) -> None:
        """Abort this dispatch (not the turn). Idempotent; the first reason sticks.

        With prompt abort (PORT.md §7.2) whatever the executor, a middleware or a gate is
        awaiting is cancelled; the dispatch then resolves with status ``"aborted"``.
        """
        self._controller.abort(reason)

    @property
    def is_signalled(self) -> bool:
        """Whether ``ack()`` or ``nack()`` has been called."""
        return self._signalled != 0

    @property
    def is_acked(self) -> bool:
        """Whether the signal was ``ack``."""
        return self._signalled == 1

    @property
    def nack_error(self) -> BaseException | None:
        """The nack error, or ``None`` (never ``None`` after a ``nack()``)."""
        return self._nack_error

    def ack(self) -> None:
        """Signal success. The runner stops at its next checkpoint.

        Ack handlers run synchronously, in registration order, over a snapshot taken when
        ``ack()`` is called (a handler added or removed during the loop does not change it);
        a handler's exception is swallowed (RUNNERS.md §4.2).

        Raises:
            E_LLM_EXECUTION_ALREADY_SIGNALLED: the context was already signalled (the first
                signal wins; nothing changes).
        """
        if self._signalled:
            raise E_LLM_EXECUTION_ALREADY_SIGNALLED()
        self._signalled = 1
        if self._ack_handlers:
            for handler in tuple(self._ack_handlers):
                try:
                    handler()
                except Exception:
                    pass

    def nack(self, error: object = None) -> None:
        """Signal failure. ``dispatch()`` then raises ``error`` (unchanged).

        Args:
            error: The failure; ``None`` stores a generic ``RuntimeError``. A value that is
                not an exception is wrapped in a ``RuntimeError`` carrying its text.

        Raises:
            E_LLM_EXECUTION_ALREADY_SIGNALLED: the context was already signalled.
        """
        if self._signalled:
            raise E_LLM_EXECUTION_ALREADY_SIGNALLED()
        self._signalled = 2
        if error is None:
            self._nack_error = _nack_default()
        elif isinstance(error, BaseException):
            self._nack_error = error
        else:
            self._nack_error = RuntimeError(str(error))

    def on_ack(self, handler: Callable[[], Any]) -> Callable[[], None]:
        """Run ``handler()`` when (and only if) this context acks.

        Registering the same function twice keeps one entry; registering after the ack does
        not replay it.

        Returns:
            A function removing the handler.
        """
        self._ack_handlers[handler] = None

        def unsubscribe() -> None:
            self._ack_handlers.pop(handler, None)

        return unsubscribe

    # -- sets ------------------------------------------------------------------------------
    @property
    def standing_instructions(self) -> RecordSet[Tokenizable]:
        """The standing instructions (Tokenizables, compared by text, PORT.md §7.4)."""
        return self._sets["standing_instruction"]

    @property
    def turn_memories(self) -> RecordSet[Memory]:
        """Memories of this turn (re-read after a mutate: it replaces the set)."""
        return self._sets["memory"]

    @property
    def turn_retrievables(self) -> RecordSet[Retrievable]:
        """Retrievables of this turn (re-read after a mutate)."""
        return self._sets["retrievable"]

    @property
    def turn_messages(self) -> RecordSet[Message]:
        """Messages of this turn (re-read after a mutate)."""
        return self._sets["message"]

    @property
    def turn_thoughts(self) -> RecordSet[Thought]:
        """Thoughts of this turn (re-read after a mutate)."""
        return self._sets["thought"]

    @property
    def turn_tool_calls(self) -> RecordSet[ToolCall]:
        """Tool calls of this turn (re-read after a mutate)."""
        return self._sets["tool_call"]

    def tool_call_count(self, checksum: str) -> int:
        """How many tool calls in ``turn_tool_calls`` have this checksum (0 if none).

        Kept exact through store, mutate (including checksum changes) and delete; use it
        for repeated-call guards.
        """
        return self._counts.get(checksum, 0)

    def _call(self, name: str, *args: Any) -> Any:
        fn = self._ops[name]
        cb_ctx = self._cb_ctx
        return fn(*args) if cb_ctx is None else fn(cb_ctx, *args)

    # -- fetch ------------------------------------------------------------------------------
    async def fetch_memories(self) -> Any:
        """The persistence layer's memories (the sets are not touched)."""
        return await _maybe_await(self._call("fetch_memories"))

    async def fetch_retrievables(self) -> Any:
        """The persistence layer's retrievables (the sets are not touched)."""
        return await _maybe_await(self._call("fetch_retrievables"))

    async def fetch_messages(self) -> Any:
        """The persistence layer's messages (the sets are not touched)."""
        return await _maybe_await(self._call("fetch_messages"))

    async def fetch_thoughts(self) -> Any:
        """The persistence layer's thoughts (the sets are not touched)."""
        return await _maybe_await(self._call("fetch_thoughts"))

    async def fetch_tool_calls(self) -> Any:
        """The persistence layer's tool calls (the sets are not touched)."""
        return await _maybe_await(self._call("fetch_tool_calls"))

    async def fetch_tools(self) -> Any:
        """The persistence layer's tools (the registry is not touched)."""
        return await _maybe_await(self._call("fetch_tools"))

    async def refresh_standing_instructions(self) -> Any:
        """The persistence layer's standing instructions (the set is not touched)."""
        return await _maybe_await(self._call("refresh_standing_instructions"))

    # -- mutations ----------------------------------------------------------------------------
    def _queue(self, op: str, kind: str, value: Any) -> None:
        deltas = self._deltas
        if deltas is not None:
            deltas.append((op, kind, value))
        bus = self._bus
        if bus.active:
            bus.emit(f"{op}d_{kind}", value)  # stored_*, mutated_*, deleted_*

    async def _store(self, kind: str, value: Any) -> None:
        self._sets[kind].add(value)
        if kind == "tool_call":
            counts = self._counts
            counts[value.checksum] = counts.get(value.checksum, 0) + 1
        result = self._call(_OP_NAMES[kind][0], value)
        if result is not None and inspect.isawaitable(result):
            await result
        self._queue("store", kind, value)

    async def _mutate(self, kind: str, value: Any) -> None:
        vid = value.id
        placed = False
        rebuilt: list[Any] = []
        displaced: list[Any] = []
        for item in self._sets[kind]:
            if item.id == vid:
                displaced.append(item)
                if not placed:
                    rebuilt.append(value)
                    placed = True
            else:
                rebuilt.append(item)
        if not placed:
            rebuilt.append(value)
        self._sets[kind] = RecordSet(rebuilt)
        if kind == "tool_call":
            counts = self._counts
            for old in displaced:
                n = counts.get(old.checksum, 0) - 1
                if n > 0:
                    counts[old.checksum] = n
                else:
                    counts.pop(old.checksum, None)
            counts[value.checksum] = counts.get(value.checksum, 0) + 1
        result = self._call(_OP_NAMES[kind][1], value)
        if result is not None and inspect.isawaitable(result):
            await result
        self._queue("mutate", kind, value)

    async def _delete(self, kind: str, id: str) -> None:
        items = self._sets[kind]
        for item in items:
            if item.id == id:
                items.discard(item)
                if kind == "tool_call":
                    n = self._counts.get(item.checksum, 0) - 1
                    if n > 0:
                        self._counts[item.checksum] = n
                    else:
                        self._counts.pop(item.checksum, None)
                break
        result = self._call(_OP_NAMES[kind][2], id)
        if result is not None and inspect.isawaitable(result):
            await result
        self._queue("delete", kind, id)

    async def store_memory(self, value: Memory) -> None:
        """Add a memory, persist it, queue the delta. Callback errors propagate."""
        await self._store("memory", value)

    async def mutate_memory(self, value: Memory) -> None:
        """Replace every memory with ``value.id`` (first position) or append; persist."""
        await self._mutate("memory", value)

    async def delete_memory(self, id: str) -> None:
        """Remove the first memory with ``id``; the callback runs even if none matched."""
        await self._delete("memory", id)

    async def store_retrievable(self, value: Retrievable) -> None:
        """Add a retrievable, persist it, queue the delta. Callback errors propagate."""
        await self._store("retrievable", value)

    async def mutate_retrievable(self, value: Retrievable) -> None:
        """Replace every retrievable with ``value.id`` (first position) or append; persist."""
        await self._mutate("retrievable", value)

    async def delete_retrievable(self, id: str) -> None:
        """Remove the first retrievable with ``id``; the callback runs even if none matched."""
        await self._delete("retrievable", id)

    async def store_message(self, value: Message) -> None:
        """Add a message, persist it, queue the delta. Callback errors propagate."""
        await self._store("message", value)

    async def mutate_message(self, value: Message) -> None:
        """Replace every message with ``value.id`` (first position) or append; persist."""
        await self._mutate("message", value)

    async def delete_message(self, id: str) -> None:
        """Remove the first message with ``id``; the callback runs even if none matched."""
        await self._delete("message", id)

    async def store_thought(self, value: Thought) -> None:
        """Add a thought, persist it, queue the delta. Callback errors propagate."""
        await self._store("thought", value)

    async def mutate_thought(self, value: Thought) -> None:
        """Replace every thought with ``value.id`` (first position) or append; persist."""
        await self._mutate("thought", value)

    async def delete_thought(self, id: str) -> None:
        """Remove the first thought with ``id``; the callback runs even if none matched."""
        await self._delete("thought", id)

    async def store_tool_call(self, value: ToolCall) -> None:
        """Add a tool call and count its checksum, persist it, queue the delta."""
        await self._store("tool_call", value)

    async def mutate_tool_call(self, value: ToolCall) -> None:
        """Replace every tool call with ``value.id`` (first position) or append.

        The checksum counts follow: displaced ones decremented, the new one incremented.
        """
        await self._mutate("tool_call", value)

    async def delete_tool_call(self, id: str) -> None:
        """Remove the first tool call with ``id`` (decrementing its checksum count)."""
        await self._delete("tool_call", id)

    async def store_standing_instruction(self, value: str | Tokenizable) -> None:
        """Add a standing instruction (a ``str`` is wrapped in a new Tokenizable).

        The callback receives ``value`` as given; hooks and the delta get the Tokenizable.
        """
        await self._instruction("store", value)

    async def mutate_standing_instruction(self, value: str | Tokenizable) -> None:
        """Replace the instruction with the same text (or instance) at its place, else add.

        Comparing by text is our deliberate difference (PORT.md §7.4; the ADK appends).
        """
        await self._instruction("mutate", value)

    async def delete_standing_instruction(self, value: str | Tokenizable) -> None:
        """Remove the first instruction with the same text (or instance), PORT.md §7.4."""
        await self._instruction("delete", value)

    async def _instruction(self, op: str, value: str | Tokenizable) -> None:
        wrapped = value if isinstance(value, Tokenizable) else Tokenizable(value)
        apply_instruction(self._sets["standing_instruction"], op, wrapped)
        result = self._call(f"{op}_standing_instruction", value)
        if result is not None and inspect.isawaitable(result):
            await result
        self._queue(op, "standing_instruction", wrapped)

    # -- conduits ---------------------------------------------------------------------------
    async def store_media_bytes(self, id: str, data: ConduitBytes) -> Any:
        """Persist media bytes and return a ``MediaReader``.

        Not a mutation: no set, hook or delta changes.
        """
        return await _maybe_await(self._call("store_media_bytes", id, data))

    async def store_retrievable_bytes(self, id: str, data: ConduitBytes) -> Any:
        """Persist retrievable text and return a ``SpoolReader`` (not a mutation)."""
        return await _maybe_await(self._call("store_retrievable_bytes", id, data))

    # -- emission -------------------------------------------------------------------------------
    def emit_message(self, content: TurnStreamableContent) -> None:
        """Emit a ``message`` chunk to the runner and the context hooks."""
        if self._forward is not None:
            self._forward.message(content)
        self._bus.emit("message", content)

    def emit_thought(self, content: TurnStreamableContent) -> None:
        """Emit a ``thought`` chunk to the runner and the context hooks."""
        if self._forward is not None:
            self._forward.thought(content)
        self._bus.emit("thought", content)

    def emit_tool_call(self, content: TurnToolCallContent) -> None:
        """Emit a ``tool_call`` report to the runner and the context hooks."""
        if self._forward is not None:
            self._forward.tool_call(content)
        self._bus.emit("tool_call", content)

    def emit_tool_execution_start(self, event: ToolExecutionStart) -> None:
        """Emit ``tool_execution_start`` to the runner and the context hooks."""
        if self._forward is not None:
            self._forward.tool_execution_start(event)
        self._bus.emit("tool_execution_start", event)

    def emit_tool_execution_end(self, event: ToolExecutionEnd) -> None:
        """Emit ``tool_execution_end`` to the runner and the context hooks."""
        if self._forward is not None:
            self._forward.tool_execution_end(event)
        self._bus.emit("tool_execution_end", event)

    # -- gates ------------------------------------------------------------------------------
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
        """Suspend until a human or another system settles a gate; returns its value.

        Inside a turn this opens a turn gate (``turn_gate_open``/``turn_gate_closed``);
        standalone it calls the ``wait_for`` given in ``raw`` with the same keywords.

        Args:
            id: The gate's id (non-empty).
            reason: Why the dispatch waits (e.g. ``"tool_approval"``).
            payload: Anything the resolver needs (``None`` allowed).
            schema: A type ``msgspec.convert`` accepts, or an object with ``validate``;
                ``None`` accepts any value.
            timeout_ms: Milliseconds before the gate rejects with ``E_TURN_GATE_TIMEOUT``;
                ``None`` waits indefinitely.
            created_at: The gate's creation time; ``None`` means now.

        Raises:
            E_LLM_EXECUTION_GATE_NOT_SUPPORTED: standalone context without ``wait_for``.
            E_INVALID_INITIAL_TURN_GATE_VALUE: bad arguments.
            E_TURN_GATE_TIMEOUT, E_TURN_GATE_ABORTED: as the gate settles.
        """
        fn = self._wait_for
        if fn is None:
            raise E_LLM_EXECUTION_GATE_NOT_SUPPORTED()
        return await fn(
            id=id,
            reason=reason,
            payload=payload,
            schema=schema,
            timeout_ms=timeout_ms,
            created_at=created_at,
        )

    # -- runner internals ------------------------------------------------------------------
    def _set_dispatch_id(self, dispatch_id: str) -> None:
        self._dispatch_id = dispatch_id

    def _set_iteration(self, iteration: int) -> None:
        self._iteration = iteration

    def _get_hooks(self) -> Bus:
        return self._bus

    @staticmethod
    def is_dispatch_context(value: object) -> bool:
        """Whether ``value`` is a DispatchContext."""
        return isinstance(value, DispatchContext) or type(value).__name__ == "DispatchContext"

    def __repr__(self) -> str:
        return f"<DispatchContext id={self.id} dispatch_id={self._dispatch_id!r}>"


def apply_instruction(items: RecordSet[Tokenizable], op: str, value: Tokenizable) -> None:
    """Apply a standing-instruction change to a set, comparing by text (PORT.md §7.4)."""
    if op == "store":
        items.add(value)
        return
    current = list(items)
    for i, item in enumerate(current):
        if _same_instruction(item, value):
            if op == "mutate":
                current[i] = value
            else:
                del current[i]
            items._replace(current)
            return
    if op == "mutate":
        items.add(value)


def apply_record(items: RecordSet[Any], op: str, value: Any) -> None:
    """Apply a record delta to a parent set in place (RUNNERS.md §3.3 flush rules)."""
    if op == "store":
        items.add(value)
    elif op == "mutate":
        vid = value.id
        rebuilt: list[Any] = []
        placed = False
        for item in items:
            if item.id == vid:
                if not placed:
                    rebuilt.append(value)
                    placed = True
            else:
                rebuilt.append(item)
        if not placed:
            rebuilt.append(value)
        items._replace(rebuilt)
    else:
        for item in items:
            if item.id == value:
                items.discard(item)
                break
