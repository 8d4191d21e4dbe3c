"""The trace file format (version 1) and :func:`load`.

A trace is a UTF-8 JSONL file, one JSON object per line, written by
:class:`~adk.trace.TraceRecorder` for **one turn** (one file per turn). Every line has a
``"t"`` tag:

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
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
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
from adk.errors import E_TRACE_FORMAT, AdkError
from adk.primitives.codec import decode, encode

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ErrorInfo",
    "GateInfo",
    "RecordedError",
    "Trace",
    "TraceEntry",
    "TraceEvent",
    "TraceGate",
    "TraceHeader",
    "TraceRecord",
    "TraceResult",
    "TraceSignal",
    "load",
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

_ANY_FIELDS: Final = ("args", "results", "payload", "raw")
_ERROR_FIELDS: Final = ("error",)


# --- wire lines ---------------------------------------------------------------------------


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
_line_decoder: Final = msgspec.json.Decoder(Line)


# --- the loaded trace -------------------------------------------------------------------------


class TraceHeader(msgspec.Struct, frozen=True, kw_only=True):
    """A trace's header, decoded.

    Attributes:
        version: The format version (``1``).
        adk_version: The ``adk.__version__`` that wrote it.
        created_at: When the recorder wrote it.
        turn_id: The recorded turn's id.
        system_prompt: ``str`` or Tokenizable, as given to ``run()`` (or seen by the
            executor).
        standing_instructions: As given to ``run()``.
        tools: Each tool's ``describe()`` dict (``name``, ``description``,
            ``input_schema``).
        stash: The stash given to ``run()``; ``None`` if it was not known.
    """

    version: int
    adk_version: str
    created_at: datetime
    turn_id: str
    system_prompt: Any
    standing_instructions: tuple[Any, ...]
    tools: tuple[dict[str, Any], ...]
    stash: dict[str, Any] | None = None


class TraceEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event of the recorded turn.

    Attributes:
        seq: Its position among all entries.
        name: The event name (``"message"``, ``"dispatch_end"``, …).
        call: The executor call it happened in (0-based), ``None`` outside the executor.
        payload: The payload as the :data:`PAYLOAD_TYPES` Struct for ``name`` (exceptions
            inside it as :class:`RecordedError`/rebuilt ``AdkError``).
    """

    seq: int
    name: str
    call: int | None
    payload: Any

    @property
    def bus(self) -> Literal["functional", "observability"]:
        """Which bus it was emitted on."""
        return "functional" if self.name in FUNCTIONAL else "observability"


class TraceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A store/mutate/delete of the recorded turn; ``value`` is the decoded record or id."""

    seq: int
    op: Literal["store", "mutate", "delete"]
    kind: str
    call: int | None
    value: Any


class TraceSignal(msgspec.Struct, frozen=True, kw_only=True):
    """What an executor call signalled (``"none"``: nothing, the loop went on)."""

    seq: int
    call: int
    iteration: int
    signal: Literal["ack", "nack", "abort", "raise", "none"]
    error: ErrorInfo | None = None


class TraceGate(msgspec.Struct, frozen=True, kw_only=True):
    """A gate's settlement with its decoded value (``None`` unless resolved)."""

    seq: int
    gate_id: str
    result: str
    value: Any


TraceEntry = TraceEvent | TraceRecord | TraceSignal | TraceGate


class TraceResult(msgspec.Struct, frozen=True, kw_only=True):
    """The recorded turn's outcome (the :class:`~adk.TurnResult` fields, plus flags)."""

    turn_id: str
    status: Literal["completed", "failed", "aborted"]
    errors: tuple[ErrorInfo, ...]
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: float
    dispatch_status: Literal["ack", "nack", "aborted"] | None = None
    cancelled: bool = False
    derived: bool = False


