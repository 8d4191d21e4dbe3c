"""Writing finished turns: one encode call per turn, one background thread for the files.

When a turn ends the recorder encodes its :class:`~adk.trace.capture.TurnBuffer` on the
event loop, synchronously (so neither a failure nor a cancellation can lose it):
:func:`encode_turn` encodes the records and gate values with ``adk.encode``, builds the
header and result lines and encodes all lines with a single ``encode_lines`` call. The
live buffer is dropped at once, so finished turns waiting to be written hold bytes, not
objects the garbage collector must walk. The :class:`TraceWriter` thread takes every
queued turn at once, applies the redactor, and writes each file with one ``os.write``
(one per file and batch when appending to a trace log); the file system's work then
runs off the event loop, outside the GIL.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from adk._version import __version__
from adk.trace.capture import TurnBuffer
from adk.trace.encoding import doc_tree, line_encoder
from adk.trace.format import FORMAT_NAME, FORMAT_VERSION, ErrorInfo, HeaderOut, ResultLine

__all__ = ["Redactor", "TraceWriter", "encode_turn", "redact_lines", "write_file"]

Redactor = Callable[[dict[str, Any]], dict[str, Any] | None]
"""``(line) -> line | None``: a line as plain JSON (``adk.encode`` envelopes included)."""

_EMPTY: Final = msgspec.Raw(b"[]")
_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_REPLACE: Final = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _CLOEXEC
_APPEND: Final = os.O_RDWR | os.O_CREAT | os.O_APPEND | _CLOEXEC


def _iov_max() -> int:
    try:
        limit = os.sysconf("SC_IOV_MAX")
    except (AttributeError, ValueError, OSError):  # no sysconf, or the name is unknown
        return 16
    return 1024 if limit < 1 else min(1024, limit)  # -1: no stated limit


_IOV_MAX: Final = _iov_max()
_decoder: Final = msgspec.json.Decoder()


def _result_line(turn: TurnBuffer) -> ResultLine:
    result = turn.result
    if result is not None:
        return ResultLine(
            turn_id=result.turn_id,
            status=result.status,
            errors=[ErrorInfo.of(e) for e in result.errors],
            started_at=result.started_at,
            ended_at=result.ended_at,
            duration_ms=result.duration_ms,
            dispatch_status=result.dispatch_status,
        )
    ended = turn.ended_at or datetime.now(UTC)
    started = turn.started_at or ended
    cancelled = turn.cancelled
    return ResultLine(
        turn_id=turn.turn_id or "",
        status="aborted" if cancelled else "failed" if turn.errors else "completed",
        errors=list(turn.errors),
        started_at=started,
        ended_at=ended,
        duration_ms=(ended - started).total_seconds() * 1000.0,
        dispatch_status=turn.dispatch_status,
        cancelled=cancelled,
        derived=True,
    )


def encode_turn(turn: TurnBuffer, redact: Redactor | None = None) -> bytes:
    """A finished turn as the bytes of its trace (the recorder calls it once per turn).

    Args:
        turn: The finished buffer (its record and gate lines get their encoded values,
            so a second call encodes the same lines; only the header's ``created_at``
            differs).
        redact: A redactor applied line by line (see :func:`redact_lines`), or ``None``.

    Returns:
        The JSONL bytes, newline-terminated.

    Raises:
        ValueError: the redactor dropped the header or the result line.
        Exception: whatever the redactor raised.
    """
    for line in turn.docs:
        line.value = doc_tree(line.value)
    turn.docs.clear()  # encoded once: encoding the turn again gives the same bytes
    prompt = turn.prompt
    instructions = turn.instructions
    header = HeaderOut(
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        adk_version=__version__,
        created_at=datetime.now(UTC),
        turn_id=turn.turn_id or "",
        system_prompt=prompt if type(prompt) is str else doc_tree("" if prompt is None else prompt),
        standing_instructions=doc_tree(list(instructions)) if instructions else _EMPTY,
        tools=turn.tools or _EMPTY,
        stash=None if turn.stash is None else doc_tree(dict(turn.stash)),
    )
    data = line_encoder.encode_lines([header, *turn.lines, _result_line(turn)])
    return data if redact is None else redact_lines(data, redact)


def redact_lines(data: bytes, redact: Redactor) -> bytes:
    """Apply ``redact`` to every line of one encoded turn.

    Args:
        data: One turn's JSONL bytes (from :func:`encode_turn`).
        redact: Called with each line as plain JSON; returns the line to write or ``None``
            to drop it.

    Returns:
        The redacted JSONL bytes, newline-terminated.

    Raises:
        ValueError: the redactor dropped the header or the result line.
        Exception: whatever the redactor raised.
    """
    out = bytearray()
    lines = data.split(b"\n")
    lines.pop()  # the empty piece after the last newline
    last = len(lines) - 1
    for number, line in enumerate(lines):
        masked = redact(_decoder.decode(line))
        if masked is None:
            if number == 0 or number == last:
                raise ValueError("the redactor cannot drop the header or result line")
            continue
        out += line_encoder.encode(masked)
        out += b"\n"
    return bytes(out)


def write_file(path: str, data: bytes | list[bytes], *, append: bool = False) -> None:
    """Write ``data`` as the whole file ``path``, or append it (directory created if missing).

    Args:
        path: The file.
        data: Whole lines (newline-terminated), as bytes or a list of chunks (written
            with ``writev``, so they are never joined into one large copy).
        append: Append to the file (created if missing) instead of replacing it. A file
            whose last line was cut (a process died while writing it) first gets a
            newline, so the new lines start on a line of their own.

    Raises:
        OSError: the file cannot be written.
    """
    chunks = [data] if isinstance(data, bytes) else data
    flags = _APPEND if append else _REPLACE
    try:
        fd = os.open(path, flags, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd = os.open(path, flags, 0o666)
    try:
        if append and _cut(fd):
            chunks = [b"\n", *chunks]
        _write_all(fd, chunks)
    finally:
        os.close(fd)


def _cut(fd: int) -> bool:
    """Whether the file ends inside a line (``False`` when it cannot tell: a pipe)."""
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        return end > 0 and os.pread(fd, 1, end - 1) != b"\n"
    except OSError:  # not seekable (a pipe, a socket, a tty): nothing to repair
        return False


def _write_all(fd: int, chunks: list[bytes]) -> None:
    """``writev`` every chunk, at most ``_IOV_MAX`` per call, resuming after short writes."""
    total = len(chunks)
    start = 0
    while start < total:
        group: list[bytes | memoryview] = list(chunks[start : start + _IOV_MAX])
        written = os.writev(fd, group)
        for chunk in group:
            size = len(chunk)
            if written < size:
                break
            written -= size
            start += 1
        else:
            continue
        # a short write: the rest of this chunk alone, then carry on with the next ones
        rest = memoryview(chunks[start])[written:]
        while rest:
            rest = rest[os.write(fd, rest) :]
        start += 1


class TraceWriter:
    """One daemon thread writing queued turns in order (started on the first submit).

    The thread writes in batches: when ``batch_delay`` seconds have passed since a turn
    was queued into an empty queue, when ``batch_turns`` turns are queued, or at once on
    :meth:`join` / :meth:`close` (and at interpreter exit). Batching keeps the thread
    from contending with the event loop for the GIL turn by turn; in append mode each
    batch is one write per file.

    Args:
        redact: Applied to each turn on the thread (:func:`redact_lines`).
        append: Append every turn to its path (a trace log) instead of writing the
            path whole.
        batch_turns: Queue length that starts a write at once.
        batch_delay: Longest wait (seconds) before queued turns are written.

    Attributes:
        errors: Errors met while writing since they were last taken (the turns they hit
            are not written); the recorder raises the first on ``flush``/``close``.
    """

    def __init__(
        self,
        redact: Redactor | None = None,
        *,
        append: bool = False,
        batch_turns: int = 256,
        batch_delay: float = 1.0,
    ) -> None:
        self._redact = redact
        self._append = append
        self._batch_turns = batch_turns
        self._batch_delay = batch_delay
        self._jobs: deque[tuple[str, bytes]] = deque()
        self._lock = threading.Lock()
        self._work = threading.Event()
        self._now = threading.Event()
        self._done = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def submit(self, path: str, data: bytes) -> None:
        """Queue one turn's encoded ``data`` to be written to ``path`` (returns at once)."""
        with self._lock:
            jobs = self._jobs
            jobs.append((path, data))
            self._submitted += 1
            if self._thread is None:
                self._stop = False
                self._thread = threading.Thread(
                    target=self._loop, name="adk-trace-writer", daemon=True
                )
                self._thread.start()
                atexit.register(self.close)
            queued = len(jobs)
        if queued == 1:
            self._work.set()
        elif queued >= self._batch_turns:
            self._now.set()

    def _loop(self) -> None:
        jobs = self._jobs
        while True:
            self._work.wait()
            self._now.wait(self._batch_delay)
            self._work.clear()
            self._now.clear()
            while jobs:
                batch: list[tuple[str, bytes]] = []
                with self._lock:
                    while jobs:
                        batch.append(jobs.popleft())
                self._write(batch)
                with self._done:
                    self._written += len(batch)
                    self._done.notify_all()
            if self._stop:
                return

    def _write(self, batch: list[tuple[str, bytes]]) -> None:
        redact = self._redact
        logs: dict[str, list[bytes]] = {}
        for path, data in batch:
            try:
                if redact is not None:
                    data = redact_lines(data, redact)
                if self._append:
                    logs.setdefault(path, []).append(data)
                else:
                    write_file(path, data)
            except BaseException as exc:
                self.errors.append(exc)
        for path, chunks in logs.items():
            try:
                write_file(path, chunks, append=True)
            except BaseException as exc:
                self.errors.append(exc)

    def join(self) -> None:
        """Write every turn submitted so far now; block until they are written (or failed).

        Raises:
            RuntimeError: the writer thread died (never expected: it catches every error).
        """
        with self._lock:
            target = self._submitted
        if self._written >= target:
            return
        self._now.set()
        with self._done:
            while self._written < target:
                if self._done.wait(1.0):
                    continue
                thread = self._thread
                if thread is None or not thread.is_alive():  # pragma: no cover - a bug
                    raise RuntimeError("the trace writer thread died with turns queued")

    def close(self) -> None:
        """Write what is queued and stop the thread (a later submit starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop = True
        if thread is not None:
            atexit.unregister(self.close)
            self._work.set()
            self._now.set()
            thread.join()
