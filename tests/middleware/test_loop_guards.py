from __future__ import annotations

from typing import Any

import pytest

import adk
from adk.middleware import (
    E_INVALID_MIDDLEWARE_OPTIONS,
    E_MAX_ITERATIONS,
    max_iterations,
    max_tool_rounds,
    repeated_tool_call_guard,
)
from adk.testing import ScriptedExecutor, TextStep, ToolRequest, ToolStep

pytestmark = pytest.mark.anyio


@adk.tool
def add(a: int, b: int) -> str:
    """Add two integers.

    Args:
        a: Left.
        b: Right.
    """
    return str(a + b)


@adk.tool
def now() -> str:
    """The time."""
    return "12:00"


def tools_or_answer(request: ToolRequest) -> Any:
    """A model that calls ``request`` while it has tools and answers once it has none."""

    def step(ctx: adk.DispatchContext) -> Any:
        if ctx.tools.visible():
            return ToolStep([request])
        return TextStep("done")

    return step


def counting_calls() -> Any:
    """A model that calls add with new arguments every time it has tools."""

    def step(ctx: adk.DispatchContext) -> Any:
        if ctx.tools.visible():
            return ToolStep([ToolRequest("add", {"a": ctx.iteration, "b": 1})])
        return TextStep("done")

    return step


async def run(executor: ScriptedExecutor, pipeline: list[Any]) -> adk.TurnResult:
    runner = adk.TurnRunner(executor=executor, tools=[add, now], dispatch_input_pipeline=pipeline)
    return await runner.run(system_prompt="test")


async def test_max_iterations_nacks_at_the_cap() -> None:
    executor = ScriptedExecutor([counting_calls()] * 10)
    result = await run(executor, [max_iterations(3)])
    assert result.status == "failed"
    assert result.dispatch_status == "nack"
    assert len(executor.calls) == 3  # iterations 0, 1, 2 ran; 3 was refused
    err = result.errors[0]
    assert isinstance(err, E_MAX_ITERATIONS)
    assert err.code == "E_MAX_ITERATIONS"
    assert "3 iteration(s)" in str(err)


async def test_max_iterations_final_answer_hides_tools_for_one_last_iteration() -> None:
    executor = ScriptedExecutor([counting_calls()] * 10)
    result = await run(executor, [max_iterations(2, final_answer=True)])
    assert result.status == "completed"
    assert [c.tools for c in executor.calls] == [("add", "now"), ("add", "now"), ()]
    assert executor.calls[-1].step == TextStep("done")


async def test_max_iterations_final_answer_still_nacks_if_the_model_does_not_answer() -> None:
    stubborn = ToolStep([ToolRequest("now", {})])
    executor = ScriptedExecutor([stubborn] * 10)
    result = await run(executor, [max_iterations(1, final_answer=True)])
    assert result.status == "failed"
    assert isinstance(result.errors[0], E_MAX_ITERATIONS)
    assert len(executor.calls) == 2  # the extra, tool-less iteration ran once


async def test_max_iterations_lets_a_quick_answer_through() -> None:
    executor = ScriptedExecutor([TextStep("hi")])
    result = await run(executor, [max_iterations(1)])
    assert result.status == "completed"
    assert executor.calls[0].tools == ("add", "now")


async def test_repeated_call_guard_turns_a_repeat_into_an_answer() -> None:
    hidden: list[str] = []
    executor = ScriptedExecutor([tools_or_answer(ToolRequest("add", {"a": 2, "b": 3}))] * 10)
    guard = repeated_tool_call_guard(on_hide=lambda ctx, reason: hidden.append(reason))
    result = await run(executor, [max_iterations(6), guard])
    assert result.status == "completed"
    # call, identical repeat, then no tools: the model must answer
    assert [c.tools for c in executor.calls] == [("add", "now"), ("add", "now"), ()]
    assert executor.calls[2].tool_results == ("5", "5")
    assert hidden == ["add was called 2 times with the same args"]


async def test_repeated_call_guard_ignores_calls_with_different_args() -> None:
    executor = ScriptedExecutor([counting_calls()] * 10)
    result = await run(executor, [max_iterations(4), repeated_tool_call_guard()])
    assert result.status == "failed"  # never identical: only the cap stops it
    assert isinstance(result.errors[0], E_MAX_ITERATIONS)
    assert all(c.tools == ("add", "now") for c in executor.calls)


async def test_repeated_call_guard_max_repeats() -> None:
    executor = ScriptedExecutor([tools_or_answer(ToolRequest("now", {}))] * 10)
    result = await run(executor, [max_iterations(8), repeated_tool_call_guard(max_repeats=3)])
    assert result.status == "completed"
    assert len(executor.calls) == 5  # 4 identical calls (one more than 3), then the answer
    assert executor.calls[-1].tools == ()


async def test_repeated_call_guard_counts_history_and_leaves_the_runner_tools_alone() -> None:
    executor = ScriptedExecutor([tools_or_answer(ToolRequest("now", {}))] * 10)
    runner = adk.TurnRunner(
        executor=executor,
        tools=[add, now],
        dispatch_input_pipeline=[max_iterations(6), repeated_tool_call_guard()],
    )
    first = await runner.run(system_prompt="test")
    second = await runner.run(system_prompt="test")  # a new turn: all tools again
    assert first.status == second.status == "completed"
    assert [c.tools for c in executor.calls] == [("add", "now"), ("add", "now"), ()] * 2


async def test_max_tool_rounds_hides_tools_after_n_rounds() -> None:
    hidden: list[str] = []
    executor = ScriptedExecutor([counting_calls()] * 10)
    rounds = max_tool_rounds(2, on_hide=lambda ctx, reason: hidden.append(reason))
    result = await run(executor, [max_iterations(6), rounds])
    assert result.status == "completed"
    assert [c.tools for c in executor.calls] == [("add", "now"), ("add", "now"), ()]
    assert hidden == ["2 round(s) of tool calls made"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: max_iterations(0),
        lambda: max_iterations(True),
        lambda: max_iterations("3"),
        lambda: repeated_tool_call_guard(0),
        lambda: max_tool_rounds(-1),
    ],
)
def test_bad_options_are_adk_errors(make: Any) -> None:
    with pytest.raises(E_INVALID_MIDDLEWARE_OPTIONS):
        make()
