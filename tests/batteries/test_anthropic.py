"""AnthropicMessagesExecutor against the stub server replaying Messages API streams.

The streams are hand-written in the exact Messages API SSE format (``event:`` + ``data:``
lines; no local model speaks it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from typing import Any

import pytest

pytest.importorskip("anthropic")

import pydantic
from anthropic.types.message_create_params import MessageCreateParamsStreaming

import adk
from adk.batteries.anthropic import (
    THINKING_REPLAY,
    AnthropicMessagesExecutor,
    RetryPolicy,
)
from adk.errors import (
    E_PROVIDER_AUTHENTICATION,
    E_PROVIDER_CONTEXT_OVERFLOW,
    E_PROVIDER_MALFORMED_STREAM,
    E_PROVIDER_SERVER_ERROR,
    ProviderErrorInfo,
)
from adk.testing import OpenAIStubServer, StubResponse

from .conftest import TurnOutcome, run_turn

pytestmark = pytest.mark.anyio

SECRET = "sk-ant-secret-0123456789"


def sse(*events: dict[str, Any]) -> StubResponse:
    body = "".join(
        f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events
    )
    return StubResponse.sse(body)


def start(input_tokens: int = 20) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        },
    }


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, d: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str, output_tokens: int = 12) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


THINK_AND_ANSWER = [
    start(),
    {"type": "ping"},
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    delta(0, {"type": "thinking_delta", "thinking": "The user "}),
    delta(0, {"type": "thinking_delta", "thinking": "greets me."}),
    delta(0, {"type": "signature_delta", "signature": "sig-abc"}),
    stop(0),
    block_start(1, {"type": "text", "text": ""}),
    delta(1, {"type": "text_delta", "text": "Hello"}),
    delta(1, {"type": "text_delta", "text": " there!"}),
    stop(1),
    *end("end_turn"),
]


def tool_use_stream() -> list[dict[str, Any]]:
    return [
        start(50),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Need weather."}),
        delta(0, {"type": "signature_delta", "signature": "sig-1"}),
        stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
        delta(1, {"type": "input_json_delta", "partial_json": '{"city": '}),
        delta(1, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}),
        delta(2, {"type": "input_json_delta", "partial_json": '{"city": "Tokyo"}'}),
        stop(2),
        *end("tool_use", 30),
    ]


ANSWER = [
    start(80),
    block_start(0, {"type": "text", "text": ""}),
    delta(0, {"type": "text_delta", "text": "Sunny in both."}),
    stop(0),
    *end("end_turn", 5),
]


@adk.tool
def get_weather(city: str) -> str:
    """Get the weather.

    Args:
        city: The city.
    """
    return f"{city}: sunny"


def make(stub: OpenAIStubServer, **kw: Any) -> AnthropicMessagesExecutor:
    kw.setdefault("retry", RetryPolicy(max_attempts=1))
    return AnthropicMessagesExecutor(
        model="claude-test", base_url=stub.base_url.removesuffix("/v1"), api_key=SECRET, **kw
    )


async def run(stub: OpenAIStubServer, **kw: Any) -> TurnOutcome:
    tools = kw.pop("tools", [])
    async with make(stub, **kw) as ex:
        return await run_turn(ex, tools=tools)


async def test_thinking_and_text_stream(stub: OpenAIStubServer) -> None:
    stub.enqueue(sse(*THINK_AND_ANSWER))
    out = await run(stub)
    assert out.result.status == "completed", out.errors
    assert "".join(m.a_delta for m in out.messages) == "Hello there!"
    assert "".join(t.a_delta for t in out.thoughts) == "The user greets me."
    (thought,) = out.stored("thoughts")
    assert thought.replay_compatibility == THINKING_REPLAY
    assert thought.payload == {
        "variant": "thinking",
        "thinking": "The user greets me.",
        "signature": "sig-abc",
    }
    answer = [m for m in out.stored("messages") if m.role == "assistant"]
    assert str(answer[0].content) == "Hello there!"
    (stats,) = out.stats
    assert (stats.prompt_tokens, stats.completion_tokens, stats.total_tokens) == (20, 12, 32)
    assert stats.finish_reason == "end_turn" and stats.model == "claude-test"
    (req,) = stub.requests
    assert req.path == "/v1/messages"
    assert SECRET in (req.headers.get("x-api-key", "") + req.headers.get("authorization", ""))
    assert req.body["system"] == "You are a weather assistant."
    assert req.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}]}
    ]
    assert req.body["max_tokens"] == 4096 and req.body["stream"] is True
    assert "tools" not in req.body


async def test_tool_use_round_trip_replays_thinking_and_pairs_results(
    stub: OpenAIStubServer,
) -> None:
    stub.enqueue(sse(*tool_use_stream()), sse(*ANSWER))
    out = await run(stub, tools=[get_weather])
    assert out.result.status == "completed", out.errors
    calls = out.stored("tool_calls")
    assert [(c.id, dict(c.args), str(c.results)) for c in calls] == [
        ("toolu_1", {"city": "Paris"}, "Paris: sunny"),
        ("toolu_2", {"city": "Tokyo"}, "Tokyo: sunny"),
    ]
    partial = [c.args for c in out.tool_calls if c.id == "toolu_1" and isinstance(c.args, str)]
    assert partial == ["", '{"city": ', '{"city": "Paris"}']
    second = stub.requests[1].body
    pydantic.TypeAdapter(MessageCreateParamsStreaming).validate_python(second)
    assert set(second) <= set(typing.get_type_hints(MessageCreateParamsStreaming))
    user, assistant, results = second["messages"]
    assert user["role"] == "user"
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "Need weather.",
        "signature": "sig-1",
    }
    assert [b["type"] for b in assistant["content"]] == ["thinking", "tool_use", "tool_use"]
    assert assistant["content"][1] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert results["role"] == "user"
    assert [(b["type"], b["tool_use_id"], b["is_error"]) for b in results["content"]] == [
        ("tool_result", "toolu_1", False),
        ("tool_result", "toolu_2", False),
    ]
    assert "Paris: sunny" in results["content"][0]["content"]
    first = stub.requests[0].body
    assert first["tools"] == [
        {
            "name": "get_weather",
            "description": get_weather.describe()["description"],
            "input_schema": get_weather.describe()["input_schema"],
        }
    ]


async def test_invalid_tool_json_is_an_error_result(stub: OpenAIStubServer) -> None:
    events = tool_use_stream()
    events[6] = delta(1, {"type": "input_json_delta", "partial_json": '{"city": '})
    events[7] = delta(1, {"type": "input_json_delta", "partial_json": "Paris}"})
    stub.enqueue(sse(*events), sse(*ANSWER))
    out = await run(stub, tools=[get_weather])
    assert out.result.status == "completed", out.errors
    first, second = out.stored("tool_calls")
    assert first.is_error and "not valid JSON" in str(first.results)
    assert not second.is_error
    results = stub.requests[1].body["messages"][-1]["content"]
    assert results[0]["is_error"] is True


async def test_overloaded_529_is_retried(stub: OpenAIStubServer) -> None:
    stub.enqueue(
        StubResponse.error(
            529, "Overloaded", type="overloaded_error", headers={"retry-after": "0"}
        ),
        sse(*THINK_AND_ANSWER),
    )
    out = await run(stub, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    assert out.result.status == "completed", out.errors
    assert len(stub.requests) == 2


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (401, f"invalid x-api-key {SECRET}", E_PROVIDER_AUTHENTICATION),
        (400, "prompt is too long: 210000 tokens > 200000 maximum", E_PROVIDER_CONTEXT_OVERFLOW),
        (500, "internal", E_PROVIDER_SERVER_ERROR),
    ],
)
async def test_http_errors(
    stub: OpenAIStubServer, status: int, message: str, cls: type[Exception]
) -> None:
    stub.enqueue(StubResponse.error(status, message))
    out = await run(stub)
    assert out.result.status == "failed"
    (err,) = out.errors
    assert type(err) is cls
    assert isinstance(err, ProviderErrorInfo) and err.provider_status == status
    assert SECRET not in str(err) and SECRET not in (err.detail or "")


async def test_error_event_and_cut_stream(stub: OpenAIStubServer) -> None:
    stub.enqueue(
        sse(
            start(),
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
    )
    out = await run(stub)
    (err,) = out.errors
    assert isinstance(err, E_PROVIDER_SERVER_ERROR) and "Overloaded" in str(err)

    full = sse(*THINK_AND_ANSWER).body
    stub.enqueue(StubResponse.sse(full, cut_after=len(full) // 2))
    out = await run(stub)
    (err,) = out.errors
    assert isinstance(err, E_PROVIDER_MALFORMED_STREAM)
    assert out.stored("messages")[-1].role == "user"  # nothing half-done stored


async def test_context_window_stop_reason_nacks(stub: OpenAIStubServer) -> None:
    stub.enqueue(sse(start(), *end("model_context_window_exceeded", 0)))
    out = await run(stub)
    (err,) = out.errors
    assert isinstance(err, E_PROVIDER_CONTEXT_OVERFLOW)


def test_importing_without_the_sdk_raises_extra_missing() -> None:
    code = (
        "import sys\n"
        "sys.modules['anthropic'] = None\n"
        "from adk.errors import AdkError\n"
        "try:\n"
        "    import adk.batteries.anthropic\n"
        "except AdkError as e:\n"
        "    print(e.code, '|', e.help)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "E_EXTRA_MISSING | pip install 'adk[anthropic]'", done.stderr
