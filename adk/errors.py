"""Errors raised by `adk`.

Every error `adk` raises on purpose is an :class:`AdkError`. Each ``E_…`` code of the ADK
(RUNNERS.md §8, PRIMITIVES.md §2) is a subclass named exactly as the code, carrying the
ADK's HTTP-like ``status`` and ``fatal`` flag::

    Exception
    ├── AdkError                      code, status, fatal, help, fields, details
    │   ├── E_INVALID_INITIAL_*_VALUE  bad constructor input (one per primitive)
    │   ├── E_INVALID_TOOL_ARGS, E_TOOL_DOWNSTREAM_ERROR, …   tools
    │   ├── E_INVALID_TURN_*, E_*_PIPELINE_ERROR, E_LLM_*, E_TURN_GATE_*   runners
    │   └── E_EXTRA_MISSING, E_STORE_ERROR, E_PROVIDER_ERROR, …   ours
    └── AbortError                    marks an abort (anyio cancellation is one too)

``str(err)`` is ``"<code>: <message>"`` (PORT.md §4); the original error, when there is
one, is ``err.__cause__``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

__all__ = [
    "AbortError",
    "AdkError",
    "FieldError",
    "is_abort_error",
]


class FieldError(tuple[str, str]):
    """One bad field of a validated input: ``(path, message)``.

    ``path`` is the snake_case field name (dotted for nested values, ``[i]`` for list
    items); ``message`` says what is wrong with it.
    """

    __slots__ = ()

    def __new__(cls, path: str, message: str) -> FieldError:
        """Build the pair from ``path`` and ``message``."""
        return super().__new__(cls, (path, message))

    @property
    def path(self) -> str:
        """The field's path, e.g. ``"created_at"`` or ``"attachments[1]"``."""
        return self[0]

    @property
    def message(self) -> str:
        """What is wrong with the field."""
        return self[1]

    def __str__(self) -> str:
        return f"{self[0]}: {self[1]}"

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (self[0], self[1])


class AdkError(Exception):
    """Base class of every error `adk` raises on purpose.

    Args:
        *params: Values for the ``%s`` slots of the class's message template (for example
            the pipeline label of ``E_PIPELINE_SHORT_CIRCUITED``).
        message: A message replacing the template; ``None`` keeps the template.
        cause: The original error; stored as ``__cause__``.
        status: Overrides the class's HTTP-like status.
        fatal: Overrides the class's fatal flag.
        details: For validation errors, every bad field as a :class:`FieldError`.
        help: A hint on how to fix the problem (for example the ``pip install`` line of a
            missing extra).

    Attributes:
        code: The ``E_…`` string (equal to the class name for coded subclasses).
        status: HTTP-like status (ADK semantics: 4xx caller problems, 5xx runtime ones).
        fatal: Whether the ADK marks the condition as unrecoverable.
        help: A fix hint, or ``None``.
        params: The template parameters given.
        details: The bad fields of a validation failure (empty otherwise).
    """

    code: ClassVar[str] = "E_ADK_ERROR"
    default_status: ClassVar[int] = 500
    default_fatal: ClassVar[bool] = False
    template: ClassVar[str] = "an adk error occurred"

    status: int
    fatal: bool
    help: str | None
    params: tuple[object, ...]
    details: tuple[FieldError, ...]

    def __init__(
        self,
        *params: object,
        message: str | None = None,
        cause: BaseException | None = None,
        status: int | None = None,
        fatal: bool | None = None,
        details: Sequence[FieldError] = (),
        help: str | None = None,
    ) -> None:
        if message is None:
            message = self.template
            if params:
                try:
                    message = message % params
                except (TypeError, ValueError):
                    message = f"{message}: {', '.join(map(str, params))}"
        super().__init__(message)
        self.message = message
        self.params = params
        self.status = self.default_status if status is None else status
        self.fatal = self.default_fatal if fatal is None else fatal
        self.help = help
        self.details = tuple(details)
        if cause is not None:
            self.__cause__ = cause

    @property
    def fields(self) -> tuple[str, ...]:
        """The paths of the bad fields, in the order they were found."""
        return tuple(d[0] for d in self.details)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Instance attributes (help, details and any added later) travel as state;
        # ``__cause__`` is not pickled, as for every Python exception.
        return (
            _rebuild,
            (type(self), self.params, self.message, self.status, self.fatal),
            dict(self.__dict__),
        )


