"""Provider failures: translation, retries, cut / malformed / stalled streams."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

import adk
from adk.batteries.openai import OpenAIChatExecutor, RetryPolicy
from adk.errors import (
    E_PROVIDER_AUTHENTICATION,
    E_PROVIDER_BAD_REQUEST,
    E_PROVIDER_CONTEXT_OVERFLOW,
    E_PROVIDER_ERROR,
    E_PROVIDER_MALFORMED_STREAM,
    E_PROVIDER_RATE_LIMITED,
    E_PROVIDER_SERVER_ERROR,
    E_PROVIDER_TIMEOUT,
    ProviderErrorInfo,
)
from adk.testing import OpenAIStubServer, StubResponse

from .conftest import TurnOutcome, recording, run_turn

pytestmark = pytest.mark.anyio

SECRET = "sk-very-secret-key-123456"


def make(stub: OpenAIStubServer, **kw: Any) -> OpenAIChatExecutor:
    kw.setdefault("retry", RetryPolicy(max_attempts=1))
    return OpenAIChatExecutor(model="m", base_url=stub.base_url, api_key=SECRET, **kw)


async def run(stub: OpenAIStubServer, **kw: Any) -> TurnOutcome:
    async with make(stub, **kw) as ex:
        return await run_turn(ex)


def only_error(out: TurnOutcome) -> BaseException:
    assert out.result.status == "failed"
    assert out.result.dispatch_status == "nack"
    (err,) = out.errors
    assert isinstance(err, E_PROVIDER_ERROR)
    assert SECRET not in str(err)
    assert SECRET not in repr(getattr(err, "detail", ""))
    return err


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (401, f"Incorrect API key provided: {SECRET}", E_PROVIDER_AUTHENTICATION),
        (403, "forbidden", E_PROVIDER_AUTHENTICATION),
        (400, "unknown field 'foo'", E_PROVIDER_BAD_REQUEST),
        (404, "model not found", E_PROVIDER_BAD_REQUEST),
        (
            400,
            "request (5000 tokens) exceeds the available context size (4096 tokens)",
            E_PROVIDER_CONTEXT_OVERFLOW,
        ),
        (400, "This model's maximum context length is 8192 tokens", E_PROVIDER_CONTEXT_OVERFLOW),
        (429, "slow down", E_PROVIDER_RATE_LIMITED),
        (500, "boom", E_PROVIDER_SERVER_ERROR),
        (503, "overloaded", E_PROVIDER_SERVER_ERROR),
    ],
)
async def test_http_errors_are_translated(
    stub: OpenAIStubServer, status: int, message: str, cls: type[Exception]
) -> None:
    stub.enqueue(StubResponse.error(status, message))
    out = await run(stub)
    err = only_error(out)
    assert type(err) is cls
    assert isinstance(err, ProviderErrorInfo)
    assert err.provider_status == status
    assert err.provider == "openai"
    assert err.detail is not None and message.replace(SECRET, "***") == err.detail
    assert err.__cause__ is not None
    assert len(stub.requests) == 1  # max_attempts=1: no retry
    logged = [e for e in out.logs if e.kind == "provider-error"]
    assert logged and logged[0].level == "error" and SECRET not in logged[0].message


async def test_retry_after_429_honours_retry_after(stub: OpenAIStubServer) -> None:
    stub.enqueue(
        StubResponse.error(429, "rate limited", headers={"Retry-After": "0.3"}),
        StubResponse.error(503, "warming up", type="server_error"),
        recording("text_answer"),
    )
    started = time.monotonic()
    out = await run(stub, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=5))
    elapsed = time.monotonic() - started
    assert out.result.status == "completed", out.errors
    assert len(stub.requests) == 3
    assert elapsed >= 0.3  # the Retry-After floor was honoured
    retries = [e for e in out.logs if e.kind == "retry-attempt"]
    assert [e.payload["retry"] for e in retries] == [1, 2]
    assert retries[0].payload["code"] == "E_PROVIDER_RATE_LIMITED"
    assert retries[0].payload["delay_s"] >= 0.3


async def test_retries_are_bounded(stub: OpenAIStubServer) -> None:
    stub.default = StubResponse.error(429, "always limited", headers={"retry-after-ms": "1"})
    out = await run(stub, retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01))
    err = only_error(out)
    assert isinstance(err, E_PROVIDER_RATE_LIMITED)
    assert err.retry_after == pytest.approx(0.001)
    assert len(stub.requests) == 3


async def test_non_retryable_errors_are_not_retried(stub: OpenAIStubServer) -> None:
    stub.default = StubResponse.error(401, "bad key")
    out = await run(stub, retry=RetryPolicy(max_attempts=5, base_delay=0.001))
    assert isinstance(only_error(out), E_PROVIDER_AUTHENTICATION)
    assert len(stub.requests) == 1


async def test_stream_cut_midway_is_an_error_not_a_hang(stub: OpenAIStubServer) -> None:
    body = recording("tool_call").body
    stub.enqueue(StubResponse.sse(body, cut_after=len(body) // 2))
    with anyio.fail_after(10):
        out = await run(stub)
    err = only_error(out)
    assert isinstance(err, E_PROVIDER_MALFORMED_STREAM)
    assert out.stored("tool_calls") == []  # nothing half-done was stored
    assert len(stub.requests) == 1  # never retried once the stream started


async def test_stream_ending_without_finish_reason_is_malformed(stub: OpenAIStubServer) -> None:
    body = recording("text_answer").body
    events = body.split(b"\n\n")
    truncated = b"\n\n".join(events[:4]) + b"\n\n"  # clean end of body, no finish/[DONE]
    stub.enqueue(StubResponse.sse(truncated))
    out = await run(stub)
    err = only_error(out)
    assert isinstance(err, E_PROVIDER_MALFORMED_STREAM)
    assert "finish_reason" in str(err)
    assert [m for m in out.stored("messages") if m.role == "assistant"] == []


async def test_unparsable_event_is_malformed(stub: OpenAIStubServer) -> None:
    stub.enqueue(StubResponse.sse(b'data: {"choices": [ {"delta": \n\ndata: [DONE]\n\n'))
    out = await run(stub)
    err = only_error(out)
    assert isinstance(err, E_PROVIDER_MALFORMED_STREAM)
    assert "unparsable" in str(err)


async def test_recorded_midstream_error_event(stub: OpenAIStubServer) -> None:
    stub.enqueue(recording("midstream_error"))
    out = await run(stub)
    err = only_error(out)
    assert isinstance(err, E_PROVIDER_SERVER_ERROR)
    assert isinstance(err, ProviderErrorInfo)
    assert err.provider_status == 500
    assert "does not match the expected" in (err.detail or "")
    assert out.stored("tool_calls") == []


async def test_stalled_stream_times_out(stub: OpenAIStubServer) -> None:
    body = recording("text_answer").body
    stub.enqueue(StubResponse.sse(body, stall_after=len(body) // 3))
    with anyio.fail_after(10):
        out = await run(stub, stream_idle_timeout=0.3)
    err = only_error(out)
    assert isinstance(err, E_PROVIDER_TIMEOUT)
    assert "stalled" in str(err)


async def test_request_timeout(stub: OpenAIStubServer) -> None:
    body = recording("text_answer").body
    stub.enqueue(StubResponse.sse(body, stall_after=0))  # headers, then nothing
    with anyio.fail_after(10):
        out = await run(stub, timeout=0.3, stream_idle_timeout=None)
    assert isinstance(only_error(out), E_PROVIDER_TIMEOUT)


async def test_connection_refused_is_a_server_error() -> None:
    with OpenAIStubServer() as gone:
        url = gone.base_url
    async with OpenAIChatExecutor(
        model="m", base_url=url, api_key=SECRET, retry=RetryPolicy(max_attempts=1)
    ) as ex:
        out = await run_turn(ex)
    err = only_error(out)
    assert isinstance(err, E_PROVIDER_SERVER_ERROR)
    assert isinstance(err, ProviderErrorInfo) and err.provider_status == 0


async def test_abort_during_retry_backoff_returns_promptly(stub: OpenAIStubServer) -> None:
    stub.default = StubResponse.error(429, "limited", headers={"Retry-After": "30"})
    controller = adk.AbortController()
    results: list[adk.TurnResult] = []
    store = adk.InMemoryStore()
    async with make(stub, retry=RetryPolicy(max_attempts=3, max_delay=60)) as ex:
        runner = adk.TurnRunner(executor=ex, store=store)

        async def turn() -> None:
            results.append(await runner.run(system_prompt="x", turn_abort_controller=controller))

        started = time.monotonic()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(turn)
                while not stub.requests:
                    await anyio.sleep(0.01)
                await anyio.sleep(0.1)  # now in the 30 s Retry-After backoff
                controller.abort("user cancelled")
    assert time.monotonic() - started < 5
    assert results[0].status == "aborted"
    assert results[0].errors == ()
    assert len(stub.requests) == 1
