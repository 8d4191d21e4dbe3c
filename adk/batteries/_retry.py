"""Retry policy shared by the provider executors (BATTERIES.md §3.7).

The ADK owns retries, not the SDK: exponential backoff with full jitter, a ``Retry-After``
hint honoured as a floor (capped by ``max_delay``), a bounded number of attempts, only
before a response stream has started, and sleeps that end at once when the dispatch aborts
(the runner cancels the executor's scope; we also check the signal before each attempt).
Units are seconds (Python's convention; the ADK uses milliseconds).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import anyio

from adk.errors import E_INVALID_PROVIDER_OPTIONS, AbortError, ProviderErrorInfo

__all__ = ["RetryPolicy", "parse_retry_after", "run_with_retry"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When and how a provider request is retried.

    Attributes:
        max_attempts: Total attempts including the first (``1`` = never retry). Default 3.
        base_delay: Delay before the first retry, in seconds; doubles each retry.
        max_delay: Upper bound of any single delay (``Retry-After`` included), seconds.
        jitter: Full jitter: each delay is drawn uniformly from ``[0, backoff]`` (never
            below a ``Retry-After`` floor). ``False`` sleeps exactly ``backoff``.
        honour_retry_after: Use the server's ``Retry-After``/``retry-after-ms`` header as a
            floor for the delay.

    Only errors whose class is ``retryable`` (rate limit, server error, timeout) are
    retried; authentication, bad requests, context overflow and broken streams are not.

    Raises:
        E_INVALID_PROVIDER_OPTIONS: a negative delay, ``max_attempts < 1`` or
            ``base_delay > max_delay``.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True
    honour_retry_after: bool = True

    def __post_init__(self) -> None:
        bad: list[str] = []
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
            bad.append("max_attempts must be an int >= 1")
        if self.base_delay < 0 or self.max_delay < 0:
            bad.append("delays must be >= 0")
        elif self.base_delay > self.max_delay:
            bad.append("base_delay must not exceed max_delay")
        if bad:
            raise E_INVALID_PROVIDER_OPTIONS(message="invalid RetryPolicy: " + "; ".join(bad))

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """The sleep before retry number ``retry`` (1-based), in seconds.

        Args:
            retry: 1 for the first retry, 2 for the second, …
            retry_after: The server's hint in seconds, or ``None``.

        Returns:
            ``min(max_delay, base_delay * 2**(retry-1))`` (jittered), raised to the
            ``Retry-After`` hint when honoured, never above ``max_delay``.
        """
        backoff = min(self.max_delay, self.base_delay * (2 ** (retry - 1)))
        delay = random.uniform(0, backoff) if self.jitter else backoff
        if self.honour_retry_after and retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_delay)


def parse_retry_after(headers: Mapping[str, str] | Any) -> float | None:
    """Read a retry hint from response headers, in seconds.

    Looks at ``retry-after-ms`` (OpenAI) first, then ``Retry-After`` as delta-seconds or
    an HTTP date. Negative, unparsable or absent values give ``None``.
    """
    get: Callable[[str], str | None] = getattr(headers, "get", lambda _k: None)  # pyright: ignore[reportUnknownArgumentType]
    ms = get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def run_with_retry(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    is_aborted: Callable[[], bool],
    on_retry: Callable[[int, float, BaseException], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good or the attempts run out.

    Args:
        attempt: Makes one request; raises an ``E_PROVIDER_*`` error on failure.
        policy: The retry policy.
        is_aborted: Checked before each attempt and after each sleep.
        on_retry: Called with ``(retry_number, delay_s, error)`` before each sleep (for
            logging); its exceptions are not caught.

    Returns:
        What ``attempt`` returned.

    Raises:
        AbortError: the abort signal fired between attempts.
        Exception: the last attempt's error, or the first non-retryable one.
    """
    retry = 0
    while True:
        if is_aborted():
            raise AbortError("dispatch aborted before the provider request")
        try:
            return await attempt()
        except Exception as exc:
            retryable = isinstance(exc, ProviderErrorInfo) and exc.retryable
            if not retryable or retry + 1 >= policy.max_attempts:
                raise
            retry += 1
            hint = exc.retry_after if isinstance(exc, ProviderErrorInfo) else None
            delay = policy.delay(retry, hint)
            if on_retry is not None:
                on_retry(retry, delay, exc)
            await anyio.sleep(delay)