def _rebuild(
    cls: type[AdkError], params: tuple[object, ...], message: str, status: int, fatal: bool
) -> AdkError:
    return cls(*params, message=message, status=status, fatal=fatal)


class AbortError(Exception):
    """Marks an abort: the turn's or dispatch's signal fired, or the work was cancelled.

    Aborts are never reported on the ``error`` bus; a dispatch that ends in one resolves
    with status ``"aborted"`` (RUNNERS.md §2.5, §3.4).

    Args:
        reason: The abort reason given to ``AbortController.abort`` (any value), or ``None``.
    """

    def __init__(self, reason: object = None) -> None:
        super().__init__("aborted" if reason is None else f"aborted: {reason}")
        self.reason = reason


def is_abort_error(err: BaseException) -> bool:
    """Whether ``err`` is abort-class: an :class:`AbortError` or a cancellation.

    Cancellation by anyio (``asyncio.CancelledError``, ``trio.Cancelled``) counts as an
    abort (PORT.md §4).
    """
    if isinstance(err, AbortError | asyncio.CancelledError):
        return True
    # Works outside an event loop too (anyio.get_cancelled_exc_class() needs one); a
    # trio.Cancelled can only exist once trio has been imported.
    trio = sys.modules.get("trio")
    return trio is not None and isinstance(err, trio.Cancelled)


def _code(name: str, template: str, status: int, fatal: bool, doc: str) -> type[AdkError]:
    cls = type(
        name,
        (AdkError,),
        {
            "code": name,
            "template": template,
            "default_status": status,
            "default_fatal": fatal,
            "__doc__": f"{doc}\n\n    Status {status}, {'fatal' if fatal else 'not fatal'}.",
            "__module__": __name__,
            "__qualname__": name,
        },
    )
    return cls


