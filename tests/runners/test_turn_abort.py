"""Turn aborts and cancellation (RUNNERS.md §2.5, PORT.md §7.2, §9.2, §9.3)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import adk


class Events:
    def __init__(self, runner: adk.TurnRunner) -> None:
        self.items: list[tuple[str, Any]] = []
        for name in ("turn_start", "turn_end", "error", "dispatch_start", "dispatch_end"):
            runner.observe(name, self._rec(name))

    def _rec(self, name: str) -> Any:
        return lambda p: self.items.append((name, p))

    def of(self, name: str) -> list[Any]:
        return [p for n, p in self.items if n == name]


def _pipelines(where: str, started: anyio.Event, progress: list[str]) -> dict[str, Any]:
    """A runner config whose ``where`` stage awaits anyio.sleep(10)."""

    def stage(name: str) -> Any:
        async def mw(ctx: Any, next: Any) -> None:
            if where == name:
                started.set()
                await anyio.sleep(10)
                progress.append(f"{name}:woke")
            await next()
            progress.append(f"{name}:after-next")

        return mw

    async def executor(ctx: Any, helpers: Any) -> None:
        if where == "executor":
            started.set()
            await anyio.sleep(10)
            progress.append("executor:woke")
        ctx.ack()

    return {
        "executor": executor,
        "turn_input_pipeline": [stage("tin")],
        "dispatch_input_pipeline": [stage("din")],
        "dispatch_output_pipeline": [],
        "turn_output_pipeline": [stage("tout")],
    }


STAGES = ["tin", "din", "executor", "tout"]


@pytest.mark.anyio
@pytest.mark.parametrize("where", STAGES)
async def test_turn_abort_from_another_task_is_prompt_PORT_7_2(where: str) -> None:
    started = anyio.Event()
    progress: list[str] = []
    runner = adk.TurnRunner(**_pipelines(where, started, progress))
    ev = Events(runner)
    controller = adk.AbortController()
    results: list[adk.TurnResult] = []

    async def run() -> None:
        results.append(await runner.run(system_prompt="sys", turn_abort_controller=controller))

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await started.wait()
            controller.abort("user cancelled")
    (result,) = results
    assert f"{where}:woke" not in progress  # the sleep was cancelled, not completed
    assert result.status == "aborted"
    assert result.errors == () and ev.of("error") == []
    assert len(ev.of("turn_start")) == 1 and len(ev.of("turn_end")) == 1
    assert ev.items[-1][0] == "turn_end"
    if where in ("din", "executor"):
        assert result.dispatch_status == "aborted"
        assert [e.status for e in ev.of("dispatch_end")] == ["aborted"]
    elif where == "tin":
        assert result.dispatch_status is None and ev.of("dispatch_start") == []
    else:
        assert result.dispatch_status == "ack"
    assert not any(p.endswith(":woke") for p in progress)


@pytest.mark.anyio
async def test_outer_await_next_returns_normally_after_inner_level_is_cancelled_PORT_9_2() -> None:
    started = anyio.Event()
    progress: list[str] = []

    async def outer(ctx: Any, next: Any) -> None:
        await next()
        progress.append(f"outer:after-next aborted={ctx.aborted}")

    async def inner(ctx: Any, next: Any) -> None:
        started.set()
        await anyio.sleep(10)
        progress.append("inner:woke")

    runner = adk.TurnRunner(executor=lambda c, h: c.ack(), turn_input_pipeline=[outer, inner])
    errors: list[Any] = []
    runner.observe("error", errors.append)
    controller = adk.AbortController()
    results: list[adk.TurnResult] = []

    async def run() -> None:
        results.append(await runner.run(system_prompt="sys", turn_abort_controller=controller))

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await started.wait()
            controller.abort()
    assert progress == ["outer:after-next aborted=True"]
    assert errors == [] and results[0].status == "aborted"


@pytest.mark.anyio
async def test_turn_abort_while_tool_handler_runs_is_prompt() -> None:
    started = anyio.Event()

    @adk.tool
    async def slow(seconds: float) -> str:
        """Sleep.

        Args:
            seconds: How long.
        """
        started.set()
        await anyio.sleep(seconds)
        return "done"

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.tools.get("slow").executor(ctx)({"seconds": 10})
        ctx.ack()

    runner = adk.TurnRunner(executor=executor, tools=[slow])
    ends: list[Any] = []
    runner.observe("tool_execution_end", ends.append)
    errors: list[Any] = []
    runner.observe("error", errors.append)
    controller = adk.AbortController()
    results: list[adk.TurnResult] = []

    async def run() -> None:
        results.append(await runner.run(system_prompt="sys", turn_abort_controller=controller))

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await started.wait()
            controller.abort()
    assert results[0].status == "aborted" and errors == []
    assert len(ends) == 1  # the tool's end event still fires


@pytest.mark.anyio
async def test_already_aborted_controller_runs_no_middleware_but_emits_turn_end() -> None:
    ran: list[str] = []

    async def tin(ctx: Any, next: Any) -> None:
        ran.append("tin")
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        ran.append("executor")
        ctx.ack()

    runner = adk.TurnRunner(executor=executor, turn_input_pipeline=[tin])
    ev = Events(runner)
    controller = adk.AbortController()
    controller.abort()
    result = await runner.run(system_prompt="sys", turn_abort_controller=controller)
    assert ran == []
    assert [n for n, _ in ev.items] == ["turn_start", "turn_end"]
    assert result.status == "aborted" and result.dispatch_status is None


@pytest.mark.anyio
async def test_abort_error_raised_by_executor_is_a_dispatch_abort_not_an_error() -> None:
    tout_calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        raise adk.AbortError("provider stream cancelled")

    async def tout(ctx: Any, next: Any) -> None:
        tout_calls.append(1)
        await next()

    runner = adk.TurnRunner(executor=executor, turn_output_pipeline=[tout])
    ev = Events(runner)
    result = await runner.run(system_prompt="sys")
    assert ev.of("error") == []
    assert result.dispatch_status == "aborted"
    assert tout_calls == [1]
    assert result.status == "completed"


@pytest.mark.anyio
@pytest.mark.parametrize("where", STAGES)
async def test_cancelling_the_awaiting_task_emits_turn_end_once_and_reraises_PORT_7_2(
    where: str,
) -> None:
    started = anyio.Event()
    progress: list[str] = []
    runner = adk.TurnRunner(**_pipelines(where, started, progress))
    ev = Events(runner)
    controller = adk.AbortController()
    outcome: dict[str, Any] = {}

    async def run() -> None:
        with anyio.CancelScope() as scope:
            outcome["scope"] = scope
            outcome["result"] = await runner.run(
                system_prompt="sys", turn_abort_controller=controller
            )
            outcome["after"] = True  # not reached: the cancellation is re-raised
        outcome["caught"] = scope.cancelled_caught

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await started.wait()
            outcome["scope"].cancel()
    assert outcome.get("caught") is True
    assert "result" not in outcome and "after" not in outcome
    assert len(ev.of("turn_start")) == 1
    assert len(ev.of("turn_end")) == 1
    assert ev.items[-1][0] == "turn_end"
    assert ev.of("error") == []
    assert controller.signal.aborted  # cancelling the awaiting task aborts the turn
    assert f"{where}:woke" not in progress


@pytest.mark.anyio
async def test_move_on_after_around_run_stops_a_hung_executor() -> None:
    async def executor(ctx: Any, helpers: Any) -> None:
        await anyio.sleep(10)

    runner = adk.TurnRunner(executor=executor)
    ev = Events(runner)
    with anyio.fail_after(2):
        with anyio.move_on_after(0.05) as scope:
            await runner.run(system_prompt="sys")
    assert scope.cancelled_caught
    assert len(ev.of("turn_end")) == 1
    assert [e.status for e in ev.of("dispatch_end")] == ["aborted"]


@pytest.mark.anyio
async def test_abort_reason_sticks_and_second_abort_is_harmless() -> None:
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    async def tout(ctx: Any, next: Any) -> None:
        ctx.abort("first")
        ctx.abort("second")
        seen.append(ctx.abort_signal.reason)

    runner = adk.TurnRunner(executor=executor, turn_output_pipeline=[tout])
    result = await runner.run(system_prompt="sys")
    assert seen == ["first"]
    assert result.status == "aborted"
