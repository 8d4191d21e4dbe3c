"""``Tool``, ``ArtifactTool`` and the ``@tool`` decorator (PRIMITIVES.md §10, §11).

Source followed: ``src/lib/classes/tool.ts`` and ``src/lib/classes/artifact_tool.ts`` of
@nhtio/adk. A tool is a name, a description shown to the model, an input schema and a
handler. ``Tool.executor(ctx)`` validates the raw arguments, emits
``tool_execution_start``/``tool_execution_end`` on the context and runs the handler.

``Tool`` is a plain ``__slots__`` class rather than a msgspec ``Primitive`` Struct: it holds a
callable and a compiled schema that are not data, it is never encoded (handlers cannot round
trip, PRIMITIVES.md §10.2), and slots keep attribute reads as fast as a Struct's.
Assignment raises ``AttributeError``; equality is identity.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol, overload

import msgspec

from adk.contracts.events import ToolExecutionEnd, ToolExecutionStart
from adk.errors import (
    E_INVALID_INITIAL_TOOL_VALUE,
    E_TOOL_DOWNSTREAM_ERROR,
    AdkError,
    FieldError,
    is_abort_error,
)
from adk.primitives._schema import ArgsSchema, compile_schema, function_args
from adk.primitives.canonical import tool_call_checksum
from adk.primitives.registry import Registry

__all__ = [
    "ArtifactTool",
    "OnCollision",
    "Tool",
    "ToolContext",
    "ToolExecutor",
    "ToolHandler",
    "tool",
]

OnCollision = Literal["throw", "replace", "keep"]
"""What ``ToolRegistry.merge`` does when this tool's name is already taken."""

ToolHandler = Callable[[Any, Any, Registry], Any]
"""``handler(args, ctx, meta)``: validated args, the context, the tool's meta Registry;
returns the result or an awaitable of it."""

ToolExecutor = Callable[[Mapping[str, Any]], Coroutine[Any, Any, Any]]
"""``await executor(raw_args)`` → the handler's result (see :meth:`Tool.executor`)."""


class ToolContext(Protocol):
    """What ``Tool.executor`` needs from a context (a turn or dispatch context fits)."""

    @property
    def id(self) -> str:
        """The context id, used as ``turn_id`` of the execution events."""
        ...

    def emit_tool_execution_start(self, payload: ToolExecutionStart, /) -> object:
        """Emit ``tool_execution_start``."""
        ...

    def emit_tool_execution_end(self, payload: ToolExecutionEnd, /) -> object:
        """Emit ``tool_execution_end``."""
        ...


_FIELDS: Final = (
    "name",
    "description",
    "input_schema",
    "handler",
    "meta",
    "ephemeral",
    "trusted",
    "on_collision",
    "artifact_constructor",
)
_COLLISIONS: Final = ("throw", "replace", "keep")
_ARTIFACT_ATTRS: Final = (
    "head",
    "tail",
    "grep",
    "cat",
    "byte_length",
    "line_count",
    "estimate_tokens",
)
_MISSING: Final[Any] = object()


def _check_str(kwargs: dict[str, Any], key: str, errors: list[FieldError]) -> Any:
    value = kwargs.get(key, _MISSING)
    if type(value) is str and value:
        return value
    if value is _MISSING:
        errors.append(FieldError(key, "is required"))
    elif isinstance(value, str):
        errors.append(FieldError(key, "must not be empty"))
    else:
        errors.append(FieldError(key, f"must be a string, not {type(value).__name__}"))
    return None


def _check_bool(kwargs: dict[str, Any], key: str, errors: list[FieldError]) -> bool:
    value = kwargs.get(key, False)
    if value is True or value is False:
        return value
    if value in ("true", "false"):  # constructors convert, as the ADK's Joi schemas do
        return value == "true"
    errors.append(FieldError(key, f"must be a boolean, not {type(value).__name__}"))
    return False


