"""``adk chat --trace``, ``adk replay`` and ``adk eval`` on traces recorded without a model."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

import adk
from adk.cli import main
from adk.testing import OpenAIStubServer, StubResponse
from adk.trace import TraceRecorder, evaluate, load, load_all

QUESTION = "What is 37 * 43 plus 12?"
ANSWER = "37 * 43 plus 12 is 1603."


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def tool_call_response() -> StubResponse:
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "calculator", "arguments": '{"expression": "37 * 43 + 12"}'},
    }
    return StubResponse.sse(
        [
            chunk({"role": "assistant", "content": None, "tool_calls": [call]}),
            chunk({}, "tool_calls"),
        ]
    )


def answer_response() -> StubResponse:
    return StubResponse.sse(
        [
            chunk({"role": "assistant", "content": ANSWER[:9]}),
            chunk({"content": ANSWER[9:]}),
            chunk({}, "stop"),
        ]
    )


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def chat_with_trace(target: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """``adk chat --trace target`` against a stub server: a calculator call, then the answer."""
    with OpenAIStubServer() as stub:
        stub.enqueue(tool_call_response(), answer_response())
        code, out, _ = run(
            [
                *("chat", QUESTION, "--model", "m", "--base-url", stub.base_url),
                *("--tool", "calculator", "--json", "--trace", str(target)),
            ],
            capsys,
        )
    events = json_lines(out)
    assert code == 0, events
    return events


# -- a scripted agent (no model, no server) -----------------------------------------------


@adk.tool
def calculator(expression: str) -> str:
    """A wrong calculator: records a result the demo calculator will not reproduce.

    Args:
        expression: The arithmetic expression.
    """
    return "1604"


async def scripted(ctx: adk.DispatchContext, helpers: adk.DispatchExecutorHelpers) -> None:
    """Iteration 0 runs the calculator; iteration 1 answers with its result and acks."""
    now = datetime.now(UTC)
    if ctx.iteration == 0:
        args = {"expression": "37 * 43 + 12"}
        helpers.report_tool_call("c0", tool="calculator", args=args)
        tool = ctx.tools.get("calculator")
        assert tool is not None
        result = await tool.executor(ctx)(args)
        helpers.report_tool_call("c0", results=result, is_complete=True)
        await ctx.store_tool_call(
            adk.ToolCall(
                id="c0",
                tool="calculator",
                args=args,
                checksum=adk.tool_call_checksum("calculator", args),
                is_complete=True,
                is_error=False,
                results=adk.Tokenizable(result),
                created_at=now,
                updated_at=now,
                completed_at=now,
            )
        )
        return
    found = next(str(c.results) for c in ctx.turn_tool_calls)
    helpers.report_message("a", f"It is {found}.", is_complete=True)
    ctx.ack()


def record_scripted(directory: Path) -> Path:
    """Record one turn of :func:`scripted` (with the wrong calculator) into ``directory``."""

    async def go() -> Path:
        recorder = TraceRecorder(directory)
        runner = recorder.runner(executor=scripted, tools=[calculator])
        result = await recorder.run(runner, system_prompt="You calculate.")
        await recorder.flush()
        return recorder.paths[result.turn_id]

    return anyio.run(go)


def record_log(path: Path, turns: int = 3) -> list[str]:
    """Record ``turns`` turns of :func:`scripted` into the trace log ``path``; their ids."""

    async def go() -> list[str]:
        recorder = TraceRecorder(path, append=True)
        runner = recorder.runner(executor=scripted, tools=[calculator])
        ids: list[str] = []
        for _ in range(turns):
            result = await recorder.run(runner, system_prompt="You calculate.")
            ids.append(result.turn_id)
        await recorder.flush()
        return ids

    ids = anyio.run(go)
    assert [t.header.turn_id for t in load_all(path)] == ids
    return ids


# -- adk chat --trace + adk replay ----------------------------------------------------------


def test_chat_trace_file_replays_without_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sub" / "turn.jsonl"
    events = chat_with_trace(target, capsys)
    end = events[-1]
    assert end["event"] == "turn_end" and end["answer"] == ANSWER
    assert [e["trace"] for e in events if e["event"] == "status"] == [str(target)]
    assert [p.name for p in target.parent.iterdir()] == ["turn.jsonl"]  # no .part left
    trace = load(target)
    assert trace.result.status == "completed"
    assert trace.header.system_prompt.startswith("You are a helpful assistant.")
    assert [t["name"] for t in trace.header.tools] == ["calculator"]
    assert [s.signal for s in trace.signals] == ["none", "ack"]

    for live in ([], ["--live-tools"]):
        code, out, _ = run(["replay", str(target), "--json", *live], capsys)
        replayed = json_lines(out)
        assert code == 0, [e for e in replayed if e["event"] in ("divergence", "error")]
        assert not [e for e in replayed if e["event"] == "divergence"]
        last = replayed[-1]
        assert last["event"] == "turn_end"
        assert last["status"] == last["recorded_status"] == "completed"
        assert last["answer"] == ANSWER
        assert [(c["tool"], c["args"], c["result"], c["is_error"]) for c in last["tool_calls"]] == [
            ("calculator", {"expression": "37 * 43 + 12"}, "1603", False)
        ]
        assert last["divergences"] == 0 and last["iterations"] == 2

    code, out, err = run(["replay", str(target)], capsys)
    assert code == 0
    assert f"assistant> {ANSWER}\n" in out
    assert '  → calculator({"expression": "37 * 43 + 12"})\n  ← 1603\n' in out
    assert "0 divergence(s)" in out and "replayed completed (recorded completed)" in out
    assert f"adk: replaying {target}" in err


def test_chat_trace_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = chat_with_trace(tmp_path / "traces", capsys)
    files = list((tmp_path / "traces").iterdir())
    assert len(files) == 1 and files[0].suffix == ".jsonl"
    trace = load(files[0])
    assert files[0].stem == trace.header.turn_id == trace.result.turn_id
    assert [e["trace"] for e in events if e["event"] == "status"] == [str(files[0])]


def test_chat_without_trace_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with OpenAIStubServer() as stub:
        stub.enqueue(answer_response())
        code, out, _ = run(["chat", "hi", "--model", "m", "--base-url", stub.base_url], capsys)
    assert code == 0 and "trace" not in out
    assert list(tmp_path.iterdir()) == []


def test_replay_live_tool_divergence_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = record_scripted(tmp_path)
    code, out, _ = run(["replay", str(path), "--json"], capsys)
    assert code == 0  # recorded results: the same path
    assert json_lines(out)[-1]["answer"] == "It is 1604."

    code, out, _ = run(["replay", str(path), "--json", "--live-tools"], capsys)
    events = json_lines(out)
    assert code == 1
    divergences = [e for e in events if e["event"] == "divergence"]
    assert [(d["kind"], d["expected"], d["actual"]) for d in divergences] == [
        ("tool_result", "1604", "1603")
    ]
    last = events[-1]
    assert last["divergences"] == 1
    assert [c["result"] for c in last["tool_calls"]] == ["1603"]  # the live result is shown
    assert last["answer"] == "It is 1604."  # the recorded model output is replayed as is

    code, out, _ = run(["replay", str(path), "--live-tools"], capsys)
    assert code == 1
    assert "(divergence tool_result (executor call 0): tool 'calculator' returned" in out
    assert "1 divergence(s)" in out


def corrupt(path: Path, line: int, text: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = text
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("json_mode", [False, True])
def test_replay_corrupt_and_truncated_files_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_mode: bool
) -> None:
    path = record_scripted(tmp_path / "t")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(path.read_bytes())
    corrupt(bad, 3, b'{"t": "event", "seq": ')
    truncated = tmp_path / "truncated.jsonl"
    data = path.read_bytes()
    truncated.write_bytes(data[: data.rindex(b"\n", 0, -1) + 5])  # cut inside the last line
    lines = truncated.read_bytes().count(b"\n") + 1
    flag = ["--json"] if json_mode else []
    for file, line in ((bad, 3), (truncated, lines)):
        code, out, err = run(["replay", str(file), *flag], capsys)
        assert code == 1
        if json_mode:
            events = json_lines(out)
            assert [e["event"] for e in events] == ["error"]
            assert events[0]["code"] == "E_TRACE_FORMAT"
            message = events[0]["message"]
        else:
            assert out == ""
            assert len(err.splitlines()) == 1 and "Traceback" not in err
            message = err.strip()
            assert message.startswith("adk: error: ")
        assert f"{file}: E_TRACE_FORMAT: line {line}:" in message


def test_replay_missing_file_or_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for target, needle in (
        (tmp_path / "nope.jsonl", "cannot read trace"),
        (tmp_path, "is a directory"),
    ):
        code, out, err = run(["replay", str(target)], capsys)
        assert code == 2 and out == ""
        assert len(err.splitlines()) == 1 and needle in err
        assert err.startswith("adk: error: ")


def test_replay_one_turn_of_a_trace_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.jsonl"
    ids = record_log(log)
    assert len(set(ids)) == 3

    code, out, _ = run(["replay", str(log), "--turn", ids[1], "--json"], capsys)
    events = json_lines(out)
    assert code == 0, events
    (status,) = [e for e in events if e["event"] == "status"]
    assert status["trace"] == str(log) and status["turn_id"] == ids[1]
    assert status["turn_index"] == 1 and status["turns"] == 3
    last = events[-1]
    assert last["event"] == "turn_end" and last["answer"] == "It is 1604."
    assert last["status"] == last["recorded_status"] == "completed"
    assert last["divergences"] == 0

    code, out, err = run(["replay", str(log), "--turn", ids[2], "--live-tools"], capsys)
    assert code == 1  # the demo calculator disagrees with the recorded one
    assert f"adk: replaying {log} (turn {ids[2]}, 3 of 3 in the log," in err
    assert "1 divergence(s)" in out


@pytest.mark.parametrize("json_mode", [False, True])
def test_replay_trace_log_without_turn_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_mode: bool
) -> None:
    log = tmp_path / "log.jsonl"
    ids = record_log(log)
    flag = ["--json"] if json_mode else []
    code, out, err = run(["replay", str(log), *flag], capsys)
    assert code == 2
    if json_mode:
        (event,) = json_lines(out)
        assert event["event"] == "error" and event["code"] == "usage"
        message = event["message"]
    else:
        assert out == "" and len(err.splitlines()) == 1 and err.startswith("adk: error: ")
        message = err
    assert f"{log} is a trace log of 3 turns; choose one with --turn TURN_ID" in message
    assert f"(turns: {', '.join(ids)})" in message
    assert "see 'adk replay --help'" in message


def test_replay_trace_log_lists_only_the_first_turn_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.jsonl"
    ids = record_log(log, turns=7)
    code, _, err = run(["replay", str(log)], capsys)
    assert code == 2
    assert "trace log of 7 turns; choose one with --turn TURN_ID" in err
    assert f"(turns: {', '.join(ids[:5])}, … (2 more))" in err
    assert ids[5] not in err


def test_replay_unknown_turn_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.jsonl"
    ids = record_log(log)
    single = record_scripted(tmp_path / "one")
    for path, held in ((log, f"3 turns: {', '.join(ids)}"), (single, f"1 turn: {single.stem}")):
        code, out, err = run(["replay", str(path), "--turn", "no-such-turn"], capsys)
        assert code == 2 and out == ""
        assert len(err.splitlines()) == 1 and err.startswith("adk: error: ")
        assert f"{path} holds no turn 'no-such-turn' ({held})" in err

    code, out, _ = run(["replay", str(single), "--turn", single.stem, "--json"], capsys)
    assert code == 0  # --turn naming the only turn of a single-turn file
    assert json_lines(out)[-1]["answer"] == "It is 1604."


# -- adk eval -------------------------------------------------------------------------------

CONFIG = """
from typing import Any

