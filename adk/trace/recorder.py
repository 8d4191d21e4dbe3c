"""``TraceRecorder``: record turns to trace files (the format is in :mod:`adk.trace.format`).

Wiring, all on the public API::

    recorder = TraceRecorder("traces/")                 # one <turn_id>.jsonl per turn
    runner = recorder.runner(executor=model, store=store, tools=[...])   # or, by hand:
    #   runner = TurnRunner(executor=recorder.wrap_executor(model),
    #                       store=recorder.wrap_store(store), ...)
    #   recorder.attach(runner)
    result = await recorder.run(runner, system_prompt="...", stash={...})
    await recorder.flush()                               # files complete on disk

What each part captures: :meth:`~TraceRecorder.attach` listens to every event of both buses;
:meth:`~TraceRecorder.wrap_store` (and :meth:`~TraceRecorder.wrap_callbacks`) sees every
store/mutate/delete with the full record; :meth:`~TraceRecorder.wrap_executor` marks which
events and records the executor produced (per call) and what it signalled;
:meth:`~TraceRecorder.run` supplies the header (``run()`` arguments) and the real
:class:`~adk.TurnResult`. A turn run with ``runner.run()`` directly is still recorded; its
header then takes the prompt from the executor's context, its stash is ``null`` and its
result line is derived from the events (``derived: true``).

Writing never blocks the event loop for long: listeners append to an in-memory buffer
(:mod:`adk.trace.capture`); when the turn ends the buffer is encoded in one call
(synchronously, so neither a failure nor a cancellation can lose it) and the bytes are
handed to one background writer thread per recorder (:mod:`adk.trace.writer`), which
writes the file (or appends to the trace log).
:meth:`~TraceRecorder.flush` waits for the writer (in a worker thread). Turns are told
apart by a context variable set when ``turn_start`` fires, so concurrent turns (each in
its own task) record into separate files.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.to_thread

from adk.errors import E_INVALID_TRACE_OPTIONS
from adk.runners.turn import TurnResult, TurnRunner
from adk.stores.memory import InMemoryStore
from adk.trace.capture import Capture, RecordingStore, TurnBuffer, current_turn, is_abort
from adk.trace.writer import Redactor, TraceWriter, encode_turn

__all__ = ["RecordingStore", "Redactor", "TraceRecorder", "is_abort"]


class TraceRecorder(Capture):
    """Records turns to versioned JSONL traces: one file per turn, or one trace log.

    Args:
        path: A directory (files are ``<path>/<turn_id>.jsonl``; created on first write),
            a file name template containing ``{turn_id}``, or with ``append=True`` the
            trace log file itself.
        append: Append every turn to the one file ``path`` (a trace log, created if
            missing, never truncated; read it with :func:`~adk.trace.load_all`) instead
            of writing a file per turn. Creating a file costs the file system far more
            than appending to one (on this project's ext4 test VM: 54 µs per 6 KB file
            over 1,000 files, 900 µs over 5,000 as dirty-page writeback throttles,
            against about 10 µs appended), so a log is the layout for recording every
            turn of a service.
        redact: Called with every line as plain JSON (a ``dict`` with the ``"t"`` tag;
            records and non-JSON values as ``adk.encode`` envelopes) before it is written;
            return the line (masked as you like) or ``None`` to drop it. The header and
            result lines cannot be dropped (``None`` for them fails the write). It runs
            on the writer thread.
        batch_turns: The writer thread starts writing at once when this many finished
            turns are queued (an ``int`` >= 1).
        batch_delay: Otherwise it writes at most this many seconds after a turn ends
            (and at once on :meth:`flush`, :meth:`close` and interpreter exit), so it
            does not contend with the event loop turn by turn (0 to
            ``threading.TIMEOUT_MAX``).

    Raises:
        E_INVALID_TRACE_OPTIONS: an empty ``path``, ``append=True`` with a ``{turn_id}``
            template, a ``redact`` that is not callable, or a bad ``batch_turns`` /
            ``batch_delay`` (every bad field is named).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        append: bool = False,
        redact: Redactor | None = None,
        batch_turns: int = 256,
        batch_delay: float = 1.0,
    ) -> None:
        _check_options(path, append, redact, batch_turns, batch_delay)
        super().__init__()
        self._path = os.fspath(path)
        self._append = append
        self._template = not append and "{turn_id}" in self._path
        self._writer = TraceWriter(
            redact, append=append, batch_turns=batch_turns, batch_delay=batch_delay
        )
        self._paths: dict[str, str] = {}

    @property
    def paths(self) -> dict[str, Path]:
        """``turn_id → Path`` of every turn handed to the writer, in order (a new dict).

        With ``append=True`` every turn maps to the trace log.
        """
        return {turn_id: Path(p) for turn_id, p in self._paths.items()}

    def runner(
        self,
        *,
        executor: Callable[..., Any],
        store: Any = None,
        **kwargs: Any,
    ) -> TurnRunner:
        """Build a recorded ``TurnRunner``: executor and store wrapped, listeners attached.

        Args:
            executor: The executor (wrapped with :meth:`wrap_executor`).
            store: The ``ContextStore`` (wrapped); ``None`` uses a new ``InMemoryStore``.
            **kwargs: Any other ``TurnRunner`` argument; ``*_callback`` keywords are
                wrapped with :meth:`wrap_callbacks`.

        Raises:
            E_INVALID_TURN_RUNNER_CONFIG: as ``TurnRunner``.
        """
        callbacks = {k: v for k, v in kwargs.items() if k.endswith("_callback")}
        rest = {k: v for k, v in kwargs.items() if k not in callbacks}
        options: dict[str, Any] = {**rest, **self.wrap_callbacks(**callbacks)}
        runner = TurnRunner(
            executor=self.wrap_executor(executor),
            store=self.wrap_store(InMemoryStore() if store is None else store),
            **options,
        )
        return self.attach(runner)

    # -- running ----------------------------------------------------------------------------
    async def run(
        self,
        runner: TurnRunner,
        *,
        system_prompt: Any,
        standing_instructions: Sequence[Any] = (),
        stash: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> TurnResult:
        """Run one turn on an attached ``runner`` and record it with its real result.

        The trace is handed to the writer when the turn ends, whether it completed,
        failed or was cancelled (a cancelled turn's result line has ``cancelled: true``
        and status ``"aborted"``).

        Args:
            runner: A runner this recorder is attached to.
            system_prompt: As ``TurnRunner.run``.
            standing_instructions: As ``TurnRunner.run``.
            stash: As ``TurnRunner.run``.
            **kwargs: Passed on to ``TurnRunner.run`` (``turn_abort_controller``).

        Returns:
            The ``TurnResult``.

        Raises:
            E_INVALID_TURN_CONTEXT: as ``TurnRunner.run`` (nothing is recorded).
            BaseException: the task's cancellation, re-raised after the trace is queued.
        """
        turn = TurnBuffer(True, system_prompt, list(standing_instructions), stash)
        token = current_turn.set(turn)
        result: TurnResult | None = None
        cancelled = False
        try:
            result = await runner.run(
                system_prompt=system_prompt,
                standing_instructions=standing_instructions,
                stash=stash,
                **kwargs,
            )
        except BaseException as exc:
            cancelled = is_abort(exc)
            raise
        finally:
            current_turn.reset(token)
            if turn.turn_id is not None:
                turn.result = result
                if result is None:
                    turn.cancelled = cancelled
                    turn.ended_at = datetime.now(UTC)
                self.finish(turn)
        assert result is not None  # run() either returned or raised above
        return result

    async def flush(self) -> None:
        """Wait until every queued trace is on disk (the wait runs in a worker thread).

        Raises:
            BaseException: the first error the writer met since the last flush (an
                ``OSError``, a failing redactor, …); that turn's file is not written.
        """
        await anyio.to_thread.run_sync(self._writer.join)
        self._raise_errors()

    def close(self) -> None:
        """Write what is queued and stop the writer thread (blocking; for sync code).

        Raises:
            BaseException: as :meth:`flush`.
        """
        self._writer.close()
        self._raise_errors()

    async def __aenter__(self) -> TraceRecorder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self._writer.close)
        self._raise_errors()

    def _raise_errors(self) -> None:
        errors = self._writer.errors
        if errors:
            first = errors[0]
            errors.clear()
            raise first

    def _file(self, turn_id: str) -> str:
        if self._append:
            return self._path
        if self._template:
            return self._path.format(turn_id=turn_id)
        return os.path.join(self._path, f"{turn_id}.jsonl")

    def finish(self, turn: TurnBuffer) -> None:
        """Encode a finished turn and queue it for writing (once per turn, on the event loop).

        Encoding here, not on the writer thread, frees the turn's live objects at once
        (see :mod:`adk.trace.writer`). An encoding failure (none is expected: values
        that cannot be encoded are written as their ``repr``) is kept and raised by
        :meth:`flush`, never in the turn.
        """
        turn_id = turn.turn_id or ""
        path = self._paths[turn_id] = self._file(turn_id)
        try:
            data = encode_turn(turn)
        except Exception as exc:
            self._writer.errors.append(exc)
            return
        self._writer.submit(path, data)


