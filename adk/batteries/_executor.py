"""The per-iteration skeleton shared by the SDK-based provider executors.

:class:`StreamingExecutor` owns everything that does not depend on the wire format (the
provider modules keep only request building, event parsing and error translation):

1. ``__call__``: build the request (``_build``), hand it to ``on_request``, generate,
   and turn any failure into a logged ``E_PROVIDER_*`` nack (an abort returns quietly);
2. ``_generate``: open the streaming response with retries (:func:`run_with_retry`),
   read the SSE body to its end (:func:`read_sse`) feeding each decoded event to the
   provider's ``_on_event`` (which calls the ``report_*`` helpers), always close the
   response, then raise a stream error or an incomplete stream;
3. ``_finish``: from the provider's :class:`Outcome`, report usage, store the
   ``Thought`` and ``Message`` records, log warnings, and run the requested tools
   (concurrently, stored in request order) or ack (``auto_ack``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar, cast

import anyio
import msgspec

from adk.batteries._errors import redact
from adk.batteries._retry import RetryPolicy, run_with_retry
from adk.batteries._sse import read_sse
from adk.batteries._tools import RequestedCall, run_tool_calls
from adk.contracts.dispatch_context import DispatchContext
from adk.errors import (
    E_PROVIDER_MALFORMED_STREAM,
    AdkError,
    is_abort_error,
    provider_error,
)
from adk.primitives import Message, Thought
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = ["Generation", "Outcome", "StreamingExecutor", "decode_object"]


@dataclass(slots=True, kw_only=True)
class Generation:
    """What one streamed response produced so far; providers subclass it.

    Attributes:
        message_id: The id of the streamed (and stored) assistant message.
        model: The model the provider reported, if any.
        ended: The provider's end marker arrived; later events are ignored.
        error: The stream's error; the rest of the body is drained, then it is raised.
    """

    message_id: str
    model: str | None = None
    ended: bool = False
    error: AdkError | None = None


@dataclass(slots=True, kw_only=True)
class Outcome:
    """What an iteration leaves behind, in the order it is applied by ``_finish``.

    Attributes:
        stats: The ``report_generation_stats`` mapping.
        thoughts: The Thoughts to store, each with whether it was streamed (its stream
            is then completed first).
        message: The assistant Message to store (its stream is completed first).
        error: Nacks the dispatch (logged as ``provider-error``) after storing.
        warnings: ``(kind, message)`` warnings logged after storing.
        calls: The tool calls to run; none means the iteration may ack.
    """

    stats: dict[str, Any]
    thoughts: list[tuple[Thought, bool]] = field(default_factory=list[tuple[Thought, bool]])
    message: Message | None = None
    error: AdkError | None = None
    warnings: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    calls: list[RequestedCall] = field(default_factory=list[RequestedCall])


def decode_object(payload: str) -> dict[str, Any]:
    """Decode an event's JSON data, which must be an object.

    Raises:
        ValueError: not JSON (``msgspec.DecodeError``) or not an object.
    """
    event: object = msgspec.json.decode(payload)
    if type(event) is not dict:
        raise ValueError(f"expected a JSON object, got {type(event).__name__}")
    return cast(dict[str, Any], event)


class _Client(Protocol):
    @property
    def base_url(self) -> object: ...

    async def close(self) -> None: ...


G = TypeVar("G", bound=Generation)
C = TypeVar("C", bound=_Client)


class StreamingExecutor(Generic[G, C]):
    """Base of the SDK-based executors: one streamed model call per dispatch iteration.

    Subclasses set the attributes (``_configure``) and implement ``_build``,
    ``_create``, ``_translate``, ``_new_generation``, ``_on_event``, ``_check_complete``
    and ``_outcome``; ``_decode`` may be overridden for sentinel events.
    """

    _unparsable = "the model provider sent an unparsable stream event"
    _unexpected = "the model provider sent a chunk of an unexpected shape"

    _client: C
    _secrets: tuple[str, ...]
    model: str
    auto_ack: bool
    retry: RetryPolicy
    timeout: float
    stream_idle_timeout: float | None
    concurrent_tools: bool
    extra_body: dict[str, Any] | None
    extra_headers: dict[str, str] | None
    provider: str
    on_request: Callable[[dict[str, Any]], object] | None

    def _configure(
        self,
        client: C,
        api_key: str | None,
        *,
        model: str,
        auto_ack: bool,
        retry: RetryPolicy | None,
        timeout: float,
        stream_idle_timeout: float | None,
        concurrent_tools: bool,
        extra_body: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None,
        provider: str,
        on_request: Callable[[dict[str, Any]], object] | None,
    ) -> None:
        self._client = client
        self._secrets = tuple(
            s for s in (api_key, getattr(client, "api_key", None)) if isinstance(s, str)
        )
        self.model = model
        self.auto_ack = auto_ack
        self.retry = retry if retry is not None else RetryPolicy()
        self.timeout = timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.concurrent_tools = concurrent_tools
        self.extra_body = dict(extra_body) if extra_body else None
        self.extra_headers = dict(extra_headers) if extra_headers else None
        self.provider = provider
        self.on_request = on_request

    def __repr__(self) -> str:
        base_url = str(self._client.base_url)
        return f"{type(self).__name__}(model={self.model!r}, base_url={base_url!r})"

    @property
    def client(self) -> C:
        """The SDK client in use (with SDK retries off)."""
        return self._client

    async def aclose(self) -> None:
        """Close the SDK client's connections (also a client passed in: it is shared).

        Use ``async with Executor(...) as executor:`` to close automatically.
        """
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- provider hooks -------------------------------------------------------------

    def _build(self, ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> dict[str, Any]:
        raise NotImplementedError

    def _create(self) -> Callable[..., Any]:
        """The SDK's ``with_streaming_response.create``."""
        raise NotImplementedError

    def _translate(self, exc: BaseException) -> AdkError:
        raise NotImplementedError

    def _new_generation(self) -> G:
        raise NotImplementedError

    def _decode(self, gen: G, payload: str) -> dict[str, Any] | None:
        """Decode one event's data; ``None`` skips it (a sentinel the provider handled).

        Raises:
            ValueError: not a JSON object (``msgspec.DecodeError`` is a ``ValueError``).
        """
        return decode_object(payload)

    def _on_event(
        self, helpers: DispatchExecutorHelpers, gen: G, kind: str | None, event: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def _check_complete(self, gen: G, complete: bool) -> None:
        """Raise when the stream ended without the provider's final fields."""
        raise NotImplementedError

    def _outcome(self, gen: G) -> Outcome:
        raise NotImplementedError

    # -- the iteration ----------------------------------------------------------------

    async def __call__(self, ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> None:
        """Run one iteration (see the class docstring).

        Args:
            ctx: The dispatch context.
            helpers: The dispatch's executor helpers.

        Raises:
            Exception: only what the context's persistence callbacks or ``ack`` raise;
                provider failures nack instead.
        """
        if ctx.abort_signal.aborted:
            return
        request = self._build(ctx, helpers)
        if self.on_request is not None:
            try:
                self.on_request(request)
            except Exception as exc:
                helpers.log.warn(
                    kind="listener-error",
                    message=f"on_request raised {type(exc).__name__}: {exc}",
                )
        try:
            gen = await self._generate(ctx, helpers, request)
        except Exception as exc:
            if is_abort_error(exc) or ctx.abort_signal.aborted:
                return
            err = self._translate(exc)
            helpers.log.error(
                kind="provider-error",
                message=str(err),
                payload={
                    "code": err.code,
                    "provider_status": getattr(err, "provider_status", None),
                },
            )
            if not ctx.is_signalled:
                ctx.nack(err)
            return
        await self._finish(ctx, helpers, self._outcome(gen))

    async def _open(self, request: dict[str, Any]) -> tuple[Any, Any]:
        """Send the request; returns ``(context_manager, response)`` once headers arrive."""
        manager: Any = self._create()(
            **request,
            timeout=self.timeout,
            extra_body=self.extra_body,
            extra_headers=self.extra_headers,
        )
        try:
            response: Any = await manager.__aenter__()
        except Exception as exc:
            if is_abort_error(exc):
                raise
            raise self._translate(exc) from exc
        return manager, response

    def _malformed(self, what: str, exc: Exception, payload: str) -> AdkError:
        return provider_error(
            E_PROVIDER_MALFORMED_STREAM,
            f"{what}: {exc}",
            provider=self.provider,
            detail=redact(payload[:500], self._secrets),
            cause=exc,
        )

    async def _generate(
        self, ctx: DispatchContext, helpers: DispatchExecutorHelpers, request: dict[str, Any]
    ) -> G:
        def on_retry(n: int, delay: float, exc: BaseException) -> None:
            helpers.log.warn(
                kind="retry-attempt",
                message=f"retry {n} in {delay:.3f}s after {exc}",
                payload={"retry": n, "delay_s": delay, "code": getattr(exc, "code", None)},
            )

        manager, response = await run_with_retry(
            lambda: self._open(request),
            self.retry,
            is_aborted=lambda: ctx.abort_signal.aborted,
            on_retry=on_retry,
        )
        gen = self._new_generation()

        def on_event(kind: str | None, payload: str) -> None:
            if gen.error is not None or gen.ended:
                return  # draining
            try:
                event = self._decode(gen, payload)
            except ValueError as exc:
                gen.error = self._malformed(self._unparsable, exc, payload)
                return
            if event is None:
                return
            try:
                self._on_event(helpers, gen, kind, event)
            except (TypeError, AttributeError, KeyError, ValueError) as exc:
                gen.error = self._malformed(self._unexpected, exc, payload)

        try:
            complete = await read_sse(
                response,
                on_event,
                idle_timeout=self.stream_idle_timeout,
                provider=self.provider,
                translate=self._translate,
            )
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await manager.__aexit__(None, None, None)
                except Exception:  # closing a broken stream may fail again
                    pass
        if gen.error is not None:
            raise gen.error
        self._check_complete(gen, complete)
        return gen

    async def _finish(
        self, ctx: DispatchContext, helpers: DispatchExecutorHelpers, outcome: Outcome
    ) -> None:
        helpers.report_generation_stats(outcome.stats)
        for thought, streamed in outcome.thoughts:
            if streamed:
                helpers.report_thought(thought.id, "", is_complete=True)
            await ctx.store_thought(thought)
        if outcome.message is not None:
            helpers.report_message(outcome.message.id, "", is_complete=True)
            await ctx.store_message(outcome.message)
        if outcome.error is not None:
            helpers.log.error(kind="provider-error", message=str(outcome.error))
            if not ctx.is_signalled:
                ctx.nack(outcome.error)
            return
        for kind, message in outcome.warnings:
            helpers.log.warn(kind=kind, message=message)
        if outcome.calls:
            await run_tool_calls(ctx, helpers, outcome.calls, concurrent=self.concurrent_tools)
            return
        if self.auto_ack and not ctx.is_signalled:
            ctx.ack()
