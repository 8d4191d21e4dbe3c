"""Type aliases of the runner contracts: middleware, ``next``, executors, hooks.

Middleware is ``async def mw(ctx, next) -> None``: code before ``await next()`` runs on the
way in (registration order), code after it on the way out (reverse order). ``next`` is
once-only; not calling it stops the chain (a short circuit unless the context is aborted or,
in dispatch pipelines, signalled). An exception is caught at the level that raised it: the
upstream ``await next()`` returns normally (RUNNERS.md §5). Sync callables work too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

__all__ = ["Executor", "Hook", "Middleware", "Next"]

Next: TypeAlias = Callable[[], Awaitable[None]]
"""The ``next`` continuation handed to middleware (once-only)."""

Middleware: TypeAlias = Callable[[Any, Next], Awaitable[None] | None]
"""``(ctx, next) -> None`` (sync or async)."""

Executor: TypeAlias = Callable[[Any, Any], Awaitable[None] | None]
"""``(ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> None`` (sync or async)."""

Hook: TypeAlias = Callable[[Any], Awaitable[None] | None]
"""An event listener: ``(payload) -> None`` (sync or async)."""