def _check_options(
    path: object, append: object, redact: object, batch_turns: object, batch_delay: object
) -> None:
    bad: list[str] = []
    try:
        given: Any = path
        text: object = cast(object, os.fspath(given))
    except TypeError:
        text = None
    if not isinstance(text, str) or not text:
        bad.append(f"path must be a non-empty str path, got {path!r}")
    elif append is True and "{turn_id}" in text:
        bad.append("path: a {turn_id} template cannot be used with append=True")
    if not isinstance(append, bool):
        bad.append(f"append must be a bool, got {append!r}")
    if redact is not None and not callable(redact):
        bad.append(f"redact must be callable or None, got {redact!r}")
    if isinstance(batch_turns, bool) or not isinstance(batch_turns, int) or batch_turns < 1:
        bad.append(f"batch_turns must be an int >= 1, got {batch_turns!r}")
    if (
        isinstance(batch_delay, bool)
        or not isinstance(batch_delay, int | float)
        or not 0 <= batch_delay <= threading.TIMEOUT_MAX
    ):
        bad.append(
            f"batch_delay must be a number of seconds from 0 to {threading.TIMEOUT_MAX:g}, "
            f"got {batch_delay!r}"
        )
    if bad:
        raise E_INVALID_TRACE_OPTIONS(message="; ".join(bad))
