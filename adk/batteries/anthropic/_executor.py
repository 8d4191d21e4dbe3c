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

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import anthropic
import anyio
import msgspec
import uuid6
from anthropic import AsyncAnthropic

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
    E_PROVIDER_CONTEXT_OVERFLOW,
    E_PROVIDER_MALFORMED_STREAM,
    AdkError,
    is_abort_error,
    provider_error,
)
from adk.primitives import Message, Thought, ToolCall
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = ["THINKING_REPLAY", "AnthropicMessagesExecutor", "render_anthropic", "translate_error"]

THINKING_REPLAY = "anthropic-messages-thinking-v1"
"""``replay_compatibility`` of the thinking Thoughts this executor stores and replays."""

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


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def render_anthropic(
    ctx: DispatchContext,
    *,
    self_identity: str = "assistant",
    warn: Callable[[str], None] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Render the dispatch context as Messages API ``system`` and ``messages``.

    Args:
        ctx: The dispatch context.
        self_identity: The identifier of the agent's own identity.
        warn: Called with a message for each dropped leading assistant turn; ``None``
            ignores them.

    Returns:
        ``(system, messages)``: the system text (``""`` when empty) and the turns, each
        ``{"role", "content": [blocks]}``, alternating and starting with ``user``.
    """
    system = render_system(ctx)
    turns: list[tuple[str, list[dict[str, Any]]]] = []

    def add(role: str, block: dict[str, Any]) -> None:
        if turns and turns[-1][0] == role:
            turns[-1][1].append(block)
        else:
            turns.append((role, [block]))

    results: list[dict[str, Any]] = []

    def flush_results() -> None:
        for r in results:
            add("user", r)
        results.clear()

    for item in timeline(ctx, replay_compatibility=THINKING_REPLAY):
        if isinstance(item, ToolCall):
            add(
                "assistant",
                {"type": "tool_use", "id": item.id, "name": item.tool, "input": dict(item.args)},
            )
            tool = ctx.tools.get(item.tool)
            trusted = bool(tool is not None and tool.trusted)
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": item.id,
                    "content": render_tool_result(item, trusted=trusted, ctx=ctx),
                    "is_error": item.is_error,
                }
            )
            continue
        flush_results()
        if isinstance(item, Message):
            if item.role == "user":
                own = str(item.identity.identifier) == "user"
                text = text_of(item.content, ctx) if own else render_foreign(item, ctx)
                if text:
                    add("user", _text_block(text))
            elif is_self(item.identity, self_identity):
                text = text_of(item.content, ctx)
                if text:
                    add("assistant", _text_block(text))
            else:
                add("user", _text_block(render_foreign(item, ctx)))
        elif is_self(item.identity, self_identity):
            payload: Any = item.payload
            if isinstance(payload, Mapping):
                p = cast(Mapping[str, Any], payload)
                if p.get("variant") == "redacted_thinking":
                    add("assistant", {"type": "redacted_thinking", "data": p.get("data", "")})
                else:
                    add(
                        "assistant",
                        {
                            "type": "thinking",
                            "thinking": p.get("thinking", ""),
                            "signature": p.get("signature", ""),
                        },
                    )
            elif payload is None:
                add("assistant", _text_block(render_thought(item, ctx)))
    flush_results()
    while turns and turns[0][0] == "assistant":
        turns.pop(0)
        if warn is not None:
            warn("dropped a leading assistant turn (the Messages API starts with user)")
    return system, [{"role": role, "content": blocks} for role, blocks in turns]


@dataclass(slots=True)
class _Block:
    kind: str
    id: str
    created_at: datetime
    text: str = ""
    signature: str = ""
    data: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _Generation:
    message_id: str
    blocks: dict[int, _Block] = field(default_factory=dict[int, _Block])
    stop_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict[str, Any])
    model: str | None = None
    stopped: bool = False
    error: AdkError | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _get(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return cast(dict[str, Any], value).get(key)
    return None


class AnthropicMessagesExecutor:
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
        bad: list[str] = []
        if not isinstance(model, str) or not model:  # pyright: ignore[reportUnnecessaryIsInstance]
            bad.append("model must be a non-empty str")
        if not isinstance(max_tokens, int) or max_tokens < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
            bad.append("max_tokens must be an int >= 1")
        if temperature is not None and not 0 <= temperature <= 1:
            bad.append("temperature must be in [0, 1]")
        if not timeout > 0:
            bad.append("timeout must be > 0 seconds")
        if stream_idle_timeout is not None and not stream_idle_timeout > 0:
            bad.append("stream_idle_timeout must be > 0 seconds or None")
        if client is None and api_key is None:
            api_key = os.environ.get("ANTHROPIC_API_KEY")
            if api_key is None:
                if base_url is None:
                    bad.append("api_key is required for the default Anthropic endpoint")
                api_key = _NO_KEY
        if bad:
            raise E_INVALID_PROVIDER_OPTIONS(
                message="invalid AnthropicMessagesExecutor options: " + "; ".join(bad)
            )
        if client is None:
            client = AsyncAnthropic(base_url=base_url, api_key=api_key, max_retries=0)
        else:
            client = client.with_options(max_retries=0)
        self._client = client
        self._secrets: tuple[str, ...] = tuple(
            s for s in (api_key, getattr(client, "api_key", None)) if isinstance(s, str)
        )
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.stop_sequences = list(stop_sequences) if stop_sequences is not None else None
        self.thinking = dict(thinking) if thinking is not None else None
        self.tool_choice = dict(tool_choice) if tool_choice is not None else None
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
        return (
            f"AnthropicMessagesExecutor(model={self.model!r}, "
            f"base_url={str(self._client.base_url)!r})"
        )

    @property
    def client(self) -> AsyncAnthropic:
        """The SDK client in use (with SDK retries off)."""
        return self._client

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        await self._client.close()

    async def __aenter__(self) -> AnthropicMessagesExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

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

    async def __call__(self, ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> None:
        """Run one iteration (see the class docstring).

        Raises:
            Exception: only what the context's persistence callbacks or ``ack`` raise;
                provider failures nack instead.
        """
        if ctx.abort_signal.aborted:
            return

        def warn(message: str) -> None:
            helpers.log.warn(kind="render-repair", message=message)

        request = self.build_request(ctx, warn)
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
        create = cast(Callable[..., Any], self._client.messages.with_streaming_response.create)
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
        gen = _Generation(message_id=str(uuid6.uuid6()))

        def on_event(kind: str | None, payload: str) -> None:
            if gen.error is not None or gen.stopped:
                return
            try:
                event: Any = msgspec.json.decode(payload)
                if not isinstance(event, dict):
                    raise ValueError(f"expected a JSON object, got {type(event).__name__}")
                self._on_event(helpers, gen, cast(dict[str, Any], event))
            except (ValueError, TypeError, KeyError, msgspec.DecodeError) as exc:
                gen.error = provider_error(
                    E_PROVIDER_MALFORMED_STREAM,
                    f"the model provider sent an unparsable or unexpected event: {exc}",
                    provider=self.provider,
                    detail=redact(payload[:500], self._secrets),
                    cause=exc,
                )

        try:
            await read_sse(
                response,
                on_event,
                idle_timeout=self.stream_idle_timeout,
                provider=self.provider,
                translate=lambda exc: translate_error(
                    exc, provider=self.provider, secrets=self._secrets
                ),
            )
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await manager.__aexit__(None, None, None)
                except Exception:
                    pass
        if gen.error is not None:
            raise gen.error
        if gen.stop_reason is None:
            # message_stop is not trusted to arrive (as in the ADK), but a stop reason is
            raise provider_error(
                E_PROVIDER_MALFORMED_STREAM,
                "the model provider's stream ended before a stop_reason",
                provider=self.provider,
            )
        return gen

    def _on_event(
        self, helpers: DispatchExecutorHelpers, gen: _Generation, event: dict[str, Any]
    ) -> None:
        kind = event.get("type")
        if kind == "message_start":
            message = _get(event, "message")
            model = _get(message, "model")
            if isinstance(model, str):
                gen.model = model
            usage = _get(message, "usage")
            if isinstance(usage, dict):
                gen.usage.update(cast(dict[str, Any], usage))
        elif kind == "content_block_start":
            index = int(event["index"])
            block = event["content_block"]
            btype = str(block["type"])
            now = _now()
            if btype == "tool_use":
                bid = str(block.get("id") or uuid6.uuid6())
                b = _Block(kind=btype, id=bid, created_at=now, name=str(block.get("name", "")))
                helpers.report_tool_call(b.id, tool=b.name or None, args="")
            elif btype == "text":
                b = _Block(kind=btype, id=gen.message_id, created_at=now)
                initial = block.get("text") or ""
                if initial:
                    b.text = initial
                    helpers.report_message(gen.message_id, initial)
            elif btype == "redacted_thinking":
                b = _Block(kind=btype, id=str(uuid6.uuid6()), created_at=now)
                b.data = str(block.get("data", ""))
            else:  # thinking (and unknown kinds, kept as thinking-like text)
                b = _Block(kind=btype, id=str(uuid6.uuid6()), created_at=now)
            gen.blocks[index] = b
        elif kind == "content_block_delta":
            b = gen.blocks[int(event["index"])]
            delta = event["delta"]
            dtype = delta.get("type")
            if dtype == "text_delta":
                b.text += delta["text"]
                helpers.report_message(gen.message_id, delta["text"])
            elif dtype == "thinking_delta":
                b.text += delta["thinking"]
                helpers.report_thought(b.id, delta["thinking"])
            elif dtype == "signature_delta":
                b.signature += delta["signature"]
            elif dtype == "input_json_delta":
                b.arguments += delta["partial_json"]
                helpers.report_tool_call(b.id, tool=b.name or None, args=b.arguments)
        elif kind == "message_delta":
            stop = _get(_get(event, "delta"), "stop_reason")
            if isinstance(stop, str):
                gen.stop_reason = stop
            usage = _get(event, "usage")
            if isinstance(usage, dict):
                gen.usage.update(
                    {k: v for k, v in cast(dict[str, Any], usage).items() if v is not None}
                )
        elif kind == "message_stop":
            gen.stopped = True
        elif kind == "error":
            body: Any = event.get("error", event)
            detail = redact(detail_of(cast(object, body), "error event"), self._secrets)
            etype = _get(body, "type")
            status = (
                529 if etype == "overloaded_error" else 429 if etype == "rate_limit_error" else 500
            )
            gen.error = provider_error(
                class_for(status, detail),
                f"the model provider reported an error in the stream: {detail}",
                provider=self.provider,
                provider_status=status,
                detail=detail,
            )

    async def _finish(
        self, ctx: DispatchContext, helpers: DispatchExecutorHelpers, gen: _Generation
    ) -> None:
        usage = gen.usage
        prompt = sum(
            int(usage.get(k) or 0)
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
        completion = int(usage.get("output_tokens") or 0)
        helpers.report_generation_stats(
            {
                "provider": self.provider,
                "model": gen.model or self.model,
                "prompt_tokens": prompt if usage else None,
                "completion_tokens": completion if usage else None,
                "total_tokens": prompt + completion if usage else None,
                "finish_reason": gen.stop_reason,
                "raw": dict(usage) if usage else None,
            }
        )
        now = _now()
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
                await ctx.store_thought(
                    Thought(
                        id=b.id,
                        payload={"variant": "redacted_thinking", "data": b.data},
                        replay_compatibility=THINKING_REPLAY,
                        created_at=b.created_at,
                        updated_at=now,
                    )
                )
            else:
                helpers.report_thought(b.id, "", is_complete=True)
                await ctx.store_thought(
                    Thought(
                        id=b.id,
                        content=b.text,
                        payload={
                            "variant": "thinking",
                            "thinking": b.text,
                            "signature": b.signature,
                        },
                        replay_compatibility=THINKING_REPLAY,
                        created_at=b.created_at,
                        updated_at=now,
                    )
                )
        if text_started is not None:
            helpers.report_message(gen.message_id, "", is_complete=True)
            await ctx.store_message(
                Message(
                    id=gen.message_id,
                    role="assistant",
                    content=text,
                    created_at=text_started,
                    updated_at=now,
                )
            )
        if gen.stop_reason == "model_context_window_exceeded":
            err = provider_error(
                E_PROVIDER_CONTEXT_OVERFLOW,
                "the model stopped: the context window is exhausted",
                provider=self.provider,
            )
            helpers.log.error(kind="provider-error", message=str(err))
            if not ctx.is_signalled:
                ctx.nack(err)
            return
        if gen.stop_reason in ("max_tokens", "refusal", "pause_turn"):
            helpers.log.warn(
                kind="generation-stopped",
                message=f"the model stopped with stop_reason={gen.stop_reason}",
            )
        if calls:  # also tool_use blocks cut by max_tokens: their (error) results go back
            await run_tool_calls(ctx, helpers, calls, concurrent=self.concurrent_tools)
            return
        if self.auto_ack and not ctx.is_signalled:
            ctx.ack()
