"""One runner, many turns: fresh pipelines per run and no cross-talk (PORT.md §7.1, §7.3)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

import adk

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def msg(id: str, text: str) -> adk.Message:
    return adk.Message(id=id, role="assistant", content=text, created_at=NOW, updated_at=NOW)


class _Conv:
    """Just enough of a context for ``InMemoryStore`` to find a conversation."""

    def __init__(self, conversation_id: str) -> None:
        self.stash = adk.Registry({"conversation_id": conversation_id})


@pytest.mark.anyio
async def test_sequential_runs_each_run_all_middleware_PORT_7_1() -> None:
    calls: Counter[str] = Counter()

    def counting(label: str) -> Any:
        async def mw(ctx: Any, next: Any) -> None:
            calls[label] += 1
            await next()

        return mw

    async def executor(ctx: Any, helpers: Any) -> None:
        calls["executor"] += 1
        ctx.ack()

    runner = adk.TurnRunner(
        executor=executor,
        turn_input_pipeline=[counting("tin1"), counting("tin2")],
        turn_output_pipeline=[counting("tout")],
        dispatch_input_pipeline=[counting("din")],
        dispatch_output_pipeline=[counting("dout")],
    )
    first = await runner.run(system_prompt="sys")
    second = await runner.run(system_prompt="sys")
    third = await runner.run(system_prompt="sys")
    # dout is skipped in the acking iteration (RUNNERS.md §9.1); every other one runs per run.
    assert calls == Counter({"tin1": 3, "tin2": 3, "tout": 3, "din": 3, "executor": 3})
    assert first.status == second.status == third.status == "completed"
    assert len({first.turn_id, second.turn_id, third.turn_id}) == 3


@pytest.mark.anyio
async def test_100_concurrent_turns_on_one_runner_no_cross_talk() -> None:
    n = 100
    store = adk.InMemoryStore()
    turn_sets: dict[str, list[tuple[str, str]]] = {}
    turn_of: dict[str, str] = {}

    async def tin(ctx: Any, next: Any) -> None:
        turn_of[ctx.id] = ctx.stash.get("conversation_id")
        await anyio.sleep(0)
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        cid = ctx.stash.get("conversation_id")
        if ctx.iteration == 0:
            await anyio.sleep(0)
            await ctx.store_message(msg(f"{cid}-q", f"question of {cid}"))
            helpers.report_message(f"{cid}-t", f"thinking about {cid}", is_complete=True)
            await anyio.sleep(0)
            return
        await anyio.sleep(0)
        await ctx.store_message(msg(f"{cid}-a", f"answer of {cid}"))
        ctx.ack()

    async def tout(ctx: Any, next: Any) -> None:
        await anyio.sleep(0)
        cid = ctx.stash.get("conversation_id")
        turn_sets[cid] = [(m.id, str(m.content)) for m in ctx.turn_messages]
        await next()

    runner = adk.TurnRunner(
        executor=executor,
        store=store,
        turn_input_pipeline=[tin],
        turn_output_pipeline=[tout],
    )
    streamed: list[str] = []
    runner.on("message", lambda c: streamed.append(c.id))
    starts: list[Any] = []
    ends: list[Any] = []
    runner.observe("turn_start", starts.append).observe("turn_end", ends.append)
    errors: list[Any] = []
    runner.observe("error", errors.append)
    results: dict[str, adk.TurnResult] = {}

    async def one(cid: str) -> None:
        results[cid] = await runner.run(
            system_prompt=f"You serve {cid}.", stash={"conversation_id": cid}
        )

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(one, f"c{i}")

    assert errors == []
    assert len(results) == n
    assert all(r.status == "completed" and r.dispatch_status == "ack" for r in results.values())
    assert len({r.turn_id for r in results.values()}) == n
    assert {r.turn_id: cid for cid, r in results.items()} == turn_of
    assert len(starts) == n and len(ends) == n
    assert sorted(streamed) == sorted(f"c{i}-t" for i in range(n))
    for i in range(n):
        cid = f"c{i}"
        expected = [(f"{cid}-q", f"question of {cid}"), (f"{cid}-a", f"answer of {cid}")]
        assert turn_sets[cid] == expected
        stored = [(m.id, str(m.content)) for m in store.fetch_messages(_Conv(cid))]
        assert stored == expected
    assert store.fetch_messages(_Conv("default")) == []


@pytest.mark.anyio
async def test_aborting_one_concurrent_turn_leaves_the_others_alone() -> None:
    started = anyio.Event()

    async def executor(ctx: Any, helpers: Any) -> None:
        if ctx.stash.get("slow"):
            started.set()
            await anyio.sleep(10)
        else:
            await started.wait()
            await anyio.sleep(0.01)
        ctx.ack()

    runner = adk.TurnRunner(executor=executor)
    controller = adk.AbortController()
    results: dict[str, adk.TurnResult] = {}

    async def one(name: str, **kwargs: Any) -> None:
        results[name] = await runner.run(system_prompt="sys", **kwargs)

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: one("slow", stash={"slow": True}, turn_abort_controller=controller)
            )
            for i in range(5):
                tg.start_soon(one, f"fast{i}")
            await started.wait()
            controller.abort()
    assert results["slow"].status == "aborted"
    assert [results[f"fast{i}"].status for i in range(5)] == ["completed"] * 5


@pytest.mark.anyio
async def test_a_turns_slow_coroutine_listener_does_not_hold_up_another_turn_PORT_7_3() -> None:
    release = anyio.Event()
    kind_of: dict[str, str] = {}
    order: list[str] = []

    async def tin(ctx: Any, next: Any) -> None:
        kind_of[ctx.id] = ctx.stash.get("kind")
        await next()

    async def on_end(e: Any) -> None:
        if kind_of[e.turn_id] == "slow":
            await release.wait()
            order.append("slow listener done")

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    runner = adk.TurnRunner(executor=executor, turn_input_pipeline=[tin])
    runner.observe("turn_end", on_end)

    async def slow() -> None:
        await runner.run(system_prompt="sys", stash={"kind": "slow"})
        order.append("slow returned")

    async def fast() -> None:
        await anyio.sleep(0.01)
        await runner.run(system_prompt="sys", stash={"kind": "fast"})
        order.append("fast returned")
        release.set()

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            tg.start_soon(fast)
    assert order == ["fast returned", "slow listener done", "slow returned"]
