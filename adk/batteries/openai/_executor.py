"""``OpenAIChatExecutor``: one chat-completions call per dispatch iteration.

Follows the ADK's reference adapter ``openai_chat_completions`` (BATTERIES.md §3.2–3.9)
with these choices of ours, each deliberate:

* the official ``openai`` SDK does the HTTP (its own retries are switched off: the
  executor owns retries, :class:`~adk.batteries._retry.RetryPolicy`);
* usage is always requested (``stream_options.include_usage``) and reported through
  ``report_generation_stats`` (the ADK's Chat Completions adapter reports none);
* tool calls requested together run concurrently (the ADK runs them in sequence); their
  records are stored in request order;
* ``auto_ack`` defaults to ``True`` (the ADK defaults to ``False``) so that a plain
  ``TurnRunner(executor=OpenAIChatExecutor(...))`` completes a turn;
* a stream cut before its ``finish_reason``, unparsable, or silent for longer than
  ``stream_idle_timeout`` is an error (``E_PROVIDER_MALFORMED_STREAM`` /
  ``E_PROVIDER_TIMEOUT``), never a hang and never a silently truncated answer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import anyio
import msgspec
import openai
import uuid6
from openai import AsyncOpenAI

from adk.batteries._errors import class_for, detail_of, redact, translate_sdk_error
from adk.batteries._render import (
    is_self,
    render_foreign,
    render_system,
    render_thought,
    render_tool_result,
    text_of,
    timeline,
)
from adk.batteries._retry import RetryPolicy, run_with_retry
from adk.batteries._sse import read_sse
from adk.batteries._tools import RequestedCall, run_tool_calls
from adk.batteries.schemas import render_tools
from adk.contracts.dispatch_context import DispatchContext
from adk.errors import (
    E_INVALID_PROVIDER_OPTIONS,
    E_PROVIDER_MALFORMED_STREAM,
    AdkError,
    is_abort_error,
    provider_error,
)
from adk.primitives import Message, Thought, ToolCall
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = ["OpenAIChatExecutor", "render_messages", "translate_error"]

_NO_KEY = "sk-no-key-required"


def translate_error(
    exc: BaseException, *, provider: str = "openai", secrets: Sequence[str] = ()
) -> AdkError:
    """Translate an ``openai`` SDK or transport failure into an ``E_PROVIDER_*`` error.

    See :func:`adk.batteries._errors.translate_sdk_error` for the table: timeouts →
    ``E_PROVIDER_TIMEOUT``; connection failures and 5xx → ``E_PROVIDER_SERVER_ERROR``;
    401/403 → ``E_PROVIDER_AUTHENTICATION``; 429 → ``E_PROVIDER_RATE_LIMITED`` (with
    ``Retry-After``); 413 or a "context length" body → ``E_PROVIDER_CONTEXT_OVERFLOW``;
    other 4xx → ``E_PROVIDER_BAD_REQUEST``; anything else → ``E_PROVIDER_MALFORMED_STREAM``.

    Args:
        exc: The failure.
        provider: The provider label stored on the error.
        secrets: Strings to redact (the API key); ``Bearer`` tokens are always redacted.

    Returns:
        The error (``__cause__`` = ``exc``); an ``AdkError`` is returned unchanged.
    """
    return translate_sdk_error(exc, openai, provider=provider, secrets=secrets)


def _tool_call_param(call: ToolCall) -> dict[str, Any]:
    arguments = msgspec.json.encode(dict(call.args)).decode()
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.tool, "arguments": arguments},
    }


def render_messages(ctx: DispatchContext, *, self_identity: str = "assistant") -> list[Any]:
    """Render the dispatch context as chat-completions ``messages``.

    1. One ``system`` message: system prompt, standing instructions, memories and
       retrievables (trust tiers as tagged envelopes; see ``adk.batteries._render``);
       left out when all are empty.
    2. The timeline (messages, plain-text thoughts, complete tool calls by
       ``created_at``): user messages as ``user`` turns (a non-default identity in a
       ``<message from=…>`` envelope); the agent's own text and ``<self_reasoning>``
       thoughts folded into one ``assistant`` turn with the ``tool_calls`` that follow
       them; each call's result as a ``tool`` message right after, in request order;
       other agents' messages as ``user`` turns in a ``<peer_agent_output>`` envelope.

    Args:
        ctx: The dispatch context.
        self_identity: The identifier of the agent's own identity.

    Returns:
        A list of message dicts accepted by ``ChatCompletionMessageParam``.
    """
    messages: list[Any] = []
    system = render_system(ctx)
    if system:
        messages.append({"role": "system", "content": system})
    text: list[str] = []
    calls: list[ToolCall] = []

    def flush() -> None:
        if not text and not calls:
            return
        turn: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(text) or None}
        if calls:
            turn["tool_calls"] = [_tool_call_param(c) for c in calls]
        messages.append(turn)
        for c in calls:
            tool = ctx.tools.get(c.tool)
            trusted = bool(tool is not None and tool.trusted)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": c.id,
                    "content": render_tool_result(c, trusted=trusted, ctx=ctx),
                }
            )
        text.clear()
        calls.clear()

    for item in timeline(ctx):
        if isinstance(item, ToolCall):
            calls.append(item)
            continue
        if calls:
            flush()
        if isinstance(item, Message):
            if item.role == "user":
                flush()
                own_role = str(item.identity.identifier) == "user"
                content = text_of(item.content, ctx) if own_role else render_foreign(item, ctx)
                messages.append({"role": "user", "content": content})
            elif is_self(item.identity, self_identity):
                body = text_of(item.content, ctx)
                if body:
                    text.append(body)
            else:
                flush()
                messages.append({"role": "user", "content": render_foreign(item, ctx)})
        elif is_self(item.identity, self_identity):
            text.append(render_thought(item, ctx))
    flush()
    return messages


@dataclass(slots=True)
class _PendingCall:
    id: str
    created_at: datetime
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _Generation:
    message_id: str
    thought_id: str
    text: str = ""
    text_started: datetime | None = None
    reasoning: str = ""
    reasoning_started: datetime | None = None
    calls: dict[int, _PendingCall] = field(default_factory=dict[int, _PendingCall])
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    done: bool = False
    error: AdkError | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _get(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is a JSON object, else ``None``."""
    if isinstance(value, dict):
        return cast(dict[str, Any], value).get(key)
    return None


