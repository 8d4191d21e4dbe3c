"""The event bus behind hooks, observers and listeners (PORT.md §7.3, §9.9).

Listeners run synchronously, in registration order, inside ``emit``. A listener that
returns an awaitable has it queued; the runner awaits the queue (in emission order) at the
end of each iteration and before ``dispatch()``/``run()`` returns, so no coroutine listener
is dropped. A listener's exception never escapes ``emit``: it is handed to ``on_error``
(the runners turn it into a ``warning`` event with ``kind="listener-error"``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import CoroutineType
from typing import Any, cast

__all__ = ["Bus", "discard", "drain", "normalise_handlers"]

Handler = Callable[[Any], Any]
ErrorSink = Callable[[str, BaseException], None]


def normalise_handlers(value: object) -> tuple[Handler, ...] | None:
    """A handler or a list of handlers as a tuple; ``None`` if ``value`` is neither."""
    if callable(value):
        return (cast("Handler", value),)
    if isinstance(value, list | tuple):
        out: tuple[Any, ...] = tuple(cast("Iterable[Any]", value))
        if all(callable(h) for h in out):
            return out
    return None


class Bus:
    """Named events to ordered handler lists, with listener isolation.

    Args:
        on_error: Receives ``(event_name, exception)`` when a listener fails; ``None``
            drops the exception.
    """

    __slots__ = ("_handlers", "_once", "on_error", "pending")

    def __init__(self, on_error: ErrorSink | None = None) -> None:
        self._handlers: dict[str, list[tuple[Handler, bool]]] = {}
        self._once: set[str] = set()  # names with a once-handler (emit checks this, not the list)
        self.pending: list[tuple[str, Awaitable[Any]]] = []
        self.on_error = on_error

    def add(self, name: str, handler: Handler, *, once: bool = False) -> None:
        """Register ``handler`` for ``name`` (a handler already registered is kept once)."""
        items = self._handlers.setdefault(name, [])
        if all(h is not handler for h, _ in items):
            items.append((handler, once))
            if once:
                self._once.add(name)

    def add_many(self, mapping: Mapping[str, tuple[Handler, ...]]) -> None:
        """Register several handlers per event name."""
        for name, handlers in mapping.items():
            for h in handlers:
                self.add(name, h)

    def remove(self, name: str, handler: Handler) -> None:
        """Unregister ``handler`` from ``name`` (no-op if absent)."""
        items = self._handlers.get(name)
        if items is None:
            return
        items[:] = [(h, o) for h, o in items if h is not handler]
        if not any(o for _, o in items):
            self._once.discard(name)
        if not items:
            del self._handlers[name]

    @property
    def active(self) -> bool:
        """Whether any handler is registered at all."""
        return bool(self._handlers)

    def has(self, name: str) -> bool:
        """Whether ``name`` has any handler."""
        return name in self._handlers

    def emit(
        self,
        name: str,
        payload: Any,
        pending: list[tuple[str, Awaitable[Any]]] | None = None,
        on_error: ErrorSink | None = None,
    ) -> None:
        """Call every handler of ``name`` with ``payload``; never raises.

        Args:
            name: The event name.
            payload: Handed to each handler.
            pending: Where returned awaitables are queued (default: this bus's own queue;
                a turn passes its own so concurrent turns never await each other's).
            on_error: Receives listener failures (default: this bus's ``on_error``).
        """
        items = self._handlers.get(name)
        if not items:
            return
        if len(items) == 1:  # the common case, inlined (one call less per event)
            handler, once = items[0]
            if once:
                del self._handlers[name]
                self._once.discard(name)
            try:
                result = handler(payload)
            except Exception as exc:
                self._failed(name, exc, on_error)
                return
            if result is not None and (
                type(result) is CoroutineType or inspect.isawaitable(result)
            ):
                queued = cast("Awaitable[Any]", result)
                (self.pending if pending is None else pending).append((name, queued))
            return
        snapshot = tuple(items)  # handlers added by a handler run from the next emit
        if name in self._once:
            self._once.discard(name)
            items[:] = [(h, o) for h, o in items if not o]
            if not items:
                del self._handlers[name]
        for handler, _ in snapshot:
            self._call(name, handler, payload, pending, on_error)

    def _call(
        self,
        name: str,
        handler: Handler,
        payload: Any,
        pending: list[tuple[str, Awaitable[Any]]] | None,
        on_error: ErrorSink | None,
    ) -> None:
        try:
            result = handler(payload)
        except Exception as exc:
            self._failed(name, exc, on_error)
            return
        if result is not None and (type(result) is CoroutineType or inspect.isawaitable(result)):
            queued = cast("Awaitable[Any]", result)
            (self.pending if pending is None else pending).append((name, queued))

    def _failed(self, name: str, exc: BaseException, on_error: ErrorSink | None = None) -> None:
        sink = on_error or self.on_error
        if sink is None or name == "warning":
            return
        try:
            sink(name, exc)
        except Exception:  # pragma: no cover - a failing sink must not break the turn
            pass

    async def drain(self) -> None:
        """Await every queued listener awaitable, in emission order, isolating errors."""
        await drain(self.pending, self._failed)

    def discard_pending(self) -> None:
        """Close queued coroutines that will never be awaited (after a cancellation)."""
        discard(self.pending)


async def drain(
    pending: list[tuple[str, Awaitable[Any]]], on_error: Callable[[str, BaseException], None]
) -> None:
    """Await the queued awaitables in order (including ones queued meanwhile)."""
    while pending:
        batch = pending[:]
        del pending[:]
        for i, (name, awaitable) in enumerate(batch):
            try:
                await awaitable
            except Exception as exc:
                on_error(name, exc)
            except BaseException:  # cancelled while draining: close what will never run
                discard(batch[i + 1 :])
                discard(pending)
                raise


def discard(pending: list[tuple[str, Awaitable[Any]]]) -> None:
    """Close queued coroutines that will never be awaited (after a cancellation)."""
    batch = pending[:]
    del pending[:]
    for _, awaitable in batch:
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()
