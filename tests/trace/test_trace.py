from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import adk
from adk.errors import AdkError
from adk.trace import (
    ReplayExecutor,
    TraceRecorder,
    evaluate,
    final_answer_contains,
    load,
    max_iterations,
    no_error,
    normalize_events,
    replay,
    tool_called,
    tool_not_called,
)
from tests.trace import scripted
from tests.trace.scripted import build, collect

pytestmark = pytest.mark.anyio


async def record(tmp_path: Path, executor: Any = scripted.scripted, **kwargs: Any) -> Path:
    recorder = TraceRecorder(tmp_path / "traces")
    runner = recorder.attach(
        build(
            recorder.wrap_executor(executor),
            store=recorder.wrap_store(adk.InMemoryStore()),
            **kwargs,
        )
    )
    result = await recorder.run(runner, system_prompt="You answer.", stash={"user": "u1"})
    await recorder.flush()
    return recorder.paths[result.turn_id]


async def test_round_trip_identical_events(tmp_path: Path) -> None:
    path = await record(tmp_path)
    trace = load(path)
    assert trace.result.status == "completed"
    assert trace.header.system_prompt == "You answer."
    assert trace.header.stash == {"user": "u1"}
    assert [t["name"] for t in trace.header.tools] == ["lookup"]
    names = trace.event_names()
    for expected in ("thought", "tool_call", "tool_execution_start", "turn_gate_open", "message"):
        assert expected in names
    assert [s.signal for s in trace.signals] == ["none", "ack"]
    kinds = [(r.op, r.kind) for r in trace.records]
    assert kinds == [("store", "message"), ("store", "tool_call"), ("store", "message")]
    assert isinstance(trace.records[1].value, adk.ToolCall)
    assert trace.records[0].call is None and trace.records[1].call == 0
    stats = [e.payload for e in trace.events if e.name == "generation_stats"]
    assert [s.prompt_tokens for s in stats] == [10, 11]

    executor = ReplayExecutor(trace)
    runner = executor.attach(build(executor))
    events = collect(runner)
    result = await runner.run(system_prompt=trace.header.system_prompt, stash=trace.header.stash)
    assert result.status == "completed"
    assert executor.finish() == []
    assert normalize_events(events) == normalize_events(trace.events)
    assert result.turn_id != trace.header.turn_id  # ids differ, the normalisation maps them


async def test_replay_gate_resolved_from_record_without_listener(tmp_path: Path) -> None:
    trace = load(await record(tmp_path))
    executor = ReplayExecutor(trace)
    runner = adk.TurnRunner(
        executor=executor, tools=[scripted.lookup], turn_input_pipeline=[scripted.remember_question]
    )
    executor.attach(runner)
    events = collect(runner)
    result = await runner.run(system_prompt="You answer.")
    assert result.status == "completed"
    assert executor.divergences == []
    answer = [p.full for n, p in events if n == "message" and p.is_complete]
    assert answer == ["x is 42:x (approved=True)"]


async def test_live_tool_result_divergence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = load(await record(tmp_path))
    monkeypatch.setitem(scripted.RESULTS, "value", "43")
    same = await replay(trace, build, tool_results="recorded")
    assert same.divergences == []
    turn = await replay(trace, build, tool_results="live")
    kinds = [d.kind for d in turn.divergences]
    assert kinds == ["tool_result"]
    div = turn.divergences[0]
    assert (div.expected, div.actual, div.call) == ("42:x", "43:x", 0)
    reported = [p.results for n, p in turn.events if n == "tool_call" and p.is_complete]
    assert reported == ["43:x"]  # the live result is what the replay reports


async def test_live_tool_same_result_no_divergence(tmp_path: Path) -> None:
    trace = load(await record(tmp_path))
    turn = await replay(trace, build, tool_results="live")
    assert turn.divergences == []
    assert turn.result is not None and turn.result.status == "completed"


async def test_guard_ending_dispatch_early_is_a_divergence(tmp_path: Path) -> None:
    trace = load(await record(tmp_path))

    async def guard(ctx: adk.DispatchContext, next: Any) -> None:
        if ctx.iteration >= 1:
            ctx.nack(RuntimeError("too many iterations"))
            return
        await next()

    turn = await replay(trace, lambda ex: build(ex, dispatch_input_pipeline=[guard]))
    kinds = [d.kind for d in turn.divergences]
    assert kinds == ["ended_early", "status"]
    assert turn.divergences[0].expected == 2 and turn.divergences[0].actual == 1