def _check_meta(value: Any, errors: list[FieldError]) -> Registry:
    if value is None:
        return Registry()
    if isinstance(value, Registry):
        return Registry(value.all())
    if isinstance(value, Mapping):
        return Registry(value)  # pyright: ignore[reportUnknownArgumentType]
    errors.append(FieldError("meta", f"must be a mapping or None, not {type(value).__name__}"))
    return Registry()


def _check_artifact_constructor(value: Any, errors: list[FieldError]) -> Any:
    if value is None:
        return None
    if not callable(value):
        errors.append(FieldError("artifact_constructor", "must be a zero-argument callable"))
        return None
    try:
        cls = value()
    except Exception as exc:
        errors.append(FieldError("artifact_constructor", f"raised {exc!r} when called"))
        return None
    if not isinstance(cls, type):
        errors.append(FieldError("artifact_constructor", "must return a class"))
        return None
    missing = [a for a in _ARTIFACT_ATTRS if not hasattr(cls, a)]
    if missing:
        errors.append(
            FieldError(
                "artifact_constructor",
                "must return a SpooledArtifact-like class; missing " + ", ".join(missing),
            )
        )
        return None
    return value  # pyright: ignore[reportUnknownVariableType]


class Tool:
    """A tool the model can call: name, description, input schema and handler.

    Construction is keyword-only and validates every field; all bad, missing or unknown
    fields are named in one error. Instances are immutable and compare by identity.

    Args:
        name: Non-empty name, the tool's key in registries (snake_case recommended).
        description: Non-empty description shown to the model.
        input_schema: A ``msgspec.Struct`` subclass, or a JSON Schema object schema
            (``{"type": "object", ...}``; supported keywords in ``adk.primitives._schema``).
            Compiled once here; an unsupported keyword is an error, never ignored.
        handler: ``handler(args, ctx, meta)``, sync or async. ``args`` is what
            :meth:`validate` returns, ``ctx`` the context given to :meth:`executor`,
            ``meta`` this tool's :class:`Registry`. It may return ``str``, ``bytes``,
            ``Media``, a list of ``Media`` or a ``SpooledArtifact``; the result is passed
            on unchanged.
        meta: ``None`` (empty) or a mapping (or Registry), copied into a new
            :class:`Registry`.
        ephemeral: Whether ``ToolRegistry.prune_ephemeral`` (run on ack) removes it.
        trusted: Whether its output is rendered in the trusted envelope.
        on_collision: ``"throw"``, ``"replace"`` or ``"keep"``; honoured by
            ``ToolRegistry.merge`` only.
        artifact_constructor: ``None`` or a zero-argument callable returning a
            SpooledArtifact-like class (with ``head``, ``tail``, ``grep``, ``cat``,
            ``byte_length``, ``line_count``, ``estimate_tokens``); it is called here, as in
            the ADK, and raising or a wrong shape is an error.

    Attributes:
        name, description, meta, ephemeral, trusted, on_collision, artifact_constructor:
            As given (``meta`` as a Registry, shared by every execution).

    Raises:
        E_INVALID_INITIAL_TOOL_VALUE: any bad, missing or unknown field, or positional
            arguments; ``details`` lists each one.
    """

    __slots__ = (
        "_handler",
        "_input_schema",
        "_schema",
        "artifact_constructor",
        "description",
        "ephemeral",
        "meta",
        "name",
        "on_collision",
        "trusted",
    )
    _forbid_artifact_constructor: ClassVar[bool] = False

    name: str
    description: str
    meta: Registry
    ephemeral: bool
    trusted: bool
    on_collision: OnCollision
    artifact_constructor: Callable[[], type] | None
    _input_schema: Any
    _schema: ArgsSchema
    _handler: ToolHandler

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            name: str,
            description: str,
            input_schema: type[msgspec.Struct] | Mapping[str, Any],
            handler: ToolHandler,
            meta: Mapping[str, Any] | Registry | None = None,
            ephemeral: bool = False,
            trusted: bool = False,
            on_collision: OnCollision = "throw",
            artifact_constructor: Callable[[], type] | None = None,
        ) -> None: ...

    else:

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            errors: list[FieldError] = []
            if args:
                errors.append(
                    FieldError("*", f"{type(self).__name__} takes keyword arguments only")
                )
            self._build(kwargs, errors)

    def _build(self, kwargs: dict[str, Any], errors: list[FieldError]) -> None:
        for key in kwargs:
            if key not in _FIELDS:
                errors.append(FieldError(key, "is not a known field"))
        name = _check_str(kwargs, "name", errors)
        description = _check_str(kwargs, "description", errors)
        raw_schema = kwargs.get("input_schema", _MISSING)
        schema: ArgsSchema | None = None
        if raw_schema is _MISSING:
            errors.append(FieldError("input_schema", "is required"))
        else:
            try:
                schema = compile_schema(raw_schema, name or "tool")
            except AdkError as err:
                errors.extend(err.details)
        handler = kwargs.get("handler", _MISSING)
        if handler is _MISSING:
            errors.append(FieldError("handler", "is required"))
        elif not callable(handler):
            errors.append(FieldError("handler", "must be callable"))
        meta = _check_meta(kwargs.get("meta"), errors)
        ephemeral = _check_bool(kwargs, "ephemeral", errors)
        trusted = _check_bool(kwargs, "trusted", errors)
        on_collision = kwargs.get("on_collision", "throw")
        if on_collision not in _COLLISIONS:
            errors.append(FieldError("on_collision", "must be one of 'throw', 'replace', 'keep'"))
        ctor = kwargs.get("artifact_constructor")
        if ctor is not None and self._forbid_artifact_constructor:
            errors.append(FieldError("artifact_constructor", "is not allowed on an ArtifactTool"))
            ctor = None
        ctor = _check_artifact_constructor(ctor, errors)
        if errors:
            raise E_INVALID_INITIAL_TOOL_VALUE(
                message=f"{E_INVALID_INITIAL_TOOL_VALUE.template}: " + "; ".join(map(str, errors)),
                details=errors,
            )
        put = object.__setattr__
        put(self, "name", name)
        put(self, "description", description)
        put(self, "_input_schema", copy.deepcopy(raw_schema))
        put(self, "_schema", schema)
        put(self, "_handler", handler)
        put(self, "meta", meta)
        put(self, "ephemeral", ephemeral)
        put(self, "trusted", trusted)
        put(self, "on_collision", on_collision)
        put(self, "artifact_constructor", ctor)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def __copy__(self) -> Tool:
        return self  # immutable: a copy is the same tool (keeps identity equality useful)

    def __deepcopy__(self, memo: dict[int, Any]) -> Tool:
        return self

    @property
    def input_schema(self) -> Any:
        """The schema as given: the Struct type, or a deep copy of the JSON Schema dict."""
        return copy.deepcopy(self._input_schema)

    def validate(self, args: Mapping[str, Any]) -> Any:
        """Validate raw arguments strictly (synchronous; PORT.md §9.5, §9.15).

        Unknown keys are rejected, nothing is coerced (``"5"`` is not an integer), defaults
        are filled in, non-finite numbers are rejected.

        Args:
            args: The raw arguments (a mapping with string keys, e.g. parsed model JSON).

        Returns:
            An instance of the Struct for a Struct schema; a new ``dict`` for a JSON Schema.

        Raises:
            E_INVALID_TOOL_ARGS: the arguments do not match; the message and ``details``
                name the bad field (msgspec's path, e.g. ``$.n``) and ``__cause__`` is the
                ``msgspec.ValidationError``.
        """
        return self._schema.validate(args)

    def executor(self, ctx: ToolContext) -> ToolExecutor:
        """Bind the tool to a context; returns ``async (args) -> result``.

        Follows ``Tool.executor`` of the ADK step by step (PRIMITIVES.md §10.2):

        1. ``call_id = tool_call_checksum(name, args)`` over the **raw** arguments;
        2. validate (``E_INVALID_TOOL_ARGS`` before any event, handler not called);
        3. emit ``ToolExecutionStart`` (``turn_id=ctx.id``, validated ``args``);
        4. run the handler (sync handlers run inline on the event loop; an awaitable
           result is awaited);
        5. on success emit ``ToolExecutionEnd(is_error=False)`` and return the result
           unchanged;
        6. on an exception emit ``ToolExecutionEnd(is_error=True)``, then raise
           ``E_TOOL_DOWNSTREAM_ERROR`` with the exception as ``__cause__``. An abort
           (``AbortError`` or anyio's cancellation exception) and any other
           ``BaseException`` propagate unchanged after the End event.

        Timestamps are aware UTC datetimes; ``duration_ms`` is ``ended_at - started_at`` in
        milliseconds. Call once per context and reuse the returned function.

        Args:
            ctx: Anything with ``id`` and the two ``emit_tool_execution_*`` methods.

        Returns:
            The bound executor.
        """
        name = self.name
        schema = self._schema
        handler = self._handler
        meta = self.meta

        async def execute(args: Mapping[str, Any]) -> Any:
            call_id = tool_call_checksum(name, args)
            validated = schema.validate(args)
            turn_id = ctx.id
            started_at = datetime.now(UTC)
            ctx.emit_tool_execution_start(
                ToolExecutionStart(
                    tool_name=name,
                    turn_id=turn_id,
                    call_id=call_id,
                    args=validated,
                    started_at=started_at,
                )
            )

            def end(is_error: bool) -> None:
                ended_at = datetime.now(UTC)
                ctx.emit_tool_execution_end(
                    ToolExecutionEnd(
                        tool_name=name,
                        turn_id=turn_id,
                        call_id=call_id,
                        started_at=started_at,
                        ended_at=ended_at,
                        duration_ms=(ended_at - started_at).total_seconds() * 1000.0,
                        is_error=is_error,
                    )
                )

            try:
                result = handler(validated, ctx, meta)
                if inspect.isawaitable(result):
                    result = await result
            except BaseException as exc:
                end(True)
                if isinstance(exc, Exception) and not is_abort_error(exc):
                    raise E_TOOL_DOWNSTREAM_ERROR(
                        message=f"the handler of tool {name!r} raised {type(exc).__name__}: {exc}",
                        cause=exc,
                    ) from exc
                raise
            end(False)
            return result

        return execute

    def describe(self) -> dict[str, Any]:
        """A plain, JSON-serialisable description for provider tool definitions.

        Returns:
            A new ``{"name", "description", "input_schema"}`` dict; ``input_schema`` is a
            self-contained JSON Schema (``$ref``s inlined, ``additionalProperties: false``
            wherever unknown keys are rejected).
        """
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self._schema.describe(),
        }

    @staticmethod
    def is_tool(value: object) -> bool:
        """Whether ``value`` is a Tool (an ArtifactTool counts); by class name as fallback."""
        return isinstance(value, Tool) or any(
            c.__name__ in ("Tool", "ArtifactTool") for c in type(value).__mro__
        )


