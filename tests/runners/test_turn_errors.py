"""Turn early exits and the error bus (RUNNERS.md §2.3 steps 7–9, §2.4, §2.5; PORT.md §9.3)."""

from __future__ import annotations

from typing import Any

import pytest

import adk
from tests.runners.turn_support import Log, ack

# -- early exits (RUNNERS.md §2.3 steps 7–9, §2.4) -------------------------------------------


@pytest.mark.anyio
async def test_input_middleware_raises_E_INPUT_PIPELINE_ERROR_one_per_level_no_dispatch() -> None:
    inner_err = ValueError("inner")
    outer_err = KeyError("outer")
    runner_holder: list[Log] = []

    async def outer(ctx: Any, next: Any) -> None:
        await next()  # returns normally although the inner level raised
        runner_holder[0].add("outer:after-next")
        raise outer_err

    async def inner(ctx: Any, next: Any) -> None:
        raise inner_err

    executor_calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        executor_calls.append(1)
        ctx.ack()

    tout_calls: list[int] = []

    async def tout(ctx: Any, next: Any) -> None:
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(
        executor=executor, turn_input_pipeline=[outer, inner], turn_output_pipeline=[tout]
    )
    log = Log(runner)
    runner_holder.append(log)
    result = await runner.run(system_prompt="sys")
    errors = log.of("error")
    assert [type(e) for e in errors] == [
        adk.errors.E_INPUT_PIPELINE_ERROR,
        adk.errors.E_INPUT_PIPELINE_ERROR,
    ]
    assert errors[0].__cause__ is inner_err
    assert errors[1].__cause__ is outer_err
    assert "outer:after-next" in log.names()
    assert "dispatch_start" not in log.names()
    assert executor_calls == [] and tout_calls == []
    assert log.names()[-1] == "turn_end" and log.names().count("turn_end") == 1
    assert result.status == "failed"
    assert result.errors == tuple(errors)
    assert result.dispatch_status is None


@pytest.mark.anyio
async def test_input_short_circuit_E_PIPELINE_SHORT_CIRCUITED_turn_input() -> None:
    async def stop(ctx: Any, next: Any) -> None:
        return None  # forgot next()

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[stop])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")
    assert isinstance(err, adk.errors.E_PIPELINE_SHORT_CIRCUITED)
    assert err.pipeline == "turn-input"
    assert "dispatch_start" not in log.names()
    assert result.status == "failed" and result.errors == (err,)
    assert result.dispatch_status is None
    assert log.names().count("turn_end") == 1


@pytest.mark.anyio
async def test_input_abort_no_error_no_dispatch_status_aborted_RUNNERS_2_5() -> None:
    skipped: list[str] = []

    async def aborter(ctx: Any, next: Any) -> None:
        ctx.abort("stop")  # legitimate stop without next()

    async def never(ctx: Any, next: Any) -> None:
        skipped.append("never")
        await next()

    runner = adk.TurnRunner(
        executor=ack, turn_input_pipeline=[aborter, never], turn_output_pipeline=[never]
    )
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert log.of("error") == []
    assert "dispatch_start" not in log.names()
    assert skipped == []
    assert log.names() == ["turn_start", "turn_end"]
    assert result.status == "aborted"
    assert result.dispatch_status is None
    assert result.errors == ()


@pytest.mark.anyio
async def test_input_abort_then_next_skips_remaining_middleware_RUNNERS_2_1() -> None:
    ran: list[str] = []

    async def aborter(ctx: Any, next: Any) -> None:
        ctx.abort()
        await next()
        ran.append("aborter:after")

    async def skipped(ctx: Any, next: Any) -> None:
        ran.append("skipped")
        await next()

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[aborter, skipped])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert ran == ["aborter:after"]
    assert log.of("error") == []
    assert result.status == "aborted" and result.dispatch_status is None


@pytest.mark.anyio
async def test_dispatch_pipeline_error_emitted_unchanged_E_DISPATCH_PIPELINE_ERROR() -> None:
    boom = RuntimeError("din failed")

    async def din(ctx: Any, next: Any) -> None:
        raise boom

    tout_calls: list[int] = []

    async def tout(ctx: Any, next: Any) -> None:
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(
        executor=ack, dispatch_input_pipeline=[din], turn_output_pipeline=[tout]
    )
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")  # the dispatch's own error observer is not bridged
    assert isinstance(err, adk.errors.E_DISPATCH_PIPELINE_ERROR)
    assert err.__cause__ is boom
    (end,) = log.of("dispatch_end")
    assert end.status == "nack" and end.error is err  # emitted exactly as rejected
    assert tout_calls == []
    assert result.dispatch_status == "nack"
    assert result.status == "failed" and result.errors == (err,)
    assert log.names()[-1] == "turn_end"


