"""Comparing event sequences: live and recorded events in one normalized form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from adk.runners.gate import TurnGate
from adk.trace.encoding import plain
from adk.trace.format import GateInfo
from adk.trace.model import TraceEvent

__all__ = ["gate_info", "normalize_events"]

_TIME_KEYS: Final = frozenset(
    {
        "created_at",
        "updated_at",
        "completed_at",
        "started_at",
        "ended_at",
        "duration_ms",
        "emitted_at",
        "settled_at",
    }
)
_ID_KEYS: Final = frozenset({"turn_id", "dispatch_id"})


def normalize_events(events: Sequence[Any]) -> list[tuple[str, Any]]:
    """Events in a comparable form: timestamps and durations dropped, ids mapped.

    Args:
        events: :class:`~adk.trace.TraceEvent` items or ``(name, payload)`` pairs
            (payloads as emitted, or as loaded from a trace).

    Returns:
        ``(name, payload)`` pairs where the payload is plain JSON without time fields,
        ``turn_id``/``dispatch_id`` replaced by ``"#<n>"`` in order of first appearance,
        and exceptions reduced to ``{"code", "message"}``.
    """
    ids: dict[str, str] = {}
    out: list[tuple[str, Any]] = []
    for item in events:
        if isinstance(item, TraceEvent):
            name, payload = item.name, item.payload
        else:
            name, payload = item
        if isinstance(payload, TurnGate):
            payload = gate_info(payload)  # pyright: ignore[reportUnknownArgumentType]
        out.append((name, _norm(plain(payload), ids)))
    return out


def gate_info(gate: TurnGate[Any]) -> GateInfo:
    """The recorded form of a live gate (what the ``turn_gate_open`` line holds)."""
    return GateInfo(
        id=gate.id,
        turn_id=gate.turn_id,
        reason=gate.reason,
        payload=gate.payload,
        created_at=gate.created_at,
        timeout_ms=gate.timeout_ms,
    )


def _norm(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        d: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        if set(d) == {"type", "message", "code"} or set(d) == {"type", "message"}:
            return {"code": d.get("code"), "message": d["message"]}
        out: dict[str, Any] = {}
        for k, v in d.items():
            if k in _TIME_KEYS:
                continue
            if k in _ID_KEYS and isinstance(v, str):
                out[k] = ids.setdefault(v, f"#{len(ids)}")
            else:
                out[k] = _norm(v, ids)
        return out
    if isinstance(value, list):
        return [_norm(v, ids) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value
