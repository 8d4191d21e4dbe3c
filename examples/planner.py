"""A standalone planner: one ``raw=`` dispatch, a scripted executor and a real tool.

Planners and summarisers often need a single bounded "think, call tools, answer" loop
without a whole turn around it. Here the executor is scripted (no model needed): in its
first iteration it asks for the ``estimate_hours`` tool, runs it through ``Tool.executor``
and stores the ``ToolCall``; in the second it streams a plan that uses the result, stores
the ``Message`` and acks. Run it with ``python examples/planner.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio

from adk import (
    DispatchContext,
    DispatchExecutorHelpers,
    DispatchRunner,
    InMemoryStore,
    Message,
    Tokenizable,
    ToolCall,
    tool,
    tool_call_checksum,
)


@tool
def estimate_hours(tasks: list[str], hours_per_task: float = 1.5) -> str:
    """Estimate the total effort of a list of tasks.

    Args:
        tasks: The tasks to estimate.
        hours_per_task: Hours one task takes.
    """
    return f"{len(tasks)} tasks, {len(tasks) * hours_per_task:g} hours in total"


TASKS = ["write the spec", "build the runner", "test it"]


async def planner(ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> None:
    """A scripted 'model': iteration 0 calls the tool, iteration 1 answers."""
    now = datetime.now(UTC)
    if ctx.iteration == 0:
        args: dict[str, Any] = {"tasks": TASKS}
        helpers.report_tool_call("call-1", tool="estimate_hours", args=args)
        result = await estimate_hours.executor(ctx)(args)
        helpers.report_tool_call("call-1", results=result, is_complete=True)
        await ctx.store_tool_call(
            ToolCall(
                id="call-1",
                tool="estimate_hours",
                args=args,
                checksum=tool_call_checksum("estimate_hours", args),
                is_complete=True,
                is_error=False,
                results=Tokenizable(result),
                created_at=now,
                updated_at=now,
                completed_at=now,
            )
        )
        return
    estimate = next(iter(ctx.turn_tool_calls)).results
    plan = f"Plan: {', then '.join(TASKS)}. Estimate: {estimate}."
    for word in plan.split(" "):
        helpers.report_message("plan", word + " ")
    helpers.report_message("plan", "", is_complete=True)
    await ctx.store_message(
        Message(id="plan", role="assistant", content=plan, created_at=now, updated_at=now)
    )
    ctx.ack()


async def main() -> InMemoryStore:
    """Run the planner and print its stream; returns the store holding its records."""
    store = InMemoryStore()

    def on_message(chunk: Any) -> None:
        print(chunk.a_delta, end="\n" if chunk.is_complete else "", flush=True)

    def on_tool_call(call: Any) -> None:
        if call.is_complete:
            print(f"[tool] {call.tool}({call.args}) -> {call.results}")

    def on_end(event: Any) -> None:
        print(f"[dispatch] {event.status} after {event.iterations} iteration(s)")

    await DispatchRunner.dispatch(
        raw={"system_prompt": "You plan work.", "store": store},
        executor=planner,
        hooks={"message": on_message, "tool_call": on_tool_call},
        observers={"dispatch_end": on_end},
    )
    return store


if __name__ == "__main__":
    anyio.run(main)
