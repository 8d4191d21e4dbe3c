from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adk.contracts.events import TurnGateClosed
from adk.errors import (
    E_INVALID_INITIAL_TURN_GATE_VALUE,
    E_INVALID_TURN_GATE_RESOLUTION,
    E_TURN_GATE_ABORTED,
    E_TURN_GATE_TIMEOUT,
)
from adk.runners.abort import AbortController, cancel_on_abort
from adk.runners.gate import TurnGate, TurnGateRejection, open_gate

pytestmark = pytest.mark.anyio


class Harness:
    """Runs open_gate in a task and records on_open / on_closed / resumption order."""

    def __init__(self) -> None:
        self.ctrl = AbortController()
        self.gates: list[TurnGate[Any]] = []
        self.log: list[tuple[str, object]] = []
        self.closed: list[TurnGateClosed] = []
        self.outcome: list[tuple[str, object]] = []

    def on_open(self, gate: TurnGate[Any]) -> None:
        self.gates.append(gate)
        self.log.append(("open", gate.id))

    def on_closed(self, event: TurnGateClosed) -> None:
        self.closed.append(event)
        self.log.append(("closed", event.result))

    @property
    def gate(self) -> TurnGate[Any]:
        return self.gates[0]

    async def run(self, **kwargs: Any) -> None:
        args: dict[str, Any] = {"id": "g1", "reason": "tool_approval", "payload": {"x": 1}}
        args.update(kwargs)
        try:
            value = await open_gate(
                turn_id="t1",
                signal=self.ctrl.signal,
                on_open=self.on_open,
                on_closed=self.on_closed,
                **args,
            )
        except BaseException as err:
            self.outcome.append(("raised", err))
            self.log.append(("resumed", "raised"))
            raise
        self.outcome.append(("value", value))
        self.log.append(("resumed", "value"))


async def start(h: Harness, tg: anyio.abc.TaskGroup, **kwargs: Any) -> None:
    async def runner() -> None:
        with contextlib.suppress(Exception):
            await h.run(**kwargs)

    tg.start_soon(runner)
    await anyio.wait_all_tasks_blocked()


# --- basic settlement --------------------------------------------------------------------


async def test_resolve() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg)
        gate = h.gate
        assert not gate.is_settled
        assert gate.result is None
        assert (gate.id, gate.turn_id, gate.reason, gate.payload) == (
            "g1",
            "t1",
            "tool_approval",
            {"x": 1},
        )
        assert gate.created_at.tzinfo is not None
        gate.resolve("yes")
        # on_closed ran synchronously inside resolve(), before the awaiter resumed.
        assert h.log == [("open", "g1"), ("closed", "resolved")]
        assert gate.is_settled
        assert gate.result == "resolved"
        gate.resolve("again")  # no-op
        gate.reject(RuntimeError("late"))  # no-op
        gate.abort()  # no-op
    assert h.outcome == [("value", "yes")]
    assert h.log == [("open", "g1"), ("closed", "resolved"), ("resumed", "value")]
    assert len(h.closed) == 1
    ev = h.closed[0]
    assert (ev.gate_id, ev.turn_id, ev.result) == ("g1", "t1", "resolved")
    assert ev.settled_at.tzinfo is not None


async def test_reject_with_exception() -> None:
    h = Harness()
    boom = RuntimeError("denied")
    async with anyio.create_task_group() as tg:
        await start(h, tg)
        h.gate.reject(boom)
        assert h.gate.result == "rejected"
    assert h.outcome == [("raised", boom)]
    assert [c.result for c in h.closed] == ["rejected"]
    assert h.log[-2:] == [("closed", "rejected"), ("resumed", "raised")]


async def test_reject_with_non_exception_value() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg)
        h.gate.reject({"code": 7})
    kind, err = h.outcome[0]
    assert kind == "raised"
    assert isinstance(err, TurnGateRejection)
    assert err.value == {"code": 7}
    assert [c.result for c in h.closed] == ["rejected"]


