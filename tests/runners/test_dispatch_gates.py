"""Gates inside a dispatch (RUNNERS.md §3.2, §6; PORT.md §6, §9.1, §9.12, §9.13)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from adk import DispatchRunner
from adk.errors import (
    E_INVALID_INITIAL_TURN_GATE_VALUE,
    E_LLM_EXECUTION_GATE_NOT_SUPPORTED,
    E_TURN_GATE_ABORTED,
    E_TURN_GATE_TIMEOUT,
)
from tests.runners.doubles import FakeTurn, Recorder, raw, wait_until

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


async def test_standalone_without_wait_for_raises_gate_not_supported() -> None:
    raised: list[BaseException] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        try:
            await ctx.wait_for(id="g", reason="approval", payload=None)
        except E_LLM_EXECUTION_GATE_NOT_SUPPORTED as exc:
            raised.append(exc)
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(), executor=executor)
    assert len(raised) == 1
    assert raised[0].status == 501
    assert raised[0].fatal is False


async def test_standalone_gate_not_supported_uncaught_is_executor_error() -> None:
    from adk.errors import E_LLM_EXECUTION_EXECUTOR_ERROR

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.wait_for(id="g", reason="approval", payload=None)

    with pytest.raises(E_LLM_EXECUTION_EXECUTOR_ERROR) as info:
        await DispatchRunner.dispatch(raw=raw(), executor=executor)
    assert isinstance(info.value.__cause__, E_LLM_EXECUTION_GATE_NOT_SUPPORTED)


async def test_raw_wait_for_receives_the_same_keyword_arguments() -> None:
    calls: list[dict[str, Any]] = []

    async def wait_for(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return "approved"

    got: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        got.append(await ctx.wait_for(id="g1", reason="tool_approval", payload={"x": 1}))
        got.append(
            await ctx.wait_for(
                id="g2",
                reason="r",
                payload=None,
                schema=bool,
                timeout_ms=500,
                created_at="2026-01-01T00:00:00Z",
            )
        )
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(wait_for=wait_for), executor=executor)
    assert got == ["approved", "approved"]
    assert calls == [
        {
            "id": "g1",
            "reason": "tool_approval",
            "payload": {"x": 1},
            "schema": None,
            "timeout_ms": None,
            "created_at": None,
        },
        {
            "id": "g2",
            "reason": "r",
            "payload": None,
            "schema": bool,
            "timeout_ms": 500,
            "created_at": "2026-01-01T00:00:00Z",
        },
    ]


async def test_raw_sync_wait_for_is_accepted() -> None:
    got: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        got.append(await ctx.wait_for(id="g", reason="r", payload=1))
        ctx.ack()

    await DispatchRunner.dispatch(
        raw=raw(wait_for=lambda **kw: kw["payload"] + 1), executor=executor
    )
    assert got == [2]


async def test_raw_wait_for_error_propagates_to_the_executor() -> None:
    boom = Boom()
    seen: list[Any] = []

    async def wait_for(**kwargs: Any) -> Any:
        raise boom

    async def executor(ctx: Any, helpers: Any) -> None:
        try:
            await ctx.wait_for(id="g", reason="r", payload=1)
        except Boom as exc:
            seen.append(exc)
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(wait_for=wait_for), executor=executor)
    assert seen == [boom]


# --- derived path: the turn's gate ----------------------------------------------------------


async def _with_turn_gate(
    turn: FakeTurn, executor: Any, settle: Any, **kwargs: Any
) -> BaseException | None:
    """Run a derived dispatch while ``settle(gate)`` runs once the turn gate opens."""
    result: list[BaseException | None] = [None]

    async def run() -> None:
        try:
            await DispatchRunner.dispatch(source=turn, executor=executor, **kwargs)
        except Exception as exc:
            result[0] = exc

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await wait_until(lambda: turn.gates)
            settle(turn.gates[0])
    return result[0]


async def test_derived_path_opens_the_turn_gate_and_resolves() -> None:
    turn = FakeTurn()
    got: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        got.append(await ctx.wait_for(id="approve", reason="tool_approval", payload={"t": 1}))
        ctx.ack()

    err = await _with_turn_gate(turn, executor, lambda g: g.resolve("yes"))
    assert err is None
    assert got == ["yes"]
    (gate,) = turn.gates
    assert (gate.id, gate.turn_id, gate.reason, gate.payload) == (
        "approve",
        turn.id,
        "tool_approval",
        {"t": 1},
    )
    assert [(c.gate_id, c.turn_id, c.result) for c in turn.closed] == [
        ("approve", turn.id, "resolved")
    ]


async def test_derived_path_gate_schema_converts_the_value() -> None:
    turn = FakeTurn()
    got: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        got.append(await ctx.wait_for(id="g", reason="r", payload=None, schema=int))
        ctx.ack()

    await _with_turn_gate(turn, executor, lambda g: g.resolve(7))
    assert got == [7]


async def test_derived_path_gate_rejected() -> None:
    turn = FakeTurn()
    boom = Boom("denied")
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        try:
            await ctx.wait_for(id="g", reason="r", payload=None)
        except Boom as exc:
            seen.append(exc)
        ctx.ack()

    err = await _with_turn_gate(turn, executor, lambda g: g.reject(boom))
    assert err is None
    assert seen == [boom]
    assert [c.result for c in turn.closed] == ["rejected"]


async def test_derived_path_gate_rejection_uncaught_is_executor_error() -> None:
    from adk.errors import E_LLM_EXECUTION_EXECUTOR_ERROR

    turn = FakeTurn()
    boom = Boom("denied")

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.wait_for(id="g", reason="r", payload=None)

    err = await _with_turn_gate(turn, executor, lambda g: g.reject(boom))
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert err.__cause__ is boom


async def test_derived_path_gate_timeout() -> None:
    turn = FakeTurn()
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        try:
            await ctx.wait_for(id="g", reason="r", payload=None, timeout_ms=20)
        except E_TURN_GATE_TIMEOUT as exc:
            seen.append(exc)
        ctx.ack()

    with anyio.fail_after(2):
        await DispatchRunner.dispatch(source=turn, executor=executor)
    assert len(seen) == 1
    assert [c.result for c in turn.closed] == ["timeout"]


async def test_derived_path_gate_abort_by_gate_abort() -> None:
    turn = FakeTurn()
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        try:
            await ctx.wait_for(id="g", reason="r", payload=None)
        except E_TURN_GATE_ABORTED as exc:
            seen.append(exc)
        ctx.ack()

    err = await _with_turn_gate(turn, executor, lambda g: g.abort())
    assert err is None
    assert len(seen) == 1
    assert [c.result for c in turn.closed] == ["aborted"]
    assert turn.aborted is False


async def test_dispatch_abort_while_awaiting_gate_closes_it_once_as_aborted() -> None:
    turn = FakeTurn()
    rec = Recorder()
    box: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        box["ctx"] = ctx
        await ctx.wait_for(id="g", reason="r", payload=None)
        box["resumed"] = True

    err = await _with_turn_gate(
        turn, executor, lambda g: box["ctx"].abort("stop"), observers=rec.observers()
    )
    assert err is None
    assert "resumed" not in box
    assert rec.one("dispatch_end").status == "aborted"
    assert rec.of("error") == []
    assert [c.result for c in turn.closed] == ["aborted"]
    assert turn.gates[0].is_settled is True
    assert turn.aborted is False, "a dispatch abort does not abort the turn"


async def test_turn_abort_while_awaiting_gate_closes_it_once_as_aborted() -> None:
    turn = FakeTurn()
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.wait_for(id="g", reason="r", payload=None)

    err = await _with_turn_gate(turn, executor, lambda g: turn.abort(), observers=rec.observers())
    assert err is None
    assert rec.one("dispatch_end").status == "aborted"
    assert [c.result for c in turn.closed] == ["aborted"]


async def test_bad_wait_for_arguments_raise_before_a_gate_opens() -> None:
    turn = FakeTurn()
    seen: list[Any] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        try:
            await ctx.wait_for(id="", reason="", payload=None, timeout_ms=-1)
        except E_INVALID_INITIAL_TURN_GATE_VALUE as exc:
            seen.append(exc)
        ctx.ack()

    await DispatchRunner.dispatch(source=turn, executor=executor)
    assert len(seen) == 1
    assert {"id", "reason", "timeout_ms"} <= set(seen[0].fields)
    assert turn.gates == []
    assert turn.closed == []


async def test_gate_awaited_in_middleware() -> None:
    turn = FakeTurn()
    got: list[Any] = []

    async def approval(ctx: Any, next: Any) -> None:
        got.append(await ctx.wait_for(id="mw", reason="approval", payload=None))
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    err = await _with_turn_gate(
        turn, executor, lambda g: g.resolve(True), turn_input_pipeline=[approval]
    )
    assert err is None
    assert got == [True]
