"""``DispatchRunner``: one bounded loop of "call the executor, run tools, call again".

Source: ``src/lib/dispatch_runner.ts`` of @nhtio/adk, newest behaviour (RUNNERS.md §3).
Each iteration::

    iteration_start → forge artifact tools → dispatch input pipeline
      → checkpoint A → executor(ctx, helpers) → checkpoint B
      → dispatch output pipeline → flush deltas → iteration_end

A checkpoint that finds the context aborted or signalled ends the loop: the deltas of that
iteration are flushed only if it acked and is not aborted; ``iteration_end`` does not fire
and the iteration is not counted. Status precedence: thrown error > nack > ack > aborted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from adk.contracts._bus import Bus
from adk.contracts.dispatch_context import (
    Forwarder,
    apply_instruction,
    apply_record,
)
from adk.contracts.events import (
    DispatchEnd,
    DispatchStart,
    DispatchStatus,
    GenerationStatsEvent,
    IterationEnd,
    IterationStart,
    LogEvent,
    ToolExecutionEnd,
    ToolExecutionStart,
    TurnStreamableContent,
    TurnToolCallContent,
    WarningEvent,
)
from adk.contracts.types import Executor, Middleware
from adk.errors import (
    E_DISPATCH_PIPELINE_ERROR,
    E_INVALID_LLM_DISPATCH_INPUT,
    E_LLM_EXECUTION_EXECUTOR_ERROR,
    E_PIPELINE_SHORT_CIRCUITED,
    AbortError,
    AdkError,
)
from adk.primitives.ids import new_id
from adk.primitives.tokenizable import (
    EstimationWarning,
    pop_estimation_sink,
    push_estimation_sink,
)
from adk.runners._build import (
    SET_NAMES,
    build_derived,
    build_standalone,
    check_dispatch_input,
)
from adk.runners._prompt_abort import Levels
from adk.runners.helpers import DispatchExecutorHelpers
from adk.runners.onion import run_chain

__all__ = ["DispatchRunner", "executor_error"]

_TOKEN: Final = object()
_now = datetime.now
_ms = timedelta(milliseconds=1)


def _is_cancellation(exc: BaseException) -> bool:
    # asyncio.CancelledError, or trio.Cancelled (checked by name: trio is optional).
    return isinstance(exc, asyncio.CancelledError) or type(exc).__name__ == "Cancelled"


def executor_error(cause: BaseException) -> AdkError:
    """Wrap what an executor raised as ``E_LLM_EXECUTION_EXECUTOR_ERROR`` (``executorError``).

    The message is the static text without its trailing period, ``": "``, then the cause's
    message (trimmed); the suffix is skipped when that is empty or equal to the static
    text. The cause is kept as ``__cause__``.
    """
    static = E_LLM_EXECUTION_EXECUTOR_ERROR.template
    try:
        text = str(cause).strip()
    except Exception:
        text = ""
    message = static if not text or text == static else f"{static.rstrip('.')}: {text}"
    return E_LLM_EXECUTION_EXECUTOR_ERROR(message=message, cause=cause)


class _Forward(Forwarder):
    """Routes context emissions to the runner's listeners, then to the parent turn.

    Which events the runner's bus hears is decided once: listeners are registered before
    the dispatch starts.
    """

    __slots__ = ("bus", "heard", "source")

    def __init__(self, bus: Bus, source: Any) -> None:
        self.bus = bus
        self.source = source
        self.heard = frozenset(
            name
            for name in (
                "message",
                "thought",
                "tool_call",
                "tool_execution_start",
                "tool_execution_end",
            )
            if bus.has(name)
        )

    def message(self, content: TurnStreamableContent) -> None:
        if "message" in self.heard:
            self.bus.emit("message", content)
        if self.source is not None:
            self.source.emit_message(content)

    def thought(self, content: TurnStreamableContent) -> None:
        if "thought" in self.heard:
            self.bus.emit("thought", content)
        if self.source is not None:
            self.source.emit_thought(content)

    def tool_call(self, content: TurnToolCallContent) -> None:
        if "tool_call" in self.heard:
            self.bus.emit("tool_call", content)
        if self.source is not None:
            self.source.emit_tool_call(content)

    def tool_execution_start(self, event: ToolExecutionStart) -> None:
        if "tool_execution_start" in self.heard:
            self.bus.emit("tool_execution_start", event)
        if self.source is not None:
            self.source.emit_tool_execution_start(event)

    def tool_execution_end(self, event: ToolExecutionEnd) -> None:
        if "tool_execution_end" in self.heard:
            self.bus.emit("tool_execution_end", event)
        if self.source is not None:
            self.source.emit_tool_execution_end(event)


class DispatchRunner:
    """Runs one dispatch; use :meth:`dispatch` (a runner is single-use and built for you).

    Raises:
        E_INVALID_LLM_DISPATCH_INPUT: when constructed directly.
    """

    __slots__ = ("_bus", "_ctx", "_deltas", "_executor", "_input", "_levels", "_output", "_source")

    def __init__(
        self,
        token: object = None,
        ctx: Any = None,
        executor: Any = None,
        input_pipeline: Sequence[Middleware] = (),
        output_pipeline: Sequence[Middleware] = (),
        bus: Any = None,
        source: Any = None,
        **_: Any,
    ) -> None:
        if token is not _TOKEN:
            raise E_INVALID_LLM_DISPATCH_INPUT(
                message="DispatchRunner is not constructed directly; "
                "use `await DispatchRunner.dispatch(...)`"
            )
        self._ctx = ctx
        self._executor = executor
        self._input = input_pipeline
        self._output = output_pipeline
        self._bus = bus
        self._source = source
        self._levels: Levels | None = None
        self._deltas: list[tuple[str, str, Any]] | None = [] if source is not None else None
        ctx._deltas = self._deltas
        ctx._forward = _Forward(bus, source)
        ctx._get_hooks().on_error = self._listener_failed
        bus.on_error = self._listener_failed

    @staticmethod
    async def dispatch(
        *,
        source: Any = None,
        raw: Mapping[str, Any] | None = None,
        executor: Executor | None = None,
        turn_input_pipeline: Sequence[Middleware] = (),
        turn_output_pipeline: Sequence[Middleware] = (),
        hooks: Mapping[str, Any] | None = None,
        observers: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> None:
        """Run one dispatch to its signal or abort.

        Args:
            source: The parent ``TurnContext`` (derived path), or ``None``.
            raw: The standalone context (RUNNERS.md §3.1 fields in snake_case): required
                ``system_prompt``; optional pre-populated ``messages`` … ``tool_calls``,
                ``tools``, ``standing_instructions``, ``stash``, ``turn_abort_controller``,
                ``wait_for``, ``hooks``; persistence callbacks by their ``ContextStore``
                names, the missing ones taken from ``store`` (default ``InMemoryStore()``).
            executor: ``(ctx, helpers) -> None``, sync or async; required.
            turn_input_pipeline: Dispatch input middleware (despite the ADK's name).
            turn_output_pipeline: Dispatch output middleware.
            hooks: ``message``/``thought``/``tool_call`` → a listener or a list.
            observers: ``dispatch_start``, ``dispatch_end``, ``iteration_start``,
                ``iteration_end``, ``tool_execution_start``, ``tool_execution_end``,
                ``error``, ``log``, ``warning``, ``generation_stats`` → listener(s).
            **unknown: Not accepted: each is reported in ``E_INVALID_LLM_DISPATCH_INPUT``.

        Raises:
            E_INVALID_LLM_DISPATCH_INPUT: bad arguments (before any event).
            E_INVALID_LLM_EXECUTION_CONTEXT: ``raw`` cannot make a context (before any event).
            E_DISPATCH_PIPELINE_ERROR, E_PIPELINE_SHORT_CIRCUITED,
            E_LLM_EXECUTION_EXECUTOR_ERROR: the dispatch failed (status ``nack``).
            BaseException: the raw ``nack`` error, unchanged.

        Resolves (returns ``None``) on ``ack`` and on abort. Cancelling the awaiting task
        aborts the dispatch, emits ``dispatch_end`` (status ``aborted``) and re-raises.
        """
        inp, out, listeners = check_dispatch_input(
            source=source,
            raw=raw,
            executor=executor,
            turn_input_pipeline=turn_input_pipeline,
            turn_output_pipeline=turn_output_pipeline,
            hooks=hooks,
            observers=observers,
            unknown=unknown,
        )
        ctx = build_derived(source) if source is not None else build_standalone(raw)
        bus = Bus()
        bus.add_many(listeners)
        runner = DispatchRunner(_TOKEN, ctx, executor, inp, out, bus, source)  # pyright: ignore[reportArgumentType]
        await runner._run()

    @staticmethod
    async def _for_turn(
        source: Any,
        executor: Executor,
        input_pipeline: Sequence[Middleware],
        output_pipeline: Sequence[Middleware],
        observers: Bus,
    ) -> DispatchStatus:
        """The TurnRunner's entry: inputs already validated by the runner's config."""
        ctx = build_derived(source)
        runner = DispatchRunner(
            _TOKEN, ctx, executor, input_pipeline, output_pipeline, observers, source
        )
        return await runner._run()

    @staticmethod
    def is_dispatch_runner(value: object) -> bool:
        """Whether ``value`` is a DispatchRunner."""
        return isinstance(value, DispatchRunner)

    # -- events --------------------------------------------------------------------------
    def _warning(self, kind: str, message: str, error: BaseException | None, payload: Any) -> None:
        bus = self._bus
        if bus.has("warning"):
            ctx = self._ctx
            bus.emit(
                "warning",
                WarningEvent(
                    emitted_at=_now(UTC),
                    source="dispatch-runner",
                    kind=kind,
                    message=message,
                    error=error,
                    payload=payload,
                    dispatch_id=ctx.dispatch_id,
                    iteration=ctx.iteration,
                ),
            )

    def _listener_failed(self, event: str, exc: BaseException) -> None:
        self._warning(
            "listener-error", f"a {event!r} listener raised: {exc!r}", exc, {"event": event}
        )

    def _estimation_degraded(self, w: EstimationWarning) -> None:
        self._warning(
            "token-estimation-degraded",
            f"token estimation for {w.encoding!r} failed; fell back to ceil(length / 3.5)",
            w.error,
            {"encoding": w.encoding, "text_preview": w.text_preview},
        )

    def _emit_log(self, event: LogEvent) -> None:
        self._bus.emit("log", event)

    def _emit_stats(self, event: GenerationStatsEvent) -> None:
        self._bus.emit("generation_stats", event)

    def _error(self, err: BaseException) -> None:
        self._bus.emit("error", err)

    # -- deltas ------------------------------------------------------------------------------
    def _flush(self) -> None:
        deltas = self._deltas
        if not deltas:
            return
        source = self._source
        for op, kind, value in deltas:
            if kind == "standing_instruction":
                apply_instruction(source.standing_instructions, op, value)
            else:
                apply_record(getattr(source, SET_NAMES[kind]), op, value)
        deltas.clear()

    def _discard(self) -> None:
        if self._deltas:
            self._deltas.clear()

    def _stop(self) -> None:
        """A checkpoint found the context aborted or signalled: flush iff acked, not aborted."""
        ctx = self._ctx
        if ctx._signalled == 1 and not ctx.abort_signal._aborted:
            self._flush()
        else:
            self._discard()

    # -- pipelines -------------------------------------------------------------------------
    async def _pipeline(self, middlewares: Sequence[Middleware], label: str) -> None:
        if not middlewares:
            return
        ctx = self._ctx
        failures: list[Exception] = []
        assert self._levels is not None
        reached = await run_chain(middlewares, ctx, self._levels, failures.append)
        if failures:
            cause = failures[-1]  # several levels failed: the last one wins
            err = E_DISPATCH_PIPELINE_ERROR(
                message=f"the {label} pipeline failed: {cause}", cause=cause
            )
            self._error(err)
            raise err
        if not reached and not ctx.aborted and not ctx.is_signalled:
            err = E_PIPELINE_SHORT_CIRCUITED(label)
            self._error(err)
            raise err

    def _forge_artifact_tools(self, iteration: int) -> None:
        """RUNNERS.md §3.8: drop last iteration's readers, forge new ones, bind at 0."""
        ctx = self._ctx
        tools = ctx.tools
        tools.prune_ephemeral()
        calls = ctx.turn_tool_calls
        if not calls:
            return
        classes: dict[type[Any], None] = {}
        for tc in calls:
            results = tc.results
            items: tuple[Any, ...] = results if isinstance(results, tuple) else (results,)  # pyright: ignore[reportUnknownVariableType]
            for r in items:
                cls: type[Any] = r.__class__
                if callable(getattr(cls, "forge_tools", None)):
                    classes[cls] = None
        if not classes:
            return
        from adk.primitives.tool_registry import ToolRegistry

        forged = ToolRegistry.merge([cls.forge_tools(ctx) for cls in classes], on_collision="keep")
        hidden = {t.name for t in forged.hidden()}
        for tool in forged.all():
            tools.register(tool, overwrite=True)
            if tool.name in hidden:
                tools.hide(tool.name)
        if iteration == 0:
            tools.bind_context(ctx)

    # -- the loop --------------------------------------------------------------------------------
    async def _run(self) -> DispatchStatus:
        ctx = self._ctx
        bus = self._bus
        hooks = ctx._get_hooks()
        signal = ctx.abort_signal
        dispatch_id = new_id()
        ctx._dispatch_id = dispatch_id
        started_at = _now(UTC)
        # Listeners are fixed before the dispatch starts: decide once what to build.
        on_iter_start = bus.has("iteration_start")
        on_iter_end = bus.has("iteration_end")
        if bus.has("dispatch_start"):
            bus.emit(
                "dispatch_start", DispatchStart(dispatch_id=dispatch_id, started_at=started_at)
            )
        helpers = DispatchExecutorHelpers(ctx, self._emit_log, self._emit_stats)
        executor = self._executor
        inp, out = self._input, self._output
        levels = self._levels = Levels(signal)
        iteration = 0
        failure: BaseException | None = None
        cancelled: BaseException | None = None
        sink = push_estimation_sink(self._estimation_degraded)
        try:
            while not signal._aborted and not ctx._signalled:
                ctx._iteration = iteration
                it_started = _now(UTC) if on_iter_start or on_iter_end else started_at
                if on_iter_start:
                    bus.emit(
                        "iteration_start",
                        IterationStart(
                            dispatch_id=dispatch_id, iteration=iteration, started_at=it_started
                        ),
                    )
                self._forge_artifact_tools(iteration)
                if inp:
                    await self._pipeline(inp, "dispatch-input")
                if signal._aborted or ctx._signalled:  # checkpoint A
                    self._stop()
                    break
                try:
                    with levels:
                        result = executor(ctx, helpers)
                        if result is not None and hasattr(result, "__await__"):
                            await result
                except AbortError:
                    self._discard()
                    break
                except Exception as exc:
                    err = executor_error(exc)
                    self._error(err)
                    self._discard()
                    raise err from exc
                if signal._aborted or ctx._signalled:  # checkpoint B
                    self._stop()
                    break
                if out:
                    await self._pipeline(out, "dispatch-output")
                self._flush()  # unconditional: an output-pipeline signal still flushes
                if on_iter_end:
                    ended = _now(UTC)
                    bus.emit(
                        "iteration_end",
                        IterationEnd(
                            dispatch_id=dispatch_id,
                            iteration=iteration,
                            started_at=it_started,
                            ended_at=ended,
                            duration_ms=(ended - it_started) / _ms,
                        ),
                    )
                iteration += 1
                if bus.pending or hooks.pending:
                    await bus.drain()
                    await hooks.drain()
        except Exception as exc:
            failure = exc
            self._discard()
        except BaseException as exc:
            if not _is_cancellation(exc):
                raise
            cancelled = exc
            ctx.abort(AbortError("the dispatch's task was cancelled"))
            self._discard()
        finally:
            pop_estimation_sink(sink)
        levels.close()
        status: DispatchStatus
        nack_error = ctx.nack_error
        final: BaseException | None = None
        if failure is not None:
            status, final = "nack", failure
        elif nack_error is not None:
            status, final = "nack", nack_error
            self._error(
                nack_error if isinstance(nack_error, AdkError) else executor_error(nack_error)
            )
        elif ctx.is_acked:
            status = "ack"
        else:
            status = "aborted"
        if bus.has("dispatch_end"):
            ended_at = _now(UTC)
            bus.emit(
                "dispatch_end",
                DispatchEnd(
                    dispatch_id=dispatch_id,
                    status=status,
                    error=final,
                    iterations=iteration,
                    started_at=started_at,
                    ended_at=ended_at,
                    duration_ms=(ended_at - started_at) / _ms,
                ),
            )
        if cancelled is not None:
            bus.discard_pending()
            hooks.discard_pending()
            raise cancelled
        if bus.pending or hooks.pending:
            await bus.drain()
            await hooks.drain()
        if final is not None:
            raise final
        return status
