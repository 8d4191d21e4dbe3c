"""Mirroring dispatch deltas onto the parent turn (RUNNERS.md §2.7, §3.2, §3.3, §9.4–§9.8,
§10.10; PORT.md §7.4, §9.14). Derived path, with the FakeTurn double."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from adk import DispatchRunner, Tokenizable, tool
from adk.errors import E_DISPATCH_PIPELINE_ERROR, E_LLM_EXECUTION_EXECUTOR_ERROR
from tests.runners.doubles import (
    RECORD_FACTORIES,
    FakeTurn,
    Recorder,
    RecordingStore,
    StoreFailure,
    msg,
    raw,
    thought,
    tool_call,
    wait_until,
)

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


async def _dispatch(turn: FakeTurn, executor: Any, **kwargs: Any) -> BaseException | None:
    try:
        await DispatchRunner.dispatch(source=turn, executor=executor, **kwargs)
    except Exception as exc:
        return exc
    return None


def _ids(items: Any) -> list[str]:
    return [i.id for i in items]


# --- flush rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_flush_store_does_not_dedup_by_id(kind: str) -> None:
    make, attr, _ = RECORD_FACTORIES[kind]
    turn = FakeTurn()
    first = make("a")
    getattr(turn, attr).add(first)
    second = make("a")

    async def executor(ctx: Any, helpers: Any) -> None:
        await getattr(ctx, f"store_{kind}")(second)
        ctx.ack()

    assert await _dispatch(turn, executor) is None
    assert list(getattr(turn, attr)) == [first, second]


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_flush_mutate_replaces_every_same_id_at_first_position_in_place(kind: str) -> None:
    make, attr, _ = RECORD_FACTORIES[kind]
    turn = FakeTurn()
    parent = getattr(turn, attr)
    a1, b, a2, c = make("a"), make("b"), make("a"), make("c")
    for item in (a1, b, a2, c):
        parent.add(item)
    new = make("a")

    async def executor(ctx: Any, helpers: Any) -> None:
        await getattr(ctx, f"mutate_{kind}")(new)
        ctx.ack()

    assert await _dispatch(turn, executor) is None
    assert getattr(turn, attr) is parent, "the parent set is rebuilt in place"
    assert list(parent) == [new, b, c]


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_flush_mutate_without_match_appends(kind: str) -> None:
    make, attr, _ = RECORD_FACTORIES[kind]
    turn = FakeTurn()
    parent = getattr(turn, attr)
    b = make("b")
    parent.add(b)
    new = make("z")

    async def executor(ctx: Any, helpers: Any) -> None:
        await getattr(ctx, f"mutate_{kind}")(new)
        ctx.ack()

    await _dispatch(turn, executor)
    assert getattr(turn, attr) is parent
    assert list(parent) == [b, new]


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_flush_delete_removes_first_match_only(kind: str) -> None:
    make, attr, _ = RECORD_FACTORIES[kind]
    turn = FakeTurn()
    parent = getattr(turn, attr)
    a1, b, a2 = make("a"), make("b"), make("a")
    for item in (a1, b, a2):
        parent.add(item)

    async def executor(ctx: Any, helpers: Any) -> None:
        await getattr(ctx, f"delete_{kind}")("a")
        await getattr(ctx, f"delete_{kind}")("nope")
        ctx.ack()

    await _dispatch(turn, executor)
    assert getattr(turn, attr) is parent
    assert list(parent) == [b, a2]


async def test_flush_applies_deltas_in_order() -> None:
    turn = FakeTurn()
    a, a2, b = msg("a", "one"), msg("a", "two"), msg("b")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(a)
        await ctx.store_message(b)
        await ctx.mutate_message(a2)
        await ctx.delete_message("b")
        ctx.ack()

    await _dispatch(turn, executor)
    assert list(turn.turn_messages) == [a2]


async def test_flush_standing_instructions_compare_by_text() -> None:
    turn = FakeTurn()
    keep = Tokenizable("keep")
    old = Tokenizable("replace me")
    gone = Tokenizable("delete me")
    for t in (keep, old, gone):
        turn.standing_instructions.add(t)
    parent = turn.standing_instructions

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.delete_standing_instruction("delete me")  # by text (PORT.md §7.4)
        await ctx.mutate_standing_instruction("replace me")  # same text: replaced, not added
        await ctx.mutate_standing_instruction("brand new")  # no match: added
        await ctx.store_standing_instruction("stored")
        ctx.ack()

    await _dispatch(turn, executor)
    assert turn.standing_instructions is parent
    texts = [t.render() for t in parent]
    assert texts == ["keep", "replace me", "brand new", "stored"]
    assert keep in parent
    assert old not in parent, "mutate replaces the matching instruction with the new object"


async def test_flush_standing_instruction_delete_by_instance() -> None:
    turn = FakeTurn()
    t = Tokenizable("x")
    turn.standing_instructions.add(t)

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.delete_standing_instruction(t)
        ctx.ack()

    await _dispatch(turn, executor)
    assert list(turn.standing_instructions) == []


# --- which iterations are mirrored -------------------------------------------------------------


async def test_deltas_of_completed_iterations_are_applied() -> None:
    turn = FakeTurn()
    records = [msg(f"m{i}") for i in range(3)]
    boom = Boom("third iteration fails")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(records[ctx.iteration])
        if ctx.iteration == 2:
            ctx.nack(boom)

    assert await _dispatch(turn, executor) is boom
    assert list(turn.turn_messages) == records[:2]
    # persistence is immediate, whatever the outcome
    assert [a for n, a in turn.calls if n == "store_message"] == [(r,) for r in records]
    assert turn.store.fetch_messages(turn) == records


async def test_mirror_is_deferred_until_the_iteration_flush() -> None:
    turn = FakeTurn()
    during: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        if ctx.iteration == 0:
            await ctx.store_message(msg("m"))
            during.append(len(turn.turn_messages))
            during.append(len(turn.store.fetch_messages(turn)))
        else:
            during.append(len(turn.turn_messages))
            ctx.ack()

    await _dispatch(turn, executor)
    assert during == [0, 1, 1]


async def test_flush_applies_terminating_iteration_when_acked_at_checkpoint_b() -> None:
    turn = FakeTurn()
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)
        ctx.ack()

    await _dispatch(turn, executor)
    assert list(turn.turn_messages) == [m]


async def test_flush_applies_terminating_iteration_when_acked_at_checkpoint_a() -> None:
    turn = FakeTurn()
    m = msg("m")
    calls: list[int] = []

    async def guard(ctx: Any, next: Any) -> None:
        await ctx.store_message(m)
        ctx.ack()

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(1)

    await _dispatch(turn, executor, turn_input_pipeline=[guard])
    assert calls == []
    assert list(turn.turn_messages) == [m]


async def test_flush_discards_at_checkpoint_when_ack_then_abort() -> None:
    turn = FakeTurn()
    rec = Recorder()
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)
        ctx.ack()
        ctx.abort()

    assert await _dispatch(turn, executor, observers=rec.observers()) is None
    assert rec.one("dispatch_end").status == "ack"
    assert list(turn.turn_messages) == []
    assert ("store_message", (m,)) in turn.calls


async def test_flush_discards_at_checkpoint_a_when_ack_then_abort() -> None:
    turn = FakeTurn()
    m = msg("m")

    async def guard(ctx: Any, next: Any) -> None:
        await ctx.store_message(m)
        ctx.ack()
        ctx.abort()

    async def executor(ctx: Any, helpers: Any) -> None:
        raise AssertionError("not called")

    assert await _dispatch(turn, executor, turn_input_pipeline=[guard]) is None
    assert list(turn.turn_messages) == []


async def test_flush_discards_at_checkpoint_b_on_nack() -> None:
    turn = FakeTurn()
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)
        ctx.nack(Boom())

    await _dispatch(turn, executor)
    assert list(turn.turn_messages) == []
    assert ("store_message", (m,)) in turn.calls


async def test_flush_discards_at_checkpoint_b_on_abort() -> None:
    turn = FakeTurn()
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)
        ctx.abort()

    await _dispatch(turn, executor)
    assert list(turn.turn_messages) == []
    assert ("store_message", (m,)) in turn.calls


async def test_flush_discards_when_executor_raises() -> None:
    turn = FakeTurn()
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)
        raise Boom()

    err = await _dispatch(turn, executor)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert list(turn.turn_messages) == []
    assert ("store_message", (m,)) in turn.calls


async def test_flush_discards_when_executor_raises_abort_error() -> None:
    from adk import AbortError

    turn = FakeTurn()

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(msg("m"))
        raise AbortError()

    assert await _dispatch(turn, executor) is None
    assert list(turn.turn_messages) == []


@pytest.mark.parametrize("signal", ["ack", "nack", "abort"])
async def test_flush_applies_iteration_signalled_in_output_pipeline(signal: str) -> None:
    turn = FakeTurn()
    rec = Recorder()
    m, n = msg("m"), msg("n")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)

    async def output(ctx: Any, next: Any) -> None:
        await ctx.store_message(n)
        if signal == "ack":
            ctx.ack()
        elif signal == "nack":
            ctx.nack(Boom())
        else:
            ctx.abort()

    err = await _dispatch(turn, executor, turn_output_pipeline=[output], observers=rec.observers())
    assert (err is None) == (signal != "nack")
    assert list(turn.turn_messages) == [m, n]
    assert rec.one("dispatch_end").iterations == 1


async def test_flush_discards_on_output_pipeline_error() -> None:
    turn = FakeTurn()
    m = msg("m")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)

    async def output(ctx: Any, next: Any) -> None:
        raise Boom()

    err = await _dispatch(turn, executor, turn_output_pipeline=[output])
    assert isinstance(err, E_DISPATCH_PIPELINE_ERROR)
    assert list(turn.turn_messages) == []
    assert ("store_message", (m,)) in turn.calls


async def test_flush_discards_on_input_short_circuit() -> None:
    turn = FakeTurn()
    m = msg("m")

    async def forgetful(ctx: Any, next: Any) -> None:
        await ctx.store_message(m)

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    err = await _dispatch(turn, executor, turn_input_pipeline=[forgetful])
    assert err is not None
    assert list(turn.turn_messages) == []


async def test_persistence_callbacks_called_for_every_mutation_whatever_the_outcome() -> None:
    turn = FakeTurn()
    a, a2 = msg("a"), msg("a", "v2")
    t = tool_call("t1")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(a)
        await ctx.mutate_message(a2)
        await ctx.delete_message("a")
        await ctx.store_tool_call(t)
        await ctx.store_standing_instruction("si")
        ctx.nack(Boom())

    await _dispatch(turn, executor)
    names = [n for n, _ in turn.calls]
    assert names == [
        "store_message",
        "mutate_message",
        "delete_message",
        "store_tool_call",
        "store_standing_instruction",
    ]
    assert turn.calls[2] == ("delete_message", ("a",))
    assert turn.calls[4] == ("store_standing_instruction", ("si",)), "the original value"
    assert list(turn.turn_messages) == []
    assert list(turn.turn_tool_calls) == []


# --- failing persistence (RUNNERS.md §4.2, PORT.md §9.14) ----------------------------------------


async def test_failing_persistence_callback_changes_set_but_queues_no_delta() -> None:
    store = RecordingStore(fail={"store_message"})
    turn = FakeTurn(store=store)
    m = msg("m")
    t = thought("t")
    seen: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        try:
            await ctx.store_message(m)
        except StoreFailure as exc:
            seen["error"] = exc
        seen["local"] = list(ctx.turn_messages)
        await ctx.store_thought(t)
        ctx.ack()

    assert await _dispatch(turn, executor) is None
    assert isinstance(seen["error"], StoreFailure), "the error propagates unchanged"
    assert seen["local"] == [m], "the local set has already changed"
    assert list(turn.turn_messages) == [], "no delta: the parent never mirrors it"
    assert list(turn.turn_thoughts) == [t]


async def test_failing_persistence_callback_uncaught_becomes_executor_error() -> None:
    store = RecordingStore(fail={"mutate_memory"})
    turn = FakeTurn(store=store)
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.mutate_memory(RECORD_FACTORIES["memory"][0]("x"))

    err = await _dispatch(turn, executor, observers=rec.observers())
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert isinstance(err.__cause__, StoreFailure)
    assert rec.one("dispatch_end").status == "nack"


async def test_failing_persistence_in_middleware_becomes_pipeline_error() -> None:
    store = RecordingStore(fail={"delete_message"})
    turn = FakeTurn(store=store)

    async def mw(ctx: Any, next: Any) -> None:
        await ctx.delete_message("x")
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    err = await _dispatch(turn, executor, turn_input_pipeline=[mw])
    assert isinstance(err, E_DISPATCH_PIPELINE_ERROR)
    assert isinstance(err.__cause__, StoreFailure)


# --- who the callbacks receive (RUNNERS.md §2.7) -------------------------------------------


async def test_callbacks_receive_the_turn_context_on_the_derived_path() -> None:
    store = RecordingStore()
    turn = FakeTurn(store=store)

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(msg("m"))
        await ctx.fetch_messages()
        await ctx.store_retrievable_bytes("r", "text")
        ctx.ack()

    await _dispatch(turn, executor)
    assert store.names() == ["store_message", "fetch_messages", "store_retrievable_bytes"]
    assert all(ctx is turn for _, ctx, _ in store.log)
    # the FakeTurn method received the value only (no DispatchContext first)
    assert turn.calls[0][1][0].id == "m"


async def test_callbacks_receive_the_dispatch_context_on_the_standalone_path() -> None:
    store = RecordingStore()
    holder: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        holder["ctx"] = ctx
        await ctx.store_message(msg("m"))
        await ctx.fetch_messages()
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(store=store), executor=executor)
    assert store.names() == ["store_message", "fetch_messages"]
    assert all(ctx is holder["ctx"] for _, ctx, _ in store.log)


# --- snapshot and isolation (RUNNERS.md §3.2, §9.7, §9.8) --------------------------------------


async def test_context_starts_as_a_copy_of_the_turn() -> None:
    turn = FakeTurn()
    m = msg("m")
    t = tool_call("t", checksum="cs")
    si = Tokenizable("rule")
    turn.turn_messages.add(m)
    turn.turn_tool_calls.add(t)
    turn.standing_instructions.add(si)
    seen: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        seen["messages"] = ctx.turn_messages
        seen["list"] = list(ctx.turn_messages)
        seen["si"] = list(ctx.standing_instructions)
        seen["count"] = ctx.tool_call_count("cs")
        seen["prompt"] = ctx.system_prompt.render()
        seen["stash"] = ctx.stash.get("conversation_id")
        ctx.ack()

    await _dispatch(turn, executor)
    assert seen["messages"] is not turn.turn_messages
    assert seen["list"] == [m]
    assert seen["si"] == [si]
    assert seen["count"] == 1
    assert seen["prompt"] == "You are a test."
    assert seen["stash"] == "c"


async def test_direct_set_changes_in_the_dispatch_do_not_flow_back() -> None:
    turn = FakeTurn()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.turn_messages.add(msg("sneaky"))
        ctx.ack()

    await _dispatch(turn, executor)
    assert list(turn.turn_messages) == []


async def test_stash_is_copied_and_changes_do_not_flow_back() -> None:
    turn = FakeTurn()
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.stash.set("written", 1)
        ctx.stash.set("conversation_id", "other")
        seen.append(ctx.stash is turn.stash)
        ctx.ack()

    await _dispatch(turn, executor)
    assert seen == [False]
    assert turn.stash.has("written") is False
    assert turn.stash.get("conversation_id") == "c"


async def test_tools_are_copied_and_changes_do_not_flow_back() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    @tool
    def existing() -> str:
        """Already there."""
        return "x"

    turn = FakeTurn()
    turn.tools.register(existing)
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        seen.append(ctx.tools.has("existing"))
        seen.append(ctx.tools is turn.tools)
        ctx.tools.register(ping)
        ctx.tools.unregister("existing")
        ctx.ack()

    await _dispatch(turn, executor)
    assert seen == [True, False]
    assert turn.tools.has("ping") is False
    assert turn.tools.has("existing") is True


async def test_turn_abort_propagates_to_the_dispatch() -> None:
    turn = FakeTurn()
    rec = Recorder()
    started = anyio.Event()

    async def executor(ctx: Any, helpers: Any) -> None:
        started.set()
        await anyio.sleep(10)

    async def run() -> None:
        await _dispatch(turn, executor, observers=rec.observers())

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await started.wait()
            turn.abort("turn stopped")
    assert rec.one("dispatch_end").status == "aborted"


async def test_turn_already_aborted_gives_an_aborted_dispatch() -> None:
    turn = FakeTurn()
    turn.abort()
    rec = Recorder()
    calls: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        calls.append(1)

    assert await _dispatch(turn, executor, observers=rec.observers()) is None
    assert calls == []
    assert rec.one("dispatch_end").status == "aborted"


async def test_dispatch_abort_does_not_abort_the_turn() -> None:
    turn = FakeTurn()
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.abort("dispatch only")
        assert ctx.aborted

    assert await _dispatch(turn, executor, observers=rec.observers()) is None
    assert rec.one("dispatch_end").status == "aborted"
    assert turn.aborted is False


# --- forwarding to the parent (RUNNERS.md §3.3) -----------------------------------------------


async def test_functional_events_reach_the_turn_and_the_hooks_once() -> None:
    turn = FakeTurn()
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.report_message("m", "hi", is_complete=True)
        helpers.report_thought("t", "hmm", is_complete=True)
        helpers.report_tool_call("c", tool="x", args={}, is_complete=True)
        ctx.ack()

    await _dispatch(turn, executor, hooks=rec.hooks())
    assert [n for n, _ in turn.emitted] == ["message", "thought", "tool_call"]
    assert rec.names == ["message", "thought", "tool_call"]
    for (_, a), (_, b) in zip(turn.emitted, rec.events, strict=True):
        assert a is b


async def test_tool_execution_events_reach_the_turn_and_the_observers() -> None:
    from adk.contracts.events import ToolExecutionEnd, ToolExecutionStart
    from tests.runners.doubles import NOW

    turn = FakeTurn()
    rec = Recorder()
    start = ToolExecutionStart(tool_name="x", turn_id="t", call_id="c", args={}, started_at=NOW)
    end = ToolExecutionEnd(
        tool_name="x",
        turn_id="t",
        call_id="c",
        started_at=NOW,
        ended_at=NOW,
        duration_ms=0.0,
        is_error=False,
    )

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.emit_tool_execution_start(start)
        ctx.emit_tool_execution_end(end)
        ctx.ack()

    await _dispatch(
        turn, executor, observers=rec.observers("tool_execution_start", "tool_execution_end")
    )
    assert turn.emitted == [("tool_execution_start", start), ("tool_execution_end", end)]
    assert rec.events == [("tool_execution_start", start), ("tool_execution_end", end)]


async def test_tool_execution_via_tool_executor_reaches_the_turn() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    turn = FakeTurn()
    out: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        out.append(await add.executor(ctx)({"a": 1, "b": 2}))
        ctx.ack()

    await _dispatch(turn, executor)
    assert out == [3]
    assert [n for n, _ in turn.emitted] == ["tool_execution_start", "tool_execution_end"]


async def test_gate_wait_for_on_the_derived_path_is_the_turns() -> None:
    turn = FakeTurn()
    got: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        got.append(await ctx.wait_for(id="g", reason="r", payload=None))
        ctx.ack()

    async def resolver() -> None:
        await wait_until(lambda: turn.gates)
        turn.gates[0].resolve("yes")

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver)
            await _dispatch(turn, executor)
    assert got == ["yes"]
