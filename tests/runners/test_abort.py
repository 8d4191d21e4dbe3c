from __future__ import annotations

import gc
import weakref

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import TaskStatus

from adk.errors import AbortError
from adk.runners.abort import AbortController, AbortSignal, CancelOnAbort, cancel_on_abort, link

# --- controller / signal ---------------------------------------------------------------


def test_initial_state() -> None:
    ctrl = AbortController()
    assert isinstance(ctrl.signal, AbortSignal)
    assert ctrl.signal.aborted is False
    assert ctrl.signal.reason is None
    ctrl.signal.throw_if_aborted()  # no raise


def test_abort_without_reason_stores_abort_error() -> None:
    ctrl = AbortController()
    ctrl.abort()
    assert ctrl.signal.aborted is True
    assert isinstance(ctrl.signal.reason, AbortError)


def test_abort_is_idempotent_and_first_reason_sticks() -> None:
    ctrl = AbortController()
    calls: list[object] = []
    ctrl.signal.add_listener(lambda s: calls.append(s.reason))
    ctrl.abort("first")
    ctrl.abort("second")
    ctrl.abort()
    assert ctrl.signal.reason == "first"
    assert calls == ["first"]


def test_throw_if_aborted() -> None:
    ctrl = AbortController()
    ctrl.abort("why")
    with pytest.raises(AbortError) as info:
        ctrl.signal.throw_if_aborted()
    assert info.value.reason == "why"

    ctrl2 = AbortController()
    ctrl2.abort()
    with pytest.raises(AbortError) as info2:
        ctrl2.signal.throw_if_aborted()
    assert info2.value is ctrl2.signal.reason

    ctrl3 = AbortController()
    cause = ValueError("boom")
    ctrl3.abort(cause)
    with pytest.raises(AbortError) as info3:
        ctrl3.signal.throw_if_aborted()
    assert info3.value.reason is cause
    assert info3.value.__cause__ is cause


def test_listeners_run_synchronously_in_registration_order() -> None:
    ctrl = AbortController()
    seen: list[str] = []
    ctrl.signal.add_listener(lambda s: seen.append("a"))
    ctrl.signal.add_listener(lambda s: seen.append("b"))
    ctrl.signal.add_listener(lambda s: seen.append("c"))
    ctrl.abort()
    assert seen == ["a", "b", "c"]


def test_listener_receives_signal_with_state_already_set() -> None:
    ctrl = AbortController()
    seen: list[tuple[bool, object]] = []
    ctrl.signal.add_listener(lambda s: seen.append((s.aborted, s.reason)))
    ctrl.abort(42)
    assert seen == [(True, 42)]


def test_same_listener_registered_twice_is_called_once() -> None:
    ctrl = AbortController()
    seen: list[int] = []

    def fn(s: AbortSignal) -> None:
        seen.append(1)

    ctrl.signal.add_listener(fn)
    ctrl.signal.add_listener(fn)
    ctrl.signal.add_listener(fn, once=True)
    ctrl.abort()
    assert seen == [1]


def test_bound_methods_dedup_and_remove() -> None:
    class Holder:
        def __init__(self) -> None:
            self.n = 0

        def on_abort(self, s: AbortSignal) -> None:
            self.n += 1

    h = Holder()
    ctrl = AbortController()
    ctrl.signal.add_listener(h.on_abort)
    ctrl.signal.add_listener(h.on_abort)
    ctrl.abort()
    assert h.n == 1

    h2 = Holder()
    ctrl2 = AbortController()
    ctrl2.signal.add_listener(h2.on_abort)
    ctrl2.signal.remove_listener(h2.on_abort)
    ctrl2.abort()
    assert h2.n == 0


def test_once_listener_called_once() -> None:
    ctrl = AbortController()
    seen: list[int] = []
    ctrl.signal.add_listener(lambda s: seen.append(1), once=True)
    ctrl.abort()
    ctrl.abort()
    assert seen == [1]


def test_remove_listener() -> None:
    ctrl = AbortController()
    seen: list[str] = []

    def a(s: AbortSignal) -> None:
        seen.append("a")

    def b(s: AbortSignal) -> None:
        seen.append("b")

    ctrl.signal.add_listener(a)
    ctrl.signal.add_listener(b)
    ctrl.signal.remove_listener(a)
    ctrl.signal.remove_listener(a)  # no-op
    ctrl.signal.remove_listener(lambda s: None)  # never registered: no-op
    ctrl.abort()
    assert seen == ["b"]


def test_listener_added_after_abort_is_not_called() -> None:
    ctrl = AbortController()
    ctrl.abort()
    seen: list[int] = []
    ctrl.signal.add_listener(lambda s: seen.append(1))
    ctrl.abort()
    assert seen == []


