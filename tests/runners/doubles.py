"""A minimal TurnContext test double for the derived dispatch path (until TurnRunner lands)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adk.contracts.record_set import RecordSet
from adk.contracts.store import STORE_METHODS
from adk.primitives.message import Message
from adk.primitives.registry import Registry
from adk.primitives.tokenizable import Tokenizable
from adk.primitives.tool_call import ToolCall
from adk.primitives.tool_registry import ToolRegistry
from adk.runners.abort import AbortController
from adk.runners.gate import open_gate
from adk.stores.memory import InMemoryStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def msg(id: str, text: str = "hi", role: str = "assistant") -> Message:
    return Message(id=id, role=role, content=text, created_at=NOW, updated_at=NOW)  # type: ignore[arg-type]


def tool_call(id: str, checksum: str = "c1", tool: str = "t") -> ToolCall:
    return ToolCall(
        id=id,
        tool=tool,
        args={},
        checksum=checksum,
        is_complete=True,
        is_error=False,
        results=Tokenizable("ok"),
        created_at=NOW,
        updated_at=NOW,
        completed_at=NOW,
    )


class FakeTurn:
    """Implements the TurnContext surface a derived dispatch uses; records every call."""

    __adk_turn_context__ = True

    def __init__(self, *, store: InMemoryStore | None = None) -> None:
        self.id = "turn-1"
        self.controller = AbortController()
        self.abort_signal = self.controller.signal
        self.stash = Registry({"conversation_id": "c"})
        self.system_prompt = Tokenizable("You are a test.")
        self.standing_instructions: RecordSet[Tokenizable] = RecordSet()
        self.turn_memories: RecordSet[Any] = RecordSet()
        self.turn_retrievables: RecordSet[Any] = RecordSet()
        self.turn_messages: RecordSet[Any] = RecordSet()
        self.turn_thoughts: RecordSet[Any] = RecordSet()
        self.turn_tool_calls: RecordSet[Any] = RecordSet()
        self.tools = ToolRegistry()
        self.store = store or InMemoryStore()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.emitted: list[tuple[str, Any]] = []
        self.gates: list[Any] = []
        self.closed: list[Any] = []
        for name in STORE_METHODS:
            setattr(self, name, self._delegate(name))

    @property
    def aborted(self) -> bool:
        return self.abort_signal.aborted

    def abort(self, reason: object = None) -> None:
        self.controller.abort(reason)

    def _delegate(self, name: str) -> Any:
        method = getattr(self.store, name)

        def call(*args: Any) -> Any:
            self.calls.append((name, args))
            return method(self, *args)

        return call

    def emit_message(self, c: Any) -> None:
        self.emitted.append(("message", c))

    def emit_thought(self, c: Any) -> None:
        self.emitted.append(("thought", c))

    def emit_tool_call(self, c: Any) -> None:
        self.emitted.append(("tool_call", c))

    def emit_tool_execution_start(self, e: Any) -> None:
        self.emitted.append(("tool_execution_start", e))

    def emit_tool_execution_end(self, e: Any) -> None:
        self.emitted.append(("tool_execution_end", e))

    async def wait_for(self, **kwargs: Any) -> Any:
        return await open_gate(
            turn_id=self.id,
            signal=self.abort_signal,
            on_open=self.gates.append,
            on_closed=self.closed.append,
            **kwargs,
        )


# --- extensions for the dispatch conformance suite -----------------------------------

OBSERVER_NAMES = (
    "dispatch_start",
    "dispatch_end",
    "iteration_start",
    "iteration_end",
    "tool_execution_start",
    "tool_execution_end",
    "error",
    "log",
    "warning",
    "generation_stats",
)
FUNCTIONAL_NAMES = ("message", "thought", "tool_call")
CONTEXT_HOOK_NAMES = (
    "message",
    "thought",
    "tool_call",
    "tool_execution_start",
    "tool_execution_end",
    *(
        f"{op}_{kind}"
        for op in ("stored", "mutated", "deleted")
        for kind in (
            "standing_instruction",
            "memory",
            "retrievable",
            "message",
            "thought",
            "tool_call",
        )
    ),
)


def mem(id: str, text: str = "m") -> Any:
    from adk.primitives.memory import Memory

    return Memory(
        id=id,
        content=Tokenizable(text),
        confidence=0.5,
        importance=0.5,
        created_at=NOW,
        updated_at=NOW,
    )


def ret(id: str, text: str = "r") -> Any:
    from adk.primitives.retrievable import Retrievable

    return Retrievable(
        id=id, content=Tokenizable(text), trust_tier="first-party", created_at=NOW, updated_at=NOW
    )


def thought(id: str, text: str = "t") -> Any:
    from adk.primitives.thought import Thought

    return Thought(id=id, content=Tokenizable(text), created_at=NOW, updated_at=NOW)


RECORD_FACTORIES = {
    "memory": (mem, "turn_memories", "memories"),
    "retrievable": (ret, "turn_retrievables", "retrievables"),
    "message": (msg, "turn_messages", "messages"),
    "thought": (thought, "turn_thoughts", "thoughts"),
    "tool_call": (tool_call, "turn_tool_calls", "tool_calls"),
}
"""kind → (factory(id), context set attribute, raw list key)."""


class Recorder:
    """Records every event of the observers / hooks it hands out, plus free-form marks."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def _rec(self, name: str) -> Any:
        def listener(payload: Any) -> None:
            self.events.append((name, payload))

        return listener

    def observers(self, *names: str) -> dict[str, Any]:
        return {n: self._rec(n) for n in (names or OBSERVER_NAMES)}

    def hooks(self, *names: str) -> dict[str, Any]:
        return {n: self._rec(n) for n in (names or FUNCTIONAL_NAMES)}

    def context_hooks(self, *names: str) -> dict[str, Any]:
        return {n: self._rec(n) for n in (names or CONTEXT_HOOK_NAMES)}

    def mark(self, label: str, payload: Any = None) -> None:
        self.events.append((label, payload))

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.events]

    def of(self, name: str) -> list[Any]:
        return [p for n, p in self.events if n == name]

    def one(self, name: str) -> Any:
        items = self.of(name)
        assert len(items) == 1, f"expected exactly one {name!r}, got {len(items)}: {self.names}"
        return items[0]


def raw(**fields: Any) -> dict[str, Any]:
    """A minimal valid standalone ``raw`` mapping plus ``fields``."""
    out: dict[str, Any] = {"system_prompt": "You are a test."}
    out.update(fields)
    return out


class RecordingStore(InMemoryStore):
    """An InMemoryStore recording ``(method, ctx, args)`` for every call."""

    def __init__(self, *, fail: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log: list[tuple[str, Any, tuple[Any, ...]]] = []
        self.fail = fail or set()
        for name in STORE_METHODS:
            setattr(self, name, self._wrap(name, getattr(super(), name)))

    def _wrap(self, name: str, method: Any) -> Any:
        def call(ctx: Any, *args: Any) -> Any:
            self.log.append((name, ctx, args))
            if name in self.fail:
                raise StoreFailure(name)
            return method(ctx, *args)

        return call

    def names(self) -> list[str]:
        return [n for n, _, _ in self.log]


class StoreFailure(Exception):
    """Raised by a RecordingStore method listed in ``fail``."""


async def wait_until(predicate: Any, *, timeout: float = 2.0) -> None:
    """Poll ``predicate()`` on the running backend until it is true (or fail)."""
    import anyio

    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.001)
