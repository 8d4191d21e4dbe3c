"""What ``adk`` prints: readable text for people, or one JSON object per line (``--json``)."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

__all__ = ["Output"]


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Output:
    """The printer of one command run.

    Text mode: the answer and tool activity go to ``out`` as they happen; progress and
    errors to ``err``. JSON mode: every event is one JSON object on its own line of
    ``out`` (``{"event": NAME, ...}``), errors included.

    Args:
        json_mode: Print JSON lines instead of text.
        out: The answer stream (default ``sys.stdout``).
        err: The progress stream (default ``sys.stderr``).
    """

    def __init__(
        self, *, json_mode: bool = False, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.json_mode = json_mode
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._progress_open = False
        self._in_answer = False
        self._last_stage: tuple[str, int] | None = None

    def event(self, name: str, **fields: Any) -> None:
        """Print one JSON event (JSON mode only; ignored in text mode)."""
        if self.json_mode:
            self.out.write(json.dumps({"event": name, **fields}, default=str) + "\n")
            self.out.flush()

    # -- progress --------------------------------------------------------------------------
    def progress(self, stage: str, done: int, total: int) -> None:
        """Show model preparation/loading progress (``ProgressFn`` shape)."""
        if stage in ("join", "verify"):
            percent = 100 * done // total if total else 100
            key = (stage, percent // (5 if self.err.isatty() else 25))
            if key == self._last_stage and done < total:
                return
            self._last_stage = key
            if self.json_mode:
                self.event("progress", stage=stage, done=done, total=total)
                return
            verb = "joining model parts" if stage == "join" else "verifying cached model"
            self._progress_line(f"adk: {verb} ({total / 2**20:.0f} MiB): {percent}%")
        elif stage == "load":
            if self.json_mode:
                self.event("progress", stage="load", waited_s=done, timeout_s=total)
                return
            self._progress_line(f"adk: loading model… {done} s")

    def _progress_line(self, text: str) -> None:
        if self.err.isatty():
            self.err.write("\r\033[K" + text)
            self._progress_open = True
        else:
            self.err.write(text + "\n")
        self.err.flush()

    def info(self, text: str, **fields: Any) -> None:
        """A status line (``adk: …`` on ``err``), or a ``status`` JSON event."""
        if self.json_mode:
            self.event("status", message=text, **fields)
            return
        if self._progress_open:
            self.err.write("\r\033[K")
            self._progress_open = False
        self.err.write(f"adk: {text}\n")
        self.err.flush()

    # -- the turn -----------------------------------------------------------------------------
    def delta(self, message_id: str, text: str, is_complete: bool) -> None:
        """A piece of the answer, printed as it arrives."""
        if self.json_mode:
            self.event("message", id=message_id, delta=text, is_complete=is_complete)
            return
        if not self._in_answer and text:
            self.out.write("assistant> ")
            self._in_answer = True
        self.out.write(text)
        if is_complete and self._in_answer:
            self.out.write("\n")
            self._in_answer = False
        self.out.flush()

    def tool_start(self, call_id: str, tool: str, args: Any) -> None:
        """A tool starts running with validated ``args``."""
        if self.json_mode:
            self.event("tool_call", id=call_id, tool=tool, args=args)
            return
        self._end_answer()
        self.out.write(f"  → {tool}({_short(args)})\n")
        self.out.flush()

    def tool_result(self, call_id: str, tool: str, result: Any, is_error: bool) -> None:
        """A tool call finished (``result`` is its text, or the error's)."""
        if self.json_mode:
            self.event("tool_result", id=call_id, tool=tool, result=result, is_error=is_error)
            return
        self._end_answer()
        self.out.write(f"  ← {'error: ' if is_error else ''}{_short(result)}\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A remark about the loop (e.g. a guard hid the tools)."""
        if self.json_mode:
            self.event("note", message=text)
            return
        self._end_answer()
        self.out.write(f"  ({text})\n")
        self.out.flush()

    def _end_answer(self) -> None:
        if self._in_answer:
            self.out.write("\n")
            self._in_answer = False

    def summary(self, text: str, **fields: Any) -> None:
        """The closing usage line, or a ``turn_end`` JSON event."""
        if self.json_mode:
            self.event("turn_end", **fields)
            return
        self._end_answer()
        self.out.write(f"[{text}]\n")
        self.out.flush()

    def error(self, text: str, **fields: Any) -> None:
        """A one-line error on ``err`` (text), or an ``error`` JSON event on ``out``."""
        if self.json_mode:
            self.event("error", message=text, **fields)
            return
        self._end_answer()
        if self._progress_open:
            self.err.write("\n")
            self._progress_open = False
        self.err.write(f"adk: error: {text}\n")
        self.err.flush()
