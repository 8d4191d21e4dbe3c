"""``TurnRunner``: the turn input pipeline, one dispatch, the turn output pipeline.

Source: ``src/lib/turn_runner.ts`` of @nhtio/adk, newest behaviour (RUNNERS.md §2). The
order of one ``run()``::

    turn_start
    turn input middleware    (outermost first; each level catches its own error)
    DispatchRunner           (derived from this turn: dispatch input → executor → output, loop)
    turn output middleware   (skipped if the input failed, the dispatch rejected, or aborted)
    turn_end                 (always, exactly once per valid run)

Each step starts once the previous one has fully unwound (RUNNERS.md §2.3).

Failures never raise out of ``run()``: pipeline errors, short circuits and a rejected
dispatch are emitted on the ``error`` bus and recorded in the :class:`TurnResult`; aborts
emit nothing on ``error``. Differences from the ADK (PORT.md §7): fresh pipelines per run
(one runner serves any number of sequential and concurrent turns), prompt abort, listener
isolation, ``generation_stats`` forwarded, standing instructions compared by text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, cast

import msgspec

from adk.contracts._bus import Bus, discard, drain
from adk.contracts.dispatch_context import Ops
from adk.contracts.events import TurnEnd, TurnGateClosed, TurnStart, WarningEvent
from adk.contracts.record_set import RecordSet
from adk.contracts.store import STORE_METHODS
from adk.contracts.turn_context import TurnContext, TurnEmitter
from adk.contracts.types import Executor, Middleware
from adk.errors import (
    E_INPUT_PIPELINE_ERROR,
    E_INVALID_TURN_CONTEXT,
    E_INVALID_TURN_RUNNER_CONFIG,
    E_OUTPUT_PIPELINE_ERROR,
    E_PIPELINE_SHORT_CIRCUITED,
    AbortError,
    AdkError,
    FieldError,
)
from adk.primitives.registry import Registry
from adk.primitives.tokenizable import (
    EstimationWarning,
    Tokenizable,
    pop_estimation_sink,
    push_estimation_sink,
)
from adk.primitives.tool import Tool
from adk.primitives.tool_registry import ToolRegistry
from adk.runners._prompt_abort import Levels
from adk.runners.abort import AbortController
from adk.runners.dispatch import DispatchRunner, _is_cancellation
from adk.runners.gate import TurnGate, open_gate
from adk.runners.onion import run_chain

__all__ = ["TurnResult", "TurnRunner"]

TurnStatus = Literal["completed", "failed", "aborted"]
FUNCTIONAL_EVENTS: Final = frozenset({"message", "thought", "tool_call"})
OBSERVABILITY_EVENTS: Final = frozenset(
    {
        "turn_start",
        "turn_end",
        "turn_gate_open",
        "turn_gate_closed",
        "tool_execution_start",
        "tool_execution_end",
        "dispatch_start",
        "dispatch_end",
        "iteration_start",
        "iteration_end",
        "log",
        "error",
        "warning",
        "generation_stats",
    }
)
_FORWARDED: Final = (
    "dispatch_start",
    "dispatch_end",
    "iteration_start",
    "iteration_end",
    "log",
    "warning",
    "generation_stats",
)
_FORWARDED_SET: Final = frozenset(_FORWARDED)
_CALLBACKS: Final = {f"{name}_callback": name for name in STORE_METHODS}
_MISSING: Final[Any] = object()
_now = datetime.now
_ms = timedelta(milliseconds=1)


class TurnResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one ``run()`` (ours; the ADK's ``run`` returns nothing).

    Attributes:
        turn_id: The TurnContext's id.
        status: ``"aborted"`` if the turn's own signal fired; else ``"failed"`` if anything
            was emitted on ``error``; else ``"completed"`` (PORT.md §9.3).
        errors: The exceptions emitted on ``error``, in order.
        started_at: When ``turn_start`` fired.
        ended_at: When ``turn_end`` fired.
        duration_ms: ``ended_at - started_at`` in milliseconds.
        dispatch_status: ``"ack"``, ``"nack"`` or ``"aborted"``; ``None`` if no dispatch ran.
    """

    turn_id: str
    status: TurnStatus
    errors: tuple[BaseException, ...]
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    dispatch_status: Literal["ack", "nack", "aborted"] | None = None


