"""Dispatch status table, precedence and error observation (RUNNERS.md §3.4, §8, §9.2–§9.4,
§10.8–§10.9; PORT.md §9.7)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adk import AbortError, DispatchRunner
from adk.errors import (
    E_DISPATCH_PIPELINE_ERROR,
    E_LLM_EXECUTION_EXECUTOR_ERROR,
    E_PIPELINE_SHORT_CIRCUITED,
    E_TURN_GATE_TIMEOUT,
    AdkError,
)
from adk.runners.dispatch import executor_error
from tests.runners.doubles import Recorder, raw

pytestmark = pytest.mark.anyio

STATIC = E_LLM_EXECUTION_EXECUTOR_ERROR.template


class Boom(Exception):
    pass


async def _dispatch(executor: Any, rec: Recorder, **kwargs: Any) -> BaseException | None:
    try:
        await DispatchRunner.dispatch(
            raw=raw(), executor=executor, observers=rec.observers(), **kwargs
        )
    except Exception as exc:
        return exc
    return None


# --- the status table ---------------------------------------------------------------------


async def test_status_ack_resolves_without_error() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    assert await _dispatch(executor, rec) is None
    end = rec.one("dispatch_end")
    assert end.status == "ack"
    assert end.error is None
    assert rec.of("error") == []


async def test_status_aborted_resolves_without_error() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.abort("stop")

    assert await _dispatch(executor, rec) is None
    end = rec.one("dispatch_end")
    assert end.status == "aborted"
    assert end.error is None
    assert rec.of("error") == []


async def test_nack_rejects_with_the_raw_error_and_observes_the_wrapper() -> None:
    rec = Recorder()
    boom = Boom("model refused")

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack(boom)

    err = await _dispatch(executor, rec)
    assert err is boom
    end = rec.one("dispatch_end")
    assert end.status == "nack"
    assert end.error is boom
    observed = rec.one("error")
    assert isinstance(observed, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert observed.__cause__ is boom
    assert "model refused" in observed.message


async def test_nack_with_adk_error_is_observed_unchanged() -> None:
    rec = Recorder()
    timeout = E_TURN_GATE_TIMEOUT()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack(timeout)

    err = await _dispatch(executor, rec)
    assert err is timeout
    assert rec.one("error") is timeout
    assert rec.one("dispatch_end").error is timeout


async def test_nack_without_error_rejects_with_a_default_error() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack()
        assert ctx.nack_error is not None

    err = await _dispatch(executor, rec)
    assert isinstance(err, Exception)
    assert rec.one("dispatch_end").status == "nack"
    assert rec.one("dispatch_end").error is err
    assert len(rec.of("error")) == 1


async def test_exactly_one_error_observation_per_nack_dispatch() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        if ctx.iteration == 2:
            ctx.nack(Boom("late"))

    await _dispatch(executor, rec)
    assert len(rec.of("error")) == 1
    assert rec.one("dispatch_end").iterations == 2


async def test_error_observation_comes_before_dispatch_end() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack(Boom())

    await _dispatch(executor, rec)
    assert rec.names[-2:] == ["error", "dispatch_end"]


async def test_executor_raising_is_wrapped_and_rejects_with_the_wrapper() -> None:
    rec = Recorder()
    boom = Boom("kaput")

    async def executor(ctx: Any, helpers: Any) -> None:
        raise boom

    err = await _dispatch(executor, rec)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert err.__cause__ is boom
    assert rec.one("error") is err
    end = rec.one("dispatch_end")
    assert end.status == "nack"
    assert end.error is err
    assert end.iterations == 0


async def test_executor_raising_adk_error_is_wrapped_too() -> None:
    rec = Recorder()
    inner = E_TURN_GATE_TIMEOUT()

    async def executor(ctx: Any, helpers: Any) -> None:
        raise inner

    err = await _dispatch(executor, rec)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert err.__cause__ is inner


async def test_sync_executor_raising_is_wrapped() -> None:
    rec = Recorder()

    def executor(ctx: Any, helpers: Any) -> None:
        raise Boom("sync")

    err = await _dispatch(executor, rec)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert isinstance(err.__cause__, Boom)


async def test_executor_raising_abort_error_is_status_aborted_without_error() -> None:
    rec = Recorder()
    calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(ctx.iteration)
        raise AbortError("user went away")

    assert await _dispatch(executor, rec) is None
    end = rec.one("dispatch_end")
    assert end.status == "aborted"
    assert end.error is None
    assert end.iterations == 0
    assert rec.of("error") == []
    assert calls == [0], "no continuation after an abort-class error"


# --- precedence: thrown error > nack > ack > aborted ----------------------------------------


async def test_status_precedence_thrown_error_beats_nack() -> None:
    rec = Recorder()
    nacked = Boom("nacked")
    thrown = Boom("thrown")

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack(nacked)
        raise thrown

    err = await _dispatch(executor, rec)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert err.__cause__ is thrown
    end = rec.one("dispatch_end")
    assert end.status == "nack"
    assert end.error is err
    assert rec.of("error") == [err], "the nack is not observed on top of the thrown error"


async def test_status_precedence_thrown_error_beats_ack() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()
        raise Boom("after ack")

    err = await _dispatch(executor, rec)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert rec.one("dispatch_end").status == "nack"


async def test_status_precedence_pipeline_error_beats_ack() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        pass

    async def output(ctx: Any, next: Any) -> None:
        ctx.ack()
        raise Boom("output failed")

    err = await _dispatch(executor, rec, turn_output_pipeline=[output])
    assert isinstance(err, E_DISPATCH_PIPELINE_ERROR)
    assert rec.one("dispatch_end").status == "nack"
    assert rec.one("error") is err


async def test_status_precedence_nack_beats_abort() -> None:
    rec = Recorder()
    boom = Boom()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.nack(boom)
        ctx.abort()

    assert await _dispatch(executor, rec) is boom
    assert rec.one("dispatch_end").status == "nack"
    assert len(rec.of("error")) == 1


async def test_status_precedence_ack_beats_abort() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()
        ctx.abort()

    assert await _dispatch(executor, rec) is None
    assert rec.one("dispatch_end").status == "ack"
    assert rec.of("error") == []


async def test_abort_then_ack_is_still_ack() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.abort()
        ctx.ack()

    assert await _dispatch(executor, rec) is None
    assert rec.one("dispatch_end").status == "ack"


async def test_nack_in_input_pipeline_without_next_is_a_legitimate_stop() -> None:
    rec = Recorder()
    boom = Boom("guard")
    calls: list[int] = []

    async def guard(ctx: Any, next: Any) -> None:
        if ctx.iteration >= 2:
            ctx.nack(boom)
            return
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(ctx.iteration)

    assert await _dispatch(executor, rec, turn_input_pipeline=[guard]) is boom
    assert calls == [0, 1]
    end = rec.one("dispatch_end")
    assert end.status == "nack"
    assert end.iterations == 2
    assert isinstance(rec.one("error"), E_LLM_EXECUTION_EXECUTOR_ERROR)


async def test_short_circuit_is_status_nack_with_one_error() -> None:
    rec = Recorder()

    async def forgetful(ctx: Any, next: Any) -> None:
        pass

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    err = await _dispatch(executor, rec, turn_input_pipeline=[forgetful])
    assert isinstance(err, E_PIPELINE_SHORT_CIRCUITED)
    assert rec.one("error") is err
    assert rec.one("dispatch_end").status == "nack"
    assert rec.one("dispatch_end").error is err


# --- iterations -------------------------------------------------------------------------------


async def test_iterations_counts_only_completed_iterations_ack_on_first_call_is_zero() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    await _dispatch(executor, rec)
    assert rec.one("dispatch_end").iterations == 0


@pytest.mark.parametrize("k", [1, 3])
async def test_iterations_counts_completed_iterations(k: int) -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        if ctx.iteration == k:
            ctx.ack()

    await _dispatch(executor, rec)
    assert rec.one("dispatch_end").iterations == k


async def test_signal_in_output_pipeline_counts_the_iteration() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        pass

    async def output(ctx: Any, next: Any) -> None:
        if ctx.iteration == 1:
            ctx.nack(Boom("output nack"))
            return
        await next()

    err = await _dispatch(executor, rec, turn_output_pipeline=[output])
    assert isinstance(err, Boom)
    assert rec.one("dispatch_end").iterations == 2


# --- executor_error (RUNNERS.md §8) ----------------------------------------------------------


def test_executor_error_message_enrichment() -> None:
    cause = ValueError("  the model exploded  ")
    err = executor_error(cause)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert STATIC.endswith(".")
    assert err.message == STATIC[:-1] + ": the model exploded"
    assert err.__cause__ is cause
    assert err.status == 500
    assert err.fatal is False


def test_executor_error_without_cause_message_has_no_suffix() -> None:
    for cause in (ValueError(), ValueError("   ")):
        err = executor_error(cause)
        assert err.message == STATIC
        assert err.__cause__ is cause


def test_executor_error_with_cause_message_identical_to_static_text_has_no_suffix() -> None:
    cause = RuntimeError(STATIC)
    err = executor_error(cause)
    assert err.message == STATIC
    assert err.__cause__ is cause


def test_executor_error_when_str_of_cause_fails_uses_bare_static_text() -> None:
    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    cause = Weird()
    err = executor_error(cause)
    assert err.message == STATIC
    assert err.__cause__ is cause


def test_executor_error_uses_the_adk_error_message_of_an_adk_cause() -> None:
    cause = E_TURN_GATE_TIMEOUT()
    err = executor_error(cause)
    assert err.__cause__ is cause
    assert err.message.startswith(STATIC[:-1] + ": ")
    assert "the gate timed out" in err.message


async def test_dispatch_executor_error_message_names_the_cause() -> None:
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        raise KeyError("missing")

    err = await _dispatch(executor, rec)
    assert isinstance(err, AdkError)
    assert str(err).startswith("E_LLM_EXECUTION_EXECUTOR_ERROR: ")
    assert "missing" in str(err)


# --- property: signalling invariants (RUNNERS.md §10) -----------------------------------------

ACTIONS = st.sampled_from(["none", "ack", "nack", "abort", "raise", "raise_abort", "ack_abort"])
WHERE = st.sampled_from(["input", "executor", "output"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=st.lists(st.tuples(WHERE, ACTIONS), min_size=1, max_size=4))
def test_property_status_and_iteration_invariants(anyio_backend: str, plan: list[Any]) -> None:
    """Iteration i performs ``plan[i]`` at its place; past the plan the executor acks."""
    rec = Recorder()
    executor_calls: list[int] = []
    outputs: list[int] = []
    nacked = Boom("nacked")

    def act(ctx: Any, where: str) -> bool:
        i = ctx.iteration
        if i >= len(plan):
            if where == "executor":
                ctx.ack()
                return True
            return False
        w, action = plan[i]
        if w != where or action == "none":
            return False
        if action == "ack":
            ctx.ack()
        elif action == "nack":
            ctx.nack(nacked)
        elif action == "abort":
            ctx.abort()
        elif action == "ack_abort":
            ctx.ack()
            ctx.abort()
        elif action == "raise":
            raise Boom("thrown")
        elif action == "raise_abort":
            raise AbortError()
        return True

    async def inp(ctx: Any, next: Any) -> None:
        if not act(ctx, "input"):
            await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        executor_calls.append(ctx.iteration)
        act(ctx, "executor")

    async def out(ctx: Any, next: Any) -> None:
        outputs.append(ctx.iteration)
        if not act(ctx, "output"):
            await next()

    async def main() -> BaseException | None:
        with anyio.fail_after(5):
            return await _dispatch(
                executor, rec, turn_input_pipeline=[inp], turn_output_pipeline=[out]
            )

    err = anyio.run(main, backend=anyio_backend)

    # the model: the first non-"none" action stops the dispatch
    stop = next((i for i, (_, a) in enumerate(plan) if a != "none"), None)
    if stop is None:
        status, iterations, error_type = "ack", len(plan), None
    else:
        where, action = plan[stop]
        iterations = stop + 1 if where == "output" and action != "raise" else stop
        error_type: Any = None
        if action in ("ack", "ack_abort"):
            status = "ack"
        elif action == "nack":
            status = "nack"
        elif action == "abort":
            status = "aborted"
        elif action == "raise":
            status = "nack"
            error_type = (
                E_LLM_EXECUTION_EXECUTOR_ERROR if where == "executor" else E_DISPATCH_PIPELINE_ERROR
            )
        elif where == "executor":  # raise_abort in the executor
            status = "aborted"
        else:  # an abort-class error in a middleware is swallowed: next was not called
            status, iterations, error_type = "nack", stop, E_PIPELINE_SHORT_CIRCUITED

    starts = [p.iteration for p in rec.of("iteration_start")]
    ends = [p.iteration for p in rec.of("iteration_end")]
    end = rec.one("dispatch_end")
    assert end.status == status
    assert end.iterations == iterations
    # §10.6 / §10.7
    assert starts == list(range(len(starts)))
    assert ends == starts[: len(ends)]
    assert len(starts) - len(ends) in (0, 1)
    assert end.iterations == len(ends)
    assert rec.names[0] == "dispatch_start"
    assert rec.names[-1] == "dispatch_end"
    # §10.4: the executor is never called again after a stop
    assert executor_calls == sorted(set(executor_calls))
    # §10.8 / §10.9
    if status == "nack":
        assert err is not None
        assert end.error is err
        if error_type is None:
            assert err is nacked
        else:
            assert isinstance(err, error_type)
        assert len(rec.of("error")) == 1
    else:
        assert err is None
        assert end.error is None
        assert rec.of("error") == []
    # §10.5: the output pipeline runs in i only if the executor ran in i without stopping
    for i in outputs:
        assert i in executor_calls
        assert i >= len(plan) or plan[i] != ("executor", plan[i][1]) or plan[i][1] == "none"
