"""DispatchContext (RUNNERS.md §4, §9.9–§9.11, §10.1–§10.3, §10.13; PORT.md §6, §7.4, §9.13).

The context is built by the runner; each test gets it inside an executor.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adk import DispatchRunner, InMemoryStore, Registry, Tokenizable
from adk.contracts.record_set import RecordSet
from adk.contracts.store import STORE_METHODS
from adk.errors import E_LLM_EXECUTION_ALREADY_SIGNALLED
from tests.runners.doubles import (
    RECORD_FACTORIES,
    FakeTurn,
    Recorder,
    RecordingStore,
    msg,
    raw,
    tool_call,
)

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


async def in_ctx(
    body: Callable[[Any], Awaitable[None]], *, ack: bool = True, **fields: Any
) -> tuple[Any, BaseException | None]:
    """Run ``body(ctx)`` as the executor of a standalone dispatch; ack unless signalled."""
    holder: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        holder["ctx"] = ctx
        await body(ctx)
        if ack and not ctx.is_signalled:
            ctx.ack()

    try:
        await DispatchRunner.dispatch(raw=raw(**fields), executor=executor)
    except Exception as exc:
        return holder.get("ctx"), exc
    return holder["ctx"], None


# --- identity ------------------------------------------------------------------------------


async def test_context_identity_and_defaults() -> None:
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        seen.update(
            id=ctx.id,
            dispatch_id=ctx.dispatch_id,
            iteration=ctx.iteration,
            aborted=ctx.aborted,
            signalled=ctx.is_signalled,
            acked=ctx.is_acked,
            nack_error=ctx.nack_error,
            prompt=ctx.system_prompt,
            stash=ctx.stash,
        )

    await in_ctx(body, stash={"k": {"v": 1}})
    assert seen["id"] != seen["dispatch_id"]
    assert seen["dispatch_id"] != ""
    assert seen["iteration"] == 0
    assert seen["aborted"] is False
    assert seen["signalled"] is False
    assert seen["acked"] is False
    assert seen["nack_error"] is None
    assert isinstance(seen["prompt"], Tokenizable)
    assert seen["prompt"].render() == "You are a test."
    assert isinstance(seen["stash"], Registry)
    assert seen["stash"].get("k.v") == 1


async def test_raw_stash_is_deep_copied() -> None:
    stash = {"k": {"v": 1}}

    async def body(ctx: Any) -> None:
        ctx.stash.set("k.v", 2)

    await in_ctx(body, stash=stash)
    assert stash == {"k": {"v": 1}}


async def test_raw_lists_prepopulate_the_sets() -> None:
    records = {kind: [make("a"), make("b")] for kind, (make, _, _) in RECORD_FACTORIES.items()}
    si = Tokenizable("rule")
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        for kind, (_, attr, _) in RECORD_FACTORIES.items():
            seen[kind] = list(getattr(ctx, attr))
        seen["si"] = [t.render() for t in ctx.standing_instructions]

    fields = {RECORD_FACTORIES[k][2]: v for k, v in records.items()}
    await in_ctx(body, standing_instructions=[si, "text"], **fields)
    for kind, items in records.items():
        assert seen[kind] == items
    assert seen["si"] == ["rule", "text"]


async def test_sets_are_record_sets() -> None:
    async def body(ctx: Any) -> None:
        for _, attr, _ in RECORD_FACTORIES.values():
            assert isinstance(getattr(ctx, attr), RecordSet)
        assert isinstance(ctx.standing_instructions, RecordSet)

    _, err = await in_ctx(body)
    assert err is None


# --- store / mutate / delete on each kind ------------------------------------------------


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_store_adds_persists_and_fires_hook(kind: str) -> None:
    make, attr, key = RECORD_FACTORIES[kind]
    store = RecordingStore()
    rec = Recorder()
    existing = make("a")
    new = make("a")
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        before = getattr(ctx, attr)
        await getattr(ctx, f"store_{kind}")(new)
        seen["same_set"] = getattr(ctx, attr) is before
        seen["items"] = list(getattr(ctx, attr))
        seen["ctx"] = ctx

    await in_ctx(body, store=store, hooks=rec.context_hooks(), **{key: [existing]})
    assert seen["same_set"] is True
    assert seen["items"] == [existing, new], "store never dedups by id"
    assert store.log == [(f"store_{kind}", seen["ctx"], (new,))]
    assert rec.events == [(f"stored_{kind}", new)]


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_mutate_replaces_the_set_object_and_collapses_duplicates(kind: str) -> None:
    make, attr, key = RECORD_FACTORIES[kind]
    store = RecordingStore()
    rec = Recorder()
    a1, b, a2 = make("a"), make("b"), make("a")
    new = make("a")
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        before = getattr(ctx, attr)
        await getattr(ctx, f"mutate_{kind}")(new)
        seen["replaced"] = getattr(ctx, attr) is not before
        seen["before"] = list(before)
        seen["items"] = list(getattr(ctx, attr))
        seen["ctx"] = ctx

    await in_ctx(body, store=store, hooks=rec.context_hooks(), **{key: [a1, b, a2]})
    assert seen["replaced"] is True, "mutate replaces the set object"
    assert seen["before"] == [a1, b, a2], "the old set object is left as it was"
    assert seen["items"] == [new, b]
    assert store.log == [(f"mutate_{kind}", seen["ctx"], (new,))]
    assert rec.events == [(f"mutated_{kind}", new)]


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_mutate_without_match_appends(kind: str) -> None:
    make, attr, key = RECORD_FACTORIES[kind]
    b, new = make("b"), make("z")
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        await getattr(ctx, f"mutate_{kind}")(new)
        seen.extend(getattr(ctx, attr))

    await in_ctx(body, **{key: [b]})
    assert seen == [b, new]


@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
async def test_delete_removes_first_match_only_and_always_persists(kind: str) -> None:
    make, attr, key = RECORD_FACTORIES[kind]
    store = RecordingStore()
    rec = Recorder()
    a1, b, a2 = make("a"), make("b"), make("a")
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        before = getattr(ctx, attr)
        await getattr(ctx, f"delete_{kind}")("a")
        seen["after_first"] = list(getattr(ctx, attr))
        seen["same_set"] = getattr(ctx, attr) is before
        await getattr(ctx, f"delete_{kind}")("missing")
        seen["after_missing"] = list(getattr(ctx, attr))

    await in_ctx(body, store=store, hooks=rec.context_hooks(), **{key: [a1, b, a2]})
    assert seen["after_first"] == [b, a2]
    assert seen["after_missing"] == [b, a2]
    assert [(n, a) for n, _, a in store.log] == [
        (f"delete_{kind}", ("a",)),
        (f"delete_{kind}", ("missing",)),
    ]
    assert rec.events == [(f"deleted_{kind}", "a"), (f"deleted_{kind}", "missing")]


async def test_standing_instructions_store_mutate_delete_by_text() -> None:
    store = RecordingStore()
    rec = Recorder()
    rule = Tokenizable("rule")
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        await ctx.store_standing_instruction("new")
        seen["after_store"] = [t.render() for t in ctx.standing_instructions]
        await ctx.mutate_standing_instruction("rule")
        seen["after_mutate"] = [t.render() for t in ctx.standing_instructions]
        seen["rule_kept"] = rule in ctx.standing_instructions
        await ctx.mutate_standing_instruction("other")
        await ctx.delete_standing_instruction("new")
        seen["final"] = [t.render() for t in ctx.standing_instructions]

    await in_ctx(body, store=store, hooks=rec.context_hooks(), standing_instructions=[rule])
    assert seen["after_store"] == ["rule", "new"]
    assert seen["after_mutate"] == ["rule", "new"], "mutating by text replaces, not appends"
    assert seen["rule_kept"] is False
    assert seen["final"] == ["rule", "other"]
    # callbacks receive the original value; hooks receive a Tokenizable
    assert [(n, a) for n, _, a in store.log] == [
        ("store_standing_instruction", ("new",)),
        ("mutate_standing_instruction", ("rule",)),
        ("mutate_standing_instruction", ("other",)),
        ("delete_standing_instruction", ("new",)),
    ]
    assert rec.names == [
        "stored_standing_instruction",
        "mutated_standing_instruction",
        "mutated_standing_instruction",
        "deleted_standing_instruction",
    ]
    for _, payload in rec.events:
        assert isinstance(payload, Tokenizable)
    assert [p.render() for _, p in rec.events] == ["new", "rule", "other", "new"]


async def test_standing_instruction_store_wraps_a_new_tokenizable_each_time() -> None:
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        await ctx.store_standing_instruction("same")
        await ctx.store_standing_instruction("same")
        seen.extend(ctx.standing_instructions)

    await in_ctx(body)
    assert len(seen) == 2
    assert seen[0] is not seen[1]


# --- tool_call_count (RUNNERS.md §10.13) ----------------------------------------------------


async def test_tool_call_count_is_seeded_from_raw_tool_calls() -> None:
    seen: list[int] = []

    async def body(ctx: Any) -> None:
        seen.extend(
            [ctx.tool_call_count("c1"), ctx.tool_call_count("c2"), ctx.tool_call_count("x")]
        )

    await in_ctx(
        body, tool_calls=[tool_call("a", "c1"), tool_call("b", "c1"), tool_call("c", "c2")]
    )
    assert seen == [2, 1, 0]


async def test_tool_call_count_follows_store_mutate_and_delete() -> None:
    seen: list[tuple[int, int]] = []

    async def body(ctx: Any) -> None:
        def snap() -> None:
            seen.append((ctx.tool_call_count("c1"), ctx.tool_call_count("c2")))

        await ctx.store_tool_call(tool_call("a", "c1"))
        snap()  # (1, 0)
        await ctx.store_tool_call(tool_call("a", "c1"))
        snap()  # (2, 0)
        await ctx.mutate_tool_call(tool_call("a", "c2"))  # collapses both, checksum changes
        snap()  # (0, 1)
        await ctx.store_tool_call(tool_call("b", "c1"))
        snap()  # (1, 1)
        await ctx.mutate_tool_call(tool_call("b", "c1"))  # same checksum
        snap()  # (1, 1)
        await ctx.delete_tool_call("a")
        snap()  # (1, 0)
        await ctx.delete_tool_call("a")  # no match: nothing changes
        snap()  # (1, 0)
        await ctx.delete_tool_call("b")
        snap()  # (0, 0)
        for c in ("c1", "c2"):
            assert ctx.tool_call_count(c) == sum(1 for t in ctx.turn_tool_calls if t.checksum == c)

    _, err = await in_ctx(body)
    assert err is None
    assert seen == [(1, 0), (2, 0), (0, 1), (1, 1), (1, 1), (1, 0), (1, 0), (0, 0)]


async def test_tool_call_count_on_the_derived_path_includes_turn_tool_calls() -> None:
    turn = FakeTurn()
    turn.turn_tool_calls.add(tool_call("a", "c1"))
    seen: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        seen.append(ctx.tool_call_count("c1"))
        ctx.ack()

    await DispatchRunner.dispatch(source=turn, executor=executor)
    assert seen == [1]


# --- signals (RUNNERS.md §4.2, §10.1–§10.3) -----------------------------------------------


async def test_ack_sets_state() -> None:
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        ctx.ack()
        seen.extend([ctx.is_signalled, ctx.is_acked, ctx.nack_error])

    await in_ctx(body)
    assert seen == [True, True, None]


async def test_first_signal_wins() -> None:
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        ctx.ack()
        with pytest.raises(E_LLM_EXECUTION_ALREADY_SIGNALLED) as first:
            ctx.ack()
        with pytest.raises(E_LLM_EXECUTION_ALREADY_SIGNALLED):
            ctx.nack(Boom())
        seen.update(signalled=ctx.is_signalled, acked=ctx.is_acked, nack=ctx.nack_error)
        seen["err"] = first.value

    _, err = await in_ctx(body)
    assert err is None
    assert seen["signalled"] is True
    assert seen["acked"] is True
    assert seen["nack"] is None
    assert seen["err"].status == 500
    assert seen["err"].fatal is True


async def test_first_signal_wins_after_nack() -> None:
    first = Boom("first")
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        ctx.nack(first)
        with pytest.raises(E_LLM_EXECUTION_ALREADY_SIGNALLED):
            ctx.nack(Boom("second"))
        with pytest.raises(E_LLM_EXECUTION_ALREADY_SIGNALLED):
            ctx.ack()
        seen.extend([ctx.is_signalled, ctx.is_acked, ctx.nack_error])

    _, err = await in_ctx(body)
    assert err is first
    assert seen == [True, False, first]


async def test_nack_default_error_is_not_none() -> None:
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        ctx.nack()
        seen.extend([ctx.is_signalled, ctx.is_acked, ctx.nack_error])

    _, err = await in_ctx(body)
    assert seen[:2] == [True, False]
    assert isinstance(seen[2], BaseException)
    assert err is seen[2]


async def test_ack_does_not_interrupt_the_current_step() -> None:
    after: list[str] = []

    async def body(ctx: Any) -> None:
        ctx.ack()
        await ctx.store_message(msg("m"))
        after.append("ran")

    await in_ctx(body)
    assert after == ["ran"]


async def test_on_ack_handlers_run_in_order_once_and_deduplicated() -> None:
    calls: list[str] = []

    def a() -> None:
        calls.append("a")

    def b() -> None:
        calls.append("b")

    async def body(ctx: Any) -> None:
        ctx.on_ack(a)
        ctx.on_ack(b)
        ctx.on_ack(a)  # the same function is stored once
        ctx.ack()
        calls.append("after ack")

    await in_ctx(body)
    assert calls == ["a", "b", "after ack"], "ack handlers run synchronously inside ack()"


async def test_on_ack_unsubscribe() -> None:
    calls: list[str] = []

    async def body(ctx: Any) -> None:
        off = ctx.on_ack(lambda: calls.append("removed"))
        ctx.on_ack(lambda: calls.append("kept"))
        off()
        off()  # idempotent
        ctx.ack()

    await in_ctx(body)
    assert calls == ["kept"]


async def test_on_ack_not_called_on_nack() -> None:
    calls: list[str] = []

    async def body(ctx: Any) -> None:
        ctx.on_ack(lambda: calls.append("acked"))
        ctx.nack(Boom())

    await in_ctx(body)
    assert calls == []


async def test_on_ack_not_replayed_after_ack() -> None:
    calls: list[str] = []

    async def body(ctx: Any) -> None:
        ctx.ack()
        ctx.on_ack(lambda: calls.append("late"))

    await in_ctx(body)
    assert calls == []


async def test_on_ack_raising_handler_is_swallowed_and_siblings_run() -> None:
    calls: list[str] = []

    def bad() -> None:
        raise Boom("handler failed")

    async def body(ctx: Any) -> None:
        ctx.on_ack(lambda: calls.append("first"))
        ctx.on_ack(bad)
        ctx.on_ack(lambda: calls.append("third"))
        ctx.ack()
        calls.append(str(ctx.is_acked))

    _, err = await in_ctx(body)
    assert err is None
    assert calls == ["first", "third", "True"]


# --- conduits (not mutations) -----------------------------------------------------------------


async def test_store_media_bytes_and_retrievable_bytes_are_conduits_only() -> None:
    store = RecordingStore()
    rec = Recorder()
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        before = {attr: getattr(ctx, attr) for _, attr, _ in RECORD_FACTORIES.values()}
        media = await ctx.store_media_bytes("img", b"\x00\x01\x02")
        spool = await ctx.store_retrievable_bytes("doc", "line one\nline two\n")
        seen["media"] = media
        seen["spool"] = spool
        seen["unchanged"] = all(getattr(ctx, a) is s and len(s) == 0 for a, s in before.items())
        seen["ctx"] = ctx

    await in_ctx(body, store=store, hooks=rec.context_hooks())
    assert rec.events == [], "conduits fire no hooks"
    assert seen["unchanged"] is True
    assert seen["media"].byte_length() == 3
    chunks = [c async for c in seen["media"].stream()]
    assert b"".join(chunks) == b"\x00\x01\x02"
    assert seen["spool"].line(1) == "line two"
    assert seen["spool"].read_all() == "line one\nline two\n"
    assert store.log == [
        ("store_media_bytes", seen["ctx"], ("img", b"\x00\x01\x02")),
        ("store_retrievable_bytes", seen["ctx"], ("doc", "line one\nline two\n")),
    ]


async def test_conduits_queue_no_delta_on_the_derived_path() -> None:
    turn = FakeTurn()

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_media_bytes("img", b"x")
        await ctx.store_retrievable_bytes("doc", "y")
        ctx.ack()

    await DispatchRunner.dispatch(source=turn, executor=executor)
    assert [n for n, _ in turn.calls] == ["store_media_bytes", "store_retrievable_bytes"]
    for _, attr, _ in RECORD_FACTORIES.values():
        assert len(getattr(turn, attr)) == 0


async def test_conduit_returns_the_callbacks_reader() -> None:
    reader = object()

    async def body(ctx: Any) -> None:
        assert await ctx.store_media_bytes("i", b"") is reader
        assert await ctx.store_retrievable_bytes("i", "") is reader

    _, err = await in_ctx(
        body,
        store_media_bytes=lambda ctx, id, data: reader,
        store_retrievable_bytes=lambda ctx, id, data: reader,
    )
    assert err is None


# --- fetch -------------------------------------------------------------------------------


async def test_fetch_returns_the_stores_records_and_leaves_sets_alone() -> None:
    store = InMemoryStore()
    owner = types.SimpleNamespace(stash=Registry({"conversation_id": "conv"}))
    records = {kind: make("x") for kind, (make, _, _) in RECORD_FACTORIES.items()}
    for kind, value in records.items():
        getattr(store, f"store_{kind}")(owner, value)
    store.store_standing_instruction(owner, "rule")
    seen: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        seen["memory"] = await ctx.fetch_memories()
        seen["retrievable"] = await ctx.fetch_retrievables()
        seen["message"] = await ctx.fetch_messages()
        seen["thought"] = await ctx.fetch_thoughts()
        seen["tool_call"] = await ctx.fetch_tool_calls()
        seen["tools"] = await ctx.fetch_tools()
        seen["si"] = await ctx.refresh_standing_instructions()
        seen["sizes"] = [len(getattr(ctx, a)) for _, a, _ in RECORD_FACTORIES.values()]
        seen["si_size"] = len(ctx.standing_instructions)

    await in_ctx(body, store=store, stash={"conversation_id": "conv"})
    for kind, value in records.items():
        assert list(seen[kind]) == [value]
    assert list(seen["tools"]) == []
    assert list(seen["si"]) == ["rule"]
    assert seen["sizes"] == [0] * 5
    assert seen["si_size"] == 0


async def test_fetch_with_sync_and_async_callbacks() -> None:
    m = msg("m")

    async def fetch_thoughts(ctx: Any) -> list[Any]:
        return []

    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        seen.append(await ctx.fetch_messages())
        seen.append(await ctx.fetch_thoughts())

    await in_ctx(body, fetch_messages=lambda ctx: [m], fetch_thoughts=fetch_thoughts)
    assert seen == [[m], []]


# --- callbacks: raw store and explicit overrides ----------------------------------------------


async def test_default_store_is_an_in_memory_store() -> None:
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        await ctx.store_message(msg("m"))
        seen.append(await ctx.fetch_messages())

    await in_ctx(body)
    assert [m.id for m in seen[0]] == ["m"]


async def test_raw_store_supplies_every_callback() -> None:
    store = RecordingStore()

    async def body(ctx: Any) -> None:
        await ctx.store_memory(RECORD_FACTORIES["memory"][0]("m"))
        await ctx.fetch_memories()

    await in_ctx(body, store=store)
    assert store.names() == ["store_memory", "fetch_memories"]


async def test_explicit_callbacks_override_the_store() -> None:
    store = RecordingStore()
    calls: list[tuple[str, Any, Any]] = []

    async def store_message(ctx: Any, value: Any) -> None:
        calls.append(("async", ctx, value))

    def delete_message(ctx: Any, id: str) -> None:
        calls.append(("sync", ctx, id))

    m = msg("m")
    holder: dict[str, Any] = {}

    async def body(ctx: Any) -> None:
        holder["ctx"] = ctx
        await ctx.store_message(m)
        await ctx.delete_message("m")
        await ctx.store_thought(RECORD_FACTORIES["thought"][0]("t"))

    await in_ctx(body, store=store, store_message=store_message, delete_message=delete_message)
    assert calls == [("async", holder["ctx"], m), ("sync", holder["ctx"], "m")]
    assert store.names() == ["store_thought"]


async def test_all_explicit_callbacks_without_store() -> None:
    calls: list[str] = []

    def make(name: str) -> Any:
        def cb(ctx: Any, *args: Any) -> Any:
            calls.append(name)
            return [] if name.startswith(("fetch", "refresh")) else None

        return cb

    async def body(ctx: Any) -> None:
        await ctx.store_message(msg("m"))
        await ctx.fetch_messages()

    _, err = await in_ctx(body, **{n: make(n) for n in STORE_METHODS})
    assert err is None
    assert calls == ["store_message", "fetch_messages"]


# --- raw hooks (PORT.md §9.13) ----------------------------------------------------------------


async def test_raw_hooks_fire_for_mutations_and_stream_events() -> None:
    rec = Recorder()
    m, m2 = msg("m"), msg("m", "v2")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(m)
        await ctx.mutate_message(m2)
        await ctx.delete_message("m")
        helpers.report_message("s", "hi", is_complete=True)
        helpers.report_thought("t", "hm")
        helpers.report_tool_call("c", tool="x", args={"a": 1})
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(hooks=rec.context_hooks()), executor=executor)
    assert rec.names == [
        "stored_message",
        "mutated_message",
        "deleted_message",
        "message",
        "thought",
        "tool_call",
    ]
    assert rec.events[0][1] is m
    assert rec.events[1][1] is m2
    assert rec.events[2][1] == "m"


async def test_raw_hooks_accept_a_list_of_handlers() -> None:
    a, b = Recorder(), Recorder()

    async def body(ctx: Any) -> None:
        await ctx.store_message(msg("m"))

    await in_ctx(body, hooks={"stored_message": [a._rec("x"), b._rec("y")]})
    assert a.names == ["x"]
    assert b.names == ["y"]


async def test_hook_not_fired_when_persistence_fails() -> None:
    rec = Recorder()
    store = RecordingStore(fail={"store_message"})
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        try:
            await ctx.store_message(msg("m"))
        except Exception as exc:
            seen.append(exc)
        seen.append(len(ctx.turn_messages))

    await in_ctx(body, store=store, hooks=rec.context_hooks())
    assert type(seen[0]).__name__ == "StoreFailure"
    assert seen[1] == 1
    assert rec.events == []


async def test_emit_methods_fire_context_hooks() -> None:
    from adk.contracts.events import ToolExecutionStart
    from tests.runners.doubles import NOW

    rec = Recorder()
    ev = ToolExecutionStart(tool_name="x", turn_id="t", call_id="c", args={}, started_at=NOW)

    async def body(ctx: Any) -> None:
        assert ctx.emit_tool_execution_start(ev) is None

    await in_ctx(body, hooks=rec.context_hooks())
    assert rec.events == [("tool_execution_start", ev)]


async def test_abort_reason_and_signal() -> None:
    seen: list[Any] = []

    async def body(ctx: Any) -> None:
        ctx.abort("first")
        ctx.abort("second")
        seen.extend([ctx.aborted, ctx.abort_signal.aborted, ctx.abort_signal.reason])

    await in_ctx(body, ack=False)
    assert seen == [True, True, "first"]
