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
from typing import Any

import openai
from openai import AsyncOpenAI

from adk.batteries._common import check_options, utcnow
from adk.batteries._errors import translate_sdk_error
from adk.batteries._executor import Outcome, StreamingExecutor, decode_object
from adk.batteries._retry import RetryPolicy
from adk.batteries._tools import RequestedCall
from adk.batteries.openai._render import render_messages
from adk.batteries.openai._stream import ChatGeneration, on_chunk, stream_error
from adk.batteries.schemas import render_tools
from adk.contracts.dispatch_context import DispatchContext
from adk.errors import E_PROVIDER_MALFORMED_STREAM, AdkError, provider_error
from adk.primitives import Message, Thought
from adk.primitives.ids import new_id
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


class OpenAIChatExecutor(StreamingExecutor[ChatGeneration, AsyncOpenAI]):
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
        specific: list[str] = []
        if temperature is not None and not 0 <= temperature <= 2:
            specific.append("temperature must be in [0, 2]")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):  # pyright: ignore[reportUnnecessaryIsInstance]
            specific.append("max_tokens must be an int >= 1")
        api_key = check_options(
            "OpenAIChatExecutor",
            model=model,
            specific=specific,
            timeout=timeout,
            stream_idle_timeout=stream_idle_timeout,
            retry=retry,
            api_key=api_key,
            client_given=client is not None,
            env_key="OPENAI_API_KEY",
            has_endpoint=base_url is not None or bool(os.environ.get("OPENAI_BASE_URL")),
            endpoint="OpenAI",
            placeholder=_NO_KEY,
        )
        if client is None:
            client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        else:
            client = client.with_options(max_retries=0)
        self._configure(
            client,
            api_key,
            model=model,
            auto_ack=auto_ack,
            retry=retry,
            timeout=timeout,
            stream_idle_timeout=stream_idle_timeout,
            concurrent_tools=concurrent_tools,
            extra_body=extra_body,
            extra_headers=extra_headers,
            provider=provider,
            on_request=on_request,
        )
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.top_p = top_p
        self.stop = stop
        self.seed = seed
        self.tool_choice = tool_choice
        self.parallel_tool_calls = parallel_tool_calls

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

    def _build(self, ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> dict[str, Any]:
        return self.build_request(ctx)

    def _create(self) -> Callable[..., Any]:
        return self._client.chat.completions.with_streaming_response.create

    def _translate(self, exc: BaseException) -> AdkError:
        return translate_error(exc, provider=self.provider, secrets=self._secrets)

    def _new_generation(self) -> ChatGeneration:
        return ChatGeneration(message_id=new_id(), thought_id=new_id())

    def _decode(self, gen: ChatGeneration, payload: str) -> dict[str, Any] | None:
        if payload.strip() == "[DONE]":
            gen.ended = True
            return None
        return decode_object(payload)

    def _check_complete(self, gen: ChatGeneration, complete: bool) -> None:
        if not complete and not gen.ended:
            raise provider_error(
                E_PROVIDER_MALFORMED_STREAM,
                "the model provider's stream ended inside an event",
                provider=self.provider,
            )
        if gen.finish_reason is None:
            raise provider_error(
                E_PROVIDER_MALFORMED_STREAM,
                "the model provider's stream ended before a finish_reason"
                + (" (no [DONE])" if not gen.ended else ""),
                provider=self.provider,
            )

    def _on_event(
        self,
        helpers: DispatchExecutorHelpers,
        gen: ChatGeneration,
        kind: str | None,
        event: dict[str, Any],
    ) -> None:
        if "error" in event or kind == "error":
            gen.error = stream_error(event, provider=self.provider, secrets=self._secrets)
            return
        on_chunk(helpers, gen, event)

    def _outcome(self, gen: ChatGeneration) -> Outcome:
        usage = gen.usage or {}
        outcome = Outcome(
            stats={
                "provider": self.provider,
                "model": gen.model or self.model,
                "prompt_tokens": usage.get("prompt_tokens"),
                "completion_tokens": usage.get("completion_tokens"),
                "total_tokens": usage.get("total_tokens"),
                "finish_reason": gen.finish_reason,
                "raw": gen.usage,
            }
        )
        now = utcnow()
        if gen.reasoning_started is not None:
            thought = Thought(
                id=gen.thought_id,
                content=gen.reasoning,
                created_at=gen.reasoning_started,
                updated_at=now,
            )
            outcome.thoughts.append((thought, True))
        if gen.text_started is not None:
            outcome.message = Message(
                id=gen.message_id,
                role="assistant",
                content=gen.text,
                created_at=gen.text_started,
                updated_at=now,
            )
        if gen.finish_reason == "length":
            outcome.warnings.append(
                (
                    "generation-truncated",
                    "the model stopped at the token limit (finish_reason=length)",
                )
            )
        outcome.calls = [
            RequestedCall(
                id=p.id,
                tool=p.name or "unnamed_tool",
                arguments=p.arguments,
                created_at=p.created_at,
            )
            for _, p in sorted(gen.calls.items())
        ]
        if not outcome.calls and gen.text_started is None and gen.reasoning_started is None:
            outcome.warnings.append(("empty-generation", "the model returned no output"))
        return outcome
