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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from _common import ANSWER, add_tool, measure, profile

import adk


def make_adk() -> Callable[[], Awaitable[str]]:
    tool = add_tool()
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
            raw={"system_prompt": "You are a calculator.", "tools": [tool]},
            executor=executor,
            turn_input_pipeline=[noop],
            turn_output_pipeline=[noop],
        )
        return answers[-1]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="cProfile the adk dispatch")
    args = parser.parse_args()
    if args.profile:
        profile(make_adk(), args.n)
        return
    result = measure(make_adk(), args.n)
    print(f"asyncio, n={args.n}, one event-loop run per dispatch (as bench_peers.py)")
    print(f"adk raw dispatch (2 iterations, 1+1 middleware): {result['adk_us']:.1f} µs/dispatch")
    print(f"plain asyncio loop (floor):                       {result['floor_us']:.1f} µs/run")
    print(
        f"ratio (median of per-pair ratios, same process):  {result['ratio']:.1f}x (target <= 8x)"
    )


if __name__ == "__main__":
    main()
