"""TurnRunner.run(): phases, events, TurnResult, TurnContext (RUNNERS.md §2.2–§2.8)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest

import adk
from adk.errors import E_INVALID_TURN_CONTEXT
from tests.runners.turn_support import NOW, Log, ack, msg, mw

# -- run() arguments (PORT.md §9.1) -----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "system_prompt"),
        ({"system_prompt": ""}, "system_prompt"),
        ({"system_prompt": 42}, "system_prompt"),
        ({"system_prompt": "s", "standing_instructions": "not a list"}, "standing_instructions"),
        ({"system_prompt": "s", "standing_instructions": ["ok", 3]}, "standing_instructions[1]"),
        ({"system_prompt": "s", "stash": ["a"]}, "stash"),
        ({"system_prompt": "s", "turn_abort_controller": object()}, "turn_abort_controller"),
        ({"system_prompt": "s", "messages": []}, "messages"),
    ],
)
async def test_bad_run_arguments_raise_E_INVALID_TURN_CONTEXT_before_any_event(
    kwargs: dict[str, Any], field: str
) -> None:
    called: list[str] = []

    async def turn_mw(ctx: Any, next: Any) -> None:
        called.append("mw")
        await next()

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[turn_mw])
    log = Log(runner)
    with pytest.raises(E_INVALID_TURN_CONTEXT) as exc:
        await runner.run(**kwargs)
    assert field in exc.value.fields
    assert exc.value.status == 529
    assert log.items == []  # no turn_start, no turn_end
    assert called == []


@pytest.mark.anyio
async def test_bad_run_arguments_are_all_named_E_INVALID_TURN_CONTEXT() -> None:
    runner = adk.TurnRunner(executor=ack)
    with pytest.raises(E_INVALID_TURN_CONTEXT) as exc:
        await runner.run(system_prompt=None, stash=1, extra=True)  # type: ignore[arg-type]
    assert set(exc.value.fields) == {"system_prompt", "stash", "extra"}


@pytest.mark.anyio
async def test_run_accepts_tokenizable_prompt_and_instructions() -> None:
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        seen.append((ctx.system_prompt.render(), [t.render() for t in ctx.standing_instructions]))
        ctx.ack()

    runner = adk.TurnRunner(executor=executor)
    result = await runner.run(
        system_prompt=adk.Tokenizable("sys"),
        standing_instructions=["a", adk.Tokenizable("b")],
        turn_abort_controller=adk.AbortController(),
    )
    assert result.status == "completed"
    assert seen == [("sys", ["a", "b"])]


# -- phases (RUNNERS.md §2.3) -----------------------------------------------------------------


@pytest.mark.anyio
async def test_phase_order_RUNNERS_2_3() -> None:
    log = Log()

    async def executor(ctx: Any, helpers: Any) -> None:
        log.add(f"executor:{ctx.iteration}")
        if ctx.iteration == 1:
            ctx.ack()

    runner = adk.TurnRunner(
        executor=executor,
        turn_input_pipeline=[mw(log, "tin1"), mw(log, "tin2")],
        turn_output_pipeline=[mw(log, "tout1"), mw(log, "tout2")],
        dispatch_input_pipeline=[mw(log, "din")],
        dispatch_output_pipeline=[mw(log, "dout")],
    )
    log.attach(runner)
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed"
    assert log.names() == [
        "turn_start",
        "tin1:in",
        "tin2:in",
        "tin2:out",
        "tin1:out",
        "dispatch_start",
        "iteration_start",
        "din:in",
        "din:out",
        "executor:0",
        "dout:in",
        "dout:out",
        "iteration_end",
        "iteration_start",
        "din:in",
        "din:out",
        "executor:1",
        "dispatch_end",
        "tout1:in",
        "tout2:in",
        "tout2:out",
        "tout1:out",
        "turn_end",
    ]
    assert log.of("dispatch_end")[0].status == "ack"
    assert log.of("dispatch_end")[0].iterations == 1
    assert [e.iteration for e in log.of("iteration_start")] == [0, 1]


@pytest.mark.anyio
async def test_turn_start_and_turn_end_once_in_order_with_consistent_payloads() -> None:
    runner = adk.TurnRunner(executor=ack)
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    (start,) = log.of("turn_start")
    (end,) = log.of("turn_end")
    assert log.names()[0] == "turn_start" and log.names()[-1] == "turn_end"
    assert isinstance(start, adk.TurnStart) and isinstance(end, adk.TurnEnd)
    assert start.turn_id == end.turn_id == result.turn_id
    assert start.started_at == end.started_at == result.started_at
    assert end.ended_at == result.ended_at
    assert result.started_at.tzinfo is not None and result.ended_at >= result.started_at
    assert end.duration_ms == pytest.approx(result.duration_ms)
    assert result.duration_ms == pytest.approx(
        (result.ended_at - result.started_at) / timedelta(milliseconds=1)
    )
    assert result.status == "completed"
    assert result.errors == ()
    assert result.dispatch_status == "ack"


@pytest.mark.anyio
async def test_turn_result_is_frozen() -> None:
    result = await adk.TurnRunner(executor=ack).run(system_prompt="sys")
    with pytest.raises(AttributeError):
        result.status = "failed"  # type: ignore[misc]


@pytest.mark.anyio
async def test_turn_id_is_the_context_id() -> None:
    ids: list[str] = []

    async def turn_mw(ctx: Any, next: Any) -> None:
        ids.append(ctx.id)
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        ids.append(ctx.id)  # the DispatchContext has its own id
        ctx.ack()

    result = await adk.TurnRunner(executor=executor, turn_input_pipeline=[turn_mw]).run(
        system_prompt="sys"
    )
    assert ids[0] == result.turn_id
    assert ids[1] != result.turn_id


# -- events (RUNNERS.md §2.2, §2.3 step 8, PORT.md §7.3, §7.5) -------------------------------


@pytest.mark.anyio
async def test_dispatch_events_forwarded_including_generation_stats_PORT_7_5() -> None:
    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.log.info(kind="step", message="thinking", payload={"n": ctx.iteration})
        helpers.report_generation_stats({"prompt_tokens": 3, "completion_tokens": 4})
        # A degraded token estimate inside the dispatch emits a dispatch-runner warning.
        adk.Tokenizable("some text").estimate_tokens("gemini")
        if ctx.iteration == 1:
            ctx.ack()

    runner = adk.TurnRunner(executor=executor)
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed"
    (d_start,) = log.of("dispatch_start")
    (d_end,) = log.of("dispatch_end")
    assert d_start.dispatch_id == d_end.dispatch_id
    assert [e.iteration for e in log.of("iteration_start")] == [0, 1]
    assert [e.iteration for e in log.of("iteration_end")] == [0]
    logs = log.of("log")
    assert [(e.level, e.kind, e.message, e.payload) for e in logs] == [
        ("info", "step", "thinking", {"n": 0}),
        ("info", "step", "thinking", {"n": 1}),
    ]
    stats = log.of("generation_stats")
    assert [(s.prompt_tokens, s.completion_tokens, s.iteration) for s in stats] == [
        (3, 4, 0),
        (3, 4, 1),
    ]
    assert all(s.dispatch_id == d_start.dispatch_id for s in stats)
    warnings = log.of("warning")
    assert len(warnings) == 2
    assert all(w.kind == "token-estimation-degraded" for w in warnings)
    assert all(w.source == "dispatch-runner" for w in warnings)
    assert [w.iteration for w in warnings] == [0, 1]
    assert log.of("error") == []


@pytest.mark.anyio
async def test_turn_level_estimation_warning_source_turn_runner() -> None:
    async def tin(ctx: Any, next: Any) -> None:
        adk.Tokenizable("turn text").estimate_tokens("gemma")
        await next()

    runner = adk.TurnRunner(executor=ack, turn_input_pipeline=[tin])
    log = Log(runner)
    await runner.run(system_prompt="sys")
    (w,) = log.of("warning")
    assert w.kind == "token-estimation-degraded" and w.source == "turn-runner"


@adk.tool
def add(a: int, b: int) -> str:
    """Add two integers.

    Args:
        a: First.
        b: Second.
    """
    return str(a + b)


async def _tool_executor(ctx: Any, helpers: Any) -> None:
    if ctx.iteration == 0:
        args = {"a": 2, "b": 3}
        helpers.report_tool_call("c1", tool="add", args=args)
        result = await ctx.tools.get("add").executor(ctx)(args)
        helpers.report_tool_call("c1", results=result, is_complete=True)
        await ctx.store_tool_call(
            adk.ToolCall(
                id="c1",
                tool="add",
                args=args,
                checksum=adk.tool_call_checksum("add", args),
                is_complete=True,
                is_error=False,
                results=adk.Tokenizable(result),
                created_at=NOW,
                updated_at=NOW,
                completed_at=NOW,
            )
        )
        return
    helpers.report_thought("t1", "the tool said 5", is_complete=True)
    helpers.report_message("m1", "The sum ")
    helpers.report_message("m1", "is 5", is_complete=True)
    await ctx.store_message(msg("m1", "The sum is 5"))
    ctx.ack()


@pytest.mark.anyio
async def test_functional_and_tool_events_arrive_once_each() -> None:
    runner = adk.TurnRunner(executor=_tool_executor, tools=[add])
    log = Log(runner)
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed"
    messages = log.of("message")
    assert [(m.a_delta, m.full, m.is_complete) for m in messages] == [
        ("The sum ", "The sum ", False),
        ("is 5", "The sum is 5", True),
    ]
    assert [(t.full, t.is_complete) for t in log.of("thought")] == [("the tool said 5", True)]
    calls = log.of("tool_call")
    assert len(calls) == 2
    checksum = adk.tool_call_checksum("add", {"a": 2, "b": 3})
    assert all(c.checksum == checksum for c in calls)
    assert calls[1].is_complete and calls[1].results == "5"
    (start,) = log.of("tool_execution_start")
    (end,) = log.of("tool_execution_end")
    assert start.call_id == end.call_id == checksum  # the cross-bus join key
    assert start.tool_name == "add" and end.is_error is False
    names = log.names()
    assert names.index("tool_execution_start") < names.index("tool_execution_end")


@pytest.mark.anyio
async def test_listener_api_returns_runner_and_works() -> None:
    runner = adk.TurnRunner(executor=_tool_executor, tools=[add])
    got: list[str] = []

    def on_msg(c: Any) -> None:
        got.append("on")

    def once_msg(c: Any) -> None:
        got.append("once")

    def off_msg(c: Any) -> None:
        got.append("off")

    def obs_start(e: Any) -> None:
        got.append("observe")

    def obs_once_start(e: Any) -> None:
        got.append("observe_once")

    def unobs_start(e: Any) -> None:
        got.append("unobserve")

    assert runner.on("message", on_msg) is runner
    assert runner.once("message", once_msg) is runner
    assert runner.on("message", off_msg) is runner
    assert runner.off("message", off_msg) is runner
    assert runner.observe("turn_start", obs_start) is runner
    assert runner.observe_once("turn_start", obs_once_start) is runner
    assert runner.observe("turn_start", unobs_start) is runner
    assert runner.unobserve("turn_start", unobs_start) is runner
    await runner.run(system_prompt="sys")
    assert got == ["observe", "observe_once", "on", "once", "on"]
    got.clear()
    await runner.run(system_prompt="sys")
    assert got == ["observe", "on", "on"]


@pytest.mark.anyio
async def test_coroutine_listeners_awaited_before_run_returns_PORT_7_3() -> None:
    done: list[str] = []

    async def slow_obs(e: Any) -> None:
        for _ in range(5):
            await anyio.sleep(0)
        done.append(type(e).__name__)

    async def slow_fn(c: Any) -> None:
        await anyio.sleep(0.01)
        done.append("message:" + c.a_delta)

    runner = adk.TurnRunner(executor=_tool_executor, tools=[add])
    runner.observe("turn_start", slow_obs).observe("turn_end", slow_obs)
    runner.observe("dispatch_end", slow_obs)
    runner.on("message", slow_fn)
    await runner.run(system_prompt="sys")
    assert sorted(done) == sorted(
        ["TurnStart", "TurnEnd", "DispatchEnd", "message:The sum ", "message:is 5"]
    )


@pytest.mark.anyio
async def test_raising_listeners_become_listener_error_warnings_turn_completes_PORT_7_3() -> None:
    boom_sync = RuntimeError("sync listener")
    boom_async = RuntimeError("async listener")
    boom_fn = RuntimeError("functional listener")
    boom_fwd = RuntimeError("forwarded listener")

    def bad_start(e: Any) -> None:
        raise boom_sync

    async def bad_end(e: Any) -> None:
        raise boom_async

    def bad_msg(c: Any) -> None:
        raise boom_fn

    def bad_iter(e: Any) -> None:
        raise boom_fwd

    warnings: list[Any] = []
    runner = adk.TurnRunner(executor=_tool_executor, tools=[add])
    runner.observe("turn_start", bad_start).observe("turn_end", bad_end)
    runner.observe("iteration_start", bad_iter)
    runner.on("message", bad_msg)
    runner.observe("warning", warnings.append)
    ends: list[Any] = []
    runner.observe("turn_end", ends.append)
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed" and result.errors == ()
    assert len(ends) == 1
    assert all(w.kind == "listener-error" for w in warnings)
    by_error = {id(w.error): w for w in warnings}
    for err in (boom_sync, boom_async, boom_fn, boom_fwd):
        assert id(err) in by_error, err
    assert sum(w.error is boom_fn for w in warnings) == 2  # two message chunks
    assert sum(w.error is boom_fwd for w in warnings) == 2  # two iterations
    assert by_error[id(boom_sync)].payload == {"event": "turn_start"}


@pytest.mark.anyio
async def test_raising_warning_listener_does_not_loop_or_break_the_turn() -> None:
    def bad(e: Any) -> None:
        raise RuntimeError("x")

    runner = adk.TurnRunner(executor=ack)
    runner.observe("turn_start", bad).observe("warning", bad)
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed"


# -- TurnContext (RUNNERS.md §2.6–§2.8) --------------------------------------------------------

SETS = ("turn_memories", "turn_retrievables", "turn_messages", "turn_thoughts", "turn_tool_calls")


@pytest.mark.anyio
async def test_turn_context_sets_start_empty_and_store_only_calls_callback_RUNNERS_2_6() -> None:
    stored: list[tuple[str, Any, Any]] = []
    seen: dict[str, Any] = {}

    async def tin(ctx: Any, next: Any) -> None:
        assert isinstance(ctx, adk.TurnContext) and adk.TurnContext.is_turn_context(ctx)
        seen["empty"] = {name: len(getattr(ctx, name)) for name in SETS}
        await ctx.store_message(msg("m1"))
        await ctx.mutate_message(msg("m1", "changed"))
        await ctx.delete_message("m0")
        await ctx.store_standing_instruction("new rule")
        seen["after"] = {name: len(getattr(ctx, name)) for name in SETS}
        seen["instructions"] = [t.render() for t in ctx.standing_instructions]
        await next()

    def cb(name: str) -> Any:
        return lambda ctx, v: stored.append((name, ctx, v))

    runner = adk.TurnRunner(
        executor=ack,
        turn_input_pipeline=[tin],
        store_message_callback=cb("store"),
        mutate_message_callback=cb("mutate"),
        delete_message_callback=cb("delete"),
        store_standing_instruction_callback=cb("si"),
    )
    await runner.run(system_prompt="sys", standing_instructions=["rule"])
    assert seen["empty"] == dict.fromkeys(SETS, 0)
    assert seen["after"] == dict.fromkeys(SETS, 0)
    assert seen["instructions"] == ["rule"]
    assert all(isinstance(c, adk.TurnContext) for _, c, _ in stored)
    assert [(n, str(getattr(v, "content", v))) for n, _, v in stored] == [
        ("store", "hi"),
        ("mutate", "changed"),
        ("delete", "m0"),
        ("si", "new rule"),
    ]


@pytest.mark.anyio
async def test_dispatch_flush_mirrors_executor_writes_into_turn_sets_RUNNERS_3_3() -> None:
    seen: dict[str, Any] = {}

    async def tin(ctx: Any, next: Any) -> None:
        ctx.turn_messages.add(msg("history", "earlier"))
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        if ctx.iteration == 0:
            await ctx.store_message(msg("m1", "first"))
            await ctx.store_thought(
                adk.Thought(id="t1", content="hmm", created_at=NOW, updated_at=NOW)
            )
            return
        await ctx.mutate_message(msg("m1", "first, edited"))
        await ctx.store_message(msg("m2", "second"))
        await ctx.delete_message("history")
        ctx.ack()

    async def tout(ctx: Any, next: Any) -> None:
        seen["messages"] = [(m.id, str(m.content)) for m in ctx.turn_messages]
        seen["thoughts"] = [t.id for t in ctx.turn_thoughts]
        await next()

    runner = adk.TurnRunner(
        executor=executor, turn_input_pipeline=[tin], turn_output_pipeline=[tout]
    )
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed"
    assert seen["messages"] == [("m1", "first, edited"), ("m2", "second")]
    assert seen["thoughts"] == ["t1"]


@pytest.mark.anyio
async def test_stash_deep_copied_and_dispatch_stash_writes_do_not_flow_back() -> None:
    initial = {"conversation_id": "c1", "user": {"name": "Ada", "tags": ["a"]}}
    seen: dict[str, Any] = {}

    async def tin(ctx: Any, next: Any) -> None:
        initial["user"]["name"] = "mutated by caller"  # type: ignore[index]
        initial["user"]["tags"].append("b")  # type: ignore[index]
        seen["turn"] = ctx.stash.get("user")
        ctx.stash.set("turn_key", 1)
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        seen["dispatch"] = (ctx.stash.get("user"), ctx.stash.get("turn_key"))
        ctx.stash.set("dispatch_key", "x")
        ctx.stash.set("user.name", "changed in dispatch")
        ctx.ack()

    async def tout(ctx: Any, next: Any) -> None:
        seen["after"] = (ctx.stash.get("dispatch_key"), ctx.stash.get("user.name"))
        await next()

    runner = adk.TurnRunner(
        executor=executor, turn_input_pipeline=[tin], turn_output_pipeline=[tout]
    )
    await runner.run(system_prompt="sys", stash=initial)
    assert seen["turn"] == {"name": "Ada", "tags": ["a"]}
    assert seen["dispatch"] == ({"name": "Ada", "tags": ["a"]}, 1)
    assert seen["after"] == (None, "Ada")


@pytest.mark.anyio
async def test_standing_instructions_compared_by_text_PORT_7_4() -> None:
    seen: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.delete_standing_instruction("be brief")
        await ctx.mutate_standing_instruction("be kind")  # same text: replaced in place
        await ctx.store_standing_instruction("cite sources")
        seen["dispatch"] = [t.render() for t in ctx.standing_instructions]
        ctx.ack()

    async def tout(ctx: Any, next: Any) -> None:
        seen["turn"] = [t.render() for t in ctx.standing_instructions]
        await next()

    runner = adk.TurnRunner(executor=executor, turn_output_pipeline=[tout])
    await runner.run(system_prompt="sys", standing_instructions=["be brief", "be kind"])
    assert seen["dispatch"] == ["be kind", "cite sources"]
    assert seen["turn"] == ["be kind", "cite sources"]


@pytest.mark.anyio
async def test_turn_tools_registry_is_fresh_per_run() -> None:
    seen: list[list[str]] = []

    async def tin(ctx: Any, next: Any) -> None:
        seen.append(sorted(t.name for t in ctx.tools.all()))
        ctx.tools.unregister("add")
        await next()

    runner = adk.TurnRunner(executor=ack, tools=[add], turn_input_pipeline=[tin])
    await runner.run(system_prompt="sys")
    await runner.run(system_prompt="sys")
    assert seen == [["add"], ["add"]]
