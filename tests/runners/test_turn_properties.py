"""Property tests for TurnRunner (RUNNERS.md §10 items 14 and 15; PORT.md §7.2).

Each property is a sync hypothesis test that runs one example per ``anyio.run`` on a drawn
backend (asyncio or trio).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from dataclasses import dataclass, field
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import adk
from adk.errors import (
    E_INPUT_PIPELINE_ERROR,
    E_OUTPUT_PIPELINE_ERROR,
    E_PIPELINE_SHORT_CIRCUITED,
    E_TURN_GATE_ABORTED,
    E_TURN_GATE_TIMEOUT,
)

BACKENDS = st.sampled_from(["asyncio", "trio"])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _living_tasks() -> Any:
    """Something that compares equal iff the same tasks are alive (per backend)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        import trio

        return trio.lowlevel.current_statistics().tasks_living
    return frozenset(asyncio.all_tasks())


# -- cancellation at random points (PORT.md §7.2) ---------------------------------------------


@SETTINGS
@given(ticks=st.integers(min_value=0, max_value=60), backend=BACKENDS)
def test_cancel_run_after_k_ticks_one_turn_end_no_leaked_tasks(ticks: int, backend: str) -> None:
    async def main() -> None:
        events: list[str] = []
        gates: list[Any] = []
        closed: list[Any] = []

        async def tin(ctx: Any, next: Any) -> None:
            await anyio.sleep(0)
            await next()
            await anyio.sleep(0)

        async def executor(ctx: Any, helpers: Any) -> None:
            await anyio.sleep(0)
            helpers.report_message(f"m{ctx.iteration}", "chunk", is_complete=True)
            if ctx.iteration == 1:
                await ctx.wait_for(id="g", reason="approval", payload=None)
            await anyio.sleep(0)
            if ctx.iteration == 2:
                ctx.ack()

        async def tout(ctx: Any, next: Any) -> None:
            await anyio.sleep(0)
            await next()

        async def slow_listener(payload: Any) -> None:
            await anyio.sleep(0)
            await anyio.sleep(0)

        runner = adk.TurnRunner(
            executor=executor,
            turn_input_pipeline=[tin],
            turn_output_pipeline=[tout],
            dispatch_input_pipeline=[tin],
        )
        runner.observe("turn_start", lambda e: events.append("turn_start"))
        runner.observe("turn_end", lambda e: events.append("turn_end"))
        runner.observe("turn_gate_open", gates.append)
        runner.observe("turn_gate_closed", closed.append)
        runner.observe("iteration_end", slow_listener)
        runner.on("message", slow_listener)

        before = _living_tasks()
        outcome: dict[str, Any] = {"scope": anyio.CancelScope()}

        async def approver() -> None:
            while not gates:
                await anyio.sleep(0)
            for _ in range(3):
                await anyio.sleep(0)
            gates[0].resolve(True)

        async def run() -> None:
            with outcome["scope"] as scope:
                outcome["result"] = await runner.run(system_prompt="sys")
            outcome["caught"] = scope.cancelled_caught

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                helper = anyio.CancelScope()

                async def approve_in(scope: anyio.CancelScope) -> None:
                    with scope:
                        await approver()

                tg.start_soon(approve_in, helper)
                for _ in range(ticks):
                    await anyio.sleep(0)
                outcome["scope"].cancel()
                helper.cancel()
        await anyio.sleep(0)
        assert events == ["turn_start", "turn_end"]
        # Either the run finished first (a result) or it was cancelled (re-raised, caught).
        assert ("result" in outcome) != bool(outcome["caught"])
        if "result" in outcome:
            assert outcome["result"].status == "completed"
        assert len(closed) == len(gates) <= 1  # every opened gate closed exactly once
        if outcome["caught"] and gates and "result" not in outcome:
            assert closed[0].result in ("resolved", "aborted")
        assert _living_tasks() == before

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        anyio.run(main, backend=backend)
        gc.collect()
    # No listener coroutine may be dropped without being awaited or closed (PORT.md §7.3).
    never_awaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert never_awaited == []