def test_snapshot_semantics_during_abort() -> None:
    ctrl = AbortController()
    seen: list[str] = []

    def late(s: AbortSignal) -> None:
        seen.append("late")

    def c(s: AbortSignal) -> None:
        seen.append("c")

    def a(s: AbortSignal) -> None:
        seen.append("a")
        s.add_listener(late)  # added during dispatch: not called
        s.remove_listener(c)  # removed by an earlier listener: skipped

    ctrl.signal.add_listener(a)
    ctrl.signal.add_listener(c)
    ctrl.abort()
    assert seen == ["a"]


def test_listener_exception_is_isolated_and_routed() -> None:
    ctrl = AbortController()
    seen: list[str] = []
    errors: list[Exception] = []
    boom = RuntimeError("boom")

    def bad(s: AbortSignal) -> None:
        raise boom

    ctrl.signal.add_listener(lambda s: seen.append("a"))
    ctrl.signal.add_listener(bad)
    ctrl.signal.add_listener(lambda s: seen.append("c"))
    ctrl.signal.on_listener_error = errors.append
    ctrl.abort()  # does not raise
    assert seen == ["a", "c"]
    assert errors == [boom]


def test_listener_exception_ignored_without_handler_and_handler_errors_swallowed() -> None:
    ctrl = AbortController()
    seen: list[str] = []

    def bad(s: AbortSignal) -> None:
        raise ValueError("x")

    ctrl.signal.add_listener(bad)
    ctrl.signal.add_listener(lambda s: seen.append("after"))
    ctrl.abort()
    assert seen == ["after"]

    ctrl2 = AbortController()

    def bad_handler(err: Exception) -> None:
        raise RuntimeError("handler")

    ctrl2.signal.on_listener_error = bad_handler
    ctrl2.signal.add_listener(bad)
    ctrl2.signal.add_listener(lambda s: seen.append("after2"))
    ctrl2.abort()
    assert seen == ["after", "after2"]


def test_coroutine_listener_is_closed_and_reported() -> None:
    ctrl = AbortController()
    errors: list[Exception] = []
    seen: list[str] = []

    async def async_listener(s: AbortSignal) -> None:
        seen.append("never runs")

    ctrl.signal.on_listener_error = errors.append
    ctrl.signal.add_listener(async_listener)
    ctrl.signal.add_listener(lambda s: seen.append("sync"))
    ctrl.abort()  # no "coroutine was never awaited" warning (warnings are errors here)
    gc.collect()
    assert seen == ["sync"]
    assert len(errors) == 1 and isinstance(errors[0], TypeError)


def test_listeners_released_after_abort() -> None:
    class Big:
        def __call__(self, s: AbortSignal) -> None:
            pass

    ctrl = AbortController()
    big = Big()
    ref = weakref.ref(big)
    ctrl.signal.add_listener(big)
    del big
    ctrl.abort()
    gc.collect()
    assert ref() is None


def test_link_propagates_one_way() -> None:
    parent = AbortController()
    child = AbortController()
    link(parent.signal, child)
    child.abort("child-only")
    assert child.signal.aborted
    assert not parent.signal.aborted

    parent2 = AbortController()
    child2 = AbortController()
    link(parent2.signal, child2)
    parent2.abort("p")
    assert child2.signal.aborted
    assert child2.signal.reason == "p"


def test_link_reason_is_the_parents_default_abort_error() -> None:
    parent = AbortController()
    child = AbortController()
    link(parent.signal, child)
    parent.abort()
    assert child.signal.reason is parent.signal.reason
    assert isinstance(child.signal.reason, AbortError)


def test_link_already_aborted_parent_aborts_child_now() -> None:
    parent = AbortController()
    parent.abort("early")
    child = AbortController()
    dispose = link(parent.signal, child)
    assert child.signal.aborted
    assert child.signal.reason == "early"
    dispose()  # harmless


def test_link_dispose_stops_propagation() -> None:
    parent = AbortController()
    child = AbortController()
    dispose = link(parent.signal, child)
    dispose()
    dispose()  # idempotent
    parent.abort()
    assert not child.signal.aborted


def test_link_chain() -> None:
    a, b, c = AbortController(), AbortController(), AbortController()
    link(a.signal, b)
    link(b.signal, c)
    a.abort("root")
    assert c.signal.reason == "root"


