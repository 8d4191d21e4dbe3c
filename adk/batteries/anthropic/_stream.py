"""Parsing Messages API stream events into a generation (``report_*`` as they come)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from adk.batteries._common import get, utcnow
from adk.batteries._errors import class_for, detail_of, redact
from adk.batteries._executor import Generation
from adk.errors import provider_error
from adk.primitives.ids import new_id
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = ["Block", "MessagesGeneration", "on_event"]


@dataclass(slots=True)
class Block:
    """A content block being streamed (text, thinking, redacted_thinking, tool_use)."""

    kind: str
    id: str
    created_at: datetime
    text: str = ""
    signature: str = ""
    data: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True, kw_only=True)
class MessagesGeneration(Generation):
    """One streamed message (``ended`` = ``message_stop`` arrived)."""

    blocks: dict[int, Block] = field(default_factory=dict[int, Block])
    stop_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict[str, Any])


def on_event(
    helpers: DispatchExecutorHelpers,
    gen: MessagesGeneration,
    event: dict[str, Any],
    *,
    provider: str,
    secrets: Sequence[str],
) -> None:
    """Fold one event into ``gen``, reporting text, thinking and tool-input deltas.

    An ``error`` event sets ``gen.error`` (529 for ``overloaded_error``, 429 for
    ``rate_limit_error``, else 500).

    Raises:
        KeyError: a required field is missing (a malformed stream).
        TypeError: a field has an unexpected type.
        ValueError: an index is not a number.
    """
    kind = event.get("type")
    if kind == "message_start":
        message = get(event, "message")
        model = get(message, "model")
        if isinstance(model, str):
            gen.model = model
        usage = get(message, "usage")
        if isinstance(usage, dict):
            gen.usage.update(cast(dict[str, Any], usage))
    elif kind == "content_block_start":
        index = int(event["index"])
        block = event["content_block"]
        btype = str(block["type"])
        now = utcnow()
        if btype == "tool_use":
            bid = str(block.get("id") or new_id())
            b = Block(kind=btype, id=bid, created_at=now, name=str(block.get("name", "")))
            helpers.report_tool_call(b.id, tool=b.name or None, args="")
        elif btype == "text":
            b = Block(kind=btype, id=gen.message_id, created_at=now)
            initial = block.get("text") or ""
            if initial:
                b.text = initial
                helpers.report_message(gen.message_id, initial)
        elif btype == "redacted_thinking":
            b = Block(kind=btype, id=new_id(), created_at=now)
            b.data = str(block.get("data", ""))
        else:  # thinking (and unknown kinds, kept as thinking-like text)
            b = Block(kind=btype, id=new_id(), created_at=now)
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
        stop = get(get(event, "delta"), "stop_reason")
        if isinstance(stop, str):
            gen.stop_reason = stop
        usage = get(event, "usage")
        if isinstance(usage, dict):
            gen.usage.update(
                {k: v for k, v in cast(dict[str, Any], usage).items() if v is not None}
            )
    elif kind == "message_stop":
        gen.ended = True
    elif kind == "error":
        body: Any = event.get("error", event)
        detail = redact(detail_of(cast(object, body), "error event"), secrets)
        etype = get(body, "type")
        status = 529 if etype == "overloaded_error" else 429 if etype == "rate_limit_error" else 500
        gen.error = provider_error(
            class_for(status, detail),
            f"the model provider reported an error in the stream: {detail}",
            provider=provider,
            provider_status=status,
            detail=detail,
        )
