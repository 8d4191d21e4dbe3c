"""Parsing chat-completions stream chunks into a generation (``report_*`` as they come).

The hot path of an iteration: written with plain ``dict.get`` and exact ``type`` checks
(a JSON decoder yields exact ``dict``/``list``/``str``), anything of another shape is
ignored as in the ADK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import msgspec

from adk.batteries._common import get, utcnow
from adk.batteries._errors import class_for, detail_of, redact
from adk.batteries._executor import Generation
from adk.errors import AdkError, provider_error
from adk.primitives.ids import new_id
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = ["ChatGeneration", "PendingCall", "on_chunk", "stream_error"]


@dataclass(slots=True)
class PendingCall:
    """A tool call being streamed: its argument text grows chunk by chunk."""

    id: str
    created_at: datetime
    name: str = ""
    arguments: str = ""


@dataclass(slots=True, kw_only=True)
class ChatGeneration(Generation):
    """One streamed chat completion (``ended`` = ``[DONE]`` arrived)."""

    thought_id: str
    text: str = ""
    text_started: datetime | None = None
    reasoning: str = ""
    reasoning_started: datetime | None = None
    calls: dict[int, PendingCall] = field(default_factory=dict[int, PendingCall])
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None


def stream_error(chunk: dict[str, Any], *, provider: str, secrets: Sequence[str]) -> AdkError:
    """The ``E_PROVIDER_*`` error of an ``error`` chunk (status from ``error.code``)."""
    body: Any = chunk.get("error", chunk)
    code: object = get(body, "code")
    status = code if isinstance(code, int) and 100 <= code <= 599 else 0
    detail = redact(detail_of(cast(object, body), "error event in the stream"), secrets)
    return provider_error(
        class_for(status or 500, detail),
        f"the model provider reported an error in the stream: {detail}",
        provider=provider,
        provider_status=status,
        detail=detail,
    )


def _on_tool_call(helpers: DispatchExecutorHelpers, gen: ChatGeneration, tc: Any) -> None:
    index = get(tc, "index")
    if not isinstance(index, int):
        index = len(gen.calls)
    pending = gen.calls.get(index)
    if pending is None:
        call_id = get(tc, "id")
        pending = gen.calls[index] = PendingCall(
            id=call_id if type(call_id) is str and call_id else new_id(),
            created_at=utcnow(),
        )
    fn = get(tc, "function")
    name = get(fn, "name")
    if type(name) is str and name:
        pending.name += name
    arguments = get(fn, "arguments")
    if type(arguments) is str and arguments:
        pending.arguments += arguments
    elif type(arguments) is dict:  # some servers send parsed objects
        pending.arguments = msgspec.json.encode(arguments).decode()
    helpers.report_tool_call(pending.id, tool=pending.name or None, args=pending.arguments)


def on_chunk(helpers: DispatchExecutorHelpers, gen: ChatGeneration, chunk: dict[str, Any]) -> None:
    """Fold one chunk into ``gen``, reporting text, reasoning and tool-call deltas.

    Only choice ``0`` (or a choice without an index) is read; ``usage``, ``model`` and
    ``finish_reason`` are kept for the end of the iteration.
    """
    usage = chunk.get("usage")
    if type(usage) is dict:
        gen.usage = cast(dict[str, Any], usage)
    model = chunk.get("model")
    if type(model) is str and model:
        gen.model = model
    choices = chunk.get("choices")
    if type(choices) is not list:
        return
    for choice in cast(list[Any], choices):
        if type(choice) is not dict:
            continue
        choice = cast(dict[str, Any], choice)
        if choice.get("index") not in (0, None):
            continue
        delta = choice.get("delta")
        if type(delta) is dict:
            delta = cast(dict[str, Any], delta)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if type(reasoning) is str and reasoning:
                if gen.reasoning_started is None:
                    gen.reasoning_started = utcnow()
                gen.reasoning += reasoning
                helpers.report_thought(gen.thought_id, reasoning)
            content = delta.get("content")
            if type(content) is str and content:
                if gen.text_started is None:
                    gen.text_started = utcnow()
                gen.text += content
                helpers.report_message(gen.message_id, content)
            tool_calls = delta.get("tool_calls")
            if type(tool_calls) is list:
                for tc in cast(list[Any], tool_calls):
                    _on_tool_call(helpers, gen, tc)
        finish = choice.get("finish_reason")
        if type(finish) is str and finish:
            gen.finish_reason = finish