# --- primitives (PRIMITIVES.md §2.4) ---------------------------------------------------
E_INVALID_INITIAL_REGISTRY_VALUE = _code(
    "E_INVALID_INITIAL_REGISTRY_VALUE",
    "the registry's initial value must be a mapping",
    500,
    True,
    "``Registry(initial)`` was given something other than ``None`` or a mapping.",
)
E_INVALID_INITIAL_MEMORY_VALUE = _code(
    "E_INVALID_INITIAL_MEMORY_VALUE",
    "invalid Memory",
    500,
    True,
    "A ``Memory`` was constructed from bad input.",
)
E_INVALID_INITIAL_RETRIEVABLE_VALUE = _code(
    "E_INVALID_INITIAL_RETRIEVABLE_VALUE",
    "invalid Retrievable",
    500,
    True,
    "A ``Retrievable`` was constructed from bad input.",
)
E_INVALID_INITIAL_MESSAGE_VALUE = _code(
    "E_INVALID_INITIAL_MESSAGE_VALUE",
    "invalid Message",
    500,
    True,
    "A ``Message`` was constructed from bad input.",
)
E_INVALID_INITIAL_IDENTITY_VALUE = _code(
    "E_INVALID_INITIAL_IDENTITY_VALUE",
    "invalid Identity",
    500,
    True,
    "An ``Identity`` was constructed from bad input.",
)
E_INVALID_INITIAL_THOUGHT_VALUE = _code(
    "E_INVALID_INITIAL_THOUGHT_VALUE",
    "invalid Thought",
    500,
    True,
    "A ``Thought`` was constructed from bad input.",
)
E_INVALID_INITIAL_TOOL_CALL_VALUE = _code(
    "E_INVALID_INITIAL_TOOL_CALL_VALUE",
    "invalid ToolCall",
    500,
    True,
    "A ``ToolCall`` was constructed from bad input.",
)
E_INVALID_INITIAL_TOOL_VALUE = _code(
    "E_INVALID_INITIAL_TOOL_VALUE",
    "invalid Tool",
    500,
    True,
    "A ``Tool`` or ``ArtifactTool`` was constructed from bad input.",
)
E_INVALID_INITIAL_MEDIA_VALUE = _code(
    "E_INVALID_INITIAL_MEDIA_VALUE",
    "invalid Media",
    500,
    True,
    "A ``Media`` was constructed from bad input (including a bad reader).",
)
E_NOT_A_MEDIA_READER = _code(
    "E_NOT_A_MEDIA_READER",
    "the value is not a MediaReader",
    500,
    True,
    "A media reader lacks a callable ``stream`` or ``byte_length``.",
)
E_NOT_A_SPOOL_READER = _code(
    "E_NOT_A_SPOOL_READER",
    "the value is not a SpoolReader",
    500,
    True,
    "``SpooledArtifact(reader)`` was given something that is not a SpoolReader.",
)
E_INVALID_TOOL_ARGS = _code(
    "E_INVALID_TOOL_ARGS",
    "invalid tool arguments",
    422,
    False,
    "Tool arguments failed the tool's input schema; the handler was not called.",
)
E_TOOL_DOWNSTREAM_ERROR = _code(
    "E_TOOL_DOWNSTREAM_ERROR",
    "the tool handler raised an error",
    500,
    False,
    "A tool handler raised; the original error is ``__cause__``.",
)
E_TOOL_ALREADY_REGISTERED = _code(
    "E_TOOL_ALREADY_REGISTERED",
    "a tool named %s is already registered",
    409,
    True,
    "A tool name collided in a ``ToolRegistry``.",
)
E_READER_NOT_DESCRIBABLE = _code(
    "E_READER_NOT_DESCRIBABLE",
    "the %s cannot be described for encoding",
    422,
    False,
    "Encoding a reader-backed primitive whose reader has no ``describe()``.",
)
E_NO_READER_RESOLVER = _code(
    "E_NO_READER_RESOLVER",
    "no reader resolver is registered for tag %s",
    422,
    False,
    "Decoding a reader descriptor whose tag has no registered resolver.",
)
E_TOKENIZABLE_EVALUATOR_INVALID = _code(
    "E_TOKENIZABLE_EVALUATOR_INVALID",
    "the dynamic Tokenizable evaluator failed: %s",
    500,
    True,
    "A dynamic ``Tokenizable`` evaluator raised or returned a non-string.",
)
E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN = _code(
    "E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN",
    "a custom token estimator cannot replace the built-in encoding %s",
    409,
    True,
    "``register_token_estimator`` was given a built-in encoding name.",
)
E_ARTIFACT_ID_COLLISION = _code(
    "E_ARTIFACT_ID_COLLISION",
    "the id %s is used by both a tool call and a retrievable",
    409,
    False,
    "A turn ToolCall and a turn Retrievable share an id.",
)

