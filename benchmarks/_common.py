"""What the benchmarks share: the plain-asyncio floor and the bench_peers timing method."""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import adk

ANSWER = "The sum is 5"


def make_plain() -> Callable[[], Awaitable[str]]:
    """The floor of ``shared/bench/peers/bench_peers.py``: dict messages, JSON args."""

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


def add_tool() -> adk.Tool:
    """The ``add`` tool of the peers benchmark, with a JSON Schema input."""

    async def handler(args: Any, ctx: Any, meta: Any) -> str:
        return str(args["a"] + args["b"])

    return adk.Tool(
        name="add",
        description="Add two integers.",
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
        handler=handler,
    )


def measure(run: Callable[[], Awaitable[str]], n: int, warmup: int = 200) -> dict[str, float]:
    """Time ``run`` as ``bench_peers.py`` does: one ``run_until_complete`` per run.

    Pass 1 times ``n`` runs back to back (median µs); pass 2 follows each run by 10 floor
    runs in the same process and reports the median of the per-pair ratios.
    """
    plain = make_plain()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def one(fn: Callable[[], Awaitable[str]]) -> int:
        t0 = time.perf_counter_ns()
        out = loop.run_until_complete(fn())
        elapsed = time.perf_counter_ns() - t0
        assert "5" in out
        return elapsed

    def calibrate() -> int:
        t0 = time.perf_counter_ns()
        for _ in range(10):
            loop.run_until_complete(plain())
        return (time.perf_counter_ns() - t0) // 10

    for _ in range(warmup):
        one(run)
        calibrate()
    gc.collect()
    times = [one(run) for _ in range(n)]
    floor_times: list[int] = []
    ratios: list[float] = []
    for _ in range(n):
        t_adk = one(run)
        t_floor = calibrate()
        floor_times.append(t_floor)
        ratios.append(t_adk / t_floor)
    loop.close()
    return {
        "adk_us": statistics.median(times) / 1000,
        "floor_us": statistics.median(floor_times) / 1000,
        "ratio": statistics.median(ratios),
    }


def profile(run: Callable[[], Awaitable[str]], n: int) -> None:
    """cProfile ``n`` runs in one event loop and print the 25 biggest self times."""

    async def many() -> None:
        for _ in range(n):
            await run()

    prof = cProfile.Profile()
    prof.runcall(asyncio.run, many())
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)
