"""``ReplayExecutor``: re-run a recorded turn without a model, reporting divergences.

The recorded executor's calls are played back in order, one per executor call of the new
dispatch: each reported chunk (message, thought, tool call), generation stats, log, tool
execution event, gate wait, store/mutate/delete and finally the signal it left
(ack / nack / abort / raise / none). Everything the runner itself emitted (iteration and
dispatch events, errors, warnings) and everything middleware did is *not* played: the
candidate runner produces those.

Divergences (:class:`Divergence`, collected on ``executor.divergences``):

``tool_result``   ``tool_results="live"``: a tool returned something else than recorded (the
                  live result is then reported and stored in its place)
``tool_error``    ``"live"``: a tool failed where it had succeeded, or the reverse
``gate_value``    a gate opened by the executor resolved to another value than recorded
``exhausted``     the executor was called more often than recorded (the replay nacks with
                  :class:`ReplayExhausted`)
``ended_early``   the dispatch ended before every recorded executor call was played (for
                  example a new guard nacked earlier)
``status``        the dispatch ended with another status than recorded
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

import msgspec

from adk.contracts.events import GenerationStats, ToolExecutionEnd, ToolExecutionStart
from adk.errors import E_TURN_GATE_TIMEOUT, AbortError
from adk.primitives.tokenizable import Tokenizable
from adk.runners.gate import TurnGate, TurnGateRejection
from adk.runners.turn import TurnRunner
from adk.trace.compare import normalize_events
from adk.trace.encoding import plain
from adk.trace.format import ErrorInfo, GateInfo
from adk.trace.model import Trace, TraceEntry, TraceEvent, TraceGate, TraceRecord, TraceSignal

__all__ = ["Divergence", "ReplayExecutor", "ReplayExhausted", "normalize_events", "plain"]

DivergenceKind = Literal[
    "tool_result", "tool_error", "gate_value", "exhausted", "ended_early", "status"
]
_STATS_EXTRA: Final = ("dispatch_id", "iteration", "emitted_at")
_UNSET: Final[Any] = object()


class Divergence(msgspec.Struct, frozen=True, kw_only=True):
    """A place where the replay left the recorded path.

    Attributes:
        kind: See the module docstring.
        message: Human-readable explanation.
        call: The executor call (0-based) it happened in, or ``None`` (dispatch level).
        expected: The recorded value (JSON form), if any.
        actual: The replayed value (JSON form), if any.
    """

    kind: DivergenceKind
    message: str
    call: int | None = None
    expected: Any = None
    actual: Any = None


class ReplayExhausted(Exception):
    """The replayed dispatch asked for more executor calls than the trace recorded."""


class ReplayExecutor:
    """A dispatch executor that plays back a :class:`~adk.trace.Trace`.

    One instance replays one turn (call :meth:`reset` to replay again). Use it as the
    ``executor`` of a ``TurnRunner`` and call :meth:`attach` on that runner so recorded
    gate values resolve gates nobody else resolves and the path is checked when the
    dispatch ends (:func:`~adk.trace.evaluate` does both).

    Args:
        trace: The recorded turn.
        tool_results: ``"recorded"`` replays the recorded tool execution events and
            results; ``"live"`` runs each tool the recorded executor ran (through
            ``Tool.executor``) and reports a different result or failure as a divergence.
        resolve_gates: Whether :meth:`attach` settles open gates as they settled when
            recorded (when no earlier listener settled them): resolved with the recorded
            value, or at once rejected, timed out or aborted (a replay never waits out a
            timeout); a gate the recording never got past (the turn ended while it was
            open) is aborted, so a replay never hangs on it.

    Attributes:
        divergences: The :class:`Divergence` records found so far, in order.
        calls_made: How many executor calls have been played.
    """

    def __init__(
        self,
        trace: Trace,
        *,
        tool_results: Literal["recorded", "live"] = "recorded",
        resolve_gates: bool = True,
    ) -> None:
        if tool_results not in ("recorded", "live"):
            raise ValueError("tool_results must be 'recorded' or 'live'")
        self.trace = trace
        self.tool_results = tool_results
        self.resolve_gates = resolve_gates
        self._calls = list(trace.calls())
        self._end = next((e.payload for e in trace.events if e.name == "dispatch_end"), None)
        self.reset()

    def reset(self) -> None:
        """Forget every played call and divergence (to replay the turn again)."""
        self.divergences: list[Divergence] = []
        self.calls_made = 0
        self._finished = False
        self._tools: dict[str, dict[str, Any]] = {}
        self._live: dict[str, Any] = {}
        self._gates: dict[str, list[TraceGate]] = {}
        for entry in self.trace.entries:
            if isinstance(entry, TraceGate):
                self._gates.setdefault(entry.gate_id, []).append(entry)

    # -- runner integration --------------------------------------------------------------
    def attach(self, runner: TurnRunner) -> TurnRunner:
        """Observe ``runner``: resolve recorded gates, check the path at ``dispatch_end``."""
        if self.resolve_gates:
            runner.observe("turn_gate_open", self._on_gate)
        runner.observe("dispatch_end", self._on_dispatch_end)
        return runner

    def _on_gate(self, gate: TurnGate[Any]) -> None:
        if gate.is_settled:
            return
        settled = self._gates.get(gate.id)
        if not settled:  # the recorded turn never got past this gate: it ended there
            gate.abort()
            return
        recorded = settled[0]
        if recorded.result == "resolved":
            gate.resolve(recorded.value)
        elif recorded.result == "timeout":  # settled at once: replays never wait out a timeout
            gate.reject(E_TURN_GATE_TIMEOUT())
        elif recorded.result == "rejected":
            gate.reject(TurnGateRejection("rejected in the recording"))
        else:
            gate.abort()

    def _on_dispatch_end(self, event: Any) -> None:
        self.finish(event.status)

    def finish(self, status: str | None = None) -> list[Divergence]:
        """Check that the whole recorded path was played (once; later calls are no-ops).

        Args:
            status: The replayed dispatch's status, or ``None`` if unknown / no dispatch.

        Returns:
            :attr:`divergences`.
        """
        if self._finished:
            return self.divergences
        self._finished = True
        recorded = len(self._calls)
        if self.calls_made < recorded:
            self.divergences.append(
                Divergence(
                    kind="ended_early",
                    message=f"the dispatch ended after {self.calls_made} of {recorded} "
                    "recorded executor calls",
                    expected=recorded,
                    actual=self.calls_made,
                )
            )
        if self._end is not None and status is not None and status != self._end.status:
            self.divergences.append(
                Divergence(
                    kind="status",
                    message=f"the dispatch ended {status!r}; recorded {self._end.status!r}",
                    expected=self._end.status,
                    actual=status,
                )
            )
        return self.divergences

    # -- playing ------------------------------------------------------------------------------
    async def __call__(self, ctx: Any, helpers: Any) -> None:
        """Play the next recorded executor call on ``ctx`` with ``helpers``.

        Raises:
            Exception: the recorded executor's exception (rebuilt) when it raised.
        """
        number = self.calls_made
        self.calls_made += 1
        if number >= len(self._calls):
            div = Divergence(
                kind="exhausted",
                message=f"executor call {number} was not recorded "
                f"(the trace has {len(self._calls)})",
                call=number,
            )
            self.divergences.append(div)
            ctx.nack(ReplayExhausted(div.message))
            return
        entries = self._calls[number]
        skip: str | None = None
        starts: dict[str, datetime] = {}
        for index, entry in enumerate(entries):
            if isinstance(entry, TraceEvent):
                if skip is not None:
                    if entry.name == "tool_execution_end" and entry.payload.call_id == skip:
                        skip = None
                    continue
                skip = await self._event(ctx, helpers, number, entries, index, entry, starts)
            elif isinstance(entry, TraceRecord):
                if skip is None:
                    await self._record(ctx, entry)
            elif isinstance(entry, TraceSignal):
                self._signal(ctx, entry)

    async def _event(
        self,
        ctx: Any,
        helpers: Any,
        number: int,
        entries: Sequence[TraceEntry],
        index: int,
        entry: TraceEvent,
        starts: dict[str, datetime],
    ) -> str | None:
        name = entry.name
        p = entry.payload
        if name == "message":
            helpers.report_message(p.id, p.a_delta, is_complete=p.is_complete)
        elif name == "thought":
            helpers.report_thought(p.id, p.a_delta, is_complete=p.is_complete)
        elif name == "tool_call":
            self._tool_call(helpers, p)
        elif name == "generation_stats":
            fields = msgspec.structs.asdict(p)
            for key in _STATS_EXTRA:
                fields.pop(key, None)
            helpers.report_generation_stats(GenerationStats(**fields))
        elif name == "log":
            getattr(helpers.log, p.level)(kind=p.kind, message=p.message, payload=p.payload)
        elif name == "tool_execution_start":
            if self.tool_results == "live":
                await self._live_tool(ctx, number, entries, index, p)
                return p.call_id
            now = datetime.now(UTC)
            starts[p.call_id] = now
            ctx.emit_tool_execution_start(
                ToolExecutionStart(
                    tool_name=p.tool_name,
                    turn_id=ctx.id,
                    call_id=p.call_id,
                    args=p.args,
                    started_at=now,
                )
            )
        elif name == "tool_execution_end":
            now = datetime.now(UTC)
            started = starts.pop(p.call_id, now)
            ctx.emit_tool_execution_end(
                ToolExecutionEnd(
                    tool_name=p.tool_name,
                    turn_id=ctx.id,
                    call_id=p.call_id,
                    started_at=started,
                    ended_at=now,
                    duration_ms=(now - started).total_seconds() * 1000.0,
                    is_error=p.is_error,
                )
            )
        elif name == "turn_gate_open":
            await self._gate(ctx, number, p)
        return None

    def _tool_call(self, helpers: Any, p: Any) -> None:
        state = self._tools.setdefault(
            p.id, {"tool": None, "args": _UNSET, "results": _UNSET, "is_error": False}
        )
        kwargs: dict[str, Any] = {}
        if p.tool and p.tool != state["tool"]:
            kwargs["tool"] = state["tool"] = p.tool
        if p.args is not None and (state["args"] is _UNSET or plain(p.args) != state["args"]):
            kwargs["args"] = p.args
            state["args"] = plain(p.args)
        results = p.results
        if results is not None and p.checksum in self._live:
            results = self._live[p.checksum]
        if results is not None:
            kwargs["results"] = results
        if p.is_error != state["is_error"]:
            kwargs["is_error"] = state["is_error"] = p.is_error
        if p.is_complete:
            kwargs["is_complete"] = True
        helpers.report_tool_call(p.id, **kwargs)

    async def _record(self, ctx: Any, entry: TraceRecord) -> None:
        value = entry.value
        if entry.kind == "tool_call" and entry.op != "delete" and self._live:
            live = self._live.get(getattr(value, "checksum", ""), _UNSET)
            if live is not _UNSET:
                value = _with_results(value, live)
        await getattr(ctx, f"{entry.op}_{entry.kind}")(value)

    def _signal(self, ctx: Any, entry: TraceSignal) -> None:
        sig = entry.signal
        info = entry.error or ErrorInfo(type="RecordedError", message="replayed")
        if sig == "ack":
            ctx.ack()
        elif sig == "nack":
            ctx.nack(info.rebuild())
        elif sig == "abort":
            ctx.abort(AbortError("replayed abort"))
        elif sig == "raise":
            raise info.rebuild()

    async def _gate(self, ctx: Any, number: int, info: GateInfo) -> None:
        settled = self._gates.get(info.id)
        recorded = settled[0] if settled else None  # _on_gate settles from it: pop after
        resolved = recorded is not None and recorded.result == "resolved"
        try:
            value = await ctx.wait_for(
                id=info.id, reason=info.reason, payload=info.payload, timeout_ms=info.timeout_ms
            )
        except AbortError:
            raise
        except Exception as exc:  # rejected, timed out or aborted: as recorded, or not
            if settled:
                settled.pop(0)
            if resolved:
                self.divergences.append(
                    Divergence(
                        kind="gate_value",
                        message=f"gate {info.id!r} raised {exc!r}; it was resolved when recorded",
                        call=number,
                        expected=plain(recorded.value if recorded is not None else None),
                        actual=None,
                    )
                )
            return
        if settled:
            settled.pop(0)
        expected = recorded.value if recorded is not None and resolved else None
        if not resolved or plain(value) != plain(expected):
            self.divergences.append(
                Divergence(
                    kind="gate_value",
                    message=f"gate {info.id!r} resolved to another value than recorded",
                    call=number,
                    expected=plain(expected),
                    actual=plain(value),
                )
            )

    async def _live_tool(
        self, ctx: Any, number: int, entries: Sequence[TraceEntry], index: int, p: Any
    ) -> None:
        call_id: str = p.call_id
        args: Any = p.args
        recorded: Any = None
        failed = False
        for later in entries[index:]:
            if not isinstance(later, TraceEvent):
                continue
            q = later.payload
            if later.name == "tool_call" and q.checksum == call_id:
                args = q.args
                if q.results is not None and recorded is None:
                    recorded = q.results
            elif later.name == "tool_execution_end" and q.call_id == call_id:
                failed = q.is_error
        for earlier in entries[:index]:
            if (
                isinstance(earlier, TraceEvent)
                and earlier.name == "tool_call"
                and earlier.payload.checksum == call_id
            ):
                args = earlier.payload.args
        tool = ctx.tools.get(p.tool_name)
        if tool is None:
            self.divergences.append(
                Divergence(
                    kind="tool_error",
                    message=f"tool {p.tool_name!r} is not registered in the replay",
                    call=number,
                )
            )
            return
        try:
            live = await tool.executor(ctx)(args)
        except Exception as exc:
            if not failed:
                self.divergences.append(
                    Divergence(
                        kind="tool_error",
                        message=f"tool {p.tool_name!r} failed live: {exc}",
                        call=number,
                        expected=plain(recorded),
                        actual=plain(exc),
                    )
                )
            return
        if failed:
            self.divergences.append(
                Divergence(
                    kind="tool_error",
                    message=f"tool {p.tool_name!r} succeeded live but failed when recorded",
                    call=number,
                    actual=plain(live),
                )
            )
        elif not _same_result(live, recorded):
            self._live[call_id] = live
            self.divergences.append(
                Divergence(
                    kind="tool_result",
                    message=f"tool {p.tool_name!r} returned another result than recorded",
                    call=number,
                    expected=plain(recorded),
                    actual=plain(live),
                )
            )


def _text_of(value: Any) -> str | None:
    if isinstance(value, Tokenizable):
        return None if value.dynamic else value.render()
    return value if isinstance(value, str) else None


def _same_result(live: Any, recorded: Any) -> bool:
    """Whether a live tool result matches the recorded one.

    Provider executors store a handler's ``str`` as a Tokenizable and other values as
    their JSON text in one, so a live ``"1603"`` matches a recorded
    ``Tokenizable("1603")`` and a live ``{"a": 1}`` a recorded ``Tokenizable('{"a":1}')``.
    """
    if plain(live) == plain(recorded):
        return True
    expected = _text_of(recorded)
    if expected is None:
        return False
    actual = _text_of(live)
    if actual is None and not isinstance(live, Tokenizable):
        if live is None:
            actual = ""
        else:
            try:
                actual = msgspec.json.encode(live, enc_hook=str).decode()
            except (TypeError, ValueError, msgspec.EncodeError):
                actual = str(live)
    return actual == expected


def _with_results(record: Any, live: Any) -> Any:
    try:
        raw = dict(record.to_raw())
        raw["results"] = Tokenizable(live) if isinstance(live, str) else live
        from_raw: Any = record.from_raw
        rebuilt: Any = from_raw(raw)
        return rebuilt
    except Exception:
        return record