async def test_replay_runs_out_of_iterations(tmp_path: Path) -> None:
    trace = load(await record(tmp_path))

    async def swallow_ack(ctx: adk.DispatchContext, next: Any) -> None:
        await next()

    calls = {"n": 0}

    async def never_acks(ctx: adk.DispatchContext, helpers: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 5:
            ctx.abort()

    executor = ReplayExecutor(trace)
    runner = executor.attach(build(executor))
    await runner.run(system_prompt="x")
    executor.reset()
    # a trace with only the first call: the replay runs past its end
    short = msgspec.structs.replace(
        trace, entries=tuple(e for e in trace.entries if getattr(e, "call", None) != 1)
    )
    ex2 = ReplayExecutor(short)
    runner2 = ex2.attach(build(ex2))
    result = await runner2.run(system_prompt="x")
    assert next(d.kind for d in ex2.divergences) == "exhausted"
    assert result.status == "failed"


@pytest.mark.parametrize(
    ("mutate", "line"),
    [
        (lambda lines: [*lines[:-1], lines[-1][:20]], "last"),
        (lambda lines: [*lines[:3], b'{"t":"event","seq":', *lines[4:]], 4),
        (lambda lines: lines[:-1], "last"),
        (lambda lines: [lines[0].replace(b'"version":1', b'"version":99'), *lines[1:]], 1),
        (lambda lines: [b"not json", *lines[1:]], 1),
        (
            lambda lines: (
                [
                    *lines[:2],
                    b'{"t":"event","seq":9,"name":"nope","call":null,"payload":{}}',
                    *lines[2:],
                ]
            ),
            3,
        ),
    ],
)
async def test_corrupt_and_truncated(tmp_path: Path, mutate: Any, line: Any) -> None:
    path = await record(tmp_path)
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    changed = mutate(lines)
    bad = tmp_path / "bad.jsonl"
    data = b"\n".join(changed)
    if line != "last" or changed[-1] == lines[-2]:
        data += b"\n"
    bad.write_bytes(data)
    with pytest.raises(AdkError) as info:
        load(bad)
    assert info.value.code == "E_TRACE_FORMAT"
    expected = len(changed) if line == "last" else line
    assert info.value.message.startswith(f"line {expected}:")
    assert info.value.line == expected  # type: ignore[attr-defined]


async def test_failed_turn_trace_is_complete(tmp_path: Path) -> None:
    async def broken(ctx: adk.DispatchContext, helpers: Any) -> None:
        helpers.report_message("m", "partial")
        raise ValueError("model exploded")

    trace = load(await record(tmp_path, broken))
    assert trace.result.status == "failed"
    assert trace.result.errors[0].code == "E_LLM_EXECUTION_EXECUTOR_ERROR"
    assert trace.event_names()[-1] == "turn_end"
    assert trace.signals[0].signal == "raise"
    assert trace.signals[0].error is not None and trace.signals[0].error.message == "model exploded"
    turn = await replay(trace, build)
    assert turn.divergences == []
    assert normalize_events(turn.events) == normalize_events(trace.events)


async def test_cancelled_turn_trace_is_complete(tmp_path: Path) -> None:
    recorder = TraceRecorder(tmp_path)

    async def waits(ctx: adk.DispatchContext, helpers: Any) -> None:
        helpers.report_thought("t", "waiting", is_complete=True)
        await ctx.wait_for(id="never", reason="nobody answers", payload=None)

    runner = recorder.runner(executor=waits)
    with anyio.CancelScope() as scope:
        runner.observe("turn_gate_open", lambda _: scope.cancel())  # cancelled while waiting
        await recorder.run(runner, system_prompt="s")
    await recorder.flush()
    (path,) = recorder.paths.values()
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    trace = load(path)
    assert trace.result.cancelled and trace.result.status == "aborted"
    assert trace.event_names()[-1] == "turn_end"
    assert trace.signals[-1].signal == "abort"


@pytest.mark.parametrize("settle", ["cancel", "timeout", "reject"])
async def test_replay_settles_a_gate_as_recorded_without_waiting(
    tmp_path: Path, settle: str
) -> None:
    """A gate that was not resolved when recorded is settled the same way at once on replay."""
    recorder = TraceRecorder(tmp_path)

    async def waits(ctx: adk.DispatchContext, helpers: Any) -> None:
        helpers.report_thought("t", "waiting", is_complete=True)
        try:
            await ctx.wait_for(
                id="g",
                reason="approval",
                payload=None,
                timeout_ms=30 if settle == "timeout" else None,
            )
        except Exception as exc:
            helpers.report_message("m", f"gate: {exc!r}", is_complete=True)
        ctx.ack()

    runner = recorder.runner(executor=waits)
    if settle == "reject":
        runner.observe("turn_gate_open", lambda gate: gate.reject(ValueError("no")))
    with anyio.CancelScope() as scope:
        if settle == "cancel":  # cancelled while waiting on the gate
            runner.observe("turn_gate_open", lambda _: scope.cancel())
        await recorder.run(runner, system_prompt="s")
    await recorder.flush()
    (path,) = recorder.paths.values()
    trace = load(path)
    (gate,) = trace.gates
    assert gate.result == {"cancel": "aborted", "timeout": "timeout", "reject": "rejected"}[settle]

    executor = ReplayExecutor(trace)
    replayed = adk.TurnRunner(executor=executor)
    events = collect(replayed)  # before attach: its listeners see the gate open first
    executor.attach(replayed)
    with anyio.fail_after(5):  # the replay neither hangs nor waits out the timeout
        result = await replayed.run(system_prompt="s")
    closed = [p.result for n, p in events if n == "turn_gate_closed"]
    assert closed == [gate.result]
    if settle == "cancel":  # the recorded dispatch ended at the gate: so does the replay
        assert result.dispatch_status == "aborted"  # (the task's cancellation is not replayed)
        assert executor.finish() == []
    else:
        assert result.status == "completed", result.errors
        assert executor.finish() == []
        assert normalize_events(events) == normalize_events(trace.events)


async def test_attach_only_turn_is_recorded_with_derived_result(tmp_path: Path) -> None:
    recorder = TraceRecorder(str(tmp_path / "{turn_id}.trace.jsonl"))
    runner = recorder.runner(executor=scripted.scripted, tools=[scripted.lookup])
    runner.observe("turn_gate_open", scripted.approve)
    result = await runner.run(system_prompt="direct")
    await recorder.flush()
    path = recorder.paths[result.turn_id]
    assert path.name == f"{result.turn_id}.trace.jsonl"
    trace = load(path)
    assert trace.result.derived and trace.result.status == "completed"
    assert str(trace.header.system_prompt) == "direct" and trace.header.stash is None


async def test_redaction_masks_and_drops(tmp_path: Path) -> None:
    def redact(line: dict[str, Any]) -> dict[str, Any] | None:
        if line["t"] == "event" and line["name"] == "log":
            return None
        if line["t"] == "header":
            line["stash"] = {"user": "***"}
        if line["t"] == "record" and line["value"].get("$adk") == "Message":
            line["value"]["v"]["content"] = {"$adk": "Tokenizable", "v": "***"}
        return line

    recorder = TraceRecorder(tmp_path, redact=redact)
    runner = recorder.attach(
        build(
            recorder.wrap_executor(scripted.scripted),
            store=recorder.wrap_store(adk.InMemoryStore()),
        )
    )
    result = await recorder.run(runner, system_prompt="s", stash={"user": "secret"})
    await recorder.flush()
    text = recorder.paths[result.turn_id].read_text()
    assert "secret" not in text and "what is x?" not in text
    trace = load(recorder.paths[result.turn_id])
    assert "log" not in trace.event_names()
    assert trace.header.stash == {"user": "***"}
    assert all(str(r.value.content) == "***" for r in trace.records if r.kind == "message")


async def test_redactor_cannot_drop_header(tmp_path: Path) -> None:
    recorder = TraceRecorder(tmp_path, redact=lambda line: None)
    runner = recorder.runner(executor=lambda ctx, helpers: ctx.ack())
    await recorder.run(runner, system_prompt="s")
    with pytest.raises(ValueError, match="cannot drop"):
        await recorder.flush()


async def test_evaluate_report(tmp_path: Path) -> None:
    await record(tmp_path)
    await record(tmp_path)

    async def guard(ctx: adk.DispatchContext, next: Any) -> None:
        if ctx.iteration >= 1:
            ctx.nack(RuntimeError("capped"))
            return
        await next()

    checks = [
        final_answer_contains("42"),
        tool_called("lookup"),
        tool_not_called("other"),
        no_error(),
        max_iterations(2),
    ]
    good = await evaluate(tmp_path / "traces", build_runner=build, checks=checks)
    assert good.totals == {"pass": 2, "fail": 0, "diverged": 0, "error": 0, "total": 2}
    assert good.passed
    bad = await evaluate(
        tmp_path / "traces",
        build_runner=lambda ex: build(ex, dispatch_input_pipeline=[guard]),
        checks={
            "answer": final_answer_contains("42"),
            "clean": no_error(),
            "custom": lambda t: True,
        },
    )
    assert bad.totals["fail"] == 2
    report = bad.traces[0]
    assert [(c.name, c.passed) for c in report.checks] == [
        ("answer", False),
        ("clean", False),
        ("custom", True),
    ]
    assert {d.kind for d in report.divergences} == {"ended_early", "status"}
    assert "fail" in bad.table()


async def test_concurrent_turns_get_separate_files(tmp_path: Path) -> None:
    recorder = TraceRecorder(tmp_path)
    runner = recorder.runner(
        executor=scripted.scripted,
        tools=[scripted.lookup],
        turn_input_pipeline=[scripted.remember_question],
    )
    runner.observe("turn_gate_open", scripted.approve)
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(lambda: recorder.run(runner, system_prompt="s"))
    await recorder.flush()
    assert len(recorder.paths) == 3
    for path in recorder.paths.values():
        trace = load(path)
        assert trace.result.status == "completed"
        assert trace.event_names().count("turn_start") == 1
        assert len(trace.records) == 3
