"""Middleware onion semantics (RUNNERS.md §3.5, §5, §9.13, §10.11; PORT.md §9.10).

Dispatch pipelines are exercised through ``DispatchRunner.dispatch``; ``run_onion`` (the
batteries' helper) directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from adk import AbortError, DispatchRunner
from adk.errors import E_DISPATCH_PIPELINE_ERROR, E_PIPELINE_SHORT_CIRCUITED
from adk.runners.onion import run_onion
from tests.runners.doubles import Recorder, raw

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


async def _ack(ctx: Any, helpers: Any) -> None:
    ctx.ack()


async def _noop(ctx: Any, helpers: Any) -> None:
    if ctx.iteration >= 1:
        ctx.ack()


async def _dispatch(rec: Recorder, *, executor: Any = _ack, **kwargs: Any) -> BaseException | None:
    try:
        await DispatchRunner.dispatch(
            raw=raw(), executor=executor, observers=rec.observers(), **kwargs
        )
    except Exception as exc:
        return exc
    return None


def layer(rec: Recorder, name: str) -> Any:
    async def mw(ctx: Any, next: Any) -> None:
        rec.mark(f"{name}:in")
        await next()
        rec.mark(f"{name}:out")

    return mw


# --- order and next ------------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", ["turn_input_pipeline", "turn_output_pipeline"])
async def test_onion_order_in_and_reverse_out(pipeline: str) -> None:
    rec = Recorder()
    mws = [layer(rec, "a"), layer(rec, "b"), layer(rec, "c")]
    assert await _dispatch(rec, executor=_noop, **{pipeline: mws}) is None
    marks = [n for n in rec.names if ":" in n]
    assert marks[:6] == ["a:in", "b:in", "c:in", "c:out", "b:out", "a:out"]


async def test_next_is_once_only() -> None:
    rec = Recorder()

    async def twice(ctx: Any, next: Any) -> None:
        await next()
        result = await next()
        rec.mark("second", result)

    inner = layer(rec, "inner")
    assert await _dispatch(rec, turn_input_pipeline=[twice, inner]) is None
    assert rec.names.count("inner:in") == 1
    assert rec.of("second") == [None]


async def test_sync_middleware_is_accepted() -> None:
    rec = Recorder()

    def passthrough(ctx: Any, next: Any) -> Any:
        rec.mark("sync")
        return next()

    def stopper(ctx: Any, next: Any) -> None:
        ctx.ack()  # a sync middleware signalling without next

    assert await _dispatch(rec, turn_input_pipeline=[passthrough, stopper]) is None
    assert rec.names.count("sync") == 1
    assert rec.one("dispatch_end").status == "ack"


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", ["turn_input_pipeline", "turn_output_pipeline"])
async def test_errors_are_caught_per_level_and_upstream_post_next_code_still_runs(
    pipeline: str,
) -> None:
    rec = Recorder()
    boom = Boom("inner")

    async def outer(ctx: Any, next: Any) -> None:
        await next()  # returns normally although the inner level raised
        rec.mark("outer:after")

    async def inner(ctx: Any, next: Any) -> None:
        raise boom

    err = await _dispatch(rec, executor=_noop, **{pipeline: [outer, inner]})
    assert isinstance(err, E_DISPATCH_PIPELINE_ERROR)
    assert err.__cause__ is boom
    assert rec.names.count("outer:after") == 1
    assert rec.one("error") is err
    assert rec.one("dispatch_end").status == "nack"
    assert rec.one("dispatch_end").error is err


async def test_last_pipeline_error_wins() -> None:
    rec = Recorder()
    first, last = Boom("inner first"), Boom("outer last")

    async def outer(ctx: Any, next: Any) -> None:
        await next()
        raise last

    async def inner(ctx: Any, next: Any) -> None:
        raise first

    err = await _dispatch(rec, turn_input_pipeline=[outer, inner])
    assert isinstance(err, E_DISPATCH_PIPELINE_ERROR)
    assert err.__cause__ is last
    assert len(rec.of("error")) == 1


async def test_pipeline_error_in_input_stops_before_the_executor() -> None:
    rec = Recorder()
    calls: list[int] = []

    async def bad(ctx: Any, next: Any) -> None:
        await next()
        raise Boom()

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(1)

    err = await _dispatch(rec, executor=executor, turn_input_pipeline=[bad])
    assert isinstance(err, E_DISPATCH_PIPELINE_ERROR)
    assert calls == [], "the error is raised once the chain ends, before the executor"
    assert rec.of("iteration_end") == []


async def test_abort_error_in_middleware_is_not_a_pipeline_error() -> None:
    rec = Recorder()

    async def aborting(ctx: Any, next: Any) -> None:
        await next()
        raise AbortError()

    assert await _dispatch(rec, turn_input_pipeline=[aborting]) is None
    assert rec.of("error") == []
    assert rec.one("dispatch_end").status == "ack"


async def test_pipeline_error_message_names_the_cause() -> None:
    rec = Recorder()

    async def bad(ctx: Any, next: Any) -> None:
        raise Boom("specific failure")

    err = await _dispatch(rec, turn_input_pipeline=[bad])
    assert err is not None
    assert str(err).startswith("E_DISPATCH_PIPELINE_ERROR: ")
    assert err.status == 500
    assert err.fatal is False  # type: ignore[attr-defined]


# --- short circuit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pipeline", "label"),
    [("turn_input_pipeline", "dispatch-input"), ("turn_output_pipeline", "dispatch-output")],
)
async def test_short_circuit_names_the_pipeline(pipeline: str, label: str) -> None:
    rec = Recorder()

    async def forgetful(ctx: Any, next: Any) -> None:
        rec.mark("forgetful")

    err = await _dispatch(rec, executor=_noop, **{pipeline: [forgetful]})
    assert isinstance(err, E_PIPELINE_SHORT_CIRCUITED)
    assert err.pipeline == label
    assert label in str(err)
    assert rec.one("error") is err
    assert rec.one("dispatch_end").status == "nack"


@pytest.mark.parametrize("pipeline", ["turn_input_pipeline", "turn_output_pipeline"])
@pytest.mark.parametrize("stop", ["ack", "nack", "abort"])
async def test_stop_without_next_is_legitimate_when_signalled_or_aborted(
    pipeline: str, stop: str
) -> None:
    rec = Recorder()
    boom = Boom("guard")

    async def stopper(ctx: Any, next: Any) -> None:
        if stop == "ack":
            ctx.ack()
        elif stop == "nack":
            ctx.nack(boom)
        else:
            ctx.abort()

    async def executor(ctx: Any, helpers: Any) -> None:
        pass

    err = await _dispatch(rec, executor=executor, **{pipeline: [stopper]})
    assert not isinstance(err, E_PIPELINE_SHORT_CIRCUITED)
    assert err is (boom if stop == "nack" else None)
    assert (
        rec.one("dispatch_end").status == {"ack": "ack", "nack": "nack", "abort": "aborted"}[stop]
    )


async def test_short_circuit_in_inner_layer_with_outer_post_next() -> None:
    rec = Recorder()
    outer = layer(rec, "outer")

    async def forgetful(ctx: Any, next: Any) -> None:
        pass

    err = await _dispatch(rec, turn_input_pipeline=[outer, forgetful])
    assert isinstance(err, E_PIPELINE_SHORT_CIRCUITED)
    assert rec.names.count("outer:out") == 1


# --- abort-skip wrapper ------------------------------------------------------------------------


async def test_abort_skip_wrapper_skips_later_middleware_and_reaches_the_terminal() -> None:
    rec = Recorder()

    async def aborter(ctx: Any, next: Any) -> None:
        ctx.abort()
        await next()
        rec.mark("aborter:after")

    async def skipped(ctx: Any, next: Any) -> None:
        rec.mark("skipped ran")  # would also short-circuit: no next

    inner = layer(rec, "inner")
    err = await _dispatch(rec, turn_input_pipeline=[aborter, skipped, inner])
    assert err is None
    assert "skipped ran" not in rec.names
    assert "inner:in" not in rec.names
    assert rec.names.count("aborter:after") == 1
    assert rec.one("dispatch_end").status == "aborted"
    assert rec.of("error") == []


async def test_abort_skip_wrapper_in_output_pipeline_still_flushes() -> None:
    from tests.runners.doubles import FakeTurn, msg

    turn = FakeTurn()
    rec = Recorder()
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)

    async def aborter(ctx: Any, next: Any) -> None:
        ctx.abort()
        await next()

    async def skipped(ctx: Any, next: Any) -> None:
        rec.mark("skipped ran")

    await DispatchRunner.dispatch(
        source=turn,
        executor=executor,
        turn_output_pipeline=[aborter, skipped],
        observers=rec.observers(),
    )
    assert "skipped ran" not in rec.names
    assert list(turn.turn_messages) == [m]
    assert rec.one("dispatch_end").iterations == 1


async def test_signal_does_not_skip_later_middleware() -> None:
    rec = Recorder()

    async def acker(ctx: Any, next: Any) -> None:
        ctx.ack()
        await next()

    inner = layer(rec, "inner")
    calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(1)

    assert await _dispatch(rec, executor=executor, turn_input_pipeline=[acker, inner]) is None
    assert rec.names.count("inner:in") == 1, "only an abort skips middleware, not a signal"
    assert calls == [], "checkpoint A stops before the executor"


# --- run_onion (RUNNERS.md §5 last bullet) -----------------------------------------------------


async def test_run_onion_without_middleware_returns_core() -> None:
    async def core() -> str:
        return "core"

    def no_next() -> str:
        raise AssertionError("not called")

    assert await run_onion(object(), [], core, no_next) == "core"


async def test_run_onion_without_middleware_propagates_core_error() -> None:
    boom = Boom()

    async def core() -> str:
        raise boom

    with pytest.raises(Boom) as info:
        await run_onion(object(), [], core, lambda: "x")
    assert info.value is boom


async def test_run_onion_wraps_core_in_order_and_returns_its_result() -> None:
    log: list[str] = []
    ctx = object()

    def mw(name: str) -> Any:
        async def m(c: Any, next: Any) -> None:
            assert c is ctx
            log.append(f"{name}:in")
            await next()
            log.append(f"{name}:out")

        return m

    async def core() -> int:
        log.append("core")
        return 42

    assert await run_onion(ctx, [mw("a"), mw("b")], core, lambda: -1) == 42
    assert log == ["a:in", "b:in", "core", "b:out", "a:out"]


async def test_run_onion_no_next_returns_on_no_next() -> None:
    calls: list[str] = []

    async def stop(ctx: Any, next: Any) -> None:
        pass

    async def core() -> str:
        calls.append("core")
        return "core"

    assert await run_onion(None, [stop], core, lambda: "no-next") == "no-next"
    assert calls == []


async def test_run_onion_no_next_raising() -> None:
    class NoNext(Exception):
        pass

    def no_next() -> Any:
        raise NoNext()

    async def stop(ctx: Any, next: Any) -> None:
        pass

    async def core() -> str:
        return "core"

    with pytest.raises(NoNext):
        await run_onion(None, [stop], core, no_next)


async def test_run_onion_error_reraised_after_the_onion_unwinds() -> None:
    log: list[str] = []
    boom = Boom("inner")

    async def outer(ctx: Any, next: Any) -> None:
        await next()
        log.append("outer:after")

    async def inner(ctx: Any, next: Any) -> None:
        raise boom

    async def core() -> str:
        log.append("core")
        return "x"

    no_next_calls: list[int] = []
    with pytest.raises(Boom) as info:
        await run_onion(None, [outer, inner], core, lambda: no_next_calls.append(1))
    assert info.value is boom
    assert log == ["outer:after"]
    assert no_next_calls == [], "an error wins over the missing terminal"


async def test_run_onion_core_error_caught_and_reraised_after_unwind() -> None:
    log: list[str] = []
    boom = Boom("core")

    async def outer(ctx: Any, next: Any) -> None:
        await next()
        log.append("outer:after")

    async def core() -> str:
        raise boom

    with pytest.raises(Boom) as info:
        await run_onion(None, [outer], core, lambda: "x")
    assert info.value is boom
    assert log == ["outer:after"]


async def test_run_onion_last_error_wins() -> None:
    first, last = Boom("core"), Boom("outer")

    async def outer(ctx: Any, next: Any) -> None:
        await next()
        raise last

    async def core() -> str:
        raise first

    with pytest.raises(Boom) as info:
        await run_onion(None, [outer], core, lambda: "x")
    assert info.value is last


async def test_run_onion_next_is_once_only() -> None:
    calls: list[int] = []

    async def twice(ctx: Any, next: Any) -> None:
        await next()
        await next()

    async def core() -> int:
        calls.append(1)
        return len(calls)

    assert await run_onion(None, [twice], core, lambda: -1) == 1
    assert calls == [1]


async def test_run_onion_sync_middleware() -> None:
    def passthrough(ctx: Any, next: Any) -> Any:
        return next()

    async def core() -> str:
        return "ok"

    assert await run_onion(None, [passthrough], core, lambda: "no") == "ok"


async def test_run_onion_fresh_per_call() -> None:
    calls: list[int] = []

    async def mw(ctx: Any, next: Any) -> None:
        calls.append(1)
        await next()

    async def core() -> str:
        return "ok"

    for _ in range(3):
        assert await run_onion(None, [mw], core, lambda: "no") == "ok"
    assert calls == [1, 1, 1]
