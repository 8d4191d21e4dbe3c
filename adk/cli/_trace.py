"""Traces on the command line: ``adk chat --trace``, ``adk replay`` and ``adk eval``.

A trace file holds one recorded turn; a *trace log* holds several, one after another
(:class:`~adk.trace.TraceRecorder` with ``append=True``, read with
:func:`~adk.trace.load_all`). ``adk replay`` and ``adk eval`` read both.

``adk chat ... --trace TARGET`` records the turn it runs (:class:`~adk.trace.TraceRecorder`),
one turn per file, never a trace log. A ``TARGET`` ending in ``.jsonl`` is the trace file
itself (written whole, atomically, when the turn ends, replacing any file of that name);
anything else is a directory that receives ``<turn_id>.jsonl``. Trace logs come from
``TraceRecorder(path, append=True)`` in your own program.

``adk replay TRACE [--turn TURN_ID] [--live-tools] [--json]`` replays one recorded turn
without a model (:class:`~adk.trace.ReplayExecutor`) through a plain ``TurnRunner``
offering the demo tools the trace names (``calculator``, ``current_utc_time``,
``convert_units``; other tools are not available, which ``--live-tools`` reports as a
divergence), and prints the replayed answer, the tool calls and every divergence. A file
of one turn is replayed as is (``--turn``, if given, must be its turn id); a trace log of
several turns needs ``--turn`` to pick one (without it the error gives the number of turns
and the first turn ids). Exit codes: 0 no divergence, 1 a divergence, a corrupt trace
(``E_TRACE_FORMAT: line N: …``) or a replay error, 2 the trace file cannot be read, or a
usage error (a trace log without ``--turn``, a ``--turn`` not in the file).

``adk eval CORPUS_DIR --config module:function [--check SPEC]... [--live-tools] [--json]``
replays every turn of every ``*.jsonl`` of ``CORPUS_DIR`` (files sorted by name, the
turns of a trace log in file order) through a candidate configuration and prints
:meth:`~adk.trace.Report.table` (``--json``: the report as one JSON object). A turn of a
trace log is named ``FILE#TURN_ID`` in the report (``adk replay FILE --turn TURN_ID``
replays it); a file of one turn by its path. The configuration is
``function(executor) -> TurnRunner``, named as ``package.module:function`` (imported with
the current directory on ``sys.path``) or ``path/to/file.py:function``. Its checks are
the function's optional ``checks`` attribute (a list of check callables, or a dict
name → check), plus the built-in checks given with ``--check``: ``contains:TEXT``,
``equals:TEXT``, ``tool:NAME``, ``no-tool:NAME``, ``no-error``, ``max-iterations:N``.
Exit codes: 0 every trace passed; 1 a trace failed, diverged or errored, or a trace is
corrupt; 2 a usage error (bad ``--config`` or ``--check``, no such directory, no traces
in it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import anyio
import msgspec

from adk.cli import CommandError
from adk.cli._output import Output
from adk.cli._tools import demo_tools
from adk.errors import AdkError
from adk.primitives import Tokenizable, Tool
from adk.runners.turn import TurnRunner
from adk.trace import (
    Check,
    ReplayedTurn,
    ReplayExecutor,
    Report,
    Trace,
    TraceRecorder,
    evaluate,
    final_answer_contains,
    final_answer_equals,
    load_all,
    max_iterations,
    no_error,
    replay,
    tool_called,
    tool_not_called,
)

__all__ = [
    "ChatTrace",
    "load_config",
    "parse_check",
    "run_eval",
    "run_replay",
]


# -- adk chat --trace ---------------------------------------------------------------------


def _escape(path: str) -> str:
    return path.replace("{", "{{").replace("}", "}}")


class ChatTrace:
    """The recorder behind ``adk chat --trace TARGET`` and where its file ends up.

    Args:
        target: A ``.jsonl`` file name, or a directory (see the module docstring).

    Attributes:
        recorder: The :class:`~adk.trace.TraceRecorder` to build and run the turn with.
    """

    def __init__(self, target: str | Path) -> None:
        target = Path(target)
        self._file: Path | None = None
        if target.suffix == ".jsonl" and not target.is_dir():
            self._file = target
            parent = str(target.parent)
            part = os.path.join(_escape(parent), f".{{turn_id}}.{_escape(target.name)}.part")
            self.recorder = TraceRecorder(part, batch_delay=0.0)
        else:
            self.recorder = TraceRecorder(target, batch_delay=0.0)

    def close(self) -> Path | None:
        """Write the trace (blocking) and move it to its file; its path, or ``None``.

        Returns ``None`` when no turn started (nothing was recorded).

        Raises:
            OSError: the trace could not be written or moved.
        """
        self.recorder.close()
        paths = list(self.recorder.paths.values())
        if not paths:
            return None
        written = paths[-1]
        if self._file is None:
            return written
        os.replace(written, self._file)
        return self._file


# -- loading ------------------------------------------------------------------------------


def _usage(message: str) -> CommandError:
    return CommandError(message, exit_code=2, code="usage")


def _load(path: Path) -> list[Trace]:
    """Every trace of ``path`` (one for a file written per turn, several for a trace log)."""
    try:
        return load_all(path)
    except AdkError as exc:
        raise CommandError(f"{path}: {exc}", exit_code=1, code=exc.code) from exc
    except IsADirectoryError:
        raise CommandError(
            f"{path} is a directory, not a trace file", exit_code=2, code="usage"
        ) from None
    except OSError as exc:
        raise CommandError(
            f"cannot read trace {path}: {exc.strerror or exc}", exit_code=2, code="usage"
        ) from exc


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Tokenizable):
        return value.render()
    return str(value)


def _tool_names(trace: Trace) -> list[str]:
    return [str(t.get("name", "")) for t in trace.header.tools]


def _replay_tools(trace: Trace) -> list[Tool]:
    available = demo_tools()
    return [available[name] for name in _tool_names(trace) if name in available]


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value, enc_hook=repr)


# -- adk replay ---------------------------------------------------------------------------


def _print_turn(turn: ReplayedTurn, out: Output) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for name, payload in turn.events:
        if name == "message" and payload.is_complete:
            out.delta(payload.id, payload.full, True)
        elif name == "tool_call" and payload.is_complete:
            result = _text(payload.results)
            call = {
                "id": payload.id,
                "tool": payload.tool,
                "args": _plain(payload.args),
                "result": result,
                "is_error": payload.is_error,
            }
            calls.append(call)
            out.tool_start(payload.id, payload.tool, call["args"])
            out.tool_result(payload.id, payload.tool, result, payload.is_error)
    return calls


_SHOWN_TURNS = 5  # turn ids listed when a trace log needs --turn


def _turn_ids(traces: Sequence[Trace]) -> str:
    ids = [t.header.turn_id for t in traces[:_SHOWN_TURNS]]
    more = len(traces) - len(ids)
    return ", ".join(ids) + (f", … ({more} more)" if more else "")


def _pick(path: Path, traces: list[Trace], turn_id: str | None) -> tuple[int, Trace]:
    """The trace to replay and its 0-based position in the file.

    Raises:
        CommandError: a trace log of several turns without ``turn_id``, or a ``turn_id``
            the file does not hold (exit 2).
    """
    if turn_id is None:
        if len(traces) == 1:
            return 0, traces[0]
        raise _usage(
            f"{path} is a trace log of {len(traces)} turns; choose one with --turn TURN_ID "
            f"(turns: {_turn_ids(traces)})"
        )
    for index, trace in enumerate(traces):
        if trace.header.turn_id == turn_id:
            return index, trace
    held = "1 turn" if len(traces) == 1 else f"{len(traces)} turns"
    raise _usage(f"{path} holds no turn {turn_id!r} ({held}: {_turn_ids(traces)})")


def run_replay(args: argparse.Namespace, out: Output) -> int:
    """Run ``adk replay`` (see the module docstring).

    Args:
        args: The parsed arguments (``trace``, ``turn``, ``live_tools``).
        out: The printer.

    Returns:
        0 if the replay did not diverge, 1 otherwise.

    Raises:
        CommandError: the trace cannot be read (2), is corrupt (1), is a trace log of
            several turns without ``--turn`` (2) or holds no turn ``--turn`` (2).
    """
    path = Path(args.trace)
    traces = _load(path)
    index, trace = _pick(path, traces, args.turn)
    mode = "live" if args.live_tools else "recorded"
    tools = _replay_tools(trace)
    header = trace.header
    position = f", {index + 1} of {len(traces)} in the log" if len(traces) > 1 else ""
    out.info(
        f"replaying {path} (turn {header.turn_id}{position}, recorded "
        f"{header.created_at:%Y-%m-%d %H:%M:%S} by adk {header.adk_version}; "
        f"tool results: {mode})",
        trace=str(path),
        turn_id=header.turn_id,
        turn_index=index,
        turns=len(traces),
        tool_results=mode,
    )
    missing = [n for n in _tool_names(trace) if n not in {t.name for t in tools}]
    if missing and args.live_tools:
        out.note(f"not demo tools, unavailable live: {', '.join(missing)}")

    def build(executor: ReplayExecutor) -> TurnRunner:
        return TurnRunner(executor=executor, tools=tools)

    turn = anyio.run(lambda: replay(trace, build, tool_results=mode))
    calls = _print_turn(turn, out)
    from adk.cli._chat import describe_error

    for div in turn.divergences:
        where = "" if div.call is None else f" (executor call {div.call})"
        if out.json_mode:
            out.event(
                "divergence",
                kind=div.kind,
                message=div.message,
                call=div.call,
                expected=_plain(div.expected),
                actual=_plain(div.actual),
            )
        else:
            out.note(f"divergence {div.kind}{where}: {div.message}")
    if turn.error is not None:
        out.error(describe_error(turn.error), code=getattr(turn.error, "code", "replay"))
    result = turn.result
    status = "error" if result is None else result.status
    errors = [] if result is None else [describe_error(e) for e in result.errors]
    if not out.json_mode:
        for text in errors:
            out.note(f"the turn failed: {text}")
    recorded = trace.result.status
    answer = turn.final_answer or ""
    out.summary(
        f"replayed {status} (recorded {recorded}) · {turn.iterations} iteration(s) · "
        f"{len(calls)} tool call(s) · {len(turn.divergences)} divergence(s)",
        status=status,
        recorded_status=recorded,
        answer=answer,
        tool_calls=calls,
        iterations=turn.iterations,
        divergences=len(turn.divergences),
        errors=errors,
    )
    return 0 if not turn.divergences and turn.error is None else 1


# -- adk eval -----------------------------------------------------------------------------


def parse_check(spec: str) -> Check:
    """Build a built-in check from ``--check`` text (``kind`` or ``kind:argument``).

    Raises:
        CommandError: an unknown kind or a bad argument (exit 2).
    """
    kind, sep, arg = spec.partition(":")
    makers: dict[str, Callable[[str], Check]] = {
        "contains": final_answer_contains,
        "equals": final_answer_equals,
        "tool": tool_called,
        "no-tool": tool_not_called,
    }
    if kind in makers:
        if not sep or (not arg and kind != "equals"):
            raise _usage(f"--check {kind} needs an argument: {kind}:…")
        return makers[kind](arg)
    if kind == "no-error" and not sep:
        return no_error()
    if kind == "max-iterations":
        try:
            n = int(arg)
        except ValueError:
            raise _usage(f"--check max-iterations needs an integer: {spec!r}") from None
        return max_iterations(n)
    raise _usage(
        f"unknown --check {spec!r} (contains:TEXT, equals:TEXT, tool:NAME, no-tool:NAME, "
        "no-error, max-iterations:N)"
    )


def _import(module: str) -> Any:
    if module.endswith(".py"):
        file = Path(module)
        if not file.is_file():
            raise _usage(f"--config: no such file {module}")
        name = f"_adk_eval_config_{abs(hash(str(file.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise _usage(f"--config: cannot import {module}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    return importlib.import_module(module)


def load_config(
    text: str,
) -> tuple[Callable[[ReplayExecutor], TurnRunner], list[tuple[str, Check]]]:
    """Import ``module:function`` and read its checks.

    Args:
        text: ``package.module:function`` or ``path/to/file.py:function``.

    Returns:
        The function and its checks (``(name, check)``, from its ``checks`` attribute).

    Raises:
        CommandError: a malformed value, an import failure, a missing or non-callable
            function, or a ``checks`` attribute that is not a list or dict (exit 2).
    """
    module, sep, attr = text.rpartition(":")
    if not sep or not module or not attr.isidentifier():
        raise _usage(f"--config must be module:function, not {text!r}")
    try:
        mod = _import(module)
    except CommandError:
        raise
    except Exception as exc:
        raise _usage(f"--config: cannot import {module}: {type(exc).__name__}: {exc}") from exc
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise _usage(f"--config: {module} has no function {attr!r}")
    build = cast("Callable[[ReplayExecutor], TurnRunner]", fn)
    given: object = getattr(fn, "checks", None)
    named: list[tuple[str, Check]] = []
    if isinstance(given, Mapping):
        for key, check in cast("Mapping[Any, Any]", given).items():
            named.append((str(key), cast("Check", check)))
    elif isinstance(given, list | tuple):
        for check in cast("Sequence[Any]", given):
            named.append((str(getattr(check, "__name__", repr(check))), cast("Check", check)))
    elif given is not None:
        raise _usage(f"--config: {attr}.checks must be a list or a dict of checks")
    if not all(callable(c) for _, c in named):
        raise _usage(f"--config: {attr}.checks holds something that is not callable")
    return build, named


def _corpus(directory: str) -> tuple[list[Trace], list[str]]:
    """Every trace of every ``*.jsonl`` of ``directory``, and the name of each in reports.

    A file of one turn is named by its path, a turn of a trace log ``path#turn_id``.
    """
    root = Path(directory)
    if not root.is_dir():
        raise _usage(f"{directory} is not a directory")
    files = sorted(root.glob("*.jsonl"))
    if not files:
        raise _usage(f"no *.jsonl traces in {directory}")
    traces: list[Trace] = []
    names: list[str] = []
    for f in files:
        loaded = _load(f)
        traces += loaded
        names += [str(f)] if len(loaded) == 1 else [f"{f}#{t.header.turn_id}" for t in loaded]
    return traces, names


def _renamed(report: Report, names: list[str]) -> Report:
    """``report`` with each trace named as in ``names`` (one per trace, in order)."""
    traces = tuple(
        msgspec.structs.replace(t, trace=name) for t, name in zip(report.traces, names, strict=True)
    )
    return msgspec.structs.replace(report, traces=traces)


def run_eval(args: argparse.Namespace, out: Output) -> int:
    """Run ``adk eval`` (see the module docstring).

    Args:
        args: The parsed arguments (``corpus``, ``config``, ``check``, ``live_tools``).
        out: The printer.

    Returns:
        0 if every trace passed, 1 otherwise.

    Raises:
        CommandError: a usage error (2) or a corrupt trace (1).
    """
    build, named = load_config(args.config)
    named += [(getattr(c, "__name__", spec), c) for spec in args.check for c in [parse_check(spec)]]
    traces, names = _corpus(args.corpus)
    mode = "live" if args.live_tools else "recorded"
    checks = dict(named)
    if len(checks) < len(named):
        raise _usage("two checks have the same name")
    report = anyio.run(
        lambda: evaluate(traces, build_runner=build, checks=checks, tool_results=mode)
    )
    report = _renamed(report, names)
    if out.json_mode:
        out.event("report", passed=report.passed, **_plain(report))
    else:
        out.out.write(report.table() + "\n")
        for t in report.traces:
            for c in t.checks:
                if not c.passed:
                    out.out.write(f"  {t.trace}: {c.name} failed: {c.detail or 'false'}\n")
            for d in t.divergences:
                out.out.write(f"  {t.trace}: divergence {d.kind}: {d.message}\n")
            if t.error is not None:
                out.out.write(
                    f"  {t.trace}: error {t.error.code or t.error.type}: {t.error.message}\n"
                )
        out.out.flush()
    return 0 if report.passed else 1
