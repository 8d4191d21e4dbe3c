"""Rendering a dispatch context as chat-completions ``messages``."""

from __future__ import annotations

from typing import Any

import msgspec

from adk.batteries._render import (
    is_self,
    render_foreign,
    render_system,
    render_thought,
    render_tool_result,
    text_of,
    timeline,
)
from adk.contracts.dispatch_context import DispatchContext
from adk.primitives import Message, ToolCall

__all__ = ["render_messages"]


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
