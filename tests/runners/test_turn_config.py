"""TurnRunner construction (RUNNERS.md §2.1, PORT.md §6, §9.1, §9.16) and callback wiring (§2.7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import adk
from adk.contracts.store import STORE_METHODS
from adk.errors import E_INVALID_TURN_RUNNER_CONFIG

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _ack(ctx: Any, helpers: Any) -> None:
    ctx.ack()


async def _noop_mw(ctx: Any, next: Any) -> None:
    await next()


def _tool(name: str) -> adk.Tool:
    return adk.Tool(
        name=name,
        description=f"The {name} tool.",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        handler=lambda args, ctx, meta: "ok",
    )


def _msg(id: str, text: str = "hi") -> adk.Message:
    return adk.Message(id=id, role="assistant", content=text, created_at=NOW, updated_at=NOW)


def _fields(exc: pytest.ExceptionInfo[E_INVALID_TURN_RUNNER_CONFIG]) -> set[str]:
    return set(exc.value.fields)


# -- bad / missing / unknown arguments -------------------------------------------------------


def test_missing_executor_raises_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner()  # type: ignore[call-arg]
    assert "executor" in _fields(exc)
    assert exc.value.code == "E_INVALID_TURN_RUNNER_CONFIG"
    assert exc.value.status == 529
    assert exc.value.fatal is True
    assert "executor" in str(exc.value)


def test_non_callable_executor_raises_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor="not a function")  # type: ignore[arg-type]
    assert _fields(exc) == {"executor"}


def test_unknown_callback_keyword_raises_E_INVALID_TURN_RUNNER_CONFIG_PORT_9_16() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, fetch_everything_callback=lambda ctx: [])
    assert _fields(exc) == {"fetch_everything_callback"}
    assert "fetch_everything_callback" in str(exc.value)


def test_unknown_plain_keyword_raises_E_INVALID_TURN_RUNNER_CONFIG_PORT_9_1() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, executor_callback=_ack)
    assert _fields(exc) == {"executor_callback"}


def test_non_callable_callback_raises_E_INVALID_TURN_RUNNER_CONFIG_PORT_9_16() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, fetch_messages_callback=[])
    assert _fields(exc) == {"fetch_messages_callback"}


def test_callback_arity_is_not_checked_PORT_9_16() -> None:
    # A zero-argument lambda is rejected by the ADK; we only require callability.
    runner = adk.TurnRunner(executor=_ack, fetch_messages_callback=lambda: [])
    assert adk.TurnRunner.is_turn_runner(runner)


def test_non_tool_in_tools_raises_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, tools=[_tool("a"), {"name": "b"}])  # type: ignore[list-item]
    assert _fields(exc) == {"tools[1]"}


def test_tools_not_a_list_raises_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, tools=_tool("a"))  # type: ignore[arg-type]
    assert _fields(exc) == {"tools"}


def test_duplicate_tool_names_raise_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, tools=[_tool("same"), _tool("same")])
    assert "tools" in _fields(exc)
    assert "same" in str(exc.value)


@pytest.mark.parametrize(
    "pipeline",
    [
        "turn_input_pipeline",
        "turn_output_pipeline",
        "dispatch_input_pipeline",
        "dispatch_output_pipeline",
    ],
)
def test_non_callable_middleware_raises_E_INVALID_TURN_RUNNER_CONFIG(pipeline: str) -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, **{pipeline: [_noop_mw, 42]})
    assert _fields(exc) == {f"{pipeline}[1]"}


def test_pipeline_not_a_list_raises_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, turn_input_pipeline=_noop_mw)  # type: ignore[arg-type]
    assert _fields(exc) == {"turn_input_pipeline"}


class _PartialStore:
    """Has only two of the 27 ContextStore methods."""

    def fetch_messages(self, ctx: Any) -> list[Any]:
        return []

    def store_message(self, ctx: Any, value: Any) -> None:
        pass

    fetch_memories = "not callable"


def test_store_missing_methods_raises_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(executor=_ack, store=_PartialStore())
    missing = {f"store.{name}" for name in STORE_METHODS} - {
        "store.fetch_messages",
        "store.store_message",
    }
    assert _fields(exc) == missing
    assert "store.fetch_memories" in _fields(exc)  # present but not callable


def test_store_gaps_filled_by_explicit_callbacks_is_valid() -> None:
    explicit = {
        f"{name}_callback": (lambda *a: None)
        for name in STORE_METHODS
        if name not in ("fetch_messages", "store_message")
    }
    explicit["fetch_memories_callback"] = lambda ctx: []
    runner = adk.TurnRunner(executor=_ack, store=_PartialStore(), **explicit)
    assert isinstance(runner, adk.TurnRunner)


def test_every_bad_field_is_named_at_once_E_INVALID_TURN_RUNNER_CONFIG() -> None:
    with pytest.raises(E_INVALID_TURN_RUNNER_CONFIG) as exc:
        adk.TurnRunner(
            executor=None,  # type: ignore[arg-type]
            tools=[1],  # type: ignore[list-item]
            turn_output_pipeline=[None],  # type: ignore[list-item]
            bogus_callback=len,
            store_message_callback=3,
        )
    assert _fields(exc) == {
        "executor",
        "tools[0]",
        "turn_output_pipeline[0]",
        "bogus_callback",
        "store_message_callback",
    }
    for field in _fields(exc):
        assert field in str(exc.value)


def test_valid_minimal_config_and_is_turn_runner() -> None:
    runner = adk.TurnRunner(executor=_ack)
    assert adk.TurnRunner.is_turn_runner(runner)
    assert not adk.TurnRunner.is_turn_runner(object())


def test_sync_executor_and_sync_middleware_are_accepted_PORT_3() -> None:
    def ex(ctx: Any, helpers: Any) -> None:
        ctx.ack()

    def mw(ctx: Any, next: Any) -> Any:
        return next()

    adk.TurnRunner(executor=ex, turn_input_pipeline=[mw], dispatch_input_pipeline=[mw])


# -- callbacks override the store and receive the TurnContext (RUNNERS.md §2.7) --------------


class _RecordingStore(adk.InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def store_message(self, ctx: Any, value: Any) -> None:
        self.calls.append(("store_message", ctx))
        super().store_message(ctx, value)

    def fetch_messages(self, ctx: Any) -> list[Any]:
        self.calls.append(("fetch_messages", ctx))
        return super().fetch_messages(ctx)


@pytest.mark.anyio
async def test_callbacks_override_store_and_receive_turn_context_RUNNERS_2_7() -> None:
    store = _RecordingStore()
    calls: list[tuple[str, Any, Any]] = []
    seen_ctx: list[Any] = []

    async def store_message_cb(ctx: Any, value: Any) -> None:  # async callback
        calls.append(("store_message", ctx, value))

    def fetch_messages_cb(ctx: Any) -> list[Any]:  # sync callback
        calls.append(("fetch_messages", ctx, None))
        return [_msg("history")]

    async def turn_mw(ctx: Any, next: Any) -> None:
        seen_ctx.append(ctx)
        history = await ctx.fetch_messages()
        assert [m.id for m in history] == ["history"]
        await ctx.store_message(_msg("from-turn"))
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        assert adk.DispatchContext.is_dispatch_context(ctx)
        await ctx.fetch_messages()
        await ctx.store_message(_msg("from-executor"))
        ctx.ack()

    runner = adk.TurnRunner(
        executor=executor,
        store=store,
        store_message_callback=store_message_cb,
        fetch_messages_callback=fetch_messages_cb,
        turn_input_pipeline=[turn_mw],
    )
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed"
    (turn_ctx,) = seen_ctx
    assert isinstance(turn_ctx, adk.TurnContext)
    assert [(name, getattr(v, "id", None)) for name, _, v in calls] == [
        ("fetch_messages", None),
        ("store_message", "from-turn"),
        ("fetch_messages", None),
        ("store_message", "from-executor"),
    ]
    # Every callback got the TurnContext itself, also for the executor's reads and writes.
    assert all(ctx is turn_ctx for _, ctx, _ in calls)
    # The store's own methods were overridden, not called.
    assert store.calls == []


@pytest.mark.anyio
async def test_store_methods_receive_turn_context_for_executor_writes_RUNNERS_2_7() -> None:
    store = _RecordingStore()
    seen_ctx: list[Any] = []

    async def turn_mw(ctx: Any, next: Any) -> None:
        seen_ctx.append(ctx)
        await next()

    async def executor(ctx: Any, helpers: Any) -> None:
        await ctx.store_message(_msg("m1"))
        ctx.ack()

    runner = adk.TurnRunner(executor=executor, store=store, turn_input_pipeline=[turn_mw])
    result = await runner.run(system_prompt="sys")
    assert result.status == "completed"
    assert store.calls == [("store_message", seen_ctx[0])]
    assert [m.id for m in store.fetch_messages(seen_ctx[0])] == ["m1"]


@pytest.mark.anyio
async def test_default_store_is_in_memory_store_per_runner() -> None:
    seen: list[list[str]] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        seen.append([m.id for m in await ctx.fetch_messages()])
        await ctx.store_message(_msg(f"m{len(seen)}"))
        ctx.ack()

    runner = adk.TurnRunner(executor=executor)
    await runner.run(system_prompt="sys")
    await runner.run(system_prompt="sys")
    # The second turn of the same (default) conversation sees the first turn's record.
    assert seen == [[], ["m1"]]
    other = adk.TurnRunner(executor=executor)
    await other.run(system_prompt="sys")
    assert seen[-1] == []


def test_unknown_event_name_is_rejected() -> None:
    runner = adk.TurnRunner(executor=_ack)
    with pytest.raises(adk.AdkError):
        runner.observe("turn_started", lambda e: None)
    with pytest.raises(adk.AdkError):
        runner.on("turn_start", lambda e: None)  # observability event on the functional bus