# --- runners (RUNNERS.md §8) -------------------------------------------------------------
E_INVALID_TURN_RUNNER_CONFIG = _code(
    "E_INVALID_TURN_RUNNER_CONFIG",
    "the turn runner cannot be built from this config: %s",
    529,
    True,
    "``TurnRunner(...)`` was given a bad configuration.",
)
E_INVALID_TURN_CONTEXT = _code(
    "E_INVALID_TURN_CONTEXT",
    "the turn runner got an invalid context",
    529,
    True,
    "``runner.run(...)`` was given bad arguments; raised before any event.",
)
E_INPUT_PIPELINE_ERROR = _code(
    "E_INPUT_PIPELINE_ERROR",
    "the turn input pipeline failed",
    500,
    False,
    "A turn input middleware raised (emitted on the turn ``error`` bus).",
)
E_OUTPUT_PIPELINE_ERROR = _code(
    "E_OUTPUT_PIPELINE_ERROR",
    "the turn output pipeline failed",
    500,
    False,
    "A turn output middleware raised (emitted on the turn ``error`` bus).",
)
E_INVALID_LLM_DISPATCH_INPUT = _code(
    "E_INVALID_LLM_DISPATCH_INPUT",
    "the dispatch runner got invalid input",
    529,
    True,
    "``DispatchRunner.dispatch(...)`` was given bad input; raised before any event.",
)
E_INVALID_LLM_EXECUTION_CONTEXT = _code(
    "E_INVALID_LLM_EXECUTION_CONTEXT",
    "the execution context cannot be built from the value",
    529,
    True,
    "A ``DispatchContext`` could not be built from the raw context.",
)
E_LLM_EXECUTION_GATE_NOT_SUPPORTED = _code(
    "E_LLM_EXECUTION_GATE_NOT_SUPPORTED",
    "wait_for is unavailable on a standalone context without a gate function",
    501,
    False,
    "``ctx.wait_for`` on a standalone dispatch context with no ``wait_for`` given.",
)
E_LLM_EXECUTION_ALREADY_SIGNALLED = _code(
    "E_LLM_EXECUTION_ALREADY_SIGNALLED",
    "ack/nack called on an already-signalled context",
    500,
    True,
    "A second ``ack()`` or ``nack()`` on a dispatch context: the first signal wins.",
)
E_DISPATCH_PIPELINE_ERROR = _code(
    "E_DISPATCH_PIPELINE_ERROR",
    "an execution pipeline failed",
    500,
    False,
    "A dispatch input or output middleware raised.",
)
E_LLM_EXECUTION_EXECUTOR_ERROR = _code(
    "E_LLM_EXECUTION_EXECUTOR_ERROR",
    "the executor callback threw an error.",
    500,
    False,
    "The dispatch executor raised; also the observer-side wrapper of a non-AdkError nack.",
)
E_INVALID_INITIAL_TURN_GATE_VALUE = _code(
    "E_INVALID_INITIAL_TURN_GATE_VALUE",
    "invalid turn gate initial value",
    500,
    True,
    "``wait_for`` was given bad arguments.",
)
E_INVALID_TURN_GATE_RESOLUTION = _code(
    "E_INVALID_TURN_GATE_RESOLUTION",
    "the resolution value failed the gate's schema",
    500,
    True,
    "``gate.resolve(value)`` failed the gate's schema; the gate stays open.",
)
E_TURN_GATE_TIMEOUT = _code(
    "E_TURN_GATE_TIMEOUT",
    "the gate timed out",
    408,
    False,
    "A gate's ``timeout_ms`` elapsed before it settled.",
)
E_TURN_GATE_ABORTED = _code(
    "E_TURN_GATE_ABORTED",
    "the gate was aborted",
    499,
    False,
    "A gate was aborted by its turn's signal or by ``gate.abort()``.",
)


class E_PIPELINE_SHORT_CIRCUITED(AdkError):  # named as the ADK code
    """A pipeline stopped without calling ``next``, aborting or (in dispatch) signalling.

    Status 500, not fatal.

    Args:
        pipeline: ``"turn-input"``, ``"turn-output"``, ``"dispatch-input"`` or
            ``"dispatch-output"``; also the attribute ``pipeline`` (PORT.md §9.10).
    """

    code: ClassVar[str] = "E_PIPELINE_SHORT_CIRCUITED"
    template: ClassVar[str] = "the %s pipeline stopped without calling next or aborting"

    @property
    def pipeline(self) -> str:
        """The pipeline's label."""
        return str(self.params[0]) if self.params else ""


# --- ours (PORT.md §4) --------------------------------------------------------------------
E_EXTRA_MISSING = _code(
    "E_EXTRA_MISSING",
    "the optional extra %s is not installed",
    500,
    True,
    "An optional integration was imported without its extra; ``help`` has the pip line.",
)
E_STORE_ERROR = _code(
    "E_STORE_ERROR", "the store failed", 500, False, "A ``ContextStore`` operation failed."
)
E_PROVIDER_ERROR = _code(
    "E_PROVIDER_ERROR", "the model provider failed", 502, False, "A model provider call failed."
)
E_TRACE_FORMAT = _code(
    "E_TRACE_FORMAT",
    "the trace file is malformed",
    422,
    False,
    "A trace file is of an unknown version, truncated or corrupt.",
)
E_INVALID_TRACE_OPTIONS = _code(
    "E_INVALID_TRACE_OPTIONS",
    "invalid trace recorder options",
    500,
    True,
    "``TraceRecorder`` got a bad option (the message names every bad field).",
)
E_STREAM_ALREADY_COMPLETE = _code(
    "E_STREAM_ALREADY_COMPLETE",
    "stream %s is already complete; further chunks are not accepted",
    409,
    False,
    "A ``report_*`` helper was called for a stream id already reported complete.",
)
E_INVALID_GENERATION_STATS = _code(
    "E_INVALID_GENERATION_STATS",
    "invalid generation stats",
    422,
    False,
    "``report_generation_stats`` was given unknown fields or wrong types.",
)
E_CODEC_ERROR = _code(
    "E_CODEC_ERROR",
    "the value cannot be encoded or decoded",
    422,
    False,
    "``adk.encode``/``adk.decode`` was given a value or document it cannot handle.",
)


