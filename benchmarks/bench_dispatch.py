"""Framework overhead of one raw dispatch against a plain asyncio loop (same process).

The work, on both sides: model call #1 asks for ``add(a=2, b=3)``; the tool runs; model
call #2 answers "The sum is 5". adk side: ``DispatchRunner.dispatch(raw=...)`` with one
no-op input and one no-op output middleware; iteration 0 reports the tool call, runs the
tool through ``Tool.executor`` and stores the ``ToolCall``; iteration 1 reports and
stores the ``Message`` and acks. Floor: the hand-written loop of
``shared/bench/peers/bench_peers.py`` (dict messages, JSON args, async tool).

Timing follows ``bench_peers.py``: every run is one ``loop.run_until_complete(run())`` on
asyncio; pass 1 times N dispatches individually (``perf_counter_ns``) for the median µs
per dispatch; pass 2 runs each dispatch followed by 10 floor runs and reports the median of
the per-pair ratios ("x floor, same process"). Target (issue 3): at most 8x.

Usage: ``python benchmarks/bench_dispatch.py [-n 2000] [--profile]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import adk

ANSWER = "The sum is 5"


def make_plain() -> Callable[[], Awaitable[str]]:
    async def add(a: int, b: int) -> int:
        return a + b

    tools = {"add": add}

    async def model(messages: list[dict[str, Any]]) -> dict[str, Any]:
        last = messages[-1]
        if last["role"] == "tool":
            return {"role": "assistant", "content": f"The sum is {last['content']}"}
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "name": "add", "arguments": '{"a": 2, "b": 3}'}],
        }

    async def run() -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": "What is 2 + 3?"}]
        for _ in range(8):
            reply = await model(messages)
            messages.append(reply)
            calls = reply.get("tool_calls")
            if not calls:
                return reply["content"]
            for call in calls:
                result = await tools[call["name"]](**json.loads(call["arguments"]))
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": str(result)}
                )
        raise RuntimeError("max turns")

    return run


def make_adk() -> Callable[[], Awaitable[str]]:
    async def add_handler(args: Any, ctx: Any, meta: Any) -> str:
        return str(args["a"] + args["b"])

    add_tool = adk.Tool(
        name="add",
        description="Add two integers.",
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
        handler=add_handler,
    )
    answers: list[str] = []

    async def executor(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
        now = datetime.now(UTC)
        if ctx.iteration == 0:
            args = {"a": 2, "b": 3}
            helpers.report_tool_call("c1", tool="add", args=args)
            tool = ctx.tools.get("add")
            assert tool is not None
            result = await tool.executor(ctx)(args)
            await ctx.store_tool_call(
                adk.ToolCall(
                    id="c1",
                    tool="add",
                    args=args,
                    checksum=adk.tool_call_checksum("add", args),
                    is_complete=True,
                    is_error=False,
                    results=adk.Tokenizable(str(result)),
                    created_at=now,
                    updated_at=now,
                    completed_at=now,
                )
            )
            helpers.report_tool_call("c1", is_complete=True)
        else:
            helpers.report_message("m1", ANSWER, is_complete=True)
            await ctx.store_message(
                adk.Message(
                    id="m1", role="assistant", content=ANSWER, created_at=now, updated_at=now
                )
            )
            answers.append(ANSWER)
            ctx.ack()

    async def noop(ctx: Any, next: Any) -> None:
        await next()

    async def run() -> str:
        answers.clear()
        await adk.DispatchRunner.dispatch(
            raw={"system_prompt": "You are a calculator.", "tools": [add_tool]},
            executor=executor,
            turn_input_pipeline=[noop],
            turn_output_pipeline=[noop],
        )
        return answers[-1]

    return run


def measure(n: int, warmup: int = 200) -> dict[str, float]:
    """Time runs exactly as ``bench_peers.py`` does: one ``run_until_complete`` per run."""
    plain, dispatch = make_plain(), make_adk()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def one(run: Callable[[], Awaitable[str]]) -> int:
        t0 = time.perf_counter_ns()
        out = loop.run_until_complete(run())
        elapsed = time.perf_counter_ns() - t0
        assert "5" in out
        return elapsed

    def calibrate() -> int:
        t0 = time.perf_counter_ns()
        for _ in range(10):
            loop.run_until_complete(plain())
        return (time.perf_counter_ns() - t0) // 10

    for _ in range(warmup):
        one(dispatch)
        calibrate()
    gc.collect()
    times = [one(dispatch) for _ in range(n)]  # pass 1: absolute time per dispatch
    floor_times: list[int] = []
    ratios: list[float] = []
    for _ in range(n):  # pass 2: each dispatch paired with the floor, same process
        t_adk = one(dispatch)
        t_floor = calibrate()
        floor_times.append(t_floor)
        ratios.append(t_adk / t_floor)
    loop.close()
    return {
        "adk_us": statistics.median(times) / 1000,
        "floor_us": statistics.median(floor_times) / 1000,
        "ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="cProfile the adk dispatch")
    args = parser.parse_args()
    if args.profile:
        run = make_adk()

        async def many() -> None:
            for _ in range(args.n):
                await run()

        prof = cProfile.Profile()
        prof.runcall(asyncio.run, many())
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    result = measure(args.n)
    print(f"asyncio, n={args.n}, one event-loop run per dispatch (as bench_peers.py)")
    print(f"adk raw dispatch (2 iterations, 1+1 middleware): {result['adk_us']:.1f} µs/dispatch")
    print(f"plain asyncio loop (floor):                       {result['floor_us']:.1f} µs/run")
    print(
        f"ratio (median of per-pair ratios, same process):  {result['ratio']:.1f}x (target <= 8x)"
    )


if __name__ == "__main__":
    main()
