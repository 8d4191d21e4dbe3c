from __future__ import annotations

from typing import Any

import pytest

import adk
from adk.testing import ErrorStep, ScriptedExecutor, TextStep, ToolRequest, ToolStep

pytestmark = pytest.mark.anyio


@adk.tool
def add(a: int, b: int) -> str:
    """Add.

    Args:
        a: Left.
        b: Right.
    """
    return str(a + b)


async def run(
    executor: ScriptedExecutor, **kw: Any
) -> tuple[adk.TurnResult, adk.InMemoryStore, dict[str, list[Any]]]:
    store = adk.InMemoryStore()
    seen: dict[str, list[Any]] = {"message": [], "tool_call": [], "stats": [], "error": []}
    runner = adk.TurnRunner(executor=executor, store=store, tools=kw.pop("tools", [add]))
    runner.on("message", seen["message"].append).on("tool_call", seen["tool_call"].append)
    runner.observe("generation_stats", seen["stats"].append).observe("error", seen["error"].append)
    result = await runner.run(system_prompt="You add numbers.")
    return result, store, seen


async def test_tool_step_then_text_step_completes_the_turn() -> None:
    ex = ScriptedExecutor(
        [
            ToolStep(
                [ToolRequest("add", {"a": 1, "b": 2}, id="c1")],
                thought="Add them.",
                usage={"prompt_tokens": 7},
            ),
            TextStep("1 + 2 = 3", usage={"completion_tokens": 4}),
        ]
    )
    result, store, seen = await run(ex)
    assert result.status == "completed" and result.dispatch_status == "ack"
    assert ex.remaining == 0
    assert [c.iteration for c in ex.calls] == [0, 1]
    assert ex.calls[0].tools == ("add",)
    assert ex.calls[1].tool_results == ("3",)
    conv = store._conv(None)
    (call,) = conv.tool_calls
    assert call.id == "c1" and str(call.results) == "3" and not call.is_error
    assert [str(m.content) for m in conv.messages] == ["1 + 2 = 3"]
    assert [str(t.content) for t in conv.thoughts] == ["Add them."]
    assert "".join(c.a_delta for c in seen["message"]) == "1 + 2 = 3"
    assert len(seen["message"]) == 5  # word by word
    assert [s.prompt_tokens for s in seen["stats"]] == [7, None]
    assert seen["tool_call"][-1].is_complete


async def test_bad_arguments_and_unknown_tools_become_error_results() -> None:
    ex = ScriptedExecutor(
        [
            ToolStep(
                [
                    ToolRequest("add", '{"a": 1'),
                    ToolRequest("add", {"a": "x", "b": 2}),
                    ToolRequest("nope", {}),
                ]
            ),
            TextStep("sorry"),
        ]
    )
    result, store, _ = await run(ex)
    assert result.status == "completed"
    calls = store._conv(None).tool_calls
    assert [c.is_error for c in calls] == [True, True, True]
    assert "not valid JSON" in str(calls[0].results)
    assert "E_INVALID_TOOL_ARGS" in str(calls[1].results)
    assert "no tool named 'nope'" in str(calls[2].results)


async def test_error_step_nacks_and_exhaustion_nacks() -> None:
    result, _, seen = await run(ScriptedExecutor([ErrorStep("model exploded")]))
    assert result.status == "failed" and result.dispatch_status == "nack"
    assert "model exploded" in str(seen["error"][0])

    result, _, seen = await run(
        ScriptedExecutor([ToolStep([ToolRequest("add", {"a": 1, "b": 1})])])
    )
    assert result.dispatch_status == "nack"
    assert seen["error"][0].code == "E_SCRIPT_EXHAUSTED"


async def test_callable_steps_and_reset() -> None:
    async def decide(ctx: adk.DispatchContext) -> TextStep:
        return TextStep(f"iteration {ctx.iteration}")

    ex = ScriptedExecutor([decide, lambda ctx: TextStep("second turn")])
    _, store, _ = await run(ex)
    assert str(store._conv(None).messages[-1].content) == "iteration 0"
    _, store, _ = await run(ex)
    assert str(store._conv(None).messages[-1].content) == "second turn"
    ex.reset()
    assert ex.remaining == 2 and ex.calls == []
