"""``adk chat``: one agent turn against a model, streamed to the terminal."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adk.cli._output import Output
from adk.cli._timing import TimingTransport
from adk.cli._tools import demo_tools
from adk.cli._trace import ChatTrace
from adk.contracts.events import (
    GenerationStatsEvent,
    ToolExecutionEnd,
    ToolExecutionStart,
    TurnStreamableContent,
    TurnToolCallContent,
)
from adk.contracts.turn_context import TurnContext
from adk.errors import AdkError
from adk.primitives import Message, Tokenizable, Tool
from adk.primitives.ids import new_id
from adk.runners.abort import AbortController
from adk.runners.turn import TurnResult, TurnRunner

__all__ = ["ChatOptions", "ChatReport", "run_chat"]

SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the tools for arithmetic, unit conversions and the "
    "current time. Once a tool result is present, answer the user in one plain sentence."
)
PLAIN_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly in plain language."


@dataclass
class ChatOptions:
    """What ``adk chat`` was asked to do (already validated).

    Attributes:
        prompt: The user's question.
        provider: ``"openai"`` or ``"anthropic"``.
        model: The model name sent to the provider.
        base_url: The provider's base URL, or ``None`` for the SDK default.
        api_key: The API key, or ``None`` (never printed).
        tools: The demo tools offered (names).
        system_prompt: The system prompt; ``None`` picks one by whether tools are offered.
        max_tokens: Completion token cap per request.
        temperature: Sampling temperature.
        timeout: Per-request timeout in seconds.
        pipeline: Extra dispatch input middleware (the local model's policy).
        trace: Record the turn to this ``.jsonl`` file or directory (``--trace``), or
            ``None``.
    """

    prompt: str
    provider: str
    model: str
    base_url: str | None
    api_key: str | None
    tools: Sequence[str]
    system_prompt: str | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    timeout: float = 300.0
    pipeline: list[Any] = field(default_factory=list[Any])
    trace: str | None = None


@dataclass
class ChatReport:
    """What happened in the turn (for the summary, ``--json`` and tests).

    Attributes:
        result: The :class:`~adk.TurnResult`.
        answer: The text of the last complete assistant message ("" if none).
        tool_calls: ``(tool, args, result, is_error)`` of each finished tool call.
        prompt_tokens: Prompt tokens over all requests (as the provider reported).
        completion_tokens: Completion tokens over all requests.
        iterations: Dispatch iterations completed (``dispatch_end``; the answering
            iteration, which acks, is not counted).
        requests: Requests sent to the provider (retries included).
        model_s: Seconds on the wire to the provider (request sent → last byte).
        tool_s: Seconds spent running tools (``tool_execution_end`` events).
        decode_tps: Generated tokens per second (llama.cpp's own timing when it reports
            one, else completion tokens over the streaming time), or ``None``.
        trace_path: The trace file written (``--trace``), or ``None``.
    """

    result: TurnResult
    answer: str = ""
    tool_calls: list[tuple[str, Any, Any, bool]] = field(
        default_factory=list[tuple[str, Any, Any, bool]]
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0
    iterations: int = 0
    requests: int = 0
    model_s: float = 0.0
    tool_s: float = 0.0
    decode_tps: float | None = None
    trace_path: Path | None = None

    @property
    def wall_s(self) -> float:
        """The turn's wall time in seconds (``turn_end``'s duration)."""
        return self.result.duration_ms / 1000

    @property
    def framework_s(self) -> float:
        """Wall time neither on the wire nor in tools, in seconds (``adk``'s own share)."""
        return max(0.0, self.wall_s - self.model_s - self.tool_s)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Tokenizable):
        return value.render()
    return str(value)


def _executor(opts: ChatOptions) -> tuple[Any, TimingTransport]:
    """The provider executor and the transport timing its requests."""
    from adk.cli._timing import httpx

    transport = TimingTransport()
    http_client = httpx.AsyncClient(transport=transport, timeout=opts.timeout)
    if opts.provider == "anthropic":
        from anthropic import AsyncAnthropic

        from adk.batteries.anthropic import AnthropicMessagesExecutor

        client = AsyncAnthropic(
            api_key=opts.api_key or os.environ.get("ANTHROPIC_API_KEY") or "",
            base_url=opts.base_url,
            http_client=http_client,
            max_retries=0,
        )
        executor: Any = AnthropicMessagesExecutor(
            client,
            model=opts.model,
            max_tokens=opts.max_tokens,
            temperature=opts.temperature,
            timeout=opts.timeout,
        )
        return executor, transport
    from openai import AsyncOpenAI

    from adk.batteries.openai import OpenAIChatExecutor, RetryPolicy

    key = opts.api_key or os.environ.get("OPENAI_API_KEY") or "sk-no-key-required"
    client = AsyncOpenAI(
        api_key=key, base_url=opts.base_url, http_client=http_client, max_retries=0
    )
    executor = OpenAIChatExecutor(
        client,
        model=opts.model,
        temperature=opts.temperature,
        max_tokens=opts.max_tokens,
        timeout=opts.timeout,
        retry=RetryPolicy(max_attempts=2, base_delay=0.25),
    )
    return executor, transport


