"""Reading traces (format: :mod:`adk.trace.format`).

:func:`load` / :func:`loads` read one turn; :func:`load_all` / :func:`loads_all` every turn
of a trace log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from adk.errors import E_INVALID_TRACE_OPTIONS, E_TRACE_FORMAT, AdkError
from adk.primitives.codec import decode
from adk.trace.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    PAYLOAD_TYPES,
    ErrorInfo,
    EventLine,
    GateLine,
    HeaderLine,
    Line,
    RecordLine,
    ResultLine,
    SignalLine,
)
from adk.trace.model import (
    Trace,
    TraceEntry,
    TraceEvent,
    TraceGate,
    TraceHeader,
    TraceRecord,
    TraceResult,
    TraceSignal,
)

__all__ = ["load", "load_all", "loads", "loads_all", "payload_of", "revive"]

_ANY_FIELDS: Final = ("args", "results", "payload", "raw")
_ERROR_FIELDS: Final = ("error",)
_line_decoder: Final = msgspec.json.Decoder(Line)
_HEADER_PREFIX: Final = b'{"t":"header"'  # how the recorder starts every header line


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


def _header(line: HeaderLine, number: int = 1) -> TraceHeader:
    if line.format != FORMAT_NAME:
        raise _fail(number, f"not an adk trace (format {line.format!r})")
    if line.version < 1 or line.version > FORMAT_VERSION:
        raise _fail(
            number,
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


def _split(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        raise _fail(len(lines), "truncated: the last line is not terminated")
    if not lines:
        raise _fail(1, "empty trace: no header")
    return lines


def _parse(lines: list[bytes], first: int, path: str | None, *, log: bool) -> tuple[Trace, int]:
    """Parse the trace starting at ``lines[first]``; returns it and the index after it."""
    header: TraceHeader | None = None
    entries: list[TraceEntry] = []
    index = first
    total = len(lines)
    while index < total:
        text = lines[index]
        index += 1
        number = index  # 1-based line number in the file
        try:
            parsed = _line_decoder.decode(text)
        except msgspec.DecodeError as exc:
            if header is None:
                raise _fail(number, f"not an adk trace header: {exc}", exc) from exc
            raise _fail(number, f"corrupt line: {exc}", exc) from exc
        if header is None:
            if not isinstance(parsed, HeaderLine):
                raise _fail(number, "the first line of a trace must be its header")
            try:
                header = _header(parsed, number)
            except AdkError as exc:
                if exc.code == "E_TRACE_FORMAT":
                    raise
                raise _fail(number, f"undecodable header value: {exc}", exc) from exc
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
            if not log and index < total:
                raise _fail(
                    index + 1,
                    "content after the result line (a trace log of several turns is read "
                    "with adk.trace.load_all)",
                )
            trace = Trace(header=header, entries=tuple(entries), result=result, path=path)
            return trace, index
        if isinstance(parsed, HeaderLine):
            raise _fail(number, "truncated: a new trace starts before this one's result line")
        try:
            entries.append(_entry(parsed))
        except (AdkError, ValueError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise _fail(number, f"corrupt line: {exc}", exc) from exc
    raise _fail(total, "truncated: the trace ends without its result line")


def loads(data: bytes, *, path: str | None = None) -> Trace:
    """Parse one trace from its bytes (see :func:`load`)."""
    return _parse(_split(data), 0, path, log=False)[0]


def loads_all(
    data: bytes, *, path: str | None = None, errors: Literal["raise", "skip"] = "raise"
) -> list[Trace]:
    """Parse every trace of a trace log from its bytes (see :func:`load_all`)."""
    if errors == "raise":
        lines = _split(data)
    elif errors != "skip":
        raise E_INVALID_TRACE_OPTIONS(message=f"errors must be 'raise' or 'skip', got {errors!r}")
    else:
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
    traces: list[Trace] = []
    index = 0
    while index < len(lines):
        try:
            trace, index = _parse(lines, index, path, log=True)
        except AdkError:
            if errors == "raise":
                raise
            index = _next_header(lines, index + 1)
            continue
        traces.append(trace)
    return traces


def _next_header(lines: list[bytes], start: int) -> int:
    """The index of the first line from ``start`` that is a header line (or the end)."""
    for index in range(start, len(lines)):
        if lines[index].startswith(_HEADER_PREFIX):
            return index
    return len(lines)


def load(path: str | Path) -> Trace:
    """Read a trace file written by :class:`~adk.trace.TraceRecorder` (one turn).

    Args:
        path: The ``.jsonl`` file.

    Returns:
        The typed :class:`Trace` (records decoded with ``adk.decode``, payloads as the
        event Structs of :data:`PAYLOAD_TYPES`).

    Raises:
        E_TRACE_FORMAT: the file is not a trace, is of an unknown or newer format
            version, has a truncated or corrupt line, or holds several turns (a trace
            log: use :func:`load_all`); the message starts with ``line N:`` and the
            error has a ``line`` attribute (1-based).
        OSError: the file cannot be read.
    """
    p = Path(path)
    return loads(p.read_bytes(), path=str(p))


def load_all(path: str | Path, *, errors: Literal["raise", "skip"] = "raise") -> list[Trace]:
    """Read every trace of a file: a trace log (``TraceRecorder(..., append=True)``) or one turn.

    Args:
        path: The ``.jsonl`` file.
        errors: ``"raise"``: a bad line fails the whole read. ``"skip"``: a trace with a
            bad line is left out and reading goes on at the next header line (to read
            the turns after a line a crashed process cut short).

    Returns:
        The traces in file order (one for a file written per turn).

    Raises:
        E_TRACE_FORMAT: with ``errors="raise"``, as :func:`load`, for the first bad line
            of any trace (``line N`` counts from the start of the file); nothing is
            returned then.
        E_INVALID_TRACE_OPTIONS: ``errors`` is neither ``"raise"`` nor ``"skip"``.
        OSError: the file cannot be read.
    """
    p = Path(path)
    return loads_all(p.read_bytes(), path=str(p), errors=errors)