class Trace(msgspec.Struct, frozen=True, kw_only=True):
    """A loaded trace: header, entries in order, result.

    Attributes:
        header: The :class:`TraceHeader`.
        entries: Events, records, signals and gates in the order they happened.
        result: The :class:`TraceResult`.
        path: The file it was loaded from, or ``None``.
    """

    header: TraceHeader
    entries: tuple[TraceEntry, ...]
    result: TraceResult
    path: str | None = None

    @property
    def events(self) -> tuple[TraceEvent, ...]:
        """The events only, in order."""
        return tuple(e for e in self.entries if isinstance(e, TraceEvent))

    @property
    def records(self) -> tuple[TraceRecord, ...]:
        """The store/mutate/delete entries only, in order."""
        return tuple(e for e in self.entries if isinstance(e, TraceRecord))

    @property
    def signals(self) -> tuple[TraceSignal, ...]:
        """One signal per executor call, in order."""
        return tuple(e for e in self.entries if isinstance(e, TraceSignal))

    def event_names(self) -> list[str]:
        """The event names in order."""
        return [e.name for e in self.entries if isinstance(e, TraceEvent)]

    def calls(self) -> Iterator[list[TraceEntry]]:
        """The entries of each executor call in order (what a replay plays back)."""
        current: list[TraceEntry] = []
        number = 0
        for entry in self.entries:
            if isinstance(entry, TraceGate) or entry.call is None:
                if isinstance(entry, TraceGate) and current:
                    current.append(entry)
                continue
            if entry.call != number:
                yield current
                current = []
                number = entry.call
            current.append(entry)
            if isinstance(entry, TraceSignal):
                yield current
                current = []
                number += 1
        if current:
            yield current


# --- decoding ---------------------------------------------------------------------------------


def _fail(line: int, message: str, cause: BaseException | None = None) -> AdkError:
    err = E_TRACE_FORMAT(message=f"line {line}: {message}", cause=cause)
    err.line = line  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
    return err


def revive(value: Any) -> Any:
    """Rebuild the ``adk.encode`` envelopes inside a plain JSON value (a no-op without)."""
    given: object = value
    if isinstance(given, dict | list):
        raw = msgspec.json.encode(given)
        if b'"$adk"' in raw:
            return decode(raw)
    return value


def payload_of(name: str, raw: bytes) -> Any:
    """Decode one event payload (JSON bytes) into its :data:`PAYLOAD_TYPES` Struct.

    Raises:
        E_TRACE_FORMAT: unknown event name or a payload that does not fit (no line).
        msgspec.ValidationError: on a payload that does not fit its type.
    """
    kind = PAYLOAD_TYPES.get(name)
    if kind is None:
        raise ValueError(f"unknown event {name!r}")
    data: Any = msgspec.json.decode(raw)
    if kind is ErrorInfo:
        return msgspec.convert(data, ErrorInfo)
    if not isinstance(data, dict):
        raise ValueError("an event payload must be an object")
    fields: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
    errors: dict[str, Any] = {}
    for key in _ERROR_FIELDS:
        value = fields.pop(key, None)
        if value is not None:
            errors[key] = msgspec.convert(value, ErrorInfo).rebuild()
    enveloped = b'"$adk"' in raw
    if enveloped:
        for key in _ANY_FIELDS:
            if key in fields:
                fields[key] = revive(fields[key])
    out = msgspec.convert(fields, kind, strict=False)
    if errors:
        out = msgspec.structs.replace(out, **errors)
    return out


def _decode_doc(raw: msgspec.Raw | None) -> Any:
    return None if raw is None else decode(bytes(raw))


def _header(line: HeaderLine) -> TraceHeader:
    if line.format != FORMAT_NAME:
        raise _fail(1, f"not an adk trace (format {line.format!r})")
    if line.version < 1 or line.version > FORMAT_VERSION:
        raise _fail(
            1,
            f"unsupported trace format version {line.version} (this adk reads 1..{FORMAT_VERSION})",
        )
    instructions = _decode_doc(line.standing_instructions)
    stash = _decode_doc(line.stash)
    return TraceHeader(
        version=line.version,
        adk_version=line.adk_version,
        created_at=line.created_at,
        turn_id=line.turn_id,
        system_prompt=_decode_doc(line.system_prompt),
        standing_instructions=tuple(instructions or ()),
        tools=tuple(line.tools),
        stash=stash if isinstance(stash, dict) else None,  # pyright: ignore[reportUnknownArgumentType]
    )


