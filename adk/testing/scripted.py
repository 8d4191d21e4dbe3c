"""``ScriptedExecutor``: a deterministic stand-in for a model, for users' tests.

Each call (one per dispatch iteration) plays the next step of a script:

* :class:`TextStep` streams an answer (word by word through ``report_message``), an
  optional thought first, stores them, reports usage and acks;
* :class:`ToolStep` (optionally with text/thought) requests tool calls, runs them through
  ``Tool.executor`` exactly as the provider executors do (concurrently, error results for
  bad arguments, unknown tools and failing handlers, records stored in request order)
  and does not ack, so the runner iterates again;
* :class:`ErrorStep` nacks with an error (or raises it, ``raise_=True``);
* a callable ``(ctx) -> step`` (sync or async) decides at run time.

The script continues across turns and dispatches (one counter per executor); when it
runs out the dispatch is nacked with ``E_SCRIPT_EXHAUSTED``. ``calls`` records what each
iteration saw, for assertions::

    executor = ScriptedExecutor([
        ToolStep([ToolRequest("add", {"a": 1, "b": 2})]),
        TextStep("1 + 2 = 3"),
    ])
    result = await adk.TurnRunner(executor=executor, tools=[add]).run(system_prompt="…")
    assert executor.calls[1].tool_results == ("3",)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

from adk.batteries._render import text_of
from adk.batteries._tools import RequestedCall, run_tool_calls
from adk.contracts.dispatch_context import DispatchContext
from adk.errors import E_SCRIPT_EXHAUSTED
from adk.primitives import Message, Thought
from adk.primitives.ids import new_id
from adk.runners.helpers import DispatchExecutorHelpers

__all__ = [
    "ErrorStep",
    "ScriptedCall",
    "ScriptedExecutor",
    "Step",
    "TextStep",
    "ToolRequest",
    "ToolStep",
]


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """A tool call the script makes.

    Attributes:
        tool: The tool name (an unknown name gives an error result, as with a model).
        args: The arguments: a mapping, or raw JSON text (invalid text gives an error
            result).
        id: The call id; ``None`` mints a UUIDv6.
    """

    tool: str
    args: Mapping[str, Any] | str = field(default_factory=dict[str, Any])
    id: str | None = None


@dataclass(frozen=True, slots=True)
class TextStep:
    """A final answer.

    Attributes:
        text: The answer (streamed word by word).
        thought: Reasoning reported and stored before the answer, or ``None``.
        usage: ``GenerationStats`` fields to report (e.g. ``{"prompt_tokens": 10}``);
            ``None`` reports nothing.
        ack: Ack after storing (``False`` leaves signalling to the output pipeline).
    """

    text: str
    thought: str | None = None
    usage: Mapping[str, Any] | None = None
    ack: bool = True


@dataclass(frozen=True, slots=True)
class ToolStep:
    """Tool calls (run, stored, no ack: the runner iterates).

    Attributes:
        calls: The calls, in request order.
        text: Text the "model" says before calling, or ``None``.
        thought: Reasoning before calling, or ``None``.
        usage: As :attr:`TextStep.usage`.
    """

    calls: Sequence[ToolRequest]
    text: str | None = None
    thought: str | None = None
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ErrorStep:
    """A failure.

    Attributes:
        error: The error to nack with (a ``str`` becomes ``RuntimeError``).
        raise_: Raise it from the executor instead of nacking.
    """

    error: BaseException | str
    raise_: bool = False


Step: TypeAlias = "TextStep | ToolStep | ErrorStep | Callable[[DispatchContext], Any]"
"""A script step, or a callable ``(ctx) -> step`` (sync or async)."""


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """What one executor call saw and did.

    Attributes:
        index: The position in the script (0-based, across turns).
        iteration: ``ctx.iteration`` of the call.
        step: The step played (a callable step is resolved).
        messages: ``(role, text)`` of every message in ``ctx.turn_messages``.
        tool_results: The text of every complete tool call result in
            ``ctx.turn_tool_calls``, in order.
        tools: The names of the visible tools.
    """

    index: int
    iteration: int
    step: TextStep | ToolStep | ErrorStep
    messages: tuple[tuple[str, str], ...]
    tool_results: tuple[str, ...]
    tools: tuple[str, ...]


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + " " for p in parts[:-1]] + [parts[-1]]


class ScriptedExecutor:
    """A dispatch executor that plays a script of steps (see the module docstring).

    Args:
        steps: The script.
        concurrent_tools: Run the calls of one :class:`ToolStep` concurrently.

    Attributes:
        calls: One :class:`ScriptedCall` per executor call, in order.
    """

    def __init__(self, steps: Sequence[Step], *, concurrent_tools: bool = True) -> None:
        self._steps: list[Step] = list(steps)
        self._next = 0
        self.concurrent_tools = concurrent_tools
        self.calls: list[ScriptedCall] = []

    @property
    def remaining(self) -> int:
        """How many steps have not been played yet."""
        return len(self._steps) - self._next

    def reset(self) -> None:
        """Start the script again from the first step and forget ``calls``."""
        self._next = 0
        self.calls.clear()

    async def _resolve(self, step: Step, ctx: DispatchContext) -> TextStep | ToolStep | ErrorStep:
        while not isinstance(step, TextStep | ToolStep | ErrorStep):
            produced: Any = step(ctx)
            if inspect.isawaitable(produced):
                produced = await produced
            step = produced
        return step

    async def __call__(self, ctx: DispatchContext, helpers: DispatchExecutorHelpers) -> None:
        """Play the next step.

        Raises:
            BaseException: an :class:`ErrorStep` with ``raise_=True``; what the context's
                persistence callbacks raise.
        """
        index = self._next
        if index >= len(self._steps):
            ctx.nack(
                E_SCRIPT_EXHAUSTED(
                    message=f"the scripted executor has {len(self._steps)} step(s) and was "
                    f"called a {index + 1}th time (iteration {ctx.iteration})"
                )
            )
            return
        self._next += 1
        step = await self._resolve(self._steps[index], ctx)
        self.calls.append(
            ScriptedCall(
                index=index,
                iteration=ctx.iteration,
                step=step,
                messages=tuple((m.role, text_of(m.content, ctx)) for m in ctx.turn_messages),
                tool_results=tuple(
                    text_of(c.results, ctx) for c in ctx.turn_tool_calls if c.is_complete
                ),
                tools=tuple(t.name for t in ctx.tools.visible()),
            )
        )
        if isinstance(step, ErrorStep):
            error = RuntimeError(step.error) if isinstance(step.error, str) else step.error
            if step.raise_:
                raise error
            ctx.nack(error)
            return
        if step.usage is not None:
            helpers.report_generation_stats(
                {"provider": "scripted", "model": "scripted", **step.usage}
            )
        if step.thought:
            await self._thought(ctx, helpers, step.thought)
        if step.text:
            await self._message(ctx, helpers, step.text)
        if isinstance(step, ToolStep):
            calls = [
                RequestedCall(id=c.id or new_id(), tool=c.tool, arguments=c.args)
                for c in step.calls
            ]
            await run_tool_calls(ctx, helpers, calls, concurrent=self.concurrent_tools)
            return
        if step.ack and not ctx.is_signalled:
            ctx.ack()

    @staticmethod
    async def _thought(ctx: DispatchContext, helpers: DispatchExecutorHelpers, text: str) -> None:
        tid = new_id()
        start = datetime.now(UTC)
        helpers.report_thought(tid, text, is_complete=True)
        await ctx.store_thought(
            Thought(id=tid, content=text, created_at=start, updated_at=datetime.now(UTC))
        )

    @staticmethod
    async def _message(ctx: DispatchContext, helpers: DispatchExecutorHelpers, text: str) -> None:
        mid = new_id()
        start = datetime.now(UTC)
        words = _words(text)
        for i, word in enumerate(words):
            helpers.report_message(mid, word, is_complete=i == len(words) - 1)
        await ctx.store_message(
            Message(
                id=mid,
                role="assistant",
                content=text,
                created_at=start,
                updated_at=datetime.now(UTC),
            )
        )
