"""``AbortController`` / ``AbortSignal`` and the bridge from a signal to anyio cancellation.

The ADK relies on the web platform's ``AbortController``: ``abort(reason)`` is idempotent
(the first reason sticks) and the ``'abort'`` listeners run synchronously inside ``abort()``
(RUNNERS.md §1). This module supplies the same pair, independent of any event loop, plus
:func:`cancel_on_abort`, the cancel scope that makes an abort *prompt* (PORT.md §7.2, §9.2):
whatever the executor, a middleware body or a gate is awaiting is cancelled as soon as the
signal fires.

The classes are not thread-safe: abort a signal from the event loop's thread (from another
thread, go through ``anyio.from_thread.run_sync``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Final, cast

import anyio

from adk.errors import AbortError

__all__ = [
    "AbortController",
    "AbortSignal",
    "CancelOnAbort",
    "cancel_on_abort",
    "link",
]

AbortListener = Callable[["AbortSignal"], object]
"""A listener: called as ``fn(signal)`` inside ``abort()``; its return value is ignored."""

_NO_LISTENERS: Final[dict[Any, bool]] = {}
"""Shared, never mutated: the listener table of a signal that has none (or has fired)."""


class AbortSignal:
    """The read side of an :class:`AbortController` (the DOM ``AbortSignal``).

    A signal starts un-aborted and fires at most once. Obtain one from
    ``AbortController().signal``; a bare ``AbortSignal()`` never fires unless its own
    controller-side method is used, which is private.

    Listener semantics (the DOM ``EventTarget`` semantics the ADK relies on):

    * Listeners are sync callables called as ``fn(signal)``, synchronously inside
      ``abort()``, in registration order. A coroutine function is not supported: the
      coroutine it returns is closed unawaited and a ``TypeError`` is reported like a
      listener exception. A listener that needs async work must schedule it itself.
    * Registering the same callable twice keeps it once (first registration's position and
      ``once`` flag win). Bound methods count as the same callable when they bind the same
      object and function.
    * The listeners to call are snapshotted when ``abort()`` starts: a listener added while
      ``abort()`` runs is not called; a listener removed by an earlier listener is skipped.
    * A listener added to an already-aborted signal is never called (the ``abort`` event has
      already been dispatched, as with ``EventTarget``). Check :attr:`aborted` first.
    * A listener's ``Exception`` never stops the other listeners and never escapes
      ``abort()``: it is passed to :attr:`on_listener_error` (when set), otherwise ignored.
      Other ``BaseException`` subclasses (``KeyboardInterrupt``…) propagate.
    * After ``abort()`` every listener is released (the event cannot fire again).

    Attributes:
        on_listener_error: ``None`` (default: listener exceptions are ignored) or a callable
            ``fn(error)`` receiving each ``Exception`` a listener raised, in order. An
            exception raised by ``on_listener_error`` itself is ignored.
    """

    __slots__ = ("__weakref__", "_aborted", "_listeners", "_reason", "on_listener_error")

    _listeners: dict[Any, bool]

    def __init__(self) -> None:
        self._aborted = False
        self._reason: object = None
        self._listeners = _NO_LISTENERS
        self.on_listener_error: Callable[[Exception], object] | None = None

    @property
    def aborted(self) -> bool:
        """Whether the signal has fired."""
        return self._aborted

    @property
    def reason(self) -> object:
        """The abort reason: ``None`` until aborted, then the first reason given to ``abort``.

        ``abort()`` with no reason (or ``None``) stores a fresh :class:`~adk.errors.AbortError`.
        """
        return self._reason

    def add_listener(self, fn: AbortListener, *, once: bool = False) -> None:
        """Register ``fn(signal)`` to run when the signal fires.

        Args:
            fn: A sync callable taking the signal. Registering it again is a no-op.
            once: Remove the listener after its first call. Since a signal fires at most
                once this only matters for bookkeeping; it is accepted for parity with the
                DOM ``{once: true}`` option.

        A listener added after the signal fired is not called (see the class docstring).
        """
        if self._aborted:
            return
        listeners = self._listeners
        if listeners is _NO_LISTENERS:
            self._listeners = {fn: once}
        elif fn not in listeners:
            listeners[fn] = once

    def remove_listener(self, fn: AbortListener) -> None:
        """Unregister ``fn``; a no-op when it is not registered."""
        listeners = self._listeners
        if listeners is not _NO_LISTENERS:
            listeners.pop(fn, None)

    def throw_if_aborted(self) -> None:
        """Raise if the signal has fired.

        Raises:
            AbortError: The stored reason when it is an :class:`~adk.errors.AbortError`,
                else ``AbortError(reason)`` (with the reason as ``__cause__`` when it is an
                exception).
        """
        if self._aborted:
            raise _as_abort_error(self._reason)

    def _abort(self, reason: object) -> None:
        """Fire the signal (the controller side); a no-op when already aborted."""
        if self._aborted:
            return
        self._aborted = True
        self._reason = AbortError() if reason is None else reason
        listeners = self._listeners
        if listeners is _NO_LISTENERS:
            return
        for fn in list(listeners):
            if fn not in listeners:  # removed by an earlier listener
                continue
            del listeners[fn]  # every listener is effectively `once` now
            try:
                outcome = fn(self)
                if isinstance(outcome, Coroutine):
                    cast("Coroutine[Any, Any, Any]", outcome).close()
                    raise TypeError(f"abort listener {fn!r} is a coroutine function")
            except Exception as err:  # isolation is the contract
                handler = self.on_listener_error
                if handler is not None:
                    with contextlib.suppress(Exception):
                        handler(err)
        self._listeners = _NO_LISTENERS

    def __repr__(self) -> str:
        if self._aborted:
            return f"<AbortSignal aborted reason={self._reason!r}>"
        return "<AbortSignal>"


def _as_abort_error(reason: object) -> AbortError:
    if isinstance(reason, AbortError):
        return reason
    err = AbortError(reason)
    if isinstance(reason, BaseException):
        err.__cause__ = reason
    return err


class AbortController:
    """Owns an :class:`AbortSignal` and fires it (the DOM ``AbortController``).

    Attributes:
        signal: The controller's signal, created with it.
    """

    __slots__ = ("signal",)

    def __init__(self) -> None:
        self.signal: AbortSignal = AbortSignal()

    def abort(self, reason: object = None) -> None:
        """Fire the signal: set ``aborted``/``reason``, then run the listeners synchronously.

        Idempotent: only the first call has an effect, so the first reason sticks.

        Args:
            reason: Any value; ``None`` stores a fresh :class:`~adk.errors.AbortError`.
        """
        self.signal._abort(reason)

    def __repr__(self) -> str:
        return f"<AbortController signal={self.signal!r}>"


def link(parent: AbortSignal, child: AbortController) -> Callable[[], None]:
    """Propagate ``parent``'s abort to ``child``, one way.

    When ``parent`` fires, ``child.abort(parent.reason)`` runs (inside ``parent``'s
    ``abort()``). If ``parent`` has already fired, ``child`` is aborted now. Aborting
    ``child`` never affects ``parent``.

    Args:
        parent: The signal to follow (e.g. a turn's signal).
        child: The controller to abort with it (e.g. a dispatch's controller).

    Returns:
        A dispose function removing the propagation (idempotent; a no-op once fired).
    """
    if parent.aborted:
        child.abort(parent.reason)
        return _noop

    def forward(signal: AbortSignal) -> None:
        child.abort(signal.reason)

    parent.add_listener(forward, once=True)

    def dispose() -> None:
        parent.remove_listener(forward)

    return dispose


def _noop() -> None:
    return None


class CancelOnAbort:
    """Context manager: an :class:`anyio.CancelScope` cancelled when a signal fires.

    Use it through :func:`cancel_on_abort`::

        with cancel_on_abort(signal) as scope:
            await executor(ctx, helpers)
        if scope.cancelled_caught:
            ...  # the executor was cut short by the abort

    It is a plain (sync) context manager, usable inside any coroutine on asyncio or trio.
    On entry it enters a fresh ``CancelScope``; if the signal has already fired the scope is
    cancelled at once (the body's first checkpoint raises), otherwise the context manager
    itself is registered as the signal's listener (no closure is allocated) and cancels
    the scope when the signal fires, from whatever task calls ``abort()``. On exit the
    listener is removed and the scope exits, swallowing its own cancellation as anyio
    scopes do.

    ``scope.cancelled_caught`` tells whether the body was actually cut short by the signal;
    a body that finished without reaching a checkpoint after the abort leaves it ``False``
    (check ``signal.aborted`` as well when that matters). The scope is only ever cancelled
    by the signal unless the caller cancels it too.

    Not reentrant: one instance per ``with``. ``signal=None`` gives a bare scope.

    Args:
        signal: The signal to follow, or ``None``.
    """

    __slots__ = ("_scope", "_signal")

    _scope: anyio.CancelScope  # set by __enter__, before the listener is registered

    def __init__(self, signal: AbortSignal | None) -> None:
        self._signal = signal

    def __enter__(self) -> anyio.CancelScope:
        scope = anyio.CancelScope()
        self._scope = scope
        scope.__enter__()
        signal = self._signal
        if signal is not None:
            if signal._aborted:
                scope.cancel()
            else:
                listeners = signal._listeners
                if listeners is _NO_LISTENERS:
                    signal._listeners = {self: True}
                else:
                    listeners[self] = True
        return scope

    def __call__(self, signal: AbortSignal) -> None:
        """The abort listener: cancel the scope (called inside ``abort()``)."""
        self._scope.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        signal = self._signal
        if signal is not None:
            listeners = signal._listeners
            if listeners is not _NO_LISTENERS:
                listeners.pop(self, None)
        return self._scope.__exit__(exc_type, exc, tb)


cancel_on_abort = CancelOnAbort
"""``cancel_on_abort(signal)`` → a :class:`CancelOnAbort` context manager yielding the scope.

PORT.md §7.2 / §9.2: every executor call, middleware body and gate wait runs inside one.
"""
