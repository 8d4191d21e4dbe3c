"""The agent-loop policy that makes the 0.5B Qwen model a working agent (LOCAL-MODEL.md).

With tools attached the model never declines to call one: after a tool result it calls
again. Sent without tools, with a system prompt telling it to answer in plain language,
it answers correctly. :func:`recommended_pipeline` puts that into dispatch middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adk.batteries.local._model import LocalModel
from adk.contracts.dispatch_context import DispatchContext
from adk.middleware import (
    DispatchMiddleware,
    OnHide,
    max_iterations,
    max_tool_rounds,
    repeated_tool_call_guard,
)
from adk.primitives import Tokenizable

__all__ = ["ANSWER_PROMPT", "answer_in_prose", "recommended_pipeline"]

ANSWER_PROMPT = (
    "A tool result is present below: answer the user in one plain English sentence "
    "using it. Never output JSON."
)
"""Appended to the system prompt when the model must answer from tool results."""


def answer_in_prose(prompt: str = ANSWER_PROMPT) -> DispatchMiddleware:
    """Tell the model to answer in prose once tools are hidden and results are present.

    When the dispatch has no visible tools and the turn holds a complete tool call,
    ``prompt`` is appended (once) to this dispatch's system prompt; the turn's own system
    prompt is not changed.

    Args:
        prompt: The instruction appended (after a blank line).

    Returns:
        A dispatch input middleware; place it after the middleware that hides tools.
    """
    suffix = "\n\n" + prompt

    async def answer_in_prose_middleware(
        ctx: DispatchContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        if not ctx.tools.visible() and any(c.is_complete for c in ctx.turn_tool_calls):
            text = ctx.system_prompt.render(ctx)
            if not text.endswith(suffix):
                ctx.system_prompt = Tokenizable(text + suffix)
        await next()

    return answer_in_prose_middleware


def recommended_pipeline(
    model: LocalModel, *, iterations: int = 4, on_hide: OnHide | None = None
) -> list[DispatchMiddleware]:
    """The dispatch input middleware to run a local model's agent loop with.

    For a model with tool calls (:data:`QWEN`): ``max_iterations(iterations,
    final_answer=True)``, :func:`~adk.middleware.repeated_tool_call_guard`,
    ``max_tool_rounds(1)`` (one round of calls, then tools are hidden) and
    :func:`answer_in_prose`. For a plain-chat model: only the iteration cap.

    Args:
        model: The local model.
        iterations: The iteration cap (``>= 1``).
        on_hide: Told when a guard hides the tools (for progress display).

    Returns:
        A new list, outermost first.
    """
    pipeline: list[DispatchMiddleware] = [max_iterations(iterations, final_answer=True)]
    if model.supports_tools:
        pipeline += [
            repeated_tool_call_guard(on_hide=on_hide),
            max_tool_rounds(1, on_hide=on_hide),
            answer_in_prose(),
        ]
    return pipeline
