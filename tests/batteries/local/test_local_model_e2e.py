"""End to end against the real local Qwen 0.5B model (LOCAL-MODEL.md), one server per session.

Select with ``-m local_model``; they run in the default test command (CI runs them).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import adk
from adk.batteries.local import LocalServer, answer_in_prose
from adk.batteries.openai import OpenAIChatExecutor
from adk.cli import main
from adk.cli._tools import demo_tools
from adk.middleware import max_iterations, repeated_tool_call_guard

from .conftest import HAVE_LOCAL, pid_alive

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not HAVE_LOCAL, reason="the `local` extra is not installed"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # one backend: each real-model turn costs seconds


def chat_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[Any]]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_tool_question_calls_the_calculator(
    qwen_server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, events = chat_json(
        ["chat", "What is 37 * 43 plus 12?", "--base-url", qwen_server.base_url, "--json"],
        capsys,
    )
    calls = [e for e in events if e["event"] == "tool_call"]
    results = [e for e in events if e["event"] == "tool_result"]
    end = events[-1]
    assert code == 0, events
    assert [c["tool"] for c in calls][:1] == ["calculator"]
    assert results[0]["result"] == "1603" and not results[0]["is_error"]
    assert end["event"] == "turn_end" and end["status"] == "completed"
    assert "1603" in end["answer"]
    assert end["completion_tokens"] > 0 and end["decode_tokens_per_s"] > 0


def test_plain_question_without_tools(
    qwen_server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, events = chat_json(
        [
            "chat",
            "What is the capital of France? Answer in one word.",
            "--no-tools",
            *("--base-url", qwen_server.base_url, "--json", "--max-tokens", "16"),
        ],
        capsys,
    )
    end = events[-1]
    assert code == 0, events
    assert not [e for e in events if e["event"] in ("tool_call", "tool_result")]
    assert end["status"] == "completed" and end["requests"] == 1
    assert "Paris" in end["answer"]


def executor_for(server: LocalServer, **kw: Any) -> OpenAIChatExecutor:
    return OpenAIChatExecutor(
        model=server.model_name, base_url=server.base_url, temperature=0, **kw
    )


async def ask(ctx: adk.TurnContext, next: Any, question: str) -> None:
    at = datetime.now(UTC)
    msg = adk.Message(id="q", role="user", content=question, created_at=at, updated_at=at)
    await ctx.store_message(msg)
    ctx.turn_messages.add(msg)
    await next()


@pytest.mark.anyio
async def test_repeated_call_guard_turns_the_repeat_into_an_answer(
    qwen_server: LocalServer,
) -> None:
    hidden: list[str] = []
    calls: list[adk.TurnToolCallContent] = []
    answer: list[str] = []
    async with executor_for(qwen_server, max_tokens=64) as executor:
        runner = adk.TurnRunner(
            executor=executor,
            tools=[demo_tools()["current_utc_time"]],
            turn_input_pipeline=[lambda ctx, nxt: ask(ctx, nxt, "What is the current UTC time?")],
            dispatch_input_pipeline=[
                max_iterations(5),
                repeated_tool_call_guard(on_hide=lambda ctx, why: hidden.append(why)),
                answer_in_prose(),
            ],
        )
        runner.on("tool_call", lambda c: calls.append(c) if c.is_complete else None)
        runner.on("message", lambda m: answer.append(m.full) if m.is_complete else None)
        result = await runner.run(system_prompt="You are a helpful assistant. Use the tools.")
    assert result.status == "completed", result.errors
    # with tools attached the 0.5B model calls the same tool again; the guard hid them
    assert hidden == ["current_utc_time was called 2 times with the same args"]
    assert [c.tool for c in calls] == ["current_utc_time", "current_utc_time"]
    assert calls[0].checksum == calls[1].checksum
    assert answer and answer[-1].strip() and not answer[-1].lstrip().startswith("{")


@pytest.mark.anyio
async def test_abort_mid_stream_leaves_the_server_healthy(qwen_server: LocalServer) -> None:
    controller = adk.AbortController()
    deltas: list[str] = []

    def on_message(chunk: adk.TurnStreamableContent) -> None:
        deltas.append(chunk.a_delta)
        if len(deltas) == 3:
            controller.abort("enough")

    async with executor_for(qwen_server, max_tokens=400) as executor:
        runner = adk.TurnRunner(
            executor=executor,
            turn_input_pipeline=[
                lambda ctx, nxt: ask(ctx, nxt, "Write a long story about a dragon and a knight.")
            ],
        )
        runner.on("message", on_message)
        started = time.monotonic()
        result = await runner.run(
            system_prompt="You are a storyteller.", turn_abort_controller=controller
        )
    assert result.status == "aborted"
    assert result.dispatch_status == "aborted"
    assert 3 <= len(deltas) < 50  # stopped while streaming, long before 400 tokens
    assert time.monotonic() - started < 60
    assert qwen_server.healthy()
    # and it still answers
    async with executor_for(qwen_server, max_tokens=8) as executor:
        follow_up = adk.TurnRunner(
            executor=executor,
            turn_input_pipeline=[lambda ctx, nxt: ask(ctx, nxt, "Say OK.")],
        )
        again = await follow_up.run(system_prompt="Be brief.")
    assert again.status == "completed", again.errors


def test_server_dies_with_its_parent(tmp_path: Any) -> None:
    """SIGKILL the process owning a LocalServer: the server must exit too (stdin EOF)."""
    script = textwrap.dedent(
        """
        import sys, time
        from adk.batteries.local import LocalServer
        server = LocalServer("local-qwen", startup_timeout=300).start()
        print(server.pid, flush=True)
        time.sleep(600)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as owner:
        try:
            assert owner.stdout is not None
            server_pid = int(owner.stdout.readline())
            assert pid_alive(server_pid)
        finally:
            owner.send_signal(signal.SIGKILL)
            owner.wait(timeout=30)
    deadline = time.monotonic() + 15
    while pid_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(server_pid)
