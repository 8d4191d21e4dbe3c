"""Traces: record any turn, replay it without a model, evaluate middleware on a corpus.

* :class:`TraceRecorder` writes one versioned JSONL file per turn, or appends every turn
  to one trace log (format:
  :mod:`adk.trace.format`; capture on the event loop: :mod:`adk.trace.capture`; the
  writer thread: :mod:`adk.trace.writer`);
* :func:`load` reads one back as a typed :class:`Trace` (``E_TRACE_FORMAT`` naming the
  line on a bad file), :func:`load_all` every trace of a log;
* :class:`ReplayExecutor` plays a trace back as a dispatch executor, with recorded or
  live tool results, collecting :class:`Divergence` records;
* :func:`evaluate` replays a corpus through a candidate runner and runs checks.
"""

from adk.trace.compare import normalize_events
from adk.trace.evaluate import (
    Check,
    CheckResult,
    ReplayedTurn,
    Report,
    TraceReport,
    evaluate,
    final_answer_contains,
    final_answer_equals,
    max_iterations,
    no_error,
    replay,
    tool_called,
    tool_not_called,
)
from adk.trace.format import FORMAT_VERSION, ErrorInfo, GateInfo, RecordedError
from adk.trace.loader import load, load_all, loads, loads_all
from adk.trace.model import (
    Trace,
    TraceEvent,
    TraceGate,
    TraceHeader,
    TraceRecord,
    TraceResult,
    TraceSignal,
)
from adk.trace.recorder import RecordingStore, Redactor, TraceRecorder
from adk.trace.replay import Divergence, ReplayExecutor, ReplayExhausted

__all__ = [
    "FORMAT_VERSION",
    "Check",
    "CheckResult",
    "Divergence",
    "ErrorInfo",
    "GateInfo",
    "RecordedError",
    "RecordingStore",
    "Redactor",
    "ReplayExecutor",
    "ReplayExhausted",
    "ReplayedTurn",
    "Report",
    "Trace",
    "TraceEvent",
    "TraceGate",
    "TraceHeader",
    "TraceRecord",
    "TraceRecorder",
    "TraceReport",
    "TraceResult",
    "TraceSignal",
    "evaluate",
    "final_answer_contains",
    "final_answer_equals",
    "load",
    "load_all",
    "loads",
    "loads_all",
    "max_iterations",
    "no_error",
    "normalize_events",
    "replay",
    "tool_called",
    "tool_not_called",
]