import adk
from adk.cli._tools import demo_tools
from adk.trace import final_answer_contains, tool_called


def build(executor: Any) -> adk.TurnRunner:
    return adk.TurnRunner(executor=executor, tools=[demo_tools()["calculator"]])


build.checks = {"answer": final_answer_contains("1603"), "calc": tool_called("calculator")}


async def guard(ctx: Any, next: Any) -> None:
    if ctx.iteration >= 1:
        ctx.nack(RuntimeError("capped"))
        return
    await next()


def capped(executor: Any) -> adk.TurnRunner:
    return adk.TurnRunner(
        executor=executor,
        tools=[demo_tools()["calculator"]],
        dispatch_input_pipeline=[guard],
    )


def bad_checks(executor: Any) -> adk.TurnRunner:
    return build(executor)


bad_checks.checks = "final_answer_contains"
"""


@pytest.fixture
def corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Two chat traces (answer 1603) in ``tmp_path/corpus``; ``cfg.py`` next to it."""
    for name in ("a.jsonl", "b.jsonl"):
        chat_with_trace(tmp_path / "corpus" / name, capsys)
    (tmp_path / "cfg.py").write_text(textwrap.dedent(CONFIG))
    return tmp_path / "corpus"


def test_eval_passes_with_config_checks(
    corpus: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = f"{corpus.parent / 'cfg.py'}:build"
    code, out, _ = run(["eval", str(corpus), "--config", config], capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["trace", "status", "turn", "divergences", "failed", "checks"]
    assert [ln.split()[1:4] for ln in lines[1:3]] == [["pass", "completed", "0"]] * 2
    assert lines[3] == "pass: 2, fail: 0, diverged: 0, error: 0, total: 2"

    monkeypatch.chdir(corpus.parent)  # module:function with the current directory importable
    code, out, _ = run(
        ["eval", str(corpus), "--config", "cfg:build", "--check", "no-error", "--json"],
        capsys,
    )
    assert code == 0
    (report,) = json_lines(out)
    assert report["event"] == "report" and report["passed"] is True
    assert report["totals"]["pass"] == 2
    names = [c["name"] for c in report["traces"][0]["checks"]]
    assert names == ["answer", "calc", "no_error()"]


def test_eval_failures_and_divergence_exit_1(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = corpus.parent / "cfg.py"
    code, out, _ = run(
        ["eval", str(corpus), "--config", f"{cfg}:build", "--check", "contains:9999"], capsys
    )
    assert code == 1
    assert "pass: 0, fail: 2" in out
    assert "final_answer_contains('9999') failed: final answer is" in out

    code, out, _ = run(["eval", str(corpus), "--config", f"{cfg}:capped", "--json"], capsys)
    assert code == 1
    (report,) = json_lines(out)
    assert report["passed"] is False and report["totals"]["diverged"] == 2
    kinds = {d["kind"] for t in report["traces"] for d in t["divergences"]}
    assert kinds == {"ended_early", "status"}


def test_eval_corrupt_trace_names_file_and_line(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt(corpus / "b.jsonl", 2, b"not json")
    code, _, err = run(
        ["eval", str(corpus), "--config", f"{corpus.parent / 'cfg.py'}:build"], capsys
    )
    assert code == 1
    assert len(err.splitlines()) == 1
    assert f"{corpus / 'b.jsonl'}: E_TRACE_FORMAT: line 2:" in err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--config", "no_colon"], "must be module:function"),
        (["--config", "adk_no_such_module_x:build"], "cannot import adk_no_such_module_x"),
        (["--config", "{cfg}:missing"], "has no function 'missing'"),
        (["--config", "{cfg}:bad_checks"], "checks must be a list or a dict"),
        (["--config", "{cfg}:build", "--check", "contains"], "needs an argument"),
        (["--config", "{cfg}:build", "--check", "max-iterations:x"], "needs an integer"),
        (["--config", "{cfg}:build", "--check", "sometimes"], "unknown --check"),
    ],
)
def test_eval_usage_errors_exit_2(
    corpus: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    argv = ["eval", str(corpus), *(a.format(cfg=corpus.parent / "cfg.py") for a in extra)]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and needle in err, err
    assert "see 'adk eval --help'" in err


def test_eval_corpus_must_hold_traces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cfg.py").write_text(textwrap.dedent(CONFIG))
    config = f"{tmp_path / 'cfg.py'}:build"
    for corpus, needle in ((tmp_path / "missing", "is not a directory"), (tmp_path, "no *.jsonl")):
        code, _, err = run(["eval", str(corpus), "--config", config], capsys)
        assert code == 2 and needle in err
    assert main(["eval", str(tmp_path)]) == 2
    assert "--config" in capsys.readouterr().err


def test_failed_chat_turn_is_recorded_and_replays_as_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "failed.jsonl"
    with OpenAIStubServer() as stub:
        stub.enqueue(StubResponse.error(500, "boom"), StubResponse.error(500, "boom"))
        code, out, _ = run(
            [
                *("chat", "hi", "--model", "m", "--base-url", stub.base_url, "--no-tools"),
                *("--json", "--trace", str(target)),
            ],
            capsys,
        )
    assert code == 1
    assert json_lines(out)[-1]["status"] == "failed"
    trace = load(target)
    assert trace.result.status == "failed"
    assert [e.code for e in trace.result.errors] == ["E_PROVIDER_SERVER_ERROR"]

    code, out, _ = run(["replay", str(target), "--json"], capsys)
    events = json_lines(out)
    assert code == 0  # the same failure, no divergence
    assert [e["code"] for e in events if e["event"] == "error"] == []
    last = events[-1]
    assert last["status"] == last["recorded_status"] == "failed"
    assert last["divergences"] == 0 and last["tool_calls"] == []
    assert len(last["errors"]) == 1 and last["errors"][0].startswith("E_PROVIDER_SERVER_ERROR")

    code, out, _ = run(["replay", str(target)], capsys)
    assert code == 0
    assert "(the turn failed: E_PROVIDER_SERVER_ERROR" in out
    assert "replayed failed (recorded failed)" in out


LOG_CONFIG = """
from typing import Any

import adk
from adk.cli._tools import demo_tools


def build(executor: Any) -> adk.TurnRunner:
    return adk.TurnRunner(executor=executor, tools=[demo_tools()["calculator"]])
"""


def test_eval_reads_every_turn_of_a_trace_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    log = corpus / "log.jsonl"
    ids = record_log(log)
    single = record_scripted(corpus)
    (tmp_path / "cfg.py").write_text(textwrap.dedent(LOG_CONFIG))
    argv = ["eval", str(corpus), "--config", f"{tmp_path / 'cfg.py'}:build"]
    names = sorted([(log.name, [f"{log}#{i}" for i in ids]), (single.name, [str(single)])])
    expected = [name for _, group in names for name in group]  # files by name, turns in order

    code, out, _ = run([*argv, "--check", "tool:calculator", "--check", "contains:1604"], capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert [ln.split()[:4] for ln in lines[1:5]] == [
        [n, "pass", "completed", "0"] for n in expected
    ]
    assert lines[5] == "pass: 4, fail: 0, diverged: 0, error: 0, total: 4"

    code, out, _ = run([*argv, "--check", "contains:1603", "--json"], capsys)
    assert code == 1
    (report,) = json_lines(out)
    assert report["totals"]["total"] == 4 and report["totals"]["fail"] == 4
    assert [t["trace"] for t in report["traces"]] == expected

    # the library takes the log (or the directory) as a path too
    def build(executor: Any) -> adk.TurnRunner:
        return adk.TurnRunner(executor=executor, tools=[calculator])

    for given, total in ((log, 3), (corpus, 4), ([log, single], 4)):
        result = anyio.run(lambda g=given: evaluate(g, build_runner=build))
        assert result.totals["total"] == total and result.passed
        assert len({t.turn_id for t in result.traces}) == total  # each turn told apart