def _items(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else ``[]``."""
    if isinstance(value, list):
        return cast(list[Any], value)
    return []


class OpenAIChatExecutor:
    """A dispatch executor calling an OpenAI-compatible ``/chat/completions`` endpoint.

    Per iteration (the runner calls it once per iteration) it:

    1. renders the context (:func:`render_messages`) and ``ctx.tools.visible()`` (as
       ``tools``; no tools → no ``tools`` field) into a streaming request with
       ``stream_options={"include_usage": True}``;
    2. sends it with retries (:class:`RetryPolicy`; only before the stream starts);
    3. streams text deltas to ``report_message``, reasoning deltas (``reasoning_content``
       or ``reasoning``) to ``report_thought`` and tool-call argument deltas to
       ``report_tool_call`` (``args`` is the raw argument text so far, then the parsed
       object when the call runs);
    4. stores the ``Thought`` and ``Message`` (one each at most, same ids as the streams),
       reports usage with ``report_generation_stats`` (``provider``, ``model``, token
       counts, ``finish_reason``, ``raw`` = the usage object);
    5. runs the requested tools (see ``adk.batteries._tools``) and stores their
       ``ToolCall`` records in request order, or, when the model stopped without tool
       calls, acks (``auto_ack``).

    A provider failure nacks the dispatch with an ``E_PROVIDER_*`` error (logged as
    ``kind="provider-error"``); an abort returns without signalling.

    Args:
        client: An ``openai.AsyncOpenAI`` to use (its own retries are turned off through
            ``with_options(max_retries=0)``); ``None`` builds one from ``base_url`` and
            ``api_key``.
        model: The model name sent as ``model`` (required, non-empty).
        base_url: The API base URL, e.g. ``"http://127.0.0.1:8080/v1"``; ``None`` uses
            the SDK default (``OPENAI_BASE_URL`` or api.openai.com).
        api_key: The API key; ``None`` reads ``OPENAI_API_KEY``, or, with a ``base_url``
            (local servers), sends a placeholder. Never logged or put in errors.
        temperature: Sampling temperature; ``None`` leaves it out of the request.
        max_tokens: Completion token cap; ``None`` leaves it out.
        top_p: Nucleus sampling; ``None`` leaves it out.
        stop: Stop sequences; ``None`` leaves them out.
        seed: Sampling seed; ``None`` leaves it out.
        tool_choice: ``"auto"``, ``"required"``, ``"none"`` or a named-function dict,
            sent only when there are tools; ``None`` leaves it out.
        parallel_tool_calls: Sent only when there are tools; ``None`` leaves it out.
        auto_ack: Ack when the model stops without tool calls.
        retry: The retry policy (default: 3 attempts, 0.5 s base, 30 s cap).
        timeout: Per-request timeout in seconds handed to the SDK.
        stream_idle_timeout: Longest silence between two stream chunks, in seconds,
            before ``E_PROVIDER_TIMEOUT``; ``None`` disables the watchdog.
        concurrent_tools: Run tool calls requested together concurrently.
        extra_body: Extra JSON fields merged into the request body (provider options
            such as ``{"top_k": 20}``); nothing OpenAI-only is sent unless given here.
        extra_headers: Extra HTTP headers.
        provider: The label on usage stats and errors.
        on_request: Called with each request (the keyword arguments given to
            ``chat.completions.create``) before it is sent; exceptions are logged as a
            ``warn`` and ignored.

    Raises:
        E_INVALID_PROVIDER_OPTIONS: a bad option (every problem is named), or no API key
            for the default OpenAI endpoint.
    """

    def __init__(
        self,
        client: AsyncOpenAI | None = None,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = True,
        auto_ack: bool = True,
        retry: RetryPolicy | None = None,
        timeout: float = 600.0,
        stream_idle_timeout: float | None = 120.0,
        concurrent_tools: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        provider: str = "openai",
        on_request: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        bad: list[str] = []
        if not isinstance(model, str) or not model:  # pyright: ignore[reportUnnecessaryIsInstance]
            bad.append("model must be a non-empty str")
        if temperature is not None and not 0 <= temperature <= 2:
            bad.append("temperature must be in [0, 2]")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):  # pyright: ignore[reportUnnecessaryIsInstance]
            bad.append("max_tokens must be an int >= 1")
        if not timeout > 0:
            bad.append("timeout must be > 0 seconds")
        if stream_idle_timeout is not None and not stream_idle_timeout > 0:
            bad.append("stream_idle_timeout must be > 0 seconds or None")
        if retry is not None and not isinstance(retry, RetryPolicy):  # pyright: ignore[reportUnnecessaryIsInstance]
            bad.append("retry must be a RetryPolicy")
        if client is None and api_key is None:
            api_key = os.environ.get("OPENAI_API_KEY")
            if api_key is None:
                if base_url is None and not os.environ.get("OPENAI_BASE_URL"):
                    bad.append("api_key is required for the default OpenAI endpoint")
                api_key = _NO_KEY
        if bad:
            raise E_INVALID_PROVIDER_OPTIONS(
                message="invalid OpenAIChatExecutor options: " + "; ".join(bad)
            )
        if client is None:
            client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        else:
            client = client.with_options(max_retries=0)
        self._client = client
        self._secrets: tuple[str, ...] = tuple(
            s for s in (api_key, getattr(client, "api_key", None)) if isinstance(s, str)
        )
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.top_p = top_p
        self.stop = stop
        self.seed = seed
        self.tool_choice = tool_choice
        self.parallel_tool_calls = parallel_tool_calls
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
        return f"OpenAIChatExecutor(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    @property
    def client(self) -> AsyncOpenAI:
        """The SDK client in use (with SDK retries off)."""
        return self._client

    async def aclose(self) -> None:
        """Close the SDK client's connections (also a client passed in: it is shared).

        Use ``async with OpenAIChatExecutor(...) as executor:`` to close automatically.
        """
        await self._client.close()

    async def __aenter__(self) -> OpenAIChatExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def build_request(self, ctx: DispatchContext) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for this iteration.

        Only fields that are set are included (so llama.cpp, vLLM and Ollama accept the
        request); ``extra_body``/``extra_headers``/``timeout`` are SDK options, not body
        fields.

        Args:
            ctx: The dispatch context.

        Returns:
            A new dict: ``model``, ``messages``, ``stream``, ``stream_options``, and
            ``tools``/``tool_choice``/``parallel_tool_calls`` when tools are visible, plus
            each sampling option that is not ``None``.
        """
        request: dict[str, Any] = {
            "model": self.model,
            "messages": render_messages(ctx),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        tools = render_tools(ctx.tools.visible(), "openai")
        if tools:
            request["tools"] = tools
            if self.tool_choice is not None:
                request["tool_choice"] = self.tool_choice
            if self.parallel_tool_calls is not None:
                request["parallel_tool_calls"] = self.parallel_tool_calls
        for key, value in (
            ("temperature", self.temperature),
            ("max_tokens", self.max_tokens),
            ("top_p", self.top_p),
            ("seed", self.seed),
        ):
            if value is not None:
                request[key] = value
        if self.stop is not None:
            request["stop"] = self.stop if isinstance(self.stop, str) else list(self.stop)
        return request

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
        request = self.build_request(ctx)
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
            err = translate_error(exc, provider=self.provider, secrets=self._secrets)
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
        await self._finish(ctx, helpers, gen)

    async def _open(self, request: dict[str, Any]) -> tuple[Any, Any]:
        """Send the request; returns ``(context_manager, response)`` once headers arrive."""
        create = cast(
            Callable[..., Any], self._client.chat.completions.with_streaming_response.create
        )
        manager: Any = create(
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
            raise translate_error(exc, provider=self.provider, secrets=self._secrets) from exc
        return manager, response

    async def _generate(
        self, ctx: DispatchContext, helpers: DispatchExecutorHelpers, request: dict[str, Any]
    ) -> _Generation:
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
        gen = _Generation(message_id=str(uuid6.uuid6()), thought_id=str(uuid6.uuid6()))
        try:
            await self._read(helpers, gen, response)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await manager.__aexit__(None, None, None)
                except Exception:  # closing a broken stream may fail again
                    pass
        if gen.error is not None:
            raise gen.error
        if gen.finish_reason is None:
            raise provider_error(
                E_PROVIDER_MALFORMED_STREAM,
                "the model provider's stream ended before a finish_reason"
                + (" (no [DONE])" if not gen.done else ""),
                provider=self.provider,
            )
        return gen

    async def _read(
        self, helpers: DispatchExecutorHelpers, gen: _Generation, response: Any
    ) -> None:
        """Parse the SSE body to EOF (see ``adk.batteries._sse``).

        After ``[DONE]``, a malformed event or an ``error`` event the rest is drained; the
        caller raises ``gen.error``.
        """

        def on_event(kind: str | None, payload: str) -> None:
            if gen.error is not None or gen.done:
                return  # draining
            if payload.strip() == "[DONE]":
                gen.done = True
                return
            try:
                chunk: Any = msgspec.json.decode(payload)
                if not isinstance(chunk, dict):
                    raise ValueError(f"expected a JSON object, got {type(chunk).__name__}")
            except (ValueError, msgspec.DecodeError) as exc:
                gen.error = provider_error(
                    E_PROVIDER_MALFORMED_STREAM,
                    f"the model provider sent an unparsable stream event: {exc}",
                    provider=self.provider,
                    detail=redact(payload[:500], self._secrets),
                    cause=exc,
                )
                return
            chunk = cast(dict[str, Any], chunk)
            if "error" in chunk or kind == "error":
                gen.error = self._stream_error(chunk)
                return
            try:
                self._on_chunk(helpers, gen, chunk)
            except (TypeError, AttributeError, KeyError, ValueError) as exc:
                gen.error = provider_error(
                    E_PROVIDER_MALFORMED_STREAM,
                    f"the model provider sent a chunk of an unexpected shape: {exc}",
                    provider=self.provider,
                    detail=redact(payload[:500], self._secrets),
                    cause=exc,
                )

        complete = await read_sse(
            response,
            on_event,
            idle_timeout=self.stream_idle_timeout,
            provider=self.provider,
            translate=lambda exc: translate_error(
                exc, provider=self.provider, secrets=self._secrets
            ),
        )
        if not complete and gen.error is None and not gen.done:
            gen.error = provider_error(
                E_PROVIDER_MALFORMED_STREAM,
                "the model provider's stream ended inside an event",
                provider=self.provider,
            )

    def _stream_error(self, chunk: dict[str, Any]) -> AdkError:
        body: Any = chunk.get("error", chunk)
        code: object = _get(body, "code")
        status = code if isinstance(code, int) and 100 <= code <= 599 else 0
        detail = redact(detail_of(cast(object, body), "error event in the stream"), self._secrets)
        return provider_error(
            class_for(status or 500, detail),
            f"the model provider reported an error in the stream: {detail}",
            provider=self.provider,
            provider_status=status,
            detail=detail,
        )

    def _on_chunk(
        self, helpers: DispatchExecutorHelpers, gen: _Generation, chunk: dict[str, Any]
    ) -> None:
        usage = _get(chunk, "usage")
        if isinstance(usage, dict):
            gen.usage = cast(dict[str, Any], usage)
        model = _get(chunk, "model")
        if isinstance(model, str) and model:
            gen.model = model
        for choice in _items(_get(chunk, "choices")):
            if _get(choice, "index") not in (0, None):
                continue
            delta = _get(choice, "delta")
            reasoning = _get(delta, "reasoning_content") or _get(delta, "reasoning")
            if isinstance(reasoning, str) and reasoning:
                if gen.reasoning_started is None:
                    gen.reasoning_started = _now()
                gen.reasoning += reasoning
                helpers.report_thought(gen.thought_id, reasoning)
            content = _get(delta, "content")
            if isinstance(content, str) and content:
                if gen.text_started is None:
                    gen.text_started = _now()
                gen.text += content
                helpers.report_message(gen.message_id, content)
            for tc in _items(_get(delta, "tool_calls")):
                index = _get(tc, "index")
                if not isinstance(index, int):
                    index = len(gen.calls)
                pending = gen.calls.get(index)
                if pending is None:
                    call_id = _get(tc, "id")
                    pending = gen.calls[index] = _PendingCall(
                        id=call_id if isinstance(call_id, str) and call_id else str(uuid6.uuid6()),
                        created_at=_now(),
                    )
                fn = _get(tc, "function")
                name = _get(fn, "name")
                if isinstance(name, str) and name:
                    pending.name += name
                arguments = _get(fn, "arguments")
                if isinstance(arguments, str) and arguments:
                    pending.arguments += arguments
                elif isinstance(arguments, dict):  # some servers send parsed objects
                    pending.arguments = msgspec.json.encode(arguments).decode()
                helpers.report_tool_call(
                    pending.id, tool=pending.name or None, args=pending.arguments
                )
            finish = _get(choice, "finish_reason")
            if isinstance(finish, str) and finish:
                gen.finish_reason = finish

    async def _finish(
        self, ctx: DispatchContext, helpers: DispatchExecutorHelpers, gen: _Generation
    ) -> None:
        usage = gen.usage or {}
        helpers.report_generation_stats(
            {
                "provider": self.provider,
                "model": gen.model or self.model,
                "prompt_tokens": usage.get("prompt_tokens"),
                "completion_tokens": usage.get("completion_tokens"),
                "total_tokens": usage.get("total_tokens"),
                "finish_reason": gen.finish_reason,
                "raw": gen.usage,
            }
        )
        now = _now()
        if gen.reasoning_started is not None:
            helpers.report_thought(gen.thought_id, "", is_complete=True)
            await ctx.store_thought(
                Thought(
                    id=gen.thought_id,
                    content=gen.reasoning,
                    created_at=gen.reasoning_started,
                    updated_at=now,
                )
            )
        if gen.text_started is not None:
            helpers.report_message(gen.message_id, "", is_complete=True)
            await ctx.store_message(
                Message(
                    id=gen.message_id,
                    role="assistant",
                    content=gen.text,
                    created_at=gen.text_started,
                    updated_at=now,
                )
            )
        if gen.finish_reason == "length":
            helpers.log.warn(
                kind="generation-truncated",
                message="the model stopped at the token limit (finish_reason=length)",
            )
        calls = [
            RequestedCall(
                id=p.id,
                tool=p.name or "unnamed_tool",
                arguments=p.arguments,
                created_at=p.created_at,
            )
            for _, p in sorted(gen.calls.items())
        ]
        if calls:
            await run_tool_calls(ctx, helpers, calls, concurrent=self.concurrent_tools)
            return
        if gen.text_started is None and gen.reasoning_started is None:
            helpers.log.warn(kind="empty-generation", message="the model returned no output")
        if self.auto_ack and not ctx.is_signalled:
            ctx.ack()
