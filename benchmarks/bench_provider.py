"""Overhead of ``OpenAIChatExecutor`` per iteration, excluding the HTTP wait.

Against ``adk.testing.OpenAIStubServer`` replaying the real llama.cpp recordings of
``tests/batteries/data``, two scenarios:

* ``text``: one iteration streaming ``text_answer.sse`` (Message stored, usage, ack);
* ``tool``: one iteration streaming ``tool_call.sse`` (argument deltas reported, the tool
  run, the ToolCall stored); a dispatch middleware acks before iteration 1.

The stub runs in a **child process** (one per scenario, always stopped), so its thread
does not compete with the measured code for the GIL. Each executor call is timed from
inside the dispatch (runner overhead excluded) and split, medians in µs, into:

* **ours** (adk code): building the request (rendering the context and tools), the
  stream (SSE line handling, JSON decoding of each event, folding it in and the
  ``report_*`` calls), finishing (usage, storing the records, running the tools, ack)
  and the rest (retry wrapper, watchdog, scopes);
* **SDK** (``openai``/``httpx2`` CPU work we do not own): building the request from our
  keyword arguments (``create`` up to the client's ``request`` event hook: parameter
  transformation, JSON body, headers) and wrapping the response (``response`` hook to
  the streaming response handed back);
* **HTTP**: request sent to response headers, reading the body line by line (network
  and the SDK's line splitting; the two cannot be told apart) and closing the response.

"executor time excluding the HTTP wait" is ours + SDK. A cross-check, interleaved in
pairs: the executor call minus a same-process raw-SDK request (the very request the
executor sent, captured by ``on_request``, read to EOF with no adk code), which also
counts the scheduling effects of interleaving our work with the reads.

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

from openai import AsyncOpenAI, DefaultAsyncHttpxClient

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


PARTS = (
    "build",
    "stream",
    "finish",
    "sdk_request",
    "http_headers",
    "sdk_response",
    "http_body",
    "http_close",
    "total",
)


class Probe:
    """Nanosecond counters of one iteration, filled by wrappers around the executor."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = dict.fromkeys(PARTS, 0)
        self.marks: dict[str, int] = {}

    def reset(self) -> None:
        for key in self.ns:
            self.ns[key] = 0
        self.marks.clear()

    def add(self, part: str, since: int) -> None:
        self.ns[part] += time.perf_counter_ns() - since


class TimedLines:
    """``response.iter_lines()`` with each ``__anext__`` counted as ``http_body``."""

    def __init__(self, lines: Any, probe: Probe) -> None:
        self.lines = lines
        self.probe = probe

    def __aiter__(self) -> TimedLines:
        return self

    async def __anext__(self) -> str:
        t0 = time.perf_counter_ns()
        try:
            return await self.lines.__anext__()
        finally:
            self.probe.add("http_body", t0)


