from __future__ import annotations

import http.client
import json
import socket

import pytest

from adk.testing import OpenAIStubServer, StubResponse, sse_frames

pytestmark = pytest.mark.anyio


def post(port: int, body: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_replays_in_order_records_requests_and_stops() -> None:
    with OpenAIStubServer(
        [
            StubResponse.sse([{"a": 1}]),
            StubResponse.error(429, "slow", headers={"Retry-After": "2"}),
        ]
    ) as stub:
        port = stub.port
        status, _, body = post(port, {"model": "x"})
        assert status == 200 and body == b'data: {"a":1}\n\ndata: [DONE]\n\n'
        status, headers, body = post(port, {"model": "y"})
        assert status == 429 and headers["Retry-After"] == "2"
        assert json.loads(body)["error"]["message"] == "slow"
        status, _, body = post(port, {})
        assert status == 500 and b"no response queued" in body
        assert [r.body for r in stub.requests] == [{"model": "x"}, {"model": "y"}, {}]
        assert stub.pending == 0
    with socket.socket() as s:  # stopped: the port no longer accepts connections
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_stop_releases_a_stalled_stream() -> None:
    stub = OpenAIStubServer([StubResponse.sse(sse_frames([{"a": 1}] * 5), stall_after=10)])
    with stub:
        conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=5)
        conn.request("POST", "/v1/chat/completions", body="{}")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read1(10)
    # leaving the block did not hang on the stalled handler
    conn.close()


async def test_the_real_sdk_reads_a_stubbed_stream() -> None:
    openai = pytest.importorskip("openai")
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
    }
    async with OpenAIStubServer([StubResponse.sse([chunk])]) as stub:
        client = openai.AsyncOpenAI(base_url=stub.base_url, api_key="k", max_retries=0)
        try:
            resp = await client.chat.completions.with_streaming_response.create(
                model="m", messages=[{"role": "user", "content": "x"}], stream=True
            ).__aenter__()
            lines = [line async for line in resp.iter_lines()]
            await resp.close()
        finally:
            await client.close()
    assert lines[0] == "data: " + json.dumps(chunk, separators=(",", ":"))