# --- cancel_on_abort ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancel_on_abort_from_another_task_cancels_promptly() -> None:
    ctrl = AbortController()
    reached_after_sleep = False
    caught: list[bool] = []
    t0 = anyio.current_time()

    async def worker(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        nonlocal reached_after_sleep
        with cancel_on_abort(ctrl.signal) as scope:
            task_status.started()
            await anyio.sleep(10)
            reached_after_sleep = True
        caught.append(scope.cancelled_caught)

    async with anyio.create_task_group() as tg:
        await tg.start(worker)
        ctrl.abort()
        # One scheduler pass is enough for the worker to observe the cancellation.
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        assert caught == [True]
    assert not reached_after_sleep
    assert anyio.current_time() - t0 < 5


@pytest.mark.anyio
async def test_cancel_on_abort_within_one_tick() -> None:
    ctrl = AbortController()
    order: list[str] = []

    async def worker() -> None:
        with cancel_on_abort(ctrl.signal) as scope:
            await anyio.sleep(10)
        order.append(f"worker-done:{scope.cancelled_caught}")

    async def aborter() -> None:
        await anyio.wait_all_tasks_blocked()
        ctrl.abort()
        order.append("aborted")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            tg.start_soon(aborter)
    assert order == ["aborted", "worker-done:True"]


@pytest.mark.anyio
async def test_cancel_on_abort_already_aborted_cancels_at_first_checkpoint() -> None:
    ctrl = AbortController()
    ctrl.abort()
    steps: list[str] = []
    with anyio.fail_after(5), cancel_on_abort(ctrl.signal) as scope:
        steps.append("entered")  # code before the first checkpoint still runs
        await anyio.sleep(10)
        steps.append("after")
    assert steps == ["entered"]
    assert scope.cancelled_caught
    assert ctrl.signal._listeners == {}  # pyright: ignore[reportPrivateUsage]


@pytest.mark.anyio
async def test_cancel_on_abort_without_abort_does_not_cancel_and_cleans_up() -> None:
    ctrl = AbortController()
    with cancel_on_abort(ctrl.signal) as scope:
        assert len(ctrl.signal._listeners) == 1  # pyright: ignore[reportPrivateUsage]
        await anyio.sleep(0)
        await anyio.lowlevel.checkpoint()
    assert not scope.cancelled_caught
    assert not scope.cancel_called
    assert len(ctrl.signal._listeners) == 0  # pyright: ignore[reportPrivateUsage]
    # Aborting afterwards is harmless and cancels nothing.
    ctrl.abort()
    await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_cancel_on_abort_listener_removed_after_exception() -> None:
    ctrl = AbortController()
    with pytest.raises(ValueError), cancel_on_abort(ctrl.signal):
        raise ValueError("x")
    assert len(ctrl.signal._listeners) == 0  # pyright: ignore[reportPrivateUsage]


@pytest.mark.anyio
async def test_cancel_on_abort_none_signal_is_a_bare_scope() -> None:
    with cancel_on_abort(None) as scope:
        await anyio.lowlevel.checkpoint()
    assert isinstance(scope, anyio.CancelScope)
    assert not scope.cancelled_caught


@pytest.mark.anyio
async def test_cancel_on_abort_abort_inside_body_same_task() -> None:
    ctrl = AbortController()
    after: list[str] = []
    with cancel_on_abort(ctrl.signal) as scope:
        ctrl.abort()
        after.append("sync code still runs")
        await anyio.lowlevel.checkpoint()
        after.append("unreachable")
    assert after == ["sync code still runs"]
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_cancel_on_abort_abort_without_checkpoint_leaves_cancelled_caught_false() -> None:
    ctrl = AbortController()
    with cancel_on_abort(ctrl.signal) as scope:
        ctrl.abort()
    assert scope.cancel_called
    assert not scope.cancelled_caught
    # The pending cancellation does not leak out of the scope.
    await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_cancel_on_abort_nested_scopes_and_outer_cancellation() -> None:
    outer = AbortController()
    inner = AbortController()
    result: list[str] = []
    with cancel_on_abort(outer.signal) as outer_scope:
        with cancel_on_abort(inner.signal) as inner_scope:
            inner.abort()
            await anyio.sleep(10)
        result.append(f"inner:{inner_scope.cancelled_caught}")
        await anyio.lowlevel.checkpoint()  # outer still alive
        result.append("outer alive")
    assert result == ["inner:True", "outer alive"]
    assert not outer_scope.cancelled_caught

    # An unrelated outer cancellation propagates through and is not "caught" by us.
    mine_scope: anyio.CancelScope | None = None
    with anyio.CancelScope() as host:
        with cancel_on_abort(outer.signal) as mine_scope:
            host.cancel()
            await anyio.sleep(10)
    assert host.cancelled_caught
    assert mine_scope is not None
    assert not mine_scope.cancelled_caught


@pytest.mark.anyio
async def test_cancel_on_abort_many_concurrent_scopes_one_signal() -> None:
    ctrl = AbortController()
    cancelled: list[bool] = []

    async def worker() -> None:
        with cancel_on_abort(ctrl.signal) as scope:
            await anyio.sleep(10)
        cancelled.append(scope.cancelled_caught)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(worker)
            await anyio.wait_all_tasks_blocked()
            assert len(ctrl.signal._listeners) == 20  # pyright: ignore[reportPrivateUsage]
            ctrl.abort()
    assert cancelled == [True] * 20


def test_cancel_on_abort_is_the_class() -> None:
    assert cancel_on_abort is CancelOnAbort
