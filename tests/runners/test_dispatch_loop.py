"""The iteration loop, step by step (RUNNERS.md §3.4, §9.1, §9.23, §10.4–§10.7) and
listener isolation (PORT.md §7.3, §9.9)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import anyio
import pytest

from adk import DispatchRunner
from adk.contracts.events import (
    DispatchEnd,
    DispatchStart,
    IterationEnd,
    IterationStart,
    WarningEvent,
)
from tests.runners.doubles import FakeTurn, Recorder, msg, raw

pytestmark = pytest.mark.anyio


class Script:
    """Input/output middleware and an executor that log every step into a Recorder."""

    def __init__(self, rec: Recorder, ack_at: int = 1) -> None:
        self.rec = rec
        self.ack_at = ack_at
        self.ctx: Any = None

    async def input(self, ctx: Any, next: Any) -> None:
        self.ctx = ctx
        self.rec.mark("input", ctx.iteration)
        await next()

    async def executor(self, ctx: Any, helpers: Any) -> None:
        self.rec.mark("executor", ctx.iteration)
        if ctx.iteration == self.ack_at:
            ctx.ack()

    async def output(self, ctx: Any, next: Any) -> None:
        self.rec.mark("output", ctx.iteration)
        await next()

    async def run(self, **kwargs: Any) -> None:
        kwargs.setdefault("raw", raw())
        await DispatchRunner.dispatch(
            executor=self.executor,
            turn_input_pipeline=[self.input],
            turn_output_pipeline=[self.output],
            observers=self.rec.observers(),
            **kwargs,
        )


async def test_steps_run_in_the_documented_order() -> None:
    rec = Recorder()
    await Script(rec, ack_at=1).run()
    assert rec.names == [
        "dispatch_start",
        "iteration_start",
        "input",
        "executor",
        "output",
        "iteration_end",
        "iteration_start",
        "input",
        "executor",
        "dispatch_end",
    ]
    assert [p.iteration for p in rec.of("iteration_start")] == [0, 1]
    assert [p.iteration for p in rec.of("iteration_end")] == [0]
    assert [rec.events[i][1] for i in (2, 3, 4, 7, 8)] == [0, 0, 0, 1, 1]


async def test_event_payload_types_and_ids() -> None:
    rec = Recorder()
    script = Script(rec, ack_at=2)
    await script.run()
    start = rec.one("dispatch_start")
    end = rec.one("dispatch_end")
    assert isinstance(start, DispatchStart)
    assert isinstance(end, DispatchEnd)
    assert all(isinstance(p, IterationStart) for p in rec.of("iteration_start"))
    assert all(isinstance(p, IterationEnd) for p in rec.of("iteration_end"))
    ids = {start.dispatch_id, end.dispatch_id}
    ids |= {p.dispatch_id for p in rec.of("iteration_start") + rec.of("iteration_end")}
    assert ids == {script.ctx.dispatch_id}
    assert script.ctx.dispatch_id != script.ctx.id
    assert len(script.ctx.dispatch_id) == 36
    assert script.ctx.dispatch_id[14] == "6", "dispatch ids are UUIDv6"
    assert end.started_at == start.started_at
    assert end.ended_at >= end.started_at
    assert end.duration_ms == pytest.approx((end.ended_at - end.started_at).total_seconds() * 1000)
    assert start.started_at.tzinfo is not None
    assert start.started_at.utcoffset() == UTC.utcoffset(None)


async def test_iteration_end_carries_its_iteration_start_time() -> None:
    rec = Recorder()
    await Script(rec, ack_at=3).run()
    starts = rec.of("iteration_start")
    ends = rec.of("iteration_end")
    assert [e.iteration for e in ends] == [0, 1, 2]
    for s, e in zip(starts, ends, strict=False):
        assert e.started_at == s.started_at
        assert e.ended_at >= e.started_at
        assert e.duration_ms >= 0


async def test_iteration_start_indices_have_no_gaps_and_end_is_a_prefix() -> None:
    rec = Recorder()
    await Script(rec, ack_at=4).run()
    assert [p.iteration for p in rec.of("iteration_start")] == [0, 1, 2, 3, 4]
    assert [p.iteration for p in rec.of("iteration_end")] == [0, 1, 2, 3]
    assert rec.one("dispatch_end").iterations == len(rec.of("iteration_end"))


async def test_dispatch_id_is_set_before_dispatch_start() -> None:
    rec = Recorder()
    seen: list[str] = []
    holder: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        holder["ctx"] = ctx
        seen.append(ctx.dispatch_id)
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(), executor=executor, observers=rec.observers())
    assert seen == [rec.one("dispatch_start").dispatch_id]


async def test_ctx_iteration_is_already_set_when_iteration_start_fires() -> None:
    holder: dict[str, Any] = {}
    at_start: list[tuple[int, int]] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        holder["ctx"] = ctx
        if ctx.iteration == 2:
            ctx.ack()

    def on_start(event: IterationStart) -> None:
        ctx = holder.get("ctx")
        if ctx is not None:
            at_start.append((event.iteration, ctx.iteration))

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, observers={"iteration_start": on_start}
    )
    assert at_start == [(1, 1), (2, 2)]


async def test_ctx_iteration_equals_the_current_index_in_every_step() -> None:
    rec = Recorder()
    await Script(rec, ack_at=3).run()
    current = -1
    for name, payload in rec.events:
        if name == "iteration_start":
            current = payload.iteration
        elif name in ("input", "executor", "output"):
            assert payload == current


async def test_no_continuation_after_a_signal() -> None:
    rec = Recorder()
    await Script(rec, ack_at=2).run()
    assert rec.names.count("executor") == 3
    last_executor = max(i for i, n in enumerate(rec.names) if n == "executor")
    assert "iteration_start" not in rec.names[last_executor:]
    assert rec.names[-1] == "dispatch_end"


async def test_checkpoint_a_input_ack_skips_executor() -> None:
    rec = Recorder()
    calls: list[int] = []

    async def gate(ctx: Any, next: Any) -> None:
        rec.mark("input", ctx.iteration)
        if ctx.iteration == 1:
            ctx.ack()  # a legitimate stop without next()
            return
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(ctx.iteration)

    await DispatchRunner.dispatch(
        raw=raw(),
        executor=executor,
        turn_input_pipeline=[gate],
        observers=rec.observers(),
    )
    assert calls == [0]
    end = rec.one("dispatch_end")
    assert end.status == "ack"
    assert end.iterations == 1
    assert [p.iteration for p in rec.of("iteration_end")] == [0]
    assert rec.of("error") == []


async def test_checkpoint_a_input_abort_skips_executor() -> None:
    rec = Recorder()
    calls: list[int] = []

    async def stop(ctx: Any, next: Any) -> None:
        ctx.abort("enough")

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(ctx.iteration)

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, turn_input_pipeline=[stop], observers=rec.observers()
    )
    assert calls == []
    assert rec.one("dispatch_end").status == "aborted"
    assert rec.one("dispatch_end").iterations == 0
    assert rec.of("iteration_end") == []


async def test_checkpoint_b_executor_ack_skips_output_pipeline_and_iteration_end() -> None:
    rec = Recorder()
    script = Script(rec, ack_at=0)
    await script.run()
    assert "output" not in rec.names
    assert rec.of("iteration_end") == []
    assert rec.one("dispatch_end").iterations == 0


async def test_checkpoint_b_executor_abort_skips_output_pipeline_and_iteration_end() -> None:
    rec = Recorder()
    outputs: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        if ctx.iteration == 1:
            ctx.abort()

    async def output(ctx: Any, next: Any) -> None:
        outputs.append(ctx.iteration)
        await next()

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, turn_output_pipeline=[output], observers=rec.observers()
    )
    assert outputs == [0]
    assert [p.iteration for p in rec.of("iteration_end")] == [0]
    assert rec.one("dispatch_end").iterations == 1
    assert rec.one("dispatch_end").status == "aborted"


async def test_signal_in_output_pipeline_still_ends_the_iteration_and_stops_the_loop() -> None:
    rec = Recorder()
    calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(ctx.iteration)

    async def output(ctx: Any, next: Any) -> None:
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, turn_output_pipeline=[output], observers=rec.observers()
    )
    assert calls == [0]
    assert [p.iteration for p in rec.of("iteration_end")] == [0]
    end = rec.one("dispatch_end")
    assert end.status == "ack"
    assert end.iterations == 1
    assert rec.of("error") == []


async def test_flush_happens_before_iteration_end() -> None:
    turn = FakeTurn()
    seen: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        if ctx.iteration == 0:
            await ctx.store_message(msg("m1"))
        else:
            ctx.ack()

    def on_end(event: IterationEnd) -> None:
        seen.append(len(turn.turn_messages))

    await DispatchRunner.dispatch(
        source=turn, executor=executor, observers={"iteration_end": on_end}
    )
    assert seen == [1]


async def test_helpers_are_built_once_per_dispatch() -> None:
    seen: list[Any] = []
    chunks: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        seen.append(helpers)
        helpers.report_message("m", f"part{ctx.iteration}", is_complete=ctx.iteration == 2)
        if ctx.iteration == 2:
            ctx.ack()

    await DispatchRunner.dispatch(raw=raw(), executor=executor, hooks={"message": chunks.append})
    assert len(seen) == 3
    assert all(h is seen[0] for h in seen)
    # stream state survives iterations
    assert [c.full for c in chunks] == ["part0", "part0part1", "part0part1part2"]
    assert len({c.created_at for c in chunks}) == 1


async def test_input_and_output_middleware_run_fresh_each_iteration() -> None:
    rec = Recorder()
    await Script(rec, ack_at=3).run()
    assert rec.names.count("input") == 4
    assert rec.names.count("output") == 3


async def test_executor_is_called_with_ctx_and_helpers() -> None:
    from adk import DispatchContext, DispatchExecutorHelpers

    got: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        got.extend((ctx, helpers))
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(), executor=executor)
    assert isinstance(got[0], DispatchContext)
    assert DispatchContext.is_dispatch_context(got[0])
    assert isinstance(got[1], DispatchExecutorHelpers)


async def test_dispatch_resolves_with_none_on_ack() -> None:
    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    assert await DispatchRunner.dispatch(raw=raw(), executor=executor) is None


async def test_exactly_one_dispatch_start_and_end_bracket_everything() -> None:
    rec = Recorder()
    await Script(rec, ack_at=2).run()
    assert rec.names.count("dispatch_start") == 1
    assert rec.names.count("dispatch_end") == 1
    assert rec.names[0] == "dispatch_start"
    assert rec.names[-1] == "dispatch_end"


async def test_context_already_aborted_runs_no_iteration() -> None:
    from adk import AbortController

    rec = Recorder()
    ctrl = AbortController()
    ctrl.abort("before")
    calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(1)

    await DispatchRunner.dispatch(
        raw=raw(turn_abort_controller=ctrl), executor=executor, observers=rec.observers()
    )
    assert calls == []
    assert rec.names == ["dispatch_start", "dispatch_end"]
    assert rec.one("dispatch_end").status == "aborted"


# --- listener isolation (PORT.md §7.3, §9.9) -----------------------------------------


class Boom(Exception):
    pass


def _raise(_: Any) -> None:
    raise Boom("listener failed")


async def test_raising_observer_becomes_listener_error_warning_and_dispatch_goes_on() -> None:
    rec = Recorder()
    calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(ctx.iteration)
        if ctx.iteration == 1:
            ctx.ack()

    observers = rec.observers()
    observers["iteration_start"] = [_raise, observers["iteration_start"]]
    await DispatchRunner.dispatch(raw=raw(), executor=executor, observers=observers)
    assert calls == [0, 1]
    assert len(rec.of("iteration_start")) == 2, "a raising sibling does not stop the others"
    warnings = rec.of("warning")
    assert len(warnings) == 2
    for w in warnings:
        assert isinstance(w, WarningEvent)
        assert w.kind == "listener-error"
        assert w.source == "dispatch-runner"
        assert isinstance(w.error, Boom)
        assert w.dispatch_id == rec.one("dispatch_end").dispatch_id
    assert [w.iteration for w in warnings] == [0, 1]
    assert rec.one("dispatch_end").status == "ack"
    assert rec.of("error") == []


async def test_raising_functional_hook_becomes_listener_error_warning() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.report_message("m", "hello", is_complete=True)
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, hooks={"message": _raise}, observers=rec.observers()
    )
    (warning,) = rec.of("warning")
    assert warning.kind == "listener-error"
    assert rec.one("dispatch_end").status == "ack"


async def test_raising_context_hook_becomes_listener_error_warning() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(msg("m1"))
        assert len(ctx.turn_messages) == 1
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(hooks={"stored_message": _raise}), executor=executor, observers=rec.observers()
    )
    (warning,) = rec.of("warning")
    assert warning.kind == "listener-error"
    assert rec.one("dispatch_end").status == "ack"


async def test_raising_dispatch_end_observer_does_not_make_dispatch_raise() -> None:
    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, observers={"dispatch_end": _raise, "dispatch_start": _raise}
    )


async def test_raising_warning_listener_is_swallowed() -> None:
    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, observers={"dispatch_start": _raise, "warning": _raise}
    )


async def test_coroutine_listeners_are_awaited_before_dispatch_returns() -> None:
    done: list[str] = []

    async def slow(name: str) -> None:
        await anyio.sleep(0.01)
        done.append(name)

    async def on_end(event: Any) -> None:
        await slow("dispatch_end")

    async def on_message(chunk: Any) -> None:
        await slow("message")

    async def on_stored(value: Any) -> None:
        await slow("stored_message")

    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.report_message("m", "x", is_complete=True)
        await ctx.store_message(msg("m1"))
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(hooks={"stored_message": on_stored}),
        executor=executor,
        hooks={"message": on_message},
        observers={"dispatch_end": on_end},
    )
    assert sorted(done) == ["dispatch_end", "message", "stored_message"]


async def test_raising_coroutine_listener_becomes_listener_error_warning() -> None:
    rec = Recorder()

    async def bad(_: Any) -> None:
        await anyio.sleep(0)
        raise Boom("async listener failed")

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    observers = rec.observers()
    observers["dispatch_start"] = bad
    await DispatchRunner.dispatch(raw=raw(), executor=executor, observers=observers)
    (warning,) = rec.of("warning")
    assert warning.kind == "listener-error"
    assert isinstance(warning.error, Boom)


async def test_sync_listeners_run_inline_in_emission_order() -> None:
    order: list[tuple[str, int]] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.report_message("m", "a")
        order.append(("executor", 0))
        helpers.report_message("m", "b", is_complete=True)
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(),
        executor=executor,
        hooks={
            "message": [
                lambda c: order.append(("first", len(c.full))),
                lambda c: order.append(("second", len(c.full))),
            ]
        },
    )
    assert order == [("first", 1), ("second", 1), ("executor", 0), ("first", 2), ("second", 2)]