def _check_pipeline(value: object, path: str, errors: list[FieldError]) -> tuple[Any, ...]:
    if isinstance(value, list | tuple):
        items: tuple[Any, ...] = tuple(cast("Iterable[Any]", value))
        for i, mw in enumerate(items):
            if not callable(mw):
                errors.append(FieldError(f"{path}[{i}]", "must be callable"))
        return items
    errors.append(FieldError(path, "must be a list of middleware"))
    return ()


class _DispatchBus(Bus):
    """The dispatch's observer bus inside a turn: forwards straight to the turn's bus."""

    __slots__ = ("_run",)

    def __init__(self, run: _Run) -> None:
        super().__init__()
        self._run = run

    def has(self, name: str) -> bool:
        return name in _FORWARDED_SET and self._run.observe_bus.has(name)

    @property
    def active(self) -> bool:
        return self._run.observe_bus.active

    def emit(
        self,
        name: str,
        payload: Any,
        pending: list[Any] | None = None,
        on_error: Any = None,
    ) -> None:
        if name in _FORWARDED_SET:
            run = self._run
            run.observe_bus.emit(name, payload, run.pending, run.listener_failed)


class _Run(TurnEmitter):
    """One run's emission state: per-run awaitable queue, listener-error routing."""

    __slots__ = ("errors", "functional_bus", "observe_bus", "pending")

    def __init__(self, functional_bus: Bus, observe_bus: Bus) -> None:
        self.functional_bus = functional_bus
        self.observe_bus = observe_bus
        self.pending: list[Any] = []
        self.errors: list[BaseException] = []

    def functional(self, name: str, payload: Any) -> None:
        self.functional_bus.emit(name, payload, self.pending, self.listener_failed)

    def observe(self, name: str, payload: Any) -> None:
        self.observe_bus.emit(name, payload, self.pending, self.listener_failed)

    def error(self, err: BaseException) -> None:
        self.errors.append(err)
        self.observe("error", err)

    def warning(self, kind: str, message: str, error: BaseException | None, payload: Any) -> None:
        if self.observe_bus.has("warning"):
            self.observe(
                "warning",
                WarningEvent(
                    emitted_at=_now(UTC),
                    source="turn-runner",
                    kind=kind,
                    message=message,
                    error=error,
                    payload=payload,
                ),
            )

    def listener_failed(self, event: str, exc: BaseException) -> None:
        self.warning(
            "listener-error", f"a {event!r} listener raised: {exc!r}", exc, {"event": event}
        )

    def estimation_degraded(self, w: EstimationWarning) -> None:
        self.warning(
            "token-estimation-degraded",
            f"token estimation for {w.encoding!r} failed; fell back to ceil(length / 3.5)",
            w.error,
            {"encoding": w.encoding, "text_preview": w.text_preview},
        )

    def gate_open(self, gate: TurnGate[Any]) -> None:
        self.observe("turn_gate_open", gate)

    def gate_closed(self, event: TurnGateClosed) -> None:
        self.observe("turn_gate_closed", event)


