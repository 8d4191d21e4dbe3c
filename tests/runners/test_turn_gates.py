"""Gates at turn level (RUNNERS.md §2.9, §6; PORT.md §6, §9.1, §9.12)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import adk
from adk.errors import (
    E_INPUT_PIPELINE_ERROR,
    E_INVALID_INITIAL_TURN_GATE_VALUE,
    E_INVALID_TURN_GATE_RESOLUTION,
    E_TURN_GATE_ABORTED,
    E_TURN_GATE_TIMEOUT,
)


class Events:
    def __init__(self, runner: adk.TurnRunner) -> None:
        self.items: list[tuple[str, Any]] = []
        for name in ("turn_gate_open", "turn_gate_closed", "error", "turn_end", "dispatch_end"):
            runner.observe(name, self._rec(name))

    def _rec(self, name: str) -> Any:
        return lambda p: self.items.append((name, p))

    def add(self, name: str, payload: Any = None) -> None:
        self.items.append((name, payload))

    def of(self, name: str) -> list[Any]:
        return [p for n, p in self.items if n == name]

    def names(self) -> list[str]:
        return [n for n, _ in self.items]


async def ack(ctx: Any, helpers: Any) -> None:
    ctx.ack()


def gate_mw(events: list[Events], outcome: dict[str, Any], **kwargs: Any) -> Any:
    async def middleware(ctx: Any, next: Any) -> None:
        try:
            outcome["value"] = await ctx.wait_for(
                id="g1", reason="tool_approval", payload={"tool": "rm"}, **kwargs
            )
        except Exception as exc:
            outcome["error"] = exc
        events[0].add("resumed")
        await next()

    return middleware


@pytest.mark.anyio
async def test_turn_middleware_gate_resolved_synchronously_from_open_listener() -> None:
    holder: list[Events] = []
    outcome: dict[str, Any] = {}
    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[gate_mw(holder, outcome)])
    ev = Events(runner)
    holder.append(ev)
    opened: list[Any] = []

    def on_open(gate: Any) -> None:
        assert isinstance(gate, adk.TurnGate) and adk.TurnGate.is_turn_gate(gate)
        assert not gate.is_settled
        opened.append((gate.id, gate.reason, gate.payload))
        gate.resolve("approved")
        assert gate.is_settled

    runner.observe("turn_gate_open", on_open)
    result = await runner.run(system_prompt="sys")
    assert opened == [("g1", "tool_approval", {"tool": "rm"})]
    assert outcome == {"value": "approved"}
    (gate,) = ev.of("turn_gate_open")
    assert gate.turn_id == result.turn_id
    (closed,) = ev.of("turn_gate_closed")
    assert isinstance(closed, adk.TurnGateClosed)
    assert (closed.gate_id, closed.turn_id, closed.result) == ("g1", result.turn_id, "resolved")
    assert closed.settled_at.tzinfo is not None
    names = ev.names()
    assert names.index("turn_gate_open") < names.index("turn_gate_closed") < names.index("resumed")
    assert result.status == "completed"


@pytest.mark.anyio
async def test_executor_gate_resolved_later_from_another_task() -> None:
    gates: list[Any] = []
    order: list[str] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        value = await ctx.wait_for(id="approve", reason="tool_approval", payload=None)
        order.append(f"resumed:{value}")
        ctx.ack()

    runner = adk.TurnRunner(executor=executor)
    ev = Events(runner)
    runner.observe("turn_gate_open", gates.append)
    runner.observe("turn_gate_closed", lambda e: order.append(f"closed:{e.result}"))
    results: list[adk.TurnResult] = []

    async def run() -> None:
        results.append(await runner.run(system_prompt="sys"))

    async def approver() -> None:
        while not gates:
            await anyio.sleep(0.001)
        await anyio.sleep(0.01)
        assert not gates[0].is_settled
        gates[0].resolve({"ok": True})

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            tg.start_soon(approver)
    (result,) = results
    assert order == ["closed:resolved", "resumed:{'ok': True}"]
    (gate,) = ev.of("turn_gate_open")
    assert gate.turn_id == result.turn_id  # the turn's id, not the DispatchContext's
    assert len(ev.of("turn_gate_closed")) == 1
    assert result.status == "completed" and result.dispatch_status == "ack"


@pytest.mark.anyio
async def test_gate_reject_raises_in_middleware_closed_rejected() -> None:
    holder: list[Events] = []
    outcome: dict[str, Any] = {}
    denied = PermissionError("denied")
    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[gate_mw(holder, outcome)])
    ev = Events(runner)
    holder.append(ev)
    runner.observe("turn_gate_open", lambda g: g.reject(denied))
    result = await runner.run(system_prompt="sys")
    assert outcome == {"error": denied}
    (closed,) = ev.of("turn_gate_closed")
    assert closed.result == "rejected"
    assert result.status == "completed"


@pytest.mark.anyio
async def test_gate_rejection_propagating_out_of_middleware_is_E_INPUT_PIPELINE_ERROR() -> None:
    denied = PermissionError("denied")

    async def tin(ctx: Any, next: Any) -> None:
        await ctx.wait_for(id="g", reason="r", payload=1)
        await next()

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[tin])
    ev = Events(runner)
    runner.observe("turn_gate_open", lambda g: g.reject(denied))
    result = await runner.run(system_prompt="sys")
    (err,) = ev.of("error")
    assert isinstance(err, E_INPUT_PIPELINE_ERROR) and err.__cause__ is denied
    assert result.status == "failed" and result.dispatch_status is None


@pytest.mark.anyio
async def test_gate_timeout_ms_closed_timeout() -> None:
    holder: list[Events] = []
    outcome: dict[str, Any] = {}
    runner = adk.TurnRunner(
        executor=ack, turn_input_pipeline=[gate_mw(holder, outcome, timeout_ms=20)]
    )
    ev = Events(runner)
    holder.append(ev)
    with anyio.fail_after(5):
        result = await runner.run(system_prompt="sys")
    assert isinstance(outcome.get("error"), E_TURN_GATE_TIMEOUT)
    (closed,) = ev.of("turn_gate_closed")
    assert closed.result == "timeout"
    names = ev.names()
    assert names.index("turn_gate_closed") < names.index("resumed")
    assert result.status == "completed"


@pytest.mark.anyio
async def test_gate_abort_method_closes_aborted_without_aborting_turn() -> None:
    holder: list[Events] = []
    outcome: dict[str, Any] = {}
    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[gate_mw(holder, outcome)])
    ev = Events(runner)
    holder.append(ev)
    runner.observe("turn_gate_open", lambda g: g.abort())
    result = await runner.run(system_prompt="sys")
    assert isinstance(outcome.get("error"), E_TURN_GATE_ABORTED)
    assert [c.result for c in ev.of("turn_gate_closed")] == ["aborted"]
    assert result.status == "completed" and result.dispatch_status == "ack"


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["turn-middleware", "executor"])
async def test_turn_abort_while_waiting_on_gate_status_aborted_closed_aborted(where: str) -> None:
    controller = adk.AbortController()
    after_gate: list[str] = []

    async def tin(ctx: Any, next: Any) -> None:
        if where == "turn-middleware":
            await ctx.wait_for(id="g", reason="r", payload=None)
            after_gate.append("tin")
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        if where == "executor":
            await ctx.wait_for(id="g", reason="r", payload=None)
            after_gate.append("executor")
        ctx.ack()

    runner = adk.TurnRunner(executor=executor, turn_input_pipeline=[tin])
    ev = Events(runner)
    runner.observe("turn_gate_open", lambda g: ev.add("opened-live", g.is_settled))
    results: list[adk.TurnResult] = []

    async def run() -> None:
        results.append(await runner.run(system_prompt="sys", turn_abort_controller=controller))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            while not ev.of("turn_gate_open"):
                await anyio.sleep(0.001)
            controller.abort("user left")
    (result,) = results
    assert after_gate == []
    assert [c.result for c in ev.of("turn_gate_closed")] == ["aborted"]
    assert ev.of("opened-live") == [False]
    assert ev.of("error") == []
    assert len(ev.of("turn_end")) == 1
    assert result.status == "aborted" and result.errors == ()
    if where == "executor":
        assert result.dispatch_status == "aborted"
    else:
        assert result.dispatch_status is None


@pytest.mark.anyio
async def test_dispatch_abort_while_executor_waits_closes_gate_aborted_PORT_9_12() -> None:
    dispatch_ctx: list[Any] = []
    tout_calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        dispatch_ctx.append(ctx)
        await ctx.wait_for(id="g", reason="r", payload=None)
        ctx.ack()  # never reached

    async def tout(ctx: Any, next: Any) -> None:
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(executor=executor, turn_output_pipeline=[tout])
    ev = Events(runner)
    results: list[adk.TurnResult] = []

    async def run() -> None:
        results.append(await runner.run(system_prompt="sys"))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            while not ev.of("turn_gate_open"):
                await anyio.sleep(0.001)
            dispatch_ctx[0].abort("dispatch only")
    (result,) = results
    (gate,) = ev.of("turn_gate_open")
    assert gate.is_settled
    assert [c.result for c in ev.of("turn_gate_closed")] == ["aborted"]
    assert ev.of("dispatch_end")[0].status == "aborted"
    assert ev.of("error") == []
    assert tout_calls == [1]  # a dispatch abort does not abort the turn
    assert result.dispatch_status == "aborted" and result.status == "completed"


@pytest.mark.anyio
async def test_invalid_wait_for_arguments_raise_before_turn_gate_open_PORT_9_1() -> None:
    outcome: dict[str, Any] = {}

    async def tin(ctx: Any, next: Any) -> None:
        try:
            await ctx.wait_for(id="", reason="r", payload=None, timeout_ms=-5)
        except Exception as exc:
            outcome["error"] = exc
        await next()

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[tin])
    ev = Events(runner)
    result = await runner.run(system_prompt="sys")
    err = outcome["error"]
    assert isinstance(err, E_INVALID_INITIAL_TURN_GATE_VALUE)
    assert {"id", "timeout_ms"} <= set(err.fields)
    assert ev.of("turn_gate_open") == [] and ev.of("turn_gate_closed") == []
    assert result.status == "completed"


@pytest.mark.anyio
async def test_invalid_resolution_leaves_gate_open_then_valid_value_wins() -> None:
    outcome: dict[str, Any] = {}
    checks: list[Any] = []

    async def tin(ctx: Any, next: Any) -> None:
        outcome["value"] = await ctx.wait_for(id="g", reason="r", payload=None, schema=int)
        await next()

    def on_open(gate: Any) -> None:
        with pytest.raises(E_INVALID_TURN_GATE_RESOLUTION):
            gate.resolve("not an int")
        checks.append(gate.is_settled)
        gate.resolve(7)
        gate.resolve(8)  # ignored: first settlement wins
        gate.reject(RuntimeError("late"))  # ignored
        checks.append(gate.is_settled)

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[tin])
    ev = Events(runner)
    runner.observe("turn_gate_open", on_open)
    await runner.run(system_prompt="sys")
    assert checks == [False, True]
    assert outcome == {"value": 7}
    assert [c.result for c in ev.of("turn_gate_closed")] == ["resolved"]
