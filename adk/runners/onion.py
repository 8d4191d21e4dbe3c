"""The middleware onion (RUNNERS.md §5).

Semantics (as ``@nhtio/middleware`` / ``@poppinss/middleware`` with an error handler and a
final handler installed, which the ADK always does):

* Middleware run in registration order on the way in; code after ``await next()`` runs in
  reverse order on the way out.
* ``next`` is once-only: later calls do nothing.
* Not calling ``next`` stops the chain; the final handler is not reached.
* An exception is caught **at the level that raised it** and handed to the error handler;
  the upstream ``await next()`` returns normally and its post-``next`` code keeps running.
* Abort-skip wrapper: a middleware whose turn comes when the context is already aborted is
  skipped and ``next()`` is called in its place.
* Prompt abort (PORT.md §7.2, §9.2): each middleware body runs in a cancel scope bound to
  the abort signal; a body cancelled by the abort counts as an abort-class error at its own
  level (swallowed), and the outer ``await next()`` returns normally.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from adk.contracts.types import Middleware
from adk.errors import AbortError
from adk.runners._prompt_abort import Levels

__all__ = ["run_chain", "run_onion"]

T = TypeVar("T")


async def _done() -> None:
    return None


async def run_chain(
    middlewares: Sequence[Middleware],
    ctx: Any,
    levels: Levels,
    on_error: Callable[[Exception], None],
) -> bool:
    """Run ``middlewares`` over ``ctx`` with a no-op final handler.

    Args:
        middlewares: The chain, outermost first; sync or async ``(ctx, next)`` callables.
        ctx: The context handed to each middleware (must have ``aborted``).
        levels: Binds each middleware body to the abort signal (prompt abort).
        on_error: Receives each non-abort exception, once per level that raised.

    Returns:
        Whether the final handler was reached.
    """
    reached = False
    count = len(middlewares)

    async def call(index: int) -> None:
        nonlocal reached
        if index == count:
            reached = True
            return
        called = False

        def next_() -> Awaitable[None]:
            # A plain function returning the next level's coroutine: one frame less per
            # level than an ``async def`` wrapper.
            nonlocal called
            if called:
                return _done()
            called = True
            return call(index + 1)

        if ctx.aborted:
            await next_()
            return
        middleware = middlewares[index]
        try:
            with levels:
                result = middleware(ctx, next_)
                if result is not None and inspect.isawaitable(result):
                    await result
        except AbortError:
            pass
        except Exception as exc:
            on_error(exc)

    await call(0)
    return reached


async def run_onion(
    ctx: Any,
    middlewares: Sequence[Middleware],
    core: Callable[[], Awaitable[T]],
    on_no_next: Callable[[], T],
) -> T:
    """Wrap ``core`` in ``middlewares`` and return its result (``runOnion`` of the ADK).

    Source: ``src/lib/middleware/run_onion.ts``. Used by batteries to put middleware around
    a unit of work. With no middleware, ``await core()`` is returned directly. Otherwise the
    chain runs; errors are caught per level and the **last** one is re-raised once the whole
    onion has unwound; if ``core`` never ran, ``on_no_next()`` is returned (it is expected to
    raise). No abort-skip wrapper and no cancel scopes apply here.

    Args:
        ctx: Handed to each middleware.
        middlewares: ``(ctx, next)`` callables, outermost first.
        core: The work at the centre.
        on_no_next: Called when a middleware did not call ``next``.

    Returns:
        The result of ``core()``.
    """
    if not middlewares:
        return await core()
    state: dict[str, Any] = {}
    count = len(middlewares)

    async def call(index: int) -> None:
        if index == count:
            state["ran"] = True
            try:
                state["result"] = await core()
            except Exception as exc:
                state["error"] = exc
            return
        called = False

        async def next_() -> None:
            nonlocal called
            if called:
                return
            called = True
            await call(index + 1)

        try:
            result = middlewares[index](ctx, next_)
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception as exc:
            state["error"] = exc

    await call(0)
    if "error" in state:
        raise state["error"]
    if not state.get("ran"):
        return on_no_next()
    return state["result"]
