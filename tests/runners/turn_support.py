"""Shared helpers of the TurnRunner tests: an ordered event log and tiny middleware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import adk

NOW = datetime(2026, 1, 1, tzinfo=UTC)

OBSERVABILITY = (
    "turn_start",
    "turn_end",
    "turn_gate_open",
    "turn_gate_closed",
    "tool_execution_start",
    "tool_execution_end",
    "dispatch_start",
    "dispatch_end",
    "iteration_start",
    "iteration_end",
    "log",
    "error",
    "warning",
    "generation_stats",
)
FUNCTIONAL = ("message", "thought", "tool_call")


def msg(id: str, text: str = "hi") -> adk.Message:
    return adk.Message(id=id, role="assistant", content=text, created_at=NOW, updated_at=NOW)


class Log:
    """Records every event of a runner (and whatever tests append) in one ordered list."""

    def __init__(self, runner: adk.TurnRunner | None = None) -> None:
        self.items: list[tuple[str, Any]] = []
        if runner is not None:
            self.attach(runner)

    def attach(self, runner: adk.TurnRunner) -> None:
        for name in OBSERVABILITY:
            runner.observe(name, self._recorder(name))
        for name in FUNCTIONAL:
            runner.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        return lambda payload: self.items.append((name, payload))

    def add(self, name: str, payload: Any = None) -> None:
        self.items.append((name, payload))

    def names(self) -> list[str]:
        return [n for n, _ in self.items]

    def of(self, name: str) -> list[Any]:
        return [p for n, p in self.items if n == name]


async def ack(ctx: Any, helpers: Any) -> None:
    ctx.ack()


def mw(log: Log, label: str) -> Any:
    async def middleware(ctx: Any, next: Any) -> None:
        log.add(f"{label}:in")
        await next()
        log.add(f"{label}:out")

    return middleware
