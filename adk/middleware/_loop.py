"""Loop guards: iteration cap, repeated-call guard, tool-round cap (dispatch input middleware)."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from adk.contracts.dispatch_context import DispatchContext
from adk.errors import E_INVALID_MIDDLEWARE_OPTIONS, E_MAX_ITERATIONS

__all__ = [
    "E_INVALID_MIDDLEWARE_OPTIONS",
    "E_MAX_ITERATIONS",
    "DispatchMiddleware",
    "OnHide",
    "hide_all_tools",
    "max_iterations",
    "max_tool_rounds",
    "repeated_tool_call_guard",
]

DispatchMiddleware = Callable[[DispatchContext, Callable[[], Awaitable[None]]], Awaitable[None]]
"""``async (ctx, next) -> None``: the shape of every middleware here."""

OnHide = Callable[[DispatchContext, str], object]
"""``on_hide(ctx, reason)``: told when a guard hides the tools (``reason`` is one line)."""


def _check_count(factory: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise E_INVALID_MIDDLEWARE_OPTIONS(
            message=f"{factory}: {name} must be an int >= {minimum}, got {value!r}"
        )
    return value


def hide_all_tools(ctx: DispatchContext) -> list[str]:
    """Hide every tool of this dispatch (``ctx.tools`` only; the runner's are untouched).

    Args:
        ctx: The dispatch context.

    Returns:
        The names that were visible and are now hidden (empty if none were).
    """
    names = [t.name for t in ctx.tools.visible()]
    if names:
        ctx.tools.hide(*names)
    return names


def max_iterations(n: int, *, final_answer: bool = False) -> DispatchMiddleware:
    """Cap the dispatch loop at ``n`` iterations.

    Iterations are 0-based: iterations ``0 … n-1`` run normally. At iteration ``n`` the
    middleware nacks the dispatch with :class:`E_MAX_ITERATIONS` (the turn then fails
    with that error), or, with ``final_answer=True``, hides every tool so that iteration
    ``n`` must answer; should the model still not finish, iteration ``n + 1`` nacks.

    Args:
        n: Iterations allowed (``>= 1``).
        final_answer: Give the model one last iteration without tools instead of failing.

    Returns:
        A dispatch input middleware.

    Raises:
        E_INVALID_MIDDLEWARE_OPTIONS: ``n`` is not an int ``>= 1``.
    """
    limit = _check_count("max_iterations", "n", n, 1)

    async def max_iterations_middleware(
        ctx: DispatchContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        iteration = ctx.iteration
        if iteration >= limit:
            if not final_answer or iteration > limit:
                ctx.nack(E_MAX_ITERATIONS(limit))
                return  # a signal is a legitimate way to stop without next()
            hide_all_tools(ctx)
        await next()

    return max_iterations_middleware


def repeated_tool_call_guard(
    max_repeats: int = 1, *, on_hide: OnHide | None = None
) -> DispatchMiddleware:
    """Hide every tool once the model repeats an identical tool call.

    Before each iteration, every distinct checksum in ``ctx.turn_tool_calls`` is counted
    with ``ctx.tool_call_count(checksum)``. Once one appears more than ``max_repeats``
    times (with the default 1: as soon as an identical call, same tool and same canonical
    arguments, is made a second time), the tools are hidden for the rest of the dispatch,
    so the next request carries no tools and the model has to answer from the results it
    has. Calls already in the turn's history count too.

    Args:
        max_repeats: How many times one identical call may appear before the tools are
            hidden (``>= 1``).
        on_hide: Called once per dispatch when the guard hides the tools.

    Returns:
        A dispatch input middleware.

    Raises:
        E_INVALID_MIDDLEWARE_OPTIONS: ``max_repeats`` is not an int ``>= 1``.
    """
    limit = _check_count("repeated_tool_call_guard", "max_repeats", max_repeats, 1)

    async def repeated_tool_call_guard_middleware(
        ctx: DispatchContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        calls = ctx.turn_tool_calls
        if len(calls) > limit:
            seen: set[str] = set()
            for call in calls:
                checksum = call.checksum
                if checksum in seen:
                    continue
                seen.add(checksum)
                count = ctx.tool_call_count(checksum)
                if count > limit:
                    if hide_all_tools(ctx) and on_hide is not None:
                        on_hide(ctx, f"{call.tool} was called {count} times with the same args")
                    break
        await next()

    return repeated_tool_call_guard_middleware


def max_tool_rounds(n: int = 1, *, on_hide: OnHide | None = None) -> DispatchMiddleware:
    """Hide every tool after ``n`` iterations of this dispatch that made tool calls.

    For small models that, with tools attached, call one again instead of answering
    (LOCAL-MODEL.md): after their round of calls the next request carries no tools.
    A round is an iteration after which ``ctx.turn_tool_calls`` grew; calls already in
    the turn before the dispatch do not count.

    Args:
        n: Tool-calling iterations allowed (``>= 1``).
        on_hide: Called once per dispatch when the tools are hidden.

    Returns:
        A dispatch input middleware.

    Raises:
        E_INVALID_MIDDLEWARE_OPTIONS: ``n`` is not an int ``>= 1``.
    """
    limit = _check_count("max_tool_rounds", "n", n, 1)
    # Per dispatch: [tool calls seen at the last iteration, rounds so far].
    state: weakref.WeakKeyDictionary[DispatchContext, list[int]] = weakref.WeakKeyDictionary()

    async def max_tool_rounds_middleware(
        ctx: DispatchContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        count = len(ctx.turn_tool_calls)
        seen = state.get(ctx)
        if seen is None:
            state[ctx] = [count, 0]
        elif count > seen[0]:
            seen[0] = count
            seen[1] += 1
            if seen[1] >= limit and hide_all_tools(ctx) and on_hide is not None:
                on_hide(ctx, f"{seen[1]} round(s) of tool calls made")
        await next()

    return max_tool_rounds_middleware
