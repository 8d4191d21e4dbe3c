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

Writing never blocks the event loop: listeners append to an in-memory buffer; when the
turn ends the buffer is handed (synchronously, so neither a failure nor a cancellation
can lose it) to one background writer thread per recorder, which encodes it and writes
the whole file. :meth:`~TraceRecorder.flush` waits for the writer (in a worker thread).
Turns are told apart by a context variable set when ``turn_start`` fires, so concurrent
turns (each in its own task) record into separate files.
"""

from __future__ import annotations

import inspect
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import anyio
import anyio.to_thread
import msgspec

from adk._version import __version__
from adk.errors import AbortError, AdkError
from adk.primitives.codec import encode
from adk.runners.gate import TurnGate
from adk.runners.turn import FUNCTIONAL_EVENTS, OBSERVABILITY_EVENTS, TurnResult, TurnRunner
from adk.stores.memory import InMemoryStore
from adk.trace.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ErrorInfo,
    EventLine,
    GateInfo,
    GateLine,
    HeaderLine,
    RecordLine,
    ResultLine,
    SignalLine,
)

__all__ = ["Redactor", "TraceRecorder", "is_abort"]

Redactor = Callable[[dict[str, Any]], dict[str, Any] | None]
"""``(line) -> line | None``: a line as plain JSON (``adk.encode`` envelopes included)."""

_KINDS: Final = ("standing_instruction", "memory", "retrievable", "message", "thought", "tool_call")
_MUTATIONS: Final = tuple(f"{op}_{kind}" for op in ("store", "mutate", "delete") for kind in _KINDS)
_ALL_EVENTS: Final = tuple(sorted(FUNCTIONAL_EVENTS)) + tuple(sorted(OBSERVABILITY_EVENTS))


def is_abort(exc: BaseException) -> bool:
    """Whether ``exc`` is abort-class (``AbortError`` or the async library's cancellation)."""
    if isinstance(exc, AbortError):
        return True
    try:
        return isinstance(exc, anyio.get_cancelled_exc_class())
    except Exception:  # pragma: no cover - no async library running
        return False


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, BaseException):
        return msgspec.structs.asdict(ErrorInfo.of(obj))
    try:
        return msgspec.json.decode(encode(obj))
    except AdkError:
        return repr(obj)


_payload_encoder: Final = msgspec.json.Encoder(enc_hook=_enc_hook)
_line_encoder: Final = msgspec.json.Encoder()


def _doc(value: object) -> msgspec.Raw:
    try:
        return msgspec.Raw(encode(value))
    except AdkError:
        return msgspec.Raw(_payload_encoder.encode(repr(value)))


def _settled_value(gate: TurnGate[Any]) -> Any:
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


