"""Provider error translation shared by the SDK-based executors (BATTERIES.md §3.7).

The ``openai`` and ``anthropic`` SDKs (both Stainless-generated) raise the same family
of exceptions: ``APITimeoutError``, ``APIConnectionError``, ``APIStatusError`` (with
``status_code``, ``body``, ``response``) and ``APIError`` (an ``error`` event inside a
stream). :func:`translate_sdk_error` maps them, given the SDK module, to the
``E_PROVIDER_*`` codes of :mod:`adk.errors`, redacting secrets from every text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, cast

from adk.batteries._retry import parse_retry_after
from adk.errors import (
    E_PROVIDER_AUTHENTICATION,
    E_PROVIDER_BAD_REQUEST,
    E_PROVIDER_CONTEXT_OVERFLOW,
    E_PROVIDER_MALFORMED_STREAM,
    E_PROVIDER_RATE_LIMITED,
    E_PROVIDER_SERVER_ERROR,
    E_PROVIDER_TIMEOUT,
    AdkError,
    provider_error,
)

__all__ = ["class_for", "detail_of", "redact", "translate_sdk_error"]

_OVERFLOW = re.compile(
    r"context[ _](length|window|size)|exceeds? the (available|maximum) context|"
    r"maximum context|context_length_exceeded|prompt is too long|too many tokens",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+", re.IGNORECASE)


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret (4+ characters) and any bearer token replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", text)


def detail_of(body: object, fallback: str) -> str:
    """The provider's own error message from a decoded error body, else ``fallback``.

    Looks at ``body["error"]["message"]``, ``body["error"]`` (a string), ``body["message"]``,
    or ``body`` itself when it is a non-empty string (OpenAI and Anthropic error shapes).
    """
    if isinstance(body, Mapping):
        mapping = cast(Mapping[str, Any], body)
        inner = mapping.get("error", mapping)
        if isinstance(inner, Mapping):
            msg = cast(Mapping[str, Any], inner).get("message")
            if isinstance(msg, str) and msg:
                return msg
        elif isinstance(inner, str) and inner:
            return inner
        msg = mapping.get("message")
        if isinstance(msg, str) and msg:
            return msg
    if isinstance(body, str) and body:
        return body
    return fallback


def class_for(status: int, detail: str) -> type[AdkError]:
    """The ``E_PROVIDER_*`` class for an HTTP status and error text (BATTERIES.md §3.7).

    401/403 → authentication, 429 → rate limited, 413 or a context-length message →
    context overflow, 408 → timeout, 5xx → server error, anything else → bad request.
    """
    if status in (401, 403):
        return E_PROVIDER_AUTHENTICATION
    if status == 429:
        return E_PROVIDER_RATE_LIMITED
    if status == 413 or _OVERFLOW.search(detail):
        return E_PROVIDER_CONTEXT_OVERFLOW
    if status == 408:
        return E_PROVIDER_TIMEOUT
    if status >= 500:
        return E_PROVIDER_SERVER_ERROR
    return E_PROVIDER_BAD_REQUEST


def translate_sdk_error(
    exc: BaseException, sdk: ModuleType, *, provider: str, secrets: Sequence[str] = ()
) -> AdkError:
    """Translate an SDK or transport failure into an ``E_PROVIDER_*`` error.

    ========================================  ==========================================
    SDK condition                              ``adk`` error
    ========================================  ==========================================
    ``APITimeoutError``, transport timeout     ``E_PROVIDER_TIMEOUT`` (status 0)
    ``APIConnectionError``                     ``E_PROVIDER_SERVER_ERROR`` (status 0)
    HTTP 401 / 403                             ``E_PROVIDER_AUTHENTICATION``
    HTTP 429                                   ``E_PROVIDER_RATE_LIMITED`` (+ Retry-After)
    413, or a body saying the context is full  ``E_PROVIDER_CONTEXT_OVERFLOW``
    HTTP 408                                   ``E_PROVIDER_TIMEOUT``
    HTTP 5xx, an ``error`` event mid-stream    ``E_PROVIDER_SERVER_ERROR``
    other 4xx                                  ``E_PROVIDER_BAD_REQUEST``
    unparsable data, a connection cut          ``E_PROVIDER_MALFORMED_STREAM``
    ========================================  ==========================================

    Args:
        exc: The failure.
        sdk: The SDK module (``openai`` or ``anthropic``) whose exception classes apply.
        provider: The provider label stored on the error.
        secrets: Strings to redact from messages and details (the API key); ``Bearer``
            tokens are always redacted.

    Returns:
        The error, with ``__cause__`` set to ``exc``, ``provider_status`` and ``detail``
        (redacted). An ``AdkError`` is returned unchanged.
    """
    if isinstance(exc, AdkError):
        return exc
    if isinstance(exc, sdk.APITimeoutError | TimeoutError):
        return provider_error(
            E_PROVIDER_TIMEOUT,
            "the model provider did not answer in time",
            provider=provider,
            cause=exc,
        )
    if isinstance(exc, sdk.APIConnectionError):
        detail = redact(str(exc), secrets)
        return provider_error(
            E_PROVIDER_SERVER_ERROR,
            f"could not reach the model provider: {detail}",
            provider=provider,
            detail=detail,
            cause=exc,
        )
    err: Any = exc  # the SDK classes come from a module object: attributes via Any
    if isinstance(exc, sdk.APIStatusError):
        status = int(err.status_code)
        detail = redact(detail_of(cast(object, err.body), str(err.message)), secrets)
        cls = class_for(status, detail)
        return provider_error(
            cls,
            f"the model provider answered HTTP {status}: {detail}",
            provider=provider,
            provider_status=status,
            detail=detail,
            retry_after=parse_retry_after(err.response.headers),
            cause=exc,
        )
    if isinstance(exc, sdk.APIError):  # an ``error`` event inside the stream
        body = cast(object, err.body)
        code: object = None
        if isinstance(body, Mapping):
            body = cast(Mapping[str, Any], body)
            code = body.get("code")
        status = code if isinstance(code, int) and 100 <= code <= 599 else 0
        detail = redact(detail_of(body, str(err.message)), secrets)
        cls = class_for(status or 500, detail)
        return provider_error(
            cls,
            f"the model provider reported an error in the stream: {detail}",
            provider=provider,
            provider_status=status,
            detail=detail,
            cause=exc,
        )
    name = type(exc).__name__
    detail = redact(f"{name}: {exc}", secrets)
    if "Timeout" in name:
        return provider_error(
            E_PROVIDER_TIMEOUT,
            f"the model provider's stream timed out: {detail}",
            provider=provider,
            detail=detail,
            cause=exc,
        )
    return provider_error(
        E_PROVIDER_MALFORMED_STREAM,
        f"the model provider's stream was cut or malformed: {detail}",
        provider=provider,
        detail=detail,
        cause=exc,
    )