# -- item 14: turn_start/turn_end and when the output pipeline runs ---------------------------

MW_ACTIONS = [
    "next",
    "skip",
    "raise",
    "abort",
    "raise_after_next",
    "abort_after_next",
    "abort_next",
]
EXEC_ACTIONS = ["continue", "ack", "nack", "raise", "abort", "turn_abort"]


@dataclass
class Walk:
    reached: bool = False
    failures: int = 0
    aborted: bool = False


def model_pipeline(actions: list[str], aborted: bool) -> Walk:
    """The onion of RUNNERS.md §5 with the abort-skip wrapper, as a plain recursion."""
    w = Walk(aborted=aborted)

    def walk(i: int) -> None:
        if i == len(actions):
            w.reached = True
            return
        if w.aborted:  # abort-skip wrapper: body skipped, next() called
            walk(i + 1)
            return
        a = actions[i]
        if a == "next":
            walk(i + 1)
        elif a == "raise":
            w.failures += 1
        elif a == "abort":
            w.aborted = True
        elif a == "raise_after_next":
            walk(i + 1)
            w.failures += 1
        elif a == "abort_after_next":
            walk(i + 1)
            w.aborted = True
        elif a == "abort_next":
            w.aborted = True
            walk(i + 1)

    walk(0)
    return w


def make_mw(action: str) -> Any:
    async def mw(ctx: Any, next: Any) -> None:
        await anyio.sleep(0)
        if action == "next":
            await next()
        elif action == "raise":
            raise RuntimeError("mw")
        elif action == "abort":
            ctx.abort()
        elif action == "raise_after_next":
            await next()
            raise RuntimeError("mw after next")
        elif action == "abort_after_next":
            await next()
            ctx.abort()
        elif action == "abort_next":
            ctx.abort()
            await next()
        # "skip": return without next()

    return mw


@dataclass
class Program:
    tin: list[str]
    executor: list[str]
    tout: list[str]
    observed: list[str] = field(default_factory=list)


programs = st.builds(
    Program,
    tin=st.lists(st.sampled_from(MW_ACTIONS), max_size=3),
    executor=st.lists(st.sampled_from(EXEC_ACTIONS), min_size=1, max_size=3),
    tout=st.lists(st.sampled_from(MW_ACTIONS), max_size=3),
)


