"""Dispatch input validation (RUNNERS.md §3.1, §8; PORT.md §6, §9.1).

Every rejection happens before ``dispatch_start``: no observer, hook or executor runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from adk import AbortController, DispatchRunner, InMemoryStore
from adk.errors import (
    E_INVALID_LLM_DISPATCH_INPUT,
    E_INVALID_LLM_EXECUTION_CONTEXT,
    AdkError,
)
from tests.runners.doubles import FakeTurn, Recorder, msg, raw

pytestmark = pytest.mark.anyio


async def _ack(ctx: Any, helpers: Any) -> None:
    ctx.ack()


class Spy:
    """An executor / middleware that records whether it ever ran."""

    def __init__(self) -> None:
        self.calls = 0

    async def executor(self, ctx: Any, helpers: Any) -> None:
        self.calls += 1
        ctx.ack()

    async def middleware(self, ctx: Any, next: Any) -> None:
        self.calls += 1
        await next()


async def _reject(expected: type[AdkError], **kwargs: Any) -> tuple[AdkError, Recorder]:
    rec = Recorder()
    kwargs.setdefault("observers", rec.observers())
    with pytest.raises(expected) as info:
        await DispatchRunner.dispatch(**kwargs)
    assert rec.events == [], "no event may fire before validation passes"
    return info.value, rec


async def test_neither_source_nor_raw_is_invalid_dispatch_input() -> None:
    err, _ = await _reject(E_INVALID_LLM_DISPATCH_INPUT, executor=_ack)
    assert err.code == "E_INVALID_LLM_DISPATCH_INPUT"
    assert err.status == 529
    assert err.fatal is True
    assert err.__cause__ is None


async def test_both_source_and_raw_is_invalid_dispatch_input() -> None:
    spy = Spy()
    await _reject(E_INVALID_LLM_DISPATCH_INPUT, source=FakeTurn(), raw=raw(), executor=spy.executor)
    assert spy.calls == 0


async def test_missing_executor_is_named_in_fields() -> None:
    err, _ = await _reject(E_INVALID_LLM_DISPATCH_INPUT, raw=raw())
    assert "executor" in err.fields


async def test_non_callable_executor_is_named_in_fields() -> None:
    err, _ = await _reject(E_INVALID_LLM_DISPATCH_INPUT, raw=raw(), executor="not callable")
    assert "executor" in err.fields


async def test_non_callable_middleware_is_named_with_its_index() -> None:
    spy = Spy()
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT,
        raw=raw(),
        executor=spy.executor,
        turn_input_pipeline=[spy.middleware, 42],
        turn_output_pipeline=[None],
    )
    assert "turn_input_pipeline[1]" in err.fields
    assert "turn_output_pipeline[0]" in err.fields
    assert "turn_input_pipeline[0]" not in err.fields
    assert spy.calls == 0


async def test_pipeline_that_is_not_a_list_is_rejected() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT, raw=raw(), executor=_ack, turn_output_pipeline=42
    )
    assert "turn_output_pipeline" in err.fields


async def test_unknown_hook_name_is_named_in_fields() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT, raw=raw(), executor=_ack, hooks={"bogus": print}
    )
    assert "hooks.bogus" in err.fields


async def test_observer_name_is_not_a_functional_hook() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT, raw=raw(), executor=_ack, hooks={"dispatch_end": print}
    )
    assert "hooks.dispatch_end" in err.fields


async def test_unknown_observer_name_is_named_in_fields() -> None:
    rec = Recorder()
    observers = {**rec.observers(), "bogus": print, "message": print}
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT, raw=raw(), executor=_ack, observers=observers
    )
    assert "observers.bogus" in err.fields
    assert "observers.message" in err.fields
    assert rec.events == []


async def test_non_callable_listener_is_rejected() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT,
        raw=raw(),
        executor=_ack,
        hooks={"message": [print, "nope"]},
    )
    assert "hooks.message" in err.fields


async def test_unknown_dispatch_keyword_is_named_in_fields() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT, raw=raw(), executor=_ack, dispatch_input_pipeline=[]
    )
    assert "dispatch_input_pipeline" in err.fields


async def test_every_bad_argument_is_reported_at_once() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_DISPATCH_INPUT,
        raw=raw(),
        executor=None,
        turn_input_pipeline=[1],
        hooks={"bogus": print},
        whatever=1,
    )
    assert {"executor", "turn_input_pipeline[0]", "hooks.bogus", "whatever"} <= set(err.fields)
    for field in ("executor", "turn_input_pipeline[0]", "hooks.bogus", "whatever"):
        assert field in str(err)


async def test_source_that_is_not_a_turn_context_is_rejected() -> None:
    err, _ = await _reject(E_INVALID_LLM_DISPATCH_INPUT, source=object(), executor=_ack)
    assert "source" in err.fields


# --- raw (E_INVALID_LLM_EXECUTION_CONTEXT) ---------------------------------------------


async def test_raw_without_system_prompt_is_invalid_execution_context() -> None:
    spy = Spy()
    err, _ = await _reject(E_INVALID_LLM_EXECUTION_CONTEXT, raw={}, executor=spy.executor)
    assert "system_prompt" in err.fields
    assert err.status == 529
    assert err.fatal is True
    assert spy.calls == 0


async def test_raw_that_is_not_a_mapping_is_invalid_execution_context() -> None:
    err, _ = await _reject(E_INVALID_LLM_EXECUTION_CONTEXT, raw=["system_prompt"], executor=_ack)
    assert "raw" in err.fields


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("system_prompt", 42, "system_prompt"),
        ("messages", ["not a message"], "messages[0]"),
        ("messages", "not a list", "messages"),
        ("memories", [msg("m1")], "memories[0]"),
        ("tool_calls", [object()], "tool_calls[0]"),
        ("tools", [object()], "tools[0]"),
        ("standing_instructions", [3], "standing_instructions[0]"),
        ("stash", ["x"], "stash"),
        ("turn_abort_controller", object(), "turn_abort_controller"),
        ("wait_for", 42, "wait_for"),
        ("store_message", "nope", "store_message"),
        ("fetch_messages", 1, "fetch_messages"),
        ("bogus", 1, "bogus"),
    ],
)
async def test_bad_raw_field_is_named_in_fields(field: str, value: Any, path: str) -> None:
    spy = Spy()
    err, _ = await _reject(
        E_INVALID_LLM_EXECUTION_CONTEXT, raw=raw(**{field: value}), executor=spy.executor
    )
    assert path in err.fields
    assert spy.calls == 0


async def test_every_bad_raw_field_is_reported_at_once() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_EXECUTION_CONTEXT,
        raw={"messages": [1], "stash": 3, "bogus": 1},
        executor=_ack,
    )
    assert {"system_prompt", "messages[0]", "stash", "bogus"} <= set(err.fields)


async def test_unknown_raw_hook_name_is_invalid_execution_context() -> None:
    err, _ = await _reject(
        E_INVALID_LLM_EXECUTION_CONTEXT, raw=raw(hooks={"stored_bogus": print}), executor=_ack
    )
    assert "hooks.stored_bogus" in err.fields


async def test_store_that_is_not_a_context_store_is_invalid_execution_context() -> None:
    err, _ = await _reject(E_INVALID_LLM_EXECUTION_CONTEXT, raw=raw(store=object()), executor=_ack)
    assert any(f.startswith("store.") for f in err.fields)


async def test_partial_store_is_accepted_when_explicit_callbacks_fill_the_gaps() -> None:
    class Partial:
        pass

    full = InMemoryStore()
    from adk.contracts.store import STORE_METHODS

    callbacks = {name: getattr(full, name) for name in STORE_METHODS}
    await DispatchRunner.dispatch(raw=raw(store=Partial(), **callbacks), executor=_ack)


async def test_raw_with_none_for_optional_fields_is_valid() -> None:
    await DispatchRunner.dispatch(
        raw=raw(stash=None, wait_for=None, turn_abort_controller=AbortController()),
        executor=_ack,
    )


async def test_direct_construction_raises_invalid_dispatch_input() -> None:
    with pytest.raises(E_INVALID_LLM_DISPATCH_INPUT):
        DispatchRunner()  # type: ignore[call-arg]


async def test_direct_construction_with_arguments_raises_invalid_dispatch_input() -> None:
    with pytest.raises(E_INVALID_LLM_DISPATCH_INPUT):
        DispatchRunner(object(), None, _ack, [], [], None, None)  # type: ignore[arg-type]


async def test_is_dispatch_runner_guard() -> None:
    assert DispatchRunner.is_dispatch_runner(object()) is False


async def test_sync_executor_and_sync_listeners_are_accepted() -> None:
    rec = Recorder()

    def executor(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(), executor=executor, observers=rec.observers())
    assert rec.one("dispatch_end").status == "ack"


async def test_listener_lists_and_tuples_are_accepted() -> None:
    a, b = Recorder(), Recorder()
    await DispatchRunner.dispatch(
        raw=raw(),
        executor=_ack,
        observers={"dispatch_end": [a._rec("dispatch_end"), b._rec("dispatch_end")]},
        hooks={"message": ()},
    )
    assert a.one("dispatch_end").status == "ack"
    assert b.one("dispatch_end").status == "ack"