class TimedClose:
    """The response's context manager with ``__aexit__`` counted as ``http_close``."""

    def __init__(self, manager: Any, probe: Probe) -> None:
        self.manager = manager
        self.probe = probe

    async def __aexit__(self, *exc: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return await self.manager.__aexit__(*exc)
        finally:
            self.probe.add("http_close", t0)


def instrument(executor: OpenAIChatExecutor, probe: Probe) -> None:
    """Wrap the executor's steps (instance attributes shadow the methods)."""
    ex: Any = executor
    build, decode, on_event = ex.build_request, ex._decode, ex._on_event
    outcome, finish, open_ = ex._outcome, ex._finish, ex._open

    def timed(fn: Any, part: str) -> Any:
        def wrapper(*args: Any) -> Any:
            t0 = time.perf_counter_ns()
            try:
                return fn(*args)
            finally:
                probe.add(part, t0)

        return wrapper

    async def timed_finish(ctx: Any, helpers: Any, result: Any) -> None:
        t0 = time.perf_counter_ns()
        try:
            await finish(ctx, helpers, result)
        finally:
            probe.add("finish", t0)

    async def timed_open(request: Any) -> Any:
        start = time.perf_counter_ns()
        manager, response = await open_(request)
        end = time.perf_counter_ns()
        sent, headers = probe.marks["request"], probe.marks["response"]
        probe.ns["sdk_request"] += sent - start
        probe.ns["http_headers"] += headers - sent
        probe.ns["sdk_response"] += end - headers
        lines = response.iter_lines
        response.iter_lines = lambda: TimedLines(lines(), probe)
        return TimedClose(manager, probe), response

    ex.build_request = timed(build, "build")
    ex._decode, ex._on_event = timed(decode, "stream"), timed(on_event, "stream")
    ex._outcome, ex._finish, ex._open = timed(outcome, "finish"), timed_finish, timed_open


async def scenario(base_url: str, tools: list[adk.Tool], n: int) -> dict[str, float]:
    """Run ``n`` measured iterations (after 30 warm-up ones); medians in µs per part."""
    probe = Probe()

    async def on_request(_request: Any) -> None:
        probe.marks["request"] = time.perf_counter_ns()

    async def on_response(_response: Any) -> None:
        probe.marks["response"] = time.perf_counter_ns()

    http_client = DefaultAsyncHttpxClient(
        event_hooks={"request": [on_request], "response": [on_response]}
    )
    sent: list[dict[str, Any]] = []
    executor = OpenAIChatExecutor(
        AsyncOpenAI(base_url=base_url, api_key="k", http_client=http_client),
        model="qwen",
        retry=RetryPolicy(max_attempts=1),
        on_request=sent.append,
    )
    instrument(executor, probe)
    client = AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)

    async def timed(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
        probe.reset()
        t0 = time.perf_counter_ns()
        await executor(ctx, helpers)
        probe.add("total", t0)

    async def baseline(request: dict[str, Any]) -> float:
        t0 = time.perf_counter_ns()
        async with client.chat.completions.with_streaming_response.create(
            **request, timeout=600.0, extra_body=None, extra_headers=None
        ) as r:
            async for _ in r.iter_lines():
                pass
        return (time.perf_counter_ns() - t0) / 1000

    samples: dict[str, list[float]] = {k: [] for k in (*PARTS, "ours", "other", "sdk", "vs")}
    samples["baseline"] = []
    try:
        for i in range(n + 30):
            gc.collect()
            sent.clear()
            await adk.DispatchRunner.dispatch(
                raw={"system_prompt": "You are a weather assistant.", "tools": tools},
                executor=timed,
                turn_input_pipeline=[stop_at_iteration_1],
            )
            ns = dict(probe.ns)
            wait = await baseline(sent[0])
            if i < 30:  # warm-up
                continue
            us = {k: v / 1000 for k, v in ns.items()}
            outside = sum(us[k] for k in PARTS if k.startswith(("sdk_", "http_")))
            ours = us["total"] - outside
            for key in PARTS:
                samples[key].append(us[key])
            samples["ours"].append(ours)
            samples["other"].append(ours - us["build"] - us["stream"] - us["finish"])
            samples["sdk"].append(us["sdk_request"] + us["sdk_response"])
            samples["vs"].append(us["total"] - wait)
            samples["baseline"].append(wait)
    finally:
        await client.close()
        await executor.aclose()
    return {k: statistics.median(v) for k, v in samples.items()}


def report(name: str, m: dict[str, float]) -> None:
    """Print one scenario's breakdown."""
    print(f"{name} (median µs per iteration):")
    print(
        f"  executor time excluding the HTTP wait: {m['ours'] + m['sdk']:7.1f}"
        f"  (vs paired raw-SDK request: {m['vs']:.1f})"
    )
    print(
        f"    ours {m['ours']:7.1f} = build request {m['build']:.1f} + stream"
        f" {m['stream']:.1f} + finish {m['finish']:.1f} + other {m['other']:.1f}"
    )
    print(
        f"    SDK  {m['sdk']:7.1f} = request construction {m['sdk_request']:.1f}"
        f" + response wrapping {m['sdk_response']:.1f}"
    )
    http = m["http_headers"] + m["http_body"] + m["http_close"]
    print(
        f"  HTTP {http:7.1f} = to headers {m['http_headers']:.1f} + body read"
        f" {m['http_body']:.1f} + close {m['http_close']:.1f}"
        f" (raw-SDK request alone: {m['baseline']:.1f})"
    )


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
        text = asyncio.run(scenario(urls["text_answer"], [], args.n))
        tool = asyncio.run(scenario(urls["tool_call"], [get_weather], args.n))
    finally:
        stop.set()
        for proc in children:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    report("text iteration", text)
    report("tool-call iteration (finish includes running the tool)", tool)


if __name__ == "__main__":
    main()
