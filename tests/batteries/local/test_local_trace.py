"""A trace recorded from the real local Qwen model by ``adk chat --trace``, replayed without it.

Select with ``-m local_model``; the model server is the session's one (``qwen_server``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adk.batteries.local import LocalServer
from adk.cli import main
from adk.trace import load

from .conftest import HAVE_LOCAL

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not HAVE_LOCAL, reason="the `local` extra is not installed"),
]

QUESTION = "What is 37 * 43 plus 12?"


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[Any]]:
    code = main(argv)
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_chat_trace_replays_without_the_model(
    qwen_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "qwen.jsonl"
    code, events = run_json(
        ["chat", QUESTION, "--base-url", qwen_server.base_url, "--json", "--trace", str(target)],
        capsys,
    )
    end = events[-1]
    assert code == 0, events
    assert end["event"] == "turn_end" and end["status"] == "completed"
    assert "1603" in end["answer"]
    chat_calls = [(e["tool"], e["args"]) for e in events if e["event"] == "tool_call"]
    chat_results = [(e["result"], e["is_error"]) for e in events if e["event"] == "tool_result"]
    assert chat_calls[:1] and chat_calls[0][0] == "calculator"

    trace = load(target)
    assert trace.result.status == "completed" and trace.result.derived is False
    assert trace.header.system_prompt.startswith("You are a helpful assistant.")
    assert {t["name"] for t in trace.header.tools} == {
        "calculator",
        "current_utc_time",
        "convert_units",
    }
    assert trace.signals[-1].signal == "ack"
    assert any(e.name == "generation_stats" for e in trace.events)

    for live in ([], ["--live-tools"]):  # no model: the server is not given to replay
        code, replayed = run_json(["replay", str(target), "--json", *live], capsys)
        assert code == 0, [e for e in replayed if e["event"] in ("divergence", "error")]
        assert not [e for e in replayed if e["event"] == "divergence"]
        last = replayed[-1]
        assert last["event"] == "turn_end"
        assert last["status"] == last["recorded_status"] == "completed"
        assert last["answer"] == end["answer"]
        assert [(c["tool"], c["args"]) for c in last["tool_calls"]] == chat_calls
        assert [(c["result"], c["is_error"]) for c in last["tool_calls"]] == chat_results
        assert last["divergences"] == 0
