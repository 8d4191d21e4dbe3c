"""Capturing a turn on the event loop: listeners, executor and store wrappers, turn buffers.

Everything here runs inside the turn, so it does as little as it can: each captured entry
is one ``*Out`` Struct (see :mod:`adk.trace.format`) holding the live payload, appended
to the turn's :class:`TurnBuffer`; nothing is converted or encoded until the writer
thread gets the finished buffer (:mod:`adk.trace.writer`). Turns are told apart by a
context variable set when ``turn_start`` fires (or by :meth:`TraceRecorder.run
<adk.trace.TraceRecorder.run>`), so concurrent turns, each in its own task, fill separate
buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Final, Literal

import anyio
import msgspec

from adk.errors import AbortError
from adk.runners.gate import TurnGate
from adk.runners.turn import FUNCTIONAL_EVENTS, OBSERVABILITY_EVENTS, TurnResult, TurnRunner
from adk.trace.compare import gate_info
from adk.trace.encoding import line_encoder
from adk.trace.format import ErrorInfo, EventOut, GateOut, RecordOut, SignalOut

__all__ = ["Capture", "RecordingStore", "TurnBuffer", "is_abort"]

_KINDS: Final = ("standing_instruction", "memory", "retrievable", "message", "thought", "tool_call")
MUTATIONS: Final = tuple(f"{op}_{kind}" for op in ("store", "mutate", "delete") for kind in _KINDS)
"""The ``ContextStore`` methods (and ``*_callback`` names) whose calls are recorded."""
_ALL_EVENTS: Final = tuple(sorted(FUNCTIONAL_EVENTS)) + tuple(sorted(OBSERVABILITY_EVENTS))


def is_abort(exc: BaseException) -> bool:
    """Whether ``exc`` is abort-class (``AbortError`` or the async library's cancellation)."""
    if isinstance(exc, AbortError):
        return True
    try:
        return isinstance(exc, anyio.get_cancelled_exc_class())
    except Exception:  # pragma: no cover - no async library running
        return False


def settled_value(gate: TurnGate[Any]) -> Any:
    """The value a settled gate resolved to (``None`` if it was not resolved)."""
    # ``wait()`` returns at once (no checkpoint) on a settled gate: drive it synchronously.
    coro = gate.wait()
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    except BaseException:
        return None
    coro.close()
    return None


class TurnBuffer:
    """Everything captured of one turn, handed whole to the writer when the turn ends.

    Attributes:
        managed: Whether :meth:`~adk.trace.TraceRecorder.run` runs the turn (it then
            supplies the header's arguments and the real result).
        prompt: The system prompt (from ``run()`` or the first executor context).
        instructions: The standing instructions.
        stash: The stash given to ``run()``; ``None`` if unknown.
        turn_id: Set by ``turn_start``.
        lines: The captured entries in order (``seq`` is the 1-based position).
        docs: The record and gate lines whose value the writer must ``adk.encode``.
        calls: Executor calls so far.
        call: The executor call running now (its 0-based number), ``None`` between calls.
        tools: The tools' ``describe()`` dicts as an encoded JSON list (set on the first
            executor call).
        errors: The ``error`` events, as :class:`ErrorInfo`.
        gates: Open gates by ``id()``.
        dispatch_status: The last ``dispatch_end`` status.
        started_at: When ``turn_start`` fired.
        result: The real ``TurnResult`` (managed turns that returned).
        cancelled: Whether the awaiting task was cancelled.
        ended_at: When an unmanaged or cancelled turn was finished.
    """

    __slots__ = (
        "call",
        "calls",
        "cancelled",
        "dispatch_status",
        "docs",
        "ended_at",
        "errors",
        "gates",
        "instructions",
        "lines",
        "managed",
        "prompt",
        "result",
        "started_at",
        "stash",
        "tools",
        "turn_id",
    )

    def __init__(self, managed: bool, prompt: Any, instructions: Any, stash: Any) -> None:
        self.managed = managed
        self.prompt = prompt
        self.instructions = instructions
        self.stash = stash
        self.turn_id: str | None = None
        self.lines: list[Any] = []
        self.docs: list[RecordOut | GateOut] = []
        self.calls = 0
        self.call: int | None = None
        self.tools: msgspec.Raw | None = None
        self.errors: list[ErrorInfo] = []
        self.gates: dict[int, TurnGate[Any]] = {}
        self.dispatch_status: Literal["ack", "nack", "aborted"] | None = None
        self.started_at: datetime | None = None
        self.result: TurnResult | None = None
        self.cancelled = False
        self.ended_at: datetime | None = None


current_turn: ContextVar[TurnBuffer | None] = ContextVar("adk_trace_turn", default=None)
"""The turn being recorded in this context."""


class Capture:
    """The capturing half of :class:`~adk.trace.TraceRecorder` (its wiring methods).

    Subclasses implement :meth:`finish`, called once per turn on the event loop with
    the complete buffer.
    """

    def __init__(self) -> None:
        self._last_tools: tuple[tuple[Any, ...], msgspec.Raw] | None = None
        self._listeners: dict[str, Callable[[Any], None]] = {
            name: self._listener(name) for name in _ALL_EVENTS
        }

    def finish(self, turn: TurnBuffer) -> None:
        """Take a finished turn (``result``/``cancelled``/``ended_at`` set)."""
        raise NotImplementedError

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, runner: TurnRunner) -> TurnRunner:
        """Listen to every event of both buses of ``runner`` (idempotent); returns it."""
        for name, fn in self._listeners.items():
            if name in FUNCTIONAL_EVENTS:
                runner.on(name, fn)
            else:
                runner.observe(name, fn)
        return runner

    def detach(self, runner: TurnRunner) -> TurnRunner:
        """Remove the listeners :meth:`attach` added; returns ``runner``."""
        for name, fn in self._listeners.items():
            if name in FUNCTIONAL_EVENTS:
                runner.off(name, fn)
            else:
                runner.unobserve(name, fn)
        return runner

    def wrap_store(self, store: Any) -> RecordingStore:
        """A ``ContextStore`` that records every store/mutate/delete, then delegates."""
        return RecordingStore(store, self)

    def wrap_callbacks(self, **callbacks: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
        """Wrap ``TurnRunner`` ``*_callback`` keywords: mutations are recorded, others kept."""
        out: dict[str, Callable[..., Any]] = {}
        for key, fn in callbacks.items():
            name = key.removesuffix("_callback")
            if name in MUTATIONS:
                op, kind = name.split("_", 1)
                out[key] = self.recording(op, kind, fn)
            else:
                out[key] = fn
        return out

    def wrap_executor(self, executor: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap an executor so the trace knows its calls, what they produced and signalled.

        Args:
            executor: ``(ctx, helpers) -> None``, sync or async.

        Returns:
            An async executor with the same behaviour (exceptions propagate unchanged).
        """

        async def recorded(ctx: Any, helpers: Any) -> None:
            turn = current_turn.get()
            if turn is None:
                result = executor(ctx, helpers)
                if result is not None and hasattr(result, "__await__"):
                    await result
                return
            if turn.tools is None:
                self._capture_context(turn, ctx)
            call = turn.calls
            turn.calls = call + 1
            iteration: int = ctx.iteration
            lines = turn.lines
            turn.call = call
            try:
                result = executor(ctx, helpers)
                if result is not None and hasattr(result, "__await__"):  # as the dispatch
                    await result
            except BaseException as exc:
                if is_abort(exc):
                    lines.append(SignalOut(len(lines) + 1, call, iteration, "abort"))
                else:
                    info = ErrorInfo.of(exc)
                    lines.append(SignalOut(len(lines) + 1, call, iteration, "raise", info))
                raise
            finally:
                turn.call = None
            if ctx.is_acked:
                lines.append(SignalOut(len(lines) + 1, call, iteration, "ack"))
            elif (nack := ctx.nack_error) is not None:
                info = ErrorInfo.of(nack)
                lines.append(SignalOut(len(lines) + 1, call, iteration, "nack", info))
            elif ctx.aborted:
                lines.append(SignalOut(len(lines) + 1, call, iteration, "abort"))
            else:
                lines.append(SignalOut(len(lines) + 1, call, iteration, "none"))

        return recorded

    # -- capture --------------------------------------------------------------------------------
    def capture_record(self, ctx: Any, op: str, kind: str, value: Any) -> None:
        """Record a store/mutate/delete reaching the persistence layer (used by wrappers)."""
        turn = current_turn.get()
        if turn is None:
            return
        if turn.prompt is None and hasattr(ctx, "system_prompt"):
            turn.prompt = ctx.system_prompt
            turn.instructions = list(ctx.standing_instructions)
        lines = turn.lines
        line = RecordOut(len(lines) + 1, op, kind, turn.call, value)
        lines.append(line)
        turn.docs.append(line)

    def recording(self, op: str, kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn(ctx, value)`` that first records the ``op``/``kind`` mutation of ``value``."""
        capture = self.capture_record

        def wrapped(ctx: Any, value: Any) -> Any:
            capture(ctx, op, kind, value)
            return fn(ctx, value)

        return wrapped

    def _listener(self, name: str) -> Callable[[Any], None]:
        special = {
            "turn_start": self._on_turn_start,
            "turn_end": self._on_turn_end,
            "error": self._on_error,
            "turn_gate_open": self._on_gate_open,
            "turn_gate_closed": self._on_gate_closed,
            "dispatch_end": self._on_dispatch_end,
        }.get(name)
        if special is not None:
            return special

        def on(payload: Any) -> None:
            turn = current_turn.get()
            if turn is not None:
                lines = turn.lines
                lines.append(EventOut(len(lines) + 1, name, turn.call, payload))

        return on

    def _event(self, name: str, payload: Any) -> TurnBuffer | None:
        turn = current_turn.get()
        if turn is not None:
            lines = turn.lines
            lines.append(EventOut(len(lines) + 1, name, turn.call, payload))
        return turn

    def _on_error(self, payload: Any) -> None:
        info = ErrorInfo.of(payload)
        turn = self._event("error", info)
        if turn is not None:
            turn.errors.append(info)

    def _on_dispatch_end(self, payload: Any) -> None:
        turn = self._event("dispatch_end", payload)
        if turn is not None:
            turn.dispatch_status = payload.status

    def _on_gate_open(self, gate: TurnGate[Any]) -> None:
        turn = self._event("turn_gate_open", gate_info(gate))
        if turn is not None:
            turn.gates[id(gate)] = gate
            if gate.is_settled:  # settled by an earlier listener
                self._gate_closed(turn, gate.id, gate.result)

    def _on_gate_closed(self, payload: Any) -> None:
        turn = self._event("turn_gate_closed", payload)
        if turn is not None:
            self._gate_closed(turn, payload.gate_id, payload.result)

    def _gate_closed(self, turn: TurnBuffer, gate_id: str, result: Any) -> None:
        for key, gate in list(turn.gates.items()):
            if gate.id == gate_id and gate.is_settled:
                del turn.gates[key]
                value = settled_value(gate) if result == "resolved" else None
                line = GateOut(len(turn.lines) + 1, gate.id, result, value)
                turn.lines.append(line)
                turn.docs.append(line)
                return

    def _on_turn_start(self, payload: Any) -> None:
        turn = current_turn.get()
        if turn is None or turn.turn_id is not None:
            turn = TurnBuffer(False, None, None, None)
            current_turn.set(turn)
        turn.turn_id = payload.turn_id
        turn.started_at = payload.started_at
        turn.lines.append(EventOut(len(turn.lines) + 1, "turn_start", None, payload))

    def _on_turn_end(self, payload: Any) -> None:
        turn = current_turn.get()
        if turn is None:
            return
        turn.lines.append(EventOut(len(turn.lines) + 1, "turn_end", None, payload))
        if not turn.managed:
            current_turn.set(None)
            self.finish(turn)

    def _capture_context(self, turn: TurnBuffer, ctx: Any) -> None:
        if turn.prompt is None:
            turn.prompt = ctx.system_prompt
            turn.instructions = list(ctx.standing_instructions)
        tools = tuple(ctx.tools.all())
        last = self._last_tools
        if (
            last is None
            or len(last[0]) != len(tools)
            or any(a is not b for a, b in zip(last[0], tools, strict=True))
        ):
            # A runner's tools rarely change: their descriptions are encoded once.
            described = [tool.describe() for tool in tools]
            last = self._last_tools = (tools, msgspec.Raw(line_encoder.encode(described)))
        turn.tools = last[1]


class RecordingStore:
    """A ``ContextStore`` proxy that records mutations for a :class:`~adk.trace.TraceRecorder`.

    Every ``store_*``/``mutate_*``/``delete_*`` call is recorded (with the full record,
    or the id for deletes) and then delegated unchanged; every other attribute is the
    wrapped store's.

    Args:
        inner: The wrapped ``ContextStore``.
        recorder: The recorder to report to.
    """

    def __init__(self, inner: Any, recorder: Capture) -> None:
        self._inner = inner
        self._recorder = recorder
        for name in MUTATIONS:
            op, kind = name.split("_", 1)
            setattr(self, name, recorder.recording(op, kind, getattr(inner, name)))

    @property
    def inner(self) -> Any:
        """The wrapped store."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
