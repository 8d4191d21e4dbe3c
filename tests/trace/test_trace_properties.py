from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

import adk
from adk.trace import TraceRecorder, load, normalize_events, replay
from tests.trace import scripted

STEP = st.sampled_from(["message", "thought", "tool", "stats", "log", "store"])
PROGRAM = st.lists(st.lists(STEP, max_size=5), min_size=1, max_size=3)
END = st.sampled_from(["ack", "nack", "abort"])


def executor_for(program: list[list[str]], end: str) -> Any:
    async def run(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
        i = ctx.iteration
        for j, step in enumerate(program[i]):
            sid = f"{i}-{j}"
            if step == "message":
                helpers.report_message(sid, f"m{sid}", is_complete=True)
            elif step == "thought":
                helpers.report_thought(sid, f"t{sid}")
            elif step == "tool":
                args = {"key": sid}
                helpers.report_tool_call(sid, tool="lookup", args=args)
                tool = ctx.tools.get("lookup")
                assert tool is not None
                out = await tool.executor(ctx)(args)
                helpers.report_tool_call(sid, results=out, is_complete=True)
            elif step == "stats":
                helpers.report_generation_stats({"total_tokens": j})
            elif step == "log":
                helpers.log.debug(kind="k", message=sid)
            else:
                now = scripted.now()
                await ctx.store_message(
                    adk.Message(
                        id=sid, role="assistant", content=sid, created_at=now, updated_at=now
                    )
                )
        if i == len(program) - 1:
            if end == "ack":
                ctx.ack()
            elif end == "nack":
                ctx.nack(RuntimeError("no"))
            else:
                ctx.abort()

    return run


@settings(max_examples=25, deadline=None)
@given(program=PROGRAM, end=END)
def test_random_programs_round_trip(
    tmp_path_factory: Any, program: list[list[str]], end: str
) -> None:
    directory: Path = tmp_path_factory.mktemp("prop")

    async def main() -> None:
        recorder = TraceRecorder(directory)
        runner = recorder.runner(executor=executor_for(program, end), tools=[scripted.lookup])
        events: list[tuple[str, Any]] = []
        result = await recorder.run(runner, system_prompt="p")
        await recorder.flush()
        trace = load(recorder.paths[result.turn_id])
        turn = await replay(trace, lambda ex: adk.TurnRunner(executor=ex, tools=[scripted.lookup]))
        assert turn.divergences == []
        assert [n for n, _ in turn.events] == trace.event_names()
        assert normalize_events(turn.events) == normalize_events(trace.events)
        del events

    anyio.run(main)