async def run_chat(
    opts: ChatOptions, out: Output, controller: AbortController | None = None
) -> ChatReport:
    """Run one turn for ``opts.prompt`` and print it as it happens.

    Args:
        opts: The validated options.
        out: The printer.
        controller: Aborts the turn when fired; ``None`` makes one.

    Returns:
        The :class:`ChatReport` (also when the turn failed; see ``report.result``).
    """
    executor, transport = _executor(opts)
    available = demo_tools()
    tools: list[Tool] = [available[name] for name in opts.tools]
    prompt_text = opts.system_prompt or (SYSTEM_PROMPT if tools else PLAIN_SYSTEM_PROMPT)

    async def ask(ctx: TurnContext, next: Any) -> None:
        now = datetime.now(UTC)
        question = Message(
            id=new_id(), role="user", content=opts.prompt, created_at=now, updated_at=now
        )
        await ctx.store_message(question)
        ctx.turn_messages.add(question)
        await next()

    options: dict[str, Any] = {
        "tools": tools,
        "turn_input_pipeline": [ask],
        "dispatch_input_pipeline": list(opts.pipeline),
    }
    recording: ChatTrace | None = None
    if opts.trace is not None:
        recording = ChatTrace(opts.trace)
        runner = recording.recorder.runner(executor=executor, **options)
    else:
        runner = TurnRunner(executor=executor, **options)
    answers: dict[str, str] = {}
    order: list[str] = []
    stats: list[GenerationStatsEvent] = []
    iterations: list[int] = []
    tool_ms: list[float] = []
    finished: list[tuple[str, Any, Any, bool]] = []

    def on_message(chunk: TurnStreamableContent) -> None:
        if chunk.id not in answers:
            order.append(chunk.id)
        answers[chunk.id] = chunk.full
        out.delta(chunk.id, chunk.a_delta, chunk.is_complete)

    def on_tool_start(event: ToolExecutionStart) -> None:
        out.tool_start(event.call_id, event.tool_name, event.args)

    def on_tool_call(call: TurnToolCallContent) -> None:
        if call.is_complete:
            results = _text(call.results)
            out.tool_result(call.id, call.tool, results, call.is_error)
            finished.append((call.tool, call.args, results, call.is_error))

    def on_tool_end(event: ToolExecutionEnd) -> None:
        tool_ms.append(event.duration_ms)

    runner.on("message", on_message).on("tool_call", on_tool_call)
    runner.observe("tool_execution_start", on_tool_start)
    runner.observe("tool_execution_end", on_tool_end)
    runner.observe("generation_stats", stats.append)
    runner.observe("dispatch_end", lambda e: iterations.append(e.iterations))

    if not out.json_mode:
        out.out.write(f"you> {opts.prompt}\n")
        out.out.flush()
    else:
        out.event("turn_start", prompt=opts.prompt, model=opts.model, tools=list(opts.tools))
    trace_path: Path | None = None
    try:
        if recording is not None:
            result = await recording.recorder.run(
                runner, system_prompt=prompt_text, turn_abort_controller=controller
            )
        else:
            result = await runner.run(system_prompt=prompt_text, turn_abort_controller=controller)
    finally:
        if recording is not None:  # blocking on purpose: also on cancellation
            trace_path = recording.close()
        client = getattr(executor, "_client", None)
        close = getattr(client, "close", None)
        if close is not None:
            try:
                await close()
            except Exception:
                pass
    report = ChatReport(result=result, tool_calls=finished, trace_path=trace_path)
    report.answer = answers[order[-1]] if order else ""
    report.iterations = iterations[-1] if iterations else 0
    report.prompt_tokens = sum(s.prompt_tokens or 0 for s in stats)
    report.completion_tokens = sum(s.completion_tokens or 0 for s in stats)
    report.tool_s = sum(tool_ms) / 1000
    exchanges = transport.exchanges
    report.requests = len(exchanges)
    report.model_s = sum(x.seconds for x in exchanges)
    predicted_n = sum(int(x.timings.get("predicted_n", 0)) for x in exchanges if x.timings)
    predicted_ms = sum(float(x.timings.get("predicted_ms", 0)) for x in exchanges if x.timings)
    if predicted_n and predicted_ms > 0:
        report.decode_tps = predicted_n / predicted_ms * 1000
    else:
        streaming = sum(x.last_byte - x.first_byte for x in exchanges if x.first_byte is not None)
        if report.completion_tokens and streaming > 0:
            report.decode_tps = report.completion_tokens / streaming
    return report


def describe_error(err: BaseException) -> str:
    """One line for an error: ``"E_CODE: message"`` (and the fix hint when there is one)."""
    if isinstance(err, AdkError):
        text = str(err)
        if err.help and err.help not in text:
            text += f" (fix: {err.help})"
    else:
        text = f"{type(err).__name__}: {err}"
    return " ".join(text.split())
