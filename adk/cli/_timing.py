"""Time spent on the wire: an ``httpx`` transport that times each provider exchange.

It lets ``adk chat`` split a turn's wall time into model time (request sent → last byte
received), tool time (``tool_execution_end`` events) and the rest: the framework's share.
It also picks up llama.cpp's ``timings`` object (decode speed) from the stream's last
chunk. Needs ``httpx2`` (a dependency of the ``openai`` and ``anthropic`` SDKs).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2 as httpx  # what the openai and anthropic SDKs are built on (httpx's API)

__all__ = ["Exchange", "TimingTransport"]


@dataclass
class Exchange:
    """One HTTP exchange with the provider.

    Attributes:
        started: ``time.perf_counter()`` when the request was sent.
        first_byte: When the first body byte arrived, or ``None``.
        last_byte: When the last body byte arrived (or the headers, with no body).
        timings: llama.cpp's ``timings`` object of the stream, if it sent one.
    """

    started: float
    first_byte: float | None = None
    last_byte: float = 0.0
    timings: dict[str, Any] | None = None
    _tail: bytes = field(default=b"", repr=False)

    @property
    def seconds(self) -> float:
        """Wall time from sending the request to the last byte, in seconds."""
        return max(0.0, self.last_byte - self.started)

    def feed(self, chunk: bytes) -> None:
        """Record a body chunk's arrival; parse complete lines carrying ``timings``."""
        now = time.perf_counter()
        if self.first_byte is None:
            self.first_byte = now
        self.last_byte = now
        data = self._tail + chunk
        lines = data.split(b"\n")
        self._tail = lines.pop()[-65536:]
        for line in lines:
            if b'"timings"' in line and line.startswith(b"data:"):
                try:
                    obj: Any = json.loads(line[5:])
                except ValueError:
                    continue
                timings: Any = (
                    cast("dict[str, Any]", obj).get("timings") if isinstance(obj, dict) else None
                )
                if isinstance(timings, dict):
                    self.timings = cast("dict[str, Any]", timings)


class _Stream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, exchange: Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._exchange.feed(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class TimingTransport(httpx.AsyncBaseTransport):
    """Wraps an async transport and records an :class:`Exchange` per request.

    Args:
        inner: The transport doing the work; ``None`` uses ``httpx.AsyncHTTPTransport()``.

    Attributes:
        exchanges: Every exchange so far, in order.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner: httpx.AsyncBaseTransport = inner or httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the inner transport, timing its response body."""
        exchange = Exchange(started=time.perf_counter())
        self.exchanges.append(exchange)
        response = await self._inner.handle_async_request(request)
        exchange.last_byte = time.perf_counter()
        stream: Any = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            return response
        headers: Any = response.headers
        extensions: Any = response.extensions
        return httpx.Response(
            status_code=response.status_code,
            headers=headers,
            stream=_Stream(stream, exchange),
            extensions=extensions,
            request=request,
        )

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
