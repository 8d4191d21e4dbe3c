"""Overhead of ``OpenAIChatExecutor`` per iteration, excluding the HTTP wait.

Against ``adk.testing.OpenAIStubServer`` replaying the real llama.cpp recordings of
``tests/batteries/data``, two scenarios:

* ``text``: one iteration streaming ``text_answer.sse`` (Message stored, usage, ack);
* ``tool``: one iteration streaming ``tool_call.sse`` (argument deltas reported, the tool
  run, the ToolCall stored); a dispatch middleware acks before iteration 1.

The stub runs in a **child process** (one per scenario, always stopped), so its thread
does not compete with the measured code for the GIL. Each executor call is timed from
inside the dispatch (runner overhead excluded). The HTTP wait is measured by a
same-process baseline that does exactly the same HTTP work with the same SDK and no adk
code: ``chat.completions.with_streaming_response.create`` with the very request the
executor sent (captured by ``on_request``), reading every SSE line to EOF. Pairs are
interleaved. Two numbers per scenario, medians in µs:

* own time: the executor call minus the time it spent awaiting the SDK (sending the
  request, reading each SSE line, closing the response), measured by wrapping the
  executor's request opener;
* vs baseline: the executor call minus the paired baseline request (this also counts
  scheduling effects of interleaving work with the reads).

Usage: ``python benchmarks/bench_provider.py [-n 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import statistics
import time
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

import adk
from adk.batteries.openai import OpenAIChatExecutor, RetryPolicy
from adk.testing import OpenAIStubServer, StubResponse

DATA = Path(__file__).resolve().parent.parent / "tests" / "batteries" / "data"


@adk.tool
def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return f"Sunny, 21 degrees Celsius in {city}."


def serve(name: str, conn: Any, stop: Any) -> None:
    """Child process: serve ``name``.sse for every request until ``stop`` is set."""
    default = StubResponse.from_file(DATA / f"{name}.sse")
    with OpenAIStubServer(default=default) as stub:
        conn.send(stub.base_url)
        stop.wait()


async def stop_at_iteration_1(ctx: adk.DispatchContext, next: Any) -> None:
    if ctx.iteration >= 1:
        ctx.ack()
        return
    await next()


async def scenario(
    base_url: str, tools: list[adk.Tool], n: int
) -> tuple[list[float], list[float], float]:
    sent: list[dict[str, Any]] = []
    executor = OpenAIChatExecutor(
        model="qwen",
        base_url=base_url,
        api_key="k",
        retry=RetryPolicy(max_attempts=1),
        on_request=sent.append,
    )
    client = AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    timings: list[float] = []
    waiting = [0]  # ns spent awaiting the SDK (request sent + each SSE line read)
    original_open = executor._open

    async def open_timed(request: dict[str, Any]) -> Any:
        t0 = time.perf_counter_ns()
        manager, response = await original_open(request)
        waiting[0] += time.perf_counter_ns() - t0
        lines = response.iter_lines

        def iter_lines() -> Any:
            it = lines()

            class Timed:
                def __aiter__(self) -> Any:
                    return self

                async def __anext__(self) -> str:
                    t1 = time.perf_counter_ns()
                    try:
                        return await it.__anext__()
                    finally:
                        waiting[0] += time.perf_counter_ns() - t1

            return Timed()

        response.iter_lines = iter_lines
        close = manager.__aexit__

        class TimedClose:
            async def __aexit__(self, *exc: Any) -> Any:
                t1 = time.perf_counter_ns()
                try:
                    return await close(*exc)
                finally:
                    waiting[0] += time.perf_counter_ns() - t1

        return TimedClose(), response

    executor._open = open_timed  # type: ignore[method-assign]
    own: list[float] = []

    async def timed(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
        waiting[0] = 0
        t0 = time.perf_counter_ns()
        await executor(ctx, helpers)
        elapsed = time.perf_counter_ns() - t0
        timings.append(elapsed / 1000)
        own.append((elapsed - waiting[0]) / 1000)

    async def baseline(request: dict[str, Any]) -> float:
        t0 = time.perf_counter_ns()
        async with client.chat.completions.with_streaming_response.create(
            **request, timeout=600.0, extra_body=None, extra_headers=None
        ) as r:
            async for _ in r.iter_lines():
                pass
        return (time.perf_counter_ns() - t0) / 1000

    overhead: list[float] = []
    waits: list[float] = []
    own_after_warmup: list[float] = []
    try:
        for i in range(n + 30):
            gc.collect()
            timings.clear()
            own.clear()
            sent.clear()
            await adk.DispatchRunner.dispatch(
                raw={"system_prompt": "You are a weather assistant.", "tools": tools},
                executor=timed,
                turn_input_pipeline=[stop_at_iteration_1],
            )
            wait = await baseline(sent[0])
            if i >= 30:  # warm-up
                overhead.append(timings[0] - wait)
                waits.append(wait)
                own_after_warmup.append(own[0])
    finally:
        await client.close()
        await executor.aclose()
    return overhead, own_after_warmup, statistics.median(waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    children: list[Any] = []
    urls: dict[str, str] = {}
    try:
        for name in ("text_answer", "tool_call"):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(name, child, stop), daemon=True)
            proc.start()
            children.append(proc)
            urls[name] = parent.recv()
        text, text_own, text_wait = asyncio.run(scenario(urls["text_answer"], [], args.n))
        tool, tool_own, tool_wait = asyncio.run(scenario(urls["tool_call"], [get_weather], args.n))
    finally:
        stop.set()
        for proc in children:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    print(
        f"HTTP wait (raw SDK request + SSE read): text {text_wait:.0f} µs, tool {tool_wait:.0f} µs"
    )
    print("executor overhead per iteration, excluding the HTTP wait (median µs):")
    print(
        f"  text iteration:      {statistics.median(text_own):7.1f} own time"
        f" | {statistics.median(text):7.1f} vs paired raw-SDK baseline"
    )
    print(
        f"  tool-call iteration: {statistics.median(tool_own):7.1f} own time"
        f" | {statistics.median(tool):7.1f} vs paired raw-SDK baseline (incl. the tool run)"
    )


if __name__ == "__main__":
    main()
