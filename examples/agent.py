"""An agentic turn: a scripted "model" that calls real tools over several iterations.

A :class:`adk.TurnRunner` runs one turn for the user question below. The executor plays
the model (no network): each iteration it looks at what the turn knows so far and either
asks for a tool (``convert_units``, then ``calculate``), runs it through ``Tool.executor``
and stores the ``ToolCall``, or, once both results are in, streams an answer built from
them, stores the ``Message`` and acks. Around it:

* a turn input middleware stores the user's question and puts it in ``ctx.turn_messages``;
* a dispatch input middleware caps the loop: when ``ctx.iteration`` reaches the cap it
  nacks with :class:`IterationLimitExceeded` (the turn then fails with that error);
* functional-bus listeners print the answer's deltas and each tool call as they arrive;
  a summary is printed from the :class:`adk.TurnResult`.

Run it with ``python examples/agent.py`` (``--max-iterations 2`` shows the cap at work).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import Any

import anyio

import adk

QUESTION = "I run 42 km every week. How many miles is that over 4 weeks?"
MAX_ITERATIONS = 5
CONVERSATION_ID = "runner-42"

_FACTORS = {("km", "mi"): 0.621371, ("mi", "km"): 1.609344, ("kg", "lb"): 2.204623}


@adk.tool
def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a quantity between units (km, mi, kg, lb).

    Args:
        value: The quantity to convert.
        from_unit: The unit of ``value``.
        to_unit: The unit wanted.
    """
    factor = _FACTORS.get((from_unit, to_unit))
    if factor is None:
        raise ValueError(f"cannot convert {from_unit} to {to_unit}")
    return f"{value * factor:.4f}"


@adk.tool
def calculate(a: float, op: str, b: float) -> str:
    """Apply an arithmetic operator (+, -, *, /) to two numbers.

    Args:
        a: The left operand.
        op: One of ``+``, ``-``, ``*``, ``/``.
        b: The right operand.
    """
    ops = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else float("nan")}
    if op not in ops:
        raise ValueError(f"unknown operator {op!r}")
    return f"{ops[op]:.4f}"


class IterationLimitExceeded(RuntimeError):
    """The agent used up its iterations without answering."""


def cap_iterations(limit: int) -> Any:
    """A dispatch input middleware that nacks once ``ctx.iteration`` reaches ``limit``."""

    async def middleware(ctx: adk.DispatchContext, next: Any) -> None:
        if ctx.iteration >= limit:
            ctx.nack(
                IterationLimitExceeded(
                    f"the agent did not answer within {limit} iteration(s); stopping"
                )
            )
            return  # signalling is a legitimate way to stop without next()
        await next()

    return middleware


async def remember_question(ctx: adk.TurnContext, next: Any) -> None:
    """Turn input middleware: persist the user's question and show it to the model."""
    now = datetime.now(UTC)
    question = adk.Message(
        id="user-1", role="user", content=ctx.stash.get("question"), created_at=now, updated_at=now
    )
    await ctx.store_message(question)
    ctx.turn_messages.add(question)
    await next()


def _result(ctx: adk.DispatchContext, tool: str) -> str | None:
    for call in ctx.turn_tool_calls:
        if call.tool == tool and call.is_complete and not call.is_error:
            return str(call.results)
    return None


async def _call_tool(
    ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers, tool: str, args: dict[str, Any]
) -> None:
    call_id = f"call-{ctx.iteration}"
    helpers.report_tool_call(call_id, tool=tool, args=args)
    tool_obj = ctx.tools.get(tool)
    assert tool_obj is not None
    result = await tool_obj.executor(ctx)(args)
    helpers.report_tool_call(call_id, results=result, is_complete=True)
    now = datetime.now(UTC)
    await ctx.store_tool_call(
        adk.ToolCall(
            id=call_id,
            tool=tool,
            args=args,
            checksum=adk.tool_call_checksum(tool, args),
            is_complete=True,
            is_error=False,
            results=adk.Tokenizable(result),
            created_at=now,
            updated_at=now,
            completed_at=now,
        )
    )


