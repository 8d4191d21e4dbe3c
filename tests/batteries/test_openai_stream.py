"""OpenAIChatExecutor against the stub server replaying real llama.cpp recordings."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import adk
from adk.batteries.openai import OpenAIChatExecutor, RetryPolicy
from adk.testing import OpenAIStubServer, StubResponse

from .conftest import recording, run_turn

pytestmark = pytest.mark.anyio

WEATHER_CALLS: list[dict[str, Any]] = []


@adk.tool
def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    WEATHER_CALLS.append({"city": city})
    return f"Sunny, 21 degrees Celsius in {city}."


def make(stub: OpenAIStubServer, **kw: Any) -> OpenAIChatExecutor:
    kw.setdefault("retry", RetryPolicy(max_attempts=1))
    return OpenAIChatExecutor(
        model="qwen2.5-coder-0.5b", base_url=stub.base_url, api_key="sk-test-secret-key", **kw
    )


async def test_text_answer_streams_stores_reports_usage_and_acks(stub: OpenAIStubServer) -> None:
    stub.enqueue(recording("text_answer"))
    async with make(stub) as ex:
        out = await run_turn(ex, question="Say hello in five words.")
    assert out.result.status == "completed"
    assert out.result.dispatch_status == "ack"
    deltas = [m.a_delta for m in out.messages]
    assert "".join(deltas) == "Hello, world!"
    assert len([d for d in deltas if d]) > 1  # really streamed, chunk by chunk
    assert out.messages[-1].is_complete
    stored = [m for m in out.stored("messages") if m.role == "assistant"]
    assert len(stored) == 1
    assert str(stored[0].content) == "Hello, world!"
    assert stored[0].id == out.messages[-1].id
    (stats,) = out.stats
    assert (stats.prompt_tokens, stats.completion_tokens, stats.total_tokens) == (25, 5, 30)
    assert stats.finish_reason == "stop"
    assert stats.provider == "openai"
    assert stats.raw["prompt_tokens_details"] == {"cached_tokens": 0}
    # the request: streaming with usage, no tools field without tools, no OpenAI-only fields
    (req,) = stub.requests
    assert req.path == "/v1/chat/completions"
    assert req.body["stream"] is True
    assert req.body["stream_options"] == {"include_usage": True}
    assert "tools" not in req.body and "parallel_tool_calls" not in req.body
    assert set(req.body) == {"model", "messages", "stream", "stream_options"}
    assert req.body["messages"][0] == {"role": "system", "content": "You are a weather assistant."}
    assert req.body["messages"][-1] == {"role": "user", "content": "Say hello in five words."}
    assert req.headers["authorization"] == "Bearer sk-test-secret-key"


async def test_streamed_tool_call_runs_tool_then_answers(stub: OpenAIStubServer) -> None:
    WEATHER_CALLS.clear()
    stub.enqueue(recording("tool_call"), recording("answer_after_tool"))
    async with make(stub) as ex:
        out = await run_turn(ex, tools=[get_weather])
    assert out.result.status == "completed", out.errors
    assert WEATHER_CALLS == [{"city": "Paris"}]
    # argument deltas were reported while streaming (raw text growing), then the parsed args
    streaming = [c for c in out.tool_calls if isinstance(c.args, str)]
    assert len(streaming) > 3
    assert streaming[-1].args == '{"city": "Paris"}'
    assert all(len(a.args) <= len(b.args) for a, b in itertools.pairwise(streaming))
    final = out.tool_calls[-1]
    assert final.is_complete and not final.is_error
    assert final.args == {"city": "Paris"}
    assert final.checksum == adk.tool_call_checksum("get_weather", {"city": "Paris"})
    (call,) = out.stored("tool_calls")
    assert call.tool == "get_weather" and dict(call.args) == {"city": "Paris"}
    assert isinstance(call.results, adk.Tokenizable)
    assert str(call.results) == "Sunny, 21 degrees Celsius in Paris."
    answer = [m for m in out.stored("messages") if m.role == "assistant"]
    assert len(answer) == 1 and "sunny" in str(answer[0].content).lower()
    assert [s.finish_reason for s in out.stats] == ["tool_calls", "stop"]
    # second request replays the call and its result in OpenAI shape
    first, second = stub.requests
    assert first.body["tools"][0]["function"]["name"] == "get_weather"
    assert first.body["parallel_tool_calls"] is True
    msgs = second.body["messages"]
    assistant = msgs[-2]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    assert assistant["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    tool_msg = msgs[-1]
    assert tool_msg["role"] == "tool"
    assert tool_msg["tool_call_id"] == assistant["tool_calls"][0]["id"] == call.id
    assert "Sunny, 21 degrees Celsius in Paris." in tool_msg["content"]
    assert tool_msg["content"].startswith("<tool_output_")


async def test_parallel_tool_calls_run_concurrently_and_store_in_request_order(
    stub: OpenAIStubServer,
) -> None:
    import anyio

    order: list[str] = []

    @adk.tool
    async def slow_weather(city: str) -> str:
        """Weather, slowly.

        Args:
            city: The city.
        """
        # Paris (requested first) finishes last: proves concurrency and request order
        await anyio.sleep(0.2 if city == "Paris" else 0.0)
        order.append(city)
        return f"{city}: fine"

    body = (recording("parallel_tool_calls").body).replace(b"get_weather", b"slow_weather")
    stub.enqueue(StubResponse.sse(body), recording("text_answer"))
    async with make(stub) as ex:
        out = await run_turn(ex, tools=[slow_weather])
    assert out.result.status == "completed", out.errors
    assert order == ["Tokyo", "Paris"]
    calls = out.stored("tool_calls")
    assert [dict(c.args)["city"] for c in calls] == ["Paris", "Tokyo"]
    assert [str(c.results) for c in calls] == ["Paris: fine", "Tokyo: fine"]
    msgs = stub.requests[1].body["messages"]
    assert [m["role"] for m in msgs[-3:]] == ["assistant", "tool", "tool"]
    assert [tc["id"] for tc in msgs[-3]["tool_calls"]] == [c.id for c in calls]
    assert [m["tool_call_id"] for m in msgs[-2:]] == [c.id for c in calls]


async def test_reasoning_deltas_become_a_stored_thought(stub: OpenAIStubServer) -> None:
    stub.enqueue(recording("reasoning"))
    async with make(stub) as ex:
        out = await run_turn(ex)
    assert out.result.status == "completed"
    assert "".join(t.a_delta for t in out.thoughts) == "The user wants a greeting."
    assert out.thoughts[-1].is_complete
    (thought,) = out.stored("thoughts")
    assert str(thought.content) == "The user wants a greeting."
    assert thought.payload is None
    answer = [m for m in out.stored("messages") if m.role == "assistant"]
    assert str(answer[0].content) == "Hello there!"
    assert thought.created_at <= answer[0].created_at


async def test_invalid_tool_arguments_go_back_to_the_model(stub: OpenAIStubServer) -> None:
    WEATHER_CALLS.clear()
    bad = recording("tool_call").body.replace(b'"Paris', b'"Paris\\"oops')  # not valid JSON
    stub.enqueue(StubResponse.sse(bad), recording("answer_after_tool"))
    async with make(stub) as ex:
        out = await run_turn(ex, tools=[get_weather])
    assert out.result.status == "completed", out.errors
    assert WEATHER_CALLS == []
    (call,) = out.stored("tool_calls")
    assert call.is_error and "E_INVALID_TOOL_ARGS" in str(call.results)
    tool_msg = stub.requests[1].body["messages"][-1]
    assert tool_msg["role"] == "tool" and "Error: E_INVALID_TOOL_ARGS" in tool_msg["content"]


async def test_schema_violation_and_unknown_tool_are_error_results(stub: OpenAIStubServer) -> None:
    WEATHER_CALLS.clear()
    wrong_type = (
        recording("tool_call")
        .body.replace(b'"Paris', b'"Paris')
        .replace(b'"arguments":"{"', b'"arguments":"{\\"town\\": 1, "')
    )
    stub.enqueue(StubResponse.sse(wrong_type), recording("answer_after_tool"))
    async with make(stub) as ex:
        out = await run_turn(ex, tools=[get_weather])
    assert out.result.status == "completed", out.errors
    (call,) = out.stored("tool_calls")
    assert call.is_error and "E_INVALID_TOOL_ARGS" in str(call.results)
    assert WEATHER_CALLS == []

    stub.enqueue(recording("tool_call"), recording("answer_after_tool"))
    async with make(stub) as ex:
        out = await run_turn(ex, tools=[])  # model calls a tool we do not have
    assert out.result.status == "completed", out.errors
    (call,) = out.stored("tool_calls")
    assert call.is_error and "no tool named 'get_weather'" in str(call.results)


async def test_failing_tool_handler_is_an_error_result(stub: OpenAIStubServer) -> None:
    @adk.tool
    def get_weather(city: str) -> str:
        """Always fails.

        Args:
            city: The city.
        """
        raise ValueError("weather service down")

    stub.enqueue(recording("tool_call"), recording("answer_after_tool"))
    async with make(stub) as ex:
        out = await run_turn(ex, tools=[get_weather])
    assert out.result.status == "completed", out.errors
    (call,) = out.stored("tool_calls")
    assert call.is_error
    assert "E_TOOL_DOWNSTREAM_ERROR" in str(call.results)
    assert "weather service down" in str(call.results)


async def test_auto_ack_false_leaves_signalling_to_the_pipeline(stub: OpenAIStubServer) -> None:
    stub.enqueue(recording("text_answer"))

    async def ack_after(ctx: adk.DispatchContext, next: Any) -> None:
        await next()

    async with make(stub, auto_ack=False) as ex:
        out = await run_turn(ex, dispatch_input_pipeline=[ack_after])
    # nobody acked: the runner iterates again and the stub has nothing queued -> nack
    assert len(stub.requests) >= 2
    assert out.result.dispatch_status == "nack"
