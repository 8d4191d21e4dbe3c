"""Trace logs: ``TraceRecorder(path, append=True)``, ``load_all``/``loads_all``, ``_write_all``."""

from __future__ import annotations

import itertools
import math
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adk
from adk.errors import AdkError
from adk.trace import (
    Trace,
    TraceRecorder,
    load,
    load_all,
    loads,
    loads_all,
    normalize_events,
    replay,
)
from adk.trace import writer as trace_writer
from tests.trace import scripted
from tests.trace.scripted import build

pytestmark = pytest.mark.anyio

BuildRunner = Callable[[Any], adk.TurnRunner]


# -- executors and runners ------------------------------------------------------------------
async def broken(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    helpers.report_message("m", "partial")
    raise ValueError("model exploded")


async def sleeps(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    """Reports a thought, then waits until the task is cancelled."""
    helpers.report_thought("t", "waiting", is_complete=True)
    await anyio.sleep(60)


async def answer(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    helpers.report_message("a", "done", is_complete=True)
    ctx.ack()


def plain_runner(executor: Any) -> adk.TurnRunner:
    return adk.TurnRunner(executor=executor)


# (kind, executor, runner builder, stash): completed, failed (executor raises), cancelled
TURNS: list[tuple[str, Any, BuildRunner, dict[str, Any] | None]] = [
    ("completed", scripted.scripted, build, {"user": "u1"}),
    ("failed", broken, build, {"user": "u2"}),
    ("cancelled", sleeps, plain_runner, None),
]


def recorded_runner(
    recorder: TraceRecorder, executor: Any, build_runner: BuildRunner = build
) -> adk.TurnRunner:
    """``build_runner``'s configuration around the recorder's wrapped executor and store."""
    if build_runner is plain_runner:
        return recorder.runner(executor=executor)
    return recorder.attach(
        build(recorder.wrap_executor(executor), store=recorder.wrap_store(adk.InMemoryStore()))
    )


async def run_turn(
    recorder: TraceRecorder,
    kind: str,
    executor: Any,
    build_runner: BuildRunner,
    stash: dict[str, Any] | None,
) -> str:
    """Run one turn on ``recorder``; returns its turn id (the last one recorded)."""
    runner = recorded_runner(recorder, executor, build_runner)
    before = len(recorder.paths)
    if kind == "cancelled":
        with anyio.CancelScope() as scope:
            # cancelled once it waits (its thought reported), however slow the machine
            runner.on("thought", lambda _: scope.cancel())
            await recorder.run(runner, system_prompt="You wait.", stash=stash)
        assert scope.cancelled_caught
    else:
        result = await recorder.run(runner, system_prompt="You answer.", stash=stash)
        assert result.status == kind
    assert len(recorder.paths) == before + 1
    return list(recorder.paths)[-1]


async def record_all(recorder: TraceRecorder) -> list[str]:
    ids = [await run_turn(recorder, *turn) for turn in TURNS]
    await recorder.flush()
    return ids


async def record_answers(path: Path, count: int, **options: Any) -> list[str]:
    """Append ``count`` quick turns to the log ``path`` with a fresh recorder."""
    recorder = TraceRecorder(path, append=True, **options)
    runner = recorder.runner(executor=answer)
    for i in range(count):
        await recorder.run(runner, system_prompt=f"p{i}")
    await recorder.flush()
    recorder.close()
    return list(recorder.paths)


def raw_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def tags(lines: Sequence[bytes]) -> list[str]:
    return [msgspec.json.decode(line)["t"] for line in lines]


def trace_sizes(lines: Sequence[bytes]) -> list[int]:
    """The number of lines of each trace of a well-formed log (header ... result)."""
    sizes: list[int] = []
    for tag in tags(lines):
        if tag == "header":
            sizes.append(0)
        sizes[-1] += 1
    return sizes


def format_error(info: pytest.ExceptionInfo[AdkError], line: int, *words: str) -> None:
    err = info.value
    assert err.code == "E_TRACE_FORMAT"
    assert err.line == line  # type: ignore[attr-defined]
    assert err.message.startswith(f"line {line}:")
    for word in words:
        assert word in err.message


def same_trace(a: Trace, b: Trace) -> None:
    """Two recordings of the same turn agree on everything but ids and times."""
    assert normalize_events(a.events) == normalize_events(b.events)
    assert [(s.call, s.iteration, s.signal) for s in a.signals] == [
        (s.call, s.iteration, s.signal) for s in b.signals
    ]
    assert [(r.op, r.kind, r.call) for r in a.records] == [
        (r.op, r.kind, r.call) for r in b.records
    ]
    assert [type(e).__name__ for e in a.entries] == [type(e).__name__ for e in b.entries]
    for attr in ("status", "cancelled", "derived", "dispatch_status"):
        assert getattr(a.result, attr) == getattr(b.result, attr)
    assert [(e.code, e.message) for e in a.result.errors] == [
        (e.code, e.message) for e in b.result.errors
    ]
    for attr in ("system_prompt", "standing_instructions", "tools", "stash", "version"):
        assert getattr(a.header, attr) == getattr(b.header, attr)


# -- 1. several turns, one log --------------------------------------------------------------
async def test_log_of_completed_failed_and_cancelled_turns(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "turns.jsonl"  # the directory is created on first write
    recorder = TraceRecorder(log, append=True)
    ids = await record_all(recorder)
    recorder.close()
    assert len(set(ids)) == 3
    assert recorder.paths == dict.fromkeys(ids, log)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["turns.jsonl"]

    lines = raw_lines(log)
    assert tags(lines).count("header") == 3 and tags(lines).count("result") == 3
    assert len(trace_sizes(lines)) == 3

    traces = load_all(log)
    assert [t.header.turn_id for t in traces] == ids
    assert [t.result.turn_id for t in traces] == ids
    assert [t.result.status for t in traces] == ["completed", "failed", "aborted"]
    assert [t.result.cancelled for t in traces] == [False, False, True]
    assert all(t.path == str(log) for t in traces)
    completed, failed, cancelled = traces
    assert completed.header.stash == {"user": "u1"} and cancelled.header.stash is None
    assert failed.result.errors[0].code == "E_LLM_EXECUTION_EXECUTOR_ERROR"
    assert failed.signals[0].signal == "raise"
    assert cancelled.signals[-1].signal == "abort"
    for trace in traces:
        assert trace.event_names()[0] == "turn_start" and trace.event_names()[-1] == "turn_end"
        assert [e.seq for e in trace.entries] == list(range(1, len(trace.entries) + 1))
    # UTC datetimes are written as RFC 3339 "...Z" and read back as aware UTC datetimes
    message = completed.records[0].value
    assert isinstance(message, adk.Message) and message.created_at.tzinfo is not None
    assert message.created_at.utcoffset() == UTC.utcoffset(None)
    record_line = next(line for line in lines if b'"t":"record"' in line)
    assert b'Z"' in record_line and b"+00:00" not in record_line


async def test_log_traces_equal_and_replay_like_files_per_turn(tmp_path: Path) -> None:
    log_recorder = TraceRecorder(tmp_path / "log.jsonl", append=True)
    file_recorder = TraceRecorder(tmp_path / "files")
    await record_all(log_recorder)
    file_ids = await record_all(file_recorder)
    log_recorder.close()
    file_recorder.close()
    from_log = load_all(tmp_path / "log.jsonl")
    from_files = [load(file_recorder.paths[turn_id]) for turn_id in file_ids]
    assert len(from_log) == len(from_files) == len(TURNS)
    for (_, _, build_runner, _), in_log, in_file in zip(TURNS, from_log, from_files, strict=True):
        same_trace(in_log, in_file)
        replayed_log = await replay(in_log, build_runner)
        replayed_file = await replay(in_file, build_runner)
        for turn, trace in ((replayed_log, in_log), (replayed_file, in_file)):
            assert turn.error is None
            assert turn.divergences == []
            assert turn.result is not None
            assert turn.result.dispatch_status == trace.result.dispatch_status
            assert normalize_events(turn.events) == normalize_events(trace.events)
        assert replayed_log.result is not None and replayed_file.result is not None
        assert replayed_log.result.status == replayed_file.result.status
        assert normalize_events(replayed_log.events) == normalize_events(replayed_file.events)
        assert replayed_log.final_answer == replayed_file.final_answer
    assert from_log[0].result.status == "completed"
    completed = await replay(from_log[0], build)
    assert completed.final_answer == "x is 42:x (approved=True)"


async def test_load_all_on_a_file_per_turn_returns_that_trace(tmp_path: Path) -> None:
    recorder = TraceRecorder(tmp_path)
    turn_id = await run_turn(recorder, *TURNS[0])
    await recorder.flush()
    recorder.close()
    path = recorder.paths[turn_id]
    (trace,) = load_all(path)
    single = load(path)
    assert trace.header == single.header and trace.result == single.result
    same_trace(trace, single)
    assert [adk.encode(r.value) for r in trace.records] == [
        adk.encode(r.value) for r in single.records
    ]
    assert trace.path == single.path == str(path)
    (again,) = loads_all(path.read_bytes())
    assert again.path is None and again.header == single.header


# -- 2. appending to an existing log --------------------------------------------------------
async def test_second_recorder_appends_after_the_old_turns(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    first = await record_answers(log, 2)
    old = log.read_bytes()
    second = await record_answers(log, 3)
    data = log.read_bytes()
    assert data.startswith(old)  # never truncated nor rewritten
    assert b"\n\n" not in data  # no blank line where the second recorder started
    traces = load_all(log)
    assert [t.header.turn_id for t in traces] == first + second
    assert [t.header.system_prompt for t in traces] == ["p0", "p1", "p0", "p1", "p2"]
    assert all(t.result.status == "completed" for t in traces)


async def test_append_to_an_empty_existing_file(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"")
    ids = await record_answers(log, 1)
    assert not log.read_bytes().startswith(b"\n")
    assert [t.header.turn_id for t in load_all(log)] == ids


async def test_a_missing_final_newline_only_is_repaired(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    first = await record_answers(log, 1)
    log.write_bytes(log.read_bytes()[:-1])  # the result line is whole, only "\n" is missing
    second = await record_answers(log, 1)
    assert [t.header.turn_id for t in load_all(log)] == first + second


@pytest.mark.parametrize("kept", [0, 3, "result"])
async def test_a_cut_last_line_is_named_and_new_turns_start_on_their_own_line(
    tmp_path: Path, kept: int | str
) -> None:
    log = tmp_path / "log.jsonl"
    old = await record_answers(log, 2)
    lines = raw_lines(log)
    size1, size2 = trace_sizes(lines)
    second = lines[size1:]
    keep = size2 - 1 if kept == "result" else int(kept)  # whole lines of turn 2 kept
    cut_line = second[keep][: len(second[keep]) // 2]
    # the process died while writing turn 2: its line `keep` was cut half way
    log.write_bytes(b"".join(line + b"\n" for line in lines[:size1] + second[:keep]) + cut_line)
    cut_number = size1 + keep + 1  # 1-based

    new = await record_answers(log, 2)
    after = raw_lines(log)
    assert after[: cut_number - 1] == lines[:size1] + second[:keep]
    assert after[cut_number - 1] == cut_line  # the cut line stays as it was, on its own line
    rest = after[cut_number:]
    assert tags(rest)[0] == "header"
    intact = loads_all(b"".join(line + b"\n" for line in rest))
    assert [t.header.turn_id for t in intact] == new
    assert all(t.result.status == "completed" for t in intact)
    (before,) = loads_all(b"".join(line + b"\n" for line in lines[:size1]))
    assert before.header.turn_id == old[0]

    with pytest.raises(AdkError) as info:
        load_all(log)
    word = "not an adk trace header" if keep == 0 else "corrupt line"
    format_error(info, cut_number, word)
    # errors="skip" reads around it: the cut trace is left out, every whole one is kept
    skipped = load_all(log, errors="skip")
    assert [t.header.turn_id for t in skipped] == [old[0], *new]
    with pytest.raises(AdkError) as bad:
        load_all(log, errors="ignore")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert bad.value.code == "E_INVALID_TRACE_OPTIONS"


# -- 3. reading logs: load vs load_all, truncation ------------------------------------------
async def two_turn_log(tmp_path: Path) -> tuple[Path, list[bytes], int]:
    log = tmp_path / "log.jsonl"
    await record_answers(log, 2)
    lines = raw_lines(log)
    size1, _ = trace_sizes(lines)
    return log, lines, size1


async def test_load_on_a_log_names_the_second_trace_and_load_all(tmp_path: Path) -> None:
    log, _, size1 = await two_turn_log(tmp_path)
    with pytest.raises(AdkError) as info:
        load(log)
    format_error(info, size1 + 1, "load_all")
    with pytest.raises(AdkError) as info:
        loads(log.read_bytes())
    format_error(info, size1 + 1, "load_all")
    assert len(load_all(log)) == 2


def join(lines: Sequence[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


TRUNCATIONS: list[tuple[str, Callable[[list[bytes], int], tuple[bytes, int, str]]]] = [
    (
        "missing result line of the last trace",
        lambda lines, n1: (join(lines[:-1]), len(lines) - 1, "without its result line"),
    ),
    (
        "missing result line of the first trace",
        lambda lines, n1: (join(lines[: n1 - 1] + lines[n1:]), n1, "new trace starts"),
    ),
    (
        "missing final newline",
        lambda lines, n1: (join(lines)[:-1], len(lines), "not terminated"),
    ),
    (
        "last line cut",
        lambda lines, n1: (join(lines[:-1]) + lines[-1][:10], len(lines), "not terminated"),
    ),
    (
        "a header in the middle of the first trace",
        lambda lines, n1: (join([*lines[:2], lines[n1], *lines[2:]]), 3, "new trace starts"),
    ),
    (
        "a header in the middle of the second trace",
        lambda lines, n1: (
            join([*lines[: n1 + 2], lines[0], *lines[n1 + 2 :]]),
            n1 + 3,
            "new trace starts",
        ),
    ),
    (
        "a trace that does not start with its header",
        lambda lines, n1: (join([*lines[:n1], lines[1], *lines[n1:]]), n1 + 1, "header"),
    ),
    (
        "a blank line between traces",
        lambda lines, n1: (join([*lines[:n1], b"", *lines[n1:]]), n1 + 1, "header"),
    ),
    (
        "a corrupt entry of the second trace",
        lambda lines, n1: (
            join([*lines[: n1 + 1], b'{"t":"event","seq":', *lines[n1 + 2 :]]),
            n1 + 2,
            "corrupt line",
        ),
    ),
    ("empty", lambda lines, n1: (b"", 1, "empty trace")),
]


@pytest.mark.parametrize(
    "mutate", [m for _, m in TRUNCATIONS], ids=[name for name, _ in TRUNCATIONS]
)
async def test_loads_all_names_the_bad_line(
    tmp_path: Path, mutate: Callable[[list[bytes], int], tuple[bytes, int, str]]
) -> None:
    _, lines, size1 = await two_turn_log(tmp_path)
    data, line, word = mutate(lines, size1)
    with pytest.raises(AdkError) as info:
        loads_all(data)
    format_error(info, line, word)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(data)
    with pytest.raises(AdkError) as info:
        load_all(bad)
    format_error(info, line, word)


# -- 4. options -------------------------------------------------------------------------------
BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"path": ""}, "path"),
    ({"path": None}, "path"),
    ({"path": b"traces"}, "path"),
    ({"path": "{turn_id}.jsonl", "append": True}, "{turn_id}"),
    ({"append": "yes"}, "append"),
    ({"append": 1}, "append"),
    ({"redact": "mask"}, "redact"),
    ({"redact": 42}, "redact"),
    ({"batch_turns": 0}, "batch_turns"),
    ({"batch_turns": -3}, "batch_turns"),
    ({"batch_turns": 1.5}, "batch_turns"),
    ({"batch_turns": True}, "batch_turns"),
    ({"batch_turns": "8"}, "batch_turns"),
    ({"batch_delay": -0.1}, "batch_delay"),
    ({"batch_delay": float("inf")}, "batch_delay"),
    ({"batch_delay": float("nan")}, "batch_delay"),
    ({"batch_delay": True}, "batch_delay"),
    ({"batch_delay": "1"}, "batch_delay"),
    ({"batch_delay": None}, "batch_delay"),
]
FIELDS = ("path", "append", "redact", "batch_turns", "batch_delay")


@pytest.mark.parametrize(("options", "field"), BAD_OPTIONS, ids=[repr(o) for o, _ in BAD_OPTIONS])
def test_each_bad_option_is_named(tmp_path: Path, options: dict[str, Any], field: str) -> None:
    kwargs: dict[str, Any] = {"path": tmp_path / "log.jsonl", **options}
    path = kwargs.pop("path")
    with pytest.raises(AdkError) as info:
        TraceRecorder(path, **kwargs)
    err = info.value
    assert err.code == "E_INVALID_TRACE_OPTIONS"
    assert field in err.message
    named = {f for f in FIELDS if f"{f} " in err.message or f"{f}:" in err.message}
    expected = "path" if field == "{turn_id}" else field
    assert named == {expected}, err.message


def test_every_bad_option_is_named_in_one_error() -> None:
    with pytest.raises(AdkError) as info:
        TraceRecorder(
            "",
            append="yes",  # type: ignore[arg-type]
            redact=42,  # type: ignore[arg-type]
            batch_turns=0,
            batch_delay=-1.0,
        )
    err = info.value
    assert err.code == "E_INVALID_TRACE_OPTIONS"
    for field in FIELDS:
        assert field in err.message, field
    assert err.message.count(";") == len(FIELDS) - 1
    with pytest.raises(AdkError) as info:
        TraceRecorder("{turn_id}.jsonl", append=True, batch_delay=float("nan"))
    assert "{turn_id}" in info.value.message and "batch_delay" in info.value.message
    assert "batch_turns" not in info.value.message


def test_batch_delay_beyond_the_thread_timeout_is_refused(tmp_path: Path) -> None:
    delay = threading.TIMEOUT_MAX * 2
    assert delay < math.inf
    with pytest.raises(AdkError) as info:
        TraceRecorder(tmp_path / "log.jsonl", batch_delay=delay).close()  # no thread yet
    assert info.value.code == "E_INVALID_TRACE_OPTIONS"
    assert "batch_delay" in info.value.message


@pytest.mark.parametrize(
    "options",
    [
        {"append": True},
        {"append": False},
        {"batch_turns": 1, "batch_delay": 0},
        {"batch_delay": 2},
        {"redact": lambda line: line},
    ],
)
def test_good_options_are_accepted(tmp_path: Path, options: dict[str, Any]) -> None:
    TraceRecorder(tmp_path / "log.jsonl", **options).close()
    TraceRecorder(str(tmp_path / "{turn_id}.jsonl"), batch_turns=3).close()


async def test_a_directory_as_log_fails_the_flush(tmp_path: Path) -> None:
    recorder = TraceRecorder(tmp_path, append=True)
    runner = recorder.runner(executor=answer)
    await recorder.run(runner, system_prompt="p")
    with pytest.raises(IsADirectoryError):
        await recorder.flush()
    recorder.close()


# -- 5. _write_all: short writes, more chunks than IOV_MAX ----------------------------------
CHUNKS = st.lists(st.binary(max_size=40), max_size=60)
LIMITS = st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=8)


class ShortWrites:
    """``os.writev``/``os.write`` that write at most the next limit of bytes per call.

    Only regular files are affected (the event loop's wake-up pipes and sockets are not).
    """

    def __init__(self, limits: list[int], iov_max: int) -> None:
        self._limits = itertools.cycle(limits)
        self._iov_max = iov_max
        self._writev = os.writev
        self._write = os.write
        self.calls = 0

    def writev(self, fd: int, buffers: Sequence[Any]) -> int:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return self._writev(fd, buffers)
        self.calls += 1
        parts = [bytes(b) for b in buffers]
        assert 1 <= len(parts) <= self._iov_max
        data = b"".join(parts)[: next(self._limits)]
        return self._write(fd, data) if data else 0

    def write(self, fd: int, data: Any) -> int:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return self._write(fd, data)
        self.calls += 1
        out = bytes(data)[: next(self._limits)]
        assert out
        return self._write(fd, out)


def read_fd(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    out = b""
    while block := os.read(fd, 1 << 16):
        out += block
    return out


@settings(max_examples=200, deadline=None)
@given(chunks=CHUNKS, limits=LIMITS, iov_max=st.integers(min_value=1, max_value=7))
def test_write_all_survives_short_writes_and_many_chunks(
    chunks: list[bytes], limits: list[int], iov_max: int
) -> None:
    fake = ShortWrites(limits, iov_max)
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryFile() as f:
        mp.setattr(trace_writer, "_IOV_MAX", iov_max)
        mp.setattr(os, "writev", fake.writev)
        mp.setattr(os, "write", fake.write)
        trace_writer._write_all(f.fileno(), chunks)  # pyright: ignore[reportPrivateUsage]
        mp.undo()
        assert read_fd(f.fileno()) == b"".join(chunks)
    total = sum(map(len, chunks))
    # every call wrote at least one byte (or a group of empty chunks): no spinning
    assert fake.calls <= total + len(chunks)


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.binary(max_size=30),
    chunks=st.lists(st.binary(max_size=30).map(lambda b: b + b"\n"), min_size=1, max_size=20),
    limits=LIMITS,
    iov_max=st.integers(min_value=1, max_value=5),
)
def test_write_file_append_starts_on_a_new_line(
    tmp_path_factory: pytest.TempPathFactory,
    prefix: bytes,
    chunks: list[bytes],
    limits: list[int],
    iov_max: int,
) -> None:
    path = tmp_path_factory.mktemp("append") / "log.jsonl"
    path.write_bytes(prefix)
    fake = ShortWrites(limits, iov_max)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trace_writer, "_IOV_MAX", iov_max)
        mp.setattr(os, "writev", fake.writev)
        mp.setattr(os, "write", fake.write)
        trace_writer.write_file(str(path), chunks, append=True)
    sep = b"\n" if prefix and not prefix.endswith(b"\n") else b""
    assert path.read_bytes() == prefix + sep + b"".join(chunks)


def test_write_all_more_chunks_than_the_real_iov_max() -> None:
    iov_max = trace_writer._IOV_MAX  # pyright: ignore[reportPrivateUsage]
    chunks = [f"{i}\n".encode() for i in range(3 * iov_max + 7)]
    with tempfile.TemporaryFile() as f:
        trace_writer._write_all(f.fileno(), chunks)  # pyright: ignore[reportPrivateUsage]
        assert read_fd(f.fileno()) == b"".join(chunks)


async def test_append_batches_with_short_writes_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ShortWrites([7, 1, 300, 64], 2)
    monkeypatch.setattr(trace_writer, "_IOV_MAX", 2)
    monkeypatch.setattr(os, "writev", fake.writev)
    monkeypatch.setattr(os, "write", fake.write)
    log = tmp_path / "log.jsonl"
    ids = await record_answers(log, 5)
    monkeypatch.undo()
    assert fake.calls > 5
    assert [t.header.turn_id for t in load_all(log)] == ids


# -- 6. redaction in a log ------------------------------------------------------------------
async def test_redactor_applies_to_every_line_of_every_turn(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    def redact(line: dict[str, Any]) -> dict[str, Any] | None:
        seen.append((line["t"], line.get("turn_id")))
        if line["t"] == "header":
            line["stash"] = {"user": "***"}
        if line["t"] == "record" and line["value"].get("$adk") == "Message":
            line["value"]["v"]["content"] = {"$adk": "Tokenizable", "v": "***"}
        return line

    log = tmp_path / "log.jsonl"
    recorder = TraceRecorder(log, append=True, redact=redact)
    ids: list[str] = []
    for i in range(3):
        runner = recorded_runner(recorder, scripted.scripted, build)
        result = await recorder.run(runner, system_prompt="s", stash={"user": f"secret-{i}"})
        ids.append(result.turn_id)
    await recorder.flush()
    recorder.close()
    text = log.read_text()
    assert "secret" not in text
    assert "what is x?" not in text  # the user message is only in a record
    records = [line for line in raw_lines(log) if line.startswith(b'{"t":"record"')]
    assert len(records) == 9 and not any(b"x is 42" in line for line in records)
    assert b"x is 42" in log.read_bytes()  # the message events were not masked
    assert len(seen) == len(raw_lines(log))  # every line went through the redactor
    assert [turn_id for tag, turn_id in seen if tag == "header"] == ids
    assert [turn_id for tag, turn_id in seen if tag == "result"] == ids
    traces = load_all(log)
    assert [t.header.turn_id for t in traces] == ids
    for trace in traces:
        assert trace.header.stash == {"user": "***"}
        messages = [r.value for r in trace.records if r.kind == "message"]
        assert len(messages) == 2 and all(str(m.content) == "***" for m in messages)
        assert trace.result.status == "completed"


async def test_redactor_dropping_lines_and_failing_one_turn(tmp_path: Path) -> None:
    def redact(line: dict[str, Any]) -> dict[str, Any] | None:
        if line["t"] == "header" and line["stash"] == {"n": 1}:
            raise RuntimeError("cannot redact turn 1")
        if line["t"] == "event" and line["name"] == "log":
            return None
        return line

    log = tmp_path / "log.jsonl"
    recorder = TraceRecorder(log, append=True, redact=redact)
    ids: list[str] = []
    for i in range(3):
        runner = recorded_runner(recorder, scripted.scripted, build)
        result = await recorder.run(runner, system_prompt="s", stash={"n": i})
        ids.append(result.turn_id)
    with pytest.raises(RuntimeError, match="cannot redact turn 1"):
        await recorder.flush()
    await recorder.flush()  # reported once
    recorder.close()
    traces = load_all(log)
    assert [t.header.turn_id for t in traces] == [ids[0], ids[2]]  # turn 1 is not written
    for trace in traces:
        assert "log" not in trace.event_names()
        assert trace.result.status == "completed"
    turn = await replay(traces[1], build)
    assert turn.divergences == []
    assert turn.result is not None and turn.result.status == "completed"


# -- 7. concurrent turns --------------------------------------------------------------------
@pytest.mark.parametrize(
    "options", [{}, {"batch_turns": 1}, {"batch_turns": 2, "batch_delay": 0}], ids=repr
)
async def test_concurrent_turns_are_whole_separate_traces(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    log = tmp_path / "log.jsonl"
    recorder = TraceRecorder(log, append=True, **options)

    async def one(i: int) -> None:
        runner = recorded_runner(recorder, scripted.scripted, build)
        await recorder.run(runner, system_prompt=f"turn {i}", stash={"n": i})

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(one, i)
    await recorder.flush()
    recorder.close()

    lines = raw_lines(log)
    line_tags = tags(lines)
    assert line_tags.count("header") == line_tags.count("result") == 5
    headers = [i for i, tag in enumerate(line_tags) if tag == "header"]
    results = [i for i, tag in enumerate(line_tags) if tag == "result"]
    assert headers == [0, *(r + 1 for r in results[:-1])]  # header ... result, back to back
    assert results[-1] == len(lines) - 1

    traces = load_all(log)
    assert [t.header.turn_id for t in traces] == list(recorder.paths)  # in finishing order
    assert len(set(recorder.paths)) == 5
    assert sorted(t.header.stash["n"] for t in traces if t.header.stash) == list(range(5))
    seen_ids: set[str] = set()
    for trace in traces:
        turn_id = trace.header.turn_id
        n = trace.header.stash["n"] if trace.header.stash else None
        assert trace.header.system_prompt == f"turn {n}"
        assert trace.result.turn_id == turn_id and trace.result.status == "completed"
        assert trace.event_names().count("turn_start") == 1
        assert trace.event_names().count("turn_end") == 1
        assert [e.seq for e in trace.entries] == list(range(1, len(trace.entries) + 1))
        assert len(trace.records) == 3
        for event in trace.events:
            if event.name.startswith(("turn_start", "turn_end", "turn_gate")):
                assert event.payload.turn_id == turn_id, event.name
        # every id seen in a trace belongs to that trace alone (no line of another turn)
        dispatches = {
            e.payload.dispatch_id for e in trace.events if hasattr(e.payload, "dispatch_id")
        }
        tool_turns = {e.payload.turn_id for e in trace.events if e.name.startswith("tool_exec")}
        assert len(dispatches) == len(tool_turns) == 1
        assert not (dispatches | tool_turns) & seen_ids
        seen_ids |= dispatches | tool_turns
        turn = await replay(trace, build)
        assert turn.divergences == []
        assert normalize_events(turn.events) == normalize_events(trace.events)


def test_append_to_a_fifo_streams_whole_lines(tmp_path: Path) -> None:
    """A trace log can be a pipe (a collector reading it): no seek, no repair, no error."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        trace_writer.write_file(str(fifo), [b'{"a":1}\n', b'{"b":2}\n'], append=True)
    finally:
        reader.join(timeout=10)
    assert received == [b'{"a":1}\n{"b":2}\n']


class _BytesPath:
    def __fspath__(self) -> bytes:
        return b"/tmp/traces"


def test_a_bytes_path_is_a_named_option_error() -> None:
    with pytest.raises(AdkError) as info:
        TraceRecorder(_BytesPath(), append=True)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert info.value.code == "E_INVALID_TRACE_OPTIONS"
    assert "path" in info.value.message


@pytest.mark.parametrize(("reported", "expected"), [(-1, 1024), (16, 16), (4096, 1024)])
def test_iov_max_without_a_stated_limit(
    monkeypatch: pytest.MonkeyPatch, reported: int, expected: int
) -> None:
    monkeypatch.setattr(os, "sysconf", lambda name: reported)
    assert trace_writer._iov_max() == expected  # pyright: ignore[reportPrivateUsage]
