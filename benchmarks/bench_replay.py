"""Trace replay throughput and recorder overhead (issue 7).

Prints:
* replayed turns per second over a corpus of 1,000 recorded 2-iteration turns
  (target: >= 2,000 turns/s on one core), the corpus loaded before timing;
* the recorder's overhead: time per recorded turn (trace written to disk, flush
  included) divided by the time per unrecorded turn (target: <= 1.5x), measured in
  rounds that alternate the two (the median of the rounds' ratios of process CPU time,
  the writer thread's included, and of wall time), for a trace log
  (``append=True``) and for one file per turn (which adds the file system's cost of
  creating a file to every turn).

Rounds are long (250 turns by default) so the writer thread reaches its steady state:
it writes a batch every ``batch_turns`` (256) turns while the next turns run, and only
the tail is written inside the round's ``flush()``.

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


Round = tuple[float, float, float, float]
"""(unrecorded CPU, recorded CPU, unrecorded wall, recorded wall) seconds per turn."""


async def overhead(directory: Path, turns: int, *, append: bool) -> list[Round]:
    """Rounds alternating unrecorded and recorded turns (the machine may be noisy).

    Each recorded round ends with ``flush()``, so its time includes writing every trace.
    Both runners get the same stash. CPU time is the whole process's (the writer
    thread included); wall time is what the caller waits.
    """
    plain = listen(adk.TurnRunner(executor=two_iterations, tools=[lookup]))
    target = directory / "log.jsonl" if append else directory / "files"
    recorder = TraceRecorder(target, append=append)
    recorded = listen(recorder.runner(executor=two_iterations, tools=[lookup]))
    for _ in range(50):
        await plain.run(system_prompt="s", stash={"n": 1})
    per_round = max(1, turns // ROUNDS)  # long enough for the writer's steady state
    rounds: list[Round] = []
    done = 0
    while done < turns:
        n = min(per_round, turns - done)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await plain.run(system_prompt="s", stash={"n": 1})
        base_cpu, base_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await recorder.run(recorded, system_prompt="s", stash={"n": 1})
        await recorder.flush()
        rec_cpu, rec_wall = time.process_time() - cpu, time.perf_counter() - wall
        rounds.append((base_cpu / n, rec_cpu / n, base_wall / n, rec_wall / n))
        done += n
    recorder.close()
    return rounds


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
    for name, rounds in (("trace log", log), ("file per turn", files)):
        cpu = sorted(r[1] / r[0] for r in rounds)
        wall = sorted(r[3] / r[2] for r in rounds)
        base = statistics.median(r[0] for r in rounds)
        with_rec = statistics.median(r[1] for r in rounds)
        print(
            f"recorder overhead, {name}: {statistics.median(cpu):.2f}x CPU time, median of "
            f"{len(cpu)} paired rounds (quartiles {cpu[len(cpu) // 4]:.2f}x.."
            f"{cpu[3 * len(cpu) // 4]:.2f}x; {base * 1e6:.0f} us unrecorded, "
            f"{with_rec * 1e6:.0f} us recorded incl. write); wall time "
            f"{statistics.median(wall):.2f}x (target <= 1.5x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000, help="replay corpus size")
    parser.add_argument(
        "--overhead-turns", type=int, default=5000, help="recorded turns per layout (20 rounds)"
    )
    args = parser.parse_args()
    anyio.run(main, args.turns, max(args.turns, args.overhead_turns))
