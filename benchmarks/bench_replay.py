"""Trace replay throughput and recorder overhead (issue 7).

Prints:
* replayed turns per second over a corpus of 1,000 recorded 2-iteration turns
  (target: >= 2,000 turns/s on one core), the corpus loaded before timing;
* the recorder's overhead: time per recorded turn (trace written to disk, flush
  included) divided by the time per unrecorded turn (target: <= 1.5x), measured in
  rounds that alternate the two (the median of the rounds' ratios), for a trace log
  (``append=True``) and for one file per turn (which adds the file system's cost of
  creating a file to every turn).

Run: ``python benchmarks/bench_replay.py [--turns 1000]``.
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

ROUNDS = 20


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


async def overhead(directory: Path, turns: int, *, append: bool) -> list[tuple[float, float]]:
    """Rounds alternating unrecorded and recorded turns (the machine may be noisy).

    Each recorded round ends with ``flush()``, so its time includes writing every trace.
    Both runners get the same stash. Returns ``(unrecorded, recorded)`` seconds per turn
    for each round.
    """
    plain = listen(adk.TurnRunner(executor=two_iterations, tools=[lookup]))
    target = directory / "log.jsonl" if append else directory / "files"
    recorder = TraceRecorder(target, append=append)
    recorded = listen(recorder.runner(executor=two_iterations, tools=[lookup]))
    for _ in range(50):
        await plain.run(system_prompt="s", stash={"n": 1})
    per_round = max(1, turns // ROUNDS)
    rounds: list[tuple[float, float]] = []
    done = 0
    while done < turns:
        n = min(per_round, turns - done)
        start = time.perf_counter()
        for _ in range(n):
            await plain.run(system_prompt="s", stash={"n": 1})
        base = (time.perf_counter() - start) / n
        start = time.perf_counter()
        for _ in range(n):
            await recorder.run(recorded, system_prompt="s", stash={"n": 1})
        await recorder.flush()
        rounds.append((base, (time.perf_counter() - start) / n))
        done += n
    recorder.close()
    return rounds


async def main(turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        # --- recorder overhead: a trace log, then one file per turn ---------------------------
        log = await overhead(directory, turns, append=True)
        files = await overhead(directory, turns, append=False)

        # --- replay throughput ------------------------------------------------------------------
        corpus = [load(p) for p in sorted((directory / "files").glob("*.jsonl"))]
        assert len(corpus) == turns
        assert all(len(t.signals) == 2 for t in corpus)
        assert len(load_all(directory / "log.jsonl")) == turns
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
    for name, rounds in (("trace log", log), ("file per turn", files)):
        ratios = sorted(w / b for b, w in rounds)
        base = statistics.median(b for b, _ in rounds)
        with_rec = statistics.median(w for _, w in rounds)
        print(
            f"recorder overhead, {name}: {statistics.median(ratios):.2f}x median of "
            f"{len(ratios)} paired rounds (quartiles {ratios[len(ratios) // 4]:.2f}x.."
            f"{ratios[3 * len(ratios) // 4]:.2f}x; {base * 1e6:.0f} us unrecorded, "
            f"{with_rec * 1e6:.0f} us recorded incl. write; target <= 1.5x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    args = parser.parse_args()
    anyio.run(main, args.turns)
