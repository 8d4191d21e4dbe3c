"""A scripted agent (no model) used to record traces in the trace tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import adk
from adk.runners.turn import OBSERVABILITY_EVENTS

RESULTS = {"value": "42"}


@adk.tool
def lookup(key: str) -> str:
    """Look a key up.

    Args:
        key: The key.
    """
    return RESULTS["value"] + ":" + key


def now() -> datetime:
    return datetime.now(UTC)


async def remember_question(ctx: adk.TurnContext, next: Any) -> None:
    question = adk.Message(
        id="user-1", role="user", content="what is x?", created_at=now(), updated_at=now()
    )
    await ctx.store_message(question)
    ctx.turn_messages.add(question)
    await next()


async def scripted(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    """Iteration 0: thought + tool call; iteration 1: gate + streamed answer + ack."""
    helpers.report_generation_stats(
        {"prompt_tokens": 10 + ctx.iteration, "completion_tokens": 3, "model": "scripted"}
    )
    if ctx.iteration == 0:
        helpers.report_thought("t0", "Look ", is_complete=False)
        helpers.report_thought("t0", "it up.", is_complete=True)
        helpers.log.info(kind="step", message="calling lookup", payload={"n": 1})
        args = {"key": "x"}
        helpers.report_tool_call("c0", tool="lookup", args=args)
        tool = ctx.tools.get("lookup")
        assert tool is not None
        result = await tool.executor(ctx)(args)
        helpers.report_tool_call("c0", results=result, is_complete=True)
        await ctx.store_tool_call(
            adk.ToolCall(
                id="c0",
                tool="lookup",
                args=args,
                checksum=adk.tool_call_checksum("lookup", args),
                is_complete=True,
                is_error=False,
                results=adk.Tokenizable(result),
                created_at=now(),
                updated_at=now(),
                completed_at=now(),
            )
        )
        return
    approved = await ctx.wait_for(id="approve", reason="confirm answer", payload={"q": 1})
    found = next(str(c.results) for c in ctx.turn_tool_calls)
    answer = f"x is {found} (approved={approved['ok']})"
    helpers.report_message("a", answer[:5])
    helpers.report_message("a", answer[5:], is_complete=True)
    await ctx.store_message(
        adk.Message(id="a", role="assistant", content=answer, created_at=now(), updated_at=now())
    )
    ctx.ack()


def approve(gate: adk.TurnGate[Any]) -> None:
    gate.resolve({"ok": True})


def build(executor: Any, **kwargs: Any) -> adk.TurnRunner:
    """The candidate/recorded configuration around ``executor``."""
    runner = adk.TurnRunner(
        executor=executor,
        tools=[lookup],
        turn_input_pipeline=[remember_question],
        **kwargs,
    )
    runner.observe("turn_gate_open", approve)
    return runner


def collect(runner: adk.TurnRunner) -> list[tuple[str, Any]]:
    """Collect every event of ``runner`` as (name, payload)."""
    events: list[tuple[str, Any]] = []

    def on(name: str) -> Any:
        return lambda payload: events.append((name, payload))

    for name in ("message", "thought", "tool_call"):
        runner.on(name, on(name))
    for name in sorted(OBSERVABILITY_EVENTS):
        runner.observe(name, on(name))
    return events