@SETTINGS
@given(program=programs, backend=BACKENDS)
def test_item_14_turn_events_and_output_pipeline_rule(program: Program, backend: str) -> None:
    # The model.
    tin = model_pipeline(program.tin, aborted=False)
    if not tin.reached and not tin.failures and not tin.aborted:
        tin.failures += 1  # short circuit
    input_ok = tin.failures == 0 and not tin.aborted
    turn_aborted = tin.aborted
    dispatch_status: str | None = None
    dispatch_errors = 0
    if input_ok:
        for i in range(10):
            a = program.executor[i] if i < len(program.executor) else "ack"
            if a == "continue":
                continue
            if a == "ack":
                dispatch_status = "ack"
            elif a in ("nack", "raise"):
                dispatch_status, dispatch_errors = "nack", 1
            elif a == "abort":
                dispatch_status = "aborted"
            else:
                dispatch_status, turn_aborted = "aborted", True
            break
    output_runs = input_ok and dispatch_status in ("ack", "aborted") and not turn_aborted
    out = Walk()
    if output_runs:
        out = model_pipeline(program.tout, aborted=False)
        if not out.reached and not out.failures and not out.aborted:
            out.failures += 1
        turn_aborted = turn_aborted or out.aborted
    n_errors = tin.failures + dispatch_errors + out.failures
    status = "aborted" if turn_aborted else "failed" if n_errors else "completed"

    async def main() -> None:
        events: list[str] = []
        errors: list[BaseException] = []
        turn: list[Any] = []

        async def capture(ctx: Any, next: Any) -> None:
            turn.append(ctx)
            await next()

        async def output_sentinel(ctx: Any, next: Any) -> None:
            events.append("output")
            await next()

        async def executor(ctx: Any, helpers: Any) -> None:
            events.append(f"executor:{ctx.iteration}")
            await anyio.sleep(0)
            i = ctx.iteration
            a = program.executor[i] if i < len(program.executor) else "ack"
            if a == "ack":
                ctx.ack()
            elif a == "nack":
                ctx.nack(ValueError("nacked"))
            elif a == "raise":
                raise ValueError("executor")
            elif a == "abort":
                ctx.abort()
            elif a == "turn_abort":
                turn[0].abort()

        runner = adk.TurnRunner(
            executor=executor,
            turn_input_pipeline=[capture, *map(make_mw, program.tin)],
            turn_output_pipeline=[output_sentinel, *map(make_mw, program.tout)],
        )
        for name in ("turn_start", "turn_end", "dispatch_start"):
            runner.observe(name, lambda e, name=name: events.append(name))
        runner.observe("error", errors.append)
        with anyio.fail_after(5):
            result = await runner.run(system_prompt="sys")

        observed = [e for e in events if e in ("turn_start", "turn_end")]
        assert observed == ["turn_start", "turn_end"]
        assert events[0] == "turn_start" and events[-1] == "turn_end"
        assert ("dispatch_start" in events) == input_ok
        assert result.dispatch_status == dispatch_status
        assert ("output" in events) == output_runs
        assert result.errors == tuple(errors)
        assert len(errors) == n_errors, (program, errors)
        kinds = [type(e) for e in errors]
        assert (
            kinds.count(E_INPUT_PIPELINE_ERROR)
            + sum(
                isinstance(e, E_PIPELINE_SHORT_CIRCUITED) and e.pipeline == "turn-input"
                for e in errors
            )
            == tin.failures
        )
        assert (
            kinds.count(E_OUTPUT_PIPELINE_ERROR)
            + sum(
                isinstance(e, E_PIPELINE_SHORT_CIRCUITED) and e.pipeline == "turn-output"
                for e in errors
            )
            == out.failures
        )
        assert result.status == status

    anyio.run(main, backend=backend)


# -- item 15: gates settle once; turn_gate_closed once, right result, before resumption ------

SYNC_CAUSES = ["resolve", "reject", "abort_gate", "invalid_resolve"]
LATER_CAUSES = [
    "resolve",
    "reject",
    "abort_gate",
    "invalid_resolve",
    "turn_abort",
    "dispatch_abort",
]
EXPECTED = {
    "resolve": "resolved",
    "reject": "rejected",
    "abort_gate": "aborted",
    "turn_abort": "aborted",
    "dispatch_abort": "aborted",
    "timeout": "timeout",
}


@st.composite
def gate_programs(draw: st.DrawFn) -> tuple[str, bool, list[str], list[str]]:
    where = draw(st.sampled_from(["turn-middleware", "executor"]))
    timeout = draw(st.booleans())
    sync = draw(st.lists(st.sampled_from(SYNC_CAUSES), max_size=2))
    later_choices = [c for c in LATER_CAUSES if where == "executor" or c != "dispatch_abort"]
    later = draw(st.lists(st.sampled_from(later_choices), max_size=3))
    if not timeout and all(c == "invalid_resolve" for c in sync + later):
        later.append(draw(st.sampled_from(["resolve", "reject", "abort_gate"])))
    return where, timeout, sync, later