class TurnRunner:
    """Runs turns: input pipeline → one dispatch → output pipeline, reported on two buses.

    Args:
        executor: ``(ctx: DispatchContext, helpers) -> None``, sync or async (the model call).
        store: The ``ContextStore`` supplying every persistence callback not given below;
            ``None`` uses a new :class:`~adk.stores.memory.InMemoryStore`.
        tools: The tools each turn starts with (a fresh ``ToolRegistry`` per run).
        turn_input_pipeline: Turn middleware before the dispatch, outermost first.
        turn_output_pipeline: Turn middleware after the dispatch.
        dispatch_input_pipeline: Dispatch middleware before each executor call.
        dispatch_output_pipeline: Dispatch middleware after each executor call (skipped in
            an iteration where the executor signalled or aborted).
        **callbacks: Any of the ADK's 27 persistence callbacks by snake_case name with the
            ``_callback`` suffix (``fetch_messages_callback=…``), each ``(ctx, …)``, sync or
            async; they override the store's methods.

    Raises:
        E_INVALID_TURN_RUNNER_CONFIG: a bad, missing or unknown argument (every one named).
    """

    __slots__ = (
        "_dispatch_input",
        "_dispatch_output",
        "_executor",
        "_explicit",
        "_functional",
        "_input",
        "_observe",
        "_output",
        "_store",
        "_tools",
    )

    def __init__(
        self,
        *,
        executor: Executor = _MISSING,
        store: Any = None,
        tools: Sequence[Tool] = (),
        turn_input_pipeline: Sequence[Middleware] = (),
        turn_output_pipeline: Sequence[Middleware] = (),
        dispatch_input_pipeline: Sequence[Middleware] = (),
        dispatch_output_pipeline: Sequence[Middleware] = (),
        **callbacks: Any,
    ) -> None:
        errors: list[FieldError] = []
        if executor is _MISSING:
            errors.append(FieldError("executor", "is required"))
        elif not callable(executor):
            errors.append(FieldError("executor", "must be callable"))
        explicit: dict[str, Callable[..., Any]] = {}
        for key, fn in callbacks.items():
            name = _CALLBACKS.get(key)
            if name is None:
                errors.append(FieldError(key, "is not a known argument"))
            elif not callable(fn):
                errors.append(FieldError(key, "must be callable"))
            else:
                explicit[name] = fn
        if store is None:
            if len(explicit) < len(STORE_METHODS):
                from adk.stores.memory import InMemoryStore

                store = InMemoryStore()
        else:
            for name in STORE_METHODS:
                if name not in explicit and not callable(getattr(store, name, None)):
                    errors.append(FieldError(f"store.{name}", "is missing or not callable"))
        tool_list: list[Tool] = []
        if isinstance(tools, list | tuple):
            for i, t in enumerate(cast("Iterable[Any]", tools)):
                if isinstance(t, Tool):
                    tool_list.append(t)
                else:
                    errors.append(FieldError(f"tools[{i}]", "must be a Tool"))
        else:
            errors.append(FieldError("tools", "must be a list of Tool"))
        inp = _check_pipeline(turn_input_pipeline, "turn_input_pipeline", errors)
        out = _check_pipeline(turn_output_pipeline, "turn_output_pipeline", errors)
        d_in = _check_pipeline(dispatch_input_pipeline, "dispatch_input_pipeline", errors)
        d_out = _check_pipeline(dispatch_output_pipeline, "dispatch_output_pipeline", errors)
        if not errors:
            try:
                ToolRegistry(tool_list)
            except AdkError as exc:
                errors.append(FieldError("tools", exc.message))
        if errors:
            detail = "; ".join(map(str, errors))
            raise E_INVALID_TURN_RUNNER_CONFIG(detail, details=errors)
        self._executor = executor
        self._store = store
        self._explicit = explicit
        self._tools = tuple(tool_list)
        self._input = inp
        self._output = out
        self._dispatch_input = d_in
        self._dispatch_output = d_out
        self._functional = Bus()
        self._observe = Bus()

    # -- listeners ----------------------------------------------------------------------
    def on(self, event: str, fn: Callable[[Any], Any]) -> TurnRunner:
        """Listen on the functional bus (``message``, ``thought``, ``tool_call``)."""
        self._functional.add(_event(event, FUNCTIONAL_EVENTS), fn)
        return self

    def once(self, event: str, fn: Callable[[Any], Any]) -> TurnRunner:
        """Listen once on the functional bus."""
        self._functional.add(_event(event, FUNCTIONAL_EVENTS), fn, once=True)
        return self

    def off(self, event: str, fn: Callable[[Any], Any]) -> TurnRunner:
        """Stop listening on the functional bus."""
        self._functional.remove(event, fn)
        return self

    def observe(self, event: str, fn: Callable[[Any], Any]) -> TurnRunner:
        """Listen on the observability bus (PORT.md §3 event names)."""
        self._observe.add(_event(event, OBSERVABILITY_EVENTS), fn)
        return self

    def observe_once(self, event: str, fn: Callable[[Any], Any]) -> TurnRunner:
        """Listen once on the observability bus."""
        self._observe.add(_event(event, OBSERVABILITY_EVENTS), fn, once=True)
        return self

    def unobserve(self, event: str, fn: Callable[[Any], Any]) -> TurnRunner:
        """Stop listening on the observability bus."""
        self._observe.remove(event, fn)
        return self

    @staticmethod
    def is_turn_runner(value: object) -> bool:
        """Whether ``value`` is a TurnRunner."""
        return isinstance(value, TurnRunner)

    # -- run --------------------------------------------------------------------------------
    def _context(
        self,
        run: _Run,
        system_prompt: Any,
        standing_instructions: Any,
        stash: Any,
        controller: Any,
        unknown: Mapping[str, Any],
    ) -> TurnContext:
        errors = [FieldError(k, "is not a known argument") for k in unknown]
        if isinstance(system_prompt, str) and system_prompt:
            prompt = Tokenizable(system_prompt)
        elif isinstance(system_prompt, Tokenizable):
            prompt = system_prompt
        else:
            prompt = Tokenizable("")
            errors.append(
                FieldError("system_prompt", "is required: a non-empty str or Tokenizable")
            )
        instructions: list[Tokenizable] = []
        if isinstance(standing_instructions, list | tuple):
            for i, item in enumerate(cast("Iterable[Any]", standing_instructions)):
                if isinstance(item, Tokenizable):
                    instructions.append(item)
                elif isinstance(item, str) and item:
                    instructions.append(Tokenizable(item))
                else:
                    errors.append(
                        FieldError(f"standing_instructions[{i}]", "must be a str or Tokenizable")
                    )
        else:
            errors.append(FieldError("standing_instructions", "must be a list"))
        if stash is not None and not isinstance(stash, Mapping):
            errors.append(FieldError("stash", "must be a mapping"))
        if controller is None:
            controller = AbortController()
        elif not isinstance(controller, AbortController):
            errors.append(FieldError("turn_abort_controller", "must be an AbortController"))
        if errors:
            raise E_INVALID_TURN_CONTEXT(
                message="the turn runner got an invalid context: " + "; ".join(map(str, errors)),
                details=errors,
            )
        ctx_holder: list[TurnContext] = []

        async def wait_for(**kwargs: Any) -> Any:
            ctx = ctx_holder[0]
            return await open_gate(
                turn_id=ctx.id,
                signal=ctx.abort_signal,
                on_open=run.gate_open,
                on_closed=run.gate_closed,
                **kwargs,
            )

        ctx = TurnContext(
            controller=controller,  # pyright: ignore[reportArgumentType]
            stash=Registry(stash),  # pyright: ignore[reportUnknownArgumentType]
            system_prompt=prompt,
            standing_instructions=RecordSet(instructions),
            tools=ToolRegistry(self._tools),
            ops=Ops(self._store, self._explicit),
            emitter=run,
            wait_for=wait_for,
        )
        ctx_holder.append(ctx)
        return ctx

    async def run(
        self,
        *,
        system_prompt: str | Tokenizable = _MISSING,
        standing_instructions: Sequence[str | Tokenizable] = (),
        stash: Mapping[str, Any] | None = None,
        turn_abort_controller: AbortController | None = None,
        **unknown: Any,
    ) -> TurnResult:
        """Run one turn and return its :class:`TurnResult` (never raises for turn failures).

        Args:
            system_prompt: The system prompt (non-empty ``str`` or Tokenizable).
            standing_instructions: Standing instructions (``str`` are wrapped).
            stash: Initial stash values (deep-copied); ``None`` means empty.
            turn_abort_controller: Aborts the turn when fired; ``None`` makes one.
            **unknown: Not accepted: each is reported in ``E_INVALID_TURN_CONTEXT``.

        Raises:
            E_INVALID_TURN_CONTEXT: bad arguments (before any event).
            BaseException: the cancellation of the awaiting task, re-raised after the turn
                is aborted and ``turn_end`` emitted.
        """
        run = _Run(self._functional, self._observe)
        ctx = self._context(
            run, system_prompt, standing_instructions, stash, turn_abort_controller, unknown
        )
        observe = self._observe
        signal = ctx.abort_signal
        started_at = _now(UTC)
        sink = push_estimation_sink(run.estimation_degraded)
        dispatch_status: Literal["ack", "nack", "aborted"] | None = None
        cancelled: BaseException | None = None
        levels = Levels(signal)
        try:
            if observe.has("turn_start"):
                run.observe("turn_start", TurnStart(turn_id=ctx.id, started_at=started_at))
            if await self._pipeline(
                ctx, run, levels, self._input, E_INPUT_PIPELINE_ERROR, "turn-input"
            ):
                dispatch_bus = _DispatchBus(run)
                try:
                    dispatch_status = await DispatchRunner._for_turn(
                        ctx,
                        self._executor,
                        self._dispatch_input,
                        self._dispatch_output,
                        dispatch_bus,
                    )
                except Exception as exc:
                    dispatch_status = "nack"
                    run.error(exc)
                if dispatch_status != "nack" and not signal._aborted:
                    await self._pipeline(
                        ctx, run, levels, self._output, E_OUTPUT_PIPELINE_ERROR, "turn-output"
                    )
        except BaseException as exc:
            if not _is_cancellation(exc):
                raise
            cancelled = exc
            ctx.abort(AbortError("the turn's task was cancelled"))
        finally:
            pop_estimation_sink(sink)
            levels.close()
        ended_at = _now(UTC)
        if observe.has("turn_end"):
            run.observe(
                "turn_end",
                TurnEnd(
                    turn_id=ctx.id,
                    started_at=started_at,
                    ended_at=ended_at,
                    duration_ms=(ended_at - started_at) / _ms,
                ),
            )
        if cancelled is not None:
            discard(run.pending)
            raise cancelled
        if run.pending:
            await drain(run.pending, run.listener_failed)
        status: TurnStatus = (
            "aborted" if signal._aborted else "failed" if run.errors else "completed"
        )
        return TurnResult(
            turn_id=ctx.id,
            status=status,
            errors=tuple(run.errors),
            started_at=started_at,
            ended_at=ended_at,
            duration_ms=(ended_at - started_at) / _ms,
            dispatch_status=dispatch_status,
        )

    async def _pipeline(
        self,
        ctx: TurnContext,
        run: _Run,
        levels: Levels,
        middlewares: Sequence[Middleware],
        code: type[AdkError],
        label: str,
    ) -> bool:
        """Run a turn pipeline; returns whether the turn goes on (RUNNERS.md §2.3 step 7)."""
        if not middlewares:
            return not ctx.abort_signal._aborted
        failed = False

        def on_error(exc: Exception) -> None:
            nonlocal failed
            failed = True
            run.error(code(message=f"{code.template}: {exc}", cause=exc))

        reached = await run_chain(middlewares, ctx, levels, on_error)
        aborted = ctx.abort_signal._aborted
        if not reached and not failed and not aborted:
            failed = True
            run.error(E_PIPELINE_SHORT_CIRCUITED(label))
        return not failed and not aborted


def _event(name: str, allowed: frozenset[str]) -> str:
    if name not in allowed:
        raise E_INVALID_TURN_RUNNER_CONFIG(
            f"unknown event {name!r}; expected one of {', '.join(sorted(allowed))}"
        )
    return name
