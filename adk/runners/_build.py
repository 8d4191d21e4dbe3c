"""Validating dispatch input and building a ``DispatchContext`` (RUNNERS.md §3.1–§3.2)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, cast

from adk.contracts._bus import Bus, normalise_handlers
from adk.contracts.dispatch_context import (
    CONTEXT_HOOKS,
    RECORD_KINDS,
    SELF,
    DispatchContext,
    Ops,
)
from adk.contracts.record_set import RecordSet
from adk.contracts.store import STORE_METHODS
from adk.contracts.turn_context import TurnContext
from adk.errors import (
    E_INVALID_LLM_DISPATCH_INPUT,
    E_INVALID_LLM_EXECUTION_CONTEXT,
    AdkError,
    FieldError,
)
from adk.primitives.memory import Memory
from adk.primitives.message import Message
from adk.primitives.registry import Registry
from adk.primitives.retrievable import Retrievable
from adk.primitives.thought import Thought
from adk.primitives.tokenizable import Tokenizable
from adk.primitives.tool import Tool
from adk.primitives.tool_call import ToolCall
from adk.primitives.tool_registry import ToolRegistry
from adk.runners.abort import AbortController, link

__all__ = [
    "FUNCTIONAL_HOOKS",
    "OBSERVERS",
    "build_derived",
    "build_standalone",
    "check_dispatch_input",
    "is_turn_context",
]

FUNCTIONAL_HOOKS: Final = frozenset({"message", "thought", "tool_call"})
OBSERVERS: Final = frozenset(
    {
        "tool_execution_start",
        "tool_execution_end",
        "iteration_start",
        "iteration_end",
        "dispatch_start",
        "dispatch_end",
        "error",
        "log",
        "warning",
        "generation_stats",
    }
)
SET_NAMES: Final = {
    "memory": "turn_memories",
    "retrievable": "turn_retrievables",
    "message": "turn_messages",
    "thought": "turn_thoughts",
    "tool_call": "turn_tool_calls",
}
_RAW_LISTS: Final[dict[str, tuple[str, type[Any]]]] = {
    "memories": ("memory", Memory),
    "retrievables": ("retrievable", Retrievable),
    "messages": ("message", Message),
    "thoughts": ("thought", Thought),
    "tool_calls": ("tool_call", ToolCall),
}


def is_turn_context(value: object) -> bool:
    """The derived-path guard: a TurnContext (or a double marked ``__adk_turn_context__``)."""
    return getattr(type(value), "__adk_turn_context__", False) is True


def _hook_map(
    value: object, allowed: frozenset[str], path: str, errors: list[FieldError]
) -> dict[str, tuple[Callable[[Any], Any], ...]]:
    out: dict[str, tuple[Callable[[Any], Any], ...]] = {}
    if value is None:
        return out
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, "must be a mapping of event names to callables"))
        return out
    mapping: Mapping[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
    for name, handlers in mapping.items():
        if name not in allowed:
            errors.append(FieldError(f"{path}.{name}", "is not a known event"))
            continue
        hs = normalise_handlers(handlers)
        if hs is None:
            errors.append(FieldError(f"{path}.{name}", "must be a callable or a list of them"))
        elif hs:
            out[name] = hs
    return out


def _pipeline(value: object, path: str, errors: list[FieldError]) -> tuple[Any, ...]:
    if isinstance(value, list | tuple):
        items: tuple[Any, ...] = tuple(cast("Iterable[Any]", value))
        for i, mw in enumerate(items):
            if not callable(mw):
                errors.append(FieldError(f"{path}[{i}]", "must be callable"))
        return items
    errors.append(FieldError(path, "must be a list of middleware"))
    return ()


def check_dispatch_input(
    *,
    source: object,
    raw: object,
    executor: object,
    turn_input_pipeline: object,
    turn_output_pipeline: object,
    hooks: object,
    observers: object,
    unknown: Mapping[str, Any],
) -> tuple[
    tuple[Any, ...],
    tuple[Any, ...],
    dict[str, tuple[Callable[[Any], Any], ...]],
]:
    """Validate ``DispatchRunner.dispatch`` arguments (before any event).

    Returns:
        ``(input_pipeline, output_pipeline, listeners)`` with hooks and observers merged.

    Raises:
        E_INVALID_LLM_DISPATCH_INPUT: naming every bad argument; also when neither or both
            of ``source`` and ``raw`` are given.
    """
    errors: list[FieldError] = [FieldError(k, "is not a known argument") for k in unknown]
    if not callable(executor):
        errors.append(FieldError("executor", "is required and must be callable"))
    inp = _pipeline(turn_input_pipeline, "turn_input_pipeline", errors)
    out = _pipeline(turn_output_pipeline, "turn_output_pipeline", errors)
    listeners = _hook_map(hooks, FUNCTIONAL_HOOKS, "hooks", errors)
    listeners.update(_hook_map(observers, OBSERVERS, "observers", errors))
    if source is not None and not is_turn_context(source):
        errors.append(FieldError("source", "must be a TurnContext"))
    if errors:
        raise E_INVALID_LLM_DISPATCH_INPUT(
            message="the dispatch runner got invalid input: " + "; ".join(map(str, errors)),
            details=errors,
        )
    if (source is None) == (raw is None):
        raise E_INVALID_LLM_DISPATCH_INPUT(
            message="the dispatch runner needs exactly one of source= and raw="
        )
    return inp, out, listeners


def _copy_set(items: Any) -> RecordSet[Any]:
    if isinstance(items, RecordSet):
        source: RecordSet[Any] = items  # pyright: ignore[reportUnknownVariableType]
        return source.copy()
    return RecordSet(items)


def build_derived(source: Any) -> DispatchContext:
    """Snapshot a turn into a new context; persistence and gates delegate to the turn."""
    controller = AbortController()
    link(source.abort_signal, controller)
    return DispatchContext(
        controller=controller,
        stash=source.stash.copy(),
        system_prompt=source.system_prompt,
        standing_instructions=_copy_set(source.standing_instructions),
        sets={kind: _copy_set(getattr(source, SET_NAMES[kind])) for kind in RECORD_KINDS},
        tools=ToolRegistry(source.tools.all()),
        # A real TurnContext: call its callbacks directly with it as first argument (what
        # its own methods do, minus a coroutine layer); anything else: its methods.
        ops=source._ops if isinstance(source, TurnContext) else Ops(source),
        callback_ctx=source if isinstance(source, TurnContext) else None,
        wait_for=source.wait_for,
        hooks=Bus(),
    )


def _fail(errors: list[FieldError]) -> AdkError:
    return E_INVALID_LLM_EXECUTION_CONTEXT(
        message="the execution context cannot be built from the value: "
        + "; ".join(map(str, errors)),
        details=errors,
    )


def _typed_list(value: object, path: str, cls: type[Any], errors: list[FieldError]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        errors.append(FieldError(path, f"must be a list of {cls.__name__}"))
        return []
    items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            errors.append(FieldError(f"{path}[{i}]", f"must be a {cls.__name__}"))
    return items


_checked_store_types: set[type[Any]] = set()


def _check_store(store: object, explicit: Mapping[str, Any], errors: list[FieldError]) -> None:
    """Check that the store has every operation not given explicitly.

    Checked once per store class, then cached.
    """
    cls = type(store)
    if cls in _checked_store_types:
        return
    missing = [n for n in STORE_METHODS if not callable(getattr(store, n, None))]
    if not missing:
        _checked_store_types.add(cls)
        return
    for name in missing:
        if name not in explicit:
            errors.append(
                FieldError(f"store.{name}", "is missing: the store must be a ContextStore")
            )


_STORE_METHOD_SET: Final = frozenset(STORE_METHODS)


def build_standalone(raw: object) -> DispatchContext:
    """Build a standalone context from ``raw`` (RUNNERS.md §3.1, PORT.md §6).

    Persistence callbacks not given in ``raw`` come from ``raw["store"]`` (a
    ``ContextStore``), itself defaulting to a fresh ``InMemoryStore``.

    Raises:
        E_INVALID_LLM_EXECUTION_CONTEXT: naming every bad field.
    """
    if not isinstance(raw, Mapping):
        raise _fail([FieldError("raw", f"must be a mapping, not {type(raw).__name__}")])
    data: Mapping[Any, Any] = raw  # pyright: ignore[reportUnknownVariableType]
    errors: list[FieldError] = []
    prompt: Any = None
    instructions: list[Tokenizable] = []
    sets: dict[str, RecordSet[Any]] = {}
    tools: list[Any] = []
    stash: Any = None
    controller: Any = None
    wait_for: Any = None
    store: Any = None
    hooks: Any = None
    explicit: dict[str, Callable[..., Any]] = {}
    for key, value in data.items():
        if key in _STORE_METHOD_SET:
            if callable(value):
                explicit[key] = value
            elif value is not None:
                errors.append(FieldError(key, "must be callable"))
        elif key == "system_prompt":
            prompt = value
        elif key in _RAW_LISTS:
            kind, cls = _RAW_LISTS[key]
            sets[kind] = RecordSet(_typed_list(value, key, cls, errors))
        elif key == "tools":
            tools = _typed_list(value, "tools", Tool, errors)
        elif key == "standing_instructions":
            items = _typed_list(value, key, object, errors)
            for i, item in enumerate(items):
                if isinstance(item, Tokenizable):
                    instructions.append(item)
                elif isinstance(item, str) and item:
                    instructions.append(Tokenizable(item))
                else:
                    errors.append(FieldError(f"{key}[{i}]", "must be a str or Tokenizable"))
        elif key == "stash":
            stash = value
            if stash is not None and not isinstance(stash, Mapping):
                errors.append(FieldError("stash", "must be a mapping"))
        elif key == "turn_abort_controller":
            controller = value
            if controller is not None and not isinstance(controller, AbortController):
                errors.append(FieldError(key, "must be an AbortController"))
        elif key == "wait_for":
            wait_for = value
            if wait_for is not None and not callable(wait_for):
                errors.append(FieldError(key, "must be callable"))
        elif key == "store":
            store = value
        elif key == "hooks":
            hooks = value
        else:
            errors.append(FieldError(str(key), "is not a known field"))
    if isinstance(prompt, str) and prompt:
        prompt = Tokenizable(prompt)
    elif not isinstance(prompt, Tokenizable):
        errors.append(FieldError("system_prompt", "is required: a non-empty str or Tokenizable"))
    if store is None:
        if len(explicit) < len(STORE_METHODS):
            from adk.stores.memory import InMemoryStore

            store = InMemoryStore()
    else:
        _check_store(store, explicit, errors)
    bus = Bus()
    if hooks is not None:
        bus.add_many(_hook_map(hooks, CONTEXT_HOOKS, "hooks", errors))
    if errors:
        raise _fail(errors)
    for kind in RECORD_KINDS:
        if kind not in sets:
            sets[kind] = RecordSet()
    try:
        registry = ToolRegistry(tools)
    except AdkError as exc:
        raise _fail([FieldError("tools", exc.message)]) from exc
    gate = None if wait_for is None else functools.partial(_call_gate, wait_for)
    return DispatchContext(
        controller=controller if controller is not None else AbortController(),
        stash=Registry(cast("Mapping[str, Any] | None", stash)),
        system_prompt=cast("Tokenizable", prompt),
        standing_instructions=RecordSet(instructions),
        sets=sets,
        tools=registry,
        ops=Ops(store, explicit),
        callback_ctx=SELF,
        wait_for=gate,
        hooks=bus,
    )


async def _call_gate(fn: Callable[..., Any], **kwargs: Any) -> Any:
    result = fn(**kwargs)
    if hasattr(result, "__await__"):
        return await result
    return result