async def test_reject_with_gate_error_classes_classifies_result() -> None:
    for err, expected in ((E_TURN_GATE_ABORTED(), "aborted"), (E_TURN_GATE_TIMEOUT(), "timeout")):
        h = Harness()
        async with anyio.create_task_group() as tg:
            await start(h, tg)
            h.gate.reject(err)
        assert h.outcome == [("raised", err)]
        assert [c.result for c in h.closed] == [expected]


async def test_gate_abort_does_not_abort_turn() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg)
        h.gate.abort()
        assert h.gate.result == "aborted"
    kind, err = h.outcome[0]
    assert kind == "raised" and isinstance(err, E_TURN_GATE_ABORTED)
    assert [c.result for c in h.closed] == ["aborted"]
    assert not h.ctrl.signal.aborted


async def test_timeout() -> None:
    h = Harness()
    t0 = anyio.current_time()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await start(h, tg, timeout_ms=50)
    elapsed = anyio.current_time() - t0
    kind, err = h.outcome[0]
    assert kind == "raised" and isinstance(err, E_TURN_GATE_TIMEOUT)
    assert [c.result for c in h.closed] == ["timeout"]
    assert h.gate.result == "timeout"
    assert 0.04 <= elapsed < 4


async def test_timeout_counts_from_construction() -> None:
    gate: TurnGate[Any] = TurnGate(id="g", turn_id="t", reason="r", payload=None, timeout_ms=60)
    await anyio.sleep(0.1)  # the deadline passes before anyone awaits
    t0 = anyio.current_time()
    with pytest.raises(E_TURN_GATE_TIMEOUT):
        await gate.wait()
    assert anyio.current_time() - t0 < 0.05
    assert gate.result == "timeout"


async def test_resolve_before_timeout_clears_it() -> None:
    h = Harness()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await start(h, tg, timeout_ms=100)
            h.gate.resolve(1)
        await anyio.sleep(0.15)
    assert h.outcome == [("value", 1)]
    assert [c.result for c in h.closed] == ["resolved"]


async def test_turn_signal_abort_while_open() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg)
        assert len(h.ctrl.signal._listeners) == 1  # pyright: ignore[reportPrivateUsage]
        h.ctrl.abort("stop")
        assert h.log[-1] == ("closed", "aborted")
    kind, err = h.outcome[0]
    assert kind == "raised" and isinstance(err, E_TURN_GATE_ABORTED)
    assert [c.result for c in h.closed] == ["aborted"]


async def test_signal_listener_removed_on_settlement() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg)
        h.gate.resolve(True)
        assert len(h.ctrl.signal._listeners) == 0  # pyright: ignore[reportPrivateUsage]
    h.ctrl.abort()  # does not touch the settled gate
    assert [c.result for c in h.closed] == ["resolved"]
    assert h.gate.result == "resolved"


async def test_already_aborted_signal_rejects_when_awaited() -> None:
    h = Harness()
    h.ctrl.abort()
    with pytest.raises(E_TURN_GATE_ABORTED):
        await h.run()
    assert h.log == [("open", "g1"), ("closed", "aborted"), ("resumed", "raised")]


async def test_already_aborted_signal_sync_resolve_in_on_open_wins() -> None:
    h = Harness()
    h.ctrl.abort()

    def on_open(gate: TurnGate[Any]) -> None:
        h.on_open(gate)
        gate.resolve("approved")

    value = await open_gate(
        turn_id="t1",
        signal=h.ctrl.signal,
        on_open=on_open,
        on_closed=h.on_closed,
        id="g",
        reason="r",
        payload=None,
    )
    assert value == "approved"
    assert [c.result for c in h.closed] == ["resolved"]


async def test_already_aborted_signal_resolve_wins_even_inside_cancel_on_abort() -> None:
    ctrl = AbortController()
    ctrl.abort()
    closed: list[str] = []
    value: object = None
    with cancel_on_abort(ctrl.signal) as scope:
        value = await open_gate(
            turn_id="t",
            signal=ctrl.signal,
            on_open=lambda g: g.resolve(5),
            on_closed=lambda e: closed.append(e.result),
            id="g",
            reason="r",
            payload=None,
        )
    assert value == 5
    assert not scope.cancelled_caught
    assert closed == ["resolved"]


