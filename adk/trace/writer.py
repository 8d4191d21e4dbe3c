"""Writing finished turns: one background thread, one encode call and one write per file.

The event loop only appends a finished :class:`~adk.trace.capture.TurnBuffer` to the
writer's queue (synchronously, so neither a failure nor a cancellation can lose it) and
wakes the thread if it sleeps. The thread takes every queued turn at once and, per turn,
encodes the records and gate values with ``adk.encode``, builds the header and result
lines, encodes all lines with a single ``encode_lines`` call (without a redactor), then
writes the file with one ``os.write``.
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
from adk.trace.encoding import encode_doc, line_encoder
from adk.trace.format import FORMAT_NAME, FORMAT_VERSION, ErrorInfo, HeaderLine, ResultLine

__all__ = ["Redactor", "TraceWriter", "encode_turn", "write_file"]

Redactor = Callable[[dict[str, Any]], dict[str, Any] | None]
"""``(line) -> line | None``: a line as plain JSON (``adk.encode`` envelopes included)."""

_NULL: Final = msgspec.Raw(b"null")
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
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
    """A finished turn as the bytes of its trace file.

    Args:
        turn: The finished buffer (its record and gate lines get their encoded values,
            so a second call encodes the same lines; only the header's ``created_at``
            differs).
        redact: The recorder's redactor, or ``None``.

    Returns:
        The JSONL bytes, newline-terminated.

    Raises:
        ValueError: the redactor dropped the header or the result line.
        Exception: whatever the redactor raised.
    """
    for line in turn.docs:
        line.value = encode_doc(line.value)
    turn.docs.clear()  # encoded once: encoding the turn again gives the same bytes
    header = HeaderLine(
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        adk_version=__version__,
        created_at=datetime.now(UTC),
        turn_id=turn.turn_id or "",
        system_prompt=encode_doc(turn.prompt if turn.prompt is not None else ""),
        standing_instructions=encode_doc(list(turn.instructions or ())),
        tools=turn.tools or [],
        stash=_NULL if turn.stash is None else encode_doc(dict(turn.stash)),
    )
    lines: list[Any] = [header, *turn.lines, _result_line(turn)]
    if redact is None:
        return line_encoder.encode_lines(lines)
    out = bytearray()
    last = len(lines) - 1
    for number, line in enumerate(lines):
        masked = redact(_decoder.decode(line_encoder.encode(line)))
        if masked is None:
            if number == 0 or number == last:
                raise ValueError("the redactor cannot drop the header or result line")
            continue
        out += line_encoder.encode(masked)
        out += b"\n"
    return bytes(out)


def write_file(path: str, data: bytes) -> None:
    """Write ``data`` as the whole file ``path`` (its directory created if missing).

    Raises:
        OSError: the file cannot be written.
    """
    try:
        fd = os.open(path, _FLAGS, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd = os.open(path, _FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class TraceWriter:
    """One daemon thread writing queued turns in order (started on the first submit).

    The thread writes in batches: when ``batch_delay`` seconds have passed since a turn
    was queued into an empty queue, when ``batch_turns`` turns are queued, or at once on
    :meth:`join` / :meth:`close` (and at interpreter exit). Batching keeps the thread
    from contending with the event loop for the GIL turn by turn.

    Args:
        redact: Passed to :func:`encode_turn`.
        batch_turns: Queue length that starts a write at once.
        batch_delay: Longest wait (seconds) before queued turns are written.

    Attributes:
        errors: Errors met while writing since they were last taken (the turns they hit
            are not written); the recorder raises the first on ``flush``/``close``.
    """

    def __init__(
        self, redact: Redactor | None = None, *, batch_turns: int = 1024, batch_delay: float = 1.0
    ) -> None:
        self._redact = redact
        self._batch_turns = batch_turns
        self._batch_delay = batch_delay
        self._jobs: deque[tuple[str, TurnBuffer]] = deque()
        self._lock = threading.Lock()
        self._work = threading.Event()
        self._now = threading.Event()
        self._done = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def submit(self, path: str, turn: TurnBuffer) -> None:
        """Queue ``turn`` to be written to ``path`` (returns at once)."""
        with self._lock:
            jobs = self._jobs
            jobs.append((path, turn))
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
                batch: list[tuple[str, TurnBuffer]] = []
                with self._lock:
                    while jobs:
                        batch.append(jobs.popleft())
                for path, turn in batch:
                    try:
                        write_file(path, encode_turn(turn, self._redact))
                    except BaseException as exc:
                        self.errors.append(exc)
                with self._done:
                    self._written += len(batch)
                    self._done.notify_all()
            if self._stop:
                return

    def join(self) -> None:
        """Write every turn submitted so far now; block until they are written (or failed)."""
        with self._lock:
            target = self._submitted
        if self._written >= target:
            return
        self._now.set()
        with self._done:
            while self._written < target:
                self._done.wait()

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