def extra_missing(extra: str, module: str) -> AdkError:
    """Build the ``E_EXTRA_MISSING`` error for an optional extra.

    Args:
        extra: The extra's name in ``pyproject.toml`` (e.g. ``"tokens"``).
        module: The import that failed (e.g. ``"tiktoken"``).

    Returns:
        An ``E_EXTRA_MISSING`` whose ``help`` is the exact ``pip install`` line.
    """
    line = f"pip install 'adk[{extra}]'"
    return E_EXTRA_MISSING(
        extra,
        message=f"the optional extra {extra!r} is not installed ({module} is missing); "
        f"install it with: {line}",
        help=line,
    )


# --- provider batteries (issue 5; owned by adk/batteries) --------------------------------
# Failures of a model provider, translated by the provider executors (BATTERIES.md §3.7).
# Every code subclasses ``E_PROVIDER_ERROR`` (catch that for all of them) and mixes in
# :class:`ProviderErrorInfo` (the provider's status, detail and ``Retry-After`` hint).


class ProviderErrorInfo:
    """What a provider error carries besides the ADK fields (mixed into ``E_PROVIDER_*``).

    Set by :func:`provider_error`; the class defaults below apply otherwise.

    Attributes:
        provider: The provider label (e.g. ``"openai"``), or ``None``.
        provider_status: The provider's HTTP status; ``0`` when no HTTP answer arrived
            (connection failure, timeout, cut stream).
        detail: The provider's own error text with secrets redacted, or ``None``.
        retry_after: The server's ``Retry-After`` hint in seconds, or ``None``.
        retryable: Whether retrying may help (a class constant).
    """

    provider: str | None = None
    provider_status: int = 0
    detail: str | None = None
    retry_after: float | None = None
    retryable: ClassVar[bool] = False


class E_PROVIDER_RATE_LIMITED(E_PROVIDER_ERROR, ProviderErrorInfo):
    """The provider refused the request for rate or quota limits (HTTP 429); retryable.

    Status 429, not fatal.
    """

    code: ClassVar[str] = "E_PROVIDER_RATE_LIMITED"
    default_status: ClassVar[int] = 429
    template: ClassVar[str] = "the model provider is rate limiting requests"
    retryable: ClassVar[bool] = True


class E_PROVIDER_AUTHENTICATION(E_PROVIDER_ERROR, ProviderErrorInfo):
    """The provider refused the credentials (HTTP 401/403). Status 401, fatal."""

    code: ClassVar[str] = "E_PROVIDER_AUTHENTICATION"
    default_status: ClassVar[int] = 401
    default_fatal: ClassVar[bool] = True
    template: ClassVar[str] = "the model provider refused the credentials"


class E_PROVIDER_BAD_REQUEST(E_PROVIDER_ERROR, ProviderErrorInfo):
    """The provider rejected the request (HTTP 400/404/409/422). Status 400, not fatal."""

    code: ClassVar[str] = "E_PROVIDER_BAD_REQUEST"
    default_status: ClassVar[int] = 400
    template: ClassVar[str] = "the model provider rejected the request"


class E_PROVIDER_CONTEXT_OVERFLOW(E_PROVIDER_ERROR, ProviderErrorInfo):
    """The prompt does not fit the model's context window. Status 413, not fatal."""

    code: ClassVar[str] = "E_PROVIDER_CONTEXT_OVERFLOW"
    default_status: ClassVar[int] = 413
    template: ClassVar[str] = "the prompt exceeds the model's context window"


class E_PROVIDER_SERVER_ERROR(E_PROVIDER_ERROR, ProviderErrorInfo):
    """The provider failed (HTTP 5xx) or could not be reached; retryable. Status 502."""

    code: ClassVar[str] = "E_PROVIDER_SERVER_ERROR"
    default_status: ClassVar[int] = 502
    template: ClassVar[str] = "the model provider failed"
    retryable: ClassVar[bool] = True


