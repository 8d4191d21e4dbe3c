"""``OpenAIStubServer``: an in-process OpenAI-compatible HTTP server for tests.

Replays recorded (or built) chat-completion responses on ``127.0.0.1`` so tests exercise
the real SDK and HTTP stack without a model. Standard library only
(``http.server`` in a background thread), so it serves asyncio, trio and synchronous
tests alike::

    from adk.testing import OpenAIStubServer, StubResponse

    with OpenAIStubServer() as stub:
        stub.enqueue(StubResponse.from_file("tests/data/text_answer.sse"))
        executor = OpenAIChatExecutor(model="m", base_url=stub.base_url, api_key="k")
        ...
        assert stub.requests[0].body["model"] == "m"

Responses are consumed in order, one per request (``enqueue``); when the queue is empty
the ``default`` response is used, or, without one, a 500 error naming the unexpected
request. Every request is recorded in ``requests`` (method, path, headers, parsed body).
Streams can be cut (``cut_after`` bytes: the connection is closed without the final
chunk) or stalled (``stall_after`` bytes: nothing more is sent until the server stops).
The server is always stopped when the ``with`` block exits, even on errors.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast

__all__ = ["OpenAIStubServer", "RecordedRequest", "StubResponse", "sse_frames"]


def sse_frames(events: Iterable[Mapping[str, Any] | str], *, done: bool = True) -> bytes:
    """Encode events as an SSE body: one ``data: <json>`` event each, then ``[DONE]``.

    Args:
        events: Chunk objects (JSON-encoded) or raw strings (sent as the ``data`` line).
        done: Append ``data: [DONE]``.

    Returns:
        The body bytes (UTF-8).
    """
    out: list[str] = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        out.append(f"data: {data}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class StubResponse:
    """One response the stub will send.

    Attributes:
        status: HTTP status.
        body: The body bytes.
        headers: Extra headers (``Retry-After``, …).
        content_type: ``text/event-stream`` for streams, ``application/json`` otherwise.
        cut_after: Send only this many body bytes, then close the connection without
            ending the chunked body (a stream cut mid-way); ``None`` sends everything.
        stall_after: Send this many body bytes, then send nothing more until the server
            stops (a stalled stream); ``None`` never stalls.
        chunk_size: Body bytes per write (``None``: one SSE event per write).
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    content_type: str = "text/event-stream"
    cut_after: int | None = None
    stall_after: int | None = None
    chunk_size: int | None = None

    @classmethod
    def sse(cls, body: bytes | str | Iterable[Mapping[str, Any] | str], **kw: Any) -> StubResponse:
        """A streaming response from raw SSE bytes/text or from chunk objects."""
        if isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = sse_frames(body)
        return cls(body=raw, **kw)

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> StubResponse:
        """A streaming response replaying a recorded ``.sse`` file verbatim."""
        return cls(body=Path(path).read_bytes(), **kw)

    @classmethod
    def json(cls, payload: Any, *, status: int = 200, **kw: Any) -> StubResponse:
        """A JSON response."""
        return cls(
            status=status,
            body=json.dumps(payload).encode(),
            content_type="application/json",
            **kw,
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> StubResponse:
        """An OpenAI-style error: ``{"error": {"message", "type", "code"}}`` with ``status``."""
        return cls.json(
            {"error": {"message": message, "type": type, "code": code}},
            status=status,
            headers=dict(headers or {}),
        )


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the stub received.

    Attributes:
        method: ``"POST"``, ``"GET"``, …
        path: The request path (``/v1/chat/completions``).
        headers: The request headers (lower-case names).
        body: The parsed JSON body (``None`` when empty or not JSON).
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stub: OpenAIStubServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def _stub(self) -> OpenAIStubServer:
        return cast(_Server, self.server).stub

    def setup(self) -> None:
        """Disable Nagle's algorithm: SSE events go out as soon as they are written."""
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _handle(self) -> None:
        stub = self._stub
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = stub._next(request)
        self._send(response)

    do_POST = _handle
    do_GET = _handle

    def _send(self, response: StubResponse) -> None:
        stub = self._stub
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for key, value in response.headers.items():
            self.send_header(key, value)
        streaming = response.content_type == "text/event-stream"
        if not streaming and response.cut_after is None and response.stall_after is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        body = response.body
        limit = len(body)
        if response.cut_after is not None:
            limit = min(limit, response.cut_after)
        if response.stall_after is not None:
            limit = min(limit, response.stall_after)
        for piece in _pieces(body[:limit], response.chunk_size):
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
        if response.stall_after is not None and response.stall_after < len(body):
            stub._stopping.wait()
            self.close_connection = True
            return
        if response.cut_after is not None and response.cut_after < len(body):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _pieces(body: bytes, size: int | None) -> list[bytes]:
    if not body:
        return []
    if size is not None:
        return [body[i : i + size] for i in range(0, len(body), size)]
    parts = body.split(b"\n\n")
    out = [p + b"\n\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


class OpenAIStubServer:
    """An OpenAI-compatible stub HTTP server on ``127.0.0.1`` (use as a context manager).

    Args:
        responses: Responses to enqueue at once (consumed in order).
        default: The response when the queue is empty; ``None`` answers 500 instead.
        port: The port; ``0`` (default) picks a free one.

    Attributes:
        requests: Every request received, in order.
        default: See Args (may be reassigned).
    """

    def __init__(
        self,
        responses: Sequence[StubResponse] = (),
        *,
        default: StubResponse | None = None,
        port: int = 0,
    ) -> None:
        self._queue: deque[StubResponse] = deque(responses)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []
        self.default = default

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, the ``base_url`` for the SDK (server running)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._server is None:
            raise RuntimeError("the stub server is not running")
        return int(self._server.server_address[1])

    def enqueue(self, *responses: StubResponse) -> None:
        """Queue responses for the next requests, in order."""
        with self._lock:
            self._queue.extend(responses)

    @property
    def pending(self) -> int:
        """How many queued responses have not been served yet."""
        with self._lock:
            return len(self._queue)

    def _next(self, request: RecordedRequest) -> StubResponse:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
            if self.default is not None:
                return self.default
        return StubResponse.error(
            500,
            f"stub: no response queued for {request.method} {request.path}",
            type="server_error",
        )

    def start(self) -> OpenAIStubServer:
        """Start serving in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.stub = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release stalled streams and close the socket (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> OpenAIStubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> OpenAIStubServer:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
