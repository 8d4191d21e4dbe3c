"""The capture/writer split: batch encoding equals per-line encoding, files, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import adk
from adk.trace import TraceRecorder, load, normalize_events
from adk.trace.capture import TurnBuffer
from adk.trace.encoding import enc_hook, plain
from adk.trace.writer import TraceWriter, encode_turn
from tests.trace import scripted
from tests.trace.scripted import build

pytestmark = pytest.mark.anyio


class Keeping(TraceRecorder):
    """A recorder that also keeps each finished buffer."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.turns: list[TurnBuffer] = []

    def finish(self, turn: TurnBuffer) -> None:
        self.turns.append(turn)
        super().finish(turn)


async def record_turn(tmp_path: Path) -> tuple[Keeping, adk.TurnResult, list[tuple[str, Any]]]:
    recorder = Keeping(tmp_path)
    live: list[tuple[str, Any]] = []
    runner = recorder.attach(
        build(
            recorder.wrap_executor(scripted.scripted),
            store=recorder.wrap_store(adk.InMemoryStore()),
        )
    )
    for name in ("message", "thought", "tool_call"):
        runner.on(name, lambda p, name=name: live.append((name, p)))
    result = await recorder.run(runner, system_prompt="You answer.", stash={"user": "u1"})
    await recorder.flush()
    return recorder, result, live


async def answer(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    helpers.report_message("a", "done", is_complete=True)
    ctx.ack()


def _lines(data: bytes) -> list[Any]:
    lines = [msgspec.json.decode(line) for line in data.splitlines()]
    del lines[0]["created_at"]
    return lines


async def test_batch_encoding_equals_per_line_encoding(tmp_path: Path) -> None:
    recorder, result, _ = await record_turn(tmp_path)
    (turn,) = recorder.turns
    written = recorder.paths[result.turn_id].read_bytes()
    assert encode_turn(turn).count(b"\n") == written.count(b"\n")
    per_line = encode_turn(turn, lambda line: line)  # the redactor path: one line at a time
    assert _lines(per_line) == _lines(written)
    assert _lines(encode_turn(turn)) == _lines(written)  # encoding again is idempotent


async def test_recorded_trace_decodes_to_the_emitted_events(tmp_path: Path) -> None:
    recorder, result, live = await record_turn(tmp_path)
    trace = load(recorder.paths[result.turn_id])
    functional = [(e.name, e.payload) for e in trace.events if e.bus == "functional"]
    assert normalize_events(functional) == normalize_events(live)
    seqs = [e.seq for e in trace.entries]
    assert seqs == list(range(1, len(seqs) + 1))


def test_enc_hook_matches_adk_encode() -> None:
    token = adk.Tokenizable("x")
    assert plain({"v": token}) == {"v": msgspec.json.decode(adk.encode(token))}
    assert plain(ValueError("bad")) == {"type": "ValueError", "message": "bad", "code": None}
    assert enc_hook(object()).startswith("<object")


async def test_missing_directory_and_template(tmp_path: Path) -> None:
    recorder = TraceRecorder(str(tmp_path / "a" / "b" / "{turn_id}.trace"))
    runner = recorder.runner(executor=answer)
    result = await recorder.run(runner, system_prompt="p")
    await recorder.flush()
    path = recorder.paths[result.turn_id]
    assert path == tmp_path / "a" / "b" / f"{result.turn_id}.trace"
    assert load(path).result.status == result.status
    recorder.close()


async def test_write_error_is_raised_by_flush_and_writer_recovers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    recorder = TraceRecorder(blocker)
    runner = recorder.runner(executor=answer)
    await recorder.run(runner, system_prompt="p")
    with pytest.raises(OSError):
        await recorder.flush()
    await recorder.flush()  # the error was reported once
    recorder.close()


def test_writer_join_close_and_restart(tmp_path: Path) -> None:
    writer = TraceWriter()
    writer.join()  # nothing queued
    writer.close()  # never started

    async def main() -> None:
        recorder = Keeping(tmp_path)
        runner = recorder.runner(executor=answer)
        await recorder.run(runner, system_prompt="p")
        recorder.close()
        await recorder.run(runner, system_prompt="p")  # a new writer thread
        async with recorder:
            pass
        assert len(recorder.paths) == 2
        for path in recorder.paths.values():
            assert load(path).header.system_prompt == "p"

    anyio.run(main)


@pytest.mark.parametrize("options", [{"batch_delay": 0.01}, {"batch_turns": 1}])
async def test_writer_writes_without_flush(tmp_path: Path, options: dict[str, Any]) -> None:
    recorder = TraceRecorder(tmp_path, **options)
    runner = recorder.runner(executor=answer)
    result = await recorder.run(runner, system_prompt="p")
    path = recorder.paths[result.turn_id]
    with anyio.fail_after(5):
        while not path.exists() or not path.read_bytes().endswith(b"\n"):
            await anyio.sleep(0.01)
    assert load(path).result.status == "completed"
    recorder.close()
