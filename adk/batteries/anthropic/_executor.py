"""``AnthropicMessagesExecutor``: one Messages API call per dispatch iteration.

Follows the ADK's ``anthropic_messages`` adapter (BATTERIES.md §3.2–3.9) with the same
choices as :mod:`adk.batteries.openai` (SDK retries off and ADK-owned retries, usage
always reported, concurrent tool calls stored in request order, ``auto_ack`` default
``True``, a cut / malformed / stalled stream is an error). Anthropic specifics:

* the system channel is the top-level ``system`` string; consecutive same-role blocks are
  merged into one turn and leading assistant turns dropped (logged as a ``warn`` of
  kind ``render-repair``), as the API requires alternation starting with ``user``;
* tool calls are assistant ``tool_use`` blocks, their results ``tool_result`` blocks
  (``is_error`` set) in the next user turn;
* thinking blocks are stored as opaque :class:`~adk.Thought` records (``payload`` =
  ``{"variant": "thinking", "thinking", "signature"}`` or ``{"variant":
  "redacted_thinking", "data"}``, ``replay_compatibility`` =
  ``"anthropic-messages-thinking-v1"``) and replayed as native blocks; the ADK's
  prefix-fingerprint check of stale thinking is not implemented;
* stop reason ``model_context_window_exceeded`` nacks ``E_PROVIDER_CONTEXT_OVERFLOW``;
  ``max_tokens``, ``refusal`` and ``pause_turn`` are logged and treated as terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from adk.batteries._common import check_options, utcnow
from adk.batteries._errors import translate_sdk_error
from adk.batteries._executor import Outcome, StreamingExecutor
from adk.batteries._retry import RetryPolicy
from adk.batteries._tools import RequestedCall
from adk.batteries.anthropic._render import THINKING_REPLAY, render_anthropic
from adk.batteries.anthropic._stream import MessagesGeneration, on_event
from adk.batteries.schemas import render_tools
from adk.contracts.dispatch_context import DispatchContext
from adk.errors import (
    E_PROVIDER_CONTEXT_OVERFLOW,
    E_PROVIDER_MALFORMED_STREAM,
    AdkError,
    provider_error,
)
from adk.primitives import Message, Thought
from adk.primitives.ids import new_id
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = ["THINKING_REPLAY", "AnthropicMessagesExecutor", "render_anthropic", "translate_error"]

_NO_KEY = "no-key-required"


def translate_error(
    exc: BaseException, *, provider: str = "anthropic", secrets: Sequence[str] = ()
) -> AdkError:
    """Translate an ``anthropic`` SDK or transport failure into an ``E_PROVIDER_*`` error.

    Same table as :func:`adk.batteries.openai.translate_error`; Anthropic's 529
    "overloaded" is an ``E_PROVIDER_SERVER_ERROR`` (retryable) and a 400 saying "prompt
    is too long" an ``E_PROVIDER_CONTEXT_OVERFLOW``.

    Args:
        exc: The failure.
        provider: The provider label stored on the error.
        secrets: Strings to redact (the API key); ``Bearer`` tokens are always redacted.

    Returns:
        The error (``__cause__`` = ``exc``); an ``AdkError`` is returned unchanged.
    """
    return translate_sdk_error(exc, anthropic, provider=provider, secrets=secrets)


class AnthropicMessagesExecutor(StreamingExecutor[MessagesGeneration, AsyncAnthropic]):
    """A dispatch executor calling the Anthropic Messages API (streaming).

    Per iteration: renders the context (:func:`render_anthropic`) and the visible tools
    (Anthropic tool definitions) into ``messages.create(stream=True)``; streams text
    deltas to ``report_message``, thinking deltas to ``report_thought`` and
    ``input_json_delta`` fragments to ``report_tool_call``; stores Thought(s) and the
    Message; reports usage (``prompt_tokens`` = input tokens incl. cache reads and
    writes); runs the ``tool_use`` calls, or acks on a terminal stop (``auto_ack``).
    Failures nack with ``E_PROVIDER_*``; an abort returns without signalling.

    Args:
        client: An ``anthropic.AsyncAnthropic`` (its retries are turned off); ``None``
            builds one from ``base_url``/``api_key``.
        model: The model name (required).
        base_url: The API base URL; ``None`` uses the SDK default.
        api_key: The API key; ``None`` reads ``ANTHROPIC_API_KEY`` (or, with a
            ``base_url``, sends a placeholder). Never logged or put in errors.
        max_tokens: ``max_tokens`` (required by the API), default 4096.
        temperature, top_p, top_k: Sampling; ``None`` leaves them out.
        stop_sequences: ``stop_sequences``; ``None`` leaves them out.
        thinking: The ``thinking`` request field (e.g. ``{"type": "enabled",
            "budget_tokens": 2048}``); ``None`` leaves it out.
        tool_choice: Sent only with tools; ``None`` leaves it out.
        auto_ack: Ack when the model stops without tool calls.
        retry: The retry policy (529 overloaded and 429 are retried).
        timeout: Per-request timeout in seconds.
        stream_idle_timeout: Longest silence in the stream in seconds (``None``: none).
        concurrent_tools: Run tool calls requested together concurrently.
        extra_body: Extra JSON fields merged into the body.
        extra_headers: Extra HTTP headers (e.g. ``anthropic-beta``).
        provider: The label on usage stats and errors.
        on_request: Called with each request's keyword arguments before sending.

    Raises:
        E_INVALID_PROVIDER_OPTIONS: a bad option (every problem is named).
    """

    _unparsable = _unexpected = "the model provider sent an unparsable or unexpected event"

    def __init__(
        self,
        client: AsyncAnthropic | None = None,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop_sequences: Sequence[str] | None = None,
        thinking: Mapping[str, Any] | None = None,
        tool_choice: Mapping[str, Any] | None = None,
        auto_ack: bool = True,
        retry: RetryPolicy | None = None,
        timeout: float = 600.0,
        stream_idle_timeout: float | None = 120.0,
        concurrent_tools: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        provider: str = "anthropic",
        on_request: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        specific: list[str] = []
        if not isinstance(max_tokens, int) or max_tokens < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
            specific.append("max_tokens must be an int >= 1")
        if temperature is not None and not 0 <= temperature <= 1:
            specific.append("temperature must be in [0, 1]")
        api_key = check_options(
            "AnthropicMessagesExecutor",
            model=model,
            specific=specific,
            timeout=timeout,
            stream_idle_timeout=stream_idle_timeout,
            retry=retry,
            api_key=api_key,
            client_given=client is not None,
            env_key="ANTHROPIC_API_KEY",
            has_endpoint=base_url is not None,
            endpoint="Anthropic",
            placeholder=_NO_KEY,
        )
        if client is None:
            client = AsyncAnthropic(base_url=base_url, api_key=api_key, max_retries=0)
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
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.stop_sequences = list(stop_sequences) if stop_sequences is not None else None
        self.thinking = dict(thinking) if thinking is not None else None
        self.tool_choice = dict(tool_choice) if tool_choice is not None else None

    def build_request(
        self, ctx: DispatchContext, warn: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """The keyword arguments of ``messages.create`` for this iteration.

        Args:
            ctx: The dispatch context.
            warn: Receives render repairs (see :func:`render_anthropic`).

        Returns:
            A new dict: ``model``, ``max_tokens``, ``messages``, ``stream``, ``system``
            when non-empty, ``tools`` (and ``tool_choice``) when tools are visible, and
            each sampling option that is not ``None``.
        """
        system, messages = render_anthropic(ctx, warn=warn)
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": messages,
            "stream": True,
        }
        if system:
            request["system"] = system
        tools = render_tools(ctx.tools.visible(), "anthropic")
        if tools:
            request["tools"] = tools
            if self.tool_choice is not None:
                request["tool_choice"] = self.tool_choice
        for key, value in (
            ("temperature", self.temperature),
            ("top_p", self.top_p),
            ("top_k", self.top_k),
            ("stop_sequences", self.stop_sequences),
            ("thinking", self.thinking),
        ):
            if value is not None:
                request[key] = value
        return request

    def _build(self, ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> dict[str, Any]:
        def warn(message: str) -> None:
            helpers.log.warn(kind="render-repair", message=message)

        return self.build_request(ctx, warn)

    def _create(self) -> Callable[..., Any]:
        return self._client.messages.with_streaming_response.create

    def _translate(self, exc: BaseException) -> AdkError:
        return translate_error(exc, provider=self.provider, secrets=self._secrets)

    def _new_generation(self) -> MessagesGeneration:
        return MessagesGeneration(message_id=new_id())

    def _check_complete(self, gen: MessagesGeneration, complete: bool) -> None:
        if gen.stop_reason is None:
            # message_stop is not trusted to arrive (as in the ADK), but a stop reason is
            raise provider_error(
                E_PROVIDER_MALFORMED_STREAM,
                "the model provider's stream ended before a stop_reason",
                provider=self.provider,
            )

    def _on_event(
        self,
        helpers: DispatchExecutorHelpers,
        gen: MessagesGeneration,
        kind: str | None,
        event: dict[str, Any],
    ) -> None:
        on_event(helpers, gen, event, provider=self.provider, secrets=self._secrets)

    def _outcome(self, gen: MessagesGeneration) -> Outcome:
        usage = gen.usage
        prompt = sum(
            int(usage.get(k) or 0)
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
        completion = int(usage.get("output_tokens") or 0)
        outcome = Outcome(
            stats={
                "provider": self.provider,
                "model": gen.model or self.model,
                "prompt_tokens": prompt if usage else None,
                "completion_tokens": completion if usage else None,
                "total_tokens": prompt + completion if usage else None,
                "finish_reason": gen.stop_reason,
                "raw": dict(usage) if usage else None,
            }
        )
        now = utcnow()
        text = ""
        text_started: datetime | None = None
        calls: list[RequestedCall] = []
        for _, b in sorted(gen.blocks.items()):
            if b.kind == "tool_use":
                calls.append(
                    RequestedCall(
                        id=b.id,
                        tool=b.name or "unnamed_tool",
                        arguments=b.arguments,
                        created_at=b.created_at,
                    )
                )
            elif b.kind == "text":
                text += b.text
                text_started = text_started or b.created_at
            elif b.kind == "redacted_thinking":
                thought = Thought(
                    id=b.id,
                    payload={"variant": "redacted_thinking", "data": b.data},
                    replay_compatibility=THINKING_REPLAY,
                    created_at=b.created_at,
                    updated_at=now,
                )
                outcome.thoughts.append((thought, False))
            else:
                thought = Thought(
                    id=b.id,
                    content=b.text,
                    payload={"variant": "thinking", "thinking": b.text, "signature": b.signature},
                    replay_compatibility=THINKING_REPLAY,
                    created_at=b.created_at,
                    updated_at=now,
                )
                outcome.thoughts.append((thought, True))
        if text_started is not None:
            outcome.message = Message(
                id=gen.message_id,
                role="assistant",
                content=text,
                created_at=text_started,
                updated_at=now,
            )
        if gen.stop_reason == "model_context_window_exceeded":
            outcome.error = provider_error(
                E_PROVIDER_CONTEXT_OVERFLOW,
                "the model stopped: the context window is exhausted",
                provider=self.provider,
            )
        elif gen.stop_reason in ("max_tokens", "refusal", "pause_turn"):
            outcome.warnings.append(
                ("generation-stopped", f"the model stopped with stop_reason={gen.stop_reason}")
            )
        # tool_use blocks cut by max_tokens run too: their (error) results go back
        outcome.calls = calls
        return outcome
