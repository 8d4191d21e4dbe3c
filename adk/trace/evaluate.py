"""``evaluate``: replay a corpus of traces through a candidate runner and check each turn.

A *check* is any callable ``(turn: ReplayedTurn) -> bool | str | None | tuple[bool, str]``
(``True``/``None`` pass; ``False`` fails; a ``str`` fails with that detail; a tuple gives
both). Built-ins: :func:`final_answer_contains`, :func:`final_answer_equals`,
:func:`tool_called`, :func:`tool_not_called`, :func:`no_error`, :func:`max_iterations`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import msgspec

from adk.runners.turn import FUNCTIONAL_EVENTS, OBSERVABILITY_EVENTS, TurnResult, TurnRunner
from adk.trace.compare import gate_info
from adk.trace.format import ErrorInfo
from adk.trace.loader import load_all
from adk.trace.model import Trace
from adk.trace.replay import Divergence, ReplayExecutor

__all__ = [
    "Check",
    "CheckResult",
    "ReplayedTurn",
    "Report",
    "TraceReport",
    "evaluate",
    "final_answer_contains",
    "final_answer_equals",
    "max_iterations",
    "no_error",
    "replay",
    "tool_called",
    "tool_not_called",
]


class ReplayedTurn(msgspec.Struct, kw_only=True):
    """A turn replayed from a trace: what checks look at.

    Attributes:
        trace: The recorded trace.
        result: The replayed ``TurnResult``; ``None`` if ``run()`` raised.
        events: ``(name, payload)`` in emission order (gates as ``GateInfo``).
        divergences: The replay executor's divergences.
        error: The exception ``run()`` raised, or ``None``.
    """

    trace: Trace
    result: TurnResult | None
    events: list[tuple[str, Any]]
    divergences: list[Divergence]
    error: BaseException | None = None

    @property
    def final_answer(self) -> str | None:
        """The full text of the last completed ``message`` stream, or ``None``."""
        for name, payload in reversed(self.events):
            if name == "message" and payload.is_complete:
                return payload.full
        return None

    @property
    def tools_called(self) -> list[str]:
        """Names of the tools executed or reported, in order, without repeats."""
        names: list[str] = []
        for name, payload in self.events:
            tool = (
                payload.tool_name
                if name == "tool_execution_start"
                else payload.tool
                if name == "tool_call"
                else ""
            )
            if tool and tool not in names:
                names.append(tool)
        return names

    @property
    def iterations(self) -> int:
        """How many iterations began (``iteration_start`` events)."""
        return sum(1 for name, _ in self.events if name == "iteration_start")

    @property
    def errors(self) -> list[Any]:
        """The payloads of the ``error`` events."""
        return [p for name, p in self.events if name == "error"]


Check = Callable[[ReplayedTurn], Any]


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """One check's verdict on one trace; ``detail`` explains a failure."""

    name: str
    passed: bool
    detail: str | None = None


