"""The examples run and do what their docstrings say (output and stored records)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import adk

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Conversation:
    """Just enough of a context for ``InMemoryStore`` to pick a conversation."""

    def __init__(self, conversation_id: str | None = None) -> None:
        self.stash = adk.Registry(
            {} if conversation_id is None else {"conversation_id": conversation_id}
        )


@pytest.fixture(scope="module")
def agent() -> ModuleType:
    return _load("agent")


@pytest.fixture(scope="module")
def planner() -> ModuleType:
    return _load("planner")


@pytest.mark.anyio
async def test_agent_example_answers_with_tool_results(
    agent: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    result, store = await agent.main()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"user> {agent.QUESTION}"
    assert (
        "  [tool] convert_units({'value': 42.0, 'from_unit': 'km', 'to_unit': 'mi'}) -> 26.0976"
        in lines
    )
    assert "  [tool] calculate({'a': 26.0976, 'op': '*', 'b': 4.0}) -> 104.3904" in lines
    answer = "42 km is about 26.10 miles, so over 4 weeks you run about 104.4 miles."
    assert f"assistant> {answer}" in lines
    # The tool calls are printed before the answer streams, in call order.
    assert lines.index(f"assistant> {answer}") > next(
        i for i, line in enumerate(lines) if "[tool] calculate" in line
    )
    assert lines[-1].startswith("--- turn completed (dispatch ack) after 2 tool iteration(s), ")
    assert "195+36 tokens" in lines[-1]
    assert "[error]" not in out

    assert result.status == "completed" and result.dispatch_status == "ack"
    assert result.errors == ()
    conv = _Conversation(agent.CONVERSATION_ID)
    messages = store.fetch_messages(conv)
    assert [(m.id, m.role, str(m.content)) for m in messages] == [
        ("user-1", "user", agent.QUESTION),
        ("answer", "assistant", answer),
    ]
    calls = store.fetch_tool_calls(conv)
    assert [(c.tool, str(c.results)) for c in calls] == [
        ("convert_units", "26.0976"),
        ("calculate", "104.3904"),
    ]
    assert all(c.checksum == adk.tool_call_checksum(c.tool, c.args) for c in calls)
    assert store.fetch_messages(_Conversation()) == []  # nothing leaked into "default"


@pytest.mark.anyio
async def test_agent_example_iteration_cap_nacks_with_a_clear_error(
    agent: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    result, store = await agent.main(max_iterations=2)
    out = capsys.readouterr().out
    assert "assistant>" not in out
    assert (
        "[error] IterationLimitExceeded: the agent did not answer within 2 iteration(s); stopping"
        in out
    )
    assert out.splitlines()[-1].startswith("--- turn failed (dispatch nack)")
    assert result.status == "failed" and result.dispatch_status == "nack"
    (err,) = result.errors
    assert isinstance(err, agent.IterationLimitExceeded)
    conv = _Conversation(agent.CONVERSATION_ID)
    assert [m.id for m in store.fetch_messages(conv)] == ["user-1"]
    assert [c.tool for c in store.fetch_tool_calls(conv)] == ["convert_units", "calculate"]


@pytest.mark.anyio
async def test_agent_example_with_another_question(
    agent: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    result, _ = await agent.main(question="I run 10 km a week. Miles over 3 weeks?")
    out = capsys.readouterr().out
    assert "assistant> 10 km is about 6.21 miles, so over 3 weeks you run about 18.6 miles." in out
    assert result.status == "completed"


def test_agent_example_runs_as_a_script() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "agent.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "assistant> 42 km is about 26.10 miles" in proc.stdout
    assert "--- turn completed (dispatch ack)" in proc.stdout


@pytest.mark.anyio
async def test_planner_example_prints_plan_and_stores_records(
    planner: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    store = await planner.main()
    out = capsys.readouterr().out
    plan = (
        "Plan: write the spec, then build the runner, then test it. "
        "Estimate: 3 tasks, 4.5 hours in total."
    )
    lines = out.splitlines()
    assert (
        "[tool] estimate_hours({'tasks': ['write the spec', 'build the runner', 'test it']})"
        " -> 3 tasks, 4.5 hours in total" in lines
    )
    assert plan + " " in lines  # streamed word by word, each delta followed by a space
    assert lines[-1] == "[dispatch] ack after 1 iteration(s)"
    conv = _Conversation()  # a standalone dispatch without a conversation id
    messages = store.fetch_messages(conv)
    assert [(m.id, str(m.content)) for m in messages] == [("plan", plan)]
    (call,) = store.fetch_tool_calls(conv)
    assert call.tool == "estimate_hours"
    assert str(call.results) == "3 tasks, 4.5 hours in total"
    assert call.checksum == adk.tool_call_checksum("estimate_hours", call.args)
