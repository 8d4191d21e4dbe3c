"""Prompt abort for a runner's nested levels, cheaply (PORT.md §7.2, §9.2).

Every executor call and middleware body runs as a *level* bound to the abort signal: when
the signal fires, whatever the innermost level is awaiting is cancelled; that level
swallows its own cancellation (an abort-class error at its own level), its caller's
``await next()`` returns normally, and the next outer level's following suspension is
cancelled in turn (each level is bound to the same signal).

Only the innermost level is ever cancelled at a time, which is what makes each level catch
its own cancellation on both backends (trio delivers a cancellation to the outermost
cancelled scope, so cancelling every level at once would skip the outer post-``next`` code).

* asyncio: no cancel scope per level (anyio's cost several µs each, paid ~5 times per
  dispatch): one signal listener per runner schedules ``task.cancel()`` on the event loop;
  the innermost level catches the resulting ``CancelledError`` and calls
  ``task.uncancel()``, exactly as ``asyncio.timeout`` does, then re-arms the cancellation
  for the next outer level. A cancellation the runner did not request always propagates.
* other backends (trio): each level is an anyio ``CancelScope``; the signal cancels the
  innermost one, and a level exiting after the abort cancels the next outer one.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import anyio

from adk.runners.abort import AbortSignal

__all__ = ["Levels"]


class Levels:
    """Reentrant context manager: ``with levels:`` marks one level.

    Levels are strictly nested and all run in the task that created the ``Levels`` (the
    runner's task).

    Args:
        signal: The abort signal the levels follow.
    """

    __slots__ = (
        "_asyncio",
        "_base",
        "_depth",
        "_handle",
        "_loop",
        "_requested",
        "_scopes",
        "_signal",
        "_task",
    )

    def __init__(self, signal: AbortSignal) -> None:
        self._signal = signal
        self._depth = 0
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.Handle | None = None
        self._requested = False
        self._base = 0
        self._scopes: list[anyio.CancelScope] = []
        try:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            self._asyncio = self._task is not None
        except RuntimeError:  # trio (or no loop): anyio cancel scopes
            self._asyncio = False
        if not signal._aborted:
            signal.add_listener(self._on_abort)

    def _on_abort(self, signal: AbortSignal) -> None:
        if self._asyncio:
            if self._depth:
                self._arm()
        elif self._scopes:
            self._scopes[-1].cancel()

    # -- asyncio ---------------------------------------------------------------------------
    def _arm(self) -> None:
        if self._handle is None and self._loop is not None:
            self._handle = self._loop.call_soon(self._fire)

    def _fire(self) -> None:
        self._handle = None
        task = self._task
        if self._depth and task is not None and not task.done() and not self._requested:
            self._requested = True
            self._base = task.cancelling()
            task.cancel()

    def __enter__(self) -> None:
        if not self._asyncio:
            scope = anyio.CancelScope()
            scope.__enter__()
            self._scopes.append(scope)
            if self._signal._aborted:
                scope.cancel()
            return
        self._depth += 1
        if self._signal._aborted:
            self._arm()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if not self._asyncio:
            scopes = self._scopes
            swallow = bool(scopes.pop().__exit__(exc_type, exc, tb))
            if scopes and self._signal._aborted:
                scopes[-1].cancel()  # the next outer level is bound to the same signal
            return swallow
        self._depth -= 1
        handle = self._handle
        if handle is not None:
            handle.cancel()
            self._handle = None
        swallow = False
        if self._requested:
            self._requested = False
            task = self._task
            remaining = task.uncancel() if task is not None else 0
            swallow = (
                exc_type is not None
                and issubclass(exc_type, asyncio.CancelledError)
                and remaining <= self._base  # no other cancellation is pending
            )
        if self._depth and self._signal._aborted:
            self._arm()  # the next outer level is bound to the same signal
        return swallow

    def close(self) -> None:
        """Stop following the signal (call once the runner is done)."""
        self._signal.remove_listener(self._on_abort)