def _entry(line: Line) -> TraceEntry:
    if isinstance(line, EventLine):
        return TraceEvent(
            seq=line.seq,
            name=line.name,
            call=line.call,
            payload=payload_of(line.name, bytes(line.payload)),
        )
    if isinstance(line, RecordLine):
        value = decode(bytes(line.value))
        return TraceRecord(seq=line.seq, op=line.op, kind=line.kind, call=line.call, value=value)
    if isinstance(line, SignalLine):
        return TraceSignal(
            seq=line.seq,
            call=line.call,
            iteration=line.iteration,
            signal=line.signal,
            error=line.error,
        )
    if isinstance(line, GateLine):
        return TraceGate(
            seq=line.seq, gate_id=line.gate_id, result=line.result, value=decode(bytes(line.value))
        )
    raise ValueError(f"a {type(line).__name__} line is not allowed here")


def loads(data: bytes, *, path: str | None = None) -> Trace:
    """Parse a trace from its bytes (see :func:`load`)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        raise _fail(len(lines), "truncated: the last line is not terminated")
    if not lines:
        raise _fail(1, "empty trace: no header")
    header: TraceHeader | None = None
    entries: list[TraceEntry] = []
    result: TraceResult | None = None
    for number, text in enumerate(lines, 1):
        if result is not None:
            raise _fail(number, "content after the result line")
        try:
            parsed = _line_decoder.decode(text)
        except msgspec.DecodeError as exc:
            if number == 1:
                raise _fail(1, f"not an adk trace header: {exc}", exc) from exc
            raise _fail(number, f"corrupt line: {exc}", exc) from exc
        if number == 1:
            if not isinstance(parsed, HeaderLine):
                raise _fail(1, "the first line must be the header")
            try:
                header = _header(parsed)
            except AdkError as exc:
                if exc.code == "E_TRACE_FORMAT":
                    raise
                raise _fail(1, f"undecodable header value: {exc}", exc) from exc
            continue
        if isinstance(parsed, ResultLine):
            result = TraceResult(
                turn_id=parsed.turn_id,
                status=parsed.status,
                errors=tuple(parsed.errors),
                started_at=parsed.started_at,
                ended_at=parsed.ended_at,
                duration_ms=parsed.duration_ms,
                dispatch_status=parsed.dispatch_status,
                cancelled=parsed.cancelled,
                derived=parsed.derived,
            )
            continue
        try:
            entries.append(_entry(parsed))
        except (AdkError, ValueError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise _fail(number, f"corrupt line: {exc}", exc) from exc
    if header is None:  # pragma: no cover - line 1 always sets it or raises
        raise _fail(1, "no header")
    if result is None:
        raise _fail(len(lines), "truncated: the trace ends without its result line")
    return Trace(header=header, entries=tuple(entries), result=result, path=path)


def load(path: str | Path) -> Trace:
    """Read a trace file written by :class:`~adk.trace.TraceRecorder`.

    Args:
        path: The ``.jsonl`` file.

    Returns:
        The typed :class:`Trace` (records decoded with ``adk.decode``, payloads as the
        event Structs of :data:`PAYLOAD_TYPES`).

    Raises:
        E_TRACE_FORMAT: the file is not a trace, is of an unknown or newer format
            version, or has a truncated or corrupt line; the message starts with
            ``line N:`` and the error has a ``line`` attribute (1-based).
        OSError: the file cannot be read.
    """
    p = Path(path)
    return loads(p.read_bytes(), path=str(p))


def encode_doc(value: object) -> msgspec.Raw:
    """``adk.encode(value)`` as an embeddable JSON fragment."""
    return msgspec.Raw(encode(value))
