"""Prompt abort in a dispatch (PORT.md §7.2, §9.2; RUNNERS.md §2.5, §3.4, §10.12)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from adk import AbortController, DispatchRunner
from tests.runners.doubles import FakeTurn, Recorder, msg, raw, wait_until

pytestmark = pytest.mark.anyio


async def _run_and_abort(
    abort: Any, *, rec: Recorder, ready: Any, **kwargs: Any
) -> BaseException | None:
    """Start the dispatch, wait until ``ready()``, call ``abort()``; all within 2 s."""
    result: list[BaseException | None] = [None]

    async def run() -> None:
        try:
            await DispatchRunner.dispatch(observers=rec.observers(), **kwargs)
        except Exception as exc:
            result[0] = exc

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await wait_until(ready)
            abort()
    return result[0]


async def test_executor_awaiting_is_cut_short_by_ctx_abort() -> None:
    rec = Recorder()
    box: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        box["ctx"] = ctx
        await anyio.sleep(10)
        box["finished"] = True

    err = await _run_and_abort(
        lambda: box["ctx"].abort("stop"),
        rec=rec,
        ready=lambda: "ctx" in box,
        raw=raw(),
        executor=executor,
    )
    assert err is None
    assert "finished" not in box
    end = rec.one("dispatch_end")
    assert end.status == "aborted"
    assert end.iterations == 0
    assert end.duration_ms < 2000
    assert rec.of("error") == []
    assert rec.of("iteration_end") == []


async def test_executor_awaiting_is_cut_short_by_raw_controller_abort() -> None:
    rec = Recorder()
    ctrl = AbortController()
    started: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        started.append(1)
        await anyio.sleep(10)

    err = await _run_and_abort(
        lambda: ctrl.abort(),
        rec=rec,
        ready=lambda: started,
        raw=raw(turn_abort_controller=ctrl),
        executor=executor,
    )
    assert err is None
    assert rec.one("dispatch_end").status == "aborted"


async def test_executor_awaiting_is_cut_short_by_turn_abort() -> None:
    rec = Recorder()
    turn = FakeTurn()
    started: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        started.append(1)
        await anyio.sleep(10)

    err = await _run_and_abort(
        turn.abort, rec=rec, ready=lambda: started, source=turn, executor=executor
    )
    assert err is None
    assert rec.one("dispatch_end").status == "aborted"


async def test_aborted_executor_deltas_are_discarded_but_persisted() -> None:
    rec = Recorder()
    turn = FakeTurn()
    box: dict[str, Any] = {}
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)
        box["ctx"] = ctx
        await anyio.sleep(10)

    await _run_and_abort(
        lambda: box["ctx"].abort(),
        rec=rec,
        ready=lambda: "ctx" in box,
        source=turn,
        executor=executor,
    )
    assert list(turn.turn_messages) == []
    assert ("store_message", (m,)) in turn.calls


@pytest.mark.parametrize("pipeline", ["turn_input_pipeline", "turn_output_pipeline"])
async def test_middleware_awaiting_is_cut_short_and_outer_next_returns_normally(
    pipeline: str,
) -> None:
    rec = Recorder()
    box: dict[str, Any] = {}

    async def outer(ctx: Any, next: Any) -> None:
        rec.mark("outer:in")
        await next()
        rec.mark("outer:after")

    async def sleeper(ctx: Any, next: Any) -> None:
        box["ctx"] = ctx
        await anyio.sleep(10)
        rec.mark("sleeper:finished")
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        pass

    err = await _run_and_abort(
        lambda: box["ctx"].abort(),
        rec=rec,
        ready=lambda: "ctx" in box,
        raw=raw(),
        executor=executor,
        **{pipeline: [outer, sleeper]},
    )
    assert err is None
    assert "sleeper:finished" not in rec.names
    assert rec.names.count("outer:after") == 1
    end = rec.one("dispatch_end")
    assert end.status == "aborted"
    assert rec.of("error") == []
    if pipeline == "turn_output_pipeline":
        assert end.iterations == 1, "an abort in the output pipeline still ends the iteration"
    else:
        assert end.iterations == 0


async def test_abort_while_ack_then_sleep_is_status_ack() -> None:
    rec = Recorder()
    box: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()
        box["ctx"] = ctx
        await anyio.sleep(10)

    err = await _run_and_abort(
        lambda: box["ctx"].abort(),
        rec=rec,
        ready=lambda: "ctx" in box,
        raw=raw(),
        executor=executor,
    )
    assert err is None
    assert rec.one("dispatch_end").status == "ack"


async def test_executor_catching_nothing_after_abort_does_not_run_again() -> None:
    rec = Recorder()
    calls: list[int] = []
    box: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(ctx.iteration)
        box["ctx"] = ctx
        await anyio.sleep(10)

    await _run_and_abort(
        lambda: box["ctx"].abort(),
        rec=rec,
        ready=lambda: "ctx" in box,
        raw=raw(),
        executor=executor,
    )
    assert calls == [0]
    assert [n for n in rec.names if n.startswith("iteration")] == ["iteration_start"]


async def test_cancelling_the_awaiting_task_emits_dispatch_end_aborted_and_reraises() -> None:
    rec = Recorder()
    started: list[int] = []
    after: list[str] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        started.append(1)
        await anyio.sleep(10)

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                with anyio.CancelScope() as scope:
                    box["scope"] = scope
                    await DispatchRunner.dispatch(
                        raw=raw(), executor=executor, observers=rec.observers()
                    )
                    after.append("not reached")
                after.append("scope exited" if scope.cancelled_caught else "not cancelled")

            box: dict[str, Any] = {}
            tg.start_soon(run)
            await wait_until(lambda: started)
            box["scope"].cancel()
    assert after == ["scope exited"], "the cancellation is re-raised by dispatch()"
    end = rec.one("dispatch_end")
    assert end.status == "aborted"
    assert end.error is None
    assert rec.of("error") == []


async def test_cancelling_the_task_while_a_middleware_awaits() -> None:
    rec = Recorder()
    started: list[int] = []

    async def sleeper(ctx: Any, next: Any) -> None:
        started.append(1)
        await anyio.sleep(10)
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: DispatchRunner.dispatch(
                    raw=raw(),
                    executor=executor,
                    turn_input_pipeline=[sleeper],
                    observers=rec.observers(),
                )
            )
            await wait_until(lambda: started)
            tg.cancel_scope.cancel()
    assert rec.one("dispatch_end").status == "aborted"


async def test_outer_cancellation_is_not_swallowed_when_the_dispatch_also_aborts() -> None:
    """A cancellation the runner did not request always propagates (PORT.md §7.2)."""
    started: list[int] = []
    after: list[str] = []
    box: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        box["ctx"] = ctx
        started.append(1)
        await anyio.sleep(10)

    async def run() -> None:
        with anyio.CancelScope() as scope:
            box["scope"] = scope
            await DispatchRunner.dispatch(raw=raw(), executor=executor)
            after.append("returned normally")
        after.append("cancelled" if scope.cancelled_caught else "not cancelled")

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await wait_until(lambda: started)
            box["scope"].cancel()
            box["ctx"].abort()
    assert after == ["cancelled"]


async def test_abort_reason_is_kept() -> None:
    box: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        box["ctx"] = ctx
        await anyio.sleep(10)

    rec = Recorder()
    await _run_and_abort(
        lambda: box["ctx"].abort("user pressed stop"),
        rec=rec,
        ready=lambda: "ctx" in box,
        raw=raw(),
        executor=executor,
    )
    assert box["ctx"].abort_signal.reason == "user pressed stop"


async def test_sync_executor_abort_without_await() -> None:
    rec = Recorder()

    def executor(ctx: Any, helpers: Any) -> None:
        ctx.abort()

    with anyio.fail_after(2):
        await DispatchRunner.dispatch(raw=raw(), executor=executor, observers=rec.observers())
    assert rec.one("dispatch_end").status == "aborted"


async def test_dispatch_after_an_aborted_dispatch_works() -> None:
    """A dispatch's cancellation machinery leaves no residue in the task."""
    box: dict[str, Any] = {}

    async def sleeper(ctx: Any, helpers: Any) -> None:
        box["ctx"] = ctx
        await anyio.sleep(10)

    rec = Recorder()
    await _run_and_abort(
        lambda: box["ctx"].abort(),
        rec=rec,
        ready=lambda: "ctx" in box,
        raw=raw(),
        executor=sleeper,
    )

    async def quick(ctx: Any, helpers: Any) -> None:
        await anyio.sleep(0.01)
        ctx.ack()

    rec2 = Recorder()
    with anyio.fail_after(2):
        await DispatchRunner.dispatch(raw=raw(), executor=quick, observers=rec2.observers())
        await anyio.sleep(0.01)  # the task itself must not be cancelled afterwards
    assert rec2.one("dispatch_end").status == "ack"