class E_PROVIDER_TIMEOUT(E_PROVIDER_ERROR, ProviderErrorInfo):
    """The request timed out or the stream stalled; retryable. Status 504, not fatal."""

    code: ClassVar[str] = "E_PROVIDER_TIMEOUT"
    default_status: ClassVar[int] = 504
    template: ClassVar[str] = "the model provider timed out"
    retryable: ClassVar[bool] = True


class E_PROVIDER_MALFORMED_STREAM(E_PROVIDER_ERROR, ProviderErrorInfo):
    """The response stream was cut or could not be parsed. Status 502, not fatal.

    Never retried automatically: part of the answer may already have been reported.
    """

    code: ClassVar[str] = "E_PROVIDER_MALFORMED_STREAM"
    default_status: ClassVar[int] = 502
    template: ClassVar[str] = "the model provider's response stream was cut or malformed"


E_INVALID_PROVIDER_OPTIONS = _code(
    "E_INVALID_PROVIDER_OPTIONS",
    "invalid provider executor options",
    500,
    True,
    "A provider executor (``adk.batteries``) was constructed with bad options.",
)

E_SCRIPT_EXHAUSTED = _code(
    "E_SCRIPT_EXHAUSTED",
    "the scripted executor has no step left for this iteration",
    500,
    False,
    "``adk.testing.ScriptedExecutor`` was called more times than it has steps.",
)


def provider_error(
    cls: type[AdkError],
    message: str,
    *,
    provider: str | None,
    provider_status: int = 0,
    detail: str | None = None,
    retry_after: float | None = None,
    cause: BaseException | None = None,
) -> AdkError:
    """Build an ``E_PROVIDER_*`` error with its :class:`ProviderErrorInfo` fields set.

    Args:
        cls: One of the ``E_PROVIDER_*`` classes above (mixing in ProviderErrorInfo).
        message: The message (``str(err)`` is ``"<code>: <message>"``).
        provider: The provider label.
        provider_status: The provider's HTTP status (0 when none).
        detail: The provider's error text, already redacted.
        retry_after: The ``Retry-After`` hint in seconds.
        cause: The original error (``__cause__``).

    Returns:
        The error (not raised).
    """
    err = cls(message=message, cause=cause)
    if not isinstance(err, ProviderErrorInfo):
        raise TypeError(f"{cls.__name__} is not a provider error class")
    err.provider = provider
    err.provider_status = provider_status
    err.detail = detail
    err.retry_after = retry_after
    return err


# --- end provider batteries ----------------------------------------------------------------


# --- middleware and the local model (issue 6) -------------------------------------------
E_MAX_ITERATIONS = _code(
    "E_MAX_ITERATIONS",
    "the model did not finish within %s iteration(s); stopping",
    508,
    False,
    "The dispatch reached ``max_iterations(n)`` without the model answering "
    "(``params`` is ``(n,)``).",
)
E_INVALID_MIDDLEWARE_OPTIONS = _code(
    "E_INVALID_MIDDLEWARE_OPTIONS",
    "invalid middleware options",
    500,
    True,
    "A middleware factory of :mod:`adk.middleware` got a bad option.",
)
E_LOCAL_MODEL_CORRUPT = _code(
    "E_LOCAL_MODEL_CORRUPT",
    "the local model file is corrupt",
    500,
    True,
    "The model file joined from its packages has the wrong size or SHA-256; the cache is "
    "left untouched.",
)
E_LOCAL_SERVER_FAILED = _code(
    "E_LOCAL_SERVER_FAILED",
    "the local model server failed to start",
    503,
    False,
    "The local llama.cpp server could not start or exited while starting; ``help`` carries "
    "the tail of its log when there is one.",
)
E_LOCAL_SERVER_TIMEOUT = _code(
    "E_LOCAL_SERVER_TIMEOUT",
    "the local model server did not become ready in time",
    504,
    False,
    "The local llama.cpp server did not become healthy within the startup timeout; "
    "it is killed first.",
)


CODES: dict[str, type[AdkError]] = {
    cls.code: cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, AdkError) and cls is not AdkError
}
"""Every ``E_…`` code ``adk`` defines, mapped to its class."""
