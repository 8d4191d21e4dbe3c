"""Framework overhead of one whole turn against a plain asyncio loop, and memory per turn.

One turn: turn input pipeline with 2 no-op middlewares; a dispatch of 2 iterations
(iteration 0 reports the ``add`` tool call, runs it through ``Tool.executor`` and stores the
``ToolCall``; iteration 1 reports and stores the answer ``Message`` and acks); turn output
pipeline with 2 no-op middlewares; the in-memory store; one listener on every event of both
buses. Floor: the plain asyncio loop of ``shared/bench/peers/bench_peers.py``, timed the
same way (one ``run_until_complete`` per run; per-pair ratio in the same process).
Target (issue 4): at most 8x.

Memory: 10,000 concurrent turns each suspended in ``ctx.wait_for`` inside the executor;
peak traced memory (``tracemalloc``) divided by the number of turns. Target: <= 16 KiB.

For adk beside the peer frameworks, run
``python ../shared/bench/peers/bench_peers.py --only plain,adk,adk_mw`` (and the peers from
a venv holding ``requirements-peers.txt``).

Usage: ``python benchmarks/bench_turn.py [-n 2000] [--turns 10000] [--profile]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from _common import ANSWER, add_tool, measure, profile

import adk
from adk.runners.turn import FUNCTIONAL_EVENTS, OBSERVABILITY_EVENTS


async def executor(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    now = datetime.now(UTC)
    if ctx.iteration == 0:
        args = {"a": 2, "b": 3}
        helpers.report_tool_call("c1", tool="add", args=args)
        tool = ctx.tools.get("add")
        assert tool is not None
        result = await tool.executor(ctx)(args)
        results = adk.Tokenizable(str(result))
        await ctx.store_tool_call(
            adk.ToolCall(
                id="c1",
                tool="add",
                args=args,
                checksum=adk.tool_call_checksum("add", args),
                is_complete=True,
                is_error=False,
                results=results,
                created_at=now,
                updated_at=now,
                completed_at=now,
            )
        )
        helpers.report_tool_call("c1", results=results, is_complete=True)
    else:
        helpers.report_message("m1", ANSWER, is_complete=True)
        await ctx.store_message(
            adk.Message(id="m1", role="assistant", content=ANSWER, created_at=now, updated_at=now)
        )
        ctx.ack()


async def noop(ctx: Any, next: Any) -> None:
    await next()


def make_adk() -> Callable[[], Awaitable[str]]:
    runner = adk.TurnRunner(
        executor=executor,
        tools=[add_tool()],
        turn_input_pipeline=[noop, noop],
        turn_output_pipeline=[noop, noop],
    )
    answers: list[str] = []
    seen: list[int] = [0]

    def count(_: Any) -> None:
        seen[0] += 1

    def on_message(content: Any) -> None:
        if content.is_complete:
            answers.append(content.full)

    for event in FUNCTIONAL_EVENTS:
        runner.on(event, on_message if event == "message" else count)
    for event in OBSERVABILITY_EVENTS:
        runner.observe(event, count)

    async def run() -> str:
        answers.clear()
        result = await runner.run(system_prompt="You are a calculator.")
        if result.status != "completed" or not answers:
            raise RuntimeError(f"turn {result.status}: {result.errors}")
        return answers[-1]

    return run


async def memory_per_suspended_turn(turns: int) -> float:
    """Peak traced bytes per turn with ``turns`` turns all suspended in ``wait_for``."""
    gates: list[Any] = []

    async def waiting(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
        await ctx.wait_for(id="approve", reason="approval", payload=None)
        ctx.ack()

    runner = adk.TurnRunner(executor=waiting, store=adk.InMemoryStore())
    runner.observe("turn_gate_open", gates.append)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.ensure_future(runner.run(system_prompt="Wait.")) for _ in range(turns)]
    while len(gates) < turns:
        await asyncio.sleep(0)
    suspended = tracemalloc.get_traced_memory()[0]
    for gate in gates:
        gate.resolve(True)
    results = await asyncio.gather(*tasks)
    tracemalloc.stop()
    assert all(r.status == "completed" for r in results)
    return (suspended - base) / turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the adk turn")
    args = parser.parse_args()
    if args.profile:
        profile(make_adk(), args.n)
        return
    result = measure(make_adk(), args.n)
    per_turn = asyncio.run(memory_per_suspended_turn(args.turns))
    print(f"asyncio, n={args.n}, one event-loop run per turn (as bench_peers.py)")
    print(f"adk turn (2+2 mw, 2 iterations, all events heard): {result['adk_us']:.1f} µs")
    print(f"plain asyncio loop (floor):                          {result['floor_us']:.1f} µs")
    print(f"ratio (median of per-pair ratios, same process): {result['ratio']:.1f}x (target <= 8x)")
    print(
        f"memory: {per_turn / 1024:.1f} KiB per turn suspended in wait_for "
        f"({args.turns} concurrent turns; target <= 16 KiB)"
    )


if __name__ == "__main__":
    main()
