"""The typed, loaded form of a trace (what :func:`adk.trace.load` returns)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import msgspec

from adk.trace.format import FUNCTIONAL, ErrorInfo

__all__ = [
    "Trace",
    "TraceEntry",
    "TraceEvent",
    "TraceGate",
    "TraceHeader",
    "TraceRecord",
    "TraceResult",
    "TraceSignal",
]


class TraceHeader(msgspec.Struct, frozen=True, kw_only=True):
    """A trace's header, decoded.

    Attributes:
        version: The format version (``1``).
        adk_version: The ``adk.__version__`` that wrote it.
        created_at: When the recorder wrote it.
        turn_id: The recorded turn's id.
        system_prompt: ``str`` or Tokenizable, as given to ``run()`` (or seen by the
            executor).
        standing_instructions: As given to ``run()``.
        tools: Each tool's ``describe()`` dict (``name``, ``description``,
            ``input_schema``).
        stash: The stash given to ``run()``; ``None`` if it was not known.
    """

    version: int
    adk_version: str
    created_at: datetime
    turn_id: str
    system_prompt: Any
    standing_instructions: tuple[Any, ...]
    tools: tuple[dict[str, Any], ...]
    stash: dict[str, Any] | None = None


class TraceEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event of the recorded turn.

    Attributes:
        seq: Its position among all entries.
        name: The event name (``"message"``, ``"dispatch_end"``, …).
        call: The executor call it happened in (0-based), ``None`` outside the executor.
        payload: The payload as the :data:`PAYLOAD_TYPES` Struct for ``name`` (exceptions
            inside it as :class:`RecordedError`/rebuilt ``AdkError``).
    """

    seq: int
    name: str
    call: int | None
    payload: Any

    @property
    def bus(self) -> Literal["functional", "observability"]:
        """Which bus it was emitted on."""
        return "functional" if self.name in FUNCTIONAL else "observability"


class TraceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A store/mutate/delete of the recorded turn; ``value`` is the decoded record or id."""

    seq: int
    op: Literal["store", "mutate", "delete"]
    kind: str
    call: int | None
    value: Any


class TraceSignal(msgspec.Struct, frozen=True, kw_only=True):
    """What an executor call signalled (``"none"``: nothing, the loop went on)."""

    seq: int
    call: int
    iteration: int
    signal: Literal["ack", "nack", "abort", "raise", "none"]
    error: ErrorInfo | None = None


class TraceGate(msgspec.Struct, frozen=True, kw_only=True):
    """A gate's settlement with its decoded value (``None`` unless resolved)."""

    seq: int
    gate_id: str
    result: str
    value: Any


TraceEntry = TraceEvent | TraceRecord | TraceSignal | TraceGate


class TraceResult(msgspec.Struct, frozen=True, kw_only=True):
    """The recorded turn's outcome (the :class:`~adk.TurnResult` fields, plus flags)."""

    turn_id: str
    status: Literal["completed", "failed", "aborted"]
    errors: tuple[ErrorInfo, ...]
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: float
    dispatch_status: Literal["ack", "nack", "aborted"] | None = None
    cancelled: bool = False
    derived: bool = False


class Trace(msgspec.Struct, frozen=True, kw_only=True):
    """A loaded trace: header, entries in order, result.

    Attributes:
        header: The :class:`TraceHeader`.
        entries: Events, records, signals and gates in the order they happened.
        result: The :class:`TraceResult`.
        path: The file it was loaded from, or ``None``.
    """

    header: TraceHeader
    entries: tuple[TraceEntry, ...]
    result: TraceResult
    path: str | None = None

    @property
    def events(self) -> tuple[TraceEvent, ...]:
        """The events only, in order."""
        return tuple(e for e in self.entries if isinstance(e, TraceEvent))

    @property
    def records(self) -> tuple[TraceRecord, ...]:
        """The store/mutate/delete entries only, in order."""
        return tuple(e for e in self.entries if isinstance(e, TraceRecord))

    @property
    def signals(self) -> tuple[TraceSignal, ...]:
        """One signal per executor call, in order."""
        return tuple(e for e in self.entries if isinstance(e, TraceSignal))

    @property
    def gates(self) -> tuple[TraceGate, ...]:
        """How each gate settled (with its value), in order."""
        return tuple(e for e in self.entries if isinstance(e, TraceGate))

    def event_names(self) -> list[str]:
        """The event names in order."""
        return [e.name for e in self.entries if isinstance(e, TraceEvent)]

    def calls(self) -> Iterator[list[TraceEntry]]:
        """The entries of each executor call in order (what a replay plays back)."""
        current: list[TraceEntry] = []
        number = 0
        for entry in self.entries:
            if isinstance(entry, TraceGate) or entry.call is None:
                if isinstance(entry, TraceGate) and current:
                    current.append(entry)
                continue
            if entry.call != number:
                yield current
                current = []
                number = entry.call
            current.append(entry)
            if isinstance(entry, TraceSignal):
                yield current
                current = []
                number += 1
        if current:
            yield current