async def scripted_model(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    """The executor: a deterministic stand-in for a tool-using model."""
    question = next(str(m.content) for m in ctx.turn_messages if m.role == "user")
    distance = float(re.search(r"(\d+(?:\.\d+)?)\s*km", question).group(1))  # type: ignore[union-attr]
    weeks = float(re.search(r"(\d+)\s*weeks?", question).group(1))  # type: ignore[union-attr]
    helpers.report_generation_stats(
        {"prompt_tokens": 40 + 25 * ctx.iteration, "completion_tokens": 12, "model": "scripted"}
    )
    miles = _result(ctx, "convert_units")
    if miles is None:
        helpers.report_thought(
            f"think-{ctx.iteration}", "Convert km to miles first.", is_complete=True
        )
        await _call_tool(
            ctx, helpers, "convert_units", {"value": distance, "from_unit": "km", "to_unit": "mi"}
        )
        return
    total = _result(ctx, "calculate")
    if total is None:
        helpers.report_thought(
            f"think-{ctx.iteration}", f"Weekly {miles} mi; times {weeks:g}.", is_complete=True
        )
        await _call_tool(ctx, helpers, "calculate", {"a": float(miles), "op": "*", "b": weeks})
        return
    answer = (
        f"{distance:g} km is about {float(miles):.2f} miles, so over {weeks:g} weeks "
        f"you run about {float(total):.1f} miles."
    )
    words = answer.split(" ")
    for i, word in enumerate(words):
        last = i == len(words) - 1
        helpers.report_message("answer", word if last else word + " ", is_complete=last)
    now = datetime.now(UTC)
    await ctx.store_message(
        adk.Message(id="answer", role="assistant", content=answer, created_at=now, updated_at=now)
    )
    ctx.ack()


def build_runner(store: adk.InMemoryStore, max_iterations: int) -> adk.TurnRunner:
    """The agent: tools, the scripted model, the question middleware and the cap."""
    return adk.TurnRunner(
        executor=scripted_model,
        store=store,
        tools=[convert_units, calculate],
        turn_input_pipeline=[remember_question],
        dispatch_input_pipeline=[cap_iterations(max_iterations)],
    )


async def main(
    question: str = QUESTION, max_iterations: int = MAX_ITERATIONS
) -> tuple[adk.TurnResult, adk.InMemoryStore]:
    """Run one agent turn, printing its stream; returns the result and the store."""
    store = adk.InMemoryStore()
    runner = build_runner(store, max_iterations)
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    iterations: list[int] = []

    def on_message(chunk: adk.TurnStreamableContent) -> None:
        if chunk.a_delta == chunk.full:
            print("assistant> ", end="")
        print(chunk.a_delta, end="\n" if chunk.is_complete else "", flush=True)

    def on_thought(chunk: adk.TurnStreamableContent) -> None:
        if chunk.is_complete:
            print(f"  (thinking: {chunk.full})")

    def on_tool_call(call: adk.TurnToolCallContent) -> None:
        if call.is_complete:
            print(f"  [tool] {call.tool}({call.args}) -> {call.results}")

    def on_stats(stats: adk.GenerationStatsEvent) -> None:
        usage["prompt_tokens"] += stats.prompt_tokens or 0
        usage["completion_tokens"] += stats.completion_tokens or 0

    def on_error(err: BaseException) -> None:
        print(f"[error] {type(err).__name__}: {err}")

    runner.on("message", on_message).on("thought", on_thought).on("tool_call", on_tool_call)
    runner.observe("generation_stats", on_stats).observe("error", on_error)
    runner.observe("dispatch_end", lambda e: iterations.append(e.iterations))

    print(f"user> {question}")
    result = await runner.run(
        system_prompt="You are a running coach. Use tools for every calculation.",
        stash={"conversation_id": CONVERSATION_ID, "question": question},
    )
    print(
        f"--- turn {result.status} (dispatch {result.dispatch_status}) after "
        f"{iterations[0] if iterations else 0} tool iteration(s), "
        f"{usage['prompt_tokens']}+{usage['completion_tokens']} tokens, "
        f"{result.duration_ms:.1f} ms"
    )
    return result, store


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iterations", type=int, default=MAX_ITERATIONS)
    args = parser.parse_args()
    anyio.run(lambda: main(max_iterations=args.max_iterations))
