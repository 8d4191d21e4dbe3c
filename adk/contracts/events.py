"""Event payloads of the functional and observability buses (RUNNERS.md §2.2, §3.6).

All payloads are frozen msgspec Structs with snake_case fields; timestamps are aware UTC
``datetime``; durations are ``duration_ms: float`` (PORT.md §3). Optional fields that are
absent are ``None`` (PORT.md §9.6).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

__all__ = [
    "DispatchEnd",
    "DispatchStart",
    "DispatchStatus",
    "GenerationStats",
    "GenerationStatsEvent",
    "IterationEnd",
    "IterationStart",
    "LogEvent",
    "LogLevel",
    "ToolExecutionEnd",
    "ToolExecutionStart",
    "TurnEnd",
    "TurnGateClosed",
    "TurnStart",
    "TurnStreamableContent",
    "TurnToolCallContent",
    "WarningEvent",
]

DispatchStatus = Literal["ack", "nack", "aborted"]
LogLevel = Literal["trace", "debug", "info", "warn", "error"]


class _Event(msgspec.Struct, frozen=True, kw_only=True):
    pass


class TurnStreamableContent(_Event, frozen=True, kw_only=True):
    """A chunk of a streamed message or thought (``message`` / ``thought`` events).

    Attributes:
        id: The stream id given to ``report_message``/``report_thought``.
        created_at: When the first chunk of this id was reported.
        updated_at: When this chunk was reported.
        full: The text accumulated so far (ends with ``a_delta``).
        a_delta: This chunk's text (may be empty).
        is_complete: Whether this is the last chunk.
        completed_at: When the stream completed; ``None`` until then.
    """

    id: str
    created_at: datetime
    updated_at: datetime
    full: str
    a_delta: str
    is_complete: bool
    completed_at: datetime | None = None


class TurnToolCallContent(_Event, frozen=True, kw_only=True):
    """The reported state of a streamed tool call (``tool_call`` event).

    Attributes:
        id: The stream id given to ``report_tool_call``.
        tool: The tool name, ``""`` until known.
        args: The arguments, ``None`` until known.
        checksum: ``tool_call_checksum(tool, args)`` once both are known, else ``""``.
            Joins with ``ToolExecutionStart.call_id`` (never ``ToolCall.id``).
        created_at: When the first report of this id happened.
        updated_at: When this report happened.
        results: The results, ``None`` until reported.
        is_complete: Whether the call is complete.
        is_error: Whether the call failed.
        completed_at: When the call completed; ``None`` until then.
    """

    id: str
    tool: str
    args: Any
    checksum: str
    created_at: datetime
    updated_at: datetime
    is_complete: bool
    is_error: bool
    results: Any = None
    completed_at: datetime | None = None


class ToolExecutionStart(_Event, frozen=True, kw_only=True):
    """A tool handler is about to run (``tool_execution_start``).

    Attributes:
        tool_name: The tool's name.
        turn_id: The id of the context the tool runs in (``ctx.id``).
        call_id: ``tool_call_checksum(tool_name, raw_args)``.
        args: The validated arguments handed to the handler.
        started_at: When the handler started.
    """

    tool_name: str
    turn_id: str
    call_id: str
    args: Any
    started_at: datetime


class ToolExecutionEnd(_Event, frozen=True, kw_only=True):
    """A tool handler finished (``tool_execution_end``).

    Attributes:
        tool_name: The tool's name.
        turn_id: The id of the context the tool ran in.
        call_id: As in :class:`ToolExecutionStart`.
        started_at: When the handler started.
        ended_at: When it finished.
        duration_ms: ``ended_at - started_at`` in milliseconds.
        is_error: Whether the handler raised.
    """

    tool_name: str
    turn_id: str
    call_id: str
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    is_error: bool


class TurnStart(_Event, frozen=True, kw_only=True):
    """A turn began (``turn_start``)."""

    turn_id: str
    started_at: datetime


class TurnEnd(_Event, frozen=True, kw_only=True):
    """A turn ended, whatever the outcome (``turn_end``); ``duration_ms`` in ms."""

    turn_id: str
    started_at: datetime
    ended_at: datetime
    duration_ms: float


class TurnGateClosed(_Event, frozen=True, kw_only=True):
    """A gate settled (``turn_gate_closed``).

    Attributes:
        gate_id: The gate's id.
        turn_id: The turn (or standalone context) the gate belongs to.
        result: ``"resolved"``, ``"rejected"``, ``"aborted"`` or ``"timeout"``.
        settled_at: When it settled.
    """

    gate_id: str
    turn_id: str
    result: Literal["resolved", "rejected", "aborted", "timeout"]
    settled_at: datetime


class DispatchStart(_Event, frozen=True, kw_only=True):
    """A dispatch began (``dispatch_start``)."""

    dispatch_id: str
    started_at: datetime


class DispatchEnd(_Event, frozen=True, kw_only=True):
    """A dispatch ended (``dispatch_end``).

    Attributes:
        dispatch_id: The dispatch's id.
        status: ``"ack"``, ``"nack"`` or ``"aborted"`` (precedence: thrown error > nack >
            ack > aborted; RUNNERS.md §3.4).
        error: The thrown error, else the nack error, else ``None``.
        iterations: Fully completed iterations (those that fired ``iteration_end``).
        started_at: When the dispatch began.
        ended_at: When it ended.
        duration_ms: Its duration in milliseconds.
    """

    dispatch_id: str
    status: DispatchStatus
    iterations: int
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    error: BaseException | None = None


class IterationStart(_Event, frozen=True, kw_only=True):
    """An iteration began (``iteration_start``); ``iteration`` is 0-based."""

    dispatch_id: str
    iteration: int
    started_at: datetime


class IterationEnd(_Event, frozen=True, kw_only=True):
    """An iteration completed (``iteration_end``); ``duration_ms`` in ms."""

    dispatch_id: str
    iteration: int
    started_at: datetime
    ended_at: datetime
    duration_ms: float


class LogEvent(_Event, frozen=True, kw_only=True):
    """A log entry from ``helpers.log.*`` (``log``).

    Attributes:
        dispatch_id: The dispatch's id.
        iteration: ``ctx.iteration`` when logged.
        emitted_at: When it was logged.
        level: ``"trace"``, ``"debug"``, ``"info"``, ``"warn"`` or ``"error"``.
        kind: A short machine-readable label.
        message: Human-readable text.
        payload: Any extra data, or ``None``.
    """

    dispatch_id: str
    iteration: int
    emitted_at: datetime
    level: LogLevel
    kind: str
    message: str
    payload: Any = None


class WarningEvent(_Event, frozen=True, kw_only=True):
    """Something degraded but the turn went on (``warning``).

    Attributes:
        emitted_at: When it happened.
        source: ``"turn-runner"`` or ``"dispatch-runner"``.
        kind: ``"token-estimation-degraded"`` or ``"listener-error"`` (PORT.md §7.3).
        message: Human-readable text.
        error: The underlying exception, or ``None``.
        payload: Extra data (``{"encoding", "text_preview"}`` for estimation, ``{"event"}``
            for a listener error), or ``None``.
        dispatch_id: Set when the warning comes from a dispatch.
        iteration: Set when the warning comes from a dispatch.
    """

    emitted_at: datetime
    source: Literal["turn-runner", "dispatch-runner"]
    kind: str
    message: str
    error: BaseException | None = None
    payload: Any = None
    dispatch_id: str | None = None
    iteration: int | None = None


class GenerationStats(_Event, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Model usage reported by an executor; every field optional (RUNNERS.md §3.6).

    Attributes:
        prompt_tokens: Prompt (input) tokens.
        completion_tokens: Completion (output) tokens.
        total_tokens: Total tokens.
        total_duration_ns: Total generation time in nanoseconds (never normalised).
        load_duration_ns: Model load time in nanoseconds.
        prompt_eval_duration_ns: Prompt evaluation time in nanoseconds.
        eval_duration_ns: Generation time in nanoseconds.
        finish_reason: The provider's finish reason.
        model: The model name.
        provider: The provider name.
        raw: The provider's raw usage object.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    total_duration_ns: int | None = None
    load_duration_ns: int | None = None
    prompt_eval_duration_ns: int | None = None
    eval_duration_ns: int | None = None
    finish_reason: str | None = None
    model: str | None = None
    provider: str | None = None
    raw: Any = None


class GenerationStatsEvent(GenerationStats, frozen=True, kw_only=True):
    """:class:`GenerationStats` enriched by the dispatch (``generation_stats``)."""

    dispatch_id: str
    iteration: int
    emitted_at: datetime