class ArtifactTool(Tool):
    """A tool that queries spooled artifacts (PRIMITIVES.md §11, ``artifact_tool.ts``).

    Same fields as :class:`Tool` except ``artifact_constructor``, which is forbidden. The
    handler returns ``str`` or a ``Tokenizable``; wrap sites turn a ``str`` into a
    Tokenizable and set ``ToolCall.from_artifact_tool=True``.

    Raises:
        E_INVALID_INITIAL_TOOL_VALUE: as :class:`Tool`, or ``artifact_constructor`` given.
    """

    __slots__ = ()
    _forbid_artifact_constructor: ClassVar[bool] = True

    @staticmethod
    def is_artifact_tool(value: object) -> bool:
        """Whether ``value`` is an ArtifactTool; by class name as fallback."""
        return isinstance(value, ArtifactTool) or any(
            c.__name__ == "ArtifactTool" for c in type(value).__mro__
        )


# --- @tool ----------------------------------------------------------------------------


def _from_function(fn: Callable[..., Any], options: dict[str, Any]) -> Tool:
    if not callable(fn):
        err = FieldError("handler", "@tool must decorate a function")
        raise E_INVALID_INITIAL_TOOL_VALUE(message=f"invalid Tool: {err}", details=[err])
    errors = [
        FieldError(key, "is derived from the function by @tool")
        for key in ("input_schema", "handler")
        if key in options
    ]
    name = options.setdefault("name", getattr(fn, "__name__", None))
    derived = function_args(fn, name if isinstance(name, str) and name else "tool")
    errors.extend(derived.errors)
    if options.get("description") is None:
        if not derived.prose:
            errors.append(
                FieldError(
                    "description", "is required: give the function a docstring or pass description="
                )
            )
        options["description"] = derived.prose or None
    if errors:  # also report the options' own problems, all in one error
        probe = {k: v for k, v in options.items() if k not in ("input_schema", "handler")}
        probe["description"] = probe["description"] or "-"
        try:
            Tool(input_schema=derived.struct or {"type": "object"}, handler=fn, **probe)
        except AdkError as err:
            seen = {e.path for e in errors}
            errors.extend(e for e in err.details if e.path not in seen)
        raise E_INVALID_INITIAL_TOOL_VALUE(
            message="invalid Tool: " + "; ".join(map(str, errors)), details=errors
        )
    arg_names = derived.names
    wants_ctx = "ctx" in derived.injected
    wants_meta = "meta" in derived.injected

    def handler(args: Any, ctx: Any, meta: Registry) -> Any:
        kwargs = {n: getattr(args, n) for n in arg_names}
        if wants_ctx:
            kwargs["ctx"] = ctx
        if wants_meta:
            kwargs["meta"] = meta
        return fn(**kwargs)

    return Tool(input_schema=derived.struct, handler=handler, **options)


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    meta: Mapping[str, Any] | Registry | None = None,
    ephemeral: bool = False,
    trusted: bool = False,
    on_collision: OnCollision = "throw",
    artifact_constructor: Callable[[], type] | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Build a :class:`Tool` from a typed function (sync or async). Ours, not the ADK's.

    Usable bare (``@tool``) or with options (``@tool(name=..., description=...,
    ephemeral=..., trusted=...)``). **The decorated name is bound to the Tool**, not to the
    function.

    * ``name`` defaults to the function's ``__name__``.
    * ``description`` defaults to the docstring's prose: everything before its first
      Google-style section (``Args:``, ``Returns:``, …). A function without a docstring
      needs ``description=``.
    * The input schema is a msgspec Struct built from the parameters' annotations
      (unannotated means any JSON value), with parameter defaults as defaults, unknown keys
      forbidden, and each parameter's ``Args:`` entry as its JSON Schema ``description``
      (an explicit ``Annotated[T, msgspec.Meta(description=...)]`` wins). ``validate``
      therefore returns an instance of that Struct.
    * Parameters named ``ctx`` and ``meta`` are not arguments: they receive the context
      and the tool's meta Registry. ``*args``, ``**kwargs`` and positional-only
      parameters are rejected. The function is called with keyword arguments.

    Args:
        fn: The function (bare use); ``None`` when called with options.
        **options: ``name``, ``description``, ``meta``, ``ephemeral``, ``trusted``,
            ``on_collision``, ``artifact_constructor``, as for :class:`Tool`.

    Returns:
        The Tool (bare use), or a decorator returning it.

    Raises:
        E_INVALID_INITIAL_TOOL_VALUE: no description, an unusable parameter or annotation,
            or a bad option.
    """
    if fn is not None:
        return _from_function(fn, dict(options))

    def decorate(f: Callable[..., Any]) -> Tool:
        return _from_function(f, dict(options))

    return decorate
