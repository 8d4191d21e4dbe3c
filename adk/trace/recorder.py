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

Writing never blocks the event loop: listeners append to an in-memory buffer
(:mod:`adk.trace.capture`); when the turn ends the buffer is handed (synchronously, so
neither a failure nor a cancellation can lose it) to one background writer thread per
recorder (:mod:`adk.trace.writer`), which encodes it and writes the whole file.
:meth:`~TraceRecorder.flush` waits for the writer (in a worker thread). Turns are told
apart by a context variable set when ``turn_start`` fires, so concurrent turns (each in
its own task) record into separate files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from adk.runners.turn import TurnResult, TurnRunner
from adk.stores.memory import InMemoryStore
from adk.trace.capture import Capture, RecordingStore, TurnBuffer, current_turn, is_abort
from adk.trace.writer import Redactor, TraceWriter

__all__ = ["RecordingStore", "Redactor", "TraceRecorder", "is_abort"]


class TraceRecorder(Capture):
    """Records turns to versioned JSONL trace files, one file per turn.

    Args:
        path: A directory (files are ``<path>/<turn_id>.jsonl``; created on first write)
            or a file name template containing ``{turn_id}``.
        redact: Called with every line as plain JSON (a ``dict`` with the ``"t"`` tag;
            records and non-JSON values as ``adk.encode`` envelopes) before it is written;
            return the line (masked as you like) or ``None`` to drop it. The header and
            result lines cannot be dropped (``None`` for them fails the write). It runs
            on the writer thread.
        batch_turns: The writer thread starts writing at once when this many finished
            turns are queued.
        batch_delay: Otherwise it writes at most this many seconds after a turn ends
            (and at once on :meth:`flush`, :meth:`close` and interpreter exit), so it
            does not contend with the event loop turn by turn.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        redact: Redactor | None = None,
        batch_turns: int = 1024,
        batch_delay: float = 1.0,
    ) -> None:
        super().__init__()
        self._path = os.fspath(path)
        self._template = "{turn_id}" in self._path
        self._writer = TraceWriter(redact, batch_turns=batch_turns, batch_delay=batch_delay)
        self._paths: dict[str, str] = {}

    @property
    def paths(self) -> dict[str, Path]:
        """``turn_id → Path`` of every turn handed to the writer, in order (a new dict)."""
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
        if self._template:
            return self._path.format(turn_id=turn_id)
        return os.path.join(self._path, f"{turn_id}.jsonl")

    def finish(self, turn: TurnBuffer) -> None:
        """Queue a finished turn for writing (called once per turn, on the event loop)."""
        turn_id = turn.turn_id or ""
        path = self._paths[turn_id] = self._file(turn_id)
        self._writer.submit(path, turn)