@pytest.mark.anyio
async def test_dispatch_short_circuit_emitted_E_PIPELINE_SHORT_CIRCUITED_dispatch_input() -> None:
    async def din(ctx: Any, next: Any) -> None:
        return None

    runner = adk.TurnRunner(executor=ack, dispatch_input_pipeline=[din])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")
    assert isinstance(err, adk.errors.E_PIPELINE_SHORT_CIRCUITED)
    assert err.pipeline == "dispatch-input"
    assert result.dispatch_status == "nack" and result.errors == (err,)


@pytest.mark.anyio
async def test_executor_raises_E_LLM_EXECUTION_EXECUTOR_ERROR_once_on_turn_bus() -> None:
    boom = ValueError("model exploded")

    async def executor(ctx: Any, helpers: Any) -> None:
        raise boom

    tout_calls: list[int] = []

    async def tout(ctx: Any, next: Any) -> None:
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(executor=executor, turn_output_pipeline=[tout])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")
    assert isinstance(err, adk.errors.E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert err.__cause__ is boom
    assert "model exploded" in str(err)
    assert tout_calls == []
    assert result.dispatch_status == "nack"
    assert result.status == "failed" and result.errors == (err,)


@pytest.mark.anyio
async def test_raw_nack_error_emitted_unchanged_on_turn_error_RUNNERS_9_3() -> None:
    raw = ValueError("not a BaseException of ours")

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack(raw)

    tout_calls: list[int] = []

    async def tout(ctx: Any, next: Any) -> None:
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(executor=executor, turn_output_pipeline=[tout])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")
    assert err is raw  # the turn emits the dispatch's rejection, not the observer wrapper
    assert tout_calls == []
    assert result.dispatch_status == "nack"
    assert result.status == "failed" and result.errors == (raw,)


@pytest.mark.anyio
async def test_nack_without_error_emits_a_generic_error() -> None:
    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack()

    runner = adk.TurnRunner(executor=executor)
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")
    assert isinstance(err, BaseException)
    assert result.errors == (err,) and result.dispatch_status == "nack"


@pytest.mark.anyio
async def test_dispatch_level_abort_still_runs_turn_output_status_completed_PORT_9_3() -> None:
    tout_calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.abort("dispatch only")

    async def tout(ctx: Any, next: Any) -> None:
        assert not ctx.aborted  # the turn survived
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(executor=executor, turn_output_pipeline=[tout])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert log.of("dispatch_end")[0].status == "aborted"
    assert tout_calls == [1]
    assert log.of("error") == []
    assert result.status == "completed"
    assert result.dispatch_status == "aborted"


@pytest.mark.anyio
async def test_output_middleware_raises_E_OUTPUT_PIPELINE_ERROR() -> None:
    boom = RuntimeError("render failed")

    async def tout(ctx: Any, next: Any) -> None:
        await next()
        raise boom

    runner = adk.TurnRunner(executor=ack, turn_output_pipeline=[tout])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")
    assert isinstance(err, adk.errors.E_OUTPUT_PIPELINE_ERROR)
    assert err.__cause__ is boom
    assert result.status == "failed" and result.errors == (err,)
    assert result.dispatch_status == "ack"
    assert log.names()[-1] == "turn_end"


@pytest.mark.anyio
async def test_output_short_circuit_E_PIPELINE_SHORT_CIRCUITED_turn_output() -> None:
    async def stop(ctx: Any, next: Any) -> None:
        return None

    runner = adk.TurnRunner(executor=ack, turn_output_pipeline=[stop])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (err,) = log.of("error")
    assert isinstance(err, adk.errors.E_PIPELINE_SHORT_CIRCUITED)
    assert err.pipeline == "turn-output"
    assert result.status == "failed" and result.dispatch_status == "ack"


@pytest.mark.anyio
async def test_output_abort_is_not_an_error_status_aborted() -> None:
    async def stop(ctx: Any, next: Any) -> None:
        ctx.abort()

    runner = adk.TurnRunner(executor=ack, turn_output_pipeline=[stop])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert log.of("error") == []
    assert result.status == "aborted" and result.dispatch_status == "ack"


@pytest.mark.anyio
async def test_status_precedence_aborted_beats_failed_PORT_9_3() -> None:
    async def failing(ctx: Any, next: Any) -> None:
        await next()
        ctx.abort()  # the turn's own signal fires after an error was emitted

    async def inner(ctx: Any, next: Any) -> None:
        raise RuntimeError("x")

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[failing, inner])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert len(log.of("error")) == 1
    assert result.errors == tuple(log.of("error"))
    assert result.status == "aborted"


@pytest.mark.anyio
async def test_turn_abort_from_executor_status_aborted_no_output() -> None:
    tout_calls: list[int] = []
    turn: list[Any] = []

    async def tin(ctx: Any, next: Any) -> None:
        turn.append(ctx)
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        turn[0].abort("user hung up")

    async def tout(ctx: Any, next: Any) -> None:
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(
        executor=executor, turn_input_pipeline=[tin], turn_output_pipeline=[tout]
    )
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert tout_calls == []
    assert log.of("error") == []
    assert result.status == "aborted" and result.dispatch_status == "aborted"
