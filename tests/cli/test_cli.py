"""The ``adk`` command: argument errors, demo tools, and a turn against a stub server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from adk.cli import main
from adk.cli._tools import calculate, convert, demo_tools
from adk.testing import OpenAIStubServer, StubResponse

DATA = Path(__file__).parents[1] / "batteries" / "data"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "required: command"),
        (["chat"], "required: prompt"),
        (["chat", "hi", "--bogus"], "unrecognized arguments: --bogus"),
        (["chat", "hi", "--provider", "gemini"], "invalid choice: 'gemini'"),
        (["chat", "hi", "--tool", "rm_rf"], "invalid choice: 'rm_rf'"),
        (["chat", "hi", "--max-tokens", "0"], "must be >= 1"),
        (["chat", "hi", "--timeout", "soon"], "not a number"),
        (["chat", "hi", "--temperature", "5"], "--temperature must be in [0, 2]"),
        (["chat", "  "], "the prompt is empty"),
        (["chat", "hi", "--tool", "calculator", "--no-tools"], "cannot be combined"),
        (["chat", "hi", "--model", "local-smollm", "--tool", "calculator"], "cannot call tools"),
        (["chat", "hi", "--provider", "anthropic"], "drop --provider"),
        (["chat", "hi", "--model", "gpt-x"], "needs --base-url"),
        (["chat", "hi", "--api-key-env", "ADK_TEST_UNSET_VAR"], "ADK_TEST_UNSET_VAR"),
        (["serve-model", "--model", "llama-70b"], "invalid choice: 'llama-70b'"),
        (["serve-model", "--port", "70000"], "not a TCP port"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ADK_TEST_UNSET_VAR", raising=False)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("adk: error: ")
    assert needle in lines[0]
    assert "Traceback" not in captured.err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("adk ")
    assert main(["chat", "--help"]) == 0
    assert "--api-key-env" in capsys.readouterr().out


def test_unreachable_server_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    code = main(["chat", "hi", "--model", "m", "--base-url", url, "--no-tools"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [ln for ln in captured.err.splitlines() if ln.startswith("adk: error:")]
    assert len(errors) == 1
    assert "E_PROVIDER_SERVER_ERROR" in errors[0]
    assert "Traceback" not in captured.err + captured.out
    assert "[failed" in captured.out


def test_unreachable_server_json(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    code = main(["chat", "hi", "--model", "m", "--base-url", url, "--no-tools", "--json"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert events[0]["event"] == "turn_start"
    assert [e["code"] for e in events if e["event"] == "error"] == ["E_PROVIDER_SERVER_ERROR"]
    assert events[-1]["event"] == "turn_end" and events[-1]["status"] == "failed"


def test_secret_is_never_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADK_TEST_KEY", "sk-secret-value-123")
    with OpenAIStubServer() as stub:
        stub.enqueue(StubResponse.error(401, "bad key sk-secret-value-123"))
        argv = ["chat", "hi", "--model", "m", "--base-url", stub.base_url, "--no-tools"]
        code = main([*argv, "--api-key-env", "ADK_TEST_KEY"])
        assert stub.requests[0].headers["authorization"] == "Bearer sk-secret-value-123"
    captured = capsys.readouterr()
    assert code == 1
    assert "sk-secret-value-123" not in captured.out + captured.err
    assert "E_PROVIDER_AUTHENTICATION" in captured.err


def test_streams_a_recorded_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with OpenAIStubServer() as stub:
        stub.enqueue(StubResponse.from_file(DATA / "text_answer.sse"))
        code = main(["chat", "Say hello", "--model", "m", "--base-url", stub.base_url, "--json"])
        body = stub.requests[0].body
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [t["function"]["name"] for t in body["tools"]] == [
        "calculator",
        "current_utc_time",
        "convert_units",
    ]
    deltas = "".join(e["delta"] for e in events if e["event"] == "message")
    end = events[-1]
    assert end["event"] == "turn_end" and end["status"] == "completed"
    assert end["answer"] == deltas and deltas
    assert end["completion_tokens"] > 0 and end["requests"] == 1
    assert 0 <= end["framework_ms"] <= end["duration_ms"]


def test_demo_tools() -> None:
    assert calculate("37 * 43 + 12") == "1603"
    assert calculate("2^10 / 4") == "256"
    assert calculate("1/3") == "0.333333333333"
    assert calculate("3 x 4") == "12"
    for bad in ("__import__('os')", "1/0", "", "2 ** 99999", "a + 1"):
        with pytest.raises(ValueError):
            calculate(bad)
    assert convert(10, "km", "miles") == "6.21371 miles"
    assert convert(100, "C", "F") == "212 F"
    with pytest.raises(ValueError, match="cannot convert"):
        convert(1, "kg", "km")
    tools = demo_tools()
    assert tools["calculator"].validate({"expression": "1+1"}) == {"expression": "1+1"}