@SETTINGS
@given(program=gate_programs(), backend=BACKENDS)
def test_item_15_gates_settle_once_and_close_once_before_resuming(
    program: tuple[str, bool, list[str], list[str]], backend: str
) -> None:
    where, timeout, sync, later = program
    settling = [c for c in sync if c != "invalid_resolve"]
    if timeout and not settling:
        first = "timeout"  # the later causes wait for the timeout to fire
    else:
        first = next(c for c in sync + later if c != "invalid_resolve")
    expected = EXPECTED[first]
    denied = PermissionError("denied")

    async def main() -> None:
        order: list[str] = []
        closed: list[Any] = []
        gates: list[Any] = []
        unsettled_after_invalid: list[bool] = []
        turn: list[Any] = []
        dispatch: list[Any] = []
        outcome: dict[str, Any] = {}

        def apply(gate: Any, cause: str) -> None:
            if cause == "resolve":
                gate.resolve(42)
            elif cause == "reject":
                gate.reject(denied)
            elif cause == "abort_gate":
                gate.abort()
            elif cause == "invalid_resolve":
                was = gate.is_settled
                try:
                    gate.resolve("not an int")
                except adk.errors.E_INVALID_TURN_GATE_RESOLUTION:
                    unsettled_after_invalid.append(gate.is_settled is False)
                else:
                    assert was, "an invalid resolve on an open gate must raise"
            elif cause == "turn_abort":
                turn[0].abort()
            elif cause == "dispatch_abort":
                dispatch[0].abort()

        async def wait(ctx: Any) -> None:
            try:
                outcome["value"] = await ctx.wait_for(
                    id="g",
                    reason="r",
                    payload=None,
                    schema=int,
                    timeout_ms=5 if timeout else None,
                )
            except Exception as exc:
                outcome["error"] = exc
            order.append("resumed")

        async def tin(ctx: Any, next: Any) -> None:
            turn.append(ctx)
            if where == "turn-middleware":
                await wait(ctx)
            await next()

        async def executor(ctx: Any, helpers: Any) -> None:
            dispatch.append(ctx)
            if where == "executor":
                await wait(ctx)
            ctx.ack()

        def on_open(gate: Any) -> None:
            gates.append(gate)
            order.append("open")
            for cause in sync:
                apply(gate, cause)

        def on_closed(e: Any) -> None:
            closed.append(e)
            order.append("closed")
            assert gates[0].is_settled

        runner = adk.TurnRunner(executor=executor, turn_input_pipeline=[tin])
        runner.observe("turn_gate_open", on_open)
        runner.observe("turn_gate_closed", on_closed)

        async def settler() -> None:
            while not gates:
                await anyio.sleep(0)
            if first == "timeout":
                while not closed:
                    await anyio.sleep(0.001)
            for cause in later:
                for _ in range(2):
                    await anyio.sleep(0)
                apply(gates[0], cause)

        async def run() -> None:
            outcome["result"] = await runner.run(system_prompt="sys")

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                tg.start_soon(settler)

        assert len(gates) == 1
        assert len(closed) == 1, closed
        assert closed[0].result == expected
        assert closed[0].gate_id == "g" and closed[0].turn_id == outcome["result"].turn_id
        assert gates[0].is_settled and gates[0].result == expected
        assert all(unsettled_after_invalid)
        if "resumed" in order:
            assert order.index("closed") < order.index("resumed")
        if first in ("resolve", "reject", "abort_gate", "timeout"):
            assert "resumed" in order
        if expected == "resolved":
            assert outcome.get("value") == 42
        elif first == "reject":
            assert outcome.get("error") is denied
        elif first == "abort_gate":
            assert isinstance(outcome.get("error"), E_TURN_GATE_ABORTED)
        elif first == "timeout":
            assert isinstance(outcome.get("error"), E_TURN_GATE_TIMEOUT)
        if first == "turn_abort":
            assert outcome["result"].status == "aborted"
        if first == "dispatch_abort":
            assert outcome["result"].dispatch_status == "aborted"
            assert outcome["result"].status == "completed"

    anyio.run(main, backend=backend)