async def test_sync_reject_and_abort_in_on_open() -> None:
    err = ValueError("no")
    closed: list[str] = []
    with pytest.raises(ValueError) as info:
        await open_gate(
            turn_id="t",
            signal=None,
            on_open=lambda g: g.reject(err),
            on_closed=lambda e: closed.append(e.result),
            id="g",
            reason="r",
            payload=None,
        )
    assert info.value is err
    with pytest.raises(E_TURN_GATE_ABORTED):
        await open_gate(
            turn_id="t",
            signal=None,
            on_open=lambda g: g.abort(),
            on_closed=lambda e: closed.append(e.result),
            id="g",
            reason="r",
            payload=None,
        )
    assert closed == ["rejected", "aborted"]


async def test_on_open_raising_rejects_gate_and_propagates() -> None:
    closed: list[str] = []
    boom = RuntimeError("listener")

    def on_open(gate: TurnGate[Any]) -> None:
        raise boom

    with pytest.raises(RuntimeError) as info:
        await open_gate(
            turn_id="t",
            signal=None,
            on_open=on_open,
            on_closed=lambda e: closed.append(e.result),
            id="g",
            reason="r",
            payload=None,
        )
    assert info.value is boom
    assert closed == ["rejected"]


# --- schemas -----------------------------------------------------------------------------


async def test_schema_int_is_strict_and_invalid_resolve_keeps_gate_open() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg, schema=int)
        gate = h.gate
        for bad in ("1", True, 1.5, None):
            with pytest.raises(E_INVALID_TURN_GATE_RESOLUTION) as info:
                gate.resolve(bad)
            assert isinstance(info.value.__cause__, msgspec.ValidationError)
            assert not gate.is_settled
        assert h.closed == []
        gate.resolve(3)
    assert h.outcome == [("value", 3)]
    assert [c.result for c in h.closed] == ["resolved"]


async def test_schema_bool() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg, schema=bool)
        with pytest.raises(E_INVALID_TURN_GATE_RESOLUTION):
            h.gate.resolve("true")
        h.gate.resolve(False)
    assert h.outcome == [("value", False)]


class Approval(msgspec.Struct):
    approved: bool
    note: str = ""


async def test_schema_struct_converts_mapping() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg, schema=Approval)
        with pytest.raises(E_INVALID_TURN_GATE_RESOLUTION):
            h.gate.resolve({"approved": "yes"})
        h.gate.resolve({"approved": True})
    kind, value = h.outcome[0]
    assert kind == "value"
    assert value == Approval(approved=True, note="")


async def test_schema_generic_alias() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg, schema=list[int])
        with pytest.raises(E_INVALID_TURN_GATE_RESOLUTION):
            h.gate.resolve([1, "2"])
        h.gate.resolve((1, 2))
    assert h.outcome == [("value", [1, 2])]


class UpperValidator:
    def __init__(self) -> None:
        self.calls = 0

    def validate(self, value: object) -> str:
        self.calls += 1
        if not isinstance(value, str):
            raise TypeError("need a str")
        return value.upper()


async def test_validate_object_schema() -> None:
    h = Harness()
    validator = UpperValidator()
    async with anyio.create_task_group() as tg:
        await start(h, tg, schema=validator)
        with pytest.raises(E_INVALID_TURN_GATE_RESOLUTION) as info:
            h.gate.resolve(3)
        assert isinstance(info.value.__cause__, TypeError)
        assert not h.gate.is_settled
        h.gate.resolve("ok")
    assert h.outcome == [("value", "OK")]
    assert validator.calls == 2


class ClassWithStaticValidate:
    @staticmethod
    def validate(value: object) -> object:
        return ("validated", value)


async def test_class_with_static_validate_is_a_validate_schema() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg, schema=ClassWithStaticValidate)
        h.gate.resolve(1)
    assert h.outcome == [("value", ("validated", 1))]


async def test_resolve_on_settled_gate_does_not_validate() -> None:
    validator = UpperValidator()
    gate: TurnGate[Any] = TurnGate(id="g", turn_id="t", reason="r", payload=1, schema=validator)
    gate.abort()
    gate.resolve(123)  # would fail the schema, but the gate is settled: no-op, no raise
    assert validator.calls == 0


