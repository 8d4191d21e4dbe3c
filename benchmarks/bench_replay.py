"""Trace replay throughput and recorder overhead (issue 7).

Prints:
* replayed turns per second over a corpus of 1,000 recorded 2-iteration turns
  (target: >= 2,000 turns/s on one core), the corpus loaded before timing;
* the recorder's overhead: time per recorded turn (trace written to disk, flush
  included) divided by the time per unrecorded turn (target: <= 1.5x): medians, and
  totals, over turns that alternate the two, for a trace log
  (``append=True``) and for one file per turn (which adds the file system's cost of
  creating a file to every turn).

The two kinds of turn alternate one by one, each timed on its own (the median resists
this VM's noise); the writer thread writes a batch every ``batch_turns`` (256) turns
while the next turns run, and the final ``flush()`` is added to the recorded side.

Run: ``python benchmarks/bench_replay.py [--turns 1000] [--overhead-turns 5000]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

import adk
from adk.trace import ReplayExecutor, TraceRecorder, load, load_all


@adk.tool
def lookup(key: str) -> str:
    """Look a key up.

    Args:
        key: The key.
    """
    return "v:" + key


async def two_iterations(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    helpers.report_generation_stats({"prompt_tokens": 10, "completion_tokens": 2})
    now = datetime.now(UTC)
    if ctx.iteration == 0:
        args = {"key": "k"}
        helpers.report_tool_call("c", tool="lookup", args=args)
        tool = ctx.tools.get("lookup")
        assert tool is not None
        out = await tool.executor(ctx)(args)
        helpers.report_tool_call("c", results=out, is_complete=True)
        await ctx.store_tool_call(
            adk.ToolCall(
                id="c",
                tool="lookup",
                args=args,
                checksum=adk.tool_call_checksum("lookup", args),
                is_complete=True,
                is_error=False,
                results=adk.Tokenizable(out),
                created_at=now,
                updated_at=now,
                completed_at=now,
            )
        )
        return
    helpers.report_message("a", "the answer ")
    helpers.report_message("a", "is v:k", is_complete=True)
    await ctx.store_message(
        adk.Message(
            id="a", role="assistant", content="the answer is v:k", created_at=now, updated_at=now
        )
    )
    ctx.ack()


def listen(runner: adk.TurnRunner) -> adk.TurnRunner:
    sink: list[Any] = []
    return runner.on("message", sink.append).observe("turn_end", sink.append)


async def overhead(directory: Path, turns: int, *, append: bool) -> tuple[float, float, float]:
    """Unrecorded and recorded turns, alternating turn by turn, each timed on its own.

    Interleaving turn by turn gives both the same machine (this one is a noisy VM) and
    the same share of the writer thread's work; the recorder then ``flush()``es, and that
    time is added to the recorded side. Returns (median unrecorded seconds per turn,
    median recorded seconds per turn + the flush per turn, total recorded time incl.
    the flush / total unrecorded time).
    """
    plain = listen(adk.TurnRunner(executor=two_iterations, tools=[lookup]))
    target = directory / "log.jsonl" if append else directory / "files"
    recorder = TraceRecorder(target, append=append)
    recorded = listen(recorder.runner(executor=two_iterations, tools=[lookup]))
    for _ in range(50):
        await plain.run(system_prompt="s", stash={"n": 1})
    clock = time.perf_counter_ns
    bases: list[int] = []
    withs: list[int] = []
    for _ in range(turns):
        start = clock()
        await plain.run(system_prompt="s", stash={"n": 1})
        bases.append(clock() - start)
        start = clock()
        await recorder.run(recorded, system_prompt="s", stash={"n": 1})
        withs.append(clock() - start)
    start = clock()
    await recorder.flush()
    flush = clock() - start
    recorder.close()
    base = statistics.median(bases) / 1e9
    with_rec = (statistics.median(withs) + flush / turns) / 1e9
    return base, with_rec, (sum(withs) + flush) / sum(bases)


async def main(turns: int, overhead_turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        # --- recorder overhead: a trace log, then one file per turn ---------------------------
        log = await overhead(directory, overhead_turns, append=True)
        files = await overhead(directory, overhead_turns, append=False)

        # --- replay throughput ------------------------------------------------------------------
        corpus = [load(p) for p in sorted((directory / "files").glob("*.jsonl"))[:turns]]
        assert len(corpus) == turns
        assert all(len(t.signals) == 2 for t in corpus)
        assert len(load_all(directory / "log.jsonl")) == overhead_turns
        start = time.perf_counter()
        diverged = 0
        for trace in corpus:
            executor = ReplayExecutor(trace)
            runner = executor.attach(adk.TurnRunner(executor=executor, tools=[lookup]))
            result = await runner.run(
                system_prompt=trace.header.system_prompt, stash=trace.header.stash
            )
            assert result.status == "completed"
            diverged += bool(executor.finish())
        replay_s = time.perf_counter() - start
    print(
        f"replay: {turns / replay_s:,.0f} turns/s over {turns} recorded 2-iteration turns "
        f"(target >= 2,000; {diverged} diverged)"
    )
    for name, (base, with_rec, total) in (("trace log", log), ("file per turn", files)):
        print(
            f"recorder overhead, {name}: {with_rec / base:.2f}x (median turn {base * 1e6:.0f} us "
            f"unrecorded, {with_rec * 1e6:.0f} us recorded incl. writing); "
            f"{total:.2f}x in total time (target <= 1.5x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000, help="replay corpus size")
    parser.add_argument(
        "--overhead-turns", type=int, default=5000, help="recorded turns per layout"
    )
    args = parser.parse_args()
    anyio.run(main, args.turns, max(args.turns, args.overhead_turns))
