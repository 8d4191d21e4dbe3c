"""DispatchExecutorHelpers (RUNNERS.md §3.6, §3.7, §9.21, §10.16–§10.17; PORT.md §6, §9.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adk import DispatchRunner, GenerationStats, GenerationStatsEvent, tool_call_checksum
from adk.contracts.events import LogEvent, TurnStreamableContent, TurnToolCallContent
from adk.errors import (
    E_INVALID_GENERATION_STATS,
    E_LLM_EXECUTION_EXECUTOR_ERROR,
    E_STREAM_ALREADY_COMPLETE,
)
from tests.runners.doubles import Recorder, raw

pytestmark = pytest.mark.anyio


async def run_helpers(
    body: Callable[[Any, Any], Any], *, iterations: int = 1
) -> tuple[Recorder, BaseException | None]:
    """Run ``body(ctx, helpers)`` in each of ``iterations`` iterations, then ack."""
    rec = Recorder()

    async def executor(ctx: Any, helpers: Any) -> None:
        body(ctx, helpers)
        if ctx.iteration == iterations - 1:
            ctx.ack()

    err: BaseException | None = None
    try:
        await DispatchRunner.dispatch(
            raw=raw(), executor=executor, hooks=rec.hooks(), observers=rec.observers()
        )
    except Exception as exc:
        err = exc
    return rec, err


# --- report_message / report_thought ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "event"), [("report_message", "message"), ("report_thought", "thought")]
)
async def test_stream_full_is_concatenation_of_deltas(method: str, event: str) -> None:
    deltas = ["Hel", "", "lo ", "wörld", "!"]

    def body(ctx: Any, helpers: Any) -> None:
        for i, d in enumerate(deltas):
            getattr(helpers, method)("s1", d, is_complete=i == len(deltas) - 1)

    rec, err = await run_helpers(body)
    assert err is None
    chunks = rec.of(event)
    assert len(chunks) == len(deltas)
    for i, c in enumerate(chunks):
        assert isinstance(c, TurnStreamableContent)
        assert c.id == "s1"
        assert c.a_delta == deltas[i]
        assert c.full == "".join(deltas[: i + 1])
        assert c.created_at == chunks[0].created_at
        assert c.updated_at >= c.created_at
        assert c.created_at.tzinfo is not None
    assert [c.is_complete for c in chunks] == [False] * 4 + [True]
    assert [c.completed_at is None for c in chunks] == [True] * 4 + [False]
    assert chunks[-1].completed_at == chunks[-1].updated_at


@pytest.mark.parametrize(
    ("method", "event"), [("report_message", "message"), ("report_thought", "thought")]
)
async def test_stream_report_after_complete_raises_and_emits_nothing(
    method: str, event: str
) -> None:
    raised: list[BaseException] = []

    def body(ctx: Any, helpers: Any) -> None:
        getattr(helpers, method)("s1", "done", is_complete=True)
        try:
            getattr(helpers, method)("s1", "more")
        except E_STREAM_ALREADY_COMPLETE as exc:
            raised.append(exc)
        try:
            getattr(helpers, method)("s1", "", is_complete=True)
        except E_STREAM_ALREADY_COMPLETE as exc:
            raised.append(exc)

    rec, err = await run_helpers(body)
    assert err is None
    assert len(raised) == 2
    assert [c.full for c in rec.of(event)] == ["done"]


async def test_stream_after_complete_uncaught_becomes_executor_error() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_message("s1", "a", is_complete=True)
        helpers.report_message("s1", "b")

    _, err = await run_helpers(body)
    assert isinstance(err, E_LLM_EXECUTION_EXECUTOR_ERROR)
    assert isinstance(err.__cause__, E_STREAM_ALREADY_COMPLETE)


async def test_message_and_thought_streams_are_separate() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_message("x", "m", is_complete=True)
        helpers.report_thought("x", "t")
        helpers.report_thought("x", "t2", is_complete=True)

    rec, err = await run_helpers(body)
    assert err is None
    assert [c.full for c in rec.of("message")] == ["m"]
    assert [c.full for c in rec.of("thought")] == ["t", "tt2"]


async def test_streams_are_independent_per_id() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_message("a", "1")
        helpers.report_message("b", "2", is_complete=True)
        helpers.report_message("a", "3", is_complete=True)

    rec, _ = await run_helpers(body)
    assert [(c.id, c.full) for c in rec.of("message")] == [("a", "1"), ("b", "2"), ("a", "13")]


async def test_stream_state_survives_iterations() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_thought("t", str(ctx.iteration), is_complete=ctx.iteration == 2)

    rec, err = await run_helpers(body, iterations=3)
    assert err is None
    chunks = rec.of("thought")
    assert [c.full for c in chunks] == ["0", "01", "012"]
    assert len({c.created_at for c in chunks}) == 1


# --- report_tool_call ----------------------------------------------------------------------


async def test_report_tool_call_merges_fields_and_computes_checksum() -> None:
    args = {"b": [1, 2], "a": "x"}

    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("c1", tool="search")
        helpers.report_tool_call("c1", args=args)
        helpers.report_tool_call("c1", results="found")
        helpers.report_tool_call("c1", is_error=True, is_complete=True)

    rec, err = await run_helpers(body)
    assert err is None
    calls = rec.of("tool_call")
    assert all(isinstance(c, TurnToolCallContent) for c in calls)
    first, second, third, last = calls
    assert (first.tool, first.args, first.checksum, first.results) == ("search", None, "", None)
    assert first.is_complete is False and first.is_error is False
    assert first.completed_at is None
    expected = tool_call_checksum("search", args)
    assert second.args == args
    assert second.checksum == expected
    assert third.results == "found"
    assert third.checksum == expected
    assert last.is_error is True
    assert last.is_complete is True
    assert last.completed_at is not None
    assert last.results == "found"
    assert last.tool == "search"
    assert len({c.created_at for c in calls}) == 1
    assert all(c.id == "c1" for c in calls)


async def test_report_tool_call_checksum_is_stable_under_key_order() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("a", tool="t", args={"x": 1, "y": {"p": 1, "q": 2}})
        helpers.report_tool_call("b", tool="t", args={"y": {"q": 2, "p": 1}, "x": 1})

    rec, _ = await run_helpers(body)
    a, b = rec.of("tool_call")
    assert a.checksum == b.checksum != ""
    assert a.checksum == tool_call_checksum("t", {"x": 1, "y": {"p": 1, "q": 2}})


async def test_report_tool_call_args_before_tool() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("c", args={"q": "x"})
        helpers.report_tool_call("c", tool="search")

    rec, _ = await run_helpers(body)
    first, second = rec.of("tool_call")
    assert (first.tool, first.checksum, first.args) == ("", "", {"q": "x"})
    assert second.checksum == tool_call_checksum("search", {"q": "x"})


async def test_report_tool_call_checksum_recomputed_when_args_change() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("c", tool="t", args={"a": 1})
        helpers.report_tool_call("c", args={"a": 2})

    rec, _ = await run_helpers(body)
    first, second = rec.of("tool_call")
    assert second.checksum == tool_call_checksum("t", {"a": 2}) != first.checksum


@pytest.mark.parametrize("args", [None, [1, 2]])
async def test_report_tool_call_explicit_non_mapping_args_count_as_known(args: Any) -> None:
    """``args=None`` (or any non-mapping value) is a known value, unlike an omitted
    argument (RUNNERS.md §3.7: "use a sentinel so that args=None can still be set"): once
    tool and args are known the checksum is ``tool_call_checksum(tool, args)``."""

    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("c", tool="t", args=args)

    rec, err = await run_helpers(body)
    assert err is None
    call = rec.one("tool_call")
    assert call.args == args
    assert call.checksum == tool_call_checksum("t", args)


async def test_report_tool_call_empty_tool_name_is_known() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("c", tool="", args={})

    rec, _ = await run_helpers(body)
    assert rec.one("tool_call").checksum == tool_call_checksum("", {})


async def test_report_tool_call_after_complete_raises_and_emits_nothing() -> None:
    raised: list[BaseException] = []

    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("c", tool="t", args={}, is_complete=True)
        try:
            helpers.report_tool_call("c", results="late")
        except E_STREAM_ALREADY_COMPLETE as exc:
            raised.append(exc)

    rec, _ = await run_helpers(body)
    assert len(raised) == 1
    assert len(rec.of("tool_call")) == 1


async def test_report_tool_call_results_can_be_a_list() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("c", tool="t", args={}, results=["a", "b"], is_complete=True)

    rec, _ = await run_helpers(body)
    assert rec.one("tool_call").results == ["a", "b"]


# --- report_generation_stats ----------------------------------------------------------------


async def test_report_generation_stats_struct_is_enriched() -> None:
    stats = GenerationStats(prompt_tokens=10, completion_tokens=5, total_tokens=15, model="m")

    def body(ctx: Any, helpers: Any) -> None:
        if ctx.iteration == 1:
            helpers.report_generation_stats(stats)

    rec, err = await run_helpers(body, iterations=2)
    assert err is None
    ev = rec.one("generation_stats")
    assert isinstance(ev, GenerationStatsEvent)
    assert (ev.prompt_tokens, ev.completion_tokens, ev.total_tokens, ev.model) == (10, 5, 15, "m")
    assert ev.finish_reason is None
    assert ev.dispatch_id == rec.one("dispatch_start").dispatch_id
    assert ev.iteration == 1
    assert ev.emitted_at.tzinfo is not None


async def test_report_generation_stats_mapping() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_generation_stats(
            {"eval_duration_ns": 123_456_789_000, "finish_reason": "stop", "raw": {"x": 1}}
        )

    rec, err = await run_helpers(body)
    assert err is None
    ev = rec.one("generation_stats")
    assert ev.eval_duration_ns == 123_456_789_000, "nanoseconds, never normalised"
    assert ev.finish_reason == "stop"
    assert ev.raw == {"x": 1}
    assert ev.iteration == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"prompt_tokens": "ten"},
        {"bogus": 1},
        ["prompt_tokens", 1],
        None,
    ],
)
async def test_report_generation_stats_bad_input_raises_and_emits_nothing(bad: Any) -> None:
    raised: list[BaseException] = []

    def body(ctx: Any, helpers: Any) -> None:
        try:
            helpers.report_generation_stats(bad)
        except E_INVALID_GENERATION_STATS as exc:
            raised.append(exc)

    rec, err = await run_helpers(body)
    assert err is None
    assert len(raised) == 1
    assert rec.of("generation_stats") == []


@pytest.mark.parametrize("field", ["dispatch_id", "iteration", "emitted_at"])
async def test_report_generation_stats_mapping_with_enrichment_field_is_rejected(
    field: str,
) -> None:
    """The enrichment fields are not GenerationStats fields: a mapping naming one has an
    unknown key (PORT.md §9.4) and must not be silently dropped or overwritten."""
    raised: list[BaseException] = []
    value = {"dispatch_id": "spoofed", "iteration": 99, "emitted_at": "2020-01-01T00:00:00Z"}

    def body(ctx: Any, helpers: Any) -> None:
        try:
            helpers.report_generation_stats({"total_tokens": 1, field: value[field]})
        except E_INVALID_GENERATION_STATS as exc:
            raised.append(exc)

    rec, err = await run_helpers(body)
    assert err is None
    assert len(raised) == 1
    assert rec.of("generation_stats") == []


async def test_generation_stats_is_not_a_functional_hook() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.report_generation_stats({"total_tokens": 1})

    rec, _ = await run_helpers(body)
    assert rec.names.count("generation_stats") == 1


# --- log -------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["trace", "debug", "info", "warn", "error"])
async def test_log_levels_emit_log_events(level: str) -> None:
    def body(ctx: Any, helpers: Any) -> None:
        getattr(helpers.log, level)(kind="k", message="hello", payload={"n": ctx.iteration})

    rec, err = await run_helpers(body)
    assert err is None
    ev = rec.one("log")
    assert isinstance(ev, LogEvent)
    assert ev.level == level
    assert (ev.kind, ev.message, ev.payload) == ("k", "hello", {"n": 0})
    assert ev.dispatch_id == rec.one("dispatch_start").dispatch_id
    assert ev.emitted_at.tzinfo is not None
    assert rec.of("error") == [], "log.error is a log entry, not an error event"


async def test_log_carries_the_current_iteration_and_no_payload_is_none() -> None:
    def body(ctx: Any, helpers: Any) -> None:
        helpers.log.info(kind="iter", message=str(ctx.iteration))

    rec, _ = await run_helpers(body, iterations=3)
    logs = rec.of("log")
    assert [e.iteration for e in logs] == [0, 1, 2]
    assert all(e.payload is None for e in logs)


async def test_log_from_middleware_uses_the_current_iteration() -> None:
    rec = Recorder()
    box: dict[str, Any] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        box["helpers"] = helpers
        if ctx.iteration == 1:
            ctx.ack()

    async def out(ctx: Any, next: Any) -> None:
        box["helpers"].log.debug(kind="out", message="after")
        await next()

    await DispatchRunner.dispatch(
        raw=raw(), executor=executor, turn_output_pipeline=[out], observers=rec.observers()
    )
    assert [e.iteration for e in rec.of("log")] == [0]


async def test_log_never_raises_even_if_the_listener_does() -> None:
    rec = Recorder()

    def bad(_: Any) -> None:
        raise RuntimeError("listener")

    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.log.warn(kind="k", message="m")
        ctx.ack()

    observers = rec.observers("warning", "dispatch_end")
    observers["log"] = bad
    await DispatchRunner.dispatch(raw=raw(), executor=executor, observers=observers)
    assert rec.one("dispatch_end").status == "ack"
    assert rec.one("warning").kind == "listener-error"


async def test_reporting_persists_nothing() -> None:
    seen: list[int] = []

    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.report_message("m", "x", is_complete=True)
        helpers.report_tool_call("c", tool="t", args={}, is_complete=True)
        seen.append(len(ctx.turn_messages) + len(ctx.turn_tool_calls))
        seen.append(len(await ctx.fetch_messages()))
        ctx.ack()

    await DispatchRunner.dispatch(raw=raw(), executor=executor)
    assert seen == [0, 0]
