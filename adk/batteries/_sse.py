"""Reading a server-sent-events body to its end, with an idle watchdog.

Shared by the SDK-based executors: the SDK sends the request and hands back the raw
streaming response; this reads it line by line (``response.iter_lines()``) **to EOF**
(never abandoning the SDK's async generators half-way, which trio requires), groups
``data:`` lines into events and hands each ``(event_name, data)`` to a callback.

The idle watchdog is an anyio deadline kept at least ``idle_timeout`` after the last line.
Moving an anyio deadline costs ~10 µs (a backend lookup and a timer re-arm), so it is not
moved per line: it is set ``slack`` (5 % of ``idle_timeout``, at most 1 s) further out
and moved only once the lines have eaten that slack (checked with ``time.monotonic``,
which runs at the rate of every anyio backend's clock). A stalled stream therefore fails
after ``idle_timeout`` to ``idle_timeout + slack`` seconds of silence, never sooner.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import anyio

from adk.errors import E_PROVIDER_TIMEOUT, AdkError, is_abort_error, provider_error

__all__ = ["read_sse"]


async def read_sse(
    response: Any,
    on_event: Callable[[str | None, str], None],
    *,
    idle_timeout: float | None,
    provider: str,
    translate: Callable[[BaseException], AdkError],
) -> bool:
    """Read every line of ``response`` and dispatch complete events to ``on_event``.

    Args:
        response: An SDK streaming response with an async ``iter_lines()``.
        on_event: Called with ``(event, data)`` per event (``event`` is the ``event:``
            field or ``None``; ``data`` the joined ``data:`` lines). Must not await.
        idle_timeout: Longest silence between two lines, in seconds (``None``: none);
            the error comes within ``slack`` after it (see the module docstring).
        provider: The provider label for errors.
        translate: Turns a transport failure into an ``E_PROVIDER_*`` error.

    Returns:
        ``False`` when the body ended inside an event (data without the closing blank
        line), ``True`` otherwise.

    Raises:
        E_PROVIDER_TIMEOUT: no line arrived within ``idle_timeout`` (+ slack) seconds.
        AdkError: a transport failure while reading, translated.
    """
    lines: Any = response.iter_lines()
    monotonic = time.monotonic
    slack = min(idle_timeout * 0.05, 1.0) if idle_timeout is not None else math.inf
    armed = monotonic()
    watchdog = anyio.CancelScope(
        deadline=anyio.current_time() + idle_timeout + slack
        if idle_timeout is not None
        else math.inf
    )
    data: list[str] = []
    event: str | None = None
    with watchdog:
        while True:
            try:
                line: str = await lines.__anext__()
            except StopAsyncIteration:
                break
            except Exception as exc:
                if is_abort_error(exc):
                    raise
                raise translate(exc) from exc
            if idle_timeout is not None:
                now = monotonic()
                if now - armed > slack:  # the slack is used up: move the deadline
                    armed = now
                    watchdog.deadline = anyio.current_time() + idle_timeout + slack
            if line:
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line.startswith("event:"):
                    event = line[6:].strip()
                continue  # comments (":"), ids and retry fields are ignored
            if data:
                payload = "\n".join(data)
                data.clear()
                name, event = event, None
                on_event(name, payload)
            else:
                event = None
    if watchdog.cancelled_caught:
        raise provider_error(
            E_PROVIDER_TIMEOUT,
            f"the model provider's stream stalled (no data for {idle_timeout}s)",
            provider=provider,
        )
    return not data