class TraceReport(msgspec.Struct, frozen=True, kw_only=True):
    """The evaluation of one trace.

    Attributes:
        trace: The trace's file (the turns of a trace log share it), or its turn id when
            it was given in memory.
        turn_id: The recorded turn's id (tells the turns of a log apart).
        status: ``"error"`` (the replay raised), ``"fail"`` (a check failed),
            ``"diverged"`` (checks passed but the path diverged) or ``"pass"``.
        turn_status: The replayed ``TurnResult.status`` (``None`` after an error).
        divergences: The divergences found.
        checks: Each check's result, in order.
        error: The replay's exception, described, or ``None``.
    """

    trace: str
    turn_id: str
    status: Literal["pass", "fail", "diverged", "error"]
    turn_status: str | None
    divergences: tuple[Divergence, ...]
    checks: tuple[CheckResult, ...]
    error: ErrorInfo | None = None


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The evaluation of a corpus: per-trace reports and totals by status."""

    traces: tuple[TraceReport, ...]
    totals: dict[str, int]

    @property
    def passed(self) -> bool:
        """Whether every trace passed (no error, failure or divergence)."""
        return all(t.status == "pass" for t in self.traces)

    def table(self) -> str:
        """A plain-text table: one row per trace, then the totals."""
        rows = [("trace", "status", "turn", "divergences", "failed checks")]
        for t in self.traces:
            failed = ", ".join(c.name for c in t.checks if not c.passed)
            rows.append((t.trace, t.status, t.turn_status or "-", str(len(t.divergences)), failed))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        lines.append(", ".join(f"{k}: {v}" for k, v in self.totals.items()))
        return "\n".join(lines)


def _traces(traces: Iterable[Trace | str | Path] | str | Path) -> list[Trace]:
    items: Iterable[Trace | str | Path] = [traces] if isinstance(traces, str | Path) else traces
    out: list[Trace] = []
    for item in items:
        if isinstance(item, Trace):
            out.append(item)
            continue
        p = Path(item)
        files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
        for f in files:
            out.extend(load_all(f))  # every turn of a trace log, in file order
    return out


async def replay(
    trace: Trace,
    build_runner: Callable[[ReplayExecutor], TurnRunner],
    *,
    tool_results: Literal["recorded", "live"] = "recorded",
) -> ReplayedTurn:
    """Replay one trace through ``build_runner(executor)`` and collect what happened.

    Args:
        trace: The recorded turn.
        build_runner: Builds the candidate runner around the given replay executor.
        tool_results: As :class:`ReplayExecutor`.

    Returns:
        The :class:`ReplayedTurn` (``run()``'s own exception, if any, in ``error``).
    """
    executor = ReplayExecutor(trace, tool_results=tool_results)
    runner = build_runner(executor)
    executor.attach(runner)
    events: list[tuple[str, Any]] = []

    def collect(name: str) -> Callable[[Any], None]:
        def on(payload: Any) -> None:
            if name == "turn_gate_open":
                payload = gate_info(payload)
            events.append((name, payload))

        return on

    for name in sorted(FUNCTIONAL_EVENTS):
        runner.on(name, collect(name))
    for name in sorted(OBSERVABILITY_EVENTS):
        runner.observe(name, collect(name))
    header = trace.header
    result: TurnResult | None = None
    error: BaseException | None = None
    try:
        result = await runner.run(
            system_prompt=header.system_prompt,
            standing_instructions=header.standing_instructions,
            stash=header.stash,
        )
    except Exception as exc:
        error = exc
    executor.finish()
    return ReplayedTurn(
        trace=trace,
        result=result,
        events=events,
        divergences=list(executor.divergences),
        error=error,
    )


def _verdict(name: str, check: Check, turn: ReplayedTurn) -> CheckResult:
    try:
        out = check(turn)
    except Exception as exc:
        return CheckResult(name=name, passed=False, detail=f"the check raised {exc!r}")
    if out is None or out is True:
        return CheckResult(name=name, passed=True)
    if out is False:
        return CheckResult(name=name, passed=False)
    if isinstance(out, str):
        return CheckResult(name=name, passed=False, detail=out)
    given: object = out
    if isinstance(given, tuple):
        pair = cast("tuple[Any, ...]", given)
        if len(pair) == 2:
            return CheckResult(name=name, passed=bool(pair[0]), detail=str(pair[1]))
    return CheckResult(name=name, passed=bool(out))


async def evaluate(
    traces: Iterable[Trace | str | Path] | str | Path,
    *,
    build_runner: Callable[[ReplayExecutor], TurnRunner],
    checks: Sequence[Check] | Mapping[str, Check] = (),
    tool_results: Literal["recorded", "live"] = "recorded",
) -> Report:
    """Replay every trace through a candidate runner and run the checks on each.

    Args:
        traces: :class:`~adk.trace.Trace` objects, trace files, or directories (every
            ``*.jsonl`` inside, sorted by name); one path alone is accepted too. Every
            turn of a file is evaluated, in file order (a trace log holds several).
        build_runner: ``(executor) -> TurnRunner``: the candidate configuration, built
            afresh per trace around its :class:`ReplayExecutor`.
        checks: Check callables (named by ``__name__``) or a mapping name → check.
        tool_results: As :class:`ReplayExecutor`.

    Returns:
        A :class:`Report`; ``totals`` counts ``pass``/``fail``/``diverged``/``error``
        and ``total``.

    Raises:
        E_TRACE_FORMAT: a trace file cannot be loaded (before anything is replayed).
    """
    named: list[tuple[str, Check]] = (
        list(checks.items())
        if isinstance(checks, Mapping)
        else [(getattr(c, "__name__", repr(c)), c) for c in checks]
    )
    reports: list[TraceReport] = []
    for trace in _traces(traces):
        turn = await replay(trace, build_runner, tool_results=tool_results)
        results = tuple(_verdict(name, c, turn) for name, c in named)
        status: Literal["pass", "fail", "diverged", "error"]
        if turn.error is not None:
            status = "error"
        elif not all(r.passed for r in results):
            status = "fail"
        elif turn.divergences:
            status = "diverged"
        else:
            status = "pass"
        reports.append(
            TraceReport(
                trace=trace.path or trace.header.turn_id,
                turn_id=trace.header.turn_id,
                status=status,
                turn_status=None if turn.result is None else turn.result.status,
                divergences=tuple(turn.divergences),
                checks=results,
                error=None if turn.error is None else ErrorInfo.of(turn.error),
            )
        )
    totals = {k: sum(1 for r in reports if r.status == k) for k in ("pass", "fail", "diverged")}
    totals["error"] = sum(1 for r in reports if r.status == "error")
    totals["total"] = len(reports)
    return Report(traces=tuple(reports), totals=totals)


def _named(name: str, fn: Check) -> Check:
    fn.__name__ = name  # type: ignore[attr-defined]
    return fn


def final_answer_contains(text: str) -> Check:
    """Passes when the final answer (last completed message) contains ``text``."""

    def check(turn: ReplayedTurn) -> Any:
        answer = turn.final_answer
        return (answer is not None and text in answer) or f"final answer is {answer!r}"

    return _named(f"final_answer_contains({text!r})", check)


def final_answer_equals(text: str) -> Check:
    """Passes when the final answer equals ``text`` exactly."""

    def check(turn: ReplayedTurn) -> Any:
        answer = turn.final_answer
        return answer == text or f"final answer is {answer!r}"

    return _named(f"final_answer_equals({text!r})", check)


def tool_called(name: str) -> Check:
    """Passes when the tool ``name`` was executed or reported."""

    def check(turn: ReplayedTurn) -> Any:
        return name in turn.tools_called or f"tools called: {turn.tools_called}"

    return _named(f"tool_called({name!r})", check)


def tool_not_called(name: str) -> Check:
    """Passes when the tool ``name`` was neither executed nor reported."""

    def check(turn: ReplayedTurn) -> Any:
        return name not in turn.tools_called or f"{name!r} was called"

    return _named(f"tool_not_called({name!r})", check)


def no_error() -> Check:
    """Passes when nothing was emitted on ``error`` and ``run()`` did not raise."""

    def check(turn: ReplayedTurn) -> Any:
        if turn.error is not None:
            return f"run() raised {turn.error!r}"
        errors = turn.errors
        return not errors or f"{len(errors)} error event(s), first: {errors[0]}"

    return _named("no_error()", check)


def max_iterations(n: int) -> Check:
    """Passes when at most ``n`` iterations began (``iteration_start`` events)."""

    def check(turn: ReplayedTurn) -> Any:
        return turn.iterations <= n or f"{turn.iterations} iterations"

    return _named(f"max_iterations({n})", check)
