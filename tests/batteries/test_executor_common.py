"""Paths of the shared iteration skeleton (``adk.batteries._executor``), on both providers."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")

import anyio

from adk.batteries._sse import read_sse
from adk.batteries.anthropic import AnthropicMessagesExecutor
from adk.batteries.openai import OpenAIChatExecutor, RetryPolicy
from adk.errors import E_PROVIDER_TIMEOUT, AdkError
from adk.testing import OpenAIStubServer, StubResponse

from .conftest import TurnOutcome, run_turn

pytestmark = pytest.mark.anyio


def openai(stub: OpenAIStubServer, **kw: Any) -> OpenAIChatExecutor:
    return OpenAIChatExecutor(
        model="m", base_url=stub.base_url, api_key="k", retry=RetryPolicy(max_attempts=1), **kw
    )


def anthropic(stub: OpenAIStubServer, **kw: Any) -> AnthropicMessagesExecutor:
    return AnthropicMessagesExecutor(
        model="m", base_url=stub.base_url, api_key="k", retry=RetryPolicy(max_attempts=1), **kw
    )


def chat(*deltas: dict[str, Any], finish: str = "stop") -> StubResponse:
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    return StubResponse.sse(chunks)


def messages(text: str, stop_reason: str) -> StubResponse:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 3}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {}},
        {"type": "message_stop"},
    ]
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return StubResponse.sse(body)


def warnings(out: TurnOutcome) -> list[str]:
    return [log.kind for log in out.logs if log.level == "warn"]


async def test_a_failing_on_request_listener_is_logged_not_fatal(stub: OpenAIStubServer) -> None:
    stub.enqueue(chat({"content": "Hi"}))
    seen: list[dict[str, Any]] = []

    def listener(request: dict[str, Any]) -> None:
        seen.append(request)
        raise RuntimeError("listener broke")

    async with openai(stub, on_request=listener) as ex:
        out = await run_turn(ex)
    assert out.result.dispatch_status == "ack"
    assert seen and seen[0]["model"] == "m"
    (log,) = [log for log in out.logs if log.kind == "listener-error"]
    assert "RuntimeError: listener broke" in log.message


async def test_empty_and_truncated_generations_warn_then_ack(stub: OpenAIStubServer) -> None:
    stub.enqueue(chat())
    async with openai(stub) as ex:
        out = await run_turn(ex)
    assert out.result.dispatch_status == "ack"
    assert warnings(out) == ["empty-generation"]
    assert [m for m in out.stored("messages") if m.role == "assistant"] == []

    stub.enqueue(chat({"content": "Half an ans"}, finish="length"))
    async with openai(stub) as ex:
        out = await run_turn(ex)
    assert out.result.dispatch_status == "ack"
    assert warnings(out) == ["generation-truncated"]
    (stored,) = [m for m in out.stored("messages") if m.role == "assistant"]
    assert str(stored.content) == "Half an ans"


async def test_anthropic_terminal_stop_reason_warns_and_auto_ack_off_leaves_signalling(
    stub: OpenAIStubServer,
) -> None:
    stub.enqueue(messages("Cut", "max_tokens"))
    async with anthropic(stub) as ex:
        out = await run_turn(ex)
    assert out.result.dispatch_status == "ack"
    assert warnings(out) == ["generation-stopped"]
    assert "empty-generation" not in warnings(out)
    (stats,) = out.stats
    assert (stats.prompt_tokens, stats.finish_reason) == (3, "max_tokens")

    stub.enqueue(messages("Done.", "end_turn"))
    async with anthropic(stub, auto_ack=False) as ex:
        out = await run_turn(ex)
    # nobody acked: the runner iterates again and the stub has nothing queued -> nack
    assert len(stub.requests) >= 2
    assert out.result.dispatch_status == "nack"
    (stored,) = [m for m in out.stored("messages") if m.role == "assistant"]
    assert str(stored.content) == "Done."


class _Lines:
    """A response whose lines arrive at the given delays (seconds)."""

    def __init__(self, delays: list[float]) -> None:
        self.delays = delays

    def iter_lines(self) -> Any:
        async def lines() -> Any:
            for delay in self.delays:
                await anyio.sleep(delay)
                yield ""

        return lines()


async def test_idle_watchdog_tolerates_gaps_below_the_timeout_and_fires_on_a_stall() -> None:
    def translate(exc: BaseException) -> AdkError:
        raise AssertionError(exc)

    # steady lines for longer than the timeout in total: the deadline keeps moving
    await read_sse(
        _Lines([0.02] * 15), lambda k, p: None, idle_timeout=0.1, provider="p", translate=translate
    )
    with pytest.raises(E_PROVIDER_TIMEOUT):
        await read_sse(
            _Lines([0.01, 0.3]),
            lambda k, p: None,
            idle_timeout=0.1,
            provider="p",
            translate=translate,
        )
