"""Small helpers shared by the provider executors: option checks, JSON access, clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any, cast

from adk.batteries._retry import RetryPolicy
from adk.errors import E_INVALID_PROVIDER_OPTIONS

__all__ = ["check_options", "get", "items", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def get(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is a JSON object, else ``None``."""
    if type(value) is dict:
        return cast(dict[str, Any], value).get(key)
    return None


def items(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else ``[]``."""
    if type(value) is list:
        return cast(list[Any], value)
    return []


def check_options(
    executor: str,
    *,
    model: object,
    specific: list[str],
    timeout: float,
    stream_idle_timeout: float | None,
    retry: object,
    api_key: str | None,
    client_given: bool,
    env_key: str,
    has_endpoint: bool,
    endpoint: str,
    placeholder: str,
) -> str | None:
    """Validate the options every executor has, and resolve the API key.

    Args:
        executor: The class name, for the error message.
        model: The ``model`` option.
        specific: The problems the provider found in its own options.
        timeout: The ``timeout`` option.
        stream_idle_timeout: The ``stream_idle_timeout`` option.
        retry: The ``retry`` option.
        api_key: The ``api_key`` option.
        client_given: A client was passed in (its key is used; nothing is resolved).
        env_key: The environment variable read when ``api_key`` is ``None``.
        has_endpoint: A base URL was configured (a local server needs no key).
        endpoint: The provider's name in the "key required" message.
        placeholder: The key sent to servers that need none.

    Returns:
        The API key to use (``api_key`` as given when ``client_given``).

    Raises:
        E_INVALID_PROVIDER_OPTIONS: naming every problem.
    """
    bad: list[str] = []
    if not isinstance(model, str) or not model:
        bad.append("model must be a non-empty str")
    bad.extend(specific)
    if not timeout > 0:
        bad.append("timeout must be > 0 seconds")
    if stream_idle_timeout is not None and not stream_idle_timeout > 0:
        bad.append("stream_idle_timeout must be > 0 seconds or None")
    if retry is not None and not isinstance(retry, RetryPolicy):
        bad.append("retry must be a RetryPolicy")
    if api_key is None and not client_given:
        api_key = os.environ.get(env_key)
        if api_key is None:
            if not has_endpoint:
                bad.append(f"api_key is required for the default {endpoint} endpoint")
            api_key = placeholder
    if bad:
        raise E_INVALID_PROVIDER_OPTIONS(message=f"invalid {executor} options: " + "; ".join(bad))
    return api_key
