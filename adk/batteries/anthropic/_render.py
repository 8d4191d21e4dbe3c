"""Rendering a dispatch context as Messages API ``system`` and ``messages``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

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

__all__ = ["THINKING_REPLAY", "render_anthropic"]

THINKING_REPLAY = "anthropic-messages-thinking-v1"
"""``replay_compatibility`` of the thinking Thoughts this executor stores and replays."""


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