# --- invalid raw arguments ----------------------------------------------------------------


async def test_invalid_raw_arguments_name_every_field_and_skip_on_open() -> None:
    opened: list[object] = []
    closed: list[object] = []
    coro = open_gate(
        turn_id="",
        signal=None,
        on_open=opened.append,
        on_closed=closed.append,
        id=3,  # type: ignore[arg-type]
        reason="",
        schema="not a schema",
        timeout_ms=0,
        created_at="yesterday",
        bogus=1,
    )
    with pytest.raises(E_INVALID_INITIAL_TURN_GATE_VALUE) as info:
        await coro
    assert set(info.value.fields) == {
        "id",
        "turn_id",
        "reason",
        "payload",
        "schema",
        "timeout_ms",
        "created_at",
        "bogus",
    }
    assert "payload" in str(info.value)
    assert opened == [] and closed == []


def test_open_gate_raises_only_when_awaited() -> None:
    coro = open_gate(turn_id="t", signal=None, on_open=None, on_closed=None)
    coro.close()  # constructing the coroutine raises nothing


@pytest.mark.parametrize(
    "timeout_ms",
    [-1, 0, float("nan"), float("inf"), True, "10"],
)
def test_invalid_timeouts(timeout_ms: object) -> None:
    with pytest.raises(E_INVALID_INITIAL_TURN_GATE_VALUE) as info:
        TurnGate(id="g", turn_id="t", reason="r", payload=None, timeout_ms=timeout_ms)  # type: ignore[arg-type]
    assert info.value.fields == ("timeout_ms",)


def test_valid_raw_variants() -> None:
    g1: TurnGate[Any] = TurnGate(
        id="g", turn_id="t", reason="r", payload=None, timeout_ms=0.5, created_at=0
    )
    assert g1.payload is None
    assert g1.created_at == datetime(1970, 1, 1, tzinfo=UTC)
    assert g1.timeout_ms == 0.5
    g2: TurnGate[Any] = TurnGate(
        id="g", turn_id="t", reason="r", payload=[], created_at="2026-01-02T03:04:05+00:00"
    )
    assert g2.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    stamp = datetime(2025, 5, 5, tzinfo=UTC)
    g3: TurnGate[Any] = TurnGate(id="g", turn_id="t", reason="r", payload=0, created_at=stamp)
    assert g3.created_at == stamp
    assert TurnGate.is_turn_gate(g3)
    assert not TurnGate.is_turn_gate(object())


def test_signal_must_be_an_abort_signal() -> None:
    with pytest.raises(E_INVALID_INITIAL_TURN_GATE_VALUE) as info:
        TurnGate(id="g", turn_id="t", reason="r", payload=None, signal=object())  # type: ignore[arg-type]
    assert info.value.fields == ("signal",)


# --- cancellation ---------------------------------------------------------------------------


async def test_cancelling_the_awaiter_settles_as_aborted() -> None:
    h = Harness()
    async with anyio.create_task_group() as tg:
        await start(h, tg)
        tg.cancel_scope.cancel()
    assert [c.result for c in h.closed] == ["aborted"]
    assert h.gate.result == "aborted"
    kind, err = h.outcome[0]
    assert kind == "raised" and isinstance(err, anyio.get_cancelled_exc_class())
    assert len(h.ctrl.signal._listeners) == 0  # pyright: ignore[reportPrivateUsage]


async def test_wait_inside_cancel_on_abort_turn_abort() -> None:
    """The lead's shape: gate wait wrapped in cancel_on_abort; abort closes it once."""
    ctrl = AbortController()
    closed: list[str] = []
    seen: list[str] = []

    async def middleware() -> None:
        with cancel_on_abort(ctrl.signal) as scope:
            try:
                await open_gate(
                    turn_id="t",
                    signal=ctrl.signal,
                    on_open=lambda g: None,
                    on_closed=lambda e: closed.append(e.result),
                    id="g",
                    reason="r",
                    payload=None,
                )
            except E_TURN_GATE_ABORTED:
                seen.append("gate-aborted")
        seen.append(f"cancelled_caught={scope.cancelled_caught}")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(middleware)
            await anyio.wait_all_tasks_blocked()
            ctrl.abort()
    # The scope's listener was registered first, so the awaiter sees the cancellation
    # (swallowed by the scope); the gate still closed exactly once, as aborted.
    assert closed == ["aborted"]
    assert seen == ["cancelled_caught=True"]


