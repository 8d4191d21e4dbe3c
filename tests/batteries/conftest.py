from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import adk
from adk.testing import OpenAIStubServer, StubResponse

DATA = Path(__file__).parent / "data"

if importlib.util.find_spec("openai") is None:  # the `openai` extra is not installed
    collect_ignore = [
        "test_openai_stream.py",
        "test_openai_errors.py",
        "test_openai_render.py",
        "test_schemas.py",
    ]


def recording(name: str, **kw: Any) -> StubResponse:
    return StubResponse.from_file(DATA / f"{name}.sse", **kw)


@pytest.fixture
def stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        yield server


@dataclass
class TurnOutcome:
    result: adk.TurnResult
    store: adk.InMemoryStore
    messages: list[adk.TurnStreamableContent] = field(default_factory=list)
    thoughts: list[adk.TurnStreamableContent] = field(default_factory=list)
    tool_calls: list[adk.TurnToolCallContent] = field(default_factory=list)
    stats: list[adk.GenerationStatsEvent] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    logs: list[adk.LogEvent] = field(default_factory=list)
    dispatch_ends: list[Any] = field(default_factory=list)

    def stored(self, kind: str) -> list[Any]:
        conv = self.store._conv(None)  # default conversation
        return list(getattr(conv, kind))


def user_message(text: str, *, at: datetime | None = None, mid: str = "user-1") -> adk.Message:
    now = at or datetime.now(UTC) - timedelta(seconds=5)
    return adk.Message(id=mid, role="user", content=text, created_at=now, updated_at=now)


async def run_turn(
    executor: Any,
    *,
    question: str = "What is the weather in Paris?",
    tools: Sequence[adk.Tool] = (),
    system_prompt: str = "You are a weather assistant.",
    seed: Sequence[Any] = (),
    dispatch_input_pipeline: Sequence[Any] = (),
) -> TurnOutcome:
    store = adk.InMemoryStore()

    async def seed_history(ctx: adk.TurnContext, next: Any) -> None:
        records = [*seed, user_message(question)] if question else list(seed)
        for r in records:
            if isinstance(r, adk.Message):
                await ctx.store_message(r)
                ctx.turn_messages.add(r)
            elif isinstance(r, adk.Thought):
                await ctx.store_thought(r)
                ctx.turn_thoughts.add(r)
            elif isinstance(r, adk.ToolCall):
                await ctx.store_tool_call(r)
                ctx.turn_tool_calls.add(r)
            elif isinstance(r, adk.Memory):
                ctx.turn_memories.add(r)
            elif isinstance(r, adk.Retrievable):
                ctx.turn_retrievables.add(r)
        await next()

    runner = adk.TurnRunner(
        executor=executor,
        store=store,
        tools=list(tools),
        turn_input_pipeline=[seed_history],
        dispatch_input_pipeline=list(dispatch_input_pipeline),
    )
    outcome_parts: dict[str, list[Any]] = {
        k: [] for k in ("messages", "thoughts", "tool_calls", "stats", "errors", "logs", "ends")
    }
    runner.on("message", outcome_parts["messages"].append)
    runner.on("thought", outcome_parts["thoughts"].append)
    runner.on("tool_call", outcome_parts["tool_calls"].append)
    runner.observe("generation_stats", outcome_parts["stats"].append)
    runner.observe("error", outcome_parts["errors"].append)
    runner.observe("log", outcome_parts["logs"].append)
    runner.observe("dispatch_end", outcome_parts["ends"].append)
    result = await runner.run(system_prompt=system_prompt)
    return TurnOutcome(
        result=result,
        store=store,
        messages=outcome_parts["messages"],
        thoughts=outcome_parts["thoughts"],
        tool_calls=outcome_parts["tool_calls"],
        stats=outcome_parts["stats"],
        errors=outcome_parts["errors"],
        logs=outcome_parts["logs"],
        dispatch_ends=outcome_parts["ends"],
    )
