"""The trace file format (version 1) and :func:`load`.

A trace is UTF-8 JSONL, one JSON object per line, written by
:class:`~adk.trace.TraceRecorder` for **one turn**: a file per turn, or one after another
in a **trace log** (``append=True``; each trace runs from its header line to its result
line, read with :func:`~adk.trace.load_all`). Every line has a ``"t"`` tag:

========== ================================================================================
``t``      fields
========== ================================================================================
header     always line 1: ``format`` (``"adk-trace"``), ``version`` (``1``),
           ``adk_version``, ``created_at``, ``turn_id``, ``system_prompt`` and
           ``standing_instructions`` (``adk.encode`` documents), ``tools`` (each tool's
           ``describe()``), ``stash`` (``adk.encode`` document, or ``null`` if unknown)
event      ``seq``, ``name`` (PORT.md §3 event name), ``call`` (the 0-based executor call
           it happened in, or ``null`` outside the executor), ``payload`` (the event's
           fields; exceptions as ``{"type", "code", "message"}``; values that are not
           plain JSON as ``adk.encode`` envelopes)
record     ``seq``, ``op`` (``store``/``mutate``/``delete``), ``kind`` (``message``,
           ``thought``, ``tool_call``, ``memory``, ``retrievable``,
           ``standing_instruction``), ``call``, ``value`` (the record as an
           ``adk.encode`` document; a delete's value is the id, a standing instruction's
           the instruction)
signal     ``seq``, ``call``, ``iteration``, ``signal`` (what the executor left:
           ``ack``/``nack``/``abort``/``raise``/``none``), ``error``
gate       ``seq``, ``gate_id``, ``result``, ``value`` (the resolution value, encoded)
result     always the last line: the :class:`~adk.TurnResult` fields (errors as
           ``{"type", "code", "message"}``), ``cancelled`` (the awaiting task was
           cancelled), ``derived`` (built from the events because the turn was not run
           through :meth:`~adk.trace.TraceRecorder.run`)
========== ================================================================================

``seq`` numbers events, records, signals and gates in one order (the order they happened).
Timestamps are ISO-8601 with their UTC offset.

This module holds the line types in both directions: the ``*Line`` Structs decode a file
(values kept as ``msgspec.Raw`` until :mod:`adk.trace.loader` turns them into a
:class:`~adk.trace.Trace`); the ``*Out`` Structs are what the recorder builds and the
writer encodes (values as live objects, encoded in one ``encode_lines`` call per turn).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from adk import errors as _errors
from adk.contracts.events import (
    DispatchEnd,
    DispatchStart,
    GenerationStatsEvent,
    IterationEnd,
    IterationStart,
    LogEvent,
    ToolExecutionEnd,
    ToolExecutionStart,
    TurnEnd,
    TurnGateClosed,
    TurnStart,
    TurnStreamableContent,
    TurnToolCallContent,
    WarningEvent,
)
from adk.errors import AdkError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FUNCTIONAL",
    "PAYLOAD_TYPES",
    "ErrorInfo",
    "EventLine",
    "EventOut",
    "GateInfo",
    "GateLine",
    "GateOut",
    "HeaderLine",
    "HeaderOut",
    "Line",
    "RecordLine",
    "RecordOut",
    "RecordedError",
    "ResultLine",
    "SignalLine",
    "SignalOut",
]

FORMAT_NAME: Final = "adk-trace"
FORMAT_VERSION: Final = 1
"""The newest format version this build reads and writes."""

FUNCTIONAL: Final = frozenset({"message", "thought", "tool_call"})


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An exception as written in a trace.

    Attributes:
        type: The exception's class name.
        message: Its message (for an ``AdkError``, without the code prefix).
        code: The ``E_…`` code of an ``AdkError``; ``None`` otherwise.
    """

    type: str
    message: str
    code: str | None = None

    @classmethod
    def of(cls, exc: BaseException) -> ErrorInfo:
        """Describe ``exc`` (``AdkError`` → its code and bare message)."""
        if isinstance(exc, AdkError):
            return cls(type=type(exc).__name__, message=exc.message, code=exc.code)
        return cls(type=type(exc).__name__, message=str(exc))

    def rebuild(self) -> BaseException:
        """An exception standing in for the recorded one.

        Returns:
            An instance of the ``adk.errors`` class named by ``code`` when there is one
            (so runners treat it as the original ``AdkError``), else a
            :class:`RecordedError`.
        """
        if self.code is not None:
            cls = getattr(_errors, self.code, None)
            if isinstance(cls, type) and issubclass(cls, AdkError):
                return cls(message=self.message)
        return RecordedError(self)


class RecordedError(Exception):
    """Stands in for a recorded exception that is not an ``AdkError``.

    Attributes:
        info: The recorded :class:`ErrorInfo`; ``str(err)`` is its message.
    """

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


class GateInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The ``turn_gate_open`` payload as recorded (the live gate's fields).

    Attributes:
        id: The gate id given to ``wait_for``.
        turn_id: The turn the gate belongs to.
        reason: Why it was opened.
        payload: What it carried (JSON; non-JSON values as ``adk.encode`` envelopes).
        created_at: When it was opened.
        timeout_ms: Its timeout in milliseconds, or ``None``.
    """

    id: str
    turn_id: str
    reason: str
    payload: Any
    created_at: datetime
    timeout_ms: float | None = None


PAYLOAD_TYPES: Final[dict[str, Any]] = {
    "message": TurnStreamableContent,
    "thought": TurnStreamableContent,
    "tool_call": TurnToolCallContent,
    "turn_start": TurnStart,
    "turn_end": TurnEnd,
    "turn_gate_open": GateInfo,
    "turn_gate_closed": TurnGateClosed,
    "tool_execution_start": ToolExecutionStart,
    "tool_execution_end": ToolExecutionEnd,
    "dispatch_start": DispatchStart,
    "dispatch_end": DispatchEnd,
    "iteration_start": IterationStart,
    "iteration_end": IterationEnd,
    "log": LogEvent,
    "error": ErrorInfo,
    "warning": WarningEvent,
    "generation_stats": GenerationStatsEvent,
}
"""Event name → the type of its payload in a loaded :class:`Trace`."""


# --- wire lines (reading) ------------------------------------------------------------------


class HeaderLine(msgspec.Struct, tag="header", tag_field="t", kw_only=True):
    """Line 1 of a trace (see the module docstring)."""

    format: str
    version: int
    adk_version: str
    created_at: datetime
    turn_id: str
    system_prompt: msgspec.Raw
    standing_instructions: msgspec.Raw
    tools: list[dict[str, Any]]
    stash: msgspec.Raw = msgspec.Raw(b"null")


class EventLine(msgspec.Struct, tag="event", tag_field="t", kw_only=True):
    """One emitted event."""

    seq: int
    name: str
    call: int | None
    payload: msgspec.Raw


class RecordLine(msgspec.Struct, tag="record", tag_field="t", kw_only=True):
    """One store/mutate/delete reaching the persistence layer."""

    seq: int
    op: Literal["store", "mutate", "delete"]
    kind: str
    call: int | None
    value: msgspec.Raw


class SignalLine(msgspec.Struct, tag="signal", tag_field="t", kw_only=True):
    """What one executor call left the dispatch in."""

    seq: int
    call: int
    iteration: int
    signal: Literal["ack", "nack", "abort", "raise", "none"]
    error: ErrorInfo | None = None


class GateLine(msgspec.Struct, tag="gate", tag_field="t", kw_only=True):
    """How a gate was settled, with its value."""

    seq: int
    gate_id: str
    result: str
    value: msgspec.Raw


class ResultLine(msgspec.Struct, tag="result", tag_field="t", kw_only=True):
    """The last line: the turn's outcome."""

    turn_id: str
    status: Literal["completed", "failed", "aborted"]
    errors: list[ErrorInfo]
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: float
    dispatch_status: Literal["ack", "nack", "aborted"] | None = None
    cancelled: bool = False
    derived: bool = False


Line = HeaderLine | EventLine | RecordLine | SignalLine | GateLine | ResultLine


# --- wire lines (writing) ------------------------------------------------------------------
# Positional and untyped values: built on the event loop for every entry, so they must cost
# no more than a tuple; encoded by ``adk.trace.encoding.line_encoder`` (same JSON as above).
# ``gc=False``: they only point at payloads and records, never back, so they cannot be part
# of a reference cycle, and the collector need not track them.


class HeaderOut(msgspec.Struct, tag="header", tag_field="t", kw_only=True, gc=False):
    """A :class:`HeaderLine` to write; documents as ``adk.encode`` trees, ``tools`` as JSON."""

    format: str
    version: int
    adk_version: str
    created_at: datetime
    turn_id: str
    system_prompt: Any
    standing_instructions: Any
    tools: msgspec.Raw
    stash: Any


class EventOut(msgspec.Struct, tag="event", tag_field="t", gc=False):
    """An :class:`EventLine` to write; ``payload`` is the live event payload."""

    seq: int
    name: str
    call: int | None
    payload: Any


class RecordOut(msgspec.Struct, tag="record", tag_field="t", gc=False):
    """A :class:`RecordLine` to write; ``value`` becomes its ``adk.encode`` tree when encoded."""

    seq: int
    op: str
    kind: str
    call: int | None
    value: Any


class SignalOut(msgspec.Struct, tag="signal", tag_field="t", gc=False):
    """A :class:`SignalLine` to write."""

    seq: int
    call: int
    iteration: int
    signal: str
    error: ErrorInfo | None = None


class GateOut(msgspec.Struct, tag="gate", tag_field="t", gc=False):
    """A :class:`GateLine` to write; ``value`` becomes its ``adk.encode`` tree when encoded."""

    seq: int
    gate_id: str
    result: str
    value: Any