async def test_gate_wait_outside_event_loop_construction() -> None:
    # A gate built where no clock is available still honours its timeout once awaited.
    gate: TurnGate[Any] = TurnGate(id="g", turn_id="t", reason="r", payload=None, timeout_ms=30)
    gate._deadline = float("nan")  # pyright: ignore[reportPrivateUsage]  # simulate
    with anyio.fail_after(5), pytest.raises(E_TURN_GATE_TIMEOUT):
        await gate.wait()


def test_construct_without_event_loop() -> None:
    gate: TurnGate[Any] = TurnGate(id="g", turn_id="t", reason="r", payload=None, timeout_ms=30)
    gate.resolve(1)
    assert gate.result == "resolved"

    async def main() -> object:
        return await gate.wait()

    assert anyio.run(main) == 1


# --- property: RUNNERS.md §10 item 15 ------------------------------------------------------

OPS = st.lists(
    st.sampled_from(
        ["resolve", "resolve_invalid", "reject", "abort", "signal_abort", "tick", "cancel"]
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, with_timeout=st.booleans())
async def test_gate_settles_at_most_once(ops: list[str], with_timeout: bool) -> None:
    h = Harness()
    expected: str | None = None
    kwargs: dict[str, Any] = {"schema": int}
    if with_timeout:
        kwargs["timeout_ms"] = 60_000  # never elapses; exercises the deadline path
    cancel_scope = anyio.CancelScope()
    gate: TurnGate[Any] | None = None

    async def runner() -> None:
        with cancel_scope, contextlib.suppress(Exception):
            await h.run(**kwargs)

    actions: dict[str, Callable[[TurnGate[Any]], None]] = {
        "resolve": lambda g: g.resolve(7),
        "reject": lambda g: g.reject(RuntimeError("no")),
        "abort": lambda g: g.abort(),
        "signal_abort": lambda g: h.ctrl.abort(),
        "cancel": lambda g: cancel_scope.cancel(),
    }
    result_of = {
        "resolve": "resolved",
        "reject": "rejected",
        "abort": "aborted",
        "signal_abort": "aborted",
        "cancel": "aborted",
    }
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner)
            await anyio.wait_all_tasks_blocked()
            gate = h.gate
            for op in ops:
                if op == "tick":
                    await anyio.lowlevel.checkpoint()
                    await anyio.wait_all_tasks_blocked()
                elif op == "resolve_invalid":
                    if gate.is_settled:
                        gate.resolve("x")  # no-op, no raise
                    else:
                        with pytest.raises(E_INVALID_TURN_GATE_RESOLUTION):
                            gate.resolve("x")
                        assert not gate.is_settled
                else:
                    was_settled = gate.is_settled
                    actions[op](gate)
                    if op == "cancel" and not was_settled:
                        # Cancellation is delivered at the awaiter's next tick.
                        await anyio.wait_all_tasks_blocked()
                    if expected is None and not was_settled:
                        expected = result_of[op]
                        # on_closed already fired, before the awaiter resumed.
                        assert [c.result for c in h.closed] == [expected]
                        assert ("resumed", "value") not in h.log or op == "cancel"
                assert len(h.closed) == (0 if expected is None else 1)
            if expected is None:
                gate.abort()
                expected = "aborted"
    assert [c.result for c in h.closed] == [expected]
    assert gate is not None
    assert gate.result == expected
    assert gate.is_settled
    closed_at = h.log.index(("closed", expected))
    resumed = [i for i, (k, _) in enumerate(h.log) if k == "resumed"]
    assert len(resumed) == 1 and resumed[0] > closed_at
    kind, value = h.outcome[0]
    if expected == "resolved":
        assert (kind, value) == ("value", 7)
    else:
        assert kind == "raised"
    assert len(h.ctrl.signal._listeners) == 0  # pyright: ignore[reportPrivateUsage]