class _Turn:
    """One turn's buffer."""

    __slots__ = (
        "calls",
        "dispatch_status",
        "errors",
        "gates",
        "instructions",
        "items",
        "managed",
        "prompt",
        "seq",
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
        self.items: list[tuple[Any, ...]] = []
        self.seq = 0
        self.calls = 0
        self.tools: list[dict[str, Any]] | None = None
        self.errors: list[ErrorInfo] = []
        self.gates: dict[int, TurnGate[Any]] = {}
        self.dispatch_status: Literal["ack", "nack", "aborted"] | None = None
        self.started_at: datetime | None = None


_turn: ContextVar[_Turn | None] = ContextVar("adk_trace_turn", default=None)
_window: ContextVar[tuple[_Turn, int] | None] = ContextVar("adk_trace_call", default=None)


def _call_of(turn: _Turn) -> int | None:
    win = _window.get()
    return win[1] if win is not None and win[0] is turn else None


class _Writer:
    """One background thread writing finished turns, in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="adk-trace-writer", daemon=True
                )
                self._thread.start()
        self._queue.put(job)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                job()
            except BaseException as exc:
                self.errors.append(exc)
            finally:
                self._queue.task_done()

    def join(self) -> None:
        self._queue.join()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()


class TraceRecorder:
    """Records turns to versioned JSONL trace files, one file per turn.

    Args:
        path: A directory (files are ``<path>/<turn_id>.jsonl``; created on first write)
            or a file name template containing ``{turn_id}``.
        redact: Called with every line as plain JSON (a ``dict`` with the ``"t"`` tag;
            records and non-JSON values as ``adk.encode`` envelopes) before it is written;
            return the line (masked as you like) or ``None`` to drop it. The header and
            result lines cannot be dropped (``None`` for them fails the write). It runs
            on the writer thread.

    Attributes:
        paths: ``turn_id → Path`` of every turn handed to the writer, in order.
    """

    def __init__(self, path: str | Path, *, redact: Redactor | None = None) -> None:
        self._path = str(path)
        self._redact = redact
        self._writer = _Writer()
        self._tools: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._listeners: dict[str, Callable[[Any], None]] = {
            name: self._listener(name) for name in _ALL_EVENTS
        }
        self.paths: dict[str, Path] = {}

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
            if name in _MUTATIONS:
                op, kind = name.split("_", 1)
                out[key] = self._recording(op, kind, fn)
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
            turn = _turn.get()
            if turn is None:
                result = executor(ctx, helpers)
                if inspect.isawaitable(result):
                    await result
                return
            if turn.tools is None:
                self._capture_context(turn, ctx)
            call = turn.calls
            turn.calls += 1
            iteration: int = ctx.iteration
            token = _window.set((turn, call))
            try:
                result = executor(ctx, helpers)
                if inspect.isawaitable(result):
                    await result
            except BaseException as exc:
                abort = is_abort(exc)
                turn.seq += 1
                info = None if abort else ErrorInfo.of(exc)
                sig = "abort" if abort else "raise"
                turn.items.append(("signal", turn.seq, call, iteration, sig, info))
                raise
            finally:
                _window.reset(token)
            nack = ctx.nack_error
            if ctx.is_acked:
                sig, info = "ack", None
            elif nack is not None:
                sig, info = "nack", ErrorInfo.of(nack)
            elif ctx.aborted:
                sig, info = "abort", None
            else:
                sig, info = "none", None
            turn.seq += 1
            turn.items.append(("signal", turn.seq, call, iteration, sig, info))

        return recorded

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
        turn = _Turn(True, system_prompt, list(standing_instructions), stash)
        token = _turn.set(turn)
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
            _turn.reset(token)
            if turn.turn_id is not None:
                self._finish(turn, result, cancelled)
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

    # -- capture --------------------------------------------------------------------------------
    def _listener(self, name: str) -> Callable[[Any], None]:
        if name == "turn_start":
            return self._on_turn_start
        if name == "turn_end":
            return self._on_turn_end

        def on(payload: Any) -> None:
            turn = _turn.get()
            if turn is None:
                return
            call = _call_of(turn)
            gate: TurnGate[Any] | None = None
            if name == "error":
                payload = ErrorInfo.of(payload)
                turn.errors.append(payload)
            elif name == "turn_gate_open":
                opened: TurnGate[Any] = payload
                gate = turn.gates[id(opened)] = opened
                payload = GateInfo(
                    id=opened.id,
                    turn_id=opened.turn_id,
                    reason=opened.reason,
                    payload=opened.payload,
                    created_at=opened.created_at,
                    timeout_ms=opened.timeout_ms,
                )
            elif name == "dispatch_end":
                turn.dispatch_status = payload.status
            turn.seq += 1
            turn.items.append(("event", turn.seq, name, call, payload))
            if name == "turn_gate_closed":
                self._gate_closed(turn, payload.gate_id, payload.result)
            elif gate is not None and gate.is_settled:  # settled by an earlier listener
                self._gate_closed(turn, gate.id, gate.result)

        return on

    def _gate_closed(self, turn: _Turn, gate_id: str, result: Any) -> None:
        for key, gate in list(turn.gates.items()):
            if gate.id == gate_id and gate.is_settled:
                del turn.gates[key]
                value = _settled_value(gate) if result == "resolved" else None
                turn.seq += 1
                turn.items.append(("gate", turn.seq, gate.id, result, value))
                return

    def _on_turn_start(self, payload: Any) -> None:
        turn = _turn.get()
        if turn is None or turn.turn_id is not None:
            turn = _Turn(False, None, None, None)
            _turn.set(turn)
        turn.turn_id = payload.turn_id
        turn.started_at = payload.started_at
        turn.seq += 1
        turn.items.append(("event", turn.seq, "turn_start", None, payload))

    def _on_turn_end(self, payload: Any) -> None:
        turn = _turn.get()
        if turn is None:
            return
        turn.seq += 1
        turn.items.append(("event", turn.seq, "turn_end", None, payload))
        if not turn.managed:
            _turn.set(None)
            self._finish(turn, None, False)

    def _capture_context(self, turn: _Turn, ctx: Any) -> None:
        if turn.prompt is None:
            turn.prompt = ctx.system_prompt
            turn.instructions = list(ctx.standing_instructions)
        tools: list[dict[str, Any]] = []
        for tool in ctx.tools.all():
            cached = self._tools.get(id(tool))
            if cached is None or cached[0] is not tool:
                cached = self._tools[id(tool)] = (tool, tool.describe())
            tools.append(cached[1])
        turn.tools = tools

    def capture_record(self, ctx: Any, op: str, kind: str, value: Any) -> None:
        """Record a store/mutate/delete reaching the persistence layer (used by wrappers)."""
        turn = _turn.get()
        if turn is None:
            return
        if turn.prompt is None and hasattr(ctx, "system_prompt"):
            turn.prompt = ctx.system_prompt
            turn.instructions = list(ctx.standing_instructions)
        turn.seq += 1
        turn.items.append(("record", turn.seq, op, kind, _call_of(turn), value))

    def _recording(self, op: str, kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(ctx: Any, value: Any) -> Any:
            self.capture_record(ctx, op, kind, value)
            return fn(ctx, value)

        return wrapped

    # -- writing ----------------------------------------------------------------------------------
    def _file(self, turn_id: str) -> Path:
        if "{turn_id}" in self._path:
            return Path(self._path.format(turn_id=turn_id))
        return Path(self._path) / f"{turn_id}.jsonl"

    def _finish(self, turn: _Turn, result: TurnResult | None, cancelled: bool) -> None:
        turn_id = turn.turn_id or ""
        if result is not None:
            end = ResultLine(
                turn_id=result.turn_id,
                status=result.status,
                errors=[ErrorInfo.of(e) for e in result.errors],
                started_at=result.started_at,
                ended_at=result.ended_at,
                duration_ms=result.duration_ms,
                dispatch_status=result.dispatch_status,
            )
        else:
            ended = datetime.now(UTC)
            started = turn.started_at or ended
            end = ResultLine(
                turn_id=turn_id,
                status="aborted" if cancelled else "failed" if turn.errors else "completed",
                errors=list(turn.errors),
                started_at=started,
                ended_at=ended,
                duration_ms=(ended - started).total_seconds() * 1000.0,
                dispatch_status=turn.dispatch_status,
                cancelled=cancelled,
                derived=True,
            )
        path = self._file(turn_id)
        self.paths[turn_id] = path
        self._writer.submit(lambda: self._write(path, turn, end))

    def _write(self, path: Path, turn: _Turn, end: ResultLine) -> None:
        header = HeaderLine(
            format=FORMAT_NAME,
            version=FORMAT_VERSION,
            adk_version=__version__,
            created_at=datetime.now(UTC),
            turn_id=turn.turn_id or "",
            system_prompt=_doc(turn.prompt if turn.prompt is not None else ""),
            standing_instructions=_doc(list(turn.instructions or ())),
            tools=turn.tools or [],
            stash=msgspec.Raw(b"null") if turn.stash is None else _doc(dict(turn.stash)),
        )
        lines: list[Any] = [header]
        for item in turn.items:
            tag = item[0]
            if tag == "event":
                payload = msgspec.Raw(_payload_encoder.encode(item[4]))
                lines.append(EventLine(seq=item[1], name=item[2], call=item[3], payload=payload))
            elif tag == "record":
                lines.append(
                    RecordLine(
                        seq=item[1], op=item[2], kind=item[3], call=item[4], value=_doc(item[5])
                    )
                )
            elif tag == "signal":
                lines.append(
                    SignalLine(
                        seq=item[1], call=item[2], iteration=item[3], signal=item[4], error=item[5]
                    )
                )
            else:
                lines.append(
                    GateLine(seq=item[1], gate_id=item[2], result=item[3], value=_doc(item[4]))
                )
        lines.append(end)
        out = bytearray()
        redact = self._redact
        for line in lines:
            data = _line_encoder.encode(line)
            if redact is not None:
                plain: dict[str, Any] = msgspec.json.decode(data)
                masked = redact(plain)
                if masked is None:
                    if isinstance(line, HeaderLine | ResultLine):
                        raise ValueError("the redactor cannot drop the header or result line")
                    continue
                data = _line_encoder.encode(masked)
            out += data
            out += b"\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(out))


class RecordingStore:
    """A ``ContextStore`` proxy that records mutations for a :class:`TraceRecorder`.

    Every ``store_*``/``mutate_*``/``delete_*`` call is recorded (with the full record,
    or the id for deletes) and then delegated unchanged; every other attribute is the
    wrapped store's.

    Args:
        inner: The wrapped ``ContextStore``.
        recorder: The recorder to report to.
    """

    def __init__(self, inner: Any, recorder: TraceRecorder) -> None:
        self._inner = inner
        self._recorder = recorder
        for name in _MUTATIONS:
            op, kind = name.split("_", 1)
            setattr(self, name, recorder._recording(op, kind, getattr(inner, name)))

    @property
    def inner(self) -> Any:
        """The wrapped store."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
