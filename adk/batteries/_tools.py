"""Running the tool calls a model requested, shared by executors (BATTERIES.md §3.9).

Differences from the ADK, deliberate: calls requested together run **concurrently** (the
ADK runs them one by one); records are still stored in request order. As in the ADK, a
bad call never crashes the turn: invalid JSON, a non-object, arguments the tool rejects,
an unknown or hidden tool and a failing handler all become an error ``ToolCall``
(``is_error=True``) whose text goes back to the model so it can correct itself. Aborts
(``AbortError``, cancellation) propagate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import anyio
import msgspec

from adk.contracts.dispatch_context import DispatchContext
from adk.errors import E_INVALID_TOOL_ARGS, AdkError, is_abort_error
from adk.primitives import Tokenizable, Tool, ToolCall, tool_call_checksum
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = ["RequestedCall", "parse_arguments", "run_tool_calls", "wrap_result"]


@dataclass(slots=True)
class RequestedCall:
    """A tool call as the model requested it.

    Attributes:
        id: The call id (the provider's, or a minted UUIDv6); also the stream id.
        tool: The tool name the model asked for.
        arguments: The raw argument text (JSON) or an already parsed mapping.
        created_at: When the request started streaming (aware UTC).
    """

    id: str
    tool: str
    arguments: str | Mapping[str, Any]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def parse_arguments(arguments: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse a model's tool arguments into a dict.

    An empty or blank string counts as ``{}`` (models send it for argument-less tools).

    Raises:
        E_INVALID_TOOL_ARGS: not JSON, or JSON that is not an object.
    """
    if not isinstance(arguments, str):
        return dict(arguments)
    if not arguments.strip():
        return {}
    try:
        parsed: object = msgspec.json.decode(arguments)
    except (msgspec.DecodeError, RecursionError, UnicodeError) as exc:
        raise E_INVALID_TOOL_ARGS(
            message=f"the tool arguments are not valid JSON ({exc}): {arguments[:500]!r}",
            cause=exc,
        ) from exc
    if not isinstance(parsed, dict):
        raise E_INVALID_TOOL_ARGS(
            message=f"the tool arguments must be a JSON object, not {type(parsed).__name__}"
        )
    return cast(dict[str, Any], parsed)


def wrap_result(result: object) -> Any:
    """Make a handler's return value storable as ``ToolCall.results`` (PORT.md §5).

    ``str`` → :class:`~adk.Tokenizable`; ``bytes`` → UTF-8 text (replacement characters
    for bad bytes); ``None`` → empty text; a Tokenizable, spooled artifact, Media or a list
    of them is kept; anything else is JSON-encoded (``str()`` for what JSON cannot hold).
    """
    if isinstance(result, Tokenizable):
        return result
    if isinstance(result, str):
        return Tokenizable(result)
    if isinstance(result, bytes | bytearray):
        return Tokenizable(bytes(result).decode("utf-8", "replace"))
    if result is None:
        return Tokenizable("")
    name = type(result).__name__
    if name == "Media" or callable(getattr(result, "byte_length", None)):
        return result
    if isinstance(result, list | tuple):
        items = cast(Sequence[Any], result)
        if items and all(
            type(v).__name__ == "Media" or callable(getattr(v, "byte_length", None)) for v in items
        ):
            return tuple(items)
    try:
        return Tokenizable(msgspec.json.encode(result, enc_hook=str).decode())
    except (TypeError, ValueError, msgspec.EncodeError):
        return Tokenizable(str(cast(object, result)))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, AdkError):
        text = str(exc)
        if exc.details:
            text += " (" + "; ".join(str(d) for d in exc.details) + ")"
        return text
    return f"{type(exc).__name__}: {exc}"


async def _execute(
    ctx: DispatchContext,
    helpers: DispatchExecutorHelpers,
    call: RequestedCall,
    tools: Mapping[str, Tool],
) -> tuple[dict[str, Any], Any, bool]:
    """Parse, report and run one call; returns ``(args, results, is_error)``."""
    try:
        args = parse_arguments(call.arguments)
    except AdkError as exc:
        helpers.report_tool_call(call.id, tool=call.tool, args={})
        return {}, Tokenizable(_error_text(exc)), True
    helpers.report_tool_call(call.id, tool=call.tool, args=args)
    tool = tools.get(call.tool)
    if tool is None:
        available = ", ".join(sorted(tools)) or "none"
        text = f"there is no tool named {call.tool!r}; available tools: {available}"
        return args, Tokenizable(text), True
    try:
        return args, wrap_result(await tool.executor(ctx)(args)), False
    except Exception as exc:
        if is_abort_error(exc):
            raise
        return args, Tokenizable(_error_text(exc)), True


def _record(call: RequestedCall, args: dict[str, Any], results: Any, is_error: bool) -> ToolCall:
    now = datetime.now(UTC)
    return ToolCall(
        id=call.id,
        tool=call.tool,
        args=args,
        checksum=tool_call_checksum(call.tool, args),
        is_complete=True,
        is_error=is_error,
        results=results,
        created_at=call.created_at,
        updated_at=now,
        completed_at=now,
    )


async def _run_one(
    ctx: DispatchContext,
    helpers: DispatchExecutorHelpers,
    call: RequestedCall,
    tools: Mapping[str, Tool],
) -> ToolCall:
    args, results, is_error = await _execute(ctx, helpers, call, tools)
    try:
        record = _record(call, args, results, is_error)
    except AdkError as exc:  # a result a ToolCall cannot hold
        text = Tokenizable(f"the tool's result cannot be stored: {exc}")
        record = _record(call, args, text, True)
    helpers.report_tool_call(
        call.id, results=record.results, is_error=record.is_error, is_complete=True
    )
    return record


async def run_tool_calls(
    ctx: DispatchContext,
    helpers: DispatchExecutorHelpers,
    calls: Sequence[RequestedCall],
    *,
    concurrent: bool = True,
) -> list[ToolCall]:
    """Run the requested calls, then store their ``ToolCall`` records in request order.

    Only the context's *visible* tools can be called (hidden tools were not offered).

    Args:
        ctx: The dispatch context (tools, ``store_tool_call``).
        helpers: The executor helpers (``report_tool_call`` before and after each run).
        calls: The calls in the order the model requested them.
        concurrent: Run several calls at once (``False``: one after the other).

    Returns:
        The stored records, in request order.

    Raises:
        AbortError: or the backend's cancellation, when the dispatch aborts.
        Exception: what ``ctx.store_tool_call`` raises (a failing store).
    """
    tools = {t.name: t for t in ctx.tools.visible()}
    records: list[ToolCall | None] = [None] * len(calls)

    async def run(i: int) -> None:
        records[i] = await _run_one(ctx, helpers, calls[i], tools)

    if concurrent and len(calls) > 1:
        async with anyio.create_task_group() as tg:
            for i in range(len(calls)):
                tg.start_soon(run, i)
    else:
        for i in range(len(calls)):
            await run(i)
    done = [r for r in records if r is not None]
    for record in done:
        await ctx.store_tool_call(record)
    return done
