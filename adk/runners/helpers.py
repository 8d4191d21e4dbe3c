"""``DispatchExecutorHelpers``: how an executor reports its stream (RUNNERS.md §3.7).

Reporting emits events only; it persists nothing (the executor stores records with
``ctx.store_*``). Helpers are built once per dispatch, so the per-id stream state survives
across iterations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

import msgspec

from adk.contracts.events import (
    GenerationStats,
    GenerationStatsEvent,
    LogEvent,
    LogLevel,
    TurnStreamableContent,
    TurnToolCallContent,
)
from adk.errors import E_INVALID_GENERATION_STATS, E_STREAM_ALREADY_COMPLETE
from adk.primitives.canonical import tool_call_checksum

if TYPE_CHECKING:
    from adk.contracts.dispatch_context import DispatchContext

__all__ = ["DispatchExecutorHelpers", "DispatchLogger"]

_UNSET: Final[Any] = object()
_now = datetime.now


class _Stream:
    __slots__ = ("complete", "created_at", "full")

    def __init__(self, created_at: datetime) -> None:
        self.full = ""
        self.created_at = created_at
        self.complete = False


class _ToolStream:
    __slots__ = ("args", "checksum", "complete", "created_at", "is_error", "results", "tool")

    def __init__(self, created_at: datetime) -> None:
        self.tool: str | None = None
        self.args: Any = _UNSET
        self.checksum = ""
        self.results: Any = _UNSET
        self.is_error = False
        self.complete = False
        self.created_at = created_at


class DispatchLogger:
    """``helpers.log``: ``trace``/``debug``/``info``/``warn``/``error`` → ``log`` events.

    Each method takes ``kind`` (a short label), ``message`` and an optional ``payload``;
    it never raises and never touches the context. The event carries the dispatch id and
    the **current** ``ctx.iteration``.
    """

    __slots__ = ("_ctx", "_emit")

    def __init__(self, ctx: DispatchContext, emit: Callable[[LogEvent], None]) -> None:
        self._ctx = ctx
        self._emit = emit

    def _log(self, level: LogLevel, kind: str, message: str, payload: Any) -> None:
        try:
            self._emit(
                LogEvent(
                    dispatch_id=self._ctx.dispatch_id,
                    iteration=self._ctx.iteration,
                    emitted_at=_now(UTC),
                    level=level,
                    kind=kind,
                    message=message,
                    payload=payload,
                )
            )
        except Exception:  # pragma: no cover - logging never raises
            pass

    def trace(self, *, kind: str, message: str, payload: Any = None) -> None:
        """Log at ``trace`` level."""
        self._log("trace", kind, message, payload)

    def debug(self, *, kind: str, message: str, payload: Any = None) -> None:
        """Log at ``debug`` level."""
        self._log("debug", kind, message, payload)

    def info(self, *, kind: str, message: str, payload: Any = None) -> None:
        """Log at ``info`` level."""
        self._log("info", kind, message, payload)

    def warn(self, *, kind: str, message: str, payload: Any = None) -> None:
        """Log at ``warn`` level."""
        self._log("warn", kind, message, payload)

    def error(self, *, kind: str, message: str, payload: Any = None) -> None:
        """Log at ``error`` level."""
        self._log("error", kind, message, payload)


class DispatchExecutorHelpers:
    """Stream reporting for executors: messages, thoughts, tool calls, usage, logs.

    Attributes:
        log: A :class:`DispatchLogger`.
    """

    __slots__ = ("_ctx", "_emit_stats", "_messages", "_thoughts", "_tool_calls", "log")

    def __init__(
        self,
        ctx: DispatchContext,
        emit_log: Callable[[LogEvent], None],
        emit_stats: Callable[[GenerationStatsEvent], None],
    ) -> None:
        self._ctx = ctx
        self._messages: dict[str, _Stream] = {}
        self._thoughts: dict[str, _Stream] = {}
        self._tool_calls: dict[str, _ToolStream] = {}
        self._emit_stats = emit_stats
        self.log = DispatchLogger(ctx, emit_log)

    @staticmethod
    def _chunk(
        streams: dict[str, _Stream], id: str, delta: str, is_complete: bool
    ) -> TurnStreamableContent:
        now = _now(UTC)
        state = streams.get(id)
        if state is None:
            state = streams[id] = _Stream(now)
        elif state.complete:
            raise E_STREAM_ALREADY_COMPLETE(id)
        state.full += delta
        state.complete = is_complete
        return TurnStreamableContent(
            id=id,
            created_at=state.created_at,
            updated_at=now,
            full=state.full,
            a_delta=delta,
            is_complete=is_complete,
            completed_at=now if is_complete else None,
        )

    def report_message(self, id: str, delta: str, *, is_complete: bool = False) -> None:
        """Report a chunk of the assistant's message ``id`` (emits ``message``).

        Args:
            id: The stream id (the same across chunks and iterations of this dispatch).
            delta: This chunk's text (may be empty).
            is_complete: Whether this is the last chunk.

        Raises:
            E_STREAM_ALREADY_COMPLETE: ``id`` was already reported complete (nothing is
                emitted). The ADK raises a plain error here.
        """
        self._ctx.emit_message(self._chunk(self._messages, id, delta, is_complete))

    def report_thought(self, id: str, delta: str, *, is_complete: bool = False) -> None:
        """Report a chunk of reasoning ``id`` (emits ``thought``); as :meth:`report_message`."""
        self._ctx.emit_thought(self._chunk(self._thoughts, id, delta, is_complete))

    def report_tool_call(
        self,
        id: str,
        *,
        tool: str | None = None,
        args: Any = _UNSET,
        results: Any = _UNSET,
        is_error: bool | None = None,
        is_complete: bool | None = None,
    ) -> None:
        """Report the state of a streamed tool call ``id`` (emits ``tool_call``).

        Every argument given is merged into the stream's state (an argument not passed
        leaves it unchanged; ``args=None`` sets it to ``None``). Once both ``tool`` and
        ``args`` are known the checksum is ``tool_call_checksum(tool, args)``.

        Raises:
            E_STREAM_ALREADY_COMPLETE: ``id`` was already reported complete.
        """
        now = _now(UTC)
        state = self._tool_calls.get(id)
        if state is None:
            state = self._tool_calls[id] = _ToolStream(now)
        elif state.complete:
            raise E_STREAM_ALREADY_COMPLETE(id)
        if tool is not None:
            state.tool = tool
        if args is not _UNSET:
            state.args = args
        if results is not _UNSET:
            state.results = results
        if is_error is not None:
            state.is_error = is_error
        if is_complete is not None:
            state.complete = is_complete
        if (
            (tool is not None or args is not _UNSET)
            and state.tool is not None
            and state.args is not _UNSET
        ):
            state.checksum = tool_call_checksum(state.tool, state.args)
        complete = state.complete
        self._ctx.emit_tool_call(
            TurnToolCallContent(
                id=id,
                tool=state.tool or "",
                args=None if state.args is _UNSET else state.args,
                checksum=state.checksum,
                created_at=state.created_at,
                updated_at=now,
                is_complete=complete,
                is_error=state.is_error,
                results=None if state.results is _UNSET else state.results,
                completed_at=now if complete else None,
            )
        )

    def report_generation_stats(self, stats: GenerationStats | Mapping[str, Any]) -> None:
        """Report model usage (emits ``generation_stats``, PORT.md §9.4).

        Args:
            stats: A :class:`GenerationStats` or a mapping of its snake_case fields
                (tokens as ints, durations in nanoseconds).

        Raises:
            E_INVALID_GENERATION_STATS: a mapping with unknown keys or wrong types.
        """
        given = cast(object, stats)
        if isinstance(given, GenerationStats):
            fields = msgspec.structs.asdict(given)
        elif isinstance(given, Mapping):
            try:  # strict: unknown keys (the enrichment fields included) are rejected
                checked = msgspec.convert(given, GenerationStats, strict=True)
            except msgspec.ValidationError as exc:
                raise E_INVALID_GENERATION_STATS(
                    message=f"invalid generation stats: {exc}", cause=exc
                ) from exc
            fields = msgspec.structs.asdict(checked)
        else:
            raise E_INVALID_GENERATION_STATS(
                message="generation stats must be a GenerationStats or a mapping, "
                f"not {type(stats).__name__}"
            )
        fields["dispatch_id"] = self._ctx.dispatch_id
        fields["iteration"] = self._ctx.iteration
        fields["emitted_at"] = _now(UTC)
        self._emit_stats(GenerationStatsEvent(**fields))
